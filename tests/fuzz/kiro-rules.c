/* kiro-rules.c: the checks every parser fuzz target makes on the Kiro body. */
/*
 * What a front end's parser hands on must become a body Kiro accepts.
 * fuzz_to_kiro runs the rest of a real request's path (history_repair,
 * kiro_req_build) and checks the body: valid JSON, valid UTF-8, one value,
 * an object with conversationState.currentMessage.userInputMessage whose
 * modelId is the one given; every tool name in it is at most
 * KIRO_TOOL_NAME_MAX bytes and maps back to a name the client sent; and
 * the checks Kiro is known to make (doc/protocol.md §3.5, as
 * tests/mock/kiro_mock.py implements them), which is what history.h and
 * kiro_req.h promise: chatTriggerType MANUAL, a conversationId, non-blank
 * current content, history non-empty when present, starting with user,
 * alternating, ending with assistant, no empty content, tool uses
 * {toolUseId, name, input object without a "" key}, no toolUseId twice,
 * every tool result answering a use of the assistant message just before
 * it (once), every use answered by the next user message, tool specs well
 * formed (no null required or properties), every tool used in history
 * defined (ignoring case), and images in jpeg/png/gif/webp with standard,
 * padded base64 bytes.  Tool name characters are not checked: clients
 * choose them.  The body is parsed back with a depth limit above the
 * parser's: Kiro's envelope nests a tool schema about ten levels deeper
 * than the request.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "history.h"
#include "json.h"
#include "kiro-rules.h"
#include "kiro_req.h"

#define BODY_DEPTH	(JSON_MAX_DEPTH + 64)

/* A name the client gave: a tool definition, a tool_use, or tool_choice. */
static int
client_named(const struct conv *conv, const char *name)
{
	size_t	i, j;

	for (i = 0; i < conv->n_tools; i++)
		if (strcmp(conv->tools[i].name, name) == 0)
			return 1;
	for (i = 0; i < conv->n_msgs; i++)
		for (j = 0; j < conv->msgs[i].n_blocks; j++)
			if (conv->msgs[i].blocks[j].type ==
			    CONV_BLOCK_TOOL_USE &&
			    conv->msgs[i].blocks[j].name != NULL &&
			    strcmp(conv->msgs[i].blocks[j].name, name) == 0)
				return 1;
	return conv->tool_choice_name != NULL &&
	    strcmp(conv->tool_choice_name, name) == 0;
}

static void
check_tool_names(const struct conv *conv, json_object *tools,
    const struct kiro_toolmap *map)
{
	json_object	*spec;
	const char	*name, *orig;
	size_t		 i, n;

	n = json_object_array_length(tools);
	for (i = 0; i < n; i++) {
		CHECK(json_get_obj(json_object_array_get_idx(tools, i),
		    "toolSpecification", &spec) == 1);
		CHECK(json_get_str(spec, "name", &name) == 1);
		CHECK(strlen(name) <= KIRO_TOOL_NAME_MAX);
		orig = kiro_toolmap_original(map, name);
		CHECK(orig != NULL);
		/* Placeholders are made for names history uses. */
		CHECK(client_named(conv, orig));
	}
}

/* --- Kiro's validation, as the mock implements it (§3.5) -------------- */

static int
is_blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static int
str_field(json_object *obj, const char *key, const char **out)
{
	return json_get_str(obj, key, out) == 1;
}

/* A list of borrowed strings: tool use ids, tool names. */
struct idset {
	const char	**ids;
	size_t		  n, cap;
};

static int
idset_has(const struct idset *set, const char *id, int nocase)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		if ((nocase ? strcasecmp : strcmp)(set->ids[i], id) == 0)
			return 1;
	return 0;
}

static void
idset_add(struct idset *set, const char *id)
{
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 8;
		set->ids = realloc(set->ids, set->cap * sizeof(*set->ids));
		CHECK(set->ids != NULL);
	}
	set->ids[set->n++] = id;
}

/* Standard base64 with padding, as Kiro (and Python's b64decode) want it. */
static int
is_std_base64(const char *s)
{
	size_t	len = strlen(s), i, pad = 0;

	if (len == 0 || len % 4 != 0)
		return 0;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return 0;
	return 1;
}

