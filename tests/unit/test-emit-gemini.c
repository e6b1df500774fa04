/* test-emit-gemini.c: the Gemini JSON, SSE and JSON-array sinks, and Gemini errors. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "gemini.h"
#include "json.h"
#include "out.h"
#include "sink.h"
#include "testutil.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * Drives fcgi/emit-gemini.c through its sink ops into a memory out and
 * checks what a client receives: the exact bytes of an SSE answer, the
 * JSON array form parsed whole, the merged JSON response (text, thought
 * parts with their signature only when includeThoughts, functionCall with
 * id, name and args), finishReason for each stop, usageMetadata sums,
 * errors before anything was written (a Gemini error response with
 * Retry-After) and mid-stream (the stream's last element), finish and
 * error only once, reset (and a restart's new chunk tail), and the error
 * status table.
 */

#define RID	"msg_0123456789abcdef0123456789abcdef"
#define MODEL	"gemini-2.5-pro"
#define SSE_HEAD "Status: 200 OK\r\nContent-Type: text/event-stream\r\n" \
	"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"
#define JSON_STREAM_HEAD "Status: 200 OK\r\nContent-Type: application/json\r\n" \
	"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"
#define TAIL	",\"modelVersion\":\"" MODEL "\",\"responseId\":\"" RID "\"}"
#define CHUNK(part) "{\"candidates\":[{\"content\":{\"parts\":[" part "]," \
	"\"role\":\"model\"},\"index\":0}],\"usageMetadata\":" \
	"{\"promptTokenCount\":12,\"totalTokenCount\":12}" TAIL

struct harness {
	struct buf		 raw;
	struct out		 out;
	struct sink		 sink;
	struct gemini_emit	*e;
};

static void
h_init(struct harness *h, enum gemini_emit_mode mode, int thoughts)
{
	struct gemini_opts	o;

	memset(h, 0, sizeof(*h));
	memset(&o, 0, sizeof(o));
	o.include_thoughts = thoughts;
	out_init_buf(&h->out, &h->raw);
	h->e = gemini_emit_new(mode, &h->out, &h->sink, &o);
	ck_assert_ptr_nonnull(h->e);
	ck_assert_int_eq(h->sink.streams, mode != GEMINI_EMIT_JSON);
}

static void
h_free(struct harness *h)
{
	gemini_emit_free(h->e);
	buf_free(&h->raw);
}

static void
h_start(struct harness *h)
{
	struct sink_start	st;

	memset(&st, 0, sizeof(st));
	st.message_id = RID;
	st.model = MODEL;
	st.input_tokens = 12;
	ck_assert_int_eq(h->sink.ops->start(h->sink.arg, &st), 0);
}

static void
h_text(struct harness *h, const char *s)
{
	ck_assert_int_eq(h->sink.ops->text(h->sink.arg, s, strlen(s)), 0);
}

static void
h_thinking(struct harness *h, const char *s)
{
	ck_assert_int_eq(h->sink.ops->thinking(h->sink.arg, s, strlen(s)), 0);
}

static void
h_tool(struct harness *h, size_t i, const char *id, const char *name,
    const char *input)
{
	size_t	half = strlen(input) / 2;

	ck_assert_int_eq(h->sink.ops->tool_start(h->sink.arg, i, id, name), 0);
	ck_assert_int_eq(h->sink.ops->tool_input(h->sink.arg, i, input, half),
	    0);
	ck_assert_int_eq(h->sink.ops->tool_input(h->sink.arg, i, input + half,
	    strlen(input) - half), 0);
	ck_assert_int_eq(h->sink.ops->tool_end(h->sink.arg, i, input), 0);
}

static void
h_finish(struct harness *h, enum sink_stop stop, long in, long out)
{
	struct sink_usage	u;

	memset(&u, 0, sizeof(u));
	u.input_tokens = in;
	u.output_tokens = out;
	ck_assert_int_eq(h->sink.ops->finish(h->sink.arg, stop, &u), 0);
}

static void
h_finish_cached(struct harness *h, long in, long out, long read)
{
	struct sink_usage	u;

	memset(&u, 0, sizeof(u));
	u.input_tokens = in;
	u.output_tokens = out;
	u.cache_read_tokens = read;
	ck_assert_int_eq(h->sink.ops->finish(h->sink.arg, SINK_STOP_END_TURN,
	    &u), 0);
}

