/* preflight.c: check a Kiro body against Kiro's rules before it is sent. */
#include "autoconfig.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conv.h"
#include "err.h"
#include "json.h"
#include "kiro_req.h"
#include "preflight.h"
#include "strset.h"
#include "xmalloc.h"

/* Kiro's envelope nests a tool schema deeper than the client's request. */
#define BODY_DEPTH	(JSON_MAX_DEPTH + 64)
#define PATH_MAX_LEN	160
#define CURRENT		(-1L)	/* currentMessage's "entry index" */
#define USES_LINEAR	16	/* up to this many uses: found by a scan */
#define NAMES_LINEAR	8	/* up to this many tool names: the same */

static const char *const rule_names[PREFLIGHT__MAX] = {
	"ok", "body shape", "history alternation", "tool pairing",
	"empty content", "tool defined", "tool count", "tool name",
	"tool description", "tool schema", "tool input", "images",
	"body size", "history length"
};

/* One check's state: the first broken rule ends it. */
struct pf {
	const struct conv		*conv;
	const struct preflight_limits	*lim;
	json_object			*hist;	/* borrowed, or NULL */
	struct strset			 ids;	/* every toolUseId */
	/*
	 * The last assistant message's tool use ids (borrowed from the
	 * tree), whether each is answered, and over USES_LINEAR of them a
	 * set to find them in: most turns have one to three.
	 */
	const char			**uses;
	size_t				 n_uses, cap_uses, n_answered;
	unsigned char			*answered;
	struct strset			 uses_index;
	long				 uses_entry;	/* in history */
	size_t				 tool_index;	/* the tool */
	const char			*tool_name;
	struct strset			 used_names;	/* nocase */
	struct strset			 defined;	/* nocase */
	size_t				 n_images;
	enum preflight_rule		 rule;
	char				**cause;
};

void
preflight_limits_default(struct preflight_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_tools = PREFLIGHT_DEFAULT_MAX_TOOLS;
	lim->max_images = PREFLIGHT_DEFAULT_MAX_IMAGES;
	lim->max_image_bytes = PREFLIGHT_DEFAULT_MAX_IMAGE_BYTES;
	lim->max_history = PREFLIGHT_DEFAULT_MAX_HISTORY;
}

const char *
preflight_rule_name(enum preflight_rule rule)
{
	if (rule < 0 || rule >= PREFLIGHT__MAX)
		return "unknown";
	return rule_names[rule];
}

/* --- naming the client's path: only ever on the error path ------------ */

static int
is_cache_point(json_object *entry)
{
	return json_object_object_get_ex(entry, "cachePoint", NULL);
}

/* --- reading the tree ------------------------------------------------- */

/*
 * The values of keys[0 .. n) in obj (NULL when absent, and all NULL when
 * obj is no object), in one walk of its entries.  A Kiro message has a
 * handful of keys: one walk costs less than a hash lookup per key, and
 * those lookups were half the check of a long session.
 */
static void
get_fields(json_object *obj, const char *const keys[], size_t n,
    json_object *vals[])
{
	struct lh_entry	*e;
	const char	*key;
	size_t		 j;

	for (j = 0; j < n; j++)
		vals[j] = NULL;
	if (!json_object_is_type(obj, json_type_object))
		return;
	for (e = json_object_get_object(obj)->head; e != NULL; e = e->next) {
		key = (const char *)lh_entry_k(e);
		for (j = 0; j < n; j++)
			if (key[0] == keys[j][0] && strcmp(key, keys[j]) == 0) {
				vals[j] = (json_object *)lh_entry_v(e);
				break;
			}
	}
}

/* As json_get_obj and its kin: 1 of type, 0 absent or null, -1 else. */
static int
typed(json_object *v, enum json_type type)
{
	if (v == NULL)
		return 0;
	return json_object_is_type(v, type) ? 1 : -1;
}

/* v's string when it is one, else NULL. */
static const char *
str_of(json_object *v)
{
	return typed(v, json_type_string) == 1 ? json_object_get_string(v) :
	    NULL;
}

/*
 * The conv message history entry k was built from, following kiro_req's
 * layout (kiro_req.h): an optional system pair, then one entry per message
 * before the last, a filler before a message of the same role as the one
 * before it (the first counts as after an assistant), a trailing "OK"
 * after a user message; cachePoints between.  NULL for the system pair, a
 * filler, or a body whose layout does not match the conv; CURRENT is the
 * last message.
 */
