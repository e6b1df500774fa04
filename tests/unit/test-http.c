/* test-http.c: the libcurl wrapper against the mock upstream and a counting server. */
#include "autoconfig.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "eventstream.h"
#include "http.h"
#include "json.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers shared/http.c: GET and POST with headers (41 of them too, past
 * the list on the stack, twice on one handle) and an exact body length
 * as the mock sees them (/_mock/requests), error bodies collected and
 * capped at max_body, a 200 event stream handed to on_data (decoded here),
 * on_data and on_tick aborting (KF_ECLIENTGONE), on_tick during a slow
 * answer, connection refused and a cut-off stream (KF_EUPSTREAM with
 * network set), timeout_ms and the idle timeout (KF_ETIMEOUT), connection
 * reuse on one struct http (counted by a small server in this file, since
 * the mock's log does not show connections), and proxies: "direct" ignores
 * an http_proxy from the environment, NULL honours it, and an explicit
 * proxy (the mock itself) gets the request and its credentials.
 */

#define TOKEN	"aoa-http-test-token"
#define AUTH	"Authorization: Bearer " TOKEN
#define GEN_BODY_FMT "{\"conversationState\":{\"chatTriggerType\":\"MANUAL\"," \
	"\"conversationId\":\"c0ffee00-1111-4222-8333-444455556666\"," \
	"\"currentMessage\":{\"userInputMessage\":{\"content\":\"%s\"," \
	"\"modelId\":\"claude-sonnet-4.5\",\"origin\":\"AI_EDITOR\"}}}}"

static struct tu_mock	mock;

static void
mock_setup(void)
{
	struct buf	out = BUF_INIT;

	tu_mock_start(&mock);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts",
	    "{\"accessToken\":\"" TOKEN "\"}", &out), 200);
	buf_free(&out);
}

static void
mock_teardown(void)
{
	tu_mock_stop(&mock);
}

static char *
mock_url(const char *path)
{
	return xasprintf("%s%s", mock.base, path);
}

/* Queues one scripted response (JSON text) for an endpoint. */
static void
mock_script_for(const char *endpoint, const char *response)
{
	struct buf	 out = BUF_INIT;
	char		*body;

	body = xasprintf("{\"match\":{\"endpoint\":\"%s\"},\"times\":1,"
	    "\"response\":%s}", endpoint, response);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/script", body, &out), 200);
	free(body);
	buf_free(&out);
}

/* Queues one scripted answer to generateAssistantResponse. */
static void
mock_script(const char *response)
{
	mock_script_for("generateAssistantResponse", response);
}

/* The mock's request log for op (an array; caller puts). */
static json_object *
mock_log(const char *op)
{
	struct buf	 out = BUF_INIT;
	json_object	*v = NULL;
	char		*path;

	path = xasprintf("/_mock/requests?op=%s", op);
	ck_assert_int_eq(tu_mock_call(&mock, path, NULL, &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 64, &v, NULL), KF_OK);
	ck_assert(json_object_is_type(v, json_type_array));
	free(path);
	buf_free(&out);
	return v;
}

/* Header name (lower case) of a log entry, or NULL. */
static const char *
entry_header(json_object *entry, const char *name)
{
	json_object	*h;
	const char	*s;

	ck_assert_int_eq(json_get_obj(entry, "headers", &h), 1);
	return json_get_str(h, name, &s) == 1 ? s : NULL;
}

static char *
gen_body(const char *content)
{
	return xasprintf(GEN_BODY_FMT, content);
}

/* A request with the usual defaults. */
static void
req_init(struct http_req *req, const char *method, const char *url,
    const char *const *headers)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->headers = headers;
	req->proxy_url = "direct";
	req->connect_timeout_ms = 5000;
	req->timeout_ms = 30000;
}

/* ---- reaching the mock ---- */

START_TEST(http_get_with_headers_reaches_mock)
{
	const char *const	 headers[] = { AUTH, "X-Test: one",
	    "X-Other: two words", NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	json_object		*log, *e, *v, *q;
	char			*url, *why = NULL;
	const char		*s;

	url = mock_url("/getUsageLimits?origin=AI_EDITOR&resourceType="
	    "AGENTIC_REQUEST");
	req_init(&req, "GET", url, headers);
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.network, 0);
	ck_assert_int_eq(resp.aborted, 0);
	ck_assert_int_eq(json_parse(resp.body.ptr, resp.body.len, 64, &v,
	    NULL), KF_OK);
	ck_assert_int_eq(json_get_obj(v, "subscriptionInfo", &q), 1);
	json_object_put(v);

	log = mock_log("getUsageLimits");
	ck_assert_uint_eq(json_object_array_length(log), 1);
	e = json_object_array_get_idx(log, 0);
	ck_assert_int_eq(json_get_str(e, "method", &s), 1);
	ck_assert_str_eq(s, "GET");
	ck_assert_int_eq(json_get_obj(e, "query", &q), 1);
	ck_assert_int_eq(json_get_str(q, "resourceType", &s), 1);
	ck_assert_str_eq(s, "AGENTIC_REQUEST");
	ck_assert_str_eq(entry_header(e, "x-test"), "one");
	ck_assert_str_eq(entry_header(e, "x-other"), "two words");
	ck_assert_str_eq(entry_header(e, "authorization"), "Bearer " TOKEN);
	json_object_put(log);
	http_resp_free(&resp);
	http_free(h);
	free(url);
}
END_TEST

