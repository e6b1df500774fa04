/* admin.c: the admin API (/api/admin/...): accounts, usage and settings. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "accounts.h"
#include "admin.h"
#include "admin-login.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "digest.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "refresh.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "settings.h"
#include "usage.h"
#include "xmalloc.h"

#define ADMIN_PREFIX	"/api/admin"
#define ADMIN_JSON_DEPTH	32
#define ADMIN_ID_MAX	1000000000L
#define ADMIN_PRIORITY_MAX	1000000000L

/* What a handler gets: the request, and what the route matched. */
struct admin_call {
	const struct app	*app;
	struct request		*req;
	struct store		*store;
	const struct config	*cfg;
	long			 id;	/* {id}; 0 when none */
	json_object		*body;	/* the JSON object, or NULL */
};

typedef void (*admin_fn)(struct admin_call *);

enum admin_body {
	BODY_NONE,		/* any body is ignored */
	BODY_OBJECT,		/* a JSON object, ADMIN_MAX_BODY */
	BODY_IMPORT,		/* credentials, ADMIN_MAX_IMPORT_BODY */
};

struct admin_route {
	const char	*method;
	const char	*pattern;	/* "{id}" stands for an account id */
	enum admin_body	 body;
	admin_fn	 fn;
};

/* Admin error types and their statuses (kiro-protocol.md §9.2, and ours). */
enum admin_err {
	AE_INVALID,		/* 400 */
	AE_AUTH,		/* 401 */
	AE_PERMISSION,		/* 403 */
	AE_NOT_FOUND,		/* 404 */
	AE_METHOD,		/* 405 */
	AE_CONFLICT,		/* 409 */
	AE_TOO_LARGE,		/* 413 */
	AE_INTERNAL,		/* 500 */
	AE_UPSTREAM,		/* 502 */
	AE__MAX
};

static const struct {
	int		 status;
	const char	*type;
} admin_errs[AE__MAX] = {
	{ 400, "invalid_request" },
	{ 401, "authentication_error" },
	{ 403, "permission_error" },
	{ 404, "not_found" },
	{ 405, "invalid_request" },
	{ 409, "conflict" },
	{ 413, "invalid_request" },
	{ 500, "internal_error" },
	{ 502, "api_error" },
};

/* A new JSON string from a format (one reference). */
static json_object * __attribute__((format(printf, 1, 2)))
str_printf(const char *fmt, ...)
{
	json_object	*o;
	va_list		 ap;
	char		*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	o = json_str(s != NULL ? s : "");
	free(s);
	return o;
}

static void
reply(struct request *req, int status, json_object *o, const char *extra)
{
	struct buf	b = BUF_INIT;

	json_to_buf(o, &b);
	(void)out_response(&req->out, status, "application/json", extra,
	    b.ptr, b.len);
	buf_free(&b);
}

static void __attribute__((format(printf, 3, 4)))
reply_error(struct request *req, enum admin_err ae, const char *fmt, ...)
{
	json_object	*o, *e;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	e = json_object_new_object();
	json_object_object_add(e, "type", json_str(admin_errs[ae].type));
	json_object_object_add(e, "message", json_str(msg != NULL ? msg :
	    "out of memory"));
	o = json_object_new_object();
	json_object_object_add(o, "error", e);
	reply(req, admin_errs[ae].status, o, NULL);
	json_object_put(o);
	free(msg);
}

/* The admin error for a failed shared call. */
static enum admin_err
err_of(enum kf_err er)
{
	switch (er) {
	case KF_EINVAL:
		return AE_INVALID;
	case KF_ENOTFOUND:
		return AE_NOT_FOUND;
	case KF_EAUTH:
	case KF_ERATE:
	case KF_EOVERLOADED:
	case KF_EUPSTREAM:
	case KF_ETIMEOUT:
	case KF_EQUOTA:
	case KF_ESUSPENDED:
	case KF_ELOGIN:
		return AE_UPSTREAM;
	default:
		return AE_INTERNAL;
	}
}

static void
reply_failure(struct request *req, enum kf_err er, const char *why)
{
	reply_error(req, err_of(er), "%s", why != NULL ? why :
	    kf_strerror(er));
}

/* {"success":true,"message":...}: kiro.rs's answer to an action. */
static void __attribute__((format(printf, 2, 3)))
reply_success(struct request *req, const char *fmt, ...)
{
	json_object	*o;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message", json_str(msg != NULL ? msg :
	    "done"));
	reply(req, 200, o, NULL);
	json_object_put(o);
	free(msg);
}

