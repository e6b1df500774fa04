/* test-kiro_req.c: conversation to Kiro request body (§3.3, §3.4, §3.5). */
#include "autoconfig.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "digest.h"
#include "err.h"
#include "history.h"
#include "json.h"
#include "kiro_req.h"
#include "xmalloc.h"

#include "convtest.h"

/*
 * Covers every conversion rule of §3.3 (1-16) and §3.4 by building a body
 * and asserting the parsed JSON, plus a property test: 2,000 seeded random
 * conversations must all satisfy the structural rules of §3.5.
 */

#define MODEL	"claude-sonnet-4.5"
#define CUR	"conversationState.currentMessage.userInputMessage"
#define HIST	"conversationState.history"

/* ---- building conversations ---- */

/* ---- building and reading bodies ---- */

/* Repairs (when asked), builds and parses; the caller puts the result. */
static json_object *
build_opts(struct conv *c, int repair, const struct kiro_req_opts *opts,
    struct kiro_toolmap *map)
{
	struct history_opts	 ho = { HISTORY_DEFAULT_MAX_IMAGE_MSGS };
	struct buf		 out = BUF_INIT;
	json_object		*root = NULL;
	char			*cause = NULL;

	if (repair)
		ck_assert_int_eq(history_repair(c, &ho, &cause), KF_OK);
	ck_assert_int_eq(kiro_req_build(c, opts, &out, map, &cause), KF_OK);
	ck_assert_msg(json_parse(out.ptr, out.len, JSON_MAX_DEPTH, &root,
	    &cause) == KF_OK, "output is not JSON: %s", cause);
	buf_free(&out);
	free(cause);
	return root;
}

static json_object *
build(struct conv *c, int repair)
{
	struct kiro_req_opts	opts = { MODEL, "conv-fixed-id", NULL,
	    0, NULL };

	return build_opts(c, repair, &opts, NULL);
}

static json_object *
jpathf(json_object *root, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_object *
jpathf(json_object *root, const char *fmt, ...)
{
	char	path[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return jpath(root, path);
}

static int
is_blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* ---- §3.5 structural checker ---- */

struct idlist {
	const char	*ids[256];
	size_t		 n;
};

static int
idlist_has(const struct idlist *l, const char *id, int nocase)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if ((nocase ? strcasecmp(l->ids[i], id) :
		    strcmp(l->ids[i], id)) == 0)
			return 1;
	return 0;
}

static int
idlist_add(struct idlist *l, const char *id)
{
	if (l->n == sizeof(l->ids) / sizeof(l->ids[0]))
		return -1;
	l->ids[l->n++] = id;
	return 0;
}

#define FAIL(...) do {						\
	snprintf(why, whylen, __VA_ARGS__);			\
	return -1;						\
} while (0)

static int
no_empty_keys(json_object *v)
{
	size_t	i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!no_empty_keys(json_object_array_get_idx(v, i)))
				return 0;
		return 1;
	}
	if (!json_object_is_type(v, json_type_object))
		return 1;
	json_object_object_foreach(v, key, val) {
		if (key[0] == '\0' || !no_empty_keys(val))
			return 0;
	}
	return 1;
}

static int
check_string(json_object *obj, const char *key, int nonblank,
    const char **out)
{
	json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return 0;
	if (nonblank && is_blank(json_object_get_string(v)))
		return 0;
	if (out != NULL)
		*out = json_object_get_string(v);
	return 1;
}

/*
 * One userInputMessage: content, model, origin, images, and the results in
 * it, which must answer exactly the uses of the assistant before it (uses,
 * NULL when none).  Result ids go to results.
 */
static int
check_user(json_object *msg, int current, const struct idlist *uses,
    char *why, size_t whylen)
{
	struct idlist	 results = { .n = 0 };
	json_object	*v, *ctx, *arr, *r, *content;
	const char	*s, *id;
	size_t		 i, j, n;

	if (!json_object_is_type(msg, json_type_object))
		FAIL("userInputMessage is not an object");
	if (!check_string(msg, "content", 1, NULL))
		FAIL("user content empty or blank");
	if (!check_string(msg, "modelId", 0, NULL))
		FAIL("user without modelId");
	if (!check_string(msg, "origin", 0, &s) || strcmp(s, "AI_EDITOR") != 0)
		FAIL("user origin not AI_EDITOR");
	if (json_object_object_get_ex(msg, "images", &arr)) {
		if (!json_object_is_type(arr, json_type_array) ||
		    json_object_array_length(arr) == 0)
			FAIL("images present but empty");
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(arr, i);
			if (!check_string(v, "format", 0, &s) ||
			    (strcmp(s, "jpeg") != 0 && strcmp(s, "png") != 0 &&
			    strcmp(s, "gif") != 0 && strcmp(s, "webp") != 0))
				FAIL("bad image format");
			if (!json_object_object_get_ex(v, "source", &v) ||
			    !check_string(v, "bytes", 0, NULL))
				FAIL("image without source.bytes");
		}
	}
	ctx = NULL;
	json_object_object_get_ex(msg, "userInputMessageContext", &ctx);
	if (current && !json_object_is_type(ctx, json_type_object))
		FAIL("currentMessage without userInputMessageContext");
	if (ctx != NULL && !json_object_is_type(ctx, json_type_object))
		FAIL("userInputMessageContext is not an object");
	if (!current && ctx != NULL) {
		if (json_object_object_get_ex(ctx, "tools", &v))
			FAIL("history user message carries tools");
		if (!json_object_object_get_ex(ctx, "toolResults", &v))
			FAIL("history context without toolResults");
	}
	if (ctx != NULL &&
	    json_object_object_get_ex(ctx, "toolResults", &arr)) {
		if (!json_object_is_type(arr, json_type_array) ||
		    json_object_array_length(arr) == 0)
			FAIL("toolResults present but empty");
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			r = json_object_array_get_idx(arr, i);
			if (!check_string(r, "toolUseId", 0, &id))
				FAIL("toolResult without toolUseId");
			if (idlist_has(&results, id, 0))
				FAIL("duplicate toolResult %s", id);
			if (uses == NULL || !idlist_has(uses, id, 0))
				FAIL("orphan toolResult %s", id);
			if (idlist_add(&results, id) == -1)
				FAIL("too many results");
			if (!check_string(r, "status", 0, &s) ||
			    (strcmp(s, "success") != 0 &&
			    strcmp(s, "error") != 0))
				FAIL("toolResult %s: bad status", id);
			if (json_object_object_get_ex(r, "isError", &v) &&
			    (!json_object_get_boolean(v) ||
			    strcmp(s, "error") != 0))
				FAIL("toolResult %s: isError without error",
				    id);
			if (!json_object_object_get_ex(r, "content",
			    &content) ||
			    !json_object_is_type(content, json_type_array) ||
			    json_object_array_length(content) == 0)
				FAIL("toolResult %s: empty content", id);
			for (j = 0; j < json_object_array_length(content);
			    j++)
				if (!check_string(json_object_array_get_idx(
				    content, j), "text", 0, NULL))
					FAIL("toolResult %s: content without "
					    "text", id);
		}
	}
	for (i = 0; uses != NULL && i < uses->n; i++)
		if (!idlist_has(&results, uses->ids[i], 0))
			FAIL("toolUse %s not answered in the next user "
			    "message", uses->ids[i]);
	return 0;
}

/* One tools[] entry: only toolSpecification (no cachePoint), sane fields. */
static int
check_tool(json_object *tool, const char **name, char *why, size_t whylen)
{
	json_object	*spec, *schema, *v;
	const char	*desc;
	size_t		 i;

	if (!json_object_is_type(tool, json_type_object) ||
	    json_object_object_length(tool) != 1 ||
	    !json_object_object_get_ex(tool, "toolSpecification", &spec))
		FAIL("tool entry other than toolSpecification");
	if (!check_string(spec, "name", 0, name) || strlen(*name) > 64)
		FAIL("tool name missing or over 64 bytes");
	if (!check_string(spec, "description", 1, &desc) ||
	    strlen(desc) > KIRO_TOOL_DESC_MAX)
		FAIL("tool %s: description empty or too long", *name);
	if ((schema = jpath(spec, "inputSchema.json")) == NULL ||
	    !json_object_is_type(schema, json_type_object))
		FAIL("tool %s: no inputSchema.json", *name);
	if (!check_string(schema, "type", 0, NULL))
		FAIL("tool %s: schema type not a string", *name);
	if (!json_object_object_get_ex(schema, "properties", &v) ||
	    !json_object_is_type(v, json_type_object))
		FAIL("tool %s: properties not an object", *name);
	if (!json_object_object_get_ex(schema, "required", &v) ||
	    !json_object_is_type(v, json_type_array))
		FAIL("tool %s: required not an array", *name);
	for (i = 0; i < json_object_array_length(v); i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_string))
			FAIL("tool %s: required has a non-string", *name);
	if (!json_object_object_get_ex(schema, "additionalProperties", &v) ||
	    (!json_object_is_type(v, json_type_boolean) &&
	    !json_object_is_type(v, json_type_object)))
		FAIL("tool %s: additionalProperties not bool/object", *name);
	return 0;
}

/*
 * Checks a parsed body against every structural rule of §3.5: history
 * alternates user/assistant, starts with user and ends with assistant;
 * contents are never empty; every toolUse is answered in the next user
 * message and no result is orphaned or repeated; toolUseIds are unique;
 * every tool named in history is defined; names fit in 64 bytes;
 * chatTriggerType is MANUAL.  Returns 0, or -1 with the reason in why.
 */
