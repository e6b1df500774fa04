/* emit-openai-responses.c: the Responses SSE stream and response object sinks. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "emit-common.h"
#include "json.h"
#include "openai-common.h"
#include "openai-responses.h"
#include "out.h"
#include "rand.h"
#include "sink.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * Output items are opened as the answer needs them (reasoning for
 * thinking, a message for text, one item per tool call) and numbered by
 * output_index in that order.  Every item is kept whole, since the
 * closing events and the final response object repeat it.  Everything is
 * written by hand, straight into the pending events: a done item's JSON
 * once, then copied wherever it is repeated.
 */

enum item_type {
	ITEM_REASONING,
	ITEM_MESSAGE,
	ITEM_FUNCTION_CALL,
	ITEM_CUSTOM_CALL,
	ITEM_LOCAL_SHELL_CALL,
	ITEM_WEB_SEARCH_CALL,		/* a search the gateway ran */
};

/* Where an item's part and text lie in what item_write() wrote. */
struct item_marks {
	size_t	part_off;	/* the content or summary part */
	size_t	part_len;
	size_t	str_off;	/* the text as a JSON string */
	size_t	str_len;
};

struct item {
	enum item_type	 type;
	char		 id[40];
	char		 head[80];	/* ,"item_id":"<id>","output_index":N */
	size_t		 head_len;
	struct buf	 text;		/* summary, text, arguments or input */
	json_object	*action;	/* LOCAL_SHELL, WEB_SEARCH */
	json_object	*annotations;	/* MESSAGE: url_citation */
	char		*call_id;
	char		*name;
	int		 done;
	struct buf	 json;		/* once done: see item_done() */
	struct item_marks marks;	/* in json */
	int		 text_del;	/* text holds a DEL (put_str) */
};

/*
 * Response fields a request may set, in their place in the response
 * object, with the value the object has when the request says nothing.
 */
enum echo_field {
	ECHO_INSTRUCTIONS,
	ECHO_MAX_OUTPUT_TOKENS,
	ECHO_PARALLEL_TOOL_CALLS,
	ECHO_STORE,
	ECHO_TOOL_CHOICE,
	ECHO_TOOLS,
	ECHO_METADATA,
	ECHO__MAX,
};

/*
 * The events, each with its frame up to the data's sequence number
 * written out once at compile time: "event: T\ndata: {"type":"T",
 * "sequence_number":" as sse_event() frames it.
 */
enum ev_type {
	EV_CREATED,
	EV_IN_PROGRESS,
	EV_COMPLETED,
	EV_INCOMPLETE,
	EV_FAILED,
	EV_ITEM_ADDED,
	EV_ITEM_DONE,
	EV_PART_ADDED,
	EV_PART_DONE,
	EV_TEXT_DELTA,
	EV_TEXT_DONE,
	EV_ANNOTATION_ADDED,
	EV_SUMMARY_PART_ADDED,
	EV_SUMMARY_PART_DONE,
	EV_SUMMARY_DELTA,
	EV_SUMMARY_DONE,
	EV_ARGUMENTS_DELTA,
	EV_ARGUMENTS_DONE,
	EV_CUSTOM_DELTA,
	EV_CUSTOM_DONE,
	EV_SEARCH_IN_PROGRESS,
	EV_SEARCH_SEARCHING,
	EV_SEARCH_COMPLETED,
	EV__MAX,
};

struct ev_head {
	const char	*frame;
	size_t		 len;
};

#define EV_FRAME(t)	"event: response." t "\ndata: {\"type\":\"response." t \
	"\",\"sequence_number\":"
#define EV(t)		{ EV_FRAME(t), sizeof(EV_FRAME(t)) - 1 }

static const struct ev_head ev_heads[EV__MAX] = {
	[EV_CREATED] = EV("created"),
	[EV_IN_PROGRESS] = EV("in_progress"),
	[EV_COMPLETED] = EV("completed"),
	[EV_INCOMPLETE] = EV("incomplete"),
	[EV_FAILED] = EV("failed"),
	[EV_ITEM_ADDED] = EV("output_item.added"),
	[EV_ITEM_DONE] = EV("output_item.done"),
	[EV_PART_ADDED] = EV("content_part.added"),
	[EV_PART_DONE] = EV("content_part.done"),
	[EV_TEXT_DELTA] = EV("output_text.delta"),
	[EV_TEXT_DONE] = EV("output_text.done"),
	[EV_ANNOTATION_ADDED] = EV("output_text.annotation.added"),
	[EV_SUMMARY_PART_ADDED] = EV("reasoning_summary_part.added"),
	[EV_SUMMARY_PART_DONE] = EV("reasoning_summary_part.done"),
	[EV_SUMMARY_DELTA] = EV("reasoning_summary_text.delta"),
	[EV_SUMMARY_DONE] = EV("reasoning_summary_text.done"),
	[EV_ARGUMENTS_DELTA] = EV("function_call_arguments.delta"),
	[EV_ARGUMENTS_DONE] = EV("function_call_arguments.done"),
	[EV_CUSTOM_DELTA] = EV("custom_tool_call_input.delta"),
	[EV_CUSTOM_DONE] = EV("custom_tool_call_input.done"),
	[EV_SEARCH_IN_PROGRESS] = EV("web_search_call.in_progress"),
	[EV_SEARCH_SEARCHING] = EV("web_search_call.searching"),
	[EV_SEARCH_COMPLETED] = EV("web_search_call.completed"),
};