static const struct conv_msg *
entry_msg(const struct pf *pf, long k)
{
	const struct conv	*c = pf->conv;
	enum conv_role		 prev;
	size_t			 i, n, last, r = 0;
	size_t			 real = 0, expected = 0;

	if (c == NULL || c->n_msgs == 0)
		return NULL;
	last = c->n_msgs - 1;
	if (k == CURRENT)
		return &c->msgs[last];
	n = pf->hist != NULL ? json_object_array_length(pf->hist) : 0;
	if (k < 0 || (size_t)k >= n ||
	    is_cache_point(json_object_array_get_idx(pf->hist, k)))
		return NULL;
	for (i = 0; i < n; i++)
		if (!is_cache_point(json_object_array_get_idx(pf->hist, i))) {
			if (i < (size_t)k)
				r++;
			real++;
		}
	prev = CONV_ROLE_ASSISTANT;
	for (i = 0; i < last; i++) {
		expected += 1 + (c->msgs[i].role == prev);
		prev = c->msgs[i].role;
	}
	expected += prev == CONV_ROLE_USER;
	if (real != expected && real != expected + 2)
		return NULL;
	if (r < real - expected)
		return NULL;		/* the system pair */
	r -= real - expected;
	prev = CONV_ROLE_ASSISTANT;
	for (i = 0; i < last; i++) {
		if (c->msgs[i].role == prev) {
			if (r == 0)
				return NULL;	/* a filler */
			r--;
		}
		if (r == 0)
			return &c->msgs[i];
		r--;
		prev = c->msgs[i].role;
	}
	return NULL;
}

/*
 * The src of the ordinal-th block of type in m, in kiro_req's order:
 * images count those inside tool results too (theirs is the result's).
 */
static const struct conv_src *
block_src(const struct conv_msg *m, enum conv_block_type type,
    size_t ordinal)
{
	const struct conv_block	*b;
	size_t			 i, j;

	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		if (type == CONV_BLOCK_IMAGE &&
		    b->type == CONV_BLOCK_TOOL_RESULT)
			for (j = 0; j < b->n_content; j++)
				if (b->content[j].type == CONV_BLOCK_IMAGE &&
				    ordinal-- == 0)
					return &b->src;
		if (b->type == type && ordinal-- == 0)
			return &b->src;
	}
	return NULL;
}

/*
 * Where entry k (CURRENT) is, or its ordinal-th block of type (CONV_BLOCK__MAX:
 * the message itself): the client's path when the conv knows it, else
 * the body's.
 */
static void
entry_path(const struct pf *pf, long k, enum conv_block_type type,
    size_t ordinal, char *out, size_t size)
{
	const struct conv_msg	*m;
	const struct conv_src	*src = NULL;

	out[0] = '\0';
	if ((m = entry_msg(pf, k)) != NULL)
		src = type == CONV_BLOCK__MAX ? conv_msg_src(m) :
		    block_src(m, type, ordinal);
	if (src != NULL)
		conv_src_path(pf->conv, src, 0, out, size);
	if (out[0] != '\0')
		return;
	if (k == CURRENT)
		snprintf(out, size, "currentMessage");
	else
		snprintf(out, size, "history[%ld]", k);
}

/* Where tool i of the body (Kiro's name kiro_name) came from. */
static void
tool_path(const struct pf *pf, size_t i, const char *kiro_name, char *out,
    size_t size)
{
	char	name[KIRO_TOOL_NAME_MAX + 1];
	size_t	j;

	out[0] = '\0';
	for (j = 0; pf->conv != NULL && kiro_name != NULL &&
	    j < pf->conv->n_tools; j++) {
		if (pf->conv->tools[j].name == NULL)
			continue;
		kiro_tool_name(pf->conv->tools[j].name, name);
		if (strcmp(name, kiro_name) == 0) {
			conv_src_path(pf->conv, &pf->conv->tools[j].src, 1,
			    out, size);
			break;
		}
	}
	if (out[0] == '\0')
		snprintf(out, size, "tools[%zu]", i);
}

