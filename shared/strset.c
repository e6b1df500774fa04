/* strset.c: a small set of strings (tool names, tool ids) kept as copies. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strset.h"
#include "xmalloc.h"

int
strset_has(const struct strset *set, const char *s)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		if ((set->nocase ? strcasecmp(set->items[i], s) :
		    strcmp(set->items[i], s)) == 0)
			return 1;
	return 0;
}

void
strset_add(struct strset *set, const char *s)
{
	if (set->n == set->cap) {
		set->cap = set->cap == 0 ? 16 : set->cap * 2;
		set->items = xreallocarray(set->items, set->cap,
		    sizeof(*set->items));
	}
	set->items[set->n++] = xstrdup(s);
}

void
strset_free(struct strset *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		free(set->items[i]);
	free(set->items);
	set->items = NULL;
	set->n = set->cap = 0;
}
