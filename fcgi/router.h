/* router.h: method + path (after any mount prefix) to a handler, with client auth. */
#ifndef ROUTER_H
#define ROUTER_H

#include "err.h"
#include "request.h"

/*
 * The process-wide state every request sees.  A startup problem (bad
 * configuration, unusable state directory) does not stop the responder:
 * every request is answered 500 with the cause, so the operator sees it
 * in the client as well as in the error log.
 */
struct app {
	struct config	*cfg;
	struct store	*store;
	char		*startup_error;	/* NULL when ready */
};

/*
 * Routes one request: finds the handler (404 / 405 otherwise; the whole
 * /api/admin subtree goes to admin_serve, which answers for itself), checks
 * the client's API key where the route needs one (x-api-key or
 * Authorization: Bearer): apiKey, compared in constant time, or a client
 * key found by its hash and held to its limits (clientkeys.h), noting
 * who it was in req->key; reads the body within
 * maxRequestBytes (413 beyond), then calls the handler.  Every error it
 * raises is in the format of router_api(req).
 */
void	router_dispatch(const struct app *, struct request *,
	    request_read_fn, void *stream);

/*
 * The API a route belongs to, which chooses the format of its errors
 * (apierr.h gives each client API's status and type for an enum kf_err).
 */
enum route_api {
	ROUTE_ANTHROPIC,
	ROUTE_OPENAI,
	ROUTE_GEMINI,
	ROUTE_ADMIN,	/* a sub-router: admin_serve answers its own errors */
	ROUTE_PLAIN,	/* /, /health, /metrics: Anthropic's error shape */
	ROUTE__MAX
};

/*
 * The API whose format answers req's errors: its route's; with only the
 * method wrong, the first route for its path; with no route, the rule
 * for unrouted paths (/v1beta: Gemini, else Anthropic).  GET /v1/models
 * and /v1/models/{id} are shared: Anthropic for a client sending
 * x-api-key, Gemini for x-goog-api-key or ?key=, Anthropic for
 * anthropic-version, OpenAI otherwise.
 */
enum route_api	router_api(const struct request *);

/*
 * Entry i of the route table: method (NULL: any), path pattern and API;
 * 0 past the end.  Borrowed, static strings.
 */
int	router_route(size_t i, const char **method, const char **path,
	    enum route_api *);

/* A complete error response in the format of router_api(req). */
int	router_error(struct request *, enum kf_err, const char *message);

/*
 * 1 when the request carries the configured client key, in a header or
 * in ?key=; router_dispatch takes ?key= on Gemini routes only.
 */
int	router_client_authorised(const struct request *, const char *key);

#endif