static int
fail(struct pf *pf, enum preflight_rule rule, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct pf *pf, enum preflight_rule rule, const char *path,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 what[512];

	/* A client's long id may cut the text short; the rule still shows. */
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	va_end(ap);
	xsetprintf(pf->cause, "%s%s%s (Kiro rule: %s)", path != NULL ? path :
	    "", path != NULL ? ": " : "", what, rule_names[rule]);
	pf->rule = rule;
	return -1;
}

/*
 * fail() naming entry k's (or its block's) path, worked out only now: the
 * mapping walks the history, which per entry would be quadratic.
 */
static int
fail_at(struct pf *pf, enum preflight_rule rule, long k,
    enum conv_block_type type, size_t ordinal, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
fail_at(struct pf *pf, enum preflight_rule rule, long k,
    enum conv_block_type type, size_t ordinal, const char *fmt, ...)
{
	va_list	ap;
	char	path[PATH_MAX_LEN], what[512];

	entry_path(pf, k, type, ordinal, path, sizeof(path));
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	va_end(ap);
	return fail(pf, rule, path, "%s", what);
}

/* fail() naming the client's path of the tool being checked. */
static int
fail_tool(struct pf *pf, enum preflight_rule rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_tool(struct pf *pf, enum preflight_rule rule, const char *fmt, ...)
{
	va_list	ap;
	char	path[PATH_MAX_LEN], what[512];

	tool_path(pf, pf->tool_index, pf->tool_name, path, sizeof(path));
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	va_end(ap);
	return fail(pf, rule, path, "%s", what);
}

/* --- the rules -------------------------------------------------------- */

/* Standard padded base64; *decoded gets the byte count it stands for. */
static int
std_base64(const char *s, size_t len, size_t *decoded)
{
	size_t	i, pad = 0;

	if (len == 0 || len % 4 != 0)
		return 0;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return 0;
	*decoded = len / 4 * 3 - pad;
	return 1;
}

static int
check_images(struct pf *pf, json_object *images_value, long k)
{
	static const char *const formats[] = { "jpeg", "png", "gif", "webp" };
	json_object	*images, *img, *src, *bytes;
	const char	*format;
	char		 path[PATH_MAX_LEN];
	size_t		 i, j, n, decoded;
	int		 rc;

	if ((rc = typed(images_value, json_type_array)) == 0)
		return 0;
	images = images_value;
	n = rc == 1 ? json_object_array_length(images) : 0;
	for (i = 0; rc == 1 && i < n; i++) {
		img = json_object_array_get_idx(images, i);
		if (++pf->n_images > pf->lim->max_images) {
			entry_path(pf, k, CONV_BLOCK_IMAGE, i, path,
			    sizeof(path));
			return fail(pf, PREFLIGHT_IMAGE, path, "more than %zu "
			    "images in one request", pf->lim->max_images);
		}
		if (json_get_str(img, "format", &format) != 1)
			break;
		for (j = 0; j < sizeof(formats) / sizeof(formats[0]); j++)
			if (strcmp(format, formats[j]) == 0)
				break;
		if (j == sizeof(formats) / sizeof(formats[0])) {
			entry_path(pf, k, CONV_BLOCK_IMAGE, i, path,
			    sizeof(path));
			return fail(pf, PREFLIGHT_IMAGE, path, "image format "
			    "\"%s\" is not jpeg, png, gif or webp", format);
		}
		if (json_get_obj(img, "source", &src) != 1 ||
		    !json_object_object_get_ex(src, "bytes", &bytes) ||
		    !json_object_is_type(bytes, json_type_string) ||
		    !std_base64(json_object_get_string(bytes),
		    (size_t)json_object_get_string_len(bytes), &decoded)) {
			entry_path(pf, k, CONV_BLOCK_IMAGE, i, path,
			    sizeof(path));
			return fail(pf, PREFLIGHT_IMAGE, path, "image data is "
			    "not standard base64");
		}
		if (decoded > pf->lim->max_image_bytes) {
			entry_path(pf, k, CONV_BLOCK_IMAGE, i, path,
			    sizeof(path));
			return fail(pf, PREFLIGHT_IMAGE, path, "image of %zu "
			    "bytes, over the %zu Kiro takes", decoded,
			    pf->lim->max_image_bytes);
		}
	}
	if (rc == 1 && i == n)
		return 0;
	entry_path(pf, k, CONV_BLOCK__MAX, 0, path, sizeof(path));
	return fail(pf, PREFLIGHT_SHAPE, path, "images must be an array of "
	    "{format, source: {bytes}}");
}

/* No "" key at any depth (§3.3.12). */
static int
input_clean(json_object *v)
{
	size_t	i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!input_clean(json_object_array_get_idx(v, i)))
				return 0;
		return 1;
	}
	if (!json_object_is_type(v, json_type_object))
		return 1;
	/* The walk sees every key: no lookup of "" besides. */
	json_object_object_foreach(v, key, val) {
		if (key[0] == '\0' || !input_clean(val))
			return 0;
	}
	return 1;
}

