/* pool.c: choose the account for a request, and learn from the outcome. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "catalogue.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "digest.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "rand.h"
#include "settings.h"
#include "store.h"
#include "xmalloc.h"

#define RR_KEY		"pool/rr"
#define RATE_GLOBAL_KEY	"rate/global"
#define RATE_WINDOW_MS	60000
#define PRUNE_EVERY_SECONDS	60

/* Request times of the last minute, oldest first. */
struct ratelog {
	int64_t	*t;
	size_t	 n;
	int	 loaded;
};

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
static time_t		 last_prune;

static __thread int		 pick_txns;

static int64_t
now_ms(void)
{
	return clock_now_ms();
}

static int
is_opus(const char *model)
{
	return model != NULL && strcasestr(model, "opus") != NULL;
}

static long
tally_pending(long id)
{
	long	n = 0;
	size_t	i;

	pthread_mutex_lock(&tally_lock);
	for (i = 0; i < n_tallies; i++)
		if (tallies[i].id == id)
			n = tallies[i].successes;
	pthread_mutex_unlock(&tally_lock);
	return n;
}

static void
ratelog_free(struct ratelog *r)
{
	free(r->t);
	memset(r, 0, sizeof(*r));
}

static void
ratelog_load(struct store_txn *txn, const char *key, struct ratelog *r)
{
	struct buf	 raw = BUF_INIT;
	json_object	*obj = NULL, *arr;
	size_t		 i, len;

	memset(r, 0, sizeof(*r));
	r->loaded = 1;
	if (store_get(txn, key, &raw) != KF_OK)
		goto out;
	if (json_parse(raw.ptr, raw.len, 4, &obj, NULL) != KF_OK ||
	    json_get_arr(obj, "t", &arr) != 1)
		goto out;
	len = json_object_array_length(arr);
	r->t = xcalloc(len == 0 ? 1 : len, sizeof(*r->t));
	for (i = 0; i < len; i++)
		r->t[r->n++] = json_object_get_int64(
		    json_object_array_get_idx(arr, i));
out:
	json_object_put(obj);
	buf_free(&raw);
}

/* Milliseconds until one more request fits, 0 when it fits now. */
static int64_t
ratelog_wait(const struct ratelog *r, int64_t now, long min_interval,
    long rpm)
{
	int64_t	wait = 0, w;
	size_t	i, in_window = 0, first = 0;

	if (r->n == 0)
		return 0;
	if (min_interval > 0 && (w = r->t[r->n - 1] + min_interval - now) >
	    wait)
		wait = w;
	if (rpm > 0) {
		for (i = r->n; i > 0; i--) {
			if (r->t[i - 1] <= now - RATE_WINDOW_MS)
				break;
			in_window++;
			first = i - 1;
		}
		/* The oldest request that must leave the window first. */
		if (in_window >= (size_t)rpm && (w = r->t[first + in_window -
		    (size_t)rpm] + RATE_WINDOW_MS - now) > wait)
			wait = w;
	}
	return wait;
}

/*
 * Appends now and writes the log back, keeping what a later check needs:
 * the last rpm times within the window (only the rpm-th newest decides),
 * and at least the newest one, for minIntervalMs.
 */
static enum kf_err
ratelog_push(struct store_txn *txn, const char *key, const struct ratelog *r,
    int64_t now, long rpm)
{
	struct buf	out = BUF_INIT;
	size_t		i, keep;
	int		first = 1;
	enum kf_err	er;

	keep = rpm > 1 ? (size_t)rpm - 1 : 0;	/* plus now */
	buf_puts(&out, "{\"v\":1,\"t\":[");
	for (i = r->n > keep ? r->n - keep : 0; i < r->n; i++) {
		if (r->t[i] <= now - RATE_WINDOW_MS)
			continue;
		buf_printf(&out, "%s%" PRId64, first ? "" : ",", r->t[i]);
		first = 0;
	}
	buf_printf(&out, "%s%" PRId64 "]}", first ? "" : ",", now);
	er = store_put(txn, key, out.ptr, out.len);
	buf_free(&out);
	return er;
}

/* A session's sticky record. */
struct sticky {
	int	found;
	long	id;
	time_t	until;
	time_t	at;
	char	conv[POOL_CONV_ID_LEN + 1];
};

/*
 * A session's record is read on every request of the session and
 * rewritten every few seconds at most, so each thread keeps its last
 * parse with the exact bytes it came from: the same bytes give the same
 * result without json-c, and any other bytes (another session, another
 * process's write) parse afresh, so nothing can go stale.  A record is
 * about 130 bytes; a longer one is parsed every time.
 */
#define STICKY_MEMO_MAX	256
#define STICKY_KEY_LEN	128

struct sticky_memo {
	size_t		len;	/* 0: empty */
	char		raw[STICKY_MEMO_MAX];
	struct sticky	sk;
};

