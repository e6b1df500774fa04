/* refresh.c: keep an account's access token fresh (doc/protocol.md §8). */
#include "autoconfig.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "credfile.h"
#include "digest.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "rand.h"
#include "refresh.h"
#include "store.h"
#include "upstream.h"
#include "xmalloc.h"

#define REFRESH_TIMEOUT_MS	30000
#define REFRESH_DEFAULT_TTL	3600

/* New token material from one refresh answer. */
struct grant {
	char	*access_token;
	char	*refresh_token;
	char	*profile_arn;
	time_t	 expires_at;
};

static void
grant_free(struct grant *g)
{
	if (g->access_token != NULL)
		explicit_bzero(g->access_token, strlen(g->access_token));
	if (g->refresh_token != NULL)
		explicit_bzero(g->refresh_token, strlen(g->refresh_token));
	free(g->access_token);
	free(g->refresh_token);
	free(g->profile_arn);
	memset(g, 0, sizeof(*g));
}

int
refresh_needed(const struct cred *c, long ahead, time_t now)
{
	if (c->auth_method == CRED_AUTH_API_KEY)
		return 0;
	if (c->access_token == NULL || c->expires_at == 0)
		return 1;
	return c->expires_at <= now + ahead;
}

/*
 * When the gateway never refreshed the account (imported, logged in), its
 * access token is taken to be an hour old when it expires: Kiro's tokens
 * last an hour (doc/protocol.md §8.1).
 */
int
refresh_idle(const struct cred *c, long idle_seconds, time_t now)
{
	time_t	last;

	/* Only a social refresh token dies idle; none, nothing to keep. */
	if (c->auth_method != CRED_AUTH_SOCIAL || c->refresh_token == NULL ||
	    idle_seconds <= 0)
		return 0;
	if ((last = c->refreshed_at) == 0) {
		if (c->expires_at == 0)
			return 0;	/* refresh_needed says yes anyway */
		last = c->expires_at - REFRESH_DEFAULT_TTL;
	}
	return now - last >= idle_seconds;
}

long
refresh_idle_seconds(const struct config *cfg)
{
	if (cfg->idle_refresh_hours > LONG_MAX / 3600)
		return LONG_MAX;
	return cfg->idle_refresh_hours * 3600;
}

/* Reads camelCase or snake_case (peers disagree, §8.1). */
static const char *
get_either(json_object *obj, const char *camel, const char *snake)
{
	const char	*s;

	if (json_get_str(obj, camel, &s) == 1 && *s != '\0')
		return s;
	if (json_get_str(obj, snake, &s) == 1 && *s != '\0')
		return s;
	return NULL;
}

static enum kf_err
parse_grant(const char *body, size_t len, struct grant *g, char **cause)
{
	json_object	*root = NULL;
	const char	*s;
	int64_t		 ttl;
	enum kf_err	 er = KF_EUPSTREAM;

	memset(g, 0, sizeof(*g));
	if (json_parse(body, len, 16, &root, NULL) != KF_OK ||
	    !json_object_is_type(root, json_type_object)) {
		xsetprintf(cause, "the refresh answer is not a JSON object");
		goto out;
	}
	if ((s = get_either(root, "accessToken", "access_token")) == NULL) {
		xsetprintf(cause, "the refresh answer has no accessToken");
		goto out;
	}
	g->access_token = xstrdup(s);
	g->refresh_token = xstrdup(get_either(root, "refreshToken",
	    "refresh_token"));
	g->profile_arn = xstrdup(get_either(root, "profileArn",
	    "profile_arn"));
	if (json_get_int(root, "expiresIn", &ttl) != 1 &&
	    json_get_int(root, "expires_in", &ttl) != 1)
		ttl = REFRESH_DEFAULT_TTL;
	if (ttl <= 0 || ttl > 366L * 86400)
		ttl = REFRESH_DEFAULT_TTL;
	g->expires_at = clock_now() + (time_t)ttl;
	er = KF_OK;
out:
	json_object_put(root);
	if (er != KF_OK)
		grant_free(g);
	return er;
}

/* The refresh call itself: no store lock is held here. */
static enum kf_err
call_refresh(struct http *h, const struct config *cfg, const struct cred *c,
    struct grant *g, int *dead, char **cause)
{
	struct http_req		 req;
	struct http_resp	 resp;
	struct buf		 body = BUF_INIT;
	const char		*headers[10], *region;
	char			 machine_id[65], uuid[UUID_LEN + 1];
	char			*url, *ua = NULL, *xua = NULL, *inv = NULL;
	char			*text;
	size_t			 n = 0;
	enum kf_err		 er;

