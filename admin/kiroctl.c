/* kiroctl.c: the operator's command line: accounts, token refresh, status. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "buf.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "ctl-flows.h"
#include "ctl-login.h"
#include "fileio.h"
#include "http.h"
#include "json.h"
#include "ctl-keys.h"
#include "ctl-pool.h"
#include "kiroctl.h"
#include "log.h"
#include "modelmap.h"
#include "models.h"
#include "refresh.h"
#include "settings.h"
#include "store.h"
#include "usage.h"
#include "xmalloc.h"

#define MAX_IMPORT_FILE	(4 * 1024 * 1024)
#define IDE_TOKEN_PATH	".aws/sso/cache/kiro-auth-token.json"

char *
term_clean(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	struct buf		 out = BUF_INIT;

	buf_puts(&out, "");
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			continue;
		/* C1 controls (U+0080..U+009F) in UTF-8; CSI among them. */
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p++;
			continue;
		}
		buf_putc(&out, (char)*p);
	}
	return buf_detach(&out);
}

void
die(const char *fmt, ...)
{
	struct buf	 reason = BUF_INIT;
	char		*clean;
	va_list		 ap;

	va_start(ap, fmt);
	buf_vprintf(&reason, fmt, ap);
	va_end(ap);
	clean = term_clean(buf_cstr(&reason));
	fprintf(stderr, "kiroctl: %s\n", clean);
	free(clean);
	buf_free(&reason);
	exit(1);
}
static void	usage(void) __attribute__((noreturn));

/* Wrong arguments to a known verb: one line with its synopsis. */
static void __attribute__((noreturn))
bad_args(const char *synopsis)
{
	die("usage: kiroctl %s", synopsis);
}

/*
 * The responder usually runs as the web server's user and owns the state
 * directory; an operator running kiroctl as root must not leave root-owned
 * files the responder cannot open, so kiroctl becomes that owner.  The
 * owner is the directory's own (O_NOFOLLOW): a symlink there would let
 * whoever placed it choose whom root becomes.
 */
static int
state_dir_owner(const char *dir, uid_t *uid, gid_t *gid)
{
	struct stat	st;
	int		fd, saved_errno;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;	/* store_open creates it */
		saved_errno = errno;
		die("%s: %s", dir, saved_errno == ELOOP || saved_errno ==
		    ENOTDIR ? "not a directory (a symbolic link?): as root "
		    "kiroctl becomes the state directory's owner and will not "
		    "follow a link to choose whom; set stateDir to the "
		    "directory itself" : strerror(saved_errno));
	}
	if (fstat(fd, &st) == -1)
		die("%s: %s", dir, strerror(errno));
	close(fd);
	*uid = st.st_uid;
	*gid = st.st_gid;
	return 1;
}

/* The groups uid should have: its own (as login gives them), else none. */
static int
owner_groups(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	struct passwd	*pw;
	int		 n = max;

	if ((pw = getpwuid(uid)) == NULL)
		return 0;
	if (getgrouplist(pw->pw_name, gid, groups, &n) == -1)
		die("uid %ld (%s) is in more than %d groups", (long)uid,
		    pw->pw_name, max);
	return n;
}

/* Dies unless every id is the owner's and root cannot be had back. */
static void
check_dropped(uid_t uid, gid_t gid, const gid_t *want, int n_want)
{
	gid_t	have[NGROUPS_MAX + 1];
	int	n, i, j;

	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		die("switching to uid %ld did not take", (long)uid);
	if ((n = getgroups(NGROUPS_MAX + 1, have)) == -1)
		die("getgroups: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		for (j = 0; j < n_want && want[j] != have[i]; j++)
			;
		if (j == n_want && have[i] != gid)
			die("group %ld is still in kiroctl's groups after "
			    "switching to uid %ld", (long)have[i], (long)uid);
	}
	if (setuid(0) != -1 || seteuid(0) != -1)
		die("root could be regained after switching to uid %ld",
		    (long)uid);
}

