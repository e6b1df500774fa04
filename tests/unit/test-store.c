/* test-store.c: unit tests for the GDBM state store and its locking. */
#include "autoconfig.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef HAVE_MALLINFO2
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "err.h"
#include "store.h"
#include "synccount.h"
#include "testutil.h"

/*
 * Covers: put/get/del round trips with binary values, absent keys, writes
 * refused in read transactions, prefix scans and early stop, directory and
 * file modes under loose and strict umasks, the schema record and refusal
 * of newer schemas, lost-update freedom of read-modify-write across
 * processes and across threads with concurrent readers, named locks, flock
 * held exactly for the life of a transaction, and readers never seeing half
 * of a multi-key write.  STORE_WRITE_NOSYNC: its writes are seen by other
 * processes, mixed with synced ones; the counter loses nothing with it
 * either; and it makes no sync call at all, where STORE_WRITE,
 * store_need_sync and store_sync_always do (synccount.h counts them).
 * A scan of a big file holds no more heap than a small one does (GDBM's
 * bucket cache is bounded; glibc's mallinfo2 measures it).  The reader a
 * thread keeps between transactions: a write by another process (or this
 * one) is seen by the next read, and a lock file removed under it is
 * made again and locked (a child process dropping what its parent kept is
 * what the cross-process counters rely on).  store_txn_view: unchanged
 * while nobody writes, new after any writer of any process and with a
 * lock file made again at the old generation, 0 once a transaction
 * writes.  STORE_READ_CACHED: no flock while nothing was written since
 * the thread last read under the lock (store_txn_flocks counts them), a
 * write by another process seen by the next one, stale exactly when a
 * record it returned changed before it locked (absent ones too, scans
 * too), a lock file made again or cut to 0 bytes (no SIGBUS, right
 * values, and a cut file never counting again through an old
 * generation), and what a thread keeps bounded in bytes.
 *
 * Every test gets its own mkdtemp directory; the store lives in its "state"
 * subdirectory, which store_open must create.  Concurrency tests order
 * events with pipes, never with sleeps, and assert nothing about time.
 * Readers are paced by a "tick" pipe that writers feed one byte per
 * transaction: flock lets readers that never pause starve a writer (see
 * store.c), and the point here is exclusion, not throughput.  The readers
 * stop at end of file, once every writer has exited.
 * KF_TEST_ITERS (default 200) sets the per-writer iteration count, so a
 * valgrind run can use fewer.
 */

#define N_WRITERS	8
#define N_READERS	4
#define COUNTER_KEY	"stats/counter"

static char	*test_root;
static char	 test_dir[PATH_MAX];
/* How increment writes. */
static enum store_mode	 counter_mode = STORE_WRITE;


static int
iters(void)
{
	const char	*s;
	char		*end;
	long		 n;

	if ((s = getenv("KF_TEST_ITERS")) == NULL)
		return 200;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 1 || n > 100000)
		return 200;
	return (int)n;
}

static void
setup(void)
{
	int	n;

	test_root = tu_tmpdir();
	n = snprintf(test_dir, sizeof(test_dir), "%s/state", test_root);
	ck_assert(n > 0 && (size_t)n < sizeof(test_dir));
}

static void
teardown(void)
{
	tu_rmrf(test_root);
	free(test_root);
	test_root = NULL;
}

static struct store *
open_store(void)
{
	struct store	*st = NULL;
	char		*cause = NULL;
	enum kf_err	 er;

	er = store_open(&st, test_dir, &cause);
	ck_assert_msg(er == KF_OK, "store_open: %s", cause ? cause : "?");
	ck_assert_ptr_nonnull(st);
	free(cause);
	return st;
}

static void
put_one(struct store *st, const char *key, const void *val, size_t len)
{
	struct store_txn	*txn;
	char			*cause = NULL;

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_put(txn, key, val, len), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	free(cause);
}

static enum kf_err
get_one(struct store *st, const char *key, struct buf *out)
{
	struct store_txn	*txn;
	char			*cause = NULL;
	enum kf_err		 er;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	er = store_get(txn, key, out);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	free(cause);
	return er;
}

static char *
path_in_store(const char *name)
{
	static char	path[PATH_MAX];
	int		n;

	n = snprintf(path, sizeof(path), "%s/%s", test_dir, name);
	ck_assert(n > 0 && (size_t)n < sizeof(path));
	return path;
}

static mode_t
mode_of(const char *path)
{
	struct stat	sb;

	ck_assert_msg(stat(path, &sb) == 0, "stat %s: %s", path,
	    strerror(errno));
	return sb.st_mode & 07777;
}

/* A non-blocking flock on path: 0 if it was granted (and let go), -1 if not. */
static int
probe_lock(const char *path, int op)
{
	int	fd, rc;

	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	rc = flock(fd, op | LOCK_NB);
	ck_assert(rc == 0 || errno == EWOULDBLOCK);
	close(fd);
	return rc;
}

