/* sink.h: the callbacks through which the relay hands an answer to a front end. */
#ifndef SINK_H
#define SINK_H

#include <stddef.h>

#include "err.h"

struct websearch;

/*
 * Each front end implements these to turn the neutral answer into its own
 * wire format: streaming sinks write and flush each callback's bytes at
 * once, non-streaming sinks collect and write one body at finish, buffered
 * modes (/cc/v1) wrap another sink.  The relay calls them in this order:
 *
 *   start, then any mix of text / thinking (closed by thinking_end) /
 *   tool_start, tool_input*, tool_end (tools may interleave by index) /
 *   web_search, then finish -- or error at any point after start.
 *
 * ping may come at any time after start (or before it, when
 * ping_before_start is set).  Every callback returns 0, or non-zero when
 * the client is gone, which stops the upstream transfer.  A wrapping sink
 * (constrain.h) may return SINK_HALT instead: the answer is complete
 * (a stop sequence matched), so the upstream transfer stops and the relay
 * finishes the answer normally.
 */

#define SINK_HALT	0x4854

enum sink_stop {
	SINK_STOP_END_TURN,
	SINK_STOP_TOOL_USE,
	SINK_STOP_MAX_TOKENS,
	SINK_STOP_CONTEXT_WINDOW,	/* model_context_window_exceeded */
	SINK_STOP_STOP_SEQUENCE,
	SINK_STOP__MAX
};

/*
 * Kiro's own figures when it sent them, else estimates.  input_tokens is
 * the whole prompt; the cache figures are the parts of it read from and
 * written to Kiro's prompt cache (0 when Kiro said nothing), so the
 * uncached part is input_tokens - cache_read_tokens - cache_write_tokens.
 */
struct sink_usage {
	long		 input_tokens;
	long		 output_tokens;
	long		 cache_read_tokens;
	long		 cache_write_tokens;
	const char	*stop_sequence;	/* the one that matched, or NULL */
	long		 web_search_requests;	/* searches the gateway ran */
};

struct sink_start {
	const char	*message_id;	/* unique per answer, e.g. msg_<32 hex> */
	const char	*model;		/* the client's model name */
	long		 input_tokens;	/* the local estimate */
	int		 thinking;	/* thinking blocks may appear */
	/*
	 * What the gateway did to make the conversation fit the model's
	 * window (overflow_describe: "truncated; dropped=3"), NULL when
	 * nothing: the front end sends it as the x-kiro-context header.
	 */
	const char	*context;
};

struct sink_ops {
	int	(*start)(void *, const struct sink_start *);
	int	(*text)(void *, const char *, size_t);
	int	(*thinking)(void *, const char *, size_t);
	/* The thinking block closed; signature may be NULL. */
	int	(*thinking_end)(void *, const char *signature);
	/* A tool call opened: index counts calls from 0 in this answer. */
	int	(*tool_start)(void *, size_t index, const char *id,
		    const char *name);
	/* A fragment of the call's input JSON, verbatim. */
	int	(*tool_input)(void *, size_t index, const char *, size_t);
	/* The call is complete; input is its whole input, a JSON object. */
	int	(*tool_end)(void *, size_t index, const char *input);
	int	(*finish)(void *, enum sink_stop, const struct sink_usage *);
	/* An error after start; the answer ends after it. */
	int	(*error)(void *, enum kf_err, const char *message);
	/* Keep-alive; NULL when the format has none. */
	int	(*ping)(void *);
	/*
	 * Forget everything since start, so an attempt that failed before
	 * anything reached the client can be retried; NULL when impossible.
	 */
	void	(*reset)(void *);
	/*
	 * The gateway ran a web search for the client's search tool
	 * (websearch.h): id is the call's srvtoolu_ id, ws the query and
	 * results.  Any text before it is closed.  NULL: the format shows
	 * none (the model's answer still reads the results).
	 */
	int	(*web_search)(void *, const char *id,
		    const struct websearch *ws);
};

struct sink {
	const struct sink_ops	*ops;
	void			*arg;
	/* Set by the front end once any byte has gone to the client. */
	int			 committed;
	/* Buffered modes ping while waiting for the upstream. */
	int			 ping_before_start;
	/* 1 when every callback writes to the client (streaming). */
	int			 streams;
	/*
	 * Optional: 1 when the client has gone away.  The relay asks about
	 * once a second while the upstream is silent, so that a client that
	 * left stops the upstream transfer even when nothing is written.
	 */
	int			(*gone)(void *);
	void			*gone_arg;
	/*
	 * Optional: the relay brackets the events made from one piece of
	 * Kiro's stream (one read) with batch(arg, 1) and batch(arg, 0), so
	 * that they leave in one write instead of one per event; nothing is
	 * held past the piece.  batch(arg, 0) returns non-zero when the
	 * client is gone.  Wrapping sinks copy it with the struct.
	 */
	int			(*batch)(void *, int begin);
	void			*batch_arg;
};

const char	*sink_stop_name(enum sink_stop);

#endif