static int
check_kiro_body(json_object *root, char *why, size_t whylen)
{
	struct idlist	 all_uses = { .n = 0 }, names = { .n = 0 };
	struct idlist	 uses = { .n = 0 }, defined = { .n = 0 };
	json_object	*state, *history, *entry, *msg, *arr, *u, *tools;
	const char	*s, *id, *name;
	size_t		 i, j, n;
	int		 have_uses = 0;

	if ((state = jpath(root, "conversationState")) == NULL)
		FAIL("no conversationState");
	if (!check_string(state, "chatTriggerType", 0, &s) ||
	    strcmp(s, "MANUAL") != 0)
		FAIL("chatTriggerType is not MANUAL");
	if (!check_string(state, "conversationId", 0, NULL) ||
	    !check_string(state, "agentContinuationId", 0, NULL))
		FAIL("conversationId or agentContinuationId missing");
	if (!check_string(state, "agentTaskType", 0, &s) ||
	    strcmp(s, "vibe") != 0)
		FAIL("agentTaskType is not vibe");
	n = 0;
	if (json_object_object_get_ex(state, "history", &history)) {
		if (!json_object_is_type(history, json_type_array) ||
		    (n = json_object_array_length(history)) == 0)
			FAIL("history present but empty");
		if (n % 2 != 0)
			FAIL("history does not end with assistant");
	}
	for (i = 0; i < n; i++) {
		entry = json_object_array_get_idx(history, i);
		if (json_object_object_length(entry) != 1)
			FAIL("history[%zu] has %d keys", i,
			    json_object_object_length(entry));
		if (i % 2 == 0) {
			if (!json_object_object_get_ex(entry,
			    "userInputMessage", &msg))
				FAIL("history[%zu] should be user", i);
			if (check_user(msg, 0, have_uses ? &uses : NULL, why,
			    whylen) == -1)
				return -1;
			continue;
		}
		if (!json_object_object_get_ex(entry,
		    "assistantResponseMessage", &msg) ||
		    !json_object_is_type(msg, json_type_object))
			FAIL("history[%zu] should be assistant", i);
		uses.n = 0;
		have_uses = 0;
		if (json_object_object_get_ex(msg, "toolUses", &arr)) {
			if (!json_object_is_type(arr, json_type_array) ||
			    json_object_array_length(arr) == 0)
				FAIL("toolUses present but empty");
			for (j = 0; j < json_object_array_length(arr); j++) {
				u = json_object_array_get_idx(arr, j);
				if (!check_string(u, "toolUseId", 0, &id) ||
				    !check_string(u, "name", 0, &name))
					FAIL("toolUse without id or name");
				if (strlen(name) > 64)
					FAIL("toolUse name over 64 bytes");
				if (idlist_has(&all_uses, id, 0))
					FAIL("duplicate toolUseId %s", id);
				if (!json_object_object_get_ex(u, "input",
				    &entry) ||
				    !json_object_is_type(entry,
				    json_type_object))
					FAIL("toolUse %s: input not an object",
					    id);
				if (!no_empty_keys(entry))
					FAIL("toolUse %s: empty key in input",
					    id);
				if (idlist_add(&all_uses, id) == -1 ||
				    idlist_add(&uses, id) == -1 ||
				    idlist_add(&names, name) == -1)
					FAIL("too many tool uses");
			}
			have_uses = 1;
		}
		if (!check_string(msg, "content", 0, &s))
			FAIL("history[%zu]: empty assistant content", i);
		if (is_blank(s) && (!have_uses || strcmp(s, " ") != 0))
			FAIL("history[%zu]: blank assistant content", i);
	}
	if ((msg = jpath(state, "currentMessage.userInputMessage")) == NULL)
		FAIL("no currentMessage.userInputMessage");
	if (check_user(msg, 1, have_uses ? &uses : NULL, why, whylen) == -1)
		return -1;
	tools = jpath(msg, "userInputMessageContext.tools");
	if (tools != NULL) {
		if (!json_object_is_type(tools, json_type_array) ||
		    json_object_array_length(tools) == 0)
			FAIL("tools present but empty");
		for (i = 0; i < json_object_array_length(tools); i++) {
			if (check_tool(json_object_array_get_idx(tools, i),
			    &name, why, whylen) == -1)
				return -1;
			if (idlist_has(&defined, name, 1))
				FAIL("tool %s defined twice", name);
			if (idlist_add(&defined, name) == -1)
				FAIL("too many tools");
		}
	}
	for (i = 0; i < names.n; i++)
		if (!idlist_has(&defined, names.ids[i], 1))
			FAIL("history tool %s is not defined", names.ids[i]);
	return 0;
}

#undef FAIL

static void
assert_valid(json_object *root)
{
	char	why[256];

	ck_assert_msg(check_kiro_body(root, why, sizeof(why)) == 0, "%s", why);
}

/* ---- rule 1: prefill ---- */

START_TEST(kiro_req_prefill_trailing_assistant_dropped)
{
	struct conv	 c;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "first");
	add_msg(&c, CONV_ROLE_ASSISTANT, "answer");
	add_msg(&c, CONV_ROLE_USER, "second");
	add_msg(&c, CONV_ROLE_ASSISTANT, "{");
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, CUR ".content"), "second");
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "first");
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.content"), "answer");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_no_user_message_is_einval)
{
	struct kiro_req_opts	 opts = { MODEL, NULL, NULL, 0, NULL };
	struct history_opts	 ho = { 5 };
	struct buf		 out = BUF_INIT;
	struct conv		 c;
	char			*cause = NULL;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_ASSISTANT, "only me");
	ck_assert_int_eq(kiro_req_build(&c, &opts, &out, NULL, &cause),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "messages must contain at least one user "
	    "message");
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(history_repair(&c, &ho, &cause), KF_EINVAL);
	ck_assert_str_eq(cause, "messages must contain at least one user "
	    "message");
	ck_assert_uint_eq(c.n_msgs, 0);
	opts.model_id = NULL;
	add_msg(&c, CONV_ROLE_USER, "hi");
	ck_assert_int_eq(kiro_req_build(&c, &opts, &out, NULL, &cause),
	    KF_EINVAL);
	ck_assert_uint_eq(out.len, 0);
	free(cause);
	conv_free(&c);
}
END_TEST

/* ---- rule 2: currentMessage ---- */

START_TEST(kiro_req_current_message_text_images_results)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*r;
	json_object		*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "run both");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "tu1", "Read", "{\"path\":\"a\"}");
	add_tool_use(m, "tu2", "Bash", "{\"cmd\":\"ls\"}");
	add_tool_use(m, "tu3", "Bash", "{\"cmd\":\"pwd\"}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_text(m, "line one");
	add_tool_result(m, "tu1", "file body", 0);
	r = add_tool_result(m, "tu2", "boom", 1);
	conv_block_add_content(r, CONV_BLOCK_TEXT)->text = xstrdup("more");
	r = add_tool_result(m, "tu3", NULL, 0);
	r = conv_block_add_content(r, CONV_BLOCK_IMAGE);
	r->media_type = xstrdup("image/png");
	r->data = xstrdup("UE5H");
	add_image(m, "image/jpeg", "SlBFRw==");
	add_text(m, "line two");
	root = build(&c, 1);

	ck_assert_str_eq(jstr(root, CUR ".content"), "line one\nline two");
	ck_assert_str_eq(jstr(root, CUR ".modelId"), MODEL);
	ck_assert_str_eq(jstr(root, CUR ".origin"), "AI_EDITOR");
	ck_assert_uint_eq(jlen(root, CUR ".images"), 2);
	ck_assert_str_eq(jstr(root, CUR ".images.0.format"), "png");
	ck_assert_str_eq(jstr(root, CUR ".images.0.source.bytes"), "UE5H");
	ck_assert_str_eq(jstr(root, CUR ".images.1.format"), "jpeg");
	ck_assert_str_eq(jstr(root, CUR ".images.1.source.bytes"), "SlBFRw==");
	ck_assert_uint_eq(jlen(root,
	    CUR ".userInputMessageContext.toolResults"), 3);
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.toolUseId"), "tu1");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.status"), "success");
	ck_assert(!jhas(root,
	    CUR ".userInputMessageContext.toolResults.0.isError"));
	ck_assert_uint_eq(jlen(root,
	    CUR ".userInputMessageContext.toolResults.0.content"), 1);
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.content.0.text"),
	    "file body");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.1.status"), "error");
	ck_assert(json_object_get_boolean(jpath(root,
	    CUR ".userInputMessageContext.toolResults.1.isError")));
	ck_assert_uint_eq(jlen(root,
	    CUR ".userInputMessageContext.toolResults.1.content"), 2);
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.1.content.1.text"),
	    "more");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.2.content.0.text"),
	    "(no output)");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_current_empty_content_gets_placeholder)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	/* Only tool results: "Tool results provided." */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "tu1", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, " \n\t");
	add_tool_result(m, "tu1", "", 0);
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, CUR ".content"), "Tool results provided.");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.content.0.text"),
	    "(no output)");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* Nothing at all (an image only): "Continue", context is {}. */
	conv_init(&c);
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_image(m, "image/gif", "R0lG");
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, CUR ".content"), "Continue");
	ck_assert_str_eq(jstr(root, CUR ".images.0.format"), "gif");
	ck_assert_int_eq(json_object_object_length(jpath(root,
	    CUR ".userInputMessageContext")), 0);
	ck_assert(!jhas(root, HIST));
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 3 and §3.4: system prompt and thinking ---- */

START_TEST(kiro_req_system_prompt_is_history_pair_zero)
{
	struct conv	 c;
	json_object	*root;

	conv_init(&c);
	conv_append_system(&c, "You are terse.");
	conv_append_system(&c, "Answer in English.");
	add_msg(&c, CONV_ROLE_USER, "hi");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "You are terse.\nAnswer in English.");
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.modelId"), MODEL);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.origin"),
	    "AI_EDITOR");
	ck_assert(!jhas(root,
	    HIST ".0.userInputMessage.userInputMessageContext"));
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.content"), KIRO_SYSTEM_ACK);
	ck_assert_str_eq(jstr(root, CUR ".content"), "hi");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* No system, no thinking: no pair 0, no history key at all. */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "hi");
	root = build(&c, 1);
	ck_assert(!jhas(root, HIST));
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- prompt caching (doc/protocol.md §12) ---- */

