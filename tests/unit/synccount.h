/*
 * synccount.h: counts this test program's sync calls on one file.
 *
 * Include it in exactly one file of a test program.  Its fsync, fdatasync,
 * msync, syncfs and sync come first in symbol lookup, so libgdbm's calls
 * land here; each counts, then calls the C library's.  fsync and fdatasync
 * count only when the descriptor is the watched file (a STORE_WRITE_NOSYNC
 * transaction lets GDBM fsync an empty memfd instead); msync with MS_SYNC,
 * syncfs and sync always count.  Counting is per process.
 */
#ifndef SYNCCOUNT_H
#define SYNCCOUNT_H

#include <sys/mman.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int	tu_n_syncs;
static char		tu_sync_path[PATH_MAX];

/* Starts counting syncs of path (it need not exist yet). */
static inline void
tu_sync_watch(const char *path)
{
	snprintf(tu_sync_path, sizeof(tu_sync_path), "%s", path);
}

/* Sync calls counted so far. */
static inline int
tu_syncs(void)
{
	return __atomic_load_n(&tu_n_syncs, __ATOMIC_SEQ_CST);
}

static void *
tu_real_fn(const char *name)
{
	void	*fn;

	if ((fn = dlsym(RTLD_NEXT, name)) == NULL)
		abort();
	return fn;
}

static void
tu_count(void)
{
	__atomic_add_fetch(&tu_n_syncs, 1, __ATOMIC_SEQ_CST);
}

static void
tu_count_fd(int fd)
{
	struct stat	want, sb;

	if (tu_sync_path[0] == '\0' || stat(tu_sync_path, &want) == -1 ||
	    fstat(fd, &sb) == -1)
		return;
	if (sb.st_dev == want.st_dev && sb.st_ino == want.st_ino)
		tu_count();
}

int
fsync(int fd)
{
	static int	(*real)(int);

	if (real == NULL)
		real = (int (*)(int))tu_real_fn("fsync");
	tu_count_fd(fd);
	return real(fd);
}

int
fdatasync(int fd)
{
	static int	(*real)(int);

	if (real == NULL)
		real = (int (*)(int))tu_real_fn("fdatasync");
	tu_count_fd(fd);
	return real(fd);
}

int
msync(void *addr, size_t len, int flags)
{
	static int	(*real)(void *, size_t, int);

	if (real == NULL)
		real = (int (*)(void *, size_t, int))tu_real_fn("msync");
	/* The store opens GDBM with GDBM_NOMMAP: any msync is suspect. */
	if (flags & MS_SYNC)
		tu_count();
	return real(addr, len, flags);
}

int
syncfs(int fd)
{
	static int	(*real)(int);

	if (real == NULL)
		real = (int (*)(int))tu_real_fn("syncfs");
	tu_count();
	return real(fd);
}

void
sync(void)
{
	static void	(*real)(void);

	if (real == NULL)
		real = (void (*)(void))tu_real_fn("sync");
	tu_count();
	real();
}

#endif
