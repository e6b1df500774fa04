/* test-request.c: request parameters, query, body, route path, client auth and dispatch. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "json.h"
#include "out.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers fcgi/request.c (request_param, request_query with URL decoding,
 * request_read_body through a fake reader, request_route_path against what
 * lighttpd and Apache send) and fcgi/router.c (router_client_authorised,
 * and router_dispatch end to end into a memory out: 404, 405, 401, 413,
 * HEAD / without auth, /v1/models, count_tokens, the "/kiro" mount root,
 * /health (the status for anyone, counts with the key), a startup error
 * (its reason only with the key) and a missing apiKey).  fcgi/out.c: a
 * flush after a whole out_response waits for the end of the request (one
 * write), while a flush of a head and body written apart goes out.
 */

#define KEY	"sk-kiro-test-key"

/* A request over a parameter list, writing to raw. */
static void
req_init(struct request *req, char **env, struct buf *raw)
{
	memset(req, 0, sizeof(*req));
	req->envp = env;
	req->query = "";
	out_init_buf(&req->out, raw);
}

/* ---- request_param ---- */

struct counted {
	struct buf	bytes;
	int		flushes;
};

static int
counted_write(void *arg, const char *p, size_t len)
{
	buf_append(&((struct counted *)arg)->bytes, p, len);
	return 0;
}

static int
counted_flush(void *arg)
{
	((struct counted *)arg)->flushes++;
	return 0;
}

START_TEST(out_flush_waits_after_a_whole_response)
{
	struct counted	c;
	struct out	o;

	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	o.write = counted_write;
	o.flush = counted_flush;
	o.arg = &c;
	ck_assert_int_eq(out_response(&o, 200, "application/json", NULL,
	    "{}", 2), 0);
	ck_assert_int_eq(out_flush(&o), 0);
	ck_assert_int_eq(c.flushes, 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&c.bytes),
	    "Content-Length: 2\r\n\r\n{}"));
	ck_assert_int_eq(o.bytes, 2);

	/* A stream: head, then events, each flush pushed. */
	memset(&o, 0, sizeof(o));
	o.write = counted_write;
	o.flush = counted_flush;
	o.arg = &c;
	ck_assert_int_eq(out_head(&o, 200, "text/event-stream", NULL), 0);
	ck_assert_int_eq(out_flush(&o), 0);
	ck_assert_int_eq(out_puts(&o, "data: x\n\n"), 0);
	ck_assert_int_eq(out_flush(&o), 0);
	ck_assert_int_eq(c.flushes, 2);
	buf_free(&c.bytes);
}
END_TEST

