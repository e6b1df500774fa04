/* out.h: where a response goes: the FastCGI stream, or memory in tests. */
#ifndef OUT_H
#define OUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Emitters write through this so that they can be tested without a web
 * server.  A failed write or flush (the client is gone) sets failed; every
 * later call then fails at once without writing.
 */
struct out {
	int	(*write)(void *, const char *, size_t);	/* 0 or -1 */
	int	(*flush)(void *);			/* 0 or -1 */
	void	*arg;
	int	 committed;	/* headers (or any byte) have been written */
	int	 complete;	/* out_response wrote it all: flushes wait */
	int	 batching;	/* out_batch(1): flushes wait for out_batch(0) */
	int	 flush_due;	/* a flush waited */
	int	 failed;
	size_t	 bytes;		/* body bytes written, for the access log */
	int	 status;	/* the status sent, for the access log */
	int64_t	 first_byte_ms;	/* clock_mono_ms() of the first byte */
	/* x-kiro-context's value for the head, "" when none (out_context). */
	char	 context[96];
};

/* An out that appends to a buffer (tests, buffered modes). */
void	out_init_buf(struct out *, struct buf *);

/*
 * Makes every head written from now on carry "x-kiro-context: value"
 * (sink_start's context; NULL or "" is none).  Values with control
 * characters are refused, values too long are cut.
 */
void	out_context(struct out *, const char *value);

int	out_write(struct out *, const char *, size_t);
int	out_puts(struct out *, const char *);
int	out_buf(struct out *, const struct buf *);
/*
 * Pushes what was written to the client, for streams.  After out_response
 * it does nothing: the whole answer leaves with the end of the request,
 * in the same write (main.c ends the request as soon as the route
 * returns).
 */
int	out_flush(struct out *);
/*
 * Between out_batch(o, 1) and out_batch(o, 0) flushes wait, and the last
 * one happens at out_batch(o, 0): the events made from one piece of the
 * upstream's stream leave in one write.  out_batch(o, 0) returns -1 when
 * that flush failed (the client is gone).  For sink.batch (arg: the out).
 */
int	out_batch(void *out, int begin);
/*
 * Writes the CGI-style head: "Status: <status>", Content-Type and any
 * extra header lines (each ending in "\r\n"), then the blank line.
 */
int	out_head(struct out *, int status, const char *content_type,
	    const char *extra);
/* Writes a complete response: head with Content-Length, then the body. */
int	out_response(struct out *, int status, const char *content_type,
	    const char *extra, const char *body, size_t len);
/* Appends one SSE event ("event: NAME\n" when name is set, "data: ...\n\n"). */
void	sse_event(struct buf *, const char *name, const char *data,
	    size_t len);

#endif
