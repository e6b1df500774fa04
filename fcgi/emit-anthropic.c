/* emit-anthropic.c: the Anthropic SSE stream, JSON message and /cc/v1 buffered sinks. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "anthropic.h"
#include "apierr.h"
#include "buf.h"
#include "emit-common.h"
#include "json.h"
#include "out.h"
#include "sink.h"
#include "websearch.h"
#include "xmalloc.h"

/*
 * The event sequence is doc/protocol.md §6.1 (kiro.rs stream.rs): one
 * message_start, content blocks opened and closed in index order (text,
 * thinking, tool_use), one message_delta with the stop reason and usage,
 * one message_stop.  Events are written by hand rather than through json-c
 * objects: a long answer is thousands of small deltas.
 */

enum emit_mode {
	EMIT_STREAM,
	EMIT_JSON,
	EMIT_BUFFERED,
};

enum block_type {
	BLOCK_TEXT,
	BLOCK_THINKING,
	BLOCK_TOOL_USE,
	BLOCK_JSON,		/* a whole block, as JSON in text */
};

/* A content block, kept whole in JSON mode. */
struct block {
	enum block_type	 type;
	struct buf	 text;		/* text, thinking, or tool input */
	char		*id;
	char		*name;
	char		*signature;
	json_object	*citations;	/* TEXT: NULL when none */
};

struct anthropic_emit {
	enum emit_mode	 mode;
	struct out	*out;
	struct sink	*sink;
	struct buf	 events;	/* pending SSE bytes */
	size_t		 start_len;	/* BUFFERED: message_start's bytes */
	int		 head_sent;
	int		 thinking;	/* thinking may come: no eager text block */
	int		 next_index;
	int		 text_index;	/* -1 when no text block is open */
	int		 thinking_index;
	struct emit_calls tool_blocks;	/* relay tool index -> block index */
	char		*message_id;
	char		*model;
	long		 input_tokens;
	int		 finished;
	struct block	*blocks;	/* JSON mode */
	size_t		 n_blocks;
	/*
	 * The results of the gateway's searches (sink web_search) as the
	 * text after them may cite them: {url, title, cited_text}; NULL
	 * before any.  SSE modes keep the open text block's text for it.
	 */
	json_object	*sources;
	struct buf	 open_text;
};

/* Sources kept per answer, and the part of a snippet a citation quotes. */
#define MAX_SOURCES	50
#define CITED_TEXT_MAX	150

static void
mark_committed(struct anthropic_emit *e)
{
	emit_mark_committed(e->out, e->sink);
}

static int
send_head(struct anthropic_emit *e)
{
	return emit_stream_head(e->out, e->sink, &e->head_sent,
	    "text/event-stream");
}

/* Writes (STREAM) or keeps (BUFFERED) what is in e->events. */
static int
push(struct anthropic_emit *e)
{
	if (e->mode != EMIT_STREAM)
		return 0;
	return emit_push(e->out, e->sink, &e->events);
}

static void
event(struct anthropic_emit *e, const char *name, const struct buf *data)
{
	sse_event(&e->events, name, data->ptr, data->len);
}

/*
 * The block events are written in place, framed as sse_event() frames
 * one: no buffer, copy or printf per delta (#13).  ev_begin writes up to
 * the data's first byte and returns the pending events to write it to.
 */
static struct buf *
ev_begin(struct anthropic_emit *e, const char *name)
{
	buf_puts(&e->events, "event: ");
	buf_puts(&e->events, name);
	buf_puts(&e->events, "\ndata: ");
	return &e->events;
}

static void
ev_end(struct anthropic_emit *e)
{
	buf_puts(&e->events, "\n\n");
}

/* {"type":"<type>","index":N, of a block event. */
static struct buf *
block_event(struct anthropic_emit *e, const char *type, int index)
{
	struct buf	*d = ev_begin(e, type);

	buf_puts(d, "{\"type\":\"");
	buf_puts(d, type);
	buf_puts(d, "\",\"index\":");
	buf_put_int(d, index);
	return d;
}

static void
block_start(struct anthropic_emit *e, int index, const char *block_json)
{
	struct buf	*d = block_event(e, "content_block_start", index);

	buf_puts(d, ",\"content_block\":");
	buf_puts(d, block_json);
	buf_putc(d, '}');
	ev_end(e);
}

