/* catalogue.c: each account's live model list from ListAvailableModels, cached in the store. */
#include "autoconfig.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accounts.h"
#include "buf.h"
#include "catalogue.h"
#include "clock.h"
#include "cred.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "models.h"
#include "refresh.h"
#include "store.h"
#include "upstream.h"
#include "xmalloc.h"

#define PAGE_SIZE	50		/* maxResults, as the peers ask */
#define PAGE_MAX_BODY	(256 * 1024)
#define PAGES_MAX	((CATALOGUE_MAX_MODELS + PAGE_SIZE - 1) / PAGE_SIZE + 1)
#define FETCH_TIMEOUT_MS	15000
#define TOKEN_MAX	1024		/* bytes of a nextToken we follow */
#define LIMIT_MAX	100000000L	/* tokens: beyond is not a real limit */

void
catalogue_free(struct catalogue *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->m[i].id);
		free(c->m[i].name);
	}
	free(c->m);
	c->m = NULL;
	c->n = 0;
}

const struct catalogue_model *
catalogue_find(const struct catalogue *c, const char *id)
{
	size_t	i;

	for (i = 0; i < c->n; i++)
		if (strcasecmp(c->m[i].id, id) == 0)
			return &c->m[i];
	return NULL;
}

/* A modelId we can use as a model name in URLs, logs and JSON. */
static int
id_valid(const char *id)
{
	size_t	len = strlen(id), i;

	if (len == 0 || len > CATALOGUE_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && strchr("._:-",
		    id[i]) == NULL)
			return 0;
	return 1;
}

static long
limit_of(json_object *limits, const char *key)
{
	int64_t	v;

	if (limits == NULL || json_get_int(limits, key, &v) != 1 || v <= 0 ||
	    v > LIMIT_MAX)
		return 0;
	return (long)v;
}

/* Adds one model unless it is unusable, known or over the cap. */
static void
add_model(struct catalogue *out, const char *id, const char *name,
    long max_input, long max_output)
{
	struct catalogue_model	*m;

	if (out->n >= CATALOGUE_MAX_MODELS || !id_valid(id) ||
	    catalogue_find(out, id) != NULL)
		return;
	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > CATALOGUE_NAME_MAX)
		name = id;
	out->m = xreallocarray(out->m, out->n + 1, sizeof(*out->m));
	m = &out->m[out->n++];
	m->id = xstrdup(id);
	m->name = xstrdup(name);
	m->max_input = max_input;
	m->max_output = max_output;
}

enum kf_err
catalogue_parse_page(const char *body, size_t len, struct catalogue *out,
    char **next_token, char **cause)
{
	json_object	*root = NULL, *list, *item, *limits;
	const char	*id, *name, *token;
	size_t		 i, n;
	enum kf_err	 er;

	*next_token = NULL;
	if ((er = json_parse(body, len, 16, &root, cause)) != KF_OK)
		goto out;
	if (json_get_arr(root, "models", &list) != 1) {
		er = KF_EUPSTREAM;
		xsetprintf(cause, "ListAvailableModels: no \"models\" list");
		goto out;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_object) ||
		    json_get_str(item, "modelId", &id) != 1)
			continue;
		if (json_get_str(item, "modelName", &name) != 1)
			name = NULL;
		if (json_get_obj(item, "tokenLimits", &limits) != 1)
			limits = NULL;
		add_model(out, id, name, limit_of(limits, "maxInputTokens"),
		    limit_of(limits, "maxOutputTokens"));
	}
	if (json_get_str(root, "nextToken", &token) == 1 && token[0] != '\0' &&
	    strlen(token) <= TOKEN_MAX)
		*next_token = xstrdup(token);
out:
	json_object_put(root);
	return er;
}

