/* accounts.h: credentials and their runtime state, kept in the store. */
#ifndef ACCOUNTS_H
#define ACCOUNTS_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "cred.h"
#include "err.h"
#include "store.h"
#include "upstream.h"

struct config;

/*
 * Records (doc/design.md §3): cred/<id> the credential with its secrets,
 * cred-state/<id> what changes often (kept apart so counters never rewrite
 * secrets), credhash/<sha256 of a refresh token or key> -> id for every
 * token an account has had (so re-importing an old file finds it), and
 * meta/cred-ids, the list of ids, so listing needs no scan.
 * Two records follow every save, so that no other module has to hook
 * into them:
 *   cred-log/<id>  the last ACCOUNTS_HISTORY_MAX state changes of an
 *                  account (when its state word changes, or always for
 *                  an operator's action).
 *   pool/index     one compact line per account (priority, when it may
 *                  serve again, successes, plan, disabled reason) and a
 *                  fingerprint of meta/cred-ids, so a pick (pool.h) reads
 *                  two records and not two per account.  A state save
 *                  updates its line, a cred save its priority; a changed
 *                  id list makes it stale and the next pick rebuilds it.
 * Every save of credentials or state syncs, even in a transaction begun
 * STORE_WRITE_NOSYNC (store_need_sync).
 */

#define ACCOUNTS_HISTORY_MAX	20

/* Why an account is out of service; the names are stable (admin API). */
enum account_reason {
	ACCOUNT_OK,
	ACCOUNT_MANUAL,			/* the operator disabled it */
	ACCOUNT_TOO_MANY_FAILURES,
	ACCOUNT_TOO_MANY_REFRESH_FAILURES,
	ACCOUNT_QUOTA_EXCEEDED,		/* 402 MONTHLY_REQUEST_COUNT */
	ACCOUNT_SUSPENDED,		/* 403 TEMPORARILY_SUSPENDED */
	ACCOUNT_INVALID_REFRESH_TOKEN,	/* invalid_grant: needs a new login */
	ACCOUNT_INVALID_CONFIG,
	ACCOUNT_REASON__MAX
};

struct account_state {
	enum account_reason	 disabled;	/* ACCOUNT_OK when enabled */
	char			*disabled_detail;	/* upstream's words */
	time_t			 disabled_at;
	time_t			 disabled_until;	/* 0: until re-enabled */
	long			 failures;	/* consecutive */
	long			 refresh_failures;	/* consecutive */
	time_t			 cooldown_until;
	long			 throttles;	/* consecutive: doubles cooldown */
	long			 success_count;
	long			 request_count;
	time_t			 last_used;
	char			*last_error;
	time_t			 last_error_at;
	/*
	 * The plan from getUsageLimits (subscriptionInfo.subscriptionTitle,
	 * e.g. "KIRO FREE"), NULL while unknown; the pool keeps opus models
	 * off FREE plans once it is known.
	 */
	char			*subscription;
	/*
	 * The host and request style that last served, once the gateway
	 * had to switch (doc/protocol.md §12); while route_known is 0 the
	 * configuration decides.
	 */
	int			 route_known;
	enum api_host		 route_host;
	enum api_style		 route_style;
	time_t			 route_at;
};

struct account {
	struct cred		cred;
	struct account_state	state;
};

const char	*account_reason_name(enum account_reason);
/* 1 if the account may serve a request at time now. */
int		 account_usable(const struct account *, time_t now);
/* A short state word for people: "ok", "cooldown", "disabled", ... */
const char	*account_state_word(const struct account *, time_t now);

/*
 * The route for an account's calls: the one that served it last, once
 * the gateway had to switch (route_known), else its configured one
 * (upstream_route_configured).
 */
void		 account_route(const struct account *, const struct config *,
		    struct upstream_route *);

void		 account_free(struct account *);	/* fields; NULL fine */
void		 accounts_free(struct account *, size_t n);
void		 account_state_free(struct account_state *);
json_object	*account_state_to_json(const struct account_state *);
enum kf_err	 account_state_from_json(json_object *, struct account_state *,
		    char **cause);

/* One line per import entry, in the order given. */
struct import_result {
	long	id;		/* the account the entry is now (new or old) */
	int	duplicate;	/* 1 when it was already there */
};

/*
 * Adds credentials in one write transaction: each is either new (next id)
 * or a duplicate of an account that has (or had) the same refresh token or
 * key, which is left unchanged.  results has n entries.  Credentials must
 * have passed cred_validate.  Imported "disabled" entries start disabled
 * (Manual).
 */
enum kf_err	 accounts_import(struct store *, const struct cred *creds,
		    size_t n, struct import_result *results, char **cause);
/* Every account, sorted by priority then id.  Caller: accounts_free. */
enum kf_err	 accounts_list(struct store *, struct account **out, size_t *n,
		    char **cause);
/* One account; KF_ENOTFOUND when there is no such id. */
enum kf_err	 accounts_get(struct store *, long id, struct account *out,
		    char **cause);

