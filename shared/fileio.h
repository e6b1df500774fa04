/* fileio.h: read a whole file; replace a file atomically. */
#ifndef FILEIO_H
#define FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 * Appends the file's bytes to out.  More than max bytes, or any read
 * error, is KF_EINVAL (KF_ENOTFOUND when the file does not exist) with a
 * cause that names the path.
 */
enum kf_err	fileio_read(const char *path, size_t max, struct buf *out,
		    char **cause);

/*
 * Replaces path with len bytes: writes "<path>.tmp-<pid>" with the given
 * mode, fsyncs it, renames it over path and fsyncs the directory, so that
 * readers see either the old or the new file, never a mix.  When path
 * exists, its owner and mode are kept (mode is used for new files).
 */
enum kf_err	fileio_write_atomic(const char *path, const void *data,
		    size_t len, mode_t mode, char **cause);

#endif