static json_object *
time_or_null(time_t t)
{
	char	when[CLOCK_RFC3339_LEN];

	return t != 0 ? json_str(clock_rfc3339(t, when)) : NULL;
}

static json_object *
hash_or_null(const char *secret)
{
	char	hex[SHA256_HEX_LEN + 1];

	if (secret == NULL)
		return NULL;
	sha256_hex(secret, strlen(secret), hex);
	return json_str(hex);
}

/* One entry of GET /credentials: kiro.rs's fields, then ours. */
static json_object *
credential_json(const struct account *a, const struct config *cfg,
    long current_id, time_t now)
{
	const struct cred	*c = &a->cred;
	struct upstream_route	 route;
	json_object		*o;
	char			 masked[LOG_MASK_LEN], *shown;
	int			 proxy;

	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(c->id));
	json_object_object_add(o, "priority",
	    json_object_new_int64(c->priority));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(a->state.disabled != ACCOUNT_OK));
	json_object_object_add(o, "failureCount",
	    json_object_new_int64(a->state.failures));
	json_object_object_add(o, "isCurrent",
	    json_object_new_boolean(c->id == current_id));
	json_object_object_add(o, "expiresAt", time_or_null(c->expires_at));
	json_object_object_add(o, "authMethod",
	    json_str(cred_auth_name(c->auth_method)));
	json_object_object_add(o, "hasProfileArn",
	    json_object_new_boolean(c->profile_arn != NULL));
	json_object_object_add(o, "refreshTokenHash",
	    hash_or_null(c->refresh_token));
	json_object_object_add(o, "apiKeyHash", hash_or_null(c->kiro_api_key));
	json_object_object_add(o, "maskedApiKey", c->kiro_api_key != NULL ?
	    json_str(log_mask(c->kiro_api_key, masked)) : NULL);
	json_object_object_add(o, "email",
	    c->email != NULL ? json_str(c->email) : NULL);
	json_object_object_add(o, "successCount",
	    json_object_new_int64(a->state.success_count));
	json_object_object_add(o, "lastUsedAt",
	    time_or_null(a->state.last_used));
	proxy = c->proxy_url != NULL && strcmp(c->proxy_url, "direct") != 0;
	json_object_object_add(o, "hasProxy", json_object_new_boolean(proxy));
	if (c->proxy_url != NULL) {
		shown = cred_public_url(c->proxy_url);
		json_object_object_add(o, "proxyUrl", json_str(shown));
		free(shown);
	}
	json_object_object_add(o, "refreshFailureCount",
	    json_object_new_int64(a->state.refresh_failures));
	if (a->state.disabled != ACCOUNT_OK)
		json_object_object_add(o, "disabledReason",
		    json_str(account_reason_name(a->state.disabled)));
	account_route(a, cfg, &route);
	json_object_object_add(o, "endpoint",
	    json_str(config_api_host_name(route.host)));
	/* Ours. */
	json_object_object_add(o, "state",
	    json_str(account_state_word(a, now)));
	json_object_object_add(o, "subscriptionTitle",
	    a->state.subscription != NULL ? json_str(a->state.subscription) :
	    NULL);
	json_object_object_add(o, "cooldownUntil",
	    a->state.cooldown_until > now ?
	    time_or_null(a->state.cooldown_until) : NULL);
	json_object_object_add(o, "lastError", a->state.last_error != NULL ?
	    json_str(a->state.last_error) : NULL);
	return o;
}

