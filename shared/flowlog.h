/* flowlog.h: the request log ("flows"): JSON-lines segments, read back. */
#ifndef FLOWLOG_H
#define FLOWLOG_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"

#define FLOWLOG_DIR		"flows"		/* under stateDir */
#define FLOWLOG_ACTIVE		"active.jsonl"
#define FLOWLOG_SEGMENT_BYTES	(1024L * 1024)	/* rotation point */
#define FLOWLOG_MAX_SEGMENTS	4096		/* kept, whatever the counts */
#define FLOWLOG_TEXT_MAX	1024		/* error message, model, ... */
#define FLOWLOG_BODY_MAX	(256L * 1024)	/* flowLog.bodyMaxBytes cap */
#define FLOWLOG_PAGE_MAX	1000		/* ?limit= */
#define FLOWLOG_EXPORT_MAX	100000		/* rows in one export */
#define FLOWLOG_HOURS_MAX	720		/* stats ?hours= */

/* Where and how much: config.json's flowLog.* (config.h). */
struct flowlog_opts {
	int	enabled;		/* default 1 */
	int	bodies;			/* keep bodies; default 0 */
	long	max_records;		/* default 100000 */
	long	max_age_days;		/* default 30 */
	long	body_max_bytes;		/* each body, default 16384 */
	long	segment_bytes;		/* FLOWLOG_SEGMENT_BYTES; tests less */
};

/*
 * One request as recorded.  Every pointer is borrowed for the call; NULL
 * strings are left out.  Bodies are stored only when opts->bodies is set,
 * cut to body_max_bytes, with the values of x-api-key, authorization, key,
 * api_key and apiKey fields replaced by "[redacted]" when they are JSON.
 */
struct flowrec {
	int64_t		 t_ms;		/* wall clock, ms since the epoch */
	const char	*id;		/* the request id of the error log */
	const char	*key;		/* the client key's name */
	const char	*api;		/* "anthropic", "openai-chat", ... */
	const char	*method;
	const char	*route;		/* path, mount prefix and query gone */
	const char	*model;		/* as the client named it */
	const char	*kiro_model;
	int		 stream;
	long		 account_id;	/* 0: none */
	int		 status;
	const char	*error_type;
	const char	*error;
	int		 attempts;
	long		 latency_ms;
	long		 ttfb_ms;	/* -1: nothing was sent */
	long		 input_tokens;
	long		 output_tokens;
	size_t		 request_bytes;
	size_t		 answer_bytes;
	const char	*request_body;
	size_t		 request_body_len;
	const char	*answer_body;
	size_t		 answer_body_len;
};

/*
 * Appends one record to dir/active.jsonl (dir is created 0700, files
 * 0600) with a single O_APPEND write(2), so that records from several
 * processes never interleave.  The writer whose record takes the segment
 * past opts->segment_bytes renames it to a numbered segment under a brief
 * flock of dir/.lock, then deletes the oldest segments beyond max_records
 * or max_age_days.  No lock is taken otherwise.
 */
enum kf_err	 flowlog_append(const char *dir, const struct flowlog_opts *,
		    const struct flowrec *, char **cause);

/* Appends r as one JSON line (newline included) to out; for tests too. */
struct buf;
void		 flowlog_format(const struct flowlog_opts *,
		    const struct flowrec *, struct buf *out);

/* Which records a read returns; zero values match everything. */
struct flow_filter {
	int64_t		 from_ms;	/* t >= from */
	int64_t		 to_ms;		/* t < to; 0 = no bound */
	int		 status;	/* exact, or */
	int		 status_class;	/* 2, 4, 5: 2xx, 4xx, 5xx */
	int		 errors_only;	/* status >= 400 or an error type */
	const char	*api;
	const char	*model;		/* the client's or the Kiro model */
	const char	*key;
	long		 account_id;
	const char	*q;		/* in the error, any case */
	const char	*id;		/* one request, by its id */
};

/*
 * Parses a filter from query-style parameters: get(arg, name) returns the
 * value (borrowed until the filter is used) or NULL.  Names: from, to
 * (RFC 3339 or ms since the epoch), status (200, 4xx, 5xx, error),
 * api, model, key, account, q, id.  A bad value is KF_EINVAL with a cause.
 */
typedef const char *(*flow_param_fn)(void *arg, const char *name);
enum kf_err	 flowlog_filter_parse(struct flow_filter *, flow_param_fn,
		    void *arg, char **cause);

/*
 * Called with each record that matches, newest first; rec is borrowed
 * for the call.  Returns 0 to go on, -1 to stop (the client is gone).
 */
typedef int (*flowlog_fn)(void *arg, json_object *rec);

/*
 * Reads dir newest first and calls fn for the matches numbered offset ..
 * offset + limit - 1; *more (when not NULL) says whether another match
 * follows.  Work is linear in the records read and memory holds one
 * segment.  A missing directory is an empty log.
 */
enum kf_err	 flowlog_scan(const char *dir, const struct flow_filter *,
		    size_t offset, size_t limit, flowlog_fn, void *arg,
		    int *more, char **cause);

/* One record as a CSV line (RFC 4180), and the header line that goes first. */
void		 flowlog_csv_header(struct buf *);
void		 flowlog_csv_row(json_object *rec, struct buf *);

/*
 * The statistics of the last `hours` hours before now_ms: per account,
 * model, API and key the requests, errors by type, tokens and latency
 * p50/p95 (from log-scale buckets, within 10%), and one bucket per hour
 * (oldest first).  Memory is bounded: past FLOWSTATS_GROUPS_MAX names in
 * one dimension, the rest count under "(other)".  *out gets one reference.
 */
#define FLOWSTATS_GROUPS_MAX	256
enum kf_err	 flowlog_stats(const char *dir, int hours, int64_t now_ms,
		    json_object **out, char **cause);

/* The log's directory under a state directory; caller frees. */
char		*flowlog_dir(const char *state_dir);

/* Wall-clock milliseconds (clock_now, so tests may move it). */
int64_t		 flowlog_now_ms(void);

#endif
