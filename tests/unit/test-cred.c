/* test-cred.c: credential formats (kiro.rs, Kiro IDE), checks, regions, machineId. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "cred.h"
#include "digest.h"
#include "json.h"
#include "testutil.h"
#include "xmalloc.h"

/* A refresh token as long as real ones (they are opaque strings). */
#define RT_A "aorAAAAAGnlongrefreshtokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1"
#define RT_B "aorBBBBBGnlongrefreshtokenBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" \
	"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2"

static struct cred *
import_ok(const char *json, size_t *n)
{
	struct cred	*arr = NULL;
	char		*why = NULL;

	ck_assert_msg(cred_parse_import(json, strlen(json), &arr, n, &why) ==
	    KF_OK, "import failed: %s", why);
	free(why);
	return arr;
}

static char *
import_err(const char *json)
{
	struct cred	*arr = NULL;
	size_t		 n = 99;
	char		*why = NULL;

	ck_assert_int_eq(cred_parse_import(json, strlen(json), &arr, &n,
	    &why), KF_EINVAL);
	ck_assert_ptr_null(arr);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(why);
	return why;
}

START_TEST(cred_single_object_social)
{
	struct cred	*c;
	size_t		 n;

	c = import_ok("{\"refreshToken\":\"" RT_A "\",\"expiresAt\":"
	    "\"2025-12-31T02:32:45.144Z\",\"authMethod\":\"social\","
	    "\"machineId\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaa\",\"profileArn\":\"arn:aws:codewhisperer:us-east-1:"
	    "1:profile/X\",\"email\":\"a@b\",\"endpoint\":\"ide\"}", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(c[0].auth_method, CRED_AUTH_SOCIAL);
	ck_assert_str_eq(c[0].refresh_token, RT_A);
	ck_assert_int_eq((long)c[0].expires_at, 1767148365L);
	ck_assert_str_eq(c[0].profile_arn,
	    "arn:aws:codewhisperer:us-east-1:1:profile/X");
	ck_assert_str_eq(c[0].email, "a@b");
	cred_free_array(c, n);
}
END_TEST

START_TEST(cred_array_with_every_field)
{
	struct cred	*c;
	size_t		 n;

	c = import_ok("[{\"refreshToken\":\"" RT_A "\",\"authMethod\":"
	    "\"social\",\"priority\":0},{\"refreshToken\":\"" RT_B "\","
	    "\"authMethod\":\"idc\",\"clientId\":\"cid\",\"clientSecret\":"
	    "\"sec\",\"region\":\"us-east-2\",\"authRegion\":\"us-east-1\","
	    "\"apiRegion\":\"eu-central-1\",\"priority\":3,\"disabled\":true,"
	    "\"proxyUrl\":\"socks5://127.0.0.1:1080\",\"proxyUsername\":\"u\","
	    "\"proxyPassword\":\"p\",\"accessToken\":\"aoa1\","
	    "\"id\":7}]", &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(c[1].auth_method, CRED_AUTH_IDC);
	ck_assert_str_eq(c[1].client_id, "cid");
	ck_assert_str_eq(c[1].client_secret, "sec");
	ck_assert_str_eq(c[1].region, "us-east-2");
	ck_assert_str_eq(c[1].auth_region, "us-east-1");
	ck_assert_str_eq(c[1].api_region, "eu-central-1");
	ck_assert_int_eq(c[1].priority, 3);
	ck_assert_int_eq(c[1].disabled, 1);
	ck_assert_str_eq(c[1].proxy_url, "socks5://127.0.0.1:1080");
	ck_assert_str_eq(c[1].proxy_username, "u");
	ck_assert_str_eq(c[1].proxy_password, "p");
	ck_assert_str_eq(c[1].access_token, "aoa1");
	/* The store assigns ids; the file's are not kept. */
	ck_assert_int_eq(c[1].id, 0);
	cred_free_array(c, n);
}
END_TEST

START_TEST(cred_builder_id_and_iam_read_as_idc)
{
	struct cred	*c;
	size_t		 n;

	c = import_ok("[{\"refreshToken\":\"" RT_A "\",\"authMethod\":"
	    "\"builder-id\",\"clientId\":\"c\",\"clientSecret\":\"s\"},"
	    "{\"refreshToken\":\"" RT_B "\",\"authMethod\":\"IAM\","
	    "\"clientId\":\"c\",\"clientSecret\":\"s\"}]", &n);
	ck_assert_int_eq(c[0].auth_method, CRED_AUTH_IDC);
	ck_assert_int_eq(c[1].auth_method, CRED_AUTH_IDC);
	cred_free_array(c, n);
	/* No authMethod: idc when both client fields are there (kiro.rs). */
	c = import_ok("{\"refreshToken\":\"" RT_A "\",\"clientId\":\"c\","
	    "\"clientSecret\":\"s\"}", &n);
	ck_assert_int_eq(c[0].auth_method, CRED_AUTH_IDC);
	cred_free_array(c, n);
	c = import_ok("{\"refreshToken\":\"" RT_A "\"}", &n);
	ck_assert_int_eq(c[0].auth_method, CRED_AUTH_SOCIAL);
	cred_free_array(c, n);
	c = import_ok("{\"kiroApiKey\":\"ksk_x\",\"authMethod\":\"api_key\"}",
	    &n);
	ck_assert_int_eq(c[0].auth_method, CRED_AUTH_API_KEY);
	cred_free_array(c, n);
}
END_TEST

START_TEST(cred_idc_never_keeps_a_profile_and_routes_are_checked)
{
	struct cred	*c;
	size_t		 n;
	char		*why;

	/* kiro.rs PR #168: a profile with a Builder ID token is refused. */
	c = import_ok("[{\"refreshToken\":\"" RT_A "\",\"authMethod\":"
	    "\"idc\",\"clientId\":\"c\",\"clientSecret\":\"s\","
	    "\"profileArn\":\"arn:aws:codewhisperer:us-east-1:1:profile/X\"},"
	    "{\"refreshToken\":\"" RT_B "\",\"profileArn\":\"arn:p\","
	    "\"apiHost\":\"legacy\",\"apiStyle\":\"target\"}]", &n);
	ck_assert_ptr_null(c[0].profile_arn);
	ck_assert_str_eq(c[1].profile_arn, "arn:p");
	ck_assert_str_eq(c[1].api_host, "legacy");
	ck_assert_str_eq(c[1].api_style, "target");
	cred_free_array(c, n);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"apiStyle\":"
	    "\"rest\"}");
	ck_assert_ptr_nonnull(strstr(why, "apiStyle"));
	free(why);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"apiHost\":"
	    "\"q\"}");
	ck_assert_ptr_nonnull(strstr(why, "apiHost"));
	free(why);
}
END_TEST

