/* test-upstream.c: Kiro API calls: error verdicts, error text, proxies, the request headers. */
#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "cred.h"
#include "err.h"
#include "http.h"
#include "json.h"
#include "testutil.h"
#include "upstream.h"
#include "xmalloc.h"

/*
 * Covers shared/upstream.c: upstream_classify for every row of
 * doc/protocol.md §7.1 (and that it reads only len bytes),
 * upstream_error_text (JSON message and reason, nested error, non-JSON
 * truncated and cleaned, empty), upstream_proxy precedence, and
 * upstream_generate against the mock: the §2.1 headers exactly (and no
 * others beyond what HTTP itself needs), a fresh UUID v4 per call, the
 * bearer and tokentype of API-key credentials, the URL built from
 * apiBaseUrl with {region} set to the API region, the stream handed to
 * on_data, and error answers classified end to end.  Routes
 * (doc/protocol.md §12): the configured host and style per account kind,
 * the fallback after each refusal, the target style's URL and headers on
 * the mock's runtime host, and no profile ever sent for an idc account.
 */

#define TOKEN		"aoa-upstream-test-token"
#define KSK		"ksk_upstreamtestkey0123456789"
#define MACHINE_ID	"0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"
#define PROFILE		"arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
#define IDC_TOKEN	"aoa-upstream-idc-token"
#define GEN_BODY	"{\"conversationState\":{\"chatTriggerType\":" \
	"\"MANUAL\",\"conversationId\":\"c0ffee00-1111-4222-8333-" \
	"444455556666\",\"currentMessage\":{\"userInputMessage\":" \
	"{\"content\":\"hello upstream\",\"modelId\":\"claude-sonnet-4.5\"," \
	"\"origin\":\"AI_EDITOR\"}}}}"

/* ---- upstream_classify ---- */

START_TEST(upstream_classify_every_row)
{
	static const struct {
		long			 status;
		const char		*body;
		enum upstream_verdict	 want;
	} rows[] = {
		{ 200, "", UV_OK },
		{ 204, "", UV_OK },
		{ 0, "", UV_NETWORK },
		{ 400, "{\"message\":\"Improperly formed request.\","
		    "\"reason\":null}", UV_BAD_REQUEST },
		{ 400, "{\"message\":\"Improperly formed request.\","
		    "\"reason\":\"REQUEST_BODY_INVALID\"}", UV_BAD_REQUEST },
		{ 400, "{\"message\":\"Too big.\",\"reason\":"
		    "\"CONTENT_LENGTH_EXCEEDS_THRESHOLD\"}", UV_CONTEXT_FULL },
		{ 400, "{\"message\":\"Input is too long.\",\"reason\":"
		    "\"CONTENT_LENGTH_EXCEEDS_THRESHOLD\"}", UV_CONTEXT_FULL },
		{ 400, "{\"message\":\"Input is too long.\",\"reason\":null}",
		    UV_INPUT_TOO_LONG },
		{ 400, "input is too long for this model", UV_INPUT_TOO_LONG },
		{ 400, "", UV_BAD_REQUEST },
		{ 401, "{\"message\":\"Unauthorized\"}", UV_UNAUTHORIZED },
		{ 402, "{\"message\":\"You have reached the limit.\","
		    "\"reason\":\"MONTHLY_REQUEST_COUNT\"}", UV_QUOTA },
		{ 402, "{\"error\":{\"reason\":\"MONTHLY_REQUEST_COUNT\"}}",
		    UV_QUOTA },
		{ 402, "{\"message\":\"Payment required\",\"reason\":null}",
		    UV_CLIENT_ERROR },
		{ 403, "{\"message\":\"The bearer token included in the "
		    "request is invalid.\",\"reason\":null}", UV_BEARER_INVALID },
		{ 403, "{\"message\":\"Your account is suspended\","
		    "\"reason\":\"TEMPORARILY_SUSPENDED\"}", UV_SUSPENDED },
		{ 403, "{\"message\":\"User ID (abc) temporarily is suspended."
		    "\"}", UV_SUSPENDED },
		{ 403, "{\"message\":\"User is not authorized to make this "
		    "call.\"}", UV_FORBIDDEN },
		{ 403, "", UV_FORBIDDEN },
		{ 408, "{\"message\":\"Request timed out\"}", UV_THROTTLED },
		{ 429, "{\"__type\":\"ThrottlingException\",\"message\":"
		    "\"Rate exceeded\"}", UV_THROTTLED },
		{ 500, "{\"message\":\"Internal error\"}", UV_SERVER },
		{ 502, "unexpectedly high load", UV_SERVER },
		{ 503, "{\"reason\":\"MODEL_TEMPORARILY_UNAVAILABLE\"}",
		    UV_SERVER },
		{ 504, "", UV_SERVER },
		{ 404, "{\"message\":\"Not found\"}", UV_CLIENT_ERROR },
		{ 409, "", UV_CLIENT_ERROR },
		{ 413, "", UV_CLIENT_ERROR },
		{ 422, "", UV_CLIENT_ERROR },
	};
	enum upstream_verdict	got;
	size_t			i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = upstream_classify(rows[i].status, rows[i].body,
		    strlen(rows[i].body));
		ck_assert_msg(got == rows[i].want, "%ld %s: %s, want %s",
		    rows[i].status, rows[i].body, upstream_verdict_name(got),
		    upstream_verdict_name(rows[i].want));
	}
	/* No body at all. */
	ck_assert_int_eq(upstream_classify(403, NULL, 0), UV_FORBIDDEN);
	ck_assert_int_eq(upstream_classify(500, NULL, 0), UV_SERVER);
}
END_TEST

