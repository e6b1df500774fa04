/* test-strset.c: the small string set history and kiro_req use. */
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

int
main(void)
{
	Suite	*s = suite_create("strset");
	TCase	*tc = tcase_create("strset");

	tcase_add_test(tc, strset_keeps_copies);
	tcase_add_test(tc, strset_case_rule_is_the_sets);
	tcase_add_test(tc, strset_grows);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
