/* gemini.c: the Gemini routes: models/{m}:generateContent, :streamGenerateContent, :countTokens, models. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "catalogue.h"
#include "conv.h"
#include "gemini.h"
#include "json.h"
#include "models.h"
#include "request.h"
#include "serve.h"
#include "tokens.h"
#include "xmalloc.h"

/* The prefixes under which the Gemini API lives, longest first. */
static const char *const prefixes[] = {
	"/v1beta/models/", "/v1/models/", NULL
};

int
gemini_is_path(const char *method, const char *path)
{
	if (strncmp(path, "/v1beta/", 8) == 0 || strcmp(path, "/v1beta") == 0)
		return 1;
	/* GET /v1/models/{id} is the OpenAI/Anthropic model route. */
	return strcmp(method, "POST") == 0 &&
	    strncmp(path, "/v1/models/", 11) == 0 && strchr(path, ':') != NULL;
}

int
gemini_client(const struct request *req)
{
	const char	*v;
	char		*q;
	int		 yes;

	if ((v = request_param(req, "HTTP_X_API_KEY")) != NULL && *v != '\0')
		return 0;
	if ((v = request_param(req, "HTTP_X_GOOG_API_KEY")) != NULL &&
	    *v != '\0')
		return 1;
	if ((q = request_query(req, "key")) == NULL)
		return 0;
	yes = *q != '\0';
	explicit_bzero(q, strlen(q));
	free(q);
	return yes;
}

/* "models/x:method" after the prefix: model and method (caller frees). */
static int
split_path(const char *path, char **model, char **method)
{
	const char	*rest = NULL, *colon;
	size_t		 i;

	*model = *method = NULL;
	for (i = 0; prefixes[i] != NULL; i++)
		if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0) {
			rest = path + strlen(prefixes[i]);
			break;
		}
	if (rest == NULL)
		return -1;
	if ((colon = strrchr(rest, ':')) == NULL) {
		*model = xstrdup(rest);
		return 0;
	}
	*model = xstrndup(rest, (size_t)(colon - rest));
	*method = xstrdup(colon + 1);
	return 0;
}

static void
generate(struct request *req, const char *model, int stream)
{
	struct conv		 conv;
	struct gemini_opts	 opts;
	struct sink		 sink;
	struct gemini_emit	*emit;
	enum gemini_emit_mode	 mode = GEMINI_EMIT_JSON;
	char			*why = NULL, *alt;
	enum kf_err		 er;

	conv_init(&conv);
	if ((er = gemini_parse(req->body.ptr, req->body.len, model, 0, &conv,
	    &opts, &why)) != KF_OK) {
		(void)gemini_error_response(&req->out, er, why, 0);
		goto out;
	}
	if (stream) {
		conv.stream = 1;
		alt = request_query(req, "alt");
		mode = alt != NULL && strcmp(alt, "sse") == 0 ?
		    GEMINI_EMIT_SSE : GEMINI_EMIT_ARRAY;
		free(alt);
	}
	emit = gemini_emit_new(mode, &req->out, &sink, &opts);
	(void)serve_relay(req, &conv, &sink, gemini_error_response);
	gemini_emit_free(emit);
out:
	conv_free(&conv);
	free(why);
}

static void
count_tokens(struct request *req, const char *model)
{
	struct conv		 conv;
	struct gemini_opts	 opts;
	struct buf		 body = BUF_INIT;
	char			*why = NULL;
	enum kf_err		 er;

	conv_init(&conv);
	if ((er = gemini_parse(req->body.ptr, req->body.len, model, 1, &conv,
	    &opts, &why)) != KF_OK) {
		(void)gemini_error_response(&req->out, er, why, 0);
		goto out;
	}
	req->model = conv.kiro_model;
	buf_printf(&body, "{\"totalTokens\":%ld}", tokens_count_conv(&conv));
	(void)out_response(&req->out, 200, "application/json", NULL, body.ptr,
	    body.len);
out:
	conv_free(&conv);
	buf_free(&body);
	free(why);
}