struct openai_responses_emit {
	int			 stream;
	struct out		*out;
	struct sink		*sink;
	const struct openai_responses_req	*req;
	struct buf		 events;
	int			 head_sent;
	long			 seq;
	char			 id[40];
	char			*model;
	long			 created_at;
	struct item		*items;
	size_t			 n_items;
	int			 open_text;	/* -1 when none */
	int			 open_reasoning;
	struct emit_calls	 tool_items;	/* relay tool index -> item */
	int			 finished;
	struct buf		 echo;		/* see echo_cache() */
	const char		*echo_at[ECHO__MAX];	/* NULL: absent */
	size_t			 echo_len[ECHO__MAX];
	const char		*echo_extra;
	size_t			 echo_extra_len;
	int			 echo_cached;
};

static void
new_id(char *out, size_t size, const char *prefix)
{
	char	hex[33];

	rand_hex(hex, 32);
	snprintf(out, size, "%s_%s", prefix, hex);
}

static int
push(struct openai_responses_emit *e)
{
	if (!e->stream)
		return 0;
	return emit_push(e->out, e->sink, &e->events);
}

#define PUT_LIT(d, lit)	buf_add((d), (lit), sizeof(lit) - 1)

/* A number, without printf's cost on the delta path. */
static void
put_num(struct buf *d, long n)
{
	char		 digits[BUF_DECIMAL_LEN];
	const char	*p;
	size_t		 len;

	p = buf_decimal(n, digits, &len);
	buf_add(d, p, len);
}

/*
 * Opens an event (as sse_event() frames it) in the pending events and
 * writes its data up to {"type":...,"sequence_number":N; ev_end() closes
 * it.  Written in place: no buffer or copy per delta.
 */
static struct buf *
ev_begin(struct openai_responses_emit *e, enum ev_type type)
{
	struct buf	*d = &e->events;

	buf_add(d, ev_heads[type].frame, ev_heads[type].len);
	put_num(d, e->seq++);
	return d;
}

static void
ev_end(struct buf *d)
{
	PUT_LIT(d, "}\n\n");
}

/*
 * A local_shell call's action from the arguments the model gave the
 * function (openai-responses.h): {"type":"exec","command":[...],"env":{}}
 * and whichever of timeout_ms, working_directory and user it set.  The
 * command is the model's array of strings; a single string is one
 * element.  NULL input is the action of a call not finished yet.
 */
static json_object *
exec_action(json_object *input)
{
	json_object	*action, *command, *v;
	size_t		 i, n;

	action = json_object_new_object();
	json_object_object_add(action, "type", json_str("exec"));
	command = json_object_new_array();
	if (input != NULL && json_object_object_get_ex(input, "command", &v)) {
		if (json_object_is_type(v, json_type_string))
			json_object_array_add(command, json_object_get(v));
		else if (json_object_is_type(v, json_type_array)) {
			n = json_object_array_length(v);
			for (i = 0; i < n; i++)
				json_object_array_add(command, json_str(
				    json_object_get_string(
				    json_object_array_get_idx(v, i))));
		}
	}
	json_object_object_add(action, "command", command);
	if (input != NULL && json_object_object_get_ex(input, "env", &v) &&
	    json_object_is_type(v, json_type_object))
		json_object_object_add(action, "env", json_object_get(v));
	else
		json_object_object_add(action, "env", json_object_new_object());
	if (input != NULL && json_object_object_get_ex(input, "timeout_ms",
	    &v) && json_object_is_type(v, json_type_int))
		json_object_object_add(action, "timeout_ms",
		    json_object_get(v));
	if (input != NULL && json_object_object_get_ex(input,
	    "working_directory", &v) && json_object_is_type(v,
	    json_type_string))
		json_object_object_add(action, "working_directory",
		    json_object_get(v));
	if (input != NULL && json_object_object_get_ex(input, "user", &v) &&
	    json_object_is_type(v, json_type_string))
		json_object_object_add(action, "user", json_object_get(v));
	return action;
}

static void
put_status(struct buf *d, const struct item *it)
{
	if (it->done)
		PUT_LIT(d, ",\"status\":\"completed\"");
	else
		PUT_LIT(d, ",\"status\":\"in_progress\"");
}

/* A JSON string of a C string, as json-c writes one. */
static void
put_cstr(struct buf *d, const char *s)
{
	json_put_str(d, s, strlen(s));
}

/* The text as json-c writes it, marked in m. */
static void
put_text(struct buf *d, const struct item *it, struct item_marks *m)
{
	m->str_off = d->len;
	json_put_str(d, it->text.ptr != NULL ? it->text.ptr : "",
	    it->text.len);
	m->str_len = d->len - m->str_off;
}

/*
 * The item as the client sees it; while open, without its content.  The
 * bytes are those json-c wrote for the tree this was once built as (the
 * test "items_are_json_c_serialisation" holds them to it): its members in
 * that order, strings through json_put_str, the action, annotations
 * through json_to_buf.  m gets where the part and the text are.
 */
