/* fuzz-usage.c: libFuzzer target: the getUsageLimits answer parser. */
/*
 * Input: the body of a getUsageLimits answer (doc/protocol.md §9.1), as
 * the upstream (or something pretending to be it) sends it.  It goes
 * through usage_parse, then, when it parsed, through the cache record:
 * usage_to_json and usage_from_json.
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - a parse error is KF_EUPSTREAM with a cause and leaves no fields set;
 *  - success gives finite numbers with 0 <= remaining, 0 <= percentage <=
 *    100, remaining = max(0, limit - used), and fetched_at as given;
 *  - the cache record reads back to the same values.
 */
#include "autoconfig.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "err.h"
#include "usage.h"

#define NOW	1700000000

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usage	 u, back;
	json_object	*o;
	char		*why = NULL;
	double		 want;

	if (usage_parse((const char *)data, size, NOW, &u, &why) != KF_OK) {
		if (why == NULL || u.subscription != NULL || u.email != NULL)
			abort();
		free(why);
		return 0;
	}
	if (!isfinite(u.used) || !isfinite(u.limit) ||
	    !isfinite(u.remaining) || !isfinite(u.percentage) ||
	    u.remaining < 0 || u.percentage < 0 || u.percentage > 100 ||
	    u.fetched_at != NOW)
		abort();
	want = u.limit > u.used ? u.limit - u.used : 0;
	if (u.remaining != want)
		abort();
	o = usage_to_json(&u);
	if (usage_from_json(o, &back, NULL) != KF_OK)
		abort();
	if (back.used != u.used || back.limit != u.limit ||
	    back.remaining != u.remaining || back.next_reset != u.next_reset ||
	    back.fetched_at != u.fetched_at ||
	    !same(back.subscription, u.subscription) ||
	    !same(back.email, u.email))
		abort();
	json_object_put(o);
	usage_free(&back);
	usage_free(&u);
	return 0;
}