static void
become_state_owner(const char *dir)
{
	gid_t	groups[NGROUPS_MAX + 1];
	uid_t	uid;
	gid_t	gid;
	int	n_groups;

	if (geteuid() != 0 || !state_dir_owner(dir, &uid, &gid) || uid == 0)
		return;
	/* Root's supplementary groups go first: setgroups needs root. */
	n_groups = owner_groups(uid, gid, groups, NGROUPS_MAX + 1);
	if (setgroups((size_t)n_groups, groups) == -1)
		die("cannot set the groups of uid %ld: %s", (long)uid,
		    strerror(errno));
	if (setgid(gid) == -1 || setuid(uid) == -1)
		die("cannot switch to the owner (uid %ld) of %s: %s",
		    (long)uid, dir, strerror(errno));
	check_dropped(uid, gid, groups, n_groups);
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

/* The route an account's calls take, and its profile, as JSON keys. */
static void
add_route_json(json_object *o, const struct account *a,
    const struct config *cfg)
{
	struct upstream_route	route;

	account_route(a, cfg, &route);
	json_object_object_add(o, "host",
	    json_str(config_api_host_name(route.host)));
	json_object_object_add(o, "style",
	    json_str(config_api_style_name(route.style)));
	/* Switched by the gateway itself after a refusal (kiro-fcgi(8)). */
	json_object_object_add(o, "routeSwitched",
	    json_object_new_boolean(a->state.route_known));
	json_object_object_add(o, "profileArn", a->cred.profile_arn != NULL ?
	    json_str(a->cred.profile_arn) : NULL);
}

/* "runtime host, target style, profile arn:..." for people. */
static void
print_route(const struct account *a, const struct config *cfg)
{
	struct upstream_route	route;
	char			when[CLOCK_RFC3339_LEN];

	account_route(a, cfg, &route);
	printf("account %-6ld %s host, %s style", a->cred.id,
	    config_api_host_name(route.host),
	    config_api_style_name(route.style));
	if (a->state.route_known)
		printf(" (switched %s)", expiry_text(a->state.route_at, when));
	if (a->cred.profile_arn != NULL)
		printf(", profile %s\n", a->cred.profile_arn);
	else
		printf(", %s\n", a->cred.auth_method == CRED_AUTH_SOCIAL ?
		    "profile not known yet" : "no profile");
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
		bad_args("accounts list [--json]");
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
			add_route_json(o, &accts[i], ctl->cfg);
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
		    a->cred.auth_method == CRED_AUTH_API_KEY ? "never" :
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

void
ctl_resolve_profile(struct ctl *ctl, long id)
{
	struct account	 a;
	struct http	*h;
	char		*why = NULL, *clean;

	if (accounts_get(ctl->store, id, &a, &why) != KF_OK) {
		free(why);
		return;
	}
	if (a.cred.auth_method == CRED_AUTH_SOCIAL &&
	    a.cred.profile_arn == NULL) {
		if (a.cred.access_token == NULL ||
		    refresh_needed(&a.cred, 60, clock_now()))
			printf("account %ld: profileArn unknown: found at its "
			    "first refresh\n", id);
		else {
			h = http_new();
			if (refresh_resolve_profile(ctl->store, h, ctl->cfg,
			    &a.cred, &why) == KF_OK)
				printf("account %ld: profile %s\n", id,
				    a.cred.profile_arn);
			else {
				clean = term_clean(why);
				fprintf(stderr, "kiroctl: account %ld: %s; "
				    "looked up again at its next refresh\n",
				    id, clean);
				free(clean);
			}
			http_free(h);
		}
	}
	account_free(&a);
	free(why);
}

static int
report_import(struct ctl *ctl, struct cred *creds, size_t n,
    const char *from, long *first_id)
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
			ctl_resolve_profile(ctl, results[i].id);
			added++;
		}
	}
	printf("%zu added, %zu already present\n", added, n - added);
	if (first_id != NULL)
		*first_id = n > 0 ? results[0].id : 0;
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
		bad_args("accounts import FILE");
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
	rc = report_import(ctl, creds, n, argv[1], NULL);
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
	long		 id = 0;
	int		 yes = 0, sync = 0, i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else if (strcmp(argv[i], "--sync") == 0)
			sync = 1;
		else
			bad_args("accounts scan [--yes] [--sync]");
	}
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
	rc = report_import(ctl, &cred, 1, path, &id);
	/* Also for an account scanned before: the operator opts in now. */
	if (sync) {
		if (accounts_set_ide_sync(ctl->store, id, path, &why) != KF_OK)
			die("%s", why);
		printf("account %ld: rotated tokens will be written back to "
		    "%s\n", id, path);
	}
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
	int		 failed = 0, expiring, idle;
	long		 idle_seconds = refresh_idle_seconds(ctl->cfg);
	enum kf_err	 er;

	if (argc > 2 || (argc == 2 && !force))
		bad_args("refresh [--force]");
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	h = http_new();
	for (i = 0; i < n; i++) {
		const struct account	*a = &accts[i];

		/* No refresh endpoint takes a key (doc/protocol.md §8.4). */
		if (a->cred.auth_method == CRED_AUTH_API_KEY) {
			printf("account %ld: API key, nothing to refresh\n",
			    a->cred.id);
			continue;
		}
		if (a->state.disabled == ACCOUNT_INVALID_REFRESH_TOKEN) {
			printf("account %ld: needs a new login (skipped)\n",
			    a->cred.id);
			continue;
		}
		expiring = refresh_needed(&a->cred, REFRESH_AHEAD_CRON,
		    clock_now());
		idle = !expiring && refresh_idle(&a->cred, idle_seconds,
		    clock_now());
		if (!force && !expiring && !idle) {
			printf("account %ld: valid until %s\n", a->cred.id,
			    expiry_text(a->cred.expires_at, when));
			continue;
		}
		if (force)
			er = refresh_ensure(ctl->store, h, ctl->cfg,
			    a->cred.id, REFRESH_AHEAD_CRON,
			    a->cred.access_token != NULL ?
			    a->cred.access_token : "", &cred, &why);
		else
			er = refresh_cron(ctl->store, h, ctl->cfg, a->cred.id,
			    &cred, &why);
		if (er != KF_OK) {
			printf("account %ld: refresh failed: %s\n", a->cred.id,
			    why);
			failed++;
		} else
			printf("account %ld: refreshed%s, valid until %s\n",
			    a->cred.id, idle && !force ? " (idle: last "
			    "refresh idleRefreshHours ago)" : "",
			    expiry_text(cred.expires_at, when));
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

/* 1 when the admin API stored setting name (settings.h). */
static int
setting_stored(struct ctl *ctl, const char *name)
{
	long	 n;
	char	*why = NULL;
	int	 stored;

	stored = settings_get_int(ctl->store, name, &n, &why) != KF_ENOTFOUND;
	free(why);
	return stored;
}

/* The modelMap in effect, and whether the admin API set it. */
static void
print_model_map(struct ctl *ctl)
{
	struct model_alias	*a = NULL;
	size_t			 n = 0, i;
	char			*why = NULL, *shown;
	int			 stored;

	if (modelmap_effective(ctl->store, ctl->cfg, &a, &n, &stored,
	    &why) != KF_OK)
		die("%s", why);
	printf("model map:     %zu entr%s%s\n", n, n == 1 ? "y" : "ies",
	    stored ? " (set through the admin API)" : n > 0 ?
	    " (config.json)" : "");
	for (i = 0; i < n; i++) {
		shown = term_clean(a[i].pattern);
		printf("  %s -> %s\n", shown, a[i].target);
		free(shown);
	}
	modelmap_free(a, n);
}

static int
status_verb(struct ctl *ctl, int argc, char **argv)
{
	struct account	*accts = NULL;
	struct config	 eff;
	size_t		 n = 0, i, usable = 0;
	char		*why = NULL, *lb_set = NULL;
	time_t		 now = clock_now();

	if (argc != 1)
		bad_args("status");
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	for (i = 0; i < n; i++)
		usable += account_usable(&accts[i], now);
	printf("config:        %s\n", ctl->cfg->path != NULL ?
	    ctl->cfg->path : "(none: defaults and environment)");
	printf("state:         %s\n", ctl->cfg->state_dir);
	printf("upstream:      runtime host %s, %s style\n",
	    ctl->cfg->api_base_url,
	    config_api_style_name(ctl->cfg->api_style));
	printf("legacy host:   %s (Builder ID accounts: %s host)\n",
	    ctl->cfg->legacy_api_base_url,
	    config_api_host_name(ctl->cfg->idc_api_host));
	printf("client key:    %s\n", ctl->cfg->api_key != NULL ?
	    "set" : "NOT SET (clients cannot authenticate)");
	/* The admin API's setting wins over config.json (settings.h). */
	if (settings_effective(ctl->store, ctl->cfg, &eff, &why) != KF_OK)
		die("%s", why);
	(void)settings_get_str(ctl->store, SETTING_LB_MODE, &lb_set, NULL);
	printf("balancing:     %s%s\n",
	    config_lb_mode_name(eff.load_balancing_mode), lb_set != NULL ?
	    " (set through the admin API)" : "");
	free(lb_set);
	printf("sticky:        %ld s%s\n", eff.sticky_seconds,
	    setting_stored(ctl, SETTING_STICKY_SECONDS) ?
	    " (set through the admin API)" : "");
	printf("rate limits:   minIntervalMs %ld, perAccountRpm %ld, "
	    "globalRpm %ld%s\n", eff.rate_limits.min_interval_ms,
	    eff.rate_limits.per_account_rpm, eff.rate_limits.global_rpm,
	    setting_stored(ctl, SETTING_MIN_INTERVAL) ||
	    setting_stored(ctl, SETTING_ACCOUNT_RPM) ||
	    setting_stored(ctl, SETTING_GLOBAL_RPM) ?
	    " (set through the admin API)" : "");
	print_model_map(ctl);
	printf("accounts:      %zu (%zu usable)\n", n, usable);
	for (i = 0; i < n; i++)
		print_route(&accts[i], ctl->cfg);
	accounts_free(accts, n);
	return 0;
}

/* A positive account id, or die naming the bad argument. */
static long
parse_id(const char *s)
{
	char	*end;
	long	 id;

	errno = 0;
	id = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || id < 1)
		die("\"%s\" is not an account id (a whole number from 1; see "
		    "\"kiroctl accounts list\")", s);
	return id;
}

