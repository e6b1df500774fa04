/* test-emit-openai-responses.c: the Responses SSE events and response object. */
#include "autoconfig.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "openai-common.h"
#include "openai-responses.h"
#include "out.h"
#include "sink.h"
#include "testutil.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * Drives fcgi/emit-openai-responses.c through its sink ops into a memory
 * out and reads back what a client would: every SSE event's name equals
 * its data's type and sequence_numbers count from 0; the event order of a
 * text answer, of reasoning then text, of text then function calls
 * (interleaved by relay index), of a custom tool call and of a
 * local_shell call (its exec action); item ids with
 * their prefixes, output_index / item_id / content_index agreeing; the
 * final response object (completed, or incomplete for max_tokens) with
 * the whole output and usage; the JSON mode body; response.failed after
 * the stream started and an OpenAI error before; ping; reset; every item
 * type, open and done, byte for byte what json-c writes for its tree.
 */

#define MODEL	"gpt-5.1-codex"

struct harness {
	struct buf		 raw;
	struct out		 out;
	struct sink		 sink;
	struct openai_responses_req	 req;
	struct openai_responses_emit	*e;
	json_object		*events;	/* [{name, data}] once read */
};

static void
h_init(struct harness *h, int stream)
{
	memset(h, 0, sizeof(*h));
	out_init_buf(&h->out, &h->raw);
	h->req.custom = xcalloc(1, sizeof(char *));
	h->req.custom[0] = xstrdup("apply_patch");
	h->req.n_custom = 1;
	h->req.echo = json_object_new_object();
	json_object_object_add(h->req.echo, "store",
	    json_object_new_boolean(0));
	json_object_object_add(h->req.echo, "instructions",
	    json_str("Be brief."));
	if (stream)
		h->e = openai_responses_emit_stream(&h->out, &h->sink, &h->req);
	else
		h->e = openai_responses_emit_json(&h->out, &h->sink, &h->req);
	ck_assert_ptr_nonnull(h->sink.ops);
	ck_assert_int_eq(h->sink.streams, stream);
}

static void
h_free(struct harness *h)
{
	openai_responses_emit_free(h->e);
	openai_responses_req_free(&h->req);
	buf_free(&h->raw);
	json_object_put(h->events);
}

static void
h_start(struct harness *h, int thinking)
{
	struct sink_start	st;

	memset(&st, 0, sizeof(st));
	st.message_id = "msg_0123";
	st.model = MODEL;
	st.input_tokens = 10;
	st.thinking = thinking;
	ck_assert_int_eq(h->sink.ops->start(h->sink.arg, &st), 0);
}

#define OK(call)	ck_assert_int_eq((call), 0)
#define TEXT(h, s)	OK((h)->sink.ops->text((h)->sink.arg, s, strlen(s)))
#define THINK(h, s)	OK((h)->sink.ops->thinking((h)->sink.arg, s, strlen(s)))

static void
h_finish(struct harness *h, enum sink_stop stop, long in, long out)
{
	struct sink_usage	u = { .input_tokens = in, .output_tokens = out };

	OK(h->sink.ops->finish(h->sink.arg, stop, &u));
}

static void
h_finish_cached(struct harness *h, long in, long out, long read)
{
	struct sink_usage	u = { .input_tokens = in, .output_tokens = out,
				    .cache_read_tokens = read };

	OK(h->sink.ops->finish(h->sink.arg, SINK_STOP_END_TURN, &u));
}

static const char *
body_of(struct harness *h)
{
	const char	*raw = buf_cstr(&h->raw), *p;

	p = strstr(raw, "\r\n\r\n");
	ck_assert_msg(p != NULL, "no head in %s", raw);
	return p + 4;
}

/*
 * Parses the SSE body into h->events; checks names, types, sequence
 * numbers, and that every item_id names the item added at output_index.
 */
static json_object *
h_events(struct harness *h)
{
	const char	*p, *nl;
	json_object	*ev, *data, *v, *added, *item;
	char		*name, idx[16];
	const char	*s, *id;
	int64_t		 n, oi;
	size_t		 count = 0;

	ck_assert_str_eq(strstr(buf_cstr(&h->raw), "\r\n\r\n") != NULL ?
	    "head" : "", "head");
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h->raw),
	    "Content-Type: text/event-stream\r\n"));
	json_object_put(h->events);
	h->events = json_object_new_array();
	added = json_object_new_object();
	p = body_of(h);
	while (*p != '\0') {
		if (strncmp(p, ": keep-alive\n\n", 14) == 0) {
			p += 14;
			continue;
		}
		ck_assert_msg(strncmp(p, "event: ", 7) == 0, "at %s", p);
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		name = xstrndup(p + 7, nl - p - 7);
		p = nl + 1;
		ck_assert_msg(strncmp(p, "data: ", 6) == 0, "at %s", p);
		nl = strstr(p, "\n\n");
		ck_assert_ptr_nonnull(nl);
		data = NULL;
		ck_assert_int_eq(json_parse(p + 6, nl - p - 6, 64, &data,
		    NULL), KF_OK);
		p = nl + 2;
		ck_assert_int_eq(json_get_str(data, "type", &s), 1);
		ck_assert_str_eq(s, name);
		ck_assert_int_eq(json_get_int(data, "sequence_number", &n), 1);
		ck_assert_int_eq(n, (int64_t)count);
		if (json_get_int(data, "output_index", &oi) == 1) {
			snprintf(idx, sizeof(idx), "%lld", (long long)oi);
			if (strcmp(name, "response.output_item.added") == 0) {
				ck_assert_int_eq(json_get_obj(data, "item",
				    &item), 1);
				ck_assert_int_eq(json_get_str(item, "id", &id),
				    1);
				ck_assert(!json_object_object_get_ex(added,
				    idx, NULL));
				json_object_object_add(added, idx,
				    json_str(id));
			} else {
				ck_assert_msg(json_object_object_get_ex(added,
				    idx, &v), "%s before its item", name);
				if (json_get_str(data, "item_id", &id) == 1)
					ck_assert_str_eq(id,
					    json_object_get_string(v));
			}
		}
		ev = json_object_new_object();
		json_object_object_add(ev, "name", json_str(name));
		json_object_object_add(ev, "data", data);
		json_object_array_add(h->events, ev);
		free(name);
		count++;
	}
	json_object_put(added);
	return h->events;
}

