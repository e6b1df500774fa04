/* jsonschema.c: the JSON Schema subset structured-output APIs use. */
#include "autoconfig.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "buf.h"
#include "json.h"
#include "jsonschema.h"
#include "xmalloc.h"

/* One validation: the schema root for $ref, the path, the first error. */
struct check {
	json_object	*root;
	struct buf	 path;
	char		*err;
	int		 quiet;		/* inside anyOf/oneOf: no message */
	long		 steps;		/* bounded: anyOf of $ref "#" doubles */
	int		 too_big;
};

/*
 * Charges n steps of work to the budget: every schema node visited, and
 * every enum comparison, required name and type name looked at, since a
 * schema's lists are as long as the client likes and are re-read for each
 * value they apply to.  0 once the budget is spent.
 */
static int
spend(struct check *c, size_t n)
{
	if (c->too_big)
		return 0;
	if (n > JSONSCHEMA_MAX_STEPS ||
	    (c->steps += (long)n) > JSONSCHEMA_MAX_STEPS) {
		c->too_big = 1;
		return 0;
	}
	return 1;
}

/* A schema value for a message: its JSON text, cut after 200 bytes. */
#define SHOWN_MAX	200
#define SHOWN(text)	(int)(strlen(text) > SHOWN_MAX ? SHOWN_MAX : \
			    strlen(text)), (text), strlen(text) > SHOWN_MAX ? \
			    "..." : ""

static int
fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct check *c, const char *fmt, ...)
{
	struct buf	msg = BUF_INIT;
	va_list		ap;

	if (c->quiet || c->err != NULL)
		return 0;
	buf_printf(&msg, "%s: ", c->path.len > 0 ? buf_cstr(&c->path) : "$");
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	c->err = buf_detach(&msg);
	return 0;
}

static const char *
type_of(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_int:
		return "integer";
	case json_type_double:
		return "number";
	case json_type_string:
		return "string";
	case json_type_array:
		return "array";
	case json_type_object:
		return "object";
	}
	return "value";
}

static int
is_type(json_object *v, const char *name)
{
	double	d;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return strcasecmp(name, "null") == 0;
	case json_type_boolean:
		return strcasecmp(name, "boolean") == 0;
	case json_type_int:
		return strcasecmp(name, "integer") == 0 ||
		    strcasecmp(name, "number") == 0;
	case json_type_double:
		d = json_object_get_double(v);
		return strcasecmp(name, "number") == 0 ||
		    (strcasecmp(name, "integer") == 0 && isfinite(d) &&
		    d == floor(d));
	case json_type_string:
		return strcasecmp(name, "string") == 0;
	case json_type_array:
		return strcasecmp(name, "array") == 0;
	case json_type_object:
		return strcasecmp(name, "object") == 0;
	}
	return 0;
}

static int	check_value(struct check *, json_object *schema, json_object *v,
		    int depth);

/* Appends ".key" or ["key"] to the path; returns the old length. */
static size_t
path_key(struct check *c, const char *key)
{
	size_t		 len = c->path.len, i;
	int		 plain = key[0] != '\0' && !(key[0] >= '0' &&
			    key[0] <= '9');

	if (len == 0)
		buf_putc(&c->path, '$');
	for (i = 0; plain && key[i] != '\0'; i++)
		if (!(key[i] == '_' || (key[i] >= 'a' && key[i] <= 'z') ||
		    (key[i] >= 'A' && key[i] <= 'Z') ||
		    (key[i] >= '0' && key[i] <= '9')))
			plain = 0;
	if (plain)
		buf_printf(&c->path, ".%s", key);
	else {
		buf_putc(&c->path, '[');
		buf_json_str(&c->path, key, strlen(key));
		buf_putc(&c->path, ']');
	}
	return len;
}

static size_t
path_index(struct check *c, size_t i)
{
	size_t	len = c->path.len;

	if (len == 0)
		buf_putc(&c->path, '$');
	buf_printf(&c->path, "[%zu]", i);
	return len;
}

static void
path_back(struct check *c, size_t len)
{
	c->path.len = len;
	if (c->path.ptr != NULL)
		c->path.ptr[len] = '\0';
}

