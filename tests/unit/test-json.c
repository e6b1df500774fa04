/* test-json.c: unit tests for bounded JSON parsing and typed field access. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "json.h"

/*
 * Covers: json_parse on valid documents of every top-level type, trailing
 * garbage (NUL bytes included) refused and trailing white space accepted,
 * empty and truncated input, the depth limit exactly at JSON_MAX_DEPTH and
 * one past it (arrays and objects) and at a small custom limit, invalid
 * UTF-8 of every kind RFC 3629 forbids, NUL bytes inside and around the
 * text, a NULL cause pointer; the fast path against json-c's tokener alone
 * on plain and awkward inputs (numbers, escapes, surrogates, duplicate
 * keys, NUL in keys, depth limits): the same tree or the same error; json_get_* return codes 1/0/-1 with null as
 * absent and 64000.0 as an integer but 1.5 not; json_pick and json_as_*
 * against json_object_object_get_ex and json_get_*; json_str_run against
 * a plain scan (every length to 80, alignment and stop place); json_type_label;
 * json_to_buf
 * and json_to_str compact output without "\/", byte for byte json-c's
 * (every byte value, keys, integer and double limits, parsed doubles); json_str and json_strn.
 *
 * Not covered, because json-c's strict mode lets them through and
 * json_parse does not check for them: NaN, Infinity, single-quoted strings,
 * raw control characters inside strings and "1.".
 */

/* Parses s (length n) and returns the error; *out and *cause are set. */
static enum kf_err
parse_n(const char *s, size_t n, int depth, json_object **out, char **cause)
{
	*out = NULL;
	free(*cause);
	*cause = NULL;
	return json_parse(s, n, depth, out, cause);
}

static json_object *
parse_ok(const char *s)
{
	json_object	*v = NULL;
	char		*cause = NULL;

	ck_assert_msg(parse_n(s, strlen(s), JSON_MAX_DEPTH, &v, &cause) ==
	    KF_OK, "%s: %s", s, cause);
	ck_assert_ptr_null(cause);
	return v;
}

/* Asserts that n bytes of s are refused and the cause contains want. */
static void
assert_refused(const char *s, size_t n, int depth, const char *want)
{
	json_object	*v = (json_object *)1;
	char		*cause = NULL;
	enum kf_err	 er;

	er = parse_n(s, n, depth, &v, &cause);
	ck_assert_msg(er == KF_EINVAL, "%.*s: accepted (%d)", (int)n, s,
	    (int)er);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(cause);
	if (want != NULL)
		ck_assert_msg(strstr(cause, want) != NULL,
		    "%.*s: cause \"%s\" lacks \"%s\"", (int)n, s, cause, want);
	free(cause);
}

/*
 * depth containers, each the only member of the one around it, the
 * innermost empty: "[[[]]]" or "{"k":{"k":{}}}" for 3.  (json-c counts a
 * scalar as a level of its own, so "[[1]]" is three deep, not two.)
 */
static char *
nested(int is_object, int depth)
{
	struct buf	b = BUF_INIT;
	int		i;

	for (i = 1; i < depth; i++)
		buf_puts(&b, is_object ? "{\"k\":" : "[");
	buf_puts(&b, is_object ? "{}" : "[]");
	for (i = 1; i < depth; i++)
		buf_puts(&b, is_object ? "}" : "]");
	return buf_detach(&b);
}

START_TEST(json_parse_accepts_objects_and_arrays)
{
	json_object	*v, *a;
	const char	*s;
	int64_t		 i;

	v = parse_ok("{\"a\":[1,2,{\"b\":\"c\"}],\"d\":true,\"e\":null}");
	ck_assert(json_object_is_type(v, json_type_object));
	ck_assert_int_eq(json_get_arr(v, "a", &a), 1);
	ck_assert_uint_eq(json_object_array_length(a), 3);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(a, 2), "b",
	    &s), 1);
	ck_assert_str_eq(s, "c");
	json_object_put(v);

	v = parse_ok("  [ ]");
	ck_assert(json_object_is_type(v, json_type_array));
	json_object_put(v);

	v = parse_ok("\"just a string\"");
	ck_assert(json_object_is_type(v, json_type_string));
	ck_assert_str_eq(json_object_get_string(v), "just a string");
	json_object_put(v);

	v = parse_ok("{\"n\":-12}");
	ck_assert_int_eq(json_get_int(v, "n", &i), 1);
	ck_assert_int_eq(i, -12);
	json_object_put(v);
}
END_TEST

START_TEST(json_parse_accepts_scalars_at_end_of_input)
{
	json_object	*v;

	/* Nothing follows the number: json-c needs telling that it ended. */
	v = parse_ok("42");
	ck_assert(json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int64(v), 42);
	json_object_put(v);

	v = parse_ok("-1.5e3");
	ck_assert(json_object_is_type(v, json_type_double));
	ck_assert(json_object_get_double(v) == -1500.0);
	json_object_put(v);

	v = parse_ok("true");
	ck_assert(json_object_is_type(v, json_type_boolean));
	ck_assert(json_object_get_boolean(v));
	json_object_put(v);

	v = parse_ok("false");
	ck_assert(json_object_is_type(v, json_type_boolean));
	ck_assert(!json_object_get_boolean(v));
	json_object_put(v);

	v = parse_ok("7 \n");
	ck_assert_int_eq(json_object_get_int64(v), 7);
	json_object_put(v);
}
END_TEST