/* The event names, short: "response." dropped, joined by spaces. */
static char *
names(json_object *events)
{
	struct buf	b = BUF_INIT;
	json_object	*ev;
	const char	*s;
	size_t		i;

	for (i = 0; i < json_object_array_length(events); i++) {
		ev = json_object_array_get_idx(events, i);
		ck_assert_int_eq(json_get_str(ev, "name", &s), 1);
		if (strncmp(s, "response.", 9) == 0)
			s += 9;
		buf_printf(&b, "%s%s", i > 0 ? " " : "", s);
	}
	return buf_detach(&b);
}

static json_object *
data_at(json_object *events, size_t i)
{
	json_object	*d;

	ck_assert_int_eq(json_get_obj(json_object_array_get_idx(events, i),
	    "data", &d), 1);
	return d;
}

static json_object *
last_data(json_object *events)
{
	return data_at(events, json_object_array_length(events) - 1);
}

static const char *
str_at(json_object *obj, const char *path)
{
	json_object	*cur = obj, *next;
	char		*copy = xstrdup(path), *tok, *save = NULL;
	static char	 out[4096];
	const char	*s;
	int		 found;

	for (tok = strtok_r(copy, ".", &save); tok != NULL;
	    tok = strtok_r(NULL, ".", &save)) {
		ck_assert_msg(cur != NULL, "null before %s", tok);
		found = 1;
		if (tok[0] >= '0' && tok[0] <= '9') {
			next = json_object_array_get_idx(cur,
			    strtoul(tok, NULL, 10));
			found = next != NULL;
		} else
			found = json_object_object_get_ex(cur, tok, &next);
		ck_assert_msg(found, "no %s in %s", path,
		    json_object_to_json_string(obj));
		cur = next;
	}
	free(copy);
	/* A JSON null reads as "null". */
	s = cur == NULL ? "null" : json_object_is_type(cur, json_type_string) ?
	    json_object_get_string(cur) : json_object_to_json_string_ext(cur,
	    JSON_C_TO_STRING_PLAIN);
	snprintf(out, sizeof(out), "%s", s);
	return out;
}

static void
assert_id(const char *id, const char *prefix)
{
	regex_t	re;
	char	pat[64];

	snprintf(pat, sizeof(pat), "^%s_[0-9a-f]{32}$", prefix);
	ck_assert_int_eq(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, id, 0, NULL, 0) == 0, "id %s", id);
	regfree(&re);
}

START_TEST(stream_text)
{
	struct harness	 h;
	json_object	*ev, *r;
	char		*n;

	h_init(&h, 1);
	h_start(&h, 0);
	ck_assert_int_eq(h.sink.committed, 1);
	TEXT(&h, "Hel");
	TEXT(&h, "lo \"w\"");
	h_finish(&h, SINK_STOP_END_TURN, 12, 5);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.delta "
	    "output_text.done content_part.done output_item.done completed");
	free(n);
	r = NULL;
	ck_assert_int_eq(json_get_obj(data_at(ev, 0), "response", &r), 1);
	assert_id(str_at(r, "id"), "resp");
	ck_assert_str_eq(str_at(r, "status"), "in_progress");
	ck_assert_str_eq(str_at(r, "output"), "[]");
	ck_assert_str_eq(str_at(r, "usage"), "null");
	ck_assert_str_eq(str_at(r, "model"), MODEL);
	ck_assert_str_eq(str_at(r, "instructions"), "Be brief.");
	assert_id(str_at(data_at(ev, 2), "item.id"), "msg");
	ck_assert_str_eq(str_at(data_at(ev, 2), "item.status"), "in_progress");
	ck_assert_str_eq(str_at(data_at(ev, 3), "part.type"), "output_text");
	ck_assert_str_eq(str_at(data_at(ev, 4), "content_index"), "0");
	ck_assert_str_eq(str_at(data_at(ev, 5), "delta"), "lo \"w\"");
	ck_assert_str_eq(str_at(data_at(ev, 6), "text"), "Hello \"w\"");
	ck_assert_str_eq(str_at(data_at(ev, 7), "part.text"), "Hello \"w\"");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.content.0.text"),
	    "Hello \"w\"");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.status"), "completed");
	r = NULL;
	ck_assert_int_eq(json_get_obj(last_data(ev), "response", &r), 1);
	ck_assert_str_eq(str_at(r, "id"), str_at(data_at(ev, 0),
	    "response.id"));
	ck_assert_str_eq(str_at(r, "status"), "completed");
	ck_assert_str_eq(str_at(r, "output.0.content.0.text"), "Hello \"w\"");
	ck_assert_str_eq(str_at(r, "output.0.role"), "assistant");
	ck_assert_str_eq(str_at(r, "usage.input_tokens"), "12");
	ck_assert_str_eq(str_at(r, "usage.output_tokens"), "5");
	ck_assert_str_eq(str_at(r, "usage.total_tokens"), "17");
	ck_assert_str_eq(str_at(r, "usage.input_tokens_details.cached_tokens"),
	    "0");
	ck_assert_str_eq(str_at(r,
	    "usage.output_tokens_details.reasoning_tokens"), "0");
	ck_assert_str_eq(str_at(r, "store"), "false");
	ck_assert_str_eq(str_at(r, "incomplete_details"), "null");
	/* finish and error happen once. */
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	OK(h.sink.ops->error(h.sink.arg, KF_EUPSTREAM, "late"));
	ck_assert_uint_eq(json_object_array_length(h_events(&h)), 10);
	h_free(&h);
}
END_TEST

