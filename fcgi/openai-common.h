/* openai-common.h: what both OpenAI front ends (Chat Completions, Responses) share. */
#ifndef OPENAI_COMMON_H
#define OPENAI_COMMON_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "err.h"

struct out;

/*
 * OpenAI's error vocabulary for one of ours: the status code, error.type
 * and error.code (NULL when OpenAI sends null), as the official API does
 * (invalid_request_error 400, invalid_api_key 401, rate_limit_exceeded and
 * insufficient_quota 429, context_length_exceeded 400, server_error 5xx,
 * and an unknown model 404 invalid_request_error model_not_found).
 */
int	openai_error_status(enum kf_err, const char **type, const char **code);
/*
 * Appends {"error":{"message":...,"type":...,"param":...,"code":...}};
 * KF_ENOTFOUND names param "model" when the caller gives none.
 */
void	openai_error_json(struct buf *, enum kf_err, const char *message,
	    const char *param);
/* A complete error response (head with Retry-After when > 0, and body). */
int	openai_error_response(struct out *, enum kf_err, const char *message,
	    const char *param, long retry_after);
/* The same with no param: a relay failure (a serve_error_fn). */
int	openai_relay_error(struct out *, enum kf_err, const char *message,
	    long retry_after);

/* Annotations one message may carry (a cap on work and answer size). */
#define OPENAI_MAX_ANNOTATIONS	100

enum openai_citation_shape {
	OPENAI_CITATION_FLAT,	/* Responses: fields beside "type" */
	OPENAI_CITATION_NESTED,	/* Chat: under "url_citation" */
};

/*
 * Appends to arr (a json array) one url_citation annotation for each
 * place text (len bytes) names url, while arr holds fewer than
 * OPENAI_MAX_ANNOTATIONS.  start_index and end_index count code points,
 * as OpenAI does, from base (the characters of the message before text).
 * title NULL: the url.  Linear in len.
 */
void	openai_url_citations(json_object *arr, const char *text, size_t len,
	    long base, const char *url, const char *title,
	    enum openai_citation_shape);
/* Code points in s[0, len). */
long	openai_utf8_chars(const char *s, size_t len);

#endif
