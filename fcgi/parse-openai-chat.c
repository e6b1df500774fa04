/* parse-openai-chat.c: an OpenAI Chat Completions request into the neutral conversation. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conv.h"
#include "imgfetch.h"
#include "json.h"
#include "log.h"
#include "models.h"
#include "openai-chat.h"
#include "parse-common.h"
#include "xmalloc.h"

/*
 * The one place that knows the shape of a Chat Completions request.  An
 * error names the field by its path, in the message and as OpenAI's
 * "param", so a client author can find the mistake.
 */

#define MAX_STOP	4

/*
 * The request's top-level fields, found in one pass over it (json_pick):
 * twenty hashed lookups, most of them of absent fields, cost more.
 */
enum top {
	TOP_MODEL,
	TOP_N,
	TOP_LOGPROBS,
	TOP_TOP_LOGPROBS,
	TOP_AUDIO,
	TOP_MODALITIES,
	TOP_FUNCTIONS,
	TOP_FUNCTION_CALL,
	TOP_MAX_COMPLETION_TOKENS,
	TOP_MAX_TOKENS,
	TOP_STREAM,
	TOP_STREAM_OPTIONS,
	TOP_REASONING_EFFORT,
	TOP_TOOLS,
	TOP_WEB_SEARCH_OPTIONS,
	TOP_PARALLEL_TOOL_CALLS,
	TOP_TOOL_CHOICE,
	TOP_STOP,
	TOP_RESPONSE_FORMAT,
	TOP_PROMPT_CACHE_KEY,
	TOP_USER,
	TOP_MESSAGES,
	TOP__MAX
};

static const char *const	top_names[TOP__MAX] = {
	"model", "n", "logprobs", "top_logprobs", "audio", "modalities",
	"functions", "function_call", "max_completion_tokens", "max_tokens",
	"stream", "stream_options", "reasoning_effort", "tools",
	"web_search_options", "parallel_tool_calls", "tool_choice", "stop",
	"response_format", "prompt_cache_key", "user", "messages",
};

struct parse {
	struct conv	*conv;
	struct http	*http;
	char		**cause;
	char		**param;
	char		 path[160];	/* the field being read */
	json_object	*top[TOP__MAX];	/* NULL: absent or null */
};

/* An error naming the field, in the message and as OpenAI's "param". */
#define bad(p, field, ...) \
	pc_bad((p)->cause, (p)->param, field, __VA_ARGS__)
/* A member of a given JSON type, refused with its path (pc_want). */
#define want(p, ...)	pc_want((p)->cause, (p)->param, __VA_ARGS__)

/* The path of the field being read, for messages. */
#define path_set(p, ...) \
	pc_path_set((p)->path, sizeof((p)->path), __VA_ARGS__)

/* p->path + "." + key, for messages about a member of the current object. */
static const char *
sub(struct parse *p, const char *key)
{
	static __thread char	 field[224];

	snprintf(field, sizeof(field), "%s%s%s", p->path,
	    p->path[0] != '\0' ? "." : "", key);
	return field;
}

/* A string field of the current object; *out borrowed. */
static enum kf_err
want_str(struct parse *p, json_object *obj, const char *key, int required,
    const char **out)
{
	return pc_want_str(p->cause, p->param, obj, p->path, key,
	    PC_TYPE_LABEL | (required ? PC_REQUIRED : 0), out);
}

/* A top-level field of a JSON type, refused by name (pc_want). */
static enum kf_err
want_top(struct parse *p, enum top k, enum json_type type, int flags,
    json_object **out)
{
	return pc_want_val(p->cause, p->param, p->top[k], "", top_names[k],
	    type, flags, out);
}

/* want_str on a top-level field. */
static enum kf_err
want_top_str(struct parse *p, enum top k, int required, const char **out)
{
	json_object	*v;
	enum kf_err	 er;

	er = pc_want_val(p->cause, p->param, p->top[k], p->path, top_names[k],
	    json_type_string, PC_TYPE_LABEL | (required ? PC_REQUIRED : 0),
	    &v);
	*out = v != NULL ? json_object_get_string(v) : NULL;
	return er;
}

