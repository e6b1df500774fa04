/* ctl-flows.c: kiroctl verbs that read the request log. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "ctl-flows.h"
#include "flowlog.h"
#include "json.h"
#include "xmalloc.h"

#define FLOWS_SYNOPSIS	"flows [--from T] [--to T] [--status S] [--api A] " \
	"[--model M] [--key K] [--account ID] [-q TEXT] [--id ID] " \
	"[--limit N] [--offset N] [--json|--csv]"
#define STATS_SYNOPSIS	"stats [--hours N] [--json]"
#define DEFAULT_ROWS	50

/* The filter flags, by the names flowlog_filter_parse asks for. */
static const struct {
	const char	*flag;
	const char	*name;
} filter_flags[] = {
	{ "--from", "from" }, { "--to", "to" }, { "--status", "status" },
	{ "--api", "api" }, { "--model", "model" }, { "--key", "key" },
	{ "--account", "account" }, { "-q", "q" }, { "--id", "id" },
};
#define N_FILTER_FLAGS	(sizeof(filter_flags) / sizeof(filter_flags[0]))

struct flags {
	const char	*values[N_FILTER_FLAGS];
};

static const char *
flag_get(void *arg, const char *name)
{
	struct flags	*f = arg;
	size_t		 i;

	for (i = 0; i < N_FILTER_FLAGS; i++)
		if (strcmp(filter_flags[i].name, name) == 0)
			return f->values[i];
	return NULL;
}

static long
number(const char *flag, const char *v, long lo, long hi)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		die("%s: a whole number from %ld to %ld", flag, lo, hi);
	return n;
}

enum flows_out {
	OUT_TABLE,
	OUT_JSON,
	OUT_CSV,
};

struct print {
	enum flows_out	 how;
	json_object	*arr;	/* OUT_JSON */
};

static const char *
str_or(json_object *rec, const char *name, const char *dflt)
{
	const char	*s;

	return json_get_str(rec, name, &s) == 1 ? s : dflt;
}

static int64_t
int_or(json_object *rec, const char *name, int64_t dflt)
{
	int64_t	v;

	return json_get_int(rec, name, &v) == 1 ? v : dflt;
}

static int
print_one(void *arg, json_object *rec)
{
	struct print	*p = arg;
	struct buf	 b = BUF_INIT;
	char		 when[CLOCK_RFC3339_LEN], acct[24], *model, *err;
	int64_t		 account;

	switch (p->how) {
	case OUT_JSON:
		json_object_array_add(p->arr, json_object_get(rec));
		return 0;
	case OUT_CSV:
		flowlog_csv_row(rec, &b);
		fputs(buf_cstr(&b), stdout);
		buf_free(&b);
		return 0;
	case OUT_TABLE:
		break;
	}
	(void)clock_rfc3339((time_t)(int_or(rec, "t", 0) / 1000), when);
	account = int_or(rec, "account", 0);
	if (account > 0)
		(void)snprintf(acct, sizeof(acct), "%lld", (long long)account);
	else
		(void)snprintf(acct, sizeof(acct), "-");
	/* Models and errors came from clients and Kiro: no control bytes. */
	model = term_clean(str_or(rec, "model", str_or(rec, "kiroModel",
	    "-")));
	err = term_clean(str_or(rec, "error", ""));
	printf("%s %3lld %-16s %-28.28s %4s %6lldms %6lld/%-6lld %s%s%s\n",
	    when, (long long)int_or(rec, "status", 0),
	    str_or(rec, "api", "-"), model, acct,
	    (long long)int_or(rec, "latencyMs", 0),
	    (long long)int_or(rec, "inputTokens", 0),
	    (long long)int_or(rec, "outputTokens", 0),
	    str_or(rec, "errorType", ""), *err != '\0' ? ": " : "", err);
	free(model);
	free(err);
	return 0;
}

