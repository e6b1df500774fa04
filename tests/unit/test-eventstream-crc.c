/* test-eventstream-crc.c: the decoder's CRC-32 paths against zlib. */
#include "autoconfig.h"

/*
 * shared/eventstream.c compiled in, so that its es_crc32 can be called
 * with the carry-less folding (crc_fold, where the CPU has PCLMULQDQ) and
 * with the tables alone (crc_clmul off), as tokens.c's copies are in
 * test-tokens-simd.
 * Covers: the check value of "123456789"; every length from 0 to 1100
 * and some to 70,000 at each of 16 alignments, from several starting
 * CRCs, equal to zlib's crc32 (crc32_update) by both paths; a CRC
 * continued in pieces equal to one pass; a flipped bit at every position
 * of a 200-byte block changes it.
 */
#include "eventstream.c"

#include <stdio.h>

#include <check.h>

/* Runs es_crc32 by the folding (when the CPU has it) or the tables. */
static uint32_t
crc_by(int fold, uint32_t crc, const unsigned char *p, size_t len)
{
	int		saved;
	uint32_t	v;

	(void)pthread_once(&crc_once, crc_init);
	saved = crc_clmul;
	crc_clmul = fold && saved;
	v = es_crc32(crc, p, len);
	crc_clmul = saved;
	return v;
}

static unsigned char *
pattern(size_t len, uint32_t seed)
{
	unsigned char	*p = xmalloc(len + 16);
	size_t		 i;

	for (i = 0; i < len + 16; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
	return p;
}

START_TEST(check_value)
{
	const unsigned char	*s = (const unsigned char *)"123456789";

	ck_assert_uint_eq(crc_by(0, 0, s, 9), 0xcbf43926u);
	ck_assert_uint_eq(crc_by(1, 0, s, 9), 0xcbf43926u);
	ck_assert_uint_eq(crc_by(1, 0xcbf43926u, s, 0), 0xcbf43926u);
}
END_TEST

START_TEST(both_paths_agree_with_zlib)
{
	static const uint32_t	 starts[] = { 0, 0xffffffffu, 0x1234u };
	unsigned char		*buf = pattern(70000, 7);
	size_t			 len, align, i, n_starts;
	uint32_t		 want;

	(void)pthread_once(&crc_once, crc_init);
	if (!crc_clmul)
		fprintf(stderr, "test-eventstream-crc: no PCLMULQDQ here, "
		    "the tables alone are tested\n");
	n_starts = sizeof(starts) / sizeof(starts[0]);
	for (len = 0; len <= 70000; len += len < 1100 ? 1 :
	    len < 5000 ? 97 : 4099)
		for (align = 0; align < 16; align++)
			for (i = 0; i < n_starts; i++) {
				want = crc32_update(starts[i], buf + align,
				    len);
				ck_assert_msg(crc_by(1, starts[i], buf + align,
				    len) == want, "fold: %zu bytes at +%zu",
				    len, align);
				ck_assert_msg(crc_by(0, starts[i], buf + align,
				    len) == want, "tables: %zu bytes at +%zu",
				    len, align);
			}
	free(buf);
}
END_TEST

START_TEST(pieces_equal_one_pass)
{
	unsigned char	*buf = pattern(3000, 11);
	size_t		 cut;
	uint32_t	 whole, crc;

	whole = crc32_update(0, buf, 3000);
	for (cut = 0; cut <= 3000; cut += 13) {
		crc = crc_by(1, 0, buf, cut);
		ck_assert_uint_eq(crc_by(1, crc, buf + cut, 3000 - cut), whole);
	}
	free(buf);
}
END_TEST

START_TEST(every_flipped_bit_is_seen)
{
	unsigned char	*buf = pattern(200, 3);
	size_t		 i;
	unsigned int	 bit;
	uint32_t	 good;

	good = crc_by(1, 0, buf, 200);
	for (i = 0; i < 200; i++)
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= 1u << bit;
			ck_assert_msg(crc_by(1, 0, buf, 200) != good,
			    "byte %zu bit %u", i, bit);
			buf[i] ^= 1u << bit;
		}
	ck_assert_uint_eq(crc_by(1, 0, buf, 200), good);
	free(buf);
}
END_TEST

static Suite *
crc_suite(void)
{
	Suite	*s = suite_create("eventstream-crc");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_value);
	tcase_add_test(tc, both_paths_agree_with_zlib);
	tcase_add_test(tc, pieces_equal_one_pass);
	tcase_add_test(tc, every_flipped_bit_is_seen);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(crc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