void
gemini_post(struct request *req)
{
	char	*model, *method, *msg;

	if (split_path(req->path, &model, &method) == -1 || method == NULL) {
		msg = xasprintf("no route for POST %s: use models/{model}:"
		    "generateContent, :streamGenerateContent or :countTokens",
		    req->path);
		(void)gemini_error_response(&req->out, KF_ENOTFOUND, msg, 0);
		free(msg);
	} else if (strcmp(method, "generateContent") == 0)
		generate(req, model, 0);
	else if (strcmp(method, "streamGenerateContent") == 0)
		generate(req, model, 1);
	else if (strcmp(method, "countTokens") == 0)
		count_tokens(req, model);
	else {
		msg = xasprintf("method \"%s\" is not supported: use "
		    "generateContent, streamGenerateContent or countTokens",
		    method);
		(void)gemini_error_response(&req->out, KF_ENOTFOUND, msg, 0);
		free(msg);
	}
	free(model);
	free(method);
}

static json_object *
model_json(const char *name, const struct model_info *m)
{
	json_object	*o, *methods;
	char		*full;

	full = xasprintf("models/%s", name);
	o = json_object_new_object();
	json_object_object_add(o, "name", json_str(full));
	json_object_object_add(o, "baseModelId", json_str(name));
	json_object_object_add(o, "version", json_str(m->id));
	json_object_object_add(o, "displayName", json_str(m->display_name));
	json_object_object_add(o, "description", json_str(m->display_name));
	json_object_object_add(o, "inputTokenLimit",
	    json_object_new_int64(m->context_window));
	json_object_object_add(o, "outputTokenLimit",
	    json_object_new_int64(m->max_output));
	methods = json_object_new_array();
	json_object_array_add(methods, json_str("generateContent"));
	json_object_array_add(methods, json_str("streamGenerateContent"));
	json_object_array_add(methods, json_str("countTokens"));
	json_object_object_add(o, "supportedGenerationMethods", methods);
	json_object_object_add(o, "thinking", json_object_new_boolean(1));
	free(full);
	return o;
}

static void
reply_json(struct request *req, json_object *o)
{
	struct buf	b = BUF_INIT;

	json_to_buf(o, &b);
	if (strcmp(req->method, "HEAD") == 0)
		(void)out_head(&req->out, 200, "application/json", NULL);
	else
		(void)out_response(&req->out, 200, "application/json", NULL,
		    b.ptr, b.len);
	buf_free(&b);
}

void
gemini_models(struct request *req)
{
	const struct model_info	**cat;
	json_object		 *o, *list;
	size_t			  n, i;

	/* The accounts' live lists when cached, else the built-in one. */
	cat = xcalloc(CATALOGUE_LIVE_MAX, sizeof(*cat));
	n = catalogue_shown(cat);
	o = json_object_new_object();
	list = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(list, model_json(cat[i]->id, cat[i]));
	json_object_object_add(o, "models", list);
	reply_json(req, o);
	json_object_put(o);
	free(cat);
}

void
gemini_model(struct request *req)
{
	const struct model_info	*m;
	json_object		*o;
	struct buf		 text = BUF_INIT;
	char			*model, *method, *msg;
	int			 thinking;

	if (split_path(req->path, &model, &method) == -1 || method != NULL) {
		msg = xasprintf("no route for GET %s", req->path);
		(void)gemini_error_response(&req->out, KF_ENOTFOUND, msg, 0);
		free(msg);
	} else if ((m = models_resolve(model, &thinking)) == NULL) {
		buf_printf(&text, "model \"%s\" is not available; available "
		    "models: ", model);
		catalogue_list_text(&text);
		(void)gemini_error_response(&req->out, KF_ENOTFOUND, text.ptr,
		    0);
		buf_free(&text);
	} else {
		o = model_json(model, m);
		reply_json(req, o);
		json_object_put(o);
	}
	free(model);
	free(method);
}
