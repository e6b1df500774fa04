/* test-buf.c: unit tests for the growable byte buffer. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"

/*
 * Covers: buf_append, buf_puts, buf_putc and buf_printf across many sizes
 * (every capacity doubling up to 64 KB), NUL termination after every
 * operation, binary data with embedded NULs, buf_append_capped accepting up
 * to exactly max and refusing beyond it without touching the buffer (also
 * for lengths that would overflow), buf_json_str's escape of every control
 * character, quote, backslash and DEL, UTF-8 left as it is, and the result
 * parsing with json-c back to the same bytes, buf_consume, buf_cstr,
 * buf_detach, buf_reset keeping the allocation, and buf_free (NULL too).
 */

/* A byte pattern that differs at every offset of a short period. */
static void
fill(char *p, size_t n, unsigned seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
}

static void
assert_terminated(const struct buf *b)
{
	ck_assert_ptr_nonnull(b->ptr);
	ck_assert_uint_lt(b->len, b->cap);
	ck_assert_int_eq(b->ptr[b->len], '\0');
}

static void
vprintf_into(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vprintf_into(struct buf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

START_TEST(buf_append_grows_across_sizes)
{
	struct buf	 b = BUF_INIT, all = BUF_INIT;
	char		*src, *expect;
	size_t		 n, total = 0;

	src = malloc(70000);
	expect = malloc(70000 * 40);
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(expect);
	for (n = 0; n <= 70000; n = n < 300 ? n + 1 : n * 5 / 4) {
		fill(src, n, (unsigned)n);
		buf_append(&b, src, n);
		ck_assert_uint_eq(b.len, n);
		ck_assert_int_eq(memcmp(b.ptr, src, n), 0);
		assert_terminated(&b);
		buf_free(&b);

		if (total + n <= 70000 * 40) {
			buf_append(&all, src, n);
			memcpy(expect + total, src, n);
			total += n;
			ck_assert_uint_eq(all.len, total);
			assert_terminated(&all);
		}
	}
	ck_assert_int_eq(memcmp(all.ptr, expect, total), 0);
	buf_free(&all);
	free(src);
	free(expect);
}
END_TEST

START_TEST(buf_append_nothing_still_terminates)
{
	struct buf	b = BUF_INIT;

	buf_append(&b, NULL, 0);
	ck_assert_uint_eq(b.len, 0);
	assert_terminated(&b);
	ck_assert_str_eq(b.ptr, "");
	buf_free(&b);
}
END_TEST

START_TEST(buf_append_keeps_binary_nuls)
{
	struct buf	b = BUF_INIT;
	const char	data[] = { 'a', '\0', 'b', '\0', '\0', 'c' };
	size_t		i;

	for (i = 0; i < 100; i++)
		buf_append(&b, data, sizeof(data));
	ck_assert_uint_eq(b.len, 100 * sizeof(data));
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(memcmp(b.ptr + i * sizeof(data), data,
		    sizeof(data)), 0);
	assert_terminated(&b);
	buf_free(&b);
}
END_TEST

START_TEST(buf_puts_and_putc_append_in_order)
{
	struct buf	 b = BUF_INIT;
	char		*expect;
	size_t		 i;

	expect = malloc(5 * 3000 + 1);
	ck_assert_ptr_nonnull(expect);
	for (i = 0; i < 3000; i++) {
		buf_puts(&b, "abc");
		buf_putc(&b, (char)('0' + i % 10));
		buf_puts(&b, "");
		buf_putc(&b, '|');
		memcpy(expect + 5 * i, "abc", 3);
		expect[5 * i + 3] = (char)('0' + i % 10);
		expect[5 * i + 4] = '|';
		assert_terminated(&b);
	}
	expect[5 * 3000] = '\0';
	ck_assert_uint_eq(b.len, 5 * 3000);
	ck_assert_str_eq(b.ptr, expect);
	buf_free(&b);
	free(expect);
}
END_TEST

START_TEST(buf_putc_keeps_nul_byte)
{
	struct buf	b = BUF_INIT;

	buf_putc(&b, 'x');
	buf_putc(&b, '\0');
	buf_putc(&b, 'y');
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.ptr, "x\0y", 3), 0);
	assert_terminated(&b);
	buf_free(&b);
}
END_TEST