/* A field present and not null. */
static int
present(json_object *obj, const char *key)
{
	json_object	*v;

	return json_object_object_get_ex(obj, key, &v) && v != NULL;
}

/* Part i of the content of the message at base: an object with a type. */
static enum kf_err
content_part(struct parse *p, json_object *part, const char *base, size_t i,
    const char **type)
{
	path_set(p, "%s.content[%zu]", base, i);
	if (!json_object_is_type(part, json_type_object))
		return bad(p, p->path, "must be an object, not %s",
		    json_type_label(part));
	return want_str(p, part, "type", 1, type);
}

/*
 * Text from content that is a string or an array of {"type":"text"} parts
 * (system, developer, assistant, tool messages); NULL content is "".
 */
static enum kf_err
text_content(struct parse *p, json_object *v, struct buf *out)
{
	json_object	*part;
	const char	*type, *text;
	char		 base[160];
	size_t		 i, n;
	enum kf_err	 er;

	if (v == NULL)
		return KF_OK;
	if (json_object_is_type(v, json_type_string)) {
		buf_append(out, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		return KF_OK;
	}
	if (!json_object_is_type(v, json_type_array))
		return bad(p, sub(p, "content"), "must be a string or an array "
		    "of text parts, not %s", json_type_label(v));
	snprintf(base, sizeof(base), "%s", p->path);
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(v, i);
		if ((er = content_part(p, part, base, i, &type)) != KF_OK)
			return er;
		if (strcmp(type, "text") == 0) {
			if ((er = want_str(p, part, "text", 1, &text)) != KF_OK)
				return er;
		} else if (strcmp(type, "refusal") == 0) {
			if ((er = want_str(p, part, "refusal", 1, &text)) !=
			    KF_OK)
				return er;
		} else
			return bad(p, sub(p, "type"), "\"%s\" parts are not "
			    "supported here (only text)", type);
		if (out->len > 0 && *text != '\0')
			buf_putc(out, '\n');
		buf_puts(out, text);
	}
	path_set(p, "%s", base);
	return KF_OK;
}

static enum kf_err
image_part(struct parse *p, json_object *part, struct conv_msg *m)
{
	struct conv_block	*b;
	json_object		*iu;
	const char		*url;
	char			 base[160], *why = NULL, *media, *data;
	enum kf_err		 er;
	int			 rc;

	snprintf(base, sizeof(base), "%s", p->path);
	if (json_object_object_get_ex(part, "image_url", &iu) && iu != NULL &&
	    json_object_is_type(iu, json_type_string))
		url = json_object_get_string(iu);	/* a common shorthand */
	else {
		if ((rc = json_get_obj(part, "image_url", &iu)) != 1)
			return bad(p, sub(p, "image_url"), rc == 0 ?
			    "field required" : "must be an object with a url");
		path_set(p, "%s.image_url", base);
		if ((er = want_str(p, iu, "url", 1, &url)) != KF_OK)
			return er;
	}
	path_set(p, "%s.image_url.url", base);
	/* imgfetch counts the request's fetches and bytes against its caps. */
	if ((er = imgfetch(p->http, url, &media, &data, &why)) != KF_OK) {
		er = bad(p, p->path, "%s", why != NULL ? why :
		    "the image could not be read");
		free(why);
		return er;
	}
	b = conv_msg_add_block(m, CONV_BLOCK_IMAGE);
	b->media_type = media;
	b->data = data;
	path_set(p, "%s", base);
	return KF_OK;
}

