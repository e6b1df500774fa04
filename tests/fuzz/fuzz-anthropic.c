/* fuzz-anthropic.c: libFuzzer target: Anthropic request parser to Kiro body. */
/*
 * Input: the body of a POST /v1/messages, as a client sends it.  It goes
 * through the path of a real request up to the upstream call:
 * anthropic_parse (fcgi/parse-anthropic.c), then, when it parsed,
 * history_repair and kiro_req_build (shared/) with a fixed Kiro model id,
 * a profile ARN and the session id the parser found.  The same bytes are
 * also parsed as a count_tokens body (for_count set), which accepts any or
 * no model.
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - a parse error is KF_EINVAL with a cause; success leaves a model and a
 *    Kiro model id for /v1/messages, and at least one message;
 *  - the rest of the path to Kiro keeps the rules of kiro-rules.c
 *    (fuzz_to_kiro: history_repair, kiro_req_build, and the checks Kiro is
 *    known to make on the body).
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "anthropic.h"
#include "conv.h"
#include "err.h"
#include "kiro-rules.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_PROFILE	"arn:aws:codewhisperer:us-east-1:111112222233:profile/FUZZ"

static void
run(const char *data, size_t size)
{
	struct conv	 conv;
	char		*cause = NULL;
	enum kf_err	 er;

	conv_init(&conv);
	er = anthropic_parse(data, size, 0, &conv, &cause);
	if (er != KF_OK) {
		/* An unknown model is KF_ENOTFOUND (404 in every API). */
		CHECK((er == KF_EINVAL || er == KF_ENOTFOUND) &&
		    cause != NULL && *cause != '\0');
		goto out;
	}
	CHECK(conv.model != NULL && conv.kiro_model != NULL);
	CHECK(conv.n_msgs > 0);

	fuzz_to_kiro(&conv, FUZZ_PROFILE);
out:
	free(cause);
	conv_free(&conv);

	/* count_tokens: the same parser, model optional. */
	cause = NULL;
	conv_init(&conv);
	er = anthropic_parse(data, size, 1, &conv, &cause);
	CHECK(er == KF_OK || (er == KF_EINVAL && cause != NULL));
	free(cause);
	conv_free(&conv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run((const char *)data, size);
	return 0;
}
