/* rand.c: random identifiers from the kernel's CSPRNG, and UUID syntax. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rand.h"

/*
 * A request takes a few small draws (request id, UUIDs, message ids):
 * one getrandom per draw was four system calls per request.  Each thread
 * keeps a buffer filled by one getrandom and hands it out front to back,
 * wiping what it hands out, so a later look at the memory shows nothing
 * already used.  A forked child forgets its copy (pthread_atfork): parent
 * and child must never hand out the same bytes.  Large draws go straight
 * to the kernel.
 */
#define POOL_SIZE	512

struct rand_pool {
	unsigned char	bytes[POOL_SIZE];
	size_t		left;		/* unused bytes at the end */
};

static __thread struct rand_pool	pool;
static pthread_once_t			pool_once = PTHREAD_ONCE_INIT;

static void
pool_forget_in_child(void)
{
	/* Only the forking thread lives on in the child. */
	explicit_bzero(pool.bytes, sizeof(pool.bytes));
	pool.left = 0;
}

static void
pool_register(void)
{
	(void)pthread_atfork(NULL, NULL, pool_forget_in_child);
}

static void
kernel_bytes(void *out, size_t n)
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
rand_bytes(void *out, size_t n)
{
	unsigned char	*p = out;
	unsigned char	*from;
	size_t		 take;

	if (n > POOL_SIZE / 4) {
		kernel_bytes(out, n);
		return;
	}
	while (n > 0) {
		if (pool.left == 0) {
			pthread_once(&pool_once, pool_register);
			kernel_bytes(pool.bytes, sizeof(pool.bytes));
			pool.left = sizeof(pool.bytes);
		}
		take = n < pool.left ? n : pool.left;
		from = pool.bytes + sizeof(pool.bytes) - pool.left;
		memcpy(p, from, take);
		explicit_bzero(from, take);
		pool.left -= take;
		p += take;
		n -= take;
	}
}

static const char	hex_digits[] = "0123456789abcdef";

void
rand_uuid(char out[UUID_LEN + 1])
{
	unsigned char	b[16];
	size_t		i, o = 0;

	rand_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex_digits[b[i] >> 4];
		out[o++] = hex_digits[b[i] & 0x0f];
	}
	out[o] = '\0';
	explicit_bzero(b, sizeof(b));
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
	explicit_bzero(b, sizeof(b));
}

void
rand_hex(char *out, size_t n)
{
	unsigned char	b[32];
	size_t		i = 0, j, chunk;

	/* Two digits per byte: every digit is equally likely. */
	while (i < n) {
		chunk = (n - i + 1) / 2;
		if (chunk > sizeof(b))
			chunk = sizeof(b);
		rand_bytes(b, chunk);
		for (j = 0; j < chunk && i < n; j++) {
			out[i++] = hex_digits[b[j] >> 4];
			if (i < n)
				out[i++] = hex_digits[b[j] & 0x0f];
		}
	}
	out[n] = '\0';
	explicit_bzero(b, sizeof(b));
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