static void
check_images(json_object *msg)
{
	json_object	*images, *img, *src;
	const char	*format, *bytes;
	size_t		 i;
	int		 rc;

	if ((rc = json_get_arr(msg, "images", &images)) == 0)
		return;
	CHECK(rc == 1);
	for (i = 0; i < json_object_array_length(images); i++) {
		img = json_object_array_get_idx(images, i);
		CHECK(str_field(img, "format", &format));
		CHECK(strcmp(format, "jpeg") == 0 || strcmp(format, "png") == 0 ||
		    strcmp(format, "gif") == 0 || strcmp(format, "webp") == 0);
		CHECK(json_get_obj(img, "source", &src) == 1);
		CHECK(str_field(src, "bytes", &bytes) && is_std_base64(bytes));
	}
}

static void
check_schema(json_object *schema)
{
	json_object	*v;

	CHECK(json_object_is_type(schema, json_type_object));
	if (json_object_object_get_ex(schema, "required", &v))
		CHECK(v != NULL);
	if (json_object_object_get_ex(schema, "properties", &v))
		CHECK(v != NULL);
}

/* Tool uses of an assistant message; their ids go to uses and all. */
static void
check_tool_uses(json_object *arm, struct idset *uses, struct idset *all,
    struct idset *names)
{
	json_object	*arr, *use, *input;
	const char	*id, *name;
	size_t		 i;
	int		 rc;

	uses->n = 0;
	if ((rc = json_get_arr(arm, "toolUses", &arr)) == 0)
		return;
	CHECK(rc == 1);
	for (i = 0; i < json_object_array_length(arr); i++) {
		use = json_object_array_get_idx(arr, i);
		CHECK(str_field(use, "toolUseId", &id));
		CHECK(str_field(use, "name", &name));
		CHECK(json_get_obj(use, "input", &input) == 1);
		CHECK(!json_object_object_get_ex(input, "", NULL));
		CHECK(!idset_has(all, id, 0));		/* duplicate id */
		idset_add(all, id);
		idset_add(uses, id);
		idset_add(names, name);
	}
}

/* A user message answering prev (the assistant's uses, may be empty). */
static void
check_user(json_object *uim, const struct idset *prev, int current)
{
	json_object	*ctx, *results, *res, *content, *tools;
	struct idset	 answered = { NULL, 0, 0 };
	const char	*text, *id, *status;
	size_t		 i;
	int		 rc;

	CHECK(str_field(uim, "content", &text));
	if (current)
		CHECK(!is_blank(text));
	else
		CHECK(*text != '\0');
	check_images(uim);
	if ((rc = json_get_obj(uim, "userInputMessageContext", &ctx)) == 1 &&
	    (rc = json_get_arr(ctx, "toolResults", &results)) == 1) {
		for (i = 0; i < json_object_array_length(results); i++) {
			res = json_object_array_get_idx(results, i);
			CHECK(str_field(res, "toolUseId", &id));
			CHECK(json_get_arr(res, "content", &content) == 1);
			CHECK(str_field(res, "status", &status));
			CHECK(strcmp(status, "success") == 0 ||
			    strcmp(status, "error") == 0);
			CHECK(idset_has(prev, id, 0));	/* orphan */
			CHECK(!idset_has(&answered, id, 0));	/* twice */
			idset_add(&answered, id);
		}
	} else
		CHECK(rc != -1);
	for (i = 0; i < prev->n; i++)
		CHECK(idset_has(&answered, prev->ids[i], 0));	/* unanswered */
	/* Only the current message carries tool definitions. */
	if (!current &&
	    json_get_obj(uim, "userInputMessageContext", &ctx) == 1)
		CHECK(json_get_arr(ctx, "tools", &tools) != 1 ||
		    json_object_array_length(tools) == 0);
	free(answered.ids);
}

