/* eventstream.c: AWS event-stream frame decoder and encoder (protocol §4). */
#include "autoconfig.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "eventstream.h"
#include "xmalloc.h"

/*
 * A held frame bigger than this gives its memory back once it is handed
 * out, so one 16 MiB frame does not pin 16 MiB for the rest of the stream.
 */
#define ES_HELD_KEEP	(64u * 1024)

struct es_decoder {
	es_frame_fn	 fn;
	void		*arg;
	struct buf	 held;		/* start of a frame cut by a feed */
	unsigned int	 n_bad;		/* consecutive errors */
	size_t		 skipped;	/* bytes skipped in the current resync */
	unsigned long	 n_errors;	/* errors since new or reset */
	enum es_status	 status;	/* ES_OK, or the sticky final status */
};

/*
 * CRC-32 (ISO-HDLC, the event stream's and zlib's) of every frame is most
 * of the decoder's work.  Where the CPU multiplies without carries
 * (PCLMULQDQ, x86-64 since 2010), whole 16-byte blocks are folded (Gopal,
 * Ozturk et al., "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ Instruction", Intel 2009): a few instructions per block
 * where a table lookup costs four or more per byte; the tables do the
 * last 15 bytes and the 8-byte preludes.  Elsewhere: Kiro's frames are
 * short (a text delta is ~150 bytes), where zlib's braided loop runs at
 * about half the speed of slice-by-8; from ES_CRC_ZLIB bytes up zlib is
 * the faster one.
 */
#define ES_CRC_ZLIB	1024
#define ES_CRC_CLMUL	16

static uint32_t		crc_table[8][256];
static pthread_once_t	crc_once = PTHREAD_ONCE_INIT;
static int		crc_clmul;	/* crc_fold may be used */

#if defined(__x86_64__) && defined(__GNUC__)
#define ES_CRC_X86	1
#include <immintrin.h>

/*
 * Multiplies the two 64-bit halves of x by those of k (x mod P shifted
 * by 512 or 128 bits: k's low half for x's low, high for high) and adds
 * the products to next: x moved on by one step, folded into next.
 */
#define FOLD(x, k, next)						\
	_mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),	\
	    _mm_clmulepi64_si128(x, k, 0x11)), next)
#define LOAD(p)	_mm_loadu_si128((const __m128i *)(const void *)(p))

/*
 * The CRC register (not inverted) of len bytes, len >= ES_CRC_CLMUL and a
 * multiple of 16: from 64 bytes, four lanes of 16 bytes folded 64 bytes at
 * a time, then into one lane; then 16 bytes at a time; then 128 bits
 * reduced to 64 and to the 32-bit remainder (Barrett).  The constants
 * are x^n mod P for the bit-reflected polynomial, as in the paper and
 * zlib's copies of it.
 */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc_fold(uint32_t crc, const unsigned char *p, size_t len)
{
	const __m128i	k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
	const __m128i	k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
	const __m128i	k5 = _mm_set_epi64x(0, 0x163cd6124);
	const __m128i	poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
	const __m128i	low32 = _mm_setr_epi32(~0, 0, ~0, 0);
	__m128i		x1, x2, x3, x4, t;

	x1 = _mm_xor_si128(LOAD(p), _mm_cvtsi32_si128((int)crc));
	if (len >= 64) {
		x2 = LOAD(p + 16);
		x3 = LOAD(p + 32);
		x4 = LOAD(p + 48);
		for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
			x1 = FOLD(x1, k1k2, LOAD(p));
			x2 = FOLD(x2, k1k2, LOAD(p + 16));
			x3 = FOLD(x3, k1k2, LOAD(p + 32));
			x4 = FOLD(x4, k1k2, LOAD(p + 48));
		}
		x1 = FOLD(x1, k3k4, x2);
		x1 = FOLD(x1, k3k4, x3);
		x1 = FOLD(x1, k3k4, x4);
	} else {
		p += 16;
		len -= 16;
	}
	for (; len >= 16; p += 16, len -= 16)
		x1 = FOLD(x1, k3k4, LOAD(p));

	/* 128 bits to 64, then to 64 + 32 for the Barrett reduction. */
	t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
	t = _mm_srli_si128(x1, 4);
	x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00);
	x1 = _mm_xor_si128(x1, t);
	t = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
	t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly, 0x00);
	return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, t), 1);
}
#undef FOLD
#undef LOAD
#endif

