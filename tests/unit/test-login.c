/* test-login.c: login steps: PKCE, URLs, redirects, device polling against the mock. */
#include "autoconfig.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "clock.h"
#include "config.h"
#include "cred.h"
#include "http.h"
#include "json.h"
#include "login.h"
#include "testutil.h"
#include "xmalloc.h"

#define STATE	"st4te-ABC_123"

static struct tu_mock	 mock;
static struct config	*cfg;
static struct http	*h;

static void
mock_post(const char *path, const char *body)
{
	struct buf	out = BUF_INIT;

	ck_assert_msg(tu_mock_call(&mock, path, body, &out) == 200, "%s: %s",
	    path, out.ptr);
	buf_free(&out);
}

static void
setup(void)
{
	char	*json;

	tu_mock_start(&mock);
	json = xasprintf("{\"apiBaseUrl\":\"%s\",\"authBaseUrl\":\"%s\","
	    "\"oidcBaseUrl\":\"%s/oidc/{region}\"}", mock.base, mock.base,
	    mock.base);
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	free(json);
	h = http_new();
}

static void
teardown(void)
{
	http_free(h);
	config_free(cfg);
	tu_mock_stop(&mock);
}

/* A config for the tests without the mock. */
static struct config *
plain_config(const char *json)
{
	struct config	*c = NULL;

	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &c, NULL,
	    NULL), KF_OK);
	return c;
}

/* --- PKCE and URLs -------------------------------------------------------- */

START_TEST(pkce_rfc7636_appendix_b)
{
	char	challenge[LOGIN_B64_32];

	login_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
	    challenge);
	ck_assert_str_eq(challenge,
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}
END_TEST