/* User content: a string, or text and image_url parts. */
static enum kf_err
user_content(struct parse *p, json_object *v, struct conv_msg *m)
{
	struct conv_block	*b;
	json_object		*part;
	const char		*type, *text;
	char			 base[160];
	size_t			 i, n;
	enum kf_err		 er;

	if (v == NULL)
		return bad(p, sub(p, "content"), "field required");
	if (json_object_is_type(v, json_type_string)) {
		b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
		b->text = xstrdup(json_object_get_string(v));
		return KF_OK;
	}
	if (!json_object_is_type(v, json_type_array))
		return bad(p, sub(p, "content"), "must be a string or an array "
		    "of content parts, not %s", json_type_label(v));
	snprintf(base, sizeof(base), "%s", p->path);
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(v, i);
		if ((er = content_part(p, part, base, i, &type)) != KF_OK)
			return er;
		if (strcmp(type, "text") == 0) {
			if ((er = want_str(p, part, "text", 1, &text)) != KF_OK)
				return er;
			b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
			b->text = xstrdup(text);
		} else if (strcmp(type, "image_url") == 0) {
			if ((er = image_part(p, part, m)) != KF_OK)
				return er;
		} else
			return bad(p, sub(p, "type"), "\"%s\" content parts "
			    "are not supported (use text or image_url; Kiro "
			    "takes no audio or files)", type);
	}
	path_set(p, "%s", base);
	return KF_OK;
}

/* The last message when it has the role, so that runs can be merged. */
static struct conv_msg *
last_with_role(struct conv *c, enum conv_role role)
{
	if (c->n_msgs == 0 || c->msgs[c->n_msgs - 1].role != role)
		return NULL;
	return &c->msgs[c->n_msgs - 1];
}

static int
has_tool_results(const struct conv_msg *m)
{
	size_t	i;

	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type == CONV_BLOCK_TOOL_RESULT)
			return 1;
	return 0;
}

static enum kf_err
tool_calls(struct parse *p, json_object *arr, struct conv_msg *m)
{
	struct conv_block	*b;
	json_object		*call, *fn, *input = NULL;
	const char		*id, *type, *name, *args;
	char			 base[160], *why = NULL;
	size_t			 i, n;
	enum kf_err		 er;

	snprintf(base, sizeof(base), "%s", p->path);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		call = json_object_array_get_idx(arr, i);
		path_set(p, "%s.tool_calls[%zu]", base, i);
		if (!json_object_is_type(call, json_type_object))
			return bad(p, p->path, "must be an object, not %s",
			    json_type_label(call));
		if ((er = want_str(p, call, "id", 1, &id)) != KF_OK ||
		    (er = want_str(p, call, "type", 0, &type)) != KF_OK)
			return er;
		if (type != NULL && strcmp(type, "function") != 0)
			return bad(p, sub(p, "type"), "must be \"function\", "
			    "not \"%s\"", type);
		if ((er = want(p, call, p->path, "function", json_type_object,
		    PC_REQUIRED, &fn)) != KF_OK)
			return er;
		path_set(p, "%s.tool_calls[%zu].function", base, i);
		if ((er = want_str(p, fn, "name", 1, &name)) != KF_OK ||
		    (er = want_str(p, fn, "arguments", 0, &args)) != KF_OK)
			return er;
		input = NULL;
		if (args != NULL && args[strspn(args, " \t\r\n")] != '\0') {
			if (json_parse(args, strlen(args), JSON_MAX_DEPTH,
			    &input, &why) != KF_OK ||
			    !json_object_is_type(input, json_type_object)) {
				json_object_put(input);
				er = bad(p, sub(p, "arguments"), "must be a "
				    "JSON object in a string%s%s", why != NULL ?
				    ": " : "", why != NULL ? why : "");
				free(why);
				return er;
			}
		} else
			input = json_object_new_object();
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
		b->id = xstrdup(id);
		b->name = xstrdup(name);
		b->input = input;
		b->src.part = i + 1;
		b->src.part_key = "tool_calls";
	}
	path_set(p, "%s", base);
	return KF_OK;
}

