/* admin-login.c: the Builder ID device login, started and polled over the admin API. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "accounts.h"
#include "admin-login.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "json.h"
#include "log.h"
#include "login.h"
#include "rand.h"
#include "store.h"
#include "xmalloc.h"

#define LOGIN_RECORD		"admin-login/devices"
#define LOGIN_RECORD_MAX	(64 * 1024)
#define LOGIN_LOCK		"admin-login"
#define LOGIN_ID_MAX		999999999L	/* an admin path {id} */

enum login_status {
	LS_PENDING,
	LS_APPROVED,
	LS_DENIED,
	LS_EXPIRED,
	LS__MAX
};

static const char *const status_names[LS__MAX] = {
	"pending", "approved", "denied", "expired",
};

/* One login; d's secrets are dropped once it is finished. */
struct login_entry {
	long			id;
	enum login_status	status;
	struct login_device	d;
	time_t			next_poll_at;	/* the service is asked after */
	time_t			keep_until;	/* forgotten after */
	long			account_id;	/* approved */
	int			duplicate;	/* approved: already there */
	char			*message;	/* denied, expired */
};

static void
entry_free(struct login_entry *e)
{
	login_device_free(&e->d);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

static void
entries_free(struct login_entry *es, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		entry_free(&es[i]);
	free(es);
}

/* A waiting login past its device code's end is expired. */
static enum login_status
status_now(const struct login_entry *e, time_t now)
{
	if (e->status == LS_PENDING && now >= e->d.expires_at)
		return LS_EXPIRED;
	return e->status;
}

static void
finish(struct login_entry *e, enum login_status status, const char *message,
    time_t now)
{
	e->status = status;
	free(e->message);
	e->message = message != NULL ? xstrdup(message) : NULL;
	e->keep_until = now + ADMIN_LOGIN_KEEP_SECONDS;
	/* Nothing more is asked of the service: the secrets go. */
	if (e->d.client_secret != NULL) {
		explicit_bzero(e->d.client_secret, strlen(e->d.client_secret));
		free(e->d.client_secret);
		e->d.client_secret = NULL;
	}
	if (e->d.device_code != NULL) {
		explicit_bzero(e->d.device_code, strlen(e->d.device_code));
		free(e->d.device_code);
		e->d.device_code = NULL;
	}
}

static void
put_opt_str(json_object *o, const char *key, const char *value)
{
	if (value != NULL)
		json_object_object_add(o, key, json_str(value));
}

/* The stored form, secrets included. */
static json_object *
entry_to_json(const struct login_entry *e)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(e->id));
	json_object_object_add(o, "status", json_str(status_names[e->status]));
	put_opt_str(o, "region", e->d.region);
	put_opt_str(o, "clientId", e->d.client_id);
	put_opt_str(o, "clientSecret", e->d.client_secret);
	put_opt_str(o, "deviceCode", e->d.device_code);
	put_opt_str(o, "userCode", e->d.user_code);
	put_opt_str(o, "verificationUri", e->d.verification_uri);
	put_opt_str(o, "verificationUriComplete",
	    e->d.verification_uri_complete);
	json_object_object_add(o, "interval",
	    json_object_new_int64(e->d.interval));
	json_object_object_add(o, "expiresAt",
	    json_object_new_int64(e->d.expires_at));
	json_object_object_add(o, "nextPollAt",
	    json_object_new_int64(e->next_poll_at));
	json_object_object_add(o, "keepUntil",
	    json_object_new_int64(e->keep_until));
	json_object_object_add(o, "accountId",
	    json_object_new_int64(e->account_id));
	json_object_object_add(o, "duplicate",
	    json_object_new_boolean(e->duplicate));
	put_opt_str(o, "message", e->message);
	return o;
}

static char *
dup_field(json_object *o, const char *key)
{
	const char	*s;

	return json_get_str(o, key, &s) == 1 ? xstrdup(s) : NULL;
}

static int64_t
int_field(json_object *o, const char *key)
{
	int64_t	v;

	return json_get_int(o, key, &v) == 1 ? v : 0;
}

