/* test-emit-openai-chat.c: the Chat Completions chunk stream and JSON sinks, byte for byte. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "openai-chat.h"
#include "out.h"
#include "sink.h"
#include "testutil.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * Drives fcgi/emit-openai-chat.c through its sink ops into a memory out
 * and checks what a client receives (doc/protocol.md §6.4): the exact
 * chunks of a text answer, reasoning_content, tool calls with their
 * argument fragments (and a call with none), the finish_reason of every
 * stop, the usage chunk with include_usage, [DONE], errors before and
 * after the head, the keep-alive comment, reset, and the chat.completion
 * object with content, reasoning_content and tool_calls (the emitted
 * call's arguments parse back into what the parser takes: the round trip).
 * Every data: line but [DONE] must parse as JSON.
 */

#define MSG_ID		"msg_0123456789abcdef0123456789abcdef"
#define CHAT_ID		"chatcmpl-0123456789abcdef0123456789abcdef"
#define MODEL		"gpt-4o"
#define SSE_HEAD	"Status: 200 OK\r\nContent-Type: text/event-stream\r\n" \
	"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"

struct harness {
	struct buf		 raw;
	struct out		 out;
	struct sink		 sink;
	struct openai_chat_emit	*e;
	char			 prefix[256];	/* a chunk's first bytes */
};

static void
h_init(struct harness *h, int stream, int include_usage)
{
	memset(h, 0, sizeof(*h));
	out_init_buf(&h->out, &h->raw);
	h->e = stream ? openai_chat_emit_stream(&h->out, &h->sink,
	    include_usage) : openai_chat_emit_json(&h->out, &h->sink);
	ck_assert_ptr_nonnull(h->e);
	ck_assert_int_eq(h->sink.streams, stream);
}

static void
h_free(struct harness *h)
{
	openai_chat_emit_free(h->e);
	buf_free(&h->raw);
}

static void
h_start(struct harness *h)
{
	struct sink_start	st;

	memset(&st, 0, sizeof(st));
	st.message_id = MSG_ID;
	st.model = MODEL;
	st.input_tokens = 12;
	ck_assert_int_eq(h->sink.ops->start(h->sink.arg, &st), 0);
}

/* The created time is the clock's: read it back from the first chunk. */
static long
created_of(const char *raw)
{
	const char	*p = strstr(raw, "\"created\":");

	ck_assert_ptr_nonnull(p);
	return strtol(p + 10, NULL, 10);
}

/* The expected data: line of a chunk with this delta and finish. */
static void
expect_chunk(struct buf *want, long created, const char *delta,
    const char *finish)
{
	buf_printf(want, "data: {\"id\":\"" CHAT_ID "\",\"object\":"
	    "\"chat.completion.chunk\",\"created\":%ld,\"model\":\"" MODEL
	    "\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,"
	    "\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}]}\n\n",
	    created, delta, finish);
}

/* Every data: line parses (but [DONE]); returns how many chunks. */
static int
check_lines(const char *body)
{
	const char	*p = body, *end;
	json_object	*v;
	int		 n = 0;

	while ((p = strstr(p, "data: ")) != NULL) {
		p += 6;
		end = strstr(p, "\n\n");
		ck_assert_ptr_nonnull(end);
		if (strncmp(p, "[DONE]", 6) != 0) {
			v = NULL;
			ck_assert_msg(json_parse(p, (size_t)(end - p), 64, &v,
			    NULL) == KF_OK, "bad chunk %.*s", (int)(end - p),
			    p);
			json_object_put(v);
			n++;
		}
		p = end;
	}
	return n;
}

