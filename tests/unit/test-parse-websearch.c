/* test-parse-websearch.c: each front end's search tool becomes conv's web_search options. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "anthropic.h"
#include "conv.h"
#include "gemini.h"
#include "openai-responses.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Anthropic web_search_20250305 / _20260209 (alone: the whole answer;
 * max_uses; allowed/blocked domains, type-checked and capped), the
 * Responses web_search tools with filters.allowed_domains, and Gemini's
 * googleSearch, each parsed into struct conv_web_search; a request
 * without one has web search off.
 */

#define ANTHROPIC(tools) "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":9," \
	"\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":" \
	tools "}"
#define READ_TOOL "{\"name\":\"read\",\"input_schema\":{\"type\":\"object\"}}"

static enum kf_err
anthropic(const char *body, struct conv *c, char **why)
{
	conv_init(c);
	return anthropic_parse(body, strlen(body), 0, c, why);
}

START_TEST(parse_anthropic_web_search_alone)
{
	struct conv	c;

	ck_assert_int_eq(anthropic(ANTHROPIC("[{\"type\":"
	    "\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":3,"
	    "\"allowed_domains\":[\"a.example\",\"b.example\"]}]"), &c, NULL),
	    KF_OK);
	ck_assert_int_eq(c.web_search.enabled, 1);
	ck_assert_int_eq(c.web_search.only, 1);
	ck_assert_int_eq(c.web_search.max_uses, 3);
	ck_assert_uint_eq(c.web_search.n_allowed, 2);
	ck_assert_str_eq(c.web_search.allowed[1], "b.example");
	ck_assert_uint_eq(c.web_search.n_blocked, 0);
	ck_assert_uint_eq(c.n_tools, 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_anthropic_web_search_among_tools)
{
	struct conv	c;

	ck_assert_int_eq(anthropic(ANTHROPIC("[" READ_TOOL ",{\"type\":"
	    "\"web_search_20260209\",\"name\":\"web_search\","
	    "\"blocked_domains\":[\"ads.example\"]}]"), &c, NULL), KF_OK);
	ck_assert_int_eq(c.web_search.enabled, 1);
	ck_assert_int_eq(c.web_search.only, 0);
	ck_assert_int_eq(c.web_search.max_uses, 0);
	ck_assert_uint_eq(c.web_search.n_blocked, 1);
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_str_eq(c.tools[0].name, "read");
	conv_free(&c);
	ck_assert_int_eq(anthropic(ANTHROPIC("[" READ_TOOL "]"), &c, NULL),
	    KF_OK);
	ck_assert_int_eq(c.web_search.enabled, 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_anthropic_web_search_bad_options)
{
	static const char *const bad[] = {
		ANTHROPIC("[{\"type\":\"web_search_20250305\",\"name\":"
		    "\"web_search\",\"max_uses\":0}]"),
		ANTHROPIC("[{\"type\":\"web_search_20250305\",\"name\":"
		    "\"web_search\",\"max_uses\":\"3\"}]"),
		ANTHROPIC("[{\"type\":\"web_search_20250305\",\"name\":"
		    "\"web_search\",\"allowed_domains\":\"a.example\"}]"),
		ANTHROPIC("[{\"type\":\"web_search_20250305\",\"name\":"
		    "\"web_search\",\"blocked_domains\":[7]}]"),
	};
	static const char *const paths[] = {
		"tools[0].max_uses", "tools[0].max_uses",
		"tools[0].allowed_domains", "tools[0].blocked_domains[0]",
	};
	struct conv	 c;
	char		*why = NULL;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(anthropic(bad[i], &c, &why), KF_EINVAL);
		ck_assert_msg(strstr(why, paths[i]) != NULL, "%s", why);
		free(why);
		why = NULL;
		conv_free(&c);
	}
}
END_TEST

START_TEST(parse_anthropic_web_search_domains_capped)
{
	struct buf	 body = BUF_INIT;
	struct conv	 c;
	char		*why = NULL;
	int		 i;

	buf_puts(&body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":9,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
	    "\"web_search\",\"allowed_domains\":[");
	for (i = 0; i <= CONV_MAX_SEARCH_DOMAINS; i++)
		buf_printf(&body, "%s\"d%d.example\"", i > 0 ? "," : "", i);
	buf_puts(&body, "]}]}");
	ck_assert_int_eq(anthropic(buf_cstr(&body), &c, &why), KF_EINVAL);
	ck_assert_msg(strstr(why, "at most 100 domains") != NULL, "%s", why);
	free(why);
	conv_free(&c);
	buf_free(&body);
}
END_TEST

static enum kf_err
responses(const char *body, struct conv *c, char **why, char **param)
{
	struct openai_responses_req	r;
	enum kf_err			er;

	conv_init(c);
	memset(&r, 0, sizeof(r));
	er = openai_responses_parse(body, strlen(body), c, &r, NULL, NULL,
	    why, param);
	openai_responses_req_free(&r);
	return er;
}

START_TEST(parse_responses_web_search_tools)
{
	static const char *const types[] = {
		"web_search", "web_search_preview", "web_search_2025_08_26",
		"web_search_preview_2025_03_11",
	};
	struct conv	 c;
	char		*body, *why = NULL, *param = NULL;
	size_t		 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		body = xasprintf("{\"model\":\"claude-sonnet-4-5\",\"input\":"
		    "\"hi\",\"tools\":[{\"type\":\"%s\"}]}", types[i]);
		ck_assert_int_eq(responses(body, &c, NULL, NULL), KF_OK);
		ck_assert_int_eq(c.web_search.enabled, 1);
		ck_assert_int_eq(c.web_search.only, 0);
		ck_assert_uint_eq(c.n_tools, 0);
		conv_free(&c);
		free(body);
	}
	ck_assert_int_eq(responses("{\"model\":\"claude-sonnet-4-5\",\"input\":"
	    "\"hi\",\"tools\":[{\"type\":\"web_search\",\"filters\":"
	    "{\"allowed_domains\":[\"a.example\"]}}]}", &c, NULL, NULL), KF_OK);
	ck_assert_uint_eq(c.web_search.n_allowed, 1);
	ck_assert_str_eq(c.web_search.allowed[0], "a.example");
	conv_free(&c);
	ck_assert_int_eq(responses("{\"model\":\"claude-sonnet-4-5\",\"input\":"
	    "\"hi\",\"tools\":[{\"type\":\"web_search\",\"filters\":"
	    "{\"allowed_domains\":[1]}}]}", &c, &why, &param), KF_EINVAL);
	ck_assert_str_eq(param, "tools[0].filters.allowed_domains");
	free(why);
	free(param);
	conv_free(&c);
}
END_TEST

START_TEST(parse_gemini_google_search)
{
	struct gemini_opts	 o;
	struct conv		 c;
	const char		*body = "{\"contents\":[{\"role\":\"user\","
	    "\"parts\":[{\"text\":\"hi\"}]}],\"tools\":[{\"googleSearch\":{}},"
	    "{\"codeExecution\":{}}]}";

	memset(&o, 0, sizeof(o));
	conv_init(&c);
	ck_assert_int_eq(gemini_parse(body, strlen(body), "gemini-2.5-flash", 0,
	    &c, &o, NULL), KF_OK);
	ck_assert_int_eq(c.web_search.enabled, 1);
	ck_assert_int_eq(c.web_search.only, 0);
	ck_assert_uint_eq(c.n_tools, 0);
	conv_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse-websearch");
	TCase	*tc = tcase_create("parse-websearch");

	tcase_add_test(tc, parse_anthropic_web_search_alone);
	tcase_add_test(tc, parse_anthropic_web_search_among_tools);
	tcase_add_test(tc, parse_anthropic_web_search_bad_options);
	tcase_add_test(tc, parse_anthropic_web_search_domains_capped);
	tcase_add_test(tc, parse_responses_web_search_tools);
	tcase_add_test(tc, parse_gemini_google_search);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