	*dead = 0;
	region = cred_auth_region(c, cfg);
	memset(&req, 0, sizeof(req));
	if (c->auth_method == CRED_AUTH_IDC) {
		url = config_url(cfg->oidc_base_url, region, "/token");
		buf_puts(&body, "{\"clientId\":");
		buf_json_str(&body, c->client_id, strlen(c->client_id));
		buf_puts(&body, ",\"clientSecret\":");
		buf_json_str(&body, c->client_secret,
		    strlen(c->client_secret));
		buf_puts(&body, ",\"refreshToken\":");
		buf_json_str(&body, c->refresh_token,
		    strlen(c->refresh_token));
		buf_puts(&body, ",\"grantType\":\"refresh_token\"}");
		rand_uuid(uuid);
		xua = xstrdup("x-amz-user-agent: aws-sdk-js/3.980.0 KiroIDE");
		ua = xasprintf("User-Agent: aws-sdk-js/3.980.0 ua/2.1 os/%s "
		    "lang/js md/nodejs#%s api/sso-oidc#3.980.0 m/E KiroIDE",
		    cfg->system_version, cfg->node_version);
		inv = xasprintf("amz-sdk-invocation-id: %s", uuid);
		headers[n++] = "Content-Type: application/json";
		headers[n++] = xua;
		headers[n++] = ua;
		headers[n++] = inv;
		headers[n++] = "amz-sdk-request: attempt=1; max=4";
	} else {
		url = config_url(cfg->auth_base_url, region, "/refreshToken");
		buf_puts(&body, "{\"refreshToken\":");
		buf_json_str(&body, c->refresh_token,
		    strlen(c->refresh_token));
		buf_putc(&body, '}');
		cred_machine_id(c, cfg, machine_id);
		ua = xasprintf("User-Agent: KiroIDE-%s-%s", cfg->kiro_version,
		    machine_id);
		headers[n++] = "Accept: application/json, text/plain, */*";
		headers[n++] = "Content-Type: application/json";
		headers[n++] = ua;
	}
	headers[n] = NULL;
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body.ptr;
	req.body_len = body.len;
	req.proxy_url = upstream_proxy(c, cfg, &req.proxy_username,
	    &req.proxy_password);
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.timeout_ms = REFRESH_TIMEOUT_MS;
	req.max_body = 256 * 1024;

	if ((er = http_do(h, &req, &resp, cause)) != KF_OK)
		goto out;
	if (resp.status == 200) {
		er = parse_grant(resp.body.ptr, resp.body.len, g, cause);
		goto out;
	}
	text = upstream_error_text(resp.body.ptr, resp.body.len);
	/* invalid_grant: the refresh token is dead for good (§7.3). */
	if (resp.status == 400 && resp.body.len > 0 &&
	    memmem(resp.body.ptr, resp.body.len, "invalid_grant", 13) != NULL) {
		*dead = 1;
		xsetprintf(cause, "the refresh token was refused "
		    "(invalid_grant: %s); this account needs a new login", text);
		er = KF_ELOGIN;
	} else {
		xsetprintf(cause, "token refresh failed: HTTP %ld: %s",
		    resp.status, text);
		er = resp.status == 429 || resp.status >= 500 ? KF_EUPSTREAM :
		    KF_EAUTH;
	}
	free(text);
out:
	http_resp_free(&resp);
	explicit_bzero(body.ptr, body.len);
	buf_free(&body);
	free(url);
	free(ua);
	free(xua);
	free(inv);
	return er;
}

/*
 * Applies a refresh's outcome to the account in one write transaction: the
 * grant, or a failure that disables the account as disable_as (ACCOUNT_OK:
 * counted, 3 in a row disable it).
 */
