/* flowlog.c: the request log: O_APPEND JSON lines, rotated segments, reads. */
#include "autoconfig.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "digest.h"
#include "flowlog.h"
#include "json.h"
#include "xmalloc.h"

/* A quiet gateway's active segment is rotated after an hour all the same. */
#define SEGMENT_AGE_MS		(3600LL * 1000)
#define AGE_CHECK_EVERY_MS	(60LL * 1000)
/* A segment is read whole; past this only its tail is (a failed rotation). */
#define READ_MAX		(64L * 1024 * 1024)
#define SEG_PREFIX		"seg-"
#define REC_DEPTH		8

static _Atomic int64_t	last_age_check_ms;

/*
 * The active segment stays open between appends, one descriptor per
 * process for the directory last written, so that an append costs an
 * fstat and a write instead of open, write, fstat and close.  A writer
 * that rotates the segment makes it read-only (0400) once renamed: other
 * processes that hold it open see that on their next fstat and open the
 * path again, as they do when it was removed (no links left).  A record
 * that races a rotation lands at the end of the renamed segment, as it
 * did when each append opened the file.
 */
static struct {
	pthread_mutex_t	 lock;
	int		 fd;
	char		 dir[PATH_MAX];
} appender = { PTHREAD_MUTEX_INITIALIZER, -1, "" };

int64_t
flowlog_now_ms(void)
{
	return clock_now_ms();
}

/* Made for every request: without printf (and so in join below). */
char *
flowlog_dir(const char *state_dir)
{
	size_t	 len = strlen(state_dir);
	char	*dir;

	dir = xmalloc(len + sizeof("/" FLOWLOG_DIR));
	memcpy(dir, state_dir, len);
	memcpy(dir + len, "/" FLOWLOG_DIR, sizeof("/" FLOWLOG_DIR));
	return dir;
}

/* --- writing -------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t left)
{
	size_t		n, i;
	uint32_t	c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/*
 * Appends s as a JSON string.  Text from clients and Kiro may not be
 * UTF-8, and a reader refuses a line that is not: each bad byte becomes
 * U+FFFD, so the record is kept.
 */
/*
 * The bytes that are their own JSON string: printable ASCII but the quote
 * and the backslash.  A table: one load per byte instead of four tests.
 */
static const unsigned char json_plain[256] = {
	[0x20 ... 0x21] = 1,	/* 0x22 is the quote */
	[0x23 ... 0x5b] = 1,	/* 0x5c is the backslash */
	[0x5d ... 0x7e] = 1,
};

static void
put_text(struct buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	struct buf		 clean = BUF_INIT;
	size_t			 i, n;

	/*
	 * Most text (ids, routes, models) is printable ASCII with nothing to
	 * escape: it is its own JSON string, copied once between quotes.
	 */
	for (i = 0; i < len; i++)
		if (!json_plain[p[i]])
			break;
	if (i == len) {
		buf_add(b, "\"", 1);
		buf_add(b, s, len);
		buf_add(b, "\"", 1);
		return;
	}
	for (i = 0; i < len; i += n)
		if ((n = utf8_seq(p + i, len - i)) == 0)
			break;
	if (i >= len) {
		buf_json_str(b, s, len);
		return;
	}
	buf_append(&clean, s, i);
	while (i < len) {
		if ((n = utf8_seq(p + i, len - i)) == 0) {
			buf_puts(&clean, "\xef\xbf\xbd");
			n = 1;
		} else
			buf_append(&clean, s + i, n);
		i += n;
	}
	buf_json_str(b, clean.ptr, clean.len);
	buf_free(&clean);
}

/*
 * A record is a fixed sequence of ,"name": and a value, written without
 * printf (a dozen vsnprintf calls were most of its cost).  KEY gives the
 * whole ,"name": and its length, counted by the compiler.  The pieces go
 * in with buf_add: the record's room is reserved at once (flowlog_format),
 * so each is a copy rather than two calls.
 */
#define KEY(name)	",\"" name "\":", sizeof(",\"" name "\":") - 1

static void
put_num(struct buf *b, const char *key, size_t key_len, long long v)
{
	char		 digits[BUF_DECIMAL_LEN];
	const char	*p;
	size_t		 len;

	buf_add(b, key, key_len);
	p = buf_decimal(v, digits, &len);
	buf_add(b, p, len);
}

static void
put_str(struct buf *b, const char *key, size_t key_len, const char *s)
{
	size_t	len;

	if (s == NULL)
		return;
	len = strnlen(s, FLOWLOG_TEXT_MAX);
	/* Do not cut a UTF-8 sequence in two. */
	while (len > 0 && len == FLOWLOG_TEXT_MAX &&
	    ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	buf_add(b, key, key_len);
	put_text(b, s, len);
}

static int
secret_name(const char *k)
{
	static const char *const names[] = { "x-api-key", "authorization",
	    "key", "api_key", "apikey", "x-goog-api-key", "access_token",
	    "refresh_token", "client_secret", NULL };
	size_t	i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(k, names[i]) == 0)
			return 1;
	return 0;
}

