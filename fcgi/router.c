/* router.c: method + path (after any mount prefix) to a handler, with client auth. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "anthropic.h"
#include "apierr.h"
#include "buf.h"
#include "clientkeys.h"
#include "clock.h"
#include "config.h"
#include "digest.h"
#include "gemini.h"
#include "info.h"
#include "log.h"
#include "openai-chat.h"
#include "openai-common.h"
#include "openai-responses.h"
#include "prom.h"
#include "router.h"
#include "serve.h"
#include "xmalloc.h"

typedef void (*route_fn)(struct request *);

enum route_match {
	MATCH_EXACT,
	MATCH_PREFIX,		/* path starts with the pattern */
	MATCH_METHOD,		/* prefix, then "name:method" (Gemini) */
	MATCH_SUBTREE,		/* the pattern, or it and "/..." */
};

#define R_AUTH		0x01	/* needs the client key */
#define R_QUERY_KEY	0x02	/* ?key= may carry it (Gemini only) */
#define R_BODY		0x04	/* reads a request body */
#define R_BY_CLIENT	0x08	/* shared: the client picks the API */

struct route {
	const char	*method;	/* NULL: any */
	const char	*path;
	enum route_match match;
	enum route_api	 api;		/* R_BY_CLIENT: when no header says */
	int		 flags;
	route_fn	 fn;		/* NULL for ROUTE_ADMIN */
	route_fn	 gemini_fn;	/* R_BY_CLIENT: for a Gemini client */
};

/*
 * The dispatch table (cgit's cmd table): the API of doc/design.md §4.
 * A path matched by several entries takes the first whose method fits.
 */
static const struct route routes[] = {
	/* Its own auth, body limits and errors. */
	{ NULL, "/api/admin", MATCH_SUBTREE, ROUTE_ADMIN, 0, NULL, NULL },
	{ "POST", "/v1/messages", MATCH_EXACT, ROUTE_ANTHROPIC,
	    R_AUTH | R_BODY, anthropic_messages, NULL },
	{ "POST", "/v1/messages/count_tokens", MATCH_EXACT, ROUTE_ANTHROPIC,
	    R_AUTH | R_BODY, anthropic_count_tokens, NULL },
	{ "POST", "/cc/v1/messages", MATCH_EXACT, ROUTE_ANTHROPIC,
	    R_AUTH | R_BODY, anthropic_cc_messages, NULL },
	{ "POST", "/cc/v1/messages/count_tokens", MATCH_EXACT,
	    ROUTE_ANTHROPIC, R_AUTH | R_BODY, anthropic_count_tokens, NULL },
	{ "POST", "/v1/chat/completions", MATCH_EXACT, ROUTE_OPENAI,
	    R_AUTH | R_BODY, openai_chat_completions, NULL },
	{ "POST", "/v1/responses", MATCH_EXACT, ROUTE_OPENAI,
	    R_AUTH | R_BODY, openai_responses, NULL },
	/*
	 * Anthropic's and OpenAI's SDKs list models here, and so does the
	 * GenAI SDK (client_api says which one is asking).
	 */
	{ "GET", "/v1/models", MATCH_EXACT, ROUTE_OPENAI,
	    R_AUTH | R_QUERY_KEY | R_BY_CLIENT, info_models, gemini_models },
	{ "GET", "/v1/models/", MATCH_PREFIX, ROUTE_OPENAI,
	    R_AUTH | R_QUERY_KEY | R_BY_CLIENT, info_model, gemini_model },
	/* Gemini: models/{model}:method, also under /v1 for POST. */
	{ "POST", "/v1beta/models/", MATCH_METHOD, ROUTE_GEMINI,
	    R_AUTH | R_QUERY_KEY | R_BODY, gemini_post, NULL },
	{ "GET", "/v1beta/models", MATCH_EXACT, ROUTE_GEMINI,
	    R_AUTH | R_QUERY_KEY, gemini_models, NULL },
	{ "GET", "/v1beta/models/", MATCH_PREFIX, ROUTE_GEMINI,
	    R_AUTH | R_QUERY_KEY, gemini_model, NULL },
	{ "POST", "/v1/models/", MATCH_METHOD, ROUTE_GEMINI,
	    R_AUTH | R_QUERY_KEY | R_BODY, gemini_post, NULL },
	{ "GET", "/health", MATCH_EXACT, ROUTE_PLAIN, 0, info_health, NULL },
	/* Prometheus: its own keys (prom.h), so no client auth here. */
	{ "GET", "/metrics", MATCH_EXACT, ROUTE_PLAIN, 0, prom_page, NULL },
	{ "GET", "/", MATCH_EXACT, ROUTE_PLAIN, 0, info_root, NULL },
	{ NULL, NULL, 0, 0, 0, NULL, NULL }
};

