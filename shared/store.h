/* store.h: accounts, stickiness and runtime state in one GDBM file under flock. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * <dir>/kiro.db holds every record as JSON text under a typed key prefix
 * (the list below); <dir>/kiro.db.lock is flock()ed shared by readers and
 * exclusive by writers.  GDBM is opened per transaction with GDBM_NOLOCK and
 * closed (after gdbm_sync, for writers) before the lock is released, so no
 * process ever holds a handle or a lock across requests or network I/O.
 * The directory is created 0700, the files 0600.  Only store.c touches GDBM.
 *
 * A struct store holds paths only and may be shared by threads; a struct
 * store_txn belongs to one thread.  Threads of one process exclude each
 * other too, because each thread locks through a descriptor of its own.
 *
 * The first 8 bytes of the lock file count the write transactions ever
 * begun: a writer adds one under LOCK_EX before it writes anything.  A
 * STORE_READ_CACHED transaction that finds the count where it was when its
 * thread last read under the lock takes no lock at all, and answers from
 * what that thread read then; it locks at its first read of anything
 * else (see store_txn_stale).
 *
 * Key prefixes, each owned by one module (only it reads or writes them):
 *   meta/schema                        store.c: STORE_SCHEMA_VERSION
 *   meta/cred-ids, meta/next-id        accounts.c: the ids in use, the next
 *   meta/credfile/<sha256>             accounts.c: a credentials file seen
 *   cred/<id>                          accounts.c: the credential (cred.h)
 *   cred-state/<id>                    accounts.c: its state (accounts.h)
 *   credhash/<sha256>                  accounts.c: refresh token -> id
 *   cred-log/<id>                      accounts.c: the last state changes
 *   pool/index                         accounts.c: the pick index (pool.c
 *                                      reads it through accounts.h)
 *   pool/rr                            pool.c: the round-robin cursor
 *   rate/global, rate/<id>             pool.c: request windows (rate limits)
 *   sticky/<session hash>              pool.c: session -> account
 *   usage/<id>                         usage.c: cached getUsageLimits
 *                                      (pool.c reads its nextResetAt)
 *   catalogue/<id>, catalogue-claim/<id>  catalogue.c: ListAvailableModels
 *   settings/<name>                    settings.c: what the admin API set
 *   summary/<sha256>, summary-anchor/<sha256>  overflow.c: summaries
 *   ckey/<name>, ckey-hash/<sha256>, ckey-use/<name>  clientkeys.c
 *   admin-login/devices                fcgi/admin-login.c: device logins
 * Removing an account (accounts.c) deletes every record of its id:
 * cred/, cred-state/, credhash/, usage/, catalogue/, catalogue-claim/
 * and cred-log/.
 */

#define STORE_SCHEMA_VERSION	1

struct store;
struct store_txn;

enum store_mode {
	STORE_READ,		/* LOCK_SH */
	STORE_WRITE,		/* LOCK_EX, synced to disk at store_end */
	STORE_WRITE_NOSYNC,	/* LOCK_EX, not synced: soft state only */
	STORE_READ_CACHED,	/* STORE_READ, lock-free while nothing changed */
	STORE__MAX
};

/*
 * Prepares dir (creating it 0700 when missing) and the database, writing
 * meta/schema on creation.  A database with a newer schema than this build
 * is refused (KF_ESTORE, cause says both versions).
 */
enum kf_err	 store_open(struct store **, const char *dir, char **cause);
void		 store_close(struct store *);	/* NULL is fine */
const char	*store_dir(const struct store *);

/*
 * Locks (a STORE_READ_CACHED transaction perhaps only at a later read)
 * and opens; on error nothing is held.
 */
enum kf_err	 store_begin(struct store *, enum store_mode,
		    struct store_txn **, char **cause);
/*
 * Transactions store_begin has opened in this process, all stores and
 * threads together (the benchmarks count them per request).
 */
unsigned long	 store_txn_count(void);
/*
 * flock calls transactions have made in this process (to lock and to
 * unlock), all stores and threads together: for tests and benchmarks.
 */
unsigned long	 store_txn_flocks(void);

