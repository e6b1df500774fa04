/* preflight.h: check a Kiro body against Kiro's rules before it is sent. */
#ifndef PREFLIGHT_H
#define PREFLIGHT_H

#include <stddef.h>

#include "conv.h"
#include "err.h"

/*
 * The rules Kiro is known to enforce (doc/protocol.md §3.5, §12), each
 * either repaired before the body is built or refused here:
 *
 *  ALTERNATION  history starts with user, alternates, ends with assistant:
 *               repaired (history_repair merges runs, kiro_req adds fillers).
 *  TOOL_PAIRING every toolUse answered by the next user message, no orphan
 *               or repeated toolResult, no toolUseId twice: repaired
 *               (history_repair drops what has no partner).
 *  EMPTY_CONTENT no empty content (blank in currentMessage): repaired
 *               (kiro_req's placeholders).
 *  TOOL_DEFINED every tool history uses is in tools (ignoring case):
 *               repaired (kiro_req's placeholder tools).
 *  TOOL_COUNT   at most max_tools tools: refused.
 *  TOOL_NAME    1 to 64 of [A-Za-z0-9_-], no name twice: repaired
 *               (kiro_tool_name shortens, kiro_req keeps the first).
 *  TOOL_DESCRIPTION non-empty, at most PREFLIGHT_TOOL_DESC_MAX
 *               characters: repaired (kiro_req cuts at KIRO_TOOL_DESC_MAX).
 *  TOOL_SCHEMA  inputSchema.json an object of type "object", properties an
 *               object, required an array of strings, additionalProperties
 *               a bool or object: repaired (kiro_req fills them in) except
 *               another top-level type, which is refused.
 *  TOOL_INPUT   a toolUse input is an object without "" keys: repaired.
 *  IMAGE        jpeg/png/gif/webp, standard base64, at most max_image_bytes
 *               decoded (repaired: history_repair drops other formats);
 *               at most max_images in the request: refused.
 *  BODY_SIZE    at most max_body_bytes: refused (KF_ECONTEXT, "Input is too
 *               long", as the relay's own check).
 *  HISTORY_LENGTH at most max_history history entries: refused.
 *  SHAPE        the body's own shape (JSON, conversationState, MANUAL
 *               trigger, currentMessage, no cachePoint among tools).
 */
enum preflight_rule {
	PREFLIGHT_OK,
	PREFLIGHT_SHAPE,
	PREFLIGHT_ALTERNATION,
	PREFLIGHT_TOOL_PAIRING,
	PREFLIGHT_EMPTY_CONTENT,
	PREFLIGHT_TOOL_DEFINED,
	PREFLIGHT_TOOL_COUNT,
	PREFLIGHT_TOOL_NAME,
	PREFLIGHT_TOOL_DESCRIPTION,
	PREFLIGHT_TOOL_SCHEMA,
	PREFLIGHT_TOOL_INPUT,
	PREFLIGHT_IMAGE,
	PREFLIGHT_BODY_SIZE,
	PREFLIGHT_HISTORY_LENGTH,
	PREFLIGHT__MAX
};

/* 10,240 characters per description (§12, AIClient-2-API PR #223). */
#define PREFLIGHT_TOOL_DESC_MAX		10240
#define PREFLIGHT_TOOL_NAME_MAX		64
/*
 * Kiro's tool count limit is not documented: a 400 was reported with 137
 * tools (§3.3.10); Claude Code with several MCP servers sends about 100.
 */
#define PREFLIGHT_DEFAULT_MAX_TOOLS	128
/*
 * Kiro runs on Bedrock, whose Converse API takes 20 images of at most
 * 3.75 MB a request; history_repair keeps images only in the latest
 * messages, so only a client's own burst of images reaches the limit.
 */
#define PREFLIGHT_DEFAULT_MAX_IMAGES	20
#define PREFLIGHT_DEFAULT_MAX_IMAGE_BYTES	(3840L * 1024)
/* Above what CONV_MAX_MESSAGES lets a client make (fillers included). */
#define PREFLIGHT_DEFAULT_MAX_HISTORY	(2 * CONV_MAX_MESSAGES + 8)

struct preflight_limits {
	size_t	max_body_bytes;		/* 0: no limit */
	size_t	max_tools;
	size_t	max_images;
	size_t	max_image_bytes;
	size_t	max_history;	/* history entries, cachePoints too */
};

/* The defaults above; max_body_bytes 0. */
void		preflight_limits_default(struct preflight_limits *);

/* The rule's short name ("tool pairing"), for causes and logs. */
const char	*preflight_rule_name(enum preflight_rule);

/*
 * Checks the Kiro body (len bytes) against every rule above, in one pass
 * linear in the body.  conv is the conversation it was built from (after
 * history_repair; may be NULL): an error then names the client's own path
 * of what broke the rule (conv_src, "messages[12].content[0]: ..."), else
 * the body's ("history[3].assistantResponseMessage: ...").  On a broken
 * rule: KF_EINVAL (KF_ECONTEXT for BODY_SIZE and HISTORY_LENGTH) with a
 * cause "<path>: <what> (Kiro rule: <name>)", and *rule (may be NULL) set;
 * KF_OK and PREFLIGHT_OK otherwise.
 */
enum kf_err	preflight_check(const char *body, size_t len,
		    const struct conv *conv, const struct preflight_limits *,
		    enum preflight_rule *rule, char **cause);

struct json_object;
/*
 * The same check on the JSON tree a body of len bytes was written from
 * (kiro_req_opts.tree), without parsing it again: the relay's way.
 */
enum kf_err	preflight_check_tree(struct json_object *root, size_t len,
		    const struct conv *conv, const struct preflight_limits *,
		    enum preflight_rule *rule, char **cause);

#endif
