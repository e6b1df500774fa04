/* admin-keys.c: the admin API's client key routes (/api/admin/keys...). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "admin-keys.h"
#include "admin-int.h"
#include "buf.h"
#include "clientkeys.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "request.h"

#define KEYS_JSON_DEPTH	8

enum keys_action {
	KEYS_LIST,
	KEYS_ADD,
	KEYS_DISABLED,
	KEYS_ROTATE,
	KEYS_REMOVE,
	KEYS__MAX
};

static void
reply_failure(struct request *req, enum kf_err er, const char *why)
{
	const char	*msg = why != NULL ? why : kf_strerror(er);

	switch (er) {
	case KF_EINVAL:
		/* clientkeys_add's only refusal that is not the body's. */
		if (strstr(msg, " exists") != NULL)
			admin_error(req, AE_CONFLICT, "%s", msg);
		else
			admin_error(req, AE_INVALID, "%s", msg);
		break;
	case KF_ENOTFOUND:
		admin_error(req, AE_NOT_FOUND, "%s", msg);
		break;
	default:
		admin_error(req, AE_INTERNAL, "%s", msg);
		break;
	}
}

int
admin_keys_path(const char *rest)
{
	return strncmp(rest, "keys", 4) == 0 && (rest[4] == '\0' ||
	    rest[4] == '/');
}

/*
 * The action for method and rest, with the {name} segment in name;
 * KEYS__MAX when none: *allow then lists the methods the path takes
 * ("" when the path is no route at all).
 */
static enum keys_action
find_action(const char *method, const char *rest, char *name, size_t size,
    const char **allow)
{
	const char	*p, *slash, *tail;
	size_t		 len;

	*allow = "";
	name[0] = '\0';
	if (strcmp(rest, "keys") == 0) {
		*allow = "GET, POST";
		if (strcmp(method, "GET") == 0)
			return KEYS_LIST;
		return strcmp(method, "POST") == 0 ? KEYS_ADD : KEYS__MAX;
	}
	p = rest + 5;
	slash = strchr(p, '/');
	len = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (len == 0 || len >= size)
		return KEYS__MAX;
	memcpy(name, p, len);
	name[len] = '\0';
	tail = slash != NULL ? slash + 1 : NULL;
	if (tail == NULL) {
		*allow = "DELETE";
		return strcmp(method, "DELETE") == 0 ? KEYS_REMOVE : KEYS__MAX;
	}
	if (strcmp(tail, "disabled") == 0 || strcmp(tail, "rotate") == 0) {
		*allow = "POST";
		if (strcmp(method, "POST") != 0)
			return KEYS__MAX;
		return tail[0] == 'd' ? KEYS_DISABLED : KEYS_ROTATE;
	}
	return KEYS__MAX;
}

/* Reads the JSON object body; on failure it answers and returns NULL. */
static json_object *
read_object(struct request *req, request_read_fn reader, void *stream)
{
	json_object	*o = NULL;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = request_read_body(req, reader, stream, ADMIN_MAX_BODY,
	    &why)) != KF_OK) {
		if (er == KF_ETOOLARGE)
			admin_error(req, AE_TOO_LARGE, "the request "
			    "body is over the admin API's limit");
		else
			admin_error(req, AE_INVALID, "%s", why);
		free(why);
		return NULL;
	}
	if (req->body.len == 0) {
		admin_error(req, AE_INVALID, "the request needs a "
		    "JSON body");
		return NULL;
	}
	if (json_parse(req->body.ptr, req->body.len, KEYS_JSON_DEPTH, &o,
	    &why) != KF_OK) {
		admin_error(req, AE_INVALID, "malformed JSON body: "
		    "%s", why);
		free(why);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		admin_error(req, AE_INVALID, "the body must be a "
		    "JSON object, not %s", json_type_label(o));
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A limit field: absent is 0; else a whole number 0 .. max. */
static int
limit_field(struct request *req, json_object *body, const char *field,
    long long max, long long *out)
{
	int64_t	v;
	int	got = json_get_int(body, field, &v);

	*out = 0;
	if (got == 0)
		return 0;
	if (got == -1 || v < 0 || v > max) {
		admin_error(req, AE_INVALID, "field \"%s\" must be "
		    "a whole number from 0 (no limit) to %lld", field, max);
		return -1;
	}
	*out = (long long)v;
	return 0;
}

/* "models": an array of globs or one comma-separated string. */
static int
models_field(struct request *req, json_object *body, struct clientkey *k)
{
	json_object	*v, *g;
	struct buf	 text = BUF_INIT;
	size_t		 i, n;
	int		 rc = -1;

	if (!json_object_object_get_ex(body, "models", &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string))
		buf_puts(&text, json_object_get_string(v));
	else if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n && i <= CLIENTKEYS_GLOBS_MAX; i++) {
			g = json_object_array_get_idx(v, i);
			if (!json_object_is_type(g, json_type_string) ||
			    strchr(json_object_get_string(g), ',') != NULL) {
				admin_error(req, AE_INVALID,
				    "field \"models\": item %zu must be a glob "
				    "string without commas", i);
				goto out;
			}
			if (i > 0)
				buf_putc(&text, ',');
			buf_puts(&text, json_object_get_string(g));
		}
	} else {
		admin_error(req, AE_INVALID, "field \"models\" must "
		    "be an array of globs");
		goto out;
	}
	if (text.len > CLIENTKEYS_MODELS_MAX) {
		admin_error(req, AE_INVALID, "field \"models\": "
		    "over %d bytes", CLIENTKEYS_MODELS_MAX);
		goto out;
	}
	if (text.len > 0)
		memcpy(k->models, text.ptr, text.len + 1);
	rc = 0;
