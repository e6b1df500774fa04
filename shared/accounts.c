/* accounts.c: credentials and their runtime state, kept in the store. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "digest.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

#define IDS_KEY		"meta/cred-ids"
#define INDEX_KEY	"pool/index"
#define NEXT_ID_KEY	"meta/next-id"
#define MAX_IMPORT_FILE	(4 * 1024 * 1024)

static const char *const reason_names[ACCOUNT_REASON__MAX] = {
	"",
	"Manual",
	"TooManyFailures",
	"TooManyRefreshFailures",
	"QuotaExceeded",
	"Suspended",
	"InvalidRefreshToken",
	"InvalidConfig",
};

const char *
account_reason_name(enum account_reason r)
{
	return (unsigned)r < ACCOUNT_REASON__MAX ? reason_names[r] : "";
}

static int
reason_parse(const char *s, enum account_reason *out)
{
	size_t	i;

	for (i = 1; i < ACCOUNT_REASON__MAX; i++)
		if (strcmp(reason_names[i], s) == 0) {
			*out = (enum account_reason)i;
			return 0;
		}
	return -1;
}

int
account_usable(const struct account *a, time_t now)
{
	if (a->state.disabled != ACCOUNT_OK &&
	    (a->state.disabled_until == 0 || a->state.disabled_until > now))
		return 0;
	return a->state.cooldown_until <= now;
}

const char *
account_state_word(const struct account *a, time_t now)
{
	if (a->state.disabled == ACCOUNT_INVALID_REFRESH_TOKEN)
		return "needs-login";
	if (a->state.disabled != ACCOUNT_OK &&
	    (a->state.disabled_until == 0 || a->state.disabled_until > now))
		return "disabled";
	if (a->state.cooldown_until > now)
		return "cooldown";
	return "ok";
}

void
account_state_free(struct account_state *s)
{
	if (s == NULL)
		return;
	free(s->disabled_detail);
	free(s->last_error);
	free(s->subscription);
	memset(s, 0, sizeof(*s));
}

void
account_free(struct account *a)
{
	if (a == NULL)
		return;
	cred_free(&a->cred);
	account_state_free(&a->state);
}

void
accounts_free(struct account *arr, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		account_free(&arr[i]);
	free(arr);
}

static void
add_time(json_object *obj, const char *key, time_t t)
{
	if (t != 0)
		json_object_object_add(obj, key, json_object_new_int64(t));
}

static void
add_long(json_object *obj, const char *key, long v)
{
	if (v != 0)
		json_object_object_add(obj, key, json_object_new_int64(v));
}

json_object *
account_state_to_json(const struct account_state *s)
{
	json_object	*obj;

	obj = json_object_new_object();
	json_object_object_add(obj, "v", json_object_new_int(1));
	if (s->disabled != ACCOUNT_OK)
		json_object_object_add(obj, "disabled",
		    json_str(account_reason_name(s->disabled)));
	if (s->disabled_detail != NULL)
		json_object_object_add(obj, "disabledDetail",
		    json_str(s->disabled_detail));
	add_time(obj, "disabledAt", s->disabled_at);
	add_time(obj, "disabledUntil", s->disabled_until);
	add_long(obj, "failures", s->failures);
	add_long(obj, "refreshFailures", s->refresh_failures);
	add_time(obj, "cooldownUntil", s->cooldown_until);
	add_long(obj, "throttles", s->throttles);
	add_long(obj, "successCount", s->success_count);
	add_long(obj, "requestCount", s->request_count);
	add_time(obj, "lastUsed", s->last_used);
	if (s->last_error != NULL)
		json_object_object_add(obj, "lastError",
		    json_str(s->last_error));
	add_time(obj, "lastErrorAt", s->last_error_at);
	if (s->subscription != NULL)
		json_object_object_add(obj, "subscription",
		    json_str(s->subscription));
	if (s->route_known) {
		json_object_object_add(obj, "routeHost",
		    json_str(config_api_host_name(s->route_host)));
		json_object_object_add(obj, "routeStyle",
		    json_str(config_api_style_name(s->route_style)));
		add_time(obj, "routeAt", s->route_at);
	}
	return obj;
}

static long
get_long(json_object *obj, const char *key)
{
	int64_t	v;

	return json_get_int(obj, key, &v) == 1 ? (long)v : 0;
}

static char *
get_strdup(json_object *obj, const char *key)
{
	const char	*s;

	return json_get_str(obj, key, &s) == 1 ? xstrdup(s) : NULL;
}

enum kf_err
account_state_from_json(json_object *obj, struct account_state *s,
    char **cause)
{
	const char	*reason, *host, *style;

	memset(s, 0, sizeof(*s));
	if (!json_object_is_type(obj, json_type_object)) {
		xsetprintf(cause, "account state is not a JSON object");
		return KF_ESTORE;
	}
	if (json_get_str(obj, "disabled", &reason) == 1 &&
	    reason_parse(reason, &s->disabled) == -1)
		s->disabled = ACCOUNT_MANUAL;
	s->disabled_detail = get_strdup(obj, "disabledDetail");
	s->disabled_at = get_long(obj, "disabledAt");
	s->disabled_until = get_long(obj, "disabledUntil");
	s->failures = get_long(obj, "failures");
	s->refresh_failures = get_long(obj, "refreshFailures");
	s->cooldown_until = get_long(obj, "cooldownUntil");
	s->throttles = get_long(obj, "throttles");
	s->success_count = get_long(obj, "successCount");
	s->request_count = get_long(obj, "requestCount");
	s->last_used = get_long(obj, "lastUsed");
	s->last_error = get_strdup(obj, "lastError");
	s->last_error_at = get_long(obj, "lastErrorAt");
	s->subscription = get_strdup(obj, "subscription");
	/* Both or neither: a half-known route is no route. */
	s->route_known = json_get_str(obj, "routeHost", &host) == 1 &&
	    json_get_str(obj, "routeStyle", &style) == 1 &&
	    config_api_host_parse(host, &s->route_host) == 0 &&
	    config_api_style_parse(style, &s->route_style) == 0;
	s->route_at = get_long(obj, "routeAt");
	return KF_OK;
}

/* Parses the text of the record under key into *out (one reference). */
static enum kf_err
record_parse(const char *key, const struct buf *raw, json_object **out,
    char **cause)
{
	char		*why = NULL;
	enum kf_err	 er = KF_OK;

	*out = NULL;
	if (json_parse(raw->ptr, raw->len, 64, out, &why) != KF_OK) {
		xsetprintf(cause, "state record %s is corrupt: %s", key, why);
		er = KF_ESTORE;
	}
	free(why);
	return er;
}

