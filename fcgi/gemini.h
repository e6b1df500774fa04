/* gemini.h: the Gemini API front end (generateContent, streamGenerateContent, countTokens, models). */
#ifndef GEMINI_H
#define GEMINI_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "sink.h"

struct out;
struct request;

/* Decoded inlineData payloads above this are refused. */
#define GEMINI_MAX_IMAGE_BYTES	(20L * 1024 * 1024)

/* What the parser learns that only the emitter needs. */
struct gemini_opts {
	int	include_thoughts;	/* thought parts are shown */
};

/*
 * parse-gemini.c: a generateContent (or countTokens) body into conv, for
 * the model named in the path (without "models/").  Every field is
 * type-checked; a bad one is KF_EINVAL with a cause naming it by path
 * ("contents[1].parts[0].functionResponse.name").  functionCall parts get
 * ids by position ("call_<content>_<part>") unless they carry one, and each
 * functionResponse answers the first unanswered call of that name in the
 * model turn before it.  With for_count set, the model may be unknown, and
 * a {"generateContentRequest":{...}} wrapper is accepted.
 */
enum kf_err	gemini_parse(const char *body, size_t len, const char *model,
		    int for_count, struct conv *out, struct gemini_opts *opts,
		    char **cause);

/*
 * gemini-schema.c: a Gemini schema (OpenAPI subset, upper-case types,
 * "nullable") as a JSON Schema object; a JSON Schema comes back the same
 * except for upper-case type names, which Gemini CLI also sends there.
 * Returns a new reference; what needs no change is shared with schema,
 * not copied, so change neither in place (as with Anthropic's schemas).
 */
json_object	*gemini_schema_to_json(json_object *schema);

/* emit-gemini.c: the answer as JSON, SSE (?alt=sse) or a streamed JSON array. */
enum gemini_emit_mode {
	GEMINI_EMIT_JSON,	/* one GenerateContentResponse at finish */
	GEMINI_EMIT_SSE,	/* "data: <chunk>\r\n\r\n" per piece */
	GEMINI_EMIT_ARRAY,	/* "[<chunk>\r\n,<chunk>...]" as it comes */
	GEMINI_EMIT__MAX
};

struct gemini_emit;

struct gemini_emit	*gemini_emit_new(enum gemini_emit_mode, struct out *,
			    struct sink *, const struct gemini_opts *);
void			 gemini_emit_free(struct gemini_emit *);

/* Status code and error.status ("INVALID_ARGUMENT", ...) for an error kind. */
int		gemini_error_status(enum kf_err, const char **status);
/* Appends {"error":{"code":...,"message":...,"status":...}}. */
void		gemini_error_body(struct buf *, int code, const char *status,
		    const char *message);
void		gemini_error_json(struct buf *, enum kf_err,
		    const char *message);
/* A complete error response (Retry-After when retry_after > 0). */
int		gemini_error_response(struct out *, enum kf_err,
		    const char *message, long retry_after);

/* 1 when a route path belongs to the Gemini API (its errors are Gemini's). */
int		gemini_is_path(const char *method, const char *path);

/*
 * 1 when the request comes from a Gemini client (x-goog-api-key or ?key=,
 * no x-api-key): GET /v1/models is then answered in Gemini's shape, since
 * the GenAI SDK lists models there.
 */
int		gemini_client(const struct request *);

/* gemini.c: the route handlers. */
void		gemini_post(struct request *);	/* models/{m}:method */
void		gemini_models(struct request *);	/* GET models */
void		gemini_model(struct request *);		/* GET models/{m} */

#endif
