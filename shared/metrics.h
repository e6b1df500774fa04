/* metrics.h: Prometheus counters shared by every responder process. */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * <stateDir>/metrics is a fixed-size file that every process maps
 * MAP_SHARED: a header and an open-addressed table of series (a family
 * and its label values -> numbers).  A series is claimed with one
 * compare-and-swap and counted with __atomic adds, so processes never
 * wait for each other, and the totals outlive any process (mod_fcgid
 * kills idle ones).  The file is 0600 and owned by the responder; one
 * that is not (wrong size, owner, mode or header) is replaced, never
 * trusted.  flock() is taken only while opening.
 *
 * Capped, since label values come from clients: a value is cut at
 * METRICS_VALUE_MAX bytes, a "model" value beyond the first
 * METRICS_MAX_MODELS distinct ones becomes "other" (a "key" value beyond
 * METRICS_MAX_KEYS likewise), and once the table is
 * METRICS_FILL_PERCENT full new series are dropped (counted, and logged
 * once per process).  Each thread remembers the last series of each
 * family by its label values, so counting the same series again skips
 * the key and the table.
 */

#define METRICS_FILE		"metrics"
#define METRICS_SLOTS		8192
#define METRICS_FILL_PERCENT	75
#define METRICS_VALUE_MAX	64
#define METRICS_MAX_MODELS	64
#define METRICS_MAX_KEYS	64
#define METRICS_MAX_LABELS	5

/* The families; their names, help and label names are in metrics.c. */
enum metric {
	METRIC_REQUESTS,	/* account, api, key, model, status_class */
	METRIC_INPUT_TOKENS,		/* account, api, key, model */
	METRIC_OUTPUT_TOKENS,		/* account, api, key, model */
	METRIC_UPSTREAM_ATTEMPTS,	/* account, api */
	METRIC_UPSTREAM_RETRIES,	/* no labels */
	METRIC_FAILOVERS,		/* no labels */
	METRIC_TOKEN_REFRESHES,		/* account, result */
	METRIC_REQUEST_SECONDS,		/* histogram: api, model */
	METRIC_TTFB_SECONDS,		/* histogram: api, model */
	METRIC__MAX
};

struct metrics;

/*
 * Maps <dir>/metrics, creating it (or replacing an untrustworthy one).
 * *out is the caller's to metrics_close.
 */
enum kf_err	 metrics_open(struct metrics **out, const char *dir,
		    char **cause);
void		 metrics_close(struct metrics *);	/* NULL is fine */

/*
 * The process's handle for hooks deep in shared/ (relay, refresh): set
 * once at start, before threads; NULL (the default) turns them off.
 */
void		 metrics_install(struct metrics *);
struct metrics	*metrics_global(void);

/*
 * Adds n to a counter series.  values holds one string per label of the
 * family, in the order of the enum's comment (NULL or "" is "none").  m
 * NULL, a histogram family, or a full table: nothing happens.
 */
void		 metrics_add(struct metrics *, enum metric,
		    const char *const *values, uint64_t n);
/* One observation of a histogram family, in microseconds. */
void		 metrics_observe(struct metrics *, enum metric,
		    const char *const *values, uint64_t usec);

/*
 * The value of a counter series (0 when absent), or the count of a
 * histogram series (tests, benchmarks).
 */
uint64_t	 metrics_get(struct metrics *, enum metric,
		    const char *const *values);
/* New series dropped because the table was full. */
uint64_t	 metrics_dropped(struct metrics *);

/*
 * Appends every family in the text exposition format 0.0.4 (# HELP,
 * # TYPE, one line per series, histograms as cumulative _bucket lines
 * with _sum and _count), then kiro_fcgi_metrics_series_dropped_total.
 */
void		 metrics_render(struct metrics *, struct buf *out);

/* Helpers for families computed at scrape time (gauges). */
void		 metrics_render_head(struct buf *, const char *name,
		    const char *type, const char *help);
/* Appends value escaped for a label: \\, \" and \n; capped, ASCII. */
void		 metrics_escape(struct buf *, const char *value);

#endif
