/* test-router.c: each route's API and the error shape it answers in. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "out.h"
#include "request.h"
#include "router.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers: every route entry names its API (a new route fails until it
 * is listed here); the shared /v1/models routes take the client's API
 * from its headers; a path with no route (404) answers by prefix
 * (/v1beta Gemini, else Anthropic); a wrong method (405) answers in the
 * API of the path's route with Allow; 401, 413 and the admin sub-router
 * each answer in their route's format, through router_dispatch into
 * memory; kiro-fcgi(8) names every route with its method.
 */

#define KEY	"sk-router-test-key-0123456789"

static const struct {
	const char	*method;	/* NULL: any */
	const char	*path;
	enum route_api	 api;
} every_route[] = {
	{ NULL, "/api/admin", ROUTE_ADMIN },
	{ "POST", "/v1/messages", ROUTE_ANTHROPIC },
	{ "POST", "/v1/messages/count_tokens", ROUTE_ANTHROPIC },
	{ "POST", "/cc/v1/messages", ROUTE_ANTHROPIC },
	{ "POST", "/cc/v1/messages/count_tokens", ROUTE_ANTHROPIC },
	{ "POST", "/v1/chat/completions", ROUTE_OPENAI },
	{ "POST", "/v1/responses", ROUTE_OPENAI },
	{ "GET", "/v1/models", ROUTE_OPENAI },
	{ "GET", "/v1/models/", ROUTE_OPENAI },
	{ "POST", "/v1beta/models/", ROUTE_GEMINI },
	{ "GET", "/v1beta/models", ROUTE_GEMINI },
	{ "GET", "/v1beta/models/", ROUTE_GEMINI },
	{ "POST", "/v1/models/", ROUTE_GEMINI },
	{ "GET", "/health", ROUTE_PLAIN },
	{ "GET", "/metrics", ROUTE_PLAIN },
	{ "GET", "/", ROUTE_PLAIN },
};
#define N_ROUTES	(sizeof(every_route) / sizeof(every_route[0]))

/* A request in memory: FastCGI parameters as "NAME=value". */
struct treq {
	struct request	 req;
	struct buf	 answer;
	char		*env[8];
	size_t		 n_env;
};

static void
treq_init(struct treq *t, const char *method, const char *path,
    const char *query)
{
	memset(t, 0, sizeof(*t));
	t->req.envp = t->env;
	t->req.method = method;
	t->req.path = xstrdup(path);
	t->req.query = query != NULL ? query : "";
	t->req.ipc_fd = -1;
	out_init_buf(&t->req.out, &t->answer);
}

static void
treq_param(struct treq *t, const char *name, const char *value)
{
	ck_assert_uint_lt(t->n_env, sizeof(t->env) / sizeof(t->env[0]) - 1);
	t->env[t->n_env++] = xasprintf("%s=%s", name, value);
}

static void
treq_free(struct treq *t)
{
	size_t	i;

	for (i = 0; i < t->n_env; i++)
		free(t->env[i]);
	free(t->req.path);
	buf_free(&t->req.body);
	buf_free(&t->answer);
}

static enum route_api
api_of(const char *method, const char *path, const char *query,
    const char *header, const char *value)
{
	struct treq	t;
	enum route_api	api;

	treq_init(&t, method, path, query);
	if (header != NULL)
		treq_param(&t, header, value);
	api = router_api(&t.req);
	treq_free(&t);
	return api;
}

START_TEST(every_route_names_its_api)
{
	const char	*method, *path;
	enum route_api	 api;
	size_t		 i, j;

	for (i = 0; router_route(i, &method, &path, &api); i++) {
		ck_assert_uint_lt(i, N_ROUTES);
		ck_assert_int_lt(api, ROUTE__MAX);
		for (j = 0; j < N_ROUTES; j++)
			if (strcmp(every_route[j].path, path) == 0 &&
			    (method == NULL ? every_route[j].method == NULL :
			    every_route[j].method != NULL &&
			    strcmp(every_route[j].method, method) == 0))
				break;
		ck_assert_msg(j < N_ROUTES, "route %s %s is not in this test",
		    method != NULL ? method : "*", path);
		ck_assert_msg(every_route[j].api == api, "%s %s: API %d, "
		    "not %d", method != NULL ? method : "*", path, api,
		    every_route[j].api);
	}
	ck_assert_uint_eq(i, N_ROUTES);
}
END_TEST

