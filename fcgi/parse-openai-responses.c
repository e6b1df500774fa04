/* parse-openai-responses.c: an OpenAI Responses request into the neutral conversation. */
#include "autoconfig.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conv.h"
#include "json.h"
#include "log.h"
#include "models.h"
#include "openai-responses.h"
#include "parse-common.h"
#include "strset.h"
#include "xmalloc.h"

/*
 * The one place that knows the shape of a Responses request.  Items of
 * the input list become messages: consecutive items of one role share a
 * message, so a text answer and the function calls after it are one
 * assistant turn, and the outputs of those calls one user turn.
 */

struct parse {
	struct conv		*conv;
	struct openai_responses_req	*req;
	openai_responses_fetch_fn		 fetch;
	void			*fetch_arg;
	char			**cause;
	char			**param;
	int			 seen_turn;	/* a turn item came before */
	json_object		*found;		/* tool searches' tools lists */
};

/* An error naming the field, in the message and as OpenAI's "param". */
#define bad(p, field, ...) \
	pc_bad((p)->cause, (p)->param, field, __VA_ARGS__)
/* A member of a given JSON type, refused with its path (pc_want). */
#define want(p, ...)	pc_want((p)->cause, (p)->param, __VA_ARGS__)

/* A string field; *out borrowed, NULL when absent (or null). */
static enum kf_err
want_str(struct parse *p, json_object *obj, const char *base,
    const char *key, int required, const char **out)
{
	return pc_want_str(p->cause, p->param, obj, base, key,
	    required ? PC_REQUIRED : 0, out);
}

static struct conv_msg *
msg_for(struct parse *p, enum conv_role role)
{
	if (p->conv->n_msgs > 0 &&
	    p->conv->msgs[p->conv->n_msgs - 1].role == role)
		return &p->conv->msgs[p->conv->n_msgs - 1];
	return conv_add_msg(p->conv, role);
}

static enum kf_err
parse_image(struct parse *p, json_object *part, const char *path,
    struct conv_block *b)
{
	const char	*url, *file_id;
	char		 sub[200], *why = NULL;
	enum kf_err	 er;

	snprintf(sub, sizeof(sub), "%s.image_url", path);
	if ((er = want_str(p, part, path, "file_id", 0, &file_id)) != KF_OK)
		return er;
	if (file_id != NULL) {
		snprintf(sub, sizeof(sub), "%s.file_id", path);
		return bad(p, sub, "uploaded files are not supported; send "
		    "the image as a data: or https: URL in image_url");
	}
	if ((er = want_str(p, part, path, "image_url", 1, &url)) != KF_OK)
		return er;
	if (p->fetch == NULL)
		return bad(p, sub, "images are not supported here");
	if ((er = p->fetch(p->fetch_arg, url, &b->media_type, &b->data,
	    &why)) != KF_OK) {
		er = bad(p, sub, "%s", why != NULL ? why : kf_strerror(er));
		free(why);
		return er;
	}
	free(why);
	return KF_OK;
}

/* Content parts of a message or a tool output into blocks. */
static enum kf_err
parse_parts(struct parse *p, json_object *arr, const char *base,
    struct conv_msg *m, struct conv_block *result)
{
	json_object		*part;
	struct conv_block	*b;
	const char		*type, *text;
	char			 path[200];
	size_t			 i, n;
	enum kf_err		 er;

	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(arr, i);
		snprintf(path, sizeof(path), "%s[%zu]", base, i);
		if (!json_object_is_type(part, json_type_object))
			return bad(p, path, "must be an object, not %s",
			    json_type_label(part));
		if ((er = want_str(p, part, path, "type", 1, &type)) != KF_OK)
			return er;
		if (strcmp(type, "input_text") == 0 ||
		    strcmp(type, "output_text") == 0 ||
		    strcmp(type, "text") == 0 ||
		    strcmp(type, "summary_text") == 0) {
			if ((er = want_str(p, part, path, "text", 1, &text)) !=
			    KF_OK)
				return er;
		} else if (strcmp(type, "refusal") == 0) {
			if ((er = want_str(p, part, path, "refusal", 1,
			    &text)) != KF_OK)
				return er;
		} else if (strcmp(type, "input_image") == 0) {
			b = result != NULL ? conv_block_add_content(result,
			    CONV_BLOCK_IMAGE) : conv_msg_add_block(m,
			    CONV_BLOCK_IMAGE);
			if ((er = parse_image(p, part, path, b)) != KF_OK)
				return er;
			continue;
		} else if (strcmp(type, "input_file") == 0) {
			snprintf(path + strlen(path), sizeof(path) -
			    strlen(path), ".type");
			return bad(p, path, "input_file is not supported "
			    "(Kiro reads text and images only)");
		} else {
			snprintf(path + strlen(path), sizeof(path) -
			    strlen(path), ".type");
			return bad(p, path, "\"%s\" content is not supported",
			    type);
		}
		b = result != NULL ? conv_block_add_content(result,
		    CONV_BLOCK_TEXT) : conv_msg_add_block(m, CONV_BLOCK_TEXT);
		b->text = xstrdup(text);
	}
	return KF_OK;
}

/* A message item; system and developer text before any turn is system. */
static enum kf_err
parse_message(struct parse *p, json_object *item, const char *path)
{
	json_object	*content;
	struct conv_msg	*m;
	struct conv	 tmp;
	const char	*role;
	char		 sub[200], *text;
	enum kf_err	 er;
	int		 sys;

	if ((er = want_str(p, item, path, "role", 1, &role)) != KF_OK)
		return er;
	sys = strcmp(role, "system") == 0 || strcmp(role, "developer") == 0;
	if (!sys && strcmp(role, "user") != 0 &&
	    strcmp(role, "assistant") != 0) {
		snprintf(sub, sizeof(sub), "%s.role", path);
		return bad(p, sub, "must be user, assistant, system or "
		    "developer, not \"%s\"", role);
	}
	snprintf(sub, sizeof(sub), "%s.content", path);
	if (!json_object_object_get_ex(item, "content", &content) ||
	    content == NULL)
		return bad(p, sub, "field required");
	if (!json_object_is_type(content, json_type_string) &&
	    !json_object_is_type(content, json_type_array))
		return bad(p, sub, "must be a string or an array, not %s",
		    json_type_label(content));
	if (sys && !p->seen_turn) {
		/* Instructions: text only, into the system prompt. */
		if (json_object_is_type(content, json_type_string)) {
			conv_append_system(p->conv,
			    json_object_get_string(content));
			return KF_OK;
		}
		conv_init(&tmp);
		m = conv_add_msg(&tmp, CONV_ROLE_USER);
		if ((er = parse_parts(p, content, sub, m, NULL)) == KF_OK) {
			size_t	i;

			for (i = 0; i < m->n_blocks; i++)
				if (m->blocks[i].type != CONV_BLOCK_TEXT)
					break;
			if (i < m->n_blocks)
				er = bad(p, sub, "%s messages may hold "
				    "text only", role);
			else if ((text = conv_msg_text(m, "\n")) != NULL) {
				if (*text != '\0')
					conv_append_system(p->conv, text);
				free(text);
			}
		}
		conv_free(&tmp);
		return er;
	}
	p->seen_turn = 1;
	m = msg_for(p, strcmp(role, "assistant") == 0 ? CONV_ROLE_ASSISTANT :
	    CONV_ROLE_USER);
	if (json_object_is_type(content, json_type_string)) {
		conv_msg_add_block(m, CONV_BLOCK_TEXT)->text =
		    xstrdup(json_object_get_string(content));
		return KF_OK;
	}
	return parse_parts(p, content, sub, m, NULL);
}

