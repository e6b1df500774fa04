/* test-serve.c: serve_relay and serve_session_header against the mock upstream. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "conv.h"
#include "mocktest.h"
#include "out.h"
#include "relay.h"
#include "request.h"
#include "serve.h"
#include "sink.h"
#include "testutil.h"

static struct relay_env	 env;

/* A sink that keeps the text; a streaming one commits at start. */
struct rec {
	struct buf	 text;
	int		 streaming;
	int		 errors;
	struct sink	*sink;
};

static int
r_start(void *arg, const struct sink_start *s)
{
	struct rec	*r = arg;

	(void)s;
	r->sink->committed = r->streaming;
	return 0;
}

static int
r_text(void *arg, const char *s, size_t n)
{
	struct rec	*r = arg;

	buf_append(&r->text, s, n);
	return 0;
}

/* Thinking and tool calls do not come in these tests. */
static int
r_none(void *arg)
{
	(void)arg;
	return 0;
}

static int
r_finish(void *arg, enum sink_stop stop, const struct sink_usage *u)
{
	(void)arg;
	(void)stop;
	(void)u;
	return 0;
}

static int
r_error(void *arg, enum kf_err er, const char *msg)
{
	struct rec	*r = arg;

	(void)er;
	(void)msg;
	r->errors++;
	return 0;
}

static void
r_reset(void *arg)
{
	struct rec	*r = arg;

	buf_reset(&r->text);
}

static const struct sink_ops rec_ops = {
	r_start, r_text, NULL, NULL, NULL, NULL, NULL, r_finish, r_error,
	r_none, r_reset, NULL,
};

static void
rec_init(struct rec *r, struct sink *s, int streaming)
{
	memset(r, 0, sizeof(*r));
	memset(s, 0, sizeof(*s));
	s->ops = &rec_ops;
	s->arg = r;
	s->streams = streaming;
	r->streaming = streaming;
	r->sink = s;
}

/* The error callback: what serve_relay asked it to answer. */
static int	 err_calls;
static long	 err_retry;
static enum kf_err err_code;

static int
record_error(struct out *out, enum kf_err er, const char *why,
    long retry_after)
{
	err_calls++;
	err_code = er;
	err_retry = retry_after;
	return out_response(out, 500, "text/plain", NULL, why, strlen(why));
}

static void
setup(void)
{
	mock_setup();
	env.cfg = cfg;
	env.store = st;
	env.http = h;
	err_calls = 0;
	err_retry = -1;
	err_code = KF_OK;
}

static void
req_init(struct request *req, char **envp, struct buf *raw)
{
	memset(req, 0, sizeof(*req));
	req->envp = envp;
	req->query = "";
	req->ipc_fd = -1;
	req->relay = &env;
	req->cfg = cfg;
	req->account_id = -7;
	out_init_buf(&req->out, raw);
}

START_TEST(serve_relay_answers_through_the_sink)
{
	char		*envp[] = { NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	struct conv	 c;
	struct sink	 s;
	struct rec	 r;

	add_account("A", 0);
	req_init(&req, envp, &raw);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(serve_relay(&req, &c, &s, record_error), KF_OK);
	ck_assert_str_eq(buf_cstr(&r.text),
	    "Hello from mock Kiro. You said: hi");
	ck_assert_int_eq(err_calls, 0);
	ck_assert_int_eq(raw.len, 0);
	/* The access log's fields, and the relay may ask about the client. */
	ck_assert_int_eq(req.account_id, 1);
	ck_assert_str_eq(req.model, "claude-sonnet-4.5");
	/* The mock's default meteringEvent charges 0.01 credits. */
	ck_assert_int_eq(req.metered, 1);
	ck_assert_double_eq_tol(req.credits, 0.01, 1e-9);
	ck_assert_ptr_eq(s.gone, request_client_gone);
	ck_assert_ptr_eq(s.gone_arg, &req);
	conv_free(&c);
	buf_free(&r.text);
	buf_free(&raw);
}
END_TEST

START_TEST(serve_relay_error_before_commit_goes_to_the_callback)
{
	char		*envp[] = { NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	struct conv	 c;
	struct sink	 s;
	struct rec	 r;

	/* No account: the relay fails before the sink saw anything. */
	req_init(&req, envp, &raw);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(serve_relay(&req, &c, &s, record_error),
	    KF_ENOACCOUNT);
	ck_assert_int_eq(err_calls, 1);
	ck_assert_int_eq(err_code, KF_ENOACCOUNT);
	ck_assert_int_eq(err_retry, 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "Status: 500 "));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw),
	    "kiroctl accounts import"));
	ck_assert_int_eq(r.errors, 0);
	conv_free(&c);
	buf_free(&r.text);
	buf_free(&raw);
}
END_TEST