/*
 * A path no route has (404) answers in the format of the API that owns
 * its first segment; Anthropic's is the gateway's first.  Every path
 * under /v1/models has a route (405 at worst), so only /v1beta is here.
 */
static const struct {
	const char	*prefix;	/* matched as MATCH_SUBTREE */
	enum route_api	 api;
} unrouted[] = {
	{ "/v1beta", ROUTE_GEMINI },
	{ NULL, ROUTE_ANTHROPIC }
};

static int
path_matches(enum route_match match, const char *pattern, const char *path)
{
	size_t	len = strlen(pattern);

	switch (match) {
	case MATCH_EXACT:
		break;
	case MATCH_SUBTREE:
		return strncmp(path, pattern, len) == 0 &&
		    (path[len] == '\0' || path[len] == '/');
	case MATCH_PREFIX:
	case MATCH_METHOD:
		if (strncmp(path, pattern, len) != 0 || path[len] == '\0')
			return 0;
		return match == MATCH_PREFIX || strchr(path + len, ':') !=
		    NULL;
	}
	return strcmp(path, pattern) == 0;
}

/*
 * Finds the route for method and path; when none fits, *near is the
 * first route for the path with another method (405), or NULL (404).
 */
static const struct route *
find_route(const char *method, const char *path, const struct route **near)
{
	const struct route	*r;
	int			 head = strcmp(method, "HEAD") == 0;

	*near = NULL;
	for (r = routes; r->path != NULL; r++) {
		if (!path_matches(r->match, r->path, path))
			continue;
		/* HEAD is GET without the body. */
		if (r->method == NULL || strcmp(r->method, method) == 0 ||
		    (head && strcmp(r->method, "GET") == 0))
			return r;
		if (*near == NULL)
			*near = r;
	}
	return NULL;
}

/* "Allow: GET, HEAD\r\n" for the methods that have a route for path. */
static void
allowed_methods(const char *path, struct buf *out)
{
	const struct route	*r;
	size_t			 n = 0;

	buf_puts(out, "Allow: ");
	for (r = routes; r->path != NULL; r++) {
		if (r->method == NULL ||
		    !path_matches(r->match, r->path, path))
			continue;
		buf_printf(out, "%s%s", n++ > 0 ? ", " : "", r->method);
		if (strcmp(r->method, "GET") == 0)
			buf_puts(out, ", HEAD");
	}
	buf_puts(out, "\r\n");
}

/* Trailing slashes and a doubled mount slash do not change the route. */
static void
normalise_path(char *path)
{
	size_t	len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
}

static int
has_param(const struct request *req, const char *name)
{
	const char	*v;

	return (v = request_param(req, name)) != NULL && *v != '\0';
}

/*
 * The API of a request on route r.  On the shared model routes the
 * client's headers say: x-api-key is Anthropic's (Claude Code sends it
 * unless given a bearer token), x-goog-api-key and ?key= the GenAI
 * SDK's (gemini_client), anthropic-version Anthropic's SDKs'; OpenAI's
 * SDKs send none of them.
 */
static enum route_api
client_api(const struct route *r, const struct request *req)
{
	if (!(r->flags & R_BY_CLIENT))
		return r->api;
	if (has_param(req, "HTTP_X_API_KEY"))
		return ROUTE_ANTHROPIC;
	if (gemini_client(req))
		return ROUTE_GEMINI;
	if (has_param(req, "HTTP_ANTHROPIC_VERSION"))
		return ROUTE_ANTHROPIC;
	return r->api;
}

enum route_api
router_api(const struct request *req)
{
	const struct route	*r, *near;
	size_t			 i;

	if ((r = find_route(req->method, req->path, &near)) == NULL)
		r = near;
	if (r != NULL)
		return client_api(r, req);
	for (i = 0; unrouted[i].prefix != NULL; i++)
		if (path_matches(MATCH_SUBTREE, unrouted[i].prefix, req->path))
			break;
	return unrouted[i].api;
}

int
router_route(size_t i, const char **method, const char **path,
    enum route_api *api)
{
	if (i >= sizeof(routes) / sizeof(routes[0]) - 1)
		return 0;
	*method = routes[i].method;
	*path = routes[i].path;
	*api = routes[i].api;
	return 1;
}

/*
 * Each API's error writers: a complete response, and the body alone
 * for the 405, whose status no enum kf_err has (Gemini's body repeats
 * the status).  The statuses and types come from apierr.c's table.
 */