/* GET /credentials */
static void
list_credentials(struct admin_call *call)
{
	struct account	*accts = NULL;
	json_object	*o, *arr;
	size_t		 n = 0, i, available = 0;
	char		*why = NULL;
	time_t		 now = clock_now(), last = 0;
	long		 current = 0;
	enum kf_err	 er;

	if ((er = accounts_list(call->store, &accts, &n, &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	/* kiro.rs's "current": here, the account that served last. */
	for (i = 0; i < n; i++) {
		available += account_usable(&accts[i], now);
		if (accts[i].state.last_used > last) {
			last = accts[i].state.last_used;
			current = accts[i].cred.id;
		}
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, credential_json(&accts[i],
		    call->cfg, current, now));
	o = json_object_new_object();
	json_object_object_add(o, "total", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "available",
	    json_object_new_int64((int64_t)available));
	json_object_object_add(o, "currentId", json_object_new_int64(current));
	json_object_object_add(o, "credentials", arr);
	reply(call->req, 200, o, NULL);
	json_object_put(o);
	accounts_free(accts, n);
}

/*
 * Parses and validates credentials (cred_parse_import: the same reader as
 * kiroctl accounts import, which drops source and write-back keys) and
 * adds them; results has n entries.  On failure the answer is sent.
 */
static int
import_creds(struct admin_call *call, const char *text, size_t len,
    struct cred **creds, size_t *n, struct import_result **results)
{
	char		*why = NULL;
	size_t		 i;
	enum kf_err	 er;

	*results = NULL;
	if ((er = cred_parse_import(text, len, creds, n, &why)) != KF_OK) {
		reply_error(call->req, AE_INVALID, "%s", why);
		free(why);
		return -1;
	}
	if (*n > ADMIN_MAX_IMPORT) {
		reply_error(call->req, AE_INVALID, "%zu credentials: at most "
		    "%d in one import", *n, ADMIN_MAX_IMPORT);
		return -1;
	}
	for (i = 0; i < *n; i++) {
		free((*creds)[i].source);
		(*creds)[i].source = xstrdup("admin");
	}
	*results = xcalloc(*n, sizeof(**results));
	if ((er = accounts_import(call->store, *creds, *n, *results,
	    &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return -1;
	}
	return 0;
}

/* POST /credentials: one kiro.rs credential object. */
static void
add_credential(struct admin_call *call)
{
	struct cred		*creds = NULL;
	struct import_result	*results = NULL;
	struct request		*req = call->req;
	json_object		*o;
	size_t			 n = 0;

	if (import_creds(call, req->body.ptr, req->body.len, &creds, &n,
	    &results) == -1)
		goto out;
	if (results[0].duplicate) {
		reply_error(req, AE_CONFLICT, "this credential (the same "
		    "refresh token or key) is already account %ld",
		    results[0].id);
		goto out;
	}
	log_info("admin: account %ld added", results[0].id);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message",
	    str_printf("credential added, ID: %ld", results[0].id));
	json_object_object_add(o, "credentialId",
	    json_object_new_int64(results[0].id));
	if (creds[0].email != NULL)
		json_object_object_add(o, "email", json_str(creds[0].email));
	reply(req, 200, o, NULL);
	json_object_put(o);
out:
	free(results);
	cred_free_array(creds, n);
}

/* POST /credentials/import: a kiro.rs credentials document. */
static void
import_credentials(struct admin_call *call)
{
	struct cred		*creds = NULL;
	struct import_result	*results = NULL;
	struct request		*req = call->req;
	json_object		*o, *arr, *e;
	size_t			 n = 0, i, added = 0;

	if (import_creds(call, req->body.ptr, req->body.len, &creds, &n,
	    &results) == -1)
		goto out;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "index",
		    json_object_new_int64((int64_t)i));
		json_object_object_add(e, "id",
		    json_object_new_int64(results[i].id));
		json_object_object_add(e, "duplicate",
		    json_object_new_boolean(results[i].duplicate));
		json_object_array_add(arr, e);
		added += !results[i].duplicate;
	}
	log_info("admin: import of %zu credentials: %zu added", n, added);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message", str_printf("%zu added, "
	    "%zu already present", added, n - added));
	json_object_object_add(o, "added", json_object_new_int64(
	    (int64_t)added));
	json_object_object_add(o, "duplicates",
	    json_object_new_int64((int64_t)(n - added)));
	json_object_object_add(o, "credentials", arr);
	reply(req, 200, o, NULL);
	json_object_put(o);
out:
	free(results);
	cred_free_array(creds, n);
}

/* Loads account call->id; on failure the answer is sent. */
static int
load_account(struct admin_call *call, struct account *a)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = accounts_get(call->store, call->id, a, &why)) != KF_OK) {
		if (er == KF_ENOTFOUND)
			reply_error(call->req, AE_NOT_FOUND, "no account %ld",
			    call->id);
		else
			reply_failure(call->req, er, why);
		free(why);
		return -1;
	}
	return 0;
}