START_TEST(upstream_classify_reads_only_len_bytes)
{
	const char	*body = "{\"message\":\"x\"} TEMPORARILY_SUSPENDED "
	    "MONTHLY_REQUEST_COUNT CONTENT_LENGTH_EXCEEDS_THRESHOLD";
	size_t		 len = strlen("{\"message\":\"x\"}");

	ck_assert_int_eq(upstream_classify(403, body, len), UV_FORBIDDEN);
	ck_assert_int_eq(upstream_classify(402, body, len), UV_CLIENT_ERROR);
	ck_assert_int_eq(upstream_classify(400, body, len), UV_BAD_REQUEST);
	/* A marker cut by len does not count. */
	ck_assert_int_eq(upstream_classify(403, "TEMPORARILY_SUSPENDED", 20),
	    UV_FORBIDDEN);
	ck_assert_int_eq(upstream_classify(403, "TEMPORARILY_SUSPENDED", 21),
	    UV_SUSPENDED);
}
END_TEST

START_TEST(upstream_verdict_names)
{
	int	v, w;

	for (v = 0; v < UV__MAX; v++) {
		ck_assert_ptr_nonnull(upstream_verdict_name(v));
		ck_assert_str_ne(upstream_verdict_name(v), "unknown");
		for (w = 0; w < v; w++)
			ck_assert_str_ne(upstream_verdict_name(v),
			    upstream_verdict_name(w));
	}
	ck_assert_str_eq(upstream_verdict_name(UV_QUOTA), "quota");
	ck_assert_str_eq(upstream_verdict_name(UV__MAX), "unknown");
}
END_TEST

/* ---- upstream_error_text ---- */

static void
check_text(const char *body, size_t len, const char *want)
{
	char	*got;

	got = upstream_error_text(body, len);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strcmp(got, want) == 0, "\"%s\": got \"%s\", want "
	    "\"%s\"", body, got, want);
	free(got);
}

#define CHECK_TEXT(body, want)	check_text(body, strlen(body), want)

START_TEST(upstream_error_text_json)
{
	CHECK_TEXT("{\"message\":\"Improperly formed request.\",\"reason\":"
	    "null}", "Improperly formed request.");
	CHECK_TEXT("{\"message\":\"Input is too long.\",\"reason\":"
	    "\"CONTENT_LENGTH_EXCEEDS_THRESHOLD\"}",
	    "Input is too long. (CONTENT_LENGTH_EXCEEDS_THRESHOLD)");
	CHECK_TEXT("{\"error\":{\"reason\":\"MONTHLY_REQUEST_COUNT\"}}",
	    "(MONTHLY_REQUEST_COUNT)");
	CHECK_TEXT("{\"error\":{\"message\":\"inner\",\"reason\":\"R\"}}",
	    "inner (R)");
	/* Top level wins over nested. */
	CHECK_TEXT("{\"message\":\"outer\",\"error\":{\"message\":\"inner\","
	    "\"reason\":\"R\"}}", "outer (R)");
	CHECK_TEXT("{\"Message\":\"AWS style\"}", "AWS style");
	CHECK_TEXT("{\"message\":\"two\\nlines\\tand tab\"}",
	    "two lines and tab");
	/* JSON without either field: the text itself. */
	CHECK_TEXT("{\"code\":7}", "{\"code\":7}");
	CHECK_TEXT("[1,2]", "[1,2]");
}
END_TEST

START_TEST(upstream_error_text_non_json_truncated_and_cleaned)
{
	char	body[301], want[204];

	memset(body, 'x', 300);
	body[300] = '\0';
	memset(want, 'x', 200);
	memcpy(want + 200, "...", 4);
	CHECK_TEXT(body, want);
	/* Exactly 200 bytes: whole, no ellipsis. */
	body[200] = '\0';
	want[200] = '\0';
	CHECK_TEXT(body, want);

	CHECK_TEXT("<html>\r\n<b>Bad\tGateway</b>\x01\x1f</html>",
	    "<html>  <b>Bad Gateway</b>  </html>");
	/* Only len bytes, NUL or not. */
	check_text("upstream busy; and more", 13, "upstream busy");
	check_text("a\0b", 3, "a b");
	CHECK_TEXT("", "(empty body)");
	check_text(NULL, 0, "(empty body)");
}
END_TEST

