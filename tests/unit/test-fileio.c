/* test-fileio.c: unit tests for whole-file reads and atomic replacement. */
#include "autoconfig.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "err.h"
#include "fileio.h"

/*
 * Covers: fileio_read of binary files of several sizes (chunk boundaries
 * included), empty files, appending after existing bytes, the size limit
 * (exactly max accepted, one more refused, counted for the file and not
 * for what out already held), missing files (KF_ENOTFOUND) and unreadable
 * ones (KF_EINVAL), always with the path in the cause;
 * fileio_write_atomic creating files with exactly the given mode under
 * umask 022, replacing content (longer, shorter, empty), forcing the
 * mode (0600 stays 0600 under umask 0 over a 0644 file), a symlink at the
 * old fixed temporary name neither followed nor in the way, a symlinked
 * file or directory refused, leaving no temporary file behind after
 * success or failure, naming the path when it fails; and a reader never seeing a partial file while another process
 * replaces a 1 MB file 200 times (all A or all B, every one of 2000 reads).
 *
 * Each test works in its own mkdtemp directory inside one per test case;
 * the outer one is removed by an unchecked fixture, so even a failed test
 * leaves nothing behind.  KF_TEST_ITERS scales the concurrency test down.
 */

#define BIG_SIZE	(1024 * 1024)

static char	base[PATH_MAX];
static char	dir[PATH_MAX];

static int
iters(int dflt)
{
	const char	*s;
	char		*end;
	long		 n;

	if ((s = getenv("KF_TEST_ITERS")) == NULL)
		return dflt;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > dflt)
		return dflt;
	return (int)n;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
remove_tree(char *path)
{
	if (path[0] != '\0')
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	path[0] = '\0';
}