START_TEST(stream_text_exact_bytes)
{
	struct harness		h;
	struct sink_usage	u = { .input_tokens = 12, .output_tokens = 3 };
	struct buf		want = BUF_INIT;
	long			created;

	h_init(&h, 1, 0);
	h_start(&h);
	ck_assert(h.sink.committed);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "Hel", 3), 0);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "lo \"x\"\n", 7), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	/* A second finish writes nothing. */
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	created = created_of(buf_cstr(&h.raw));
	buf_puts(&want, SSE_HEAD);
	expect_chunk(&want, created, "{\"role\":\"assistant\"}", "null");
	expect_chunk(&want, created, "{\"content\":\"Hel\"}", "null");
	expect_chunk(&want, created, "{\"content\":\"lo \\\"x\\\"\\n\"}",
	    "null");
	expect_chunk(&want, created, "{}", "\"stop\"");
	buf_puts(&want, "data: [DONE]\n\n");
	ck_assert_str_eq(buf_cstr(&h.raw), want.ptr);
	ck_assert_int_eq(check_lines(h.raw.ptr), 4);
	buf_free(&want);
	h_free(&h);
}
END_TEST

START_TEST(stream_reasoning_tools_usage)
{
	struct harness		h;
	struct sink_usage	u = { .input_tokens = 12, .output_tokens = 30 };
	struct buf		want = BUF_INIT;
	long			created;

	h_init(&h, 1, 1);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->thinking(h.sink.arg, "hmm", 3), 0);
	ck_assert_int_eq(h.sink.ops->thinking_end(h.sink.arg, "sig"), 0);
	ck_assert_int_eq(h.sink.ops->tool_start(h.sink.arg, 0, "tooluse_A",
	    "get_weather"), 0);
	ck_assert_int_eq(h.sink.ops->tool_input(h.sink.arg, 0, "{\"city\"",
	    7), 0);
	ck_assert_int_eq(h.sink.ops->tool_start(h.sink.arg, 1, "tooluse_B",
	    "ping"), 0);
	ck_assert_int_eq(h.sink.ops->tool_input(h.sink.arg, 0, ":\"Oslo\"}",
	    8), 0);
	ck_assert_int_eq(h.sink.ops->tool_end(h.sink.arg, 0,
	    "{\"city\":\"Oslo\"}"), 0);
	/* No fragments: the whole input goes out at the end. */
	ck_assert_int_eq(h.sink.ops->tool_end(h.sink.arg, 1, "{}"), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_TOOL_USE,
	    &u), 0);
	created = created_of(buf_cstr(&h.raw));
	buf_puts(&want, SSE_HEAD);
	expect_chunk(&want, created, "{\"role\":\"assistant\"}", "null");
	expect_chunk(&want, created, "{\"reasoning_content\":\"hmm\"}", "null");
	expect_chunk(&want, created, "{\"tool_calls\":[{\"index\":0,\"id\":"
	    "\"tooluse_A\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"arguments\":\"\"}}]}", "null");
	expect_chunk(&want, created, "{\"tool_calls\":[{\"index\":0,"
	    "\"function\":{\"arguments\":\"{\\\"city\\\"\"}}]}", "null");
	expect_chunk(&want, created, "{\"tool_calls\":[{\"index\":1,\"id\":"
	    "\"tooluse_B\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"ping\",\"arguments\":\"\"}}]}", "null");
	expect_chunk(&want, created, "{\"tool_calls\":[{\"index\":0,"
	    "\"function\":{\"arguments\":\":\\\"Oslo\\\"}\"}}]}", "null");
	expect_chunk(&want, created, "{\"tool_calls\":[{\"index\":1,"
	    "\"function\":{\"arguments\":\"{}\"}}]}", "null");
	expect_chunk(&want, created, "{}", "\"tool_calls\"");
	buf_printf(&want, "data: {\"id\":\"" CHAT_ID "\",\"object\":"
	    "\"chat.completion.chunk\",\"created\":%ld,\"model\":\"" MODEL
	    "\",\"system_fingerprint\":null,\"choices\":[],\"usage\":"
	    "{\"prompt_tokens\":12,\"completion_tokens\":30,"
	    "\"total_tokens\":42,\"prompt_tokens_details\":"
	    "{\"cached_tokens\":0}}}\n\n", created);
	buf_puts(&want, "data: [DONE]\n\n");
	ck_assert_str_eq(buf_cstr(&h.raw), want.ptr);
	ck_assert_int_eq(check_lines(h.raw.ptr), 9);
	buf_free(&want);
	h_free(&h);
}
END_TEST