/* A tool use in the assistant turn, taking input (NULL is {}). */
static void
add_tool_use(struct parse *p, const char *call_id, const char *name,
    json_object *input)
{
	struct conv_block	*b;

	p->seen_turn = 1;
	b = conv_msg_add_block(msg_for(p, CONV_ROLE_ASSISTANT),
	    CONV_BLOCK_TOOL_USE);
	b->id = xstrdup(call_id);
	b->name = xstrdup(name);
	b->input = input != NULL ? input : json_object_new_object();
}

/* A tool result in the user turn, answering call_id. */
static struct conv_block *
add_tool_result(struct parse *p, const char *call_id)
{
	struct conv_block	*b;

	p->seen_turn = 1;
	b = conv_msg_add_block(msg_for(p, CONV_ROLE_USER),
	    CONV_BLOCK_TOOL_RESULT);
	b->id = xstrdup(call_id);
	return b;
}

/* The message a note about an item goes to. */
static struct conv_msg *
note_msg(struct parse *p, enum conv_role role)
{
	p->seen_turn = 1;
	return msg_for(p, role);
}

/*
 * A required object member, *out borrowed: "field required" and "must be
 * an object" name it by path.
 */
static enum kf_err
want_obj(struct parse *p, json_object *item, const char *path,
    const char *key, json_object **out)
{
	return want(p, item, path, key, json_type_object, PC_REQUIRED, out);
}

/* function_call and custom_tool_call: an assistant tool use. */
static enum kf_err
parse_call(struct parse *p, json_object *item, const char *path, int custom)
{
	json_object		*args = NULL;
	const char		*call_id, *name, *s;
	char			 sub[200];
	enum kf_err		 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK ||
	    (er = want_str(p, item, path, "name", 1, &name)) != KF_OK ||
	    (er = want_str(p, item, path, custom ? "input" : "arguments", 1,
	    &s)) != KF_OK)
		return er;
	if (custom) {
		args = json_object_new_object();
		json_object_object_add(args, OPENAI_RESPONSES_CUSTOM_INPUT,
		    json_str(s));
	} else {
		snprintf(sub, sizeof(sub), "%s.arguments", path);
		if (*s == '\0')
			args = json_object_new_object();
		else if (json_parse(s, strlen(s), JSON_MAX_DEPTH, &args,
		    NULL) != KF_OK ||
		    !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			return bad(p, sub, "must be a JSON object in a string");
		}
	}
	add_tool_use(p, call_id, name, args);
	return KF_OK;
}

/* function_call_output and custom_tool_call_output: a user tool result. */
static enum kf_err
parse_call_output(struct parse *p, json_object *item, const char *path)
{
	struct conv_block	*b;
	json_object		*out;
	const char		*call_id;
	char			 sub[200];
	enum kf_err		 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK)
		return er;
	snprintf(sub, sizeof(sub), "%s.output", path);
	if (!json_object_object_get_ex(item, "output", &out) || out == NULL)
		return bad(p, sub, "field required");
	if (!json_object_is_type(out, json_type_string) &&
	    !json_object_is_type(out, json_type_array))
		return bad(p, sub, "must be a string or an array, not %s",
		    json_type_label(out));
	b = add_tool_result(p, call_id);
	if (json_object_is_type(out, json_type_string)) {
		conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
		    xstrdup(json_object_get_string(out));
		return KF_OK;
	}
	return parse_parts(p, out, sub, NULL, b);
}

static enum kf_err
parse_function_call(struct parse *p, json_object *item, const char *path)
{
	return parse_call(p, item, path, 0);
}

static enum kf_err
parse_custom_call(struct parse *p, json_object *item, const char *path)
{
	return parse_call(p, item, path, 1);
}

/*
 * local_shell_call: a call of the local_shell tool, whose arguments are
 * its action ({"type":"exec","command":[...],...}) without the type.
 */
static enum kf_err
parse_local_shell_call(struct parse *p, json_object *item, const char *path)
{
	struct json_object_iter	 it;
	json_object		*action, *input;
	const char		*call_id;
	enum kf_err		 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK ||
	    (er = want_obj(p, item, path, "action", &action)) != KF_OK)
		return er;
	input = json_object_new_object();
	json_object_object_foreachC(action, it)
		if (strcmp(it.key, "type") != 0)
			json_object_object_add(input, it.key,
			    json_object_get(it.val));
	add_tool_use(p, call_id, OPENAI_RESPONSES_LOCAL_SHELL, input);
	return KF_OK;
}

/* local_shell_call_output: its output string; the call is id or call_id. */
static enum kf_err
parse_local_shell_output(struct parse *p, json_object *item,
    const char *path)
{
	const char	*call_id, *output;
	enum kf_err	 er;

	if ((er = want_str(p, item, path, "call_id", 0, &call_id)) != KF_OK ||
	    (call_id == NULL && (er = want_str(p, item, path, "id", 1,
	    &call_id)) != KF_OK) ||
	    (er = want_str(p, item, path, "output", 1, &output)) != KF_OK)
		return er;
	conv_block_add_content(add_tool_result(p, call_id),
	    CONV_BLOCK_TEXT)->text = xstrdup(output);
	return KF_OK;
}

/*
 * The client-run tools whose call carries its arguments as an object
 * member: shell_call's action, apply_patch_call's operation,
 * computer_call's action.  The tool use is named for the tool.
 */
static enum kf_err
parse_object_call(struct parse *p, json_object *item, const char *path,
    const char *member, const char *tool)
{
	json_object	*args;
	const char	*call_id;
	enum kf_err	 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK ||
	    (er = want_obj(p, item, path, member, &args)) != KF_OK)
		return er;
	add_tool_use(p, call_id, tool, json_object_get(args));
	return KF_OK;
}

static enum kf_err
parse_shell_call(struct parse *p, json_object *item, const char *path)
{
	return parse_object_call(p, item, path, "action", "shell");
}

static enum kf_err
parse_apply_patch_call(struct parse *p, json_object *item, const char *path)
{
	return parse_object_call(p, item, path, "operation", "apply_patch");
}

static enum kf_err
parse_computer_call(struct parse *p, json_object *item, const char *path)
{
	return parse_object_call(p, item, path, "action", "computer");
}

/* One shell command's outcome as text: its stdout, stderr and exit. */
static void
shell_outcome_text(struct buf *t, json_object *o)
{
	json_object	*outcome;
	const char	*s;
	int64_t		 code;

	if (!json_object_is_type(o, json_type_object)) {
		json_to_buf(o, t);
		buf_putc(t, '\n');
		return;
	}
	if (json_get_str(o, "stdout", &s) == 1 && *s != '\0')
		buf_printf(t, "%s\n", s);
	if (json_get_str(o, "stderr", &s) == 1 && *s != '\0')
		buf_printf(t, "[stderr]\n%s\n", s);
	if (json_get_obj(o, "outcome", &outcome) != 1)
		return;
	if (json_get_int(outcome, "exit_code", &code) == 1)
		buf_printf(t, "[exit code %lld]\n", (long long)code);
	else if (json_get_str(outcome, "type", &s) == 1)
		buf_printf(t, "[%s]\n", s);
}