START_TEST(pkce_new_is_random_and_consistent)
{
	struct login_pkce	a, b;
	char			check[LOGIN_B64_32];

	login_pkce_new(&a);
	login_pkce_new(&b);
	ck_assert_uint_eq(strlen(a.verifier), 43);
	ck_assert_uint_eq(strlen(a.state), 43);
	ck_assert_uint_eq(strspn(a.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	ck_assert_str_ne(a.verifier, b.verifier);
	ck_assert_str_ne(a.state, b.state);
	ck_assert_str_ne(a.verifier, a.state);
	login_pkce_challenge(a.verifier, check);
	ck_assert_str_eq(a.challenge, check);
}
END_TEST

START_TEST(idp_names)
{
	enum login_idp	idp;

	ck_assert_int_eq(login_idp_parse("google", &idp), 0);
	ck_assert_str_eq(login_idp_name(idp), "Google");
	ck_assert_int_eq(login_idp_parse("GitHub", &idp), 0);
	ck_assert_str_eq(login_idp_name(idp), "Github");
	ck_assert_int_eq(login_idp_parse("builder-id", &idp), -1);
	ck_assert_int_eq(login_idp_parse("", &idp), -1);
}
END_TEST

START_TEST(social_url_is_built_and_escaped)
{
	struct config		*c;
	struct login_pkce	 p;
	char			*url;

	c = plain_config("{\"region\":\"eu-central-1\"}");
	memset(&p, 0, sizeof(p));
	snprintf(p.challenge, sizeof(p.challenge), "chal-_lenge");
	snprintf(p.state, sizeof(p.state), "sta+te");
	url = login_social_url(c, NULL, LOGIN_GITHUB,
	    "http://127.0.0.1:19876/oauth/callback", &p);
	ck_assert_str_eq(url, "https://prod.eu-central-1.auth.desktop.kiro.dev"
	    "/login?idp=Github&redirect_uri=http%3A%2F%2F127.0.0.1%3A19876%2F"
	    "oauth%2Fcallback&code_challenge=chal-_lenge&"
	    "code_challenge_method=S256&state=sta%2Bte");
	free(url);
	/* An explicit region wins over the configured one. */
	url = login_social_url(c, "us-east-1", LOGIN_GOOGLE, "x", &p);
	ck_assert_ptr_nonnull(strstr(url, "https://prod.us-east-1.auth."
	    "desktop.kiro.dev/login?idp=Google&redirect_uri=x&"));
	free(url);
	config_free(c);
}
END_TEST

START_TEST(login_refuses_a_region_that_is_not_aws)
{
	struct login_device	 d;
	struct login_pkce	 p;
	struct config		*c;
	struct cred		 out;
	char			*why = NULL, *url;

	/* Port 1: a request would fail with another cause. */
	c = plain_config("{\"region\":\"eu-central-1\",\"oidcBaseUrl\":"
	    "\"http://127.0.0.1:1/{region}\",\"authBaseUrl\":"
	    "\"http://127.0.0.1:1/{region}\"}");
	ck_assert_int_eq(login_device_start(NULL, c, "evil.example/x?", &d,
	    &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "region must be an AWS region"));
	login_device_free(&d);
	free(why);
	why = NULL;
	cred_init(&out);
	ck_assert_int_eq(login_social_exchange(NULL, c, "evil.example/x?",
	    "code", "verifier", "http://127.0.0.1/cb", &out, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "region must be an AWS region"));
	free(why);
	memset(&p, 0, sizeof(p));
	url = login_social_url(c, "evil.example/x?", LOGIN_GOOGLE, "x", &p);
	ck_assert_ptr_null(strstr(url, "evil"));
	ck_assert_ptr_nonnull(strstr(url, "/eu-central-1/login?"));
	free(url);
	config_free(c);
}
END_TEST

/* --- redirect parsing ----------------------------------------------------- */

static enum kf_err
parse(const char *url, char **code, char **why)
{
	*code = NULL;
	*why = NULL;
	return login_parse_redirect(url, STATE, code, why);
}

START_TEST(redirect_good_forms)
{
	static const char *const urls[] = {
		"http://127.0.0.1:1/oauth/callback?code=abc%2Fd&state=" STATE,
		"  http://127.0.0.1:1/oauth/callback?state=" STATE
		    "&code=abc%2fd&x=1#frag\r\n",
		"/oauth/callback?code=abc/d&state=" STATE,
		"code=abc%2Fd&state=" STATE,
		"kiro://kiro.kiroAgent/authenticate-success?code=abc%2Fd&"
		    "state=st4te%2DABC_123",
	};
	char	*code, *why;
	size_t	 i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		ck_assert_msg(parse(urls[i], &code, &why) == KF_OK, "%s: %s",
		    urls[i], why);
		ck_assert_str_eq(code, "abc/d");
		free(code);
	}
}
END_TEST

START_TEST(redirect_bad_forms)
{
	static const struct {
		const char	*url;
		enum kf_err	 er;
		const char	*words;
	} cases[] = {
		{ "http://h/oauth/callback?code=abc&state=other", KF_EINVAL,
		    "does not match" },
		/* cut off inside the state */
		{ "http://h/oauth/callback?code=abc&state=st4te-AB", KF_EINVAL,
		    "does not match" },
		/* cut off before the state */
		{ "http://h/oauth/callback?code=abc&sta", KF_EINVAL,
		    "no state=" },
		{ "http://h/oauth/callback?state=" STATE, KF_EINVAL,
		    "no code=" },
		{ "http://h/oauth/callback?code=&state=" STATE, KF_EINVAL,
		    "no code=" },
		/* cut off inside an escape */
		{ "http://h/oauth/callback?state=" STATE "&code=ab%2", KF_EINVAL,
		    "badly escaped" },
		{ "http://h/oauth/callback?code=a%00b&state=" STATE, KF_EINVAL,
		    "badly escaped" },
		{ "http://h/oauth/callback", KF_EINVAL, "has no query" },
		{ "http://h/oauth/cal", KF_EINVAL, "has no query" },
		{ "   \n", KF_EINVAL, "no redirect URL" },
		{ "http://h/cb?error=access_denied&error_description=User+said"
		    "+no&state=" STATE, KF_ELOGIN, "refused: access_denied: "
		    "User said no" },
		/* A refusal for another login (or none) ends nothing. */
		{ "http://h/cb?error=access_denied&state=other", KF_EINVAL,
		    "does not match" },
		{ "http://h/cb?error=access_denied", KF_EINVAL, "no state=" },
	};
	char	*code, *why;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(parse(cases[i].url, &code, &why), cases[i].er);
		ck_assert_ptr_null(code);
		ck_assert_msg(why != NULL && strstr(why, cases[i].words) !=
		    NULL, "%s: \"%s\" lacks \"%s\"", cases[i].url, why,
		    cases[i].words);
		free(why);
	}
}
END_TEST