static void
uses_push(struct pf *pf, const char *id)
{
	if (pf->n_uses == pf->cap_uses) {
		pf->cap_uses = pf->cap_uses == 0 ? 8 : pf->cap_uses * 2;
		pf->uses = xreallocarray(pf->uses, pf->cap_uses,
		    sizeof(*pf->uses));
		pf->answered = xreallocarray(pf->answered, pf->cap_uses, 1);
	}
	pf->uses[pf->n_uses++] = id;
}

/* Before a user message's results: none answered, the index built. */
static void
uses_prepare(struct pf *pf)
{
	size_t	i;

	if (pf->n_uses > 0)
		memset(pf->answered, 0, pf->n_uses);
	pf->n_answered = 0;
	if (pf->n_uses <= USES_LINEAR)
		return;
	strset_free(&pf->uses_index);
	for (i = 0; i < pf->n_uses; i++)
		strset_add(&pf->uses_index, pf->uses[i]);
}

/* Where id is among the uses, or STRSET_NONE. */
static size_t
uses_find(const struct pf *pf, const char *id)
{
	size_t	i;

	if (pf->n_uses > USES_LINEAR)
		return strset_find(&pf->uses_index, id);
	for (i = 0; i < pf->n_uses; i++)
		if (strcmp(pf->uses[i], id) == 0)
			return i;
	return STRSET_NONE;
}

/* Whether two names are one, ASCII case folded (as a nocase strset). */
static int
same_name(const char *a, const char *b)
{
	unsigned char	ca, cb;

	do {
		ca = (unsigned char)*a++;
		cb = (unsigned char)*b++;
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
	} while (ca == cb && ca != '\0');
	return ca == cb;
}

/*
 * Whether a tool use's name is in used_names.  A session uses a few tools
 * hundreds of times: comparing with a few names costs less than hashing
 * the name for every use; past NAMES_LINEAR the set's hash does it.
 */
static int
name_used(const struct pf *pf, const char *name)
{
	size_t	i;

	if (pf->used_names.n > NAMES_LINEAR)
		return strset_has(&pf->used_names, name);
	for (i = 0; i < pf->used_names.n; i++)
		if (same_name(pf->used_names.items[i], name))
			return 1;
	return 0;
}

/* An assistantResponseMessage; its uses become the ones to answer. */
static int
check_assistant(struct pf *pf, json_object *arm, long k)
{
	static const char *const	 arm_keys[] = { "content", "toolUses" };
	static const char *const	 use_keys[] = { "toolUseId", "name",
	    "input" };
	json_object			*f[3], *arr, *input;
	const char			*text, *id, *name;
	size_t				 i, n;
	int				 rc;

	pf->n_uses = 0;
	pf->uses_entry = k;
	get_fields(arm, arm_keys, 2, f);
	if ((text = str_of(f[0])) == NULL || *text == '\0')
		return fail_at(pf, PREFLIGHT_EMPTY_CONTENT, k, CONV_BLOCK__MAX,
		    0, "an assistant message with empty content");
	if ((rc = typed(arr = f[1], json_type_array)) == 0)
		return 0;
	n = rc == 1 ? json_object_array_length(arr) : 0;
	for (i = 0; i < n; i++) {
		get_fields(json_object_array_get_idx(arr, i), use_keys, 3, f);
		if ((id = str_of(f[0])) == NULL || *id == '\0' ||
		    (name = str_of(f[1])) == NULL || *name == '\0')
			return fail_at(pf, PREFLIGHT_SHAPE, k,
			    CONV_BLOCK_TOOL_USE, i, "a tool use needs a "
			    "toolUseId and a name");
		if (typed(input = f[2], json_type_object) != 1 ||
		    !input_clean(input))
			return fail_at(pf, PREFLIGHT_TOOL_INPUT, k,
			    CONV_BLOCK_TOOL_USE, i, "the input of tool use %s "
			    "must be an object without empty keys", id);
		if (strset_has(&pf->ids, id))
			return fail_at(pf, PREFLIGHT_TOOL_PAIRING, k,
			    CONV_BLOCK_TOOL_USE, i, "tool use id %s is used "
			    "twice", id);
		strset_add(&pf->ids, id);
		uses_push(pf, id);
		if (!name_used(pf, name))
			strset_add(&pf->used_names, name);
	}
	if (rc == 1)
		return 0;
	return fail_at(pf, PREFLIGHT_SHAPE, k, CONV_BLOCK__MAX, 0, "toolUses "
	    "must be an array");
}

