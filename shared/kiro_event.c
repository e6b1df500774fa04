/* kiro_event.c: what each event-stream frame from Kiro means (protocol §5). */
#include "autoconfig.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "eventstream.h"
#include "json.h"
#include "kiro_event.h"
#include "xmalloc.h"

/*
 * Everything a struct kiro_event points to lives here until the next parse:
 * strings from the payload stay inside last (or flat's arena), strings
 * from headers or raw payloads are copied into the bufs.
 */
/*
 * Tool inputs arrive as strings, so event payloads are shallow; a small
 * depth keeps the reused tokener's stack small.
 */
#define EVENT_MAX_DEPTH	64
/* A flat arena bigger than this is freed before the next frame. */
#define FLAT_KEEP	(64u * 1024)

struct kiro_event_parser {
	struct json_parser *json;	/* one tokener for the whole stream */
	json_object	*last;		/* the last payload parsed */
	struct json_flat flat;		/* or its members, when it is flat */
	struct es_str	 event_type;	/* the frame's, borrowed */
	int		 have_kind;	/* kind holds event_type */
	struct buf	 kind;		/* event, exception or error type */
	struct buf	 text;		/* message from a header or raw payload */
	struct buf	 input;		/* a tool input object, serialised */
};

/*
 * A payload object: most frames are one flat object (a text delta, a tool
 * input fragment), read from its members without a json-c tree
 * (json_flat_parse); the others are a json-c tree.  The handlers read
 * either through the obj_* accessors, with json_get_*'s rules.
 */
struct ev_obj {
	json_object		*jo;	/* NULL: flat */
	const struct json_flat	*flat;
};

typedef enum kf_err (*event_fn)(struct kiro_event_parser *,
    const struct ev_obj *, struct kiro_event *, char **);

