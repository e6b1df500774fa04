/* test-refresh.c: token refresh against the mock: rotation, locking, failures. */
#include "autoconfig.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "accounts.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "http.h"
#include "json.h"
#include "refresh.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

#define TAIL "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" \
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
#define RT_SOCIAL	"aorSOCIAL" TAIL
#define RT_IDC		"aorIDC" TAIL

static struct tu_mock	 mock;
static char		*dir;
static struct store	*st;
static struct config	*cfg;
static struct http	*h;

static void
mock_post(const char *path, const char *body)
{
	struct buf	out = BUF_INIT;

	ck_assert_msg(tu_mock_call(&mock, path, body, &out) == 200, "%s: %s",
	    path, out.ptr);
	buf_free(&out);
}

static long
refreshes(void)
{
	return tu_mock_stat(&mock, "refreshes");
}

/* Imports one credential; expired unless fresh is set. */
static long
import(const char *rt, enum cred_auth auth, int fresh, const char *path)
{
	struct cred		c;
	struct import_result	res;

	cred_init(&c);
	c.refresh_token = xstrdup(rt);
	c.auth_method = auth;
	if (auth == CRED_AUTH_IDC) {
		c.client_id = xstrdup("client-1");
		c.client_secret = xstrdup("secret-1");
	}
	if (fresh) {
		c.access_token = xstrdup("aoaFRESH");
		c.expires_at = clock_now() + 3600;
	}
	if (path != NULL) {
		c.source = xstrdup("file");
		c.source_path = xstrdup(path);
	}
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);
	return res.id;
}

static void
setup(void)
{
	char	*json;

	tu_mock_start(&mock);
	dir = tu_tmpdir();
	ck_assert_int_eq(store_open(&st, dir, NULL), KF_OK);
	json = xasprintf("{\"apiBaseUrl\":\"%s\",\"authBaseUrl\":\"%s\","
	    "\"oidcBaseUrl\":\"%s\"}", mock.base, mock.base, mock.base);
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	free(json);
	h = http_new();
}

static void
teardown(void)
{
	http_free(h);
	config_free(cfg);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
	tu_mock_stop(&mock);
}

START_TEST(refresh_social_rotates_and_stores)
{
	struct cred	 c;
	struct account	 a;
	long		 id;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\"}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 0, NULL);
	ck_assert_msg(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why) == KF_OK, "%s", why);
	ck_assert_ptr_nonnull(c.access_token);
	ck_assert_str_ne(c.refresh_token, RT_SOCIAL);	/* rotated */
	ck_assert_int_gt(c.expires_at, clock_now() + 3000);
	ck_assert_ptr_nonnull(c.profile_arn);
	ck_assert_int_eq(refreshes(), 1);
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_str_eq(a.cred.refresh_token, c.refresh_token);
	ck_assert_str_eq(a.cred.access_token, c.access_token);
	account_free(&a);
	cred_free(&c);
	/* Fresh now: nothing more is asked of the upstream. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_OK);
	ck_assert_int_eq(refreshes(), 1);
	cred_free(&c);
}
END_TEST

START_TEST(refresh_idc_uses_the_oidc_token_endpoint)
{
	struct cred	 c;
	long		 id;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_IDC "\","
	    "\"authMethod\":\"idc\",\"clientId\":\"client-1\","
	    "\"clientSecret\":\"secret-1\"}");
	id = import(RT_IDC, CRED_AUTH_IDC, 0, NULL);
	ck_assert_msg(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why) == KF_OK, "%s", why);
	ck_assert_ptr_nonnull(c.access_token);
	ck_assert_str_eq(c.client_id, "client-1");
	cred_free(&c);
}
END_TEST

START_TEST(refresh_resolve_profile_asks_list_available_profiles_once)
{
	struct cred	 c;
	struct account	 a;
	long		 id;
	char		*why = NULL;

	/* Two profiles: the one in the account's API region wins. */
	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"accessToken\":\"aoaFRESH\",\"authMethod\":\"social\","
	    "\"profiles\":[{\"arn\":\"arn:aws:codewhisperer:eu-central-1:1:"
	    "profile/EU\"},{\"arn\":\"arn:aws:codewhisperer:us-east-1:1:"
	    "profile/US\"}]}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 1, NULL);
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_ptr_null(a.cred.profile_arn);
	ck_assert_msg(refresh_resolve_profile(st, h, cfg, &a.cred, &why) ==
	    KF_OK, "%s", why);
	ck_assert_str_eq(a.cred.profile_arn,
	    "arn:aws:codewhisperer:us-east-1:1:profile/US");
	account_free(&a);
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 1);
	/* Stored: known from now on, no second call. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_OK);
	ck_assert_str_eq(c.profile_arn,
	    "arn:aws:codewhisperer:us-east-1:1:profile/US");
	ck_assert_int_eq(refresh_resolve_profile(st, h, cfg, &c, &why), KF_OK);
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 1);
	cred_free(&c);
}
END_TEST

START_TEST(refresh_resolve_profile_does_not_repeat_a_miss_at_once)
{
	struct account	 a;
	long		 id;
	char		*why = NULL;

	/* Kiro lists no profile: the next requests must not each ask. */
	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"accessToken\":\"aoaFRESH\",\"authMethod\":\"social\","
	    "\"profiles\":[]}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 1, NULL);
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_int_eq(refresh_resolve_profile(st, h, cfg, &a.cred, &why),
	    KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "listed none"));
	ck_assert_int_eq(refresh_resolve_profile(st, h, cfg, &a.cred, &why),
	    KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "minutes ago"));
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 1);
	/* Ten minutes on, it is asked again. */
	clock_set_offset(601);
	ck_assert_int_eq(refresh_resolve_profile(st, h, cfg, &a.cred, &why),
	    KF_EUPSTREAM);
	clock_set_offset(0);
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 2);
	ck_assert_ptr_null(a.cred.profile_arn);
	account_free(&a);
	free(why);
}
END_TEST