/*
 * A conv over a request cap is refused through the callback before the
 * relay runs: with an account that would answer, no account is used.
 */
START_TEST(serve_relay_refuses_a_conv_over_the_caps)
{
	char		*envp[] = { NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	struct conv	 c;
	struct sink	 s;
	struct rec	 r;
	int		 i;

	add_account("A", 0);
	req_init(&req, envp, &raw);
	simple_conv(&c, "hi");
	for (i = 0; i <= CONV_MAX_TOOLS; i++)
		conv_add_tool(&c)->name = xasprintf("tool%d", i);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(serve_relay(&req, &c, &s, record_error), KF_EINVAL);
	ck_assert_int_eq(err_calls, 1);
	ck_assert_int_eq(err_code, KF_EINVAL);
	ck_assert_int_eq(err_retry, 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "too many tools: 1001 "
	    "(at most 1000 per request)"));
	ck_assert_int_eq(req.account_id, -7);
	ck_assert_uint_eq(r.text.len, 0);
	ck_assert_int_eq(r.errors, 0);
	conv_free(&c);
	buf_free(&r.text);
	buf_free(&raw);
}
END_TEST

START_TEST(serve_relay_error_after_commit_is_the_sinks)
{
	char		*envp[] = { NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;
	struct conv	 c;
	struct sink	 s;
	struct rec	 r;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"cutoff\","
	    "\"chunks\":[\"partial answer\"]}}");
	req_init(&req, envp, &raw);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_ne(serve_relay(&req, &c, &s, record_error), KF_OK);
	ck_assert_str_eq(buf_cstr(&r.text), "partial answer");
	ck_assert_int_eq(r.errors, 1);
	ck_assert_int_eq(err_calls, 0);	/* the client has had a head */
	ck_assert_int_eq(raw.len, 0);
	ck_assert_int_eq(req.account_id, 1);
	conv_free(&c);
	buf_free(&r.text);
	buf_free(&raw);
}
END_TEST

START_TEST(serve_session_header_wants_a_uuid)
{
	char		*envp[] = {
	    "HTTP_SESSION_ID=1b4e28ba-2fa1-11d2-883f-0016d3cca427",
	    "HTTP_X_BAD=not-a-uuid",
	    "HTTP_X_LONG=1b4e28ba-2fa1-11d2-883f-0016d3cca4270",
	    "HTTP_X_EMPTY=", NULL };
	struct request	 req;
	struct buf	 raw = BUF_INIT;

	req_init(&req, envp, &raw);
	ck_assert_str_eq(serve_session_header(&req, "HTTP_SESSION_ID"),
	    "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
	ck_assert_ptr_null(serve_session_header(&req, "HTTP_X_BAD"));
	ck_assert_ptr_null(serve_session_header(&req, "HTTP_X_LONG"));
	ck_assert_ptr_null(serve_session_header(&req, "HTTP_X_EMPTY"));
	ck_assert_ptr_null(serve_session_header(&req, "HTTP_X_MISSING"));
	buf_free(&raw);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("serve");
	TCase	*tc;

	tc = tcase_create("relay");
	tcase_add_checked_fixture(tc, setup, mock_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, serve_relay_answers_through_the_sink);
	tcase_add_test(tc, serve_relay_error_before_commit_goes_to_the_callback);
	tcase_add_test(tc, serve_relay_error_after_commit_is_the_sinks);
	tcase_add_test(tc, serve_relay_refuses_a_conv_over_the_caps);
	suite_add_tcase(s, tc);
	tc = tcase_create("session");
	tcase_add_test(tc, serve_session_header_wants_a_uuid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(suite());
}
