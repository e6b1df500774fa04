/* parse-anthropic.c: an Anthropic Messages request into the neutral conversation. */
#include "autoconfig.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anthropic.h"
#include "buf.h"
#include "conv.h"
#include "digest.h"
#include "json.h"
#include "log.h"
#include "models.h"
#include "parse-common.h"
#include "rand.h"
#include "xmalloc.h"

/*
 * The one place that knows the shape of an Anthropic request.  Errors name
 * the offending field by its path, the way the real API does, so a client
 * author can find the mistake.
 */

/*
 * The request's top-level fields, found in one pass over it (json_pick):
 * a dozen hashed lookups, most of them of absent fields, cost more.
 */
enum top {
	TOP_MODEL,
	TOP_MAX_TOKENS,
	TOP_STREAM,
	TOP_SYSTEM,
	TOP_MESSAGES,
	TOP_TOOLS,
	TOP_TOOL_CHOICE,
	TOP_STOP_SEQUENCES,
	TOP_OUTPUT_CONFIG,
	TOP_OUTPUT_FORMAT,
	TOP_METADATA,
	TOP_THINKING,
	TOP__MAX
};

static const char *const	top_names[TOP__MAX] = {
	"model", "max_tokens", "stream", "system", "messages", "tools",
	"tool_choice", "stop_sequences", "output_config", "output_format",
	"metadata", "thinking",
};

struct parse {
	struct conv	*conv;
	char		**cause;
	char		 path[160];	/* the field being read, for messages */
	json_object	*top[TOP__MAX];	/* NULL: absent or null */
};

/* An error; its message starts with the path of the field. */
#define bad(p, ...)	pc_bad((p)->cause, NULL, NULL, __VA_ARGS__)
/* A member of a given JSON type, refused with its path (pc_want). */
#define want(p, ...)	pc_want((p)->cause, NULL, __VA_ARGS__)

/* A required or optional string field; *out borrowed. */
static enum kf_err
want_str(struct parse *p, json_object *obj, const char *key, int required,
    const char **out)
{
	return pc_want_str(p->cause, NULL, obj, p->path, key, PC_TYPE_LABEL |
	    (required ? PC_REQUIRED : 0), out);
}

/* A top-level field of a JSON type, refused by name (pc_want). */
static enum kf_err
want_top(struct parse *p, enum top k, enum json_type type, int flags,
    json_object **out)
{
	return pc_want_val(p->cause, NULL, p->top[k], "", top_names[k], type,
	    flags, out);
}

/* The path of the field being read, for messages. */
#define path_set(p, ...) \
	pc_path_set((p)->path, sizeof((p)->path), __VA_ARGS__)

static enum kf_err
parse_image(struct parse *p, json_object *blk, struct conv_block *b)
{
	json_object	*src;
	const char	*type, *media, *data;
	char		 base[160];
	long long	 decoded;
	enum kf_err	 er;

	snprintf(base, sizeof(base), "%s", p->path);
	if (json_get_obj(blk, "source", &src) != 1)
		return bad(p, "%s.source: must be an object", base);
	path_set(p, "%s.source", base);
	if ((er = want_str(p, src, "type", 1, &type)) != KF_OK)
		return er;
	if (strcmp(type, "base64") != 0)
		return bad(p, "%s.source.type: \"%s\" images are not "
		    "supported; send the image as base64", base, type);
	if ((er = want_str(p, src, "media_type", 1, &media)) != KF_OK ||
	    (er = want_str(p, src, "data", 1, &data)) != KF_OK)
		return er;
	if (pc_image_media(media) == NULL)
		return bad(p, "%s.source.media_type: \"%s\" is not supported "
		    "(use image/jpeg, image/png, image/gif or image/webp)",
		    base, media);
	if ((decoded = base64_decoded_len(data, strlen(data))) < 0)
		return bad(p, "%s.source.data: not valid base64", base);
	if (decoded > ANTHROPIC_MAX_IMAGE_BYTES)
		return bad(p, "%s.source.data: image of %lld bytes is over "
		    "the %ld byte limit", base, decoded,
		    ANTHROPIC_MAX_IMAGE_BYTES);
	b->media_type = xstrdup(media);
	b->data = base64_standard(data, strlen(data));
	return KF_OK;
}

static enum kf_err
parse_text_block(struct parse *p, json_object *blk, struct conv_block *b)
{
	const char	*text;
	enum kf_err	 er;

	if ((er = want_str(p, blk, "text", 1, &text)) != KF_OK)
		return er;
	b->text = xstrdup(text);
	return KF_OK;
}

/* The text blocks of an array ({"type":"text","text":...}) into t. */
static void
text_blocks(struct buf *t, json_object *arr)
{
	const char	*s;
	size_t		 i, n;

	n = json_object_array_length(arr);
	for (i = 0; i < n; i++)
		if (json_get_str(json_object_array_get_idx(arr, i), "text",
		    &s) == 1)
			buf_printf(t, "%s%s", t->len > 0 ? "\n" : "", s);
}

