/* test-catalogue.c: ListAvailableModels fetching, paging, caps, the cache and the merge. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "catalogue.h"
#include "clock.h"
#include "json.h"
#include "mocktest.h"
#include "models.h"

/* Sets account name's mock model list to n models "m-000".."m-<n-1>". */
static void
set_models(const char *name, size_t n, long max_input)
{
	struct buf	body = BUF_INIT, out = BUF_INIT;
	size_t		i;

	buf_printf(&body, "{\"accessToken\":\"aoa%s\",\"models\":[", name);
	for (i = 0; i < n; i++)
		buf_printf(&body, "%s{\"modelId\":\"m-%03zu\",\"modelName\":"
		    "\"Model %zu\",\"maxInputTokens\":%ld,"
		    "\"maxOutputTokens\":%ld}", i > 0 ? "," : "", i, i,
		    max_input + (long)i, 1000 + (long)i);
	buf_puts(&body, "]}");
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts/models",
	    body.ptr, &out), 200);
	buf_free(&body);
	buf_free(&out);
}

START_TEST(parse_page_keeps_limits_skips_junk_and_duplicates)
{
	struct catalogue	c;
	char			*next = NULL, *why = NULL;
	const char		*page = "{\"models\":["
	    "{\"modelId\":\"claude-x\",\"modelName\":\"Claude X\","
	    "\"tokenLimits\":{\"maxInputTokens\":300000,"
	    "\"maxOutputTokens\":96000}},"
	    "{\"modelId\":\"claude-x\"},"
	    "{\"modelId\":\"bad id\\n\"},"
	    "{\"modelName\":\"no id\"},"
	    "7,"
	    "{\"modelId\":\"glm-9\",\"tokenLimits\":{\"maxInputTokens\":-5}}"
	    "],\"nextToken\":\"abc\"}";

	memset(&c, 0, sizeof(c));
	ck_assert_msg(catalogue_parse_page(page, strlen(page), &c, &next,
	    &why) == KF_OK, "%s", why);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.m[0].id, "claude-x");
	ck_assert_str_eq(c.m[0].name, "Claude X");
	ck_assert_int_eq(c.m[0].max_input, 300000);
	ck_assert_int_eq(c.m[0].max_output, 96000);
	ck_assert_str_eq(c.m[1].name, "glm-9");
	ck_assert_int_eq(c.m[1].max_input, 0);
	ck_assert_str_eq(next, "abc");
	free(next);
	catalogue_free(&c);
	ck_assert_int_eq(catalogue_parse_page("{}", 2, &c, &next, &why),
	    KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "models"));
	free(why);
}
END_TEST

START_TEST(fetch_follows_pages_and_caps_the_list)
{
	struct catalogue	 c;
	struct account		 a;
	char			*why = NULL;

	add_account("CAT1", 0);
	set_models("CAT1", 120, 100000);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_msg(catalogue_fetch(h, cfg, &a.cred, API_HOST_RUNTIME, &c,
	    &why) == KF_OK, "%s", why);
	/* 50 a page: three calls. */
	ck_assert_uint_eq(c.n, 120);
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 3);
	ck_assert_str_eq(c.m[119].id, "m-119");
	ck_assert_int_eq(c.m[119].max_input, 100119);
	ck_assert_int_eq(c.m[119].max_output, 1119);
	catalogue_free(&c);

	set_models("CAT1", 450, 100000);
	ck_assert_msg(catalogue_fetch(h, cfg, &a.cred, API_HOST_RUNTIME, &c,
	    &why) == KF_OK, "%s", why);
	ck_assert_uint_eq(c.n, CATALOGUE_MAX_MODELS);
	/* It stops asking at the cap: 4 more pages, not 9. */
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 3 + 4);
	catalogue_free(&c);
	account_free(&a);
}
END_TEST

