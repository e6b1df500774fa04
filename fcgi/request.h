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

/*
 * What the request log (flows.h) notes during a request, beside what the
 * access log has: set by serve_relay and by the tap on out.
 */
/*
 * Strings are copied into arrays, not allocated: a request that never
 * reaches flows_end (a unit test calling serve_relay) leaks nothing.
 */
#define FLOW_MODEL_MAX	256
#define FLOW_ERROR_MAX	1024
struct flow_note {
	char		 client_model[FLOW_MODEL_MAX];	/* "" when none */
	int		 stream;
	int		 attempts;
	long		 input_tokens;
	long		 output_tokens;
	const char	*error_type;	/* kf_err_name; NULL when none */
	char		 error[FLOW_ERROR_MAX];
	int64_t		 first_byte_ms;	/* clock_mono_ms; 0: none yet */
	/* The answer body's first bytes: only with the tap, freed by flows_end. */
	struct buf	 answer;
	size_t		 answer_cap;
	int		 keep_answer;	/* flowLog.bodies */
	int		 head_seen;
	/* The out's own writer and flusher, which the tap calls. */
	int		(*write)(void *, const char *, size_t);
	int		(*flush)(void *);
	void		*arg;
};

/* What a route handler gets; lives for one request. */
struct request {
	char *const		*envp;		/* FastCGI parameters */
	const struct config	*cfg;
	struct relay_env	*relay;		/* this thread's relay context */
	const char		*method;
	char			*path;		/* route path, mount prefix removed */
	const char		*query;		/* "" when none */
	struct buf		 body;
	int			 body_whole;	/* all of CONTENT_LENGTH read */
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
	struct flow_note	 flow;		/* for the request log */
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
 * Sets body_whole once every byte of it is read (none declared: at once).
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