/*
 * Seeds the store at start, idempotently: the credentialsFile (once per
 * path), then the environment's REFRESH_TOKEN / CREDENTIALS_JSON /
 * KIRO_ACCESS_TOKEN credentials (duplicates are skipped).  Problems with
 * one source are logged and reported in cause; the others still run.
 */
enum kf_err	 accounts_seed(struct store *, const struct config *,
		    char **cause);

/*
 * Removes account id: cred/<id>, its state, its usage cache, every
 * credhash entry pointing at it (so re-importing an old file adds it
 * again) and its place in meta/cred-ids.  KF_ENOTFOUND for an unknown id.
 */
enum kf_err	 accounts_remove(struct store *, long id, char **cause);
/*
 * The same for an account out of service only (the admin API, as
 * kiro.rs): KF_EPERM, and nothing changes, while it is enabled.
 */
enum kf_err	 accounts_remove_disabled(struct store *, long id,
		    char **cause);
/* Sets the priority (0 .. 1000000000, else KF_EINVAL). */
enum kf_err	 accounts_set_priority(struct store *, long id, long priority,
		    char **cause);
/* Forgets the remembered route of account id: the configuration decides. */
enum kf_err	 accounts_forget_route(struct store *, long id, char **cause);
/* Remembers the host and style that served account id (state record). */
enum kf_err	 accounts_set_route(struct store *, long id, enum api_host,
		    enum api_style, time_t now, char **cause);
/*
 * The same for a switch the relay made: when the account has that route
 * already (a request in flight switched first), nothing is written and
 * *recorded is 0, so a switch is recorded and logged once.
 */
enum kf_err	 accounts_switch_route(struct store *, long id,
		    enum api_host, enum api_style, time_t now, int *recorded,
		    char **cause);
/*
 * Stores the profileArn found for account id; NULL clears it.  An idc
 * account keeps none (cred.h), whatever is passed.
 */
enum kf_err	 accounts_set_profile(struct store *, long id,
		    const char *profile_arn, char **cause);
/*
 * With path set, rotated tokens of account id are written back to that
 * Kiro IDE token file (source "ide", ideSync); NULL turns that off.
 */
enum kf_err	 accounts_set_ide_sync(struct store *, long id,
		    const char *path, char **cause);
/*
 * Every account as a JSON array in the kiro.rs import format (priority
 * order; "disabled" when out of service).  Without with_secrets, tokens,
 * client secrets, keys and proxy passwords are masked ("abcd...wxyz"), so
 * the result cannot be imported by mistake.  *out: one reference.
 */
enum kf_err	 accounts_export(struct store *, int with_secrets,
		    json_object **out, char **cause);

/*
 * The account's state changes, oldest first: an array of {"at", "from",
 * "to", "reason"}.  KF_ENOTFOUND for an unknown id.  The caller puts *out.
 */
enum kf_err	 accounts_history(struct store *, long id, json_object **out,
		    char **cause);

/* Within a transaction the caller holds (read-modify-write). */
enum kf_err	 accounts_txn_ids(struct store_txn *, long **ids, size_t *n,
		    char **cause);
enum kf_err	 accounts_txn_load(struct store_txn *, long id,
		    struct account *out, char **cause);
/* Writes cred/<id> and maps its identity hash to it. */
enum kf_err	 accounts_txn_save_cred(struct store_txn *, const struct cred *,
		    char **cause);
enum kf_err	 accounts_txn_save_state(struct store_txn *, long id,
		    const struct account_state *, char **cause);
/*
 * The same with reason for the history entry (NULL: upstream's words in
 * the state), recorded even when the state word stays when force is set.
 */
enum kf_err	 accounts_txn_save_state_noted(struct store_txn *, long id,
		    const struct account_state *, const char *reason,
		    int force, char **cause);

/* One account as the pick index has it: what a pick needs, nothing more. */
struct account_entry {
	long	id;
	long	priority;
	time_t	until;		/* 0: may serve; -1: disabled; else from then */
	long	successes;
	int	free_plan;	/* its plan is a FREE one */
	int	reason;		/* enum account_reason */
};

/* The pick index; e is the holder's (accounts_index_free). */
struct account_index {
	struct account_entry	*e;
	size_t			 n;
};

/* 1 if the entry's account may serve at time now. */
int		 account_entry_usable(const struct account_entry *, time_t now);
void		 accounts_index_free(struct account_index *);	/* NULL e fine */
/*
 * Reads pool/index into idx: KF_ENOTFOUND (idx empty) when it is missing,
 * stale or unreadable.  idx is the caller's either way.
 */
enum kf_err	 accounts_txn_index_load(struct store_txn *,
		    struct account_index *);
/* Reads every account and writes pool/index (a write transaction). */
enum kf_err	 accounts_txn_index_build(struct store_txn *,
		    struct account_index *, char **cause);
/*
 * Re-enables every account of idx that TooManyFailures alone took out,
 * with reason in their history, and reloads idx (rebuilt when stale).
 */
enum kf_err	 accounts_txn_reenable_failed(struct store_txn *,
		    struct account_index *, const char *reason, char **cause);

#endif