static void
crc_init(void)
{
	uint32_t	c;
	unsigned int	i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_table[k][i] = crc_table[k - 1][i] >> 8 ^
			    crc_table[0][crc_table[k - 1][i] & 0xff];
#if defined(ES_CRC_X86)
	crc_clmul = __builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("sse4.1");
#endif
}

/* As crc32_update (digest.h); the tables are made once per process. */
static uint32_t
es_crc32(uint32_t crc, const unsigned char *p, size_t len)
{
	uint32_t	lo, hi;

	(void)pthread_once(&crc_once, crc_init);
	if (!crc_clmul && len >= ES_CRC_ZLIB)
		return crc32_update(crc, p, len);
	crc = ~crc;
#if defined(ES_CRC_X86)
	if (crc_clmul && len >= ES_CRC_CLMUL) {
		size_t	n = len & ~(size_t)15;

		crc = crc_fold(crc, p, n);
		p += n;
		len -= n;
	}
#endif
	for (; len >= 8; p += 8, len -= 8) {
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][lo >> 8 & 0xff] ^
		    crc_table[5][lo >> 16 & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][hi >> 8 & 0xff] ^
		    crc_table[1][hi >> 16 & 0xff] ^ crc_table[0][hi >> 24];
	}
	while (len-- > 0)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ crc >> 8;
	return ~crc;
}

/* What became of one complete frame. */
enum frame_result {
	FRAME_GOOD,		/* handed out, decoding goes on */
	FRAME_STOP,		/* handed out, the callback said stop */
	FRAME_BAD		/* message CRC or header block: skip it */
};

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t
get_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put_be16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/*
 * Checks the 12-byte prelude: 0 and the total length, or -1 when its CRC
 * or its total length is wrong (kiro.rs then slides on by one byte).
 */
static int
prelude_check(const unsigned char *p, uint32_t *total)
{
	uint32_t	t;

	t = get_be32(p);
	if (t < ES_MIN_FRAME || t > ES_MAX_FRAME)
		return -1;
	if (es_crc32(0, p, 8) != get_be32(p + 8))
		return -1;
	*total = t;
	return 0;
}

/*
 * The slot of a string header the frame keeps, or NULL.  Each test
 * compares a literal, which the compiler turns into a few loads: this
 * runs for every header of every frame (#13).  Kiro's own headers come
 * first.
 */
#define HEADER_IS(name, len, lit)					\
	((len) == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)

static struct es_str *
header_slot(struct es_frame *f, struct es_str *msg_type,
    const unsigned char *name, size_t len)
{
	if (HEADER_IS(name, len, ":event-type"))
		return &f->event_type;
	if (HEADER_IS(name, len, ":content-type"))
		return &f->content_type;
	if (HEADER_IS(name, len, ":message-type"))
		return msg_type;
	if (HEADER_IS(name, len, ":exception-type"))
		return &f->exception_type;
	if (HEADER_IS(name, len, ":error-code"))
		return &f->error_code;
	if (HEADER_IS(name, len, ":error-message"))
		return &f->error_message;
	return NULL;
}

/*
 * Walks the header block.  Every value type of §4 is decoded so that it can
 * be stepped over; only strings (type 7) are kept.  An entry running past
 * the block, an empty name or an unknown type makes the block bad: -1.
 */
static int
headers_parse(const unsigned char *p, size_t len, struct es_frame *f)
{
	struct es_str		 msg_type = { NULL, 0 }, *slot;
	const unsigned char	*name;
	size_t			 pos = 0, name_len, value_len;
	unsigned int		 type;

	while (pos < len) {
		name_len = p[pos++];
		if (name_len == 0 || name_len >= len - pos)
			return -1;	/* no room for the name and type */
		name = p + pos;
		pos += name_len;
		type = p[pos++];
		switch (type) {
		case 0:		/* bool true */
		case 1:		/* bool false */
			value_len = 0;
			break;
		case 2:		/* byte */
			value_len = 1;
			break;
		case 3:		/* short */
			value_len = 2;
			break;
		case 4:		/* integer */
			value_len = 4;
			break;
		case 5:		/* long */
		case 8:		/* timestamp */
			value_len = 8;
			break;
		case 9:		/* uuid */
			value_len = 16;
			break;
		case 6:		/* byte array */
		case 7:		/* string */
			if (len - pos < 2)
				return -1;
			value_len = get_be16(p + pos);
			pos += 2;
			break;
		default:
			return -1;
		}
		if (value_len > len - pos)
			return -1;
		if (type == 7 && (slot = header_slot(f, &msg_type, name,
		    name_len)) != NULL) {
			slot->ptr = (const char *)p + pos;
			slot->len = value_len;
		}
		pos += value_len;
	}

	/* kiro.rs treats a frame without :message-type as an event. */
	if (msg_type.ptr == NULL || es_str_eq(msg_type, "event"))
		f->message_type = ES_MSG_EVENT;
	else if (es_str_eq(msg_type, "exception"))
		f->message_type = ES_MSG_EXCEPTION;
	else if (es_str_eq(msg_type, "error"))
		f->message_type = ES_MSG_ERROR;
	else
		f->message_type = ES_MSG_OTHER;
	return 0;
}