/* 0, or -1 for an entry this file did not write. */
static int
entry_from_json(json_object *o, struct login_entry *e)
{
	const char	*status;
	int		 i, flag;

	memset(e, 0, sizeof(*e));
	if (json_get_str(o, "status", &status) != 1)
		return -1;
	for (i = 0; i < LS__MAX; i++)
		if (strcmp(status, status_names[i]) == 0)
			break;
	if (i == LS__MAX)
		return -1;
	e->status = i;
	e->id = (long)int_field(o, "id");
	e->d.region = dup_field(o, "region");
	e->d.client_id = dup_field(o, "clientId");
	e->d.client_secret = dup_field(o, "clientSecret");
	e->d.device_code = dup_field(o, "deviceCode");
	e->d.user_code = dup_field(o, "userCode");
	e->d.verification_uri = dup_field(o, "verificationUri");
	e->d.verification_uri_complete = dup_field(o,
	    "verificationUriComplete");
	e->d.interval = (long)int_field(o, "interval");
	e->d.expires_at = (time_t)int_field(o, "expiresAt");
	e->next_poll_at = (time_t)int_field(o, "nextPollAt");
	e->keep_until = (time_t)int_field(o, "keepUntil");
	e->account_id = (long)int_field(o, "accountId");
	e->duplicate = json_get_bool(o, "duplicate", &flag) == 1 && flag;
	e->message = dup_field(o, "message");
	if (e->id < 1 || e->d.interval < 1 || (e->status == LS_PENDING &&
	    (e->d.region == NULL || e->d.client_id == NULL ||
	    e->d.client_secret == NULL || e->d.device_code == NULL))) {
		entry_free(e);
		return -1;
	}
	return 0;
}

/*
 * Every login in the record, the forgotten ones (keep_until past) left
 * out.  *es is the caller's to entries_free.
 */
static enum kf_err
load(struct store_txn *txn, time_t now, struct login_entry **es, size_t *n,
    char **cause)
{
	struct buf	 raw = BUF_INIT;
	json_object	*rec = NULL, *arr;
	size_t		 i, len;
	enum kf_err	 er;

	/* Always one place more than kept: start adds a login. */
	*es = xcalloc(ADMIN_LOGIN_KEPT_MAX + 1, sizeof(**es));
	*n = 0;
	if ((er = store_get(txn, LOGIN_RECORD, &raw)) == KF_ENOTFOUND) {
		er = KF_OK;
		goto out;
	}
	if (er != KF_OK || raw.len > LOGIN_RECORD_MAX ||
	    json_parse(raw.ptr, raw.len, 8, &rec, NULL) != KF_OK ||
	    json_get_arr(rec, "logins", &arr) != 1) {
		xsetprintf(cause, "%s: corrupt record", LOGIN_RECORD);
		er = KF_ESTORE;
		goto out;
	}
	len = json_object_array_length(arr);
	if (len > ADMIN_LOGIN_KEPT_MAX)
		len = ADMIN_LOGIN_KEPT_MAX;
	for (i = 0; i < len; i++) {
		if (entry_from_json(json_object_array_get_idx(arr, i),
		    &(*es)[*n]) == -1)
			continue;
		if ((*es)[*n].keep_until <= now)
			entry_free(&(*es)[*n]);
		else
			(*n)++;
	}
out:
	if (raw.ptr != NULL)
		explicit_bzero(raw.ptr, raw.len);
	buf_free(&raw);
	json_object_put(rec);
	return er;
}

static enum kf_err
save(struct store_txn *txn, const struct login_entry *es, size_t n,
    char **cause)
{
	struct buf	 raw = BUF_INIT;
	json_object	*rec, *arr;
	size_t		 i;
	enum kf_err	 er;

	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, entry_to_json(&es[i]));
	rec = json_object_new_object();
	json_object_object_add(rec, "v", json_object_new_int(1));
	json_object_object_add(rec, "logins", arr);
	json_to_buf(rec, &raw);
	if ((er = store_put(txn, LOGIN_RECORD, raw.ptr, raw.len)) != KF_OK)
		xsetprintf(cause, "cannot write %s to the state file",
		    LOGIN_RECORD);
	explicit_bzero(raw.ptr, raw.len);
	buf_free(&raw);
	json_object_put(rec);
	return er;
}

static size_t
count_waiting(const struct login_entry *es, size_t n, time_t now)
{
	size_t	i, waiting = 0;

	for (i = 0; i < n; i++)
		waiting += status_now(&es[i], now) == LS_PENDING;
	return waiting;
}

static enum kf_err
check_room(size_t waiting, char **cause)
{
	if (waiting < ADMIN_LOGIN_WAITING_MAX)
		return KF_OK;
	xsetprintf(cause, "%d Builder ID logins are waiting for approval "
	    "already: finish one or let it expire", ADMIN_LOGIN_WAITING_MAX);
	return KF_EPERM;
}

