/* admin.c: the admin API (/api/admin/...): dispatch, auth and answers. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "admin-int.h"
#include "admin-keys.h"
#include "admin-flows.h"
#include "admin-login.h"
#include "buf.h"
#include "config.h"
#include "digest.h"
#include "json.h"
#include "relay.h"
#include "request.h"
#include "router.h"

#define ADMIN_PREFIX	"/api/admin"
#define ADMIN_JSON_DEPTH	32
#define ADMIN_ID_MAX	1000000000L

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
json_object *
admin_str_printf(const char *fmt, ...)
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

void
admin_reply(struct request *req, int status, json_object *o, const char *extra)
{
	struct buf	b = BUF_INIT;

	json_to_buf(o, &b);
	(void)out_response(&req->out, status, "application/json", extra,
	    b.ptr, b.len);
	buf_free(&b);
}

void
admin_error(struct request *req, enum admin_err ae, const char *fmt, ...)
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
	admin_reply(req, admin_errs[ae].status, o, NULL);
	json_object_put(o);
	free(msg);
}

/* The admin error for a failed shared call. */
enum admin_err
admin_err_of(enum kf_err er)
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

void
admin_failure(struct request *req, enum kf_err er, const char *why)
{
	admin_error(req, admin_err_of(er), "%s", why != NULL ? why :
	    kf_strerror(er));
}

/* {"success":true,"message":...}: kiro.rs's answer to an action. */
void
admin_success(struct request *req, const char *fmt, ...)
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
	admin_reply(req, 200, o, NULL);
	json_object_put(o);
	free(msg);
}

/* The API; kiro-fcgi(8), ADMIN API, lists the same. */
/* The request log and its statistics live in admin-flows.c. */
static void
flows(struct admin_call *call)
{
	admin_flows_list(call->req, call->cfg);
}

static void
stats(struct admin_call *call)
{
	admin_flows_stats(call->req, call->cfg);
}

