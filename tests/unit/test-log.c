/* test-log.c: unit tests for one-line, escaped logging and secret masks. */
#include "autoconfig.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "log.h"

/*
 * Covers: the line format (RFC 3339 UTC time within the call, program
 * name, pid, level), a forked child's own pid, each level's name, levels
 * below the minimum dropped and log_get_level/log_set_level,
 * log_level_parse; escaping of \n \r \t,
 * every other control character, DEL and backslash so one event is one
 * line, UTF-8 kept, long messages whole; log_warn and log_error appending
 * strerror(errno) and keeping errno, the x forms not; log_set_request's
 * "req=ID" (copied, cleared by NULL, per thread); log_mask for NULL,
 * empty, short and long secrets, never showing a whole secret.
 *
 * stderr (fd 2) is pointed at a file in a mkdtemp directory while a test
 * logs, then restored, so this also works under CK_FORK=no; an unchecked
 * fixture restores it after a failed test and removes the directory.
 */

#define PROG	"test-log"

static char	capture_dir[PATH_MAX];
static char	capture_path[PATH_MAX];
static int	saved_stderr = -1;

/* Unchecked: runs in the runner process, before and after the test case. */
static void
capture_setup(void)
{
	ck_assert_int_lt(snprintf(capture_dir, sizeof(capture_dir),
	    "%s/kf-log-XXXXXX", getenv("TMPDIR") != NULL ? getenv("TMPDIR") :
	    "/tmp"), (int)sizeof(capture_dir));
	ck_assert_ptr_nonnull(mkdtemp(capture_dir));
	ck_assert_int_lt(snprintf(capture_path, sizeof(capture_path),
	    "%s/stderr", capture_dir), (int)sizeof(capture_path));
}

static void
capture_teardown(void)
{
	/* Only under CK_FORK=no can a failed test leave stderr redirected. */
	if (saved_stderr != -1) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	unlink(capture_path);
	rmdir(capture_dir);
}

static void
capture_start(void)
{
	int	fd;

	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
	    0600);
	ck_assert_int_ne(fd, -1);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(saved_stderr, -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	close(fd);
}

/* Restores stderr and appends what was logged to out. */
static void
capture_end(struct buf *out)
{
	char	chunk[4096];
	ssize_t	n;
	int	fd;

	ck_assert_int_ne(dup2(saved_stderr, STDERR_FILENO), -1);
	close(saved_stderr);
	saved_stderr = -1;
	fd = open(capture_path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(out, chunk, (size_t)n);
	ck_assert_int_eq(n, 0);
	close(fd);
	buf_cstr(out);
}

static size_t
count_lines(const struct buf *b)
{
	size_t	i, n = 0;

	for (i = 0; i < b->len; i++)
		n += b->ptr[i] == '\n';
	return n;
}

/* The message part of a one-line capture: after "LEVEL ". */
static const char *
message_of(const struct buf *b, const char *level)
{
	char		 tag[32];
	const char	*p;

	ck_assert_uint_eq(count_lines(b), 1);
	ck_assert_int_eq(b->ptr[b->len - 1], '\n');
	b->ptr[b->len - 1] = '\0';
	snprintf(tag, sizeof(tag), "] %s ", level);
	p = strstr(b->ptr, tag);
	ck_assert_msg(p != NULL, "no \"%s\" in %s", tag, b->ptr);
	return p + strlen(tag);
}

static void
reset(enum log_level level)
{
	log_init(PROG, level);
	log_set_request(NULL);
}

START_TEST(log_line_has_time_program_pid_and_level)
{
	struct buf	b = BUF_INIT;
	regex_t		re;
	regmatch_t	m[2];
	char		pattern[256], stamp[21];
	struct tm	tm;
	time_t		t0, t1, t;

	reset(LOG_LEVEL_DEBUG);
	snprintf(pattern, sizeof(pattern), "^([0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}Z) " PROG "\\[%ld\\] INFO hello 42\n$",
	    (long)getpid());
	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED), 0);

	t0 = time(NULL);
	capture_start();
	log_info("hello %d", 42);
	capture_end(&b);
	t1 = time(NULL);

	ck_assert_msg(regexec(&re, b.ptr, 2, m, 0) == 0, "line: %s", b.ptr);
	ck_assert_int_eq(m[1].rm_eo - m[1].rm_so, 20);
	memcpy(stamp, b.ptr + m[1].rm_so, 20);
	stamp[20] = '\0';
	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(strptime(stamp, "%Y-%m-%dT%H:%M:%SZ", &tm));
	t = timegm(&tm);
	ck_assert_int_ge(t, t0);
	ck_assert_int_le(t, t1);
	regfree(&re);
	buf_free(&b);
}
END_TEST

