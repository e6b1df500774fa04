/* test-eventstream.c: unit tests of the event-stream decoder and encoder. */
/*
 * Covers: the CRC-32 check value; encode/decode round trip; the worked
 * example frame of doc/protocol.md §4 (lengths and both CRCs); feeding one
 * byte at a time and in random slices; resynchronising after garbage; a bad
 * message CRC or header block skipping exactly one frame; impossible
 * lengths; the decoder's CRC against zlib's at every short payload length
 * and a flipped bit caught; ES_MAX_ERRORS consecutive errors giving ES_FATAL (and a good
 * frame resetting the count); the callback stopping the decoder; pending
 * bytes on a cut stream; every header value type stepped over; many frames
 * in one slice decoded in place; a frame of exactly ES_MAX_FRAME bytes.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "digest.h"
#include "eventstream.h"

/* What the callback saw: one line per frame, plus counters. */
struct seen {
	struct buf	 log;
	size_t		 n_frames;
	size_t		 stop_after;	/* return 1 at this frame; 0: never */
	const char	*base;		/* the fed slice, for in-place checks */
	size_t		 base_len;
	size_t		 n_in_place;
};

static void
seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
}

static void
log_str(struct buf *b, const char *label, struct es_str v)
{
	buf_printf(b, " %s=", label);
	buf_json_str(b, v.ptr, v.len);
}

static int
record(void *arg, const struct es_frame *f)
{
	struct seen	*s = arg;
	const char	*p = f->payload.ptr;

