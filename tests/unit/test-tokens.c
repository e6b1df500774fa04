/* test-tokens.c: unit tests for the token counts and estimates. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "conv.h"
#include "tokens.h"
#include "xmalloc.h"

/*
 * Covers (doc/protocol.md section 6.5): tokens_count_text's units (1 per
 * Western code point, 4 per other code point, never per byte) and each
 * scaling band on both sides of its edge; tokens_count_conv (what Kiro
 * will report): Kiro's hidden overhead, the class weights (CJK, words with
 * a free leading space, dense punctuation, camelCase humps) worked out by
 * hand, linear growth, images as a fixed cost (their bytes and refused
 * formats not counted), tools as Kiro gets them (normalised schemas,
 * tool_choice none, placeholders), history with its tool uses and results
 * and no prefill, the system pair, a cut UTF-8 sequence, words and a
 * lone space across 64-byte blocks, random bytes of any length;
 * tokens_count_output's CJK and other rates with the minimum of 1;
 * tokens_count_tool_input; tokens_from_context_usage.
 *
 * tokens_count_text's expected values are worked out by hand in a comment:
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

/* n copies of s in a static buffer (n x strlen(s) < 256). */
static const char *
repeat_static(const char *s, size_t n)
{
	static char	 buf[256];
	size_t		 len = strlen(s), i;

	for (i = 0; i < n && (i + 1) * len < sizeof(buf); i++)
		memcpy(buf + i * len, s, len);
	buf[i * len] = '\0';
	return buf;
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

/* A conversation of one user message with text (copied). */
static void
conv_user(struct conv *c, const char *text)
{
	conv_msg_add_block(conv_add_msg(c, CONV_ROLE_USER),
	    CONV_BLOCK_TEXT)->text = xstrdup(text);
}

static struct conv_tool *
add_tool(struct conv *c, const char *name, const char *schema_json)
{
	struct conv_tool	*t;

	t = conv_add_tool(c);
	t->name = xstrdup(name);
	t->description = xstrdup("Reads a file from the local filesystem.");
	t->schema = json_tokener_parse(schema_json);
	ck_assert_ptr_nonnull(t->schema);
	return t;
}

START_TEST(tokens_count_conv_kiro_overhead)
{
	struct conv	c;

	/* Nothing to send: Kiro's own system prompt is all there is. */
	conv_init(&c);
	ck_assert_int_eq(tokens_count_conv(&c), TOKENS_KIRO_SYSTEM);
	/*
	 * "hi": one word (1252 thousandths) and two letters (-46 each):
	 * 1160, x 1.020 = 1183.2, rounded up to 2; plus one message.
	 */
	conv_user(&c, "hi");
	ck_assert_int_eq(tokens_count_conv(&c), TOKENS_KIRO_SYSTEM +
	    TOKENS_PER_MESSAGE + 2);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_weighs_classes)
{
	struct conv	 c;
	char		*text;
	long		 base, n;

	conv_init(&c);
	base = TOKENS_KIRO_SYSTEM + TOKENS_PER_MESSAGE;
	/* 100 CJK characters: 1 each, x 1.02 = 102. */
	text = repeat("\xe4\xb8\xad", 100);
	conv_user(&c, text);
	free(text);
	ck_assert_int_eq(tokens_count_conv(&c) - base, 102);
	conv_free(&c);

	/*
	 * 100 x " word": a lone space before a word is free, so 100 words
	 * of 4 letters: 100 x (1252 - 4 x 46) = 106800, x 1.02 = 108.9 ->
	 * 109.
	 */
	conv_init(&c);
	text = repeat(" word", 100);
	conv_user(&c, text);
	free(text);
	ck_assert_int_eq(tokens_count_conv(&c) - base, 109);
	conv_free(&c);

	/*
	 * JSON and code punctuation is dense: 100 x "{}" is one run of 200
	 * (450 + 200 x 448 = 90050, x 1.02 = 91.9 -> 92), far more than
	 * the 50 a 4-characters-per-token rule would give.
	 */
	conv_init(&c);
	text = repeat("{}", 100);
	conv_user(&c, text);
	free(text);
	n = tokens_count_conv(&c) - base;
	ck_assert_int_eq(n, 92);
	conv_free(&c);

	/* camelCase humps are words: toolUseId is 3 words, toolid 1. */
	conv_init(&c);
	conv_user(&c, "toolUseId");
	n = tokens_count_conv(&c);
	conv_free(&c);
	conv_init(&c);
	conv_user(&c, "toolusei");
	ck_assert_int_gt(n - tokens_count_conv(&c), 1);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_block_boundaries)
{
	struct conv	 c;
	char		*text, line[320];
	long		 base = TOKENS_KIRO_SYSTEM + TOKENS_PER_MESSAGE;

	/*
	 * One word of 200 letters spans four 64-byte blocks: 1 word, 200
	 * letters, 192 past the 8th: 1252 - 200 x 46 + 192 x 448 = 78068,
	 * x 1.02 = 79629.4 -> 80.
	 */
	conv_init(&c);
	text = repeat("a", 200);
	conv_user(&c, text);
	free(text);
	ck_assert_int_eq(tokens_count_conv(&c) - base, 80);
	conv_free(&c);

	/*
	 * 63 letters, a lone space as byte 63, "b" as byte 64 of the next
	 * block: the space rides with "b".  2 words, 64 letters, 55 past
	 * the 8th: 2504 - 2944 + 24640 = 24200, x 1.02 = 24684 -> 25.  Two
	 * spaces make a run: + 1093 + 2 x 12 = 25317, x 1.02 -> 26.
	 */
	(void)snprintf(line, sizeof(line), "%s b", repeat_static("a", 63));
	conv_init(&c);
	conv_user(&c, line);
	ck_assert_int_eq(tokens_count_conv(&c) - base, 25);
	conv_free(&c);
	(void)snprintf(line, sizeof(line), "%s  b", repeat_static("a", 63));
	conv_init(&c);
	conv_user(&c, line);
	ck_assert_int_eq(tokens_count_conv(&c) - base, 26);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_random_bytes)
{
	struct conv		 c;
	struct conv_block	*b;
	uint64_t		 x = 0x243f6a8885a308d3ULL;
	size_t			 i, j, len;
	char			*text;
	long			 n;

	/*
	 * Texts of any bytes and length (stray UTF-8, NULs cut them short):
	 * never read past their end (valgrind), never under the overhead,
	 * and more text never counts less.
	 */
	for (i = 0; i < 300; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		len = (size_t)(x >> 33) % 300;
		text = xmalloc(len + 1);
		for (j = 0; j < len; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			text[j] = (char)(x & 0xff);
		}
		text[len] = '\0';
		conv_init(&c);
		b = conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_USER),
		    CONV_BLOCK_TEXT);
		b->text = text;
		n = tokens_count_conv(&c);
		ck_assert_int_ge(n, TOKENS_KIRO_SYSTEM + TOKENS_PER_MESSAGE);
		/* The same text twice over, in one more text block. */
		conv_msg_add_block(&c.msgs[0], CONV_BLOCK_TEXT)->text =
		    xstrdup(text);
		ck_assert_int_ge(tokens_count_conv(&c), n);
		conv_free(&c);
	}
}
END_TEST

