/* login.c: new Kiro logins without the IDE (doc/protocol.md §1.1). */
#include "autoconfig.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "digest.h"
#include "http.h"
#include "json.h"
#include "login.h"
#include "rand.h"
#include "upstream.h"
#include "xmalloc.h"

#define LOGIN_TIMEOUT_MS	30000
#define LOGIN_DEFAULT_TTL	3600
#define DEVICE_GRANT		"urn:ietf:params:oauth:grant-type:device_code"

static const char *const idp_names[LOGIN_IDP__MAX] = { "Google", "Github" };

static const volatile sig_atomic_t	*cancel_flag;

void
login_set_cancel(const volatile sig_atomic_t *flag)
{
	cancel_flag = flag;
}

static int
cancel_tick(void *arg)
{
	(void)arg;
	return cancel_flag != NULL && *cancel_flag;
}

/*
 * The region for login calls: the one asked for, else auth region.  Only
 * an AWS region name goes into a host name (the callers that can fail
 * refuse any other; login_social_url falls back).
 */
static const char *
login_region(const struct config *cfg, const char *region)
{
	if (region != NULL && config_region_valid(region))
		return region;
	if (cfg->auth_region != NULL)
		return cfg->auth_region;
	return cfg->region;
}

static void
zero_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Reads camelCase or snake_case (peers disagree, §1.1). */
static const char *
get_either(json_object *obj, const char *camel, const char *snake)
{
	const char	*s;

	if (json_get_str(obj, camel, &s) == 1 && *s != '\0')
		return s;
	if (snake != NULL && json_get_str(obj, snake, &s) == 1 && *s != '\0')
		return s;
	return NULL;
}

static int64_t
get_seconds(json_object *obj, const char *camel, const char *snake,
    int64_t dflt, int64_t max)
{
	int64_t	v;

	if (json_get_int(obj, camel, &v) != 1 &&
	    (snake == NULL || json_get_int(obj, snake, &v) != 1))
		return dflt;
	if (v <= 0 || v > max)
		return dflt;
	return v;
}

/*
 * POSTs a JSON body; KF_OK with the parsed object of any answer that is
 * JSON (*status says which), KF_EUPSTREAM for one that is not.
 */
static enum kf_err
post_json(struct http *h, const struct config *cfg, const char *url,
    const struct buf *body, long *status, json_object **out,
    const char *what, char **cause)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		NULL
	};
	struct http_req		 req;
	struct http_resp	 resp;
	enum kf_err		 er;
	char			*text;

	*out = NULL;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body->ptr;
	req.body_len = body->len;
	req.proxy_url = cfg->proxy_url;
	req.proxy_username = cfg->proxy_username;
	req.proxy_password = cfg->proxy_password;
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.timeout_ms = LOGIN_TIMEOUT_MS;
	req.max_body = 256 * 1024;
	req.on_tick = cancel_tick;
	if ((er = http_do(h, &req, &resp, cause)) != KF_OK) {
		/* http_do's cause is about the transfer: say which step. */
		if (cause != NULL && *cause != NULL) {
			text = *cause;
			*cause = xasprintf("%s: %s", what, text);
			free(text);
		}
		goto out;
	}
	*status = resp.status;
	if (json_parse(resp.body.ptr, resp.body.len, 16, out, NULL) != KF_OK ||
	    !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		text = upstream_error_text(resp.body.ptr, resp.body.len);
		xsetprintf(cause, "%s: HTTP %ld: %s", what, resp.status, text);
		free(text);
		er = KF_EUPSTREAM;
	}
out:
	http_resp_free(&resp);
	return er;
}

/* "error: description" of an OAuth error answer, for a cause. */
static char *
oauth_error(json_object *o, long status)
{
	const char	*err, *desc;

	err = get_either(o, "error", NULL);
	desc = get_either(o, "error_description", "message");
	if (err == NULL && desc == NULL)
		return xasprintf("HTTP %ld", status);
	return xasprintf("%s%s%s", err != NULL ? err : "",
	    err != NULL && desc != NULL ? ": " : "", desc != NULL ? desc : "");
}

static void
put_str(struct buf *b, const char *key, const char *value, int first)
{
	if (!first)
		buf_putc(b, ',');
	buf_json_str(b, key, strlen(key));
	buf_putc(b, ':');
	buf_json_str(b, value, strlen(value));
}