/* One request in flight: its own http handle, as each responder thread. */
struct profile_waiter {
	pthread_t	 thread;
	long		 id;
	enum kf_err	 er;
	char		*why;
};

static void *
profile_waiter_main(void *arg)
{
	struct profile_waiter	*w = arg;
	struct http		*wh = http_new();
	struct account		 a;

	ck_assert_int_eq(accounts_get(st, w->id, &a, NULL), KF_OK);
	w->er = refresh_resolve_profile(st, wh, cfg, &a.cred, &w->why);
	account_free(&a);
	http_free(wh);
	return NULL;
}

/* Requests blocked on the flock of path, as /proc/locks lists them. */
static int
lock_waiters(const char *path)
{
	struct stat	 sb;
	FILE		*f;
	char		 line[256], ino[32];
	int		 n = 0;

	ck_assert_int_eq(stat(path, &sb), 0);
	snprintf(ino, sizeof(ino), ":%lu ", (unsigned long)sb.st_ino);
	ck_assert_ptr_nonnull(f = fopen("/proc/locks", "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "->") != NULL && strstr(line, ino) != NULL)
			n++;
	fclose(f);
	return n;
}

START_TEST(refresh_resolve_profile_waiters_do_not_repeat_a_miss)
{
	struct profile_waiter	 w[2];
	char			 name[64], *path;
	long			 id;
	int			 fd, i;

	/*
	 * Two requests wait on the profile lock while a third holds it;
	 * the first to get it asks and finds none, the other must take
	 * that miss and not ask again (it did, before).
	 */
	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"accessToken\":\"aoaFRESH\",\"authMethod\":\"social\","
	    "\"profiles\":[]}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 1, NULL);
	snprintf(name, sizeof(name), "profile-%ld", id);
	path = xasprintf("%s/%s.lock", store_dir(st), name);
	ck_assert_int_ne(fd = store_lock_named(st, name, NULL), -1);
	for (i = 0; i < 2; i++) {
		w[i].id = id;
		w[i].why = NULL;
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL,
		    profile_waiter_main, &w[i]), 0);
	}
	/* Both past the first look at the misses, blocked in flock. */
	while (lock_waiters(path) < 2)
		usleep(1000);
	store_unlock_named(fd);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(w[i].thread, NULL), 0);
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 1);
	/* One reports the lookup, the other the remembered miss. */
	ck_assert_int_eq(w[0].er == KF_EUPSTREAM ? w[1].er : w[0].er,
	    KF_ENOTFOUND);
	ck_assert_int_eq(w[0].er == KF_ENOTFOUND ? w[1].er : w[0].er,
	    KF_EUPSTREAM);
	for (i = 0; i < 2; i++)
		free(w[i].why);
	free(path);
}
END_TEST

