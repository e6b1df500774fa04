/* clientkeys.c: named client keys besides apiKey, with limits, kept as hashes. */
#include "autoconfig.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "clientkeys.h"
#include "clock.h"
#include "digest.h"
#include "json.h"
#include "rand.h"
#include "store.h"
#include "xmalloc.h"

#define KEY_PREFIX	"ckey/"
#define HASH_PREFIX	"ckey-hash/"
#define USE_PREFIX	"ckey-use/"
#define RECORD_DEPTH	8
#define WINDOW_SECONDS	60

int
clientkeys_name_ok(const char *name)
{
	size_t	i, len = strlen(name);

	if (len == 0 || len > CLIENTKEYS_NAME_MAX ||
	    strcmp(name, CLIENTKEYS_DEFAULT) == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '_' || name[i] == '-'))
			return 0;
	return 1;
}

int
clientkeys_is_key(const char *text)
{
	return strncmp(text, CLIENTKEYS_PREFIX,
	    sizeof(CLIENTKEYS_PREFIX) - 1) == 0;
}

int
clientkeys_models_ok(const char *models, char **cause)
{
	const char	*p = models, *comma;
	size_t		 n = 0, len;

	if (strlen(models) > CLIENTKEYS_MODELS_MAX) {
		xsetprintf(cause, "models: over %d bytes",
		    CLIENTKEYS_MODELS_MAX);
		return -1;
	}
	if (*models == '\0')
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0) {
			xsetprintf(cause, "%s", "models: an empty glob (two commas, "
			    "or one at an end)");
			return -1;
		}
		if (++n > CLIENTKEYS_GLOBS_MAX) {
			xsetprintf(cause, "models: more than %d globs",
			    CLIENTKEYS_GLOBS_MAX);
			return -1;
		}
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
clientkeys_parse_date(const char *text, time_t *out)
{
	char	iso[32];
	int	y, m, d, n = 0;

	if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d,
	    &n) != 3 || n != 10 || y < 1970 || y > 9999 || m < 1 || m > 12 ||
	    d < 1 || d > 31)
		return -1;
	/* clock_parse_rfc3339 knows the calendar (month lengths, leaps). */
	snprintf(iso, sizeof(iso), "%s" "T00:00:00Z", text);
	return clock_parse_rfc3339(iso, out);
}

/* "2026-12" for t, UTC. */
static void
month_of(time_t t, char out[8])
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	snprintf(out, 8, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000,
	    (unsigned)(tm.tm_mon + 1) % 100);
}

static void
clear_cause(char **cause)
{
	if (cause != NULL) {
		free(*cause);
		*cause = NULL;
	}
}

static void
key_path(struct buf *b, const char *prefix, const char *rest)
{
	buf_reset(b);
	buf_puts(b, prefix);
	buf_puts(b, rest);
}

/* Reads a record's JSON: KF_OK, KF_ENOTFOUND, or KF_ESTORE if corrupt. */
static enum kf_err
get_json(struct store_txn *txn, const char *prefix, const char *rest,
    json_object **out, char **cause)
{
	struct buf	 k = BUF_INIT, v = BUF_INIT;
	enum kf_err	 er;

	*out = NULL;
	key_path(&k, prefix, rest);
	if ((er = store_get(txn, k.ptr, &v)) != KF_OK)
		goto out;
	if (json_parse(v.ptr, v.len, RECORD_DEPTH, out, NULL) != KF_OK ||
	    !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		er = KF_ESTORE;
		xsetprintf(cause, "%s: corrupt record", k.ptr);
	}
out:
	buf_free(&k);
	buf_free(&v);
	return er;
}

static enum kf_err
put_json(struct store_txn *txn, const char *prefix, const char *rest,
    json_object *o, char **cause)
{
	struct buf	 k = BUF_INIT, v = BUF_INIT;
	enum kf_err	 er;

	key_path(&k, prefix, rest);
	json_to_buf(o, &v);
	if ((er = store_put(txn, k.ptr, v.ptr, v.len)) != KF_OK)
		xsetprintf(cause, "%s: cannot write the record", k.ptr);
	buf_free(&k);
	buf_free(&v);
	return er;
}

