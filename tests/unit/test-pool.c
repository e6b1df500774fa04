/* test-pool.c: which account serves, and what outcomes do to accounts. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "accounts.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "pool.h"
#include "settings.h"
#include "store.h"
#include "synccount.h"
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
	clock_set_offset(0);
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
	/* Reasons for a client, never which accounts exist (the log). */
	ck_assert_ptr_null(strstr(why, "account 1"));
	ck_assert_ptr_null(strstr(why, "account 3"));
	ck_assert_ptr_eq(strstr(why, "QuotaExceeded"),
	    strrchr(why, 'Q'));	/* said once for two accounts */
	free(why);
}
END_TEST

START_TEST(pool_all_tried_says_so_and_names_the_rest)
{
	struct pool_pick_req	req;
	struct account		a;
	const long		ex[2] = { 2, 3 };
	char			*why = NULL;

	/* 2 and 3 failed this request; 1 is out for another reason. */
	ck_assert_int_eq(report(1, POOL_SUSPENDED, "s", NULL), KF_OK);
	memset(&req, 0, sizeof(req));
	req.model_id = "claude-sonnet-4.5";
	req.exclude = ex;
	req.n_exclude = 2;
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, &why), KF_ENOACCOUNT);
	ck_assert_msg(strcmp(why, "every usable Kiro account failed this "
	    "request; others: Suspended") == 0, "%s", why);
	free(why);
	ck_assert(!pool_can_serve(st, cfg, &req));
	req.n_exclude = 1;
	ck_assert(pool_can_serve(st, cfg, &req));
}
END_TEST

START_TEST(pool_cooling_down_cause_names_no_account)
{
	struct pool_pick_req	req;
	struct account		a;
	long			retry = 0;
	char			*why = NULL;

	ck_assert_int_eq(report(1, POOL_THROTTLED, "429", NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_THROTTLED, "429", NULL), KF_OK);
	ck_assert_int_eq(report(3, POOL_THROTTLED, "429", NULL), KF_OK);
	memset(&req, 0, sizeof(req));
	req.model_id = "auto";
	req.retry_after = &retry;
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, &why), KF_ERATE);
	ck_assert_int_ge(retry, 59);
	ck_assert_ptr_nonnull(strstr(why, "cooling down"));
	ck_assert_ptr_nonnull(strstr(why, "retry in"));
	ck_assert_ptr_null(strstr(why, "account 1"));
	ck_assert_ptr_null(strstr(why, "account 2"));
	ck_assert_ptr_null(strstr(why, "account 3"));
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

/* Replaces the configuration with one parsed from text. */
static void
use_config(const char *text)
{
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(config_parse(text, strlen(text), NULL, &cfg, NULL,
	    NULL), KF_OK);
}

/* A pick with every option; returns the id or 0, er gets the result. */
static long
pick_full(const char *model, const char *session, char *conv_id,
    long *retry_after, enum kf_err *er)
{
	struct pool_pick_req	req;
	struct account		a;
	enum kf_err		e;
	long			id = 0;

	memset(&req, 0, sizeof(req));
	req.model_id = model;
	req.session = session;
	req.conversation_id = conv_id;
	req.retry_after = retry_after;
	if ((e = pool_pick(st, cfg, &req, &a, NULL)) == KF_OK) {
		id = a.cred.id;
		account_free(&a);
	}
	if (er != NULL)
		*er = e;
	return id;
}

/* Changes one account's state directly, as another writer would. */
static void
set_subscription(long id, const char *title)
{
	struct store_txn	*txn;
	struct account		 a;

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, id, &a, NULL), KF_OK);
	free(a.state.subscription);
	a.state.subscription = xstrdup(title);
	ck_assert_int_eq(accounts_txn_save_state(txn, id, &a.state, NULL),
	    KF_OK);
	account_free(&a);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
}

static struct account_state
state_of(long id)
{
	struct account		a;
	struct account_state	s;

	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	s = a.state;
	memset(&a.state, 0, sizeof(a.state));
	account_free(&a);
	return s;
}

/* Ends a forked child with nothing leaked (valgrind checks it too). */
static void
child_exit(int code)
{
	store_close(st);
	config_free(cfg);
	free(dir);
	_exit(code);
}

