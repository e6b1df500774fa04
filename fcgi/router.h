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
 * Routes one request: finds the handler (404 / 405 otherwise), checks
 * the client's API key where the route needs one (x-api-key or
 * Authorization: Bearer): apiKey, compared in constant time, or a client
 * key found by its hash and held to its limits (clientkeys.h), noting
 * who it was in req->key; reads the body within
 * maxRequestBytes (413 beyond), then calls the handler.
 */
void	router_dispatch(const struct app *, struct request *,
	    request_read_fn, void *stream);

/*
 * A complete error response in the format of the API the request
 * speaks, judged by its path (and, on /v1/models, by anthropic-version).
 */
int	router_error(struct request *, enum kf_err, const char *message);

/*
 * 1 when the request carries the configured client key, in a header or
 * in ?key=; router_dispatch takes ?key= on Gemini routes only.
 */
int	router_client_authorised(const struct request *, const char *key);

#endif
