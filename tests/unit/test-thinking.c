/* test-thinking.c: unit tests of the <thinking> tag splitter (§6.2). */
/*
 * Covers: the spec's sample; quoting rules on both sides of the start tag
 * and after the end tag (punctuation before it does not quote it); an
 * end tag without "\n\n" inside the stream not ending the block; an end tag
 * followed by white space at a flush; only the first block extracted;
 * blank text before the start tag dropped and other text kept; one "\n"
 * stripped after the start tag; UTF-8 sequences never split; flush closing
 * an open block; holding back no more than a possible tag; the callback's
 * return value.  Every case is run whole, byte by byte, split at every
 * position and in random slices, and must give the same transcript.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "thinking.h"

/*
 * The transcript: "[T]" text, "[K]" thinking, "[E]" end; consecutive
 * pieces of one kind are merged, since slicing may cut them anywhere.
 */
struct out {
	struct buf	 log;
	int		 last;
	int		 bad_piece;	/* empty, or a cut UTF-8 sequence */
	int		 stop_rc;	/* what the callback returns */
};

static const char *const marks[THINKING_PART__MAX] = { "[T]", "[K]", "[E]" };

/* 1 when s is whole UTF-8: no sequence starts before or ends after it. */
static int
utf8_whole(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, need, k;

	while (i < len) {
		if (p[i] < 0x80)
			need = 1;
		else if (p[i] >= 0xc2 && p[i] < 0xe0)
			need = 2;
		else if (p[i] >= 0xe0 && p[i] < 0xf0)
			need = 3;
		else if (p[i] >= 0xf0 && p[i] < 0xf5)
			need = 4;
		else
			return 0;
		if (need > len - i)
			return 0;
		for (k = 1; k < need; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += need;
	}
	return 1;
}

static int
collect(void *arg, enum thinking_part part, const char *s, size_t len)
{
	struct out	*o = arg;

	if (part == THINKING_PART_THINKING_END ? len != 0 :
	    len == 0 || !utf8_whole(s, len))
		o->bad_piece = 1;
	if ((int)part != o->last || part == THINKING_PART_THINKING_END)
		buf_puts(&o->log, marks[part]);
	buf_append(&o->log, s, len);
	buf_cstr(&o->log);
	o->last = part;
	return o->stop_rc;
}

static void
out_init(struct out *o)
{
	memset(o, 0, sizeof(*o));
	o->last = -1;
	buf_cstr(&o->log);
}

/* Feeds in in slices of 1..max bytes (max 0: whole), then flushes. */
static char *
split(const char *in, size_t len, size_t max, uint32_t seed, int *bad)
{
	struct thinking_splitter	*ts;
	struct out			 o;
	size_t				 off = 0, n;

	out_init(&o);
	ts = thinking_new(collect, &o);
	while (off < len) {
		seed = seed * 1103515245u + 12345u;
		n = max == 0 ? len : 1 + (seed >> 16) % max;
		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(thinking_feed(ts, in + off, n), 0);
		off += n;
	}
	ck_assert_int_eq(thinking_flush(ts), 0);
	thinking_free(ts);
	*bad = o.bad_piece;
	return buf_detach(&o.log);
}

/* Feeds in cut in two at every position, then flushes. */
static char *
split_at(const char *in, size_t len, size_t at, int *bad)
{
	struct thinking_splitter	*ts;
	struct out			 o;

	out_init(&o);
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_feed(ts, in, at), 0);
	ck_assert_int_eq(thinking_feed(ts, in + at, len - at), 0);
	ck_assert_int_eq(thinking_flush(ts), 0);
	thinking_free(ts);
	*bad = o.bad_piece;
	return buf_detach(&o.log);
}

/* The transcript of in must be expected however in is sliced. */
static void
check_split(const char *in, const char *expected)
{
	static const size_t	 maxes[] = { 0, 1, 2, 3, 5, 8, 13, 32 };
	size_t			 len = strlen(in), i;
	uint32_t		 seed;
	char			*got;
	int			 bad;

	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
		for (seed = 1; seed <= (maxes[i] <= 1 ? 1 : 8); seed++) {
			got = split(in, len, maxes[i], seed, &bad);
			ck_assert_msg(strcmp(got, expected) == 0,
			    "input \"%s\" slices of <=%zu seed %u:\n got \"%s\""
			    "\nwant \"%s\"", in, maxes[i], seed, got, expected);
			ck_assert_msg(!bad, "bad piece for \"%s\"", in);
			free(got);
		}
	for (i = 0; i <= len; i++) {
		got = split_at(in, len, i, &bad);
		ck_assert_msg(strcmp(got, expected) == 0,
		    "input \"%s\" cut at %zu:\n got \"%s\"\nwant \"%s\"", in, i,
		    got, expected);
		ck_assert_msg(!bad, "bad piece for \"%s\" cut at %zu", in, i);
		free(got);
	}
}

