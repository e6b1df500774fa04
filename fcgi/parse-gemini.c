/* parse-gemini.c: a Gemini generateContent request into the neutral conversation. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conv.h"
#include "digest.h"
#include "gemini.h"
#include "json.h"
#include "log.h"
#include "models.h"
#include "parse-common.h"
#include "strset.h"
#include "xmalloc.h"

/*
 * The one place that knows the shape of a Gemini request.  Errors name the
 * field by its path, as Google's API does ("contents[0].parts[1].text").
 */

struct parse {
	struct conv		*conv;
	struct gemini_opts	*opts;
	char			**cause;
	/*
	 * A functionResponse answers a call of the last model turn: which
	 * turn that is, and which of its calls are answered, so finding the
	 * call costs that turn's calls, not the whole history.
	 */
	size_t			 last_model;	/* msgs index, or SIZE_MAX */
	unsigned char		*answered;	/* per block of that turn */
	size_t			 answered_for;	/* last_model it is for */
};

/* An error; its message starts with the path of the field. */
#define bad(p, ...)	pc_bad((p)->cause, NULL, NULL, __VA_ARGS__)
/* A member of a given JSON type, refused with its path (pc_want). */
#define want(p, ...)	pc_want((p)->cause, NULL, __VA_ARGS__)

/* A string field: KF_OK with *out NULL when absent and not required. */
static enum kf_err
want_str(struct parse *p, json_object *obj, const char *path,
    const char *key, int required, const char **out)
{
	return pc_want_str(p->cause, NULL, obj, path, key,
	    required ? PC_REQUIRED : 0, out);
}

static enum kf_err
parse_inline_data(struct parse *p, json_object *part, const char *path,
    struct conv_msg *m)
{
	struct conv_block	*b;
	json_object		*d;
	const char		*mime, *data, *media;
	char			 sub[192];
	long long		 decoded;
	enum kf_err		 er;

	if (json_get_obj(part, "inlineData", &d) != 1)
		return bad(p, "%s.inlineData: must be an object", path);
	snprintf(sub, sizeof(sub), "%s.inlineData", path);
	if ((er = want_str(p, d, sub, "mimeType", 1, &mime)) != KF_OK ||
	    (er = want_str(p, d, sub, "data", 1, &data)) != KF_OK)
		return er;
	if ((decoded = base64_decoded_len(data, strlen(data))) <= 0)
		return bad(p, "%s.data: not valid base64", sub);
	if ((media = pc_image_media(mime)) == NULL) {
		/* Audio, video, PDF...: Kiro reads text and images only. */
		log_info("gemini: %s: %s data kept as a note", sub, mime);
		pc_note(m, "[%s data, %lld bytes: not readable here]", mime,
		    decoded);
		return KF_OK;
	}
	if (decoded > GEMINI_MAX_IMAGE_BYTES)
		return bad(p, "%s.data: image of %lld bytes is over the %ld "
		    "byte limit", sub, decoded, GEMINI_MAX_IMAGE_BYTES);
	b = conv_msg_add_block(m, CONV_BLOCK_IMAGE);
	b->media_type = xstrdup(media);
	b->data = base64_standard(data, strlen(data));
	return KF_OK;
}

static enum kf_err
parse_function_call(struct parse *p, json_object *part, const char *path,
    size_t ci, size_t pi, struct conv_msg *m)
{
	struct conv_block	*b;
	json_object		*fc, *args;
	const char		*name, *id;
	char			 sub[192];
	enum kf_err		 er;
	int			 rc;

	if (json_get_obj(part, "functionCall", &fc) != 1)
		return bad(p, "%s.functionCall: must be an object", path);
	snprintf(sub, sizeof(sub), "%s.functionCall", path);
	if ((er = want_str(p, fc, sub, "name", 1, &name)) != KF_OK ||
	    (er = want_str(p, fc, sub, "id", 0, &id)) != KF_OK)
		return er;
	if (*name == '\0')
		return bad(p, "%s.name: must not be empty", sub);
	if ((rc = json_get_obj(fc, "args", &args)) == -1)
		return bad(p, "%s.args: must be an object", sub);
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
	b->name = xstrdup(name);
	/* Gemini's calls usually have no id: one by position, stable. */
	if (id != NULL && *id != '\0')
		b->id = xstrdup(id);
	else
		b->id = xasprintf("call_%zu_%zu", ci, pi);
	b->input = rc == 1 ? json_object_get(args) : json_object_new_object();
	return KF_OK;
}

