/* test-usage.c: getUsageLimits parsing, the 5-minute cache, what it changes. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "accounts.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "http.h"
#include "json.h"
#include "store.h"
#include "testutil.h"
#include "usage.h"
#include "xmalloc.h"

#define TAIL "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" \
	"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
#define RT	"aorUSAGE" TAIL
#define AT	"aoaUSAGEACCESS"

static enum kf_err
parse(const char *json, struct usage *u, char **why)
{
	return usage_parse(json, strlen(json), 1000, u, why);
}

START_TEST(usage_parse_plain_breakdown)
{
	struct usage	u;
	char		*why = NULL;

	ck_assert_msg(parse("{\"nextDateReset\":1767225600.0,"
	    "\"subscriptionInfo\":{\"subscriptionTitle\":\"KIRO PRO\"},"
	    "\"userInfo\":{\"email\":\"a@example.com\"},"
	    "\"usageBreakdownList\":[{\"resourceType\":\"CREDIT\","
	    "\"currentUsage\":12,\"currentUsageWithPrecision\":12.5,"
	    "\"usageLimit\":50,\"usageLimitWithPrecision\":50.0}]}", &u, &why)
	    == KF_OK, "%s", why);
	ck_assert_str_eq(u.subscription, "KIRO PRO");
	ck_assert_str_eq(u.email, "a@example.com");
	ck_assert_double_eq_tol(u.used, 12.5, 1e-9);
	ck_assert_double_eq_tol(u.limit, 50, 1e-9);
	ck_assert_double_eq_tol(u.remaining, 37.5, 1e-9);
	ck_assert_double_eq_tol(u.percentage, 25, 1e-9);
	ck_assert_int_eq(u.next_reset, 1767225600);
	ck_assert_int_eq(u.fetched_at, 1000);
	usage_free(&u);
}
END_TEST

START_TEST(usage_parse_adds_active_trial_and_bonuses_only)
{
	struct usage	u;
	char		*why = NULL;

	/* The CREDIT entry is chosen even when it is not the first. */
	ck_assert_msg(parse("{\"usageBreakdownList\":["
	    "{\"resourceType\":\"OTHER\",\"currentUsage\":999,"
	    "\"usageLimit\":1},"
	    "{\"resourceType\":\"CREDIT\",\"currentUsage\":10,"
	    "\"usageLimit\":50,\"nextDateReset\":5000,"
	    "\"freeTrialInfo\":{\"freeTrialStatus\":\"ACTIVE\","
	    "\"currentUsageWithPrecision\":5.5,\"usageLimitWithPrecision\":500},"
	    "\"bonuses\":[{\"status\":\"ACTIVE\",\"currentUsage\":1,"
	    "\"usageLimit\":100},{\"status\":\"EXPIRED\",\"currentUsage\":7,"
	    "\"usageLimit\":70}]}]}", &u, &why) == KF_OK, "%s", why);
	ck_assert_ptr_null(u.subscription);
	ck_assert_ptr_null(u.email);
	ck_assert_double_eq_tol(u.used, 16.5, 1e-9);
	ck_assert_double_eq_tol(u.limit, 650, 1e-9);
	ck_assert_double_eq_tol(u.remaining, 633.5, 1e-9);
	ck_assert_int_eq(u.next_reset, 5000);
	usage_free(&u);
	/* Expired trial: not counted; over the limit: 0 left, 100 %. */
	ck_assert_int_eq(parse("{\"usageBreakdownList\":[{"
	    "\"currentUsage\":80,\"usageLimit\":50,\"freeTrialInfo\":"
	    "{\"freeTrialStatus\":\"EXPIRED\",\"currentUsage\":1,"
	    "\"usageLimit\":500}}]}", &u, NULL), KF_OK);
	ck_assert_double_eq_tol(u.limit, 50, 1e-9);
	ck_assert_double_eq_tol(u.remaining, 0, 1e-9);
	ck_assert_double_eq_tol(u.percentage, 100, 1e-9);
	usage_free(&u);
	/* No breakdown at all: zeros, not a division by zero. */
	ck_assert_int_eq(parse("{\"limits\":[]}", &u, NULL), KF_OK);
	ck_assert_double_eq_tol(u.percentage, 0, 1e-9);
	usage_free(&u);
}
END_TEST