/* Well-formed means all digits, no sign, no junk: what increment writes. */
static int
parse_count(const struct buf *b, long long *out)
{
	char		*end;
	long long	 v;

	if (b->len == 0 || b->len != strlen(b->ptr) ||
	    b->ptr[0] < '0' || b->ptr[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(b->ptr, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* One read-modify-write under LOCK_EX: 0 or -1 (reported on stderr). */
static int
increment(struct store *st)
{
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL, text[32];
	long long		 v;
	int			 rc = -1;

	if (store_begin(st, counter_mode, &txn, &cause) != KF_OK)
		goto out;
	if (store_get(txn, COUNTER_KEY, &b) != KF_OK ||
	    parse_count(&b, &v) == -1)
		goto end;
	snprintf(text, sizeof(text), "%lld", v + 1);
	if (store_put(txn, COUNTER_KEY, text, strlen(text)) != KF_OK)
		goto end;
	rc = 0;
end:
	if (store_end(txn, &cause) != KF_OK)
		rc = -1;
out:
	if (rc == -1)
		fprintf(stderr, "increment failed: %s\n",
		    cause ? cause : "bad record");
	free(cause);
	buf_free(&b);
	return rc;
}

/*
 * One read of the counter: it must be a number between the last one this
 * reader saw and the final total (the writers only ever add one).
 */
static int
read_counter(struct store *st, long long *last, long long total)
{
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL;
	long long		 v = -1;
	int			 rc = -1;

	if (store_begin(st, STORE_READ, &txn, &cause) != KF_OK)
		goto out;
	if (store_get(txn, COUNTER_KEY, &b) == KF_OK &&
	    parse_count(&b, &v) == 0 && v >= *last && v <= total)
		rc = 0;
	if (store_end(txn, &cause) != KF_OK)
		rc = -1;
out:
	if (rc == -1)
		fprintf(stderr, "reader saw \"%s\" after %lld: %s\n",
		    b.ptr ? b.ptr : "", *last, cause ? cause : "bad value");
	else
		*last = v;
	free(cause);
	buf_free(&b);
	return rc;
}

static int
read_byte(int fd)
{
	unsigned char	c;
	ssize_t		n;

	do {
		n = read(fd, &c, 1);
	} while (n == -1 && errno == EINTR);
	return n == 1 ? c : -1;
}

static int
write_byte(int fd, char c)
{
	ssize_t	n;

	do {
		n = write(fd, &c, 1);
	} while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* A forked child's way out: the store it inherited is freed, so that
 * valgrind (make check-valgrind) finds no leak in the child either. */
static void __attribute__((noreturn))
child_exit(struct store *st, int rc)
{
	store_close(st);
	_exit(rc);
}

static int
wait_status(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void
check_exit(int status, const char *what)
{
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s child failed (status 0x%x)", what, status);
}

static void
wait_ok(pid_t pid, const char *what)
{
	check_exit(wait_status(pid), what);
}

struct each_seen {
	int	 n;
	int	 stop_after;
	char	 keys[8][64];
	char	 vals[8][64];
	size_t	 lens[8];
	int	 bad;
};

static int
each_collect(void *arg, const char *key, const char *val, size_t len)
{
	struct each_seen	*seen = arg;

	if (val[len] != '\0' || seen->n >= 8 || strlen(key) >= 64 ||
	    len >= 64) {
		seen->bad = 1;
		return 1;
	}
	memcpy(seen->keys[seen->n], key, strlen(key) + 1);
	memcpy(seen->vals[seen->n], val, len + 1);
	seen->lens[seen->n] = len;
	seen->n++;
	return seen->stop_after != 0 && seen->n >= seen->stop_after;
}

static int
seen_has(const struct each_seen *seen, const char *key, const char *val)
{
	int	i;

	for (i = 0; i < seen->n; i++)
		if (strcmp(seen->keys[i], key) == 0)
			return val == NULL || strcmp(seen->vals[i], val) == 0;
	return 0;
}

static void
scan(struct store *st, const char *prefix, struct each_seen *seen)
{
	struct store_txn	*txn;
	char			*cause = NULL;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_each(txn, prefix, each_collect, seen), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(seen->bad, 0);
	free(cause);
}

START_TEST(store_round_trips_binary_values)
{
	static const char	 bin[] = { 'a', '\0', 'b', '\0', (char)0xff };
	struct store		*st;
	struct buf		 b = BUF_INIT;

	st = open_store();
	put_one(st, "cred/one", bin, sizeof(bin));
	ck_assert_int_eq(get_one(st, "cred/one", &b), KF_OK);
	ck_assert_uint_eq(b.len, sizeof(bin));
	ck_assert_mem_eq(b.ptr, bin, sizeof(bin));
	ck_assert_int_eq(b.ptr[b.len], '\0');

	/* Replacing with a shorter value, then an empty one. */
	put_one(st, "cred/one", "xy", 2);
	ck_assert_int_eq(get_one(st, "cred/one", &b), KF_OK);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_str_eq(b.ptr, "xy");
	put_one(st, "cred/one", NULL, 0);
	ck_assert_int_eq(get_one(st, "cred/one", &b), KF_OK);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.ptr, "");

	/* Values outlive the struct store. */
	put_one(st, "cred/two", "{\"v\":1}", 7);
	store_close(st);
	st = open_store();
	ck_assert_int_eq(get_one(st, "cred/two", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "{\"v\":1}");
	buf_free(&b);
	store_close(st);
}
END_TEST

START_TEST(store_get_of_absent_key_is_not_found)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;

	st = open_store();
	buf_puts(&b, "stale");
	ck_assert_int_eq(get_one(st, "cred/none", &b), KF_ENOTFOUND);
	ck_assert_uint_eq(b.len, 0);
	/* A key that is a prefix of a stored one is still absent. */
	put_one(st, "cred/abc", "1", 1);
	ck_assert_int_eq(get_one(st, "cred/ab", &b), KF_ENOTFOUND);
	buf_free(&b);
	store_close(st);
}
END_TEST

START_TEST(store_del_removes_and_absent_del_is_ok)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL;

	st = open_store();
	put_one(st, "sticky/s1", "x", 1);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_del(txn, "sticky/s1"), KF_OK);
	ck_assert_int_eq(store_get(txn, "sticky/s1", &b), KF_ENOTFOUND);
	ck_assert_int_eq(store_del(txn, "sticky/s1"), KF_OK);
	ck_assert_int_eq(store_del(txn, "sticky/never"), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(get_one(st, "sticky/s1", &b), KF_ENOTFOUND);
	buf_free(&b);
	free(cause);
	store_close(st);
}
END_TEST

START_TEST(store_put_in_read_txn_is_einval)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL;

	st = open_store();
	put_one(st, "cred/a", "1", 1);
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_put(txn, "cred/a", "2", 1), KF_EINVAL);
	ck_assert_int_eq(store_put(txn, "cred/b", "2", 1), KF_EINVAL);
	ck_assert_int_eq(store_del(txn, "cred/a"), KF_EINVAL);
	ck_assert_int_eq(store_get(txn, "cred/a", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "1");
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(get_one(st, "cred/b", &b), KF_ENOTFOUND);
	buf_free(&b);
	free(cause);
	store_close(st);
}
END_TEST

START_TEST(store_rejects_bad_arguments)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL;

	st = open_store();
	ck_assert_str_eq(store_dir(st), test_dir);
	ck_assert_int_eq(store_begin(st, STORE__MAX, &txn, &cause),
	    KF_EINVAL);
	ck_assert_ptr_null(txn);
	ck_assert_ptr_nonnull(cause);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_put(txn, "", "x", 1), KF_EINVAL);
	ck_assert_int_eq(store_put(txn, "k", NULL, 1), KF_EINVAL);
	ck_assert_int_eq(store_get(txn, "", &b), KF_EINVAL);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(store_end(NULL, &cause), KF_OK);
	store_close(NULL);
	store_unlock_named(-1);
	buf_free(&b);
	free(cause);
	store_close(st);
}
END_TEST

/* Counts the transactions opened, of every mode, and no refused one. */
START_TEST(store_txn_count_counts_each_opened_txn)
{
	struct store		*st;
	struct store_txn	*txn;
	char			*cause = NULL;
	unsigned long		 before;

	st = open_store();
	before = store_txn_count();
	put_one(st, "k", "v", 1);
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause),
	    KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_uint_eq(store_txn_count() - before, 3);
	ck_assert_int_eq(store_begin(st, STORE__MAX, &txn, &cause),
	    KF_EINVAL);
	ck_assert_uint_eq(store_txn_count() - before, 3);
	free(cause);
	store_close(st);
}
END_TEST

START_TEST(store_each_visits_exactly_the_prefix)
{
	struct store		*st;
	struct each_seen	 seen;

	st = open_store();
	put_one(st, "cred/a", "A", 1);
	put_one(st, "cred/b", "B\0b", 3);
	put_one(st, "cred-state/a", "SA", 2);
	put_one(st, "sticky/x", "X", 1);

	memset(&seen, 0, sizeof(seen));
	scan(st, "cred/", &seen);
	ck_assert_int_eq(seen.n, 2);
	ck_assert(seen_has(&seen, "cred/a", "A"));
	ck_assert(seen_has(&seen, "cred/b", "B"));
	ck_assert_uint_eq(seen.lens[strcmp(seen.keys[0], "cred/b") == 0 ?
	    0 : 1], 3);

	memset(&seen, 0, sizeof(seen));
	scan(st, "cred", &seen);
	ck_assert_int_eq(seen.n, 3);
	ck_assert(seen_has(&seen, "cred-state/a", "SA"));

	/* Everything, the schema record included. */
	memset(&seen, 0, sizeof(seen));
	scan(st, "", &seen);
	ck_assert_int_eq(seen.n, 5);
	ck_assert(seen_has(&seen, "meta/schema", "1"));
	memset(&seen, 0, sizeof(seen));
	scan(st, NULL, &seen);
	ck_assert_int_eq(seen.n, 5);

	memset(&seen, 0, sizeof(seen));
	scan(st, "nope/", &seen);
	ck_assert_int_eq(seen.n, 0);
	memset(&seen, 0, sizeof(seen));
	scan(st, "cred/a/longer", &seen);
	ck_assert_int_eq(seen.n, 0);
	store_close(st);
}
END_TEST

