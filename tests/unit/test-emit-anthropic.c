/* test-emit-anthropic.c: the Anthropic SSE, JSON and /cc/v1 buffered sinks, byte for byte. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "anthropic.h"
#include "buf.h"
#include "err.h"
#include "json.h"
#include "out.h"
#include "sink.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Drives fcgi/emit-anthropic.c through its sink ops into a memory out and
 * checks what a client would receive (doc/protocol.md §6.1-§6.3): the
 * exact bytes of a text answer and of thinking then text, the block
 * indices of text / tool / text and of interleaved tools, finish and
 * error exactly once, the ping bytes, the JSON message with its
 * Content-Length, buffered mode (silent until finish, input_tokens
 * rewritten), reset, sink->committed, and the error status table.  Every
 * SSE event is parsed as JSON and its "type" must equal its event name.
 */

#define MSG_ID		"msg_0123456789abcdef0123456789abcdef"
#define MODEL		"claude-sonnet-4-5"
#define SSE_HEAD	"Status: 200 OK\r\nContent-Type: text/event-stream\r\n" \
	"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"
#define PING		"event: ping\ndata: {\"type\": \"ping\"}\n\n"

#define EV(name, data)	"event: " name "\ndata: " data "\n\n"
#define START_EV(in)	EV("message_start", "{\"type\":\"message_start\"," \
	"\"message\":{\"id\":\"" MSG_ID "\",\"type\":\"message\",\"role\":" \
	"\"assistant\",\"content\":[],\"model\":\"" MODEL "\"," \
	"\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" \
	"{\"input_tokens\":" in ",\"output_tokens\":1," \
	"\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}}")
#define CBS_TEXT(i)	EV("content_block_start", "{\"type\":" \
	"\"content_block_start\",\"index\":" i ",\"content_block\":" \
	"{\"type\":\"text\",\"text\":\"\"}}")
#define CBS_THINKING(i)	EV("content_block_start", "{\"type\":" \
	"\"content_block_start\",\"index\":" i ",\"content_block\":" \
	"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}")
#define CBD(i, type, field, text) EV("content_block_delta", "{\"type\":" \
	"\"content_block_delta\",\"index\":" i ",\"delta\":{\"type\":\"" \
	type "\",\"" field "\":\"" text "\"}}")
#define CBE(i)		EV("content_block_stop", "{\"type\":" \
	"\"content_block_stop\",\"index\":" i "}")
#define DELTA_EV(reason, in, out) EV("message_delta", "{\"type\":" \
	"\"message_delta\",\"delta\":{\"stop_reason\":\"" reason "\"," \
	"\"stop_sequence\":null},\"usage\":{\"input_tokens\":" in "," \
	"\"output_tokens\":" out ",\"cache_creation_input_tokens\":0," \
	"\"cache_read_input_tokens\":0}}")
#define STOP_EV		EV("message_stop", "{\"type\":\"message_stop\"}")

enum mode { M_STREAM, M_JSON, M_BUFFERED };

struct harness {
	struct buf		 raw;
	struct out		 out;
	struct sink		 sink;
	struct anthropic_emit	*e;
};

static void
h_init(struct harness *h, enum mode mode)
{
	memset(h, 0, sizeof(*h));
	out_init_buf(&h->out, &h->raw);
	switch (mode) {
	case M_STREAM:
		h->e = anthropic_emit_stream(&h->out, &h->sink);
		break;
	case M_JSON:
		h->e = anthropic_emit_json(&h->out, &h->sink);
		break;
	case M_BUFFERED:
		h->e = anthropic_emit_buffered(&h->out, &h->sink);
		break;
	}
	ck_assert_ptr_nonnull(h->e);
	ck_assert_ptr_nonnull(h->sink.ops);
}

static void
h_free(struct harness *h)
{
	anthropic_emit_free(h->e);
	buf_free(&h->raw);
}

/* What has been written so far, as a C string. */
static const char *
h_raw(struct harness *h)
{
	return buf_cstr(&h->raw);
}

static void
h_start_id(struct harness *h, const char *id, int thinking, long input)
{
	struct sink_start	st;

	memset(&st, 0, sizeof(st));
	st.message_id = id;
	st.model = MODEL;
	st.input_tokens = input;
	st.thinking = thinking;
	ck_assert_int_eq(h->sink.ops->start(h->sink.arg, &st), 0);
}