/* shell_call_output: the outcome of each command, or a string. */
static enum kf_err
parse_shell_output(struct parse *p, json_object *item, const char *path)
{
	json_object	*out;
	struct buf	 t = BUF_INIT;
	const char	*call_id;
	char		 sub[200];
	size_t		 i, n;
	enum kf_err	 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK)
		return er;
	snprintf(sub, sizeof(sub), "%s.output", path);
	if (!json_object_object_get_ex(item, "output", &out) || out == NULL)
		return bad(p, sub, "field required");
	if (json_object_is_type(out, json_type_string))
		buf_puts(&t, json_object_get_string(out));
	else if (json_object_is_type(out, json_type_array)) {
		n = json_object_array_length(out);
		for (i = 0; i < n; i++)
			shell_outcome_text(&t, json_object_array_get_idx(out,
			    i));
	} else
		return bad(p, sub, "must be a string or an array, not %s",
		    json_type_label(out));
	conv_block_add_content(add_tool_result(p, call_id),
	    CONV_BLOCK_TEXT)->text = xstrdup(buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

/* apply_patch_call_output: its output text; status "failed" is an error. */
static enum kf_err
parse_apply_patch_output(struct parse *p, json_object *item,
    const char *path)
{
	struct conv_block	*b;
	const char		*call_id, *output, *status;
	enum kf_err		 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK ||
	    (er = want_str(p, item, path, "output", 0, &output)) != KF_OK ||
	    (er = want_str(p, item, path, "status", 0, &status)) != KF_OK)
		return er;
	b = add_tool_result(p, call_id);
	b->is_error = status != NULL && strcmp(status, "failed") == 0;
	conv_block_add_content(b, CONV_BLOCK_TEXT)->text = xstrdup(
	    output != NULL ? output : status != NULL ? status : "");
	return KF_OK;
}

/*
 * computer_call_output: a screenshot, kept as an image when its URL can
 * be fetched and as a note otherwise (an uploaded file_id cannot be).
 */
static enum kf_err
parse_computer_output(struct parse *p, json_object *item, const char *path)
{
	struct conv_block	*b, *img;
	json_object		*out;
	const char		*call_id, *url;
	char			 sub[200], *why = NULL, *media = NULL;
	char			*data = NULL;
	enum kf_err		 er;

	if ((er = want_str(p, item, path, "call_id", 1, &call_id)) != KF_OK ||
	    (er = want_obj(p, item, path, "output", &out)) != KF_OK)
		return er;
	snprintf(sub, sizeof(sub), "%s.output", path);
	if ((er = want_str(p, out, sub, "image_url", 0, &url)) != KF_OK)
		return er;
	b = add_tool_result(p, call_id);
	if (url != NULL && p->fetch != NULL) {
		if (p->fetch(p->fetch_arg, url, &media, &data, &why) ==
		    KF_OK) {
			img = conv_block_add_content(b, CONV_BLOCK_IMAGE);
			img->media_type = media;
			img->data = data;
			return KF_OK;
		}
		log_info("responses: %s: screenshot kept as a note: %s", sub,
		    why != NULL ? why : "fetch failed");
		free(why);
		free(media);
		free(data);
	}
	conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
	    xstrdup("[screenshot, not available]");
	return KF_OK;
}

/*
 * tool_search_call: a client-run search (with a call_id) is a tool use
 * like any other; a server-run one is a note of what was searched.
 */
static enum kf_err
parse_tool_search_call(struct parse *p, json_object *item, const char *path)
{
	json_object	*args = NULL;
	const char	*call_id;
	char		*text;
	enum kf_err	 er;

	if ((er = want_str(p, item, path, "call_id", 0, &call_id)) != KF_OK)
		return er;
	(void)json_object_object_get_ex(item, "arguments", &args);
	if (call_id != NULL) {
		add_tool_use(p, call_id, "tool_search",
		    json_object_is_type(args, json_type_object) ?
		    json_object_get(args) : NULL);
		return KF_OK;
	}
	text = args != NULL ? pc_json_text(args) : xstrdup("");
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "[tool search: %s]", text);
	free(text);
	return KF_OK;
}

/* The tools a tool search found, as "name: description" lines. */
static void
found_tools_text(struct buf *t, json_object *tools)
{
	json_object	*tool;
	const char	*name, *desc;
	size_t		 i, n;

	n = json_object_array_length(tools);
	for (i = 0; i < n; i++) {
		tool = json_object_array_get_idx(tools, i);
		if (json_get_str(tool, "name", &name) != 1)
			continue;
		buf_printf(t, "\n- %s", name);
		if (json_get_str(tool, "description", &desc) == 1 &&
		    *desc != '\0')
			buf_printf(t, ": %s", desc);
	}
}

static enum kf_err
parse_tool_search_output(struct parse *p, json_object *item,
    const char *path)
{
	json_object	*tools;
	struct buf	 t = BUF_INIT;
	const char	*call_id;
	enum kf_err	 er;

	if ((er = want_str(p, item, path, "call_id", 0, &call_id)) != KF_OK ||
	    (er = want(p, item, path, "tools", json_type_array, 0, &tools)) !=
	    KF_OK)
		return er;
	buf_puts(&t, "[tool search found these tools]");
	if (tools != NULL) {
		found_tools_text(&t, tools);
		if (p->found == NULL)
			p->found = json_object_new_array();
		json_object_array_add(p->found, json_object_get(tools));
	}
	if (call_id != NULL)
		conv_block_add_content(add_tool_result(p, call_id),
		    CONV_BLOCK_TEXT)->text = xstrdup(buf_cstr(&t));
	else
		pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

/*
 * The hosted web_search tool (web_search, web_search_preview and their
 * dated names): the gateway runs the model's searches through Kiro
 * (websearch.h); filters.allowed_domains limits the results.
 */
static enum kf_err
parse_web_search_tool(struct parse *p, json_object *tool, const char *path)
{
	json_object	*filters, *arr, *v;
	char		 sub[96], *why = NULL;
	size_t		 i, n;
	enum kf_err	 er;
	int		 rc;

	p->conv->web_search.enabled = 1;
	snprintf(sub, sizeof(sub), "%s.filters", path);
	if ((rc = json_get_obj(tool, "filters", &filters)) == -1)
		return bad(p, sub, "must be an object");
	if (rc != 1 || (rc = json_get_arr(filters, "allowed_domains",
	    &arr)) == 0)
		return KF_OK;
	snprintf(sub, sizeof(sub), "%s.filters.allowed_domains", path);
	if (rc == -1)
		return bad(p, sub, "must be an array of strings");
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			return bad(p, sub, "must be an array of strings");
		if (conv_add_search_domain(p->conv, 0,
		    json_object_get_string(v), &why) != KF_OK) {
			er = bad(p, sub, "%s", why);
			free(why);
			return er;
		}
	}
	return KF_OK;
}