/* --- the device flow against the mock ------------------------------------ */

static void
start_device(struct login_device *d)
{
	char	*why = NULL;

	ck_assert_msg(login_device_start(h, cfg, NULL, d, &why) == KF_OK,
	    "%s", why);
}

/* The body of the last request the mock logged for op. */
static json_object *
last_request(const char *op)
{
	struct buf	 out = BUF_INIT;
	json_object	*arr = NULL, *body = NULL;
	char		 path[128];
	size_t		 n;

	snprintf(path, sizeof(path), "/_mock/requests?op=%s", op);
	ck_assert_int_eq(tu_mock_call(&mock, path, NULL, &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 32, &arr, NULL), KF_OK);
	if (!json_object_is_type(arr, json_type_array))
		ck_assert_int_eq(json_get_arr(arr, "requests", &arr), 1);
	n = json_object_array_length(arr);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(json_get_obj(json_object_array_get_idx(arr, n - 1),
	    "body", &body), 1);
	body = json_object_get(body);
	json_object_put(arr);
	buf_free(&out);
	return body;
}

START_TEST(device_flow_pending_slow_down_then_done)
{
	struct login_device	 d;
	struct cred		 c;
	enum login_step		 step;
	json_object		*body;
	const char		*s;
	char			*why = NULL, *json;

	mock_post("/_mock/settings", "{\"device_slow_down\":1}");
	start_device(&d);
	ck_assert_str_eq(d.region, "us-east-1");
	ck_assert_ptr_nonnull(strstr(d.verification_uri_complete,
	    d.user_code));
	ck_assert_int_eq(d.interval, 1);
	ck_assert_int_gt(d.expires_at, clock_now() + 500);
	/* What was sent: scopes, the start URL, the region in the URL. */
	body = last_request("client/register");
	ck_assert_int_eq(json_get_str(body, "clientType", &s), 1);
	ck_assert_str_eq(s, "public");
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(body),
	    "codewhisperer:conversations"));
	json_object_put(body);
	body = last_request("device_authorization");
	ck_assert_int_eq(json_get_str(body, "startUrl", &s), 1);
	ck_assert_str_eq(s, LOGIN_START_URL);
	json_object_put(body);

	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why), KF_OK);
	ck_assert_int_eq(step, LOGIN_SLOW_DOWN);
	ck_assert_int_eq(d.interval, 1 + LOGIN_SLOW_DOWN_STEP);
	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why), KF_OK);
	ck_assert_int_eq(step, LOGIN_PENDING);
	ck_assert_int_eq(d.interval, 1 + LOGIN_SLOW_DOWN_STEP);

	json = xasprintf("{\"userCode\":\"%s\"}", d.user_code);
	mock_post("/_mock/device/approve", json);
	free(json);
	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why), KF_OK);
	ck_assert_int_eq(step, LOGIN_DONE);
	ck_assert_int_eq(c.auth_method, CRED_AUTH_IDC);
	ck_assert_str_eq(c.client_id, d.client_id);
	ck_assert_str_eq(c.client_secret, d.client_secret);
	ck_assert_str_eq(c.region, "us-east-1");
	ck_assert_ptr_nonnull(c.access_token);
	ck_assert_int_gt(c.expires_at, clock_now() + 3000);
	ck_assert_int_eq(cred_validate(&c, NULL), KF_OK);
	ck_assert_int_eq(tu_mock_stat(&mock, "device_tokens"), 1);
	cred_free(&c);
	login_device_free(&d);
}
END_TEST

