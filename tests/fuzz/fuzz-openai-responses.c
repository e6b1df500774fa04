/* fuzz-openai-responses.c: libFuzzer target: Responses request parser to Kiro body. */
/*
 * Input: the body of a POST /v1/responses, as a client sends it.  It goes
 * through the path of a real request up to the upstream call:
 * openai_responses_parse (fcgi/parse-openai-responses.c, image URLs through
 * a fake fetch: any data: URL is a 1x1 PNG, anything else fails), then,
 * when it parsed, history_repair and kiro_req_build (shared/) with a fixed
 * Kiro model id.
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - a parse error is KF_EINVAL with a cause, and a param that the cause
 *    starts with whenever a param is given; success leaves a model, a Kiro
 *    model id, at least one message, an echo object, and every custom tool
 *    name among the conv's tools, whose schema asks for {"input": string};
 *  - each echo text the parser kept is one line of JSON that parses back
 *    equal to the echo's value of that key;
 *  - the rest of the path to Kiro keeps the rules of kiro-rules.c
 *    (fuzz_to_kiro: history_repair, kiro_req_build, and the checks Kiro is
 *    known to make on the body).
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conv.h"
#include "err.h"
#include "json.h"
#include "kiro-rules.h"
#include "openai-responses.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PNG_B64	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4" \
	"nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="

static enum kf_err
fake_fetch(void *arg, const char *url, char **media_type, char **b64,
    char **cause)
{
	(void)arg;
	if (strncmp(url, "data:", 5) == 0) {
		*media_type = xstrdup("image/png");
		*b64 = xstrdup(PNG_B64);
		return KF_OK;
	}
	*cause = xstrdup("could not fetch the image");
	return KF_EINVAL;
}

/* Some tool of the name takes {"input": string}: the custom one. */
static void
check_custom(const struct conv *conv, const struct openai_responses_req *req)
{
	json_object	*props, *input;
	const char	*type;
	size_t		 i, j;
	int		 found;

	for (i = 0; i < req->n_custom; i++) {
		CHECK(openai_responses_is_custom(req, req->custom[i]));
		found = 0;
		for (j = 0; j < conv->n_tools; j++)
			if (strcmp(conv->tools[j].name, req->custom[i]) == 0 &&
			    json_get_obj(conv->tools[j].schema, "properties",
			    &props) == 1 &&
			    json_get_obj(props, OPENAI_RESPONSES_CUSTOM_INPUT,
			    &input) == 1 &&
			    json_get_str(input, "type", &type) == 1 &&
			    strcmp(type, "string") == 0)
				found = 1;
		CHECK(found);
	}
}

/* The echo text, spliced into SSE data lines, says what the tree says. */
static void
check_echo_text(const struct openai_responses_req *req)
{
	struct json_object_iter	 it;
	json_object		*v, *back;
	const char		*text;
	size_t			 len;

	if (req->echo_text == NULL)
		return;
	json_object_object_foreachC(req->echo_text, it) {
		CHECK(json_object_object_get_ex(req->echo, it.key, &v));
		text = json_object_get_string(it.val);
		len = (size_t)json_object_get_string_len(it.val);
		CHECK(memchr(text, '\n', len) == NULL &&
		    memchr(text, '\r', len) == NULL);
		if (v == NULL) {
			CHECK(len == 4 && memcmp(text, "null", 4) == 0);
			continue;
		}
		back = NULL;
		CHECK(json_parse(text, len, JSON_MAX_DEPTH, &back, NULL) == KF_OK);
		CHECK(json_object_equal(back, v));
		json_object_put(back);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conv			 conv;
	struct openai_responses_req	 req;
	char				*cause = NULL, *param = NULL;
	enum kf_err			 er;

	conv_init(&conv);
	memset(&req, 0, sizeof(req));
	er = openai_responses_parse((const char *)data, size, &conv, &req,
	    fake_fetch, NULL, &cause, &param);
	if (er != KF_OK) {
		/* An unknown model is KF_ENOTFOUND (404 in every API). */
		CHECK((er == KF_EINVAL || er == KF_ENOTFOUND) &&
		    cause != NULL && *cause != '\0');
		if (param != NULL)
			CHECK(*param != '\0' &&
			    strncmp(cause, param, strlen(param)) == 0);
		goto out;
	}
	CHECK(cause == NULL && param == NULL);
	CHECK(conv.model != NULL && conv.kiro_model != NULL);
	CHECK(conv.n_msgs > 0);
	CHECK(req.echo != NULL);
	check_custom(&conv, &req);
	check_echo_text(&req);

	fuzz_to_kiro(&conv, NULL);
out:
	free(cause);
	free(param);
	conv_free(&conv);
	openai_responses_req_free(&req);
	return 0;
}