out:
	buf_free(&text);
	return rc;
}

static const char *const add_fields[] = {
	"name", "models", "rpm", "monthlyRequests", "monthlyTokens", "expires",
	NULL
};

/* The new key's spec from the body; on failure it answers. */
static int
spec_from_body(struct request *req, json_object *body, struct clientkey *k)
{
	const char	*name, *expires;
	long long	 rpm;
	size_t		 i;
	int		 got;

	memset(k, 0, sizeof(*k));
	json_object_object_foreach(body, field, value) {
		(void)value;
		for (i = 0; add_fields[i] != NULL; i++)
			if (strcmp(field, add_fields[i]) == 0)
				break;
		if (add_fields[i] == NULL) {
			admin_error(req, AE_INVALID, "unknown field "
			    "\"%.40s\" (a key takes name, models, rpm, "
			    "monthlyRequests, monthlyTokens and expires)",
			    field);
			return -1;
		}
	}
	if (json_get_str(body, "name", &name) != 1 ||
	    strlen(name) >= sizeof(k->name) || !clientkeys_name_ok(name)) {
		admin_error(req, AE_INVALID, "field \"name\" must "
		    "be 1 to %d of [A-Za-z0-9._-], not \"%s\"",
		    CLIENTKEYS_NAME_MAX, CLIENTKEYS_DEFAULT);
		return -1;
	}
	memcpy(k->name, name, strlen(name) + 1);
	if (models_field(req, body, k) == -1 ||
	    limit_field(req, body, "rpm", CLIENTKEYS_RPM_MAX, &rpm) == -1 ||
	    limit_field(req, body, "monthlyRequests", CLIENTKEYS_QUOTA_MAX,
	    &k->monthly_requests) == -1 ||
	    limit_field(req, body, "monthlyTokens", CLIENTKEYS_QUOTA_MAX,
	    &k->monthly_tokens) == -1)
		return -1;
	k->rpm = (long)rpm;
	if ((got = json_get_str(body, "expires", &expires)) == -1 ||
	    (got == 1 && clientkeys_parse_date(expires, &k->expires) == -1)) {
		admin_error(req, AE_INVALID, "field \"expires\" "
		    "must be a date as YYYY-MM-DD, or null");
		return -1;
	}
	return 0;
}

/* 201/200 with the key's public view and, this once, the key. */
static void
reply_key(struct store *st, struct request *req, int status,
    const char *name, char key[CLIENTKEYS_KEY_LEN + 1])
{
	struct clientkey	 k;
	json_object		*o;
	struct buf		 b = BUF_INIT;
	char			*why = NULL;

	if (clientkeys_get(st, name, &k, &why) != KF_OK) {
		reply_failure(req, KF_ESTORE, why);
		free(why);
		return;
	}
	o = clientkeys_public_json(&k, clock_now());
	json_object_object_add(o, "key", json_str(key));
	json_to_buf(o, &b);
	(void)out_response(&req->out, status, "application/json", NULL,
	    b.ptr, b.len);
	explicit_bzero(b.ptr, b.len);
	buf_free(&b);
	/* json-c keeps its own copy of the key: wipe it before the put. */
	json_object_set_string(json_object_object_get(o, "key"), "");
	json_object_put(o);
}

/* 200 with the key's public view. */
static void
reply_key_state(struct store *st, struct request *req, const char *name)
{
	struct clientkey	 k;
	json_object		*o;
	char			*why = NULL;
	enum kf_err		 er;

	if ((er = clientkeys_get(st, name, &k, &why)) != KF_OK) {
		reply_failure(req, er, why);
		free(why);
		return;
	}
	o = clientkeys_public_json(&k, clock_now());
	admin_reply(req, 200, o, NULL);
	json_object_put(o);
}

