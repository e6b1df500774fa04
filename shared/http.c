/* http.c: libcurl, one reusable easy handle per thread, bodies streamed. */
#include "autoconfig.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

#define HTTP_DEFAULT_MAX_BODY	(1024 * 1024)
#define HTTP_STACK_HEADERS	32	/* more: the list goes on the heap */

struct http {
	CURL	*curl;
	char	 errbuf[CURL_ERROR_SIZE];
};

/* The state of one transfer, reached from the curl callbacks. */
struct transfer {
	const struct http_req	*req;
	struct http_resp	*resp;
	CURL			*curl;
	size_t			 max_body;
	int64_t			 last_tick;
	int			 refused;	/* allow_addr said no */
};

static CURLSH		*http_share;
static pthread_mutex_t	 share_locks[CURL_LOCK_DATA_LAST];

static void
share_lock(CURL *handle, curl_lock_data data, curl_lock_access access,
    void *arg)
{
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&share_locks[data]);
}

static void
share_unlock(CURL *handle, curl_lock_data data, void *arg)
{
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&share_locks[data]);
}

void
http_global_init(void)
{
	size_t	i;

	/*
	 * OpenSSL's error strings cost every process about 1.1 MB of RSS
	 * (their hash tables and the pages they are read from) and are only
	 * ever read to word a failed TLS handshake.  Declining them first
	 * makes curl's own request for them a no-op; such a failure then
	 * reads "error:0A00010B:lib(20)::reason(267)", and tls_hint() adds
	 * the command that names it.
	 */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_errorx("curl_global_init failed");
		abort();
	}
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	if ((http_share = curl_share_init()) == NULL)
		return;
	curl_share_setopt(http_share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(http_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(http_share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION);
}

void
http_global_cleanup(void)
{
	if (http_share != NULL)
		curl_share_cleanup(http_share);
	http_share = NULL;
	curl_global_cleanup();
}

struct http *
http_new(void)
{
	struct http	*h;

	h = xcalloc(1, sizeof(*h));
	if ((h->curl = curl_easy_init()) == NULL) {
		log_errorx("curl_easy_init failed");
		abort();
	}
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void
http_resp_free(struct http_resp *resp)
{
	if (resp == NULL)
		return;
	buf_free(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer	*t = arg;
	size_t		 len = size * nmemb;
	long		 status = 0;

	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	t->resp->status = status;
	if (t->req->on_data != NULL && status >= 200 && status < 300) {
		t->resp->body_started = 1;
		if (t->req->on_data(t->req->arg, data, len) != 0) {
			t->resp->aborted = 1;
			return len == 0 ? 1 : 0;	/* any other count aborts */
		}
		return len;
	}
	/* Error bodies are capped; what is beyond the cap is dropped. */
	if (t->resp->body.len < t->max_body)
		buf_append(&t->resp->body, data,
		    len < t->max_body - t->resp->body.len ? len :
		    t->max_body - t->resp->body.len);
	return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer	*t = arg;
	int64_t		 now;

	if (t->req->on_tick == NULL)
		return 0;
	/* libcurl calls this often; the contract says about once a second. */
	now = clock_mono_ms();
	if (now - t->last_tick < 1000)
		return 0;
	t->last_tick = now;
	if (t->req->on_tick(t->req->arg) != 0) {
		t->resp->aborted = 1;
		return 1;
	}
	return 0;
}

/* allow_addr before a socket exists: a refused address is never dialled. */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer	*t = arg;
	int		 type = a->socktype;

	if (purpose != CURLSOCKTYPE_IPCXN || !t->req->allow_addr(&a->addr)) {
		t->refused = 1;
		return CURL_SOCKET_BAD;
	}
#ifdef SOCK_CLOEXEC
	type |= SOCK_CLOEXEC;
#endif
	return socket(a->family, type, a->protocol);
}

/*
 * allow_addr again on the peer of the connection about to carry a request:
 * reused connections never open a socket, and every redirect hop ends here.
 */
static int
on_prereq(void *arg, char *peer_ip, char *local_ip, int peer_port,
    int local_port)
{
	struct transfer		*t = arg;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	char			 ip[INET6_ADDRSTRLEN];

	/* A zone ("fe80::1%eth0") is no part of the address. */
	snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(peer_ip, "%"), peer_ip);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)peer_port);
	} else if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)peer_port);
	} else
		ss.ss_family = AF_UNSPEC;	/* allow_addr refuses it */
	if (!t->req->allow_addr((struct sockaddr *)&ss)) {
		t->refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

static enum kf_err
map_curl_error(CURLcode rc, struct http_resp *resp)
{
	switch (rc) {
	case CURLE_OK:
		return KF_OK;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		if (resp->aborted)
			return KF_ECLIENTGONE;
		resp->network = 1;
		return KF_EUPSTREAM;
	case CURLE_OPERATION_TIMEDOUT:
		resp->network = 1;
		return KF_ETIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return KF_ECONFIG;
	default:
		resp->network = 1;
		return KF_EUPSTREAM;
	}
}

/*
 * With OpenSSL's strings declined (http_global_init), a TLS failure names
 * its error by number only: add the command that turns it into words.
 */
static void
tls_hint(char *error, size_t size)
{
	const char	*at;
	size_t		 len, i;

	if ((at = strstr(error, "error:")) == NULL)
		return;
	at += 6;
	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)at[i]))
			return;
	if (strncmp(at + 8, ":lib(", 5) != 0)
		return;
	len = strlen(error);
	snprintf(error + len, size - len, " (`openssl errstr %.8s` names it)",
	    at);
}