#ifdef HAVE_MALLINFO2
/* Heap in use now: small blocks plus mmapped ones. */
static size_t
heap_in_use(void)
{
	struct mallinfo2	mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int
note_peak(void *arg, const char *key, const char *val, size_t len)
{
	size_t	*peak = arg, now = heap_in_use();

	(void)key;
	(void)val;
	(void)len;
	if (now > *peak)
		*peak = now;
	return 0;
}
#endif

/*
 * Issue 8, item 15: the sticky-record prune scans the whole state file once
 * a minute, and GDBM's bucket cache grew to hold every bucket it read (a
 * 4 KB block each, 1.3 MB for 40,000 sessions) in whichever thread's arena
 * did the prune, which kept it.  Bounded, a scan of 30,000 records holds
 * well under the 500 KB that 120 buckets would take.
 */
START_TEST(store_each_heap_does_not_grow_with_the_file)
{
#ifdef HAVE_MALLINFO2
	struct store		*st;
	struct store_txn	*txn;
	char			*cause = NULL;
	char			 key[80];
	size_t			 base, peak, i;
	const size_t		 n_records = 30000;

	st = open_store();
	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause),
	    KF_OK);
	for (i = 0; i < n_records; i++) {
		snprintf(key, sizeof(key), "sticky/%064zx", i * 2654435761u);
		ck_assert_int_eq(store_put(txn, key,
		    "{\"v\":1,\"id\":1,\"until\":1}", 26), KF_OK);
	}
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	base = peak = heap_in_use();
	ck_assert_int_eq(store_each(txn, "sticky/", note_peak, &peak), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	/* Under valgrind mallinfo2 sees nothing (its malloc is not glibc's). */
	ck_assert_msg(peak - base < 500 * 1024,
	    "a scan of %zu records held %zu KB more heap", n_records,
	    (peak - base) / 1024);
	store_close(st);
	free(cause);
#endif
}
END_TEST

START_TEST(store_each_stops_when_callback_says_so)
{
	struct store		*st;
	struct each_seen	 seen;
	char			 key[32];
	int			 i;

	st = open_store();
	for (i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "flow/%d", i);
		put_one(st, key, "{}", 2);
	}
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	scan(st, "flow/", &seen);
	ck_assert_int_eq(seen.n, 2);
	store_close(st);
}
END_TEST

static void
check_modes_under_umask(mode_t mask)
{
	struct store	*st;
	mode_t		 old;

	old = umask(mask);
	st = open_store();
	umask(old);
	ck_assert_uint_eq(mode_of(test_dir), 0700);
	ck_assert_uint_eq(mode_of(path_in_store("kiro.db")), 0600);
	ck_assert_uint_eq(mode_of(path_in_store("kiro.db.lock")), 0600);
	store_close(st);
}

START_TEST(store_creates_dir_0700_and_files_0600_under_umask_022)
{
	check_modes_under_umask(022);
}
END_TEST

START_TEST(store_creates_dir_0700_and_files_0600_under_strict_umask)
{
	check_modes_under_umask(0377);
}
END_TEST

START_TEST(store_leaves_existing_dir_mode_alone)
{
	struct store	*st;

	ck_assert_int_eq(mkdir(test_dir, 0700), 0);
	ck_assert_int_eq(chmod(test_dir, 0755), 0);
	st = open_store();	/* warns on stderr */
	ck_assert_uint_eq(mode_of(test_dir), 0755);
	store_close(st);
}
END_TEST

START_TEST(store_open_fails_when_dir_is_a_file)
{
	struct store	*st;
	char		*cause = NULL;
	int		 fd;

	ck_assert_int_ne(fd = open(test_dir, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	ck_assert_int_eq(store_open(&st, test_dir, &cause), KF_ESTORE);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

START_TEST(store_new_db_has_schema_1)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;

	st = open_store();
	ck_assert_int_eq(get_one(st, "meta/schema", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "1");
	ck_assert_int_eq(STORE_SCHEMA_VERSION, 1);
	store_close(st);
	/* Reopening an existing database of our schema is fine. */
	st = open_store();
	buf_free(&b);
	store_close(st);
}
END_TEST

START_TEST(store_refuses_newer_schema)
{
	struct store	*st;
	char		*cause = NULL;

	st = open_store();
	put_one(st, "meta/schema", "999", 3);
	store_close(st);
	ck_assert_int_eq(store_open(&st, test_dir, &cause), KF_ESTORE);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "999") != NULL, "cause: %s", cause);
	ck_assert_msg(strstr(cause, "schema 1") != NULL, "cause: %s", cause);
	free(cause);
}
END_TEST

START_TEST(store_txn_holds_flock_until_end)
{
	struct store		*st;
	struct store_txn	*txn;
	char			*cause = NULL, *lock;

	st = open_store();
	lock = path_in_store("kiro.db.lock");
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_SH), 0);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), -1);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_SH), -1);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);
	free(cause);
	store_close(st);
}
END_TEST

/* k = "two", then enough new keys to split buckets and grow the directory. */
static void
write_and_grow(void)
{
	struct store	*mine = open_store();
	char		 key[32];
	int		 i;

	put_one(mine, "k", "two", 3);
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "grow/%d", i);
		put_one(mine, key, "x", 1);
	}
	store_close(mine);
}

/* A read, then another process writes: the next read must see it. */
START_TEST(store_kept_reader_sees_other_process_write)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;
	pid_t		 pid;

	st = open_store();
	put_one(st, "k", "one", 3);
	ck_assert_int_eq(get_one(st, "k", &b), KF_OK);
	ck_assert_int_eq(b.len, 3);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		write_and_grow();
		child_exit(st, 0);
	}
	check_exit(wait_status(pid), "writer");
	ck_assert_int_eq(get_one(st, "k", &b), KF_OK);
	ck_assert_int_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.ptr, "two", 3), 0);
	ck_assert_int_eq(get_one(st, "grow/1999", &b), KF_OK);
	/* And this process's own writes. */
	put_one(st, "k", "three", 5);
	ck_assert_int_eq(get_one(st, "k", &b), KF_OK);
	ck_assert_int_eq(b.len, 5);
	buf_free(&b);
	store_close(st);
}
END_TEST

/*
 * The kept reader remembers keys it found absent, as it does values:
 * another process adding or deleting one must be seen by the next read,
 * and each read must say what GDBM would.
 */
START_TEST(store_kept_reader_sees_key_another_process_adds)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			 key[32];
	pid_t			 pid;
	int			 i, k;

	st = open_store();
	put_one(st, "present", "p", 1);
	/* More keys than the reader keeps, absent and present, twice over. */
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL),
		    KF_OK);
		ck_assert_int_eq(store_get(txn, "later", &b), KF_ENOTFOUND);
		ck_assert_int_eq(store_get(txn, "later", &b), KF_ENOTFOUND);
		ck_assert_int_eq(store_get(txn, "present", &b), KF_OK);
		ck_assert_int_eq(b.len, 1);
		for (k = 0; k < 40; k++) {
			snprintf(key, sizeof(key), "none/%d", k);
			ck_assert_int_eq(store_get(txn, key, &b), KF_ENOTFOUND);
		}
		ck_assert_int_eq(store_get(txn, "later", &b), KF_ENOTFOUND);
		ck_assert_int_eq(store_get(txn, "present", &b), KF_OK);
		ck_assert_int_eq(memcmp(b.ptr, "p", 1), 0);
		ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	}
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct store	*mine = open_store();
		struct store_txn *w;

		put_one(mine, "later", "here", 4);
		if (store_begin(mine, STORE_WRITE, &w, NULL) != KF_OK ||
		    store_del(w, "present") != KF_OK ||
		    store_end(w, NULL) != KF_OK)
			_exit(1);
		store_close(mine);
		child_exit(st, 0);
	}
	check_exit(wait_status(pid), "writer");
	ck_assert_int_eq(get_one(st, "later", &b), KF_OK);
	ck_assert_int_eq(b.len, 4);
	ck_assert_int_eq(memcmp(b.ptr, "here", 4), 0);
	ck_assert_int_eq(get_one(st, "present", &b), KF_ENOTFOUND);
	/* And this process's own writes. */
	put_one(st, "present", "again", 5);
	ck_assert_int_eq(get_one(st, "present", &b), KF_OK);
	ck_assert_int_eq(b.len, 5);
	buf_free(&b);
	store_close(st);
}
END_TEST