static void
check_kiro_rules(json_object *cs)
{
	json_object	*hist, *entry, *uim, *arm, *cur, *ctx, *tools, *spec;
	json_object	*schema, *json;
	struct idset	 prev = { NULL, 0, 0 }, all = { NULL, 0, 0 };
	struct idset	 used = { NULL, 0, 0 }, defined = { NULL, 0, 0 };
	const char	*s, *desc;
	size_t		 i, n;
	int		 rc, last_user = 0;

	CHECK(str_field(cs, "chatTriggerType", &s) &&
	    strcmp(s, "MANUAL") == 0);
	CHECK(str_field(cs, "conversationId", &s) && *s != '\0');
	if ((rc = json_get_arr(cs, "history", &hist)) == 1) {
		n = json_object_array_length(hist);
		CHECK(n > 0);
		for (i = 0; i < n; i++) {
			entry = json_object_array_get_idx(hist, i);
			rc = (json_get_obj(entry, "userInputMessage", &uim) ==
			    1) + 2 * (json_get_obj(entry,
			    "assistantResponseMessage", &arm) == 1);
			CHECK(rc == 1 || rc == 2);
			CHECK(json_object_object_length(entry) == 1);
			if (rc == 1) {
				CHECK(i == 0 || !last_user);	/* alternate */
				check_user(uim, &prev, 0);
				prev.n = 0;
				last_user = 1;
			} else {
				CHECK(i > 0 && last_user);
				CHECK(str_field(arm, "content", &s) &&
				    *s != '\0');
				check_tool_uses(arm, &prev, &all, &used);
				last_user = 0;
			}
		}
		CHECK(!last_user);		/* ends with assistant */
	} else
		CHECK(rc == 0);
	CHECK(json_get_obj(cs, "currentMessage", &cur) == 1 &&
	    json_get_obj(cur, "userInputMessage", &uim) == 1);
	CHECK(str_field(uim, "origin", &s));
	check_user(uim, &prev, 1);
	if (json_get_obj(uim, "userInputMessageContext", &ctx) == 1 &&
	    (rc = json_get_arr(ctx, "tools", &tools)) != 0) {
		CHECK(rc == 1);
		for (i = 0; i < json_object_array_length(tools); i++) {
			entry = json_object_array_get_idx(tools, i);
			CHECK(!json_object_object_get_ex(entry, "cachePoint",
			    NULL));
			CHECK(json_get_obj(entry, "toolSpecification", &spec) ==
			    1);
			CHECK(str_field(spec, "name", &s) && *s != '\0' &&
			    strlen(s) <= 64);
			CHECK(str_field(spec, "description", &desc));
			CHECK(json_get_obj(spec, "inputSchema", &schema) == 1);
			CHECK(json_get_obj(schema, "json", &json) == 1);
			check_schema(json);
			idset_add(&defined, s);
		}
	}
	for (i = 0; i < used.n; i++)
		CHECK(idset_has(&defined, used.ids[i], 1));
	free(prev.ids);
	free(all.ids);
	free(used.ids);
	free(defined.ids);
}

static void
fuzz_check_body(const struct conv *conv, const struct buf *body,
    const struct kiro_toolmap *map)
{
	json_object	*root = NULL, *cs, *cm, *uim, *ctx, *tools;
	const char	*model;
	char		*why = NULL;

	if (json_parse(body->ptr, body->len, BODY_DEPTH, &root, &why) !=
	    KF_OK)
		abort();	/* the gateway would send Kiro broken JSON */
	CHECK(json_object_is_type(root, json_type_object));
	CHECK(json_get_obj(root, "conversationState", &cs) == 1);
	CHECK(json_get_obj(cs, "currentMessage", &cm) == 1);
	CHECK(json_get_obj(cm, "userInputMessage", &uim) == 1);
	CHECK(json_get_str(uim, "modelId", &model) == 1);
	CHECK(strcmp(model, FUZZ_MODEL_ID) == 0);
	if (json_get_obj(uim, "userInputMessageContext", &ctx) == 1 &&
	    json_get_arr(ctx, "tools", &tools) == 1)
		check_tool_names(conv, tools, map);
	check_kiro_rules(cs);
	json_object_put(root);
}

void
fuzz_to_kiro(struct conv *conv, const char *profile_arn)
{
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct kiro_toolmap	*map;
	struct buf		 body = BUF_INIT;
	char			*cause = NULL;
	enum kf_err		 er;

	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	if ((er = history_repair(conv, &hopts, &cause)) != KF_OK) {
		CHECK(er == KF_EINVAL && cause != NULL);
		free(cause);
		return;
	}
	CHECK(conv->n_msgs > 0 &&
	    conv->msgs[conv->n_msgs - 1].role == CONV_ROLE_USER);

	memset(&opts, 0, sizeof(opts));
	opts.model_id = FUZZ_MODEL_ID;
	opts.conversation_id = conv->session_id;
	opts.profile_arn = profile_arn;
	map = kiro_toolmap_new();
	er = kiro_req_build(conv, &opts, &body, map, &cause);
	CHECK(er == KF_OK);
	fuzz_check_body(conv, &body, map);
	kiro_toolmap_free(map);
	buf_free(&body);
	free(cause);
}

/* --- the limits (kiro_rules_check_body) ------------------------------- */

static size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
check_no_empty_key(json_object *v)
{
	size_t	i;

	if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++)
			check_no_empty_key(json_object_array_get_idx(v, i));
	} else if (json_object_is_type(v, json_type_object)) {
		CHECK(!json_object_object_get_ex(v, "", NULL));
		json_object_object_foreach(v, key, val) {
			(void)key;
			check_no_empty_key(val);
		}
	}
}