/* More headers than http_do keeps on its stack: every one is sent. */
START_TEST(http_many_headers_all_reach_mock)
{
	const char		*headers[42];
	char			 lines[40][32], name[16], value[16];
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	json_object		*log, *e;
	char			*url, *why = NULL;
	size_t			 i;
	int			 round;

	headers[0] = AUTH;
	for (i = 0; i < 40; i++) {
		snprintf(lines[i], sizeof(lines[i]), "X-Many-%zu: value %zu",
		    i, i);
		headers[i + 1] = lines[i];
	}
	headers[41] = NULL;
	url = mock_url("/getUsageLimits?origin=AI_EDITOR");
	/* Twice on one handle: the second transfer sends them all again. */
	for (round = 0; round < 2; round++) {
		req_init(&req, "GET", url, headers);
		ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
		ck_assert_int_eq(resp.status, 200);
		http_resp_free(&resp);
	}
	log = mock_log("getUsageLimits");
	ck_assert_uint_eq(json_object_array_length(log), 2);
	for (round = 0; round < 2; round++) {
		e = json_object_array_get_idx(log, round);
		for (i = 0; i < 40; i++) {
			snprintf(name, sizeof(name), "x-many-%zu", i);
			snprintf(value, sizeof(value), "value %zu", i);
			ck_assert_ptr_nonnull(entry_header(e, name));
			ck_assert_str_eq(entry_header(e, name), value);
		}
		ck_assert_str_eq(entry_header(e, "authorization"),
		    "Bearer " TOKEN);
		ck_assert_ptr_null(entry_header(e, "expect"));
	}
	json_object_put(log);
	http_free(h);
	free(url);
}
END_TEST

START_TEST(http_post_body_and_headers_reach_mock)
{
	const char *const	 headers[] = { AUTH, "Content-Type: "
	    "application/json", "X-Test: post", NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	json_object		*log, *e, *b, *cs;
	struct buf		 body = BUF_INIT;
	char			*url, *pad, *gen, *why = NULL;
	const char		*s;
	int64_t			 n;

	/*
	 * Over 1 MiB (libcurl would add "Expect: 100-continue" and wait for
	 * the answer), and junk after body_len that must not be sent.
	 */
	pad = xmalloc(1100001);
	memset(pad, 'p', 1100000);
	pad[1100000] = '\0';
	gen = gen_body(pad);
	buf_puts(&body, gen);
	buf_puts(&body, "JUNK-AFTER-THE-BODY");
	url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", url, headers);
	req.body = body.ptr;
	req.body_len = strlen(gen);
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	ck_assert_int_eq(resp.status, 200);

	log = mock_log("generateAssistantResponse");
	ck_assert_uint_eq(json_object_array_length(log), 1);
	e = json_object_array_get_idx(log, 0);
	ck_assert_int_eq(json_get_str(e, "method", &s), 1);
	ck_assert_str_eq(s, "POST");
	ck_assert_int_eq(json_get_int(e, "body_bytes", &n), 1);
	ck_assert_int_eq(n, (int64_t)strlen(gen));
	ck_assert_int_eq(json_get_obj(e, "body", &b), 1);
	ck_assert_int_eq(json_get_obj(b, "conversationState", &cs), 1);
	ck_assert_str_eq(entry_header(e, "x-test"), "post");
	ck_assert_str_eq(entry_header(e, "content-type"), "application/json");
	ck_assert_ptr_null(entry_header(e, "expect"));
	json_object_put(log);
	http_resp_free(&resp);
	http_free(h);
	buf_free(&body);
	free(url);
	free(gen);
	free(pad);
}
END_TEST

/* ---- bodies ---- */

static int
count_data(void *arg, const char *data, size_t len)
{
	size_t	*n = arg;

	(void)data;
	*n += len;
	return 0;
}

START_TEST(http_error_body_collected_and_capped)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct buf		 script = BUF_INIT;
	char			*url, *big, *why = NULL;
	size_t			 i, streamed = 0;

	/* Big enough to arrive in several pieces. */
	big = xmalloc(200001);
	for (i = 0; i < 200000; i++)
		big[i] = (char)('a' + i % 26);
	big[200000] = '\0';
	buf_printf(&script, "{\"kind\":\"http_error\",\"status\":500,"
	    "\"body\":\"%s\"}", big);
	mock_script_for("getUsageLimits", script.ptr);
	mock_script_for("getUsageLimits", script.ptr);
	url = mock_url("/getUsageLimits");

	/* Capped: a 500 is still a complete answer (KF_OK). */
	req_init(&req, "GET", url, headers);
	req.max_body = 100;
	req.on_data = count_data;
	req.arg = &streamed;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	ck_assert_int_eq(resp.status, 500);
	ck_assert_uint_eq(resp.body.len, 100);
	ck_assert_int_eq(memcmp(resp.body.ptr, big, 100), 0);
	/* Error bodies never go to on_data. */
	ck_assert_uint_eq(streamed, 0);
	ck_assert_int_eq(resp.body_started, 0);
	http_resp_free(&resp);

	/* The default cap (1 MiB) keeps all of it. */
	req.max_body = 0;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	ck_assert_int_eq(resp.status, 500);
	ck_assert_uint_eq(resp.body.len, 200000);
	ck_assert_str_eq(buf_cstr(&resp.body), big);
	http_resp_free(&resp);
	ck_assert_ptr_null(why);
	buf_free(&script);
	http_free(h);
	free(url);
	free(big);
}
END_TEST