static enum kf_err
del_record(struct store_txn *txn, const char *prefix, const char *rest,
    char **cause)
{
	struct buf	 k = BUF_INIT;
	enum kf_err	 er;

	key_path(&k, prefix, rest);
	if ((er = store_del(txn, k.ptr)) != KF_OK)
		xsetprintf(cause, "%s: cannot delete the record", k.ptr);
	buf_free(&k);
	return er;
}

static long long
get_ll(json_object *o, const char *name)
{
	int64_t	v;

	return json_get_int(o, name, &v) == 1 && v > 0 ? (long long)v : 0;
}

static void
copy_str(json_object *o, const char *name, char *out, size_t size)
{
	const char	*s;

	if (json_get_str(o, name, &s) != 1 || strlen(s) >= size)
		s = "";
	memcpy(out, s, strlen(s) + 1);
}

static void
key_from_json(json_object *o, struct clientkey *k)
{
	int	b;

	memset(k, 0, sizeof(*k));
	copy_str(o, "name", k->name, sizeof(k->name));
	copy_str(o, "hash", k->hash, sizeof(k->hash));
	copy_str(o, "shown", k->shown, sizeof(k->shown));
	copy_str(o, "models", k->models, sizeof(k->models));
	k->created = (time_t)get_ll(o, "created");
	k->expires = (time_t)get_ll(o, "expires");
	k->disabled = json_get_bool(o, "disabled", &b) == 1 && b;
	k->rpm = (long)get_ll(o, "rpm");
	k->monthly_requests = get_ll(o, "monthlyRequests");
	k->monthly_tokens = get_ll(o, "monthlyTokens");
}

static json_object *
key_to_json(const struct clientkey *k)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "name", json_str(k->name));
	json_object_object_add(o, "hash", json_str(k->hash));
	json_object_object_add(o, "shown", json_str(k->shown));
	json_object_object_add(o, "created", json_object_new_int64(k->created));
	json_object_object_add(o, "expires", json_object_new_int64(k->expires));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(k->disabled));
	json_object_object_add(o, "rpm", json_object_new_int64(k->rpm));
	json_object_object_add(o, "monthlyRequests",
	    json_object_new_int64(k->monthly_requests));
	json_object_object_add(o, "monthlyTokens",
	    json_object_new_int64(k->monthly_tokens));
	json_object_object_add(o, "models", json_str(k->models));
	return o;
}

/*
 * The usage record, brought to month: a record of another month counts
 * from zero.  *use gets one reference (a new object when absent).
 */
static enum kf_err
get_use(struct store_txn *txn, const char *name, const char *month,
    json_object **use, char **cause)
{
	json_object	*fresh, *recent;
	const char	*m;
	enum kf_err	 er;

	er = get_json(txn, USE_PREFIX, name, use, cause);
	if (er == KF_ESTORE) {
		/* Counts are soft state: a torn record starts again. */
		clear_cause(cause);
		er = KF_ENOTFOUND;
	}
	if (er == KF_ENOTFOUND || json_get_str(*use, "month", &m) != 1 ||
	    strcmp(m, month) != 0) {
		fresh = json_object_new_object();
		json_object_object_add(fresh, "v", json_object_new_int(1));
		json_object_object_add(fresh, "month", json_str(month));
		/* The last minute's requests still count at midnight. */
		if (er == KF_OK && json_object_object_get_ex(*use, "recent",
		    &recent))
			json_object_object_add(fresh, "recent",
			    json_object_get(recent));
		json_object_put(*use);
		*use = fresh;
		return KF_OK;
	}
	return er;
}

static void
set_ll(json_object *o, const char *name, long long v)
{
	json_object_object_add(o, name, json_object_new_int64(v));
}

