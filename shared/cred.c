/* cred.c: one Kiro credential: kiro.rs and Kiro IDE formats, checks, machineId. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "digest.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "rand.h"
#include "xmalloc.h"

#define CRED_MAX_FILE	(4 * 1024 * 1024)

static const char *const auth_names[CRED_AUTH__MAX] = {
	"social", "idc", "api_key"
};

/* String fields, for the generic JSON readers and writers below. */
struct str_field {
	const char	*key;
	size_t		 offset;
	int		 secret;	/* never in CRED_JSON_PUBLIC */
	int		 in_export;	/* part of the kiro.rs format */
};

#define CF(f)	offsetof(struct cred, f)
static const struct str_field str_fields[] = {
	{ "refreshToken", CF(refresh_token), 1, 1 },
	{ "accessToken", CF(access_token), 1, 1 },
	{ "clientId", CF(client_id), 0, 1 },
	{ "clientSecret", CF(client_secret), 1, 1 },
	{ "profileArn", CF(profile_arn), 0, 1 },
	{ "region", CF(region), 0, 1 },
	{ "authRegion", CF(auth_region), 0, 1 },
	{ "apiRegion", CF(api_region), 0, 1 },
	{ "machineId", CF(machine_id), 0, 1 },
	{ "email", CF(email), 0, 1 },
	{ "subscriptionTitle", CF(subscription_title), 0, 1 },
	{ "proxyUrl", CF(proxy_url), 0, 1 },
	{ "proxyUsername", CF(proxy_username), 0, 1 },
	{ "proxyPassword", CF(proxy_password), 1, 1 },
	{ "kiroApiKey", CF(kiro_api_key), 1, 1 },
	{ "apiHost", CF(api_host), 0, 1 },
	{ "apiStyle", CF(api_style), 0, 1 },
	{ "source", CF(source), 0, 0 },
	{ "sourcePath", CF(source_path), 0, 0 },
};
#define N_STR_FIELDS (sizeof(str_fields) / sizeof(str_fields[0]))

static char **
str_at(struct cred *c, const struct str_field *f)
{
	return (char **)((char *)c + f->offset);
}

static char *const *
str_at_const(const struct cred *c, const struct str_field *f)
{
	return (char *const *)((const char *)c + f->offset);
}

void
cred_init(struct cred *c)
{
	memset(c, 0, sizeof(*c));
}

void
cred_free(struct cred *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < N_STR_FIELDS; i++) {
		char	**sp = str_at(c, &str_fields[i]);

		if (*sp != NULL && str_fields[i].secret)
			explicit_bzero(*sp, strlen(*sp));
		free(*sp);
	}
	cred_init(c);
}

void
cred_copy(struct cred *dst, const struct cred *src)
{
	size_t	i;

	*dst = *src;
	for (i = 0; i < N_STR_FIELDS; i++)
		*str_at(dst, &str_fields[i]) =
		    xstrdup(*str_at_const(src, &str_fields[i]));
}

void
cred_free_array(struct cred *arr, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		cred_free(&arr[i]);
	free(arr);
}

const char *
cred_auth_name(enum cred_auth a)
{
	return (unsigned)a < CRED_AUTH__MAX ? auth_names[a] : "social";
}

int
cred_auth_parse(const char *s, enum cred_auth *out)
{
	if (strcasecmp(s, "social") == 0)
		*out = CRED_AUTH_SOCIAL;
	else if (strcasecmp(s, "idc") == 0 || strcasecmp(s, "builder-id") == 0
	    || strcasecmp(s, "builderid") == 0 || strcasecmp(s, "iam") == 0)
		*out = CRED_AUTH_IDC;
	else if (strcasecmp(s, "api_key") == 0 ||
	    strcasecmp(s, "apikey") == 0 || strcasecmp(s, "api-key") == 0)
		*out = CRED_AUTH_API_KEY;
	else
		return -1;
	return 0;
}