static void
h_start(struct harness *h, int thinking, long input)
{
	h_start_id(h, MSG_ID, thinking, input);
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
h_thinking_end(struct harness *h, const char *signature)
{
	ck_assert_int_eq(h->sink.ops->thinking_end(h->sink.arg, signature), 0);
}

static void
h_tool_start(struct harness *h, size_t index, const char *id,
    const char *name)
{
	ck_assert_int_eq(h->sink.ops->tool_start(h->sink.arg, index, id, name),
	    0);
}

static void
h_tool_input(struct harness *h, size_t index, const char *s)
{
	ck_assert_int_eq(h->sink.ops->tool_input(h->sink.arg, index, s,
	    strlen(s)), 0);
}

static void
h_tool_end(struct harness *h, size_t index, const char *input)
{
	ck_assert_int_eq(h->sink.ops->tool_end(h->sink.arg, index, input), 0);
}

/* finish with a usage whose prompt had read and write cached tokens. */
static void
h_finish_cached(struct harness *h, enum sink_stop stop, long in, long out,
    long read, long write)
{
	struct sink_usage	u;

	memset(&u, 0, sizeof(u));
	u.input_tokens = in;
	u.output_tokens = out;
	u.cache_read_tokens = read;
	u.cache_write_tokens = write;
	ck_assert_int_eq(h->sink.ops->finish(h->sink.arg, stop, &u), 0);
}

static void
h_finish(struct harness *h, enum sink_stop stop, long in, long out)
{
	h_finish_cached(h, stop, in, out, 0, 0);
}

static void
h_error(struct harness *h, enum kf_err er, const char *msg)
{
	ck_assert_int_eq(h->sink.ops->error(h->sink.arg, er, msg), 0);
}

static void
h_ping(struct harness *h)
{
	ck_assert_ptr_nonnull(h->sink.ops->ping);
	ck_assert_int_eq(h->sink.ops->ping(h->sink.arg), 0);
}

/* The body after the CGI head; the head must end in a blank line. */
static const char *
body_of(const char *raw)
{
	const char	*p = strstr(raw, "\r\n\r\n");

	ck_assert_msg(p != NULL, "no head in %s", raw);
	return p + 4;
}

/*
 * Checks that an SSE body is a sequence of "event: N\ndata: JSON\n\n"
 * whose data parses and has "type" N, and returns a summary of the
 * sequence ("start cbs0:text cbd0:text_delta cbe0 md:end_turn stop").
 * Caller frees.
 */
static char *
sse_summary(const char *body)
{
	struct buf	 sum = BUF_INIT;
	const char	*p = body, *nl, *end, *type, *s;
	char		*name, *why;
	json_object	*v, *sub;
	int64_t		 index;

	while (*p != '\0') {
		ck_assert_msg(strncmp(p, "event: ", 7) == 0, "not an event: %s",
		    p);
		p += 7;
		ck_assert_ptr_nonnull(nl = strchr(p, '\n'));
		name = xstrndup(p, (size_t)(nl - p));
		p = nl + 1;
		ck_assert_msg(strncmp(p, "data: ", 6) == 0, "no data: %s", p);
		p += 6;
		ck_assert_ptr_nonnull(end = strstr(p, "\n\n"));
		ck_assert_msg(memchr(p, '\n', (size_t)(end - p)) == NULL,
		    "data of %s spans lines", name);
		why = NULL;
		v = NULL;
		ck_assert_msg(json_parse(p, (size_t)(end - p), JSON_MAX_DEPTH,
		    &v, &why) == KF_OK, "event %s: data is not JSON (%s): %.*s",
		    name, why, (int)(end - p), p);
		ck_assert_int_eq(json_get_str(v, "type", &type), 1);
		ck_assert_str_eq(type, name);
		if (sum.len > 0)
			buf_putc(&sum, ' ');
		if (strcmp(name, "message_start") == 0)
			buf_puts(&sum, "start");
		else if (strcmp(name, "message_stop") == 0)
			buf_puts(&sum, "stop");
		else if (strcmp(name, "ping") == 0)
			buf_puts(&sum, "ping");
		else if (strcmp(name, "message_delta") == 0) {
			ck_assert_int_eq(json_get_obj(v, "delta", &sub), 1);
			ck_assert_int_eq(json_get_str(sub, "stop_reason", &s),
			    1);
			buf_printf(&sum, "md:%s", s);
		} else if (strcmp(name, "error") == 0) {
			ck_assert_int_eq(json_get_obj(v, "error", &sub), 1);
			ck_assert_int_eq(json_get_str(sub, "type", &s), 1);
			buf_printf(&sum, "error:%s", s);
		} else {
			ck_assert_int_eq(json_get_int(v, "index", &index), 1);
			if (strcmp(name, "content_block_start") == 0) {
				ck_assert_int_eq(json_get_obj(v,
				    "content_block", &sub), 1);
				buf_printf(&sum, "cbs%lld:", (long long)index);
			} else if (strcmp(name, "content_block_delta") == 0) {
				ck_assert_int_eq(json_get_obj(v, "delta", &sub),
				    1);
				buf_printf(&sum, "cbd%lld:", (long long)index);
			} else {
				ck_assert_str_eq(name, "content_block_stop");
				buf_printf(&sum, "cbe%lld", (long long)index);
				sub = NULL;
			}
			if (sub != NULL) {
				ck_assert_int_eq(json_get_str(sub, "type", &s),
				    1);
				buf_puts(&sum, s);
			}
		}
		json_object_put(v);
		free(name);
		p = end + 2;
	}
	return buf_detach(&sum);
}

static void
check_summary(const char *raw, const char *want)
{
	char	*sum;

	sum = sse_summary(body_of(raw));
	ck_assert_str_eq(sum, want);
	free(sum);
}

/* The parsed data of the n-th event (from 0) named name; caller puts. */
static json_object *
nth_event(const char *raw, const char *name, int n)
{
	const char	*p = body_of(raw), *end;
	size_t		 nlen = strlen(name);
	json_object	*v = NULL;

	while ((p = strstr(p, "event: ")) != NULL) {
		p += 7;
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '\n' &&
		    n-- == 0) {
			p += nlen + 1 + 6;
			end = strstr(p, "\n\n");
			ck_assert_int_eq(json_parse(p, (size_t)(end - p),
			    JSON_MAX_DEPTH, &v, NULL), KF_OK);
			return v;
		}
	}
	ck_abort_msg("no event %s", name);
	return NULL;
}

/* ---- streaming ---- */

