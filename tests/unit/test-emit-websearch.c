/* test-emit-websearch.c: each API's shape of a search the gateway ran (sink web_search). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "anthropic.h"
#include "buf.h"
#include "gemini.h"
#include "json.h"
#include "openai-responses.h"
#include "out.h"
#include "sink.h"
#include "testutil.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * Drives the Anthropic (SSE and JSON), Responses (JSON and SSE) and
 * Gemini (JSON) sinks through start, text, web_search, text, finish and
 * checks the client's view: server_tool_use + web_search_tool_result
 * blocks (or the max_uses error), citations on the text after them
 * (citations_delta when streamed) and usage.server_tool_use; the
 * web_search_call item and url_citation annotations at the right
 * character offsets; groundingMetadata on the candidate.
 */

#define ANSWER	"Per https://a.example/1 (\xc3\xa9t\xc3\xa9) and https://a.example/1."

static void
one_result(struct websearch *ws)
{
	memset(ws, 0, sizeof(*ws));
	ws->query = xstrdup("kiro");
	ws->results = xcalloc(1, sizeof(*ws->results));
	ws->n_results = 1;
	ws->results[0].title = xstrdup("A \"one\"");
	ws->results[0].url = xstrdup("https://a.example/1");
	ws->results[0].snippet = xstrdup("Snippet one.");
	ws->results[0].page_age = xstrdup("March 5, 2026");
}

/* Runs one answer with a search through sink; usage as given. */
static void
drive(struct sink *s, const struct websearch *ws)
{
	struct sink_start	st;
	struct sink_usage	u;

	memset(&st, 0, sizeof(st));
	st.message_id = "msg_0123";
	st.model = "claude-sonnet-4-5";
	st.input_tokens = 10;
	ck_assert_int_eq(s->ops->start(s->arg, &st), 0);
	ck_assert_int_eq(s->ops->text(s->arg, "Looking.", 8), 0);
	ck_assert_ptr_nonnull(s->ops->web_search);
	ck_assert_int_eq(s->ops->web_search(s->arg, "srvtoolu_01", ws), 0);
	ck_assert_int_eq(s->ops->text(s->arg, ANSWER, strlen(ANSWER)), 0);
	memset(&u, 0, sizeof(u));
	u.input_tokens = 10;
	u.output_tokens = 5;
	u.web_search_requests = 1;
	ck_assert_int_eq(s->ops->finish(s->arg, SINK_STOP_END_TURN, &u), 0);
}

/* The JSON body of a complete response written into raw. */
static json_object *
body_of(struct buf *raw)
{
	const char	*p = strstr(buf_cstr(raw), "\r\n\r\n");
	json_object	*v = NULL;

	ck_assert_ptr_nonnull(p);
	p += 4;
	ck_assert_int_eq(json_parse(p, strlen(p), 64, &v, NULL), KF_OK);
	return v;
}

/* The JSON text of path a.b.c... under v (borrowed pointers), as a string. */
static const char *
at(json_object *v, const char *path)
{
	char	*copy = xstrdup(path), *save = NULL, *key;
	long	 i;

	for (key = strtok_r(copy, ".", &save); key != NULL && v != NULL;
	    key = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(v, json_type_array)) {
			i = strtol(key, NULL, 10);
			v = json_object_array_get_idx(v, (size_t)i);
		} else if (!json_object_object_get_ex(v, key, &v))
			v = NULL;
	}
	free(copy);
	return v == NULL ? "(none)" : json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

START_TEST(emit_anthropic_json_search_blocks_and_usage)
{
	struct buf		 raw = BUF_INIT;
	struct out		 out;
	struct sink		 s;
	struct anthropic_emit	*e;
	struct websearch	 ws;
	json_object		*v;

	one_result(&ws);
	memset(&s, 0, sizeof(s));
	out_init_buf(&out, &raw);
	e = anthropic_emit_json(&out, &s);
	drive(&s, &ws);
	v = body_of(&raw);
	/* Written without a tree (#13): json-c's own bytes all the same. */
	ck_assert_str_eq(at(v, ""), strstr(raw.ptr, "\r\n\r\n") + 4);
	ck_assert_str_eq(at(v, "content.0.text"), "\"Looking.\"");
	ck_assert_str_eq(at(v, "content.1"), "{\"type\":\"server_tool_use\","
	    "\"id\":\"srvtoolu_01\",\"name\":\"web_search\",\"input\":"
	    "{\"query\":\"kiro\"}}");
	ck_assert_str_eq(at(v, "content.2"), "{\"type\":"
	    "\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_01\","
	    "\"content\":[{\"type\":\"web_search_result\",\"title\":"
	    "\"A \\\"one\\\"\",\"url\":\"https://a.example/1\","
	    "\"encrypted_content\":\"Snippet one.\",\"page_age\":"
	    "\"March 5, 2026\"}]}");
	ck_assert_str_eq(at(v, "content.3.type"), "\"text\"");
	/* The answer names the result's URL twice: one citation. */
	ck_assert_str_eq(at(v, "content.3.citations"), "[{\"type\":"
	    "\"web_search_result_location\",\"url\":\"https://a.example/1\","
	    "\"title\":\"A \\\"one\\\"\",\"encrypted_index\":\"\","
	    "\"cited_text\":\"Snippet one.\"}]");
	ck_assert_str_eq(at(v, "content.0.citations"), "(none)");
	ck_assert_str_eq(at(v, "usage.server_tool_use"),
	    "{\"web_search_requests\":1}");
	json_object_put(v);
	anthropic_emit_free(e);
	buf_free(&raw);
	websearch_free(&ws);
}
END_TEST