	buf_printf(&s->log, "type=%d", (int)f->message_type);
	log_str(&s->log, "event", f->event_type);
	log_str(&s->log, "exception", f->exception_type);
	log_str(&s->log, "code", f->error_code);
	log_str(&s->log, "message", f->error_message);
	log_str(&s->log, "content", f->content_type);
	log_str(&s->log, "payload", f->payload);
	buf_putc(&s->log, '\n');
	s->n_frames++;
	if (s->base != NULL && p >= s->base && p <= s->base + s->base_len)
		s->n_in_place++;
	return s->stop_after != 0 && s->n_frames == s->stop_after;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Builds a frame from a raw header block, with correct CRCs. */
static void
raw_frame(struct buf *out, const void *headers, size_t headers_len,
    const void *payload, size_t payload_len)
{
	unsigned char	pre[12], crc[4];
	size_t		start = out->len;

	put32(pre, (uint32_t)(16 + headers_len + payload_len));
	put32(pre + 4, (uint32_t)headers_len);
	put32(pre + 8, crc32_update(0, pre, 8));
	buf_append(out, pre, 12);
	buf_append(out, headers, headers_len);
	buf_append(out, payload, payload_len);
	put32(crc, crc32_update(0, out->ptr + start, out->len - start));
	buf_append(out, crc, 4);
}

/* Appends the frames every slicing test uses. */
static void
sample_stream(struct buf *out)
{
	const char *const	names[] = { ":message-type", ":exception-type",
	    ":content-type" };
	const char *const	values[] = { "exception", "ThrottlingException",
	    "application/json" };

	es_encode_event(out, "assistantResponseEvent", "{\"content\":\"Hello\"}");
	es_encode_event(out, "assistantResponseEvent",
	    "{\"content\":\", world!\"}");
	es_encode_event(out, "toolUseEvent", "{\"name\":\"read_file\","
	    "\"toolUseId\":\"tooluse_1\",\"input\":\"{\\\"path\\\":\","
	    "\"stop\":false}");
	es_encode(out, names, values, 3, "{\"message\":\"Too many requests\"}",
	    31);
	es_encode(out, NULL, NULL, 0, "", 0);
	es_encode_event(out, "contextUsageEvent",
	    "{\"contextUsagePercentage\":1.25}");
}

/* Feeds data in slices of 1..max bytes from a fixed pseudo-random seed. */
static enum es_status
feed_sliced(struct es_decoder *d, const char *data, size_t len, size_t max,
    uint32_t seed)
{
	enum es_status	st = ES_OK;
	size_t		off = 0, n;

	while (off < len && st == ES_OK) {
		seed = seed * 1103515245u + 12345u;
		n = max <= 1 ? 1 : 1 + (seed >> 16) % max;
		if (n > len - off)
			n = len - off;
		st = es_decoder_feed(d, data + off, n);
		off += n;
	}
	return st;
}

/* The log of one whole-slice feed, as the reference for other slicings. */
static void
reference_log(const struct buf *stream, struct buf *log, unsigned long *errs)
{
	struct seen		 s;
	struct es_decoder	*d;

	seen_init(&s);
	d = es_decoder_new(record, &s);
	es_decoder_feed(d, stream->ptr, stream->len);
	*errs = es_decoder_errors(d);
	es_decoder_free(d);
	*log = s.log;
}

START_TEST(crc32_check_value)
{
	ck_assert_uint_eq(crc32_update(0, "123456789", 9), 0xCBF43926u);
	ck_assert_uint_eq(crc32_update(0, "", 0), 0);
	/* Incremental use gives the same value. */
	ck_assert_uint_eq(crc32_update(crc32_update(0, "1234", 4), "56789", 5),
	    0xCBF43926u);
}
END_TEST

START_TEST(encode_decode_round_trip)
{
	const char *const	 names[] = { ":message-type", ":error-code",
	    ":error-message", ":event-type", ":content-type",
	    ":exception-type" };
	const char *const	 values[] = { "error", "InternalError",
	    "it broke", "someEvent", "text/plain", "" };
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;

	es_encode(&b, names, values, 6, "pay\0load", 8);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 1);
	ck_assert_str_eq(s.log.ptr, "type=2 event=\"someEvent\" "
	    "exception=\"\" code=\"InternalError\" message=\"it broke\" "
	    "content=\"text/plain\" payload=\"pay\\u0000load\"\n");
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	ck_assert_uint_eq(es_decoder_errors(d), 0);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(worked_example_frame)
{
	struct buf		 b = BUF_INIT;
	const unsigned char	*p;
	struct seen		 s;
	struct es_decoder	*d;

	es_encode_event(&b, "assistantResponseEvent", "{\"content\":\"Hello\"}");
	p = (const unsigned char *)b.ptr;
	ck_assert_uint_eq(b.len, 127);
	ck_assert_uint_eq((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3],
	    127);
	ck_assert_uint_eq((uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7],
	    92);
	ck_assert_uint_eq((uint32_t)p[8] << 24 | p[9] << 16 | p[10] << 8 |
	    p[11], 0x7c7db5a8u);
	ck_assert_uint_eq((uint32_t)p[123] << 24 | p[124] << 16 |
	    p[125] << 8 | p[126], 0x9b5d0635u);
	/* Header order as Kiro sends it. */
	ck_assert_int_eq(memcmp(p + 12, "\x0b:event-type\x07\x00\x16"
	    "assistantResponseEvent", 36), 0);
	ck_assert_int_eq(memcmp(p + 104, "{\"content\":\"Hello\"}", 19), 0);

	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_str_eq(s.log.ptr, "type=0 event=\"assistantResponseEvent\" "
	    "exception=\"\" code=\"\" message=\"\" "
	    "content=\"application/json\" "
	    "payload=\"{\\\"content\\\":\\\"Hello\\\"}\"\n");
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(byte_by_byte_feeding)
{
	struct buf		 stream = BUF_INIT, ref;
	struct seen		 s;
	struct es_decoder	*d;
	unsigned long		 ref_errs;
	size_t			 i;

	sample_stream(&stream);
	reference_log(&stream, &ref, &ref_errs);
	ck_assert_uint_eq(ref_errs, 0);

	seen_init(&s);
	d = es_decoder_new(record, &s);
	for (i = 0; i < stream.len; i++) {
		ck_assert_int_eq(es_decoder_feed(d, stream.ptr + i, 1), ES_OK);
		ck_assert_uint_le(es_decoder_pending(d), stream.len);
	}
	ck_assert_uint_eq(s.n_frames, 6);
	ck_assert_str_eq(s.log.ptr, ref.ptr);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	ck_assert_uint_eq(es_decoder_errors(d), 0);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&ref);
	buf_free(&stream);
}
END_TEST

START_TEST(random_slices_give_same_frames)
{
	struct buf		 stream = BUF_INIT, ref;
	struct seen		 s;
	struct es_decoder	*d;
	unsigned long		 ref_errs;
	uint32_t		 seed;
	size_t			 max;

	/* Garbage in front and between frames exercises resync too. */
	buf_append(&stream, "\xff\xfe\x00", 3);
	sample_stream(&stream);
	buf_append(&stream, "junk", 4);
	sample_stream(&stream);
	reference_log(&stream, &ref, &ref_errs);
	ck_assert_uint_eq(ref_errs, 2);		/* two runs of garbage */

	for (max = 1; max <= 300; max += 13)
		for (seed = 1; seed <= 20; seed++) {
			seen_init(&s);
			d = es_decoder_new(record, &s);
			ck_assert_int_eq(feed_sliced(d, stream.ptr, stream.len,
			    max, seed), ES_OK);
			ck_assert_uint_eq(s.n_frames, 12);
			ck_assert_str_eq(s.log.ptr, ref.ptr);
			ck_assert_uint_eq(es_decoder_errors(d), ref_errs);
			ck_assert_uint_eq(es_decoder_pending(d), 0);
			es_decoder_free(d);
			buf_free(&s.log);
		}
	buf_free(&ref);
	buf_free(&stream);
}
END_TEST

START_TEST(resync_after_garbage)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;