/*
 * A search_result block as the model can read it: its title and source,
 * then its text.
 */
static char *
search_result_text(json_object *blk)
{
	struct buf	 t = BUF_INIT;
	json_object	*content;
	const char	*s;

	buf_puts(&t, "[search result");
	if (json_get_str(blk, "title", &s) == 1)
		buf_printf(&t, ": %s", s);
	if (json_get_str(blk, "source", &s) == 1)
		buf_printf(&t, " (%s)", s);
	buf_puts(&t, "]");
	if (json_get_arr(blk, "content", &content) == 1) {
		struct buf	body = BUF_INIT;

		text_blocks(&body, content);
		if (body.len > 0)
			buf_printf(&t, "\n%s", body.ptr);
		buf_free(&body);
	}
	return buf_detach(&t);
}

/*
 * A document block's text: a text source's data, a content source's text
 * blocks; NULL for what Kiro cannot read (a PDF, a URL, a file id).
 */
static char *
document_text(json_object *blk)
{
	json_object	*src, *content;
	struct buf	 t = BUF_INIT;
	const char	*stype, *s;

	if (json_get_obj(blk, "source", &src) != 1 ||
	    json_get_str(src, "type", &stype) != 1)
		return NULL;
	if (json_get_str(blk, "title", &s) == 1 && *s != '\0')
		buf_printf(&t, "[document: %s]\n", s);
	if (strcmp(stype, "text") == 0 && json_get_str(src, "data", &s) == 1)
		buf_puts(&t, s);
	else if (strcmp(stype, "content") == 0 &&
	    json_get_arr(src, "content", &content) == 1)
		text_blocks(&t, content);
	else if (strcmp(stype, "content") == 0 &&
	    json_get_str(src, "content", &s) == 1)
		buf_puts(&t, s);
	else {
		buf_free(&t);
		return NULL;
	}
	buf_cstr(&t);
	return buf_detach(&t);
}

/* A note for a document Kiro cannot read, naming what it was. */
static void
document_note(struct parse *p, json_object *blk, struct conv_block *b)
{
	json_object	*src;
	const char	*title = NULL, *what = NULL;

	(void)json_get_str(blk, "title", &title);
	if (json_get_obj(blk, "source", &src) == 1 &&
	    json_get_str(src, "media_type", &what) != 1)
		(void)json_get_str(src, "type", &what);
	log_info("anthropic: %s: %s document kept as a note (Kiro reads "
	    "text only)", p->path, what != NULL ? what : "unknown");
	b->text = xasprintf("[document%s%s (%s): not readable here]",
	    title != NULL ? ": " : "", title != NULL ? title : "",
	    what != NULL ? what : "unknown type");
}

/*
 * What a server tool's result block (web_search_tool_result,
 * web_fetch_tool_result, code_execution_tool_result, ...) holds, as text:
 * the search results' titles and URLs, a fetched page's text, a run's
 * output, an error's code.
 */
static void
server_result_text(struct buf *t, json_object *content)
{
	json_object	*v, *doc;
	const char	*s;
	char		*text;
	int64_t		 code;
	size_t		 i, n;

	if (content == NULL)
		return;
	if (json_object_is_type(content, json_type_string)) {
		buf_printf(t, "\n%s", json_object_get_string(content));
		return;
	}
	if (json_object_is_type(content, json_type_array)) {
		n = json_object_array_length(content);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(content, i);
			if (json_get_str(v, "url", &s) == 1) {
				const char	*title = "";

				(void)json_get_str(v, "title", &title);
				buf_printf(t, "\n- %s%s%s", title,
				    *title != '\0' ? " - " : "", s);
				if (json_get_str(v, "page_age", &s) == 1)
					buf_printf(t, " (%s)", s);
				/*
				 * Anthropic's encrypted_content is an opaque
				 * blob; the gateway's own results carry the
				 * snippet there (prose, with spaces).
				 */
				if (json_get_str(v, "encrypted_content", &s) ==
				    1 && strchr(s, ' ') != NULL)
					buf_printf(t, "\n  %s", s);
			} else if (json_get_str(v, "text", &s) == 1)
				buf_printf(t, "\n%s", s);
			else if (json_get_str(v, "tool_name", &s) == 1)
				buf_printf(t, "\n- %s", s);
		}
		return;
	}
	if (!json_object_is_type(content, json_type_object))
		return;
	if (json_get_str(content, "error_code", &s) == 1)
		buf_printf(t, "\n[error: %s]", s);
	if (json_get_str(content, "url", &s) == 1)
		buf_printf(t, "\n%s", s);
	if (json_get_obj(content, "content", &doc) == 1 &&
	    (text = document_text(doc)) != NULL) {
		buf_printf(t, "\n%s", text);
		free(text);
	}
	if (json_get_str(content, "stdout", &s) == 1 && *s != '\0')
		buf_printf(t, "\n%s", s);
	if (json_get_str(content, "stderr", &s) == 1 && *s != '\0')
		buf_printf(t, "\n[stderr]\n%s", s);
	if (json_get_int(content, "return_code", &code) == 1)
		buf_printf(t, "\n[exit code %lld]", (long long)code);
	if (json_get_arr(content, "tool_references", &v) == 1)
		server_result_text(t, v);
}

