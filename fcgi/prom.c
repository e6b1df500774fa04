/* prom.c: Prometheus metrics of the responder: each request, GET /metrics. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "anthropic.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "digest.h"
#include "gemini.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"
#include "relay.h"
#include "request.h"
#include "usage.h"
#include "xmalloc.h"

#define PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define PROM_PATH		"/metrics"

const char *
prom_api(const char *method, const char *path)
{
	if (strcmp(path, "/v1/messages") == 0 ||
	    strcmp(path, "/v1/messages/count_tokens") == 0 ||
	    strcmp(path, "/cc/v1/messages") == 0 ||
	    strcmp(path, "/cc/v1/messages/count_tokens") == 0)
		return "anthropic";
	if (strcmp(path, "/v1/chat/completions") == 0)
		return "openai_chat";
	if (strcmp(path, "/v1/responses") == 0)
		return "openai_responses";
	if (gemini_is_path(method, path))
		return "gemini";
	return "other";
}

/*
 * The decimal digits of a positive n, as "%ld" writes them, at the end of
 * out; returns the first.  Not snprintf: this runs for every request.
 */
static const char *
digits(long n, char *out, size_t size)
{
	char	*p = out + size - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0 && p > out);
	return p;
}

void
prom_record(const struct request *req, int64_t now_ms)
{
	struct metrics	*m = metrics_global();
	const char	*labels[5];
	char		 account[24], status_class[4];
	int64_t		 took;
	int		 hundreds;

	if (m == NULL || req->path == NULL || strcmp(req->path, PROM_PATH) == 0)
		return;
	/* A status is 0 (none sent) or three digits: "0xx" .. "5xx". */
	hundreds = req->out.status / 100 % 10;
	status_class[0] = (char)('0' + (hundreds < 0 ? 0 : hundreds));
	memcpy(status_class + 1, "xx", 3);
	/*
	 * account, api, key, model, status_class: metrics.h's order; the
	 * token families take the first four.
	 */
	labels[0] = req->account_id > 0 ?
	    digits(req->account_id, account, sizeof(account)) : NULL;
	labels[1] = prom_api(req->method, req->path);
	labels[2] = req->key.name;
	labels[3] = req->model;
	labels[4] = status_class;
	metrics_add(m, METRIC_REQUESTS, labels, 1);
	if (req->input_tokens > 0)
		metrics_add(m, METRIC_INPUT_TOKENS, labels,
		    (uint64_t)req->input_tokens);
	if (req->output_tokens > 0)
		metrics_add(m, METRIC_OUTPUT_TOKENS, labels,
		    (uint64_t)req->output_tokens);
	if (req->attempts > 0)
		metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, labels,
		    (uint64_t)req->attempts);
	/* api, model */
	labels[0] = labels[1];
	labels[1] = labels[3];
	took = now_ms - req->started_ms;
	metrics_observe(m, METRIC_REQUEST_SECONDS, labels,
	    took > 0 ? (uint64_t)took * 1000 : 0);
	if (req->out.first_byte_ms != 0) {
		took = req->out.first_byte_ms - req->started_ms;
		metrics_observe(m, METRIC_TTFB_SECONDS, labels,
		    took > 0 ? (uint64_t)took * 1000 : 0);
	}
}

/* --- GET /metrics ------------------------------------------------------ */

static int
key_set(const char *key)
{
	return key != NULL && *key != '\0';
}

/*
 * The key a scraper sent (x-api-key, else Authorization: Bearer), checked
 * against both configured keys so the time does not say which one is set.
 */
static int
scrape_authorised(const struct request *req)
{
	const char	*given = request_header_key(req);
	int		 ok;

	if (given == NULL)
		return 0;
	ok = key_set(req->cfg->metrics_key) &&
	    secret_equal(given, req->cfg->metrics_key);
	ok |= key_set(req->cfg->admin_api_key) &&
	    secret_equal(given, req->cfg->admin_api_key);
	return ok;
}

