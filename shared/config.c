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

/*
 * One key of the file.  def and text document it for kiro-fcgi.conf(5)
 * (config_doc_walk): text uses `backquotes` for literals; def is the
 * default as text, or NULL to print the value config_new sets (numbers,
 * booleans and the enumerations) or "none" (strings).  A new key is a row
 * with its text, then `make man` and a commit of man/kiro-fcgi.conf.5:
 * test-confman fails until the page matches.
 */
struct key {
	const char		*name;
	enum key_type		 type;
	size_t			 offset;
	long			 min;	/* KEY_LONG */
	const struct key	*sub;	/* KEY_OBJECT */
	const char		*def;
	const char		*text;
};

#define OFF(f)	offsetof(struct config, f)

static const struct key rate_keys[] = {
	{ .name = "minIntervalMs", .type = KEY_LONG,
	  .offset = OFF(rate_limits.min_interval_ms),
	  .text = "The least time between two requests on one account, in "
	  "milliseconds, across every responder process; `0` is no limit." },
	{ .name = "perAccountRpm", .type = KEY_LONG,
	  .offset = OFF(rate_limits.per_account_rpm),
	  .text = "Requests per minute on one account; `0` is no limit." },
	{ .name = "globalRpm", .type = KEY_LONG,
	  .offset = OFF(rate_limits.global_rpm),
	  .text = "Requests per minute over the whole gateway; `0` is no "
	  "limit." },
	{ .name = NULL }
};

static const struct key history_keys[] = {
	{ .name = "maxImageMessages", .type = KEY_LONG,
	  .offset = OFF(history.max_image_msgs),
	  .text = "Images are kept in the last N messages only; older ones "
	  "become a note in the text." },
	{ .name = "maxPayloadBytes", .type = KEY_LONG,
	  .offset = OFF(history.max_payload_bytes),
	  .text = "When above `0`, the oldest turns are dropped until the Kiro "
	  "request fits in this many bytes: as many at once as the excess "
	  "covers by their estimated size, then the request is rebuilt, so a "
	  "very long session is trimmed in a few builds.  `0` never trims." },
	{ .name = "onOverflow", .type = KEY_OVERFLOW,
	  .offset = OFF(history.on_overflow),
	  .text = "What happens to a conversation larger than the model's "
	  "input window: `error` refuses it with \"Context window is full\", "
	  "`truncate` drops its oldest turns, `summarize` has the model "
	  "summarise its oldest part." },
	{ .name = NULL }
};

static const struct key image_fetch_keys[] = {
	{ .name = "allowPrivate", .type = KEY_BOOL,
	  .offset = OFF(image_fetch.allow_private),
	  .text = "Image URLs (http or https) in client requests may only "
	  "reach public addresses; `true` lets them reach loopback, private "
	  "and link-local addresses too.  Images are fetched directly, never "
	  "through `proxyUrl`." },
	{ .name = NULL }
};

static const struct key flow_log_keys[] = {
	{ .name = "enabled", .type = KEY_BOOL, .offset = OFF(flow_log.enabled),
	  .text = "Record every API request when it ends, as JSON lines under "
	  "`stateDir/flows/` (directory 0700, files 0600), for `GET /flows`, "
	  "`GET /stats`, `kiroctl flows` and `kiroctl stats`." },
	{ .name = "bodies", .type = KEY_BOOL, .offset = OFF(flow_log.bodies),
	  .text = "Also keep each request and answer body, for debugging a "
	  "client; the disk then holds up to `maxRecords` x 2 x "
	  "`bodyMaxBytes`.  Without it no content and no header is stored." },
	{ .name = "maxRecords", .type = KEY_LONG, .offset =
	  OFF(flow_log.max_records), .min = 1,
	  .text = "Records kept; the segment that crosses the count is kept "
	  "whole." },
	{ .name = "maxAgeDays", .type = KEY_LONG, .offset =
	  OFF(flow_log.max_age_days), .min = 1,
	  .text = "Segments closed longer ago than this are deleted." },
	{ .name = "bodyMaxBytes", .type = KEY_LONG, .offset =
	  OFF(flow_log.body_max_bytes), .min = 1,
	  .text = "Each kept body is cut there (at most 262144).  The values of "
	  "`x-api-key`, `authorization`, `key`, `api_key`, `apiKey`, token "
	  "and client-secret fields are replaced by `[redacted]`." },
	{ .name = NULL }
};