/* web_search_call: what was searched or opened, and the sources seen. */
static enum kf_err
parse_web_search_call(struct parse *p, json_object *item, const char *path)
{
	json_object	*action, *sources, *v;
	struct buf	 t = BUF_INIT;
	const char	*type = "search", *s, *title, *snippet;
	size_t		 i, n;

	(void)path;
	if (json_get_obj(item, "action", &action) != 1)
		action = NULL;
	if (action != NULL)
		(void)json_get_str(action, "type", &type);
	if (strcmp(type, "open_page") == 0)
		buf_puts(&t, "[web page opened");
	else if (strcmp(type, "find") == 0 ||
	    strcmp(type, "find_in_page") == 0)
		buf_puts(&t, "[web page searched");
	else
		buf_puts(&t, "[web search");
	if (action != NULL && json_get_str(action, "query", &s) == 1)
		buf_printf(&t, ": query %s", s);
	if (action != NULL && json_get_str(action, "url", &s) == 1)
		buf_printf(&t, ": %s", s);
	if (action != NULL && json_get_str(action, "pattern", &s) == 1)
		buf_printf(&t, " for \"%s\"", s);
	buf_putc(&t, ']');
	if (action != NULL && json_get_arr(action, "sources", &sources) == 1) {
		n = json_object_array_length(sources);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(sources, i);
			if (json_get_str(v, "url", &s) != 1)
				continue;
			buf_puts(&t, "\n- ");
			if (json_get_str(v, "title", &title) == 1 &&
			    strcmp(title, s) != 0)
				buf_printf(&t, "%s - ", title);
			buf_puts(&t, s);
			/* The gateway's own items carry the snippet. */
			if (json_get_str(v, "snippet", &snippet) == 1)
				buf_printf(&t, "\n  %s", snippet);
		}
	}
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

/* file_search_call: the queries, and the text of each result. */
static enum kf_err
parse_file_search_call(struct parse *p, json_object *item, const char *path)
{
	json_object	*arr, *v;
	struct buf	 t = BUF_INIT;
	const char	*s;
	size_t		 i, n;

	(void)path;
	buf_puts(&t, "[file search");
	if (json_get_arr(item, "queries", &arr) == 1) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++)
			if (json_object_is_type((v = json_object_array_get_idx(
			    arr, i)), json_type_string))
				buf_printf(&t, "%s %s", i == 0 ? ":" : ";",
				    json_object_get_string(v));
	}
	buf_putc(&t, ']');
	if (json_get_arr(item, "results", &arr) == 1) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(arr, i);
			if (json_get_str(v, "filename", &s) == 1)
				buf_printf(&t, "\n%s:", s);
			if (json_get_str(v, "text", &s) == 1)
				buf_printf(&t, "\n%s", s);
		}
	}
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

/* image_generation_call: the image itself is no use to Kiro; its prompt is. */
static enum kf_err
parse_image_generation_call(struct parse *p, json_object *item,
    const char *path)
{
	const char	*prompt;

	(void)path;
	if (json_get_str(item, "revised_prompt", &prompt) == 1)
		pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "[image generated: "
		    "%s]", prompt);
	else
		pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "[image generated]");
	return KF_OK;
}

/* code_interpreter_call: the code run and the logs it printed. */
static enum kf_err
parse_code_interpreter_call(struct parse *p, json_object *item,
    const char *path)
{
	json_object	*outputs, *v;
	struct buf	 t = BUF_INIT;
	const char	*s;
	size_t		 i, n;

	(void)path;
	buf_puts(&t, "[code interpreter ran]");
	if (json_get_str(item, "code", &s) == 1)
		buf_printf(&t, "\n%s", s);
	if (json_get_arr(item, "outputs", &outputs) == 1) {
		n = json_object_array_length(outputs);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(outputs, i);
			if (json_get_str(v, "logs", &s) == 1)
				buf_printf(&t, "\n[output]\n%s", s);
			else if (json_get_str(v, "type", &s) == 1)
				buf_printf(&t, "\n[%s output]", s);
		}
	}
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

/* "label.name(arguments)" of an MCP item, into t. */
static void
mcp_call_text(struct buf *t, json_object *item)
{
	const char	*s;

	if (json_get_str(item, "server_label", &s) == 1)
		buf_printf(t, "%s.", s);
	if (json_get_str(item, "name", &s) == 1)
		buf_puts(t, s);
	if (json_get_str(item, "arguments", &s) == 1)
		buf_printf(t, "(%s)", s);
}