static int
check_results(struct pf *pf, json_object *results, long k)
{
	static const char *const	 res_keys[] = { "toolUseId", "status",
	    "content" };
	json_object			*f[3];
	const char			*id, *status;
	size_t				 i, j, n;

	n = json_object_array_length(results);
	for (i = 0; i < n; i++) {
		get_fields(json_object_array_get_idx(results, i), res_keys, 3,
		    f);
		if ((id = str_of(f[0])) == NULL || *id == '\0')
			return fail_at(pf, PREFLIGHT_SHAPE, k,
			    CONV_BLOCK_TOOL_RESULT, i, "a tool result "
			    "needs a toolUseId");
		if ((status = str_of(f[1])) == NULL ||
		    (strcmp(status, "success") != 0 &&
		    strcmp(status, "error") != 0))
			return fail_at(pf, PREFLIGHT_SHAPE, k,
			    CONV_BLOCK_TOOL_RESULT, i, "tool result "
			    "status must be success or error");
		if (typed(f[2], json_type_array) != 1 ||
		    json_object_array_length(f[2]) == 0)
			return fail_at(pf, PREFLIGHT_EMPTY_CONTENT, k,
			    CONV_BLOCK_TOOL_RESULT, i, "tool "
			    "result for %s has no content", id);
		if ((j = uses_find(pf, id)) == STRSET_NONE)
			return fail_at(pf, PREFLIGHT_TOOL_PAIRING, k,
			    CONV_BLOCK_TOOL_RESULT, i, "tool "
			    "result for %s has no matching tool use in the "
			    "assistant turn before it", id);
		if (pf->answered[j])
			return fail_at(pf, PREFLIGHT_TOOL_PAIRING, k,
			    CONV_BLOCK_TOOL_RESULT, i, "a "
			    "second tool result for %s", id);
		pf->answered[j] = 1;
		pf->n_answered++;
	}
	return 0;
}

/* A userInputMessage answering the assistant's uses before it. */
static int
check_user(struct pf *pf, json_object *uim, long k)
{
	static const char *const	 uim_keys[] = { "content", "images",
	    "userInputMessageContext" };
	static const char *const	 ctx_keys[] = { "toolResults", "tools" };
	json_object			*f[3], *c[2], *ctx = NULL, *results;
	const char			*text;
	size_t				 i;
	int				 rc;

	get_fields(uim, uim_keys, 3, f);
	if ((text = str_of(f[0])) == NULL || *text == '\0' ||
	    (k == CURRENT && kiro_text_blank(text)))
		return fail_at(pf, PREFLIGHT_EMPTY_CONTENT, k,
		    CONV_BLOCK__MAX, 0, "a user message "
		    "with empty content");
	if (check_images(pf, f[1], k) != 0)
		return -1;
	uses_prepare(pf);
	if ((rc = typed(f[2], json_type_object)) == -1)
		return fail_at(pf, PREFLIGHT_SHAPE, k,
		    CONV_BLOCK__MAX, 0, "userInputMessageContext "
		    "must be an object");
	if (rc == 1)
		ctx = f[2];
	get_fields(ctx, ctx_keys, 2, c);
	results = c[0];
	if (rc == 1 && (rc = typed(results, json_type_array)) != 0) {
		if (rc == -1)
			return fail_at(pf, PREFLIGHT_SHAPE, k,
		    CONV_BLOCK__MAX, 0, "toolResults "
			    "must be an array");
		if (check_results(pf, results, k) != 0)
			return -1;
	}
	for (i = 0; pf->n_answered < pf->n_uses && i < pf->n_uses; i++)
		if (!pf->answered[i]) {
			return fail_at(pf, PREFLIGHT_TOOL_PAIRING,
			    pf->uses_entry, CONV_BLOCK_TOOL_USE, i, "tool use "
			    "%s is not answered by a tool result in the next "
			    "user message", pf->uses[i]);
		}
	pf->n_uses = 0;
	if (k != CURRENT && typed(c[1], json_type_array) == 1 &&
	    json_object_array_length(c[1]) > 0)
		return fail_at(pf, PREFLIGHT_SHAPE, k,
		    CONV_BLOCK__MAX, 0, "only the current "
		    "message may carry tools");
	return 0;
}

