/* stopseq.h: find stop sequences in streamed text. */
#ifndef STOPSEQ_H
#define STOPSEQ_H

#include <stddef.h>

/*
 * Text arrives in fragments; stopseq_feed says which of it may go to the
 * client now.  It holds back the longest tail that could still become a
 * stop sequence, and never splits a UTF-8 character (an incomplete
 * character at the end is held too).  After a match, the text before the
 * sequence is emitted, the sequence and everything after it are dropped,
 * and later feeds emit nothing.
 */
struct stopseq;

/*
 * The sequences are borrowed and must not change (their lengths and
 * search tables are computed here; empty ones are ignored); NULL when
 * none.  The request caps (conv.h) bound their number and length.
 */
struct stopseq	*stopseq_new(char *const *seqs, size_t n);
void		 stopseq_free(struct stopseq *);	/* NULL ok */
/* Forgets everything fed, and any match, for a new answer. */
void		 stopseq_reset(struct stopseq *);

/*
 * Feeds len bytes.  *out and *out_len get what may be emitted now (valid
 * until the next call).  Returns the index of the sequence that matched
 * (of those completed by these bytes, the earliest in the text; at one
 * position, the first given), or -1.  Each byte costs one step per
 * sequence, whatever the fragments (tables made by stopseq_new).
 */
int		 stopseq_feed(struct stopseq *, const char *s, size_t len,
		    const char **out, size_t *out_len);
/* At the end of the text: what was held back, to emit as is. */
void		 stopseq_flush(struct stopseq *, const char **out,
		    size_t *out_len);
/* The sequence that matched, or NULL. */
const char	*stopseq_matched(const struct stopseq *);

#endif
