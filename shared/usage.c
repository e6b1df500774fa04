/* usage.c: an account's quota from getUsageLimits (doc/protocol.md §9.1). */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "refresh.h"
#include "store.h"
#include "upstream.h"
#include "usage.h"
#include "xmalloc.h"

#define USAGE_TIMEOUT_MS	30000
#define USAGE_MAX_BODY		(256 * 1024)

void
usage_free(struct usage *u)
{
	if (u == NULL)
		return;
	free(u->subscription);
	free(u->email);
	memset(u, 0, sizeof(*u));
}

/* Reset dates past this (year 5138) are nonsense, and overflow time_t casts. */
#define USAGE_MAX_TIME	1e11

/* A number field: 1 found, 0 absent (or null), -1 another type. */
static int
get_number(json_object *obj, const char *key, double *out)
{
	json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return -1;
	*out = json_object_get_double(v);
	return isfinite(*out) ? 1 : -1;
}

/*
 * withPrecision when there, else the rounded field; -1 on a bad type or a
 * negative amount (usage and limits count requests: a negative one is
 * nonsense that would make the percentage negative).
 */
static int
precise(json_object *obj, const char *key, double *out)
{
	char	name[64];
	int	rc;

	*out = 0;
	snprintf(name, sizeof(name), "%sWithPrecision", key);
	if ((rc = get_number(obj, name, out)) == 0)
		rc = get_number(obj, key, out) == -1 ? -1 : 0;
	return rc != -1 && *out < 0 ? -1 : rc;
}

static int
active(json_object *obj, const char *key)
{
	const char	*s;

	return json_get_str(obj, key, &s) == 1 && strcmp(s, "ACTIVE") == 0;
}

static json_object *
pick_breakdown(json_object *list)
{
	json_object	*e;
	const char	*s;
	size_t		 i, n = json_object_array_length(list);

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, i);
		if (json_object_is_type(e, json_type_object) &&
		    json_get_str(e, "resourceType", &s) == 1 &&
		    strcmp(s, "CREDIT") == 0)
			return e;
	}
	e = n > 0 ? json_object_array_get_idx(list, 0) : NULL;
	return json_object_is_type(e, json_type_object) ? e : NULL;
}

static enum kf_err
add_breakdown(json_object *b, struct usage *u, char **cause)
{
	json_object	*trial, *bonuses, *bonus;
	double		 used, limit, reset;
	size_t		 i, n;

	if (precise(b, "currentUsage", &used) == -1 ||
	    precise(b, "usageLimit", &limit) == -1) {
		xsetprintf(cause, "getUsageLimits: usageBreakdownList "
		    "currentUsage/usageLimit must be non-negative numbers");
		return KF_EUPSTREAM;
	}
	u->used = used;
	u->limit = limit;
	if (u->next_reset == 0 && get_number(b, "nextDateReset", &reset) == 1
	    && reset > 0 && reset < USAGE_MAX_TIME)
		u->next_reset = (time_t)reset;
	if (json_get_obj(b, "freeTrialInfo", &trial) == 1 &&
	    active(trial, "freeTrialStatus")) {
		if (precise(trial, "currentUsage", &used) == -1 ||
		    precise(trial, "usageLimit", &limit) == -1) {
			xsetprintf(cause, "getUsageLimits: freeTrialInfo "
			    "currentUsage/usageLimit must be non-negative numbers");
			return KF_EUPSTREAM;
		}
		u->used += used;
		u->limit += limit;
	}
	if (json_get_arr(b, "bonuses", &bonuses) == 1) {
		n = json_object_array_length(bonuses);
		for (i = 0; i < n; i++) {
			bonus = json_object_array_get_idx(bonuses, i);
			if (!json_object_is_type(bonus, json_type_object) ||
			    !active(bonus, "status"))
				continue;
			if (precise(bonus, "currentUsage", &used) == -1 ||
			    precise(bonus, "usageLimit", &limit) == -1) {
				xsetprintf(cause, "getUsageLimits: bonuses[%zu] "
				    "currentUsage/usageLimit must be non-negative numbers",
				    i);
				return KF_EUPSTREAM;
			}
			u->used += used;
			u->limit += limit;
		}
	}
	return KF_OK;
}

