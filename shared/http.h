/* http.h: libcurl, one reusable easy handle per thread, bodies streamed. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * Each responder thread owns one struct http for its whole life: the easy
 * handle keeps live connections (keep-alive TLS to Kiro), and a process-wide
 * curl share adds DNS and TLS-session caches across threads.
 */
struct http;
struct sockaddr;

/* Once per process, before any thread starts (curl_global_init). */
void		 http_global_init(void);
void		 http_global_cleanup(void);

struct http	*http_new(void);
void		 http_free(struct http *);	/* NULL is fine */

/* Streaming callbacks return non-zero to abort the transfer. */
typedef int (*http_data_fn)(void *arg, const char *data, size_t len);
typedef int (*http_tick_fn)(void *arg);
/* Non-zero when a connection may go to this address (with its port). */
typedef int (*http_addr_fn)(const struct sockaddr *);

struct http_req {
	const char		*method;	/* "GET" or "POST" */
	const char		*url;
	const char *const	*headers;	/* "Name: value", NULL-terminated */
	const char		*body;		/* POST body */
	size_t			 body_len;
	const char		*proxy_url;	/* NULL: curl default, "direct": none */
	const char		*proxy_username;
	const char		*proxy_password;
	long			 connect_timeout_ms;	/* 0: 10 s */
	long			 timeout_ms;	/* whole transfer; 0: none */
	long			 idle_timeout_s;	/* no byte for this long; 0: 300 */
	long			 max_redirects;	/* http(s) redirects followed; 0: none */
	/*
	 * When set, the body of a 2xx answer goes to on_data as it arrives;
	 * other answers (and every answer when it is NULL) are collected in
	 * http_resp.body up to max_body bytes (0: 1 MiB).
	 */
	http_data_fn		 on_data;
	/* Called about once a second while waiting; may be NULL. */
	http_tick_fn		 on_tick;
	void			*arg;
	size_t			 max_body;
	/*
	 * When set, every connection of the transfer must go to an address
	 * it allows: each address is checked before a socket is opened for
	 * it, and the peer of the connection actually used (a reused one
	 * too) is checked again before each request, on every redirect hop,
	 * so DNS answers that change in between gain nothing.  A refusal
	 * fails the transfer with resp.refused set.  Meant for direct
	 * transfers: through a proxy it sees the proxy's address.
	 */
	http_addr_fn		 allow_addr;
};

struct http_resp {
	long		status;		/* 0 when no answer arrived */
	struct buf	body;		/* see http_req.on_data */
	int		aborted;	/* a callback asked to stop */
	int		network;	/* failed below HTTP: retryable */
	int		body_started;	/* on_data was called at least once */
	int		refused;	/* failed: allow_addr refused an address */
	long		redirects;	/* redirects followed */
	char		error[256];	/* libcurl's words when it failed */
};

/*
 * Performs one request.  KF_OK when an HTTP answer arrived completely
 * (whatever its status); KF_ETIMEOUT or KF_EUPSTREAM (network set) when the
 * transfer failed, including a body cut off after the status arrived;
 * KF_ECLIENTGONE when a callback aborted it; KF_EPERM (refused set) when
 * allow_addr refused the address it would have used.  The cause never contains the
 * request's headers.  The caller frees resp with http_resp_free.
 */
enum kf_err	 http_do(struct http *, const struct http_req *,
		    struct http_resp *, char **cause);
void		 http_resp_free(struct http_resp *);

/*
 * Appends s to out percent-encoded for a URL query, keeping RFC 3986's
 * unreserved characters (letters, digits, "-", "_", ".", "~").
 */
void		http_query_escape(struct buf *out, const char *s);

#endif
