/* upstream.c: calls to the Kiro API (generateAssistantResponse, ...). */
#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "cred.h"
#include "json.h"
#include "rand.h"
#include "upstream.h"
#include "xmalloc.h"

static const char *const verdict_names[UV__MAX] = {
	"ok", "bad_request", "context_full", "input_too_long", "unauthorized",
	"bearer_invalid", "suspended", "forbidden", "quota", "throttled",
	"server", "network", "client_error",
};

const char *
upstream_verdict_name(enum upstream_verdict v)
{
	return (unsigned)v < UV__MAX ? verdict_names[v] : "unknown";
}

/* Substring search in a body that is not NUL-terminated. */
static int
contains(const char *body, size_t len, const char *needle)
{
	size_t	n = strlen(needle);

	if (n == 0 || len < n)
		return 0;
	return memmem(body, len, needle, n) != NULL;
}

static int
contains_nocase(const char *body, size_t len, const char *needle)
{
	size_t	n = strlen(needle), i, j;

	for (i = 0; n > 0 && i + n <= len; i++) {
		for (j = 0; j < n; j++)
			if (tolower((unsigned char)body[i + j]) !=
			    tolower((unsigned char)needle[j]))
				break;
		if (j == n)
			return 1;
	}
	return 0;
}

enum upstream_verdict
upstream_classify(long status, const char *body, size_t len)
{
	if (status >= 200 && status < 300)
		return UV_OK;
	if (status == 0)
		return UV_NETWORK;
	if (status == 400) {
		if (contains(body, len, "CONTENT_LENGTH_EXCEEDS_THRESHOLD"))
			return UV_CONTEXT_FULL;
		if (contains_nocase(body, len, "Input is too long"))
			return UV_INPUT_TOO_LONG;
		return UV_BAD_REQUEST;
	}
	if (status == 401)
		return UV_UNAUTHORIZED;
	if (status == 402)
		return contains(body, len, "MONTHLY_REQUEST_COUNT") ?
		    UV_QUOTA : UV_CLIENT_ERROR;
	if (status == 403) {
		if (contains(body, len, "TEMPORARILY_SUSPENDED") ||
		    contains_nocase(body, len, "temporarily is suspended") ||
		    contains_nocase(body, len, "temporarily suspended"))
			return UV_SUSPENDED;
		if (contains_nocase(body, len,
		    "bearer token included in the request is invalid"))
			return UV_BEARER_INVALID;
		return UV_FORBIDDEN;
	}
	if (status == 408 || status == 429)
		return UV_THROTTLED;
	if (status >= 500)
		return UV_SERVER;
	return UV_CLIENT_ERROR;
}

static void
append_clean(struct buf *out, const char *s, size_t len, size_t max)
{
	size_t	i;

	for (i = 0; i < len && i < max; i++)
		buf_putc(out, (unsigned char)s[i] < 0x20 ? ' ' : s[i]);
	if (len > max)
		buf_puts(out, "...");
}

char *
upstream_error_text(const char *body, size_t len)
{
	struct buf	 out = BUF_INIT;
	json_object	*root = NULL, *inner;
	const char	*msg = NULL, *reason = NULL;

	if (len > 0 && json_parse(body, len, 16, &root, NULL) == KF_OK &&
	    json_object_is_type(root, json_type_object)) {
		if (json_get_str(root, "message", &msg) != 1)
			(void)json_get_str(root, "Message", &msg);
		(void)json_get_str(root, "reason", &reason);
		if (json_get_obj(root, "error", &inner) == 1) {
			if (msg == NULL)
				(void)json_get_str(inner, "message", &msg);
			if (reason == NULL)
				(void)json_get_str(inner, "reason", &reason);
		}
	}
	if (msg != NULL)
		append_clean(&out, msg, strlen(msg), 300);
	if (reason != NULL) {
		buf_puts(&out, out.len > 0 ? " (" : "(");
		append_clean(&out, reason, strlen(reason), 100);
		buf_putc(&out, ')');
	}
	if (out.len == 0) {
		if (len == 0)
			buf_puts(&out, "(empty body)");
		else
			append_clean(&out, body, len, 200);
	}
	json_object_put(root);
	return buf_detach(&out);
}

/* One page is plenty: an account has a profile or two. */
#define PROFILES_MAX_BODY	(256 * 1024)
#define PROFILES_TIMEOUT_MS	15000

static const struct upstream_sdk streaming_sdk = {
	"1.0.34", "codewhispererstreaming", "E", 3
};

