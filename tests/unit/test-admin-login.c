/* test-admin-login.c: the admin API's Builder ID login against the mock's OIDC. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "admin-login.h"
#include "clock.h"
#include "json.h"
#include "mocktest.h"
#include "store.h"

#define RECORD	"admin-login/devices"

static void
setup(void)
{
	clock_set_offset(0);
	mock_setup();
}

static void
teardown(void)
{
	clock_set_offset(0);
	mock_teardown();
}

/* The stored record's text ("" when there is none). */
static char *
record(void)
{
	struct store_txn	*txn;
	struct buf		 raw = BUF_INIT;
	char			*text;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	if (store_get(txn, RECORD, &raw) != KF_OK)
		buf_reset(&raw);
	(void)store_end(txn, NULL);
	text = xstrdup(raw.len > 0 ? buf_cstr(&raw) : "");
	buf_free(&raw);
	return text;
}

/* The mock's device_code token requests so far. */
static size_t
token_polls(void)
{
	struct buf	 out = BUF_INIT;
	json_object	*arr = NULL, *body;
	const char	*grant;
	size_t		 i, n = 0;

	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/requests?op=token", NULL,
	    &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 32, &arr, NULL), KF_OK);
	for (i = 0; i < json_object_array_length(arr); i++) {
		if (json_get_obj(json_object_array_get_idx(arr, i), "body",
		    &body) == 1 && json_get_str(body, "grantType",
		    &grant) == 1 && strstr(grant, "device_code") != NULL)
			n++;
	}
	json_object_put(arr);
	buf_free(&out);
	return n;
}

static void
device(const char *verb, const char *user_code)
{
	struct buf	 out = BUF_INIT;
	char		*body, *path;

	body = xasprintf("{\"userCode\":\"%s\"}", user_code);
	path = xasprintf("/_mock/device/%s", verb);
	ck_assert_int_eq(tu_mock_call(&mock, path, body, &out), 200);
	free(path);
	free(body);
	buf_free(&out);
}

/* Starts a login: its id, and its user code in code (caller frees). */
static long
start(char **code)
{
	json_object	*o = NULL;
	const char	*s;
	char		*text;
	int64_t		 id;

	ck_assert_int_eq(admin_login_start(st, h, cfg, &o, NULL), KF_OK);
	ck_assert_int_eq(json_get_int(o, "loginId", &id), 1);
	ck_assert_int_eq(json_get_str(o, "userCode", &s), 1);
	if (code != NULL)
		*code = xstrdup(s);
	text = json_to_str(o);
	ck_assert_ptr_null(strstr(text, "mockdevice-"));
	ck_assert_ptr_null(strstr(text, "mocksecret-"));
	ck_assert_ptr_null(strstr(text, "deviceCode"));
	ck_assert_ptr_null(strstr(text, "clientSecret"));
	free(text);
	json_object_put(o);
	return (long)id;
}

/* Polls login id: KF_OK and its status word in word, or the error. */
static enum kf_err
poll_login(long id, char word[32], long *account)
{
	json_object	*o = NULL;
	const char	*s;
	char		*text;
	int64_t		 v;
	enum kf_err	 er;

	if ((er = admin_login_poll(st, h, cfg, id, &o, NULL)) != KF_OK)
		return er;
	ck_assert_int_eq(json_get_str(o, "status", &s), 1);
	snprintf(word, 32, "%s", s);
	if (account != NULL)
		*account = json_get_int(o, "accountId", &v) == 1 ? (long)v : 0;
	text = json_to_str(o);
	ck_assert_ptr_null(strstr(text, "mockdevice-"));
	ck_assert_ptr_null(strstr(text, "mocksecret-"));
	free(text);
	json_object_put(o);
	return KF_OK;
}

START_TEST(admin_login_secrets_stay_in_the_store)
{
	char	*rec, word[32];
	long	 id;

	id = start(NULL);
	rec = record();
	ck_assert_ptr_nonnull(strstr(rec, "mockdevice-"));
	ck_assert_ptr_nonnull(strstr(rec, "mocksecret-"));
	free(rec);
	/*
	 * Within the interval (1 s) the service is not asked: the clock is
	 * held back, so that a slow run (valgrind) cannot cross it.
	 */
	clock_set_offset(-30);
	ck_assert_int_eq(poll_login(id, word, NULL), KF_OK);
	ck_assert_str_eq(word, "pending");
	ck_assert_uint_eq(token_polls(), 0);
	ck_assert_int_eq(poll_login(id + 1, word, NULL), KF_ENOTFOUND);
	clock_set_offset(0);
}
END_TEST