START_TEST(refresh_resolve_profile_never_asks_for_builder_id)
{
	struct account	 a;
	long		 id;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_IDC "\","
	    "\"accessToken\":\"aoaFRESH\",\"authMethod\":\"idc\","
	    "\"clientId\":\"client-1\",\"clientSecret\":\"secret-1\"}");
	id = import(RT_IDC, CRED_AUTH_IDC, 1, NULL);
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_int_eq(refresh_resolve_profile(st, h, cfg, &a.cred, &why),
	    KF_OK);
	ck_assert_ptr_null(a.cred.profile_arn);
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 0);
	account_free(&a);
}
END_TEST

START_TEST(refresh_concurrent_processes_refresh_once)
{
	struct cred	 c;
	pid_t		 kids[6];
	long		 id;
	int		 i, status, ok = 0;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\",\"refreshDelayMs\":300}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 0, NULL);
	for (i = 0; i < 6; i++) {
		if ((kids[i] = fork()) == 0) {
			struct http	*kh = http_new();
			int		 rc;

			rc = refresh_ensure(st, kh, cfg, id,
			    REFRESH_AHEAD_REQUEST, NULL, &c, NULL) == KF_OK &&
			    c.access_token != NULL;
			http_free(kh);
			_exit(rc ? 0 : 1);
		}
		ck_assert_int_gt(kids[i], 0);
	}
	for (i = 0; i < 6; i++) {
		waitpid(kids[i], &status, 0);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	ck_assert_int_eq(ok, 6);
	ck_assert_int_eq(refreshes(), 1);
	/* And threads of this process see the same, still fresh, token. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_OK);
	ck_assert_int_eq(refreshes(), 1);
	cred_free(&c);
}
END_TEST

START_TEST(refresh_forced_only_for_the_failed_token)
{
	struct cred	 c;
	long		 id;
	char		*why = NULL, *first;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\"}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 1, NULL);
	/* Somebody else already replaced the token that failed. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    "aoaSTALE", &c, &why), KF_OK);
	ck_assert_str_eq(c.access_token, "aoaFRESH");
	ck_assert_int_eq(refreshes(), 0);
	cred_free(&c);
	/* The stored token itself failed: refresh. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    "aoaFRESH", &c, &why), KF_OK);
	ck_assert_str_ne(c.access_token, "aoaFRESH");
	ck_assert_int_eq(refreshes(), 1);
	first = xstrdup(c.access_token);
	cred_free(&c);
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_OK);
	ck_assert_str_eq(c.access_token, first);
	free(first);
	cred_free(&c);
}
END_TEST

START_TEST(refresh_invalid_grant_needs_a_new_login)
{
	struct cred	 c;
	struct account	 a;
	long		 id;
	char		*why = NULL;

	/* The mock has never heard of this token: invalid_grant. */
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 0, NULL);
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "new login"));
	ck_assert_ptr_null(strstr(why, RT_SOCIAL));
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_INVALID_REFRESH_TOKEN);
	ck_assert_str_eq(account_state_word(&a, clock_now()), "needs-login");
	account_free(&a);
	free(why);
	why = NULL;
	/* And it is not tried again. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_ELOGIN);
	ck_assert_int_eq(refreshes(), 1);
	free(why);
}
END_TEST

/* An API key is never refreshed; a refused one disables its account. */
START_TEST(refresh_refused_api_key_disables_without_a_call)
{
	struct cred		 c;
	struct account		 a;
	struct import_result	 res;
	time_t			 first_at;
	char			*why = NULL;

	cred_init(&c);
	c.auth_method = CRED_AUTH_API_KEY;
	c.kiro_api_key = xstrdup("ksk_UNITKEY" TAIL);
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);
	ck_assert_msg(refresh_ensure(st, h, cfg, res.id, REFRESH_AHEAD_CRON,
	    NULL, &c, &why) == KF_OK, "%s", why);
	ck_assert_str_eq(c.kiro_api_key, "ksk_UNITKEY" TAIL);
	cred_free(&c);
	/* The key itself was refused: out of service, no refresh call. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, res.id,
	    REFRESH_AHEAD_REQUEST, "", &c, &why), KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "API key"));
	ck_assert_ptr_null(strstr(why, "ksk_UNITKEY"));
	ck_assert_int_eq(refreshes(), 0);
	ck_assert_int_eq(tu_mock_stat(&mock, "requests"), 0);
	ck_assert_int_eq(accounts_get(st, res.id, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(a.state.disabled_detail,
	    "refused the API key"));
	ck_assert_int_eq(account_usable(&a, clock_now()), 0);
	first_at = a.state.disabled_at;
	account_free(&a);
	free(why);
	why = NULL;
	/*
	 * Another request in flight with the key, a minute later: the
	 * account was disabled once, and stays as it was.
	 */
	clock_set_offset(60);
	ck_assert_int_eq(refresh_ensure(st, h, cfg, res.id,
	    REFRESH_AHEAD_REQUEST, "", &c, &why), KF_ELOGIN);
	clock_set_offset(0);
	ck_assert_ptr_nonnull(strstr(why, "refused the API key"));
	ck_assert_int_eq(accounts_get(st, res.id, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_INVALID_CONFIG);
	ck_assert_int_eq(a.state.disabled_at, first_at);
	ck_assert_int_eq(tu_mock_stat(&mock, "requests"), 0);
	account_free(&a);
	free(why);
}
END_TEST

