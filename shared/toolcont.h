/* toolcont.h: tool calls cut off mid-input are held, continued and spliced. */
#ifndef TOOLCONT_H
#define TOOLCONT_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "err.h"
#include "sink.h"

/*
 * A JSON-completeness scanner: fed a tool call's input in pieces, it says
 * whether the bytes so far hold one whole JSON object, still need more, or
 * can never be one.  Linear: each byte is looked at once, whatever the
 * split.  It checks what decides completeness (strings, escapes, \u with
 * four hex digits, raw control bytes in strings, bracket nesting and
 * matching, up to TOOLCONT_MAX_DEPTH); the spelling of numbers and
 * literals is left to the parser that reads the finished value.
 */
#define TOOLCONT_MAX_DEPTH	256

enum toolcont_scan_state {
	TOOLCONT_SCAN_MORE,		/* not complete yet */
	TOOLCONT_SCAN_DONE,		/* one whole object: see end */
	TOOLCONT_SCAN_BAD,		/* can never become one */
	TOOLCONT_SCAN__MAX
};

struct toolcont_scan {
	enum toolcont_scan_state state;
	size_t		 fed;		/* bytes consumed so far */
	size_t		 end;		/* DONE: offset just past the '}' */
	size_t		 depth;
	int		 begun;		/* the top-level '{' was seen */
	int		 in_string;
	int		 escape;	/* after a backslash */
	int		 hex_left;	/* \u digits still due */
	unsigned char	 stack[TOOLCONT_MAX_DEPTH];	/* '{' or '[' */
};

void	toolcont_scan_init(struct toolcont_scan *);
/* Feeds len bytes; once DONE or BAD further bytes change nothing. */
enum toolcont_scan_state toolcont_scan_feed(struct toolcont_scan *,
	    const char *, size_t len);

/*
 * When Kiro's answer stops in the middle of a tool call's input (its
 * output limit, a stream that ends or breaks before the call's stop), the
 * client must never get a partial or invalid input.  The relay puts a
 * toolcont sink between itself and the front end's sink:
 *
 *  - each tool call is held here until its input is one whole JSON object
 *    (the scanner above), then goes out at once: tool_start, its input
 *    in the fragments Kiro sent (cut at the object's end), tool_end.  Why hold rather than
 *    stream the input as it comes: no client API can withdraw a call
 *    whose input deltas have gone out (Anthropic input_json_delta, OpenAI
 *    arguments deltas, Responses function_call_arguments.delta, Gemini
 *    functionCall parts), so the only way to never show a broken call is
 *    never to show a part of one; the cost is that a large call reaches
 *    the client when it is complete, not byte by byte.  Pings keep a
 *    streaming client's connection alive meanwhile.  Text and thinking
 *    stream through as before;
 *  - an answer that ends (finish) or breaks (error) while a call is held
 *    incomplete is not passed on: toolcont_pending says so.  The caller
 *    then sends the same conversation plus toolcont_add_turns (an
 *    assistant turn holding the partial input as text and a user turn
 *    asking to continue from exactly there) through the same sink: that
 *    answer's text is spliced into the call's input (a leading code
 *    fence is dropped, anything after the object's end ignored); should
 *    it rather start the object over in its text, or call the same tool
 *    again, that whole input replaces the cut one (under the first id);
 *    its other calls and thinking are dropped, and its start is not
 *    repeated;
 *  - toolcont_give_up ends the answer when no continuation is left: a
 *    stream that broke ends with its error, any other cut with
 *    max_tokens, and the incomplete call is never sent.
 *
 * While a call is held with input and may_continue is set, the sink says
 * committed, so that the relay reports a broken stream to it (which
 * continues the call) rather than retrying the whole answer; without
 * continuations the relay retries as it always did while nothing has
 * reached the client.
 */
struct toolcont;

/* A continuation's input may grow to this; past it the call is dropped. */
#define TOOLCONT_MAX_INPUT	(8 * 1024 * 1024)
/* A held call keeps its fragments' boundaries up to this many. */
#define TOOLCONT_MAX_FRAGMENTS	65536
/* toolContinuations above this are taken as this. */
#define TOOLCONT_MAX_CONTINUATIONS	8

struct toolcont	*toolcont_new(struct sink *inner, int64_t ping_interval_ms,
		    int may_continue);
void		 toolcont_free(struct toolcont *);	/* NULL ok */
/* The sink for the relay. */
struct sink	*toolcont_sink(struct toolcont *);
/* 1 when the last answer left a call incomplete: continue or give up. */
int		 toolcont_pending(const struct toolcont *);
/* The cut call's name and the bytes of input it has (for logs). */
const char	*toolcont_cut_name(const struct toolcont *);
size_t		 toolcont_cut_bytes(const struct toolcont *);
/* 1 when the cut came from a broken stream (an error), 0 from an end. */
int		 toolcont_cut_broke(const struct toolcont *);
/*
 * Appends the continuation turns to conv and prepares for the
 * continuation answer; returns the message count before them, for
 * toolcont_remove_turns.
 */
size_t		 toolcont_add_turns(struct toolcont *, struct conv *);
/* Removes the messages from index base on (after toolcont_add_turns). */
void		 toolcont_remove_turns(struct conv *, size_t base);
/*
 * A continuation failed as a whole (er, with its client-fit message): a
 * give_up ends with that error.  Nothing when no call is pending.
 */
void		 toolcont_failed(struct toolcont *, enum kf_err,
		    const char *message);
/*
 * Ends the answer without the cut call: max_tokens, or the broken
 * stream's error (sent into a committed inner sink; *cause is set to its
 * message either way).  Returns KF_OK for max_tokens, else the error.
 */
enum kf_err	 toolcont_give_up(struct toolcont *, char **cause);
/* The stop reason the client got, after a finish that reached it. */
enum sink_stop	 toolcont_stop(const struct toolcont *);
/* 1 when the client got a finish (or an error) from this sink. */
int		 toolcont_finished(const struct toolcont *);

#endif
