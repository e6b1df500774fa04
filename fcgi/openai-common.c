/* openai-common.c: OpenAI's error format, shared by Chat Completions and Responses. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "apierr.h"
#include "buf.h"
#include "emit-common.h"
#include "json.h"
#include "openai-common.h"
#include "out.h"

int
openai_error_status(enum kf_err er, const char **type, const char **code)
{
	const struct api_error	*e = api_error(API_OPENAI, er);

	if (type != NULL)
		*type = e->type;
	if (code != NULL)
		*code = e->code;
	return e->status;
}

void
openai_error_json(struct buf *b, enum kf_err er, const char *message,
    const char *param)
{
	const char	*type, *code;

	(void)openai_error_status(er, &type, &code);
	if (message == NULL)
		message = kf_strerror(er);
	if (param == NULL && er == KF_ENOTFOUND)
		param = "model";
	buf_puts(b, "{\"error\":{\"message\":");
	buf_json_str(b, message, strlen(message));
	buf_printf(b, ",\"type\":\"%s\",\"param\":", type);
	if (param != NULL)
		buf_json_str(b, param, strlen(param));
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"code\":");
	if (code != NULL)
		buf_printf(b, "\"%s\"", code);
	else
		buf_puts(b, "null");
	buf_puts(b, "}}");
}

int
openai_error_response(struct out *out, enum kf_err er, const char *message,
    const char *param, long retry_after)
{
	struct buf	body = BUF_INIT;
	int		rc;

	openai_error_json(&body, er, message, param);
	rc = emit_json_response(out, openai_error_status(er, NULL, NULL),
	    &body, retry_after);
	buf_free(&body);
	return rc;
}

int
openai_relay_error(struct out *out, enum kf_err er, const char *message,
    long retry_after)
{
	return openai_error_response(out, er, message, NULL, retry_after);
}

long
openai_utf8_chars(const char *s, size_t len)
{
	long	n = 0;
	size_t	i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

void
openai_url_citations(json_object *arr, const char *text, size_t len,
    long base, const char *url, const char *title,
    enum openai_citation_shape shape)
{
	json_object	*a, *fields;
	const char	*at;
	size_t		 ulen, off = 0, counted = 0;
	long		 start = base, url_chars;

	if (text == NULL || url == NULL || (ulen = strlen(url)) == 0)
		return;
	url_chars = openai_utf8_chars(url, ulen);
	if (title == NULL)
		title = url;
	while (json_object_array_length(arr) < OPENAI_MAX_ANNOTATIONS &&
	    off < len && (at = memmem(text + off, len - off, url,
	    ulen)) != NULL) {
		/* Count only the new stretch: linear over all matches. */
		start += openai_utf8_chars(text + counted,
		    (size_t)(at - text) - counted);
		counted = (size_t)(at - text);
		a = json_object_new_object();
		json_object_object_add(a, "type", json_str("url_citation"));
		if (shape == OPENAI_CITATION_NESTED) {
			fields = json_object_new_object();
			json_object_object_add(a, "url_citation", fields);
		} else
			fields = a;
		json_object_object_add(fields, "start_index",
		    json_object_new_int64(start));
		json_object_object_add(fields, "end_index",
		    json_object_new_int64(start + url_chars));
		json_object_object_add(fields, "url", json_str(url));
		json_object_object_add(fields, "title", json_str(title));
		json_object_array_add(arr, a);
		off = (size_t)(at - text) + ulen;
	}
}