void
login_device_free(struct login_device *d)
{
	free(d->region);
	free(d->client_id);
	zero_free(d->client_secret);
	zero_free(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->verification_uri_complete);
	memset(d, 0, sizeof(*d));
}

static enum kf_err
register_client(struct http *h, const struct config *cfg,
    struct login_device *d, char **cause)
{
	struct buf	 body = BUF_INIT;
	json_object	*o = NULL;
	const char	*id, *secret;
	char		*url, *text;
	long		 status = 0;
	enum kf_err	 er;

	url = config_url(cfg->oidc_base_url, d->region, "/client/register");
	buf_puts(&body, "{\"clientName\":\"Kiro IDE\",\"clientType\":\"public\","
	    "\"scopes\":[\"codewhisperer:completions\","
	    "\"codewhisperer:analysis\",\"codewhisperer:conversations\","
	    "\"codewhisperer:transformations\",\"codewhisperer:taskassist\"],"
	    "\"grantTypes\":[\"" DEVICE_GRANT "\",\"refresh_token\"],"
	    "\"issuerUrl\":\"" LOGIN_START_URL "\"}");
	if ((er = post_json(h, cfg, url, &body, &status, &o,
	    "OIDC client registration", cause)) != KF_OK)
		goto out;
	if (status != 200) {
		text = oauth_error(o, status);
		xsetprintf(cause, "OIDC client registration refused: %s", text);
		free(text);
		er = KF_EUPSTREAM;
		goto out;
	}
	if ((id = get_either(o, "clientId", "client_id")) == NULL ||
	    (secret = get_either(o, "clientSecret", "client_secret")) == NULL) {
		xsetprintf(cause, "OIDC client registration: the answer has no "
		    "clientId or clientSecret");
		er = KF_EUPSTREAM;
		goto out;
	}
	d->client_id = xstrdup(id);
	d->client_secret = xstrdup(secret);
out:
	json_object_put(o);
	buf_free(&body);
	free(url);
	return er;
}

enum kf_err
login_device_start(struct http *h, const struct config *cfg,
    const char *region, struct login_device *d, char **cause)
{
	struct buf	 body = BUF_INIT;
	json_object	*o = NULL;
	const char	*code, *user, *uri, *full;
	char		*url = NULL, *text;
	long		 status = 0;
	enum kf_err	 er;

	memset(d, 0, sizeof(*d));
	if ((er = config_region_check("region", region, cause)) != KF_OK)
		return er;
	d->region = xstrdup(login_region(cfg, region));
	if ((er = register_client(h, cfg, d, cause)) != KF_OK)
		goto out;
	url = config_url(cfg->oidc_base_url, d->region,
	    "/device_authorization");
	buf_putc(&body, '{');
	put_str(&body, "clientId", d->client_id, 1);
	put_str(&body, "clientSecret", d->client_secret, 0);
	put_str(&body, "startUrl", LOGIN_START_URL, 0);
	buf_putc(&body, '}');
	if ((er = post_json(h, cfg, url, &body, &status, &o,
	    "device authorization", cause)) != KF_OK)
		goto out;
	if (status != 200) {
		text = oauth_error(o, status);
		xsetprintf(cause, "device authorization refused: %s", text);
		free(text);
		er = KF_EUPSTREAM;
		goto out;
	}
	code = get_either(o, "deviceCode", "device_code");
	user = get_either(o, "userCode", "user_code");
	uri = get_either(o, "verificationUri", "verification_uri");
	full = get_either(o, "verificationUriComplete",
	    "verification_uri_complete");
	if (code == NULL || user == NULL || (uri == NULL && full == NULL)) {
		xsetprintf(cause, "device authorization: the answer lacks "
		    "deviceCode, userCode or verificationUri");
		er = KF_EUPSTREAM;
		goto out;
	}
	d->device_code = xstrdup(code);
	d->user_code = xstrdup(user);
	d->verification_uri = xstrdup(uri != NULL ? uri : full);
	d->verification_uri_complete = xstrdup(full != NULL ? full : uri);
	d->interval = get_seconds(o, "interval", NULL, 5, 300);
	d->expires_at = clock_now() + get_seconds(o, "expiresIn",
	    "expires_in", 600, 86400);
out:
	json_object_put(o);
	explicit_bzero(body.ptr, body.len);
	buf_free(&body);
	free(url);
	return er;
}