static const struct upstream_sdk runtime_sdk = {
	"1.0.0", "codewhispererruntime", "N,E", 1
};

enum kf_err
upstream_api(struct http *h, const struct config *cfg, const struct cred *c,
    const struct upstream_api_req *call, struct http_resp *resp,
    enum upstream_verdict *verdict, char **cause)
{
	struct upstream_auth	 a;
	struct http_req		 req;
	const char		*headers[12];
	char			*text;
	size_t			 n = 0;
	enum kf_err		 er;

	if (call->body != NULL)
		headers[n++] = "Content-Type: application/json";
	headers[n++] = "Connection: close";
	if (call->header != NULL)
		headers[n++] = call->header;
	upstream_auth_headers(&a, c, cfg, call->streaming_sdk ?
	    &streaming_sdk : &runtime_sdk, headers, &n);
	headers[n] = NULL;

	memset(&req, 0, sizeof(req));
	req.method = call->body != NULL ? "POST" : "GET";
	req.url = call->url;
	req.headers = headers;
	if (call->body != NULL) {
		req.body = call->body;
		req.body_len = strlen(call->body);
	}
	req.proxy_url = upstream_proxy(c, cfg, &req.proxy_username,
	    &req.proxy_password);
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.timeout_ms = call->timeout_ms;
	req.max_body = call->max_body;
	er = http_do(h, &req, resp, cause);
	upstream_auth_free(&a);
	if (er != KF_OK || resp->status == 200)
		return er;
	if (verdict != NULL)
		*verdict = upstream_classify(resp->status, resp->body.ptr,
		    resp->body.len);
	text = upstream_error_text(resp->body.ptr, resp->body.len);
	xsetprintf(cause, "%s: HTTP %ld: %s", call->op, resp->status, text);
	free(text);
	return KF_EUPSTREAM;
}

/* The chosen arn of a ListAvailableProfiles answer, or NULL. */
static char *
pick_profile(const char *body, size_t len, const char *region)
{
	json_object	*root = NULL, *list, *p;
	const char	*arn, *first = NULL, *chosen = NULL;
	char		 want[CONFIG_REGION_MAX + 3];
	size_t		 i, n;
	char		*copy = NULL;

	if (json_parse(body, len, 16, &root, NULL) != KF_OK ||
	    json_get_arr(root, "profiles", &list) != 1)
		goto out;
	snprintf(want, sizeof(want), ":%s:", region);
	n = json_object_array_length(list);
	for (i = 0; i < n && chosen == NULL; i++) {
		p = json_object_array_get_idx(list, i);
		if (json_get_str(p, "arn", &arn) != 1 || *arn == '\0')
			continue;
		if (first == NULL)
			first = arn;
		if (strstr(arn, want) != NULL)
			chosen = arn;
	}
	if (chosen == NULL)
		chosen = first;
	if (chosen != NULL)
		copy = xstrdup(chosen);
out:
	json_object_put(root);
	return copy;
}

enum kf_err
upstream_list_profiles(struct http *h, const struct config *cfg,
    const struct cred *c, char **arn, char **cause)
{
	struct upstream_api_req	 call;
	struct http_resp	 resp;
	enum upstream_verdict	 verdict = UV_OK;
	char			*url;
	enum kf_err		 er;

	*arn = NULL;
	if (c->auth_method != CRED_AUTH_SOCIAL)
		return KF_OK;
	url = config_url(cfg->api_base_url, cred_api_region(c, cfg),
	    "/ListAvailableProfiles");
	memset(&call, 0, sizeof(call));
	call.op = "ListAvailableProfiles";
	call.url = url;
	call.body = "{}";
	call.timeout_ms = PROFILES_TIMEOUT_MS;
	call.max_body = PROFILES_MAX_BODY;
	er = upstream_api(h, cfg, c, &call, &resp, &verdict, cause);
	if (er == KF_OK)
		*arn = pick_profile(resp.body.ptr, resp.body.len,
		    cred_api_region(c, cfg));
	else if (verdict == UV_UNAUTHORIZED || verdict == UV_BEARER_INVALID)
		er = KF_EAUTH;
	else if (verdict == UV_THROTTLED)
		er = KF_ERATE;
	http_resp_free(&resp);
	free(url);
	return er;
}

