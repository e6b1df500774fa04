/* test-openai-common.c: OpenAI's error format for every error kind. */
#include "autoconfig.h"

#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "openai-common.h"
#include "out.h"
#include "testutil.h"

/* The error object parsed, with its members checked for type. */
static json_object *
error_of(const struct buf *b)
{
	json_object	*root, *err;

	root = json_tokener_parse(b->ptr);
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "error", &err));
	ck_assert(json_object_is_type(err, json_type_object));
	return root;
}

static const char *
member(json_object *root, const char *key)
{
	json_object	*err, *v;

	json_object_object_get_ex(root, "error", &err);
	ck_assert_msg(json_object_object_get_ex(err, key, &v), "no %s", key);
	return v == NULL ? NULL : json_object_get_string(v);
}

START_TEST(openai_every_kind_is_valid_json_with_all_members)
{
	struct buf	 b = BUF_INIT;
	json_object	*root;
	int		 i, status;

	for (i = 0; i < KF_ERR__MAX; i++) {
		buf_reset(&b);
		openai_error_json(&b, i, "bad \"thing\"\n", NULL);
		root = error_of(&b);
		ck_assert_str_eq(member(root, "message"), "bad \"thing\"\n");
		ck_assert_ptr_nonnull(member(root, "type"));
		(void)member(root, "param");
		(void)member(root, "code");
		status = openai_error_status(i, NULL, NULL);
		ck_assert_int_ge(status, 400);
		ck_assert_int_le(status, 599);
		json_object_put(root);
	}
	buf_free(&b);
}
END_TEST

START_TEST(openai_statuses_and_codes_follow_the_api)
{
	const char	*type, *code;

	ck_assert_int_eq(openai_error_status(KF_EINVAL, &type, &code), 400);
	ck_assert_str_eq(type, "invalid_request_error");
	ck_assert_ptr_null(code);
	ck_assert_int_eq(openai_error_status(KF_EAUTH, &type, &code), 401);
	ck_assert_str_eq(code, "invalid_api_key");
	ck_assert_int_eq(openai_error_status(KF_ERATE, &type, &code), 429);
	ck_assert_str_eq(type, "rate_limit_error");
	ck_assert_str_eq(code, "rate_limit_exceeded");
	ck_assert_int_eq(openai_error_status(KF_EQUOTA, &type, &code), 429);
	ck_assert_str_eq(code, "insufficient_quota");
	ck_assert_int_eq(openai_error_status(KF_ECONTEXT, &type, &code), 400);
	ck_assert_str_eq(code, "context_length_exceeded");
	ck_assert_int_eq(openai_error_status(KF_EUPSTREAM, &type, &code), 502);
	ck_assert_str_eq(type, "server_error");
	ck_assert_int_eq(openai_error_status(KF_ENOACCOUNT, NULL, NULL), 503);
	/* OpenAI's unknown model: 404, not a not_found_error. */
	ck_assert_int_eq(openai_error_status(KF_ENOTFOUND, &type, &code), 404);
	ck_assert_str_eq(type, "invalid_request_error");
	ck_assert_str_eq(code, "model_not_found");
}
END_TEST

START_TEST(openai_param_names_the_field)
{
	struct buf	 b = BUF_INIT;
	json_object	*root;

	openai_error_json(&b, KF_EINVAL, "n must be 1", "n");
	root = error_of(&b);
	ck_assert_str_eq(member(root, "param"), "n");
	ck_assert_str_eq(member(root, "type"), "invalid_request_error");
	json_object_put(root);
	buf_free(&b);
	/* A relay's "no account offers it" names the model, as OpenAI does. */
	openai_error_json(&b, KF_ENOTFOUND, "model x is not offered", NULL);
	root = error_of(&b);
	ck_assert_str_eq(member(root, "param"), "model");
	ck_assert_str_eq(member(root, "code"), "model_not_found");
	json_object_put(root);
	buf_free(&b);
}
END_TEST

START_TEST(openai_response_has_status_and_retry_after)
{
	struct buf	b = BUF_INIT;
	struct out	out;

	out_init_buf(&out, &b);
	ck_assert_int_eq(openai_error_response(&out, KF_ERATE, "slow down",
	    NULL, 7), 0);
	ck_assert_ptr_nonnull(strstr(b.ptr, "Status: 429"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "Retry-After: 7\r\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "\"rate_limit_exceeded\""));
	buf_free(&b);
}
END_TEST

/*
 * url_citation annotations: every place the text names the URL, offsets
 * in code points from base, both shapes, at most OPENAI_MAX_ANNOTATIONS.
 */
START_TEST(openai_url_citations_offsets_shapes_cap)
{
	json_object	*arr;
	struct buf	 text = BUF_INIT;
	size_t		 i;

	arr = json_object_new_array();
	/* "\xc3\xa9" is one code point: the second match starts at 4 + 5. */
	openai_url_citations(arr, "a \xc3\xa9 u://x \xc3\xa9 u://x", 19, 3,
	    "u://x", NULL, OPENAI_CITATION_FLAT);
	ck_assert_str_eq(json_object_to_json_string_ext(arr,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "[{\"type\":\"url_citation\",\"start_index\":7,\"end_index\":12,"
	    "\"url\":\"u://x\",\"title\":\"u://x\"},{\"type\":\"url_citation\","
	    "\"start_index\":15,\"end_index\":20,\"url\":\"u://x\","
	    "\"title\":\"u://x\"}]");
	json_object_put(arr);

	arr = json_object_new_array();
	openai_url_citations(arr, "see u://x", 9, 0, "u://x", "T",
	    OPENAI_CITATION_NESTED);
	openai_url_citations(arr, "see u://x", 9, 0, "", "T",
	    OPENAI_CITATION_NESTED);
	openai_url_citations(arr, NULL, 0, 0, "u://x", "T",
	    OPENAI_CITATION_NESTED);
	ck_assert_str_eq(json_object_to_json_string_ext(arr,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "[{\"type\":\"url_citation\",\"url_citation\":{\"start_index\":4,"
	    "\"end_index\":9,\"url\":\"u://x\",\"title\":\"T\"}}]");
	json_object_put(arr);

	arr = json_object_new_array();
	for (i = 0; i < 3 * OPENAI_MAX_ANNOTATIONS; i++)
		buf_puts(&text, "u://x ");
	openai_url_citations(arr, text.ptr, text.len, 0, "u://x", "T",
	    OPENAI_CITATION_FLAT);
	ck_assert_uint_eq(json_object_array_length(arr),
	    OPENAI_MAX_ANNOTATIONS);
	json_object_put(arr);
	buf_free(&text);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("openai-common");
	TCase	*tc = tcase_create("openai-common");

	tcase_add_test(tc, openai_every_kind_is_valid_json_with_all_members);
	tcase_add_test(tc, openai_statuses_and_codes_follow_the_api);
	tcase_add_test(tc, openai_param_names_the_field);
	tcase_add_test(tc, openai_response_has_status_and_retry_after);
	tcase_add_test(tc, openai_url_citations_offsets_shapes_cap);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
