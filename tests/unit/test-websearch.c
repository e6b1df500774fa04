/* test-websearch.c: /mcp bodies, defensive result parsing, domain filters, texts. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "json.h"
#include "testutil.h"
#include "websearch.h"
#include "xmalloc.h"

/* An /mcp answer whose inner text is inner (a JSON string's content). */
static char *
answer(const char *inner)
{
	json_object	*root, *result, *content, *item;
	char		*text;

	root = json_object_new_object();
	json_object_object_add(root, "id", json_str("x"));
	json_object_object_add(root, "jsonrpc", json_str("2.0"));
	result = json_object_new_object();
	content = json_object_new_array();
	item = json_object_new_object();
	json_object_object_add(item, "type", json_str("text"));
	json_object_object_add(item, "text", json_str(inner));
	json_object_array_add(content, item);
	json_object_object_add(result, "content", content);
	json_object_object_add(result, "isError", json_object_new_boolean(0));
	json_object_object_add(root, "result", result);
	text = json_to_str(root);
	json_object_put(root);
	return text;
}

START_TEST(websearch_rpc_body_has_the_section_10_shape)
{
	json_object	*v = NULL, *p, *a;
	const char	*s;
	char		*body = websearch_rpc_body("rust \"async\"");

	ck_assert_int_eq(json_parse(body, strlen(body), 16, &v, NULL), KF_OK);
	ck_assert_int_eq(json_get_str(v, "jsonrpc", &s), 1);
	ck_assert_str_eq(s, "2.0");
	ck_assert_int_eq(json_get_str(v, "method", &s), 1);
	ck_assert_str_eq(s, "tools/call");
	ck_assert_int_eq(json_get_str(v, "id", &s), 1);
	ck_assert_int_eq(strncmp(s, "web_search_tooluse_", 19), 0);
	ck_assert_uint_eq(strlen(s), 19 + 22 + 1 + 13 + 1 + 8);
	ck_assert_int_eq(json_get_obj(v, "params", &p), 1);
	ck_assert_int_eq(json_get_str(p, "name", &s), 1);
	ck_assert_str_eq(s, "web_search");
	ck_assert_int_eq(json_get_obj(p, "arguments", &a), 1);
	ck_assert_int_eq(json_get_str(a, "query", &s), 1);
	ck_assert_str_eq(s, "rust \"async\"");
	ck_assert_int_eq(json_object_object_get_ex(v, "profileArn", NULL), 0);
	json_object_put(v);
	free(body);
}
END_TEST

START_TEST(websearch_parse_reads_results)
{
	struct websearch	 ws;
	char			*body;

	memset(&ws, 0, sizeof(ws));
	body = answer("{\"results\":[{\"title\":\"T1\",\"url\":"
	    "\"https://a.example/1\",\"snippet\":\"S1\",\"publishedDate\":"
	    "1772668800000},{\"url\":\"https://b.example/\"},{\"title\":"
	    "\"no url\"},5,null],\"totalResults\":3}");
	ck_assert_int_eq(websearch_parse(body, strlen(body), &ws, NULL), KF_OK);
	ck_assert_uint_eq(ws.n_results, 2);
	ck_assert_str_eq(ws.results[0].title, "T1");
	ck_assert_str_eq(ws.results[0].url, "https://a.example/1");
	ck_assert_str_eq(ws.results[0].snippet, "S1");
	ck_assert_str_eq(ws.results[0].page_age, "March 5, 2026");
	/* A result without a title is named by its URL. */
	ck_assert_str_eq(ws.results[1].title, "https://b.example/");
	ck_assert_ptr_null(ws.results[1].snippet);
	ck_assert_ptr_null(ws.results[1].page_age);
	websearch_free(&ws);
	free(body);
}
END_TEST