/* The first unanswered TOOL_USE of the last model turn this one answers. */
static struct conv_block *
find_call(struct parse *p, const char *name, const char *id)
{
	struct conv_msg		*prev;
	struct conv_block	*b;
	size_t			 j;

	if (p->last_model == SIZE_MAX)
		return NULL;
	prev = &p->conv->msgs[p->last_model];
	if (p->answered == NULL || p->answered_for != p->last_model) {
		free(p->answered);
		p->answered = xcalloc(prev->n_blocks + 1, 1);
		p->answered_for = p->last_model;
	}
	for (j = 0; j < prev->n_blocks; j++) {
		b = &prev->blocks[j];
		if (b->type != CONV_BLOCK_TOOL_USE || p->answered[j])
			continue;
		if (id != NULL && *id != '\0' ? strcmp(b->id, id) != 0 :
		    strcmp(b->name, name) != 0)
			continue;
		p->answered[j] = 1;
		return b;
	}
	return NULL;
}

static enum kf_err
parse_function_response(struct parse *p, json_object *part,
    const char *path, struct conv_msg *m)
{
	struct conv_block	*b, *call, *t;
	json_object		*fr, *resp, *v;
	const char		*name, *id;
	char			 sub[192];
	enum kf_err		 er;
	int			 rc;

	if (json_get_obj(part, "functionResponse", &fr) != 1)
		return bad(p, "%s.functionResponse: must be an object", path);
	snprintf(sub, sizeof(sub), "%s.functionResponse", path);
	if ((er = want_str(p, fr, sub, "name", 1, &name)) != KF_OK ||
	    (er = want_str(p, fr, sub, "id", 0, &id)) != KF_OK)
		return er;
	if ((rc = json_get_obj(fr, "response", &resp)) == -1)
		return bad(p, "%s.response: must be an object", sub);
	if ((call = find_call(p, name, id)) == NULL)
		return bad(p, "%s: no unanswered functionCall %s%s%s\"%s\" in "
		    "the model turn before it", sub, id != NULL ? "with id \"" :
		    "named", id != NULL ? id : "", id != NULL ? "\" for " : " ",
		    name);
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
	b->id = xstrdup(call->id);
	t = conv_block_add_content(b, CONV_BLOCK_TEXT);
	/* {"output": "text"} is the usual form; anything else as JSON. */
	if (rc == 0)
		t->text = xstrdup("");
	else if (json_object_object_length(resp) == 1 &&
	    json_get_str(resp, "output", &name) == 1)
		t->text = xstrdup(name);
	else
		t->text = json_to_str(resp);
	b->is_error = rc == 1 && json_object_object_get_ex(resp, "error", &v) &&
	    v != NULL && !json_object_object_get_ex(resp, "output", NULL);
	return KF_OK;
}

/*
 * fileData points at a file in Google's storage, which Kiro cannot read:
 * the model is told what it was.
 */
static enum kf_err
parse_file_data(struct parse *p, json_object *part, const char *path,
    struct conv_msg *m)
{
	json_object	*fd;
	const char	*mime, *uri, *name;
	char		 sub[192];
	enum kf_err	 er;