static __thread struct sticky_memo	sticky_memo;

/* sticky/<session>, as snprintf would truncate it, at a tenth of its cost. */
static void
sticky_key(char key[STICKY_KEY_LEN], const char *session)
{
	size_t	len = strnlen(session, STICKY_KEY_LEN - 8);

	memcpy(key, "sticky/", 7);
	memcpy(key + 7, session, len);
	key[7 + len] = '\0';
}

static void
sticky_parse(const struct buf *raw, struct sticky *sk)
{
	json_object	*obj = NULL;
	const char	*conv;
	int64_t		 v;

	if (json_parse(raw->ptr, raw->len, 4, &obj, NULL) != KF_OK)
		return;
	sk->found = 1;
	if (json_get_int(obj, "id", &v) == 1)
		sk->id = (long)v;
	if (json_get_int(obj, "until", &v) == 1)
		sk->until = (time_t)v;
	if (json_get_int(obj, "at", &v) == 1)
		sk->at = (time_t)v;
	if (json_get_str(obj, "conv", &conv) == 1 && rand_is_uuid(conv))
		snprintf(sk->conv, sizeof(sk->conv), "%s", conv);
	json_object_put(obj);
}

static void
sticky_load(struct store_txn *txn, const char *session, struct sticky *sk)
{
	struct sticky_memo	*m = &sticky_memo;
	struct buf		 raw = BUF_INIT;
	char			 key[STICKY_KEY_LEN];

	memset(sk, 0, sizeof(*sk));
	sticky_key(key, session);
	if (store_get(txn, key, &raw) != KF_OK)
		goto out;
	if (m->len != 0 && m->len == raw.len &&
	    memcmp(m->raw, raw.ptr, raw.len) == 0) {
		*sk = m->sk;
		goto out;
	}
	sticky_parse(&raw, sk);
	m->len = 0;
	if (raw.len > 0 && raw.len <= sizeof(m->raw)) {
		memcpy(m->raw, raw.ptr, raw.len);
		m->len = raw.len;
		m->sk = *sk;
	}
out:
	buf_free(&raw);
}

static enum kf_err
sticky_put(struct store_txn *txn, const char *session, const struct sticky *sk)
{
	struct buf	out = BUF_INIT;
	char		key[STICKY_KEY_LEN];
	enum kf_err	er;

	sticky_key(key, session);
	buf_printf(&out, "{\"v\":1,\"id\":%ld,\"until\":%lld,\"at\":%lld,"
	    "\"conv\":\"%s\"}", sk->id, (long long)sk->until,
	    (long long)sk->at, sk->conv);
	er = store_put(txn, key, out.ptr, out.len);
	buf_free(&out);
	return er;
}

/* Expired sticky keys, one after another with their NULs: one block. */
struct prune {
	time_t		now;
	struct buf	keys;
};

static int
prune_each(void *arg, const char *key, const char *val, size_t len)
{
	struct prune	*p = arg;
	const char	*u;
	long long	 until = 0;

	/* store_each's values are NUL-terminated, so strtoll stops there. */
	if ((u = memmem(val, len, "\"until\":", 8)) != NULL)
		until = strtoll(u + 8, NULL, 10);
	if (until <= (long long)p->now)
		buf_append(&p->keys, key, strlen(key) + 1);
	return 0;
}

/*
 * Drops expired sticky records, at most once a minute per process (or when
 * the clock went back), in a write transaction that happens anyway.  A
 * minute of sessions is tens of thousands of keys: they go into one buffer,
 * not a string and an array slot each, whose scattered remains the
 * thread's malloc arena kept (issue 8, item 15).
 */
static void
sticky_prune(struct store_txn *txn, time_t now)
{
	struct prune	 p;
	const char	*key;
	int		 due;

	pthread_mutex_lock(&tally_lock);
	due = last_prune == 0 || now < last_prune ||
	    now - last_prune >= PRUNE_EVERY_SECONDS;
	if (due)
		last_prune = now;
	pthread_mutex_unlock(&tally_lock);
	if (!due)
		return;
	memset(&p, 0, sizeof(p));
	p.now = now;
	(void)store_each(txn, "sticky/", prune_each, &p);
	for (key = p.keys.ptr; key != NULL && key < p.keys.ptr + p.keys.len;
	    key += strlen(key) + 1)
		(void)store_del(txn, key);
	buf_free(&p.keys);
}

/* What one pass over the index decided. */
struct choice {
	const struct account_entry *chosen;
	long			 wait;	/* s until one may serve, 0: none */
	int			 heal;
	int			 per_account_rate;
	struct ratelog		 acct_rate;	/* the chosen one's */
	struct ratelog		 global_rate;
	struct buf		 why;	/* per account, for the log */
	struct buf		 kinds;	/* the same without ids: for a client */
	size_t			 n_lacking;	/* skipped: model not listed */
	size_t			 n_other;	/* skipped for other reasons */
};

