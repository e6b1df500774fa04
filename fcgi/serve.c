/* serve.c: the relay run and error handling every model route shares. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "clientkeys.h"
#include "conv.h"
#include "flows.h"
#include "log.h"
#include "rand.h"
#include "relay.h"
#include "request.h"
#include "serve.h"
#include "sink.h"
#include "xmalloc.h"

enum kf_err
serve_relay(struct request *req, struct conv *conv, struct sink *sink,
    serve_error_fn error)
{
	struct relay_result	 res;
	char			*why = NULL, *why2 = NULL;
	enum kf_err		 er;

	memset(&res, 0, sizeof(res));
	req->model = conv->kiro_model;
	/*
	 * Every front end comes through here once it has parsed, so one
	 * check caps what the work before the upstream call scales with.
	 */
	if ((er = conv_check_limits(conv, &why)) != KF_OK) {
		(void)error(&req->out, er, why, 0);
		goto out;
	}
	if (!clientkeys_model_allowed(&req->key, conv->model,
	    conv->kiro_model)) {
		er = KF_EPERM;
		why = xasprintf("client key '%s' may not use model '%.100s' "
		    "(its models: %s)", req->key.name, conv->model != NULL ?
		    conv->model : conv->kiro_model, req->key.models);
		(void)error(&req->out, er, why, 0);
		goto out;
	}
	if (req->key.client)
		conv->client_key = req->key.name;
	sink->gone = request_client_gone;
	sink->gone_arg = req;
	sink->batch = out_batch;
	sink->batch_arg = &req->out;
	er = relay_run(req->relay, conv, sink, &res, &why);
	req->account_id = res.account_id;
	req->credits = res.credits;
	req->metered = res.metered;
	req->input_tokens = res.input_tokens;
	req->output_tokens = res.output_tokens;
	req->attempts = res.attempts;
	/* After the answer: its tokens count against the key's month. */
	if (req->key.client && req->relay->store != NULL &&
	    clientkeys_add_tokens(req->relay->store, req->key.name,
	    (long long)res.input_tokens + res.output_tokens, &why2) != KF_OK) {
		log_warnx("client key %s: tokens not counted: %s",
		    req->key.name, why2 != NULL ? why2 : "store error");
		free(why2);
	}
	if (er != KF_OK && er != KF_ECLIENTGONE && !sink->committed)
		(void)error(&req->out, er, why, res.retry_after);
out:
	flows_note(req, conv, &res, er, why);
	if (er != KF_OK)
		log_warnx("%s: %s", kf_err_name(er), why != NULL ? why :
		    kf_strerror(er));
	free(why);
	return er;
}

const char *
serve_session_header(const struct request *req, const char *param)
{
	const char	*v;

	v = request_param(req, param);
	if (v == NULL || strlen(v) != UUID_LEN || !rand_is_uuid(v))
		return NULL;
	return v;
}
