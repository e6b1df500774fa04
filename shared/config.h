/* config.h: the JSON configuration file and its environment overrides. */
#ifndef KF_CONFIG_H
#define KF_CONFIG_H

#include <stddef.h>

#include "err.h"
#include "flowlog.h"
#include "log.h"
#include "models.h"

enum lb_mode {
	LB_PRIORITY,		/* lowest priority number first */
	LB_BALANCED,		/* fewest successful requests first */
	LB_ROUND_ROBIN,
	LB__MAX
};

/*
 * The two Kiro hosts (doc/protocol.md §12): runtime.{region}.kiro.dev,
 * and the legacy q.{region}.amazonaws.com being retired.
 */
enum api_host {
	API_HOST_RUNTIME,
	API_HOST_LEGACY,
	API_HOST__MAX
};

/*
 * How generateAssistantResponse is asked for (§12): POST
 * .../generateAssistantResponse, or POST .../ with an x-amz-target header
 * (runtime host only).
 */
enum api_style {
	API_STYLE_PATH,
	API_STYLE_TARGET,
	API_STYLE__MAX
};

struct rate_limits {
	long	min_interval_ms;	/* per account, 0 = none */
	long	per_account_rpm;	/* 0 = none */
	long	global_rpm;		/* 0 = none */
};

struct image_fetch_config {
	int	allow_private;		/* image URLs may reach private addresses */
};

/*
 * What happens to a conversation larger than the model's input window
 * (overflow.h): refused with "Context window is full", its oldest turns
 * dropped, or its oldest part summarised by the model.
 */
enum overflow_mode {
	OVERFLOW_ERROR,
	OVERFLOW_TRUNCATE,
	OVERFLOW_SUMMARIZE,
	OVERFLOW__MAX
};

struct history_config {
	long	max_image_msgs;		/* keep images in the last N messages */
	long	max_payload_bytes;	/* trim oldest turns beyond; 0 = never */
	enum overflow_mode on_overflow;	/* default error */
};

/*
 * Every key of doc/design.md §4.  Strings are NULL when unset (defaults are
 * filled in by config_load), numbers hold their defaults.  Paths are
 * absolute: relative ones in the file are taken from the file's directory.
 */
struct config {
	char			*path;		/* the file read, NULL if none */
	char			*api_key;
	char			*admin_api_key;
	char			*region;	/* default "us-east-1" */
	char			*auth_region;
	char			*api_region;
	char			*kiro_version;	/* default "0.11.107" */
	char			*machine_id;
	char			*system_version;	/* default chosen per process */
	char			*node_version;	/* default "22.22.0" */
	char			*proxy_url;
	char			*proxy_username;
	char			*proxy_password;
	enum lb_mode		 load_balancing_mode;
	char			*count_tokens_api_url;
	char			*count_tokens_api_key;
	char			*count_tokens_auth_type;	/* x-api-key|bearer */
	char			*state_dir;
	char			*credentials_file;
	char			*api_base_url;	/* the runtime host */
	/* The legacy host: default apiBaseUrl when that is set, else q. */
	char			*legacy_api_base_url;
	enum api_style		 api_style;	/* default path */
	enum api_host		 idc_api_host;	/* default legacy */
	char			*auth_base_url;
	char			*oidc_base_url;
	long			 sticky_seconds;	/* default 60 */
	long			 cooldown_max_seconds;	/* default 3600 */
	struct rate_limits	 rate_limits;
	long			 max_request_bytes;	/* default 64 MiB */
	long			 max_kiro_body_bytes;	/* default 615,000 */
	enum log_level		 log_level;
	struct history_config	 history;
	struct model_alias	*model_map;	/* modelMap, in file order */
	size_t			 n_model_map;
	long			 ping_interval_seconds;	/* default 25 */
	long			 connect_timeout_ms;	/* default 10000 */
	long			 stream_idle_timeout_seconds;	/* default 300 */
	long			 idle_refresh_hours;	/* default 4, 0 = off */
	struct image_fetch_config image_fetch;
	/* Anthropic cache_control becomes Kiro cachePoints; default 1. */
	int			 prompt_caching;
	/* Continuations of a cut-off tool call (toolcont.h); default 2. */
	long			 tool_continuations;
	/* metricsKey: opens GET /metrics (adminApiKey does too). */
	char			*metrics_key;
	/* metricsEnabled: keep the shared counters at all; default 1. */
	int			 metrics_enabled;
	/* The request log, flowLog.* (flowlog.h). */
	struct flowlog_opts	 flow_log;

	/* Credentials given by environment variables, seeded at start. */
	char			*env_refresh_token;	/* REFRESH_TOKEN */
	char			*env_auth_method;	/* AUTH_METHOD */
	char			*env_client_id;		/* CLIENT_ID */
	char			*env_client_secret;	/* CLIENT_SECRET */
	char			*env_expires_at;	/* EXPIRES_AT */
	char			*env_credentials_json;	/* CREDENTIALS_JSON */
	char			*env_access_token;	/* KIRO_ACCESS_TOKEN */
	char			*env_kiro_refresh_token; /* KIRO_REFRESH_TOKEN */
	char			*env_region;		/* REGION, for that credential */
};