START_TEST(stream_reasoning_then_text)
{
	struct harness	 h;
	json_object	*ev, *r;
	char		*n;

	h_init(&h, 1);
	h_start(&h, 1);
	THINK(&h, "Let me ");
	THINK(&h, "think.");
	OK(h.sink.ops->thinking_end(h.sink.arg, "sig"));
	TEXT(&h, "Answer.");
	h_finish(&h, SINK_STOP_END_TURN, 3, 4);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "reasoning_summary_part.added reasoning_summary_text.delta "
	    "reasoning_summary_text.delta reasoning_summary_text.done "
	    "reasoning_summary_part.done output_item.done "
	    "output_item.added content_part.added output_text.delta "
	    "output_text.done content_part.done output_item.done completed");
	free(n);
	assert_id(str_at(data_at(ev, 2), "item.id"), "rs");
	ck_assert_str_eq(str_at(data_at(ev, 2), "item.type"), "reasoning");
	ck_assert_str_eq(str_at(data_at(ev, 4), "summary_index"), "0");
	ck_assert_str_eq(str_at(data_at(ev, 6), "text"), "Let me think.");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.summary.0.type"),
	    "summary_text");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.summary.0.text"),
	    "Let me think.");
	ck_assert_str_eq(str_at(data_at(ev, 9), "output_index"), "1");
	r = NULL;
	ck_assert_int_eq(json_get_obj(last_data(ev), "response", &r), 1);
	ck_assert_str_eq(str_at(r, "output.0.type"), "reasoning");
	ck_assert_str_eq(str_at(r, "output.1.content.0.text"), "Answer.");
	h_free(&h);
}
END_TEST

START_TEST(stream_function_calls_interleaved)
{
	struct harness	 h;
	json_object	*ev, *r;
	char		*n;

	h_init(&h, 1);
	h_start(&h, 0);
	TEXT(&h, "Two calls.");
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_a", "exec"));
	OK(h.sink.ops->tool_start(h.sink.arg, 1, "call_b", "read"));
	OK(h.sink.ops->tool_input(h.sink.arg, 0, "{\"cmd\":", 7));
	OK(h.sink.ops->tool_input(h.sink.arg, 1, "{}", 2));
	OK(h.sink.ops->tool_input(h.sink.arg, 0, "\"ls\"}", 5));
	OK(h.sink.ops->tool_end(h.sink.arg, 1, "{}"));
	OK(h.sink.ops->tool_end(h.sink.arg, 0, "{\"cmd\":\"ls\"}"));
	/* Unknown indexes are ignored. */
	OK(h.sink.ops->tool_input(h.sink.arg, 7, "x", 1));
	OK(h.sink.ops->tool_end(h.sink.arg, 7, "{}"));
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 4);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done output_item.added "
	    "output_item.added function_call_arguments.delta "
	    "function_call_arguments.delta function_call_arguments.delta "
	    "function_call_arguments.done output_item.done "
	    "function_call_arguments.done output_item.done completed");
	free(n);
	ck_assert_str_eq(str_at(data_at(ev, 8), "output_index"), "1");
	assert_id(str_at(data_at(ev, 8), "item.id"), "fc");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.type"), "function_call");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.call_id"), "call_a");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.name"), "exec");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.arguments"), "");
	ck_assert_str_eq(str_at(data_at(ev, 10), "output_index"), "1");
	ck_assert_str_eq(str_at(data_at(ev, 10), "delta"), "{\"cmd\":");
	ck_assert_str_eq(str_at(data_at(ev, 11), "output_index"), "2");
	ck_assert_str_eq(str_at(data_at(ev, 13), "arguments"), "{}");
	ck_assert_str_eq(str_at(data_at(ev, 15), "arguments"),
	    "{\"cmd\":\"ls\"}");
	ck_assert_str_eq(str_at(data_at(ev, 16), "item.arguments"),
	    "{\"cmd\":\"ls\"}");
	ck_assert_str_eq(str_at(data_at(ev, 16), "item.status"), "completed");
	r = NULL;
	ck_assert_int_eq(json_get_obj(last_data(ev), "response", &r), 1);
	ck_assert_str_eq(str_at(r, "status"), "completed");
	ck_assert_str_eq(str_at(r, "output.1.call_id"), "call_a");
	ck_assert_str_eq(str_at(r, "output.2.call_id"), "call_b");
	h_free(&h);
}
END_TEST

START_TEST(stream_custom_tool_call)
{
	struct harness	 h;
	json_object	*ev;
	const char	*in = "{\"input\":\"*** Begin Patch\\n+x\\n\"}";
	char		*n;

	h_init(&h, 1);
	h_start(&h, 0);
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_p", "apply_patch"));
	OK(h.sink.ops->tool_input(h.sink.arg, 0, in, strlen(in)));
	OK(h.sink.ops->tool_end(h.sink.arg, 0, in));
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 4);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "custom_tool_call_input.delta custom_tool_call_input.done "
	    "output_item.done completed");
	free(n);
	ck_assert_str_eq(str_at(data_at(ev, 2), "item.type"),
	    "custom_tool_call");
	ck_assert_str_eq(str_at(data_at(ev, 3), "delta"),
	    "*** Begin Patch\n+x\n");
	ck_assert_str_eq(str_at(data_at(ev, 4), "input"),
	    "*** Begin Patch\n+x\n");
	ck_assert_str_eq(str_at(data_at(ev, 5), "item.input"),
	    "*** Begin Patch\n+x\n");
	ck_assert_str_eq(str_at(data_at(ev, 5), "item.call_id"), "call_p");
	ck_assert_str_eq(str_at(last_data(ev), "response.output.0.input"),
	    "*** Begin Patch\n+x\n");
	h_free(&h);
}
END_TEST

/*
 * A call of the local_shell tool goes back as a local_shell_call item
 * with the documented exec action; a plain function of the same name in a
 * request without local_shell stays a function_call.
 */