struct stream_seen {
	struct es_decoder	*dec;
	struct buf		 text;
	int			 frames;
	int			 calls;
	int			 stop_after;	/* abort on this call; 0: never */
	int			 ticks;
	int			 stop_after_ticks;
};

static int
on_frame(void *arg, const struct es_frame *f)
{
	struct stream_seen	*ss = arg;
	json_object		*v = NULL;
	const char		*s;

	ss->frames++;
	if (es_str_eq(f->event_type, "assistantResponseEvent") &&
	    json_parse(f->payload.ptr, f->payload.len, 16, &v, NULL) ==
	    KF_OK) {
		if (json_get_str(v, "content", &s) == 1)
			buf_puts(&ss->text, s);
		json_object_put(v);
	}
	return 0;
}

static int
on_stream(void *arg, const char *data, size_t len)
{
	struct stream_seen	*ss = arg;

	ss->calls++;
	if (ss->stop_after > 0 && ss->calls >= ss->stop_after)
		return 1;
	if (ss->dec != NULL)
		ck_assert_int_eq(es_decoder_feed(ss->dec, data, len), ES_OK);
	return 0;
}

static int
on_tick(void *arg)
{
	struct stream_seen	*ss = arg;

	ss->ticks++;
	return ss->stop_after_ticks > 0 && ss->ticks >= ss->stop_after_ticks;
}

START_TEST(http_on_data_streams_the_event_stream)
{
	const char *const	 headers[] = { AUTH, "Content-Type: "
	    "application/json", NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct stream_seen	 ss;
	char			*url, *body, *why = NULL;

	memset(&ss, 0, sizeof(ss));
	ss.dec = es_decoder_new(on_frame, &ss);
	body = gen_body("hi there");
	url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", url, headers);
	req.body = body;
	req.body_len = strlen(body);
	req.on_data = on_stream;
	req.arg = &ss;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.body_started, 1);
	/* A 2xx body goes to on_data only. */
	ck_assert_uint_eq(resp.body.len, 0);
	ck_assert_int_gt(ss.calls, 0);
	/* 3 text frames, metering and context usage, all whole. */
	ck_assert_int_eq(ss.frames, 5);
	ck_assert_uint_eq(es_decoder_pending(ss.dec), 0);
	ck_assert_uint_eq(es_decoder_errors(ss.dec), 0);
	ck_assert_str_eq(buf_cstr(&ss.text), "Hello from mock Kiro. You said: "
	    "hi there");
	es_decoder_free(ss.dec);
	buf_free(&ss.text);
	http_resp_free(&resp);
	http_free(h);
	free(body);
	free(url);
}
END_TEST

START_TEST(http_on_data_abort_is_client_gone)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct stream_seen	 ss;
	char			*url, *body, *why = NULL;

	mock_script("{\"kind\":\"slow\",\"count\":5,\"delay_ms\":50}");
	memset(&ss, 0, sizeof(ss));
	ss.stop_after = 1;
	body = gen_body("abort me");
	url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", url, headers);
	req.body = body;
	req.body_len = strlen(body);
	req.on_data = on_stream;
	req.arg = &ss;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_ECLIENTGONE);
	ck_assert_int_eq(ss.calls, 1);
	ck_assert_int_eq(resp.aborted, 1);
	ck_assert_int_eq(resp.network, 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_nonnull(why);
	http_resp_free(&resp);

	/* The handle is still good afterwards. */
	free(why);
	why = NULL;
	ss.stop_after = 0;
	ss.calls = 0;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_gt(ss.calls, 0);
	http_resp_free(&resp);
	http_free(h);
	free(body);
	free(url);
}
END_TEST

