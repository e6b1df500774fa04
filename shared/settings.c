/* settings.c: what the admin API changes at run time, kept in the store. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "settings.h"
#include "store.h"
#include "xmalloc.h"

#define SETTINGS_PREFIX		"settings/"
/* A setting is a small value; the largest, modelMap, fits a 64 KiB body. */
#define SETTINGS_RECORD_MAX	(96 * 1024)

static int
name_valid(const char *name)
{
	size_t	i;

	if (name == NULL || *name == '\0' || strlen(name) > SETTINGS_NAME_MAX)
		return 0;
	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '-'))
			return 0;
	return 1;
}

static enum kf_err
setting_key(const char *name, char key[sizeof(SETTINGS_PREFIX) +
    SETTINGS_NAME_MAX], char **cause)
{
	if (!name_valid(name)) {
		xsetprintf(cause, "not a setting name (letters, digits, \".\" "
		    "and \"-\", at most %d)", SETTINGS_NAME_MAX);
		return KF_EINVAL;
	}
	/* name_valid bounded it: the key fits. */
	memcpy(key, SETTINGS_PREFIX, sizeof(SETTINGS_PREFIX) - 1);
	memcpy(key + sizeof(SETTINGS_PREFIX) - 1, name, strlen(name) + 1);
	return KF_OK;
}

enum kf_err
settings_txn_get(struct store_txn *txn, const char *name, json_object **out,
    char **cause)
{
	struct buf	 raw = BUF_INIT;
	json_object	*rec = NULL, *val;
	char		 key[sizeof(SETTINGS_PREFIX) + SETTINGS_NAME_MAX];
	enum kf_err	 er;

	*out = NULL;
	if ((er = setting_key(name, key, cause)) != KF_OK)
		return er;
	if ((er = store_get(txn, key, &raw)) != KF_OK)
		goto out;	/* KF_ENOTFOUND: unset */
	if (raw.len > SETTINGS_RECORD_MAX ||
	    json_parse(raw.ptr, raw.len, 8, &rec, NULL) != KF_OK ||
	    !json_object_is_type(rec, json_type_object) ||
	    !json_object_object_get_ex(rec, "value", &val) || val == NULL) {
		xsetprintf(cause, "setting %s: corrupt record", name);
		er = KF_ESTORE;
		goto out;
	}
	*out = json_object_get(val);
out:
	json_object_put(rec);
	buf_free(&raw);
	return er;
}

enum kf_err
settings_txn_put(struct store_txn *txn, const char *name, json_object *value,
    char **cause)
{
	struct buf	 raw = BUF_INIT;
	char		 key[sizeof(SETTINGS_PREFIX) + SETTINGS_NAME_MAX];
	enum kf_err	 er;

	if ((er = setting_key(name, key, cause)) != KF_OK)
		return er;
	if (value == NULL) {
		xsetprintf(cause, "setting %s: null is not a value (delete "
		    "it instead)", name);
		return KF_EINVAL;
	}
	buf_puts(&raw, "{\"v\":1,\"value\":");
	json_to_buf(value, &raw);
	buf_puts(&raw, "}");
	if (raw.len > SETTINGS_RECORD_MAX) {
		xsetprintf(cause, "setting %s: value over %d bytes", name,
		    SETTINGS_RECORD_MAX);
		er = KF_EINVAL;
	} else if ((er = store_put(txn, key, raw.ptr, raw.len)) != KF_OK)
		xsetprintf(cause, "cannot write %s to the state file", key);
	buf_free(&raw);
	return er;
}

/* One value in a read transaction of its own. */
static enum kf_err
get_one(struct store *st, const char *name, json_object **out, char **cause)
{
	struct store_txn	*txn = NULL;
	enum kf_err		 er;

	*out = NULL;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	er = settings_txn_get(txn, name, out, cause);
	(void)store_end(txn, NULL);
	return er;
}