/* What pick_in is asked to do. */
enum pick_mode {
	PICK_READ,		/* a read transaction: may ask for a write */
	PICK_WRITE,
	PICK_DRY,		/* read, decide, change nothing */
};

/* One pick inside its transaction: what each of its steps reads. */
struct pick {
	struct store_txn	*txn;
	enum pick_mode		 mode;
	struct config		 cfg;	/* with the admin API's settings */
	struct pool_pick_req	 req;	/* no session when not sticky */
	time_t			 now;
	int64_t			 nms;	/* now in ms, for rate windows */
	struct account_index	 idx;
	struct sticky		 sk;	/* the session's record */
	long			 rr_last;	/* round robin: the last id */
	struct choice		 c;
};

static void
choice_free(struct choice *c)
{
	ratelog_free(&c->acct_rate);
	ratelog_free(&c->global_rate);
	buf_free(&c->why);
	buf_free(&c->kinds);
}

/*
 * Notes a reason once in kinds: clients may learn why no account serves,
 * not which accounts exist (the log has the ids).  Distinct reasons are
 * few, so the list stays short however many accounts there are.
 */
static void
note_kind(struct choice *c, const char *kind)
{
	if (c->kinds.len > 0 && strstr(c->kinds.ptr, kind) != NULL)
		return;
	buf_printf(&c->kinds, "%s%s", c->kinds.len > 0 ? ", " : "", kind);
}

static int
excluded(const struct pool_pick_req *req, long id)
{
	size_t	i;

	for (i = 0; i < req->n_exclude; i++)
		if (req->exclude[i] == id)
			return 1;
	return 0;
}

