/* test-modelmap.c: unit tests for modelMap from config.json or the store. */
#include "autoconfig.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "json.h"
#include "modelmap.h"
#include "models.h"
#include "settings.h"
#include "store.h"
#include "testutil.h"

/*
 * Covers: modelmap_parse's rules (file order kept, targets spelt as the
 * catalogue does, an unknown target or a non-string named by its entry,
 * empty, over-long and control-character names refused by index, at most
 * MODELMAP_MAX entries, targets unchecked when asked); config.json's
 * modelMap under the same rules; put, effective and del (stored map wins,
 * delete hands back config.json's); a corrupt record leaves config.json's
 * map; modelmap_sync following a map written by another process and its
 * deletion, and reading the store only when the shared counter moved;
 * two processes writing different maps at once leave one whole map.
 */

#define CONFIG_TEXT	"{\"modelMap\":{\"team-*\":\"claude-haiku-4.5\"}}"

static char		*test_root;
static char		 test_dir[PATH_MAX];
static struct store	*st;
static struct config	*cfg;

static void
setup(void)
{
	int	n;

	test_root = tu_tmpdir();
	n = snprintf(test_dir, sizeof(test_dir), "%s/state", test_root);
	ck_assert(n > 0 && (size_t)n < sizeof(test_dir));
	ck_assert_int_eq(store_open(&st, test_dir, NULL), KF_OK);
	ck_assert_int_eq(config_parse(CONFIG_TEXT, strlen(CONFIG_TEXT), NULL,
	    &cfg, NULL, NULL), KF_OK);
}

static void
teardown(void)
{
	modelmap_install(NULL, NULL);
	models_use_map(NULL, 0);
	store_close(st);
	st = NULL;
	config_free(cfg);
	cfg = NULL;
	tu_rmrf(test_root);
	free(test_root);
	test_root = NULL;
}

/* Parses text with check_targets; returns the error, fills a and n. */
static enum kf_err
parse(const char *text, int check, struct model_alias **a, size_t *n,
    char **why)
{
	json_object	*o = NULL;
	enum kf_err	 er;

	ck_assert_int_eq(json_parse(text, strlen(text), 8, &o, NULL), KF_OK);
	er = modelmap_parse(o, check, NULL, a, n, why);
	json_object_put(o);
	return er;
}

