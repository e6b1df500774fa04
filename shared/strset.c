/* strset.c: a set of strings (tool names, tool ids) kept as copies. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rand.h"
#include "strset.h"
#include "xmalloc.h"

/*
 * The ids come from the client: with a fixed hash, a body full of colliding
 * ids would make every lookup walk them all.  A random key per process
 * makes collisions unguessable (SipHash, Aumasson and Bernstein).
 */
static uint64_t		sip_key[2];
static pthread_once_t	sip_once = PTHREAD_ONCE_INIT;

static void
sip_init(void)
{
	rand_bytes(sip_key, sizeof(sip_key));
}

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static unsigned char
fold(unsigned char c, int nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* SipHash-1-3 of s, with ASCII letters lowered when nocase. */
static uint64_t
hash(const char *s, int nocase)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint64_t		 v0, v1, v2, v3, m;
	size_t			 len = strlen(s), i, j;

	(void)pthread_once(&sip_once, sip_init);
	v0 = sip_key[0] ^ 0x736f6d6570736575ULL;
	v1 = sip_key[1] ^ 0x646f72616e646f6dULL;
	v2 = sip_key[0] ^ 0x6c7967656e657261ULL;
	v3 = sip_key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)fold(p[i + j], nocase) << (8 * j);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (m = (uint64_t)len << 56, j = 0; i + j < len; j++)
		m |= (uint64_t)fold(p[i + j], nocase) << (8 * j);
	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static int
same(const struct strset *set, const char *a, const char *b)
{
	return (set->nocase ? strcasecmp(a, b) : strcmp(a, b)) == 0;
}

/* Puts item i into the table (there is room: n_slots > 2 * n). */
static void
slot_put(struct strset *set, size_t i)
{
	size_t	mask = set->n_slots - 1, at;

	at = (size_t)hash(set->items[i], set->nocase) & mask;
	while (set->slots[at] != 0)
		at = (at + 1) & mask;
	set->slots[at] = i + 1;
}

/* Doubles the table and puts every item back. */
static void
grow(struct strset *set)
{
	size_t	i;

	free(set->slots);
	set->n_slots = set->n_slots == 0 ? 32 : set->n_slots * 2;
	set->slots = xcalloc(set->n_slots, sizeof(*set->slots));
	for (i = 0; i < set->n; i++)
		slot_put(set, i);
}

size_t
strset_find(const struct strset *set, const char *s)
{
	size_t	mask, at;

	if (set->n == 0)
		return STRSET_NONE;
	mask = set->n_slots - 1;
	at = (size_t)hash(s, set->nocase) & mask;
	for (; set->slots[at] != 0; at = (at + 1) & mask)
		if (same(set, set->items[set->slots[at] - 1], s))
			return set->slots[at] - 1;
	return STRSET_NONE;
}

int
strset_has(const struct strset *set, const char *s)
{
	return strset_find(set, s) != STRSET_NONE;
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
	/* At most half full keeps linear probing short. */
	if (set->n * 2 >= set->n_slots)
		grow(set);
	else
		slot_put(set, set->n - 1);
}

void
strset_free(struct strset *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		free(set->items[i]);
	free(set->items);
	free(set->slots);
	set->items = NULL;
	set->slots = NULL;
	set->n = set->cap = set->n_slots = 0;
}
