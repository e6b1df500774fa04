/* json.h: json-c helpers: bounded parsing, typed field access, output. */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"
#include "err.h"

/*
 * Real tool schemas (Claude Code sends 25 tools, some eight levels deep
 * inside a request that is itself four levels deep) exceed json-c's default
 * depth of 32; this limit is generous for any honest request yet still stops
 * stack-exhausting input.
 */
#define JSON_MAX_DEPTH	512

/*
 * Parses exactly len bytes (NULs included) as one JSON value.  Trailing
 * non-space bytes, depth beyond max_depth and invalid UTF-8 are KF_EINVAL
 * with a cause that says what and where.  *out gets one reference; a bare
 * null, for which json-c has no object, is KF_EINVAL too.  Plain objects
 * and arrays take a fast path that builds the same tree as json-c's
 * tokener, which parses whatever the fast path leaves (json.c).
 */
enum kf_err	 json_parse(const char *text, size_t len, int max_depth,
		    json_object **out, char **cause);

/*
 * json_parse without its fast path (json.c): json-c's tokener alone, for
 * the tests that check both give the same tree and the same errors.
 */
enum kf_err	 json_parse_jsonc(const char *text, size_t len, int max_depth,
		    json_object **out, char **cause);

/*
 * The same, reusing one tokener across parses (a hot path such as one
 * upstream stream's events): json-c allocates and clears a stack of
 * max_depth levels for each new tokener.  One thread at a time.
 */
struct json_parser;
struct json_parser	*json_parser_new(int max_depth);
void			 json_parser_free(struct json_parser *);	/* NULL ok */
enum kf_err		 json_parser_parse(struct json_parser *,
			    const char *text, size_t len, json_object **out,
			    char **cause);

/*
 * A flat object's members without a json-c tree, for a hot path such as
 * Kiro's events (one small object per frame): json_flat_parse fills f
 * when text is one object whose values are all strings, numbers, true,
 * false or null, within the fast path's limits (json.c), at most
 * JSON_FLAT_MAX members, and returns 0; else -1, and the caller parses it
 * with json_parse (which also says what is wrong).  Strings are
 * NUL-terminated (they may hold NULs: use len) and borrowed from f until
 * the next json_flat_parse or json_flat_free.  Values are what json_parse
 * would make: an integer of json-c's int type, a double of its double.
 */
#define JSON_FLAT_MAX	16

enum json_flat_type {
	JSON_FLAT_NULL,
	JSON_FLAT_BOOL,
	JSON_FLAT_INT,
	JSON_FLAT_DOUBLE,
	JSON_FLAT_STRING,
	JSON_FLAT__MAX
};

struct json_flat_member {
	const char		*key;
	size_t			 key_len;
	enum json_flat_type	 type;
	const char		*str;		/* STRING */
	size_t			 len;		/* STRING */
	int64_t			 i;		/* INT; BOOL: 0 or 1 */
	double			 d;		/* DOUBLE, and INT as a double */
};

struct json_flat {
	struct json_flat_member	 m[JSON_FLAT_MAX];
	size_t			 n;
	struct buf		 arena;		/* the strings */
	struct buf		 scratch;	/* unescaping */
};

int	 json_flat_parse(struct json_flat *f, const char *text, size_t len);
/* The member of that key, the last one as json-c keeps it; NULL: none. */
const struct json_flat_member *json_flat_get(const struct json_flat *,
	    const char *key);
void	 json_flat_free(struct json_flat *);	/* the arena; f stays usable */

/*
 * Typed field access: each returns 1 when the key is present with the right
 * type (null counts as absent), 0 when absent, -1 when present with another
 * type.  Pointers are borrowed from obj.
 */
int	 json_get_str(json_object *obj, const char *key, const char **out);
int	 json_get_int(json_object *obj, const char *key, int64_t *out);
int	 json_get_num(json_object *obj, const char *key, double *out);
int	 json_get_bool(json_object *obj, const char *key, int *out);
int	 json_get_obj(json_object *obj, const char *key, json_object **out);
int	 json_get_arr(json_object *obj, const char *key, json_object **out);

/*
 * The same typed reads on a value already found (NULL: absent or null),
 * with the same results: json_get_int(obj, key, out) is
 * json_as_int(<obj's member key>, out).
 */
int	 json_as_str(json_object *v, const char **out);
int	 json_as_int(json_object *v, int64_t *out);
int	 json_as_bool(json_object *v, int *out);
int	 json_as_obj(json_object *v, json_object **out);
int	 json_as_arr(json_object *v, json_object **out);

/*
 * The members of obj named names[0..n) in one pass over obj: vals[k] is
 * the value of names[k], NULL when it is absent or null (or obj is not an
 * object), borrowed from obj.  json_object_object_get_ex hashes its key
 * for every call; a parser that reads a dozen top-level fields, most of
 * them absent, pays less this way (#13).  The cost is the members times
 * n first-byte compares: for a short list of names.
 */
void	 json_pick(json_object *obj, const char *const *names, size_t n,
	    json_object **vals);

/* The name of a value's JSON type ("string", "object", ...) for messages. */
const char	*json_type_label(json_object *);

/*
 * The first byte in [p, end) that ends a run inside a JSON string (a
 * quote, a backslash or a control byte), or end: scanned 16 bytes at a
 * time with SSE2, else 8, for parsers that step over strings.
 */
const char	*json_str_run(const char *p, const char *end);

/* Appends the compact serialisation ("/" unescaped) of v to out. */
void	 json_to_buf(json_object *v, struct buf *out);
/*
 * Appends s as a JSON string, quotes included, exactly as json_to_buf
 * writes one (json-c's escapes), for answers written without a tree.
 */
void	 json_put_str(struct buf *out, const char *s, size_t len);
/* Returns a heap copy of the compact serialisation; caller frees. */
char	*json_to_str(json_object *v);
/* Convenience constructors that never return NULL (abort on ENOMEM). */
json_object	*json_str(const char *s);
json_object	*json_strn(const char *s, size_t len);

#endif
