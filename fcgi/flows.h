/* flows.h: what each API request did, noted and handed to the request log. */
#ifndef FLOWS_H
#define FLOWS_H

#include "err.h"

struct conv;
struct relay_result;
struct request;

/*
 * Puts a tap on req->out when flowLog.enabled: it notes when the first
 * byte went out and keeps the answer body's first bytes when the status
 * is an error (for its type and message) or flowLog.bodies is set.
 */
void	flows_begin(struct request *);

/*
 * Notes what serve_relay did: the client's model, stream, attempts,
 * tokens, and the failure (er, why) when there was one.  why is copied.
 */
void	flows_note(struct request *, const struct conv *,
	    const struct relay_result *, enum kf_err er, const char *why);

/*
 * At the end of a request, after its access-log line: appends its record
 * to stateDir/flows (flowlog.h) unless it was no API request (admin,
 * health, metrics) or the log is off, and frees what the notes hold.
 */
void	flows_end(struct request *);

/* The API a route path belongs to ("anthropic", "openai-chat", ...). */
const char *flows_api(const char *method, const char *path);

#endif