/* Records hold tokens: what was read is wiped before it is freed. */
static void
raw_free(struct buf *raw)
{
	if (raw->ptr != NULL)
		explicit_bzero(raw->ptr, raw->len);
	buf_free(raw);
}

static enum kf_err
txn_get_json(struct store_txn *txn, const char *key, json_object **out,
    char **cause)
{
	struct buf	 raw = BUF_INIT;
	enum kf_err	 er;

	*out = NULL;
	if ((er = store_get(txn, key, &raw)) == KF_OK)
		er = record_parse(key, &raw, out, cause);
	raw_free(&raw);
	return er;
}

static enum kf_err
txn_put_json(struct store_txn *txn, const char *key, json_object *v,
    char **cause)
{
	struct buf	raw = BUF_INIT;
	enum kf_err	er;

	json_to_buf(v, &raw);
	if ((er = store_put(txn, key, raw.ptr, raw.len)) != KF_OK)
		xsetprintf(cause, "cannot write %s to the state file", key);
	explicit_bzero(raw.ptr, raw.len);
	buf_free(&raw);
	return er;
}

enum kf_err
accounts_txn_ids(struct store_txn *txn, long **ids, size_t *n,
    char **cause)
{
	json_object	*arr = NULL;
	size_t		 i, len;
	enum kf_err	 er;

	*ids = NULL;
	*n = 0;
	er = txn_get_json(txn, IDS_KEY, &arr, NULL);
	if (er == KF_ENOTFOUND)
		return KF_OK;
	if (er != KF_OK || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		xsetprintf(cause, "the account list in the state file is "
		    "corrupt");
		return KF_ESTORE;
	}
	len = json_object_array_length(arr);
	*ids = xcalloc(len == 0 ? 1 : len, sizeof(**ids));
	for (i = 0; i < len; i++)
		(*ids)[i] = (long)json_object_get_int64(
		    json_object_array_get_idx(arr, i));
	*n = len;
	json_object_put(arr);
	return KF_OK;
}

static enum kf_err
txn_put_ids(struct store_txn *txn, const long *ids, size_t n, char **cause)
{
	json_object	*arr;
	size_t		 i;
	enum kf_err	 er;

	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int64(ids[i]));
	er = txn_put_json(txn, IDS_KEY, arr, cause);
	json_object_put(arr);
	return er;
}

static int
is_free_plan(const char *subscription)
{
	return subscription != NULL && strcasestr(subscription, "FREE") != NULL;
}

/* The state as the history names it: "ok", "cooldown" or a reason. */
static const char *
state_label(const struct account_state *s, time_t now)
{
	if (s->disabled != ACCOUNT_OK)
		return account_reason_name(s->disabled);
	if (s->cooldown_until > now)
		return "cooldown";
	return "ok";
}

static void
entry_from_state(struct account_entry *e, const struct account_state *s)
{
	e->until = 0;
	if (s->disabled != ACCOUNT_OK)
		e->until = s->disabled_until == 0 ? -1 : s->disabled_until;
	if (e->until != -1 && s->cooldown_until > e->until)
		e->until = s->cooldown_until;
	e->successes = s->success_count;
	e->free_plan = is_free_plan(s->subscription);
	e->reason = s->disabled;
}

int
account_entry_usable(const struct account_entry *e, time_t now)
{
	return e->until == 0 || (e->until != -1 && e->until <= now);
}

/* The fingerprint of meta/cred-ids (NULL: none) that tells a stale index. */
static void
ids_stamp_of(const struct buf *raw, char out[32])
{
	if (raw == NULL)
		snprintf(out, 32, "none");
	else
		snprintf(out, 32, "%08" PRIx32 "-%zu",
		    crc32_update(0, raw->ptr, raw->len), raw->len);
}

static void
ids_stamp(struct store_txn *txn, char out[32])
{
	struct buf	raw = BUF_INIT;

	ids_stamp_of(store_get(txn, IDS_KEY, &raw) == KF_OK ? &raw : NULL,
	    out);
	buf_free(&raw);
}

void
accounts_index_free(struct account_index *idx)
{
	free(idx->e);
	idx->e = NULL;
	idx->n = 0;
}

static enum kf_err
index_put(struct store_txn *txn, const struct account_index *idx)
{
	struct buf	out = BUF_INIT;
	char		stamp[32];
	size_t		i;
	enum kf_err	er;

	ids_stamp(txn, stamp);
	buf_printf(&out, "{\"v\":1,\"ids\":\"%s\",\"a\":[", stamp);
	for (i = 0; i < idx->n; i++)
		buf_printf(&out, "%s[%ld,%ld,%lld,%ld,%d,%d]", i > 0 ? "," : "",
		    idx->e[i].id, idx->e[i].priority,
		    (long long)idx->e[i].until, idx->e[i].successes,
		    idx->e[i].free_plan, idx->e[i].reason);
	buf_puts(&out, "]}");
	er = store_put(txn, INDEX_KEY, out.ptr, out.len);
	buf_free(&out);
	return er;
}

/*
 * Reads our own compact record without a general JSON parser: this runs
 * on every request, and the shape is fixed by index_put.
 */
static int
index_parse(const char *p, struct account_index *idx, char stamp[32])
{
	const char	*q;
	long long	 f[6];
	char		*end;
	size_t		 len, k;

	if ((p = strstr(p, "\"ids\":\"")) == NULL)
		return -1;
	p += 7;
	if ((q = strchr(p, '"')) == NULL || (len = (size_t)(q - p)) >= 32)
		return -1;
	memcpy(stamp, p, len);
	stamp[len] = '\0';
	if ((p = strstr(q, "\"a\":[")) == NULL)
		return -1;
	p += 5;
	while (*p == '[') {
		p++;
		for (k = 0; k < 6; k++) {
			errno = 0;
			f[k] = strtoll(p, &end, 10);
			if (end == p || errno != 0)
				return -1;
			p = end;
			if (*p != (k < 5 ? ',' : ']'))
				return -1;
			p++;
		}
		idx->e = xreallocarray(idx->e, idx->n + 1, sizeof(*idx->e));
		idx->e[idx->n].id = (long)f[0];
		idx->e[idx->n].priority = (long)f[1];
		idx->e[idx->n].until = (time_t)f[2];
		idx->e[idx->n].successes = (long)f[3];
		idx->e[idx->n].free_plan = (int)f[4];
		idx->e[idx->n].reason = (int)f[5];
		idx->n++;
		if (*p == ',')
			p++;
	}
	return *p == ']' ? 0 : -1;
}