START_TEST(cred_truncated_refresh_tokens_are_refused)
{
	char	*why;

	why = import_err("{\"refreshToken\":\"aorAAAAA...placeholder\"}");
	ck_assert_ptr_nonnull(strstr(why, "truncated"));
	ck_assert_ptr_nonnull(strstr(why, "..."));
	ck_assert_ptr_null(strstr(why, "placeholder"));	/* no secret */
	free(why);
	why = import_err("{\"refreshToken\":\"aorShortToken\"}");
	ck_assert_ptr_nonnull(strstr(why, "under 100 characters"));
	free(why);
	/* In an array the entry is named. */
	why = import_err("[{\"refreshToken\":\"" RT_A "\"},"
	    "{\"refreshToken\":\"xxxxxxxxxxxxxxxxxxxx\"}]");
	ck_assert_ptr_nonnull(strstr(why, "entry 2"));
	free(why);
}
END_TEST

START_TEST(cred_bad_input_is_explained)
{
	char	*why;

	why = import_err("");
	free(why);
	why = import_err("[]");
	ck_assert_ptr_nonnull(strstr(why, "empty"));
	free(why);
	why = import_err("\"token\"");
	ck_assert_ptr_nonnull(strstr(why, "object"));
	free(why);
	why = import_err("{\"refreshToken\":42}");
	ck_assert_ptr_nonnull(strstr(why, "refreshToken"));
	free(why);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"priority\":\"x\"}");
	ck_assert_ptr_nonnull(strstr(why, "priority"));
	free(why);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"authMethod\":"
	    "\"password\"}");
	ck_assert_ptr_nonnull(strstr(why, "authMethod"));
	free(why);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"authMethod\":"
	    "\"idc\"}");
	ck_assert_ptr_nonnull(strstr(why, "clientId"));
	free(why);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"expiresAt\":"
	    "\"tomorrow\"}");
	ck_assert_ptr_nonnull(strstr(why, "expiresAt"));
	free(why);
	why = import_err("{\"authMethod\":\"api_key\"}");
	ck_assert_ptr_nonnull(strstr(why, "kiroApiKey"));
	free(why);
	why = import_err("{\"email\":\"x\"}");
	ck_assert_ptr_nonnull(strstr(why, "refreshToken"));
	free(why);
	why = import_err("{\"refreshToken\":\"" RT_A "\",\"machineId\":"
	    "\"not-hex\"}");
	ck_assert_ptr_nonnull(strstr(why, "machineId"));
	free(why);
}
END_TEST

