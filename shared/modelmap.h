/* modelmap.h: the operator's modelMap, from config.json or the admin API. */
#ifndef MODELMAP_H
#define MODELMAP_H

#include <stddef.h>

#include <json-c/json.h>

#include "err.h"

struct config;
struct model_alias;
struct store;

/*
 * One set of rules for config.json's modelMap and the admin API's: at most
 * MODELMAP_MAX entries, each a name or fnmatch(3) glob of 1 to
 * MODELMAP_PATTERN_MAX bytes without control characters (longer client
 * names are never resolved), mapped to a catalogue id.  A request tries
 * at most twice MODELMAP_MAX globs.
 */
#define MODELMAP_MAX		256
#define MODELMAP_PATTERN_MAX	127

/* The settings record (settings.h) of the map the admin API stored. */
#define SETTING_MODEL_MAP	"modelMap"

/*
 * Parses {"pattern":"target",...}, in order, into *out (NULL when empty;
 * the caller's, for modelmap_free).  With check_targets, each target must
 * be a catalogue id (models_find, so never inside a store transaction)
 * and is stored as the catalogue spells it.  KF_EINVAL with a cause that
 * names the entry, after "where: " when where is not NULL.
 */
enum kf_err	 modelmap_parse(json_object *map, int check_targets,
		    const char *where, struct model_alias **out, size_t *n,
		    char **cause);
void		 modelmap_free(struct model_alias *, size_t n);	/* NULL ok */
/* {"pattern":"target",...} in order: one reference for the caller. */
json_object	*modelmap_to_json(const struct model_alias *, size_t n);

/*
 * Stores map as the admin API's, in one synced transaction (so
 * concurrent writers leave one whole map), then tells every process.
 */
enum kf_err	 modelmap_put(struct store *, const struct model_alias *,
		    size_t n, char **cause);
/* Forgets the stored map (config.json decides again) and tells all. */
enum kf_err	 modelmap_del(struct store *, char **cause);
/*
 * The map in effect: the stored one (*stored = 1) or a copy of cfg's.
 * *out is the caller's (modelmap_free).  A corrupt record is config's.
 */
enum kf_err	 modelmap_effective(struct store *, const struct config *,
		    struct model_alias **out, size_t *n, int *stored,
		    char **cause);

/*
 * Keeping each process's models_use_map current.  A change bumps a
 * counter in <stateDir>/modelmap.gen, mapped shared by every process:
 * modelmap_sync compares it with the one it last loaded (one memory
 * read, no system call) and reads the store only when it moved, once per
 * change per process.  modelmap_install maps it and loads the map; call
 * it once at start, before any thread.  modelmap_sync is for the start of
 * each request, outside any store transaction; it is thread-safe.
 */
void		 modelmap_install(struct store *, const struct config *);
void		 modelmap_sync(void);

#endif
