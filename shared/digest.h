/* digest.h: SHA-256, CRC-32, base64 and constant-time comparison. */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SHA256_HEX_LEN	64
#define SHA256_LEN	32

/* The 32-byte digest of data (PKCE challenges). */
void	 sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);
/* Writes 64 lowercase hex digits and a NUL into out. */
void	 sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);
/* FNV-1a of a string: hash tables and cache keys, never secrets. */
uint32_t fnv1a32(const char *);
uint64_t fnv1a64(const char *);
/* CRC-32 (ISO-HDLC, as zlib): crc32_update(0, "123456789", 9) = 0xCBF43926. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);
/*
 * Compares two secrets in time that depends on neither their contents nor
 * where they differ (both are hashed first): 1 when equal, else 0.  a is
 * the one a client sent, b ours (the configured key): each thread
 * remembers the digest of the last b, so a check against the same key
 * hashes only a.
 */
int	 secret_equal(const char *a, const char *b);
/* Base64 (standard alphabet, padded) of len bytes, appended to out. */
void	 base64_encode(struct buf *out, const void *data, size_t len);
/* Base64url without padding, appended to out (PKCE, state values). */
void	 base64url_encode(struct buf *out, const void *data, size_t len);
/*
 * Checks base64 text (standard or url alphabet, padding optional, no white
 * space) and returns the decoded length, or -1 when it is not base64.
 */
long long base64_decoded_len(const char *text, size_t len);
/*
 * Text base64_decoded_len accepts as standard, padded base64 (heap): Kiro
 * refuses the url alphabet and missing padding, which decoders accept.
 */
char	*base64_standard(const char *text, size_t len);

#endif