enum kf_err
settings_get_str(struct store *st, const char *name, char **out,
    char **cause)
{
	json_object	*v = NULL;
	enum kf_err	 er;

	*out = NULL;
	if ((er = get_one(st, name, &v, cause)) != KF_OK)
		return er;
	if (!json_object_is_type(v, json_type_string)) {
		xsetprintf(cause, "setting %s is %s, not a string", name,
		    json_type_label(v));
		er = KF_EINVAL;
	} else
		*out = xstrdup(json_object_get_string(v));
	json_object_put(v);
	return er;
}

enum kf_err
settings_get_int(struct store *st, const char *name, long *out,
    char **cause)
{
	json_object	*v = NULL;
	enum kf_err	 er;

	*out = 0;
	if ((er = get_one(st, name, &v, cause)) != KF_OK)
		return er;
	if (!json_object_is_type(v, json_type_int)) {
		xsetprintf(cause, "setting %s is %s, not an integer", name,
		    json_type_label(v));
		er = KF_EINVAL;
	} else
		*out = (long)json_object_get_int64(v);
	json_object_put(v);
	return er;
}

/* Stores value (taking its reference) in a synced write transaction. */
static enum kf_err
put_one(struct store *st, const char *name, json_object *value,
    char **cause)
{
	struct store_txn	*txn = NULL;
	enum kf_err		 er;
	char			 key[sizeof(SETTINGS_PREFIX) +
				    SETTINGS_NAME_MAX];

	if ((er = setting_key(name, key, cause)) != KF_OK) {
		json_object_put(value);
		return er;
	}
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) == KF_OK) {
		er = settings_txn_put(txn, name, value, cause);
		if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
		    er == KF_OK)
			er = KF_ESTORE;
	}
	json_object_put(value);
	return er;
}

enum kf_err
settings_put_str(struct store *st, const char *name, const char *value,
    char **cause)
{
	return put_one(st, name, json_str(value), cause);
}

enum kf_err
settings_put_int(struct store *st, const char *name, long value,
    char **cause)
{
	return put_one(st, name, json_object_new_int64(value), cause);
}

enum kf_err
settings_del(struct store *st, const char *name, char **cause)
{
	struct store_txn	*txn = NULL;
	char			 key[sizeof(SETTINGS_PREFIX) +
				    SETTINGS_NAME_MAX];
	enum kf_err		 er;

	if ((er = setting_key(name, key, cause)) != KF_OK)
		return er;
	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) != KF_OK)
		return er;
	if ((er = store_del(txn, key)) != KF_OK)
		xsetprintf(cause, "cannot delete %s from the state file", key);
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
	return er;
}

int
settings_lb_mode_parse(const char *s, enum lb_mode *out)
{
	int	mode;

	if (s == NULL)
		return -1;
	for (mode = 0; mode < LB__MAX; mode++)
		if (strcmp(s, config_lb_mode_name((enum lb_mode)mode)) == 0) {
			*out = (enum lb_mode)mode;
			return 0;
		}
	return -1;
}

/*
 * The settings settings_txn_apply reads, and what it found of each.  A
 * pick reads them on every request, nearly always unchanged (usually
 * unset), so each thread remembers what it found for the store view it
 * read (store_txn_view): the same view reads the same records.  What was
 * found, not the config it made, is remembered, so the warnings of a
 * record that config.json overrules are logged at every apply, as when
 * it is read.  A record that could not be read at all (corrupt, or the
 * store failing) is never remembered: it is read again next time.
 */
enum applied {
	APPLIED_LB_MODE,
	APPLIED_STICKY_SECONDS,
	APPLIED_MIN_INTERVAL,
	APPLIED_ACCOUNT_RPM,
	APPLIED_GLOBAL_RPM,
	APPLIED__MAX
};

static const struct {
	const char	*name;
	long		 max;	/* integers 0 .. max; 0 for the mode */
} applied_settings[APPLIED__MAX] = {
	{ SETTING_LB_MODE, 0 },
	{ SETTING_STICKY_SECONDS, SETTINGS_STICKY_MAX },
	{ SETTING_MIN_INTERVAL, SETTINGS_LIMIT_MAX },
	{ SETTING_ACCOUNT_RPM, SETTINGS_LIMIT_MAX },
	{ SETTING_GLOBAL_RPM, SETTINGS_LIMIT_MAX },
};