/* Fills a credential from a token answer (device or social). */
static enum kf_err
grant_to_cred(json_object *o, enum cred_auth auth, struct cred *out,
    const char *what, char **cause)
{
	const char	*access, *refresh, *arn;

	access = get_either(o, "accessToken", "access_token");
	refresh = get_either(o, "refreshToken", "refresh_token");
	if (access == NULL || refresh == NULL) {
		xsetprintf(cause, "%s: the answer has no %s", what,
		    access == NULL ? "accessToken" : "refreshToken");
		return KF_EUPSTREAM;
	}
	cred_init(out);
	out->auth_method = auth;
	out->access_token = xstrdup(access);
	out->refresh_token = xstrdup(refresh);
	if ((arn = get_either(o, "profileArn", "profile_arn")) != NULL)
		out->profile_arn = xstrdup(arn);
	out->expires_at = clock_now() + get_seconds(o, "expiresIn",
	    "expires_in", LOGIN_DEFAULT_TTL, 366L * 86400);
	out->source = xstrdup("cli");
	return KF_OK;
}

/* The device poll answers that matter (RFC 8628 §3.5). */
enum dev_error {
	DEV_PENDING,
	DEV_SLOW_DOWN,
	DEV_DENIED,
	DEV_EXPIRED,
	DEV__MAX
};

/*
 * Reads the OAuth "error", or else the AWS exception name ("__type",
 * e.g. "AuthorizationPendingException" or "com.amazon...#SlowDown...").
 */
static enum dev_error
device_error(json_object *o)
{
	static const struct {
		const char	*oauth;
		const char	*aws;
	} names[DEV__MAX] = {
		{ "authorization_pending", "AuthorizationPendingException" },
		{ "slow_down", "SlowDownException" },
		{ "access_denied", "AccessDeniedException" },
		{ "expired_token", "ExpiredTokenException" },
	};
	const char	*err, *type;
	int		 i;

	err = get_either(o, "error", NULL);
	type = get_either(o, "__type", NULL);
	for (i = 0; i < DEV__MAX; i++) {
		if (err != NULL && strcmp(err, names[i].oauth) == 0)
			return i;
		if (err == NULL && type != NULL &&
		    strstr(type, names[i].aws) != NULL)
			return i;
	}
	return DEV__MAX;
}

enum kf_err
login_device_poll(struct http *h, const struct config *cfg,
    struct login_device *d, enum login_step *step, struct cred *out,
    char **cause)
{
	struct buf	 body = BUF_INIT;
	struct cred	 c;
	json_object	*o = NULL;
	char		*url, *text;
	long		 status = 0;
	enum kf_err	 er;

	*step = LOGIN_PENDING;
	if (clock_now() >= d->expires_at) {
		xsetprintf(cause, "the device code expired before the login "
		    "was approved: start again");
		return KF_ELOGIN;
	}
	url = config_url(cfg->oidc_base_url, d->region, "/token");
	buf_putc(&body, '{');
	put_str(&body, "clientId", d->client_id, 1);
	put_str(&body, "clientSecret", d->client_secret, 0);
	put_str(&body, "deviceCode", d->device_code, 0);
	put_str(&body, "grantType", DEVICE_GRANT, 0);
	buf_putc(&body, '}');
	if ((er = post_json(h, cfg, url, &body, &status, &o,
	    "device token", cause)) != KF_OK)
		goto out;
	if (status == 200) {
		if ((er = grant_to_cred(o, CRED_AUTH_IDC, &c, "device token",
		    cause)) != KF_OK)
			goto out;
		c.client_id = xstrdup(d->client_id);
		c.client_secret = xstrdup(d->client_secret);
		c.region = xstrdup(d->region);
		*out = c;
		*step = LOGIN_DONE;
		goto out;
	}
	switch (status >= 400 && status < 500 ? device_error(o) : DEV__MAX) {
	case DEV_PENDING:
		goto out;
	case DEV_SLOW_DOWN:
		d->interval += LOGIN_SLOW_DOWN_STEP;
		*step = LOGIN_SLOW_DOWN;
		goto out;
	case DEV_DENIED:
		xsetprintf(cause, "the login was denied in the browser "
		    "(access_denied)");
		er = KF_ELOGIN;
		break;
	case DEV_EXPIRED:
		xsetprintf(cause, "the device code expired before the login "
		    "was approved (expired_token): start again");
		er = KF_ELOGIN;
		break;
	default:
		text = oauth_error(o, status);
		xsetprintf(cause, "device token refused: %s", text);
		free(text);
		er = KF_EUPSTREAM;
		break;
	}
out:
	json_object_put(o);
	explicit_bzero(body.ptr, body.len);
	buf_free(&body);
	free(url);
	return er;
}

