/* rand.c: random identifiers from the kernel's CSPRNG, and UUID syntax. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "rand.h"

void
rand_bytes(void *out, size_t n)
{
	unsigned char	*p = out;
	ssize_t		 got;

	while (n > 0) {
		got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kiro-fcgi: getrandom failed\n");
			abort();
		}
		p += got;
		n -= (size_t)got;
	}
}

void
rand_uuid(char out[UUID_LEN + 1])
{
	unsigned char	b[16];

	rand_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void
rand_from(char *out, size_t n, const char *alphabet, unsigned size)
{
	unsigned char	b[64];
	size_t		i = 0, j;

	/* Rejection sampling keeps every character equally likely. */
	while (i < n) {
		rand_bytes(b, sizeof(b));
		for (j = 0; j < sizeof(b) && i < n; j++)
			if (b[j] < 256 - 256 % size)
				out[i++] = alphabet[b[j] % size];
	}
	out[n] = '\0';
}

void
rand_hex(char *out, size_t n)
{
	rand_from(out, n, "0123456789abcdef", 16);
}

void
rand_alnum(char *out, size_t n)
{
	rand_from(out, n,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	    62);
}

int
rand_is_uuid(const char *s)
{
	size_t	i;

	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;	/* also stops at the terminator */
	}
	return 1;
}
