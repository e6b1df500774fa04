/* log.h: one line per event on stderr, escaped, with levels and request ids. */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL__MAX
};

/* Sets the program name shown in each line and makes stderr line-buffered. */
void	log_init(const char *progname, enum log_level);
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
/* Parses "debug" | "info" | "warn" | "error": 0, or -1 if unknown. */
int	log_level_parse(const char *, enum log_level *);
/* Tags this thread's lines with "req=<id>"; NULL clears.  Copied. */
void	log_set_request(const char *id);

/*
 * The message is formatted, then every control character and backslash is
 * escaped, so text that came from a client or upstream cannot forge lines.
 * log_warn and log_error append strerror(errno); the x forms do not.
 */
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Masks a secret for display: its first 4 characters and "...", or "(none)".
 * Writes into out (at least LOG_MASK_LEN bytes) and returns it.
 */
#define LOG_MASK_LEN 16
const char *log_mask(const char *secret, char out[LOG_MASK_LEN]);

#endif
