/* test-relay-websearch.c: the relay runs the client's web searches through the mock's /mcp. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "conv.h"
#include "json.h"
#include "mocktest.h"
#include "relay.h"
#include "testutil.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * Each test starts the mock upstream with one account, runs a
 * conversation whose client offered a web search tool through relay_run
 * into a sink that writes one line per call, and checks the lines and
 * the mock's counts of model (generate) and /mcp calls.
 */

static int
r_start(void *arg, const struct sink_start *s)
{
	buf_printf(arg, "start %s\n", s->model);
	return 0;
}

static int
r_text(void *arg, const char *s, size_t n)
{
	buf_puts(arg, "text ");
	buf_append(arg, s, n);
	buf_putc(arg, '\n');
	return 0;
}

static int
r_thinking(void *arg, const char *s, size_t n)
{
	(void)s;
	buf_printf(arg, "thinking %zu\n", n);
	return 0;
}

static int
r_thinking_end(void *arg, const char *sig)
{
	(void)sig;
	buf_puts(arg, "thinking_end\n");
	return 0;
}

static int
r_tool_start(void *arg, size_t i, const char *id, const char *name)
{
	buf_printf(arg, "tool_start %zu %s %s\n", i, id, name);
	return 0;
}

static int
r_tool_input(void *arg, size_t i, const char *s, size_t n)
{
	(void)s;
	buf_printf(arg, "tool_input %zu %zu\n", i, n);
	return 0;
}

static int
r_tool_end(void *arg, size_t i, const char *input)
{
	buf_printf(arg, "tool_end %zu %s\n", i, input);
	return 0;
}

static int
r_finish(void *arg, enum sink_stop stop, const struct sink_usage *u)
{
	buf_printf(arg, "finish %s searches=%ld\n", sink_stop_name(stop),
	    u->web_search_requests);
	return 0;
}

static int
r_error(void *arg, enum kf_err er, const char *msg)
{
	buf_printf(arg, "error %s %s\n", kf_err_name(er), msg);
	return 0;
}

/* "search <query> <n results> <first url or error>" */
static int
r_web_search(void *arg, const char *id, const struct websearch *ws)
{
	ck_assert_int_eq(strncmp(id, "srvtoolu_", 9), 0);
	buf_printf(arg, "search %s %zu %s\n", ws->query, ws->n_results,
	    ws->error != NULL ? ws->error : ws->n_results > 0 ?
	    ws->results[0].url : "-");
	return 0;
}

static const struct sink_ops rec_ops = {
	r_start, r_text, r_thinking, r_thinking_end, r_tool_start,
	r_tool_input, r_tool_end, r_finish, r_error, NULL, NULL,
	r_web_search,
};

/* Runs c into a recording sink; the log in *log. */
static enum kf_err
run(struct conv *c, struct buf *log)
{
	struct relay_env	env;
	struct relay_result	res;
	struct sink		s;
	char			*why = NULL;
	enum kf_err		 er;

	memset(&s, 0, sizeof(s));
	s.ops = &rec_ops;
	s.arg = log;
	s.streams = 1;
	env.cfg = cfg;
	env.store = st;
	env.http = h;
	er = relay_run(&env, c, &s, &res, &why);
	if (er != KF_OK)
		buf_printf(log, "relay %s %s\n", kf_err_name(er), why);
	free(why);
	return er;
}

static void
search_conv(struct conv *c, const char *prompt, int only)
{
	simple_conv(c, prompt);
	c->web_search.enabled = 1;
	c->web_search.only = only;
}

/* The log must hold want, else the test fails showing it. */
#define has(log, want) \
	ck_assert_msg(strstr(buf_cstr(log), want) != NULL, "no \"%s\" in:\n%s", \
	    want, buf_cstr(log))

