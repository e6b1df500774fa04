/* json.c: json-c helpers: bounded parsing, typed field access, output. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "xmalloc.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
#ifdef __SSE2__
	unsigned int	mask;
#else
	uint64_t	word;
#endif

	while (i < len) {
		/*
		 * Requests are mostly ASCII: step over it 16 bytes at a time
		 * with SSE2, straight to the first byte that is not; else 8.
		 */
#ifdef __SSE2__
		while (len - i >= 16) {
			if ((mask = (unsigned int)_mm_movemask_epi8(
			    _mm_loadu_si128((const __m128i *)(const void *)
			    (s + i)))) != 0) {
				i += (size_t)__builtin_ctz(mask);
				break;
			}
			i += 16;
		}
#else
		while (len - i >= 8) {
			memcpy(&word, s + i, 8);
			if ((word & UINT64_C(0x8080808080808080)) != 0)
				break;
			i += 8;
		}
#endif
		if (i == len)
			break;
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

static inline void
put_char(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/*
 * A fast path in front of json-c's tokener, which goes one byte at a time
 * through a state machine, and sets up a locale for every call (a cost
 * that dominates a short Kiro event).  It builds the same json-c tree
 * from the plainest JSON only: RFC 8259 syntax, the four RFC white space
 * bytes, integers of at most 18 digits (no "-0"), doubles kept with their
 * text as json-c keeps them, no raw control bytes or lone surrogates in
 * strings, no NUL in keys, nesting well inside max_depth.  Anything else
 * (including every error) gives up, and json-c parses the text from the
 * start, so what is accepted, the tree and every error message stay
 * json-c's.  The text's UTF-8 is checked before.
 */
#define FAST_MAX_NUMBER	64	/* longer number tokens are json-c's */

struct fast {
	const char	*p;
	const char	*end;
	int		 depth;
	int		 max_depth;
	int		 failed;
	struct buf	 str;		/* an unescaped string or key */
};

static json_object	*fast_value(struct fast *);

/* The first byte of [p, end) that ends a plain run inside a string. */
const char *
json_str_run(const char *p, const char *end)
{
	return p + buf_json_plain(p, (size_t)(end - p), 0);
}

static void
fast_ws(struct fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' ||
	    *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

static int
fast_hex4(const char *p, unsigned int *out)
{
	unsigned int	v = 0, d;
	int		i;

	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = (unsigned int)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = (unsigned int)(p[i] - 'a' + 10);
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = (unsigned int)(p[i] - 'A' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static void
fast_utf8(struct buf *b, unsigned long cp)
{
	char	u[4];
	size_t	n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

/* One escape after the backslash at *p: 0, or -1 to give up. */
static int
fast_escape(struct fast *f)
{
	unsigned int	hi, lo;
	char		c;

	if (f->end - f->p < 2)
		return -1;
	switch (f->p[1]) {
	case '"':	c = '"';	break;
	case '\\':	c = '\\';	break;
	case '/':	c = '/';	break;
	case 'b':	c = '\b';	break;
	case 'f':	c = '\f';	break;
	case 'n':	c = '\n';	break;
	case 'r':	c = '\r';	break;
	case 't':	c = '\t';	break;
	case 'u':
		if (f->end - f->p < 6 || fast_hex4(f->p + 2, &hi) == -1)
			return -1;
		if (hi >= 0xdc00 && hi <= 0xdfff)
			return -1;
		if (hi < 0xd800 || hi > 0xdbff) {
			fast_utf8(&f->str, hi);
			f->p += 6;
			return 0;
		}
		/* A high surrogate: only a low one after it is plain. */
		if (f->end - f->p < 12 || f->p[6] != '\\' || f->p[7] != 'u' ||
		    fast_hex4(f->p + 8, &lo) == -1 || lo < 0xdc00 ||
		    lo > 0xdfff)
			return -1;
		fast_utf8(&f->str, 0x10000 + ((unsigned long)(hi - 0xd800) <<
		    10) + (lo - 0xdc00));
		f->p += 12;
		return 0;
	default:
		return -1;
	}
	put_char(&f->str, c);
	f->p += 2;
	return 0;
}

/*
 * The string whose opening quote is at *p.  Without escapes, *out and
 * *len point into the text; else into f->str.  0, or -1 to give up.
 */
static int
fast_string(struct fast *f, const char **out, size_t *len)
{
	const char	*start = ++f->p, *run;

	f->p = json_str_run(f->p, f->end);
	if (f->p < f->end && *f->p == '"') {
		*out = start;
		*len = (size_t)(f->p++ - start);
		return 0;
	}
	buf_reset(&f->str);
	buf_append(&f->str, start, (size_t)(f->p - start));
	while (f->p < f->end) {
		if (*f->p == '"') {
			f->p++;
			*out = f->str.ptr;
			*len = f->str.len;
			return 0;
		}
		if (*f->p != '\\' || fast_escape(f) == -1)
			return -1;	/* a control byte, or a rare escape */
		run = f->p;
		f->p = json_str_run(f->p, f->end);
		buf_add(&f->str, run, (size_t)(f->p - run));
	}
	return -1;
}

static json_object *
fast_number(struct fast *f)
{
	const char	*start = f->p, *digits;
	char		 text[FAST_MAX_NUMBER + 1];
	int64_t		 v = 0;
	size_t		 n;
	int		 is_double = 0;

	if (f->p < f->end && *f->p == '-')
		f->p++;
	digits = f->p;
	if (f->p < f->end && *f->p == '0')
		f->p++;
	else
		while (f->p < f->end && *f->p >= '0' && *f->p <= '9')
			v = v * 10 + (*f->p++ - '0');
	n = (size_t)(f->p - digits);
	if (n == 0 || n > 18)
		return NULL;
	if (f->p < f->end && *f->p == '.') {
		is_double = 1;
		for (digits = ++f->p; f->p < f->end && *f->p >= '0' &&
		    *f->p <= '9'; f->p++)
			;
		if (f->p == digits)
			return NULL;
	}
	if (f->p < f->end && (*f->p == 'e' || *f->p == 'E')) {
		is_double = 1;
		f->p++;
		if (f->p < f->end && (*f->p == '+' || *f->p == '-'))
			f->p++;
		for (digits = f->p; f->p < f->end && *f->p >= '0' &&
		    *f->p <= '9'; f->p++)
			;
		if (f->p == digits)
			return NULL;
	}
	n = (size_t)(f->p - start);
	if (!is_double) {
		if (*start == '-' && v == 0)
			return NULL;	/* "-0": json-c's business */
		return json_object_new_int64(*start == '-' ? -v : v);
	}
	if (n > FAST_MAX_NUMBER)
		return NULL;
	memcpy(text, start, n);
	text[n] = '\0';
	/* As json-c: the value by strtod, the text kept for output. */
	return json_object_new_double_s(strtod(text, NULL), text);
}

static int
fast_literal(struct fast *f, const char *word, size_t len)
{
	if ((size_t)(f->end - f->p) < len || memcmp(f->p, word, len) != 0)
		return -1;
	f->p += len;
	return 0;
}

static json_object *
fast_object(struct fast *f)
{
	json_object	*obj, *v;
	const char	*key;
	char		 small[64], *k;
	size_t		 len;

	obj = json_object_new_object();
	f->p++;
	fast_ws(f);
	if (f->p < f->end && *f->p == '}') {
		f->p++;
		return obj;
	}
	for (;;) {
		if (f->p >= f->end || *f->p != '"' ||
		    fast_string(f, &key, &len) == -1 ||
		    memchr(key, '\0', len) != NULL)
			break;
		/* json-c takes the key as a C string: terminate a copy. */
		k = len < sizeof(small) ? small : xmalloc(len + 1);
		memcpy(k, key, len);
		k[len] = '\0';
		fast_ws(f);
		if (f->p >= f->end || *f->p != ':') {
			if (k != small)
				free(k);
			break;
		}
		f->p++;
		v = fast_value(f);
		if (f->failed) {
			if (k != small)
				free(k);
			break;
		}
		json_object_object_add(obj, k, v);
		if (k != small)
			free(k);
		fast_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			fast_ws(f);
			continue;
		}
		if (f->p < f->end && *f->p == '}') {
			f->p++;
			return obj;
		}
		break;
	}
	f->failed = 1;
	json_object_put(obj);
	return NULL;
}

static json_object *
fast_array(struct fast *f)
{
	json_object	*arr, *v;

	arr = json_object_new_array();
	f->p++;
	fast_ws(f);
	if (f->p < f->end && *f->p == ']') {
		f->p++;
		return arr;
	}
	for (;;) {
		v = fast_value(f);
		if (f->failed)
			break;
		json_object_array_add(arr, v);
		fast_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			continue;
		}
		if (f->p < f->end && *f->p == ']') {
			f->p++;
			return arr;
		}
		break;
	}
	f->failed = 1;
	json_object_put(arr);
	return NULL;
}

/* One value; NULL is null, or a failure when f->failed is set. */
static json_object *
fast_value(struct fast *f)
{
	json_object	*v = NULL;
	const char	*s;
	size_t		 len;

	fast_ws(f);
	if (f->p >= f->end) {
		f->failed = 1;
		return NULL;
	}
	switch (*f->p) {
	case '{':
	case '[':
		/* json-c refuses at max_depth - 1: stay well inside. */
		if (++f->depth >= f->max_depth - 2) {
			f->failed = 1;
			return NULL;
		}
		v = *f->p == '{' ? fast_object(f) : fast_array(f);
		f->depth--;
		return v;
	case '"':
		if (fast_string(f, &s, &len) == 0 && len <= INT32_MAX)
			return json_strn(s, len);
		break;
	case 't':
		if (fast_literal(f, "true", 4) == 0)
			return json_object_new_boolean(1);
		break;
	case 'f':
		if (fast_literal(f, "false", 5) == 0)
			return json_object_new_boolean(0);
		break;
	case 'n':
		if (fast_literal(f, "null", 4) == 0)
			return NULL;
		break;
	default:
		if ((v = fast_number(f)) != NULL)
			return v;
		break;
	}
	f->failed = 1;
	return NULL;
}

/* The tree of an object or array text, or NULL: leave it to json-c. */
static json_object *
fast_parse(const char *text, size_t len, int max_depth)
{
	struct fast	 f;
	json_object	*v;

	memset(&f, 0, sizeof(f));
	f.p = text;
	f.end = text + len;
	f.max_depth = max_depth;
	fast_ws(&f);
	if (f.p >= f.end || (*f.p != '{' && *f.p != '['))
		return NULL;
	v = fast_value(&f);
	if (!f.failed) {
		fast_ws(&f);
		if (f.p != f.end) {
			json_object_put(v);
			v = NULL;
		}
	}
	buf_free(&f.str);
	return f.failed ? NULL : v;
}

/*
 * One string into the arena, terminated; the arena was reserved for the
 * whole text, so earlier strings do not move.
 */
static int
flat_string(struct fast *f, struct buf *arena, const char **out, size_t *len)
{
	const char	*s;

	if (f->p >= f->end || *f->p != '"' || fast_string(f, &s, len) == -1)
		return -1;
	*out = arena->ptr + arena->len;
	memcpy(arena->ptr + arena->len, s, *len);
	arena->len += *len;
	arena->ptr[arena->len++] = '\0';
	return 0;
}

int
json_flat_parse(struct json_flat *fl, const char *text, size_t len)
{
	struct fast		 f;
	struct json_flat_member	*m;
	json_object		*num;
	int			 rc = -1;

	fl->n = 0;
	if (len > INT32_MAX || utf8_check((const unsigned char *)text, len) !=
	    len)
		return -1;
	/* Unescaped strings and their NULs never outgrow the text. */
	buf_reset(&fl->arena);
	buf_reserve(&fl->arena, len + 1);
	memset(&f, 0, sizeof(f));
	f.p = text;
	f.end = text + len;
	f.str = fl->scratch;		/* its allocation, kept for the next */
	fast_ws(&f);
	if (f.p >= f.end || *f.p++ != '{')
		goto out;
	fast_ws(&f);
	if (f.p < f.end && *f.p == '}') {
		f.p++;
		goto end;
	}
	for (;;) {
		if (fl->n == JSON_FLAT_MAX)
			goto out;
		m = &fl->m[fl->n];
		if (flat_string(&f, &fl->arena, &m->key, &m->key_len) == -1 ||
		    memchr(m->key, '\0', m->key_len) != NULL)
			goto out;
		fast_ws(&f);
		if (f.p >= f.end || *f.p++ != ':')
			goto out;
		fast_ws(&f);
		if (f.p >= f.end)
			goto out;
		m->str = NULL;
		m->len = 0;
		m->i = 0;
		m->d = 0;
		switch (*f.p) {
		case '"':
			m->type = JSON_FLAT_STRING;
			if (flat_string(&f, &fl->arena, &m->str, &m->len) == -1)
				goto out;
			break;
		case 't':
		case 'f':
			m->type = JSON_FLAT_BOOL;
			m->i = *f.p == 't';
			if (fast_literal(&f, m->i ? "true" : "false",
			    m->i ? 4 : 5) == -1)
				goto out;
			break;
		case 'n':
			m->type = JSON_FLAT_NULL;
			if (fast_literal(&f, "null", 4) == -1)
				goto out;
			break;
		default:
			/* The fast path's own numbers, so json-c's values. */
			if ((num = fast_number(&f)) == NULL)
				goto out;
			m->type = json_object_is_type(num, json_type_int) ?
			    JSON_FLAT_INT : JSON_FLAT_DOUBLE;
			m->i = json_object_get_int64(num);
			m->d = json_object_get_double(num);
			json_object_put(num);
			break;
		}
		fl->n++;
		fast_ws(&f);
		if (f.p < f.end && *f.p == ',') {
			f.p++;
			fast_ws(&f);
			continue;
		}
		if (f.p < f.end && *f.p == '}') {
			f.p++;
			break;
		}
		goto out;
	}
end:
	fast_ws(&f);
	if (f.p == f.end)
		rc = 0;
out:
	fl->scratch = f.str;
	if (rc == -1)
		fl->n = 0;
	return rc;
}

const struct json_flat_member *
json_flat_get(const struct json_flat *fl, const char *key)
{
	size_t	len = strlen(key), i;

	for (i = fl->n; i > 0; i--)
		if (fl->m[i - 1].key_len == len &&
		    memcmp(fl->m[i - 1].key, key, len) == 0)
			return &fl->m[i - 1];
	return NULL;
}

void
json_flat_free(struct json_flat *fl)
{
	buf_free(&fl->arena);
	buf_free(&fl->scratch);
	fl->n = 0;
}

struct json_parser {
	json_tokener	*tok;
	int		 max_depth;
};

static json_tokener	*tokener_new(int);

/*
 * One parse: the fast path, else json-c with *tokp, which is made when
 * NULL (the fast path needs none) and reset before use.
 */
static enum kf_err
parse_with(json_tokener **tokp, int max_depth, int fast, const char *text,
    size_t len, json_object **out, char **cause)
{
	json_tokener		*tok;
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
	if (fast && (*out = fast_parse(text, len, max_depth)) != NULL)
		return KF_OK;
	if (*tokp == NULL)
		*tokp = tokener_new(max_depth);
	else
		json_tokener_reset(*tokp);
	tok = *tokp;
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
	json_tokener	*tok = NULL;
	enum kf_err	 er;

	er = parse_with(&tok, max_depth, 1, text, len, out, cause);
	if (tok != NULL)
		json_tokener_free(tok);
	return er;
}

enum kf_err
json_parse_jsonc(const char *text, size_t len, int max_depth,
    json_object **out, char **cause)
{
	json_tokener	*tok = NULL;
	enum kf_err	 er;

	er = parse_with(&tok, max_depth, 0, text, len, out, cause);
	if (tok != NULL)
		json_tokener_free(tok);
	return er;
}

struct json_parser *
json_parser_new(int max_depth)
{
	struct json_parser	*p;

	p = xcalloc(1, sizeof(*p));
	p->max_depth = max_depth;
	return p;
}

void
json_parser_free(struct json_parser *p)
{
	if (p == NULL)
		return;
	if (p->tok != NULL)
		json_tokener_free(p->tok);
	free(p);
}

enum kf_err
json_parser_parse(struct json_parser *p, const char *text, size_t len,
    json_object **out, char **cause)
{
	return parse_with(&p->tok, p->max_depth, 1, text, len, out, cause);
}

/* v as type: 1, 0 when absent (NULL), -1 when of another type. */
static int
as_typed(json_object *v, enum json_type type, json_object **out)
{
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, type))
		return -1;
	*out = v;
	return 1;
}

/* obj's member key; NULL when absent, null, or obj is not an object. */
static json_object *
member(json_object *obj, const char *key)
{
	json_object	*v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

int
json_as_str(json_object *v, const char **out)
{
	int	rc;

	if ((rc = as_typed(v, json_type_string, &v)) == 1)
		*out = json_object_get_string(v);
	return rc;
}

int
json_as_int(json_object *v, int64_t *out)
{
	json_object	*n;
	double		 d;
	int		 rc;

	if ((rc = as_typed(v, json_type_int, &n)) == 1) {
		*out = json_object_get_int64(n);
		return 1;
	}
	/* 64000.0 is an integer too; 1.5 is not. */
	if (rc == -1 && as_typed(v, json_type_double, &n) == 1) {
		d = json_object_get_double(n);
		if (d >= -9.0e18 && d <= 9.0e18 && d == (double)(int64_t)d) {
			*out = (int64_t)d;
			return 1;
		}
	}
	return rc;
}

int
json_as_bool(json_object *v, int *out)
{
	int	rc;

	if ((rc = as_typed(v, json_type_boolean, &v)) == 1)
		*out = json_object_get_boolean(v) ? 1 : 0;
	return rc;
}

int
json_as_obj(json_object *v, json_object **out)
{
	return as_typed(v, json_type_object, out);
}

int
json_as_arr(json_object *v, json_object **out)
{
	return as_typed(v, json_type_array, out);
}

int
json_get_str(json_object *obj, const char *key, const char **out)
{
	return json_as_str(member(obj, key), out);
}

int
json_get_int(json_object *obj, const char *key, int64_t *out)
{
	return json_as_int(member(obj, key), out);
}

int
json_get_num(json_object *obj, const char *key, double *out)
{
	json_object	*v = member(obj, key), *n;
	int		 rc;

	if ((rc = as_typed(v, json_type_double, &n)) == 1 ||
	    (rc = as_typed(v, json_type_int, &n)) == 1) {
		*out = json_object_get_double(n);
		return 1;
	}
	return rc;
}

int
json_get_bool(json_object *obj, const char *key, int *out)
{
	return json_as_bool(member(obj, key), out);
}

int
json_get_obj(json_object *obj, const char *key, json_object **out)
{
	return json_as_obj(member(obj, key), out);
}

int
json_get_arr(json_object *obj, const char *key, json_object **out)
{
	return json_as_arr(member(obj, key), out);
}

void
json_pick(json_object *obj, const char *const *names, size_t n,
    json_object **vals)
{
	size_t	k;

	for (k = 0; k < n; k++)
		vals[k] = NULL;
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return;
	/* A first-byte compare rules out most names before strcmp. */
	json_object_object_foreach(obj, key, val) {
		for (k = 0; k < n; k++)
			if (key[0] == names[k][0] &&
			    strcmp(key, names[k]) == 0) {
				vals[k] = val;
				break;
			}
	}
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

/*
 * json-c's serialiser escapes one byte at a time into a printbuf and then
 * it is copied out; the Kiro body (every tool schema, every tool result)
 * goes through here once per request.  This writes the same bytes as
 * json_object_to_json_string_ext(PLAIN | NOSLASHESCAPE) straight into
 * out: json-c's escapes ("\u00XX" in lower case for other control
 * bytes, DEL and non-ASCII as they are), insertion order, null for NULL.
 * Doubles keep json-c's own output (the parsed text, or its formatting),
 * and so does an integer json-c may hold unsigned.
 */
static const unsigned char	jsonc_esc[256] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	['"'] = '"', ['\\'] = '\\',
};

void
json_put_str(struct buf *out, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[6] = { '\\', 'u', '0', '0' };
	size_t			 i, run;

	buf_reserve(out, len + 2);
	/* jsonc_esc marks the bytes json_str_run stops at. */
	run = (size_t)(json_str_run(s, s + len) - s);
	if (run == len) {
		/*
		 * Most strings (keys, ids, plain text) need no escape: one
		 * copy into the room just reserved.
		 */
		out->ptr[out->len] = '"';
		memcpy(out->ptr + out->len + 1, s, len);
		out->len += len + 2;
		out->ptr[out->len - 1] = '"';
		out->ptr[out->len] = '\0';
		return;
	}
	put_char(out, '"');
	buf_add(out, s, run);
	for (i = run; i < len; i = run) {
		if (jsonc_esc[p[i]] == 'u') {
			esc[4] = hex[p[i] >> 4];
			esc[5] = hex[p[i] & 0xf];
			buf_add(out, esc, 6);
		} else {
			esc[1] = (char)jsonc_esc[p[i]];
			buf_add(out, esc, 2);
			esc[1] = 'u';
		}
		i++;
		run = (size_t)(json_str_run(s + i, s + len) - s);
		buf_add(out, s + i, run - i);
	}
	put_char(out, '"');
}

static void
jsonc_leaf(json_object *v, struct buf *out)
{
	const char	*s;
	size_t		 len;

	s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	buf_append(out, s, len);
}

static void
write_value(json_object *v, struct buf *out)
{
	char		 num[BUF_DECIMAL_LEN];
	const char	*p;
	int64_t		 i;
	size_t		 k, n;
	int		 first = 1;

	switch (json_object_get_type(v)) {
	case json_type_null:
		buf_add(out, "null", 4);
		break;
	case json_type_boolean:
		if (json_object_get_boolean(v))
			buf_add(out, "true", 4);
		else
			buf_add(out, "false", 5);
		break;
	case json_type_int:
		if ((i = json_object_get_int64(v)) == INT64_MAX) {
			jsonc_leaf(v, out);	/* maybe an unsigned one */
			break;
		}
		p = buf_decimal(i, num, &n);
		buf_add(out, p, n);
		break;
	case json_type_double:
		jsonc_leaf(v, out);
		break;
	case json_type_string:
		json_put_str(out, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		put_char(out, '[');
		n = json_object_array_length(v);
		for (k = 0; k < n; k++) {
			if (k > 0)
				put_char(out, ',');
			write_value(json_object_array_get_idx(v, k), out);
		}
		put_char(out, ']');
		break;
	case json_type_object:
		put_char(out, '{');
		json_object_object_foreach(v, key, val) {
			if (!first)
				put_char(out, ',');
			first = 0;
			json_put_str(out, key, strlen(key));
			put_char(out, ':');
			write_value(val, out);
		}
		put_char(out, '}');
		break;
	}
}

void
json_to_buf(json_object *v, struct buf *out)
{
	write_value(v, out);
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