/* The lock file removed between transactions: made again, and locked. */
START_TEST(store_lock_file_removed_is_recreated)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL, *lock;

	st = open_store();
	put_one(st, "k", "v", 1);
	ck_assert_int_eq(get_one(st, "k", &b), KF_OK);
	lock = path_in_store("kiro.db.lock");
	ck_assert_int_eq(unlink(lock), 0);
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), -1);
	ck_assert_int_eq(store_get(txn, "k", &b), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);
	free(cause);
	buf_free(&b);
	store_close(st);
}
END_TEST

/* The view of a read transaction begun now. */
static uint64_t
read_view(struct store *st)
{
	struct store_txn	*txn;
	uint64_t		 view;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	view = store_txn_view(txn);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	return view;
}

/*
 * store_txn_view: the same while nobody writes, new after any write
 * transaction (this process's, another's, one that wrote nothing), from
 * a write transaction the view it read until it puts or deletes, then 0.
 */
START_TEST(store_view_changes_with_every_writer)
{
	struct store		*st;
	struct store_txn	*txn;
	uint64_t		 v1, v2, v3;
	pid_t			 pid;

	st = open_store();
	v1 = read_view(st);
	ck_assert_uint_ne(v1, 0);
	ck_assert_uint_eq(read_view(st), v1);

	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, NULL),
	    KF_OK);
	ck_assert_uint_eq(store_txn_view(txn), v1);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	v2 = read_view(st);
	ck_assert_uint_ne(v2, v1);
	ck_assert_uint_ne(v2, 0);

	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_uint_eq(store_txn_view(txn), v2);
	ck_assert_int_eq(store_del(txn, "absent"), KF_OK);
	ck_assert_uint_eq(store_txn_view(txn), 0);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_uint_ne(store_txn_view(txn), 0);
	ck_assert_int_eq(store_put(txn, "k", "v", 1), KF_OK);
	ck_assert_uint_eq(store_txn_view(txn), 0);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	v3 = read_view(st);
	ck_assert_uint_ne(v3, v2);

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct store	*other = NULL;
		struct store_txn *w = NULL;

		/* Another process, with a handle of its own. */
		if (store_open(&other, test_dir, NULL) != KF_OK ||
		    store_begin(other, STORE_WRITE, &w, NULL) != KF_OK ||
		    store_put(w, "k", "w", 1) != KF_OK ||
		    store_end(w, NULL) != KF_OK)
			_exit(1);
		store_close(other);
		_exit(0);
	}
	check_exit(wait_status(pid), "writer");
	ck_assert_uint_ne(read_view(st), v3);
	store_close(st);
}
END_TEST

/*
 * A lock file made again starts its generation anew, and may reach the
 * old one's number: the view must change all the same.
 */
START_TEST(store_view_changes_with_a_new_lock_file)
{
	struct store	*st;
	uint64_t	 view, gen;
	char		*lock;
	int		 fd;

	st = open_store();
	put_one(st, "k", "v", 1);
	view = read_view(st);
	lock = path_in_store("kiro.db.lock");
	ck_assert_int_ne(fd = open(lock, O_RDONLY), -1);
	ck_assert_int_eq(pread(fd, &gen, sizeof(gen), 0), sizeof(gen));
	close(fd);
	ck_assert_int_eq(unlink(lock), 0);
	ck_assert_int_ne(fd = open(lock, O_RDWR | O_CREAT, 0600), -1);
	ck_assert_int_eq(pwrite(fd, &gen, sizeof(gen), 0), sizeof(gen));
	close(fd);
	ck_assert_uint_ne(read_view(st), view);
	store_close(st);
}
END_TEST

/*
 * Reads once per tick, then once more after the last writer has gone,
 * when the total must be there.  0 or -1.
 */
static int
counter_reader(struct store *st, int tick_fd, long long total)
{
	long long	last = 0;

	while (read_byte(tick_fd) != -1)
		if (read_counter(st, &last, total) == -1)
			return -1;
	if (read_counter(st, &last, total) == -1 || last != total)
		return -1;
	return 0;
}

/* n increments, one tick each.  0 or -1. */
static int
counter_writer(struct store *st, int tick_fd, int n)
{
	int	j;

	for (j = 0; j < n; j++) {
		if (increment(st) == -1)
			return -1;
		if (write_byte(tick_fd, 't') == -1)
			return -1;
	}
	return 0;
}

static void
counter_across_processes(void)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;
	pid_t		 readers[N_READERS], writers[N_WRITERS];
	long long	 total, v;
	int		 wstatus[N_WRITERS], tick[2], i, n;

	n = iters();
	total = (long long)N_WRITERS * n;
	st = open_store();
	put_one(st, COUNTER_KEY, "0", 1);
	ck_assert_int_eq(pipe(tick), 0);

	for (i = 0; i < N_READERS; i++) {
		ck_assert_int_ne(readers[i] = fork(), -1);
		if (readers[i] == 0) {
			close(tick[1]);
			child_exit(st, counter_reader(st, tick[0], total) ==
			    0 ? 0 : 1);
		}
	}
	for (i = 0; i < N_WRITERS; i++) {
		ck_assert_int_ne(writers[i] = fork(), -1);
		if (writers[i] == 0) {
			close(tick[0]);
			child_exit(st, counter_writer(st, tick[1], n) == 0 ?
			    0 : 1);
		}
	}
	/* Readers see end of file once the last writer has exited. */
	close(tick[0]);
	close(tick[1]);
	for (i = 0; i < N_WRITERS; i++)
		wstatus[i] = wait_status(writers[i]);
	for (i = 0; i < N_READERS; i++)
		check_exit(wait_status(readers[i]), "reader");
	/* After the readers: a writer whose readers died gets SIGPIPE. */
	for (i = 0; i < N_WRITERS; i++)
		check_exit(wstatus[i], "writer");

	ck_assert_int_eq(get_one(st, COUNTER_KEY, &b), KF_OK);
	ck_assert_int_eq(parse_count(&b, &v), 0);
	ck_assert_int_eq(v, total);
	buf_free(&b);
	store_close(st);
}

START_TEST(store_counter_has_no_lost_updates_across_processes)
{
	counter_mode = STORE_WRITE;
	counter_across_processes();
}
END_TEST

START_TEST(store_nosync_counter_has_no_lost_updates_across_processes)
{
	counter_mode = STORE_WRITE_NOSYNC;
	counter_across_processes();
}
END_TEST

struct thread_arg {
	struct store	*st;
	long long	 total;
	int		 tick_fd;
	int		 n;
	int		 failed;
};

static void *
writer_thread(void *p)
{
	struct thread_arg	*ta = p;

	ta->failed = counter_writer(ta->st, ta->tick_fd, ta->n) == -1;
	return NULL;
}

static void *
reader_thread(void *p)
{
	struct thread_arg	*ta = p;

	ta->failed = counter_reader(ta->st, ta->tick_fd, ta->total) == -1;
	return NULL;
}

