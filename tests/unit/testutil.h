/* testutil.h: helpers the unit tests share: temp dirs, files, the mock upstream. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

/*
 * Header-only on purpose: each unit test is one program built from one
 * file, and automake's default source rule stays simple.  Every function
 * is static; unused ones cost nothing.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "buf.h"
#include "json.h"

/* Runs one suite; the exit status automake's TESTS wants. */
static int __attribute__((unused))
tu_run(Suite *s)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/* A fresh directory under $TMPDIR; the caller frees the string. */
static char * __attribute__((unused))
tu_tmpdir(void)
{
	const char	*base = getenv("TMPDIR");
	char		*path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/kiro-test-XXXXXX", base) == -1)
		abort();
	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

static int
tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a directory tree; NULL is fine. */
static void __attribute__((unused))
tu_rmrf(const char *path)
{
	if (path != NULL)
		(void)nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void __attribute__((unused))
tu_write_file(const char *path, const char *content)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file as a heap string, or NULL when it cannot be read. */
static char * __attribute__((unused))
tu_read_file(const char *path)
{
	struct buf	b = BUF_INIT;
	char		chunk[4096];
	size_t		n;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return buf_detach(&b);
}

/* The mock Kiro upstream (tests/mock/kiro_mock.py), one per test. */
struct tu_mock {
	pid_t	 pid;
	int	 port;
	char	*dir;
	char	 base[64];	/* http://127.0.0.1:PORT */
};

static const char *
tu_mock_script(void)
{
	const char	*s = getenv("KIRO_MOCK");

	return s != NULL && *s != '\0' ? s : "tests/mock/kiro_mock.py";
}

/*
 * Starts the mock on a kernel-chosen port and waits until it has written
 * its port file, which it does once it is listening (no fixed sleeps).
 */
static void __attribute__((unused))
tu_mock_start(struct tu_mock *m)
{
	const char	*python = getenv("PYTHON3");
	char		*portfile, *text;
	int		 i, status;

	memset(m, 0, sizeof(*m));
	m->dir = tu_tmpdir();
	if (asprintf(&portfile, "%s/port", m->dir) == -1)
		abort();
	if (python == NULL || *python == '\0')
		python = "/usr/bin/python3";
	m->pid = fork();
	ck_assert_int_ge(m->pid, 0);
	if (m->pid == 0) {
		execl(python, python, tu_mock_script(), "--port", "0",
		    "--port-file", portfile, "--quiet", (char *)NULL);
		_exit(127);
	}
	/* Up to 30 s for a slow machine; usually a few hundred ms. */
	for (i = 0; i < 3000; i++) {
		if ((text = tu_read_file(portfile)) != NULL) {
			m->port = atoi(text);
			free(text);
			if (m->port > 0)
				break;
		}
		ck_assert_msg(waitpid(m->pid, &status, WNOHANG) == 0,
		    "the mock upstream exited (is %s there?)",
		    tu_mock_script());
		poll(NULL, 0, 10);
	}
	free(portfile);
	ck_assert_msg(m->port > 0, "the mock upstream did not start");
	snprintf(m->base, sizeof(m->base), "http://127.0.0.1:%d", m->port);
}

static void __attribute__((unused))
tu_mock_stop(struct tu_mock *m)
{
	int	status;

	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, &status, 0);
	}
	tu_rmrf(m->dir);
	free(m->dir);
	m->pid = 0;
	m->dir = NULL;
}

static size_t
tu_curl_write(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

/*
 * Calls the mock's control API: POST when body is set, else GET.
 * Returns the HTTP status; the answer (NUL-terminated) goes to out.
 */
static long __attribute__((unused))
tu_mock_call(struct tu_mock *m, const char *path, const char *body,
    struct buf *out)
{
	struct curl_slist	*hdrs = NULL;
	CURL			*c;
	char			 url[256];
	long			 status = 0;

	buf_reset(out);
	snprintf(url, sizeof(url), "%s%s", m->base, path);
	ck_assert_ptr_nonnull(c = curl_easy_init());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	buf_cstr(out);
	return status;
}

/* A number from the mock's /_mock/stats ("refreshes", "generate", ...). */
static long __attribute__((unused))
tu_mock_stat(struct tu_mock *m, const char *key)
{
	struct buf	 out = BUF_INIT;
	json_object	*v = NULL;
	int64_t		 n = -1;

	ck_assert_int_eq(tu_mock_call(m, "/_mock/stats", NULL, &out), 200);
	ck_assert_int_eq(json_parse(out.ptr, out.len, 16, &v, NULL), KF_OK);
	ck_assert_msg(json_get_int(v, key, &n) == 1, "no stat %s", key);
	json_object_put(v);
	buf_free(&out);
	return (long)n;
}

#endif
