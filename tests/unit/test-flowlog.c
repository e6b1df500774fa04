/* test-flowlog.c: unit tests for the request log: records, reads, bounds. */
#include "autoconfig.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "fileio.h"
#include "flowlog.h"
#include "json.h"
#include "testutil.h"

/*
 * Covers: a record written and read back with every field (bytes that
 * are not UTF-8 replaced, not losing the record), the directory
 * 0700 and the files 0600; a disabled log writes nothing; each filter
 * (status, class, errors, API, client or Kiro model, key, account, text
 * in the error in any case, time range) and the parsing of their query
 * values, bad ones refused with a cause; paging newest first with "more";
 * rotation by size into numbered segments and pruning by count and by
 * age, the newest records kept; the active segment kept open between
 * appends but never written once another process rotated it (renamed and
 * made 0400) or removed it; several fork()ed processes appending and
 * rotating at once with no torn or lost line; bodies absent by default,
 * kept when asked, cut to their cap, secret fields redacted at any depth;
 * CSV quoting and the spreadsheet-formula guard; statistics per group
 * (requests, errors by type, tokens, p50/p95) and per hour.
 */

static struct flowlog_opts
opts(void)
{
	struct flowlog_opts	o;

	memset(&o, 0, sizeof(o));
	o.enabled = 1;
	o.max_records = 100000;
	o.max_age_days = 30;
	o.body_max_bytes = 16384;
	o.segment_bytes = FLOWLOG_SEGMENT_BYTES;
	return o;
}

static struct flowrec
rec(int64_t t, const char *id)
{
	struct flowrec	r;

	memset(&r, 0, sizeof(r));
	r.t_ms = t;
	r.id = id;
	r.key = "default";
	r.api = "anthropic";
	r.method = "POST";
	r.route = "/v1/messages";
	r.model = "claude-sonnet-4";
	r.kiro_model = "claude-sonnet-4";
	r.status = 200;
	r.attempts = 1;
	r.latency_ms = 100;
	r.ttfb_ms = 20;
	r.input_tokens = 10;
	r.output_tokens = 5;
	r.request_bytes = 300;
	r.answer_bytes = 700;
	return r;
}

static void
append(const char *dir, const struct flowlog_opts *o, const struct flowrec *r)
{
	char	*why = NULL;

	ck_assert_msg(flowlog_append(dir, o, r, &why) == KF_OK, "%s", why);
}

struct got {
	json_object	*arr;
};

static int
collect(void *arg, json_object *r)
{
	struct got	*g = arg;

	json_object_array_add(g->arr, json_object_get(r));
	return 0;
}

/* The ids that match f, newest first, joined by ",". */
static char *
ids(const char *dir, const struct flow_filter *f, size_t offset, size_t limit,
    int *more)
{
	struct got	 g;
	struct buf	 b = BUF_INIT;
	const char	*id;
	char		*why = NULL;
	size_t		 i;

	g.arr = json_object_new_array();
	ck_assert_msg(flowlog_scan(dir, f, offset, limit, collect, &g, more,
	    &why) == KF_OK, "%s", why);
	for (i = 0; i < json_object_array_length(g.arr); i++) {
		ck_assert_int_eq(json_get_str(json_object_array_get_idx(g.arr,
		    i), "id", &id), 1);
		buf_printf(&b, "%s%s", i > 0 ? "," : "", id);
	}
	json_object_put(g.arr);
	buf_cstr(&b);
	return buf_detach(&b);
}

static char *
dir_of(char *base)
{
	char	*d;

	if (asprintf(&d, "%s/flows", base) == -1)
		abort();
	return d;
}