START_TEST(http_on_tick_during_slow_and_abort_during_hang)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct stream_seen	 ss;
	char			*url, *body, *why = NULL;
	int64_t			 started, elapsed;

	/* 4 chunks 600 ms apart: the answer takes at least 1.8 s. */
	mock_script("{\"kind\":\"slow\",\"count\":4,\"delay_ms\":600}");
	memset(&ss, 0, sizeof(ss));
	body = gen_body("slow");
	url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", url, headers);
	req.body = body;
	req.body_len = strlen(body);
	req.on_data = on_stream;
	req.on_tick = on_tick;
	req.arg = &ss;
	started = clock_mono_ms();
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_OK);
	elapsed = clock_mono_ms() - started;
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_ge(ss.ticks, 1);
	/* About once a second: never more often. */
	ck_assert_int_le(ss.ticks, elapsed / 1000);
	http_resp_free(&resp);

	/* A hang that never ends: the tick stops it. */
	mock_script("{\"kind\":\"hang\",\"after_headers\":true,"
	    "\"max_ms\":60000}");
	memset(&ss, 0, sizeof(ss));
	ss.stop_after_ticks = 2;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_ECLIENTGONE);
	ck_assert_int_eq(ss.ticks, 2);
	ck_assert_int_eq(resp.aborted, 1);
	ck_assert_int_eq(resp.network, 0);
	http_resp_free(&resp);
	free(why);
	http_free(h);
	free(body);
	free(url);
}
END_TEST

/* ---- failures ---- */

/* A port that refuses: bound, never listening (kept until closed). */
static int
refusing_port(int *fd)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	ck_assert_int_ge(*fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

START_TEST(http_connection_refused_is_network_error)
{
	const char *const	 headers[] = { "Authorization: Bearer "
	    "secret-never-shown", NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	char			*url, *why = NULL;
	int			 fd, port;

	port = refusing_port(&fd);
	url = xasprintf("http://127.0.0.1:%d/getUsageLimits", port);
	req_init(&req, "GET", url, headers);
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_EUPSTREAM);
	ck_assert_int_eq(resp.network, 1);
	ck_assert_int_eq(resp.status, 0);
	ck_assert_int_eq(resp.aborted, 0);
	ck_assert(resp.error[0] != '\0');
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, url));
	ck_assert_ptr_null(strstr(why, "secret-never-shown"));
	http_resp_free(&resp);
	close(fd);
	http_free(h);
	free(url);
	free(why);
}
END_TEST

START_TEST(http_cut_off_stream_is_network_error)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct stream_seen	 ss;
	char			*url, *body, *why = NULL;

	mock_script("\"cutoff\"");
	memset(&ss, 0, sizeof(ss));
	body = gen_body("cut");
	url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", url, headers);
	req.body = body;
	req.body_len = strlen(body);
	req.on_data = on_stream;
	req.arg = &ss;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_EUPSTREAM);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.network, 1);
	ck_assert_int_eq(resp.body_started, 1);
	http_resp_free(&resp);
	http_free(h);
	free(body);
	free(url);
	free(why);
}
END_TEST

START_TEST(http_timeouts_are_etimeout)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct stream_seen	 ss;
	char			*url, *body, *why = NULL;

	/* The whole transfer: nothing at all arrives. */
	mock_script("{\"kind\":\"hang\",\"max_ms\":60000}");
	body = gen_body("wait");
	url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", url, headers);
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = 300;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_ETIMEOUT);
	ck_assert_int_eq(resp.network, 1);
	ck_assert_int_eq(resp.status, 0);
	http_resp_free(&resp);
	free(why);
	why = NULL;

	/* Idle: the headers came, then silence. */
	mock_script("{\"kind\":\"hang\",\"after_headers\":true,"
	    "\"max_ms\":60000}");
	memset(&ss, 0, sizeof(ss));
	req.timeout_ms = 0;
	req.idle_timeout_s = 1;
	req.on_data = on_stream;
	req.arg = &ss;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_ETIMEOUT);
	ck_assert_int_eq(resp.network, 1);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);
	free(why);
	http_free(h);
	free(body);
	free(url);
}
END_TEST

/* ---- connection reuse, counted by a tiny keep-alive server ---- */

#define MAX_CONNS	8

struct counting_server {
	int		 listen_fd;
	int		 stop_pipe[2];
	int		 port;
	int		 accepts;
	const char	*reply;		/* the answer to every request */
	pthread_mutex_t	 lock;
	pthread_t	 thread;
};

