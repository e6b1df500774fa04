/* kiroctl.h: what kiroctl's verb modules share: the context and the error exit. */
#ifndef KIROCTL_H
#define KIROCTL_H

#include <time.h>

#include "clock.h"

struct config;
struct store;

struct ctl {
	struct config	*cfg;
	struct store	*store;		/* open unless the verb opens it */
};

/* A verb gets argv from its own name on; returns the exit status. */
typedef int (*verb_fn)(struct ctl *, int, char **);

/*
 * Prints "kiroctl: <reason>" on stderr and exits 1.  Control characters
 * in the reason are dropped (it may quote a URL or a service's answer).
 */
void	die(const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
/*
 * s without control characters (C0, DEL and C1), for the terminal: text
 * from a network peer must not move the cursor or forge lines.  Caller
 * frees.
 */
char	*term_clean(const char *s);
/* Opens the state store (as the state directory's owner when root). */
void	open_store(struct ctl *);
/*
 * A new social account without a profileArn gets one from
 * ListAvailableProfiles while its access token is valid (doc/protocol.md
 * §12); else, or when that fails, the next refresh finds it.  Prints what
 * happened; never fails the verb.
 */
void	ctl_resolve_profile(struct ctl *, long id);
/* An expiry time for people: RFC 3339, or "unknown" for 0. */
const char	*expiry_text(time_t, char out[CLOCK_RFC3339_LEN]);
/*
 * "--name value" or "--name=value" at argv[*i]: the value (advancing *i
 * past a separate one), or NULL when argv[*i] is another flag; dies when
 * the value is missing.
 */
const char	*ctl_flag_value(int argc, char **argv, int *i,
		    const char *name);

#endif
