/* test-config.c: the configuration file, its checks and environment overrides. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "testutil.h"
#include "xmalloc.h"

static const char *const env_names[] = {
	"API_KEY", "ADMIN_API_KEY", "REGION", "REFRESH_TOKEN", "AUTH_METHOD",
	"CLIENT_ID", "CLIENT_SECRET", "EXPIRES_AT", "CREDENTIALS_JSON",
	"KIRO_ACCESS_TOKEN", "KIRO_REFRESH_TOKEN", "KIRO_FCGI_CONFIG", NULL
};

static void
clear_env(void)
{
	size_t	i;

	for (i = 0; env_names[i] != NULL; i++)
		unsetenv(env_names[i]);
}

static struct config *
parse_ok(const char *json, char **warnings)
{
	struct config	*cfg = NULL;
	char		*why = NULL;

	ck_assert_msg(config_parse(json, strlen(json), "/etc/kf", &cfg,
	    warnings, &why) == KF_OK, "parse failed: %s", why);
	free(why);
	return cfg;
}

static char *
parse_err(const char *json)
{
	struct config	*cfg = NULL;
	char		*why = NULL;

	ck_assert_int_eq(config_parse(json, strlen(json), "/etc/kf", &cfg,
	    NULL, &why), KF_ECONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(why);
	return why;
}

START_TEST(config_every_design_key_is_read)
{
	struct config	*cfg;
	char		*warnings = NULL;

	clear_env();
	cfg = parse_ok("{\"apiKey\":\"k\",\"adminApiKey\":\"a\","
	    "\"region\":\"eu-central-1\",\"authRegion\":\"us-east-1\","
	    "\"apiRegion\":\"us-west-2\",\"kiroVersion\":\"0.9\","
	    "\"machineId\":\"m\",\"systemVersion\":\"linux#6\","
	    "\"nodeVersion\":\"20\",\"proxyUrl\":\"socks5://p:1080\","
	    "\"proxyUsername\":\"u\",\"proxyPassword\":\"pw\","
	    "\"loadBalancingMode\":\"balanced\","
	    "\"countTokensApiUrl\":\"http://c\",\"countTokensApiKey\":\"ck\","
	    "\"countTokensAuthType\":\"bearer\",\"stateDir\":\"state\","
	    "\"credentialsFile\":\"/abs/creds.json\","
	    "\"apiBaseUrl\":\"http://a/{region}\",\"authBaseUrl\":\"http://b\","
	    "\"oidcBaseUrl\":\"http://o\",\"stickySeconds\":90,"
	    "\"rateLimits\":{\"minIntervalMs\":5,\"perAccountRpm\":6,"
	    "\"globalRpm\":7},\"maxRequestBytes\":1000,\"logLevel\":\"debug\","
	    "\"history\":{\"maxImageMessages\":2,\"maxPayloadBytes\":600000}}",
	    &warnings);
	ck_assert_ptr_null(warnings);
	ck_assert_str_eq(cfg->api_key, "k");
	ck_assert_str_eq(cfg->admin_api_key, "a");
	ck_assert_str_eq(cfg->region, "eu-central-1");
	ck_assert_str_eq(cfg->auth_region, "us-east-1");
	ck_assert_str_eq(cfg->api_region, "us-west-2");
	ck_assert_str_eq(cfg->kiro_version, "0.9");
	ck_assert_str_eq(cfg->machine_id, "m");
	ck_assert_str_eq(cfg->system_version, "linux#6");
	ck_assert_str_eq(cfg->node_version, "20");
	ck_assert_str_eq(cfg->proxy_url, "socks5://p:1080");
	ck_assert_str_eq(cfg->proxy_username, "u");
	ck_assert_str_eq(cfg->proxy_password, "pw");
	ck_assert_int_eq(cfg->load_balancing_mode, LB_BALANCED);
	ck_assert_str_eq(cfg->count_tokens_api_url, "http://c");
	ck_assert_str_eq(cfg->count_tokens_api_key, "ck");
	ck_assert_str_eq(cfg->count_tokens_auth_type, "bearer");
	/* Relative paths are taken from the file's directory. */
	ck_assert_str_eq(cfg->state_dir, "/etc/kf/state");
	ck_assert_str_eq(cfg->credentials_file, "/abs/creds.json");
	ck_assert_str_eq(cfg->api_base_url, "http://a/{region}");
	ck_assert_str_eq(cfg->auth_base_url, "http://b");
	ck_assert_str_eq(cfg->oidc_base_url, "http://o");
	ck_assert_int_eq(cfg->sticky_seconds, 90);
	ck_assert_int_eq(cfg->rate_limits.min_interval_ms, 5);
	ck_assert_int_eq(cfg->rate_limits.per_account_rpm, 6);
	ck_assert_int_eq(cfg->rate_limits.global_rpm, 7);
	ck_assert_int_eq(cfg->max_request_bytes, 1000);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(cfg->history.max_image_msgs, 2);
	ck_assert_int_eq(cfg->history.max_payload_bytes, 600000);
	config_free(cfg);
}
END_TEST