static void
item_write(struct buf *d, const struct item *it, struct item_marks *m)
{
	PUT_LIT(d, "{\"id\":");
	put_cstr(d, it->id);
	switch (it->type) {
	case ITEM_REASONING:
		PUT_LIT(d, ",\"type\":\"reasoning\",\"summary\":[");
		if (it->done) {
			m->part_off = d->len;
			PUT_LIT(d, "{\"type\":\"summary_text\",\"text\":");
			put_text(d, it, m);
			PUT_LIT(d, "}");
			m->part_len = d->len - m->part_off;
		}
		PUT_LIT(d, "]}");
		break;
	case ITEM_MESSAGE:
		PUT_LIT(d, ",\"type\":\"message\"");
		put_status(d, it);
		PUT_LIT(d, ",\"role\":\"assistant\",\"content\":[");
		if (it->done) {
			m->part_off = d->len;
			PUT_LIT(d, "{\"type\":\"output_text\",\"annotations\":");
			if (it->annotations != NULL)
				json_to_buf(it->annotations, d);
			else
				PUT_LIT(d, "[]");
			PUT_LIT(d, ",\"logprobs\":[],\"text\":");
			put_text(d, it, m);
			PUT_LIT(d, "}");
			m->part_len = d->len - m->part_off;
		}
		PUT_LIT(d, "]}");
		break;
	case ITEM_FUNCTION_CALL:
	case ITEM_CUSTOM_CALL:
		if (it->type == ITEM_FUNCTION_CALL)
			PUT_LIT(d, ",\"type\":\"function_call\"");
		else
			PUT_LIT(d, ",\"type\":\"custom_tool_call\"");
		put_status(d, it);
		PUT_LIT(d, ",\"call_id\":");
		put_cstr(d, it->call_id);
		PUT_LIT(d, ",\"name\":");
		put_cstr(d, it->name);
		if (it->type == ITEM_FUNCTION_CALL)
			PUT_LIT(d, ",\"arguments\":");
		else
			PUT_LIT(d, ",\"input\":");
		if (it->done)
			put_text(d, it, m);
		else
			PUT_LIT(d, "\"\"");
		PUT_LIT(d, "}");
		break;
	case ITEM_LOCAL_SHELL_CALL:
		PUT_LIT(d, ",\"type\":\"local_shell_call\"");
		put_status(d, it);
		PUT_LIT(d, ",\"call_id\":");
		put_cstr(d, it->call_id);
		PUT_LIT(d, ",\"action\":");
		if (it->action != NULL)
			json_to_buf(it->action, d);
		else	/* exec_action(NULL): the call is not finished */
			PUT_LIT(d, "{\"type\":\"exec\",\"command\":[],"
			    "\"env\":{}}");
		PUT_LIT(d, "}");
		break;
	case ITEM_WEB_SEARCH_CALL:
		PUT_LIT(d, ",\"type\":\"web_search_call\"");
		put_status(d, it);
		PUT_LIT(d, ",\"action\":");
		json_to_buf(it->action, d);
		PUT_LIT(d, "}");
		break;
	}
}

/*
 * A done item's JSON, written once: a done item does not change, and
 * output_item.done, the content or summary part's done event, the text's
 * done event and the final response object all repeat it.
 */
static void
item_done(struct item *it)
{
	struct item_marks	m = { 0, 0, 0, 0 };

	if (it->json.len > 0)
		return;
	item_write(&it->json, it, &m);
	it->marks = m;
	it->text_del = it->text.len > 0 &&
	    memchr(it->text.ptr, 0x7f, it->text.len) != NULL;
}

/* The item: a copy once it is done. */
static void
item_put(struct buf *d, struct item *it)
{
	struct item_marks	m;

	if (!it->done) {
		item_write(d, it, &m);
		return;
	}
	item_done(it);
	buf_add(d, it->json.ptr, it->json.len);
}

/* ,"part": and a done item's content or summary part. */
static void
part_put(struct buf *d, struct item *it)
{
	item_done(it);
	PUT_LIT(d, ",\"part\":");
	buf_add(d, it->json.ptr + it->marks.part_off, it->marks.part_len);
}

/* A done item's text as put_str writes it: the item's copy, but a DEL. */
static void
text_put(struct buf *d, struct item *it)
{
	item_done(it);
	if (it->text_del)
		buf_json_str(d, it->text.ptr, it->text.len);
	else
		buf_add(d, it->json.ptr + it->marks.str_off, it->marks.str_len);
}

/* An item event: output_item.added or .done. */
static void
ev_item(struct openai_responses_emit *e, enum ev_type type, size_t index)
{
	struct buf	*d = ev_begin(e, type);

	PUT_LIT(d, ",\"output_index\":");
	put_num(d, (long)index);
	PUT_LIT(d, ",\"item\":");
	item_put(d, &e->items[index]);
	ev_end(d);
}

/*
 * Events about one part of an item: item_id, output_index (the item's
 * head, written once by item_new), then more.
 */
static struct buf *
ev_part_begin(struct openai_responses_emit *e, enum ev_type type,
    size_t index)
{
	struct buf	*d = ev_begin(e, type);

	buf_add(d, e->items[index].head, e->items[index].head_len);
	return d;
}

/*
 * A delta: extra (the fields before it, with the key "delta") is a
 * literal, so the event's every piece but the number and the delta
 * itself is a copy of known length.
 */
