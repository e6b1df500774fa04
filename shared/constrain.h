/* constrain.h: enforce stop, tool_choice, parallel calls and JSON answers. */
#ifndef CONSTRAIN_H
#define CONSTRAIN_H

#include <stdint.h>

#include "conv.h"
#include "sink.h"

/*
 * Kiro has no parameters for these, so the relay puts a constrain sink
 * between itself and the front end's sink:
 *  - stop sequences: text passes through a stopseq matcher; at a match
 *    the text before it goes on, the callback returns SINK_HALT (the relay
 *    stops the upstream and finishes), and finish carries
 *    SINK_STOP_STOP_SEQUENCE with usage.stop_sequence;
 *  - tool_choice ANY / TOOL: text is held back until a call that
 *    satisfies it starts (then flushed, and the rest streams through);
 *    calls to another tool than the named one are dropped;
 *  - tool_choice NONE: calls are dropped;
 *  - single_tool_call: calls after the first are dropped;
 *  - json_mode: text is held back to the end, the JSON value extracted
 *    and validated against response_schema (any object when NULL) and
 *    sent as one text call; a tool call instead ends JSON mode (the held
 *    text goes out before it).
 * Thinking always streams.  While text is held, the inner sink is not
 * started until something must reach it; pings keep flowing at the
 * configured interval (which starts it).  An answer that misses a
 * constraint does not reach the inner sink's finish: constrain_unmet
 * says why, and constrain_retry prepares one more answer in the same
 * response when nothing but thinking and pings has reached the client.
 */
struct constrain;

/* NULL when conv asks for nothing to enforce: use inner as it is. */
struct constrain	*constrain_new(const struct conv *, struct sink *inner,
			    int64_t ping_interval_ms);
void			 constrain_free(struct constrain *);	/* NULL ok */
/* The sink for the relay. */
struct sink		*constrain_sink(struct constrain *);
/* After finish: NULL when the answer honoured the constraints, else why. */
const char		*constrain_unmet(const struct constrain *);
/* The stop reason the client got (valid after a finish that reached it). */
enum sink_stop		 constrain_stop(const struct constrain *);
/*
 * 1 when another answer may follow the unmet one (no text or tool call
 * has reached the inner sink); the state is then ready for it.  0 when
 * not: the caller fails the request.
 */
int			 constrain_retry(struct constrain *);
/* The firmer instruction for the retry, naming the failure; caller frees. */
char			*constrain_retry_note(const struct constrain *);

/*
 * The system-prompt instructions for conv's constraints (tool_choice,
 * single_tool_call, json_mode with its schema), or NULL; caller frees.
 */
char			*constrain_instructions(const struct conv *);

#endif
