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
 * Replaces path with len bytes: writes a new temporary file with a random
 * name beside it (O_EXCL, so nothing pre-placed is followed or reused),
 * with exactly the given mode whatever the umask, fsyncs it, renames it
 * over path and fsyncs the directory, so that readers see either the old
 * or the new file, never a mix.  The directory is opened without following
 * a symbolic link as its last component and the work is done relative to
 * it (openat, renameat); a path that is a symbolic link or not a regular
 * file is refused.  An existing file's owner is kept when allowed.
 */
enum kf_err	fileio_write_atomic(const char *path, const void *data,
		    size_t len, mode_t mode, char **cause);

#endif