/* DELETE /credentials/{id}: only an account out of service (kiro.rs). */
static void
delete_credential(struct admin_call *call)
{
	char		*why = NULL;
	enum kf_err	 er;

	er = accounts_remove_disabled(call->store, call->id, &why);
	if (er == KF_EPERM)
		reply_error(call->req, AE_CONFLICT, "account %ld is in "
		    "service: disable it first (POST credentials/%ld/disabled "
		    "{\"disabled\":true})", call->id, call->id);
	else if (er == KF_ENOTFOUND)
		reply_error(call->req, AE_NOT_FOUND, "no account %ld",
		    call->id);
	else if (er != KF_OK)
		reply_failure(call->req, er, why);
	else {
		log_info("admin: account %ld removed", call->id);
		reply_success(call->req, "credential %ld deleted", call->id);
	}
	free(why);
}

/* POST /credentials/{id}/disabled {"disabled":bool} */
static void
set_disabled(struct admin_call *call)
{
	char		*why = NULL;
	int		 disabled;
	enum kf_err	 er;

	if (json_get_bool(call->body, "disabled", &disabled) != 1) {
		reply_error(call->req, AE_INVALID, "field \"disabled\" must be "
		    "true or false");
		return;
	}
	er = disabled ? pool_disable(call->store, call->id,
	    "disabled through the admin API", &why) :
	    pool_enable(call->store, call->id, &why);
	if (er != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: account %ld %s", call->id, disabled ? "disabled" :
	    "enabled");
	reply_success(call->req, "credential %ld %s", call->id, disabled ?
	    "disabled" : "enabled");
}

/* POST /credentials/{id}/priority {"priority":n} */
static void
set_priority(struct admin_call *call)
{
	char		*why = NULL;
	int64_t		 priority;
	enum kf_err	 er;

	if (json_get_int(call->body, "priority", &priority) != 1 ||
	    priority < 0 || priority > ADMIN_PRIORITY_MAX) {
		reply_error(call->req, AE_INVALID, "field \"priority\" must be "
		    "an integer from 0 to %ld (lower is preferred)",
		    ADMIN_PRIORITY_MAX);
		return;
	}
	if ((er = accounts_set_priority(call->store, call->id, (long)priority,
	    &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: account %ld priority %lld", call->id,
	    (long long)priority);
	reply_success(call->req, "credential %ld priority set to %lld",
	    call->id, (long long)priority);
}

/* POST /credentials/{id}/reset */
static void
reset_credential(struct admin_call *call)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = pool_reset(call->store, call->id, &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: account %ld reset", call->id);
	reply_success(call->req, "credential %ld reset: no failures, no "
	    "cooldown, enabled", call->id);
}

/* POST /credentials/{id}/refresh: a refresh now, whatever the expiry. */
static void
refresh_credential(struct admin_call *call)
{
	struct account	 a;
	struct cred	 fresh;
	json_object	*o;
	char		*why = NULL;
	enum kf_err	 er;

	if (load_account(call, &a) == -1)
		return;
	if (a.cred.auth_method == CRED_AUTH_API_KEY) {
		reply_error(call->req, AE_INVALID, "account %ld uses a Kiro "
		    "API key: there is no token to refresh", call->id);
		account_free(&a);
		return;
	}
	/* A "refused" token forces the refresh (refresh.h). */
	er = refresh_ensure(call->store, call->req->relay->http, call->cfg,
	    call->id, REFRESH_AHEAD_CRON, a.cred.access_token != NULL ?
	    a.cred.access_token : "", &fresh, &why);
	account_free(&a);
	if (er != KF_OK) {
		log_warnx("admin: account %ld: refresh failed: %s", call->id,
		    why != NULL ? why : kf_strerror(er));
		reply_error(call->req, err_of(er), "account %ld: refresh "
		    "failed: %s", call->id, why != NULL ? why :
		    kf_strerror(er));
		free(why);
		return;
	}
	log_info("admin: account %ld refreshed", call->id);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message", str_printf("credential %ld "
	    "refreshed", call->id));
	json_object_object_add(o, "expiresAt", time_or_null(fresh.expires_at));
	reply(call->req, 200, o, NULL);
	json_object_put(o);
	cred_free(&fresh);
}

/* GET /credentials/{id}/balance: usage_get, cached 5 minutes. */
static void
balance(struct admin_call *call)
{
	struct usage	 u;
	json_object	*o;
	char		*why = NULL;
	int		 cached = 0;
	enum kf_err	 er;

	if ((er = usage_get(call->store, call->req->relay->http, call->cfg,
	    call->id, 0, &u, &cached, &why)) != KF_OK) {
		reply_error(call->req, err_of(er), "account %ld: %s", call->id,
		    why != NULL ? why : kf_strerror(er));
		free(why);
		return;
	}
	o = usage_to_json(&u);
	json_object_object_add(o, "cached", json_object_new_boolean(cached));
	reply(call->req, 200, o, NULL);
	json_object_put(o);
	usage_free(&u);
}