/* Replaces the values of secret-named fields, at any depth. */
static void
redact(json_object *v, int depth)
{
	size_t	i, n;

	if (depth > JSON_MAX_DEPTH)
		return;
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			redact(json_object_array_get_idx(v, i), depth + 1);
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
	json_object_object_foreach(v, k, child) {
		if (secret_name(k))
			json_object_object_add(v, k, json_str("[redacted]"));
		else
			redact(child, depth + 1);
	}
}

/* A body as stored: secrets out when it is JSON, cut to max bytes. */
static void
put_body(struct buf *b, const char *name, const char *body, size_t len,
    long max)
{
	json_object	*jo = NULL;
	struct buf	 clean = BUF_INIT;
	char		*why = NULL;
	size_t		 n;

	if (body == NULL)
		return;
	if (json_parse(body, len, JSON_MAX_DEPTH, &jo, &why) == KF_OK) {
		redact(jo, 0);
		json_to_buf(jo, &clean);
		json_object_put(jo);
		body = clean.ptr;
		len = clean.len;
	}
	free(why);
	if (max > FLOWLOG_BODY_MAX)
		max = FLOWLOG_BODY_MAX;
	n = len > (size_t)max ? (size_t)max : len;
	while (n > 0 && n < len && ((unsigned char)body[n] & 0xc0) == 0x80)
		n--;
	buf_printf(b, ",\"%s\":", name);
	put_text(b, body, n);
	if (n < len)
		buf_printf(b, ",\"%sCut\":%zu", name, len);
	buf_free(&clean);
}

void
flowlog_format(const struct flowlog_opts *o, const struct flowrec *r,
    struct buf *b)
{
	/* Room for a small record at once, not four reallocations. */
	buf_reserve(b, 512);
	buf_add(b, "{\"t\":", 5);
	buf_put_int(b, r->t_ms);
	put_str(b, KEY("id"), r->id);
	put_str(b, KEY("key"), r->key);
	put_str(b, KEY("api"), r->api);
	put_str(b, KEY("method"), r->method);
	put_str(b, KEY("route"), r->route);
	put_str(b, KEY("model"), r->model);
	put_str(b, KEY("kiroModel"), r->kiro_model);
	if (r->stream)
		buf_add(b, ",\"stream\":true", sizeof(",\"stream\":true") - 1);
	else
		buf_add(b, ",\"stream\":false", sizeof(",\"stream\":false") - 1);
	if (r->account_id > 0)
		put_num(b, KEY("account"), r->account_id);
	put_num(b, KEY("status"), r->status);
	put_str(b, KEY("errorType"), r->error_type);
	put_str(b, KEY("error"), r->error);
	put_num(b, KEY("attempts"), r->attempts);
	put_num(b, KEY("latencyMs"), r->latency_ms);
	if (r->ttfb_ms >= 0)
		put_num(b, KEY("ttfbMs"), r->ttfb_ms);
	put_num(b, KEY("inputTokens"), r->input_tokens);
	put_num(b, KEY("outputTokens"), r->output_tokens);
	put_num(b, KEY("requestBytes"), (long long)r->request_bytes);
	put_num(b, KEY("answerBytes"), (long long)r->answer_bytes);
	if (o->bodies) {
		put_body(b, "requestBody", r->request_body,
		    r->request_body_len, o->body_max_bytes);
		put_body(b, "answerBody", r->answer_body, r->answer_body_len,
		    o->body_max_bytes);
	}
	buf_add(b, "}\n", 2);
}

/* dir/name into out (size bytes): 0, or -1 when it does not fit. */
static int
join(char *out, size_t size, const char *dir, const char *name)
{
	size_t	dir_len = strlen(dir), name_len = strlen(name);

	if (dir_len + 1 + name_len >= size)
		return -1;
	memcpy(out, dir, dir_len);
	out[dir_len] = '/';
	memcpy(out + dir_len + 1, name, name_len + 1);
	return 0;
}

/* seg-<ms>-<records>.jsonl: when it was closed, and how many it holds. */
static int
segment_parse(const char *name, long long *ms, long *records)
{
	char	*end;

	if (strncmp(name, SEG_PREFIX, strlen(SEG_PREFIX)) != 0)
		return -1;
	name += strlen(SEG_PREFIX);
	errno = 0;
	*ms = strtoll(name, &end, 10);
	if (errno != 0 || end == name || *end != '-')
		return -1;
	name = end + 1;
	*records = strtol(name, &end, 10);
	if (errno != 0 || end == name || strcmp(end, ".jsonl") != 0)
		return -1;
	return 0;
}