/*
 * A server tool use (or an MCP tool use) as text: which tool, and its
 * query, URL or code, else its input as JSON.
 */
static void
server_use_text(struct buf *t, json_object *blk, const char *type)
{
	json_object	*input = NULL;
	const char	*name = "", *s;
	char		*args;

	(void)json_get_str(blk, "name", &name);
	if (strcmp(type, "mcp_tool_use") == 0) {
		buf_puts(t, "[MCP tool ");
		if (json_get_str(blk, "server_name", &s) == 1)
			buf_printf(t, "%s.", s);
		buf_puts(t, name);
	} else if (strcmp(name, "web_search") == 0)
		buf_puts(t, "[web search");
	else if (strcmp(name, "web_fetch") == 0)
		buf_puts(t, "[web fetch");
	else
		buf_printf(t, "[server tool %s", name);
	if (!json_object_object_get_ex(blk, "input", &input) || input == NULL)
		buf_putc(t, ']');
	else if (json_get_str(input, "query", &s) == 1)
		buf_printf(t, ": query %s]", s);
	else if (json_get_str(input, "url", &s) == 1)
		buf_printf(t, ": %s]", s);
	else if (json_get_str(input, "code", &s) == 1 ||
	    json_get_str(input, "command", &s) == 1)
		buf_printf(t, "]\n%s", s);
	else {
		args = json_to_str(input);
		buf_printf(t, " %s]", args);
		free(args);
	}
}

/* 1 when s ends with suffix. */
static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/*
 * Server tools ran inside Anthropic's API (web search, web fetch, code
 * execution, MCP connectors): their use and result blocks become notes,
 * keeping the query, URLs, code and output the model can build on.
 * Returns 0 when type is none of them.
 */
static int
server_block_note(json_object *blk, const char *type, struct conv_msg *m)
{
	json_object	*content = NULL;
	struct buf	 t = BUF_INIT;
	const char	*file_id = "";
	size_t		 i, n;
	int		 is_error = 0;

	if (strcmp(type, "server_tool_use") == 0 ||
	    strcmp(type, "mcp_tool_use") == 0)
		server_use_text(&t, blk, type);
	else if (strcmp(type, "container_upload") == 0) {
		(void)json_get_str(blk, "file_id", &file_id);
		buf_printf(&t, "[file %s uploaded to the code container]",
		    file_id);
	} else if (ends_with(type, "_tool_result")) {
		/*
		 * mcp_tool_result, web_search_tool_result,
		 * code_execution_tool_result, ...: "[web search result]".
		 */
		(void)json_get_bool(blk, "is_error", &is_error);
		buf_putc(&t, '[');
		n = strlen(type) - strlen("_tool_result");
		for (i = 0; i < n; i++)
			buf_putc(&t, type[i] == '_' ? ' ' : type[i]);
		buf_puts(&t, is_error ? " error]" : " result]");
		(void)json_object_object_get_ex(blk, "content", &content);
		server_result_text(&t, content);
	} else
		return 0;
	pc_note(m, "%s", buf_cstr(&t));
	buf_free(&t);
	return 1;
}

/* tool_result content: a string, or text and image blocks. */
static enum kf_err
parse_result_content(struct parse *p, json_object *blk, struct conv_block *b)
{
	json_object	*v, *item;
	const char	*type;
	char		 base[160];
	size_t		 i, n, blen;
	enum kf_err	 er;
	struct conv_block *c;

	if (!json_object_object_get_ex(blk, "content", &v) || v == NULL)
		return KF_OK;
	if (json_object_is_type(v, json_type_string)) {
		c = conv_block_add_content(b, CONV_BLOCK_TEXT);
		c->text = xstrdup(json_object_get_string(v));
		return KF_OK;
	}
	if (!json_object_is_type(v, json_type_array))
		return bad(p, "%s.content: must be a string or an array, not "
		    "%s", p->path, json_type_label(v));
	snprintf(base, sizeof(base), "%s", p->path);
	blen = strlen(base);
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		pc_path_index(p->path, sizeof(p->path), blen, ".content", i);
		if (!json_object_is_type(item, json_type_object))
			return bad(p, "%s: must be an object", p->path);
		if ((er = want_str(p, item, "type", 1, &type)) != KF_OK)
			return er;
		if (strcmp(type, "text") == 0) {
			c = conv_block_add_content(b, CONV_BLOCK_TEXT);
			if ((er = parse_text_block(p, item, c)) != KF_OK)
				return er;
		} else if (strcmp(type, "image") == 0) {
			c = conv_block_add_content(b, CONV_BLOCK_IMAGE);
			if ((er = parse_image(p, item, c)) != KF_OK)
				return er;
		} else if (strcmp(type, "search_result") == 0) {
			/* Keep what text there is; Kiro takes text only. */
			c = conv_block_add_content(b, CONV_BLOCK_TEXT);
			c->text = search_result_text(item);
		} else if (strcmp(type, "document") == 0) {
			c = conv_block_add_content(b, CONV_BLOCK_TEXT);
			if ((c->text = document_text(item)) == NULL)
				document_note(p, item, c);
		} else if (strcmp(type, "tool_reference") == 0) {
			const char	*s = "";

			(void)json_get_str(item, "tool_name", &s);
			conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
			    xasprintf("[tool %s]", s);
		} else {
			log_info("anthropic: %s: \"%s\" tool result content "
			    "kept as a note", p->path, type);
			conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
			    xasprintf("[%s content]", type);
		}
	}
	path_set(p, "%s", base);
	return KF_OK;
}

