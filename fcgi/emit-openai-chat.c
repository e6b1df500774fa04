/* emit-openai-chat.c: chat.completion.chunk SSE and the chat.completion JSON sinks. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "emit-common.h"
#include "json.h"
#include "openai-chat.h"
#include "openai-common.h"
#include "out.h"
#include "sink.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * The chunk sequence is doc/protocol.md §6.4.  Chunks are written by hand
 * rather than through json-c objects: a long answer is thousands of small
 * deltas, and each shares one prefix (id, object, created, model).
 */

enum emit_mode {
	EMIT_STREAM,
	EMIT_JSON,
};

struct tool_call {
	char		*id;
	char		*name;
	struct buf	 args;		/* JSON mode: the whole input */
	int		 args_sent;	/* STREAM: a fragment went out */
	int		 open;
};

struct openai_chat_emit {
	enum emit_mode	 mode;
	struct out	*out;
	struct sink	*sink;
	int		 include_usage;
	struct buf	 events;	/* pending SSE bytes */
	struct buf	 prefix;	/* {"id":...,"model":...,"choices":[ */
	struct buf	 chunk_head;	/* data: prefix {"index":0,"delta": */
	int		 head_sent;
	char		*id;		/* chatcmpl-... */
	char		*model;
	long		 created;
	struct buf	 content;	/* JSON mode */
	struct buf	 reasoning;	/* JSON mode */
	int		 has_reasoning;
	struct tool_call *tools;	/* by the relay's index */
	size_t		 n_tools;
	int		 finished;
	/*
	 * Web search (web_search_options): the sources the gateway's
	 * searches found, {url, title} objects, and, when streaming, the
	 * characters sent before the first search (where the content kept
	 * for url_citation offsets begins).
	 */
	json_object	*sources;
	long		 streamed_chars;
	long		 cite_base;
};

/* Sources kept for citations: the results of this many searches. */
#define MAX_SOURCES	(WEBSEARCH_MAX_RESULTS * 10)

const char *
openai_chat_finish_reason(enum sink_stop stop)
{
	switch (stop) {
	case SINK_STOP_TOOL_USE:
		return "tool_calls";
	case SINK_STOP_MAX_TOKENS:
	case SINK_STOP_CONTEXT_WINDOW:
		return "length";
	case SINK_STOP_END_TURN:
	case SINK_STOP_STOP_SEQUENCE:
	case SINK_STOP__MAX:
		break;
	}
	return "stop";
}

static int
send_head(struct openai_chat_emit *e)
{
	return emit_stream_head(e->out, e->sink, &e->head_sent,
	    "text/event-stream");
}

static int
push(struct openai_chat_emit *e)
{
	return emit_push(e->out, e->sink, &e->events);
}

/* §6.4: "tool_calls" whenever a tool was called. */
static const char *
finish_reason(struct openai_chat_emit *e, enum sink_stop stop)
{
	if (stop == SINK_STOP_END_TURN && e->n_tools > 0)
		return "tool_calls";
	return openai_chat_finish_reason(stop);
}

/*
 * A chunk is written in place into the pending events, framed as
 * sse_event() frames one: no buffers, copies or printf per delta (#13).
 * chunk_begin writes up to the delta's first byte (chunk_head, made once
 * per answer) and returns the events to write the delta (JSON) to;
 * chunk_end closes it with finish_reason (NULL: null, CHUNK_TAIL).
 */
#define CHUNK_TAIL	",\"logprobs\":null,\"finish_reason\":null}]}\n\n"

static struct buf *
chunk_begin(struct openai_chat_emit *e)
{
	buf_append(&e->events, e->chunk_head.ptr, e->chunk_head.len);
	return &e->events;
}

static void
chunk_end(struct openai_chat_emit *e, const char *finish)
{
	if (finish == NULL) {
		buf_append(&e->events, CHUNK_TAIL, sizeof(CHUNK_TAIL) - 1);
		return;
	}
	buf_puts(&e->events, ",\"logprobs\":null,\"finish_reason\":");
	buf_putc(&e->events, '"');
	buf_puts(&e->events, finish);
	buf_puts(&e->events, "\"}]}\n\n");
}