enum found {
	FOUND_UNSET,
	FOUND_VALUE,		/* value holds it */
	FOUND_UNUSABLE,		/* a record of the wrong type or range */
	FOUND_UNREADABLE,	/* corrupt, or the store failed */
};

struct found_setting {
	enum found	found;
	long		value;	/* an integer, or an enum lb_mode */
};

struct found_settings {
	uint64_t		view;	/* store_txn_view; 0: nothing kept */
	struct found_setting	settings[APPLIED__MAX];
};

static __thread struct found_settings	remembered;

static struct found_setting
find_setting(struct store_txn *txn, enum applied which)
{
	struct found_setting	 f = { FOUND_UNUSABLE, 0 };
	json_object		*v = NULL;
	enum lb_mode		 mode;
	int64_t			 n;
	enum kf_err		 er;

	if ((er = settings_txn_get(txn, applied_settings[which].name, &v,
	    NULL)) != KF_OK) {
		f.found = er == KF_ENOTFOUND ? FOUND_UNSET : FOUND_UNREADABLE;
		return f;
	}
	if (which == APPLIED_LB_MODE) {
		if (json_object_is_type(v, json_type_string) &&
		    settings_lb_mode_parse(json_object_get_string(v),
		    &mode) == 0) {
			f.found = FOUND_VALUE;
			f.value = (long)mode;
		}
	} else if (json_object_is_type(v, json_type_int) &&
	    (n = json_object_get_int64(v)) >= 0 &&
	    n <= applied_settings[which].max) {
		f.found = FOUND_VALUE;
		f.value = (long)n;
	}
	json_object_put(v);
	return f;
}

/* A found setting into its field of eff, or the warning it is worth. */
static void
apply_found(enum applied which, const struct found_setting *f,
    struct config *eff)
{
	long	*field = NULL;

	switch (which) {
	case APPLIED_LB_MODE:
		if (f->found == FOUND_VALUE)
			eff->load_balancing_mode = (enum lb_mode)f->value;
		else if (f->found == FOUND_UNUSABLE)
			log_warnx("setting %s is not a load-balancing mode: "
			    "config.json decides", SETTING_LB_MODE);
		/* An unreadable mode record was always silent. */
		return;
	case APPLIED_STICKY_SECONDS:
		field = &eff->sticky_seconds;
		break;
	case APPLIED_MIN_INTERVAL:
		field = &eff->rate_limits.min_interval_ms;
		break;
	case APPLIED_ACCOUNT_RPM:
		field = &eff->rate_limits.per_account_rpm;
		break;
	case APPLIED_GLOBAL_RPM:
	case APPLIED__MAX:
		field = &eff->rate_limits.global_rpm;
		break;
	}
	if (f->found == FOUND_VALUE)
		*field = f->value;
	else if (f->found == FOUND_UNREADABLE)
		log_warnx("setting %s: corrupt record: config.json decides",
		    applied_settings[which].name);
	else if (f->found == FOUND_UNUSABLE)
		log_warnx("setting %s is not an integer from 0 to %ld: "
		    "config.json decides", applied_settings[which].name,
		    applied_settings[which].max);
}

void
settings_txn_apply(struct store_txn *txn, struct config *eff)
{
	struct found_settings	*r = &remembered;
	uint64_t		 view = store_txn_view(txn);
	int			 i;

	if (view == 0 || r->view != view) {
		r->view = view;
		for (i = 0; i < APPLIED__MAX; i++) {
			r->settings[i] = find_setting(txn, (enum applied)i);
			if (r->settings[i].found == FOUND_UNREADABLE)
				r->view = 0;
		}
	}
	for (i = 0; i < APPLIED__MAX; i++)
		apply_found((enum applied)i, &r->settings[i], eff);
}

enum kf_err
settings_effective(struct store *st, const struct config *cfg,
    struct config *eff, char **cause)
{
	struct store_txn	*txn = NULL;
	enum kf_err		 er;

	*eff = *cfg;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	settings_txn_apply(txn, eff);
	return store_end(txn, cause);
}