static enum kf_err
parse_block(struct parse *p, json_object *blk, struct conv_msg *m)
{
	struct conv_block	*b;
	json_object		*input;
	const char		*type, *s;
	int			 flag;
	enum kf_err		 er;

	if (!json_object_is_type(blk, json_type_object))
		return bad(p, "%s: must be an object, not %s", p->path,
		    json_type_label(blk));
	if ((er = want_str(p, blk, "type", 1, &type)) != KF_OK)
		return er;
	if (strcmp(type, "text") == 0) {
		b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
		return parse_text_block(p, blk, b);
	}
	if (strcmp(type, "image") == 0) {
		b = conv_msg_add_block(m, CONV_BLOCK_IMAGE);
		return parse_image(p, blk, b);
	}
	if (strcmp(type, "tool_use") == 0) {
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
		if ((er = want_str(p, blk, "id", 1, &s)) != KF_OK)
			return er;
		b->id = xstrdup(s);
		if ((er = want_str(p, blk, "name", 1, &s)) != KF_OK)
			return er;
		b->name = xstrdup(s);
		if (!json_object_object_get_ex(blk, "input", &input) ||
		    input == NULL)
			b->input = json_object_new_object();
		else if (!json_object_is_type(input, json_type_object))
			return bad(p, "%s.input: must be an object, not %s",
			    p->path, json_type_label(input));
		else
			b->input = json_object_get(input);
		return KF_OK;
	}
	if (strcmp(type, "tool_result") == 0) {
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
		if ((er = want_str(p, blk, "tool_use_id", 1, &s)) != KF_OK)
			return er;
		b->id = xstrdup(s);
		if (json_get_bool(blk, "is_error", &flag) == -1)
			return bad(p, "%s.is_error: must be a boolean",
			    p->path);
		b->is_error = json_get_bool(blk, "is_error", &flag) == 1 &&
		    flag;
		return parse_result_content(p, blk, b);
	}
	if (strcmp(type, "thinking") == 0) {
		b = conv_msg_add_block(m, CONV_BLOCK_THINKING);
		if ((er = want_str(p, blk, "thinking", 1, &s)) != KF_OK)
			return er;
		b->text = xstrdup(s);
		if ((er = want_str(p, blk, "signature", 0, &s)) != KF_OK)
			return er;
		b->signature = xstrdup(s);
		return KF_OK;
	}
	/* Encrypted thinking carries nothing Kiro can read. */
	if (strcmp(type, "redacted_thinking") == 0)
		return KF_OK;
	if (server_block_note(blk, type, m))
		return KF_OK;
	if (strcmp(type, "document") == 0) {
		b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
		if ((b->text = document_text(blk)) == NULL)
			document_note(p, blk, b);
		return KF_OK;
	}
	if (strcmp(type, "search_result") == 0) {
		conv_msg_add_block(m, CONV_BLOCK_TEXT)->text =
		    search_result_text(blk);
		return KF_OK;
	}
	/* A block type not known yet: a note, rather than a 400. */
	log_info("anthropic: %s: \"%s\" content blocks are not known here; "
	    "kept as a note", p->path, type);
	pc_note(m, "[%s block]", type);
	return KF_OK;
}

/*
 * Anthropic prompt caching: a block's cache_control ({"type":"ephemeral"},
 * maybe a ttl) marks the prefix up to it.  1 when blk has one, 0 when not;
 * anything but an object (or null) is refused as the real API does.
 */
static enum kf_err
cache_mark(struct parse *p, json_object *blk, int *marked)
{
	json_object	*v;

	if (!json_object_is_type(blk, json_type_object) ||
	    !json_object_object_get_ex(blk, "cache_control", &v) || v == NULL)
		return KF_OK;
	if (!json_object_is_type(v, json_type_object))
		return bad(p, "%s.cache_control: must be an object, not %s",
		    p->path, json_type_label(v));
	*marked = 1;
	return KF_OK;
}

