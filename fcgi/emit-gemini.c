/* emit-gemini.c: the Gemini answer as JSON, SSE chunks or a streamed JSON array. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "apierr.h"
#include "buf.h"
#include "gemini.h"
#include "emit-common.h"
#include "json.h"
#include "out.h"
#include "sink.h"
#include "websearch.h"
#include "tokens.h"
#include "xmalloc.h"

/*
 * Every stream form carries GenerateContentResponse chunks: one per text
 * or thought piece and one per complete function call (Gemini sends calls
 * whole, never as argument fragments), then a last chunk with no parts,
 * the finishReason and the full usageMetadata.  ?alt=sse frames each
 * chunk as "data: ...\r\n\r\n"; without it the chunks are the elements of
 * one JSON array written as they come.  Non-streamed, the parts are merged
 * (adjacent text into one part) into one response at finish.
 */

enum part_kind {
	PART_TEXT,
	PART_THOUGHT,
	PART_CALL,
};

struct part {
	enum part_kind	 kind;
	struct buf	 text;		/* text, thought, or call input */
	char		*id;
	char		*name;
	char		*signature;
};

struct gemini_emit {
	enum gemini_emit_mode	 mode;
	struct out		*out;
	struct sink		*sink;
	int			 include_thoughts;
	int			 head_sent;
	int			 finished;
	size_t			 chunks;	/* stream chunks written */
	char			*response_id;
	char			*model;
	long			 input_tokens;
	long			 thought_tokens;
	struct buf		 tail;		/* see chunk_end() */
	struct buf		 chunk;		/* the stream chunk being written */
	struct part		*parts;		/* JSON mode, and open calls */
	size_t			 n_parts;
	struct emit_calls	 calls;		/* tool index -> part */
	/* The gateway's searches: groundingMetadata's two lists, inside. */
	struct buf		 search_queries;
	struct buf		 search_chunks;
	/*
	 * For groundingSupports: each chunk's URI (by chunk index), the
	 * answer's text from the first search on, and the bytes of text
	 * before it (Gemini's segment offsets count bytes of the text).
	 */
	char			**search_uris;
	size_t			 n_search_uris;
	int			 searched;
	struct buf		 cite_text;
	size_t			 text_bytes;
	size_t			 cite_base;
};

/* groundingSupports one answer may carry (a cap on work and size). */
#define MAX_SUPPORTS	100

static const char *
finish_reason(enum sink_stop stop)
{
	switch (stop) {
	case SINK_STOP_MAX_TOKENS:
	case SINK_STOP_CONTEXT_WINDOW:
		return "MAX_TOKENS";
	case SINK_STOP_END_TURN:
	case SINK_STOP_TOOL_USE:
	case SINK_STOP_STOP_SEQUENCE:
	case SINK_STOP__MAX:
		break;
	}
	return "STOP";
}

static void
mark_committed(struct gemini_emit *e)
{
	emit_mark_committed(e->out, e->sink);
}

static int
send_head(struct gemini_emit *e)
{
	return emit_stream_head(e->out, e->sink, &e->head_sent,
	    e->mode == GEMINI_EMIT_SSE ? "text/event-stream" :
	    "application/json");
}

/* A GenerateContentResponse up to its parts; chunk_end() closes it. */
#define CHUNK_HEAD	"{\"candidates\":[{\"content\":{\"parts\":["
static const char	chunk_head[] = CHUNK_HEAD;
static const char	sse_chunk_head[] = "data: " CHUNK_HEAD;

/* Opens one stream chunk in the stream's framing. */
static void
chunk_begin(struct gemini_emit *e, struct buf *b)
{
	e->chunks++;
	if (e->mode == GEMINI_EMIT_SSE) {
		buf_append(b, sse_chunk_head, sizeof(sse_chunk_head) - 1);
		return;
	}
	buf_puts(b, e->chunks == 1 ? "[" : ",\r\n");
	buf_append(b, chunk_head, sizeof(chunk_head) - 1);
}

struct support {
	size_t	start;
	size_t	chunk;
};