/* ---- upstream_auth_headers ---- */

START_TEST(upstream_auth_headers_follow_the_sdk)
{
	static const struct upstream_sdk runtime = {
		"1.0.0", "codewhispererruntime", "N,E", 1
	}, many = {
		"1.0.0", "codewhispererruntime", "N,E", 12
	};
	struct upstream_auth	 a;
	struct config		*cfg = NULL;
	struct cred		 c;
	const char		*h[8], *json = "{\"machineId\":\""
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "\",\"systemVersion\":\"darwin#24.6.0\"}";
	size_t			 n = 1;

	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	cred_init(&c);
	c.access_token = xstrdup("aoaSECRET");
	h[0] = "Connection: close";
	upstream_auth_headers(&a, &c, cfg, &runtime, h, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(h[0], "Connection: close");
	ck_assert_str_eq(h[1], "x-amz-user-agent: aws-sdk-js/1.0.0 KiroIDE-"
	    "0.11.107-0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef");
	ck_assert_str_eq(h[2], "User-Agent: aws-sdk-js/1.0.0 ua/2.1 "
	    "os/darwin#24.6.0 lang/js md/nodejs#22.22.0 "
	    "api/codewhispererruntime#1.0.0 m/N,E KiroIDE-0.11.107-"
	    "0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef");
	ck_assert_int_eq(strncmp(h[3], "amz-sdk-invocation-id: ", 23), 0);
	ck_assert_str_eq(h[4], "amz-sdk-request: attempt=1; max=1");
	ck_assert_str_eq(h[5], "Authorization: Bearer aoaSECRET");
	upstream_auth_free(&a);
	ck_assert_ptr_null(a.block);

	/* An API-key credential sends the key and says so. */
	c.auth_method = CRED_AUTH_API_KEY;
	c.kiro_api_key = xstrdup("ksk_KEY");
	n = 0;
	upstream_auth_headers(&a, &c, cfg, &runtime, h, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(h[4], "Authorization: Bearer ksk_KEY");
	ck_assert_str_eq(h[5], "tokentype: API_KEY");
	upstream_auth_free(&a);

	/* The lines live in one block; a count of two digits. */
	n = 0;
	upstream_auth_headers(&a, &c, cfg, &many, h, &n);
	ck_assert_str_eq(h[3], "amz-sdk-request: attempt=1; max=12");
	ck_assert_str_eq(h[4], "Authorization: Bearer ksk_KEY");
	ck_assert_ptr_eq(h[0], a.block);
	ck_assert_uint_eq(a.block_len, strlen(h[0]) + strlen(h[1]) +
	    strlen(h[2]) + strlen(h[3]) + strlen(h[4]) + 5);
	upstream_auth_free(&a);
	cred_free(&c);
	config_free(cfg);
}
END_TEST

/* ---- upstream_proxy ---- */

START_TEST(upstream_proxy_precedence)
{
	struct config	 cfg;
	struct cred	 c;
	const char	*user, *pass, *p;

	memset(&cfg, 0, sizeof(cfg));
	cred_init(&c);

	/* None: libcurl's defaults. */
	user = pass = "stale";
	ck_assert_ptr_null(upstream_proxy(&c, &cfg, &user, &pass));
	ck_assert_ptr_null(user);
	ck_assert_ptr_null(pass);

	/* The config's, with its credentials. */
	cfg.proxy_url = "http://cfg-proxy:3128";
	cfg.proxy_username = "cfg-user";
	cfg.proxy_password = "cfg-pass";
	p = upstream_proxy(&c, &cfg, &user, &pass);
	ck_assert_str_eq(p, "http://cfg-proxy:3128");
	ck_assert_str_eq(user, "cfg-user");
	ck_assert_str_eq(pass, "cfg-pass");
	ck_assert_str_eq(upstream_proxy(NULL, &cfg, &user, &pass),
	    "http://cfg-proxy:3128");

	/* The credential's own wins, with its own credentials only. */
	c.proxy_url = xstrdup("socks5h://cred-proxy:1080");
	p = upstream_proxy(&c, &cfg, &user, &pass);
	ck_assert_str_eq(p, "socks5h://cred-proxy:1080");
	ck_assert_ptr_null(user);
	ck_assert_ptr_null(pass);
	c.proxy_username = xstrdup("cred-user");
	c.proxy_password = xstrdup("cred-pass");
	p = upstream_proxy(&c, &cfg, &user, &pass);
	ck_assert_str_eq(user, "cred-user");
	ck_assert_str_eq(pass, "cred-pass");

	/* "direct": no proxy at all, even with one configured. */
	free(c.proxy_url);
	c.proxy_url = xstrdup("direct");
	p = upstream_proxy(&c, &cfg, &user, &pass);
	ck_assert_str_eq(p, "direct");
	ck_assert_ptr_null(user);
	ck_assert_ptr_null(pass);
	cred_free(&c);
}
END_TEST

/* ---- upstream_generate against the mock ---- */

static struct tu_mock	 mock;
static struct config	*cfg;
static struct http	*h;

static void
gen_setup(void)
{
	struct buf	 out = BUF_INIT;
	char		*json, *why = NULL;

	unsetenv("API_KEY");
	unsetenv("REGION");
	tu_mock_start(&mock);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts",
	    "{\"accessToken\":\"" TOKEN "\"}", &out), 200);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts",
	    "{\"accessToken\":\"" KSK "\"}", &out), 200);
	buf_free(&out);
	json = xasprintf("{\"apiBaseUrl\":\"%s/{region}/api\",\"region\":"
	    "\"us-east-1\",\"kiroVersion\":\"0.11.107\",\"systemVersion\":"
	    "\"darwin#24.6.0\",\"nodeVersion\":\"22.22.0\",\"machineId\":"
	    "\"" MACHINE_ID "\",\"connectTimeoutMs\":5000}", mock.base);
	ck_assert_msg(config_parse(json, strlen(json), NULL, &cfg, NULL, &why)
	    == KF_OK, "%s", why);
	free(json);
	h = http_new();
}

