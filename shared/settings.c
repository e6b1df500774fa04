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
	snprintf(key, sizeof(SETTINGS_PREFIX) + SETTINGS_NAME_MAX, "%s%s",
	    SETTINGS_PREFIX, name);
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

/* A stored number into *field when set and sane (0 .. max). */
static void
apply_long(struct store_txn *txn, const char *name, long max, long *field)
{
	json_object	*v = NULL;
	int64_t		 n;
	enum kf_err	 er;

	if ((er = settings_txn_get(txn, name, &v, NULL)) != KF_OK) {
		if (er != KF_ENOTFOUND)
			log_warnx("setting %s: corrupt record: config.json "
			    "decides", name);
		return;
	}
	if (json_object_is_type(v, json_type_int) &&
	    (n = json_object_get_int64(v)) >= 0 && n <= max)
		*field = (long)n;
	else
		log_warnx("setting %s is not an integer from 0 to %ld: "
		    "config.json decides", name, max);
	json_object_put(v);
}

void
settings_txn_apply(struct store_txn *txn, struct config *eff)
{
	json_object	*v = NULL;
	enum lb_mode	 mode;

	if (settings_txn_get(txn, SETTING_LB_MODE, &v, NULL) == KF_OK) {
		if (json_object_is_type(v, json_type_string) &&
		    settings_lb_mode_parse(json_object_get_string(v),
		    &mode) == 0)
			eff->load_balancing_mode = mode;
		else
			log_warnx("setting %s is not a load-balancing mode: "
			    "config.json decides", SETTING_LB_MODE);
		json_object_put(v);
	}
	apply_long(txn, SETTING_STICKY_SECONDS, SETTINGS_STICKY_MAX,
	    &eff->sticky_seconds);
	apply_long(txn, SETTING_MIN_INTERVAL, SETTINGS_LIMIT_MAX,
	    &eff->rate_limits.min_interval_ms);
	apply_long(txn, SETTING_ACCOUNT_RPM, SETTINGS_LIMIT_MAX,
	    &eff->rate_limits.per_account_rpm);
	apply_long(txn, SETTING_GLOBAL_RPM, SETTINGS_LIMIT_MAX,
	    &eff->rate_limits.global_rpm);
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