START_TEST(cred_public_json_has_no_secrets)
{
	struct cred	*c;
	json_object	*o;
	const char	*text;
	size_t		 n;

	c = import_ok("{\"refreshToken\":\"" RT_A "\",\"accessToken\":"
	    "\"aoaSECRETACCESS0123456789\",\"authMethod\":\"idc\",\"clientId\":"
	    "\"cid\",\"clientSecret\":\"SECRETCLIENT0123456789\","
	    "\"proxyUrl\":\"http://proxy:3128\",\"proxyPassword\":"
	    "\"SECRETPROXY\"}", &n);
	o = cred_to_json(&c[0], CRED_JSON_PUBLIC);
	text = json_object_to_json_string(o);
	ck_assert_ptr_null(strstr(text, RT_A));
	ck_assert_ptr_null(strstr(text, "SECRETACCESS"));
	ck_assert_ptr_null(strstr(text, "SECRETCLIENT"));
	ck_assert_ptr_null(strstr(text, "SECRETPROXY"));
	ck_assert_ptr_nonnull(strstr(text, "aorA..."));
	ck_assert_ptr_nonnull(strstr(text, "identityHash"));
	json_object_put(o);
	/* The store form keeps everything. */
	o = cred_to_json(&c[0], CRED_JSON_STORE);
	text = json_object_to_json_string(o);
	ck_assert_ptr_nonnull(strstr(text, RT_A));
	ck_assert_ptr_nonnull(strstr(text, "SECRETCLIENT"));
	json_object_put(o);
	cred_free_array(c, n);
}
END_TEST

START_TEST(cred_round_trips_through_store_json)
{
	struct cred	*c, back;
	json_object	*o;
	size_t		 n;
	char		*why = NULL;

	c = import_ok("{\"refreshToken\":\"" RT_A "\",\"expiresAt\":"
	    "\"2030-05-06T07:08:09Z\",\"priority\":4,\"region\":\"eu-west-1\","
	    "\"email\":\"e\"}", &n);
	c[0].id = 12;
	c[0].source = xstrdup("file");
	c[0].source_path = xstrdup("/x/creds.json");
	o = cred_to_json(&c[0], CRED_JSON_STORE);
	ck_assert_int_eq(cred_from_json(o, &back, &why), KF_OK);
	ck_assert_int_eq(back.id, 12);
	ck_assert_str_eq(back.refresh_token, RT_A);
	ck_assert_int_eq(back.expires_at, c[0].expires_at);
	ck_assert_int_eq(back.priority, 4);
	ck_assert_str_eq(back.source, "file");
	ck_assert_str_eq(back.source_path, "/x/creds.json");
	cred_free(&back);
	json_object_put(o);
	cred_free_array(c, n);
}
END_TEST

