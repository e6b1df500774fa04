/* test-imgfetch.c: data: URLs decoded, http URLs fetched from a loopback server. */
#include "autoconfig.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "digest.h"
#include "http.h"
#include "imgfetch.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers shared/imgfetch.c: data: URLs (standard and url-safe base64, the
 * type checked, malformed ones refused), and http URLs served by a small
 * server in this file: a PNG, a GIF served as image/png (the bytes decide),
 * two redirects followed and a fourth refused, 404, a text body, a body
 * over IMGFETCH_MAX_BYTES, a refused connection, other schemes; causes
 * name the host but never the query string.
 */

static const unsigned char png[] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
	'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4,
	0x89
};
static const char gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";

struct server {
	int		listen_fd;
	int		port;
	pthread_t	thread;
};

static struct server	srv;
static struct http	*h;

static void
reply(int fd, const char *status, const char *extra, const void *body,
    size_t len)
{
	char	head[512];
	int	n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n%s\r\n", status, len, extra);
	(void)send(fd, head, (size_t)n, MSG_NOSIGNAL);
	if (len > 0)
		(void)send(fd, body, len, MSG_NOSIGNAL);
}

static void
serve_big(int fd)
{
	static char	chunk[65536];
	char		head[256];
	size_t		sent = 0, total = IMGFETCH_MAX_BYTES + 65536 * 4;
	int		n;

	memcpy(chunk, png, sizeof(png));
	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nConnection: "
	    "close\r\nContent-Type: image/png\r\nContent-Length: %zu\r\n\r\n",
	    total);
	(void)send(fd, head, (size_t)n, MSG_NOSIGNAL);
	while (sent < total) {
		if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
			break;
		sent += sizeof(chunk);
	}
}

static void
serve_one(int fd)
{
	struct buf	 in = BUF_INIT;
	char		 chunk[2048], path[256];
	ssize_t		 got;

	while (in.len < 16384 && (in.ptr == NULL ||
	    strstr(in.ptr, "\r\n\r\n") == NULL)) {
		if ((got = read(fd, chunk, sizeof(chunk))) <= 0)
			break;
		buf_append(&in, chunk, (size_t)got);
	}
	path[0] = '\0';
	if (in.ptr != NULL)
		(void)sscanf(in.ptr, "GET %255s ", path);
	if (strcmp(path, "/a.png") == 0)
		reply(fd, "200 OK", "Content-Type: image/png\r\n", png,
		    sizeof(png));
	else if (strcmp(path, "/lying.png") == 0)
		reply(fd, "200 OK", "Content-Type: image/png\r\n", gif,
		    sizeof(gif) - 1);
	else if (strcmp(path, "/text") == 0)
		reply(fd, "200 OK", "Content-Type: text/plain\r\n", "hello", 5);
	else if (strcmp(path, "/big") == 0)
		serve_big(fd);
	else if (strncmp(path, "/r", 2) == 0 && path[2] >= '1' &&
	    path[2] <= '9' && path[3] == '\0') {
		char	loc[64];

		/* /rN redirects N times before the PNG. */
		if (path[2] == '1')
			snprintf(loc, sizeof(loc), "Location: /a.png\r\n");
		else
			snprintf(loc, sizeof(loc), "Location: /r%c\r\n",
			    path[2] - 1);
		reply(fd, "302 Found", loc, "", 0);
	} else
		reply(fd, "404 Not Found", "Content-Type: text/plain\r\n",
		    "no", 2);
	buf_free(&in);
	close(fd);
}

static void *
server_main(void *arg)
{
	struct server	*s = arg;
	int		 fd;

	while ((fd = accept(s->listen_fd, NULL, NULL)) >= 0)
		serve_one(fd);
	return NULL;
}

static void
setup(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(&srv, 0, sizeof(srv));
	ck_assert_int_ge(srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(srv.listen_fd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	ck_assert_int_eq(listen(srv.listen_fd, 16), 0);
	ck_assert_int_eq(getsockname(srv.listen_fd, (struct sockaddr *)&sin,
	    &len), 0);
	srv.port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&srv.thread, NULL, server_main, &srv),
	    0);
	h = http_new();
}

static void
teardown(void)
{
	http_free(h);
	h = NULL;
	shutdown(srv.listen_fd, SHUT_RDWR);
	close(srv.listen_fd);
	pthread_join(srv.thread, NULL);
}

static char *
url(const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", srv.port, path);
}

/* Fetches and expects success; returns the base64, media type in *mt. */
static char *
fetch_ok(const char *u, char **mt)
{
	char	*b64 = NULL, *why = NULL;

	ck_assert_msg(imgfetch(h, u, mt, &b64, &why) == KF_OK, "%s: %s", u,
	    why != NULL ? why : "?");
	ck_assert_ptr_null(why);
	return b64;
}

/* Fetches and expects KF_EINVAL with a cause containing want. */
static void
fetch_bad(const char *u, const char *want)
{
	char	*mt = NULL, *b64 = NULL, *why = NULL;

	ck_assert_int_eq(imgfetch(h, u, &mt, &b64, &why), KF_EINVAL);
	ck_assert_ptr_null(mt);
	ck_assert_ptr_null(b64);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, want) != NULL, "cause \"%s\" lacks \"%s\"",
	    why, want);
	free(why);
}

static char *
b64_of(const void *p, size_t len)
{
	struct buf	b = BUF_INIT;

	base64_encode(&b, p, len);
	return buf_detach(&b);
}