START_TEST(stream_local_shell_call)
{
	struct harness	 h;
	json_object	*ev, *r = NULL;
	const char	*in = "{\"command\":[\"ls\",\"-la\"],"
	    "\"working_directory\":\"/src\",\"timeout_ms\":5000}";
	char		*n;

	h_init(&h, 1);
	h.req.local_shell = 1;
	h_start(&h, 0);
	TEXT(&h, "Looking.");
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_ls", "local_shell"));
	OK(h.sink.ops->tool_input(h.sink.arg, 0, in, strlen(in)));
	OK(h.sink.ops->tool_end(h.sink.arg, 0, in));
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 4);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done output_item.added "
	    "output_item.done completed");
	free(n);
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.type"),
	    "local_shell_call");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.status"),
	    "in_progress");
	ck_assert_str_eq(str_at(data_at(ev, 8), "item.action.type"), "exec");
	assert_id(str_at(data_at(ev, 9), "item.id"), "lsh");
	ck_assert_str_eq(str_at(data_at(ev, 9), "item.call_id"), "call_ls");
	ck_assert_str_eq(str_at(data_at(ev, 9), "item.status"), "completed");
	ck_assert_str_eq(str_at(data_at(ev, 9), "item.action.type"), "exec");
	ck_assert_str_eq(str_at(data_at(ev, 9), "item.action.command"),
	    "[\"ls\",\"-la\"]");
	ck_assert_str_eq(str_at(data_at(ev, 9),
	    "item.action.working_directory"), "/src");
	ck_assert_str_eq(str_at(data_at(ev, 9), "item.action.timeout_ms"),
	    "5000");
	ck_assert_str_eq(str_at(data_at(ev, 9), "item.action.env"), "{}");
	r = last_data(ev);
	ck_assert_str_eq(str_at(r, "response.output.1.type"),
	    "local_shell_call");
	ck_assert_str_eq(str_at(r, "response.output.1.action.command.1"),
	    "-la");
	h_free(&h);

	/* Without local_shell in the request, the name is any function's. */
	h_init(&h, 0);
	h_start(&h, 0);
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_ls", "local_shell"));
	OK(h.sink.ops->tool_end(h.sink.arg, 0, in));
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 4);
	ck_assert_int_eq(json_parse(body_of(&h), strlen(body_of(&h)), 64, &r,
	    NULL), KF_OK);
	ck_assert_str_eq(str_at(r, "output.0.type"), "function_call");
	json_object_put(r);
	h_free(&h);
}
END_TEST

START_TEST(custom_input_not_in_shape_kept_as_json)
{
	struct harness	h;

	h_init(&h, 0);
	h_start(&h, 0);
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_p", "apply_patch"));
	OK(h.sink.ops->tool_end(h.sink.arg, 0, "{\"patch\":1}"));
	h_finish(&h, SINK_STOP_TOOL_USE, 3, 4);
	ck_assert_ptr_nonnull(strstr(body_of(&h),
	    "\"input\":\"{\\\"patch\\\":1}\""));
	h_free(&h);
}
END_TEST

/* Kiro's cache reads are input_tokens_details.cached_tokens (§12). */
START_TEST(cached_tokens_in_both_modes)
{
	struct harness	 h;
	json_object	*r, *ev;

	h_init(&h, 0);
	h_start(&h, 0);
	TEXT(&h, "Hi");
	h_finish_cached(&h, 1000, 7, 900);
	ck_assert_int_eq(json_parse(body_of(&h), strlen(body_of(&h)), 64, &r,
	    NULL), KF_OK);
	ck_assert_str_eq(str_at(r, "usage.input_tokens"), "1000");
	ck_assert_str_eq(str_at(r, "usage.input_tokens_details.cached_tokens"),
	    "900");
	ck_assert_str_eq(str_at(r, "usage.total_tokens"), "1007");
	json_object_put(r);
	h_free(&h);

	h_init(&h, 1);
	h_start(&h, 0);
	TEXT(&h, "Hi");
	h_finish_cached(&h, 1000, 7, 900);
	ev = h_events(&h);
	r = NULL;
	ck_assert_int_eq(json_get_obj(last_data(ev), "response", &r), 1);
	ck_assert_str_eq(str_at(r, "usage.input_tokens_details.cached_tokens"),
	    "900");
	h_free(&h);
}
END_TEST

START_TEST(stream_incomplete_on_max_tokens)
{
	struct harness	 h;
	json_object	*ev;
	char		*n;

	h_init(&h, 1);
	h_start(&h, 0);
	TEXT(&h, "cut");
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_a", "exec"));
	OK(h.sink.ops->tool_input(h.sink.arg, 0, "{\"c", 3));
	h_finish(&h, SINK_STOP_MAX_TOKENS, 3, 4);
	ev = h_events(&h);
	n = names(ev);
	/* The open call is closed before the end. */
	ck_assert_ptr_nonnull(strstr(n, "function_call_arguments.delta "
	    "output_item.done incomplete"));
	free(n);
	ck_assert_str_eq(str_at(last_data(ev), "response.status"),
	    "incomplete");
	ck_assert_str_eq(str_at(last_data(ev),
	    "response.incomplete_details.reason"), "max_output_tokens");
	h_free(&h);
}
END_TEST

/* A stop sequence ends the answer normally: completed, not incomplete. */
START_TEST(stop_sequence_is_completed)
{
	struct harness	 h;
	json_object	*ev, *r = NULL, *v;
	int		 stream;

	for (stream = 0; stream <= 1; stream++) {
		h_init(&h, stream);
		h_start(&h, 0);
		TEXT(&h, "one two");
		h_finish(&h, SINK_STOP_STOP_SEQUENCE, 3, 2);
		if (stream) {
			ev = h_events(&h);
			ck_assert_str_eq(str_at(last_data(ev), "type"),
			    "response.completed");
			r = json_object_get(json_object_object_get(
			    last_data(ev), "response"));
		} else
			ck_assert_int_eq(json_parse(body_of(&h),
			    strlen(body_of(&h)), 64, &r, NULL), KF_OK);
		ck_assert_str_eq(str_at(r, "status"), "completed");
		ck_assert(json_object_object_get_ex(r, "incomplete_details",
		    &v));
		ck_assert_ptr_null(v);
		ck_assert_str_eq(str_at(r, "output.0.content.0.text"),
		    "one two");
		json_object_put(r);
		h_free(&h);
	}
}
END_TEST

