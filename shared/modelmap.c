/* modelmap.c: the operator's modelMap, from config.json or the admin API. */
#include "autoconfig.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "modelmap.h"
#include "models.h"
#include "settings.h"
#include "store.h"
#include "xmalloc.h"

#define GEN_FILE	"modelmap.gen"

static int
pattern_valid(const char *p)
{
	size_t	len = strlen(p), i;

	if (len == 0 || len > MODELMAP_PATTERN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* "one of: auto, claude-sonnet-5, ..." for a target that is not an id. */
static void
ids_text(struct buf *ids)
{
	const struct model_info	*cat;
	size_t			 n, i;

	cat = models_catalogue(&n);
	for (i = 0; i < n; i++)
		buf_printf(ids, "%s%s", i > 0 ? ", " : "", cat[i].id);
}

enum kf_err
modelmap_parse(json_object *map, int check_targets, const char *where,
    struct model_alias **out, size_t *n_out, char **cause)
{
	struct model_alias	*a = NULL;
	const struct model_info	*m;
	struct buf		 ids = BUF_INIT;
	const char		*target, *pre = where != NULL ? where : "",
				*sep = where != NULL ? ": " : "";
	size_t			 n = 0, len, i = 0;
	enum kf_err		 er = KF_EINVAL;

	*out = NULL;
	*n_out = 0;
	if (!json_object_is_type(map, json_type_object)) {
		xsetprintf(cause, "%s%skey \"modelMap\" must be an object, "
		    "not %s", pre, sep, json_type_label(map));
		return KF_EINVAL;
	}
	if ((len = (size_t)json_object_object_length(map)) > MODELMAP_MAX) {
		xsetprintf(cause, "%s%skey \"modelMap\" has %zu entries: at "
		    "most %d", pre, sep, len, MODELMAP_MAX);
		return KF_EINVAL;
	}
	a = xcalloc(len + 1, sizeof(*a));
	json_object_object_foreach(map, pattern, v) {
		i++;
		/* Entry i, not its name: the name is what is wrong. */
		if (!pattern_valid(pattern)) {
			xsetprintf(cause, "%s%skey \"modelMap\", entry %zu: a "
			    "model name of 1 to %d bytes without control "
			    "characters", pre, sep, i, MODELMAP_PATTERN_MAX);
			goto out;
		}
		if (!json_object_is_type(v, json_type_string)) {
			xsetprintf(cause, "%s%skey \"modelMap.%s\" must be a "
			    "string (a Kiro model id), not %s", pre, sep,
			    pattern, json_type_label(v));
			goto out;
		}
		target = json_object_get_string(v);
		m = NULL;
		if (json_object_get_string_len(v) == 0 ||
		    json_object_get_string_len(v) > MODELMAP_PATTERN_MAX ||
		    (check_targets && (m = models_find(target)) == NULL)) {
			ids_text(&ids);
			xsetprintf(cause, "%s%skey \"modelMap.%s\": \"%.*s\" is "
			    "not a Kiro model id (one of: %s)", pre, sep,
			    pattern, MODELMAP_PATTERN_MAX, target, ids.ptr);
			goto out;
		}
		a[n].pattern = xstrdup(pattern);
		a[n].target = xstrdup(m != NULL ? m->id : target);
		n++;
	}
	er = KF_OK;
out:
	buf_free(&ids);
	if (er != KF_OK || n == 0) {
		modelmap_free(a, n);
		a = NULL;
		n = 0;
	}
	*out = a;
	*n_out = n;
	return er;
}

void
modelmap_free(struct model_alias *a, size_t n)
{
	size_t	i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(a[i].pattern);
		free(a[i].target);
	}
	free(a);
}

json_object *
modelmap_to_json(const struct model_alias *a, size_t n)
{
	json_object	*o = json_object_new_object();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_object_object_add(o, a[i].pattern, json_str(a[i].target));
	return o;
}

/*
 * The shared counter of changes, mapped for the process's life; NULL
 * when it cannot be (then each request reads the store).
 */
static _Atomic uint64_t *
gen_map(const char *dir, char **cause)
{
	struct stat	 sb;
	char		*path = xasprintf("%s/%s", dir, GEN_FILE);
	void		*p = MAP_FAILED;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    fstat(fd, &sb) == -1 ||
	    (sb.st_size < (off_t)sizeof(uint64_t) &&
	    ftruncate(fd, sizeof(uint64_t)) == -1) ||
	    (p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED)
		xsetprintf(cause, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	free(path);
	return p == MAP_FAILED ? NULL : p;
}

/* After a change is stored: every process reloads at its next request. */
static void
gen_bump(struct store *st)
{
	_Atomic uint64_t	*gen;
	char			*why = NULL;

	if ((gen = gen_map(store_dir(st), &why)) == NULL) {
		log_warnx("modelMap changed, but other processes may not see "
		    "it until they restart: %s", why);
		free(why);
		return;
	}
	atomic_fetch_add(gen, 1);
	(void)munmap((void *)gen, sizeof(uint64_t));
}

enum kf_err
modelmap_put(struct store *st, const struct model_alias *a, size_t n,
    char **cause)
{
	struct store_txn	*txn = NULL;
	json_object		*o = modelmap_to_json(a, n);
	enum kf_err		 er;

	if ((er = store_begin(st, STORE_WRITE, &txn, cause)) == KF_OK) {
		er = settings_txn_put(txn, SETTING_MODEL_MAP, o, cause);
		if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
		    er == KF_OK)
			er = KF_ESTORE;
	}
	json_object_put(o);
	if (er == KF_OK)
		gen_bump(st);
	return er;
}

enum kf_err
modelmap_del(struct store *st, char **cause)
{
	enum kf_err	er;

	if ((er = settings_del(st, SETTING_MODEL_MAP, cause)) == KF_OK)
		gen_bump(st);
	return er;
}

enum kf_err
modelmap_effective(struct store *st, const struct config *cfg,
    struct model_alias **out, size_t *n, int *stored, char **cause)
{
	struct store_txn	*txn = NULL;
	json_object		*v = NULL;
	char			*why = NULL;
	size_t			 i;
	enum kf_err		 er, got;

	*out = NULL;
	*n = 0;
	*stored = 0;
	if ((er = store_begin(st, STORE_READ, &txn, cause)) != KF_OK)
		return er;
	got = settings_txn_get(txn, SETTING_MODEL_MAP, &v, &why);
	if ((er = store_end(txn, cause)) != KF_OK)
		goto out;
	if (got == KF_OK && modelmap_parse(v, 0, NULL, out, n, &why) ==
	    KF_OK) {
		*stored = 1;
		goto out;
	}
	if (got != KF_ENOTFOUND)
		log_warnx("setting %s: %s: config.json decides",
		    SETTING_MODEL_MAP, why != NULL ? why : "corrupt record");
	*out = cfg->n_model_map > 0 ? xcalloc(cfg->n_model_map,
	    sizeof(**out)) : NULL;
	for (i = 0; i < cfg->n_model_map; i++) {
		(*out)[i].pattern = xstrdup(cfg->model_map[i].pattern);
		(*out)[i].target = xstrdup(cfg->model_map[i].target);
	}
	*n = cfg->n_model_map;
out:
	json_object_put(v);
	free(why);
	return er;
}

/* The process's view (modelmap_install). */
static struct store		*sync_store;
static const struct config	*sync_cfg;
static _Atomic uint64_t		*sync_gen;	/* NULL: read every time */
static _Atomic uint64_t		 loaded_gen;	/* generation + 1; 0: none */
static pthread_mutex_t		 sync_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under sync_lock: loads the map in effect; -1 when the store failed. */
static int
load(void)
{
	struct model_alias	*a = NULL;
	size_t			 n = 0;
	char			*why = NULL;
	int			 stored;

	if (modelmap_effective(sync_store, sync_cfg, &a, &n, &stored,
	    &why) != KF_OK) {
		/* Keep the map in use; the next request tries again. */
		log_warnx("modelMap: %s", why);
		free(why);
		return -1;
	}
	models_use_map(a, n);
	log_debug("modelMap: %zu entries from %s", n, stored ?
	    "the admin API" : "config.json");
	modelmap_free(a, n);
	return 0;
}

void
modelmap_install(struct store *st, const struct config *cfg)
{
	char	*why = NULL;

	pthread_mutex_lock(&sync_lock);
	sync_store = st;
	sync_cfg = cfg;
	atomic_store(&loaded_gen, 0);
	if (sync_gen != NULL) {
		(void)munmap((void *)sync_gen, sizeof(uint64_t));
		sync_gen = NULL;
	}
	if (st != NULL && (sync_gen = gen_map(store_dir(st), &why)) == NULL) {
		log_warnx("modelMap: every request reads the state file: %s",
		    why);
		free(why);
	}
	pthread_mutex_unlock(&sync_lock);
	modelmap_sync();
}

void
modelmap_sync(void)
{
	uint64_t	gen;

	if (sync_store == NULL)
		return;
	/* Read before the store: a change after it is seen next time. */
	gen = sync_gen != NULL ? atomic_load(sync_gen) : 0;
	if (sync_gen != NULL && atomic_load(&loaded_gen) == gen + 1)
		return;
	pthread_mutex_lock(&sync_lock);
	if (sync_gen == NULL || atomic_load(&loaded_gen) != gen + 1) {
		if (load() == 0 && sync_gen != NULL)
			atomic_store(&loaded_gen, gen + 1);
	}
	pthread_mutex_unlock(&sync_lock);
}