static enum kf_err
record(struct store *st, long id, const struct grant *g,
    enum account_reason disable_as, const char *why, struct cred *out,
    char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) != KF_OK)
		goto out;
	if (g != NULL) {
		free(a.cred.access_token);
		a.cred.access_token = xstrdup(g->access_token);
		if (g->refresh_token != NULL) {
			free(a.cred.refresh_token);
			a.cred.refresh_token = xstrdup(g->refresh_token);
		}
		/* Builder ID has none (cred.h); a grant cannot give one. */
		if (g->profile_arn != NULL &&
		    a.cred.auth_method != CRED_AUTH_IDC) {
			free(a.cred.profile_arn);
			a.cred.profile_arn = xstrdup(g->profile_arn);
		}
		a.cred.expires_at = g->expires_at;
		a.cred.refreshed_at = clock_now();
		a.state.refresh_failures = 0;
		if (a.state.disabled == ACCOUNT_TOO_MANY_REFRESH_FAILURES)
			a.state.disabled = ACCOUNT_OK;
		if ((er = accounts_txn_save_cred(txn, &a.cred, cause)) !=
		    KF_OK)
			goto out;
	} else {
		free(a.state.last_error);
		a.state.last_error = xstrdup(why);
		a.state.last_error_at = clock_now();
		if (disable_as != ACCOUNT_OK) {
			a.state.disabled = disable_as;
			a.state.disabled_at = clock_now();
			a.state.disabled_until = 0;
			free(a.state.disabled_detail);
			a.state.disabled_detail = xstrdup(why);
		} else if (++a.state.refresh_failures >= 3 &&
		    a.state.disabled == ACCOUNT_OK) {
			a.state.disabled = ACCOUNT_TOO_MANY_REFRESH_FAILURES;
			a.state.disabled_at = clock_now();
			free(a.state.disabled_detail);
			a.state.disabled_detail = xstrdup(why);
		}
	}
	if ((er = accounts_txn_save_state(txn, id, &a.state, cause)) != KF_OK)
		goto out;
	if (out != NULL)
		cred_copy(out, &a.cred);
out:
	account_free(&a);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK && er == KF_OK)
		er = KF_ESTORE;
	return er;
}

static void
write_back(struct store *st, const struct cred *before,
    const struct cred *after)
{
	char	*why = NULL;
	int	 fd;

	if (before->source_path == NULL || before->refresh_token == NULL ||
	    before->source == NULL)
		return;
	/* The IDE's own token file only when the operator opted in. */
	if (strcmp(before->source, "file") != 0 &&
	    !(strcmp(before->source, "ide") == 0 && before->ide_sync))
		return;
	/* Accounts from one file refresh in parallel: one writer at once. */
	if ((fd = store_lock_named(st, "credfile", &why)) == -1) {
		log_warnx("credentials file write-back: %s", why);
		free(why);
		return;
	}
	if (credfile_writeback(before->source_path, before->refresh_token,
	    after, &why) != KF_OK)
		log_warnx("account %ld: rotated token kept in the state file "
		    "but not written back: %s", before->id, why);
	store_unlock_named(fd);
	free(why);
}

static enum kf_err
read_account(struct store *st, long id, struct account *a, char **cause)
{
	return accounts_get(st, id, a, cause);
}

/*
 * A lookup that found no profile is not asked again for a while, in this
 * process: otherwise every request of such an account would pay a named
 * lock, a store read, one more upstream call and a warning.  Another
 * process or kiroctl that stores a profile meanwhile still wins, since
 * the credential then arrives with it.  A clock that went back forgets.
 */
#define PROFILE_RETRY_SECONDS	600
#define PROFILE_MISSES		32

static struct profile_miss {
	uint64_t	store;	/* store_key: ids are per state file */
	long		id;
	time_t		at;
}			 profile_misses[PROFILE_MISSES];
static pthread_mutex_t	 profile_misses_lock = PTHREAD_MUTEX_INITIALIZER;

/* The state directory's hash: which store an account id belongs to. */
static uint64_t
store_key(struct store *st)
{
	return fnv1a64(store_dir(st));
}

static int
profile_missed_lately(struct store *st, long id, time_t now)
{
	uint64_t	key = store_key(st);
	size_t		i;
	int		found = 0;

	pthread_mutex_lock(&profile_misses_lock);
	for (i = 0; i < PROFILE_MISSES && !found; i++)
		found = profile_misses[i].id == id &&
		    profile_misses[i].store == key &&
		    now >= profile_misses[i].at &&
		    now - profile_misses[i].at < PROFILE_RETRY_SECONDS;
	pthread_mutex_unlock(&profile_misses_lock);
	return found;
}

/* The account's own slot, else a free one, else the oldest miss. */
static void
profile_miss_note(struct store *st, long id, time_t now)
{
	uint64_t	key = store_key(st);
	size_t		i, slot = 0;

	pthread_mutex_lock(&profile_misses_lock);
	for (i = 0; i < PROFILE_MISSES; i++) {
		if ((profile_misses[i].id == id &&
		    profile_misses[i].store == key) ||
		    profile_misses[i].id == 0) {
			slot = i;
			break;
		}
		if (profile_misses[i].at < profile_misses[slot].at)
			slot = i;
	}
	profile_misses[slot].store = key;
	profile_misses[slot].id = id;
	profile_misses[slot].at = now;
	pthread_mutex_unlock(&profile_misses_lock);
}