START_TEST(relay_search_only_is_one_mcp_call_and_no_model_call)
{
	struct conv	c;
	struct buf	log = BUF_INIT;

	add_account("A", 0);
	search_conv(&c, "Perform a web search for the query: kiro fcgi", 1);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	has(&log, "start claude-sonnet-4-5\ntext I'll search for \"kiro "
	    "fcgi\".\nsearch kiro fcgi 2 https://example.com/search/1\n"
	    "text Here are the search results for \"kiro fcgi\":");
	has(&log, "Source: https://example.org/search/2");
	has(&log, "finish end_turn searches=1\n");
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 1);
	ck_assert_int_eq(tu_mock_stat(&mock, "generate"), 0);
	conv_free(&c);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_refused_token_is_refreshed_once)
{
	struct conv	c;
	struct buf	log = BUF_INIT, out = BUF_INIT;

	add_account("A", 0);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/revoke",
	    "{\"accessToken\":\"aoaA\"}", &out), 200);
	search_conv(&c, "Perform a web search for the query: kiro", 1);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	has(&log, "search kiro 2 https://example.com/search/1\n");
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 2);
	ck_assert_int_eq(tu_mock_stat(&mock, "refreshes_ok"), 1);
	conv_free(&c);
	buf_free(&out);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_only_without_a_query_is_invalid)
{
	struct conv	c;
	struct buf	log = BUF_INIT;

	add_account("A", 0);
	search_conv(&c, "Perform a web search for the query:  ", 1);
	ck_assert_int_eq(run(&c, &log), KF_EINVAL);
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 0);
	conv_free(&c);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_failure_finds_nothing)
{
	static const char *const markers[] = {
		"mcp_rpc_error", "mcp_server_error", "mcp_garbage",
		"mcp_not_json", "mcp_is_error",
	};
	struct conv	c;
	struct buf	log = BUF_INIT;
	char		*prompt;
	size_t		 i;

	add_account("A", 0);
	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		prompt = xasprintf("q #mock:%s", markers[i]);
		search_conv(&c, prompt, 1);
		buf_reset(&log);
		ck_assert_int_eq(run(&c, &log), KF_OK);
		has(&log, " 0 -\n");
		has(&log, "No results found.");
		has(&log, "finish end_turn searches=1\n");
		conv_free(&c);
		free(prompt);
	}
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_turn_hides_the_call_and_asks_again)
{
	struct conv	c;
	struct buf	log = BUF_INIT;

	add_account("A", 0);
	search_conv(&c, "Please search for kiro fcgi", 0);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	has(&log, "text Let me search the web.\nsearch kiro fcgi 2 "
	    "https://example.com/search/1\ntext Searched 1 times.");
	has(&log, "finish end_turn searches=1\n");
	ck_assert_ptr_null(strstr(buf_cstr(&log), "tool_"));
	/* The turn went into the conversation for the follow-up call. */
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[1].blocks[1].type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(c.msgs[1].blocks[1].name, "web_search");
	ck_assert_int_eq(c.msgs[2].blocks[0].type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_ptr_nonnull(strstr(c.msgs[2].blocks[0].content[0].text,
	    "URL: https://example.org/search/2"));
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 1);
	ck_assert_int_eq(tu_mock_stat(&mock, "generate"), 2);
	conv_free(&c);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_max_uses_refuses_the_rest)
{
	struct conv	c;
	struct buf	log = BUF_INIT;

	add_account("A", 0);
	search_conv(&c, "Please search for kiro #mock:searches=3", 0);
	c.web_search.max_uses = 1;
	ck_assert_int_eq(run(&c, &log), KF_OK);
	has(&log, "search kiro 2 https://example.com/search/1\n");
	has(&log, "search kiro 0 max_uses_exceeded\n");
	has(&log, "text Searched 3 times.");
	has(&log, "finish end_turn searches=1\n");
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 1);
	ck_assert_int_eq(tu_mock_stat(&mock, "generate"), 4);
	conv_free(&c);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_rounds_are_capped)
{
	struct conv	c;
	struct buf	log = BUF_INIT;

	add_account("A", 0);
	search_conv(&c, "Please search for kiro #mock:searches=50", 0);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	/* 5 follow-up calls after the first: 6 model calls, 6 searches. */
	ck_assert_int_eq(tu_mock_stat(&mock, "generate"), 6);
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 6);
	has(&log, "finish end_turn searches=6\n");
	conv_free(&c);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_calls_per_request_are_capped)
{
	struct conv	c;
	struct buf	log = BUF_INIT, calls = BUF_INIT;
	int		i;

	add_account("A", 0);
	/* One answer that asks for 30 searches at once. */
	buf_puts(&calls, "{\"times\":1,\"response\":{\"kind\":\"tool_use\","
	    "\"chunks\":[\"Many.\"],\"tools\":[");
	for (i = 0; i < 30; i++)
		buf_printf(&calls, "%s{\"name\":\"web_search\",\"id\":"
		    "\"tooluse_MockSearch%02d\",\"input\":{\"query\":\"q%d\"}}",
		    i > 0 ? "," : "", i, i);
	buf_puts(&calls, "]}}");
	script(buf_cstr(&calls));
	search_conv(&c, "Please search for kiro", 0);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 20);
	has(&log, "search q19 2 https://example.com/search/1\n");
	has(&log, "search q20 0 max_uses_exceeded\n");
	has(&log, "search q29 0 max_uses_exceeded\n");
	has(&log, "finish end_turn searches=20\n");
	conv_free(&c);
	buf_free(&calls);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_query_is_capped_at_a_character)
{
	struct conv	 c;
	struct buf	 log = BUF_INIT, calls = BUF_INIT, out = BUF_INIT;
	json_object	*reqs = NULL;
	const char	*q;
	int		 i;

	add_account("A", 0);
	/* "x" then 800 two-byte characters: byte 1000 is inside one. */
	buf_puts(&calls, "{\"times\":1,\"response\":{\"kind\":\"tool_use\","
	    "\"tools\":[{\"name\":\"web_search\",\"id\":\"tooluse_MockSearchQ\","
	    "\"input\":{\"query\":\"x");
	for (i = 0; i < 800; i++)
		buf_puts(&calls, "\xc3\xa9");
	buf_puts(&calls, "\"}}]}}");
	script(buf_cstr(&calls));
	search_conv(&c, "Please search for kiro", 0);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/requests?op=mcp", NULL,
	    &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 32, &reqs, NULL), KF_OK);
	ck_assert_int_eq(json_object_array_length(reqs), 1);
	q = json_object_get_string(json_object_object_get(json_object_object_get(
	    json_object_object_get(json_object_object_get(
	    json_object_array_get_idx(reqs, 0), "body"), "params"),
	    "arguments"), "query"));
	ck_assert_uint_eq(strlen(q), 999);
	json_object_put(reqs);
	conv_free(&c);
	buf_free(&calls);
	buf_free(&out);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_tool_choice_none_searches_nothing)
{
	struct conv	c;
	struct buf	log = BUF_INIT;
	int		only;

	add_account("A", 0);
	for (only = 0; only <= 1; only++) {
		search_conv(&c, "Please search for kiro", only);
		c.tool_choice = CONV_TOOL_CHOICE_NONE;
		buf_reset(&log);
		ck_assert_int_eq(run(&c, &log), KF_OK);
		ck_assert_ptr_null(strstr(buf_cstr(&log), "\nsearch "));
		has(&log, "start claude-sonnet-4-5\ntext Hello");
		ck_assert_uint_eq(c.n_tools, 0);
		conv_free(&c);
	}
	ck_assert_int_eq(tu_mock_stat(&mock, "mcp"), 0);
	ck_assert_int_eq(tu_mock_stat(&mock, "generate"), 2);
	buf_free(&log);
}
END_TEST