START_TEST(refused_token_is_an_auth_error_without_the_token)
{
	struct catalogue	 c;
	struct account		 a;
	char			*why = NULL;

	add_account("CAT2", 0);
	script("{\"match\":{\"endpoint\":\"ListAvailableModels\"},"
	    "\"times\":1,\"response\":{\"kind\":\"http_error\","
	    "\"status\":403,\"body\":{\"message\":\"The bearer token "
	    "included in the request is invalid.\"}}}");
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(catalogue_fetch(h, cfg, &a.cred, API_HOST_RUNTIME,
	    &c, &why), KF_EAUTH);
	ck_assert_ptr_nonnull(strstr(why, "ListAvailableModels: HTTP 403"));
	ck_assert_ptr_null(strstr(why, "aoaCAT2"));
	ck_assert_uint_eq(c.n, 0);
	free(why);
	account_free(&a);
}
END_TEST

START_TEST(refresh_caches_for_an_hour_and_lacks_says_what_is_missing)
{
	struct store_txn	*txn;
	int			 fetched;
	char			*why = NULL;

	add_account("CAT3", 0);
	set_models("CAT3", 3, 5000);
	ck_assert_msg(catalogue_refresh(st, h, cfg, 1, 0, &fetched, &why) ==
	    KF_OK, "%s", why);
	ck_assert_int_eq(fetched, 1);
	ck_assert_int_eq(catalogue_refresh(st, h, cfg, 1, 0, &fetched, NULL),
	    KF_OK);
	ck_assert_int_eq(fetched, 0);
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 1);
	clock_set_offset(CATALOGUE_TTL + 1);
	ck_assert_int_eq(catalogue_refresh(st, h, cfg, 1, 0, &fetched, NULL),
	    KF_OK);
	clock_set_offset(0);
	ck_assert_int_eq(fetched, 1);
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 2);

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	ck_assert_int_eq(catalogue_txn_lacks(txn, 1, "m-002"), 0);
	ck_assert_int_eq(catalogue_txn_lacks(txn, 1, "M-001"), 0);
	ck_assert_int_eq(catalogue_txn_lacks(txn, 1, "claude-opus-5"), 1);
	/* No catalogue cached yet: anything goes. */
	ck_assert_int_eq(catalogue_txn_lacks(txn, 2, "claude-opus-5"), 0);
	/* A prefix of a listed id is not that id. */
	ck_assert_int_eq(catalogue_txn_lacks(txn, 1, "m-00"), 1);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	/* Neither an empty list nor a torn record means "serves nothing". */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "catalogue/2",
	    "{\"v\":1,\"at\":1,\"models\":[]}", 26), KF_OK);
	ck_assert_int_eq(store_put(txn, "catalogue/3",
	    "{\"v\":1,\"at\":1,\"models\":[{\"id\":\"m-0", 34), KF_OK);
	ck_assert_int_eq(catalogue_txn_lacks(txn, 2, "claude-opus-5"), 0);
	ck_assert_int_eq(catalogue_txn_lacks(txn, 3, "claude-opus-5"), 0);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
}
END_TEST

/*
 * After an answer: nothing while the list is missing or fresh; once it is
 * older than the hour, one fetch, and the claim stops the next caller
 * within the hour.  Account 65 shares account 1's slot in the per-process
 * memo (catalogue.c: 64 slots), so a call for it makes this process read
 * the store again, as another process would.
 */
#define MEMO_RECHECK_S	60	/* catalogue.c FRESH_RECHECK */
START_TEST(stale_list_is_fetched_once_after_an_answer)
{
	struct store_txn	*txn;
	char			*why = NULL;

	add_account("CAT5", 0);
	set_models("CAT5", 2, 5000);
	catalogue_refresh_stale(st, h, cfg, 1);		/* no list yet */
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 0);
	ck_assert_msg(catalogue_refresh(st, h, cfg, 1, 1, NULL, &why) == KF_OK,
	    "%s", why);
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 1);
	clock_set_offset(2 * MEMO_RECHECK_S);
	catalogue_refresh_stale(st, h, cfg, 1);		/* fresh */
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 1);
	clock_set_offset(CATALOGUE_TTL + 1);
	catalogue_refresh_stale(st, h, cfg, 1);		/* stale */
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 2);
	/* Stale again at once (as if that fetch had not saved): claimed. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "catalogue/1",
	    "{\"v\":1,\"at\":1,\"models\":[]}", 26), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	clock_set_offset(CATALOGUE_TTL + CATALOGUE_TTL / 2);
	catalogue_refresh_stale(st, h, cfg, 65);	/* evicts 1's memo */
	catalogue_refresh_stale(st, h, cfg, 1);
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 2);
	/* A claim an hour old is spent. */
	clock_set_offset(3 * CATALOGUE_TTL);
	catalogue_refresh_stale(st, h, cfg, 65);
	catalogue_refresh_stale(st, h, cfg, 1);
	clock_set_offset(0);
	ck_assert_int_eq(tu_mock_stat(&mock, "models"), 3);
}
END_TEST

