/* metrics.c: Prometheus counters in a shared mmap'd file, updated lock-free. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

#define METRICS_MAGIC		"KFMETRIC"
/* Bump when the layout, the families or the buckets change. */
#define METRICS_VERSION		2
#define HEADER_SIZE		4096
#define SLOT_KEY_MAX		208
#define SLOT_VALUES		20
#define N_BUCKETS		15
#define V_OVERFLOW		N_BUCKETS	/* above the last bound */
#define V_SUM			(N_BUCKETS + 1)	/* microseconds */
#define CLAIM_SPINS		100000
/* The families of the capped "model" and "key" values (not rendered). */
#define FAMILY_MODELS		METRIC__MAX
#define FAMILY_KEYS		(METRIC__MAX + 1)

struct header {
	char		magic[8];
	uint32_t	version;
	uint32_t	n_slots;
	uint32_t	slot_size;
	uint32_t	header_size;
	uint64_t	used;		/* slots claimed */
	uint64_t	dropped;	/* new series refused: table full */
	uint64_t	n_models;	/* distinct model values */
	uint64_t	n_keys;		/* distinct client key names */
	uint64_t	created;	/* unix seconds */
};

/*
 * A series.  hash is claimed from 0 with a CAS; the claimer then writes
 * family and key and sets ready, so a reader that finds the hash waits
 * for ready before comparing keys.
 */
struct slot {
	uint64_t	hash;
	uint32_t	ready;
	uint16_t	family;
	uint16_t	key_len;
	char		key[SLOT_KEY_MAX];	/* labels: a="x",b="y" */
	uint64_t	v[SLOT_VALUES];	/* counter: v[0]; else buckets */
};

_Static_assert(sizeof(struct header) <= HEADER_SIZE, "header too big");
_Static_assert(sizeof(struct slot) % 64 == 0, "slot not cache aligned");
_Static_assert(V_SUM < SLOT_VALUES, "too many buckets");

#define FILE_SIZE	((size_t)HEADER_SIZE + \
			    (size_t)METRICS_SLOTS * sizeof(struct slot))

enum family_type {
	TYPE_COUNTER,
	TYPE_HISTOGRAM,
};

/* Label names are sorted, so a series has one key. */
struct family {
	const char		*name;
	enum family_type	 type;
	const char		*help;
	const char		*labels[METRICS_MAX_LABELS];
	size_t			 n_labels;
};

static const struct family families[METRIC__MAX] = {
	{ "kiro_fcgi_requests_total", TYPE_COUNTER,
	    "API requests answered, by API, Kiro model, account, client key "
	    "and status class.",
	    { "account", "api", "key", "model", "status_class" }, 5 },
	{ "kiro_fcgi_input_tokens_total", TYPE_COUNTER,
	    "Input tokens of answered requests (Kiro's figures when it sent "
	    "them).", { "account", "api", "key", "model" }, 4 },
	{ "kiro_fcgi_output_tokens_total", TYPE_COUNTER,
	    "Output tokens of answered requests.",
	    { "account", "api", "key", "model" }, 4 },
	{ "kiro_fcgi_upstream_attempts_total", TYPE_COUNTER,
	    "Calls made to Kiro's generateAssistantResponse.",
	    { "account", "api" }, 2 },
	{ "kiro_fcgi_upstream_retries_total", TYPE_COUNTER,
	    "Calls to Kiro repeated on the same account (errors, a refreshed "
	    "token, the other host).", { NULL }, 0 },
	{ "kiro_fcgi_failovers_total", TYPE_COUNTER,
	    "Requests moved to another account after one failed.",
	    { NULL }, 0 },
	{ "kiro_fcgi_token_refreshes_total", TYPE_COUNTER,
	    "Access token refreshes made by the responder, by result.",
	    { "account", "result" }, 2 },
	{ "kiro_fcgi_request_duration_seconds", TYPE_HISTOGRAM,
	    "Time from the request's arrival to its last byte.",
	    { "api", "model" }, 2 },
	{ "kiro_fcgi_time_to_first_byte_seconds", TYPE_HISTOGRAM,
	    "Time from the request's arrival to the first byte of the answer.",
	    { "api", "model" }, 2 },
};