/* Concrete requests reach their route's API, HEAD as GET. */
START_TEST(requests_take_their_routes_api)
{
	static const struct {
		const char	*method, *path;
		enum route_api	 api;
	} cases[] = {
		{ "POST", "/v1/messages", ROUTE_ANTHROPIC },
		{ "POST", "/cc/v1/messages/count_tokens", ROUTE_ANTHROPIC },
		{ "POST", "/v1/chat/completions", ROUTE_OPENAI },
		{ "POST", "/v1/responses", ROUTE_OPENAI },
		{ "POST", "/v1beta/models/gemini-2.5-pro:generateContent",
		    ROUTE_GEMINI },
		{ "POST", "/v1/models/gemini-2.5-pro:streamGenerateContent",
		    ROUTE_GEMINI },
		{ "GET", "/v1beta/models", ROUTE_GEMINI },
		{ "HEAD", "/v1beta/models/gemini-2.5-pro", ROUTE_GEMINI },
		{ "GET", "/health", ROUTE_PLAIN },
		{ "HEAD", "/", ROUTE_PLAIN },
		{ "GET", "/metrics", ROUTE_PLAIN },
		{ "GET", "/api/admin", ROUTE_ADMIN },
		{ "DELETE", "/api/admin/accounts/3", ROUTE_ADMIN },
		/* Not the admin subtree: a 404 in the default shape. */
		{ "GET", "/api/administrator", ROUTE_ANTHROPIC },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(api_of(cases[i].method, cases[i].path, NULL,
		    NULL, NULL) == cases[i].api, "%s %s", cases[i].method,
		    cases[i].path);
}
END_TEST

/*
 * GET /v1/models and /v1/models/{id}: x-api-key is Anthropic's even
 * with ?key=; x-goog-api-key or ?key= Gemini's even with
 * anthropic-version; anthropic-version alone Anthropic's; nothing, or a
 * bearer token, OpenAI's.
 */
START_TEST(shared_models_route_asks_the_client)
{
	const char	*paths[] = { "/v1/models", "/v1/models/claude-x" };
	struct treq	 t;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(api_of("GET", paths[i], NULL, NULL, NULL),
		    ROUTE_OPENAI);
		ck_assert_int_eq(api_of("GET", paths[i], NULL,
		    "HTTP_AUTHORIZATION", "Bearer x"), ROUTE_OPENAI);
		ck_assert_int_eq(api_of("GET", paths[i], NULL,
		    "HTTP_ANTHROPIC_VERSION", "2023-06-01"), ROUTE_ANTHROPIC);
		ck_assert_int_eq(api_of("GET", paths[i], "key=x",
		    "HTTP_X_API_KEY", "x"), ROUTE_ANTHROPIC);
		ck_assert_int_eq(api_of("GET", paths[i], "key=x", NULL, NULL),
		    ROUTE_GEMINI);
		ck_assert_int_eq(api_of("GET", paths[i], "key=",
		    "HTTP_X_API_KEY", ""), ROUTE_OPENAI);
		ck_assert_int_eq(api_of("GET", paths[i], NULL,
		    "HTTP_X_GOOG_API_KEY", "x"), ROUTE_GEMINI);
		treq_init(&t, "GET", paths[i], NULL);
		treq_param(&t, "HTTP_X_GOOG_API_KEY", "x");
		treq_param(&t, "HTTP_ANTHROPIC_VERSION", "2023-06-01");
		ck_assert_int_eq(router_api(&t.req), ROUTE_GEMINI);
		treq_free(&t);
	}
	/* A wrong method takes the shared route's API too. */
	ck_assert_int_eq(api_of("DELETE", "/v1/models", NULL, NULL, NULL),
	    ROUTE_OPENAI);
	ck_assert_int_eq(api_of("DELETE", "/v1/models", NULL,
	    "HTTP_X_GOOG_API_KEY", "x"), ROUTE_GEMINI);
}
END_TEST

