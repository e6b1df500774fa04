/* fuzz-eventstream.c: libFuzzer target: decoder, event parser, splitter. */
/*
 * Input: byte 0 is the largest slice (0: the whole stream in one feed),
 * byte 1 seeds the slice sizes, the rest is the upstream body.  When byte
 * 1 is odd, both CRCs of each frame are recomputed first: a mutated header
 * or payload then reaches the header walk, the JSON and the splitter
 * instead of dying at the CRC check (even seeds test the CRC paths).  The body
 * goes through es_decoder twice, whole and sliced; every frame of the
 * whole pass goes through kiro_event_parse, and every TEXT event feeds two
 * thinking splitters, one with the delta whole and one byte by byte (a
 * TOOL_USE event or the end of the body flushes both).
 *
 * Invariants (abort when broken; ASan and LeakSanitizer do the rest):
 *  - both decoder passes see the same frames, errors and final status, and
 *    never hold more than ES_MAX_FRAME bytes;
 *  - kiro_event_parse returns KF_OK or KF_EUPSTREAM with a cause, and every
 *    string the event type promises is there and NUL-terminated;
 *  - both splitters give the same transcript, with no empty piece but
 *    THINKING_END, at most one THINKING_END, and only after a block opened.
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "err.h"
#include "eventstream.h"
#include "kiro_event.h"
#include "thinking.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct transcript {
	struct thinking_splitter	*ts;
	struct buf			 log;
	int				 last;
	int				 n_end;
};

struct run {
	struct buf			 frames;	/* what the decoder gave */
	struct kiro_event_parser	*kp;		/* NULL: log frames only */
	struct transcript		 whole, bytes;
};

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static int
on_piece(void *arg, enum thinking_part part, const char *s, size_t len)
{
	struct transcript	*t = arg;

	if (part == THINKING_PART_THINKING_END) {
		CHECK(len == 0);
		CHECK(++t->n_end == 1);
		CHECK(thinking_seen(t->ts));
	} else
		CHECK(len > 0 && s != NULL);
	if ((int)part != t->last || part == THINKING_PART_THINKING_END) {
		buf_putc(&t->log, '\0');
		buf_putc(&t->log, "TKE"[part]);
	}
	buf_append(&t->log, s, len);
	t->last = part;
	return 0;
}

static void
log_slice(struct buf *b, struct es_str s)
{
	buf_append(b, &s.len, sizeof(s.len));
	buf_append(b, s.ptr, s.len);
}

/* Reads every byte of a promised string, so ASan checks it. */
static void
touch(const char *s, size_t len)
{
	volatile char	c = 0;
	size_t		i;

	CHECK(s != NULL);
	for (i = 0; i < len; i++)
		c ^= s[i];
	CHECK(s[len] == '\0');
	(void)c;
}

static void
on_event(struct run *r, const struct kiro_event *ev)
{
	size_t	i;

	switch (ev->type) {
	case KIRO_EV_TEXT:
		touch(ev->text, ev->text_len);
		CHECK(thinking_feed(r->whole.ts, ev->text, ev->text_len) == 0);
		for (i = 0; i < ev->text_len; i++)
			CHECK(thinking_feed(r->bytes.ts, ev->text + i, 1) == 0);
		break;
	case KIRO_EV_REASONING:
		touch(ev->text, ev->text_len);
		if (ev->signature != NULL)
			touch(ev->signature, strlen(ev->signature));
		break;
	case KIRO_EV_TOOL_USE:
		touch(ev->tool_use_id, strlen(ev->tool_use_id));
		touch(ev->tool_input, ev->tool_input_len);
		if (ev->tool_name != NULL)
			touch(ev->tool_name, strlen(ev->tool_name));
		CHECK(thinking_flush(r->whole.ts) == 0);
		CHECK(thinking_flush(r->bytes.ts) == 0);
		break;
	case KIRO_EV_EXCEPTION:
	case KIRO_EV_ERROR:
		touch(ev->text, ev->text_len);
		touch(ev->kind, strlen(ev->kind));
		break;
	case KIRO_EV_STOP_REASON:
	case KIRO_EV_IGNORED:
		touch(ev->kind, strlen(ev->kind));
		break;
	case KIRO_EV_METERING:
	case KIRO_EV_TOKEN_USAGE:
		/* The unit, or a stop reason beside the figures: optional. */
		if (ev->kind != NULL)
			touch(ev->kind, strlen(ev->kind));
		break;
	case KIRO_EV_CONTEXT_USAGE:
	case KIRO_EV_METRICS:
	case KIRO_EV_END:
		break;
	default:
		abort();
	}
	CHECK(strcmp(kiro_event_type_name(ev->type), "unknown") != 0);
}

