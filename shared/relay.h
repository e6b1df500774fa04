/* relay.h: pick an account, refresh, call Kiro, stream the answer to a sink. */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

#include "conv.h"
#include "err.h"
#include "sink.h"

struct config;
struct http;
struct store;

/* What a responder thread owns for its whole life. */
struct relay_env {
	const struct config	*cfg;
	struct store		*store;
	struct http		*http;	/* this thread's handle */
};

/* What happened, for logs and the flow record. */
struct relay_result {
	long		account_id;	/* the account that answered, or 0 */
	int		attempts;	/* upstream calls made */
	long		input_tokens;
	long		output_tokens;
	long		cache_read_tokens;	/* parts of input_tokens */
	long		cache_write_tokens;
	double		credits;	/* Kiro's meteringEvents, summed */
	int		metered;	/* 1 when Kiro sent any */
	long		retry_after;	/* seconds, for rate-limit errors */
	enum sink_stop	stop;
	/*
	 * Kiro refused the conversation as too long for the window
	 * (CONTENT_LENGTH_EXCEEDS_THRESHOLD, "Input is too long") before the
	 * client had anything: history.onOverflow may retry it.
	 */
	int		context_refused;
};

#define RELAY_MAX_ATTEMPTS_PER_ACCOUNT	3
#define RELAY_MAX_ATTEMPTS		9

/*
 * Serves conv (whose kiro_model the front end has resolved) through the
 * account pool, doc/protocol.md §7.1:
 *  - a conv whose estimate (tokens_count_conv) is over the model's input
 *    window gets history.onOverflow before any upstream call (overflow.h):
 *    error is KF_ECONTEXT ("Context window is full: about N tokens ...");
 *    truncate drops the oldest turns; summarize has the oldest part
 *    summarised by one more Kiro call (cached in the store), falling
 *    back to truncate; when Kiro still refuses the conversation as too
 *    long before the client has anything, the strategy is applied again
 *    to 75% of the estimate and the request retried once.  The sink's
 *    start says what was done (sink_start.context), and a log line;
 *  - a Kiro body over cfg->max_kiro_body_bytes is KF_ECONTEXT before any
 *    upstream call, with a cause that gives its size and the limit;
 *  - 400 and other 4xx are never retried and are client errors
 *    (KF_EINVAL, or KF_ECONTEXT when too long); 401/403 bearer-invalid
 *    retries with the account's current token, refreshed once if it is
 *    still the refused one, and only a refusal of a token fetched after
 *    that counts as the account's failure; 408/5xx/network retry with
 *    backoff (200 ms doubling to 2 s, with jitter) on the same account; 429 and
 *    throttling put the account into a cooldown and fail over when another
 *    account can serve (else they retry like a 5xx); 402
 *    MONTHLY_REQUEST_COUNT and TEMPORARILY_SUSPENDED disable the account
 *    and fail over to the next;
 *  - the pool sees the session (pool_session_hash) for stickiness, and
 *    the Kiro conversationId is conv->session_id or the session's own;
 *  - when no account may serve now (cooldowns, rate limits) the result is
 *    KF_ERATE with res->retry_after in seconds, unless an attempt failed
 *    otherwise: then that last real failure is the result (and
 *    retry_after is 0);
 *  - at most 3 attempts per account and 9 per request, and only while
 *    nothing has reached the client (sink->committed);
 *  - events become sink calls as they arrive: text, thinking (from
 *    <thinking> tags when conv asks for thinking, or native reasoning
 *    events), tool calls with their names mapped back, then finish with
 *    the stop reason and usage: Kiro's token figures (tokenUsage,
 *    metricsEvent) win over estimates, and the credits of every
 *    meteringEvent, over all attempts, go to res->credits;
 *  - the conv's answer constraints (stop sequences, tool_choice,
 *    single_tool_call, json_mode) are enforced on the way (constrain.h):
 *    an answer that misses one is asked for once more, then KF_EUPSTREAM
 *    with a cause that says why; res->attempts counts both.
 *  - tool calls reach the sink whole (toolcont.h): one cut off mid-input
 *    is continued up to cfg->tool_continuations times, else the answer
 *    ends with max_tokens (or the broken stream's error) without it;
 *    res->attempts counts the continuations' calls too.
 * Returns KF_OK once finish was called.  Otherwise, if sink->committed,
 * the relay has already sent sink->error and the stream is over; if not,
 * the caller answers with an error in its own format, using *cause, which
 * is fit to show a client (no secrets, no account ids or refresh errors:
 * those are logged).
 */
enum kf_err	relay_run(struct relay_env *, struct conv *, struct sink *,
		    struct relay_result *, char **cause);

#endif