static enum kf_err
fetch_page(struct http *h, const struct config *cfg, const struct cred *c,
    enum api_host host, const char *token, struct catalogue *out,
    char **next_token, char **cause)
{
	struct upstream_api_req	 call;
	struct http_resp	 resp;
	struct buf		 url = BUF_INIT;
	enum upstream_verdict	 verdict = UV_OK;
	char			*base;
	enum kf_err		 er;

	*next_token = NULL;
	base = config_url(upstream_base_url(cfg, host),
	    cred_api_region(c, cfg), "/ListAvailableModels");
	buf_printf(&url, "%s?origin=AI_EDITOR&maxResults=%d", base,
	    PAGE_SIZE);
	free(base);
	/* Social logins name their profile; IdC ones must not (§2.3). */
	if (c->profile_arn != NULL && c->auth_method == CRED_AUTH_SOCIAL) {
		buf_puts(&url, "&profileArn=");
		http_query_escape(&url, c->profile_arn);
	}
	if (token != NULL) {
		buf_puts(&url, "&nextToken=");
		http_query_escape(&url, token);
	}
	memset(&call, 0, sizeof(call));
	call.op = "ListAvailableModels";
	call.url = buf_cstr(&url);
	call.timeout_ms = FETCH_TIMEOUT_MS;
	call.max_body = PAGE_MAX_BODY;
	er = upstream_api(h, cfg, c, &call, &resp, &verdict, cause);
	if (er == KF_OK)
		er = catalogue_parse_page(resp.body.ptr, resp.body.len, out,
		    next_token, cause);
	else if (verdict == UV_UNAUTHORIZED || verdict == UV_BEARER_INVALID)
		er = KF_EAUTH;
	else if (verdict == UV_THROTTLED)
		er = KF_ERATE;
	http_resp_free(&resp);
	buf_free(&url);
	return er;
}

enum kf_err
catalogue_fetch(struct http *h, const struct config *cfg,
    const struct cred *c, enum api_host host, struct catalogue *out,
    char **cause)
{
	char		*token = NULL, *next;
	int		 page;
	enum kf_err	 er = KF_OK;

	memset(out, 0, sizeof(*out));
	out->fetched_at = clock_now();
	/* Bounded: a server that pages forever stops at the cap. */
	for (page = 0; page < PAGES_MAX; page++) {
		er = fetch_page(h, cfg, c, host, token, out, &next, cause);
		free(token);
		token = next;
		if (er != KF_OK || token == NULL ||
		    out->n >= CATALOGUE_MAX_MODELS)
			break;
	}
	free(token);
	if (er != KF_OK)
		catalogue_free(out);
	return er;
}

static void
record_key(char key[64], long id)
{
	snprintf(key, 64, "catalogue/%ld", id);
}

enum kf_err
catalogue_save(struct store *st, long id, const struct catalogue *c,
    char **cause)
{
	struct store_txn	*txn = NULL;
	struct buf		 out = BUF_INIT;
	char			 key[64];
	size_t			 i;
	enum kf_err		 er;

	/* Ids and names were checked: the record is bounded by the caps. */
	buf_printf(&out, "{\"v\":1,\"at\":%lld,\"models\":[",
	    (long long)c->fetched_at);
	for (i = 0; i < c->n; i++) {
		buf_printf(&out, "%s{\"id\":", i > 0 ? "," : "");
		buf_json_str(&out, c->m[i].id, strlen(c->m[i].id));
		buf_puts(&out, ",\"name\":");
		buf_json_str(&out, c->m[i].name, strlen(c->m[i].name));
		buf_printf(&out, ",\"in\":%ld,\"out\":%ld}", c->m[i].max_input,
		    c->m[i].max_output);
	}
	buf_puts(&out, "]}");
	record_key(key, id);
	if ((er = store_begin(st, STORE_WRITE_NOSYNC, &txn, cause)) != KF_OK)
		goto out;
	if ((er = store_put(txn, key, out.ptr, out.len)) != KF_OK)
		xsetprintf(cause, "cannot write %s", key);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK && er == KF_OK)
		er = KF_ESTORE;