static int
on_frame(void *arg, const struct es_frame *f)
{
	struct run		*r = arg;
	struct kiro_event	 ev;
	char			*cause = NULL;
	enum kf_err		 er;

	buf_putc(&r->frames, (char)f->message_type);
	log_slice(&r->frames, f->event_type);
	log_slice(&r->frames, f->exception_type);
	log_slice(&r->frames, f->error_code);
	log_slice(&r->frames, f->error_message);
	log_slice(&r->frames, f->content_type);
	log_slice(&r->frames, f->payload);
	if (r->kp == NULL)
		return 0;

	er = kiro_event_parse(r->kp, f, &ev, &cause);
	if (er == KF_OK) {
		CHECK(cause == NULL);
		on_event(r, &ev);
	} else {
		CHECK(er == KF_EUPSTREAM && cause != NULL);
		free(cause);
	}
	return 0;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Makes both CRCs right in each frame whose length fits, up to the first
 * one that does not. */
static void
fix_crcs(uint8_t *p, size_t size)
{
	uint32_t	total;
	size_t		off = 0;

	while (size - off >= ES_MIN_FRAME) {
		total = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
		    (uint32_t)p[off + 2] << 8 | p[off + 3];
		if (total < ES_MIN_FRAME || total > size - off)
			break;
		put32(p + off + 8, crc32_update(0, p + off, 8));
		put32(p + off + total - 4, crc32_update(0, p + off, total - 4));
		off += total;
	}
}

static void
transcript_init(struct transcript *t)
{
	memset(t, 0, sizeof(*t));
	t->last = -1;
	t->ts = thinking_new(on_piece, t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run		 whole, sliced;
	struct es_decoder	*d;
	enum es_status		 st_whole, st_sliced = ES_OK;
	unsigned long		 errs_whole;
	uint8_t			*body;
	uint32_t		 seed;
	size_t			 max, off, n;

	if (size < 2)
		return 0;
	max = data[0];
	seed = data[1];
	body = malloc(size - 2 + 1);
	CHECK(body != NULL);
	memcpy(body, data + 2, size - 2);
	size -= 2;
	if (seed & 1)
		fix_crcs(body, size);
	data = body;

	memset(&whole, 0, sizeof(whole));
	whole.kp = kiro_event_parser_new();
	transcript_init(&whole.whole);
	transcript_init(&whole.bytes);
	d = es_decoder_new(on_frame, &whole);
	st_whole = es_decoder_feed(d, data, size);
	CHECK(es_decoder_pending(d) <= ES_MAX_FRAME);
	errs_whole = es_decoder_errors(d);
	es_decoder_free(d);
	CHECK(thinking_flush(whole.whole.ts) == 0);
	CHECK(thinking_flush(whole.bytes.ts) == 0);
	CHECK(whole.whole.log.len == whole.bytes.log.len &&
	    (whole.whole.log.len == 0 || memcmp(whole.whole.log.ptr,
	    whole.bytes.log.ptr, whole.whole.log.len) == 0));

	memset(&sliced, 0, sizeof(sliced));
	d = es_decoder_new(on_frame, &sliced);
	for (off = 0; off < size && st_sliced == ES_OK; off += n) {
		seed = seed * 1103515245u + 12345u;
		n = max == 0 ? size : 1 + (seed >> 16) % max;
		if (n > size - off)
			n = size - off;
		st_sliced = es_decoder_feed(d, data + off, n);
		CHECK(es_decoder_pending(d) <= ES_MAX_FRAME);
	}
	CHECK(st_sliced == st_whole);
	CHECK(es_decoder_errors(d) == errs_whole);
	CHECK(sliced.frames.len == whole.frames.len &&
	    (whole.frames.len == 0 || memcmp(sliced.frames.ptr,
	    whole.frames.ptr, whole.frames.len) == 0));
	es_decoder_free(d);

	kiro_event_parser_free(whole.kp);
	thinking_free(whole.whole.ts);
	thinking_free(whole.bytes.ts);
	buf_free(&whole.whole.log);
	buf_free(&whole.bytes.log);
	buf_free(&whole.frames);
	buf_free(&sliced.frames);
	free(body);
	return 0;
}
