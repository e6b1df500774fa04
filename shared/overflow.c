/* overflow.c: a conversation larger than the model's input window. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "history.h"
#include "overflow.h"
#include "tokens.h"
#include "xmalloc.h"

long
overflow_budget(long window)
{
	long	budget;

	budget = window - window / 100 * OVERFLOW_MARGIN_PCT;
	return budget < 1 ? 1 : budget;
}

int
overflow_exceeds(long estimate, long window)
{
	return window > 0 && estimate > overflow_budget(window);
}

char *
overflow_cause(long estimate, long window)
{
	return xasprintf("Context window is full: about %ld tokens, the "
	    "model's window is %ld. Reduce the conversation history, the "
	    "system prompt or the tools.", estimate, window);
}

/*
 * One message's share of the estimate: the estimate of a conversation
 * holding it alone, less that of an empty one (whatever the estimator
 * adds to every request).  Short texts are scaled up by the estimator,
 * so the shares of many small messages add up to a little more than
 * their part of the whole: the caller checks with a new estimate.
 */
static long
msg_tokens(const struct conv_msg *m, long base)
{
	struct conv	one;
	struct conv_msg	copy = *m;	/* borrowed, never freed */
	long		t;

	conv_init(&one);
	one.msgs = &copy;
	one.n_msgs = 1;
	t = tokens_count_conv(&one) - base;
	return t > 0 ? t : 0;
}

static size_t
first_user(const struct conv *c)
{
	size_t	i;

	for (i = 0; i < c->n_msgs; i++)
		if (c->msgs[i].role == CONV_ROLE_USER)
			return i;
	return c->n_msgs;
}

/*
 * Where to cut: messages first + 1 up to the cut (excluded) go, the cut
 * being an assistant message after first + 1 and before the last
 * message, the first whose drop covers excess, else the last one.  0
 * when there is none.
 */
static size_t
find_cut(const struct conv *c, size_t first, long excess)
{
	struct conv	empty;
	long		base, sum = 0;
	size_t		i, cut = 0;

	conv_init(&empty);
	base = tokens_count_conv(&empty);
	for (i = first + 1; i + 1 < c->n_msgs; i++) {
		if (i > first + 1 && c->msgs[i].role == CONV_ROLE_ASSISTANT) {
			cut = i;
			if (sum >= excess)
				break;
		}
		sum += msg_tokens(&c->msgs[i], base);
	}
	return cut;
}

/* Frees messages from up to to (excluded) and closes the gap in one move. */
static void
drop_range(struct conv *c, size_t from, size_t to)
{
	size_t	i;

	for (i = from; i < to; i++)
		conv_msg_clear(&c->msgs[i]);
	memmove(&c->msgs[from], &c->msgs[to],
	    (c->n_msgs - to) * sizeof(*c->msgs));
	c->n_msgs -= to - from;
}

enum kf_err
overflow_truncate(struct conv *c, long budget, const struct history_opts *opts,
    size_t *dropped, long *estimate, char **cause)
{
	enum kf_err	er;
	long		est, excess;
	size_t		first, cut;
	int		round;

	*dropped = 0;
	est = tokens_count_conv(c);
	for (round = 0; est > budget; round++) {
		first = first_user(c);
		excess = est - budget;
		/*
		 * Rounds after the second ask for twice as much each time:
		 * whatever the per-message figures err by, the rounds stay
		 * few.
		 */
		if (round >= 2)
			excess <<= round - 1 < 20 ? round - 1 : 20;
		if (first >= c->n_msgs ||
		    (cut = find_cut(c, first, excess)) == 0) {
			xsetprintf(cause, "Context window is full: about %ld "
			    "tokens with only the system prompt, the tools, "
			    "the first message and the last exchange left, "
			    "over the %ld the model's window allows. Reduce "
			    "the system prompt, the tools or the last "
			    "message.", est, budget);
			*estimate = est;
			return KF_ECONTEXT;
		}
		drop_range(c, first + 1, cut);
		*dropped += cut - (first + 1);
		if ((er = history_repair(c, opts, cause)) != KF_OK)
			return er;
		est = tokens_count_conv(c);
	}
	*estimate = est;
	return KF_OK;
}

char *
overflow_describe(const struct overflow_report *rep, char *out, size_t size)
{
	if (size == 0)
		return out;
	out[0] = '\0';
	if (!rep->applied)
		return out;
	if (rep->mode == OVERFLOW_SUMMARIZE && !rep->fell_back)
		(void)snprintf(out, size, "summarized; turns=%zu; cached=%s",
		    rep->turns, rep->cached ? "yes" : "no");
	else if (rep->fell_back)
		(void)snprintf(out, size, "truncated; dropped=%zu; "
		    "summary=failed", rep->dropped);
	else
		(void)snprintf(out, size, "truncated; dropped=%zu",
		    rep->dropped);
	return out;
}
