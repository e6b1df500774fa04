/* store.c: GDBM state file under flock, one short transaction at a time. */
#include "autoconfig.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gdbm.h>

#include "buf.h"
#include "digest.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "store.h"
#include "xmalloc.h"

/*
 * Locking.  Every transaction flock()s <dir>/kiro.db.lock through its
 * thread's own descriptor (see Kept handles): shared for readers,
 * exclusive for writers; a STORE_READ_CACHED transaction may take none
 * (see Reading without the lock).  flock locks belong to the
 * open file description, so two transactions in two threads of one process
 * exclude each other exactly as two processes do.  The corollary is that a
 * thread must never begin a transaction while it holds one: the second
 * store_begin waits on the first forever.  GDBM is opened with GDBM_NOLOCK
 * (its own fcntl/flock locking would be per process, and we already hold
 * ours) and closed before the flock is released, so no handle outlives its
 * lock and every transaction sees the file as the last writer left it.
 * GDBM_NOMMAP because a mapping made and torn down per transaction costs
 * more than the few reads it saves (page faults, and TLB shootdowns in a
 * threaded process): a read transaction costs about half as much without.
 *
 * Kept handles.  Opening the lock file and GDBM for every transaction was
 * most of a read's cost (a dozen syscalls: open, header, directory and
 * bucket reads, closes).  Each thread therefore keeps, between its
 * transactions, its own descriptor of the lock file (an open file
 * description of its own, so threads still exclude each other) and a GDBM
 * reader handle, and reuses the reader only when no write transaction
 * has begun since it was opened: every writer, holding LOCK_EX, adds one
 * to a generation number kept in the first 8 bytes of the lock file
 * before it writes anything (a writer that dies half way has bumped it
 * too), and a reader, holding LOCK_SH, compares it with its handle's
 * (small records read through the reader are kept with it, since GDBM
 * caches the data of only one record per bucket).  A lock file without
 * the number (made again, or cut short) reads as generation 0 until a
 * writer gives it one, and the writer starts it at a random number, not
 * at 1, so that a file cut short never counts again through a
 * generation some thread's reader was opened at.  A
 * lock file that lost its last link is reopened by path, and a child
 * process drops what its parent kept (pthread_atfork), since a shared
 * open file description would share the parent's flock.  Writers open
 * GDBM for each transaction as before.
 *
 * Reading without the lock.  A read transaction took four system calls
 * for its lock and the generation check (fstat, flock, pread, flock), and
 * every thread of every responder contended on the one lock.  Each thread
 * therefore also maps the lock file's first page (read-only, shared, so
 * it sees writers' bumps at once), and a STORE_READ_CACHED transaction
 * that finds the generation where its thread's reader was opened takes
 * no lock: since a writer bumps the number before it writes, every record
 * kept with the reader is still what the file holds when the transaction
 * begins, and its reads of them are one snapshot of that moment.  Its
 * first read of anything else (a record not kept, a scan) takes LOCK_SH
 * and checks the generation again: unchanged, the transaction goes on as
 * a locked one; moved, the reader is opened again and each record the
 * transaction returned so far is read again and compared, and if any
 * differs the transaction is stale (store_txn_stale).  Reading a mapping
 * past the end of its file faults (SIGBUS), so the mapping is only read
 * when the fstat each transaction makes anyway found the 8 bytes; a
 * file cut short between that fstat and the read (nothing of ours
 * truncates it) is the one case this cannot cover.
 *
 * Fairness.  Linux grants LOCK_SH whenever no LOCK_EX is held, even while a
 * writer waits, so readers that overlap without pause can starve a writer:
 * against four processes reading in a loop on two CPUs, writes took 0.2 s
 * on average and up to 2 s.  Real callers alternate reads with writes and
 * do network I/O in between, which leaves gaps, so we accept this.  If it
 * ever matters, a turnstile fixes it: each transaction takes an exclusive
 * flock on a second file, then its lock here, then drops the turnstile
 * (measured: writes then averaged 2 ms and took 15 ms at worst, for 2-4 us
 * more per transaction).
 * Do not build the turnstile from OFD fcntl locks on this same file:
 * valgrind 3.19 treats F_OFD_SETLKW as non-blocking and deadlocks
 * threaded programs that wait on one.
 *
 * Crash safety.  If a process dies inside a transaction, the kernel closes
 * its descriptors and so releases the flock; nothing has to be cleaned up.
 * Each gdbm_store and gdbm_delete finishes its own update of buckets,
 * directory and header in the file before it returns (GDBM's
 * _gdbm_end_update), and the page cache keeps those writes when a process
 * dies, so:
 *   - death between two puts leaves a well-formed file holding the puts
 *     made so far.  A transaction is isolated (readers never see it half
 *     done, because the writer holds LOCK_EX until store_end) but it is NOT
 *     atomic against the writer's death: there is no rollback, so records
 *     that must agree should live under one key where that matters;
 *   - death inside a single gdbm_store or gdbm_delete (a handful of
 *     write(2) calls: data, bucket, directory, header) can leave that one
 *     update torn.  The window is small.  GDBM validates buckets and the
 *     header as it reads them, so such damage usually surfaces as
 *     KF_ESTORE, and "gdbmtool kiro.db recover" repairs the file.
 * Synced writers' gdbm_close fsyncs the file before the lock is released,
 * so a STORE_WRITE transaction that store_end reported as successful
 * survives a power failure too; one cut off by a system crash before that may be lost
 * entirely or in part, with the same caveat about a torn last update.
 * GDBM's crash-tolerance mode (gdbm_failure_atomic) would close these gaps
 * but needs reflink snapshots from the file system, so we do not rely on it.
 *
 * Unsynced writers.  gdbm_close fsyncs every writer, and so does gdbm_sync;
 * GDBM has no switch for it.  Each gdbm_store and gdbm_delete has already
 * written its update with write(2) before it returns (GDBM_SYNC is off), so
 * all that close adds is the fsync.  A STORE_WRITE_NOSYNC transaction
 * therefore points GDBM's descriptor at an empty memfd (dup3) before
 * gdbm_close: the fsync lands there and costs nothing, and the database's
 * own descriptor is closed by the dup3.  This relies on GDBM writing
 * nothing at close but what it has already written; a GDBM that deferred
 * writes to gdbm_close would lose them, and test-store's nosync tests
 * (which read back from other processes and after reopening) would fail.
 * Other processes read the page cache, so they see the writes at once.
 * The writes reach the disk with the next synced transaction's fsync
 * (which covers the whole file) or the kernel's writeback.  A power cut
 * before that loses them, and since the kernel writes dirty pages back in
 * no particular order it can also leave a torn update, as a cut during a
 * synced transaction can: the window is the writeback delay instead of the
 * milliseconds of one transaction.  Hence soft state only.
 * store_sync_always turns the mode off for a whole store.
 * Without memfd_create, nosync transactions sync.
 *
 * Keys are stored without a trailing NUL; values exactly as given.
 */