static enum kf_err
parse_messages(struct parse *p)
{
	json_object	*arr, *msg, *content, *blk;
	struct conv_msg	*m;
	struct pc_mark	 mark;
	const char	*role;
	size_t		 i, j, n, nb, mlen;
	enum kf_err	 er;

	if ((er = want_top(p, TOP_MESSAGES, json_type_array, PC_REQUIRED,
	    &arr)) != KF_OK)
		return er;
	if ((n = json_object_array_length(arr)) == 0)
		return bad(p, "messages: at least one message is required");
	for (i = 0; i < n; i++) {
		msg = json_object_array_get_idx(arr, i);
		mlen = pc_path_index(p->path, sizeof(p->path), 0, "messages",
		    i);
		pc_src_mark(p->conv, &mark);
		if (!json_object_is_type(msg, json_type_object))
			return bad(p, "%s: must be an object, not %s", p->path,
			    json_type_label(msg));
		if ((er = want_str(p, msg, "role", 1, &role)) != KF_OK)
			return er;
		/*
		 * Claude Code puts role "system" entries among the messages
		 * (mid-conversation-system beta): they are instructions at
		 * that point of the conversation, so they stay there, as
		 * user text (Kiro has no system role).
		 */
		if (strcmp(role, "user") == 0 || strcmp(role, "system") == 0)
			m = conv_add_msg(p->conv, CONV_ROLE_USER);
		else if (strcmp(role, "assistant") == 0)
			m = conv_add_msg(p->conv, CONV_ROLE_ASSISTANT);
		else
			return bad(p, "%s.role: must be \"user\" or "
			    "\"assistant\", not \"%s\"", p->path, role);
		if (!json_object_object_get_ex(msg, "content", &content) ||
		    content == NULL)
			return bad(p, "%s.content: field required", p->path);
		if (json_object_is_type(content, json_type_string)) {
			struct conv_block *b = conv_msg_add_block(m,
			    CONV_BLOCK_TEXT);

			b->text = xstrdup(json_object_get_string(content));
			pc_src_stamp(p->conv, &mark, i, 0, NULL);
			continue;
		}
		if (!json_object_is_type(content, json_type_array))
			return bad(p, "%s.content: must be a string or an "
			    "array, not %s", p->path,
			    json_type_label(content));
		nb = json_object_array_length(content);
		for (j = 0; j < nb; j++) {
			blk = json_object_array_get_idx(content, j);
			/* A block's paths extend its message's: mlen holds. */
			pc_path_index(p->path, sizeof(p->path), mlen,
			    ".content", j);
			pc_src_mark(p->conv, &mark);
			if ((er = cache_mark(p, blk, &m->cache_point)) !=
			    KF_OK || (er = parse_block(p, blk, m)) != KF_OK)
				return er;
			pc_src_stamp(p->conv, &mark, i, j, "content");
		}
	}
	p->path[0] = '\0';
	return KF_OK;
}

static enum kf_err
parse_system(struct parse *p)
{
	json_object	*v, *blk;
	const char	*type, *text;
	size_t		 i, n;
	enum kf_err	 er;

	if ((v = p->top[TOP_SYSTEM]) == NULL)
		return KF_OK;
	if (json_object_is_type(v, json_type_string)) {
		if (json_object_get_string_len(v) > 0)
			conv_append_system(p->conv, json_object_get_string(v));
		return KF_OK;
	}
	if (!json_object_is_type(v, json_type_array))
		return bad(p, "system: must be a string or an array of text "
		    "blocks, not %s", json_type_label(v));
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		blk = json_object_array_get_idx(v, i);
		pc_path_index(p->path, sizeof(p->path), 0, "system", i);
		if (!json_object_is_type(blk, json_type_object))
			return bad(p, "%s: must be an object", p->path);
		if ((er = want_str(p, blk, "type", 1, &type)) != KF_OK)
			return er;
		if (strcmp(type, "text") != 0)
			return bad(p, "%s.type: must be \"text\"", p->path);
		if ((er = want_str(p, blk, "text", 1, &text)) != KF_OK)
			return er;
		if ((er = cache_mark(p, blk, &p->conv->system_cache_point)) !=
		    KF_OK)
			return er;
		if (*text != '\0')
			conv_append_system(p->conv, text);
	}
	p->path[0] = '\0';
	return KF_OK;
}

/* allowed_domains / blocked_domains: arrays of strings, capped (conv.h). */
static enum kf_err
parse_search_domains(struct parse *p, json_object *tool, const char *key,
    int blocked)
{
	json_object	*arr, *v;
	size_t		 i, n;
	enum kf_err	 er;
	char		*why = NULL;

	if ((er = want(p, tool, p->path, key, json_type_array, 0, &arr)) !=
	    KF_OK || arr == NULL)
		return er;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			return bad(p, "%s.%s[%zu]: must be a string", p->path,
			    key, i);
		if (conv_add_search_domain(p->conv, blocked,
		    json_object_get_string(v), &why) != KF_OK) {
			er = bad(p, "%s.%s", p->path, why);
			free(why);
			return er;
		}
	}
	return KF_OK;
}

/*
 * The web_search server tool (web_search_20250305, web_search_20260209):
 * the gateway runs it through Kiro (websearch.h); alone, it is the whole
 * answer (doc/protocol.md §10).
 */