static void
gen_teardown(void)
{
	http_free(h);
	config_free(cfg);
	tu_mock_stop(&mock);
}

/* A social credential with the registered token; no proxy. */
static void
social_cred(struct cred *c)
{
	cred_init(c);
	c->id = 1;
	c->auth_method = CRED_AUTH_SOCIAL;
	c->access_token = xstrdup(TOKEN);
	c->refresh_token = xstrdup("aor-not-used");
	c->proxy_url = xstrdup("direct");
}

struct collected {
	struct buf	bytes;
};

static int
collect(void *arg, const char *data, size_t len)
{
	struct collected	*col = arg;

	buf_append(&col->bytes, data, len);
	return 0;
}

static enum kf_err
generate_on(const struct cred *c, const struct upstream_route *route,
    struct collected *col, struct http_resp *resp)
{
	struct upstream_call	 call;
	char			*why = NULL;
	enum kf_err		 er;

	memset(&call, 0, sizeof(call));
	if (route != NULL)
		call.route = *route;
	call.cfg = cfg;
	call.cred = c;
	call.body = GEN_BODY;
	call.body_len = strlen(GEN_BODY);
	call.on_data = collect;
	call.arg = col;
	er = upstream_generate(h, &call, resp, &why);
	if (er != KF_OK)
		ck_assert_ptr_nonnull(why);
	free(why);
	return er;
}

static enum kf_err
generate(const struct cred *c, struct collected *col, struct http_resp *resp)
{
	return generate_on(c, NULL, col, resp);
}

/* The mock's log of generateAssistantResponse (an array; caller puts). */
static json_object *
gen_log(void)
{
	struct buf	 out = BUF_INIT;
	json_object	*v = NULL;

	ck_assert_int_eq(tu_mock_call(&mock,
	    "/_mock/requests?op=generateAssistantResponse", NULL, &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 64, &v, NULL), KF_OK);
	buf_free(&out);
	return v;
}

static const char *
header(json_object *entry, const char *name)
{
	json_object	*hd;
	const char	*s;

	ck_assert_int_eq(json_get_obj(entry, "headers", &hd), 1);
	return json_get_str(hd, name, &s) == 1 ? s : NULL;
}

static void
check_header(json_object *entry, const char *name, const char *want)
{
	const char	*got = header(entry, name);

	ck_assert_msg(got != NULL, "no %s header", name);
	ck_assert_msg(strcmp(got, want) == 0, "%s: \"%s\", want \"%s\"", name,
	    got, want);
}

/* A lowercase UUID version 4, RFC 4122 variant. */
static int
is_uuid_v4(const char *s)
{
	size_t	i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* Every header is one of §2.1's or one HTTP itself needs. */
static void
check_no_other_headers(json_object *entry)
{
	static const char *const allowed[] = {
		"content-type", "x-amzn-codewhisperer-optout",
		"x-amzn-kiro-agent-mode", "x-amz-user-agent", "user-agent",
		"amz-sdk-invocation-id", "amz-sdk-request", "authorization",
		"tokentype", "connection",
		/* HTTP's own */
		"host", "accept", "accept-encoding", "content-length", NULL
	};
	json_object	*hd;
	size_t		 i;

	ck_assert_int_eq(json_get_obj(entry, "headers", &hd), 1);
	json_object_object_foreach(hd, name, value) {
		(void)value;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(name, allowed[i]) == 0)
				break;
		ck_assert_msg(allowed[i] != NULL, "unexpected header %s",
		    name);
	}
}

