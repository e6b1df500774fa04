/* test-metrics.c: unit tests for the shared, mmap'd Prometheus counters. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "metrics.h"
#include "testutil.h"

/*
 * Covers: a series created on first use and counted, other label values
 * apart, missing values as "none"; counts surviving close and reopen of
 * <dir>/metrics, which is 0600; four fork()ed processes adding to one
 * counter and one histogram while each also creates its own series,
 * summing exactly; a full table dropping new series (counted, rendered)
 * while existing ones keep counting; a foreign file (garbage of the right
 * size, the wrong size, mode 0644, a symlink) replaced and never trusted
 * or followed; label values escaped (\\ \" \n), non-ASCII shown as "?",
 * cut at METRICS_VALUE_MAX; a series whose key would not fit dropped
 * whole; more than METRICS_MAX_MODELS models folded
 * into "other"; histograms rendered as cumulative buckets with +Inf,
 * _sum and _count, and label-less counters shown as 0 before any use.
 * The series a thread remembers per family: what it counts is what a
 * thread that remembers nothing reads back, for values that run
 * together without their separators, NULL and "", values changed in
 * place and values too long to remember; and nothing is remembered
 * across two opens.
 */

static char	*dir;

static void
setup(void)
{
	dir = tu_tmpdir();
}

static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

static struct metrics *
open_ok(void)
{
	struct metrics	*m = NULL;
	char		*why = NULL;

	ck_assert_int_eq(metrics_open(&m, dir, &why), KF_OK);
	ck_assert_ptr_null(why);
	return m;
}

static char *
render(struct metrics *m)
{
	struct buf	out = BUF_INIT;

	metrics_render(m, &out);
	return buf_detach(&out);
}

static char *
file_path(void)
{
	char	*p;

	if (asprintf(&p, "%s/%s", dir, METRICS_FILE) == -1)
		abort();
	return p;
}

START_TEST(series_created_and_counted)
{
	struct metrics		*m = open_ok();
	const char *const	 a[] = { "1", "anthropic", "ci", "claude-x",
	    "2xx" };
	const char *const	 b[] = { "2", "anthropic", "ci", "claude-x",
	    "2xx" };
	const char *const	 none[] = { NULL, "other", NULL, "", "4xx" };
	const char *const	 none2[] = { "none", "other", "none", "none",
	    "4xx" };
	char			*text;

	ck_assert_uint_eq(metrics_get(m, METRIC_REQUESTS, a), 0);
	metrics_add(m, METRIC_REQUESTS, a, 1);
	metrics_add(m, METRIC_REQUESTS, a, 2);
	metrics_add(m, METRIC_REQUESTS, b, 5);
	metrics_add(m, METRIC_REQUESTS, none, 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_REQUESTS, a), 3);
	ck_assert_uint_eq(metrics_get(m, METRIC_REQUESTS, b), 5);
	ck_assert_uint_eq(metrics_get(m, METRIC_REQUESTS, none2), 1);
	/* A histogram family is not a counter: nothing happens. */
	metrics_add(m, METRIC_REQUEST_SECONDS, a, 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_REQUEST_SECONDS, a), 0);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text, "kiro_fcgi_requests_total{account="
	    "\"1\",api=\"anthropic\",key=\"ci\",model=\"claude-x\","
	    "status_class=\"2xx\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "kiro_fcgi_requests_total{account="
	    "\"none\",api=\"other\",key=\"none\",model=\"none\","
	    "status_class=\"4xx\"} 1\n"));
	free(text);
	/* NULL is fine everywhere. */
	metrics_add(NULL, METRIC_REQUESTS, a, 1);
	ck_assert_uint_eq(metrics_get(NULL, METRIC_REQUESTS, a), 0);
	metrics_close(m);
	metrics_close(NULL);
}
END_TEST