static void *
server_main(void *arg)
{
	struct counting_server	*cs = arg;
	struct pollfd		 pfd[MAX_CONNS + 2];
	struct buf		 in[MAX_CONNS];
	int			 conn[MAX_CONNS];
	const char		*reply = cs->reply;
	char			 chunk[4096];
	size_t			 i, n;
	ssize_t			 got;
	int			 fd;

	for (i = 0; i < MAX_CONNS; i++) {
		conn[i] = -1;
		memset(&in[i], 0, sizeof(in[i]));
	}
	for (;;) {
		pfd[0].fd = cs->stop_pipe[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = cs->listen_fd;
		pfd[1].events = POLLIN;
		for (i = 0; i < MAX_CONNS; i++) {
			pfd[i + 2].fd = conn[i];
			pfd[i + 2].events = POLLIN;
		}
		if (poll(pfd, MAX_CONNS + 2, -1) < 0)
			continue;
		if (pfd[0].revents != 0)
			break;
		if (pfd[1].revents & POLLIN) {
			fd = accept(cs->listen_fd, NULL, NULL);
			for (i = 0; fd >= 0 && i < MAX_CONNS; i++)
				if (conn[i] < 0) {
					conn[i] = fd;
					fd = -1;
				}
			if (fd >= 0)
				close(fd);
			pthread_mutex_lock(&cs->lock);
			cs->accepts++;
			pthread_mutex_unlock(&cs->lock);
		}
		for (i = 0; i < MAX_CONNS; i++) {
			if (conn[i] < 0 || pfd[i + 2].revents == 0)
				continue;
			got = read(conn[i], chunk, sizeof(chunk));
			if (got <= 0) {
				close(conn[i]);
				conn[i] = -1;
				buf_reset(&in[i]);
				continue;
			}
			buf_append(&in[i], chunk, (size_t)got);
			/* GET requests only: a head is a whole request. */
			while (in[i].len > 0 && strstr(buf_cstr(&in[i]),
			    "\r\n\r\n") != NULL) {
				n = (size_t)(strstr(in[i].ptr, "\r\n\r\n") -
				    in[i].ptr) + 4;
				buf_consume(&in[i], n);
				if (write(conn[i], reply, strlen(reply)) < 0)
					break;
			}
		}
	}
	for (i = 0; i < MAX_CONNS; i++) {
		if (conn[i] >= 0)
			close(conn[i]);
		buf_free(&in[i]);
	}
	return NULL;
}

static void
server_start_replying(struct counting_server *cs, const char *reply)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(cs, 0, sizeof(*cs));
	cs->reply = reply;
	pthread_mutex_init(&cs->lock, NULL);
	ck_assert_int_eq(pipe(cs->stop_pipe), 0);
	ck_assert_int_ge(cs->listen_fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(cs->listen_fd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	ck_assert_int_eq(listen(cs->listen_fd, 16), 0);
	ck_assert_int_eq(getsockname(cs->listen_fd, (struct sockaddr *)&sin,
	    &len), 0);
	cs->port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&cs->thread, NULL, server_main, cs),
	    0);
}

static void
server_start(struct counting_server *cs)
{
	server_start_replying(cs, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "text/plain\r\nContent-Length: 2\r\n\r\nok");
}

static int
server_accepts(struct counting_server *cs)
{
	int	n;

	pthread_mutex_lock(&cs->lock);
	n = cs->accepts;
	pthread_mutex_unlock(&cs->lock);
	return n;
}

static void
server_stop(struct counting_server *cs)
{
	ck_assert_int_eq(write(cs->stop_pipe[1], "x", 1), 1);
	pthread_join(cs->thread, NULL);
	close(cs->listen_fd);
	close(cs->stop_pipe[0]);
	close(cs->stop_pipe[1]);
	pthread_mutex_destroy(&cs->lock);
}

static void
get_ok(struct http *h, const char *url)
{
	struct http_req		req;
	struct http_resp	resp;
	char			*why = NULL;

	req_init(&req, "GET", url, NULL);
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(buf_cstr(&resp.body), "ok");
	http_resp_free(&resp);
}

START_TEST(http_connection_reused_on_one_handle)
{
	struct counting_server	 cs;
	struct http		*h, *other;
	char			*url;

	server_start(&cs);
	url = xasprintf("http://127.0.0.1:%d/x", cs.port);
	h = http_new();
	get_ok(h, url);
	ck_assert_int_eq(server_accepts(&cs), 1);
	get_ok(h, url);
	get_ok(h, url);
	/* Same handle, same connection. */
	ck_assert_int_eq(server_accepts(&cs), 1);
	/* Another handle has its own: the counter does count. */
	other = http_new();
	get_ok(other, url);
	ck_assert_int_eq(server_accepts(&cs), 2);
	http_free(other);
	http_free(h);
	server_stop(&cs);
	free(url);
}
END_TEST

/* ---- allow_addr: every hop, reused connections too ---- */

static int	allowed_port, allowed_port2;

