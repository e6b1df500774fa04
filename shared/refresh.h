/* refresh.h: keep an account's access token fresh (doc/protocol.md §8). */
#ifndef REFRESH_H
#define REFRESH_H

#include <time.h>

#include "err.h"

struct config;
struct cred;
struct http;
struct store;

#define REFRESH_AHEAD_REQUEST	(10 * 60)	/* before a request */
#define REFRESH_AHEAD_CRON	(15 * 60)	/* kiroctl refresh */

/*
 * Makes sure account id has an access token valid for at least ahead
 * seconds, and copies the current credential into *out (caller frees with
 * cred_free).  With failed_token set (the upstream refused that token with
 * 403 bearer-invalid), a refresh is forced unless another process has
 * already replaced that token.
 *
 * Exactly one refresh happens however many threads and processes ask at
 * once: each takes the per-account lock "refresh-<id>", re-reads the
 * account, and refreshes only if it still needs it.  The lock is a separate
 * file; the store's own lock is held only for the short read and write.  A
 * rotated refresh token is stored (and its hash mapped to the account) and
 * written back to the credential's source file when it has one.
 *
 * An API-key account never refreshes: without failed_token it is copied
 * as it is; with failed_token (any value: its key was refused) it is
 * disabled as InvalidConfig, with no call upstream, and KF_ELOGIN says the
 * key must be replaced.
 *
 * Errors: KF_ELOGIN when the refresh token is dead (invalid_grant: the
 * account is disabled as InvalidRefreshToken and needs a new login) or
 * truncated, or an API key was refused; KF_EUPSTREAM / KF_ETIMEOUT for
 * transient failures (counted in the account's refreshFailures);
 * KF_ENOTFOUND for an unknown id.
 */
enum kf_err	refresh_ensure(struct store *, struct http *,
		    const struct config *, long id, long ahead,
		    const char *failed_token, struct cred *out, char **cause);

/*
 * A social account without a profileArn gets one from
 * ListAvailableProfiles (upstream_list_profiles), stored with account
 * c->id and set in *c.  Nothing happens for other accounts or a known
 * profile.  A failure leaves the account as it was, and this process
 * does not ask again for that account for 10 minutes: the call then
 * fails at once with KF_ENOTFOUND, also for a request that waited on the
 * lookup which missed, so requests of an account Kiro lists no profile
 * for do not each pay for the lookup, nor log its warning again.
 */
enum kf_err	refresh_resolve_profile(struct store *, struct http *,
		    const struct config *, struct cred *c, char **cause);

/* 1 when the credential's token expires within ahead seconds of now. */
int		refresh_needed(const struct cred *, long ahead, time_t now);

/*
 * kiroctl refresh: refresh_ensure with REFRESH_AHEAD_CRON that also
 * refreshes a social account idle for idleRefreshHours (refresh_idle):
 * Kiro lets a social refresh token die after about 6 hours unused
 * (doc/protocol.md §12), however long its access token is valid.
 */
enum kf_err	refresh_cron(struct store *, struct http *,
		    const struct config *, long id, struct cred *out,
		    char **cause);
/*
 * 1 when c is a social account last refreshed idle_seconds or more before
 * now (refreshedAt; never refreshed here: an hour before its access token
 * expires).  0 for IdC and API keys, without a refresh token, and when
 * idle_seconds <= 0.
 */
int		refresh_idle(const struct cred *, long idle_seconds, time_t now);
/* idleRefreshHours in seconds (0: off), without overflow. */
long		refresh_idle_seconds(const struct config *);

#endif