START_TEST(config_defaults_are_the_real_hosts)
{
	struct config	*cfg;

	clear_env();
	cfg = parse_ok("{}", NULL);
	ck_assert_str_eq(cfg->region, "us-east-1");
	/* The runtime host by default; q. stays for Builder ID (§12). */
	ck_assert_str_eq(cfg->api_base_url, "https://runtime.{region}.kiro.dev");
	ck_assert_str_eq(cfg->legacy_api_base_url,
	    "https://q.{region}.amazonaws.com");
	ck_assert_int_eq(cfg->api_style, API_STYLE_PATH);
	ck_assert_int_eq(cfg->idc_api_host, API_HOST_LEGACY);
	ck_assert_str_eq(cfg->auth_base_url,
	    "https://prod.{region}.auth.desktop.kiro.dev");
	ck_assert_str_eq(cfg->oidc_base_url,
	    "https://oidc.{region}.amazonaws.com");
	ck_assert_str_eq(cfg->kiro_version, "0.11.107");
	ck_assert_int_eq(cfg->sticky_seconds, 60);
	ck_assert_int_eq(cfg->cooldown_max_seconds, 3600);
	ck_assert_int_eq(cfg->load_balancing_mode, LB_PRIORITY);
	ck_assert_int_eq(cfg->max_request_bytes, CONFIG_DEFAULT_MAX_REQUEST);
	ck_assert_ptr_nonnull(cfg->system_version);
	ck_assert_ptr_null(cfg->api_key);
	config_free(cfg);
}
END_TEST

START_TEST(config_api_host_and_style_keys)
{
	struct config	*cfg;
	char		*why;

	clear_env();
	/* One base URL named: every call goes there. */
	cfg = parse_ok("{\"apiBaseUrl\":\"http://m/\"}", NULL);
	ck_assert_str_eq(cfg->api_base_url, "http://m/");
	ck_assert_str_eq(cfg->legacy_api_base_url, "http://m/");
	config_free(cfg);
	cfg = parse_ok("{\"apiBaseUrl\":\"http://m/runtime\","
	    "\"legacyApiBaseUrl\":\"http://m/legacy\",\"apiStyle\":\"Target\","
	    "\"idcApiHost\":\"runtime\"}", NULL);
	ck_assert_str_eq(cfg->legacy_api_base_url, "http://m/legacy");
	ck_assert_int_eq(cfg->api_style, API_STYLE_TARGET);
	ck_assert_int_eq(cfg->idc_api_host, API_HOST_RUNTIME);
	config_free(cfg);
	why = parse_err("{\"apiStyle\":\"rpc\"}");
	ck_assert_ptr_nonnull(strstr(why, "\"apiStyle\""));
	ck_assert_ptr_nonnull(strstr(why, "\"target\""));
	free(why);
	why = parse_err("{\"idcApiHost\":\"q\"}");
	ck_assert_ptr_nonnull(strstr(why, "\"idcApiHost\""));
	free(why);
}
END_TEST

