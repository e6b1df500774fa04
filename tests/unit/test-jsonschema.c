/* test-jsonschema.c: the schema subset, error paths, JSON extraction. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "json.h"
#include "jsonschema.h"
#include "testutil.h"
#include "xmalloc.h"

static json_object *
J(const char *text)
{
	json_object	*v = NULL;

	if (strcmp(text, "null") == 0)
		return NULL;
	ck_assert_int_eq(json_parse(text, strlen(text), 200, &v, NULL),
	    KF_OK);
	return v;
}

/* Validates; returns the error ("" when valid) in a static buffer. */
static const char *
check(const char *schema, const char *value)
{
	static char	 msg[512];
	json_object	*s = J(schema), *v = J(value);
	char		*err = NULL;
	int		 ok;

	ok = jsonschema_validate(s, v, &err);
	ck_assert_int_eq(ok, err == NULL);
	snprintf(msg, sizeof(msg), "%s", err != NULL ? err : "");
	free(err);
	json_object_put(s);
	json_object_put(v);
	return msg;
}

START_TEST(schema_types)
{
	ck_assert_str_eq(check("{\"type\":\"string\"}", "\"a\""), "");
	ck_assert_str_eq(check("{\"type\":\"string\"}", "1"),
	    "$: expected string, got integer");
	ck_assert_str_eq(check("{\"type\":\"integer\"}", "3"), "");
	ck_assert_str_eq(check("{\"type\":\"integer\"}", "3.0"), "");
	ck_assert_str_eq(check("{\"type\":\"integer\"}", "3.5"),
	    "$: expected integer, got number");
	ck_assert_str_eq(check("{\"type\":\"number\"}", "3"), "");
	ck_assert_str_eq(check("{\"type\":\"boolean\"}", "true"), "");
	ck_assert_str_eq(check("{\"type\":\"null\"}", "null"), "");
	ck_assert_str_eq(check("{\"type\":[\"string\",\"null\"]}", "null"),
	    "");
	ck_assert_str_eq(check("{\"type\":[\"string\",\"null\"]}", "{}"),
	    "$: expected string or null, got object");
	/* Gemini writes types in capitals. */
	ck_assert_str_eq(check("{\"type\":\"OBJECT\"}", "{}"), "");
	ck_assert_str_eq(check("{\"type\":\"STRING\",\"nullable\":true}",
	    "null"), "");
	ck_assert_str_eq(check("{\"type\":\"STRING\"}", "null"),
	    "$: expected STRING, got null");
	ck_assert_str_eq(check("true", "[1]"), "");
	ck_assert_str_eq(check("false", "[1]"), "$: no value is allowed here");
}
END_TEST

START_TEST(schema_objects_and_paths)
{
	const char	*s = "{\"type\":\"object\",\"properties\":{"
	    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	    "\"properties\":{\"name\":{\"type\":\"string\"}},"
	    "\"required\":[\"name\"]}}},\"required\":[\"items\"],"
	    "\"additionalProperties\":false}";

	ck_assert_str_eq(check(s, "{\"items\":[{\"name\":\"a\"}]}"), "");
	ck_assert_str_eq(check(s, "{\"items\":[{\"name\":\"a\"},{\"name\":1},"
	    "{\"name\":\"c\"}]}"), "$.items[1].name: expected string, got "
	    "integer");
	ck_assert_str_eq(check(s, "{\"items\":[{},{}]}"),
	    "$.items[0]: missing required property \"name\"");
	ck_assert_str_eq(check(s, "{}"),
	    "$: missing required property \"items\"");
	ck_assert_str_eq(check(s, "{\"items\":[],\"x\":1}"),
	    "$: unexpected property \"x\"");
	ck_assert_str_eq(check("{\"additionalProperties\":{\"type\":"
	    "\"integer\"}}", "{\"a b\":\"x\"}"),
	    "$[\"a b\"]: expected integer, got string");
}
END_TEST