START_TEST(json_response_object)
{
	struct harness	 h;
	json_object	*r = NULL;
	const char	*raw;

	h_init(&h, 0);
	h_start(&h, 1);
	ck_assert_uint_eq(h.raw.len, 0);
	THINK(&h, "hmm");
	TEXT(&h, "Hi");
	TEXT(&h, "!");
	OK(h.sink.ops->tool_start(h.sink.arg, 0, "call_a", "exec"));
	OK(h.sink.ops->tool_input(h.sink.arg, 0, "{}", 2));
	OK(h.sink.ops->tool_end(h.sink.arg, 0, "{\"cmd\":\"ls\"}"));
	ck_assert_uint_eq(h.raw.len, 0);
	ck_assert_int_eq(h.sink.committed, 0);
	/* The JSON sink has no keep-alive. */
	OK(h.sink.ops->ping(h.sink.arg));
	ck_assert_uint_eq(h.raw.len, 0);
	h_finish(&h, SINK_STOP_TOOL_USE, 7, 8);
	ck_assert_int_eq(h.sink.committed, 1);
	raw = buf_cstr(&h.raw);
	ck_assert_ptr_nonnull(strstr(raw, "Status: 200"));
	ck_assert_ptr_nonnull(strstr(raw, "Content-Type: application/json"));
	ck_assert_int_eq(json_parse(body_of(&h), strlen(body_of(&h)), 64, &r,
	    NULL), KF_OK);
	assert_id(str_at(r, "id"), "resp");
	ck_assert_str_eq(str_at(r, "object"), "response");
	ck_assert_str_eq(str_at(r, "status"), "completed");
	ck_assert_str_eq(str_at(r, "output.0.type"), "reasoning");
	ck_assert_str_eq(str_at(r, "output.0.summary.0.text"), "hmm");
	ck_assert_str_eq(str_at(r, "output.1.content.0.text"), "Hi!");
	ck_assert_str_eq(str_at(r, "output.1.status"), "completed");
	ck_assert_str_eq(str_at(r, "output.2.type"), "function_call");
	ck_assert_str_eq(str_at(r, "output.2.arguments"), "{\"cmd\":\"ls\"}");
	ck_assert_str_eq(str_at(r, "usage.total_tokens"), "15");
	json_object_put(r);
	h_free(&h);
}
END_TEST

START_TEST(stream_error_is_response_failed)
{
	struct harness	 h;
	json_object	*ev;
	char		*n;

	h_init(&h, 1);
	h_start(&h, 0);
	TEXT(&h, "part");
	OK(h.sink.ops->error(h.sink.arg, KF_ERATE, "Too many requests"));
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done failed");
	free(n);
	ck_assert_str_eq(str_at(last_data(ev), "response.status"), "failed");
	ck_assert_str_eq(str_at(last_data(ev), "response.error.code"),
	    "rate_limit_exceeded");
	ck_assert_str_eq(str_at(last_data(ev), "response.error.message"),
	    "Too many requests");
	ck_assert_str_eq(str_at(last_data(ev), "response.output.0.type"),
	    "message");
	/* Nothing after it. */
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_uint_eq(json_object_array_length(h_events(&h)), 9);
	h_free(&h);
}
END_TEST

START_TEST(json_error_is_openai_error)
{
	struct harness	 h;
	json_object	*r = NULL;

	h_init(&h, 0);
	h_start(&h, 0);
	TEXT(&h, "part");
	OK(h.sink.ops->error(h.sink.arg, KF_EUPSTREAM, "upstream broke"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), "Status: 502"));
	ck_assert_int_eq(json_parse(body_of(&h), strlen(body_of(&h)), 64, &r,
	    NULL), KF_OK);
	ck_assert_str_eq(str_at(r, "error.message"), "upstream broke");
	ck_assert_str_eq(str_at(r, "error.code"), "upstream_error");
	json_object_put(r);
	h_free(&h);
}
END_TEST

START_TEST(ping_and_reset)
{
	struct harness	h;

	h_init(&h, 1);
	/* No head yet: nothing to keep alive. */
	OK(h.sink.ops->ping(h.sink.arg));
	ck_assert_uint_eq(h.raw.len, 0);
	h_start(&h, 0);
	OK(h.sink.ops->ping(h.sink.arg));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw), ": keep-alive\n\n"));
	TEXT(&h, "x");
	h.sink.ops->reset(h.sink.arg);
	buf_reset(&h.raw);
	h.out.committed = 0;
	/* After reset the numbering and the items start again. */
	TEXT(&h, "again");
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h.raw),
	    "\"type\":\"response.output_item.added\",\"sequence_number\":0,"
	    "\"output_index\":0"));
	h_free(&h);
}
END_TEST

/*
 * The echo: the request's own text when the parser kept it, else the value
 * serialised as json-c would (every JSON type, escapes, a double's
 * spelling); known fields in their place, others before usage.
 */
/*
 * Long echoed fields (over the 4 KB the emitter writes straight from its
 * cache while streaming) come out whole, in place and in order, in each
 * of the three response events, between the events around them.
 */
START_TEST(echo_long_fields_whole_in_each_event)
{
	struct harness	 h;
	json_object	*ev, *r, *v, *tools = NULL;
	struct buf	 instr = BUF_INIT, quoted = BUF_INIT, tools_json = BUF_INIT;
	const char	*raw, *at;
	char		*n;
	int		 i, seen = 0;

	for (i = 0; i < 600; i++)
		buf_printf(&instr, "rule %d: be \"brief\". ", i);
	buf_json_str(&quoted, instr.ptr, instr.len);
	buf_putc(&tools_json, '[');
	for (i = 0; i < 60; i++)
		buf_printf(&tools_json, "%s{\"type\":\"function\",\"name\":"
		    "\"tool_%d\",\"parameters\":{\"type\":\"object\"}}",
		    i > 0 ? "," : "", i);
	buf_putc(&tools_json, ']');
	h_init(&h, 1);
	ck_assert_int_eq(json_parse(tools_json.ptr, tools_json.len, 64, &tools,
	    NULL), KF_OK);
	json_object_object_add(h.req.echo, "tools", tools);
	json_object_object_add(h.req.echo, "user", json_str(instr.ptr));
	h.req.echo_text = json_object_new_object();
	json_object_object_add(h.req.echo_text, "instructions",
	    json_str(quoted.ptr));
	ck_assert_uint_gt(quoted.len, 4096);
	h_start(&h, 0);
	TEXT(&h, "Hi");
	h_finish(&h, SINK_STOP_END_TURN, 3, 1);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done completed");
	free(n);
	for (i = 0; i < 3; i++) {
		r = NULL;
		ck_assert_int_eq(json_get_obj(data_at(ev, i < 2 ? i : 8),
		    "response", &r), 1);
		ck_assert(json_object_object_get_ex(r, "instructions", &v));
		ck_assert(strcmp(json_object_get_string(v), instr.ptr) == 0);
		ck_assert(json_object_object_get_ex(r, "user", &v));
		ck_assert(strcmp(json_object_get_string(v), instr.ptr) == 0);
		ck_assert_str_eq(str_at(r, "tools.59.name"), "tool_59");
	}
	raw = buf_cstr(&h.raw);
	for (at = raw; (at = strstr(at, quoted.ptr)) != NULL; at += quoted.len)
		seen++;
	ck_assert_int_eq(seen, 6);	/* instructions and user, thrice */
	buf_free(&instr);
	buf_free(&quoted);
	buf_free(&tools_json);
	h_free(&h);
}
END_TEST