/* mcp_call: the call, run by OpenAI, and its output or error. */
static enum kf_err
parse_mcp_call(struct parse *p, json_object *item, const char *path)
{
	struct buf	 t = BUF_INIT;
	const char	*s;

	(void)path;
	buf_puts(&t, "[MCP call ");
	mcp_call_text(&t, item);
	buf_putc(&t, ']');
	if (json_get_str(item, "output", &s) == 1)
		buf_printf(&t, "\n%s", s);
	if (json_get_str(item, "error", &s) == 1)
		buf_printf(&t, "\n[error] %s", s);
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

static enum kf_err
parse_mcp_list_tools(struct parse *p, json_object *item, const char *path)
{
	json_object	*tools;
	struct buf	 t = BUF_INIT;
	const char	*label = "";

	(void)path;
	(void)json_get_str(item, "server_label", &label);
	buf_printf(&t, "[MCP server %s lists these tools]", label);
	if (json_get_arr(item, "tools", &tools) == 1)
		found_tools_text(&t, tools);
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

static enum kf_err
parse_mcp_approval_request(struct parse *p, json_object *item,
    const char *path)
{
	struct buf	t = BUF_INIT;

	(void)path;
	buf_puts(&t, "[MCP approval requested for ");
	mcp_call_text(&t, item);
	buf_putc(&t, ']');
	pc_note(note_msg(p, CONV_ROLE_ASSISTANT), "%s", buf_cstr(&t));
	buf_free(&t);
	return KF_OK;
}

static enum kf_err
parse_mcp_approval_response(struct parse *p, json_object *item,
    const char *path)
{
	const char	*reason;
	int		 approve = 0;

	(void)path;
	(void)json_get_bool(item, "approve", &approve);
	if (json_get_str(item, "reason", &reason) != 1)
		reason = NULL;
	pc_note(note_msg(p, CONV_ROLE_USER), "[MCP call %s%s%s]",
	    approve ? "approved" : "denied", reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
	return KF_OK;
}

/*
 * Reasoning is the model's own scratch work (Kiro keeps no signature to
 * check it against): not input.
 */
static enum kf_err
parse_reasoning_item(struct parse *p, json_object *item, const char *path)
{
	(void)p;
	(void)item;
	(void)path;
	return KF_OK;
}

/*
 * item_reference and compaction point at what OpenAI stored or encrypted,
 * which this gateway cannot read: the model is told something was there.
 */
static enum kf_err
parse_item_reference(struct parse *p, json_object *item, const char *path)
{
	const char	*id = "";

	(void)json_get_str(item, "id", &id);
	log_info("responses: %s: item_reference %s kept as a note (no "
	    "responses are stored here)", path, id);
	pc_note(note_msg(p, CONV_ROLE_USER), "[earlier item %s, not "
	    "available]", id);
	return KF_OK;
}

static enum kf_err
parse_compaction(struct parse *p, json_object *item, const char *path)
{
	(void)item;
	(void)path;
	pc_note(note_msg(p, CONV_ROLE_USER), "[earlier conversation "
	    "compacted; its summary is not available]");
	return KF_OK;
}

/*
 * An item type not known yet: a note, in the item's role if it has one.
 * A developer or system item before the first turn (Codex sends its
 * additional_tools so) joins the instructions, as such messages do, so
 * that the instructions after it stay the system prompt.
 */
static enum kf_err
parse_unknown_item(struct parse *p, json_object *item, const char *path,
    const char *type)
{
	const char	*role = "user";
	char		*note;

	log_info("responses: %s: \"%s\" items are not known here; kept as "
	    "a note", path, type);
	(void)json_get_str(item, "role", &role);
	if (!p->seen_turn && (strcmp(role, "developer") == 0 ||
	    strcmp(role, "system") == 0)) {
		note = xasprintf("[%s item]", type);
		conv_append_system(p->conv, note);
		free(note);
		return KF_OK;
	}
	pc_note(note_msg(p, strcmp(role, "assistant") == 0 ?
	    CONV_ROLE_ASSISTANT : CONV_ROLE_USER), "[%s item]", type);
	return KF_OK;
}

/* Every input item type the Responses API documents, and its reader. */
static const struct item_kind {
	const char	*type;
	enum kf_err	(*parse)(struct parse *, json_object *, const char *);
} item_kinds[] = {
	{ "message",			parse_message },
	{ "function_call",		parse_function_call },
	{ "function_call_output",	parse_call_output },
	{ "custom_tool_call",		parse_custom_call },
	{ "custom_tool_call_output",	parse_call_output },
	{ "local_shell_call",		parse_local_shell_call },
	{ "local_shell_call_output",	parse_local_shell_output },
	{ "shell_call",			parse_shell_call },
	{ "shell_call_output",		parse_shell_output },
	{ "apply_patch_call",		parse_apply_patch_call },
	{ "apply_patch_call_output",	parse_apply_patch_output },
	{ "computer_call",		parse_computer_call },
	{ "computer_call_output",	parse_computer_output },
	{ "tool_search_call",		parse_tool_search_call },
	{ "tool_search_output",		parse_tool_search_output },
	{ "web_search_call",		parse_web_search_call },
	{ "file_search_call",		parse_file_search_call },
	{ "image_generation_call",	parse_image_generation_call },
	{ "code_interpreter_call",	parse_code_interpreter_call },
	{ "mcp_call",			parse_mcp_call },
	{ "mcp_list_tools",		parse_mcp_list_tools },
	{ "mcp_approval_request",	parse_mcp_approval_request },
	{ "mcp_approval_response",	parse_mcp_approval_response },
	{ "reasoning",			parse_reasoning_item },
	{ "item_reference",		parse_item_reference },
	{ "compaction",			parse_compaction },
};

static enum kf_err
parse_item(struct parse *p, json_object *item, const char *path)
{
	const char	*type;
	size_t		 k;
	enum kf_err	 er;

	if (!json_object_is_type(item, json_type_object))
		return bad(p, path, "must be an object, not %s",
		    json_type_label(item));
	if ((er = want_str(p, item, path, "type", 0, &type)) != KF_OK)
		return er;
	/* EasyInputMessage: {role, content} without a type. */
	if (type == NULL)
		return parse_message(p, item, path);
	for (k = 0; k < sizeof(item_kinds) / sizeof(item_kinds[0]); k++)
		if (strcmp(type, item_kinds[k].type) == 0)
			return item_kinds[k].parse(p, item, path);
	return parse_unknown_item(p, item, path, type);
}

static enum kf_err
parse_input(struct parse *p, json_object *root)
{
	json_object	*v;
	struct pc_mark	 mark;
	char		 path[64];
	size_t		 i, n;
	enum kf_err	 er;

	p->conv->src_items = "input";
	if (!json_object_object_get_ex(root, "input", &v) || v == NULL)
		return bad(p, "input", "field required");
	if (json_object_is_type(v, json_type_string)) {
		conv_msg_add_block(conv_add_msg(p->conv, CONV_ROLE_USER),
		    CONV_BLOCK_TEXT)->text = xstrdup(json_object_get_string(v));
		return KF_OK;
	}
	if (!json_object_is_type(v, json_type_array))
		return bad(p, "input", "must be a string or an array of "
		    "items, not %s", json_type_label(v));
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "input[%zu]", i);
		pc_src_mark(p->conv, &mark);
		if ((er = parse_item(p, json_object_array_get_idx(v, i),
		    path)) != KF_OK)
			return er;
		pc_src_stamp(p->conv, &mark, i, 0, NULL);
	}
	if (p->conv->n_msgs == 0)
		return bad(p, "input", "at least one user message, tool "
		    "output or assistant item is required");
	return KF_OK;
}

static void
add_custom(struct openai_responses_req *req, const char *name)
{
	req->custom = xreallocarray(req->custom, req->n_custom + 1,
	    sizeof(*req->custom));
	req->custom[req->n_custom++] = xstrdup(name);
}

/* A custom (freeform) tool as a function of one string. */
static enum kf_err
parse_custom_tool(struct parse *p, json_object *tool, const char *path,
    struct conv_tool *t)
{
	json_object	*fmt, *schema, *props, *input;
	const char	*ftype, *syntax, *def;
	struct buf	 hint = BUF_INIT;
	char		 sub[200];
	enum kf_err	 er;
	int		 rc;

	snprintf(sub, sizeof(sub), "%s.format", path);
	if ((rc = json_get_obj(tool, "format", &fmt)) == -1)
		return bad(p, sub, "must be an object");
	ftype = "text";
	if (rc == 1 && (er = want_str(p, fmt, sub, "type", 1, &ftype)) !=
	    KF_OK)
		return er;
	if (strcmp(ftype, "grammar") == 0) {
		if ((er = want_str(p, fmt, sub, "syntax", 0, &syntax)) !=
		    KF_OK ||
		    (er = want_str(p, fmt, sub, "definition", 1, &def)) !=
		    KF_OK)
			return er;
		buf_printf(&hint, "The raw input to the tool (not JSON). It "
		    "must follow this %s grammar:\n%s",
		    syntax != NULL ? syntax : "", def);
	} else if (strcmp(ftype, "text") == 0)
		buf_puts(&hint, "The raw input to the tool, as free-form "
		    "text.");
	else {
		snprintf(sub, sizeof(sub), "%s.format.type", path);
		return bad(p, sub, "must be text or grammar, not \"%s\"",
		    ftype);
	}
	schema = json_object_new_object();
	json_object_object_add(schema, "type", json_str("object"));
	props = json_object_new_object();
	input = json_object_new_object();
	json_object_object_add(input, "type", json_str("string"));
	json_object_object_add(input, "description", json_str(hint.ptr));
	json_object_object_add(props, OPENAI_RESPONSES_CUSTOM_INPUT, input);
	json_object_object_add(schema, "properties", props);
	input = json_object_new_array();
	json_object_array_add(input, json_str(OPENAI_RESPONSES_CUSTOM_INPUT));
	json_object_object_add(schema, "required", input);
	json_object_put(t->schema);	/* pc_add_tool's placeholder */
	t->schema = schema;
	buf_free(&hint);
	return KF_OK;
}

/*
 * The local_shell tool as a function of its exec action's fields, the
 * shape of the action the client runs (openai-responses.h).
 */
static void
add_local_shell(struct parse *p)
{
	static const char schema[] = "{\"type\":\"object\",\"properties\":{"
	    "\"command\":{\"type\":\"array\",\"items\":{\"type\":"
	    "\"string\"},\"description\":\"The program and its arguments, "
	    "one per element (argv).\"},\"working_directory\":{\"type\":"
	    "\"string\",\"description\":\"Where to run it.\"},"
	    "\"timeout_ms\":{\"type\":\"integer\",\"description\":"
	    "\"Give up after this many milliseconds.\"},\"env\":{\"type\":"
	    "\"object\",\"additionalProperties\":{\"type\":\"string\"},"
	    "\"description\":\"Environment variables to set.\"}},"
	    "\"required\":[\"command\"]}";
	json_object	*o = NULL;

	if (p->req->local_shell)
		return;
	p->req->local_shell = 1;
	(void)json_parse(schema, sizeof(schema) - 1, JSON_MAX_DEPTH, &o, NULL);
	pc_add_tool(p->conv, OPENAI_RESPONSES_LOCAL_SHELL, "Runs a command "
	    "on the user's machine and returns its output.", o);
}

static enum kf_err
parse_tools(struct parse *p, json_object *root)
{
	json_object		*arr, *tool, *schema;
	struct conv_tool	*t;
	const char		*type, *name, *desc;
	struct pc_mark		 mark;
	char			 path[64], sub[80];
	size_t			 i, n;
	enum kf_err		 er;
	int			 rc, custom;

	if ((er = want(p, root, "", "tools", json_type_array, 0,
	    &arr)) != KF_OK || arr == NULL)
		return er;
	n = json_object_array_length(arr);
	/* Each tool the item adds is stamped with its index (source path). */
	for (i = 0; i < n; pc_src_stamp(p->conv, &mark, i, 0, NULL), i++) {
		pc_src_mark(p->conv, &mark);
		tool = json_object_array_get_idx(arr, i);
		snprintf(path, sizeof(path), "tools[%zu]", i);
		if (!json_object_is_type(tool, json_type_object))
			return bad(p, path, "must be an object");
		if ((er = want_str(p, tool, path, "type", 1, &type)) != KF_OK)
			return er;
		custom = strcmp(type, "custom") == 0;
		if (strcmp(type, "local_shell") == 0) {
			add_local_shell(p);
			continue;
		}
		if (strncmp(type, "web_search", 10) == 0) {
			if ((er = parse_web_search_tool(p, tool, path)) !=
			    KF_OK)
				return er;
			continue;
		}
		/*
		 * Hosted tools (web_search, file_search, code_interpreter,
		 * ...) run inside OpenAI's API and Codex's namespace tools
		 * need its own call routing; Kiro can run neither, and a
		 * definition without a schema would only confuse the model.
		 */
		if (!custom && strcmp(type, "function") != 0) {
			log_info("responses: %s: \"%s\" tool dropped: Kiro "
			    "cannot run it", path, type);
			continue;
		}
		if ((er = want_str(p, tool, path, "name", 1, &name)) != KF_OK ||
		    (er = want_str(p, tool, path, "description", 0, &desc)) !=
		    KF_OK)
			return er;
		if (*name == '\0') {
			snprintf(sub, sizeof(sub), "%s.name", path);
			return bad(p, sub, "must not be empty");
		}
		if (custom) {
			t = pc_add_tool(p->conv, name, desc, NULL);
			add_custom(p->req, name);
			if ((er = parse_custom_tool(p, tool, path, t)) != KF_OK)
				return er;
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.parameters", path);
		if ((rc = json_get_obj(tool, "parameters", &schema)) == -1)
			return bad(p, sub, "must be an object");
		pc_add_tool(p->conv, name, desc, rc == 1 ?
		    json_object_get(schema) : NULL);
	}
	return KF_OK;
}

/*
 * The tool types a tool_choice may name that Kiro is not offered: OpenAI's
 * hosted tools, and client tools with no schema here (shell, apply_patch).
 */
static int
is_hosted_tool(const char *type)
{
	static const char *const hosted[] = {
		"web_search", "web_search_preview", "web_search_2025_08_26",
		"web_search_preview_2025_03_11", "file_search",
		"code_interpreter", "image_generation", "computer_use_preview",
		"computer", "mcp", "tool_search", "shell", "apply_patch",
	};
	size_t	i;

	for (i = 0; i < sizeof(hosted) / sizeof(hosted[0]); i++)
		if (strcmp(type, hosted[i]) == 0)
			return 1;
	return 0;
}

/*
 * The function tools a tool search found earlier in the conversation are
 * offered to Kiro too, so the model can call them again (OpenAI keeps
 * them loaded); names tools already has are skipped.  A json-c object
 * serves as the set of names, for a lookup per tool that does not grow
 * with the list.
 */
static void
add_found_tools(struct parse *p)
{
	json_object	*names, *tools, *tool, *schema;
	const char	*type, *name, *desc;
	size_t		 i, j, n, m;

	if (p->found == NULL)
		return;
	names = json_object_new_object();
	for (i = 0; i < p->conv->n_tools; i++)
		json_object_object_add(names, p->conv->tools[i].name, NULL);
	n = json_object_array_length(p->found);
	for (i = 0; i < n; i++) {
		tools = json_object_array_get_idx(p->found, i);
		m = json_object_array_length(tools);
		for (j = 0; j < m; j++) {
			tool = json_object_array_get_idx(tools, j);
			if (json_get_str(tool, "type", &type) != 1 ||
			    strcmp(type, "function") != 0 ||
			    json_get_str(tool, "name", &name) != 1 ||
			    *name == '\0' ||
			    json_object_object_get_ex(names, name, NULL))
				continue;
			if (json_get_str(tool, "description", &desc) != 1)
				desc = NULL;
			if (json_get_obj(tool, "parameters", &schema) != 1)
				schema = NULL;
			json_object_object_add(names, name, NULL);
			pc_add_tool(p->conv, name, desc, schema != NULL ?
			    json_object_get(schema) : NULL);
		}
	}
	json_object_put(names);
}

static enum kf_err
parse_tool_choice(struct parse *p, json_object *root)
{
	json_object	*tc;
	const char	*s, *name;
	enum kf_err	 er;

	if (!json_object_object_get_ex(root, "tool_choice", &tc) || tc == NULL)
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
			return bad(p, "tool_choice", "must be none, auto, "
			    "required or an object, not \"%s\"", s);
		return KF_OK;
	}
	if (!json_object_is_type(tc, json_type_object))
		return bad(p, "tool_choice", "must be a string or an object, "
		    "not %s", json_type_label(tc));
	if ((er = want_str(p, tc, "tool_choice", "type", 1, &s)) != KF_OK)
		return er;
	if (strcmp(s, "function") == 0 || strcmp(s, "custom") == 0) {
		if ((er = want_str(p, tc, "tool_choice", "name", 1, &name)) !=
		    KF_OK)
			return er;
		p->conv->tool_choice = CONV_TOOL_CHOICE_TOOL;
		p->conv->tool_choice_name = xstrdup(name);
	} else if (strcmp(s, "allowed_tools") == 0) {
		/* The tools list itself is what the model sees. */
		if ((er = want_str(p, tc, "tool_choice", "mode", 0, &s)) !=
		    KF_OK)
			return er;
		p->conv->tool_choice = s != NULL && strcmp(s, "required") ==
		    0 ? CONV_TOOL_CHOICE_ANY : CONV_TOOL_CHOICE_AUTO;
	} else if (strcmp(s, "local_shell") == 0) {
		p->conv->tool_choice = CONV_TOOL_CHOICE_TOOL;
		p->conv->tool_choice_name = xstrdup(
		    OPENAI_RESPONSES_LOCAL_SHELL);
	} else if (is_hosted_tool(s)) {
		/* Kiro cannot run it: the choice is left to the model. */
		log_info("responses: tool_choice: hosted tool \"%s\" is left "
		    "to the model", s);
		p->conv->tool_choice = CONV_TOOL_CHOICE_AUTO;
	} else
		return bad(p, "tool_choice.type", "must be function, custom, "
		    "allowed_tools, local_shell or a hosted tool, not \"%s\"",
		    s);
	return KF_OK;
}

/* The index of the function or custom tool called name, or -1. */
static ssize_t
find_tool(const struct conv *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->n_tools; i++)
		if (strcmp(c->tools[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Forgets the custom tools whose tool was removed, in one pass. */
static void
drop_custom(struct openai_responses_req *req, const struct strset *removed)
{
	size_t	i, n_kept = 0;

	for (i = 0; i < req->n_custom; i++)
		if (strset_has(removed, req->custom[i]))
			free(req->custom[i]);
		else
			req->custom[n_kept++] = req->custom[i];
	req->n_custom = n_kept;
}

/*
 * allowed_tools: only the function and custom tools it lists are offered
 * to Kiro, so only they can be called; each must be declared in tools.
 * Hosted tools in the list are left out, as in tools.  *list is the list.
 */
static enum kf_err
allowed_tools(struct parse *p, json_object *root, json_object **list)
{
	struct strset	 declared = STRSET_INIT(0), keep = STRSET_INIT(0);
	struct strset	 removed = STRSET_INIT(0);
	json_object	*tc, *t;
	const char	*type, *name;
	char		 path[64], sub[80];
	size_t		 i, n;
	enum kf_err	 er = KF_OK;

	*list = NULL;
	if (json_get_obj(root, "tool_choice", &tc) != 1 ||
	    json_get_str(tc, "type", &type) != 1 ||
	    strcmp(type, "allowed_tools") != 0)
		return KF_OK;
	if ((er = want(p, tc, "tool_choice", "tools", json_type_array,
	    PC_REQUIRED, list)) != KF_OK)
		return er;
	/* Hash sets keep it linear: it runs before the caps check. */
	for (i = 0; i < p->conv->n_tools; i++)
		strset_add(&declared, p->conv->tools[i].name);
	n = json_object_array_length(*list);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(*list, i);
		snprintf(path, sizeof(path), "tool_choice.tools[%zu]", i);
		if (!json_object_is_type(t, json_type_object)) {
			er = bad(p, path, "must be an object");
			goto out;
		}
		if ((er = want_str(p, t, path, "type", 1, &type)) != KF_OK)
			goto out;
		if (strcmp(type, "local_shell") == 0)
			name = OPENAI_RESPONSES_LOCAL_SHELL;
		else if (strcmp(type, "function") == 0 ||
		    strcmp(type, "custom") == 0) {
			if ((er = want_str(p, t, path, "name", 1, &name)) !=
			    KF_OK)
				goto out;
			if (!strset_has(&declared, name)) {
				snprintf(sub, sizeof(sub), "%s.name", path);
				er = bad(p, sub, "no function or custom tool "
				    "named \"%s\" in tools", name);
				goto out;
			}
		} else if (json_get_str(t, "name", &name) != 1)
			continue;
		if (!strset_has(&keep, name))
			strset_add(&keep, name);
	}
	pc_keep_tools(p->conv, &keep, &removed);
	drop_custom(p->req, &removed);
out:
	strset_free(&declared);
	strset_free(&keep);
	strset_free(&removed);
	return er;
}

/*
 * The relay makes every answer honour "required" or a named tool
 * (constrain.h), so the tools must allow it.  "required" with only hosted
 * tools (which Kiro cannot run) is left to the model.
 */
static enum kf_err
check_tool_choice(struct parse *p, json_object *root)
{
	struct conv	*c = p->conv;
	json_object	*arr;
	enum kf_err	 er;

	if ((er = allowed_tools(p, root, &arr)) != KF_OK)
		return er;
	if (c->tool_choice == CONV_TOOL_CHOICE_ANY && c->n_tools == 0) {
		if (arr == NULL && json_get_arr(root, "tools", &arr) != 1)
			arr = NULL;
		if (arr == NULL || json_object_array_length(arr) == 0)
			return bad(p, "tool_choice", "required needs at least "
			    "one tool in tools");
		c->tool_choice = CONV_TOOL_CHOICE_AUTO;
		return KF_OK;
	}
	if (c->tool_choice != CONV_TOOL_CHOICE_TOOL ||
	    find_tool(c, c->tool_choice_name) != -1)
		return KF_OK;
	return bad(p, "tool_choice.name", "no function or custom tool named "
	    "\"%s\" in tools", c->tool_choice_name);
}

static enum kf_err
parse_reasoning(struct parse *p, json_object *root)
{
	json_object	*r;
	const char	*effort, *level;
	long		 budget;
	enum kf_err	 er;

	if ((er = want(p, root, "", "reasoning", json_type_object, 0,
	    &r)) != KF_OK || r == NULL)
		return er;
	if ((er = want_str(p, r, "reasoning", "effort", 0, &effort)) != KF_OK)
		return er;
	if (effort == NULL)
		return KF_OK;
	if (pc_effort(effort, &level, &budget) == -1)
		return bad(p, "reasoning.effort", "must be " PC_EFFORT_NAMES
		    ", not \"%s\"", effort);
	if (level == NULL) {
		p->conv->thinking = CONV_THINKING_OFF;
		return KF_OK;
	}
	/* Kiro's three levels, adaptively (Codex's models think so). */
	p->conv->thinking = CONV_THINKING_ADAPTIVE;
	free(p->conv->thinking_effort);
	p->conv->thinking_effort = xstrdup(level);
	return KF_OK;
}

static enum kf_err
parse_text_format(struct parse *p, json_object *root)
{
	json_object	*text, *fmt, *schema;
	const char	*type;
	enum kf_err	 er;
	int		 rc;

	if ((er = want(p, root, "", "text", json_type_object, 0,
	    &text)) != KF_OK || text == NULL)
		return er;
	if ((er = want(p, text, "text", "format", json_type_object, 0,
	    &fmt)) != KF_OK || fmt == NULL)
		return er;
	if ((er = want_str(p, fmt, "text.format", "type", 1, &type)) != KF_OK)
		return er;
	if ((er = pc_format_type(p->conv, type, "text.format.type", &rc,
	    p->cause, p->param)) != KF_OK || rc == 0)
		return er;
	if ((er = want(p, fmt, "text.format", "schema", json_type_object,
	    PC_REQUIRED, &schema)) != KF_OK)
		return er;
	p->conv->response_schema = json_object_get(schema);
	return KF_OK;
}

/* The request fields a response object repeats back. */
static const char *const echo_keys[] = {
	"instructions", "tools", "tool_choice", "parallel_tool_calls",
	"reasoning", "max_output_tokens", "store", "metadata", "text",
	"temperature", "top_p", "truncation", "user", "prompt_cache_key", NULL
};

/* The first quote, backslash or control byte from s[i] on, or len. */
static size_t
str_run(const unsigned char *s, size_t len, size_t i)
{
	const char	*p = (const char *)s;

	return (size_t)(json_str_run(p + i, p + len) - p);
}

/*
 * Past the string opening at s[i]; *loose set when it holds a raw control
 * byte (json-c takes them, an SSE line cannot), *escaped on a backslash.
 */
static size_t
skip_str(const unsigned char *s, size_t len, size_t i, int *loose,
    int *escaped)
{
	for (i++; i < len; i++) {
		i = str_run(s, len, i);
		if (i >= len || s[i] == '"')
			break;
		if (s[i] == '\\') {
			*escaped = 1;
			i++;
		} else
			*loose = 1;
	}
	return i < len ? i + 1 : len;
}

/* Past the value at s[i]; *loose set on white space inside it. */
static size_t
skip_value(const unsigned char *s, size_t len, size_t i, int *loose)
{
	size_t	depth = 0;
	int	escaped = 0;

	while (i < len) {
		switch (s[i]) {
		case '"':
			i = skip_str(s, len, i, loose, &escaped);
			if (depth == 0)
				return i;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
			break;
		case ',':
			if (depth == 0)
				return i;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			if (depth == 0)
				return i;
			*loose = 1;
			break;
		}
		i++;
	}
	return len;
}

static size_t
skip_space(const unsigned char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
	    s[i] == '\n'))
		i++;
	return i;
}

/*
 * The echoed fields' JSON text as the request spelled it, when compact:
 * copying the client's bytes costs a fraction of serialising the tree,
 * and the instructions and tool schemas run to tens of KB that three
 * response events repeat.  A field spelled with white space or a raw
 * control byte is left to the tree; so is every field when a top-level
 * key has an escape (json-c would read "tool\u0073" as "tools").
 */
static void
keep_echo_text(struct openai_responses_req *req, const char *body,
    size_t len)
{
	const unsigned char	*s = (const unsigned char *)body;
	size_t			 i, k, key, key_len, value;
	int			 loose = 0, escaped = 0;

	req->echo_text = json_object_new_object();
	if ((i = skip_space(s, len, 0)) >= len || s[i] != '{')
		return;
	for (i++;;) {
		if ((i = skip_space(s, len, i)) >= len || s[i] != '"')
			return;
		key = i + 1;
		i = skip_str(s, len, i, &loose, &escaped);
		key_len = i - 1 - key;
		if (escaped) {
			json_object_put(req->echo_text);
			req->echo_text = NULL;
			return;
		}
		if ((i = skip_space(s, len, i)) >= len || s[i] != ':')
			return;
		value = i = skip_space(s, len, i + 1);
		loose = 0;
		i = skip_value(s, len, i, &loose);
		for (k = 0; echo_keys[k] != NULL; k++)
			if (strlen(echo_keys[k]) == key_len &&
			    memcmp(echo_keys[k], body + key, key_len) == 0)
				break;
		/* The last of a repeated key wins, as in json-c. */
		if (echo_keys[k] != NULL && !loose && i > value)
			json_object_object_add(req->echo_text, echo_keys[k],
			    json_strn(body + value, i - value));
		else if (echo_keys[k] != NULL)
			json_object_object_del(req->echo_text, echo_keys[k]);
		if ((i = skip_space(s, len, i)) >= len || s[i] != ',')
			return;
		i++;
	}
}

static void
keep_echo(struct openai_responses_req *req, json_object *root,
    const char *body, size_t len)
{
	json_object	*v;
	size_t		 i;

	json_object_put(req->echo);
	req->echo = json_object_new_object();
	for (i = 0; echo_keys[i] != NULL; i++)
		if (json_object_object_get_ex(root, echo_keys[i], &v))
			json_object_object_add(req->echo, echo_keys[i],
			    json_object_get(v));
	json_object_put(req->echo_text);
	keep_echo_text(req, body, len);
}

enum kf_err
openai_responses_parse(const char *body, size_t len, struct conv *conv,
    struct openai_responses_req *req, openai_responses_fetch_fn fetch,
    void *fetch_arg, char **cause, char **param)
{
	struct parse		 p;
	json_object		*root = NULL;
	const struct model_info	*m = NULL;
	const char		*model, *s;
	int64_t			 max_tokens;
	int			 rc, flag, thinking_name = 0;
	enum kf_err		 er;

	memset(&p, 0, sizeof(p));
	p.conv = conv;
	p.req = req;
	p.fetch = fetch;
	p.fetch_arg = fetch_arg;
	p.cause = cause;
	p.param = param;
	if ((er = pc_root(body, len, "body", &root, cause, param)) != KF_OK)
		goto out;
	if ((er = want_str(&p, root, "", "previous_response_id", 0, &s)) !=
	    KF_OK)
		goto out;
	if (s != NULL) {
		er = bad(&p, "previous_response_id", "not supported: this "
		    "gateway stores no responses; send the whole conversation "
		    "in input with store:false (as Codex does)");
		goto out;
	}
	if ((er = want_str(&p, root, "", "model", 1, &model)) != KF_OK)
		goto out;
	if ((er = pc_model(conv, model, 0, &m, &thinking_name, cause,
	    param)) != KF_OK)
		goto out;
	if (thinking_name) {
		conv->thinking = CONV_THINKING_ADAPTIVE;
		conv->thinking_effort = xstrdup("high");
	}
	if ((rc = json_get_int(root, "max_output_tokens", &max_tokens)) ==
	    -1 || (rc == 1 && max_tokens < 1)) {
		er = bad(&p, "max_output_tokens", "must be a positive integer");
		goto out;
	}
	conv->max_tokens = rc == 1 ? (long)max_tokens : 0;
	if ((rc = json_get_bool(root, "stream", &flag)) == -1) {
		er = bad(&p, "stream", "must be a boolean");
		goto out;
	}
	conv->stream = rc == 1 && flag;
	/* store:true is accepted, but nothing is stored. */
	if (json_get_bool(root, "store", &flag) == -1) {
		er = bad(&p, "store", "must be a boolean");
		goto out;
	}
	if ((rc = json_get_bool(root, "parallel_tool_calls", &flag)) == -1) {
		er = bad(&p, "parallel_tool_calls", "must be a boolean");
		goto out;
	}
	conv->single_tool_call = rc == 1 && !flag;
	if ((er = want_str(&p, root, "", "instructions", 0, &s)) != KF_OK)
		goto out;
	if (s != NULL && *s != '\0')
		conv_append_system(conv, s);
	if ((er = want_str(&p, root, "", "prompt_cache_key", 0, &s)) != KF_OK)
		goto out;
	if (s == NULL && (er = want_str(&p, root, "", "user", 0, &s)) != KF_OK)
		goto out;
	if (s != NULL && *s != '\0')
		conv->session_key = xstrdup(s);
	if ((er = parse_input(&p, root)) != KF_OK ||
	    (er = parse_tools(&p, root)) != KF_OK)
		goto out;
	add_found_tools(&p);
	if ((er = parse_tool_choice(&p, root)) != KF_OK ||
	    (er = check_tool_choice(&p, root)) != KF_OK ||
	    (er = parse_reasoning(&p, root)) != KF_OK ||
	    (er = parse_text_format(&p, root)) != KF_OK)
		goto out;
	keep_echo(req, root, body, len);
out:
	json_object_put(p.found);
	json_object_put(root);
	return er;
}

int
openai_responses_is_custom(const struct openai_responses_req *req,
    const char *name)
{
	size_t	i;

	for (i = 0; i < req->n_custom; i++)
		if (strcmp(req->custom[i], name) == 0)
			return 1;
	return 0;
}

void
openai_responses_req_free(struct openai_responses_req *req)
{
	size_t	i;

	for (i = 0; i < req->n_custom; i++)
		free(req->custom[i]);
	free(req->custom);
	req->local_shell = 0;
	json_object_put(req->echo);
	json_object_put(req->echo_text);
	memset(req, 0, sizeof(*req));
}