enum kf_err
usage_parse(const char *body, size_t len, time_t now, struct usage *u,
    char **cause)
{
	json_object	*root = NULL, *sub, *info, *list, *b;
	const char	*s;
	double		 reset;
	enum kf_err	 er = KF_EUPSTREAM;
	char		*why = NULL;

	memset(u, 0, sizeof(*u));
	if (json_parse(body, len, 32, &root, &why) != KF_OK ||
	    !json_object_is_type(root, json_type_object)) {
		xsetprintf(cause, "getUsageLimits answered something that is "
		    "not a JSON object%s%s", why != NULL ? ": " : "",
		    why != NULL ? why : "");
		goto out;
	}
	if (json_get_obj(root, "subscriptionInfo", &sub) == -1 ||
	    json_get_obj(root, "userInfo", &info) == -1 ||
	    json_get_arr(root, "usageBreakdownList", &list) == -1) {
		xsetprintf(cause, "getUsageLimits: subscriptionInfo, userInfo "
		    "and usageBreakdownList must be an object, an object and "
		    "an array");
		goto out;
	}
	if (json_get_obj(root, "subscriptionInfo", &sub) == 1 &&
	    json_get_str(sub, "subscriptionTitle", &s) == 1 && *s != '\0')
		u->subscription = xstrdup(s);
	if (json_get_obj(root, "userInfo", &info) == 1 &&
	    json_get_str(info, "email", &s) == 1 && *s != '\0')
		u->email = xstrdup(s);
	if (get_number(root, "nextDateReset", &reset) == 1 && reset > 0 &&
	    reset < USAGE_MAX_TIME)
		u->next_reset = (time_t)reset;
	if (json_get_arr(root, "usageBreakdownList", &list) == 1 &&
	    (b = pick_breakdown(list)) != NULL &&
	    (er = add_breakdown(b, u, cause)) != KF_OK)
		goto out;
	if (!isfinite(u->used) || !isfinite(u->limit)) {
		xsetprintf(cause, "getUsageLimits: usage beyond any real count");
		er = KF_EUPSTREAM;
		goto out;
	}
	u->remaining = u->limit > u->used ? u->limit - u->used : 0;
	u->percentage = u->limit > 0 ? u->used / u->limit * 100 : 0;
	if (u->percentage > 100)
		u->percentage = 100;
	u->fetched_at = now;
	er = KF_OK;
out:
	free(why);
	json_object_put(root);
	if (er != KF_OK)
		usage_free(u);
	return er;
}

json_object *
usage_to_json(const struct usage *u)
{
	json_object	*o = json_object_new_object();
	char		 when[CLOCK_RFC3339_LEN];

	json_object_object_add(o, "id", json_object_new_int64(u->id));
	json_object_object_add(o, "subscriptionTitle",
	    u->subscription != NULL ? json_str(u->subscription) : NULL);
	json_object_object_add(o, "currentUsage",
	    json_object_new_double(u->used));
	json_object_object_add(o, "usageLimit",
	    json_object_new_double(u->limit));
	json_object_object_add(o, "remaining",
	    json_object_new_double(u->remaining));
	json_object_object_add(o, "usagePercentage",
	    json_object_new_double(u->percentage));
	json_object_object_add(o, "nextResetAt", u->next_reset != 0 ?
	    json_object_new_int64(u->next_reset) : NULL);
	json_object_object_add(o, "nextReset", u->next_reset != 0 ?
	    json_str(clock_rfc3339(u->next_reset, when)) : NULL);
	json_object_object_add(o, "email",
	    u->email != NULL ? json_str(u->email) : NULL);
	json_object_object_add(o, "fetchedAt",
	    json_object_new_int64(u->fetched_at));
	return o;
}

enum kf_err
usage_from_json(json_object *o, struct usage *u, char **cause)
{
	const char	*s;
	int64_t		 n;

	memset(u, 0, sizeof(*u));
	if (!json_object_is_type(o, json_type_object) ||
	    get_number(o, "currentUsage", &u->used) != 1 ||
	    get_number(o, "usageLimit", &u->limit) != 1 ||
	    get_number(o, "remaining", &u->remaining) != 1 ||
	    get_number(o, "usagePercentage", &u->percentage) != 1 ||
	    json_get_int(o, "fetchedAt", &n) != 1) {
		xsetprintf(cause, "the cached usage record is corrupt");
		usage_free(u);
		return KF_ESTORE;
	}
	u->fetched_at = (time_t)n;
	if (json_get_int(o, "id", &n) == 1)
		u->id = (long)n;
	if (json_get_int(o, "nextResetAt", &n) == 1)
		u->next_reset = (time_t)n;
	if (json_get_str(o, "subscriptionTitle", &s) == 1)
		u->subscription = xstrdup(s);
	if (json_get_str(o, "email", &s) == 1)
		u->email = xstrdup(s);
	return KF_OK;
}