/* A new key and its hash; the shown prefix too. */
static void
new_key(struct clientkey *k, char key_out[CLIENTKEYS_KEY_LEN + 1])
{
	size_t	plen = sizeof(CLIENTKEYS_PREFIX) - 1;

	memcpy(key_out, CLIENTKEYS_PREFIX, plen);
	rand_alnum(key_out + plen, CLIENTKEYS_KEY_LEN - plen);
	sha256_hex(key_out, CLIENTKEYS_KEY_LEN, k->hash);
	memcpy(k->shown, key_out, CLIENTKEYS_SHOWN_LEN);
	k->shown[CLIENTKEYS_SHOWN_LEN] = '\0';
}

static int
count_one(void *arg, const char *key, const char *val, size_t len)
{
	(void)key;
	(void)val;
	(void)len;
	(*(size_t *)arg)++;
	return 0;
}

static enum kf_err
check_spec(const struct clientkey *spec, char **cause)
{
	if (!clientkeys_name_ok(spec->name)) {
		xsetprintf(cause, "bad key name \"%.40s\": 1 to %d of "
		    "[A-Za-z0-9._-], not \"%s\"", spec->name,
		    CLIENTKEYS_NAME_MAX, CLIENTKEYS_DEFAULT);
		return KF_EINVAL;
	}
	if (spec->rpm < 0 || spec->rpm > CLIENTKEYS_RPM_MAX) {
		xsetprintf(cause, "rpm: 0 (no limit) to %d",
		    CLIENTKEYS_RPM_MAX);
		return KF_EINVAL;
	}
	if (spec->monthly_requests < 0 || spec->monthly_tokens < 0 ||
	    spec->monthly_requests > CLIENTKEYS_QUOTA_MAX ||
	    spec->monthly_tokens > CLIENTKEYS_QUOTA_MAX) {
		xsetprintf(cause, "monthly quotas: 0 (no limit) to %lld",
		    CLIENTKEYS_QUOTA_MAX);
		return KF_EINVAL;
	}
	if (spec->expires < 0) {
		xsetprintf(cause, "%s", "expires: a date after 1970");
		return KF_EINVAL;
	}
	if (clientkeys_models_ok(spec->models, cause) == -1)
		return KF_EINVAL;
	return KF_OK;
}

enum kf_err
clientkeys_add(struct store *st, const struct clientkey *spec,
    char key_out[CLIENTKEYS_KEY_LEN + 1], char **cause)
{
	struct store_txn	*txn = NULL;
	struct clientkey	 k;
	json_object		*o = NULL, *h = NULL, *old = NULL;
	size_t			 n = 0;
	enum kf_err		 er;

	if ((er = check_spec(spec, cause)) != KF_OK)
		return er;
	k = *spec;
	k.created = clock_now();
	k.disabled = 0;
	new_key(&k, key_out);
	o = key_to_json(&k);
	h = json_object_new_object();
	json_object_object_add(h, "v", json_object_new_int(1));
	json_object_object_add(h, "name", json_str(k.name));
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		goto out;
	if ((er = get_json(txn, KEY_PREFIX, k.name, &old, cause)) !=
	    KF_ENOTFOUND) {
		if (er == KF_OK) {
			er = KF_EINVAL;
			xsetprintf(cause, "a client key called \"%s\" exists",
			    k.name);
		}
		goto out;
	}
	if ((er = store_each(txn, KEY_PREFIX, count_one, &n)) != KF_OK)
		goto out;
	if (n >= CLIENTKEYS_MAX) {
		er = KF_EINVAL;
		xsetprintf(cause, "there are %d client keys already: remove "
		    "one first", CLIENTKEYS_MAX);
		goto out;
	}
	if ((er = put_json(txn, KEY_PREFIX, k.name, o, cause)) != KF_OK ||
	    (er = put_json(txn, HASH_PREFIX, k.hash, h, cause)) != KF_OK ||
	    (er = del_record(txn, USE_PREFIX, k.name, cause)) != KF_OK)
		goto out;
out:
	if (txn != NULL && store_end(txn, er == KF_OK ? cause : NULL) !=
	    KF_OK && er == KF_OK)
		er = KF_ESTORE;
	json_object_put(o);
	json_object_put(h);
	json_object_put(old);
	if (er != KF_OK)
		explicit_bzero(key_out, CLIENTKEYS_KEY_LEN + 1);
	return er;
}