static int
name_cmp_desc(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The segment names, newest first (the fixed-width time sorts them).
 * Caller frees each and the array.
 */
static enum kf_err
segments_list(const char *dir, char ***out, size_t *n_out, char **cause)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL;
	size_t		 n = 0, cap = 0;
	long long	 ms;
	long		 records;

	*out = NULL;
	*n_out = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return KF_OK;
		xsetprintf(cause, "%s: %s", dir, strerror(errno));
		return KF_ESTORE;
	}
	while ((de = readdir(d)) != NULL) {
		if (segment_parse(de->d_name, &ms, &records) == -1)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp_desc);
	*out = names;
	*n_out = n;
	return KF_OK;
}

static void
names_free(char **names, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Deletes the segments past max_records (newest kept) or max_age_days. */
static void
prune(const char *dir, const struct flowlog_opts *o, int64_t now_ms)
{
	char		**names;
	char		  path[PATH_MAX];
	size_t		  n, i;
	long long	  ms, cutoff;
	long		  records, kept = 0;
	char		 *why = NULL;
	int		  dropping = 0;

	if (segments_list(dir, &names, &n, &why) != KF_OK) {
		free(why);
		return;
	}
	/* A century is forever, and keeps the product in range. */
	cutoff = now_ms - (long long)(o->max_age_days > 36500 ? 36500 :
	    o->max_age_days) * 86400 * 1000;
	for (i = 0; i < n; i++) {
		(void)segment_parse(names[i], &ms, &records);
		/* The segment that crosses max_records is kept whole. */
		if (dropping || ms < cutoff || i >= FLOWLOG_MAX_SEGMENTS) {
			if (join(path, sizeof(path), dir, names[i]) == 0)
				(void)unlink(path);
			continue;
		}
		kept += records;
		if (kept >= o->max_records)
			dropping = 1;
	}
	names_free(names, n);
}

static long
count_lines(int fd)
{
	char	chunk[16384];
	ssize_t	n, i;
	long	lines = 0;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n; i++)
			lines += chunk[i] == '\n';
	}
	return lines;
}

/*
 * Renames the active segment that a writer saw (ino) to seg-<ms>-<n>,
 * under the directory's lock: when two writers cross the size together,
 * the second finds a new active file and leaves it.
 */