START_TEST(json_parse_refuses_top_level_null_clearly)
{
	/* json-c has no object for null, so there is nothing to hand back. */
	assert_refused("null", 4, JSON_MAX_DEPTH, "null");
	assert_refused(" null ", 6, JSON_MAX_DEPTH, "null");
}
END_TEST

START_TEST(json_parse_rejects_trailing_garbage)
{
	assert_refused("{} x", 4, JSON_MAX_DEPTH, "byte 3");
	assert_refused("{}{}", 4, JSON_MAX_DEPTH, "byte 2");
	assert_refused("[1]]", 4, JSON_MAX_DEPTH, NULL);
	assert_refused("\"a\"\"b\"", 6, JSON_MAX_DEPTH, NULL);
	assert_refused("1 2", 3, JSON_MAX_DEPTH, NULL);
	assert_refused("{\"a\":1},", 8, JSON_MAX_DEPTH, NULL);
	assert_refused("true false", 10, JSON_MAX_DEPTH, NULL);
	assert_refused("{}   \x0b", 6, JSON_MAX_DEPTH, "byte 5");
}
END_TEST

START_TEST(json_parse_rejects_trailing_nul_bytes)
{
	/* len covers the NULs: they are data, not a terminator. */
	assert_refused("{}\0", 3, JSON_MAX_DEPTH, NULL);
	assert_refused("{} \0", 4, JSON_MAX_DEPTH, NULL);
	assert_refused("[1]\0\0", 5, JSON_MAX_DEPTH, NULL);
	assert_refused("\"s\"\0", 4, JSON_MAX_DEPTH, NULL);
	assert_refused("1\0", 2, JSON_MAX_DEPTH, NULL);
	assert_refused("true\0", 5, JSON_MAX_DEPTH, NULL);
}
END_TEST

START_TEST(json_parse_accepts_trailing_white_space)
{
	json_object	*v;

	v = parse_ok("{\"a\":1} \t\r\n  \n");
	ck_assert(json_object_is_type(v, json_type_object));
	json_object_put(v);
	v = parse_ok("\n\t [true]\r\n");
	ck_assert(json_object_is_type(v, json_type_array));
	json_object_put(v);
}
END_TEST

START_TEST(json_parse_rejects_empty_input)
{
	assert_refused("", 0, JSON_MAX_DEPTH, "end of input");
	assert_refused("   \n", 4, JSON_MAX_DEPTH, "end of input");
	/* The length rules, not the NUL: one NUL byte is not JSON either. */
	assert_refused("\0", 1, JSON_MAX_DEPTH, NULL);
}
END_TEST

START_TEST(json_parse_truncated_input_says_so)
{
	const char	*cases[] = {
		"{", "{\"a\"", "{\"a\":", "{\"a\":[1,2", "[\"abc", "\"abc",
		"[1,", "tru", "-", "{\"a\":{\"b\":[{}",
	};
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_refused(cases[i], strlen(cases[i]), JSON_MAX_DEPTH,
		    "unexpected end of input");
}
END_TEST

START_TEST(json_parse_uses_len_not_strlen)
{
	json_object	*v;
	char		*cause = NULL;
	const char	 text[] = "[1,2]garbage";

	ck_assert_int_eq(parse_n(text, 5, JSON_MAX_DEPTH, &v, &cause), KF_OK);
	ck_assert_uint_eq(json_object_array_length(v), 2);
	json_object_put(v);
	/* Cut inside the value: truncated even though more bytes follow. */
	ck_assert_int_eq(parse_n(text, 3, JSON_MAX_DEPTH, &v, &cause),
	    KF_EINVAL);
	ck_assert_ptr_null(v);
	free(cause);
}
END_TEST

START_TEST(json_parse_depth_limit_at_max)
{
	json_object	*v;
	char		*text, *cause = NULL;

	text = nested(0, JSON_MAX_DEPTH);
	ck_assert_int_eq(parse_n(text, strlen(text), JSON_MAX_DEPTH, &v,
	    &cause), KF_OK);
	json_object_put(v);
	free(text);

	text = nested(0, JSON_MAX_DEPTH + 1);
	assert_refused(text, strlen(text), JSON_MAX_DEPTH, "nesting");
	free(text);

	text = nested(1, JSON_MAX_DEPTH);
	ck_assert_int_eq(parse_n(text, strlen(text), JSON_MAX_DEPTH, &v,
	    &cause), KF_OK);
	json_object_put(v);
	free(text);

	text = nested(1, JSON_MAX_DEPTH + 1);
	assert_refused(text, strlen(text), JSON_MAX_DEPTH, "nesting");
	free(text);

	/* Far deeper input fails the same way, without exhausting a stack. */
	text = nested(0, 100000);
	assert_refused(text, strlen(text), JSON_MAX_DEPTH, "nesting");
	free(text);
	free(cause);
}
END_TEST

START_TEST(json_parse_depth_limit_is_the_argument)
{
	json_object	*v;
	char		*cause = NULL;

	ck_assert_int_eq(parse_n("[[]]", 4, 2, &v, &cause), KF_OK);
	json_object_put(v);
	ck_assert_int_eq(parse_n("{\"a\":{}}", 8, 2, &v, &cause), KF_OK);
	json_object_put(v);
	assert_refused("[[[]]]", 6, 2, "nesting");
	assert_refused("{\"a\":{\"b\":{}}}", 14, 2, "2 levels");
	free(cause);
}
END_TEST

