/* fileio.c: read a whole file; replace a file atomically. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "rand.h"
#include "xmalloc.h"

enum kf_err
fileio_read(const char *path, size_t max, struct buf *out, char **cause)
{
	char		chunk[16384];
	ssize_t		n;
	size_t		limit;
	int		fd, saved_errno;
	enum kf_err	er = KF_OK;

	/* max is for the file: out may already hold bytes. */
	limit = max > SIZE_MAX - out->len ? SIZE_MAX : out->len + max;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* xsetprintf may change errno. */
		saved_errno = errno;
		xsetprintf(cause, "%s: %s", path, strerror(saved_errno));
		return saved_errno == ENOENT ? KF_ENOTFOUND : KF_EINVAL;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xsetprintf(cause, "%s: %s", path, strerror(errno));
			er = KF_EINVAL;
			break;
		}
		if (n == 0)
			break;
		if (buf_append_capped(out, chunk, (size_t)n, limit) == -1) {
			xsetprintf(cause, "%s: larger than %zu bytes", path,
			    max);
			er = KF_EINVAL;
			break;
		}
	}
	if (close(fd) == -1 && er == KF_OK) {
		xsetprintf(cause, "%s: %s", path, strerror(errno));
		er = KF_EINVAL;
	}
	buf_cstr(out);
	return er;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Opens the directory that holds path, refusing a symbolic link as its
 * last component; *base points into path at the file's name.
 */
static int
open_parent(const char *path, const char **base)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;
	int		 dfd;

	if (slash == NULL) {
		*base = path;
		dir = xstrdup(".");
	} else {
		*base = slash + 1;
		dir = slash == path ? xstrdup("/") :
		    xstrndup(path, (size_t)(slash - path));
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(dir);
	return dfd;
}

/*
 * A new temporary file beside the target, under a random name: a fixed
 * name could be pre-placed (a symlink, a file someone else owns).
 */
static int
create_temp(int dfd, const char *base, mode_t mode, char **tmp)
{
	char	suffix[17];
	int	fd, tries;

	for (tries = 0; tries < 16; tries++) {
		rand_hex(suffix, sizeof(suffix) - 1);
		*tmp = xasprintf(".%s.tmp-%s", base, suffix);
		fd = openat(dfd, *tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1 || errno != EEXIST)
			return fd;
		free(*tmp);
		*tmp = NULL;
	}
	errno = EEXIST;
	return -1;
}

enum kf_err
fileio_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, char **cause)
{
	struct stat	 st;
	const char	*base;
	char		*tmp = NULL;
	int		 fd = -1, dfd, have_old, saved_errno;

	if ((dfd = open_parent(path, &base)) == -1) {
		saved_errno = errno;
		xsetprintf(cause, "%s: its directory: %s", path,
		    saved_errno == ENOTDIR || saved_errno == ELOOP ?
		    "not a directory (or a symbolic link)" :
		    strerror(saved_errno));
		return KF_EINVAL;
	}
	have_old = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (have_old && !S_ISREG(st.st_mode)) {
		xsetprintf(cause, "%s: not a regular file (a symbolic link?): "
		    "not replaced", path);
		close(dfd);
		return KF_EINVAL;
	}
	if ((fd = create_temp(dfd, base, mode, &tmp)) == -1)
		goto fail;
	/* The mode is forced, whatever the umask or the old file's mode. */
	if (fchmod(fd, mode) == -1)
		goto fail;
	/* Keep the operator's ownership (root writing a user's file). */
	if (have_old && fchown(fd, st.st_uid, st.st_gid) == -1 &&
	    errno != EPERM)
		goto fail;
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) == -1)
		goto fail;
	/* Make the rename itself durable. */
	(void)fsync(dfd);
	close(dfd);
	free(tmp);
	return KF_OK;
fail:
	saved_errno = errno;
	xsetprintf(cause, "%s: %s", path, strerror(saved_errno));
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		(void)unlinkat(dfd, tmp, 0);
	close(dfd);
	free(tmp);
	return KF_EINVAL;
}
