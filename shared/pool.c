/* pool.c: choose the account for a request, and learn from the outcome. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "store.h"
#include "xmalloc.h"

static int
excluded(const struct pool_pick_req *req, long id)
{
	size_t	i;

	for (i = 0; i < req->n_exclude; i++)
		if (req->exclude[i] == id)
			return 1;
	return 0;
}

enum kf_err
pool_pick(struct store *st, const struct config *cfg,
    const struct pool_pick_req *req, struct account *out, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a, best;
	struct buf		 why = BUF_INIT;
	long			*ids = NULL;
	size_t			 n_ids = 0, i;
	time_t			 now = clock_now();
	int			 have = 0;
	enum kf_err		 er;

	memset(out, 0, sizeof(*out));
	memset(&best, 0, sizeof(best));
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_ids(txn, &ids, &n_ids, cause)) != KF_OK)
		goto out;
	if (n_ids == 0) {
		xsetprintf(cause, "no Kiro account is configured: import one "
		    "with \"kiroctl accounts import FILE\" (kiro.rs "
		    "credentials.json) or set credentialsFile in the "
		    "configuration");
		er = KF_ENOACCOUNT;
		goto out;
	}
	for (i = 0; i < n_ids; i++) {
		if (excluded(req, ids[i]))
			continue;
		if (accounts_txn_load(txn, ids[i], &a, NULL) != KF_OK)
			continue;
		if (!account_usable(&a, now)) {
			buf_printf(&why, "%saccount %ld is %s%s%s",
			    why.len > 0 ? "; " : "", a.cred.id,
			    account_state_word(&a, now),
			    a.state.disabled != ACCOUNT_OK ? ": " : "",
			    a.state.disabled != ACCOUNT_OK ?
			    account_reason_name(a.state.disabled) : "");
			account_free(&a);
			continue;
		}
		if (!have || a.cred.priority < best.cred.priority ||
		    (a.cred.priority == best.cred.priority &&
		    a.cred.id < best.cred.id)) {
			if (have)
				account_free(&best);
			best = a;
			have = 1;
		} else
			account_free(&a);
	}
	if (!have) {
		if (req->n_exclude > 0)
			xsetprintf(cause, "every usable Kiro account failed "
			    "this request%s%s", why.len > 0 ? "; " : "",
			    why.len > 0 ? why.ptr : "");
		else
			xsetprintf(cause, "no usable Kiro account: %s",
			    why.len > 0 ? why.ptr : "all are disabled");
		er = KF_ENOACCOUNT;
		goto out;
	}
	*out = best;
	er = KF_OK;
out:
	(void)cfg;
	free(ids);
	buf_free(&why);
	store_end(txn, NULL);
	return er;
}

/* Success tallies not yet written, per account, for this process. */
struct tally {
	long	id;
	long	successes;
	time_t	last_used;
};

static pthread_mutex_t	 tally_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tally	*tallies;
static size_t		 n_tallies;
static int64_t		 last_flush_ms;

static void
tally_add(long id, time_t now)
{
	size_t	i;

	pthread_mutex_lock(&tally_lock);
	/* The first tally starts the clock: a flush is due 5 s later. */
	if (n_tallies == 0)
		last_flush_ms = clock_mono_ms();
	for (i = 0; i < n_tallies; i++)
		if (tallies[i].id == id)
			break;
	if (i == n_tallies) {
		tallies = xreallocarray(tallies, n_tallies + 1,
		    sizeof(*tallies));
		memset(&tallies[n_tallies++], 0, sizeof(*tallies));
		tallies[i].id = id;
	}
	tallies[i].successes++;
	tallies[i].last_used = now;
	pthread_mutex_unlock(&tally_lock);
}

/* Takes the pending tallies (the caller frees them). */
static struct tally *
tally_take(size_t *n)
{
	struct tally	*t;

	pthread_mutex_lock(&tally_lock);
	t = tallies;
	*n = n_tallies;
	tallies = NULL;
	n_tallies = 0;
	last_flush_ms = clock_mono_ms();
	pthread_mutex_unlock(&tally_lock);
	return t;
}