/*
 * How much of a URL a cause may show: not its query or fragment, which
 * can carry a key (countTokensApiUrl?key=...), and causes reach logs.
 */
static int
url_shown(const char *url)
{
	size_t	n = strcspn(url, "?#");

	return n > INT_MAX ? INT_MAX : (int)n;
}

enum kf_err
http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
    char **cause)
{
	struct curl_slist	 stack_nodes[HTTP_STACK_HEADERS], *nodes;
	struct transfer		 t;
	CURL			*c = h->curl;
	CURLcode		 rc;
	size_t			 i, n_headers = 0;
	enum kf_err		 er;

	memset(resp, 0, sizeof(*resp));
	memset(&t, 0, sizeof(t));
	t.req = req;
	t.resp = resp;
	t.curl = c;
	t.max_body = req->max_body != 0 ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	t.last_tick = clock_mono_ms();

	/*
	 * Reset clears options but keeps connections, DNS and TLS caches.
	 * Setting the options that never change once per handle would save
	 * the reset, but libcurl 7.88 zeroes its count of retries on dead
	 * keep-alive connections only here: without it the count grows over
	 * the handle's life, and the sixth stale connection fails a call
	 * ("Connection died, tried 5 times"; test-relay-websearch's 20 MCP
	 * calls in a row met it).
	 */
	curl_easy_reset(c);
	h->errbuf[0] = '\0';

	/*
	 * The header list is ours, not curl_slist_append's: libcurl only
	 * reads CURLOPT_HTTPHEADER's list during the transfer (it neither
	 * copies, changes nor frees it), and two allocations per header on
	 * every request bought nothing.  curl adds "Expect: 100-continue"
	 * to large POSTs, a wasted RTT: the empty "Expect:" removes it.
	 */
	while (req->headers != NULL && req->headers[n_headers] != NULL)
		n_headers++;
	nodes = n_headers + 1 <= HTTP_STACK_HEADERS ? stack_nodes :
	    xcalloc(n_headers + 1, sizeof(*nodes));
	for (i = 0; i < n_headers; i++) {
		nodes[i].data = (char *)req->headers[i];
		nodes[i].next = &nodes[i + 1];
	}
	nodes[n_headers].data = (char *)"Expect:";
	nodes[n_headers].next = NULL;

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, nodes);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (http_share != NULL)
		curl_easy_setopt(c, CURLOPT_SHARE, http_share);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
	if (req->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	/* A stream that stalls (no byte for this long) is a failure. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
	    req->idle_timeout_s > 0 ? req->idle_timeout_s : 300L);
	if (req->max_redirects > 0) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, req->max_redirects);
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (req->allow_addr != NULL) {
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &t);
		curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
		curl_easy_setopt(c, CURLOPT_PREREQDATA, &t);
	}
	if (req->method != NULL && strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    req->body != NULL ? req->body : "");
	} else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	if (req->proxy_url != NULL) {
		if (strcmp(req->proxy_url, "direct") == 0)
			curl_easy_setopt(c, CURLOPT_PROXY, "");
		else {
			curl_easy_setopt(c, CURLOPT_PROXY, req->proxy_url);
			if (req->proxy_username != NULL)
				curl_easy_setopt(c, CURLOPT_PROXYUSERNAME,
				    req->proxy_username);
			if (req->proxy_password != NULL)
				curl_easy_setopt(c, CURLOPT_PROXYPASSWORD,
				    req->proxy_password);
		}
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &resp->redirects);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (nodes != stack_nodes)
		free(nodes);
	er = map_curl_error(rc, resp);
	/* A refused address fails as "could not connect" or an abort. */
	if (er != KF_OK && t.refused) {
		resp->refused = 1;
		resp->network = 0;
		snprintf(resp->error, sizeof(resp->error), "the address it "
		    "resolves to is not allowed");
		xsetprintf(cause, "%s %.*s: %s", req->method,
		    url_shown(req->url), req->url, resp->error);
		return KF_EPERM;
	}
	if (er != KF_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s",
		    h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
		tls_hint(resp->error, sizeof(resp->error));
		if (er != KF_ECLIENTGONE)
			xsetprintf(cause, "%s %.*s: %s", req->method,
			    url_shown(req->url), req->url, resp->error);
		else
			xsetprintf(cause, "transfer stopped by the gateway");
	}
	return er;
}

void
http_query_escape(struct buf *out, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char	c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~')
			buf_putc(out, (char)c);
		else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}