START_TEST(flowlog_round_trip)
{
	struct flowlog_opts	 o = opts();
	struct flowrec		 r = rec(1700000000123LL, "a1");
	struct flow_filter	 f;
	struct got		 g;
	struct stat		 st;
	char			*base = tu_tmpdir(), *dir = dir_of(base);
	char			*why = NULL;
	char			 path[PATH_MAX];
	json_object		*x;
	const char		*s;
	int64_t			 n;
	int			 b;

	r.stream = 1;
	r.account_id = 7;
	r.status = 429;
	r.error_type = "rate_limited";
	r.error = "account 7 is \"rate\" limited\n";
	append(dir, &o, &r);
	memset(&f, 0, sizeof(f));
	g.arr = json_object_new_array();
	ck_assert_msg(flowlog_scan(dir, &f, 0, 10, collect, &g, NULL, &why) ==
	    KF_OK, "%s", why);
	ck_assert_int_eq(json_object_array_length(g.arr), 1);
	x = json_object_array_get_idx(g.arr, 0);
	ck_assert_int_eq(json_get_int(x, "t", &n), 1);
	ck_assert_int_eq(n, 1700000000123LL);
	ck_assert_int_eq(json_get_str(x, "key", &s), 1);
	ck_assert_str_eq(s, "default");
	ck_assert_int_eq(json_get_str(x, "api", &s), 1);
	ck_assert_str_eq(s, "anthropic");
	ck_assert_int_eq(json_get_str(x, "route", &s), 1);
	ck_assert_str_eq(s, "/v1/messages");
	ck_assert_int_eq(json_get_str(x, "kiroModel", &s), 1);
	ck_assert_str_eq(s, "claude-sonnet-4");
	ck_assert_int_eq(json_get_bool(x, "stream", &b), 1);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(json_get_int(x, "account", &n), 1);
	ck_assert_int_eq(n, 7);
	ck_assert_int_eq(json_get_int(x, "status", &n), 1);
	ck_assert_int_eq(n, 429);
	ck_assert_int_eq(json_get_str(x, "errorType", &s), 1);
	ck_assert_str_eq(s, "rate_limited");
	ck_assert_int_eq(json_get_str(x, "error", &s), 1);
	ck_assert_str_eq(s, "account 7 is \"rate\" limited\n");
	ck_assert_int_eq(json_get_int(x, "attempts", &n), 1);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(json_get_int(x, "latencyMs", &n), 1);
	ck_assert_int_eq(n, 100);
	ck_assert_int_eq(json_get_int(x, "ttfbMs", &n), 1);
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(json_get_int(x, "inputTokens", &n), 1);
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(json_get_int(x, "outputTokens", &n), 1);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(json_get_int(x, "requestBytes", &n), 1);
	ck_assert_int_eq(n, 300);
	ck_assert_int_eq(json_get_int(x, "answerBytes", &n), 1);
	ck_assert_int_eq(n, 700);
	ck_assert_int_eq(json_get_str(x, "requestBody", &s), 0);
	json_object_put(g.arr);

	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, FLOWLOG_ACTIVE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* Off: nothing is written. */
	o.enabled = 0;
	append(dir, &o, &r);
	free(ids(dir, &f, 0, 10, NULL));
	ck_assert_int_eq(stat(path, &st), 0);
	{
		struct buf	raw = BUF_INIT;
		size_t		lines = 0, i;

		ck_assert(fileio_read(path, 1 << 20, &raw, &why) == KF_OK);
		for (i = 0; i < raw.len; i++)
			lines += raw.ptr[i] == '\n';
		ck_assert_uint_eq(lines, 1);
		buf_free(&raw);
	}
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

/* Bytes that are not UTF-8 become U+FFFD: the record is still read back. */
/*
 * Text is written as a JSON string by a copy when it is printable ASCII
 * with nothing to escape, else by the escaping writer: both must give
 * what the escaping writer gives, for every byte next to the boundary.
 */
START_TEST(flowlog_plain_text_written_as_escaped)
{
	static const char *const texts[] = { "", "claude-sonnet-4",
	    "/v1/messages", " !#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~",
	    "a\"b", "a\\b", "a\x1f" "b", "a\x7f", "\x01", "tab\there",
	    "caf\xc3\xa9", "\xe2\x82\xac end", "\xf0\x9f\x98\x80", NULL };
	struct flowlog_opts	 o = opts();
	struct flowrec		 r = rec(1000, "p1");
	struct buf		 line = BUF_INIT, want = BUF_INIT;
	const char		*from, *to;
	size_t			 i;

	for (i = 0; texts[i] != NULL; i++) {
		r.error = texts[i];
		buf_reset(&line);
		buf_reset(&want);
		flowlog_format(&o, &r, &line);
		buf_json_str(&want, texts[i], strlen(texts[i]));
		from = strstr(buf_cstr(&line), ",\"error\":");
		to = strstr(buf_cstr(&line), ",\"attempts\":");
		ck_assert_ptr_nonnull(from);
		ck_assert_ptr_nonnull(to);
		from += strlen(",\"error\":");
		ck_assert_uint_eq((size_t)(to - from), want.len);
		ck_assert_msg(memcmp(from, want.ptr, want.len) == 0,
		    "text %zu: %.*s, not %s", i, (int)(to - from), from,
		    want.ptr);
	}
	/* Every ASCII byte, between letters. */
	for (i = 1; i < 0x80; i++) {
		char	text[4] = { 'a', (char)i, 'b', '\0' };

		r.error = text;
		buf_reset(&line);
		buf_reset(&want);
		flowlog_format(&o, &r, &line);
		buf_json_str(&want, text, 3);
		from = strstr(buf_cstr(&line), ",\"error\":");
		to = strstr(buf_cstr(&line), ",\"attempts\":");
		ck_assert_ptr_nonnull(from);
		ck_assert_ptr_nonnull(to);
		from += strlen(",\"error\":");
		ck_assert_msg((size_t)(to - from) == want.len &&
		    memcmp(from, want.ptr, want.len) == 0,
		    "byte 0x%02zx: %.*s, not %s", i, (int)(to - from), from,
		    want.ptr);
	}
	buf_free(&line);
	buf_free(&want);
}
END_TEST

START_TEST(flowlog_keeps_records_with_bad_utf8)
{
	struct flowlog_opts	 o = opts();
	struct flowrec		 r = rec(1000, "u1");
	struct flow_filter	 f;
	struct got		 g;
	char			*base = tu_tmpdir(), *dir = dir_of(base);
	char			*why = NULL;
	const char		*s;

	r.error = "bad \xff\xc3 byte, ok \xc3\xa9, surrogate \xed\xa0\x80";
	r.model = "m\xe2\x82";
	append(dir, &o, &r);
	memset(&f, 0, sizeof(f));
	g.arr = json_object_new_array();
	ck_assert(flowlog_scan(dir, &f, 0, 10, collect, &g, NULL, &why) ==
	    KF_OK);
	ck_assert_int_eq(json_object_array_length(g.arr), 1);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(g.arr, 0),
	    "error", &s), 1);
	ck_assert_str_eq(s, "bad \xef\xbf\xbd\xef\xbf\xbd byte, ok \xc3\xa9, "
	    "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_object_put(g.arr);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

/* A missing directory is an empty log, not an error. */
START_TEST(flowlog_missing_dir_is_empty)
{
	struct flow_filter	 f;
	char			*got;
	int			 more = 7;

	memset(&f, 0, sizeof(f));
	got = ids("/nonexistent/kiro/flows", &f, 0, 10, &more);
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(more, 0);
	free(got);
}
END_TEST

static void
add_mix(const char *dir)
{
	struct flowlog_opts	o = opts();
	struct flowrec		r;

	r = rec(1000, "ok1");
	r.account_id = 1;
	append(dir, &o, &r);
	r = rec(2000, "chat");
	r.api = "openai-chat";
	r.model = "gpt-4o";
	r.kiro_model = "claude-sonnet-4.5";
	r.account_id = 2;
	append(dir, &o, &r);
	r = rec(3000, "bad");
	r.status = 400;
	r.error_type = "invalid_request";
	r.error = "messages: Required";
	r.key = NULL;
	append(dir, &o, &r);
	r = rec(4000, "gem");
	r.api = "gemini";
	r.status = 502;
	r.error_type = "upstream";
	r.error = "Kiro answered 500: Internal Error";
	r.account_id = 2;
	append(dir, &o, &r);
	r = rec(5000, "late");
	r.error_type = "timeout";	/* in-stream, after a 200 */
	r.error = "Stream idle";
	append(dir, &o, &r);
}

struct kv {
	const char	*const *pairs;
};

static const char *
kv_get(void *arg, const char *name)
{
	const struct kv	*kv = arg;
	size_t		 i;

	for (i = 0; kv->pairs[i] != NULL; i += 2)
		if (strcmp(kv->pairs[i], name) == 0)
			return kv->pairs[i + 1];
	return NULL;
}

/* The ids for a query given as name, value, ..., NULL. */
static char *
query(const char *dir, const char *const *pairs)
{
	struct flow_filter	 f;
	struct kv		 kv = { pairs };
	char			*why = NULL;

	ck_assert_msg(flowlog_filter_parse(&f, kv_get, &kv, &why) == KF_OK,
	    "%s", why);
	return ids(dir, &f, 0, 100, NULL);
}

#define Q(want, ...) do {						\
	static const char *const pairs_[] = { __VA_ARGS__, NULL };	\
	char	*got_ = query(dir, pairs_);				\
	ck_assert_str_eq(got_, want);					\
	free(got_);							\
} while (0)

