/* clock.c: the current time, injectable for tests, and RFC 3339 text. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static pthread_once_t	 clock_once = PTHREAD_ONCE_INIT;
static time_t		 clock_offset;

static void
clock_init(void)
{
	const char	*fake;
	char		*end;
	long long	 v;

	if ((fake = getenv("KIRO_FCGI_FAKE_NOW")) == NULL || *fake == '\0')
		return;
	errno = 0;
	v = strtoll(fake, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return;
	clock_offset = (time_t)v - time(NULL);
}

time_t
clock_now(void)
{
	pthread_once(&clock_once, clock_init);
	return time(NULL) + clock_offset;
}

void
clock_set_offset(time_t offset)
{
	pthread_once(&clock_once, clock_init);
	clock_offset = offset;
}

int64_t
clock_now_ms(void)
{
	struct timespec	ts;

	pthread_once(&clock_once, clock_init);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + (int64_t)clock_offset) * 1000 +
	    ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
clock_rfc3339(time_t t, char out[CLOCK_RFC3339_LEN])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CLOCK_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, CLOCK_RFC3339_LEN, "1970-01-01T00:00:00Z");
	return out;
}

static int
digits(const char **p, int n, int *out)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
days_in_month(int year, int mon)
{
	static const int	days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (mon == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return days[mon - 1];
}

int
clock_parse_rfc3339(const char *s, time_t *out)
{
	struct tm	 tm;
	const char	*p = s;
	int		 year, mon, day, hour, min, sec, oh, om, sign;
	time_t		 t;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) ||
	    *p++ != '-' || digits(&p, 2, &day) ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	oh = om = 0;
	sign = 1;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
			return -1;
	} else
		return -1;
	/* timegm would turn 30 February into March without a word. */
	if (*p != '\0' || mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = t - sign * (oh * 3600 + om * 60);
	return 0;
}