/* The answer for a miss remembered: no call, and nothing new to log. */
static enum kf_err
profile_miss_again(char **cause)
{
	xsetprintf(cause, "no profileArn found: ListAvailableProfiles "
	    "found none less than %d minutes ago", PROFILE_RETRY_SECONDS / 60);
	return KF_ENOTFOUND;
}

/*
 * Requests in flight for one account all miss its profile: one asks
 * ListAvailableProfiles (under the account's profile lock), the others
 * wait and read what it stored, or, when it found none, the miss it
 * noted: one call per process, not one per request that waited.
 */
enum kf_err
refresh_resolve_profile(struct store *st, struct http *h,
    const struct config *cfg, struct cred *c, char **cause)
{
	struct account	 a;
	char		 lockname[64], *arn = NULL, *why = NULL;
	int		 fd = -1;
	enum kf_err	 er;

	if (c->auth_method != CRED_AUTH_SOCIAL || c->profile_arn != NULL)
		return KF_OK;
	if (c->id > 0 && profile_missed_lately(st, c->id, clock_now()))
		return profile_miss_again(cause);
	if (c->id > 0) {
		snprintf(lockname, sizeof(lockname), "profile-%ld", c->id);
		if ((fd = store_lock_named(st, lockname, cause)) == -1)
			return KF_ESTORE;
		if (read_account(st, c->id, &a, NULL) == KF_OK &&
		    a.cred.profile_arn != NULL) {
			c->profile_arn = xstrdup(a.cred.profile_arn);
			account_free(&a);
			er = KF_OK;
			goto out;
		}
		account_free(&a);
		/* The thread we waited for may have just missed. */
		if (profile_missed_lately(st, c->id, clock_now())) {
			store_unlock_named(fd);
			return profile_miss_again(cause);
		}
	}
	if ((er = upstream_list_profiles(h, cfg, c, &arn, &why)) != KF_OK) {
		xsetprintf(cause, "no profileArn found: %s", why);
		/* KF_ENOTFOUND says "remembered miss": a first one is news. */
		if (er == KF_ENOTFOUND)
			er = KF_EUPSTREAM;
		goto out;
	}
	if (arn == NULL) {
		xsetprintf(cause, "no profileArn found: ListAvailableProfiles "
		    "listed none");
		er = KF_EUPSTREAM;
		goto out;
	}
	if (c->id > 0 && (er = accounts_set_profile(st, c->id, arn, &why)) !=
	    KF_OK) {
		xsetprintf(cause, "profileArn not stored: %s", why);
		goto out;
	}
	log_info("account %ld: profile %s (ListAvailableProfiles)", c->id,
	    arn);
	c->profile_arn = arn;
	arn = NULL;
out:
	if (er != KF_OK && er != KF_ESTORE && er != KF_EAUTH && c->id > 0)
		profile_miss_note(st, c->id, clock_now());
	store_unlock_named(fd);
	free(arn);
	free(why);
	return er;
}

/*
 * An API key has nothing to refresh: no refresh endpoint accepts it
 * (doc/protocol.md §8.4), so a refused key puts its account out of
 * service until the operator replaces it.  Every request in flight with
 * the key sees it refused: the first one disables the account and says
 * so, the others find it done (one log line, one disabledAt).
 */
static enum kf_err
api_key_refused(struct store *st, long id, char **cause)
{
	static const char	 why[] = "Kiro refused the API key (bearer "
	    "token invalid); add a new one with kiroctl accounts add "
	    "--kiro-api-key";
	struct store_txn	*txn = NULL;
	struct account		 a;
	int			 first = 0;
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) != KF_OK)
		goto out;
	if (a.state.disabled != ACCOUNT_INVALID_CONFIG) {
		first = 1;
		free(a.state.last_error);
		a.state.last_error = xstrdup(why);
		a.state.last_error_at = clock_now();
		a.state.disabled = ACCOUNT_INVALID_CONFIG;
		a.state.disabled_at = clock_now();
		a.state.disabled_until = 0;
		free(a.state.disabled_detail);
		a.state.disabled_detail = xstrdup(why);
		er = accounts_txn_save_state(txn, id, &a.state, cause);
	}
out:
	account_free(&a);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK && er == KF_OK)
		er = KF_ESTORE;
	if (er != KF_OK)
		return er;
	if (first)
		log_warnx("account %ld: disabled: %s", id, why);
	xsetprintf(cause, "account %ld: %s", id, why);
	return KF_ELOGIN;
}

