/* config.c: the JSON configuration file and its environment overrides. */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "modelmap.h"
#include "rand.h"
#include "xmalloc.h"

#ifndef KIRO_SYSCONFDIR
#define KIRO_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef KIRO_STATEDIR
#define KIRO_STATEDIR "/usr/local/var/lib/kiro-fcgi"
#endif

#define CONFIG_MAX_FILE	(1024 * 1024)

enum key_type {
	KEY_STRING,
	KEY_PATH,		/* a string, made absolute */
	KEY_LONG,		/* a non-negative integer */
	KEY_BOOL,		/* true or false, into an int */
	KEY_LB_MODE,
	KEY_API_STYLE,
	KEY_API_HOST,
	KEY_LOG_LEVEL,
	KEY_OVERFLOW,		/* history.onOverflow */
	KEY_OBJECT,		/* nested: parsed by its own table */
	KEY_MODEL_MAP,		/* {"name or glob": "catalogue id"} */
	KEY_IGNORED,		/* a kiro.rs key that means nothing here */
};

struct key {
	const char		*name;
	enum key_type		 type;
	size_t			 offset;
	long			 min;	/* KEY_LONG */
	const struct key	*sub;	/* KEY_OBJECT */
};

#define OFF(f)	offsetof(struct config, f)