START_TEST(spec_sample)
{
	struct thinking_splitter	*ts;
	struct out			 o;

	out_init(&o);
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_seen(ts), 0);
	ck_assert_int_eq(thinking_feed(ts, "<thinking>\nThe user wants", 25),
	    0);
	ck_assert_int_eq(thinking_seen(ts), 1);
	ck_assert_int_eq(thinking_feed(ts, " a greeting.</thinking>\n\nHi", 27),
	    0);
	ck_assert_int_eq(thinking_feed(ts, " there!", 7), 0);
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_str_eq(o.log.ptr,
	    "[K]The user wants a greeting.[E][T]Hi there!");
	ck_assert_int_eq(o.bad_piece, 0);
	thinking_free(ts);
	buf_free(&o.log);

	check_split("<thinking>\nThe user wants a greeting.</thinking>\n\nHi "
	    "there!", "[K]The user wants a greeting.[E][T]Hi there!");
}
END_TEST

START_TEST(start_tag_quoting)
{
	check_split("Use `<thinking>` tags", "[T]Use `<thinking>` tags");
	check_split("say \"<thinking>\" here", "[T]say \"<thinking>\" here");
	/* A quote on one side is enough. */
	check_split("(<thinking> x", "[T](<thinking> x");
	check_split("x <thinking>) y", "[T]x <thinking>) y");
	check_split("<<thinking>\nx", "[T]<<thinking>\nx");
	check_split("<thinking>.", "[T]<thinking>.");
	/* Letters and spaces are not quotes. */
	check_split("a <thinking>\nb</thinking>\n\nc", "[T]a [K]b[E][T]c");
	check_split("x<thinking>y</thinking>\n\nz", "[T]x[K]y[E][T]z");
	/* A quoted tag, then a real one. */
	check_split("`<thinking>` then <thinking>\nreal</thinking>\n\nanswer",
	    "[T]`<thinking>` then [K]real[E][T]answer");
	/* An end tag before any start tag is text. */
	check_split("a</thinking>\n\nb", "[T]a</thinking>\n\nb");
}
END_TEST

START_TEST(end_tag_quoting)
{
	/* A quoted mention is followed by its closing quote: no end. */
	check_split("<thinking>\nsee `</thinking>`\n\nok</thinking>\n\nAnswer",
	    "[K]see `</thinking>`\n\nok[E][T]Answer");
	check_split("<thinking>\nx \"</thinking>\"\n\ny",
	    "[K]x \"</thinking>\"\n\ny[E]");
	check_split("<thinking>\nx</thinking>'", "[K]x</thinking>'[E]");
	/*
	 * Punctuation before it is how thinking ends ("a greeting." in the
	 * §6.2 sample), so the character before does not quote the end tag.
	 */
	check_split("<thinking>\nx.</thinking>\n\ny", "[K]x.[E][T]y");
	check_split("<thinking>\nrun `ls`</thinking>\n\ny",
	    "[K]run `ls`[E][T]y");
	check_split("<thinking>\n(x)</thinking>", "[K](x)[E]");
}
END_TEST

START_TEST(end_tag_needs_blank_line)
{
	check_split("<thinking>\nabc</thinking>def</thinking>\n\nxyz",
	    "[K]abc</thinking>def[E][T]xyz");
	check_split("<thinking>\nabc</thinking>\ndef</thinking>\n\nxyz",
	    "[K]abc</thinking>\ndef[E][T]xyz");
	check_split("<thinking>\nabc</thinking> \n\nmore",
	    "[K]abc</thinking> \n\nmore[E]");
	/* The "\n\n" is consumed, a third "\n" is text. */
	check_split("<thinking>\nabc</thinking>\n\n\nxyz",
	    "[K]abc[E][T]\nxyz");
}
END_TEST

START_TEST(end_tag_and_white_space_at_flush)
{
	struct thinking_splitter	*ts;
	struct out			 o;

	check_split("<thinking>\nabc</thinking>", "[K]abc[E]");
	check_split("<thinking>\nabc</thinking>\n", "[K]abc[E]");
	check_split("<thinking>\nabc</thinking> \n\t \r\n", "[K]abc[E]");
	check_split("<thinking>\nabc</thinking> \nmore",
	    "[K]abc</thinking> \nmore[E]");

	/* A flush before a tool call, then more text. */
	out_init(&o);
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_feed(ts, "<thinking>\nabc</thinking>\n", 26),
	    0);
	ck_assert_str_eq(o.log.ptr, "[K]abc");
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_str_eq(o.log.ptr, "[K]abc[E]");
	ck_assert_int_eq(thinking_feed(ts, "Done", 4), 0);
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_str_eq(o.log.ptr, "[K]abc[E][T]Done");
	thinking_free(ts);
	buf_free(&o.log);
}
END_TEST