START_TEST(json_parse_rejects_invalid_utf8)
{
	const char	*bad[] = {
		"\"\xff\"",			/* never valid */
		"\"\x80\"",			/* lone continuation */
		"\"\xc3\"",			/* cut two-byte */
		"\"\xe4\xb8\"",			/* cut three-byte */
		"\"\xc3(\"",			/* bad continuation */
		"\"\xc0\xaf\"",			/* overlong "/" */
		"\"\xc1\xbf\"",			/* overlong DEL */
		"\"\xe0\x80\xaf\"",		/* overlong "/" in three */
		"\"\xf0\x80\x80\xaf\"",		/* overlong "/" in four */
		"\"\xed\xa0\x80\"",		/* UTF-16 surrogate D800 */
		"\"\xed\xbf\xbf\"",		/* UTF-16 surrogate DFFF */
		"\"\xf4\x90\x80\x80\"",		/* U+110000 */
		"\"\xf5\x80\x80\x80\"",		/* lead byte past F4 */
		"\"\xf8\x88\x80\x80\x80\"",	/* five-byte form */
		"{\"k\xfe\":1}",		/* in a key */
		"[\"ok\",\"\xe2\x82\"]",	/* in a later element */
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), JSON_MAX_DEPTH, NULL);
}
END_TEST

/*
 * Long strings: a bad sequence at every place of a run of ASCII up to 70
 * bytes (the scan steps over ASCII 16 bytes at a time) is refused at its
 * byte, and a good one anywhere is accepted.
 */
START_TEST(json_parse_finds_bad_utf8_at_every_place)
{
	static const char *const	seqs[] = { "\xff", "\x80", "\xe2\x82",
	    "\xed\xa0\x80", "\xc3(" };
	char				text[96], want[64];
	json_object			*v;
	size_t				len, at, k, n;

	for (len = 0; len <= 70; len++)
		for (at = 0; at <= len; at++)
			for (k = 0; k < sizeof(seqs) / sizeof(seqs[0]); k++) {
				memset(text, 'a', sizeof(text));
				text[0] = '"';
				n = strlen(seqs[k]);
				memcpy(text + 1 + at, seqs[k], n);
				text[1 + len + n] = '"';
				assert_refused(text, len + n + 2,
				    JSON_MAX_DEPTH, NULL);
				snprintf(want, sizeof(want), "at byte %zu: "
				    "invalid UTF-8", at + 1);
				assert_refused(text, len + n + 2,
				    JSON_MAX_DEPTH, want);
				/* A euro sign instead is fine. */
				memset(text, 'a', sizeof(text));
				text[0] = '"';
				memcpy(text + 1 + at, "\xe2\x82\xac", 3);
				text[1 + len + 3] = '"';
				ck_assert_int_eq(json_parse(text, len + 5,
				    JSON_MAX_DEPTH, &v, NULL), KF_OK);
				json_object_put(v);
			}
}
END_TEST

START_TEST(json_parse_accepts_valid_utf8)
{
	const char	*good[] = {
		"\"\xc2\x80\"",			/* U+0080 */
		"\"\xdf\xbf\"",			/* U+07FF */
		"\"\xe0\xa0\x80\"",		/* U+0800 */
		"\"\xed\x9f\xbf\"",		/* U+D7FF */
		"\"\xee\x80\x80\"",		/* U+E000 */
		"\"\xef\xbf\xbf\"",		/* U+FFFF */
		"\"\xf0\x90\x80\x80\"",		/* U+10000 */
		"\"\xf4\x8f\xbf\xbf\"",		/* U+10FFFF */
		"\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"",
	};
	json_object	*v;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = parse_ok(good[i]);
		ck_assert_int_eq(json_object_get_string_len(v),
		    (int)strlen(good[i]) - 2);
		ck_assert_int_eq(memcmp(json_object_get_string(v),
		    good[i] + 1, strlen(good[i]) - 2), 0);
		json_object_put(v);
	}
}
END_TEST

START_TEST(json_parse_handles_embedded_nul)
{
	json_object	*v;
	char		*cause = NULL;
	const char	 escaped[] = "\"a\\u0000b\"";

	/* A raw NUL inside a string or between tokens is not JSON. */
	assert_refused("\"a\0b\"", 5, JSON_MAX_DEPTH, NULL);
	assert_refused("[1,\0 2]", 7, JSON_MAX_DEPTH, NULL);
	assert_refused("{\0}", 3, JSON_MAX_DEPTH, NULL);
	assert_refused("\0{}", 3, JSON_MAX_DEPTH, NULL);

	/* An escaped one is a string of three bytes. */
	ck_assert_int_eq(parse_n(escaped, sizeof(escaped) - 1,
	    JSON_MAX_DEPTH, &v, &cause), KF_OK);
	ck_assert_int_eq(json_object_get_string_len(v), 3);
	ck_assert_int_eq(memcmp(json_object_get_string(v), "a\0b", 3), 0);
	json_object_put(v);
	free(cause);
}
END_TEST