/* Mode order, for qsort_r-less sorting through a file-scope mode. */
static __thread enum lb_mode	sort_mode;

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct account_entry *a = *(const struct account_entry *const *)pa;
	const struct account_entry *b = *(const struct account_entry *const *)pb;

	if (sort_mode == LB_BALANCED && a->successes != b->successes)
		return a->successes < b->successes ? -1 : 1;
	if (sort_mode != LB_ROUND_ROBIN && a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void
note_wait(struct choice *c, int64_t wait_s)
{
	if (wait_s < 1)
		wait_s = 1;
	if (c->wait == 0 || wait_s < c->wait)
		c->wait = (long)wait_s;
}

/* Notes why a disabled or cooling-down account cannot serve. */
static void
skip_unusable(struct choice *c, const struct account_entry *e, time_t now)
{
	buf_printf(&c->why, "%saccount %ld is %s", c->why.len > 0 ? "; " : "",
	    e->id, e->reason == ACCOUNT_OK ? "cooling down" :
	    e->reason == ACCOUNT_INVALID_REFRESH_TOKEN ?
	    "needs-login (run kiroctl login): " : "disabled: ");
	if (e->reason != ACCOUNT_OK)
		buf_puts(&c->why, account_reason_name(
		    (enum account_reason)e->reason));
	/* Only a refused API key is InvalidConfig (refresh.c). */
	note_kind(c, e->reason == ACCOUNT_OK ? "cooling down" :
	    e->reason == ACCOUNT_INVALID_REFRESH_TOKEN ? "needs a new login" :
	    e->reason == ACCOUNT_INVALID_CONFIG ? "InvalidConfig (Kiro "
	    "refused the API key; the gateway's operator must add a new one)" :
	    account_reason_name((enum account_reason)e->reason));
	/* A cooldown ends soon; a disable waits for people or dates. */
	if (e->reason == ACCOUNT_OK && e->until > now)
		note_wait(c, e->until - now);
	c->n_other++;
}

/*
 * 1 if e is within its own rate limits (minIntervalMs, perAccountRpm);
 * its window is kept in the choice, for the write that follows a pick.
 */
static int
account_rate_ok(struct pick *p, const struct account_entry *e)
{
	const struct rate_limits	*rl = &p->cfg.rate_limits;
	struct choice			*c = &p->c;
	struct ratelog			 r;
	int64_t				 w;
	char				 key[64];

	if (rl->min_interval_ms <= 0 && rl->per_account_rpm <= 0)
		return 1;
	snprintf(key, sizeof(key), "rate/%ld", e->id);
	ratelog_load(p->txn, key, &r);
	if ((w = ratelog_wait(&r, p->nms, rl->min_interval_ms,
	    rl->per_account_rpm)) > 0) {
		buf_printf(&c->why, "%saccount %ld is at its rate limit",
		    c->why.len > 0 ? "; " : "", e->id);
		note_kind(c, "at its rate limit");
		note_wait(c, (w + 999) / 1000);
		ratelog_free(&r);
		c->n_other++;
		return 0;
	}
	ratelog_free(&c->acct_rate);
	c->acct_rate = r;
	c->per_account_rate = 1;
	return 1;
}

/* 1 if e may take this request now; otherwise notes why not. */
static int
candidate_ok(struct pick *p, const struct account_entry *e)
{
	struct choice	*c = &p->c;

	if (!account_entry_usable(e, p->now)) {
		skip_unusable(c, e, p->now);
		return 0;
	}
	if (e->free_plan && is_opus(p->req.model_id)) {
		buf_printf(&c->why, "%saccount %ld is on a FREE plan, which "
		    "cannot use opus models", c->why.len > 0 ? "; " : "",
		    e->id);
		note_kind(c, "FREE plan (no opus models)");
		c->n_other++;
		return 0;
	}
	/*
	 * The account's own model list (catalogue.h), read in this
	 * transaction: one record, and only for accounts still in the race.
	 */
	if (catalogue_txn_lacks(p->txn, e->id, p->req.model_id)) {
		buf_printf(&c->why, "%saccount %ld does not offer %s",
		    c->why.len > 0 ? "; " : "", e->id, p->req.model_id);
		note_kind(c, "model not in the account's Kiro model list");
		c->n_lacking++;
		return 0;
	}
	return account_rate_ok(p, e);
}

/* 1 when the gateway's own rate limit (globalRpm) stops every account. */
static int
global_rate_full(struct pick *p)
{
	struct choice	*c = &p->c;
	long		 rpm = p->cfg.rate_limits.global_rpm;
	int64_t		 w;

	if (rpm <= 0)
		return 0;
	ratelog_load(p->txn, RATE_GLOBAL_KEY, &c->global_rate);
	if ((w = ratelog_wait(&c->global_rate, p->nms, 0, rpm)) <= 0)
		return 0;
	buf_printf(&c->why, "the gateway is at its global rate limit (%ld "
	    "requests per minute)", rpm);
	buf_puts(&c->kinds, c->why.ptr);
	note_wait(c, (w + 999) / 1000);
	return 1;
}

/* The session's account first, while it may serve: 1 when it does. */
static int
sticky_first(struct pick *p)
{
	const struct sticky	*sk = &p->sk;
	size_t			 i;

	if (!sk->found || sk->until <= p->now || excluded(&p->req, sk->id))
		return 0;
	for (i = 0; i < p->idx.n; i++)
		if (p->idx.e[i].id == sk->id &&
		    candidate_ok(p, &p->idx.e[i])) {
			p->c.chosen = &p->idx.e[i];
			return 1;
		}
	buf_reset(&p->c.why);	/* candidates_by_mode says it again */
	return 0;
}

/*
 * The others in the mode's order (priority, balanced or round robin,
 * which starts after the last id picked): the first that may serve.
 */
static void
candidates_by_mode(struct pick *p)
{
	const struct account_entry	**order;
	size_t				  n = 0, i, start = 0, k;

	order = xcalloc(p->idx.n == 0 ? 1 : p->idx.n, sizeof(*order));
	for (i = 0; i < p->idx.n; i++) {
		if (excluded(&p->req, p->idx.e[i].id))
			continue;
		order[n++] = &p->idx.e[i];
	}
	sort_mode = p->cfg.load_balancing_mode;
	qsort(order, n, sizeof(*order), entry_cmp);
	if (p->cfg.load_balancing_mode == LB_ROUND_ROBIN)
		for (start = 0; start < n; start++)
			if (order[start]->id > p->rr_last)
				break;
	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		if (candidate_ok(p, order[i])) {
			p->c.chosen = order[i];
			break;
		}
	}
	free(order);
}

/* 1 when every account is out for TooManyFailures alone. */
static int
all_failed(const struct account_index *idx)
{
	size_t	i;

	for (i = 0; i < idx->n; i++)
		if (idx->e[i].reason != ACCOUNT_TOO_MANY_FAILURES)
			return 0;
	return idx->n > 0;
}

/* One pass over the index; p->c says what it found. */
static void
decide(struct pick *p)
{
	choice_free(&p->c);
	memset(&p->c, 0, sizeof(p->c));
	if (global_rate_full(p) || sticky_first(p))
		return;
	candidates_by_mode(p);
	if (p->c.chosen == NULL && all_failed(&p->idx))
		p->c.heal = 1;
}

static long
rr_load(struct store_txn *txn)
{
	struct buf	 raw = BUF_INIT;
	const char	*p;
	long		 last = 0;

	if (store_get(txn, RR_KEY, &raw) == KF_OK &&
	    (p = strstr(raw.ptr, "\"last\":")) != NULL)
		last = strtol(p + 7, NULL, 10);
	buf_free(&raw);
	return last;
}

/* Rate limits and round robin write on every pick. */
static int
writes_every_pick(const struct config *cfg)
{
	const struct rate_limits	*rl = &cfg->rate_limits;

	return rl->min_interval_ms > 0 || rl->per_account_rpm > 0 ||
	    rl->global_rpm > 0 || cfg->load_balancing_mode == LB_ROUND_ROBIN;
}