static int
accounts_export_verb(struct ctl *ctl, int argc, char **argv)
{
	json_object	*arr = NULL;
	char		*why = NULL;
	const char	*text;
	int		 secrets = argc == 2 &&
			    strcmp(argv[1], "--with-secrets") == 0;

	if (argc > 2 || (argc == 2 && !secrets))
		bad_args("accounts export [--with-secrets]");
	if (accounts_export(ctl->store, secrets, &arr, &why) != KF_OK)
		die("%s", why);
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	puts(text);
	explicit_bzero((char *)text, strlen(text));
	json_object_put(arr);
	if (!secrets && isatty(STDOUT_FILENO))
		fprintf(stderr, "kiroctl: secrets are masked; use "
		    "--with-secrets for a file that can be imported\n");
	return 0;
}

/*
 * Reads one line from stdin; on a terminal after a prompt, without echo
 * when hide is set (turned off before the prompt, so nothing typed after
 * it can be echoed).
 */
static char *
read_line(const char *prompt, const char *what, int hide)
{
	struct termios	 old, quiet;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 tty = isatty(STDIN_FILENO), quieted = 0;

	if (tty && hide && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quieted = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
	}
	len = getline(&line, &cap, stdin);
	if (quieted) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (len == -1) {
		free(line);
		die("no %s on standard input", what);
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
	    line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	if (len == 0) {
		free(line);
		die("the %s is empty", what);
	}
	return line;
}

const char *
ctl_flag_value(int argc, char **argv, int *i, const char *name)
{
	size_t	n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		die("%s needs a value", name);
	return argv[++*i];
}

static const struct {
	const char	*flag;
	size_t		 offset;
} add_strings[] = {
	{ "--refresh-token", offsetof(struct cred, refresh_token) },
	{ "--access-token", offsetof(struct cred, access_token) },
	{ "--client-id", offsetof(struct cred, client_id) },
	{ "--client-secret", offsetof(struct cred, client_secret) },
	{ "--profile-arn", offsetof(struct cred, profile_arn) },
	{ "--region", offsetof(struct cred, region) },
	{ "--auth-region", offsetof(struct cred, auth_region) },
	{ "--api-region", offsetof(struct cred, api_region) },
	{ "--machine-id", offsetof(struct cred, machine_id) },
	{ "--email", offsetof(struct cred, email) },
	{ "--proxy-url", offsetof(struct cred, proxy_url) },
	{ "--kiro-api-key", offsetof(struct cred, kiro_api_key) },
};

static int
accounts_add_verb(struct ctl *ctl, int argc, char **argv)
{
	struct cred	 c;
	const char	*v;
	char		**field, *end, *why = NULL;
	int		 i, auth_given = 0, interactive;
	size_t		 k;
	long		 id;

	cred_init(&c);
	for (i = 1; i < argc; i++) {
		for (k = 0; k < sizeof(add_strings) / sizeof(add_strings[0]);
		    k++)
			if ((v = ctl_flag_value(argc, argv, &i,
			    add_strings[k].flag)) != NULL)
				break;
		if (k < sizeof(add_strings) / sizeof(add_strings[0])) {
			field = (char **)((char *)&c + add_strings[k].offset);
			if (*v == '\0')
				die("%s is empty", add_strings[k].flag);
			free(*field);
			*field = xstrdup(v);
		} else if ((v = ctl_flag_value(argc, argv, &i,
		    "--auth-method")) != NULL) {
			if (cred_auth_parse(v, &c.auth_method) == -1)
				die("--auth-method must be social or idc, not "
				    "\"%s\"", v);
			auth_given = 1;
		} else if ((v = ctl_flag_value(argc, argv, &i, "--priority")) !=
		    NULL) {
			errno = 0;
			c.priority = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || errno != 0 ||
			    c.priority < 0 || c.priority > 1000000000)
				die("--priority must be a whole number from 0, "
				    "not \"%s\"", v);
		} else if ((v = ctl_flag_value(argc, argv, &i,
		    "--expires-at")) != NULL) {
			if (clock_parse_rfc3339(v, &c.expires_at) == -1)
				die("--expires-at must be an RFC 3339 date "
				    "such as 2026-01-01T00:00:00Z, not \"%s\"",
				    v);
		} else if (strcmp(argv[i], "--disabled") == 0)
			c.disabled = 1;
		else
			die("accounts add: unknown argument \"%s\" (see "
			    "\"kiroctl -h\")", argv[i]);
	}
	/* Regions become upstream host names: say which flag is wrong. */
	if (config_region_check("--region", c.region, &why) != KF_OK ||
	    config_region_check("--auth-region", c.auth_region, &why) !=
	    KF_OK ||
	    config_region_check("--api-region", c.api_region, &why) != KF_OK)
		die("%s", why);
	if (!auth_given && c.kiro_api_key != NULL)
		c.auth_method = CRED_AUTH_API_KEY;
	else if (!auth_given && c.client_id != NULL)
		c.auth_method = CRED_AUTH_IDC;
	interactive = isatty(STDIN_FILENO);
	/* Secrets in argv show in ps: "-" (or nothing) reads stdin. */
	if (c.auth_method != CRED_AUTH_API_KEY && (c.refresh_token == NULL ||
	    strcmp(c.refresh_token, "-") == 0) && (c.access_token == NULL ||
	    c.refresh_token != NULL)) {
		free(c.refresh_token);
		c.refresh_token = read_line("refresh token (not shown): ",
		    "refresh token", 1);
	}
	if (c.auth_method == CRED_AUTH_IDC && c.client_id == NULL &&
	    interactive) {
		c.client_id = read_line("client id: ", "client id", 0);
	}
	if (c.auth_method == CRED_AUTH_IDC && (c.client_secret == NULL ?
	    interactive : strcmp(c.client_secret, "-") == 0)) {
		free(c.client_secret);
		c.client_secret = read_line("client secret (not shown): ",
		    "client secret", 1);
	}
	if (c.kiro_api_key != NULL && strcmp(c.kiro_api_key, "-") == 0) {
		free(c.kiro_api_key);
		c.kiro_api_key = read_line("API key (not shown): ",
		    "API key", 1);
	}
	if (cred_validate(&c, &why) != KF_OK)
		die("%s", why);
	c.source = xstrdup("cli");
	open_store(ctl);
	(void)report_import(ctl, &c, 1, "the credential", &id);
	cred_free(&c);
	return 0;
}