static int
check_history(struct pf *pf)
{
	json_object		*entry, *msg;
	struct lh_entry		*head;
	const char		*key;
	enum conv_role		 prev = CONV_ROLE__MAX;
	char			 path[PATH_MAX_LEN];
	size_t			 i, n;
	long			 last_real = -1;
	int			 user, assistant;

	n = json_object_array_length(pf->hist);
	if (n == 0)
		return fail(pf, PREFLIGHT_SHAPE, "history", "an empty history "
		    "is sent as none");
	if (n > pf->lim->max_history)
		return fail(pf, PREFLIGHT_HISTORY_LENGTH, pf->conv != NULL &&
		    pf->conv->src_items != NULL ? pf->conv->src_items :
		    "messages", "%zu history entries, the most Kiro is sent "
		    "is %zu", n, pf->lim->max_history);
	for (i = 0; i < n; i++) {
		entry = json_object_array_get_idx(pf->hist, i);
		if (!json_object_is_type(entry, json_type_object) ||
		    json_object_object_length(entry) != 1) {
			snprintf(path, sizeof(path), "history[%zu]", i);
			return fail(pf, PREFLIGHT_SHAPE, path, "a history "
			    "entry is one message");
		}
		/* One key: read it, not looked up three times. */
		head = json_object_get_object(entry)->head;
		key = (const char *)lh_entry_k(head);
		msg = (json_object *)lh_entry_v(head);
		if (strcmp(key, "cachePoint") == 0)
			continue;
		user = strcmp(key, "userInputMessage") == 0 &&
		    json_object_is_type(msg, json_type_object);
		assistant = strcmp(key, "assistantResponseMessage") == 0 &&
		    json_object_is_type(msg, json_type_object);
		if (!user && !assistant)
			return fail_at(pf, PREFLIGHT_SHAPE, (long)i,
			    CONV_BLOCK__MAX, 0, "a history entry is a user or "
			    "an assistant message");
		if (prev == CONV_ROLE__MAX && !user)
			return fail_at(pf, PREFLIGHT_ALTERNATION, (long)i,
			    CONV_BLOCK__MAX, 0, "history must start with a "
			    "user message");
		if ((user && prev == CONV_ROLE_USER) ||
		    (assistant && prev == CONV_ROLE_ASSISTANT))
			return fail_at(pf, PREFLIGHT_ALTERNATION, (long)i,
			    CONV_BLOCK__MAX, 0, "two %s messages in a row",
			    user ? "user" : "assistant");
		if ((user ? check_user(pf, msg, (long)i) :
		    check_assistant(pf, msg, (long)i)) != 0)
			return -1;
		prev = user ? CONV_ROLE_USER : CONV_ROLE_ASSISTANT;
		last_real = (long)i;
	}
	if (prev != CONV_ROLE_ASSISTANT)
		return fail_at(pf, PREFLIGHT_ALTERNATION, last_real,
		    CONV_BLOCK__MAX, 0, "history must end with an assistant "
		    "message");
	return 0;
}

/* A schema Kiro takes (§3.3.11). */
static int
check_schema(struct pf *pf, json_object *schema)
{
	json_object	*v;
	size_t		 i, n;

	if (!json_object_is_type(schema, json_type_object))
		return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA, "the input schema "
		    "must be an object");
	if (!json_object_object_get_ex(schema, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "object") != 0)
		return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA, "the input "
		    "schema's type must be \"object\", not %s",
		    v != NULL ? json_object_to_json_string(v) : "null");
	if (json_object_object_get_ex(schema, "properties", &v) &&
	    !json_object_is_type(v, json_type_object))
		return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA, "the input "
		    "schema's properties must be an object, not %s",
		    json_type_label(v));
	if (json_object_object_get_ex(schema, "required", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA, "the input "
			    "schema's required must be an array, not %s",
			    json_type_label(v));
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!json_object_is_type(json_object_array_get_idx(v,
			    i), json_type_string))
				return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA,
				    "the input schema's required must list "
				    "names");
	}
	if (json_object_object_get_ex(schema, "additionalProperties", &v) &&
	    !json_object_is_type(v, json_type_boolean) &&
	    !json_object_is_type(v, json_type_object))
		return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA, "the input "
		    "schema's additionalProperties must be a bool or an "
		    "object, not %s", json_type_label(v));
	return 0;
}