START_TEST(websearch_parse_refuses_malformed_answers)
{
	static const char *const inner_bad[] = {
		"not json", "[1,2]", "{\"results\":{}}", "{\"results\":\"x\"}",
		"{\"results\": [{\"title\": 7, \"url\": null}, 5, ",
	};
	static const char *const outer_bad[] = {
		"", "<html>timeout</html>", "[]", "null", "{}",
		"{\"result\":{}}", "{\"result\":{\"content\":{}}}",
		"{\"result\":{\"content\":[{\"type\":\"text\"}]}}",
		"{\"error\":{\"code\":-32000,\"message\":\"down\"}}",
		"{\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
		    "\"{\\\"results\\\":[{\\\"url\\\":\\\"https://x\\\"}]}\"}],"
		    "\"isError\":true}}",
		"{\"result\":{\"content\":[{\"text\":\"{\\\"results\\\":[",
	};
	struct websearch	 ws;
	char			*body, *why = NULL;
	size_t			 i;

	memset(&ws, 0, sizeof(ws));
	for (i = 0; i < sizeof(inner_bad) / sizeof(inner_bad[0]); i++) {
		body = answer(inner_bad[i]);
		ck_assert_int_eq(websearch_parse(body, strlen(body), &ws,
		    &why), KF_EUPSTREAM);
		ck_assert_uint_eq(ws.n_results, 0);
		ck_assert_ptr_nonnull(why);
		free(why);
		why = NULL;
		free(body);
	}
	for (i = 0; i < sizeof(outer_bad) / sizeof(outer_bad[0]); i++) {
		ck_assert_int_eq(websearch_parse(outer_bad[i],
		    strlen(outer_bad[i]), &ws, &why), KF_EUPSTREAM);
		ck_assert_uint_eq(ws.n_results, 0);
		free(why);
		why = NULL;
	}
	websearch_free(&ws);
}
END_TEST

START_TEST(websearch_parse_caps_count_and_sizes)
{
	struct websearch	 ws;
	struct buf		 inner = BUF_INIT;
	char			*body, *big;
	size_t			 i;

	big = xmalloc(10000);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	/* A multi-byte character right at the title cap must not be split. */
	memcpy(big + WEBSEARCH_MAX_TITLE - 1, "\xc3\xa9", 2);
	buf_puts(&inner, "{\"results\":[");
	for (i = 0; i < 3 * WEBSEARCH_MAX_RESULTS; i++)
		buf_printf(&inner, "%s{\"title\":\"%s\",\"url\":"
		    "\"https://x.example/%zu\",\"snippet\":\"%s\"}",
		    i > 0 ? "," : "", big, i, big);
	buf_puts(&inner, "]}");
	body = answer(buf_cstr(&inner));
	memset(&ws, 0, sizeof(ws));
	ck_assert_int_eq(websearch_parse(body, strlen(body), &ws, NULL), KF_OK);
	ck_assert_uint_eq(ws.n_results, WEBSEARCH_MAX_RESULTS);
	ck_assert_uint_eq(strlen(ws.results[0].title), WEBSEARCH_MAX_TITLE - 1);
	ck_assert_uint_eq(strlen(ws.results[0].snippet),
	    WEBSEARCH_MAX_SNIPPET);
	websearch_free(&ws);
	free(body);
	/* Over the answer cap: refused without parsing. */
	ck_assert_int_eq(websearch_parse(big, WEBSEARCH_MAX_ANSWER_BYTES + 1,
	    &ws, NULL), KF_EUPSTREAM);
	buf_free(&inner);
	free(big);
}
END_TEST

START_TEST(websearch_utf8_cut_keeps_characters_whole)
{
	const char	*s = "ab\xc3\xa9" "cd\xe2\x82\xac";

	ck_assert_uint_eq(websearch_utf8_cut(s, strlen(s), 100), strlen(s));
	ck_assert_uint_eq(websearch_utf8_cut(s, strlen(s), 4), 4);
	ck_assert_uint_eq(websearch_utf8_cut(s, strlen(s), 3), 2);
	ck_assert_uint_eq(websearch_utf8_cut(s, strlen(s), 8), 6);
	ck_assert_uint_eq(websearch_utf8_cut(s, strlen(s), 0), 0);
}
END_TEST