START_TEST(finish_reasons)
{
	static const struct {
		enum sink_stop	 stop;
		const char	*want;
	} t[] = {
		{ SINK_STOP_END_TURN, "stop" },
		{ SINK_STOP_TOOL_USE, "tool_calls" },
		{ SINK_STOP_MAX_TOKENS, "length" },
		{ SINK_STOP_CONTEXT_WINDOW, "length" },
		{ SINK_STOP_STOP_SEQUENCE, "stop" },
	};
	struct harness		h;
	struct sink_usage	u = { .input_tokens = 1, .output_tokens = 1 };
	size_t			i;
	char			want[64];

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_str_eq(openai_chat_finish_reason(t[i].stop),
		    t[i].want);
		h_init(&h, 0, 0);
		h_start(&h);
		ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "x", 1), 0);
		ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, t[i].stop,
		    &u), 0);
		snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"",
		    t[i].want);
		ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), want));
		h_free(&h);
	}
	/* A tool was called: tool_calls even after end_turn. */
	h_init(&h, 1, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->tool_start(h.sink.arg, 0, "t", "f"), 0);
	ck_assert_int_eq(h.sink.ops->tool_end(h.sink.arg, 0, "{}"), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw),
	    "\"finish_reason\":\"tool_calls\""));
	h_free(&h);
}
END_TEST

START_TEST(stream_error_after_head_then_done)
{
	struct harness	 h;
	const char	*raw, *p;

	h_init(&h, 1, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "par", 3), 0);
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_EOVERLOADED,
	    "busy upstream"), 0);
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_EOVERLOADED,
	    "again"), 0);
	raw = buf_cstr(&h.raw);
	p = strstr(raw, "data: {\"error\":{\"message\":\"busy upstream\","
	    "\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}"
	    "\n\ndata: [DONE]\n\n");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p + strlen(p) - 14, "data: [DONE]\n\n");
	ck_assert_ptr_null(strstr(raw, "again"));
	ck_assert_int_eq(check_lines(raw), 3);
	h_free(&h);
}
END_TEST

START_TEST(error_before_head_is_a_response)
{
	struct harness	h;

	h_init(&h, 0, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.committed, 0);
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_ERATE, "slow down"),
	    0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), "Status: 429"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), "\"code\":"
	    "\"rate_limit_exceeded\""));
	h_free(&h);
}
END_TEST

START_TEST(ping_is_a_comment_after_the_head)
{
	struct harness	h;

	h_init(&h, 1, 0);
	ck_assert_int_eq(h.sink.ops->ping(h.sink.arg), 0);
	ck_assert_uint_eq(h.raw.len, 0);
	h_start(&h);
	buf_reset(&h.raw);
	ck_assert_int_eq(h.sink.ops->ping(h.sink.arg), 0);
	ck_assert_str_eq(buf_cstr(&h.raw), ": keep-alive\n\n");
	h_free(&h);
	h_init(&h, 0, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->ping(h.sink.arg), 0);
	ck_assert_uint_eq(h.raw.len, 0);
	h_free(&h);
}
END_TEST