START_TEST(store_counter_has_no_lost_updates_across_threads)
{
	struct store		*st;
	struct buf		 b = BUF_INIT;
	struct thread_arg	 wargs[N_WRITERS], rargs[N_READERS];
	pthread_t		 wt[N_WRITERS], rt[N_READERS];
	long long		 total, v;
	int			 tick[2], i, n;

	n = iters();
	total = (long long)N_WRITERS * n;
	st = open_store();
	put_one(st, COUNTER_KEY, "0", 1);
	ck_assert_int_eq(pipe(tick), 0);

	for (i = 0; i < N_READERS; i++) {
		rargs[i] = (struct thread_arg){ st, total, tick[0], n, 0 };
		ck_assert_int_eq(pthread_create(&rt[i], NULL, reader_thread,
		    &rargs[i]), 0);
	}
	for (i = 0; i < N_WRITERS; i++) {
		wargs[i] = (struct thread_arg){ st, total, tick[1], n, 0 };
		ck_assert_int_eq(pthread_create(&wt[i], NULL, writer_thread,
		    &wargs[i]), 0);
	}
	for (i = 0; i < N_WRITERS; i++)
		ck_assert_int_eq(pthread_join(wt[i], NULL), 0);
	close(tick[1]);
	for (i = 0; i < N_READERS; i++)
		ck_assert_int_eq(pthread_join(rt[i], NULL), 0);
	close(tick[0]);
	for (i = 0; i < N_WRITERS; i++)
		ck_assert_msg(!wargs[i].failed, "writer thread %d failed", i);
	for (i = 0; i < N_READERS; i++)
		ck_assert_msg(!rargs[i].failed, "reader thread %d failed", i);

	ck_assert_int_eq(get_one(st, COUNTER_KEY, &b), KF_OK);
	ck_assert_int_eq(parse_count(&b, &v), 0);
	ck_assert_int_eq(v, total);
	buf_free(&b);
	store_close(st);
}
END_TEST

/*
 * Child A takes the lock and reports 'A'; child B reports 'T' and then asks
 * for the same lock.  Only after B has asked does the parent let A go; A
 * reports 'R' just before releasing, B reports 'B' once it holds the lock.
 * A working lock can only produce "R" before "B".
 */
START_TEST(store_named_lock_excludes_other_process_until_released)
{
	struct store	*st;
	char		*cause = NULL, *lock;
	pid_t		 a, b;
	int		 events[2], go[2], fd;

	st = open_store();
	ck_assert_int_eq(pipe(events), 0);
	ck_assert_int_eq(pipe(go), 0);

	ck_assert_int_ne(a = fork(), -1);
	if (a == 0) {
		close(events[0]);
		close(go[1]);
		if ((fd = store_lock_named(st, "refresh-1", &cause)) == -1)
			child_exit(st, 1);
		if (write_byte(events[1], 'A') == -1)
			child_exit(st, 3);
		if (read_byte(go[0]) != 'g')
			child_exit(st, 2);
		if (write_byte(events[1], 'R') == -1)
			child_exit(st, 3);
		store_unlock_named(fd);
		child_exit(st, 0);
	}
	ck_assert_int_eq(read_byte(events[0]), 'A');
	lock = path_in_store("refresh-1.lock");
	ck_assert_uint_eq(mode_of(lock), 0600);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), -1);

	ck_assert_int_ne(b = fork(), -1);
	if (b == 0) {
		close(events[0]);
		close(go[1]);
		if (write_byte(events[1], 'T') == -1)
			child_exit(st, 3);
		if ((fd = store_lock_named(st, "refresh-1", &cause)) == -1)
			child_exit(st, 1);
		if (write_byte(events[1], 'B') == -1)
			child_exit(st, 3);
		store_unlock_named(fd);
		child_exit(st, 0);
	}
	ck_assert_int_eq(read_byte(events[0]), 'T');
	ck_assert_int_eq(write_byte(go[1], 'g'), 0);
	ck_assert_int_eq(read_byte(events[0]), 'R');
	ck_assert_int_eq(read_byte(events[0]), 'B');
	wait_ok(a, "holder");
	wait_ok(b, "waiter");
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);

	close(events[0]);
	close(events[1]);
	close(go[0]);
	close(go[1]);
	store_close(st);
}
END_TEST

START_TEST(store_named_lock_rejects_bad_names)
{
	static const char *const bad[] = {
		"", "../x", "a/b", "..", "x..y", "kiro.db", "sp ace", "nl\n",
		"refresh-1/", NULL
	};
	struct store	*st;
	char		*cause = NULL;
	int		 i, fd;

	st = open_store();
	for (i = 0; bad[i] != NULL; i++) {
		free(cause);
		cause = NULL;
		fd = store_lock_named(st, bad[i], &cause);
		ck_assert_msg(fd == -1, "name \"%s\" accepted", bad[i]);
		ck_assert_ptr_nonnull(cause);
	}
	ck_assert_int_eq(store_lock_named(st, NULL, &cause), -1);
	fd = store_lock_named(st, "Refresh_2.x-y", &cause);
	ck_assert_int_ne(fd, -1);
	store_unlock_named(fd);
	free(cause);
	store_close(st);
}
END_TEST

/*
 * The writer puts a, then filler records, then b, all in one transaction,
 * and ticks; readers fetch a and b in one read transaction per tick and
 * must always see them equal.
 */
static int
pair_writer(struct store *st, int tick_fd, int n)
{
	struct store_txn	*txn;
	char			*cause = NULL, text[32], key[32];
	int			 i, k, rc = 0;

	for (i = 1; i <= n && rc == 0; i++) {
		snprintf(text, sizeof(text), "%d", i);
		if (store_begin(st, STORE_WRITE, &txn, &cause) != KF_OK) {
			rc = -1;
			break;
		}
		if (store_put(txn, "pair/a", text, strlen(text)) != KF_OK)
			rc = -1;
		for (k = 0; k < 4 && rc == 0; k++) {
			snprintf(key, sizeof(key), "fill/%d", (i + k) % 16);
			if (store_put(txn, key, text, strlen(text)) != KF_OK)
				rc = -1;
		}
		if (rc == 0 &&
		    store_put(txn, "pair/b", text, strlen(text)) != KF_OK)
			rc = -1;
		if (store_end(txn, &cause) != KF_OK)
			rc = -1;
		if (rc == 0 && write_byte(tick_fd, 't') == -1)
			rc = -1;
	}
	if (rc == -1)
		fprintf(stderr, "pair writer: %s\n", cause ? cause : "put");
	free(cause);
	return rc;
}

static int
pair_reader(struct store *st, int tick_fd)
{
	struct store_txn	*txn;
	struct buf		 a = BUF_INIT, b = BUF_INIT;
	char			*cause = NULL;
	int			 rc = 0, more = 1;

	while (rc == 0 && more) {
		/* One last read after the writer has gone. */
		more = read_byte(tick_fd) != -1;
		if (store_begin(st, STORE_READ, &txn, &cause) != KF_OK) {
			rc = -1;
			break;
		}
		if (store_get(txn, "pair/a", &a) != KF_OK ||
		    store_get(txn, "pair/b", &b) != KF_OK ||
		    a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0) {
			fprintf(stderr, "pair reader: a=\"%s\" b=\"%s\"\n",
			    a.ptr ? a.ptr : "", b.ptr ? b.ptr : "");
			rc = -1;
		}
		if (store_end(txn, &cause) != KF_OK)
			rc = -1;
	}
	free(cause);
	buf_free(&a);
	buf_free(&b);
	return rc;
}

START_TEST(store_reader_never_sees_half_a_write_txn)
{
	struct store	*st;
	pid_t		 readers[N_READERS], writer;
	int		 wstatus, tick[2], i;

	st = open_store();
	put_one(st, "pair/a", "0", 1);
	put_one(st, "pair/b", "0", 1);
	ck_assert_int_eq(pipe(tick), 0);
	for (i = 0; i < N_READERS; i++) {
		ck_assert_int_ne(readers[i] = fork(), -1);
		if (readers[i] == 0) {
			close(tick[1]);
			child_exit(st, pair_reader(st, tick[0]) == 0 ? 0 :
			    1);
		}
	}
	ck_assert_int_ne(writer = fork(), -1);
	if (writer == 0) {
		close(tick[0]);
		child_exit(st, pair_writer(st, tick[1], iters() * 2) == 0 ?
		    0 : 1);
	}
	close(tick[0]);
	close(tick[1]);
	wstatus = wait_status(writer);
	for (i = 0; i < N_READERS; i++)
		check_exit(wait_status(readers[i]), "reader");
	check_exit(wstatus, "writer");
	store_close(st);
}
END_TEST