START_TEST(relay_search_with_a_client_call_ends_for_the_client)
{
	struct conv		 c;
	struct conv_tool	*t;
	struct buf		 log = BUF_INIT;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"tool_use\",\"chunks\":"
	    "[\"Both.\"],\"tools\":[{\"name\":\"web_search\",\"id\":"
	    "\"tooluse_S\",\"input\":{\"query\":\"kiro\"}},{\"name\":"
	    "\"read_file\",\"id\":\"tooluse_R\",\"input\":{\"path\":\"/a\"}}]}}");
	search_conv(&c, "search and read", 0);
	t = conv_add_tool(&c);
	t->name = xstrdup("read_file");
	t->description = xstrdup("Read a file");
	ck_assert_int_eq(json_parse("{\"type\":\"object\"}", 17, 8, &t->schema,
	    NULL), KF_OK);
	ck_assert_int_eq(run(&c, &log), KF_OK);
	has(&log, "tool_start 0 tooluse_R read_file\n");
	has(&log, "tool_end 0 {\"path\":\"/a\"}\n");
	has(&log, "search kiro 2 https://example.com/search/1\n");
	has(&log, "finish tool_use searches=1\n");
	ck_assert_ptr_null(strstr(buf_cstr(&log), "tooluse_S"));
	ck_assert_int_eq(tu_mock_stat(&mock, "generate"), 1);
	conv_free(&c);
	buf_free(&log);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("relay-websearch");
	TCase	*tc = tcase_create("relay-websearch");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, mock_setup, mock_teardown);
	tcase_add_test(tc, relay_search_only_is_one_mcp_call_and_no_model_call);
	tcase_add_test(tc, relay_search_refused_token_is_refreshed_once);
	tcase_add_test(tc, relay_search_only_without_a_query_is_invalid);
	tcase_add_test(tc, relay_search_failure_finds_nothing);
	tcase_add_test(tc, relay_search_turn_hides_the_call_and_asks_again);
	tcase_add_test(tc, relay_search_max_uses_refuses_the_rest);
	tcase_add_test(tc, relay_search_rounds_are_capped);
	tcase_add_test(tc, relay_search_calls_per_request_are_capped);
	tcase_add_test(tc, relay_search_query_is_capped_at_a_character);
	tcase_add_test(tc, relay_search_tool_choice_none_searches_nothing);
	tcase_add_test(tc, relay_search_with_a_client_call_ends_for_the_client);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
