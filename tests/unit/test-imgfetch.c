/* test-imgfetch.c: data: URLs decoded, http URLs fetched from a loopback server. */
#include "autoconfig.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
 * over IMGFETCH_MAX_BYTES, a refused connection, other schemes, the
 * per-request caps (IMGFETCH_MAX_PER_REQUEST fetches, then none until
 * imgfetch_new_request; IMGFETCH_MAX_REQUEST_BYTES in all); causes
 * name the host but never the query string.  Those fetches run with
 * imgfetch_allow_private on, since the server is on loopback; with it off
 * (the default) 127.0.0.1, localhost and [::1] are refused before any
 * connection is made (the server counts them), and imgfetch_addr_allowed
 * is checked against every range it refuses and its neighbours.  Fetches
 * ignore an http_proxy in the environment.  Refusals of redirect hops and
 * of reused connections are shared/http.c's, tested in test-http.c.
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
	int		accepts;
	pthread_mutex_t	lock;
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

/* A PNG-headed body of total bytes (a multiple of 64 KiB). */
static void
serve_big(int fd, size_t total)
{
	static char	chunk[65536];
	char		head[256];
	size_t		sent = 0;
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
		serve_big(fd, IMGFETCH_MAX_BYTES + 65536 * 4);
	else if (strcmp(path, "/max") == 0)
		serve_big(fd, IMGFETCH_MAX_BYTES);
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

	while ((fd = accept(s->listen_fd, NULL, NULL)) >= 0) {
		pthread_mutex_lock(&s->lock);
		s->accepts++;
		pthread_mutex_unlock(&s->lock);
		serve_one(fd);
	}
	return NULL;
}

static void
setup(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.lock, NULL);
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
	/* The server is on loopback; the default policy is tested below. */
	imgfetch_allow_private(1);
	/* Each test is a request of its own (CK_FORK=no runs them in one). */
	imgfetch_new_request();
}

static void
teardown(void)
{
	http_free(h);
	h = NULL;
	shutdown(srv.listen_fd, SHUT_RDWR);
	close(srv.listen_fd);
	pthread_join(srv.thread, NULL);
	pthread_mutex_destroy(&srv.lock);
}

