/* router.c: method + path (after any mount prefix) to a handler, with client auth. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "anthropic.h"
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
#include "xmalloc.h"

typedef void (*route_fn)(struct request *);
/* A complete error response in the route's client format. */

enum route_match {
	MATCH_EXACT,
	MATCH_PREFIX,		/* path starts with the pattern */
	MATCH_METHOD,		/* prefix, then "name:method" (Gemini) */
};

struct route {
	const char	*method;
	const char	*path;
	enum route_match match;
	int		 auth;		/* needs the client key */
	int		 query_key;	/* ?key= may carry it (Gemini only) */
	int		 body;		/* reads a request body */
	route_fn	 fn;
};

/* The dispatch table (cgit's cmd table): the API of doc/design.md §4. */
static const struct route routes[] = {
	{ "POST", "/v1/messages", MATCH_EXACT, 1, 0, 1, anthropic_messages },
	{ "POST", "/v1/messages/count_tokens", MATCH_EXACT, 1, 0, 1,
	    anthropic_count_tokens },
	{ "POST", "/cc/v1/messages", MATCH_EXACT, 1, 0, 1,
	    anthropic_cc_messages },
	{ "POST", "/cc/v1/messages/count_tokens", MATCH_EXACT, 1, 0, 1,
	    anthropic_count_tokens },
	{ "POST", "/v1/chat/completions", MATCH_EXACT, 1, 0, 1,
	    openai_chat_completions },
	{ "POST", "/v1/responses", MATCH_EXACT, 1, 0, 1, openai_responses },
	/* The GenAI SDK lists here too: ?key= makes it a Gemini answer. */
	{ "GET", "/v1/models", MATCH_EXACT, 1, 1, 0, info_models },
	{ "GET", "/v1/models/", MATCH_PREFIX, 1, 1, 0, info_model },
	/* Gemini: models/{model}:method, also under /v1 for POST. */
	{ "POST", "/v1beta/models/", MATCH_METHOD, 1, 1, 1, gemini_post },
	{ "GET", "/v1beta/models", MATCH_EXACT, 1, 1, 0, gemini_models },
	{ "GET", "/v1beta/models/", MATCH_PREFIX, 1, 1, 0, gemini_model },
	{ "POST", "/v1/models/", MATCH_METHOD, 1, 1, 1, gemini_post },
	{ "GET", "/health", MATCH_EXACT, 0, 0, 0, info_health },
	/* Prometheus: its own keys (prom.h), so no client auth here. */
	{ "GET", "/metrics", MATCH_EXACT, 0, 0, 0, prom_page },
	{ "GET", "/", MATCH_EXACT, 0, 0, 0, info_root },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static int
path_matches(const struct route *r, const char *path)
{
	size_t	len;

	if (r->match == MATCH_PREFIX || r->match == MATCH_METHOD) {
		len = strlen(r->path);
		if (strncmp(path, r->path, len) != 0 || path[len] == '\0')
			return 0;
		return r->match == MATCH_PREFIX || strchr(path + len, ':') !=
		    NULL;
	}
	return strcmp(path, r->path) == 0;
}

/* Finds the route; *other_method is set when only the method differs. */
static const struct route *
find_route(const char *method, const char *path, int *other_method)
{
	const struct route	*r;
	int			 head = strcmp(method, "HEAD") == 0;

	*other_method = 0;
	for (r = routes; r->method != NULL; r++) {
		if (!path_matches(r, path))
			continue;
		/* HEAD is GET without the body. */
		if (strcmp(r->method, method) == 0 ||
		    (head && strcmp(r->method, "GET") == 0))
			return r;
		*other_method = 1;
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
	for (r = routes; r->method != NULL; r++) {
		if (!path_matches(r, path))
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

enum err_format {
	FORMAT_ANTHROPIC,
	FORMAT_OPENAI,
	FORMAT_GEMINI,
};

/*
 * The error format of the API a request speaks, for errors before (or
 * instead of) its handler: by path, since a 404 or 405 has no route.
 * /v1/models is both Anthropic's and OpenAI's: Anthropic's SDKs and
 * Claude Code send anthropic-version (and x-api-key unless given a
 * bearer token); OpenAI's SDKs send neither.
 */
static enum err_format
error_format(const struct request *req)
{
	const char	*v;

	if (gemini_is_path(req->method, req->path))
		return FORMAT_GEMINI;
	if (strcmp(req->path, "/v1/chat/completions") == 0 ||
	    strcmp(req->path, "/v1/responses") == 0)
		return FORMAT_OPENAI;
	if ((strcmp(req->path, "/v1/models") == 0 ||
	    strncmp(req->path, "/v1/models/", 11) == 0) &&
	    ((v = request_param(req, "HTTP_ANTHROPIC_VERSION")) == NULL ||
	    *v == '\0') &&
	    ((v = request_param(req, "HTTP_X_API_KEY")) == NULL || *v == '\0'))
		return FORMAT_OPENAI;
	return FORMAT_ANTHROPIC;
}

/* router_error, with Retry-After when retry_after > 0. */
static int
error_retry(struct request *req, enum kf_err er, const char *msg,
    long retry_after)
{
	switch (error_format(req)) {
	case FORMAT_GEMINI:
		return gemini_error_response(&req->out, er, msg, retry_after);
	case FORMAT_OPENAI:
		return openai_error_response(&req->out, er, msg, NULL,
		    retry_after);
	case FORMAT_ANTHROPIC:
		break;
	}
	return anthropic_error_response(&req->out, er, msg, retry_after);
}

int
router_error(struct request *req, enum kf_err er, const char *msg)
{
	return error_retry(req, er, msg, 0);
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
	if (!r->query_key && !has_header_credentials(req))
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
	if ((r->query_key || has_header_credentials(req)) &&
	    (given = given_client_key(req)) != NULL &&
	    clientkeys_is_key(given) && app->store != NULL)
		er = clientkeys_authorise(app->store, given,
		    (int64_t)clock_now() * 1000, &req->key, &retry_after,
		    &why);
	wipe(given);
	if (er == KF_OK)
		return 0;
	(void)error_retry(req, er, why != NULL ? why : auth_failure(r, req),
	    retry_after);
	free(why);
	return -1;
}

static const char *
auth_failure(const struct route *r, const struct request *req)
{
	if (has_header_credentials(req))
		return "invalid API key";
	if (r->query_key)
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
	const struct route	*r;
	route_fn		 fn;
	const char		*script;
	char			*why = NULL, *msg;
	int			 other_method;
	enum kf_err		 er;

	normalise_path(req->path);
	/* The admin API has its own auth, body limits and error format. */
	if (admin_path(req->path)) {
		admin_serve(app, req, reader, stream);
		return;
	}
	r = find_route(req->method, req->path, &other_method);
	/*
	 * Mounted at a prefix, a request for the prefix itself ("/kiro")
	 * arrives with the prefix as SCRIPT_NAME and no PATH_INFO: it is
	 * the root.
	 */
	if (r == NULL && !other_method &&
	    (script = request_param(req, "SCRIPT_NAME")) != NULL &&
	    strcmp(script, req->path) == 0) {
		free(req->path);
		req->path = xstrdup("/");
		r = find_route(req->method, req->path, &other_method);
	}
	if (r == NULL) {
		if (other_method) {
			struct buf	body = BUF_INIT, allow = BUF_INIT;

			msg = xasprintf("method %s is not allowed for %s",
			    req->method, req->path);
			switch (error_format(req)) {
			case FORMAT_GEMINI:
				gemini_error_body(&body, 405, "INVALID_ARGUMENT",
				    msg);
				break;
			case FORMAT_OPENAI:
				openai_error_json(&body, KF_EINVAL, msg, NULL);
				break;
			case FORMAT_ANTHROPIC:
				anthropic_error_json(&body, KF_EINVAL, msg);
				break;
			}
			/* RFC 9110 15.5.6: a 405 must list what is allowed. */
			allowed_methods(req->path, &allow);
			(void)out_response(&req->out, 405, "application/json",
			    allow.ptr, body.ptr, body.len);
			buf_free(&allow);
			buf_free(&body);
		} else {
			msg = xasprintf("no route for %s %s", req->method,
			    req->path);
			(void)router_error(req, KF_ENOTFOUND, msg);
		}
		free(msg);
		return;
	}
	if (app->startup_error != NULL && r->fn != info_root) {
		/* The reason names paths and keys: only for the client. */
		(void)router_error(req, KF_ECONFIG, app->cfg != NULL &&
		    app->cfg->api_key != NULL &&
		    router_client_authorised(req, app->cfg->api_key) ?
		    app->startup_error : "kiro-fcgi could not start (its "
		    "configuration or state directory): the web server's "
		    "error log says why");
		return;
	}
	if (r->auth) {
		if (app->cfg->api_key == NULL) {
			(void)router_error(req, KF_ECONFIG,
			    "the gateway has no apiKey configured, so no "
			    "client can be authenticated: set apiKey in the "
			    "configuration (or API_KEY in the environment)");
			return;
		}
		if (client_auth(app, r, req) == -1)
			return;
	}
	/* The GenAI SDK lists models at /v1/models too: answer in its shape. */
	fn = r->fn;
	if ((fn == info_models || fn == info_model) && gemini_client(req))
		fn = fn == info_models ? gemini_models : gemini_model;
	if (r->body && (er = request_read_body(req, reader, stream,
	    (size_t)app->cfg->max_request_bytes, &why)) != KF_OK) {
		(void)router_error(req, er, why);
		free(why);
		return;
	}
	fn(req);
}