/*
 * Every request reads pool/index and meta/cred-ids, and they change with
 * account state, which is rare: parsing the index and fingerprinting the
 * ids was a tenth of a pick.  Each thread keeps its last good load with
 * the exact bytes of both records it came from: the same bytes give a
 * copy of the same entries, and any other bytes (another process's
 * write) load afresh, so nothing can go stale.  Fixed size, no heap: a
 * larger index is loaded every time.
 */
#define INDEX_MEMO_RAW		4096
#define INDEX_MEMO_IDS		1024
#define INDEX_MEMO_ENTRIES	64

struct index_memo {
	size_t			index_len;	/* 0: empty */
	char			index_raw[INDEX_MEMO_RAW];
	size_t			ids_len;
	int			ids_found;
	char			ids_raw[INDEX_MEMO_IDS];
	size_t			n;
	struct account_entry	e[INDEX_MEMO_ENTRIES];
};

static __thread struct index_memo	index_memo;

static int
bytes_equal(const char *kept, size_t kept_len, const struct buf *b)
{
	return kept_len == b->len && (b->len == 0 ||
	    memcmp(kept, b->ptr, b->len) == 0);
}

/* 1 with a copy of the entries in idx when the thread kept these bytes. */
static int
index_memo_find(const struct buf *raw, const struct buf *ids,
    struct account_index *idx)
{
	const struct index_memo	*m = &index_memo;

	if (m->index_len == 0 || !bytes_equal(m->index_raw, m->index_len,
	    raw) || m->ids_found != (ids != NULL) || (ids != NULL &&
	    !bytes_equal(m->ids_raw, m->ids_len, ids)))
		return 0;
	idx->e = xcalloc(m->n == 0 ? 1 : m->n, sizeof(*idx->e));
	memcpy(idx->e, m->e, m->n * sizeof(*idx->e));
	idx->n = m->n;
	return 1;
}

static void
index_memo_keep(const struct buf *raw, const struct buf *ids,
    const struct account_index *idx)
{
	struct index_memo	*m = &index_memo;

	m->index_len = 0;
	if (raw->len == 0 || raw->len > sizeof(m->index_raw) ||
	    (ids != NULL && ids->len > sizeof(m->ids_raw)) ||
	    idx->n > INDEX_MEMO_ENTRIES)
		return;
	memcpy(m->index_raw, raw->ptr, raw->len);
	m->ids_found = ids != NULL;
	m->ids_len = ids != NULL ? ids->len : 0;
	if (ids != NULL && ids->len > 0)
		memcpy(m->ids_raw, ids->ptr, ids->len);
	m->n = idx->n;
	if (idx->n > 0)
		memcpy(m->e, idx->e, idx->n * sizeof(*idx->e));
	m->index_len = raw->len;
}

enum kf_err
accounts_txn_index_load(struct store_txn *txn, struct account_index *idx)
{
	struct buf	 raw = BUF_INIT, ids_raw = BUF_INIT;
	const struct buf *ids;
	char		 stamp[32], want[32];
	enum kf_err	 er;

	memset(idx, 0, sizeof(*idx));
	if ((er = store_get(txn, INDEX_KEY, &raw)) != KF_OK)
		goto out;
	ids = store_get(txn, IDS_KEY, &ids_raw) == KF_OK ? &ids_raw : NULL;
	if (index_memo_find(&raw, ids, idx))
		goto out;
	if (index_parse(raw.ptr, idx, stamp) == -1) {
		er = KF_ENOTFOUND;
		goto out;
	}
	ids_stamp_of(ids, want);
	if (strcmp(stamp, want) != 0)
		er = KF_ENOTFOUND;
	else
		index_memo_keep(&raw, ids, idx);
out:
	if (er != KF_OK)
		accounts_index_free(idx);
	buf_free(&raw);
	buf_free(&ids_raw);
	return er;
}

enum kf_err
accounts_txn_index_build(struct store_txn *txn, struct account_index *idx,
    char **cause)
{
	struct account	 a;
	long		*ids = NULL;
	size_t		 n = 0, i;
	enum kf_err	 er;

	memset(idx, 0, sizeof(*idx));
	if ((er = accounts_txn_ids(txn, &ids, &n, cause)) != KF_OK)
		return er;
	idx->e = xcalloc(n == 0 ? 1 : n, sizeof(*idx->e));
	for (i = 0; i < n; i++) {
		if (accounts_txn_load(txn, ids[i], &a, NULL) != KF_OK)
			continue;
		idx->e[idx->n].id = a.cred.id;
		idx->e[idx->n].priority = a.cred.priority;
		entry_from_state(&idx->e[idx->n], &a.state);
		idx->n++;
		account_free(&a);
	}
	free(ids);
	if ((er = index_put(txn, idx)) != KF_OK)
		xsetprintf(cause, "cannot write the account index");
	return er;
}

/* Makes the next pick rebuild the index. */
static void
index_stale(struct store_txn *txn)
{
	(void)store_del(txn, INDEX_KEY);
}

/*
 * Changes account id's line of pool/index in place (change returns 0 when
 * it changed nothing: no write).  With no index there is nothing to do:
 * the next pick builds one.  An unreadable index, or one that cannot be
 * written, is made stale, and so is one without the id when
 * stale_if_missing.
 */
static void
index_line_update(struct store_txn *txn, long id, int stale_if_missing,
    int (*change)(struct account_entry *, const void *), const void *arg)
{
	struct account_index	idx;
	struct buf		raw = BUF_INIT;
	char			stamp[32];
	size_t			i;

	memset(&idx, 0, sizeof(idx));
	if (store_get(txn, INDEX_KEY, &raw) != KF_OK)
		goto out;
	if (index_parse(raw.ptr, &idx, stamp) == -1) {
		index_stale(txn);
		goto out;
	}
	for (i = 0; i < idx.n; i++)
		if (idx.e[i].id == id)
			break;
	if (i == idx.n) {
		if (stale_if_missing)
			index_stale(txn);
		goto out;
	}
	if (change(&idx.e[i], arg) && index_put(txn, &idx) != KF_OK)
		index_stale(txn);
out:
	accounts_index_free(&idx);
	buf_free(&raw);
}

static int
entry_set_priority(struct account_entry *e, const void *arg)
{
	const struct cred	*c = arg;

	if (e->priority == c->priority)
		return 0;
	e->priority = c->priority;
	return 1;
}

static int
entry_set_state(struct account_entry *e, const void *arg)
{
	entry_from_state(e, arg);
	return 1;
}

