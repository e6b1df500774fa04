/* catalogue.h: each account's live model list from ListAvailableModels, cached in the store. */
#ifndef CATALOGUE_H
#define CATALOGUE_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "err.h"

struct cred;
struct http;
struct store;
struct store_txn;

/*
 * Records: catalogue/<id>, {"v":1,"at":T,"models":[{"id","name","in",
 * "out"}]}: what account id's ListAvailableModels answered at T.  Soft
 * state (a cache): a lost record means "not known yet", and an account
 * with no catalogue may serve any model.
 */
#define CATALOGUE_TTL		3600	/* s a cached catalogue is used */
#define CATALOGUE_MAX_MODELS	200	/* per account; the rest is dropped */
#define CATALOGUE_ID_MAX	64	/* bytes of a modelId we keep */
#define CATALOGUE_NAME_MAX	128	/* bytes of a modelName we keep */

struct catalogue_model {
	char	*id;		/* Kiro modelId */
	char	*name;		/* modelName, else the id */
	long	 max_input;	/* tokenLimits.maxInputTokens, 0: unknown */
	long	 max_output;	/* tokenLimits.maxOutputTokens, 0: unknown */
};

struct catalogue {
	struct catalogue_model	*m;
	size_t			 n;
	time_t			 fetched_at;
};

void		catalogue_free(struct catalogue *);	/* fields; NULL fine */
/* The entry with this id (case-insensitive), or NULL.  Borrowed. */
const struct catalogue_model *catalogue_find(const struct catalogue *,
		    const char *id);

/*
 * Parses one ListAvailableModels page (doc/protocol.md §3.2) into out,
 * appending after what it holds: models without a usable modelId, and
 * duplicates, are skipped; at most CATALOGUE_MAX_MODELS are kept.
 * *next_token is the page's nextToken (caller frees), NULL on the last.
 */
enum kf_err	catalogue_parse_page(const char *body, size_t len,
		    struct catalogue *out, char **next_token, char **cause);

/*
 * GET <base of host>/ListAvailableModels?origin=AI_EDITOR&maxResults=50
 * (&profileArn= for social accounts), following nextToken for at most
 * CATALOGUE_MAX_MODELS models.  Network I/O: never call it under the
 * store lock.  Errors: KF_EAUTH, KF_ERATE, KF_EUPSTREAM, KF_ETIMEOUT;
 * the cause never shows the token.  out is the caller's (catalogue_free).
 */
enum kf_err	catalogue_fetch(struct http *, const struct config *,
		    const struct cred *, enum api_host, struct catalogue *out,
		    char **cause);

/* Writes catalogue/<id> (a STORE_WRITE_NOSYNC transaction: a cache). */
enum kf_err	catalogue_save(struct store *, long id,
		    const struct catalogue *, char **cause);
/* Reads catalogue/<id> inside txn: KF_OK or KF_ENOTFOUND (or corrupt). */
enum kf_err	catalogue_txn_load(struct store_txn *, long id,
		    struct catalogue *out);
/*
 * 1 when account id has a cached catalogue that lacks model_id, inside a
 * transaction the caller holds (pool_pick): one record read, no new
 * transaction.  0 when it has the model or no catalogue is cached yet.
 */
int		catalogue_txn_lacks(struct store_txn *, long id,
		    const char *model_id);

/*
 * Fetches and saves account id's catalogue when the cached one is older
 * than CATALOGUE_TTL (always with force): refreshes its token first when
 * due, calls the account's host (account_route), then writes the record.
 * *fetched (may be NULL) says whether a call was made.
 */
enum kf_err	catalogue_refresh(struct store *, struct http *,
		    const struct config *, long id, int force, int *fetched,
		    char **cause);

/*
 * After account id served a request (the client has its answer): when its
 * cached catalogue is older than CATALOGUE_TTL, fetches it again
 * (catalogue_refresh), logging what happened.  At most one fetch per
 * account per CATALOGUE_TTL across processes: the caller that finds the
 * list stale writes catalogue-claim/<id> in the same transaction, and a
 * claim younger than CATALOGUE_TTL stops the others.  A process remembers
 * until when each account's list is fresh, so most calls read nothing.
 * An account with no cached list yet is left to kiroctl health-check.
 * Network I/O: call it with no store lock held, off the client's path.
 */
void		catalogue_refresh_stale(struct store *, struct http *,
		    const struct config *, long id);

/*
 * The union of every cached catalogue, in one read transaction: accounts
 * in id order, each model once at its first place, with the smallest
 * limits any account gave it (what every account can serve).  KF_OK with
 * out->n == 0 when nothing is cached.  out is the caller's.
 */
enum kf_err	catalogue_merged(struct store *, struct catalogue *out,
		    char **cause);

/*
 * The live side of models.h.  catalogue_live_install makes models_find
 * (and so models_resolve) see the merged catalogue of st: a live id is
 * accepted, and its limits replace the built-in ones.  The merge is
 * reloaded at most every CATALOGUE_LIVE_RELOAD seconds: one read
 * transaction per process per reload, at a models_find call, none on
 * other requests.  A process keeps at most CATALOGUE_LIVE_MAX distinct
 * entries (they are never freed: models.h hands out pointers to them).
 * Call it once at start, before any thread (tests may call it again; the
 * next lookup then reloads).
 */
#define CATALOGUE_LIVE_RELOAD	60
#define CATALOGUE_LIVE_MAX	1024
struct model_info;
void		catalogue_live_install(struct store *);
/*
 * Fills out (room for max) with the live models in merged order, each
 * as models_find gives it.  0 when no account's list is cached: the
 * caller shows models_catalogue instead.
 */
size_t		catalogue_live_models(const struct model_info **out,
		    size_t max);
/*
 * What /v1/models shows: the live models, else the built-in list.  out
 * has room for CATALOGUE_LIVE_MAX entries; returns how many it filled.
 */
size_t		catalogue_shown(const struct model_info **out);
/*
 * Appends what a client may ask for, for "unknown model" errors: the
 * live models' ids (at most CATALOGUE_LIST_IDS, then how many more),
 * else models_list_text.  Reads the store: never inside a transaction.
 */
#define CATALOGUE_LIST_IDS	50
struct buf;
void		catalogue_list_text(struct buf *);
/* Appends "; available models: <catalogue_list_text>" to *cause. */
void		catalogue_cause_add_list(char **cause);

#endif
