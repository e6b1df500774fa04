/* parse-common.c: what the four request parsers share. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "catalogue.h"
#include "conv.h"
#include "json.h"
#include "models.h"
#include "parse-common.h"
#include "strset.h"
#include "xmalloc.h"

enum kf_err
pc_vbad(char **cause, char **param, const char *field, const char *fmt,
    va_list ap)
{
	struct buf	msg = BUF_INIT;

	if (field != NULL)
		buf_printf(&msg, "%s: ", field);
	buf_vprintf(&msg, fmt, ap);
	if (cause != NULL) {
		free(*cause);
		*cause = buf_detach(&msg);
	}
	if (param != NULL) {
		free(*param);
		*param = field != NULL ? xstrdup(field) : NULL;
	}
	buf_free(&msg);
	return KF_EINVAL;
}

enum kf_err
pc_bad(char **cause, char **param, const char *field, const char *fmt, ...)
{
	va_list		ap;
	enum kf_err	er;

	va_start(ap, fmt);
	er = pc_vbad(cause, param, field, fmt, ap);
	va_end(ap);
	return er;
}

void
pc_path_set(char *path, size_t size, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(path, size, fmt, ap);
	va_end(ap);
}

/* Appends n bytes of s at path + at within size; the new length. */
static size_t
path_put(char *path, size_t size, size_t at, const char *s, size_t n)
{
	if (at + 1 >= size)
		return at;
	if (n > size - 1 - at)
		n = size - 1 - at;
	memcpy(path + at, s, n);
	path[at + n] = '\0';
	return at + n;
}

size_t
pc_path_index(char *path, size_t size, size_t at, const char *name,
    size_t i)
{
	char		 digits[BUF_DECIMAL_LEN];
	const char	*d;
	size_t		 n;

	if (at >= size)
		return at;
	path[at] = '\0';
	d = buf_decimal((long long)i, digits, &n);
	at = path_put(path, size, at, name, strlen(name));
	at = path_put(path, size, at, "[", 1);
	at = path_put(path, size, at, d, n);
	return path_put(path, size, at, "]", 1);
}

enum kf_err
pc_want(char **cause, char **param, json_object *obj, const char *base,
    const char *key, enum json_type type, int flags, json_object **out)
{
	json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v))
		v = NULL;
	return pc_want_val(cause, param, v, base, key, type, flags, out);
}

enum kf_err
pc_want_val(char **cause, char **param, json_object *v, const char *base,
    const char *key, enum json_type type, int flags, json_object **out)
{
	const char	*what;
	char		 field[256];

	*out = NULL;
	if (v != NULL && json_object_is_type(v, type)) {
		*out = v;
		return KF_OK;
	}
	if (v == NULL && !(flags & PC_REQUIRED))
		return KF_OK;
	/* The field's path only for the error: most fields are fine. */
	snprintf(field, sizeof(field), "%s%s%s", base, *base != '\0' ? "." :
	    "", key);
	if (v == NULL)
		return pc_bad(cause, param, field, "field required");
	what = type == json_type_string ? "a string" :
	    type == json_type_object ? "an object" : "an array";
	if (flags & PC_TYPE_LABEL)
		return pc_bad(cause, param, field, "must be %s, not %s",
		    what, json_type_label(v));
	return pc_bad(cause, param, field, "must be %s", what);
}

enum kf_err
pc_want_str(char **cause, char **param, json_object *obj, const char *base,
    const char *key, int flags, const char **out)
{
	json_object	*v;
	enum kf_err	 er;

	er = pc_want(cause, param, obj, base, key, json_type_string, flags,
	    &v);
	*out = v != NULL ? json_object_get_string(v) : NULL;
	return er;
}

enum kf_err
pc_root(const char *body, size_t len, const char *field, json_object **root,
    char **cause, char **param)
{
	char	*why = NULL;

	*root = NULL;
	if (json_parse(body, len, JSON_MAX_DEPTH, root, &why) != KF_OK) {
		pc_bad(cause, param, NULL, "%s", why);
		free(why);
		return KF_EINVAL;
	}
	if (!json_object_is_type(*root, json_type_object))
		return pc_bad(cause, param, field, "the request body must be "
		    "a JSON object, not %s", json_type_label(*root));
	return KF_OK;
}

/* Bytes of a client's model name an error repeats. */
#define MODEL_ECHO_MAX	128

enum kf_err
pc_model(struct conv *conv, const char *model, int lenient,
    const struct model_info **m, int *thinking_name, char **cause,
    char **param)
{
	struct buf	models = BUF_INIT;

	conv->model = xstrdup(model);
	if ((*m = models_resolve(model, thinking_name)) != NULL)
		conv->kiro_model = (*m)->id;
	else if (!lenient) {
		/*
		 * 404 in every API (OpenAI model_not_found, Anthropic
		 * not_found_error, Gemini NOT_FOUND); the list is the one
		 * the accounts' live model lists give, when there is one.
		 */
		catalogue_list_text(&models);
		(void)pc_bad(cause, param, "model", "\"%.*s\" is not "
		    "available; available models: %s", MODEL_ECHO_MAX, model,
		    models.ptr);
		buf_free(&models);
		return KF_ENOTFOUND;
	}
	return KF_OK;
}

