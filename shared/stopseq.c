/* stopseq.c: find stop sequences in streamed text. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stopseq.h"
#include "xmalloc.h"

/*
 * Each sequence is searched with its Knuth-Morris-Pratt table, made once,
 * and a state kept across fragments: the length of the longest tail of
 * the text so far that is a prefix of the sequence.  So each byte is
 * looked at once per sequence, however the text is cut (the naive search
 * rescanned the held text and compared whole sequences at every
 * position), and the state is also what must be held back.
 */
struct seq {
	const char	*text;		/* borrowed */
	size_t		 len;		/* 0: empty, ignored */
	size_t		*border;	/* [j]: longest proper border of text[0..j] */
	size_t		 state;		/* matched prefix, < len */
};

struct stopseq {
	char *const	*seqs;
	struct seq	*s;
	size_t		 n;
	struct buf	 pending;	/* held back: a possible partial match */
	struct buf	 out;		/* what the last call lets through */
	int		 matched;	/* index, or -1 */
};

#define NO_MATCH	((size_t)-1)

static void
seq_init(struct seq *q, const char *text)
{
	size_t	j, k = 0;

	q->text = text;
	q->len = text != NULL ? strlen(text) : 0;
	if (q->len == 0)
		return;
	q->border = xreallocarray(NULL, q->len, sizeof(*q->border));
	q->border[0] = 0;
	for (j = 1; j < q->len; j++) {
		while (k > 0 && text[j] != text[k])
			k = q->border[k - 1];
		if (text[j] == text[k])
			k++;
		q->border[j] = k;
	}
}

/* Runs s through q: the offset in s just past q's first match, or NO_MATCH. */
static size_t
seq_feed(struct seq *q, const char *s, size_t len)
{
	size_t	i, k = q->state;

	for (i = 0; i < len; i++) {
		while (k > 0 && s[i] != q->text[k])
			k = q->border[k - 1];
		if (s[i] == q->text[k] && ++k == q->len) {
			q->state = 0;
			return i + 1;
		}
	}
	q->state = k;
	return NO_MATCH;
}

struct stopseq *
stopseq_new(char *const *seqs, size_t n)
{
	struct stopseq	*ss;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (seqs[i] != NULL && seqs[i][0] != '\0')
			break;
	if (i == n)
		return NULL;
	ss = xcalloc(1, sizeof(*ss));
	ss->seqs = seqs;
	ss->n = n;
	ss->s = xcalloc(n, sizeof(*ss->s));
	for (i = 0; i < n; i++)
		seq_init(&ss->s[i], seqs[i]);
	ss->matched = -1;
	return ss;
}

void
stopseq_free(struct stopseq *ss)
{
	size_t	i;

	if (ss == NULL)
		return;
	for (i = 0; i < ss->n; i++)
		free(ss->s[i].border);
	free(ss->s);
	buf_free(&ss->pending);
	buf_free(&ss->out);
	free(ss);
}

void
stopseq_reset(struct stopseq *ss)
{
	size_t	i;

	buf_reset(&ss->pending);
	buf_reset(&ss->out);
	for (i = 0; i < ss->n; i++)
		ss->s[i].state = 0;
	ss->matched = -1;
}

/* Moves cut back so that s[0..cut) ends on a UTF-8 character boundary. */
static size_t
utf8_boundary(const char *s, size_t cut)
{
	size_t		j = cut, need;
	unsigned char	c;

	while (j > 0 && ((unsigned char)s[j - 1] & 0xc0) == 0x80 &&
	    cut - j < 3)
		j--;
	if (j == 0 || (c = (unsigned char)s[j - 1]) < 0xc0)
		return cut;	/* ASCII, or not UTF-8: cut anywhere */
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return j - 1 + need > cut ? j - 1 : cut;
}

int
stopseq_feed(struct stopseq *ss, const char *s, size_t len, const char **out,
    size_t *out_len)
{
	size_t	 i, end, at, best = NO_MATCH, keep = 0, cut, before;
	int	 which = -1;

	buf_reset(&ss->out);
	*out = "";
	*out_len = 0;
	if (ss->matched >= 0)
		return -1;
	/* Held text is never shorter than any state: a match starts in it. */
	before = ss->pending.len;
	buf_append(&ss->pending, s, len);
	for (i = 0; i < ss->n; i++) {
		if (ss->s[i].len == 0)
			continue;
		if ((end = seq_feed(&ss->s[i], s, len)) != NO_MATCH) {
			at = before + end - ss->s[i].len;
			if (best == NO_MATCH || at < best) {
				best = at;
				which = (int)i;
			}
		} else if (ss->s[i].state > keep)
			keep = ss->s[i].state;
	}
	if (best != NO_MATCH) {
		ss->matched = which;
		buf_append(&ss->out, ss->pending.ptr, best);
		buf_reset(&ss->pending);
	} else {
		cut = utf8_boundary(ss->pending.ptr,
		    ss->pending.len - keep);
		buf_append(&ss->out, ss->pending.ptr, cut);
		buf_consume(&ss->pending, cut);
	}
	if (ss->out.len > 0) {
		*out = ss->out.ptr;
		*out_len = ss->out.len;
	}
	return which;
}

void
stopseq_flush(struct stopseq *ss, const char **out, size_t *out_len)
{
	buf_reset(&ss->out);
	buf_append(&ss->out, ss->pending.ptr, ss->pending.len);
	buf_reset(&ss->pending);
	*out = ss->out.len > 0 ? ss->out.ptr : "";
	*out_len = ss->out.len;
}

const char *
stopseq_matched(const struct stopseq *ss)
{
	return ss != NULL && ss->matched >= 0 ? ss->seqs[ss->matched] : NULL;
}