static json_object *
json_body(struct harness *h)
{
	const char	*raw = buf_cstr(&h->raw), *body;
	json_object	*v = NULL;

	ck_assert_ptr_nonnull(strstr(raw, "Status: 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(raw, "Content-Type: application/json"));
	body = strstr(raw, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_int_eq(json_parse(body, strlen(body), 64, &v, NULL), KF_OK);
	return v;
}

static const char *
path_str(json_object *v, const char *a, int i, const char *b,
    const char *c)
{
	json_object	*x = v;

	ck_assert(json_object_object_get_ex(x, a, &x));
	if (i >= 0)
		x = json_object_array_get_idx(x, (size_t)i);
	if (b != NULL)
		ck_assert(json_object_object_get_ex(x, b, &x));
	if (c != NULL && !json_object_object_get_ex(x, c, &x))
		return NULL;
	return x == NULL ? NULL : json_object_get_string(x);
}

START_TEST(json_text_and_reasoning)
{
	struct harness		 h;
	struct sink_usage	 u = { .input_tokens = 12, .output_tokens = 5 };
	json_object		*v;

	h_init(&h, 0, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->thinking(h.sink.arg, "think", 5), 0);
	ck_assert_int_eq(h.sink.ops->thinking_end(h.sink.arg, NULL), 0);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "Hi ", 3), 0);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "there", 5), 0);
	ck_assert_uint_eq(h.raw.len, 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	ck_assert(h.sink.committed);
	v = json_body(&h);
	ck_assert_str_eq(path_str(v, "id", -1, NULL, NULL), CHAT_ID);
	ck_assert_str_eq(path_str(v, "object", -1, NULL, NULL),
	    "chat.completion");
	ck_assert_str_eq(path_str(v, "model", -1, NULL, NULL), MODEL);
	ck_assert_str_eq(path_str(v, "choices", 0, "message", "content"),
	    "Hi there");
	ck_assert_str_eq(path_str(v, "choices", 0, "message", "role"),
	    "assistant");
	ck_assert_str_eq(path_str(v, "choices", 0, "message",
	    "reasoning_content"), "think");
	ck_assert_str_eq(path_str(v, "choices", 0, "finish_reason", NULL),
	    "stop");
	ck_assert_str_eq(path_str(v, "usage", -1, "total_tokens", NULL), "17");
	ck_assert_str_eq(path_str(v, "usage", -1, "prompt_tokens", NULL),
	    "12");
	json_object_put(v);
	h_free(&h);
}
END_TEST

/*
 * web_search_options: the sources of the gateway's searches become
 * url_citation annotations wherever the content names their URL, with
 * offsets in code points over the whole content (text streamed before
 * the search included): in the message, and as a delta before the
 * finish chunk when streaming.
 */
static json_object *
citations_of(int stream)
{
	struct harness		 h;
	struct sink_usage	 u = { .input_tokens = 1, .output_tokens = 1 };
	struct websearch_result	 r[2] = {
		{ "Kiro", "https://kiro.dev/a", NULL, NULL },
		{ "Other", "https://x.org/b", NULL, NULL },
	};
	struct websearch	 ws = { "kiro", r, 2, NULL };
	json_object		*v, *notes = NULL;
	const char		*p, *end;

	h_init(&h, stream, 0);
	h_start(&h);
	/* "é" and "→" are one character each, two and three bytes. */
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "Caf\xc3\xa9 \xe2\x86\x92 ",
	    10), 0);
	ck_assert_int_eq(h.sink.ops->web_search(h.sink.arg, "srvtoolu_1", &ws),
	    0);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "see https://kiro.dev/a "
	    "and https://kiro.dev/a", 45), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	if (!stream) {
		v = json_body(&h);
		ck_assert(json_object_object_get_ex(json_object_object_get(
		    json_object_array_get_idx(json_object_object_get(v,
		    "choices"), 0), "message"), "annotations", &notes));
		notes = json_object_get(notes);
		json_object_put(v);
	} else {
		check_lines(h.raw.ptr);
		/* The one chunk with annotations comes before the finish. */
		p = strstr(h.raw.ptr, "{\"annotations\":");
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_null(strstr(p + 1, "{\"annotations\":"));
		ck_assert_ptr_nonnull(strstr(p, "\"finish_reason\":\"stop\""));
		ck_assert_ptr_nonnull(strstr(p, "\"finish_reason\":null"));
		ck_assert(strstr(p, "\"finish_reason\":null") <
		    strstr(p, "\"finish_reason\":\"stop\""));
		end = strstr(p, "},\"logprobs\"");
		ck_assert_ptr_nonnull(end);
		ck_assert_int_eq(json_parse(p, (size_t)(end + 1 - p), 64, &v, NULL),
		    KF_OK);
		notes = json_object_get(json_object_object_get(v,
		    "annotations"));
		json_object_put(v);
	}
	h_free(&h);
	return notes;
}