START_TEST(emit_stream_text_only_exact_bytes)
{
	struct harness	h;

	h_init(&h, M_STREAM);
	ck_assert_int_eq(h.sink.streams, 1);
	ck_assert_int_eq(h.sink.ping_before_start, 0);
	h_start(&h, 0, 12);
	/* Thinking off: text block 0 opens with message_start. */
	ck_assert_str_eq(h_raw(&h), SSE_HEAD START_EV("12") CBS_TEXT("0"));
	h_text(&h, "Hel");
	h_text(&h, "lo \"you\"\n");
	h_finish(&h, SINK_STOP_END_TURN, 15, 4);
	ck_assert_str_eq(h_raw(&h), SSE_HEAD START_EV("12") CBS_TEXT("0")
	    CBD("0", "text_delta", "text", "Hel")
	    CBD("0", "text_delta", "text", "lo \\\"you\\\"\\n")
	    CBE("0")
	    DELTA_EV("end_turn", "15", "4")
	    STOP_EV);
	check_summary(h_raw(&h), "start cbs0:text cbd0:text_delta "
	    "cbd0:text_delta cbe0 md:end_turn stop");
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_thinking_then_text_exact_bytes)
{
	struct harness	h;

	h_init(&h, M_STREAM);
	h_start(&h, 1, 7);
	/* Thinking may come: no block yet. */
	ck_assert_str_eq(h_raw(&h), SSE_HEAD START_EV("7"));
	h_thinking(&h, "Let me ");
	h_thinking(&h, "think.");
	h_thinking_end(&h, NULL);
	h_text(&h, "Hi!");
	h_finish(&h, SINK_STOP_END_TURN, 9, 6);
	ck_assert_str_eq(h_raw(&h), SSE_HEAD START_EV("7")
	    CBS_THINKING("0")
	    CBD("0", "thinking_delta", "thinking", "Let me ")
	    CBD("0", "thinking_delta", "thinking", "think.")
	    CBD("0", "thinking_delta", "thinking", "")
	    CBE("0")
	    CBS_TEXT("1")
	    CBD("1", "text_delta", "text", "Hi!")
	    CBE("1")
	    DELTA_EV("end_turn", "9", "6")
	    STOP_EV);
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_thinking_signature_is_a_signature_delta)
{
	struct harness	h;

	h_init(&h, M_STREAM);
	h_start(&h, 1, 7);
	h_thinking(&h, "hmm");
	h_thinking_end(&h, "sig/+=");
	h_finish(&h, SINK_STOP_END_TURN, 7, 1);
	ck_assert_str_eq(body_of(h_raw(&h)), START_EV("7")
	    CBS_THINKING("0")
	    CBD("0", "thinking_delta", "thinking", "hmm")
	    CBD("0", "thinking_delta", "thinking", "")
	    CBD("0", "signature_delta", "signature", "sig/+=")
	    CBE("0")
	    DELTA_EV("end_turn", "7", "1")
	    STOP_EV);
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_text_tool_text_opens_new_text_block)
{
	struct harness	 h;
	json_object	*v, *blk, *d;
	const char	*s;

	h_init(&h, M_STREAM);
	h_start(&h, 0, 3);
	h_text(&h, "Checking.");
	h_tool_start(&h, 0, "toolu_01", "get_weather");
	h_tool_input(&h, 0, "{\"ci");
	h_tool_input(&h, 0, "ty\":\"Paris\"}");
	h_tool_end(&h, 0, "{\"city\":\"Paris\"}");
	h_text(&h, "Done.");
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 20);
	check_summary(h_raw(&h), "start cbs0:text cbd0:text_delta cbe0 "
	    "cbs1:tool_use cbd1:input_json_delta cbd1:input_json_delta cbe1 "
	    "cbs2:text cbd2:text_delta cbe2 md:tool_use stop");

	/* The tool block carries id, name and an empty input. */
	v = nth_event(h_raw(&h), "content_block_start", 1);
	ck_assert_int_eq(json_get_obj(v, "content_block", &blk), 1);
	ck_assert_int_eq(json_get_str(blk, "id", &s), 1);
	ck_assert_str_eq(s, "toolu_01");
	ck_assert_int_eq(json_get_str(blk, "name", &s), 1);
	ck_assert_str_eq(s, "get_weather");
	ck_assert_int_eq(json_get_obj(blk, "input", &d), 1);
	ck_assert_int_eq(json_object_object_length(d), 0);
	json_object_put(v);
	/* Fragments go out verbatim. */
	v = nth_event(h_raw(&h), "content_block_delta", 1);
	ck_assert_int_eq(json_get_obj(v, "delta", &d), 1);
	ck_assert_int_eq(json_get_str(d, "partial_json", &s), 1);
	ck_assert_str_eq(s, "{\"ci");
	json_object_put(v);
	v = nth_event(h_raw(&h), "content_block_delta", 2);
	ck_assert_int_eq(json_get_obj(v, "delta", &d), 1);
	ck_assert_int_eq(json_get_str(d, "partial_json", &s), 1);
	ck_assert_str_eq(s, "ty\":\"Paris\"}");
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_interleaved_tools_by_index)
{
	struct harness	 h;
	json_object	*v, *d;
	const char	*s;

	h_init(&h, M_STREAM);
	h_start(&h, 1, 3);
	h_tool_start(&h, 0, "toolu_A", "a");
	h_tool_start(&h, 1, "toolu_B", "b");
	h_tool_input(&h, 1, "{\"b\":");
	h_tool_input(&h, 0, "{\"a\":");
	h_tool_input(&h, 1, "2}");
	h_tool_input(&h, 0, "1}");
	h_tool_end(&h, 1, "{\"b\":2}");
	h_tool_end(&h, 0, "{\"a\":1}");
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 8);
	check_summary(h_raw(&h), "start cbs0:tool_use cbs1:tool_use "
	    "cbd1:input_json_delta cbd0:input_json_delta "
	    "cbd1:input_json_delta cbd0:input_json_delta cbe1 cbe0 "
	    "md:tool_use stop");
	v = nth_event(h_raw(&h), "content_block_delta", 0);
	ck_assert_int_eq(json_get_obj(v, "delta", &d), 1);
	ck_assert_int_eq(json_get_str(d, "partial_json", &s), 1);
	ck_assert_str_eq(s, "{\"b\":");
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_finish_closes_open_blocks_and_ends_once)
{
	struct harness	 h;
	size_t		 len;

	/* A tool never ended and a thinking never ended. */
	h_init(&h, M_STREAM);
	h_start(&h, 1, 3);
	h_thinking(&h, "t");
	h_tool_start(&h, 0, "toolu_A", "a");
	h_tool_input(&h, 0, "{");
	h_finish(&h, SINK_STOP_MAX_TOKENS, 30, 40);
	check_summary(h_raw(&h), "start cbs0:thinking cbd0:thinking_delta "
	    "cbd0:thinking_delta cbe0 cbs1:tool_use cbd1:input_json_delta "
	    "cbe1 md:max_tokens stop");
	ck_assert_ptr_nonnull(strstr(h_raw(&h), DELTA_EV("max_tokens", "30",
	    "40") STOP_EV));
	/* Nothing more after the end, whatever comes. */
	len = h.raw.len;
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	h_error(&h, KF_EUPSTREAM, "late");
	h_ping(&h);
	ck_assert_uint_eq(h.raw.len, len);
	h_free(&h);

	/* An open text block is closed; the context-window reason. */
	h_init(&h, M_STREAM);
	h_start(&h, 0, 3);
	h_text(&h, "x");
	h_finish(&h, SINK_STOP_CONTEXT_WINDOW, 3, 1);
	check_summary(h_raw(&h), "start cbs0:text cbd0:text_delta cbe0 "
	    "md:model_context_window_exceeded stop");
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_error_after_start_sends_error_event)
{
	struct harness	 h;
	json_object	*v, *err;
	const char	*s;
	size_t		 len;

	h_init(&h, M_STREAM);
	h_start(&h, 0, 3);
	h_text(&h, "partial");
	h_error(&h, KF_EOVERLOADED, "upstream \"busy\"");
	check_summary(h_raw(&h), "start cbs0:text cbd0:text_delta "
	    "error:overloaded_error");
	ck_assert_ptr_nonnull(strstr(h_raw(&h), "event: error\ndata: "
	    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	    "\"message\":\"upstream \\\"busy\\\"\"}}\n\n"));
	v = nth_event(h_raw(&h), "error", 0);
	ck_assert_int_eq(json_get_obj(v, "error", &err), 1);
	ck_assert_int_eq(json_get_str(err, "message", &s), 1);
	ck_assert_str_eq(s, "upstream \"busy\"");
	json_object_put(v);
	/* The answer is over: no message_stop, not even from finish. */
	len = h.raw.len;
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_uint_eq(h.raw.len, len);
	ck_assert_ptr_null(strstr(h_raw(&h), "message_stop"));
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_ping_exact_bytes)
{
	struct harness	h;

	h_init(&h, M_STREAM);
	h_start(&h, 0, 3);
	h_ping(&h);
	ck_assert_str_eq(h_raw(&h), SSE_HEAD START_EV("3") CBS_TEXT("0")
	    PING);
	h_text(&h, "a");
	h_ping(&h);
	h_finish(&h, SINK_STOP_END_TURN, 3, 1);
	check_summary(h_raw(&h), "start cbs0:text ping cbd0:text_delta ping "
	    "cbe0 md:end_turn stop");
	h_free(&h);
}
END_TEST

