/* fuzz-json.c: libFuzzer target: json.c's fast paths against json-c. */
/*
 * Input: byte 0 picks the depth limit (2 to 65), the rest is the text.
 *
 * Invariants (abort when broken; ASan and LeakSanitizer do the rest):
 *  - json_parse (fast path first) and json_parse_jsonc (json-c's tokener
 *    alone) give the same result, the same cause, and trees with the same
 *    types, key order and values;
 *  - json_to_buf writes exactly json-c's own compact serialisation;
 *  - when json_flat_parse takes the text, json_parse gives an object, and
 *    every member json_flat_get finds has the tree's type and value.
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* Type-tagged: json-c's text alone hides int 1 against double 1.0. */
static void
dump(json_object *v, struct buf *out)
{
	size_t	i, n;

	buf_putc(out, "nbdioas"[json_object_get_type(v)]);
	switch (json_object_get_type(v)) {
	case json_type_object:
		buf_putc(out, '{');
		json_object_object_foreach(v, key, val) {
			buf_json_str(out, key, strlen(key));
			dump(val, out);
		}
		buf_putc(out, '}');
		break;
	case json_type_array:
		buf_putc(out, '[');
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			dump(json_object_array_get_idx(v, i), out);
		buf_putc(out, ']');
		break;
	default:
		buf_puts(out, json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
		break;
	}
}

static void
check_flat(const struct json_flat *fl, json_object *tree)
{
	const struct json_flat_member	*m;
	json_object			*v;
	size_t				 i;

	CHECK(json_object_is_type(tree, json_type_object));
	for (i = 0; i < fl->n; i++) {
		m = json_flat_get(fl, fl->m[i].key);
		CHECK(m != NULL);
		CHECK(json_object_object_get_ex(tree, m->key, &v));
		switch (m->type) {
		case JSON_FLAT_NULL:
			CHECK(v == NULL);
			break;
		case JSON_FLAT_BOOL:
			CHECK(json_object_is_type(v, json_type_boolean));
			CHECK(m->i == json_object_get_boolean(v));
			break;
		case JSON_FLAT_INT:
			CHECK(json_object_is_type(v, json_type_int));
			CHECK(m->i == json_object_get_int64(v));
			break;
		case JSON_FLAT_DOUBLE:
			CHECK(json_object_is_type(v, json_type_double));
			CHECK(memcmp(&m->d, &(double){ json_object_get_double(
			    v) }, sizeof(m->d)) == 0);
			break;
		case JSON_FLAT_STRING:
			CHECK(json_object_is_type(v, json_type_string));
			CHECK(m->len == (size_t)json_object_get_string_len(v));
			CHECK(memcmp(m->str, json_object_get_string(v),
			    m->len) == 0 && m->str[m->len] == '\0');
			break;
		default:
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_flat	 fl;
	json_object		*a = NULL, *b = NULL;
	char			*ca = NULL, *cb = NULL;
	const char		*text, *want;
	struct buf		 da = BUF_INIT, db = BUF_INIT, out = BUF_INIT;
	enum kf_err		 ea, eb;
	size_t			 len, want_len;
	int			 depth;

	if (size < 1)
		return 0;
	depth = 2 + data[0] % 64;
	text = (const char *)data + 1;
	len = size - 1;

	ea = json_parse(text, len, depth, &a, &ca);
	eb = json_parse_jsonc(text, len, depth, &b, &cb);
	CHECK(ea == eb);
	if (ea != KF_OK) {
		CHECK(ca != NULL && cb != NULL && strcmp(ca, cb) == 0);
	} else {
		dump(a, &da);
		dump(b, &db);
		CHECK(da.len == db.len && memcmp(da.ptr, db.ptr, da.len) == 0);
		json_to_buf(a, &out);
		want = json_object_to_json_string_length(a,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &want_len);
		CHECK(out.len == want_len && memcmp(out.ptr, want,
		    want_len) == 0);
	}
	if (json_flat_parse(&fl, text, len) == 0) {
		/* Flat objects are shallow: any depth limit of 2 takes them. */
		CHECK(ea == KF_OK);
		check_flat(&fl, a);
	}
	json_object_put(a);
	json_object_put(b);
	free(ca);
	free(cb);
	buf_free(&da);
	buf_free(&db);
	buf_free(&out);
	return 0;
}
