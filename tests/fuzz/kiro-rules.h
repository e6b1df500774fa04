/* kiro-rules.h: the Kiro-body checks shared by the parser fuzz targets. */
#ifndef KIRO_RULES_H
#define KIRO_RULES_H

#include <stdlib.h>

#include "conv.h"

/* A broken invariant: abort, so libFuzzer keeps the input. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* The Kiro model id every target builds its body for. */
#define FUZZ_MODEL_ID	"claude-sonnet-4.5"

/*
 * The rest of a request's path for a parsed conv: history_repair (which
 * may only fail with KF_EINVAL and a cause, else must leave a conversation
 * ending with a user message), then kiro_req_build with FUZZ_MODEL_ID, the
 * session id as conversation id and profile_arn (may be NULL), which must
 * succeed, then the checks of kiro-rules.c on its body; aborts on the first
 * broken one.  conv is modified (repaired).
 */
void	fuzz_to_kiro(struct conv *, const char *);

/*
 * The limits Kiro is known to enforce (doc/protocol.md §3.3, §3.5, §12),
 * written apart from shared/preflight.c and checked beyond the rules of
 * fuzz_to_kiro: the body at most KIRO_RULES_BODY_MAX bytes; at most
 * KIRO_RULES_TOOLS_MAX tools, each named 1-64 of [A-Za-z0-9_-] (once,
 * ignoring case), a non-blank description of at most
 * KIRO_RULES_DESC_MAX characters, a schema of type "object" whose
 * properties is an object, required an array of strings,
 * additionalProperties a bool or an object; no "" key at any depth of a
 * tool input; at most KIRO_RULES_IMAGES_MAX images, each at most
 * KIRO_RULES_IMAGE_BYTES decoded.  Aborts on the first broken one (and on
 * every rule fuzz_to_kiro checks).
 */
#define KIRO_RULES_BODY_MAX	615000
#define KIRO_RULES_TOOLS_MAX	128
#define KIRO_RULES_DESC_MAX	10240
#define KIRO_RULES_IMAGES_MAX	20
#define KIRO_RULES_IMAGE_BYTES	(3840 * 1024)
void	kiro_rules_check_body(const char *body, size_t len);

#endif