/* Before cred/<id> is saved: its priority in the index. */
static void
cred_saving(struct store_txn *txn, const struct cred *c)
{
	/* Credentials must last, whatever transaction saves them. */
	store_need_sync(txn);
	/*
	 * Token refreshes save credentials all the time: only a changed
	 * priority touches the index.  A new id changes meta/cred-ids,
	 * which makes the index stale by itself.
	 */
	index_line_update(txn, c->id, 0, entry_set_priority, c);
}

/*
 * Appends one entry to cred-log/<id>, keeping the newest
 * ACCOUNTS_HISTORY_MAX.
 */
static void
history_add(struct store_txn *txn, long id, time_t at, const char *from,
    const char *to, const char *reason)
{
	struct buf	 raw = BUF_INIT;
	json_object	*arr = NULL, *kept, *ent;
	char		 key[64], *text;
	size_t		 len, i;

	snprintf(key, sizeof(key), "cred-log/%ld", id);
	if (store_get(txn, key, &raw) != KF_OK || json_parse(raw.ptr, raw.len,
	    8, &arr, NULL) != KF_OK || !json_object_is_type(arr,
	    json_type_array)) {
		json_object_put(arr);
		arr = json_object_new_array();
	}
	ent = json_object_new_object();
	json_object_object_add(ent, "at", json_object_new_int64(at));
	json_object_object_add(ent, "from", json_str(from));
	json_object_object_add(ent, "to", json_str(to));
	json_object_object_add(ent, "reason", json_str(reason != NULL ?
	    reason : ""));
	json_object_array_add(arr, ent);
	len = json_object_array_length(arr);
	kept = json_object_new_array();
	for (i = len > ACCOUNTS_HISTORY_MAX ? len - ACCOUNTS_HISTORY_MAX : 0;
	    i < len; i++)
		json_object_array_add(kept, json_object_get(
		    json_object_array_get_idx(arr, i)));
	text = json_to_str(kept);
	if (store_put(txn, key, text, strlen(text)) != KF_OK)
		log_warnx("account %ld: cannot record a state change", id);
	free(text);
	json_object_put(kept);
	json_object_put(arr);
	buf_free(&raw);
}

/*
 * Before cred-state/<id> is saved: a history entry when the state word
 * changes (always when force: an operator action), with reason or else
 * upstream's words, and the index line.
 */
static void
state_saving(struct store_txn *txn, long id, const struct account_state *s,
    const char *reason, int force)
{
	struct account_state	 old;
	struct buf		 raw = BUF_INIT;
	json_object		*obj = NULL;
	const char		*from, *to, *why;
	char			 key[64];
	time_t			 now = clock_now();

	/*
	 * Account state (disables, cooldowns, failure counts, history) must
	 * last: a pick's unsynced transaction that heals accounts syncs.
	 */
	store_need_sync(txn);
	memset(&old, 0, sizeof(old));
	snprintf(key, sizeof(key), "cred-state/%ld", id);
	if (store_get(txn, key, &raw) == KF_OK && json_parse(raw.ptr, raw.len,
	    8, &obj, NULL) == KF_OK)
		(void)account_state_from_json(obj, &old, NULL);
	json_object_put(obj);
	from = state_label(&old, now);
	to = state_label(s, now);
	if (force || strcmp(from, to) != 0) {
		why = reason;
		if (why == NULL)
			why = s->disabled_detail != NULL ? s->disabled_detail :
			    s->last_error != NULL ? s->last_error : "";
		history_add(txn, id, now, from, to, why);
	}
	account_state_free(&old);
	buf_free(&raw);
	/* The index line follows; an index without the id is rebuilt. */
	index_line_update(txn, id, 1, entry_set_state, s);
}

/*
 * prefix and id as a key ("cred/12"), as snprintf would write it but at a
 * tenth of its cost: every pick builds two.  key has size bytes, which
 * the literal prefixes and 20 digits fit in.
 */
static void
id_key(char *key, size_t size, const char *prefix, long id)
{
	char		 digits[BUF_DECIMAL_LEN];
	const char	*d;
	size_t		 prefix_len = strlen(prefix), len;

	d = buf_decimal(id, digits, &len);
	if (prefix_len + len >= size)
		abort();
	memcpy(key, prefix, prefix_len);
	memcpy(key + prefix_len, d, len);
	key[prefix_len + len] = '\0';
}

/*
 * Every request loads the account it picked, and its two records rarely
 * change: parsing them (json-c objects, then each field) was half of the
 * pick's work.  The last parse per slot is kept with the exact bytes it
 * came from; the same bytes give a copy of the same result, and any other
 * bytes parse afresh, so nothing can go stale.  The kept bytes hold
 * tokens, as the account does: they are wiped when the slot is reused.
 * Per process under a lock, taken around fork (pthread_atfork).
 */
#define PARSED_SLOTS	16

struct parsed {
	long		 id;		/* 0: an empty slot */
	struct buf	 cred_raw;
	struct buf	 state_raw;
	int		 has_state;
	struct account	 account;
};

static pthread_mutex_t	 parsed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t	 parsed_once = PTHREAD_ONCE_INIT;
static struct parsed	 parsed[PARSED_SLOTS];

static void
parsed_lock_take(void)
{
	pthread_mutex_lock(&parsed_lock);
}

static void
parsed_lock_drop(void)
{
	pthread_mutex_unlock(&parsed_lock);
}

static void
parsed_register(void)
{
	(void)pthread_atfork(parsed_lock_take, parsed_lock_drop,
	    parsed_lock_drop);
}

static struct parsed *
parsed_slot(long id)
{
	return &parsed[(unsigned long)id % PARSED_SLOTS];
}

static int
raw_equal(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->ptr, b->ptr, a->len) == 0);
}

static void
state_copy(struct account_state *dst, const struct account_state *src)
{
	*dst = *src;
	dst->disabled_detail = xstrdup(src->disabled_detail);
	dst->last_error = xstrdup(src->last_error);
	dst->subscription = xstrdup(src->subscription);
}

/* 1 with a copy in *out when the slot holds this parse of these bytes. */
static int
parsed_find(long id, const struct buf *cred_raw, const struct buf *state_raw,
    struct account *out)
{
	struct parsed	*p;
	int		 hit;

	pthread_once(&parsed_once, parsed_register);
	pthread_mutex_lock(&parsed_lock);
	p = parsed_slot(id);
	hit = p->id == id && id != 0 && raw_equal(&p->cred_raw, cred_raw) &&
	    p->has_state == (state_raw != NULL) &&
	    (state_raw == NULL || raw_equal(&p->state_raw, state_raw));
	if (hit) {
		cred_copy(&out->cred, &p->account.cred);
		state_copy(&out->state, &p->account.state);
	}
	pthread_mutex_unlock(&parsed_lock);
	return hit;
}