/*
 * 1 when what a STORE_READ_CACHED transaction read may not be one
 * snapshot; ask before store_end.  Such a transaction begins without the
 * lock when no write transaction has begun since its thread last read,
 * and answers from the records its thread read then (at most 32 of up
 * to 4 KB each).  At its first read of anything else it takes LOCK_SH,
 * and if a writer has been at work meanwhile it reads again each record
 * it has already returned: any that changed makes it stale.  A stale
 * transaction goes on reading, under the lock, what is there now (never
 * half a write), so its reads mix two states: a caller that needs them
 * consistent throws its result away and reads again (a STORE_READ
 * transaction cannot be stale).  Always 0 for the other modes.
 */
int		 store_txn_stale(const struct store_txn *);
/*
 * For tests: fn(arg) runs in a STORE_READ_CACHED transaction that reads
 * what it has not kept, just before it takes the lock, where another
 * process's write may land.  NULL removes it; set it while no other
 * thread uses a store.
 */
typedef void	(*store_hook_fn)(void *arg);
void		 store_set_miss_hook(store_hook_fn, void *arg);
/*
 * Syncs (STORE_WRITE), closes and unlocks.  Always releases everything,
 * even when it returns an error (KF_ESTORE if the sync failed).  NULL is
 * fine.
 *
 * STORE_WRITE_NOSYNC is for soft state only: records whose loss in a power
 * cut is harmless (rate windows, the round-robin cursor, stickiness,
 * success tallies).  It excludes other transactions exactly as STORE_WRITE
 * does, and what it wrote is visible to every transaction that begins
 * after its store_end, but nothing is fsynced: its writes reach the disk
 * with the next synced transaction or the kernel's writeback (seconds).
 * A power cut before then loses them, and, since GDBM updates in place,
 * may leave one of them torn (see store.c).  Credentials and account state
 * that matters never go through it: a nosync transaction that finds it
 * must write such a record calls store_need_sync first.
 */
enum kf_err	 store_end(struct store_txn *, char **cause);
void		 store_need_sync(struct store_txn *);
/* 1 if store_end of txn will sync: STORE_WRITE, or store_need_sync. */
int		 store_will_sync(const struct store_txn *);
/*
 * Makes every STORE_WRITE_NOSYNC transaction on st sync like STORE_WRITE
 * (the benchmark's baseline).  Call before any transaction on st.
 */
void		 store_sync_always(struct store *, int on);

/*
 * What txn reads, as a number for caches of it: two transactions of this
 * process with the same view (not 0) read the same records, since a write
 * transaction begun in any process after the first gives the second a new
 * one.  0 once txn has put or deleted: its own writes are in no view; 0
 * too once a STORE_READ_CACHED transaction has found that a writer began
 * after it did (store_txn_stale): its reads from then on are of a newer
 * state.
 */
uint64_t	 store_txn_view(const struct store_txn *);

/*
 * Replaces out's contents with the value: KF_OK or KF_ENOTFOUND (KF_ESTORE
 * when the file or its lock fails).
 */
enum kf_err	 store_get(struct store_txn *, const char *key, struct buf *out);
/* Inserts or replaces.  KF_EINVAL in a read transaction. */
enum kf_err	 store_put(struct store_txn *, const char *key,
		    const void *val, size_t len);
/* Deletes; an absent key is KF_OK. */
enum kf_err	 store_del(struct store_txn *, const char *key);

/* Called for each key starting with prefix; non-zero return stops early. */
typedef int (*store_each_fn)(void *arg, const char *key, const char *val,
    size_t len);
/*
 * Visits every record whose key starts with prefix, in no particular order.
 * In a write transaction the callback must not put or delete: collect the
 * keys and change them after.
 */
enum kf_err	 store_each(struct store_txn *, const char *prefix,
		    store_each_fn, void *arg);

/*
 * A named advisory lock beside the database (<dir>/<name>.lock), for work
 * that must not run twice at once but does network I/O, such as refreshing
 * one credential.  Blocks until acquired.  Returns the descriptor to give to
 * store_unlock_named, or -1 with a cause.
 */
int		 store_lock_named(struct store *, const char *name,
		    char **cause);
void		 store_unlock_named(int fd);	/* -1 is fine */

#endif