static void
block_stop(struct anthropic_emit *e, int index)
{
	struct buf	*d = block_event(e, "content_block_stop", index);

	buf_putc(d, '}');
	ev_end(e);
}

/*
 * A content_block_delta event is its framing and type up to the index,
 * the index, the delta's type and field up to the value (one literal per
 * kind of delta, DELTA), the value, and the closing bytes: four appends
 * per delta of a long answer (#13).
 */
#define DELTA_HEAD	"event: content_block_delta\ndata: {\"type\":" \
	"\"content_block_delta\",\"index\":"
#define DELTA(type, field)	",\"delta\":{\"type\":\"" type "\",\"" \
	field "\":", sizeof(",\"delta\":{\"type\":\"" type "\",\"" field \
	"\":") - 1

static void
block_delta(struct anthropic_emit *e, int index, const char *delta,
    size_t delta_len, const char *s, size_t len)
{
	buf_append(&e->events, DELTA_HEAD, sizeof(DELTA_HEAD) - 1);
	buf_put_int(&e->events, index);
	buf_append(&e->events, delta, delta_len);
	buf_json_str(&e->events, s, len);
	buf_append(&e->events, "}}\n\n", 4);
}

static struct block *
json_block(struct anthropic_emit *e, enum block_type type)
{
	struct block	*b;

	e->blocks = xreallocarray(e->blocks, e->n_blocks + 1,
	    sizeof(*e->blocks));
	b = &e->blocks[e->n_blocks++];
	memset(b, 0, sizeof(*b));
	b->type = type;
	return b;
}

/*
 * web_search_result_location citations for a text block that names the
 * URL of a result the gateway's searches found (once per URL); NULL when
 * it names none.
 */
static json_object *
text_citations(const struct anthropic_emit *e, const char *text, size_t len)
{
	json_object	*arr = NULL, *src, *c;
	const char	*url, *title = "", *cited = "";
	size_t		 i, n;

	n = e->sources != NULL ? json_object_array_length(e->sources) : 0;
	for (i = 0; i < n && text != NULL; i++) {
		src = json_object_array_get_idx(e->sources, i);
		if (json_get_str(src, "url", &url) != 1 ||
		    memmem(text, len, url, strlen(url)) == NULL)
			continue;
		(void)json_get_str(src, "title", &title);
		(void)json_get_str(src, "cited_text", &cited);
		c = json_object_new_object();
		json_object_object_add(c, "type",
		    json_str("web_search_result_location"));
		json_object_object_add(c, "url", json_str(url));
		json_object_object_add(c, "title", json_str(title));
		json_object_object_add(c, "encrypted_index", json_str(""));
		json_object_object_add(c, "cited_text", json_str(cited));
		if (arr == NULL)
			arr = json_object_new_array();
		json_object_array_add(arr, c);
	}
	return arr;
}

static void
close_text(struct anthropic_emit *e)
{
	struct buf	 d = BUF_INIT;
	json_object	*cites;
	struct block	*b;
	size_t		 i, n;

	if (e->text_index < 0)
		return;
	if (e->mode == EMIT_JSON && e->sources != NULL) {
		b = &e->blocks[e->text_index];
		json_object_put(b->citations);
		b->citations = text_citations(e, b->text.ptr, b->text.len);
	} else if (e->sources != NULL) {
		cites = text_citations(e, e->open_text.ptr, e->open_text.len);
		n = cites != NULL ? json_object_array_length(cites) : 0;
		for (i = 0; i < n; i++) {
			buf_printf(&d, "{\"type\":\"content_block_delta\","
			    "\"index\":%d,\"delta\":{\"type\":"
			    "\"citations_delta\",\"citation\":", e->text_index);
			json_to_buf(json_object_array_get_idx(cites, i), &d);
			buf_puts(&d, "}}");
			event(e, "content_block_delta", &d);
			buf_reset(&d);
		}
		buf_free(&d);
		json_object_put(cites);
	}
	buf_reset(&e->open_text);
	if (e->mode != EMIT_JSON)
		block_stop(e, e->text_index);
	e->text_index = -1;
}

