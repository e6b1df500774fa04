/* test-rand.c: unit tests for random identifiers. */
#include "autoconfig.h"

#include <sys/wait.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "rand.h"

/*
 * Covers: rand_uuid's format (36 characters, dashes at 8/13/18/23,
 * lowercase hex, version nibble 4, variant 8-b) and uniqueness over 1000
 * calls; rand_hex and rand_alnum lengths 0..300, their alphabets, the NUL
 * and no write past it; rand_bytes for zero and large sizes, small draws
 * across refills of the per-thread buffer, and different bytes in a
 * forked child and its parent, and in two threads.  The
 * statistical checks (every digit and variant seen) fail by chance with
 * probability below 1e-100.
 */

#define N_UUIDS	1000

static const char	hex_digits[] = "0123456789abcdef";
static const char	alnum_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(rand_uuid_is_lowercase_version_4)
{
	char		u[UUID_LEN + 2];
	size_t		i;
	int		n;

	for (n = 0; n < N_UUIDS; n++) {
		memset(u, 'X', sizeof(u));
		rand_uuid(u);
		ck_assert_uint_eq(strlen(u), UUID_LEN);
		ck_assert_int_eq(u[UUID_LEN + 1], 'X');
		for (i = 0; i < UUID_LEN; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				ck_assert_msg(u[i] == '-', "%s: no dash at %zu",
				    u, i);
			else
				ck_assert_msg(u[i] != '\0' &&
				    strchr(hex_digits, u[i]) != NULL,
				    "%s: bad digit at %zu", u, i);
		}
		ck_assert_msg(u[14] == '4', "%s: version is not 4", u);
		ck_assert_msg(strchr("89ab", u[19]) != NULL,
		    "%s: variant is not RFC 4122", u);
	}
}
END_TEST

START_TEST(rand_uuid_random_bits_vary)
{
	char		u[UUID_LEN + 1];
	int		seen_variant[4] = { 0 }, seen_first[16] = { 0 };
	int		n, i;

	for (n = 0; n < N_UUIDS; n++) {
		rand_uuid(u);
		seen_variant[strchr("89ab", u[19]) - "89ab"] = 1;
		seen_first[strchr(hex_digits, u[0]) - hex_digits] = 1;
	}
	for (i = 0; i < 4; i++)
		ck_assert_msg(seen_variant[i], "variant %c never seen",
		    "89ab"[i]);
	for (i = 0; i < 16; i++)
		ck_assert_msg(seen_first[i], "digit %c never first",
		    hex_digits[i]);
}
END_TEST

START_TEST(rand_uuids_are_unique)
{
	char	*u[N_UUIDS];
	int	 i;

	for (i = 0; i < N_UUIDS; i++) {
		u[i] = malloc(UUID_LEN + 1);
		ck_assert_ptr_nonnull(u[i]);
		rand_uuid(u[i]);
	}
	qsort(u, N_UUIDS, sizeof(u[0]), cmp_str);
	for (i = 1; i < N_UUIDS; i++)
		ck_assert_str_ne(u[i - 1], u[i]);
	for (i = 0; i < N_UUIDS; i++)
		free(u[i]);
}
END_TEST

/* Checks length n, the alphabet and that every character of it occurs. */
static void
check_generator(void (*gen)(char *, size_t), const char *alphabet)
{
	char	out[302];
	int	seen[256] = { 0 };
	size_t	n, i;

	for (n = 0; n <= 300; n++) {
		memset(out, 'X' + 1, sizeof(out));
		gen(out, n);
		ck_assert_int_eq(out[n], '\0');
		ck_assert_int_eq(out[n + 1], 'X' + 1);
		for (i = 0; i < n; i++) {
			ck_assert_msg(out[i] != '\0' &&
			    strchr(alphabet, out[i]) != NULL,
			    "length %zu: bad character 0x%02x at %zu", n,
			    (unsigned char)out[i], i);
			seen[(unsigned char)out[i]] = 1;
		}
	}
	/* 45150 characters: missing one of 62 has odds below 1e-300. */
	for (i = 0; alphabet[i] != '\0'; i++)
		ck_assert_msg(seen[(unsigned char)alphabet[i]],
		    "character %c never produced", alphabet[i]);
}

START_TEST(rand_hex_lengths_and_alphabet)
{
	check_generator(rand_hex, hex_digits);
}
END_TEST

START_TEST(rand_alnum_lengths_and_alphabet)
{
	check_generator(rand_alnum, alnum_chars);
}
END_TEST

