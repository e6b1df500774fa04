/* fuzz-catalogue.c: libFuzzer target: the ListAvailableModels page parser. */
/*
 * Input: the body of a ListAvailableModels answer (doc/protocol.md §3.2),
 * as the upstream (or something pretending to be it) sends it.  It goes
 * through catalogue_parse_page twice into one catalogue, as two pages
 * would.
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - at most CATALOGUE_MAX_MODELS models, each id 1..CATALOGUE_ID_MAX bytes
 *    of [A-Za-z0-9._:-], each once (case-insensitively), each name
 *    1..CATALOGUE_NAME_MAX bytes, limits 0 or positive;
 *  - the second page adds nothing new (the same ids are skipped);
 *  - a parse error leaves no next token.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalogue.h"
#include "err.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct catalogue *c)
{
	size_t	i, k, len;

	if (c->n > CATALOGUE_MAX_MODELS)
		abort();
	for (i = 0; i < c->n; i++) {
		len = strlen(c->m[i].id);
		if (len == 0 || len > CATALOGUE_ID_MAX)
			abort();
		for (k = 0; k < len; k++)
			if (!isalnum((unsigned char)c->m[i].id[k]) &&
			    strchr("._:-", c->m[i].id[k]) == NULL)
				abort();
		len = strlen(c->m[i].name);
		if (len == 0 || len > CATALOGUE_NAME_MAX)
			abort();
		if (c->m[i].max_input < 0 || c->m[i].max_output < 0)
			abort();
		for (k = 0; k < i; k++)
			if (strcasecmp(c->m[k].id, c->m[i].id) == 0)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalogue	 c;
	char			*next = NULL, *why = NULL;
	size_t			 n_first;
	enum kf_err		 er;

	memset(&c, 0, sizeof(c));
	er = catalogue_parse_page((const char *)data, size, &c, &next, &why);
	if (er != KF_OK && (next != NULL || why == NULL))
		abort();
	check(&c);
	n_first = c.n;
	free(next);
	free(why);
	next = why = NULL;
	if (er == KF_OK) {
		if (catalogue_parse_page((const char *)data, size, &c, &next,
		    &why) != KF_OK)
			abort();
		if (c.n != n_first)
			abort();
		check(&c);
	}
	free(next);
	free(why);
	catalogue_free(&c);
	return 0;
}