START_TEST(json_parse_rejects_non_json_syntax)
{
	const char	*bad[] = {
		"{a:1}", "[1,]", "{\"a\":1,}", "[01]", "[.5]", "[+1]",
		"[0x10]", "/* c */ {}", "// c\n{}", "{\"a\" 1}",
		"{\"a\":1 \"b\":2}", "[\"\\x41\"]", "[\"\\u12\"]", "[TRUE]",
		"['x']",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), JSON_MAX_DEPTH,
		    "invalid JSON");
}
END_TEST

START_TEST(json_parse_accepts_null_cause)
{
	json_object	*v = (json_object *)1;

	ck_assert_int_eq(json_parse("{", 1, JSON_MAX_DEPTH, &v, NULL),
	    KF_EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(json_parse("{}x", 3, JSON_MAX_DEPTH, &v, NULL),
	    KF_EINVAL);
	ck_assert_int_eq(json_parse("[[1]]", 5, 1, &v, NULL), KF_EINVAL);
	ck_assert_int_eq(json_parse("{}", 2, JSON_MAX_DEPTH, &v, NULL), KF_OK);
	json_object_put(v);
}
END_TEST

START_TEST(json_get_str_return_codes)
{
	json_object	*v, *arr;
	const char	*s = NULL;

	v = parse_ok("{\"s\":\"text\",\"e\":\"\",\"n\":null,\"i\":1,"
	    "\"o\":{},\"a\":[]}");
	ck_assert_int_eq(json_get_str(v, "s", &s), 1);
	ck_assert_str_eq(s, "text");
	ck_assert_int_eq(json_get_str(v, "e", &s), 1);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(json_get_str(v, "n", &s), 0);
	ck_assert_int_eq(json_get_str(v, "missing", &s), 0);
	ck_assert_int_eq(json_get_str(v, "i", &s), -1);
	ck_assert_int_eq(json_get_str(v, "o", &s), -1);
	ck_assert_int_eq(json_get_str(v, "a", &s), -1);
	/* Not an object at all: nothing is present. */
	ck_assert_int_eq(json_get_str(NULL, "s", &s), 0);
	arr = parse_ok("[\"s\"]");
	ck_assert_int_eq(json_get_str(arr, "s", &s), 0);
	json_object_put(arr);
	json_object_put(v);
}
END_TEST

START_TEST(json_get_int_accepts_integral_doubles_only)
{
	json_object	*v;
	int64_t		 i = 0;

	v = parse_ok("{\"i\":42,\"neg\":-7,\"d\":64000.0,\"e\":1e3,"
	    "\"half\":1.5,\"negd\":-2.0,\"small\":0.0001,\"big\":1e19,"
	    "\"max\":9223372036854775807,\"s\":\"5\",\"b\":true,"
	    "\"n\":null,\"o\":{}}");
	ck_assert_int_eq(json_get_int(v, "i", &i), 1);
	ck_assert_int_eq(i, 42);
	ck_assert_int_eq(json_get_int(v, "neg", &i), 1);
	ck_assert_int_eq(i, -7);
	ck_assert_int_eq(json_get_int(v, "d", &i), 1);
	ck_assert_int_eq(i, 64000);
	ck_assert_int_eq(json_get_int(v, "e", &i), 1);
	ck_assert_int_eq(i, 1000);
	ck_assert_int_eq(json_get_int(v, "negd", &i), 1);
	ck_assert_int_eq(i, -2);
	ck_assert_int_eq(json_get_int(v, "max", &i), 1);
	ck_assert(i == INT64_MAX);
	i = 99;
	ck_assert_int_eq(json_get_int(v, "half", &i), -1);
	ck_assert_int_eq(json_get_int(v, "small", &i), -1);
	ck_assert_int_eq(json_get_int(v, "big", &i), -1);
	ck_assert_int_eq(json_get_int(v, "s", &i), -1);
	ck_assert_int_eq(json_get_int(v, "b", &i), -1);
	ck_assert_int_eq(json_get_int(v, "o", &i), -1);
	ck_assert_int_eq(i, 99);
	ck_assert_int_eq(json_get_int(v, "n", &i), 0);
	ck_assert_int_eq(json_get_int(v, "missing", &i), 0);
	ck_assert_int_eq(i, 99);
	json_object_put(v);
}
END_TEST

START_TEST(json_get_num_accepts_ints_and_doubles)
{
	json_object	*v;
	double		 d = 0;

	v = parse_ok("{\"d\":1.5,\"i\":3,\"s\":\"x\",\"n\":null,\"b\":false}");
	ck_assert_int_eq(json_get_num(v, "d", &d), 1);
	ck_assert(d == 1.5);
	ck_assert_int_eq(json_get_num(v, "i", &d), 1);
	ck_assert(d == 3.0);
	ck_assert_int_eq(json_get_num(v, "s", &d), -1);
	ck_assert_int_eq(json_get_num(v, "b", &d), -1);
	ck_assert_int_eq(json_get_num(v, "n", &d), 0);
	ck_assert_int_eq(json_get_num(v, "missing", &d), 0);
	json_object_put(v);
}
END_TEST

START_TEST(json_get_bool_only_takes_booleans)
{
	json_object	*v;
	int		 b = -5;

	v = parse_ok("{\"t\":true,\"f\":false,\"z\":0,\"s\":\"true\","
	    "\"n\":null}");
	ck_assert_int_eq(json_get_bool(v, "t", &b), 1);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(json_get_bool(v, "f", &b), 1);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(json_get_bool(v, "z", &b), -1);
	ck_assert_int_eq(json_get_bool(v, "s", &b), -1);
	ck_assert_int_eq(json_get_bool(v, "n", &b), 0);
	ck_assert_int_eq(json_get_bool(v, "missing", &b), 0);
	json_object_put(v);
}
END_TEST

START_TEST(json_get_obj_and_arr_borrow_the_member)
{
	json_object	*v, *o = NULL, *a = NULL, *direct;

	v = parse_ok("{\"o\":{\"x\":1},\"a\":[1],\"n\":null,\"s\":\"\"}");
	ck_assert_int_eq(json_get_obj(v, "o", &o), 1);
	ck_assert(json_object_object_get_ex(v, "o", &direct));
	ck_assert_ptr_eq(o, direct);
	ck_assert_int_eq(json_get_arr(v, "a", &a), 1);
	ck_assert(json_object_object_get_ex(v, "a", &direct));
	ck_assert_ptr_eq(a, direct);

	ck_assert_int_eq(json_get_obj(v, "a", &o), -1);
	ck_assert_int_eq(json_get_arr(v, "o", &a), -1);
	ck_assert_int_eq(json_get_obj(v, "s", &o), -1);
	ck_assert_int_eq(json_get_arr(v, "s", &a), -1);
	ck_assert_int_eq(json_get_obj(v, "n", &o), 0);
	ck_assert_int_eq(json_get_arr(v, "n", &a), 0);
	ck_assert_int_eq(json_get_obj(v, "missing", &o), 0);
	ck_assert_int_eq(json_get_arr(v, "missing", &a), 0);
	json_object_put(v);
}
END_TEST

/*
 * json_pick finds what json_object_object_get_ex finds, over both parsers'
 * trees (duplicate keys, null members, names sharing a first byte, a key
 * absent, a non-object); json_as_* on the picked value gives what
 * json_get_* gives for the key.
 */
START_TEST(json_pick_and_as_match_get)
{
	static const char *const	texts[] = {
		"{\"a\":1,\"ab\":\"s\",\"b\":null,\"c\":[1],\"d\":{}}",
		"{\"a\":1,\"a\":true,\"ab\":2.0,\"ab\":2.5,\"e\":false}",
		"{\"b\":\"x\",\"b\":null,\"a\":64000.0,\"\":1}",
		"{\"x\":1e400,\"a\":\"1\",\"a\":{\"a\":1},\"c\":null}",
		"{\"ab\":[],\"n\":12345678901234567890123,\"ab\":7}",
		"{}",
		"[{\"a\":1}]",
		"\"a\"",
	};
	static const char *const	names[] = { "a", "ab", "b", "c", "d",
	    "e", "", "z" };
	const size_t			n = sizeof(names) / sizeof(names[0]);
	json_object			*root, *vals[8], *v, *o1, *o2;
	const char			*s1, *s2;
	int64_t				 i1, i2;
	int				 b1, b2, parser;
	size_t				 t, k;

	for (parser = 0; parser < 2; parser++)
		for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
			ck_assert_int_eq((parser ? json_parse_jsonc :
			    json_parse)(texts[t], strlen(texts[t]),
			    JSON_MAX_DEPTH, &root, NULL), KF_OK);
			json_pick(root, names, n, vals);
			for (k = 0; k < n; k++) {
				if (!json_object_is_type(root,
				    json_type_object) ||
				    !json_object_object_get_ex(root,
				    names[k], &v))
					v = NULL;
				ck_assert_msg(vals[k] == v, "%s: %s", texts[t],
				    names[k]);
				s1 = s2 = NULL;
				i1 = i2 = 0;
				b1 = b2 = 0;
				o1 = o2 = NULL;
				ck_assert_int_eq(json_as_str(v, &s1),
				    json_get_str(root, names[k], &s2));
				ck_assert_ptr_eq(s1, s2);
				ck_assert_int_eq(json_as_int(v, &i1),
				    json_get_int(root, names[k], &i2));
				ck_assert(i1 == i2);
				ck_assert_int_eq(json_as_bool(v, &b1),
				    json_get_bool(root, names[k], &b2));
				ck_assert_int_eq(b1, b2);
				ck_assert_int_eq(json_as_obj(v, &o1),
				    json_get_obj(root, names[k], &o2));
				ck_assert_ptr_eq(o1, o2);
				ck_assert_int_eq(json_as_arr(v, &o1),
				    json_get_arr(root, names[k], &o2));
				ck_assert_ptr_eq(o1, o2);
			}
			json_object_put(root);
		}
	/* Hand-checked, so that a wrong get cannot agree with a wrong as. */
	ck_assert_int_eq(json_parse(texts[1], strlen(texts[1]),
	    JSON_MAX_DEPTH, &root, NULL), KF_OK);
	json_pick(root, names, n, vals);
	ck_assert_int_eq(json_as_bool(vals[0], &b1), 1);
	ck_assert_int_eq(b1, 1);
	ck_assert_int_eq(json_as_int(vals[1], &i1), -1);
	ck_assert_int_eq(json_as_bool(vals[5], &b1), 1);
	ck_assert_int_eq(b1, 0);
	ck_assert_ptr_null(vals[2]);
	ck_assert_int_eq(json_as_str(vals[2], &s1), 0);
	json_object_put(root);
	json_pick(NULL, names, n, vals);
	for (k = 0; k < n; k++)
		ck_assert_ptr_null(vals[k]);
}
END_TEST