#define EV_DELTA(e, type, index, extra, s, len) \
	ev_delta((e), (type), (index), (extra), sizeof(extra) - 1, (s), (len))

static void
ev_delta(struct openai_responses_emit *e, enum ev_type type, size_t index,
    const char *extra, size_t extra_len, const char *s, size_t len)
{
	struct buf	*d = &e->events;

	buf_reserve(d, ev_heads[type].len + BUF_DECIMAL_LEN +
	    e->items[index].head_len + extra_len + len + 8);
	d = ev_part_begin(e, type, index);
	buf_add(d, extra, extra_len);
	buf_json_str(d, s, len);
	ev_end(d);
}

static size_t
item_new(struct openai_responses_emit *e, enum item_type type)
{
	struct item	*it;
	struct buf	 head;
	static const char *const prefix[] = { "rs", "msg", "fc", "ctc",
	    "lsh", "ws" };

	e->items = xreallocarray(e->items, e->n_items + 1, sizeof(*e->items));
	it = &e->items[e->n_items];
	memset(it, 0, sizeof(*it));
	it->type = type;
	new_id(it->id, sizeof(it->id), prefix[type]);
	head = (struct buf)BUF_INIT;
	PUT_LIT(&head, ",\"item_id\":\"");
	buf_puts(&head, it->id);
	PUT_LIT(&head, "\",\"output_index\":");
	put_num(&head, (long)e->n_items);
	if (head.len >= sizeof(it->head))
		abort();	/* an id has 36 bytes, an index 20 */
	memcpy(it->head, head.ptr, head.len);
	it->head_len = head.len;
	buf_free(&head);
	return e->n_items++;
}

static void
close_reasoning(struct openai_responses_emit *e)
{
	struct buf	*d;
	struct item	*it;
	size_t		 i;

	if (e->open_reasoning < 0)
		return;
	i = (size_t)e->open_reasoning;
	it = &e->items[i];
	e->open_reasoning = -1;
	it->done = 1;
	if (!e->stream)
		return;
	d = ev_part_begin(e, EV_SUMMARY_DONE, i);
	PUT_LIT(d, ",\"summary_index\":0,\"text\":");
	text_put(d, it);
	ev_end(d);
	d = ev_part_begin(e, EV_SUMMARY_PART_DONE, i);
	PUT_LIT(d, ",\"summary_index\":0");
	part_put(d, it);
	ev_end(d);
	ev_item(e, EV_ITEM_DONE, i);
}

/*
 * url_citation annotations for a finished message: each place its text
 * names the URL of a result the gateway's searches found, with character
 * offsets as OpenAI counts them.
 */
static json_object *
citations(const struct openai_responses_emit *e, const struct item *msg)
{
	json_object	*arr, *sources, *src;
	const char	*url, *title;
	size_t		 i, j, n;

	arr = json_object_new_array();
	for (i = 0; i < e->n_items && msg->text.ptr != NULL; i++) {
		if (e->items[i].type != ITEM_WEB_SEARCH_CALL ||
		    json_get_arr(e->items[i].action, "sources", &sources) != 1)
			continue;
		n = json_object_array_length(sources);
		for (j = 0; j < n; j++) {
			src = json_object_array_get_idx(sources, j);
			if (json_get_str(src, "url", &url) != 1)
				continue;
			if (json_get_str(src, "title", &title) != 1)
				title = NULL;
			openai_url_citations(arr, msg->text.ptr, msg->text.len,
			    0, url, title, OPENAI_CITATION_FLAT);
		}
	}
	return arr;
}

static void
close_text(struct openai_responses_emit *e)
{
	struct buf	*d;
	struct item	*it;
	size_t		 i, k, n;

	if (e->open_text < 0)
		return;
	i = (size_t)e->open_text;
	it = &e->items[i];
	e->open_text = -1;
	it->done = 1;
	json_object_put(it->annotations);
	it->annotations = citations(e, it);
	if (!e->stream)
		return;
	n = json_object_array_length(it->annotations);
	for (k = 0; k < n; k++) {
		d = ev_part_begin(e, EV_ANNOTATION_ADDED, i);
		PUT_LIT(d, ",\"content_index\":0,\"annotation_index\":");
		put_num(d, (long)k);
		PUT_LIT(d, ",\"annotation\":");
		json_to_buf(json_object_array_get_idx(it->annotations, k), d);
		ev_end(d);
	}
	d = ev_part_begin(e, EV_TEXT_DONE, i);
	PUT_LIT(d, ",\"content_index\":0,\"logprobs\":[],\"text\":");
	text_put(d, it);
	ev_end(d);
	d = ev_part_begin(e, EV_PART_DONE, i);
	PUT_LIT(d, ",\"content_index\":0");
	part_put(d, it);
	ev_end(d);
	ev_item(e, EV_ITEM_DONE, i);
}

static const char *const echo_keys[ECHO__MAX] = {
	"instructions", "max_output_tokens", "parallel_tool_calls", "store",
	"tool_choice", "tools", "metadata",
};

static const char *const echo_defaults[ECHO__MAX] = {
	"null", "null", "true", "false", "\"auto\"", "[]", "{}",
};

/*
 * json_to_buf's bytes (but DEL, which buf_json_str escapes) at about twice
 * the speed: json-c formats every value through its own printbuf.
 */