START_TEST(admin_login_approved_imports_once)
{
	struct account	 a;
	char		*code, *rec, word[32];
	long		 id, account = 0, again = 0;

	id = start(&code);
	clock_set_offset(2);
	ck_assert_int_eq(poll_login(id, word, NULL), KF_OK);
	ck_assert_str_eq(word, "pending");
	ck_assert_uint_eq(token_polls(), 1);
	/*
	 * Asked again only after the interval (1 s): the clock is held back,
	 * so that a slow run (valgrind beside other tests) cannot cross it.
	 */
	clock_set_offset(-30);
	ck_assert_int_eq(poll_login(id, word, NULL), KF_OK);
	ck_assert_uint_eq(token_polls(), 1);
	device("approve", code);
	clock_set_offset(4);
	ck_assert_int_eq(poll_login(id, word, &account), KF_OK);
	ck_assert_str_eq(word, "approved");
	ck_assert_int_eq(accounts_get(st, account, &a, NULL), KF_OK);
	ck_assert_int_eq(a.cred.auth_method, CRED_AUTH_IDC);
	ck_assert_ptr_nonnull(a.cred.client_secret);
	account_free(&a);
	/* The same answer again, without asking; the secrets are gone. */
	clock_set_offset(10);
	ck_assert_int_eq(poll_login(id, word, &again), KF_OK);
	ck_assert_str_eq(word, "approved");
	ck_assert_int_eq(again, account);
	ck_assert_uint_eq(token_polls(), 2);
	rec = record();
	ck_assert_ptr_null(strstr(rec, "mockdevice-"));
	ck_assert_ptr_null(strstr(rec, "mocksecret-"));
	free(rec);
	free(code);
}
END_TEST

START_TEST(admin_login_waiting_capped_finished_dropped_then_forgotten)
{
	long		 a[ADMIN_LOGIN_WAITING_MAX], b[ADMIN_LOGIN_WAITING_MAX];
	json_object	*o = NULL;
	char		*why = NULL, *code0 = NULL, word[32];
	int		 i, gone = 0;

	for (i = 0; i < ADMIN_LOGIN_WAITING_MAX; i++)
		a[i] = start(NULL);
	ck_assert_int_eq(admin_login_start(st, h, cfg, &o, &why), KF_EPERM);
	ck_assert_ptr_nonnull(strstr(why, "waiting"));
	ck_assert_ptr_null(o);
	free(why);
	why = NULL;
	/* Past the device codes' 600 s: expired, so room again. */
	clock_set_offset(601);
	for (i = 0; i < ADMIN_LOGIN_WAITING_MAX; i++)
		b[i] = start(i == 0 ? &code0 : NULL);
	ck_assert_int_eq(admin_login_start(st, h, cfg, &o, &why), KF_EPERM);
	free(why);
	ck_assert_int_eq(poll_login(a[0], word, NULL), KF_OK);
	ck_assert_str_eq(word, "expired");
	/* b[0] denied: 7 wait, 16 are kept; one more drops an expired one. */
	device("deny", code0);
	clock_set_offset(603);
	ck_assert_int_eq(poll_login(b[0], word, NULL), KF_OK);
	ck_assert_str_eq(word, "denied");
	(void)start(NULL);
	for (i = 1; i < ADMIN_LOGIN_WAITING_MAX; i++)
		if (poll_login(a[i], word, NULL) == KF_ENOTFOUND)
			gone++;
		else
			ck_assert_str_eq(word, "expired");
	ck_assert_int_eq(gone, 1);
	ck_assert_int_eq(poll_login(b[0], word, NULL), KF_OK);
	ck_assert_str_eq(word, "denied");
	/* Ten minutes after the end, every outcome is forgotten. */
	clock_set_offset(603 + 600 + 600 + 1);
	ck_assert_int_eq(poll_login(a[0], word, NULL), KF_ENOTFOUND);
	ck_assert_int_eq(poll_login(b[0], word, NULL), KF_ENOTFOUND);
	free(code0);
}
END_TEST

static Suite *
admin_login_suite(void)
{
	Suite	*s = suite_create("admin-login");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, admin_login_secrets_stay_in_the_store);
	tcase_add_test(tc, admin_login_approved_imports_once);
	tcase_add_test(tc, admin_login_waiting_capped_finished_dropped_then_forgotten);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(admin_login_suite());
}