/*
 * What the admin API set (settings.h) wins over config.json; read here,
 * in the pick's own transaction, so that every process sees a change at
 * its next pick.  stickySeconds 0 turns stickiness off, whatever the
 * caller asks.
 */
static void
pick_begin(struct pick *p, struct store_txn *txn, enum pick_mode mode,
    const struct config *conf, const struct pool_pick_req *req)
{
	memset(p, 0, sizeof(*p));
	p->now = clock_now();
	p->nms = now_ms();
	p->txn = txn;
	p->mode = mode;
	p->cfg = *conf;
	settings_txn_apply(txn, &p->cfg);
	p->req = *req;
	if (p->cfg.sticky_seconds <= 0)
		p->req.session = NULL;
}

static void
pick_end(struct pick *p)
{
	choice_free(&p->c);
	accounts_index_free(&p->idx);
}

/*
 * The index; a stale one is rebuilt, which only a write pick may do (a
 * read one asks for a write).  No account at all is KF_ENOACCOUNT.
 */
static enum kf_err
pick_index(struct pick *p, int *need_write, char **cause)
{
	enum kf_err	er;

	if ((er = accounts_txn_index_load(p->txn, &p->idx)) == KF_ENOTFOUND) {
		if (p->mode != PICK_WRITE) {
			*need_write = 1;
			return KF_OK;
		}
		er = accounts_txn_index_build(p->txn, &p->idx, cause);
	}
	if (er != KF_OK)
		return er;
	if (p->idx.n == 0) {
		xsetprintf(cause, "no Kiro account is configured: import one "
		    "with \"kiroctl accounts import FILE\" (kiro.rs "
		    "credentials.json) or set credentialsFile in the "
		    "configuration");
		return KF_ENOACCOUNT;
	}
	return KF_OK;
}

/* What the mode reads besides the index: tallies, session, cursor. */
static void
pick_load_inputs(struct pick *p)
{
	size_t	i;

	/* This process's unwritten successes count too. */
	if (p->cfg.load_balancing_mode == LB_BALANCED)
		for (i = 0; i < p->idx.n; i++)
			p->idx.e[i].successes += tally_pending(p->idx.e[i].id);
	if (p->req.session != NULL)
		sticky_load(p->txn, p->req.session, &p->sk);
	if (p->cfg.load_balancing_mode == LB_ROUND_ROBIN)
		p->rr_last = rr_load(p->txn);
}

/*
 * Decides; when every account is out for TooManyFailures alone, a write
 * pick re-enables them all and decides once more (a read pick asks for a
 * write, a dry one reports what it found).
 */
static enum kf_err
decide_or_heal(struct pick *p, int *need_write, char **cause)
{
	enum kf_err	er;

	decide(p);
	if (!p->c.heal || p->mode == PICK_DRY)
		return KF_OK;
	if (p->mode == PICK_READ) {
		*need_write = 1;
		return KF_OK;
	}
	log_warnx("every account was disabled after failures: re-enabling "
	    "all of them");
	if ((er = accounts_txn_reenable_failed(p->txn, &p->idx, "every "
	    "account had failed: all re-enabled together", cause)) != KF_OK)
		return er;
	decide(p);
	return KF_OK;
}

/* Why no account may take the request: the cause is fit for a client. */
static enum kf_err
refusal(const struct pick *p, char **cause)
{
	const struct choice		*c = &p->c;
	const struct pool_pick_req	*req = &p->req;

	if (req->retry_after != NULL)
		*req->retry_after = c->wait;
	if (cause != NULL && c->why.len > 0)
		log_info("no account may take the request: %s", c->why.ptr);
	if (c->n_lacking > 0 && c->n_other == 0 && req->n_exclude == 0) {
		/* Not a passing state: no retry will change it. */
		xsetprintf(cause, "model %s is not offered by any Kiro account "
		    "(not in their ListAvailableModels lists)", req->model_id);
		return KF_ENOTFOUND;
	}
	if (c->wait > 0) {
		xsetprintf(cause, "no Kiro account may serve now (%s); retry "
		    "in %ld s", c->kinds.len > 0 ? c->kinds.ptr :
		    "rate limited", c->wait);
		return KF_ERATE;
	}
	if (req->n_exclude > 0)
		xsetprintf(cause, "every usable Kiro account failed this "
		    "request%s%s", c->kinds.len > 0 ? "; others: " : "",
		    c->kinds.len > 0 ? c->kinds.ptr : "");
	else
		xsetprintf(cause, "no usable Kiro account: %s",
		    c->kinds.len > 0 ? c->kinds.ptr : "all are disabled");
	return KF_ENOACCOUNT;
}

/* 1 when the session's record must be written: new, moved or aging. */
static int
sticky_due(const struct pick *p, long id)
{
	const struct sticky	*sk = &p->sk;

	return p->req.session != NULL && (!sk->found || sk->id != id ||
	    sk->until <= p->now || p->now - sk->at >= POOL_STICKY_TOUCH ||
	    sk->conv[0] == '\0');
}