/* The first quote, backslash or control byte in [p, end), one at a time. */
static const char *
naive_str_run(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return p;
	return end;
}

/*
 * json_str_run against the plain scan: every run length to 80 bytes, at
 * every alignment, with no stop or one stop (each kind) at every place,
 * among bytes next to the stops' values (space, DEL, 0x80, 0xff).
 */
START_TEST(json_str_run_matches_a_plain_scan)
{
	static const unsigned char	stops[] = { '"', '\\', 0x00, 0x01,
	    0x1f };
	static const unsigned char	plain[] = { 'a', ' ', 0x7f, 0x80, 0xff,
	    '!', '#', '[', ']' };
	char				buf[128];
	const char			*s, *end;
	size_t				i, off, len, at, k;

	for (off = 0; off < 16; off++)
		for (len = 0; len <= 80; len++)
			for (at = 0; at <= len; at++)
				for (k = 0; k < sizeof(stops); k++) {
					for (i = 0; i < sizeof(buf); i++)
						buf[i] = (char)plain[i %
						    sizeof(plain)];
					if (at < len)
						buf[off + at] = (char)stops[k];
					s = buf + off;
					end = s + len;
					ck_assert_msg(json_str_run(s, end) ==
					    naive_str_run(s, end), "offset, "
					    "length, stop at, stop: %zu %zu "
					    "%zu %#x", off, len, at, stops[k]);
					if (at == len)
						break;	/* no stop: once */
				}
}
END_TEST

