/* anthropic.c: the Anthropic Messages routes: /v1/messages, /cc/v1/messages, count_tokens. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "buf.h"
#include "config.h"
#include "conv.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "relay.h"
#include "request.h"
#include "serve.h"
#include "tokens.h"
#include "xmalloc.h"

enum mode {
	MODE_MESSAGES,		/* /v1/messages */
	MODE_CC,		/* /cc/v1/messages: buffered stream */
};

static void
serve(struct request *req, enum mode mode)
{
	struct conv		 conv;
	struct sink		 sink;
	struct anthropic_emit	*emit;
	const char		*hdr;
	char			*why = NULL;
	enum kf_err		 er;

	conv_init(&conv);
	if ((er = anthropic_parse(req->body.ptr, req->body.len, 0, &conv,
	    &why)) != KF_OK) {
		(void)anthropic_error_response(&req->out, er, why, 0);
		goto out;
	}
	/* Claude Code also names its session in a header. */
	hdr = serve_session_header(req, "HTTP_X_CLAUDE_CODE_SESSION_ID");
	if (conv.session_id == NULL && hdr != NULL)
		conv.session_id = xstrdup(hdr);
	if (!conv.stream)
		emit = anthropic_emit_json(&req->out, &sink);
	else if (mode == MODE_CC)
		emit = anthropic_emit_buffered(&req->out, &sink);
	else
		emit = anthropic_emit_stream(&req->out, &sink);
	(void)serve_relay(req, &conv, &sink, anthropic_error_response);
	anthropic_emit_free(emit);
out:
	conv_free(&conv);
	free(why);
}

void
anthropic_messages(struct request *req)
{
	serve(req, MODE_MESSAGES);
}

void
anthropic_cc_messages(struct request *req)
{
	serve(req, MODE_CC);
}

/*
 * Asks the configured countTokensApiUrl (an Anthropic-compatible
 * count_tokens endpoint): the count, or -1 to fall back to the estimate.
 */
static long
count_remote(struct request *req)
{
	const struct config	*cfg = req->cfg;
	struct http_req		 hr;
	struct http_resp	 resp;
	json_object		*root = NULL;
	const char		*headers[5];
	char			*auth = NULL, *why = NULL;
	int64_t			 n = -1;
	size_t			 i = 0;

	headers[i++] = "Content-Type: application/json";
	headers[i++] = "anthropic-version: 2023-06-01";
	if (cfg->count_tokens_api_key != NULL) {
		if (strcmp(cfg->count_tokens_auth_type, "bearer") == 0)
			auth = xasprintf("Authorization: Bearer %s",
			    cfg->count_tokens_api_key);
		else
			auth = xasprintf("x-api-key: %s",
			    cfg->count_tokens_api_key);
		headers[i++] = auth;
	}
	headers[i] = NULL;
	memset(&hr, 0, sizeof(hr));
	hr.method = "POST";
	hr.url = cfg->count_tokens_api_url;
	hr.headers = headers;
	hr.body = req->body.ptr;
	hr.body_len = req->body.len;
	hr.connect_timeout_ms = cfg->connect_timeout_ms;
	hr.timeout_ms = 15000;
	if (http_do(req->relay->http, &hr, &resp, &why) == KF_OK &&
	    resp.status == 200 && json_parse(resp.body.ptr, resp.body.len, 16,
	    &root, NULL) == KF_OK && json_get_int(root, "input_tokens", &n) ==
	    1 && n >= 0) {
		/* got it */
	} else {
		log_warnx("countTokensApiUrl failed (%s); using the local "
		    "estimate", why != NULL ? why : resp.status != 0 ?
		    "bad answer" : "no answer");
		n = -1;
	}
	json_object_put(root);
	http_resp_free(&resp);
	if (auth != NULL)
		explicit_bzero(auth, strlen(auth));
	free(auth);
	free(why);
	return (long)n;
}

void
anthropic_count_tokens(struct request *req)
{
	struct conv	 conv;
	struct buf	 body = BUF_INIT;
	char		*why = NULL;
	long		 n = -1;
	enum kf_err	 er;

	conv_init(&conv);
	if ((er = anthropic_parse(req->body.ptr, req->body.len, 1, &conv,
	    &why)) != KF_OK) {
		(void)anthropic_error_response(&req->out, er, why, 0);
		goto out;
	}
	req->model = conv.kiro_model;
	if (req->cfg->count_tokens_api_url != NULL)
		n = count_remote(req);
	if (n < 0)
		n = tokens_count_conv(&conv);
	buf_printf(&body, "{\"input_tokens\":%ld}", n);
	(void)out_response(&req->out, 200, "application/json", NULL, body.ptr,
	    body.len);
out:
	conv_free(&conv);
	buf_free(&body);
	free(why);
}
