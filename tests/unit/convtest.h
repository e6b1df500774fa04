/* convtest.h: building conversations and reading JSON bodies in unit tests. */
#ifndef CONVTEST_H
#define CONVTEST_H

/*
 * Shared by the history and kiro_req tests (and any test that builds a
 * struct conv by hand).  Header-only, every function static, as testutil.h.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "conv.h"
#include "json.h"
#include "xmalloc.h"

static json_object * __attribute__((unused))
parse_or_die(const char *text)
{
	json_object	*v = NULL;
	char		*cause = NULL;

	ck_assert_msg(json_parse(text, strlen(text), JSON_MAX_DEPTH, &v,
	    &cause) == KF_OK, "bad test JSON %s: %s", text, cause);
	return v;
}

static void __attribute__((unused))
add_text(struct conv_msg *m, const char *text)
{
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup(text);
}

static void __attribute__((unused))
add_thinking(struct conv_msg *m, const char *text)
{
	conv_msg_add_block(m, CONV_BLOCK_THINKING)->text = xstrdup(text);
}

static void __attribute__((unused))
add_image(struct conv_msg *m, const char *media_type, const char *data)
{
	struct conv_block	*b;

	b = conv_msg_add_block(m, CONV_BLOCK_IMAGE);
	b->media_type = xstrdup(media_type);
	b->data = xstrdup(data);
}

/* input is JSON text, or NULL for none. */
static void __attribute__((unused))
add_tool_use(struct conv_msg *m, const char *id, const char *name,
    const char *input)
{
	struct conv_block	*b;

	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
	b->id = xstrdup(id);
	b->name = xstrdup(name);
	b->input = input != NULL ? parse_or_die(input) : NULL;
}

/* A result with one text block (none when text is NULL). */
static struct conv_block * __attribute__((unused))
add_tool_result(struct conv_msg *m, const char *id, const char *text,
    int is_error)
{
	struct conv_block	*b;

	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
	b->id = xstrdup(id);
	b->is_error = is_error;
	if (text != NULL)
		conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
		    xstrdup(text);
	return b;
}

/* A new message, with one text block unless text is NULL. */
static struct conv_msg * __attribute__((unused))
add_msg(struct conv *c, enum conv_role role, const char *text)
{
	struct conv_msg	*m;

	m = conv_add_msg(c, role);
	if (text != NULL)
		add_text(m, text);
	return m;
}

/* schema is JSON text, or NULL for none. */
static void __attribute__((unused))
add_tool(struct conv *c, const char *name, const char *description,
    const char *schema)
{
	struct conv_tool	*t;

	t = conv_add_tool(c);
	t->name = xstrdup(name);
	t->description = xstrdup(description);
	t->schema = schema != NULL ? parse_or_die(schema) : NULL;
}

/* Follows a dotted path ("a.0.b"); digits index arrays.  NULL if absent. */
static json_object * __attribute__((unused))
jpath(json_object *root, const char *path)
{
	char		 tmp[512], *tok, *save = NULL;
	json_object	*cur = root;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (tok = strtok_r(tmp, ".", &save); tok != NULL && cur != NULL;
	    tok = strtok_r(NULL, ".", &save)) {
		if (isdigit((unsigned char)tok[0])) {
			if (!json_object_is_type(cur, json_type_array))
				return NULL;
			cur = json_object_array_get_idx(cur,
			    strtoul(tok, NULL, 10));
		} else if (!json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, tok, &cur))
			return NULL;
	}
	return cur;
}

static const char * __attribute__((unused))
jstr(json_object *root, const char *path)
{
	json_object	*v = jpath(root, path);

	ck_assert_msg(json_object_is_type(v, json_type_string),
	    "%s is not a string", path);
	return json_object_get_string(v);
}

static size_t __attribute__((unused))
jlen(json_object *root, const char *path)
{
	json_object	*v = jpath(root, path);

	ck_assert_msg(json_object_is_type(v, json_type_array),
	    "%s is not an array", path);
	return json_object_array_length(v);
}

static int __attribute__((unused))
jhas(json_object *root, const char *path)
{
	return jpath(root, path) != NULL;
}

#endif