START_TEST(request_param_exact_names)
{
	char		*env[] = { "HTTP_X_API_KEY_EXTRA=no", "HTTP_X_API_KEY=yes",
	    "EMPTY=", "PATH_INFO=/a=b", NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;

	req_init(&req, env, &raw);
	ck_assert_str_eq(request_param(&req, "HTTP_X_API_KEY"), "yes");
	ck_assert_str_eq(request_param(&req, "HTTP_X_API_KEY_EXTRA"), "no");
	ck_assert_str_eq(request_param(&req, "EMPTY"), "");
	ck_assert_str_eq(request_param(&req, "PATH_INFO"), "/a=b");
	ck_assert_ptr_null(request_param(&req, "HTTP_X_API"));
	ck_assert_ptr_null(request_param(&req, "MISSING"));
	req.envp = NULL;
	ck_assert_ptr_null(request_param(&req, "EMPTY"));
}
END_TEST

/* x-api-key first, then a Bearer token; empty ones are none. */
START_TEST(request_header_key_sources)
{
	char		*both[] = { "HTTP_AUTHORIZATION=Bearer b",
	    "HTTP_X_API_KEY=x", NULL };
	char		*bearer[] = { "HTTP_X_API_KEY=",
	    "HTTP_AUTHORIZATION=bearer   tok", NULL };
	char		*basic[] = { "HTTP_AUTHORIZATION=Basic abc", NULL };
	char		*blank[] = { "HTTP_AUTHORIZATION=Bearer   ", NULL };
	char		*none[] = { "PATH_INFO=/", NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;

	req_init(&req, both, &raw);
	ck_assert_str_eq(request_header_key(&req), "x");
	req.envp = bearer;
	ck_assert_str_eq(request_header_key(&req), "tok");
	req.envp = basic;
	ck_assert_ptr_null(request_header_key(&req));
	req.envp = blank;
	ck_assert_ptr_null(request_header_key(&req));
	req.envp = none;
	ck_assert_ptr_null(request_header_key(&req));
}
END_TEST

/* ---- request_query ---- */

START_TEST(request_query_decodes_values)
{
	static const struct {
		const char	*name;
		const char	*value;	/* NULL: absent */
	} cases[] = {
		{ "a", "1" },
		{ "name", "J\xc3\xb6rg Smith" },
		{ "plus", "1+1" },
		{ "empty", "" },
		{ "flag", NULL },	/* no "=" */
		{ "nam", NULL },	/* a prefix of a name */
		{ "ame", NULL },	/* a suffix of a name */
		{ "missing", NULL },
		{ "bad", "%zz%4" },	/* broken escapes stay as they are */
		{ "last", "x y" },
	};
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	char		*v;
	size_t		 i;

	req_init(&req, NULL, &raw);
	req.query = "a=1&name=J%C3%B6rg+Smith&plus=1%2B1&empty=&flag&"
	    "bad=%zz%4&last=x%20y";
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = request_query(&req, cases[i].name);
		if (cases[i].value == NULL)
			ck_assert_msg(v == NULL, "%s: got \"%s\"",
			    cases[i].name, v);
		else {
			ck_assert_msg(v != NULL, "%s: missing", cases[i].name);
			ck_assert_str_eq(v, cases[i].value);
		}
		free(v);
	}
	/* The first of repeated names. */
	req.query = "k=first&k=second";
	v = request_query(&req, "k");
	ck_assert_str_eq(v, "first");
	free(v);
	req.query = "";
	ck_assert_ptr_null(request_query(&req, "a"));
}
END_TEST

/* ---- request_read_body ---- */

struct fake_stream {
	const char	*data;
	size_t		 len;
	size_t		 pos;
	size_t		 chunk;		/* most bytes per read */
	int		 calls;
	int		 fail;		/* return -1 instead of 0 at the end */
};

static int
fake_read(void *arg, char *out, int n)
{
	struct fake_stream	*fs = arg;
	size_t			 k = (size_t)n;

	fs->calls++;
	if (fs->pos >= fs->len)
		return fs->fail ? -1 : 0;
	if (k > fs->len - fs->pos)
		k = fs->len - fs->pos;
	if (fs->chunk > 0 && k > fs->chunk)
		k = fs->chunk;
	memcpy(out, fs->data + fs->pos, k);
	fs->pos += k;
	return (int)k;
}

static enum kf_err
read_body(const char *content_length, struct fake_stream *fs, size_t max,
    struct buf *body, char **why)
{
	char		*env[3] = { NULL, NULL, NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	enum kf_err	 er;

	if (content_length != NULL)
		env[0] = xasprintf("CONTENT_LENGTH=%s", content_length);
	req_init(&req, env, &raw);
	er = request_read_body(&req, fake_read, fs, max, why);
	*body = req.body;
	free(env[0]);
	return er;
}

START_TEST(request_body_exact_length_in_pieces)
{
	struct fake_stream	 fs;
	struct buf		 body;
	char			*data, *why = NULL;
	size_t			 i, n = 40000;

	/* Binary, NULs included, and more bytes than Content-Length. */
	data = xmalloc(n + 10);
	for (i = 0; i < n + 10; i++)
		data[i] = (char)(i * 7);
	memset(&fs, 0, sizeof(fs));
	fs.data = data;
	fs.len = n + 10;
	fs.chunk = 777;
	ck_assert_int_eq(read_body("40000", &fs, 100000, &body, &why), KF_OK);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(body.len, n);
	ck_assert_int_eq(memcmp(body.ptr, data, n), 0);
	ck_assert_int_eq(body.ptr[n], '\0');
	/* It never asks for bytes past the length. */
	ck_assert_uint_eq(fs.pos, n);
	buf_free(&body);

	/* Exactly the limit is allowed. */
	memset(&fs, 0, sizeof(fs));
	fs.data = data;
	fs.len = 100;
	ck_assert_int_eq(read_body("100", &fs, 100, &body, &why), KF_OK);
	ck_assert_uint_eq(body.len, 100);
	buf_free(&body);
	free(data);
}
END_TEST

START_TEST(request_body_over_max_is_too_large)
{
	struct fake_stream	 fs;
	struct buf		 body;
	char			*why = NULL;

	memset(&fs, 0, sizeof(fs));
	fs.data = "0123456789";
	fs.len = 10;
	ck_assert_int_eq(read_body("10", &fs, 9, &body, &why), KF_ETOOLARGE);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "maxRequestBytes"));
	/* Refused before reading a byte. */
	ck_assert_int_eq(fs.calls, 0);
	buf_free(&body);
	free(why);
}
END_TEST

START_TEST(request_body_short_is_invalid)
{
	struct fake_stream	 fs;
	struct buf		 body;
	char			*why = NULL;

	memset(&fs, 0, sizeof(fs));
	fs.data = "abc";
	fs.len = 3;
	ck_assert_int_eq(read_body("10", &fs, 100, &body, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "3 of 10"));
	buf_free(&body);
	free(why);
	why = NULL;

	/* A read error is the same. */
	memset(&fs, 0, sizeof(fs));
	fs.data = "abc";
	fs.len = 3;
	fs.fail = 1;
	ck_assert_int_eq(read_body("5", &fs, 100, &body, &why), KF_EINVAL);
	buf_free(&body);
	free(why);
}
END_TEST

START_TEST(request_body_bad_content_length_is_invalid)
{
	static const char *const bad[] = {
		"abc", "-1", "+5", " 5", "5 ", "12x", "0x10", "1e3",
		"99999999999999999999999", NULL
	};
	struct fake_stream	 fs;
	struct buf		 body;
	char			*why;
	size_t			 i;

	for (i = 0; bad[i] != NULL; i++) {
		memset(&fs, 0, sizeof(fs));
		fs.data = "xxxxxxxxxx";
		fs.len = 10;
		why = NULL;
		ck_assert_msg(read_body(bad[i], &fs, 1000, &body, &why) ==
		    KF_EINVAL, "Content-Length \"%s\" accepted", bad[i]);
		ck_assert_ptr_nonnull(why);
		ck_assert_int_eq(fs.calls, 0);
		buf_free(&body);
		free(why);
	}
}
END_TEST

