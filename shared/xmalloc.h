/* xmalloc.h: allocation wrappers that log and abort on failure. */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

/*
 * Small allocations only: running out of memory for a few hundred bytes is
 * not something a request can recover from, and the web server respawns the
 * responder.  Never call these between a GDBM write and its commit.
 */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
/* xstrdup(NULL) returns NULL. */
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Returns a heap string the caller frees. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Replaces *ret (freeing the old value) with a new formatted string. */
void	 xsetprintf(char **ret, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