START_TEST(web_search_citations)
{
	const char	*want = "[{\"type\":\"url_citation\",\"url_citation\":"
	    "{\"start_index\":11,\"end_index\":29,\"url\":\"https://kiro.dev/a\","
	    "\"title\":\"Kiro\"}},{\"type\":\"url_citation\",\"url_citation\":"
	    "{\"start_index\":34,\"end_index\":52,\"url\":\"https://kiro.dev/a\","
	    "\"title\":\"Kiro\"}}]";
	json_object	*notes;
	int		 stream;

	for (stream = 0; stream <= 1; stream++) {
		notes = citations_of(stream);
		ck_assert_ptr_nonnull(notes);
		ck_assert_str_eq(json_object_to_json_string_ext(notes,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		    want);
		json_object_put(notes);
	}
}
END_TEST

/* Without a search: no annotations member, no annotations chunk. */
START_TEST(no_search_no_annotations)
{
	struct harness		 h;
	struct sink_usage	 u = { .input_tokens = 1, .output_tokens = 1 };
	json_object		*v, *m;
	int			 stream;

	for (stream = 0; stream <= 1; stream++) {
		h_init(&h, stream, 0);
		h_start(&h);
		ck_assert_int_eq(h.sink.ops->text(h.sink.arg,
		    "https://kiro.dev/a", 18), 0);
		ck_assert_int_eq(h.sink.ops->finish(h.sink.arg,
		    SINK_STOP_END_TURN, &u), 0);
		if (stream)
			ck_assert_ptr_null(strstr(h.raw.ptr, "annotations"));
		else {
			v = json_body(&h);
			m = json_object_object_get(json_object_array_get_idx(
			    json_object_object_get(v, "choices"), 0),
			    "message");
			ck_assert(!json_object_object_get_ex(m, "annotations",
			    NULL));
			json_object_put(v);
		}
		h_free(&h);
	}
}
END_TEST

/* What the emitter gives back, the parser takes as history. */
/* Kiro's cache reads are prompt_tokens_details.cached_tokens (§12). */
START_TEST(cached_tokens_in_both_modes)
{
	struct harness		 h;
	struct sink_usage	 u = { .input_tokens = 1000, .output_tokens = 7,
				    .cache_read_tokens = 900,
				    .cache_write_tokens = 60 };
	json_object		*v;

	h_init(&h, 0, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "Hi", 2), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	v = json_body(&h);
	ck_assert_str_eq(path_str(v, "usage", -1, "prompt_tokens", NULL),
	    "1000");
	ck_assert_str_eq(path_str(v, "usage", -1, "prompt_tokens_details",
	    "cached_tokens"), "900");
	json_object_put(v);
	h_free(&h);

	h_init(&h, 1, 1);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "Hi", 2), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), "\"usage\":"
	    "{\"prompt_tokens\":1000,\"completion_tokens\":7,"
	    "\"total_tokens\":1007,\"prompt_tokens_details\":"
	    "{\"cached_tokens\":900}}}\n\n"));
	h_free(&h);
}
END_TEST