START_TEST(counts_survive_reopen)
{
	struct metrics		*m = open_ok();
	const char *const	 v[] = { "3", "gemini" };
	struct stat		 st;
	char			*path = file_path();

	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, v, 7);
	metrics_add(m, METRIC_FAILOVERS, NULL, 2);
	metrics_close(m);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	m = open_ok();
	ck_assert_uint_eq(metrics_get(m, METRIC_UPSTREAM_ATTEMPTS, v), 7);
	ck_assert_uint_eq(metrics_get(m, METRIC_FAILOVERS, NULL), 2);
	metrics_close(m);
	free(path);
}
END_TEST

#define CHILDREN	4
#define PER_CHILD	20000

START_TEST(forked_processes_sum_exactly)
{
	struct metrics		*m = open_ok();
	const char *const	 shared[] = { "1", "openai_chat" };
	const char *const	 hist[] = { "openai_chat", "m" };
	char			 own[32];
	const char		*mine[2];
	pid_t			 pids[CHILDREN];
	int			 i, j, status;

	for (i = 0; i < CHILDREN; i++) {
		ck_assert_int_ne(pids[i] = fork(), -1);
		if (pids[i] != 0)
			continue;
		/* The child maps the file anew, as a responder would. */
		metrics_close(m);
		m = open_ok();
		snprintf(own, sizeof(own), "child-%d", i);
		mine[0] = own;
		mine[1] = "gemini";
		for (j = 0; j < PER_CHILD; j++) {
			metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, shared, 1);
			metrics_observe(m, METRIC_REQUEST_SECONDS, hist,
			    (uint64_t)(j % 3) * 1000000);
			if (j % 100 == 0) {
				snprintf(own, sizeof(own), "c%d-%d", i,
				    j / 100);
				metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, mine,
				    1);
			}
		}
		_exit(0);
	}
	for (i = 0; i < CHILDREN; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_uint_eq(metrics_get(m, METRIC_UPSTREAM_ATTEMPTS, shared),
	    CHILDREN * PER_CHILD);
	ck_assert_uint_eq(metrics_get(m, METRIC_REQUEST_SECONDS, hist),
	    CHILDREN * PER_CHILD);
	for (i = 0; i < CHILDREN; i++)
		for (j = 0; j < PER_CHILD / 100; j++) {
			snprintf(own, sizeof(own), "c%d-%d", i, j);
			mine[0] = own;
			mine[1] = "gemini";
			ck_assert_uint_eq(metrics_get(m,
			    METRIC_UPSTREAM_ATTEMPTS, mine), 1);
		}
	ck_assert_uint_eq(metrics_dropped(m), 0);
	metrics_close(m);
}
END_TEST

START_TEST(full_table_drops_new_series)
{
	struct metrics		*m = open_ok();
	const char *const	 first[] = { "first", "anthropic" };
	const char		*v[2];
	char			 id[32], *text;
	int			 i, created = 0;

	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, first, 1);
	v[1] = "anthropic";
	for (i = 0; i < METRICS_SLOTS; i++) {
		snprintf(id, sizeof(id), "%d", i);
		v[0] = id;
		metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, v, 1);
		created += metrics_get(m, METRIC_UPSTREAM_ATTEMPTS, v) == 1;
	}
	ck_assert_int_eq(created + 1, METRICS_SLOTS * METRICS_FILL_PERCENT /
	    100);
	ck_assert_uint_eq(metrics_dropped(m), METRICS_SLOTS - created);
	/* Series that exist still count. */
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, first, 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_UPSTREAM_ATTEMPTS, first), 2);
	text = render(m);
	snprintf(id, sizeof(id), "dropped_total %d\n", METRICS_SLOTS - created);
	ck_assert_ptr_nonnull(strstr(text, id));
	free(text);
	metrics_close(m);
}
END_TEST

/* Opens, counts 5, closes; the file is then spoiled by the caller. */
static void
count_five(void)
{
	struct metrics	*m = open_ok();

	metrics_add(m, METRIC_FAILOVERS, NULL, 5);
	metrics_close(m);
}