	if (json_get_obj(part, "fileData", &fd) != 1)
		return bad(p, "%s.fileData: must be an object", path);
	snprintf(sub, sizeof(sub), "%s.fileData", path);
	if ((er = want_str(p, fd, sub, "fileUri", 1, &uri)) != KF_OK ||
	    (er = want_str(p, fd, sub, "mimeType", 0, &mime)) != KF_OK ||
	    (er = want_str(p, fd, sub, "displayName", 0, &name)) != KF_OK)
		return er;
	log_info("gemini: %s: file %s kept as a note (Kiro cannot fetch "
	    "it)", sub, uri);
	pc_note(m, "[file%s%s: %s%s%s%s, not readable here]",
	    name != NULL ? " " : "", name != NULL ? name : "", uri,
	    mime != NULL ? " (" : "", mime != NULL ? mime : "",
	    mime != NULL ? ")" : "");
	return KF_OK;
}

/* executableCode and codeExecutionResult, from Google's code runner. */
static enum kf_err
parse_code_part(struct parse *p, json_object *part, const char *path,
    struct conv_msg *m)
{
	json_object	*v;
	const char	*lang = NULL, *code = "", *outcome = NULL, *output = "";

	if (json_object_object_get_ex(part, "executableCode", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return bad(p, "%s.executableCode: must be an object",
			    path);
		(void)json_get_str(v, "language", &lang);
		(void)json_get_str(v, "code", &code);
		pc_note(m, "[code run%s%s%s]\n%s", lang != NULL ? " (" : "",
		    lang != NULL ? lang : "", lang != NULL ? ")" : "", code);
		return KF_OK;
	}
	(void)json_object_object_get_ex(part, "codeExecutionResult", &v);
	if (!json_object_is_type(v, json_type_object))
		return bad(p, "%s.codeExecutionResult: must be an object", path);
	(void)json_get_str(v, "outcome", &outcome);
	(void)json_get_str(v, "output", &output);
	pc_note(m, "[code result%s%s]\n%s", outcome != NULL ? ": " : "",
	    outcome != NULL ? outcome : "", output);
	return KF_OK;
}

/* A part of a kind not known yet: a note naming its fields. */
static enum kf_err
unknown_part(json_object *part, const char *path, struct conv_msg *m)
{
	struct json_object_iter	 it;
	struct buf		 keys = BUF_INIT;

	json_object_object_foreachC(part, it) {
		if (strcmp(it.key, "thought") == 0)
			continue;
		buf_printf(&keys, "%s%s", keys.len > 0 ? ", " : "", it.key);
	}
	log_info("gemini: %s: a %s part is not known here; kept as a note",
	    path, buf_cstr(&keys));
	pc_note(m, "[%s part]", buf_cstr(&keys));
	buf_free(&keys);
	return KF_OK;
}

static enum kf_err
parse_part(struct parse *p, json_object *part, size_t ci, size_t pi,
    enum conv_role role, struct conv_msg *m)
{
	struct conv_block	*b;
	const char		*text, *sig;
	char			 path[96];
	int			 thought = 0, rc;
	enum kf_err		 er;

