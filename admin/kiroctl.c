/* kiroctl.c: the operator's command line: accounts, token refresh, status. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "fileio.h"
#include "http.h"
#include "json.h"
#include "ctl-pool.h"
#include "kiroctl.h"
#include "log.h"
#include "refresh.h"
#include "store.h"
#include "xmalloc.h"

#define MAX_IMPORT_FILE	(4 * 1024 * 1024)
#define IDE_TOKEN_PATH	".aws/sso/cache/kiro-auth-token.json"

void
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("kiroctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kiroctl [-c config.json] VERB ...\n"
	    "  accounts list [--json]        accounts, secrets masked\n"
	    "  accounts import FILE          kiro.rs credentials.json "
	    "(object or array)\n"
	    "  accounts scan [--yes]         import the Kiro IDE's token "
	    "(~/" IDE_TOKEN_PATH ")\n"
	    "  accounts enable|reset ID      back into service / clear "
	    "failures and cooldown\n"
	    "  accounts disable ID [REASON]  take out of service\n"
	    "  accounts history ID [--json]  recorded state changes\n"
	    "  refresh [--force]             refresh tokens expiring within "
	    "15 minutes (cron)\n"
	    "  status                        configuration and accounts at "
	    "a glance\n");
	exit(2);
}

/*
 * The responder usually runs as the web server's user and owns the state
 * directory; an operator running kiroctl as root must not leave root-owned
 * files the responder cannot open, so kiroctl becomes that owner.
 */
static void
become_state_owner(const char *dir)
{
	struct stat	st;

	if (geteuid() != 0 || stat(dir, &st) == -1 || st.st_uid == 0)
		return;
	if (setgid(st.st_gid) == -1 || setuid(st.st_uid) == -1)
		die("cannot switch to the owner (uid %ld) of %s: %s",
		    (long)st.st_uid, dir, strerror(errno));
}

void
open_store(struct ctl *ctl)
{
	char	*why = NULL;

	become_state_owner(ctl->cfg->state_dir);
	if (store_open(&ctl->store, ctl->cfg->state_dir, &why) != KF_OK)
		die("%s", why);
}

const char *
expiry_text(time_t t, char out[CLOCK_RFC3339_LEN])
{
	if (t == 0)
		return "unknown";
	return clock_rfc3339(t, out);
}

static int
accounts_list_verb(struct ctl *ctl, int argc, char **argv)
{
	struct account	*accts = NULL;
	json_object	*arr, *o;
	size_t		 n = 0, i;
	char		*why = NULL, when[CLOCK_RFC3339_LEN];
	time_t		 now = clock_now();
	int		 as_json = argc > 1 && strcmp(argv[1], "--json") == 0;

	if (argc > 2 || (argc == 2 && !as_json))
		usage();
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	if (as_json) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++) {
			o = cred_to_json(&accts[i].cred, CRED_JSON_PUBLIC);
			json_object_object_add(o, "state",
			    json_str(account_state_word(&accts[i], now)));
			json_object_object_add(o, "runtime",
			    account_state_to_json(&accts[i].state));
			json_object_array_add(arr, o);
		}
		puts(json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
		accounts_free(accts, n);
		return 0;
	}
	if (n == 0) {
		printf("no accounts: add one with \"kiroctl accounts import "
		    "FILE\" or \"kiroctl accounts scan\"\n");
		return 0;
	}
	printf("%-4s %-28s %-7s %-4s %-12s %-21s %s\n", "ID", "EMAIL", "AUTH",
	    "PRIO", "STATE", "EXPIRES", "DETAIL");
	for (i = 0; i < n; i++) {
		const struct account	*a = &accts[i];

		printf("%-4ld %-28.28s %-7s %-4ld %-12s %-21s %s%s%s\n",
		    a->cred.id, a->cred.email != NULL ? a->cred.email : "-",
		    cred_auth_name(a->cred.auth_method), a->cred.priority,
		    account_state_word(a, now),
		    expiry_text(a->cred.expires_at, when),
		    account_reason_name(a->state.disabled),
		    a->state.disabled != ACCOUNT_OK &&
		    a->state.disabled_detail != NULL ? ": " : "",
		    a->state.disabled != ACCOUNT_OK &&
		    a->state.disabled_detail != NULL ?
		    a->state.disabled_detail : "");
	}
	accounts_free(accts, n);
	return 0;
}