int
flows_verb(struct ctl *ctl, int argc, char **argv)
{
	struct flow_filter	 filter;
	struct flags		 flags;
	struct print		 p;
	json_object		*o;
	const char		*v;
	char			*dir, *why = NULL;
	long			 limit = DEFAULT_ROWS, offset = 0;
	size_t			 k;
	int			 i, more = 0, matched;

	memset(&flags, 0, sizeof(flags));
	memset(&p, 0, sizeof(p));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			p.how = OUT_JSON;
			continue;
		}
		if (strcmp(argv[i], "--csv") == 0) {
			p.how = OUT_CSV;
			continue;
		}
		if ((v = ctl_flag_value(argc, argv, &i, "--limit")) != NULL) {
			limit = number("--limit", v, 1, FLOWLOG_EXPORT_MAX);
			continue;
		}
		if ((v = ctl_flag_value(argc, argv, &i, "--offset")) != NULL) {
			offset = number("--offset", v, 0, 100000000L);
			continue;
		}
		matched = 0;
		for (k = 0; k < N_FILTER_FLAGS && !matched; k++)
			if ((v = ctl_flag_value(argc, argv, &i,
			    filter_flags[k].flag)) != NULL) {
				flags.values[k] = v;
				matched = 1;
			}
		if (!matched)
			die("usage: kiroctl " FLOWS_SYNOPSIS);
	}
	if (flowlog_filter_parse(&filter, flag_get, &flags, &why) != KF_OK)
		die("%s", why);
	dir = flowlog_dir(ctl->cfg->state_dir);
	if (p.how == OUT_JSON)
		p.arr = json_object_new_array();
	if (p.how == OUT_CSV) {
		struct buf	head = BUF_INIT;

		flowlog_csv_header(&head);
		fputs(buf_cstr(&head), stdout);
		buf_free(&head);
	}
	if (flowlog_scan(dir, &filter, (size_t)offset, (size_t)limit,
	    print_one, &p, &more, &why) != KF_OK)
		die("%s", why);
	free(dir);
	if (p.how == OUT_JSON) {
		/* The document GET /api/admin/flows answers. */
		o = json_object_new_object();
		json_object_object_add(o, "flows", p.arr);
		json_object_object_add(o, "offset",
		    json_object_new_int64(offset));
		json_object_object_add(o, "limit",
		    json_object_new_int64(limit));
		json_object_object_add(o, "more",
		    json_object_new_boolean(more));
		json_object_object_add(o, "nextOffset", more ?
		    json_object_new_int64(offset + limit) : NULL);
		puts(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else if (p.how == OUT_TABLE && more)
		printf("(more: --offset %ld)\n", offset + limit);
	return 0;
}

static void
print_group(json_object *g)
{
	json_object	*types;
	char		*name;
	int64_t		 p50, p95;

	name = term_clean(str_or(g, "name", "?"));
	p50 = int_or(g, "latencyP50Ms", -1);
	p95 = int_or(g, "latencyP95Ms", -1);
	printf("  %-28.28s %8lld %7lld %10lld %10lld %7lld %7lld",
	    name, (long long)int_or(g, "requests", 0),
	    (long long)int_or(g, "errors", 0),
	    (long long)int_or(g, "inputTokens", 0),
	    (long long)int_or(g, "outputTokens", 0), (long long)p50,
	    (long long)p95);
	if (json_get_obj(g, "errorTypes", &types) == 1) {
		json_object_object_foreach(types, type, n) {
			char	*clean = term_clean(type);

			printf(" %s=%lld", clean,
			    (long long)json_object_get_int64(n));
			free(clean);
		}
	}
	putchar('\n');
	free(name);
}

static const struct {
	const char	*key;
	const char	*title;
} dims[] = {
	{ "byAccount", "account" }, { "byModel", "model" },
	{ "byApi", "API" }, { "byKey", "key" },
};

int
stats_verb(struct ctl *ctl, int argc, char **argv)
{
	json_object	*s, *arr, *g, *h;
	const char	*v;
	char		*dir, *why = NULL;
	long		 hours = 24;
	size_t		 d, i;
	int		 j, as_json = 0;

	for (j = 1; j < argc; j++) {
		if (strcmp(argv[j], "--json") == 0)
			as_json = 1;
		else if ((v = ctl_flag_value(argc, argv, &j, "--hours")) !=
		    NULL)
			hours = number("--hours", v, 1, FLOWLOG_HOURS_MAX);
		else
			die("usage: kiroctl " STATS_SYNOPSIS);
	}
	dir = flowlog_dir(ctl->cfg->state_dir);
	if (flowlog_stats(dir, (int)hours, flowlog_now_ms(), &s, &why) !=
	    KF_OK)
		die("%s", why);
	free(dir);
	if (as_json) {
		puts(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(s);
		return 0;
	}
	printf("last %ld hours: %-16s %8s %7s %10s %10s %7s %7s\n", hours, "",
	    "requests", "errors", "input", "output", "p50 ms", "p95 ms");
	if (json_get_obj(s, "total", &g) == 1)
		print_group(g);
	for (d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
		if (json_get_arr(s, dims[d].key, &arr) != 1)
			continue;
		printf("by %s:\n", dims[d].title);
		for (i = 0; i < json_object_array_length(arr); i++)
			print_group(json_object_array_get_idx(arr, i));
	}
	printf("hourly (start, requests, errors):\n");
	if (json_get_arr(s, "hourly", &arr) == 1)
		for (i = 0; i < json_object_array_length(arr); i++) {
			h = json_object_array_get_idx(arr, i);
			printf("  %s %8lld %7lld\n", str_or(h, "start", "?"),
			    (long long)int_or(h, "requests", 0),
			    (long long)int_or(h, "errors", 0));
		}
	json_object_put(s);
	return 0;
}
