/* test-flows.c: the request log's tap on a request's out, and its record. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "fileio.h"
#include "flowlog.h"
#include "flows.h"
#include "out.h"
#include "relay.h"
#include "request.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers: the tap hands every write and every flush to the out's own
 * functions with the out's own argument (a flush given the request instead
 * of the FastCGI stream once buffered whole streams); it keeps the body of
 * an error answer, not its head, and no body of a success unless
 * flowLog.bodies; flows_end writes one record with the status, the error
 * type and message read from an error answer, the request size and the
 * time to first byte; admin and health requests are not recorded; with
 * the log off there is no tap and nothing on disk; flows_note keeps the
 * client's model and the failure's cause cut to their arrays, and the
 * error's own text when no cause is given.
 */

struct sinkout {
	struct buf	 bytes;
	int		 flushes;
	int		 bad_arg;
};

static struct sinkout	 so;

static int
so_write(void *arg, const char *p, size_t len)
{
	if (arg != &so)
		so.bad_arg++;
	buf_append(&so.bytes, p, len);
	return 0;
}

static int
so_flush(void *arg)
{
	if (arg != &so)
		so.bad_arg++;
	so.flushes++;
	return 0;
}

static char *const	 no_env[] = { "CONTENT_LENGTH=41", NULL };

static void
setup_req(struct request *req, struct config *cfg, const char *path)
{
	memset(&so, 0, sizeof(so));
	memset(req, 0, sizeof(*req));
	req->envp = no_env;
	req->cfg = cfg;
	req->method = "POST";
	req->path = xstrdup(path);
	req->query = "";
	req->started_ms = clock_mono_ms();
	memcpy(req->id, "0011aabb", 9);
	req->out.write = so_write;
	req->out.flush = so_flush;
	req->out.arg = &so;
}

static struct config *
cfg_in(const char *dir, const char *extra)
{
	struct config	*cfg = NULL;
	char		*json, *why = NULL;

	if (asprintf(&json, "{\"stateDir\":\"%s\"%s}", dir, extra) == -1)
		abort();
	ck_assert_msg(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    &why) == KF_OK, "%s", why);
	free(json);
	return cfg;
}

static char *
log_text(const char *dir)
{
	struct buf	 raw = BUF_INIT;
	char		*path, *why = NULL;
	enum kf_err	 er;

	if (asprintf(&path, "%s/flows/%s", dir, FLOWLOG_ACTIVE) == -1)
		abort();
	er = fileio_read(path, 1 << 20, &raw, &why);
	free(why);
	free(path);
	if (er != KF_OK)
		return NULL;
	buf_cstr(&raw);
	return buf_detach(&raw);
}