static void
close_thinking(struct anthropic_emit *e, const char *signature)
{
	if (e->thinking_index < 0)
		return;
	if (e->mode != EMIT_JSON) {
		/* kiro.rs ends thinking with an empty delta, then stops. */
		block_delta(e, e->thinking_index,
		    DELTA("thinking_delta", "thinking"), "", 0);
		if (signature != NULL)
			block_delta(e, e->thinking_index,
			    DELTA("signature_delta", "signature"), signature,
			    strlen(signature));
		block_stop(e, e->thinking_index);
	} else if (signature != NULL) {
		struct block	*b = &e->blocks[e->thinking_index];

		free(b->signature);
		b->signature = xstrdup(signature);
	}
	e->thinking_index = -1;
}

static int
open_text(struct anthropic_emit *e)
{
	if (e->text_index >= 0)
		return e->text_index;
	close_thinking(e, NULL);
	if (e->mode == EMIT_JSON) {
		json_block(e, BLOCK_TEXT);
		e->text_index = (int)e->n_blocks - 1;
	} else {
		e->text_index = e->next_index++;
		block_start(e, e->text_index, "{\"type\":\"text\",\"text\":\"\"}");
	}
	return e->text_index;
}

/*
 * Anthropic counts input_tokens without the cached parts, which have
 * their own fields; struct sink_usage counts the whole prompt (sink.h).
 */
static long
uncached_input(const struct sink_usage *u)
{
	long	rest;

	rest = u->input_tokens - u->cache_read_tokens - u->cache_write_tokens;
	return rest > 0 ? rest : 0;
}

/* The usage object of message_start and message_delta. */
static void
usage_put(struct buf *d, const struct sink_usage *u, long output_tokens)
{
	buf_puts(d, "{\"input_tokens\":");
	buf_put_int(d, uncached_input(u));
	buf_puts(d, ",\"output_tokens\":");
	buf_put_int(d, output_tokens);
	buf_puts(d, ",\"cache_creation_input_tokens\":");
	buf_put_int(d, u->cache_write_tokens);
	buf_puts(d, ",\"cache_read_input_tokens\":");
	buf_put_int(d, u->cache_read_tokens);
	if (u->web_search_requests > 0) {
		buf_puts(d, ",\"server_tool_use\":{\"web_search_requests\":");
		buf_put_int(d, u->web_search_requests);
		buf_putc(d, '}');
	}
	buf_putc(d, '}');
}

/*
 * usage is the estimate at start, the real figures in buffered mode.
 * Written in place, framed as sse_event() frames it (as ev_begin).
 */
static void
message_start(struct anthropic_emit *e, struct buf *out,
    const struct sink_usage *usage)
{
	buf_puts(out, "event: message_start\ndata: ");
	buf_puts(out, "{\"type\":\"message_start\",\"message\":{\"id\":");
	buf_json_str(out, e->message_id, strlen(e->message_id));
	buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\","
	    "\"content\":[],\"model\":");
	buf_json_str(out, e->model, strlen(e->model));
	buf_puts(out, ",\"stop_reason\":null,\"stop_sequence\":null,"
	    "\"usage\":");
	usage_put(out, usage, 1);
	buf_puts(out, "}}\n\n");
}

static int
e_start(void *arg, const struct sink_start *st)
{
	struct anthropic_emit	*e = arg;
	struct sink_usage	 estimate;

	free(e->message_id);
	free(e->model);
	e->message_id = xstrdup(st->message_id);
	e->model = xstrdup(st->model);
	e->input_tokens = st->input_tokens;
	e->thinking = st->thinking;
	out_context(e->out, st->context);
	if (e->mode == EMIT_JSON)
		return 0;
	if (e->mode == EMIT_STREAM && send_head(e) != 0)
		return -1;
	memset(&estimate, 0, sizeof(estimate));
	estimate.input_tokens = st->input_tokens;
	/* Room for message_start and the first block: one allocation. */
	buf_reserve(&e->events, 1024);
	message_start(e, &e->events, &estimate);
	e->start_len = e->events.len;
	if (!e->thinking)
		open_text(e);
	return push(e);
}

static int
e_text(void *arg, const char *s, size_t len)
{
	struct anthropic_emit	*e = arg;
	int			 index;

	index = open_text(e);
	if (e->mode == EMIT_JSON) {
		buf_append(&e->blocks[index].text, s, len);
		return 0;
	}
	if (e->sources != NULL)
		buf_append(&e->open_text, s, len);
	block_delta(e, index, DELTA("text_delta", "text"), s, len);
	return push(e);
}

