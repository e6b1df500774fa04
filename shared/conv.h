/* conv.h: the neutral conversation every front end parses into. */
#ifndef CONV_H
#define CONV_H

#include <stddef.h>

#include "err.h"

struct json_object;

/*
 * A request in any client protocol becomes one struct conv; the Kiro request
 * is built only from this (kiro_req.h), so every front end gets identical
 * upstream behaviour.  The conv owns every string, array and json_object
 * reference reachable from it; conv_free releases them all.
 */

enum conv_role {
	CONV_ROLE_USER,
	CONV_ROLE_ASSISTANT,
	CONV_ROLE__MAX
};

enum conv_block_type {
	CONV_BLOCK_TEXT,
	CONV_BLOCK_IMAGE,
	CONV_BLOCK_TOOL_USE,
	CONV_BLOCK_TOOL_RESULT,
	CONV_BLOCK_THINKING,
	CONV_BLOCK__MAX
};

/*
 * Where a block or tool came from in the client's request, so that an error
 * about the Kiro body (preflight.h) names the client's own path: item is
 * the index + 1 in the request's top-level array (conv->src_items, e.g.
 * "messages", "input", "contents"; conv->src_tools for tools), part the
 * index + 1 inside that item's array part_key ("content", "parts",
 * "tool_calls", "functionDeclarations").  0 is "not known": something the
 * gateway made.  The parsers stamp them (pc_src_stamp); repairs move
 * blocks with their src, so it survives merges.
 */
struct conv_src {
	size_t		 item;
	size_t		 part;
	const char	*part_key;	/* static; NULL when part is 0 */
};

struct conv_block {
	enum conv_block_type	 type;
	struct conv_src		 src;
	char			*text;		/* TEXT, THINKING */
	char			*signature;	/* THINKING, may be NULL */
	char			*media_type;	/* IMAGE: "image/png", ... */
	char			*data;		/* IMAGE: base64, no data: prefix */
	char			*id;		/* TOOL_USE id; TOOL_RESULT: id answered */
	char			*name;		/* TOOL_USE */
	struct json_object	*input;		/* TOOL_USE: an object (owned ref) */
	struct conv_block	*content;	/* TOOL_RESULT: TEXT and IMAGE */
	size_t			 n_content;
	size_t			 cap_content;
	int			 is_error;	/* TOOL_RESULT */
};

struct conv_msg {
	enum conv_role		 role;
	struct conv_block	*blocks;
	size_t			 n_blocks;
	size_t			 cap_blocks;
	/*
	 * The client marked the message for prompt caching (Anthropic
	 * cache_control on one of its blocks): Kiro gets a cachePoint after
	 * it (kiro_req.h).
	 */
	int			 cache_point;
};

struct conv_tool {
	struct conv_src		 src;
	char			*name;
	char			*description;
	struct json_object	*schema;	/* JSON Schema object (owned ref) */
};

enum conv_tool_choice {
	CONV_TOOL_CHOICE_AUTO,		/* the model decides (default) */
	CONV_TOOL_CHOICE_NONE,		/* no tool may be called */
	CONV_TOOL_CHOICE_ANY,		/* some tool must be called */
	CONV_TOOL_CHOICE_TOOL,		/* tool_choice_name must be called */
	CONV_TOOL_CHOICE__MAX
};

enum conv_thinking {
	CONV_THINKING_OFF,
	CONV_THINKING_ENABLED,		/* budget in thinking_budget */
	CONV_THINKING_ADAPTIVE,		/* effort in thinking_effort */
	CONV_THINKING__MAX
};

/*
 * The client offered its API's web search tool (Anthropic web_search,
 * Responses web_search, Gemini googleSearch): the gateway runs the
 * searches itself through Kiro's /mcp (websearch.h).  only: it was the
 * request's one tool (Anthropic), so the search is the whole answer.
 * max_uses 0: no cap.  Domains as the client gave them.
 */
struct conv_web_search {
	int			 enabled;
	int			 only;
	long			 max_uses;
	char			**allowed;
	size_t			 n_allowed;
	char			**blocked;
	size_t			 n_blocked;
};

/* Each list holds at most this many domains (a cap on client input). */
#define CONV_MAX_SEARCH_DOMAINS	100

