/* models.h: the Kiro model catalogue and client model names mapped onto it. */
#ifndef MODELS_H
#define MODELS_H

#include <stddef.h>

struct model_info {
	const char	*id;		/* Kiro modelId, e.g. "claude-sonnet-4.5" */
	const char	*display_name;
	long		 context_window;	/* tokens */
	long		 max_output;		/* tokens */
	long		 created;	/* unix time shown in model lists */
	/*
	 * Thinking asked for by name or effort is adaptive (kiro.rs: opus
	 * from 4.6 on), else a token budget.
	 */
	int		 adaptive_thinking;
};

/* A modelMap entry: a client name or glob ("gpt-4o*") -> a catalogue id. */
struct model_alias {
	char	*pattern;
	char	*target;
};

/* The fallback catalogue, in display order. */
const struct model_info	*models_catalogue(size_t *n);
/*
 * The entry with exactly this id (case-insensitive), or NULL: the live
 * one (models_use_live) when there is one, else the built-in one.
 */
const struct model_info	*models_find(const char *id);
/* The built-in entry with exactly this id, or NULL. */
const struct model_info	*models_find_builtin(const char *id);

/*
 * A lookup of the accounts' live model lists (catalogue.c): the entry
 * for id, with Kiro's limits, or NULL when no list has it.  Entries must
 * live as long as the process.  It may read the store, so models_find
 * and models_resolve must not be called inside a store transaction once
 * a hook is installed.  Called once at start, before any thread.
 */
typedef const struct model_info *(*models_live_fn)(const char *id);
void			 models_use_live(models_live_fn);

/*
 * Maps a client's model name to a catalogue entry, case-insensitively, in
 * this order:
 *  1. the operator's modelMap (models_use_map), first on the whole name,
 *     then without a "-thinking" suffix; patterns are fnmatch(3) globs;
 *  2. catalogue ids as they are, the live lists' ids included (a model
 *     Kiro added since this build);
 *  3. Claude names by family and version (doc/protocol.md §3.2): names
 *     containing "sonnet", "opus" or "haiku" ("claude-opus-4-8" to
 *     claude-opus-4.8, "claude-sonnet-5-20260630" to claude-sonnet-5,
 *     "claude-sonnet-4-20250514" to claude-sonnet-4; older and unversioned
 *     opus names to claude-opus-4.6, other sonnets to claude-sonnet-4.5);
 *  4. the built-in map of common OpenAI and Gemini names, and of other
 *     spellings of the non-Claude models (models_defaults).
 * A "-thinking" suffix is allowed and sets *thinking to 1 (else 0).
 * Returns NULL for a name it cannot map.
 */
const struct model_info	*models_resolve(const char *name, int *thinking);

/*
 * Installs a copy of the operator's modelMap (targets already checked to
 * be catalogue ids; map stays the caller's).  Safe while other threads
 * resolve: each models_resolve uses one whole map, the old or the new
 * (modelmap.h keeps it current).
 */
void			 models_use_map(const struct model_alias *, size_t n);
/*
 * A copy of the map in use into *out (NULL when empty): the caller frees
 * each pattern and target, then the array.  Returns the count.
 */
size_t			 models_map_copy(struct model_alias **out);
/* The built-in map of step 4, in the order it is tried. */
const struct model_alias *models_defaults(size_t *n);

/*
 * What a client may ask for, for "unknown model" errors: the catalogue
 * ids, the operator's modelMap patterns and examples of the built-in ones.
 * The text is the calling thread's, valid until its next call.
 */
const char		*models_list_text(void);

#endif