START_TEST(emit_stream_text_escapes_to_valid_json)
{
	struct harness	 h;
	json_object	*v, *d;
	const char	*s;
	const char	*nasty = "tab\there \\ \"q\" \x01 \xe6\x97\xa5 </script>";

	h_init(&h, M_STREAM);
	h_start(&h, 0, 3);
	h_text(&h, nasty);
	h_finish(&h, SINK_STOP_END_TURN, 3, 1);
	v = nth_event(h_raw(&h), "content_block_delta", 0);
	ck_assert_int_eq(json_get_obj(v, "delta", &d), 1);
	ck_assert_int_eq(json_get_str(d, "text", &s), 1);
	ck_assert_str_eq(s, nasty);
	json_object_put(v);
	check_summary(h_raw(&h), "start cbs0:text cbd0:text_delta cbe0 "
	    "md:end_turn stop");
	h_free(&h);
}
END_TEST

static int
failing_write(void *arg, const char *p, size_t len)
{
	(void)arg;
	(void)p;
	(void)len;
	return -1;
}

START_TEST(emit_stream_client_gone_is_reported)
{
	struct harness		h;
	struct sink_start	st;

	h_init(&h, M_STREAM);
	h.out.write = failing_write;
	memset(&st, 0, sizeof(st));
	st.message_id = MSG_ID;
	st.model = MODEL;
	ck_assert_int_ne(h.sink.ops->start(h.sink.arg, &st), 0);
	ck_assert_int_ne(h.sink.ops->text(h.sink.arg, "a", 1), 0);
	ck_assert_int_eq(h.out.failed, 1);
	h_free(&h);
}
END_TEST

/* ---- JSON ---- */

