/* admin.h: the admin API (/api/admin/...): accounts, usage and settings. */
#ifndef ADMIN_H
#define ADMIN_H

#include "request.h"

struct app;

/* A body over this is refused with 413 before it is read. */
#define ADMIN_MAX_BODY		(64 * 1024)
/* POST /credentials/import takes a whole kiro.rs credentials file. */
#define ADMIN_MAX_IMPORT_BODY	(1024 * 1024)
#define ADMIN_MAX_IMPORT	1000	/* credentials in one import */

/* 1 when the route path (mount prefix removed) is under /api/admin. */
int	admin_path(const char *path);

/*
 * Serves one admin request (doc/protocol.md §9.2 and ours; the table is
 * in admin.c and kiro-fcgi(8), ADMIN API).  Every admin path is 404 unless adminApiKey
 * is set and differs from apiKey; then x-api-key or Authorization: Bearer
 * must carry it (401 when missing or wrong, 403 for the client apiKey),
 * compared in constant time, before the body is read (capped,
 * ADMIN_MAX_BODY).  Answers and
 * errors ({"error":{"type","message"}}) never carry a secret.
 */
void	admin_serve(const struct app *, struct request *, request_read_fn,
	    void *stream);

#endif