START_TEST(usage_parse_refuses_nonsense_naming_the_field)
{
	static const struct {
		const char	*json;
		const char	*word;
	} cases[] = {
		{ "[]", "not a JSON object" },
		{ "{\"usageBreakdownList\":[{\"usageLimit\":", "JSON" },
		{ "{\"usageBreakdownList\":{}}", "usageBreakdownList" },
		{ "{\"subscriptionInfo\":\"PRO\"}", "subscriptionInfo" },
		{ "{\"usageBreakdownList\":[{\"currentUsage\":\"12\"}]}",
		    "currentUsage" },
		{ "{\"usageBreakdownList\":[{\"currentUsage\":1,\"usageLimit\":2,"
		    "\"freeTrialInfo\":{\"freeTrialStatus\":\"ACTIVE\","
		    "\"usageLimit\":true}}]}", "freeTrialInfo" },
		{ "{\"usageBreakdownList\":[{\"bonuses\":[{\"status\":\"ACTIVE\","
		    "\"currentUsage\":[]}]}]}", "bonuses[0]" },
		/* Found by fuzz-usage: a negative count, a negative percentage. */
		{ "{\"usageBreakdownList\":[{\"currentUsage\":-3008e80,"
		    "\"usageLimit\":50}]}", "non-negative" },
		{ "{\"usageBreakdownList\":[{\"currentUsageWithPrecision\":-0.5,"
		    "\"usageLimit\":50}]}", "non-negative" },
		{ "{\"usageBreakdownList\":[{\"currentUsage\":1,"
		    "\"usageLimit\":1e308,\"freeTrialInfo\":{\"freeTrialStatus\":"
		    "\"ACTIVE\",\"usageLimit\":1e308}}]}", "beyond" },
	};
	struct usage	u;
	char		*why = NULL;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(parse(cases[i].json, &u, &why), KF_EUPSTREAM);
		ck_assert_msg(strstr(why, cases[i].word) != NULL,
		    "case %zu: %s", i, why);
		ck_assert_ptr_null(u.subscription);
		free(why);
		why = NULL;
	}
}
END_TEST

START_TEST(usage_json_round_trips)
{
	struct usage	 u, back;
	json_object	*o;

	memset(&u, 0, sizeof(u));
	u.id = 7;
	u.subscription = xstrdup("KIRO FREE");
	u.email = xstrdup("x@example.com");
	u.used = 1.25;
	u.limit = 50;
	u.remaining = 48.75;
	u.percentage = 2.5;
	u.next_reset = 1767225600;
	u.fetched_at = 12345;
	o = usage_to_json(&u);
	ck_assert_int_eq(usage_from_json(o, &back, NULL), KF_OK);
	ck_assert_int_eq(back.id, 7);
	ck_assert_str_eq(back.subscription, "KIRO FREE");
	ck_assert_str_eq(back.email, "x@example.com");
	ck_assert_double_eq_tol(back.remaining, 48.75, 1e-9);
	ck_assert_int_eq(back.next_reset, 1767225600);
	ck_assert_int_eq(back.fetched_at, 12345);
	json_object_put(o);
	usage_free(&back);
	usage_free(&u);
	o = json_str("nope");
	ck_assert_int_eq(usage_from_json(o, &back, NULL), KF_ESTORE);
	json_object_put(o);
}
END_TEST

/* Against the mock: the cache, the account's plan, quota and suspension. */
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