/* Checks the head of a complete response and returns its parsed body. */
static json_object *
json_response(const char *raw, int status, const char *reason)
{
	const char	*body = body_of(raw), *cl;
	char		 want[64];
	json_object	*v = NULL;
	char		*why = NULL;
	long		 len;

	snprintf(want, sizeof(want), "Status: %d %s\r\n", status, reason);
	ck_assert_msg(strncmp(raw, want, strlen(want)) == 0, "head %s", raw);
	ck_assert_ptr_nonnull(strstr(raw, "Content-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(cl = strstr(raw, "Content-Length: "));
	ck_assert(cl < body);
	len = strtol(cl + 16, NULL, 10);
	ck_assert_int_eq(len, (long)strlen(body));
	ck_assert_msg(json_parse(body, strlen(body), JSON_MAX_DEPTH, &v,
	    &why) == KF_OK, "not JSON: %s", why);
	return v;
}

START_TEST(emit_json_one_message_with_blocks_in_order)
{
	struct harness	 h;
	json_object	*v, *content, *b, *u, *in, *x;
	const char	*s;
	int64_t		 n;

	h_init(&h, M_JSON);
	ck_assert_int_eq(h.sink.streams, 0);
	ck_assert_int_eq(h.sink.ping_before_start, 0);
	h_start(&h, 1, 11);
	h_thinking(&h, "Think");
	h_thinking(&h, "ing.");
	h_thinking_end(&h, "sig-1");
	h_text(&h, "Hello ");
	h_text(&h, "there.");
	h_tool_start(&h, 0, "toolu_9", "calc");
	h_tool_input(&h, 0, "{\"expr\":");
	h_tool_input(&h, 0, "\"1+1\"}");
	h_tool_end(&h, 0, "{\"expr\":\"1+1\",\"n\":[1,2]}");
	h_ping(&h);
	/* Nothing before finish. */
	ck_assert_uint_eq(h.raw.len, 0);
	ck_assert_int_eq(h.sink.committed, 0);
	h_finish(&h, SINK_STOP_TOOL_USE, 123, 45);
	ck_assert_int_eq(h.sink.committed, 1);
	ck_assert_int_eq(h.out.status, 200);

	v = json_response(h_raw(&h), 200, "OK");
	ck_assert_int_eq(json_get_str(v, "id", &s), 1);
	ck_assert_str_eq(s, MSG_ID);
	ck_assert_int_eq(json_get_str(v, "type", &s), 1);
	ck_assert_str_eq(s, "message");
	ck_assert_int_eq(json_get_str(v, "role", &s), 1);
	ck_assert_str_eq(s, "assistant");
	ck_assert_int_eq(json_get_str(v, "model", &s), 1);
	ck_assert_str_eq(s, MODEL);
	ck_assert_int_eq(json_get_str(v, "stop_reason", &s), 1);
	ck_assert_str_eq(s, "tool_use");
	ck_assert(json_object_object_get_ex(v, "stop_sequence", &x));
	ck_assert_ptr_null(x);
	ck_assert_int_eq(json_get_obj(v, "usage", &u), 1);
	ck_assert_int_eq(json_get_int(u, "input_tokens", &n), 1);
	ck_assert_int_eq(n, 123);
	ck_assert_int_eq(json_get_int(u, "output_tokens", &n), 1);
	ck_assert_int_eq(n, 45);

	ck_assert_int_eq(json_get_arr(v, "content", &content), 1);
	ck_assert_uint_eq(json_object_array_length(content), 3);
	b = json_object_array_get_idx(content, 0);
	ck_assert_int_eq(json_get_str(b, "type", &s), 1);
	ck_assert_str_eq(s, "thinking");
	ck_assert_int_eq(json_get_str(b, "thinking", &s), 1);
	ck_assert_str_eq(s, "Thinking.");
	ck_assert_int_eq(json_get_str(b, "signature", &s), 1);
	ck_assert_str_eq(s, "sig-1");
	b = json_object_array_get_idx(content, 1);
	ck_assert_int_eq(json_get_str(b, "type", &s), 1);
	ck_assert_str_eq(s, "text");
	ck_assert_int_eq(json_get_str(b, "text", &s), 1);
	ck_assert_str_eq(s, "Hello there.");
	b = json_object_array_get_idx(content, 2);
	ck_assert_int_eq(json_get_str(b, "type", &s), 1);
	ck_assert_str_eq(s, "tool_use");
	ck_assert_int_eq(json_get_str(b, "id", &s), 1);
	ck_assert_str_eq(s, "toolu_9");
	ck_assert_int_eq(json_get_str(b, "name", &s), 1);
	ck_assert_str_eq(s, "calc");
	/* input is the parsed object, not a string. */
	ck_assert_int_eq(json_get_obj(b, "input", &in), 1);
	ck_assert_int_eq(json_get_str(in, "expr", &s), 1);
	ck_assert_str_eq(s, "1+1");
	ck_assert_int_eq(json_get_arr(in, "n", &x), 1);
	ck_assert_uint_eq(json_object_array_length(x), 2);
	json_object_put(v);

	/* finish happens once. */
	n = (int64_t)h.raw.len;
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_uint_eq(h.raw.len, (size_t)n);
	h_free(&h);
}
END_TEST

START_TEST(emit_json_stop_reasons_and_empty_answer)
{
	static const struct {
		enum sink_stop	 stop;
		const char	*name;
	} cases[] = {
		{ SINK_STOP_END_TURN, "end_turn" },
		{ SINK_STOP_TOOL_USE, "tool_use" },
		{ SINK_STOP_MAX_TOKENS, "max_tokens" },
		{ SINK_STOP_CONTEXT_WINDOW, "model_context_window_exceeded" },
		{ SINK_STOP_STOP_SEQUENCE, "stop_sequence" },
	};
	struct harness	 h;
	json_object	*v, *content;
	const char	*s;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_init(&h, M_JSON);
		h_start(&h, 0, 1);
		h_finish(&h, cases[i].stop, 1, 0);
		v = json_response(h_raw(&h), 200, "OK");
		ck_assert_int_eq(json_get_str(v, "stop_reason", &s), 1);
		ck_assert_str_eq(s, cases[i].name);
		ck_assert_int_eq(json_get_arr(v, "content", &content), 1);
		ck_assert_uint_eq(json_object_array_length(content), 0);
		json_object_put(v);
		h_free(&h);
	}
}
END_TEST

/* The matched stop sequence is named, in both forms (constrain.h). */
START_TEST(emit_stop_sequence_is_named)
{
	struct harness		 h;
	struct sink_usage	 u;
	json_object		*v;
	const char		*s;

	memset(&u, 0, sizeof(u));
	u.input_tokens = 3;
	u.output_tokens = 2;
	u.stop_sequence = "\"END\"";
	h_init(&h, M_STREAM);
	h_start(&h, 0, 3);
	h_text(&h, "ok");
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg,
	    SINK_STOP_STOP_SEQUENCE, &u), 0);
	ck_assert_ptr_nonnull(strstr(h_raw(&h), "{\"stop_reason\":"
	    "\"stop_sequence\",\"stop_sequence\":\"\\\"END\\\"\"}"));
	check_summary(h_raw(&h), "start cbs0:text cbd0:text_delta cbe0 "
	    "md:stop_sequence stop");
	h_free(&h);

	h_init(&h, M_JSON);
	h_start(&h, 0, 3);
	h_text(&h, "ok");
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg,
	    SINK_STOP_STOP_SEQUENCE, &u), 0);
	v = json_response(h_raw(&h), 200, "OK");
	ck_assert_int_eq(json_get_str(v, "stop_reason", &s), 1);
	ck_assert_str_eq(s, "stop_sequence");
	ck_assert_int_eq(json_get_str(v, "stop_sequence", &s), 1);
	ck_assert_str_eq(s, "\"END\"");
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(emit_json_text_tool_text_keeps_order)
{
	struct harness	 h;
	json_object	*v, *content;
	const char	*s;

	h_init(&h, M_JSON);
	h_start(&h, 0, 1);
	h_text(&h, "a");
	h_tool_start(&h, 0, "t0", "n0");
	h_tool_start(&h, 1, "t1", "n1");
	h_tool_end(&h, 1, "{\"x\":1}");
	h_tool_end(&h, 0, "{}");
	h_text(&h, "b");
	h_finish(&h, SINK_STOP_TOOL_USE, 1, 2);
	v = json_response(h_raw(&h), 200, "OK");
	ck_assert_int_eq(json_get_arr(v, "content", &content), 1);
	ck_assert_uint_eq(json_object_array_length(content), 4);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(content, 0),
	    "text", &s), 1);
	ck_assert_str_eq(s, "a");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(content, 1),
	    "id", &s), 1);
	ck_assert_str_eq(s, "t0");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(content, 2),
	    "id", &s), 1);
	ck_assert_str_eq(s, "t1");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(content, 3),
	    "text", &s), 1);
	ck_assert_str_eq(s, "b");
	json_object_put(v);
	h_free(&h);
}
END_TEST

/*
 * The JSON message is written straight into the answer (#13); it must be
 * byte for byte what json-c writes for the same tree (the writer it
 * replaced): the body is parsed and written back by json-c itself and
 * must not change, over text that needs every kind of escape, DEL,
 * UTF-8 and "/", thinking, tool inputs good, bad and with doubles, a
 * stop sequence and cache figures.  One answer is pinned exactly too.
 */
static void
check_jsonc_bytes(const char *raw)
{
	const char	*body = body_of(raw), *len, *again;
	json_object	*v;

	len = strstr(raw, "Content-Length: ");
	ck_assert_ptr_nonnull(len);
	ck_assert_int_eq(strtol(len + 16, NULL, 10), (long)strlen(body));
	v = json_tokener_parse(body);
	ck_assert_ptr_nonnull(v);
	again = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	ck_assert_str_eq(again, body);
	json_object_put(v);
}

START_TEST(emit_json_bytes_are_json_c_serialisation)
{
	static const char	*odd = "q\"b\\s/n\nt\tr\rb\bf\f\x01\x1f"
	    "\x7f \xc3\xa9 \xe2\x82\xac </script>";
	struct harness		 h;
	struct sink_usage	 u;

	h_init(&h, M_JSON);
	h_start(&h, 1, 7);
	h_thinking(&h, odd);
	h_thinking_end(&h, odd);
	h_text(&h, odd);
	h_tool_start(&h, 0, "toolu_\"1", "n/a\x7f");
	h_tool_end(&h, 0, "{\"x\":1.50,\"y\":[true,null,-0,1e3],"
	    "\"z\":\"\\u00e9\\/\\u007f\"}");
	h_tool_start(&h, 1, "toolu_2", "bad");
	h_tool_end(&h, 1, "{\"unfinished\":");
	h_tool_start(&h, 2, "toolu_3", "empty");
	h_tool_end(&h, 2, "");
	memset(&u, 0, sizeof(u));
	u.input_tokens = 1234567890123LL;
	u.output_tokens = 9;
	u.cache_read_tokens = 5;
	u.cache_write_tokens = 6;
	u.stop_sequence = odd;
	ck_assert_int_eq(h.sink.ops->finish(h.sink.arg,
	    SINK_STOP_STOP_SEQUENCE, &u), 0);
	check_jsonc_bytes(h_raw(&h));
	h_free(&h);

	/* The small answer of every request, exactly. */
	h_init(&h, M_JSON);
	h_start(&h, 0, 3);
	h_text(&h, "Hello there, how are you?");
	h_finish_cached(&h, SINK_STOP_END_TURN, 13, 8, 2, 1);
	check_jsonc_bytes(h_raw(&h));
	ck_assert_str_eq(h_raw(&h), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 324\r\n\r\n"
	    "{\"id\":\"" MSG_ID "\",\"type\":\"message\",\"role\":"
	    "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Hello there, how are you?\"}],\"model\":\"" MODEL "\","
	    "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":"
	    "{\"input_tokens\":10,\"output_tokens\":8,"
	    "\"cache_creation_input_tokens\":1,\"cache_read_input_tokens\":2}}");
	h_free(&h);
}
END_TEST

