/* kiro_req.c: build the generateAssistantResponse body from a conversation. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "buf.h"
#include "constrain.h"
#include "conv.h"
#include "digest.h"
#include "err.h"
#include "json.h"
#include "kiro_req.h"
#include "rand.h"
#include "strset.h"
#include "xmalloc.h"

#define KIRO_TOOL_NAME_PREFIX	54	/* kiro.rs: prefix, "_", 8 hex */
#define KIRO_THINKING_BUDGET_DEFAULT	20000
#define KIRO_BODY_RESERVE	2048	/* bytes reserved before writing */

/* Shortened names, hashed, and the client's name for each by index. */
struct kiro_toolmap {
	struct strset	  short_names;
	char		**originals;
	size_t		  cap;
};

struct kiro_toolmap *
kiro_toolmap_new(void)
{
	return xcalloc(1, sizeof(struct kiro_toolmap));
}

void
kiro_toolmap_free(struct kiro_toolmap *map)
{
	size_t	i;

	if (map == NULL)
		return;
	for (i = 0; i < map->short_names.n; i++)
		free(map->originals[i]);
	free(map->originals);
	strset_free(&map->short_names);
	free(map);
}

const char *
kiro_toolmap_original(const struct kiro_toolmap *map, const char *name)
{
	size_t	i;

	if (map == NULL || name == NULL ||
	    (i = strset_find(&map->short_names, name)) == STRSET_NONE)
		return name;
	return map->originals[i];
}

static void
toolmap_add(struct kiro_toolmap *map, const char *short_name,
    const char *original)
{
	if (map == NULL || strcmp(short_name, original) == 0 ||
	    strset_has(&map->short_names, short_name))
		return;
	if (map->short_names.n == map->cap) {
		map->cap = map->cap == 0 ? 4 : map->cap * 2;
		map->originals = xreallocarray(map->originals, map->cap,
		    sizeof(*map->originals));
	}
	map->originals[map->short_names.n] = xstrdup(original);
	strset_add(&map->short_names, short_name);
}

/* The longest prefix of s of at most max bytes that ends on a character. */
/* A character Kiro accepts in a tool name. */
static int
tool_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

void
kiro_tool_name(const char *name, char out[KIRO_TOOL_NAME_MAX + 1])
{
	char	hex[SHA256_HEX_LEN + 1];
	size_t	len, cut, i;
	int	plain = 1;

	len = strlen(name);
	for (i = 0; i < len && plain; i++)
		plain = tool_name_char(name[i]);
	if (plain && len > 0 && len <= KIRO_TOOL_NAME_MAX) {
		memcpy(out, name, len + 1);
		return;
	}
	/*
	 * Kiro takes [A-Za-z0-9_-]{1,64} only.  Keep a readable prefix with
	 * every other byte turned into '_', and add a hash of the whole
	 * original so that different names stay different (kiro.rs shortens
	 * long names the same way).  The tool map undoes it in answers.
	 */
	cut = len < KIRO_TOOL_NAME_PREFIX ? len :
	    utf8_cut(name, len, KIRO_TOOL_NAME_PREFIX);
	sha256_hex(name, len, hex);
	for (i = 0; i < cut; i++)
		out[i] = tool_name_char(name[i]) ? name[i] : '_';
	if (cut == 0) {
		memcpy(out, "tool", 4);
		cut = 4;
	}
	out[cut] = '_';
	memcpy(out + cut + 1, hex, 8);
	out[cut + 9] = '\0';
}

int
kiro_text_blank(const char *s)
{
	if (s == NULL)
		return 1;
	for (; *s != '\0'; s++)
		if (strchr(" \t\r\n\f\v", *s) == NULL)
			return 0;
	return 1;
}

/*
 * Adds a key the object does not have yet, a literal (or as long-lived):
 * json-c then neither looks it up nor copies it.  The body is built anew
 * for every request (#13); tool_schema, which copies a client's keys and
 * replaces some, adds the usual way.
 */