	/* Four bad bytes: one run, one error; the frame after them is found. */
	buf_append(&b, "\xff\xff\xff\xff", 4);
	es_encode_event(&b, "assistantResponseEvent", "{\"content\":\"a\"}");
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 1);
	ck_assert_uint_eq(es_decoder_errors(d), 1);
	ck_assert_uint_eq(es_decoder_pending(d), 0);

	/* The same through the held path: garbage in a feed of its own. */
	es_decoder_reset(d);
	ck_assert_int_eq(es_decoder_feed(d, "\x00\x00\x00", 3), ES_OK);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr + 4, b.len - 4), ES_OK);
	ck_assert_uint_eq(s.n_frames, 2);
	ck_assert_uint_eq(es_decoder_errors(d), 1);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(bad_message_crc_skips_frame)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	size_t			 first;

	es_encode_event(&b, "assistantResponseEvent", "{\"content\":\"one\"}");
	first = b.len;
	es_encode_event(&b, "assistantResponseEvent", "{\"content\":\"two\"}");
	es_encode_event(&b, "assistantResponseEvent", "{\"content\":\"3\"}");
	b.ptr[first + 110] ^= 0x20;	/* inside the second payload */

	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 2);
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "one"));
	ck_assert_ptr_null(strstr(s.log.ptr, "two"));
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "\\\"3\\\""));
	/* One error: the whole frame went, not byte by byte. */
	ck_assert_uint_eq(es_decoder_errors(d), 1);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

/*
 * The decoder's own CRC (slice-by-8 for short frames, zlib from 1 KiB)
 * agrees with zlib's, which es_encode uses, at every payload length
 * around its word and size boundaries; one flipped bit anywhere in the
 * payload is caught.
 */