/* A random id no kept login has. */
static long
new_id(const struct login_entry *es, size_t n)
{
	uint32_t	r;
	long		id;
	size_t		i;

	for (;;) {
		rand_bytes(&r, sizeof(r));
		id = 1 + (long)(r % (uint32_t)LOGIN_ID_MAX);
		for (i = 0; i < n && es[i].id != id; i++)
			;
		if (i == n)
			return id;
	}
}

/*
 * Drops finished logins (expired ones included), the soonest forgotten
 * first, until one more fits.
 */
static void
make_room(struct login_entry *es, size_t *n, time_t now)
{
	size_t	i, oldest;

	while (*n >= ADMIN_LOGIN_KEPT_MAX) {
		oldest = *n;
		for (i = 0; i < *n; i++)
			if (status_now(&es[i], now) != LS_PENDING &&
			    (oldest == *n ||
			    es[i].keep_until < es[oldest].keep_until))
				oldest = i;
		if (oldest == *n)
			return;		/* cannot happen: WAITING < KEPT */
		entry_free(&es[oldest]);
		memmove(&es[oldest], &es[oldest + 1], (*n - oldest - 1) *
		    sizeof(*es));
		(*n)--;
	}
}

static json_object *
answer_of(const struct login_entry *e, const char *status)
{
	json_object	*o = json_object_new_object();
	char		 when[CLOCK_RFC3339_LEN];

	json_object_object_add(o, "loginId", json_object_new_int64(e->id));
	json_object_object_add(o, "status", json_str(status));
	json_object_object_add(o, "interval",
	    json_object_new_int64(e->d.interval));
	json_object_object_add(o, "expiresAt",
	    json_str(clock_rfc3339(e->d.expires_at, when)));
	if (e->status == LS_APPROVED) {
		json_object_object_add(o, "accountId",
		    json_object_new_int64(e->account_id));
		json_object_object_add(o, "duplicate",
		    json_object_new_boolean(e->duplicate));
	}
	put_opt_str(o, "message", e->message);
	return o;
}

/* KF_OK when one more login may wait now. */
static enum kf_err
room_now(struct store *st, time_t now, char **cause)
{
	struct login_entry	*es = NULL;
	struct store_txn	*txn;
	size_t			 n = 0;
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = load(txn, now, &es, &n, cause);
	(void)store_end(txn, NULL);
	if (er == KF_OK)
		er = check_room(count_waiting(es, n, now), cause);
	entries_free(es, n);
	return er;
}

enum kf_err
admin_login_start(struct store *st, struct http *h, const struct config *cfg,
    json_object **answer, char **cause)
{
	struct login_entry	*es = NULL, fresh, *e;
	struct store_txn	*txn;
	size_t			 n = 0;
	time_t			 now = clock_now();
	enum kf_err		 er;

	*answer = NULL;
	memset(&fresh, 0, sizeof(fresh));
	/* Refused before the service is asked, and again when stored. */
	if ((er = room_now(st, now, cause)) != KF_OK)
		return er;
	/* No lock is held while the service is asked. */
	if ((er = login_device_start(h, cfg, NULL, &fresh.d, cause)) != KF_OK)
		goto out;
	now = clock_now();
	fresh.status = LS_PENDING;
	fresh.next_poll_at = now + fresh.d.interval;
	fresh.keep_until = fresh.d.expires_at + ADMIN_LOGIN_KEEP_SECONDS;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		goto out;
	if ((er = load(txn, now, &es, &n, cause)) == KF_OK &&
	    (er = check_room(count_waiting(es, n, now), cause)) == KF_OK) {
		make_room(es, &n, now);
		fresh.id = new_id(es, n);
		es[n++] = fresh;
		memset(&fresh, 0, sizeof(fresh));
		er = save(txn, es, n, cause);
	}
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	if (er != KF_OK)
		goto out;
	e = &es[n - 1];
	log_info("admin: Builder ID login %ld started", e->id);
	*answer = answer_of(e, "pending");
	put_opt_str(*answer, "userCode", e->d.user_code);
	put_opt_str(*answer, "verificationUri", e->d.verification_uri);
	put_opt_str(*answer, "verificationUriComplete",
	    e->d.verification_uri_complete);
	json_object_object_add(*answer, "expiresIn",
	    json_object_new_int64((int64_t)(e->d.expires_at - now)));
out:
	entry_free(&fresh);
	entries_free(es, n);
	return er;
}

