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

#endif