/*
 * The history as one letter per entry (U user, A assistant, P cachePoint
 * {"type":"default"}); the cachePoints are then removed, so that the rest
 * can be checked like any body.
 */
static char *
history_shape(json_object *root)
{
	struct buf	 shape = BUF_INIT;
	json_object	*history, *entry, *point, *type;
	size_t		 i;

	history = jpath(root, HIST);
	for (i = 0; history != NULL &&
	    i < json_object_array_length(history); ) {
		entry = json_object_array_get_idx(history, i);
		if (json_object_object_get_ex(entry, "cachePoint", &point)) {
			ck_assert_int_eq(json_object_object_length(entry), 1);
			ck_assert(json_object_object_get_ex(point, "type",
			    &type));
			ck_assert_str_eq(json_object_get_string(type),
			    "default");
			buf_putc(&shape, 'P');
			json_object_array_del_idx(history, i, 1);
			continue;
		}
		buf_putc(&shape, json_object_object_get_ex(entry,
		    "userInputMessage", NULL) ? 'U' : 'A');
		i++;
	}
	return buf_detach(&shape);
}

/* system, u1 marked, a1, u2, a2 marked, u3 marked (current), a tool. */
static void
cached_conv(struct conv *c)
{
	conv_init(c);
	conv_append_system(c, "Be brief.");
	c->system_cache_point = 1;
	add_msg(c, CONV_ROLE_USER, "u1")->cache_point = 1;
	add_msg(c, CONV_ROLE_ASSISTANT, "a1");
	add_msg(c, CONV_ROLE_USER, "u2");
	add_msg(c, CONV_ROLE_ASSISTANT, "a2")->cache_point = 1;
	add_msg(c, CONV_ROLE_USER, "u3")->cache_point = 1;
	add_tool(c, "Read", "reads", "{\"type\":\"object\"}");
}

START_TEST(kiro_req_cache_points_follow_marked_history)
{
	struct kiro_req_opts	 opts = { MODEL, "cid", NULL, 1, NULL };
	struct conv		 c;
	json_object		*root, *tools;
	char			*shape, *text;
	size_t			 i;

	cached_conv(&c);
	root = build_opts(&c, 1, &opts, NULL);
	/* After the system pair, after u1 and a2; none for the current. */
	shape = history_shape(root);
	ck_assert_str_eq(shape, "UAPUPAUAP");
	free(shape);
	assert_valid(root);
	/* Never inside tools, where Kiro refuses them. */
	tools = jpath(root, CUR ".userInputMessageContext.tools");
	ck_assert_ptr_nonnull(tools);
	for (i = 0; i < json_object_array_length(tools); i++)
		ck_assert(!json_object_object_get_ex(
		    json_object_array_get_idx(tools, i), "cachePoint", NULL));
	text = xstrdup(json_object_to_json_string(tools));
	ck_assert_ptr_null(strstr(text, "cachePoint"));
	free(text);
	json_object_put(root);
	conv_free(&c);

	/* The switch off: the same conv, no cachePoint anywhere. */
	cached_conv(&c);
	opts.prompt_caching = 0;
	root = build_opts(&c, 1, &opts, NULL);
	ck_assert_ptr_null(strstr(json_object_to_json_string(root),
	    "cachePoint"));
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_cache_points_capped_to_the_last)
{
	struct kiro_req_opts	 opts = { MODEL, "cid", NULL, 1, NULL };
	struct conv		 c;
	json_object		*root;
	char			*shape, name[8];
	int			 i;

	/* A marked system and 6 marked history messages: the last 4 count. */
	conv_init(&c);
	conv_append_system(&c, "sys");
	c.system_cache_point = 1;
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		add_msg(&c, i % 2 == 0 ? CONV_ROLE_USER : CONV_ROLE_ASSISTANT,
		    name)->cache_point = 1;
	}
	add_msg(&c, CONV_ROLE_USER, "now");
	root = build_opts(&c, 1, &opts, NULL);
	shape = history_shape(root);
	ck_assert_str_eq(shape, "UAUAUPAPUPAP");
	free(shape);
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* A blank system has no pair, so its mark makes no point. */
	conv_init(&c);
	c.system_cache_point = 1;
	add_msg(&c, CONV_ROLE_USER, "u");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a");
	add_msg(&c, CONV_ROLE_USER, "now");
	root = build_opts(&c, 1, &opts, NULL);
	shape = history_shape(root);
	ck_assert_str_eq(shape, "UA");
	free(shape);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

static char *
pair0_for(enum conv_thinking mode, long budget, const char *effort,
    const char *system)
{
	struct conv	 c;
	json_object	*root;
	char		*content;

	conv_init(&c);
	c.thinking = mode;
	c.thinking_budget = budget;
	c.thinking_effort = xstrdup(effort);
	if (system != NULL)
		conv_append_system(&c, system);
	add_msg(&c, CONV_ROLE_USER, "hi");
	root = build(&c, 1);
	assert_valid(root);
	content = jhas(root, HIST) ? xstrdup(jstr(root,
	    HIST ".0.userInputMessage.content")) : NULL;
	if (content != NULL)
		ck_assert_str_eq(jstr(root,
		    HIST ".1.assistantResponseMessage.content"),
		    KIRO_SYSTEM_ACK);
	json_object_put(root);
	conv_free(&c);
	return content;
}

#define SYS	"Be nice."
#define ENABLED(n) "<thinking_mode>enabled</thinking_mode>" \
	"<max_thinking_length>" #n "</max_thinking_length>"
#define ADAPTIVE(e) "<thinking_mode>adaptive</thinking_mode>" \
	"<thinking_effort>" e "</thinking_effort>"

START_TEST(kiro_req_thinking_enabled_prefix_budget_clamped)
{
	static const struct {
		long		 budget;
		const char	*expect;
	} cases[] = {
		{ 0, ENABLED(20000) SYS },
		{ -3, ENABLED(20000) SYS },
		{ 500, ENABLED(1024) SYS },
		{ 1024, ENABLED(1024) SYS },
		{ 8000, ENABLED(8000) SYS },
		{ 24576, ENABLED(24576) SYS },
		{ 100000, ENABLED(24576) SYS },
	};
	char	*got;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = pair0_for(CONV_THINKING_ENABLED, cases[i].budget, NULL,
		    SYS);
		ck_assert_str_eq(got, cases[i].expect);
		free(got);
	}
}
END_TEST

START_TEST(kiro_req_thinking_adaptive_prefix_effort)
{
	static const struct {
		const char	*effort;
		const char	*expect;
	} cases[] = {
		{ NULL, ADAPTIVE("high") SYS },
		{ "low", ADAPTIVE("low") SYS },
		{ "medium", ADAPTIVE("medium") SYS },
		{ "high", ADAPTIVE("high") SYS },
		{ "HIGH", ADAPTIVE("high") SYS },
		{ "max", ADAPTIVE("high") SYS },
		{ "", ADAPTIVE("high") SYS },
	};
	char	*got;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = pair0_for(CONV_THINKING_ADAPTIVE, 0, cases[i].effort,
		    SYS);
		ck_assert_str_eq(got, cases[i].expect);
		free(got);
	}
}
END_TEST

START_TEST(kiro_req_thinking_prefix_alone_forms_pair_zero)
{
	char	*got;

	got = pair0_for(CONV_THINKING_ENABLED, 4096, NULL, NULL);
	ck_assert_str_eq(got, ENABLED(4096));
	free(got);
	got = pair0_for(CONV_THINKING_ADAPTIVE, 0, "low", NULL);
	ck_assert_str_eq(got, ADAPTIVE("low"));
	free(got);
	got = pair0_for(CONV_THINKING_OFF, 4096, NULL, NULL);
	ck_assert_ptr_null(got);
	got = pair0_for(CONV_THINKING_OFF, 4096, NULL, SYS);
	ck_assert_str_eq(got, SYS);
	free(got);
}
END_TEST

START_TEST(kiro_req_thinking_prefix_not_doubled)
{
	char	*got;

	got = pair0_for(CONV_THINKING_ENABLED, 4096, NULL,
	    "<thinking_mode>enabled</thinking_mode> rest");
	ck_assert_str_eq(got, "<thinking_mode>enabled</thinking_mode> rest");
	free(got);
	got = pair0_for(CONV_THINKING_ADAPTIVE, 0, "low",
	    "x<max_thinking_length>9</max_thinking_length>");
	ck_assert_str_eq(got, "x<max_thinking_length>9</max_thinking_length>");
	free(got);
}
END_TEST

/* ---- rule 4: merging ---- */

START_TEST(kiro_req_consecutive_roles_merged)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "u1");
	m = add_msg(&c, CONV_ROLE_USER, "u2");
	add_image(m, "image/webp", "V0VCUA==");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a1");
	add_msg(&c, CONV_ROLE_ASSISTANT, "   ");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "a2");
	add_tool_use(m, "tu1", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "tu1", "ok", 0);
	add_msg(&c, CONV_ROLE_USER, "next");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "u1\nu2");
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.images.0.format"),
	    "webp");
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.content"), "a1\n\na2");
	ck_assert_uint_eq(jlen(root,
	    HIST ".1.assistantResponseMessage.toolUses"), 1);
	ck_assert_str_eq(jstr(root, CUR ".content"), "next");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.toolUseId"), "tu1");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 5: history starts with user and ends with assistant ---- */

