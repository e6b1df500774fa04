/* ctl-flows.h: kiroctl verbs that read the request log. */
#ifndef CTL_FLOWS_H
#define CTL_FLOWS_H

#include "kiroctl.h"

/*
 * flows [--from T] [--to T] [--status S] [--api A] [--model M] [--key K]
 * [--account ID] [-q TEXT] [--id ID] [--limit N] [--offset N]
 * [--json|--csv]:
 * the recorded requests, newest first (flowlog_scan).
 */
int	flows_verb(struct ctl *, int, char **);
/* stats [--hours N] [--json]: flowlog_stats, as tables or as JSON. */
int	stats_verb(struct ctl *, int, char **);

#endif