static int
e_thinking(void *arg, const char *s, size_t len)
{
	struct anthropic_emit	*e = arg;

	if (e->thinking_index < 0) {
		close_text(e);
		if (e->mode == EMIT_JSON) {
			json_block(e, BLOCK_THINKING);
			e->thinking_index = (int)e->n_blocks - 1;
		} else {
			e->thinking_index = e->next_index++;
			block_start(e, e->thinking_index, "{\"type\":"
			    "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
		}
	}
	if (e->mode == EMIT_JSON) {
		buf_append(&e->blocks[e->thinking_index].text, s, len);
		return 0;
	}
	block_delta(e, e->thinking_index, DELTA("thinking_delta", "thinking"),
	    s, len);
	return push(e);
}

static int
e_thinking_end(void *arg, const char *signature)
{
	struct anthropic_emit	*e = arg;

	close_thinking(e, signature);
	return push(e);
}

static int
e_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	struct anthropic_emit	*e = arg;
	struct block		*b;
	struct buf		 blk = BUF_INIT;
	int			 block_index;

	close_text(e);
	close_thinking(e, NULL);
	if (e->mode == EMIT_JSON) {
		b = json_block(e, BLOCK_TOOL_USE);
		b->id = xstrdup(id);
		b->name = xstrdup(name);
		block_index = (int)e->n_blocks - 1;
	} else {
		block_index = e->next_index++;
		buf_puts(&blk, "{\"type\":\"tool_use\",\"id\":");
		buf_json_str(&blk, id, strlen(id));
		buf_puts(&blk, ",\"name\":");
		buf_json_str(&blk, name, strlen(name));
		buf_puts(&blk, ",\"input\":{}}");
		block_start(e, block_index, blk.ptr);
		buf_free(&blk);
	}
	emit_calls_set(&e->tool_blocks, index, block_index);
	return push(e);
}

static int
e_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	struct anthropic_emit	*e = arg;
	long			 b;

	if ((b = emit_calls_get(&e->tool_blocks, index)) < 0)
		return 0;
	if (e->mode == EMIT_JSON)
		return 0;	/* the whole input comes at tool_end */
	block_delta(e, (int)b, DELTA("input_json_delta", "partial_json"), s,
	    len);
	return push(e);
}

static int
e_tool_end(void *arg, size_t index, const char *input)
{
	struct anthropic_emit	*e = arg;
	long			 b;

	if ((b = emit_calls_get(&e->tool_blocks, index)) < 0)
		return 0;
	if (e->mode == EMIT_JSON) {
		buf_puts(&e->blocks[b].text, input);
		return 0;
	}
	block_stop(e, (int)b);
	emit_calls_close(&e->tool_blocks, index);
	return push(e);
}

/* Appends a JSON string member ,"key":"s" (null when s is NULL). */
static void
put_member(struct buf *d, const char *key, const char *s)
{
	buf_printf(d, ",\"%s\":", key);
	if (s == NULL)
		buf_puts(d, "null");
	else
		buf_json_str(d, s, strlen(s));
}

/*
 * The gateway's search as Anthropic's server tool blocks: server_tool_use
 * with the query, then web_search_tool_result with each result (the
 * snippet in encrypted_content, where a later request's history brings it
 * back to us), or the error.
 */
static void
search_blocks(const char *id, const struct websearch *ws, struct buf *use,
    struct buf *result)
{
	const struct websearch_result	*r;
	size_t				 i;

	buf_puts(use, "{\"type\":\"server_tool_use\"");
	put_member(use, "id", id);
	buf_puts(use, ",\"name\":\"web_search\",\"input\":{\"query\":");
	buf_json_str(use, ws->query != NULL ? ws->query : "",
	    ws->query != NULL ? strlen(ws->query) : 0);
	buf_puts(use, "}}");
	buf_puts(result, "{\"type\":\"web_search_tool_result\"");
	put_member(result, "tool_use_id", id);
	if (ws->error != NULL) {
		buf_puts(result, ",\"content\":{\"type\":"
		    "\"web_search_tool_result_error\"");
		put_member(result, "error_code", ws->error);
		buf_puts(result, "}}");
		return;
	}
	buf_puts(result, ",\"content\":[");
	for (i = 0; i < ws->n_results; i++) {
		r = &ws->results[i];
		buf_puts(result, i > 0 ? ",{" : "{");
		buf_puts(result, "\"type\":\"web_search_result\"");
		put_member(result, "title", r->title);
		put_member(result, "url", r->url);
		put_member(result, "encrypted_content",
		    r->snippet != NULL ? r->snippet : "");
		put_member(result, "page_age", r->page_age);
		buf_putc(result, '}');
	}
	buf_puts(result, "]}");
}