static void
echo_json(struct buf *d, json_object *v)
{
	struct json_object_iter	 it;
	size_t			 i, n;
	int			 first = 1;

	switch (json_object_get_type(v)) {
	case json_type_string:
		buf_json_str(d, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_object:
		buf_putc(d, '{');
		json_object_object_foreachC(v, it) {
			if (!first)
				buf_putc(d, ',');
			first = 0;
			buf_json_str(d, it.key, strlen(it.key));
			buf_putc(d, ':');
			echo_json(d, it.val);
		}
		buf_putc(d, '}');
		break;
	case json_type_array:
		buf_putc(d, '[');
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_putc(d, ',');
			echo_json(d, json_object_array_get_idx(v, i));
		}
		buf_putc(d, ']');
		break;
	case json_type_boolean:
		buf_puts(d, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_null:
	case json_type_int:
	case json_type_double:
		/* json-c's own spelling (a double keeps its source text). */
		json_to_buf(v, d);
		break;
	}
}

/*
 * The echoed request fields' JSON once per answer: the instructions and
 * tool schemas run to tens of KB and three events repeat them.  A known
 * field the parser kept as text is the request's own (borrowed: req
 * outlives the emitter), any other field is serialised into e->echo:
 * each known one alone, then the others as ,"key":value in order.
 */
static void
echo_cache(struct openai_responses_emit *e)
{
	struct json_object_iter	 it;
	json_object		*text;
	size_t			 i, off[ECHO__MAX], start;

	if (e->echo_cached)
		return;
	e->echo_cached = 1;
	for (i = 0; i < ECHO__MAX; i++)
		off[i] = (size_t)-1;
	if (e->req == NULL || e->req->echo == NULL)
		return;
	json_object_object_foreachC(e->req->echo, it) {
		for (i = 0; i < ECHO__MAX; i++)
			if (strcmp(it.key, echo_keys[i]) == 0)
				break;
		if (i == ECHO__MAX)
			continue;
		if (e->req->echo_text != NULL && json_object_object_get_ex(
		    e->req->echo_text, it.key, &text)) {
			e->echo_at[i] = json_object_get_string(text);
			e->echo_len[i] =
			    (size_t)json_object_get_string_len(text);
			off[i] = (size_t)-1;
			continue;
		}
		off[i] = e->echo.len;
		echo_json(&e->echo, it.val);
		e->echo_len[i] = e->echo.len - off[i];
	}
	start = e->echo.len;
	json_object_object_foreachC(e->req->echo, it) {
		for (i = 0; i < ECHO__MAX; i++)
			if (strcmp(it.key, echo_keys[i]) == 0)
				break;
		if (i < ECHO__MAX)
			continue;
		buf_putc(&e->echo, ',');
		buf_json_str(&e->echo, it.key, strlen(it.key));
		buf_putc(&e->echo, ':');
		if (e->req->echo_text != NULL && json_object_object_get_ex(
		    e->req->echo_text, it.key, &text))
			buf_append(&e->echo, json_object_get_string(text),
			    (size_t)json_object_get_string_len(text));
		else
			echo_json(&e->echo, it.val);
	}
	/* e->echo is whole: its pieces' places hold from here on. */
	for (i = 0; i < ECHO__MAX; i++)
		if (off[i] != (size_t)-1)
			e->echo_at[i] = e->echo.ptr + off[i];
	e->echo_extra_len = e->echo.len - start;
	if (e->echo_extra_len > 0)
		e->echo_extra = e->echo.ptr + start;
}

/*
 * A slice of the cached echo into the event being written.  While
 * streaming, a long one goes to the client straight from the cache: what
 * the pending events hold so far first, then the slice, so the three
 * events that repeat tens of KB of instructions and tools copy them once
 * each instead of twice.  A failed write shows at the next push.
 */
#define ECHO_DIRECT_MIN	4096

static void
echo_slice(struct openai_responses_emit *e, struct buf *d, const char *s,
    size_t len)
{
	if (!e->stream || !e->head_sent || len < ECHO_DIRECT_MIN) {
		buf_add(d, s, len);
		return;
	}
	(void)out_buf(e->out, d);
	buf_reset(d);
	(void)out_write(e->out, s, len);
}

static void
echo_put(struct openai_responses_emit *e, struct buf *d, enum echo_field f)
{
	PUT_LIT(d, ",\"");
	buf_puts(d, echo_keys[f]);
	PUT_LIT(d, "\":");
	if (e->echo_at[f] == NULL)
		buf_puts(d, echo_defaults[f]);
	else
		echo_slice(e, d, e->echo_at[f], e->echo_len[f]);
}

/*
 * The response object, written by hand around the cached echo; the
 * output items and usage only when finished, the error when given.
 */
static void
response_put(struct openai_responses_emit *e, struct buf *d,
    const char *status, const struct sink_usage *usage, enum sink_stop stop,
    json_object *error)
{
	size_t		 i;

	echo_cache(e);
	PUT_LIT(d, "{\"id\":\"");
	buf_puts(d, e->id);
	PUT_LIT(d, "\",\"object\":\"response\",\"created_at\":");
	put_num(d, e->created_at);
	PUT_LIT(d, ",\"status\":\"");
	buf_puts(d, status);
	PUT_LIT(d, "\",\"background\":false,\"error\":");
	json_to_buf(error, d);
	PUT_LIT(d, ",\"incomplete_details\":");
	if (strcmp(status, "incomplete") == 0 &&
	    stop == SINK_STOP_CONTEXT_WINDOW)
		PUT_LIT(d, "{\"reason\":\"max_input_tokens\"}");
	else if (strcmp(status, "incomplete") == 0)
		PUT_LIT(d, "{\"reason\":\"max_output_tokens\"}");
	else
		PUT_LIT(d, "null");
	echo_put(e, d, ECHO_INSTRUCTIONS);
	echo_put(e, d, ECHO_MAX_OUTPUT_TOKENS);
	PUT_LIT(d, ",\"model\":");
	buf_json_str(d, e->model, strlen(e->model));
	PUT_LIT(d, ",\"output\":[");
	if (usage != NULL || error != NULL)
		for (i = 0; i < e->n_items; i++) {
			if (i > 0)
				buf_putc(d, ',');
			item_put(d, &e->items[i]);
		}
	buf_putc(d, ']');
	echo_put(e, d, ECHO_PARALLEL_TOOL_CALLS);
	buf_puts(d, ",\"previous_response_id\":null");
	echo_put(e, d, ECHO_STORE);
	echo_put(e, d, ECHO_TOOL_CHOICE);
	echo_put(e, d, ECHO_TOOLS);
	echo_put(e, d, ECHO_METADATA);
	if (e->echo_extra_len > 0)
		echo_slice(e, d, e->echo_extra, e->echo_extra_len);
	PUT_LIT(d, ",\"usage\":");
	if (usage != NULL) {
		PUT_LIT(d, "{\"input_tokens\":");
		put_num(d, usage->input_tokens);
		PUT_LIT(d, ",\"input_tokens_details\":{\"cached_tokens\":");
		put_num(d, usage->cache_read_tokens);
		PUT_LIT(d, "},\"output_tokens\":");
		put_num(d, usage->output_tokens);
		PUT_LIT(d, ",\"output_tokens_details\":{\"reasoning_tokens\":0},"
		    "\"total_tokens\":");
		put_num(d, usage->input_tokens + usage->output_tokens);
		PUT_LIT(d, "}}");
	} else
		PUT_LIT(d, "null}");
}

static void
ev_response(struct openai_responses_emit *e, enum ev_type type,
    const char *status, const struct sink_usage *usage, enum sink_stop stop,
    json_object *error)
{
	struct buf	*d = ev_begin(e, type);

	PUT_LIT(d, ",\"response\":");
	response_put(e, d, status, usage, stop, error);
	ev_end(d);
	json_object_put(error);
}

static int
r_start(void *arg, const struct sink_start *st)
{
	struct openai_responses_emit	*e = arg;

	free(e->model);
	e->model = xstrdup(st->model);
	e->created_at = (long)time(NULL);
	out_context(e->out, st->context);
	if (!e->stream)
		return 0;
	if (emit_stream_head(e->out, e->sink, &e->head_sent,
	    "text/event-stream") != 0)
		return -1;
	ev_response(e, EV_CREATED, "in_progress", NULL, SINK_STOP_END_TURN,
	    NULL);
	ev_response(e, EV_IN_PROGRESS, "in_progress", NULL, SINK_STOP_END_TURN,
	    NULL);
	return push(e);
}

static int
r_text(void *arg, const char *s, size_t len)
{
	struct openai_responses_emit	*e = arg;
	struct buf		*d;
	size_t			 i;

	if (e->open_text < 0) {
		close_reasoning(e);
		i = item_new(e, ITEM_MESSAGE);
		e->open_text = (int)i;
		if (e->stream) {
			ev_item(e, EV_ITEM_ADDED, i);
			/* The part as it starts: no text, no annotations. */
			d = ev_part_begin(e, EV_PART_ADDED, i);
			PUT_LIT(d, ",\"content_index\":0,\"part\":{\"type\":"
			    "\"output_text\",\"annotations\":[],\"logprobs\":[],"
			    "\"text\":\"\"}");
			ev_end(d);
		}
	}
	i = (size_t)e->open_text;
	buf_append(&e->items[i].text, s, len);
	if (!e->stream)
		return 0;
	EV_DELTA(e, EV_TEXT_DELTA, i,
	    ",\"content_index\":0,\"logprobs\":[],\"delta\":", s, len);
	return push(e);
}

static int
r_thinking(void *arg, const char *s, size_t len)
{
	struct openai_responses_emit	*e = arg;
	struct buf		*d;
	size_t			 i;

	if (e->open_reasoning < 0) {
		close_text(e);
		i = item_new(e, ITEM_REASONING);
		e->open_reasoning = (int)i;
		if (e->stream) {
			ev_item(e, EV_ITEM_ADDED, i);
			d = ev_part_begin(e, EV_SUMMARY_PART_ADDED, i);
			PUT_LIT(d, ",\"summary_index\":0,\"part\":{\"type\":"
			    "\"summary_text\",\"text\":\"\"}");
			ev_end(d);
		}
	}
	i = (size_t)e->open_reasoning;
	buf_append(&e->items[i].text, s, len);
	if (!e->stream)
		return 0;
	EV_DELTA(e, EV_SUMMARY_DELTA, i, ",\"summary_index\":0,\"delta\":", s,
	    len);
	return push(e);
}

static int
r_thinking_end(void *arg, const char *signature)
{
	struct openai_responses_emit	*e = arg;

	(void)signature;	/* Responses has no place for it */
	close_reasoning(e);
	return push(e);
}

/* Which item a call of the tool named name goes back as. */
static enum item_type
call_type(const struct openai_responses_emit *e, const char *name)
{
	if (e->req == NULL)
		return ITEM_FUNCTION_CALL;
	if (e->req->local_shell &&
	    strcmp(name, OPENAI_RESPONSES_LOCAL_SHELL) == 0)
		return ITEM_LOCAL_SHELL_CALL;
	if (openai_responses_is_custom(e->req, name))
		return ITEM_CUSTOM_CALL;
	return ITEM_FUNCTION_CALL;
}

static int
r_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	struct openai_responses_emit	*e = arg;
	struct item		*it;
	size_t			 i;

	close_text(e);
	close_reasoning(e);
	i = item_new(e, call_type(e, name));
	it = &e->items[i];
	it->call_id = xstrdup(id);
	it->name = xstrdup(name);
	emit_calls_set(&e->tool_items, index, (long)i);
	if (!e->stream)
		return 0;
	ev_item(e, EV_ITEM_ADDED, i);
	return push(e);
}