START_TEST(crc_agrees_with_zlib_at_every_length)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	const char *const	 names[] = { ":event-type" };
	const char *const	 values[] = { "e" };
	char			 payload[2100];
	size_t			 len, flip;

	for (len = 0; len < sizeof(payload); len++)
		payload[len] = (char)(len * 31 + 7);
	for (len = 0; len < sizeof(payload); len += len < 80 ||
	    (len > 990 && len < 1060) ? 1 : 37) {
		buf_reset(&b);
		es_encode(&b, names, values, 1, payload, len);
		seen_init(&s);
		d = es_decoder_new(record, &s);
		ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
		ck_assert_msg(s.n_frames == 1, "payload of %zu bytes", len);
		es_decoder_free(d);
		buf_free(&s.log);
		if (len == 0)
			continue;
		flip = b.len - 5 - (len * 7 / 3) % len;	/* inside the payload */
		b.ptr[flip] ^= 0x01;
		seen_init(&s);
		d = es_decoder_new(record, &s);
		ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
		ck_assert_msg(s.n_frames == 0 && es_decoder_errors(d) == 1,
		    "flipped bit in a payload of %zu bytes", len);
		es_decoder_free(d);
		buf_free(&s.log);
	}
	buf_free(&b);
}
END_TEST

START_TEST(bad_header_block_skips_frame)
{
	static const unsigned char	 type10[] = { 2, 'a', 'b', 10 };
	static const unsigned char	 empty_name[] = { 0, 0 };
	static const unsigned char	 overrun[] = { 2, 'a', 'b', 7, 0, 9,
	    'x' };
	static const unsigned char	 cut_name[] = { 5, 'a', 'b' };
	struct buf			 b = BUF_INIT;
	struct seen			 s;
	struct es_decoder		*d;
	unsigned char			*p;
	char				*exact;
	size_t				 at, frame_len;

	raw_frame(&b, type10, sizeof(type10), "{}", 2);
	es_encode_event(&b, "e1", "{}");
	raw_frame(&b, empty_name, sizeof(empty_name), "{}", 2);
	raw_frame(&b, overrun, sizeof(overrun), "{}", 2);
	es_encode_event(&b, "e2", "{}");
	raw_frame(&b, cut_name, sizeof(cut_name), "", 0);
	es_encode_event(&b, "e3", "{}");

	/*
	 * headers_length past the payload, with both CRCs fixed up.  The
	 * payload continues the header walk (a byte array 3 bytes short of
	 * the claimed end), so a decoder without the bound would read past
	 * the frame.
	 */
	at = b.len;
	{
		const char *const	n[] = { ":event-type" };
		const char *const	v[] = { "bad" };

		es_encode(&b, n, v, 1, "\x01x\x06\x00\x0d", 5);
	}
	p = (unsigned char *)b.ptr + at;
	frame_len = b.len - at;
	put32(p + 4, (uint32_t)frame_len);	/* past the CRC */
	put32(p + 8, crc32_update(0, p, 8));
	put32(p + frame_len - 4, crc32_update(0, p, frame_len - 4));
	es_encode_event(&b, "e4", "{}");

	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 4);
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "\"e1\""));
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "\"e4\""));
	ck_assert_ptr_null(strstr(s.log.ptr, "\"bad\""));
	ck_assert_uint_eq(es_decoder_errors(d), 5);

	/*
	 * The bad frame alone in memory of its exact size: reading headers
	 * past its end would show under valgrind and ASan.
	 */
	exact = malloc(frame_len);
	ck_assert_ptr_nonnull(exact);
	memcpy(exact, b.ptr + at, frame_len);
	ck_assert_int_eq(es_decoder_feed(d, exact, frame_len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 4);
	ck_assert_uint_eq(es_decoder_errors(d), 6);
	free(exact);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(impossible_lengths)
{
	unsigned char		 pre[12];
	struct seen		 s;
	struct es_decoder	*d;

	seen_init(&s);
	d = es_decoder_new(record, &s);

	/* One byte over the maximum, with a good prelude CRC: not held. */
	put32(pre, ES_MAX_FRAME + 1);
	put32(pre + 4, 0);
	put32(pre + 8, crc32_update(0, pre, 8));
	ck_assert_int_eq(es_decoder_feed(d, pre, sizeof(pre)), ES_OK);
	ck_assert_uint_eq(es_decoder_errors(d), 1);
	ck_assert_uint_eq(es_decoder_pending(d), 11);

	/* Smaller than a prelude and CRC. */
	es_decoder_reset(d);
	put32(pre, 15);
	put32(pre + 8, crc32_update(0, pre, 8));
	ck_assert_int_eq(es_decoder_feed(d, pre, sizeof(pre)), ES_OK);
	ck_assert_uint_eq(es_decoder_errors(d), 1);

	/* Exactly the maximum is a frame to wait for. */
	es_decoder_reset(d);
	put32(pre, ES_MAX_FRAME);
	put32(pre + 8, crc32_update(0, pre, 8));
	ck_assert_int_eq(es_decoder_feed(d, pre, sizeof(pre)), ES_OK);
	ck_assert_uint_eq(es_decoder_errors(d), 0);
	ck_assert_uint_eq(es_decoder_pending(d), 12);
	ck_assert_uint_eq(s.n_frames, 0);
	es_decoder_free(d);
	buf_free(&s.log);
}
END_TEST

START_TEST(max_size_frame_decodes)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	char			*payload;
	size_t			 payload_len;

	payload_len = ES_MAX_FRAME - 16 - 18;	/* one 18-byte header */
	payload = malloc(payload_len);
	ck_assert_ptr_nonnull(payload);
	memset(payload, 'x', payload_len);
	{
		const char *const	n[] = { ":event-type" };
		const char *const	v[] = { "big" };

		es_encode(&b, n, v, 1, payload, payload_len);
	}
	ck_assert_uint_eq(b.len, ES_MAX_FRAME);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(feed_sliced(d, b.ptr, b.len, 65536, 7), ES_OK);
	ck_assert_uint_eq(s.n_frames, 1);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	ck_assert_uint_eq(es_decoder_errors(d), 0);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
	free(payload);
}
END_TEST