static enum kf_err
parse_web_search_tool(struct parse *p, json_object *tool, size_t n_tools)
{
	struct conv_web_search	*ws = &p->conv->web_search;
	int64_t			 max_uses;
	enum kf_err		 er;
	int			 rc;

	ws->enabled = 1;
	ws->only = n_tools == 1;
	if ((rc = json_get_int(tool, "max_uses", &max_uses)) == -1 ||
	    (rc == 1 && max_uses < 1))
		return bad(p, "%s.max_uses: must be a positive integer",
		    p->path);
	if (rc == 1)
		ws->max_uses = max_uses > 1000 ? 1000 : (long)max_uses;
	if ((er = parse_search_domains(p, tool, "allowed_domains", 0)) !=
	    KF_OK)
		return er;
	return parse_search_domains(p, tool, "blocked_domains", 1);
}

static enum kf_err
parse_tools(struct parse *p)
{
	json_object		*arr, *tool, *schema;
	const char		*name, *desc, *type;
	size_t			 i, n;
	enum kf_err		 er;

	if ((er = want_top(p, TOP_TOOLS, json_type_array, 0, &arr)) !=
	    KF_OK || arr == NULL)
		return er;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		tool = json_object_array_get_idx(arr, i);
		pc_path_index(p->path, sizeof(p->path), 0, "tools", i);
		if (!json_object_is_type(tool, json_type_object))
			return bad(p, "%s: must be an object", p->path);
		if ((er = want_str(p, tool, "type", 0, &type)) != KF_OK ||
		    (er = want_str(p, tool, "name", 1, &name)) != KF_OK)
			return er;
		/*
		 * Server tools (web_search_20250305, code_execution, ...)
		 * run inside Anthropic's API; Kiro cannot run them, and a
		 * definition without a schema would only confuse the model.
		 */
		if (type != NULL && strncmp(type, "web_search_", 11) == 0 &&
		    strcmp(name, "web_search") == 0) {
			if ((er = parse_web_search_tool(p, tool, n)) != KF_OK)
				return er;
			continue;
		}
		if (type != NULL && strcmp(type, "custom") != 0) {
			log_info("anthropic: %s: server tool \"%s\" dropped: "
			    "Kiro cannot run it", p->path, type);
			continue;
		}
		if ((er = want_str(p, tool, "description", 0, &desc)) !=
		    KF_OK)
			return er;
		if ((er = want(p, tool, p->path, "input_schema",
		    json_type_object, PC_REQUIRED, &schema)) != KF_OK)
			return er;
		pc_add_tool(p->conv, name, desc,
		    json_object_get(schema))->src.item = i + 1;
	}
	p->path[0] = '\0';
	return KF_OK;
}

static enum kf_err
parse_tool_choice(struct parse *p)
{
	json_object	*tc;
	const char	*type, *name;
	enum kf_err	 er;
	int		 rc, flag;

	if ((er = want_top(p, TOP_TOOL_CHOICE, json_type_object, 0, &tc)) !=
	    KF_OK || tc == NULL)
		return er;
	path_set(p, "tool_choice");
	if ((er = want_str(p, tc, "type", 1, &type)) != KF_OK)
		return er;
	if (strcmp(type, "auto") == 0)
		p->conv->tool_choice = CONV_TOOL_CHOICE_AUTO;
	else if (strcmp(type, "any") == 0)
		p->conv->tool_choice = CONV_TOOL_CHOICE_ANY;
	else if (strcmp(type, "none") == 0)
		p->conv->tool_choice = CONV_TOOL_CHOICE_NONE;
	else if (strcmp(type, "tool") == 0) {
		if ((er = want_str(p, tc, "name", 1, &name)) != KF_OK)
			return er;
		p->conv->tool_choice = CONV_TOOL_CHOICE_TOOL;
		p->conv->tool_choice_name = xstrdup(name);
	} else
		return bad(p, "tool_choice.type: must be auto, any, tool or "
		    "none, not \"%s\"", type);
	if ((rc = json_get_bool(tc, "disable_parallel_tool_use", &flag)) ==
	    -1)
		return bad(p, "tool_choice.disable_parallel_tool_use: must be "
		    "a boolean");
	p->conv->single_tool_call = rc == 1 && flag &&
	    p->conv->tool_choice != CONV_TOOL_CHOICE_NONE;
	p->path[0] = '\0';
	return KF_OK;
}

/*
 * The relay makes every answer honour tool_choice any / tool, so the
 * tools must allow it.  A choice of a server tool (web_search, ...) cannot
 * be honoured by Kiro at all: it is left to the model, as before.
 */