START_TEST(device_flow_denied)
{
	struct login_device	 d;
	struct cred		 c;
	enum login_step		 step;
	char			*why = NULL, *json;

	start_device(&d);
	json = xasprintf("{\"userCode\":\"%s\"}", d.user_code);
	mock_post("/_mock/device/deny", json);
	free(json);
	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why),
	    KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "denied"));
	ck_assert_int_ne(step, LOGIN_DONE);
	free(why);
	login_device_free(&d);
}
END_TEST

START_TEST(device_flow_expired)
{
	struct login_device	 d;
	struct cred		 c;
	enum login_step		 step;
	char			*why = NULL;
	long			 before;

	/* The service says so (expired_token)... */
	mock_post("/_mock/settings", "{\"device_expires_in\":1}");
	start_device(&d);
	d.expires_at = clock_now() + 100;
	poll(NULL, 0, 1100);
	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why),
	    KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "expired_token"));
	free(why);
	why = NULL;
	/* ...or the clock does, without asking. */
	d.expires_at = clock_now() - 1;
	before = tu_mock_stat(&mock, "requests");
	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why),
	    KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "expired"));
	ck_assert_int_eq(tu_mock_stat(&mock, "requests"), before);
	free(why);
	login_device_free(&d);
}
END_TEST

START_TEST(device_flow_wrong_client_names_no_secret)
{
	struct login_device	 d;
	struct cred		 c;
	enum login_step		 step;
	char			*why = NULL, *secret;

	start_device(&d);
	secret = d.client_secret;
	d.client_secret = xstrdup("not-the-secret");
	ck_assert_int_eq(login_device_poll(h, cfg, &d, &step, &c, &why),
	    KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "invalid_client"));
	ck_assert_ptr_null(strstr(why, "not-the-secret"));
	ck_assert_ptr_null(strstr(why, d.device_code));
	free(why);
	free(secret);
	login_device_free(&d);
}
END_TEST

START_TEST(device_start_unreachable)
{
	struct login_device	 d;
	struct config		*c;
	char			*why = NULL;

	/* Port 1 on loopback: nothing listens there. */
	c = plain_config("{\"oidcBaseUrl\":\"http://127.0.0.1:1\","
	    "\"connectTimeoutMs\":2000}");
	ck_assert_int_ne(login_device_start(h, c, NULL, &d, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(why, "OIDC client registration"));
	free(why);
	login_device_free(&d);
	config_free(c);
}
END_TEST

START_TEST(device_start_cancelled_while_waiting)
{
	static volatile sig_atomic_t	 stop = 1;
	struct login_device		 d;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);
	struct config			*c;
	char				*why = NULL, *json;
	time_t				 started;
	int				 fd;

	/* A server that accepts (the backlog does) and never answers. */
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	json = xasprintf("{\"oidcBaseUrl\":\"http://127.0.0.1:%d\"}",
	    ntohs(sin.sin_port));
	c = plain_config(json);
	login_set_cancel(&stop);
	started = clock_now();
	ck_assert_int_eq(login_device_start(h, c, NULL, &d, &why),
	    KF_ECLIENTGONE);
	ck_assert_int_le(clock_now() - started, 5);
	login_set_cancel(NULL);
	free(why);
	free(json);
	login_device_free(&d);
	config_free(c);
	close(fd);
}
END_TEST

/* --- answers the mock does not give: a canned one-shot server ----------- */

/*
 * Forks a server on a loopback port that answers each of n connections
 * with the raw HTTP response, then exits.  Returns its pid; *port is set.
 */
static pid_t
canned_server(const char *response, int n, int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 req[8192];
	pid_t			 pid;
	int			 fd, c;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		while (n-- > 0 && (c = accept(fd, NULL, NULL)) != -1) {
			/* The whole request fits one read on loopback. */
			(void)read(c, req, sizeof(req));
			(void)write(c, response, strlen(response));
			close(c);
		}
		_exit(0);
	}
	close(fd);
	return pid;
}