START_TEST(pool_balanced_picks_fewest_successes)
{
	use_config("{\"loadBalancingMode\":\"balanced\"}");
	/* All at 0: priority breaks the tie (2, then 3, then 1). */
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	/* The pending tally counts before it is written. */
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(report(3, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(report(1, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 3);
}
END_TEST

START_TEST(pool_round_robin_cycles_and_skips_disabled)
{
	use_config("{\"loadBalancingMode\":\"round-robin\"}");
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pool_disable(st, 2, "test", NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pick(NULL, 0), 3);
}
END_TEST

START_TEST(pool_settings_win_over_the_configuration)
{
	/* config.json: priority mode, 60 s stickiness (the defaults). */
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(settings_put_str(st, SETTING_LB_MODE, "round-robin",
	    NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pick(NULL, 0), 2);
	/* A session sticks while stickySeconds allows... */
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", NULL, NULL,
	    NULL), 3);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", NULL, NULL,
	    NULL), 3);
	/* ... and follows the mode once the setting turns it off. */
	ck_assert_int_eq(settings_put_int(st, SETTING_STICKY_SECONDS, 0, NULL),
	    KF_OK);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", NULL, NULL,
	    NULL), 1);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", NULL, NULL,
	    NULL), 2);
	/* Deleted, config.json decides again. */
	ck_assert_int_eq(settings_del(st, SETTING_LB_MODE, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(cfg->load_balancing_mode, LB_PRIORITY);
}
END_TEST

START_TEST(pool_priority_order_with_equal_priorities_by_id)
{
	struct cred		c;
	struct import_result	r;

	cred_init(&c);
	c.refresh_token = xstrdup("aorX" LONG_TAIL);
	c.priority = 0;		/* ties with account 2 */
	ck_assert_int_eq(accounts_import(st, &c, 1, &r, NULL), KF_OK);
	cred_free(&c);
	ck_assert_int_eq(r.id, 4);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pool_disable(st, 2, NULL, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 4);
}
END_TEST

START_TEST(pool_index_follows_new_accounts_and_priorities)
{
	struct store_txn	*txn;
	struct account		 a;
	struct cred		 c;
	struct import_result	 r;

	ck_assert_int_eq(pick(NULL, 0), 2);
	/* A priority change through the credential record. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, 2, &a, NULL), KF_OK);
	a.cred.priority = 9;
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	account_free(&a);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 3);
	/* A new account with the best priority. */
	cred_init(&c);
	c.refresh_token = xstrdup("aorNew" LONG_TAIL);
	c.priority = 0;
	ck_assert_int_eq(accounts_import(st, &c, 1, &r, NULL), KF_OK);
	cred_free(&c);
	ck_assert_int_eq(pick(NULL, 0), r.id);
}
END_TEST

START_TEST(pool_sticky_session_keeps_its_account_and_conversation)
{
	struct pool_pick_req	req;
	struct account		a;
	char			conv1[POOL_CONV_ID_LEN + 1];
	char			conv2[POOL_CONV_ID_LEN + 1];
	long			ex = 2;

	/* The first request of the session lands on 3 (2 is excluded). */
	memset(&req, 0, sizeof(req));
	req.model_id = "claude-sonnet-4.5";
	req.session = "s1";
	req.exclude = &ex;
	req.n_exclude = 1;
	req.conversation_id = conv1;
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, NULL), KF_OK);
	ck_assert_int_eq(a.cred.id, 3);
	account_free(&a);
	ck_assert_int_eq(strlen(conv1), POOL_CONV_ID_LEN);
	/* Later requests of it stay there, with the same conversationId. */
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", conv2, NULL,
	    NULL), 3);
	ck_assert_str_eq(conv1, conv2);
	clock_set_offset(50);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", conv2, NULL,
	    NULL), 3);
	/* Other sessions and no session follow the mode. */
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s2", conv2, NULL,
	    NULL), 2);
	ck_assert_str_ne(conv1, conv2);
	ck_assert_int_eq(pick(NULL, 0), 2);
	/* 60 s after its last use the session is free again. */
	clock_set_offset(50 + 61);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s1", conv2, NULL,
	    NULL), 2);
	ck_assert_str_ne(conv1, conv2);
	/* A sticky account that stops being usable is left. */
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s3", NULL, NULL,
	    NULL), 2);
	ck_assert_int_eq(pool_disable(st, 2, NULL, NULL), KF_OK);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "s3", NULL, NULL,
	    NULL), 3);
}
END_TEST

START_TEST(pool_sticky_is_shared_across_processes)
{
	pid_t	pid;
	int	status, i;

	/* This process sticks session "shared" to account 1. */
	{
		struct pool_pick_req	req;
		struct account		a;
		long			ex[2] = { 2, 3 };

		memset(&req, 0, sizeof(req));
		req.model_id = "claude-sonnet-4.5";
		req.session = "shared";
		req.exclude = ex;
		req.n_exclude = 2;
		ck_assert_int_eq(pool_pick(st, cfg, &req, &a, NULL), KF_OK);
		ck_assert_int_eq(a.cred.id, 1);
		account_free(&a);
	}
	/* Other processes, with their own store handles, follow it. */
	for (i = 0; i < 2; i++) {
		if ((pid = fork()) == 0) {
			struct store	*st2;
			long		 id;

			if (store_open(&st2, dir, NULL) != KF_OK)
				_exit(100);
			store_close(st);
			st = st2;
			id = pick_full("claude-sonnet-4.5", "shared", NULL,
			    NULL, NULL);
			child_exit((int)id);
		}
		ck_assert_int_gt(pid, 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 1);
	}
}
END_TEST

/* Writes sticky/<session> as another process would (sticky_put's shape). */
static void
put_sticky(const char *session, long id, const char *conv)
{
	struct store_txn	*txn;
	char			 key[64], *text;

	snprintf(key, sizeof(key), "sticky/%s", session);
	text = xasprintf("{\"v\":1,\"id\":%ld,\"until\":%lld,\"at\":%lld,"
	    "\"conv\":\"%s\"}", id, (long long)clock_now() + 100,
	    (long long)clock_now(), conv);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, key, text, strlen(text)), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	free(text);
}

