/* test-digest.c: unit tests for SHA-256, CRC-32, base64 and secret_equal. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "digest.h"

/*
 * Covers: sha256_hex against FIPS 180-2 / well-known vectors (empty, "abc",
 * "test", binary with a NUL, a million "a"), lowercase output and no write
 * past the 65 bytes; crc32_update's check value, known strings, the empty
 * input, and incremental updates at every split point equal to one shot;
 * secret_equal for equal, unequal, prefix, empty and NULL arguments, and
 * its remembered key changed in place, replaced and too long to keep; the
 * RFC 4648 section 10 base64 vectors, every byte value, appending to a
 * non-empty buf, base64url's alphabet and missing padding; and
 * base64_decoded_len on valid text with and without padding, both
 * alphabets, invalid characters, impossible lengths and misplaced padding,
 * plus a round trip over lengths 0..200; base64_standard on both alphabets
 * and missing padding.
 */

static const char *const rfc4648[][3] = {
	/* input, base64, base64url */
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};
#define N_RFC4648	(sizeof(rfc4648) / sizeof(rfc4648[0]))

static void
assert_sha256(const void *data, size_t len, const char *want)
{
	char	out[SHA256_HEX_LEN + 3];

	memset(out, 'X', sizeof(out));
	sha256_hex(data, len, out);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(out[SHA256_HEX_LEN + 1], 'X');
	ck_assert_int_eq(out[SHA256_HEX_LEN + 2], 'X');
}

