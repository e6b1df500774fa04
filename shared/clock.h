/* clock.h: the current time, injectable for tests, and RFC 3339 text. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Wall-clock seconds.  When the environment variable KIRO_FCGI_FAKE_NOW is
 * a number at the first call, that many seconds since the epoch is "now"
 * plus the real time elapsed since, so tests can move the clock to a quota
 * reset date or past a token's expiry without waiting.
 */
time_t	 clock_now(void);
/*
 * Wall-clock milliseconds since the epoch (with the same offset as
 * clock_now).  One clock_gettime: not time(NULL)'s seconds with another
 * clock's milliseconds, for time(2) reads a coarser clock that lags a
 * few ms behind at each second, which made such a sum jump back by
 * almost a second there.
 */
int64_t	 clock_now_ms(void);
/* Monotonic milliseconds, for durations and timeouts. */
int64_t	 clock_mono_ms(void);
/* Sets an offset in seconds added to clock_now (tests). */
void	 clock_set_offset(time_t offset);

#define CLOCK_RFC3339_LEN	32
/* Formats t as "2026-01-01T00:00:00Z" into out. */
const char *clock_rfc3339(time_t t, char out[CLOCK_RFC3339_LEN]);
/*
 * Parses RFC 3339 / ISO 8601 with optional fractional seconds (any number
 * of digits) and a "Z" or +hh:mm offset: 0, or -1 when it is not a date.
 */
int	 clock_parse_rfc3339(const char *, time_t *out);

#endif