static int
support_cmp(const void *a, const void *b)
{
	const struct support	*x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/*
 * groundingSupports: each place the answer names a chunk's URI is a
 * segment (byte offsets over the whole text, the URI as its text) that
 * cites that chunk, in text order.
 */
static void
supports_put(struct gemini_emit *e, struct buf *b)
{
	struct support	 sup[MAX_SUPPORTS];
	const char	*text = e->cite_text.ptr, *at, *uri;
	size_t		 n = 0, i, off, len = e->cite_text.len, ulen;

	for (i = 0; i < e->n_search_uris && text != NULL; i++) {
		uri = e->search_uris[i];
		if ((ulen = strlen(uri)) == 0)
			continue;
		for (off = 0; n < MAX_SUPPORTS && off < len && (at = memmem(
		    text + off, len - off, uri, ulen)) != NULL;
		    off = (size_t)(at - text) + ulen) {
			sup[n].start = (size_t)(at - text);
			sup[n++].chunk = i;
		}
	}
	qsort(sup, n, sizeof(sup[0]), support_cmp);
	buf_puts(b, ",\"groundingSupports\":[");
	for (i = 0; i < n; i++) {
		/* Two searches that found the same page: one segment. */
		if (i > 0 && sup[i].start == sup[i - 1].start &&
		    strcmp(e->search_uris[sup[i].chunk],
		    e->search_uris[sup[i - 1].chunk]) == 0) {
			buf_printf(b, ",%zu", sup[i].chunk);
			continue;
		}
		if (i > 0)
			buf_puts(b, "]},");
		uri = e->search_uris[sup[i].chunk];
		ulen = strlen(uri);
		buf_printf(b, "{\"segment\":{\"startIndex\":%zu,"
		    "\"endIndex\":%zu,\"text\":", e->cite_base + sup[i].start,
		    e->cite_base + sup[i].start + ulen);
		buf_json_str(b, uri, ulen);
		buf_printf(b, "},\"groundingChunkIndices\":[%zu", sup[i].chunk);
	}
	buf_puts(b, n > 0 ? "]}]" : "]");
}

/*
 * The rest of a response after its parts: the finishReason and the full
 * usage when given, else the prompt count alone.
 */
static void
tail_put(struct gemini_emit *e, struct buf *b, const char *finish,
    const struct sink_usage *u)
{
	long	out, thoughts;

	buf_puts(b, "],\"role\":\"model\"}");
	if (finish != NULL) {
		buf_puts(b, ",\"finishReason\":");
		buf_json_str(b, finish, strlen(finish));
	}
	if (finish != NULL && e->search_queries.len > 0) {
		buf_puts(b, ",\"groundingMetadata\":{\"webSearchQueries\":[");
		buf_append(b, e->search_queries.ptr, e->search_queries.len);
		buf_puts(b, "],\"groundingChunks\":[");
		buf_append(b, e->search_chunks.ptr, e->search_chunks.len);
		buf_putc(b, ']');
		supports_put(e, b);
		buf_putc(b, '}');
	}
	buf_puts(b, ",\"index\":0}],\"usageMetadata\":");
	if (u != NULL) {
		out = u->output_tokens;
		thoughts = e->thought_tokens < out ? e->thought_tokens : out;
		buf_printf(b, "{\"promptTokenCount\":%ld,"
		    "\"candidatesTokenCount\":%ld", u->input_tokens,
		    out - thoughts);
		if (thoughts > 0)
			buf_printf(b, ",\"thoughtsTokenCount\":%ld", thoughts);
		/* The part of the prompt Kiro read from its prompt cache. */
		buf_printf(b, ",\"cachedContentTokenCount\":%ld",
		    u->cache_read_tokens);
		buf_printf(b, ",\"totalTokenCount\":%ld}",
		    u->input_tokens + out);
	} else
		buf_printf(b, "{\"promptTokenCount\":%ld,"
		    "\"totalTokenCount\":%ld}", e->input_tokens,
		    e->input_tokens);
	buf_puts(b, ",\"modelVersion\":");
	buf_json_str(b, e->model, strlen(e->model));
	buf_puts(b, ",\"responseId\":");
	buf_json_str(b, e->response_id, strlen(e->response_id));
	buf_putc(b, '}');
}

/*
 * Closes a chunk opened by chunk_begin(), writes it and flushes.  Every
 * chunk but the last ends the same way: that tail is built once.
 */
static int
chunk_end(struct gemini_emit *e, struct buf *b, const char *finish,
    const struct sink_usage *u)
{
	int	rc;

	/* Every chunk but the last ends alike: made once, framing too. */
	if (finish == NULL && u == NULL) {
		if (e->tail.len == 0) {
			tail_put(e, &e->tail, NULL, NULL);
			if (e->mode == GEMINI_EMIT_SSE)
				buf_puts(&e->tail, "\r\n\r\n");
		}
		buf_append(b, e->tail.ptr, e->tail.len);
	} else {
		tail_put(e, b, finish, u);
		if (e->mode == GEMINI_EMIT_SSE)
			buf_puts(b, "\r\n\r\n");
	}
	if ((rc = send_head(e)) == 0)
		rc = emit_push(e->out, e->sink, b);
	mark_committed(e);
	buf_reset(b);	/* e->chunk keeps its allocation for the next */
	return rc;
}

/* A text or thought part; signature NULL: none. */
static void
text_put(struct buf *b, enum part_kind kind, const char *s, size_t len,
    const char *signature)
{
	buf_append(b, "{\"text\":", sizeof("{\"text\":") - 1);
	buf_json_str(b, s, len);
	if (kind == PART_THOUGHT)
		buf_puts(b, ",\"thought\":true");
	if (signature != NULL) {
		buf_puts(b, ",\"thoughtSignature\":");
		buf_json_str(b, signature, strlen(signature));
	}
	buf_putc(b, '}');
}

static void
part_put(struct buf *b, const struct part *p)
{
	json_object	*args = NULL;

	switch (p->kind) {
	case PART_TEXT:
	case PART_THOUGHT:
		text_put(b, p->kind, p->text.ptr != NULL ? p->text.ptr : "",
		    p->text.len, p->signature);
		break;
	case PART_CALL:
		if (p->text.len == 0 || json_parse(p->text.ptr, p->text.len,
		    JSON_MAX_DEPTH, &args, NULL) != KF_OK ||
		    !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			args = json_object_new_object();
		}
		buf_puts(b, "{\"functionCall\":{\"id\":");
		buf_json_str(b, p->id, strlen(p->id));
		buf_puts(b, ",\"name\":");
		buf_json_str(b, p->name, strlen(p->name));
		buf_puts(b, ",\"args\":");
		json_to_buf(args, b);
		buf_puts(b, "}}");
		json_object_put(args);
		break;
	}
}

/* Streams one part now (a text or thought piece, or a whole call). */
static int
stream_part(struct gemini_emit *e, const struct part *p)
{
	chunk_begin(e, &e->chunk);
	part_put(&e->chunk, p);
	return chunk_end(e, &e->chunk, NULL, NULL);
}

static struct part *
add_part(struct gemini_emit *e, enum part_kind kind)
{
	struct part	*p;

	e->parts = xreallocarray(e->parts, e->n_parts + 1, sizeof(*e->parts));
	p = &e->parts[e->n_parts++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	return p;
}

static void
parts_free(struct gemini_emit *e)
{
	size_t	i;

	for (i = 0; i < e->n_parts; i++) {
		buf_free(&e->parts[i].text);
		free(e->parts[i].id);
		free(e->parts[i].name);
		free(e->parts[i].signature);
	}
	free(e->parts);
	e->parts = NULL;
	e->n_parts = 0;
	emit_calls_free(&e->calls);
}

/* Text or thought: appended to the last part of that kind, or streamed. */
static int
piece(struct gemini_emit *e, enum part_kind kind, const char *s, size_t len)
{
	struct part	*p;

	if (len == 0)
		return 0;
	/* Streamed as it comes, without a copy into a part (#13). */
	if (e->mode != GEMINI_EMIT_JSON) {
		chunk_begin(e, &e->chunk);
		text_put(&e->chunk, kind, s, len, NULL);
		return chunk_end(e, &e->chunk, NULL, NULL);
	}
	p = e->n_parts > 0 ? &e->parts[e->n_parts - 1] : NULL;
	if (p == NULL || p->kind != kind || p->signature != NULL)
		p = add_part(e, kind);
	buf_append(&p->text, s, len);
	return 0;
}

static int
e_start(void *arg, const struct sink_start *st)
{
	struct gemini_emit	*e = arg;

	free(e->response_id);
	free(e->model);
	e->response_id = xstrdup(st->message_id);
	e->model = xstrdup(st->model);
	e->input_tokens = st->input_tokens;
	buf_reset(&e->tail);
	out_context(e->out, st->context);
	if (e->mode == GEMINI_EMIT_JSON)
		return 0;
	return send_head(e) != 0 || out_flush(e->out) != 0 ? -1 : 0;
}

static int
e_text(void *arg, const char *s, size_t len)
{
	struct gemini_emit	*e = arg;

	/* After a search, keep the text: supports point into it. */
	if (e->searched)
		buf_append(&e->cite_text, s, len);
	else
		e->text_bytes += len;
	return piece(e, PART_TEXT, s, len);
}

static int
e_thinking(void *arg, const char *s, size_t len)
{
	struct gemini_emit	*e = arg;

	e->thought_tokens += tokens_count_output(s, len);
	/* The model thinks either way; the client sees it when it asked. */
	if (!e->include_thoughts)
		return 0;
	return piece(e, PART_THOUGHT, s, len);
}

static int
e_thinking_end(void *arg, const char *signature)
{
	struct gemini_emit	*e = arg;
	struct part		*p;

	if (e->mode != GEMINI_EMIT_JSON || !e->include_thoughts ||
	    signature == NULL || e->n_parts == 0)
		return 0;
	p = &e->parts[e->n_parts - 1];
	if (p->kind == PART_THOUGHT && p->signature == NULL)
		p->signature = xstrdup(signature);
	return 0;
}

static int
e_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	struct gemini_emit	*e = arg;
	struct part		*p;

	p = add_part(e, PART_CALL);
	p->id = xstrdup(id);
	p->name = xstrdup(name);
	emit_calls_set(&e->calls, index, (long)e->n_parts - 1);
	return 0;
}

static int
e_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	/* Gemini sends calls whole: the input comes at tool_end. */
	(void)arg;
	(void)index;
	(void)s;
	(void)len;
	return 0;
}