START_TEST(emit_anthropic_stream_search_blocks_and_max_uses_error)
{
	struct buf		 raw = BUF_INIT;
	struct out		 out;
	struct sink		 s;
	struct anthropic_emit	*e;
	struct websearch	 ws;

	memset(&ws, 0, sizeof(ws));
	ws.query = xstrdup("kiro");
	ws.error = "max_uses_exceeded";
	memset(&s, 0, sizeof(s));
	out_init_buf(&out, &raw);
	e = anthropic_emit_stream(&out, &s);
	drive(&s, &ws);
	/* The text block closes, then two whole blocks at indexes 1 and 2. */
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "{\"type\":"
	    "\"content_block_stop\",\"index\":0}\n\nevent: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":1,"
	    "\"content_block\":{\"type\":\"server_tool_use\",\"id\":"
	    "\"srvtoolu_01\",\"name\":\"web_search\",\"input\":{\"query\":"
	    "\"kiro\"}}}\n\nevent: content_block_stop\ndata: {\"type\":"
	    "\"content_block_stop\",\"index\":1}\n\nevent: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":2,"
	    "\"content_block\":{\"type\":\"web_search_tool_result\","
	    "\"tool_use_id\":\"srvtoolu_01\",\"content\":{\"type\":"
	    "\"web_search_tool_result_error\",\"error_code\":"
	    "\"max_uses_exceeded\"}}}\n\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "\"index\":3,"
	    "\"content_block\":{\"type\":\"text\""));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "\"cache_read_input_tokens"
	    "\":0,\"server_tool_use\":{\"web_search_requests\":1}}}"));
	anthropic_emit_free(e);
	buf_free(&raw);
	websearch_free(&ws);
}
END_TEST

START_TEST(emit_anthropic_stream_citations_delta)
{
	struct buf		 raw = BUF_INIT;
	struct out		 out;
	struct sink		 s;
	struct anthropic_emit	*e;
	struct websearch	 ws;

	one_result(&ws);
	memset(&s, 0, sizeof(s));
	out_init_buf(&out, &raw);
	e = anthropic_emit_stream(&out, &s);
	drive(&s, &ws);
	ck_assert_msg(strstr(buf_cstr(&raw), "data: {\"type\":"
	    "\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
	    "\"citations_delta\",\"citation\":{\"type\":"
	    "\"web_search_result_location\",\"url\":\"https://a.example"
	    "/1\",\"title\":\"A \\\"one\\\"\",\"encrypted_index\":\"\","
	    "\"cited_text\":\"Snippet one.\"}}}\n\nevent: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":3}") != NULL,
	    "%s", buf_cstr(&raw));
	/* The text before the search cites nothing. */
	ck_assert_ptr_null(strstr(buf_cstr(&raw), "\"index\":0,\"delta\":"
	    "{\"type\":\"citations_delta\""));
	anthropic_emit_free(e);
	buf_free(&raw);
	websearch_free(&ws);
}
END_TEST

