/* admin-settings.c: the admin API's settings, stored over config.json. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "admin-int.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "modelmap.h"
#include "models.h"
#include "request.h"
#include "settings.h"

/* The configuration as the pool sees it now; on failure it answers. */
static int
effective(struct admin_call *call, struct config *eff)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = settings_effective(call->store, call->cfg, eff, &why)) !=
	    KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return -1;
	}
	return 0;
}

/* GET /config/load-balancing (and the answer of PUT and DELETE) */
void
admin_settings_lb_get(struct admin_call *call)
{
	struct config	 eff;
	json_object	*o;

	if (effective(call, &eff) == -1)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "mode",
	    json_str(config_lb_mode_name(eff.load_balancing_mode)));
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* Forgets stored settings: config.json decides again.  0, or answered. */
static int
forget(struct admin_call *call, const char *const *names, size_t n)
{
	char		*why = NULL;
	size_t		 i;
	enum kf_err	 er;

	for (i = 0; i < n; i++) {
		if ((er = settings_del(call->store, names[i], &why)) !=
		    KF_OK) {
			admin_failure(call->req, er, why);
			free(why);
			return -1;
		}
		log_info("admin: %s forgotten: config.json decides",
		    names[i]);
	}
	return 0;
}

/* DELETE /config/load-balancing */
void
admin_settings_lb_del(struct admin_call *call)
{
	static const char *const names[] = { SETTING_LB_MODE };

	if (forget(call, names, 1) == 0)
		admin_settings_lb_get(call);
}