/*
 * The thread keeps its last parse of a session's record (pool.c): a
 * record another process rewrote must be parsed again, and what the kept
 * parse gives must be what parsing gives.
 */
START_TEST(pool_sticky_record_rewritten_elsewhere_is_seen)
{
	const char	*conv_a = "11111111-2222-4333-8444-555555555555";
	const char	*conv_b = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
	char		 conv[POOL_CONV_ID_LEN + 1];
	pid_t		 pid;
	int		 status;

	put_sticky("memo", 3, conv_a);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "memo", conv, NULL,
	    NULL), 3);
	ck_assert_str_eq(conv, conv_a);
	/* Again: now from what the thread kept. */
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "memo", conv, NULL,
	    NULL), 3);
	ck_assert_str_eq(conv, conv_a);
	/* Another process moves the session: same length, other bytes. */
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct store	*st2;

		if (store_open(&st2, dir, NULL) != KF_OK)
			_exit(100);
		store_close(st);
		st = st2;
		put_sticky("memo", 1, conv_b);
		child_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "memo", conv, NULL,
	    NULL), 1);
	ck_assert_str_eq(conv, conv_b);
	/* Another session whose record has the first bytes: the same parse. */
	put_sticky("memo2", 3, conv_a);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "memo2", conv, NULL,
	    NULL), 3);
	ck_assert_str_eq(conv, conv_a);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", "memo", conv, NULL,
	    NULL), 1);
	ck_assert_str_eq(conv, conv_b);
}
END_TEST

/* Caches a catalogue of the given ids for account id. */
static void
set_catalogue(long id, const char *const *models, size_t n)
{
	struct catalogue	c;
	size_t			i;

	memset(&c, 0, sizeof(c));
	c.fetched_at = clock_now();
	c.m = xcalloc(n, sizeof(*c.m));
	for (i = 0; i < n; i++) {
		c.m[i].id = xstrdup(models[i]);
		c.m[i].name = xstrdup(models[i]);
	}
	c.n = n;
	ck_assert_int_eq(catalogue_save(st, id, &c, NULL), KF_OK);
	catalogue_free(&c);
}

START_TEST(pool_skips_an_account_whose_catalogue_lacks_the_model)
{
	static const char *const	 sonnet_only[] = { "claude-sonnet-4.5" };
	static const char *const	 both[] = { "claude-sonnet-4.5",
	    "glm-5" };
	char				*why = NULL;
	struct pool_pick_req		 req;
	struct account			 a;

	/* Account 2 (first by priority) lacks glm-5; 3 has no list yet. */
	set_catalogue(2, sonnet_only, 1);
	ck_assert_int_eq(pick_full("glm-5", NULL, NULL, NULL, NULL), 3);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_int_eq(pool_pick_txns(), 1);
	set_catalogue(3, sonnet_only, 1);
	set_catalogue(1, both, 2);
	ck_assert_int_eq(pick_full("glm-5", NULL, NULL, NULL, NULL), 1);
	ck_assert_int_eq(pool_pick_txns(), 1);
	set_catalogue(1, sonnet_only, 1);
	memset(&req, 0, sizeof(req));
	req.model_id = "glm-5";
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "glm-5 is not offered"));
	free(why);
	why = NULL;
	/* Another reason in the mix: no account usable, as before. */
	ck_assert_int_eq(pool_disable(st, 1, NULL, NULL), KF_OK);
	set_catalogue(1, both, 2);
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, &why), KF_ENOACCOUNT);
	ck_assert_ptr_nonnull(strstr(why, "model list"));
	free(why);
}
END_TEST

START_TEST(pool_opus_never_goes_to_a_free_plan)
{
	enum kf_err	er;

	set_subscription(2, "Kiro Free Tier");
	set_subscription(3, "KIRO PRO+");
	ck_assert_int_eq(pick_full("claude-opus-4.5", NULL, NULL, NULL, NULL),
	    3);
	ck_assert_int_eq(pick_full("claude-sonnet-4.5", NULL, NULL, NULL,
	    NULL), 2);
	/* Account 1's plan is unknown: allowed. */
	ck_assert_int_eq(pool_disable(st, 3, NULL, NULL), KF_OK);
	ck_assert_int_eq(pick_full("claude-opus-4.5", NULL, NULL, NULL, NULL),
	    1);
	set_subscription(1, "KIRO FREE");
	ck_assert_int_eq(pick_full("claude-opus-4.5", NULL, NULL, NULL, &er),
	    0);
	ck_assert_int_eq(er, KF_ENOACCOUNT);
}
END_TEST