START_TEST(data_url_standard_and_urlsafe)
{
	char	*mt, *b64, *u, *want;

	u = xstrdup("data:image/png;base64,iVBORw0KGgo=");
	b64 = fetch_ok(u, &mt);
	ck_assert_str_eq(mt, "image/png");
	ck_assert_str_eq(b64, "iVBORw0KGgo=");
	free(mt);
	free(b64);
	free(u);
	/* url-safe, unpadded, upper-case type with a parameter: normalised. */
	b64 = fetch_ok("data:IMAGE/JPG;name=x.jpg;base64,_-_-AA", &mt);
	ck_assert_str_eq(mt, "image/jpeg");
	ck_assert_str_eq(b64, "/+/+AA==");
	free(mt);
	free(b64);
	want = b64_of(gif, sizeof(gif) - 1);
	u = xasprintf("data:image/gif;base64,%s", want);
	b64 = fetch_ok(u, &mt);
	ck_assert_str_eq(mt, "image/gif");
	ck_assert_str_eq(b64, want);
	free(mt);
	free(b64);
	free(u);
	free(want);
}
END_TEST

START_TEST(data_url_refused)
{
	fetch_bad("data:text/plain;base64,aGVsbG8=", "\"text/plain\" is not a "
	    "supported image");
	fetch_bad("data:image/png,rawbytes", "must be base64");
	fetch_bad("data:image/png;base64,not base64!", "malformed data: URL");
	fetch_bad("data:image/png;base64,", "malformed data: URL");
	fetch_bad("data:image/png;base64", "malformed data: URL");
	fetch_bad("ftp://example.com/a.png", "must be data: or http(s)");
	fetch_bad("file:///etc/passwd", "must be data: or http(s)");
}
END_TEST

START_TEST(http_png_fetched)
{
	char	*u = url("/a.png"), *mt, *b64, *want = b64_of(png, sizeof(png));

	b64 = fetch_ok(u, &mt);
	ck_assert_str_eq(mt, "image/png");
	ck_assert_str_eq(b64, want);
	free(mt);
	free(b64);
	free(u);
	free(want);
}
END_TEST

START_TEST(http_media_type_from_bytes)
{
	char	*u = url("/lying.png"), *mt, *b64;

	b64 = fetch_ok(u, &mt);
	ck_assert_str_eq(mt, "image/gif");
	free(mt);
	free(b64);
	free(u);
}
END_TEST

START_TEST(http_redirects_followed_up_to_three)
{
	char	*u = url("/r3"), *mt, *b64, *want = b64_of(png, sizeof(png));

	b64 = fetch_ok(u, &mt);
	ck_assert_str_eq(b64, want);
	free(mt);
	free(b64);
	free(u);
	u = url("/r4");
	fetch_bad(u, "could not be fetched from 127.0.0.1");
	free(u);
	free(want);
}
END_TEST

START_TEST(http_failures_are_einval_naming_the_host)
{
	char	*u;
	int	 fd, port;
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	u = url("/missing?token=sekrit");
	fetch_bad(u, "fetching the image from 127.0.0.1 failed: HTTP 404");
	free(u);
	u = url("/text");
	fetch_bad(u, "what 127.0.0.1 answered is not a PNG");
	free(u);
	u = url("/big");
	fetch_bad(u, "is over the 20971520 byte limit");
	free(u);
	/* A port nothing listens on: bound, never listening. */
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	u = xasprintf("http://127.0.0.1:%d/a.png?sig=sekrit", port);
	fetch_bad(u, "could not be fetched from 127.0.0.1");
	free(u);
	close(fd);
	fetch_bad("http://[::1", "malformed");
}
END_TEST

START_TEST(http_cause_never_has_the_query)
{
	char	*u = url("/missing?access_token=sekrit"), *mt = NULL;
	char	*b64 = NULL, *why = NULL;

	ck_assert_int_eq(imgfetch(h, u, &mt, &b64, &why), KF_EINVAL);
	ck_assert_ptr_null(strstr(why, "sekrit"));
	ck_assert_ptr_null(strstr(why, "missing"));
	free(why);
	free(u);
}
END_TEST

START_TEST(http_without_handle_refused)
{
	char	*mt = NULL, *b64 = NULL, *why = NULL;

	ck_assert_int_eq(imgfetch(NULL, "http://127.0.0.1/a.png", &mt, &b64,
	    &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "data: URL"));
	free(why);
	/* data: needs no handle. */
	ck_assert_int_eq(imgfetch(NULL, "data:image/webp;base64,UklGRg==",
	    &mt, &b64, &why), KF_OK);
	ck_assert_str_eq(mt, "image/webp");
	free(mt);
	free(b64);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("imgfetch");
	TCase	*tc = tcase_create("imgfetch");
	int	 rc;

	http_global_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, data_url_standard_and_urlsafe);
	tcase_add_test(tc, data_url_refused);
	tcase_add_test(tc, http_png_fetched);
	tcase_add_test(tc, http_media_type_from_bytes);
	tcase_add_test(tc, http_redirects_followed_up_to_three);
	tcase_add_test(tc, http_failures_are_einval_naming_the_host);
	tcase_add_test(tc, http_cause_never_has_the_query);
	tcase_add_test(tc, http_without_handle_refused);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	rc = tu_run(s);
	http_global_cleanup();
	return rc;
}
