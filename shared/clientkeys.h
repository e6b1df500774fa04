/* clientkeys.h: named client keys besides apiKey, with limits, kept as hashes. */
#ifndef CLIENTKEYS_H
#define CLIENTKEYS_H

#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "digest.h"
#include "err.h"

struct store;

/*
 * A client key is "kf-" and 40 random characters of [A-Za-z0-9] (about
 * 238 bits).  The store never holds it: records are keyed by its SHA-256,
 *   ckey/<name>         the key's settings and hash,
 *   ckey-hash/<sha256>  the name, to find a key from what a client sent,
 *   ckey-use/<name>     this month's counts and the last minute's requests.
 * A key is shown once, by clientkeys_add and clientkeys_rotate; after
 * that only its first CLIENTKEYS_SHOWN_LEN characters and its hash.
 *
 * Names are 1 .. CLIENTKEYS_NAME_MAX of [A-Za-z0-9._-]; "default" is
 * apiKey's.  Models are fnmatch(3) globs separated by commas, matched
 * against the model the client named and the Kiro model it maps to; none
 * allows every model.  A limit of 0 is no limit.
 */
#define CLIENTKEYS_PREFIX	"kf-"
#define CLIENTKEYS_KEY_LEN	43	/* prefix and 40 characters */
#define CLIENTKEYS_SHOWN_LEN	4
#define CLIENTKEYS_NAME_MAX	32
#define CLIENTKEYS_DEFAULT	"default"
#define CLIENTKEYS_MAX		1000	/* keys in one store */
#define CLIENTKEYS_MODELS_MAX	1024	/* bytes of the globs text */
#define CLIENTKEYS_GLOBS_MAX	32
#define CLIENTKEYS_RPM_MAX	1000000
#define CLIENTKEYS_QUOTA_MAX	1000000000000LL

/* One key's settings and this month's usage. */
struct clientkey {
	char		name[CLIENTKEYS_NAME_MAX + 1];
	char		hash[SHA256_HEX_LEN + 1];
	char		shown[CLIENTKEYS_SHOWN_LEN + 1];
	time_t		created;
	time_t		expires;	/* dead from then on; 0: never */
	int		disabled;
	long		rpm;
	long long	monthly_requests;
	long long	monthly_tokens;
	char		models[CLIENTKEYS_MODELS_MAX + 1];	/* "" any */
	/* Usage in the current month (UTC), as of the call. */
	char		month[8];	/* "2026-12" */
	long long	used_requests;
	long long	used_tokens;
};

/* Who a request authenticated as: lives in struct request. */
struct clientkeys_grant {
	char	name[CLIENTKEYS_NAME_MAX + 1];	/* "" before auth */
	int	client;		/* 1: a client key; 0: apiKey */
	char	models[CLIENTKEYS_MODELS_MAX + 1];
};

/* 1 when name is a usable key name (not "default"). */
int		clientkeys_name_ok(const char *name);
/* 1 when text looks like one of our keys (the prefix); no store work. */
int		clientkeys_is_key(const char *text);
/*
 * Checks a comma-separated glob list (at most CLIENTKEYS_GLOBS_MAX, each
 * non-empty, CLIENTKEYS_MODELS_MAX bytes in all): 0, or -1 with a cause.
 */
int		clientkeys_models_ok(const char *models, char **cause);
/* "YYYY-MM-DD" to 00:00 UTC of that day: 0, or -1. */
int		clientkeys_parse_date(const char *text, time_t *out);

/*
 * Makes a key from spec's name, limits, models and expiry (the rest of
 * spec is ignored) and writes the new key to key_out, the one time it is
 * known.  KF_EINVAL (cause) for a bad field, an existing name or a full
 * store.
 */
enum kf_err	clientkeys_add(struct store *, const struct clientkey *spec,
		    char key_out[CLIENTKEYS_KEY_LEN + 1], char **cause);
/* The key called name (with this month's usage): KF_ENOTFOUND if none. */
enum kf_err	clientkeys_get(struct store *, const char *name,
		    struct clientkey *out, char **cause);
/* Every key, sorted by name, in *out (caller frees), *n of them. */
enum kf_err	clientkeys_list(struct store *, struct clientkey **out,
		    size_t *n, char **cause);
enum kf_err	clientkeys_set_disabled(struct store *, const char *name,
		    int disabled, char **cause);
/* Forgets the key and its usage. */
enum kf_err	clientkeys_remove(struct store *, const char *name,
		    char **cause);
/* A new key for name, in key_out; the old one stops working at once. */
enum kf_err	clientkeys_rotate(struct store *, const char *name,
		    char key_out[CLIENTKEYS_KEY_LEN + 1], char **cause);

/*
 * Authenticates a request that sent key (not apiKey) at now_ms (unix
 * milliseconds), in one write transaction that also counts it: KF_OK
 * fills grant; KF_EAUTH for a key that is unknown (cause NULL), disabled
 * or expired (cause says which); KF_ERATE over its rpm, with
 * *retry_after in seconds; KF_EPERM over a monthly quota.  Refused
 * requests are not counted.  A cause names the key and the limit, fit
 * for the client.
 */
enum kf_err	clientkeys_authorise(struct store *, const char *key,
		    int64_t now_ms, struct clientkeys_grant *grant,
		    long *retry_after, char **cause);
/* 1 when the grant allows the model (either spelling may be NULL). */
int		clientkeys_model_allowed(const struct clientkeys_grant *,
		    const char *client_model, const char *kiro_model);
/*
 * What kiroctl and the admin API show of a key (one reference): name,
 * keyPrefix (the first characters), keyHash, state ("active",
 * "disabled", "expired"), created and expires (RFC 3339 or null),
 * models (array), limits {rpm, monthlyRequests, monthlyTokens} and usage
 * {month, requests, tokens}.  Never the key.
 */
json_object	*clientkeys_public_json(const struct clientkey *, time_t now);
/* "active", "disabled" or "expired" at now. */
const char	*clientkeys_state(const struct clientkey *, time_t now);

/* Adds an answer's tokens to the key's month (one write transaction). */
enum kf_err	clientkeys_add_tokens(struct store *, const char *name,
		    long long tokens, char **cause);

#endif
