/* test-clientkeys.c: unit tests for named client keys and their limits. */
#include "autoconfig.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "clientkeys.h"
#include "clock.h"
#include "conv.h"
#include "digest.h"
#include "err.h"
#include "pool.h"
#include "store.h"
#include "testutil.h"

/*
 * Covers: the key's shape and that the state file never holds it (only
 * its hash), names and fields refused, duplicates refused, list sorted
 * with usage and no key, authorisation by the key (unknown, disabled,
 * expired refused with a cause naming the key), the rpm window (refusal
 * with Retry-After, refused requests not counted, the window sliding),
 * monthly request and token quotas, a new month counting from zero,
 * model globs on either spelling, rotation killing the old key, removal,
 * tokens of a removed key dropped, two processes counting into one
 * window, and the stickiness hash told apart by the key's name.
 */

static char		*test_root;
static char		 test_dir[PATH_MAX];
static struct store	*st;

static void
setup(void)
{
	int	n;

	test_root = tu_tmpdir();
	n = snprintf(test_dir, sizeof(test_dir), "%s/state", test_root);
	ck_assert(n > 0 && (size_t)n < sizeof(test_dir));
	ck_assert_int_eq(store_open(&st, test_dir, NULL), KF_OK);
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	clock_set_offset(0);
	tu_rmrf(test_root);
	free(test_root);
	test_root = NULL;
}

static void
spec_init(struct clientkey *k, const char *name)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
}

static void
add_key(const char *name, long rpm, long long mreq, long long mtok,
    const char *models, char key[CLIENTKEYS_KEY_LEN + 1])
{
	struct clientkey	 k;
	char			*cause = NULL;

	spec_init(&k, name);
	k.rpm = rpm;
	k.monthly_requests = mreq;
	k.monthly_tokens = mtok;
	snprintf(k.models, sizeof(k.models), "%s", models);
	if (clientkeys_add(st, &k, key, &cause) != KF_OK)
		ck_abort_msg("clientkeys_add: %s", cause);
}

static int64_t
now_ms(void)
{
	return (int64_t)clock_now() * 1000;
}

static enum kf_err
auth(const char *key, int64_t when, long *retry, char **cause)
{
	struct clientkeys_grant	g;

	return clientkeys_authorise(st, key, when, &g, retry, cause);
}

START_TEST(clientkeys_key_is_shown_once_and_stored_as_hash)
{
	struct clientkey	 k;
	char			 key[CLIENTKEYS_KEY_LEN + 1], hash[65];
	char			 path[PATH_MAX + 16], *db;
	size_t			 i, len;
	FILE			*f;

	add_key("ci", 0, 0, 0, "", key);
	ck_assert_uint_eq(strlen(key), CLIENTKEYS_KEY_LEN);
	ck_assert(strncmp(key, "kf-", 3) == 0);
	for (i = 3; i < CLIENTKEYS_KEY_LEN; i++)
		ck_assert(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", key[i]) != NULL);
	ck_assert_int_eq(clientkeys_get(st, "ci", &k, NULL), KF_OK);
	sha256_hex(key, strlen(key), hash);
	ck_assert_str_eq(k.hash, hash);
	ck_assert_uint_eq(strlen(k.shown), 4);
	ck_assert(strncmp(k.shown, key, 4) == 0);
	ck_assert(k.created > 0);
	/* The file holds the hash, never the key's random part. */
	snprintf(path, sizeof(path), "%s/kiro.db", test_dir);
	store_close(st);
	st = NULL;
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	db = malloc(1 << 22);
	ck_assert_ptr_nonnull(db);
	len = fread(db, 1, 1 << 22, f);
	fclose(f);
	ck_assert_uint_gt(len, 0);
	ck_assert_ptr_null(memmem(db, len, key + 3, 20));
	ck_assert_ptr_nonnull(memmem(db, len, hash, 64));
	free(db);
	ck_assert_int_eq(store_open(&st, test_dir, NULL), KF_OK);
}
END_TEST

START_TEST(clientkeys_refuse_bad_fields)
{
	struct clientkey	 k;
	char			 key[CLIENTKEYS_KEY_LEN + 1], *cause = NULL;
	time_t			 t;

	spec_init(&k, "default");
	ck_assert_int_eq(clientkeys_add(st, &k, key, &cause), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, "bad key name"));
	free(cause);
	cause = NULL;
	spec_init(&k, "a/b");
	ck_assert_int_eq(clientkeys_add(st, &k, key, NULL), KF_EINVAL);
	spec_init(&k, "");
	ck_assert_int_eq(clientkeys_add(st, &k, key, NULL), KF_EINVAL);
	spec_init(&k, "ok");
	k.rpm = CLIENTKEYS_RPM_MAX + 1;
	ck_assert_int_eq(clientkeys_add(st, &k, key, NULL), KF_EINVAL);
	spec_init(&k, "ok");
	k.monthly_tokens = -1;
	ck_assert_int_eq(clientkeys_add(st, &k, key, NULL), KF_EINVAL);
	spec_init(&k, "ok");
	snprintf(k.models, sizeof(k.models), "claude-*,,gpt");
	ck_assert_int_eq(clientkeys_add(st, &k, key, &cause), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, "empty glob"));
	free(cause);
	cause = NULL;
	add_key("ok", 0, 0, 0, "", key);
	spec_init(&k, "ok");
	ck_assert_int_eq(clientkeys_add(st, &k, key, &cause), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, "exists"));
	free(cause);
	ck_assert_int_eq(clientkeys_parse_date("2026-02-30", &t), -1);
	ck_assert_int_eq(clientkeys_parse_date("2026-2-3", &t), -1);
	ck_assert_int_eq(clientkeys_parse_date("2026-01-02x", &t), -1);
	ck_assert_int_eq(clientkeys_parse_date("1970-01-02", &t), 0);
	ck_assert_int_eq(t, 86400);
}
END_TEST