static void
parsed_keep(long id, const struct buf *cred_raw, const struct buf *state_raw,
    const struct account *a)
{
	struct parsed	*p;

	pthread_mutex_lock(&parsed_lock);
	p = parsed_slot(id);
	raw_free(&p->cred_raw);
	raw_free(&p->state_raw);
	account_free(&p->account);
	p->id = id;
	buf_append(&p->cred_raw, cred_raw->ptr, cred_raw->len);
	p->has_state = state_raw != NULL;
	if (state_raw != NULL)
		buf_append(&p->state_raw, state_raw->ptr, state_raw->len);
	cred_copy(&p->account.cred, &a->cred);
	state_copy(&p->account.state, &a->state);
	pthread_mutex_unlock(&parsed_lock);
}

/*
 * The records' text to an account: the credential first, then the state
 * record, whose read error (state_er other than KF_ENOTFOUND) is returned
 * once the credential parsed, as when the state was read after it.
 */
static enum kf_err
account_parse(long id, const struct buf *cred_raw, const struct buf *state_raw,
    enum kf_err state_er, struct account *out, char **cause)
{
	json_object	*obj = NULL;
	char		 key[64];
	enum kf_err	 er;

	snprintf(key, sizeof(key), "cred/%ld", id);
	if ((er = record_parse(key, cred_raw, &obj, cause)) != KF_OK)
		return er;
	er = cred_from_json(obj, &out->cred, cause);
	json_object_put(obj);
	obj = NULL;
	if (er != KF_OK)
		return KF_ESTORE;
	out->cred.id = id;
	if (state_er == KF_ENOTFOUND)
		return KF_OK;
	snprintf(key, sizeof(key), "cred-state/%ld", id);
	er = state_er;
	if (er == KF_OK)
		er = record_parse(key, state_raw, &obj, cause);
	if (er == KF_OK)
		er = account_state_from_json(obj, &out->state, cause);
	json_object_put(obj);
	if (er != KF_OK)
		account_free(out);
	return er;
}

enum kf_err
accounts_txn_load(struct store_txn *txn, long id, struct account *out,
    char **cause)
{
	struct buf	 cred_raw = BUF_INIT, state_raw = BUF_INIT;
	const struct buf *state;
	char		 key[64];
	enum kf_err	 er, state_er;

	memset(out, 0, sizeof(*out));
	id_key(key, sizeof(key), "cred/", id);
	if ((er = store_get(txn, key, &cred_raw)) != KF_OK) {
		if (er == KF_ENOTFOUND)
			xsetprintf(cause, "no account with id %ld", id);
		goto out;
	}
	id_key(key, sizeof(key), "cred-state/", id);
	state_er = store_get(txn, key, &state_raw);
	state = state_er == KF_OK ? &state_raw : NULL;
	if ((state_er == KF_OK || state_er == KF_ENOTFOUND) &&
	    parsed_find(id, &cred_raw, state, out))
		goto out;
	er = account_parse(id, &cred_raw, &state_raw, state_er, out, cause);
	if (er == KF_OK)
		parsed_keep(id, &cred_raw, state, out);
out:
	raw_free(&cred_raw);
	raw_free(&state_raw);
	return er;
}

enum kf_err
accounts_txn_save_cred(struct store_txn *txn, const struct cred *c,
    char **cause)
{
	json_object	*obj;
	char		 key[128], hash[65], idtext[32];
	enum kf_err	 er;

	cred_saving(txn, c);
	snprintf(key, sizeof(key), "cred/%ld", c->id);
	obj = cred_to_json(c, CRED_JSON_STORE);
	er = txn_put_json(txn, key, obj, cause);
	json_object_put(obj);
	if (er != KF_OK)
		return er;
	cred_identity_hash(c, hash);
	snprintf(key, sizeof(key), "credhash/%s", hash);
	snprintf(idtext, sizeof(idtext), "%ld", c->id);
	if ((er = store_put(txn, key, idtext, strlen(idtext))) != KF_OK)
		xsetprintf(cause, "cannot write %s", key);
	return er;
}

enum kf_err
accounts_txn_save_state(struct store_txn *txn, long id,
    const struct account_state *s, char **cause)
{
	return accounts_txn_save_state_noted(txn, id, s, NULL, 0, cause);
}

enum kf_err
accounts_txn_save_state_noted(struct store_txn *txn, long id,
    const struct account_state *s, const char *reason, int force,
    char **cause)
{
	json_object	*obj;
	char		 key[64];
	enum kf_err	 er;

	/* History and the pick index follow every state change. */
	state_saving(txn, id, s, reason, force);
	snprintf(key, sizeof(key), "cred-state/%ld", id);
	obj = account_state_to_json(s);
	er = txn_put_json(txn, key, obj, cause);
	json_object_put(obj);
	return er;
}

enum kf_err
accounts_txn_reenable_failed(struct store_txn *txn, struct account_index *idx,
    const char *reason, char **cause)
{
	struct account	a;
	size_t		i;
	enum kf_err	er = KF_OK;

	for (i = 0; i < idx->n && er == KF_OK; i++) {
		if (accounts_txn_load(txn, idx->e[i].id, &a, NULL) != KF_OK)
			continue;
		if (a.state.disabled == ACCOUNT_TOO_MANY_FAILURES) {
			a.state.disabled = ACCOUNT_OK;
			a.state.failures = 0;
			a.state.disabled_at = 0;
			a.state.disabled_until = 0;
			free(a.state.disabled_detail);
			a.state.disabled_detail = NULL;
			er = accounts_txn_save_state_noted(txn, a.cred.id,
			    &a.state, reason, 0, cause);
		}
		account_free(&a);
	}
	if (er != KF_OK)
		return er;
	/* The saves kept the index current; a stale one is rebuilt. */
	accounts_index_free(idx);
	if ((er = accounts_txn_index_load(txn, idx)) == KF_ENOTFOUND)
		er = accounts_txn_index_build(txn, idx, cause);
	return er;
}

enum kf_err
accounts_history(struct store *st, long id, json_object **out, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	struct buf		 raw = BUF_INIT;
	char			 key[64];
	enum kf_err		 er;

	*out = NULL;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) != KF_OK)
		goto out;
	account_free(&a);
	snprintf(key, sizeof(key), "cred-log/%ld", id);
	if (store_get(txn, key, &raw) != KF_OK || json_parse(raw.ptr, raw.len,
	    8, out, NULL) != KF_OK || !json_object_is_type(*out,
	    json_type_array)) {
		json_object_put(*out);
		*out = json_object_new_array();
	}
