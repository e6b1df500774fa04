/* test-err.c: the shared error vocabulary's names and texts. */
#include "autoconfig.h"

#include <string.h>

#include <check.h>

#include "err.h"
#include "testutil.h"

START_TEST(err_every_kind_has_a_distinct_name_and_text)
{
	int	i, j;

	for (i = 0; i < KF_ERR__MAX; i++) {
		ck_assert_ptr_nonnull(kf_err_name(i));
		ck_assert_ptr_nonnull(kf_strerror(i));
		ck_assert_uint_gt(strlen(kf_err_name(i)), 1);
		ck_assert_uint_gt(strlen(kf_strerror(i)), 1);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(kf_err_name(i), kf_err_name(j));
	}
}
END_TEST

START_TEST(err_names_are_the_documented_ones)
{
	/* Logs and tests match on these: they are part of the contract. */
	ck_assert_str_eq(kf_err_name(KF_OK), "ok");
	ck_assert_str_eq(kf_err_name(KF_EINVAL), "invalid_request");
	ck_assert_str_eq(kf_err_name(KF_EAUTH), "authentication");
	ck_assert_str_eq(kf_err_name(KF_ERATE), "rate_limited");
	ck_assert_str_eq(kf_err_name(KF_EOVERLOADED), "overloaded");
	ck_assert_str_eq(kf_err_name(KF_ECONTEXT), "context_too_long");
	ck_assert_str_eq(kf_err_name(KF_EQUOTA), "quota_exhausted");
	ck_assert_str_eq(kf_err_name(KF_ESUSPENDED), "account_suspended");
	ck_assert_str_eq(kf_err_name(KF_ENOACCOUNT), "no_account");
}
END_TEST

START_TEST(err_out_of_range_is_internal)
{
	ck_assert_str_eq(kf_err_name(KF_ERR__MAX), "internal");
	ck_assert_str_eq(kf_err_name((enum kf_err)-1), "internal");
	ck_assert_str_eq(kf_strerror(KF_ERR__MAX + 7), "internal error");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("err");
	TCase	*tc = tcase_create("err");

	tcase_add_test(tc, err_every_kind_has_a_distinct_name_and_text);
	tcase_add_test(tc, err_names_are_the_documented_ones);
	tcase_add_test(tc, err_out_of_range_is_internal);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