static enum kf_err
rotate(const char *dir, const struct flowlog_opts *o, ino_t ino,
    char **cause)
{
	char		 lock[PATH_MAX], active[PATH_MAX], seg[PATH_MAX];
	char		 name[64];
	struct stat	 st;
	int64_t		 now = flowlog_now_ms();
	long		 records;
	int		 lockfd, fd;
	enum kf_err	 er = KF_OK;

	if (join(lock, sizeof(lock), dir, ".lock") == -1 ||
	    join(active, sizeof(active), dir, FLOWLOG_ACTIVE) == -1) {
		xsetprintf(cause, "%s: path too long", dir);
		return KF_ESTORE;
	}
	if ((lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		xsetprintf(cause, "%s: %s", lock, strerror(errno));
		return KF_ESTORE;
	}
	if (flock(lockfd, LOCK_EX) == -1) {
		xsetprintf(cause, "%s: flock: %s", lock, strerror(errno));
		close(lockfd);
		return KF_ESTORE;
	}
	if (lstat(active, &st) == -1 || st.st_ino != ino)
		goto out;	/* another writer rotated it */
	if ((fd = open(active, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto out;
	records = count_lines(fd);
	/* One rotation per millisecond at most keeps the names unique. */
	for (;;) {
		(void)snprintf(name, sizeof(name), SEG_PREFIX
		    "%013lld-%ld.jsonl", (long long)now, records);
		if (join(seg, sizeof(seg), dir, name) == -1 ||
		    access(seg, F_OK) == -1)
			break;
		now++;
	}
	if (rename(active, seg) == -1) {
		xsetprintf(cause, "rename %s: %s", active, strerror(errno));
		er = KF_ESTORE;
		close(fd);
		goto out;
	}
	/* Tells the processes that keep it open to reopen the path. */
	(void)fchmod(fd, 0400);
	close(fd);
	prune(dir, o, now);
out:
	if (flock(lockfd, LOCK_UN) == -1 && er == KF_OK) {
		xsetprintf(cause, "%s: unlock: %s", lock, strerror(errno));
		er = KF_ESTORE;
	}
	close(lockfd);
	return er;
}

/* The time of the active segment's first record, or -1. */
static long long
first_record_ms(int fd)
{
	char	head[32];
	ssize_t	n;

	if ((n = pread(fd, head, sizeof(head) - 1, 0)) < 6)
		return -1;
	head[n] = '\0';
	if (strncmp(head, "{\"t\":", 5) != 0)
		return -1;
	return strtoll(head + 5, NULL, 10);
}

/* Once a minute per process: is the active segment over an hour old? */
static int
age_due(int fd, int64_t now)
{
	int64_t		 last = atomic_load(&last_age_check_ms);
	long long	 first;

	if (now - last < AGE_CHECK_EVERY_MS ||
	    !atomic_compare_exchange_strong(&last_age_check_ms, &last, now))
		return 0;
	first = first_record_ms(fd);
	return first > 0 && now - first > SEGMENT_AGE_MS;
}

/* Opens dir's active segment, creating the directory if need be. */
static int
active_open(const char *dir, const char *path)
{
	int	fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	/* Another process may be creating the directory too. */
	if (fd == -1 && errno == ENOENT && (mkdir(dir, 0700) == 0 ||
	    errno == EEXIST))
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	return fd;
}

/*
 * The descriptor of dir's active segment and its state before the append,
 * with appender.lock held: the cached one while it is still the active file,
 * else a new one.  -1 with errno set when the file cannot be opened.
 */
static int
active_get(const char *dir, const char *path, struct stat *st)
{
	int	tries;

	if (appender.fd != -1 && strcmp(appender.dir, dir) != 0) {
		close(appender.fd);
		appender.fd = -1;
	}
	for (tries = 0; tries < 2; tries++) {
		if (appender.fd == -1) {
			if ((appender.fd = active_open(dir, path)) == -1)
				return -1;
			(void)snprintf(appender.dir, sizeof(appender.dir), "%s",
			    dir);
		}
		if (fstat(appender.fd, st) == -1)
			return -1;
		/* Renamed by a rotation (0400) or removed: not active. */
		if (st->st_nlink > 0 && (st->st_mode & S_IWUSR) != 0)
			return appender.fd;
		close(appender.fd);
		appender.fd = -1;
	}
	/* A umask that took the owner's write bit: write, keep nothing. */
	if ((appender.fd = active_open(dir, path)) == -1 ||
	    fstat(appender.fd, st) == -1)
		return -1;
	return appender.fd;
}

enum kf_err
flowlog_append(const char *dir, const struct flowlog_opts *o,
    const struct flowrec *r, char **cause)
{
	struct buf	 line = BUF_INIT;
	char		 path[PATH_MAX];
	struct stat	 st;
	ssize_t		 n;
	int		 fd, rotate_now = 0;
	enum kf_err	 er = KF_OK;

	if (!o->enabled)
		return KF_OK;
	if (join(path, sizeof(path), dir, FLOWLOG_ACTIVE) == -1) {
		xsetprintf(cause, "%s: path too long", dir);
		return KF_ESTORE;
	}
	flowlog_format(o, r, &line);
	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&appender.lock);
	if ((fd = active_get(dir, path, &st)) == -1) {
		xsetprintf(cause, "%s: %s", path, strerror(errno));
		er = KF_ESTORE;
		goto out;
	}
	/*
	 * One write(2) of the whole line: appends to a regular file are
	 * atomic against each other, so lines from several processes never
	 * interleave.  A short write (disk full) leaves a torn line, which
	 * readers skip.
	 */
	do
		n = write(fd, line.ptr, line.len);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)line.len) {
		xsetprintf(cause, "%s: %s", path, n == -1 ? strerror(errno) :
		    "short write");
		er = KF_ESTORE;
		goto out;
	}
	/* Other processes' appends since the fstat count at the next one. */
	rotate_now = st.st_size + (off_t)line.len >= o->segment_bytes ||
	    age_due(fd, r->t_ms);
out:
	/*
	 * Rotation is rare: reopen the path afterwards whoever renamed it,
	 * and after a failure.
	 */
	if (appender.fd != -1 && (rotate_now || er != KF_OK ||
	    (st.st_mode & S_IWUSR) == 0)) {
		close(appender.fd);
		appender.fd = -1;
	}
	pthread_mutex_unlock(&appender.lock);
	if (rotate_now)
		er = rotate(dir, o, st.st_ino, cause);
	buf_free(&line);
	return er;
}

/* --- reading -------------------------------------------------------------- */

static int
parse_time(const char *s, int64_t *out)
{
	char		*end;
	long long	 v;
	time_t		 t;

	if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0)
			return -1;
		*out = v;
		return 0;
	}
	if (clock_parse_rfc3339(s, &t) == -1)
		return -1;
	*out = (int64_t)t * 1000;
	return 0;
}