static void
setup(void)
{
	struct cred		c;
	struct import_result	res;
	char			*json;

	tu_mock_start(&mock);
	dir = tu_tmpdir();
	ck_assert_int_eq(store_open(&st, dir, NULL), KF_OK);
	json = xasprintf("{\"apiBaseUrl\":\"%s\",\"authBaseUrl\":\"%s\","
	    "\"oidcBaseUrl\":\"%s\"}", mock.base, mock.base, mock.base);
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	free(json);
	h = http_new();
	mock_post("/_mock/accounts", "{\"id\":\"u\",\"refreshToken\":\"" RT
	    "\",\"accessToken\":\"" AT "\",\"authMethod\":\"social\"}");
	cred_init(&c);
	c.refresh_token = xstrdup(RT);
	c.access_token = xstrdup(AT);
	c.expires_at = clock_now() + 3600;
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(res.id, 1);
	cred_free(&c);
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

START_TEST(usage_get_caches_and_notes_the_plan)
{
	struct usage	 u;
	struct account	 a;
	char		*why = NULL;
	int		 cached = -1;

	mock_post("/_mock/accounts/usage", "{\"id\":\"u\","
	    "\"subscriptionTitle\":\"KIRO FREE\",\"currentUsageWithPrecision\":"
	    "20,\"usageLimitWithPrecision\":80,\"email\":\"who@example.com\"}");
	ck_assert_msg(usage_get(st, h, cfg, 1, 0, &u, &cached, &why) == KF_OK,
	    "%s", why);
	ck_assert_int_eq(cached, 0);
	ck_assert_str_eq(u.subscription, "KIRO FREE");
	ck_assert_double_eq_tol(u.remaining, 60, 1e-9);
	ck_assert_double_eq_tol(u.percentage, 25, 1e-9);
	ck_assert_int_eq(u.id, 1);
	usage_free(&u);
	ck_assert_int_eq(tu_mock_stat(&mock, "usage"), 1);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_str_eq(a.state.subscription, "KIRO FREE");
	ck_assert_str_eq(a.cred.email, "who@example.com");
	account_free(&a);
	/* Within 5 minutes: from the store, no call. */
	ck_assert_int_eq(usage_get(st, h, cfg, 1, 0, &u, &cached, NULL), KF_OK);
	ck_assert_int_eq(cached, 1);
	ck_assert_str_eq(u.subscription, "KIRO FREE");
	usage_free(&u);
	ck_assert_int_eq(tu_mock_stat(&mock, "usage"), 1);
	/* Forced: a new call that sees the new plan. */
	mock_post("/_mock/accounts/usage", "{\"id\":\"u\","
	    "\"subscriptionTitle\":\"KIRO PRO\"}");
	ck_assert_int_eq(usage_get(st, h, cfg, 1, 1, &u, &cached, NULL), KF_OK);
	ck_assert_int_eq(cached, 0);
	ck_assert_str_eq(u.subscription, "KIRO PRO");
	usage_free(&u);
	ck_assert_int_eq(tu_mock_stat(&mock, "usage"), 2);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_str_eq(a.state.subscription, "KIRO PRO");
	account_free(&a);
}
END_TEST

START_TEST(usage_cached_all_reads_the_cache_only)
{
	struct usage		 u, *list = NULL;
	struct store_txn	*txn = NULL;
	size_t			 n = 99;
	char			*why = NULL;

	/* Nothing cached yet: an empty list, and no call. */
	ck_assert_int_eq(usage_cached_all(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 0);
	free(list);
	mock_post("/_mock/accounts/usage", "{\"id\":\"u\","
	    "\"currentUsageWithPrecision\":20,\"usageLimitWithPrecision\":80}");
	ck_assert_msg(usage_get(st, h, cfg, 1, 0, &u, NULL, &why) == KF_OK,
	    "%s", why);
	usage_free(&u);
	/* A corrupt record and a stray key are skipped. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "usage/7", "nonsense", 8), KF_OK);
	ck_assert_int_eq(store_put(txn, "usage/x", "{}", 2), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(usage_cached_all(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(list[0].id, 1);
	ck_assert_double_eq_tol(list[0].used, 20, 1e-9);
	ck_assert_double_eq_tol(list[0].remaining, 60, 1e-9);
	usage_free(&list[0]);
	free(list);
	ck_assert_int_eq(tu_mock_stat(&mock, "usage"), 1);
}
END_TEST

/* The host of the mock's last getUsageLimits call ("runtime", ...). */
static char *
last_usage_host(void)
{
	struct buf	 out = BUF_INIT;
	json_object	*log = NULL, *e;
	const char	*host;
	char		*copy;

	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/requests?op=getUsageLimits",
	    NULL, &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 64, &log, NULL), KF_OK);
	ck_assert_uint_gt(json_object_array_length(log), 0);
	e = json_object_array_get_idx(log,
	    json_object_array_length(log) - 1);
	copy = xstrdup(json_get_str(e, "host", &host) == 1 ? host : "none");
	json_object_put(log);
	buf_free(&out);
	return copy;
}

START_TEST(usage_get_follows_the_accounts_host)
{
	struct cred		 c;
	struct import_result	 res;
	struct usage		 u;
	char			*why = NULL, *host;

	free(cfg->api_base_url);
	cfg->api_base_url = xasprintf("%s/runtime", mock.base);
	free(cfg->legacy_api_base_url);
	cfg->legacy_api_base_url = xasprintf("%s/legacy", mock.base);
	mock_post("/_mock/accounts", "{\"id\":\"i\",\"refreshToken\":\""
	    "idc" RT "\",\"accessToken\":\"idc" AT "\",\"authMethod\":"
	    "\"idc\",\"clientId\":\"cid\",\"clientSecret\":\"cs\"}");
	cred_init(&c);
	c.auth_method = CRED_AUTH_IDC;
	c.refresh_token = xstrdup("idc" RT);
	c.access_token = xstrdup("idc" AT);
	c.client_id = xstrdup("cid");
	c.client_secret = xstrdup("cs");
	c.expires_at = clock_now() + 3600;
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);

	/* Social: the runtime host; Builder ID: the legacy one (§12). */
	ck_assert_msg(usage_get(st, h, cfg, 1, 1, &u, NULL, &why) == KF_OK,
	    "%s", why);
	usage_free(&u);
	ck_assert_str_eq(host = last_usage_host(), "runtime");
	free(host);
	ck_assert_msg(usage_get(st, h, cfg, 2, 1, &u, NULL, &why) == KF_OK,
	    "%s", why);
	usage_free(&u);
	ck_assert_str_eq(host = last_usage_host(), "legacy");
	free(host);
	/* A remembered switch moves the usage calls too. */
	ck_assert_int_eq(accounts_set_route(st, 1, API_HOST_LEGACY,
	    API_STYLE_PATH, 1, NULL), KF_OK);
	ck_assert_msg(usage_get(st, h, cfg, 1, 1, &u, NULL, &why) == KF_OK,
	    "%s", why);
	usage_free(&u);
	ck_assert_str_eq(host = last_usage_host(), "legacy");
	free(host);
}
END_TEST

