/* test-tokens.c: unit tests for the kiro.rs token estimates. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "conv.h"
#include "tokens.h"
#include "xmalloc.h"

/*
 * Covers (kiro-protocol.md section 6.5): tokens_count_text's units (1 per
 * Western code point, 4 per other code point, never per byte) and each
 * scaling band on both sides of its edge; tokens_count_conv summing
 * system, text, thinking and tool-result text and each tool's name,
 * description and compact schema JSON, scaling once, ignoring images, and
 * giving at least 1; tokens_count_output's CJK and other rates with the
 * minimum of 1; tokens_count_tool_input; tokens_from_context_usage.
 *
 * Every expected value is worked out by hand in a comment:
 * units / 4 = t, then t x 1.5 (t < 100), x 1.3 (< 200), x 1.25 (< 300),
 * x 1.2 (< 800), truncated.
 */

/* n copies of the UTF-8 sequence s, as a heap string. */
static char *
repeat(const char *s, size_t n)
{
	size_t	 len = strlen(s), i;
	char	*out;

	out = xmalloc(len * n + 1);
	for (i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return out;
}

static long
count_repeat(const char *s, size_t n)
{
	char	*text;
	long	 tokens;

	text = repeat(s, n);
	tokens = tokens_count_text(text, strlen(text));
	free(text);
	return tokens;
}

START_TEST(tokens_count_text_short_ascii)
{
	ck_assert_int_eq(tokens_count_text("", 0), 0);
	/* "hello": 5 units, 1.25, x1.5 = 1.875 -> 1. */
	ck_assert_int_eq(tokens_count_text("hello", 5), 1);
	/* 40 chars: 10, x1.5 = 15. */
	ck_assert_int_eq(count_repeat("a", 40), 15);
	/* Only len bytes count: "hello" of "hello world". */
	ck_assert_int_eq(tokens_count_text("hello world", 5), 1);
	/* NUL bytes are code points too: 40 units -> 15. */
	ck_assert_int_eq(tokens_count_text("a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0"
	    "a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0", 40), 15);
}
END_TEST

START_TEST(tokens_count_text_scaling_bands)
{
	/* 396: 99, x1.5 = 148.5 -> 148. */
	ck_assert_int_eq(count_repeat("a", 396), 148);
	/* 400: 100, x1.3 = 130. */
	ck_assert_int_eq(count_repeat("a", 400), 130);
	/* 796: 199, x1.3 = 258.7 -> 258. */
	ck_assert_int_eq(count_repeat("a", 796), 258);
	/* 800: 200, x1.25 = 250. */
	ck_assert_int_eq(count_repeat("a", 800), 250);
	/* 1196: 299, x1.25 = 373.75 -> 373. */
	ck_assert_int_eq(count_repeat("a", 1196), 373);
	/* 1200: 300, x1.2 = 360. */
	ck_assert_int_eq(count_repeat("a", 1200), 360);
	/* 3196: 799, x1.2 = 958.8 -> 958. */
	ck_assert_int_eq(count_repeat("a", 3196), 958);
	/* 3200: 800, x1 = 800. */
	ck_assert_int_eq(count_repeat("a", 3200), 800);
	/* 4002: 1000.5 -> 1000. */
	ck_assert_int_eq(count_repeat("a", 4002), 1000);
}
END_TEST

START_TEST(tokens_count_text_weighs_non_western_4)
{
	/* "中文": 2 x 4 = 8 units, 2, x1.5 = 3. */
	ck_assert_int_eq(tokens_count_text("\xe4\xb8\xad\xe6\x96\x87", 6), 3);
	/* 100 CJK: 400 units, 100, x1.3 = 130. */
	ck_assert_int_eq(count_repeat("\xe4\xb8\xad", 100), 130);
	/* 100 Cyrillic "д" (U+0434): 400 units -> 130. */
	ck_assert_int_eq(count_repeat("\xd0\xb4", 100), 130);
	/* 25 emoji (U+1F600): 100 units, 25, x1.5 = 37.5 -> 37. */
	ck_assert_int_eq(count_repeat("\xf0\x9f\x98\x80", 25), 37);
	/* "a中" : 1 + 4 = 5 units -> 1. */
	ck_assert_int_eq(tokens_count_text("a\xe4\xb8\xad", 4), 1);
}
END_TEST

START_TEST(tokens_count_text_counts_code_points_not_bytes)
{
	/* 400 "é" (U+00E9, 2 bytes, Western): 400 units -> 130. */
	ck_assert_int_eq(count_repeat("\xc3\xa9", 400), 130);
	/* 400 "ạ" (U+1EA1, 3 bytes, Latin Extended Additional) -> 130. */
	ck_assert_int_eq(count_repeat("\xe1\xba\xa1", 400), 130);
	/* 400 U+024F (last of Latin Extended-B) -> 130. */
	ck_assert_int_eq(count_repeat("\xc9\x8f", 400), 130);
	/* 100 U+0250 (IPA, not Western): 400 units -> 130. */
	ck_assert_int_eq(count_repeat("\xc9\x90", 100), 130);
	/* 400 U+A7FF and 400 U+AB30: Western ranges -> 130 each. */
	ck_assert_int_eq(count_repeat("\xea\x9f\xbf", 400), 130);
	ck_assert_int_eq(count_repeat("\xea\xac\xb0", 400), 130);
}
END_TEST

START_TEST(tokens_count_conv_scales_once)
{
	struct conv	c;
	size_t		i;

	conv_init(&c);
	/* Nothing at all: 0 units, but at least 1. */
	ck_assert_int_eq(tokens_count_conv(&c), 1);

	/* system "hello" + text "hello": 10 units, 2.5, x1.5 = 3.75 -> 3
	 * (scaling each piece would give 1 + 1 = 2). */
	conv_append_system(&c, "hello");
	conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_USER),
	    CONV_BLOCK_TEXT)->text = xstrdup("hello");
	ck_assert_int_eq(tokens_count_conv(&c), 3);
	conv_free(&c);

	/* Four messages of 100 chars: 400 units, 100, x1.3 = 130 (each
	 * piece alone: 25 x 1.5 = 37, x 4 = 148). */
	conv_init(&c);
	for (i = 0; i < 4; i++)
		conv_msg_add_block(conv_add_msg(&c, i % 2 == 0 ?
		    CONV_ROLE_USER : CONV_ROLE_ASSISTANT),
		    CONV_BLOCK_TEXT)->text = repeat("a", 100);
	ck_assert_int_eq(tokens_count_conv(&c), 130);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_sums_every_part)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*b;
	struct conv_tool	*t;

	conv_init(&c);
	conv_append_system(&c, "sys");				/*  3 */
	m = conv_add_msg(&c, CONV_ROLE_USER);
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup("abcd");	/*  4 */
	b = conv_msg_add_block(m, CONV_BLOCK_IMAGE);		/*  0 */
	b->media_type = xstrdup("image/png");
	b->data = repeat("QUJD", 1000);
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	conv_msg_add_block(m, CONV_BLOCK_THINKING)->text = xstrdup("think");
								/*  5 */
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup("ok");	/*  2 */
	m = conv_add_msg(&c, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
	b->id = xstrdup("toolu_000000000000000000000000");	/* not text */
	conv_block_add_content(b, CONV_BLOCK_TEXT)->text = xstrdup("result");
								/*  6 */
	conv_block_add_content(b, CONV_BLOCK_IMAGE)->data =
	    repeat("QUJD", 1000);				/*  0 */
	t = conv_add_tool(&c);
	t->name = xstrdup("Read");				/*  4 */
	t->description = xstrdup("Reads a file");		/* 12 */
	t->schema = json_object_new_object();			/* 17 */
	json_object_object_add(t->schema, "type", json_object_new_string(
	    "object"));
	/* {"type":"object"} is 17; sum 53 units, 13.25, x1.5 = 19.875. */
	ck_assert_int_eq(tokens_count_conv(&c), 19);

	/* CJK weighs 4: "sys\n中文" adds "\n" and 2 x 4 units to the 53,
	 * 62 units, 15.5, x1.5 = 23.25 -> 23. */
	conv_append_system(&c, "\xe4\xb8\xad\xe6\x96\x87");
	ck_assert_int_eq(tokens_count_conv(&c), 23);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_schema_json_is_compact_unescaped)
{
	struct conv		 c;
	struct conv_tool	*t;
	json_object		*props;

	conv_init(&c);
	t = conv_add_tool(&c);
	t->schema = json_object_new_object();
	json_object_object_add(t->schema, "p", json_object_new_string(
	    "////////"));
	/* {"p":"////////"}: 16 units, 4, x1.5 = 6 (as "\/" it would be
	 * 24 units, 6, x1.5 = 9). */
	ck_assert_int_eq(tokens_count_conv(&c), 6);

	/* No spaces: {"p":"////////","q":{"r":[1,2]}} is 32 units. */
	props = json_object_new_object();
	json_object_object_add(props, "r", json_object_new_array());
	json_object_array_add(json_object_object_get(props, "r"),
	    json_object_new_int(1));
	json_object_array_add(json_object_object_get(props, "r"),
	    json_object_new_int(2));
	json_object_object_add(t->schema, "q", props);
	/* 32 units, 8, x1.5 = 12. */
	ck_assert_int_eq(tokens_count_conv(&c), 12);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_at_least_one)
{
	struct conv		 c;
	struct conv_block	*b;

	conv_init(&c);
	b = conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_USER),
	    CONV_BLOCK_IMAGE);
	b->data = xstrdup("QUJD");
	ck_assert_int_eq(tokens_count_conv(&c), 1);
	/* "a": 1 unit, 0.25 x1.5 = 0.375 -> 0 -> 1. */
	conv_msg_add_block(&c.msgs[0], CONV_BLOCK_TEXT)->text = xstrdup("a");
	ck_assert_int_eq(tokens_count_conv(&c), 1);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_output_rates)
{
	/* Nothing, then (n + 3) / 4 for other characters. */
	ck_assert_int_eq(tokens_count_output("", 0), 1);
	ck_assert_int_eq(tokens_count_output("a", 1), 1);
	ck_assert_int_eq(tokens_count_output("hello", 5), 2);
	ck_assert_int_eq(tokens_count_output("12345678", 8), 2);
	ck_assert_int_eq(tokens_count_output("123456789", 9), 3);
	/* CJK: (n * 2 + 2) / 3.  1 -> 1, 2 -> 2, 3 -> 2, 6 -> 4. */
	ck_assert_int_eq(tokens_count_output("\xe4\xb8\xad", 3), 1);
	ck_assert_int_eq(tokens_count_output("\xe4\xb8\xad\xe6\x96\x87", 6),
	    2);
	ck_assert_int_eq(tokens_count_output("\xe4\xb8\xad\xe6\x96\x87"
	    "\xe5\xad\x97", 9), 2);
	ck_assert_int_eq(tokens_count_output("\xe4\xb8\x80\xe4\xb8\x80"
	    "\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8\x80", 18), 4);
	/* Both: "中文ab" = 2 + (2 + 3) / 4 = 3. */
	ck_assert_int_eq(tokens_count_output("\xe4\xb8\xad\xe6\x96\x87"
	    "ab", 8), 3);
	/* U+4E00 and U+9FFF are CJK; U+3042 (hiragana) is not. */
	ck_assert_int_eq(tokens_count_output("\xe4\xb8\x80\xe9\xbf\xbf", 6),
	    2);
	ck_assert_int_eq(tokens_count_output("\xe3\x81\x82\xe3\x81\x82"
	    "\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82", 15), 2);
}
END_TEST