START_TEST(json_type_label_names_each_type)
{
	json_object	*v;

	ck_assert_str_eq(json_type_label(NULL), "null");
	v = json_object_new_boolean(1);
	ck_assert_str_eq(json_type_label(v), "boolean");
	json_object_put(v);
	v = json_object_new_int(1);
	ck_assert_str_eq(json_type_label(v), "number");
	json_object_put(v);
	v = json_object_new_double(1.5);
	ck_assert_str_eq(json_type_label(v), "number");
	json_object_put(v);
	v = json_object_new_object();
	ck_assert_str_eq(json_type_label(v), "object");
	json_object_put(v);
	v = json_object_new_array();
	ck_assert_str_eq(json_type_label(v), "array");
	json_object_put(v);
	v = json_str("s");
	ck_assert_str_eq(json_type_label(v), "string");
	json_object_put(v);
}
END_TEST

START_TEST(json_to_buf_is_compact_and_keeps_slashes)
{
	json_object	*v;
	struct buf	 b = BUF_INIT;
	char		*s;

	v = parse_ok("{ \"url\" : \"https://example.com/a/b\", \"a\" : [ 1, "
	    "2 ], \"q\" : \"\\\"\\n\\u0001\" }");
	buf_puts(&b, "prefix:");
	json_to_buf(v, &b);
	ck_assert_str_eq(b.ptr, "prefix:{\"url\":\"https://example.com/a/b\","
	    "\"a\":[1,2],\"q\":\"\\\"\\n\\u0001\"}");
	ck_assert(strstr(b.ptr, "\\/") == NULL);

	s = json_to_str(v);
	ck_assert_str_eq(s, b.ptr + strlen("prefix:"));
	free(s);
	buf_free(&b);
	json_object_put(v);
}
END_TEST

START_TEST(json_to_buf_output_parses_back)
{
	json_object	*v, *w;
	struct buf	 b = BUF_INIT;
	const char	 text[] = "{\"k\":\"a/b \xc3\xa9 \\u0000 end\","
			    "\"n\":[1.5,-3,true,null,{}]}";

	v = parse_ok(text);
	json_to_buf(v, &b);
	w = parse_ok(b.ptr);
	ck_assert(json_object_equal(v, w));
	json_object_put(v);
	json_object_put(w);
	buf_free(&b);
}
END_TEST

/*
 * json_put_str against json-c on strings dense with bytes to escape:
 * every length to 100, stops at every place of the 16-byte blocks the
 * writer steps over (a fixed pseudo-random sequence).
 */
START_TEST(json_put_str_matches_jsonc_on_mixed_strings)
{
	static const unsigned char	alphabet[] = { 'a', 'b', ' ', '"',
	    '\\', '/', '\n', '\t', 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 'z' };
	json_object			*v;
	struct buf			 got = BUF_INIT;
	const char			*want;
	char				 text[100];
	uint32_t			 seed = 12345;
	size_t				 len, round, i, want_len;

	for (len = 0; len <= sizeof(text); len++)
		for (round = 0; round < 20; round++) {
			for (i = 0; i < len; i++) {
				seed = seed * 1103515245 + 12345;
				/* Mostly plain, so runs of all lengths occur. */
				text[i] = (char)((seed >> 16) % 3 != 0 ? 'a' +
				    (int)(seed >> 20) % 26 : alphabet[(seed >> 20)
				    % sizeof(alphabet)]);
			}
			v = json_strn(text, len);
			buf_reset(&got);
			json_put_str(&got, text, len);
			want = json_object_to_json_string_length(v,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE, &want_len);
			ck_assert_uint_eq(got.len, want_len);
			ck_assert_msg(memcmp(got.ptr, want, want_len) == 0,
			    "%s\nvs json-c\n%s", got.ptr, want);
			json_object_put(v);
		}
	buf_free(&got);
}
END_TEST