/* The body after the head, parsed; the caller puts it. */
static json_object *
h_body_json(struct harness *h)
{
	const char	*raw = buf_cstr(&h->raw), *body;
	json_object	*doc = NULL;
	char		*why = NULL;

	body = strstr(raw, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_msg(json_parse(body, strlen(body), 64, &doc, &why) == KF_OK,
	    "body %s: %s", body, why);
	return doc;
}

static json_object *
at(json_object *o, const char *path)
{
	char		*copy = xstrdup(path), *tok, *save = NULL;
	json_object	*v = o;

	for (tok = strtok_r(copy, ".", &save); tok != NULL && v != NULL;
	    tok = strtok_r(NULL, ".", &save)) {
		if (tok[0] >= '0' && tok[0] <= '9')
			v = json_object_array_get_idx(v, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(v, tok, &v))
			v = NULL;
	}
	free(copy);
	ck_assert_msg(v != NULL, "no %s", path);
	return v;
}

static const char *
at_str(json_object *o, const char *path)
{
	return json_object_get_string(at(o, path));
}

START_TEST(sse_exact_bytes)
{
	struct harness	h;

	h_init(&h, GEMINI_EMIT_SSE, 0);
	h_start(&h);
	ck_assert_str_eq(buf_cstr(&h.raw), SSE_HEAD);
	ck_assert_int_eq(h.sink.committed, 1);
	h_text(&h, "Hel");
	h_text(&h, "lo \"x\"");
	h_finish(&h, SINK_STOP_END_TURN, 20, 5);
	ck_assert_str_eq(buf_cstr(&h.raw), SSE_HEAD
	    "data: " CHUNK("{\"text\":\"Hel\"}") "\r\n\r\n"
	    "data: " CHUNK("{\"text\":\"lo \\\"x\\\"\"}") "\r\n\r\n"
	    "data: {\"candidates\":[{\"content\":{\"parts\":[],\"role\":"
	    "\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
	    "\"usageMetadata\":{\"promptTokenCount\":20,"
	    "\"candidatesTokenCount\":5,\"cachedContentTokenCount\":0,"
	    "\"totalTokenCount\":25}" TAIL
	    "\r\n\r\n");
	/* finish and error come once. */
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_EUPSTREAM, "x"), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&h.raw), "\"error\""));
	h_free(&h);
}
END_TEST

START_TEST(array_stream_with_call_and_thoughts)
{
	struct harness	 h;
	json_object	*doc;
	size_t		 n;

	h_init(&h, GEMINI_EMIT_ARRAY, 1);
	h_start(&h);
	h_thinking(&h, "let me ");
	h_thinking(&h, "see");
	ck_assert_int_eq(h.sink.ops->thinking_end(h.sink.arg, "sig"), 0);
	h_text(&h, "Reading.");
	h_tool(&h, 0, "tooluse_1", "read_file", "{\"path\":\"/a\"}");
	h_finish(&h, SINK_STOP_TOOL_USE, 20, 30);
	ck_assert(strncmp(buf_cstr(&h.raw), JSON_STREAM_HEAD "[{",
	    strlen(JSON_STREAM_HEAD) + 2) == 0);
	ck_assert_int_eq(buf_cstr(&h.raw)[h.raw.len - 1], ']');
	doc = h_body_json(&h);
	n = json_object_array_length(doc);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(at_str(doc, "0.candidates.0.content.parts.0.text"),
	    "let me ");
	ck_assert(json_object_get_boolean(at(doc,
	    "1.candidates.0.content.parts.0.thought")));
	ck_assert_str_eq(at_str(doc, "2.candidates.0.content.parts.0.text"),
	    "Reading.");
	ck_assert_str_eq(at_str(doc,
	    "3.candidates.0.content.parts.0.functionCall.name"), "read_file");
	ck_assert_str_eq(at_str(doc,
	    "3.candidates.0.content.parts.0.functionCall.id"), "tooluse_1");
	ck_assert_str_eq(at_str(doc,
	    "3.candidates.0.content.parts.0.functionCall.args.path"), "/a");
	ck_assert_str_eq(at_str(doc, "4.candidates.0.finishReason"), "STOP");
	ck_assert_int_eq(json_object_get_int(at(doc,
	    "4.usageMetadata.thoughtsTokenCount")) +
	    json_object_get_int(at(doc, "4.usageMetadata.candidatesTokenCount")),
	    30);
	ck_assert_int_eq(json_object_get_int(at(doc,
	    "4.usageMetadata.totalTokenCount")), 50);
	json_object_put(doc);
	h_free(&h);
}
END_TEST