static const struct key top_keys[] = {
	{ .name = "apiKey", .type = KEY_STRING, .offset = OFF(api_key),
	  .def = "none (required)",
	  .text = "The key clients send as `x-api-key`, `Authorization: Bearer`, "
	  "`x-goog-api-key` or `?key=` (Gemini routes).  Without it no client "
	  "is let in, named client keys (`kiroctl keys`) included." },
	{ .name = "adminApiKey", .type = KEY_STRING, .offset =
	  OFF(admin_api_key),
	  .text = "Turns on the admin API and the web UI, and is their only "
	  "key.  It also opens `GET /metrics`." },
	{ .name = "region", .type = KEY_STRING, .offset = OFF(region),
	  .def = "`" CONFIG_DEFAULT_REGION "`",
	  .text = "The AWS region for everything `authRegion` and `apiRegion` "
	  "do not set.  Every region must be an AWS region name such as "
	  "`us-east-1`: it goes into upstream host names, so anything else is "
	  "refused with an error that names the key." },
	{ .name = "authRegion", .type = KEY_STRING, .offset = OFF(auth_region),
	  .def = "the value of `region`",
	  .text = "The region of token refreshes; a credential's own "
	  "`authRegion` or `region` wins." },
	{ .name = "apiRegion", .type = KEY_STRING, .offset = OFF(api_region),
	  .def = "the value of `region`",
	  .text = "The region of API calls; a credential's own `apiRegion` "
	  "wins." },
	{ .name = "kiroVersion", .type = KEY_STRING, .offset =
	  OFF(kiro_version), .def = "`" CONFIG_DEFAULT_KIRO_VERSION "`",
	  .text = "The IDE version sent in the User-Agent." },
	{ .name = "machineId", .type = KEY_STRING, .offset = OFF(machine_id),
	  .def = "derived per credential",
	  .text = "64 hex digits or a UUID, sent in the User-Agent; a "
	  "credential's own `machineId` wins.  Unset, it is derived from each "
	  "credential's refresh token or Kiro API key." },
	{ .name = "systemVersion", .type = KEY_STRING, .offset =
	  OFF(system_version),
	  .def = "`darwin#24.6.0` or `win32#10.0.22631`",
	  .text = "The operating system sent in the User-Agent; unset, one of "
	  "the two is chosen per process." },
	{ .name = "nodeVersion", .type = KEY_STRING, .offset =
	  OFF(node_version), .def = "`" CONFIG_DEFAULT_NODE_VERSION "`",
	  .text = "The Node version sent in the User-Agent." },
	{ .name = "proxyUrl", .type = KEY_STRING, .offset = OFF(proxy_url),
	  .text = "An HTTP or SOCKS5 proxy for every upstream call; a "
	  "credential's own `proxyUrl` wins, and `direct` there means no "
	  "proxy." },
	{ .name = "proxyUsername", .type = KEY_STRING, .offset =
	  OFF(proxy_username),
	  .text = "The user name for `proxyUrl`." },
	{ .name = "proxyPassword", .type = KEY_STRING, .offset =
	  OFF(proxy_password),
	  .text = "The password for `proxyUrl`." },
	{ .name = "loadBalancingMode", .type = KEY_LB_MODE, .offset =
	  OFF(load_balancing_mode),
	  .text = "How an account is chosen for a new conversation: `priority` "
	  "(lowest priority number first), `balanced` (fewest successful "
	  "requests first) or `round-robin`.  A value set through the admin "
	  "API wins." },
	{ .name = "countTokensApiUrl", .type = KEY_STRING, .offset =
	  OFF(count_tokens_api_url),
	  .text = "Forward Anthropic `count_tokens` requests to this "
	  "Anthropic-compatible endpoint; the local estimate is the fallback "
	  "when it fails.  Unset, the local estimate answers." },
	{ .name = "countTokensApiKey", .type = KEY_STRING, .offset =
	  OFF(count_tokens_api_key),
	  .text = "The key sent to `countTokensApiUrl`." },
	{ .name = "countTokensAuthType", .type = KEY_STRING, .offset =
	  OFF(count_tokens_auth_type), .def = "`x-api-key`",
	  .text = "How `countTokensApiKey` is sent: `bearer` as "
	  "`Authorization: Bearer`, anything else as `x-api-key`." },
	{ .name = "stateDir", .type = KEY_PATH, .offset = OFF(state_dir),
	  .def = "`$localstatedir/lib/kiro-fcgi`",
	  .text = "The directory of the GDBM state file (accounts, "
	  "stickiness, counters, client keys), its locks and the request log "
	  "(directory 0700, files 0600).  The web server's user must own it." },
	{ .name = "credentialsFile", .type = KEY_PATH, .offset =
	  OFF(credentials_file),
	  .text = "A kiro.rs `credentials.json` imported on first start; "
	  "rotated tokens are written back to it." },
	{ .name = "apiBaseUrl", .type = KEY_STRING, .offset = OFF(api_base_url),
	  .def = "`" CONFIG_DEFAULT_API_BASE "`",
	  .text = "Kiro's runtime host (inference, `getUsageLimits`, "
	  "`ListAvailableProfiles`).  `/generateAssistantResponse` (or `/` in "
	  "the target style) is appended, `{region}` is replaced by the "
	  "region, and a path prefix is kept." },
	{ .name = "legacyApiBaseUrl", .type = KEY_STRING, .offset =
	  OFF(legacy_api_base_url),
	  .def = "the value of `apiBaseUrl` when set, else `"
	  CONFIG_DEFAULT_LEGACY_API_BASE "`",
	  .text = "The legacy host, for Builder ID accounts and as the "
	  "fallback." },
	{ .name = "apiStyle", .type = KEY_API_STYLE, .offset = OFF(api_style),
	  .text = "How generateAssistantResponse is asked for: `path` (`POST "
	  ".../generateAssistantResponse`) or `target` (`POST .../` with an "
	  "`x-amz-target` header, runtime host only); a credential's own "
	  "`apiStyle` wins." },
	{ .name = "idcApiHost", .type = KEY_API_HOST, .offset =
	  OFF(idc_api_host),
	  .text = "The host of Builder ID and IdC accounts, `legacy` or "
	  "`runtime`: the runtime host refuses their tokens today.  A "
	  "credential's own `apiHost` wins." },
	{ .name = "authBaseUrl", .type = KEY_STRING, .offset =
	  OFF(auth_base_url), .def = "`" CONFIG_DEFAULT_AUTH_BASE "`",
	  .text = "The token refresh of social accounts (`/refreshToken` is "
	  "appended)." },
	{ .name = "oidcBaseUrl", .type = KEY_STRING, .offset =
	  OFF(oidc_base_url), .def = "`" CONFIG_DEFAULT_OIDC_BASE "`",
	  .text = "The token refresh of IdC and Builder ID accounts (`/token` "
	  "is appended)." },
	{ .name = "stickySeconds", .type = KEY_LONG, .offset =
	  OFF(sticky_seconds),
	  .text = "A conversation stays on its account this long after its "
	  "last request; `0` turns stickiness off.  A value set through the "
	  "admin API wins." },
	{ .name = "cooldownMaxSeconds", .type = KEY_LONG, .offset =
	  OFF(cooldown_max_seconds), .min = 60,
	  .text = "The cap of the cooldown after Kiro throttles an account: 60 "
	  "seconds, doubled for each consecutive 429." },
	{ .name = "rateLimits", .type = KEY_OBJECT, .sub = rate_keys,
	  .def = "no limits",
	  .text = "Request rates enforced across every responder process; a "
	  "value set through the admin API wins." },
	{ .name = "maxRequestBytes", .type = KEY_LONG, .offset =
	  OFF(max_request_bytes), .min = 1,
	  .text = "Larger request bodies get 413." },
	{ .name = "maxKiroBodyBytes", .type = KEY_LONG, .offset =
	  OFF(max_kiro_body_bytes), .min = 1,
	  .text = "A request whose Kiro body (after any "
	  "`history.maxPayloadBytes` trimming) is larger gets 400 \"Input is "
	  "too long\" in the client's format, without an upstream call.  The "
	  "default is where Kiro is reported to refuse a payload; a refusal "
	  "here must not turn away what Kiro would serve." },
	{ .name = "logLevel", .type = KEY_LOG_LEVEL, .offset = OFF(log_level),
	  .text = "The least severe level written to the web server's error "
	  "log." },
	{ .name = "history", .type = KEY_OBJECT, .sub = history_keys,
	  .def = "the defaults below",
	  .text = "How long conversations are fitted into a Kiro request." },
	{ .name = "modelMap", .type = KEY_MODEL_MAP,
	  .def = "the built-in names",
	  .text = "Client model names or `fnmatch` globs mapped to Kiro model "
	  "ids, as `{\"name or glob\": \"kiro id\"}`, tried first, in file "
	  "order, before the built-in names." },
	{ .name = "pingIntervalSeconds", .type = KEY_LONG, .offset =
	  OFF(ping_interval_seconds), .min = 1,
	  .text = "The interval of keep-alive pings in a streamed answer." },
	{ .name = "connectTimeoutMs", .type = KEY_LONG, .offset =
	  OFF(connect_timeout_ms), .min = 1,
	  .text = "The time allowed for connecting to Kiro, in milliseconds." },
	{ .name = "streamIdleTimeoutSeconds", .type = KEY_LONG, .offset =
	  OFF(stream_idle_timeout_seconds), .min = 1,
	  .text = "A Kiro stream silent this long is a failure." },
	{ .name = "imageFetch", .type = KEY_OBJECT, .sub = image_fetch_keys,
	  .def = "the defaults below",
	  .text = "How image URLs in client requests are fetched." },
	{ .name = "idleRefreshHours", .type = KEY_LONG, .offset =
	  OFF(idle_refresh_hours),
	  .text = "`kiroctl refresh` also refreshes a social account whose "
	  "last refresh is this many hours old, however long its token is "
	  "valid: Kiro lets an unused social refresh token die after about 6 "
	  "hours.  `0` turns it off." },
	{ .name = "promptCaching", .type = KEY_BOOL, .offset =
	  OFF(prompt_caching),
	  .text = "Anthropic `cache_control` marks become Kiro `cachePoint`s "
	  "between history entries; `false` sends none." },
	{ .name = "toolContinuations", .type = KEY_LONG, .offset =
	  OFF(tool_continuations),
	  .text = "A tool call cut off in the middle of its input is continued "
	  "up to this many times (at most 8); `0` ends such an answer with "
	  "`max_tokens` at once." },
	{ .name = "metricsKey", .type = KEY_STRING, .offset = OFF(metrics_key),
	  .text = "Opens `GET /metrics` to a scraper that sends it." },
	{ .name = "metricsEnabled", .type = KEY_BOOL, .offset =
	  OFF(metrics_enabled),
	  .text = "`false`: the responders keep no shared counters, and "
	  "`/metrics` reports `kiro_fcgi_metrics_shared 0`; for measuring what "
	  "the counters cost." },
	{ .name = "flowLog", .type = KEY_OBJECT, .sub = flow_log_keys,
	  .def = "the defaults below",
	  .text = "The request log." },
	/* kiro.rs keys: the web server listens, TLS is libcurl's. */
	{ .name = "host", .type = KEY_IGNORED,
	  .text = "A kiro.rs key: the web server listens here." },
	{ .name = "port", .type = KEY_IGNORED,
	  .text = "A kiro.rs key: the web server listens here." },
	{ .name = "tlsBackend", .type = KEY_IGNORED,
	  .text = "A kiro.rs key: TLS is libcurl's." },
	{ .name = "defaultEndpoint", .type = KEY_IGNORED,
	  .text = "A kiro.rs key with no meaning here." },
	{ .name = NULL }
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

/*
 * The variables that override the file (containers), in the order they
 * apply.  REGION sets two fields: the second row has no text.
 */
struct env_key {
	const char	*name;
	size_t		 offset;	/* the string field it sets */
	const char	*text;		/* NULL: documented on an earlier row */
};

static const struct env_key env_keys[] = {
	{ "API_KEY", OFF(api_key), "Overrides `apiKey`." },
	{ "ADMIN_API_KEY", OFF(admin_api_key), "Overrides `adminApiKey`." },
	{ "REGION", OFF(region), "Overrides `region`, and is the region of "
	    "the credential `REFRESH_TOKEN` seeds.  It must be an AWS region "
	    "name." },
	{ "REFRESH_TOKEN", OFF(env_refresh_token), "A refresh token seeded "
	    "into the state at start, idempotently, with `AUTH_METHOD`, "
	    "`CLIENT_ID`, `CLIENT_SECRET`, `EXPIRES_AT` and `REGION`." },
	{ "AUTH_METHOD", OFF(env_auth_method), "The auth method of "
	    "`REFRESH_TOKEN`, `social` or `idc`; unset, `idc` when "
	    "`CLIENT_ID` and `CLIENT_SECRET` are set, else `social`." },
	{ "CLIENT_ID", OFF(env_client_id), "The OIDC client id of an IdC "
	    "`REFRESH_TOKEN`." },
	{ "CLIENT_SECRET", OFF(env_client_secret), "The OIDC client secret "
	    "of an IdC `REFRESH_TOKEN`." },
	{ "EXPIRES_AT", OFF(env_expires_at), "When the access token of "
	    "`REFRESH_TOKEN` expires (RFC 3339)." },
	{ "CREDENTIALS_JSON", OFF(env_credentials_json), "A kiro.rs "
	    "credentials document (one object or an array) seeded at start." },
	{ "KIRO_ACCESS_TOKEN", OFF(env_access_token), "An access token "
	    "seeded with the refresh token." },
	{ "KIRO_REFRESH_TOKEN", OFF(env_kiro_refresh_token), "The refresh "
	    "token to seed when `REFRESH_TOKEN` is unset." },
	{ "REGION", OFF(env_region), NULL },
	{ "METRICS_KEY", OFF(metrics_key), "Overrides `metricsKey`." },
	{ NULL, 0, NULL }
};

static enum kf_err
apply_env(struct config *cfg, char **cause)
{
	const struct env_key	*e;
	const char		*region = getenv("REGION");

	if (region != NULL && *region != '\0' &&
	    config_region_check("REGION", region, cause) != KF_OK)
		return KF_ECONFIG;
	for (e = env_keys; e->name != NULL; e++)
		setenv_str((char **)((char *)cfg + e->offset), e->name);
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
	default_str(&cfg->kiro_version, CONFIG_DEFAULT_KIRO_VERSION);
	default_str(&cfg->node_version, CONFIG_DEFAULT_NODE_VERSION);
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
	if (path == NULL && (env = getenv(CONFIG_ENV_PATH)) != NULL &&
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

/* A key's type as the page shows it: the parser's own names. */
static void
doc_type(const struct key *k, struct buf *out)
{
	const char *const	*names = NULL;
	size_t			 i, n = 0;

	switch (k->type) {
	case KEY_STRING:
		buf_puts(out, "string");
		return;
	case KEY_PATH:
		buf_puts(out, "path");
		return;
	case KEY_LONG:
		buf_printf(out, "integer, at least %ld", k->min);
		return;
	case KEY_BOOL:
		buf_puts(out, "boolean");
		return;
	case KEY_LOG_LEVEL:
		buf_puts(out, "debug | info | warn | error");
		return;
	case KEY_OBJECT:
		buf_puts(out, "object");
		return;
	case KEY_MODEL_MAP:
		buf_puts(out, "object of strings");
		return;
	case KEY_IGNORED:
		buf_puts(out, "any, ignored with a warning");
		return;
	case KEY_LB_MODE:
		names = lb_names;
		n = LB__MAX;
		break;
	case KEY_API_STYLE:
		names = api_style_names;
		n = API_STYLE__MAX;
		break;
	case KEY_API_HOST:
		names = api_host_names;
		n = API_HOST__MAX;
		break;
	case KEY_OVERFLOW:
		names = overflow_names;
		n = OVERFLOW__MAX;
		break;
	}
	for (i = 0; i < n; i++)
		buf_printf(out, "%s%s", i > 0 ? " | " : "", names[i]);
}

/*
 * A key's default: its row's text, else the value config_new sets, as a
 * literal, or "none".
 */
static void
doc_default(const struct key *k, const struct config *defaults,
    struct buf *out)
{
	const char	*field = (const char *)defaults + k->offset;
	int		 i;

	if (k->def != NULL) {
		buf_puts(out, k->def);
		return;
	}
	if (k->type == KEY_STRING || k->type == KEY_PATH ||
	    k->type == KEY_OBJECT || k->type == KEY_MODEL_MAP ||
	    k->type == KEY_IGNORED) {
		buf_puts(out, "none");
		return;
	}
	buf_puts(out, "`");
	switch (k->type) {
	case KEY_LONG:
		buf_printf(out, "%ld", *(const long *)(const void *)field);
		break;
	case KEY_BOOL:
		buf_puts(out, *(const int *)(const void *)field ? "true" :
		    "false");
		break;
	case KEY_LB_MODE:
		buf_puts(out, config_lb_mode_name(
		    *(const enum lb_mode *)(const void *)field));
		break;
	case KEY_API_STYLE:
		buf_puts(out, config_api_style_name(
		    *(const enum api_style *)(const void *)field));
		break;
	case KEY_API_HOST:
		buf_puts(out, config_api_host_name(
		    *(const enum api_host *)(const void *)field));
		break;
	case KEY_OVERFLOW:
		buf_puts(out, config_overflow_name(
		    *(const enum overflow_mode *)(const void *)field));
		break;
	case KEY_LOG_LEVEL:
		i = *(const enum log_level *)(const void *)field;
		buf_puts(out, i == LOG_LEVEL_DEBUG ? "debug" :
		    i == LOG_LEVEL_WARN ? "warn" :
		    i == LOG_LEVEL_ERROR ? "error" : "info");
		break;
	default:
		break;
	}
	buf_puts(out, "`");
}

static void
doc_walk_table(const struct key *keys, const char *prefix,
    const struct config *defaults, config_doc_fn fn, void *arg)
{
	const struct key	*k;
	struct config_doc	 doc;
	struct buf		 name = BUF_INIT, type = BUF_INIT;
	struct buf		 def = BUF_INIT;

	for (k = keys; k->name != NULL; k++) {
		buf_reset(&name);
		buf_reset(&type);
		buf_reset(&def);
		buf_printf(&name, "%s%s", prefix, k->name);
		doc_type(k, &type);
		doc_default(k, defaults, &def);
		doc.name = buf_cstr(&name);
		doc.type = buf_cstr(&type);
		doc.def = buf_cstr(&def);
		doc.text = k->text;
		doc.ignored = k->type == KEY_IGNORED;
		fn(&doc, arg);
		if (k->type == KEY_OBJECT) {
			buf_puts(&name, ".");
			doc_walk_table(k->sub, buf_cstr(&name), defaults, fn,
			    arg);
		}
	}
	buf_free(&name);
	buf_free(&type);
	buf_free(&def);
}

void
config_doc_walk(config_doc_fn fn, void *arg)
{
	struct config	*defaults = config_new();

	doc_walk_table(top_keys, "", defaults, fn, arg);
	config_free(defaults);
}

void
config_env_walk(config_doc_fn fn, void *arg)
{
	const struct env_key	*e;
	struct config_doc	 doc;

	memset(&doc, 0, sizeof(doc));
	doc.name = CONFIG_ENV_PATH;
	doc.type = doc.def = "";
	doc.text = "The configuration file, when `-c` does not name one.";
	fn(&doc, arg);
	for (e = env_keys; e->name != NULL; e++) {
		if (e->text == NULL)
			continue;
		doc.name = e->name;
		doc.text = e->text;
		fn(&doc, arg);
	}
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