/* The last refresh is ours: kept in the store, shown, never exported. */
START_TEST(cred_refreshed_at_is_stored_not_exported)
{
	struct cred	*c, back;
	json_object	*o, *v;
	size_t		 n;
	char		*why = NULL;

	c = import_ok("{\"refreshToken\":\"" RT_A "\",\"refreshedAt\":"
	    "\"2030-05-06T07:08:09Z\"}", &n);
	ck_assert_int_eq(c[0].refreshed_at, 1904281689);
	o = cred_to_json(&c[0], CRED_JSON_STORE);
	ck_assert_int_eq(cred_from_json(o, &back, &why), KF_OK);
	ck_assert_int_eq(back.refreshed_at, c[0].refreshed_at);
	cred_free(&back);
	json_object_put(o);
	o = cred_to_json(&c[0], CRED_JSON_PUBLIC);
	ck_assert(json_object_object_get_ex(o, "refreshedAt", &v));
	ck_assert_str_eq(json_object_get_string(v), "2030-05-06T07:08:09Z");
	json_object_put(o);
	o = cred_to_json(&c[0], CRED_JSON_EXPORT);
	ck_assert(!json_object_object_get_ex(o, "refreshedAt", NULL));
	json_object_put(o);
	free(import_err("{\"refreshToken\":\"" RT_A "\",\"refreshedAt\":"
	    "\"yesterday\"}"));
	cred_free_array(c, n);
}
END_TEST

START_TEST(cred_regions_follow_the_lookup_order)
{
	static const char	 json[] = "{\"region\":\"eu-west-1\"}";
	struct config		*cfg = NULL;
	struct cred		 c;

	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	cred_init(&c);
	ck_assert_str_eq(cred_auth_region(&c, cfg), "eu-west-1");
	ck_assert_str_eq(cred_api_region(&c, cfg), "eu-west-1");
	cfg->auth_region = xstrdup("eu-west-2");
	cfg->api_region = xstrdup("eu-west-3");
	ck_assert_str_eq(cred_auth_region(&c, cfg), "eu-west-2");
	ck_assert_str_eq(cred_api_region(&c, cfg), "eu-west-3");
	c.region = xstrdup("ap-south-1");
	/* credential region beats config authRegion, not apiRegion (§1) */
	ck_assert_str_eq(cred_auth_region(&c, cfg), "ap-south-1");
	ck_assert_str_eq(cred_api_region(&c, cfg), "eu-west-3");
	c.auth_region = xstrdup("ap-south-2");
	c.api_region = xstrdup("ap-east-1");
	ck_assert_str_eq(cred_auth_region(&c, cfg), "ap-south-2");
	ck_assert_str_eq(cred_api_region(&c, cfg), "ap-east-1");
	cred_free(&c);
	config_free(cfg);
}
END_TEST

START_TEST(cred_import_refuses_a_region_that_is_not_aws)
{
	static const char *const keys[] = {
		"region", "authRegion", "apiRegion", NULL
	};
	struct cred	 c;
	char		 json[512], *why;
	size_t		 i;

	for (i = 0; keys[i] != NULL; i++) {
		snprintf(json, sizeof(json), "[{\"refreshToken\":\"" RT_A
		    "\"},{\"refreshToken\":\"" RT_B "\",\"%s\":"
		    "\"evil.example/x?\"}]", keys[i]);
		why = import_err(json);
		ck_assert_msg(strstr(why, "entry 2") != NULL &&
		    strstr(why, keys[i]) != NULL, "%s", why);
		ck_assert_ptr_null(strstr(why, "evil"));
		free(why);
	}
	/* Credentials made without JSON (kiroctl, environment) too. */
	cred_init(&c);
	c.refresh_token = xstrdup(RT_A);
	c.api_region = xstrdup("us-east-1.evil.example");
	why = NULL;
	ck_assert_int_eq(cred_validate(&c, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "apiRegion"));
	free(why);
	cred_free(&c);
}
END_TEST