int
login_idp_parse(const char *s, enum login_idp *out)
{
	int	i;

	for (i = 0; i < LOGIN_IDP__MAX; i++) {
		if (strcasecmp(s, idp_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

const char *
login_idp_name(enum login_idp idp)
{
	return idp >= 0 && idp < LOGIN_IDP__MAX ? idp_names[idp] : "?";
}

/* base64url of 32 random bytes into out. */
static void
random_b64(char out[LOGIN_B64_32])
{
	struct buf	b = BUF_INIT;
	unsigned char	raw[32];

	rand_bytes(raw, sizeof(raw));
	base64url_encode(&b, raw, sizeof(raw));
	snprintf(out, LOGIN_B64_32, "%s", b.ptr);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(b.ptr, b.len);
	buf_free(&b);
}

void
login_pkce_challenge(const char *verifier, char out[LOGIN_B64_32])
{
	struct buf	b = BUF_INIT;
	unsigned char	md[SHA256_LEN];

	sha256(verifier, strlen(verifier), md);
	base64url_encode(&b, md, sizeof(md));
	snprintf(out, LOGIN_B64_32, "%s", b.ptr);
	buf_free(&b);
}

void
login_pkce_new(struct login_pkce *p)
{
	random_b64(p->verifier);
	random_b64(p->state);
	login_pkce_challenge(p->verifier, p->challenge);
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static void
url_escape(struct buf *b, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' ||
		    *p == '~')
			buf_putc(b, *p);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 0xf]);
		}
	}
}

char *
login_social_url(const struct config *cfg, const char *region,
    enum login_idp idp, const char *redirect_uri, const struct login_pkce *p)
{
	struct buf	 b = BUF_INIT;
	char		*base;

	base = config_url(cfg->auth_base_url, login_region(cfg, region),
	    "/login");
	buf_printf(&b, "%s?idp=%s&redirect_uri=", base, login_idp_name(idp));
	url_escape(&b, redirect_uri);
	buf_puts(&b, "&code_challenge=");
	url_escape(&b, p->challenge);
	buf_puts(&b, "&code_challenge_method=S256&state=");
	url_escape(&b, p->state);
	free(base);
	return buf_detach(&b);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes one query value (%XX, '+'); NULL for a broken escape. */
static char *
url_unescape(const char *s, size_t len)
{
	struct buf	b = BUF_INIT;
	size_t		i;
	int		hi, lo;

	buf_puts(&b, "");
	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			buf_putc(&b, ' ');
		else if (s[i] != '%')
			buf_putc(&b, s[i]);
		else {
			if (i + 2 >= len)
				goto bad;
			if ((hi = hexval((unsigned char)s[i + 1])) == -1 ||
			    (lo = hexval((unsigned char)s[i + 2])) == -1 ||
			    (hi == 0 && lo == 0))
				goto bad;
			buf_putc(&b, (char)(hi << 4 | lo));
			i += 2;
		}
	}
	return buf_detach(&b);
bad:
	buf_free(&b);
	return NULL;
}