static void
list_keys(struct store *st, struct request *req)
{
	struct clientkey	*keys;
	json_object		*o, *arr;
	char			*why = NULL;
	time_t			 now = clock_now();
	size_t			 i, n;

	if (clientkeys_list(st, &keys, &n, &why) != KF_OK) {
		reply_failure(req, KF_ESTORE, why);
		free(why);
		return;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, clientkeys_public_json(&keys[i], now));
	o = json_object_new_object();
	json_object_object_add(o, "keys", arr);
	admin_reply(req, 200, o, NULL);
	json_object_put(o);
	free(keys);
}

static void
add_key(struct store *st, struct request *req, json_object *body)
{
	struct clientkey	 k;
	char			 key[CLIENTKEYS_KEY_LEN + 1], *why = NULL;
	enum kf_err		 er;

	if (spec_from_body(req, body, &k) == -1)
		return;
	if ((er = clientkeys_add(st, &k, key, &why)) != KF_OK) {
		reply_failure(req, er, why);
		free(why);
		return;
	}
	log_info("admin: client key %s added", k.name);
	reply_key(st, req, 201, k.name, key);
	explicit_bzero(key, sizeof(key));
}

static void
set_disabled(struct store *st, struct request *req, const char *name,
    json_object *body)
{
	char		*why = NULL;
	int		 disabled;
	enum kf_err	 er;

	if (json_get_bool(body, "disabled", &disabled) != 1) {
		admin_error(req, AE_INVALID, "field \"disabled\" "
		    "must be true or false");
		return;
	}
	if ((er = clientkeys_set_disabled(st, name, disabled, &why)) !=
	    KF_OK) {
		reply_failure(req, er, why);
		free(why);
		return;
	}
	log_info("admin: client key %s %s", name, disabled ? "disabled" :
	    "enabled");
	reply_key_state(st, req, name);
}

static void
rotate_key(struct store *st, struct request *req, const char *name)
{
	char		 key[CLIENTKEYS_KEY_LEN + 1], *why = NULL;
	enum kf_err	 er;

	if ((er = clientkeys_rotate(st, name, key, &why)) != KF_OK) {
		reply_failure(req, er, why);
		free(why);
		return;
	}
	log_info("admin: client key %s rotated", name);
	reply_key(st, req, 200, name, key);
	explicit_bzero(key, sizeof(key));
}

static void
remove_key(struct store *st, struct request *req, const char *name)
{
	json_object	*o;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = clientkeys_remove(st, name, &why)) != KF_OK) {
		reply_failure(req, er, why);
		free(why);
		return;
	}
	log_info("admin: client key %s removed", name);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message", json_str("client key removed"));
	admin_reply(req, 200, o, NULL);
	json_object_put(o);
}

/* 405, with the methods the path takes (RFC 9110 15.5.6). */
static void
method_not_allowed(struct request *req, const char *allow)
{
	json_object	*o, *e;
	struct buf	 b = BUF_INIT;
	char		 header[64];

	snprintf(header, sizeof(header), "Allow: %s\r\n", allow);
	e = json_object_new_object();
	json_object_object_add(e, "type", json_str("invalid_request"));
	json_object_object_add(e, "message", json_str("method not allowed for "
	    "this route"));
	o = json_object_new_object();
	json_object_object_add(o, "error", e);
	json_to_buf(o, &b);
	(void)out_response(&req->out, 405, "application/json", header, b.ptr,
	    b.len);
	buf_free(&b);
	json_object_put(o);
}

void
admin_keys_serve(struct store *st, struct request *req, const char *rest,
    request_read_fn reader, void *stream)
{
	json_object		*body = NULL;
	const char		*allow;
	char			 name[CLIENTKEYS_NAME_MAX + 2];
	enum keys_action	 action;

	action = find_action(req->method, rest, name, sizeof(name), &allow);
	if (action == KEYS__MAX) {
		if (*allow == '\0') {
			admin_error(req, AE_NOT_FOUND, "no admin route for "
			    "%s %s", req->method, req->path);
			return;
		}
		method_not_allowed(req, allow);
		return;
	}
	if ((action == KEYS_ADD || action == KEYS_DISABLED) &&
	    (body = read_object(req, reader, stream)) == NULL)
		return;
	switch (action) {
	case KEYS_LIST:
		list_keys(st, req);
		break;
	case KEYS_ADD:
		add_key(st, req, body);
		break;
	case KEYS_DISABLED:
		set_disabled(st, req, name, body);
		break;
	case KEYS_ROTATE:
		rotate_key(st, req, name);
		break;
	case KEYS_REMOVE:
		remove_key(st, req, name);
		break;
	case KEYS__MAX:
		break;
	}
	json_object_put(body);
}