	snprintf(path, sizeof(path), "contents[%zu].parts[%zu]", ci, pi);
	if (!json_object_is_type(part, json_type_object))
		return bad(p, "%s: must be an object, not %s", path,
		    json_type_label(part));
	if (json_object_object_get_ex(part, "functionCall", NULL)) {
		if (role != CONV_ROLE_ASSISTANT)
			return bad(p, "%s.functionCall: only a \"model\" turn "
			    "can call functions", path);
		return parse_function_call(p, part, path, ci, pi, m);
	}
	if (json_object_object_get_ex(part, "functionResponse", NULL)) {
		if (role != CONV_ROLE_USER)
			return bad(p, "%s.functionResponse: must be in a "
			    "\"user\" turn", path);
		return parse_function_response(p, part, path, m);
	}
	if (json_object_object_get_ex(part, "inlineData", NULL))
		return parse_inline_data(p, part, path, m);
	if (json_object_object_get_ex(part, "fileData", NULL))
		return parse_file_data(p, part, path, m);
	if (json_object_object_get_ex(part, "executableCode", NULL) ||
	    json_object_object_get_ex(part, "codeExecutionResult", NULL))
		return parse_code_part(p, part, path, m);
	if ((rc = json_get_bool(part, "thought", &thought)) == -1)
		return bad(p, "%s.thought: must be a boolean", path);
	if ((er = want_str(p, part, path, "text", 0, &text)) != KF_OK ||
	    (er = want_str(p, part, path, "thoughtSignature", 0, &sig)) !=
	    KF_OK)
		return er;
	/* Empty text carries nothing (streams end with such parts). */
	if (text != NULL && *text == '\0')
		return KF_OK;
	if (text != NULL) {
		if (thought && role == CONV_ROLE_ASSISTANT) {
			b = conv_msg_add_block(m, CONV_BLOCK_THINKING);
			b->signature = sig != NULL ? xstrdup(sig) : NULL;
		} else
			b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
		b->text = xstrdup(text);
		return KF_OK;
	}
	/*
	 * A signature alone, or videoMetadata (which only describes the
	 * data beside it), carries nothing.
	 */
	if (sig != NULL || json_object_object_get_ex(part, "videoMetadata",
	    NULL))
		return KF_OK;
	if (json_object_object_length(part) == 0 ||
	    (json_object_object_length(part) == 1 &&
	    json_object_object_get_ex(part, "thought", NULL)))
		return bad(p, "%s: a part needs text, inlineData, functionCall "
		    "or functionResponse", path);
	return unknown_part(part, path, m);
}

static enum kf_err
parse_contents(struct parse *p, json_object *root)
{
	json_object	*arr, *c, *parts;
	struct conv_msg	*m;
	struct pc_mark	 mark;
	const char	*role;
	enum conv_role	 r;
	char		 path[64];
	size_t		 i, j, n, np, prev_model;
	enum kf_err	 er;

	if ((er = want(p, root, "", "contents", json_type_array, PC_REQUIRED,
	    &arr)) != KF_OK)
		return er;
	if ((n = json_object_array_length(arr)) == 0)
		return bad(p, "contents: at least one content is required");
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(arr, i);
		snprintf(path, sizeof(path), "contents[%zu]", i);
		if (!json_object_is_type(c, json_type_object))
			return bad(p, "%s: must be an object, not %s", path,
			    json_type_label(c));
		if ((er = want_str(p, c, path, "role", 0, &role)) != KF_OK)
			return er;
		/* "function" is the old role of functionResponse turns. */
		if (role == NULL || strcmp(role, "user") == 0 ||
		    strcmp(role, "function") == 0)
			r = CONV_ROLE_USER;
		else if (strcmp(role, "model") == 0)
			r = CONV_ROLE_ASSISTANT;
		else
			return bad(p, "%s.role: must be \"user\" or \"model\", "
			    "not \"%s\"", path, role);
		if ((er = want(p, c, path, "parts", json_type_array,
		    PC_REQUIRED, &parts)) != KF_OK)
			return er;
		m = conv_add_msg(p->conv, r);
		prev_model = p->last_model;
		if (r == CONV_ROLE_ASSISTANT)
			p->last_model = p->conv->n_msgs - 1;
		np = json_object_array_length(parts);
		for (j = 0; j < np; j++) {
			pc_src_mark(p->conv, &mark);
			if ((er = parse_part(p, json_object_array_get_idx(parts,
			    j), i, j, r, m)) != KF_OK)
				return er;
			pc_src_stamp(p->conv, &mark, i, j, "parts");
		}
		/* Nothing Kiro can carry: a turn of empty text. */
		if (m->n_blocks == 0) {
			conv_remove_msg(p->conv, p->conv->n_msgs - 1);
			p->last_model = prev_model;
		}
	}
	if (p->conv->n_msgs == 0)
		return bad(p, "contents: no part has any content");
	return KF_OK;
}