static enum kf_err
check_tool_choice(struct parse *p)
{
	struct conv	*c = p->conv;
	json_object	*arr = NULL, *tool;
	const char	*name;
	size_t		 i, n = 0;

	if (c->tool_choice != CONV_TOOL_CHOICE_ANY &&
	    c->tool_choice != CONV_TOOL_CHOICE_TOOL)
		return KF_OK;
	if (json_as_arr(p->top[TOP_TOOLS], &arr) == 1)
		n = json_object_array_length(arr);
	if (c->tool_choice == CONV_TOOL_CHOICE_ANY) {
		if (c->n_tools > 0)
			return KF_OK;
		if (n == 0)
			return bad(p, "tool_choice: type \"any\" needs tools");
	} else {
		for (i = 0; i < c->n_tools; i++)
			if (strcmp(c->tools[i].name, c->tool_choice_name) == 0)
				return KF_OK;
		for (i = 0; i < n; i++) {
			tool = json_object_array_get_idx(arr, i);
			if (json_get_str(tool, "name", &name) == 1 &&
			    strcmp(name, c->tool_choice_name) == 0)
				break;
		}
		if (i == n)
			return bad(p, "tool_choice.name: no tool named \"%s\" "
			    "in tools", c->tool_choice_name);
	}
	c->tool_choice = CONV_TOOL_CHOICE_AUTO;
	free(c->tool_choice_name);
	c->tool_choice_name = NULL;
	return KF_OK;
}

/* One {"type":"json_schema","schema":{...}} at path. */
static enum kf_err
parse_format(struct parse *p, json_object *fmt, const char *path)
{
	json_object	*schema;
	const char	*type;
	enum kf_err	 er;

	path_set(p, "%s", path);
	if ((er = want_str(p, fmt, "type", 1, &type)) != KF_OK)
		return er;
	if (strcmp(type, "json_schema") != 0)
		return bad(p, "%s.type: must be json_schema, not \"%s\"", path,
		    type);
	if ((er = want(p, fmt, path, "schema", json_type_object, PC_REQUIRED,
	    &schema)) != KF_OK)
		return er;
	p->conv->json_mode = 1;
	json_object_put(p->conv->response_schema);
	p->conv->response_schema = json_object_get(schema);
	p->path[0] = '\0';
	return KF_OK;
}

/*
 * Structured outputs: output_config.format, or the beta's output_format.
 * The relay holds the answer back and validates it (constrain.h).
 */
static enum kf_err
parse_output_format(struct parse *p)
{
	json_object	*oc, *fmt;
	enum kf_err	 er;
	int		 rc;

	if (json_as_obj(p->top[TOP_OUTPUT_CONFIG], &oc) == 1) {
		if ((rc = json_get_obj(oc, "format", &fmt)) == -1)
			return bad(p, "output_config.format: must be an "
			    "object");
		if (rc == 1 && (er = parse_format(p, fmt,
		    "output_config.format")) != KF_OK)
			return er;
	}
	if ((rc = json_as_obj(p->top[TOP_OUTPUT_FORMAT], &fmt)) == -1)
		return bad(p, "output_format: must be an object");
	if (rc == 1)
		return parse_format(p, fmt, "output_format");
	return KF_OK;
}

/* stop_sequences: the relay ends the answer at the first (constrain.h). */
static enum kf_err
parse_stop_sequences(struct parse *p)
{
	json_object	*arr, *v;
	char		 field[48];
	size_t		 i, n;
	enum kf_err	 er;
	int		 rc;

	if ((rc = json_as_arr(p->top[TOP_STOP_SEQUENCES], &arr)) == -1)
		return bad(p, "stop_sequences: must be an array of strings");
	if (rc == 0)
		return KF_OK;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			return bad(p, "stop_sequences[%zu]: must be a string, "
			    "not %s", i, json_type_label(v));
		snprintf(field, sizeof(field), "stop_sequences[%zu]", i);
		if ((er = pc_add_stop(p->conv, json_object_get_string(v),
		    field, CONV_MAX_STOP, p->cause, NULL)) != KF_OK)
			return er;
	}
	return KF_OK;
}

static enum kf_err
parse_thinking(struct parse *p)
{
	json_object	*th, *oc;
	const char	*type, *effort;
	int64_t		 budget;
	enum kf_err	 er;
	int		 rc;

	if ((rc = json_as_obj(p->top[TOP_OUTPUT_CONFIG], &oc)) == -1)
		return bad(p, "output_config: must be an object");
	if (rc == 1) {
		path_set(p, "output_config");
		if ((er = want_str(p, oc, "effort", 0, &effort)) != KF_OK)
			return er;
		if (effort != NULL) {
			if (strcmp(effort, "low") != 0 &&
			    strcmp(effort, "medium") != 0 &&
			    strcmp(effort, "high") != 0 &&
			    strcmp(effort, "max") != 0)
				return bad(p, "output_config.effort: must be "
				    "low, medium, high or max");
			/* Kiro knows three levels. */
			p->conv->thinking_effort = xstrdup(
			    strcmp(effort, "max") == 0 ? "high" : effort);
		}
	}
	if ((er = want_top(p, TOP_THINKING, json_type_object, 0, &th)) !=
	    KF_OK || th == NULL)
		return er;
	path_set(p, "thinking");
	if ((er = want_str(p, th, "type", 1, &type)) != KF_OK)
		return er;
	if (strcmp(type, "enabled") == 0) {
		if ((rc = json_get_int(th, "budget_tokens", &budget)) == -1 ||
		    (rc == 1 && budget < 0))
			return bad(p, "thinking.budget_tokens: must be a "
			    "positive integer");
		p->conv->thinking = CONV_THINKING_ENABLED;
		p->conv->thinking_budget = rc == 1 ? (long)budget : 0;
	} else if (strcmp(type, "adaptive") == 0)
		p->conv->thinking = CONV_THINKING_ADAPTIVE;
	else if (strcmp(type, "disabled") == 0)
		p->conv->thinking = CONV_THINKING_OFF;
	else
		return bad(p, "thinking.type: must be enabled, adaptive or "
		    "disabled, not \"%s\"", type);
	p->path[0] = '\0';
	return KF_OK;
}