static void
put_nosync(struct store *st, const char *key, const char *val)
{
	struct store_txn	*txn;
	char			*cause = NULL;

	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause),
	    KF_OK);
	ck_assert_int_eq(store_will_sync(txn), 0);
	ck_assert_int_eq(store_put(txn, key, val, strlen(val)), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	free(cause);
}

/* In a child: key must hold want, then the child writes key2 = val2. */
static int
nosync_child(struct store *st, const char *key, const char *want,
    const char *key2, const char *val2)
{
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL;
	int			 rc = -1;

	if (store_begin(st, STORE_READ, &txn, &cause) != KF_OK)
		goto out;
	if (store_get(txn, key, &b) == KF_OK && strcmp(b.ptr, want) == 0)
		rc = 0;
	else
		fprintf(stderr, "child read %s = \"%s\", want \"%s\"\n", key,
		    b.ptr != NULL ? b.ptr : "", want);
	(void)store_end(txn, NULL);
	if (rc == 0 && (store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause) !=
	    KF_OK || store_put(txn, key2, val2, strlen(val2)) != KF_OK ||
	    store_end(txn, &cause) != KF_OK))
		rc = -1;
out:
	free(cause);
	buf_free(&b);
	return rc;
}

START_TEST(store_nosync_writes_are_seen_by_other_processes)
{
	struct store	*st, *st2;
	struct buf	 b = BUF_INIT;
	pid_t		 pid;

	st = open_store();
	put_one(st, "cred/1", "durable", 7);
	put_nosync(st, "rate/1", "{\"t\":[1]}");
	/* A child with its own struct store, as another responder is. */
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		st2 = open_store();
		store_close(st);
		child_exit(st2, nosync_child(st2, "rate/1", "{\"t\":[1]}",
		    "pool/rr", "{\"last\":7}") == 0 ? 0 : 1);
	}
	wait_ok(pid, "nosync reader");
	ck_assert_int_eq(get_one(st, "pool/rr", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "{\"last\":7}");

	/* Mixed with synced writes, and after a reopen, all is there. */
	put_one(st, "cred/1", "durable2", 8);
	put_nosync(st, "rate/1", "{\"t\":[1,2]}");
	store_close(st);
	st = open_store();
	ck_assert_int_eq(get_one(st, "cred/1", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "durable2");
	ck_assert_int_eq(get_one(st, "rate/1", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "{\"t\":[1,2]}");
	ck_assert_int_eq(get_one(st, "pool/rr", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "{\"last\":7}");
	buf_free(&b);
	store_close(st);
}
END_TEST

START_TEST(store_nosync_txn_makes_no_sync_call)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			*cause = NULL, key[32];
	int			 before, i;

	st = open_store();
	tu_sync_watch(path_in_store("kiro.db"));
	put_one(st, "sticky/old", "x", 1);

	/* Enough records to split buckets and grow the file. */
	before = tu_syncs();
	for (i = 0; i < 300; i++) {
		ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn,
		    &cause), KF_OK);
		snprintf(key, sizeof(key), "rate/%d", i);
		ck_assert_int_eq(store_put(txn, key, "{\"v\":1,\"t\":[1,2,3]}",
		    20), KF_OK);
		ck_assert_int_eq(store_put(txn, "pool/rr", key, strlen(key)),
		    KF_OK);
		ck_assert_int_eq(store_del(txn, "sticky/old"), KF_OK);
		ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	}
	ck_assert_int_eq(tu_syncs(), before);
	ck_assert_int_eq(get_one(st, "pool/rr", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "rate/299");
	ck_assert_int_eq(get_one(st, "rate/150", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "{\"v\":1,\"t\":[1,2,3]}");
	ck_assert_int_eq(tu_syncs(), before);	/* readers never sync */

	/* The control: a synced writer is counted, so the count works. */
	put_one(st, "cred/1", "c", 1);
	ck_assert_int_gt(tu_syncs(), before);

	/* store_need_sync turns a nosync transaction into a synced one. */
	before = tu_syncs();
	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause),
	    KF_OK);
	ck_assert_int_eq(store_put(txn, "cred-state/1", "s", 1), KF_OK);
	store_need_sync(txn);
	ck_assert_int_eq(store_will_sync(txn), 1);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_gt(tu_syncs(), before);

	/* A read transaction cannot be made to sync. */
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	store_need_sync(txn);
	ck_assert_int_eq(store_will_sync(txn), 0);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);

	/* store_sync_always: nosync transactions sync again. */
	store_sync_always(st, 1);
	before = tu_syncs();
	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause),
	    KF_OK);
	ck_assert_int_eq(store_will_sync(txn), 1);
	ck_assert_int_eq(store_put(txn, "rate/1", "r", 1), KF_OK);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_gt(tu_syncs(), before);
	ck_assert_int_eq(get_one(st, "rate/1", &b), KF_OK);
	ck_assert_str_eq(b.ptr, "r");
	buf_free(&b);
	free(cause);
	store_close(st);
}
END_TEST

START_TEST(store_nosync_put_in_read_txn_is_still_einval)
{
	struct store		*st;
	struct store_txn	*txn;
	char			*cause = NULL;

	st = open_store();
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, &cause), KF_OK);
	ck_assert_int_eq(store_put(txn, "rate/1", "1", 1), KF_EINVAL);
	ck_assert_int_eq(store_del(txn, "rate/1"), KF_EINVAL);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	/* And a nosync writer holds LOCK_EX until store_end. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE_NOSYNC, &txn, &cause),
	    KF_OK);
	ck_assert_int_eq(probe_lock(path_in_store("kiro.db.lock"), LOCK_SH),
	    -1);
	ck_assert_int_eq(store_end(txn, &cause), KF_OK);
	ck_assert_int_eq(probe_lock(path_in_store("kiro.db.lock"), LOCK_EX),
	    0);
	free(cause);
	store_close(st);
}
END_TEST

/*
 * STORE_READ_CACHED.  cached_get reads one key in a transaction of its
 * own; *flocks (NULL is fine) gets the flock calls it made, which are 0
 * when it read without the lock.
 */
static enum kf_err
cached_get(struct store *st, const char *key, struct buf *out,
    unsigned long *flocks)
{
	struct store_txn	*txn;
	unsigned long		 before = store_txn_flocks();
	enum kf_err		 er;

	ck_assert_int_eq(store_begin(st, STORE_READ_CACHED, &txn, NULL),
	    KF_OK);
	er = store_get(txn, key, out);
	ck_assert_int_eq(store_txn_stale(txn), 0);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	if (flocks != NULL)
		*flocks = store_txn_flocks() - before;
	return er;
}

static void
assert_value(const struct buf *b, const char *want)
{
	ck_assert_uint_eq(b->len, strlen(want));
	ck_assert_int_eq(memcmp(b->ptr, want, b->len), 0);
}

/* What another process writes, with the store it inherited. */
static void
put_in_child(struct store *st, const char *key, const char *val)
{
	pid_t	pid;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct store_txn	*txn;

		if (store_begin(st, STORE_WRITE, &txn, NULL) != KF_OK ||
		    store_put(txn, key, val, strlen(val)) != KF_OK ||
		    store_end(txn, NULL) != KF_OK)
			child_exit(st, 1);
		child_exit(st, 0);
	}
	wait_ok(pid, "writer");
}

/*
 * Nothing written since the thread read under the lock: no flock at all,
 * the same values (absent keys too), the same view, and the lock is free
 * all along.  A miss takes it, until store_end.  STORE_READ locks always.
 */