START_TEST(consecutive_errors_are_fatal)
{
	struct buf		 b = BUF_INIT, frame = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	int			 i;

	es_encode_event(&frame, "e", "{}");

	/*
	 * Five bad runs in a row (garbage, then a frame with a bad message
	 * CRC, four times, then garbage again): fatal before the good frame.
	 * Stray bytes alone are one error however many there are.
	 */
	for (i = 0; i < 4; i++) {
		buf_append(&b, "\xff\xff", 2);
		buf_append(&b, frame.ptr, frame.len);
		b.ptr[b.len - 1] ^= 1;
	}
	buf_append(&b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	buf_append(&b, frame.ptr, frame.len);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_FATAL);
	ck_assert_uint_eq(s.n_frames, 0);
	/* the first run and four bad frames make five */
	ck_assert_uint_eq(es_decoder_errors(d), ES_MAX_ERRORS);
	/* Sticky, and no more callbacks. */
	ck_assert_int_eq(es_decoder_feed(d, frame.ptr, frame.len), ES_FATAL);
	ck_assert_uint_eq(s.n_frames, 0);

	/* A reset makes it usable again. */
	es_decoder_reset(d);
	ck_assert_int_eq(es_decoder_feed(d, frame.ptr, frame.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 1);
	es_decoder_free(d);
	buf_free(&s.log);

	/* Eight stray bytes before a good frame are one error, not fatal. */
	buf_reset(&b);
	buf_append(&b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	buf_append(&b, frame.ptr, frame.len);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(feed_sliced(d, b.ptr, b.len, 1, 1), ES_OK);
	ck_assert_uint_eq(s.n_frames, 1);
	ck_assert_uint_eq(es_decoder_errors(d), 1);
	es_decoder_free(d);
	buf_free(&s.log);

	/* A good frame between bad runs resets the consecutive count. */
	buf_reset(&b);
	for (i = 0; i < 3; i++) {
		buf_append(&b, "\xff\xff\xff\xff", 4);
		buf_append(&b, frame.ptr, frame.len);
	}
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(feed_sliced(d, b.ptr, b.len, 3, 1), ES_OK);
	ck_assert_uint_eq(s.n_frames, 3);
	ck_assert_uint_eq(es_decoder_errors(d), 3);
	es_decoder_free(d);
	buf_free(&s.log);

	/* Five frames with bad message CRCs, fed one byte at a time. */
	buf_reset(&b);
	for (i = 0; i < 5; i++) {
		buf_append(&b, frame.ptr, frame.len);
		b.ptr[b.len - 1] ^= 1;
	}
	buf_append(&b, frame.ptr, frame.len);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(feed_sliced(d, b.ptr, b.len, 1, 1), ES_FATAL);
	ck_assert_uint_eq(s.n_frames, 0);
	ck_assert_uint_eq(es_decoder_errors(d), 5);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
	buf_free(&frame);
}
END_TEST

START_TEST(callback_stop)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;

	sample_stream(&b);
	seen_init(&s);
	s.stop_after = 2;
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_STOPPED);
	ck_assert_uint_eq(s.n_frames, 2);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_STOPPED);
	ck_assert_uint_eq(s.n_frames, 2);
	es_decoder_free(d);
	buf_free(&s.log);

	/* The same when the stopping frame was assembled from pieces. */
	seen_init(&s);
	s.stop_after = 2;
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(feed_sliced(d, b.ptr, b.len, 1, 1), ES_STOPPED);
	ck_assert_uint_eq(s.n_frames, 2);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(pending_on_cut_stream)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	size_t			 first;

	es_encode_event(&b, "e", "{\"a\":1}");
	first = b.len;
	es_encode_event(&b, "e", "{\"b\":2}");

	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len - 5), ES_OK);
	ck_assert_uint_eq(s.n_frames, 1);
	ck_assert_uint_eq(es_decoder_pending(d), b.len - 5 - first);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr + b.len - 5, 5), ES_OK);
	ck_assert_uint_eq(s.n_frames, 2);
	ck_assert_uint_eq(es_decoder_pending(d), 0);

	/* A stream cut inside the prelude. */
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, 7), ES_OK);
	ck_assert_uint_eq(es_decoder_pending(d), 7);
	es_decoder_reset(d);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