/* The pid is made once per process: a forked child must show its own. */
START_TEST(log_line_in_forked_child_has_its_pid)
{
	struct buf	b = BUF_INIT;
	char		want[64];
	pid_t		pid;
	int		status;

	reset(LOG_LEVEL_DEBUG);
	capture_start();
	log_info("parent");
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		log_info("child");
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	capture_end(&b);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(want, sizeof(want), PROG "[%ld] INFO parent\n",
	    (long)getpid());
	ck_assert_msg(strstr(b.ptr, want) != NULL, "log: %s", b.ptr);
	snprintf(want, sizeof(want), PROG "[%ld] INFO child\n", (long)pid);
	ck_assert_msg(strstr(b.ptr, want) != NULL, "log: %s", b.ptr);
	buf_free(&b);
}
END_TEST

START_TEST(log_levels_are_named)
{
	struct buf	b = BUF_INIT;

	reset(LOG_LEVEL_DEBUG);
	capture_start();
	log_debug("d");
	log_info("i");
	log_warnx("w");
	log_errorx("e");
	capture_end(&b);
	ck_assert_uint_eq(count_lines(&b), 4);
	ck_assert_ptr_nonnull(strstr(b.ptr, "] DEBUG d\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "] INFO i\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "] WARN w\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "] ERROR e\n"));
	ck_assert(strstr(b.ptr, "DEBUG d") < strstr(b.ptr, "ERROR e"));
	buf_free(&b);
}
END_TEST