static void
assert_fresh(void)
{
	struct metrics	*m = open_ok();
	struct stat	 st;
	char		*path = file_path();

	ck_assert_uint_eq(metrics_get(m, METRIC_FAILOVERS, NULL), 0);
	metrics_add(m, METRIC_FAILOVERS, NULL, 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_FAILOVERS, NULL), 1);
	metrics_close(m);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	free(path);
}

START_TEST(foreign_files_replaced)
{
	char		*path = file_path(), *target, junk[4096];
	struct stat	 st;
	int		 fd;

	/* Garbage of the right size. */
	count_five();
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 0), sizeof(junk));
	close(fd);
	assert_fresh();
	/* The wrong size. */
	count_five();
	ck_assert_int_eq(truncate(path, 12345), 0);
	assert_fresh();
	/* Readable by others: not ours to trust. */
	count_five();
	ck_assert_int_eq(chmod(path, 0644), 0);
	assert_fresh();
	/* A symlink is replaced, its target left alone. */
	if (asprintf(&target, "%s/elsewhere", dir) == -1)
		abort();
	tu_write_file(target, "do not touch");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	assert_fresh();
	free(path);
	path = tu_read_file(target);
	ck_assert_str_eq(path, "do not touch");
	free(path);
	free(target);
}
END_TEST

START_TEST(labels_escaped_and_capped)
{
	struct metrics		*m = open_ok();
	const char *const	 odd[] = { "a\"b\\c\nd", "caf\xc3\xa9" };
	const char		*v[2];
	char			 long_value[200], *text, want[128];

	metrics_add(m, METRIC_TOKEN_REFRESHES, odd, 1);
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	v[0] = long_value;
	v[1] = "ok";
	metrics_add(m, METRIC_TOKEN_REFRESHES, v, 1);
	/* A quote at the cut is not split from its backslash. */
	memset(long_value, 'y', 63);
	long_value[63] = '"';
	long_value[64] = '\0';
	metrics_add(m, METRIC_TOKEN_REFRESHES, v, 1);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text, "kiro_fcgi_token_refreshes_total{"
	    "account=\"a\\\"b\\\\c\\nd\",result=\"caf??\"} 1\n"));
	memset(want, 'x', METRICS_VALUE_MAX);
	want[METRICS_VALUE_MAX] = '\0';
	ck_assert_ptr_nonnull(strstr(text, want));
	memset(want, 'x', METRICS_VALUE_MAX + 1);
	want[METRICS_VALUE_MAX + 1] = '\0';
	ck_assert_ptr_null(strstr(text, want));
	memset(want, 'y', 63);
	snprintf(want + 63, sizeof(want) - 63, "\",result=\"ok\"} 1\n");
	ck_assert_ptr_nonnull(strstr(text, want));
	free(text);
	metrics_close(m);
}
END_TEST

START_TEST(too_long_key_dropped_not_cut)
{
	struct metrics	*m = open_ok();
	const char	*v[5];
	char		 big[METRICS_VALUE_MAX + 1], *text;

	memset(big, 'z', METRICS_VALUE_MAX);
	big[METRICS_VALUE_MAX] = '\0';
	v[0] = v[1] = v[2] = v[3] = v[4] = big;
	metrics_add(m, METRIC_REQUESTS, v, 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_REQUESTS, v), 0);
	text = render(m);
	ck_assert_ptr_null(strstr(text, "zzzz"));
	free(text);
	/* Two such values fit. */
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, v, 4);
	ck_assert_uint_eq(metrics_get(m, METRIC_UPSTREAM_ATTEMPTS, v), 4);
	metrics_close(m);
}
END_TEST