enum kf_err
flowlog_filter_parse(struct flow_filter *f, flow_param_fn get, void *arg,
    char **cause)
{
	const char	*v;
	char		*end;
	long		 n;

	memset(f, 0, sizeof(*f));
	if ((v = get(arg, "from")) != NULL && parse_time(v, &f->from_ms) ==
	    -1) {
		xsetprintf(cause, "from: not a time (RFC 3339 or ms since the "
		    "epoch)");
		return KF_EINVAL;
	}
	if ((v = get(arg, "to")) != NULL && parse_time(v, &f->to_ms) == -1) {
		xsetprintf(cause, "to: not a time (RFC 3339 or ms since the "
		    "epoch)");
		return KF_EINVAL;
	}
	if ((v = get(arg, "status")) != NULL) {
		if (strcasecmp(v, "error") == 0)
			f->errors_only = 1;
		else if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' &&
		    strcasecmp(v + 1, "xx") == 0)
			f->status_class = v[0] - '0';
		else {
			errno = 0;
			n = strtol(v, &end, 10);
			if (errno != 0 || *end != '\0' || n < 100 || n > 599) {
				xsetprintf(cause, "status: a status (200), a "
				    "class (2xx, 4xx, 5xx) or \"error\"");
				return KF_EINVAL;
			}
			f->status = (int)n;
		}
	}
	if ((v = get(arg, "account")) != NULL) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || *end != '\0' || end == v || n < 1) {
			xsetprintf(cause, "account: an account id (a whole "
			    "number from 1)");
			return KF_EINVAL;
		}
		f->account_id = n;
	}
	f->api = get(arg, "api");
	f->model = get(arg, "model");
	f->key = get(arg, "key");
	f->q = get(arg, "q");
	f->id = get(arg, "id");
	if (f->q != NULL && strlen(f->q) > FLOWLOG_TEXT_MAX) {
		xsetprintf(cause, "q: at most %d bytes", FLOWLOG_TEXT_MAX);
		return KF_EINVAL;
	}
	return KF_OK;
}

static const char *
rec_str(json_object *rec, const char *name)
{
	const char	*s;

	return json_get_str(rec, name, &s) == 1 ? s : NULL;
}

static int64_t
rec_int(json_object *rec, const char *name)
{
	int64_t	v;

	return json_get_int(rec, name, &v) == 1 ? v : 0;
}

static int
str_is(const char *have, const char *want)
{
	return have != NULL && strcmp(have, want) == 0;
}

static int
rec_is_error(json_object *rec)
{
	return rec_int(rec, "status") >= 400 ||
	    rec_str(rec, "errorType") != NULL;
}

static int
matches(const struct flow_filter *f, json_object *rec)
{
	int64_t		 t = rec_int(rec, "t"), status = rec_int(rec, "status");
	const char	*err;

	if (t < f->from_ms || (f->to_ms > 0 && t >= f->to_ms))
		return 0;
	if (f->status != 0 && status != f->status)
		return 0;
	if (f->status_class != 0 && status / 100 != f->status_class)
		return 0;
	if (f->errors_only && !rec_is_error(rec))
		return 0;
	if (f->api != NULL && !str_is(rec_str(rec, "api"), f->api))
		return 0;
	if (f->key != NULL && !str_is(rec_str(rec, "key"), f->key))
		return 0;
	if (f->model != NULL && !str_is(rec_str(rec, "model"), f->model) &&
	    !str_is(rec_str(rec, "kiroModel"), f->model))
		return 0;
	if (f->account_id != 0 && rec_int(rec, "account") != f->account_id)
		return 0;
	if (f->id != NULL && !str_is(rec_str(rec, "id"), f->id))
		return 0;
	if (f->q != NULL && *f->q != '\0' && ((err = rec_str(rec, "error")) ==
	    NULL || strcasestr(err, f->q) == NULL))
		return 0;
	return 1;
}

/* Reads a segment, or its last READ_MAX bytes from a line start. */
static enum kf_err
read_segment(const char *path, struct buf *out, char **cause)
{
	struct stat	 st;
	char		 chunk[65536];
	char		*nl;
	ssize_t		 n;
	int		 fd;
	off_t		 skip = 0;

	buf_reset(out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return KF_OK;	/* rotated or pruned meanwhile */
		xsetprintf(cause, "%s: %s", path, strerror(errno));
		return KF_ESTORE;
	}
	if (fstat(fd, &st) == 0 && st.st_size > READ_MAX) {
		skip = st.st_size - READ_MAX;
		(void)lseek(fd, skip, SEEK_SET);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			xsetprintf(cause, "%s: %s", path, strerror(errno));
			close(fd);
			return KF_ESTORE;
		}
		if ((size_t)n > READ_MAX - out->len)
			n = (ssize_t)(READ_MAX - out->len);
		buf_append(out, chunk, (size_t)n);
		if (out->len >= READ_MAX)
			break;
	}
	close(fd);
	if (skip > 0 && out->len > 0 && (nl = memchr(out->ptr, '\n',
	    out->len)) != NULL)
		buf_consume(out, (size_t)(nl - out->ptr) + 1);
	return KF_OK;
}

/*
 * Calls each(arg, rec) for the records of dir that are at or after
 * from_ms, newest first, until it returns -1.  Segments whose close time
 * is before from_ms are not read.
 */
typedef int (*rec_fn)(void *arg, json_object *rec);