START_TEST(flowlog_filters)
{
	char	*base = tu_tmpdir(), *dir = dir_of(base);

	add_mix(dir);
	Q("late,gem,bad,chat,ok1", "none", "x");
	Q("late,chat,ok1", "status", "200");
	Q("bad", "status", "4xx");
	Q("gem", "status", "5xx");
	Q("late,gem,bad", "status", "error");
	Q("chat", "api", "openai-chat");
	Q("gem", "api", "gemini");
	Q("chat", "model", "gpt-4o");
	Q("chat", "model", "claude-sonnet-4.5");	/* the Kiro model */
	Q("late,gem,chat,ok1", "key", "default");
	Q("gem,chat", "account", "2");
	Q("gem", "q", "internal ERROR");
	Q("late", "q", "idle");
	Q("", "q", "nowhere");
	Q("bad,chat", "from", "2000", "to", "4000");
	Q("bad,chat,ok1", "to", "1970-01-01T00:00:04Z");	/* before */
	Q("gem", "account", "2", "api", "gemini", "none", "x");
	Q("chat", "id", "chat");
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

START_TEST(flowlog_filter_refuses_bad_values)
{
	static const char *const bad[][2] = {
		{ "status", "abc" }, { "status", "99" }, { "status", "6xx" },
		{ "account", "0" }, { "account", "x1" },
		{ "from", "yesterday" },
		{ "to", "-5" },
	};
	struct flow_filter	 f;
	const char		*pairs[3];
	struct kv		 kv = { pairs };
	char			*why;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pairs[0] = bad[i][0];
		pairs[1] = bad[i][1];
		pairs[2] = NULL;
		why = NULL;
		ck_assert_msg(flowlog_filter_parse(&f, kv_get, &kv, &why) ==
		    KF_EINVAL, "%s=%s", bad[i][0], bad[i][1]);
		ck_assert_ptr_nonnull(strstr(why, bad[i][0]));
		free(why);
	}
}
END_TEST