/* expiresAt: RFC 3339 text, or a number of seconds or milliseconds. */
static int
parse_expiry(json_object *v, time_t *out)
{
	double	d;

	if (json_object_is_type(v, json_type_string))
		return clock_parse_rfc3339(json_object_get_string(v), out);
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (d > 1e11)
			d /= 1000;
		if (d < 0 || d > 1e11)
			return -1;
		*out = (time_t)d;
		return 0;
	}
	return -1;
}

enum kf_err
cred_from_json(json_object *obj, struct cred *c, char **cause)
{
	json_object	*v;
	const char	*s;
	int64_t		 n;
	int		 rc, b;
	size_t		 i;

	cred_init(c);
	if (!json_object_is_type(obj, json_type_object)) {
		xsetprintf(cause, "a credential must be a JSON object, not %s",
		    json_type_label(obj));
		return KF_EINVAL;
	}
	for (i = 0; i < N_STR_FIELDS; i++) {
		rc = json_get_str(obj, str_fields[i].key, &s);
		if (rc == -1) {
			xsetprintf(cause, "\"%s\" must be a string",
			    str_fields[i].key);
			goto fail;
		}
		if (rc == 1 && *s != '\0')
			*str_at(c, &str_fields[i]) = xstrdup(s);
	}
	if ((rc = json_get_int(obj, "id", &n)) == -1 || (rc == 1 && n < 0)) {
		xsetprintf(cause, "\"id\" must be a whole number");
		goto fail;
	}
	c->id = rc == 1 ? (long)n : 0;
	if ((rc = json_get_int(obj, "priority", &n)) == -1 ||
	    (rc == 1 && (n < 0 || n > 1000000000))) {
		xsetprintf(cause, "\"priority\" must be a whole number from 0");
		goto fail;
	}
	c->priority = rc == 1 ? (long)n : 0;
	if ((rc = json_get_bool(obj, "disabled", &b)) == -1) {
		xsetprintf(cause, "\"disabled\" must be true or false");
		goto fail;
	}
	c->disabled = rc == 1 ? b : 0;
	if ((rc = json_get_bool(obj, "ideSync", &b)) == -1) {
		xsetprintf(cause, "\"ideSync\" must be true or false");
		goto fail;
	}
	c->ide_sync = rc == 1 ? b : 0;
	if (json_object_object_get_ex(obj, "expiresAt", &v) && v != NULL &&
	    parse_expiry(v, &c->expires_at) == -1) {
		xsetprintf(cause, "\"expiresAt\" is not a date (want RFC 3339 "
		    "such as 2026-01-01T00:00:00Z)");
		goto fail;
	}
	if (json_object_object_get_ex(obj, "refreshedAt", &v) && v != NULL &&
	    parse_expiry(v, &c->refreshed_at) == -1) {
		xsetprintf(cause, "\"refreshedAt\" is not a date (want RFC 3339 "
		    "such as 2026-01-01T00:00:00Z)");
		goto fail;
	}
	if ((rc = json_get_str(obj, "authMethod", &s)) == -1) {
		xsetprintf(cause, "\"authMethod\" must be a string");
		goto fail;
	}
	if (rc == 1) {
		if (cred_auth_parse(s, &c->auth_method) == -1) {
			xsetprintf(cause, "\"authMethod\" must be social, idc, "
			    "builder-id, iam or api_key");
			goto fail;
		}
	} else if (c->client_id != NULL && c->client_secret != NULL)
		c->auth_method = CRED_AUTH_IDC;
	else if (c->kiro_api_key != NULL)
		c->auth_method = CRED_AUTH_API_KEY;
	else
		c->auth_method = CRED_AUTH_SOCIAL;
	/* Builder ID has no profile; sending one gets "invalid bearer". */
	if (c->auth_method == CRED_AUTH_IDC && c->profile_arn != NULL) {
		free(c->profile_arn);
		c->profile_arn = NULL;
	}
	return KF_OK;
fail:
	cred_free(c);
	return KF_EINVAL;
}

static void
add_masked(json_object *obj, const char *key, const char *secret)
{
	char	masked[LOG_MASK_LEN];

	if (secret != NULL)
		json_object_object_add(obj, key,
		    json_str(log_mask(secret, masked)));
}