START_TEST(json_merged_parts)
{
	struct harness	 h;
	json_object	*doc, *parts;

	h_init(&h, GEMINI_EMIT_JSON, 1);
	h_start(&h);
	ck_assert_uint_eq(h.raw.len, 0);
	ck_assert_int_eq(h.sink.committed, 0);
	h_thinking(&h, "th");
	h_thinking(&h, "ink");
	ck_assert_int_eq(h.sink.ops->thinking_end(h.sink.arg, "SIG"), 0);
	h_text(&h, "Hel");
	h_text(&h, "lo");
	h_tool(&h, 0, "t1", "f", "{\"a\":[1,2]}");
	h_tool(&h, 1, "t2", "g", "");
	ck_assert_uint_eq(h.raw.len, 0);
	h_finish(&h, SINK_STOP_MAX_TOKENS, 7, 9);
	ck_assert(strncmp(buf_cstr(&h.raw), "Status: 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: ", 59) == 0);
	ck_assert_int_eq(h.sink.committed, 1);
	doc = h_body_json(&h);
	parts = at(doc, "candidates.0.content.parts");
	ck_assert_uint_eq(json_object_array_length(parts), 4);
	ck_assert_str_eq(at_str(parts, "0.text"), "think");
	ck_assert(json_object_get_boolean(at(parts, "0.thought")));
	ck_assert_str_eq(at_str(parts, "0.thoughtSignature"), "SIG");
	ck_assert_str_eq(json_object_to_json_string_ext(
	    json_object_array_get_idx(parts, 1), JSON_C_TO_STRING_PLAIN),
	    "{\"text\":\"Hello\"}");
	ck_assert_str_eq(json_object_to_json_string_ext(
	    json_object_array_get_idx(parts, 2), JSON_C_TO_STRING_PLAIN),
	    "{\"functionCall\":{\"id\":\"t1\",\"name\":\"f\",\"args\":"
	    "{\"a\":[1,2]}}}");
	/* An empty input is an empty args object. */
	ck_assert_str_eq(at_str(parts, "3.functionCall.name"), "g");
	ck_assert_int_eq(json_object_object_length(at(parts,
	    "3.functionCall.args")), 0);
	ck_assert_str_eq(at_str(doc, "candidates.0.finishReason"),
	    "MAX_TOKENS");
	ck_assert_str_eq(at_str(doc, "candidates.0.content.role"), "model");
	ck_assert_str_eq(at_str(doc, "modelVersion"), MODEL);
	ck_assert_str_eq(at_str(doc, "responseId"), RID);
	ck_assert_int_eq(json_object_get_int(at(doc,
	    "usageMetadata.promptTokenCount")), 7);
	json_object_put(doc);
	h_free(&h);
}
END_TEST

/*
 * googleSearch: groundingMetadata's supports cite each place the text
 * names a chunk's URI, with byte offsets over the whole text (the text
 * before the search included), in text order; a page two searches found
 * is one segment citing both chunks.
 */
