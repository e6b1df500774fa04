/* pool.h: choose the account for a request, and learn from the outcome. */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>

#include "accounts.h"
#include "err.h"
#include "json.h"

struct config;
struct conv;
struct store;
struct store_txn;

/*
 * Records (doc/design.md §3), besides cred-state/<id> and the pick index
 * pool/index that accounts.c keeps (accounts.h):
 *   sticky/<hash>  session -> account, expiry, Kiro conversationId.
 *   rate/<id>, rate/global   request times (ms) of the last minute, when
 *                  rateLimits are configured.
 *   pool/rr        the round-robin cursor.
 * The load-balancing mode, stickySeconds and rateLimits are the
 * configuration's unless the admin API stored them (settings.h), read in
 * each pick's own transaction.
 * A pick that writes (round-robin, rate limits, a sticky refresh, an index
 * rebuild) does so in a STORE_WRITE_NOSYNC transaction: those records are
 * soft state.  Every save of account state or credentials syncs, even in
 * such a transaction (a pick that re-enables failed accounts).
 */

#define POOL_MAX_FAILURES	3
#define POOL_FLUSH_SECONDS	5
#define POOL_COOLDOWN_BASE	60	/* s, doubled per consecutive 429 */
#define POOL_STICKY_TOUCH	5	/* s between rewrites of a sticky record */
#define POOL_SESSION_LEN	64	/* hex digits of a session hash */
#define POOL_CONV_ID_LEN	36	/* a UUID */

struct pool_pick_req {
	const char	*model_id;	/* Kiro model id of the request */
	const char	*session;	/* pool_session_hash, NULL: no stickiness */
	const long	*exclude;	/* accounts already tried */
	size_t		 n_exclude;
	/* Out, optional: the session's stable Kiro conversationId. */
	char		*conversation_id;	/* POOL_CONV_ID_LEN + 1 bytes */
	/* Out, optional: seconds until an account may serve (KF_ERATE). */
	long		*retry_after;
};

/*
 * Picks the account that should serve next: the session's sticky account
 * while it is usable (no stickiness while stickySeconds is 0), else by loadBalancingMode (priority: lowest priority
 * number, then id; balanced: fewest successes, then priority; round-robin:
 * the next id after the last one picked), skipping disabled, cooling-down
 * and rate-limited accounts, FREE plans for opus models, accounts whose
 * cached model list (catalogue.h) lacks the model, and exclude.
 * When every account is disabled for TooManyFailures alone, all are
 * re-enabled first.  KF_ERATE (with retry_after) when an account could
 * serve later; KF_ENOTFOUND when every account's model list lacks the
 * model; KF_ENOACCOUNT when none is configured or usable.  The
 * cause is fit for a client: it says why (cooling down, QuotaExceeded...),
 * each reason once, and never which account (the log line has the ids).
 * out is the caller's (account_free).
 */
enum kf_err	pool_pick(struct store *, const struct config *,
		    const struct pool_pick_req *, struct account *out,
		    char **cause);
/* Store transactions the calling thread's last pool_pick used (bench). */
int		pool_pick_txns(void);
/* 1 if pool_pick would find an account now; it writes nothing. */
int		pool_can_serve(struct store *, const struct config *,
		    const struct pool_pick_req *);

/*
 * The stickiness key of a conversation, as hex: from conv->session_key
 * (Anthropic metadata.user_id, OpenAI user or prompt_cache_key), otherwise
 * from the system prompt and the first user message; with
 * conv->client_key's name too when a client key sent it.
 */
void		pool_session_hash(const struct conv *,
		    char out[POOL_SESSION_LEN + 1]);

enum pool_outcome {
	POOL_SUCCESS,		/* resets failures and cooldown, counts */
	POOL_FAILURE,		/* counts a consecutive failure; 3 disable */
	POOL_THROTTLED,		/* upstream rate limit: a doubling cooldown */
	POOL_QUOTA,		/* monthly quota used up: disable till reset */
	POOL_SUSPENDED,		/* account suspended: disable */
	POOL_OUTCOME__MAX
};

/*
 * Records the outcome for the account seen (as pool_pick returned it);
 * detail (upstream's words) may be NULL, cfg too (default cooldown cap).
 * A success that changes nothing
 * but counters (the account had no failures to forget) only adds to this
 * process's tallies: they rewrite account state, which is always synced,
 * and an fsync per request would cap the whole gateway at the disk's
 * pace.  The
 * tallies go out with the next write transaction of any outcome, or
 * through pool_flush_due, which the responder calls after each request
 * (so an idle process keeps at most POOL_FLUSH_SECONDS of tallies until
 * its next request); everything else is written at once.
 */
enum kf_err	pool_report(struct store *, const struct config *,
		    const struct account *seen, enum pool_outcome,
		    const char *detail, char **cause);
/* Writes the pending success tallies now (tests, shutdown, kiroctl). */
enum kf_err	pool_flush(struct store *, char **cause);
/* pool_flush when the last one is POOL_FLUSH_SECONDS old; cheap otherwise. */
void		pool_flush_due(struct store *);

/*
 * Operator actions (kiroctl, admin API), each recorded in the history
 * (accounts_history).
 * KF_ENOTFOUND for an unknown id, and then nothing changes.
 * enable: clears a disabled state; disable: Manual, with detail (may be
 * NULL); reset: clears failures, cooldown and any disabled state.
 */
enum kf_err	pool_enable(struct store *, long id, char **cause);
enum kf_err	pool_disable(struct store *, long id, const char *detail,
		    char **cause);
enum kf_err	pool_reset(struct store *, long id, char **cause);

#endif