static int
e_tool_end(void *arg, size_t index, const char *input)
{
	struct gemini_emit	*e = arg;
	struct part		*p;
	long			 at;
	int			 rc;

	if ((at = emit_calls_get(&e->calls, index)) < 0)
		return 0;
	p = &e->parts[at];
	buf_reset(&p->text);
	buf_puts(&p->text, input);
	if (e->mode == GEMINI_EMIT_JSON)
		return 0;
	rc = stream_part(e, p);
	emit_calls_close(&e->calls, index);
	return rc;
}

static int
e_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct gemini_emit	*e = arg;
	struct buf		 body = BUF_INIT;
	size_t			 i;
	int			 rc;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (e->mode == GEMINI_EMIT_JSON) {
		buf_append(&body, chunk_head, sizeof(chunk_head) - 1);
		for (i = 0; i < e->n_parts; i++) {
			if (i > 0)
				buf_putc(&body, ',');
			part_put(&body, &e->parts[i]);
		}
		tail_put(e, &body, finish_reason(stop), usage);
		rc = emit_json_answer(e->out, e->sink, &body);
		buf_free(&body);
		return rc;
	}
	chunk_begin(e, &e->chunk);
	rc = chunk_end(e, &e->chunk, finish_reason(stop), usage);
	if (rc == 0 && e->mode == GEMINI_EMIT_ARRAY &&
	    (rc = out_puts(e->out, "]")) == 0)
		rc = out_flush(e->out);
	return rc;
}