START_TEST(pool_cooldown_doubles_up_to_the_cap_and_success_resets)
{
	struct account_state	s;
	time_t			now;
	long			retry = 0;
	enum kf_err		er;

	use_config("{\"cooldownMaxSeconds\":200}");
	now = clock_now();
	ck_assert_int_eq(report(2, POOL_THROTTLED, "429", NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_eq(s.failures, 0);
	ck_assert_int_ge(s.cooldown_until, now + 60);
	ck_assert_int_le(s.cooldown_until, now + 61);
	account_state_free(&s);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(report(2, POOL_THROTTLED, "429", NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_ge(s.cooldown_until, now + 120);
	ck_assert_int_le(s.cooldown_until, now + 121);
	account_state_free(&s);
	ck_assert_int_eq(report(2, POOL_THROTTLED, "429", NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_ge(s.cooldown_until, now + 200);	/* 240, capped */
	ck_assert_int_le(s.cooldown_until, now + 201);
	ck_assert_int_eq(s.throttles, 3);
	account_state_free(&s);
	/* Every account cooling down: a rate error with the shortest wait. */
	ck_assert_int_eq(report(3, POOL_THROTTLED, "429", NULL), KF_OK);
	ck_assert_int_eq(report(1, POOL_THROTTLED, "429", NULL), KF_OK);
	ck_assert_int_eq(pick_full("auto", NULL, NULL, &retry, &er), 0);
	ck_assert_int_eq(er, KF_ERATE);
	ck_assert_int_ge(retry, 59);
	ck_assert_int_le(retry, 60);
	/* After the cooldown the account serves; a success resets it. */
	clock_set_offset(201);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_eq(s.throttles, 0);
	ck_assert_int_eq(s.cooldown_until, 0);
	account_state_free(&s);
	ck_assert_int_eq(report(2, POOL_THROTTLED, "429", NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_le(s.cooldown_until, clock_now() + 61);
	account_state_free(&s);
}
END_TEST

START_TEST(pool_quota_disables_until_the_reset_date)
{
	struct account_state	 s;
	json_object		*h;
	const char		*to;
	struct tm		 tm;
	time_t			 now = clock_now();
	size_t			 n;

	ck_assert_int_eq(report(2, POOL_QUOTA, "MONTHLY_REQUEST_COUNT", NULL),
	    KF_OK);
	s = state_of(2);
	ck_assert_int_eq(s.disabled, ACCOUNT_QUOTA_EXCEEDED);
	ck_assert_int_gt(s.disabled_until, now);
	gmtime_r(&s.disabled_until, &tm);
	ck_assert_int_eq(tm.tm_mday, 1);
	ck_assert_int_eq(tm.tm_hour, 0);
	ck_assert_int_le(s.disabled_until - now, 31 * 86400);
	ck_assert_int_eq(pick(NULL, 0), 3);
	/* A second before the date: still out.  After it: back by itself. */
	clock_set_offset(s.disabled_until - now - 2);
	ck_assert_int_eq(pick(NULL, 0), 3);
	clock_set_offset(s.disabled_until - now + 1);
	ck_assert_int_eq(pick(NULL, 0), 2);
	account_state_free(&s);
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_eq(s.disabled, ACCOUNT_OK);
	account_state_free(&s);
	ck_assert_int_eq(accounts_history(st, 2, &h, NULL), KF_OK);
	n = json_object_array_length(h);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(h, 0), "to",
	    &to), 1);
	ck_assert_str_eq(to, "QuotaExceeded");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(h, 1), "to",
	    &to), 1);
	ck_assert_str_eq(to, "ok");
	json_object_put(h);
}
END_TEST

START_TEST(pool_quota_uses_the_reset_date_usage_gave)
{
	struct account_state	 s;
	struct store_txn	*txn;
	char			*rec;
	time_t			 now = clock_now(), reset = now + 9 * 86400 + 7;

	/* What shared/usage.c caches from getUsageLimits. */
	rec = xasprintf("{\"nextResetAt\":%lld}", (long long)reset);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "usage/2", rec, strlen(rec)), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	free(rec);
	ck_assert_int_eq(report(2, POOL_QUOTA, "MONTHLY_REQUEST_COUNT", NULL),
	    KF_OK);
	s = state_of(2);
	ck_assert_int_eq(s.disabled, ACCOUNT_QUOTA_EXCEEDED);
	ck_assert_int_eq(s.disabled_until, reset);
	account_state_free(&s);
	clock_set_offset(reset - now + 1);
	ck_assert_int_eq(pick(NULL, 0), 2);

	/* A reset date already past is ignored: the next month's start. */
	rec = xasprintf("{\"nextResetAt\":%lld}", (long long)(now - 5));
	clock_set_offset(0);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "usage/3", rec, strlen(rec)), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	free(rec);
	ck_assert_int_eq(report(3, POOL_QUOTA, "q", NULL), KF_OK);
	s = state_of(3);
	ck_assert_int_gt(s.disabled_until, now);
	ck_assert_int_le(s.disabled_until - now, 31 * 86400);
	account_state_free(&s);
}
END_TEST

/* Counts fsyncs of this test's kiro.db from now on (synccount.h). */
static void
watch_syncs(void)
{
	char	*path;

	path = xasprintf("%s/kiro.db", dir);
	tu_sync_watch(path);
	free(path);
}

START_TEST(pool_all_failed_accounts_heal_together)
{
	struct account_state	s;
	long			id;
	int			i, before;

	watch_syncs();
	for (id = 1; id <= 3; id++)
		for (i = 0; i < POOL_MAX_FAILURES; i++)
			ck_assert_int_eq(report(id, POOL_FAILURE, "boom",
			    NULL), KF_OK);
	/* The heal happens in a pick's unsynced write, which then syncs. */
	before = tu_syncs();
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_gt(tu_syncs(), before);
	for (id = 1; id <= 3; id++) {
		s = state_of(id);
		ck_assert_int_eq(s.disabled, ACCOUNT_OK);
		ck_assert_int_eq(s.failures, 0);
		account_state_free(&s);
	}
}
END_TEST

START_TEST(pool_no_healing_when_another_reason_is_involved)
{
	enum kf_err	er;
	long		id;
	int		i;

	ck_assert_int_eq(pool_disable(st, 1, "kept off", NULL), KF_OK);
	for (id = 2; id <= 3; id++)
		for (i = 0; i < POOL_MAX_FAILURES; i++)
			ck_assert_int_eq(report(id, POOL_FAILURE, "boom",
			    NULL), KF_OK);
	ck_assert_int_eq(pick_full("auto", NULL, NULL, NULL, &er), 0);
	ck_assert_int_eq(er, KF_ENOACCOUNT);
}
END_TEST

START_TEST(pool_min_interval_spreads_then_limits)
{
	long		retry = 0;
	enum kf_err	er;

	use_config("{\"rateLimits\":{\"minIntervalMs\":5000}}");
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pick_full("auto", NULL, NULL, &retry, &er), 0);
	ck_assert_int_eq(er, KF_ERATE);
	ck_assert_int_ge(retry, 1);
	ck_assert_int_le(retry, 5);
	clock_set_offset(6);
	ck_assert_int_eq(pick(NULL, 0), 2);
}
END_TEST

START_TEST(pool_per_account_rpm)
{
	int	i;

	use_config("{\"rateLimits\":{\"perAccountRpm\":2}}");
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pick(NULL, 0), 2);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(pick(NULL, 0), 1);
	clock_set_offset(61);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 3);
	/* The log keeps only what the limit needs: rpm times. */
	{
		struct store_txn	*txn;
		struct buf		 raw = BUF_INIT;
		const char		*p;
		int			 n = 1;

		ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL),
		    KF_OK);
		ck_assert_int_eq(store_get(txn, "rate/2", &raw), KF_OK);
		(void)store_end(txn, NULL);
		for (p = raw.ptr; *p != '\0'; p++)
			n += *p == ',';
		ck_assert_msg(n == 1 + 2, "rate/2 is %s", raw.ptr);
		buf_free(&raw);
	}
}
END_TEST