static enum kf_err
parse_message(struct parse *p, json_object *msg, int *conversation_started)
{
	struct conv_msg		*m;
	struct conv_block	*b;
	struct buf		 text = BUF_INIT;
	json_object		*content = NULL, *arr;
	const char		*role, *id;
	enum kf_err		 er;
	int			 rc;

	if (!json_object_is_type(msg, json_type_object))
		return bad(p, p->path, "must be an object, not %s",
		    json_type_label(msg));
	if ((er = want_str(p, msg, "role", 1, &role)) != KF_OK)
		return er;
	(void)json_object_object_get_ex(msg, "content", &content);
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
		if (content == NULL)
			return bad(p, sub(p, "content"), "field required");
		if ((er = text_content(p, content, &text)) != KF_OK)
			goto out;
		if (text.len == 0)
			goto out;
		/*
		 * Instructions before the conversation are the system
		 * prompt; later ones stay where they were given, as user
		 * text (Kiro has no system role), as parse-anthropic does.
		 */
		if (!*conversation_started)
			conv_append_system(p->conv, text.ptr);
		else {
			if ((m = last_with_role(p->conv, CONV_ROLE_USER)) ==
			    NULL)
				m = conv_add_msg(p->conv, CONV_ROLE_USER);
			b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
			b->text = buf_detach(&text);
		}
		goto out;
	}
	*conversation_started = 1;
	if (strcmp(role, "user") == 0) {
		/* Text after tool results belongs with them. */
		if ((m = last_with_role(p->conv, CONV_ROLE_USER)) == NULL ||
		    !has_tool_results(m))
			m = conv_add_msg(p->conv, CONV_ROLE_USER);
		er = user_content(p, content, m);
	} else if (strcmp(role, "assistant") == 0) {
		if (present(msg, "function_call"))
			return bad(p, sub(p, "function_call"), "legacy "
			    "function calls are not supported; use tool_calls");
		m = conv_add_msg(p->conv, CONV_ROLE_ASSISTANT);
		if ((er = text_content(p, content, &text)) != KF_OK)
			goto out;
		if (text.len > 0) {
			b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
			b->text = buf_detach(&text);
		}
		if ((rc = json_get_arr(msg, "tool_calls", &arr)) == -1)
			er = bad(p, sub(p, "tool_calls"), "must be an array");
		else if (rc == 1)
			er = tool_calls(p, arr, m);
	} else if (strcmp(role, "tool") == 0) {
		if ((er = want_str(p, msg, "tool_call_id", 1, &id)) != KF_OK)
			goto out;
		if ((er = text_content(p, content, &text)) != KF_OK)
			goto out;
		/* Parallel calls' results go back in one user turn. */
		if ((m = last_with_role(p->conv, CONV_ROLE_USER)) == NULL ||
		    (m->n_blocks > 0 && !has_tool_results(m)))
			m = conv_add_msg(p->conv, CONV_ROLE_USER);
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
		b->id = xstrdup(id);
		b = conv_block_add_content(b, CONV_BLOCK_TEXT);
		b->text = buf_detach(&text);
		if (b->text == NULL)
			b->text = xstrdup("");
	} else if (strcmp(role, "function") == 0)
		er = bad(p, sub(p, "role"), "legacy \"function\" messages are "
		    "not supported; use \"tool\" messages");
	else
		er = bad(p, sub(p, "role"), "must be system, developer, user, "
		    "assistant or tool, not \"%s\"", role);
out:
	buf_free(&text);
	return er;
}

static enum kf_err
parse_messages(struct parse *p)
{
	json_object	*arr;
	size_t		 i, n;
	struct pc_mark	 mark;
	enum kf_err	 er;
	int		 started = 0;

	if ((er = want_top(p, TOP_MESSAGES, json_type_array, PC_REQUIRED,
	    &arr)) != KF_OK)
		return er;
	if ((n = json_object_array_length(arr)) == 0)
		return bad(p, "messages", "at least one message is required");
	for (i = 0; i < n; i++) {
		pc_path_index(p->path, sizeof(p->path), 0, "messages", i);
		pc_src_mark(p->conv, &mark);
		if ((er = parse_message(p, json_object_array_get_idx(arr, i),
		    &started)) != KF_OK)
			return er;
		pc_src_stamp(p->conv, &mark, i, 0, NULL);
	}
	p->path[0] = '\0';
	if (p->conv->n_msgs == 0)
		return bad(p, "messages", "there is no user message, only "
		    "instructions");
	return KF_OK;
}