/* Verifies a complete frame of total bytes (prelude already checked). */
static enum frame_result
frame_deliver(struct es_decoder *d, const unsigned char *p, uint32_t total)
{
	struct es_frame	f;
	uint32_t	headers_len;

	/* The prelude's CRC, checked already, covers the first 8 bytes. */
	if (es_crc32(get_be32(p + 8), p + 8, total - 12) !=
	    get_be32(p + total - 4))
		return FRAME_BAD;
	/* As kiro.rs: headers past the payload are a header error. */
	headers_len = get_be32(p + 4);
	if (headers_len > total - ES_MIN_FRAME)
		return FRAME_BAD;

	memset(&f, 0, sizeof(f));
	if (headers_parse(p + ES_PRELUDE_LEN, headers_len, &f) == -1)
		return FRAME_BAD;
	f.payload.ptr = (const char *)p + ES_PRELUDE_LEN + headers_len;
	f.payload.len = total - ES_MIN_FRAME - headers_len;

	d->n_bad = 0;
	d->skipped = 0;
	if (d->fn(d->arg, &f) != 0) {
		d->status = ES_STOPPED;
		return FRAME_STOP;
	}
	return FRAME_GOOD;
}

static int	note_error_run(struct es_decoder *);

/*
 * Skips one byte of a bad prelude.  A run of skipped bytes is one error
 * (kiro.rs counts every byte, so five stray bytes would end a stream that
 * is otherwise fine); a run longer than a whole frame is hopeless.
 */
static int
note_skip(struct es_decoder *d)
{
	if (d->skipped++ == 0 || d->skipped > ES_MAX_FRAME)
		return note_error_run(d);
	return 0;
}

/* Counts one error: -1 once there have been too many in a row. */
static int
note_error(struct es_decoder *d)
{
	d->skipped = 0;
	return note_error_run(d);
}

static int
note_error_run(struct es_decoder *d)
{
	d->n_errors++;
	if (++d->n_bad >= ES_MAX_ERRORS) {
		d->status = ES_FATAL;
		return -1;
	}
	return 0;
}

struct es_decoder *
es_decoder_new(es_frame_fn fn, void *arg)
{
	struct es_decoder	*d;

	d = xcalloc(1, sizeof(*d));
	d->fn = fn;
	d->arg = arg;
	d->status = ES_OK;
	return d;
}

void
es_decoder_free(struct es_decoder *d)
{
	if (d == NULL)
		return;
	buf_free(&d->held);
	free(d);
}

void
es_decoder_reset(struct es_decoder *d)
{
	buf_free(&d->held);
	d->n_bad = 0;
	d->skipped = 0;
	d->n_errors = 0;
	d->status = ES_OK;
}

size_t
es_decoder_pending(const struct es_decoder *d)
{
	return d->held.len;
}

unsigned long
es_decoder_errors(const struct es_decoder *d)
{
	return d->n_errors;
}

/*
 * Finishes the frame an earlier feed began, taking bytes from *p.  Returns
 * ES_OK with *len == 0 when the input ran out first (the bytes are held),
 * or ES_OK with held empty when the next frame starts at *p.
 */
