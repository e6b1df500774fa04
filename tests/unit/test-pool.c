/* test-pool.c: which account serves, and what outcomes do to accounts. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "accounts.h"
#include "clock.h"
#include "config.h"
#include "pool.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

#define LONG_TAIL "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static char		*dir;
static struct store	*st;
static struct config	*cfg;

static void
setup(void)
{
	struct cred		 in[3];
	struct import_result	 res[3];
	const long		 prio[3] = { 2, 0, 1 };
	size_t			 i;

	dir = tu_tmpdir();
	ck_assert_int_eq(store_open(&st, dir, NULL), KF_OK);
	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, NULL, NULL), KF_OK);
	for (i = 0; i < 3; i++) {
		cred_init(&in[i]);
		in[i].refresh_token = xasprintf("aor%zu" LONG_TAIL, i);
		in[i].priority = prio[i];
	}
	/* ids 1, 2, 3 with priorities 2, 0, 1 */
	ck_assert_int_eq(accounts_import(st, in, 3, res, NULL), KF_OK);
	for (i = 0; i < 3; i++)
		cred_free(&in[i]);
}

static void
teardown(void)
{
	/* Tallies are per process: none may reach the next test's store. */
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	config_free(cfg);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

/* pool_report with the account as the store has it now. */
static enum kf_err
report(long id, enum pool_outcome outcome, const char *detail, char **cause)
{
	struct account	a;
	enum kf_err	er;

	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	er = pool_report(st, cfg, &a, outcome, detail, cause);
	account_free(&a);
	return er;
}

static long
pick(const long *exclude, size_t n)
{
	struct pool_pick_req	req;
	struct account		a;
	long			id;

	memset(&req, 0, sizeof(req));
	req.model_id = "claude-sonnet-4.5";
	req.exclude = exclude;
	req.n_exclude = n;
	if (pool_pick(st, cfg, &req, &a, NULL) != KF_OK)
		return 0;
	id = a.cred.id;
	account_free(&a);
	return id;
}

START_TEST(pool_picks_by_priority_then_fails_over)
{
	long	ex[2];

	ck_assert_int_eq(pick(NULL, 0), 2);
	ex[0] = 2;
	ck_assert_int_eq(pick(ex, 1), 3);
	ex[1] = 3;
	ck_assert_int_eq(pick(ex, 2), 1);
}
END_TEST

START_TEST(pool_quota_and_suspension_disable_with_reason)
{
	struct account	a;

	ck_assert_int_eq(report(2, POOL_QUOTA,
	    "MONTHLY_REQUEST_COUNT", NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(report(3, POOL_SUSPENDED,
	    "TEMPORARILY_SUSPENDED", NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(accounts_get(st, 3, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_SUSPENDED);
	ck_assert_str_eq(a.state.disabled_detail, "TEMPORARILY_SUSPENDED");
	ck_assert_int_ne(a.state.disabled_at, 0);
	account_free(&a);
}
END_TEST

START_TEST(pool_three_failures_disable_success_resets)
{
	struct account	a;

	ck_assert_int_eq(report(2, POOL_FAILURE, "x", NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_FAILURE, "x", NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_FAILURE, "x", NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_FAILURE, "x", NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 2);	/* two in a row: still on */
	ck_assert_int_eq(report(2, POOL_FAILURE, "third", NULL),
	    KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(accounts_get(st, 2, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_TOO_MANY_FAILURES);
	ck_assert_int_eq(a.state.success_count, 1);
	ck_assert_int_eq(a.state.request_count, 6);
	ck_assert_str_eq(a.state.last_error, "third");
	account_free(&a);
}
END_TEST

START_TEST(pool_successes_are_tallied_then_written)
{
	struct account	a;
	int		i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	/* Not yet in the file: no fsync per request. */
	ck_assert_int_eq(accounts_get(st, 2, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.success_count, 0);
	account_free(&a);
	/* Any write carries them along... */
	ck_assert_int_eq(report(3, POOL_THROTTLED, "429", NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 2, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.success_count, 4);
	ck_assert_int_eq(a.state.request_count, 4);
	ck_assert_int_ne(a.state.last_used, 0);
	account_free(&a);
	/* ...and so does an explicit flush. */
	ck_assert_int_eq(report(1, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.success_count, 1);
	account_free(&a);
	/* Nothing pending: a flush writes nothing and succeeds. */
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
}
END_TEST

START_TEST(pool_throttling_does_not_count_as_failure)
{
	struct account	a;
	int		i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(report(2, POOL_THROTTLED, "429",
		    NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 2, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.failures, 0);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_OK);
	account_free(&a);
}
END_TEST

START_TEST(pool_none_usable_says_why)
{
	struct pool_pick_req	req;
	struct account		a;
	char			*why = NULL;

	ck_assert_int_eq(report(1, POOL_QUOTA, "q", NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_QUOTA, "q", NULL), KF_OK);
	ck_assert_int_eq(report(3, POOL_SUSPENDED, "s", NULL), KF_OK);
	memset(&req, 0, sizeof(req));
	req.model_id = "auto";
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, &why), KF_ENOACCOUNT);
	ck_assert_ptr_nonnull(strstr(why, "QuotaExceeded"));
	ck_assert_ptr_nonnull(strstr(why, "Suspended"));
	free(why);
}
END_TEST

START_TEST(pool_empty_store_tells_how_to_add_one)
{
	struct store		*empty;
	struct pool_pick_req	 req;
	struct account		 a;
	char			*d2, *why = NULL;

	d2 = tu_tmpdir();
	ck_assert_int_eq(store_open(&empty, d2, NULL), KF_OK);
	memset(&req, 0, sizeof(req));
	ck_assert_int_eq(pool_pick(empty, cfg, &req, &a, &why), KF_ENOACCOUNT);
	ck_assert_ptr_nonnull(strstr(why, "kiroctl accounts import"));
	free(why);
	store_close(empty);
	tu_rmrf(d2);
	free(d2);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("pool");
	TCase	*tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pool_picks_by_priority_then_fails_over);
	tcase_add_test(tc, pool_quota_and_suspension_disable_with_reason);
	tcase_add_test(tc, pool_three_failures_disable_success_resets);
	tcase_add_test(tc, pool_successes_are_tallied_then_written);
	tcase_add_test(tc, pool_throttling_does_not_count_as_failure);
	tcase_add_test(tc, pool_none_usable_says_why);
	tcase_add_test(tc, pool_empty_store_tells_how_to_add_one);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