static enum kf_err
parse_tools(struct parse *p)
{
	json_object		*arr, *tool, *fn, *schema;
	const char		*type, *name, *desc;
	size_t			 i, n;
	enum kf_err		 er;
	int			 rc;

	if ((er = want_top(p, TOP_TOOLS, json_type_array, 0, &arr)) !=
	    KF_OK || arr == NULL)
		return er;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		tool = json_object_array_get_idx(arr, i);
		pc_path_index(p->path, sizeof(p->path), 0, "tools", i);
		if (!json_object_is_type(tool, json_type_object))
			return bad(p, p->path, "must be an object, not %s",
			    json_type_label(tool));
		if ((er = want_str(p, tool, "type", 1, &type)) != KF_OK)
			return er;
		if (strcmp(type, "function") != 0)
			return bad(p, sub(p, "type"), "\"%s\" tools are not "
			    "supported (only \"function\")", type);
		if ((er = want(p, tool, p->path, "function", json_type_object,
		    PC_REQUIRED, &fn)) != KF_OK)
			return er;
		path_set(p, "tools[%zu].function", i);
		if ((er = want_str(p, fn, "name", 1, &name)) != KF_OK ||
		    (er = want_str(p, fn, "description", 0, &desc)) != KF_OK)
			return er;
		if (*name == '\0')
			return bad(p, sub(p, "name"), "must not be empty");
		if ((rc = json_get_obj(fn, "parameters", &schema)) == -1)
			return bad(p, sub(p, "parameters"), "must be a JSON "
			    "Schema object");
		/* OpenAI: no parameters is a function without any. */
		pc_add_tool(p->conv, name, desc, rc == 1 ?
		    json_object_get(schema) : NULL)->src.item = i + 1;
	}
	p->path[0] = '\0';
	return KF_OK;
}

static enum kf_err
parse_tool_choice(struct parse *p)
{
	json_object	*tc, *fn;
	const char	*s, *type, *name;
	enum kf_err	 er;
	int		 flag, rc;

	if ((rc = json_as_bool(p->top[TOP_PARALLEL_TOOL_CALLS], &flag)) == -1)
		return bad(p, "parallel_tool_calls", "must be a boolean");
	p->conv->single_tool_call = rc == 1 && !flag;
	if ((tc = p->top[TOP_TOOL_CHOICE]) == NULL)
		return KF_OK;
	if (json_object_is_type(tc, json_type_string)) {
		s = json_object_get_string(tc);
		if (strcmp(s, "auto") == 0)
			p->conv->tool_choice = CONV_TOOL_CHOICE_AUTO;
		else if (strcmp(s, "none") == 0)
			p->conv->tool_choice = CONV_TOOL_CHOICE_NONE;
		else if (strcmp(s, "required") == 0)
			p->conv->tool_choice = CONV_TOOL_CHOICE_ANY;
		else
			return bad(p, "tool_choice", "must be \"auto\", "
			    "\"none\", \"required\" or a named function, not "
			    "\"%s\"", s);
		return KF_OK;
	}
	if (!json_object_is_type(tc, json_type_object))
		return bad(p, "tool_choice", "must be a string or an object, "
		    "not %s", json_type_label(tc));
	path_set(p, "tool_choice");
	if ((er = want_str(p, tc, "type", 1, &type)) != KF_OK)
		return er;
	if (strcmp(type, "function") != 0)
		return bad(p, "tool_choice.type", "\"%s\" is not supported "
		    "(use \"function\" with function.name)", type);
	if ((er = want(p, tc, "tool_choice", "function", json_type_object,
	    PC_REQUIRED, &fn)) != KF_OK)
		return er;
	path_set(p, "tool_choice.function");
	if ((er = want_str(p, fn, "name", 1, &name)) != KF_OK)
		return er;
	p->path[0] = '\0';
	p->conv->tool_choice = CONV_TOOL_CHOICE_TOOL;
	free(p->conv->tool_choice_name);
	p->conv->tool_choice_name = xstrdup(name);
	return KF_OK;
}

