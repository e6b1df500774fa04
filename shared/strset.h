/* strset.h: a small set of strings (tool names, tool ids) kept as copies. */
#ifndef STRSET_H
#define STRSET_H

#include <stddef.h>

/*
 * Linear search: the sets hold the tools or tool ids of one conversation,
 * dozens to hundreds, and are built once per request.
 */
struct strset {
	char	**items;
	size_t	  n;
	size_t	  cap;
	int	  nocase;	/* compare without case (tool names, §3.3.8) */
};
#define STRSET_INIT(nocase)	{ NULL, 0, 0, (nocase) }

/* 1 when s is in the set. */
int	strset_has(const struct strset *, const char *s);
/* Adds a copy of s (duplicates are kept; check strset_has first). */
void	strset_add(struct strset *, const char *s);
/* Empties the set (it stays usable, with its case rule). */
void	strset_free(struct strset *);

#endif
