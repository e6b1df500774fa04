/* admin-keys.h: the admin API's client key routes (/api/admin/keys...). */
#ifndef ADMIN_KEYS_H
#define ADMIN_KEYS_H

#include "request.h"

struct store;

/* 1 when rest (the path after /api/admin/) is "keys" or under it. */
int	admin_keys_path(const char *rest);

/*
 * Serves, once admin.c has checked the admin key:
 *   GET    keys                 {"keys":[clientkeys_public_json...]}
 *   POST   keys                 {"name","models","rpm","monthlyRequests",
 *                               "monthlyTokens","expires"}: 201 with the
 *                               key, the one time it is shown
 *   POST   keys/{name}/disabled {"disabled":bool}
 *   POST   keys/{name}/rotate   200 with the new key, shown once
 *   DELETE keys/{name}
 * Errors are admin.c's {"error":{"type","message"}}: 400, 404 (no such
 * key or route), 405 with Allow, 409 (the name exists), 413, 500.  No
 * other answer carries a key: only its first 4 characters and its hash.
 */
void	admin_keys_serve(struct store *, struct request *, const char *rest,
	    request_read_fn, void *stream);

#endif