START_TEST(cred_stored_bad_region_never_reaches_a_host_name)
{
	static const char	 json[] = "{\"region\":\"eu-west-1\"}";
	struct config		*cfg = NULL;
	struct cred		 c;

	/* A record imported before regions were checked. */
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	cred_init(&c);
	c.region = xstrdup("evil.example/x?");
	c.auth_region = xstrdup("evil.example/y?");
	c.api_region = xstrdup("evil.example/z?");
	ck_assert_str_eq(cred_auth_region(&c, cfg), "eu-west-1");
	ck_assert_str_eq(cred_api_region(&c, cfg), "eu-west-1");
	cred_free(&c);
	config_free(cfg);
}
END_TEST

/* The per-process cache of derived ids: a rotated token derives afresh. */
START_TEST(cred_machine_id_follows_rotation)
{
	struct cred	 c;
	char		 id[65], expect[65], name[32];
	int		 i;

	cred_init(&c);
	c.refresh_token = xstrdup("rt-before");
	cred_machine_id(&c, NULL, id);
	cred_machine_id(&c, NULL, id);
	sha256_hex("KotlinNativeAPI/rt-before", 25, expect);
	ck_assert_str_eq(id, expect);
	free(c.refresh_token);
	c.refresh_token = xstrdup("rt-after");
	cred_machine_id(&c, NULL, id);
	sha256_hex("KotlinNativeAPI/rt-after", 24, expect);
	ck_assert_str_eq(id, expect);
	/* The same text as an API key has its own prefix. */
	c.auth_method = CRED_AUTH_API_KEY;
	c.kiro_api_key = xstrdup("rt-after");
	cred_machine_id(&c, NULL, id);
	sha256_hex("KiroAPIKey/rt-after", 19, expect);
	ck_assert_str_eq(id, expect);
	/* More secrets than the cache holds: each still gets its own. */
	c.auth_method = CRED_AUTH_SOCIAL;
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "rt-%d", i % 20);
		free(c.refresh_token);
		c.refresh_token = xstrdup(name);
		cred_machine_id(&c, NULL, id);
		snprintf(name, sizeof(name), "KotlinNativeAPI/rt-%d", i % 20);
		sha256_hex(name, strlen(name), expect);
		ck_assert_str_eq(id, expect);
	}
	cred_free(&c);
}
END_TEST

START_TEST(cred_machine_id_rules)
{
	struct config	*cfg = NULL;
	struct cred	 c;
	char		 id[65], expect[65];

	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, NULL, NULL), KF_OK);
	cred_init(&c);
	/* 4: sha256("KotlinNativeAPI/" + refresh token) */
	c.refresh_token = xstrdup("rt-value");
	cred_machine_id(&c, cfg, id);
	sha256_hex("KotlinNativeAPI/rt-value", 24, expect);
	ck_assert_str_eq(id, expect);
	/* 3: API keys */
	c.auth_method = CRED_AUTH_API_KEY;
	c.kiro_api_key = xstrdup("ksk_1");
	cred_machine_id(&c, cfg, id);
	sha256_hex("KiroAPIKey/ksk_1", 16, expect);
	ck_assert_str_eq(id, expect);
	/* 2: config, a UUID doubled */
	cfg->machine_id = xstrdup("123E4567-e89b-12d3-a456-426614174000");
	cred_machine_id(&c, cfg, id);
	ck_assert_str_eq(id, "123e4567e89b12d3a456426614174000"
	    "123e4567e89b12d3a456426614174000");
	/* 1: the credential's own, 64 hex as is */
	c.machine_id = xstrdup("ABCDEF0123456789abcdef0123456789"
	    "abcdef0123456789abcdef0123456789");
	cred_machine_id(&c, cfg, id);
	ck_assert_str_eq(id, "abcdef0123456789abcdef0123456789"
	    "abcdef0123456789abcdef0123456789");
	ck_assert_int_eq(cred_normalise_machine_id("xyz", id), -1);
	cred_free(&c);
	/* 5: no token at all: random, but stable per credential id */
	cred_init(&c);
	c.id = 77;
	free(cfg->machine_id);
	cfg->machine_id = NULL;
	cred_machine_id(&c, cfg, id);
	cred_machine_id(&c, cfg, expect);
	ck_assert_str_eq(id, expect);
	ck_assert_uint_eq(strlen(id), 64);
	cred_free(&c);
	config_free(cfg);
}
END_TEST