START_TEST(models_beyond_cap_are_other)
{
	struct metrics		*m = open_ok();
	const char		*v[4];
	const char *const	 other[] = { "1", "gemini", "ci", "other" };
	char			 model[32];
	int			 i;

	v[0] = "1";
	v[1] = "gemini";
	v[2] = "ci";
	v[3] = model;
	for (i = 0; i < METRICS_MAX_MODELS + 10; i++) {
		snprintf(model, sizeof(model), "model-%d", i);
		metrics_add(m, METRIC_INPUT_TOKENS, v, 100);
	}
	/* Known ones keep their name. */
	snprintf(model, sizeof(model), "model-0");
	metrics_add(m, METRIC_INPUT_TOKENS, v, 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_INPUT_TOKENS, v), 101);
	snprintf(model, sizeof(model), "model-%d", METRICS_MAX_MODELS - 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_INPUT_TOKENS, v), 100);
	ck_assert_uint_eq(metrics_get(m, METRIC_INPUT_TOKENS, other), 1000);
	metrics_close(m);
}
END_TEST

struct fresh_get {
	struct metrics		*m;
	enum metric		 id;
	const char *const	*values;
	uint64_t		 got;
};

static void *
fresh_get_thread(void *arg)
{
	struct fresh_get	*g = arg;

	g->got = metrics_get(g->m, g->id, g->values);
	return NULL;
}

/* metrics_get in a new thread, which remembers no series. */
static uint64_t
fresh_get(struct metrics *m, enum metric id, const char *const *values)
{
	struct fresh_get	g = { m, id, values, 0 };
	pthread_t		t;

	ck_assert_int_eq(pthread_create(&t, NULL, fresh_get_thread, &g), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	return g.got;
}

START_TEST(remembered_series_follow_the_values)
{
	struct metrics		*m = open_ok();
	const char *const	 a_bc[] = { "a", "bc" };
	const char *const	 ab_c[] = { "ab", "c" };
	const char *const	 null_x[] = { NULL, "x" };
	const char *const	 empty_x[] = { "", "x" };
	const char *const	 none_x[] = { "none", "x" };
	char			 changing[8] = "k1";
	const char *const	 c[] = { "1", "api", changing, "m", "2xx" };
	const char		*l[2];
	char			 long1[200], long2[200];
	int			 i;

	for (i = 0; i < 3; i++) {
		metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, a_bc, 1);
		metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, ab_c, 10);
		metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, null_x, 100);
		metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, empty_x, 1000);
	}
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, a_bc), 3);
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, ab_c), 30);
	/* NULL and "" are both "none". */
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, none_x),
	    3300);

	metrics_add(m, METRIC_REQUESTS, c, 1);
	metrics_add(m, METRIC_REQUESTS, c, 1);
	changing[1] = '2';
	metrics_add(m, METRIC_REQUESTS, c, 5);
	ck_assert_uint_eq(fresh_get(m, METRIC_REQUESTS, c), 5);
	changing[1] = '1';
	ck_assert_uint_eq(fresh_get(m, METRIC_REQUESTS, c), 2);

	/* Over what a thread remembers: counted all the same. */
	memset(long1, 'p', sizeof(long1) - 1);
	long1[sizeof(long1) - 1] = '\0';
	memcpy(long2, long1, sizeof(long2));
	long2[0] = 'q';
	l[0] = long1;
	l[1] = long1;
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, l, 1);
	l[1] = long2;
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, l, 2);
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, l, 2);
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, l), 4);
	l[1] = long1;
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, l), 1);
	metrics_close(m);
}
END_TEST

/* A series remembered in one open is found again in the next's file. */
START_TEST(remembered_series_end_with_their_open)
{
	struct metrics		*m, *m2;
	const char *const	 v[] = { "1", "api" };
	char			*other, *why = NULL;

	if (asprintf(&other, "%s/other", dir) == -1)
		abort();
	ck_assert_int_eq(mkdir(other, 0700), 0);
	m = open_ok();
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, v, 1);
	metrics_close(m);
	ck_assert_int_eq(metrics_open(&m2, other, &why), KF_OK);
	metrics_add(m2, METRIC_UPSTREAM_ATTEMPTS, v, 2);
	ck_assert_uint_eq(fresh_get(m2, METRIC_UPSTREAM_ATTEMPTS, v), 2);
	m = open_ok();
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, v), 1);
	metrics_add(m, METRIC_UPSTREAM_ATTEMPTS, v, 4);
	ck_assert_uint_eq(fresh_get(m, METRIC_UPSTREAM_ATTEMPTS, v), 5);
	ck_assert_uint_eq(fresh_get(m2, METRIC_UPSTREAM_ATTEMPTS, v), 2);
	metrics_close(m);
	metrics_close(m2);
	free(other);
}
END_TEST