/*
 * The relay makes every answer honour "required" or a named function
 * (constrain.h), so the tools must allow it.
 */
static enum kf_err
check_tool_choice(struct parse *p)
{
	struct conv	*c = p->conv;
	size_t		 i;

	if (c->tool_choice == CONV_TOOL_CHOICE_ANY && c->n_tools == 0)
		return bad(p, "tool_choice", "\"required\" needs at least one "
		    "function in tools");
	if (c->tool_choice != CONV_TOOL_CHOICE_TOOL)
		return KF_OK;
	for (i = 0; i < c->n_tools; i++)
		if (strcmp(c->tools[i].name, c->tool_choice_name) == 0)
			return KF_OK;
	return bad(p, "tool_choice.function.name", "no function named \"%s\" "
	    "in tools", c->tool_choice_name);
}

static enum kf_err
parse_stop(struct parse *p)
{
	json_object	*v, *item;
	char		 field[32];
	size_t		 i, n;
	enum kf_err	 er;

	if ((v = p->top[TOP_STOP]) == NULL)
		return KF_OK;
	if (json_object_is_type(v, json_type_string))
		return pc_add_stop(p->conv, json_object_get_string(v), "stop",
		    MAX_STOP, p->cause, p->param);
	if (!json_object_is_type(v, json_type_array))
		return bad(p, "stop", "must be a string or an array of "
		    "strings, not %s", json_type_label(v));
	if ((n = json_object_array_length(v)) > MAX_STOP)
		return bad(p, "stop", "at most %d sequences are allowed, not "
		    "%zu", MAX_STOP, n);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		if (item == NULL || !json_object_is_type(item,
		    json_type_string)) {
			path_set(p, "stop[%zu]", i);
			return bad(p, p->path, "must be a string");
		}
		snprintf(field, sizeof(field), "stop[%zu]", i);
		if ((er = pc_add_stop(p->conv, json_object_get_string(item),
		    field, MAX_STOP, p->cause, p->param)) != KF_OK)
			return er;
	}
	return KF_OK;
}

static enum kf_err
parse_response_format(struct parse *p)
{
	json_object	*rf, *js, *schema;
	const char	*type;
	enum kf_err	 er;
	int		 rc;

	if ((er = want_top(p, TOP_RESPONSE_FORMAT, json_type_object, 0,
	    &rf)) != KF_OK || rf == NULL)
		return er;
	path_set(p, "response_format");
	if ((er = want_str(p, rf, "type", 1, &type)) != KF_OK)
		return er;
	p->path[0] = '\0';
	if ((er = pc_format_type(p->conv, type, "response_format.type", &rc,
	    p->cause, p->param)) != KF_OK || rc == 0)
		return er;
	if ((er = want(p, rf, "response_format", "json_schema",
	    json_type_object, PC_REQUIRED, &js)) != KF_OK)
		return er;
	if ((rc = json_get_obj(js, "schema", &schema)) == -1)
		return bad(p, "response_format.json_schema.schema", "must be "
		    "a JSON Schema object");
	if (rc == 1)
		p->conv->response_schema = json_object_get(schema);
	return KF_OK;
}

/* reasoning_effort, after the model (whose -thinking name may decide). */
static enum kf_err
parse_reasoning(struct parse *p, const struct model_info *m)
{
	const char	*effort, *level;
	long		 budget;
	enum kf_err	 er;

	if ((er = want_top_str(p, TOP_REASONING_EFFORT, 0, &effort)) !=
	    KF_OK || effort == NULL)
		return er;
	if (pc_effort(effort, &level, &budget) == -1)
		return bad(p, "reasoning_effort", "must be " PC_EFFORT_NAMES
		    ", not \"%s\"", effort);
	free(p->conv->thinking_effort);
	p->conv->thinking_effort = NULL;
	p->conv->thinking_budget = 0;
	if (level == NULL) {
		p->conv->thinking = CONV_THINKING_OFF;
		return KF_OK;
	}
	/* As parse-anthropic: adaptive where the model thinks so. */
	if (m->adaptive_thinking) {
		p->conv->thinking = CONV_THINKING_ADAPTIVE;
		p->conv->thinking_effort = xstrdup(level);
	} else {
		p->conv->thinking = CONV_THINKING_ENABLED;
		p->conv->thinking_budget = budget;
	}
	return KF_OK;
}

