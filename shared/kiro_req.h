/* kiro_req.h: build the generateAssistantResponse body from a conversation. */
#ifndef KIRO_REQ_H
#define KIRO_REQ_H

#include <stddef.h>

#include "buf.h"
#include "conv.h"
#include "err.h"

#define KIRO_TOOL_NAME_MAX	63	/* longer names are shortened (§3.3.9) */
#define KIRO_TOOL_DESC_MAX	10000	/* longer descriptions are cut (§3.3.10) */
#define KIRO_THINKING_BUDGET_MIN	1024
#define KIRO_THINKING_BUDGET_MAX	24576
#define KIRO_SYSTEM_ACK		"I will follow these instructions."
/* The description of a placeholder tool, and an empty tool result's text. */
#define KIRO_PLACEHOLDER_DESC	"Tool used in conversation history"
#define KIRO_NO_OUTPUT		"(no output)"

/*
 * The most cachePoints one request carries: Anthropic allows 4 cache_control
 * marks, and the 2026 catalogue's maximumCacheCheckpointsPerRequest is 4.
 */
#define KIRO_MAX_CACHE_POINTS	4

struct kiro_req_opts {
	const char	*model_id;		/* Kiro model id, required */
	const char	*conversation_id;	/* NULL: a new UUID v4 */
	const char	*profile_arn;		/* NULL: no profileArn key */
	int		 prompt_caching;	/* cachePoints for cache marks */
	/*
	 * Non-NULL: *tree gets a reference to the JSON tree the body was
	 * written from (a previous *tree is put first), so that a check of
	 * the body (preflight.h) need not parse it again.  Caller puts.
	 */
	struct json_object	**tree;
};

/* Maps the shortened tool names Kiro sees back to the client's names. */
struct kiro_toolmap;

struct kiro_toolmap	*kiro_toolmap_new(void);
void			 kiro_toolmap_free(struct kiro_toolmap *);
/*
 * The client's name for a name Kiro used: the original when it was
 * shortened, else name itself.  Borrowed from the map or from name.
 */
const char		*kiro_toolmap_original(const struct kiro_toolmap *,
			    const char *name);

/*
 * The name Kiro gets for a tool: itself when it is 1 to 63 characters of
 * [A-Za-z0-9_-]; else its first 54 bytes (fewer when byte 54 is inside a
 * UTF-8 character) with every other character made '_' ("tool" when
 * empty), then "_" and the first 8 hex digits of its SHA-256 (kiro.rs,
 * which shortens long names this way; Kiro refuses other characters).
 */
void	kiro_tool_name(const char *name, char out[KIRO_TOOL_NAME_MAX + 1]);

/*
 * 1 when s is NULL or only whitespace: Kiro takes such content as empty,
 * so the builder, the pre-flight check and the token estimate all treat
 * it so.
 */
int		 kiro_text_blank(const char *s);
/* Kiro's image format for a media type ("jpeg", ...), or NULL: none. */
const char	*kiro_image_format(const char *media_type);

/*
 * Appends the JSON body (doc/protocol.md §3.1) for a conv that
 * history_repair has prepared:
 *  - the system prompt, with the thinking prefix of §3.4 in front of it
 *    (unless it already has <thinking_mode> or <max_thinking_length>),
 *    becomes history pair 0: user {system}, assistant KIRO_SYSTEM_ACK;
 *  - history strictly alternates user/assistant, starts with user and ends
 *    with assistant (an "OK" assistant follows a trailing user message);
 *  - assistant thinking is re-embedded as <thinking>...</thinking>\n\n;
 *    blank contents are never sent: an assistant turn gets " " when it has
 *    tool uses, else "I understand."; a user turn gets "Tool results
 *    provided." when it has tool results, else "Continue";
 *  - the last message is currentMessage, with its images, tool results and
 *    every tool (names shortened, descriptions cut, schemas normalised,
 *    a placeholder for each tool named in history but not defined);
 *  - tool_choice NONE sends no tool definitions (placeholders only), a
 *    named tool_choice only that tool's (and the placeholders);
 *  - the instructions for the answer constraints (constrain.h) end the
 *    system text, making a system pair even when there is no system;
 *  - with opts->prompt_caching, a {"cachePoint":{"type":"default"}} history
 *    entry follows each history message with cache_point set (after the
 *    system pair for system_cache_point), the last KIRO_MAX_CACHE_POINTS
 *    of them; never one in the tools array, which Kiro refuses, nor for
 *    the current message, which is not history (doc/protocol.md §12).
 * map (may be NULL) receives each shortened name.  KF_EINVAL with a cause
 * when the conv cannot be expressed (no user message, no model id); out is
 * then unchanged.
 */
enum kf_err	kiro_req_build(const struct conv *, const struct kiro_req_opts *,
		    struct buf *out, struct kiro_toolmap *map, char **cause);

#endif
