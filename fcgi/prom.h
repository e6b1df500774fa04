/* prom.h: Prometheus metrics of the responder: each request, GET /metrics. */
#ifndef PROM_H
#define PROM_H

#include <stdint.h>

struct request;

/*
 * Counts one answered request in the shared metrics (metrics.h), when
 * they are open: kiro_fcgi_requests_total, its tokens and upstream
 * attempts, its duration and time to first byte up to now_ms
 * (clock_mono_ms).  The /metrics scrape itself is not counted.  A few
 * lookups and atomic adds: no lock, no allocation, no system call.
 */
void	prom_record(const struct request *, int64_t now_ms);

/*
 * The api label of a request ("anthropic", "openai_chat",
 * "openai_responses", "gemini" or "other"), by its route path.
 */
const char *prom_api(const char *method, const char *path);

/*
 * GET /metrics: 404 unless metricsKey or adminApiKey is configured, 401
 * without one of them as x-api-key or Authorization: Bearer (compared in
 * constant time); else the counters in the text format 0.0.4 (and
 * kiro_fcgi_metrics_shared, 0 when this process has no metrics file),
 * then gauges read at scrape time with no upstream call: accounts by
 * state, and each account's cached quota (used, limit, remaining, when it
 * was fetched).
 */
void	prom_page(struct request *);

#endif
