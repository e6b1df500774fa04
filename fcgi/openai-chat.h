/* openai-chat.h: the OpenAI Chat Completions front end (POST /v1/chat/completions). */
#ifndef OPENAI_CHAT_H
#define OPENAI_CHAT_H

#include <stddef.h>

#include "conv.h"
#include "err.h"
#include "sink.h"

struct http;
struct out;
struct request;

/* What the request asks of the answer's format beyond struct conv. */
struct openai_chat_opts {
	int	include_usage;		/* stream_options.include_usage */
};

/*
 * parse-openai-chat.c: a /v1/chat/completions body into conv.  Every field
 * is type-checked; a bad one is KF_EINVAL with a cause naming it by path
 * ("messages[2].content[0].image_url.url") and *param set to that path (the
 * error's "param"; caller frees, may be NULL).  Options that would change
 * the answer's meaning and that Kiro cannot honour (n > 1, logprobs, audio
 * output, legacy functions) are refused the same way; sampling knobs are
 * accepted and ignored.  Image URLs go through imgfetch with h (NULL: only
 * data: URLs are accepted).
 */
enum kf_err	openai_chat_parse(const char *body, size_t len, struct http *h,
		    struct conv *out, struct openai_chat_opts *opts,
		    char **cause, char **param);

/* emit-openai-chat.c: the two sinks of /v1/chat/completions. */
struct openai_chat_emit;

/*
 * chat.completion.chunk SSE as doc/protocol.md §6.4: a role chunk, content
 * / reasoning_content / tool_calls deltas, a finish_reason chunk, a usage
 * chunk (choices []) when include_usage, then "data: [DONE]".  An error
 * after the head is a data: {"error":...} chunk, then [DONE].
 */
struct openai_chat_emit	*openai_chat_emit_stream(struct out *, struct sink *,
			    int include_usage);
/* One chat.completion object at finish. */
struct openai_chat_emit	*openai_chat_emit_json(struct out *, struct sink *);
void			 openai_chat_emit_free(struct openai_chat_emit *);

/* finish_reason for a stop: "stop", "tool_calls" or "length". */
const char		*openai_chat_finish_reason(enum sink_stop);

/* openai-chat.c: the route handler. */
void		openai_chat_completions(struct request *);

#endif
