/* buf.c: one growable, binary-safe, always NUL-terminated byte buffer. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "xmalloc.h"

void
buf_reserve(struct buf *b, size_t extra)
{
	size_t	need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		abort();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->ptr = xreallocarray(b->ptr, cap, 1);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->ptr + b->len, p, n);
	b->len += n;
	b->ptr[b->len] = '\0';
}

int
buf_append_capped(struct buf *b, const void *p, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return -1;
	buf_append(b, p, n);
	return 0;
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		abort();
	buf_reserve(b, (size_t)n);
	if (vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap) != n)
		abort();
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

#ifdef __SSE2__
/*
 * A bit for each of the n (16 or 8) bytes at at that is a quote, a
 * backslash, a control byte or d (DEL, or the quote again when DEL is
 * plain).
 */
static inline unsigned int
json_stops(const char *at, int n, char d)
{
	const __m128i	v = n == 16 ?
	    _mm_loadu_si128((const __m128i *)(const void *)at) :
	    _mm_loadl_epi64((const __m128i *)(const void *)at);
	unsigned int	m;

	/* v <= 0x1f unsigned: saturating v - 0x1f is 0. */
	m = (unsigned int)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))), _mm_or_si128(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(d)), _mm_cmpeq_epi8(
	    _mm_subs_epu8(v, _mm_set1_epi8(0x1f)), _mm_setzero_si128()))));
	return n == 16 ? m : m & 0xff;
}
#endif

/*
 * 16 bytes at a time with SSE2 (every x86-64 has it), else 8 while none
 * is a stop (the classic "has zero byte" word tricks), then one at a time
 * up to the stop.  With SSE2 the last part of a run of 8 bytes or more is
 * one load that overlaps bytes already found plain (they are shifted
 * out), not a byte at a time: most strings are short (keys, ids), and
 * their tail was most of their cost (#13).
 */
size_t
buf_json_plain(const char *s, size_t len, int del_stops)
{
	const char	*p = s, *end = s + len;
	const char	 d = del_stops ? 0x7f : '"';
#ifdef __SSE2__
	unsigned int	 mask;

	for (; end - p >= 16; p += 16)
		if ((mask = json_stops(p, 16, d)) != 0)
			return (size_t)(p - s) + (size_t)__builtin_ctz(mask);
	if (p == end)
		return len;
	if (len >= 16) {
		mask = json_stops(end - 16, 16, d) >> (16 - (end - p));
		return mask != 0 ? (size_t)(p - s) +
		    (size_t)__builtin_ctz(mask) : len;
	}
	if (end - p >= 8) {
		if ((mask = json_stops(p, 8, d)) != 0)
			return (size_t)(p - s) + (size_t)__builtin_ctz(mask);
		if ((p += 8) == end)
			return len;
		mask = json_stops(end - 8, 8, d) >> (8 - (end - p));
		return mask != 0 ? (size_t)(p - s) +
		    (size_t)__builtin_ctz(mask) : len;
	}
#else
	const uint64_t	ones = UINT64_C(0x0101010101010101);
	const uint64_t	highs = UINT64_C(0x8080808080808080);
	uint64_t	w, q, bs, del;

	while (end - p >= 8) {
		memcpy(&w, p, 8);
		q = w ^ (ones * '"');
		bs = w ^ (ones * '\\');
		del = w ^ (ones * (unsigned char)d);
		if ((((q - ones) & ~q) | ((bs - ones) & ~bs) |
		    ((del - ones) & ~del) | ((w - ones * 0x20) & ~w)) & highs)
			break;
		p += 8;
	}
#endif
	while (p < end && (unsigned char)*p >= 0x20 && *p != '"' &&
	    *p != '\\' && *p != d)
		p++;
	return (size_t)(p - s);
}

void
buf_json_str(struct buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, run;

	buf_reserve(b, len + 2);
	buf_putc(b, '"');
	for (i = 0; i < len; i = run) {
		/* Copy the longest run that needs no escaping in one go. */
		if ((run = i + buf_json_plain(s + i, len - i, 1)) > i) {
			buf_add(b, s + i, run - i);
			continue;
		}
		switch (p[i]) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\b':
			buf_puts(b, "\\b");
			break;
		case '\f':
			buf_puts(b, "\\f");
			break;
		default:
			buf_puts(b, "\\u00");
			buf_putc(b, hex[p[i] >> 4]);
			buf_putc(b, hex[p[i] & 0xf]);
			break;
		}
		run = i + 1;
	}
	buf_putc(b, '"');
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->ptr, b->ptr + n, b->len - n);
	b->len -= n;
	b->ptr[b->len] = '\0';
}

const char *
buf_cstr(struct buf *b)
{
	if (b->ptr == NULL)
		buf_reserve(b, 0);
	b->ptr[b->len] = '\0';
	return b->ptr;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->ptr != NULL)
		b->ptr[0] = '\0';
}

char *
buf_detach(struct buf *b)
{
	char	*p;

	buf_cstr(b);
	p = b->ptr;
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

const char *
buf_decimal(long long v, char digits[BUF_DECIMAL_LEN], size_t *len)
{
	char			*p = digits + BUF_DECIMAL_LEN;
	unsigned long long	 u = v < 0 ? 0 - (unsigned long long)v :
				    (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	*len = (size_t)(digits + BUF_DECIMAL_LEN - p);
	return p;
}

void
buf_put_int(struct buf *b, long long v)
{
	char		 digits[BUF_DECIMAL_LEN];
	const char	*p;
	size_t		 len;

	p = buf_decimal(v, digits, &len);
	buf_append(b, p, len);
}