/* Upper bounds in microseconds, and as the exposition writes them. */
static const uint64_t bucket_usec[N_BUCKETS] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000, 30000000, 60000000, 120000000, 300000000
};
static const char *const bucket_text[N_BUCKETS] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5", "5", "10", "30", "60", "120", "300"
};

struct metrics {
	uint64_t	 generation;	/* this open, for thread caches */
	struct header	*hdr;
	struct slot	*slots;
	void		*map;
};

static struct metrics	*installed;
static uint64_t		 generations;
static int		 warned_full;	/* log once per process */

void
metrics_install(struct metrics *m)
{
	installed = m;
}

struct metrics *
metrics_global(void)
{
	return installed;
}

/* --- the file ------------------------------------------------------------ */

static void
header_init(struct header *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, METRICS_MAGIC, sizeof(h->magic));
	h->version = METRICS_VERSION;
	h->n_slots = METRICS_SLOTS;
	h->slot_size = sizeof(struct slot);
	h->header_size = HEADER_SIZE;
	h->created = (uint64_t)time(NULL);
}

static int
header_valid(const struct header *h)
{
	return memcmp(h->magic, METRICS_MAGIC, sizeof(h->magic)) == 0 &&
	    h->version == METRICS_VERSION && h->n_slots == METRICS_SLOTS &&
	    h->slot_size == sizeof(struct slot) &&
	    h->header_size == HEADER_SIZE;
}

/* Ours, private, the right size and with our header. */
static int
file_trusted(int fd, const struct stat *st)
{
	struct header	h;

	if (!S_ISREG(st->st_mode) || st->st_uid != geteuid() ||
	    (st->st_mode & 077) != 0 || (size_t)st->st_size != FILE_SIZE)
		return 0;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return 0;
	return header_valid(&h);
}