START_TEST(flows_tap_passes_writes_and_flushes_through)
{
	struct request	 req;
	struct config	*cfg;
	char		*dir = tu_tmpdir(), *text;
	static const char err[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"invalid_request_error\",\"message\":\"messages: Required\"}}";

	cfg = cfg_in(dir, "");
	setup_req(&req, cfg, "/v1/messages");
	flows_begin(&req);
	ck_assert_ptr_ne(req.out.arg, &so);	/* the tap is on */
	ck_assert_int_eq(out_head(&req.out, 400, "application/json", NULL),
	    0);
	ck_assert_int_eq(out_flush(&req.out), 0);
	ck_assert_int_eq(out_write(&req.out, err, strlen(err)), 0);
	ck_assert_int_eq(out_flush(&req.out), 0);
	ck_assert_int_eq(so.bad_arg, 0);
	ck_assert_int_eq(so.flushes, 2);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&so.bytes), "Status: 400"));
	ck_assert_ptr_nonnull(strstr(so.bytes.ptr, err));
	/* The error body was kept, without the head. */
	ck_assert_str_eq(buf_cstr(&req.flow.answer), err);
	flows_end(&req);
	ck_assert_ptr_null(req.flow.answer.ptr);
	text = log_text(dir);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "\"status\":400"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\"errorType\":\"invalid_request_error\""));
	ck_assert_ptr_nonnull(strstr(text,
	    "\"error\":\"messages: Required\""));
	ck_assert_ptr_nonnull(strstr(text, "\"requestBytes\":41"));
	ck_assert_ptr_nonnull(strstr(text, "\"ttfbMs\":"));
	ck_assert_ptr_nonnull(strstr(text, "\"id\":\"0011aabb\""));
	ck_assert_ptr_null(strstr(text, "answerBody"));
	free(text);
	free(req.path);
	buf_free(&so.bytes);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(flows_success_body_only_when_asked)
{
	struct request	 req;
	struct config	*cfg;
	char		*dir = tu_tmpdir(), *text;

	cfg = cfg_in(dir, "");
	setup_req(&req, cfg, "/v1/messages");
	flows_begin(&req);
	(void)out_response(&req.out, 200, "application/json", NULL, "{}", 2);
	ck_assert_uint_eq(req.flow.answer.len, 0);
	flows_end(&req);
	free(req.path);
	buf_free(&so.bytes);
	config_free(cfg);

	cfg = cfg_in(dir, ",\"flowLog\":{\"bodies\":true}");
	setup_req(&req, cfg, "/v1/messages");
	flows_begin(&req);
	(void)out_response(&req.out, 200, "application/json", NULL,
	    "{\"ok\":1}", 8);
	ck_assert_str_eq(buf_cstr(&req.flow.answer), "{\"ok\":1}");
	flows_end(&req);
	text = log_text(dir);
	ck_assert_ptr_nonnull(strstr(text,
	    "\"answerBody\":\"{\\\"ok\\\":1}\""));
	free(text);
	free(req.path);
	buf_free(&so.bytes);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(flows_admin_health_and_off_not_recorded)
{
	static const char *const paths[] = { "/api/admin/flows", "/health",
	    "/" };
	struct request	 req;
	struct config	*cfg;
	char		*dir = tu_tmpdir(), *text;
	size_t		 i;

	cfg = cfg_in(dir, "");
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		setup_req(&req, cfg, paths[i]);
		flows_begin(&req);
		(void)out_response(&req.out, 200, "text/plain", NULL, "ok", 2);
		flows_end(&req);
		free(req.path);
		buf_free(&so.bytes);
	}
	ck_assert_ptr_null(log_text(dir));
	config_free(cfg);

	cfg = cfg_in(dir, ",\"flowLog\":{\"enabled\":false}");
	setup_req(&req, cfg, "/v1/messages");
	flows_begin(&req);
	ck_assert_ptr_eq(req.out.arg, &so);	/* no tap */
	(void)out_response(&req.out, 500, "text/plain", NULL, "no", 2);
	flows_end(&req);
	ck_assert_ptr_null(text = log_text(dir));
	free(req.path);
	buf_free(&so.bytes);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(flows_note_cuts_model_and_cause)
{
	struct request		 req;
	struct conv		 conv;
	struct relay_result	 res;
	char			 model[FLOW_MODEL_MAX + 10];
	char			 why[FLOW_ERROR_MAX + 10];

	memset(&req, 0, sizeof(req));
	memset(&conv, 0, sizeof(conv));
	memset(&res, 0, sizeof(res));
	memset(model, 'm', sizeof(model) - 1);
	model[sizeof(model) - 1] = '\0';
	model[FLOW_MODEL_MAX - 2] = 'z';
	memset(why, 'w', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	conv.model = model;
	conv.stream = 1;
	res.attempts = 2;
	flows_note(&req, &conv, &res, KF_EUPSTREAM, why);
	ck_assert_uint_eq(strlen(req.flow.client_model), FLOW_MODEL_MAX - 1);
	ck_assert_int_eq(req.flow.client_model[FLOW_MODEL_MAX - 2], 'z');
	ck_assert_int_eq(strncmp(req.flow.client_model, model,
	    FLOW_MODEL_MAX - 1), 0);
	ck_assert_uint_eq(strlen(req.flow.error), FLOW_ERROR_MAX - 1);
	ck_assert_str_eq(req.flow.error_type, kf_err_name(KF_EUPSTREAM));
	ck_assert_int_eq(req.flow.stream, 1);
	ck_assert_int_eq(req.flow.attempts, 2);

	conv.model = NULL;
	flows_note(&req, &conv, &res, KF_ETIMEOUT, NULL);
	ck_assert_str_eq(req.flow.client_model, "");
	ck_assert_str_eq(req.flow.error, kf_strerror(KF_ETIMEOUT));
	flows_note(&req, &conv, &res, KF_OK, NULL);
	ck_assert_str_eq(req.flow.error, "");
	ck_assert_ptr_null(req.flow.error_type);
}
END_TEST

START_TEST(flows_api_names)
{
	ck_assert_str_eq(flows_api("POST", "/v1/messages"), "anthropic");
	ck_assert_str_eq(flows_api("POST", "/cc/v1/messages"), "anthropic");
	ck_assert_str_eq(flows_api("POST", "/v1/chat/completions"),
	    "openai-chat");
	ck_assert_str_eq(flows_api("POST", "/v1/responses"),
	    "openai-responses");
	ck_assert_str_eq(flows_api("POST",
	    "/v1beta/models/gemini-2.5-flash:generateContent"), "gemini");
	ck_assert_str_eq(flows_api("POST", "/v1/models/x:generateContent"),
	    "gemini");
	ck_assert_str_eq(flows_api("GET", "/v1/models"), "models");
}
END_TEST

static Suite *
flows_suite(void)
{
	Suite	*s = suite_create("flows");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, flows_tap_passes_writes_and_flushes_through);
	tcase_add_test(tc, flows_success_body_only_when_asked);
	tcase_add_test(tc, flows_admin_health_and_off_not_recorded);
	tcase_add_test(tc, flows_api_names);
	tcase_add_test(tc, flows_note_cuts_model_and_cause);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(flows_suite());
}