static void
add_new(json_object *obj, const char *key, json_object *value)
{
	json_object_object_add_ex(obj, key, value,
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

static void
add_str(json_object *obj, const char *key, const char *value)
{
	add_new(obj, key, json_str(value));
}

const char *
kiro_image_format(const char *media_type)
{
	static const char *const formats[] = { "jpeg", "png", "gif", "webp" };
	const char		*sub;
	size_t			 i;

	if (media_type == NULL || strncasecmp(media_type, "image/", 6) != 0)
		return NULL;
	sub = media_type + 6;
	if (strcasecmp(sub, "jpg") == 0)
		return "jpeg";
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcasecmp(sub, formats[i]) == 0)
			return formats[i];
	return NULL;
}

/*
 * Appends {"format","source":{"bytes"}} to *images (§3.3.13), made on
 * the first: most messages have none, and an empty array is never sent.
 */
static void
add_image(json_object **images, const struct conv_block *b)
{
	json_object	*img, *source;
	const char	*format;

	if ((format = kiro_image_format(b->media_type)) == NULL || b->data == NULL)
		return;
	img = json_object_new_object();
	source = json_object_new_object();
	add_str(img, "format", format);
	add_str(source, "bytes", b->data);
	add_new(img, "source", source);
	if (*images == NULL)
		*images = json_object_new_array();
	json_object_array_add(*images, img);
}

/* One toolResults entry; its images go to *images (§3.1). */
static json_object *
tool_result(const struct conv_block *b, json_object **images)
{
	json_object		*res, *content, *text;
	const struct conv_block	*c;
	size_t			 i;

	res = json_object_new_object();
	content = json_object_new_array();
	for (i = 0; i < b->n_content; i++) {
		c = &b->content[i];
		if (c->type == CONV_BLOCK_IMAGE)
			add_image(images, c);
		if (c->type != CONV_BLOCK_TEXT || c->text == NULL ||
		    c->text[0] == '\0')
			continue;
		text = json_object_new_object();
		add_str(text, "text", c->text);
		json_object_array_add(content, text);
	}
	/* An empty content array or text is refused; say so instead. */
	if (json_object_array_length(content) == 0) {
		text = json_object_new_object();
		add_str(text, "text", KIRO_NO_OUTPUT);
		json_object_array_add(content, text);
	}
	add_str(res, "toolUseId", b->id != NULL ? b->id : "");
	add_new(res, "content", content);
	if (b->is_error) {
		add_str(res, "status", "error");
		add_new(res, "isError",
		    json_object_new_boolean(1));
	} else
		add_str(res, "status", "success");
	return res;
}

/*
 * The text of m's TEXT blocks joined by "\n": the one block's own text
 * when there is one (most messages), else a copy made in *heap to free.
 */
static const char *
msg_text(const struct conv_msg *m, char **heap)
{
	const char	*text = NULL;
	size_t		 i, n = 0;

	*heap = NULL;
	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type == CONV_BLOCK_TEXT &&
		    m->blocks[i].text != NULL) {
			text = m->blocks[i].text;
			n++;
		}
	if (n <= 1)
		return text;
	*heap = conv_msg_text(m, "\n");
	return *heap;
}

/*
 * A userInputMessage from m.  Kiro refuses empty content (§3.3.2, AIC/KP
 * placeholders).  *ctxp gets the userInputMessageContext object (borrowed)
 * when one is emitted: always for the current message, in history only
 * when there are tool results.
 */
static json_object *
user_message(const struct conv_msg *m, const char *model_id, int current,
    json_object **ctxp)
{
	json_object		*msg, *images, *results, *ctx;
	const struct conv_block	*b;
	const char		*text;
	char			*heap;
	size_t			 i;

	msg = json_object_new_object();
	images = results = NULL;	/* made on the first entry */
	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		if (b->type == CONV_BLOCK_IMAGE)
			add_image(&images, b);
		else if (b->type == CONV_BLOCK_TOOL_RESULT) {
			if (results == NULL)
				results = json_object_new_array();
			json_object_array_add(results,
			    tool_result(b, &images));
		}
	}
	text = msg_text(m, &heap);
	if (kiro_text_blank(text))
		add_str(msg, "content",
		    results != NULL ? "Tool results provided." : "Continue");
	else
		add_str(msg, "content", text);
	free(heap);
	add_str(msg, "modelId", model_id);
	add_str(msg, "origin", "AI_EDITOR");
	if (images != NULL)
		add_new(msg, "images", images);
	ctx = NULL;
	if (current || results != NULL) {
		ctx = json_object_new_object();
		add_new(msg, "userInputMessageContext", ctx);
	}
	if (results != NULL)	/* then ctx is there */
		add_new(ctx, "toolResults", results);
	if (ctxp != NULL)
		*ctxp = ctx;
	return msg;
}

