/* stopseq.c: find stop sequences in streamed text. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stopseq.h"
#include "xmalloc.h"

struct stopseq {
	char *const	*seqs;
	size_t		 n;
	struct buf	 pending;	/* held back: a possible partial match */
	struct buf	 out;		/* what the last call lets through */
	int		 matched;	/* index, or -1 */
};

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
	ss->matched = -1;
	return ss;
}

void
stopseq_free(struct stopseq *ss)
{
	if (ss == NULL)
		return;
	buf_free(&ss->pending);
	buf_free(&ss->out);
	free(ss);
}

void
stopseq_reset(struct stopseq *ss)
{
	buf_reset(&ss->pending);
	buf_reset(&ss->out);
	ss->matched = -1;
}

/* The first occurrence of needle in hay, or NULL. */
static const char *
find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	size_t	i;

	if (nlen > hlen)
		return NULL;
	for (i = 0; i + nlen <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

/* The longest tail of s that is a proper prefix of some sequence. */
static size_t
partial_tail(const struct stopseq *ss, const char *s, size_t len)
{
	size_t	i, k, best = 0, slen;

	for (i = 0; i < ss->n; i++) {
		if (ss->seqs[i] == NULL)
			continue;
		slen = strlen(ss->seqs[i]);
		for (k = slen - (slen > 0); k > best; k--)
			if (k <= len && memcmp(s + len - k, ss->seqs[i], k) ==
			    0)
				break;
		if (k > best)
			best = k;
	}
	return best;
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
	const char	*hit, *best = NULL;
	size_t		 i, keep, cut;
	int		 which = -1;

	buf_reset(&ss->out);
	*out = "";
	*out_len = 0;
	if (ss->matched >= 0)
		return -1;
	buf_append(&ss->pending, s, len);
	for (i = 0; i < ss->n; i++) {
		if (ss->seqs[i] == NULL || ss->seqs[i][0] == '\0')
			continue;
		hit = find(ss->pending.ptr, ss->pending.len, ss->seqs[i],
		    strlen(ss->seqs[i]));
		if (hit != NULL && (best == NULL || hit < best)) {
			best = hit;
			which = (int)i;
		}
	}
	if (best != NULL) {
		ss->matched = which;
		buf_append(&ss->out, ss->pending.ptr,
		    (size_t)(best - ss->pending.ptr));
		buf_reset(&ss->pending);
	} else {
		keep = partial_tail(ss, ss->pending.ptr, ss->pending.len);
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