START_TEST(kiro_req_history_starts_user_ends_assistant)
{
	struct conv	 c;
	json_object	*root;

	/* Leading assistant: a "Continue" user goes before it. */
	conv_init(&c);
	conv_append_system(&c, "sys");
	add_msg(&c, CONV_ROLE_ASSISTANT, "hello, I am here");
	add_msg(&c, CONV_ROLE_USER, "hi");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, HIST), 4);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"), "sys");
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.content"),
	    "Continue");
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.modelId"), MODEL);
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.origin"),
	    "AI_EDITOR");
	ck_assert_str_eq(jstr(root,
	    HIST ".3.assistantResponseMessage.content"), "hello, I am here");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* A trailing user before the current one gets an "OK" assistant. */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "earlier");
	add_msg(&c, CONV_ROLE_USER, "now");
	root = build(&c, 0);
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "earlier");
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.content"), "OK");
	ck_assert_str_eq(jstr(root, CUR ".content"), "now");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 6: assistant content ---- */

START_TEST(kiro_req_assistant_thinking_reembedded)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "q1");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_thinking(m, "let me think");
	add_text(m, "answer");
	add_text(m, "");
	add_text(m, "more");
	add_msg(&c, CONV_ROLE_USER, "q2");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_thinking(m, "only thought");
	add_msg(&c, CONV_ROLE_USER, "q3");
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, HIST ".1.assistantResponseMessage.content"),
	    "<thinking>let me think</thinking>\n\nanswer\n\nmore");
	ck_assert_str_eq(jstr(root, HIST ".3.assistantResponseMessage.content"),
	    "<thinking>only thought</thinking>");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_assistant_empty_content_placeholders)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "q1");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "");
	add_tool_use(m, "tu1", "Read", "{\"p\":1}");
	m = add_msg(&c, CONV_ROLE_USER, "here");
	add_tool_result(m, "tu1", "data", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, " ");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_text(m, "q3");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, HIST), 4);
	ck_assert_str_eq(jstr(root, HIST ".1.assistantResponseMessage.content"),
	    " ");
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.toolUseId"), "tu1");
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.name"), "Read");
	ck_assert_int_eq(json_object_get_int(jpath(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.input.p")), 1);
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.content"),
	    "here");
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage."
	    "userInputMessageContext.toolResults.0.toolUseId"), "tu1");
	ck_assert_str_eq(jstr(root, HIST ".3.assistantResponseMessage.content"),
	    "I understand.");
	ck_assert(!jhas(root, HIST ".3.assistantResponseMessage.toolUses"));
	ck_assert(!jhas(root,
	    HIST ".0.userInputMessage.userInputMessageContext"));
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_history_user_empty_content_placeholders)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_image(m, "image/png", "UE5H");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "looking");
	add_tool_use(m, "tu1", "Read", NULL);
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "tu1", "x", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, "done");
	add_msg(&c, CONV_ROLE_USER, "thanks");
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "Continue");
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.images.0.format"),
	    "png");
	ck_assert_int_eq(json_object_object_length(jpath(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.input")), 0);
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.content"),
	    "Tool results provided.");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 7: tool pairing ---- */

START_TEST(kiro_req_tool_pairing_orphans_duplicates_unanswered)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "start");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "calling");
	add_tool_use(m, "a", "Read", "{}");
	add_tool_use(m, "b", "Read", "{}");	/* never answered */
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "a", "A", 0);
	add_tool_result(m, "a", "A again", 0);	/* duplicate */
	add_tool_result(m, "ghost", "?", 0);	/* orphan */
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "again");
	add_tool_use(m, "a", "Read", "{}");	/* repeated id */
	add_tool_use(m, "c", "Write", "{}");	/* current ignores it */
	add_tool_use(m, "d", "Grep", "{}");
	m = add_msg(&c, CONV_ROLE_USER, "result below");
	add_tool_result(m, "d", "D", 0);
	add_tool_result(m, "a", "late", 0);	/* answers the repeated id */
	add_tool_result(m, "b", "too late", 0);	/* not the last turn's */
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, HIST), 4);
	ck_assert_uint_eq(jlen(root,
	    HIST ".1.assistantResponseMessage.toolUses"), 1);
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.toolUseId"), "a");
	ck_assert_uint_eq(jlen(root, HIST ".2.userInputMessage."
	    "userInputMessageContext.toolResults"), 1);
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage."
	    "userInputMessageContext.toolResults.0.content.0.text"), "A");
	ck_assert_uint_eq(jlen(root,
	    HIST ".3.assistantResponseMessage.toolUses"), 1);
	ck_assert_str_eq(jstr(root,
	    HIST ".3.assistantResponseMessage.toolUses.0.toolUseId"), "d");
	ck_assert_uint_eq(jlen(root,
	    CUR ".userInputMessageContext.toolResults"), 1);
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.toolUseId"), "d");
	ck_assert_str_eq(jstr(root, CUR ".content"), "result below");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 8: tools ---- */

START_TEST(kiro_req_history_tool_gets_placeholder)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root, *schema, *expect;

	conv_init(&c);
	add_tool(&c, "Read", "Reads a file", "{\"type\":\"object\","
	    "\"properties\":{\"path\":{\"type\":\"string\"}},"
	    "\"required\":[\"path\"]}");
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "t1", "read", "{}");	/* defined, other case */
	add_tool_use(m, "t2", "OldTool", "{}");	/* not defined */
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "t1", "r1", 0);
	add_tool_result(m, "t2", "r2", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, "ok");
	add_msg(&c, CONV_ROLE_USER, "more");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, CUR ".userInputMessageContext.tools"), 2);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.name"), "Read");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.description"), "Reads a file");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.1."
	    "toolSpecification.name"), "OldTool");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.1."
	    "toolSpecification.description"),
	    "Tool used in conversation history");
	schema = jpath(root, CUR ".userInputMessageContext.tools.1."
	    "toolSpecification.inputSchema.json");
	expect = parse_or_die("{\"$schema\":"
	    "\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
	    "\"properties\":{},\"required\":[],\"additionalProperties\":true}");
	ck_assert(json_object_equal(schema, expect));
	json_object_put(expect);
	/* Only currentMessage carries tools. */
	ck_assert(!jhas(root, HIST ".2.userInputMessage."
	    "userInputMessageContext.tools"));
	ck_assert(!jhas(root, HIST ".0.userInputMessage."
	    "userInputMessageContext"));
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_tool_choice_none_sends_placeholders_only)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	c.tool_choice = CONV_TOOL_CHOICE_NONE;
	add_tool(&c, "Read", "Reads", NULL);
	add_tool(&c, "Write", "Writes", NULL);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "t1", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, "no more tools");
	add_tool_result(m, "t1", "r1", 0);
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, CUR ".userInputMessageContext.tools"), 1);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.name"), "Read");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.description"),
	    "Tool used in conversation history");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* No tools and no history uses: no tools key. */
	conv_init(&c);
	c.tool_choice = CONV_TOOL_CHOICE_NONE;
	add_tool(&c, "Read", "Reads", NULL);
	add_msg(&c, CONV_ROLE_USER, "go");
	root = build(&c, 1);
	ck_assert(!jhas(root, CUR ".userInputMessageContext.tools"));
	ck_assert(json_object_is_type(jpath(root,
	    CUR ".userInputMessageContext"), json_type_object));
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 9: tool name limit ---- */

START_TEST(kiro_req_tool_names_outside_kiros_alphabet_are_sanitised)
{
	struct kiro_req_opts	 opts = { MODEL, "cid", NULL, 0, NULL };
	struct kiro_toolmap	*map;
	struct conv		 c;
	json_object		*root;
	char			 name[KIRO_TOOL_NAME_MAX + 1];
	char			 hex[SHA256_HEX_LEN + 1], expect[128];

	/* Kiro refuses anything but [A-Za-z0-9_-]: replaced, hashed. */
	kiro_tool_name("my.tool", name);
	sha256_hex("my.tool", 7, hex);
	snprintf(expect, sizeof(expect), "my_tool_%.8s", hex);
	ck_assert_str_eq(name, expect);
	kiro_tool_name("outil_\xc3\xa9t\xc3\xa9", name);
	ck_assert_int_eq(strncmp(name, "outil___t___", 12), 0);
	kiro_tool_name("", name);
	sha256_hex("", 0, hex);
	snprintf(expect, sizeof(expect), "tool_%.8s", hex);
	ck_assert_str_eq(name, expect);
	/* Different originals never collide through the replacement. */
	kiro_tool_name("a.b", name);
	kiro_tool_name("a/b", expect);
	ck_assert_str_ne(name, expect);

	conv_init(&c);
	add_tool(&c, "fs.read", "reads", NULL);
	add_msg(&c, CONV_ROLE_USER, "go");
	map = kiro_toolmap_new();
	root = build_opts(&c, 1, &opts, map);
	kiro_tool_name("fs.read", name);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.name"), name);
	ck_assert_str_eq(kiro_toolmap_original(map, name), "fs.read");
	json_object_put(root);
	kiro_toolmap_free(map);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_long_tool_names_shortened)
{
	struct kiro_req_opts	 opts = { MODEL, "cid", NULL, 0, NULL };
	struct kiro_toolmap	*map;
	struct conv		 c;
	struct conv_msg		*m;
	json_object		*root;
	char			 name[KIRO_TOOL_NAME_MAX + 1];
	char			 hex[SHA256_HEX_LEN + 1], expect[128];
	char			 long_name[80], long_hist[90], exact[64];
	char			 utf8_name[80];

	memset(long_name, 'a', 70);
	long_name[70] = '\0';
	memset(long_hist, 'h', 64);
	long_hist[64] = '\0';
	memset(exact, 'e', 63);
	exact[63] = '\0';

	kiro_tool_name(exact, name);
	ck_assert_str_eq(name, exact);
	kiro_tool_name(long_name, name);
	sha256_hex(long_name, strlen(long_name), hex);
	snprintf(expect, sizeof(expect), "%.54s_%.8s", long_name, hex);
	ck_assert_str_eq(name, expect);
	ck_assert_uint_eq(strlen(name), 63);

	/* Byte 54 inside "é" (2 bytes at 53..54): cut before it. */
	memset(utf8_name, 'u', 53);
	memcpy(utf8_name + 53, "\xc3\xa9", 2);
	memset(utf8_name + 55, 'v', 20);
	utf8_name[75] = '\0';
	kiro_tool_name(utf8_name, name);
	sha256_hex(utf8_name, strlen(utf8_name), hex);
	snprintf(expect, sizeof(expect), "%.53s_%.8s", utf8_name, hex);
	ck_assert_str_eq(name, expect);

	conv_init(&c);
	add_tool(&c, long_name, "long one", NULL);
	add_tool(&c, exact, "exactly 63", NULL);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "t1", long_name, "{}");
	add_tool_use(m, "t2", long_hist, "{}");
	m = add_msg(&c, CONV_ROLE_USER, "done");
	add_tool_result(m, "t1", "r", 0);
	add_tool_result(m, "t2", "r", 0);
	map = kiro_toolmap_new();
	root = build_opts(&c, 1, &opts, map);

	kiro_tool_name(long_name, name);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.name"), name);
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.name"), name);
	ck_assert_str_eq(kiro_toolmap_original(map, name), long_name);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.1."
	    "toolSpecification.name"), exact);
	ck_assert_str_eq(kiro_toolmap_original(map, exact), exact);
	kiro_tool_name(long_hist, name);
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.toolUses.1.name"), name);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.2."
	    "toolSpecification.name"), name);
	ck_assert_str_eq(kiro_toolmap_original(map, name), long_hist);
	ck_assert_str_eq(kiro_toolmap_original(map, "Unknown"), "Unknown");
	assert_valid(root);
	json_object_put(root);
	kiro_toolmap_free(map);
	kiro_toolmap_free(NULL);
	conv_free(&c);
}
END_TEST