/* Images of one message; *count runs over the request. */
static void
check_image_limits(json_object *msg, size_t *count)
{
	json_object	*images, *src;
	const char	*bytes;
	size_t		 i, len, pad;

	if (json_get_arr(msg, "images", &images) != 1)
		return;
	for (i = 0; i < json_object_array_length(images); i++) {
		CHECK(++*count <= KIRO_RULES_IMAGES_MAX);
		CHECK(json_get_obj(json_object_array_get_idx(images, i),
		    "source", &src) == 1);
		CHECK(str_field(src, "bytes", &bytes));
		len = strlen(bytes);
		pad = (len > 0 && bytes[len - 1] == '=') +
		    (len > 1 && bytes[len - 2] == '=');
		CHECK(len / 4 * 3 - pad <= KIRO_RULES_IMAGE_BYTES);
	}
}

static void
check_tool_limits(json_object *spec, struct idset *names)
{
	json_object	*is, *schema, *v;
	const char	*name, *desc, *p;
	size_t		 i;

	CHECK(str_field(spec, "name", &name));
	CHECK(*name != '\0' && strlen(name) <= 64);
	for (p = name; *p != '\0'; p++)
		CHECK(isalnum((unsigned char)*p) || *p == '_' || *p == '-');
	CHECK(!idset_has(names, name, 1));
	idset_add(names, name);
	CHECK(str_field(spec, "description", &desc) && !is_blank(desc));
	CHECK(utf8_chars(desc) <= KIRO_RULES_DESC_MAX);
	CHECK(json_get_obj(spec, "inputSchema", &is) == 1);
	CHECK(json_get_obj(is, "json", &schema) == 1);
	CHECK(json_get_str(schema, "type", &p) == 1 &&
	    strcmp(p, "object") == 0);
	if (json_object_object_get_ex(schema, "properties", &v))
		CHECK(json_object_is_type(v, json_type_object));
	if (json_object_object_get_ex(schema, "required", &v)) {
		CHECK(json_object_is_type(v, json_type_array));
		for (i = 0; i < json_object_array_length(v); i++)
			CHECK(json_object_is_type(json_object_array_get_idx(v,
			    i), json_type_string));
	}
	if (json_object_object_get_ex(schema, "additionalProperties", &v))
		CHECK(json_object_is_type(v, json_type_boolean) ||
		    json_object_is_type(v, json_type_object));
}

void
kiro_rules_check_body(const char *body, size_t len)
{
	json_object	*root = NULL, *cs, *hist, *entry, *msg, *uses, *cur;
	json_object	*uim, *ctx, *tools, *spec;
	struct idset	 names = { NULL, 0, 0 };
	size_t		 i, j, n_images = 0;
	char		*why = NULL;

	CHECK(len <= KIRO_RULES_BODY_MAX);
	CHECK(json_parse(body, len, BODY_DEPTH, &root, &why) == KF_OK);
	CHECK(json_get_obj(root, "conversationState", &cs) == 1);
	check_kiro_rules(cs);
	if (json_get_arr(cs, "history", &hist) == 1)
		for (i = 0; i < json_object_array_length(hist); i++) {
			entry = json_object_array_get_idx(hist, i);
			if (json_get_obj(entry, "userInputMessage", &msg) == 1)
				check_image_limits(msg, &n_images);
			if (json_get_obj(entry, "assistantResponseMessage",
			    &msg) == 1 &&
			    json_get_arr(msg, "toolUses", &uses) == 1)
				for (j = 0; j < json_object_array_length(uses);
				    j++)
					check_no_empty_key(
					    json_object_array_get_idx(uses, j));
		}
	CHECK(json_get_obj(cs, "currentMessage", &cur) == 1 &&
	    json_get_obj(cur, "userInputMessage", &uim) == 1);
	check_image_limits(uim, &n_images);
	if (json_get_obj(uim, "userInputMessageContext", &ctx) == 1 &&
	    json_get_arr(ctx, "tools", &tools) == 1) {
		CHECK(json_object_array_length(tools) <= KIRO_RULES_TOOLS_MAX);
		for (i = 0; i < json_object_array_length(tools); i++) {
			CHECK(json_get_obj(json_object_array_get_idx(tools, i),
			    "toolSpecification", &spec) == 1);
			check_tool_limits(spec, &names);
		}
	}
	free(names.ids);
	free(why);
	json_object_put(root);
}
