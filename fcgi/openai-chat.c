/* openai-chat.c: the OpenAI Chat Completions route: POST /v1/chat/completions. */
#include "autoconfig.h"

#include <stdlib.h>

#include "conv.h"
#include "openai-chat.h"
#include "openai-common.h"
#include "relay.h"
#include "request.h"
#include "serve.h"

void
openai_chat_completions(struct request *req)
{
	struct conv		 conv;
	struct openai_chat_opts	 opts;
	struct sink		 sink;
	struct openai_chat_emit	*emit;
	char			*why = NULL, *param = NULL;
	enum kf_err		 er;

	conv_init(&conv);
	if ((er = openai_chat_parse(req->body.ptr, req->body.len,
	    req->relay->http, &conv, &opts, &why, &param)) != KF_OK) {
		(void)openai_error_response(&req->out, er, why, param, 0);
		goto out;
	}
	if (conv.stream)
		emit = openai_chat_emit_stream(&req->out, &sink,
		    opts.include_usage);
	else
		emit = openai_chat_emit_json(&req->out, &sink);
	(void)serve_relay(req, &conv, &sink, openai_relay_error);
	openai_chat_emit_free(emit);
out:
	conv_free(&conv);
	free(why);
	free(param);
}