static int
report_import(struct ctl *ctl, struct cred *creds, size_t n,
    const char *from)
{
	struct import_result	*results;
	size_t			 i, added = 0;
	char			*why = NULL;

	results = xcalloc(n, sizeof(*results));
	if (accounts_import(ctl->store, creds, n, results, &why) != KF_OK)
		die("%s", why);
	for (i = 0; i < n; i++) {
		if (results[i].duplicate)
			printf("%s entry %zu: already account %ld (unchanged)\n",
			    from, i + 1, results[i].id);
		else {
			printf("%s entry %zu: added as account %ld\n", from,
			    i + 1, results[i].id);
			added++;
		}
	}
	printf("%zu added, %zu already present\n", added, n - added);
	free(results);
	return 0;
}

static int
accounts_import_verb(struct ctl *ctl, int argc, char **argv)
{
	struct buf	 text = BUF_INIT;
	struct cred	*creds = NULL;
	size_t		 n = 0, i;
	char		*why = NULL;
	int		 rc;

	if (argc != 2)
		usage();
	if (fileio_read(argv[1], MAX_IMPORT_FILE, &text, &why) != KF_OK)
		die("%s", why);
	if (cred_parse_import(text.ptr, text.len, &creds, &n, &why) != KF_OK)
		die("%s: %s", argv[1], why);
	/* Read as the caller (root may read what the state owner cannot). */
	open_store(ctl);
	for (i = 0; i < n; i++) {
		free(creds[i].source);
		creds[i].source = xstrdup("cli");
	}
	rc = report_import(ctl, creds, n, argv[1]);
	cred_free_array(creds, n);
	explicit_bzero(text.ptr, text.len);
	buf_free(&text);
	return rc;
}

static int
accounts_scan_verb(struct ctl *ctl, int argc, char **argv)
{
	struct cred	 cred;
	const char	*home;
	char		*path, *why = NULL;
	int		 yes = argc == 2 && strcmp(argv[1], "--yes") == 0;
	int		 rc;

	if (argc > 2 || (argc == 2 && !yes))
		usage();
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		die("HOME is not set: cannot find ~/%s", IDE_TOKEN_PATH);
	path = xasprintf("%s/%s", home, IDE_TOKEN_PATH);
	if (access(path, F_OK) == -1 && errno == ENOENT)
		die("no Kiro IDE token found at %s (log in with the Kiro IDE "
		    "first, or use \"kiroctl accounts import FILE\")", path);
	if (access(path, R_OK) == -1)
		die("%s: %s", path, strerror(errno));
	if (cred_load_ide_cache(path, &cred, &why) != KF_OK)
		die("%s", why);
	printf("found a Kiro IDE %s login in %s\n",
	    cred_auth_name(cred.auth_method), path);
	if (!yes && isatty(STDIN_FILENO)) {
		char	answer[16];

		printf("import it? [y/N] ");
		fflush(stdout);
		if (fgets(answer, sizeof(answer), stdin) == NULL ||
		    (answer[0] != 'y' && answer[0] != 'Y')) {
			printf("not imported\n");
			cred_free(&cred);
			free(path);
			return 1;
		}
	}
	open_store(ctl);
	rc = report_import(ctl, &cred, 1, path);
	cred_free(&cred);
	free(path);
	return rc;
}