START_TEST(config_idle_refresh_hours)
{
	struct config	*cfg;
	char		*why;

	clear_env();
	cfg = parse_ok("{}", NULL);
	ck_assert_int_eq(cfg->idle_refresh_hours, 4);
	config_free(cfg);
	cfg = parse_ok("{\"idleRefreshHours\":0}", NULL);
	ck_assert_int_eq(cfg->idle_refresh_hours, 0);
	config_free(cfg);
	cfg = parse_ok("{\"idleRefreshHours\":2}", NULL);
	ck_assert_int_eq(cfg->idle_refresh_hours, 2);
	config_free(cfg);
	why = parse_err("{\"idleRefreshHours\":-1}");
	ck_assert_ptr_nonnull(strstr(why, "\"idleRefreshHours\""));
	free(why);
}
END_TEST

START_TEST(config_wrong_type_names_the_key)
{
	char	*why;

	why = parse_err("{\"stickySeconds\":\"sixty\"}");
	ck_assert_ptr_nonnull(strstr(why, "\"stickySeconds\""));
	ck_assert_ptr_nonnull(strstr(why, "string"));
	free(why);
	why = parse_err("{\"apiKey\":5}");
	ck_assert_ptr_nonnull(strstr(why, "\"apiKey\""));
	free(why);
	why = parse_err("{\"rateLimits\":{\"globalRpm\":true}}");
	ck_assert_ptr_nonnull(strstr(why, "\"rateLimits.globalRpm\""));
	free(why);
	why = parse_err("{\"rateLimits\":[]}");
	ck_assert_ptr_nonnull(strstr(why, "\"rateLimits\""));
	free(why);
	why = parse_err("{\"loadBalancingMode\":\"random\"}");
	ck_assert_ptr_nonnull(strstr(why, "loadBalancingMode"));
	free(why);
	why = parse_err("{\"maxRequestBytes\":0}");
	ck_assert_ptr_nonnull(strstr(why, "maxRequestBytes"));
	free(why);
	why = parse_err("{\"cooldownMaxSeconds\":59}");
	ck_assert_ptr_nonnull(strstr(why, "cooldownMaxSeconds"));
	free(why);
	why = parse_err("{\"stickySeconds\":-1}");
	ck_assert_ptr_nonnull(strstr(why, "stickySeconds"));
	free(why);
	why = parse_err("{\"logLevel\":\"loud\"}");
	ck_assert_ptr_nonnull(strstr(why, "logLevel"));
	free(why);
	why = parse_err("[1,2]");
	ck_assert_ptr_nonnull(strstr(why, "object"));
	free(why);
	why = parse_err("{\"apiKey\":");
	ck_assert_ptr_nonnull(strstr(why, "JSON"));
	free(why);
}
END_TEST

START_TEST(config_model_map_keeps_order_and_checks_targets)
{
	struct config	*cfg;
	char		*why;

	cfg = parse_ok("{\"modelMap\":{\"gpt-4o\":\"claude-opus-4.6\","
	    "\"team-*\":\"CLAUDE-HAIKU-4.5\",\"a\":\"auto\"}}", NULL);
	ck_assert_uint_eq(cfg->n_model_map, 3);
	ck_assert_str_eq(cfg->model_map[0].pattern, "gpt-4o");
	ck_assert_str_eq(cfg->model_map[0].target, "claude-opus-4.6");
	ck_assert_str_eq(cfg->model_map[1].pattern, "team-*");
	/* Targets are stored as the catalogue spells them. */
	ck_assert_str_eq(cfg->model_map[1].target, "claude-haiku-4.5");
	ck_assert_str_eq(cfg->model_map[2].target, "auto");
	config_free(cfg);
	cfg = parse_ok("{}", NULL);
	ck_assert_uint_eq(cfg->n_model_map, 0);
	config_free(cfg);

	why = parse_err("{\"modelMap\":{\"gpt-4o\":\"gpt-5\"}}");
	ck_assert_ptr_nonnull(strstr(why, "modelMap.gpt-4o"));
	ck_assert_ptr_nonnull(strstr(why, "claude-sonnet-4.5"));
	free(why);
	why = parse_err("{\"modelMap\":{\"x\":\"auto\",\"y\":3}}");
	ck_assert_ptr_nonnull(strstr(why, "modelMap.y"));
	free(why);
	why = parse_err("{\"modelMap\":[\"gpt-4o\"]}");
	ck_assert_ptr_nonnull(strstr(why, "modelMap"));
	free(why);
}
END_TEST