/* Puts tallies back after a failed write, so that none is lost. */
static void
tally_return(struct tally *t, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < (size_t)t[i].successes; j++)
			tally_add(t[i].id, t[i].last_used);
	free(t);
}

/* Adds tallies to the accounts' states inside the caller's transaction. */
static void
tally_apply(struct store_txn *txn, const struct tally *t, size_t n)
{
	struct account	a;
	size_t		i;

	for (i = 0; i < n; i++) {
		if (accounts_txn_load(txn, t[i].id, &a, NULL) != KF_OK)
			continue;	/* removed meanwhile */
		a.state.success_count += t[i].successes;
		a.state.request_count += t[i].successes;
		if (t[i].last_used > a.state.last_used)
			a.state.last_used = t[i].last_used;
		(void)accounts_txn_save_state(txn, t[i].id, &a.state, NULL);
		account_free(&a);
	}
}

static void
disable(struct account_state *s, enum account_reason reason,
    const char *detail, time_t now)
{
	s->disabled = reason;
	s->disabled_at = now;
	s->disabled_until = 0;
	free(s->disabled_detail);
	s->disabled_detail = xstrdup(detail);
}

enum kf_err
pool_flush(struct store *st, char **cause)
{
	struct store_txn	*txn = NULL;
	struct tally		*t;
	size_t			 n;
	enum kf_err		 er;

	if ((t = tally_take(&n)) == NULL)
		return KF_OK;
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK) {
		tally_return(t, n);
		return er;
	}
	tally_apply(txn, t, n);
	if ((er = store_end(txn, cause)) != KF_OK)
		tally_return(t, n);
	else
		free(t);
	return er;
}

void
pool_flush_due(struct store *st)
{
	int	due;

	pthread_mutex_lock(&tally_lock);
	due = n_tallies > 0 &&
	    clock_mono_ms() - last_flush_ms >= POOL_FLUSH_SECONDS * 1000;
	pthread_mutex_unlock(&tally_lock);
	if (due)
		(void)pool_flush(st, NULL);
}

enum kf_err
pool_report(struct store *st, const struct account *seen,
    enum pool_outcome outcome, const char *detail, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	struct tally		*t;
	time_t			 now = clock_now();
	long			 id = seen->cred.id;
	size_t			 n;
	enum kf_err		 er;

	/* The common case: nothing to forget, counters only. */
	if (outcome == POOL_SUCCESS && seen->state.failures == 0) {
		tally_add(id, now);
		pool_flush_due(st);
		return KF_OK;
	}
	t = tally_take(&n);
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK) {
		tally_return(t, n);
		return er;
	}
	tally_apply(txn, t, n);
	if ((er = accounts_txn_load(txn, id, &a, cause)) != KF_OK)
		goto out;
	a.state.request_count++;
	a.state.last_used = now;
	switch (outcome) {
	case POOL_SUCCESS:
		a.state.failures = 0;
		a.state.success_count++;
		break;
	case POOL_FAILURE:
		if (++a.state.failures >= POOL_MAX_FAILURES &&
		    a.state.disabled == ACCOUNT_OK) {
			disable(&a.state, ACCOUNT_TOO_MANY_FAILURES, detail,
			    now);
			log_warnx("account %ld disabled after %ld consecutive "
			    "failures", id, a.state.failures);
		}
		break;
	case POOL_THROTTLED:
		break;
	case POOL_QUOTA:
		disable(&a.state, ACCOUNT_QUOTA_EXCEEDED, detail, now);
		log_warnx("account %ld disabled: monthly quota used up", id);
		break;
	case POOL_SUSPENDED:
		disable(&a.state, ACCOUNT_SUSPENDED, detail, now);
		log_warnx("account %ld disabled: suspended by Kiro", id);
		break;
	case POOL_OUTCOME__MAX:
		break;
	}
	if (outcome != POOL_SUCCESS && detail != NULL) {
		free(a.state.last_error);
		a.state.last_error = xstrdup(detail);
		a.state.last_error_at = now;
	}
	er = accounts_txn_save_state(txn, id, &a.state, cause);
	account_free(&a);
out:
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK && er == KF_OK)
		er = KF_ESTORE;
	if (er != KF_OK)
		tally_return(t, n);
	else
		free(t);
	return er;
}
