/* ctl-pool.c: kiroctl verbs that change an account's pool state. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ctl-pool.h"
#include "json.h"
#include "kiroctl.h"
#include "pool.h"

/* The account id in text, or die naming it. */
static long
parse_id(const char *verb, int argc, char **argv, int max_args)
{
	char		*end;
	long long	 id;

	if (argc < 2 || argc > max_args) {
		fprintf(stderr, "usage: kiroctl accounts %s ID%s\n", verb,
		    strcmp(verb, "disable") == 0 ? " [REASON]" :
		    strcmp(verb, "history") == 0 ? " [--json]" : "");
		exit(2);
	}
	errno = 0;
	id = strtoll(argv[1], &end, 10);
	if (argv[1][0] == '\0' || *end != '\0' || errno != 0 || id < 1 ||
	    id > 1000000000LL)
		die("bad account id \"%s\": expected a positive number (see "
		    "\"kiroctl accounts list\")", argv[1]);
	return (long)id;
}

int
accounts_enable_verb(struct ctl *ctl, int argc, char **argv)
{
	char	*why = NULL;
	long	 id = parse_id("enable", argc, argv, 2);

	if (pool_enable(ctl->store, id, &why) != KF_OK)
		die("%s", why);
	printf("account %ld enabled\n", id);
	return 0;
}

int
accounts_disable_verb(struct ctl *ctl, int argc, char **argv)
{
	char	*why = NULL;
	long	 id = parse_id("disable", argc, argv, 3);

	if (pool_disable(ctl->store, id, argc == 3 ? argv[2] : NULL, &why) !=
	    KF_OK)
		die("%s", why);
	printf("account %ld disabled\n", id);
	return 0;
}

int
accounts_reset_verb(struct ctl *ctl, int argc, char **argv)
{
	char	*why = NULL;
	long	 id = parse_id("reset", argc, argv, 2);

	if (pool_reset(ctl->store, id, &why) != KF_OK)
		die("%s", why);
	printf("account %ld reset: no failures, no cooldown, enabled\n", id);
	return 0;
}

int
accounts_history_verb(struct ctl *ctl, int argc, char **argv)
{
	json_object	*h = NULL, *e;
	const char	*from, *to, *reason;
	char		*why = NULL, when[CLOCK_RFC3339_LEN];
	int64_t		 at;
	size_t		 i, n;
	long		 id = parse_id("history", argc, argv, 3);

	if (argc == 3 && strcmp(argv[2], "--json") != 0) {
		fprintf(stderr, "usage: kiroctl accounts history ID [--json]\n");
		exit(2);
	}
	if (accounts_history(ctl->store, id, &h, &why) != KF_OK)
		die("%s", why);
	if (argc == 3) {
		puts(json_object_to_json_string_ext(h, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(h);
		return 0;
	}
	n = json_object_array_length(h);
	if (n == 0)
		printf("account %ld: no state changes recorded\n", id);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(h, i);
		if (json_get_int(e, "at", &at) != 1)
			at = 0;
		if (json_get_str(e, "from", &from) != 1)
			from = "?";
		if (json_get_str(e, "to", &to) != 1)
			to = "?";
		if (json_get_str(e, "reason", &reason) != 1)
			reason = "";
		printf("%s %s -> %s%s%s\n", expiry_text((time_t)at, when), from,
		    to, reason[0] != '\0' ? ": " : "", reason);
	}
	json_object_put(h);
	return 0;
}
