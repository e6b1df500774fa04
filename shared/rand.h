/* rand.h: random identifiers from the kernel's CSPRNG, and UUID syntax. */
#ifndef RAND_H
#define RAND_H

#include <stddef.h>

#define UUID_LEN	36

/* Fills out with n random bytes; aborts if the kernel cannot supply them. */
void	rand_bytes(void *out, size_t n);
/* A version 4 UUID, lowercase with dashes, NUL-terminated. */
void	rand_uuid(char out[UUID_LEN + 1]);
/* 1 when the first 36 characters of s are a UUID (any case, dashes). */
int	rand_is_uuid(const char *s);
/* n random lowercase hex digits and a NUL (out has n + 1 bytes). */
void	rand_hex(char *out, size_t n);
/* n random characters from [A-Za-z0-9] and a NUL (out has n + 1 bytes). */
void	rand_alnum(char *out, size_t n);

#endif