static enum kf_err
each_record(const char *dir, int64_t from_ms, rec_fn each, void *arg,
    char **cause)
{
	struct json_parser	*parser = NULL;
	struct buf		 seg = BUF_INIT;
	json_object		*rec;
	char			**names = NULL, path[PATH_MAX], *why = NULL;
	size_t			 n_names = 0, i, end, start;
	long long		 ms;
	long			 records;
	int			 stop = 0;
	enum kf_err		 er;

	if ((er = segments_list(dir, &names, &n_names, cause)) != KF_OK)
		return er;
	parser = json_parser_new(REC_DEPTH);
	/* i == 0 is the active segment; then the closed ones, newest first. */
	for (i = 0; i <= n_names && !stop; i++) {
		if (i > 0) {
			(void)segment_parse(names[i - 1], &ms, &records);
			if (ms < from_ms)
				break;
		}
		if (join(path, sizeof(path), dir, i == 0 ? FLOWLOG_ACTIVE :
		    names[i - 1]) == -1)
			continue;
		if ((er = read_segment(path, &seg, cause)) != KF_OK)
			break;
		end = seg.len;
		while (end > 0 && !stop) {
			/* The line ending at end - 1 ('\n'), or a torn tail. */
			start = end - 1;
			while (start > 0 && seg.ptr[start - 1] != '\n')
				start--;
			if (end - start > 1 && json_parser_parse(parser,
			    seg.ptr + start, end - start, &rec, &why) ==
			    KF_OK) {
				if (json_object_is_type(rec, json_type_object))
					stop = each(arg, rec) == -1;
				json_object_put(rec);
			}
			free(why);
			why = NULL;
			end = start;
		}
	}
	json_parser_free(parser);
	buf_free(&seg);
	names_free(names, n_names);
	return er;
}

struct scan_state {
	const struct flow_filter	*filter;
	size_t				 offset, limit, seen;
	flowlog_fn			 fn;
	void				*arg;
	int				 more, gone;
};

static int
scan_one(void *arg, json_object *rec)
{
	struct scan_state	*s = arg;
	size_t			 at;

	if (!matches(s->filter, rec))
		return 0;
	at = s->seen++;
	if (at < s->offset)
		return 0;
	if (at >= s->offset + s->limit) {
		s->more = 1;
		return -1;
	}
	if (s->fn(s->arg, rec) == -1) {
		s->gone = 1;
		return -1;
	}
	return 0;
}

enum kf_err
flowlog_scan(const char *dir, const struct flow_filter *f, size_t offset,
    size_t limit, flowlog_fn fn, void *arg, int *more, char **cause)
{
	struct scan_state	s;
	enum kf_err		er;

	memset(&s, 0, sizeof(s));
	s.filter = f;
	s.offset = offset;
	s.limit = limit;
	s.fn = fn;
	s.arg = arg;
	er = each_record(dir, f->from_ms, scan_one, &s, cause);
	if (more != NULL)
		*more = s.more;
	return er;
}

/* --- CSV ------------------------------------------------------------------ */

static const char *const csv_cols[] = { "t", "id", "key", "api", "method",
    "route", "model", "kiroModel", "stream", "account", "status",
    "errorType", "error", "attempts", "latencyMs", "ttfbMs", "inputTokens",
    "outputTokens", "requestBytes", "answerBytes", NULL };

void
flowlog_csv_header(struct buf *b)
{
	size_t	i;

	buf_puts(b, "time");
	for (i = 1; csv_cols[i] != NULL; i++)
		buf_printf(b, ",%s", csv_cols[i]);
	buf_puts(b, "\r\n");
}