START_TEST(clientkeys_auth_refuses_unknown_disabled_expired)
{
	struct clientkey	 k;
	struct clientkeys_grant	 g;
	char			 key[CLIENTKEYS_KEY_LEN + 1], *cause = NULL;
	long			 retry;

	add_key("ci", 0, 0, 0, "", key);
	ck_assert_int_eq(clientkeys_authorise(st, key, now_ms(), &g, &retry,
	    &cause), KF_OK);
	ck_assert_str_eq(g.name, "ci");
	ck_assert_int_eq(g.client, 1);
	/* Unknown keys, ours or not, carry no cause. */
	ck_assert_int_eq(auth("kf-nosuchkey", now_ms(), &retry, &cause),
	    KF_EAUTH);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(auth("sk-other", now_ms(), &retry, &cause), KF_EAUTH);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(clientkeys_set_disabled(st, "ci", 1, NULL), KF_OK);
	ck_assert_int_eq(auth(key, now_ms(), &retry, &cause), KF_EAUTH);
	ck_assert_str_eq(cause, "client key 'ci' is disabled");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(clientkeys_set_disabled(st, "ci", 0, NULL), KF_OK);
	ck_assert_int_eq(auth(key, now_ms(), &retry, NULL), KF_OK);
	spec_init(&k, "old");
	ck_assert_int_eq(clientkeys_parse_date("2020-01-01", &k.expires), 0);
	ck_assert_int_eq(clientkeys_add(st, &k, key, NULL), KF_OK);
	ck_assert_int_eq(auth(key, now_ms(), &retry, &cause), KF_EAUTH);
	ck_assert_str_eq(cause, "client key 'old' expired on 2020-01-01");
	free(cause);
	ck_assert_int_eq(clientkeys_set_disabled(st, "nosuch", 1, NULL),
	    KF_ENOTFOUND);
}
END_TEST

START_TEST(clientkeys_rpm_window_refuses_then_slides)
{
	struct clientkey	 k;
	char			 key[CLIENTKEYS_KEY_LEN + 1], *cause = NULL;
	int64_t			 t0 = now_ms();
	long			 retry = 0;

	add_key("ci", 2, 0, 0, "", key);
	ck_assert_int_eq(auth(key, t0, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 10000, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 20000, &retry, &cause), KF_ERATE);
	ck_assert_str_eq(cause, "client key 'ci' is over its limit of 2 "
	    "requests per minute");
	free(cause);
	/* The oldest leaves the window 40 s later. */
	ck_assert_int_eq(retry, 40);
	/* Refused requests are not counted. */
	ck_assert_int_eq(clientkeys_get(st, "ci", &k, NULL), KF_OK);
	ck_assert_int_eq(k.used_requests, 2);
	ck_assert_int_eq(auth(key, t0 + 60001, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 60002, &retry, NULL), KF_ERATE);
	ck_assert_int_eq(auth(key, t0 + 70001, &retry, NULL), KF_OK);

	/* Whole seconds: two in one second leave together. */
	add_key("burst", 3, 0, 0, "", key);
	t0 += 200000;
	ck_assert_int_eq(auth(key, t0, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 500, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 30000, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 40000, &retry, NULL), KF_ERATE);
	ck_assert_int_eq(retry, 20);
	ck_assert_int_eq(auth(key, t0 + 59999, &retry, NULL), KF_ERATE);
	ck_assert_int_eq(retry, 1);
	ck_assert_int_eq(auth(key, t0 + 60000, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 60001, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, t0 + 60002, &retry, NULL), KF_ERATE);
	ck_assert_int_eq(retry, 30);
}
END_TEST