static size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int
check_tool(struct pf *pf, json_object *entry, size_t i)
{
	json_object	*spec, *is, *schema;
	const char	*name = NULL, *desc, *p;
	char		 path[PATH_MAX_LEN];
	size_t		 len;

	if (json_object_object_get_ex(entry, "cachePoint", NULL) ||
	    json_get_obj(entry, "toolSpecification", &spec) != 1) {
		snprintf(path, sizeof(path), "tools[%zu]", i);
		return fail(pf, PREFLIGHT_SHAPE, path, "a tool is one "
		    "toolSpecification (no cachePoint among tools)");
	}
	if (json_get_str(spec, "name", &name) != 1)
		name = NULL;
	pf->tool_index = i;		/* for fail_tool's path */
	pf->tool_name = name;
	len = name != NULL ? strlen(name) : 0;
	if (len == 0 || len > PREFLIGHT_TOOL_NAME_MAX)
		return fail_tool(pf, PREFLIGHT_TOOL_NAME, "a tool name is 1 "
		    "to %d characters, not %zu", PREFLIGHT_TOOL_NAME_MAX, len);
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return fail_tool(pf, PREFLIGHT_TOOL_NAME, "tool name "
			    "%s has characters other than A-Z a-z 0-9 _ -",
			    name);
	if (strset_has(&pf->defined, name))
		return fail_tool(pf, PREFLIGHT_TOOL_NAME, "tool %s is defined "
		    "twice", name);
	strset_add(&pf->defined, name);
	if (json_get_str(spec, "description", &desc) != 1 || kiro_text_blank(desc))
		return fail_tool(pf, PREFLIGHT_TOOL_DESCRIPTION, "tool %s has "
		    "no description", name);
	/* Characters are never more than bytes: count only when it may. */
	if ((size_t)json_object_get_string_len(json_object_object_get(spec,
	    "description")) > PREFLIGHT_TOOL_DESC_MAX &&
	    (len = utf8_chars(desc)) > PREFLIGHT_TOOL_DESC_MAX)
		return fail_tool(pf, PREFLIGHT_TOOL_DESCRIPTION, "the "
		    "description of tool %s is %zu characters, over %d", name,
		    len, PREFLIGHT_TOOL_DESC_MAX);
	if (json_get_obj(spec, "inputSchema", &is) != 1 ||
	    !json_object_object_get_ex(is, "json", &schema))
		return fail_tool(pf, PREFLIGHT_TOOL_SCHEMA, "tool %s has no "
		    "inputSchema.json", name);
	return check_schema(pf, schema);
}

static int
check_current(struct pf *pf, json_object *cs)
{
	json_object	*cur, *uim, *ctx, *tools;
	char		 path[PATH_MAX_LEN];
	size_t		 i, n;
	int		 rc;

	if (json_get_obj(cs, "currentMessage", &cur) != 1 ||
	    json_get_obj(cur, "userInputMessage", &uim) != 1)
		return fail(pf, PREFLIGHT_SHAPE, NULL, "the body has no "
		    "currentMessage.userInputMessage");
	if (check_user(pf, uim, CURRENT) != 0)
		return -1;
	if (json_get_obj(uim, "userInputMessageContext", &ctx) == 1 &&
	    (rc = json_get_arr(ctx, "tools", &tools)) != 0) {
		if (rc == -1)
			return fail(pf, PREFLIGHT_SHAPE, "tools", "tools must "
			    "be an array");
		n = json_object_array_length(tools);
		if (n > pf->lim->max_tools) {
			tool_path(pf, pf->lim->max_tools, NULL, path,
			    sizeof(path));
			if (pf->conv != NULL &&
			    pf->lim->max_tools < pf->conv->n_tools)
				conv_src_path(pf->conv,
				    &pf->conv->tools[pf->lim->max_tools].src,
				    1, path, sizeof(path));
			return fail(pf, PREFLIGHT_TOOL_COUNT, path[0] != '\0' ?
			    path : "tools", "%zu tools, Kiro takes at most %zu",
			    n, pf->lim->max_tools);
		}
		for (i = 0; i < n; i++)
			if (check_tool(pf, json_object_array_get_idx(tools, i),
			    i) != 0)
				return -1;
	}
	for (i = 0; i < pf->used_names.n; i++)
		if (!strset_has(&pf->defined, pf->used_names.items[i]))
			return fail(pf, PREFLIGHT_TOOL_DEFINED, "tools", "tool "
			    "%s is used in the history but not defined",
			    pf->used_names.items[i]);
	return 0;
}