START_TEST(echo_text_then_tree)
{
	struct harness	 h;
	json_object	*tools = NULL, *ev, *r = NULL;
	struct buf	 want = BUF_INIT;
	const char	*raw, *at;
	int		 seen = 0;
	static const char tools_json[] = "[{\"type\":\"function\",\"name\":"
	    "\"f/g\",\"description\":\"say \\\"hi\\\"\\n\\ttab \\u0001 "
	    "\\u00e9\",\"strict\":false,\"parameters\":{\"type\":\"object\","
	    "\"properties\":{\"a\":{\"type\":\"number\",\"minimum\":1.50,"
	    "\"maximum\":-7,\"default\":null,\"enum\":[true,1e3,\"x\"]}}}}]";

	h_init(&h, 1);
	ck_assert_int_eq(json_parse(tools_json, sizeof(tools_json) - 1, 64,
	    &tools, NULL), KF_OK);
	json_object_object_add(h.req.echo, "tools", tools);
	json_object_object_add(h.req.echo, "temperature",
	    json_object_new_double(0.5));
	json_object_object_add(h.req.echo, "user", json_str("tree"));
	h.req.echo_text = json_object_new_object();
	json_object_object_add(h.req.echo_text, "instructions",
	    json_str("\"Be terse.\""));
	json_object_object_add(h.req.echo_text, "user", json_str("\"text\""));
	h_start(&h, 0);
	h_finish(&h, SINK_STOP_END_TURN, 1, 1);
	ev = h_events(&h);
	ck_assert_int_eq(json_get_obj(data_at(ev, 0), "response", &r), 1);
	ck_assert_str_eq(str_at(r, "instructions"), "Be terse.");
	ck_assert_str_eq(str_at(r, "user"), "text");
	ck_assert_str_eq(str_at(r, "store"), "false");
	ck_assert_str_eq(str_at(r, "tool_choice"), "auto");
	ck_assert_str_eq(str_at(r, "tools.0.name"), "f/g");
	/* The tree's bytes are json-c's, in each of the three events. */
	json_to_buf(tools, &want);
	raw = buf_cstr(&h.raw);
	for (at = raw; (at = strstr(at, want.ptr)) != NULL; at += want.len)
		seen++;
	ck_assert_int_eq(seen, 3);
	/* Fields in their place, extra ones after metadata, then usage. */
	ck_assert_ptr_nonnull(strstr(raw, "\"instructions\":\"Be terse.\","
	    "\"max_output_tokens\":null,\"model\":"));
	ck_assert_ptr_nonnull(strstr(raw, "\"parallel_tool_calls\":true,"
	    "\"previous_response_id\":null,\"store\":false,\"tool_choice\":"
	    "\"auto\",\"tools\":["));
	ck_assert_ptr_nonnull(strstr(raw, "]}}}}],\"metadata\":{},"
	    "\"temperature\":0.5,\"user\":\"text\",\"usage\":null}"));
	buf_free(&want);
	h_free(&h);
}
END_TEST

/*
 * The items are written straight into the answer, each once when done
 * (#13); they must be byte for byte what json-c writes for the tree the
 * emitter once built for them (item_json, kept here as ref_*), open and
 * done, in output_item.added/.done, in the parts' events, in the final
 * response object and in the JSON body, for every item type: reasoning,
 * a web_search_call, a message citing it, a function_call, a
 * custom_tool_call, a local_shell_call and a call cut short.  The text
 * needs every escape, DEL (raw in json-c's strings, \u007f in the text
 * events' own), UTF-8 and "/", and the call input a double.
 */
#define ODD	"q\"b\\s/n\nt\tr\rb\bf\f\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac " \
	"</script>"
#define URL_A	"https://example.com/a"
#define URL_B	"https://ex.org/b"
#define CITING	"see " URL_A " and " URL_B " "
#define ARGS	"{\"x\":1.50,\"y\":[true,null,-0,1e3],\"z\":\"\\u00e9\\/" \
	"\\u007f\x7f\"}"
#define SHELL	"{\"command\":[\"ls\",\"a\\u007f\"],\"env\":{\"n\":1.50}," \
	"\"timeout_ms\":5000,\"working_directory\":\"/s\",\"user\":\"me\"}"
#define N_ITEMS	7

static const char *
jsonc_bytes(json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

static json_object *
ref_item(const char *id, const char *type, const char *status)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", json_str(id));
	json_object_object_add(o, "type", json_str(type));
	if (status != NULL)
		json_object_object_add(o, "status", json_str(status));
	return o;
}

static json_object *
ref_part(const char *type, json_object *annotations, const char *text)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "type", json_str(type));
	if (annotations != NULL) {
		json_object_object_add(o, "annotations", annotations);
		json_object_object_add(o, "logprobs",
		    json_object_new_array());
	}
	json_object_object_add(o, "text", json_str(text));
	return o;
}

static json_object *
ref_source(const char *url, const char *title, const char *snippet)
{
	json_object	*src = json_object_new_object();

	json_object_object_add(src, "type", json_str("url"));
	json_object_object_add(src, "url", json_str(url));
	json_object_object_add(src, "title", json_str(title));
	if (snippet != NULL)
		json_object_object_add(src, "snippet", json_str(snippet));
	return src;
}

static json_object *
ref_action(void)
{
	json_object	*a = json_object_new_object(), *sources;

	json_object_object_add(a, "type", json_str("search"));
	json_object_object_add(a, "query", json_str(ODD));
	sources = json_object_new_array();
	json_object_array_add(sources, ref_source(URL_A, ODD, ODD));
	json_object_array_add(sources, ref_source(URL_B, "B", NULL));
	json_object_object_add(a, "sources", sources);
	return a;
}

