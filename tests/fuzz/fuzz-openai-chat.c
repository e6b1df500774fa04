/* fuzz-openai-chat.c: libFuzzer target: Chat Completions request parser to Kiro body. */
/*
 * Input: the body of a POST /v1/chat/completions, as a client sends it.  It
 * goes through the path of a real request up to the upstream call:
 * openai_chat_parse (fcgi/parse-openai-chat.c, with no http handle, so
 * image URLs other than data: are refused without a fetch), then, when it
 * parsed, history_repair and kiro_req_build (shared/) with a fixed Kiro
 * model id and a profile ARN.
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - a parse error is KF_EINVAL with a cause; when it has a param, the
 *    cause begins with "<param>:"; success leaves a model, a Kiro model id,
 *    at least one message, at most 4 stop sequences, and a response schema
 *    only in JSON mode;
 *  - the rest of the path to Kiro keeps the rules of kiro-rules.c
 *    (fuzz_to_kiro: history_repair, kiro_req_build, and the checks Kiro is
 *    known to make on the body).
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "err.h"
#include "kiro-rules.h"
#include "openai-chat.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_PROFILE	"arn:aws:codewhisperer:us-east-1:111112222233:profile/FUZZ"

static void
run(const char *data, size_t size)
{
	struct conv		 conv;
	struct openai_chat_opts	 copts;
	char			*cause = NULL, *param = NULL;
	enum kf_err		 er;

	conv_init(&conv);
	er = openai_chat_parse(data, size, NULL, &conv, &copts, &cause,
	    &param);
	if (er != KF_OK) {
		/* An unknown model is KF_ENOTFOUND (404 in every API). */
		CHECK((er == KF_EINVAL || er == KF_ENOTFOUND) &&
		    cause != NULL && *cause != '\0');
		CHECK(param == NULL || (strncmp(cause, param,
		    strlen(param)) == 0 && cause[strlen(param)] == ':'));
		goto out;
	}
	CHECK(param == NULL);
	CHECK(conv.model != NULL && conv.kiro_model != NULL);
	CHECK(conv.n_msgs > 0);
	CHECK(conv.n_stop <= 4);
	CHECK(conv.response_schema == NULL || conv.json_mode);
	CHECK(copts.include_usage == 0 || copts.include_usage == 1);

	fuzz_to_kiro(&conv, FUZZ_PROFILE);
out:
	free(cause);
	free(param);
	conv_free(&conv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run((const char *)data, size);
	return 0;
}