/* One chunk whose only choice has this delta (JSON) and finish_reason. */
static void
chunk(struct openai_chat_emit *e, const char *delta, const char *finish)
{
	buf_puts(chunk_begin(e), delta);
	chunk_end(e, finish);
}

/*
 * A delta with one string member, {"content":"..."}: open is its start,
 * a literal (STRING_DELTA), and the rest of the chunk one literal too, so
 * that a delta is four appends.
 */
#define STRING_DELTA(key)	"{\"" key "\":", sizeof("{\"" key "\":") - 1

static void
string_delta(struct openai_chat_emit *e, const char *open, size_t open_len,
    const char *s, size_t len)
{
	struct buf	*d = chunk_begin(e);

	buf_append(d, open, open_len);
	buf_json_str(d, s, len);
	buf_append(d, "}" CHUNK_TAIL, sizeof("}" CHUNK_TAIL) - 1);
}

static struct tool_call *
tool_at(struct openai_chat_emit *e, size_t index)
{
	if (index >= e->n_tools) {
		e->tools = xreallocarray(e->tools, index + 1,
		    sizeof(*e->tools));
		memset(e->tools + e->n_tools, 0, (index + 1 - e->n_tools) *
		    sizeof(*e->tools));
		e->n_tools = index + 1;
	}
	return &e->tools[index];
}

static void
args_delta(struct openai_chat_emit *e, size_t index, const char *s,
    size_t len)
{
	struct buf	*d = chunk_begin(e);

	buf_puts(d, "{\"tool_calls\":[{\"index\":");
	buf_put_int(d, (long long)index);
	buf_puts(d, ",\"function\":{\"arguments\":");
	buf_json_str(d, s, len);
	buf_puts(d, "}}]}");
	chunk_end(e, NULL);
}

static int
e_start(void *arg, const struct sink_start *st)
{
	struct openai_chat_emit	*e = arg;
	const char		*hex;

	free(e->id);
	free(e->model);
	/* msg_<hex> from the relay: the same unique part, OpenAI's prefix. */
	hex = strncmp(st->message_id, "msg_", 4) == 0 ? st->message_id + 4 :
	    st->message_id;
	e->id = xasprintf("chatcmpl-%s", hex);
	e->model = xstrdup(st->model);
	e->created = (long)time(NULL);
	out_context(e->out, st->context);
	buf_reset(&e->prefix);
	buf_puts(&e->prefix, "{\"id\":");
	buf_json_str(&e->prefix, e->id, strlen(e->id));
	buf_printf(&e->prefix, ",\"object\":\"chat.completion.chunk\","
	    "\"created\":%ld,\"model\":", e->created);
	buf_json_str(&e->prefix, e->model, strlen(e->model));
	buf_puts(&e->prefix, ",\"system_fingerprint\":null,\"choices\":[");
	buf_reset(&e->chunk_head);
	buf_puts(&e->chunk_head, "data: ");
	buf_append(&e->chunk_head, e->prefix.ptr, e->prefix.len);
	buf_puts(&e->chunk_head, "{\"index\":0,\"delta\":");
	if (e->mode == EMIT_JSON)
		return 0;
	if (send_head(e) != 0)
		return -1;
	chunk(e, "{\"role\":\"assistant\"}", NULL);
	return push(e);
}

static int
e_text(void *arg, const char *s, size_t len)
{
	struct openai_chat_emit	*e = arg;

	if (e->mode == EMIT_JSON) {
		buf_append(&e->content, s, len);
		return 0;
	}
	/* After a search, keep the text: citations point into it. */
	if (e->sources != NULL)
		buf_append(&e->content, s, len);
	else
		e->streamed_chars += openai_utf8_chars(s, len);
	string_delta(e, STRING_DELTA("content"), s, len);
	return push(e);
}