/* ---- rule 10: tool description limit ---- */

/*
 * Thousands of shortened names map back to their own originals, the first
 * original winning when two shorten alike (the map is hashed now).
 */
START_TEST(kiro_req_toolmap_many_shortened_names)
{
	struct kiro_req_opts	 opts = { MODEL, "cid", NULL, 0, NULL };
	struct kiro_toolmap	*map;
	struct conv		 c;
	json_object		*root;
	char			 original[32], name[KIRO_TOOL_NAME_MAX + 1];
	int			 i;

	conv_init(&c);
	for (i = 0; i < 3000; i++) {
		snprintf(original, sizeof(original), "mcp.srv.tool%d", i);
		add_tool(&c, original, "d", NULL);
	}
	add_msg(&c, CONV_ROLE_USER, "go");
	map = kiro_toolmap_new();
	root = build_opts(&c, 1, &opts, map);
	for (i = 0; i < 3000; i++) {
		snprintf(original, sizeof(original), "mcp.srv.tool%d", i);
		kiro_tool_name(original, name);
		ck_assert_str_eq(kiro_toolmap_original(map, name), original);
	}
	ck_assert_str_eq(kiro_toolmap_original(map, "Read"), "Read");
	ck_assert_ptr_null(kiro_toolmap_original(map, NULL));
	ck_assert_str_eq(kiro_toolmap_original(NULL, "x.y"), "x.y");
	json_object_put(root);
	kiro_toolmap_free(map);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_tool_description_cut_and_defaulted)
{
	struct conv	 c;
	json_object	*root;
	char		*desc;
	const char	*got;

	/* 9999 ASCII bytes then "€" (3 bytes): the cut must not split it. */
	desc = xmalloc(KIRO_TOOL_DESC_MAX + 100);
	memset(desc, 'd', 9999);
	memcpy(desc + 9999, "\xe2\x82\xac", 3);
	memset(desc + 10002, 'x', 50);
	desc[10052] = '\0';
	conv_init(&c);
	add_tool(&c, "Big", desc, NULL);
	add_tool(&c, "Quiet", "", NULL);
	add_tool(&c, "Silent", NULL, NULL);
	add_tool(&c, "Small", "fits", NULL);
	add_msg(&c, CONV_ROLE_USER, "go");
	root = build(&c, 1);
	got = jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.description");
	ck_assert_uint_eq(strlen(got), 9999);
	ck_assert(strncmp(got, desc, 9999) == 0);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.1."
	    "toolSpecification.description"), "Quiet");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.2."
	    "toolSpecification.description"), "Silent");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.3."
	    "toolSpecification.description"), "fits");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* Exactly 10000 bytes stays whole. */
	desc[10000] = '\0';
	memset(desc, 'd', 10000);
	conv_init(&c);
	add_tool(&c, "Edge", desc, NULL);
	add_msg(&c, CONV_ROLE_USER, "go");
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0."
	    "toolSpecification.description"), desc);
	json_object_put(root);
	conv_free(&c);
	free(desc);
}
END_TEST

/* ---- rule 11: schema normalisation ---- */

START_TEST(kiro_req_tool_schema_normalised)
{
	static const struct {
		const char	*in;
		const char	*expect;
	} cases[] = {
		{ NULL, "{\"type\":\"object\",\"properties\":{},"
		    "\"required\":[],\"additionalProperties\":true}" },
		{ "{\"type\":null,\"properties\":null,\"required\":null}",
		  "{\"type\":\"object\",\"properties\":{},"
		    "\"required\":[],\"additionalProperties\":true}" },
		{ "{\"type\":\"\",\"properties\":[],\"required\":[\"a\",1,"
		    "null,\"b\"],\"additionalProperties\":\"no\"}",
		  "{\"type\":\"object\",\"properties\":{},"
		    "\"required\":[\"a\",\"b\"],"
		    "\"additionalProperties\":true}" },
		{ "{\"$schema\":\"x\",\"type\":\"object\",\"properties\":"
		    "{\"p\":{\"type\":\"string\",\"required\":null}},"
		    "\"required\":[\"p\"],\"additionalProperties\":false,"
		    "\"description\":\"d\"}",
		  "{\"$schema\":\"x\",\"type\":\"object\",\"properties\":"
		    "{\"p\":{\"type\":\"string\",\"required\":null}},"
		    "\"required\":[\"p\"],\"additionalProperties\":false,"
		    "\"description\":\"d\"}" },
		{ "{\"type\":\"object\",\"additionalProperties\":"
		    "{\"type\":\"string\"}}",
		  "{\"type\":\"object\",\"properties\":{},\"required\":[],"
		    "\"additionalProperties\":{\"type\":\"string\"}}" },
		{ "[1,2]", "{\"type\":\"object\",\"properties\":{},"
		    "\"required\":[],\"additionalProperties\":true}" },
		/* Complete but for one field: that one is still fixed. */
		{ "{\"type\":\"object\",\"properties\":{},\"required\":"
		    "[\"a\",2],\"additionalProperties\":false}",
		  "{\"type\":\"object\",\"properties\":{},\"required\":"
		    "[\"a\"],\"additionalProperties\":false}" },
		{ "{\"type\":\"object\",\"properties\":{},\"required\":"
		    "[],\"additionalProperties\":\"x\"}",
		  "{\"type\":\"object\",\"properties\":{},\"required\":"
		    "[],\"additionalProperties\":true}" },
		{ "{\"type\":\"\",\"properties\":{},\"required\":[],"
		    "\"additionalProperties\":true}",
		  "{\"type\":\"object\",\"properties\":{},\"required\":"
		    "[],\"additionalProperties\":true}" },
		{ "{\"type\":\"object\",\"properties\":null,\"required\":"
		    "[],\"additionalProperties\":true}",
		  "{\"type\":\"object\",\"properties\":{},\"required\":"
		    "[],\"additionalProperties\":true}" },
	};
	struct conv	 c;
	json_object	*root, *expect, *tool;
	char		*before, *after;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conv_init(&c);
		add_tool(&c, "T", "t", cases[i].in);
		add_msg(&c, CONV_ROLE_USER, "go");
		before = c.tools[0].schema != NULL ?
		    json_to_str(c.tools[0].schema) : NULL;
		root = build(&c, 1);
		tool = jpath(root, CUR ".userInputMessageContext.tools.0");
		ck_assert_int_eq(json_object_object_length(tool), 1);
		expect = parse_or_die(cases[i].expect);
		ck_assert_msg(json_object_equal(jpath(tool,
		    "toolSpecification.inputSchema.json"), expect),
		    "case %zu: got %s", i, json_object_to_json_string(
		    jpath(tool, "toolSpecification.inputSchema.json")));
		/* The client's schema is untouched. */
		if (before != NULL) {
			after = json_to_str(c.tools[0].schema);
			ck_assert_str_eq(before, after);
			free(after);
		}
		assert_valid(root);
		free(before);
		json_object_put(expect);
		json_object_put(root);
		conv_free(&c);
	}
}
END_TEST

/* ---- rule 12: tool input sanitising ---- */

