/* openai-responses.h: the OpenAI Responses API front end (POST /v1/responses). */
#ifndef OPENAI_RESPONSES_H
#define OPENAI_RESPONSES_H

#include <stddef.h>

#include "conv.h"
#include "err.h"
#include "sink.h"

struct json_object;
struct out;
struct request;

/*
 * What the request says beyond the conversation: which tools are custom
 * (freeform: their calls go back as custom_tool_call items carrying a
 * string), and the request fields a response object echoes: as values,
 * and as the request's own JSON text for those it spelled compactly.
 */
struct openai_responses_req {
	char			**custom;	/* custom tool names */
	size_t			  n_custom;
	int			  local_shell;	/* tools has local_shell */
	struct json_object	*echo;		/* owned: fields to echo */
	struct json_object	*echo_text;	/* owned: key -> JSON text */
};

void	openai_responses_req_free(struct openai_responses_req *);
/* 1 when name is one of the request's custom tools. */
int	openai_responses_is_custom(const struct openai_responses_req *,
	    const char *name);

/*
 * Turns an image URL (data: or http(s)) into a media type and standard
 * base64 bytes, as imgfetch() does; the handler binds it to the thread's
 * http handle, tests and the fuzzer to a fake.
 */
typedef enum kf_err (*openai_responses_fetch_fn)(void *arg, const char *url,
    char **media_type, char **b64, char **cause);

/*
 * parse-openai-responses.c: a /v1/responses body into conv and req.  Every
 * field is type-checked; a bad one is KF_EINVAL with a cause naming it by
 * path ("input[2].content[0].image_url"), and *param set to that path
 * for error.param (a body that is not JSON has a cause and no param).
 * previous_response_id is refused: nothing is stored, the client sends the
 * whole history (store:false).  Custom tools reach Kiro as a function
 * taking {"input": string}.  Every input item type the API documents is
 * read: calls of client-run tools and their outputs become tool uses and
 * results, the records of OpenAI's hosted tools (web_search_call, mcp_call,
 * ...) and item types not known yet short text notes; the web_search
 * tools set conv->web_search (the gateway runs the searches), other
 * hosted tools are dropped with a log line.  The caller passes conv after conv_init and req
 * zeroed, and frees them (conv_free, openai_responses_req_free), *cause
 * and *param whatever the result.
 */
enum kf_err	openai_responses_parse(const char *body, size_t len,
		    struct conv *conv, struct openai_responses_req *req,
		    openai_responses_fetch_fn fetch, void *fetch_arg,
		    char **cause, char **param);

/* The custom tool schema's property, the raw input text. */
#define OPENAI_RESPONSES_CUSTOM_INPUT	"input"
/*
 * The local_shell tool reaches Kiro as a function of this name taking the
 * exec action's fields ({"command": [...], "working_directory", ...}); its
 * calls go back as local_shell_call items.
 */
#define OPENAI_RESPONSES_LOCAL_SHELL	"local_shell"

/* emit-openai-responses.c: the SSE event stream and the response object. */
struct openai_responses_emit;

/*
 * SSE: response.created, response.in_progress, output items (reasoning,
 * message, function_call, custom_tool_call) with their added / delta /
 * done events, then response.completed (or response.incomplete when the
 * output hit max_output_tokens) carrying the whole response object with
 * usage; response.failed when the answer breaks after it started.  Every
 * event has a sequence_number.  req must outlive the emitter.
 */
struct openai_responses_emit *
	openai_responses_emit_stream(struct out *, struct sink *,
	    const struct openai_responses_req *);
/* One response object at finish. */
struct openai_responses_emit *
	openai_responses_emit_json(struct out *, struct sink *,
	    const struct openai_responses_req *);
void	openai_responses_emit_free(struct openai_responses_emit *);

/* openai-responses.c: the route handler. */
void		openai_responses(struct request *);

#endif
