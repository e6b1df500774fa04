/* kiro_event.h: what each event-stream frame from Kiro means. */
#ifndef KIRO_EVENT_H
#define KIRO_EVENT_H

#include <stddef.h>

#include "err.h"
#include "eventstream.h"

/*
 * The event types of doc/protocol.md §5, reduced to what the relay acts on.
 * Recognised events that carry nothing for a client (codeReferenceEvent,
 * followupPromptEvent, supplementaryWebLinksEvent, invalidStateEvent, ...)
 * and unknown event types are KIRO_EV_IGNORED, with their name in kind.
 */
enum kiro_event_type {
	KIRO_EV_TEXT,		/* assistantResponseEvent / codeEvent: text */
	KIRO_EV_TOOL_USE,	/* toolUseEvent: one fragment of a tool call */
	KIRO_EV_REASONING,	/* reasoningContentEvent: native thinking */
	KIRO_EV_METERING,	/* meteringEvent: value = credits, kind =
				 * unit ("credit") or NULL */
	KIRO_EV_CONTEXT_USAGE,	/* contextUsageEvent: value = percentage */
	KIRO_EV_STOP_REASON,	/* metadataEvent & co with a stop reason: kind */
	KIRO_EV_METRICS,	/* metricsEvent: input/output tokens */
	KIRO_EV_TOKEN_USAGE,	/* messageMetadataEvent.tokenUsage: usage;
				 * kind = a stop reason sent with it, or NULL */
	KIRO_EV_END,		/* messageStopEvent */
	KIRO_EV_EXCEPTION,	/* :message-type exception: kind, text */
	KIRO_EV_ERROR,		/* :message-type error: kind, text */
	KIRO_EV_IGNORED,	/* nothing to do: kind = event type */
	KIRO_EV__MAX
};

/*
 * Kiro's own token figures (doc/protocol.md §12).  Each count is -1 when
 * Kiro left it out (or sent a negative or absurd one), context_pct -1 too.
 * The input is split in three: uncached, read from the prompt cache and
 * written to it.
 */
struct kiro_token_usage {
	long	output_tokens;
	long	total_tokens;
	long	uncached_input_tokens;
	long	cache_read_input_tokens;
	long	cache_write_input_tokens;
	double	context_pct;
};

/*
 * One event.  Strings are NUL-terminated and borrowed from the parser: valid
 * until the next kiro_event_parse or kiro_event_parser_free.  Pointers not
 * meaningful for the type are NULL, numbers 0.
 */
struct kiro_event {
	enum kiro_event_type	 type;
	const char		*text;		/* TEXT, REASONING; EXCEPTION and
						 * ERROR: the message */
	size_t			 text_len;
	const char		*signature;	/* REASONING, may be NULL */
	const char		*tool_use_id;	/* TOOL_USE */
	const char		*tool_name;	/* TOOL_USE; NULL on continuation
						 * frames that omit it */
	const char		*tool_input;	/* TOOL_USE fragment ("" if none);
						 * an object input is serialised */
	size_t			 tool_input_len;
	int			 tool_stop;	/* TOOL_USE: last frame of the call */
	double			 value;		/* METERING, CONTEXT_USAGE */
	long			 input_tokens;	/* METRICS (-1 when absent) */
	long			 output_tokens;	/* METRICS (-1 when absent) */
	struct kiro_token_usage	 usage;		/* TOKEN_USAGE */
	const char		*kind;		/* see enum */
};

struct kiro_event_parser;

struct kiro_event_parser	*kiro_event_parser_new(void);
void				 kiro_event_parser_free(
				    struct kiro_event_parser *);
/*
 * Ready for another stream: what the last event borrowed is released and
 * a large arena freed; the rest of the memory is kept for reuse.
 */
void				 kiro_event_parser_reset(
				    struct kiro_event_parser *);

/*
 * Decodes one frame.  A payload that is not the JSON its event type needs
 * is KF_EUPSTREAM with a cause; the caller skips the frame and goes on.
 * Payloads wrapped as {"assistantResponseEvent":{...}} are unwrapped.
 * assistantResponseEvents that carry a followupPrompt are IGNORED (they
 * are IDE suggestions, not part of the answer).
 */
enum kf_err	kiro_event_parse(struct kiro_event_parser *,
		    const struct es_frame *, struct kiro_event *out,
		    char **cause);

const char	*kiro_event_type_name(enum kiro_event_type);

#endif