/* Writes the size and header into fd, a new or empty file. */
static int
file_init(int fd)
{
	struct header	h;

	header_init(&h);
	if (ftruncate(fd, 0) == -1 || ftruncate(fd, (off_t)FILE_SIZE) == -1 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	return 0;
}

/*
 * A fresh file renamed over path: processes that mapped the old one keep
 * their (detached) copy until they reopen; nobody reads a half-made one.
 */
static int
file_replace(const char *dir, const char *path, char **cause)
{
	char	*tmp;
	int	 fd, rc = -1;

	tmp = xasprintf("%s/%s.XXXXXX", dir, METRICS_FILE);
	if ((fd = mkstemp(tmp)) == -1) {
		xsetprintf(cause, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || file_init(fd) == -1 ||
	    rename(tmp, path) == -1) {
		xsetprintf(cause, "%s: %s", path, strerror(errno));
		(void)unlink(tmp);
	} else
		rc = 0;
	close(fd);
	free(tmp);
	return rc;
}

/* Opens path locked, or -1; *replace when it exists but is not ours. */
static int
open_locked(const char *path, int *replace, char **cause)
{
	struct stat	st, now;
	int		fd;

	*replace = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		if (errno == ELOOP) {	/* a symlink: never follow it */
			*replace = 1;
			return -1;
		}
		xsetprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1) {
		xsetprintf(cause, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Replaced while we waited for the lock: open the new one. */
	if (stat(path, &now) == -1 || now.st_ino != st.st_ino ||
	    now.st_dev != st.st_dev) {
		close(fd);
		errno = EAGAIN;
		return -1;
	}
	if (st.st_size == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid() && (st.st_mode & 077) == 0) {
		if (file_init(fd) == -1) {
			xsetprintf(cause, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	if (!file_trusted(fd, &st)) {
		*replace = 1;
		close(fd);
		return -1;
	}
	return fd;
}

enum kf_err
metrics_open(struct metrics **out, const char *dir, char **cause)
{
	struct metrics	*m;
	char		*path;
	void		*map;
	int		 fd = -1, tries, replace;

	*out = NULL;
	path = xasprintf("%s/%s", dir, METRICS_FILE);
	for (tries = 0; tries < 4 && fd == -1; tries++) {
		if ((fd = open_locked(path, &replace, cause)) != -1)
			break;
		if (replace) {
			log_warnx("%s: not a metrics file of this build (or "
			    "not private): replaced", path);
			if (file_replace(dir, path, cause) == -1)
				break;
		} else if (errno != EAGAIN)
			break;
	}
	if (fd == -1) {
		if (cause != NULL && *cause == NULL)
			xsetprintf(cause, "%s: could not be opened", path);
		free(path);
		return KF_ESTORE;
	}
	map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		xsetprintf(cause, "%s: mmap: %s", path, strerror(errno));
		(void)flock(fd, LOCK_UN);
		close(fd);
		free(path);
		return KF_ESTORE;
	}
	/*
	 * A request touches a few slots of the 3 MB file; without this each
	 * first touch maps its 64 KB neighbourhood too (the kernel's fault-
	 * around), which put 0.5 MB of the file in every responder's RSS.
	 */
	(void)madvise(map, FILE_SIZE, MADV_RANDOM);
	/*
	 * The mapping holds the open file, and with it the flock: unlock
	 * explicitly, since close() alone would keep others waiting.
	 */
	(void)flock(fd, LOCK_UN);
	close(fd);
	free(path);
	m = xcalloc(1, sizeof(*m));
	m->generation = __atomic_add_fetch(&generations, 1, __ATOMIC_RELAXED);
	m->map = map;
	m->hdr = map;
	m->slots = (struct slot *)((char *)map + HEADER_SIZE);
	*out = m;
	return KF_OK;
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	if (installed == m)
		installed = NULL;
	(void)munmap(m->map, FILE_SIZE);
	free(m);
}

/* --- keys --------------------------------------------------------------- */

/*
 * Writes value as label text into out and returns its length: "none"
 * when empty, printable ASCII only (anything else is "?"), \\ \" \n
 * escaped, at most METRICS_VALUE_MAX bytes, never half an escape.
 */
static size_t
escape_value(char out[METRICS_VALUE_MAX], const char *value)
{
	const unsigned char	*p = (const unsigned char *)value;
	size_t			 n = 0;

	if (value == NULL || *value == '\0') {
		memcpy(out, "none", 4);
		return 4;
	}
	for (; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			if (n + 2 > METRICS_VALUE_MAX)
				break;
			out[n++] = '\\';
			out[n++] = *p == '\n' ? 'n' : (char)*p;
			continue;
		}
		if (n + 1 > METRICS_VALUE_MAX)
			break;
		out[n++] = *p < 0x20 || *p >= 0x7f ? '?' : (char)*p;
	}
	return n;
}

void
metrics_escape(struct buf *out, const char *value)
{
	char	text[METRICS_VALUE_MAX];

	buf_append(out, text, escape_value(text, value));
}

static uint64_t
key_hash(unsigned family, const char *key, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	h = (h ^ family) * 1099511628211ULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return h | (1ULL << 63);	/* never 0, the free mark */
}

static void
table_full(struct metrics *m)
{
	__atomic_add_fetch(&m->hdr->dropped, 1, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&warned_full, 1, __ATOMIC_RELAXED))
		log_warnx("metrics: the series table is full (%d%% of %d); "
		    "new series are dropped", METRICS_FILL_PERCENT,
		    METRICS_SLOTS);
}

/*
 * The slot of (family, key), claimed when absent and create is set; NULL
 * when absent, when the table is full, or when a claimer died between
 * its CAS and setting ready (that series is then lost, never doubled).
 */
static struct slot *
find_slot(struct metrics *m, unsigned family, const char *key, size_t len,
    int create)
{
	struct slot	*s;
	uint64_t	 h, seen;
	uint32_t	 i, n, spins;

	if (len > SLOT_KEY_MAX)
		return NULL;
	h = key_hash(family, key, len);
	i = (uint32_t)(h % METRICS_SLOTS);
	for (n = 0; n < METRICS_SLOTS; n++, i = (i + 1) % METRICS_SLOTS) {
		s = &m->slots[i];
		seen = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
		if (seen == 0) {
			if (!create)
				return NULL;
			if (__atomic_add_fetch(&m->hdr->used, 1,
			    __ATOMIC_RELAXED) > (uint64_t)METRICS_SLOTS *
			    METRICS_FILL_PERCENT / 100) {
				__atomic_sub_fetch(&m->hdr->used, 1,
				    __ATOMIC_RELAXED);
				table_full(m);
				return NULL;
			}
			if (__atomic_compare_exchange_n(&s->hash, &seen, h, 0,
			    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				s->family = (uint16_t)family;
				s->key_len = (uint16_t)len;
				memcpy(s->key, key, len);
				__atomic_store_n(&s->ready, 1,
				    __ATOMIC_RELEASE);
				return s;
			}
			/* Lost the race for this slot: look at the winner. */
			__atomic_sub_fetch(&m->hdr->used, 1, __ATOMIC_RELAXED);
		}
		if (seen != h)
			continue;
		for (spins = 0; !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE);
		    spins++)
			if (spins == CLAIM_SPINS)
				return NULL;
		if (s->family == family && s->key_len == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
	}
	return NULL;
}

/* A capped label: its hidden family, its count and its cap. */
enum capped {
	CAPPED_MODEL,
	CAPPED_KEY,
	CAPPED__MAX
};

/*
 * Each thread remembers the last value of each capped label found, since
 * a request asks several times.
 */
struct known {
	uint64_t	in;	/* struct metrics generation */
	size_t		len;
	char		value[METRICS_VALUE_MAX];
};
static __thread struct known	known[CAPPED__MAX];

/*
 * Whether a model (key) value may be shown as itself: it is one of the
 * first METRICS_MAX_MODELS (METRICS_MAX_KEYS) distinct ones, else the
 * label says "other".
 */
static int
value_known(struct metrics *m, enum capped which, const char *value,
    size_t len)
{
	struct known	*k = &known[which];
	unsigned	 family = which == CAPPED_KEY ? FAMILY_KEYS :
			    FAMILY_MODELS;
	uint64_t	*count = which == CAPPED_KEY ? &m->hdr->n_keys :
			    &m->hdr->n_models;
	uint64_t	 max = which == CAPPED_KEY ? METRICS_MAX_KEYS :
			    METRICS_MAX_MODELS;

	if (k->in == m->generation && k->len == len &&
	    memcmp(k->value, value, len) == 0)
		return 1;
	if (find_slot(m, family, value, len, 0) == NULL) {
		if (__atomic_add_fetch(count, 1, __ATOMIC_RELAXED) > max) {
			__atomic_sub_fetch(count, 1, __ATOMIC_RELAXED);
			return 0;
		}
		/* Two processes adding one name: one slot, count +1. */
		if (find_slot(m, family, value, len, 1) == NULL)
			return 1;	/* table full: nothing is counted */
	}
	k->in = m->generation;
	k->len = len;
	memcpy(k->value, value, len);
	return 1;
}

/* A series key being built; too long is dropped, never cut. */
struct key {
	char	text[SLOT_KEY_MAX];
	size_t	len;
	int	too_long;
};

static void
key_append(struct key *k, const char *s, size_t len)
{
	if (k->too_long || len > SLOT_KEY_MAX - k->len) {
		k->too_long = 1;
		return;
	}
	memcpy(k->text + k->len, s, len);
	k->len += len;
}

/*
 * The last series each family found in this thread, by its label values
 * as given (before escaping and capping): a request counts the same
 * series as the last one did, and finding a slot again costs escaping,
 * the key, its hash and the probe.  Kept only when every capped value
 * showed as itself (one shown as "other" may show as itself later, once
 * another process has claimed its name).  A claimed slot never moves
 * nor changes its key, so the pointer is good for as long as the mapping
 * it was found in (the generation).
 */
#define RECENT_VALUES_MAX	256	/* the values, each with its NUL */

struct recent {
	uint64_t	 in;		/* struct metrics generation; 0: none */
	struct slot	*slot;
	size_t		 len;
	char		 values[RECENT_VALUES_MAX];
};
static __thread struct recent	recent[METRIC__MAX];

static const char *
label_value(const char *const *values, size_t i)
{
	return values != NULL && values[i] != NULL ? values[i] : "";
}

/* Bounded by what r holds, whatever the length of a value. */
static int
recent_matches(const struct recent *r, const struct family *f,
    const char *const *values)
{
	const char	*v;
	size_t		 i, off = 0, len;

	for (i = 0; i < f->n_labels; i++) {
		v = label_value(values, i);
		len = strnlen(v, r->len - off);
		if (len == r->len - off ||
		    memcmp(r->values + off, v, len + 1) != 0)
			return 0;
		off += len + 1;
	}
	return off == r->len;
}

static void
recent_keep(struct recent *r, const struct metrics *m,
    const struct family *f, const char *const *values, struct slot *s)
{
	const char	*v;
	size_t		 i, off = 0, len;

	r->in = 0;
	for (i = 0; i < f->n_labels; i++) {
		v = label_value(values, i);
		len = strnlen(v, RECENT_VALUES_MAX - off);
		if (len == RECENT_VALUES_MAX - off)
			return;		/* too long to keep */
		memcpy(r->values + off, v, len + 1);
		off += len + 1;
	}
	r->len = off;
	r->slot = s;
	r->in = m->generation;
}

static struct slot *
series(struct metrics *m, enum metric id, const char *const *values,
    int create)
{
	const struct family	*f = &families[id];
	struct recent		*r = &recent[id];
	struct slot		*s;
	struct key		 k;
	char			 value[METRICS_VALUE_MAX];
	size_t			 i, len;
	int			 all_shown = 1;

	if (r->in == m->generation && recent_matches(r, f, values))
		return r->slot;
	k.len = 0;
	k.too_long = 0;
	for (i = 0; i < f->n_labels; i++) {
		len = escape_value(value, values != NULL ? values[i] : NULL);
		if ((strcmp(f->labels[i], "model") == 0 &&
		    !value_known(m, CAPPED_MODEL, value, len)) ||
		    (strcmp(f->labels[i], "key") == 0 &&
		    !value_known(m, CAPPED_KEY, value, len))) {
			memcpy(value, "other", 5);
			len = 5;
			all_shown = 0;
		}
		if (i > 0)
			key_append(&k, ",", 1);
		key_append(&k, f->labels[i], strlen(f->labels[i]));
		key_append(&k, "=\"", 2);
		key_append(&k, value, len);
		key_append(&k, "\"", 1);
	}
	if (k.too_long)
		return NULL;
	if ((s = find_slot(m, id, k.text, k.len, create)) != NULL && all_shown)
		recent_keep(r, m, f, values, s);
	return s;
}

void
metrics_add(struct metrics *m, enum metric id, const char *const *values,
    uint64_t n)
{
	struct slot	*s;

	if (m == NULL || (unsigned)id >= METRIC__MAX ||
	    families[id].type != TYPE_COUNTER)
		return;
	if ((s = series(m, id, values, 1)) != NULL)
		__atomic_add_fetch(&s->v[0], n, __ATOMIC_RELAXED);
}

void
metrics_observe(struct metrics *m, enum metric id, const char *const *values,
    uint64_t usec)
{
	struct slot	*s;
	size_t		 b;

	if (m == NULL || (unsigned)id >= METRIC__MAX ||
	    families[id].type != TYPE_HISTOGRAM)
		return;
	if ((s = series(m, id, values, 1)) == NULL)
		return;
	for (b = 0; b < N_BUCKETS && usec > bucket_usec[b]; b++)
		continue;
	/* b == N_BUCKETS is V_OVERFLOW; the count is the sum of all. */
	__atomic_add_fetch(&s->v[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->v[V_SUM], usec, __ATOMIC_RELAXED);
}

uint64_t
metrics_get(struct metrics *m, enum metric id, const char *const *values)
{
	struct slot	*s;
	uint64_t	 total = 0;
	size_t		 b;

	if (m == NULL || (unsigned)id >= METRIC__MAX ||
	    (s = series(m, id, values, 0)) == NULL)
		return 0;
	if (families[id].type == TYPE_COUNTER)
		return __atomic_load_n(&s->v[0], __ATOMIC_RELAXED);
	for (b = 0; b <= V_OVERFLOW; b++)
		total += __atomic_load_n(&s->v[b], __ATOMIC_RELAXED);
	return total;
}

uint64_t
metrics_dropped(struct metrics *m)
{
	return m == NULL ? 0 :
	    __atomic_load_n(&m->hdr->dropped, __ATOMIC_RELAXED);
}

/* --- exposition --------------------------------------------------------- */

void
metrics_render_head(struct buf *out, const char *name, const char *type,
    const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Sorts a family's series by key, so a scrape reads the same each time. */
static int
slot_cmp(const void *a, const void *b)
{
	const struct slot	*x = *(const struct slot *const *)a;
	const struct slot	*y = *(const struct slot *const *)b;
	size_t			 n;
	int			 c;

	n = x->key_len < y->key_len ? x->key_len : y->key_len;
	if ((c = memcmp(x->key, y->key, n)) != 0)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* A key written by this build: printable, within bounds. */
static int
key_sane(const struct slot *s)
{
	size_t	i;

	if (s->key_len > SLOT_KEY_MAX)
		return 0;
	for (i = 0; i < s->key_len; i++)
		if ((unsigned char)s->key[i] < 0x20 ||
		    (unsigned char)s->key[i] >= 0x7f)
			return 0;
	return 1;
}

static void
render_histogram(struct buf *out, const struct family *f,
    const struct slot *s)
{
	uint64_t	cumulative = 0;
	size_t		b;
	const char	*sep = s->key_len > 0 ? "," : "";
	int		len = (int)s->key_len;

	for (b = 0; b <= V_OVERFLOW; b++) {
		cumulative += __atomic_load_n(&s->v[b], __ATOMIC_RELAXED);
		buf_printf(out, "%s_bucket{%.*s%sle=\"%s\"} %llu\n", f->name,
		    len, s->key, sep, b < N_BUCKETS ? bucket_text[b] : "+Inf",
		    (unsigned long long)cumulative);
	}
	buf_printf(out, "%s_sum%s%.*s%s %.6f\n", f->name, len > 0 ? "{" : "",
	    len, s->key, len > 0 ? "}" : "",
	    (double)__atomic_load_n(&s->v[V_SUM], __ATOMIC_RELAXED) / 1e6);
	buf_printf(out, "%s_count%s%.*s%s %llu\n", f->name, len > 0 ? "{" : "",
	    len, s->key, len > 0 ? "}" : "", (unsigned long long)cumulative);
}

void
metrics_render(struct metrics *m, struct buf *out)
{
	const struct family	 *f;
	struct slot		**list, *s;
	size_t			  n, i;
	unsigned		  id;

	list = xreallocarray(NULL, METRICS_SLOTS, sizeof(*list));
	for (id = 0; id < METRIC__MAX; id++) {
		f = &families[id];
		metrics_render_head(out, f->name, f->type == TYPE_COUNTER ?
		    "counter" : "histogram", f->help);
		n = 0;
		for (i = 0; m != NULL && i < METRICS_SLOTS; i++) {
			s = &m->slots[i];
			if (__atomic_load_n(&s->hash, __ATOMIC_ACQUIRE) != 0 &&
			    __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) &&
			    s->family == id && key_sane(s))
				list[n++] = s;
		}
		qsort(list, n, sizeof(*list), slot_cmp);
		if (n == 0 && f->n_labels == 0 && f->type == TYPE_COUNTER)
			buf_printf(out, "%s 0\n", f->name);
		for (i = 0; i < n; i++) {
			s = list[i];
			if (f->type == TYPE_HISTOGRAM)
				render_histogram(out, f, s);
			else if (s->key_len == 0)
				buf_printf(out, "%s %llu\n", f->name,
				    (unsigned long long)__atomic_load_n(
				    &s->v[0], __ATOMIC_RELAXED));
			else
				buf_printf(out, "%s{%.*s} %llu\n", f->name,
				    (int)s->key_len, s->key,
				    (unsigned long long)__atomic_load_n(
				    &s->v[0], __ATOMIC_RELAXED));
		}
	}
	free(list);
	metrics_render_head(out, "kiro_fcgi_metrics_series_dropped_total",
	    "counter", "Updates of new series dropped because the metrics "
	    "table was full.");
	buf_printf(out, "kiro_fcgi_metrics_series_dropped_total %llu\n",
	    (unsigned long long)metrics_dropped(m));
}