static int
e_error(void *arg, enum kf_err er, const char *message)
{
	struct gemini_emit	*e = arg;
	struct buf		 b = BUF_INIT;
	int			 rc;

	if (e->finished)
		return 0;
	e->finished = 1;
	if (e->mode == GEMINI_EMIT_JSON || !e->out->committed)
		return gemini_error_response(e->out, er, message, 0);
	/* Mid-stream, the error is the stream's last element. */
	if (e->mode == GEMINI_EMIT_SSE)
		buf_puts(&b, "data: ");
	else
		buf_puts(&b, e->chunks == 0 ? "[" : ",\r\n");
	gemini_error_json(&b, er, message);
	buf_puts(&b, e->mode == GEMINI_EMIT_SSE ? "\r\n\r\n" : "]");
	rc = emit_push(e->out, e->sink, &b);
	buf_free(&b);
	return rc;
}

/*
 * A search the gateway ran (googleSearch): its query and results go into
 * the candidate's groundingMetadata with the last chunk.
 */
static int
e_web_search(void *arg, const char *id, const struct websearch *ws)
{
	struct gemini_emit	*e = arg;
	const char		*q = ws->query != NULL ? ws->query : "";
	size_t			 i;

	(void)id;
	if (!e->searched) {
		e->searched = 1;
		e->cite_base = e->text_bytes;
	}
	e->search_uris = xreallocarray(e->search_uris, e->n_search_uris +
	    ws->n_results, sizeof(*e->search_uris));
	for (i = 0; i < ws->n_results; i++)
		e->search_uris[e->n_search_uris++] =
		    xstrdup(ws->results[i].url);
	if (e->search_queries.len > 0)
		buf_putc(&e->search_queries, ',');
	buf_json_str(&e->search_queries, q, strlen(q));
	for (i = 0; i < ws->n_results; i++) {
		if (e->search_chunks.len > 0)
			buf_putc(&e->search_chunks, ',');
		buf_puts(&e->search_chunks, "{\"web\":{\"uri\":");
		buf_json_str(&e->search_chunks, ws->results[i].url,
		    strlen(ws->results[i].url));
		buf_puts(&e->search_chunks, ",\"title\":");
		buf_json_str(&e->search_chunks, ws->results[i].title,
		    strlen(ws->results[i].title));
		buf_puts(&e->search_chunks, "}}");
	}
	return 0;
}