static void
csv_field(struct buf *b, const char *s)
{
	const char	*p;

	/* A spreadsheet runs a cell that starts with =, +, - or @. */
	if (strchr("=+-@\t\r", *s) != NULL && *s != '\0') {
		buf_putc(b, '"');
		buf_putc(b, '\'');
	} else if (strpbrk(s, ",\"\r\n") != NULL)
		buf_putc(b, '"');
	else {
		buf_puts(b, s);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

void
flowlog_csv_row(json_object *rec, struct buf *b)
{
	json_object	*v;
	char		 when[CLOCK_RFC3339_LEN];
	int64_t		 t = rec_int(rec, "t");
	size_t		 i;

	(void)clock_rfc3339((time_t)(t / 1000), when);
	/* "2026-01-01T00:00:00Z" with the milliseconds before the Z. */
	if (strlen(when) == 20)
		buf_printf(b, "%.19s.%03lldZ", when, (long long)(t % 1000));
	else
		buf_puts(b, when);
	for (i = 1; csv_cols[i] != NULL; i++) {
		buf_putc(b, ',');
		if (!json_object_object_get_ex(rec, csv_cols[i], &v) ||
		    v == NULL)
			continue;
		if (json_object_is_type(v, json_type_string))
			csv_field(b, json_object_get_string(v));
		else
			buf_puts(b, json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN));
	}
	buf_puts(b, "\r\n");
}

/* --- statistics ----------------------------------------------------------- */

#define LAT_BUCKETS	100
/* Bucket bounds grow by 20%: p50/p95 within 10%. */
#define LAT_RATIO	1.2
#define TYPES_MAX	32	/* error types in one group */
#define TABLE_SLOTS	(FLOWSTATS_GROUPS_MAX * 2)

struct group {
	char		*name;
	long		 requests, errors, input_tokens, output_tokens;
	json_object	*error_types;	/* type -> count */
	uint32_t	 lat[LAT_BUCKETS];
};

/* One dimension (account, model, ...): a small open-addressing table. */
struct dim {
	struct group	*slots[TABLE_SLOTS];
	struct group	*order[FLOWSTATS_GROUPS_MAX + 1];	/* by arrival */
	size_t		 n;
	struct group	*other;
};

struct hour {
	long	requests, errors, input_tokens, output_tokens;
};

struct stats {
	int64_t		 from_ms, now_ms;
	int		 hours;
	double		 bounds[LAT_BUCKETS];
	struct group	 total;
	struct dim	 dims[4];
	struct hour	*hourly;
};

static const char *const dim_names[4] = { "byAccount", "byModel", "byApi",
    "byKey" };

static struct group *
group_new(const char *name)
{
	struct group	*g = xcalloc(1, sizeof(*g));

	g->name = xstrdup(name);
	return g;
}

static struct group *
dim_find(struct dim *d, const char *name)
{
	size_t	i;

	i = fnv1a32(name) % TABLE_SLOTS;
	while (d->slots[i] != NULL) {
		if (strcmp(d->slots[i]->name, name) == 0)
			return d->slots[i];
		i = (i + 1) % TABLE_SLOTS;
	}
	if (d->n == FLOWSTATS_GROUPS_MAX) {
		if (d->other == NULL)
			d->other = group_new("(other)");
		return d->other;
	}
	d->slots[i] = group_new(name);
	d->order[d->n++] = d->slots[i];
	return d->slots[i];
}

static int
lat_bucket(const struct stats *s, int64_t ms)
{
	int	lo = 0, hi = LAT_BUCKETS - 1, mid;

	/* The first bound at or above ms. */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (s->bounds[mid] >= (double)ms)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void
group_add(const struct stats *s, struct group *g, json_object *rec,
    const char *error_type, int bucket)
{
	json_object	*n;

	g->requests++;
	g->input_tokens += (long)rec_int(rec, "inputTokens");
	g->output_tokens += (long)rec_int(rec, "outputTokens");
	g->lat[bucket]++;
	if (error_type == NULL)
		return;
	g->errors++;
	if (g->error_types == NULL)
		g->error_types = json_object_new_object();
	if (!json_object_object_get_ex(g->error_types, error_type, &n) &&
	    json_object_object_length(g->error_types) >= TYPES_MAX)
		error_type = "(other)";
	if (json_object_object_get_ex(g->error_types, error_type, &n))
		json_object_set_int64(n, json_object_get_int64(n) + 1);
	else
		json_object_object_add(g->error_types, error_type,
		    json_object_new_int64(1));
	(void)s;
}

static int
stats_one(void *arg, json_object *rec)
{
	struct stats	*s = arg;
	const char	*etype, *model;
	char		 type_buf[32], acct[24];
	int64_t		 t = rec_int(rec, "t");
	int		 bucket, i;
	const char	*names[4];
	struct hour	*h;

	if (t < s->from_ms || t >= s->now_ms)
		return 0;
	etype = rec_str(rec, "errorType");
	if (etype == NULL && rec_int(rec, "status") >= 400) {
		(void)snprintf(type_buf, sizeof(type_buf), "http_%lld",
		    (long long)rec_int(rec, "status"));
		etype = type_buf;
	}
	bucket = lat_bucket(s, rec_int(rec, "latencyMs"));
	if (rec_int(rec, "account") > 0)
		(void)snprintf(acct, sizeof(acct), "%lld",
		    (long long)rec_int(rec, "account"));
	else
		(void)snprintf(acct, sizeof(acct), "(none)");
	if ((model = rec_str(rec, "model")) == NULL &&
	    (model = rec_str(rec, "kiroModel")) == NULL)
		model = "(none)";
	names[0] = acct;
	names[1] = model;
	names[2] = (names[2] = rec_str(rec, "api")) != NULL ? names[2] :
	    "(none)";
	names[3] = (names[3] = rec_str(rec, "key")) != NULL ? names[3] :
	    "(none)";
	group_add(s, &s->total, rec, etype, bucket);
	for (i = 0; i < 4; i++)
		group_add(s, dim_find(&s->dims[i], names[i]), rec, etype,
		    bucket);
	h = &s->hourly[(t - s->from_ms) / (3600 * 1000)];
	h->requests++;
	h->errors += etype != NULL;
	h->input_tokens += (long)rec_int(rec, "inputTokens");
	h->output_tokens += (long)rec_int(rec, "outputTokens");
	return 0;
}

/* The p-th percentile (0..1) of a group's latencies, or -1 with none. */
static long
percentile(const struct stats *s, const struct group *g, double p)
{
	long	need, seen = 0;
	int	i;

	if (g->requests == 0)
		return -1;
	need = (long)(p * (double)g->requests + 0.999999);
	if (need < 1)
		need = 1;
	for (i = 0; i < LAT_BUCKETS; i++) {
		seen += g->lat[i];
		if (seen >= need)
			break;
	}
	if (i >= LAT_BUCKETS)
		i = LAT_BUCKETS - 1;
	/* The middle of the bucket (lower bound, upper bound]. */
	return i == 0 ? (long)s->bounds[0] :
	    (long)((s->bounds[i - 1] + s->bounds[i]) / 2 + 0.5);
}

static json_object *
group_json(const struct stats *s, struct group *g)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "name", json_str(g->name != NULL ?
	    g->name : "total"));
	json_object_object_add(o, "requests",
	    json_object_new_int64(g->requests));
	json_object_object_add(o, "errors", json_object_new_int64(g->errors));
	json_object_object_add(o, "errorTypes", g->error_types != NULL ?
	    json_object_get(g->error_types) : json_object_new_object());
	json_object_object_add(o, "inputTokens",
	    json_object_new_int64(g->input_tokens));
	json_object_object_add(o, "outputTokens",
	    json_object_new_int64(g->output_tokens));
	json_object_object_add(o, "latencyP50Ms", g->requests > 0 ?
	    json_object_new_int64(percentile(s, g, 0.5)) : NULL);
	json_object_object_add(o, "latencyP95Ms", g->requests > 0 ?
	    json_object_new_int64(percentile(s, g, 0.95)) : NULL);
	return o;
}

