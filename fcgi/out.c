/* out.c: where a response goes: the FastCGI stream, or memory in tests. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "out.h"
#include "xmalloc.h"

static int
buf_write(void *arg, const char *p, size_t len)
{
	buf_append(arg, p, len);
	return 0;
}

static int
buf_flush(void *arg)
{
	return 0;
}

void
out_init_buf(struct out *o, struct buf *b)
{
	memset(o, 0, sizeof(*o));
	o->write = buf_write;
	o->flush = buf_flush;
	o->arg = b;
}

int
out_write(struct out *o, const char *p, size_t len)
{
	if (o->failed)
		return -1;
	if (!o->committed)
		o->first_byte_ms = clock_mono_ms();
	o->committed = 1;
	if (len == 0)
		return 0;
	if (o->write(o->arg, p, len) != 0) {
		o->failed = 1;
		return -1;
	}
	o->bytes += len;
	return 0;
}

int
out_puts(struct out *o, const char *s)
{
	return out_write(o, s, strlen(s));
}

int
out_buf(struct out *o, const struct buf *b)
{
	return out_write(o, b->ptr, b->len);
}

int
out_flush(struct out *o)
{
	if (o->failed)
		return -1;
	/* Its bytes go with the end of the request: one write, not two. */
	if (o->complete)
		return 0;
	if (o->batching) {
		o->flush_due = 1;
		return 0;
	}
	if (o->flush(o->arg) != 0) {
		o->failed = 1;
		return -1;
	}
	return 0;
}

int
out_batch(void *arg, int begin)
{
	struct out	*o = arg;

	if (begin) {
		o->batching = 1;
		return 0;
	}
	o->batching = 0;
	if (!o->flush_due)
		return o->failed ? -1 : 0;
	o->flush_due = 0;
	return out_flush(o);
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

void
out_context(struct out *o, const char *value)
{
	const char	*p;

	o->context[0] = '\0';
	if (value == NULL)
		return;
	for (p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return;	/* a header line must stay one line */
	(void)snprintf(o->context, sizeof(o->context), "%s", value);
}

/* Copies len bytes to at and returns the end of the copy. */
static char *
put(char *at, const char *s, size_t len)
{
	memcpy(at, s, len);
	return at + len;
}

#define PUT_LIT(at, lit)	put(at, lit, sizeof(lit) - 1)

/* The head's literals and numbers, at most; heads that fit go on the stack. */
#define HEAD_FIXED_MAX	(sizeof("Status:  \r\nContent-Type: \r\n" \
	"Content-Length: \r\nx-kiro-context: \r\n\r\n") + 2 * BUF_DECIMAL_LEN)
#define HEAD_STACK	512

/*
 * The head in one piece, without printf, and without an allocation when
 * it fits HEAD_STACK (the emitters' heads all do): it is written once per
 * request (#13).  content_length < 0 is none.
 */
static int
head_write(struct out *o, int status, const char *content_type,
    long long content_length, const char *extra)
{
	char		 stack[HEAD_STACK], digits[BUF_DECIMAL_LEN];
	char		*head, *at;
	const char	*reason = reason_phrase(status), *num;
	size_t		 reason_len, type_len, extra_len, context_len;
	size_t		 max, len;
	int		 rc;

	o->status = status;
	reason_len = strlen(reason);
	type_len = content_type != NULL ? strlen(content_type) : 0;
	extra_len = extra != NULL ? strlen(extra) : 0;
	context_len = strlen(o->context);
	max = HEAD_FIXED_MAX + reason_len + type_len + extra_len +
	    context_len;
	head = max <= sizeof(stack) ? stack : xmalloc(max);

	at = PUT_LIT(head, "Status: ");
	num = buf_decimal(status, digits, &len);
	at = put(at, num, len);
	at = PUT_LIT(at, " ");
	at = put(at, reason, reason_len);
	at = PUT_LIT(at, "\r\n");
	if (content_type != NULL) {
		at = PUT_LIT(at, "Content-Type: ");
		at = put(at, content_type, type_len);
		at = PUT_LIT(at, "\r\n");
	}
	if (content_length >= 0) {
		at = PUT_LIT(at, "Content-Length: ");
		num = buf_decimal(content_length, digits, &len);
		at = put(at, num, len);
		at = PUT_LIT(at, "\r\n");
	}
	if (extra != NULL)
		at = put(at, extra, extra_len);
	if (context_len > 0) {
		at = PUT_LIT(at, "x-kiro-context: ");
		at = put(at, o->context, context_len);
		at = PUT_LIT(at, "\r\n");
	}
	at = PUT_LIT(at, "\r\n");

	len = (size_t)(at - head);
	rc = out_write(o, head, len);
	/* Only the body counts in the access log. */
	if (rc == 0)
		o->bytes -= len;
	if (head != stack)
		free(head);
	return rc;
}

int
out_head(struct out *o, int status, const char *content_type,
    const char *extra)
{
	return head_write(o, status, content_type, -1, extra);
}

int
out_response(struct out *o, int status, const char *content_type,
    const char *extra, const char *body, size_t len)
{
	int	rc;

	rc = head_write(o, status, content_type, (long long)len, extra);
	if (rc == 0)
		rc = out_write(o, body, len);
	if (rc == 0)
		o->complete = 1;
	return rc;
}

void
sse_event(struct buf *b, const char *name, const char *data, size_t len)
{
	/* No printf: this runs for every delta of every stream (#13). */
	if (name != NULL) {
		buf_puts(b, "event: ");
		buf_puts(b, name);
		buf_putc(b, '\n');
	}
	buf_puts(b, "data: ");
	buf_append(b, data, len);
	buf_puts(b, "\n\n");
}
