/* test-stopseq.c: matches across fragments, partial matches held, UTF-8. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "stopseq.h"
#include "testutil.h"

/* Feeds each fragment, appending what is emitted to out; the match index. */
static int
feed_all(struct stopseq *ss, const char *const *frags, struct buf *out)
{
	const char	*o;
	size_t		 n;
	int		 m = -1, r;

	for (; *frags != NULL; frags++) {
		r = stopseq_feed(ss, *frags, strlen(*frags), &o, &n);
		buf_append(out, o, n);
		if (r >= 0)
			m = r;
	}
	return m;
}

START_TEST(stopseq_none_gives_null)
{
	char	*empty[] = { "", NULL };

	ck_assert_ptr_null(stopseq_new(empty, 2));
	ck_assert_ptr_null(stopseq_new(NULL, 0));
	stopseq_free(NULL);
}
END_TEST

START_TEST(stopseq_match_across_fragments)
{
	char		*seqs[] = { "END" };
	const char	*frags[] = { "Hello E", "N", "D and more", "tail", NULL };
	struct stopseq	*ss = stopseq_new(seqs, 1);
	struct buf	 out = BUF_INIT;

	ck_assert_int_eq(feed_all(ss, frags, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), "Hello ");
	ck_assert_str_eq(stopseq_matched(ss), "END");
	buf_free(&out);
	stopseq_free(ss);
}
END_TEST

START_TEST(stopseq_holds_only_a_possible_prefix)
{
	char		*seqs[] = { "STOP" };
	struct stopseq	*ss = stopseq_new(seqs, 1);
	const char	*o;
	size_t		 n;

	/* "ST" could begin STOP: held back. */
	ck_assert_int_eq(stopseq_feed(ss, "abcST", 5, &o, &n), -1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(o, "abc", 3), 0);
	/* "STx" cannot: all of it goes. */
	ck_assert_int_eq(stopseq_feed(ss, "x", 1, &o, &n), -1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(o, "STx", 3), 0);
	/* The end of the text releases what is held. */
	ck_assert_int_eq(stopseq_feed(ss, "S", 1, &o, &n), -1);
	ck_assert_uint_eq(n, 0);
	stopseq_flush(ss, &o, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(o[0], 'S');
	ck_assert_ptr_null(stopseq_matched(ss));
	stopseq_free(ss);
}
END_TEST

START_TEST(stopseq_earliest_of_several)
{
	char		*seqs[] = { "world", "lo w", "\n\n" };
	const char	*frags[] = { "hel", "lo world", NULL };
	struct stopseq	*ss = stopseq_new(seqs, 3);
	struct buf	 out = BUF_INIT;

	ck_assert_int_eq(feed_all(ss, frags, &out), 1);
	ck_assert_str_eq(buf_cstr(&out), "hel");
	ck_assert_str_eq(stopseq_matched(ss), "lo w");
	buf_free(&out);
	stopseq_free(ss);
}
END_TEST

START_TEST(stopseq_nothing_after_a_match)
{
	char		*seqs[] = { "#" };
	struct stopseq	*ss = stopseq_new(seqs, 1);
	const char	*o;
	size_t		 n;

	ck_assert_int_eq(stopseq_feed(ss, "#start", 6, &o, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(stopseq_feed(ss, "more", 4, &o, &n), -1);
	ck_assert_uint_eq(n, 0);
	stopseq_flush(ss, &o, &n);
	ck_assert_uint_eq(n, 0);
	/* A reset starts a new answer. */
	stopseq_reset(ss);
	ck_assert_ptr_null(stopseq_matched(ss));
	ck_assert_int_eq(stopseq_feed(ss, "ok", 2, &o, &n), -1);
	ck_assert_uint_eq(n, 2);
	stopseq_free(ss);
}
END_TEST

START_TEST(stopseq_never_splits_utf8)
{
	/* "é" is c3 a9; the sequence starts with the same lead byte. */
	char		*seqs[] = { "\xc3\xa8" };
	struct stopseq	*ss = stopseq_new(seqs, 1);
	const char	*o;
	size_t		 n;

	ck_assert_int_eq(stopseq_feed(ss, "caf\xc3", 4, &o, &n), -1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(stopseq_feed(ss, "\xa9!", 2, &o, &n), -1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(o, "\xc3\xa9!", 3), 0);
	stopseq_free(ss);

	/* An incomplete character at the end is held even without a prefix. */
	seqs[0] = "zz";
	ss = stopseq_new(seqs, 1);
	ck_assert_int_eq(stopseq_feed(ss, "a\xe2\x82", 3, &o, &n), -1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(stopseq_feed(ss, "\xac", 1, &o, &n), -1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(o, "\xe2\x82\xac", 3), 0);
	stopseq_free(ss);
}
END_TEST

START_TEST(stopseq_multibyte_sequence)
{
	char		*seqs[] = { "\xe3\x80\x82" };	/* "。" */
	const char	*frags[] = { "\xe4\xbd\xa0\xe5\xa5\xbd\xe3", "\x80",
	    "\x82\xe5\x86\x8d", NULL };
	struct stopseq	*ss = stopseq_new(seqs, 1);
	struct buf	 out = BUF_INIT;

	ck_assert_int_eq(feed_all(ss, frags, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), "\xe4\xbd\xa0\xe5\xa5\xbd");
	buf_free(&out);
	stopseq_free(ss);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("stopseq");
	TCase	*tc = tcase_create("stopseq");

	tcase_add_test(tc, stopseq_none_gives_null);
	tcase_add_test(tc, stopseq_match_across_fragments);
	tcase_add_test(tc, stopseq_holds_only_a_possible_prefix);
	tcase_add_test(tc, stopseq_earliest_of_several);
	tcase_add_test(tc, stopseq_nothing_after_a_match);
	tcase_add_test(tc, stopseq_never_splits_utf8);
	tcase_add_test(tc, stopseq_multibyte_sequence);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
