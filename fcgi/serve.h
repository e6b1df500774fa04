/* serve.h: what every model route does once its request has parsed. */
#ifndef SERVE_H
#define SERVE_H

#include "err.h"

struct conv;
struct out;
struct request;
struct sink;

/*
 * A front end's complete error response in the client's own format, with
 * Retry-After when retry_after > 0 (anthropic_error_response, ...).
 */
typedef int (*serve_error_fn)(struct out *, enum kf_err, const char *why,
	    long retry_after);

/*
 * Refuses a conv over the request caps (conv_check_limits) with error(),
 * KF_EINVAL, before any upstream work.  Otherwise runs conv through this
 * thread's relay into sink, which the caller made
 * to write to req->out in its protocol: notes the Kiro model, the
 * account and the credits Kiro charged in req for the access log, lets the relay ask whether the client
 * is gone, answers with error() when the relay fails before the sink
 * committed anything (after that the sink has told the client itself), and
 * logs every failure.  Returns what relay_run returned.
 */
enum kf_err	 serve_relay(struct request *, struct conv *, struct sink *,
		    serve_error_fn error);

/*
 * The session id a client names in a header (param is its FastCGI name,
 * "HTTP_SESSION_ID"): the value when it is a UUID, else NULL.
 */
const char	*serve_session_header(const struct request *,
		    const char *param);

#endif