static int
r_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	struct openai_responses_emit	*e = arg;
	long			 at;
	size_t			 i;

	if ((at = emit_calls_get(&e->tool_items, index)) < 0)
		return 0;
	i = (size_t)at;
	/*
	 * A custom call's text and a local_shell call's action are known
	 * only once the JSON is whole.
	 */
	if (!e->stream || e->items[i].type != ITEM_FUNCTION_CALL)
		return 0;
	EV_DELTA(e, EV_ARGUMENTS_DELTA, i, ",\"delta\":", s, len);
	return push(e);
}

/* A custom call's input: the string in {"input": ...}, else the JSON. */
static void
custom_input(struct buf *out, const char *input)
{
	json_object	*o = NULL;
	const char	*s;

	if (json_parse(input, strlen(input), JSON_MAX_DEPTH, &o, NULL) ==
	    KF_OK && json_get_str(o, OPENAI_RESPONSES_CUSTOM_INPUT, &s) == 1)
		buf_append(out, s, strlen(s));
	else
		buf_puts(out, input);
	json_object_put(o);
}

/* A local_shell call's action from the function's JSON arguments. */
static void
local_shell_action(struct item *it, const char *input)
{
	json_object	*o = NULL;

	if (json_parse(input, strlen(input), JSON_MAX_DEPTH, &o, NULL) !=
	    KF_OK || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_object_put(it->action);
	it->action = exec_action(o);
	json_object_put(o);
}

static int
r_tool_end(void *arg, size_t index, const char *input)
{
	struct openai_responses_emit	*e = arg;
	struct item		*it;
	struct buf		*d;
	long			 at;
	size_t			 i;

	if ((at = emit_calls_get(&e->tool_items, index)) < 0)
		return 0;
	i = (size_t)at;
	emit_calls_close(&e->tool_items, index);
	it = &e->items[i];
	buf_reset(&it->text);
	if (it->type == ITEM_CUSTOM_CALL)
		custom_input(&it->text, input);
	else if (it->type == ITEM_LOCAL_SHELL_CALL)
		local_shell_action(it, input);
	else
		buf_puts(&it->text, input);
	it->done = 1;
	if (!e->stream)
		return 0;
	if (it->type == ITEM_LOCAL_SHELL_CALL)
		;	/* the whole action is in output_item.done */
	else if (it->type == ITEM_CUSTOM_CALL) {
		/* The whole input in one delta. */
		d = ev_part_begin(e, EV_CUSTOM_DELTA, i);
		PUT_LIT(d, ",\"delta\":");
		text_put(d, it);
		ev_end(d);
		d = ev_part_begin(e, EV_CUSTOM_DONE, i);
		PUT_LIT(d, ",\"input\":");
		text_put(d, it);
		ev_end(d);
	} else {
		d = ev_part_begin(e, EV_ARGUMENTS_DONE, i);
		PUT_LIT(d, ",\"arguments\":");
		text_put(d, it);
		ev_end(d);
	}
	ev_item(e, EV_ITEM_DONE, i);
	return push(e);
}

/* Closes whatever is still open (a tool call cut short keeps its text). */
static void
close_all(struct openai_responses_emit *e)
{
	size_t	i, j;
	long	at;

	close_text(e);
	close_reasoning(e);
	for (i = 0; i < e->tool_items.n; i++) {
		if ((at = emit_calls_get(&e->tool_items, i)) < 0)
			continue;
		j = (size_t)at;
		emit_calls_close(&e->tool_items, i);
		e->items[j].done = 1;
		if (e->stream)
			ev_item(e, EV_ITEM_DONE, j);
	}
}

static int
r_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct openai_responses_emit	*e = arg;
	struct buf		 body = BUF_INIT;
	const char		*status = "completed";
	int			 rc;

	if (e->finished)
		return 0;
	e->finished = 1;
	close_all(e);
	if (stop == SINK_STOP_MAX_TOKENS || stop == SINK_STOP_CONTEXT_WINDOW)
		status = "incomplete";
	if (e->stream) {
		ev_response(e, strcmp(status, "completed") == 0 ?
		    EV_COMPLETED : EV_INCOMPLETE, status, usage, stop, NULL);
		return push(e);
	}
	response_put(e, &body, status, usage, stop, NULL);
	rc = emit_json_answer(e->out, e->sink, &body);
	buf_free(&body);
	return rc;
}