START_TEST(only_first_block)
{
	check_split("<thinking>a</thinking>\n\nHi <thinking>b</thinking>\n\nbye",
	    "[K]a[E][T]Hi <thinking>b</thinking>\n\nbye");
	check_split("<thinking>\na</thinking>\n\n<thinking>\nb</thinking>\n\n",
	    "[K]a[E][T]<thinking>\nb</thinking>\n\n");
}
END_TEST

START_TEST(text_before_start_tag)
{
	/* Blank text before the tag is dropped. */
	check_split("\n\n  <thinking>\nx</thinking>\n\ny", "[K]x[E][T]y");
	check_split(" \t\r\n<thinking>x</thinking>\n\n", "[K]x[E]");
	/* Other text is kept, white space and all. */
	check_split("Hello\n<thinking>\nx</thinking>\n\ny",
	    "[T]Hello\n[K]x[E][T]y");
	check_split("\n\nHello <thinking>x</thinking>\n\n",
	    "[T]\n\nHello [K]x[E]");
	/* No tag: everything is text, blank or not. */
	check_split("Just an answer.", "[T]Just an answer.");
	check_split("\n\n", "[T]\n\n");
	check_split("\n\n<thinkin", "[T]\n\n<thinkin");
}
END_TEST

START_TEST(one_newline_stripped)
{
	check_split("<thinking>\n\nx</thinking>\n\n", "[K]\nx[E]");
	check_split("<thinking>x</thinking>\n\n", "[K]x[E]");
	/* "<" right after the start tag quotes it. */
	check_split("<thinking></thinking>\n\nX",
	    "[T]<thinking></thinking>\n\nX");
	check_split("<thinking>\n</thinking>\n\nX", "[E][T]X");
}
END_TEST

START_TEST(utf8_never_split)
{
	check_split("\xc3\xa9<thinking>\n\xe6\x80\x9d\xe8\x80\x83"
	    "\xf0\x9f\x99\x82</thinking>\n\n\xe7\xad\x94\xc3\xa9",
	    "[T]\xc3\xa9[K]\xe6\x80\x9d\xe8\x80\x83\xf0\x9f\x99\x82[E]"
	    "[T]\xe7\xad\x94\xc3\xa9");
	check_split("\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x99\x82\xc3\xa9",
	    "[T]\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x99\x82\xc3\xa9");
	check_split("<thinking>\xf0\x9f\x99\x82\xf0\x9f\x99\x82</thinking>\n\n"
	    "\xf0\x9f\x99\x82", "[K]\xf0\x9f\x99\x82\xf0\x9f\x99\x82[E]"
	    "[T]\xf0\x9f\x99\x82");
	/* Multi-byte characters right against partial tags. */
	check_split("\xc3\xa9<thinkin\xc3\xa9", "[T]\xc3\xa9<thinkin\xc3\xa9");
	check_split("<thinking>\xc3\xa9</thinkin\xc3\xa9",
	    "[K]\xc3\xa9</thinkin\xc3\xa9[E]");
	check_split("<thinking>a</thinking>\n\xc3\xa9",
	    "[K]a</thinking>\n\xc3\xa9[E]");
}
END_TEST

START_TEST(flush_closes_open_block)
{
	struct thinking_splitter	*ts;
	struct out			 o;

	check_split("<thinking>\npartial", "[K]partial[E]");
	/* A tag at the very end has no neighbour after it: it counts. */
	check_split("<thinking>", "[E]");
	check_split("abc <thinking>", "[T]abc [E]");

	out_init(&o);
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_feed(ts, "<thinking>\npartial", 18), 0);
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_int_eq(thinking_feed(ts, "after <thinking>x", 17), 0);
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_str_eq(o.log.ptr, "[K]partial[E][T]after <thinking>x");
	ck_assert_int_eq(thinking_seen(ts), 1);
	thinking_free(ts);
	buf_free(&o.log);

	/* A flush with no tag yet releases the held bytes as text. */
	out_init(&o);
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_feed(ts, "Hello <thin", 11), 0);
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello <thin");
	ck_assert_int_eq(thinking_flush(ts), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello <thin");
	ck_assert_int_eq(thinking_seen(ts), 0);
	thinking_free(ts);
	buf_free(&o.log);
}
END_TEST