char *
cred_public_url(const char *url)
{
	const char	*host, *at, *colon, *slash;

	host = (host = strstr(url, "://")) != NULL ? host + 3 : url;
	slash = strchr(host, '/');
	/* The last "@" before the path: a password may hold "@" itself. */
	for (at = NULL, colon = host; *colon != '\0' && colon != slash; colon++)
		if (*colon == '@')
			at = colon;
	if (at == NULL ||
	    (colon = memchr(host, ':', (size_t)(at - host))) == NULL)
		return xstrdup(url);
	return xasprintf("%.*s:***%s", (int)(colon - url), url, at);
}

json_object *
cred_to_json(const struct cred *c, enum cred_json form)
{
	json_object	*obj;
	char		 when[CLOCK_RFC3339_LEN], hash[65];
	size_t		 i;

	obj = json_object_new_object();
	if (c->id > 0)
		json_object_object_add(obj, "id", json_object_new_int64(c->id));
	json_object_object_add(obj, "authMethod",
	    json_str(cred_auth_name(c->auth_method)));
	for (i = 0; i < N_STR_FIELDS; i++) {
		const struct str_field	*f = &str_fields[i];
		const char		*s = *str_at_const(c, f);

		if (s == NULL)
			continue;
		if (form == CRED_JSON_EXPORT && !f->in_export)
			continue;
		if (form == CRED_JSON_PUBLIC && f->secret)
			continue;
		if (form == CRED_JSON_PUBLIC &&
		    f->offset == offsetof(struct cred, proxy_url)) {
			char	*shown = cred_public_url(s);

			json_object_object_add(obj, f->key, json_str(shown));
			free(shown);
			continue;
		}
		json_object_object_add(obj, f->key, json_str(s));
	}
	if (c->expires_at != 0)
		json_object_object_add(obj, "expiresAt",
		    json_str(clock_rfc3339(c->expires_at, when)));
	/* Ours, not kiro.rs's: the idle refresh needs it (refresh.h). */
	if (c->refreshed_at != 0 && form != CRED_JSON_EXPORT)
		json_object_object_add(obj, "refreshedAt",
		    json_str(clock_rfc3339(c->refreshed_at, when)));
	if (c->priority != 0 || form == CRED_JSON_PUBLIC)
		json_object_object_add(obj, "priority",
		    json_object_new_int64(c->priority));
	json_object_object_add(obj, "disabled",
	    json_object_new_boolean(c->disabled));
	if (c->ide_sync && form != CRED_JSON_EXPORT)
		json_object_object_add(obj, "ideSync",
		    json_object_new_boolean(1));
	if (form == CRED_JSON_PUBLIC) {
		add_masked(obj, "refreshToken", c->refresh_token);
		add_masked(obj, "accessToken", c->access_token);
		add_masked(obj, "clientSecret", c->client_secret);
		add_masked(obj, "kiroApiKey", c->kiro_api_key);
		if (c->proxy_password != NULL)
			json_object_object_add(obj, "proxyPassword",
			    json_str("***"));
		cred_identity_hash(c, hash);
		json_object_object_add(obj, "identityHash", json_str(hash));
		json_object_object_add(obj, "hasProfileArn",
		    json_object_new_boolean(c->profile_arn != NULL));
	}
	return obj;
}

static int
is_truncated(const char *token)
{
	return strstr(token, "...") != NULL ||
	    strstr(token, "\xe2\x80\xa6") != NULL ||	/* U+2026 */
	    strlen(token) < CRED_MIN_REFRESH_LEN;
}