struct api_writer {
	serve_error_fn	  response;
	void		(*body)(struct buf *, int status, enum kf_err,
			    const char *message);
};

static void
anthropic_body(struct buf *b, int status, enum kf_err er, const char *msg)
{
	(void)status;
	anthropic_error_json(b, er, msg);
}

static void
openai_body(struct buf *b, int status, enum kf_err er, const char *msg)
{
	(void)status;
	openai_error_json(b, er, msg, NULL);
}

static void
gemini_body(struct buf *b, int status, enum kf_err er, const char *msg)
{
	gemini_error_body(b, status, api_error(API_GEMINI, er)->type, msg);
}

/*
 * The admin routes never reach these: admin_serve answers for itself.
 * The plain routes have no client API of their own; Anthropic's shape,
 * the gateway's first, is what they always answered.
 */
static const struct api_writer	writers[ROUTE__MAX] = {
	[ROUTE_ANTHROPIC] = { anthropic_error_response, anthropic_body },
	[ROUTE_OPENAI] = { openai_relay_error, openai_body },
	[ROUTE_GEMINI] = { gemini_error_response, gemini_body },
	[ROUTE_ADMIN] = { anthropic_error_response, anthropic_body },
	[ROUTE_PLAIN] = { anthropic_error_response, anthropic_body },
};

/* An error in api's format, with Retry-After when retry_after > 0. */
static int
error_in(struct request *req, enum route_api api, enum kf_err er,
    const char *msg, long retry_after)
{
	return writers[api].response(&req->out, er, msg, retry_after);
}

int
router_error(struct request *req, enum kf_err er, const char *msg)
{
	return error_in(req, router_api(req), er, msg, 0);
}

/* 405, listing what is allowed (RFC 9110 15.5.6). */
static void
method_not_allowed(struct request *req, enum route_api api)
{
	struct buf	 body = BUF_INIT, allow = BUF_INIT;
	char		*msg;

	msg = xasprintf("method %s is not allowed for %s", req->method,
	    req->path);
	writers[api].body(&body, 405, KF_EINVAL, msg);
	allowed_methods(req->path, &allow);
	(void)out_response(&req->out, 405, "application/json", allow.ptr,
	    body.ptr, body.len);
	buf_free(&allow);
	buf_free(&body);
	free(msg);
}

/*
 * The key the client sent: the first of x-api-key, x-goog-api-key,
 * Authorization: Bearer and ?key=, as a copy the caller wipes and frees,
 * or NULL.
 */
static char *
given_client_key(const struct request *req)
{
	const char	*given, *auth;

	if ((given = request_param(req, "HTTP_X_API_KEY")) != NULL &&
	    *given != '\0')
		return xstrdup(given);
	/* Gemini clients: x-goog-api-key, or ?key= in the URL. */
	if ((given = request_param(req, "HTTP_X_GOOG_API_KEY")) != NULL &&
	    *given != '\0')
		return xstrdup(given);
	if ((auth = request_param(req, "HTTP_AUTHORIZATION")) != NULL &&
	    strncasecmp(auth, "Bearer ", 7) == 0) {
		given = auth + 7;
		while (*given == ' ')
			given++;
		return xstrdup(given);
	}
	return request_query(req, "key");
}

static void
wipe(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
	free(s);
}

int
router_client_authorised(const struct request *req, const char *key)
{
	char	*given;
	int	 ok;

	/* An empty key would let "Authorization: Bearer " in. */
	if (key == NULL || *key == '\0')
		return 0;
	given = given_client_key(req);
	ok = given != NULL && *given != '\0' && secret_equal(given, key);
	wipe(given);
	return ok;
}

/* A key in a header (x-api-key, x-goog-api-key, Authorization). */
static int
has_header_credentials(const struct request *req)
{
	const char	*v;

	return ((v = request_param(req, "HTTP_X_API_KEY")) != NULL &&
	    *v != '\0') ||
	    ((v = request_param(req, "HTTP_X_GOOG_API_KEY")) != NULL &&
	    *v != '\0') ||
	    ((v = request_param(req, "HTTP_AUTHORIZATION")) != NULL &&
	    *v != '\0');
}

static int
has_query_key(const struct request *req)
{
	char	*q;
	int	 has;

	if ((q = request_query(req, "key")) == NULL)
		return 0;
	has = *q != '\0';
	explicit_bzero(q, strlen(q));
	free(q);
	return has;
}

/*
 * A key in the URL ends up in access logs and proxies' logs: only the
 * Gemini API defines ?key=, so only its routes take one.
 */
static int
route_authorised(const struct route *r, const struct request *req,
    const char *key)
{
	if (!(r->flags & R_QUERY_KEY) && !has_header_credentials(req))
		return 0;
	return router_client_authorised(req, key);
}