/* Allows given ports only, so that two loopback servers differ. */
static int
allow_ports(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin = (const void *)sa;

	return sa->sa_family == AF_INET && (ntohs(sin->sin_port) ==
	    allowed_port || ntohs(sin->sin_port) == allowed_port2);
}

static enum kf_err
get_checked(struct http *h, const char *url, struct http_resp *resp,
    char **why)
{
	struct http_req		req;

	req_init(&req, "GET", url, NULL);
	req.max_redirects = 3;
	req.allow_addr = allow_ports;
	return http_do(h, &req, resp, why);
}

START_TEST(http_allow_addr_checks_every_hop_and_reused_connections)
{
	struct counting_server	 a, b;
	struct http		*h = http_new();
	struct http_resp	 resp;
	char			*url_a, *url_b, *redirect, *why = NULL;

	server_start(&b);
	redirect = xasprintf("HTTP/1.1 302 Found\r\nLocation: "
	    "http://127.0.0.1:%d/x\r\nContent-Length: 0\r\n\r\n", b.port);
	server_start_replying(&a, redirect);
	url_a = xasprintf("http://127.0.0.1:%d/start?token=t0k", a.port);
	url_b = xasprintf("http://127.0.0.1:%d/x", b.port);

	/* Allowed first hop, refused second: b is never dialled. */
	allowed_port = a.port;
	ck_assert_int_eq(get_checked(h, url_a, &resp, &why), KF_EPERM);
	ck_assert_int_eq(resp.refused, 1);
	ck_assert_int_eq(resp.network, 0);
	ck_assert_int_eq(resp.redirects, 1);
	ck_assert_int_eq(server_accepts(&a), 1);
	ck_assert_int_eq(server_accepts(&b), 0);
	ck_assert_ptr_nonnull(strstr(resp.error, "not allowed"));
	http_resp_free(&resp);
	free(why);
	why = NULL;

	/* Refused first hop: nothing is dialled at all. */
	allowed_port = 1;
	ck_assert_int_eq(get_checked(h, url_b, &resp, &why), KF_EPERM);
	ck_assert_int_eq(resp.refused, 1);
	ck_assert_int_eq(resp.redirects, 0);
	ck_assert_int_eq(server_accepts(&b), 0);
	http_resp_free(&resp);
	free(why);
	why = NULL;

	/* An unchecked request leaves a live connection to b... */
	get_ok(h, url_b);
	ck_assert_int_eq(server_accepts(&b), 1);
	/* ...which a checked one may not reuse (no socket is opened). */
	ck_assert_int_eq(get_checked(h, url_b, &resp, &why), KF_EPERM);
	ck_assert_int_eq(resp.refused, 1);
	ck_assert_int_eq(server_accepts(&b), 1);
	http_resp_free(&resp);
	free(why);
	why = NULL;

	/* Allowed addresses go through, reused or not, across a redirect. */
	allowed_port = b.port;
	ck_assert_msg(get_checked(h, url_b, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.refused, 0);
	http_resp_free(&resp);
	allowed_port2 = a.port;
	ck_assert_msg(get_checked(h, url_a, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.redirects, 1);
	ck_assert_str_eq(buf_cstr(&resp.body), "ok");
	http_resp_free(&resp);

	http_free(h);
	server_stop(&a);
	server_stop(&b);
	free(url_a);
	free(url_b);
	free(redirect);
}
END_TEST

/* Redirects and allow_addr of one call do not reach the next on the handle. */
START_TEST(http_redirects_and_allow_addr_do_not_reach_the_next_call)
{
	struct counting_server	 a, b;
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	char			*url_a, *redirect, *why = NULL;

	server_start(&b);
	redirect = xasprintf("HTTP/1.1 302 Found\r\nLocation: "
	    "http://127.0.0.1:%d/x\r\nContent-Length: 0\r\n\r\n", b.port);
	server_start_replying(&a, redirect);
	url_a = xasprintf("http://127.0.0.1:%d/start", a.port);

	allowed_port = a.port;
	allowed_port2 = b.port;
	ck_assert_msg(get_checked(h, url_a, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.redirects, 1);
	http_resp_free(&resp);

	/* No max_redirects: the 302 is the answer. */
	req_init(&req, "GET", url_a, NULL);
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 302);
	ck_assert_int_eq(resp.redirects, 0);
	http_resp_free(&resp);

	/* No allow_addr: an address the last check refused is dialled. */
	allowed_port = allowed_port2 = 1;
	ck_assert_int_eq(get_checked(h, url_a, &resp, &why), KF_EPERM);
	http_resp_free(&resp);
	free(why);
	why = NULL;
	req_init(&req, "GET", url_a, NULL);
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 302);
	ck_assert_int_eq(resp.refused, 0);
	http_resp_free(&resp);

	http_free(h);
	server_stop(&a);
	server_stop(&b);
	free(url_a);
	free(redirect);
}
END_TEST

/* ---- proxies ---- */

START_TEST(http_direct_ignores_env_proxy_and_null_honours_it)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	char			*url, *proxy, *why = NULL;
	char			*saved_no_proxy = NULL, *saved_NO_PROXY = NULL;
	int			 fd, port;

	if (getenv("no_proxy") != NULL)
		saved_no_proxy = xstrdup(getenv("no_proxy"));
	if (getenv("NO_PROXY") != NULL)
		saved_NO_PROXY = xstrdup(getenv("NO_PROXY"));
	port = refusing_port(&fd);
	proxy = xasprintf("http://127.0.0.1:%d", port);
	setenv("http_proxy", proxy, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	url = mock_url("/getUsageLimits");

	req_init(&req, "GET", url, headers);
	req.proxy_url = "direct";
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);

	req.proxy_url = NULL;
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_EUPSTREAM);
	ck_assert_int_eq(resp.network, 1);
	ck_assert_int_eq(resp.status, 0);
	http_resp_free(&resp);

	unsetenv("http_proxy");
	if (saved_no_proxy != NULL)
		setenv("no_proxy", saved_no_proxy, 1);
	if (saved_NO_PROXY != NULL)
		setenv("NO_PROXY", saved_NO_PROXY, 1);
	free(saved_no_proxy);
	free(saved_NO_PROXY);
	close(fd);
	http_free(h);
	free(proxy);
	free(url);
	free(why);
}
END_TEST

