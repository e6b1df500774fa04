/* emit-common.h: the output plumbing every front end's emitter shares. */
#ifndef EMIT_COMMON_H
#define EMIT_COMMON_H

#include <stddef.h>

#include "buf.h"

struct out;
struct sink;
struct sink_ops;

/*
 * The tool calls of an answer that are open, by the relay's tool index:
 * where the emitter keeps each (a content block, a part, an output item).
 * Zeroed is empty.
 */
struct emit_calls {
	long	*at;		/* -1: not open */
	size_t	 n;
};

void	emit_calls_set(struct emit_calls *, size_t index, long pos);
/* Where call index is, or -1 when it is not open. */
long	emit_calls_get(const struct emit_calls *, size_t index);
void	emit_calls_close(struct emit_calls *, size_t index);
/* Forgets every call (the struct is empty again). */
void	emit_calls_free(struct emit_calls *);

/* The head's extra lines for a stream: proxies must not hold it back. */
#define EMIT_STREAM_HEADERS \
	"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"

/* Makes sink an emitter's: ops with arg, streaming or not; all else 0. */
void	emit_sink_init(struct sink *, const struct sink_ops *, void *arg,
	    int streams);
/* Tells the relay (sink->committed) once any byte reached the client. */
void	emit_mark_committed(struct out *, struct sink *);
/*
 * Writes a 200 stream head of content_type (EMIT_STREAM_HEADERS) unless
 * *head_sent; sets it.  0, or -1 when the client is gone.
 */
int	emit_stream_head(struct out *, struct sink *, int *head_sent,
	    const char *content_type);
/* Writes and flushes pending, then empties it.  0 or -1. */
int	emit_push(struct out *, struct sink *, struct buf *pending);
/*
 * A whole non-streamed answer: a 200 application/json response with body,
 * flushed so the client has it before the relay's bookkeeping.  0 or -1.
 */
int	emit_json_answer(struct out *, struct sink *, const struct buf *body);
/* Writes and flushes s (a keep-alive).  0 or -1. */
int	emit_puts_flush(struct out *, struct sink *, const char *s);
/*
 * A complete JSON response (an error): status, Retry-After when
 * retry_after > 0, and body.  0 or -1.
 */
int	emit_json_response(struct out *, int status, const struct buf *body,
	    long retry_after);

#endif