out:
	buf_free(&raw);
	(void)store_end(txn, NULL);
	return er;
}

/* The id an identity hash belongs to, or 0. */
static long
txn_find_hash(struct store_txn *txn, const char *hash)
{
	struct buf	 raw = BUF_INIT;
	char		 key[128], *end;
	long		 id = 0;

	snprintf(key, sizeof(key), "credhash/%s", hash);
	if (store_get(txn, key, &raw) == KF_OK) {
		id = strtol(raw.ptr, &end, 10);
		if (*end != '\0' || id < 0)
			id = 0;
	}
	buf_free(&raw);
	return id;
}

static int
account_exists(struct store_txn *txn, long id)
{
	struct buf	raw = BUF_INIT;
	char		key[64];
	int		found;

	snprintf(key, sizeof(key), "cred/%ld", id);
	found = store_get(txn, key, &raw) == KF_OK;
	buf_free(&raw);
	return found;
}

static long
txn_next_id(struct store_txn *txn)
{
	struct buf	 raw = BUF_INIT;
	char		*end;
	long		 id = 1;

	if (store_get(txn, NEXT_ID_KEY, &raw) == KF_OK) {
		id = strtol(raw.ptr, &end, 10);
		if (*end != '\0' || id < 1)
			id = 1;
	}
	buf_free(&raw);
	return id;
}

enum kf_err
accounts_import(struct store *st, const struct cred *creds, size_t n,
    struct import_result *results, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account_state	 state;
	struct cred		 copy;
	long			*ids = NULL, next, dup;
	size_t			 n_ids = 0, i;
	char			 hash[65], idtext[32];
	enum kf_err		 er;

	/* Everything is allocated per entry before it is written. */
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_ids(txn, &ids, &n_ids, cause)) != KF_OK)
		goto out;
	next = txn_next_id(txn);
	for (i = 0; i < n; i++) {
		cred_identity_hash(&creds[i], hash);
		if ((dup = txn_find_hash(txn, hash)) != 0 &&
		    account_exists(txn, dup)) {
			results[i].id = dup;
			results[i].duplicate = 1;
			continue;
		}
		cred_copy(&copy, &creds[i]);
		copy.id = next++;
		copy.disabled = 0;
		er = accounts_txn_save_cred(txn, &copy, cause);
		memset(&state, 0, sizeof(state));
		if (er == KF_OK && creds[i].disabled) {
			state.disabled = ACCOUNT_MANUAL;
			state.disabled_at = clock_now();
			er = accounts_txn_save_state(txn, copy.id, &state,
			    cause);
		}
		results[i].id = copy.id;
		results[i].duplicate = 0;
		cred_free(&copy);
		if (er != KF_OK)
			goto out;
		ids = xreallocarray(ids, n_ids + 1, sizeof(*ids));
		ids[n_ids++] = results[i].id;
	}
	snprintf(idtext, sizeof(idtext), "%ld", next);
	if ((er = store_put(txn, NEXT_ID_KEY, idtext, strlen(idtext))) !=
	    KF_OK)
		goto out;
	er = txn_put_ids(txn, ids, n_ids, cause);
out:
	free(ids);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

static int
account_cmp(const void *a, const void *b)
{
	const struct account	*x = a, *y = b;

	if (x->cred.priority != y->cred.priority)
		return x->cred.priority < y->cred.priority ? -1 : 1;
	return (x->cred.id > y->cred.id) - (x->cred.id < y->cred.id);
}

enum kf_err
accounts_list(struct store *st, struct account **out, size_t *n,
    char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		*arr = NULL;
	long			*ids = NULL;
	size_t			 n_ids = 0, i, got = 0;
	enum kf_err		 er;

	*out = NULL;
	*n = 0;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_ids(txn, &ids, &n_ids, cause)) != KF_OK)
		goto out;
	arr = xcalloc(n_ids == 0 ? 1 : n_ids, sizeof(*arr));
	for (i = 0; i < n_ids; i++) {
		er = accounts_txn_load(txn, ids[i], &arr[got], cause);
		if (er == KF_ENOTFOUND)
			continue;	/* listed but removed: skip */
		if (er != KF_OK)
			goto out;
		got++;
	}
	er = KF_OK;
	qsort(arr, got, sizeof(*arr), account_cmp);
	*out = arr;
	*n = got;
	arr = NULL;
out:
	if (arr != NULL)
		accounts_free(arr, got);
	free(ids);
	store_end(txn, NULL);
	return er;
}

enum kf_err
accounts_get(struct store *st, long id, struct account *out, char **cause)
{
	struct store_txn	*txn = NULL;
	enum kf_err		 er;

	memset(out, 0, sizeof(*out));
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = accounts_txn_load(txn, id, out, cause);
	store_end(txn, NULL);
	return er;
}

/* Imports creds and logs what happened; source names them in messages. */
static enum kf_err
seed_import(struct store *st, struct cred *creds, size_t n,
    const char *source, char **cause)
{
	struct import_result	*results;
	size_t			 i, added = 0;
	enum kf_err		 er;

	results = xcalloc(n, sizeof(*results));
	if ((er = accounts_import(st, creds, n, results, cause)) == KF_OK) {
		for (i = 0; i < n; i++)
			added += !results[i].duplicate;
		if (added > 0)
			log_info("imported %zu of %zu credential(s) from %s",
			    added, n, source);
	}
	free(results);
	return er;
}

static enum kf_err
seed_file(struct store *st, const char *path, char **cause)
{
	struct store_txn	*txn = NULL;
	struct buf		 text = BUF_INIT, marker = BUF_INIT;
	struct cred		*creds = NULL;
	size_t			 n = 0, i;
	char			 hash[65], key[128], *why = NULL;
	enum kf_err		 er;

	/* "Imported on first start": a marker per file path. */
	sha256_hex(path, strlen(path), hash);
	snprintf(key, sizeof(key), "meta/credfile/%s", hash);
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = store_get(txn, key, &marker);
	store_end(txn, NULL);
	buf_free(&marker);
	if (er == KF_OK)
		return KF_OK;

	if ((er = fileio_read(path, MAX_IMPORT_FILE, &text, &why)) != KF_OK ||
	    (er = cred_parse_import(text.ptr, text.len, &creds, &n, &why)) !=
	    KF_OK) {
		xsetprintf(cause, "credentialsFile %s: %s", path, why);
		goto out;
	}
	for (i = 0; i < n; i++) {
		free(creds[i].source);
		creds[i].source = xstrdup("file");
		free(creds[i].source_path);
		creds[i].source_path = xstrdup(path);
	}
	if ((er = seed_import(st, creds, n, path, cause)) != KF_OK)
		goto out;
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		goto out;
	er = store_put(txn, key, path, strlen(path));
	if (store_end(txn, cause) != KF_OK)
		er = KF_ESTORE;
out:
	free(why);
	if (text.ptr != NULL)
		explicit_bzero(text.ptr, text.len);
	buf_free(&text);
	cred_free_array(creds, n);
	return er;
}

