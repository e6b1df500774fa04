/* flows.c: what each API request did, noted and handed to the request log. */
#include "autoconfig.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "flowlog.h"
#include "flows.h"
#include "gemini.h"
#include "json.h"
#include "log.h"
#include "relay.h"
#include "request.h"

/* Enough of an error answer for its type and message. */
#define ERROR_HEAD_MAX	4096
/* A refused body up to this size is parsed again for its model. */
#define MODEL_BODY_MAX	(64 * 1024)

static atomic_int	warned;

static int
tap_write(void *arg, const char *p, size_t len)
{
	struct request		*req = arg;
	struct flow_note	*fn = &req->flow;
	size_t			 room;

	if (fn->first_byte_ms == 0)
		fn->first_byte_ms = clock_mono_ms();
	/* out_head writes the whole head at once, before any body byte. */
	if (!fn->head_seen && len >= 8 && memcmp(p, "Status: ", 8) == 0)
		fn->head_seen = 1;
	else if ((fn->keep_answer || req->out.status >= 400) &&
	    fn->answer.len < fn->answer_cap) {
		room = fn->answer_cap - fn->answer.len;
		buf_append(&fn->answer, p, len < room ? len : room);
	}
	return fn->write(fn->arg, p, len);
}

/* The tap's arg is the request: the stream's own flush needs its arg. */
static int
tap_flush(void *arg)
{
	struct request	*req = arg;

	return req->flow.flush(req->flow.arg);
}

void
flows_begin(struct request *req)
{
	struct flow_note	*fn = &req->flow;

	if (req->cfg == NULL || !req->cfg->flow_log.enabled)
		return;
	fn->keep_answer = req->cfg->flow_log.bodies;
	fn->answer_cap = fn->keep_answer && req->cfg->flow_log.body_max_bytes >
	    ERROR_HEAD_MAX ? (size_t)req->cfg->flow_log.body_max_bytes :
	    ERROR_HEAD_MAX;
	if (fn->answer_cap > FLOWLOG_BODY_MAX)
		fn->answer_cap = FLOWLOG_BODY_MAX;
	fn->write = req->out.write;
	fn->flush = req->out.flush;
	fn->arg = req->out.arg;
	req->out.write = tap_write;
	req->out.flush = tap_flush;
	req->out.arg = req;
}

