/* buf.h: one growable, binary-safe, always NUL-terminated byte buffer. */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/*
 * Caller-owned: the struct lives wherever the caller puts it, and its handle
 * never moves, so there is no "s = append(s, ...)" trap.  ptr is NULL until
 * the first append; after that ptr[len] is always '\0'.  Appends abort on
 * allocation failure (see xmalloc.h) except buf_append_capped, which refuses.
 */
struct buf {
	char	*ptr;
	size_t	 len;
	size_t	 cap;
};
#define BUF_INIT { NULL, 0, 0 }

void	 buf_append(struct buf *, const void *, size_t);
/*
 * buf_append inline when the bytes fit, for writers that add many short
 * pieces (JSON punctuation, escapes, event frames): no call per piece.
 */
static inline void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n) {
		memcpy(b->ptr + b->len, p, n);
		b->len += n;
		b->ptr[b->len] = '\0';
	} else
		buf_append(b, p, n);
}
/* Makes room for extra more bytes at once (len and contents unchanged). */
void	 buf_reserve(struct buf *, size_t extra);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list);
/* Appends unless the result would exceed max bytes: 0, or -1 (unchanged). */
int	 buf_append_capped(struct buf *, const void *, size_t, size_t max);
/*
 * v in decimal, written at the end of digits[BUF_DECIMAL_LEN]: returns
 * where it starts and sets *len (no terminator).  printf's work without
 * its cost, for the hot paths that write numbers.
 */
#define BUF_DECIMAL_LEN	24
const char *buf_decimal(long long v, char digits[BUF_DECIMAL_LEN],
		    size_t *len);
/* Appends v in decimal. */
void	 buf_put_int(struct buf *, long long v);
/* Appends s as a JSON string literal, quotes included. */
/*
 * How many of the len bytes at s a JSON string holds as they are: the run
 * before the first quote, backslash or control byte, or DEL when
 * del_stops (buf_json_str escapes it; json-c's writer does not).
 */
size_t	 buf_json_plain(const char *s, size_t len, int del_stops);
void	 buf_json_str(struct buf *, const char *s, size_t len);
/* Removes the first n bytes (n > len empties the buffer). */
void	 buf_consume(struct buf *, size_t n);
/* Makes sure ptr is non-NULL and terminated, even when empty. */
const char *buf_cstr(struct buf *);
/* Keeps the allocation for reuse (lighttpd buffer_clear). */
void	 buf_reset(struct buf *);
/* Hands the bytes to the caller, who frees them; the buf becomes empty. */
char	*buf_detach(struct buf *);
/* Frees the bytes; the buf is empty and reusable.  NULL is fine. */
void	 buf_free(struct buf *);

#endif