/* GET /accounts/{id}/history */
static void
history(struct admin_call *call)
{
	json_object	*h = NULL, *o;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = pool_history(call->store, call->id, &h, &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(call->id));
	json_object_object_add(o, "history", h);
	reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* GET /usage: every account's cached usage; Kiro is not asked. */
static void
usage_all(struct admin_call *call)
{
	struct account	*accts = NULL;
	struct usage	 u;
	json_object	*o, *arr, *e;
	size_t		 n = 0, i;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = accounts_list(call->store, &accts, &n, &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "id",
		    json_object_new_int64(accts[i].cred.id));
		json_object_object_add(e, "email", accts[i].cred.email != NULL ?
		    json_str(accts[i].cred.email) : NULL);
		if (usage_cached(call->store, accts[i].cred.id, &u) == KF_OK) {
			json_object_object_add(e, "usage", usage_to_json(&u));
			usage_free(&u);
		} else
			json_object_object_add(e, "usage", NULL);
		json_object_array_add(arr, e);
	}
	o = json_object_new_object();
	json_object_object_add(o, "accounts", arr);
	reply(call->req, 200, o, NULL);
	json_object_put(o);
	accounts_free(accts, n);
}

/* The configuration as the pool sees it now; on failure it answers. */
static int
effective(struct admin_call *call, struct config *eff)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = settings_effective(call->store, call->cfg, eff, &why)) !=
	    KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return -1;
	}
	return 0;
}

static void
reply_lb(struct admin_call *call)
{
	struct config	 eff;
	json_object	*o;

	if (effective(call, &eff) == -1)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "mode",
	    json_str(config_lb_mode_name(eff.load_balancing_mode)));
	reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* GET /config/load-balancing */
static void
get_lb(struct admin_call *call)
{
	reply_lb(call);
}