static int
r_error(void *arg, enum kf_err er, const char *message)
{
	struct openai_responses_emit	*e = arg;
	json_object		*err;
	const char		*type, *code;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (!e->stream || !e->out->committed)
		return openai_error_response(e->out, er, message, NULL, 0);
	if (message == NULL)
		message = kf_strerror(er);
	close_all(e);
	(void)openai_error_status(er, &type, &code);
	err = json_object_new_object();
	json_object_object_add(err, "code", json_str(code != NULL ? code :
	    type));
	json_object_object_add(err, "message", json_str(message));
	ev_response(e, EV_FAILED, "failed", NULL, SINK_STOP_END_TURN, err);
	return push(e);
}

static int
r_ping(void *arg)
{
	struct openai_responses_emit	*e = arg;

	/* An SSE comment: every client's parser skips it. */
	if (!e->stream || !e->head_sent || e->finished)
		return 0;
	return emit_puts_flush(e->out, e->sink, ": keep-alive\n\n");
}

/*
 * A search the gateway ran: a completed web_search_call item whose
 * action names the query and the sources (with their titles and
 * snippets, which a later request's input brings back to
 * parse-openai-responses.c).
 */
static int
r_web_search(void *arg, const char *id, const struct websearch *ws)
{
	struct openai_responses_emit	*e = arg;
	static const enum ev_type steps[] = {
		EV_SEARCH_IN_PROGRESS,
		EV_SEARCH_SEARCHING,
		EV_SEARCH_COMPLETED,
	};
	json_object		*action, *sources, *src;
	struct item		*it;
	size_t			 i, k;

	(void)id;
	close_text(e);
	close_reasoning(e);
	i = item_new(e, ITEM_WEB_SEARCH_CALL);
	it = &e->items[i];
	action = json_object_new_object();
	json_object_object_add(action, "type", json_str("search"));
	json_object_object_add(action, "query", json_str(ws->query != NULL ?
	    ws->query : ""));
	sources = json_object_new_array();
	for (k = 0; k < ws->n_results; k++) {
		src = json_object_new_object();
		json_object_object_add(src, "type", json_str("url"));
		json_object_object_add(src, "url",
		    json_str(ws->results[k].url));
		json_object_object_add(src, "title",
		    json_str(ws->results[k].title));
		if (ws->results[k].snippet != NULL)
			json_object_object_add(src, "snippet",
			    json_str(ws->results[k].snippet));
		json_object_array_add(sources, src);
	}
	json_object_object_add(action, "sources", sources);
	it->action = action;
	if (!e->stream) {
		it->done = 1;
		return 0;
	}
	ev_item(e, EV_ITEM_ADDED, i);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++)
		ev_end(ev_part_begin(e, steps[k], i));
	it->done = 1;
	ev_item(e, EV_ITEM_DONE, i);
	return push(e);
}