/* Appends a header entry of any type to b. */
static void
header_raw(struct buf *b, const char *name, unsigned char type,
    const void *value, size_t len)
{
	unsigned char	n = (unsigned char)strlen(name);

	buf_append(b, &n, 1);
	buf_append(b, name, n);
	buf_append(b, &type, 1);
	buf_append(b, value, len);
}

START_TEST(all_header_value_types_skipped)
{
	static const unsigned char	 uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
	    9, 10, 11, 12, 13, 14, 15, 16 };
	struct buf			 h = BUF_INIT, b = BUF_INIT;
	struct seen			 s;
	struct es_decoder		*d;

	header_raw(&h, "t", 0, NULL, 0);
	header_raw(&h, ":event-type", 7, "\x00\x05hello", 7);
	header_raw(&h, "f", 1, NULL, 0);
	header_raw(&h, "byte", 2, "\x07", 1);
	header_raw(&h, ":message-type", 7, "\x00\x05""event", 7);
	header_raw(&h, "short", 3, "\x07\x07", 2);
	header_raw(&h, "int", 4, "\x07\x07\x07\x07", 4);
	header_raw(&h, "long", 5, "\x07\x07\x07\x07\x07\x07\x07\x07", 8);
	/* A byte array whose content looks like string headers. */
	header_raw(&h, "bytes", 6, "\x00\x0e\x0b:event-type\x07", 16);
	header_raw(&h, ":content-type", 7, "\x00\x04json", 6);
	header_raw(&h, "stamp", 8, "\x00\x00\x01\x8c\x00\x00\x00\x00", 8);
	header_raw(&h, "uuid", 9, uuid, sizeof(uuid));
	/* A known name with a non-string value is not surfaced. */
	header_raw(&h, ":error-code", 4, "\x00\x00\x00\x01", 4);
	header_raw(&h, "empty", 7, "\x00\x00", 2);
	raw_frame(&b, h.ptr, h.len, "{}", 2);

	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(es_decoder_errors(d), 0);
	ck_assert_str_eq(s.log.ptr, "type=0 event=\"hello\" exception=\"\" "
	    "code=\"\" message=\"\" content=\"json\" payload=\"{}\"\n");
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&h);
	buf_free(&b);
}
END_TEST