START_TEST(schema_limits_enum_const)
{
	ck_assert_str_eq(check("{\"enum\":[\"red\",\"green\"]}", "\"red\""),
	    "");
	ck_assert_str_eq(check("{\"enum\":[\"red\",\"green\"]}", "\"blue\""),
	    "$: must be one of [\"red\",\"green\"]");
	ck_assert_str_eq(check("{\"const\":{\"a\":1}}", "{\"a\":1}"), "");
	ck_assert_str_eq(check("{\"const\":5}", "6"), "$: must be 5");
	ck_assert_str_eq(check("{\"minItems\":2}", "[1]"),
	    "$: expected at least 2 items, got 1");
	ck_assert_str_eq(check("{\"maxItems\":1}", "[1,2]"),
	    "$: expected at most 1 items, got 2");
	/* Characters, not bytes. */
	ck_assert_str_eq(check("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\""),
	    "");
	ck_assert_str_eq(check("{\"minLength\":3}", "\"ab\""),
	    "$: expected at least 3 characters, got 2");
	ck_assert_str_eq(check("{\"minimum\":1,\"maximum\":3}", "2"), "");
	/* Gemini's int64 limits are strings. */
	ck_assert_str_eq(check("{\"minItems\":\"2\"}", "[1]"),
	    "$: expected at least 2 items, got 1");
	ck_assert_str_eq(check("{\"maxLength\":\"x\"}", "\"long\""), "");
	ck_assert_str_eq(check("{\"minimum\":1}", "0.5"),
	    "$: must be at least 1");
	ck_assert_str_eq(check("{\"maximum\":3}", "4"),
	    "$: must be at most 3");
	ck_assert_str_eq(check("{\"exclusiveMinimum\":1}", "1"),
	    "$: must be more than 1");
	ck_assert_str_eq(check("{\"items\":[{\"type\":\"string\"},{\"type\":"
	    "\"integer\"}]}", "[\"a\",\"b\"]"),
	    "$[1]: expected integer, got string");
}
END_TEST

START_TEST(schema_combinators_and_refs)
{
	const char	*s = "{\"$defs\":{\"node\":{\"type\":\"object\","
	    "\"properties\":{\"v\":{\"type\":\"integer\"},\"next\":{\"anyOf\":"
	    "[{\"$ref\":\"#/$defs/node\"},{\"type\":\"null\"}]}},"
	    "\"required\":[\"v\"]}},\"$ref\":\"#/$defs/node\"}";

	ck_assert_str_eq(check(s, "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"),
	    "");
	ck_assert_str_eq(check(s, "{\"v\":1,\"next\":{\"v\":\"x\"}}"),
	    "$.next: matches none of the anyOf schemas");
	ck_assert_str_eq(check(s, "{\"v\":\"x\"}"),
	    "$.v: expected integer, got string");
	ck_assert_str_eq(check("{\"definitions\":{\"s\":{\"type\":"
	    "\"string\"}},\"properties\":{\"a\":{\"$ref\":"
	    "\"#/definitions/s\"}}}", "{\"a\":1}"),
	    "$.a: expected string, got integer");
	ck_assert_str_eq(check("{\"$ref\":\"#/$defs/missing\"}", "1"),
	    "$: the schema's $ref \"#/$defs/missing\" cannot be resolved");
	ck_assert_str_eq(check("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":"
	    "\"number\"}]}", "1"),
	    "$: matches 2 of the oneOf schemas, not exactly one");
	ck_assert_str_eq(check("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":"
	    "\"string\"}]}", "1"), "");
	ck_assert_str_eq(check("{\"allOf\":[{\"type\":\"integer\"},"
	    "{\"minimum\":5}]}", "4"), "$: must be at least 5");
}
END_TEST