START_TEST(holds_back_only_possible_tags)
{
	struct thinking_splitter	*ts;
	struct out			 o;

	out_init(&o);
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_feed(ts, "Hello wor", 9), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello wor");
	ck_assert_int_eq(thinking_feed(ts, "ld <thi", 7), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello world ");
	/* A whole tag waits for the character after it. */
	ck_assert_int_eq(thinking_feed(ts, "nking>", 6), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello world ");
	ck_assert_int_eq(thinking_feed(ts, "\nabc</thi", 9), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello world [K]abc");
	ck_assert_int_eq(thinking_feed(ts, "nking>\n", 7), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello world [K]abc");
	ck_assert_int_eq(thinking_feed(ts, "x", 1), 0);
	ck_assert_str_eq(o.log.ptr, "[T]Hello world [K]abc</thinking>\nx");
	ck_assert_int_eq(thinking_feed(ts, "</thinking>\n\nok", 15), 0);
	ck_assert_str_eq(o.log.ptr,
	    "[T]Hello world [K]abc</thinking>\nx[E][T]ok");
	/* After the block nothing is held but a cut UTF-8 sequence. */
	ck_assert_int_eq(thinking_feed(ts, " <thinking> \xe6\x97", 14), 0);
	ck_assert_str_eq(o.log.ptr,
	    "[T]Hello world [K]abc</thinking>\nx[E][T]ok <thinking> ");
	ck_assert_int_eq(thinking_feed(ts, "\xa5", 1), 0);
	ck_assert_str_eq(o.log.ptr,
	    "[T]Hello world [K]abc</thinking>\nx[E][T]ok <thinking> "
	    "\xe6\x97\xa5");
	thinking_free(ts);
	buf_free(&o.log);
}
END_TEST

START_TEST(callback_return_value)
{
	struct thinking_splitter	*ts;
	struct out			 o;
	const char			*in = "pre <thinking>\nabc</thinking>\n\nHi";
	int				 rc, n = 0;

	/* A callback that always says stop still gets everything in order. */
	out_init(&o);
	o.stop_rc = 7;
	ts = thinking_new(collect, &o);
	ck_assert_int_eq(thinking_feed(ts, in, strlen(in)), 7);
	while ((rc = thinking_flush(ts)) != 0) {
		ck_assert_int_eq(rc, 7);
		ck_assert_int_lt(++n, 10);
	}
	ck_assert_str_eq(o.log.ptr, "[T]pre [K]abc[E][T]Hi");
	thinking_free(ts);
	buf_free(&o.log);
	thinking_free(NULL);
}
END_TEST

/*
 * Random texts built from tag pieces, quotes, blanks and multi-byte
 * characters: the transcript fed whole is the reference for byte-by-byte
 * and random slicings.
 */
START_TEST(slicing_invariance_random_texts)
{
	static const char *const	 pieces[] = { "<thinking>",
	    "</thinking>", "<thinking>\n", "</thinking>\n\n", "\n", "\n\n",
	    " ", "x", "Hi", "`", ".", "\"", "<", "</", "<thi", "</thinking",
	    "\xc3\xa9", "\xf0\x9f\x99\x82", "\xe6\x80\x9d", "\t" };
	struct buf			 in = BUF_INIT;
	uint32_t			 seed = 12345, k;
	size_t				 n, i, max;
	char				*ref, *got;
	int				 bad;

	for (k = 0; k < 1500; k++) {
		buf_reset(&in);
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 16;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf_puts(&in, pieces[(seed >> 16) %
			    (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		ref = split(in.ptr, in.len, 0, 1, &bad);
		ck_assert_msg(!bad, "bad piece for \"%s\"", in.ptr);
		for (max = 1; max <= 7; max += 3) {
			got = split(in.ptr, in.len, max, k, &bad);
			ck_assert_msg(strcmp(got, ref) == 0, "input \"%s\" "
			    "slices of <=%zu:\n got \"%s\"\nwant \"%s\"",
			    in.ptr, max, got, ref);
			ck_assert_msg(!bad, "bad piece for \"%s\"", in.ptr);
			free(got);
		}
		free(ref);
	}
	buf_free(&in);
}
END_TEST

static Suite *
thinking_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("thinking");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, spec_sample);
	tcase_add_test(tc, start_tag_quoting);
	tcase_add_test(tc, end_tag_quoting);
	tcase_add_test(tc, end_tag_needs_blank_line);
	tcase_add_test(tc, end_tag_and_white_space_at_flush);
	tcase_add_test(tc, only_first_block);
	tcase_add_test(tc, text_before_start_tag);
	tcase_add_test(tc, one_newline_stripped);
	tcase_add_test(tc, utf8_never_split);
	tcase_add_test(tc, flush_closes_open_block);
	tcase_add_test(tc, holds_back_only_possible_tags);
	tcase_add_test(tc, callback_return_value);
	tcase_add_test(tc, slicing_invariance_random_texts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(thinking_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