START_TEST(pool_global_rpm_across_processes)
{
	pid_t		pids[5];
	long		retry = 0;
	enum kf_err	er;
	int		i, status, served = 0;

	use_config("{\"rateLimits\":{\"globalRpm\":3}}");
	for (i = 0; i < 5; i++) {
		if ((pids[i] = fork()) == 0) {
			struct store	*st2;

			if (store_open(&st2, dir, NULL) != KF_OK)
				_exit(100);
			store_close(st);
			st = st2;
			child_exit(pick_full("auto", NULL, NULL, NULL,
			    NULL) != 0 ? 0 : 1);
		}
		ck_assert_int_gt(pids[i], 0);
	}
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_ne(WEXITSTATUS(status), 100);
		if (WEXITSTATUS(status) == 0)
			served++;
	}
	ck_assert_int_eq(served, 3);
	ck_assert_int_eq(pick_full("auto", NULL, NULL, &retry, &er), 0);
	ck_assert_int_eq(er, KF_ERATE);
	ck_assert_int_ge(retry, 1);
	ck_assert_int_le(retry, 60);
	clock_set_offset(61);
	ck_assert_int_eq(pick(NULL, 0), 2);
}
END_TEST

START_TEST(pool_admin_operations_are_recorded)
{
	struct account_state	 s;
	json_object		*h, *e;
	const char		*v;
	char			*why = NULL;

	ck_assert_int_eq(pool_disable(st, 2, "maintenance", NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 3);
	s = state_of(2);
	ck_assert_int_eq(s.disabled, ACCOUNT_MANUAL);
	ck_assert_str_eq(s.disabled_detail, "maintenance");
	account_state_free(&s);
	ck_assert_int_eq(pool_enable(st, 2, NULL), KF_OK);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(report(2, POOL_THROTTLED, "429", NULL), KF_OK);
	ck_assert_int_eq(report(2, POOL_FAILURE, "x", NULL), KF_OK);
	ck_assert_int_eq(pool_reset(st, 2, NULL), KF_OK);
	s = state_of(2);
	ck_assert_int_eq(s.cooldown_until, 0);
	ck_assert_int_eq(s.failures, 0);
	ck_assert_int_eq(s.throttles, 0);
	account_state_free(&s);
	ck_assert_int_eq(pick(NULL, 0), 2);

	ck_assert_int_eq(accounts_history(st, 2, &h, NULL), KF_OK);
	ck_assert_int_eq(json_object_array_length(h), 4);
	e = json_object_array_get_idx(h, 0);
	ck_assert_int_eq(json_get_str(e, "from", &v), 1);
	ck_assert_str_eq(v, "ok");
	ck_assert_int_eq(json_get_str(e, "to", &v), 1);
	ck_assert_str_eq(v, "Manual");
	ck_assert_int_eq(json_get_str(e, "reason", &v), 1);
	ck_assert_str_eq(v, "maintenance");
	e = json_object_array_get_idx(h, 2);
	ck_assert_int_eq(json_get_str(e, "to", &v), 1);
	ck_assert_str_eq(v, "cooldown");
	e = json_object_array_get_idx(h, 3);
	ck_assert_int_eq(json_get_str(e, "reason", &v), 1);
	ck_assert_str_eq(v, "reset by the operator");
	json_object_put(h);

	/* Unknown ids change nothing and say so. */
	ck_assert_int_eq(pool_disable(st, 99, NULL, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "99"));
	free(why);
	why = NULL;
	ck_assert_int_eq(pool_enable(st, 99, &why), KF_ENOTFOUND);
	free(why);
	ck_assert_int_eq(accounts_history(st, 99, &h, NULL), KF_ENOTFOUND);
	ck_assert_ptr_null(h);
}
END_TEST

START_TEST(pool_history_is_bounded)
{
	json_object	*h;
	int		 i;

	for (i = 0; i < ACCOUNTS_HISTORY_MAX + 5; i++)
		ck_assert_int_eq(pool_reset(st, 1, NULL), KF_OK);
	ck_assert_int_eq(accounts_history(st, 1, &h, NULL), KF_OK);
	ck_assert_int_eq(json_object_array_length(h), ACCOUNTS_HISTORY_MAX);
	json_object_put(h);
}
END_TEST

START_TEST(pool_session_hash_sources)
{
	struct conv	a, b;
	char		ha[POOL_SESSION_LEN + 1], hb[POOL_SESSION_LEN + 1];

	conv_init(&a);
	conv_init(&b);
	a.system = xstrdup("be brief");
	b.system = xstrdup("be brief");
	conv_msg_add_block(conv_add_msg(&a, CONV_ROLE_USER),
	    CONV_BLOCK_TEXT)->text = xstrdup("hello");
	conv_msg_add_block(conv_add_msg(&b, CONV_ROLE_USER),
	    CONV_BLOCK_TEXT)->text = xstrdup("hello");
	/* Same opening, later turns differ: the same session. */
	conv_msg_add_block(conv_add_msg(&b, CONV_ROLE_ASSISTANT),
	    CONV_BLOCK_TEXT)->text = xstrdup("hi");
	pool_session_hash(&a, ha);
	pool_session_hash(&b, hb);
	ck_assert_int_eq(strlen(ha), POOL_SESSION_LEN);
	ck_assert_str_eq(ha, hb);
	/* Another first message: another session. */
	free(b.msgs[0].blocks[0].text);
	b.msgs[0].blocks[0].text = xstrdup("hello!");
	pool_session_hash(&b, hb);
	ck_assert_str_ne(ha, hb);
	/* A client's session key wins over the content. */
	a.session_key = xstrdup("user_abc_session_1");
	b.session_key = xstrdup("user_abc_session_1");
	pool_session_hash(&a, ha);
	pool_session_hash(&b, hb);
	ck_assert_str_eq(ha, hb);
	conv_free(&a);
	conv_free(&b);
}
END_TEST

START_TEST(pool_expired_sessions_are_pruned)
{
	struct store_txn	*txn;
	struct buf		 raw = BUF_INIT;
	const char		*stale = "{\"v\":1,\"id\":1,\"until\":1000,"
	    "\"at\":940,\"conv\":\"\"}";

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "sticky/stale", stale, strlen(stale)),
	    KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	clock_set_offset(-5);	/* a clock "back" makes the prune due here */
	ck_assert_int_eq(pick_full("auto", "fresh", NULL, NULL, NULL), 2);
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_get(txn, "sticky/stale", &raw), KF_ENOTFOUND);
	ck_assert_int_eq(store_get(txn, "sticky/fresh", &raw), KF_OK);
	(void)store_end(txn, NULL);
	buf_free(&raw);
}
END_TEST