/* One poll against a canned answer (status line and JSON body). */
static enum kf_err
canned_poll(const char *status, const char *json, enum login_step *step,
    struct cred *out, char **why)
{
	struct login_device	 d;
	struct config		*c;
	char			*response, *cfg_json;
	enum kf_err		 er;
	pid_t			 pid;
	int			 port, wstatus;

	response = xasprintf("HTTP/1.1 %s\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    status, strlen(json), json);
	pid = canned_server(response, 1, &port);
	cfg_json = xasprintf("{\"oidcBaseUrl\":\"http://127.0.0.1:%d\"}",
	    port);
	c = plain_config(cfg_json);
	memset(&d, 0, sizeof(d));
	d.region = xstrdup("us-east-1");
	d.client_id = xstrdup("cid");
	d.client_secret = xstrdup("csecret");
	d.device_code = xstrdup("dcode");
	d.interval = 5;
	d.expires_at = clock_now() + 600;
	*why = NULL;
	er = login_device_poll(h, c, &d, step, out, why);
	if (er == KF_OK && *step == LOGIN_SLOW_DOWN)
		ck_assert_int_eq(d.interval, 10);
	waitpid(pid, &wstatus, 0);
	login_device_free(&d);
	config_free(c);
	free(cfg_json);
	free(response);
	return er;
}

START_TEST(device_poll_other_answer_shapes)
{
	struct cred	 c;
	enum login_step	 step;
	char		*why;

	/* AWS exception names instead of the OAuth error word. */
	ck_assert_int_eq(canned_poll("400 Bad Request", "{\"__type\":"
	    "\"com.amazonaws.ssooidc#SlowDownException\",\"message\":null}",
	    &step, &c, &why), KF_OK);
	ck_assert_int_eq(step, LOGIN_SLOW_DOWN);
	ck_assert_int_eq(canned_poll("400 Bad Request", "{\"__type\":"
	    "\"AuthorizationPendingException\"}", &step, &c, &why), KF_OK);
	ck_assert_int_eq(step, LOGIN_PENDING);
	ck_assert_int_eq(canned_poll("400 Bad Request", "{\"__type\":"
	    "\"AccessDeniedException\"}", &step, &c, &why), KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "denied"));
	free(why);
	/* A pending word on a 5xx is a failure, not a reason to wait. */
	ck_assert_int_eq(canned_poll("503 Service Unavailable", "{\"error\":"
	    "\"authorization_pending\"}", &step, &c, &why), KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "device token refused"));
	free(why);
	/* Not JSON. */
	ck_assert_int_eq(canned_poll("502 Bad Gateway", "<html>oops</html>",
	    &step, &c, &why), KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "HTTP 502"));
	free(why);
	/* 200 without a refresh token. */
	ck_assert_int_eq(canned_poll("200 OK", "{\"accessToken\":\"aoa1\"}",
	    &step, &c, &why), KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "no refreshToken"));
	ck_assert_int_ne(step, LOGIN_DONE);
	free(why);
	/* snake_case tokens (KP's reading) are accepted. */
	ck_assert_int_eq(canned_poll("200 OK", "{\"access_token\":\"aoa1\","
	    "\"refresh_token\":\"aor1\",\"expires_in\":120}", &step, &c,
	    &why), KF_OK);
	ck_assert_int_eq(step, LOGIN_DONE);
	ck_assert_str_eq(c.refresh_token, "aor1");
	ck_assert_str_eq(c.client_secret, "csecret");
	ck_assert_int_le(c.expires_at, clock_now() + 120);
	ck_assert_int_gt(c.expires_at, clock_now() + 100);
	cred_free(&c);
}
END_TEST

/* --- the social flow against the mock ------------------------------------ */

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* What a browser would do: GET the login URL, read the Location. */
static char *
browser_redirect(const char *url)
{
	CURL	*c;
	char	*loc = NULL, *out;
	long	 status = 0;

	ck_assert_ptr_nonnull(c = curl_easy_init());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ck_assert_int_eq(status, 302);
	curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
	ck_assert_ptr_nonnull(loc);
	out = xstrdup(loc);
	curl_easy_cleanup(c);
	return out;
}

