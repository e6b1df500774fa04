/* emit-common.c: head, flush, keep-alive and error-response plumbing of the emitters. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "emit-common.h"
#include "out.h"
#include "sink.h"
#include "xmalloc.h"

void
emit_sink_init(struct sink *sink, const struct sink_ops *ops, void *arg,
    int streams)
{
	memset(sink, 0, sizeof(*sink));
	sink->ops = ops;
	sink->arg = arg;
	sink->streams = streams;
}

void
emit_mark_committed(struct out *out, struct sink *sink)
{
	if (out->committed)
		sink->committed = 1;
}

int
emit_stream_head(struct out *out, struct sink *sink, int *head_sent,
    const char *content_type)
{
	if (*head_sent)
		return 0;
	*head_sent = 1;
	if (out_head(out, 200, content_type, EMIT_STREAM_HEADERS) != 0)
		return -1;
	emit_mark_committed(out, sink);
	return 0;
}

int
emit_push(struct out *out, struct sink *sink, struct buf *pending)
{
	int	rc;

	rc = out_buf(out, pending);
	buf_reset(pending);
	if (rc == 0)
		rc = out_flush(out);
	emit_mark_committed(out, sink);
	return rc;
}

int
emit_json_answer(struct out *out, struct sink *sink, const struct buf *body)
{
	int	rc;

	rc = out_response(out, 200, "application/json", NULL, body->ptr,
	    body->len);
	if (rc == 0)
		rc = out_flush(out);
	emit_mark_committed(out, sink);
	return rc;
}

int
emit_puts_flush(struct out *out, struct sink *sink, const char *s)
{
	int	rc;

	rc = out_puts(out, s);
	if (rc == 0)
		rc = out_flush(out);
	emit_mark_committed(out, sink);
	return rc;
}

int
emit_json_response(struct out *out, int status, const struct buf *body,
    long retry_after)
{
	char	extra[64];

	extra[0] = '\0';
	if (retry_after > 0)
		snprintf(extra, sizeof(extra), "Retry-After: %ld\r\n",
		    retry_after);
	return out_response(out, status, "application/json",
	    extra[0] != '\0' ? extra : NULL, body->ptr, body->len);
}

void
emit_calls_set(struct emit_calls *c, size_t index, long pos)
{
	if (index >= c->n) {
		c->at = xreallocarray(c->at, index + 1, sizeof(*c->at));
		while (c->n <= index)
			c->at[c->n++] = -1;
	}
	c->at[index] = pos;
}

long
emit_calls_get(const struct emit_calls *c, size_t index)
{
	return index < c->n ? c->at[index] : -1;
}

void
emit_calls_close(struct emit_calls *c, size_t index)
{
	if (index < c->n)
		c->at[index] = -1;
}

void
emit_calls_free(struct emit_calls *c)
{
	free(c->at);
	c->at = NULL;
	c->n = 0;
}