static enum kf_err
seed_env(struct store *st, const struct config *cfg, char **cause)
{
	struct cred	*creds = NULL, one;
	size_t		 n = 0;
	char		*why = NULL;
	enum kf_err	 er = KF_OK, er2;

	if (cfg->env_credentials_json != NULL) {
		if ((er = cred_parse_import(cfg->env_credentials_json,
		    strlen(cfg->env_credentials_json), &creds, &n, &why)) !=
		    KF_OK)
			xsetprintf(cause, "CREDENTIALS_JSON: %s", why);
		else {
			size_t	i;

			for (i = 0; i < n; i++) {
				free(creds[i].source);
				creds[i].source = xstrdup("env");
			}
			er = seed_import(st, creds, n, "CREDENTIALS_JSON",
			    cause);
		}
		cred_free_array(creds, n);
	}
	if (cfg->env_refresh_token != NULL ||
	    cfg->env_kiro_refresh_token != NULL ||
	    cfg->env_access_token != NULL) {
		cred_init(&one);
		one.refresh_token = xstrdup(cfg->env_refresh_token != NULL ?
		    cfg->env_refresh_token : cfg->env_kiro_refresh_token);
		one.access_token = xstrdup(cfg->env_access_token);
		one.client_id = xstrdup(cfg->env_client_id);
		one.client_secret = xstrdup(cfg->env_client_secret);
		one.region = xstrdup(cfg->env_region);
		one.source = xstrdup("env");
		if (one.client_id != NULL && one.client_secret != NULL)
			one.auth_method = CRED_AUTH_IDC;
		if (cfg->env_expires_at != NULL &&
		    clock_parse_rfc3339(cfg->env_expires_at,
		    &one.expires_at) == -1) {
			xsetprintf(cause, "EXPIRES_AT is not an RFC 3339 date "
			    "(such as 2026-01-01T00:00:00Z)");
			er2 = KF_EINVAL;
		} else if (cfg->env_auth_method != NULL &&
		    cred_auth_parse(cfg->env_auth_method,
		    &one.auth_method) == -1) {
			xsetprintf(cause, "AUTH_METHOD must be social or idc");
			er2 = KF_EINVAL;
		} else if ((er2 = cred_validate(&one, &why)) != KF_OK)
			xsetprintf(cause, "REFRESH_TOKEN: %s", why);
		else
			er2 = seed_import(st, &one, 1, "the environment",
			    cause);
		if (er == KF_OK)
			er = er2;
		cred_free(&one);
	}
	free(why);
	return er;
}

enum kf_err
accounts_seed(struct store *st, const struct config *cfg, char **cause)
{
	char		*why = NULL;
	enum kf_err	 er = KF_OK, er2;

	if (cfg->credentials_file != NULL &&
	    (er = seed_file(st, cfg->credentials_file, &why)) != KF_OK) {
		log_warnx("%s", why);
		xsetprintf(cause, "%s", why);
	}
	free(why);
	why = NULL;
	if ((er2 = seed_env(st, cfg, &why)) != KF_OK) {
		log_warnx("%s", why);
		xsetprintf(cause, "%s", why);
		er = er2;
	}
	free(why);
	return er;
}

/* Keys of the credhash/ records that point at one id. */
struct hash_keys {
	const char	 *idtext;
	char		**keys;
	size_t		  n;
};

static int
collect_hash(void *arg, const char *key, const char *val, size_t len)
{
	struct hash_keys	*hk = arg;

	if (len == strlen(hk->idtext) && memcmp(val, hk->idtext, len) == 0) {
		hk->keys = xreallocarray(hk->keys, hk->n + 1,
		    sizeof(*hk->keys));
		hk->keys[hk->n++] = xstrdup(key);
	}
	return 0;
}

/* 1 when account id is in service (not disabled) in txn. */
static int
in_service(struct store_txn *txn, long id)
{
	struct account	a;
	int		yes;

	if (accounts_txn_load(txn, id, &a, NULL) != KF_OK)
		return 0;
	yes = a.state.disabled == ACCOUNT_OK;
	account_free(&a);
	return yes;
}

static enum kf_err
remove_account(struct store *st, long id, int only_disabled, char **cause)
{
	struct store_txn	*txn = NULL;
	struct hash_keys	 hk;
	long			*ids = NULL;
	size_t			 n_ids = 0, i, kept = 0;
	char			 key[64], idtext[32];
	enum kf_err		 er;

	memset(&hk, 0, sizeof(hk));
	snprintf(idtext, sizeof(idtext), "%ld", id);
	hk.idtext = idtext;
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if (!account_exists(txn, id)) {
		xsetprintf(cause, "no account with id %ld", id);
		er = KF_ENOTFOUND;
		goto out;
	}
	/* Checked in the same transaction: no enable can slip between. */
	if (only_disabled && in_service(txn, id)) {
		xsetprintf(cause, "account %ld is in service: disable it "
		    "first", id);
		er = KF_EPERM;
		goto out;
	}
	if ((er = accounts_txn_ids(txn, &ids, &n_ids, cause)) != KF_OK)
		goto out;
	for (i = 0; i < n_ids; i++)
		if (ids[i] != id)
			ids[kept++] = ids[i];
	if ((er = txn_put_ids(txn, ids, kept, cause)) != KF_OK)
		goto out;
	/* Collected first: store_each's callback must not delete. */
	if ((er = store_each(txn, "credhash/", collect_hash, &hk)) != KF_OK) {
		xsetprintf(cause, "cannot read the state file");
		goto out;
	}
	for (i = 0; i < hk.n && er == KF_OK; i++)
		er = store_del(txn, hk.keys[i]);
	snprintf(key, sizeof(key), "cred-state/%ld", id);
	if (er == KF_OK)
		er = store_del(txn, key);
	/* Every module's record of the id goes with it (store.h's list). */
	snprintf(key, sizeof(key), "usage/%ld", id);
	if (er == KF_OK)
		er = store_del(txn, key);
	snprintf(key, sizeof(key), "catalogue/%ld", id);
	if (er == KF_OK)
		er = store_del(txn, key);
	snprintf(key, sizeof(key), "catalogue-claim/%ld", id);
	if (er == KF_OK)
		er = store_del(txn, key);
	snprintf(key, sizeof(key), "cred-log/%ld", id);
	if (er == KF_OK)
		er = store_del(txn, key);
	snprintf(key, sizeof(key), "cred/%ld", id);
	if (er == KF_OK)
		er = store_del(txn, key);
	if (er != KF_OK)
		xsetprintf(cause, "cannot remove account %ld from the state "
		    "file", id);
out:
	for (i = 0; i < hk.n; i++)
		free(hk.keys[i]);
	free(hk.keys);
	free(ids);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

enum kf_err
accounts_remove(struct store *st, long id, char **cause)
{
	return remove_account(st, id, 0, cause);
}

enum kf_err
accounts_remove_disabled(struct store *st, long id, char **cause)
{
	return remove_account(st, id, 1, cause);
}

/* Loads account id, lets fn change its credential, and saves it. */
static enum kf_err
update_cred(struct store *st, long id,
    void (*fn)(struct cred *, const void *), const void *arg, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) == KF_OK) {
		fn(&a.cred, arg);
		er = accounts_txn_save_cred(txn, &a.cred, cause);
		account_free(&a);
	}
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