START_TEST(emit_json_error_is_a_complete_error_response)
{
	struct harness	 h;
	json_object	*v, *err;
	const char	*s;

	h_init(&h, M_JSON);
	h_start(&h, 0, 1);
	h_text(&h, "lost");
	h_error(&h, KF_ERATE, "slow down");
	ck_assert_int_eq(h.out.status, 429);
	v = json_response(h_raw(&h), 429, "Too Many Requests");
	ck_assert_int_eq(json_get_str(v, "type", &s), 1);
	ck_assert_str_eq(s, "error");
	ck_assert_int_eq(json_get_obj(v, "error", &err), 1);
	ck_assert_int_eq(json_get_str(err, "type", &s), 1);
	ck_assert_str_eq(s, "rate_limit_error");
	ck_assert_int_eq(json_get_str(err, "message", &s), 1);
	ck_assert_str_eq(s, "slow down");
	json_object_put(v);
	ck_assert_ptr_null(strstr(h_raw(&h), "lost"));
	h_free(&h);
}
END_TEST

/* ---- buffered (/cc/v1) ---- */

/* The same answer through any emitter. */
static void
play_answer(struct harness *h, long start_input)
{
	h_start(h, 1, start_input);
	h_thinking(h, "Plan.");
	h_thinking_end(h, NULL);
	h_text(h, "Answer");
	h_tool_start(h, 0, "toolu_X", "read");
	h_tool_input(h, 0, "{\"path\":\"a\"}");
	h_tool_end(h, 0, "{\"path\":\"a\"}");
}

/* Checks a usage object against the four Anthropic figures. */
static void
check_usage(json_object *u, long in, long out, long created, long read)
{
	int64_t	n;

	ck_assert_int_eq(json_get_int(u, "input_tokens", &n), 1);
	ck_assert_int_eq(n, in);
	ck_assert_int_eq(json_get_int(u, "output_tokens", &n), 1);
	ck_assert_int_eq(n, out);
	ck_assert_int_eq(json_get_int(u, "cache_creation_input_tokens", &n), 1);
	ck_assert_int_eq(n, created);
	ck_assert_int_eq(json_get_int(u, "cache_read_input_tokens", &n), 1);
	ck_assert_int_eq(n, read);
}

/*
 * Kiro's cache figures (doc/protocol.md §12) in Anthropic's terms:
 * input_tokens is the uncached rest, as the real API counts it.
 */