START_TEST(flowlog_paging_newest_first)
{
	struct flowlog_opts	 o = opts();
	struct flow_filter	 f;
	struct flowrec		 r;
	char			*base = tu_tmpdir(), *dir = dir_of(base), *got;
	char			 id[16];
	int			 i, more;

	for (i = 1; i <= 25; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		r = rec(1000 * i, id);
		append(dir, &o, &r);
	}
	memset(&f, 0, sizeof(f));
	got = ids(dir, &f, 0, 3, &more);
	ck_assert_str_eq(got, "r25,r24,r23");
	ck_assert_int_eq(more, 1);
	free(got);
	got = ids(dir, &f, 10, 10, &more);
	ck_assert_str_eq(got, "r15,r14,r13,r12,r11,r10,r9,r8,r7,r6");
	ck_assert_int_eq(more, 1);
	free(got);
	got = ids(dir, &f, 20, 10, &more);
	ck_assert_str_eq(got, "r5,r4,r3,r2,r1");
	ck_assert_int_eq(more, 0);
	free(got);
	got = ids(dir, &f, 25, 10, &more);
	ck_assert_str_eq(got, "");
	free(got);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

/* Lines in every file of dir, and the number of segment files. */
static long
count_all(const char *dir, int *n_segments)
{
	DIR		*d;
	struct dirent	*de;
	struct buf	 raw = BUF_INIT;
	char		 path[PATH_MAX], *why = NULL;
	long		 lines = 0;
	size_t		 i;

	*n_segments = 0;
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".jsonl") == NULL)
			continue;
		if (strncmp(de->d_name, "seg-", 4) == 0)
			(*n_segments)++;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf_reset(&raw);
		ck_assert(fileio_read(path, 64 << 20, &raw, &why) == KF_OK);
		for (i = 0; i < raw.len; i++)
			lines += raw.ptr[i] == '\n';
	}
	closedir(d);
	buf_free(&raw);
	return lines;
}