static const struct key rate_keys[] = {
	{ "minIntervalMs", KEY_LONG, OFF(rate_limits.min_interval_ms), 0, NULL },
	{ "perAccountRpm", KEY_LONG, OFF(rate_limits.per_account_rpm), 0, NULL },
	{ "globalRpm", KEY_LONG, OFF(rate_limits.global_rpm), 0, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const struct key history_keys[] = {
	{ "maxImageMessages", KEY_LONG, OFF(history.max_image_msgs), 0, NULL },
	{ "maxPayloadBytes", KEY_LONG, OFF(history.max_payload_bytes), 0,
	    NULL },
	{ "onOverflow", KEY_OVERFLOW, OFF(history.on_overflow), 0, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const struct key image_fetch_keys[] = {
	{ "allowPrivate", KEY_BOOL, OFF(image_fetch.allow_private), 0, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const struct key flow_log_keys[] = {
	{ "enabled", KEY_BOOL, OFF(flow_log.enabled), 0, NULL },
	{ "bodies", KEY_BOOL, OFF(flow_log.bodies), 0, NULL },
	{ "maxRecords", KEY_LONG, OFF(flow_log.max_records), 1, NULL },
	{ "maxAgeDays", KEY_LONG, OFF(flow_log.max_age_days), 1, NULL },
	{ "bodyMaxBytes", KEY_LONG, OFF(flow_log.body_max_bytes), 1, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const struct key top_keys[] = {
	{ "apiKey", KEY_STRING, OFF(api_key), 0, NULL },
	{ "adminApiKey", KEY_STRING, OFF(admin_api_key), 0, NULL },
	{ "region", KEY_STRING, OFF(region), 0, NULL },
	{ "authRegion", KEY_STRING, OFF(auth_region), 0, NULL },
	{ "apiRegion", KEY_STRING, OFF(api_region), 0, NULL },
	{ "kiroVersion", KEY_STRING, OFF(kiro_version), 0, NULL },
	{ "machineId", KEY_STRING, OFF(machine_id), 0, NULL },
	{ "systemVersion", KEY_STRING, OFF(system_version), 0, NULL },
	{ "nodeVersion", KEY_STRING, OFF(node_version), 0, NULL },
	{ "proxyUrl", KEY_STRING, OFF(proxy_url), 0, NULL },
	{ "proxyUsername", KEY_STRING, OFF(proxy_username), 0, NULL },
	{ "proxyPassword", KEY_STRING, OFF(proxy_password), 0, NULL },
	{ "loadBalancingMode", KEY_LB_MODE, OFF(load_balancing_mode), 0, NULL },
	{ "countTokensApiUrl", KEY_STRING, OFF(count_tokens_api_url), 0, NULL },
	{ "countTokensApiKey", KEY_STRING, OFF(count_tokens_api_key), 0, NULL },
	{ "countTokensAuthType", KEY_STRING, OFF(count_tokens_auth_type), 0,
	    NULL },
	{ "stateDir", KEY_PATH, OFF(state_dir), 0, NULL },
	{ "credentialsFile", KEY_PATH, OFF(credentials_file), 0, NULL },
	{ "apiBaseUrl", KEY_STRING, OFF(api_base_url), 0, NULL },
	{ "legacyApiBaseUrl", KEY_STRING, OFF(legacy_api_base_url), 0, NULL },
	{ "apiStyle", KEY_API_STYLE, OFF(api_style), 0, NULL },
	{ "idcApiHost", KEY_API_HOST, OFF(idc_api_host), 0, NULL },
	{ "authBaseUrl", KEY_STRING, OFF(auth_base_url), 0, NULL },
	{ "oidcBaseUrl", KEY_STRING, OFF(oidc_base_url), 0, NULL },
	{ "stickySeconds", KEY_LONG, OFF(sticky_seconds), 0, NULL },
	{ "cooldownMaxSeconds", KEY_LONG, OFF(cooldown_max_seconds), 60, NULL },
	{ "rateLimits", KEY_OBJECT, 0, 0, rate_keys },
	{ "maxRequestBytes", KEY_LONG, OFF(max_request_bytes), 1, NULL },
	{ "maxKiroBodyBytes", KEY_LONG, OFF(max_kiro_body_bytes), 1, NULL },
	{ "logLevel", KEY_LOG_LEVEL, OFF(log_level), 0, NULL },
	{ "history", KEY_OBJECT, 0, 0, history_keys },
	{ "modelMap", KEY_MODEL_MAP, 0, 0, NULL },
	{ "pingIntervalSeconds", KEY_LONG, OFF(ping_interval_seconds), 1,
	    NULL },
	{ "connectTimeoutMs", KEY_LONG, OFF(connect_timeout_ms), 1, NULL },
	{ "streamIdleTimeoutSeconds", KEY_LONG,
	    OFF(stream_idle_timeout_seconds), 1, NULL },
	{ "imageFetch", KEY_OBJECT, 0, 0, image_fetch_keys },
	{ "idleRefreshHours", KEY_LONG, OFF(idle_refresh_hours), 0, NULL },
	{ "promptCaching", KEY_BOOL, OFF(prompt_caching), 0, NULL },
	{ "toolContinuations", KEY_LONG, OFF(tool_continuations), 0, NULL },
	{ "metricsKey", KEY_STRING, OFF(metrics_key), 0, NULL },
	{ "metricsEnabled", KEY_BOOL, OFF(metrics_enabled), 0, NULL },
	{ "flowLog", KEY_OBJECT, 0, 0, flow_log_keys },
	/* kiro.rs keys: the web server listens, TLS is libcurl's. */
	{ "host", KEY_IGNORED, 0, 0, NULL },
	{ "port", KEY_IGNORED, 0, 0, NULL },
	{ "tlsBackend", KEY_IGNORED, 0, 0, NULL },
	{ "defaultEndpoint", KEY_IGNORED, 0, 0, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const char *const lb_names[LB__MAX] = {
	"priority", "balanced", "round-robin"
};

const char *
config_lb_mode_name(enum lb_mode mode)
{
	return (unsigned)mode < LB__MAX ? lb_names[mode] : "priority";
}

static const char *const api_host_names[API_HOST__MAX] = {
	"runtime", "legacy"
};

static const char *const api_style_names[API_STYLE__MAX] = {
	"path", "target"
};

static const char *const overflow_names[OVERFLOW__MAX] = {
	"error", "truncate", "summarize"
};

const char *
config_overflow_name(enum overflow_mode mode)
{
	return (unsigned)mode < OVERFLOW__MAX ? overflow_names[mode] :
	    "error";
}

int
config_overflow_parse(const char *s, enum overflow_mode *out)
{
	int	i;

	for (i = 0; i < OVERFLOW__MAX; i++)
		if (s != NULL && strcasecmp(s, overflow_names[i]) == 0) {
			*out = (enum overflow_mode)i;
			return 0;
		}
	return -1;
}

const char *
config_api_host_name(enum api_host host)
{
	return (unsigned)host < API_HOST__MAX ? api_host_names[host] :
	    "runtime";
}

int
config_api_host_parse(const char *s, enum api_host *out)
{
	int	i;

	for (i = 0; i < API_HOST__MAX; i++)
		if (s != NULL && strcasecmp(s, api_host_names[i]) == 0) {
			*out = (enum api_host)i;
			return 0;
		}
	return -1;
}

const char *
config_api_style_name(enum api_style style)
{
	return (unsigned)style < API_STYLE__MAX ? api_style_names[style] :
	    "path";
}

int
config_api_style_parse(const char *s, enum api_style *out)
{
	int	i;

	for (i = 0; i < API_STYLE__MAX; i++)
		if (s != NULL && strcasecmp(s, api_style_names[i]) == 0) {
			*out = (enum api_style)i;
			return 0;
		}
	return -1;
}

const char *
config_default_path(void)
{
	return KIRO_SYSCONFDIR "/kiro-fcgi/config.json";
}

static void
warn(char **warnings, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warn(char **warnings, const char *where, const char *fmt, ...)
{
	struct buf	line = BUF_INIT;
	va_list		ap;

	buf_printf(&line, "%s: ", where);
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	log_warnx("config %s", line.ptr);
	if (warnings != NULL) {
		if (*warnings != NULL) {
			char	*joined = xasprintf("%s\n%s", *warnings,
			    line.ptr);

			free(*warnings);
			*warnings = joined;
		} else
			*warnings = xstrdup(line.ptr);
	}
	buf_free(&line);
}

static char *
absolute_path(const char *path, const char *basedir)
{
	if (path[0] == '/' || basedir == NULL)
		return xstrdup(path);
	return xasprintf("%s/%s", basedir, path);
}

/* modelMap: the rules of modelmap.h; file order is kept. */
static enum kf_err
parse_model_map(struct config *cfg, json_object *map, const char *where,
    char **cause)
{
	modelmap_free(cfg->model_map, cfg->n_model_map);
	cfg->model_map = NULL;
	cfg->n_model_map = 0;
	if (modelmap_parse(map, 1, where, &cfg->model_map, &cfg->n_model_map,
	    cause) != KF_OK)
		return KF_ECONFIG;
	return KF_OK;
}

static enum kf_err
parse_keys(struct config *cfg, json_object *obj, const struct key *keys,
    const char *prefix, const char *where, const char *basedir,
    char **warnings, char **cause)
{
	const struct key	*k;
	struct json_object_iterator	 it, end;
	const char		*name;
	json_object		*v;
	char			**sp;
	long			*lp;
	int			*ip;
	int64_t			 n;
	enum kf_err		 er;

	it = json_object_iter_begin(obj);
	end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end);
	    json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		v = json_object_iter_peek_value(&it);
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL) {
			warn(warnings, where, "unknown key \"%s\" ignored",
			    name);
			continue;
		}
		if (k->type == KEY_IGNORED) {
			warn(warnings, where, "key \"%s\" (kiro.rs) has no "
			    "meaning for kiro-fcgi and is ignored", name);
			continue;
		}
		/* null means "use the default" for every key. */
		if (v == NULL)
			continue;
		switch (k->type) {
		case KEY_STRING:
		case KEY_PATH:
			if (!json_object_is_type(v, json_type_string))
				goto type;
			sp = (char **)((char *)cfg + k->offset);
			free(*sp);
			if (json_object_get_string_len(v) == 0)
				*sp = NULL;
			else if (k->type == KEY_PATH)
				*sp = absolute_path(json_object_get_string(v),
				    basedir);
			else
				*sp = xstrdup(json_object_get_string(v));
			break;
		case KEY_LONG:
			if (json_get_int(obj, name, &n) != 1)
				goto type;
			if (n < k->min || n > LONG_MAX / 2) {
				xsetprintf(cause, "%s: key \"%s%s\" must be a "
				    "whole number of at least %ld", where,
				    prefix, name, k->min);
				return KF_ECONFIG;
			}
			lp = (long *)((char *)cfg + k->offset);
			*lp = (long)n;
			break;
		case KEY_BOOL:
			if (!json_object_is_type(v, json_type_boolean))
				goto type;
			ip = (int *)((char *)cfg + k->offset);
			*ip = json_object_get_boolean(v) ? 1 : 0;
			break;
		case KEY_LB_MODE:
			if (!json_object_is_type(v, json_type_string))
				goto type;
			for (n = 0; n < LB__MAX; n++)
				if (strcasecmp(lb_names[n],
				    json_object_get_string(v)) == 0)
					break;
			if (n == LB__MAX) {
				xsetprintf(cause, "%s: key \"%s\" must be "
				    "\"priority\", \"balanced\" or "
				    "\"round-robin\"", where, name);
				return KF_ECONFIG;
			}
			cfg->load_balancing_mode = (enum lb_mode)n;
			break;
		case KEY_API_STYLE:
			if (!json_object_is_type(v, json_type_string))
				goto type;
			if (config_api_style_parse(json_object_get_string(v),
			    (enum api_style *)((char *)cfg + k->offset)) ==
			    -1) {
				xsetprintf(cause, "%s: key \"%s\" must be "
				    "\"path\" or \"target\"", where, name);
				return KF_ECONFIG;
			}
			break;
		case KEY_API_HOST:
			if (!json_object_is_type(v, json_type_string))
				goto type;
			if (config_api_host_parse(json_object_get_string(v),
			    (enum api_host *)((char *)cfg + k->offset)) ==
			    -1) {
				xsetprintf(cause, "%s: key \"%s\" must be "
				    "\"runtime\" or \"legacy\"", where, name);
				return KF_ECONFIG;
			}
			break;
		case KEY_OVERFLOW:
			if (!json_object_is_type(v, json_type_string))
				goto type;
			if (config_overflow_parse(json_object_get_string(v),
			    (enum overflow_mode *)((char *)cfg + k->offset)) ==
			    -1) {
				xsetprintf(cause, "%s: key \"%s%s\" must be "
				    "\"error\", \"truncate\" or \"summarize\"",
				    where, prefix, name);
				return KF_ECONFIG;
			}
			break;
		case KEY_LOG_LEVEL:
			if (!json_object_is_type(v, json_type_string))
				goto type;
			if (log_level_parse(json_object_get_string(v),
			    &cfg->log_level) == -1) {
				xsetprintf(cause, "%s: key \"%s\" must be "
				    "\"debug\", \"info\", \"warn\" or "
				    "\"error\"", where, name);
				return KF_ECONFIG;
			}
			break;
		case KEY_MODEL_MAP:
			if (!json_object_is_type(v, json_type_object))
				goto type;
			if ((er = parse_model_map(cfg, v, where, cause)) !=
			    KF_OK)
				return er;
			break;
		case KEY_OBJECT:
			if (!json_object_is_type(v, json_type_object))
				goto type;
			{
				char	*sub_prefix = xasprintf("%s.", name);

				er = parse_keys(cfg, v, k->sub, sub_prefix,
				    where, basedir, warnings, cause);
				free(sub_prefix);
				if (er != KF_OK)
					return er;
			}
			break;
		case KEY_IGNORED:
			break;
		}
		continue;
type:
		xsetprintf(cause, "%s: key \"%s%s\" must be %s, not %s", where,
		    prefix, name,
		    k->type == KEY_LONG ? "a whole number" :
		    k->type == KEY_BOOL ? "true or false" :
		    k->type == KEY_OBJECT || k->type == KEY_MODEL_MAP ?
		    "an object" : "a string",
		    json_type_label(v));
		return KF_ECONFIG;
	}
	return KF_OK;
}

static void
setenv_str(char **field, const char *name)
{
	const char	*v;

	if ((v = getenv(name)) == NULL || *v == '\0')
		return;
	free(*field);
	*field = xstrdup(v);
}

/* ASCII only, whatever the locale. */
static int
is_az(char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_09(char c)
{
	return c >= '0' && c <= '9';
}

int
config_region_valid(const char *s)
{
	size_t	i = 0, len;
	int	words = 0;

	if (s == NULL || (len = strlen(s)) > CONFIG_REGION_MAX)
		return 0;
	/* Two letters, then one or more "-word", then "-digits". */
	if (len < 2 || !is_az(s[0]) || !is_az(s[1]))
		return 0;
	for (i = 2; s[i] == '-' && is_az(s[i + 1]); words++)
		for (i++; is_az(s[i]); i++)
			;
	if (words == 0 || s[i] != '-' || !is_09(s[i + 1]))
		return 0;
	for (i++; is_09(s[i]); i++)
		;
	return i == len;
}

enum kf_err
config_region_check(const char *field, const char *value, char **cause)
{
	if (value == NULL || config_region_valid(value))
		return KF_OK;
	xsetprintf(cause, "%s must be an AWS region name such as us-east-1 "
	    "(lower-case letters, dashes and a number)", field);
	return KF_EINVAL;
}

/* The regions of the file, named by key: they become host names. */
static enum kf_err
check_file_regions(const struct config *cfg, const char *where,
    char **cause)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = config_region_check("key \"region\"", cfg->region,
	    &why)) != KF_OK ||
	    (er = config_region_check("key \"authRegion\"",
	    cfg->auth_region, &why)) != KF_OK ||
	    (er = config_region_check("key \"apiRegion\"", cfg->api_region,
	    &why)) != KF_OK) {
		xsetprintf(cause, "%s: %s", where, why);
		free(why);
		return KF_ECONFIG;
	}
	return KF_OK;
}

static enum kf_err
apply_env(struct config *cfg, char **cause)
{
	const char	*region = getenv("REGION");

	if (region != NULL && *region != '\0' &&
	    config_region_check("REGION", region, cause) != KF_OK)
		return KF_ECONFIG;
	setenv_str(&cfg->api_key, "API_KEY");
	setenv_str(&cfg->admin_api_key, "ADMIN_API_KEY");
	setenv_str(&cfg->region, "REGION");
	setenv_str(&cfg->env_refresh_token, "REFRESH_TOKEN");
	setenv_str(&cfg->env_auth_method, "AUTH_METHOD");
	setenv_str(&cfg->env_client_id, "CLIENT_ID");
	setenv_str(&cfg->env_client_secret, "CLIENT_SECRET");
	setenv_str(&cfg->env_expires_at, "EXPIRES_AT");
	setenv_str(&cfg->env_credentials_json, "CREDENTIALS_JSON");
	setenv_str(&cfg->env_access_token, "KIRO_ACCESS_TOKEN");
	setenv_str(&cfg->env_kiro_refresh_token, "KIRO_REFRESH_TOKEN");
	setenv_str(&cfg->env_region, "REGION");
	setenv_str(&cfg->metrics_key, "METRICS_KEY");
	return KF_OK;
}

static void
default_str(char **field, const char *value)
{
	if (*field == NULL)
		*field = xstrdup(value);
}

static void
apply_defaults(struct config *cfg)
{
	unsigned char	coin;

	default_str(&cfg->region, CONFIG_DEFAULT_REGION);
	default_str(&cfg->kiro_version, "0.11.107");
	default_str(&cfg->node_version, "22.22.0");
	if (cfg->system_version == NULL) {
		/* kiro.rs picks one of two real IDE platforms per process. */
		rand_bytes(&coin, 1);
		cfg->system_version = xstrdup(coin & 1 ? "darwin#24.6.0" :
		    "win32#10.0.22631");
	}
	/*
	 * An operator who named one base URL (a proxy, a mock) gets every
	 * call there unless legacyApiBaseUrl says otherwise.
	 */
	default_str(&cfg->legacy_api_base_url, cfg->api_base_url != NULL ?
	    cfg->api_base_url : CONFIG_DEFAULT_LEGACY_API_BASE);
	default_str(&cfg->api_base_url, CONFIG_DEFAULT_API_BASE);
	default_str(&cfg->auth_base_url, CONFIG_DEFAULT_AUTH_BASE);
	default_str(&cfg->oidc_base_url, CONFIG_DEFAULT_OIDC_BASE);
	default_str(&cfg->count_tokens_auth_type, "x-api-key");
	default_str(&cfg->state_dir, KIRO_STATEDIR);
}

static struct config *
config_new(void)
{
	struct config	*cfg;

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->load_balancing_mode = LB_PRIORITY;
	cfg->api_style = API_STYLE_PATH;
	/* Builder ID tokens: the runtime host refuses them (§12). */
	cfg->idc_api_host = API_HOST_LEGACY;
	cfg->sticky_seconds = 60;
	cfg->cooldown_max_seconds = 3600;
	cfg->max_request_bytes = CONFIG_DEFAULT_MAX_REQUEST;
	cfg->max_kiro_body_bytes = CONFIG_DEFAULT_MAX_KIRO_BODY;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->history.max_image_msgs = 5;
	cfg->history.max_payload_bytes = 0;
	cfg->history.on_overflow = OVERFLOW_ERROR;
	cfg->ping_interval_seconds = 25;
	cfg->connect_timeout_ms = 10000;
	cfg->stream_idle_timeout_seconds = 300;
	cfg->idle_refresh_hours = 4;
	/* The mock shows no refusal of history cachePoints: README. */
	cfg->prompt_caching = 1;
	cfg->tool_continuations = 2;
	cfg->flow_log.enabled = 1;
	cfg->metrics_enabled = 1;
	cfg->flow_log.max_records = 100000;
	cfg->flow_log.max_age_days = 30;
	cfg->flow_log.body_max_bytes = 16384;
	cfg->flow_log.segment_bytes = FLOWLOG_SEGMENT_BYTES;
	return cfg;
}

static enum kf_err
parse_into(struct config *cfg, const char *json, size_t len,
    const char *where, const char *basedir, char **warnings, char **cause)
{
	json_object	*root = NULL;
	char		*jcause = NULL;
	enum kf_err	 er;

	if (json_parse(json, len, 64, &root, &jcause) != KF_OK) {
		xsetprintf(cause, "%s: %s", where, jcause);
		free(jcause);
		return KF_ECONFIG;
	}
	if (!json_object_is_type(root, json_type_object)) {
		xsetprintf(cause, "%s: the configuration must be a JSON "
		    "object, not %s", where, json_type_label(root));
		json_object_put(root);
		return KF_ECONFIG;
	}
	er = parse_keys(cfg, root, top_keys, "", where, basedir, warnings,
	    cause);
	json_object_put(root);
	return er;
}

enum kf_err
config_parse(const char *json, size_t len, const char *basedir,
    struct config **out, char **warnings, char **cause)
{
	struct config	*cfg;
	enum kf_err	 er;

	*out = NULL;
	cfg = config_new();
	if ((er = parse_into(cfg, json, len, "config", basedir, warnings,
	    cause)) != KF_OK ||
	    (er = check_file_regions(cfg, "config", cause)) != KF_OK ||
	    (er = apply_env(cfg, cause)) != KF_OK) {
		config_free(cfg);
		return er;
	}
	apply_defaults(cfg);
	*out = cfg;
	return KF_OK;
}

enum kf_err
config_load(const char *path, struct config **out, char **warnings,
    char **cause)
{
	struct config	*cfg;
	struct buf	 text = BUF_INIT;
	const char	*env;
	char		*abs = NULL, *basedir = NULL, *slash, *jcause = NULL;
	char		 cwd[PATH_MAX];
	int		 must_exist = 1;
	enum kf_err	 er = KF_OK;

	*out = NULL;
	if (path == NULL && (env = getenv("KIRO_FCGI_CONFIG")) != NULL &&
	    *env != '\0')
		path = env;
	if (path == NULL) {
		path = config_default_path();
		must_exist = 0;
	}
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL)
		abs = xasprintf("%s/%s", cwd, path);
	else
		abs = xstrdup(path);

	cfg = config_new();
	if (!must_exist && access(abs, F_OK) == -1 && errno == ENOENT) {
		/* No file: defaults and environment only. */
	} else {
		if (fileio_read(abs, CONFIG_MAX_FILE, &text, &jcause) !=
		    KF_OK) {
			xsetprintf(cause, "config %s", jcause);
			er = KF_ECONFIG;
			goto out;
		}
		basedir = xstrdup(abs);
		if ((slash = strrchr(basedir, '/')) != NULL)
			*(slash == basedir ? slash + 1 : slash) = '\0';
		if ((er = parse_into(cfg, buf_cstr(&text), text.len, abs,
		    basedir, warnings, cause)) != KF_OK ||
		    (er = check_file_regions(cfg, abs, cause)) != KF_OK)
			goto out;
		cfg->path = abs;
		abs = NULL;
	}
	if ((er = apply_env(cfg, cause)) != KF_OK)
		goto out;
	apply_defaults(cfg);
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	buf_free(&text);
	free(abs);
	free(basedir);
	free(jcause);
	return er;
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->api_key);
	free(cfg->admin_api_key);
	free(cfg->metrics_key);
	free(cfg->region);
	free(cfg->auth_region);
	free(cfg->api_region);
	free(cfg->kiro_version);
	free(cfg->machine_id);
	free(cfg->system_version);
	free(cfg->node_version);
	free(cfg->proxy_url);
	free(cfg->proxy_username);
	free(cfg->proxy_password);
	free(cfg->count_tokens_api_url);
	free(cfg->count_tokens_api_key);
	free(cfg->count_tokens_auth_type);
	free(cfg->state_dir);
	for (i = 0; i < cfg->n_model_map; i++) {
		free(cfg->model_map[i].pattern);
		free(cfg->model_map[i].target);
	}
	free(cfg->model_map);
	free(cfg->credentials_file);
	free(cfg->api_base_url);
	free(cfg->legacy_api_base_url);
	free(cfg->auth_base_url);
	free(cfg->oidc_base_url);
	free(cfg->env_refresh_token);
	free(cfg->env_auth_method);
	free(cfg->env_client_id);
	free(cfg->env_client_secret);
	free(cfg->env_expires_at);
	free(cfg->env_credentials_json);
	free(cfg->env_access_token);
	free(cfg->env_kiro_refresh_token);
	free(cfg->env_region);
	free(cfg);
}

char *
config_url(const char *base, const char *region, const char *op)
{
	struct buf	 out = BUF_INIT;
	const char	*p, *hit;
	size_t		 len;

	for (p = base; (hit = strstr(p, "{region}")) != NULL;
	    p = hit + strlen("{region}")) {
		buf_append(&out, p, (size_t)(hit - p));
		buf_puts(&out, region);
	}
	buf_puts(&out, p);
	len = out.len;
	if (len > 0 && out.ptr[len - 1] == '/' && op[0] == '/')
		out.len--;
	buf_puts(&out, op);
	return buf_detach(&out);
}
