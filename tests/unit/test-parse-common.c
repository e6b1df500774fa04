/* test-parse-common.c: the parsers' shared pieces: errors with a path, string fields, the body, models, effort, image types, tools, notes. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "conv.h"
#include "json.h"
#include "models.h"
#include "parse-common.h"
#include "strset.h"
#include "testutil.h"
#include "xmalloc.h"

static char	*cause, *param;

static void
setup(void)
{
	cause = param = NULL;
}

static void
teardown(void)
{
	free(cause);
	free(param);
}

START_TEST(bad_names_the_field_in_cause_and_param)
{
	ck_assert_int_eq(pc_bad(&cause, &param, "a.b[2]", "must be %s", "x"),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "a.b[2]: must be x");
	ck_assert_str_eq(param, "a.b[2]");
	/* A later error replaces the earlier; no field clears param. */
	ck_assert_int_eq(pc_bad(&cause, &param, NULL, "plain %d", 7),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "plain 7");
	ck_assert_ptr_null(param);
	/* Either out may be absent. */
	ck_assert_int_eq(pc_bad(NULL, NULL, "f", "x"), KF_EINVAL);
	ck_assert_int_eq(pc_bad(&cause, NULL, "f", "y"), KF_EINVAL);
	ck_assert_str_eq(cause, "f: y");
}
END_TEST

START_TEST(path_set_formats_and_truncates)
{
	char	path[8];

	pc_path_set(path, sizeof(path), "a[%zu]", (size_t)3);
	ck_assert_str_eq(path, "a[3]");
	pc_path_set(path, sizeof(path), "%s.content", "messages");
	ck_assert_str_eq(path, "message");
}
END_TEST

/* pc_path_index writes what snprintf would, truncation included. */
START_TEST(path_index_is_snprintf)
{
	static const size_t	 idx[] = { 0, 7, 10, 123456789, SIZE_MAX / 2 };
	char			 path[24], want[24];
	size_t			 size, i, k, at;

	for (size = 1; size <= sizeof(path); size++)
		for (k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
			i = idx[k];
			at = pc_path_index(path, size, 0, "messages", i);
			snprintf(want, size, "messages[%zu]", i);
			ck_assert_str_eq(path, want);
			ck_assert_uint_eq(at, strlen(want));
			pc_path_index(path, size, at, ".content", i + 1);
			snprintf(want, size, "messages[%zu].content[%zu]", i,
			    i + 1);
			ck_assert_str_eq(path, want);
		}
}
END_TEST

#define J	"{\"k\":\"v\",\"n\":null,\"i\":3}"

START_TEST(want_str_reads_and_refuses_with_the_path)
{
	json_object	*o;
	const char	*s;

	ck_assert_int_eq(json_parse(J, strlen(J),
	    JSON_MAX_DEPTH, &o, NULL), KF_OK);
	ck_assert_int_eq(pc_want_str(&cause, &param, o, "", "k", PC_REQUIRED,
	    &s), KF_OK);
	ck_assert_str_eq(s, "v");
	/* Absent and null are the same: nothing, or "field required". */
	ck_assert_int_eq(pc_want_str(&cause, &param, o, "x", "n", 0, &s),
	    KF_OK);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(pc_want_str(&cause, &param, o, "x", "zz", 0, &s),
	    KF_OK);
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(pc_want_str(&cause, &param, o, "x[1]", "n",
	    PC_REQUIRED, &s), KF_EINVAL);
	ck_assert_str_eq(cause, "x[1].n: field required");
	ck_assert_str_eq(param, "x[1].n");
	/* A wrong type, with or without naming it. */
	ck_assert_int_eq(pc_want_str(&cause, &param, o, "", "i", 0, &s),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "i: must be a string");
	ck_assert_ptr_null(s);
	ck_assert_int_eq(pc_want_str(&cause, NULL, o, "top", "i",
	    PC_TYPE_LABEL, &s), KF_EINVAL);
	ck_assert_str_eq(cause, "top.i: must be a string, not number");
	json_object_put(o);
}
END_TEST