out:
	buf_free(&out);
	return er;
}

static enum kf_err
from_record(const char *raw, size_t len, struct catalogue *out)
{
	json_object	*root = NULL, *list, *item;
	const char	*id, *name;
	int64_t		 at, in, outl;
	size_t		 i, n;
	enum kf_err	 er;

	memset(out, 0, sizeof(*out));
	if ((er = json_parse(raw, len, 8, &root, NULL)) != KF_OK ||
	    json_get_arr(root, "models", &list) != 1 ||
	    json_get_int(root, "at", &at) != 1) {
		er = KF_ENOTFOUND;
		goto out;
	}
	out->fetched_at = (time_t)at;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_object) ||
		    json_get_str(item, "id", &id) != 1)
			continue;
		if (json_get_str(item, "name", &name) != 1)
			name = NULL;
		if (json_get_int(item, "in", &in) != 1 || in < 0 ||
		    in > LIMIT_MAX)
			in = 0;
		if (json_get_int(item, "out", &outl) != 1 || outl < 0 ||
		    outl > LIMIT_MAX)
			outl = 0;
		add_model(out, id, name, (long)in, (long)outl);
	}
out:
	json_object_put(root);
	return er;
}

enum kf_err
catalogue_txn_load(struct store_txn *txn, long id, struct catalogue *out)
{
	struct buf	raw = BUF_INIT;
	char		key[64];
	enum kf_err	er;

	memset(out, 0, sizeof(*out));
	record_key(key, id);
	if ((er = store_get(txn, key, &raw)) == KF_OK)
		er = from_record(raw.ptr, raw.len, out);
	buf_free(&raw);
	return er;
}

/*
 * Looks for "id":"<model_id>" in our own record without parsing it: this
 * runs on the request path, under the store lock, for every account still
 * in the race.  Ids are checked when saved (id_valid: nothing to escape),
 * so the text match is exact.
 */
int
catalogue_txn_lacks(struct store_txn *txn, long id, const char *model_id)
{
	struct buf	 raw = BUF_INIT;
	char		 key[64], needle[CATALOGUE_ID_MAX + 16];
	int		 lacks = 0;

	if (model_id == NULL || !id_valid(model_id))
		return 0;
	record_key(key, id);
	if (store_get(txn, key, &raw) != KF_OK || raw.len == 0)
		goto out;
	buf_cstr(&raw);
	/* An unreadable or empty list is not "serves nothing". */
	if (strstr(raw.ptr, "\"models\":[{") == NULL ||
	    raw.ptr[raw.len - 1] != '}')
		goto out;
	snprintf(needle, sizeof(needle), "{\"id\":\"%s\"", model_id);
	lacks = strcasestr(raw.ptr, needle) == NULL;
out:
	buf_free(&raw);
	return lacks;
}

enum kf_err
catalogue_refresh(struct store *st, struct http *h, const struct config *cfg,
    long id, int force, int *fetched, char **cause)
{
	struct store_txn	*txn = NULL;
	struct catalogue	 c;
	struct account		 a;
	struct upstream_route	 route;
	enum kf_err		 er;

	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	if (fetched != NULL)
		*fetched = 0;
	if (!force) {
		if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
			return er;
		er = catalogue_txn_load(txn, id, &c);
		(void)store_end(txn, NULL);
		if (er == KF_OK && c.fetched_at <= clock_now() &&
		    clock_now() - c.fetched_at < CATALOGUE_TTL) {
			catalogue_free(&c);
			return KF_OK;
		}
		catalogue_free(&c);
	}
	if ((er = accounts_get(st, id, &a, cause)) != KF_OK)
		goto out;
	account_route(&a, cfg, &route);
	cred_free(&a.cred);
	if ((er = refresh_ensure(st, h, cfg, id, REFRESH_AHEAD_REQUEST, NULL,
	    &a.cred, cause)) != KF_OK)
		goto out;
	if (fetched != NULL)
		*fetched = 1;
	if ((er = catalogue_fetch(h, cfg, &a.cred, route.host, &c, cause)) !=
	    KF_OK)
		goto out;
	er = catalogue_save(st, id, &c, cause);
out:
	catalogue_free(&c);
	account_free(&a);
	return er;
}