static int
accounts_remove_verb(struct ctl *ctl, int argc, char **argv)
{
	char	*why = NULL;
	long	 id;

	if (argc != 2)
		bad_args("accounts remove ID");
	id = parse_id(argv[1]);
	if (accounts_remove(ctl->store, id, &why) != KF_OK)
		die("%s", why);
	printf("account %ld removed\n", id);
	return 0;
}

static int
accounts_priority_verb(struct ctl *ctl, int argc, char **argv)
{
	char	*why = NULL, *end;
	long	 id, prio;

	if (argc != 3)
		bad_args("accounts priority ID N");
	id = parse_id(argv[1]);
	errno = 0;
	prio = strtol(argv[2], &end, 10);
	if (argv[2][0] == '\0' || *end != '\0' || errno != 0 || prio < 0 ||
	    prio > 1000000000)
		die("priority must be a whole number from 0 to 1000000000, not "
		    "\"%s\"", argv[2]);
	if (accounts_set_priority(ctl->store, id, prio, &why) != KF_OK)
		die("%s", why);
	printf("account %ld: priority %ld\n", id, prio);
	return 0;
}

/*
 * accounts route ID auto | runtime [path|target] | legacy: what the
 * gateway remembers after a switch (kiro-fcgi(8), Kiro hosts and request
 * styles), set or forgotten by hand.
 */
