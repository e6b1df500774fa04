/* thinking.c: split <thinking>...</thinking> out of streamed text (§6.2). */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "thinking.h"
#include "xmalloc.h"

#define START_TAG	"<thinking>"
#define START_LEN	(sizeof(START_TAG) - 1)
#define END_TAG		"</thinking>"
#define END_LEN		(sizeof(END_TAG) - 1)

/* Characters that make a tag next to them a quotation (kiro.rs). */
static const char quote_chars[] = "`\"'\\#!@$%^&*()-_=+[]{};:<>,.?/";

enum splitter_state {
	STATE_SEARCH,		/* looking for the first real start tag */
	STATE_INSIDE,		/* in the thinking block */
	STATE_DONE		/* after the block: everything is text */
};

/*
 * Only held is buffered: the bytes that might still turn out to be part of
 * a tag (or a cut UTF-8 sequence), plus white space whose fate depends on
 * what follows it.  Every decision looks at the real neighbours of a tag in
 * the whole stream (prev keeps the byte before held), never at where a
 * delta happened to end, so the output does not depend on the slicing.
 */
struct thinking_splitter {
	thinking_emit_fn	 emit;
	void			*arg;
	struct buf		 held;
	enum splitter_state	 state;
	int			 prev;		/* byte before held, -1: none */
	int			 opened;	/* a block was opened */
	int			 strip_nl;	/* drop a "\n" at held[0] */
	int			 seg_blank;	/* SEARCH: only blanks since the
						 * start or the last flush */
	size_t			 scanned;	/* SEARCH: held bytes known to be
						 * blank; INSIDE: blanks known to
						 * follow an end tag at held[0] */
};

