/* thinking.h: split <thinking>...</thinking> out of streamed text (§6.2). */
#ifndef THINKING_H
#define THINKING_H

#include <stddef.h>

/*
 * When thinking is on, Kiro's model writes its reasoning inline in the text
 * deltas: "<thinking>\n...</thinking>\n\nanswer".  The splitter is fed those
 * deltas as they arrive and emits text and thinking pieces, holding back only
 * the few bytes that might be the start of a tag (doc/protocol.md §6.2):
 *
 *  - a start tag counts only when the characters on both sides of it are not
 *    quote-like or punctuation (` " ' \ # ! @ $ % ^ & * ( ) - _ = + [ ] { }
 *    ; : < > , . ? /); one "\n" right after it is dropped; non-blank text
 *    before it is emitted as text, blank text is dropped;
 *  - an end tag counts only when unquoted and followed by "\n\n", which is
 *    consumed with it; at a flush, an end tag followed only by white space
 *    counts too;
 *  - only the first thinking block is extracted; later tags are text;
 *  - pieces are never split inside a UTF-8 sequence.
 */

enum thinking_part {
	THINKING_PART_TEXT,		/* answer text */
	THINKING_PART_THINKING,		/* reasoning text */
	THINKING_PART_THINKING_END,	/* the thinking block closed (len 0) */
	THINKING_PART__MAX
};

/* Receives each piece (never empty except THINKING_END); non-zero stops. */
typedef int (*thinking_emit_fn)(void *arg, enum thinking_part,
    const char *s, size_t len);

struct thinking_splitter;

struct thinking_splitter	*thinking_new(thinking_emit_fn, void *arg);
void				 thinking_free(struct thinking_splitter *);

/* Feeds one text delta; returns 0 or the first non-zero emit return. */
int	thinking_feed(struct thinking_splitter *, const char *s, size_t len);
/*
 * A boundary: a tool call is about to start, or the stream ended.  Releases
 * what was held back.  A thinking block still open is closed (END emitted);
 * text after it is plain text.  Returns 0 or the first non-zero emit return.
 */
int	thinking_flush(struct thinking_splitter *);
/* 1 once a thinking block has been opened. */
int	thinking_seen(const struct thinking_splitter *);

#endif