/* The schema a local $ref names, or NULL. */
static json_object *
resolve(struct check *c, const char *ref)
{
	json_object	*defs, *target;
	const char	*name;

	if (strcmp(ref, "#") == 0)
		return c->root;
	if (strncmp(ref, "#/$defs/", 8) == 0) {
		name = ref + 8;
		if (!json_object_object_get_ex(c->root, "$defs", &defs))
			return NULL;
	} else if (strncmp(ref, "#/definitions/", 14) == 0) {
		name = ref + 14;
		if (!json_object_object_get_ex(c->root, "definitions", &defs))
			return NULL;
	} else
		return NULL;
	if (!json_object_is_type(defs, json_type_object) ||
	    !json_object_object_get_ex(defs, name, &target))
		return NULL;
	return target;
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* A number keyword: 1 and *out, or 0 (absent or not a number). */
static int
num_kw(json_object *schema, const char *key, double *out)
{
	json_object	*v;

	const char	*s;
	char		*end;

	if (!json_object_object_get_ex(schema, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)) {
		*out = json_object_get_double(v);
		return 1;
	}
	/* Gemini's schema writes its int64 limits as strings ("1"). */
	if (!json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	*out = strtod(s, &end);
	return *s != '\0' && *end == '\0' && isfinite(*out);
}

static int
check_type(struct check *c, json_object *schema, json_object *v)
{
	json_object	*t, *item;
	struct buf	 names = BUF_INIT;
	size_t		 i, n;
	int		 ok = 0;

	if (!json_object_object_get_ex(schema, "type", &t))
		return 1;
	if (json_object_is_type(t, json_type_string))
		return is_type(v, json_object_get_string(t)) ? 1 :
		    fail(c, "expected %s, got %s", json_object_get_string(t),
		    type_of(v));
	if (!json_object_is_type(t, json_type_array))
		return 1;
	n = json_object_array_length(t);
	for (i = 0; i < n && !ok; i++) {
		if (!spend(c, 1))
			break;
		item = json_object_array_get_idx(t, i);
		if (json_object_is_type(item, json_type_string)) {
			if (is_type(v, json_object_get_string(item)))
				ok = 1;
			if (names.len < SHOWN_MAX)	/* a message, not a copy */
				buf_printf(&names, "%s%s", names.len > 0 ?
				    " or " : "", json_object_get_string(item));
		}
	}
	if (!ok && names.len > 0)
		fail(c, "expected %s, got %s", buf_cstr(&names), type_of(v));
	buf_free(&names);
	return !c->too_big && (ok || n == 0);
}

static int
check_enum(struct check *c, json_object *schema, json_object *v)
{
	json_object	*e;
	const char	*text;
	size_t		 i, n;

	if (json_object_object_get_ex(schema, "const", &e)) {
		if (!spend(c, 1))
			return 0;
		if (!json_object_equal(e, v)) {
			text = json_object_to_json_string_ext(e,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);
			return fail(c, "must be %.*s%s", SHOWN(text));
		}
	}
	if (!json_object_object_get_ex(schema, "enum", &e) ||
	    !json_object_is_type(e, json_type_array))
		return 1;
	n = json_object_array_length(e);
	for (i = 0; i < n; i++) {
		if (!spend(c, 1))
			return 0;
		if (json_object_equal(json_object_array_get_idx(e, i), v))
			return 1;
	}
	text = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	return fail(c, "must be one of %.*s%s", SHOWN(text));
}

static int
check_object(struct check *c, json_object *schema, json_object *v, int depth)
{
	json_object	*props, *req, *extra, *sub, *name;
	size_t		 i, n, mark;
	int		 has_props, ok;

	if (json_object_object_get_ex(schema, "required", &req) &&
	    json_object_is_type(req, json_type_array)) {
		n = json_object_array_length(req);
		for (i = 0; i < n; i++) {
			if (!spend(c, 1))
				return 0;
			name = json_object_array_get_idx(req, i);
			if (json_object_is_type(name, json_type_string) &&
			    !json_object_object_get_ex(v,
			    json_object_get_string(name), NULL))
				return fail(c, "missing required property "
				    "\"%s\"", json_object_get_string(name));
		}
	}
	has_props = json_object_object_get_ex(schema, "properties", &props) &&
	    json_object_is_type(props, json_type_object);
	if (!json_object_object_get_ex(schema, "additionalProperties",
	    &extra))
		extra = NULL;
	json_object_object_foreach(v, key, val) {
		if (has_props && json_object_object_get_ex(props, key, &sub))
			;
		else if (extra != NULL && json_object_is_type(extra,
		    json_type_boolean)) {
			if (json_object_get_boolean(extra))
				continue;
			return fail(c, "unexpected property \"%s\"", key);
		} else if (extra != NULL && json_object_is_type(extra,
		    json_type_object))
			sub = extra;
		else
			continue;
		mark = path_key(c, key);
		ok = check_value(c, sub, val, depth + 1);
		path_back(c, mark);
		if (!ok)
			return 0;
	}
	return 1;
}

static int
check_array(struct check *c, json_object *schema, json_object *v, int depth)
{
	json_object	*items, *sub;
	size_t		 i, n, mark;
	double		 lim;
	int		 ok;

	n = json_object_array_length(v);
	if (num_kw(schema, "minItems", &lim) && (double)n < lim)
		return fail(c, "expected at least %.0f items, got %zu", lim, n);
	if (num_kw(schema, "maxItems", &lim) && (double)n > lim)
		return fail(c, "expected at most %.0f items, got %zu", lim, n);
	if (!json_object_object_get_ex(schema, "items", &items))
		return 1;
	for (i = 0; i < n; i++) {
		if (json_object_is_type(items, json_type_array)) {
			if (i >= json_object_array_length(items))
				break;
			sub = json_object_array_get_idx(items, i);
		} else
			sub = items;
		mark = path_index(c, i);
		ok = check_value(c, sub, json_object_array_get_idx(v, i),
		    depth + 1);
		path_back(c, mark);
		if (!ok)
			return 0;
	}
	return 1;
}

static int
check_scalar(struct check *c, json_object *schema, json_object *v)
{
	double	lim, d;
	size_t	n;

	if (json_object_is_type(v, json_type_string)) {
		n = utf8_chars(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		if (num_kw(schema, "minLength", &lim) && (double)n < lim)
			return fail(c, "expected at least %.0f characters, "
			    "got %zu", lim, n);
		if (num_kw(schema, "maxLength", &lim) && (double)n > lim)
			return fail(c, "expected at most %.0f characters, "
			    "got %zu", lim, n);
		return 1;
	}
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return 1;
	d = json_object_get_double(v);
	if (num_kw(schema, "minimum", &lim) && d < lim)
		return fail(c, "must be at least %g", lim);
	if (num_kw(schema, "maximum", &lim) && d > lim)
		return fail(c, "must be at most %g", lim);
	if (num_kw(schema, "exclusiveMinimum", &lim) && d <= lim)
		return fail(c, "must be more than %g", lim);
	if (num_kw(schema, "exclusiveMaximum", &lim) && d >= lim)
		return fail(c, "must be less than %g", lim);
	return 1;
}

/* anyOf (want 0: at least one), oneOf (exactly one), allOf (every one). */
static int
check_combo(struct check *c, json_object *schema, json_object *v, int depth)
{
	static const char *const kws[] = { "allOf", "anyOf", "oneOf" };
	json_object	*list;
	size_t		 i, k, n, matched;
	int		 quiet;

	for (k = 0; k < 3; k++) {
		if (!json_object_object_get_ex(schema, kws[k], &list) ||
		    !json_object_is_type(list, json_type_array))
			continue;
		n = json_object_array_length(list);
		if (k == 0) {
			for (i = 0; i < n; i++)
				if (!check_value(c, json_object_array_get_idx(
				    list, i), v, depth + 1))
					return 0;
			continue;
		}
		/*
		 * anyOf is settled by its first match and oneOf by its
		 * second: the rest would only spend the budget.
		 */
		quiet = c->quiet;
		c->quiet = 1;
		for (i = 0, matched = 0; i < n && matched < (size_t)k; i++)
			if (check_value(c, json_object_array_get_idx(list, i),
			    v, depth + 1))
				matched++;
		c->quiet = quiet;
		if (c->too_big)
			return 0;
		if (k == 1 && matched == 0)
			return fail(c, "matches none of the anyOf schemas");
		if (k == 2 && matched != 1)
			return fail(c, "matches %zu of the oneOf schemas, not "
			    "exactly one", matched);
	}
	return 1;
}

static int
check_value(struct check *c, json_object *schema, json_object *v, int depth)
{
	json_object	*ref, *nullable, *target;

	if (!spend(c, 1))
		return 0;
	if (depth > JSONSCHEMA_MAX_DEPTH)
		return fail(c, "nested deeper than %d levels",
		    JSONSCHEMA_MAX_DEPTH);
	if (json_object_is_type(schema, json_type_boolean))
		return json_object_get_boolean(schema) ? 1 :
		    fail(c, "no value is allowed here");
	if (!json_object_is_type(schema, json_type_object))
		return 1;
	if (json_object_object_get_ex(schema, "$ref", &ref) &&
	    json_object_is_type(ref, json_type_string)) {
		if ((target = resolve(c, json_object_get_string(ref))) == NULL)
			return fail(c, "the schema's $ref \"%s\" cannot be "
			    "resolved", json_object_get_string(ref));
		if (!check_value(c, target, v, depth + 1))
			return 0;
	}
	if (v == NULL && json_object_object_get_ex(schema, "nullable",
	    &nullable) && json_object_get_boolean(nullable))
		return 1;
	if (!check_type(c, schema, v) || !check_enum(c, schema, v) ||
	    !check_combo(c, schema, v, depth))
		return 0;
	if (json_object_is_type(v, json_type_object))
		return check_object(c, schema, v, depth);
	if (json_object_is_type(v, json_type_array))
		return check_array(c, schema, v, depth);
	return check_scalar(c, schema, v);
}

int
jsonschema_validate(json_object *schema, json_object *v, char **err)
{
	struct check	c;
	int		ok;

	memset(&c, 0, sizeof(c));
	c.root = schema;
	ok = check_value(&c, schema, v, 0);
	if (c.too_big) {
		ok = 0;
		free(c.err);
		c.err = xasprintf("$: the schema takes more than %d steps to "
		    "check", JSONSCHEMA_MAX_STEPS);
	}
	if (!ok && c.err == NULL)
		c.err = xstrdup("$: does not match the schema");
	if (err != NULL)
		*err = ok ? NULL : c.err;
	else
		free(c.err);
	buf_free(&c.path);
	return ok;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* JSON has no NaN or Infinity, which json-c reads: not an answer. */
static int
all_finite(json_object *v, int depth)
{
	size_t	i, n;

	if (depth > JSONSCHEMA_MAX_DEPTH)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_double:
		return isfinite(json_object_get_double(v));
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!all_finite(json_object_array_get_idx(v, i),
			    depth + 1))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(v, key, val) {
			(void)key;
			if (!all_finite(val, depth + 1))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* Parses exactly text[0..len), surrounding whitespace allowed. */
static json_object *
parse_whole(const char *text, size_t len, size_t *off, size_t *jlen)
{
	json_object	*v = NULL;
	size_t		 a = 0, b = len;

	while (a < b && is_space(text[a]))
		a++;
	while (b > a && is_space(text[b - 1]))
		b--;
	if (a == b || json_parse(text + a, b - a, JSONSCHEMA_MAX_DEPTH, &v,
	    NULL) != KF_OK)
		return NULL;
	if (!all_finite(v, 0)) {
		json_object_put(v);
		return NULL;
	}
	*off = a;
	*jlen = b - a;
	return v;
}

/* The first value parsed from s whose end is where the tokener stops. */
static json_object *
parse_prefix(const char *s, size_t len, size_t *used)
{
	struct json_tokener	*tok;
	json_object		*v;

	if ((tok = json_tokener_new_ex(JSONSCHEMA_MAX_DEPTH)) == NULL)
		return NULL;
	v = json_tokener_parse_ex(tok, s, (int)len);
	if (v != NULL && json_tokener_get_error(tok) == json_tokener_success)
		*used = json_tokener_get_parse_end(tok);
	else {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	return v;
}

json_object *
jsonschema_extract(const char *text, size_t len, size_t *offp, size_t *lenp)
{
	json_object	*v;
	const char	*p, *q, *end = text + len;
	size_t		 off = 0, jlen = 0, used, tries;

	if (len > (size_t)1 << 30)
		return NULL;
	if ((v = parse_whole(text, len, &off, &jlen)) != NULL)
		goto found;
	/* A Markdown fence: ```json ... ``` (or no language). */
	for (p = text; p + 3 <= end; p++) {
		if (memcmp(p, "```", 3) != 0)
			continue;
		for (q = p + 3; q < end && *q != '\n'; q++)
			;
		if (q >= end)
			break;
		q++;
		for (p = q; p + 3 <= end && memcmp(p, "```", 3) != 0; p++)
			;
		if (p + 3 > end)
			p = end;	/* an unclosed fence runs to the end */
		if ((v = parse_whole(q, (size_t)(p - q), &off, &jlen)) !=
		    NULL) {
			off += (size_t)(q - text);
			goto found;
		}
		break;
	}
	/* Prose around it: the first { or [ that starts a whole value. */
	for (p = text, tries = 0; p < end && tries < 64; p++) {
		if (*p != '{' && *p != '[')
			continue;
		tries++;
		if ((v = parse_prefix(p, (size_t)(end - p), &used)) == NULL)
			continue;
		/* The strict parser decides: UTF-8, depth, one value. */
		json_object_put(v);
		if ((v = parse_whole(p, used, &off, &jlen)) != NULL) {
			off += (size_t)(p - text);
			goto found;
		}
	}
	return NULL;
found:
	if (offp != NULL)
		*offp = off;
	if (lenp != NULL)
		*lenp = jlen;
	return v;
}