enum kf_err
usage_fetch(struct http *h, const struct config *cfg, const struct cred *c,
    enum api_host host, struct usage *out, char **cause)
{
	struct upstream_api_req	 call;
	struct http_resp	 resp;
	struct buf		 url = BUF_INIT;
	enum upstream_verdict	 verdict = UV_OK;
	char			*base;
	enum kf_err		 er;

	memset(out, 0, sizeof(*out));
	base = config_url(upstream_base_url(cfg, host),
	    cred_api_region(c, cfg), "/getUsageLimits");
	buf_puts(&url, base);
	buf_puts(&url, "?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST"
	    "&isEmailRequired=true");
	/* Social logins name their profile; IdC ones must not (§2.3). */
	if (c->profile_arn != NULL && c->auth_method == CRED_AUTH_SOCIAL) {
		buf_puts(&url, "&profileArn=");
		http_query_escape(&url, c->profile_arn);
	}
	memset(&call, 0, sizeof(call));
	call.op = "getUsageLimits";
	call.url = buf_cstr(&url);
	call.timeout_ms = USAGE_TIMEOUT_MS;
	call.max_body = USAGE_MAX_BODY;
	er = upstream_api(h, cfg, c, &call, &resp, &verdict, cause);
	if (er == KF_OK)
		er = usage_parse(resp.body.ptr, resp.body.len, clock_now(),
		    out, cause);
	else if (verdict != UV_OK) {
		/* Any 402 from the quota endpoint itself means the quota. */
		switch (resp.status == 402 ? UV_QUOTA : verdict) {
		case UV_QUOTA:
			er = KF_EQUOTA;
			break;
		case UV_SUSPENDED:
			er = KF_ESUSPENDED;
			break;
		case UV_UNAUTHORIZED:
		case UV_BEARER_INVALID:
			er = KF_EAUTH;
			break;
		case UV_THROTTLED:
			er = KF_ERATE;
			break;
		default:
			er = KF_EUPSTREAM;
		}
	}
	http_resp_free(&resp);
	free(base);
	buf_free(&url);
	return er;
}

static enum kf_err
cache_read(struct store *st, long id, struct usage *u)
{
	struct store_txn	*txn = NULL;
	struct buf		 raw = BUF_INIT;
	json_object		*o = NULL;
	char			 key[64];
	enum kf_err		 er;

	snprintf(key, sizeof(key), "usage/%ld", id);
	if ((er = store_begin(st, STORE_READ, &txn, NULL)) != KF_OK)
		return er;
	er = store_get(txn, key, &raw);
	store_end(txn, NULL);
	if (er == KF_OK) {
		if (json_parse(raw.ptr, raw.len, 8, &o, NULL) == KF_OK)
			er = usage_from_json(o, u, NULL);
		else
			er = KF_ESTORE;
	}
	json_object_put(o);
	buf_free(&raw);
	return er;
}

enum kf_err
usage_cached(struct store *st, long id, struct usage *out)
{
	enum kf_err	er;

	memset(out, 0, sizeof(*out));
	if ((er = cache_read(st, id, out)) == KF_OK)
		out->id = id;
	return er;
}

/* Caches u and notes the plan (and a missing email) on the account. */
static enum kf_err
cache_write(struct store *st, long id, const struct usage *u, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	struct buf		 raw = BUF_INIT;
	json_object		*o;
	char			 key[64];
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) != KF_OK)
		goto out;
	o = usage_to_json(u);
	json_to_buf(o, &raw);
	json_object_put(o);
	snprintf(key, sizeof(key), "usage/%ld", id);
	if ((er = store_put(txn, key, raw.ptr, raw.len)) != KF_OK)
		xsetprintf(cause, "cannot write %s to the state file", key);
	if (er == KF_OK && u->subscription != NULL &&
	    (a.state.subscription == NULL ||
	    strcmp(a.state.subscription, u->subscription) != 0)) {
		free(a.state.subscription);
		a.state.subscription = xstrdup(u->subscription);
		er = accounts_txn_save_state(txn, id, &a.state, cause);
	}
	if (er == KF_OK && u->email != NULL && a.cred.email == NULL) {
		a.cred.email = xstrdup(u->email);
		er = accounts_txn_save_cred(txn, &a.cred, cause);
	}
	account_free(&a);