static void
search_uris_free(struct gemini_emit *e)
{
	size_t	i;

	for (i = 0; i < e->n_search_uris; i++)
		free(e->search_uris[i]);
	free(e->search_uris);
	e->search_uris = NULL;
	e->n_search_uris = 0;
}

static void
e_reset(void *arg)
{
	struct gemini_emit	*e = arg;

	parts_free(e);
	buf_reset(&e->search_queries);
	buf_reset(&e->search_chunks);
	search_uris_free(e);
	buf_reset(&e->cite_text);
	e->searched = 0;
	e->text_bytes = 0;
	e->cite_base = 0;
	e->thought_tokens = 0;
	e->finished = 0;
}

static const struct sink_ops gemini_ops = {
	e_start, e_text, e_thinking, e_thinking_end, e_tool_start,
	e_tool_input, e_tool_end, e_finish, e_error, NULL, e_reset,
	e_web_search,
};

struct gemini_emit *
gemini_emit_new(enum gemini_emit_mode mode, struct out *out,
    struct sink *sink, const struct gemini_opts *opts)
{
	struct gemini_emit	*e;

	e = xcalloc(1, sizeof(*e));
	e->mode = mode;
	e->out = out;
	e->sink = sink;
	e->include_thoughts = opts != NULL && opts->include_thoughts;
	e->response_id = xstrdup("");
	e->model = xstrdup("");
	emit_sink_init(sink, &gemini_ops, e, mode != GEMINI_EMIT_JSON);
	return e;
}

void
gemini_emit_free(struct gemini_emit *e)
{
	if (e == NULL)
		return;
	parts_free(e);
	buf_free(&e->tail);
	buf_free(&e->chunk);
	buf_free(&e->search_queries);
	buf_free(&e->search_chunks);
	search_uris_free(e);
	buf_free(&e->cite_text);
	free(e->response_id);
	free(e->model);
	free(e);
}

int
gemini_error_status(enum kf_err er, const char **status)
{
	const struct api_error	*e = api_error(API_GEMINI, er);

	if (status != NULL)
		*status = e->type;
	return e->status;
}

void
gemini_error_body(struct buf *b, int code, const char *status,
    const char *message)
{
	buf_printf(b, "{\"error\":{\"code\":%d,\"message\":", code);
	buf_json_str(b, message, strlen(message));
	buf_puts(b, ",\"status\":");
	buf_json_str(b, status, strlen(status));
	buf_puts(b, "}}");
}

void
gemini_error_json(struct buf *b, enum kf_err er, const char *message)
{
	const char	*status;
	int		 code;

	code = gemini_error_status(er, &status);
	gemini_error_body(b, code, status, message != NULL ? message :
	    kf_strerror(er));
}

int
gemini_error_response(struct out *out, enum kf_err er, const char *message,
    long retry_after)
{
	struct buf	body = BUF_INIT;
	int		rc;

	gemini_error_json(&body, er, message);
	rc = emit_json_response(out, gemini_error_status(er, NULL), &body,
	    retry_after);
	buf_free(&body);
	return rc;
}