/* A user message with only the given content, for fillers and pair 0. */
static json_object *
user_text(const char *content, const char *model_id)
{
	json_object	*msg;

	msg = json_object_new_object();
	add_str(msg, "content", content);
	add_str(msg, "modelId", model_id);
	add_str(msg, "origin", "AI_EDITOR");
	return msg;
}

static json_object *
assistant_text(const char *content)
{
	json_object	*msg;

	msg = json_object_new_object();
	add_str(msg, "content", content);
	return msg;
}

/*
 * An assistantResponseMessage (§3.3.6): thinking re-embedded in tags before
 * the non-blank texts, never empty content.  The Kiro names of its tool
 * uses are added to used.
 */
static json_object *
assistant_message(const struct conv_msg *m, struct kiro_toolmap *map,
    struct strset *used)
{
	struct buf		 thinking = BUF_INIT, text = BUF_INIT;
	struct buf		 content = BUF_INIT;
	json_object		*msg, *uses, *use, *input;
	const struct conv_block	*b;
	char			 name[KIRO_TOOL_NAME_MAX + 1];
	size_t			 i;

	uses = NULL;	/* made on the first */
	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		switch (b->type) {
		case CONV_BLOCK_TEXT:
			if (kiro_text_blank(b->text))
				break;
			if (text.len > 0)
				buf_puts(&text, "\n\n");
			buf_puts(&text, b->text);
			break;
		case CONV_BLOCK_THINKING:
			if (kiro_text_blank(b->text))
				break;
			if (thinking.len > 0)
				buf_puts(&thinking, "\n");
			buf_puts(&thinking, b->text);
			break;
		case CONV_BLOCK_TOOL_USE:
			if (b->id == NULL || b->name == NULL)
				break;
			kiro_tool_name(b->name, name);
			toolmap_add(map, name, b->name);
			if (!strset_has(used, name))
				strset_add(used, name);
			use = json_object_new_object();
			add_str(use, "toolUseId", b->id);
			add_str(use, "name", name);
			if (json_object_is_type(b->input, json_type_object))
				input = json_object_get(b->input);
			else
				input = json_object_new_object();
			add_new(use, "input", input);
			if (uses == NULL)
				uses = json_object_new_array();
			json_object_array_add(uses, use);
			break;
		default:
			break;
		}
	}
	if (thinking.len > 0) {
		buf_printf(&content, "<thinking>%s</thinking>", thinking.ptr);
		if (text.len > 0)
			buf_printf(&content, "\n\n%s", text.ptr);
	} else if (text.len > 0)
		buf_puts(&content, text.ptr);
	else
		buf_puts(&content, uses != NULL ? " " : "I understand.");
	msg = assistant_text(content.ptr);
	if (uses != NULL)
		add_new(msg, "toolUses", uses);
	buf_free(&thinking);
	buf_free(&text);
	buf_free(&content);
	return msg;
}

/* The §3.4 prefix for the system text, or NULL when thinking is off. */
static char *
thinking_prefix(const struct conv *c)
{
	static const char *const efforts[] = { "low", "medium", "high" };
	const char		*effort = "high";
	long			 budget;
	size_t			 i;

	switch (c->thinking) {
	case CONV_THINKING_ENABLED:
		budget = c->thinking_budget;
		if (budget <= 0)
			budget = KIRO_THINKING_BUDGET_DEFAULT;
		if (budget < KIRO_THINKING_BUDGET_MIN)
			budget = KIRO_THINKING_BUDGET_MIN;
		if (budget > KIRO_THINKING_BUDGET_MAX)
			budget = KIRO_THINKING_BUDGET_MAX;
		return xasprintf("<thinking_mode>enabled</thinking_mode>"
		    "<max_thinking_length>%ld</max_thinking_length>", budget);
	case CONV_THINKING_ADAPTIVE:
		for (i = 0; i < sizeof(efforts) / sizeof(efforts[0]); i++)
			if (c->thinking_effort != NULL &&
			    strcasecmp(c->thinking_effort, efforts[i]) == 0)
				effort = efforts[i];
		return xasprintf("<thinking_mode>adaptive</thinking_mode>"
		    "<thinking_effort>%s</thinking_effort>", effort);
	default:
		return NULL;
	}
}