START_TEST(refresh_transient_failures_are_counted)
{
	struct cred	 c;
	struct account	 a;
	long		 id;
	int		 i;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\",\"failRefresh\":{\"status\":500,"
	    "\"times\":-1}}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 0, NULL);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(refresh_ensure(st, h, cfg, id,
		    REFRESH_AHEAD_REQUEST, NULL, &c, &why), KF_EUPSTREAM);
		free(why);
		why = NULL;
	}
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.refresh_failures, 3);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_TOO_MANY_REFRESH_FAILURES);
	account_free(&a);
}
END_TEST

START_TEST(refresh_writes_rotated_tokens_back_to_the_file)
{
	struct cred	 c;
	json_object	*v = NULL;
	const char	*rt, *at;
	char		*path, *text, *why = NULL;
	long		 id;

	ck_assert_int_ne(asprintf(&path, "%s/creds.json", dir), -1);
	tu_write_file(path, "[{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\",\"note\":\"mine\"}]");
	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\"}");
	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 0, path);
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_OK);
	text = tu_read_file(path);
	ck_assert_int_eq(json_parse(text, strlen(text), 16, &v, NULL), KF_OK);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(v, 0),
	    "refreshToken", &rt), 1);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(v, 0),
	    "accessToken", &at), 1);
	ck_assert_str_eq(rt, c.refresh_token);
	ck_assert_str_eq(at, c.access_token);
	ck_assert_ptr_nonnull(strstr(text, "\"mine\""));
	json_object_put(v);
	free(text);
	free(path);
	cred_free(&c);
}
END_TEST

START_TEST(refresh_truncated_token_is_refused_without_a_call)
{
	struct store_txn	*txn;
	struct cred		 c;
	struct account		 a;
	long			 id;
	char			*why = NULL;

	id = import(RT_SOCIAL, CRED_AUTH_SOCIAL, 0, NULL);
	/* An old state file may hold a token cut by the IDE. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, id, &a, NULL), KF_OK);
	free(a.cred.refresh_token);
	a.cred.refresh_token = xstrdup("aorAAAA...cut");
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	account_free(&a);
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "truncated"));
	ck_assert_int_eq(refreshes(), 0);
	free(why);
}
END_TEST

START_TEST(refresh_needed_by_expiry)
{
	struct cred	c;

	cred_init(&c);
	ck_assert_int_eq(refresh_needed(&c, 600, 1000), 1);	/* no token */
	c.access_token = xstrdup("t");
	c.expires_at = 1000 + 601;
	ck_assert_int_eq(refresh_needed(&c, 600, 1000), 0);
	c.expires_at = 1000 + 600;
	ck_assert_int_eq(refresh_needed(&c, 600, 1000), 1);
	c.auth_method = CRED_AUTH_API_KEY;
	ck_assert_int_eq(refresh_needed(&c, 600, 1000), 0);
	cred_free(&c);
}
END_TEST

