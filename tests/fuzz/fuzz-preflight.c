/* fuzz-preflight.c: libFuzzer target: the pre-flight check against an independent validator. */
/*
 * Input: one selector byte, then a request body.  The selector's low two
 * bits choose the front end whose parser reads the body: 0 Anthropic
 * Messages, 1 Chat Completions, 2 Responses (image URLs through a fake
 * fetch), 3 Gemini generateContent.  A conversation that parses goes the
 * way of a real request: history_repair, kiro_req_build, then
 * preflight_check (shared/preflight.c) with the relay's limits.
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - every body the check passes also passes kiro_rules_check_body
 *    (tests/fuzz/kiro-rules.c), a validator of the same rules written
 *    apart from preflight.c;
 *  - a repaired conversation breaks only the rules preflight.h refuses
 *    (tool count, images, a schema type other than object, body size,
 *    history length), never one that has a repair; the refusal is
 *    KF_EINVAL or KF_ECONTEXT with a cause naming the rule;
 *  - the check's verdict does not depend on the conversation it is given
 *    for naming paths (the same rule with conv NULL), nor on whether it
 *    reads the body's text or the tree it was written from (the relay's
 *    way, kiro_req_opts.tree: the same rule and cause).
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "anthropic.h"
#include "buf.h"
#include "conv.h"
#include "err.h"
#include "gemini.h"
#include "history.h"
#include "kiro-rules.h"
#include "kiro_req.h"
#include "openai-chat.h"
#include "openai-responses.h"
#include "preflight.h"
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

/* The request parsed by front end which into conv; KF_OK or an error. */
static enum kf_err
parse(int which, const char *data, size_t size, struct conv *conv)
{
	struct openai_chat_opts		 copts;
	struct openai_responses_req	 req;
	struct gemini_opts		 gopts;
	char				*cause = NULL, *param = NULL;
	enum kf_err			 er;

	switch (which) {
	case 0:
		er = anthropic_parse(data, size, 0, conv, &cause);
		break;
	case 1:
		er = openai_chat_parse(data, size, NULL, conv, &copts, &cause,
		    &param);
		break;
	case 2:
		memset(&req, 0, sizeof(req));
		er = openai_responses_parse(data, size, conv, &req, fake_fetch,
		    NULL, &cause, &param);
		openai_responses_req_free(&req);
		break;
	default:
		er = gemini_parse(data, size, "gemini-2.5-pro", 0, conv,
		    &gopts, &cause);
		break;
	}
	/* An unknown model is KF_ENOTFOUND (404 in every API). */
	CHECK(er == KF_OK ||
	    ((er == KF_EINVAL || er == KF_ENOTFOUND) && cause != NULL));
	free(cause);
	free(param);
	return er;
}

/* The rules preflight.h refuses rather than repairs. */
static int
refused_rule(enum preflight_rule rule)
{
	return rule == PREFLIGHT_TOOL_COUNT || rule == PREFLIGHT_IMAGE ||
	    rule == PREFLIGHT_TOOL_SCHEMA || rule == PREFLIGHT_BODY_SIZE ||
	    rule == PREFLIGHT_HISTORY_LENGTH;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct preflight_limits	 lim;
	struct conv		 conv;
	struct buf		 body = BUF_INIT;
	struct json_object	*tree = NULL;
	enum preflight_rule	 rule, rule_bare, rule_tree;
	char			*cause = NULL, *cause_tree = NULL;
	enum kf_err		 er;

	if (size < 1)
		return 0;
	conv_init(&conv);
	if (parse(data[0] & 3, (const char *)data + 1, size - 1, &conv) !=
	    KF_OK)
		goto out;
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	if (history_repair(&conv, &hopts, &cause) != KF_OK)
		goto out;
	memset(&opts, 0, sizeof(opts));
	opts.model_id = FUZZ_MODEL_ID;
	opts.conversation_id = conv.session_id;
	opts.tree = &tree;
	CHECK(kiro_req_build(&conv, &opts, &body, NULL, &cause) == KF_OK);

	preflight_limits_default(&lim);
	lim.max_body_bytes = KIRO_RULES_BODY_MAX;
	er = preflight_check(body.ptr, body.len, &conv, &lim, &rule, &cause);
	if (er == KF_OK) {
		CHECK(rule == PREFLIGHT_OK);
		kiro_rules_check_body(body.ptr, body.len);
	} else {
		CHECK(er == KF_EINVAL || er == KF_ECONTEXT);
		CHECK(cause != NULL && strstr(cause, "(Kiro rule: ") != NULL);
		CHECK(refused_rule(rule));
	}
	(void)preflight_check_tree(tree, body.len, &conv, &lim, &rule_tree,
	    &cause_tree);
	CHECK(rule_tree == rule);
	CHECK(rule == PREFLIGHT_OK || strcmp(cause, cause_tree) == 0);
	free(cause);
	cause = NULL;
	(void)preflight_check(body.ptr, body.len, NULL, &lim, &rule_bare,
	    &cause);
	CHECK(rule_bare == rule);
out:
	json_object_put(tree);
	free(cause_tree);
	free(cause);
	buf_free(&body);
	conv_free(&conv);
	return 0;
}