START_TEST(clientkeys_monthly_quotas)
{
	struct clientkey	 k;
	char			 key[CLIENTKEYS_KEY_LEN + 1], *cause = NULL;
	char			 key2[CLIENTKEYS_KEY_LEN + 1];
	long			 retry;

	add_key("req", 0, 2, 0, "", key);
	ck_assert_int_eq(auth(key, now_ms(), &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, now_ms(), &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key, now_ms(), &retry, &cause), KF_EPERM);
	ck_assert_str_eq(cause, "client key 'req' is over its limit of 2 "
	    "requests per month");
	free(cause);
	cause = NULL;
	/* Next month counts from zero. */
	ck_assert_int_eq(auth(key, now_ms() + 32LL * 86400 * 1000, &retry,
	    NULL), KF_OK);

	/* The rpm window goes on over midnight at a month's end. */
	add_key("mid", 1, 5, 0, "", key2);
	ck_assert_int_eq(auth(key2, 1769903970000LL, &retry, NULL), KF_OK);
	ck_assert_int_eq(auth(key2, 1769904010000LL, &retry, NULL),
	    KF_ERATE);
	ck_assert_int_eq(retry, 20);
	ck_assert_int_eq(auth(key2, 1769904031000LL, &retry, NULL), KF_OK);

	add_key("tok", 0, 0, 100, "", key2);
	ck_assert_int_eq(auth(key2, now_ms(), &retry, NULL), KF_OK);
	ck_assert_int_eq(clientkeys_add_tokens(st, "tok", 60, NULL), KF_OK);
	ck_assert_int_eq(auth(key2, now_ms(), &retry, NULL), KF_OK);
	ck_assert_int_eq(clientkeys_add_tokens(st, "tok", 40, NULL), KF_OK);
	ck_assert_int_eq(auth(key2, now_ms(), &retry, &cause), KF_EPERM);
	ck_assert_str_eq(cause, "client key 'tok' is over its limit of 100 "
	    "tokens per month");
	free(cause);
	ck_assert_int_eq(clientkeys_get(st, "tok", &k, NULL), KF_OK);
	ck_assert_int_eq(k.used_tokens, 100);
	ck_assert_int_eq(k.used_requests, 2);
	ck_assert_int_eq(k.monthly_tokens, 100);
}
END_TEST

START_TEST(clientkeys_model_globs)
{
	struct clientkeys_grant	g;
	char			key[CLIENTKEYS_KEY_LEN + 1];
	long			retry;

	add_key("ci", 0, 0, 0, "claude-sonnet-*,gpt-4o", key);
	ck_assert_int_eq(clientkeys_authorise(st, key, now_ms(), &g, &retry,
	    NULL), KF_OK);
	ck_assert(clientkeys_model_allowed(&g, "claude-sonnet-4-5", NULL));
	ck_assert(clientkeys_model_allowed(&g, "gpt-4o", "claude-sonnet-4"));
	ck_assert(clientkeys_model_allowed(&g, "alias", "claude-sonnet-4.5"));
	ck_assert(!clientkeys_model_allowed(&g, "claude-opus-4", NULL));
	ck_assert(!clientkeys_model_allowed(&g, "gpt-4o-mini",
	    "claude-haiku-4.5"));
	/* apiKey, or a key without globs, allows every model. */
	memset(&g, 0, sizeof(g));
	ck_assert(clientkeys_model_allowed(&g, "anything", NULL));
}
END_TEST

