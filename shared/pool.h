/* pool.h: choose the account for a request, and learn from the outcome. */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>

#include "accounts.h"
#include "err.h"

struct config;
struct store;

struct pool_pick_req {
	const char	*model_id;	/* Kiro model id of the request */
	const long	*exclude;	/* accounts already tried */
	size_t		 n_exclude;
};

/*
 * Picks the usable account that should serve next (priority order: lowest
 * priority number, then lowest id), skipping disabled and cooling-down
 * accounts and those in exclude.  KF_ENOACCOUNT with a cause that tells
 * the operator what to do when none is configured, or why none is usable.
 * out is the caller's (account_free).
 */
enum kf_err	pool_pick(struct store *, const struct config *,
		    const struct pool_pick_req *, struct account *out,
		    char **cause);

enum pool_outcome {
	POOL_SUCCESS,		/* resets failures, counts a success */
	POOL_FAILURE,		/* counts a consecutive failure; 3 disable */
	POOL_THROTTLED,		/* upstream rate limit: no failure counted */
	POOL_QUOTA,		/* monthly quota used up: disable */
	POOL_SUSPENDED,		/* account suspended: disable */
	POOL_OUTCOME__MAX
};

#define POOL_MAX_FAILURES	3
#define POOL_FLUSH_SECONDS	5

/*
 * Records the outcome for the account seen (as pool_pick returned it);
 * detail (upstream's words) may be NULL.  A success that changes nothing
 * but counters (the account had no failures to forget) only adds to this
 * process's tallies: every write to the state file costs an fsync, and
 * one per request would cap the whole gateway at the disk's pace.  The
 * tallies go out with the next write transaction of any outcome, or
 * through pool_flush_due, which the responder calls after each request
 * (so an idle process keeps at most POOL_FLUSH_SECONDS of tallies until
 * its next request); everything else is written at once.
 */
enum kf_err	pool_report(struct store *, const struct account *seen,
		    enum pool_outcome, const char *detail, char **cause);
/* Writes the pending success tallies now (tests, shutdown, kiroctl). */
enum kf_err	pool_flush(struct store *, char **cause);
/* pool_flush when the last one is POOL_FLUSH_SECONDS old; cheap otherwise. */
void		pool_flush_due(struct store *);

#endif