static json_object *
ref_annotations(void)
{
	json_object	*arr = json_object_new_array();

	openai_url_citations(arr, CITING ODD, strlen(CITING ODD), 0, URL_A,
	    ODD, OPENAI_CITATION_FLAT);
	openai_url_citations(arr, CITING ODD, strlen(CITING ODD), 0, URL_B,
	    "B", OPENAI_CITATION_FLAT);
	ck_assert_uint_eq(json_object_array_length(arr), 2);
	return arr;
}

/* The item at output index k as the old tree was; ids[k] its id. */
static json_object *
ref_at(size_t k, int done, char *const ids[N_ITEMS])
{
	static const char *const call_ids[N_ITEMS] = { NULL, NULL, NULL,
	    "call_\"1", "call_2", "call_ls", "call_4" };
	static const char *const tool_names[N_ITEMS] = { NULL, NULL, NULL,
	    "n/a\x7f", "apply_patch", NULL, "read" };
	const char	*status = done ? "completed" : "in_progress";
	json_object	*o, *arr;

	switch (k) {
	case 0:
		o = ref_item(ids[k], "reasoning", NULL);
		arr = json_object_new_array();
		if (done)
			json_object_array_add(arr, ref_part("summary_text",
			    NULL, ODD " more"));
		json_object_object_add(o, "summary", arr);
		return o;
	case 1:
		o = ref_item(ids[k], "web_search_call", status);
		json_object_object_add(o, "action", ref_action());
		return o;
	case 2:
		o = ref_item(ids[k], "message", status);
		json_object_object_add(o, "role", json_str("assistant"));
		arr = json_object_new_array();
		if (done)
			json_object_array_add(arr, ref_part("output_text",
			    ref_annotations(), CITING ODD));
		json_object_object_add(o, "content", arr);
		return o;
	case 5:
		o = ref_item(ids[k], "local_shell_call", status);
		json_object_object_add(o, "call_id", json_str(call_ids[k]));
		json_object_object_add(o, "action", json_tokener_parse(done ?
		    "{\"type\":\"exec\",\"command\":[\"ls\",\"a\\u007f\"],"
		    "\"env\":{\"n\":1.50},\"timeout_ms\":5000,"
		    "\"working_directory\":\"/s\",\"user\":\"me\"}" :
		    "{\"type\":\"exec\",\"command\":[],\"env\":{}}"));
		return o;
	default:
		o = ref_item(ids[k], k == 4 ? "custom_tool_call" :
		    "function_call", status);
		json_object_object_add(o, "call_id", json_str(call_ids[k]));
		json_object_object_add(o, "name", json_str(tool_names[k]));
		json_object_object_add(o, k == 4 ? "input" : "arguments",
		    json_str(!done || k == 6 ? "" : k == 4 ? ODD : ARGS));
		return o;
	}
}

/* Every item type, and a call the finish cuts short. */
static void
play_items(struct harness *h)
{
	struct websearch_result	 res[2];
	struct websearch	 ws;
	struct buf		 custom = BUF_INIT;

	memset(res, 0, sizeof(res));
	res[0].url = URL_A;
	res[0].title = ODD;
	res[0].snippet = ODD;
	res[1].url = URL_B;
	res[1].title = "B";
	memset(&ws, 0, sizeof(ws));
	ws.query = ODD;
	ws.results = res;
	ws.n_results = 2;
	buf_puts(&custom, "{\"input\":");
	buf_json_str(&custom, ODD, strlen(ODD));
	buf_putc(&custom, '}');
	h->req.local_shell = 1;
	h_start(h, 1);
	THINK(h, ODD);
	THINK(h, " more");
	OK(h->sink.ops->thinking_end(h->sink.arg, NULL));
	OK(h->sink.ops->web_search(h->sink.arg, "srvtoolu_1", &ws));
	TEXT(h, CITING);
	TEXT(h, ODD);
	OK(h->sink.ops->tool_start(h->sink.arg, 0, "call_\"1", "n/a\x7f"));
	OK(h->sink.ops->tool_input(h->sink.arg, 0, ARGS, strlen(ARGS)));
	OK(h->sink.ops->tool_end(h->sink.arg, 0, ARGS));
	OK(h->sink.ops->tool_start(h->sink.arg, 1, "call_2", "apply_patch"));
	OK(h->sink.ops->tool_end(h->sink.arg, 1, custom.ptr));
	OK(h->sink.ops->tool_start(h->sink.arg, 2, "call_ls", "local_shell"));
	OK(h->sink.ops->tool_end(h->sink.arg, 2, SHELL));
	OK(h->sink.ops->tool_start(h->sink.arg, 3, "call_4", "read"));
	h_finish(h, SINK_STOP_TOOL_USE, 5, 6);
	buf_free(&custom);
}

/* The raw data of each event, in order (h_events has checked them). */
static char **
raw_datas(struct harness *h, size_t *n)
{
	const char	*p = body_of(h), *nl, *end;
	char		**out = NULL;

	*n = 0;
	while (*p != '\0') {
		ck_assert_msg(strncmp(p, "event: ", 7) == 0, "at %s", p);
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		end = strstr(nl, "\n\n");
		ck_assert_ptr_nonnull(end);
		out = xreallocarray(out, *n + 1, sizeof(*out));
		out[(*n)++] = xstrndup(nl + 7, (size_t)(end - nl - 7));
		p = end + 2;
	}
	return out;
}

/* data ends with ,"key":want} */
static void
assert_ends(const char *data, const char *key, const char *want)
{
	struct buf	tail = BUF_INIT;
	size_t		len = strlen(data);

	buf_printf(&tail, ",\"%s\":%s}", key, want);
	ck_assert_uint_ge(len, tail.len);
	ck_assert_str_eq(data + len - tail.len, tail.ptr);
	buf_free(&tail);
}

/* "output":[...],"parallel_tool_calls": with the old trees, all done. */
static char *
ref_output(char *const ids[N_ITEMS])
{
	json_object	*arr = json_object_new_array();
	struct buf	 b = BUF_INIT;
	size_t		 k;

	for (k = 0; k < N_ITEMS; k++)
		json_object_array_add(arr, ref_at(k, 1, ids));
	buf_puts(&b, "\"output\":");
	buf_puts(&b, jsonc_bytes(arr));
	buf_puts(&b, ",\"parallel_tool_calls\":");
	json_object_put(arr);
	return buf_detach(&b);
}