START_TEST(cred_ide_cache_social_and_idc)
{
	struct cred	 c;
	char		*dir, *tok, *reg, *why = NULL;

	dir = tu_tmpdir();
	ck_assert_int_ne(asprintf(&tok, "%s/kiro-auth-token.json", dir), -1);
	ck_assert_int_ne(asprintf(&reg, "%s/9b7accc909e1b8b5bc5fd05ee6c86fc8"
	    "91a78d53.json", dir), -1);
	tu_write_file(tok, "{\"accessToken\":\"aoaX\",\"refreshToken\":\""
	    RT_A "\",\"profileArn\":\"arn:p\",\"expiresAt\":"
	    "\"2025-12-31T02:32:45.144Z\",\"authMethod\":\"social\","
	    "\"provider\":\"Google\",\"region\":\"us-east-1\"}");
	ck_assert_int_eq(cred_load_ide_cache(tok, &c, &why), KF_OK);
	ck_assert_int_eq(c.auth_method, CRED_AUTH_SOCIAL);
	ck_assert_str_eq(c.profile_arn, "arn:p");
	ck_assert_str_eq(c.source, "ide");
	ck_assert_str_eq(c.source_path, tok);
	cred_free(&c);

	tu_write_file(tok, "{\"accessToken\":\"aoaX\",\"refreshToken\":\""
	    RT_B "\",\"expiresAt\":\"2026-01-23T15:55:14.153942900+00:00\","
	    "\"authMethod\":\"IdC\",\"provider\":\"BuilderId\",\"clientIdHash\":"
	    "\"9b7accc909e1b8b5bc5fd05ee6c86fc891a78d53\",\"region\":"
	    "\"us-east-1\"}");
	/* Without the registration file the import explains itself. */
	ck_assert_int_eq(cred_load_ide_cache(tok, &c, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "9b7accc9"));
	tu_write_file(reg, "{\"clientId\":\"cid\",\"clientSecret\":\"csec\","
	    "\"expiresAt\":\"2025-12-08T14:10:50.000Z\"}");
	ck_assert_int_eq(cred_load_ide_cache(tok, &c, &why), KF_OK);
	ck_assert_int_eq(c.auth_method, CRED_AUTH_IDC);
	ck_assert_str_eq(c.client_id, "cid");
	ck_assert_str_eq(c.client_secret, "csec");
	cred_free(&c);

	/* The IDE sometimes stores a shortened token: refused. */
	tu_write_file(tok, "{\"refreshToken\":\"aorAAAAA...placeholder\","
	    "\"authMethod\":\"social\"}");
	ck_assert_int_eq(cred_load_ide_cache(tok, &c, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "truncated"));
	free(why);
	tu_rmrf(dir);
	free(dir);
	free(tok);
	free(reg);
}
END_TEST

