/* fuzz-jsonschema.c: libFuzzer target: JSON answers and stop sequences. */
/*
 * Input: a JSON Schema, a NUL byte, then a model's answer text (no NUL:
 * the whole input is the text, checked against a fixed schema).  It goes
 * the way a json_mode answer goes (shared/constrain.c): the text through
 * a stopseq matcher in small fragments, jsonschema_extract on the text,
 * then jsonschema_validate of what was found against the schema (when the
 * schema part parses as JSON).
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - what stopseq emits, followed by the sequence that matched (if any),
 *    is a prefix of the text; with no match, emitted plus the flush is
 *    the whole text; no emitted piece ends inside a UTF-8 character when
 *    the text is valid UTF-8;
 *  - extraction gives NULL, or a value whose reported span lies inside
 *    the text and parses on its own to an equal value;
 *  - validation returns 1 with no message, or 0 with a message that
 *    starts with "$" and names a place ("$...: ").
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "json.h"
#include "jsonschema.h"
#include "stopseq.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FIXED_SCHEMA "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":" \
	"[\"string\",\"null\"],\"maxLength\":5},\"b\":{\"type\":\"array\"," \
	"\"items\":{\"$ref\":\"#/$defs/n\"},\"minItems\":1}},\"required\":" \
	"[\"a\"],\"additionalProperties\":false,\"$defs\":{\"n\":{\"anyOf\":" \
	"[{\"type\":\"integer\",\"minimum\":0},{\"$ref\":\"#\"}]}}}"

static int
utf8_valid(const uint8_t *s, size_t len)
{
	json_object	*v = NULL;
	struct buf	 b = BUF_INIT;
	int		 ok;

	/* json_parse checks UTF-8: wrap the bytes as a JSON string. */
	buf_json_str(&b, (const char *)s, len);
	ok = json_parse(b.ptr, b.len, 4, &v, NULL) == KF_OK;
	json_object_put(v);
	buf_free(&b);
	return ok && memchr(s, '\0', len) == NULL;
}

static int
ends_in_char(const char *s, size_t len)
{
	size_t		j = len, need;
	unsigned char	c;

	while (j > 0 && ((unsigned char)s[j - 1] & 0xc0) == 0x80 &&
	    len - j < 3)
		j--;
	if (j == 0 || (c = (unsigned char)s[j - 1]) < 0xc0)
		return 1;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return j - 1 + need <= len;
}

static void
check_stopseq(const uint8_t *text, size_t len)
{
	/* Self-overlapping ones test the fallbacks of the search tables. */
	static char	*seqs[] = { "}\n", "```", "\xc3\xa9", "END", "abab",
	    "aab" };
	struct stopseq	*ss;
	struct buf	 out = BUF_INIT;
	const char	*o, *m;
	size_t		 i, n, step;
	int		 valid = utf8_valid(text, len), r = -1;

	ss = stopseq_new(seqs, sizeof(seqs) / sizeof(seqs[0]));
	for (i = 0; i < len && r < 0; i += step) {
		step = 1 + (text[i] % 7);
		if (step > len - i)
			step = len - i;
		r = stopseq_feed(ss, (const char *)text + i, step, &o, &n);
		if (valid && n > 0 && !ends_in_char(o, n) && r < 0)
			abort();
		buf_append(&out, o, n);
	}
	if (r < 0) {
		stopseq_flush(ss, &o, &n);
		buf_append(&out, o, n);
		if (out.len != len || (len > 0 && memcmp(out.ptr, text, len)))
			abort();
	} else {
		m = stopseq_matched(ss);
		if (m == NULL || out.len + strlen(m) > len ||
		    (out.len > 0 && memcmp(out.ptr, text, out.len) != 0) ||
		    memcmp(text + out.len, m, strlen(m)) != 0)
			abort();
	}
	buf_free(&out);
	stopseq_free(ss);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul, *text;
	json_object	*schema = NULL, *v, *again = NULL;
	size_t		 tlen, off = 0, jlen = 0;
	char		*err = NULL;
	int		 ok;

	if ((nul = memchr(data, '\0', size)) != NULL) {
		if (json_parse((const char *)data, (size_t)(nul - data), 64,
		    &schema, NULL) != KF_OK)
			schema = NULL;
		text = nul + 1;
		tlen = size - (size_t)(text - data);
	} else {
		if (json_parse(FIXED_SCHEMA, strlen(FIXED_SCHEMA), 64, &schema,
		    NULL) != KF_OK)
			abort();
		text = data;
		tlen = size;
	}
	check_stopseq(text, tlen);

	v = jsonschema_extract((const char *)text, tlen, &off, &jlen);
	if (v != NULL) {
		if (off > tlen || jlen > tlen - off || jlen == 0)
			abort();
		if (json_parse((const char *)text + off, jlen, 64, &again,
		    NULL) != KF_OK || !json_object_equal(v, again))
			abort();
		json_object_put(again);
		if (schema != NULL) {
			ok = jsonschema_validate(schema, v, &err);
			if (ok != (err == NULL) || (err != NULL &&
			    (err[0] != '$' || strstr(err, ": ") == NULL)))
				abort();
			free(err);
		}
	}
	json_object_put(v);
	json_object_put(schema);
	return 0;
}