START_TEST(unrouted_paths_answer_by_prefix)
{
	static const struct {
		const char	*method, *path;
		enum route_api	 api;
	} cases[] = {
		{ "GET", "/v1beta", ROUTE_GEMINI },
		{ "GET", "/v1beta/files", ROUTE_GEMINI },
		{ "POST", "/v1beta/cachedContents/x", ROUTE_GEMINI },
		{ "GET", "/v1betamax", ROUTE_ANTHROPIC },
		{ "GET", "/v1/nothing", ROUTE_ANTHROPIC },
		{ "POST", "/v1/complete", ROUTE_ANTHROPIC },
		{ "POST", "/v2/messages", ROUTE_ANTHROPIC },
		{ "POST", "/v1/messages/extra", ROUTE_ANTHROPIC },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(api_of(cases[i].method, cases[i].path, NULL,
		    NULL, NULL) == cases[i].api, "%s %s", cases[i].method,
		    cases[i].path);
}
END_TEST

/* What router_dispatch answered: status, a header's value, the body. */
struct answer {
	int		 status;
	char		 allow[64];
	json_object	*body;
};

static int
read_nothing(void *stream, char *p, int n)
{
	(void)stream;
	(void)p;
	(void)n;
	return 0;
}

static void
dispatch(struct treq *t, const struct config *cfg, struct answer *a)
{
	struct app	 app;
	const char	*head, *blank, *allow;
	size_t		 len;

	memset(&app, 0, sizeof(app));
	app.cfg = (struct config *)cfg;
	router_dispatch(&app, &t->req, read_nothing, NULL);
	memset(a, 0, sizeof(*a));
	head = t->answer.ptr;
	ck_assert_ptr_nonnull(head);
	ck_assert_int_eq(sscanf(head, "Status: %d", &a->status), 1);
	ck_assert_ptr_nonnull(blank = strstr(head, "\r\n\r\n"));
	if ((allow = strstr(head, "Allow: ")) != NULL && allow < blank) {
		allow += strlen("Allow: ");
		len = strcspn(allow, "\r");
		ck_assert_uint_lt(len, sizeof(a->allow));
		memcpy(a->allow, allow, len);
	}
	a->body = json_tokener_parse(blank + 4);
	ck_assert_msg(a->body != NULL, "not JSON: %s", blank + 4);
}

static const char *
str_at(json_object *o, const char *outer, const char *inner)
{
	json_object	*e, *v;

	if (!json_object_object_get_ex(o, outer, &e) ||
	    !json_object_object_get_ex(e, inner, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Anthropic: {"type":"error","error":{"type":...,"message":...}}. */
static void
assert_anthropic(const struct answer *a, int status, const char *type)
{
	json_object	*v;

	ck_assert_int_eq(a->status, status);
	ck_assert(json_object_object_get_ex(a->body, "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "error");
	ck_assert_pstr_eq(str_at(a->body, "error", "type"), type);
	ck_assert_ptr_nonnull(str_at(a->body, "error", "message"));
}

/* OpenAI: {"error":{"message","type","param","code"}} and no "type" above. */
static void
assert_openai(const struct answer *a, int status, const char *type,
    const char *code)
{
	json_object	*e, *v;

	ck_assert_int_eq(a->status, status);
	ck_assert(!json_object_object_get_ex(a->body, "type", &v));
	ck_assert(json_object_object_get_ex(a->body, "error", &e));
	ck_assert(json_object_object_get_ex(e, "param", &v));
	ck_assert_pstr_eq(str_at(a->body, "error", "type"), type);
	ck_assert(json_object_object_get_ex(e, "code", &v));
	if (code == NULL)
		ck_assert_ptr_null(v);
	else
		ck_assert_pstr_eq(json_object_get_string(v), code);
}

/* Gemini: {"error":{"code":<the status>,"message","status"}}. */
static void
assert_gemini(const struct answer *a, int status, const char *name)
{
	json_object	*e, *v;

	ck_assert_int_eq(a->status, status);
	ck_assert(json_object_object_get_ex(a->body, "error", &e));
	ck_assert(json_object_object_get_ex(e, "code", &v));
	ck_assert_int_eq(json_object_get_int(v), status);
	ck_assert_pstr_eq(str_at(a->body, "error", "status"), name);
	ck_assert_ptr_nonnull(str_at(a->body, "error", "message"));
}

static struct config *
test_config(void)
{
	struct config	*cfg = NULL;
	char		*why = NULL;
	const char	*json = "{\"apiKey\":\"" KEY "\","
			    "\"maxRequestBytes\":1000}";

	ck_assert_msg(config_parse(json, strlen(json), "/nonexistent", &cfg,
	    NULL, &why) == KF_OK, "%s", why != NULL ? why : "");
	return cfg;
}

START_TEST(no_route_404_by_prefix)
{
	struct treq	 t;
	struct answer	 a;
	struct config	*cfg = test_config();

	treq_init(&t, "GET", "/v1beta/tunedModels", NULL);
	dispatch(&t, cfg, &a);
	assert_gemini(&a, 404, "NOT_FOUND");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "POST", "/v2/messages", NULL);
	dispatch(&t, cfg, &a);
	assert_anthropic(&a, 404, "not_found_error");
	ck_assert(strstr(str_at(a.body, "error", "message"), "/v2/messages") !=
	    NULL);
	json_object_put(a.body);
	treq_free(&t);
	config_free(cfg);
}
END_TEST

START_TEST(wrong_method_405_in_the_routes_api)
{
	struct treq	 t;
	struct answer	 a;
	struct config	*cfg = test_config();

	treq_init(&t, "GET", "/v1/responses", NULL);
	dispatch(&t, cfg, &a);
	assert_openai(&a, 405, "invalid_request_error", NULL);
	ck_assert_str_eq(a.allow, "POST");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "PUT", "/v1beta/models", NULL);
	dispatch(&t, cfg, &a);
	assert_gemini(&a, 405, "INVALID_ARGUMENT");
	ck_assert_str_eq(a.allow, "GET, HEAD");
	json_object_put(a.body);
	treq_free(&t);

	/* Both model routes match: each method is listed. */
	treq_init(&t, "PUT", "/v1/models/gemini-2.5-pro:generateContent",
	    NULL);
	treq_param(&t, "HTTP_X_GOOG_API_KEY", "x");
	dispatch(&t, cfg, &a);
	assert_gemini(&a, 405, "INVALID_ARGUMENT");
	ck_assert_str_eq(a.allow, "GET, HEAD, POST");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "POST", "/health", NULL);
	dispatch(&t, cfg, &a);
	assert_anthropic(&a, 405, "invalid_request_error");
	ck_assert_str_eq(a.allow, "GET, HEAD");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "DELETE", "/v1/messages", NULL);
	dispatch(&t, cfg, &a);
	assert_anthropic(&a, 405, "invalid_request_error");
	ck_assert_str_eq(a.allow, "POST");
	json_object_put(a.body);
	treq_free(&t);
	config_free(cfg);
}
END_TEST

START_TEST(auth_401_in_the_routes_api)
{
	struct treq	 t;
	struct answer	 a;
	struct config	*cfg = test_config();

	treq_init(&t, "POST", "/v1/chat/completions", NULL);
	treq_param(&t, "HTTP_AUTHORIZATION", "Bearer sk-wrong");
	dispatch(&t, cfg, &a);
	assert_openai(&a, 401, "authentication_error", "invalid_api_key");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "POST", "/v1/models/gemini-2.5-pro:generateContent",
	    "key=wrong");
	dispatch(&t, cfg, &a);
	assert_gemini(&a, 401, "UNAUTHENTICATED");
	json_object_put(a.body);
	treq_free(&t);

	/* The shared route: the GenAI SDK's ?key= gets Gemini's shape. */
	treq_init(&t, "GET", "/v1/models", "key=wrong");
	dispatch(&t, cfg, &a);
	assert_gemini(&a, 401, "UNAUTHENTICATED");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "GET", "/v1/models", NULL);
	treq_param(&t, "HTTP_ANTHROPIC_VERSION", "2023-06-01");
	dispatch(&t, cfg, &a);
	assert_anthropic(&a, 401, "authentication_error");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "GET", "/v1/models", NULL);
	dispatch(&t, cfg, &a);
	assert_openai(&a, 401, "authentication_error", "invalid_api_key");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "POST", "/cc/v1/messages", NULL);
	treq_param(&t, "HTTP_X_API_KEY", "sk-wrong");
	dispatch(&t, cfg, &a);
	assert_anthropic(&a, 401, "authentication_error");
	json_object_put(a.body);
	treq_free(&t);
	config_free(cfg);
}
END_TEST