/*
 * Each type's value size on its own: a typed header (value bytes zero, so
 * a size one short reads a zero name length) followed by :event-type.
 */
START_TEST(each_header_type_has_its_size)
{
	static const size_t	 sizes[10] = { 0, 0, 1, 2, 4, 8, 2, 2, 8, 16 };
	static const char	 zeros[16];
	struct buf		 h = BUF_INIT, b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	unsigned char		 type;

	for (type = 0; type < 10; type++) {
		buf_reset(&h);
		buf_reset(&b);
		header_raw(&h, "x", type, zeros, sizes[type]);
		header_raw(&h, ":event-type", 7, "\x00\x02" "ev", 4);
		raw_frame(&b, h.ptr, h.len, "{}", 2);
		seen_init(&s);
		d = es_decoder_new(record, &s);
		ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
		ck_assert_msg(es_decoder_errors(d) == 0, "type %u", type);
		ck_assert_msg(s.n_frames == 1 && strstr(s.log.ptr,
		    "event=\"ev\"") != NULL, "type %u", type);
		es_decoder_free(d);
		buf_free(&s.log);
	}
	/* Type 10 and above are not types. */
	buf_reset(&h);
	buf_reset(&b);
	header_raw(&h, "x", 10, NULL, 0);
	raw_frame(&b, h.ptr, h.len, "{}", 2);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 0);
	ck_assert_uint_eq(es_decoder_errors(d), 1);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&h);
	buf_free(&b);
}
END_TEST

START_TEST(message_types)
{
	const char *const	 n[] = { ":message-type" };
	const char *const	 exc[] = { "exception" };
	const char *const	 err[] = { "error" };
	const char *const	 other[] = { "weird" };
	const char *const	 empty[] = { "" };
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;

	es_encode(&b, NULL, NULL, 0, "x", 1);
	es_encode(&b, n, exc, 1, "x", 1);
	es_encode(&b, n, err, 1, "x", 1);
	es_encode(&b, n, other, 1, "x", 1);
	es_encode(&b, n, empty, 1, "x", 1);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 5);
	ck_assert_int_eq(strncmp(s.log.ptr, "type=0", 6), 0);
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "\ntype=1 "));
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "\ntype=2 "));
	ck_assert_ptr_nonnull(strstr(strstr(s.log.ptr, "\ntype=3 ") + 1,
	    "\ntype=3 "));
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

/*
 * Each string header the decoder keeps lands in its own slot, and a name
 * that differs from a kept one by a byte, a missing or an extra byte is
 * stepped over (header_slot compares literal names).
 */