START_TEST(emit_cache_figures_in_every_mode)
{
	struct harness	 h;
	json_object	*v, *msg, *u;

	/* Streamed: the figures arrive with message_delta. */
	h_init(&h, M_STREAM);
	h_start(&h, 0, 5000);
	h_text(&h, "Hi");
	h_finish_cached(&h, SINK_STOP_END_TURN, 1000, 7, 900, 60);
	v = nth_event(h_raw(&h), "message_start", 0);
	ck_assert_int_eq(json_get_obj(v, "message", &msg), 1);
	ck_assert_int_eq(json_get_obj(msg, "usage", &u), 1);
	check_usage(u, 5000, 1, 0, 0);
	json_object_put(v);
	v = nth_event(h_raw(&h), "message_delta", 0);
	ck_assert_int_eq(json_get_obj(v, "usage", &u), 1);
	check_usage(u, 40, 7, 60, 900);
	json_object_put(v);
	h_free(&h);

	/* One JSON message. */
	h_init(&h, M_JSON);
	h_start(&h, 0, 5000);
	h_text(&h, "Hi");
	h_finish_cached(&h, SINK_STOP_END_TURN, 1000, 7, 900, 60);
	v = json_response(h_raw(&h), 200, "OK");
	ck_assert_int_eq(json_get_obj(v, "usage", &u), 1);
	check_usage(u, 40, 7, 60, 900);
	json_object_put(v);
	h_free(&h);

	/* Buffered: message_start is written last, with the real figures. */
	h_init(&h, M_BUFFERED);
	h_start(&h, 0, 5000);
	h_text(&h, "Hi");
	h_finish_cached(&h, SINK_STOP_END_TURN, 1000, 7, 900, 60);
	v = nth_event(h_raw(&h), "message_start", 0);
	ck_assert_int_eq(json_get_obj(v, "message", &msg), 1);
	ck_assert_int_eq(json_get_obj(msg, "usage", &u), 1);
	check_usage(u, 40, 1, 60, 900);
	json_object_put(v);
	h_free(&h);

	/* Figures that do not add up never make a negative count. */
	h_init(&h, M_JSON);
	h_start(&h, 0, 5);
	h_finish_cached(&h, SINK_STOP_END_TURN, 10, 1, 9, 9);
	v = json_response(h_raw(&h), 200, "OK");
	ck_assert_int_eq(json_get_obj(v, "usage", &u), 1);
	check_usage(u, 0, 1, 9, 9);
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(emit_buffered_silent_until_finish_then_input_tokens_rewritten)
{
	struct harness	 b, s;
	json_object	*v, *msg, *u;
	int64_t		 n;

	h_init(&b, M_BUFFERED);
	ck_assert_int_eq(b.sink.streams, 0);
	ck_assert_int_eq(b.sink.ping_before_start, 1);
	play_answer(&b, 12);
	ck_assert_uint_eq(b.raw.len, 0);
	ck_assert_int_eq(b.out.committed, 0);
	ck_assert_int_eq(b.sink.committed, 0);
	h_finish(&b, SINK_STOP_TOOL_USE, 345, 67);
	ck_assert_int_eq(b.sink.committed, 1);

	/* The stream emitter told the final count up front says the same. */
	h_init(&s, M_STREAM);
	play_answer(&s, 345);
	h_finish(&s, SINK_STOP_TOOL_USE, 345, 67);
	ck_assert_str_eq(h_raw(&b), h_raw(&s));

	v = nth_event(h_raw(&b), "message_start", 0);
	ck_assert_int_eq(json_get_obj(v, "message", &msg), 1);
	ck_assert_int_eq(json_get_obj(msg, "usage", &u), 1);
	ck_assert_int_eq(json_get_int(u, "input_tokens", &n), 1);
	ck_assert_int_eq(n, 345);
	json_object_put(v);
	check_summary(h_raw(&b), "start cbs0:thinking cbd0:thinking_delta "
	    "cbd0:thinking_delta cbe0 cbs1:text cbd1:text_delta cbe1 "
	    "cbs2:tool_use cbd2:input_json_delta cbe2 md:tool_use stop");
	h_free(&b);
	h_free(&s);
}
END_TEST

START_TEST(emit_buffered_ping_sends_head_first)
{
	struct harness	h;

	h_init(&h, M_BUFFERED);
	/* Before start: ping_before_start is set for this mode. */
	h_ping(&h);
	ck_assert_str_eq(h_raw(&h), SSE_HEAD PING);
	ck_assert_int_eq(h.sink.committed, 1);
	h_start(&h, 0, 5);
	h_text(&h, "x");
	h_ping(&h);
	ck_assert_str_eq(h_raw(&h), SSE_HEAD PING PING);
	h_finish(&h, SINK_STOP_END_TURN, 50, 1);
	/* One head only, then the held events with the final count. */
	ck_assert_str_eq(h_raw(&h), SSE_HEAD PING PING START_EV("50")
	    CBS_TEXT("0") CBD("0", "text_delta", "text", "x") CBE("0")
	    DELTA_EV("end_turn", "50", "1") STOP_EV);
	h_free(&h);
}
END_TEST

START_TEST(emit_buffered_error_before_and_after_ping)
{
	struct harness	 h;
	json_object	*v;

	/* Nothing sent yet: a proper error response. */
	h_init(&h, M_BUFFERED);
	h_start(&h, 0, 5);
	h_text(&h, "held");
	h_error(&h, KF_ETIMEOUT, "too slow");
	v = json_response(h_raw(&h), 504, "Gateway Timeout");
	json_object_put(v);
	ck_assert_ptr_null(strstr(h_raw(&h), "held"));
	h_free(&h);

	/* After a ping the head is out: an error event, nothing held. */
	h_init(&h, M_BUFFERED);
	h_ping(&h);
	h_start(&h, 0, 5);
	h_text(&h, "held");
	h_error(&h, KF_EUPSTREAM, "gone");
	ck_assert_str_eq(h_raw(&h), SSE_HEAD PING "event: error\ndata: "
	    "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
	    "\"message\":\"gone\"}}\n\n");
	check_summary(h_raw(&h), "ping error:api_error");
	h_free(&h);
}
END_TEST

/* ---- reset ---- */

START_TEST(emit_reset_clears_everything)
{
	struct harness	 h, fresh;
	json_object	*v, *content;
	const char	*s;

	/* Buffered: the first attempt leaves no trace. */
	h_init(&h, M_BUFFERED);
	h_start_id(&h, "msg_first", 1, 9);
	h_thinking(&h, "first try");
	h_text(&h, "first");
	h_tool_start(&h, 0, "toolu_old", "old");
	h_tool_input(&h, 0, "{");
	ck_assert_ptr_nonnull(h.sink.ops->reset);
	h.sink.ops->reset(h.sink.arg);
	ck_assert_uint_eq(h.raw.len, 0);
	ck_assert_int_eq(h.sink.committed, 0);
	h_start(&h, 0, 9);
	h_text(&h, "second");
	h_finish(&h, SINK_STOP_END_TURN, 9, 2);

	h_init(&fresh, M_BUFFERED);
	h_start(&fresh, 0, 9);
	h_text(&fresh, "second");
	h_finish(&fresh, SINK_STOP_END_TURN, 9, 2);
	ck_assert_str_eq(h_raw(&h), h_raw(&fresh));
	h_free(&h);
	h_free(&fresh);

	/* After a ping the head is out; a reset must not send it twice. */
	h_init(&h, M_BUFFERED);
	h_ping(&h);
	h_start(&h, 0, 9);
	h_text(&h, "a");
	h.sink.ops->reset(h.sink.arg);
	h_start(&h, 0, 9);
	h_text(&h, "b");
	h_finish(&h, SINK_STOP_END_TURN, 9, 1);
	/* The head went out with the ping and is not sent again. */
	ck_assert_str_eq(h_raw(&h), SSE_HEAD PING START_EV("9") CBS_TEXT("0")
	    CBD("0", "text_delta", "text", "b") CBE("0")
	    DELTA_EV("end_turn", "9", "1") STOP_EV);
	h_free(&h);

	/* JSON: only the blocks after the reset. */
	h_init(&h, M_JSON);
	h_start(&h, 1, 1);
	h_thinking(&h, "old");
	h_text(&h, "old");
	h_tool_start(&h, 0, "t", "n");
	h.sink.ops->reset(h.sink.arg);
	h_start(&h, 0, 1);
	h_text(&h, "new");
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	v = json_response(h_raw(&h), 200, "OK");
	ck_assert_int_eq(json_get_arr(v, "content", &content), 1);
	ck_assert_uint_eq(json_object_array_length(content), 1);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(content, 0),
	    "text", &s), 1);
	ck_assert_str_eq(s, "new");
	json_object_put(v);
	h_free(&h);
}
END_TEST

START_TEST(emit_committed_mirrors_what_was_written)
{
	struct harness	h;

	h_init(&h, M_STREAM);
	ck_assert_int_eq(h.sink.committed, 0);
	h_start(&h, 0, 1);
	ck_assert_int_eq(h.sink.committed, 1);
	ck_assert_int_eq(h.out.committed, 1);
	h_free(&h);

	h_init(&h, M_JSON);
	h_start(&h, 0, 1);
	h_text(&h, "a");
	ck_assert_int_eq(h.sink.committed, 0);
	ck_assert_int_eq(h.out.committed, 0);
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_int_eq(h.sink.committed, 1);
	h_free(&h);

	h_init(&h, M_BUFFERED);
	h_start(&h, 0, 1);
	h_text(&h, "a");
	ck_assert_int_eq(h.sink.committed, 0);
	h_ping(&h);
	ck_assert_int_eq(h.sink.committed, 1);
	h_free(&h);
}
END_TEST