/* maxRequestBytes is 1000: a longer body is refused before it is read. */
START_TEST(too_large_413_in_the_routes_api)
{
	struct treq	 t;
	struct answer	 a;
	struct config	*cfg = test_config();

	treq_init(&t, "POST", "/v1/messages", NULL);
	treq_param(&t, "HTTP_X_API_KEY", KEY);
	treq_param(&t, "CONTENT_LENGTH", "5000");
	dispatch(&t, cfg, &a);
	assert_anthropic(&a, 413, "request_too_large");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "POST", "/v1/responses", NULL);
	treq_param(&t, "HTTP_AUTHORIZATION", "Bearer " KEY);
	treq_param(&t, "CONTENT_LENGTH", "5000");
	dispatch(&t, cfg, &a);
	assert_openai(&a, 413, "invalid_request_error", "request_too_large");
	json_object_put(a.body);
	treq_free(&t);

	treq_init(&t, "POST", "/v1beta/models/gemini-2.5-pro:generateContent",
	    NULL);
	treq_param(&t, "HTTP_X_GOOG_API_KEY", KEY);
	treq_param(&t, "CONTENT_LENGTH", "5000");
	dispatch(&t, cfg, &a);
	assert_gemini(&a, 413, "INVALID_ARGUMENT");
	json_object_put(a.body);
	treq_free(&t);

	/* A body that ends early is the client's 400. */
	treq_init(&t, "POST", "/v1/chat/completions", NULL);
	treq_param(&t, "HTTP_AUTHORIZATION", "Bearer " KEY);
	treq_param(&t, "CONTENT_LENGTH", "10");
	dispatch(&t, cfg, &a);
	assert_openai(&a, 400, "invalid_request_error", NULL);
	json_object_put(a.body);
	treq_free(&t);
	config_free(cfg);
}
END_TEST