/* 1 when url is among the sources already. */
static int
have_source(const struct anthropic_emit *e, const char *url)
{
	const char	*have;
	size_t		 i, n = json_object_array_length(e->sources);

	for (i = 0; i < n; i++)
		if (json_get_str(json_object_array_get_idx(e->sources, i),
		    "url", &have) == 1 && strcmp(have, url) == 0)
			return 1;
	return 0;
}

/* The results the answer's text may cite from now on, once per URL. */
static void
keep_sources(struct anthropic_emit *e, const struct websearch *ws)
{
	const struct websearch_result	*r;
	json_object			*src;
	size_t				 i, n;

	if (e->sources == NULL)
		e->sources = json_object_new_array();
	for (i = 0; i < ws->n_results &&
	    json_object_array_length(e->sources) < MAX_SOURCES; i++) {
		r = &ws->results[i];
		if (have_source(e, r->url))
			continue;
		src = json_object_new_object();
		json_object_object_add(src, "url", json_str(r->url));
		json_object_object_add(src, "title", json_str(r->title));
		n = r->snippet != NULL ? websearch_utf8_cut(r->snippet,
		    strlen(r->snippet), CITED_TEXT_MAX) : 0;
		json_object_object_add(src, "cited_text",
		    json_strn(r->snippet != NULL ? r->snippet : "", n));
		json_object_array_add(e->sources, src);
	}
}

static int
e_web_search(void *arg, const char *id, const struct websearch *ws)
{
	struct anthropic_emit	*e = arg;
	struct buf		 use = BUF_INIT, result = BUF_INIT;
	struct block		*b;

	close_text(e);
	close_thinking(e, NULL);
	search_blocks(id, ws, &use, &result);
	keep_sources(e, ws);
	if (e->mode == EMIT_JSON) {
		b = json_block(e, BLOCK_JSON);
		buf_append(&b->text, use.ptr, use.len);
		b = json_block(e, BLOCK_JSON);
		buf_append(&b->text, result.ptr, result.len);
	} else {
		block_start(e, e->next_index, use.ptr);
		block_stop(e, e->next_index++);
		block_start(e, e->next_index, result.ptr);
		block_stop(e, e->next_index++);
	}
	buf_free(&use);
	buf_free(&result);
	return e->mode == EMIT_JSON ? 0 : push(e);
}

/* A parsed JSON text written back out; fallback when it does not parse. */
static void
json_text_put(struct buf *body, const struct buf *text, const char *fallback)
{
	json_object	*v = NULL;

	if (text->len == 0 || json_parse(text->ptr, text->len, JSON_MAX_DEPTH,
	    &v, NULL) != KF_OK) {
		buf_puts(body, fallback);
		return;
	}
	json_to_buf(v, body);
	json_object_put(v);
}

static void
str_put(struct buf *body, const char *s)
{
	json_put_str(body, s, strlen(s));
}

/*
 * One content block of the JSON message, after a comma unless it is the
 * first: 1, or 0 when it has none (a whole block that does not parse).
 */