static int
e_thinking(void *arg, const char *s, size_t len)
{
	struct openai_chat_emit	*e = arg;

	if (e->mode == EMIT_JSON) {
		e->has_reasoning = 1;
		buf_append(&e->reasoning, s, len);
		return 0;
	}
	string_delta(e, STRING_DELTA("reasoning_content"), s, len);
	return push(e);
}

static int
e_thinking_end(void *arg, const char *signature)
{
	(void)arg;
	(void)signature;	/* OpenAI has no place for it */
	return 0;
}

static int
e_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	struct openai_chat_emit	*e = arg;
	struct tool_call	*t = tool_at(e, index);
	struct buf		 d = BUF_INIT;

	free(t->id);
	free(t->name);
	t->id = xstrdup(id);
	t->name = xstrdup(name);
	t->open = 1;
	if (e->mode == EMIT_JSON)
		return 0;
	buf_printf(&d, "{\"tool_calls\":[{\"index\":%zu,\"id\":", index);
	buf_json_str(&d, id, strlen(id));
	buf_puts(&d, ",\"type\":\"function\",\"function\":{\"name\":");
	buf_json_str(&d, name, strlen(name));
	buf_puts(&d, ",\"arguments\":\"\"}}]}");
	chunk(e, d.ptr, NULL);
	buf_free(&d);
	return push(e);
}

static int
e_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	struct openai_chat_emit	*e = arg;

	if (e->mode == EMIT_JSON || index >= e->n_tools ||
	    !e->tools[index].open || len == 0)
		return 0;	/* JSON: the whole input comes at tool_end */
	e->tools[index].args_sent = 1;
	args_delta(e, index, s, len);
	return push(e);
}

static int
e_tool_end(void *arg, size_t index, const char *input)
{
	struct openai_chat_emit	*e = arg;
	struct tool_call	*t;

	if (index >= e->n_tools || !e->tools[index].open)
		return 0;
	t = &e->tools[index];
	t->open = 0;
	if (e->mode == EMIT_JSON) {
		buf_reset(&t->args);
		buf_puts(&t->args, input);
		return 0;
	}
	/* A call with no fragments still needs its arguments. */
	if (t->args_sent)
		return 0;
	args_delta(e, index, input, strlen(input));
	return push(e);
}

static void
usage_json(json_object *msg, const struct sink_usage *usage)
{
	json_object	*u = json_object_new_object(), *details;

	json_object_object_add(u, "prompt_tokens",
	    json_object_new_int64(usage->input_tokens));
	json_object_object_add(u, "completion_tokens",
	    json_object_new_int64(usage->output_tokens));
	json_object_object_add(u, "total_tokens",
	    json_object_new_int64(usage->input_tokens + usage->output_tokens));
	/* The part of prompt_tokens Kiro read from its prompt cache. */
	details = json_object_new_object();
	json_object_object_add(details, "cached_tokens",
	    json_object_new_int64(usage->cache_read_tokens));
	json_object_object_add(u, "prompt_tokens_details", details);
	json_object_object_add(msg, "usage", u);
}

/*
 * url_citation annotations (Chat's nested shape) for each place the
 * content names a source's URL; an empty array when none.
 */
static json_object *
citations(const struct openai_chat_emit *e)
{
	json_object	*arr, *src;
	const char	*url, *title;
	size_t		 i, n;

	arr = json_object_new_array();
	n = e->sources != NULL ? json_object_array_length(e->sources) : 0;
	for (i = 0; i < n && e->content.len > 0; i++) {
		src = json_object_array_get_idx(e->sources, i);
		if (json_get_str(src, "url", &url) != 1)
			continue;
		if (json_get_str(src, "title", &title) != 1)
			title = NULL;
		openai_url_citations(arr, e->content.ptr, e->content.len,
		    e->mode == EMIT_JSON ? 0 : e->cite_base, url, title,
		    OPENAI_CITATION_NESTED);
	}
	return arr;
}