/* ---- errors ---- */

START_TEST(emit_error_status_for_every_kf_err)
{
	static const struct {
		int		 status;
		const char	*type;
	} want[KF_ERR__MAX] = {
		[KF_OK] = { 500, "api_error" },
		[KF_EINVAL] = { 400, "invalid_request_error" },
		[KF_EAUTH] = { 401, "authentication_error" },
		[KF_EPERM] = { 403, "permission_error" },
		[KF_ENOTFOUND] = { 404, "not_found_error" },
		[KF_ETOOLARGE] = { 413, "request_too_large" },
		[KF_ERATE] = { 429, "rate_limit_error" },
		[KF_EOVERLOADED] = { 529, "overloaded_error" },
		[KF_EUPSTREAM] = { 502, "api_error" },
		[KF_ETIMEOUT] = { 504, "api_error" },
		[KF_ECONTEXT] = { 400, "invalid_request_error" },
		[KF_EQUOTA] = { 429, "rate_limit_error" },
		[KF_ESUSPENDED] = { 403, "permission_error" },
		[KF_ENOACCOUNT] = { 503, "api_error" },
		[KF_ELOGIN] = { 503, "api_error" },
		[KF_ESTORE] = { 500, "api_error" },
		[KF_ECONFIG] = { 500, "api_error" },
		[KF_ECLIENTGONE] = { 500, "api_error" },
		[KF_EINTERNAL] = { 500, "api_error" },
	};
	const char	*type;
	int		 er;

	for (er = 0; er < KF_ERR__MAX; er++) {
		/* A new error kind needs a decision here. */
		ck_assert_msg(want[er].type != NULL, "no row for %s",
		    kf_err_name((enum kf_err)er));
		type = NULL;
		ck_assert_msg(anthropic_error_status((enum kf_err)er, &type) ==
		    want[er].status, "%s: status", kf_err_name((enum kf_err)er));
		ck_assert_ptr_nonnull(type);
		ck_assert_msg(strcmp(type, want[er].type) == 0, "%s: %s",
		    kf_err_name((enum kf_err)er), type);
	}
	/* type may be NULL. */
	ck_assert_int_eq(anthropic_error_status(KF_EAUTH, NULL), 401);
}
END_TEST

START_TEST(emit_error_response_exact_with_retry_after)
{
	struct buf	raw = BUF_INIT;
	struct out	out;
	const char	*body = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"rate_limit_error\",\"message\":\"slow \\\"down\\\"\"}}";
	char		*want;

	out_init_buf(&out, &raw);
	ck_assert_int_eq(anthropic_error_response(&out, KF_ERATE,
	    "slow \"down\"", 7), 0);
	want = xasprintf("Status: 429 Too Many Requests\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Retry-After: 7\r\n\r\n%s", strlen(body), body);
	ck_assert_str_eq(buf_cstr(&raw), want);
	free(want);
	ck_assert_int_eq(out.status, 429);
	ck_assert_uint_eq(out.bytes, strlen(body));

	/* One second is a Retry-After too. */
	buf_reset(&raw);
	out_init_buf(&out, &raw);
	ck_assert_int_eq(anthropic_error_response(&out, KF_EOVERLOADED, "x",
	    1), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "\r\nRetry-After: 1\r\n"));
	ck_assert_int_eq(out.status, 529);

	/* No Retry-After unless asked. */
	buf_reset(&raw);
	out_init_buf(&out, &raw);
	ck_assert_int_eq(anthropic_error_response(&out, KF_ERATE, "x", 0), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&raw), "Retry-After"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "\r\n\r\n{\"type\":"
	    "\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":"
	    "\"x\"}}"));
	buf_free(&raw);
}
END_TEST

START_TEST(emit_error_json_default_message_is_valid)
{
	struct buf	 b = BUF_INIT;
	json_object	*v = NULL, *err;
	const char	*s;

	anthropic_error_json(&b, KF_ENOACCOUNT, NULL);
	ck_assert_int_eq(json_parse(b.ptr, b.len, 8, &v, NULL), KF_OK);
	ck_assert_int_eq(json_get_obj(v, "error", &err), 1);
	ck_assert_int_eq(json_get_str(err, "message", &s), 1);
	ck_assert_str_eq(s, kf_strerror(KF_ENOACCOUNT));
	json_object_put(v);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("emit-anthropic");
	TCase	*st = tcase_create("stream");
	TCase	*js = tcase_create("json");
	TCase	*bf = tcase_create("buffered");
	TCase	*er = tcase_create("errors");

	tcase_add_test(st, emit_stream_text_only_exact_bytes);
	tcase_add_test(st, emit_stream_thinking_then_text_exact_bytes);
	tcase_add_test(st, emit_stream_thinking_signature_is_a_signature_delta);
	tcase_add_test(st, emit_stream_text_tool_text_opens_new_text_block);
	tcase_add_test(st, emit_stream_interleaved_tools_by_index);
	tcase_add_test(st, emit_stream_finish_closes_open_blocks_and_ends_once);
	tcase_add_test(st, emit_stream_error_after_start_sends_error_event);
	tcase_add_test(st, emit_stream_ping_exact_bytes);
	tcase_add_test(st, emit_stream_text_escapes_to_valid_json);
	tcase_add_test(st, emit_stream_client_gone_is_reported);
	suite_add_tcase(s, st);

	tcase_add_test(js, emit_json_one_message_with_blocks_in_order);
	tcase_add_test(js, emit_json_stop_reasons_and_empty_answer);
	tcase_add_test(js, emit_json_text_tool_text_keeps_order);
	tcase_add_test(js, emit_stop_sequence_is_named);
	tcase_add_test(js, emit_json_bytes_are_json_c_serialisation);
	tcase_add_test(js, emit_json_error_is_a_complete_error_response);
	suite_add_tcase(s, js);

	tcase_add_test(bf, emit_cache_figures_in_every_mode);
	tcase_add_test(bf, emit_buffered_silent_until_finish_then_input_tokens_rewritten);
	tcase_add_test(bf, emit_buffered_ping_sends_head_first);
	tcase_add_test(bf, emit_buffered_error_before_and_after_ping);
	tcase_add_test(bf, emit_reset_clears_everything);
	tcase_add_test(bf, emit_committed_mirrors_what_was_written);
	suite_add_tcase(s, bf);

	tcase_add_test(er, emit_error_status_for_every_kf_err);
	tcase_add_test(er, emit_error_response_exact_with_retry_after);
	tcase_add_test(er, emit_error_json_default_message_is_valid);
	suite_add_tcase(s, er);
	return tu_run(s);
}