static int
block_put(struct buf *body, const struct block *b, int first)
{
	json_object	*v = NULL;

	if (b->type == BLOCK_JSON && json_parse(b->text.ptr, b->text.len,
	    JSON_MAX_DEPTH, &v, NULL) != KF_OK)
		return 0;
	if (!first)
		buf_putc(body, ',');
	switch (b->type) {
	case BLOCK_TEXT:
		buf_puts(body, "{\"type\":\"text\",\"text\":");
		json_put_str(body, b->text.ptr != NULL ? b->text.ptr : "",
		    b->text.len);
		if (b->citations != NULL) {
			buf_puts(body, ",\"citations\":");
			json_to_buf(b->citations, body);
		}
		break;
	case BLOCK_THINKING:
		buf_puts(body, "{\"type\":\"thinking\",\"thinking\":");
		json_put_str(body, b->text.ptr != NULL ? b->text.ptr : "",
		    b->text.len);
		buf_puts(body, ",\"signature\":");
		str_put(body, b->signature != NULL ? b->signature : "");
		break;
	case BLOCK_TOOL_USE:
		buf_puts(body, "{\"type\":\"tool_use\",\"id\":");
		str_put(body, b->id);
		buf_puts(body, ",\"name\":");
		str_put(body, b->name);
		buf_puts(body, ",\"input\":");
		json_text_put(body, &b->text, "{}");
		break;
	case BLOCK_JSON:
		json_to_buf(v, body);
		json_object_put(v);
		return 1;
	}
	buf_putc(body, '}');
	return 1;
}

/*
 * The whole message, written straight into its buffer rather than built
 * as a json-c tree and then serialised (#13): the same bytes, since the
 * strings go through json_put_str and the tool inputs, citations and
 * whole blocks (JSON already) through json_to_buf.
 */
static int
write_json_message(struct anthropic_emit *e, enum sink_stop stop,
    const struct sink_usage *usage)
{
	struct buf	 body = BUF_INIT;
	size_t		 i, n = 0;
	int		 rc;

	buf_reserve(&body, 512);
	buf_puts(&body, "{\"id\":");
	str_put(&body, e->message_id);
	buf_puts(&body, ",\"type\":\"message\",\"role\":\"assistant\","
	    "\"content\":[");
	for (i = 0; i < e->n_blocks; i++)
		n += block_put(&body, &e->blocks[i], n == 0);
	buf_puts(&body, "],\"model\":");
	str_put(&body, e->model);
	buf_puts(&body, ",\"stop_reason\":");
	str_put(&body, sink_stop_name(stop));
	buf_puts(&body, ",\"stop_sequence\":");
	if (usage->stop_sequence != NULL)
		str_put(&body, usage->stop_sequence);
	else
		buf_puts(&body, "null");
	buf_puts(&body, ",\"usage\":");
	usage_put(&body, usage, usage->output_tokens);
	buf_putc(&body, '}');
	rc = emit_json_answer(e->out, e->sink, &body);
	buf_free(&body);
	return rc;
}

static int
e_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct anthropic_emit	*e = arg;
	struct buf		*d, start = BUF_INIT;
	size_t			 i;
	long			 b;
	int			 rc;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (e->mode == EMIT_JSON) {
		close_text(e);	/* its citations */
		return write_json_message(e, stop, usage);
	}
	close_text(e);
	close_thinking(e, NULL);
	for (i = 0; i < e->tool_blocks.n; i++)
		if ((b = emit_calls_get(&e->tool_blocks, i)) >= 0) {
			block_stop(e, (int)b);
			emit_calls_close(&e->tool_blocks, i);
		}
	d = ev_begin(e, "message_delta");
	buf_puts(d, "{\"type\":\"message_delta\",\"delta\":"
	    "{\"stop_reason\":\"");
	buf_puts(d, sink_stop_name(stop));
	buf_puts(d, "\",\"stop_sequence\":");
	if (usage->stop_sequence != NULL)
		buf_json_str(d, usage->stop_sequence,
		    strlen(usage->stop_sequence));
	else
		buf_puts(d, "null");
	buf_puts(d, "},\"usage\":");
	usage_put(d, usage, usage->output_tokens);
	buf_putc(d, '}');
	ev_end(e);
	buf_puts(&e->events, "event: message_stop\n"
	    "data: {\"type\":\"message_stop\"}\n\n");
	if (e->mode == EMIT_STREAM)
		return push(e);

	/* BUFFERED: message_start now carries the real input tokens. */
	message_start(e, &start, usage);
	if ((rc = send_head(e)) == 0 && (rc = out_buf(e->out, &start)) == 0 &&
	    (rc = out_write(e->out, e->events.ptr + e->start_len,
	    e->events.len - e->start_len)) == 0)
		rc = out_flush(e->out);
	mark_committed(e);
	buf_free(&start);
	buf_reset(&e->events);
	return rc;
}