START_TEST(http_explicit_proxy_gets_the_request_and_credentials)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	json_object		*log, *e;
	char			*url, *why = NULL;
	int			 fd, port;

	/* The host itself refuses; only the proxy (the mock) can answer. */
	port = refusing_port(&fd);
	url = xasprintf("http://127.0.0.1:%d/getUsageLimits", port);
	req_init(&req, "GET", url, headers);
	req.proxy_url = mock.base;
	req.proxy_username = "user";
	req.proxy_password = "pass";
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	log = mock_log("getUsageLimits");
	ck_assert_uint_eq(json_object_array_length(log), 1);
	e = json_object_array_get_idx(log, 0);
	/* base64("user:pass") */
	ck_assert_str_eq(entry_header(e, "proxy-authorization"),
	    "Basic dXNlcjpwYXNz");
	json_object_put(log);
	http_resp_free(&resp);
	close(fd);
	http_free(h);
	free(url);
}
END_TEST

/*
 * The handle is reused without curl_easy_reset: what one call sets (a
 * POST body, proxy credentials) must not reach the next call.
 */
START_TEST(http_post_and_proxy_credentials_do_not_reach_the_next_call)
{
	const char *const	 headers[] = { AUTH, NULL };
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	json_object		*log, *e;
	const char		*s;
	char			*post_url, *get_url, *far_url, *body;
	char			*why = NULL;
	int64_t			 n;
	int			 fd, port;

	body = gen_body("first");
	post_url = mock_url("/generateAssistantResponse");
	req_init(&req, "POST", post_url, headers);
	req.body = body;
	req.body_len = strlen(body);
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	http_resp_free(&resp);

	/* A GET after the POST: no body, no POST. */
	get_url = mock_url("/getUsageLimits");
	req_init(&req, "GET", get_url, headers);
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);
	log = mock_log("getUsageLimits");
	ck_assert_uint_eq(json_object_array_length(log), 1);
	e = json_object_array_get_idx(log, 0);
	ck_assert_int_eq(json_get_str(e, "method", &s), 1);
	ck_assert_str_eq(s, "GET");
	ck_assert_int_eq(json_get_int(e, "body_bytes", &n), 1);
	ck_assert_int_eq(n, 0);
	json_object_put(log);

	/* Through the mock as a proxy, with credentials, then without. */
	port = refusing_port(&fd);
	far_url = xasprintf("http://127.0.0.1:%d/getUsageLimits", port);
	req_init(&req, "GET", far_url, headers);
	req.proxy_url = mock.base;
	req.proxy_username = "user";
	req.proxy_password = "pass";
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	http_resp_free(&resp);
	req.proxy_username = NULL;
	req.proxy_password = NULL;
	ck_assert_msg(http_do(h, &req, &resp, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);
	log = mock_log("getUsageLimits");
	ck_assert_uint_eq(json_object_array_length(log), 3);
	ck_assert_str_eq(entry_header(json_object_array_get_idx(log, 1),
	    "proxy-authorization"), "Basic dXNlcjpwYXNz");
	ck_assert_ptr_null(entry_header(json_object_array_get_idx(log, 2),
	    "proxy-authorization"));
	json_object_put(log);

	close(fd);
	http_free(h);
	free(far_url);
	free(get_url);
	free(post_url);
	free(body);
	free(why);
}
END_TEST