START_TEST(buf_printf_grows_across_sizes)
{
	struct buf	 b = BUF_INIT, all = BUF_INIT;
	char		*arg, *expect;
	size_t		 n, total = 0, elen;
	int		 k;

	arg = malloc(20001);
	expect = malloc(20100);
	ck_assert_ptr_nonnull(arg);
	ck_assert_ptr_nonnull(expect);
	for (n = 0; n <= 20000; n = n < 200 ? n + 1 : n * 3 / 2) {
		fill(arg, n, 3);
		arg[n] = '\0';
		k = snprintf(expect, 20100, "<%s|%d|%zu>", arg, -42, n);
		ck_assert_int_gt(k, 0);
		elen = (size_t)k;

		buf_printf(&b, "<%s|%d|%zu>", arg, -42, n);
		ck_assert_uint_eq(b.len, elen);
		ck_assert_str_eq(b.ptr, expect);
		assert_terminated(&b);
		buf_free(&b);

		/* Appending to existing content, with a non-empty prefix. */
		buf_puts(&b, "pre:");
		vprintf_into(&b, "<%s|%d|%zu>", arg, -42, n);
		ck_assert_uint_eq(b.len, 4 + elen);
		ck_assert_int_eq(memcmp(b.ptr, "pre:", 4), 0);
		ck_assert_str_eq(b.ptr + 4, expect);
		assert_terminated(&b);
		buf_free(&b);

		buf_printf(&all, "%s", arg);
		total += n;
		ck_assert_uint_eq(all.len, total);
		assert_terminated(&all);
	}
	buf_free(&all);
	free(arg);
	free(expect);
}
END_TEST

START_TEST(buf_printf_empty_result_terminates)
{
	struct buf	b = BUF_INIT;

	buf_printf(&b, "%s", "");
	ck_assert_uint_eq(b.len, 0);
	assert_terminated(&b);
	buf_free(&b);
}
END_TEST

START_TEST(buf_append_capped_accepts_up_to_max)
{
	struct buf	b = BUF_INIT;

	ck_assert_int_eq(buf_append_capped(&b, "0123456789", 10, 10), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.ptr, "0123456789");
	ck_assert_int_eq(buf_append_capped(&b, "", 0, 10), 0);
	ck_assert_uint_eq(b.len, 10);
	buf_free(&b);

	ck_assert_int_eq(buf_append_capped(&b, "abc", 3, 100), 0);
	ck_assert_int_eq(buf_append_capped(&b, "defg", 4, 7), 0);
	ck_assert_str_eq(b.ptr, "abcdefg");
	buf_free(&b);
}
END_TEST

START_TEST(buf_append_capped_refusal_leaves_buf_unchanged)
{
	struct buf	 b = BUF_INIT;
	char		*ptr;
	size_t		 cap;

	buf_append(&b, "0123456789", 10);
	ptr = b.ptr;
	cap = b.cap;

	ck_assert_int_eq(buf_append_capped(&b, "x", 1, 10), -1);
	ck_assert_int_eq(buf_append_capped(&b, "xyz", 3, 12), -1);
	ck_assert_int_eq(buf_append_capped(&b, "xyz", 3, 2), -1);
	ck_assert_int_eq(buf_append_capped(&b, "x", 1, 5), -1);
	/* Lengths whose sum with len would wrap around. */
	ck_assert_int_eq(buf_append_capped(&b, "x", SIZE_MAX, SIZE_MAX), -1);
	ck_assert_int_eq(buf_append_capped(&b, "x", SIZE_MAX - 5,
	    SIZE_MAX - 1), -1);

	ck_assert_ptr_eq(b.ptr, ptr);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.ptr, "0123456789");
	buf_free(&b);
}
END_TEST

START_TEST(buf_append_capped_refusal_on_empty_buf_allocates_nothing)
{
	struct buf	b = BUF_INIT;

	ck_assert_int_eq(buf_append_capped(&b, "abc", 3, 2), -1);
	ck_assert_ptr_null(b.ptr);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

/* The expected JSON escape of one byte, per RFC 8259 section 7. */
static const char *
expected_escape(unsigned char c, char tmp[8])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(tmp, 8, "\\u%04x", c);
		return tmp;
	}
	tmp[0] = (char)c;
	tmp[1] = '\0';
	return tmp;
}