/* PUT /config/load-balancing {"mode":...}: stored, wins over config.json. */
void
admin_settings_lb_put(struct admin_call *call)
{
	const char	*mode;
	enum lb_mode	 lb;
	char		*why = NULL;
	enum kf_err	 er;

	if (json_get_str(call->body, "mode", &mode) != 1 ||
	    settings_lb_mode_parse(mode, &lb) == -1) {
		admin_error(call->req, AE_INVALID, "field \"mode\" must be "
		    "\"priority\", \"balanced\" or \"round-robin\"");
		return;
	}
	if ((er = settings_put_str(call->store, SETTING_LB_MODE,
	    config_lb_mode_name(lb), &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: loadBalancingMode set to %s", config_lb_mode_name(lb));
	admin_settings_lb_get(call);
}

/* GET /config/sticky-seconds */
void
admin_settings_sticky_get(struct admin_call *call)
{
	struct config	 eff;
	json_object	*o;

	if (effective(call, &eff) == -1)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "stickySeconds",
	    json_object_new_int64(eff.sticky_seconds));
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* DELETE /config/sticky-seconds */
void
admin_settings_sticky_del(struct admin_call *call)
{
	static const char *const names[] = { SETTING_STICKY_SECONDS };

	if (forget(call, names, 1) == 0)
		admin_settings_sticky_get(call);
}

/* PUT /config/sticky-seconds {"stickySeconds":n}: 0 turns it off. */
void
admin_settings_sticky_put(struct admin_call *call)
{
	int64_t		 seconds;
	char		*why = NULL;
	enum kf_err	 er;

	if (json_get_int(call->body, "stickySeconds", &seconds) != 1 ||
	    seconds < 0 || seconds > SETTINGS_STICKY_MAX) {
		admin_error(call->req, AE_INVALID, "field \"stickySeconds\" "
		    "must be an integer from 0 to %ld (0: no stickiness)",
		    SETTINGS_STICKY_MAX);
		return;
	}
	if ((er = settings_put_int(call->store, SETTING_STICKY_SECONDS,
	    (long)seconds, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: stickySeconds set to %lld", (long long)seconds);
	admin_settings_sticky_get(call);
}

static const struct {
	const char	*field;		/* in the body and answer */
	const char	*setting;
	size_t		 offset;	/* in struct rate_limits */
} limit_fields[] = {
	{ "minIntervalMs", SETTING_MIN_INTERVAL,
	    offsetof(struct rate_limits, min_interval_ms) },
	{ "perAccountRpm", SETTING_ACCOUNT_RPM,
	    offsetof(struct rate_limits, per_account_rpm) },
	{ "globalRpm", SETTING_GLOBAL_RPM,
	    offsetof(struct rate_limits, global_rpm) },
};
#define N_LIMIT_FIELDS	(sizeof(limit_fields) / sizeof(limit_fields[0]))

/* GET /config/rate-limits */
void
admin_settings_limits_get(struct admin_call *call)
{
	struct config	 eff;
	json_object	*o;
	size_t		 i;

	if (effective(call, &eff) == -1)
		return;
	o = json_object_new_object();
	for (i = 0; i < N_LIMIT_FIELDS; i++)
		json_object_object_add(o, limit_fields[i].field,
		    json_object_new_int64(*(const long *)(const void *)
		    ((const char *)&eff.rate_limits + limit_fields[i].offset)));
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
}

/* DELETE /config/rate-limits: all three. */
void
admin_settings_limits_del(struct admin_call *call)
{
	static const char *const names[] = { SETTING_MIN_INTERVAL,
	    SETTING_ACCOUNT_RPM, SETTING_GLOBAL_RPM };

	if (forget(call, names, 3) == 0)
		admin_settings_limits_get(call);
}

/*
 * PUT /config/rate-limits: any of the three fields; each given is stored
 * (0 turns that limit off), the others keep their source.  Every field is
 * checked before anything is stored.
 */
void
admin_settings_limits_put(struct admin_call *call)
{
	int64_t		 v[N_LIMIT_FIELDS];
	int		 given[N_LIMIT_FIELDS], any = 0, got;
	char		*why = NULL;
	size_t		 i;
	enum kf_err	 er;

	for (i = 0; i < N_LIMIT_FIELDS; i++) {
		got = json_get_int(call->body, limit_fields[i].field, &v[i]);
		if (got == -1 || (got == 1 && (v[i] < 0 ||
		    v[i] > SETTINGS_LIMIT_MAX))) {
			admin_error(call->req, AE_INVALID, "field \"%s\" must "
			    "be an integer from 0 to %ld (0: no limit)",
			    limit_fields[i].field, SETTINGS_LIMIT_MAX);
			return;
		}
		given[i] = got == 1;
		any |= given[i];
	}
	if (!any) {
		admin_error(call->req, AE_INVALID, "give at least one of "
		    "\"minIntervalMs\", \"perAccountRpm\", \"globalRpm\"");
		return;
	}
	for (i = 0; i < N_LIMIT_FIELDS; i++) {
		if (!given[i])
			continue;
		if ((er = settings_put_int(call->store,
		    limit_fields[i].setting, (long)v[i], &why)) != KF_OK) {
			admin_failure(call->req, er, why);
			free(why);
			return;
		}
		log_info("admin: %s set to %lld", limit_fields[i].setting,
		    (long long)v[i]);
	}
	admin_settings_limits_get(call);
}

/* GET /config/model-map: the map in effect, and where it comes from. */
void
admin_settings_map_get(struct admin_call *call)
{
	struct model_alias	*a = NULL;
	size_t			 n = 0;
	json_object		*o;
	char			*why = NULL;
	int			 stored;
	enum kf_err		 er;

	if ((er = modelmap_effective(call->store, call->cfg, &a, &n, &stored,
	    &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "modelMap", modelmap_to_json(a, n));
	json_object_object_add(o, "source",
	    json_str(stored ? "admin" : "config"));
	admin_reply(call->req, 200, o, NULL);
	json_object_put(o);
	modelmap_free(a, n);
}

/* DELETE /config/model-map: config.json's map decides again. */
void
admin_settings_map_del(struct admin_call *call)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = modelmap_del(call->store, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		return;
	}
	log_info("admin: modelMap forgotten: config.json decides");
	admin_settings_map_get(call);
}

/*
 * PUT /config/model-map {"modelMap":{...}}: the whole map, checked by
 * config.json's rules, replaces config.json's ({} maps nothing).
 */
void
admin_settings_map_put(struct admin_call *call)
{
	struct model_alias	*a = NULL;
	json_object		*map;
	size_t			 n = 0;
	char			*why = NULL;
	enum kf_err		 er;

	if (!json_object_object_get_ex(call->body, "modelMap", &map)) {
		admin_error(call->req, AE_INVALID, "field \"modelMap\" is "
		    "missing: {\"modelMap\":{\"client-name\":"
		    "\"kiro-model-id\",...}}");
		return;
	}
	if (modelmap_parse(map, 1, NULL, &a, &n, &why) != KF_OK) {
		admin_error(call->req, AE_INVALID, "%s", why);
		free(why);
		return;
	}
	if ((er = modelmap_put(call->store, a, n, &why)) != KF_OK) {
		admin_failure(call->req, er, why);
		free(why);
		modelmap_free(a, n);
		return;
	}
	log_info("admin: modelMap set (%zu entries)", n);
	modelmap_free(a, n);
	admin_settings_map_get(call);
}
