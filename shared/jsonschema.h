/* jsonschema.h: the JSON Schema subset structured-output APIs use. */
#ifndef JSONSCHEMA_H
#define JSONSCHEMA_H

#include <stddef.h>

struct json_object;

#define JSONSCHEMA_MAX_DEPTH	64	/* schema and value nesting */
/*
 * Work, in all: schema nodes visited, enum and const comparisons, required
 * and type names read.
 */
#define JSONSCHEMA_MAX_STEPS	1000000

/*
 * Validates v against schema (a JSON Schema object, or a boolean).  The
 * keywords: type (a name or an array of names; "integer" is a number with
 * no fraction; names are compared without case, as Gemini writes
 * "OBJECT"), nullable, enum, const, properties, required,
 * additionalProperties (boolean or schema), items (a schema, or an array
 * of schemas by position), minItems, maxItems, minLength, maxLength
 * (characters), minimum, maximum, exclusiveMinimum, exclusiveMaximum,
 * anyOf, oneOf, allOf and $ref to "#", "#/$defs/NAME" or
 * "#/definitions/NAME".  Other keywords (format, description, ...) are
 * ignored.  Returns 1 when v matches.  Otherwise 0, and *err (when err is
 * not NULL) gets a message naming where, such as
 * "$.items[2].name: expected string, got number"; the caller frees it.
 * Deeper than JSONSCHEMA_MAX_DEPTH, or more than JSONSCHEMA_MAX_STEPS
 * steps (a schema can branch exponentially through anyOf and $ref, and
 * its enum and required lists are read again for every value they apply
 * to), is a failure, not a crash or a hang.  anyOf stops at its first
 * match, oneOf at its second.  Schema values quoted in a message are cut
 * after 200 bytes.  Numeric limits may be
 * numbers or numeric strings (Gemini writes int64 fields as strings).
 */
int	jsonschema_validate(struct json_object *schema, struct json_object *v,
	    char **err);

/*
 * The JSON value a model's answer holds: the text itself, or the body of
 * its first ```json (or ```) fence, or the first object or array that
 * parses, inside surrounding prose.  Returns a new reference, or NULL
 * when there is none; *off and *len (may be NULL) get where the JSON text
 * is inside text.
 */
struct json_object	*jsonschema_extract(const char *text, size_t len,
			    size_t *off, size_t *jlen);

#endif