static void
group_free(struct group *g, int self)
{
	if (g == NULL)
		return;
	json_object_put(g->error_types);
	free(g->name);
	if (self)
		free(g);
}

static int
group_cmp(const void *a, const void *b)
{
	const struct group	*ga = *(struct group *const *)a;
	const struct group	*gb = *(struct group *const *)b;

	if (ga->requests != gb->requests)
		return ga->requests > gb->requests ? -1 : 1;
	return strcmp(ga->name, gb->name);
}

enum kf_err
flowlog_stats(const char *dir, int hours, int64_t now_ms, json_object **out,
    char **cause)
{
	struct stats	*s;
	json_object	*o, *arr, *h;
	char		 when[CLOCK_RFC3339_LEN];
	size_t		 i, j, n;
	int		 k;
	enum kf_err	 er;

	*out = NULL;
	if (hours < 1 || hours > FLOWLOG_HOURS_MAX) {
		xsetprintf(cause, "hours: 1 to %d", FLOWLOG_HOURS_MAX);
		return KF_EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->hours = hours;
	s->now_ms = now_ms;
	s->from_ms = now_ms - (int64_t)hours * 3600 * 1000;
	s->hourly = xcalloc((size_t)hours, sizeof(*s->hourly));
	s->bounds[0] = 1;
	for (k = 1; k < LAT_BUCKETS; k++)
		s->bounds[k] = s->bounds[k - 1] * LAT_RATIO + 1;
	if ((er = each_record(dir, s->from_ms, stats_one, s, cause)) != KF_OK)
		goto out;
	o = json_object_new_object();
	json_object_object_add(o, "hours", json_object_new_int(hours));
	json_object_object_add(o, "from", json_object_new_int64(s->from_ms));
	json_object_object_add(o, "to", json_object_new_int64(now_ms));
	json_object_object_add(o, "total", group_json(s, &s->total));
	for (k = 0; k < 4; k++) {
		struct dim	*d = &s->dims[k];

		n = d->n;
		if (d->other != NULL)
			d->order[n++] = d->other;
		qsort(d->order, n, sizeof(d->order[0]), group_cmp);
		arr = json_object_new_array();
		for (j = 0; j < n; j++)
			json_object_array_add(arr, group_json(s, d->order[j]));
		json_object_object_add(o, dim_names[k], arr);
	}
	arr = json_object_new_array();
	for (i = 0; i < (size_t)hours; i++) {
		h = json_object_new_object();
		(void)clock_rfc3339((time_t)((s->from_ms + (int64_t)i * 3600 *
		    1000) / 1000), when);
		json_object_object_add(h, "start", json_str(when));
		json_object_object_add(h, "requests",
		    json_object_new_int64(s->hourly[i].requests));
		json_object_object_add(h, "errors",
		    json_object_new_int64(s->hourly[i].errors));
		json_object_object_add(h, "inputTokens",
		    json_object_new_int64(s->hourly[i].input_tokens));
		json_object_object_add(h, "outputTokens",
		    json_object_new_int64(s->hourly[i].output_tokens));
		json_object_array_add(arr, h);
	}
	json_object_object_add(o, "hourly", arr);
	*out = o;
out:
	group_free(&s->total, 0);
	for (k = 0; k < 4; k++) {
		/* order[] was sorted with "(other)" in it: free by slot. */
		for (j = 0; j < TABLE_SLOTS; j++)
			group_free(s->dims[k].slots[j], 1);
		group_free(s->dims[k].other, 1);
	}
	free(s->hourly);
	free(s);
	return er;
}