/* A part event's part: the open one, or the done item's first. */
static void
check_part(const char *name, const char *raw, char *const ids[N_ITEMS])
{
	json_object	*ref, *v;
	int		 text = strstr(name, "content_part") != NULL;

	if (strstr(name, ".added") != NULL) {
		ref = text ? ref_part("output_text", json_object_new_array(),
		    "") : ref_part("summary_text", NULL, "");
		assert_ends(raw, "part", jsonc_bytes(ref));
	} else {
		ref = ref_at(text ? 2 : 0, 1, ids);
		ck_assert(json_object_object_get_ex(ref, text ? "content" :
		    "summary", &v));
		assert_ends(raw, "part", jsonc_bytes(
		    json_object_array_get_idx(v, 0)));
	}
	json_object_put(ref);
}

START_TEST(items_are_json_c_serialisation)
{
	struct harness	 h;
	json_object	*ev, *data, *v, *ref;
	char		*ids[N_ITEMS], **raw, *n, *want;
	const char	*name, *id;
	size_t		 i, k, n_raw, added = 0, done = 0, parts = 0;
	int64_t		 idx;
	int		 is_done;

	h_init(&h, 1);
	play_items(&h);
	ev = h_events(&h);
	n = names(ev);
	ck_assert_str_eq(n, "created in_progress output_item.added "
	    "reasoning_summary_part.added reasoning_summary_text.delta "
	    "reasoning_summary_text.delta reasoning_summary_text.done "
	    "reasoning_summary_part.done output_item.done output_item.added "
	    "web_search_call.in_progress web_search_call.searching "
	    "web_search_call.completed output_item.done output_item.added "
	    "content_part.added output_text.delta output_text.delta "
	    "output_text.annotation.added output_text.annotation.added "
	    "output_text.done content_part.done output_item.done "
	    "output_item.added function_call_arguments.delta "
	    "function_call_arguments.done output_item.done output_item.added "
	    "custom_tool_call_input.delta custom_tool_call_input.done "
	    "output_item.done output_item.added output_item.done "
	    "output_item.added output_item.done completed");
	free(n);
	raw = raw_datas(&h, &n_raw);
	ck_assert_uint_eq(n_raw, json_object_array_length(ev));
	memset(ids, 0, sizeof(ids));
	for (i = 0; i < n_raw; i++) {
		data = data_at(ev, i);
		ck_assert_int_eq(json_get_str(data, "type", &name), 1);
		is_done = strstr(name, ".done") != NULL;
		if (strncmp(name, "response.output_item.", 21) == 0) {
			ck_assert_int_eq(json_get_int(data, "output_index",
			    &idx), 1);
			k = (size_t)idx;
			ck_assert_uint_lt(k, N_ITEMS);
			ck_assert_int_eq(json_get_obj(data, "item", &v), 1);
			ck_assert_int_eq(json_get_str(v, "id", &id), 1);
			if (ids[k] == NULL)
				ids[k] = xstrdup(id);
			ref = ref_at(k, is_done, ids);
			assert_ends(raw[i], "item", jsonc_bytes(ref));
			json_object_put(ref);
			if (is_done)
				done++;
			else
				added++;
		} else if (strstr(name, "_part.") != NULL) {
			check_part(name, raw[i], ids);
			parts++;
		} else if (strcmp(name, "response.completed") == 0) {
			want = ref_output(ids);
			ck_assert_ptr_nonnull(strstr(raw[i], want));
			free(want);
		} else {
			/* The text events keep their own DEL escape. */
			if (is_done || strcmp(name,
			    "response.custom_tool_call_input.delta") == 0)
				ck_assert_msg(strstr(raw[i], "\\u007f") !=
				    NULL && strchr(raw[i], 0x7f) == NULL,
				    "%s", raw[i]);
			continue;
		}
		/* And the event as a whole is json-c's bytes. */
		v = json_tokener_parse(raw[i]);
		ck_assert_ptr_nonnull(v);
		ck_assert_str_eq(jsonc_bytes(v), raw[i]);
		json_object_put(v);
	}
	ck_assert_uint_eq(added, N_ITEMS);
	ck_assert_uint_eq(done, N_ITEMS);
	ck_assert_uint_eq(parts, 4);
	for (i = 0; i < n_raw; i++)
		free(raw[i]);
	free(raw);
	h_free(&h);

	for (k = 0; k < N_ITEMS; k++)
		free(ids[k]);

	/* The JSON body's output: the same bytes, with its own ids. */
	h_init(&h, 0);
	play_items(&h);
	ck_assert_int_eq(json_parse(body_of(&h), strlen(body_of(&h)), 64,
	    &data, NULL), KF_OK);
	ck_assert_int_eq(json_get_arr(data, "output", &v), 1);
	ck_assert_uint_eq(json_object_array_length(v), N_ITEMS);
	for (k = 0; k < N_ITEMS; k++) {
		ck_assert_int_eq(json_get_str(json_object_array_get_idx(v, k),
		    "id", &id), 1);
		ids[k] = xstrdup(id);
	}
	json_object_put(data);
	want = ref_output(ids);
	ck_assert_ptr_nonnull(strstr(body_of(&h), want));
	free(want);
	h_free(&h);
	for (k = 0; k < N_ITEMS; k++)
		free(ids[k]);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("emit-openai-responses");
	TCase	*tc = tcase_create("emit");

	tcase_add_test(tc, stream_text);
	tcase_add_test(tc, cached_tokens_in_both_modes);
	tcase_add_test(tc, stream_reasoning_then_text);
	tcase_add_test(tc, stream_function_calls_interleaved);
	tcase_add_test(tc, stream_custom_tool_call);
	tcase_add_test(tc, custom_input_not_in_shape_kept_as_json);
	tcase_add_test(tc, stream_local_shell_call);
	tcase_add_test(tc, stream_incomplete_on_max_tokens);
	tcase_add_test(tc, json_response_object);
	tcase_add_test(tc, stream_error_is_response_failed);
	tcase_add_test(tc, json_error_is_openai_error);
	tcase_add_test(tc, ping_and_reset);
	tcase_add_test(tc, stop_sequence_is_completed);
	tcase_add_test(tc, echo_text_then_tree);
	tcase_add_test(tc, echo_long_fields_whole_in_each_event);
	tcase_add_test(tc, items_are_json_c_serialisation);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
