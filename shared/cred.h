/* cred.h: one Kiro credential: kiro.rs and Kiro IDE formats, checks, machineId. */
#ifndef CRED_H
#define CRED_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "err.h"

struct config;

enum cred_auth {
	CRED_AUTH_SOCIAL,	/* Google/GitHub login: /refreshToken */
	CRED_AUTH_IDC,		/* Builder ID / IAM Identity Center: OIDC /token */
	CRED_AUTH_API_KEY,	/* ksk_ key sent as the bearer token */
	CRED_AUTH__MAX
};

/* Every field of doc/design.md §4; strings NULL when unset.  Owns them all. */
struct cred {
	long		 id;		/* 0 until stored */
	enum cred_auth	 auth_method;
	char		*refresh_token;
	char		*access_token;
	time_t		 expires_at;	/* 0 = unknown */
	time_t		 refreshed_at;	/* last refresh here, 0 = unknown */
	char		*client_id;
	char		*client_secret;
	char		*profile_arn;
	long		 priority;	/* lower is preferred */
	char		*region;
	char		*auth_region;
	char		*api_region;
	char		*machine_id;
	char		*email;
	char		*subscription_title;
	char		*proxy_url;	/* URL, or "direct" for no proxy */
	char		*proxy_username;
	char		*proxy_password;
	char		*kiro_api_key;
	char		*api_host;	/* "runtime" | "legacy": overrides config */
	char		*api_style;	/* "path" | "target": overrides config */
	int		 disabled;	/* as imported: start disabled */
	char		*source;	/* "file", "ide", "env", "cli" */
	char		*source_path;	/* file to write rotated tokens to */
	int		 ide_sync;	/* write rotated tokens back to the IDE */
};

enum cred_json {
	CRED_JSON_STORE,	/* everything, for the state file */
	CRED_JSON_EXPORT,	/* the kiro.rs file format, with secrets */
	CRED_JSON_PUBLIC,	/* no secrets: masked values and hashes */
	CRED_JSON__MAX
};

#define CRED_MIN_REFRESH_LEN	100

void		 cred_init(struct cred *);
void		 cred_free(struct cred *);	/* fields only; NULL is fine */
/* Deep copy of src into dst (dst is overwritten, not freed). */
void		 cred_copy(struct cred *dst, const struct cred *src);

const char	*cred_auth_name(enum cred_auth);
/* "social" | "idc" | "builder-id" | "iam" | "api_key" (any case): 0 or -1. */
int		 cred_auth_parse(const char *, enum cred_auth *);

/*
 * Reads one kiro.rs credential object (unknown keys ignored, wrong types
 * are KF_EINVAL naming the key).  authMethod missing: idc when clientId and
 * clientSecret are both present, else api_key when kiroApiKey is, else
 * social (kiro.rs).  An idc credential never keeps a profileArn: Kiro
 * refuses its token when one comes with it (doc/protocol.md §12).
 */
enum kf_err	 cred_from_json(json_object *, struct cred *, char **cause);
/* Returns a new object (one reference) in the given form. */
json_object	*cred_to_json(const struct cred *, enum cred_json);

/*
 * Checks that the credential can be used: a refresh token that is not
 * truncated (no "..." and at least 100 characters: the Kiro IDE sometimes
 * shows shortened tokens), client id and secret for idc, a key for
 * api_key, or at least an access token; regions that are AWS region
 * names (config_region_valid).  The cause never shows a secret.
 */
enum kf_err	 cred_validate(const struct cred *, char **cause);

/*
 * Parses a kiro.rs credentials.json text: one object or an array.  The
 * keys source, sourcePath and ideSync are ignored (the caller sets them:
 * a file cannot opt itself into write-back).  Every entry is validated; the first bad one fails the whole parse with a cause
 * naming its index.  *out (n entries) is the caller's: cred_free_array.
 */
enum kf_err	 cred_parse_import(const char *json, size_t len,
		    struct cred **out, size_t *n, char **cause);
void		 cred_free_array(struct cred *, size_t n);

/*
 * Reads the Kiro IDE's token cache (~/.aws/sso/cache/kiro-auth-token.json)
 * and, for IdC logins, the client registration <clientIdHash>.json beside
 * it.  source becomes "ide" and source_path the token file; ideSync in
 * the file is ignored (kiroctl accounts scan --sync opts in).
 */
enum kf_err	 cred_load_ide_cache(const char *path, struct cred *out,
		    char **cause);

/*
 * The region for token refresh: credential authRegion > region > config.
 * A credential's region that is not an AWS region name is skipped.
 */
const char	*cred_auth_region(const struct cred *, const struct config *);
/* The region for API calls: credential apiRegion > config apiRegion > region
 * (the same skip). */
const char	*cred_api_region(const struct cred *, const struct config *);

/*
 * machineId per doc/protocol.md §2.5: credential, then config (64 hex
 * as is; a UUID without dashes, twice), else sha256("KiroAPIKey/" key) for
 * API keys, sha256("KotlinNativeAPI/" refresh token), else a random one.
 */
void		 cred_machine_id(const struct cred *, const struct config *,
		    char out[65]);
/* Normalises a configured machineId: 0 with 64 hex digits in out, or -1. */
int		 cred_normalise_machine_id(const char *, char out[65]);

/*
 * A URL fit to show (heap; caller frees): a password in its userinfo
 * ("http://user:pw@host", with or without a scheme) becomes "***".
 */
char		*cred_public_url(const char *url);

/* SHA-256 hex of the refresh token (or API key): the duplicate check key. */
void		 cred_identity_hash(const struct cred *, char out[65]);

#endif