static int
e_error(void *arg, enum kf_err er, const char *message)
{
	struct anthropic_emit	*e = arg;
	struct buf		 d = BUF_INIT;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (e->mode == EMIT_JSON || !e->out->committed)
		return anthropic_error_response(e->out, er, message, 0);
	/* What was held back is an unfinished answer: drop it. */
	if (e->mode == EMIT_BUFFERED)
		buf_reset(&e->events);
	anthropic_error_json(&d, er, message);
	event(e, "error", &d);
	buf_free(&d);
	return emit_push(e->out, e->sink, &e->events);
}

static int
e_ping(void *arg)
{
	struct anthropic_emit	*e = arg;
	int			 rc;

	if (e->mode == EMIT_JSON || e->finished)
		return 0;
	if ((rc = send_head(e)) != 0)
		return rc;
	/* Exactly kiro.rs's bytes, with the space. */
	return emit_puts_flush(e->out, e->sink,
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n");
}

static void
blocks_free(struct anthropic_emit *e)
{
	size_t	i;

	for (i = 0; i < e->n_blocks; i++) {
		buf_free(&e->blocks[i].text);
		free(e->blocks[i].id);
		free(e->blocks[i].name);
		free(e->blocks[i].signature);
		json_object_put(e->blocks[i].citations);
	}
	free(e->blocks);
	e->blocks = NULL;
	e->n_blocks = 0;
	json_object_put(e->sources);
	e->sources = NULL;
	buf_free(&e->open_text);
}

static void
e_reset(void *arg)
{
	struct anthropic_emit	*e = arg;

	blocks_free(e);
	buf_reset(&e->events);
	emit_calls_free(&e->tool_blocks);
	e->next_index = 0;
	e->text_index = e->thinking_index = -1;
	e->start_len = 0;
	e->finished = 0;
}

static const struct sink_ops anthropic_ops = {
	e_start, e_text, e_thinking, e_thinking_end, e_tool_start,
	e_tool_input, e_tool_end, e_finish, e_error, e_ping, e_reset,
	e_web_search,
};

static struct anthropic_emit *
emit_new(enum emit_mode mode, struct out *out, struct sink *sink)
{
	struct anthropic_emit	*e;

	e = xcalloc(1, sizeof(*e));
	e->mode = mode;
	e->out = out;
	e->sink = sink;
	e->text_index = e->thinking_index = -1;
	emit_sink_init(sink, &anthropic_ops, e, mode == EMIT_STREAM);
	sink->ping_before_start = mode == EMIT_BUFFERED;
	return e;
}

struct anthropic_emit *
anthropic_emit_stream(struct out *out, struct sink *sink)
{
	return emit_new(EMIT_STREAM, out, sink);
}

struct anthropic_emit *
anthropic_emit_json(struct out *out, struct sink *sink)
{
	return emit_new(EMIT_JSON, out, sink);
}

struct anthropic_emit *
anthropic_emit_buffered(struct out *out, struct sink *sink)
{
	return emit_new(EMIT_BUFFERED, out, sink);
}

void
anthropic_emit_free(struct anthropic_emit *e)
{
	if (e == NULL)
		return;
	blocks_free(e);
	buf_free(&e->events);
	emit_calls_free(&e->tool_blocks);
	free(e->message_id);
	free(e->model);
	free(e);
}

int
anthropic_error_status(enum kf_err er, const char **type)
{
	const struct api_error	*e = api_error(API_ANTHROPIC, er);

	if (type != NULL)
		*type = e->type;
	return e->status;
}

void
anthropic_error_json(struct buf *b, enum kf_err er, const char *message)
{
	const char	*type;

	(void)anthropic_error_status(er, &type);
	if (message == NULL)
		message = kf_strerror(er);
	buf_printf(b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\","
	    "\"message\":", type);
	buf_json_str(b, message, strlen(message));
	buf_puts(b, "}}");
}

int
anthropic_error_response(struct out *out, enum kf_err er,
    const char *message, long retry_after)
{
	struct buf	body = BUF_INIT;
	int		rc;

	anthropic_error_json(&body, er, message);
	rc = emit_json_response(out, anthropic_error_status(er, NULL), &body,
	    retry_after);
	buf_free(&body);
	return rc;
}
