/* fileio.c: read a whole file; replace a file atomically. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
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

enum kf_err
fileio_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, char **cause)
{
	struct stat	 st;
	char		*tmp, *dircopy;
	int		 fd, dfd, have_old;
	enum kf_err	 er = KF_EINVAL;

	have_old = stat(path, &st) == 0;
	tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    have_old ? (st.st_mode & 07777) : mode);
	if (fd == -1) {
		xsetprintf(cause, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return KF_EINVAL;
	}
	if (have_old) {
		/* Keep the operator's ownership and mode; best effort. */
		if (fchown(fd, st.st_uid, st.st_gid) == -1 && errno != EPERM)
			goto fail;
		if (fchmod(fd, st.st_mode & 07777) == -1)
			goto fail;
	} else if (fchmod(fd, mode) == -1)
		goto fail;
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	/* Make the rename itself durable. */
	dircopy = xstrdup(path);
	if ((dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dircopy);
	free(tmp);
	return KF_OK;
fail:
	xsetprintf(cause, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	return er;
}
