/* credfile.h: write rotated tokens back into the file a credential came from. */
#ifndef CREDFILE_H
#define CREDFILE_H

#include "err.h"

struct cred;

/*
 * Finds, in the kiro.rs credentials file (object or array) or Kiro IDE
 * token cache at path, the entry whose refreshToken is old_refresh_token,
 * and merges into it accessToken, refreshToken, expiresAt and profileArn
 * from updated.  Every other key, the entry order and the file's shape are
 * kept.  The file is replaced atomically (fileio_write_atomic); callers
 * serialise writers (refresh.c holds the store's "credfile" named lock).
 * KF_ENOTFOUND when no entry matches (the file was edited since): the store
 * still has the tokens.
 */
enum kf_err	credfile_writeback(const char *path,
		    const char *old_refresh_token, const struct cred *updated,
		    char **cause);

#endif