static int
accepts(void)
{
	int	n;

	pthread_mutex_lock(&srv.lock);
	n = srv.accepts;
	pthread_mutex_unlock(&srv.lock);
	return n;
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

/*
 * A request fetches at most IMGFETCH_MAX_PER_REQUEST URLs: the next is
 * refused without a connection, data: URLs still decode, and the next
 * request may fetch again.
 */
START_TEST(http_fetches_capped_per_request)
{
	char	*u = url("/a.png"), *mt, *b64;
	char	*data = xasprintf("data:image/gif;base64,%s", "R0lGODlhAQABAAAAADs=");
	int	 i, before;

	for (i = 0; i < IMGFETCH_MAX_PER_REQUEST; i++) {
		b64 = fetch_ok(u, &mt);
		free(mt);
		free(b64);
	}
	before = accepts();
	fetch_bad(u, "too many image URLs to fetch in one request (at most "
	    "20, 64 MiB in all); send the others as data: URLs");
	ck_assert_int_eq(accepts(), before);
	b64 = fetch_ok(data, &mt);
	ck_assert_str_eq(mt, "image/gif");
	free(mt);
	free(b64);
	imgfetch_new_request();
	b64 = fetch_ok(u, &mt);
	free(mt);
	free(b64);
	ck_assert_int_eq(accepts(), before + 1);
	free(u);
	free(data);
}
END_TEST

/*
 * Three images of IMGFETCH_MAX_BYTES leave 4 MiB of the request's 64: a
 * fourth is cut there, then nothing more is fetched.
 */
START_TEST(http_bytes_capped_per_request)
{
	char	*u = url("/max"), *mt, *b64;
	int	 i, before;

	for (i = 0; i < 3; i++) {
		b64 = fetch_ok(u, &mt);
		ck_assert_str_eq(mt, "image/png");
		free(mt);
		free(b64);
	}
	fetch_bad(u, "the image at 127.0.0.1 is over what is left of the 64 "
	    "MiB this request may fetch in all");
	before = accepts();
	fetch_bad(u, "too many image URLs to fetch in one request");
	ck_assert_int_eq(accepts(), before);
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

START_TEST(http_direct_even_with_env_proxy)
{
	char	*u = url("/a.png"), *mt, *b64;

	/* Nothing listens on port 1: a proxy used would fail the fetch. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	b64 = fetch_ok(u, &mt);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	ck_assert_str_eq(mt, "image/png");
	free(mt);
	free(b64);
	free(u);
}
END_TEST

START_TEST(private_hosts_refused_by_default)
{
	/* Scheme and host; the test's port and a secret query follow. */
	static const char *const base[] = {
		"http://127.0.0.1",
		"http://localhost",
		"http://[::1]",
		"https://127.0.0.2",
		"http://0.0.0.0",
		"http://[::ffff:127.0.0.1]",
		"http://2130706433",	/* 127.0.0.1 */
		NULL
	};
	static const char *const host[] = {
		"127.0.0.1", "localhost", "[::1]", "127.0.0.2", "0.0.0.0",
		"[::ffff:127.0.0.1]", "127.0.0.1"
	};
	char	*u, *want, *mt = NULL, *b64 = NULL, *why = NULL;
	size_t	 i;

	imgfetch_allow_private(0);
	for (i = 0; base[i] != NULL; i++) {
		u = xasprintf("%s:%d/a.png?sig=sekrit", base[i], srv.port);
		ck_assert_int_eq(imgfetch(h, u, &mt, &b64, &why), KF_EINVAL);
		ck_assert_ptr_null(mt);
		ck_assert_ptr_null(b64);
		want = xasprintf("the image URL host %s resolves to a private "
		    "address; the gateway does not fetch those "
		    "(imageFetch.allowPrivate)", host[i]);
		ck_assert_msg(why != NULL && strcmp(why, want) == 0,
		    "%s: \"%s\"", u, why != NULL ? why : "(null)");
		ck_assert_ptr_null(strstr(why, "sekrit"));
		free(want);
		free(why);
		why = NULL;
		free(u);
	}
	/* Refused before connecting: the server saw nothing. */
	ck_assert_int_eq(accepts(), 0);
	/* data: URLs are not fetched, so the policy does not apply. */
	b64 = fetch_ok("data:image/png;base64,iVBORw0KGgo=", &mt);
	free(mt);
	free(b64);

	/* The operator's setting lets the same URL through. */
	imgfetch_allow_private(1);
	u = url("/a.png");
	b64 = fetch_ok(u, &mt);
	ck_assert_str_eq(mt, "image/png");
	ck_assert_int_eq(accepts(), 1);
	free(mt);
	free(b64);
	free(u);
	u = xasprintf("http://localhost:%d/r2", srv.port);
	b64 = fetch_ok(u, &mt);
	free(mt);
	free(b64);
	free(u);
}
END_TEST

static int
v4_ok(const char *ip)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	ck_assert_msg(inet_pton(AF_INET, ip, &sin.sin_addr) == 1, "%s", ip);
	return imgfetch_addr_allowed((struct sockaddr *)&sin);
}

static int
v6_ok(const char *ip)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	ck_assert_msg(inet_pton(AF_INET6, ip, &sin6.sin6_addr) == 1, "%s", ip);
	return imgfetch_addr_allowed((struct sockaddr *)&sin6);
}

