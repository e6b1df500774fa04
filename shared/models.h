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
};

/* The seed catalogue, in display order. */
const struct model_info	*models_catalogue(size_t *n);
/* The entry with exactly this id, or NULL. */
const struct model_info	*models_find(const char *id);

/*
 * Maps a client's model name to a catalogue entry (kiro-protocol.md §3.2,
 * case-insensitive): catalogue ids as they are; names containing "sonnet",
 * "opus" or "haiku" by version ("claude-opus-4-8" and unversioned opus go
 * to the newest opus, "claude-sonnet-4-20250514" to claude-sonnet-4, ...).
 * A "-thinking" suffix is allowed and sets *thinking to 1 (else 0).
 * Returns NULL for a name it cannot map.
 */
const struct model_info	*models_resolve(const char *name, int *thinking);

/* The ids of the catalogue joined by ", ", for "unknown model" errors. */
const char		*models_list_text(void);

#endif
