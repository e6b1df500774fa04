/* digest.c: SHA-256, CRC-32, base64 and constant-time comparison. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>

#include "digest.h"
#include "xmalloc.h"

/*
 * OpenSSL 3 looks the algorithm up by name on every one-shot SHA256()
 * call; fetching it once saves that on every request (client key check).
 * Each thread also keeps its digest context (EVP_Digest makes and frees
 * one per call) and the digest of the last secret secret_equal compared
 * against (the configured key, the same on every request).
 */
#define SECRET_MEMO_MAX	256	/* longer secrets are hashed each time */

struct sha_thread {
	EVP_MD_CTX	*ctx;
	size_t		 secret_len;	/* 0: nothing remembered */
	char		 secret[SECRET_MEMO_MAX];
	unsigned char	 secret_md[SHA256_DIGEST_LENGTH];
};

static pthread_once_t	 sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD		*sha256_md;
static pthread_key_t	 sha_key;

static void
sha_thread_free(void *arg)
{
	struct sha_thread	*t = arg;

	EVP_MD_CTX_free(t->ctx);
	explicit_bzero(t, sizeof(*t));
	free(t);
}

static void
sha256_fetch(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    pthread_key_create(&sha_key, sha_thread_free) != 0)
		abort();
}

static struct sha_thread *
sha_thread(void)
{
	struct sha_thread	*t;

	pthread_once(&sha256_once, sha256_fetch);
	if ((t = pthread_getspecific(sha_key)) == NULL) {
		t = xcalloc(1, sizeof(*t));
		if ((t->ctx = EVP_MD_CTX_new()) == NULL ||
		    pthread_setspecific(sha_key, t) != 0)
			abort();
	}
	return t;
}

static void
sha256_raw(const void *data, size_t len,
    unsigned char md[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX	*ctx = sha_thread()->ctx;

	if (EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, data, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, NULL) != 1)
		abort();
}

void
sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	sha256_raw(data, len, out);
}

void
sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		md[SHA256_DIGEST_LENGTH];
	size_t			i;

	sha256_raw(data, len, md);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[SHA256_HEX_LEN] = '\0';
}

uint32_t
fnv1a32(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

uint64_t
fnv1a64(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

uint32_t
crc32_update(uint32_t crc, const void *data, size_t len)
{
	const unsigned char	*p = data;
	uLong			 c = crc;

	/* zlib takes uInt lengths: feed huge buffers in slices. */
	while (len > 0) {
		uInt	n = len > 0x40000000u ? 0x40000000u : (uInt)len;

		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

int
secret_equal(const char *a, const char *b)
{
	struct sha_thread	*t;
	unsigned char		 ha[SHA256_DIGEST_LENGTH];
	unsigned char		 hb[SHA256_DIGEST_LENGTH];
	size_t			 len;

	if (a == NULL || b == NULL)
		return 0;
	sha256_raw(a, strlen(a), ha);
	/*
	 * b is the configured secret: comparing it with the remembered
	 * one takes time that says nothing about a, the client's.
	 */
	t = sha_thread();
	len = strlen(b);
	if (len == 0 || len != t->secret_len ||
	    memcmp(t->secret, b, len) != 0) {
		sha256_raw(b, len, hb);
		if (len <= SECRET_MEMO_MAX) {
			memcpy(t->secret, b, len);
			memcpy(t->secret_md, hb, sizeof(hb));
			t->secret_len = len;
		}
	} else
		memcpy(hb, t->secret_md, sizeof(hb));
	return CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0;
}

static void
b64(struct buf *out, const void *data, size_t len, const char *alphabet,
    int pad)
{
	const unsigned char	*p = data;
	size_t			 i;
	unsigned		 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		buf_putc(out, alphabet[v >> 18 & 63]);
		buf_putc(out, alphabet[v >> 12 & 63]);
		buf_putc(out, alphabet[v >> 6 & 63]);
		buf_putc(out, alphabet[v & 63]);
	}
	if (len - i == 1) {
		v = (unsigned)p[i] << 16;
		buf_putc(out, alphabet[v >> 18 & 63]);
		buf_putc(out, alphabet[v >> 12 & 63]);
		if (pad)
			buf_puts(out, "==");
	} else if (len - i == 2) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		buf_putc(out, alphabet[v >> 18 & 63]);
		buf_putc(out, alphabet[v >> 12 & 63]);
		buf_putc(out, alphabet[v >> 6 & 63]);
		if (pad)
			buf_putc(out, '=');
	}
}

void
base64_encode(struct buf *out, const void *data, size_t len)
{
	b64(out, data, len,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
	    1);
}

void
base64url_encode(struct buf *out, const void *data, size_t len)
{
	b64(out, data, len,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	    0);
}

long long
base64_decoded_len(const char *text, size_t len)
{
	size_t	i, pad = 0, chars;

	while (pad < 2 && len > pad && text[len - 1 - pad] == '=')
		pad++;
	chars = len - pad;
	for (i = 0; i < chars; i++) {
		unsigned char	c = (unsigned char)text[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    c == '-' || c == '_'))
			return -1;
	}
	if (chars % 4 == 1 || (pad > 0 && len % 4 != 0))
		return -1;
	return (long long)(chars / 4 * 3 + (chars % 4 == 0 ? 0 :
	    chars % 4 - 1));
}

char *
base64_standard(const char *text, size_t len)
{
	size_t	padded = (len + 3) / 4 * 4, i;
	char	*out;

	out = xmalloc(padded + 1);
	for (i = 0; i < len; i++)
		out[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
	for (; i < padded; i++)
		out[i] = '=';
	out[padded] = '\0';
	return out;
}