START_TEST(addr_allowed_ipv4)
{
	static const char *const refused[] = {
		"0.0.0.0", "0.255.255.255", "10.0.0.0", "10.255.255.255",
		"100.64.0.0", "100.127.255.255", "127.0.0.1", "127.255.255.255",
		"169.254.169.254", "169.254.0.0", "172.16.0.0",
		"172.31.255.255", "192.0.0.0", "192.0.0.255", "192.0.2.1",
		"192.88.99.1", "192.168.0.1", "192.168.255.255", "198.18.0.0",
		"198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1",
		"239.255.255.250", "240.0.0.1", "255.255.255.255", NULL
	};
	static const char *const allowed[] = {
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0",
		"100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0",
		"169.253.255.255", "169.255.0.0", "172.15.255.255",
		"172.32.0.0", "192.0.1.0", "192.0.3.0", "192.88.98.255",
		"192.167.255.255", "192.169.0.0", "198.17.255.255",
		"198.20.0.0", "198.51.99.255", "203.0.112.255", "203.0.114.0",
		"223.255.255.255", NULL
	};
	size_t	i;

	for (i = 0; refused[i] != NULL; i++)
		ck_assert_msg(!v4_ok(refused[i]), "%s allowed", refused[i]);
	for (i = 0; allowed[i] != NULL; i++)
		ck_assert_msg(v4_ok(allowed[i]), "%s refused", allowed[i]);
}
END_TEST

START_TEST(addr_allowed_ipv6)
{
	static const char *const refused[] = {
		"::", "::1", "::127.0.0.1", "::8.8.8.8", "::ffff:127.0.0.1",
		"::ffff:169.254.169.254", "::ffff:10.1.2.3", "::ffff:0.0.0.0",
		"64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808",
		"100::1", "fc00::1", "fd12:3456:789a::1", "fe80::1", "febf::1",
		"fec0::1", "ff02::1", "ff0e::1", "2001:db8::1",
		"2001:db8:ffff::1", "2001:2::1", "3fff::1", "3fff:fff::1",
		"2002:7f00:1::1", "2002:c0a8:101::1", "2002:a9fe:a9fe::",
		/* Teredo, client 10.0.0.1 and 127.0.0.1 (stored inverted) */
		"2001:0:4136:e378:8000:63bf:f5ff:fffe",
		"2001:0:4136:e378:8000:63bf:80ff:fffe",
		/* Teredo through a private server */
		"2001:0:a00:1:8000:63bf:f7f7:f7f7",
		"1000::1", "4000::1", "5f00::1", "e000::1", NULL
	};
	static const char *const allowed[] = {
		"2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450::1",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
		"2001:0:4136:e378:8000:63bf:f7f7:f7f7", "2001:db7:ffff::1",
		"2001:db9::1", "2001:3::1", "3ffe::1", "3fff:1000::1", "2000::1", NULL
	};
	size_t	i;

	for (i = 0; refused[i] != NULL; i++)
		ck_assert_msg(!v6_ok(refused[i]), "%s allowed", refused[i]);
	for (i = 0; allowed[i] != NULL; i++)
		ck_assert_msg(v6_ok(allowed[i]), "%s refused", allowed[i]);
}
END_TEST

START_TEST(addr_allowed_other_families)
{
	struct sockaddr_un	sun;
	struct sockaddr		sa;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/x.sock");
	ck_assert_int_eq(imgfetch_addr_allowed((struct sockaddr *)&sun), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	ck_assert_int_eq(imgfetch_addr_allowed(&sa), 0);
	ck_assert_int_eq(imgfetch_addr_allowed(NULL), 0);
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
	tcase_add_test(tc, http_fetches_capped_per_request);
	tcase_add_test(tc, http_bytes_capped_per_request);
	tcase_add_test(tc, http_without_handle_refused);
	tcase_add_test(tc, http_direct_even_with_env_proxy);
	tcase_add_test(tc, private_hosts_refused_by_default);
	tcase_add_test(tc, addr_allowed_ipv4);
	tcase_add_test(tc, addr_allowed_ipv6);
	tcase_add_test(tc, addr_allowed_other_families);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	rc = tu_run(s);
	http_global_cleanup();
	return rc;
}
