/* history.h: repair a conversation so Kiro accepts it (doc/protocol.md §3.3). */
#ifndef HISTORY_H
#define HISTORY_H

#include <stddef.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "kiro_req.h"

struct history_opts {
	/*
	 * Images are kept only in the last max_image_msgs messages; older
	 * ones become the text "[N image(s) omitted from history]" (AIC's
	 * rule: screenshots otherwise fill Kiro's payload limit).  0 keeps
	 * every image.
	 */
	size_t	max_image_msgs;
};
#define HISTORY_DEFAULT_MAX_IMAGE_MSGS	5

/*
 * Rewrites conv in place so that the request kiro_req_build makes from it
 * passes Kiro's validation (§3.3, §3.5):
 *  - trailing assistant messages are dropped (prefill is not supported) so
 *    the last message is the user's; no user message at all is KF_EINVAL;
 *  - blocks Kiro cannot carry in their role are dropped: tool_use, image
 *    and tool_result on the wrong side, thinking in user messages, empty
 *    thinking, tool blocks without an id (or name);
 *  - images whose media type is not jpeg, png, gif or webp are dropped
 *    (media_type is rewritten to image/jpeg|png|gif|webp); older images
 *    are replaced by text per opts;
 *  - empty-string keys are removed from tool_use inputs, recursively;
 *  - pairing is by adjacency, as Kiro checks it: tool_uses that the next
 *    message has no result for are dropped (so the last assistant message's
 *    uses must be answered by the final user message); repeated tool_use
 *    ids keep the first; tool results whose id the assistant message just
 *    before does not use, and repeated results for one id, are dropped;
 *  - messages left with no blocks are removed (except the last, which
 *    kiro_req gives placeholder content), then consecutive messages of
 *    one role are merged into one (blocks concatenated in order).
 * Text content and the order of everything kept are unchanged.
 */
enum kf_err	history_repair(struct conv *, const struct history_opts *,
		    char **cause);

/*
 * Drops the oldest exchange (the first message and everything up to the
 * next user message that is not only tool results), for callers trimming a
 * request to fit a payload limit; the caller runs history_repair again.
 * Returns 1 if something was dropped, 0 if only the last user message is
 * left.
 */
int		history_drop_oldest_turn(struct conv *);

/*
 * About how many bytes m adds to a Kiro body, in one pass over it: its
 * texts as JSON strings, tool names, ids and inputs, tool results, image
 * data, plus the keys Kiro's shapes wrap around them.  For trimming.
 */
size_t		history_msg_bytes(const struct conv_msg *);

/*
 * Drops the oldest turns (history_drop_oldest_turn's unit) in one move: as
 * many as it takes for their estimated size (history_msg_bytes) to cover
 * excess, but no more once the messages left are estimated at budget or
 * less, and always one.  Since an estimate errs, a caller with a limit
 * builds again and repeats while over.  Returns the turns dropped, 0 if
 * only the last user message is left; the caller runs history_repair.
 */
size_t		history_drop_oldest_bytes(struct conv *, size_t excess,
		    size_t budget);

/* What history_build_within did, for logs and benchmarks. */
struct history_fit {
	size_t	builds;		/* kiro_req_build calls */
	size_t	turns_dropped;
};

/*
 * Builds conv's Kiro body into body (reset first) with kiro_req_build and,
 * while it is over max_bytes (0: no limit), drops the oldest turns its
 * excess covers (history_drop_oldest_bytes), repairs conv (opts) and
 * builds again, until it fits or only the last user message is left.  The
 * rounds are few, each linear in the body, however many turns go.  *fit
 * may be NULL.
 */
enum kf_err	history_build_within(struct conv *, const struct history_opts *,
		    const struct kiro_req_opts *, size_t max_bytes,
		    struct buf *body, struct kiro_toolmap *map,
		    struct history_fit *fit, char **cause);

#endif