/* Metrics: one refresh call made, by account and result. */
static void
count_refresh(long id, enum kf_err er)
{
	char		 account[24];
	const char	*labels[2];

	snprintf(account, sizeof(account), "%ld", id);
	labels[0] = account;
	labels[1] = er == KF_OK ? "ok" : "error";
	metrics_add(metrics_global(), METRIC_TOKEN_REFRESHES, labels, 1);
}

/* Whether c needs a refresh: expiring within ahead, or idle for idle. */
static int
due(const struct cred *c, long ahead, long idle)
{
	time_t	now = clock_now();

	return refresh_needed(c, ahead, now) || refresh_idle(c, idle, now);
}

static enum kf_err
ensure(struct store *st, struct http *h, const struct config *cfg, long id,
    long ahead, long idle, const char *failed_token, struct cred *out,
    char **cause)
{
	struct account	 a;
	struct grant	 g;
	char		 lockname[64], *why = NULL;
	int		 fd = -1, dead = 0;
	enum kf_err	 er, profile_er;

	cred_init(out);
	if ((er = read_account(st, id, &a, cause)) != KF_OK)
		return er;
	if (a.cred.auth_method == CRED_AUTH_API_KEY && failed_token != NULL) {
		account_free(&a);
		return api_key_refused(st, id, cause);
	}
	if (a.cred.auth_method == CRED_AUTH_API_KEY ||
	    (failed_token == NULL && !due(&a.cred, ahead, idle))) {
		cred_copy(out, &a.cred);
		account_free(&a);
		return KF_OK;
	}
	account_free(&a);

	snprintf(lockname, sizeof(lockname), "refresh-%ld", id);
	if ((fd = store_lock_named(st, lockname, cause)) == -1)
		return KF_ESTORE;
	/* Another process may have refreshed while we waited. */
	if ((er = read_account(st, id, &a, cause)) != KF_OK)
		goto out;
	if (failed_token != NULL ? (a.cred.access_token != NULL &&
	    strcmp(a.cred.access_token, failed_token) != 0 &&
	    !refresh_needed(&a.cred, 60, clock_now())) :
	    !due(&a.cred, ahead, idle)) {
		cred_copy(out, &a.cred);
		goto out;
	}
	if (a.state.disabled == ACCOUNT_INVALID_REFRESH_TOKEN) {
		xsetprintf(cause, "account %ld needs a new login (its refresh "
		    "token was refused)", id);
		er = KF_ELOGIN;
		goto out;
	}
	if (a.cred.refresh_token == NULL) {
		xsetprintf(cause, "account %ld has no refresh token and its "
		    "access token has expired; import it again", id);
		er = KF_ELOGIN;
		goto out;
	}
	if ((er = cred_validate(&a.cred, &why)) != KF_OK) {
		xsetprintf(cause, "account %ld: %s", id, why);
		er = KF_ELOGIN;
		goto out;
	}
	er = call_refresh(h, cfg, &a.cred, &g, &dead, &why);
	count_refresh(id, er);
	if (er != KF_OK) {
		log_warnx("account %ld: %s", id, why);
		xsetprintf(cause, "account %ld: %s", id, why);
		(void)record(st, id, NULL, dead ?
		    ACCOUNT_INVALID_REFRESH_TOKEN : ACCOUNT_OK, why, NULL, NULL);
		goto out;
	}
	er = record(st, id, &g, ACCOUNT_OK, NULL, out, cause);
	if (er == KF_OK) {
		log_info("account %ld: access token refreshed%s", id,
		    g.refresh_token != NULL &&
		    strcmp(g.refresh_token, a.cred.refresh_token) != 0 ?
		    " (refresh token rotated)" : "");
		write_back(st, &a.cred, out);
		/* The runtime host wants a profile (§12): find it now. */
		profile_er = refresh_resolve_profile(st, h, cfg, out, &why);
		if (profile_er != KF_OK && profile_er != KF_ENOTFOUND)
			log_warnx("account %ld: %s", id, why);
	}
	grant_free(&g);
out:
	account_free(&a);
	store_unlock_named(fd);
	free(why);
	return er;
}

enum kf_err
refresh_ensure(struct store *st, struct http *h, const struct config *cfg,
    long id, long ahead, const char *failed_token, struct cred *out,
    char **cause)
{
	return ensure(st, h, cfg, id, ahead, 0, failed_token, out, cause);
}

enum kf_err
refresh_cron(struct store *st, struct http *h, const struct config *cfg,
    long id, struct cred *out, char **cause)
{
	return ensure(st, h, cfg, id, REFRESH_AHEAD_CRON,
	    refresh_idle_seconds(cfg), NULL, out, cause);
}