START_TEST(refresh_idle_by_last_refresh)
{
	struct cred	c;
	time_t		now = 100000;

	cred_init(&c);
	c.access_token = xstrdup("t");
	c.expires_at = now + 20 * 3600;		/* valid for long */
	c.refreshed_at = now - 4 * 3600;
	/* An access token alone has no refresh token to keep alive. */
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600, now), 0);
	c.refresh_token = xstrdup(RT_SOCIAL);
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600, now), 1);
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600 + 1, now), 0);
	ck_assert_int_eq(refresh_idle(&c, 0, now), 0);		/* off */
	/* Never refreshed here: the token is an hour old at expiry. */
	c.refreshed_at = 0;
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600, now), 0);
	c.expires_at = now - 3 * 3600;
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600, now), 1);
	/* Only social refresh tokens die idle. */
	c.refreshed_at = now - 10 * 3600;
	c.auth_method = CRED_AUTH_IDC;
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600, now), 0);
	c.auth_method = CRED_AUTH_API_KEY;
	ck_assert_int_eq(refresh_idle(&c, 4 * 3600, now), 0);
	cred_free(&c);
}
END_TEST

/* Imports a social account valid for a day, last refreshed hours_ago. */
static long
import_idle(const char *rt, long hours_ago)
{
	struct cred		c;
	struct import_result	res;

	cred_init(&c);
	c.refresh_token = xstrdup(rt);
	c.access_token = xstrdup("aoaFRESH");
	c.expires_at = clock_now() + 24 * 3600;
	c.refreshed_at = clock_now() - hours_ago * 3600;
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);
	return res.id;
}

START_TEST(refresh_cron_refreshes_idle_social_accounts)
{
	struct cred	 c;
	struct account	 a;
	long		 id;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\"}");
	id = import_idle(RT_SOCIAL, 5);
	/* A request does not refresh a valid token, however idle. */
	ck_assert_int_eq(refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why), KF_OK);
	ck_assert_str_eq(c.access_token, "aoaFRESH");
	cred_free(&c);
	ck_assert_int_eq(refreshes(), 0);
	/* kiroctl refresh does, past idleRefreshHours (default 4). */
	ck_assert_msg(refresh_cron(st, h, cfg, id, &c, &why) == KF_OK, "%s",
	    why);
	ck_assert_str_ne(c.access_token, "aoaFRESH");
	cred_free(&c);
	ck_assert_int_eq(refreshes(), 1);
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_int_ge(a.cred.refreshed_at, clock_now() - 60);
	ck_assert_int_le(a.cred.refreshed_at, clock_now());
	account_free(&a);
	/* Just refreshed: not idle any more. */
	ck_assert_int_eq(refresh_cron(st, h, cfg, id, &c, &why), KF_OK);
	cred_free(&c);
	ck_assert_int_eq(refreshes(), 1);
}
END_TEST

START_TEST(refresh_cron_leaves_recent_or_switched_off_accounts)
{
	struct cred	 c;
	long		 id;
	char		*why = NULL;

	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\"}");
	id = import_idle(RT_SOCIAL, 3);
	ck_assert_int_eq(refresh_cron(st, h, cfg, id, &c, &why), KF_OK);
	ck_assert_str_eq(c.access_token, "aoaFRESH");
	cred_free(&c);
	cfg->idle_refresh_hours = 2;
	ck_assert_msg(refresh_cron(st, h, cfg, id, &c, &why) == KF_OK, "%s",
	    why);
	ck_assert_str_ne(c.access_token, "aoaFRESH");
	cred_free(&c);
	ck_assert_int_eq(refreshes(), 1);
	/* 0 turns it off. */
	cfg->idle_refresh_hours = 0;
	id = import_idle("aorOTHER" TAIL, 100);
	ck_assert_int_eq(refresh_cron(st, h, cfg, id, &c, &why), KF_OK);
	ck_assert_str_eq(c.access_token, "aoaFRESH");
	cred_free(&c);
	ck_assert_int_eq(refreshes(), 1);
}
END_TEST