/* systemInstruction: a Content ({parts:[{text}]}) or a plain string. */
static enum kf_err
parse_system(struct parse *p, json_object *root)
{
	json_object	*si, *parts, *part;
	const char	*text;
	char		 path[64];
	size_t		 i, n;
	enum kf_err	 er;

	if (!json_object_object_get_ex(root, "systemInstruction", &si) ||
	    si == NULL)
		return KF_OK;
	if (json_object_is_type(si, json_type_string)) {
		if (json_object_get_string_len(si) > 0)
			conv_append_system(p->conv, json_object_get_string(si));
		return KF_OK;
	}
	if (!json_object_is_type(si, json_type_object))
		return bad(p, "systemInstruction: must be an object, not %s",
		    json_type_label(si));
	if (json_get_arr(si, "parts", &parts) != 1)
		return bad(p, "systemInstruction.parts: must be an array");
	n = json_object_array_length(parts);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(parts, i);
		snprintf(path, sizeof(path), "systemInstruction.parts[%zu]", i);
		if (!json_object_is_type(part, json_type_object))
			return bad(p, "%s: must be an object", path);
		if ((er = want_str(p, part, path, "text", 1, &text)) != KF_OK)
			return er;
		if (*text != '\0')
			conv_append_system(p->conv, text);
	}
	return KF_OK;
}

static enum kf_err
parse_declaration(struct parse *p, json_object *decl, const char *path)
{
	json_object		*schema = NULL, *js = NULL;
	const char		*name, *desc;
	enum kf_err		 er;
	int			 rc, rj;

	if (!json_object_is_type(decl, json_type_object))
		return bad(p, "%s: must be an object", path);
	if ((er = want_str(p, decl, path, "name", 1, &name)) != KF_OK ||
	    (er = want_str(p, decl, path, "description", 0, &desc)) != KF_OK)
		return er;
	if (*name == '\0')
		return bad(p, "%s.name: must not be empty", path);
	if ((rc = json_get_obj(decl, "parameters", &schema)) == -1)
		return bad(p, "%s.parameters: must be an object", path);
	if ((rj = json_get_obj(decl, "parametersJsonSchema", &js)) == -1)
		return bad(p, "%s.parametersJsonSchema: must be an object", path);
	if (rc == 1 && rj == 1)
		return bad(p, "%s: give parameters or parametersJsonSchema, "
		    "not both", path);
	pc_add_tool(p->conv, name, desc, rc == 1 || rj == 1 ?
	    gemini_schema_to_json(rc == 1 ? schema : js) : NULL);
	return KF_OK;
}

/*
 * Google's own tools in tools[i]: googleSearch (and the older
 * googleSearchRetrieval) is run by the gateway through Kiro
 * (websearch.h); the others are logged and dropped.
 */
static void
log_hosted_tools(struct parse *p, json_object *tool, size_t i)
{
	struct json_object_iter	it;

	json_object_object_foreachC(tool, it)
		if (strcmp(it.key, "googleSearch") == 0 ||
		    strcmp(it.key, "google_search") == 0 ||
		    strcmp(it.key, "googleSearchRetrieval") == 0)
			p->conv->web_search.enabled = 1;
		else if (strcmp(it.key, "functionDeclarations") != 0)
			log_info("gemini: tools[%zu].%s dropped: it runs on "
			    "Google's side", i, it.key);
}