START_TEST(keys_beyond_cap_are_other)
{
	struct metrics		*m = open_ok();
	const char		*v[4];
	const char *const	 other[] = { "1", "gemini", "other", "m" };
	char			 key[32];
	int			 i;

	v[0] = "1";
	v[1] = "gemini";
	v[2] = key;
	v[3] = "m";
	for (i = 0; i < METRICS_MAX_KEYS + 5; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		metrics_add(m, METRIC_OUTPUT_TOKENS, v, 10);
	}
	snprintf(key, sizeof(key), "key-%d", METRICS_MAX_KEYS - 1);
	ck_assert_uint_eq(metrics_get(m, METRIC_OUTPUT_TOKENS, v), 10);
	ck_assert_uint_eq(metrics_get(m, METRIC_OUTPUT_TOKENS, other), 50);
	/* The model cap is apart: one model, many keys. */
	v[2] = "key-0";
	v[3] = "m";
	ck_assert_uint_eq(metrics_get(m, METRIC_OUTPUT_TOKENS, v), 10);
	metrics_close(m);
}
END_TEST

START_TEST(histograms_and_empty_counters_rendered)
{
	struct metrics		*m = open_ok();
	const char *const	 v[] = { "anthropic", "claude" };
	char			*text;

	text = render(m);
	ck_assert_ptr_nonnull(strstr(text,
	    "# HELP kiro_fcgi_failovers_total "));
	ck_assert_ptr_nonnull(strstr(text,
	    "# TYPE kiro_fcgi_failovers_total counter\n"
	    "kiro_fcgi_failovers_total 0\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "# TYPE kiro_fcgi_request_duration_seconds histogram\n"));
	free(text);
	metrics_observe(m, METRIC_REQUEST_SECONDS, v, 3000);	/* 0.003 */
	metrics_observe(m, METRIC_REQUEST_SECONDS, v, 700000);	/* 0.7 */
	metrics_observe(m, METRIC_REQUEST_SECONDS, v, 1000000);	/* 1, le */
	metrics_observe(m, METRIC_REQUEST_SECONDS, v, 900000000); /* 900 */
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_bucket{api=\"anthropic\","
	    "model=\"claude\",le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_bucket{api=\"anthropic\","
	    "model=\"claude\",le=\"0.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_bucket{api=\"anthropic\","
	    "model=\"claude\",le=\"1\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_bucket{api=\"anthropic\","
	    "model=\"claude\",le=\"300\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_bucket{api=\"anthropic\","
	    "model=\"claude\",le=\"+Inf\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_sum{api=\"anthropic\","
	    "model=\"claude\"} 901.703000\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kiro_fcgi_request_duration_seconds_count{api=\"anthropic\","
	    "model=\"claude\"} 4\n"));
	free(text);
	metrics_close(m);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, series_created_and_counted);
	tcase_add_test(tc, counts_survive_reopen);
	tcase_add_test(tc, forked_processes_sum_exactly);
	tcase_add_test(tc, full_table_drops_new_series);
	tcase_add_test(tc, foreign_files_replaced);
	tcase_add_test(tc, labels_escaped_and_capped);
	tcase_add_test(tc, keys_beyond_cap_are_other);
	tcase_add_test(tc, too_long_key_dropped_not_cut);
	tcase_add_test(tc, models_beyond_cap_are_other);
	tcase_add_test(tc, histograms_and_empty_counters_rendered);
	tcase_add_test(tc, remembered_series_follow_the_values);
	tcase_add_test(tc, remembered_series_end_with_their_open);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(suite());
}