/* Replaces the stored login e->id with e (when it is still kept). */
static enum kf_err
store_entry(struct store *st, const struct login_entry *e, char **cause)
{
	struct login_entry	*es = NULL;
	struct store_txn	*txn;
	size_t			 n = 0, i;
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = load(txn, clock_now(), &es, &n, cause)) == KF_OK) {
		for (i = 0; i < n && es[i].id != e->id; i++)
			;
		if (i < n) {
			/* Swapped, so that es[i]'s old fields are freed. */
			entry_free(&es[i]);
			es[i] = *e;
			er = save(txn, es, n, cause);
			memset(&es[i], 0, sizeof(es[i]));
		}
	}
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	entries_free(es, n);
	return er;
}

/* The login e was approved: its credential becomes an account. */
static enum kf_err
import_login(struct store *st, struct login_entry *e, struct cred *c,
    time_t now, char **cause)
{
	struct import_result	res;
	enum kf_err		er;

	if ((er = cred_validate(c, cause)) != KF_OK)
		return er;
	free(c->source);
	c->source = xstrdup("admin");
	if ((er = accounts_import(st, c, 1, &res, cause)) != KF_OK)
		return er;
	e->account_id = res.id;
	e->duplicate = res.duplicate;
	finish(e, LS_APPROVED, NULL, now);
	log_info("admin: Builder ID login %ld approved: %s account %ld", e->id,
	    res.duplicate ? "already" : "new", res.id);
	return KF_OK;
}

/* Asks the service once; e is updated, and *word is the poll's status. */
static enum kf_err
ask(struct store *st, struct http *h, const struct config *cfg,
    struct login_entry *e, const char **word, char **cause)
{
	struct cred	 c;
	enum login_step	 step;
	char		*why = NULL;
	time_t		 now;
	enum kf_err	 er;

	er = login_device_poll(h, cfg, &e->d, &step, &c, &why);
	now = clock_now();
	if (er == KF_ELOGIN) {
		/*
		 * Terminal: login.c's cause names the service's word
		 * (access_denied), or says the code expired.
		 */
		finish(e, why != NULL && strstr(why, "access_denied") != NULL ?
		    LS_DENIED : LS_EXPIRED, why, now);
		*word = status_names[e->status];
		free(why);
		return KF_OK;
	}
	if (er != KF_OK) {
		*cause = why;
		return er;
	}
	free(why);
	e->next_poll_at = now + e->d.interval;
	if (step == LOGIN_DONE) {
		er = import_login(st, e, &c, now, cause);
		cred_free(&c);
		*word = status_names[LS_APPROVED];
		return er;
	}
	*word = step == LOGIN_SLOW_DOWN ? "slow_down" : "pending";
	return KF_OK;
}

enum kf_err
admin_login_poll(struct store *st, struct http *h, const struct config *cfg,
    long id, json_object **answer, char **cause)
{
	struct login_entry	*es = NULL, e;
	struct store_txn	*txn;
	const char		*word;
	size_t			 n = 0, i;
	time_t			 now = clock_now();
	int			 fd, changed = 0;
	enum kf_err		 er;

	*answer = NULL;
	memset(&e, 0, sizeof(e));
	/* One poll at a time: a device code is redeemed once. */
	if ((fd = store_lock_named(st, LOGIN_LOCK, cause)) == -1)
		return KF_ESTORE;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		goto out;
	er = load(txn, now, &es, &n, cause);
	(void)store_end(txn, NULL);
	if (er != KF_OK)
		goto out;
	for (i = 0; i < n && es[i].id != id; i++)
		;
	if (i == n) {
		xsetprintf(cause, "no Builder ID login %ld (never started, or "
		    "finished more than %d minutes ago)", id,
		    ADMIN_LOGIN_KEEP_SECONDS / 60);
		er = KF_ENOTFOUND;
		goto out;
	}
	e = es[i];
	memset(&es[i], 0, sizeof(es[i]));

	word = status_names[e.status];
	if (e.status != LS_PENDING)
		;	/* finished: the same answer again */
	else if (status_now(&e, now) == LS_EXPIRED) {
		finish(&e, LS_EXPIRED, "the device code expired before the "
		    "login was approved: start again", now);
		word = status_names[e.status];
		changed = 1;
	} else if (now < e.next_poll_at)
		;	/* the service's interval is not over: still pending */
	else {
		if ((er = ask(st, h, cfg, &e, &word, cause)) != KF_OK)
			goto out;
		changed = 1;
	}
	if (changed && (er = store_entry(st, &e, cause)) != KF_OK)
		goto out;
	*answer = answer_of(&e, word);
out:
	entry_free(&e);
	entries_free(es, n);
	store_unlock_named(fd);
	return er;
}