enum kf_err
cred_validate(const struct cred *c, char **cause)
{
	enum api_host	host;
	enum api_style	style;

	if (c->auth_method == CRED_AUTH_API_KEY) {
		if (c->kiro_api_key == NULL) {
			xsetprintf(cause, "authMethod api_key needs kiroApiKey");
			return KF_EINVAL;
		}
		return KF_OK;
	}
	if (c->refresh_token != NULL && is_truncated(c->refresh_token)) {
		xsetprintf(cause, "refreshToken is truncated (%s): the Kiro "
		    "IDE sometimes shows shortened tokens; copy the whole "
		    "token, or import ~/.aws/sso/cache/kiro-auth-token.json "
		    "directly",
		    strstr(c->refresh_token, "...") != NULL ||
		    strstr(c->refresh_token, "\xe2\x80\xa6") != NULL ?
		    "it contains \"...\"" : "under 100 characters");
		return KF_EINVAL;
	}
	if (c->refresh_token == NULL && c->access_token == NULL) {
		xsetprintf(cause, "a credential needs a refreshToken (or at "
		    "least an accessToken)");
		return KF_EINVAL;
	}
	if (c->auth_method == CRED_AUTH_IDC && c->refresh_token != NULL &&
	    (c->client_id == NULL || c->client_secret == NULL)) {
		xsetprintf(cause, "authMethod idc needs clientId and "
		    "clientSecret (the IDE keeps them in "
		    "~/.aws/sso/cache/<clientIdHash>.json)");
		return KF_EINVAL;
	}
	if (c->api_host != NULL &&
	    config_api_host_parse(c->api_host, &host) == -1) {
		xsetprintf(cause, "apiHost must be \"runtime\" or \"legacy\"");
		return KF_EINVAL;
	}
	if (c->api_style != NULL &&
	    config_api_style_parse(c->api_style, &style) == -1) {
		xsetprintf(cause, "apiStyle must be \"path\" or \"target\"");
		return KF_EINVAL;
	}
	/* Regions become upstream host names (config_url). */
	if (config_region_check("region", c->region, cause) != KF_OK ||
	    config_region_check("authRegion", c->auth_region, cause) !=
	    KF_OK ||
	    config_region_check("apiRegion", c->api_region, cause) != KF_OK)
		return KF_EINVAL;
	if (c->machine_id != NULL) {
		char	norm[65];

		if (cred_normalise_machine_id(c->machine_id, norm) == -1) {
			xsetprintf(cause, "machineId must be 64 hex digits or "
			    "a UUID");
			return KF_EINVAL;
		}
	}
	return KF_OK;
}

/*
 * Where a credential came from and whether rotated tokens go back there
 * are the importer's to say (kiroctl scan --sync), never the file's: else
 * a file could name any path for its tokens to be written to.
 */
static void
forget_origin(struct cred *c)
{
	free(c->source);
	c->source = NULL;
	free(c->source_path);
	c->source_path = NULL;
	c->ide_sync = 0;
}

enum kf_err
cred_parse_import(const char *json, size_t len, struct cred **out, size_t *n,
    char **cause)
{
	json_object	*root = NULL, *item;
	struct cred	*arr = NULL;
	char		*why = NULL;
	size_t		 count, i;
	int		 is_array;
	enum kf_err	 er = KF_OK;

	*out = NULL;
	*n = 0;
	if (json_parse(json, len, 32, &root, &why) != KF_OK) {
		xsetprintf(cause, "%s", why);
		er = KF_EINVAL;
		goto out;
	}
	is_array = json_object_is_type(root, json_type_array);
	if (!is_array && !json_object_is_type(root, json_type_object)) {
		xsetprintf(cause, "credentials must be an object or an array "
		    "of objects, not %s", json_type_label(root));
		er = KF_EINVAL;
		goto out;
	}
	count = is_array ? json_object_array_length(root) : 1;
	if (count == 0) {
		xsetprintf(cause, "the credentials array is empty");
		er = KF_EINVAL;
		goto out;
	}
	arr = xcalloc(count, sizeof(*arr));
	for (i = 0; i < count; i++) {
		item = is_array ? json_object_array_get_idx(root, i) : root;
		if ((er = cred_from_json(item, &arr[i], &why)) != KF_OK ||
		    (er = cred_validate(&arr[i], &why)) != KF_OK) {
			if (is_array)
				xsetprintf(cause, "entry %zu: %s", i + 1, why);
			else
				xsetprintf(cause, "%s", why);
			cred_free_array(arr, count);
			arr = NULL;
			goto out;
		}
		arr[i].id = 0;	/* the store assigns ids */
		forget_origin(&arr[i]);
	}
	*out = arr;
	*n = count;
out:
	free(why);
	json_object_put(root);
	return er;
}