START_TEST(tokens_count_output_counts_code_points)
{
	/* 4 "é" are 8 bytes but 4 code points: (4 + 3) / 4 = 1. */
	ck_assert_int_eq(tokens_count_output("\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9", 8), 1);
	/* 12 "é": (12 + 3) / 4 = 3 (bytes would give 6). */
	ck_assert_int_eq(tokens_count_output("\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9", 24), 3);
	/* A sequence cut by the delta boundary is one character. */
	ck_assert_int_eq(tokens_count_output("\xe4\xb8", 2), 1);
	/* Only len bytes count. */
	ck_assert_int_eq(tokens_count_output("123456789", 4), 1);
}
END_TEST

START_TEST(tokens_count_tool_input_rounds_up_quarters)
{
	ck_assert_int_eq(tokens_count_tool_input(0), 0);
	ck_assert_int_eq(tokens_count_tool_input(1), 1);
	ck_assert_int_eq(tokens_count_tool_input(4), 1);
	ck_assert_int_eq(tokens_count_tool_input(5), 2);
	ck_assert_int_eq(tokens_count_tool_input(100), 25);
	ck_assert_int_eq(tokens_count_tool_input(101), 26);
}
END_TEST

START_TEST(tokens_from_context_usage_scales_window)
{
	/* 42.5% of 200000 = 85000. */
	ck_assert_int_eq(tokens_from_context_usage(42.5, 200000), 85000);
	ck_assert_int_eq(tokens_from_context_usage(100.0, 1000000), 1000000);
	ck_assert_int_eq(tokens_from_context_usage(1.0, 1000000), 10000);
	/* 0.001% of 200000 = 2. */
	ck_assert_int_eq(tokens_from_context_usage(0.001, 200000), 2);
	ck_assert_int_eq(tokens_from_context_usage(0.0, 200000), 0);
	ck_assert_int_eq(tokens_from_context_usage(-5.0, 200000), 0);
}
END_TEST

static Suite *
tokens_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("tokens");
	tc = tcase_create("text");
	tcase_add_test(tc, tokens_count_text_short_ascii);
	tcase_add_test(tc, tokens_count_text_scaling_bands);
	tcase_add_test(tc, tokens_count_text_weighs_non_western_4);
	tcase_add_test(tc, tokens_count_text_counts_code_points_not_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("conv");
	tcase_add_test(tc, tokens_count_conv_scales_once);
	tcase_add_test(tc, tokens_count_conv_sums_every_part);
	tcase_add_test(tc, tokens_count_conv_schema_json_is_compact_unescaped);
	tcase_add_test(tc, tokens_count_conv_at_least_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, tokens_count_output_rates);
	tcase_add_test(tc, tokens_count_output_counts_code_points);
	tcase_add_test(tc, tokens_count_tool_input_rounds_up_quarters);
	tcase_add_test(tc, tokens_from_context_usage_scales_window);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(tokens_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