START_TEST(buf_json_str_escapes_every_control_char)
{
	struct buf	b = BUF_INIT;
	char		tmp[8], expect[32];
	unsigned	c;

	for (c = 0; c < 0x80; c++) {
		unsigned char	byte = (unsigned char)c;

		buf_reset(&b);
		buf_json_str(&b, (const char *)&byte, 1);
		snprintf(expect, sizeof(expect), "\"%s\"",
		    expected_escape(byte, tmp));
		ck_assert_msg(b.len == strlen(expect) &&
		    memcmp(b.ptr, expect, b.len) == 0,
		    "byte 0x%02x: got %s, want %s", c, b.ptr, expect);
		assert_terminated(&b);
	}
	buf_free(&b);
}
END_TEST

/*
 * Runs are scanned 8 bytes at a time: every byte value at every place of
 * a 24-byte string, in words of plain bytes, high bytes and near-misses
 * (0x20, 0x7e, 0x80), comes out as the byte-by-byte escape says.
 */
START_TEST(buf_json_str_word_scan_misses_no_byte)
{
	static const unsigned char	fill[] = { 'a', 0x20, 0x7e, 0x80, 0xff };
	struct buf	b = BUF_INIT, want = BUF_INIT;
	unsigned char	in[24];
	char		tmp[8];
	unsigned	c;
	size_t		f, at, i;

	for (f = 0; f < sizeof(fill); f++)
		for (c = 0; c < 0x100; c++)
			for (at = 0; at < sizeof(in); at++) {
				memset(in, fill[f], sizeof(in));
				in[at] = (unsigned char)c;
				buf_reset(&want);
				buf_putc(&want, '"');
				for (i = 0; i < sizeof(in); i++)
					buf_puts(&want,
					    expected_escape(in[i], tmp));
				buf_putc(&want, '"');
				buf_reset(&b);
				buf_json_str(&b, (const char *)in, sizeof(in));
				ck_assert_msg(b.len == want.len &&
				    memcmp(b.ptr, want.ptr, b.len) == 0,
				    "byte 0x%02x at %zu in 0x%02x: %s", c, at,
				    fill[f], b.ptr);
			}
	buf_free(&b);
	buf_free(&want);
}
END_TEST

START_TEST(buf_json_str_escapes_inside_runs)
{
	struct buf	b = BUF_INIT;
	const char	in[] = "a\"b\\c\nd\x01" "e\x7f" "f\x1f";

	buf_json_str(&b, in, sizeof(in) - 1);
	ck_assert_str_eq(b.ptr,
	    "\"a\\\"b\\\\c\\nd\\u0001e\\u007ff\\u001f\"");
	buf_free(&b);
}
END_TEST

START_TEST(buf_json_str_keeps_utf8_untouched)
{
	struct buf	b = BUF_INIT;
	const char	in[] = "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 "
			    "\xf0\x9f\x98\x80 \xe2\x80\xa8";

	buf_json_str(&b, in, sizeof(in) - 1);
	ck_assert_uint_eq(b.len, sizeof(in) - 1 + 2);
	ck_assert_int_eq(b.ptr[0], '"');
	ck_assert_int_eq(memcmp(b.ptr + 1, in, sizeof(in) - 1), 0);
	ck_assert_int_eq(b.ptr[b.len - 1], '"');
	buf_free(&b);
}
END_TEST

START_TEST(buf_json_str_empty_and_appended)
{
	struct buf	b = BUF_INIT;

	buf_json_str(&b, "", 0);
	ck_assert_str_eq(b.ptr, "\"\"");
	buf_puts(&b, ":");
	buf_json_str(&b, "ignored tail", 2);
	ck_assert_str_eq(b.ptr, "\"\":\"ig\"");
	buf_free(&b);
}
END_TEST

