/* test-apierr.c: the error table: complete, each API's words, 5xx only for retries. */
#include "autoconfig.h"

#include <string.h>

#include <check.h>

#include "apierr.h"
#include "err.h"
#include "testutil.h"

/*
 * Every enum kf_err has a row in every API with a status and a type; a
 * client's own mistakes are 4xx in all three APIs and the same class in
 * each (SDKs and CLIs retry 5xx by themselves, so a 5xx must be something
 * a retry can fix, or our fault); each API's own words where it has them;
 * out-of-range input is a 500, not a crash.
 */

/* The errors a retry cannot fix: the client must change the request. */
static int
client_error(enum kf_err er)
{
	switch (er) {
	case KF_EINVAL:
	case KF_EAUTH:
	case KF_EPERM:
	case KF_ENOTFOUND:
	case KF_ETOOLARGE:
	case KF_ERATE:
	case KF_ECONTEXT:
	case KF_EQUOTA:
	case KF_ESUSPENDED:
		return 1;
	default:
		return 0;
	}
}

START_TEST(every_error_every_api)
{
	const struct api_error	*e;
	int			 er, api, status0;

	for (er = 0; er < KF_ERR__MAX; er++) {
		status0 = api_error(API_ANTHROPIC, er)->status;
		for (api = 0; api < API__MAX; api++) {
			e = api_error(api, er);
			ck_assert_ptr_nonnull(e);
			ck_assert_ptr_nonnull(e->type);
			ck_assert(e->type[0] != '\0');
			if (client_error(er))
				ck_assert_msg(e->status >= 400 &&
				    e->status < 500, "%s in api %d: %d",
				    kf_err_name(er), api, e->status);
			else
				ck_assert_msg(e->status >= 500, "%s in api %d: "
				    "%d", kf_err_name(er), api, e->status);
			/* Same class everywhere (529 and 503 are both 5xx). */
			ck_assert_int_eq(e->status / 100, status0 / 100);
			if (api != API_OPENAI)
				ck_assert_ptr_null(e->code);
		}
	}
}
END_TEST

START_TEST(each_api_speaks_its_own_words)
{
	ck_assert_int_eq(api_error(API_ANTHROPIC, KF_EOVERLOADED)->status,
	    529);
	ck_assert_str_eq(api_error(API_ANTHROPIC, KF_EOVERLOADED)->type,
	    "overloaded_error");
	ck_assert_str_eq(api_error(API_OPENAI, KF_ENOTFOUND)->code,
	    "model_not_found");
	ck_assert_str_eq(api_error(API_OPENAI, KF_ECONTEXT)->code,
	    "context_length_exceeded");
	ck_assert_str_eq(api_error(API_OPENAI, KF_EQUOTA)->type,
	    "insufficient_quota");
	ck_assert_ptr_null(api_error(API_OPENAI, KF_EINVAL)->code);
	ck_assert_str_eq(api_error(API_GEMINI, KF_ERATE)->type,
	    "RESOURCE_EXHAUSTED");
	ck_assert_str_eq(api_error(API_GEMINI, KF_ETIMEOUT)->type,
	    "DEADLINE_EXCEEDED");
	ck_assert_str_eq(api_error(API_GEMINI, KF_EAUTH)->type,
	    "UNAUTHENTICATED");
}
END_TEST

START_TEST(out_of_range_is_internal)
{
	ck_assert_int_eq(api_error(API_GEMINI, KF_ERR__MAX)->status, 500);
	ck_assert_int_eq(api_error(API_GEMINI, (enum kf_err)-1)->status, 500);
	ck_assert_str_eq(api_error(API__MAX, KF_EAUTH)->type,
	    "authentication_error");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("apierr");
	TCase	*tc = tcase_create("apierr");

	tcase_add_test(tc, every_error_every_api);
	tcase_add_test(tc, each_api_speaks_its_own_words);
	tcase_add_test(tc, out_of_range_is_internal);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
