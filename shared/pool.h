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

/* Records the outcome for account id; detail (upstream's words) may be NULL. */
enum kf_err	pool_report(struct store *, long id, enum pool_outcome,
		    const char *detail, char **cause);

#endif