START_TEST(upstream_generate_sends_the_section_2_1_headers)
{
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	json_object		*log, *e0, *e1;
	const char		*path, *id0, *id1;

	social_cred(&c);
	c.api_region = xstrdup("eu-central-1");
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);

	log = gen_log();
	ck_assert_uint_eq(json_object_array_length(log), 2);
	e0 = json_object_array_get_idx(log, 0);
	e1 = json_object_array_get_idx(log, 1);

	/* {region} is the credential's API region. */
	ck_assert_int_eq(json_get_str(e0, "path", &path), 1);
	ck_assert_str_eq(path, "/eu-central-1/api/generateAssistantResponse");

	check_header(e0, "content-type", "application/json");
	check_header(e0, "x-amzn-codewhisperer-optout", "true");
	check_header(e0, "x-amzn-kiro-agent-mode", "vibe");
	check_header(e0, "x-amz-user-agent", "aws-sdk-js/1.0.34 KiroIDE-"
	    "0.11.107-" MACHINE_ID);
	check_header(e0, "user-agent", "aws-sdk-js/1.0.34 ua/2.1 "
	    "os/darwin#24.6.0 lang/js md/nodejs#22.22.0 "
	    "api/codewhispererstreaming#1.0.34 m/E KiroIDE-0.11.107-"
	    MACHINE_ID);
	check_header(e0, "amz-sdk-request", "attempt=1; max=3");
	check_header(e0, "authorization", "Bearer " TOKEN);
	ck_assert_ptr_null(header(e0, "tokentype"));
	check_no_other_headers(e0);

	/* A new UUID v4 per call. */
	ck_assert_ptr_nonnull(id0 = header(e0, "amz-sdk-invocation-id"));
	ck_assert_ptr_nonnull(id1 = header(e1, "amz-sdk-invocation-id"));
	ck_assert_msg(is_uuid_v4(id0), "not a UUID v4: %s", id0);
	ck_assert_msg(is_uuid_v4(id1), "not a UUID v4: %s", id1);
	ck_assert_str_ne(id0, id1);

	json_object_put(log);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_api_key_sends_tokentype)
{
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	json_object		*log, *e;

	cred_init(&c);
	c.id = 2;
	c.auth_method = CRED_AUTH_API_KEY;
	c.kiro_api_key = xstrdup(KSK);
	c.access_token = xstrdup("aoa-must-not-be-sent");
	c.proxy_url = xstrdup("direct");
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);

	log = gen_log();
	ck_assert_uint_eq(json_object_array_length(log), 1);
	e = json_object_array_get_idx(log, 0);
	check_header(e, "authorization", "Bearer " KSK);
	check_header(e, "tokentype", "API_KEY");
	check_no_other_headers(e);
	json_object_put(log);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_region_falls_back_to_config)
{
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	json_object		*log;
	const char		*path;

	social_cred(&c);
	memset(&col, 0, sizeof(col));
	/* No apiRegion anywhere: the config's region. */
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	http_resp_free(&resp);
	/* The config's apiRegion over its region. */
	cfg->api_region = xstrdup("ap-southeast-2");
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	http_resp_free(&resp);

	log = gen_log();
	ck_assert_uint_eq(json_object_array_length(log), 2);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(log, 0),
	    "path", &path), 1);
	ck_assert_str_eq(path, "/us-east-1/api/generateAssistantResponse");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(log, 1),
	    "path", &path), 1);
	ck_assert_str_eq(path, "/ap-southeast-2/api/generateAssistantResponse");
	json_object_put(log);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_streams_to_on_data)
{
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;

	social_cred(&c);
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.body_started, 1);
	ck_assert_uint_eq(resp.body.len, 0);
	/* The event stream, raw: frames name their event types. */
	ck_assert_uint_gt(col.bytes.len, 16);
	ck_assert_ptr_nonnull(memmem(col.bytes.ptr, col.bytes.len,
	    "assistantResponseEvent", 22));
	ck_assert_ptr_nonnull(memmem(col.bytes.ptr, col.bytes.len,
	    "hello upstream", 14));
	http_resp_free(&resp);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_errors_classified_end_to_end)
{
	static const struct {
		const char		*preset;
		long			 status;
		enum upstream_verdict	 verdict;
		const char		*text;	/* in upstream_error_text */
	} cases[] = {
		{ "monthly_quota", 402, UV_QUOTA, "MONTHLY_REQUEST_COUNT" },
		{ "monthly_quota_nested", 402, UV_QUOTA,
		    "MONTHLY_REQUEST_COUNT" },
		{ "suspended", 403, UV_SUSPENDED, "" },
		{ "bearer_invalid", 403, UV_BEARER_INVALID, "bearer token" },
		{ "throttle", 429, UV_THROTTLED, "" },
		{ "request_timeout", 408, UV_THROTTLED, "" },
		{ "server_error", 500, UV_SERVER, "" },
		{ "high_load", 502, UV_SERVER, "" },
		{ "unavailable", 503, UV_SERVER, "" },
		{ "context_full", 400, UV_CONTEXT_FULL,
		    "CONTENT_LENGTH_EXCEEDS_THRESHOLD" },
		{ "input_too_long", 400, UV_INPUT_TOO_LONG, "Input is too long" },
		{ "improperly_formed", 400, UV_BAD_REQUEST,
		    "Improperly formed request" },
	};
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	struct buf		 out = BUF_INIT;
	char			*script, *text;
	size_t			 i;

	social_cred(&c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		script = xasprintf("{\"match\":{},\"times\":1,\"response\":"
		    "\"%s\"}", cases[i].preset);
		ck_assert_int_eq(tu_mock_call(&mock, "/_mock/script", script,
		    &out), 200);
		free(script);
		memset(&col, 0, sizeof(col));
		ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
		ck_assert_msg(resp.status == cases[i].status, "%s: %ld",
		    cases[i].preset, resp.status);
		/* Error bodies are collected, never streamed. */
		ck_assert_uint_eq(col.bytes.len, 0);
		ck_assert_msg(upstream_classify(resp.status, resp.body.ptr,
		    resp.body.len) == cases[i].verdict, "%s: %s (%s)",
		    cases[i].preset, upstream_verdict_name(upstream_classify(
		    resp.status, resp.body.ptr, resp.body.len)),
		    buf_cstr(&resp.body));
		text = upstream_error_text(resp.body.ptr, resp.body.len);
		ck_assert_msg(strstr(text, cases[i].text) != NULL,
		    "%s: \"%s\"", cases[i].preset, text);
		free(text);
		http_resp_free(&resp);
		buf_free(&col.bytes);
	}

	/* A token the mock does not know. */
	free(c.access_token);
	c.access_token = xstrdup("aoa-unknown");
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate(&c, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 403);
	ck_assert_int_eq(upstream_classify(resp.status, resp.body.ptr,
	    resp.body.len), UV_BEARER_INVALID);
	http_resp_free(&resp);
	buf_free(&out);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_unreachable_is_network)
{
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;

	social_cred(&c);
	/* Nothing listens on port 1. */
	free(cfg->api_base_url);
	cfg->api_base_url = xstrdup("http://127.0.0.1:1/{region}");
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate(&c, &col, &resp), KF_EUPSTREAM);
	ck_assert_int_eq(resp.network, 1);
	ck_assert_int_eq(upstream_classify(resp.status, resp.body.ptr,
	    resp.body.len), UV_NETWORK);
	http_resp_free(&resp);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_route_configured_per_account_kind)
{
	struct config		*conf = NULL;
	struct cred		 c;
	struct upstream_route	 r;
	char			*why = NULL;

	ck_assert_int_eq(config_parse("{}", 2, NULL, &conf, NULL, &why),
	    KF_OK);
	cred_init(&c);
	c.auth_method = CRED_AUTH_SOCIAL;
	upstream_route_configured(&c, conf, &r);
	ck_assert_int_eq(r.host, API_HOST_RUNTIME);
	ck_assert_int_eq(r.style, API_STYLE_PATH);
	/* Builder ID: the legacy host, unless idcApiHost says otherwise. */
	c.auth_method = CRED_AUTH_IDC;
	upstream_route_configured(&c, conf, &r);
	ck_assert_int_eq(r.host, API_HOST_LEGACY);
	conf->idc_api_host = API_HOST_RUNTIME;
	conf->api_style = API_STYLE_TARGET;
	upstream_route_configured(&c, conf, &r);
	ck_assert_int_eq(r.host, API_HOST_RUNTIME);
	ck_assert_int_eq(r.style, API_STYLE_TARGET);
	/* The account's own keys win; the legacy host has no target style. */
	c.api_host = xstrdup("legacy");
	upstream_route_configured(&c, conf, &r);
	ck_assert_int_eq(r.host, API_HOST_LEGACY);
	ck_assert_int_eq(r.style, API_STYLE_PATH);
	free(c.api_host);
	c.api_host = NULL;
	c.api_style = xstrdup("path");
	upstream_route_configured(&c, conf, &r);
	ck_assert_int_eq(r.host, API_HOST_RUNTIME);
	ck_assert_int_eq(r.style, API_STYLE_PATH);
	ck_assert_str_eq(upstream_base_url(conf, API_HOST_RUNTIME),
	    "https://runtime.{region}.kiro.dev");
	ck_assert_str_eq(upstream_base_url(conf, API_HOST_LEGACY),
	    "https://q.{region}.amazonaws.com");
	cred_free(&c);
	config_free(conf);
}
END_TEST

