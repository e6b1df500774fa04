/* info.h: the routes that describe the gateway: /, /health, /v1/models. */
#ifndef INFO_H
#define INFO_H

struct request;

/* HEAD / and GET /: Claude Code's connectivity probe; no auth. */
void	info_root(struct request *);
/*
 * GET /health: the status for anyone; the version and account counts
 * only with the client key.  Counted at most every few seconds per
 * process.
 */
void	info_health(struct request *);
/*
 * GET /v1/models: the catalogue in one list that both the Anthropic and
 * the OpenAI SDKs read (each ignores the other's fields).
 */
void	info_models(struct request *);
/* GET /v1/models/{id}: one model, or 404. */
void	info_model(struct request *);

#endif