static enum kf_err
read_json_file(const char *path, json_object **out, char **cause)
{
	struct buf	 text = BUF_INIT;
	char		*why = NULL;
	enum kf_err	 er;

	*out = NULL;
	if ((er = fileio_read(path, CRED_MAX_FILE, &text, cause)) != KF_OK)
		goto out;
	if ((er = json_parse(text.ptr, text.len, 32, out, &why)) != KF_OK) {
		xsetprintf(cause, "%s: %s", path, why);
		goto out;
	}
	if (!json_object_is_type(*out, json_type_object)) {
		xsetprintf(cause, "%s: not a JSON object", path);
		json_object_put(*out);
		*out = NULL;
		er = KF_EINVAL;
	}
out:
	free(why);
	buf_free(&text);
	return er;
}

/* The client id hash names a file in the cache directory: keep it plain. */
static int
safe_file_name(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

enum kf_err
cred_load_ide_cache(const char *path, struct cred *out, char **cause)
{
	json_object	*tok = NULL, *reg = NULL;
	const char	*hash, *s;
	char		*dircopy = NULL, *regpath = NULL;
	enum kf_err	 er;

	cred_init(out);
	if ((er = read_json_file(path, &tok, cause)) != KF_OK)
		return er;
	if ((er = cred_from_json(tok, out, cause)) != KF_OK)
		goto out;
	/* The IDE writes "IdC"; provider says which login it was. */
	if (out->auth_method == CRED_AUTH_IDC && out->client_id == NULL) {
		if (json_get_str(tok, "clientIdHash", &hash) != 1 ||
		    !safe_file_name(hash)) {
			xsetprintf(cause, "%s: an IdC token without a valid "
			    "clientIdHash", path);
			er = KF_EINVAL;
			goto out;
		}
		dircopy = xstrdup(path);
		regpath = xasprintf("%s/%s.json", dirname(dircopy), hash);
		if ((er = read_json_file(regpath, &reg, cause)) != KF_OK)
			goto out;
		if (json_get_str(reg, "clientId", &s) == 1)
			out->client_id = xstrdup(s);
		if (json_get_str(reg, "clientSecret", &s) == 1)
			out->client_secret = xstrdup(s);
	}
	forget_origin(out);
	out->source = xstrdup("ide");
	out->source_path = xstrdup(path);
	if ((er = cred_validate(out, cause)) != KF_OK)
		goto out;
out:
	if (er != KF_OK)
		cred_free(out);
	json_object_put(tok);
	json_object_put(reg);
	free(dircopy);
	free(regpath);
	return er;
}

/*
 * A record stored before regions were checked may still hold a host name
 * of someone else's: such a region is skipped, so the token only ever goes
 * to a configured (checked) region.
 */
const char *
cred_auth_region(const struct cred *c, const struct config *cfg)
{
	if (config_region_valid(c->auth_region))
		return c->auth_region;
	if (config_region_valid(c->region))
		return c->region;
	if (cfg->auth_region != NULL)
		return cfg->auth_region;
	return cfg->region;
}

const char *
cred_api_region(const struct cred *c, const struct config *cfg)
{
	if (config_region_valid(c->api_region))
		return c->api_region;
	if (cfg->api_region != NULL)
		return cfg->api_region;
	return cfg->region;
}

int
cred_normalise_machine_id(const char *s, char out[65])
{
	char	hex[33];
	size_t	len, i, j;

	if (s == NULL)
		return -1;
	len = strlen(s);
	if (len == 64) {
		for (i = 0; i < 64; i++) {
			if (!isxdigit((unsigned char)s[i]))
				return -1;
			out[i] = (char)tolower((unsigned char)s[i]);
		}
		out[64] = '\0';
		return 0;
	}
	if (len != 36)
		return -1;
	for (i = j = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		hex[j++] = (char)tolower((unsigned char)s[i]);
	}
	hex[32] = '\0';
	memcpy(out, hex, 32);
	memcpy(out + 32, hex, 32);
	out[64] = '\0';
	return 0;
}

/* Random fallbacks live for the process, per credential id (kiro.rs). */
static pthread_mutex_t	 fallback_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	long	id;
	char	machine_id[65];
}			 fallbacks[64];
static size_t		 n_fallbacks;