static const char *auth_failure(const struct route *,
    const struct request *);

/*
 * Client auth for r: apiKey (name "default", no store work), else a
 * client key (clientkeys.h), looked up by its hash and counted against
 * its limits.  0 with req->key set, or -1 once the error is sent: 401
 * unknown, disabled or expired, 429 over its rpm (Retry-After), 403 over
 * a monthly quota.
 */
static int
client_auth(const struct app *app, const struct route *r,
    struct request *req)
{
	char		*given = NULL, *why = NULL;
	long		 retry_after = 0;
	enum kf_err	 er = KF_EAUTH;

	if (route_authorised(r, req, app->cfg->api_key)) {
		snprintf(req->key.name, sizeof(req->key.name), "%s",
		    CLIENTKEYS_DEFAULT);
		return 0;
	}
	if (((r->flags & R_QUERY_KEY) || has_header_credentials(req)) &&
	    (given = given_client_key(req)) != NULL &&
	    clientkeys_is_key(given) && app->store != NULL)
		er = clientkeys_authorise(app->store, given,
		    (int64_t)clock_now() * 1000, &req->key, &retry_after,
		    &why);
	wipe(given);
	if (er == KF_OK)
		return 0;
	(void)error_in(req, client_api(r, req), er, why != NULL ? why :
	    auth_failure(r, req), retry_after);
	free(why);
	return -1;
}

static const char *
auth_failure(const struct route *r, const struct request *req)
{
	if (has_header_credentials(req))
		return "invalid API key";
	if (r->flags & R_QUERY_KEY)
		return has_query_key(req) ? "invalid API key" :
		    "missing API key: send it as x-goog-api-key, ?key=, "
		    "x-api-key or Authorization: Bearer";
	if (has_query_key(req))
		return "?key= is taken on the Gemini API only: send the key "
		    "as x-api-key or Authorization: Bearer";
	return "missing API key: send it as x-api-key or Authorization: "
	    "Bearer";
}

void
router_dispatch(const struct app *app, struct request *req,
    request_read_fn reader, void *stream)
{
	const struct route	*r, *near;
	enum route_api		 api;
	const char		*script;
	char			*why = NULL, *msg;
	enum kf_err		 er;

	normalise_path(req->path);
	r = find_route(req->method, req->path, &near);
	/*
	 * Mounted at a prefix, a request for the prefix itself ("/kiro")
	 * arrives with the prefix as SCRIPT_NAME and no PATH_INFO: it is
	 * the root.
	 */
	if (r == NULL && near == NULL &&
	    (script = request_param(req, "SCRIPT_NAME")) != NULL &&
	    strcmp(script, req->path) == 0) {
		free(req->path);
		req->path = xstrdup("/");
		r = find_route(req->method, req->path, &near);
	}
	if (r == NULL && near != NULL) {
		method_not_allowed(req, client_api(near, req));
		return;
	}
	if (r == NULL) {
		msg = xasprintf("no route for %s %s", req->method, req->path);
		(void)router_error(req, KF_ENOTFOUND, msg);
		free(msg);
		return;
	}
	if (r->api == ROUTE_ADMIN) {
		admin_serve(app, req, reader, stream);
		return;
	}
	api = client_api(r, req);
	if (app->startup_error != NULL && r->fn != info_root) {
		/* The reason names paths and keys: only for the client. */
		(void)error_in(req, api, KF_ECONFIG, app->cfg != NULL &&
		    app->cfg->api_key != NULL &&
		    router_client_authorised(req, app->cfg->api_key) ?
		    app->startup_error : "kiro-fcgi could not start (its "
		    "configuration or state directory): the web server's "
		    "error log says why", 0);
		return;
	}
	if (r->flags & R_AUTH) {
		if (app->cfg->api_key == NULL) {
			(void)error_in(req, api, KF_ECONFIG,
			    "the gateway has no apiKey configured, so no "
			    "client can be authenticated: set apiKey in the "
			    "configuration (or API_KEY in the environment)", 0);
			return;
		}
		if (client_auth(app, r, req) == -1)
			return;
	}
	if ((r->flags & R_BODY) && (er = request_read_body(req, reader,
	    stream, (size_t)app->cfg->max_request_bytes, &why)) != KF_OK) {
		(void)error_in(req, api, er, why, 0);
		free(why);
		return;
	}
	/* A shared route answers a Gemini client in Gemini's shape. */
	if (api == ROUTE_GEMINI && r->gemini_fn != NULL)
		r->gemini_fn(req);
	else
		r->fn(req);
}