START_TEST(tokens_count_conv_is_linear)
{
	struct conv	 c;
	char		*text;
	long		 one, ten;

	conv_init(&c);
	text = repeat("The gateway counts 1234 tokens; {\"k\": [1, 2]}\n", 100);
	conv_user(&c, text);
	free(text);
	one = tokens_count_conv(&c) - TOKENS_KIRO_SYSTEM - TOKENS_PER_MESSAGE;
	conv_free(&c);
	conv_init(&c);
	text = repeat("The gateway counts 1234 tokens; {\"k\": [1, 2]}\n", 1000);
	conv_user(&c, text);
	free(text);
	ten = tokens_count_conv(&c) - TOKENS_KIRO_SYSTEM - TOKENS_PER_MESSAGE;
	conv_free(&c);
	ck_assert_int_gt(one, 1000);
	ck_assert_int_le(labs(ten - 10 * one), 10);
}
END_TEST

START_TEST(tokens_count_conv_images_are_a_fixed_cost)
{
	struct conv		 c;
	struct conv_block	*b;
	long			 before;

	conv_init(&c);
	conv_user(&c, "look");
	before = tokens_count_conv(&c);
	b = conv_msg_add_block(&c.msgs[0], CONV_BLOCK_IMAGE);
	b->media_type = xstrdup("image/png");
	b->data = repeat("QUJD", 100000);	/* the bytes are not text */
	ck_assert_int_eq(tokens_count_conv(&c), before + TOKENS_PER_IMAGE);
	/* kiro_req_build drops a format Kiro does not take. */
	b = conv_msg_add_block(&c.msgs[0], CONV_BLOCK_IMAGE);
	b->media_type = xstrdup("image/bmp");
	b->data = xstrdup("QUJD");
	ck_assert_int_eq(tokens_count_conv(&c), before + TOKENS_PER_IMAGE);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_tools_as_kiro_gets_them)
{
	struct conv	c;
	long		none, one, normal;

	conv_init(&c);
	conv_user(&c, "read it");
	none = tokens_count_conv(&c);
	add_tool(&c, "Read", "{}");
	one = tokens_count_conv(&c);
	ck_assert_int_gt(one - none, TOKENS_TOOLS_PREAMBLE + TOKENS_PER_TOOL +
	    20);
	/* The schema as normalised: {} and its normal form weigh the same. */
	conv_free(&c);
	conv_init(&c);
	conv_user(&c, "read it");
	add_tool(&c, "Read", "{\"type\":\"object\",\"properties\":{},"
	    "\"required\":[],\"additionalProperties\":true}");
	normal = tokens_count_conv(&c);
	ck_assert_int_eq(normal, one);
	/*
	 * tool_choice none: no definitions are sent (the instructions that
	 * say so are, with or without the tool).
	 */
	c.tool_choice = CONV_TOOL_CHOICE_NONE;
	none = tokens_count_conv(&c);
	conv_remove_tool(&c, 0);
	ck_assert_int_eq(tokens_count_conv(&c), none);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_history_as_sent)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*b;
	long			 current, with_history, prefill;

	conv_init(&c);
	conv_user(&c, "go on");
	current = tokens_count_conv(&c);
	conv_free(&c);

	/* user, assistant with a tool use, user with its result. */
	conv_init(&c);
	conv_user(&c, "list it");
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
	b->id = xstrdup("toolu_01");
	b->name = xstrdup("Bash");
	b->input = json_tokener_parse("{\"command\":\"ls -la\"}");
	m = conv_add_msg(&c, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
	b->id = xstrdup("toolu_01");
	conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
	    xstrdup("total 0");
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup("go on");
	with_history = tokens_count_conv(&c);
	/*
	 * Two more messages, a tool use and a result, their texts, and a
	 * placeholder definition for Bash, which history uses and no tool
	 * defines.
	 */
	ck_assert_int_gt(with_history - current, 2 * TOKENS_PER_MESSAGE +
	    TOKENS_PER_TOOL_USE + TOKENS_PER_TOOL_RESULT +
	    TOKENS_TOOLS_PREAMBLE + TOKENS_PER_TOOL + 20);

	/* A trailing assistant (prefill) is not sent. */
	conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_ASSISTANT),
	    CONV_BLOCK_TEXT)->text = xstrdup("Sure, here is a long prefill");
	prefill = tokens_count_conv(&c);
	ck_assert_int_eq(prefill, with_history);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_system_pair)
{
	struct conv	c;
	long		plain;

	conv_init(&c);
	conv_user(&c, "hi");
	plain = tokens_count_conv(&c);
	conv_append_system(&c, "Be brief.");
	/* Pair 0: the system text and the acknowledgement, two messages. */
	ck_assert_int_gt(tokens_count_conv(&c) - plain,
	    2 * TOKENS_PER_MESSAGE + 5);
	conv_free(&c);
}
END_TEST

START_TEST(tokens_count_conv_at_least_one_and_cut_utf8)
{
	struct conv	c;

	conv_init(&c);
	/* A cut UTF-8 sequence at the end is read no further. */
	conv_user(&c, "\xe4\xb8");
	ck_assert_int_ge(tokens_count_conv(&c), TOKENS_KIRO_SYSTEM +
	    TOKENS_PER_MESSAGE + 1);
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
	tcase_add_test(tc, tokens_count_conv_kiro_overhead);
	tcase_add_test(tc, tokens_count_conv_weighs_classes);
	tcase_add_test(tc, tokens_count_conv_block_boundaries);
	tcase_add_test(tc, tokens_count_conv_is_linear);
	tcase_add_test(tc, tokens_count_conv_random_bytes);
	tcase_add_test(tc, tokens_count_conv_images_are_a_fixed_cost);
	tcase_add_test(tc, tokens_count_conv_tools_as_kiro_gets_them);
	tcase_add_test(tc, tokens_count_conv_history_as_sent);
	tcase_add_test(tc, tokens_count_conv_system_pair);
	tcase_add_test(tc, tokens_count_conv_at_least_one_and_cut_utf8);
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