static enum kf_err
parse_tools(struct parse *p, json_object *root)
{
	json_object	*arr, *tool, *decls;
	struct conv_tool *t;
	char		 path[96];
	size_t		 i, j, n;
	enum kf_err	 er;
	int		 rc;

	if ((er = want(p, root, "", "tools", json_type_array, 0,
	    &arr)) != KF_OK || arr == NULL)
		return er;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		tool = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(tool, json_type_object))
			return bad(p, "tools[%zu]: must be an object", i);
		/*
		 * googleSearch, codeExecution, urlContext ... run inside
		 * Google's service; Kiro has no equivalent, so they go.
		 */
		if ((rc = json_get_arr(tool, "functionDeclarations", &decls)) ==
		    -1)
			return bad(p, "tools[%zu].functionDeclarations: must be "
			    "an array", i);
		log_hosted_tools(p, tool, i);
		if (rc == 0)
			continue;
		for (j = 0; j < json_object_array_length(decls); j++) {
			snprintf(path, sizeof(path),
			    "tools[%zu].functionDeclarations[%zu]", i, j);
			if ((er = parse_declaration(p,
			    json_object_array_get_idx(decls, j), path)) !=
			    KF_OK)
				return er;
			t = &p->conv->tools[p->conv->n_tools - 1];
			t->src.item = i + 1;
			t->src.part = j + 1;
			t->src.part_key = "functionDeclarations";
		}
	}
	return KF_OK;
}

/*
 * Only the functions allowedFunctionNames lists are offered; each must be
 * declared.  Hash sets keep it linear: it runs before the caps check.
 */
static enum kf_err
keep_allowed(struct parse *p, json_object *allowed)
{
	struct strset	 declared = STRSET_INIT(0), keep = STRSET_INIT(0);
	json_object	*v;
	const char	*name;
	size_t		 i, n;
	enum kf_err	 er = KF_OK;

	for (i = 0; i < p->conv->n_tools; i++)
		strset_add(&declared, p->conv->tools[i].name);
	n = json_object_array_length(allowed);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(allowed, i);
		if (!json_object_is_type(v, json_type_string)) {
			er = bad(p, "toolConfig.functionCallingConfig."
			    "allowedFunctionNames[%zu]: must be a string", i);
			goto out;
		}
		name = json_object_get_string(v);
		if (!strset_has(&declared, name)) {
			er = bad(p, "toolConfig.functionCallingConfig."
			    "allowedFunctionNames[%zu]: \"%s\" is not a "
			    "declared function", i, name);
			goto out;
		}
		if (!strset_has(&keep, name))
			strset_add(&keep, name);
	}
	pc_keep_tools(p->conv, &keep, NULL);
out:
	strset_free(&declared);
	strset_free(&keep);
	return er;
}

static enum kf_err
parse_tool_config(struct parse *p, json_object *root)
{
	json_object	*tc, *fcc, *allowed = NULL;
	const char	*mode = NULL;
	enum kf_err	 er;
	int		 rc;

	if ((er = want(p, root, "", "toolConfig", json_type_object, 0,
	    &tc)) != KF_OK || tc == NULL)
		return er;
	if ((rc = json_get_obj(tc, "functionCallingConfig", &fcc)) == -1)
		return bad(p, "toolConfig.functionCallingConfig: must be an "
		    "object");
	if (rc == 0)
		return KF_OK;
	if ((er = want_str(p, fcc, "toolConfig.functionCallingConfig", "mode",
	    0, &mode)) != KF_OK)
		return er;
	if ((rc = json_get_arr(fcc, "allowedFunctionNames", &allowed)) == -1)
		return bad(p, "toolConfig.functionCallingConfig."
		    "allowedFunctionNames: must be an array");
	if (rc == 1 && (er = keep_allowed(p, allowed)) != KF_OK)
		return er;
	if (mode == NULL || strcasecmp(mode, "AUTO") == 0 ||
	    strcasecmp(mode, "VALIDATED") == 0 ||
	    strcasecmp(mode, "MODE_UNSPECIFIED") == 0)
		p->conv->tool_choice = CONV_TOOL_CHOICE_AUTO;
	else if (strcasecmp(mode, "NONE") == 0)
		p->conv->tool_choice = CONV_TOOL_CHOICE_NONE;
	else if (strcasecmp(mode, "ANY") == 0) {
		if (p->conv->n_tools == 0 && allowed != NULL)
			return bad(p, "toolConfig.functionCallingConfig."
			    "allowedFunctionNames: ANY needs at least one "
			    "allowed function");
		if (p->conv->n_tools == 0)
			return bad(p, "toolConfig.functionCallingConfig.mode: "
			    "ANY needs at least one function declaration");
		if (p->conv->n_tools == 1) {
			p->conv->tool_choice = CONV_TOOL_CHOICE_TOOL;
			p->conv->tool_choice_name =
			    xstrdup(p->conv->tools[0].name);
		} else
			p->conv->tool_choice = CONV_TOOL_CHOICE_ANY;
	} else
		return bad(p, "toolConfig.functionCallingConfig.mode: must be "
		    "AUTO, ANY, NONE or VALIDATED, not \"%s\"", mode);
	return KF_OK;
}