/* PUT /config/load-balancing {"mode":...}: stored, wins over config.json. */
static void
put_lb(struct admin_call *call)
{
	const char	*mode;
	enum lb_mode	 lb;
	char		*why = NULL;
	enum kf_err	 er;

	if (json_get_str(call->body, "mode", &mode) != 1 ||
	    settings_lb_mode_parse(mode, &lb) == -1) {
		reply_error(call->req, AE_INVALID, "field \"mode\" must be "
		    "\"priority\", \"balanced\" or \"round-robin\"");
		return;
	}
	if ((er = settings_put_str(call->store, SETTING_LB_MODE,
	    config_lb_mode_name(lb), &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: loadBalancingMode set to %s", config_lb_mode_name(lb));
	reply_lb(call);
}

static void
reply_sticky(struct admin_call *call)
{
	struct config	 eff;
	json_object	*o;

	if (effective(call, &eff) == -1)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "stickySeconds",
	    json_object_new_int64(eff.sticky_seconds));
	reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* GET /config/sticky-seconds */
static void
get_sticky(struct admin_call *call)
{
	reply_sticky(call);
}

/* PUT /config/sticky-seconds {"stickySeconds":n}: 0 turns it off. */
static void
put_sticky(struct admin_call *call)
{
	int64_t		 seconds;
	char		*why = NULL;
	enum kf_err	 er;

	if (json_get_int(call->body, "stickySeconds", &seconds) != 1 ||
	    seconds < 0 || seconds > SETTINGS_STICKY_MAX) {
		reply_error(call->req, AE_INVALID, "field \"stickySeconds\" "
		    "must be an integer from 0 to %ld (0: no stickiness)",
		    SETTINGS_STICKY_MAX);
		return;
	}
	if ((er = settings_put_int(call->store, SETTING_STICKY_SECONDS,
	    (long)seconds, &why)) != KF_OK) {
		reply_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: stickySeconds set to %lld", (long long)seconds);
	reply_sticky(call);
}

static const struct {
	const char	*field;		/* in the body and answer */
	const char	*setting;
	size_t		 offset;	/* in struct rate_limits */
} limit_fields[] = {
	{ "minIntervalMs", SETTING_MIN_INTERVAL,
	    offsetof(struct rate_limits, min_interval_ms) },
	{ "perAccountRpm", SETTING_ACCOUNT_RPM,
	    offsetof(struct rate_limits, per_account_rpm) },
	{ "globalRpm", SETTING_GLOBAL_RPM,
	    offsetof(struct rate_limits, global_rpm) },
};
#define N_LIMIT_FIELDS	(sizeof(limit_fields) / sizeof(limit_fields[0]))

static void
reply_limits(struct admin_call *call)
{
	struct config	 eff;
	json_object	*o;
	size_t		 i;

	if (effective(call, &eff) == -1)
		return;
	o = json_object_new_object();
	for (i = 0; i < N_LIMIT_FIELDS; i++)
		json_object_object_add(o, limit_fields[i].field,
		    json_object_new_int64(*(const long *)(const void *)
		    ((const char *)&eff.rate_limits + limit_fields[i].offset)));
	reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* GET /config/rate-limits */
static void
get_limits(struct admin_call *call)
{
	reply_limits(call);
}

/*
 * PUT /config/rate-limits: any of the three fields; each given is stored
 * (0 turns that limit off), the others keep their source.  Every field is
 * checked before anything is stored.
 */
static void
put_limits(struct admin_call *call)
{
	int64_t		 v[N_LIMIT_FIELDS];
	int		 given[N_LIMIT_FIELDS], any = 0, got;
	char		*why = NULL;
	size_t		 i;
	enum kf_err	 er;

	for (i = 0; i < N_LIMIT_FIELDS; i++) {
		got = json_get_int(call->body, limit_fields[i].field, &v[i]);
		if (got == -1 || (got == 1 && (v[i] < 0 ||
		    v[i] > SETTINGS_LIMIT_MAX))) {
			reply_error(call->req, AE_INVALID, "field \"%s\" must "
			    "be an integer from 0 to %ld (0: no limit)",
			    limit_fields[i].field, SETTINGS_LIMIT_MAX);
			return;
		}
		given[i] = got == 1;
		any |= given[i];
	}
	if (!any) {
		reply_error(call->req, AE_INVALID, "give at least one of "
		    "\"minIntervalMs\", \"perAccountRpm\", \"globalRpm\"");
		return;
	}
	for (i = 0; i < N_LIMIT_FIELDS; i++) {
		if (!given[i])
			continue;
		if ((er = settings_put_int(call->store,
		    limit_fields[i].setting, (long)v[i], &why)) != KF_OK) {
			reply_failure(call->req, er, why);
			free(why);
			return;
		}
		log_info("admin: %s set to %lld", limit_fields[i].setting,
		    (long long)v[i]);
	}
	reply_limits(call);
}

/* An answer of admin-login.c: KF_EPERM is too many logins waiting. */
static void
reply_login(struct admin_call *call, enum kf_err er, json_object *o,
    char *why)
{
	if (er == KF_OK)
		reply(call->req, 200, o, NULL);
	else
		reply_error(call->req, er == KF_EPERM ? AE_CONFLICT :
		    err_of(er), "%s", why != NULL ? why : kf_strerror(er));
	json_object_put(o);
	free(why);
}

/* POST /login/builder-id */
static void
login_start(struct admin_call *call)
{
	json_object	*o = NULL;
	char		*why = NULL;
	enum kf_err	 er;

	er = admin_login_start(call->store, call->req->relay->http, call->cfg,
	    &o, &why);
	reply_login(call, er, o, why);
}

/* GET /login/{id} */
static void
login_poll(struct admin_call *call)
{
	json_object	*o = NULL;
	char		*why = NULL;
	enum kf_err	 er;

	er = admin_login_poll(call->store, call->req->relay->http, call->cfg,
	    call->id, &o, &why);
	reply_login(call, er, o, why);
}

/* The API; README.md's "Admin API" table lists the same. */
static const struct admin_route admin_routes[] = {
	{ "GET", "credentials", BODY_NONE, list_credentials },
	{ "POST", "credentials", BODY_OBJECT, add_credential },
	{ "POST", "credentials/import", BODY_IMPORT, import_credentials },
	{ "DELETE", "credentials/{id}", BODY_NONE, delete_credential },
	{ "POST", "credentials/{id}/disabled", BODY_OBJECT, set_disabled },
	{ "POST", "credentials/{id}/priority", BODY_OBJECT, set_priority },
	{ "POST", "credentials/{id}/reset", BODY_NONE, reset_credential },
	{ "POST", "credentials/{id}/refresh", BODY_NONE, refresh_credential },
	{ "GET", "credentials/{id}/balance", BODY_NONE, balance },
	{ "GET", "config/load-balancing", BODY_NONE, get_lb },
	{ "PUT", "config/load-balancing", BODY_OBJECT, put_lb },
	{ "GET", "config/rate-limits", BODY_NONE, get_limits },
	{ "PUT", "config/rate-limits", BODY_OBJECT, put_limits },
	{ "GET", "config/sticky-seconds", BODY_NONE, get_sticky },
	{ "PUT", "config/sticky-seconds", BODY_OBJECT, put_sticky },
	{ "GET", "accounts/{id}/history", BODY_NONE, history },
	{ "GET", "usage", BODY_NONE, usage_all },
	{ "POST", "login/builder-id", BODY_NONE, login_start },
	{ "GET", "login/{id}", BODY_NONE, login_poll },
};
#define N_ADMIN_ROUTES	(sizeof(admin_routes) / sizeof(admin_routes[0]))

/*
 * 1 when rest ("credentials/7/priority") has the pattern's shape; *id_text
 * points at the {id} segment (in rest) and *id_len is its length.
 */
static int
pattern_matches(const char *pattern, const char *rest, const char **id_text,
    size_t *id_len)
{
	const char	*p = pattern, *r = rest, *pe, *re;
	size_t		 plen, rlen;

	for (;;) {
		pe = strchr(p, '/');
		re = strchr(r, '/');
		plen = pe != NULL ? (size_t)(pe - p) : strlen(p);
		rlen = re != NULL ? (size_t)(re - r) : strlen(r);
		if (plen == 4 && strncmp(p, "{id}", 4) == 0) {
			if (rlen == 0)
				return 0;
			*id_text = r;
			*id_len = rlen;
		} else if (plen != rlen || strncmp(p, r, plen) != 0)
			return 0;
		if ((pe == NULL) != (re == NULL))
			return 0;
		if (pe == NULL)
			return 1;
		p = pe + 1;
		r = re + 1;
	}
}

/* An account id in the path: 1 .. ADMIN_ID_MAX, digits only. */
static int
parse_id(const char *text, size_t len, long *out)
{
	size_t	i;
	long	id = 0;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		id = id * 10 + (text[i] - '0');
	}
	if (id < 1 || id > ADMIN_ID_MAX)
		return -1;
	*out = id;
	return 0;
}

int
admin_path(const char *path)
{
	size_t	len = strlen(ADMIN_PREFIX);

	return strncmp(path, ADMIN_PREFIX, len) == 0 &&
	    (path[len] == '\0' || path[len] == '/');
}

/* The admin key given in x-api-key or Authorization: Bearer, or NULL. */
static const char *
given_key(const struct request *req)
{
	const char	*v;

	if ((v = request_param(req, "HTTP_X_API_KEY")) != NULL && *v != '\0')
		return v;
	if ((v = request_param(req, "HTTP_AUTHORIZATION")) != NULL &&
	    strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		if (*v != '\0')
			return v;
	}
	return NULL;
}

/* 0 when the admin key was given; otherwise the answer is sent. */
static int
authorise(const struct config *cfg, struct request *req)
{
	const char	*key = given_key(req);

	/* secret_equal hashes both sides: constant time, any lengths. */
	if (key != NULL && secret_equal(key, cfg->admin_api_key))
		return 0;
	if (key != NULL && cfg->api_key != NULL && *cfg->api_key != '\0' &&
	    secret_equal(key, cfg->api_key)) {
		reply_error(req, AE_PERMISSION, "the client API key cannot use "
		    "the admin API: send adminApiKey");
		return -1;
	}
	reply_error(req, AE_AUTH, "Invalid or missing admin API key");
	return -1;
}

/* "Allow: GET, POST\r\n" for the routes whose pattern fits rest. */
static void
allowed(const char *rest, struct buf *out)
{
	const char	*id_text;
	size_t		 i, n = 0, id_len;

	buf_puts(out, "Allow: ");
	for (i = 0; i < N_ADMIN_ROUTES; i++)
		if (pattern_matches(admin_routes[i].pattern, rest, &id_text,
		    &id_len))
			buf_printf(out, "%s%s", n++ > 0 ? ", " : "",
			    admin_routes[i].method);
	buf_puts(out, "\r\n");
}

static void
method_not_allowed(struct request *req, const char *rest)
{
	struct buf	 allow = BUF_INIT;
	json_object	*o, *e;

	e = json_object_new_object();
	json_object_object_add(e, "type",
	    json_str(admin_errs[AE_METHOD].type));
	json_object_object_add(e, "message", str_printf("method %s is "
	    "not allowed for %s", req->method, req->path));
	o = json_object_new_object();
	json_object_object_add(o, "error", e);
	allowed(rest, &allow);
	reply(req, admin_errs[AE_METHOD].status, o, allow.ptr);
	json_object_put(o);
	buf_free(&allow);
}

/* Reads and parses the body a route takes; on failure it answers. */
static int
read_body(struct admin_call *call, const struct admin_route *r,
    request_read_fn reader, void *stream)
{
	struct request	*req = call->req;
	char		*why = NULL;
	size_t		 max;
	enum kf_err	 er;

	max = r->body == BODY_IMPORT ? ADMIN_MAX_IMPORT_BODY : ADMIN_MAX_BODY;
	if ((er = request_read_body(req, reader, stream, max, &why)) !=
	    KF_OK) {
		reply_error(req, er == KF_ETOOLARGE ? AE_TOO_LARGE :
		    AE_INVALID, "%s", er == KF_ETOOLARGE ? "the request body "
		    "is over the admin API's limit" : why);
		free(why);
		return -1;
	}
	if (req->body.len == 0) {
		reply_error(req, AE_INVALID, "the request needs a JSON body");
		return -1;
	}
	if (r->body == BODY_IMPORT)
		return 0;	/* cred_parse_import reads it */
	if (json_parse(req->body.ptr, req->body.len, ADMIN_JSON_DEPTH,
	    &call->body, &why) != KF_OK) {
		reply_error(req, AE_INVALID, "malformed JSON body: %s", why);
		free(why);
		return -1;
	}
	if (!json_object_is_type(call->body, json_type_object)) {
		reply_error(req, AE_INVALID, "the body must be a JSON object, "
		    "not %s", json_type_label(call->body));
		return -1;
	}
	return 0;
}

void
admin_serve(const struct app *app, struct request *req,
    request_read_fn reader, void *stream)
{
	const struct admin_route	*r = NULL;
	struct admin_call		 call;
	const char			*rest, *id_text = NULL;
	size_t				 i, id_len = 0;
	int				 other_method = 0;

	memset(&call, 0, sizeof(call));
	call.app = app;
	call.req = req;
	call.cfg = app->cfg;
	call.store = app->store;
	if (app->cfg == NULL || app->cfg->admin_api_key == NULL ||
	    *app->cfg->admin_api_key == '\0') {
		reply_error(req, AE_NOT_FOUND, "no route for %s %s (the admin "
		    "API is off: set adminApiKey)", req->method, req->path);
		return;
	}
	/* Every client would be an admin: the API stays off. */
	if (app->cfg->api_key != NULL &&
	    secret_equal(app->cfg->admin_api_key, app->cfg->api_key)) {
		reply_error(req, AE_NOT_FOUND, "no route for %s %s (the admin "
		    "API is off: adminApiKey must differ from apiKey)",
		    req->method, req->path);
		return;
	}
	if (authorise(app->cfg, req) == -1)
		return;
	if (app->startup_error != NULL || app->store == NULL) {
		reply_error(req, AE_INTERNAL, "%s", app->startup_error != NULL ?
		    app->startup_error : "the state directory is not usable");
		return;
	}
	rest = req->path + strlen(ADMIN_PREFIX);
	if (*rest == '/')
		rest++;
	for (i = 0; i < N_ADMIN_ROUTES; i++) {
		if (!pattern_matches(admin_routes[i].pattern, rest, &id_text,
		    &id_len))
			continue;
		if (strcmp(admin_routes[i].method, req->method) == 0) {
			r = &admin_routes[i];
			break;
		}
		other_method = 1;
	}
	if (r == NULL) {
		if (other_method)
			method_not_allowed(req, rest);
		else
			reply_error(req, AE_NOT_FOUND, "no admin route for %s "
			    "%s", req->method, req->path);
		return;
	}
	if (strstr(r->pattern, "{id}") != NULL &&
	    parse_id(id_text, id_len, &call.id) == -1) {
		reply_error(req, AE_INVALID, "\"%.*s\" is not an account id "
		    "(a whole number from 1)", id_len > 32 ? 32 : (int)id_len,
		    id_text);
		return;
	}
	if (r->body != BODY_NONE && read_body(&call, r, reader, stream) == -1)
		goto out;
	r->fn(&call);
out:
	json_object_put(call.body);
	/* The body may have held tokens (a credential being added). */
	if (req->body.ptr != NULL)
		explicit_bzero(req->body.ptr, req->body.len);
}