START_TEST(websearch_domains_match_hosts_and_subdomains)
{
	ck_assert_int_eq(websearch_domain_match("https://example.com/a",
	    "example.com"), 1);
	ck_assert_int_eq(websearch_domain_match("https://docs.Example.com/a",
	    "example.com"), 1);
	ck_assert_int_eq(websearch_domain_match("https://badexample.com/",
	    "example.com"), 0);
	ck_assert_int_eq(websearch_domain_match("https://example.com.evil.io/",
	    "example.com"), 0);
	ck_assert_int_eq(websearch_domain_match("http://u@example.com:8080/x",
	    "https://example.com/blog"), 1);
	ck_assert_int_eq(websearch_domain_match("https://example.com/",
	    "docs.example.com"), 0);
	ck_assert_int_eq(websearch_domain_match("https://example.com/", ""), 0);
	ck_assert_int_eq(websearch_domain_match("https://a.example.com/",
	    "*.example.com"), 1);
	ck_assert_int_eq(websearch_domain_match("https://a.example.com/",
	    ".example.com"), 1);
	ck_assert_int_eq(websearch_domain_match("https://a.example.com/",
	    "*"), 0);
}
END_TEST

static void
add(struct websearch *ws, const char *url)
{
	ws->results = xreallocarray(ws->results, ws->n_results + 1,
	    sizeof(*ws->results));
	memset(&ws->results[ws->n_results], 0, sizeof(*ws->results));
	ws->results[ws->n_results].title = xstrdup(url);
	ws->results[ws->n_results++].url = xstrdup(url);
}

START_TEST(websearch_filter_applies_allowed_and_blocked)
{
	struct websearch	 ws;
	struct conv		 conv;

	conv_init(&conv);
	memset(&ws, 0, sizeof(ws));
	add(&ws, "https://a.example.com/1");
	add(&ws, "https://b.example.org/2");
	add(&ws, "https://ads.a.example.com/3");
	add(&ws, "https://c.example.net/4");
	ck_assert_int_eq(conv_add_search_domain(&conv, 0, "example.com", NULL),
	    KF_OK);
	ck_assert_int_eq(conv_add_search_domain(&conv, 0, "example.org", NULL),
	    KF_OK);
	ck_assert_int_eq(conv_add_search_domain(&conv, 1, "ads.a.example.com",
	    NULL), KF_OK);
	websearch_filter(&ws, &conv.web_search);
	ck_assert_uint_eq(ws.n_results, 2);
	ck_assert_str_eq(ws.results[0].url, "https://a.example.com/1");
	ck_assert_str_eq(ws.results[1].url, "https://b.example.org/2");
	websearch_free(&ws);
	conv_free(&conv);
}
END_TEST

START_TEST(websearch_domain_lists_are_capped)
{
	struct conv	conv;
	char		*why = NULL;
	int		 i;

	conv_init(&conv);
	for (i = 0; i < CONV_MAX_SEARCH_DOMAINS; i++)
		ck_assert_int_eq(conv_add_search_domain(&conv, 1, "x.example",
		    NULL), KF_OK);
	ck_assert_int_eq(conv_add_search_domain(&conv, 1, "x.example", &why),
	    KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "blocked_domains"));
	free(why);
	conv_free(&conv);
}
END_TEST

