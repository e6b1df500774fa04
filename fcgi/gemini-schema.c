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

static json_object	*convert(json_object *);

static json_object *
convert_object(json_object *in)
{
	json_object	*out, *v, *type = NULL;
	int		 nullable = 0;

	out = json_object_new_object();
	json_object_object_foreach(in, key, val) {
		if (strcmp(key, "propertyOrdering") == 0)
			continue;
		if (strcmp(key, "nullable") == 0 &&
		    json_object_is_type(val, json_type_boolean)) {
			nullable = json_object_get_boolean(val);
			continue;
		}
		if (strcmp(key, "type") == 0 &&
		    json_object_is_type(val, json_type_string)) {
			if ((type = lower_type(json_object_get_string(val))) !=
			    NULL)
				json_object_object_add(out, key, type);
			continue;
		}
		if (strcmp(key, "type") == 0 &&
		    json_object_is_type(val, json_type_array)) {
			size_t	i, n = json_object_array_length(val);

			v = json_object_new_array();
			for (i = 0; i < n; i++) {
				json_object *t = json_object_array_get_idx(val,
				    i), *l = NULL;

				if (json_object_is_type(t, json_type_string))
					l = lower_type(json_object_get_string(
					    t));
				json_object_array_add(v, l != NULL ? l :
				    json_object_get(t));
			}
			json_object_object_add(out, key, v);
			continue;
		}
		if (is_data_key(key))
			v = json_object_get(val);
		else
			v = convert(val);
		json_object_object_add(out, key, v);
	}
	if (nullable && type != NULL &&
	    strcmp(json_object_get_string(type), "null") != 0) {
		v = json_object_new_array();
		json_object_array_add(v, json_object_get(type));
		json_object_array_add(v, json_str("null"));
		json_object_object_add(out, "type", v);
	}
	return out;
}

static json_object *
convert(json_object *in)
{
	json_object	*out;
	size_t		 i, n;

	if (json_object_is_type(in, json_type_object))
		return convert_object(in);
	if (json_object_is_type(in, json_type_array)) {
		out = json_object_new_array();
		n = json_object_array_length(in);
		for (i = 0; i < n; i++)
			json_object_array_add(out,
			    convert(json_object_array_get_idx(in, i)));
		return out;
	}
	return json_object_get(in);
}

json_object *
gemini_schema_to_json(json_object *schema)
{
	return convert(schema);
}