/* The host of the mock's last ListAvailableModels request ("none"). */
static char *
last_models_host(void)
{
	struct buf	 out = BUF_INIT;
	json_object	*log = NULL, *e;
	const char	*host;
	char		*copy;

	ck_assert_int_eq(tu_mock_call(&mock,
	    "/_mock/requests?op=ListAvailableModels", NULL, &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 64, &log, NULL), KF_OK);
	ck_assert_uint_gt(json_object_array_length(log), 0);
	e = json_object_array_get_idx(log,
	    json_object_array_length(log) - 1);
	copy = xstrdup(json_get_str(e, "host", &host) == 1 ? host : "none");
	json_object_put(log);
	buf_free(&out);
	return copy;
}

START_TEST(refresh_asks_the_accounts_host)
{
	char	*why = NULL, *host;

	free(cfg->api_base_url);
	cfg->api_base_url = xasprintf("%s/runtime", mock.base);
	free(cfg->legacy_api_base_url);
	cfg->legacy_api_base_url = xasprintf("%s/legacy", mock.base);
	add_account("CAT6", 0);
	ck_assert_msg(catalogue_refresh(st, h, cfg, 1, 1, NULL, &why) == KF_OK,
	    "%s", why);
	ck_assert_str_eq(host = last_models_host(), "runtime");
	free(host);
	/* A remembered switch moves the model list call too. */
	ck_assert_int_eq(accounts_set_route(st, 1, API_HOST_LEGACY,
	    API_STYLE_PATH, 1, NULL), KF_OK);
	ck_assert_msg(catalogue_refresh(st, h, cfg, 1, 1, NULL, &why) == KF_OK,
	    "%s", why);
	ck_assert_str_eq(host = last_models_host(), "legacy");
	free(host);
}
END_TEST

START_TEST(merged_is_the_union_with_the_smallest_limits)
{
	struct catalogue	 c;
	char			*why = NULL;

	add_account("CAT4", 0);
	add_account("CAT5", 1);
	set_models("CAT4", 2, 9000);	/* m-000 9000, m-001 9001 */
	set_models("CAT5", 3, 7000);	/* m-000 7000 ... m-002 7002 */
	ck_assert_int_eq(catalogue_merged(st, &c, NULL), KF_OK);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_msg(catalogue_refresh(st, h, cfg, 1, 1, NULL, &why) == KF_OK,
	    "%s", why);
	ck_assert_msg(catalogue_refresh(st, h, cfg, 2, 1, NULL, &why) == KF_OK,
	    "%s", why);
	ck_assert_int_eq(catalogue_merged(st, &c, NULL), KF_OK);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_str_eq(c.m[0].id, "m-000");
	ck_assert_int_eq(c.m[0].max_input, 7000);
	ck_assert_int_eq(c.m[1].max_input, 7001);
	ck_assert_str_eq(c.m[2].id, "m-002");
	ck_assert_int_eq(c.m[2].max_output, 1002);
	catalogue_free(&c);
}
END_TEST