/* Checks that the literal in b parses with json-c to exactly s[0..len). */
static void
assert_json_round_trip(const struct buf *b, const char *s, size_t len)
{
	json_tokener	*tok;
	json_object	*v;

	tok = json_tokener_new();
	ck_assert_ptr_nonnull(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, b->ptr, (int)b->len);
	ck_assert_msg(v != NULL, "json-c refused %s: %s", b->ptr,
	    json_tokener_error_desc(json_tokener_get_error(tok)));
	ck_assert_uint_eq(json_tokener_get_parse_end(tok), b->len);
	ck_assert(json_object_is_type(v, json_type_string));
	ck_assert_int_eq(json_object_get_string_len(v), (int)len);
	ck_assert_int_eq(memcmp(json_object_get_string(v), s, len), 0);
	json_object_put(v);
	json_tokener_free(tok);
}

START_TEST(buf_json_str_parses_back_to_same_bytes)
{
	struct buf	b = BUF_INIT;
	char		all[128];
	const char	utf8[] = "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
	unsigned	c;
	unsigned	seed = 12345;
	char		rnd[300];
	size_t		i, n;

	/* Every ASCII byte, NUL included, in one string. */
	for (c = 0; c < 128; c++)
		all[c] = (char)c;
	buf_json_str(&b, all, sizeof(all));
	assert_json_round_trip(&b, all, sizeof(all));

	buf_reset(&b);
	buf_json_str(&b, utf8, sizeof(utf8) - 1);
	assert_json_round_trip(&b, utf8, sizeof(utf8) - 1);

	/* Pseudo-random ASCII strings, rich in the escaped bytes. */
	for (i = 0; i < 500; i++) {
		n = i % sizeof(rnd);
		for (c = 0; c < n; c++) {
			seed = seed * 1103515245 + 12345;
			rnd[c] = (char)((seed >> 16) % 8 == 0 ? '"' :
			    (seed >> 16) % 8 == 1 ? '\\' :
			    (seed >> 16) % 8 == 2 ? (seed >> 20) % 32 :
			    (seed >> 16) % 8 == 3 ? 0x7f :
			    0x20 + (seed >> 20) % 95);
		}
		buf_reset(&b);
		buf_json_str(&b, rnd, n);
		assert_json_round_trip(&b, rnd, n);
	}
	buf_free(&b);
}
END_TEST

START_TEST(buf_consume_removes_prefix)
{
	struct buf	 b = BUF_INIT;
	char		*ptr;
	size_t		 cap;

	buf_puts(&b, "0123456789");
	ptr = b.ptr;
	cap = b.cap;

	buf_consume(&b, 0);
	ck_assert_str_eq(b.ptr, "0123456789");
	ck_assert_uint_eq(b.len, 10);

	buf_consume(&b, 3);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_str_eq(b.ptr, "3456789");

	buf_consume(&b, 6);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_str_eq(b.ptr, "9");

	buf_consume(&b, 1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.ptr, "");
	ck_assert_ptr_eq(b.ptr, ptr);
	ck_assert_uint_eq(b.cap, cap);
	buf_free(&b);
}
END_TEST

START_TEST(buf_consume_more_than_len_empties)
{
	struct buf	b = BUF_INIT;

	buf_consume(&b, 5);
	ck_assert_uint_eq(b.len, 0);

	buf_append(&b, "ab\0cd", 5);
	buf_consume(&b, 2);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.ptr, "\0cd", 4), 0);
	buf_consume(&b, 1000);
	ck_assert_uint_eq(b.len, 0);
	assert_terminated(&b);
	buf_consume(&b, SIZE_MAX);
	ck_assert_uint_eq(b.len, 0);
	assert_terminated(&b);
	buf_puts(&b, "again");
	ck_assert_str_eq(b.ptr, "again");
	buf_free(&b);
}
END_TEST

START_TEST(buf_cstr_gives_empty_string_for_empty_buf)
{
	struct buf	 b = BUF_INIT;
	const char	*s;

	s = buf_cstr(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	ck_assert_ptr_eq(s, b.ptr);
	ck_assert_uint_eq(b.len, 0);
	buf_puts(&b, "xy");
	ck_assert_str_eq(buf_cstr(&b), "xy");
	buf_free(&b);
}
END_TEST

START_TEST(buf_detach_hands_over_bytes)
{
	struct buf	 b = BUF_INIT;
	char		*p;

	buf_printf(&b, "%s-%d", "detached", 7);
	p = buf_detach(&b);
	ck_assert_str_eq(p, "detached-7");
	ck_assert_ptr_null(b.ptr);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	free(p);

	/* The buf is reusable, and an empty one detaches as "". */
	p = buf_detach(&b);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, "");
	ck_assert_ptr_null(b.ptr);
	free(p);
	buf_puts(&b, "reused");
	ck_assert_str_eq(b.ptr, "reused");
	buf_free(&b);
}
END_TEST