START_TEST(emit_responses_web_search_call_and_url_citations)
{
	struct buf			 raw = BUF_INIT;
	struct out			 out;
	struct sink			 s;
	struct openai_responses_emit	*e;
	struct websearch		 ws;
	json_object			*v;

	one_result(&ws);
	memset(&s, 0, sizeof(s));
	out_init_buf(&out, &raw);
	e = openai_responses_emit_json(&out, &s, NULL);
	drive(&s, &ws);
	v = body_of(&raw);
	ck_assert_str_eq(at(v, "output.1.type"), "\"web_search_call\"");
	ck_assert_str_eq(at(v, "output.1.status"), "\"completed\"");
	ck_assert_str_eq(at(v, "output.1.action"), "{\"type\":\"search\","
	    "\"query\":\"kiro\",\"sources\":[{\"type\":\"url\",\"url\":"
	    "\"https://a.example/1\",\"title\":\"A \\\"one\\\"\",\"snippet\":"
	    "\"Snippet one.\"}]}");
	/* Character offsets: the two accented letters count once each. */
	ck_assert_str_eq(at(v, "output.2.content.0.annotations"),
	    "[{\"type\":\"url_citation\",\"start_index\":4,\"end_index\":23,"
	    "\"url\":\"https://a.example/1\",\"title\":\"A \\\"one\\\"\"},"
	    "{\"type\":\"url_citation\",\"start_index\":34,\"end_index\":53,"
	    "\"url\":\"https://a.example/1\",\"title\":\"A \\\"one\\\"\"}]");
	ck_assert_str_eq(at(v, "output.0.content.0.annotations"), "[]");
	json_object_put(v);
	openai_responses_emit_free(e);
	buf_free(&raw);
	websearch_free(&ws);
}
END_TEST

START_TEST(emit_responses_stream_web_search_events)
{
	struct buf			 raw = BUF_INIT;
	struct out			 out;
	struct sink			 s;
	struct openai_responses_emit	*e;
	struct websearch		 ws;
	const char			*r, *p;

	one_result(&ws);
	memset(&s, 0, sizeof(s));
	out_init_buf(&out, &raw);
	e = openai_responses_emit_stream(&out, &s, NULL);
	drive(&s, &ws);
	r = buf_cstr(&raw);
	p = strstr(r, "event: response.output_item.added\ndata: {\"type\":"
	    "\"response.output_item.added\"");
	ck_assert_ptr_nonnull(p = strstr(r, "\"type\":\"web_search_call\","
	    "\"status\":\"in_progress\""));
	ck_assert_ptr_nonnull(p = strstr(p, "event: "
	    "response.web_search_call.in_progress\n"));
	ck_assert_ptr_nonnull(p = strstr(p, "event: "
	    "response.web_search_call.searching\n"));
	ck_assert_ptr_nonnull(p = strstr(p, "event: "
	    "response.web_search_call.completed\n"));
	ck_assert_ptr_nonnull(p = strstr(p, "\"type\":\"web_search_call\","
	    "\"status\":\"completed\""));
	ck_assert_ptr_nonnull(p = strstr(p, "event: "
	    "response.output_text.annotation.added\n"));
	ck_assert_ptr_nonnull(strstr(p, "\"annotation_index\":1,"
	    "\"annotation\":{\"type\":\"url_citation\",\"start_index\":34"));
	openai_responses_emit_free(e);
	buf_free(&raw);
	websearch_free(&ws);
}
END_TEST

START_TEST(emit_gemini_grounding_metadata)
{
	struct buf		 raw = BUF_INIT;
	struct out		 out;
	struct sink		 s;
	struct gemini_emit	*e;
	struct websearch	 ws;
	json_object		*v;

	one_result(&ws);
	memset(&s, 0, sizeof(s));
	out_init_buf(&out, &raw);
	e = gemini_emit_new(GEMINI_EMIT_JSON, &out, &s, NULL);
	drive(&s, &ws);
	v = body_of(&raw);
	/* Supports: byte offsets over the whole text ("Looking." first). */
	ck_assert_str_eq(at(v, "candidates.0.groundingMetadata"),
	    "{\"webSearchQueries\":[\"kiro\"],\"groundingChunks\":[{\"web\":"
	    "{\"uri\":\"https://a.example/1\",\"title\":\"A \\\"one\\\"\"}}],"
	    "\"groundingSupports\":[{\"segment\":{\"startIndex\":12,"
	    "\"endIndex\":31,\"text\":\"https://a.example/1\"},"
	    "\"groundingChunkIndices\":[0]},{\"segment\":{\"startIndex\":44,"
	    "\"endIndex\":63,\"text\":\"https://a.example/1\"},"
	    "\"groundingChunkIndices\":[0]}]}");
	ck_assert_str_eq(at(v, "candidates.0.finishReason"), "\"STOP\"");
	json_object_put(v);
	gemini_emit_free(e);
	buf_free(&raw);
	websearch_free(&ws);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("emit-websearch");
	TCase	*tc = tcase_create("emit-websearch");

	tcase_add_test(tc, emit_anthropic_json_search_blocks_and_usage);
	tcase_add_test(tc, emit_anthropic_stream_search_blocks_and_max_uses_error);
	tcase_add_test(tc, emit_anthropic_stream_citations_delta);
	tcase_add_test(tc, emit_responses_web_search_call_and_url_citations);
	tcase_add_test(tc, emit_responses_stream_web_search_events);
	tcase_add_test(tc, emit_gemini_grounding_metadata);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