static int
accounts_route_verb(struct ctl *ctl, int argc, char **argv)
{
	struct upstream_route	 route;
	char			*why = NULL;
	long			 id;

	if (argc < 3 || argc > 4)
		bad_args("accounts route ID auto|runtime [path|target]|legacy");
	id = parse_id(argv[1]);
	if (strcmp(argv[2], "auto") == 0 && argc == 3) {
		if (accounts_forget_route(ctl->store, id, &why) != KF_OK)
			die("%s", why);
		printf("account %ld: host and style from the configuration\n",
		    id);
		return 0;
	}
	route.style = API_STYLE_PATH;
	if (config_api_host_parse(argv[2], &route.host) == -1 ||
	    (argc == 4 && config_api_style_parse(argv[3], &route.style) ==
	    -1) || (route.host == API_HOST_LEGACY &&
	    route.style != API_STYLE_PATH))
		bad_args("accounts route ID auto|runtime [path|target]|legacy");
	if (accounts_set_route(ctl->store, id, route.host, route.style,
	    clock_now(), &why) != KF_OK)
		die("%s", why);
	printf("account %ld: %s host, %s style\n", id,
	    config_api_host_name(route.host),
	    config_api_style_name(route.style));
	return 0;
}

static void
usage_row(const struct account *a, const struct usage *u)
{
	char	when[CLOCK_RFC3339_LEN];

	printf("%-4ld %-28.28s %-16.16s %10.2f %10.2f %10.2f %5.1f%% %s\n",
	    a->cred.id, a->cred.email != NULL ? a->cred.email : (u->email !=
	    NULL ? u->email : "-"), u->subscription != NULL ? u->subscription :
	    "-", u->used, u->limit, u->remaining, u->percentage,
	    u->next_reset != 0 ? clock_rfc3339(u->next_reset, when) : "-");
}