/* Unchecked: runs in the runner process, before and after the test case. */
static void
base_setup(void)
{
	ck_assert_int_lt(snprintf(base, sizeof(base), "%s/kf-fileio-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp"),
	    (int)sizeof(base));
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void
base_teardown(void)
{
	remove_tree(base);
}

static void
setup(void)
{
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/t-XXXXXX", base),
	    (int)sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	remove_tree(dir);
}

/* dir/name into out. */
static void
path_of(char out[PATH_MAX], const char *name)
{
	ck_assert_int_lt(snprintf(out, PATH_MAX, "%s/%s", dir, name),
	    PATH_MAX);
}

/* Writes len bytes to dir/name with plain stdio; returns the path. */
static void
make_file(char path[PATH_MAX], const char *name, const void *data,
    size_t len)
{
	FILE	*f;

	path_of(path, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The number of entries in dir other than . and .. */
static int
count_entries(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static mode_t
mode_of(const char *path)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
assert_content(const char *path, const void *data, size_t len)
{
	struct buf	 b = BUF_INIT;
	char		*cause = NULL;

	ck_assert_msg(fileio_read(path, len + 1, &b, &cause) == KF_OK, "%s",
	    cause);
	ck_assert_uint_eq(b.len, len);
	if (len > 0)
		ck_assert_int_eq(memcmp(b.ptr, data, len), 0);
	free(cause);
	buf_free(&b);
}

START_TEST(fileio_read_returns_whole_file)
{
	static const size_t	sizes[] = {
		1, 100, 16383, 16384, 16385, 65536, 100001
	};
	char			path[PATH_MAX], *cause = NULL, *data;
	struct buf		b = BUF_INIT;
	size_t			i, j;

	data = malloc(100001);
	ck_assert_ptr_nonnull(data);
	for (j = 0; j < 100001; j++)
		data[j] = (char)(j % 251);	/* NULs included */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		make_file(path, "data", data, sizes[i]);
		buf_reset(&b);
		ck_assert_int_eq(fileio_read(path, 1 << 20, &b, &cause),
		    KF_OK);
		ck_assert_ptr_null(cause);
		ck_assert_uint_eq(b.len, sizes[i]);
		ck_assert_int_eq(memcmp(b.ptr, data, sizes[i]), 0);
		ck_assert_int_eq(b.ptr[b.len], '\0');
	}
	free(data);
	buf_free(&b);
}
END_TEST

START_TEST(fileio_read_empty_file)
{
	char		path[PATH_MAX], *cause = NULL;
	struct buf	b = BUF_INIT;

	make_file(path, "empty", "", 0);
	ck_assert_int_eq(fileio_read(path, 10, &b, &cause), KF_OK);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(b.ptr);
	ck_assert_str_eq(b.ptr, "");
	ck_assert_int_eq(fileio_read(path, 0, &b, &cause), KF_OK);
	buf_free(&b);
}
END_TEST

START_TEST(fileio_read_appends_to_out)
{
	char		path[PATH_MAX], *cause = NULL;
	struct buf	b = BUF_INIT;

	make_file(path, "ten", "0123456789", 10);
	buf_puts(&b, "prefix:");
	/* The limit is the file's: ten bytes fit in max 10. */
	ck_assert_msg(fileio_read(path, 10, &b, &cause) == KF_OK, "%s", cause);
	ck_assert_str_eq(b.ptr, "prefix:0123456789");
	ck_assert_int_eq(fileio_read(path, 10, &b, &cause), KF_OK);
	ck_assert_str_eq(b.ptr, "prefix:01234567890123456789");
	free(cause);
	buf_free(&b);
}
END_TEST

START_TEST(fileio_read_over_max_is_einval)
{
	char		path[PATH_MAX], *cause = NULL, *data;
	struct buf	b = BUF_INIT;

	make_file(path, "ten", "0123456789", 10);
	ck_assert_int_eq(fileio_read(path, 10, &b, &cause), KF_OK);
	buf_reset(&b);
	ck_assert_int_eq(fileio_read(path, 9, &b, &cause), KF_EINVAL);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	ck_assert_int_eq(fileio_read(path, 0, &b, &cause), KF_EINVAL);

	/* Over the limit only in a later chunk. */
	data = calloc(1, 50000);
	ck_assert_ptr_nonnull(data);
	make_file(path, "big", data, 50000);
	buf_reset(&b);
	ck_assert_int_eq(fileio_read(path, 49999, &b, &cause), KF_EINVAL);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	buf_reset(&b);
	ck_assert_int_eq(fileio_read(path, 50000, &b, &cause), KF_OK);
	ck_assert_uint_eq(b.len, 50000);
	free(data);
	free(cause);
	buf_free(&b);
}
END_TEST

START_TEST(fileio_read_missing_is_enotfound)
{
	char		path[PATH_MAX], *cause = NULL;
	struct buf	b = BUF_INIT;

	path_of(path, "no-such-file");
	ck_assert_int_eq(fileio_read(path, 100, &b, &cause), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	ck_assert_uint_eq(b.len, 0);
	/* A NULL cause is fine. */
	ck_assert_int_eq(fileio_read(path, 100, &b, NULL), KF_ENOTFOUND);
	free(cause);
	buf_free(&b);
}
END_TEST

START_TEST(fileio_read_unreadable_is_einval)
{
	char		path[PATH_MAX], *cause = NULL;
	struct buf	b = BUF_INIT;

	/* A directory opens but cannot be read. */
	path_of(path, "subdir");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(fileio_read(path, 100, &b, &cause), KF_EINVAL);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);

	/* A file without read permission (root ignores permissions). */
	if (geteuid() != 0) {
		make_file(path, "secret", "x", 1);
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(fileio_read(path, 100, &b, &cause),
		    KF_EINVAL);
		ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	}
	free(cause);
	buf_free(&b);
}
END_TEST

START_TEST(fileio_write_atomic_creates_with_mode)
{
	static const mode_t	modes[] = { 0600, 0640, 0664, 0666, 0400 };
	char			path[PATH_MAX], name[32], *cause = NULL;
	mode_t			old;
	size_t			i;

	old = umask(022);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(name, sizeof(name), "new-%zu", i);
		path_of(path, name);
		ck_assert_msg(fileio_write_atomic(path, "data", 4, modes[i],
		    &cause) == KF_OK, "%s", cause);
		ck_assert_msg(mode_of(path) == modes[i], "%s: mode %o, want %o",
		    path, (unsigned)mode_of(path), (unsigned)modes[i]);
		assert_content(path, "data", 4);
	}
	umask(old);
	ck_assert_int_eq(count_entries(), 5);
	free(cause);
}
END_TEST

START_TEST(fileio_write_atomic_replaces_content)
{
	char	path[PATH_MAX], *cause = NULL, *big;

	path_of(path, "f");
	ck_assert_int_eq(fileio_write_atomic(path, "first", 5, 0600, &cause),
	    KF_OK);
	assert_content(path, "first", 5);
	ck_assert_int_eq(fileio_write_atomic(path, "a much longer second",
	    20, 0600, &cause), KF_OK);
	assert_content(path, "a much longer second", 20);
	ck_assert_int_eq(fileio_write_atomic(path, "3rd", 3, 0600, &cause),
	    KF_OK);
	assert_content(path, "3rd", 3);
	ck_assert_int_eq(fileio_write_atomic(path, "bin\0ary", 7, 0600,
	    &cause), KF_OK);
	assert_content(path, "bin\0ary", 7);
	ck_assert_int_eq(fileio_write_atomic(path, "", 0, 0600, &cause),
	    KF_OK);
	assert_content(path, "", 0);

	big = malloc(3 * BIG_SIZE);
	ck_assert_ptr_nonnull(big);
	memset(big, 'z', 3 * BIG_SIZE);
	ck_assert_int_eq(fileio_write_atomic(path, big, 3 * BIG_SIZE, 0600,
	    &cause), KF_OK);
	assert_content(path, big, 3 * BIG_SIZE);
	free(big);
	ck_assert_int_eq(count_entries(), 1);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(fileio_write_atomic_forces_the_mode)
{
	char	path[PATH_MAX], *cause = NULL;
	mode_t	old;

	/* umask 0 and a world-readable old file: the tokens stay 0600. */
	old = umask(0);
	make_file(path, "existing", "old", 3);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(fileio_write_atomic(path, "new", 3, 0600, &cause),
	    KF_OK);
	ck_assert_uint_eq(mode_of(path), 0600);
	assert_content(path, "new", 3);
	path_of(path, "fresh");
	ck_assert_int_eq(fileio_write_atomic(path, "new", 3, 0600, &cause),
	    KF_OK);
	ck_assert_uint_eq(mode_of(path), 0600);
	umask(old);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(fileio_write_atomic_leaves_no_temp_file)
{
	char	path[PATH_MAX], victim[PATH_MAX], trap[PATH_MAX], name[64];
	char	*cause = NULL;
	int	i;

	path_of(path, "state.json");
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(fileio_write_atomic(path, "x", 1, 0600,
		    &cause), KF_OK);
	ck_assert_int_eq(count_entries(), 1);

	/*
	 * A symlink pre-placed at the old fixed temporary name (pid known
	 * to anyone) is neither followed nor in the way.
	 */
	make_file(victim, "victim", "precious", 8);
	ck_assert_int_lt(snprintf(name, sizeof(name), "state.json.tmp-%ld",
	    (long)getpid()), (int)sizeof(name));
	path_of(trap, name);
	ck_assert_int_eq(symlink(victim, trap), 0);
	ck_assert_int_eq(count_entries(), 3);
	ck_assert_msg(fileio_write_atomic(path, "fresh", 5, 0600, &cause) ==
	    KF_OK, "%s", cause);
	assert_content(path, "fresh", 5);
	assert_content(victim, "precious", 8);
	ck_assert_int_eq(count_entries(), 3);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(fileio_write_atomic_refuses_symlinks)
{
	char	path[PATH_MAX], real[PATH_MAX], link[PATH_MAX];
	char	victim[PATH_MAX], *cause = NULL;

	/* The file itself a symlink: not replaced, its target untouched. */
	make_file(victim, "victim", "precious", 8);
	path_of(link, "creds.json");
	ck_assert_int_eq(symlink(victim, link), 0);
	ck_assert_int_ne(fileio_write_atomic(link, "x", 1, 0600, &cause),
	    KF_OK);
	ck_assert_msg(strstr(cause, "not a regular file") != NULL, "%s",
	    cause);
	assert_content(victim, "precious", 8);
	free(cause);
	cause = NULL;

	/* Its directory a symlink: refused, nothing written there. */
	path_of(real, "real-dir");
	ck_assert_int_eq(mkdir(real, 0700), 0);
	path_of(link, "linked-dir");
	ck_assert_int_eq(symlink(real, link), 0);
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/creds.json", link),
	    (int)sizeof(path));
	ck_assert_int_ne(fileio_write_atomic(path, "x", 1, 0600, &cause),
	    KF_OK);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	ck_assert_int_eq(count_entries(), 4);
	ck_assert_int_eq(rmdir(real), 0);
	free(cause);
}
END_TEST

START_TEST(fileio_write_atomic_failure_names_path_cleans_up)
{
	char	path[PATH_MAX], *cause = NULL;

	/* The parent directory does not exist. */
	path_of(path, "missing-dir/file");
	ck_assert_int_ne(fileio_write_atomic(path, "x", 1, 0600, &cause),
	    KF_OK);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	ck_assert_int_eq(count_entries(), 0);

	/* The target is a directory: the rename fails, the temp goes. */
	path_of(path, "a-directory");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	free(cause);
	cause = NULL;
	ck_assert_int_ne(fileio_write_atomic(path, "x", 1, 0600, &cause),
	    KF_OK);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, path) != NULL, "%s", cause);
	ck_assert_int_eq(count_entries(), 1);
	free(cause);
}
END_TEST

/* Rewrites path n times, alternating all-A and all-B; the exit status. */
static int
writer(const char *path, int n)
{
	char	*a, *b;
	int	 i;

	a = malloc(BIG_SIZE);
	b = malloc(BIG_SIZE);
	if (a == NULL || b == NULL)
		return 2;
	memset(a, 'A', BIG_SIZE);
	memset(b, 'B', BIG_SIZE);
	for (i = 0; i < n; i++)
		if (fileio_write_atomic(path, i % 2 == 0 ? b : a, BIG_SIZE,
		    0600, NULL) != KF_OK)
			return 1;
	free(a);
	free(b);
	return 0;
}

START_TEST(fileio_reader_never_sees_partial_file)
{
	char		path[PATH_MAX], *cause = NULL, *all_a, *all_b;
	struct buf	b = BUF_INIT;
	pid_t		pid;
	int		i, status, n_reads, n_a = 0, n_b = 0;

	all_a = malloc(BIG_SIZE);
	all_b = malloc(BIG_SIZE);
	ck_assert_ptr_nonnull(all_a);
	ck_assert_ptr_nonnull(all_b);
	memset(all_a, 'A', BIG_SIZE);
	memset(all_b, 'B', BIG_SIZE);
	path_of(path, "shared");
	ck_assert_int_eq(fileio_write_atomic(path, all_a, BIG_SIZE, 0600,
	    &cause), KF_OK);

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* The parent's buffers are the child's too: no leak report. */
		free(all_a);
		free(all_b);
		_exit(writer(path, iters(200)));
	}

	n_reads = iters(200) * 10;
	for (i = 0; i < n_reads; i++) {
		buf_reset(&b);
		if (fileio_read(path, BIG_SIZE, &b, &cause) != KF_OK) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("read %d: %s", i, cause);
		}
		if (b.len == BIG_SIZE && memcmp(b.ptr, all_a, BIG_SIZE) == 0)
			n_a++;
		else if (b.len == BIG_SIZE &&
		    memcmp(b.ptr, all_b, BIG_SIZE) == 0)
			n_b++;
		else {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("read %d: %zu bytes, mixed or short", i,
			    b.len);
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(n_a + n_b, n_reads);
	/* After an even number of writes the last one was A. */
	assert_content(path, iters(200) % 2 == 0 ? all_a : all_b, BIG_SIZE);
	ck_assert_int_eq(count_entries(), 1);
	free(all_a);
	free(all_b);
	free(cause);
	buf_free(&b);
}
END_TEST

static Suite *
fileio_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("fileio");
	tc = tcase_create("read");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fileio_read_returns_whole_file);
	tcase_add_test(tc, fileio_read_empty_file);
	tcase_add_test(tc, fileio_read_appends_to_out);
	tcase_add_test(tc, fileio_read_over_max_is_einval);
	tcase_add_test(tc, fileio_read_missing_is_enotfound);
	tcase_add_test(tc, fileio_read_unreadable_is_einval);
	suite_add_tcase(s, tc);

	tc = tcase_create("write_atomic");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fileio_write_atomic_creates_with_mode);
	tcase_add_test(tc, fileio_write_atomic_replaces_content);
	tcase_add_test(tc, fileio_write_atomic_forces_the_mode);
	tcase_add_test(tc, fileio_write_atomic_refuses_symlinks);
	tcase_add_test(tc, fileio_write_atomic_leaves_no_temp_file);
	tcase_add_test(tc, fileio_write_atomic_failure_names_path_cleans_up);
	tcase_add_test(tc, fileio_reader_never_sees_partial_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(fileio_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
