/* test-clock.c: unit tests for the injectable clock and RFC 3339 text. */
#include "autoconfig.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "clock.h"

/*
 * Covers: KIRO_FCGI_FAKE_NOW read at the first call (in forked children,
 * so the test process's own clock stays untouched) and ignored when it is
 * not a number; clock_set_offset moving clock_now; clock_mono_ms never
 * going backwards; clock_rfc3339 on known times; format/parse round trips;
 * parsing with 0 to 12 fraction digits, Z and z, +hh:mm and -hh:mm offsets
 * (the epoch must come out right), and refusal of garbage, impossible
 * dates and times, bad offsets, missing zones and trailing bytes.
 *
 * Time assertions are bracketed by time(NULL) readings taken before and
 * after, never by a tolerance, so a slow machine cannot fail them.
 *
 * The KIRO_FCGI_FAKE_NOW tests must run before anything in this process
 * calls clock_now: under CK_FORK=no every test shares one process, and a
 * fork inherits the parent's "already initialised" state.
 */

#define FAKE_NOW	2000000000LL

/* Runs fn in a child with KIRO_FCGI_FAKE_NOW=value; its exit status. */
static int
in_child(const char *value, int (*fn)(void))
{
	pid_t	pid;
	int	status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (value != NULL)
			setenv("KIRO_FCGI_FAKE_NOW", value, 1);
		else
			unsetenv("KIRO_FCGI_FAKE_NOW");
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* 0 when clock_now is FAKE_NOW plus the real time elapsed since. */
static int
child_fake_now(void)
{
	time_t	start, now, end;
	int	i;

	start = time(NULL);
	for (i = 0; i < 3; i++) {
		now = clock_now();
		end = time(NULL);
		if (now < FAKE_NOW || now > FAKE_NOW + (end - start))
			return 1 + i;
		/* The variable is read once: changing it has no effect. */
		setenv("KIRO_FCGI_FAKE_NOW", "100", 1);
	}
	return 0;
}

/* 0 when clock_now is the real time. */
static int
child_real_now(void)
{
	time_t	t0, now, t1;

	t0 = time(NULL);
	now = clock_now();
	t1 = time(NULL);
	return now >= t0 && now <= t1 ? 0 : 1;
}

START_TEST(clock_fake_now_read_at_first_call)
{
	char	value[32];

	snprintf(value, sizeof(value), "%lld", FAKE_NOW);
	ck_assert_int_eq(in_child(value, child_fake_now), 0);
}
END_TEST

START_TEST(clock_fake_now_ignored_unless_a_number)
{
	ck_assert_int_eq(in_child(NULL, child_real_now), 0);
	ck_assert_int_eq(in_child("", child_real_now), 0);
	ck_assert_int_eq(in_child("soon", child_real_now), 0);
	ck_assert_int_eq(in_child("2000000000x", child_real_now), 0);
	ck_assert_int_eq(in_child("-5", child_real_now), 0);
	ck_assert_int_eq(in_child("99999999999999999999999", child_real_now),
	    0);
}
END_TEST

START_TEST(clock_set_offset_moves_clock_now)
{
	time_t	t0, now, t1, offset = 86400 * 400;

	clock_set_offset(offset);
	t0 = time(NULL);
	now = clock_now();
	t1 = time(NULL);
	ck_assert_int_ge(now, t0 + offset);
	ck_assert_int_le(now, t1 + offset);

	clock_set_offset(-3600);
	t0 = time(NULL);
	now = clock_now();
	t1 = time(NULL);
	ck_assert_int_ge(now, t0 - 3600);
	ck_assert_int_le(now, t1 - 3600);

	clock_set_offset(0);
	t0 = time(NULL);
	now = clock_now();
	t1 = time(NULL);
	ck_assert_int_ge(now, t0);
	ck_assert_int_le(now, t1);
}
END_TEST

START_TEST(clock_mono_ms_never_decreases)
{
	int64_t	prev, now;
	int	i;

	prev = clock_mono_ms();
	ck_assert_int_ge(prev, 0);
	for (i = 0; i < 50000; i++) {
		now = clock_mono_ms();
		ck_assert_int_ge(now, prev);
		prev = now;
	}
}
END_TEST

START_TEST(clock_rfc3339_formats_known_times)
{
	char		 out[CLOCK_RFC3339_LEN];
	const char	*r;

	r = clock_rfc3339(0, out);
	ck_assert_ptr_eq(r, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	ck_assert_str_eq(clock_rfc3339(1769183714, out),
	    "2026-01-23T15:55:14Z");
	ck_assert_str_eq(clock_rfc3339(951782400, out),
	    "2000-02-29T00:00:00Z");
	ck_assert_str_eq(clock_rfc3339(946684799, out),
	    "1999-12-31T23:59:59Z");
	ck_assert_str_eq(clock_rfc3339(2147483647, out),
	    "2038-01-19T03:14:07Z");
	ck_assert_str_eq(clock_rfc3339((time_t)4102444800LL, out),
	    "2100-01-01T00:00:00Z");
}
END_TEST

START_TEST(clock_rfc3339_round_trips)
{
	char	out[CLOCK_RFC3339_LEN];
	time_t	t, back;

	/* About 1300 instants 37 days and a bit apart, 1970 to 2103. */
	for (t = 0; t < (time_t)4200000000LL; t += 3196807) {
		clock_rfc3339(t, out);
		back = -1;
		ck_assert_msg(clock_parse_rfc3339(out, &back) == 0,
		    "%s: not parsed", out);
		ck_assert_msg(back == t, "%s: %lld, want %lld", out,
		    (long long)back, (long long)t);
	}
	t = clock_now();
	clock_rfc3339(t, out);
	ck_assert_int_eq(clock_parse_rfc3339(out, &back), 0);
	ck_assert_int_eq(back, t);
}
END_TEST

/* Asserts that s parses to want. */
static void
assert_parses(const char *s, long long want)
{
	time_t	t = -12345;

	ck_assert_msg(clock_parse_rfc3339(s, &t) == 0, "%s: refused", s);
	ck_assert_msg((long long)t == want, "%s: %lld, want %lld", s,
	    (long long)t, want);
}

START_TEST(clock_parse_fraction_digits)
{
	assert_parses("2026-01-23T15:55:14Z", 1769183714);
	assert_parses("2026-01-23T15:55:14.1Z", 1769183714);
	assert_parses("2026-01-23T15:55:14.153Z", 1769183714);
	assert_parses("2026-01-23T15:55:14.999Z", 1769183714);
	assert_parses("2026-01-23T15:55:14.153942900Z", 1769183714);
	assert_parses("2026-01-23T15:55:14.153942900123Z", 1769183714);
	assert_parses("2026-01-23T15:55:14.153942900+00:00", 1769183714);
	assert_parses("2025-12-31T02:32:45.144Z", 1767148365);
}
END_TEST

START_TEST(clock_parse_zone_designators)
{
	assert_parses("2025-12-31T02:32:45z", 1767148365);
	assert_parses("2025-12-31t02:32:45Z", 1767148365);
	assert_parses("2025-12-31T02:32:45+00:00", 1767148365);
	assert_parses("2025-12-31T02:32:45-00:00", 1767148365);
}
END_TEST

START_TEST(clock_parse_offsets_give_utc_epoch)
{
	/* 15:55:14 UTC written in other zones. */
	assert_parses("2026-01-23T17:55:14+02:00", 1769183714);
	assert_parses("2026-01-23T10:25:14-05:30", 1769183714);
	assert_parses("2026-01-24T05:55:14+14:00", 1769183714);
	assert_parses("2026-01-23T03:55:14-12:00", 1769183714);
	assert_parses("2026-01-23T21:40:14.5+05:45", 1769183714);
	/* Crossing a year boundary backwards and forwards. */
	assert_parses("2025-12-31T21:32:45-05:00", 1767234765);
	assert_parses("2026-01-01T02:32:45+00:00", 1767234765);
	assert_parses("2000-02-29T00:00:00Z", 951782400);
	assert_parses("2024-02-29T12:00:00Z", 1709208000);
	assert_parses("1970-01-01T00:00:00Z", 0);
}
END_TEST

START_TEST(clock_parse_rejects_garbage)
{
	const char	*bad[] = {
		"", "garbage", "2026", "2026-01-23", "2026-01-23T",
		"2026-01-23T15:55", "2026-01-23T15:55:14",	/* no zone */
		"2026-01-23T15:55:14.153", "2026/01/23T15:55:14Z",
		"2026-1-23T15:55:14Z", "2026-01-23X15:55:14Z",
		"26-01-23T15:55:14Z", "2026-01-23T15:55:14.Z",
		"2026-01-23T15:55:14Zjunk", "2026-01-23T15:55:14Z ",
		" 2026-01-23T15:55:14Z", "2026-01-23T15:55:14+0200",
		"2026-01-23T15:55:14+02", "2026-01-23T15:55:14+2:00",
		"2026-01-23T15:55:14 +02:00", "2026-01-23T15:55:14UTC",
		"2026-01-23T15:55:14+02:00:00", "2026-01-23T1a:55:14Z",
		"2026-01-23T15:55:14.1a2Z", "2026-01-23T15:55:14,153Z",
	};
	size_t		 i;
	time_t		 t;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(clock_parse_rfc3339(bad[i], &t) == -1,
		    "\"%s\": accepted", bad[i]);
	ck_assert_int_eq(clock_parse_rfc3339(NULL, &t), -1);
}
END_TEST

START_TEST(clock_parse_rejects_impossible_fields)
{
	const char	*bad[] = {
		"2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z",
		"2026-99-10T00:00:00Z", "2026-01-00T00:00:00Z",
		"2026-01-32T00:00:00Z", "2026-01-23T24:00:00Z",
		"2026-01-23T99:00:00Z", "2026-01-23T23:60:00Z",
		"2026-01-23T23:59:61Z", "2026-01-23T15:55:14+24:00",
		"2026-01-23T15:55:14+02:60", "2026-01-23T15:55:14-99:00",
	};
	size_t		 i;
	time_t		 t;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(clock_parse_rfc3339(bad[i], &t) == -1,
		    "\"%s\": accepted", bad[i]);
}
END_TEST

START_TEST(clock_parse_rejects_days_past_month_end)
{
	const char	*bad[] = {
		"2026-02-29T00:00:00Z", "2025-02-29T00:00:00Z",
		"2024-02-30T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z",
		"2026-09-31T00:00:00Z", "2026-11-31T00:00:00Z",
	};
	size_t		 i;
	time_t		 t;

	/* timegm would quietly turn 30 February into 1 or 2 March. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(clock_parse_rfc3339(bad[i], &t) == -1,
		    "\"%s\": accepted", bad[i]);
	assert_parses("2024-02-29T00:00:00Z", 1709164800);
	assert_parses("2000-02-29T00:00:00Z", 951782400);
	assert_parses("2026-04-30T00:00:00Z", 1777507200);
	assert_parses("2026-12-31T00:00:00Z", 1798675200);
}
END_TEST

START_TEST(clock_now_ms_never_jumps_back_at_a_second)
{
	int64_t	start, prev, now;

	/*
	 * Over a second boundary or two: a sum of time(NULL) (a coarse clock)
	 * and clock_gettime's milliseconds fell back by almost a second in
	 * the first milliseconds of each second.
	 */
	start = prev = clock_now_ms();
	do {
		now = clock_now_ms();
		ck_assert_msg(now >= prev - 5, "%lld after %lld",
		    (long long)now, (long long)prev);
		prev = now;
	} while (now - start < 1300);
	ck_assert_int_ge(clock_now_ms() / 1000, (int64_t)clock_now() - 1);
	clock_set_offset(3600);
	ck_assert_int_ge(clock_now_ms() - now, 3600 * 1000);
	clock_set_offset(0);
}
END_TEST

static Suite *
clock_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("clock");
	/* First: see the comment at the top. */
	tc = tcase_create("now");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, clock_fake_now_read_at_first_call);
	tcase_add_test(tc, clock_fake_now_ignored_unless_a_number);
	tcase_add_test(tc, clock_set_offset_moves_clock_now);
	tcase_add_test(tc, clock_mono_ms_never_decreases);
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc3339");
	tcase_add_test(tc, clock_rfc3339_formats_known_times);
	tcase_add_test(tc, clock_rfc3339_round_trips);
	tcase_add_test(tc, clock_parse_fraction_digits);
	tcase_add_test(tc, clock_parse_zone_designators);
	tcase_add_test(tc, clock_parse_offsets_give_utc_epoch);
	tcase_add_test(tc, clock_parse_rejects_garbage);
	tcase_add_test(tc, clock_parse_rejects_impossible_fields);
	tcase_add_test(tc, clock_parse_rejects_days_past_month_end);
	tcase_add_test(tc, clock_now_ms_never_jumps_back_at_a_second);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(clock_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