/* The key and its usage this month, within txn. */
static enum kf_err
load_key(struct store_txn *txn, const char *name, const char *month,
    struct clientkey *out, char **cause)
{
	json_object	*o = NULL, *use = NULL;
	enum kf_err	 er;

	if (!clientkeys_name_ok(name)) {
		xsetprintf(cause, "no client key called \"%.40s\"", name);
		return KF_ENOTFOUND;
	}
	if ((er = get_json(txn, KEY_PREFIX, name, &o, cause)) != KF_OK) {
		if (er == KF_ENOTFOUND)
			xsetprintf(cause, "no client key called \"%s\"",
			    name);
		return er;
	}
	key_from_json(o, out);
	json_object_put(o);
	if ((er = get_use(txn, name, month, &use, cause)) != KF_OK)
		return er;
	memcpy(out->month, month, sizeof(out->month));
	out->used_requests = get_ll(use, "requests");
	out->used_tokens = get_ll(use, "tokens");
	json_object_put(use);
	return KF_OK;
}

enum kf_err
clientkeys_get(struct store *st, const char *name, struct clientkey *out,
    char **cause)
{
	struct store_txn	*txn;
	char			 month[8];
	enum kf_err		 er;

	month_of(clock_now(), month);
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = load_key(txn, name, month, out, cause);
	(void)store_end(txn, NULL);
	return er;
}

struct names {
	char	**v;
	size_t	  n;
};

static int
collect_name(void *arg, const char *key, const char *val, size_t len)
{
	struct names	*names = arg;

	(void)val;
	(void)len;
	if (names->n >= CLIENTKEYS_MAX)
		return 1;
	names->v[names->n++] = xstrdup(key + sizeof(KEY_PREFIX) - 1);
	return 0;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct clientkey *)a)->name,
	    ((const struct clientkey *)b)->name);
}

enum kf_err
clientkeys_list(struct store *st, struct clientkey **out, size_t *n,
    char **cause)
{
	struct store_txn	*txn;
	struct names		 names;
	struct clientkey	*keys;
	char			 month[8];
	size_t			 i, got = 0;
	enum kf_err		 er;

	*out = NULL;
	*n = 0;
	month_of(clock_now(), month);
	names.v = xcalloc(CLIENTKEYS_MAX, sizeof(*names.v));
	names.n = 0;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK) {
		free(names.v);
		return er;
	}
	er = store_each(txn, KEY_PREFIX, collect_name, &names);
	keys = xcalloc(names.n > 0 ? names.n : 1, sizeof(*keys));
	for (i = 0; er == KF_OK && i < names.n; i++)
		if ((er = load_key(txn, names.v[i], month, &keys[got],
		    cause)) == KF_OK)
			got++;
	(void)store_end(txn, NULL);
	for (i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	if (er != KF_OK) {
		free(keys);
		return er;
	}
	qsort(keys, got, sizeof(*keys), key_cmp);
	*out = keys;
	*n = got;
	return KF_OK;
}

/* Loads name in a write transaction for a change: the caller ends it. */
static enum kf_err
begin_change(struct store *st, const char *name, struct store_txn **txn,
    struct clientkey *k, char **cause)
{
	char		month[8];
	enum kf_err	er;

	month_of(clock_now(), month);
	if ((er = store_begin(st, STORE_WRITE, txn, cause)) != KF_OK)
		return er;
	if ((er = load_key(*txn, name, month, k, cause)) != KF_OK) {
		(void)store_end(*txn, NULL);
		*txn = NULL;
	}
	return er;
}