/* Caches a catalogue for account id: ids[i] with window in[i]. */
static void
save_list(long id, const char *const *ids, const long *in, size_t n)
{
	struct catalogue	c;
	size_t			i;

	memset(&c, 0, sizeof(c));
	c.fetched_at = clock_now();
	c.m = xcalloc(n, sizeof(*c.m));
	for (i = 0; i < n; i++) {
		c.m[i].id = xstrdup(ids[i]);
		c.m[i].name = xstrdup(ids[i]);
		c.m[i].max_input = in[i];
		c.m[i].max_output = in[i] / 10;
	}
	c.n = n;
	ck_assert_int_eq(catalogue_save(st, id, &c, NULL), KF_OK);
	catalogue_free(&c);
}

START_TEST(live_lists_drive_models_find_and_resolve)
{
	static const char *const	 ids[] = { "claude-sonnet-4.5",
	    "kiro-brand-new-1" };
	static const long		 in[] = { 300000, 123456 };
	static const long		 in2[] = { 400000, 123456 };
	const struct model_info		*m, *list[8], **shown;
	size_t				 n_builtin;
	int				 thinking;

	catalogue_live_install(st);
	/* Nothing cached: the built-in list alone. */
	ck_assert_ptr_null(models_find("kiro-brand-new-1"));
	ck_assert_uint_eq(catalogue_live_models(list, 8), 0);
	shown = xcalloc(CATALOGUE_LIVE_MAX, sizeof(*shown));
	(void)models_catalogue(&n_builtin);
	ck_assert_uint_eq(catalogue_shown(shown), n_builtin);
	ck_assert_int_eq(models_find("claude-sonnet-4.5")->context_window,
	    200000);

	save_list(1, ids, in, 2);
	/* The view is reloaded once a minute, not per lookup. */
	ck_assert_ptr_null(models_find("kiro-brand-new-1"));
	clock_set_offset(CATALOGUE_LIVE_RELOAD + 1);
	ck_assert_ptr_nonnull(m = models_find("kiro-brand-new-1"));
	ck_assert_int_eq(m->context_window, 123456);
	ck_assert_int_eq(m->max_output, 12345);
	ck_assert_ptr_nonnull(m = models_resolve("KIRO-brand-new-1-thinking",
	    &thinking));
	ck_assert_str_eq(m->id, "kiro-brand-new-1");
	ck_assert_int_eq(thinking, 1);
	/* A built-in model keeps its name, takes Kiro's limits. */
	m = models_resolve("claude-sonnet-4-5-20250929", &thinking);
	ck_assert_str_eq(m->display_name, "Claude Sonnet 4.5");
	ck_assert_int_eq(m->context_window, 300000);
	/* One the lists lack stays as built in. */
	ck_assert_int_eq(models_find("claude-opus-4.6")->context_window,
	    1000000);
	ck_assert_uint_eq(catalogue_live_models(list, 8), 2);
	ck_assert_str_eq(list[1]->id, "kiro-brand-new-1");
	ck_assert_uint_eq(catalogue_shown(shown), 2);
	ck_assert_int_eq(shown[1]->context_window, 123456);
	free(shown);
	/* Changed limits show after the next reload. */
	save_list(1, ids, in2, 2);
	clock_set_offset(2 * CATALOGUE_LIVE_RELOAD + 2);
	ck_assert_int_eq(models_find("claude-sonnet-4.5")->context_window,
	    400000);
	clock_set_offset(0);
	catalogue_live_install(NULL);
	ck_assert_ptr_null(models_find("kiro-brand-new-1"));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("catalogue");
	TCase	*tc = tcase_create("parse");
	TCase	*live = tcase_create("mock");

	tcase_add_test(tc, parse_page_keeps_limits_skips_junk_and_duplicates);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(live, mock_setup, mock_teardown);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, fetch_follows_pages_and_caps_the_list);
	tcase_add_test(live, refused_token_is_an_auth_error_without_the_token);
	tcase_add_test(live,
	    refresh_caches_for_an_hour_and_lacks_says_what_is_missing);
	tcase_add_test(live, refresh_asks_the_accounts_host);
	tcase_add_test(live, merged_is_the_union_with_the_smallest_limits);
	tcase_add_test(live, live_lists_drive_models_find_and_resolve);
	tcase_add_test(live, stale_list_is_fetched_once_after_an_answer);
	suite_add_tcase(s, live);
	http_global_init();
	return tu_run(s);
}