START_TEST(request_body_none)
{
	struct fake_stream	 fs;
	struct buf		 body;
	char			*why = NULL;

	memset(&fs, 0, sizeof(fs));
	fs.data = "zz";
	fs.len = 2;
	ck_assert_int_eq(read_body(NULL, &fs, 10, &body, &why), KF_OK);
	ck_assert_uint_eq(body.len, 0);
	ck_assert_int_eq(fs.calls, 0);
	buf_free(&body);
	ck_assert_int_eq(read_body("", &fs, 10, &body, &why), KF_OK);
	ck_assert_uint_eq(body.len, 0);
	buf_free(&body);
	ck_assert_int_eq(read_body("0", &fs, 10, &body, &why), KF_OK);
	ck_assert_uint_eq(body.len, 0);
	ck_assert_int_eq(fs.calls, 0);
	buf_free(&body);
	ck_assert_ptr_null(why);
}
END_TEST

/* ---- request_route_path ---- */

START_TEST(request_route_path_table)
{
	static const struct {
		const char	*what;
		const char	*script_name;
		const char	*path_info;
		const char	*request_uri;
		const char	*want;
	} cases[] = {
		{ "lighttpd/Apache prefix mount", "/kiro", "/v1/messages",
		    "/kiro/v1/messages?beta=true", "/v1/messages" },
		{ "root mount", "", "/v1/messages", "/v1/messages",
		    "/v1/messages" },
		{ "the prefix itself", "/kiro", NULL, "/kiro", "/kiro" },
		{ "the prefix itself with a query", "/kiro", NULL,
		    "/kiro?x=1", "/kiro" },
		{ "empty PATH_INFO is unset", "/kiro", "", "/kiro", "/kiro" },
		{ "REQUEST_URI without query, decoded", NULL, NULL,
		    "/v1/models/claude%2Dopus%2D4?x=%2F", "/v1/models/claude-opus-4" },
		{ "+ in a path is not a space", NULL, NULL, "/a+b", "/a+b" },
		{ "SCRIPT_NAME only", "/v1/models", NULL, NULL, "/v1/models" },
		{ "SCRIPT_NAME only, empty REQUEST_URI", "/x", NULL, "", "/x" },
		{ "nothing", NULL, NULL, NULL, "/" },
		{ "nothing but empty strings", "", "", "", "/" },
		{ "PATH_INFO wins over REQUEST_URI", "/kiro", "/health",
		    "/somewhere/else", "/health" },
	};
	char	*path;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = request_route_path(cases[i].script_name,
		    cases[i].path_info, cases[i].request_uri);
		ck_assert_msg(path != NULL && strcmp(path, cases[i].want) == 0,
		    "%s: got \"%s\", want \"%s\"", cases[i].what, path,
		    cases[i].want);
		free(path);
	}
}
END_TEST

/* ---- router_client_authorised ---- */