/* The admin subtree is admin_serve's, with its own error shape. */
START_TEST(admin_subtree_answers_for_itself)
{
	struct treq	 t;
	struct answer	 a;
	json_object	*v;
	struct config	*cfg = test_config();

	treq_init(&t, "POST", "/api/admin/accounts", NULL);
	dispatch(&t, cfg, &a);
	/* No adminApiKey: the admin API is off, in its own shape. */
	ck_assert_int_eq(a.status, 404);
	ck_assert(!json_object_object_get_ex(a.body, "type", &v));
	ck_assert_pstr_eq(str_at(a.body, "error", "type"), "not_found");
	ck_assert_ptr_nonnull(strstr(str_at(a.body, "error", "message"),
	    "adminApiKey"));
	json_object_put(a.body);
	treq_free(&t);
	config_free(cfg);
}
END_TEST

/*
 * "Cm METHOD PATH" or ", METHOD PATH" (".Cm GET /a , GET /b"), as a
 * whole word; "Pa PATH" for the admin subtree.
 */
static int
names_route(const char *page, const char *method, const char *path)
{
	const char	*at;
	char		*want;
	size_t		 len;
	int		 found = 0;

	want = method != NULL ? xasprintf("%s %s", method, path) :
	    xasprintf("Pa %s", path);
	len = strlen(want);
	for (at = page; !found && (at = strstr(at, want)) != NULL; at++)
		found = (at[len] == ' ' || at[len] == '\n') &&
		    (method == NULL || (at - page >= 3 &&
		    (strncmp(at - 3, "Cm ", 3) == 0 ||
		    strncmp(at - 2, ", ", 2) == 0)));
	free(want);
	return found;
}

/* The committed man/kiro-fcgi.8 (from KIRO_SRCDIR) is the reference. */
START_TEST(man_page_names_every_route)
{
	const char	*src = getenv("KIRO_SRCDIR"), *method, *path;
	enum route_api	 api;
	char		*file, *page;
	size_t		 i;

	file = xasprintf("%s/man/kiro-fcgi.8", src != NULL ? src : ".");
	page = tu_read_file(file);
	ck_assert_msg(page != NULL, "cannot read %s (is KIRO_SRCDIR set?)",
	    file);
	for (i = 0; router_route(i, &method, &path, &api); i++)
		ck_assert_msg(names_route(page, method, path), "kiro-fcgi(8) "
		    "does not name %s %s", method != NULL ? method : "*", path);
	ck_assert(!names_route(page, "PUT", "/v1/messages"));
	free(page);
	free(file);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("router");
	TCase	*tc = tcase_create("router");

	tcase_add_test(tc, every_route_names_its_api);
	tcase_add_test(tc, requests_take_their_routes_api);
	tcase_add_test(tc, shared_models_route_asks_the_client);
	tcase_add_test(tc, unrouted_paths_answer_by_prefix);
	tcase_add_test(tc, no_route_404_by_prefix);
	tcase_add_test(tc, wrong_method_405_in_the_routes_api);
	tcase_add_test(tc, auth_401_in_the_routes_api);
	tcase_add_test(tc, too_large_413_in_the_routes_api);
	tcase_add_test(tc, admin_subtree_answers_for_itself);
	tcase_add_test(tc, man_page_names_every_route);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
