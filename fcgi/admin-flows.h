/* admin-flows.h: the admin API's request log and statistics routes. */
#ifndef ADMIN_FLOWS_H
#define ADMIN_FLOWS_H

struct config;
struct request;

/*
 * GET /api/admin/flows: the records that match the query's filters
 * (flowlog_filter_parse: from, to, status, api, model, key, account, q,
 * id), newest first, without their bodies unless id is given, from
 * ?offset= (default 0), ?limit= of them (default 100, at most
 * FLOWLOG_PAGE_MAX):
 * {"flows":[...],"offset","limit","more","nextOffset"}.  ?format=jsonl or
 * ?format=csv streams up to ?limit= (default and cap FLOWLOG_EXPORT_MAX)
 * as a download instead.  A bad parameter is 400.
 */
void	admin_flows_list(struct request *, const struct config *);

/*
 * GET /api/admin/stats?hours=N (1 .. FLOWLOG_HOURS_MAX, default 24): the
 * statistics of flowlog_stats.
 */
void	admin_flows_stats(struct request *, const struct config *);

#endif