/* The value of key in a query string (no '?'); NULL if absent. */
static int
query_get(const char *query, const char *key, char **out)
{
	const char	*p = query, *amp, *eq;
	size_t		 klen = strlen(key), len;

	*out = NULL;
	while (*p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (eq != NULL && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0) {
			*out = url_unescape(eq + 1, len - klen - 1);
			return *out != NULL ? 1 : -1;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return 0;
}

enum kf_err
login_parse_redirect(const char *url, const char *state, char **code,
    char **cause)
{
	const char	*q;
	char		*query, *got_state = NULL, *got_code = NULL;
	char		*error = NULL, *desc = NULL;
	size_t		 len;
	enum kf_err	 er = KF_EINVAL;
	int		 rc;

	*code = NULL;
	while (isspace((unsigned char)*url))
		url++;
	len = strlen(url);
	while (len > 0 && isspace((unsigned char)url[len - 1]))
		len--;
	if (len == 0) {
		xsetprintf(cause, "no redirect URL was given");
		return KF_EINVAL;
	}
	/* A query alone ("code=...&state=...") is fine too. */
	if ((q = memchr(url, '?', len)) != NULL)
		q++;
	else if (memchr(url, '=', len) != NULL && memchr(url, '/', len) == NULL)
		q = url;
	else {
		xsetprintf(cause, "the redirect URL has no query (?code=...&"
		    "state=...): copy the whole address from the browser");
		return KF_EINVAL;
	}
	query = xstrndup(q, len - (size_t)(q - url));
	/* A fragment is not part of the query. */
	query[strcspn(query, "#")] = '\0';
	/*
	 * The state first, also for an error: anyone can send a refusal,
	 * and only this login's own may end it (KF_ELOGIN).
	 */
	if ((rc = query_get(query, "state", &got_state)) != 1) {
		xsetprintf(cause, rc == 0 ? "the redirect URL has no state= "
		    "(was it cut off when copied?)" : "the redirect URL's "
		    "state= is badly escaped (was it cut off when copied?)");
		goto out;
	}
	if (!secret_equal(got_state, state)) {
		xsetprintf(cause, "the redirect URL's state does not match "
		    "this login (cut off, or from another login attempt)");
		goto out;
	}
	if (query_get(query, "error", &error) == 1) {
		(void)query_get(query, "error_description", &desc);
		xsetprintf(cause, "the sign-in was refused: %s%s%s", error,
		    desc != NULL ? ": " : "", desc != NULL ? desc : "");
		er = KF_ELOGIN;
		goto out;
	}
	if ((rc = query_get(query, "code", &got_code)) != 1 ||
	    *got_code == '\0') {
		xsetprintf(cause, rc == -1 ? "the redirect URL's code= is "
		    "badly escaped (was it cut off when copied?)" :
		    "the redirect URL has no code= (was it cut off when "
		    "copied?)");
		goto out;
	}
	*code = got_code;
	got_code = NULL;
	er = KF_OK;
out:
	zero_free(got_code);
	free(got_state);
	free(error);
	free(desc);
	explicit_bzero(query, strlen(query));
	free(query);
	return er;
}

enum kf_err
login_social_exchange(struct http *h, const struct config *cfg,
    const char *region, const char *code, const char *verifier,
    const char *redirect_uri, struct cred *out, char **cause)
{
	struct buf	 body = BUF_INIT;
	json_object	*o = NULL;
	char		*url, *text;
	long		 status = 0;
	enum kf_err	 er;

	if ((er = config_region_check("region", region, cause)) != KF_OK)
		return er;
	url = config_url(cfg->auth_base_url, login_region(cfg, region),
	    "/oauth/token");
	buf_putc(&body, '{');
	put_str(&body, "code", code, 1);
	put_str(&body, "code_verifier", verifier, 0);
	put_str(&body, "redirect_uri", redirect_uri, 0);
	put_str(&body, "grant_type", "authorization_code", 0);
	buf_putc(&body, '}');
	if ((er = post_json(h, cfg, url, &body, &status, &o,
	    "code exchange", cause)) != KF_OK)
		goto out;
	if (status != 200) {
		text = oauth_error(o, status);
		xsetprintf(cause, "the login code was refused: %s", text);
		free(text);
		er = status == 400 || status == 401 || status == 403 ?
		    KF_ELOGIN : KF_EUPSTREAM;
		goto out;
	}
	er = grant_to_cred(o, CRED_AUTH_SOCIAL, out, "code exchange", cause);
	/* Only a region asked for: the configured one may change later. */
	if (er == KF_OK && region != NULL && *region != '\0')
		out->region = xstrdup(region);
out:
	json_object_put(o);
	explicit_bzero(body.ptr, body.len);
	buf_free(&body);
	free(url);
	return er;
}