out:
	buf_free(&raw);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

/* Tells the pool what a quota or suspension answer means. */
static void
report(struct store *st, const struct config *cfg, long id, enum kf_err er,
    const char *why)
{
	struct account	 a;
	char		*why2 = NULL;

	if (er != KF_EQUOTA && er != KF_ESUSPENDED)
		return;
	if (accounts_get(st, id, &a, NULL) != KF_OK)
		return;
	if (pool_report(st, cfg, &a, er == KF_EQUOTA ? POOL_QUOTA :
	    POOL_SUSPENDED, why, &why2) != KF_OK)
		log_warnx("account %ld: %s", id, why2);
	free(why2);
	account_free(&a);
}

/* The host that serves account id's inference serves its usage too. */
static enum kf_err
usage_route(struct store *st, const struct config *cfg, long id,
    struct upstream_route *route, char **cause)
{
	struct account	a;
	enum kf_err	er;

	if ((er = accounts_get(st, id, &a, cause)) != KF_OK)
		return er;
	account_route(&a, cfg, route);
	account_free(&a);
	return KF_OK;
}

enum kf_err
usage_get(struct store *st, struct http *h, const struct config *cfg,
    long id, int force, struct usage *out, int *cached, char **cause)
{
	struct cred		 c;
	struct upstream_route	 route;
	char			*why = NULL, *failed = NULL;
	enum kf_err		 er;

	memset(out, 0, sizeof(*out));
	if (cached != NULL)
		*cached = 0;
	if (!force && cache_read(st, id, out) == KF_OK) {
		if (out->fetched_at + USAGE_CACHE_SECONDS > clock_now() &&
		    out->fetched_at <= clock_now()) {
			out->id = id;
			if (cached != NULL)
				*cached = 1;
			return KF_OK;
		}
		usage_free(out);
	}
	if ((er = usage_route(st, cfg, id, &route, cause)) != KF_OK)
		return er;
	if ((er = refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST, NULL,
	    &c, cause)) != KF_OK)
		return er;
	er = usage_fetch(h, cfg, &c, route.host, out, &why);
	if (er == KF_EAUTH && (c.auth_method == CRED_AUTH_API_KEY ||
	    c.access_token != NULL)) {
		/*
		 * The token was revoked early: refresh once and retry.  A
		 * refused API key instead puts its account out of service.
		 */
		failed = xstrdup(c.auth_method == CRED_AUTH_API_KEY ?
		    "" : c.access_token);
		cred_free(&c);
		free(why);
		why = NULL;
		if ((er = refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST,
		    failed, &c, cause)) != KF_OK)
			goto out;
		er = usage_fetch(h, cfg, &c, route.host, out, &why);
	}
	if (er != KF_OK) {
		report(st, cfg, id, er, why);
		xsetprintf(cause, "account %ld: %s", id, why);
		goto out;
	}
	out->id = id;
	er = cache_write(st, id, out, cause);
out:
	if (er != KF_OK)
		usage_free(out);
	if (failed != NULL)
		explicit_bzero(failed, strlen(failed));
	free(failed);
	free(why);
	cred_free(&c);
	return er;
}

struct cached_all {
	struct usage	*list;
	size_t		 n;
};

static int
cached_one(void *arg, const char *key, const char *val, size_t len)
{
	struct cached_all	*all = arg;
	struct usage		 u;
	json_object		*o = NULL;
	char			*end;
	long			 id;

	errno = 0;
	id = strtol(key + strlen("usage/"), &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
		return 0;
	if (json_parse(val, len, 8, &o, NULL) == KF_OK &&
	    usage_from_json(o, &u, NULL) == KF_OK) {
		u.id = id;
		all->list = xreallocarray(all->list, all->n + 1,
		    sizeof(*all->list));
		all->list[all->n++] = u;
	}
	json_object_put(o);
	return 0;
}

enum kf_err
usage_cached_all(struct store *st, struct usage **out, size_t *n,
    char **cause)
{
	struct store_txn	*txn = NULL;
	struct cached_all	 all = { NULL, 0 };
	enum kf_err		 er;

	*out = NULL;
	*n = 0;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = store_each(txn, "usage/", cached_one, &all);
	store_end(txn, NULL);
	*out = all.list;
	*n = all.n;
	return er;
}