START_TEST(usage_get_unknown_account)
{
	struct usage	 u;
	char		*why = NULL;

	ck_assert_int_eq(usage_get(st, h, cfg, 42, 0, &u, NULL, &why),
	    KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "42"));
	free(why);
}
END_TEST

START_TEST(usage_get_quota_and_suspension_disable_the_account)
{
	struct usage	 u;
	struct account	 a;
	char		*why = NULL;

	mock_post("/_mock/accounts/usage", "{\"id\":\"u\",\"error\":"
	    "{\"status\":402,\"body\":{\"message\":\"used up\",\"reason\":"
	    "\"MONTHLY_REQUEST_COUNT\"}}}");
	ck_assert_int_eq(usage_get(st, h, cfg, 1, 1, &u, NULL, &why),
	    KF_EQUOTA);
	ck_assert_msg(strstr(why, "402") != NULL, "%s", why);
	ck_assert_msg(strstr(why, AT) == NULL, "%s", why);
	free(why);
	why = NULL;
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_QUOTA_EXCEEDED);
	account_free(&a);

	mock_post("/_mock/accounts/usage", "{\"id\":\"u\",\"error\":"
	    "{\"status\":403,\"body\":{\"message\":\"x\",\"reason\":"
	    "\"TEMPORARILY_SUSPENDED\"}}}");
	ck_assert_int_eq(usage_get(st, h, cfg, 1, 1, &u, NULL, &why),
	    KF_ESUSPENDED);
	free(why);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_SUSPENDED);
	account_free(&a);
}
END_TEST