/*
 * Appends entry to *history, made on the first: a request without
 * system text and earlier turns has no history, and an empty array is
 * never sent, so none is made and freed for it (#13).
 */
static void
history_add(json_object **history, json_object *entry)
{
	if (*history == NULL)
		*history = json_object_new_array();
	json_object_array_add(*history, entry);
}

/* History pair 0: the system prompt and thinking prefix (§3.3.3, §3.4). */
static void
add_system_pair(const struct conv *c, const char *model_id,
    json_object **history)
{
	json_object	*entry;
	struct buf	 content = BUF_INIT;
	char		*prefix, *rules;
	int		 has_system;

	has_system = !kiro_text_blank(c->system);
	rules = constrain_instructions(c);
	prefix = thinking_prefix(c);
	if (prefix != NULL && has_system &&
	    (strstr(c->system, "<thinking_mode>") != NULL ||
	    strstr(c->system, "<max_thinking_length>") != NULL)) {
		free(prefix);
		prefix = NULL;
	}
	if (!has_system && prefix == NULL && rules == NULL)
		return;
	/*
	 * The answer constraints' instructions go last (constrain.h).
	 * Appended, not formatted: a system text can be tens of KB.
	 */
	if (prefix != NULL)
		buf_puts(&content, prefix);
	if (has_system)
		buf_puts(&content, c->system);
	if (has_system && rules != NULL)
		buf_puts(&content, "\n\n");
	if (rules != NULL)
		buf_puts(&content, rules);
	free(rules);
	entry = json_object_new_object();
	add_new(entry, "userInputMessage",
	    user_text(buf_cstr(&content), model_id));
	history_add(history, entry);
	entry = json_object_new_object();
	add_new(entry, "assistantResponseMessage",
	    assistant_text(KIRO_SYSTEM_ACK));
	history_add(history, entry);
	free(prefix);
	buf_free(&content);
}

/*
 * Prompt caching (§12): how many of the conv's cache marks that can become
 * history cachePoints are skipped, so that only the last
 * KIRO_MAX_CACHE_POINTS are sent (the latest cover the longest prefix).
 */
static size_t
cache_points_skipped(const struct conv *c, size_t last)
{
	size_t	i, n = 0;

	if (c->system_cache_point && !kiro_text_blank(c->system))
		n++;
	for (i = 0; i < last; i++)
		if (c->msgs[i].cache_point)
			n++;
	return n > KIRO_MAX_CACHE_POINTS ? n - KIRO_MAX_CACHE_POINTS : 0;
}

/* Appends a cachePoint entry when marked and not one of the skipped. */
static void
cache_point_push(json_object **history, int marked, size_t *skip)
{
	json_object	*entry, *point;

	if (!marked)
		return;
	if (*skip > 0) {
		(*skip)--;
		return;
	}
	point = json_object_new_object();
	add_str(point, "type", "default");
	entry = json_object_new_object();
	add_new(entry, "cachePoint", point);
	history_add(history, entry);
}

/* Appends {key: msg} to history. */
static void
history_push(json_object **history, const char *key, json_object *msg)
{
	json_object	*entry;

	entry = json_object_new_object();
	add_new(entry, key, msg);
	history_add(history, entry);
}

/*
 * 1 when schema already has the top-level fields tool_schema would set,
 * each as it would leave it: a copy would write the same bytes.
 */
static int
schema_ready(json_object *schema)
{
	json_object	*v;
	size_t		 i, n;

	if (!json_object_is_type(schema, json_type_object) ||
	    json_get_obj(schema, "properties", &v) != 1 ||
	    !json_object_object_get_ex(schema, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return 0;
	if (!json_object_object_get_ex(schema, "additionalProperties", &v) ||
	    (!json_object_is_type(v, json_type_boolean) &&
	    !json_object_is_type(v, json_type_object)))
		return 0;
	if (json_get_arr(schema, "required", &v) != 1)
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_string))
			return 0;
	return 1;
}

/*
 * A copy of a tool's schema with the top-level fields Kiro insists on
 * (§3.3.11, kiro.rs): "required": null or "properties": null are refused.
 * Values are shared with the conv's schema, which is never changed; a
 * schema that has them all (Claude Code's do) is shared whole.
 */