START_TEST(json_str_and_strn_copy_their_bytes)
{
	json_object	*v;
	char		 s[] = "abc";

	v = json_str(s);
	s[0] = 'X';
	ck_assert_str_eq(json_object_get_string(v), "abc");
	json_object_put(v);

	v = json_strn("a\0b/c", 5);
	ck_assert_int_eq(json_object_get_string_len(v), 5);
	ck_assert_int_eq(memcmp(json_object_get_string(v), "a\0b/c", 5), 0);
	json_object_put(v);

	v = json_strn("", 0);
	ck_assert_str_eq(json_object_get_string(v), "");
	json_object_put(v);
}
END_TEST

/* A type-tagged dump of v: json-c's text hides int 1 against double 1. */
static void
dump_tree(json_object *v, struct buf *out)
{
	size_t	i, n;

	buf_putc(out, "nbdioas"[json_object_get_type(v)]);
	switch (json_object_get_type(v)) {
	case json_type_object:
		buf_putc(out, '{');
		json_object_object_foreach(v, key, val) {
			buf_json_str(out, key, strlen(key));
			buf_putc(out, ':');
			dump_tree(val, out);
			buf_putc(out, ',');
		}
		buf_putc(out, '}');
		break;
	case json_type_array:
		buf_putc(out, '[');
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			dump_tree(json_object_array_get_idx(v, i), out);
			buf_putc(out, ',');
		}
		buf_putc(out, ']');
		break;
	default:
		json_to_buf(v, out);
		break;
	}
}

/* json_parse (fast path) and json-c alone agree on s: tree or error. */
static void
assert_same_as_jsonc(const char *s, size_t n, int depth)
{
	json_object	*a = NULL, *b = NULL;
	char		*ca = NULL, *cb = NULL;
	struct buf	 da = BUF_INIT, db = BUF_INIT;
	enum kf_err	 ea, eb;

	ea = json_parse(s, n, depth, &a, &ca);
	eb = json_parse_jsonc(s, n, depth, &b, &cb);
	ck_assert_msg(ea == eb, "%.*s: %d vs json-c %d", (int)n, s, ea, eb);
	if (ea == KF_OK) {
		dump_tree(a, &da);
		dump_tree(b, &db);
		ck_assert_msg(da.len == db.len && memcmp(da.ptr, db.ptr,
		    da.len) == 0, "%.*s: %s vs json-c %s", (int)n, s, da.ptr,
		    db.ptr);
	} else
		ck_assert_str_eq(ca, cb);
	json_object_put(a);
	json_object_put(b);
	free(ca);
	free(cb);
	buf_free(&da);
	buf_free(&db);
}

START_TEST(json_parse_fast_path_matches_jsonc)
{
	static const char *const cases[] = {
		"{}", "[]", " { } ", "[1,2,3]", "{\"a\":1,\"a\":2}",
		"{\"a\":{\"b\":[true,false,null,{}]},\"c\":\"d\"}",
		"[0,-1,123456789012345678,1234567890123456789,-0,-0.0]",
		"[1.5,1e3,1E+3,1e-3,-2.50,0.1e1,6.02214076e23,1.,.5,01,1e]",
		"[9223372036854775807,-9223372036854775808,"
		    "18446744073709551616]",
		"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
		"[\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\u0000x\"]",
		"[\"\\ud83d\"]", "[\"\\ude00\"]", "[\"\\ud83dx\"]",
		"[\"\\ud83d\\u0041\"]", "[\"\\u12\"]", "[\"\\x\"]",
		"{\"k\\u0000ey\":1}", "{\"\":\"\"}", "{\"\\u00e9\":2}",
		"[\"a\tb\"]", "[\"a\nb\"]", "[\"\x7f\"]",
		"[\"ünïcödé 日本語\"]", "{\"a\":1,}", "[1,]", "[,1]",
		"{\"a\" 1}", "{a:1}", "{'a':1}", "[tru]", "[nul]", "[NaN]",
		"[Infinity]", "[1]x", "[1] ", "[1]\v", "\f[1]", "[1 2]",
		"{\"a\":1 \"b\":2}", "[\"abc", "[\"abc\\", "{\"a\":", "{",
		"[-]", "[--1]", "[+1]", "[1e+]", "[0x10]", "[1.5e309]",
		"{\"a\":[{\"b\":[{\"c\":[]}]}]}", "\"str\"", "42", "true",
		"null", "[null]", "{\"n\":null}",
	};
	char		 deep[600];
	size_t		 i, d;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_same_as_jsonc(cases[i], strlen(cases[i]),
		    JSON_MAX_DEPTH);
	/* A NUL byte inside a string, and around the depth limits. */
	assert_same_as_jsonc("[\"a\0b\"]", 7, JSON_MAX_DEPTH);
	/* Each stop byte at every offset of the word-at-a-time scan. */
	for (i = 0; i < 3 * 24; i++) {
		static const char *const stops[] = { "\\\"", "\\n", "\t" };

		d = (size_t)snprintf(deep, sizeof(deep), "[\"%.*s%s%s\"]",
		    (int)(i / 3), "abcdefghijklmnopqrstuvwxyz", stops[i % 3],
		    "\\u00e9 \xc3\xa9 ABCDEFGHIJKLMNOP");
		assert_same_as_jsonc(deep, d, JSON_MAX_DEPTH);
	}
	for (d = 1; d < 12; d++) {
		for (i = 0; i < d; i++)
			deep[i] = '[';
		for (i = 0; i < d; i++)
			deep[d + i] = ']';
		for (i = 1; i < 10; i++)
			assert_same_as_jsonc(deep, 2 * d, (int)i);
	}
}
END_TEST