static enum kf_err
parse_thinking(struct parse *p, json_object *gc)
{
	json_object	*tc;
	const char	*level;
	int64_t		 budget;
	int		 rc, rb, include = 0;

	if ((rc = json_get_obj(gc, "thinkingConfig", &tc)) == -1)
		return bad(p, "generationConfig.thinkingConfig: must be an "
		    "object");
	if (rc == 0)
		return KF_OK;
	if ((rc = json_get_bool(tc, "includeThoughts", &include)) == -1)
		return bad(p, "generationConfig.thinkingConfig.includeThoughts: "
		    "must be a boolean");
	p->opts->include_thoughts = rc == 1 && include;
	if ((rb = json_get_int(tc, "thinkingBudget", &budget)) == -1 ||
	    (rb == 1 && budget < -1))
		return bad(p, "generationConfig.thinkingConfig.thinkingBudget: "
		    "must be an integer, -1 (dynamic) or more");
	if ((rc = json_get_str(tc, "thinkingLevel", &level)) == -1)
		return bad(p, "generationConfig.thinkingConfig.thinkingLevel: "
		    "must be a string");
	if (rc == 1) {
		const char *effort;

		if (strcasecmp(level, "MINIMAL") == 0 ||
		    strcasecmp(level, "LOW") == 0)
			effort = "low";
		else if (strcasecmp(level, "MEDIUM") == 0)
			effort = "medium";
		else if (strcasecmp(level, "HIGH") == 0 ||
		    strcasecmp(level, "THINKING_LEVEL_UNSPECIFIED") == 0)
			effort = "high";
		else
			return bad(p, "generationConfig.thinkingConfig."
			    "thinkingLevel: must be MINIMAL, LOW, MEDIUM or "
			    "HIGH, not \"%s\"", level);
		p->conv->thinking = CONV_THINKING_ADAPTIVE;
		free(p->conv->thinking_effort);
		p->conv->thinking_effort = xstrdup(effort);
	}
	if (rb == 1) {
		if (budget == 0) {
			p->conv->thinking = CONV_THINKING_OFF;
			p->opts->include_thoughts = 0;
		} else if (budget == -1)
			p->conv->thinking = CONV_THINKING_ADAPTIVE;
		else {
			p->conv->thinking = CONV_THINKING_ENABLED;
			p->conv->thinking_budget = (long)budget;
		}
	} else if (rc == 0 && p->opts->include_thoughts)
		/* Thoughts asked for with no size: the model decides. */
		p->conv->thinking = CONV_THINKING_ADAPTIVE;
	return KF_OK;
}

