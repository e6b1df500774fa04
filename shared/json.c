/* json.c: json-c helpers: bounded parsing, typed field access, output. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "xmalloc.h"

/*
 * RFC 3629 UTF-8.  json-c's JSON_TOKENER_VALIDATE_UTF8 checks only the byte
 * pattern, so overlong forms, UTF-16 surrogates and code points past
 * U+10FFFF get through, and Kiro refuses the request they end up in.
 * Returns the offset of the first bad byte, or len.
 */
static size_t
utf8_check(const unsigned char *s, size_t len)
{
	size_t		i = 0, n, k;
	unsigned long	cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return i;
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

struct json_parser {
	json_tokener	*tok;
	int		 max_depth;
};

/* One parse with a tokener that is fresh or reset. */
static enum kf_err
parse_with(json_tokener *tok, int max_depth, const char *text, size_t len,
    json_object **out, char **cause)
{
	json_object		*v;
	enum json_tokener_error	 jerr;
	size_t			 end;

	*out = NULL;
	if (len > INT32_MAX) {
		xsetprintf(cause, "JSON text too large");
		return KF_EINVAL;
	}
	if ((end = utf8_check((const unsigned char *)text, len)) != len) {
		xsetprintf(cause, "invalid JSON at byte %zu: invalid UTF-8",
		    end);
		return KF_EINVAL;
	}
	v = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (v == NULL && jerr == json_tokener_continue) {
		/*
		 * A number or literal that ends the input ("42", "true") is
		 * complete only once json-c sees a terminator: feed it one.
		 * All len bytes were consumed, so nothing trails.
		 */
		v = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
		if (v == NULL && jerr != json_tokener_success) {
			xsetprintf(cause, "invalid JSON: unexpected end of "
			    "input after %zu bytes", len);
			return KF_EINVAL;
		}
	}
	if (v == NULL && jerr == json_tokener_success) {
		/* json-c has no object for null, so nothing to return. */
		xsetprintf(cause, "invalid JSON: null is not accepted as "
		    "the whole text");
		return KF_EINVAL;
	}
	if (v == NULL) {
		if (jerr == json_tokener_error_depth)
			xsetprintf(cause, "invalid JSON: nesting deeper than "
			    "%d levels", max_depth);
		else
			xsetprintf(cause, "invalid JSON at byte %zu: %s", end,
			    json_tokener_error_desc(jerr));
		return KF_EINVAL;
	}
	/* One value only: anything but white space after it is an error. */
	for (; end < len; end++)
		if (text[end] != ' ' && text[end] != '\t' &&
		    text[end] != '\r' && text[end] != '\n') {
			xsetprintf(cause, "invalid JSON: unexpected data "
			    "after the value at byte %zu", end);
			json_object_put(v);
			return KF_EINVAL;
		}
	*out = v;
	return KF_OK;
}

static json_tokener *
tokener_new(int max_depth)
{
	json_tokener	*tok;

	if ((tok = json_tokener_new_ex(max_depth)) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	return tok;
}

enum kf_err
json_parse(const char *text, size_t len, int max_depth, json_object **out,
    char **cause)
{
	json_tokener	*tok;
	enum kf_err	 er;

	tok = tokener_new(max_depth);
	er = parse_with(tok, max_depth, text, len, out, cause);
	json_tokener_free(tok);
	return er;
}

struct json_parser *
json_parser_new(int max_depth)
{
	struct json_parser	*p;

	p = xcalloc(1, sizeof(*p));
	p->tok = tokener_new(max_depth);
	p->max_depth = max_depth;
	return p;
}

void
json_parser_free(struct json_parser *p)
{
	if (p == NULL)
		return;
	json_tokener_free(p->tok);
	free(p);
}

enum kf_err
json_parser_parse(struct json_parser *p, const char *text, size_t len,
    json_object **out, char **cause)
{
	json_tokener_reset(p->tok);
	return parse_with(p->tok, p->max_depth, text, len, out, cause);
}

static int
get_typed(json_object *obj, const char *key, enum json_type type,
    json_object **out)
{
	json_object	*v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, type))
		return -1;
	*out = v;
	return 1;
}

int
json_get_str(json_object *obj, const char *key, const char **out)
{
	json_object	*v;
	int		 rc;

	if ((rc = get_typed(obj, key, json_type_string, &v)) == 1)
		*out = json_object_get_string(v);
	return rc;
}

int
json_get_int(json_object *obj, const char *key, int64_t *out)
{
	json_object	*v;
	double		 d;
	int		 rc;

	if ((rc = get_typed(obj, key, json_type_int, &v)) == 1) {
		*out = json_object_get_int64(v);
		return 1;
	}
	/* 64000.0 is an integer too; 1.5 is not. */
	if (rc == -1 && get_typed(obj, key, json_type_double, &v) == 1) {
		d = json_object_get_double(v);
		if (d >= -9.0e18 && d <= 9.0e18 && d == (double)(int64_t)d) {
			*out = (int64_t)d;
			return 1;
		}
	}
	return rc;
}

int
json_get_num(json_object *obj, const char *key, double *out)
{
	json_object	*v;
	int		 rc;

	if ((rc = get_typed(obj, key, json_type_double, &v)) == 1 ||
	    (rc = get_typed(obj, key, json_type_int, &v)) == 1) {
		*out = json_object_get_double(v);
		return 1;
	}
	return rc;
}

int
json_get_bool(json_object *obj, const char *key, int *out)
{
	json_object	*v;
	int		 rc;

	if ((rc = get_typed(obj, key, json_type_boolean, &v)) == 1)
		*out = json_object_get_boolean(v) ? 1 : 0;
	return rc;
}

int
json_get_obj(json_object *obj, const char *key, json_object **out)
{
	return get_typed(obj, key, json_type_object, out);
}

int
json_get_arr(json_object *obj, const char *key, json_object **out)
{
	return get_typed(obj, key, json_type_array, out);
}

const char *
json_type_label(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
	case json_type_int:
		return "number";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "value";
}

void
json_to_buf(json_object *v, struct buf *out)
{
	const char	*s;
	size_t		 len;

	s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	buf_append(out, s, len);
}

char *
json_to_str(json_object *v)
{
	struct buf	out = BUF_INIT;

	json_to_buf(v, &out);
	return buf_detach(&out);
}

json_object *
json_str(const char *s)
{
	return json_strn(s, strlen(s));
}

json_object *
json_strn(const char *s, size_t len)
{
	json_object	*v;

	if (len > INT32_MAX || (v = json_object_new_string_len(s,
	    (int)len)) == NULL)
		abort();
	return v;
}