/* The Builder ID login of the web UI lives in admin-login.c. */
static void
reply_login(struct admin_call *call, enum kf_err er, json_object *o,
    char *why)
{
	/* KF_EPERM is too many logins waiting. */
	if (er == KF_OK)
		admin_reply(call->req, 200, o, NULL);
	else
		admin_error(call->req, er == KF_EPERM ? AE_CONFLICT :
		    admin_err_of(er), "%s", why != NULL ? why :
		    kf_strerror(er));
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

static const struct admin_route admin_routes[] = {
	{ "GET", "credentials", BODY_NONE, admin_accounts_list },
	{ "POST", "credentials", BODY_OBJECT, admin_accounts_add },
	{ "POST", "credentials/import", BODY_IMPORT, admin_accounts_import },
	{ "DELETE", "credentials/{id}", BODY_NONE, admin_accounts_delete },
	{ "POST", "credentials/{id}/disabled", BODY_OBJECT,
	    admin_accounts_disabled },
	{ "POST", "credentials/{id}/priority", BODY_OBJECT,
	    admin_accounts_priority },
	{ "POST", "credentials/{id}/reset", BODY_NONE, admin_accounts_reset },
	{ "POST", "credentials/{id}/refresh", BODY_NONE,
	    admin_accounts_refresh },
	{ "GET", "credentials/{id}/balance", BODY_NONE,
	    admin_accounts_balance },
	{ "GET", "config/load-balancing", BODY_NONE, admin_settings_lb_get },
	{ "PUT", "config/load-balancing", BODY_OBJECT, admin_settings_lb_put },
	{ "DELETE", "config/load-balancing", BODY_NONE, admin_settings_lb_del },
	{ "GET", "config/rate-limits", BODY_NONE, admin_settings_limits_get },
	{ "PUT", "config/rate-limits", BODY_OBJECT, admin_settings_limits_put },
	{ "DELETE", "config/rate-limits", BODY_NONE,
	    admin_settings_limits_del },
	{ "GET", "config/sticky-seconds", BODY_NONE,
	    admin_settings_sticky_get },
	{ "PUT", "config/sticky-seconds", BODY_OBJECT,
	    admin_settings_sticky_put },
	{ "DELETE", "config/sticky-seconds", BODY_NONE,
	    admin_settings_sticky_del },
	{ "GET", "config/model-map", BODY_NONE, admin_settings_map_get },
	{ "PUT", "config/model-map", BODY_OBJECT, admin_settings_map_put },
	{ "DELETE", "config/model-map", BODY_NONE, admin_settings_map_del },
	{ "GET", "accounts/{id}/history", BODY_NONE, admin_accounts_history },
	{ "GET", "usage", BODY_NONE, admin_accounts_usage },
	{ "POST", "login/builder-id", BODY_NONE, login_start },
	{ "GET", "login/{id}", BODY_NONE, login_poll },
	{ "GET", "flows", BODY_NONE, flows },
	{ "GET", "stats", BODY_NONE, stats },
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

/* 0 when the admin key was given; otherwise the answer is sent. */
static int
authorise(const struct config *cfg, struct request *req)
{
	const char	*key = request_header_key(req);

	/* secret_equal hashes both sides: constant time, any lengths. */
	if (key != NULL && secret_equal(key, cfg->admin_api_key))
		return 0;
	if (key != NULL && cfg->api_key != NULL && *cfg->api_key != '\0' &&
	    secret_equal(key, cfg->api_key)) {
		admin_error(req, AE_PERMISSION, "the client API key cannot use "
		    "the admin API: send adminApiKey");
		return -1;
	}
	admin_error(req, AE_AUTH, "Invalid or missing admin API key");
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
	json_object_object_add(e, "message", admin_str_printf("method %s is "
	    "not allowed for %s", req->method, req->path));
	o = json_object_new_object();
	json_object_object_add(o, "error", e);
	allowed(rest, &allow);
	admin_reply(req, admin_errs[AE_METHOD].status, o, allow.ptr);
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
		admin_error(req, er == KF_ETOOLARGE ? AE_TOO_LARGE :
		    AE_INVALID, "%s", er == KF_ETOOLARGE ? "the request body "
		    "is over the admin API's limit" : why);
		free(why);
		return -1;
	}
	if (req->body.len == 0) {
		admin_error(req, AE_INVALID, "the request needs a JSON body");
		return -1;
	}
	if (r->body == BODY_IMPORT)
		return 0;	/* cred_parse_import reads it */
	if (json_parse(req->body.ptr, req->body.len, ADMIN_JSON_DEPTH,
	    &call->body, &why) != KF_OK) {
		admin_error(req, AE_INVALID, "malformed JSON body: %s", why);
		free(why);
		return -1;
	}
	if (!json_object_is_type(call->body, json_type_object)) {
		admin_error(req, AE_INVALID, "the body must be a JSON object, "
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
		admin_error(req, AE_NOT_FOUND, "no route for %s %s (the admin "
		    "API is off: set adminApiKey)", req->method, req->path);
		return;
	}
	/* Every client would be an admin: the API stays off. */
	if (app->cfg->api_key != NULL &&
	    secret_equal(app->cfg->admin_api_key, app->cfg->api_key)) {
		admin_error(req, AE_NOT_FOUND, "no route for %s %s (the admin "
		    "API is off: adminApiKey must differ from apiKey)",
		    req->method, req->path);
		return;
	}
	if (authorise(app->cfg, req) == -1)
		return;
	if (app->startup_error != NULL || app->store == NULL) {
		admin_error(req, AE_INTERNAL, "%s", app->startup_error != NULL ?
		    app->startup_error : "the state directory is not usable");
		return;
	}
	rest = req->path + strlen(ADMIN_PREFIX);
	if (*rest == '/')
		rest++;
	/* Client keys: their own routes, in admin-keys.c. */
	if (admin_keys_path(rest)) {
		admin_keys_serve(app->store, req, rest, reader, stream);
		return;
	}
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
			admin_error(req, AE_NOT_FOUND, "no admin route for %s "
			    "%s", req->method, req->path);
		return;
	}
	if (strstr(r->pattern, "{id}") != NULL &&
	    parse_id(id_text, id_len, &call.id) == -1) {
		admin_error(req, AE_INVALID, "\"%.*s\" is not an account id "
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
