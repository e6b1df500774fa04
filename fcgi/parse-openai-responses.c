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
#include "models.h"
#include "openai-responses.h"
#include "parse-common.h"
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

/* function_call and custom_tool_call: an assistant tool use. */
static enum kf_err
parse_call(struct parse *p, json_object *item, const char *path, int custom)
{
	struct conv_block	*b;
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
	p->seen_turn = 1;
	b = conv_msg_add_block(msg_for(p, CONV_ROLE_ASSISTANT),
	    CONV_BLOCK_TOOL_USE);
	b->id = xstrdup(call_id);
	b->name = xstrdup(name);
	b->input = args;
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
	p->seen_turn = 1;
	b = conv_msg_add_block(msg_for(p, CONV_ROLE_USER),
	    CONV_BLOCK_TOOL_RESULT);
	b->id = xstrdup(call_id);
	if (json_object_is_type(out, json_type_string)) {
		conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
		    xstrdup(json_object_get_string(out));
		return KF_OK;
	}
	return parse_parts(p, out, sub, NULL, b);
}

static enum kf_err
parse_input(struct parse *p, json_object *root)
{
	json_object	*v, *item;
	const char	*type;
	char		 path[64];
	size_t		 i, n;
	enum kf_err	 er;

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
		item = json_object_array_get_idx(v, i);
		snprintf(path, sizeof(path), "input[%zu]", i);
		if (!json_object_is_type(item, json_type_object))
			return bad(p, path, "must be an object, not %s",
			    json_type_label(item));
		if ((er = want_str(p, item, path, "type", 0, &type)) != KF_OK)
			return er;
		/* EasyInputMessage: {role, content} without a type. */
		if (type == NULL || strcmp(type, "message") == 0)
			er = parse_message(p, item, path);
		else if (strcmp(type, "function_call") == 0)
			er = parse_call(p, item, path, 0);
		else if (strcmp(type, "custom_tool_call") == 0)
			er = parse_call(p, item, path, 1);
		else if (strcmp(type, "function_call_output") == 0 ||
		    strcmp(type, "custom_tool_call_output") == 0)
			er = parse_call_output(p, item, path);
		else if (strcmp(type, "reasoning") == 0 ||
		    strcmp(type, "web_search_call") == 0)
			/*
			 * Reasoning is the model's own scratch work (Kiro
			 * keeps no signature to check it against); web
			 * searches ran on OpenAI's side.  Neither is input.
			 */
			er = KF_OK;
		else if (strcmp(type, "item_reference") == 0) {
			snprintf(path + strlen(path), sizeof(path) -
			    strlen(path), ".type");
			er = bad(p, path, "item_reference needs stored "
			    "responses, which this gateway does not keep; "
			    "send the items themselves");
		} else {
			snprintf(path + strlen(path), sizeof(path) -
			    strlen(path), ".type");
			er = bad(p, path, "\"%s\" items are not supported",
			    type);
		}
		if (er != KF_OK)
			return er;
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

static enum kf_err
parse_tools(struct parse *p, json_object *root)
{
	json_object		*arr, *tool, *schema;
	struct conv_tool	*t;
	const char		*type, *name, *desc;
	char			 path[64], sub[80];
	size_t			 i, n;
	enum kf_err		 er;
	int			 rc, custom;

	if ((er = want(p, root, "", "tools", json_type_array, 0,
	    &arr)) != KF_OK || arr == NULL)
		return er;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		tool = json_object_array_get_idx(arr, i);
		snprintf(path, sizeof(path), "tools[%zu]", i);
		if (!json_object_is_type(tool, json_type_object))
			return bad(p, path, "must be an object");
		if ((er = want_str(p, tool, path, "type", 1, &type)) != KF_OK)
			return er;
		custom = strcmp(type, "custom") == 0;
		/*
		 * Hosted tools (web_search, file_search, code_interpreter,
		 * ...) run inside OpenAI's API and Codex's namespace tools
		 * need its own call routing; Kiro can run neither, and a
		 * definition without a schema would only confuse the model.
		 */
		if (!custom && strcmp(type, "function") != 0)
			continue;
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
	} else
		return bad(p, "tool_choice.type", "must be function, custom "
		    "or allowed_tools, not \"%s\"", s);
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

/* Forgets that name is a custom tool (its tool was removed). */
static void
drop_custom(struct openai_responses_req *req, const char *name)
{
	size_t	i;

	for (i = 0; i < req->n_custom; i++)
		if (strcmp(req->custom[i], name) == 0) {
			free(req->custom[i]);
			memmove(&req->custom[i], &req->custom[i + 1],
			    (req->n_custom - i - 1) * sizeof(req->custom[0]));
			req->n_custom--;
			return;
		}
}

/*
 * allowed_tools: only the function and custom tools it lists are offered
 * to Kiro, so only they can be called; each must be declared in tools.
 * Hosted tools in the list are left out, as in tools.  *list is the list.
 */
static enum kf_err
allowed_tools(struct parse *p, json_object *root, json_object **list)
{
	json_object	*tc, *t;
	const char	*type, *name;
	char		 path[64], sub[80];
	size_t		 i, j, n;
	enum kf_err	 er;
	int		 keep;

	*list = NULL;
	if (json_get_obj(root, "tool_choice", &tc) != 1 ||
	    json_get_str(tc, "type", &type) != 1 ||
	    strcmp(type, "allowed_tools") != 0)
		return KF_OK;
	if ((er = want(p, tc, "tool_choice", "tools", json_type_array,
	    PC_REQUIRED, list)) != KF_OK)
		return er;
	n = json_object_array_length(*list);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(*list, i);
		snprintf(path, sizeof(path), "tool_choice.tools[%zu]", i);
		if (!json_object_is_type(t, json_type_object))
			return bad(p, path, "must be an object");
		if ((er = want_str(p, t, path, "type", 1, &type)) != KF_OK)
			return er;
		if (strcmp(type, "function") != 0 &&
		    strcmp(type, "custom") != 0)
			continue;
		if ((er = want_str(p, t, path, "name", 1, &name)) != KF_OK)
			return er;
		if (find_tool(p->conv, name) == -1) {
			snprintf(sub, sizeof(sub), "%s.name", path);
			return bad(p, sub, "no function or custom tool named "
			    "\"%s\" in tools", name);
		}
	}
	for (j = p->conv->n_tools; j-- > 0;) {
		keep = 0;
		for (i = 0; i < n && !keep; i++)
			keep = json_get_str(json_object_array_get_idx(*list, i),
			    "name", &name) == 1 &&
			    strcmp(name, p->conv->tools[j].name) == 0;
		if (!keep) {
			drop_custom(p->req, p->conv->tools[j].name);
			conv_remove_tool(p->conv, j);
		}
	}
	return KF_OK;
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

/* Bytes that end a run inside a JSON string: a quote, an escape, a control. */
static const unsigned char str_stop[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/*
 * Past the string opening at s[i]; *loose set when it holds a raw control
 * byte (json-c takes them, an SSE line cannot), *escaped on a backslash.
 */
static size_t
skip_str(const unsigned char *s, size_t len, size_t i, int *loose,
    int *escaped)
{
	for (i++; i < len; i++) {
		while (i < len && !str_stop[s[i]])
			i++;
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
	    (er = parse_tools(&p, root)) != KF_OK ||
	    (er = parse_tool_choice(&p, root)) != KF_OK ||
	    (er = check_tool_choice(&p, root)) != KF_OK ||
	    (er = parse_reasoning(&p, root)) != KF_OK ||
	    (er = parse_text_format(&p, root)) != KF_OK)
		goto out;
	keep_echo(req, root, body, len);
out:
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
	json_object_put(req->echo);
	json_object_put(req->echo_text);
	memset(req, 0, sizeof(*req));
}