/* The published FNV-1a test vectors. */
START_TEST(fnv1a_known_values)
{
	ck_assert_uint_eq(fnv1a32(""), 0x811c9dc5u);
	ck_assert_uint_eq(fnv1a32("a"), 0xe40c292cu);
	ck_assert_uint_eq(fnv1a32("foobar"), 0xbf9cf968u);
	ck_assert_uint_eq(fnv1a64(""), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_eq(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}
END_TEST

START_TEST(sha256_hex_known_vectors)
{
	char	*million;

	assert_sha256("test", 4,
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	assert_sha256("", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_sha256("abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_sha256("a\0b", 3,
	    "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
	million = malloc(1000000);
	ck_assert_ptr_nonnull(million);
	memset(million, 'a', 1000000);
	assert_sha256(million, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}
END_TEST

START_TEST(sha256_hex_is_lowercase_hex)
{
	char		out[SHA256_HEX_LEN + 1];
	unsigned	i, n;

	for (n = 0; n < 50; n++) {
		sha256_hex(&n, sizeof(n), out);
		ck_assert_uint_eq(strlen(out), SHA256_HEX_LEN);
		for (i = 0; i < SHA256_HEX_LEN; i++)
			ck_assert_msg(strchr("0123456789abcdef", out[i]) !=
			    NULL, "%s: not lowercase hex", out);
	}
}
END_TEST

/* The raw digest agrees with the hex one ("abc", FIPS 180-2). */
START_TEST(sha256_raw_matches_hex)
{
	static const unsigned char	want[4] = { 0xba, 0x78, 0x16, 0xbf };
	unsigned char			md[SHA256_LEN];
	char				hex[SHA256_HEX_LEN + 1], from_raw[3];
	size_t				i;

	sha256("abc", 3, md);
	ck_assert_mem_eq(md, want, sizeof(want));
	sha256_hex("abc", 3, hex);
	for (i = 0; i < SHA256_LEN; i++) {
		snprintf(from_raw, sizeof(from_raw), "%02x", md[i]);
		ck_assert_mem_eq(from_raw, hex + 2 * i, 2);
	}
}
END_TEST

START_TEST(crc32_check_value)
{
	unsigned char	all[256];
	unsigned	i;

	ck_assert_uint_eq(crc32_update(0, "123456789", 9), 0xCBF43926u);
	ck_assert_uint_eq(crc32_update(0, "The quick brown fox jumps over "
	    "the lazy dog", 43), 0x414FA339u);
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	ck_assert_uint_eq(crc32_update(0, all, sizeof(all)), 0x29058C73u);
	ck_assert_uint_eq(crc32_update(0, "", 0), 0);
	ck_assert_uint_eq(crc32_update(0xCBF43926u, "", 0), 0xCBF43926u);
}
END_TEST

START_TEST(crc32_incremental_equals_one_shot)
{
	const char	*s = "123456789";
	unsigned char	 data[1000];
	uint32_t	 whole, c;
	size_t		 i, j;

	for (i = 0; i <= 9; i++) {
		c = crc32_update(0, s, i);
		c = crc32_update(c, s + i, 9 - i);
		ck_assert_uint_eq(c, 0xCBF43926u);
	}
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 7);
	whole = crc32_update(0, data, sizeof(data));
	for (i = 0; i <= sizeof(data); i += 37)
		for (j = i; j <= sizeof(data); j += 101) {
			c = crc32_update(0, data, i);
			c = crc32_update(c, data + i, j - i);
			c = crc32_update(c, data + j, sizeof(data) - j);
			ck_assert_uint_eq(c, whole);
		}
	/* One byte at a time. */
	c = 0;
	for (i = 0; i < sizeof(data); i++)
		c = crc32_update(c, data + i, 1);
	ck_assert_uint_eq(c, whole);
}
END_TEST

START_TEST(secret_equal_compares_whole_secrets)
{
	ck_assert_int_eq(secret_equal("sk-secret-value", "sk-secret-value"),
	    1);
	ck_assert_int_eq(secret_equal("", ""), 1);
	ck_assert_int_eq(secret_equal("sk-secret-value", "sk-secret-valuE"),
	    0);
	ck_assert_int_eq(secret_equal("Xk-secret-value", "sk-secret-value"),
	    0);
	ck_assert_int_eq(secret_equal("abc", "abd"), 0);
}
END_TEST

START_TEST(secret_equal_different_lengths_differ)
{
	ck_assert_int_eq(secret_equal("sk-secret", "sk-secret-value"), 0);
	ck_assert_int_eq(secret_equal("sk-secret-value", "sk-secret"), 0);
	ck_assert_int_eq(secret_equal("", "x"), 0);
	ck_assert_int_eq(secret_equal("x", ""), 0);
}
END_TEST

START_TEST(secret_equal_null_is_never_equal)
{
	ck_assert_int_eq(secret_equal(NULL, "x"), 0);
	ck_assert_int_eq(secret_equal("x", NULL), 0);
	ck_assert_int_eq(secret_equal(NULL, ""), 0);
	ck_assert_int_eq(secret_equal("", NULL), 0);
	ck_assert_int_eq(secret_equal(NULL, NULL), 0);
}
END_TEST

/*
 * The digest of b is remembered per thread: a key changed in place (same
 * buffer, same length), another key, and a key too long to remember must
 * each give what a fresh comparison gives.
 */
START_TEST(secret_equal_remembered_key_follows_changes)
{
	char	key[] = "sk-configured-key-1";
	char	long_key[600];
	int	i;

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(secret_equal("sk-configured-key-1", key), 1);
		ck_assert_int_eq(secret_equal("sk-configured-key-2", key), 0);
	}
	key[sizeof(key) - 2] = '2';
	ck_assert_int_eq(secret_equal("sk-configured-key-1", key), 0);
	ck_assert_int_eq(secret_equal("sk-configured-key-2", key), 1);
	ck_assert_int_eq(secret_equal("sk-configured-key-2", "other"), 0);
	ck_assert_int_eq(secret_equal("other", "other"), 1);
	ck_assert_int_eq(secret_equal("sk-configured-key-2", key), 1);

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	ck_assert_int_eq(secret_equal(long_key, long_key), 1);
	long_key[300] = 'x';
	ck_assert_int_eq(secret_equal(long_key, long_key), 1);
	ck_assert_int_eq(secret_equal("sk-configured-key-2", long_key), 0);
	ck_assert_int_eq(secret_equal("sk-configured-key-2", key), 1);
}
END_TEST

START_TEST(base64_encode_rfc4648_vectors)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	for (i = 0; i < N_RFC4648; i++) {
		buf_reset(&b);
		base64_encode(&b, rfc4648[i][0], strlen(rfc4648[i][0]));
		ck_assert_str_eq(buf_cstr(&b), rfc4648[i][1]);
		ck_assert_uint_eq(b.len, strlen(rfc4648[i][1]));
	}
	buf_free(&b);
}
END_TEST

START_TEST(base64_encode_appends_and_covers_every_byte)
{
	struct buf	b = BUF_INIT;
	unsigned char	data[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20,
			    0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93,
			    0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7,
			    0x9f, 0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2,
			    0x9a, 0xab, 0xb2, 0xdb, 0xaf, 0xc3, 0x1c, 0xb3,
			    0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf,
			    0xbf };

	/* These 48 bytes use each of the 64 digits once, in order. */
	buf_puts(&b, "prefix:");
	base64_encode(&b, data, sizeof(data));
	ck_assert_str_eq(b.ptr, "prefix:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
	    "lmnopqrstuvwxyz0123456789+/");
	buf_reset(&b);
	base64url_encode(&b, data, sizeof(data));
	ck_assert_str_eq(b.ptr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
	    "stuvwxyz0123456789-_");
	buf_free(&b);
}
END_TEST

START_TEST(base64url_has_no_padding)
{
	struct buf		b = BUF_INIT;
	const unsigned char	fb[] = { 0xfb, 0xff };
	size_t			i;

	for (i = 0; i < N_RFC4648; i++) {
		buf_reset(&b);
		base64url_encode(&b, rfc4648[i][0], strlen(rfc4648[i][0]));
		ck_assert_str_eq(buf_cstr(&b), rfc4648[i][2]);
		ck_assert_ptr_null(strchr(b.ptr, '='));
	}
	buf_reset(&b);
	base64_encode(&b, fb, sizeof(fb));
	ck_assert_str_eq(b.ptr, "+/8=");
	buf_reset(&b);
	base64url_encode(&b, fb, sizeof(fb));
	ck_assert_str_eq(b.ptr, "-_8");
	buf_free(&b);
}
END_TEST

static long long
dlen(const char *s)
{
	return base64_decoded_len(s, strlen(s));
}

START_TEST(base64_decoded_len_valid_text)
{
	size_t	i;

	for (i = 0; i < N_RFC4648; i++) {
		ck_assert_int_eq(dlen(rfc4648[i][1]),
		    (long long)strlen(rfc4648[i][0]));
		ck_assert_int_eq(dlen(rfc4648[i][2]),
		    (long long)strlen(rfc4648[i][0]));
	}
	ck_assert_int_eq(base64_decoded_len(NULL, 0), 0);
	ck_assert_int_eq(dlen("+/8="), 2);
	ck_assert_int_eq(dlen("-_8"), 2);
	ck_assert_int_eq(dlen("-_8="), 2);
	ck_assert_int_eq(dlen("AAAA"), 3);
	ck_assert_int_eq(dlen("QUJDRA=="), 4);
}
END_TEST

START_TEST(base64_decoded_len_rejects_invalid_chars)
{
	/* Lengths that would be fine: only the character is wrong. */
	const char	*bad[] = {
		"Zm9!", "Zm 9", "Zm9\n", "Zm9v\r\nAA", "Zm9\tZm9v", "Zm.v",
		"Zm9v\xc3\xa9" "AA", "*AAA", "AA%A", "Zm9v Zm9", "Zm9=Zm9v",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dlen(bad[i]) == -1, "%s: accepted", bad[i]);
	/* A NUL within len is a character like any other. */
	ck_assert_int_eq(base64_decoded_len("Zm\0v", 4), -1);
	ck_assert_int_eq(base64_decoded_len("Zm9v\0", 5), -1);
}
END_TEST

START_TEST(base64_decoded_len_rejects_bad_lengths_and_padding)
{
	const char	*bad[] = {
		"Z", "Zm9vY", "Zm9vYmFyZ",	/* 4n + 1 digits */
		"=", "==", "===", "====",	/* padding only */
		"Zg=", "Zg===", "Z===",		/* wrong amount */
		"Zm9v=", "Zm9v==",		/* padding a full group */
		"Zm8==", "Zm9vY===",
		"Zg==Zg==", "Zm=8",		/* padding inside */
		"Zg=A",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dlen(bad[i]) == -1, "%s: accepted as %lld",
		    bad[i], dlen(bad[i]));
}
END_TEST

START_TEST(base64_decoded_len_round_trips_encoder)
{
	struct buf	b = BUF_INIT, u = BUF_INIT;
	unsigned char	data[200];
	size_t		n;

	for (n = 0; n < sizeof(data); n++)
		data[n] = (unsigned char)(255 - n * 3);
	for (n = 0; n <= sizeof(data); n++) {
		buf_reset(&b);
		buf_reset(&u);
		base64_encode(&b, data, n);
		base64url_encode(&u, data, n);
		ck_assert_uint_eq(b.len, (n + 2) / 3 * 4);
		ck_assert_uint_eq(u.len, (n * 4 + 2) / 3);
		ck_assert_int_eq(base64_decoded_len(buf_cstr(&b), b.len),
		    (long long)n);
		ck_assert_int_eq(base64_decoded_len(buf_cstr(&u), u.len),
		    (long long)n);
	}
	buf_free(&b);
	buf_free(&u);
}
END_TEST

START_TEST(base64_becomes_standard_and_padded)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "", "" },
		{ "QUJD", "QUJD" },
		{ "QQ", "QQ==" },
		{ "QUI", "QUI=" },
		{ "QQ==", "QQ==" },
		{ "-_-_", "+/+/" },
		{ "a-b", "a+b=" },
	};
	size_t	i;
	char	*s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = base64_standard(cases[i].in, strlen(cases[i].in));
		ck_assert_str_eq(s, cases[i].out);
		free(s);
	}
}
END_TEST