/* json_to_buf writes what json-c's own serialiser writes, byte for byte. */
START_TEST(json_to_buf_matches_jsonc_output)
{
	json_object	*root, *arr, *obj, *parsed = NULL;
	char		 all[256], key[3] = { 'k', 0, 0 };
	const char	*want;
	struct buf	 got = BUF_INIT;
	size_t		 i, len;
	static const char	 text[] = "{\"d\":1.50,\"e\":-2E+3,\"u\":"
	    "18446744073709551615,\"i\":-9223372036854775808,\"s\":\"a/b\"}";

	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	root = json_object_new_object();
	json_object_object_add(root, "all", json_strn(all, sizeof(all)));
	arr = json_object_new_array();
	json_object_array_add(arr, NULL);
	json_object_array_add(arr, json_object_new_boolean(1));
	json_object_array_add(arr, json_object_new_boolean(0));
	json_object_array_add(arr, json_object_new_int64(INT64_MAX));
	json_object_array_add(arr, json_object_new_int64(INT64_MIN));
	json_object_array_add(arr, json_object_new_int64(0));
	json_object_array_add(arr, json_object_new_uint64(UINT64_MAX));
	json_object_array_add(arr, json_object_new_double(0.1));
	json_object_array_add(arr, json_object_new_double(1e300));
	json_object_array_add(arr, json_object_new_double(-0.0));
	json_object_array_add(arr, json_object_new_double(3.0));
	json_object_array_add(arr, json_object_new_array());
	json_object_array_add(arr, json_object_new_object());
	json_object_object_add(root, "arr", arr);
	obj = json_object_new_object();
	for (i = 1; i < 256; i += 7) {
		key[1] = (char)i;
		json_object_object_add(obj, key, json_object_new_int((int)i));
	}
	json_object_object_add(obj, "\"q\\/", NULL);
	json_object_object_add(root, "keys", obj);
	ck_assert_int_eq(json_parse(text, strlen(text), 8, &parsed, NULL),
	    KF_OK);
	json_object_object_add(root, "parsed", parsed);

	json_to_buf(root, &got);
	want = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	ck_assert_uint_eq(got.len, len);
	ck_assert_msg(memcmp(got.ptr, want, len) == 0, "%s\nvs json-c\n%s",
	    got.ptr, want);
	json_object_put(root);
	buf_free(&got);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("json");
	tc = tcase_create("parse");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, json_parse_accepts_objects_and_arrays);
	tcase_add_test(tc, json_parse_accepts_scalars_at_end_of_input);
	tcase_add_test(tc, json_parse_refuses_top_level_null_clearly);
	tcase_add_test(tc, json_parse_rejects_trailing_garbage);
	tcase_add_test(tc, json_parse_rejects_trailing_nul_bytes);
	tcase_add_test(tc, json_parse_accepts_trailing_white_space);
	tcase_add_test(tc, json_parse_rejects_empty_input);
	tcase_add_test(tc, json_parse_truncated_input_says_so);
	tcase_add_test(tc, json_parse_uses_len_not_strlen);
	tcase_add_test(tc, json_parse_depth_limit_at_max);
	tcase_add_test(tc, json_parse_depth_limit_is_the_argument);
	tcase_add_test(tc, json_parse_rejects_invalid_utf8);
	tcase_add_test(tc, json_parse_finds_bad_utf8_at_every_place);
	tcase_add_test(tc, json_parse_accepts_valid_utf8);
	tcase_add_test(tc, json_parse_handles_embedded_nul);
	tcase_add_test(tc, json_parse_rejects_non_json_syntax);
	tcase_add_test(tc, json_parse_accepts_null_cause);
	tcase_add_test(tc, json_parse_fast_path_matches_jsonc);
	suite_add_tcase(s, tc);

	tc = tcase_create("get");
	tcase_add_test(tc, json_get_str_return_codes);
	tcase_add_test(tc, json_get_int_accepts_integral_doubles_only);
	tcase_add_test(tc, json_get_num_accepts_ints_and_doubles);
	tcase_add_test(tc, json_get_bool_only_takes_booleans);
	tcase_add_test(tc, json_get_obj_and_arr_borrow_the_member);
	tcase_add_test(tc, json_type_label_names_each_type);
	tcase_add_test(tc, json_pick_and_as_match_get);
	tcase_add_test(tc, json_str_run_matches_a_plain_scan);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, json_to_buf_is_compact_and_keeps_slashes);
	tcase_add_test(tc, json_to_buf_output_parses_back);
	tcase_add_test(tc, json_to_buf_matches_jsonc_output);
	tcase_add_test(tc, json_str_and_strn_copy_their_bytes);
	tcase_add_test(tc, json_put_str_matches_jsonc_on_mixed_strings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(json_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