/*
 * Per process: until when an account's list is known fresh (or not worth
 * a look), by id modulo the table size; a collision only costs a read.
 */
#define FRESH_SLOTS		64
#define FRESH_RECHECK		60	/* s: no list, or claimed */
static pthread_mutex_t	fresh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	long	id;
	time_t	until;
} fresh_memo[FRESH_SLOTS];

static int
fresh_known(long id, time_t now)
{
	int	known;

	pthread_mutex_lock(&fresh_lock);
	known = fresh_memo[id % FRESH_SLOTS].id == id &&
	    fresh_memo[id % FRESH_SLOTS].until > now;
	pthread_mutex_unlock(&fresh_lock);
	return known;
}

static void
fresh_set(long id, time_t until)
{
	pthread_mutex_lock(&fresh_lock);
	fresh_memo[id % FRESH_SLOTS].id = id;
	fresh_memo[id % FRESH_SLOTS].until = until;
	pthread_mutex_unlock(&fresh_lock);
}

/*
 * In one write transaction: 1 when account id's list is stale and no
 * other caller claimed its refresh within CATALOGUE_TTL (the claim is
 * now ours); else 0 with *until, when to look again.
 */
static int
claim_refresh(struct store *st, long id, time_t now, time_t *until)
{
	struct store_txn	*txn = NULL;
	struct catalogue	 c;
	struct buf		 raw = BUF_INIT, rec = BUF_INIT;
	json_object		*obj = NULL;
	int64_t			 at = 0;
	char			 key[64];
	int			 mine = 0;

	*until = now + FRESH_RECHECK;
	if (store_begin(st, STORE_WRITE_NOSYNC, &txn, NULL) != KF_OK)
		return 0;
	if (catalogue_txn_load(txn, id, &c) != KF_OK)
		goto out;		/* none yet: health-check's job */
	if (c.fetched_at <= now && now - c.fetched_at < CATALOGUE_TTL) {
		*until = c.fetched_at + CATALOGUE_TTL;
		goto out;
	}
	snprintf(key, sizeof(key), "catalogue-claim/%ld", id);
	if (store_get(txn, key, &raw) == KF_OK &&
	    json_parse(raw.ptr, raw.len, 4, &obj, NULL) == KF_OK &&
	    json_get_int(obj, "at", &at) == 1 && at <= now &&
	    now - at < CATALOGUE_TTL)
		goto out;		/* another caller is on it */
	buf_printf(&rec, "{\"v\":1,\"at\":%lld}", (long long)now);
	mine = store_put(txn, key, rec.ptr, rec.len) == KF_OK;
out:
	catalogue_free(&c);
	json_object_put(obj);
	buf_free(&raw);
	buf_free(&rec);
	if (store_end(txn, NULL) != KF_OK)
		mine = 0;
	return mine;
}

void
catalogue_refresh_stale(struct store *st, struct http *h,
    const struct config *cfg, long id)
{
	time_t	 now = clock_now(), until;
	char	*why = NULL;
	int	 fetched;

	if (id <= 0 || fresh_known(id, now))
		return;
	if (!claim_refresh(st, id, now, &until)) {
		fresh_set(id, until);
		return;
	}
	if (catalogue_refresh(st, h, cfg, id, 1, &fetched, &why) != KF_OK)
		log_warnx("account %ld: model list older than %d s, not "
		    "refreshed: %s", id, CATALOGUE_TTL, why);
	else
		log_info("account %ld: model list older than %d s refreshed "
		    "(ListAvailableModels)", id, CATALOGUE_TTL);
	/* Either way the claim stands for CATALOGUE_TTL. */
	fresh_set(id, clock_now() + CATALOGUE_TTL);
	free(why);
}

