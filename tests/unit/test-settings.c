/* test-settings.c: unit tests for the admin API's settings in the store. */
#include "autoconfig.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "settings.h"
#include "store.h"
#include "testutil.h"

/*
 * Covers: typed round trips (string, integer), unset settings, a value of
 * the other type refused, names outside [A-Za-z0-9.-] or over 64
 * characters refused, deletion handing the decision back to config.json,
 * settings_txn_apply overriding the load-balancing mode and rate limits in
 * a copy and leaving the configuration alone, corrupt or out-of-range
 * records ignored, the mode names, and a change written by one process
 * seen by another.  What a thread remembers of settings_txn_apply (by
 * store view): the same as a thread that remembers nothing, for every
 * kind of record; a change by this process, another process, or the
 * transaction itself seen at once; the warnings of unusable records
 * logged at every apply, remembered or not.
 */

#define CONFIG_TEXT \
	"{\"loadBalancingMode\":\"balanced\"," \
	"\"rateLimits\":{\"globalRpm\":100}}"

static char		*test_root;
static char		 test_dir[PATH_MAX];
static struct store	*st;
static struct config	*cfg;

static void
setup(void)
{
	char	*cause = NULL;
	int	 n;

	test_root = tu_tmpdir();
	n = snprintf(test_dir, sizeof(test_dir), "%s/state", test_root);
	ck_assert(n > 0 && (size_t)n < sizeof(test_dir));
	ck_assert_int_eq(store_open(&st, test_dir, &cause), KF_OK);
	ck_assert_int_eq(config_parse(CONFIG_TEXT, strlen(CONFIG_TEXT), NULL,
	    &cfg, NULL, NULL), KF_OK);
	free(cause);
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	config_free(cfg);
	cfg = NULL;
	tu_rmrf(test_root);
	free(test_root);
	test_root = NULL;
}

static void
put_raw(const char *key, const char *val)
{
	struct store_txn	*txn;

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, key, val, strlen(val)), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
}

START_TEST(settings_round_trip_typed_values)
{
	char	*s = NULL, *cause = NULL;
	long	 n = -1;

	ck_assert_int_eq(settings_get_str(st, "loadBalancingMode", &s, NULL),
	    KF_ENOTFOUND);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(settings_put_str(st, "loadBalancingMode",
	    "round-robin", NULL), KF_OK);
	ck_assert_int_eq(settings_get_str(st, "loadBalancingMode", &s, NULL),
	    KF_OK);
	ck_assert_str_eq(s, "round-robin");
	free(s);
	ck_assert_int_eq(settings_put_int(st, "stickySeconds", 120, NULL),
	    KF_OK);
	ck_assert_int_eq(settings_get_int(st, "stickySeconds", &n, NULL),
	    KF_OK);
	ck_assert_int_eq(n, 120);
	/* A string is not an integer, nor the other way round. */
	ck_assert_int_eq(settings_get_int(st, "loadBalancingMode", &n,
	    &cause), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, "not an integer"));
	free(cause);
	ck_assert_int_eq(settings_get_str(st, "stickySeconds", &s, NULL),
	    KF_EINVAL);
	/* Replacing keeps one value. */
	ck_assert_int_eq(settings_put_int(st, "stickySeconds", 5, NULL),
	    KF_OK);
	ck_assert_int_eq(settings_get_int(st, "stickySeconds", &n, NULL),
	    KF_OK);
	ck_assert_int_eq(n, 5);
}
END_TEST

START_TEST(settings_refuse_bad_names)
{
	char	 longname[SETTINGS_NAME_MAX + 2];
	char	*cause = NULL;
	long	 n;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(settings_put_int(st, "", 1, NULL), KF_EINVAL);
	ck_assert_int_eq(settings_put_int(st, "a/b", 1, NULL), KF_EINVAL);
	ck_assert_int_eq(settings_put_int(st, "a b", 1, NULL), KF_EINVAL);
	ck_assert_int_eq(settings_put_int(st, longname, 1, &cause),
	    KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, "setting name"));
	free(cause);
	ck_assert_int_eq(settings_get_int(st, "../x", &n, NULL), KF_EINVAL);
	ck_assert_int_eq(settings_del(st, "a/b", NULL), KF_EINVAL);
	/* Exactly the longest name is fine. */
	longname[SETTINGS_NAME_MAX] = '\0';
	ck_assert_int_eq(settings_put_int(st, longname, 1, NULL), KF_OK);
}
END_TEST