START_TEST(want_checks_objects_and_arrays)
{
	json_object	*o, *v;
	const char	*text = "{\"o\":{},\"a\":[1],\"s\":\"x\"}";

	ck_assert_int_eq(json_parse(text, strlen(text), JSON_MAX_DEPTH, &o,
	    NULL), KF_OK);
	ck_assert_int_eq(pc_want(&cause, &param, o, "", "o", json_type_object,
	    PC_REQUIRED, &v), KF_OK);
	ck_assert(json_object_is_type(v, json_type_object));
	ck_assert_int_eq(pc_want(&cause, &param, o, "", "a", json_type_array,
	    0, &v), KF_OK);
	ck_assert_int_eq(json_object_array_length(v), 1);
	ck_assert_int_eq(pc_want(&cause, &param, o, "", "none",
	    json_type_array, 0, &v), KF_OK);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(pc_want(&cause, &param, o, "r[0]", "a",
	    json_type_object, PC_REQUIRED, &v), KF_EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_str_eq(cause, "r[0].a: must be an object");
	ck_assert_str_eq(param, "r[0].a");
	ck_assert_int_eq(pc_want(&cause, &param, o, "", "s", json_type_array,
	    PC_TYPE_LABEL, &v), KF_EINVAL);
	ck_assert_str_eq(cause, "s: must be an array, not string");
	ck_assert_int_eq(pc_want(&cause, &param, o, "", "none",
	    json_type_object, PC_REQUIRED, &v), KF_EINVAL);
	ck_assert_str_eq(cause, "none: field required");
	/* Not an object at all: nothing there. */
	ck_assert_int_eq(pc_want(&cause, &param, v, "", "a",
	    json_type_array, 0, &v), KF_OK);
	ck_assert_ptr_null(v);
	json_object_put(o);
}
END_TEST

START_TEST(root_must_be_a_json_object)
{
	json_object	*root;

	ck_assert_int_eq(pc_root("{\"a\":1}", 7, NULL, &root, &cause,
	    &param), KF_OK);
	ck_assert(json_object_is_type(root, json_type_object));
	json_object_put(root);
	ck_assert_int_eq(pc_root("{\"a\":", 5, "body", &root, &cause,
	    &param), KF_EINVAL);
	ck_assert_ptr_null(root);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_null(param);	/* not about any one field */
	ck_assert_int_eq(pc_root("[1]", 3, "body", &root, &cause, &param),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "body: the request body must be a JSON "
	    "object, not array");
	ck_assert_str_eq(param, "body");
	json_object_put(root);
	root = NULL;
	ck_assert_int_eq(pc_root("3", 1, NULL, &root, &cause, NULL),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "the request body must be a JSON object, "
	    "not number");
	json_object_put(root);
}
END_TEST

START_TEST(model_resolves_or_lists_the_available)
{
	struct conv		 c;
	const struct model_info	*m;
	int			 thinking;

	conv_init(&c);
	ck_assert_int_eq(pc_model(&c, "claude-sonnet-4-5-thinking", 0, &m,
	    &thinking, &cause, &param), KF_OK);
	ck_assert_str_eq(c.model, "claude-sonnet-4-5-thinking");
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_ptr_eq(m->id, c.kiro_model);
	ck_assert_int_eq(thinking, 1);
	conv_free(&c);
	conv_init(&c);
	ck_assert_int_eq(pc_model(&c, "llama-3-70b", 0, &m, &thinking, &cause,
	    &param), KF_ENOTFOUND);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(param, "model");
	ck_assert(strncmp(cause, "model: \"llama-3-70b\" is not available; "
	    "available models: ", 57) == 0);
	ck_assert_ptr_nonnull(strstr(cause, "claude-sonnet-4.5"));
	conv_free(&c);
	/* Lenient (token counting): the name is kept, no Kiro model. */
	conv_init(&c);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(pc_model(&c, "llama-3-70b", 1, &m, &thinking, &cause,
	    NULL), KF_OK);
	ck_assert_ptr_null(cause);
	ck_assert_str_eq(c.model, "llama-3-70b");
	ck_assert_ptr_null(c.kiro_model);
	conv_free(&c);
}
END_TEST

START_TEST(thinking_name_is_adaptive_for_opus_46_only)
{
	struct conv		 c;
	const struct model_info	*m;
	int			 thinking;

	conv_init(&c);
	ck_assert_int_eq(pc_model(&c, "claude-opus-4-6", 0, &m, &thinking,
	    &cause, &param), KF_OK);
	pc_thinking_name(&c, m);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	ck_assert_int_eq(c.thinking_budget, 0);
	conv_free(&c);
	conv_init(&c);
	ck_assert_int_eq(pc_model(&c, "claude-sonnet-4-5", 0, &m, &thinking,
	    &cause, &param), KF_OK);
	pc_thinking_name(&c, m);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_eq(c.thinking_budget, 20000);
	conv_free(&c);
	conv_init(&c);
	pc_thinking_name(&c, NULL);	/* an unknown model, counting */
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	conv_free(&c);
}
END_TEST

START_TEST(effort_maps_to_three_levels)
{
	const char	*e;
	long		 b;

	ck_assert_int_eq(pc_effort("none", &e, &b), 0);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(pc_effort("minimal", &e, &b), 0);
	ck_assert_str_eq(e, "low");
	ck_assert_int_eq(b, 2048);
	ck_assert_int_eq(pc_effort("low", &e, &b), 0);
	ck_assert_str_eq(e, "low");
	ck_assert_int_eq(b, 4096);
	ck_assert_int_eq(pc_effort("medium", &e, &b), 0);
	ck_assert_str_eq(e, "medium");
	ck_assert_int_eq(pc_effort("high", &e, &b), 0);
	ck_assert_str_eq(e, "high");
	ck_assert_int_eq(b, 20000);
	ck_assert_int_eq(pc_effort("xhigh", &e, &b), 0);
	ck_assert_str_eq(e, "high");
	ck_assert_int_gt(b, 20000);
	ck_assert_int_eq(pc_effort("max", &e, &b), -1);
	ck_assert_int_eq(pc_effort("HIGH", &e, &b), -1);
	ck_assert_int_eq(pc_effort("", &e, &b), -1);
}
END_TEST

START_TEST(format_type_sets_json_mode)
{
	struct conv	c;
	int		schema;

	conv_init(&c);
	ck_assert_int_eq(pc_format_type(&c, "text", "f.type", &schema,
	    &cause, &param), KF_OK);
	ck_assert_int_eq(schema, 0);
	ck_assert_int_eq(c.json_mode, 0);
	ck_assert_int_eq(pc_format_type(&c, "json_object", "f.type", &schema,
	    &cause, &param), KF_OK);
	ck_assert_int_eq(schema, 0);
	ck_assert_int_eq(c.json_mode, 1);
	c.json_mode = 0;
	ck_assert_int_eq(pc_format_type(&c, "json_schema", "f.type", &schema,
	    &cause, &param), KF_OK);
	ck_assert_int_eq(schema, 1);
	ck_assert_int_eq(c.json_mode, 1);
	c.json_mode = 0;
	ck_assert_int_eq(pc_format_type(&c, "xml", "f.type", &schema,
	    &cause, &param), KF_EINVAL);
	ck_assert_str_eq(cause, "f.type: must be text, json_object or "
	    "json_schema, not \"xml\"");
	ck_assert_str_eq(param, "f.type");
	ck_assert_int_eq(c.json_mode, 0);
	conv_free(&c);
}
END_TEST

START_TEST(add_tool_takes_the_schema_or_makes_an_empty_one)
{
	struct conv		 c;
	struct conv_tool	*t;
	json_object		*schema, *v;

	conv_init(&c);
	schema = json_object_new_object();
	json_object_object_add(schema, "type", json_object_new_string("x"));
	t = pc_add_tool(&c, "f", "does f", schema);
	ck_assert_int_eq(c.n_tools, 1);
	ck_assert_ptr_eq(t, &c.tools[0]);
	ck_assert_str_eq(t->name, "f");
	ck_assert_str_eq(t->description, "does f");
	ck_assert_ptr_eq(t->schema, schema);
	t = pc_add_tool(&c, "g", NULL, NULL);
	ck_assert_int_eq(c.n_tools, 2);
	ck_assert_str_eq(t->description, "");
	ck_assert(json_object_object_get_ex(t->schema, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "object");
	ck_assert(json_object_object_get_ex(t->schema, "properties", &v));
	ck_assert_int_eq(json_object_object_length(v), 0);
	conv_free(&c);	/* frees both schemas: valgrind checks */
}
END_TEST

START_TEST(note_is_a_text_block_in_the_message)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*b;
	json_object		*o;
	char			*text;

	conv_init(&c);
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup("before");
	b = pc_note(m, "[web search: query %s]", "kiro");
	ck_assert_uint_eq(m->n_blocks, 2);
	ck_assert_ptr_eq(b, &m->blocks[1]);
	ck_assert_int_eq(b->type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(b->text, "[web search: query kiro]");
	/* An empty note is still a string. */
	b = pc_note(m, "%s", "");
	ck_assert_ptr_nonnull(b->text);
	ck_assert_str_eq(b->text, "");
	conv_free(&c);

	o = json_str("plain");
	text = pc_json_text(o);
	ck_assert_str_eq(text, "plain");
	free(text);
	json_object_put(o);
	o = json_object_new_object();
	json_object_object_add(o, "q", json_str("a\"b"));
	text = pc_json_text(o);
	ck_assert_str_eq(text, "{\"q\":\"a\\\"b\"}");
	free(text);
	json_object_put(o);
}
END_TEST

START_TEST(keep_tools_keeps_the_named_in_order)
{
	static const char *const names[] = { "a", "b", "c", "d", "e" };
	struct conv	c;
	struct strset	keep = STRSET_INIT(0), removed = STRSET_INIT(0);
	size_t		i;

	conv_init(&c);
	for (i = 0; i < 5; i++)
		pc_add_tool(&c, names[i], "desc", NULL);
	strset_add(&keep, "d");
	strset_add(&keep, "b");
	strset_add(&keep, "zz");	/* no such tool: nothing happens */
	strset_add(&keep, "E");		/* names are case-sensitive */
	pc_keep_tools(&c, &keep, &removed);
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "b");
	ck_assert_str_eq(c.tools[1].name, "d");
	ck_assert_str_eq(c.tools[1].description, "desc");
	ck_assert_ptr_nonnull(c.tools[1].schema);
	ck_assert_uint_eq(removed.n, 3);
	ck_assert(strset_has(&removed, "a") && strset_has(&removed, "c") &&
	    strset_has(&removed, "e"));
	/* Keeping nothing empties the list; removed may be NULL. */
	strset_free(&keep);
	pc_keep_tools(&c, &keep, NULL);
	ck_assert_uint_eq(c.n_tools, 0);
	strset_free(&keep);
	strset_free(&removed);
	conv_free(&c);
}
END_TEST

START_TEST(add_stop_caps_name_the_field)
{
	struct conv	 c;
	char		*why = NULL, *field = NULL, big[CONV_MAX_STOP_BYTES + 2];

	conv_init(&c);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(pc_add_stop(&c, big, "s[0]", 4, &why, &field),
	    KF_EINVAL);
	ck_assert_str_eq(why, "s[0]: at most 256 bytes, not 257");
	ck_assert_str_eq(field, "s[0]");
	big[CONV_MAX_STOP_BYTES] = '\0';
	ck_assert_int_eq(pc_add_stop(&c, big, "s[0]", 2, &why, &field), KF_OK);
	ck_assert_int_eq(pc_add_stop(&c, "", "s[1]", 2, &why, &field), KF_OK);
	ck_assert_int_eq(pc_add_stop(&c, "b", "s[2]", 2, &why, &field), KF_OK);
	ck_assert_uint_eq(c.n_stop, 2);
	ck_assert_int_eq(pc_add_stop(&c, "c", "s[3]", 2, &why, &field),
	    KF_EINVAL);
	ck_assert_str_eq(why, "s[3]: at most 2 stop sequences are allowed");
	ck_assert_str_eq(field, "s[3]");
	ck_assert_uint_eq(c.n_stop, 2);
	conv_free(&c);
	/* A count over conv's cap is conv's cap; NULL cause and param do. */
	conv_init(&c);
	while (c.n_stop < CONV_MAX_STOP)
		ck_assert_int_eq(pc_add_stop(&c, "z", "s", 100, NULL, NULL),
		    KF_OK);
	ck_assert_int_eq(pc_add_stop(&c, "z", "s", 100, &why, NULL),
	    KF_EINVAL);
	ck_assert_str_eq(why, "s: at most 16 stop sequences are allowed");
	conv_free(&c);
	free(why);
	free(field);
}
END_TEST

START_TEST(image_media_is_canonical)
{
	ck_assert_str_eq(pc_image_media("IMAGE/PNG"), "image/png");
	ck_assert_str_eq(pc_image_media("image/jpg"), "image/jpg");
	ck_assert_str_eq(pc_image_media("image/webp"), "image/webp");
	ck_assert_ptr_null(pc_image_media("image/bmp"));
	ck_assert_ptr_null(pc_image_media("image/png;x"));
	ck_assert_ptr_null(pc_image_media(""));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse-common");
	TCase	*tc = tcase_create("shared");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_names_the_field_in_cause_and_param);
	tcase_add_test(tc, path_set_formats_and_truncates);
	tcase_add_test(tc, path_index_is_snprintf);
	tcase_add_test(tc, want_str_reads_and_refuses_with_the_path);
	tcase_add_test(tc, want_checks_objects_and_arrays);
	tcase_add_test(tc, root_must_be_a_json_object);
	tcase_add_test(tc, model_resolves_or_lists_the_available);
	tcase_add_test(tc, thinking_name_is_adaptive_for_opus_46_only);
	tcase_add_test(tc, effort_maps_to_three_levels);
	tcase_add_test(tc, format_type_sets_json_mode);
	tcase_add_test(tc, add_tool_takes_the_schema_or_makes_an_empty_one);
	tcase_add_test(tc, keep_tools_keeps_the_named_in_order);
	tcase_add_test(tc, add_stop_caps_name_the_field);
	tcase_add_test(tc, image_media_is_canonical);
	tcase_add_test(tc, note_is_a_text_block_in_the_message);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