/*
 * A derived machineId is a pure function of its seed, and hashing a
 * refresh token on every request cost as much as the rest of the header
 * set-up: the last few per process, keyed by the seed itself (compared
 * exactly, so a rotated token derives afresh).  A seed leaving the cache
 * is wiped, as the one built for the hash is.
 */
#define DERIVED_CACHE	16
static pthread_mutex_t	 derived_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char	*prefix;	/* static: compared by address */
	char		*secret;	/* NULL: a free slot */
	char		 machine_id[65];
}			 derived[DERIVED_CACHE];
static size_t		 derived_next;

static void
derive_machine_id(const char *prefix, const char *secret, char out[65])
{
	struct buf	seed = BUF_INIT;
	size_t		i;

	pthread_mutex_lock(&derived_lock);
	for (i = 0; i < DERIVED_CACHE; i++)
		if (derived[i].prefix == prefix && derived[i].secret != NULL &&
		    strcmp(derived[i].secret, secret) == 0) {
			memcpy(out, derived[i].machine_id, 65);
			pthread_mutex_unlock(&derived_lock);
			return;
		}
	pthread_mutex_unlock(&derived_lock);

	buf_append(&seed, prefix, strlen(prefix));
	buf_append(&seed, secret, strlen(secret));
	sha256_hex(seed.ptr, seed.len, out);
	explicit_bzero(seed.ptr, seed.len);
	buf_free(&seed);

	pthread_mutex_lock(&derived_lock);
	i = derived_next++ % DERIVED_CACHE;
	if (derived[i].secret != NULL) {
		explicit_bzero(derived[i].secret, strlen(derived[i].secret));
		free(derived[i].secret);
	}
	derived[i].prefix = prefix;
	derived[i].secret = xstrdup(secret);
	memcpy(derived[i].machine_id, out, 65);
	pthread_mutex_unlock(&derived_lock);
}

void
cred_machine_id(const struct cred *c, const struct config *cfg,
    char out[65])
{
	struct buf	seed = BUF_INIT;
	char		uuid[UUID_LEN + 1];
	size_t		i;

	if (cred_normalise_machine_id(c->machine_id, out) == 0 ||
	    (cfg != NULL &&
	    cred_normalise_machine_id(cfg->machine_id, out) == 0))
		return;
	if (c->auth_method == CRED_AUTH_API_KEY && c->kiro_api_key != NULL) {
		derive_machine_id("KiroAPIKey/", c->kiro_api_key, out);
		return;
	}
	if (c->refresh_token != NULL) {
		derive_machine_id("KotlinNativeAPI/", c->refresh_token, out);
		return;
	}
	pthread_mutex_lock(&fallback_lock);
	for (i = 0; i < n_fallbacks; i++)
		if (fallbacks[i].id == c->id) {
			memcpy(out, fallbacks[i].machine_id, 65);
			pthread_mutex_unlock(&fallback_lock);
			return;
		}
	rand_uuid(uuid);
	buf_printf(&seed, "KiroFallback/%s", uuid);
	sha256_hex(seed.ptr, seed.len, out);
	if (n_fallbacks < sizeof(fallbacks) / sizeof(fallbacks[0])) {
		fallbacks[n_fallbacks].id = c->id;
		memcpy(fallbacks[n_fallbacks].machine_id, out, 65);
		n_fallbacks++;
	}
	pthread_mutex_unlock(&fallback_lock);
	buf_free(&seed);
}

void
cred_identity_hash(const struct cred *c, char out[65])
{
	const char	*secret;

	if (c->auth_method == CRED_AUTH_API_KEY && c->kiro_api_key != NULL)
		secret = c->kiro_api_key;
	else if (c->refresh_token != NULL)
		secret = c->refresh_token;
	else if (c->access_token != NULL)
		secret = c->access_token;
	else
		secret = "";
	sha256_hex(secret, strlen(secret), out);
}