START_TEST(http_free_null_is_fine)
{
	struct http_resp	resp;

	http_free(NULL);
	http_resp_free(NULL);
	memset(&resp, 0, sizeof(resp));
	buf_puts(&resp.body, "x");
	resp.status = 5;
	http_resp_free(&resp);
	ck_assert_ptr_null(resp.body.ptr);
	ck_assert_int_eq(resp.status, 0);
}
END_TEST

START_TEST(http_query_escape_keeps_only_unreserved)
{
	struct buf	b = BUF_INIT;

	http_query_escape(&b, "arn:aws:codewhisperer:us-east-1:1:profile/A b"
	    "~_.-\xc3\xa9&=%+");
	buf_putc(&b, '\0');
	ck_assert_str_eq(b.ptr, "arn%3Aaws%3Acodewhisperer%3Aus-east-1%3A1%3A"
	    "profile%2FA%20b~_.-%C3%A9%26%3D%25%2B");
	buf_free(&b);
}
END_TEST
/* A plain HTTP server where TLS is expected: it talks first, then hangs up. */
static void *
plain_talker(void *arg)
{
	static const char	 talk[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Length: 0\r\n\r\n";
	int			*fd = arg;
	int			 c;

	if ((c = accept(*fd, NULL, NULL)) < 0)
		return NULL;
	/* A failed write fails the handshake too, as "connection reset". */
	if (write(c, talk, sizeof(talk) - 1) == (ssize_t)sizeof(talk) - 1)
		sleep(1);	/* let the handshake read it */
	close(c);
	return NULL;
}

START_TEST(http_tls_failure_names_the_command_that_words_it)
{
	struct http		*h = http_new();
	struct http_req		 req;
	struct http_resp	 resp;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	pthread_t		 th;
	char			*url, *why = NULL, *at;
	int			 fd;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, plain_talker, &fd), 0);
	url = xasprintf("https://127.0.0.1:%d/", ntohs(sin.sin_port));
	req_init(&req, "GET", url, NULL);
	ck_assert_int_eq(http_do(h, &req, &resp, &why), KF_EUPSTREAM);
	ck_assert_int_eq(resp.network, 1);
	/*
	 * OpenSSL's strings are not loaded (1.1 MB per process): the error
	 * is a number, and the words say how to read it.
	 */
	ck_assert_msg((at = strstr(resp.error, "error:")) != NULL, "%s",
	    resp.error);
	ck_assert_msg(strstr(resp.error, ":lib(") != NULL, "%s", resp.error);
	ck_assert_msg(strstr(resp.error, "(`openssl errstr ") != NULL &&
	    strncmp(strstr(resp.error, "errstr ") + 7, at + 6, 8) == 0,
	    "%s", resp.error);
	ck_assert_ptr_nonnull(strstr(why, "openssl errstr"));
	pthread_join(th, NULL);
	close(fd);
	http_resp_free(&resp);
	http_free(h);
	free(url);
	free(why);
}
END_TEST


int
main(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc = tcase_create("mock");
	TCase	*local = tcase_create("local");
	int	 rc;

	http_global_init();
	tcase_add_checked_fixture(tc, mock_setup, mock_teardown);
	tcase_add_test(tc, http_get_with_headers_reaches_mock);
	tcase_add_test(tc, http_query_escape_keeps_only_unreserved);
	tcase_add_test(tc, http_post_body_and_headers_reach_mock);
	tcase_add_test(tc, http_many_headers_all_reach_mock);
	tcase_add_test(tc, http_error_body_collected_and_capped);
	tcase_add_test(tc, http_on_data_streams_the_event_stream);
	tcase_add_test(tc, http_on_data_abort_is_client_gone);
	tcase_add_test(tc, http_on_tick_during_slow_and_abort_during_hang);
	tcase_add_test(tc, http_cut_off_stream_is_network_error);
	tcase_add_test(tc, http_timeouts_are_etimeout);
	tcase_add_test(tc, http_direct_ignores_env_proxy_and_null_honours_it);
	tcase_add_test(tc, http_explicit_proxy_gets_the_request_and_credentials);
	tcase_add_test(tc,
	    http_post_and_proxy_credentials_do_not_reach_the_next_call);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tcase_add_test(local, http_connection_refused_is_network_error);
	tcase_add_test(local, http_connection_reused_on_one_handle);
	tcase_add_test(local,
	    http_allow_addr_checks_every_hop_and_reused_connections);
	tcase_add_test(local,
	    http_redirects_and_allow_addr_do_not_reach_the_next_call);
	tcase_add_test(local, http_free_null_is_fine);
	tcase_add_test(local, http_tls_failure_names_the_command_that_words_it);
	tcase_set_timeout(local, 60);
	suite_add_tcase(s, local);
	rc = tu_run(s);
	http_global_cleanup();
	return rc;
}
