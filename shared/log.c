/* log.c: one line per event on stderr, escaped, with levels and request ids. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const char *const level_names[LOG_LEVEL__MAX] = {
	"DEBUG", "INFO", "WARN", "ERROR"
};

static char		 log_prog[32] = "kiro-fcgi";
static enum log_level	 log_min = LOG_LEVEL_INFO;
static __thread char	 log_req[40];
/* "[pid] ", made once per process (and again in a forked child). */
static char		 log_pid[24];
static pthread_once_t	 log_pid_once = PTHREAD_ONCE_INIT;
/* Each thread formats the time stamp once per second it logs in. */
static __thread time_t	 stamp_at = -1;
static __thread char	 stamp_text[24];

static void
log_pid_reset(void)
{
	(void)snprintf(log_pid, sizeof(log_pid), "[%ld] ", (long)getpid());
}

static void
log_pid_init(void)
{
	log_pid_reset();
	(void)pthread_atfork(NULL, NULL, log_pid_reset);
}

void
log_init(const char *progname, enum log_level level)
{
	if (progname != NULL)
		snprintf(log_prog, sizeof(log_prog), "%s", progname);
	log_min = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

enum log_level
log_get_level(void)
{
	return log_min;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < LOG_LEVEL__MAX; i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

/* Twice a request: a bounded copy, cut as snprintf would, not printf. */
void
log_set_request(const char *id)
{
	size_t	len;

	len = id != NULL ? strnlen(id, sizeof(log_req) - 1) : 0;
	if (len > 0)
		memcpy(log_req, id, len);
	log_req[len] = '\0';
}

/*
 * The bytes a line keeps as they are: printable ASCII but the backslash,
 * and every byte from 0x80 (UTF-8 stays whole).  A table, as every byte
 * of every line is looked at: one load per byte instead of three tests.
 */
static const unsigned char log_plain[256] = {
	[0x20 ... 0x5b] = 1,	/* 0x5c is the backslash */
	[0x5d ... 0x7e] = 1,	/* 0x7f is DEL */
	[0x80 ... 0xff] = 1,
};

/* Escape so that one event is always one line (kcgi logmsg). */
static void
log_escape(struct buf *out, const char *s)
{
	const unsigned char	*p, *run;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		/* Most of a line needs no escape: copy it in runs. */
		for (run = p; log_plain[*p]; p++)
			;
		if (p > run)
			buf_add(out, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (*p == '\r')
			buf_puts(out, "\\r");
		else if (*p == '\t')
			buf_puts(out, "\\t");
		else
			buf_printf(out, "\\x%02x", *p);
	}
}

static inline void
put(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* The most a line's head can take: time, program, pid, level, request. */
#define LOG_HEAD_MAX	(sizeof(stamp_text) + sizeof(log_prog) + \
			    sizeof(log_pid) + 8 + 6 + sizeof(log_req))

static void
log_emit(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	struct buf	 msg = BUF_INIT, line = BUF_INIT;
	struct tm	 tm;
	const char	*text;
	time_t		 now;
	int		 saved_errno = errno;

	if (level < log_min)
		return;
	/* A line made by the caller (the access log's) needs no printf. */
	if (strcmp(fmt, "%s") == 0) {
		if ((text = va_arg(ap, const char *)) == NULL)
			text = "(null)";
	} else {
		buf_vprintf(&msg, fmt, ap);
		text = buf_cstr(&msg);
	}

	now = time(NULL);
	if (now != stamp_at) {
		gmtime_r(&now, &tm);
		if (strftime(stamp_text, sizeof(stamp_text),
		    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			stamp_text[0] = '\0';
		stamp_at = now;
	}
	(void)pthread_once(&log_pid_once, log_pid_init);
	/*
	 * One allocation for a line with nothing to escape; the pieces go
	 * in with buf_add, a copy each into the room made here.
	 */
	buf_reserve(&line, LOG_HEAD_MAX + strlen(text) + 1);
	put(&line, stamp_text);
	buf_add(&line, " ", 1);
	put(&line, log_prog);
	put(&line, log_pid);
	put(&line, level_names[level]);
	buf_add(&line, " ", 1);
	if (log_req[0] != '\0') {
		buf_add(&line, "req=", 4);
		put(&line, log_req);
		buf_add(&line, " ", 1);
	}
	/* Escaping works byte by byte: the parts one by one are the whole. */
	log_escape(&line, text);
	if (with_errno) {
		buf_puts(&line, ": ");
		log_escape(&line, strerror(saved_errno));
	}
	buf_putc(&line, '\n');
	/* One write per line keeps lines whole between threads and processes. */
	if (write(STDERR_FILENO, line.ptr, line.len) < 0) {
		/* Nowhere left to report it. */
	}
	buf_free(&msg);
	buf_free(&line);
	errno = saved_errno;
}

#define LOG_FN(name, level, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	va_start(ap, fmt);					\
	log_emit(level, with_errno, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)

const char *
log_mask(const char *secret, char out[LOG_MASK_LEN])
{
	size_t	n;

	if (secret == NULL || *secret == '\0') {
		snprintf(out, LOG_MASK_LEN, "(none)");
		return out;
	}
	n = strlen(secret);
	/* Short secrets show nothing: four characters would be most of them. */
	if (n < 12)
		snprintf(out, LOG_MASK_LEN, "...");
	else
		snprintf(out, LOG_MASK_LEN, "%.4s...", secret);
	return out;
}
