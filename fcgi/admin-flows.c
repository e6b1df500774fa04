/* admin-flows.c: the admin API's request log and statistics routes. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin-flows.h"
#include "admin-int.h"
#include "buf.h"
#include "config.h"
#include "flowlog.h"
#include "json.h"
#include "log.h"
#include "request.h"
#include "xmalloc.h"

#define DEFAULT_PAGE		100
#define OFFSET_MAX		100000000L
#define EXPORT_FLUSH_BYTES	65536

/* The query's values, decoded once and freed together. */
#define N_PARAMS	12
struct params {
	const struct request	*req;
	const char		*names[N_PARAMS];
	char			*values[N_PARAMS];
	size_t			 n;
};

static const char *
param(void *arg, const char *name)
{
	struct params	*p = arg;
	size_t		 i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->names[i], name) == 0)
			return p->values[i];
	if (p->n == N_PARAMS)
		return NULL;
	p->names[p->n] = name;
	p->values[p->n] = request_query(p->req, name);
	return p->values[p->n++];
}

static void
params_free(struct params *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		free(p->values[i]);
}

/* A whole number in lo .. hi, or def when absent: 0, or -1 when bad. */
static int
number(const char *v, long lo, long hi, long def, long *out)
{
	char	*end;
	long	 n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

struct page {
	json_object	*arr;
	int		 bodies;
};

/*
 * Bodies (flowLog.bodies) can make a record 512 KiB: a page leaves them
 * out, and one record asked for by ?id= has them.
 */
static int
page_add(void *arg, json_object *rec)
{
	struct page	*pg = arg;

	if (!pg->bodies) {
		json_object_object_del(rec, "requestBody");
		json_object_object_del(rec, "answerBody");
	}
	json_object_array_add(pg->arr, json_object_get(rec));
	return 0;
}

enum export_format {
	EXPORT_NONE,
	EXPORT_JSONL,
	EXPORT_CSV,
};

struct export {
	struct request		*req;
	enum export_format	 format;
	struct buf		 pending;
};

static int
export_flush(struct export *x)
{
	int	rc;

	rc = out_buf(&x->req->out, &x->pending);
	if (rc == 0)
		rc = out_flush(&x->req->out);
	buf_reset(&x->pending);
	return rc;
}

static int
export_add(void *arg, json_object *rec)
{
	struct export	*x = arg;

	if (x->format == EXPORT_CSV)
		flowlog_csv_row(rec, &x->pending);
	else {
		json_to_buf(rec, &x->pending);
		buf_putc(&x->pending, '\n');
	}
	if (x->pending.len >= EXPORT_FLUSH_BYTES)
		return export_flush(x);
	return 0;
}

/* Streams the export: the head now, the rows as they are read. */
static void
export_run(struct request *req, const char *dir, struct flow_filter *f,
    size_t offset, size_t limit, enum export_format format)
{
	struct export	 x;
	char		*why = NULL;

	memset(&x, 0, sizeof(x));
	x.req = req;
	x.format = format;
	if (out_head(&req->out, 200, format == EXPORT_CSV ?
	    "text/csv; charset=utf-8" : "application/x-ndjson",
	    format == EXPORT_CSV ?
	    "Content-Disposition: attachment; filename=\"flows.csv\"\r\n" :
	    "Content-Disposition: attachment; filename=\"flows.jsonl\"\r\n") ==
	    -1)
		return;
	if (format == EXPORT_CSV)
		flowlog_csv_header(&x.pending);
	/* Once the head is out a failure can only end the download short. */
	if (flowlog_scan(dir, f, offset, limit, export_add, &x, NULL, &why) !=
	    KF_OK)
		log_warnx("flows export: %s", why);
	if (!req->out.failed && x.pending.len > 0)
		(void)export_flush(&x);
	free(why);
	buf_free(&x.pending);
}

void
admin_flows_list(struct request *req, const struct config *cfg)
{
	struct params		 p;
	struct flow_filter	 f;
	struct page		 pg;
	struct buf		 b = BUF_INIT;
	json_object		*o;
	enum export_format	 format = EXPORT_NONE;
	const char		*v;
	char			*dir = NULL, *why = NULL;
	long			 offset, limit, max;
	int			 more = 0;

	memset(&p, 0, sizeof(p));
	p.req = req;
	if ((v = param(&p, "format")) != NULL) {
		if (strcmp(v, "jsonl") == 0)
			format = EXPORT_JSONL;
		else if (strcmp(v, "csv") == 0)
			format = EXPORT_CSV;
		else if (strcmp(v, "json") != 0) {
			admin_error(req, AE_INVALID, "format: json, jsonl "
			    "or csv");
			goto out;
		}
	}
	max = format == EXPORT_NONE ? FLOWLOG_PAGE_MAX : FLOWLOG_EXPORT_MAX;
	if (number(param(&p, "limit"), 1, max, format == EXPORT_NONE ?
	    DEFAULT_PAGE : max, &limit) == -1) {
		admin_error(req, AE_INVALID, "limit: 1 to %ld", max);
		goto out;
	}
	if (number(param(&p, "offset"), 0, OFFSET_MAX, 0, &offset) == -1) {
		admin_error(req, AE_INVALID, "offset: 0 to %ld",
		    OFFSET_MAX);
		goto out;
	}
	if (flowlog_filter_parse(&f, param, &p, &why) != KF_OK) {
		admin_error(req, AE_INVALID, "%s", why);
		goto out;
	}
	dir = flowlog_dir(cfg->state_dir);
	if (format != EXPORT_NONE) {
		export_run(req, dir, &f, (size_t)offset, (size_t)limit,
		    format);
		goto out;
	}
	pg.arr = json_object_new_array();
	pg.bodies = f.id != NULL;
	if (flowlog_scan(dir, &f, (size_t)offset, (size_t)limit, page_add,
	    &pg, &more, &why) != KF_OK) {
		json_object_put(pg.arr);
		admin_error(req, AE_INTERNAL, "the request log: %s", why);
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "flows", pg.arr);
	json_object_object_add(o, "offset", json_object_new_int64(offset));
	json_object_object_add(o, "limit", json_object_new_int64(limit));
	json_object_object_add(o, "more", json_object_new_boolean(more));
	json_object_object_add(o, "nextOffset", more ?
	    json_object_new_int64(offset + limit) : NULL);
	json_to_buf(o, &b);
	(void)out_response(&req->out, 200, "application/json", NULL, b.ptr,
	    b.len);
	json_object_put(o);
out:
	buf_free(&b);
	free(dir);
	free(why);
	params_free(&p);
}

void
admin_flows_stats(struct request *req, const struct config *cfg)
{
	struct params	 p;
	struct buf	 b = BUF_INIT;
	json_object	*o = NULL;
	char		*dir = NULL, *why = NULL;
	long		 hours;

	memset(&p, 0, sizeof(p));
	p.req = req;
	if (number(param(&p, "hours"), 1, FLOWLOG_HOURS_MAX, 24, &hours) ==
	    -1) {
		admin_error(req, AE_INVALID, "hours: 1 to %d",
		    FLOWLOG_HOURS_MAX);
		goto out;
	}
	dir = flowlog_dir(cfg->state_dir);
	if (flowlog_stats(dir, (int)hours, flowlog_now_ms(), &o, &why) !=
	    KF_OK) {
		admin_error(req, AE_INTERNAL, "the request log: %s", why);
		goto out;
	}
	json_to_buf(o, &b);
	(void)out_response(&req->out, 200, "application/json", NULL, b.ptr,
	    b.len);
out:
	json_object_put(o);
	buf_free(&b);
	free(dir);
	free(why);
	params_free(&p);
}