/* src into dst (size bytes), cut as snprintf would cut it, without printf. */
static void
copy_cut(char *dst, size_t size, const char *src)
{
	size_t	len = strnlen(src, size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
flows_note(struct request *req, const struct conv *conv,
    const struct relay_result *res, enum kf_err er, const char *why)
{
	struct flow_note	*fn = &req->flow;

	copy_cut(fn->client_model, sizeof(fn->client_model),
	    conv->model != NULL ? conv->model : "");
	fn->stream = conv->stream;
	fn->attempts = res->attempts;
	fn->input_tokens = res->input_tokens;
	fn->output_tokens = res->output_tokens;
	fn->error_type = NULL;
	fn->error[0] = '\0';
	if (er != KF_OK) {
		fn->error_type = kf_err_name(er);
		copy_cut(fn->error, sizeof(fn->error),
		    why != NULL ? why : kf_strerror(er));
	}
}

const char *
flows_api(const char *method, const char *path)
{
	if (gemini_is_path(method, path))
		return "gemini";
	if (strcmp(path, "/v1/chat/completions") == 0)
		return "openai-chat";
	if (strcmp(path, "/v1/responses") == 0)
		return "openai-responses";
	if (strncmp(path, "/v1/models", 10) == 0)
		return "models";
	return "anthropic";
}

/*
 * The type and message of an error answer in any of the three formats:
 * Anthropic and OpenAI {"error":{"type","message"}}, Gemini
 * {"error":{"status","message"}}.  Borrowed from *jo, which the caller puts.
 */
static void
answer_error(const struct buf *answer, json_object **jo, const char **type,
    const char **message)
{
	json_object	*e;
	char		*why = NULL;

	*jo = NULL;
	if (answer->len == 0 || json_parse(answer->ptr, answer->len, 16, jo,
	    &why) != KF_OK) {
		free(why);
		return;
	}
	if (json_get_obj(*jo, "error", &e) != 1)
		return;
	if (json_get_str(e, "type", type) != 1 || **type == '\0')
		(void)json_get_str(e, "status", type);
	(void)json_get_str(e, "message", message);
}

/* The body read, or what the client said it sent when it was not read. */
static size_t
request_size(const struct request *req)
{
	const char		*v;
	char			*end;
	unsigned long long	 n;

	if (req->body.len > 0 ||
	    (v = request_param(req, "CONTENT_LENGTH")) == NULL)
		return req->body.len;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || *v == '-' ||
	    n > SIZE_MAX)
		return 0;
	return (size_t)n;
}

/*
 * The client's model of a request that never reached serve_relay (refused
 * before, or no relay call): from a Gemini path (models/{model}:method),
 * or from a small refused body's "model", into out (size bytes).
 */
static void
model_unserved(const struct request *req, char *out, size_t size)
{
	json_object	*jo = NULL;
	const char	*p, *colon, *model;
	char		*why = NULL;

	if (strcmp(req->method, "POST") == 0 &&
	    (p = strstr(req->path, "/models/")) != NULL &&
	    (colon = strchr(p + 8, ':')) != NULL && colon > p + 8) {
		(void)snprintf(out, size, "%.*s", (int)(colon - (p + 8)),
		    p + 8);
		return;
	}
	if (req->out.status < 400 || req->body.len == 0 ||
	    req->body.len > MODEL_BODY_MAX)
		return;
	if (json_parse(req->body.ptr, req->body.len, JSON_MAX_DEPTH, &jo,
	    &why) == KF_OK && json_get_str(jo, "model", &model) == 1)
		(void)snprintf(out, size, "%s", model);
	json_object_put(jo);
	free(why);
}

static int
recorded(const struct request *req)
{
	return req->flow.write != NULL && req->path != NULL &&
	    !admin_path(req->path) && strcmp(req->path, "/health") != 0 &&
	    strcmp(req->path, "/") != 0 && strcmp(req->path, "/metrics") != 0;
}

void
flows_end(struct request *req)
{
	struct flow_note	*fn = &req->flow;
	struct flowrec		 r;
	json_object		*jo = NULL;
	const char		*type = NULL, *message = NULL;
	char			*dir = NULL, *why = NULL;
	int64_t			 now = clock_mono_ms();

	if (!recorded(req))
		goto out;
	memset(&r, 0, sizeof(r));
	r.t_ms = flowlog_now_ms() - (now - req->started_ms);
	r.id = req->id;
	/* The key it authenticated with (router.c): "default" is apiKey. */
	r.key = req->key.name[0] != '\0' ? req->key.name : NULL;
	r.api = flows_api(req->method, req->path);
	if (fn->client_model[0] == '\0')
		model_unserved(req, fn->client_model,
		    sizeof(fn->client_model));
	r.method = req->method;
	r.route = req->path;
	r.model = fn->client_model[0] != '\0' ? fn->client_model : NULL;
	r.kiro_model = req->model;
	r.stream = fn->stream;
	r.account_id = req->account_id;
	r.status = req->out.status;
	if (fn->error_type != NULL) {
		r.error_type = fn->error_type;
		r.error = fn->error;
	} else if (req->out.status >= 400) {
		answer_error(&fn->answer, &jo, &type, &message);
		r.error_type = type != NULL ? type : "http_error";
		r.error = message;
	}
	r.attempts = fn->attempts;
	r.latency_ms = (long)(now - req->started_ms);
	r.ttfb_ms = fn->first_byte_ms > 0 ? (long)(fn->first_byte_ms -
	    req->started_ms) : -1;
	r.input_tokens = fn->input_tokens;
	r.output_tokens = fn->output_tokens;
	r.request_bytes = request_size(req);
	r.answer_bytes = req->out.bytes;
	if (fn->keep_answer) {
		r.request_body = req->body.ptr;
		r.request_body_len = req->body.len;
		r.answer_body = fn->answer.ptr;
		r.answer_body_len = fn->answer.len;
	}
	dir = flowlog_dir(req->cfg->state_dir);
	/* Said once per process: a full disk must not flood the error log. */
	if (flowlog_append(dir, &req->cfg->flow_log, &r, &why) != KF_OK &&
	    atomic_exchange(&warned, 1) == 0)
		log_warnx("request log: %s (said once per process)", why);
	free(why);
out:
	free(dir);
	json_object_put(jo);
	buf_free(&fn->answer);
	memset(fn, 0, sizeof(*fn));
}