static int
write_json(struct openai_chat_emit *e, enum sink_stop stop,
    const struct sink_usage *usage)
{
	json_object	*msg, *choices, *choice, *m, *calls, *call, *fn;
	struct buf	 body = BUF_INIT;
	size_t		 i, n_calls = 0;
	int		 rc;

	msg = json_object_new_object();
	json_object_object_add(msg, "id", json_str(e->id));
	json_object_object_add(msg, "object", json_str("chat.completion"));
	json_object_object_add(msg, "created",
	    json_object_new_int64(e->created));
	json_object_object_add(msg, "model", json_str(e->model));
	m = json_object_new_object();
	json_object_object_add(m, "role", json_str("assistant"));
	calls = json_object_new_array();
	for (i = 0; i < e->n_tools; i++) {
		if (e->tools[i].id == NULL)
			continue;
		call = json_object_new_object();
		json_object_object_add(call, "id", json_str(e->tools[i].id));
		json_object_object_add(call, "type", json_str("function"));
		fn = json_object_new_object();
		json_object_object_add(fn, "name", json_str(e->tools[i].name));
		json_object_object_add(fn, "arguments", json_str(
		    e->tools[i].args.len > 0 ? e->tools[i].args.ptr : "{}"));
		json_object_object_add(call, "function", fn);
		json_object_array_add(calls, call);
		n_calls++;
	}
	/* OpenAI sends null content beside tool calls when there is no text. */
	json_object_object_add(m, "content",
	    e->content.len > 0 || n_calls == 0 ? json_strn(e->content.ptr !=
	    NULL ? e->content.ptr : "", e->content.len) : NULL);
	if (e->has_reasoning)
		json_object_object_add(m, "reasoning_content", json_strn(
		    e->reasoning.ptr != NULL ? e->reasoning.ptr : "",
		    e->reasoning.len));
	if (n_calls > 0)
		json_object_object_add(m, "tool_calls", calls);
	else
		json_object_put(calls);
	json_object_object_add(m, "refusal", NULL);
	if (e->sources != NULL)
		json_object_object_add(m, "annotations", citations(e));
	choice = json_object_new_object();
	json_object_object_add(choice, "index", json_object_new_int(0));
	json_object_object_add(choice, "message", m);
	json_object_object_add(choice, "logprobs", NULL);
	json_object_object_add(choice, "finish_reason",
	    json_str(finish_reason(e, stop)));
	choices = json_object_new_array();
	json_object_array_add(choices, choice);
	json_object_object_add(msg, "choices", choices);
	usage_json(msg, usage);
	json_object_object_add(msg, "system_fingerprint", NULL);
	json_to_buf(msg, &body);
	json_object_put(msg);
	rc = emit_json_answer(e->out, e->sink, &body);
	buf_free(&body);
	return rc;
}