/* promptCaching: on by default (kiro-fcgi(8) says why), off if asked. */
START_TEST(config_prompt_caching_switch)
{
	struct config	*cfg;
	char		*why;

	clear_env();
	cfg = parse_ok("{}", NULL);
	ck_assert_int_eq(cfg->prompt_caching, 1);
	config_free(cfg);
	cfg = parse_ok("{\"promptCaching\":false}", NULL);
	ck_assert_int_eq(cfg->prompt_caching, 0);
	config_free(cfg);
	cfg = parse_ok("{\"promptCaching\":true}", NULL);
	ck_assert_int_eq(cfg->prompt_caching, 1);
	config_free(cfg);
	why = parse_err("{\"promptCaching\":\"no\"}");
	ck_assert_ptr_nonnull(strstr(why, "promptCaching"));
	free(why);
}
END_TEST

/* toolContinuations: 2 by default, 0 allowed, never negative. */
START_TEST(config_tool_continuations)
{
	struct config	*cfg;
	char		*why;

	clear_env();
	cfg = parse_ok("{}", NULL);
	ck_assert_int_eq(cfg->tool_continuations, 2);
	config_free(cfg);
	cfg = parse_ok("{\"toolContinuations\":0}", NULL);
	ck_assert_int_eq(cfg->tool_continuations, 0);
	config_free(cfg);
	cfg = parse_ok("{\"toolContinuations\":5}", NULL);
	ck_assert_int_eq(cfg->tool_continuations, 5);
	config_free(cfg);
	why = parse_err("{\"toolContinuations\":-1}");
	ck_assert_ptr_nonnull(strstr(why, "toolContinuations"));
	free(why);
}
END_TEST

/* history.onOverflow: error by default; a bad value names the key. */
START_TEST(config_history_on_overflow)
{
	struct config	*cfg;
	char		*why;

	clear_env();
	cfg = parse_ok("{}", NULL);
	ck_assert_int_eq(cfg->history.on_overflow, OVERFLOW_ERROR);
	config_free(cfg);
	cfg = parse_ok("{\"history\":{\"onOverflow\":\"truncate\"}}", NULL);
	ck_assert_int_eq(cfg->history.on_overflow, OVERFLOW_TRUNCATE);
	config_free(cfg);
	cfg = parse_ok("{\"history\":{\"onOverflow\":\"Summarize\"}}",
	    NULL);
	ck_assert_int_eq(cfg->history.on_overflow, OVERFLOW_SUMMARIZE);
	ck_assert_str_eq(config_overflow_name(cfg->history.on_overflow),
	    "summarize");
	config_free(cfg);
	cfg = parse_ok("{\"history\":{\"onOverflow\":null}}", NULL);
	ck_assert_int_eq(cfg->history.on_overflow, OVERFLOW_ERROR);
	config_free(cfg);
	why = parse_err("{\"history\":{\"onOverflow\":\"drop\"}}");
	ck_assert_msg(strstr(why, "\"history.onOverflow\" must be \"error\", "
	    "\"truncate\" or \"summarize\"") != NULL, "%s", why);
	free(why);
	why = parse_err("{\"history\":{\"onOverflow\":1}}");
	ck_assert_msg(strstr(why, "history.onOverflow") != NULL, "%s", why);
	free(why);
}
END_TEST