START_TEST(kiro_req_tool_input_empty_keys_removed)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root, *expect;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "t1", "Edit", "{\"\":1,\"a\":{\"\":\"x\",\"b\":2},"
	    "\"l\":[{\"\":null,\"c\":3},\"s\"]}");
	m = add_msg(&c, CONV_ROLE_USER, "done");
	add_tool_result(m, "t1", "ok", 0);
	root = build(&c, 1);
	expect = parse_or_die("{\"a\":{\"b\":2},\"l\":[{\"c\":3},\"s\"]}");
	ck_assert(json_object_equal(jpath(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.input"), expect));
	json_object_put(expect);
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 13: images ---- */

START_TEST(kiro_req_images_formats_and_unsupported_dropped)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	m = add_msg(&c, CONV_ROLE_USER, "look");
	add_image(m, "image/jpg", "QQ==");
	add_image(m, "image/bmp", "Qg==");
	add_image(m, "application/pdf", "UA==");
	add_image(m, "IMAGE/PNG", "Uw==");
	add_image(m, "image/webp", "Vw==");
	add_image(m, "image/gif", "Rw==");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, CUR ".images"), 4);
	ck_assert_str_eq(jstr(root, CUR ".images.0.format"), "jpeg");
	ck_assert_str_eq(jstr(root, CUR ".images.0.source.bytes"), "QQ==");
	ck_assert_str_eq(jstr(root, CUR ".images.1.format"), "png");
	ck_assert_str_eq(jstr(root, CUR ".images.1.source.bytes"), "Uw==");
	ck_assert_str_eq(jstr(root, CUR ".images.2.format"), "webp");
	ck_assert_str_eq(jstr(root, CUR ".images.3.format"), "gif");
	ck_assert_int_eq(json_object_object_length(jpath(root,
	    CUR ".images.0")), 2);
	ck_assert_int_eq(json_object_object_length(jpath(root,
	    CUR ".images.0.source")), 1);
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);

	/* Only unsupported images: no images key. */
	conv_init(&c);
	m = add_msg(&c, CONV_ROLE_USER, "look");
	add_image(m, "image/tiff", "QQ==");
	root = build(&c, 1);
	ck_assert(!jhas(root, CUR ".images"));
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_old_history_images_omitted)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;
	size_t		 i;

	/* 8 messages (u a u a u a u a) then current: the first 4 are old. */
	conv_init(&c);
	for (i = 0; i < 4; i++) {
		m = add_msg(&c, CONV_ROLE_USER, "pic");
		add_image(m, "image/png", "UE5H");
		add_image(m, "image/png", "UE5H");
		add_msg(&c, CONV_ROLE_ASSISTANT, "seen");
	}
	m = add_msg(&c, CONV_ROLE_USER, "and this");
	add_image(m, "image/png", "UE5H");
	root = build(&c, 1);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "pic\n[2 image(s) omitted from history]");
	ck_assert(!jhas(root, HIST ".0.userInputMessage.images"));
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.content"),
	    "pic\n[2 image(s) omitted from history]");
	ck_assert(!jhas(root, HIST ".2.userInputMessage.images"));
	ck_assert_str_eq(jstr(root, HIST ".4.userInputMessage.content"), "pic");
	ck_assert_uint_eq(jlen(root, HIST ".4.userInputMessage.images"), 2);
	ck_assert_uint_eq(jlen(root, HIST ".6.userInputMessage.images"), 2);
	ck_assert_uint_eq(jlen(root, CUR ".images"), 1);
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 14: tool_choice by definitions and instruction, MANUAL ---- */

START_TEST(kiro_req_tool_choice_ignored_trigger_manual)
{
	static const struct {
		enum conv_tool_choice	 choice;
		size_t			 n_tools;
		const char		*first;
		const char		*rule;	/* in pair 0, or NULL */
	} cases[] = {
		{ CONV_TOOL_CHOICE_AUTO, 2, "Read", NULL },
		{ CONV_TOOL_CHOICE_ANY, 2, "Read", "You must call at least one "
		    "of the provided tools in this answer" },
		/* Only the named tool is offered. */
		{ CONV_TOOL_CHOICE_TOOL, 1, "Write", "You must call the tool "
		    "\"Write\" in this answer" },
		{ CONV_TOOL_CHOICE_NONE, 0, NULL, "Do not call any tool" },
	};
	struct conv	 c;
	json_object	*root, *pair0;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conv_init(&c);
		c.tool_choice = cases[i].choice;
		c.tool_choice_name = xstrdup("Write");
		add_tool(&c, "Read", "Reads", NULL);
		add_tool(&c, "Write", "Writes", NULL);
		add_msg(&c, CONV_ROLE_USER, "go");
		root = build(&c, 1);
		ck_assert_str_eq(jstr(root,
		    "conversationState.chatTriggerType"), "MANUAL");
		ck_assert_str_eq(jstr(root, "conversationState.agentTaskType"),
		    "vibe");
		if (cases[i].n_tools == 0)
			ck_assert_int_eq(jhas(root,
			    CUR ".userInputMessageContext.tools"), 0);
		else
			ck_assert_uint_eq(jlen(root,
			    CUR ".userInputMessageContext.tools"),
			    cases[i].n_tools);
		if (cases[i].first != NULL)
			ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext"
			    ".tools.0.toolSpecification.name"), cases[i].first);
		pair0 = jpath(root, HIST ".0.userInputMessage.content");
		if (cases[i].rule == NULL)
			ck_assert_ptr_null(pair0);
		else
			ck_assert_ptr_nonnull(strstr(json_object_get_string(
			    pair0), cases[i].rule));
		assert_valid(root);
		json_object_put(root);
		conv_free(&c);
	}
}
END_TEST

/* A named choice keeps placeholders for tools history used. */
START_TEST(kiro_req_named_tool_choice_keeps_history_placeholders)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	c.tool_choice = CONV_TOOL_CHOICE_TOOL;
	c.tool_choice_name = xstrdup("Write");
	add_tool(&c, "Read", "Reads", NULL);
	add_tool(&c, "Write", "Writes", NULL);
	add_msg(&c, CONV_ROLE_USER, "read a");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "tu1", "Read", "{\"path\":\"a\"}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "tu1", "text of a", 0);
	add_text(m, "now write it");
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, CUR ".userInputMessageContext.tools"), 2);
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.0"
	    ".toolSpecification.name"), "Write");
	ck_assert_str_eq(jstr(root, CUR ".userInputMessageContext.tools.1"
	    ".toolSpecification.name"), "Read");
	ck_assert_str_ne(jstr(root, CUR ".userInputMessageContext.tools.1"
	    ".toolSpecification.description"), "Reads");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* json_mode's instruction carries the schema; it follows the system. */
START_TEST(kiro_req_json_mode_instruction)
{
	struct conv	 c;
	json_object	*root;
	const char	*p0;

	conv_init(&c);
	c.system = xstrdup("Be brief.");
	c.json_mode = 1;
	c.response_schema = parse_or_die("{\"type\":\"object\","
	    "\"required\":[\"city\"]}");
	c.single_tool_call = 1;
	add_tool(&c, "Read", "Reads", NULL);
	add_msg(&c, CONV_ROLE_USER, "where?");
	root = build(&c, 1);
	p0 = jstr(root, HIST ".0.userInputMessage.content");
	ck_assert_ptr_nonnull(p0);
	ck_assert_int_eq(strncmp(p0, "Be brief.\n\n", 11), 0);
	ck_assert_ptr_nonnull(strstr(p0, "Call at most one tool"));
	ck_assert_ptr_nonnull(strstr(p0, "Answer with one JSON value only"));
	ck_assert_ptr_nonnull(strstr(p0, "{\"type\":\"object\","
	    "\"required\":[\"city\"]}"));
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 15: conversationId, agentContinuationId, profileArn ---- */

static int
is_uuid4(const char *s)
{
	size_t	i;

	if (strlen(s) != 36 || s[14] != '4' ||
	    strchr("89ab", s[19]) == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	}
	return 1;
}

START_TEST(kiro_req_conversation_id_and_profile_arn)
{
	struct kiro_req_opts	 opts = { MODEL, "2f0e1b84-aaaa-4bbb-8ccc-"
	    "000000000001", "arn:aws:codewhisperer:us-east-1:1:profile/X",
	    0, NULL };
	struct conv		 c;
	json_object		*root, *root2;
	char			*first;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "hi");
	root = build_opts(&c, 1, &opts, NULL);
	ck_assert_str_eq(jstr(root, "conversationState.conversationId"),
	    opts.conversation_id);
	ck_assert_str_eq(jstr(root, "profileArn"), opts.profile_arn);
	ck_assert(!jhas(root, "conversationState.profileArn"));
	ck_assert(is_uuid4(jstr(root,
	    "conversationState.agentContinuationId")));
	first = xstrdup(jstr(root, "conversationState.agentContinuationId"));
	assert_valid(root);
	json_object_put(root);

	opts.conversation_id = NULL;
	opts.profile_arn = NULL;
	root = build_opts(&c, 1, &opts, NULL);
	root2 = build_opts(&c, 1, &opts, NULL);
	ck_assert(is_uuid4(jstr(root, "conversationState.conversationId")));
	ck_assert_str_ne(jstr(root, "conversationState.conversationId"),
	    jstr(root2, "conversationState.conversationId"));
	ck_assert_str_ne(jstr(root, "conversationState.agentContinuationId"),
	    first);
	ck_assert(!jhas(root, "profileArn"));
	ck_assert_int_eq(json_object_object_length(root), 1);
	free(first);
	json_object_put(root);
	json_object_put(root2);
	conv_free(&c);
}
END_TEST