#define STORE_DB_NAME		"kiro.db"
#define STORE_LOCK_SUFFIX	".lock"
#define STORE_SCHEMA_KEY	"meta/schema"
#define STORE_LOCK_NAME_MAX	128
/*
 * GDBM's bucket cache, in buckets (a file-system block each, 4 KB here).
 * Its default grows to hold every bucket a handle reads, up to 512: a scan
 * of the whole file (the sticky-record prune) cost 1.3 MB at 40,000
 * records, in whichever thread's malloc arena did it, which kept it (issue
 * 8, item 15).  A handle lives for one transaction and the page cache holds
 * the file, so a few buckets are all a cache can save.
 */
#define STORE_GDBM_CACHE	16

#ifdef HAVE_MEMFD_CREATE
#define STORE_CAN_SKIP_SYNC	1
#else
#define STORE_CAN_SKIP_SYNC	0
#endif

/* Immutable after store_open, so threads may share it freely. */
struct store {
	char		*dir;
	char		*db_path;
	char		*lock_path;
	uint64_t	 serial;	/* this open, for the thread caches */
	int		 sync_always;
};

/*
 * Records a thread read through its kept reader, valid as long as the
 * reader is: GDBM keeps the data of one record per cached bucket, so the
 * few records every request reads (all in one bucket of a small file)
 * cost a seek and a read each, every time.  Small records only, and keys
 * found absent, which cost as much to look up again: a request reads
 * about a dozen keys, half of them absent (settings nobody set, a new
 * account's state and model list).  A hash of the key spares most
 * string compares.  They are also all a STORE_READ_CACHED transaction
 * reads without the lock, so there is room for every record of a pick
 * and the few other reads of a request (16 were too few: a request that
 * reads more keys than are kept, in the same order every time, replaces
 * each before it is read again).
 */
#define STORE_VALUES		32
#define STORE_VALUE_MAX		4096
#define STORE_VALUE_KEY_MAX	256
#define STORE_VALUES_BYTES	65536	/* keys and values together */

/* A STORE_READ_CACHED transaction notes in a bit mask what it returned. */
_Static_assert(STORE_VALUES <= 32, "store_txn.returned has 32 bits");

/*
 * Values may be credentials: their bytes are wiped when dropped, and
 * never logged.
 */
struct store_value {
	char		*key;		/* NULL: free */
	uint32_t	 hash;		/* of key */
	int		 absent;	/* the key has no record */
	size_t		 bytes;		/* key and value: counted in the cache */
	struct buf	 val;
};

/* What one thread keeps of one store between transactions (see the top). */
struct store_cache {
	uint64_t		 serial;	/* the store's; 0: nothing kept */
	int			 lock_fd;
	GDBM_FILE		 reader;
	uint64_t		 reader_gen;	/* the generation it was opened at */
	const uint64_t		*gen_map;	/* the lock file's; NULL: none */
	struct store_value	 values[STORE_VALUES];	/* the reader's */
	size_t			 next_value;	/* the one replaced next */
	size_t			 values_used;	/* values past it are all free */
	size_t			 last_found;	/* where values_find looks after */
	size_t			 values_bytes;	/* held in values */
	uint64_t		 view;		/* store_txn_view; 0: none */
	uint64_t		 view_gen;	/* the generation it stands for */
};

/* One thread's transaction: the lock descriptor and the GDBM handle. */
struct store_txn {
	const struct store	*st;
	struct store_cache	*cache;
	GDBM_FILE		 db;	/* cache->reader for reads; NULL: lost */
	int			 lock_fd;	/* cache->lock_fd */
	enum store_mode		 mode;
	int			 locked;	/* holds its flock */
	int			 optimistic;	/* no lock yet: values only */
	uint32_t		 returned;	/* values it returned then */
	int			 stale;		/* store_txn_stale */
	int			 sync;	/* store_end fsyncs */
	int			 failed;	/* a GDBM call failed */
	uint64_t		 view;	/* store_txn_view */
};

static pthread_once_t	 cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t	 cache_key;
static uint64_t		 store_serials;
static uint64_t		 store_views;	/* the last view handed out */

static int
store_flock(int fd, int op)
{
	int	rc;

	do {
		rc = flock(fd, op);
	} while (rc == -1 && errno == EINTR);
	return rc;
}

/*
 * Opens (creating if needed) a lock file that must end up 0600 whatever the
 * umask: a file we create is fchmod()ed, one that exists is left as it is.
 * Retries if the file vanishes between the two opens.
 */
static int
store_lockfile_open(const char *path, char **cause)
{
	int	fd, tries;

	for (tries = 0; tries < 8; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1) {
			if (fchmod(fd, 0600) == -1) {
				xsetprintf(cause, "fchmod %s: %s", path,
				    strerror(errno));
				(void)close(fd);
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			break;
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) != -1)
			return fd;
		if (errno != ENOENT)
			break;
	}
	xsetprintf(cause, "%s: %s", path, strerror(errno));
	return -1;
}