static int
usage_verb(struct ctl *ctl, int argc, char **argv)
{
	struct account	*accts = NULL;
	struct usage	 u;
	struct http	*h;
	json_object	*arr = NULL, *o;
	size_t		 n = 0, i, shown = 0;
	char		*why = NULL;
	long		 id = 0;
	int		 as_json = 0, force = 0, failed = 0, k;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			as_json = 1;
		else if (strcmp(argv[k], "--refresh") == 0)
			force = 1;
		else if (argv[k][0] == '-' || id != 0)
			bad_args("usage [ID] [--json] [--refresh]");
		else
			id = parse_id(argv[k]);
	}
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	for (i = 0; i < n && id != 0; i++)
		if (accts[i].cred.id == id)
			break;
	if (id != 0 && i == n)
		die("no account with id %ld", id);
	h = http_new();
	if (as_json)
		arr = json_object_new_array();
	else
		printf("%-4s %-28s %-16s %10s %10s %10s %6s %s\n", "ID",
		    "EMAIL", "PLAN", "USED", "LIMIT", "REMAINING", "USED%",
		    "RESETS");
	for (i = 0; i < n; i++) {
		const struct account	*a = &accts[i];

		if (id != 0 && a->cred.id != id)
			continue;
		shown++;
		if (usage_get(ctl->store, h, ctl->cfg, a->cred.id, force, &u,
		    NULL, &why) != KF_OK) {
			fprintf(stderr, "kiroctl: %s\n", why);
			if (as_json) {
				o = json_object_new_object();
				json_object_object_add(o, "id",
				    json_object_new_int64(a->cred.id));
				json_object_object_add(o, "error",
				    json_str(why));
				json_object_array_add(arr, o);
			}
			free(why);
			why = NULL;
			failed++;
			continue;
		}
		if (as_json)
			json_object_array_add(arr, usage_to_json(&u));
		else
			usage_row(a, &u);
		usage_free(&u);
	}
	if (as_json) {
		puts(json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else if (shown == 0)
		printf("no accounts\n");
	http_free(h);
	accounts_free(accts, n);
	if (failed > 0)
		die("the usage of %d account(s) could not be read", failed);
	return 0;
}

/*
 * Probes every account in service: its refresh token still refreshes (when
 * the access token expires within 15 minutes), getUsageLimits answers,
 * and its ListAvailableModels list is fetched again once an hour old.
 * A quota or suspension answer takes the account out of service (through
 * the pool, in usage_get); a failure here is printed and counted, and the
 * exit status says whether anything needs the operator.
 */
static int
health_check_verb(struct ctl *ctl, int argc, char **argv)
{
	struct account	*accts = NULL;
	struct usage	 u;
	struct http	*h;
	struct cred	 c;
	size_t		 n = 0, i;
	char		*why = NULL;
	time_t		 now = clock_now();
	int		 problems = 0, fetched;
	enum kf_err	 er;

	if (argc != 1)
		bad_args("health-check");
	(void)argv;
	if (accounts_list(ctl->store, &accts, &n, &why) != KF_OK)
		die("%s", why);
	h = http_new();
	for (i = 0; i < n; i++) {
		const struct account	*a = &accts[i];

		if (a->state.disabled != ACCOUNT_OK &&
		    (a->state.disabled_until == 0 ||
		    a->state.disabled_until > now)) {
			printf("account %ld: %s (%s), skipped\n", a->cred.id,
			    account_state_word(a, now),
			    account_reason_name(a->state.disabled));
			continue;
		}
		er = refresh_ensure(ctl->store, h, ctl->cfg, a->cred.id,
		    REFRESH_AHEAD_CRON, NULL, &c, &why);
		cred_free(&c);
		if (er != KF_OK) {
			printf("account %ld: refresh failed: %s\n", a->cred.id,
			    why);
			problems++;
			goto next;
		}
		er = usage_get(ctl->store, h, ctl->cfg, a->cred.id, 1, &u,
		    NULL, &why);
		if (er == KF_OK) {
			printf("account %ld: ok, %s, %.2f of %.2f used\n",
			    a->cred.id, u.subscription != NULL ?
			    u.subscription : "plan unknown", u.used, u.limit);
			usage_free(&u);
		} else {
			printf("account %ld: %s%s\n", a->cred.id, why,
			    er == KF_EQUOTA ? " (out of quota: disabled)" :
			    er == KF_ESUSPENDED ? " (suspended: disabled)" :
			    "");
			problems++;
			goto next;
		}
		free(why);
		why = NULL;
		er = catalogue_refresh(ctl->store, h, ctl->cfg, a->cred.id, 0,
		    &fetched, &why);
		if (er != KF_OK) {
			printf("account %ld: model list: %s\n", a->cred.id,
			    why);
			problems++;
		} else if (fetched)
			printf("account %ld: model list refreshed\n",
			    a->cred.id);
next:
		free(why);
		why = NULL;
	}
	http_free(h);
	accounts_free(accts, n);
	if (problems > 0)
		die("%d account(s) need attention (kiroctl accounts list)",
		    problems);
	return 0;
}

/*
 * What each client model name resolves to, as a responder would now:
 * with the modelMap in effect and the accounts' model lists.  Exit 1 when
 * a name resolves to nothing.
 */
static int
resolve_names(struct ctl *ctl, int n_names, char **names, int as_json)
{
	struct model_alias	*a = NULL;
	const struct model_info	*m;
	json_object		*o, *arr = json_object_new_array();
	size_t			 n = 0;
	char			*why = NULL, *shown;
	int			 i, stored, thinking, unknown = 0;

	for (i = 0; i < n_names; i++)
		if (names[i][0] == '-')
			bad_args("models [--json] [NAME ...]");
	if (modelmap_effective(ctl->store, ctl->cfg, &a, &n, &stored,
	    &why) != KF_OK)
		die("%s", why);
	models_use_map(a, n);
	modelmap_free(a, n);
	catalogue_live_install(ctl->store);
	for (i = 0; i < n_names; i++) {
		m = models_resolve(names[i], &thinking);
		unknown |= m == NULL;
		if (!as_json) {
			shown = term_clean(names[i]);
			if (m == NULL)
				printf("%s: no Kiro model\n", shown);
			else
				printf("%s -> %s%s\n", shown, m->id,
				    thinking ? " (thinking)" : "");
			free(shown);
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "name", json_str(names[i]));
		json_object_object_add(o, "model", m != NULL ?
		    json_str(m->id) : NULL);
		json_object_object_add(o, "thinking",
		    json_object_new_boolean(thinking));
		json_object_array_add(arr, o);
	}
	if (as_json) {
		o = json_object_new_object();
		json_object_object_add(o, "modelMapSource",
		    json_str(stored ? "admin" : "config"));
		json_object_object_add(o, "resolved", arr);
		puts(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else
		json_object_put(arr);
	return unknown ? 1 : 0;
}

/*
 * The model list clients see at /v1/models: the union of the accounts'
 * cached ListAvailableModels lists, else the built-in one.
 */
static int
models_verb(struct ctl *ctl, int argc, char **argv)
{
	struct catalogue		 live;
	const struct model_info		*builtin;
	json_object			*o, *arr, *m;
	size_t				 n, i;
	char				*why = NULL;
	int				 as_json = argc > 1 &&
					    strcmp(argv[1], "--json") == 0;

	if (argc > (as_json ? 2 : 1))
		return resolve_names(ctl, argc - (as_json ? 2 : 1),
		    argv + (as_json ? 2 : 1), as_json);
	if (catalogue_merged(ctl->store, &live, &why) != KF_OK)
		die("%s", why);
	builtin = models_catalogue(&n);
	if (as_json) {
		o = json_object_new_object();
		json_object_object_add(o, "source", json_str(live.n > 0 ?
		    "ListAvailableModels" : "built-in"));
		arr = json_object_new_array();
		for (i = 0; i < (live.n > 0 ? live.n : n); i++) {
			m = json_object_new_object();
			json_object_object_add(m, "id", json_str(live.n > 0 ?
			    live.m[i].id : builtin[i].id));
			json_object_object_add(m, "name", json_str(live.n > 0 ?
			    live.m[i].name : builtin[i].display_name));
			json_object_object_add(m, "maxInputTokens",
			    json_object_new_int64(live.n > 0 ?
			    live.m[i].max_input : builtin[i].context_window));
			json_object_object_add(m, "maxOutputTokens",
			    json_object_new_int64(live.n > 0 ?
			    live.m[i].max_output : builtin[i].max_output));
			json_object_array_add(arr, m);
		}
		json_object_object_add(o, "models", arr);
		puts(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%s\n", live.n > 0 ? "from the accounts' "
		    "ListAvailableModels (kiroctl health-check refreshes it)" :
		    "built-in list (no account's model list is cached yet: "
		    "run kiroctl health-check)");
		for (i = 0; i < (live.n > 0 ? live.n : n); i++)
			printf("  %-28s in %-8ld out %ld\n", live.n > 0 ?
			    live.m[i].id : builtin[i].id, live.n > 0 ?
			    live.m[i].max_input : builtin[i].context_window,
			    live.n > 0 ? live.m[i].max_output :
			    builtin[i].max_output);
	}
	catalogue_free(&live);
	return 0;
}

/*
 * A verb that reads the operator's files (import, scan) opens the store
 * itself once it has read them: opening the store may drop root's
 * privileges (become_state_owner), and the files may be readable by root
 * alone (/root/creds.json, /root/.aws/sso/cache).
 */
/*
 * The verbs, and the usage text made from them, so that the two cannot
 * drift (test_kiroctl.py also finds each in kiroctl(1) and README.md).
 * args: what follows the verb; what: one line for usage.
 */
static const struct {
	const char	*noun;
	const char	*verb;
	verb_fn		 fn;
	int		 opens_store;
	const char	*args;
	const char	*what;
} verbs[] = {
	{ "accounts", "list", accounts_list_verb, 0, "[--json]",
	    "accounts, secrets masked" },
	{ "accounts", "import", accounts_import_verb, 1, "FILE",
	    "kiro.rs credentials.json (object or array)" },
	{ "accounts", "scan", accounts_scan_verb, 1, "[--yes] [--sync]",
	    "import the Kiro IDE's token (~/" IDE_TOKEN_PATH "); --sync "
	    "writes rotated tokens back to it" },
	{ "accounts", "add", accounts_add_verb, 1, "[--refresh-token T|-] "
	    "[--auth-method social|idc] [--client-id ID] [--client-secret S|-] "
	    "[--region R] [--priority N] [--email E] [--kiro-api-key K|-] ...",
	    "one credential: flags, prompts or stdin" },
	{ "accounts", "export", accounts_export_verb, 0, "[--with-secrets]",
	    "kiro.rs JSON on stdout (secrets masked)" },
	{ "accounts", "remove", accounts_remove_verb, 0, "ID",
	    "delete an account" },
	{ "accounts", "priority", accounts_priority_verb, 0, "ID N",
	    "lower N is preferred" },
	{ "accounts", "route", accounts_route_verb, 0,
	    "ID auto|runtime [path|target]|legacy",
	    "pin an account's host and request style, or let it learn" },
	{ "accounts", "enable", accounts_enable_verb, 0, "ID",
	    "back into service" },
	{ "accounts", "disable", accounts_disable_verb, 0, "ID [REASON]",
	    "take out of service" },
	{ "accounts", "reset", accounts_reset_verb, 0, "ID",
	    "clear failures and cooldown" },
	{ "accounts", "history", accounts_history_verb, 0, "ID [--json]",
	    "recorded state changes" },
	{ "usage", NULL, usage_verb, 0, "[ID] [--json] [--refresh]",
	    "quota per account (cached 5 minutes)" },
	{ "health-check", NULL, health_check_verb, 0, "",
	    "probe every account, refresh model lists (cron)" },
	{ "models", NULL, models_verb, 0, "[--json] [NAME ...]",
	    "the model list clients see, or what each NAME resolves to" },
	{ "refresh", NULL, refresh_verb, 0, "[--force]",
	    "refresh tokens expiring within 15 minutes (cron)" },
	{ "status", NULL, status_verb, 0, "",
	    "configuration and accounts at a glance" },
	{ "login", NULL, login_verb, 0, "builder-id|google|github|remote ...",
	    "log in without the IDE and add the account" },
	{ "keys", "add", keys_add_verb, 0, "NAME [--models GLOB,...] [--rpm N] "
	    "[--monthly-requests N] [--monthly-tokens N] [--expires YYYY-MM-DD]",
	    "a client key, printed once" },
	{ "keys", "list", keys_list_verb, 0, "[--json]",
	    "client keys: limits, usage this month" },
	{ "keys", "enable", keys_enable_verb, 0, "NAME",
	    "a disabled client key works again" },
	{ "keys", "disable", keys_disable_verb, 0, "NAME",
	    "a client key gets 401 until enabled" },
	{ "keys", "remove", keys_remove_verb, 0, "NAME",
	    "forget a client key" },
	{ "keys", "rotate", keys_rotate_verb, 0, "NAME",
	    "a new key for the name, printed once; the old one dies" },
	{ "flows", NULL, flows_verb, 0, "[--status S] [--api A] [--model M] "
	    "[--account ID] [--key K] [-q TEXT] [--from T] [--to T] [--limit N] "
	    "[--offset N] [--json|--csv]",
	    "the request log, newest first" },
	{ "stats", NULL, stats_verb, 0, "[--hours N] [--json]",
	    "requests, errors, tokens and latency per account, model, API and "
	    "key; hourly trend" },
};

#define N_VERBS	(sizeof(verbs) / sizeof(verbs[0]))

#define USAGE_WIDTH	79
#define USAGE_TEXT_COL	34

/*
 * The length of the unit at p: a word, or a bracketed group ("[--rpm N]")
 * with its spaces, so that a synopsis never breaks inside one.
 */
static size_t
unit_len(const char *p)
{
	size_t	n = 0;
	int	depth = 0;

	for (; p[n] != '\0'; n++) {
		if (p[n] == '[')
			depth++;
		else if (p[n] == ']' && depth > 0)
			depth--;
		else if (p[n] == ' ' && depth == 0)
			break;
	}
	return n;
}

/*
 * Writes text from column col, breaking between units before
 * USAGE_WIDTH; continuation lines start at column indent.  Returns the
 * column after.
 */
static size_t
put_wrapped(const char *text, size_t col, size_t indent)
{
	const char	*p = text;
	size_t		 n;
	int		 first = 1;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if ((n = unit_len(p)) == 0)
			break;
		if (!first && col + 1 + n > USAGE_WIDTH) {
			fprintf(stderr, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', stderr);
			col++;
		}
		fprintf(stderr, "%.*s", (int)n, p);
		col += n;
		p += n;
		first = 0;
	}
	return col;
}

static void
usage(void)
{
	char	syn[64];
	size_t	i, col;

	fprintf(stderr, "usage: kiroctl [-c config.json] VERB ...\n");
	for (i = 0; i < N_VERBS; i++) {
		snprintf(syn, sizeof(syn), "%s%s%s", verbs[i].noun,
		    verbs[i].verb != NULL ? " " : "", verbs[i].verb != NULL ?
		    verbs[i].verb : "");
		fprintf(stderr, "  %s", syn);
		col = 2 + strlen(syn);
		if (*verbs[i].args != '\0') {
			fputc(' ', stderr);
			col = put_wrapped(verbs[i].args, col + 1, 6);
		}
		/* The text in its column, below when the synopsis is long. */
		if (col + 2 > USAGE_TEXT_COL) {
			fputc('\n', stderr);
			col = 0;
		}
		fprintf(stderr, "%*s", (int)(USAGE_TEXT_COL - col), "");
		(void)put_wrapped(verbs[i].what, USAGE_TEXT_COL,
		    USAGE_TEXT_COL);
		fputc('\n', stderr);
	}
	exit(2);
}

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
	for (i = 0; i < N_VERBS; i++) {
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