START_TEST(store_cached_read_takes_no_lock_while_nothing_changed)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	unsigned long		 flocks, txns;
	uint64_t		 view;
	char			*lock;

	st = open_store();
	lock = path_in_store("kiro.db.lock");
	put_one(st, "k", "v", 1);
	/* The first read locks: nothing is kept yet. */
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	ck_assert_uint_eq(flocks, 2);
	ck_assert_int_eq(cached_get(st, "none", &b, &flocks), KF_ENOTFOUND);
	ck_assert_uint_eq(flocks, 2);
	view = read_view(st);

	flocks = store_txn_flocks();
	txns = store_txn_count();
	ck_assert_int_eq(store_begin(st, STORE_READ_CACHED, &txn, NULL),
	    KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);
	ck_assert_int_eq(store_get(txn, "k", &b), KF_OK);
	assert_value(&b, "v");
	ck_assert_int_eq(store_get(txn, "none", &b), KF_ENOTFOUND);
	ck_assert_uint_eq(store_txn_view(txn), view);
	ck_assert_int_eq(store_put(txn, "k", "w", 1), KF_EINVAL);
	ck_assert_int_eq(store_del(txn, "k"), KF_EINVAL);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);
	ck_assert_uint_eq(store_txn_flocks(), flocks);
	/* A key it has not kept: read under the lock from here on. */
	ck_assert_int_eq(store_get(txn, "other", &b), KF_ENOTFOUND);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), -1);
	ck_assert_int_eq(probe_lock(lock, LOCK_SH), 0);
	ck_assert_int_eq(store_txn_stale(txn), 0);
	ck_assert_uint_eq(store_txn_view(txn), view);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(probe_lock(lock, LOCK_EX), 0);
	ck_assert_uint_eq(store_txn_flocks() - flocks, 2);
	ck_assert_uint_eq(store_txn_count() - txns, 1);

	/* Counted as a transaction, like every other. */
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	ck_assert_uint_eq(flocks, 0);
	ck_assert_uint_eq(store_txn_count() - txns, 2);
	/* STORE_READ keeps its lock. */
	flocks = store_txn_flocks();
	ck_assert_int_eq(get_one(st, "k", &b), KF_OK);
	ck_assert_uint_eq(store_txn_flocks() - flocks, 2);
	buf_free(&b);
	store_close(st);
}
END_TEST

/* Another process writes between two lock-free reads: the second sees it. */
START_TEST(store_cached_read_sees_other_process_write)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;
	unsigned long	 flocks;

	st = open_store();
	put_one(st, "k", "one", 3);
	ck_assert_int_eq(cached_get(st, "k", &b, NULL), KF_OK);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	ck_assert_uint_eq(flocks, 0);
	assert_value(&b, "one");
	put_in_child(st, "k", "two");
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "two");
	ck_assert_uint_eq(flocks, 2);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "two");
	ck_assert_uint_eq(flocks, 0);
	/* And this process's own writes. */
	put_one(st, "k", "three", 5);
	ck_assert_int_eq(cached_get(st, "k", &b, NULL), KF_OK);
	assert_value(&b, "three");
	buf_free(&b);
	store_close(st);
}
END_TEST

/* Keeps "a" (= "A") and "gone" (absent) with the thread's reader. */
static struct store *
open_with_kept_reads(void)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;

	st = open_store();
	put_one(st, "a", "A", 1);
	put_one(st, "b", "B", 1);
	put_one(st, "c", "C", 1);
	ck_assert_int_eq(cached_get(st, "a", &b, NULL), KF_OK);
	ck_assert_int_eq(cached_get(st, "gone", &b, NULL), KF_ENOTFOUND);
	buf_free(&b);
	return st;
}

/*
 * A lock-free transaction returns "a" and "gone"; another process writes
 * key, then the transaction reads "b", which it has not kept.  1 if it
 * is stale then; "b" must read right either way, and "c" afterwards.
 */
static int
write_between_hit_and_miss(const char *key, const char *val)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	unsigned long		 flocks;
	int			 stale;

	st = open_with_kept_reads();
	flocks = store_txn_flocks();
	ck_assert_int_eq(store_begin(st, STORE_READ_CACHED, &txn, NULL),
	    KF_OK);
	ck_assert_int_eq(store_get(txn, "a", &b), KF_OK);
	assert_value(&b, "A");
	ck_assert_int_eq(store_get(txn, "gone", &b), KF_ENOTFOUND);
	ck_assert_uint_eq(store_txn_flocks(), flocks);
	put_in_child(st, key, val);
	ck_assert_int_eq(store_get(txn, "b", &b), KF_OK);
	assert_value(&b, strcmp(key, "b") == 0 ? val : "B");
	ck_assert_int_eq(store_get(txn, "c", &b), KF_OK);
	assert_value(&b, strcmp(key, "c") == 0 ? val : "C");
	stale = store_txn_stale(txn);
	/* Its reads are of a newer state than its view said. */
	ck_assert_uint_eq(store_txn_view(txn), 0);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_uint_eq(store_txn_flocks() - flocks, 2);
	/* What the next one reads is the new state, and not stale. */
	ck_assert_int_eq(cached_get(st, key, &b, NULL), KF_OK);
	assert_value(&b, val);
	buf_free(&b);
	store_close(st);
	return stale;
}

START_TEST(store_cached_txn_is_stale_when_a_key_it_returned_changed)
{
	ck_assert_int_eq(write_between_hit_and_miss("a", "A2"), 1);
	/* A key it found absent, added: as much a change. */
	ck_assert_int_eq(write_between_hit_and_miss("gone", "here"), 1);
}
END_TEST

START_TEST(store_cached_txn_is_not_stale_when_other_keys_changed)
{
	ck_assert_int_eq(write_between_hit_and_miss("b", "B2"), 0);
	ck_assert_int_eq(write_between_hit_and_miss("c", "C2"), 0);
	ck_assert_int_eq(write_between_hit_and_miss("new", "N"), 0);
	/* The same bytes written again: not a change. */
	ck_assert_int_eq(write_between_hit_and_miss("a", "A"), 0);
}
END_TEST

/* A scan is never served from what was kept: it locks, and checks. */
START_TEST(store_cached_scan_locks_and_checks)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	struct each_seen	 seen;

	st = open_with_kept_reads();
	ck_assert_int_eq(store_begin(st, STORE_READ_CACHED, &txn, NULL),
	    KF_OK);
	ck_assert_int_eq(store_get(txn, "a", &b), KF_OK);
	put_in_child(st, "a", "A2");
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(store_each(txn, "", each_collect, &seen), KF_OK);
	ck_assert_int_eq(seen.bad, 0);
	ck_assert(seen_has(&seen, "a", "A2"));
	ck_assert(seen_has(&seen, "b", "B"));
	ck_assert_int_eq(store_txn_stale(txn), 1);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	buf_free(&b);
	store_close(st);
}
END_TEST

/* The lock file's generation, as the file holds it; 0 if it has none. */
static uint64_t
lock_generation(void)
{
	uint64_t	gen = 0;
	int		fd;

	ck_assert_int_ne(fd = open(path_in_store("kiro.db.lock"), O_RDONLY),
	    -1);
	if (pread(fd, &gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
		gen = 0;
	close(fd);
	return gen;
}

static void
truncate_in_child(struct store *st)
{
	pid_t	pid;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if (truncate(path_in_store("kiro.db.lock"), 0) == -1)
			child_exit(st, 1);
		child_exit(st, 0);
	}
	wait_ok(pid, "truncate");
}

/*
 * The lock file removed and made again by another process, which then
 * writes: the new value, and lock-free reads again after that.
 */
START_TEST(store_cached_read_follows_a_lock_file_made_again)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;
	unsigned long	 flocks;
	pid_t		 pid;

	st = open_store();
	put_one(st, "k", "one", 3);
	ck_assert_int_eq(cached_get(st, "k", &b, NULL), KF_OK);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	ck_assert_uint_eq(flocks, 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct store_txn	*txn;

		if (unlink(path_in_store("kiro.db.lock")) == -1 ||
		    store_begin(st, STORE_WRITE, &txn, NULL) != KF_OK ||
		    store_put(txn, "k", "two", 3) != KF_OK ||
		    store_end(txn, NULL) != KF_OK)
			child_exit(st, 1);
		child_exit(st, 0);
	}
	wait_ok(pid, "writer");
	ck_assert_uint_ne(lock_generation(), 0);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "two");
	ck_assert_uint_eq(flocks, 2);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "two");
	ck_assert_uint_eq(flocks, 0);
	buf_free(&b);
	store_close(st);
}
END_TEST