/*
 * A cause for a failed gdbm_open or gdbm_close, after which there is no
 * handle to ask: the thread's gdbm_errno, plus errno when it is a system
 * error.  Call it straight after the failure.
 */
static void
store_gdbm_cause(char **cause, const char *call, const char *path)
{
	int		saved_errno = errno;
	gdbm_error	ge = gdbm_errno;

	if (gdbm_check_syserr(ge))
		xsetprintf(cause, "%s %s: %s: %s", call, path,
		    gdbm_strerror(ge), strerror(saved_errno));
	else
		xsetprintf(cause, "%s %s: %s", call, path, gdbm_strerror(ge));
}

static GDBM_FILE
store_gdbm_open(const char *path, int flags, char **cause)
{
	GDBM_FILE	db;
	size_t		cache = STORE_GDBM_CACHE;

	flags |= GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOEXEC;
	if ((db = gdbm_open(path, 0, flags, 0600, NULL)) == NULL) {
		store_gdbm_cause(cause, "gdbm_open", path);
		return NULL;
	}
	/* On failure the cache is only bigger: not worth failing for. */
	if (gdbm_setopt(db, GDBM_SETCACHESIZE, &cache, sizeof(cache)) != 0)
		log_warnx("store: %s: cannot bound the GDBM cache: %s", path,
		    gdbm_db_strerror(db));
	return db;
}

/* Frees v's key, and wipes and frees its value. */
static void
value_free(struct store_value *v)
{
	free(v->key);
	v->key = NULL;
	/* Written by one append, so nothing lies beyond len. */
	if (v->val.ptr != NULL)
		explicit_bzero(v->val.ptr, v->val.len);
	buf_free(&v->val);
}

/* value_free, for one of c's values. */
static void
value_drop(struct store_cache *c, struct store_value *v)
{
	if (v->key == NULL)
		return;
	c->values_bytes -= v->bytes;
	value_free(v);
}

/* 1 if a read that gave er and now found what v holds. */
static int
value_same(const struct store_value *v, enum kf_err er, const struct buf *now)
{
	if (v->absent)
		return er == KF_ENOTFOUND;
	return er == KF_OK && now->len == v->val.len && (now->len == 0 ||
	    memcmp(now->ptr, v->val.ptr, now->len) == 0);
}

static void
values_clear(struct store_cache *c)
{
	size_t	i;

	for (i = 0; i < STORE_VALUES; i++)
		value_drop(c, &c->values[i]);
	c->next_value = 0;
	c->values_used = 0;
	c->last_found = 0;
}

/* The kept reader closed, and what was read through it forgotten. */
static void
reader_close(struct store_cache *c)
{
	if (c->reader != NULL)
		(void)gdbm_close(c->reader);
	c->reader = NULL;
	values_clear(c);
}

static int
value_is(const struct store_value *v, const char *key, uint32_t hash)
{
	return v->key != NULL && v->hash == hash && strcmp(v->key, key) == 0;
}

/*
 * Looks from the slot after the last one found: a request reads its keys
 * in the same order every time, and they were kept in the order first
 * read, so the next one is nearly always the first looked at.
 */
static const struct store_value *
values_find(struct store_cache *c, const char *key, uint32_t hash)
{
	size_t	i;

	for (i = c->last_found + 1; i < c->values_used; i++)
		if (value_is(&c->values[i], key, hash))
			goto found;
	for (i = 0; i <= c->last_found && i < c->values_used; i++)
		if (value_is(&c->values[i], key, hash))
			goto found;
	return NULL;
found:
	c->last_found = i;
	return &c->values[i];
}

/*
 * val NULL: the key has no record.  Replaces the oldest, and older ones
 * still while the bytes held would pass STORE_VALUES_BYTES.
 */
static void
values_add(struct store_cache *c, const char *key, uint32_t hash,
    const char *val, size_t len)
{
	struct store_value	*v;
	size_t			 key_len = strlen(key), i;

	if (len > STORE_VALUE_MAX || key_len > STORE_VALUE_KEY_MAX)
		return;
	v = &c->values[c->next_value];
	value_drop(c, v);
	for (i = 1; i < STORE_VALUES &&
	    c->values_bytes + key_len + len > STORE_VALUES_BYTES; i++)
		value_drop(c, &c->values[(c->next_value + i) % STORE_VALUES]);
	c->next_value = (c->next_value + 1) % STORE_VALUES;
	v->key = xstrdup(key);
	v->hash = hash;
	v->absent = val == NULL;
	v->bytes = key_len + len;
	if (val != NULL)
		buf_append(&v->val, val, len);
	c->values_bytes += v->bytes;
	if (c->values_used < (size_t)(v - c->values) + 1)
		c->values_used = (size_t)(v - c->values) + 1;
}

static void
cache_drop(struct store_cache *c)
{
	reader_close(c);
	if (c->gen_map != NULL)
		(void)munmap((void *)c->gen_map, sizeof(*c->gen_map));
	c->gen_map = NULL;
	if (c->lock_fd != -1)
		(void)close(c->lock_fd);
	c->lock_fd = -1;
	c->serial = 0;
	c->view = 0;
}

static void
cache_free(void *arg)
{
	cache_drop(arg);
	free(arg);
}

/* The child's descriptors share the parent's flocks: keep none of them. */
static void
cache_forget_in_child(void)
{
	struct store_cache	*c;

	if ((c = pthread_getspecific(cache_key)) != NULL)
		cache_drop(c);
}

static void
cache_init(void)
{
	if (pthread_key_create(&cache_key, cache_free) != 0)
		abort();
	(void)pthread_atfork(NULL, NULL, cache_forget_in_child);
}