static int
is_quote(int c)
{
	return c > 0 && memchr(quote_chars, c, sizeof(quote_chars) - 1) !=
	    NULL;
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/*
 * Where an unfinished UTF-8 sequence at the end of p starts, or len if
 * there is none.  Broken sequences are let through: holding them would not
 * make them whole.
 */
static size_t
utf8_cut(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, need;

	for (i = len; i > 0 && len - i < 4; i--) {
		if ((p[i - 1] & 0xc0) == 0x80)
			continue;
		if (p[i - 1] >= 0xf8 || p[i - 1] < 0xc0)
			return len;
		need = p[i - 1] >= 0xf0 ? 4 : p[i - 1] >= 0xe0 ? 3 : 2;
		return len - (i - 1) < need ? i - 1 : len;
	}
	return len;
}

/* Where the longest suffix of p that begins tag (but is shorter) starts. */
static size_t
partial_tag(const char *p, size_t len, const char *tag, size_t tag_len)
{
	size_t	k;

	for (k = len < tag_len - 1 ? len : tag_len - 1; k > 0; k--)
		if (memcmp(p + len - k, tag, k) == 0)
			return len - k;
	return len;
}

static size_t
blank_span(const char *p, size_t from, size_t len)
{
	while (from < len && is_blank((unsigned char)p[from]))
		from++;
	return from;
}

/* Hands out the first n held bytes (unless n is 0) and drops them. */
static int
give(struct thinking_splitter *ts, enum thinking_part part, size_t n)
{
	int	rc = 0;

	if (n == 0)
		return 0;
	rc = ts->emit(ts->arg, part, ts->held.ptr, n);
	ts->prev = (unsigned char)ts->held.ptr[n - 1];
	buf_consume(&ts->held, n);
	ts->scanned = 0;
	return rc;
}

static void
drop(struct thinking_splitter *ts, size_t n)
{
	if (n == 0)
		return;
	ts->prev = (unsigned char)ts->held.ptr[n - 1];
	buf_consume(&ts->held, n);
	ts->scanned = 0;
}

/* The start tag at held[at] is real: text before it, then the block. */
static int
open_block(struct thinking_splitter *ts, size_t at)
{
	int	rc;

	/* Blank text before the tag (adaptive mode's "\n\n") is dropped. */
	if (ts->seg_blank && blank_span(ts->held.ptr, ts->scanned, at) == at)
		drop(ts, at);
	else if ((rc = give(ts, THINKING_PART_TEXT, at)) != 0)
		return rc;
	drop(ts, START_LEN);
	ts->state = STATE_INSIDE;
	ts->opened = 1;
	ts->strip_nl = 1;
	ts->seg_blank = 0;
	return 0;
}

static int
run_search(struct thinking_splitter *ts, int final)
{
	const char	*p = ts->held.ptr, *q;
	size_t		 len = ts->held.len, from = ts->scanned, at;
	size_t		 hold = len;
	int		 before, after, rc;

	while (from < len &&
	    (q = memmem(p + from, len - from, START_TAG, START_LEN)) != NULL) {
		at = q - p;
		before = at > 0 ? (unsigned char)p[at - 1] : ts->prev;
		if (at + START_LEN < len)
			after = (unsigned char)p[at + START_LEN];
		else if (final)
			after = -1;
		else {
			/* The character after it decides: wait for it. */
			if (!is_quote(before))
				hold = at;
			break;
		}
		if (!is_quote(before) && !is_quote(after))
			return open_block(ts, at);
		from = at + 1;
	}

	if (final) {
		rc = give(ts, THINKING_PART_TEXT, len);
		ts->seg_blank = 1;
		return rc;
	}
	if (hold == len)
		hold = partial_tag(p, len, START_TAG, START_LEN);
	if (hold == len)
		hold = utf8_cut(p, len);
	if (ts->seg_blank) {
		if (blank_span(p, ts->scanned, hold) == hold) {
			/* Dropped if a tag follows, so keep it for now. */
			ts->scanned = hold;
			return 0;
		}
		ts->seg_blank = 0;
	}
	return give(ts, THINKING_PART_TEXT, hold);
}

/* Ends the block at held[at], dropping the tag and skip - at bytes. */
static int
close_block(struct thinking_splitter *ts, size_t at, size_t skip)
{
	int	rc;

	if ((rc = give(ts, THINKING_PART_THINKING, at)) != 0)
		return rc;
	rc = ts->emit(ts->arg, THINKING_PART_THINKING_END, "", 0);
	drop(ts, skip - at);
	ts->state = STATE_DONE;
	return rc;
}

static int
run_inside(struct thinking_splitter *ts, int final)
{
	const char	*p, *q;
	size_t		 len, from = 0, at, rest, end;
	size_t		 hold;

	/* One "\n" right after the start tag is layout, not content. */
	if (ts->strip_nl) {
		if (ts->held.len == 0 && !final)
			return 0;
		if (ts->held.len > 0 && ts->held.ptr[0] == '\n')
			buf_consume(&ts->held, 1);
		ts->strip_nl = 0;
	}
	p = ts->held.ptr;
	len = ts->held.len;
	hold = len;

	/*
	 * "Unquoted" for the end tag is the "\n\n" (or, at a flush, the
	 * white space) after it: a quoted mention, `</thinking>`, is followed
	 * by its closing quote.  The character before is not checked, unlike
	 * kiro.rs: thinking routinely ends in "." or ")" or "`", and kiro.rs's
	 * check would keep "...a greeting.</thinking>\n\n" (the §6.2 sample)
	 * open and swallow the whole answer as thinking.
	 */
	while (from < len &&
	    (q = memmem(p + from, len - from, END_TAG, END_LEN)) != NULL) {
		at = q - p;
		rest = at + END_LEN;
		if (len - rest >= 2 && p[rest] == '\n' && p[rest + 1] == '\n')
			return close_block(ts, at, rest + 2);
		/*
		 * Followed by nothing but white space so far: at a flush that
		 * is an end; otherwise "\n\n" or more text will decide.
		 */
		end = blank_span(p, rest + (at == 0 ? ts->scanned : 0), len);
		if (end == len) {
			if (final)
				return close_block(ts, at, len);
			if (at == 0)
				ts->scanned = len - rest;
			hold = at;
			break;
		}
		from = at + 1;
	}

	if (final)
		return close_block(ts, len, len);
	if (hold == len)
		hold = partial_tag(p, len, END_TAG, END_LEN);
	if (hold == len)
		hold = utf8_cut(p, len);
	return give(ts, THINKING_PART_THINKING, hold);
}

static int
run_done(struct thinking_splitter *ts, int final)
{
	size_t	n;

	n = final ? ts->held.len : utf8_cut(ts->held.ptr, ts->held.len);
	return give(ts, THINKING_PART_TEXT, n);
}

/* Steps through the states until one has nothing more to do. */
static int
run(struct thinking_splitter *ts, int final)
{
	enum splitter_state	state;
	int			rc;

	for (;;) {
		state = ts->state;
		switch (state) {
		case STATE_SEARCH:
			rc = run_search(ts, final);
			break;
		case STATE_INSIDE:
			rc = run_inside(ts, final);
			break;
		default:
			return run_done(ts, final);
		}
		if (rc != 0 || ts->state == state)
			return rc;
	}
}

struct thinking_splitter *
thinking_new(thinking_emit_fn emit, void *arg)
{
	struct thinking_splitter	*ts;

	ts = xcalloc(1, sizeof(*ts));
	ts->emit = emit;
	ts->arg = arg;
	ts->state = STATE_SEARCH;
	ts->prev = -1;
	ts->seg_blank = 1;
	return ts;
}

void
thinking_free(struct thinking_splitter *ts)
{
	if (ts == NULL)
		return;
	buf_free(&ts->held);
	free(ts);
}

int
thinking_feed(struct thinking_splitter *ts, const char *s, size_t len)
{
	if (len == 0)
		return 0;
	buf_append(&ts->held, s, len);
	return run(ts, 0);
}

int
thinking_flush(struct thinking_splitter *ts)
{
	buf_cstr(&ts->held);
	return run(ts, 1);
}

int
thinking_seen(const struct thinking_splitter *ts)
{
	return ts->opened;
}