static int
e_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct openai_chat_emit	*e = arg;
	struct buf		 d = BUF_INIT;
	json_object		*a;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (e->mode == EMIT_JSON)
		return write_json(e, stop, usage);
	if (e->sources != NULL) {
		/* Search models send their annotations in a delta. */
		a = citations(e);
		if (json_object_array_length(a) > 0) {
			buf_puts(&d, "{\"annotations\":");
			buf_puts(&d, json_object_to_json_string_ext(a,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
			buf_putc(&d, '}');
			chunk(e, d.ptr, NULL);
			buf_free(&d);
		}
		json_object_put(a);
	}
	chunk(e, "{}", finish_reason(e, stop));
	if (e->include_usage) {
		buf_append(&d, e->prefix.ptr, e->prefix.len);
		buf_printf(&d, "],\"usage\":{\"prompt_tokens\":%ld,"
		    "\"completion_tokens\":%ld,\"total_tokens\":%ld,"
		    "\"prompt_tokens_details\":{\"cached_tokens\":%ld}}}",
		    usage->input_tokens, usage->output_tokens,
		    usage->input_tokens + usage->output_tokens,
		    usage->cache_read_tokens);
		sse_event(&e->events, NULL, d.ptr, d.len);
		buf_free(&d);
	}
	buf_puts(&e->events, "data: [DONE]\n\n");
	return push(e);
}

static int
e_error(void *arg, enum kf_err er, const char *message)
{
	struct openai_chat_emit	*e = arg;
	struct buf		 d = BUF_INIT;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (e->mode == EMIT_JSON || !e->out->committed)
		return openai_error_response(e->out, er, message, NULL, 0);
	openai_error_json(&d, er, message, NULL);
	sse_event(&e->events, NULL, d.ptr, d.len);
	buf_free(&d);
	buf_puts(&e->events, "data: [DONE]\n\n");
	return push(e);
}

/* An SSE comment: clients skip it, proxies see the stream alive. */
static int
e_ping(void *arg)
{
	struct openai_chat_emit	*e = arg;

	if (e->mode == EMIT_JSON || e->finished || !e->head_sent)
		return 0;
	return emit_puts_flush(e->out, e->sink, ": keep-alive\n\n");
}

/*
 * A search the gateway ran for web_search_options: Chat Completions has
 * no item for it, so only its sources are kept, for the annotations.
 */
static int
e_web_search(void *arg, const char *id, const struct websearch *ws)
{
	struct openai_chat_emit	*e = arg;
	json_object		*src;
	size_t			 k;

	(void)id;
	if (e->sources == NULL) {
		e->sources = json_object_new_array();
		e->cite_base = e->streamed_chars;
	}
	for (k = 0; k < ws->n_results &&
	    json_object_array_length(e->sources) < MAX_SOURCES; k++) {
		src = json_object_new_object();
		json_object_object_add(src, "url",
		    json_str(ws->results[k].url));
		json_object_object_add(src, "title",
		    json_str(ws->results[k].title));
		json_object_array_add(e->sources, src);
	}
	return 0;
}

static void
tools_free(struct openai_chat_emit *e)
{
	size_t	i;

	for (i = 0; i < e->n_tools; i++) {
		free(e->tools[i].id);
		free(e->tools[i].name);
		buf_free(&e->tools[i].args);
	}
	free(e->tools);
	e->tools = NULL;
	e->n_tools = 0;
}

static void
e_reset(void *arg)
{
	struct openai_chat_emit	*e = arg;

	tools_free(e);
	buf_reset(&e->events);
	buf_reset(&e->content);
	buf_reset(&e->reasoning);
	e->has_reasoning = 0;
	e->finished = 0;
	json_object_put(e->sources);
	e->sources = NULL;
	e->streamed_chars = 0;
	e->cite_base = 0;
}

static const struct sink_ops openai_chat_ops = {
	e_start, e_text, e_thinking, e_thinking_end, e_tool_start,
	e_tool_input, e_tool_end, e_finish, e_error, e_ping, e_reset,
	e_web_search,
};

static struct openai_chat_emit *
emit_new(enum emit_mode mode, struct out *out, struct sink *sink)
{
	struct openai_chat_emit	*e;

	e = xcalloc(1, sizeof(*e));
	e->mode = mode;
	e->out = out;
	e->sink = sink;
	emit_sink_init(sink, &openai_chat_ops, e, mode == EMIT_STREAM);
	return e;
}

struct openai_chat_emit *
openai_chat_emit_stream(struct out *out, struct sink *sink, int include_usage)
{
	struct openai_chat_emit	*e = emit_new(EMIT_STREAM, out, sink);

	e->include_usage = include_usage;
	return e;
}

struct openai_chat_emit *
openai_chat_emit_json(struct out *out, struct sink *sink)
{
	return emit_new(EMIT_JSON, out, sink);
}

void
openai_chat_emit_free(struct openai_chat_emit *e)
{
	if (e == NULL)
		return;
	tools_free(e);
	buf_free(&e->events);
	buf_free(&e->prefix);
	buf_free(&e->chunk_head);
	buf_free(&e->content);
	buf_free(&e->reasoning);
	json_object_put(e->sources);
	free(e->id);
	free(e->model);
	free(e);
}