static void
set_priority(struct cred *c, const void *arg)
{
	c->priority = *(const long *)arg;
}

enum kf_err
accounts_set_priority(struct store *st, long id, long priority,
    char **cause)
{
	if (priority < 0 || priority > 1000000000) {
		xsetprintf(cause, "priority must be a whole number from 0 to "
		    "1000000000");
		return KF_EINVAL;
	}
	return update_cred(st, id, set_priority, &priority, cause);
}

void
account_route(const struct account *a, const struct config *cfg,
    struct upstream_route *out)
{
	upstream_route_configured(&a->cred, cfg, out);
	if (a->state.route_known) {
		out->host = a->state.route_host;
		out->style = a->state.route_style;
	}
}

/*
 * Sets (known) or clears the route in account id's state record.  With
 * recorded, a route the account already has is left as it was (its time
 * too) and *recorded says whether this call wrote it.
 */
static enum kf_err
save_route(struct store *st, long id, int known, enum api_host host,
    enum api_style style, time_t now, int *recorded, char **cause)
{
	struct store_txn	*txn = NULL;
	struct account		 a;
	enum kf_err		 er;

	if (recorded != NULL)
		*recorded = 0;
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = accounts_txn_load(txn, id, &a, cause)) == KF_OK) {
		if (recorded == NULL || !a.state.route_known ||
		    a.state.route_host != host ||
		    a.state.route_style != style) {
			a.state.route_known = known;
			a.state.route_host = host;
			a.state.route_style = style;
			a.state.route_at = known ? now : 0;
			er = accounts_txn_save_state(txn, id, &a.state, cause);
			if (er == KF_OK && recorded != NULL)
				*recorded = 1;
		}
		account_free(&a);
	}
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK) {
		er = KF_ESTORE;
		if (recorded != NULL)
			*recorded = 0;
	}
	return er;
}

enum kf_err
accounts_set_route(struct store *st, long id, enum api_host host,
    enum api_style style, time_t now, char **cause)
{
	return save_route(st, id, 1, host, style, now, NULL, cause);
}

enum kf_err
accounts_switch_route(struct store *st, long id, enum api_host host,
    enum api_style style, time_t now, int *recorded, char **cause)
{
	return save_route(st, id, 1, host, style, now, recorded, cause);
}

enum kf_err
accounts_forget_route(struct store *st, long id, char **cause)
{
	return save_route(st, id, 0, API_HOST_RUNTIME, API_STYLE_PATH, 0,
	    NULL, cause);
}

static void
set_profile(struct cred *c, const void *arg)
{
	free(c->profile_arn);
	c->profile_arn = arg != NULL && c->auth_method != CRED_AUTH_IDC ?
	    xstrdup(arg) : NULL;
}

enum kf_err
accounts_set_profile(struct store *st, long id, const char *profile_arn,
    char **cause)
{
	return update_cred(st, id, set_profile, profile_arn, cause);
}

static void
set_ide_sync(struct cred *c, const void *arg)
{
	const char	*path = arg;

	c->ide_sync = path != NULL;
	if (path != NULL) {
		free(c->source_path);
		c->source_path = xstrdup(path);
		free(c->source);
		c->source = xstrdup("ide");
	}
}

enum kf_err
accounts_set_ide_sync(struct store *st, long id, const char *path,
    char **cause)
{
	return update_cred(st, id, set_ide_sync, path, cause);
}

static void
mask_into(json_object *obj, const char *key, const char *secret)
{
	char	masked[LOG_MASK_LEN];

	if (secret != NULL)
		json_object_object_add(obj, key,
		    json_str(log_mask(secret, masked)));
}

enum kf_err
accounts_export(struct store *st, int with_secrets, json_object **out,
    char **cause)
{
	struct account	*accts = NULL;
	json_object	*arr, *o;
	size_t		 n = 0, i;
	enum kf_err	 er;

	*out = NULL;
	if ((er = accounts_list(st, &accts, &n, cause)) != KF_OK)
		return er;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		accts[i].cred.disabled = accts[i].state.disabled != ACCOUNT_OK;
		o = cred_to_json(&accts[i].cred, CRED_JSON_EXPORT);
		if (!with_secrets) {
			json_object_object_del(o, "refreshToken");
			json_object_object_del(o, "accessToken");
			json_object_object_del(o, "clientSecret");
			json_object_object_del(o, "kiroApiKey");
			json_object_object_del(o, "proxyPassword");
			/* Masked the way "accounts list" shows them. */
			mask_into(o, "refreshToken",
			    accts[i].cred.refresh_token);
			mask_into(o, "accessToken", accts[i].cred.access_token);
			mask_into(o, "clientSecret",
			    accts[i].cred.client_secret);
			mask_into(o, "kiroApiKey", accts[i].cred.kiro_api_key);
			if (accts[i].cred.proxy_password != NULL)
				json_object_object_add(o, "proxyPassword",
				    json_str("***"));
			if (accts[i].cred.proxy_url != NULL) {
				char	*shown = cred_public_url(
				    accts[i].cred.proxy_url);

				json_object_object_add(o, "proxyUrl",
				    json_str(shown));
				free(shown);
			}
		}
		json_object_array_add(arr, o);
	}
	accounts_free(accts, n);
	*out = arr;
	return KF_OK;
}
