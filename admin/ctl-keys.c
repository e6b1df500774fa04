/* ctl-keys.c: kiroctl keys: named client keys, their limits and usage. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "clientkeys.h"
#include "clock.h"
#include "ctl-keys.h"
#include "json.h"
#include "kiroctl.h"

#define ADD_USAGE	"usage: kiroctl keys add NAME [--models GLOB,...] " \
			"[--rpm N] [--monthly-requests N]\n" \
			"           [--monthly-tokens N] [--expires YYYY-MM-DD]\n"

static long long
parse_count(const char *flag, const char *text, long long max)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno != 0 || n < 0 || n > max)
		die("%s: expected a whole number from 0 (no limit) to %lld, "
		    "not \"%s\"", flag, max, text);
	return n;
}

/* Prints a key made now: on stdout alone, so a script can take it. */
static void
print_key(const char *name, const char *key)
{
	printf("%s\n", key);
	fprintf(stderr, "kiroctl: the key of \"%s\" is shown this once: only "
	    "its hash is stored\n", name);
}

int
keys_add_verb(struct ctl *ctl, int argc, char **argv)
{
	struct clientkey	 k;
	char			 key[CLIENTKEYS_KEY_LEN + 1], *why = NULL;
	const char		*flag, *value;
	int			 i;

	if (argc < 2 || argv[1][0] == '-') {
		fputs(ADD_USAGE, stderr);
		exit(2);
	}
	memset(&k, 0, sizeof(k));
	if (strlen(argv[1]) >= sizeof(k.name) || !clientkeys_name_ok(argv[1]))
		die("bad key name \"%.40s\": 1 to %d of [A-Za-z0-9._-], not "
		    "\"%s\"", argv[1], CLIENTKEYS_NAME_MAX,
		    CLIENTKEYS_DEFAULT);
	memcpy(k.name, argv[1], strlen(argv[1]) + 1);
	for (i = 2; i < argc; i += 2) {
		flag = argv[i];
		if (i + 1 >= argc) {
			fputs(ADD_USAGE, stderr);
			exit(2);
		}
		value = argv[i + 1];
		if (strcmp(flag, "--models") == 0) {
			if (strlen(value) > CLIENTKEYS_MODELS_MAX)
				die("--models: over %d bytes",
				    CLIENTKEYS_MODELS_MAX);
			memcpy(k.models, value, strlen(value) + 1);
		} else if (strcmp(flag, "--rpm") == 0)
			k.rpm = (long)parse_count(flag, value,
			    CLIENTKEYS_RPM_MAX);
		else if (strcmp(flag, "--monthly-requests") == 0)
			k.monthly_requests = parse_count(flag, value,
			    CLIENTKEYS_QUOTA_MAX);
		else if (strcmp(flag, "--monthly-tokens") == 0)
			k.monthly_tokens = parse_count(flag, value,
			    CLIENTKEYS_QUOTA_MAX);
		else if (strcmp(flag, "--expires") == 0) {
			if (clientkeys_parse_date(value, &k.expires) == -1)
				die("--expires: expected a date as YYYY-MM-DD, "
				    "not \"%.40s\"", value);
		} else {
			fputs(ADD_USAGE, stderr);
			exit(2);
		}
	}
	if (clientkeys_add(ctl->store, &k, key, &why) != KF_OK)
		die("%s", why);
	print_key(k.name, key);
	explicit_bzero(key, sizeof(key));
	return 0;
}

/* "12/100" or "12" without a limit. */
static const char *
used_of(long long used, long long limit, char *out, size_t size)
{
	if (limit > 0)
		snprintf(out, size, "%lld/%lld", used, limit);
	else
		snprintf(out, size, "%lld", used);
	return out;
}

int
keys_list_verb(struct ctl *ctl, int argc, char **argv)
{
	struct clientkey	*keys;
	json_object		*arr;
	struct buf		 out = BUF_INIT;
	char			*why = NULL, req[48], tok[48], rpm[24];
	char			 when[CLOCK_RFC3339_LEN];
	time_t			 now = clock_now();
	size_t			 i, n;
	int			 as_json;

	as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
	if (argc > 2 || (argc == 2 && !as_json)) {
		fputs("usage: kiroctl keys list [--json]\n", stderr);
		exit(2);
	}
	if (clientkeys_list(ctl->store, &keys, &n, &why) != KF_OK)
		die("%s", why);
	if (as_json) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(arr,
			    clientkeys_public_json(&keys[i], now));
		json_to_buf(arr, &out);
		printf("%s\n", out.ptr);
		buf_free(&out);
		json_object_put(arr);
		free(keys);
		return 0;
	}
	printf("%-20s %-8s %-7s %-6s %-18s %-22s %-10s %s\n", "NAME", "STATE",
	    "KEY", "RPM", "REQUESTS/MONTH", "TOKENS/MONTH", "EXPIRES",
	    "MODELS");
	for (i = 0; i < n; i++) {
		if (keys[i].expires != 0) {
			clock_rfc3339(keys[i].expires, when);
			when[10] = '\0';
		} else
			snprintf(when, sizeof(when), "never");
		snprintf(rpm, sizeof(rpm), "%ld", keys[i].rpm);
		printf("%-20s %-8s %-4s... %-6s %-18s %-22s %-10s %s\n",
		    keys[i].name, clientkeys_state(&keys[i], now),
		    keys[i].shown, keys[i].rpm > 0 ? rpm : "-",
		    used_of(keys[i].used_requests, keys[i].monthly_requests,
		    req, sizeof(req)), used_of(keys[i].used_tokens,
		    keys[i].monthly_tokens, tok, sizeof(tok)), when,
		    keys[i].models[0] != '\0' ? keys[i].models : "*");
	}
	if (n == 0)
		printf("(no client keys: only apiKey works; add one with "
		    "\"kiroctl keys add NAME\")\n");
	free(keys);
	return 0;
}

static const char *
name_arg(const char *verb, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kiroctl keys %s NAME\n", verb);
		exit(2);
	}
	return argv[1];
}

int
keys_enable_verb(struct ctl *ctl, int argc, char **argv)
{
	const char	*name = name_arg("enable", argc, argv);
	char		*why = NULL;

	if (clientkeys_set_disabled(ctl->store, name, 0, &why) != KF_OK)
		die("%s", why);
	printf("client key %s enabled\n", name);
	return 0;
}

int
keys_disable_verb(struct ctl *ctl, int argc, char **argv)
{
	const char	*name = name_arg("disable", argc, argv);
	char		*why = NULL;

	if (clientkeys_set_disabled(ctl->store, name, 1, &why) != KF_OK)
		die("%s", why);
	printf("client key %s disabled\n", name);
	return 0;
}

int
keys_remove_verb(struct ctl *ctl, int argc, char **argv)
{
	const char	*name = name_arg("remove", argc, argv);
	char		*why = NULL;

	if (clientkeys_remove(ctl->store, name, &why) != KF_OK)
		die("%s", why);
	printf("client key %s removed\n", name);
	return 0;
}

int
keys_rotate_verb(struct ctl *ctl, int argc, char **argv)
{
	const char	*name = name_arg("rotate", argc, argv);
	char		 key[CLIENTKEYS_KEY_LEN + 1], *why = NULL;

	if (clientkeys_rotate(ctl->store, name, key, &why) != KF_OK)
		die("%s", why);
	print_key(name, key);
	explicit_bzero(key, sizeof(key));
	return 0;
}