static int
id_cmp(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static int
usage_cmp(const void *a, const void *b)
{
	return id_cmp(&((const struct usage *)a)->id,
	    &((const struct usage *)b)->id);
}

/* The quota gauges, one family per field of the cached usage. */
enum quota_field {
	QUOTA_USED,
	QUOTA_LIMIT,
	QUOTA_REMAINING,
	QUOTA_FETCHED,
	QUOTA__MAX
};

static const struct {
	const char	*name;
	const char	*help;
} quota_families[QUOTA__MAX] = {
	{ "kiro_fcgi_account_quota_used", "Credits used this period, from "
	    "the cached usage (as kiroctl usage last fetched it)." },
	{ "kiro_fcgi_account_quota_limit", "Credits of the period, from the "
	    "cached usage." },
	{ "kiro_fcgi_account_quota_remaining", "Credits left this period, "
	    "from the cached usage." },
	{ "kiro_fcgi_account_quota_fetched_timestamp_seconds", "When the "
	    "cached usage was fetched (unix seconds)." },
};

static double
quota_value(const struct usage *u, enum quota_field field)
{
	switch (field) {
	case QUOTA_USED:
		return u->used;
	case QUOTA_LIMIT:
		return u->limit;
	case QUOTA_REMAINING:
		return u->remaining;
	case QUOTA_FETCHED:
	case QUOTA__MAX:
		break;
	}
	return (double)u->fetched_at;
}

/* Accounts by state, now; *ids gets every account's id, sorted. */
static int
render_accounts(struct store *st, struct buf *out, long **ids, size_t *n)
{
	static const char *const states[] = {
		"cooldown", "disabled", "needs-login", "ok"
	};
	struct account	*accts = NULL;
	size_t		 count[sizeof(states) / sizeof(states[0])];
	size_t		 i, j;
	const char	*word;
	char		*why = NULL;
	time_t		 now = clock_now();

	if (accounts_list(st, &accts, n, &why) != KF_OK) {
		log_warnx("metrics: accounts: %s", why);
		free(why);
		return -1;
	}
	memset(count, 0, sizeof(count));
	*ids = xreallocarray(NULL, *n + 1, sizeof(**ids));
	for (i = 0; i < *n; i++) {
		(*ids)[i] = accts[i].cred.id;
		word = account_state_word(&accts[i], now);
		for (j = 0; j < sizeof(states) / sizeof(states[0]); j++)
			if (strcmp(word, states[j]) == 0)
				count[j]++;
	}
	accounts_free(accts, *n);
	qsort(*ids, *n, sizeof(**ids), id_cmp);
	metrics_render_head(out, "kiro_fcgi_accounts", "gauge",
	    "Accounts by state, now.");
	for (j = 0; j < sizeof(states) / sizeof(states[0]); j++)
		buf_printf(out, "kiro_fcgi_accounts{state=\"%s\"} %zu\n",
		    states[j], count[j]);
	return 0;
}

/* Gauges read now: accounts by state, each account's cached quota. */
static void
render_gauges(struct store *st, struct buf *out)
{
	struct usage	*list = NULL;
	long		*ids = NULL;
	size_t		 n_ids = 0, n = 0, kept, i;
	char		*why = NULL;
	int		 field;

	if (st == NULL || render_accounts(st, out, &ids, &n_ids) == -1)
		return;
	if (usage_cached_all(st, &list, &n, &why) != KF_OK) {
		log_warnx("metrics: cached usage: %s", why);
		free(why);
	}
	/* A record left behind by a removed account is not shown. */
	for (i = kept = 0; i < n; i++) {
		if (bsearch(&list[i].id, ids, n_ids, sizeof(*ids), id_cmp) ==
		    NULL)
			usage_free(&list[i]);
		else
			list[kept++] = list[i];
	}
	qsort(list, kept, sizeof(*list), usage_cmp);
	for (field = 0; field < QUOTA__MAX; field++) {
		metrics_render_head(out, quota_families[field].name, "gauge",
		    quota_families[field].help);
		for (i = 0; i < kept; i++)
			buf_printf(out, "%s{account=\"%ld\"} %.15g\n",
			    quota_families[field].name, list[i].id,
			    quota_value(&list[i], field));
	}
	for (i = 0; i < kept; i++)
		usage_free(&list[i]);
	free(list);
	free(ids);
}

void
prom_page(struct request *req)
{
	struct buf	body = BUF_INIT;

	if (!key_set(req->cfg->metrics_key) &&
	    !key_set(req->cfg->admin_api_key)) {
		/* Off: the same answer as any unknown route. */
		(void)anthropic_error_response(&req->out, KF_ENOTFOUND,
		    "no route for GET " PROM_PATH, 0);
		return;
	}
	if (!scrape_authorised(req)) {
		anthropic_error_json(&body, KF_EAUTH, "/metrics needs the "
		    "metricsKey (or the adminApiKey) as x-api-key or "
		    "Authorization: Bearer");
		(void)out_response(&req->out, 401, "application/json",
		    "WWW-Authenticate: Bearer realm=\"kiro-fcgi metrics\"\r\n",
		    body.ptr, body.len);
		buf_free(&body);
		return;
	}
	metrics_render(metrics_global(), &body);
	/* Zeros above could mean "nothing happened" or "nothing was kept". */
	metrics_render_head(&body, "kiro_fcgi_metrics_shared", "gauge",
	    "1 when this process keeps the counters in stateDir/metrics; 0 "
	    "when it could not use that file (the error log says why).");
	buf_printf(&body, "kiro_fcgi_metrics_shared %d\n",
	    metrics_global() != NULL);
	render_gauges(req->relay != NULL ? req->relay->store : NULL, &body);
	if (strcmp(req->method, "HEAD") == 0)
		(void)out_head(&req->out, 200, PROM_CONTENT_TYPE, NULL);
	else
		(void)out_response(&req->out, 200, PROM_CONTENT_TYPE, NULL,
		    body.ptr, body.len);
	buf_free(&body);
}
