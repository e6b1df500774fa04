/* request.h: one FastCGI request: parameters, body, output, and its context. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "clientkeys.h"
#include "err.h"
#include "out.h"

struct config;
struct relay_env;

/* What a route handler gets; lives for one request. */
struct request {
	char *const		*envp;		/* FastCGI parameters */
	const struct config	*cfg;
	struct relay_env	*relay;		/* this thread's relay context */
	const char		*method;
	char			*path;		/* route path, mount prefix removed */
	const char		*query;		/* "" when none */
	struct buf		 body;
	struct out		 out;
	int			 ipc_fd;	/* the web server's connection, or -1 */
	char			 id[17];	/* request id for logs */
	int64_t			 started_ms;
	long			 account_id;	/* for the access log */
	const char		*model;		/* for the access log */
	/* Kiro's meteringEvent credits, for the access log, when metered. */
	double			 credits;
	int			 metered;
	/* The relay's figures, for the metrics (prom.h). */
	long			 input_tokens;
	long			 output_tokens;
	int			 attempts;
	/*
	 * Who it authenticated as (router.c): key.name is "default" for
	 * apiKey, a client key's name, or "" on routes without client auth;
	 * for logs, flows, metrics and stickiness.
	 */
	struct clientkeys_grant	 key;
};

/* A FastCGI parameter ("HTTP_X_API_KEY", ...), or NULL. */
const char	*request_param(const struct request *, const char *name);
/*
 * The key a request carries in a header: x-api-key, else the token of
 * Authorization: Bearer (spaces after "Bearer" skipped); NULL when it
 * has neither or an empty one.  Borrowed from the request.
 */
const char	*request_header_key(const struct request *);
/*
 * Reads the body (CONTENT_LENGTH bytes): KF_ETOOLARGE beyond max,
 * KF_EINVAL for a bad length or a short body.  reader is the stream.
 * Starts the thread's per-request image fetch count (imgfetch_new_request),
 * since every route that can fetch images reads its body first.
 */
typedef int (*request_read_fn)(void *stream, char *, int);
enum kf_err	 request_read_body(struct request *, request_read_fn,
		    void *stream, size_t max, char **cause);
/*
 * 1 when the web server has closed the connection or sent an abort for
 * this request (the client went away); for sink.gone.  Never blocks.
 */
int		 request_client_gone(void *request);
/* The value of a query parameter (URL-decoded; caller frees) or NULL. */
char		*request_query(const struct request *, const char *name);

/*
 * The route path for a request, given the web server's parameters: the
 * part after the mount prefix.  Caller frees.  See request.c for the
 * rules and the table of what each server sends.
 */
char		*request_route_path(const char *script_name,
		    const char *path_info, const char *request_uri);

#endif
