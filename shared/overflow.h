/* overflow.h: a conversation larger than the model's input window. */
#ifndef OVERFLOW_H
#define OVERFLOW_H

#include <stddef.h>

#include "config.h"
#include "conv.h"
#include "err.h"
#include "history.h"

/*
 * The share of the window (in percent) kept free for the estimate's
 * error: a conversation is over the window when tokens_count_conv +
 * this margin exceeds it.
 */
#define OVERFLOW_MARGIN_PCT	2
/*
 * After Kiro refused a conversation the estimate let through
 * (CONTENT_LENGTH_EXCEEDS_THRESHOLD), the retry's budget is this share
 * of the estimate, so that one retry is enough.
 */
#define OVERFLOW_RETRY_PCT	75

/* What a strategy did to the conversation, for the header and the log. */
struct overflow_report {
	enum overflow_mode	 mode;		/* what was applied */
	int			 applied;	/* 0: the conv is untouched */
	long			 window;	/* the model's input window */
	long			 before;	/* estimates, in tokens */
	long			 after;
	size_t			 dropped;	/* messages truncated away */
	size_t			 turns;		/* messages summarised */
	int			 cached;	/* the summary came from the store */
	int			 fell_back;	/* summarize failed: truncated */
};

/* The tokens a conversation may hold: window less the margin, at least 1. */
long		overflow_budget(long window);

/* 1 when estimate (tokens_count_conv) does not fit window's budget. */
int		overflow_exceeds(long estimate, long window);

/*
 * The error strategy's words, fit for a client: "Context window is
 * full: about N tokens, the model's window is M. Reduce ...".  Caller
 * frees.
 */
char		*overflow_cause(long estimate, long window);

/*
 * Drops the oldest messages of conv (already through history_repair)
 * until tokens_count_conv(conv) is at most budget, then repairs it again
 * (opts), so that what is left obeys Kiro's rules (preflight.h).  It
 * keeps the system prompt, the tools, every message up to and including
 * the first user message, and the last exchange; it cuts only before an
 * assistant message, so a tool_use and the tool_result answering it (the
 * next message) go together or stay together.  Each round is linear in
 * the conversation: the messages' own estimates say how far to cut, one
 * move drops them, and a new estimate checks the result (a round more
 * when the per-message figures erred).  KF_OK with *dropped (messages
 * dropped, may be 0) and *estimate (the new tokens_count_conv); when
 * even the shortest conversation it may leave is over budget,
 * KF_ECONTEXT with a cause (overflow_cause) and conv as short as it got.
 */
enum kf_err	overflow_truncate(struct conv *, long budget,
		    const struct history_opts *, size_t *dropped,
		    long *estimate, char **cause);

/*
 * The x-kiro-context header's value for what rep says was done
 * ("truncated; dropped=3", "summarized; turns=12; cached=yes"), "" when
 * nothing was.  Returns out.
 */
char		*overflow_describe(const struct overflow_report *, char *out,
		    size_t size);

#endif
