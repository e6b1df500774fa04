/* eventstream.h: incremental decoder (and encoder) of AWS event-stream frames. */
#ifndef EVENTSTREAM_H
#define EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/*
 * The body of generateAssistantResponse is a sequence of binary frames
 * (doc/protocol.md §4): prelude (total length, headers length, CRC-32 of
 * the two), headers, payload, CRC-32 of everything before it.  Bytes arrive
 * in arbitrary pieces from libcurl's write callback; the decoder keeps what
 * it needs between calls and hands out each complete, verified frame.
 */

#define ES_PRELUDE_LEN		12
#define ES_MIN_FRAME		16
#define ES_MAX_FRAME		(16u * 1024 * 1024)
#define ES_MAX_ERRORS		5	/* consecutive bad frames before giving up */

/* A header or payload slice: borrowed, not NUL-terminated, len may be 0. */
struct es_str {
	const char	*ptr;
	size_t		 len;
};

enum es_msg_type {
	ES_MSG_EVENT,		/* ":message-type" event, or no such header */
	ES_MSG_EXCEPTION,
	ES_MSG_ERROR,
	ES_MSG_OTHER,		/* some other value */
	ES_MSG__MAX
};

/* One decoded frame; every slice is valid only during the callback. */
struct es_frame {
	enum es_msg_type	message_type;
	struct es_str		event_type;	/* ":event-type" */
	struct es_str		exception_type;	/* ":exception-type" */
	struct es_str		error_code;	/* ":error-code" */
	struct es_str		error_message;	/* ":error-message" */
	struct es_str		content_type;	/* ":content-type" */
	struct es_str		payload;
};

/* Called for each good frame; a non-zero return stops the decoder. */
typedef int (*es_frame_fn)(void *arg, const struct es_frame *);

enum es_status {
	ES_OK,			/* all input consumed, maybe a partial frame kept */
	ES_STOPPED,		/* the callback returned non-zero */
	ES_FATAL,		/* ES_MAX_ERRORS consecutive bad frames */
	ES__MAX
};

struct es_decoder;

/* Returns a decoder that calls fn(arg, frame); free with es_decoder_free. */
struct es_decoder	*es_decoder_new(es_frame_fn fn, void *arg);
void			 es_decoder_free(struct es_decoder *);  /* NULL is fine */
/* Forgets buffered bytes and counters, for reuse on a new stream. */
void			 es_decoder_reset(struct es_decoder *);

/*
 * Feeds len bytes.  Recovery follows kiro.rs: a bad prelude (CRC or length)
 * skips one byte and resynchronises; a bad message CRC or header block skips
 * the whole frame.  Unlike kiro.rs, a run of bytes skipped while
 * resynchronising counts as one error (so a few stray bytes do not end a
 * good stream); ES_MAX_ERRORS errors in a row, or more than ES_MAX_FRAME
 * bytes of garbage in one run, are ES_FATAL.  Once ES_STOPPED or ES_FATAL
 * is returned, further feeds return the same status without calling back.
 */
enum es_status		 es_decoder_feed(struct es_decoder *, const void *,
			    size_t len);
/* Bytes held for an incomplete frame: non-zero at EOF means a cut stream. */
size_t			 es_decoder_pending(const struct es_decoder *);
/* Frames or bytes skipped as bad since creation or reset. */
unsigned long		 es_decoder_errors(const struct es_decoder *);

/*
 * 1 when the slice equals the NUL-terminated string s.  Inline, so that
 * a literal's length is known when compiling: no strlen per frame (#13).
 */
static inline int
es_str_eq(struct es_str str, const char *s)
{
	size_t	len = strlen(s);

	return str.len == len && (len == 0 || memcmp(str.ptr, s, len) == 0);
}

/*
 * Encoder, for the mock-free unit tests and benchmarks: appends one frame
 * with string headers (names[i], values[i]), i < n_headers, then payload.
 */
void			 es_encode(struct buf *out, const char *const *names,
			    const char *const *values, size_t n_headers,
			    const void *payload, size_t payload_len);
/* Appends an event frame as Kiro sends it (:event-type, :content-type,
 * :message-type event). */
void			 es_encode_event(struct buf *out,
			    const char *event_type, const char *json_payload);

#endif
