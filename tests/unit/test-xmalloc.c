/* test-xmalloc.c: the allocation wrappers and their cause-string helper. */
#include "autoconfig.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "testutil.h"
#include "xmalloc.h"

START_TEST(xmalloc_strings)
{
	char	*s;

	ck_assert_ptr_null(xstrdup(NULL));
	s = xstrdup("abc");
	ck_assert_str_eq(s, "abc");
	free(s);
	s = xstrndup("abcdef", 3);
	ck_assert_str_eq(s, "abc");
	free(s);
	s = xasprintf("%s-%d", "n", 42);
	ck_assert_str_eq(s, "n-42");
	free(s);
}
END_TEST

START_TEST(xmalloc_setprintf_replaces_and_accepts_null)
{
	char	*cause = NULL;

	xsetprintf(&cause, "first %d", 1);
	ck_assert_str_eq(cause, "first 1");
	/* The old value is freed (valgrind checks), the new one kept. */
	xsetprintf(&cause, "second %s", "two");
	ck_assert_str_eq(cause, "second two");
	free(cause);
	/* Callers that do not want a cause pass NULL. */
	xsetprintf(NULL, "ignored %d", 3);
}
END_TEST

START_TEST(xmalloc_zero_sizes_are_valid_pointers)
{
	void	*p;

	p = xmalloc(0);
	ck_assert_ptr_nonnull(p);
	free(p);
	p = xcalloc(0, 8);
	ck_assert_ptr_nonnull(p);
	free(p);
	p = xreallocarray(NULL, 0, 0);
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

/* Multiplying would overflow: abort, never a short buffer. */
START_TEST(xmalloc_reallocarray_overflow_aborts)
{
	(void)xreallocarray(NULL, SIZE_MAX / 2 + 1, 4);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("xmalloc");
	TCase	*tc = tcase_create("xmalloc");

	tcase_add_test(tc, xmalloc_strings);
	tcase_add_test(tc, xmalloc_setprintf_replaces_and_accepts_null);
	tcase_add_test(tc, xmalloc_zero_sizes_are_valid_pointers);
	suite_add_tcase(s, tc);
	/* Needs a forked test (it kills the process): not under CK_FORK=no. */
	if (getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no") != 0) {
		TCase	*abort_tc = tcase_create("abort");

		tcase_add_test_raise_signal(abort_tc,
		    xmalloc_reallocarray_overflow_aborts, SIGABRT);
		suite_add_tcase(s, abort_tc);
	}
	return tu_run(s);
}