static enum kf_err
parse_generation_config(struct parse *p, json_object *root)
{
	json_object	*gc, *arr, *v, *schema;
	const char	*mime;
	char		 field[64];
	int64_t		 max;
	size_t		 i, n;
	enum kf_err	 er;
	int		 rc, rj;

	if ((er = want(p, root, "", "generationConfig", json_type_object, 0,
	    &gc)) != KF_OK || gc == NULL)
		return er;
	if ((rc = json_get_int(gc, "maxOutputTokens", &max)) == -1 ||
	    (rc == 1 && max < 1))
		return bad(p, "generationConfig.maxOutputTokens: must be a "
		    "positive integer");
	if (rc == 1)
		p->conv->max_tokens = (long)max;
	if ((rc = json_get_arr(gc, "stopSequences", &arr)) == -1)
		return bad(p, "generationConfig.stopSequences: must be an array");
	if (rc == 1) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(arr, i);
			if (!json_object_is_type(v, json_type_string))
				return bad(p, "generationConfig.stopSequences"
				    "[%zu]: must be a string", i);
			snprintf(field, sizeof(field),
			    "generationConfig.stopSequences[%zu]", i);
			if ((er = pc_add_stop(p->conv,
			    json_object_get_string(v), field, CONV_MAX_STOP,
			    p->cause, NULL)) != KF_OK)
				return er;
		}
	}
	if ((rc = json_get_str(gc, "responseMimeType", &mime)) == -1)
		return bad(p, "generationConfig.responseMimeType: must be a "
		    "string");
	if (rc == 1 && strcasecmp(mime, "application/json") == 0)
		p->conv->json_mode = 1;
	else if (rc == 1 && strcasecmp(mime, "text/plain") != 0)
		return bad(p, "generationConfig.responseMimeType: must be "
		    "text/plain or application/json, not \"%s\"", mime);
	if ((rc = json_get_obj(gc, "responseSchema", &schema)) == -1)
		return bad(p, "generationConfig.responseSchema: must be an "
		    "object");
	if ((rj = json_get_obj(gc, "responseJsonSchema", &v)) == -1)
		return bad(p, "generationConfig.responseJsonSchema: must be an "
		    "object");
	if (rc == 1 && rj == 1)
		return bad(p, "generationConfig: give responseSchema or "
		    "responseJsonSchema, not both");
	if ((rc == 1 || rj == 1) && !p->conv->json_mode)
		return bad(p, "generationConfig.%s: needs responseMimeType "
		    "application/json", rc == 1 ? "responseSchema" :
		    "responseJsonSchema");
	if (rc == 1 || rj == 1)
		p->conv->response_schema = gemini_schema_to_json(rc == 1 ?
		    schema : v);
	return parse_thinking(p, gc);
}

enum kf_err
gemini_parse(const char *body, size_t len, const char *model, int for_count,
    struct conv *conv, struct gemini_opts *opts, char **cause)
{
	struct parse		 p;
	json_object		*root = NULL, *req, *inner;
	const struct model_info	*m = NULL;
	int			 thinking_name = 0;
	enum kf_err		 er;

	memset(&p, 0, sizeof(p));
	memset(opts, 0, sizeof(*opts));
	p.last_model = SIZE_MAX;
	p.conv = conv;
	p.opts = opts;
	p.cause = cause;
	conv->src_items = "contents";
	if ((er = pc_root(body, len, NULL, &root, cause, NULL)) != KF_OK)
		goto out;
	req = root;
	/* countTokens also takes the request wrapped, with its own model. */
	if (for_count && json_get_obj(root, "generateContentRequest", &inner) ==
	    1)
		req = inner;
	if (model == NULL || *model == '\0') {
		er = bad(&p, "model: missing from the path "
		    "(models/{model}:generateContent)");
		goto out;
	}
	if ((er = pc_model(conv, model, for_count, &m, &thinking_name, cause,
	    NULL)) != KF_OK)
		goto out;
	if (thinking_name) {
		conv->thinking = CONV_THINKING_ENABLED;
		conv->thinking_budget = 20000;
	}
	if ((er = parse_system(&p, req)) != KF_OK ||
	    (er = parse_contents(&p, req)) != KF_OK ||
	    (er = parse_tools(&p, req)) != KF_OK ||
	    (er = parse_tool_config(&p, req)) != KF_OK ||
	    (er = parse_generation_config(&p, req)) != KF_OK)
		goto out;
out:
	free(p.answered);
	json_object_put(root);
	return er;
}