static void
items_free(struct openai_responses_emit *e)
{
	size_t	i;

	for (i = 0; i < e->n_items; i++) {
		buf_free(&e->items[i].text);
		buf_free(&e->items[i].json);
		json_object_put(e->items[i].action);
		json_object_put(e->items[i].annotations);
		free(e->items[i].call_id);
		free(e->items[i].name);
	}
	free(e->items);
	e->items = NULL;
	e->n_items = 0;
	emit_calls_free(&e->tool_items);
}

static void
r_reset(void *arg)
{
	struct openai_responses_emit	*e = arg;

	items_free(e);
	buf_reset(&e->events);
	e->open_text = e->open_reasoning = -1;
	e->seq = 0;
	e->finished = 0;
}

static const struct sink_ops openai_responses_ops = {
	r_start, r_text, r_thinking, r_thinking_end, r_tool_start,
	r_tool_input, r_tool_end, r_finish, r_error, r_ping, r_reset,
	r_web_search,
};

static struct openai_responses_emit *
emit_new(int stream, struct out *out, struct sink *sink,
    const struct openai_responses_req *req)
{
	struct openai_responses_emit	*e;

	e = xcalloc(1, sizeof(*e));
	e->stream = stream;
	e->out = out;
	e->sink = sink;
	e->req = req;
	e->open_text = e->open_reasoning = -1;
	new_id(e->id, sizeof(e->id), "resp");
	emit_sink_init(sink, &openai_responses_ops, e, stream);
	return e;
}

struct openai_responses_emit *
openai_responses_emit_stream(struct out *out, struct sink *sink,
    const struct openai_responses_req *req)
{
	return emit_new(1, out, sink, req);
}

struct openai_responses_emit *
openai_responses_emit_json(struct out *out, struct sink *sink,
    const struct openai_responses_req *req)
{
	return emit_new(0, out, sink, req);
}

void
openai_responses_emit_free(struct openai_responses_emit *e)
{
	if (e == NULL)
		return;
	items_free(e);
	buf_free(&e->events);
	buf_free(&e->echo);
	free(e->model);
	free(e);
}
