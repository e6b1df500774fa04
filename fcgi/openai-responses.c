/* openai-responses.c: the OpenAI Responses route, POST /v1/responses. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "imgfetch.h"
#include "openai-common.h"
#include "openai-responses.h"
#include "relay.h"
#include "request.h"
#include "serve.h"
#include "xmalloc.h"

/* Image URLs are fetched through this thread's http handle. */
static enum kf_err
fetch_image(void *arg, const char *url, char **media_type, char **b64,
    char **cause)
{
	struct request	*req = arg;

	return imgfetch(req->relay->http, url, media_type, b64, cause);
}

void
openai_responses(struct request *req)
{
	struct conv		 conv;
	struct openai_responses_req	 oreq;
	struct sink		 sink;
	struct openai_responses_emit	*emit;
	const char		*hdr;
	char			*why = NULL, *param = NULL;
	enum kf_err		 er;

	conv_init(&conv);
	memset(&oreq, 0, sizeof(oreq));
	if ((er = openai_responses_parse(req->body.ptr, req->body.len, &conv,
	    &oreq, fetch_image, req, &why, &param)) != KF_OK) {
		(void)openai_error_response(&req->out, er, why, param, 0);
		goto out;
	}
	/* Codex names its session (a UUID) in a header. */
	if ((hdr = serve_session_header(req, "HTTP_SESSION_ID")) != NULL)
		conv.session_id = xstrdup(hdr);
	if (conv.stream)
		emit = openai_responses_emit_stream(&req->out, &sink, &oreq);
	else
		emit = openai_responses_emit_json(&req->out, &sink, &oreq);
	(void)serve_relay(req, &conv, &sink, openai_relay_error);
	openai_responses_emit_free(emit);
out:
	conv_free(&conv);
	openai_responses_req_free(&oreq);
	free(why);
	free(param);
}