/* Options whose silent loss would change what the client gets. */
static enum kf_err
refuse_unsupported(struct parse *p)
{
	json_object	*v, *item;
	int64_t		 n;
	size_t		 i;
	int		 rc, flag;

	if ((rc = json_as_int(p->top[TOP_N], &n)) == -1)
		return bad(p, "n", "must be an integer");
	if (rc == 1 && n != 1)
		return bad(p, "n", "only one choice per request is supported "
		    "(n must be 1, not %lld)", (long long)n);
	if ((rc = json_as_bool(p->top[TOP_LOGPROBS], &flag)) == -1)
		return bad(p, "logprobs", "must be a boolean");
	if (rc == 1 && flag)
		return bad(p, "logprobs", "log probabilities are not "
		    "available from this gateway");
	if (p->top[TOP_TOP_LOGPROBS] != NULL)
		return bad(p, "top_logprobs", "log probabilities are not "
		    "available from this gateway");
	if (p->top[TOP_AUDIO] != NULL)
		return bad(p, "audio", "audio output is not supported");
	if ((rc = json_as_arr(p->top[TOP_MODALITIES], &v)) == -1)
		return bad(p, "modalities", "must be an array");
	for (i = 0; rc == 1 && i < json_object_array_length(v); i++) {
		item = json_object_array_get_idx(v, i);
		if (item == NULL || !json_object_is_type(item,
		    json_type_string) || strcmp(json_object_get_string(item),
		    "text") != 0)
			return bad(p, "modalities", "only [\"text\"] output "
			    "is supported");
	}
	if (p->top[TOP_FUNCTIONS] != NULL)
		return bad(p, "functions", "legacy functions are not "
		    "supported; use tools");
	if (p->top[TOP_FUNCTION_CALL] != NULL)
		return bad(p, "function_call", "legacy function_call is not "
		    "supported; use tool_choice");
	return KF_OK;
}

/*
 * web_search_options (the search models' option): the gateway offers the
 * model its web search (websearch.h) and answers with url_citation
 * annotations.  Kiro's search takes only a query: search_context_size
 * and user_location are checked, then dropped with a log line.
 */
static enum kf_err
parse_web_search_options(struct parse *p)
{
	static const char *const sizes[] = { "low", "medium", "high" };
	json_object	*opts, *v;
	const char	*size;
	size_t		 i;

	if ((opts = p->top[TOP_WEB_SEARCH_OPTIONS]) == NULL)
		return KF_OK;
	if (!json_object_is_type(opts, json_type_object))
		return bad(p, "web_search_options", "must be an object, not %s",
		    json_type_label(opts));
	if (json_object_object_get_ex(opts, "search_context_size", &v) &&
	    v != NULL) {
		if (!json_object_is_type(v, json_type_string))
			return bad(p, "web_search_options.search_context_size",
			    "must be \"low\", \"medium\" or \"high\"");
		size = json_object_get_string(v);
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (strcmp(size, sizes[i]) == 0)
				break;
		if (i == sizeof(sizes) / sizeof(sizes[0]))
			return bad(p, "web_search_options.search_context_size",
			    "must be \"low\", \"medium\" or \"high\"");
		log_info("chat: web_search_options.search_context_size "
		    "dropped: Kiro's search has no such setting");
	}
	if (json_object_object_get_ex(opts, "user_location", &v) &&
	    v != NULL) {
		if (!json_object_is_type(v, json_type_object))
			return bad(p, "web_search_options.user_location",
			    "must be an object, not %s", json_type_label(v));
		log_info("chat: web_search_options.user_location dropped: "
		    "Kiro's search has no such setting");
	}
	p->conv->web_search.enabled = 1;
	return KF_OK;
}