START_TEST(kept_headers_by_exact_name)
{
	const char *const	 names[] = { ":event-type", ":content-type",
	    ":exception-type", ":error-code", ":error-message",
	    ":event-typf", ":event-typ", ":event-types", ";error-code",
	    ":content-typE", ":error-messagE", ":exception-typ" };
	const char *const	 values[] = { "E", "C", "X", "K", "M",
	    "n1", "n2", "n3", "n4", "n5", "n6", "n7" };
	const char *const	 last[] = { ":event-typf", ":error-codes",
	    ":message-typ" };
	const char *const	 last_values[] = { "late", "late", "error" };
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;

	es_encode(&b, names, values, 12, "x", 1);
	/* Only near misses: every slot empty, :message-type too. */
	es_encode(&b, last, last_values, 3, "y", 1);
	seen_init(&s);
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, 2);
	ck_assert_str_eq(s.log.ptr,
	    "type=0 event=\"E\" exception=\"X\" code=\"K\" message=\"M\" "
	    "content=\"C\" payload=\"x\"\n"
	    "type=0 event=\"\" exception=\"\" code=\"\" message=\"\" "
	    "content=\"\" payload=\"y\"\n");
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(many_frames_in_one_slice)
{
	struct buf		 b = BUF_INIT;
	struct seen		 s;
	struct es_decoder	*d;
	char			 json[64];
	size_t			 i, n = 20000;

	for (i = 0; i < n; i++) {
		snprintf(json, sizeof(json), "{\"content\":\"%zu\"}", i);
		es_encode_event(&b, "assistantResponseEvent", json);
	}
	seen_init(&s);
	s.base = b.ptr;
	s.base_len = b.len;
	d = es_decoder_new(record, &s);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(s.n_frames, n);
	/* Every frame was handed out from the caller's memory: no copy. */
	ck_assert_uint_eq(s.n_in_place, n);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	ck_assert_ptr_nonnull(strstr(s.log.ptr, "\\\"19999\\\""));

	/* Cut in the middle of a frame: only the tail is held. */
	es_decoder_reset(d);
	buf_reset(&s.log);
	s.n_frames = 0;
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len / 2 + 3), ES_OK);
	ck_assert_uint_lt(es_decoder_pending(d), 200);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr + b.len / 2 + 3,
	    b.len - b.len / 2 - 3), ES_OK);
	ck_assert_uint_eq(s.n_frames, n);
	ck_assert_uint_eq(es_decoder_pending(d), 0);
	es_decoder_free(d);
	buf_free(&s.log);
	buf_free(&b);
}
END_TEST

START_TEST(str_eq)
{
	struct es_str	a = { "abc", 3 }, none = { NULL, 0 };

	ck_assert_int_eq(es_str_eq(a, "abc"), 1);
	ck_assert_int_eq(es_str_eq(a, "ab"), 0);
	ck_assert_int_eq(es_str_eq(a, "abcd"), 0);
	ck_assert_int_eq(es_str_eq(none, ""), 1);
	ck_assert_int_eq(es_str_eq(none, "a"), 0);
}
END_TEST

static Suite *
eventstream_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("eventstream");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, crc32_check_value);
	tcase_add_test(tc, encode_decode_round_trip);
	tcase_add_test(tc, worked_example_frame);
	tcase_add_test(tc, byte_by_byte_feeding);
	tcase_add_test(tc, random_slices_give_same_frames);
	tcase_add_test(tc, resync_after_garbage);
	tcase_add_test(tc, bad_message_crc_skips_frame);
	tcase_add_test(tc, crc_agrees_with_zlib_at_every_length);
	tcase_add_test(tc, bad_header_block_skips_frame);
	tcase_add_test(tc, impossible_lengths);
	tcase_add_test(tc, max_size_frame_decodes);
	tcase_add_test(tc, consecutive_errors_are_fatal);
	tcase_add_test(tc, callback_stop);
	tcase_add_test(tc, pending_on_cut_stream);
	tcase_add_test(tc, all_header_value_types_skipped);
	tcase_add_test(tc, each_header_type_has_its_size);
	tcase_add_test(tc, message_types);
	tcase_add_test(tc, kept_headers_by_exact_name);
	tcase_add_test(tc, many_frames_in_one_slice);
	tcase_add_test(tc, str_eq);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(eventstream_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
