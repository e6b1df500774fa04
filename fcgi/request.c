/* request.c: one FastCGI request: parameters, body, output, and its context. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imgfetch.h"
#include "request.h"
#include "xmalloc.h"

const char *
request_param(const struct request *req, const char *name)
{
	size_t		 len = strlen(name);
	char *const	*p;

	if (req->envp == NULL)
		return NULL;
	/*
	 * A request looks up a dozen names among some thirty parameters:
	 * the first byte turns most of them away without a call.
	 */
	for (p = req->envp; *p != NULL; p++)
		if ((*p)[0] == name[0] && strncmp(*p, name, len) == 0 &&
		    (*p)[len] == '=')
			return *p + len + 1;
	return NULL;
}

const char *
request_header_key(const struct request *req)
{
	const char	*v;

	if ((v = request_param(req, "HTTP_X_API_KEY")) != NULL && *v != '\0')
		return v;
	if ((v = request_param(req, "HTTP_AUTHORIZATION")) != NULL &&
	    strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		if (*v != '\0')
			return v;
	}
	return NULL;
}

enum kf_err
request_read_body(struct request *req, request_read_fn reader, void *stream,
    size_t max, char **cause)
{
	const char		*cl;
	char			*end, chunk[16384];
	unsigned long long	 len;
	size_t			 want;
	int			 n;

	/* A new body, a new request: its image fetches count afresh. */
	imgfetch_new_request();
	buf_reset(&req->body);
	req->body_whole = 0;
	cl = request_param(req, "CONTENT_LENGTH");
	if (cl == NULL || *cl == '\0') {
		req->body_whole = 1;
		return KF_OK;	/* no body */
	}
	errno = 0;
	len = strtoull(cl, &end, 10);
	if (errno != 0 || *end != '\0' || !isdigit((unsigned char)*cl)) {
		xsetprintf(cause, "bad Content-Length");
		return KF_EINVAL;
	}
	if (len > max) {
		xsetprintf(cause, "request body of %llu bytes is over the "
		    "limit of %zu bytes (maxRequestBytes)", len, max);
		return KF_ETOOLARGE;
	}
	while (req->body.len < len) {
		want = len - req->body.len;
		if (want > sizeof(chunk))
			want = sizeof(chunk);
		if ((n = reader(stream, chunk, (int)want)) <= 0) {
			xsetprintf(cause, "request body ended after %zu of "
			    "%llu bytes", req->body.len, len);
			return KF_EINVAL;
		}
		buf_append(&req->body, chunk, (size_t)n);
	}
	buf_cstr(&req->body);
	req->body_whole = 1;
	return KF_OK;
}

int
request_client_gone(void *arg)
{
	struct request	*req = arg;
	struct pollfd	 pfd;
	char		 byte;
	ssize_t		 n;

	if (req->ipc_fd < 0 || req->out.failed)
		return req->out.failed;
	pfd.fd = req->ipc_fd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
		return 1;
	/*
	 * The body has been read whole, so anything the web server sends
	 * now is FCGI_ABORT_REQUEST, or the end of the connection.
	 */
	n = recv(req->ipc_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	return n >= 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX (and "+" when plus_is_space) into a new string. */
static char *
url_decode(const char *s, size_t len, int plus_is_space)
{
	struct buf	out = BUF_INIT;
	size_t		i;
	int		hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			buf_putc(&out, (char)(hi << 4 | lo));
			i += 2;
		} else if (s[i] == '+' && plus_is_space)
			buf_putc(&out, ' ');
		else
			buf_putc(&out, s[i]);
	}
	return buf_detach(&out);
}

char *
request_query(const struct request *req, const char *name)
{
	const char	*p = req->query, *amp, *eq;
	size_t		 nlen = strlen(name);

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		eq = memchr(p, '=', amp != NULL ? (size_t)(amp - p) :
		    strlen(p));
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    strncmp(p, name, nlen) == 0)
			return url_decode(eq + 1, amp != NULL ?
			    (size_t)(amp - eq - 1) : strlen(eq + 1), 1);
		p = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

char *
request_route_path(const char *script_name, const char *path_info,
    const char *request_uri)
{
	const char	*q;
	size_t		 len;

	if (path_info != NULL && *path_info != '\0')
		return xstrdup(path_info);
	if (request_uri != NULL && *request_uri != '\0') {
		q = strchr(request_uri, '?');
		len = q != NULL ? (size_t)(q - request_uri) :
		    strlen(request_uri);
		return url_decode(request_uri, len, 0);
	}
	return xstrdup(script_name != NULL && *script_name != '\0' ?
	    script_name : "/");
}