static enum es_status
feed_held(struct es_decoder *d, const unsigned char **p, size_t *len)
{
	uint32_t	total;
	size_t		take;

	while (d->held.len > 0) {
		if (d->held.len < ES_PRELUDE_LEN) {
			take = ES_PRELUDE_LEN - d->held.len;
			if (take > *len)
				take = *len;
			buf_append(&d->held, *p, take);
			*p += take;
			*len -= take;
			if (d->held.len < ES_PRELUDE_LEN)
				return ES_OK;
		}
		if (prelude_check((unsigned char *)d->held.ptr, &total) == -1) {
			if (note_skip(d) == -1)
				return d->status;
			/* At most 11 bytes move: held holds just a prelude. */
			buf_consume(&d->held, 1);
			continue;
		}
		take = total - d->held.len;
		if (take > *len)
			take = *len;
		buf_append(&d->held, *p, take);
		*p += take;
		*len -= take;
		if (d->held.len < total)
			return ES_OK;

		if (frame_deliver(d, (unsigned char *)d->held.ptr, total) ==
		    FRAME_BAD)
			(void)note_error(d);	/* sets ES_FATAL if need be */
		if (d->held.cap > ES_HELD_KEEP)
			buf_free(&d->held);
		else
			buf_reset(&d->held);
		if (d->status != ES_OK)
			return d->status;
	}
	return ES_OK;
}

/*
 * Frames that arrive whole inside one feed are verified and handed out
 * where they lie, in the caller's memory; only the cut-off tail of a feed
 * is copied, and held never grows past one frame (ES_MAX_FRAME).  So a
 * large read with many small frames costs one pass, with no memmove.
 */
enum es_status
es_decoder_feed(struct es_decoder *d, const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint32_t		 total;
	enum es_status		 st;

	if (d->status != ES_OK)
		return d->status;
	if (len == 0)
		return ES_OK;

	if (d->held.len > 0) {
		if ((st = feed_held(d, &p, &len)) != ES_OK)
			return st;
		if (len == 0)
			return ES_OK;
	}

	while (len >= ES_PRELUDE_LEN) {
		if (prelude_check(p, &total) == -1) {
			if (note_skip(d) == -1)
				return d->status;
			p++;
			len--;
			continue;
		}
		if (len < total)
			break;
		switch (frame_deliver(d, p, total)) {
		case FRAME_GOOD:
			break;
		case FRAME_STOP:
			return d->status;
		case FRAME_BAD:
			if (note_error(d) == -1)
				return d->status;
			break;
		}
		p += total;
		len -= total;
	}

	/* Either fewer than 12 bytes, or a frame with a good prelude. */
	if (len > 0)
		buf_append(&d->held, p, len);
	return ES_OK;
}

/*
 * Header names are at most 255 bytes and values 65535, and a frame is at
 * most ES_MAX_FRAME: the encoder serves tests and the mock, so asking for
 * more is a bug in the caller and aborts.
 */
void
es_encode(struct buf *out, const char *const *names,
    const char *const *values, size_t n_headers, const void *payload,
    size_t payload_len)
{
	unsigned char	 prelude[ES_PRELUDE_LEN], tmp[4];
	size_t		 start, headers_len = 0, total, i, nl, vl;
	uint32_t	 crc;

	for (i = 0; i < n_headers; i++) {
		nl = strlen(names[i]);
		vl = strlen(values[i]);
		if (nl == 0 || nl > 255 || vl > 65535)
			abort();
		headers_len += 1 + nl + 1 + 2 + vl;
	}
	if (payload_len > ES_MAX_FRAME ||
	    headers_len > ES_MAX_FRAME - ES_MIN_FRAME - payload_len)
		abort();
	total = ES_MIN_FRAME + headers_len + payload_len;

	start = out->len;
	put_be32(prelude, (uint32_t)total);
	put_be32(prelude + 4, (uint32_t)headers_len);
	put_be32(prelude + 8, crc32_update(0, prelude, 8));
	buf_append(out, prelude, sizeof(prelude));
	for (i = 0; i < n_headers; i++) {
		nl = strlen(names[i]);
		vl = strlen(values[i]);
		tmp[0] = (unsigned char)nl;
		buf_append(out, tmp, 1);
		buf_append(out, names[i], nl);
		tmp[0] = 7;
		put_be16(tmp + 1, (uint16_t)vl);
		buf_append(out, tmp, 3);
		buf_append(out, values[i], vl);
	}
	buf_append(out, payload, payload_len);
	crc = crc32_update(0, out->ptr + start, out->len - start);
	put_be32(tmp, crc);
	buf_append(out, tmp, 4);
}

void
es_encode_event(struct buf *out, const char *event_type,
    const char *json_payload)
{
	const char *const	names[] = {
		":event-type", ":content-type", ":message-type"
	};
	const char *const	values[] = {
		event_type, "application/json", "event"
	};

	es_encode(out, names, values, 3, json_payload, strlen(json_payload));
}