START_TEST(rand_hex_values_differ)
{
	char	a[33], b[33];

	rand_hex(a, 32);
	rand_hex(b, 32);
	ck_assert_str_ne(a, b);
	rand_alnum(a, 32);
	rand_alnum(b, 32);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(rand_bytes_fills_buffers)
{
	unsigned char	*a, *b, guard = 0xa5;
	size_t		 i, n = 100000, zeros = 0;

	rand_bytes(&guard, 0);
	ck_assert_uint_eq(guard, 0xa5);

	a = calloc(1, n);
	b = calloc(1, n);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	rand_bytes(a, n);
	rand_bytes(b, n);
	ck_assert_int_ne(memcmp(a, b, n), 0);
	for (i = 0; i < n; i++)
		zeros += a[i] == 0;
	/* About 390 expected; an unfilled tail would show up here. */
	ck_assert_uint_lt(zeros, 1000);
	free(a);
	free(b);
}
END_TEST

/* Small draws come from a per-thread buffer: across its refills too. */
START_TEST(rand_small_draws_cross_refills)
{
	unsigned char	draws[400][16];
	size_t		i, j, zeros = 0;

	for (i = 0; i < 400; i++) {
		memset(draws[i], 0, sizeof(draws[i]));
		rand_bytes(draws[i], 1 + i % 16);
		for (j = 0; j < 1 + i % 16; j++)
			zeros += draws[i][j] == 0;
	}
	/* 3400 bytes, about 13 zeros expected: a stale or empty tail shows. */
	ck_assert_uint_lt(zeros, 60);
	/* Draws 15, 31, ... are 16 bytes long. */
	for (i = 15; i < 400; i += 16)
		for (j = i + 16; j < 400; j += 16)
			ck_assert_int_ne(memcmp(draws[i], draws[j], 16), 0);
}
END_TEST

/* A forked child must not hand out what its parent hands out next. */
START_TEST(rand_fork_child_draws_differ)
{
	unsigned char	parent[32], child[32], first;
	int		fds[2], status;
	pid_t		pid;

	rand_bytes(&first, 1);		/* the buffer is full now */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		rand_bytes(child, sizeof(child));
		_exit(write(fds[1], child, sizeof(child)) ==
		    (ssize_t)sizeof(child) ? 0 : 1);
	}
	rand_bytes(parent, sizeof(parent));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(read(fds[0], child, sizeof(child)),
	    (ssize_t)sizeof(child));
	close(fds[0]);
	close(fds[1]);
	ck_assert_int_ne(memcmp(parent, child, sizeof(child)), 0);
}
END_TEST

static void *
draw_in_thread(void *arg)
{
	rand_bytes(arg, 32);
	return NULL;
}

START_TEST(rand_threads_draw_differ)
{
	unsigned char	a[32], b[32];
	pthread_t	ta, tb;

	ck_assert_int_eq(pthread_create(&ta, NULL, draw_in_thread, a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, draw_in_thread, b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

START_TEST(rand_is_uuid_checks_the_shape)
{
	char	u[UUID_LEN + 1];

	rand_uuid(u);
	ck_assert_int_eq(rand_is_uuid(u), 1);
	ck_assert_int_eq(rand_is_uuid("D94BF623-BA39-4105-8291-983347BC89A8"),
	    1);
	/* Only the first 36 characters count: a longer text may follow. */
	ck_assert_int_eq(rand_is_uuid("d94bf623-ba39-4105-8291-983347bc89a8x"),
	    1);
	ck_assert_int_eq(rand_is_uuid("d94bf623-ba39-4105-8291-983347bc89a"),
	    0);
	ck_assert_int_eq(rand_is_uuid("d94bf623ba39-4105-8291-983347bc89a8-"),
	    0);
	ck_assert_int_eq(rand_is_uuid("g94bf623-ba39-4105-8291-983347bc89a8"),
	    0);
	ck_assert_int_eq(rand_is_uuid(""), 0);
}
END_TEST

static Suite *
rand_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("rand");
	tc = tcase_create("uuid");
	tcase_add_test(tc, rand_uuid_is_lowercase_version_4);
	tcase_add_test(tc, rand_uuid_random_bits_vary);
	tcase_add_test(tc, rand_uuids_are_unique);
	suite_add_tcase(s, tc);

	tc = tcase_create("strings");
	tcase_add_test(tc, rand_hex_lengths_and_alphabet);
	tcase_add_test(tc, rand_alnum_lengths_and_alphabet);
	tcase_add_test(tc, rand_hex_values_differ);
	tcase_add_test(tc, rand_bytes_fills_buffers);
	tcase_add_test(tc, rand_small_draws_cross_refills);
	tcase_add_test(tc, rand_fork_child_draws_differ);
	tcase_add_test(tc, rand_threads_draw_differ);
	tcase_add_test(tc, rand_is_uuid_checks_the_shape);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(rand_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