START_TEST(social_flow_code_exchange)
{
	struct login_pkce	 p;
	struct cred		 c;
	char			*url, *loc, *code = NULL, *why = NULL;
	const char		*redirect = "http://127.0.0.1:19876/oauth/callback";

	login_pkce_new(&p);
	url = login_social_url(cfg, NULL, LOGIN_GOOGLE, redirect, &p);
	loc = browser_redirect(url);
	ck_assert_msg(strncmp(loc, redirect, strlen(redirect)) == 0, "%s", loc);
	ck_assert_int_eq(login_parse_redirect(loc, p.state, &code, &why),
	    KF_OK);
	/* A wrong verifier is refused (the mock checks S256). */
	ck_assert_int_eq(login_social_exchange(h, cfg, NULL, code,
	    "wrong-verifier-wrong-verifier-wrong-verifier", redirect, &c,
	    &why), KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "refused"));
	ck_assert_ptr_null(strstr(why, code));
	free(why);
	why = NULL;
	free(code);
	code = NULL;
	free(loc);

	/* Again, properly. */
	loc = browser_redirect(url);
	ck_assert_int_eq(login_parse_redirect(loc, p.state, &code, &why),
	    KF_OK);
	ck_assert_msg(login_social_exchange(h, cfg, NULL, code, p.verifier,
	    redirect, &c, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(c.auth_method, CRED_AUTH_SOCIAL);
	ck_assert_ptr_nonnull(c.profile_arn);
	ck_assert_int_gt(c.expires_at, clock_now() + 3000);
	ck_assert_int_eq(cred_validate(&c, NULL), KF_OK);
	ck_assert_int_eq(tu_mock_stat(&mock, "social_logins"), 1);
	cred_free(&c);
	/* A code works once. */
	ck_assert_int_eq(login_social_exchange(h, cfg, NULL, code, p.verifier,
	    redirect, &c, &why), KF_ELOGIN);
	free(why);
	free(code);
	free(loc);
	free(url);
}
END_TEST

START_TEST(social_flow_refused_in_browser)
{
	struct login_pkce	 p;
	char			*url, *loc, *code = NULL, *why = NULL;

	mock_post("/_mock/settings", "{\"login_error\":\"access_denied\"}");
	login_pkce_new(&p);
	url = login_social_url(cfg, NULL, LOGIN_GITHUB, "http://x/cb", &p);
	loc = browser_redirect(url);
	ck_assert_int_eq(login_parse_redirect(loc, p.state, &code, &why),
	    KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "access_denied"));
	ck_assert_ptr_null(code);
	free(why);
	free(loc);
	free(url);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("login");
	TCase	*pure = tcase_create("pure");
	TCase	*tc = tcase_create("mock");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_test(pure, pkce_rfc7636_appendix_b);
	tcase_add_test(pure, pkce_new_is_random_and_consistent);
	tcase_add_test(pure, idp_names);
	tcase_add_test(pure, social_url_is_built_and_escaped);
	tcase_add_test(pure, login_refuses_a_region_that_is_not_aws);
	tcase_add_test(pure, redirect_good_forms);
	tcase_add_test(pure, redirect_bad_forms);
	suite_add_tcase(s, pure);
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, device_flow_pending_slow_down_then_done);
	tcase_add_test(tc, device_flow_denied);
	tcase_add_test(tc, device_flow_expired);
	tcase_add_test(tc, device_flow_wrong_client_names_no_secret);
	tcase_add_test(tc, device_start_unreachable);
	tcase_add_test(tc, device_start_cancelled_while_waiting);
	tcase_add_test(tc, device_poll_other_answer_shapes);
	tcase_add_test(tc, social_flow_code_exchange);
	tcase_add_test(tc, social_flow_refused_in_browser);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