START_TEST(upstream_route_fallback_per_refusal)
{
	static const char	invalid[] = "{\"message\":\"Improperly formed "
	    "request.\",\"reason\":\"REQUEST_BODY_INVALID\"}";
	static const char	improper[] = "{\"message\":\"Improperly formed "
	    "request.\",\"reason\":null}";
	static const char	profile[] = "{\"message\":\"profileArn is "
	    "required\",\"reason\":null}";
	static const char	throttled[] = "{\"message\":\"slow down\"}";
	struct config		*conf = NULL;
	struct upstream_route	 rt_path = { API_HOST_RUNTIME, API_STYLE_PATH };
	struct upstream_route	 rt_target = { API_HOST_RUNTIME,
	    API_STYLE_TARGET };
	struct upstream_route	 legacy = { API_HOST_LEGACY, API_STYLE_PATH };
	struct upstream_route	 next;
	char			*why = NULL;

	ck_assert_int_eq(config_parse("{}", 2, NULL, &conf, NULL, &why),
	    KF_OK);
	/* REQUEST_BODY_INVALID: the other style, both ways. */
	ck_assert_int_eq(upstream_route_fallback(conf, &rt_path, 400, invalid,
	    strlen(invalid), &next), 1);
	ck_assert_int_eq(next.host, API_HOST_RUNTIME);
	ck_assert_int_eq(next.style, API_STYLE_TARGET);
	ck_assert_int_eq(upstream_route_fallback(conf, &rt_target, 400,
	    invalid, strlen(invalid), &next), 1);
	ck_assert_int_eq(next.style, API_STYLE_PATH);
	/* "profileArn is required": the legacy host. */
	ck_assert_int_eq(upstream_route_fallback(conf, &rt_target, 400,
	    profile, strlen(profile), &next), 1);
	ck_assert_int_eq(next.host, API_HOST_LEGACY);
	ck_assert_int_eq(next.style, API_STYLE_PATH);
	/* No answer or 404 from the legacy host: the runtime host. */
	ck_assert_int_eq(upstream_route_fallback(conf, &legacy, 0, NULL, 0,
	    &next), 1);
	ck_assert_int_eq(next.host, API_HOST_RUNTIME);
	ck_assert_int_eq(upstream_route_fallback(conf, &legacy, 404, NULL, 0,
	    &next), 1);
	/* Everything else is the request's or the account's problem. */
	ck_assert_int_eq(upstream_route_fallback(conf, &rt_path, 400,
	    improper, strlen(improper), &next), 0);
	ck_assert_int_eq(upstream_route_fallback(conf, &rt_path, 0, NULL, 0,
	    &next), 0);
	ck_assert_int_eq(upstream_route_fallback(conf, &legacy, 429,
	    throttled, strlen(throttled), &next), 0);
	ck_assert_int_eq(upstream_route_fallback(conf, &legacy, 400,
	    improper, strlen(improper), &next), 0);
	/* One base URL for both hosts: switching hosts changes nothing. */
	free(conf->legacy_api_base_url);
	conf->legacy_api_base_url = xstrdup(conf->api_base_url);
	ck_assert_int_eq(upstream_route_fallback(conf, &legacy, 0, NULL, 0,
	    &next), 0);
	ck_assert_int_eq(upstream_route_fallback(conf, &rt_path, 400, invalid,
	    strlen(invalid), &next), 1);
	config_free(conf);
}
END_TEST

