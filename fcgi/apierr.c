/* apierr.c: the error table every front end answers from. */
#include "autoconfig.h"

#include <stddef.h>

#include "apierr.h"
#include "err.h"

#define A(st, ty)	{ st, ty, NULL }
#define O(st, ty, co)	{ st, ty, co }
#define G(st, ty)	{ st, ty, NULL }

/* Faults of ours and what cannot happen: a 500 in every API. */
#define INTERNAL	{ A(500, "api_error"), O(500, "server_error", NULL), \
			  G(500, "INTERNAL") }

/*
 * One row per enum kf_err.  Anthropic's types and 529 overloaded_error,
 * OpenAI's codes (model_not_found, context_length_exceeded,
 * insufficient_quota, ...) and Gemini's canonical statuses are each
 * API's own, as their SDKs classify them.
 */
static const struct api_error	table[KF_ERR__MAX][API__MAX] = {
	[KF_OK] = INTERNAL,
	[KF_EINVAL] = { A(400, "invalid_request_error"),
	    O(400, "invalid_request_error", NULL),
	    G(400, "INVALID_ARGUMENT") },
	[KF_EAUTH] = { A(401, "authentication_error"),
	    O(401, "authentication_error", "invalid_api_key"),
	    G(401, "UNAUTHENTICATED") },
	[KF_EPERM] = { A(403, "permission_error"),
	    O(403, "permission_error", NULL),
	    G(403, "PERMISSION_DENIED") },
	/* The one thing the OpenAI routes cannot find is the model. */
	[KF_ENOTFOUND] = { A(404, "not_found_error"),
	    O(404, "invalid_request_error", "model_not_found"),
	    G(404, "NOT_FOUND") },
	[KF_ETOOLARGE] = { A(413, "request_too_large"),
	    O(413, "invalid_request_error", "request_too_large"),
	    G(413, "INVALID_ARGUMENT") },
	[KF_ERATE] = { A(429, "rate_limit_error"),
	    O(429, "rate_limit_error", "rate_limit_exceeded"),
	    G(429, "RESOURCE_EXHAUSTED") },
	[KF_EOVERLOADED] = { A(529, "overloaded_error"),
	    O(503, "server_error", "overloaded"),
	    G(503, "UNAVAILABLE") },
	[KF_EUPSTREAM] = { A(502, "api_error"),
	    O(502, "server_error", "upstream_error"),
	    G(502, "UNAVAILABLE") },
	[KF_ETIMEOUT] = { A(504, "api_error"),
	    O(504, "server_error", "timeout"),
	    G(504, "DEADLINE_EXCEEDED") },
	[KF_ECONTEXT] = { A(400, "invalid_request_error"),
	    O(400, "invalid_request_error", "context_length_exceeded"),
	    G(400, "INVALID_ARGUMENT") },
	[KF_EQUOTA] = { A(429, "rate_limit_error"),
	    O(429, "insufficient_quota", "insufficient_quota"),
	    G(429, "RESOURCE_EXHAUSTED") },
	[KF_ESUSPENDED] = { A(403, "permission_error"),
	    O(403, "permission_error", NULL),
	    G(403, "PERMISSION_DENIED") },
	[KF_ENOACCOUNT] = { A(503, "api_error"),
	    O(503, "server_error", "no_account"),
	    G(503, "UNAVAILABLE") },
	[KF_ELOGIN] = { A(503, "api_error"),
	    O(503, "server_error", "no_account"),
	    G(503, "UNAVAILABLE") },
	[KF_ESTORE] = INTERNAL,
	[KF_ECONFIG] = INTERNAL,
	[KF_ECLIENTGONE] = INTERNAL,
	[KF_EINTERNAL] = INTERNAL,
};

const struct api_error *
api_error(enum api api, enum kf_err er)
{
	if ((unsigned)er >= KF_ERR__MAX)
		er = KF_EINTERNAL;
	if ((unsigned)api >= API__MAX)
		api = API_ANTHROPIC;
	return &table[er][api];
}
