/* apierr.h: one table from our error vocabulary to each client API's. */
#ifndef APIERR_H
#define APIERR_H

#include "err.h"

/* The client APIs, by error format. */
enum api {
	API_ANTHROPIC,	/* {"type":"error","error":{"type","message"}} */
	API_OPENAI,	/* {"error":{"message","type","param","code"}} */
	API_GEMINI,	/* {"error":{"code","message","status"}} */
	API__MAX
};

/*
 * What one API answers for one enum kf_err: the HTTP status, the error
 * type (Gemini: its status name, "INVALID_ARGUMENT"), and OpenAI's
 * error.code (NULL where OpenAI sends null, and for the other APIs).
 * Client errors are 4xx; 5xx only for what a retry can fix or a fault of
 * ours, since SDKs and CLIs retry 5xx on their own.  Static; never NULL.
 */
struct api_error {
	int		 status;
	const char	*type;
	const char	*code;
};

const struct api_error	*api_error(enum api, enum kf_err);

#endif