const char *
upstream_proxy(const struct cred *c, const struct config *cfg,
    const char **username, const char **password)
{
	*username = *password = NULL;
	if (c != NULL && c->proxy_url != NULL) {
		if (strcmp(c->proxy_url, "direct") == 0)
			return "direct";
		*username = c->proxy_username;
		*password = c->proxy_password;
		return c->proxy_url;
	}
	if (cfg->proxy_url != NULL) {
		*username = cfg->proxy_username;
		*password = cfg->proxy_password;
		return cfg->proxy_url;
	}
	return NULL;
}

/* A header line as its parts; a NULL part counts as "". */
struct line_parts {
	const char *const	*parts;
	size_t			 n;
};

#define PARTS(...)	{ (const char *const[]){ __VA_ARGS__ },		\
			    sizeof((const char *const[]){ __VA_ARGS__ }) /	\
			    sizeof(const char *) }

#define AUTH_PARTS_MAX	32	/* the parts of all the credential lines */

/*
 * The bytes of a line's parts joined, without the terminator; each part's
 * length goes to lens[], so that line_put copies without measuring again.
 */
static size_t
line_measure(const struct line_parts *l, size_t *lens)
{
	size_t	len = 0, i;

	for (i = 0; i < l->n; i++) {
		lens[i] = l->parts[i] != NULL ? strlen(l->parts[i]) : 0;
		len += lens[i];
	}
	return len;
}

/* Writes the line, terminated, at p; returns where the next one goes. */
static char *
line_put(char *p, const struct line_parts *l, const size_t *lens)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		if (lens[i] == 0)
			continue;
		memcpy(p, l->parts[i], lens[i]);
		p += lens[i];
	}
	*p++ = '\0';
	return p;
}

void
upstream_auth_headers(struct upstream_auth *a, const struct cred *cred,
    const struct config *cfg, const struct upstream_sdk *sdk,
    const char **headers, size_t *n)
{
	const char	*token, *max;
	char		 machine_id[65], uuid[UUID_LEN + 1];
	char		 digits[BUF_DECIMAL_LEN + 1];
	char		*p;
	size_t		 lens[AUTH_PARTS_MAX], max_len, len, i, at;

	cred_machine_id(cred, cfg, machine_id);
	rand_uuid(uuid);
	token = cred->auth_method == CRED_AUTH_API_KEY ? cred->kiro_api_key :
	    cred->access_token;
	/* buf_decimal writes up to digits[BUF_DECIMAL_LEN]: a string. */
	digits[BUF_DECIMAL_LEN] = '\0';
	max = buf_decimal(sdk->max_attempts, digits, &max_len);
	{
		/*
		 * Every upstream call makes these lines: joined without
		 * printf, into one allocation rather than one each.
		 */
		const struct line_parts	lines[UPSTREAM_AUTH_LINES] = {
			PARTS("x-amz-user-agent: aws-sdk-js/", sdk->version,
			    " KiroIDE-", cfg->kiro_version, "-", machine_id),
			PARTS("User-Agent: aws-sdk-js/", sdk->version,
			    " ua/2.1 os/", cfg->system_version,
			    " lang/js md/nodejs#", cfg->node_version, " api/",
			    sdk->api, "#", sdk->version, " m/", sdk->metrics,
			    " KiroIDE-", cfg->kiro_version, "-", machine_id),
			PARTS("amz-sdk-invocation-id: ", uuid),
			PARTS("amz-sdk-request: attempt=1; max=", max),
			PARTS("Authorization: Bearer ", token),
		};

		len = 0;
		for (i = at = 0; i < UPSTREAM_AUTH_LINES; i++) {
			if (at + lines[i].n > AUTH_PARTS_MAX)
				abort();	/* a line grew: raise the max */
			len += line_measure(&lines[i], lens + at) + 1;
			at += lines[i].n;
		}
		p = a->block = xmalloc(len);
		a->block_len = len;
		for (i = at = 0; i < UPSTREAM_AUTH_LINES; i++) {
			a->line[i] = p;
			p = line_put(p, &lines[i], lens + at);
			at += lines[i].n;
		}
	}
	for (i = 0; i < UPSTREAM_AUTH_LINES; i++)
		headers[(*n)++] = a->line[i];
	if (cred->auth_method == CRED_AUTH_API_KEY)
		headers[(*n)++] = "tokentype: API_KEY";
}

void
upstream_auth_free(struct upstream_auth *a)
{
	/* The block ends with the Authorization line: wipe it all. */
	if (a->block != NULL)
		explicit_bzero(a->block, a->block_len);
	free(a->block);
	memset(a, 0, sizeof(*a));
}

