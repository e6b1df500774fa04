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

/*
 * Sequences that overlap themselves ("abab", "aab"): a failed partial
 * match must fall back to the longest prefix still alive, across
 * fragments, and after stopseq_reset start from nothing.
 */
START_TEST(stopseq_self_overlapping_sequences)
{
	char		*seqs[] = { "abab", "aab" };
	const char	*frags1[] = { "xab", "a", "bab", NULL };
	const char	*frags2[] = { "aa", "a", "ab", NULL };
	const char	*frags3[] = { "ab", NULL };
	struct stopseq	*ss = stopseq_new(seqs, 2);
	struct buf	 out = BUF_INIT;

	ck_assert_int_eq(feed_all(ss, frags1, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), "x");
	ck_assert_str_eq(stopseq_matched(ss), "abab");
	stopseq_reset(ss);
	buf_reset(&out);
	ck_assert_int_eq(feed_all(ss, frags2, &out), 1);
	ck_assert_str_eq(buf_cstr(&out), "aa");
	stopseq_reset(ss);
	buf_reset(&out);
	/* "ab" alone: a prefix of "abab", held; the flush gives it back. */
	ck_assert_int_eq(feed_all(ss, frags3, &out), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	stopseq_free(ss);
}
END_TEST

static unsigned int	rng = 12345;

static unsigned int
next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 16) & 0x7fff;
}

/*
 * Feeds text in pieces of 1 to max_piece bytes (all of it at once when
 * max_piece is 0); out gets what is emitted, flush included when nothing
 * matched.  Checks that no more than longest - 1 bytes are ever held.
 */
static int
feed_pieces(struct stopseq *ss, const char *text, size_t len,
    size_t max_piece, size_t longest, struct buf *out)
{
	const char	*o;
	size_t		 at, fed, n;
	int		 r = -1;

	buf_reset(out);
	for (at = 0; at < len && r < 0; at += fed) {
		fed = max_piece == 0 ? len : 1 + next_rand() % max_piece;
		if (fed > len - at)
			fed = len - at;
		r = stopseq_feed(ss, text + at, fed, &o, &n);
		buf_append(out, o, n);
		if (r < 0)
			ck_assert_uint_lt(at + fed - out->len, longest);
	}
	if (r < 0) {
		stopseq_flush(ss, &o, &n);
		buf_append(out, o, n);
	}
	return r;
}

/*
 * Random texts, sequences and cuts over {a, b}.  Fed whole, the text
 * stops at the earliest match (the first sequence given at one position),
 * as a plain search of the whole text finds it.  Fed in pieces, a match
 * may be found sooner (a sequence that completes in an earlier piece wins
 * over one that would start before it), but what is emitted holds no
 * sequence, is a prefix of the text, and the matched sequence follows it;
 * with no match, everything comes out.
 */
START_TEST(stopseq_matches_a_plain_search)
{
	char		 text[64], seqbuf[4][8], *seqs[4];
	const char	*hit;
	struct stopseq	*ss;
	struct buf	 out = BUF_INIT;
	size_t		 len, n_seqs, i, j, n, best, longest;
	int		 round, r, want;

	for (round = 0; round < 20000; round++) {
		len = next_rand() % 60;
		for (i = 0; i < len; i++)
			text[i] = "ab"[next_rand() % 2];
		text[len] = '\0';
		n_seqs = 1 + next_rand() % 4;
		longest = 0;
		for (i = 0; i < n_seqs; i++) {
			n = 1 + next_rand() % 6;
			for (j = 0; j < n; j++)
				seqbuf[i][j] = "ab"[next_rand() % 2];
			seqbuf[i][n] = '\0';
			seqs[i] = seqbuf[i];
			if (n > longest)
				longest = n;
		}
		best = len;
		want = -1;
		for (i = 0; i < n_seqs; i++)
			if ((hit = strstr(text, seqs[i])) != NULL &&
			    (size_t)(hit - text) < best) {
				best = (size_t)(hit - text);
				want = (int)i;
			}
		ss = stopseq_new(seqs, n_seqs);
		r = feed_pieces(ss, text, len, 0, longest, &out);
		ck_assert_int_eq(r, want);
		ck_assert_uint_eq(out.len, best);
		ck_assert(len == 0 || memcmp(out.ptr, text, out.len) == 0);

		stopseq_reset(ss);
		r = feed_pieces(ss, text, len, 5, longest, &out);
		ck_assert_int_eq(r < 0, want < 0);
		ck_assert(out.len == 0 || memcmp(out.ptr, text, out.len) == 0);
		if (r < 0)
			ck_assert_uint_eq(out.len, len);
		else {
			ck_assert_int_eq(strncmp(text + out.len, seqs[r],
			    strlen(seqs[r])), 0);
			for (i = 0; i < n_seqs; i++)
				ck_assert_ptr_null(strstr(buf_cstr(&out),
				    seqs[i]));
		}
		stopseq_free(ss);
	}
	buf_free(&out);
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
	tcase_add_test(tc, stopseq_self_overlapping_sequences);
	tcase_add_test(tc, stopseq_matches_a_plain_search);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