static enum kf_err
parse_max_tokens(struct parse *p)
{
	static const enum top	 keys[] = { TOP_MAX_COMPLETION_TOKENS,
	    TOP_MAX_TOKENS };
	int64_t			 v;
	size_t			 i;
	int			 rc;

	for (i = 0; i < 2; i++) {
		if ((rc = json_as_int(p->top[keys[i]], &v)) == -1 ||
		    (rc == 1 && v < 1))
			return bad(p, top_names[keys[i]], "must be a positive "
			    "integer");
		if (rc == 1 && p->conv->max_tokens == 0)
			p->conv->max_tokens = (long)v;
	}
	return KF_OK;
}

static enum kf_err
parse_stream(struct parse *p, struct openai_chat_opts *opts)
{
	json_object	*so;
	int		 rc, flag;

	if ((rc = json_as_bool(p->top[TOP_STREAM], &flag)) == -1)
		return bad(p, "stream", "must be a boolean");
	p->conv->stream = rc == 1 && flag;
	if ((rc = json_as_obj(p->top[TOP_STREAM_OPTIONS], &so)) == -1)
		return bad(p, "stream_options", "must be an object");
	if (rc == 1) {
		if ((rc = json_get_bool(so, "include_usage", &flag)) == -1)
			return bad(p, "stream_options.include_usage", "must be "
			    "a boolean");
		opts->include_usage = rc == 1 && flag;
	}
	return KF_OK;
}

static enum kf_err
parse_session(struct parse *p)
{
	const char	*key, *user;
	enum kf_err	 er;

	if ((er = want_top_str(p, TOP_PROMPT_CACHE_KEY, 0, &key)) != KF_OK ||
	    (er = want_top_str(p, TOP_USER, 0, &user)) != KF_OK)
		return er;
	if (key == NULL || *key == '\0')
		key = user;
	if (key != NULL && *key != '\0')
		p->conv->session_key = xstrdup(key);
	return KF_OK;
}

enum kf_err
openai_chat_parse(const char *body, size_t len, struct http *h,
    struct conv *conv, struct openai_chat_opts *opts, char **cause,
    char **param)
{
	struct parse		 p;
	json_object		*root = NULL;
	const struct model_info	*m;
	const char		*model;
	int			 thinking_name;
	enum kf_err		 er;

	memset(&p, 0, sizeof(p));
	memset(opts, 0, sizeof(*opts));
	p.conv = conv;
	p.http = h;
	p.cause = cause;
	p.param = param;
	if ((er = pc_root(body, len, NULL, &root, cause, param)) != KF_OK)
		goto out;
	json_pick(root, top_names, TOP__MAX, p.top);
	if ((er = want_top_str(&p, TOP_MODEL, 1, &model)) != KF_OK ||
	    (er = pc_model(conv, model, 0, &m, &thinking_name, cause,
	    param)) != KF_OK)
		goto out;
	if (thinking_name)
		pc_thinking_name(conv, m);
	if ((er = refuse_unsupported(&p)) != KF_OK ||
	    (er = parse_max_tokens(&p)) != KF_OK ||
	    (er = parse_stream(&p, opts)) != KF_OK ||
	    (er = parse_reasoning(&p, m)) != KF_OK ||
	    (er = parse_tools(&p)) != KF_OK ||
	    (er = parse_web_search_options(&p)) != KF_OK ||
	    (er = parse_tool_choice(&p)) != KF_OK ||
	    (er = check_tool_choice(&p)) != KF_OK ||
	    (er = parse_stop(&p)) != KF_OK ||
	    (er = parse_response_format(&p)) != KF_OK ||
	    (er = parse_session(&p)) != KF_OK ||
	    (er = parse_messages(&p)) != KF_OK)
		goto out;
out:
	json_object_put(root);
	return er;
}