/* The cause of refusing text, which must name want. */
static void
assert_refused(const char *text, const char *want)
{
	struct model_alias	*a = NULL;
	size_t			 n = 9;
	char			*why = NULL;

	ck_assert_int_eq(parse(text, 1, &a, &n, &why), KF_EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(why);
	if (strstr(why, want) == NULL)
		ck_abort_msg("\"%s\" does not name \"%s\"", why, want);
	free(why);
}

static const char *
resolved(const char *name)
{
	const struct model_info	*m;
	int			 thinking;

	m = models_resolve(name, &thinking);
	return m != NULL ? m->id : "(none)";
}

START_TEST(modelmap_parse_rules)
{
	struct model_alias	*a = NULL;
	struct buf		 big = BUF_INIT;
	size_t			 n = 0, i;
	char			*why = NULL;

	ck_assert_int_eq(parse("{\"gpt-4o\":\"CLAUDE-OPUS-4.6\",\"team-*\":"
	    "\"claude-haiku-4.5\",\"z\":\"auto\"}", 1, &a, &n, &why), KF_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(a[0].pattern, "gpt-4o");
	ck_assert_str_eq(a[0].target, "claude-opus-4.6");
	ck_assert_str_eq(a[1].pattern, "team-*");
	ck_assert_str_eq(a[2].target, "auto");
	modelmap_free(a, n);
	ck_assert_int_eq(parse("{}", 1, &a, &n, &why), KF_OK);
	ck_assert_ptr_null(a);
	ck_assert_uint_eq(n, 0);

	assert_refused("{\"a\":\"auto\",\"gpt-4o\":\"gpt-5\"}",
	    "\"modelMap.gpt-4o\": \"gpt-5\" is not a Kiro model id");
	assert_refused("{\"a\":\"auto\",\"b\":3}",
	    "\"modelMap.b\" must be a string");
	assert_refused("{\"a\":\"auto\",\"\":\"auto\"}", "entry 2");
	assert_refused("{\"a\\nb\":\"auto\"}", "entry 1");
	assert_refused("[]", "must be an object");
	/* 127 bytes is a name; 128 is not (no client name is that long). */
	buf_puts(&big, "{\"");
	for (i = 0; i < MODELMAP_PATTERN_MAX; i++)
		buf_putc(&big, 'x');
	buf_puts(&big, "\":\"auto\"}");
	ck_assert_int_eq(parse(big.ptr, 1, &a, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	modelmap_free(a, n);
	buf_reset(&big);
	buf_puts(&big, "{\"");
	for (i = 0; i <= MODELMAP_PATTERN_MAX; i++)
		buf_putc(&big, 'x');
	buf_puts(&big, "\":\"auto\"}");
	assert_refused(big.ptr, "entry 1");
	/* MODELMAP_MAX entries, and one more. */
	buf_reset(&big);
	buf_puts(&big, "{");
	for (i = 0; i < MODELMAP_MAX; i++)
		buf_printf(&big, "%s\"m%zu\":\"auto\"", i > 0 ? "," : "", i);
	buf_puts(&big, "}");
	ck_assert_int_eq(parse(big.ptr, 1, &a, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, MODELMAP_MAX);
	ck_assert_str_eq(a[MODELMAP_MAX - 1].pattern, "m255");
	modelmap_free(a, n);
	big.len--;
	buf_puts(&big, ",\"one-more\":\"auto\"}");
	assert_refused(big.ptr, "at most 256");
	buf_free(&big);
	/* Unchecked targets (a stored map read back) are kept as they are. */
	ck_assert_int_eq(parse("{\"a\":\"gone-model\"}", 0, &a, &n, NULL),
	    KF_OK);
	ck_assert_str_eq(a[0].target, "gone-model");
	modelmap_free(a, n);
}
END_TEST

START_TEST(modelmap_config_json_same_rules)
{
	struct config	*c = NULL;
	char		*why = NULL;
	const char	*bad = "{\"modelMap\":{\"ok\":\"auto\",\"\":\"auto\"}}";

	ck_assert_int_eq(config_parse(bad, strlen(bad), NULL, &c, NULL, &why),
	    KF_ECONFIG);
	ck_assert_ptr_nonnull(strstr(why, "entry 2"));
	free(why);
	ck_assert_uint_eq(cfg->n_model_map, 1);
	ck_assert_str_eq(cfg->model_map[0].target, "claude-haiku-4.5");
}
END_TEST

START_TEST(modelmap_stored_wins_until_deleted)
{
	struct model_alias	 mine[2], *a = NULL;
	size_t			 n = 0;
	int			 stored = -1;

	ck_assert_int_eq(modelmap_effective(st, cfg, &a, &n, &stored, NULL),
	    KF_OK);
	ck_assert_int_eq(stored, 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(a[0].pattern, "team-*");
	modelmap_free(a, n);

	mine[0].pattern = "gpt-4o";
	mine[0].target = "claude-opus-4.6";
	mine[1].pattern = "team-*";
	mine[1].target = "claude-sonnet-4";
	ck_assert_int_eq(modelmap_put(st, mine, 2, NULL), KF_OK);
	ck_assert_int_eq(modelmap_effective(st, cfg, &a, &n, &stored, NULL),
	    KF_OK);
	ck_assert_int_eq(stored, 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(a[0].pattern, "gpt-4o");
	ck_assert_str_eq(a[1].target, "claude-sonnet-4");
	modelmap_free(a, n);
	/* An empty map is a map: it maps nothing, over config.json's. */
	ck_assert_int_eq(modelmap_put(st, NULL, 0, NULL), KF_OK);
	ck_assert_int_eq(modelmap_effective(st, cfg, &a, &n, &stored, NULL),
	    KF_OK);
	ck_assert_int_eq(stored, 1);
	ck_assert_uint_eq(n, 0);

	ck_assert_int_eq(modelmap_del(st, NULL), KF_OK);
	ck_assert_int_eq(modelmap_effective(st, cfg, &a, &n, &stored, NULL),
	    KF_OK);
	ck_assert_int_eq(stored, 0);
	ck_assert_uint_eq(n, 1);
	modelmap_free(a, n);
	/* Deleting what is not there is fine. */
	ck_assert_int_eq(modelmap_del(st, NULL), KF_OK);
}
END_TEST

START_TEST(modelmap_corrupt_record_leaves_config)
{
	struct store_txn	*txn;
	struct model_alias	*a = NULL;
	json_object		*v = json_object_new_array();
	size_t			 n = 0;
	int			 stored = -1;

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(settings_txn_put(txn, SETTING_MODEL_MAP, v, NULL),
	    KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	json_object_put(v);
	ck_assert_int_eq(modelmap_effective(st, cfg, &a, &n, &stored, NULL),
	    KF_OK);
	ck_assert_int_eq(stored, 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(a[0].target, "claude-haiku-4.5");
	modelmap_free(a, n);
}
END_TEST

/* In a child with its own store handle, as another responder has. */
static void
child_put(const char *pattern, const char *target)
{
	struct store		*child = NULL;
	struct model_alias	 one;
	pid_t			 pid;
	int			 status, rc;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		one.pattern = (char *)pattern;
		one.target = (char *)target;
		rc = store_open(&child, test_dir, NULL) == KF_OK &&
		    (target != NULL ? modelmap_put(child, &one, 1, NULL) :
		    modelmap_del(child, NULL)) == KF_OK;
		store_close(child);
		_exit(rc ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(modelmap_sync_follows_other_processes)
{
	struct store_txn	*txn;
	json_object		*v;

	modelmap_install(st, cfg);
	ck_assert_str_eq(resolved("team-coder"), "claude-haiku-4.5");
	child_put("team-*", "claude-opus-4.6");
	/* Not yet: this process has not begun a request since. */
	ck_assert_str_eq(resolved("team-coder"), "claude-haiku-4.5");
	modelmap_sync();
	ck_assert_str_eq(resolved("team-coder"), "claude-opus-4.6");
	modelmap_sync();
	ck_assert_str_eq(resolved("team-coder"), "claude-opus-4.6");

	/*
	 * A record changed without the counter is not read: sync costs no
	 * store transaction while nothing changed.
	 */
	v = json_object_new_object();
	json_object_object_add(v, "team-*", json_str("claude-sonnet-4"));
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(settings_txn_put(txn, SETTING_MODEL_MAP, v, NULL),
	    KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	json_object_put(v);
	modelmap_sync();
	ck_assert_str_eq(resolved("team-coder"), "claude-opus-4.6");

	child_put("team-*", NULL);
	modelmap_sync();
	ck_assert_str_eq(resolved("team-coder"), "claude-haiku-4.5");

	/* A process started after a change loads it at once. */
	child_put("team-*", "claude-sonnet-4.6");
	modelmap_install(st, cfg);
	ck_assert_str_eq(resolved("team-coder"), "claude-sonnet-4.6");
}
END_TEST

/* Writes n whole maps of 16 entries, all to target. */
static int
write_maps(const char *target, int n)
{
	struct store		*child = NULL;
	struct model_alias	 map[16];
	char			 names[16][16];
	int			 i, k, ok = 1;

	if (store_open(&child, test_dir, NULL) != KF_OK)
		return 0;
	for (k = 0; k < 16; k++) {
		snprintf(names[k], sizeof(names[k]), "m%d-*", k);
		map[k].pattern = names[k];
		map[k].target = (char *)target;
	}
	for (i = 0; i < n && ok; i++)
		ok = modelmap_put(child, map, 16, NULL) == KF_OK;
	store_close(child);
	return ok;
}

START_TEST(modelmap_concurrent_writers_leave_one_whole_map)
{
	struct model_alias	*a = NULL;
	pid_t			 pid[2];
	size_t			 n = 0, i;
	int			 k, status, stored;

	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		ck_assert_int_ne(pid[k], -1);
		if (pid[k] == 0)
			_exit(write_maps(k == 0 ? "claude-haiku-4.5" :
			    "claude-opus-4.6", 40) ? 0 : 1);
	}
	for (k = 0; k < 2; k++) {
		ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(modelmap_effective(st, cfg, &a, &n, &stored, NULL),
	    KF_OK);
	ck_assert_int_eq(stored, 1);
	ck_assert_uint_eq(n, 16);
	for (i = 1; i < n; i++)
		ck_assert_str_eq(a[i].target, a[0].target);
	modelmap_free(a, n);
}
END_TEST

static Suite *
modelmap_suite(void)
{
	Suite	*s = suite_create("modelmap");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, modelmap_parse_rules);
	tcase_add_test(tc, modelmap_config_json_same_rules);
	tcase_add_test(tc, modelmap_stored_wins_until_deleted);
	tcase_add_test(tc, modelmap_corrupt_record_leaves_config);
	tcase_add_test(tc, modelmap_sync_follows_other_processes);
	tcase_add_test(tc, modelmap_concurrent_writers_leave_one_whole_map);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(modelmap_suite());
}