static int
authorised(const char *x_api_key, const char *authorization, const char *key)
{
	char		*env[3] = { NULL, NULL, NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	size_t		 n = 0;
	int		 ok;

	if (x_api_key != NULL)
		env[n++] = xasprintf("HTTP_X_API_KEY=%s", x_api_key);
	if (authorization != NULL)
		env[n++] = xasprintf("HTTP_AUTHORIZATION=%s", authorization);
	req_init(&req, env, &raw);
	ok = router_client_authorised(&req, key);
	free(env[0]);
	free(env[1]);
	return ok;
}

START_TEST(router_auth_x_api_key)
{
	ck_assert_int_eq(authorised(KEY, NULL, KEY), 1);
	ck_assert_int_eq(authorised(KEY "x", NULL, KEY), 0);
	ck_assert_int_eq(authorised("sk-kiro-test-ke", NULL, KEY), 0);
	ck_assert_int_eq(authorised(NULL, NULL, KEY), 0);
	ck_assert_int_eq(authorised("", NULL, KEY), 0);
	/* No key configured: nobody. */
	ck_assert_int_eq(authorised(KEY, NULL, NULL), 0);
}
END_TEST

START_TEST(router_auth_bearer_any_case_and_spaces)
{
	ck_assert_int_eq(authorised(NULL, "Bearer " KEY, KEY), 1);
	ck_assert_int_eq(authorised(NULL, "bearer " KEY, KEY), 1);
	ck_assert_int_eq(authorised(NULL, "BEARER " KEY, KEY), 1);
	ck_assert_int_eq(authorised(NULL, "bEaReR " KEY, KEY), 1);
	ck_assert_int_eq(authorised(NULL, "Bearer    " KEY, KEY), 1);
	ck_assert_int_eq(authorised(NULL, "Bearer wrong", KEY), 0);
	ck_assert_int_eq(authorised(NULL, "Bearer " KEY "x", KEY), 0);
	ck_assert_int_eq(authorised(NULL, "Basic " KEY, KEY), 0);
	ck_assert_int_eq(authorised(NULL, KEY, KEY), 0);
	ck_assert_int_eq(authorised(NULL, "Bearer" KEY, KEY), 0);
	ck_assert_int_eq(authorised(NULL, "Bearer ", KEY), 0);
	ck_assert_int_eq(authorised(NULL, "", KEY), 0);
	/* An empty x-api-key is no x-api-key: the bearer decides. */
	ck_assert_int_eq(authorised("", "Bearer " KEY, KEY), 1);
}
END_TEST

START_TEST(router_auth_empty_key_never_matches)
{
	/* An empty configured key must not let an empty credential in. */
	ck_assert_int_eq(authorised(NULL, "Bearer ", ""), 0);
	ck_assert_int_eq(authorised(NULL, "Bearer  ", ""), 0);
	ck_assert_int_eq(authorised("", "", ""), 0);
	ck_assert_int_eq(authorised(NULL, NULL, ""), 0);
}
END_TEST

START_TEST(router_auth_x_api_key_decides_when_both_present)
{
	ck_assert_int_eq(authorised(KEY, "Bearer wrong", KEY), 1);
	ck_assert_int_eq(authorised("wrong", "Bearer " KEY, KEY), 0);
	ck_assert_int_eq(authorised(KEY, "Bearer " KEY, KEY), 1);
}
END_TEST

/* Gemini clients: x-goog-api-key, or ?key= (URL-encoded) in the query. */
static int
authorised_gemini(const char *goog, const char *query, const char *key)
{
	char		*env[2] = { NULL, NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	int		 ok;

	if (goog != NULL)
		env[0] = xasprintf("HTTP_X_GOOG_API_KEY=%s", goog);
	req_init(&req, env, &raw);
	if (query != NULL)
		req.query = query;
	ok = router_client_authorised(&req, key);
	free(env[0]);
	return ok;
}

START_TEST(router_auth_gemini_header_and_query)
{
	ck_assert_int_eq(authorised_gemini(KEY, NULL, KEY), 1);
	ck_assert_int_eq(authorised_gemini(KEY "x", NULL, KEY), 0);
	ck_assert_int_eq(authorised_gemini("", NULL, KEY), 0);
	ck_assert_int_eq(authorised_gemini(NULL, "key=" KEY, KEY), 1);
	ck_assert_int_eq(authorised_gemini(NULL, "alt=sse&key=" KEY, KEY), 1);
	ck_assert_int_eq(authorised_gemini(NULL, "key=wrong&alt=sse", KEY), 0);
	ck_assert_int_eq(authorised_gemini(NULL, "key=", KEY), 0);
	ck_assert_int_eq(authorised_gemini(NULL, "key=", ""), 0);
	ck_assert_int_eq(authorised_gemini(NULL, "akey=" KEY, KEY), 0);
	/* The header decides before the query. */
	ck_assert_int_eq(authorised_gemini("wrong", "key=" KEY, KEY), 0);
	ck_assert_int_eq(authorised_gemini(KEY, NULL, NULL), 0);
}
END_TEST

/* ---- router_dispatch ---- */

static char			*dir;
static struct app		 app;
static struct relay_env		 relay;

static void
app_setup_with(const char *extra)
{
	char		*json, *why = NULL;

	unsetenv("API_KEY");
	dir = tu_tmpdir();
	json = xasprintf("{\"stateDir\":\"%s\",\"maxRequestBytes\":200%s}",
	    dir, extra);
	memset(&app, 0, sizeof(app));
	ck_assert_msg(config_parse(json, strlen(json), NULL, &app.cfg, NULL,
	    &why) == KF_OK, "config: %s", why);
	free(json);
	ck_assert_msg(store_open(&app.store, dir, &why) == KF_OK, "store: %s",
	    why);
	memset(&relay, 0, sizeof(relay));
	relay.cfg = app.cfg;
	relay.store = app.store;
	relay.http = http_new();
}

static void
app_setup(void)
{
	app_setup_with(",\"apiKey\":\"" KEY "\"");
}

static void
app_teardown(void)
{
	http_free(relay.http);
	store_close(app.store);
	config_free(app.cfg);
	free(app.startup_error);
	memset(&app, 0, sizeof(app));
	tu_rmrf(dir);
	free(dir);
	dir = NULL;
}

struct response {
	struct buf	 raw;
	int		 status;
	const char	*body;		/* into raw */
	int		 reads;		/* calls of the body reader */
};

/*
 * Dispatches one request whose parameters are env (the method and the
 * route path come from it, as main.c does) and whose body is body.
 */
static void
dispatch(char **env, const char *body, struct response *r)
{
	struct request		 req;
	struct fake_stream	 fs;
	const char		*v, *end;

	memset(r, 0, sizeof(*r));
	req_init(&req, env, &r->raw);
	req.cfg = app.cfg;
	req.relay = &relay;
	req.method = (v = request_param(&req, "REQUEST_METHOD")) != NULL ? v :
	    "GET";
	req.query = (v = request_param(&req, "QUERY_STRING")) != NULL ? v : "";
	req.path = request_route_path(request_param(&req, "SCRIPT_NAME"),
	    request_param(&req, "PATH_INFO"), request_param(&req,
	    "REQUEST_URI"));
	memset(&fs, 0, sizeof(fs));
	fs.data = body != NULL ? body : "";
	fs.len = strlen(fs.data);
	router_dispatch(&app, &req, fake_read, &fs);
	r->reads = fs.calls;
	ck_assert_msg(req.out.committed, "no response at all");
	ck_assert_int_eq(sscanf(buf_cstr(&r->raw), "Status: %d ", &r->status),
	    1);
	ck_assert_int_eq(req.out.status, r->status);
	ck_assert_ptr_nonnull(end = strstr(r->raw.ptr, "\r\n\r\n"));
	r->body = end + 4;
	free(req.path);
	buf_free(&req.body);
}

/* The response body as JSON, with its Content-Length checked. */
static json_object *
response_json(struct response *r)
{
	json_object	*v = NULL;
	const char	*cl;
	char		*why = NULL;

	ck_assert_ptr_nonnull(strstr(r->raw.ptr,
	    "Content-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(cl = strstr(r->raw.ptr, "Content-Length: "));
	ck_assert_int_eq(strtol(cl + 16, NULL, 10), (long)strlen(r->body));
	ck_assert_msg(json_parse(r->body, strlen(r->body), JSON_MAX_DEPTH, &v,
	    &why) == KF_OK, "not JSON (%s): %s", why, r->body);
	return v;
}

/* Checks an Anthropic error body and its error.type. */
static void
check_error(struct response *r, int status, const char *type)
{
	json_object	*v, *err;
	const char	*s;

	ck_assert_msg(r->status == status, "status %d, want %d: %s",
	    r->status, status, r->body);
	v = response_json(r);
	ck_assert_int_eq(json_get_str(v, "type", &s), 1);
	ck_assert_str_eq(s, "error");
	ck_assert_int_eq(json_get_obj(v, "error", &err), 1);
	ck_assert_int_eq(json_get_str(err, "type", &s), 1);
	ck_assert_str_eq(s, type);
	ck_assert_int_eq(json_get_str(err, "message", &s), 1);
	ck_assert(*s != '\0');
	json_object_put(v);
}

/* Checks an OpenAI error body: {"error":{...}} and nothing else. */
static void
check_openai_error(struct response *r, int status, const char *type)
{
	json_object	*v, *err;
	const char	*s;

	ck_assert_msg(r->status == status, "status %d, want %d: %s",
	    r->status, status, r->body);
	v = response_json(r);
	ck_assert_int_eq(json_object_object_length(v), 1);
	ck_assert_int_eq(json_get_obj(v, "error", &err), 1);
	ck_assert_int_eq(json_get_str(err, "type", &s), 1);
	ck_assert_str_eq(s, type);
	ck_assert_int_eq(json_get_str(err, "message", &s), 1);
	ck_assert(*s != '\0');
	json_object_put(v);
}

START_TEST(router_unknown_path_is_404)
{
	char		*env[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=",
	    "PATH_INFO=/v2/nothing", "HTTP_X_API_KEY=" KEY, NULL };
	struct response	 r;

	dispatch(env, NULL, &r);
	check_error(&r, 404, "not_found_error");
	ck_assert_ptr_nonnull(strstr(r.body, "/v2/nothing"));
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_wrong_method_is_405)
{
	char		*get_messages[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/messages", "HTTP_X_API_KEY=" KEY, NULL };
	char		*post_models[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/models", "HTTP_X_API_KEY=" KEY,
	    "CONTENT_LENGTH=2", NULL };
	struct response	 r;

	dispatch(get_messages, NULL, &r);
	check_error(&r, 405, "invalid_request_error");
	ck_assert_ptr_nonnull(strstr(r.body, "GET"));
	buf_free(&r.raw);
	dispatch(post_models, "{}", &r);
	check_error(&r, 405, "invalid_request_error");
	ck_assert_int_eq(r.reads, 0);
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_missing_or_wrong_key_is_401)
{
	char		*none[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/messages", "CONTENT_LENGTH=2", NULL };
	char		*wrong[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/messages", "CONTENT_LENGTH=2",
	    "HTTP_AUTHORIZATION=Bearer nope", NULL };
	char		*models[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models", NULL };
	char		*models_anthropic[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models", "HTTP_ANTHROPIC_VERSION=2023-06-01", NULL };
	struct response	 r;

	dispatch(none, "{}", &r);
	check_error(&r, 401, "authentication_error");
	ck_assert_ptr_nonnull(strstr(r.body, "missing"));
	/* The body of an unauthenticated client is not read. */
	ck_assert_int_eq(r.reads, 0);
	buf_free(&r.raw);
	dispatch(wrong, "{}", &r);
	check_error(&r, 401, "authentication_error");
	ck_assert_ptr_nonnull(strstr(r.body, "invalid"));
	ck_assert_ptr_null(strstr(r.body, "nope"));
	buf_free(&r.raw);
	/* /v1/models is OpenAI's too: its shape without anthropic-version. */
	dispatch(models, NULL, &r);
	check_openai_error(&r, 401, "authentication_error");
	buf_free(&r.raw);
	dispatch(models_anthropic, NULL, &r);
	check_error(&r, 401, "authentication_error");
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_body_over_max_is_413)
{
	char		*env[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/messages", "CONTENT_LENGTH=201",
	    "HTTP_X_API_KEY=" KEY, NULL };
	struct response	 r;
	char		 body[202];

	memset(body, ' ', 201);
	body[201] = '\0';
	dispatch(env, body, &r);
	check_error(&r, 413, "request_too_large");
	ck_assert_int_eq(r.reads, 0);
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_head_root_without_auth)
{
	char		*head[] = { "REQUEST_METHOD=HEAD", "SCRIPT_NAME=",
	    "PATH_INFO=/", NULL };
	char		*get[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", NULL };
	char		*head_models[] = { "REQUEST_METHOD=HEAD",
	    "PATH_INFO=/v1/models", NULL };
	struct response	 r;
	json_object	*v;
	const char	*s;

	dispatch(head, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "");
	ck_assert_ptr_nonnull(strstr(r.raw.ptr, "Content-Type: "
	    "application/json\r\n"));
	buf_free(&r.raw);

	dispatch(get, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = response_json(&r);
	ck_assert_int_eq(json_get_str(v, "status", &s), 1);
	ck_assert_str_eq(s, "ok");
	json_object_put(v);
	buf_free(&r.raw);

	/* HEAD does not skip the auth of a route that needs it. */
	dispatch(head_models, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_models_with_auth_lists_the_catalogue)
{
	static const char *const ids[] = {
		"auto", "claude-sonnet-5", "claude-sonnet-4.6",
		"claude-sonnet-4.5", "claude-sonnet-4", "claude-haiku-4.5",
		"claude-opus-5", "claude-opus-4.8", "claude-opus-4.7",
		"claude-opus-4.6", "claude-opus-4.5", "deepseek-3.2", "glm-5",
		"minimax-m2.1", "minimax-m2.5", "qwen3-coder-next",
	};
	const size_t	 n_ids = sizeof(ids) / sizeof(ids[0]);
	char		*x_api_key[] = { "REQUEST_METHOD=GET",
	    "SCRIPT_NAME=/kiro", "PATH_INFO=/v1/models",
	    "REQUEST_URI=/kiro/v1/models", "HTTP_X_API_KEY=" KEY, NULL };
	char		*bearer[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=/v1/models/?limit=20", "QUERY_STRING=limit=20",
	    "HTTP_AUTHORIZATION=bearer " KEY, NULL };
	char		**envs[] = { x_api_key, bearer };
	struct response	 r;
	json_object	*v, *data, *m;
	const char	*s;
	size_t		 i, k;

	for (k = 0; k < 2; k++) {
		dispatch(envs[k], NULL, &r);
		ck_assert_msg(r.status == 200, "status %d: %s", r.status,
		    r.body);
		v = response_json(&r);
		ck_assert_int_eq(json_get_str(v, "object", &s), 1);
		ck_assert_str_eq(s, "list");
		ck_assert_int_eq(json_get_arr(v, "data", &data), 1);
		ck_assert_uint_eq(json_object_array_length(data), n_ids);
		for (i = 0; i < n_ids; i++) {
			m = json_object_array_get_idx(data, i);
			ck_assert_int_eq(json_get_str(m, "id", &s), 1);
			ck_assert_str_eq(s, ids[i]);
			ck_assert_int_eq(json_get_str(m, "type", &s), 1);
			ck_assert_str_eq(s, "model");
		}
		json_object_put(v);
		buf_free(&r.raw);
	}
}
END_TEST

START_TEST(router_mount_root_is_root)
{
	char		*bare[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/kiro",
	    "REQUEST_URI=/kiro", NULL };
	char		*slash[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/kiro",
	    "REQUEST_URI=/kiro/", NULL };
	char		*head[] = { "REQUEST_METHOD=HEAD", "SCRIPT_NAME=/kiro",
	    "REQUEST_URI=/kiro", NULL };
	char		*other[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/kiro",
	    "REQUEST_URI=/other", NULL };
	char		**envs[] = { bare, slash, head };
	struct response	 r;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		dispatch(envs[i], NULL, &r);
		ck_assert_msg(r.status == 200, "case %zu: %d %s", i, r.status,
		    r.body);
		if (i < 2)
			ck_assert_ptr_nonnull(strstr(r.body, "\"status\":"
			    "\"ok\""));
		buf_free(&r.raw);
	}
	/* Only the mount path itself. */
	dispatch(other, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	buf_free(&r.raw);
}
END_TEST

/* Checks a Gemini error body: {"error":{"code","message","status"}}. */
static void
check_gemini_error(struct response *r, int code, const char *status)
{
	json_object	*v, *err;
	const char	*s;
	int64_t		 n;

	ck_assert_msg(r->status == code, "status %d, want %d: %s",
	    r->status, code, r->body);
	v = response_json(r);
	ck_assert_int_eq(json_object_object_length(v), 1);
	ck_assert_int_eq(json_get_obj(v, "error", &err), 1);
	ck_assert_int_eq(json_get_int(err, "code", &n), 1);
	ck_assert_int_eq(n, code);
	ck_assert_int_eq(json_get_str(err, "status", &s), 1);
	ck_assert_str_eq(s, status);
	ck_assert_int_eq(json_get_str(err, "message", &s), 1);
	ck_assert(*s != '\0');
	json_object_put(v);
}

START_TEST(router_gemini_routes_and_errors)
{
	const char	*body = "{\"contents\":[{\"parts\":[{\"text\":"
	    "\"Hello there\"}]}]}";
	char		*cl, *count[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1beta/models/gemini-2.5-pro:countTokens",
	    "HTTP_X_GOOG_API_KEY=" KEY, NULL, NULL };
	char		*count_v1[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/models/gemini-2.5-pro:countTokens",
	    "QUERY_STRING=key=" KEY, NULL, NULL };
	char		*list[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1beta/models", "QUERY_STRING=key=" KEY, NULL };
	char		*unknown[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1beta/files", "HTTP_X_GOOG_API_KEY=" KEY, NULL };
	char		*nokey[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1beta/models/x:generateContent", "CONTENT_LENGTH=2",
	    NULL };
	char		*badkey[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/models/x:generateContent", "CONTENT_LENGTH=2",
	    "QUERY_STRING=key=nope", NULL };
	char		*method[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1beta/models/x:embedContent", "CONTENT_LENGTH=2",
	    "HTTP_X_GOOG_API_KEY=" KEY, NULL };
	char		*wrong_method[] = { "REQUEST_METHOD=DELETE",
	    "PATH_INFO=/v1beta/models", "HTTP_X_GOOG_API_KEY=" KEY, NULL };
	char		*no_method[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1beta/models/gemini-2.5-pro", "CONTENT_LENGTH=2",
	    "HTTP_X_GOOG_API_KEY=" KEY, NULL };
	char		*post_v1_model[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/models/claude-sonnet-4-5", "CONTENT_LENGTH=2",
	    "HTTP_X_API_KEY=" KEY, NULL };
	char		*anthropic[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models/nothing-like-this",
	    "HTTP_X_API_KEY=" KEY, NULL };
	char		*genai_get[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models/nothing-like-this",
	    "HTTP_X_GOOG_API_KEY=" KEY, NULL };
	char		*genai_list[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models", "QUERY_STRING=pageSize=50&key=" KEY, NULL };
	struct response	 r;
	json_object	*v, *models;
	int64_t		 n;

	cl = xasprintf("CONTENT_LENGTH=%zu", strlen(body));
	count[3] = count_v1[3] = cl;
	dispatch(count, body, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	v = response_json(&r);
	ck_assert_int_eq(json_get_int(v, "totalTokens", &n), 1);
	ck_assert_int_gt(n, 0);
	json_object_put(v);
	buf_free(&r.raw);
	dispatch(count_v1, body, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	buf_free(&r.raw);
	free(cl);

	dispatch(list, NULL, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	v = response_json(&r);
	ck_assert_int_eq(json_get_arr(v, "models", &models), 1);
	ck_assert_int_gt(json_object_array_length(models), 0);
	json_object_put(v);
	buf_free(&r.raw);

	dispatch(unknown, NULL, &r);
	check_gemini_error(&r, 404, "NOT_FOUND");
	buf_free(&r.raw);
	dispatch(nokey, "{}", &r);
	check_gemini_error(&r, 401, "UNAUTHENTICATED");
	ck_assert_ptr_nonnull(strstr(r.body, "x-goog-api-key"));
	ck_assert_int_eq(r.reads, 0);
	buf_free(&r.raw);
	dispatch(badkey, "{}", &r);
	check_gemini_error(&r, 401, "UNAUTHENTICATED");
	ck_assert_ptr_null(strstr(r.body, "nope"));
	buf_free(&r.raw);
	dispatch(method, "{}", &r);
	check_gemini_error(&r, 404, "NOT_FOUND");
	ck_assert_ptr_nonnull(strstr(r.body, "embedContent"));
	buf_free(&r.raw);
	dispatch(wrong_method, NULL, &r);
	check_gemini_error(&r, 405, "INVALID_ARGUMENT");
	buf_free(&r.raw);
	/* POST needs "model:method"; without it, only GET is there. */
	dispatch(no_method, "{}", &r);
	check_gemini_error(&r, 405, "INVALID_ARGUMENT");
	ck_assert_ptr_nonnull(strstr(r.raw.ptr, "Allow: GET, HEAD\r\n"));
	buf_free(&r.raw);
	dispatch(post_v1_model, "{}", &r);
	check_error(&r, 405, "invalid_request_error");
	buf_free(&r.raw);
	/* GET /v1/models/{id} stays the Anthropic / OpenAI route ... */
	dispatch(anthropic, NULL, &r);
	check_error(&r, 404, "not_found_error");
	buf_free(&r.raw);
	/* ... but a Gemini client (the GenAI SDK lists there) gets Gemini's. */
	dispatch(genai_get, NULL, &r);
	check_gemini_error(&r, 404, "NOT_FOUND");
	buf_free(&r.raw);
	dispatch(genai_list, NULL, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	v = response_json(&r);
	ck_assert_int_eq(json_get_arr(v, "models", &models), 1);
	json_object_put(v);
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_count_tokens_reads_the_body)
{
	const char	*body = "{\"model\":\"claude-sonnet-4-5\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"Hello, how are you today?\"}]}";
	char		*cl, *env[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/messages/count_tokens", "HTTP_X_API_KEY=" KEY,
	    NULL, NULL };
	struct response	 r;
	json_object	*v;
	int64_t		 n;

	cl = xasprintf("CONTENT_LENGTH=%zu", strlen(body));
	env[3] = cl;
	dispatch(env, body, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert_int_gt(r.reads, 0);
	v = response_json(&r);
	ck_assert_int_eq(json_get_int(v, "input_tokens", &n), 1);
	ck_assert_int_gt(n, 0);
	json_object_put(v);
	buf_free(&r.raw);
	free(cl);
}
END_TEST

START_TEST(router_messages_bad_body_is_400)
{
	char		*env[] = { "REQUEST_METHOD=POST",
	    "PATH_INFO=/v1/messages", "HTTP_X_API_KEY=" KEY,
	    "CONTENT_LENGTH=13", NULL };
	struct response	 r;

	dispatch(env, "{\"messages\":", &r);
	/* Short body: 12 of 13 bytes. */
	check_error(&r, 400, "invalid_request_error");
	buf_free(&r.raw);
	env[3] = "CONTENT_LENGTH=13";
	/* An unknown model is not found, as Anthropic says it. */
	dispatch(env, "{\"model\":\"x\"}", &r);
	check_error(&r, 404, "not_found_error");
	ck_assert_ptr_nonnull(strstr(r.body,
	    "model: \\\"x\\\" is not available"));
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_health_without_auth)
{
	char		*anyone[] = { "REQUEST_METHOD=GET", "PATH_INFO=/health",
	    NULL };
	char		*client[] = { "REQUEST_METHOD=GET", "PATH_INFO=/health",
	    "HTTP_X_API_KEY=" KEY, NULL };
	struct response	 r;
	json_object	*v, *a;
	const char	*s;
	int64_t		 n;

	/* Anyone: the status and nothing else. */
	dispatch(anyone, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = response_json(&r);
	ck_assert_int_eq(json_get_str(v, "status", &s), 1);
	ck_assert_str_eq(s, "no_usable_account");
	ck_assert_int_eq(json_object_object_length(v), 1);
	json_object_put(v);
	buf_free(&r.raw);
	/* A client: the counts too. */
	dispatch(client, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = response_json(&r);
	ck_assert_int_eq(json_get_obj(v, "accounts", &a), 1);
	ck_assert_int_eq(json_get_int(a, "total", &n), 1);
	ck_assert_int_eq(n, 0);
	json_object_put(v);
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_startup_error_answers_500_but_root)
{
	char		*models[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models", "HTTP_X_API_KEY=" KEY, NULL };
	char		*anyone[] = { "REQUEST_METHOD=GET",
	    "PATH_INFO=/v1/models", "HTTP_X_API_KEY=wrong", NULL };
	char		*health[] = { "REQUEST_METHOD=GET", "PATH_INFO=/health",
	    NULL };
	char		*root[] = { "REQUEST_METHOD=GET", "PATH_INFO=/", NULL };
	struct response	 r;

	app.startup_error = xstrdup("kiro-fcgi cannot start: broken config");
	dispatch(models, NULL, &r);
	check_error(&r, 500, "api_error");
	ck_assert_ptr_nonnull(strstr(r.body, "broken config"));
	buf_free(&r.raw);
	/* The reason is only for a client with the key. */
	dispatch(anyone, NULL, &r);
	check_error(&r, 500, "api_error");
	ck_assert_ptr_null(strstr(r.body, "broken config"));
	ck_assert_ptr_nonnull(strstr(r.body, "error log"));
	buf_free(&r.raw);
	dispatch(health, NULL, &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_null(strstr(r.body, "broken config"));
	buf_free(&r.raw);
	dispatch(root, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	buf_free(&r.raw);
}
END_TEST

START_TEST(router_no_api_key_configured_is_500)
{
	char		*env[] = { "REQUEST_METHOD=GET", "PATH_INFO=/v1/models",
	    "HTTP_X_API_KEY=anything", NULL };
	struct response	 r;

	app_teardown();
	app_setup_with("");
	ck_assert_ptr_null(app.cfg->api_key);
	dispatch(env, NULL, &r);
	check_error(&r, 500, "api_error");
	ck_assert_ptr_nonnull(strstr(r.body, "apiKey"));
	buf_free(&r.raw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("request");
	TCase	*rq = tcase_create("request");
	TCase	*au = tcase_create("auth");
	TCase	*rt = tcase_create("dispatch");
	int	 rc;

	http_global_init();
	tcase_add_test(rq, out_flush_waits_after_a_whole_response);
	tcase_add_test(rq, request_param_exact_names);
	tcase_add_test(rq, request_header_key_sources);
	tcase_add_test(rq, request_query_decodes_values);
	tcase_add_test(rq, request_body_exact_length_in_pieces);
	tcase_add_test(rq, request_body_over_max_is_too_large);
	tcase_add_test(rq, request_body_short_is_invalid);
	tcase_add_test(rq, request_body_bad_content_length_is_invalid);
	tcase_add_test(rq, request_body_none);
	tcase_add_test(rq, request_route_path_table);
	suite_add_tcase(s, rq);

	tcase_add_test(au, router_auth_x_api_key);
	tcase_add_test(au, router_auth_bearer_any_case_and_spaces);
	tcase_add_test(au, router_auth_empty_key_never_matches);
	tcase_add_test(au, router_auth_x_api_key_decides_when_both_present);
	tcase_add_test(au, router_auth_gemini_header_and_query);
	suite_add_tcase(s, au);

	tcase_add_checked_fixture(rt, app_setup, app_teardown);
	tcase_add_test(rt, router_unknown_path_is_404);
	tcase_add_test(rt, router_wrong_method_is_405);
	tcase_add_test(rt, router_missing_or_wrong_key_is_401);
	tcase_add_test(rt, router_body_over_max_is_413);
	tcase_add_test(rt, router_head_root_without_auth);
	tcase_add_test(rt, router_models_with_auth_lists_the_catalogue);
	tcase_add_test(rt, router_mount_root_is_root);
	tcase_add_test(rt, router_count_tokens_reads_the_body);
	tcase_add_test(rt, router_gemini_routes_and_errors);
	tcase_add_test(rt, router_messages_bad_body_is_400);
	tcase_add_test(rt, router_health_without_auth);
	tcase_add_test(rt, router_startup_error_answers_500_but_root);
	tcase_add_test(rt, router_no_api_key_configured_is_500);
	tcase_set_timeout(rt, 60);
	suite_add_tcase(s, rt);
	rc = tu_run(s);
	http_global_cleanup();
	return rc;
}