static int
has_record(const char *key)
{
	struct store_txn	*txn;
	struct buf		 raw = BUF_INIT;
	enum kf_err		 er;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	er = store_get(txn, key, &raw);
	(void)store_end(txn, NULL);
	buf_free(&raw);
	return er == KF_OK;
}

START_TEST(pool_soft_records_are_written_without_sync)
{
	char	conv[POOL_CONV_ID_LEN + 1];
	int	before;

	watch_syncs();
	use_config("{\"loadBalancingMode\":\"round-robin\",\"rateLimits\":"
	    "{\"perAccountRpm\":1000,\"globalRpm\":1000}}");
	before = tu_syncs();
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 3);
	ck_assert_int_eq(pick(NULL, 0), 1);
	ck_assert_int_eq(pick_full("auto", "soft", conv, NULL, NULL), 2);
	ck_assert_int_eq(strlen(conv), POOL_CONV_ID_LEN);
	clock_set_offset(POOL_STICKY_TOUCH);	/* a sticky refresh */
	ck_assert_int_eq(pick_full("auto", "soft", conv, NULL, NULL), 2);
	/* A plain success only tallies. */
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(tu_syncs(), before);
	ck_assert(has_record("pool/rr"));
	ck_assert(has_record("rate/1"));
	ck_assert(has_record("rate/global"));
	ck_assert(has_record("sticky/soft"));
	ck_assert(has_record("pool/index"));

	/* What matters is still synced: failures, tallies, operators. */
	ck_assert_int_eq(report(3, POOL_FAILURE, "boom", NULL), KF_OK);
	ck_assert_int_gt(tu_syncs(), before);
	before = tu_syncs();
	ck_assert_int_eq(report(2, POOL_SUCCESS, NULL, NULL), KF_OK);
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	ck_assert_int_gt(tu_syncs(), before);
	before = tu_syncs();
	ck_assert_int_eq(pool_disable(st, 1, "off", NULL), KF_OK);
	ck_assert_int_gt(tu_syncs(), before);
	before = tu_syncs();
	ck_assert_int_eq(report(3, POOL_THROTTLED, "slow", NULL), KF_OK);
	ck_assert_int_gt(tu_syncs(), before);
}
END_TEST