/* An IDE token file is written back only when the account opted in. */
START_TEST(refresh_ide_file_written_back_only_with_sync)
{
	struct cred		 c;
	struct import_result	 res;
	json_object		*v = NULL;
	const char		*s;
	char			*path, *text, *old, *why = NULL;
	static const char	 ide[] = "{\"accessToken\":\"aoaOLD\","
	    "\"refreshToken\":\"" RT_SOCIAL "\",\"expiresAt\":"
	    "\"2020-01-01T00:00:00.000Z\",\"authMethod\":\"social\","
	    "\"provider\":\"Google\"}";

	ck_assert_int_ne(asprintf(&path, "%s/kiro-auth-token.json", dir), -1);
	tu_write_file(path, ide);
	mock_post("/_mock/accounts", "{\"refreshToken\":\"" RT_SOCIAL "\","
	    "\"authMethod\":\"social\"}");
	ck_assert_msg(cred_load_ide_cache(path, &c, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);
	/* Not opted in: the IDE's file stays as it was. */
	ck_assert_msg(refresh_ensure(st, h, cfg, res.id, REFRESH_AHEAD_REQUEST,
	    NULL, &c, &why) == KF_OK, "%s", why);
	ck_assert_str_ne(c.refresh_token, RT_SOCIAL);
	text = tu_read_file(path);
	ck_assert_str_eq(text, ide);
	free(text);
	/*
	 * Opted in, the IDE holding the current token: the next rotation
	 * reaches the file, its other keys kept.
	 */
	text = xasprintf("{\"accessToken\":\"%s\",\"refreshToken\":\"%s\","
	    "\"expiresAt\":\"2020-01-01T00:00:00.000Z\",\"authMethod\":"
	    "\"social\",\"provider\":\"Google\"}", c.access_token,
	    c.refresh_token);
	tu_write_file(path, text);
	free(text);
	ck_assert_int_eq(accounts_set_ide_sync(st, res.id, path, NULL), KF_OK);
	old = xstrdup(c.access_token);
	cred_free(&c);
	ck_assert_msg(refresh_ensure(st, h, cfg, res.id, REFRESH_AHEAD_REQUEST,
	    old, &c, &why) == KF_OK, "%s", why);
	free(old);
	text = tu_read_file(path);
	ck_assert_int_eq(json_parse(text, strlen(text), 16, &v, NULL), KF_OK);
	ck_assert_int_eq(json_get_str(v, "refreshToken", &s), 1);
	ck_assert_str_eq(s, c.refresh_token);
	ck_assert_int_eq(json_get_str(v, "accessToken", &s), 1);
	ck_assert_str_eq(s, c.access_token);
	ck_assert_int_eq(json_get_str(v, "provider", &s), 1);
	ck_assert_str_eq(s, "Google");
	ck_assert_int_eq(json_get_str(v, "expiresAt", &s), 1);
	ck_assert_str_ne(s, "2020-01-01T00:00:00.000Z");
	ck_assert_int_eq(refreshes(), 2);
	json_object_put(v);
	free(text);
	free(path);
	cred_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("refresh");
	TCase	*tc = tcase_create("refresh");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, refresh_social_rotates_and_stores);
	tcase_add_test(tc, refresh_idc_uses_the_oidc_token_endpoint);
	tcase_add_test(tc, refresh_resolve_profile_asks_list_available_profiles_once);
	tcase_add_test(tc, refresh_resolve_profile_does_not_repeat_a_miss_at_once);
	tcase_add_test(tc, refresh_resolve_profile_waiters_do_not_repeat_a_miss);
	tcase_add_test(tc, refresh_resolve_profile_never_asks_for_builder_id);
	tcase_add_test(tc, refresh_concurrent_processes_refresh_once);
	tcase_add_test(tc, refresh_forced_only_for_the_failed_token);
	tcase_add_test(tc, refresh_invalid_grant_needs_a_new_login);
	tcase_add_test(tc, refresh_refused_api_key_disables_without_a_call);
	tcase_add_test(tc, refresh_transient_failures_are_counted);
	tcase_add_test(tc, refresh_writes_rotated_tokens_back_to_the_file);
	tcase_add_test(tc, refresh_ide_file_written_back_only_with_sync);
	tcase_add_test(tc, refresh_truncated_token_is_refused_without_a_call);
	tcase_add_test(tc, refresh_needed_by_expiry);
	tcase_add_test(tc, refresh_idle_by_last_refresh);
	tcase_add_test(tc, refresh_cron_refreshes_idle_social_accounts);
	tcase_add_test(tc, refresh_cron_leaves_recent_or_switched_off_accounts);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