START_TEST(grounding_supports)
{
	struct websearch_result	 r1[2] = {
		{ "A", "https://a.dev/", NULL, NULL },
		{ "B", "https://b.dev/", NULL, NULL },
	}, r2[1] = {
		{ "A again", "https://a.dev/", NULL, NULL },
	};
	struct websearch	 ws1 = { "q1", r1, 2, NULL };
	struct websearch	 ws2 = { "q2", r2, 1, NULL };
	struct harness		 h;
	json_object		*doc;
	const char		*last;
	enum gemini_emit_mode	 mode;

	for (mode = GEMINI_EMIT_JSON; mode <= GEMINI_EMIT_SSE; mode++) {
		h_init(&h, mode, 0);
		h_start(&h);
		h_text(&h, "\xe2\x86\x92 ");		/* 4 bytes */
		ck_assert_int_eq(h.sink.ops->web_search(h.sink.arg, "s1",
		    &ws1), 0);
		ck_assert_int_eq(h.sink.ops->web_search(h.sink.arg, "s2",
		    &ws2), 0);
		h_text(&h, "see https://b.dev/ and ");
		h_text(&h, "https://a.dev/.");
		h_finish(&h, SINK_STOP_END_TURN, 1, 1);
		if (mode == GEMINI_EMIT_JSON)
			doc = h_body_json(&h);
		else {
			/* The last SSE chunk carries the metadata. */
			last = strstr(buf_cstr(&h.raw), "\"groundingMetadata\"");
			ck_assert_ptr_nonnull(last);
			while (last > buf_cstr(&h.raw) &&
			    strncmp(last, "data: ", 6) != 0)
				last--;
			ck_assert_int_eq(json_parse(last + 6, strcspn(last + 6,
			    "\r"), 64, &doc, NULL), KF_OK);
		}
		ck_assert_str_eq(json_object_to_json_string_ext(at(doc,
		    "candidates.0.groundingMetadata.groundingSupports"),
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		    "[{\"segment\":{\"startIndex\":8,\"endIndex\":22,"
		    "\"text\":\"https://b.dev/\"},\"groundingChunkIndices\":[1]},"
		    "{\"segment\":{\"startIndex\":27,\"endIndex\":41,"
		    "\"text\":\"https://a.dev/\"},\"groundingChunkIndices\":"
		    "[0,2]}]");
		ck_assert_uint_eq(json_object_array_length(at(doc,
		    "candidates.0.groundingMetadata.groundingChunks")), 3);
		json_object_put(doc);
		h_free(&h);
	}
}
END_TEST

/*
 * Kiro's cache reads are cachedContentTokenCount (§12), a part of
 * promptTokenCount as in Gemini's own usage.
 */
START_TEST(cached_content_tokens)
{
	struct harness	 h;
	json_object	*doc;

	h_init(&h, GEMINI_EMIT_JSON, 0);
	h_start(&h);
	h_text(&h, "Hi");
	h_finish_cached(&h, 1000, 7, 900);
	doc = h_body_json(&h);
	ck_assert_int_eq(json_object_get_int(at(doc,
	    "usageMetadata.promptTokenCount")), 1000);
	ck_assert_int_eq(json_object_get_int(at(doc,
	    "usageMetadata.cachedContentTokenCount")), 900);
	ck_assert_int_eq(json_object_get_int(at(doc,
	    "usageMetadata.totalTokenCount")), 1007);
	json_object_put(doc);
	h_free(&h);

	h_init(&h, GEMINI_EMIT_SSE, 0);
	h_start(&h);
	h_text(&h, "Hi");
	h_finish_cached(&h, 1000, 7, 900);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), "\"usageMetadata\":"
	    "{\"promptTokenCount\":1000,\"candidatesTokenCount\":7,"
	    "\"cachedContentTokenCount\":900,\"totalTokenCount\":1007}"));
	h_free(&h);
}
END_TEST

START_TEST(json_thoughts_hidden)
{
	struct harness	 h;
	json_object	*doc;

	h_init(&h, GEMINI_EMIT_JSON, 0);
	h_start(&h);
	h_thinking(&h, "secret reasoning");
	ck_assert_int_eq(h.sink.ops->thinking_end(h.sink.arg, "SIG"), 0);
	h_text(&h, "Answer");
	h_finish(&h, SINK_STOP_END_TURN, 7, 9);
	ck_assert_ptr_null(strstr(buf_cstr(&h.raw), "secret"));
	doc = h_body_json(&h);
	ck_assert_str_eq(json_object_to_json_string_ext(at(doc,
	    "candidates.0.content.parts"), JSON_C_TO_STRING_PLAIN),
	    "[{\"text\":\"Answer\"}]");
	/* Thinking is still counted. */
	ck_assert_int_gt(json_object_get_int(at(doc,
	    "usageMetadata.thoughtsTokenCount")), 0);
	json_object_put(doc);
	h_free(&h);
}
END_TEST