START_TEST(json_tool_calls_round_trip)
{
	struct harness		 h;
	struct sink_usage	 u = { .input_tokens = 12, .output_tokens = 5 };
	struct conv		 c;
	struct openai_chat_opts	 o;
	json_object		*v, *m, *req, *msgs, *user;
	char			*body, *why = NULL, *param = NULL, *in;

	h_init(&h, 0, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->tool_start(h.sink.arg, 0, "tooluse_X",
	    "get_weather"), 0);
	ck_assert_int_eq(h.sink.ops->tool_input(h.sink.arg, 0, "{\"ci", 4),
	    0);
	ck_assert_int_eq(h.sink.ops->tool_end(h.sink.arg, 0,
	    "{\"city\":\"Rome\"}"), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_TOOL_USE,
	    &u), 0);
	v = json_body(&h);
	ck_assert_ptr_null(path_str(v, "choices", 0, "message", "content"));
	ck_assert_ptr_null(path_str(v, "choices", 0, "message",
	    "reasoning_content"));
	ck_assert_str_eq(path_str(v, "choices", 0, "finish_reason", NULL),
	    "tool_calls");
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(
	    json_object_object_get(v, "choices"), 0), "message", &m));

	/* Send the message back as history, with the tool's answer. */
	req = json_object_new_object();
	json_object_object_add(req, "model", json_str("claude-sonnet-4-5"));
	msgs = json_object_new_array();
	user = json_object_new_object();
	json_object_object_add(user, "role", json_str("user"));
	json_object_object_add(user, "content", json_str("weather in Rome?"));
	json_object_array_add(msgs, user);
	json_object_array_add(msgs, json_object_get(m));
	user = json_object_new_object();
	json_object_object_add(user, "role", json_str("tool"));
	json_object_object_add(user, "tool_call_id", json_str("tooluse_X"));
	json_object_object_add(user, "content", json_str("22C"));
	json_object_array_add(msgs, user);
	json_object_object_add(req, "messages", msgs);
	body = json_to_str(req);
	conv_init(&c);
	ck_assert_msg(openai_chat_parse(body, strlen(body), NULL, &c, &o,
	    &why, &param) == KF_OK, "%s", why);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_str_eq(c.msgs[1].blocks[0].id, "tooluse_X");
	ck_assert_str_eq(c.msgs[1].blocks[0].name, "get_weather");
	in = json_to_str(c.msgs[1].blocks[0].input);
	ck_assert_str_eq(in, "{\"city\":\"Rome\"}");
	ck_assert_str_eq(c.msgs[2].blocks[0].id, "tooluse_X");
	free(in);
	free(body);
	conv_free(&c);
	json_object_put(req);
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(reset_forgets_the_attempt)
{
	struct harness		 h;
	struct sink_usage	 u = { .input_tokens = 1, .output_tokens = 1 };
	json_object		*v;

	h_init(&h, 0, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "old", 3), 0);
	ck_assert_int_eq(h.sink.ops->tool_start(h.sink.arg, 0, "t", "f"), 0);
	h.sink.ops->reset(h.sink.arg);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->text(h.sink.arg, "new", 3), 0);
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
	v = json_body(&h);
	ck_assert_str_eq(path_str(v, "choices", 0, "message", "content"),
	    "new");
	ck_assert_ptr_null(path_str(v, "choices", 0, "message", "tool_calls"));
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(client_gone_is_reported)
{
	struct harness	h;

	h_init(&h, 1, 0);
	h_start(&h);
	h.out.failed = 1;
	ck_assert_int_ne(h.sink.ops->text(h.sink.arg, "x", 1), 0);
	h_free(&h);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("emit-openai-chat");
	TCase	*tc = tcase_create("emit");

	tcase_add_test(tc, stream_text_exact_bytes);
	tcase_add_test(tc, stream_reasoning_tools_usage);
	tcase_add_test(tc, finish_reasons);
	tcase_add_test(tc, stream_error_after_head_then_done);
	tcase_add_test(tc, error_before_head_is_a_response);
	tcase_add_test(tc, ping_is_a_comment_after_the_head);
	tcase_add_test(tc, json_text_and_reasoning);
	tcase_add_test(tc, cached_tokens_in_both_modes);
	tcase_add_test(tc, json_tool_calls_round_trip);
	tcase_add_test(tc, reset_forgets_the_attempt);
	tcase_add_test(tc, client_gone_is_reported);
	tcase_add_test(tc, web_search_citations);
	tcase_add_test(tc, no_search_no_annotations);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