static json_object *
tool_schema(json_object *schema)
{
	json_object	*out, *required, *v, *item;
	size_t		 i, n;

	if (schema_ready(schema))
		return json_object_get(schema);
	out = json_object_new_object();
	if (json_object_is_type(schema, json_type_object)) {
		json_object_object_foreach(schema, key, val)
			json_object_object_add(out, key, json_object_get(val));
	}
	if (!json_object_object_get_ex(out, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		json_object_object_add(out, "type", json_str("object"));
	if (!json_object_object_get_ex(out, "properties", &v) ||
	    !json_object_is_type(v, json_type_object))
		json_object_object_add(out, "properties",
		    json_object_new_object());
	required = json_object_new_array();
	if (json_object_object_get_ex(out, "required", &v) &&
	    json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			item = json_object_array_get_idx(v, i);
			if (json_object_is_type(item, json_type_string))
				json_object_array_add(required,
				    json_object_get(item));
		}
	}
	json_object_object_add(out, "required", required);
	if (!json_object_object_get_ex(out, "additionalProperties", &v) ||
	    (!json_object_is_type(v, json_type_boolean) &&
	    !json_object_is_type(v, json_type_object)))
		json_object_object_add(out, "additionalProperties",
		    json_object_new_boolean(1));
	return out;
}

static json_object *
tool_spec(const char *name, const char *description, size_t desc_len,
    json_object *schema)
{
	json_object	*spec, *tool, *input_schema;

	spec = json_object_new_object();
	add_str(spec, "name", name);
	add_new(spec, "description",
	    json_strn(description, desc_len));
	input_schema = json_object_new_object();
	add_new(input_schema, "json", schema);
	add_new(spec, "inputSchema", input_schema);
	tool = json_object_new_object();
	add_new(tool, "toolSpecification", spec);
	return tool;
}

static json_object *
placeholder_schema(void)
{
	json_object	*schema;

	schema = json_object_new_object();
	add_str(schema, "$schema", "http://json-schema.org/draft-07/schema#");
	add_str(schema, "type", "object");
	add_new(schema, "properties", json_object_new_object());
	add_new(schema, "required", json_object_new_array());
	add_new(schema, "additionalProperties",
	    json_object_new_boolean(1));
	return schema;
}

/*
 * The tools array (§3.3.8-11): the client's tools unless tool_choice is
 * NONE, then a placeholder for each name history uses but nothing defines.
 * NULL when there is none: an empty array is never sent.
 */
static json_object *
tools_array(const struct conv *c, const struct strset *used,
    struct kiro_toolmap *map)
{
	struct strset		 defined = STRSET_INIT(1);
	const struct conv_tool	*t;
	json_object		*tools;
	const char		*desc;
	char			 name[KIRO_TOOL_NAME_MAX + 1];
	size_t			 i;

	if (c->n_tools == 0 && used->n == 0)
		return NULL;
	tools = json_object_new_array();
	for (i = 0; c->tool_choice != CONV_TOOL_CHOICE_NONE &&
	    i < c->n_tools; i++) {
		t = &c->tools[i];
		if (t->name == NULL || t->name[0] == '\0')
			continue;
		/* A named tool_choice: only that tool is offered. */
		if (c->tool_choice == CONV_TOOL_CHOICE_TOOL &&
		    c->tool_choice_name != NULL &&
		    strcmp(t->name, c->tool_choice_name) != 0)
			continue;
		kiro_tool_name(t->name, name);
		if (strset_has(&defined, name))
			continue;
		strset_add(&defined, name);
		toolmap_add(map, name, t->name);
		/* Peers report empty descriptions refused: use the name. */
		desc = kiro_text_blank(t->description) ? t->name : t->description;
		json_object_array_add(tools, tool_spec(name, desc,
		    utf8_cut(desc, strlen(desc), KIRO_TOOL_DESC_MAX),
		    tool_schema(t->schema)));
	}
	for (i = 0; i < used->n; i++) {
		if (strset_has(&defined, used->items[i]))
			continue;
		strset_add(&defined, used->items[i]);
		json_object_array_add(tools, tool_spec(used->items[i],
		    KIRO_PLACEHOLDER_DESC, strlen(KIRO_PLACEHOLDER_DESC),
		    placeholder_schema()));
	}
	strset_free(&defined);
	if (json_object_array_length(tools) == 0) {
		json_object_put(tools);
		return NULL;
	}
	return tools;
}

enum kf_err
kiro_req_build(const struct conv *c, const struct kiro_req_opts *opts,
    struct buf *out, struct kiro_toolmap *map, char **cause)
{
	struct strset		 used = STRSET_INIT(1);
	json_object		*root = NULL, *state, *history, *current;
	json_object		*msg, *ctx, *tools;
	const struct conv_msg	*m;
	enum conv_role		 prev;
	char			 uuid[UUID_LEN + 1];
	size_t			 i, last, skip_points;
	enum kf_err		 er = KF_OK;

	if (opts == NULL || opts->model_id == NULL ||
	    opts->model_id[0] == '\0') {
		xsetprintf(cause, "no Kiro model id");
		er = KF_EINVAL;
		goto out;
	}
	/* The last user message is current; the rest is prefill (§3.3.1). */
	for (last = c->n_msgs; last > 0; last--)
		if (c->msgs[last - 1].role == CONV_ROLE_USER)
			break;
	if (last == 0) {
		xsetprintf(cause, "messages must contain at least one user "
		    "message");
		er = KF_EINVAL;
		goto out;
	}
	last--;

	root = json_object_new_object();
	state = json_object_new_object();
	add_new(root, "conversationState", state);
	rand_uuid(uuid);
	add_str(state, "agentContinuationId", uuid);
	add_str(state, "agentTaskType", "vibe");
	add_str(state, "chatTriggerType", "MANUAL");
	if (opts->conversation_id != NULL && opts->conversation_id[0] != '\0')
		add_str(state, "conversationId", opts->conversation_id);
	else {
		rand_uuid(uuid);
		add_str(state, "conversationId", uuid);
	}

	history = NULL;		/* made on the first entry */
	skip_points = cache_points_skipped(c, last);
	add_system_pair(c, opts->model_id, &history);
	/* After the acknowledgement: the pair is the system prompt. */
	if (history != NULL)
		cache_point_push(&history, opts->prompt_caching &&
		    c->system_cache_point && !kiro_text_blank(c->system),
		    &skip_points);
	/*
	 * History alternates, starts with user and ends with assistant
	 * (§3.3.5); history_repair merged same-role runs, so the fillers are
	 * only needed at the ends (or for a conv it did not prepare).
	 */
	prev = CONV_ROLE_ASSISTANT;
	for (i = 0; i < last; i++) {
		m = &c->msgs[i];
		if (m->role == CONV_ROLE_USER) {
			if (prev == CONV_ROLE_USER)
				history_push(&history,
				    "assistantResponseMessage",
				    assistant_text("OK"));
			history_push(&history, "userInputMessage",
			    user_message(m, opts->model_id, 0, NULL));
		} else {
			if (prev == CONV_ROLE_ASSISTANT)
				history_push(&history, "userInputMessage",
				    user_text("Continue", opts->model_id));
			history_push(&history, "assistantResponseMessage",
			    assistant_message(m, map, &used));
		}
		cache_point_push(&history, opts->prompt_caching &&
		    m->cache_point, &skip_points);
		prev = m->role;
	}
	if (prev == CONV_ROLE_USER)
		history_push(&history, "assistantResponseMessage",
		    assistant_text("OK"));
	if (history != NULL)
		add_new(state, "history", history);

	msg = user_message(&c->msgs[last], opts->model_id, 1, &ctx);
	if ((tools = tools_array(c, &used, map)) != NULL)
		add_new(ctx, "tools", tools);
	current = json_object_new_object();
	add_new(current, "userInputMessage", msg);
	add_new(state, "currentMessage", current);

	if (opts->profile_arn != NULL && opts->profile_arn[0] != '\0')
		add_str(root, "profileArn", opts->profile_arn);
	/*
	 * A small request's body is under 1 KB: one allocation for it, not
	 * doublings from 64 bytes (#13).  Larger ones grow as before.
	 */
	buf_reserve(out, KIRO_BODY_RESERVE);
	json_to_buf(root, out);
	if (opts->tree != NULL) {
		json_object_put(*opts->tree);
		*opts->tree = json_object_get(root);
	}
out:
	json_object_put(root);
	strset_free(&used);
	return er;
}