START_TEST(finish_reasons)
{
	static const struct {
		enum sink_stop	 stop;
		const char	*reason;
	} cases[] = {
		{ SINK_STOP_END_TURN, "STOP" },
		{ SINK_STOP_TOOL_USE, "STOP" },
		{ SINK_STOP_STOP_SEQUENCE, "STOP" },
		{ SINK_STOP_MAX_TOKENS, "MAX_TOKENS" },
		{ SINK_STOP_CONTEXT_WINDOW, "MAX_TOKENS" },
	};
	struct harness	 h;
	json_object	*doc;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_init(&h, GEMINI_EMIT_JSON, 0);
		h_start(&h);
		h_text(&h, "x");
		h_finish(&h, cases[i].stop, 1, 1);
		doc = h_body_json(&h);
		ck_assert_str_eq(at_str(doc, "candidates.0.finishReason"),
		    cases[i].reason);
		json_object_put(doc);
		h_free(&h);
	}
}
END_TEST

START_TEST(error_before_anything_written)
{
	struct harness	 h;
	json_object	*doc;

	h_init(&h, GEMINI_EMIT_JSON, 0);
	h_start(&h);
	h_text(&h, "partial");
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_EUPSTREAM,
	    "upstream broke"), 0);
	ck_assert(strncmp(buf_cstr(&h.raw), "Status: 502 ", 12) == 0);
	doc = h_body_json(&h);
	ck_assert_int_eq(json_object_get_int(at(doc, "error.code")), 502);
	ck_assert_str_eq(at_str(doc, "error.status"), "UNAVAILABLE");
	ck_assert_str_eq(at_str(doc, "error.message"), "upstream broke");
	json_object_put(doc);
	h_free(&h);
}
END_TEST

START_TEST(error_mid_stream)
{
	struct harness	 h;
	json_object	*doc;
	const char	*raw;

	h_init(&h, GEMINI_EMIT_SSE, 0);
	h_start(&h);
	h_text(&h, "partial");
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_ERATE, "slow down"),
	    0);
	raw = buf_cstr(&h.raw);
	ck_assert_ptr_nonnull(strstr(raw, "\r\n\r\ndata: {\"error\":{\"code\":"
	    "429,\"message\":\"slow down\",\"status\":\"RESOURCE_EXHAUSTED\"}}"
	    "\r\n\r\n"));
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_ptr_null(strstr(raw, "finishReason"));
	h_free(&h);

	h_init(&h, GEMINI_EMIT_ARRAY, 0);
	h_start(&h);
	h_text(&h, "partial");
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_ETIMEOUT, "late"), 0);
	doc = h_body_json(&h);
	ck_assert_uint_eq(json_object_array_length(doc), 2);
	ck_assert_str_eq(at_str(doc, "1.error.status"), "DEADLINE_EXCEEDED");
	json_object_put(doc);
	h_free(&h);

	/* An error before any chunk still leaves a valid array. */
	h_init(&h, GEMINI_EMIT_ARRAY, 0);
	h_start(&h);
	ck_assert_int_eq(h.sink.ops->error(h.sink.arg, KF_EUPSTREAM, "x"), 0);
	doc = h_body_json(&h);
	ck_assert_uint_eq(json_object_array_length(doc), 1);
	json_object_put(doc);
	h_free(&h);
}
END_TEST

START_TEST(reset_forgets_parts)
{
	struct harness	 h;
	json_object	*doc;

	h_init(&h, GEMINI_EMIT_JSON, 0);
	ck_assert_ptr_nonnull(h.sink.ops->reset);
	h_start(&h);
	h_text(&h, "first attempt");
	h_tool(&h, 0, "t1", "f", "{}");
	h.sink.ops->reset(h.sink.arg);
	h_start(&h);
	h_text(&h, "second");
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	doc = h_body_json(&h);
	ck_assert_str_eq(json_object_to_json_string_ext(at(doc,
	    "candidates.0.content.parts"), JSON_C_TO_STRING_PLAIN),
	    "[{\"text\":\"second\"}]");
	json_object_put(doc);
	h_free(&h);
}
END_TEST