START_TEST(usage_get_refreshes_a_revoked_token_once)
{
	struct usage	 u;
	struct account	 a;
	char		*why = NULL;

	mock_post("/_mock/revoke", "{\"accessToken\":\"" AT "\"}");
	ck_assert_msg(usage_get(st, h, cfg, 1, 1, &u, NULL, &why) == KF_OK,
	    "%s", why);
	usage_free(&u);
	ck_assert_int_eq(tu_mock_stat(&mock, "refreshes"), 1);
	ck_assert_int_eq(tu_mock_stat(&mock, "usage"), 2);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_str_ne(a.cred.access_token, AT);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_OK);
	account_free(&a);
}
END_TEST

/* A key has no refresh: a refused one takes its account out of service. */
START_TEST(usage_get_refused_api_key_disables_the_account)
{
	struct cred		 c;
	struct import_result	 res;
	struct usage		 u;
	struct account		 a;
	char			*why = NULL;

	mock_post("/_mock/accounts", "{\"id\":\"k\",\"kiroApiKey\":"
	    "\"ksk_USAGE" TAIL "\",\"authMethod\":\"api_key\"}");
	cred_init(&c);
	c.auth_method = CRED_AUTH_API_KEY;
	c.kiro_api_key = xstrdup("ksk_USAGE" TAIL);
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);
	ck_assert_msg(usage_get(st, h, cfg, res.id, 1, &u, NULL, &why) ==
	    KF_OK, "%s", why);
	usage_free(&u);
	mock_post("/_mock/revoke", "{\"accessToken\":\"ksk_USAGE" TAIL "\"}");
	ck_assert_int_eq(usage_get(st, h, cfg, res.id, 1, &u, NULL, &why),
	    KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "refused the API key"));
	ck_assert_ptr_null(strstr(why, "ksk_USAGE"));
	free(why);
	ck_assert_int_eq(tu_mock_stat(&mock, "refreshes"), 0);
	ck_assert_int_eq(tu_mock_stat(&mock, "usage"), 2);
	ck_assert_int_eq(accounts_get(st, res.id, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_INVALID_CONFIG);
	account_free(&a);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("usage");
	TCase	*tc = tcase_create("parse");
	TCase	*live = tcase_create("mock");

	tcase_add_test(tc, usage_parse_plain_breakdown);
	tcase_add_test(tc, usage_parse_adds_active_trial_and_bonuses_only);
	tcase_add_test(tc, usage_parse_refuses_nonsense_naming_the_field);
	tcase_add_test(tc, usage_json_round_trips);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(live, setup, teardown);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, usage_get_caches_and_notes_the_plan);
	tcase_add_test(live, usage_cached_all_reads_the_cache_only);
	tcase_add_test(live, usage_get_follows_the_accounts_host);
	tcase_add_test(live, usage_get_unknown_account);
	tcase_add_test(live, usage_get_quota_and_suspension_disable_the_account);
	tcase_add_test(live, usage_get_refreshes_a_revoked_token_once);
	tcase_add_test(live, usage_get_refused_api_key_disables_the_account);
	suite_add_tcase(s, live);
	http_global_init();
	return tu_run(s);
}