#define CONFIG_DEFAULT_REGION		"us-east-1"
#define CONFIG_DEFAULT_KIRO_VERSION	"0.11.107"
#define CONFIG_DEFAULT_NODE_VERSION	"22.22.0"
#define CONFIG_DEFAULT_API_BASE		"https://runtime.{region}.kiro.dev"
#define CONFIG_DEFAULT_LEGACY_API_BASE	"https://q.{region}.amazonaws.com"
#define CONFIG_DEFAULT_AUTH_BASE	"https://prod.{region}.auth.desktop.kiro.dev"
#define CONFIG_DEFAULT_OIDC_BASE	"https://oidc.{region}.amazonaws.com"
#define CONFIG_DEFAULT_MAX_REQUEST	(64L * 1024 * 1024)
/*
 * The largest Kiro request body sent upstream.  Kiro refuses payloads over
 * about 615 KB (doc/protocol.md §12; §3.3 item 16: peers trim history at
 * 600,000 to stay clear of it, history.maxPayloadBytes here).  A refusal
 * here must not turn away what Kiro would serve, so the limit sits at the
 * refusal point and not below the peers' margin: a body just over Kiro's
 * real limit still gets Kiro's own 400.
 */
#define CONFIG_DEFAULT_MAX_KIRO_BODY	615000L

/*
 * Finds the file (explicit path, else $KIRO_FCGI_CONFIG, else the sysconfdir
 * default), reads it, applies environment overrides and defaults.  A file
 * named explicitly or by the environment must exist; the default one may be
 * absent.  Wrong types and unreadable files are KF_ECONFIG with a cause that
 * names the key or path.  Unknown keys are logged as warnings (log_warnx)
 * and also appended to *warnings when it is not NULL (one per line; caller
 * frees).  *out is the caller's to config_free.
 */
enum kf_err	 config_load(const char *path, struct config **out,
		    char **warnings, char **cause);
/* Parses JSON text as a config file whose directory is basedir. */
enum kf_err	 config_parse(const char *json, size_t len, const char *basedir,
		    struct config **out, char **warnings, char **cause);
void		 config_free(struct config *);	/* NULL is fine */

/* The variable that names the file when the caller does not. */
#define CONFIG_ENV_PATH	"KIRO_FCGI_CONFIG"

/*
 * One key of the file or one environment variable, documented from the
 * table the parser reads (kiro-fcgi.conf(5) is generated from it).  name
 * is "parent.child" for a nested key; type and def are text ("integer, at
 * least 1", "3600"), empty for a variable; text uses `backquotes` around
 * literals.  Everything is borrowed, valid only during the call.
 */
struct config_doc {
	const char	*name;
	const char	*type;
	const char	*def;
	const char	*text;
	int		 ignored;	/* accepted with a warning, no effect */
};
typedef void	 (*config_doc_fn)(const struct config_doc *, void *);
/* Calls fn for every key in the parser's order, each object before its keys. */
void		 config_doc_walk(config_doc_fn fn, void *arg);
/* Calls fn for CONFIG_ENV_PATH, then every variable that overrides the file. */
void		 config_env_walk(config_doc_fn fn, void *arg);

/* The default config path ($sysconfdir/kiro-fcgi/config.json). */
const char	*config_default_path(void);
const char	*config_lb_mode_name(enum lb_mode);
/* "runtime" | "legacy", and back (any case): 0 or -1. */
const char	*config_api_host_name(enum api_host);
int		 config_api_host_parse(const char *, enum api_host *);
/* "error" | "truncate" | "summarize", and back (any case): 0 or -1. */
const char	*config_overflow_name(enum overflow_mode);
int		 config_overflow_parse(const char *, enum overflow_mode *);
/* "path" | "target", and back (any case): 0 or -1. */
const char	*config_api_style_name(enum api_style);
int		 config_api_style_parse(const char *, enum api_style *);

/*
 * An AWS region name (^[a-z]{2}(-[a-z]+)+-[0-9]+$, at most
 * CONFIG_REGION_MAX characters): 1, else 0.  Regions are pasted into
 * upstream host names, so nothing else may reach config_url.
 */
#define CONFIG_REGION_MAX	32
int		 config_region_valid(const char *);
/*
 * KF_OK when value is NULL or a valid region, else KF_EINVAL with a cause
 * naming field ("apiRegion", "--region", "REGION").  The value is not
 * repeated: it may hold anything.
 */
enum kf_err	 config_region_check(const char *field, const char *value,
		    char **cause);

/*
 * base with "{region}" replaced by region, then op appended ("/token"):
 * the caller frees.  A trailing "/" on base is not doubled.
 */
char		*config_url(const char *base, const char *region,
		    const char *op);

#endif