/* The session now goes to id; a new or expired one gets a new Kiro id. */
static enum kf_err
sticky_update(struct pick *p, long id)
{
	struct sticky	*sk = &p->sk;
	enum kf_err	 er;

	if (sk->conv[0] == '\0' || !sk->found || sk->until <= p->now)
		rand_uuid(sk->conv);
	sk->id = id;
	sk->at = p->now;
	sk->until = p->now + p->cfg.sticky_seconds;
	er = sticky_put(p->txn, p->req.session, sk);
	sticky_prune(p->txn, p->now);
	return er;
}

/* A write pick's records: rate windows, round-robin cursor, session. */
static enum kf_err
pick_record(struct pick *p, long id, int sticky_write, char **cause)
{
	const struct rate_limits	*rl = &p->cfg.rate_limits;
	struct buf			 text = BUF_INIT;
	char				 key[64];
	enum kf_err			 er = KF_OK;

	if (p->c.per_account_rate) {
		snprintf(key, sizeof(key), "rate/%ld", id);
		er = ratelog_push(p->txn, key, &p->c.acct_rate, p->nms,
		    rl->per_account_rpm);
	}
	if (er == KF_OK && rl->global_rpm > 0)
		er = ratelog_push(p->txn, RATE_GLOBAL_KEY, &p->c.global_rate,
		    p->nms, rl->global_rpm);
	if (er == KF_OK && p->cfg.load_balancing_mode == LB_ROUND_ROBIN) {
		buf_printf(&text, "{\"v\":1,\"last\":%ld}", id);
		er = store_put(p->txn, RR_KEY, text.ptr, text.len);
	}
	if (er == KF_OK && sticky_write)
		er = sticky_update(p, id);
	buf_free(&text);
	if (er != KF_OK)
		xsetprintf(cause, "cannot write the pool's records");
	return er;
}

/*
 * One attempt at a pick inside txn: the index, the mode's inputs, the
 * decision (healing when every account failed), then the account and a
 * write pick's records.  Sets *need_write (and returns KF_OK with out
 * untouched) when the decision needs a write transaction.
 */
static enum kf_err
pick_in(struct store_txn *txn, enum pick_mode mode, const struct config *conf,
    const struct pool_pick_req *req, struct account *out, int *need_write,
    char **cause)
{
	struct pick	p;
	long		id;
	int		sticky_write;
	enum kf_err	er;

	*need_write = 0;
	pick_begin(&p, txn, mode, conf, req);
	if ((er = pick_index(&p, need_write, cause)) != KF_OK || *need_write)
		goto out;
	pick_load_inputs(&p);
	if ((er = decide_or_heal(&p, need_write, cause)) != KF_OK ||
	    *need_write)
		goto out;
	if (p.c.chosen == NULL) {
		er = refusal(&p, cause);
		goto out;
	}
	id = p.c.chosen->id;
	sticky_write = sticky_due(&p, id);
	if (mode == PICK_READ && (sticky_write || writes_every_pick(&p.cfg))) {
		*need_write = 1;
		goto out;
	}
	if (mode == PICK_DRY)
		goto out;
	if ((er = accounts_txn_load(txn, id, out, cause)) != KF_OK)
		goto out;
	if (mode == PICK_WRITE &&
	    (er = pick_record(&p, id, sticky_write, cause)) != KF_OK) {
		account_free(out);
		goto out;
	}
	if (p.req.conversation_id != NULL)
		memcpy(p.req.conversation_id, p.sk.conv, sizeof(p.sk.conv));
out:
	pick_end(&p);
	return er;
}

/* What a pick hands back, as it is before the pick. */
static void
pick_outputs_clear(const struct pool_pick_req *req, struct account *out)
{
	memset(out, 0, sizeof(*out));
	if (req->conversation_id != NULL)
		req->conversation_id[0] = '\0';
	if (req->retry_after != NULL)
		*req->retry_after = 0;
}

/*
 * The store mode of a pick's transaction.  A read pick first tries one
 * without the lock (STORE_READ_CACHED), which may find that its reads
 * were not one snapshot; it then decides again under the lock, where that
 * cannot happen, so a writer that never pauses cannot keep it looping.
 */
static enum store_mode
pick_store_mode(enum pick_mode mode, int locked)
{
	if (mode == PICK_WRITE)
		return STORE_WRITE_NOSYNC;
	return locked ? STORE_READ : STORE_READ_CACHED;
}