START_TEST(settings_del_hands_back_to_config)
{
	struct config	eff;

	ck_assert_int_eq(settings_put_str(st, SETTING_LB_MODE, "priority",
	    NULL), KF_OK);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.load_balancing_mode, LB_PRIORITY);
	ck_assert_int_eq(settings_del(st, SETTING_LB_MODE, NULL), KF_OK);
	ck_assert_int_eq(settings_del(st, SETTING_LB_MODE, NULL), KF_OK);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.load_balancing_mode, LB_BALANCED);
}
END_TEST

START_TEST(settings_apply_overrides_a_copy_only)
{
	struct config	eff;

	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.load_balancing_mode, LB_BALANCED);
	ck_assert_int_eq(eff.rate_limits.global_rpm, 100);
	ck_assert_int_eq(settings_put_str(st, SETTING_LB_MODE, "round-robin",
	    NULL), KF_OK);
	ck_assert_int_eq(settings_put_int(st, SETTING_GLOBAL_RPM, 0, NULL),
	    KF_OK);
	ck_assert_int_eq(settings_put_int(st, SETTING_ACCOUNT_RPM, 7, NULL),
	    KF_OK);
	ck_assert_int_eq(settings_put_int(st, SETTING_STICKY_SECONDS, 0, NULL),
	    KF_OK);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.sticky_seconds, 0);
	ck_assert_int_eq(cfg->sticky_seconds, 60);
	ck_assert_int_eq(eff.load_balancing_mode, LB_ROUND_ROBIN);
	ck_assert_int_eq(eff.rate_limits.global_rpm, 0);
	ck_assert_int_eq(eff.rate_limits.per_account_rpm, 7);
	ck_assert_int_eq(eff.rate_limits.min_interval_ms, 0);
	/* The configuration itself is untouched; its strings are shared. */
	ck_assert_int_eq(cfg->load_balancing_mode, LB_BALANCED);
	ck_assert_int_eq(cfg->rate_limits.global_rpm, 100);
	ck_assert_ptr_eq(eff.state_dir, cfg->state_dir);
}
END_TEST

START_TEST(settings_apply_skips_bad_records)
{
	struct config	eff;

	put_raw("settings/loadBalancingMode",
	    "{\"v\":1,\"value\":\"fastest\"}");
	put_raw("settings/rateLimits.globalRpm", "{\"v\":1,\"value\":-5}");
	put_raw("settings/rateLimits.perAccountRpm", "not json");
	put_raw("settings/rateLimits.minIntervalMs",
	    "{\"v\":1,\"value\":\"10\"}");
	put_raw("settings/stickySeconds", "{\"v\":1,\"value\":9999999}");
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.load_balancing_mode, LB_BALANCED);
	ck_assert_int_eq(eff.rate_limits.global_rpm, 100);
	ck_assert_int_eq(eff.rate_limits.per_account_rpm, 0);
	ck_assert_int_eq(eff.rate_limits.min_interval_ms, 0);
	ck_assert_int_eq(eff.sticky_seconds, 60);
}
END_TEST

START_TEST(settings_corrupt_record_is_a_store_error)
{
	struct store_txn	*txn;
	json_object		*v = NULL;
	char			*cause = NULL;

	put_raw("settings/x", "{\"v\":1}");
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	ck_assert_int_eq(settings_txn_get(txn, "x", &v, &cause), KF_ESTORE);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(cause, "corrupt"));
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	free(cause);
}
END_TEST

