/* settings.h: what the admin API changes at run time, kept in the store. */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"

struct store;
struct store_txn;

/*
 * Records settings/<name> = {"v":1,"value":<JSON value>}.  A setting found
 * here wins over config.json (and its environment overrides) until it is
 * deleted: every responder process reads it inside the transaction that
 * uses it, so a change reaches them all at their next request, without a
 * restart.  Names are [A-Za-z0-9.-], at most SETTINGS_NAME_MAX
 * characters; anything else is KF_EINVAL.
 */
#define SETTINGS_NAME_MAX	64

/* The settings applied to the pool (settings_txn_apply). */
#define SETTING_LB_MODE		"loadBalancingMode"	/* string */
/* Integers, 0 .. SETTINGS_STICKY_MAX: 0 turns stickiness off. */
#define SETTING_STICKY_SECONDS	"stickySeconds"
#define SETTINGS_STICKY_MAX	604800L		/* a week */
/* Integers, 0 .. SETTINGS_LIMIT_MAX: 0 is no limit. */
#define SETTINGS_LIMIT_MAX	1000000L
#define SETTING_MIN_INTERVAL	"rateLimits.minIntervalMs"
#define SETTING_ACCOUNT_RPM	"rateLimits.perAccountRpm"
#define SETTING_GLOBAL_RPM	"rateLimits.globalRpm"

/*
 * The value of a setting: KF_OK with one reference in *out, KF_ENOTFOUND
 * when unset, KF_ESTORE when the record is corrupt.
 */
enum kf_err	settings_txn_get(struct store_txn *, const char *name,
		    json_object **out, char **cause);
/* Stores value (borrowed; any JSON value but null). */
enum kf_err	settings_txn_put(struct store_txn *, const char *name,
		    json_object *value, char **cause);

/* Typed reads in their own transaction; KF_EINVAL for another type. */
/* *out is the caller's to free. */
enum kf_err	settings_get_str(struct store *, const char *name,
		    char **out, char **cause);
enum kf_err	settings_get_int(struct store *, const char *name, long *out,
		    char **cause);
/* Typed writes, each in its own synced write transaction. */
enum kf_err	settings_put_str(struct store *, const char *name,
		    const char *value, char **cause);
enum kf_err	settings_put_int(struct store *, const char *name,
		    long value, char **cause);
/* Forgets a setting (config.json decides again); unset is KF_OK. */
enum kf_err	settings_del(struct store *, const char *name, char **cause);

/* "priority" | "balanced" | "round-robin": 0 and *out, or -1. */
int		settings_lb_mode_parse(const char *, enum lb_mode *out);

/*
 * Overrides the fields of eff (a copy of the configuration; its pointers
 * stay borrowed from the original) that stored settings set: the
 * load-balancing mode, stickySeconds and the rate limits.  A corrupt or
 * unusable record is logged and skipped: config.json decides for it.
 * Each thread remembers what it found for the store's view
 * (store_txn_view), so while nobody writes it reads no record.
 */
void		settings_txn_apply(struct store_txn *, struct config *eff);
/* The same in a read transaction of its own (admin answers, kiroctl). */
enum kf_err	settings_effective(struct store *, const struct config *cfg,
		    struct config *eff, char **cause);

#endif
