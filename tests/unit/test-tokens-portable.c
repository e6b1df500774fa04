/* test-tokens-portable.c: the estimator's plain C paths, on any CPU. */
#include "autoconfig.h"

/*
 * shared/tokens.c compiled again without SSE2 and popcnt, as on CPUs
 * that have neither, so that those paths are tested here too.
 * Covers: block_masks_c's classes for every byte value at every position of
 * a block, pop64 against a bit loop, and tokens_count_conv giving the
 * values test-tokens works out by hand (CJK, words with a free space,
 * dense punctuation, a long word and a lone space across blocks).
 */
#define TOKENS_PORTABLE 1
#include "tokens.c"

#include <check.h>

#include "xmalloc.h"

/* The classes block_masks must give, one byte at a time. */
static void
expect_classes(unsigned c, uint64_t bit, struct tally_masks *m)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		m->letter |= bit;
	if (c & 0x20)
		m->bit5 |= bit;
	if (c & 0x40)
		m->bit6 |= bit;
	if (c & 0x80)
		m->high |= bit;
	if (c >= '0' && c <= '9')
		m->digit |= bit;
	if (c == '_')
		m->under |= bit;
	if (c == ' ')
		m->blank |= bit;
	if (c >= '\t' && c <= '\r')
		m->ws |= bit;
}

START_TEST(block_masks_every_byte_everywhere)
{
	struct tally_masks	got, want;
	unsigned char		block[64];
	unsigned		c, pos, i;

	for (c = 0; c < 256; c++)
		for (pos = 0; pos < 64; pos++) {
			memset(&want, 0, sizeof(want));
			for (i = 0; i < 64; i++) {
				/* The byte among others of every kind. */
				block[i] = i == pos ? (unsigned char)c :
				    (unsigned char)(i * 37 + c);
				expect_classes(block[i], (uint64_t)1 << i,
				    &want);
			}
			block_masks_c(block, &got);
			ck_assert_uint_eq(got.letter, want.letter);
			ck_assert_uint_eq(got.bit5, want.bit5);
			ck_assert_uint_eq(got.high, want.high);
			if (got.high != 0)
				ck_assert_uint_eq(got.bit6, want.bit6);
			ck_assert_uint_eq(got.digit, want.digit);
			ck_assert_uint_eq(got.under, want.under);
			ck_assert_uint_eq(got.blank, want.blank);
			ck_assert_uint_eq(got.ws, want.ws);
		}
}
END_TEST

START_TEST(pop64_counts_bits)
{
	uint64_t	x = 0x9e3779b97f4a7c15ULL;
	unsigned	i, n, k;

	ck_assert_uint_eq(pop64(0), 0);
	ck_assert_uint_eq(pop64(~(uint64_t)0), 64);
	for (i = 0; i < 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (n = 0, k = 0; k < 64; k++)
			n += (x >> k) & 1;
		ck_assert_uint_eq(pop64(x), n);
	}
}
END_TEST

static long
count(const char *text)
{
	struct conv	c;
	long		n;

	conv_init(&c);
	conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_USER),
	    CONV_BLOCK_TEXT)->text = xstrdup(text);
	n = tokens_count_conv(&c) - TOKENS_KIRO_SYSTEM - TOKENS_PER_MESSAGE;
	conv_free(&c);
	return n;
}

static long
count_repeat(const char *s, size_t n)
{
	char	*text;
	size_t	 len = strlen(s), i;
	long	 tokens;

	text = xmalloc(len * n + 1);
	for (i = 0; i < n; i++)
		memcpy(text + i * len, s, len);
	text[len * n] = '\0';
	tokens = count(text);
	free(text);
	return tokens;
}

START_TEST(tokens_count_conv_as_with_sse2)
{
	char	line[80];

	ck_assert_int_eq(count("hi"), 2);
	ck_assert_int_eq(count_repeat("\xe4\xb8\xad", 100), 102);
	ck_assert_int_eq(count_repeat(" word", 100), 109);
	ck_assert_int_eq(count_repeat("{}", 100), 92);
	ck_assert_int_eq(count_repeat("a", 200), 80);
	memset(line, 'a', 63);
	memcpy(line + 63, " b", 3);
	ck_assert_int_eq(count(line), 25);
	memcpy(line + 63, "  b", 4);
	ck_assert_int_eq(count(line), 26);
}
END_TEST

int
main(void)
{
	Suite	*s;
	TCase	*tc;
	SRunner	*sr;
	int	 failed;

	s = suite_create("tokens-portable");
	tc = tcase_create("portable");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, block_masks_every_byte_everywhere);
	tcase_add_test(tc, pop64_counts_bits);
	tcase_add_test(tc, tokens_count_conv_as_with_sse2);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
