/* strset.h: a set of strings (tool names, tool ids) kept as copies. */
#ifndef STRSET_H
#define STRSET_H

#include <stddef.h>

/*
 * A hash set: every lookup and add is O(1) on average, so a request's
 * thousands of tool ids cost linear time.  The hash is SipHash-1-3 with a
 * key drawn once per process, so a client cannot choose ids that collide.
 * items keeps the strings in the order they were added, for callers that
 * walk the set (items[0 .. n)); the table is private to strset.c.
 */
struct strset {
	char	**items;	/* copies, in insertion order */
	size_t	  n;
	size_t	  cap;
	size_t	 *slots;	/* open addressing: index + 1, 0 = empty */
	size_t	  n_slots;	/* 0 or a power of two, over 2 * n */
	int	  nocase;	/* ASCII case folded (tool names, §3.3.8) */
};
#define STRSET_INIT(nocase)	{ NULL, 0, 0, NULL, 0, (nocase) }

/* 1 when s is in the set. */
int	strset_has(const struct strset *, const char *s);
/* Where s is in items, or STRSET_NONE. */
size_t	strset_find(const struct strset *, const char *s);
#define STRSET_NONE	((size_t)-1)
/* Adds a copy of s (duplicates are kept; check strset_has first). */
void	strset_add(struct strset *, const char *s);
/* Empties the set (it stays usable, with its case rule). */
void	strset_free(struct strset *);

#endif
