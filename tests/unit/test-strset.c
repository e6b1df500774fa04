/* test-strset.c: the string hash set history and kiro_req use. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "strset.h"
#include "testutil.h"

START_TEST(strset_keeps_copies)
{
	struct strset	set = STRSET_INIT(0);
	char		name[8];

	strcpy(name, "tool_a");
	strset_add(&set, name);
	name[5] = 'b';		/* the caller's buffer changes... */
	ck_assert_int_eq(strset_has(&set, "tool_a"), 1);	/* ...not ours */
	ck_assert_int_eq(strset_has(&set, "tool_b"), 0);
	strset_free(&set);
	ck_assert_uint_eq(set.n, 0);
	ck_assert_int_eq(strset_has(&set, "tool_a"), 0);
}
END_TEST

START_TEST(strset_case_rule_is_the_sets)
{
	struct strset	exact = STRSET_INIT(0), nocase = STRSET_INIT(1);

	strset_add(&exact, "Read");
	strset_add(&nocase, "Read");
	ck_assert_int_eq(strset_has(&exact, "read"), 0);
	ck_assert_int_eq(strset_has(&nocase, "read"), 1);
	ck_assert_int_eq(strset_has(&nocase, "READ"), 1);
	ck_assert_int_eq(strset_has(&nocase, "Reader"), 0);
	strset_free(&exact);
	strset_free(&nocase);
}
END_TEST

START_TEST(strset_grows)
{
	struct strset	set = STRSET_INIT(0);
	char		id[32];
	int		i;

	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "tooluse_%d", i);
		strset_add(&set, id);
	}
	ck_assert_uint_eq(set.n, 1000);
	ck_assert_int_eq(strset_has(&set, "tooluse_0"), 1);
	ck_assert_int_eq(strset_has(&set, "tooluse_999"), 1);
	ck_assert_int_eq(strset_has(&set, "tooluse_1000"), 0);
	strset_free(&set);
}
END_TEST

/*
 * A table of 32 slots holding 15 strings: some share a slot whatever the
 * key, so lookups must probe past others, and wrap at the table's end.
 */
START_TEST(strset_finds_past_collisions)
{
	struct strset	set = STRSET_INIT(0);
	char		id[32];
	int		i, round;

	for (round = 0; round < 50; round++) {
		for (i = 0; i < 15; i++) {
			snprintf(id, sizeof(id), "r%d_%d", round, i);
			strset_add(&set, id);
		}
		ck_assert_uint_eq(set.n_slots, 32);
		for (i = 0; i < 15; i++) {
			snprintf(id, sizeof(id), "r%d_%d", round, i);
			ck_assert_uint_eq(strset_find(&set, id), (size_t)i);
			snprintf(id, sizeof(id), "r%d_%d", round, i + 15);
			ck_assert_int_eq(strset_has(&set, id), 0);
		}
		strset_free(&set);
	}
}
END_TEST

/* Growth rehashes: every string stays findable at its insertion index. */
START_TEST(strset_grows_keeping_order)
{
	struct strset	set = STRSET_INIT(0);
	char		id[40];
	size_t		i;

	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "toolu_01ABCDEFGHIJKLMNOP%06zu", i);
		strset_add(&set, id);
	}
	ck_assert_uint_eq(set.n, 20000);
	ck_assert_uint_gt(set.n_slots, 2 * set.n);
	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "toolu_01ABCDEFGHIJKLMNOP%06zu", i);
		ck_assert_uint_eq(strset_find(&set, id), i);
		ck_assert_str_eq(set.items[i], id);
	}
	ck_assert_uint_eq(strset_find(&set, "toolu_01ABCDEFGHIJKLMNOP020000"),
	    STRSET_NONE);
	ck_assert_uint_eq(strset_find(&set, ""), STRSET_NONE);
	strset_free(&set);
}
END_TEST

/*
 * Case folding reaches the hash as well as the comparison: names longer
 * than one 8-byte word, differing in case in every word and in the tail,
 * land in the same slot; bytes past ASCII are not folded.
 */
START_TEST(strset_folds_case_in_the_hash)
{
	struct strset	nocase = STRSET_INIT(1), exact = STRSET_INIT(0);
	char		name[40];
	int		i;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "mcp__Server%d__Read_File_Tail", i);
		strset_add(&nocase, name);
		strset_add(&exact, name);
	}
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "MCP__SERVER%d__READ_FILE_TAIL", i);
		ck_assert_uint_eq(strset_find(&nocase, name), (size_t)i);
		ck_assert_int_eq(strset_has(&exact, name), 0);
		snprintf(name, sizeof(name), "mcp__server%d__read_file_tail", i);
		ck_assert_uint_eq(strset_find(&nocase, name), (size_t)i);
		ck_assert_int_eq(strset_has(&exact, name), 0);
	}
	strset_add(&nocase, "caf\xc3\xa9");
	ck_assert_int_eq(strset_has(&nocase, "CAF\xc3\xa9"), 1);
	ck_assert_int_eq(strset_has(&nocase, "CAF\xc3\x89"), 0);
	strset_free(&nocase);
	strset_free(&exact);
}
END_TEST

/* Duplicates are kept (the caller checks first); find gives the first. */
START_TEST(strset_keeps_duplicates)
{
	struct strset	set = STRSET_INIT(1);

	strset_add(&set, "Read");
	strset_add(&set, "read");
	ck_assert_uint_eq(set.n, 2);
	ck_assert_uint_eq(strset_find(&set, "READ"), 0);
	strset_free(&set);
	strset_add(&set, "Bash");	/* usable after free, same rule */
	ck_assert_int_eq(strset_has(&set, "BASH"), 1);
	strset_free(&set);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("strset");
	TCase	*tc = tcase_create("strset");

	tcase_add_test(tc, strset_keeps_copies);
	tcase_add_test(tc, strset_case_rule_is_the_sets);
	tcase_add_test(tc, strset_grows);
	tcase_add_test(tc, strset_finds_past_collisions);
	tcase_add_test(tc, strset_grows_keeping_order);
	tcase_add_test(tc, strset_folds_case_in_the_hash);
	tcase_add_test(tc, strset_keeps_duplicates);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