static enum kf_err
pick(struct store *st, const struct config *cfg,
    const struct pool_pick_req *req, struct account *out, int dry,
    char **cause)
{
	struct store_txn	*txn = NULL;
	enum pick_mode		 mode;
	char			*why;
	int			 need_write = 0, stale;
	enum kf_err		 er, er2;

	pick_outputs_clear(req, out);
	/*
	 * Rate limits and round-robin write on every pick, so that write is
	 * unsynced: rate/<id>, rate/global, pool/rr, sticky/<hash> and the
	 * derived pool/index are soft state (store.h).  A pick that heals
	 * accounts saves their state, and that makes the transaction sync
	 * (accounts_txn_save_state).
	 */
	mode = dry ? PICK_DRY : writes_every_pick(cfg) ? PICK_WRITE :
	    PICK_READ;
	pick_txns = 0;
	for (;;) {
		pick_txns++;
		if ((er = store_begin(st, pick_store_mode(mode, pick_txns > 1),
		    &txn, cause)) != KF_OK)
			return er;
		/* A round thrown away must leave no cause behind. */
		why = NULL;
		er = pick_in(txn, mode, cfg, req, out, &need_write,
		    cause != NULL ? &why : NULL);
		if ((stale = store_txn_stale(txn))) {
			/* Decided on reads of two states: none of it stands. */
			if (er == KF_OK)
				account_free(out);
			pick_outputs_clear(req, out);
			free(why);
			er = KF_OK;
		} else if (why != NULL) {
			free(*cause);
			*cause = why;
		}
		er2 = store_end(txn, er == KF_OK ? cause : NULL);
		if (er == KF_OK && er2 != KF_OK) {
			account_free(out);
			return er2;
		}
		if (stale)
			continue;
		if (er != KF_OK || !need_write)
			return er;
		if (mode == PICK_DRY)
			return KF_OK;	/* a write would find one */
		mode = PICK_WRITE;
	}
}

int
pool_pick_txns(void)
{
	return pick_txns;
}

enum kf_err
pool_pick(struct store *st, const struct config *cfg,
    const struct pool_pick_req *req, struct account *out, char **cause)
{
	return pick(st, cfg, req, out, 0, cause);
}

int
pool_can_serve(struct store *st, const struct config *cfg,
    const struct pool_pick_req *req)
{
	struct pool_pick_req	r = *req;
	struct account		a;

	r.conversation_id = NULL;
	r.retry_after = NULL;
	return pick(st, cfg, &r, &a, 1, NULL) == KF_OK;
}

void
pool_session_hash(const struct conv *conv, char out[POOL_SESSION_LEN + 1])
{
	struct buf	in = BUF_INIT;
	size_t		i, j;

	/*
	 * Two client keys never share a session (and so its account), even
	 * when their clients send the same user id or opening.
	 */
	if (conv->client_key != NULL && conv->client_key[0] != '\0') {
		buf_puts(&in, "client\n");
		buf_puts(&in, conv->client_key);
		buf_append(&in, "", 1);
	}
	if (conv->session_key != NULL && conv->session_key[0] != '\0') {
		buf_puts(&in, "key\n");
		buf_puts(&in, conv->session_key);
	} else {
		/* The same opening means the same conversation. */
		buf_puts(&in, "conv\n");
		if (conv->system != NULL)
			buf_puts(&in, conv->system);
		buf_append(&in, "", 1);
		for (i = 0; i < conv->n_msgs; i++) {
			if (conv->msgs[i].role != CONV_ROLE_USER)
				continue;
			for (j = 0; j < conv->msgs[i].n_blocks; j++)
				if (conv->msgs[i].blocks[j].type ==
				    CONV_BLOCK_TEXT &&
				    conv->msgs[i].blocks[j].text != NULL)
					buf_puts(&in,
					    conv->msgs[i].blocks[j].text);
			break;
		}
	}
	sha256_hex(in.ptr, in.len, out);
	buf_free(&in);
}

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
    const char *detail, time_t now, time_t until)
{
	s->disabled = reason;
	s->disabled_at = now;
	s->disabled_until = until;
	free(s->disabled_detail);
	s->disabled_detail = detail != NULL ? xstrdup(detail) : NULL;
}