/* The Kiro IDE 1.0.437 capture of the target style (§12). */
static const struct upstream_sdk runtime_target_sdk = {
	"1.0.0", "kiroruntime", "E", 3
};

const char *
upstream_base_url(const struct config *cfg, enum api_host host)
{
	return host == API_HOST_LEGACY ? cfg->legacy_api_base_url :
	    cfg->api_base_url;
}

void
upstream_route_configured(const struct cred *c, const struct config *cfg,
    struct upstream_route *out)
{
	out->host = c->auth_method == CRED_AUTH_IDC ? cfg->idc_api_host :
	    API_HOST_RUNTIME;
	out->style = cfg->api_style;
	/* cred_validate checked these; a bad one keeps the default. */
	if (c->api_host != NULL)
		(void)config_api_host_parse(c->api_host, &out->host);
	if (c->api_style != NULL)
		(void)config_api_style_parse(c->api_style, &out->style);
	if (out->host == API_HOST_LEGACY)
		out->style = API_STYLE_PATH;
}

int
upstream_route_fallback(const struct config *cfg,
    const struct upstream_route *route, long status, const char *body,
    size_t len, struct upstream_route *next)
{
	if (route->host == API_HOST_LEGACY) {
		/* Retired or unreachable (§12): the runtime host. */
		if (status != 0 && status != 404)
			return 0;
		next->host = API_HOST_RUNTIME;
		next->style = cfg->api_style;
	} else if (status == 400 &&
	    contains_nocase(body, len, "profileArn is required")) {
		/* No profile to send: the legacy host never asked for one. */
		next->host = API_HOST_LEGACY;
		next->style = API_STYLE_PATH;
	} else if (status == 400 &&
	    contains(body, len, "REQUEST_BODY_INVALID")) {
		next->host = API_HOST_RUNTIME;
		next->style = route->style == API_STYLE_PATH ?
		    API_STYLE_TARGET : API_STYLE_PATH;
	} else
		return 0;
	/* One base URL for both hosts: the same request would come back. */
	return next->style != route->style ||
	    strcmp(upstream_base_url(cfg, next->host),
	    upstream_base_url(cfg, route->host)) != 0;
}

enum kf_err
upstream_generate(struct http *h, const struct upstream_call *call,
    struct http_resp *resp, char **cause)
{
	const struct config	*cfg = call->cfg;
	const struct cred	*cred = call->cred;
	struct upstream_auth	 a;
	struct http_req		 req;
	const char		*headers[20];
	char			*url, *profile = NULL;
	size_t			 n = 0;
	int			 target;
	enum kf_err		 er;

	target = call->route.style == API_STYLE_TARGET &&
	    call->route.host == API_HOST_RUNTIME;
	url = config_url(upstream_base_url(cfg, call->route.host),
	    cred_api_region(cred, cfg), target ? "/" :
	    "/generateAssistantResponse");
	headers[n++] = "Content-Type: application/json";
	headers[n++] = "Accept: */*";
	headers[n++] = "x-amzn-codewhisperer-optout: true";
	if (target) {
		/* The capture's headers; its agent mode is "spec" (§12). */
		headers[n++] = "x-amz-target: "
		    "KiroRuntimeService.GenerateAssistantResponse";
		headers[n++] = "x-amzn-kiro-client-attribution: kiro-ide";
		headers[n++] = "x-amzn-kiro-agent-mode: spec";
		if (cred->profile_arn != NULL &&
		    cred->auth_method != CRED_AUTH_IDC) {
			profile = xasprintf("x-amzn-codewhisperer-profile-arn: "
			    "%s", cred->profile_arn);
			headers[n++] = profile;
		}
		upstream_auth_headers(&a, cred, cfg, &runtime_target_sdk,
		    headers, &n);
	} else {
		headers[n++] = "x-amzn-kiro-agent-mode: vibe";
		upstream_auth_headers(&a, cred, cfg, &streaming_sdk, headers,
		    &n);
	}
	headers[n] = NULL;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = call->body;
	req.body_len = call->body_len;
	req.proxy_url = upstream_proxy(cred, cfg, &req.proxy_username,
	    &req.proxy_password);
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.idle_timeout_s = cfg->stream_idle_timeout_seconds;
	req.on_data = call->on_data;
	req.on_tick = call->on_tick;
	req.arg = call->arg;
	req.max_body = 64 * 1024;

	er = http_do(h, &req, resp, cause);

	upstream_auth_free(&a);
	free(profile);
	free(url);
	return er;
}
