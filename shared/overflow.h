/* overflow.h: a conversation larger than the model's input window. */
#ifndef OVERFLOW_H
#define OVERFLOW_H

#include <stddef.h>

#include "config.h"
#include "conv.h"
#include "err.h"

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
	int			 cached;	/* the summary was stored */
	int			 fell_back;	/* no summary: truncated */
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
 * until tokens_count_conv(conv) is at most budget.  It keeps the system
 * prompt, the tools, every message up to and including the first user
 * message, and the last exchange; it cuts only before an assistant
 * message that follows the first user message's successor, so what is
 * left still alternates and a tool_use and the tool_result answering it
 * (the next message) go together or stay together: it obeys Kiro's rules
 * as it did (the relay repairs and checks it like every request, and
 * test-overflow checks it passes the pre-flight check).  A round costs
 * about one estimator pass: the dropped messages' own estimates say how
 * far to cut, one move drops them, and an estimate of what is left
 * checks the result; the first round's error corrects the second's
 * aim, so two rounds are the rule.
 * *estimate is, on entry, tokens_count_conv(conv) when the caller has it
 * (else 0); on return the new estimate.  KF_OK with *dropped (messages
 * dropped, may be 0); when even the shortest conversation it may leave
 * is over budget, KF_ECONTEXT with a cause and conv as short as it got.
 */
enum kf_err	overflow_truncate(struct conv *, long budget,
		    size_t *dropped, long *estimate, char **cause);

/*
 * summarize (the relay makes the model call): the oldest messages are
 * moved out, summarised, and the summary put back as one assistant/user
 * pair right after the first user message ("(Earlier turns ... were
 * summarised)", "Summary of the earlier conversation: ..."), which keeps
 * the alternation and every kept tool pair.  To be reused by the next
 * requests of the session, the cut leaves room: the messages kept are cut
 * to OVERFLOW_SUMMARY_TARGET_PCT of the budget, less the summary's
 * OVERFLOW_SUMMARY_RESERVE tokens.
 */
#define OVERFLOW_SUMMARY_TARGET_PCT	60
#define OVERFLOW_SUMMARY_RESERVE	2000
/* Bytes of summary kept from the model's answer; more is cut. */
#define OVERFLOW_SUMMARY_MAX		8000
/* Seconds a stored summary is used. */
#define OVERFLOW_SUMMARY_TTL		(24 * 3600)

/*
 * overflow_truncate, but the messages it drops are appended to old (a
 * conv of the caller's, in their order) instead of freed.  *dropped
 * counts this call's only.
 */
enum kf_err	overflow_split(struct conv *, long budget, struct conv *old,
		    size_t *dropped, long *estimate, char **cause);

/*
 * Moves the n messages after the first user message into old (appended),
 * when they are exactly the messages digest hex was made of
 * (overflow_digest) and the message after them is an assistant's (a cut
 * that splits no tool pair): 1, else 0 and nothing moved.  The way a
 * summary stored for an earlier request is recognised.
 */
int		overflow_take_prefix(struct conv *, size_t n, const char *hex,
		    struct conv *old);

/*
 * SHA-256 (hex) of the first n messages of c: roles, texts, tool ids,
 * names, inputs and results, with lengths, in one pass.
 */
void		overflow_digest(const struct conv *, size_t n,
		    char out[65]);

/*
 * What a summary call reads: previous (an earlier summary, may be NULL),
 * then messages from..end of old as "User:" / "Assistant:" lines, tool
 * calls and results included; at most max_bytes (the newest part is
 * kept).  Caller frees.
 */
char		*overflow_transcript(const struct conv *old, size_t from,
		    const char *previous, size_t max_bytes);

/* The instruction of a summary call, for its system prompt. */
extern const char	 overflow_summary_prompt[];

/* Puts summary (copied) back after the first user message, as above. */
void		overflow_insert_summary(struct conv *, const char *summary,
		    size_t n_replaced);

/*
 * The session's anchor (hex, 65 bytes): the digest of its opening, the
 * first user message and the message after it (the first one a summary
 * replaces), so that sessions that start with the same instruction
 * still differ.  -1 when c has no message after its first user one.
 */
int		overflow_anchor(const struct conv *, char out[65]);

struct store;
/*
 * The store's summaries: summary/<digest> {"v":1,"at":T,"n":N,
 * "summary":S}, and summary-anchor/<anchor> {"v":1,"at":T,"n":N,
 * "h":digest} naming the session's latest one.  overflow_cache_find
 * reads the anchor's record and its summary in one read transaction:
 * KF_OK with *n, hex (65 bytes) and *summary (caller frees) when both
 * are younger than OVERFLOW_SUMMARY_TTL at now, else KF_ENOTFOUND.
 * overflow_cache_put writes both in one transaction and deletes records
 * past the TTL; two processes writing at once each write whole records,
 * the last one stays.  Soft state: a lost record costs one summary call.
 */
enum kf_err	overflow_cache_find(struct store *, const char *anchor,
		    long now, size_t *n, char *hex, char **summary);
enum kf_err	overflow_cache_put(struct store *, const char *anchor,
		    size_t n, const char *hex, const char *summary, long now,
		    char **cause);

/*
 * The x-kiro-context header's value for what rep says was done
 * ("truncated; dropped=3", "summarized; turns=12; cached=yes", with
 * "; dropped=N" when Kiro's refusal made it truncate too, or "truncated;
 * dropped=N; summary=failed"), "" when nothing was.  Returns out.
 */
char		*overflow_describe(const struct overflow_report *, char *out,
		    size_t size);

#endif