/*
 * The lock file cut to 0 bytes under a mapping of it: reading the mapping
 * would fault, so reads lock until a writer numbers it again, and then
 * see what it wrote.
 */
START_TEST(store_cached_read_survives_a_truncated_lock_file)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;
	unsigned long	 flocks;

	st = open_store();
	put_one(st, "k", "one", 3);
	ck_assert_int_eq(cached_get(st, "k", &b, NULL), KF_OK);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	ck_assert_uint_eq(flocks, 0);
	truncate_in_child(st);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "one");
	ck_assert_uint_eq(flocks, 2);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	ck_assert_uint_eq(flocks, 2);
	put_in_child(st, "k", "two");
	ck_assert_uint_ne(lock_generation(), 0);
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "two");
	ck_assert_int_eq(cached_get(st, "k", &b, &flocks), KF_OK);
	assert_value(&b, "two");
	ck_assert_uint_eq(flocks, 0);
	buf_free(&b);
	store_close(st);
}
END_TEST

/*
 * A lock file cut short and numbered again by one write must not reach
 * the generation a reader was opened at after the last cut (counting
 * from 1 again would, and the reader would answer from the old state).
 */
START_TEST(store_truncated_lock_file_never_repeats_a_generation)
{
	struct store	*st;
	struct buf	 b = BUF_INIT;
	uint64_t	 first;

	st = open_store();
	ck_assert_int_eq(truncate(path_in_store("kiro.db.lock"), 0), 0);
	put_one(st, "k", "one", 3);
	first = lock_generation();
	ck_assert_uint_ne(first, 0);
	ck_assert_int_eq(cached_get(st, "k", &b, NULL), KF_OK);
	assert_value(&b, "one");
	truncate_in_child(st);
	put_in_child(st, "k", "two");
	ck_assert_uint_ne(lock_generation(), first);
	ck_assert_int_eq(cached_get(st, "k", &b, NULL), KF_OK);
	assert_value(&b, "two");
	buf_free(&b);
	store_close(st);
}
END_TEST

/*
 * What a thread keeps is bounded in bytes as well as in records: twenty
 * values of 4000 bytes are more than it keeps, so reading them all again
 * must lock, where four of them are kept and need not.
 */
START_TEST(store_cached_values_are_bounded)
{
	struct store		*st;
	struct store_txn	*txn;
	struct buf		 b = BUF_INIT;
	char			 key[32], val[4000];
	unsigned long		 flocks;
	int			 i, round;

	st = open_store();
	for (i = 0; i < 20; i++) {
		memset(val, 'a' + i, sizeof(val));
		snprintf(key, sizeof(key), "big/%d", i);
		put_one(st, key, val, sizeof(val));
	}
	for (round = 0; round < 2; round++) {
		flocks = store_txn_flocks();
		ck_assert_int_eq(store_begin(st, STORE_READ_CACHED, &txn,
		    NULL), KF_OK);
		for (i = 0; i < (round == 0 ? 20 : 4); i++) {
			snprintf(key, sizeof(key), "big/%d", i);
			ck_assert_int_eq(store_get(txn, key, &b), KF_OK);
			ck_assert_uint_eq(b.len, sizeof(val));
			ck_assert_int_eq(b.ptr[0], 'a' + i);
			ck_assert_int_eq(b.ptr[sizeof(val) - 1], 'a' + i);
		}
		ck_assert_int_eq(store_end(txn, NULL), KF_OK);
		/* Round 0 starts with nothing kept; the last ones stay. */
		ck_assert_uint_eq(store_txn_flocks() - flocks, 2);
	}
	flocks = store_txn_flocks();
	ck_assert_int_eq(store_begin(st, STORE_READ_CACHED, &txn, NULL),
	    KF_OK);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "big/%d", i);
		ck_assert_int_eq(store_get(txn, key, &b), KF_OK);
		ck_assert_int_eq(b.ptr[0], 'a' + i);
	}
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_uint_eq(store_txn_flocks() - flocks, 0);
	buf_free(&b);
	store_close(st);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("store");
	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	/* Generous: valgrind and loaded CI machines are slow; we assert order. */
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, store_round_trips_binary_values);
	tcase_add_test(tc, store_get_of_absent_key_is_not_found);
	tcase_add_test(tc, store_del_removes_and_absent_del_is_ok);
	tcase_add_test(tc, store_put_in_read_txn_is_einval);
	tcase_add_test(tc, store_rejects_bad_arguments);
	tcase_add_test(tc, store_txn_count_counts_each_opened_txn);
	tcase_add_test(tc, store_each_visits_exactly_the_prefix);
	tcase_add_test(tc, store_each_stops_when_callback_says_so);
	tcase_add_test(tc, store_each_heap_does_not_grow_with_the_file);
	tcase_add_test(tc, store_creates_dir_0700_and_files_0600_under_umask_022);
	tcase_add_test(tc,
	    store_creates_dir_0700_and_files_0600_under_strict_umask);
	tcase_add_test(tc, store_leaves_existing_dir_mode_alone);
	tcase_add_test(tc, store_open_fails_when_dir_is_a_file);
	tcase_add_test(tc, store_new_db_has_schema_1);
	tcase_add_test(tc, store_refuses_newer_schema);
	tcase_add_test(tc, store_txn_holds_flock_until_end);
	tcase_add_test(tc, store_kept_reader_sees_other_process_write);
	tcase_add_test(tc, store_kept_reader_sees_key_another_process_adds);
	tcase_add_test(tc, store_lock_file_removed_is_recreated);
	tcase_add_test(tc, store_counter_has_no_lost_updates_across_processes);
	tcase_add_test(tc, store_counter_has_no_lost_updates_across_threads);
	tcase_add_test(tc,
	    store_named_lock_excludes_other_process_until_released);
	tcase_add_test(tc, store_named_lock_rejects_bad_names);
	tcase_add_test(tc, store_reader_never_sees_half_a_write_txn);
	tcase_add_test(tc,
	    store_nosync_counter_has_no_lost_updates_across_processes);
	tcase_add_test(tc, store_nosync_writes_are_seen_by_other_processes);
	tcase_add_test(tc, store_nosync_txn_makes_no_sync_call);
	tcase_add_test(tc, store_nosync_put_in_read_txn_is_still_einval);
	tcase_add_test(tc, store_view_changes_with_every_writer);
	tcase_add_test(tc, store_view_changes_with_a_new_lock_file);
	tcase_add_test(tc,
	    store_cached_read_takes_no_lock_while_nothing_changed);
	tcase_add_test(tc, store_cached_read_sees_other_process_write);
	tcase_add_test(tc,
	    store_cached_txn_is_stale_when_a_key_it_returned_changed);
	tcase_add_test(tc,
	    store_cached_txn_is_not_stale_when_other_keys_changed);
	tcase_add_test(tc, store_cached_scan_locks_and_checks);
	tcase_add_test(tc, store_cached_read_follows_a_lock_file_made_again);
	tcase_add_test(tc, store_cached_read_survives_a_truncated_lock_file);
	tcase_add_test(tc,
	    store_truncated_lock_file_never_repeats_a_generation);
	tcase_add_test(tc, store_cached_values_are_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(store_suite());
}