START_TEST(kiro_req_model_id_on_every_user_message)
{
	struct kiro_req_opts	 opts = { "claude-opus-4.6", "cid", NULL,
	    0, NULL };
	struct conv		 c;
	json_object		*root;
	size_t			 i, n;

	conv_init(&c);
	conv_append_system(&c, "sys");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a0");
	add_msg(&c, CONV_ROLE_USER, "u1");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a1");
	add_msg(&c, CONV_ROLE_USER, "u2");
	root = build_opts(&c, 1, &opts, NULL);
	n = jlen(root, HIST);
	ck_assert_uint_eq(n, 6);
	for (i = 0; i < n; i += 2) {
		ck_assert_str_eq(json_object_get_string(jpathf(root,
		    HIST ".%zu.userInputMessage.modelId", i)),
		    "claude-opus-4.6");
		ck_assert_str_eq(json_object_get_string(jpathf(root,
		    HIST ".%zu.userInputMessage.origin", i)), "AI_EDITOR");
		ck_assert(jpathf(root, HIST ".%zu.assistantResponseMessage."
		    "modelId", i + 1) == NULL);
	}
	ck_assert_str_eq(jstr(root, CUR ".modelId"), "claude-opus-4.6");
	assert_valid(root);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 16: payload trimming ---- */

START_TEST(kiro_req_drop_oldest_turn_then_rebuild)
{
	struct history_opts	 ho = { 5 };
	struct conv		 c;
	struct conv_msg		*m;
	json_object		*root;
	char			*cause = NULL;

	conv_init(&c);
	conv_append_system(&c, "sys");
	add_msg(&c, CONV_ROLE_USER, "turn one");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "t1", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "t1", "r1", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, "one done");
	add_msg(&c, CONV_ROLE_USER, "turn two");
	add_msg(&c, CONV_ROLE_ASSISTANT, "two done");
	add_msg(&c, CONV_ROLE_USER, "turn three");
	ck_assert_int_eq(history_repair(&c, &ho, &cause), KF_OK);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 1);
	root = build(&c, 1);
	/* Pair 0 stays; the whole first turn (with its tool round) is gone. */
	ck_assert_uint_eq(jlen(root, HIST), 4);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"), "sys");
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage.content"),
	    "turn two");
	ck_assert_str_eq(jstr(root, HIST ".3.assistantResponseMessage.content"),
	    "two done");
	ck_assert_str_eq(jstr(root, CUR ".content"), "turn three");
	assert_valid(root);
	json_object_put(root);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 1);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 0);
	root = build(&c, 1);
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_str_eq(jstr(root, CUR ".content"), "turn three");
	json_object_put(root);
	free(cause);
	conv_free(&c);
}
END_TEST

/* ---- property test: §3.5 on random conversations ---- */

static uint64_t	prng_state;

