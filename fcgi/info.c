/* info.c: the routes that describe the gateway: /, /health, /v1/models. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "accounts.h"
#include "buf.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "info.h"
#include "json.h"
#include "models.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "xmalloc.h"

static void
reply_json(struct request *req, int status, json_object *body)
{
	struct buf	b = BUF_INIT;

	json_to_buf(body, &b);
	if (strcmp(req->method, "HEAD") == 0)
		(void)out_head(&req->out, status, "application/json", NULL);
	else
		(void)out_response(&req->out, status, "application/json",
		    NULL, b.ptr, b.len);
	buf_free(&b);
}

void
info_root(struct request *req)
{
	json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_str(PACKAGE_NAME));
	json_object_object_add(o, "version", json_str(PACKAGE_VERSION));
	json_object_object_add(o, "status", json_str("ok"));
	reply_json(req, 200, o);
	json_object_put(o);
}

/*
 * /health is polled by anyone who can reach it, and counting accounts
 * reads and decodes every credential under the store lock: one count per
 * process every HEALTH_CACHE_SECONDS is enough for a probe.
 */
#define HEALTH_CACHE_SECONDS	5

struct health_counts {
	time_t		at;		/* 0: never counted */
	enum kf_err	er;
	size_t		total;
	size_t		usable;
};

static pthread_mutex_t		health_lock = PTHREAD_MUTEX_INITIALIZER;
static struct health_counts	health_cache;

/* The counts, at most HEALTH_CACHE_SECONDS old. */
static struct health_counts
health_get(struct store *st)
{
	struct health_counts	 got;
	struct account		*accts = NULL;
	size_t			 n = 0, i;
	time_t			 now = clock_now();

	/* One thread counts; the others wait for its answer. */
	pthread_mutex_lock(&health_lock);
	if (health_cache.at == 0 || now < health_cache.at ||
	    now - health_cache.at >= HEALTH_CACHE_SECONDS) {
		memset(&got, 0, sizeof(got));
		got.er = accounts_list(st, &accts, &n, NULL);
		got.total = n;
		for (i = 0; i < n; i++)
			got.usable += account_usable(&accts[i], now);
		accounts_free(accts, n);
		got.at = now;
		health_cache = got;
	}
	got = health_cache;
	pthread_mutex_unlock(&health_lock);
	return got;
}

void
info_health(struct request *req)
{
	struct health_counts	 h;
	json_object		*o, *a;

	h = health_get(req->relay->store);
	o = json_object_new_object();
	json_object_object_add(o, "status", json_str(h.er != KF_OK ? "error" :
	    h.usable > 0 ? "ok" : "no_usable_account"));
	/*
	 * Counts and version only for clients and the operator (the web
	 * UI's overview asks with the admin key): a probe needs the status.
	 */
	if (router_client_authorised(req, req->cfg->api_key) ||
	    router_client_authorised(req, req->cfg->admin_api_key)) {
		json_object_object_add(o, "version",
		    json_str(PACKAGE_VERSION));
		a = json_object_new_object();
		json_object_object_add(a, "total",
		    json_object_new_int64((int64_t)h.total));
		json_object_object_add(a, "usable",
		    json_object_new_int64((int64_t)h.usable));
		json_object_object_add(o, "accounts", a);
	}
	reply_json(req, h.er == KF_OK ? 200 : 500, o);
	json_object_put(o);
}

static json_object *
model_json(const struct model_info *m)
{
	json_object	*o;
	char		 when[CLOCK_RFC3339_LEN];

	o = json_object_new_object();
	json_object_object_add(o, "id", json_str(m->id));
	/* OpenAI's fields ... */
	json_object_object_add(o, "object", json_str("model"));
	json_object_object_add(o, "created", json_object_new_int64(m->created));
	json_object_object_add(o, "owned_by", json_str("anthropic"));
	/* ... and Anthropic's. */
	json_object_object_add(o, "type", json_str("model"));
	json_object_object_add(o, "display_name", json_str(m->display_name));
	json_object_object_add(o, "created_at",
	    json_str(clock_rfc3339(m->created, when)));
	json_object_object_add(o, "context_window",
	    json_object_new_int64(m->context_window));
	json_object_object_add(o, "max_output_tokens",
	    json_object_new_int64(m->max_output));
	return o;
}

void
info_models(struct request *req)
{
	const struct model_info	**cat;
	json_object		 *o, *data;
	size_t			  n, i;

	/* The accounts' live lists when cached, else the built-in one. */
	cat = xcalloc(CATALOGUE_LIVE_MAX, sizeof(*cat));
	n = catalogue_shown(cat);
	o = json_object_new_object();
	json_object_object_add(o, "object", json_str("list"));
	data = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(data, model_json(cat[i]));
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "has_more", json_object_new_boolean(0));
	json_object_object_add(o, "first_id", json_str(cat[0]->id));
	json_object_object_add(o, "last_id", json_str(cat[n - 1]->id));
	reply_json(req, 200, o);
	json_object_put(o);
	free(cat);
}

void
info_model(struct request *req)
{
	const struct model_info	*m;
	const char		*id;
	json_object		*o;
	struct buf		 msg = BUF_INIT;
	int			 thinking;

	id = req->path + strlen("/v1/models/");
	if ((m = models_find(id)) == NULL)
		m = models_resolve(id, &thinking);
	if (m == NULL) {
		buf_printf(&msg, "model \"%s\" is not available; available "
		    "models: ", id);
		catalogue_list_text(&msg);
		(void)router_error(req, KF_ENOTFOUND, msg.ptr);
		buf_free(&msg);
		return;
	}
	o = model_json(m);
	reply_json(req, 200, o);
	json_object_put(o);
}