struct conv {
	char			*system;	/* NULL when there is none */
	int			 system_cache_point;	/* as conv_msg's */
	struct conv_msg		*msgs;
	size_t			 n_msgs;
	size_t			 cap_msgs;
	struct conv_tool	*tools;
	size_t			 n_tools;
	size_t			 cap_tools;
	enum conv_tool_choice	 tool_choice;
	char			*tool_choice_name;
	int			 single_tool_call;	/* parallel calls off */
	char			*model;		/* as the client named it */
	const char		*kiro_model;	/* catalogue id (static) */
	long			 max_tokens;	/* 0 when unset */
	enum conv_thinking	 thinking;
	long			 thinking_budget;	/* ENABLED: tokens */
	char			*thinking_effort;	/* ADAPTIVE: low|medium|high */
	int			 stream;
	char			*session_key;	/* stickiness key, may be NULL */
	/* The client key's name (borrowed), NULL for apiKey: stickiness. */
	const char		*client_key;
	char			*session_id;	/* client's session UUID, may be NULL */
	char			*request_id;	/* the client's own id, may be NULL */
	/*
	 * Answer constraints the relay enforces, since Kiro has no such
	 * parameters: stop sequences (the answer ends before the first one),
	 * and a JSON answer matching response_schema (a JSON Schema object,
	 * owned ref) when json_mode is set (response_schema may then be NULL:
	 * any JSON object).
	 */
	char			**stop;
	size_t			 n_stop;
	int			 json_mode;
	struct json_object	*response_schema;
	/*
	 * The names of the request's arrays conv_src indexes (static
	 * strings; NULL: "messages" and "tools").
	 */
	const char		*src_items;
	const char		*src_tools;
	struct conv_web_search	 web_search;
};

void	conv_init(struct conv *);
/* Frees everything the conv owns; the conv is then as after conv_init. */
void	conv_free(struct conv *);

/* Returns a new, empty message owned by the conv (valid until the next add). */
struct conv_msg		*conv_add_msg(struct conv *, enum conv_role);
/* Returns a new zeroed block of the type, owned by the message. */
struct conv_block	*conv_msg_add_block(struct conv_msg *,
			    enum conv_block_type);
/* Returns a new zeroed block inside a TOOL_RESULT block's content. */
struct conv_block	*conv_block_add_content(struct conv_block *,
			    enum conv_block_type);
/* Returns a new zeroed tool owned by the conv. */
struct conv_tool	*conv_add_tool(struct conv *);
/* Removes tool i (what it owns too), shifting the rest down. */
void	conv_remove_tool(struct conv *, size_t i);
/* Adds a stop sequence (copied); empty strings are ignored. */
void	conv_add_stop(struct conv *, const char *);
/*
 * Adds a domain (copied) to the web search's allowed (or blocked) list:
 * KF_EINVAL with a cause past CONV_MAX_SEARCH_DOMAINS.
 */
enum kf_err	conv_add_search_domain(struct conv *, int blocked,
		    const char *domain, char **cause);
/* Appends text to the system prompt, joined to what is there by "\n". */
void	conv_append_system(struct conv *, const char *text);

/* Frees what a block owns (not the block itself). */
void	conv_block_clear(struct conv_block *);
/* Frees what a message owns (not the message itself). */
void	conv_msg_clear(struct conv_msg *);
/* Removes message i, shifting the rest down. */
void	conv_remove_msg(struct conv *, size_t i);
/* Removes block i of a message, shifting the rest down. */
void	conv_msg_remove_block(struct conv_msg *, size_t i);
/* Inserts a new, empty message at position i. */
struct conv_msg		*conv_insert_msg(struct conv *, size_t i,
			    enum conv_role);

/*
 * What one request may hold, far above what Claude Code, Codex or Gemini
 * CLI send (Claude Code: 20-100 tools, long sessions a few thousand
 * blocks), so that the work before the upstream call stays small: blocks
 * count every message block and every block inside a tool result.  Stop
 * sequences: OpenAI allows 4, Anthropic documents no limit.
 */
#define CONV_MAX_TOOLS		1000
#define CONV_MAX_MESSAGES	10000
#define CONV_MAX_BLOCKS		20000
#define CONV_MAX_STOP		16
#define CONV_MAX_STOP_BYTES	256

/*
 * KF_EINVAL with a cause naming the first cap conv is over (tools,
 * messages, blocks, stop sequences and their length), else KF_OK.  Every
 * front end's request goes through it once it has parsed (serve_relay).
 */
enum kf_err	conv_check_limits(const struct conv *, char **cause);

/* The text of a message's TEXT blocks, joined by sep; caller frees. */
char	*conv_msg_text(const struct conv_msg *, const char *sep);

const char	*conv_role_name(enum conv_role);

/*
 * Writes the client's path of src into out ("messages[12].content[0]",
 * "tools[3]" when tool is set), "" when src is not known.  Returns out.
 */
char	*conv_src_path(const struct conv *, const struct conv_src *,
	    int tool, char *out, size_t size);
/* The src of a message: its first block's that is known, else none. */
const struct conv_src	*conv_msg_src(const struct conv_msg *);

#endif
