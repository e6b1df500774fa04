/* anthropic.h: the Anthropic Messages API front end. */
#ifndef ANTHROPIC_H
#define ANTHROPIC_H

#include <stddef.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "sink.h"

struct out;
struct request;

/* Decoded image payloads above this are refused (K2A's limit, §3.3.13). */
#define ANTHROPIC_MAX_IMAGE_BYTES	(20L * 1024 * 1024)

/*
 * parse-anthropic.c: a /v1/messages (or count_tokens) body into conv.  Every
 * field is type-checked; a bad one is KF_EINVAL with a cause that names it
 * by path ("messages[2].content[0].source.data").  With for_count set, the
 * model may be absent or unknown (count_tokens needs no upstream model).
 */
enum kf_err	anthropic_parse(const char *body, size_t len, int for_count,
		    struct conv *out, char **cause);
/* Session UUID from metadata.user_id, JSON or "..._session_<uuid>" form. */
char		*anthropic_session_id(const char *user_id);

/* emit-anthropic.c: the three sinks of /v1/messages and /cc/v1/messages. */
struct anthropic_emit;

/* SSE exactly as doc/protocol.md §6.1; writes the head at start. */
struct anthropic_emit	*anthropic_emit_stream(struct out *, struct sink *);
/* One JSON message at finish. */
struct anthropic_emit	*anthropic_emit_json(struct out *, struct sink *);
/*
 * /cc/v1 (§6.3): SSE held back until the answer is complete, then sent at
 * once with message_start's input_tokens set from the final usage; only
 * pings go out while waiting.
 */
struct anthropic_emit	*anthropic_emit_buffered(struct out *, struct sink *);
void			 anthropic_emit_free(struct anthropic_emit *);

/* Status code and error.type for an error kind. */
int		anthropic_error_status(enum kf_err, const char **type);
/* Appends {"type":"error","error":{"type":...,"message":...}}. */
void		anthropic_error_json(struct buf *, enum kf_err,
		    const char *message);
/* A complete error response (head and body). */
int		anthropic_error_response(struct out *, enum kf_err,
		    const char *message, long retry_after);

/* anthropic.c: the route handlers. */
void		anthropic_messages(struct request *);
void		anthropic_cc_messages(struct request *);
void		anthropic_count_tokens(struct request *);

#endif