static int
check_state(struct pf *pf, json_object *root)
{
	json_object	*cs;
	const char	*trigger;
	int		 rc;

	if (!json_object_is_type(root, json_type_object) ||
	    json_get_obj(root, "conversationState", &cs) != 1)
		return fail(pf, PREFLIGHT_SHAPE, NULL, "the body has no "
		    "conversationState");
	if (json_get_str(cs, "chatTriggerType", &trigger) != 1 ||
	    strcmp(trigger, "MANUAL") != 0)
		return fail(pf, PREFLIGHT_SHAPE, NULL, "chatTriggerType must "
		    "be MANUAL");
	if ((rc = json_get_arr(cs, "history", &pf->hist)) == -1)
		return fail(pf, PREFLIGHT_SHAPE, NULL, "history must be an "
		    "array");
	if (rc == 1 && check_history(pf) != 0)
		return -1;
	return check_current(pf, cs);
}

/* Checks root (NULL: the body did not parse, why says so). */
static enum kf_err
check_root(json_object *root, const char *why, size_t len,
    const struct conv *conv, const struct preflight_limits *lim,
    enum preflight_rule *rule, char **cause)
{
	struct preflight_limits	 defaults;
	struct pf		 pf;
	enum kf_err		 er = KF_OK;

	if (lim == NULL) {
		preflight_limits_default(&defaults);
		lim = &defaults;
	}
	memset(&pf, 0, sizeof(pf));
	pf.conv = conv;
	pf.lim = lim;
	pf.cause = cause;
	pf.used_names.nocase = pf.defined.nocase = 1;
	if (lim->max_body_bytes > 0 && len > lim->max_body_bytes)
		(void)fail(&pf, PREFLIGHT_BODY_SIZE, NULL, "Input is too long: "
		    "the Kiro request would be %zu bytes, the limit is %zu",
		    len, lim->max_body_bytes);
	else if (root == NULL)
		(void)fail(&pf, PREFLIGHT_SHAPE, NULL, "the body is not JSON: "
		    "%s", why != NULL ? why : "?");
	else
		(void)check_state(&pf, root);
	if (pf.rule == PREFLIGHT_BODY_SIZE ||
	    pf.rule == PREFLIGHT_HISTORY_LENGTH)
		er = KF_ECONTEXT;
	else if (pf.rule != PREFLIGHT_OK)
		er = KF_EINVAL;
	if (rule != NULL)
		*rule = pf.rule;
	strset_free(&pf.ids);
	free(pf.uses);
	free(pf.answered);
	strset_free(&pf.uses_index);
	strset_free(&pf.used_names);
	strset_free(&pf.defined);
	return er;
}

enum kf_err
preflight_check_tree(json_object *root, size_t len, const struct conv *conv,
    const struct preflight_limits *lim, enum preflight_rule *rule,
    char **cause)
{
	return check_root(root, root == NULL ? "no body" : NULL, len, conv,
	    lim, rule, cause);
}

enum kf_err
preflight_check(const char *body, size_t len, const struct conv *conv,
    const struct preflight_limits *lim, enum preflight_rule *rule,
    char **cause)
{
	json_object	*root = NULL;
	char		*why = NULL;
	enum kf_err	 er;

	/* An oversized body is refused unparsed. */
	if (lim == NULL || lim->max_body_bytes == 0 ||
	    len <= lim->max_body_bytes)
		(void)json_parse(body, len, BODY_DEPTH, &root, &why);
	er = check_root(root, why, len, conv, lim, rule, cause);
	json_object_put(root);
	free(why);
	return er;
}
