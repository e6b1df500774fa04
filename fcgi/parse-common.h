/* parse-common.h: what the four request parsers share. */
#ifndef PARSE_COMMON_H
#define PARSE_COMMON_H

#include <stdarg.h>
#include <stddef.h>

#include <json-c/json.h>

#include "err.h"

struct conv;
struct model_info;
struct strset;

/*
 * Every error names the field it is about.  cause gets "<field>: <what>"
 * (just "<what>" when field is NULL); param, for front ends whose error
 * format has one (OpenAI's "param"), gets field.  Either may be NULL.
 * Both return KF_EINVAL.
 */
enum kf_err	pc_bad(char **cause, char **param, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum kf_err	pc_vbad(char **cause, char **param, const char *field,
		    const char *fmt, va_list)
		    __attribute__((format(printf, 4, 0)));

/* snprintf into path, for the "where" of later messages. */
void		pc_path_set(char *path, size_t size, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/*
 * Writes name, "[", i and "]" at path + at (at most strlen(path)) and
 * returns the new length: the path of each item in a parser's loops
 * ("messages[3]", then ".content[0]" after it) without printf's cost,
 * paid once per message and block.  Truncated to size as snprintf would.
 */
size_t		pc_path_index(char *path, size_t size, size_t at,
		    const char *name, size_t i);

/* pc_want_str flags. */
#define PC_REQUIRED	0x1	/* absent (or null) is "field required" */
#define PC_TYPE_LABEL	0x2	/* "must be a string, not <type>" */

/*
 * The member key of obj if it is of type (json_type_string, _object or
 * _array), *out borrowed (NULL when absent or null and not required).  Its
 * path in messages is base.key (key when base is ""): "field required",
 * "must be a string" (an object, an array).
 */
enum kf_err	pc_want(char **cause, char **param, json_object *obj,
		    const char *base, const char *key, enum json_type type,
		    int flags, json_object **out);
/* The same for a member v already found (NULL: absent or null). */
enum kf_err	pc_want_val(char **cause, char **param, json_object *v,
		    const char *base, const char *key, enum json_type type,
		    int flags, json_object **out);
/* The same for a string, *out its text. */
enum kf_err	pc_want_str(char **cause, char **param, json_object *obj,
		    const char *base, const char *key, int flags,
		    const char **out);

/*
 * The request body as a JSON object (*root to put).  A body that is not
 * JSON gets json_parse's message alone; one that is not an object "the
 * request body must be a JSON object, not <type>" about field.
 */
enum kf_err	pc_root(const char *body, size_t len, const char *field,
		    json_object **root, char **cause, char **param);

/*
 * Sets conv->model and, when the name is known, conv->kiro_model and *m.
 * An unknown name is KF_ENOTFOUND, "model: "<name>" is not available;
 * available models: ..." (catalogue_list_text), unless lenient (token
 * counting needs no model).
 */
enum kf_err	pc_model(struct conv *, const char *model, int lenient,
		    const struct model_info **m, int *thinking_name,
		    char **cause, char **param);
/* What a -thinking model name means: opus 4.6 adaptive, others a budget. */
void		pc_thinking_name(struct conv *, const struct model_info *m);

/*
 * OpenAI's reasoning effort names (PC_EFFORT_NAMES) as Kiro's three levels
 * and a budget: -1 for an unknown name, 0 with *effort NULL for "none".
 */
#define PC_EFFORT_NAMES	"none, minimal, low, medium, high or xhigh"
int		pc_effort(const char *name, const char **effort,
		    long *budget);

/*
 * The type of an OpenAI response format (Chat's response_format, the
 * Responses text.format), named field in errors: "text" changes nothing;
 * "json_object" and "json_schema" turn on conv->json_mode, the latter with
 * *schema set for the caller to read the schema; else an error.
 */
enum kf_err	pc_format_type(struct conv *, const char *type,
		    const char *field, int *schema, char **cause, char **param);

/*
 * Adds a tool to conv (desc NULL is ""), taking schema; NULL is a
 * function without parameters.
 */
struct conv_tool	*pc_add_tool(struct conv *, const char *name,
			    const char *desc, json_object *schema);

/*
 * Adds a stop sequence the client sent as field ("stop_sequences[3]"),
 * with conv's caps checked here so that the error names the field, in the
 * message and as param: "<field>: at most CONV_MAX_STOP_BYTES bytes, not
 * N", and "<field>: at most max_count stop sequences are allowed" (OpenAI's
 * own limit is below CONV_MAX_STOP; a larger max_count is CONV_MAX_STOP).
 * Empty strings are ignored, as by conv_add_stop.  conv_check_limits stays
 * the backstop for any other way in.
 */
enum kf_err	pc_add_stop(struct conv *, const char *seq, const char *field,
		    size_t max_count, char **cause, char **param);

/*
 * Keeps only conv's tools whose name is in keep, in their order, in one
 * pass (a client's allowed list filters the tools before the caps are
 * checked, so it must cost linear time); the names of the tools removed
 * are added to removed unless it is NULL.
 */
void		pc_keep_tools(struct conv *, const struct strset *keep,
		    struct strset *removed);

/*
 * History a client sends that Kiro has no form for (a hosted tool's call,
 * a server tool's result, a part of a type not known yet) reaches the
 * model as a short note in the turn: a TEXT block added to m holding the
 * formatted text, "[web search: query ...]".  Returns the block.
 */
struct conv_block	*pc_note(struct conv_msg *m, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));
/* A JSON value as note text: a string's own text, else compact JSON (heap). */
char		*pc_json_text(json_object *v);

/*
 * Source paths (conv.h struct conv_src): a parser takes a mark before it
 * parses one client item (or part), then stamps what that added: every
 * block (in any message) and tool added since the mark whose src is not
 * set yet gets item index and part index (part_key NULL: none).  Stamp
 * the inner part first, then the item (a part set on a block beforehand,
 * with its part_key, is kept): each block is stamped once, so the
 * cost stays linear however many items one message gathers.
 */
struct pc_mark {
	size_t	msg, block, tool;
};
void		pc_src_mark(const struct conv *, struct pc_mark *);
void		pc_src_stamp(struct conv *, const struct pc_mark *,
		    size_t item, size_t part, const char *part_key);

/* The canonical spelling of an image type Kiro takes, or NULL. */
const char	*pc_image_media(const char *media_type);
#endif