START_TEST(config_image_fetch_allow_private)
{
	struct config	*cfg;
	char		*why, *warnings = NULL;

	clear_env();
	/* Off unless the operator says so. */
	cfg = parse_ok("{}", NULL);
	ck_assert_int_eq(cfg->image_fetch.allow_private, 0);
	config_free(cfg);
	cfg = parse_ok("{\"imageFetch\":{}}", NULL);
	ck_assert_int_eq(cfg->image_fetch.allow_private, 0);
	config_free(cfg);
	cfg = parse_ok("{\"imageFetch\":{\"allowPrivate\":true}}", NULL);
	ck_assert_int_eq(cfg->image_fetch.allow_private, 1);
	config_free(cfg);
	cfg = parse_ok("{\"imageFetch\":{\"allowPrivate\":false}}", NULL);
	ck_assert_int_eq(cfg->image_fetch.allow_private, 0);
	config_free(cfg);
	cfg = parse_ok("{\"imageFetch\":{\"allowPrivate\":null}}", NULL);
	ck_assert_int_eq(cfg->image_fetch.allow_private, 0);
	config_free(cfg);

	/* Truthy look-alikes are refused, naming the nested key. */
	why = parse_err("{\"imageFetch\":{\"allowPrivate\":\"yes\"}}");
	ck_assert_msg(strstr(why, "\"imageFetch.allowPrivate\" must be true "
	    "or false, not string") != NULL, "%s", why);
	free(why);
	why = parse_err("{\"imageFetch\":{\"allowPrivate\":1}}");
	ck_assert_ptr_nonnull(strstr(why, "imageFetch.allowPrivate"));
	free(why);
	why = parse_err("{\"imageFetch\":true}");
	ck_assert_ptr_nonnull(strstr(why, "\"imageFetch\" must be an object"));
	free(why);
	cfg = parse_ok("{\"imageFetch\":{\"allowPrivat\":true}}", &warnings);
	ck_assert_int_eq(cfg->image_fetch.allow_private, 0);
	ck_assert_ptr_nonnull(strstr(warnings, "\"allowPrivat\""));
	free(warnings);
	config_free(cfg);
}
END_TEST

START_TEST(config_unknown_keys_are_warnings)
{
	struct config	*cfg;
	char		*warnings = NULL;

	clear_env();
	cfg = parse_ok("{\"apiKee\":\"x\",\"port\":8990,"
	    "\"rateLimits\":{\"burst\":1}}", &warnings);
	ck_assert_ptr_nonnull(warnings);
	ck_assert_ptr_nonnull(strstr(warnings, "\"apiKee\""));
	ck_assert_ptr_nonnull(strstr(warnings, "\"port\""));
	ck_assert_ptr_nonnull(strstr(warnings, "\"burst\""));
	ck_assert_ptr_null(cfg->api_key);
	free(warnings);
	config_free(cfg);
}
END_TEST

START_TEST(config_environment_overrides_the_file)
{
	struct config	*cfg;

	clear_env();
	setenv("API_KEY", "from-env", 1);
	setenv("REGION", "ap-northeast-1", 1);
	setenv("REFRESH_TOKEN", "rt", 1);
	setenv("AUTH_METHOD", "idc", 1);
	setenv("CLIENT_ID", "cid", 1);
	setenv("CLIENT_SECRET", "cs", 1);
	setenv("EXPIRES_AT", "2030-01-01T00:00:00Z", 1);
	setenv("CREDENTIALS_JSON", "[]", 1);
	setenv("KIRO_ACCESS_TOKEN", "at", 1);
	setenv("KIRO_REFRESH_TOKEN", "krt", 1);
	setenv("ADMIN_API_KEY", "adm", 1);
	cfg = parse_ok("{\"apiKey\":\"from-file\",\"region\":\"us-east-1\"}",
	    NULL);
	ck_assert_str_eq(cfg->api_key, "from-env");
	ck_assert_str_eq(cfg->admin_api_key, "adm");
	ck_assert_str_eq(cfg->region, "ap-northeast-1");
	ck_assert_str_eq(cfg->env_refresh_token, "rt");
	ck_assert_str_eq(cfg->env_auth_method, "idc");
	ck_assert_str_eq(cfg->env_client_id, "cid");
	ck_assert_str_eq(cfg->env_client_secret, "cs");
	ck_assert_str_eq(cfg->env_expires_at, "2030-01-01T00:00:00Z");
	ck_assert_str_eq(cfg->env_credentials_json, "[]");
	ck_assert_str_eq(cfg->env_access_token, "at");
	ck_assert_str_eq(cfg->env_kiro_refresh_token, "krt");
	config_free(cfg);
	clear_env();
}
END_TEST