char *
anthropic_session_id(const char *user_id)
{
	json_object	*obj = NULL;
	const char	*s, *hit;
	char		*out = NULL;
	size_t		 len;

	if (user_id == NULL)
		return NULL;
	len = strlen(user_id);
	/* Claude Code 2.x: a JSON object with session_id. */
	if (len > 0 && user_id[0] == '{' &&
	    json_parse(user_id, len, 8, &obj, NULL) == KF_OK) {
		if (json_get_str(obj, "session_id", &s) == 1 &&
		    strlen(s) == UUID_LEN && rand_is_uuid(s))
			out = xstrdup(s);
		json_object_put(obj);
		return out;
	}
	/* Older: "user_<hash>_account__session_<uuid>". */
	if ((hit = strstr(user_id, "session_")) != NULL &&
	    rand_is_uuid(hit + 8))
		return xstrndup(hit + 8, UUID_LEN);
	return NULL;
}

static enum kf_err
parse_metadata(struct parse *p)
{
	json_object	*md;
	const char	*user_id;
	enum kf_err	 er;

	if ((er = want_top(p, TOP_METADATA, json_type_object, 0, &md)) !=
	    KF_OK || md == NULL)
		return er;
	path_set(p, "metadata");
	if ((er = want_str(p, md, "user_id", 0, &user_id)) != KF_OK)
		return er;
	p->path[0] = '\0';
	if (user_id == NULL || *user_id == '\0')
		return KF_OK;
	p->conv->session_key = xstrdup(user_id);
	p->conv->session_id = anthropic_session_id(user_id);
	return KF_OK;
}

enum kf_err
anthropic_parse(const char *body, size_t len, int for_count,
    struct conv *conv, char **cause)
{
	struct parse		 p;
	json_object		*root = NULL, *v;
	const struct model_info	*m;
	const char		*model;
	int64_t			 max_tokens;
	int			 rc, flag, thinking_name;
	enum kf_err		 er;

	memset(&p, 0, sizeof(p));
	p.conv = conv;
	p.cause = cause;
	if ((er = pc_root(body, len, NULL, &root, cause, NULL)) != KF_OK)
		goto out;
	json_pick(root, top_names, TOP__MAX, p.top);
	if ((er = want_top(&p, TOP_MODEL, json_type_string, PC_TYPE_LABEL |
	    (for_count ? 0 : PC_REQUIRED), &v)) != KF_OK)
		goto out;
	model = v != NULL ? json_object_get_string(v) : NULL;
	if (model != NULL) {
		if ((er = pc_model(conv, model, for_count, &m, &thinking_name,
		    cause, NULL)) != KF_OK)
			goto out;
		if (thinking_name && conv->thinking == CONV_THINKING_OFF)
			pc_thinking_name(conv, m);
	}
	if ((rc = json_as_int(p.top[TOP_MAX_TOKENS], &max_tokens)) == -1 ||
	    (rc == 1 && max_tokens < 1)) {
		er = bad(&p, "max_tokens: must be a positive integer");
		goto out;
	}
	conv->max_tokens = rc == 1 ? (long)max_tokens : 0;
	if ((rc = json_as_bool(p.top[TOP_STREAM], &flag)) == -1) {
		er = bad(&p, "stream: must be a boolean");
		goto out;
	}
	conv->stream = rc == 1 && flag;
	if ((er = parse_system(&p)) != KF_OK ||
	    (er = parse_messages(&p)) != KF_OK ||
	    (er = parse_tools(&p)) != KF_OK ||
	    (er = parse_tool_choice(&p)) != KF_OK ||
	    (er = check_tool_choice(&p)) != KF_OK ||
	    (er = parse_stop_sequences(&p)) != KF_OK ||
	    (er = parse_output_format(&p)) != KF_OK ||
	    (er = parse_metadata(&p)) != KF_OK)
		goto out;
	/* A -thinking model name decides unless the request does. */
	{
		enum conv_thinking	named = conv->thinking;
		long			budget = conv->thinking_budget;
		json_object		*th;

		if ((er = parse_thinking(&p)) != KF_OK)
			goto out;
		if (json_as_obj(p.top[TOP_THINKING], &th) != 1) {
			conv->thinking = named;
			conv->thinking_budget = budget;
		}
	}
out:
	json_object_put(root);
	return er;
}