static enum kf_err	ev_assistant(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_code(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_tool_use(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_reasoning(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_metering(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_context_usage(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_metadata(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);
static enum kf_err	ev_metrics(struct kiro_event_parser *,
			    const struct ev_obj *, struct kiro_event *, char **);

/*
 * The event types with a payload worth reading.  Anything else, known to be
 * useless (codeReferenceEvent, followupPromptEvent, ...) or unknown, is
 * IGNORED without looking at the payload.  messageStopEvent may have an
 * empty payload, so it is decided on its name alone.
 */
#define EV_NAME(s)	s, sizeof(s) - 1
static const struct {
	const char	*name;
	size_t		 len;	/* no strlen per frame (#13) */
	event_fn	 fn;
} event_types[] = {
	{ EV_NAME("assistantResponseEvent"),	ev_assistant },
	{ EV_NAME("codeEvent"),			ev_code },
	{ EV_NAME("toolUseEvent"),		ev_tool_use },
	{ EV_NAME("reasoningContentEvent"),	ev_reasoning },
	{ EV_NAME("meteringEvent"),		ev_metering },
	{ EV_NAME("contextUsageEvent"),		ev_context_usage },
	{ EV_NAME("metadataEvent"),		ev_metadata },
	{ EV_NAME("messageMetadataEvent"),	ev_metadata },
	{ EV_NAME("metricsEvent"),		ev_metrics },
};

static const char *const event_type_names[KIRO_EV__MAX] = {
	"text", "tool_use", "reasoning", "metering", "context_usage",
	"stop_reason", "metrics", "token_usage", "end", "exception", "error",
	"ignored"
};

const char *
kiro_event_type_name(enum kiro_event_type type)
{
	if ((unsigned int)type >= KIRO_EV__MAX)
		return "unknown";
	return event_type_names[type];
}

struct kiro_event_parser *
kiro_event_parser_new(void)
{
	struct kiro_event_parser	*kp;

	kp = xcalloc(1, sizeof(*kp));
	kp->json = json_parser_new(EVENT_MAX_DEPTH);
	return kp;
}

void
kiro_event_parser_free(struct kiro_event_parser *kp)
{
	if (kp == NULL)
		return;
	json_object_put(kp->last);
	json_parser_free(kp->json);
	json_flat_free(&kp->flat);
	buf_free(&kp->kind);
	buf_free(&kp->text);
	buf_free(&kp->input);
	free(kp);
}

void
kiro_event_parser_reset(struct kiro_event_parser *kp)
{
	json_object_put(kp->last);
	kp->last = NULL;
	if (kp->flat.arena.cap > FLAT_KEEP)
		json_flat_free(&kp->flat);
	buf_reset(&kp->kind);
	buf_reset(&kp->text);
	buf_free(&kp->input);
	kp->have_kind = 0;
	kp->event_type.ptr = NULL;
	kp->event_type.len = 0;
}

/* Copies a header or payload slice into b and returns it terminated. */
static const char *
slice_copy(struct buf *b, struct es_str s)
{
	buf_reset(b);
	if (s.len > 0)
		buf_append(b, s.ptr, s.len);
	return buf_cstr(b);
}

/*
 * The frame's event type as a string, for the events that name it
 * (IGNORED, a metadata cause): copied on first use, not for every frame.
 */
static const char *
event_kind(struct kiro_event_parser *kp)
{
	if (!kp->have_kind) {
		slice_copy(&kp->kind, kp->event_type);
		kp->have_kind = 1;
	}
	return kp->kind.ptr;
}

/* The flat member of key that is not null, or NULL. */
static const struct json_flat_member *
flat_member(const struct ev_obj *o, const char *key)
{
	const struct json_flat_member	*m;

	m = json_flat_get(o->flat, key);
	return m != NULL && m->type != JSON_FLAT_NULL ? m : NULL;
}

/* 1 when key is there and not null. */
static int
obj_present(const struct ev_obj *o, const char *key)
{
	json_object	*v;

	if (o->jo == NULL)
		return flat_member(o, key) != NULL;
	return json_object_object_get_ex(o->jo, key, &v) && v != NULL;
}

/*
 * As json_get_str, with the length (strings may hold "\u0000"): 1 when a
 * string, 0 when absent or null, -1 when another type.
 */
static int
obj_str(const struct ev_obj *o, const char *key, const char **out,
    size_t *len)
{
	const struct json_flat_member	*m;
	json_object			*v;

	if (o->jo == NULL) {
		if ((m = flat_member(o, key)) == NULL)
			return 0;
		if (m->type != JSON_FLAT_STRING)
			return -1;
		*out = m->str;
		if (len != NULL)
			*len = m->len;
		return 1;
	}
	if (!json_object_object_get_ex(o->jo, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = json_object_get_string(v);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return 1;
}

/* json_get_num. */
static int
obj_num(const struct ev_obj *o, const char *key, double *out)
{
	const struct json_flat_member	*m;

	if (o->jo != NULL)
		return json_get_num(o->jo, key, out);
	if ((m = flat_member(o, key)) == NULL)
		return 0;
	if (m->type != JSON_FLAT_INT && m->type != JSON_FLAT_DOUBLE)
		return -1;
	*out = m->d;
	return 1;
}

/* json_get_int: an integer, or a double with an integral value. */
static int
obj_int(const struct ev_obj *o, const char *key, int64_t *out)
{
	const struct json_flat_member	*m;

	if (o->jo != NULL)
		return json_get_int(o->jo, key, out);
	if ((m = flat_member(o, key)) == NULL)
		return 0;
	if (m->type == JSON_FLAT_INT) {
		*out = m->i;
		return 1;
	}
	if (m->type == JSON_FLAT_DOUBLE && m->d >= -9.0e18 &&
	    m->d <= 9.0e18 && m->d == (double)(int64_t)m->d) {
		*out = (int64_t)m->d;
		return 1;
	}
	return -1;
}

/* json_get_bool. */
static int
obj_bool(const struct ev_obj *o, const char *key, int *out)
{
	const struct json_flat_member	*m;

	if (o->jo != NULL)
		return json_get_bool(o->jo, key, out);
	if ((m = flat_member(o, key)) == NULL)
		return 0;
	if (m->type != JSON_FLAT_BOOL)
		return -1;
	*out = (int)m->i;
	return 1;
}

/* json_get_obj: a flat object holds none, so -1 when key is there. */
static int
obj_obj(const struct ev_obj *o, const char *key, json_object **out)
{
	if (o->jo != NULL)
		return json_get_obj(o->jo, key, out);
	return flat_member(o, key) != NULL ? -1 : 0;
}

/* json_type_label of key's value ("null" when absent). */
static const char *
obj_label(const struct ev_obj *o, const char *key)
{
	static const char *const	 labels[JSON_FLAT__MAX] = {
		"null", "boolean", "number", "number", "string"
	};
	const struct json_flat_member	*m;
	json_object			*v = NULL;

	if (o->jo == NULL)
		return (m = json_flat_get(o->flat, key)) == NULL ? "null" :
		    labels[m->type];
	json_object_object_get_ex(o->jo, key, &v);
	return json_type_label(v);
}

static enum kf_err
wrong_type(char **cause, const char *event, const char *key,
    const struct ev_obj *o)
{
	const char	*label = obj_label(o, key);

	xsetprintf(cause, "%s: %s is %s %s", event, key,
	    strcmp(label, "array") == 0 || strcmp(label, "object") == 0 ?
	    "an" : "a", label);
	return KF_EUPSTREAM;
}

/* content as the text; absent is an empty delta, which the relay skips. */
static enum kf_err
text_content(const struct ev_obj *jo, const char *event, struct kiro_event *ev,
    char **cause)
{
	switch (obj_str(jo, "content", &ev->text, &ev->text_len)) {
	case 1:
		break;
	case 0:
		ev->text = "";
		ev->text_len = 0;
		break;
	default:
		return wrong_type(cause, event, "content", jo);
	}
	ev->type = KIRO_EV_TEXT;
	return KF_OK;
}

static enum kf_err
ev_assistant(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	/* IDE suggestions, not the answer (AIC and a Go peer drop them). */
	if (obj_present(jo, "followupPrompt")) {
		ev->type = KIRO_EV_IGNORED;
		ev->kind = event_kind(kp);
		return KF_OK;
	}
	return text_content(jo, "assistantResponseEvent", ev, cause);
}

static enum kf_err
ev_code(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	return text_content(jo, "codeEvent", ev, cause);
}

/*
 * One fragment of a tool call (§5 "Tool input fragments").  toolUseId is
 * what ties fragments together, so it is required; name is repeated on
 * every frame by RS but AIC has seen continuation frames without it.
 */
static enum kf_err
ev_tool_use(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	json_object	*v;
	int		 rc;

	rc = obj_str(jo, "toolUseId", &ev->tool_use_id, NULL);
	if (rc == 0) {
		xsetprintf(cause, "toolUseEvent: no toolUseId");
		return KF_EUPSTREAM;
	}
	if (rc == -1)
		return wrong_type(cause, "toolUseEvent", "toolUseId", jo);
	if (obj_str(jo, "name", &ev->tool_name, NULL) == -1)
		return wrong_type(cause, "toolUseEvent", "name", jo);

	/* A flat payload's input is a string or null (kiro_event_parse). */
	rc = obj_str(jo, "input", &ev->tool_input, &ev->tool_input_len);
	if (rc == 0) {
		ev->tool_input = "";
		ev->tool_input_len = 0;
	} else if (rc == -1 && jo->jo != NULL &&
	    json_object_object_get_ex(jo->jo, "input", &v)) {
		/* K2A and a Go peer accept an already decoded object. */
		json_to_buf(v, &kp->input);
		ev->tool_input = kp->input.ptr;
		ev->tool_input_len = kp->input.len;
	}

	if (obj_bool(jo, "stop", &ev->tool_stop) == -1)
		return wrong_type(cause, "toolUseEvent", "stop", jo);
	ev->type = KIRO_EV_TOOL_USE;
	return KF_OK;
}

static enum kf_err
ev_reasoning(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	static const char *const	 keys[] = { "text", "content" };
	size_t				 i;
	int				 rc;

	ev->text = "";
	ev->text_len = 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		rc = obj_str(jo, keys[i], &ev->text, &ev->text_len);
		if (rc == -1)
			return wrong_type(cause, "reasoningContentEvent",
			    keys[i], jo);
		if (rc == 1)
			break;
	}
	if (obj_str(jo, "signature", &ev->signature, NULL) == -1)
		return wrong_type(cause, "reasoningContentEvent", "signature",
		    jo);
	ev->type = KIRO_EV_REASONING;
	return KF_OK;
}

static enum kf_err
number(const struct ev_obj *jo, const char *event, const char *key,
    double *out, char **cause)
{
	switch (obj_num(jo, key, out)) {
	case 1:
		return KF_OK;
	case 0:
		xsetprintf(cause, "%s: no %s", event, key);
		return KF_EUPSTREAM;
	default:
		return wrong_type(cause, event, key, jo);
	}
}

/* Credits charged: {unit, unitPlural?, usage} (§5; the 2026 form of §12). */
static enum kf_err
ev_metering(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	enum kf_err	er;

	ev->type = KIRO_EV_METERING;
	if ((er = number(jo, "meteringEvent", "usage", &ev->value, cause)) !=
	    KF_OK)
		return er;
	if (ev->value < 0) {
		xsetprintf(cause, "meteringEvent: usage is negative");
		return KF_EUPSTREAM;
	}
	if (obj_str(jo, "unit", &ev->kind, NULL) == -1)
		return wrong_type(cause, "meteringEvent", "unit", jo);
	return KF_OK;
}

static enum kf_err
ev_context_usage(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	ev->type = KIRO_EV_CONTEXT_USAGE;
	return number(jo, "contextUsageEvent", "contextUsagePercentage",
	    &ev->value, cause);
}

/* A token count, or -1 when absent or not a count. */
static enum kf_err	token_count(const struct ev_obj *, const char *,
			    const char *, long *, char **);

/*
 * messageMetadataEvent.tokenUsage (§12, CLIProxyAPIPlus kiro_executor.go):
 * every figure is optional, a wrong type makes the frame unusable.
 */
static enum kf_err
token_usage(const char *event, json_object *tree, struct kiro_token_usage *u,
    char **cause)
{
	const struct ev_obj		 tu_obj = { tree, NULL }, *tu = &tu_obj;
	const struct {
		const char	*key;
		long		*out;
	} counts[] = {
		{ "outputTokens",		&u->output_tokens },
		{ "totalTokens",		&u->total_tokens },
		{ "uncachedInputTokens",	&u->uncached_input_tokens },
		{ "cacheReadInputTokens",	&u->cache_read_input_tokens },
		{ "cacheWriteInputTokens",	&u->cache_write_input_tokens },
	};
	enum kf_err			 er;
	size_t				 i;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if ((er = token_count(tu, event, counts[i].key, counts[i].out,
		    cause)) != KF_OK)
			return er;
	switch (obj_num(tu, "contextUsagePercentage", &u->context_pct)) {
	case 1:
		if (u->context_pct < 0)
			u->context_pct = -1;
		return KF_OK;
	case 0:
		u->context_pct = -1;
		return KF_OK;
	default:
		return wrong_type(cause, event, "contextUsagePercentage", tu);
	}
}

/*
 * Metadata matters for a stop reason (§5) and for Kiro's token figures
 * (§12); anything else in it is ignored.
 */
static enum kf_err
ev_metadata(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	json_object	*tu;
	const char	*reason = NULL;

	if ((obj_str(jo, "stopReason", &reason, NULL) != 1 &&
	    obj_str(jo, "stop_reason", &reason, NULL) != 1) ||
	    *reason == '\0')
		reason = NULL;
	switch (obj_obj(jo, "tokenUsage", &tu)) {
	case 1:
		ev->type = KIRO_EV_TOKEN_USAGE;
		ev->kind = reason;
		return token_usage(event_kind(kp), tu, &ev->usage, cause);
	case 0:
		break;
	default:
		return wrong_type(cause, event_kind(kp), "tokenUsage", jo);
	}
	if (reason != NULL) {
		ev->type = KIRO_EV_STOP_REASON;
		ev->kind = reason;
		return KF_OK;
	}
	ev->type = KIRO_EV_IGNORED;
	ev->kind = event_kind(kp);
	return KF_OK;
}

/* A token count, or -1 when absent or not a count. */
static enum kf_err
token_count(const struct ev_obj *jo, const char *event, const char *key,
    long *out, char **cause)
{
	int64_t	v;

	switch (obj_int(jo, key, &v)) {
	case 1:
		*out = v < 0 || v > LONG_MAX ? -1 : (long)v;
		return KF_OK;
	case 0:
		*out = -1;
		return KF_OK;
	default:
		return wrong_type(cause, event, key, jo);
	}
}

static enum kf_err
ev_metrics(struct kiro_event_parser *kp, const struct ev_obj *jo,
    struct kiro_event *ev, char **cause)
{
	enum kf_err	er;

	if ((er = token_count(jo, "metricsEvent", "inputTokens",
	    &ev->input_tokens, cause)) != KF_OK)
		return er;
	if ((er = token_count(jo, "metricsEvent", "outputTokens",
	    &ev->output_tokens, cause)) != KF_OK)
		return er;
	ev->type = KIRO_EV_METRICS;
	return KF_OK;
}

/* Parses a payload that may be JSON, keeping it in kp->last; NULL if not. */
static json_object *
payload_json(struct kiro_event_parser *kp, struct es_str payload,
    char **cause)
{
	json_object	*jo;

	if (json_parser_parse(kp->json, payload.ptr != NULL ? payload.ptr :
	    "", payload.len, &jo, cause) != KF_OK)
		return NULL;
	kp->last = jo;
	return jo;
}

/*
 * Exception frames (§5): the type from :exception-type, else from __type
 * (K2A; AWS writes "namespace#Type", so the namespace is cut off); the
 * message from the JSON payload, else the payload itself.
 */
static enum kf_err
parse_exception(struct kiro_event_parser *kp, const struct es_frame *f,
    struct kiro_event *ev)
{
	json_object	*tree;
	struct ev_obj	 obj = { NULL, NULL }, *jo = NULL;
	const char	*s, *hash;

	ev->type = KIRO_EV_EXCEPTION;
	tree = payload_json(kp, f->payload, NULL);
	if (tree != NULL && json_object_is_type(tree, json_type_object)) {
		obj.jo = tree;
		jo = &obj;
	}

	if (f->exception_type.len > 0)
		ev->kind = slice_copy(&kp->kind, f->exception_type);
	else if (jo != NULL && obj_str(jo, "__type", &s, NULL) == 1 &&
	    *s != '\0') {
		if ((hash = strrchr(s, '#')) != NULL && hash[1] != '\0')
			s = hash + 1;
		ev->kind = s;
	} else
		ev->kind = "UnknownException";

	if (jo != NULL && (obj_str(jo, "message", &ev->text,
	    &ev->text_len) == 1 || obj_str(jo, "Message", &ev->text,
	    &ev->text_len) == 1))
		return KF_OK;
	ev->text = slice_copy(&kp->text, f->payload);
	ev->text_len = kp->text.len;
	return KF_OK;
}

/* Error frames: code and message in headers; RS reads the payload text. */
static enum kf_err
parse_error(struct kiro_event_parser *kp, const struct es_frame *f,
    struct kiro_event *ev)
{
	ev->type = KIRO_EV_ERROR;
	if (f->error_code.len > 0)
		ev->kind = slice_copy(&kp->kind, f->error_code);
	else
		ev->kind = "UnknownError";
	if (f->error_message.len > 0)
		ev->text = slice_copy(&kp->text, f->error_message);
	else
		ev->text = slice_copy(&kp->text, f->payload);
	ev->text_len = kp->text.len;
	return KF_OK;
}

/*
 * 1 when the payload is a flat object (json_flat_parse) that the handler
 * can read as it is: a tool input that is not a string or null is written
 * out as JSON text from the tree, so such a payload takes the tree path.
 * A flat object is never a {"<eventType>":{...}} wrapper.
 */
static int
flat_payload(struct kiro_event_parser *kp, struct es_str payload,
    event_fn fn)
{
	const struct json_flat_member	*m;

	if (payload.len == 0 ||
	    json_flat_parse(&kp->flat, payload.ptr, payload.len) == -1)
		return 0;
	if (fn == ev_tool_use && (m = json_flat_get(&kp->flat, "input")) !=
	    NULL && m->type != JSON_FLAT_STRING && m->type != JSON_FLAT_NULL)
		return 0;
	return 1;
}

enum kf_err
kiro_event_parse(struct kiro_event_parser *kp, const struct es_frame *f,
    struct kiro_event *ev, char **cause)
{
	struct ev_obj	 obj = { NULL, NULL };
	json_object	*jo, *inner;
	const char	*name = NULL;
	event_fn	 fn = NULL;
	enum kf_err	 er;
	size_t		 i;

	/* What the previous event borrowed is released only now. */
	json_object_put(kp->last);
	kp->last = NULL;
	/* As the decoder's held frame: one huge payload is not kept. */
	if (kp->flat.arena.cap > FLAT_KEEP)
		json_flat_free(&kp->flat);
	buf_reset(&kp->kind);
	kp->have_kind = 0;
	kp->event_type = f->event_type;
	buf_reset(&kp->text);
	buf_reset(&kp->input);
	memset(ev, 0, sizeof(*ev));

	switch (f->message_type) {
	case ES_MSG_EXCEPTION:
		return parse_exception(kp, f, ev);
	case ES_MSG_ERROR:
		return parse_error(kp, f, ev);
	case ES_MSG_EVENT:
		break;
	default:
		ev->type = KIRO_EV_IGNORED;
		ev->kind = slice_copy(&kp->kind, f->event_type);
		return KF_OK;
	}

	for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (f->event_type.len == event_types[i].len &&
		    memcmp(f->event_type.ptr, event_types[i].name,
		    event_types[i].len) == 0) {
			name = event_types[i].name;
			fn = event_types[i].fn;
			break;
		}
	if (fn == NULL) {
		ev->type = es_str_eq(f->event_type, "messageStopEvent") ?
		    KIRO_EV_END : KIRO_EV_IGNORED;
		if (ev->type == KIRO_EV_IGNORED)
			ev->kind = event_kind(kp);
		return KF_OK;
	}

	if (flat_payload(kp, f->payload, fn)) {
		obj.flat = &kp->flat;
		goto parsed;
	}
	if ((jo = payload_json(kp, f->payload, cause)) == NULL) {
		if (cause != NULL)
			xsetprintf(cause, "%s: %s", name,
			    *cause != NULL ? *cause : "invalid JSON");
		return KF_EUPSTREAM;
	}
	if (!json_object_is_type(jo, json_type_object)) {
		xsetprintf(cause, "%s: the payload is %s %s, not an object",
		    name, json_object_is_type(jo, json_type_array) ? "an" : "a",
		    json_type_label(jo));
		return KF_EUPSTREAM;
	}
	/* Some peers accept {"<eventType>":{...}}; so do we (§4 Payload). */
	if (json_object_object_length(jo) == 1 &&
	    json_get_obj(jo, name, &inner) == 1)
		jo = inner;
	obj.jo = jo;
parsed:
	if ((er = fn(kp, &obj, ev, cause)) != KF_OK) {
		memset(ev, 0, sizeof(*ev));
		return er;
	}
	return KF_OK;
}