/* A new start (a retry) gives later chunks its own id, model and count. */
START_TEST(restart_renews_chunk_tail)
{
	struct harness		h;
	struct sink_start	st;

	h_init(&h, GEMINI_EMIT_SSE, 0);
	h_start(&h);
	h_text(&h, "a");
	h.sink.ops->reset(h.sink.arg);
	memset(&st, 0, sizeof(st));
	st.message_id = "msg_2";
	st.model = "gemini-2.5-flash";
	st.input_tokens = 7;
	ck_assert_int_eq(h.sink.ops->start(h.sink.arg, &st), 0);
	h_text(&h, "b");
	ck_assert_str_eq(buf_cstr(&h.raw), SSE_HEAD
	    "data: " CHUNK("{\"text\":\"a\"}") "\r\n\r\n"
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}],"
	    "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"
	    "{\"promptTokenCount\":7,\"totalTokenCount\":7},\"modelVersion\":"
	    "\"gemini-2.5-flash\",\"responseId\":\"msg_2\"}\r\n\r\n");
	h_free(&h);
}
END_TEST

START_TEST(error_table_and_response)
{
	static const struct {
		enum kf_err	 er;
		int		 code;
		const char	*status;
	} cases[] = {
		{ KF_EINVAL, 400, "INVALID_ARGUMENT" },
		{ KF_ECONTEXT, 400, "INVALID_ARGUMENT" },
		{ KF_EAUTH, 401, "UNAUTHENTICATED" },
		{ KF_EPERM, 403, "PERMISSION_DENIED" },
		{ KF_ENOTFOUND, 404, "NOT_FOUND" },
		{ KF_ETOOLARGE, 413, "INVALID_ARGUMENT" },
		{ KF_ERATE, 429, "RESOURCE_EXHAUSTED" },
		{ KF_EQUOTA, 429, "RESOURCE_EXHAUSTED" },
		{ KF_EOVERLOADED, 503, "UNAVAILABLE" },
		{ KF_ENOACCOUNT, 503, "UNAVAILABLE" },
		{ KF_EUPSTREAM, 502, "UNAVAILABLE" },
		{ KF_ETIMEOUT, 504, "DEADLINE_EXCEEDED" },
		{ KF_EINTERNAL, 500, "INTERNAL" },
		{ KF_ECONFIG, 500, "INTERNAL" },
	};
	struct buf	 raw = BUF_INIT, b = BUF_INIT;
	struct out	 out;
	const char	*st;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(gemini_error_status(cases[i].er, &st),
		    cases[i].code);
		ck_assert_str_eq(st, cases[i].status);
	}
	gemini_error_json(&b, KF_EINVAL, "contents: \"x\"");
	ck_assert_str_eq(buf_cstr(&b), "{\"error\":{\"code\":400,\"message\":"
	    "\"contents: \\\"x\\\"\",\"status\":\"INVALID_ARGUMENT\"}}");
	buf_free(&b);
	out_init_buf(&out, &raw);
	ck_assert_int_eq(gemini_error_response(&out, KF_ERATE, "busy", 7), 0);
	ck_assert_str_eq(buf_cstr(&raw), "Status: 429 Too Many Requests\r\n"
	    "Content-Type: application/json\r\nContent-Length: 69\r\n"
	    "Retry-After: 7\r\n\r\n{\"error\":{\"code\":429,\"message\":"
	    "\"busy\",\"status\":\"RESOURCE_EXHAUSTED\"}}");
	buf_free(&raw);
	ck_assert(gemini_is_path("POST", "/v1beta/models/x:generateContent"));
	ck_assert(gemini_is_path("GET", "/v1beta/models"));
	ck_assert(gemini_is_path("POST", "/v1/models/x:countTokens"));
	ck_assert(!gemini_is_path("GET", "/v1/models/x"));
	ck_assert(!gemini_is_path("POST", "/v1/messages"));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("emit-gemini");
	TCase	*tc = tcase_create("emit");

	tcase_add_test(tc, sse_exact_bytes);
	tcase_add_test(tc, array_stream_with_call_and_thoughts);
	tcase_add_test(tc, json_merged_parts);
	tcase_add_test(tc, cached_content_tokens);
	tcase_add_test(tc, json_thoughts_hidden);
	tcase_add_test(tc, finish_reasons);
	tcase_add_test(tc, error_before_anything_written);
	tcase_add_test(tc, error_mid_stream);
	tcase_add_test(tc, reset_forgets_parts);
	tcase_add_test(tc, restart_renews_chunk_tail);
	tcase_add_test(tc, error_table_and_response);
	tcase_add_test(tc, grounding_supports);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
