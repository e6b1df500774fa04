/* usage.h: an account's quota from getUsageLimits (doc/protocol.md §9.1). */
#ifndef USAGE_H
#define USAGE_H

#include <time.h>

#include <json-c/json.h>

#include "err.h"

struct config;
struct cred;
struct http;
struct store;

#define USAGE_CACHE_SECONDS	(5 * 60)

/*
 * The balance as kiro.rs computes it from usageBreakdownList (the CREDIT
 * entry, else the first): limit and used include an ACTIVE free trial and
 * ACTIVE bonuses; remaining = max(0, limit - used); percentage = min(100,
 * used / limit * 100), 0 when limit is 0.
 */
struct usage {
	long	 id;		/* the account */
	char	*subscription;	/* subscriptionTitle, NULL when not said */
	double	 used;
	double	 limit;
	double	 remaining;
	double	 percentage;
	time_t	 next_reset;	/* 0 when not said */
	char	*email;		/* userInfo.email, NULL when not said */
	time_t	 fetched_at;
};

void		 usage_free(struct usage *);	/* fields; NULL is fine */

/*
 * Reads a getUsageLimits answer.  Anything but a JSON object, or a field
 * of the wrong type, is KF_EUPSTREAM with a cause naming the field.
 */
enum kf_err	 usage_parse(const char *body, size_t len, time_t now,
		    struct usage *out, char **cause);

/* The cache record (usage/<id>): camelCase, times as unix seconds. */
json_object	*usage_to_json(const struct usage *);
enum kf_err	 usage_from_json(json_object *, struct usage *, char **cause);

/*
 * One getUsageLimits call on host with the credential's access token (or
 * API key).  Errors: KF_EQUOTA (402 monthly quota), KF_ESUSPENDED (403
 * TEMPORARILY_SUSPENDED), KF_EAUTH (bearer token refused), KF_EUPSTREAM,
 * KF_ETIMEOUT; the cause carries upstream's words, never the token.
 */
enum kf_err	 usage_fetch(struct http *, const struct config *,
		    const struct cred *, enum api_host host, struct usage *out,
		    char **cause);

/*
 * The cached usage of account id, whatever its age, with no call upstream;
 * KF_ENOTFOUND when none was fetched yet.
 */
enum kf_err	 usage_cached(struct store *, long id, struct usage *out);

/*
 * The usage of account id: the cached record when under
 * USAGE_CACHE_SECONDS old (unless force), else a fresh call (refreshing
 * the token first when it expires soon, and once more if upstream refuses
 * it; a refused API key disables its account, refresh.h), which is
 * cached, sets the account's subscription (and its email when unknown).  A quota or suspension answer is reported to the pool
 * (pool_report POOL_QUOTA / POOL_SUSPENDED), which takes the account out
 * of service.  *cached says which it was (may be NULL).
 */
enum kf_err	 usage_get(struct store *, struct http *,
		    const struct config *, long id, int force,
		    struct usage *out, int *cached, char **cause);

/*
 * Every cached usage record, however old, in one read transaction and
 * with no upstream call (the /metrics scrape); corrupt ones are skipped.
 * *out has *n entries, each with its account id; the caller frees each
 * (usage_free) and then *out.
 */
enum kf_err	 usage_cached_all(struct store *, struct usage **out,
		    size_t *n, char **cause);

#endif