START_TEST(buf_reset_keeps_capacity)
{
	struct buf	 b = BUF_INIT;
	char		 big[5000];
	char		*ptr;
	size_t		 cap;

	fill(big, sizeof(big), 1);
	buf_append(&b, big, sizeof(big));
	ptr = b.ptr;
	cap = b.cap;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_eq(b.ptr, ptr);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_int_eq(b.ptr[0], '\0');

	/* Refilling to the old size needs no new allocation. */
	buf_append(&b, big, sizeof(big));
	ck_assert_ptr_eq(b.ptr, ptr);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_int_eq(memcmp(b.ptr, big, sizeof(big)), 0);
	buf_free(&b);

	/* Resetting a never-used buf is harmless. */
	buf_reset(&b);
	ck_assert_ptr_null(b.ptr);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(buf_free_accepts_null_and_empties)
{
	struct buf	b = BUF_INIT;

	buf_free(NULL);
	buf_free(&b);
	ck_assert_ptr_null(b.ptr);

	buf_puts(&b, "something");
	buf_free(&b);
	ck_assert_ptr_null(b.ptr);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	buf_free(&b);

	buf_puts(&b, "reused");
	ck_assert_str_eq(b.ptr, "reused");
	buf_free(&b);
}
END_TEST

START_TEST(buf_decimal_writes_every_long_long)
{
	static const long long	 vs[] = { 0, 7, -7, 10, -10, 1234567890123LL,
	    LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
	struct buf		 b = BUF_INIT;
	char			 digits[BUF_DECIMAL_LEN], want[32];
	const char		*p;
	size_t			 i, len;

	for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		(void)snprintf(want, sizeof(want), "%lld", vs[i]);
		p = buf_decimal(vs[i], digits, &len);
		ck_assert_uint_eq(len, strlen(want));
		ck_assert_int_eq(memcmp(p, want, len), 0);
		buf_reset(&b);
		buf_puts(&b, "n=");
		buf_put_int(&b, vs[i]);
		ck_assert_str_eq(buf_cstr(&b) + 2, want);
	}
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("buf");
	tc = tcase_create("append");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, buf_append_grows_across_sizes);
	tcase_add_test(tc, buf_append_nothing_still_terminates);
	tcase_add_test(tc, buf_append_keeps_binary_nuls);
	tcase_add_test(tc, buf_puts_and_putc_append_in_order);
	tcase_add_test(tc, buf_putc_keeps_nul_byte);
	tcase_add_test(tc, buf_printf_grows_across_sizes);
	tcase_add_test(tc, buf_printf_empty_result_terminates);
	suite_add_tcase(s, tc);

	tc = tcase_create("capped");
	tcase_add_test(tc, buf_append_capped_accepts_up_to_max);
	tcase_add_test(tc, buf_append_capped_refusal_leaves_buf_unchanged);
	tcase_add_test(tc,
	    buf_append_capped_refusal_on_empty_buf_allocates_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_str");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, buf_json_str_escapes_every_control_char);
	tcase_add_test(tc, buf_json_str_escapes_inside_runs);
	tcase_add_test(tc, buf_json_str_word_scan_misses_no_byte);
	tcase_add_test(tc, buf_json_str_keeps_utf8_untouched);
	tcase_add_test(tc, buf_json_str_empty_and_appended);
	tcase_add_test(tc, buf_json_str_parses_back_to_same_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_test(tc, buf_consume_removes_prefix);
	tcase_add_test(tc, buf_consume_more_than_len_empties);
	tcase_add_test(tc, buf_cstr_gives_empty_string_for_empty_buf);
	tcase_add_test(tc, buf_detach_hands_over_bytes);
	tcase_add_test(tc, buf_reset_keeps_capacity);
	tcase_add_test(tc, buf_free_accepts_null_and_empties);
	tcase_add_test(tc, buf_decimal_writes_every_long_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(buf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