START_TEST(schema_depth_is_limited)
{
	json_object	*s, *v = NULL;
	char		*err = NULL, text[300];
	int		 i;

	/* A schema that refers to itself forever. */
	s = J("{\"$ref\":\"#\"}");
	ck_assert_int_eq(jsonschema_validate(s, v, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "nested deeper than 64 levels"));
	free(err);
	json_object_put(s);
	/* A value deeper than the limit under a recursive schema. */
	for (i = 0; i < 100; i++)
		text[i] = '[';
	for (i = 0; i < 100; i++)
		text[100 + i] = ']';
	text[200] = '\0';
	s = J("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
	v = J(text);
	ck_assert_int_eq(jsonschema_validate(s, v, NULL), 0);
	json_object_put(s);
	json_object_put(v);
	/* Two branches that each start over: 2^64 paths, cut short. */
	s = J("{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}");
	v = J("1");
	ck_assert_int_eq(jsonschema_validate(s, v, &err), 0);
	ck_assert_str_eq(err, "$: the schema takes more than 1000000 steps to "
	    "check");
	free(err);
	json_object_put(s);
	json_object_put(v);
}
END_TEST

/* "[item,item,...]" with n copies of item.  Caller frees. */
static char *
repeat(const char *item, size_t n)
{
	struct buf	out = BUF_INIT;
	size_t		i;

	buf_puts(&out, "[");
	for (i = 0; i < n; i++)
		buf_printf(&out, "%s%s", i > 0 ? "," : "", item);
	buf_puts(&out, "]");
	return buf_detach(&out);
}

/* 1 when valid; else 0 with the message in *err (caller frees). */
static int
validate_text(const char *schema, const char *value, char **err)
{
	json_object	*s = J(schema), *v = J(value);
	int		 ok;

	*err = NULL;
	ok = jsonschema_validate(s, v, err);
	json_object_put(s);
	json_object_put(v);
	return ok;
}

#define TOO_BIG	"$: the schema takes more than 1000000 steps to check"

/*
 * An enum of 2000 values read again for each of 1000 items is 2 million
 * comparisons: over the budget, however cheap each one is.  400 items
 * (800 thousand) fit.
 */
START_TEST(schema_huge_enum_is_bounded)
{
	struct buf	 list = BUF_INIT;
	char		*schema, *value, *err;
	size_t		 i;

	for (i = 0; i < 2000; i++)
		buf_printf(&list, "%s%zu", i > 0 ? "," : "", i);
	schema = xasprintf("{\"type\":\"array\",\"items\":{\"enum\":[%s]}}",
	    list.ptr);
	value = repeat("1999", 1000);
	ck_assert_int_eq(validate_text(schema, value, &err), 0);
	ck_assert_str_eq(err, TOO_BIG);
	free(err);
	free(value);
	value = repeat("1999", 400);
	ck_assert_int_eq(validate_text(schema, value, &err), 1);
	free(value);
	/* A miss quotes the list, cut. */
	ck_assert_int_eq(validate_text(schema, "[2000]", &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "$[0]: must be one of [0,1,2,"));
	ck_assert_uint_lt(strlen(err), 260);
	ck_assert_str_eq(err + strlen(err) - 3, "...");
	free(err);
	free(schema);
	buf_free(&list);
}
END_TEST

/* So is a required list of 2000 names checked on 1000 objects. */
START_TEST(schema_huge_required_is_bounded)
{
	char	*names, *schema, *value, *err;

	names = repeat("\"a\"", 2000);
	schema = xasprintf("{\"type\":\"array\",\"items\":{\"type\":"
	    "\"object\",\"required\":%s}}", names);
	value = repeat("{\"a\":1}", 1000);
	ck_assert_int_eq(validate_text(schema, value, &err), 0);
	ck_assert_str_eq(err, TOO_BIG);
	free(err);
	free(value);
	value = repeat("{\"a\":1}", 400);
	ck_assert_int_eq(validate_text(schema, value, &err), 1);
	free(value);
	free(schema);
	free(names);
}
END_TEST

/* And a list of 2000 type names, the one that matches last. */
START_TEST(schema_huge_type_list_is_bounded)
{
	char	*names, *schema, *value, *err;

	names = repeat("\"null\"", 1999);
	names[strlen(names) - 1] = '\0';	/* the "]" */
	schema = xasprintf("{\"type\":\"array\",\"items\":{\"type\":"
	    "%s,\"integer\"]}}", names);
	value = repeat("1", 1000);
	ck_assert_int_eq(validate_text(schema, value, &err), 0);
	ck_assert_str_eq(err, TOO_BIG);
	free(err);
	free(value);
	ck_assert_int_eq(validate_text(schema, "[1]", &err), 1);
	ck_assert_int_eq(validate_text(schema, "[\"s\"]", &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "$[0]: expected null or null or "));
	ck_assert_uint_lt(strlen(err), 300);
	free(err);
	free(schema);
	free(names);
}
END_TEST

/*
 * anyOf stops at its first match: the branch after it would branch
 * exponentially (two $refs back to itself) and spend the whole budget.
 */
START_TEST(schema_anyof_stops_at_first_match)
{
	static const char	schema[] = "{\"$defs\":{\"boom\":{\"anyOf\":["
	    "{\"$ref\":\"#/$defs/boom\"},{\"$ref\":\"#/$defs/boom\"}]}},"
	    "\"anyOf\":[{\"type\":\"integer\"},{\"$ref\":\"#/$defs/boom\"}]}";
	char			*err;

	ck_assert_int_eq(validate_text(schema, "1", &err), 1);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(validate_text(schema, "\"x\"", &err), 0);
	ck_assert_str_eq(err, TOO_BIG);
	free(err);
	/* oneOf still looks for a second match, and stops there. */
	ck_assert_str_eq(check("{\"oneOf\":[{\"type\":\"integer\"},"
	    "{\"minimum\":0},{\"$ref\":\"#\"}]}", "1"),
	    "$: matches 2 of the oneOf schemas, not exactly one");
}
END_TEST

/* Extracts; returns the JSON text found, or "" for none. */
static const char *
extract(const char *text)
{
	static char	 out[256];
	json_object	*v;
	size_t		 off = 0, len = 0;

	v = jsonschema_extract(text, strlen(text), &off, &len);
	if (v == NULL && off == 0 && len == 0) {
		out[0] = '\0';
		return out;
	}
	ck_assert_uint_lt(len, sizeof(out));
	memcpy(out, text + off, len);
	out[len] = '\0';
	json_object_put(v);
	return out;
}

START_TEST(extract_json_from_answers)
{
	json_object	*v;
	size_t		 off, len;

	ck_assert_str_eq(extract("  {\"a\":1}\n"), "{\"a\":1}");
	ck_assert_str_eq(extract("Here you go:\n```json\n{\"a\": [1, 2]}\n```\n"
	    "Anything else?"), "{\"a\": [1, 2]}");
	ck_assert_str_eq(extract("```\n[true]\n```"), "[true]");
	ck_assert_str_eq(extract("The answer is {\"x\": \"}\"} as asked."),
	    "{\"x\": \"}\"}");
	ck_assert_str_eq(extract("list [not json] then [1,2] end"), "[1,2]");
	ck_assert_str_eq(extract("\"just a string\""), "\"just a string\"");
	ck_assert_str_eq(extract("no json here"), "");
	ck_assert_str_eq(extract("{\"unclosed\": "), "");
	ck_assert_str_eq(extract(""), "");
	/* NaN and Infinity are not JSON; NUL is not white space. */
	ck_assert_str_eq(extract("NaN"), "");
	ck_assert_str_eq(extract("{\"a\": Infinity} or [2]"), "[2]");
	v = jsonschema_extract("\0\0[3]\0", 6, &off, &len);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(off, 2);
	ck_assert_uint_eq(len, 3);
	json_object_put(v);
	/* Invalid UTF-8 is refused inside prose as on its own (fuzzing). */
	ck_assert_str_eq(extract("see {\"a\":\"b\xaa\"} or [1]"), "[1]");
	ck_assert_str_eq(extract("x {\"a\":\"b\xaa\"}"), "");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("jsonschema");
	TCase	*tc = tcase_create("jsonschema");

	tcase_add_test(tc, schema_types);
	tcase_add_test(tc, schema_objects_and_paths);
	tcase_add_test(tc, schema_limits_enum_const);
	tcase_add_test(tc, schema_combinators_and_refs);
	tcase_add_test(tc, schema_depth_is_limited);
	tcase_add_test(tc, schema_huge_enum_is_bounded);
	tcase_add_test(tc, schema_huge_required_is_bounded);
	tcase_add_test(tc, schema_huge_type_list_is_bounded);
	tcase_add_test(tc, schema_anyof_stops_at_first_match);
	tcase_add_test(tc, extract_json_from_answers);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