START_TEST(cred_import_ignores_origin_and_ide_sync)
{
	struct cred	*c, ide;
	size_t		 n;
	char		*dir, *tok, *why = NULL;

	/* A file cannot opt itself into writing tokens somewhere. */
	c = import_ok("{\"refreshToken\":\"" RT_A "\",\"ideSync\":true,"
	    "\"source\":\"ide\",\"sourcePath\":\"/root/.ssh/x\"}", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(c[0].ide_sync, 0);
	ck_assert_ptr_null(c[0].source);
	ck_assert_ptr_null(c[0].source_path);
	cred_free_array(c, n);

	dir = tu_tmpdir();
	ck_assert_int_ne(asprintf(&tok, "%s/kiro-auth-token.json", dir), -1);
	tu_write_file(tok, "{\"refreshToken\":\"" RT_B "\",\"authMethod\":"
	    "\"social\",\"ideSync\":true,\"sourcePath\":\"/etc/passwd\"}");
	ck_assert_msg(cred_load_ide_cache(tok, &ide, &why) == KF_OK, "%s",
	    why);
	ck_assert_int_eq(ide.ide_sync, 0);
	ck_assert_str_eq(ide.source, "ide");
	ck_assert_str_eq(ide.source_path, tok);
	cred_free(&ide);
	tu_rmrf(dir);
	free(dir);
	free(tok);
}
END_TEST

START_TEST(cred_identity_hash_is_the_token_hash)
{
	struct cred	c;
	char		h[65], expect[65];

	cred_init(&c);
	c.refresh_token = xstrdup(RT_A);
	cred_identity_hash(&c, h);
	sha256_hex(RT_A, strlen(RT_A), expect);
	ck_assert_str_eq(h, expect);
	cred_free(&c);
}
END_TEST

START_TEST(cred_public_url_hides_a_proxy_password)
{
	static const struct {
		const char	*url, *shown;
	} cases[] = {
		{ "http://bob:s3cret@127.0.0.1:3128",
		    "http://bob:***@127.0.0.1:3128" },
		{ "socks5://u:p@ss@h:1080", "socks5://u:***@h:1080" },
		{ "bob:s3cret@proxy:3128", "bob:***@proxy:3128" },
		{ "http://proxy:3128", "http://proxy:3128" },
		{ "http://bob@proxy:3128", "http://bob@proxy:3128" },
		{ "http://proxy/a@b:c", "http://proxy/a@b:c" },
		{ "direct", "direct" },
		{ "", "" },
	};
	struct cred	 c;
	json_object	*o;
	const char	*v;
	char		*shown;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		shown = cred_public_url(cases[i].url);
		ck_assert_str_eq(shown, cases[i].shown);
		free(shown);
	}
	/* The public JSON (kiroctl accounts list --json) shows it so. */
	cred_init(&c);
	c.refresh_token = xstrdup(RT_A);
	c.proxy_url = xstrdup("http://bob:s3cret@127.0.0.1:3128");
	o = cred_to_json(&c, CRED_JSON_PUBLIC);
	ck_assert_int_eq(json_get_str(o, "proxyUrl", &v), 1);
	ck_assert_str_eq(v, "http://bob:***@127.0.0.1:3128");
	json_object_put(o);
	o = cred_to_json(&c, CRED_JSON_EXPORT);
	ck_assert_int_eq(json_get_str(o, "proxyUrl", &v), 1);
	ck_assert_str_eq(v, "http://bob:s3cret@127.0.0.1:3128");
	json_object_put(o);
	cred_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cred");
	TCase	*tc = tcase_create("cred");

	tcase_add_test(tc, cred_single_object_social);
	tcase_add_test(tc, cred_array_with_every_field);
	tcase_add_test(tc, cred_builder_id_and_iam_read_as_idc);
	tcase_add_test(tc, cred_idc_never_keeps_a_profile_and_routes_are_checked);
	tcase_add_test(tc, cred_truncated_refresh_tokens_are_refused);
	tcase_add_test(tc, cred_bad_input_is_explained);
	tcase_add_test(tc, cred_public_json_has_no_secrets);
	tcase_add_test(tc, cred_round_trips_through_store_json);
	tcase_add_test(tc, cred_regions_follow_the_lookup_order);
	tcase_add_test(tc, cred_import_refuses_a_region_that_is_not_aws);
	tcase_add_test(tc, cred_stored_bad_region_never_reaches_a_host_name);
	tcase_add_test(tc, cred_machine_id_rules);
	tcase_add_test(tc, cred_machine_id_follows_rotation);
	tcase_add_test(tc, cred_ide_cache_social_and_idc);
	tcase_add_test(tc, cred_identity_hash_is_the_token_hash);
	tcase_add_test(tc, cred_refreshed_at_is_stored_not_exported);
	tcase_add_test(tc, cred_import_ignores_origin_and_ide_sync);
	tcase_add_test(tc, cred_public_url_hides_a_proxy_password);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