START_TEST(websearch_query_strips_claude_code_prefix)
{
	struct conv		 conv;
	struct conv_msg		*m;
	struct conv_block	*b;
	char			*q;

	conv_init(&conv);
	ck_assert_ptr_null(websearch_query(&conv));
	m = conv_add_msg(&conv, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xstrdup("Perform a web search for the query:  kiro fcgi \n");
	q = websearch_query(&conv);
	ck_assert_str_eq(q, "kiro fcgi");
	free(q);
	free(b->text);
	b->text = xstrdup("Perform a web search for the query:   ");
	ck_assert_ptr_null(websearch_query(&conv));
	conv_free(&conv);
}
END_TEST

START_TEST(websearch_offer_adds_the_tool_once)
{
	struct conv	c;

	conv_init(&c);
	websearch_offer(&c);
	ck_assert_uint_eq(c.n_tools, 0);	/* the client offered none */
	c.web_search.enabled = 1;
	c.web_search.only = 1;
	websearch_offer(&c);
	ck_assert_uint_eq(c.n_tools, 0);	/* alone: no model call at all */
	c.web_search.only = 0;
	c.tool_choice = CONV_TOOL_CHOICE_NONE;
	websearch_offer(&c);
	ck_assert_uint_eq(c.n_tools, 0);
	c.tool_choice = CONV_TOOL_CHOICE_AUTO;
	websearch_offer(&c);
	websearch_offer(&c);
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_str_eq(c.tools[0].name, WEBSEARCH_TOOL);
	ck_assert_str_eq(json_object_to_json_string_ext(c.tools[0].schema,
	    JSON_C_TO_STRING_PLAIN), "{\"type\":\"object\",\"properties\":"
	    "{\"query\":{\"type\":\"string\",\"description\":\"What to "
	    "search the web for\"}},\"required\":[\"query\"]}");
	conv_free(&c);
}
END_TEST

START_TEST(websearch_call_query_reads_and_caps)
{
	struct buf	 in = BUF_INIT;
	char		*q;
	int		 i;

	q = websearch_call_query("{\"query\":\"kiro\"}", 16);
	ck_assert_str_eq(q, "kiro");
	free(q);
	q = websearch_call_query("{\"q\":1}", 7);
	ck_assert_str_eq(q, "");
	free(q);
	q = websearch_call_query("not json", 8);
	ck_assert_str_eq(q, "");
	free(q);
	q = websearch_call_query(NULL, 0);
	ck_assert_str_eq(q, "");
	free(q);
	buf_puts(&in, "{\"query\":\"x");
	for (i = 0; i < 800; i++)
		buf_puts(&in, "\xc3\xa9");
	buf_puts(&in, "\"}");
	q = websearch_call_query(in.ptr, in.len);
	ck_assert_uint_eq(strlen(q), WEBSEARCH_MAX_QUERY - 1);
	free(q);
	buf_free(&in);
}
END_TEST

START_TEST(websearch_texts_name_query_titles_urls_snippets)
{
	struct websearch	 ws;
	char			*s;

	memset(&ws, 0, sizeof(ws));
	ws.query = xstrdup("kiro");
	s = websearch_summary(&ws);
	ck_assert_ptr_nonnull(strstr(s, "Here are the search results for "
	    "\"kiro\":"));
	ck_assert_ptr_nonnull(strstr(s, "No results found."));
	free(s);
	s = websearch_result_text(&ws);
	ck_assert_ptr_nonnull(strstr(s, "No results found."));
	free(s);
	add(&ws, "https://a.example/1");
	ws.results[0].snippet = xmalloc(301);
	memset(ws.results[0].snippet, 's', 300);
	ws.results[0].snippet[300] = '\0';
	s = websearch_summary(&ws);
	ck_assert_ptr_nonnull(strstr(s, "1. **https://a.example/1**\n"));
	ck_assert_ptr_nonnull(strstr(s, "sss...\n   Source: "
	    "https://a.example/1\n"));
	ck_assert_ptr_null(strstr(s, "No results"));
	free(s);
	s = websearch_result_text(&ws);
	ck_assert_ptr_nonnull(strstr(s, "\"kiro\""));
	ck_assert_ptr_nonnull(strstr(s, "URL: https://a.example/1"));
	ck_assert_ptr_nonnull(strstr(s, ws.results[0].snippet));
	free(s);
	ws.error = "max_uses_exceeded";
	s = websearch_result_text(&ws);
	ck_assert_ptr_nonnull(strstr(s, "max_uses"));
	free(s);
	websearch_free(&ws);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("websearch");
	TCase	*tc = tcase_create("websearch");

	tcase_add_test(tc, websearch_rpc_body_has_the_section_10_shape);
	tcase_add_test(tc, websearch_parse_reads_results);
	tcase_add_test(tc, websearch_parse_refuses_malformed_answers);
	tcase_add_test(tc, websearch_parse_caps_count_and_sizes);
	tcase_add_test(tc, websearch_utf8_cut_keeps_characters_whole);
	tcase_add_test(tc, websearch_domains_match_hosts_and_subdomains);
	tcase_add_test(tc, websearch_filter_applies_allowed_and_blocked);
	tcase_add_test(tc, websearch_domain_lists_are_capped);
	tcase_add_test(tc, websearch_query_strips_claude_code_prefix);
	tcase_add_test(tc, websearch_offer_adds_the_tool_once);
	tcase_add_test(tc, websearch_call_query_reads_and_caps);
	tcase_add_test(tc, websearch_texts_name_query_titles_urls_snippets);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