/*
 * Round-robin picks from several processes at once, each in its own
 * unsynced transaction: the cursor never loses a step, so the accounts
 * share the picks exactly evenly.
 */
START_TEST(pool_round_robin_unsynced_is_exact_across_processes)
{
	enum { N_PROCS = 4, N_PICKS = 30 };
	pid_t		pids[N_PROCS];
	long		count[4] = { 0, 0, 0, 0 };
	unsigned char	c;
	int		fds[2], i, j, status;

	use_config("{\"loadBalancingMode\":\"round-robin\"}");
	ck_assert_int_eq(pipe(fds), 0);
	for (i = 0; i < N_PROCS; i++) {
		if ((pids[i] = fork()) == 0) {
			struct store	*st2;
			long		 id;

			close(fds[0]);
			if (store_open(&st2, dir, NULL) != KF_OK)
				_exit(100);
			store_close(st);
			st = st2;
			for (j = 0; j < N_PICKS; j++) {
				if ((id = pick(NULL, 0)) < 1 || id > 3)
					child_exit(1);
				c = (unsigned char)id;
				if (write(fds[1], &c, 1) != 1)
					child_exit(1);
			}
			close(fds[1]);
			child_exit(0);
		}
		ck_assert_int_gt(pids[i], 0);
	}
	close(fds[1]);
	while (read(fds[0], &c, 1) == 1) {
		ck_assert(c >= 1 && c <= 3);
		count[c]++;
	}
	close(fds[0]);
	for (i = 0; i < N_PROCS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(count[i], N_PROCS * N_PICKS / 3);
}
END_TEST

/*
 * Model lists too long for the store to keep between transactions (over
 * 4 KB), so that every pick reads one under the lock after reading the
 * index without it: where another process's write can fall between.
 */
static void
set_long_catalogues(void)
{
	static char		 names[120][48];
	const char		*models[120];
	long			 id;
	size_t			 i;

	models[0] = "claude-sonnet-4.5";
	for (i = 1; i < 120; i++) {
		snprintf(names[i], sizeof(names[i]),
		    "some-model-with-a-long-name-%03zu", i);
		models[i] = names[i];
	}
	for (id = 1; id <= 3; id++)
		set_catalogue(id, models, 120);
}

static int	disable_armed;

/* The miss hook: once, another process disables account 2. */
static void
disable_two_in_child(void *arg)
{
	pid_t	pid;
	int	status;

	(void)arg;
	if (!disable_armed)
		return;
	disable_armed = 0;
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		child_exit(pool_disable(st, 2, NULL, NULL) == KF_OK ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * A pick that read the index (account 2 usable) without the lock, then
 * found that account 2 was disabled before it locked: it must decide
 * again, and not hand out account 2 with its disabled state.
 */
START_TEST(pool_pick_decides_again_when_its_reads_went_stale)
{
	struct pool_pick_req	req;
	struct account		a;
	struct account_state	s;
	unsigned long		flocks;

	set_long_catalogues();
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pool_pick_txns(), 1);

	disable_armed = 1;
	store_set_miss_hook(disable_two_in_child, NULL);
	memset(&req, 0, sizeof(req));
	req.model_id = "claude-sonnet-4.5";
	flocks = store_txn_flocks();
	ck_assert_int_eq(pool_pick(st, cfg, &req, &a, NULL), KF_OK);
	store_set_miss_hook(NULL, NULL);
	ck_assert_int_eq(disable_armed, 0);
	ck_assert_int_eq(a.cred.id, 3);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_OK);
	account_free(&a);
	/* The stale round, then one under the lock from its start. */
	ck_assert_int_eq(pool_pick_txns(), 2);
	ck_assert_uint_eq(store_txn_flocks() - flocks, 4);
	s = state_of(2);
	ck_assert_int_eq(s.disabled, ACCOUNT_MANUAL);
	account_state_free(&s);
}
END_TEST

/* The writer process's pipes: a byte on go asks for a flip, done acks. */
struct flipper {
	int	go;
	int	done;
	int	flips;
};

static void
flip_on_cue(void *arg)
{
	struct flipper	*f = arg;
	char		 c = 'f';

	ck_assert_int_eq(write(f->go, &c, 1), 1);
	ck_assert_int_eq(read(f->done, &c, 1), 1);
	f->flips++;
}

/* Disables account 2, enables it, and so on, once per byte on go. */
static void
flipper_run(int go, int done)
{
	char	c;
	int	n = 0;

	while (read(go, &c, 1) == 1) {
		if ((n++ % 2 == 0 ? pool_disable(st, 2, NULL, NULL) :
		    pool_enable(st, 2, NULL)) != KF_OK)
			child_exit(1);
		if (write(done, &c, 1) != 1)
			child_exit(1);
	}
	child_exit(0);
}

/*
 * Another process flips account 2 between disabled and enabled inside
 * every pick, after it read the index without the lock: each pick must
 * answer as the state after that flip says (2 when enabled, else 3),
 * with the account's state as of then.
 */
START_TEST(pool_picks_stay_consistent_under_a_flipping_writer)
{
	struct flipper	f;
	struct account	a;
	struct pool_pick_req req;
	int		go[2], done[2], i, status;
	pid_t		pid;

	set_long_catalogues();
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pick(NULL, 0), 2);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		flipper_run(go[0], done[1]);
	}
	close(go[0]);
	close(done[1]);
	f.go = go[1];
	f.done = done[0];
	f.flips = 0;
	store_set_miss_hook(flip_on_cue, &f);
	memset(&req, 0, sizeof(req));
	req.model_id = "claude-sonnet-4.5";
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(pool_pick(st, cfg, &req, &a, NULL), KF_OK);
		/* One flip in the lock-free round; none under the lock. */
		ck_assert_int_eq(f.flips, i + 1);
		ck_assert_int_eq(pool_pick_txns(), 2);
		ck_assert_int_eq(a.cred.id, f.flips % 2 == 1 ? 3 : 2);
		ck_assert_int_eq(a.state.disabled, ACCOUNT_OK);
		account_free(&a);
	}
	store_set_miss_hook(NULL, NULL);
	close(go[1]);
	close(done[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
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
	tcase_add_test(tc, pool_all_tried_says_so_and_names_the_rest);
	tcase_add_test(tc, pool_cooling_down_cause_names_no_account);
	tcase_add_test(tc, pool_empty_store_tells_how_to_add_one);
	tcase_add_test(tc, pool_balanced_picks_fewest_successes);
	tcase_add_test(tc, pool_round_robin_cycles_and_skips_disabled);
	tcase_add_test(tc, pool_priority_order_with_equal_priorities_by_id);
	tcase_add_test(tc, pool_index_follows_new_accounts_and_priorities);
	tcase_add_test(tc, pool_sticky_session_keeps_its_account_and_conversation);
	tcase_add_test(tc, pool_settings_win_over_the_configuration);
	tcase_add_test(tc, pool_sticky_is_shared_across_processes);
	tcase_add_test(tc, pool_sticky_record_rewritten_elsewhere_is_seen);
	tcase_add_test(tc, pool_opus_never_goes_to_a_free_plan);
	tcase_add_test(tc, pool_skips_an_account_whose_catalogue_lacks_the_model);
	tcase_add_test(tc, pool_cooldown_doubles_up_to_the_cap_and_success_resets);
	tcase_add_test(tc, pool_quota_disables_until_the_reset_date);
	tcase_add_test(tc, pool_quota_uses_the_reset_date_usage_gave);
	tcase_add_test(tc, pool_all_failed_accounts_heal_together);
	tcase_add_test(tc, pool_no_healing_when_another_reason_is_involved);
	tcase_add_test(tc, pool_min_interval_spreads_then_limits);
	tcase_add_test(tc, pool_per_account_rpm);
	tcase_add_test(tc, pool_global_rpm_across_processes);
	tcase_add_test(tc, pool_admin_operations_are_recorded);
	tcase_add_test(tc, pool_history_is_bounded);
	tcase_add_test(tc, pool_session_hash_sources);
	tcase_add_test(tc, pool_expired_sessions_are_pruned);
	tcase_add_test(tc, pool_soft_records_are_written_without_sync);
	tcase_add_test(tc, pool_round_robin_unsynced_is_exact_across_processes);
	tcase_add_test(tc, pool_pick_decides_again_when_its_reads_went_stale);
	tcase_add_test(tc, pool_picks_stay_consistent_under_a_flipping_writer);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