START_TEST(settings_mode_names)
{
	enum lb_mode	mode;

	ck_assert_int_eq(settings_lb_mode_parse("priority", &mode), 0);
	ck_assert_int_eq(mode, LB_PRIORITY);
	ck_assert_int_eq(settings_lb_mode_parse("balanced", &mode), 0);
	ck_assert_int_eq(mode, LB_BALANCED);
	ck_assert_int_eq(settings_lb_mode_parse("round-robin", &mode), 0);
	ck_assert_int_eq(mode, LB_ROUND_ROBIN);
	ck_assert_int_eq(settings_lb_mode_parse("Priority", &mode), -1);
	ck_assert_int_eq(settings_lb_mode_parse("", &mode), -1);
	ck_assert_int_eq(settings_lb_mode_parse(NULL, &mode), -1);
}
END_TEST

START_TEST(settings_change_seen_by_another_process)
{
	struct config	 eff;
	pid_t		 pid;
	int		 status;

	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.load_balancing_mode, LB_BALANCED);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct store	*child = NULL;

		/* Its own handle, as another responder process has. */
		if (store_open(&child, test_dir, NULL) != KF_OK ||
		    settings_put_str(child, SETTING_LB_MODE, "priority",
		    NULL) != KF_OK)
			_exit(1);
		store_close(child);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.load_balancing_mode, LB_PRIORITY);
}
END_TEST

/* Another thread, so nothing is remembered: what a fresh read gives. */
static void *
apply_fresh(void *arg)
{
	struct config	*eff = arg;

	*eff = *cfg;
	if (settings_effective(st, cfg, eff, NULL) != KF_OK)
		eff->sticky_seconds = -1;
	return NULL;
}

static void
assert_same_config(const struct config *a, const struct config *b)
{
	ck_assert_int_eq(a->load_balancing_mode, b->load_balancing_mode);
	ck_assert_int_eq(a->sticky_seconds, b->sticky_seconds);
	ck_assert_int_eq(a->rate_limits.min_interval_ms,
	    b->rate_limits.min_interval_ms);
	ck_assert_int_eq(a->rate_limits.per_account_rpm,
	    b->rate_limits.per_account_rpm);
	ck_assert_int_eq(a->rate_limits.global_rpm,
	    b->rate_limits.global_rpm);
}

#define RECORD(value)	"{\"v\":1,\"value\":" value "}"

/*
 * For each state of the records (unset, set, unusable, corrupt), the
 * second apply in this thread (remembered) gives what a thread that
 * remembers nothing reads.
 */
START_TEST(settings_remembered_apply_matches_a_fresh_read)
{
	static const char *const states[][2] = {
		{ NULL, NULL },
		{ "settings/loadBalancingMode", RECORD("\"priority\"") },
		{ "settings/stickySeconds", RECORD("17") },
		{ "settings/rateLimits.globalRpm", RECORD("3") },
		{ "settings/rateLimits.perAccountRpm", RECORD("4") },
		{ "settings/rateLimits.minIntervalMs", RECORD("5") },
		{ "settings/loadBalancingMode", RECORD("\"fastest\"") },
		{ "settings/stickySeconds", RECORD("-1") },
		{ "settings/rateLimits.globalRpm", "not json" },
		{ "settings/loadBalancingMode", "{\"v\":1}" },
		{ "settings/loadBalancingMode", RECORD("\"round-robin\"") },
		{ "settings/rateLimits.globalRpm", RECORD("0") },
	};
	struct config	eff1, eff2, fresh;
	pthread_t	t;
	size_t		i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (states[i][0] != NULL)
			put_raw(states[i][0], states[i][1]);
		ck_assert_int_eq(settings_effective(st, cfg, &eff1, NULL),
		    KF_OK);
		ck_assert_int_eq(settings_effective(st, cfg, &eff2, NULL),
		    KF_OK);
		ck_assert_int_eq(pthread_create(&t, NULL, apply_fresh,
		    &fresh), 0);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		assert_same_config(&eff1, &fresh);
		assert_same_config(&eff2, &fresh);
	}
	ck_assert_int_eq(eff2.load_balancing_mode, LB_ROUND_ROBIN);
	ck_assert_int_eq(eff2.sticky_seconds, 60);
	ck_assert_int_eq(eff2.rate_limits.global_rpm, 0);
	ck_assert_int_eq(eff2.rate_limits.min_interval_ms, 5);
}
END_TEST