/* One account's catalogue, for merging in id order. */
struct held {
	long			id;
	struct catalogue	c;
};

struct collect {
	struct held	*h;
	size_t		 n;
};

static int
collect_one(void *arg, const char *key, const char *val, size_t len)
{
	struct collect	*col = arg;
	char		*end;
	long		 id;

	id = strtol(key + strlen("catalogue/"), &end, 10);
	if (*end != '\0' || id <= 0)
		return 0;
	col->h = xreallocarray(col->h, col->n + 1, sizeof(*col->h));
	col->h[col->n].id = id;
	if (from_record(val, len, &col->h[col->n].c) == KF_OK)
		col->n++;
	return 0;
}

static int
held_cmp(const void *pa, const void *pb)
{
	const struct held	*a = pa, *b = pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

/* The smaller of two limits, 0 (unknown) giving way to a known one. */
static long
min_limit(long a, long b)
{
	if (a == 0 || (b != 0 && b < a))
		return b;
	return a;
}

enum kf_err
catalogue_merged(struct store *st, struct catalogue *out, char **cause)
{
	struct store_txn		*txn = NULL;
	struct collect			 col = { NULL, 0 };
	struct catalogue_model		*have;
	const struct catalogue_model	*m;
	size_t				 i, k;
	enum kf_err			 er;

	memset(out, 0, sizeof(*out));
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = store_each(txn, "catalogue/", collect_one, &col);
	(void)store_end(txn, NULL);
	if (er != KF_OK) {
		xsetprintf(cause, "cannot read the model catalogues");
		goto out;
	}
	if (col.n > 1)
		qsort(col.h, col.n, sizeof(*col.h), held_cmp);
	for (i = 0; i < col.n; i++) {
		if (col.h[i].c.fetched_at > out->fetched_at)
			out->fetched_at = col.h[i].c.fetched_at;
		for (k = 0; k < col.h[i].c.n; k++) {
			m = &col.h[i].c.m[k];
			have = (struct catalogue_model *)catalogue_find(out,
			    m->id);
			if (have == NULL) {
				/* The union is not capped per account. */
				out->m = xreallocarray(out->m, out->n + 1,
				    sizeof(*out->m));
				have = &out->m[out->n++];
				have->id = xstrdup(m->id);
				have->name = xstrdup(m->name);
				have->max_input = m->max_input;
				have->max_output = m->max_output;
				continue;
			}
			have->max_input = min_limit(have->max_input,
			    m->max_input);
			have->max_output = min_limit(have->max_output,
			    m->max_output);
		}
	}
out:
	for (i = 0; i < col.n; i++)
		catalogue_free(&col.h[i].c);
	free(col.h);
	return er;
}

/* The process's view of the merged catalogue (catalogue_live_install). */
static pthread_mutex_t		 live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store		*live_store;
static struct catalogue		 live_cat;
static time_t			 live_loaded;	/* 0: reload at next use */
static struct model_info	*interned[CATALOGUE_LIVE_MAX];
static size_t			 n_interned;

/* Under live_lock: the merge, reloaded when due. */
static void
live_reload_due(void)
{
	struct catalogue	fresh;
	time_t			now = clock_now();
	char			*why = NULL;

	if (live_store == NULL || (live_loaded != 0 && now >= live_loaded &&
	    now - live_loaded < CATALOGUE_LIVE_RELOAD))
		return;
	live_loaded = now;
	if (catalogue_merged(live_store, &fresh, &why) != KF_OK) {
		/* Keep the last view; the built-in list covers the rest. */
		free(why);
		return;
	}
	catalogue_free(&live_cat);
	live_cat = fresh;
}

/*
 * Under live_lock: the model_info for a live entry, made once per id and
 * limits.  Built-in models keep their name, date and thinking style.
 */
static const struct model_info *
intern(const struct catalogue_model *m)
{
	const struct model_info	*builtin = models_find_builtin(m->id);
	struct model_info	*mi;
	long			 window, output;
	size_t			 i;

	window = m->max_input > 0 ? m->max_input : builtin != NULL ?
	    builtin->context_window : 200000;
	output = m->max_output > 0 ? m->max_output : builtin != NULL ?
	    builtin->max_output : 32000;
	for (i = 0; i < n_interned; i++)
		if (strcasecmp(interned[i]->id, m->id) == 0 &&
		    interned[i]->context_window == window &&
		    interned[i]->max_output == output)
			return interned[i];
	if (n_interned >= CATALOGUE_LIVE_MAX)
		return builtin;
	mi = xcalloc(1, sizeof(*mi));
	mi->id = builtin != NULL ? builtin->id : xstrdup(m->id);
	mi->display_name = builtin != NULL ? builtin->display_name :
	    xstrdup(m->name);
	mi->context_window = window;
	mi->max_output = output;
	mi->created = builtin != NULL ? builtin->created : live_cat.fetched_at;
	mi->adaptive_thinking = builtin != NULL ? builtin->adaptive_thinking :
	    0;
	interned[n_interned++] = mi;
	return mi;
}

static const struct model_info *
live_find(const char *id)
{
	const struct catalogue_model	*m;
	const struct model_info		*mi = NULL;

	pthread_mutex_lock(&live_lock);
	live_reload_due();
	if ((m = catalogue_find(&live_cat, id)) != NULL)
		mi = intern(m);
	pthread_mutex_unlock(&live_lock);
	return mi;
}

void
catalogue_live_install(struct store *st)
{
	pthread_mutex_lock(&live_lock);
	live_store = st;
	live_loaded = 0;
	catalogue_free(&live_cat);
	pthread_mutex_unlock(&live_lock);
	models_use_live(st != NULL ? live_find : NULL);
}

size_t
catalogue_live_models(const struct model_info **out, size_t max)
{
	const struct model_info	*mi;
	size_t			 i, n = 0;

	pthread_mutex_lock(&live_lock);
	live_reload_due();
	for (i = 0; i < live_cat.n && n < max; i++)
		if ((mi = intern(&live_cat.m[i])) != NULL)
			out[n++] = mi;
	pthread_mutex_unlock(&live_lock);
	return n;
}

size_t
catalogue_shown(const struct model_info **out)
{
	const struct model_info	*builtin;
	size_t			 n, i;

	if ((n = catalogue_live_models(out, CATALOGUE_LIVE_MAX)) > 0)
		return n;
	builtin = models_catalogue(&n);
	for (i = 0; i < n && i < CATALOGUE_LIVE_MAX; i++)
		out[i] = &builtin[i];
	return i;
}

void
catalogue_list_text(struct buf *out)
{
	const struct model_info	**live;
	size_t			  n, i;

	live = xcalloc(CATALOGUE_LIVE_MAX, sizeof(*live));
	if ((n = catalogue_live_models(live, CATALOGUE_LIVE_MAX)) == 0) {
		buf_puts(out, models_list_text());
		goto out;
	}
	for (i = 0; i < n && i < CATALOGUE_LIST_IDS; i++)
		buf_printf(out, "%s%s", i > 0 ? ", " : "", live[i]->id);
	if (n > CATALOGUE_LIST_IDS)
		buf_printf(out, " and %zu more (GET /v1/models lists them)",
		    n - CATALOGUE_LIST_IDS);
out:
	free(live);
}

void
catalogue_cause_add_list(char **cause)
{
	struct buf	b = BUF_INIT;

	if (cause == NULL)
		return;
	if (*cause != NULL)
		buf_puts(&b, *cause);
	buf_puts(&b, "; available models: ");
	catalogue_list_text(&b);
	free(*cause);
	*cause = buf_detach(&b);
}