START_TEST(clientkeys_rotate_and_remove)
{
	struct clientkey	*list;
	char			 key[CLIENTKEYS_KEY_LEN + 1];
	char			 key2[CLIENTKEYS_KEY_LEN + 1];
	char			 newkey[CLIENTKEYS_KEY_LEN + 1];
	size_t			 n;
	long			 retry;

	add_key("zeta", 0, 0, 0, "", key2);
	add_key("alpha", 5, 0, 0, "", key);
	ck_assert_int_eq(auth(key, now_ms(), &retry, NULL), KF_OK);
	ck_assert_int_eq(clientkeys_rotate(st, "alpha", newkey, NULL), KF_OK);
	ck_assert_str_ne(newkey, key);
	ck_assert_int_eq(auth(key, now_ms(), &retry, NULL), KF_EAUTH);
	ck_assert_int_eq(auth(newkey, now_ms(), &retry, NULL), KF_OK);
	ck_assert_int_eq(clientkeys_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].name, "alpha");
	ck_assert_str_eq(list[1].name, "zeta");
	/* Rotation keeps the limits and the month's count. */
	ck_assert_int_eq(list[0].rpm, 5);
	ck_assert_int_eq(list[0].used_requests, 2);
	free(list);
	ck_assert_int_eq(clientkeys_remove(st, "alpha", NULL), KF_OK);
	ck_assert_int_eq(auth(newkey, now_ms(), &retry, NULL), KF_EAUTH);
	ck_assert_int_eq(clientkeys_remove(st, "alpha", NULL), KF_ENOTFOUND);
	/* Tokens of a removed key leave no record behind. */
	ck_assert_int_eq(clientkeys_add_tokens(st, "alpha", 5, NULL), KF_OK);
	add_key("alpha", 0, 0, 0, "", key);
	ck_assert_int_eq(clientkeys_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(list[0].used_tokens, 0);
	ck_assert_int_eq(list[0].used_requests, 0);
	free(list);
}
END_TEST

START_TEST(clientkeys_two_processes_share_the_window)
{
	char	key[CLIENTKEYS_KEY_LEN + 1];
	int64_t	t0 = now_ms();
	pid_t	pid;
	struct clientkey	k;
	int	status, i;
	long	retry;

	add_key("ci", 10, 0, 0, "", key);
	pid = fork();
	ck_assert(pid != -1);
	if (pid == 0) {
		for (i = 0; i < 6; i++)
			(void)auth(key, t0 + i, &retry, NULL);
		_exit(0);
	}
	for (i = 0; i < 6; i++)
		(void)auth(key, t0 + i, &retry, NULL);
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Twelve tries, ten allowed, whatever the interleaving. */
	ck_assert_int_eq(clientkeys_get(st, "ci", &k, NULL), KF_OK);
	ck_assert_int_eq(k.used_requests, 10);
	ck_assert_int_eq(auth(key, t0 + 11, &retry, NULL), KF_ERATE);
}
END_TEST

START_TEST(clientkeys_session_hash_includes_the_key)
{
	struct conv	conv;
	char		plain[POOL_SESSION_LEN + 1], a[POOL_SESSION_LEN + 1];
	char		b[POOL_SESSION_LEN + 1], again[POOL_SESSION_LEN + 1];

	conv_init(&conv);
	conv.session_key = strdup("user-1");
	pool_session_hash(&conv, plain);
	conv.client_key = "ci";
	pool_session_hash(&conv, a);
	pool_session_hash(&conv, again);
	conv.client_key = "laptop";
	pool_session_hash(&conv, b);
	ck_assert_str_ne(plain, a);
	ck_assert_str_ne(a, b);
	ck_assert_str_eq(a, again);
	conv.client_key = NULL;
	conv_free(&conv);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("clientkeys");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, clientkeys_key_is_shown_once_and_stored_as_hash);
	tcase_add_test(tc, clientkeys_refuse_bad_fields);
	tcase_add_test(tc, clientkeys_auth_refuses_unknown_disabled_expired);
	tcase_add_test(tc, clientkeys_rpm_window_refuses_then_slides);
	tcase_add_test(tc, clientkeys_monthly_quotas);
	tcase_add_test(tc, clientkeys_model_globs);
	tcase_add_test(tc, clientkeys_rotate_and_remove);
	tcase_add_test(tc, clientkeys_two_processes_share_the_window);
	tcase_add_test(tc, clientkeys_session_hash_includes_the_key);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