/* Remembered, then changed: by this process, another, the txn itself. */
START_TEST(settings_remembered_apply_sees_every_change)
{
	struct store_txn	*txn;
	struct config		 eff;
	json_object		*v;
	pid_t			 pid;
	int			 status;

	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.sticky_seconds, 60);
	ck_assert_int_eq(settings_put_int(st, SETTING_STICKY_SECONDS, 9,
	    NULL), KF_OK);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.sticky_seconds, 9);

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct store	*child = NULL;

		if (store_open(&child, test_dir, NULL) != KF_OK ||
		    settings_put_int(child, SETTING_STICKY_SECONDS, 8,
		    NULL) != KF_OK)
			_exit(1);
		store_close(child);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.sticky_seconds, 8);

	/* A write transaction sees what it has just put. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	eff = *cfg;
	settings_txn_apply(txn, &eff);
	ck_assert_int_eq(eff.sticky_seconds, 8);
	v = json_object_new_int64(7);
	ck_assert_int_eq(settings_txn_put(txn, SETTING_STICKY_SECONDS, v,
	    NULL), KF_OK);
	json_object_put(v);
	eff = *cfg;
	settings_txn_apply(txn, &eff);
	ck_assert_int_eq(eff.sticky_seconds, 7);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(settings_effective(st, cfg, &eff, NULL), KF_OK);
	ck_assert_int_eq(eff.sticky_seconds, 7);
}
END_TEST

static size_t
count_in(const char *text, const char *what)
{
	size_t		 n = 0;
	const char	*p = text;

	while ((p = strstr(p, what)) != NULL) {
		n++;
		p += strlen(what);
	}
	return n;
}

/*
 * Remembered or read, an unusable record is logged at each apply.  (A
 * corrupt one is never remembered: read again, it warns again.)
 */
START_TEST(settings_remembered_apply_warns_every_time)
{
	struct config	 eff;
	char		 path[PATH_MAX];
	char		*text;
	int		 fd, saved, i, n;

	put_raw("settings/loadBalancingMode",
	    "{\"v\":1,\"value\":\"fastest\"}");
	put_raw("settings/rateLimits.globalRpm", "{\"v\":1,\"value\":-5}");
	n = snprintf(path, sizeof(path), "%s/log", test_root);
	ck_assert(n > 0 && (size_t)n < sizeof(path));
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
	    0600), -1);
	fflush(stderr);
	ck_assert_int_ne(saved = dup(STDERR_FILENO), -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	close(fd);
	for (i = 0; i < 3; i++)
		(void)settings_effective(st, cfg, &eff, NULL);
	fflush(stderr);
	ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	ck_assert_ptr_nonnull(text = tu_read_file(path));
	ck_assert_uint_eq(count_in(text, "setting loadBalancingMode is not "
	    "a load-balancing mode: config.json decides"), 3);
	ck_assert_uint_eq(count_in(text, "setting rateLimits.globalRpm is "
	    "not an integer from 0 to 1000000: config.json decides"), 3);
	ck_assert_uint_eq(count_in(text, "\n"), 6);
	free(text);
}
END_TEST

static Suite *
settings_suite(void)
{
	Suite	*s = suite_create("settings");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, settings_round_trip_typed_values);
	tcase_add_test(tc, settings_refuse_bad_names);
	tcase_add_test(tc, settings_del_hands_back_to_config);
	tcase_add_test(tc, settings_apply_overrides_a_copy_only);
	tcase_add_test(tc, settings_apply_skips_bad_records);
	tcase_add_test(tc, settings_corrupt_record_is_a_store_error);
	tcase_add_test(tc, settings_mode_names);
	tcase_add_test(tc, settings_change_seen_by_another_process);
	tcase_add_test(tc, settings_remembered_apply_matches_a_fresh_read);
	tcase_add_test(tc, settings_remembered_apply_sees_every_change);
	tcase_add_test(tc, settings_remembered_apply_warns_every_time);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(settings_suite());
}