START_TEST(flowlog_rotation_keeps_count_bound)
{
	struct flowlog_opts	 o = opts();
	struct flow_filter	 f;
	struct flowrec		 r;
	struct stat		 st;
	char			*base = tu_tmpdir(), *dir = dir_of(base), *got;
	char			 id[16], old[PATH_MAX];
	long			 lines;
	int			 i, segs;

	o.segment_bytes = 4096;		/* about 12 records */
	o.max_records = 50;
	for (i = 1; i <= 1000; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		r = rec(flowlog_now_ms(), id);
		append(dir, &o, &r);
	}
	lines = count_all(dir, &segs);
	/* maxRecords, plus the segment that crosses it, plus the active one. */
	ck_assert_int_ge(lines, 50);
	ck_assert_int_le(lines, 50 + 2 * 14);
	ck_assert_int_ge(segs, 4);
	memset(&f, 0, sizeof(f));
	got = ids(dir, &f, 0, 3, NULL);
	ck_assert_str_eq(got, "r1000,r999,r998");
	free(got);

	/* Closed longer ago than maxAgeDays: gone at the next rotation. */
	snprintf(old, sizeof(old), "%s/seg-%013lld-5.jsonl", dir,
	    (long long)(flowlog_now_ms() - 31LL * 86400 * 1000));
	tu_write_file(old, "{\"t\":1,\"id\":\"old\"}\n");
	ck_assert_int_eq(stat(old, &st), 0);
	o.max_records = 100000;
	for (i = 0; i < 20; i++) {
		r = rec(flowlog_now_ms(), "more");
		append(dir, &o, &r);
	}
	ck_assert_int_eq(stat(old, &st), -1);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

/* The lines of one file (0 when it is missing). */
static long
file_lines(const char *path)
{
	struct buf	 raw = BUF_INIT;
	long		 lines = 0;
	size_t		 i;

	if (fileio_read(path, 1 << 20, &raw, NULL) != KF_OK)
		return 0;
	for (i = 0; i < raw.len; i++)
		lines += raw.ptr[i] == '\n';
	buf_free(&raw);
	return lines;
}

/*
 * The appender keeps the active segment open: what another process does
 * to it between two appends (a rotation renames it and makes it 0400; an
 * operator may delete it) must send the next record to a new active file.
 */
START_TEST(flowlog_reopens_after_foreign_rotation)
{
	struct flowlog_opts	 o = opts();
	struct flowrec		 r;
	char			*base = tu_tmpdir(), *dir = dir_of(base);
	char			 active[PATH_MAX], seg[PATH_MAX];

	snprintf(active, sizeof(active), "%s/active.jsonl", dir);
	snprintf(seg, sizeof(seg), "%s/seg-%013lld-1.jsonl", dir,
	    (long long)flowlog_now_ms());
	r = rec(flowlog_now_ms(), "first");
	append(dir, &o, &r);
	/* Another process's rotation, as rotate() does it. */
	ck_assert_int_eq(rename(active, seg), 0);
	ck_assert_int_eq(chmod(seg, 0400), 0);
	r = rec(flowlog_now_ms(), "second");
	append(dir, &o, &r);
	ck_assert_int_eq(file_lines(seg), 1);
	ck_assert_int_eq(file_lines(active), 1);
	/* Deleted under the appender: recreated. */
	ck_assert_int_eq(unlink(active), 0);
	r = rec(flowlog_now_ms(), "third");
	append(dir, &o, &r);
	ck_assert_int_eq(file_lines(active), 1);
	ck_assert_int_eq(file_lines(seg), 1);
	/* A new directory (another state dir) gets its own file. */
	tu_rmrf(base);
	ck_assert_int_eq(mkdir(base, 0700), 0);
	r = rec(flowlog_now_ms(), "fourth");
	append(dir, &o, &r);
	ck_assert_int_eq(file_lines(active), 1);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

#define WRITERS		4
#define PER_WRITER	400

/* Several processes append and rotate at once: every line whole, none lost. */
START_TEST(flowlog_concurrent_writers_no_torn_line)
{
	struct flowlog_opts	 o = opts();
	struct flow_filter	 f;
	struct flowrec		 r;
	struct got		 g;
	char			*base = tu_tmpdir(), *dir = dir_of(base);
	char			*why = NULL;
	char			 id[32], msg[900], seen[WRITERS][PER_WRITER];
	const char		*s;
	pid_t			 pids[WRITERS];
	int			 w, i, status, segs, k, wi, ii;
	long			 lines;

	o.segment_bytes = 64 * 1024;
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (w = 0; w < WRITERS; w++) {
		ck_assert_int_ne(pids[w] = fork(), -1);
		if (pids[w] != 0)
			continue;
		for (i = 0; i < PER_WRITER; i++) {
			snprintf(id, sizeof(id), "w%d-%d", w, i);
			r = rec(flowlog_now_ms(), id);
			msg[0] = (char)('a' + w);
			r.error = msg;
			r.error_type = "upstream";
			if (flowlog_append(dir, &o, &r, &why) != KF_OK) {
				fprintf(stderr, "writer %d: %s\n", w, why);
				_exit(1);
			}
		}
		/* valgrind follows the child: leave it nothing to report. */
		free(base);
		free(dir);
		_exit(0);
	}
	for (w = 0; w < WRITERS; w++) {
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	lines = count_all(dir, &segs);
	ck_assert_int_eq(lines, WRITERS * PER_WRITER);
	ck_assert_int_ge(segs, 10);
	/* Every line parses (a torn one would not) and names a record once. */
	memset(seen, 0, sizeof(seen));
	memset(&f, 0, sizeof(f));
	g.arr = json_object_new_array();
	ck_assert(flowlog_scan(dir, &f, 0, 100000, collect, &g, NULL, &why) ==
	    KF_OK);
	ck_assert_int_eq(json_object_array_length(g.arr), WRITERS * PER_WRITER);
	for (k = 0; k < WRITERS * PER_WRITER; k++) {
		json_object	*x = json_object_array_get_idx(g.arr, k);

		ck_assert_int_eq(json_get_str(x, "id", &s), 1);
		ck_assert_int_eq(sscanf(s, "w%d-%d", &wi, &ii), 2);
		ck_assert(wi >= 0 && wi < WRITERS && ii >= 0 &&
		    ii < PER_WRITER);
		ck_assert_int_eq(seen[wi][ii], 0);
		seen[wi][ii] = 1;
		ck_assert_int_eq(json_get_str(x, "error", &s), 1);
		ck_assert_uint_eq(strlen(s), sizeof(msg) - 1);
		ck_assert_int_eq(s[0], 'a' + wi);
	}
	json_object_put(g.arr);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

static char *
raw_log(const char *dir)
{
	struct buf	 raw = BUF_INIT;
	char		 path[PATH_MAX], *why = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, FLOWLOG_ACTIVE);
	ck_assert(fileio_read(path, 1 << 20, &raw, &why) == KF_OK);
	buf_cstr(&raw);
	return buf_detach(&raw);
}

START_TEST(flowlog_bodies_opt_in_capped_redacted)
{
	struct flowlog_opts	 o = opts();
	struct flowrec		 r = rec(1000, "b1");
	struct buf		 big = BUF_INIT;
	char			*base = tu_tmpdir(), *dir = dir_of(base), *raw;
	const char		*req =
	    "{\"model\":\"m\",\"x-api-key\":\"sk-SECRET1\","
	    "\"metadata\":{\"Authorization\":\"Bearer SECRET2\",\"list\":"
	    "[{\"key\":\"SECRET3\"}]},\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hello\"}]}";
	const char		*ans = "event: message_start\ndata: {}\n\n";
	size_t			 i;

	r.request_body = req;
	r.request_body_len = strlen(req);
	r.answer_body = ans;
	r.answer_body_len = strlen(ans);
	/* By default: sizes, no bodies. */
	append(dir, &o, &r);
	raw = raw_log(dir);
	ck_assert_ptr_null(strstr(raw, "hello"));
	ck_assert_ptr_null(strstr(raw, "requestBody"));
	ck_assert_ptr_null(strstr(raw, "message_start"));
	free(raw);
	tu_rmrf(dir);

	o.bodies = 1;
	append(dir, &o, &r);
	raw = raw_log(dir);
	ck_assert_ptr_nonnull(strstr(raw, "hello"));
	ck_assert_ptr_nonnull(strstr(raw, "message_start"));
	ck_assert_ptr_null(strstr(raw, "SECRET"));
	ck_assert_ptr_nonnull(strstr(raw, "[redacted]"));
	free(raw);
	tu_rmrf(dir);

	/* Cut to bodyMaxBytes, with the full size noted. */
	o.body_max_bytes = 100;
	for (i = 0; i < 5000; i++)
		buf_putc(&big, 'z');
	r.request_body = big.ptr;
	r.request_body_len = big.len;
	append(dir, &o, &r);
	raw = raw_log(dir);
	ck_assert_ptr_nonnull(strstr(raw, "\"requestBodyCut\":5000"));
	ck_assert_ptr_null(strstr(raw, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "zzz"));
	free(raw);
	buf_free(&big);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

START_TEST(flowlog_csv_quotes_and_guards)
{
	struct buf	 b = BUF_INIT;
	json_object	*x;
	char		*why = NULL;
	const char	*line = "{\"t\":1700000000123,\"id\":\"c1\",\"api\":"
	    "\"anthropic\",\"status\":400,\"error\":\"bad, \\\"very\\\" bad\","
	    "\"model\":\"=cmd|calc\",\"latencyMs\":5}";

	flowlog_csv_header(&b);
	ck_assert_str_eq(buf_cstr(&b), "time,id,key,api,method,route,model,"
	    "kiroModel,stream,account,status,errorType,error,attempts,"
	    "latencyMs,ttfbMs,inputTokens,outputTokens,requestBytes,"
	    "answerBytes\r\n");
	buf_reset(&b);
	ck_assert(json_parse(line, strlen(line), 8, &x, &why) == KF_OK);
	flowlog_csv_row(x, &b);
	ck_assert_str_eq(buf_cstr(&b), "2023-11-14T22:13:20.123Z,c1,,"
	    "anthropic,,,\"'=cmd|calc\",,,,400,,\"bad, \"\"very\"\" bad\",,5,"
	    ",,,,\r\n");
	json_object_put(x);
	buf_free(&b);
}
END_TEST

static json_object *
group(json_object *stats, const char *dim, const char *name)
{
	json_object	*arr, *g;
	const char	*s;
	size_t		 i;

	ck_assert_int_eq(json_get_arr(stats, dim, &arr), 1);
	for (i = 0; i < json_object_array_length(arr); i++) {
		g = json_object_array_get_idx(arr, i);
		if (json_get_str(g, "name", &s) == 1 && strcmp(s, name) == 0)
			return g;
	}
	ck_abort_msg("no group %s in %s", name, dim);
	return NULL;
}

static int64_t
num(json_object *o, const char *name)
{
	int64_t	v;

	ck_assert_msg(json_get_int(o, name, &v) == 1, "%s", name);
	return v;
}

START_TEST(flowlog_stats_figures)
{
	struct flowlog_opts	 o = opts();
	struct flowrec		 r;
	char			*base = tu_tmpdir(), *dir = dir_of(base);
	char			*why = NULL;
	json_object		*s, *g, *types, *hourly;
	int64_t			 now = 1700000000000LL, v;
	int			 i;

	/* 20 successes on account 1 at 100..2000 ms, an hour ago. */
	for (i = 1; i <= 20; i++) {
		r = rec(now - 3600 * 1000 - 1000, "ok");
		r.account_id = 1;
		r.latency_ms = 100 * i;
		append(dir, &o, &r);
	}
	/* 2 rate-limited and 1 client error on openai-chat, just now. */
	for (i = 0; i < 3; i++) {
		r = rec(now - 1000, "bad");
		r.api = "openai-chat";
		r.model = "gpt-4o";
		r.status = i < 2 ? 429 : 400;
		r.error_type = i < 2 ? "rate_limited" : NULL;
		r.input_tokens = r.output_tokens = 0;
		append(dir, &o, &r);
	}
	/* Too old for 24 hours. */
	r = rec(now - 25 * 3600 * 1000LL, "old");
	append(dir, &o, &r);
	ck_assert_msg(flowlog_stats(dir, 24, now, &s, &why) == KF_OK, "%s",
	    why);
	g = NULL;
	ck_assert_int_eq(json_get_obj(s, "total", &g), 1);
	ck_assert_int_eq(num(g, "requests"), 23);
	ck_assert_int_eq(num(g, "errors"), 3);
	ck_assert_int_eq(num(g, "inputTokens"), 200);
	ck_assert_int_eq(num(g, "outputTokens"), 100);
	g = group(s, "byAccount", "1");
	ck_assert_int_eq(num(g, "requests"), 20);
	ck_assert_int_eq(num(g, "errors"), 0);
	/* p50 of 100..2000 is 1000, p95 1900: log buckets are within 10%. */
	v = num(g, "latencyP50Ms");
	ck_assert_msg(v >= 900 && v <= 1100, "p50 %lld", (long long)v);
	v = num(g, "latencyP95Ms");
	ck_assert_msg(v >= 1710 && v <= 2090, "p95 %lld", (long long)v);
	g = group(s, "byApi", "openai-chat");
	ck_assert_int_eq(num(g, "requests"), 3);
	ck_assert_int_eq(num(g, "errors"), 3);
	ck_assert_int_eq(json_get_obj(g, "errorTypes", &types), 1);
	ck_assert_int_eq(num(types, "rate_limited"), 2);
	ck_assert_int_eq(num(types, "http_400"), 1);
	g = group(s, "byModel", "gpt-4o");
	ck_assert_int_eq(num(g, "requests"), 3);
	g = group(s, "byKey", "default");
	ck_assert_int_eq(num(g, "requests"), 23);
	g = group(s, "byAccount", "(none)");
	ck_assert_int_eq(num(g, "requests"), 3);
	ck_assert_int_eq(json_get_arr(s, "hourly", &hourly), 1);
	ck_assert_int_eq(json_object_array_length(hourly), 24);
	ck_assert_int_eq(num(json_object_array_get_idx(hourly, 22),
	    "requests"), 20);
	ck_assert_int_eq(num(json_object_array_get_idx(hourly, 23),
	    "requests"), 3);
	ck_assert_int_eq(num(json_object_array_get_idx(hourly, 23),
	    "errors"), 3);
	ck_assert_int_eq(num(json_object_array_get_idx(hourly, 0),
	    "requests"), 0);
	json_object_put(s);

	ck_assert(flowlog_stats(dir, 0, now, &s, &why) == KF_EINVAL);
	free(why);
	why = NULL;
	ck_assert(flowlog_stats(dir, FLOWLOG_HOURS_MAX + 1, now, &s, &why) ==
	    KF_EINVAL);
	free(why);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

/* Past FLOWSTATS_GROUPS_MAX models the rest count under "(other)". */
START_TEST(flowlog_stats_groups_bounded)
{
	struct flowlog_opts	 o = opts();
	struct flowrec		 r;
	char			*base = tu_tmpdir(), *dir = dir_of(base);
	char			*why = NULL;
	char			 model[32];
	json_object		*s, *arr;
	int64_t			 now = 1700000000000LL;
	int			 i;

	for (i = 0; i < FLOWSTATS_GROUPS_MAX + 10; i++) {
		snprintf(model, sizeof(model), "model-%d", i);
		r = rec(now - 1000, "m");
		r.model = model;
		append(dir, &o, &r);
	}
	ck_assert(flowlog_stats(dir, 1, now, &s, &why) == KF_OK);
	ck_assert_int_eq(json_get_arr(s, "byModel", &arr), 1);
	ck_assert_int_eq(json_object_array_length(arr),
	    FLOWSTATS_GROUPS_MAX + 1);
	ck_assert_int_eq(num(group(s, "byModel", "(other)"), "requests"), 10);
	json_object_put(s);
	tu_rmrf(base);
	free(base);
	free(dir);
}
END_TEST

static Suite *
flowlog_suite(void)
{
	Suite	*s = suite_create("flowlog");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, flowlog_round_trip);
	tcase_add_test(tc, flowlog_missing_dir_is_empty);
	tcase_add_test(tc, flowlog_keeps_records_with_bad_utf8);
	tcase_add_test(tc, flowlog_plain_text_written_as_escaped);
	tcase_add_test(tc, flowlog_filters);
	tcase_add_test(tc, flowlog_filter_refuses_bad_values);
	tcase_add_test(tc, flowlog_paging_newest_first);
	tcase_add_test(tc, flowlog_rotation_keeps_count_bound);
	tcase_add_test(tc, flowlog_reopens_after_foreign_rotation);
	tcase_add_test(tc, flowlog_concurrent_writers_no_torn_line);
	tcase_add_test(tc, flowlog_bodies_opt_in_capped_redacted);
	tcase_add_test(tc, flowlog_csv_quotes_and_guards);
	tcase_add_test(tc, flowlog_stats_figures);
	tcase_add_test(tc, flowlog_stats_groups_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(flowlog_suite());
}