static int
refresh_verb(struct ctl *ctl, int argc, char **argv)
{
	struct account	*accts = NULL;
	struct http	*h;
	struct cred	 cred;
	size_t		 n = 0, i;
	char		*why = NULL, when[CLOCK_RFC3339_LEN];
	int		 force = argc == 2 && strcmp(argv[1], "--force") == 0;
	int		 failed = 0;
	enum kf_err	 er;

	if (argc > 2 || (argc == 2 && !force))
		usage();
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	h = http_new();
	for (i = 0; i < n; i++) {
		const struct account	*a = &accts[i];

		if (a->cred.auth_method == CRED_AUTH_API_KEY)
			continue;
		if (a->state.disabled == ACCOUNT_INVALID_REFRESH_TOKEN) {
			printf("account %ld: needs a new login (skipped)\n",
			    a->cred.id);
			continue;
		}
		if (!force && !refresh_needed(&a->cred, REFRESH_AHEAD_CRON,
		    clock_now())) {
			printf("account %ld: valid until %s\n", a->cred.id,
			    expiry_text(a->cred.expires_at, when));
			continue;
		}
		er = refresh_ensure(ctl->store, h, ctl->cfg, a->cred.id,
		    REFRESH_AHEAD_CRON, force ? (a->cred.access_token != NULL ?
		    a->cred.access_token : "") : NULL, &cred, &why);
		if (er != KF_OK) {
			printf("account %ld: refresh failed: %s\n", a->cred.id,
			    why);
			failed++;
		} else
			printf("account %ld: refreshed, valid until %s\n",
			    a->cred.id, expiry_text(cred.expires_at, when));
		cred_free(&cred);
		free(why);
		why = NULL;
	}
	http_free(h);
	accounts_free(accts, n);
	if (failed > 0)
		die("%d account(s) could not be refreshed", failed);
	return 0;
}

static int
status_verb(struct ctl *ctl, int argc, char **argv)
{
	struct account	*accts = NULL;
	size_t		 n = 0, i, usable = 0;
	char		*why = NULL;
	time_t		 now = clock_now();

	if (argc != 1)
		usage();
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	for (i = 0; i < n; i++)
		usable += account_usable(&accts[i], now);
	printf("config:        %s\n", ctl->cfg->path != NULL ?
	    ctl->cfg->path : "(none: defaults and environment)");
	printf("state:         %s\n", ctl->cfg->state_dir);
	printf("upstream:      %s\n", ctl->cfg->api_base_url);
	printf("client key:    %s\n", ctl->cfg->api_key != NULL ?
	    "set" : "NOT SET (clients cannot authenticate)");
	printf("balancing:     %s\n",
	    config_lb_mode_name(ctl->cfg->load_balancing_mode));
	printf("accounts:      %zu (%zu usable)\n", n, usable);
	accounts_free(accts, n);
	return 0;
}

/*
 * A verb that reads the operator's files (import, scan) opens the store
 * itself once it has read them: opening the store may drop root's
 * privileges (become_state_owner), and the files may be readable by root
 * alone (/root/creds.json, /root/.aws/sso/cache).
 */
static const struct {
	const char	*noun;
	const char	*verb;
	verb_fn		 fn;
	int		 opens_store;
} verbs[] = {
	{ "accounts", "list", accounts_list_verb, 0 },
	{ "accounts", "import", accounts_import_verb, 1 },
	{ "accounts", "scan", accounts_scan_verb, 1 },
	{ "accounts", "enable", accounts_enable_verb, 0 },
	{ "accounts", "disable", accounts_disable_verb, 0 },
	{ "accounts", "reset", accounts_reset_verb, 0 },
	{ "accounts", "history", accounts_history_verb, 0 },
	{ "refresh", NULL, refresh_verb, 0 },
	{ "status", NULL, status_verb, 0 },
};

int
main(int argc, char *argv[])
{
	struct ctl	 ctl;
	const char	*config_path = NULL;
	char		*why = NULL;
	size_t		 i;
	int		 ch, rc;

	log_init("kiroctl", LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "+c:hV")) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'V':
			printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	memset(&ctl, 0, sizeof(ctl));
	umask(077);
	if (config_load(config_path, &ctl.cfg, NULL, &why) != KF_OK)
		die("%s", why);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].noun, argv[0]) != 0)
			continue;
		if (verbs[i].verb == NULL) {
			http_global_init();
			if (!verbs[i].opens_store)
				open_store(&ctl);
			rc = verbs[i].fn(&ctl, argc, argv);
			goto done;
		}
		if (argc >= 2 && strcmp(verbs[i].verb, argv[1]) == 0) {
			http_global_init();
			if (!verbs[i].opens_store)
				open_store(&ctl);
			rc = verbs[i].fn(&ctl, argc - 1, argv + 1);
			goto done;
		}
	}
	usage();
done:
	store_close(ctl.store);
	config_free(ctl.cfg);
	return rc;
}