/* The calling thread's cache, emptied first if it held another store. */
static struct store_cache *
cache_get(const struct store *st)
{
	struct store_cache	*c;

	(void)pthread_once(&cache_once, cache_init);
	if ((c = pthread_getspecific(cache_key)) == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->lock_fd = -1;
		if (pthread_setspecific(cache_key, c) != 0)
			abort();
	}
	if (c->serial != st->serial) {
		cache_drop(c);
		c->serial = st->serial;
	}
	return c;
}

/*
 * The lock file's generation, mapped once per descriptor; 1 if c->gen_map
 * may be read (see the top of the file).  Without a mapping every read
 * locks, as it did before.
 */
static int
cache_map_gen(struct store_cache *c, const struct stat *sb)
{
	void	*p;

	if (sb->st_size < (off_t)sizeof(*c->gen_map))
		return 0;
	if (c->gen_map == NULL) {
		p = mmap(NULL, sizeof(*c->gen_map), PROT_READ, MAP_SHARED,
		    c->lock_fd, 0);
		if (p == MAP_FAILED)
			return 0;
		c->gen_map = p;
	}
	return 1;
}

/*
 * The thread's descriptor of the lock file, opened again when the file
 * it refers to has lost its last link (others would lock a new one).
 * *gen_mapped is 1 when c->gen_map may be read during this transaction.
 */
static int
cache_lock_fd(struct store_cache *c, const struct store *st, int *gen_mapped,
    char **cause)
{
	struct stat	sb;

	*gen_mapped = 0;
	if (c->lock_fd != -1 && (fstat(c->lock_fd, &sb) == -1 ||
	    sb.st_nlink == 0)) {
		cache_drop(c);
		c->serial = st->serial;
	}
	if (c->lock_fd != -1) {
		*gen_mapped = cache_map_gen(c, &sb);
		return c->lock_fd;
	}
	/*
	 * A plain O_CREAT open: store_open made the file 0600, and if it has
	 * gone since, the umask can only make the new one stricter.  Nothing
	 * is kept with a new descriptor, so it is mapped at its next use.
	 */
	c->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd == -1)
		xsetprintf(cause, "%s: %s", st->lock_path, strerror(errno));
	return c->lock_fd;
}