START_TEST(config_load_finds_the_file)
{
	struct config	*cfg = NULL;
	char		*dir, *path, *why = NULL;

	clear_env();
	dir = tu_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/c.json", dir), -1);
	tu_write_file(path, "{\"apiKey\":\"file-key\",\"stateDir\":\"st\"}");
	/* -c FILE */
	ck_assert_int_eq(config_load(path, &cfg, NULL, &why), KF_OK);
	ck_assert_str_eq(cfg->api_key, "file-key");
	ck_assert_str_eq(cfg->path, path);
	ck_assert_int_eq(strncmp(cfg->state_dir, dir, strlen(dir)), 0);
	config_free(cfg);
	/* $KIRO_FCGI_CONFIG */
	setenv("KIRO_FCGI_CONFIG", path, 1);
	ck_assert_int_eq(config_load(NULL, &cfg, NULL, &why), KF_OK);
	ck_assert_str_eq(cfg->api_key, "file-key");
	config_free(cfg);
	unsetenv("KIRO_FCGI_CONFIG");
	unlink(path);
	tu_rmrf(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(config_unreadable_file_names_the_path)
{
	struct config	*cfg = NULL;
	char		*why = NULL;

	clear_env();
	ck_assert_int_eq(config_load("/nonexistent/kiro/config.json", &cfg,
	    NULL, &why), KF_ECONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(strstr(why, "/nonexistent/kiro/config.json"));
	free(why);
	why = NULL;
	/* A directory is not a configuration file either. */
	setenv("KIRO_FCGI_CONFIG", "/", 1);
	ck_assert_int_eq(config_load(NULL, &cfg, NULL, &why), KF_ECONFIG);
	ck_assert_ptr_nonnull(why);
	free(why);
	unsetenv("KIRO_FCGI_CONFIG");
}
END_TEST

START_TEST(config_region_valid_accepts_only_aws_names)
{
	static const char *const good[] = {
		"us-east-1", "eu-central-1", "us-gov-west-1", "ap-southeast-2",
		"cn-north-1", "il-central-1", NULL
	};
	static const char *const bad[] = {
		"", "us", "us-east", "useast-1", "us-east-1a", "US-EAST-1",
		"us--east-1", "us-east-", "us-1", "-us-east-1", "us-east-1.",
		"evil.example/x?", "us-east-1.evil.example",
		"us-east-1/x", "us-east-1#", "us-east-1 ", "u\xc3\xa9-east-1",
		"us-eastttttttttttttttttttttttttt-1", NULL
	};
	char	*why = NULL;
	size_t	 i;

	for (i = 0; good[i] != NULL; i++)
		ck_assert_msg(config_region_valid(good[i]), "%s", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(!config_region_valid(bad[i]), "%s", bad[i]);
	ck_assert(!config_region_valid(NULL));
	ck_assert_int_eq(config_region_check("apiRegion", NULL, &why), KF_OK);
	ck_assert_int_eq(config_region_check("apiRegion", "evil.example/x?",
	    &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "apiRegion"));
	ck_assert_ptr_null(strstr(why, "evil"));
	free(why);
}
END_TEST

START_TEST(config_bad_region_names_the_key)
{
	static const char *const keys[] = {
		"region", "authRegion", "apiRegion", NULL
	};
	char	 json[128], want[64], *why;
	size_t	 i;

	clear_env();
	for (i = 0; keys[i] != NULL; i++) {
		snprintf(json, sizeof(json), "{\"%s\":\"evil.example/x?\"}",
		    keys[i]);
		why = parse_err(json);
		snprintf(want, sizeof(want), "\"%s\"", keys[i]);
		ck_assert_msg(strstr(why, want) != NULL, "%s", why);
		free(why);
	}
}
END_TEST

START_TEST(config_bad_region_in_environment_is_refused)
{
	struct config	*cfg = NULL;
	char		*why = NULL;

	clear_env();
	setenv("REGION", "evil.example/x?", 1);
	ck_assert_int_eq(config_parse("{}", 2, "/etc/kf", &cfg, NULL, &why),
	    KF_ECONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(strstr(why, "REGION"));
	free(why);
	why = NULL;
	/* No file at all (the default path is absent): still refused. */
	ck_assert_int_eq(config_load(NULL, &cfg, NULL, &why), KF_ECONFIG);
	ck_assert_ptr_nonnull(strstr(why, "REGION"));
	free(why);
	setenv("REGION", "eu-west-2", 1);
	cfg = parse_ok("{}", NULL);
	ck_assert_str_eq(cfg->region, "eu-west-2");
	config_free(cfg);
	clear_env();
}
END_TEST

START_TEST(config_url_substitutes_region_and_keeps_prefix)
{
	char	*u;

	u = config_url("https://q.{region}.amazonaws.com", "eu-central-1",
	    "/generateAssistantResponse");
	ck_assert_str_eq(u, "https://q.eu-central-1.amazonaws.com"
	    "/generateAssistantResponse");
	free(u);
	u = config_url("http://127.0.0.1:9000/api/", "us-east-1", "/token");
	ck_assert_str_eq(u, "http://127.0.0.1:9000/api/token");
	free(u);
	u = config_url("http://h/{region}/{region}", "r", "/x");
	ck_assert_str_eq(u, "http://h/r/r/x");
	free(u);
}
END_TEST

START_TEST(config_metrics_key)
{
	struct config	*cfg;
	char		*why = NULL;

	cfg = parse_ok("{}", NULL);
	ck_assert_ptr_null(cfg->metrics_key);
	config_free(cfg);
	cfg = parse_ok("{\"metricsKey\":\"scrape-me\"}", NULL);
	ck_assert_str_eq(cfg->metrics_key, "scrape-me");
	config_free(cfg);
	setenv("METRICS_KEY", "from-env", 1);
	cfg = parse_ok("{\"metricsKey\":\"scrape-me\"}", NULL);
	unsetenv("METRICS_KEY");
	ck_assert_str_eq(cfg->metrics_key, "from-env");
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(config_parse("{\"metricsKey\":1}", 16, "/etc/kf",
	    &cfg, NULL, &why), KF_ECONFIG);
	ck_assert_ptr_nonnull(strstr(why, "metricsKey"));
	free(why);
	why = NULL;
	cfg = parse_ok("{}", NULL);
	ck_assert_int_eq(cfg->metrics_enabled, 1);
	config_free(cfg);
	cfg = parse_ok("{\"metricsEnabled\":false}", NULL);
	ck_assert_int_eq(cfg->metrics_enabled, 0);
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(config_parse("{\"metricsEnabled\":\"no\"}", 23,
	    "/etc/kf", &cfg, NULL, &why), KF_ECONFIG);
	ck_assert_ptr_nonnull(strstr(why, "metricsEnabled"));
	free(why);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, config_every_design_key_is_read);
	tcase_add_test(tc, config_defaults_are_the_real_hosts);
	tcase_add_test(tc, config_api_host_and_style_keys);
	tcase_add_test(tc, config_wrong_type_names_the_key);
	tcase_add_test(tc, config_unknown_keys_are_warnings);
	tcase_add_test(tc, config_image_fetch_allow_private);
	tcase_add_test(tc, config_prompt_caching_switch);
	tcase_add_test(tc, config_tool_continuations);
	tcase_add_test(tc, config_environment_overrides_the_file);
	tcase_add_test(tc, config_load_finds_the_file);
	tcase_add_test(tc, config_unreadable_file_names_the_path);
	tcase_add_test(tc, config_url_substitutes_region_and_keeps_prefix);
	tcase_add_test(tc, config_region_valid_accepts_only_aws_names);
	tcase_add_test(tc, config_bad_region_names_the_key);
	tcase_add_test(tc, config_bad_region_in_environment_is_refused);
	tcase_add_test(tc, config_model_map_keeps_order_and_checks_targets);
	tcase_add_test(tc, config_idle_refresh_hours);
	tcase_add_test(tc, config_metrics_key);
	tcase_add_test(tc, config_history_on_overflow);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