/* 00:00 UTC on the first day of the next month: Kiro's quota reset. */
static time_t
next_month(time_t now)
{
	struct tm	tm;

	gmtime_r(&now, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (++tm.tm_mon == 12) {
		tm.tm_mon = 0;
		tm.tm_year++;
	}
	return timegm(&tm);
}

/*
 * When a used-up quota comes back: the reset date getUsageLimits gave
 * (usage/<id>, shared/usage.c) when it is known and ahead, else Kiro's
 * usual reset at the start of the next month.
 */
static time_t
quota_reset(struct store_txn *txn, long id, time_t now)
{
	struct buf	 raw = BUF_INIT;
	json_object	*o = NULL;
	char		 key[64];
	int64_t		 at = 0;

	snprintf(key, sizeof(key), "usage/%ld", id);
	if (store_get(txn, key, &raw) == KF_OK &&
	    json_parse(raw.ptr, raw.len, 8, &o, NULL) == KF_OK &&
	    json_get_int(o, "nextResetAt", &at) == 1 && at > now)
		now = (time_t)at;
	else
		now = next_month(now);
	json_object_put(o);
	buf_free(&raw);
	return now;
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
pool_report(struct store *st, const struct config *cfg,
    const struct account *seen, enum pool_outcome outcome, const char *detail,
    char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	struct tally		*t;
	time_t			 now = clock_now();
	long			 id = seen->cred.id, secs, cap, k;
	char			*note = NULL;
	size_t			 n;
	enum kf_err		 er;

	/* The common case: nothing to forget, counters only. */
	if (outcome == POOL_SUCCESS && seen->state.failures == 0 &&
	    seen->state.throttles == 0 && seen->state.disabled == ACCOUNT_OK) {
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
		a.state.throttles = 0;
		a.state.cooldown_until = 0;
		a.state.success_count++;
		/* A timed disable (quota) whose date has passed ends. */
		if (a.state.disabled != ACCOUNT_OK &&
		    a.state.disabled_until != 0 &&
		    a.state.disabled_until <= now) {
			note = xstrdup("the disable period ended (quota reset "
			    "date passed)");
			disable(&a.state, ACCOUNT_OK, NULL, 0, 0);
		}
		break;
	case POOL_FAILURE:
		if (++a.state.failures >= POOL_MAX_FAILURES &&
		    a.state.disabled == ACCOUNT_OK) {
			disable(&a.state, ACCOUNT_TOO_MANY_FAILURES, detail,
			    now, 0);
			note = xasprintf("%ld consecutive failures%s%s",
			    a.state.failures, detail != NULL ? ": " : "",
			    detail != NULL ? detail : "");
			log_warnx("account %ld disabled after %ld consecutive "
			    "failures", id, a.state.failures);
		}
		break;
	case POOL_THROTTLED:
		cap = cfg != NULL ? cfg->cooldown_max_seconds : 3600;
		a.state.throttles++;
		secs = POOL_COOLDOWN_BASE;
		for (k = 1; k < a.state.throttles && secs < cap; k++)
			secs *= 2;
		if (secs > cap)
			secs = cap;
		a.state.cooldown_until = now + secs;
		note = xasprintf("throttled by Kiro: cooling down for %ld s%s%s",
		    secs, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
		log_warnx("account %ld throttled: cooling down for %ld s", id,
		    secs);
		break;
	case POOL_QUOTA:
		disable(&a.state, ACCOUNT_QUOTA_EXCEEDED, detail, now,
		    quota_reset(txn, id, now));
		log_warnx("account %ld disabled: monthly quota used up", id);
		break;
	case POOL_SUSPENDED:
		disable(&a.state, ACCOUNT_SUSPENDED, detail, now, 0);
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
	er = accounts_txn_save_state_noted(txn, id, &a.state, note, 0, cause);
	account_free(&a);
out:
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK && er == KF_OK)
		er = KF_ESTORE;
	if (er != KF_OK)
		tally_return(t, n);
	else
		free(t);
	free(note);
	return er;
}

enum admin_op {
	ADMIN_ENABLE,
	ADMIN_DISABLE,
	ADMIN_RESET,
};

static enum kf_err
admin(struct store *st, long id, enum admin_op op, const char *detail,
    char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	const char		*note = NULL;
	time_t			 now = clock_now();
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) != KF_OK)
		goto out;
	switch (op) {
	case ADMIN_ENABLE:
		disable(&a.state, ACCOUNT_OK, NULL, 0, 0);
		a.state.failures = 0;
		a.state.refresh_failures = 0;
		note = "enabled by the operator";
		break;
	case ADMIN_DISABLE:
		disable(&a.state, ACCOUNT_MANUAL, detail != NULL ? detail :
		    "disabled by the operator", now, 0);
		note = detail != NULL ? detail : "disabled by the operator";
		break;
	case ADMIN_RESET:
		disable(&a.state, ACCOUNT_OK, NULL, 0, 0);
		a.state.failures = 0;
		a.state.refresh_failures = 0;
		a.state.throttles = 0;
		a.state.cooldown_until = 0;
		note = "reset by the operator";
		break;
	}
	er = accounts_txn_save_state_noted(txn, id, &a.state, note, 1, cause);
	account_free(&a);
out:
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK && er == KF_OK)
		er = KF_ESTORE;
	return er;
}

enum kf_err
pool_enable(struct store *st, long id, char **cause)
{
	return admin(st, id, ADMIN_ENABLE, NULL, cause);
}

enum kf_err
pool_disable(struct store *st, long id, const char *detail, char **cause)
{
	return admin(st, id, ADMIN_DISABLE, detail, cause);
}

enum kf_err
pool_reset(struct store *st, long id, char **cause)
{
	return admin(st, id, ADMIN_RESET, NULL, cause);
}