void
pc_thinking_name(struct conv *conv, const struct model_info *m)
{
	if (m != NULL && m->adaptive_thinking)
		conv->thinking = CONV_THINKING_ADAPTIVE;
	else {
		conv->thinking = CONV_THINKING_ENABLED;
		conv->thinking_budget = 20000;
	}
}

int
pc_effort(const char *name, const char **effort, long *budget)
{
	static const struct {
		const char	*name;
		const char	*effort;	/* NULL: thinking off */
		long		 budget;
	} levels[] = {
		{ "none", NULL, 0 },
		{ "minimal", "low", 2048 },
		{ "low", "low", 4096 },
		{ "medium", "medium", 12000 },
		{ "high", "high", 20000 },
		{ "xhigh", "high", 24576 },
	};
	size_t	i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, levels[i].name) == 0) {
			*effort = levels[i].effort;
			*budget = levels[i].budget;
			return 0;
		}
	return -1;
}

enum kf_err
pc_format_type(struct conv *conv, const char *type, const char *field,
    int *schema, char **cause, char **param)
{
	*schema = 0;
	if (strcmp(type, "text") == 0)
		return KF_OK;
	if (strcmp(type, "json_object") != 0 &&
	    strcmp(type, "json_schema") != 0)
		return pc_bad(cause, param, field, "must be text, json_object "
		    "or json_schema, not \"%s\"", type);
	conv->json_mode = 1;
	*schema = strcmp(type, "json_schema") == 0;
	return KF_OK;
}

struct conv_tool *
pc_add_tool(struct conv *conv, const char *name, const char *desc,
    json_object *schema)
{
	struct conv_tool	*t;

	t = conv_add_tool(conv);
	t->name = xstrdup(name);
	t->description = xstrdup(desc != NULL ? desc : "");
	if (schema == NULL) {
		schema = json_object_new_object();
		json_object_object_add(schema, "type", json_str("object"));
		json_object_object_add(schema, "properties",
		    json_object_new_object());
	}
	t->schema = schema;
	return t;
}

enum kf_err
pc_add_stop(struct conv *conv, const char *seq, const char *field,
    size_t max_count, char **cause, char **param)
{
	size_t	len;

	if (seq == NULL || seq[0] == '\0')
		return KF_OK;
	if (max_count > CONV_MAX_STOP)
		max_count = CONV_MAX_STOP;
	if ((len = strlen(seq)) > CONV_MAX_STOP_BYTES)
		return pc_bad(cause, param, field, "at most %d bytes, not %zu",
		    CONV_MAX_STOP_BYTES, len);
	if (conv->n_stop >= max_count)
		return pc_bad(cause, param, field, "at most %zu stop sequences "
		    "are allowed", max_count);
	conv_add_stop(conv, seq);
	return KF_OK;
}

void
pc_keep_tools(struct conv *conv, const struct strset *keep,
    struct strset *removed)
{
	struct conv_tool	*t;
	size_t			 i, n_kept = 0;

	for (i = 0; i < conv->n_tools; i++) {
		t = &conv->tools[i];
		if (strset_has(keep, t->name)) {
			conv->tools[n_kept++] = *t;
			continue;
		}
		if (removed != NULL)
			strset_add(removed, t->name);
		/* What conv_remove_tool frees, without its shift. */
		free(t->name);
		free(t->description);
		json_object_put(t->schema);
	}
	conv->n_tools = n_kept;
}

const char *
pc_image_media(const char *media_type)
{
	static const char *const ok[] = {
		"image/jpeg", "image/jpg", "image/png", "image/gif",
		"image/webp", NULL
	};
	size_t	i;

	for (i = 0; ok[i] != NULL; i++)
		if (strcasecmp(media_type, ok[i]) == 0)
			return ok[i];
	return NULL;
}

struct conv_block *
pc_note(struct conv_msg *m, const char *fmt, ...)
{
	struct conv_block	*b;
	struct buf		 text = BUF_INIT;
	va_list			 ap;

	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	buf_cstr(&text);
	b->text = buf_detach(&text);
	return b;
}

char *
pc_json_text(json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	return json_to_str(v);
}

void
pc_src_mark(const struct conv *conv, struct pc_mark *mark)
{
	mark->msg = conv->n_msgs > 0 ? conv->n_msgs - 1 : 0;
	mark->block = conv->n_msgs > 0 ? conv->msgs[mark->msg].n_blocks : 0;
	mark->tool = conv->n_tools;
}

static void
src_set(struct conv_src *src, size_t item, size_t part,
    const char *part_key)
{
	if (src->item != 0)
		return;
	src->item = item + 1;
	/* A part the parser set itself (a tool call's index) stays. */
	if (src->part == 0 && part_key != NULL) {
		src->part = part + 1;
		src->part_key = part_key;
	}
}

void
pc_src_stamp(struct conv *conv, const struct pc_mark *mark, size_t item,
    size_t part, const char *part_key)
{
	struct conv_msg	*m;
	size_t		 i, j;

	for (i = mark->msg; i < conv->n_msgs; i++) {
		m = &conv->msgs[i];
		for (j = i == mark->msg ? mark->block : 0; j < m->n_blocks; j++)
			src_set(&m->blocks[j].src, item, part, part_key);
	}
	for (i = mark->tool; i < conv->n_tools; i++)
		src_set(&conv->tools[i].src, item, part, part_key);
}