static uint32_t
prng(void)
{
	/* xorshift64*: deterministic, seeded per run. */
	prng_state ^= prng_state >> 12;
	prng_state ^= prng_state << 25;
	prng_state ^= prng_state >> 27;
	return (uint32_t)((prng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static size_t
pick(size_t n)
{
	return prng() % n;
}

#define PICK(a)	((a)[pick(sizeof(a) / sizeof((a)[0]))])

static const char *const rnd_texts[] = {
	"", " ", "\n\t", "hello", "two\nlines", "caf\xc3\xa9 \xe2\x9c\x93",
	"quote \" and \\ back", "<thinking>fake</thinking>", "{",
};
static const char *const rnd_media[] = {
	"image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp",
	"image/bmp", "application/pdf", "IMAGE/PNG", NULL,
};
static const char *const rnd_names[] = {
	"Read", "read", "Write", "Bash", "Grep", "mcp__server__tool",
	"an_extremely_long_tool_name_from_some_mcp_server_that_goes_on_and_on",
	"another_extremely_long_tool_name_from_some_mcp_server_that_is_long",
	"caf\xc3\xa9_tool",
};
static const char *const rnd_inputs[] = {
	NULL, "{}", "{\"a\":1}", "{\"\":1,\"b\":{\"\":2,\"c\":[{\"\":3}]}}",
	"[1,2]", "\"str\"", "{\"path\":\"/tmp/x\",\"n\":null}",
};
static const char *const rnd_schemas[] = {
	NULL, "{}", "{\"type\":\"object\",\"properties\":{\"a\":{}}}",
	"{\"type\":null,\"properties\":null,\"required\":null}",
	"{\"required\":[1,\"a\"],\"additionalProperties\":\"x\"}",
	"[]",
};
static const char *const rnd_systems[] = {
	NULL, "", "  ", "Be brief.", "x <thinking_mode>on</thinking_mode>",
};
static const char *const rnd_efforts[] = {
	NULL, "low", "medium", "high", "weird",
};
static const long rnd_budgets[] = { -1, 0, 10, 2048, 30000 };

static void
rnd_id(char *out, size_t len)
{
	snprintf(out, len, "id%zu", pick(8));
}

static void
rnd_result_content(struct conv_block *r)
{
	struct conv_block	*c;
	size_t			 i, n;

	n = pick(3);
	for (i = 0; i < n; i++) {
		if (pick(4) == 0) {
			c = conv_block_add_content(r, CONV_BLOCK_IMAGE);
			c->media_type = xstrdup(PICK(rnd_media));
			c->data = xstrdup("QUJD");
		} else {
			c = conv_block_add_content(r, CONV_BLOCK_TEXT);
			c->text = xstrdup(PICK(rnd_texts));
		}
	}
}

/*
 * A random conversation: random roles (or mostly alternating ones), text
 * that may be empty or blank, tool uses with ids from a small pool (so ids
 * repeat), results that answer the previous assistant turn, an older one
 * or nothing (orphans, duplicates), images of random media types, thinking,
 * blocks on the wrong side, and random system, thinking, tools and choice.
 */
static void
rnd_conv(struct conv *c)
{
	struct conv_msg		*m;
	struct conv_block	*b;
	enum conv_role		 role;
	const char		*s;
	char			 id[16], *desc, recent[8][16];
	size_t			 i, j, n_msgs, n_blocks, n_recent = 0;
	int			 alternate;

	conv_init(c);
	if ((s = PICK(rnd_systems)) != NULL)
		conv_append_system(c, s);
	c->thinking = (enum conv_thinking)pick(CONV_THINKING__MAX);
	c->thinking_budget = PICK(rnd_budgets);
	c->thinking_effort = xstrdup(PICK(rnd_efforts));
	c->tool_choice = (enum conv_tool_choice)pick(CONV_TOOL_CHOICE__MAX);
	n_blocks = pick(4);
	for (i = 0; i < n_blocks; i++) {
		if (pick(10) == 0) {
			desc = xmalloc(KIRO_TOOL_DESC_MAX + 20);
			memset(desc, 'z', KIRO_TOOL_DESC_MAX + 10);
			desc[KIRO_TOOL_DESC_MAX + 10] = '\0';
		} else
			desc = xstrdup(pick(3) == 0 ? "" : "does things");
		add_tool(c, PICK(rnd_names), desc, PICK(rnd_schemas));
		free(desc);
	}
	alternate = pick(2);
	n_msgs = 1 + pick(12);
	for (i = 0; i < n_msgs; i++) {
		if (alternate && pick(10) != 0)
			role = i % 2 == 0 ? CONV_ROLE_USER :
			    CONV_ROLE_ASSISTANT;
		else
			role = pick(100) < 55 ? CONV_ROLE_USER :
			    CONV_ROLE_ASSISTANT;
		m = conv_add_msg(c, role);
		if (role == CONV_ROLE_ASSISTANT)
			n_recent = 0;
		n_blocks = pick(5);
		for (j = 0; j < n_blocks; j++) {
			switch ((role == CONV_ROLE_USER ? 0 : 8) + pick(8)) {
			case 0:
			case 1:
			case 8:
			case 9:
				add_text(m, PICK(rnd_texts));
				break;
			case 2:
			case 14:	/* wrong side */
				add_image(m, PICK(rnd_media),
				    pick(8) == 0 ? "" : "QUJD");
				break;
			case 3:
			case 4:
			case 5:
			case 15:	/* wrong side */
				if (n_recent > 0 && pick(3) != 0)
					snprintf(id, sizeof(id), "%s",
					    recent[pick(n_recent)]);
				else
					rnd_id(id, sizeof(id));
				b = add_tool_result(m, id, NULL,
				    (int)pick(2));
				rnd_result_content(b);
				break;
			case 7:		/* wrong side */
			case 11:
			case 12:
			case 13:
				rnd_id(id, sizeof(id));
				if (role == CONV_ROLE_ASSISTANT && n_recent < 8)
					snprintf(recent[n_recent++],
					    sizeof(recent[0]), "%s", id);
				add_tool_use(m, pick(16) == 0 ? "" : id,
				    PICK(rnd_names), PICK(rnd_inputs));
				break;
			default:	/* 6 is on the wrong side */
				add_thinking(m, PICK(rnd_texts));
				break;
			}
		}
	}
}

struct features {
	size_t	history_uses;
	size_t	current_results;
	size_t	images;
	size_t	tools;
	size_t	pair0;
};

static void
count_features(json_object *root, struct features *f)
{
	json_object	*history;
	size_t		 i, n;
	int		 uses = 0, images = 0;

	if ((history = jpath(root, HIST)) != NULL) {
		n = json_object_array_length(history);
		for (i = 0; i < n; i++) {
			if (jpathf(history, "%zu.assistantResponseMessage."
			    "toolUses", i) != NULL)
				uses = 1;
			if (jpathf(history, "%zu.userInputMessage.images",
			    i) != NULL)
				images = 1;
		}
		if (strcmp(json_object_get_string(jpath(history,
		    "1.assistantResponseMessage.content")),
		    KIRO_SYSTEM_ACK) == 0)
			f->pair0++;
	}
	if (jpath(root, CUR ".images") != NULL)
		images = 1;
	f->history_uses += uses;
	f->images += images;
	f->current_results += jpath(root,
	    CUR ".userInputMessageContext.toolResults") != NULL;
	f->tools += jpath(root, CUR ".userInputMessageContext.tools") != NULL;
}

START_TEST(kiro_req_random_conversations_satisfy_3_5)
{
	struct kiro_req_opts	 opts = { MODEL, NULL, NULL, 0, NULL };
	struct history_opts	 ho;
	struct kiro_toolmap	*map;
	struct conv		 c;
	struct buf		 out = BUF_INIT;
	json_object		*root;
	struct features		 seen = { 0, 0, 0, 0, 0 };
	char			*cause = NULL, why[256];
	enum kf_err		 er;
	int			 iter, built = 0;

	prng_state = 0x9e3779b97f4a7c15ULL;
	for (iter = 0; iter < 2000; iter++) {
		rnd_conv(&c);
		ho.max_image_msgs = pick(6);
		er = history_repair(&c, &ho, &cause);
		if (er != KF_OK) {
			ck_assert_int_eq(er, KF_EINVAL);
			ck_assert_str_eq(cause, "messages must contain at "
			    "least one user message");
			conv_free(&c);
			continue;
		}
		/* Sometimes trim like the relay does, then repair again. */
		if (pick(4) == 0 && history_drop_oldest_turn(&c))
			ck_assert_int_eq(history_repair(&c, &ho, &cause),
			    KF_OK);
		opts.profile_arn = pick(2) ? "arn:x" : NULL;
		map = kiro_toolmap_new();
		buf_reset(&out);
		ck_assert_int_eq(kiro_req_build(&c, &opts, &out, map,
		    &cause), KF_OK);
		ck_assert_msg(json_parse(out.ptr, out.len, JSON_MAX_DEPTH,
		    &root, &cause) == KF_OK, "iteration %d: %s", iter, cause);
		ck_assert_msg(check_kiro_body(root, why, sizeof(why)) == 0,
		    "iteration %d: %s\n%s", iter, why, out.ptr);
		built++;
		count_features(root, &seen);
		json_object_put(root);
		kiro_toolmap_free(map);
		conv_free(&c);
	}
	/* Most random conversations have a user message somewhere. */
	ck_assert_int_gt(built, 1500);
	/* And the generator reaches the interesting shapes. */
	fprintf(stderr, "property: %d bodies, %zu with history tool uses, "
	    "%zu with current results, %zu with images, %zu with tools, "
	    "%zu with pair 0\n", built, seen.history_uses,
	    seen.current_results, seen.images, seen.tools, seen.pair0);
	ck_assert_uint_gt(seen.history_uses, 100);
	ck_assert_uint_gt(seen.current_results, 50);
	ck_assert_uint_gt(seen.images, 100);
	ck_assert_uint_gt(seen.tools, 100);
	ck_assert_uint_gt(seen.pair0, 100);
	buf_free(&out);
	free(cause);
}
END_TEST

/* The checker itself must be able to fail. */
START_TEST(kiro_req_checker_rejects_bad_bodies)
{
	static const char *const bad[] = {
		/* assistant first */
		"{\"conversationState\":{\"chatTriggerType\":\"MANUAL\","
		"\"conversationId\":\"c\",\"agentContinuationId\":\"a\","
		"\"agentTaskType\":\"vibe\",\"history\":["
		"{\"assistantResponseMessage\":{\"content\":\"x\"}},"
		"{\"userInputMessage\":{\"content\":\"x\",\"modelId\":\"m\","
		"\"origin\":\"AI_EDITOR\"}}],"
		"\"currentMessage\":{\"userInputMessage\":{\"content\":\"x\","
		"\"modelId\":\"m\",\"origin\":\"AI_EDITOR\","
		"\"userInputMessageContext\":{}}}}}",
		/* unanswered tool use */
		"{\"conversationState\":{\"chatTriggerType\":\"MANUAL\","
		"\"conversationId\":\"c\",\"agentContinuationId\":\"a\","
		"\"agentTaskType\":\"vibe\",\"history\":["
		"{\"userInputMessage\":{\"content\":\"x\",\"modelId\":\"m\","
		"\"origin\":\"AI_EDITOR\"}},"
		"{\"assistantResponseMessage\":{\"content\":\" \","
		"\"toolUses\":[{\"toolUseId\":\"t\",\"name\":\"R\","
		"\"input\":{}}]}}],"
		"\"currentMessage\":{\"userInputMessage\":{\"content\":\"x\","
		"\"modelId\":\"m\",\"origin\":\"AI_EDITOR\","
		"\"userInputMessageContext\":{\"tools\":["
		"{\"toolSpecification\":{\"name\":\"R\","
		"\"description\":\"d\",\"inputSchema\":{\"json\":"
		"{\"type\":\"object\",\"properties\":{},\"required\":[],"
		"\"additionalProperties\":true}}}}]}}}}}",
		/* blank current content */
		"{\"conversationState\":{\"chatTriggerType\":\"MANUAL\","
		"\"conversationId\":\"c\",\"agentContinuationId\":\"a\","
		"\"agentTaskType\":\"vibe\","
		"\"currentMessage\":{\"userInputMessage\":{\"content\":\" \","
		"\"modelId\":\"m\",\"origin\":\"AI_EDITOR\","
		"\"userInputMessageContext\":{}}}}}",
		/* AUTO trigger */
		"{\"conversationState\":{\"chatTriggerType\":\"AUTO\","
		"\"conversationId\":\"c\",\"agentContinuationId\":\"a\","
		"\"agentTaskType\":\"vibe\","
		"\"currentMessage\":{\"userInputMessage\":{\"content\":\"x\","
		"\"modelId\":\"m\",\"origin\":\"AI_EDITOR\","
		"\"userInputMessageContext\":{}}}}}",
		/* orphan tool result */
		"{\"conversationState\":{\"chatTriggerType\":\"MANUAL\","
		"\"conversationId\":\"c\",\"agentContinuationId\":\"a\","
		"\"agentTaskType\":\"vibe\","
		"\"currentMessage\":{\"userInputMessage\":{\"content\":\"x\","
		"\"modelId\":\"m\",\"origin\":\"AI_EDITOR\","
		"\"userInputMessageContext\":{\"toolResults\":[{\"toolUseId\":"
		"\"t\",\"content\":[{\"text\":\"r\"}],\"status\":\"success\"}]}"
		"}}}}",
	};
	json_object	*root;
	char		 why[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = parse_or_die(bad[i]);
		ck_assert_msg(check_kiro_body(root, why, sizeof(why)) == -1,
		    "bad body %zu accepted", i);
		json_object_put(root);
	}
}
END_TEST

/* The two rules the builder, pre-flight check and estimate share. */
START_TEST(blank_and_image_format)
{
	ck_assert(kiro_text_blank(NULL));
	ck_assert(kiro_text_blank(""));
	ck_assert(kiro_text_blank(" \t\r\n\f\v"));
	ck_assert(!kiro_text_blank(" x "));
	ck_assert_str_eq(kiro_image_format("image/jpeg"), "jpeg");
	ck_assert_str_eq(kiro_image_format("IMAGE/JPG"), "jpeg");
	ck_assert_str_eq(kiro_image_format("image/WebP"), "webp");
	ck_assert_str_eq(kiro_image_format("image/gif"), "gif");
	ck_assert_str_eq(kiro_image_format("image/png"), "png");
	ck_assert_ptr_null(kiro_image_format("image/bmp"));
	ck_assert_ptr_null(kiro_image_format("png"));
	ck_assert_ptr_null(kiro_image_format(NULL));
}
END_TEST

static Suite *
kiro_req_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("kiro_req");
	tc = tcase_create("rules");
	tcase_add_test(tc, kiro_req_prefill_trailing_assistant_dropped);
	tcase_add_test(tc, kiro_req_no_user_message_is_einval);
	tcase_add_test(tc, blank_and_image_format);
	tcase_add_test(tc, kiro_req_current_message_text_images_results);
	tcase_add_test(tc, kiro_req_current_empty_content_gets_placeholder);
	tcase_add_test(tc, kiro_req_system_prompt_is_history_pair_zero);
	tcase_add_test(tc, kiro_req_cache_points_follow_marked_history);
	tcase_add_test(tc, kiro_req_cache_points_capped_to_the_last);
	tcase_add_test(tc, kiro_req_thinking_enabled_prefix_budget_clamped);
	tcase_add_test(tc, kiro_req_thinking_adaptive_prefix_effort);
	tcase_add_test(tc, kiro_req_thinking_prefix_alone_forms_pair_zero);
	tcase_add_test(tc, kiro_req_thinking_prefix_not_doubled);
	tcase_add_test(tc, kiro_req_consecutive_roles_merged);
	tcase_add_test(tc, kiro_req_history_starts_user_ends_assistant);
	tcase_add_test(tc, kiro_req_assistant_thinking_reembedded);
	tcase_add_test(tc, kiro_req_assistant_empty_content_placeholders);
	tcase_add_test(tc, kiro_req_history_user_empty_content_placeholders);
	tcase_add_test(tc, kiro_req_tool_pairing_orphans_duplicates_unanswered);
	tcase_add_test(tc, kiro_req_history_tool_gets_placeholder);
	tcase_add_test(tc, kiro_req_tool_choice_none_sends_placeholders_only);
	tcase_add_test(tc, kiro_req_long_tool_names_shortened);
	tcase_add_test(tc, kiro_req_tool_names_outside_kiros_alphabet_are_sanitised);
	tcase_add_test(tc, kiro_req_toolmap_many_shortened_names);
	tcase_add_test(tc, kiro_req_tool_description_cut_and_defaulted);
	tcase_add_test(tc, kiro_req_tool_schema_normalised);
	tcase_add_test(tc, kiro_req_tool_input_empty_keys_removed);
	tcase_add_test(tc, kiro_req_images_formats_and_unsupported_dropped);
	tcase_add_test(tc, kiro_req_old_history_images_omitted);
	tcase_add_test(tc, kiro_req_tool_choice_ignored_trigger_manual);
	tcase_add_test(tc, kiro_req_named_tool_choice_keeps_history_placeholders);
	tcase_add_test(tc, kiro_req_json_mode_instruction);
	tcase_add_test(tc, kiro_req_conversation_id_and_profile_arn);
	tcase_add_test(tc, kiro_req_model_id_on_every_user_message);
	tcase_add_test(tc, kiro_req_drop_oldest_turn_then_rebuild);
	suite_add_tcase(s, tc);
	tc = tcase_create("property");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, kiro_req_checker_rejects_bad_bodies);
	tcase_add_test(tc, kiro_req_random_conversations_satisfy_3_5);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(kiro_req_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