/* The writers' generation in the lock file; 0 when none was written. */
static uint64_t
store_generation(int lock_fd)
{
	uint64_t	gen;

	if (pread(lock_fd, &gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
		return 0;
	return gen;
}

/*
 * With LOCK_EX held, before any write: every kept reader is now stale.
 * *before (NULL is fine) gets the generation the writer found.  A file
 * without one starts at a random number (see the top of the file).
 */
static int
store_generation_bump(int lock_fd, uint64_t *before)
{
	uint64_t	gen = 0, next;
	ssize_t		n;

	if ((n = pread(lock_fd, &gen, sizeof(gen), 0)) == -1)
		return -1;
	if (n == (ssize_t)sizeof(gen))
		next = gen + 1;
	else {
		gen = 0;
		do {
			rand_bytes(&next, sizeof(next));
		} while (next == 0);
	}
	if (before != NULL)
		*before = gen;
	return pwrite(lock_fd, &next, sizeof(next), 0) ==
	    (ssize_t)sizeof(next) ? 0 : -1;
}

/* Keys are C strings stored without their NUL; empty keys are refused. */
static int
store_key(const char *key, datum *out)
{
	size_t	len;

	if (key == NULL || (len = strlen(key)) == 0 || len > INT_MAX)
		return -1;
	out->dptr = (char *)key;	/* GDBM does not write through it. */
	out->dsize = (int)len;
	return 0;
}

static int
store_lock_name_valid(const char *name)
{
	const char	*p;

	if (name == NULL || *name == '\0' ||
	    strlen(name) > STORE_LOCK_NAME_MAX)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-')
			continue;
		return 0;
	}
	if (strstr(name, "..") != NULL)
		return 0;
	/* "kiro.db" would be the database's own lock file. */
	if (strcmp(name, STORE_DB_NAME) == 0)
		return 0;
	return 1;
}

/*
 * Creates dir 0700 if missing.  An existing directory is not ours to chmod
 * (it may be shared on purpose), so a loose mode only earns a warning.
 */
static enum kf_err
store_prepare_dir(const char *dir, char **cause)
{
	struct stat	sb;

	if (mkdir(dir, 0700) == 0) {
		/* The umask may have narrowed it; we want exactly 0700. */
		if (chmod(dir, 0700) == -1) {
			xsetprintf(cause, "chmod %s: %s", dir, strerror(errno));
			return KF_ESTORE;
		}
		return KF_OK;
	}
	if (errno != EEXIST) {
		xsetprintf(cause, "mkdir %s: %s", dir, strerror(errno));
		return KF_ESTORE;
	}
	if (stat(dir, &sb) == -1) {
		xsetprintf(cause, "%s: %s", dir, strerror(errno));
		return KF_ESTORE;
	}
	if (!S_ISDIR(sb.st_mode)) {
		xsetprintf(cause, "%s: not a directory", dir);
		return KF_ESTORE;
	}
	if ((sb.st_mode & 077) != 0)
		log_warnx("store: state directory %s has mode %04o; "
		    "it holds credentials and should be 0700", dir,
		    (unsigned)(sb.st_mode & 07777));
	return KF_OK;
}

/* Parses the JSON integer text of meta/schema. */
static int
store_parse_schema(const struct buf *raw, long long *out)
{
	char		*end;
	long long	 v;

	if (raw->len == 0 || raw->len != strlen(raw->ptr))
		return -1;
	errno = 0;
	v = strtoll(raw->ptr, &end, 10);
	if (errno != 0 || end == raw->ptr || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/*
 * Called with LOCK_EX held.  Creates the database if it is missing (or was
 * left empty by a creator that died before GDBM wrote its header), then
 * checks or writes meta/schema.
 */
static enum kf_err
store_prepare_db(const struct store *st, char **cause)
{
	struct buf	 raw = BUF_INIT;
	struct stat	 sb;
	GDBM_FILE	 db = NULL;
	datum		 key, val, first;
	long long	 version;
	char		 text[32];
	int		 created = 0, empty = 0, len, rc;
	enum kf_err	 er = KF_ESTORE;

	if (stat(st->db_path, &sb) == -1) {
		if (errno != ENOENT) {
			xsetprintf(cause, "%s: %s", st->db_path,
			    strerror(errno));
			goto out;
		}
		created = 1;
	} else if (S_ISREG(sb.st_mode) && sb.st_size == 0)
		empty = 1;

	if (created || empty) {
		if ((db = store_gdbm_open(st->db_path, GDBM_WRCREAT,
		    cause)) == NULL)
			goto out;
		/* Ours alone to fix: the umask may have narrowed it. */
		if (created && fchmod(gdbm_fdesc(db), 0600) == -1) {
			xsetprintf(cause, "fchmod %s: %s", st->db_path,
			    strerror(errno));
			goto out;
		}
	} else if ((db = store_gdbm_open(st->db_path, GDBM_READER,
	    cause)) == NULL)
		goto out;

	(void)store_key(STORE_SCHEMA_KEY, &key);
	val = gdbm_fetch(db, key);
	if (val.dptr != NULL) {
		buf_append(&raw, val.dptr, (size_t)val.dsize);
		free(val.dptr);
		if (store_parse_schema(&raw, &version) == -1 || version < 1) {
			xsetprintf(cause, "%s: %s is not a schema version",
			    st->db_path, STORE_SCHEMA_KEY);
			goto out;
		}
		if (version > STORE_SCHEMA_VERSION) {
			xsetprintf(cause, "%s: database schema %lld is newer "
			    "than this build's schema %d", st->db_path,
			    version, STORE_SCHEMA_VERSION);
			goto out;
		}
		er = KF_OK;
		goto out;
	}
	if (gdbm_last_errno(db) != GDBM_ITEM_NOT_FOUND) {
		xsetprintf(cause, "gdbm_fetch %s: %s", st->db_path,
		    gdbm_db_strerror(db));
		goto out;
	}

	/*
	 * No schema.  A database we just created, or an empty one, gets it;
	 * one that holds records without it was not written by us.
	 */
	if (!created && !empty) {
		first = gdbm_firstkey(db);
		if (first.dptr != NULL) {
			free(first.dptr);
			xsetprintf(cause, "%s: has records but no %s",
			    st->db_path, STORE_SCHEMA_KEY);
			goto out;
		}
		rc = gdbm_close(db);
		db = NULL;
		if (rc != 0) {
			store_gdbm_cause(cause, "gdbm_close", st->db_path);
			goto out;
		}
		if ((db = store_gdbm_open(st->db_path, GDBM_WRITER,
		    cause)) == NULL)
			goto out;
	}
	len = snprintf(text, sizeof(text), "%d", STORE_SCHEMA_VERSION);
	if (len < 0 || (size_t)len >= sizeof(text))
		abort();
	val.dptr = text;
	val.dsize = len;
	if (gdbm_store(db, key, val, GDBM_REPLACE) != 0) {
		xsetprintf(cause, "gdbm_store %s: %s", st->db_path,
		    gdbm_db_strerror(db));
		goto out;
	}
	if (gdbm_sync(db) != 0) {
		xsetprintf(cause, "gdbm_sync %s: %s", st->db_path,
		    gdbm_db_strerror(db));
		goto out;
	}
	er = KF_OK;
out:
	if (db != NULL && gdbm_close(db) != 0 && er == KF_OK) {
		store_gdbm_cause(cause, "gdbm_close", st->db_path);
		er = KF_ESTORE;
	}
	buf_free(&raw);
	return er;
}

enum kf_err
store_open(struct store **stp, const char *dir, char **cause)
{
	struct store	*st = NULL;
	int		 lock_fd = -1;
	enum kf_err	 er;

	*stp = NULL;
	if (dir == NULL || *dir == '\0') {
		xsetprintf(cause, "store: no state directory");
		return KF_EINVAL;
	}
	if ((er = store_prepare_dir(dir, cause)) != KF_OK)
		goto out;

	st = xcalloc(1, sizeof(*st));
	st->serial = __atomic_add_fetch(&store_serials, 1, __ATOMIC_RELAXED);
	st->dir = xstrdup(dir);
	st->db_path = xasprintf("%s/%s", dir, STORE_DB_NAME);
	st->lock_path = xasprintf("%s/%s%s", dir, STORE_DB_NAME,
	    STORE_LOCK_SUFFIX);

	er = KF_ESTORE;
	if ((lock_fd = store_lockfile_open(st->lock_path, cause)) == -1)
		goto out;
	if (store_flock(lock_fd, LOCK_EX) == -1) {
		xsetprintf(cause, "flock %s: %s", st->lock_path,
		    strerror(errno));
		goto out;
	}
	er = store_prepare_db(st, cause);
	/* It may have written: readers kept by other processes reopen. */
	if (er == KF_OK && store_generation_bump(lock_fd, NULL) == -1) {
		xsetprintf(cause, "%s: %s", st->lock_path, strerror(errno));
		er = KF_ESTORE;
	}
	if (store_flock(lock_fd, LOCK_UN) == -1 && er == KF_OK) {
		xsetprintf(cause, "flock %s: %s", st->lock_path,
		    strerror(errno));
		er = KF_ESTORE;
	}
out:
	if (lock_fd != -1 && close(lock_fd) == -1 && er == KF_OK) {
		xsetprintf(cause, "close %s: %s", st->lock_path,
		    strerror(errno));
		er = KF_ESTORE;
	}
	if (er != KF_OK) {
		store_close(st);
		return er;
	}
	*stp = st;
	return KF_OK;
}

void
store_close(struct store *st)
{
	struct store_cache	*c;

	if (st == NULL)
		return;
	/* Other threads' caches go when they next use another store. */
	(void)pthread_once(&cache_once, cache_init);
	if ((c = pthread_getspecific(cache_key)) != NULL &&
	    c->serial == st->serial)
		cache_drop(c);
	free(st->dir);
	free(st->db_path);
	free(st->lock_path);
	free(st);
}

const char *
store_dir(const struct store *st)
{
	return st->dir;
}

/* Relaxed: tallies read by tests and benchmarks, ordering nothing. */
static unsigned long	 txn_count;
static unsigned long	 txn_flocks;

unsigned long
store_txn_count(void)
{
	return __atomic_load_n(&txn_count, __ATOMIC_RELAXED);
}

unsigned long
store_txn_flocks(void)
{
	return __atomic_load_n(&txn_flocks, __ATOMIC_RELAXED);
}

/* store_flock for transactions, which store_txn_flocks counts. */
static int
txn_flock(const struct store_txn *txn, int op)
{
	(void)__atomic_fetch_add(&txn_flocks, 1, __ATOMIC_RELAXED);
	return store_flock(txn->lock_fd, op);
}

static int
txn_reads(const struct store_txn *txn)
{
	return txn->mode == STORE_READ || txn->mode == STORE_READ_CACHED;
}

/*
 * With LOCK_SH held: the kept reader if it was opened at generation gen
 * (no writer has begun since), else a new one, kept in its place.
 */
static enum kf_err
begin_read(struct store_txn *txn, uint64_t gen, char **cause)
{
	struct store_cache	*c = txn->cache;

	txn->db = NULL;
	if (c->reader != NULL && c->reader_gen != gen)
		reader_close(c);
	if (c->reader == NULL) {
		if ((c->reader = store_gdbm_open(txn->st->db_path,
		    GDBM_READER, cause)) == NULL)
			return KF_ESTORE;
		c->reader_gen = gen;
	}
	txn->db = c->reader;
	return KF_OK;
}

/*
 * The view of generation gen (read with the lock held) for the thread's
 * cache: the same number while the generation stays, a new one, never
 * handed out before in this process, when it moves or the lock file
 * was reopened (cache_drop), so a view never stands for two states.
 */
static uint64_t
cache_view(struct store_cache *c, uint64_t gen)
{
	if (c->view == 0 || c->view_gen != gen) {
		c->view = __atomic_add_fetch(&store_views, 1,
		    __ATOMIC_RELAXED);
		c->view_gen = gen;
	}
	return c->view;
}

uint64_t
store_txn_view(const struct store_txn *txn)
{
	return txn->view;
}

/*
 * A STORE_READ_CACHED transaction without the lock, when the generation
 * is the kept reader's: no writer has begun since its values were read
 * (see the top of the file).  *gen gets it.
 */
static int
begin_optimistic(struct store_txn *txn, uint64_t *gen)
{
	struct store_cache	*c = txn->cache;

	if (c->reader == NULL ||
	    __atomic_load_n(c->gen_map, __ATOMIC_ACQUIRE) != c->reader_gen)
		return 0;
	txn->db = c->reader;
	txn->optimistic = 1;
	*gen = c->reader_gen;
	return 1;
}

/* Locks and opens; on error nothing is held.  *gen gets the generation. */
static enum kf_err
begin_locked(struct store_txn *txn, uint64_t *gen, char **cause)
{
	const struct store	*st = txn->st;
	enum kf_err		 er = KF_ESTORE;

	if (txn_flock(txn, txn_reads(txn) ? LOCK_SH : LOCK_EX) == -1) {
		xsetprintf(cause, "flock %s: %s", st->lock_path,
		    strerror(errno));
		return KF_ESTORE;
	}
	if (txn_reads(txn)) {
		*gen = store_generation(txn->lock_fd);
		er = begin_read(txn, *gen, cause);
	} else if (store_generation_bump(txn->lock_fd, gen) == -1)
		xsetprintf(cause, "%s: %s", st->lock_path, strerror(errno));
	else if ((txn->db = store_gdbm_open(st->db_path, GDBM_WRITER,
	    cause)) != NULL)
		er = KF_OK;
	if (er == KF_OK) {
		txn->locked = 1;
		return KF_OK;
	}
	if (txn_flock(txn, LOCK_UN) == -1) {
		/* A lock we cannot drop: closing the descriptor does. */
		log_warn("store: unlock %s", st->lock_path);
		cache_drop(txn->cache);
	}
	return er;
}

enum kf_err
store_begin(struct store *st, enum store_mode mode, struct store_txn **txnp,
    char **cause)
{
	struct store_txn	*txn;
	uint64_t		 gen = 0;
	int			 gen_mapped;
	enum kf_err		 er = KF_ESTORE;

	*txnp = NULL;
	if (mode != STORE_READ && mode != STORE_WRITE &&
	    mode != STORE_WRITE_NOSYNC && mode != STORE_READ_CACHED) {
		xsetprintf(cause, "store: bad transaction mode %d", (int)mode);
		return KF_EINVAL;
	}

	txn = xcalloc(1, sizeof(*txn));
	txn->st = st;
	txn->mode = mode;
	txn->sync = mode == STORE_WRITE || (mode == STORE_WRITE_NOSYNC &&
	    (st->sync_always || !STORE_CAN_SKIP_SYNC));
	txn->cache = cache_get(st);
	if ((txn->lock_fd = cache_lock_fd(txn->cache, st, &gen_mapped,
	    cause)) == -1)
		goto out;
	if (!(mode == STORE_READ_CACHED && gen_mapped &&
	    begin_optimistic(txn, &gen)) &&
	    (er = begin_locked(txn, &gen, cause)) != KF_OK)
		goto out;
	txn->view = cache_view(txn->cache, gen);
	(void)__atomic_fetch_add(&txn_count, 1, __ATOMIC_RELAXED);
	*txnp = txn;
	return KF_OK;
out:
	free(txn);
	return er;
}

static store_hook_fn	 miss_hook;
static void		*miss_hook_arg;

void
store_set_miss_hook(store_hook_fn fn, void *arg)
{
	miss_hook = fn;
	miss_hook_arg = arg;
}

/*
 * An optimistic transaction's first read of a record it has not kept:
 * from here on it reads under LOCK_SH like any other.  If a writer has
 * begun since, the reader is opened again and every record returned so
 * far read again (see the top of the file).  KF_ESTORE if the lock or
 * the file fails; the transaction is then stale too, when it moved.
 */
static enum kf_err
txn_lock(struct store_txn *txn)
{
	struct store_cache	*c = txn->cache;
	struct store_value	 seen[STORE_VALUES];
	struct buf		 now = BUF_INIT;
	uint64_t		 gen;
	size_t			 i, n = 0;
	char			*cause = NULL;
	enum kf_err		 er;

	if (miss_hook != NULL)
		miss_hook(miss_hook_arg);
	if (txn_flock(txn, LOCK_SH) == -1) {
		log_warn("store: flock %s", txn->st->lock_path);
		return KF_ESTORE;
	}
	txn->locked = 1;
	txn->optimistic = 0;
	if ((gen = store_generation(txn->lock_fd)) == c->reader_gen)
		return KF_OK;

	/* What it returned leaves the memo, which the new reader empties. */
	for (i = 0; i < STORE_VALUES; i++) {
		if ((txn->returned & (UINT32_C(1) << i)) == 0)
			continue;
		seen[n] = c->values[i];
		c->values_bytes -= seen[n++].bytes;
		memset(&c->values[i], 0, sizeof(c->values[i]));
	}
	txn->view = 0;
	if ((er = begin_read(txn, gen, &cause)) != KF_OK) {
		log_errorx("store: %s", cause);
		txn->stale = n > 0;
		txn->failed = 1;
		goto out;
	}
	for (i = 0; i < n && !txn->stale; i++)
		if (!value_same(&seen[i], store_get(txn, seen[i].key, &now),
		    &now))
			txn->stale = 1;
	er = KF_OK;
out:
	for (i = 0; i < n; i++)
		value_free(&seen[i]);
	if (now.ptr != NULL)
		explicit_bzero(now.ptr, now.len);
	buf_free(&now);
	free(cause);
	return er;
}

int
store_txn_stale(const struct store_txn *txn)
{
	return txn->stale;
}

void
store_need_sync(struct store_txn *txn)
{
	if (!txn_reads(txn))
		txn->sync = 1;
}

int
store_will_sync(const struct store_txn *txn)
{
	return txn->sync;
}

void
store_sync_always(struct store *st, int on)
{
	st->sync_always = on != 0;
}

/*
 * Makes gdbm_close's fsync land on an empty memfd (see the top of the
 * file).  -1 if it could not, and then the close syncs as usual.
 */
static int
store_divert_sync(GDBM_FILE db)
{
#ifdef HAVE_MEMFD_CREATE
	int	mfd, rc;

	if ((mfd = memfd_create("kiro-store-nosync", MFD_CLOEXEC)) == -1)
		return -1;
	/* Closes the database's descriptor, which GDBM has written through. */
	rc = dup3(mfd, gdbm_fdesc(db), O_CLOEXEC);
	(void)close(mfd);
	return rc == -1 ? -1 : 0;
#else
	(void)db;
	return -1;
#endif
}

enum kf_err
store_end(struct store_txn *txn, char **cause)
{
	const struct store	*st;
	enum kf_err		 er = KF_OK;

	if (txn == NULL)
		return KF_OK;
	st = txn->st;

	/*
	 * Close before unlock: the next holder of the lock must find
	 * everything on disk.  For writers gdbm_close flushes GDBM's caches
	 * and fsyncs the file, and reports a failure of either; a separate
	 * gdbm_sync first would only fsync a second time (~50 us a write).
	 * An unsynced writer diverts that fsync; if it cannot, it syncs.
	 */
	if (txn_reads(txn)) {
		/* Kept for the next read, unless GDBM reported trouble. */
		if (txn->failed)
			reader_close(txn->cache);
	} else {
		if (txn->mode == STORE_WRITE_NOSYNC && !txn->sync &&
		    store_divert_sync(txn->db) == -1)
			log_warn("store: cannot skip the sync of %s",
			    st->db_path);
		if (gdbm_close(txn->db) != 0 && er == KF_OK) {
			store_gdbm_cause(cause, "gdbm_close", st->db_path);
			er = KF_ESTORE;
		}
	}
	if (txn->locked && txn_flock(txn, LOCK_UN) == -1) {
		if (er == KF_OK) {
			xsetprintf(cause, "flock %s: %s", st->lock_path,
			    strerror(errno));
			er = KF_ESTORE;
		}
		/* A lock we cannot drop: closing the descriptor does. */
		cache_drop(txn->cache);
	}
	free(txn);
	return er;
}

/*
 * The per-record calls have no cause argument: a failure there is a broken
 * file or disk, which the caller can only report, so the detail goes to the
 * log and the caller gets KF_ESTORE.  Keys are identifiers, never secrets.
 */
enum kf_err
store_get(struct store_txn *txn, const char *key, struct buf *out)
{
	const struct store_value *hit;
	datum			  k, v;
	uint32_t		  hash = 0;

	buf_reset(out);
	if (store_key(key, &k) == -1)
		return KF_EINVAL;
	if (txn_reads(txn)) {
		hash = fnv1a32(key);
		if ((hit = values_find(txn->cache, key, hash)) != NULL) {
			if (txn->optimistic)
				txn->returned |= UINT32_C(1) <<
				    (hit - txn->cache->values);
			if (hit->absent)
				return KF_ENOTFOUND;
			buf_append(out, hit->val.ptr, hit->val.len);
			return KF_OK;
		}
		if (txn->optimistic && txn_lock(txn) != KF_OK)
			return KF_ESTORE;
	}
	if (txn->db == NULL)
		return KF_ESTORE;
	v = gdbm_fetch(txn->db, k);
	if (v.dptr == NULL) {
		if (gdbm_last_errno(txn->db) == GDBM_ITEM_NOT_FOUND) {
			if (txn_reads(txn))
				values_add(txn->cache, key, hash, NULL, 0);
			return KF_ENOTFOUND;
		}
		log_errorx("store: gdbm_fetch %s from %s: %s", key,
		    txn->st->db_path, gdbm_db_strerror(txn->db));
		txn->failed = 1;
		return KF_ESTORE;
	}
	buf_append(out, v.dptr, (size_t)v.dsize);
	if (txn_reads(txn))
		values_add(txn->cache, key, hash, v.dptr, (size_t)v.dsize);
	free(v.dptr);
	return KF_OK;
}

enum kf_err
store_put(struct store_txn *txn, const char *key, const void *val,
    size_t len)
{
	datum	k, v;

	if (txn_reads(txn))
		return KF_EINVAL;
	if (store_key(key, &k) == -1 || (val == NULL && len > 0) ||
	    len > (size_t)(INT_MAX - k.dsize))
		return KF_EINVAL;
	/* GDBM refuses a NULL dptr even for an empty value. */
	v.dptr = len == 0 ? (char *)"" : (char *)val;
	v.dsize = (int)len;
	txn->view = 0;
	if (gdbm_store(txn->db, k, v, GDBM_REPLACE) != 0) {
		log_errorx("store: gdbm_store %s in %s: %s", key,
		    txn->st->db_path, gdbm_db_strerror(txn->db));
		return KF_ESTORE;
	}
	return KF_OK;
}

/* KF_EINVAL in a read transaction, like store_put. */
enum kf_err
store_del(struct store_txn *txn, const char *key)
{
	datum	k;

	if (txn_reads(txn))
		return KF_EINVAL;
	if (store_key(key, &k) == -1)
		return KF_EINVAL;
	txn->view = 0;
	if (gdbm_delete(txn->db, k) != 0) {
		if (gdbm_last_errno(txn->db) == GDBM_ITEM_NOT_FOUND)
			return KF_OK;
		log_errorx("store: gdbm_delete %s in %s: %s", key,
		    txn->st->db_path, gdbm_db_strerror(txn->db));
		return KF_ESTORE;
	}
	return KF_OK;
}

/*
 * A full scan in GDBM's hash order, so the order is unspecified and changes
 * as the file grows; callers that need an order sort what they collect.
 * The callback gets NUL-terminated copies, valid until it returns.  A NULL
 * or empty prefix visits everything.
 */
enum kf_err
store_each(struct store_txn *txn, const char *prefix, store_each_fn fn,
    void *arg)
{
	struct buf	 kb = BUF_INIT, vb = BUF_INIT;
	datum		 key, next, val;
	size_t		 plen;
	enum kf_err	 er = KF_ESTORE;

	if (prefix == NULL)
		prefix = "";
	plen = strlen(prefix);
	/* The values kept are not all there is: a scan reads the file. */
	if (txn->optimistic && txn_lock(txn) != KF_OK)
		return KF_ESTORE;
	if (txn->db == NULL)
		return KF_ESTORE;
	key = gdbm_firstkey(txn->db);
	while (key.dptr != NULL) {
		if ((size_t)key.dsize >= plen &&
		    memcmp(key.dptr, prefix, plen) == 0) {
			val = gdbm_fetch(txn->db, key);
			if (val.dptr == NULL) {
				log_errorx("store: gdbm_fetch during scan of "
				    "%s: %s", txn->st->db_path,
				    gdbm_db_strerror(txn->db));
				txn->failed = 1;
				goto out;
			}
			buf_reset(&kb);
			buf_append(&kb, key.dptr, (size_t)key.dsize);
			buf_reset(&vb);
			buf_append(&vb, val.dptr, (size_t)val.dsize);
			free(val.dptr);
			if (fn(arg, kb.ptr, vb.ptr, vb.len) != 0) {
				er = KF_OK;
				goto out;
			}
		}
		next = gdbm_nextkey(txn->db, key);
		free(key.dptr);
		key = next;
	}
	if (gdbm_last_errno(txn->db) != GDBM_ITEM_NOT_FOUND) {
		log_errorx("store: scan of %s: %s", txn->st->db_path,
		    gdbm_db_strerror(txn->db));
		txn->failed = 1;
		goto out;
	}
	er = KF_OK;
out:
	free(key.dptr);
	buf_free(&kb);
	buf_free(&vb);
	return er;
}

int
store_lock_named(struct store *st, const char *name, char **cause)
{
	char	*path = NULL;
	int	 fd = -1;

	if (!store_lock_name_valid(name)) {
		xsetprintf(cause, "store: bad lock name \"%s\"",
		    name == NULL ? "(null)" : name);
		goto out;
	}
	path = xasprintf("%s/%s%s", st->dir, name, STORE_LOCK_SUFFIX);
	if ((fd = store_lockfile_open(path, cause)) == -1)
		goto out;
	if (store_flock(fd, LOCK_EX) == -1) {
		xsetprintf(cause, "flock %s: %s", path, strerror(errno));
		(void)close(fd);
		fd = -1;
	}
out:
	free(path);
	return fd;
}

void
store_unlock_named(int fd)
{
	if (fd == -1)
		return;
	if (store_flock(fd, LOCK_UN) == -1)
		log_warn("store: unlock named lock");
	if (close(fd) == -1)
		log_warn("store: close named lock");
}
