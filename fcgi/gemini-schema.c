/* gemini-schema.c: Gemini's OpenAPI-style schemas as JSON Schema. */
#include "autoconfig.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "gemini.h"
#include "json.h"

/*
 * Gemini's Schema is an OpenAPI 3.0 subset: types are upper-case enum
 * names (STRING, OBJECT, ...), "nullable" marks null as allowed, and
 * "propertyOrdering" is Gemini's own.  Kiro (and the relay's JSON mode)
 * want JSON Schema, so types are lowered, nullable becomes a type list,
 * and propertyOrdering goes.  Values that are data, not schemas (enum,
 * default, example, const), are copied untouched.
 */

static int
is_data_key(const char *key)
{
	return strcmp(key, "enum") == 0 || strcmp(key, "default") == 0 ||
	    strcmp(key, "example") == 0 || strcmp(key, "examples") == 0 ||
	    strcmp(key, "const") == 0;
}

/* "STRING" -> "string"; NULL for TYPE_UNSPECIFIED or a non-type. */
static json_object *
lower_type(const char *type)
{
	static const char *const types[] = {
		"string", "number", "integer", "boolean", "array", "object",
		"null", NULL
	};
	size_t	i;

	for (i = 0; types[i] != NULL; i++)
		if (strcasecmp(type, types[i]) == 0)
			return json_str(types[i]);
	return NULL;
}

static json_object	*convert(json_object *, int *);

/* The type as JSON Schema spells it: lowered, or NULL to drop it. */
static json_object *
convert_type(json_object *val, int *changed)
{
	json_object	*v, *t, *l;
	size_t		 i, n;

	if (json_object_is_type(val, json_type_string)) {
		if ((l = lower_type(json_object_get_string(val))) != NULL &&
		    strcmp(json_object_get_string(l),
		    json_object_get_string(val)) == 0) {
			json_object_put(l);
			return json_object_get(val);
		}
		*changed = 1;
		return l;
	}
	n = json_object_array_length(val);
	v = json_object_new_array();
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(val, i);
		l = NULL;
		if (json_object_is_type(t, json_type_string) &&
		    (l = lower_type(json_object_get_string(t))) != NULL &&
		    strcmp(json_object_get_string(l),
		    json_object_get_string(t)) != 0)
			*changed = 1;
		json_object_array_add(v, l != NULL ? l : json_object_get(t));
	}
	return v;
}

/*
 * The first change met in an object starts its copy: the keys before the
 * one at stop were kept as they were, so they are shared.
 */
static json_object *
start_copy(json_object *in, struct lh_entry *stop, json_object **type)
{
	json_object	*out;
	struct lh_entry	*e;

	out = json_object_new_object();
	for (e = json_object_get_object(in)->head; e != stop; e = e->next) {
		if (strcmp((const char *)lh_entry_k(e), "type") == 0 &&
		    json_object_is_type((json_object *)lh_entry_v(e),
		    json_type_string))
			*type = (json_object *)lh_entry_v(e);
		json_object_object_add(out, (const char *)lh_entry_k(e),
		    json_object_get((json_object *)lh_entry_v(e)));
	}
	return out;
}

static json_object *
convert_object(json_object *in, int *changed)
{
	json_object	*out = NULL, *v, *type = NULL;
	struct lh_entry	*e;
	const char	*key;
	int		 nullable = 0, ch;

	for (e = json_object_get_object(in)->head; e != NULL; e = e->next) {
		key = (const char *)lh_entry_k(e);
		v = (json_object *)lh_entry_v(e);
		ch = 0;
		if (strcmp(key, "propertyOrdering") == 0 ||
		    (strcmp(key, "nullable") == 0 &&
		    json_object_is_type(v, json_type_boolean))) {
			if (out == NULL)
				out = start_copy(in, e, &type);
			if (key[0] == 'n')
				nullable = json_object_get_boolean(v);
			continue;
		}
		if (strcmp(key, "type") == 0 &&
		    (json_object_is_type(v, json_type_string) ||
		    json_object_is_type(v, json_type_array))) {
			/* An unknown type name is dropped. */
			if ((v = convert_type(v, &ch)) == NULL &&
			    out == NULL)
				out = start_copy(in, e, &type);
			if (v == NULL)
				continue;
		} else if (is_data_key(key))
			v = json_object_get(v);
		else
			v = convert(v, &ch);
		if (ch && out == NULL)
			out = start_copy(in, e, &type);
		if (out == NULL) {
			json_object_put(v);
			continue;
		}
		if (key[0] == 't' && strcmp(key, "type") == 0 &&
		    json_object_is_type(v, json_type_string))
			type = v;
		json_object_object_add(out, key, v);
	}
	if (nullable && type != NULL &&
	    strcmp(json_object_get_string(type), "null") != 0) {
		v = json_object_new_array();
		json_object_array_add(v, json_object_get(type));
		json_object_array_add(v, json_str("null"));
		json_object_object_add(out, "type", v);
	}
	if (out == NULL)
		return json_object_get(in);
	*changed = 1;
	return out;
}

static json_object *
convert_array(json_object *in, int *changed)
{
	json_object	*out = NULL, *v;
	size_t		 i, j, n;
	int		 ch;

	n = json_object_array_length(in);
	for (i = 0; i < n; i++) {
		ch = 0;
		v = convert(json_object_array_get_idx(in, i), &ch);
		if (ch && out == NULL) {
			out = json_object_new_array();
			for (j = 0; j < i; j++)
				json_object_array_add(out, json_object_get(
				    json_object_array_get_idx(in, j)));
		}
		if (out != NULL)
			json_object_array_add(out, v);
		else
			json_object_put(v);
	}
	if (out == NULL)
		return json_object_get(in);
	*changed = 1;
	return out;
}

/*
 * A new reference to the converted schema; *changed set when it differs.
 * What needs no change (a schema already in JSON Schema's spelling, as
 * Gemini CLI's parametersJsonSchema is) is shared, not copied: building
 * and freeing a copy of every tool schema was a third of Gemini's parse.
 */
static json_object *
convert(json_object *in, int *changed)
{
	if (json_object_is_type(in, json_type_object))
		return convert_object(in, changed);
	if (json_object_is_type(in, json_type_array))
		return convert_array(in, changed);
	return json_object_get(in);
}

json_object *
gemini_schema_to_json(json_object *schema)
{
	int	changed = 0;

	return convert(schema, &changed);
}