/* The two hosts of the mock (its README, "Two hosts"). */
static void
two_hosts(void)
{
	free(cfg->api_base_url);
	cfg->api_base_url = xasprintf("%s/runtime", mock.base);
	free(cfg->legacy_api_base_url);
	cfg->legacy_api_base_url = xasprintf("%s/legacy", mock.base);
}

static const char *
logged_str(json_object *entry, const char *key)
{
	const char	*s;

	return json_get_str(entry, key, &s) == 1 ? s : NULL;
}

static const char *
logged_profile(json_object *entry, const char *where)
{
	json_object	*p;
	const char	*s;

	ck_assert_int_eq(json_get_obj(entry, "profile", &p), 1);
	return json_get_str(p, where, &s) == 1 ? s : NULL;
}

START_TEST(upstream_generate_target_style_on_the_runtime_host)
{
	struct upstream_route	 route = { API_HOST_RUNTIME, API_STYLE_TARGET };
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	json_object		*log, *e;
	const char		*ua;

	two_hosts();
	social_cred(&c);
	c.profile_arn = xstrdup(PROFILE);
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate_on(&c, &route, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);

	log = gen_log();
	ck_assert_uint_eq(json_object_array_length(log), 1);
	e = json_object_array_get_idx(log, 0);
	ck_assert_str_eq(logged_str(e, "host"), "runtime");
	ck_assert_str_eq(logged_str(e, "style"), "target");
	ck_assert_str_eq(logged_str(e, "path"), "/runtime/");
	check_header(e, "x-amz-target",
	    "KiroRuntimeService.GenerateAssistantResponse");
	check_header(e, "x-amzn-kiro-client-attribution", "kiro-ide");
	check_header(e, "x-amzn-codewhisperer-profile-arn", PROFILE);
	ck_assert_ptr_nonnull(ua = header(e, "user-agent"));
	ck_assert_msg(strstr(ua, " api/kiroruntime#1.0.0 ") != NULL, "%s", ua);
	json_object_put(log);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_path_style_on_each_host)
{
	struct upstream_route	 runtime = { API_HOST_RUNTIME, API_STYLE_PATH };
	struct upstream_route	 legacy = { API_HOST_LEGACY, API_STYLE_PATH };
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	json_object		*log, *e;

	two_hosts();
	social_cred(&c);
	memset(&col, 0, sizeof(col));
	/* Path style reads the profile from the body, not a header. */
	ck_assert_int_eq(generate_on(&c, &runtime, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 400);
	http_resp_free(&resp);
	ck_assert_int_eq(generate_on(&c, &legacy, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);

	log = gen_log();
	ck_assert_uint_eq(json_object_array_length(log), 2);
	e = json_object_array_get_idx(log, 0);
	ck_assert_str_eq(logged_str(e, "host"), "runtime");
	ck_assert_str_eq(logged_str(e, "path"),
	    "/runtime/generateAssistantResponse");
	ck_assert_ptr_null(header(e, "x-amz-target"));
	e = json_object_array_get_idx(log, 1);
	ck_assert_str_eq(logged_str(e, "host"), "legacy");
	ck_assert_str_eq(logged_str(e, "style"), "path");
	json_object_put(log);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

START_TEST(upstream_generate_never_sends_a_profile_for_idc)
{
	struct upstream_route	 route = { API_HOST_RUNTIME, API_STYLE_TARGET };
	struct cred		 c;
	struct collected	 col;
	struct http_resp	 resp;
	struct buf		 out = BUF_INIT;
	json_object		*log, *e;

	two_hosts();
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts",
	    "{\"accessToken\":\"" IDC_TOKEN "\",\"authMethod\":\"idc\"}",
	    &out), 200);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/settings",
	    "{\"runtime_allow_idc\":true}", &out), 200);
	buf_free(&out);
	social_cred(&c);
	c.auth_method = CRED_AUTH_IDC;
	free(c.access_token);
	c.access_token = xstrdup(IDC_TOKEN);
	/* Even one set by hand (cred_from_json drops a file's). */
	c.profile_arn = xstrdup(PROFILE);
	memset(&col, 0, sizeof(col));
	ck_assert_int_eq(generate_on(&c, &route, &col, &resp), KF_OK);
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);
	log = gen_log();
	e = json_object_array_get_idx(log, 0);
	ck_assert_str_eq(logged_str(e, "style"), "target");
	ck_assert_ptr_null(logged_profile(e, "header"));
	json_object_put(log);
	buf_free(&col.bytes);
	cred_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("upstream");
	TCase	*pure = tcase_create("pure");
	TCase	*gen = tcase_create("generate");
	int	 rc;

	http_global_init();
	tcase_add_test(pure, upstream_classify_every_row);
	tcase_add_test(pure, upstream_classify_reads_only_len_bytes);
	tcase_add_test(pure, upstream_verdict_names);
	tcase_add_test(pure, upstream_error_text_json);
	tcase_add_test(pure, upstream_error_text_non_json_truncated_and_cleaned);
	tcase_add_test(pure, upstream_proxy_precedence);
	tcase_add_test(pure, upstream_auth_headers_follow_the_sdk);
	tcase_add_test(pure, upstream_route_configured_per_account_kind);
	tcase_add_test(pure, upstream_route_fallback_per_refusal);
	suite_add_tcase(s, pure);

	tcase_add_checked_fixture(gen, gen_setup, gen_teardown);
	tcase_add_test(gen, upstream_generate_sends_the_section_2_1_headers);
	tcase_add_test(gen, upstream_generate_api_key_sends_tokentype);
	tcase_add_test(gen, upstream_generate_region_falls_back_to_config);
	tcase_add_test(gen, upstream_generate_streams_to_on_data);
	tcase_add_test(gen, upstream_generate_errors_classified_end_to_end);
	tcase_add_test(gen, upstream_generate_unreachable_is_network);
	tcase_add_test(gen, upstream_generate_target_style_on_the_runtime_host);
	tcase_add_test(gen, upstream_generate_path_style_on_each_host);
	tcase_add_test(gen, upstream_generate_never_sends_a_profile_for_idc);
	tcase_set_timeout(gen, 120);
	suite_add_tcase(s, gen);
	rc = tu_run(s);
	http_global_cleanup();
	return rc;
}
