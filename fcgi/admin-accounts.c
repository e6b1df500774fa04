/* admin-accounts.c: the admin API's credential routes (doc/protocol.md §9.2). */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "accounts.h"
#include "admin.h"
#include "admin-int.h"
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
#include "usage.h"
#include "xmalloc.h"

#define ADMIN_PRIORITY_MAX	1000000000L

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
void
admin_accounts_list(struct admin_call *call)
{
	struct account	*accts = NULL;
	json_object	*o, *arr;
	size_t		 n = 0, i, available = 0;
	char		*why = NULL;
	time_t		 now = clock_now(), last = 0;
	long		 current = 0;
	enum kf_err	 er;

	if ((er = accounts_list(call->store, &accts, &n, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
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
	admin_reply(call->req, 200, o, NULL);
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
		admin_error(call->req, AE_INVALID, "%s", why);
		free(why);
		return -1;
	}
	if (*n > ADMIN_MAX_IMPORT) {
		admin_error(call->req, AE_INVALID, "%zu credentials: at most "
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
		admin_failure(call->req, er, why);
		free(why);
		return -1;
	}
	return 0;
}

/* POST /credentials: one kiro.rs credential object. */
void
admin_accounts_add(struct admin_call *call)
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
		admin_error(req, AE_CONFLICT, "this credential (the same "
		    "refresh token or key) is already account %ld",
		    results[0].id);
		goto out;
	}
	log_info("admin: account %ld added", results[0].id);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message",
	    admin_str_printf("credential added, ID: %ld", results[0].id));
	json_object_object_add(o, "credentialId",
	    json_object_new_int64(results[0].id));
	if (creds[0].email != NULL)
		json_object_object_add(o, "email", json_str(creds[0].email));
	admin_reply(req, 200, o, NULL);
	json_object_put(o);
out:
	free(results);
	cred_free_array(creds, n);
}

/* POST /credentials/import: a kiro.rs credentials document. */
void
admin_accounts_import(struct admin_call *call)
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
	json_object_object_add(o, "message", admin_str_printf("%zu added, "
	    "%zu already present", added, n - added));
	json_object_object_add(o, "added", json_object_new_int64(
	    (int64_t)added));
	json_object_object_add(o, "duplicates",
	    json_object_new_int64((int64_t)(n - added)));
	json_object_object_add(o, "credentials", arr);
	admin_reply(req, 200, o, NULL);
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
			admin_error(call->req, AE_NOT_FOUND, "no account %ld",
			    call->id);
		else
			admin_failure(call->req, er, why);
		free(why);
		return -1;
	}
	return 0;
}

/* DELETE /credentials/{id}: only an account out of service (kiro.rs). */
void
admin_accounts_delete(struct admin_call *call)
{
	char		*why = NULL;
	enum kf_err	 er;

	er = accounts_remove_disabled(call->store, call->id, &why);
	if (er == KF_EPERM)
		admin_error(call->req, AE_CONFLICT, "account %ld is in "
		    "service: disable it first (POST credentials/%ld/disabled "
		    "{\"disabled\":true})", call->id, call->id);
	else if (er == KF_ENOTFOUND)
		admin_error(call->req, AE_NOT_FOUND, "no account %ld",
		    call->id);
	else if (er != KF_OK)
		admin_failure(call->req, er, why);
	else {
		log_info("admin: account %ld removed", call->id);
		admin_success(call->req, "credential %ld deleted", call->id);
	}
	free(why);
}

/* POST /credentials/{id}/disabled {"disabled":bool} */
void
admin_accounts_disabled(struct admin_call *call)
{
	char		*why = NULL;
	int		 disabled;
	enum kf_err	 er;

	if (json_get_bool(call->body, "disabled", &disabled) != 1) {
		admin_error(call->req, AE_INVALID, "field \"disabled\" must be "
		    "true or false");
		return;
	}
	er = disabled ? pool_disable(call->store, call->id,
	    "disabled through the admin API", &why) :
	    pool_enable(call->store, call->id, &why);
	if (er != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: account %ld %s", call->id, disabled ? "disabled" :
	    "enabled");
	admin_success(call->req, "credential %ld %s", call->id, disabled ?
	    "disabled" : "enabled");
}

/* POST /credentials/{id}/priority {"priority":n} */
void
admin_accounts_priority(struct admin_call *call)
{
	char		*why = NULL;
	int64_t		 priority;
	enum kf_err	 er;

	if (json_get_int(call->body, "priority", &priority) != 1 ||
	    priority < 0 || priority > ADMIN_PRIORITY_MAX) {
		admin_error(call->req, AE_INVALID, "field \"priority\" must be "
		    "an integer from 0 to %ld (lower is preferred)",
		    ADMIN_PRIORITY_MAX);
		return;
	}
	if ((er = accounts_set_priority(call->store, call->id, (long)priority,
	    &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: account %ld priority %lld", call->id,
	    (long long)priority);
	admin_success(call->req, "credential %ld priority set to %lld",
	    call->id, (long long)priority);
}

/* POST /credentials/{id}/reset */
void
admin_accounts_reset(struct admin_call *call)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = pool_reset(call->store, call->id, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: account %ld reset", call->id);
	admin_success(call->req, "credential %ld reset: no failures, no "
	    "cooldown, enabled", call->id);
}

/* POST /credentials/{id}/refresh: a refresh now, whatever the expiry. */
void
admin_accounts_refresh(struct admin_call *call)
{
	struct account	 a;
	struct cred	 fresh;
	json_object	*o;
	char		*why = NULL;
	enum kf_err	 er;

	if (load_account(call, &a) == -1)
		return;
	if (a.cred.auth_method == CRED_AUTH_API_KEY) {
		admin_error(call->req, AE_INVALID, "account %ld uses a Kiro "
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
		admin_error(call->req, admin_err_of(er), "account %ld: refresh "
		    "failed: %s", call->id, why != NULL ? why :
		    kf_strerror(er));
		free(why);
		return;
	}
	log_info("admin: account %ld refreshed", call->id);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message", admin_str_printf("credential %ld "
	    "refreshed", call->id));
	json_object_object_add(o, "expiresAt", time_or_null(fresh.expires_at));
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
	cred_free(&fresh);
}

/* GET /credentials/{id}/balance: usage_get, cached 5 minutes. */
void
admin_accounts_balance(struct admin_call *call)
{
	struct usage	 u;
	json_object	*o;
	char		*why = NULL;
	int		 cached = 0;
	enum kf_err	 er;

	if ((er = usage_get(call->store, call->req->relay->http, call->cfg,
	    call->id, 0, &u, &cached, &why)) != KF_OK) {
		admin_error(call->req, admin_err_of(er), "account %ld: %s",
		    call->id, why != NULL ? why : kf_strerror(er));
		free(why);
		return;
	}
	o = usage_to_json(&u);
	json_object_object_add(o, "cached", json_object_new_boolean(cached));
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
	usage_free(&u);
}

/* GET /accounts/{id}/history */
void
admin_accounts_history(struct admin_call *call)
{
	json_object	*h = NULL, *o;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = accounts_history(call->store, call->id, &h, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(call->id));
	json_object_object_add(o, "history", h);
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* GET /usage: every account's cached usage; Kiro is not asked. */
void
admin_accounts_usage(struct admin_call *call)
{
	struct account	*accts = NULL;
	struct usage	 u;
	json_object	*o, *arr, *e;
	size_t		 n = 0, i;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = accounts_list(call->store, &accts, &n, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
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
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
	accounts_free(accts, n);
}