static enum kf_err
end_change(struct store_txn *txn, enum kf_err er, char **cause)
{
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

enum kf_err
clientkeys_set_disabled(struct store *st, const char *name, int disabled,
    char **cause)
{
	struct store_txn	*txn;
	struct clientkey	 k;
	json_object		*o;
	enum kf_err		 er;

	if ((er = begin_change(st, name, &txn, &k, cause)) != KF_OK)
		return er;
	k.disabled = disabled != 0;
	o = key_to_json(&k);
	er = put_json(txn, KEY_PREFIX, k.name, o, cause);
	json_object_put(o);
	return end_change(txn, er, cause);
}

enum kf_err
clientkeys_remove(struct store *st, const char *name, char **cause)
{
	struct store_txn	*txn;
	struct clientkey	 k;
	enum kf_err		 er;

	if ((er = begin_change(st, name, &txn, &k, cause)) != KF_OK)
		return er;
	if ((er = del_record(txn, HASH_PREFIX, k.hash, cause)) == KF_OK &&
	    (er = del_record(txn, USE_PREFIX, k.name, cause)) == KF_OK)
		er = del_record(txn, KEY_PREFIX, k.name, cause);
	return end_change(txn, er, cause);
}

enum kf_err
clientkeys_rotate(struct store *st, const char *name,
    char key_out[CLIENTKEYS_KEY_LEN + 1], char **cause)
{
	struct store_txn	*txn;
	struct clientkey	 k;
	json_object		*o = NULL, *h;
	enum kf_err		 er;

	if ((er = begin_change(st, name, &txn, &k, cause)) != KF_OK)
		return er;
	if ((er = del_record(txn, HASH_PREFIX, k.hash, cause)) != KF_OK)
		goto out;
	new_key(&k, key_out);
	o = key_to_json(&k);
	h = json_object_new_object();
	json_object_object_add(h, "v", json_object_new_int(1));
	json_object_object_add(h, "name", json_str(k.name));
	if ((er = put_json(txn, KEY_PREFIX, k.name, o, cause)) == KF_OK)
		er = put_json(txn, HASH_PREFIX, k.hash, h, cause);
	json_object_put(h);
out:
	json_object_put(o);
	er = end_change(txn, er, cause);
	if (er != KF_OK)
		explicit_bzero(key_out, CLIENTKEYS_KEY_LEN + 1);
	return er;
}

/*
 * The rpm window: "recent" is "second:count second:count ...", oldest
 * first, for the seconds of the last minute that had requests: at most
 * 60 pairs whatever the limit, so a request's cost does not grow with
 * rpm (text rather than JSON arrays: parsing 60 pairs stays cheap).
 * Returns 0 and counts now, or -1 with *retry_after (the seconds until
 * enough of the oldest leave the window) when rpm are in it.
 */
static int
window_take(json_object *use, long rpm, int64_t now_ms, long *retry_after)
{
	int64_t		 now = now_ms / 1000, secs[WINDOW_SECONDS];
	int64_t		 counts[WINDOW_SECONDS], total = 0;
	const char	*text, *p;
	char		*end;
	long long	 sec, count;
	struct buf	 out = BUF_INIT;
	size_t		 i, n = 0;

	if (json_get_str(use, "recent", &text) != 1)
		text = "";
	for (p = text; *p != '\0'; p = end) {
		sec = strtoll(p, &end, 10);
		if (end == p || *end != ':')
			break;
		p = end + 1;
		count = strtoll(p, &end, 10);
		if (end == p)
			break;
		while (*end == ' ')
			end++;
		/* A clock set back keeps nothing from "the future". */
		if (sec <= now - WINDOW_SECONDS || sec > now || count <= 0 ||
		    count > CLIENTKEYS_RPM_MAX)
			continue;
		if (n == WINDOW_SECONDS) {
			total -= counts[0];
			memmove(secs, secs + 1, (n - 1) * sizeof(*secs));
			memmove(counts, counts + 1, (n - 1) * sizeof(*counts));
			n--;
		}
		secs[n] = sec;
		counts[n++] = count;
		total += count;
	}
	if (total >= rpm) {
		/* Drop the oldest seconds until one more request fits. */
		*retry_after = 1;
		for (i = 0; i < n && total >= rpm; i++) {
			total -= counts[i];
			*retry_after = (long)(secs[i] + WINDOW_SECONDS - now);
		}
		if (*retry_after < 1)
			*retry_after = 1;
		return -1;
	}
	if (n > 0 && secs[n - 1] == now)
		counts[n - 1]++;
	else if (n < WINDOW_SECONDS) {
		secs[n] = now;
		counts[n++] = 1;
	}
	for (i = 0; i < n; i++)
		buf_printf(&out, "%s%lld:%lld", i > 0 ? " " : "",
		    (long long)secs[i], (long long)counts[i]);
	json_object_object_add(use, "recent", json_str(out.ptr != NULL ?
	    out.ptr : ""));
	buf_free(&out);
	return 0;
}

static enum kf_err
check_limits(const struct clientkey *k, json_object *use, int64_t now_ms,
    long *retry_after, char **cause)
{
	long long	requests = get_ll(use, "requests");

	if (k->monthly_requests > 0 && requests >= k->monthly_requests) {
		xsetprintf(cause, "client key '%s' is over its limit of %lld "
		    "requests per month", k->name, k->monthly_requests);
		return KF_EPERM;
	}
	if (k->monthly_tokens > 0 && get_ll(use, "tokens") >=
	    k->monthly_tokens) {
		xsetprintf(cause, "client key '%s' is over its limit of %lld "
		    "tokens per month", k->name, k->monthly_tokens);
		return KF_EPERM;
	}
	if (k->rpm > 0 && window_take(use, k->rpm, now_ms, retry_after) ==
	    -1) {
		xsetprintf(cause, "client key '%s' is over its limit of %ld "
		    "requests per minute", k->name, k->rpm);
		return KF_ERATE;
	}
	set_ll(use, "requests", requests + 1);
	return KF_OK;
}

enum kf_err
clientkeys_authorise(struct store *st, const char *key, int64_t now_ms,
    struct clientkeys_grant *grant, long *retry_after, char **cause)
{
	struct store_txn	*txn = NULL;
	struct clientkey	 k;
	json_object		*h = NULL, *use = NULL;
	const char		*name;
	char			 hash[SHA256_HEX_LEN + 1], month[8];
	char			 day[CLOCK_RFC3339_LEN];
	time_t			 now = (time_t)(now_ms / 1000);
	enum kf_err		 er;

	*retry_after = 0;
	if (!clientkeys_is_key(key))
		return KF_EAUTH;
	/* A lookup by hash: nothing compares the secret itself. */
	sha256_hex(key, strlen(key), hash);
	month_of(now, month);
	if ((er = store_begin(st, STORE_WRITE_NOSYNC, &txn, cause)) != KF_OK)
		return er;
	if ((er = get_json(txn, HASH_PREFIX, hash, &h, cause)) != KF_OK ||
	    json_get_str(h, "name", &name) != 1) {
		if (er == KF_OK || er == KF_ENOTFOUND) {
			er = KF_EAUTH;
			clear_cause(cause);
		}
		goto out;
	}
	if ((er = load_key(txn, name, month, &k, cause)) != KF_OK ||
	    strcmp(k.hash, hash) != 0) {
		clear_cause(cause);
		if (er != KF_ESTORE)
			er = KF_EAUTH;
		goto out;
	}
	if (k.disabled) {
		er = KF_EAUTH;
		xsetprintf(cause, "client key '%s' is disabled", k.name);
		goto out;
	}
	if (k.expires != 0 && now >= k.expires) {
		er = KF_EAUTH;
		clock_rfc3339(k.expires, day);
		day[10] = '\0';
		xsetprintf(cause, "client key '%s' expired on %s", k.name,
		    day);
		goto out;
	}
	if ((er = get_use(txn, k.name, month, &use, cause)) != KF_OK ||
	    (er = check_limits(&k, use, now_ms, retry_after, cause)) != KF_OK)
		goto out;
	if ((er = put_json(txn, USE_PREFIX, k.name, use, cause)) != KF_OK)
		goto out;
	memset(grant, 0, sizeof(*grant));
	memcpy(grant->name, k.name, sizeof(grant->name));
	memcpy(grant->models, k.models, sizeof(grant->models));
	grant->client = 1;
out:
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	json_object_put(h);
	json_object_put(use);
	return er;
}

int
clientkeys_model_allowed(const struct clientkeys_grant *g,
    const char *client_model, const char *kiro_model)
{
	char	 glob[CLIENTKEYS_MODELS_MAX + 1];
	char	*p, *comma;

	if (!g->client || g->models[0] == '\0')
		return 1;
	memcpy(glob, g->models, sizeof(glob));
	for (p = glob; p != NULL; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		if ((client_model != NULL && fnmatch(p, client_model, 0) ==
		    0) || (kiro_model != NULL && fnmatch(p, kiro_model, 0) ==
		    0))
			return 1;
	}
	return 0;
}

enum kf_err
clientkeys_add_tokens(struct store *st, const char *name, long long tokens,
    char **cause)
{
	struct store_txn	*txn;
	json_object		*use = NULL, *k = NULL;
	char			 month[8];
	enum kf_err		 er;

	if (tokens <= 0 || !clientkeys_name_ok(name))
		return KF_OK;
	month_of(clock_now(), month);
	if ((er = store_begin(st, STORE_WRITE_NOSYNC, &txn, cause)) != KF_OK)
		return er;
	/* A key removed while its request ran keeps no usage record. */
	if ((er = get_json(txn, KEY_PREFIX, name, &k, cause)) == KF_OK &&
	    (er = get_use(txn, name, month, &use, cause)) == KF_OK) {
		set_ll(use, "tokens", get_ll(use, "tokens") + tokens);
		er = put_json(txn, USE_PREFIX, name, use, cause);
	}
	json_object_put(use);
	json_object_put(k);
	if (er == KF_ENOTFOUND)
		er = KF_OK;
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

const char *
clientkeys_state(const struct clientkey *k, time_t now)
{
	if (k->disabled)
		return "disabled";
	if (k->expires != 0 && now >= k->expires)
		return "expired";
	return "active";
}

static json_object *
time_json(time_t t)
{
	char	when[CLOCK_RFC3339_LEN];

	return t != 0 ? json_str(clock_rfc3339(t, when)) : NULL;
}

json_object *
clientkeys_public_json(const struct clientkey *k, time_t now)
{
	json_object	*o, *models, *limits, *usage;
	char		 glob[CLIENTKEYS_MODELS_MAX + 1], *p, *comma;

	models = json_object_new_array();
	memcpy(glob, k->models, sizeof(glob));
	for (p = glob; *glob != '\0' && p != NULL; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		json_object_array_add(models, json_str(p));
	}
	limits = json_object_new_object();
	json_object_object_add(limits, "rpm", json_object_new_int64(k->rpm));
	json_object_object_add(limits, "monthlyRequests",
	    json_object_new_int64(k->monthly_requests));
	json_object_object_add(limits, "monthlyTokens",
	    json_object_new_int64(k->monthly_tokens));
	usage = json_object_new_object();
	json_object_object_add(usage, "month", json_str(k->month));
	json_object_object_add(usage, "requests",
	    json_object_new_int64(k->used_requests));
	json_object_object_add(usage, "tokens",
	    json_object_new_int64(k->used_tokens));
	o = json_object_new_object();
	json_object_object_add(o, "name", json_str(k->name));
	json_object_object_add(o, "keyPrefix", json_str(k->shown));
	json_object_object_add(o, "keyHash", json_str(k->hash));
	json_object_object_add(o, "state", json_str(clientkeys_state(k, now)));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(k->disabled));
	json_object_object_add(o, "created", time_json(k->created));
	json_object_object_add(o, "expires", time_json(k->expires));
	json_object_object_add(o, "models", models);
	json_object_object_add(o, "limits", limits);
	json_object_object_add(o, "usage", usage);
	return o;
}