START_TEST(log_drops_levels_below_minimum)
{
	struct buf	b = BUF_INIT;

	reset(LOG_LEVEL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
	capture_start();
	log_debug("dropped debug");
	log_info("dropped info");
	log_warnx("kept warn");
	log_errorx("kept error");
	log_set_level(LOG_LEVEL_ERROR);
	log_warnx("dropped warn");
	log_warn("dropped warn with errno");
	log_errorx("kept error 2");
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("kept debug");
	capture_end(&b);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_DEBUG);
	ck_assert_uint_eq(count_lines(&b), 4);
	ck_assert_ptr_null(strstr(b.ptr, "dropped"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "kept warn"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "kept error\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "kept error 2"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "kept debug"));
	buf_free(&b);
}
END_TEST

START_TEST(log_escapes_control_characters)
{
	struct buf	 b = BUF_INIT;
	const char	*msg;

	reset(LOG_LEVEL_DEBUG);
	capture_start();
	log_info("client said: %s", "a\nb\rc\td\\e\x01" "f\x7fg\x1b[31mh\n"
	    "2026-01-01T00:00:00Z kiro-fcgi[1] ERROR forged");
	capture_end(&b);
	msg = message_of(&b, "INFO");
	ck_assert_str_eq(msg, "client said: a\\nb\\rc\\td\\\\e\\x01f\\x7fg"
	    "\\x1b[31mh\\n2026-01-01T00:00:00Z kiro-fcgi[1] ERROR forged");
	buf_free(&b);
}
END_TEST

START_TEST(log_escapes_every_control_byte)
{
	struct buf	 b = BUF_INIT;
	char		 raw[40], want[16];
	const char	*msg, *p;
	unsigned	 c;

	/* Bytes 1..31 and 127 (NUL would end the C string). */
	for (c = 1; c < 32; c++)
		raw[c - 1] = (char)c;
	raw[31] = 0x7f;
	raw[32] = '\0';
	reset(LOG_LEVEL_DEBUG);
	capture_start();
	log_warnx("%s", raw);
	capture_end(&b);
	msg = message_of(&b, "WARN");
	for (c = 0; msg[c] != '\0'; c++)
		ck_assert_msg((unsigned char)msg[c] >= 0x20 &&
		    (unsigned char)msg[c] != 0x7f, "raw byte 0x%02x logged",
		    (unsigned char)msg[c]);
	p = msg;
	for (c = 1; c < 32; c++) {
		if (c == '\n')
			snprintf(want, sizeof(want), "\\n");
		else if (c == '\r')
			snprintf(want, sizeof(want), "\\r");
		else if (c == '\t')
			snprintf(want, sizeof(want), "\\t");
		else
			snprintf(want, sizeof(want), "\\x%02x", c);
		ck_assert_msg(strncmp(p, want, strlen(want)) == 0,
		    "byte 0x%02x: got %s", c, p);
		p += strlen(want);
	}
	ck_assert_str_eq(p, "\\x7f");
	buf_free(&b);
}
END_TEST

/* Every byte 1..255, against the rule written out: escapes or kept whole. */
START_TEST(log_escape_matches_the_rule_for_every_byte)
{
	struct buf	 b = BUF_INIT, want = BUF_INIT;
	char		 raw[256];
	const char	*msg;
	unsigned	 c;

	for (c = 1; c < 256; c++) {
		raw[c - 1] = (char)c;
		if (c == '\\')
			buf_puts(&want, "\\\\");
		else if (c == '\n')
			buf_puts(&want, "\\n");
		else if (c == '\r')
			buf_puts(&want, "\\r");
		else if (c == '\t')
			buf_puts(&want, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(&want, "\\x%02x", c);
		else
			buf_putc(&want, (char)c);
	}
	raw[255] = '\0';
	reset(LOG_LEVEL_DEBUG);
	capture_start();
	log_info("%s", raw);
	capture_end(&b);
	msg = message_of(&b, "INFO");
	ck_assert_str_eq(msg, buf_cstr(&want));
	buf_free(&want);
	buf_free(&b);
}
END_TEST

START_TEST(log_keeps_utf8_and_long_messages_whole)
{
	struct buf	 b = BUF_INIT;
	char		*big;
	const char	*msg;

	reset(LOG_LEVEL_DEBUG);
	capture_start();
	log_info("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 100%%");
	capture_end(&b);
	msg = message_of(&b, "INFO");
	ck_assert_str_eq(msg, "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 100%");
	buf_free(&b);

	big = malloc(20001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 20000);
	big[20000] = '\0';
	big[10000] = '\n';
	capture_start();
	log_info("%s", big);
	capture_end(&b);
	msg = message_of(&b, "INFO");
	ck_assert_uint_eq(strlen(msg), 20001);
	ck_assert_int_eq(strncmp(msg + 10000, "\\nx", 3), 0);
	free(big);
	buf_free(&b);
}
END_TEST

START_TEST(log_warn_appends_strerror)
{
	struct buf	b = BUF_INIT;
	char		want[256];

	reset(LOG_LEVEL_DEBUG);
	capture_start();
	errno = ENOENT;
	log_warn("open %s", "/nonexistent");
	ck_assert_int_eq(errno, ENOENT);
	errno = EACCES;
	log_error("write %s", "state");
	ck_assert_int_eq(errno, EACCES);
	errno = ENOENT;
	log_warnx("no errno here");
	log_errorx("none here either");
	ck_assert_int_eq(errno, ENOENT);
	capture_end(&b);

	ck_assert_uint_eq(count_lines(&b), 4);
	snprintf(want, sizeof(want), "] WARN open /nonexistent: %s\n",
	    strerror(ENOENT));
	ck_assert_msg(strstr(b.ptr, want) != NULL, "%s", b.ptr);
	snprintf(want, sizeof(want), "] ERROR write state: %s\n",
	    strerror(EACCES));
	ck_assert_msg(strstr(b.ptr, want) != NULL, "%s", b.ptr);
	ck_assert_ptr_nonnull(strstr(b.ptr, "] WARN no errno here\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "] ERROR none here either\n"));
	buf_free(&b);
}
END_TEST

/*
 * A "%s" message is taken as it is, any other format goes through printf:
 * both must log the same line for the same text, errno's too.
 */
START_TEST(log_plain_string_same_as_formatted)
{
	static const char *const texts[] = { "", "POST /v1/messages 200 "
	    "512B 3ms model=m key=default", "100% \\ \"q\"", "a\nb\x01\x7f",
	    "caf\xc3\xa9", NULL };
	struct buf	 b = BUF_INIT;
	const char	*first, *second, *end;
	size_t		 i;

	reset(LOG_LEVEL_DEBUG);
	log_set_request("ab12");
	for (i = 0; texts[i] != NULL; i++) {
		buf_reset(&b);
		capture_start();
		errno = ENOENT;
		if (i % 2 == 0) {
			log_info("%s", texts[i]);
			log_info("%s%s", texts[i], "");
		} else {
			log_warn("%s", texts[i]);
			log_warn("%s%s", texts[i], "");
		}
		ck_assert_int_eq(errno, ENOENT);
		capture_end(&b);
		ck_assert_uint_eq(count_lines(&b), 2);
		/* The lines after their time stamps. */
		first = strchr(b.ptr, ' ');
		end = strchr(b.ptr, '\n');
		second = strchr(end + 1, ' ');
		ck_assert_ptr_nonnull(first);
		ck_assert_ptr_nonnull(second);
		ck_assert_msg(strncmp(first, second, (size_t)(end + 1 -
		    first)) == 0, "text %zu: %s", i, b.ptr);
		ck_assert_ptr_nonnull(strstr(first, " req=ab12 "));
	}
	log_set_request(NULL);
	buf_free(&b);
}
END_TEST

static void *
thread_logs(void *arg)
{
	log_info("from the other thread");
	return arg;
}

START_TEST(log_set_request_tags_this_thread)
{
	struct buf	b = BUF_INIT;
	char		id[16];
	pthread_t	th;

	reset(LOG_LEVEL_DEBUG);
	snprintf(id, sizeof(id), "ab12cd34");
	log_set_request(id);
	/* Copied: the caller's buffer may change. */
	memcpy(id, "XXXXXXXX", 8);
	capture_start();
	log_info("tagged");
	ck_assert_int_eq(pthread_create(&th, NULL, thread_logs, NULL), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	log_set_request(NULL);
	log_info("untagged");
	capture_end(&b);

	ck_assert_uint_eq(count_lines(&b), 3);
	ck_assert_msg(strstr(b.ptr, "] INFO req=ab12cd34 tagged\n") != NULL,
	    "%s", b.ptr);
	ck_assert_ptr_nonnull(strstr(b.ptr, "] INFO from the other thread\n"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "] INFO untagged\n"));
	ck_assert_ptr_null(strstr(b.ptr, "XXXX"));
	/* Only the first line is tagged. */
	ck_assert_ptr_eq(strstr(b.ptr, "req="), strstr(b.ptr, "req=ab12"));
	ck_assert_ptr_null(strstr(strstr(b.ptr, "req=") + 1, "req="));
	buf_free(&b);
}
END_TEST

/* An id longer than the tag's room is cut to its first 39 bytes; "" clears. */
START_TEST(log_set_request_cuts_long_ids)
{
	struct buf	b = BUF_INIT;
	char		id[64], want[64];

	reset(LOG_LEVEL_DEBUG);
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	id[38] = 'z';
	capture_start();
	log_set_request(id);
	log_info("long");
	log_set_request("");
	log_info("empty");
	capture_end(&b);
	log_set_request(NULL);
	snprintf(want, sizeof(want), "] INFO req=%.39s long\n", id);
	ck_assert_msg(strstr(b.ptr, want) != NULL, "%s", b.ptr);
	ck_assert_ptr_nonnull(strstr(b.ptr, "] INFO empty\n"));
	buf_free(&b);
}
END_TEST

START_TEST(log_init_keeps_name_when_null)
{
	struct buf	b = BUF_INIT;
	char		want[64];

	log_init("first-name", LOG_LEVEL_INFO);
	log_init(NULL, LOG_LEVEL_INFO);
	capture_start();
	log_info("x");
	capture_end(&b);
	snprintf(want, sizeof(want), " first-name[%ld] INFO x\n",
	    (long)getpid());
	ck_assert_msg(strstr(b.ptr, want) != NULL, "%s", b.ptr);
	buf_free(&b);
	reset(LOG_LEVEL_INFO);
}
END_TEST

START_TEST(log_level_parse_names)
{
	enum log_level	l = LOG_LEVEL__MAX;

	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("INFO", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_INFO);
	ck_assert_int_eq(log_level_parse("Warn", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("error", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_ERROR);
	l = LOG_LEVEL_DEBUG;
	ck_assert_int_eq(log_level_parse("verbose", &l), -1);
	ck_assert_int_eq(log_level_parse("", &l), -1);
	ck_assert_int_eq(log_level_parse("info ", &l), -1);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
}
END_TEST

START_TEST(log_mask_shows_prefix_of_long_secrets)
{
	char		 out[LOG_MASK_LEN];
	const char	*r;

	r = log_mask("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", out);
	ck_assert_ptr_eq(r, out);
	ck_assert_str_eq(out, "sk-a...");
	ck_assert_str_eq(log_mask("aorAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", out),
	    "aorA...");
}
END_TEST

START_TEST(log_mask_hides_short_secrets_entirely)
{
	char	out[LOG_MASK_LEN];

	ck_assert_str_eq(log_mask("abc", out), "...");
	ck_assert_str_eq(log_mask("a", out), "...");
	ck_assert_str_eq(log_mask("abcdefgh", out), "...");
}
END_TEST

START_TEST(log_mask_none_for_missing)
{
	char	out[LOG_MASK_LEN];

	ck_assert_str_eq(log_mask(NULL, out), "(none)");
	ck_assert_str_eq(log_mask("", out), "(none)");
}
END_TEST

START_TEST(log_mask_never_shows_whole_secret)
{
	char	out[LOG_MASK_LEN + 8], secret[129];
	size_t	n, i;

	for (n = 1; n < sizeof(secret); n++) {
		for (i = 0; i < n; i++)
			secret[i] = "Kq7xZ2mP"[i % 8];
		secret[n] = '\0';
		memset(out, 'Y', sizeof(out));
		log_mask(secret, out);
		ck_assert_msg(strlen(out) < LOG_MASK_LEN, "length %zu: %s", n,
		    out);
		ck_assert_int_eq(out[LOG_MASK_LEN], 'Y');
		ck_assert_msg(strstr(out, secret) == NULL,
		    "length %zu: %s shows the secret", n, out);
		ck_assert_msg(strncmp(out, secret, 4) != 0 || n > 8,
		    "length %zu: %s shows most of a short secret", n, out);
	}
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("log");
	tc = tcase_create("lines");
	tcase_add_unchecked_fixture(tc, capture_setup, capture_teardown);
	tcase_add_test(tc, log_line_has_time_program_pid_and_level);
	tcase_add_test(tc, log_line_in_forked_child_has_its_pid);
	tcase_add_test(tc, log_levels_are_named);
	tcase_add_test(tc, log_drops_levels_below_minimum);
	tcase_add_test(tc, log_escapes_control_characters);
	tcase_add_test(tc, log_escapes_every_control_byte);
	tcase_add_test(tc, log_escape_matches_the_rule_for_every_byte);
	tcase_add_test(tc, log_keeps_utf8_and_long_messages_whole);
	tcase_add_test(tc, log_warn_appends_strerror);
	tcase_add_test(tc, log_plain_string_same_as_formatted);
	tcase_add_test(tc, log_set_request_tags_this_thread);
	tcase_add_test(tc, log_set_request_cuts_long_ids);
	tcase_add_test(tc, log_init_keeps_name_when_null);
	tcase_add_test(tc, log_level_parse_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("mask");
	tcase_add_test(tc, log_mask_shows_prefix_of_long_secrets);
	tcase_add_test(tc, log_mask_hides_short_secrets_entirely);
	tcase_add_test(tc, log_mask_none_for_missing);
	tcase_add_test(tc, log_mask_never_shows_whole_secret);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