static Suite *
digest_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("digest");
	tc = tcase_create("sha256");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fnv1a_known_values);
	tcase_add_test(tc, sha256_hex_known_vectors);
	tcase_add_test(tc, sha256_hex_is_lowercase_hex);
	tcase_add_test(tc, sha256_raw_matches_hex);
	suite_add_tcase(s, tc);

	tc = tcase_create("crc32");
	tcase_add_test(tc, crc32_check_value);
	tcase_add_test(tc, crc32_incremental_equals_one_shot);
	suite_add_tcase(s, tc);

	tc = tcase_create("secret_equal");
	tcase_add_test(tc, secret_equal_compares_whole_secrets);
	tcase_add_test(tc, secret_equal_different_lengths_differ);
	tcase_add_test(tc, secret_equal_null_is_never_equal);
	tcase_add_test(tc, secret_equal_remembered_key_follows_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("base64");
	tcase_add_test(tc, base64_encode_rfc4648_vectors);
	tcase_add_test(tc, base64_encode_appends_and_covers_every_byte);
	tcase_add_test(tc, base64url_has_no_padding);
	tcase_add_test(tc, base64_decoded_len_valid_text);
	tcase_add_test(tc, base64_decoded_len_rejects_invalid_chars);
	tcase_add_test(tc, base64_decoded_len_rejects_bad_lengths_and_padding);
	tcase_add_test(tc, base64_decoded_len_round_trips_encoder);
	tcase_add_test(tc, base64_becomes_standard_and_padded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(digest_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
