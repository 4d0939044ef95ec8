/*
 * pidfile.c - a pid file locked by its daemon for its whole life, and
 * signalling the lock's holder rather than the pid written in the file (see
 * gatehouse/pidfile.h).
 *
 * The write-to-a-temporary-then-rename idiom does not go with a lock: the
 * lock is on the inode, and a rename would leave it on a file no longer
 * reachable by the name.  So the daemon opens the name itself (O_NOFOLLOW),
 * checks what it opened, locks, and only then truncates and writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/pidfile.h"
#include "detail_int.h"

/* Enough for a pid and a newline, and to see that there is more. */
#define PID_TEXT_MAX 32

/* A failed open(2) of path, in words. */
static gh_err
open_failed(const char *path, int e, char *detail, size_t dlen)
{
	switch (e) {
	case ELOOP:
		return gh_detail(detail, dlen, GH_EINVAL, "pid file %s is a "
		                 "symbolic link (refused)", path);
	case ENOENT:
	case ENOTDIR:
		return gh_detail(detail, dlen, GH_ENOTFOUND, "pid file %s: %s",
		                 path, strerror(e));
	case EACCES:
	case EPERM:
	case EROFS:
		return gh_detail(detail, dlen, GH_EACCES, "pid file %s: %s",
		                 path, strerror(e));
	default:
		return gh_detail(detail, dlen, GH_EIO, "pid file %s: %s", path,
		                 strerror(e));
	}
}

static gh_err
check_regular(const char *path, int fd, struct stat *sb, char *detail,
              size_t dlen)
{
	if (fstat(fd, sb) != 0)
		return gh_detail(detail, dlen, GH_EIO, "pid file %s: fstat: %s",
		                 path, strerror(errno));
	if (!S_ISREG(sb->st_mode))
		return gh_detail(detail, dlen, GH_EINVAL, "pid file %s is not a "
		                 "regular file (refused)", path);
	return GH_OK;
}

static void
whole_file(struct flock *fl, short type)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;	/* l_start 0, l_len 0: all of it */
}

/*
 * Who holds a lock on fd's file, as the kernel tells: *pid is 0 if nobody,
 * -1 if someone it does not name (an OFD lock, a process in another pid
 * namespace).  -1 with errno on failure.  F_GETLK with F_WRLCK reports any
 * lock, and needs no write access to the descriptor.
 */
static int
lock_holder(int fd, pid_t *pid)
{
	struct flock fl;

	whole_file(&fl, F_WRLCK);
	if (fcntl(fd, F_GETLK, &fl) != 0)
		return -1;
	if (fl.l_type == F_UNLCK)
		*pid = 0;
	else
		*pid = fl.l_pid > 0 ? fl.l_pid : -1;
	return 0;
}

/* The pid the file's contents name; 0 if they do not name one.  Only ever
 * used in messages. */
static pid_t
read_written(int fd)
{
	char buf[PID_TEXT_MAX], *end;
	ssize_t n;
	long v;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (end == buf || errno != 0 || v <= 0 || v > INT_MAX ||
	    (*end != '\0' && *end != '\n'))
		return 0;
	return (pid_t)v;
}

gh_err
gh_pidfile_lock(const char *path, int *fd_out, pid_t *holder, char *detail,
                size_t detail_len)
{
	struct flock fl;
	struct stat sb;
	char buf[PID_TEXT_MAX];
	int fd = -1, n;
	gh_err err = GH_OK;

	if (holder != NULL)
		*holder = 0;
	if (fd_out != NULL)
		*fd_out = -1;
	if (path == NULL || *path == '\0' || fd_out == NULL) {
		err = gh_detail(detail, detail_len, GH_EINVAL, "no pid file");
		goto cleanup;
	}
	/* O_NONBLOCK: should a FIFO or a device sit there, opening it must
	 * not hang start-up; the fstat() below then refuses it. */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	          O_NONBLOCK, 0644);
	if (fd < 0) {
		err = open_failed(path, errno, detail, detail_len);
		goto cleanup;
	}
	err = check_regular(path, fd, &sb, detail, detail_len);
	if (err)
		goto cleanup;
	/* We truncate what we opened: never someone else's file, nor one
	 * linked to a name elsewhere (a root daemon would clobber it). */
	if (sb.st_uid != geteuid()) {
		err = gh_detail(detail, detail_len, GH_EINVAL, "pid file %s is "
		                "owned by uid %ld, not by this process's uid %ld "
		                "(refused)", path, (long)sb.st_uid,
		                (long)geteuid());
		goto cleanup;
	}
	if (sb.st_nlink != 1) {
		err = gh_detail(detail, detail_len, GH_EINVAL, "pid file %s has "
		                "%ld hard links (refused)", path,
		                (long)sb.st_nlink);
		goto cleanup;
	}
	whole_file(&fl, F_WRLCK);
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		pid_t p = 0;

		if (errno != EACCES && errno != EAGAIN) {
			err = gh_detail(detail, detail_len, GH_EIO, "pid file %s: "
			                "cannot lock: %s", path, strerror(errno));
			goto cleanup;
		}
		if (lock_holder(fd, &p) != 0 || p < 0)
			p = 0;
		if (holder != NULL)
			*holder = p;
		if (p > 0)
			err = gh_detail(detail, detail_len, GH_EEXIST, "already "
			                "running, pid %ld (%s is locked)", (long)p,
			                path);
		else
			err = gh_detail(detail, detail_len, GH_EEXIST, "already "
			                "running (%s is locked)", path);
		goto cleanup;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		err = gh_detail(detail, detail_len, GH_EIO, "pid file %s: %s",
		                path, strerror(errno));
		goto cleanup;
	}
	*fd_out = fd;
	fd = -1;

cleanup:
	if (fd >= 0)
		close(fd);
	return err;
}

void
gh_pidfile_release(const char *path, int fd)
{
	struct stat ours, there;

	if (fd < 0)
		return;
	/* Unlink before closing, while the lock still keeps a second daemon
	 * from writing the file; and only our own file, not one put there
	 * since. */
	if (path != NULL && fstat(fd, &ours) == 0 && lstat(path, &there) == 0 &&
	    ours.st_dev == there.st_dev && ours.st_ino == there.st_ino)
		(void)unlink(path);
	close(fd);
}

/* Is /proc/PID/exe one of names (and program, if given)? */
static gh_err
check_program(const char *path, pid_t pid, const char *const *names,
              const char *program, char *detail, size_t dlen)
{
	static const char deleted[] = " (deleted)";
	char link[64], exe[PATH_MAX], want[PATH_MAX];
	const char *base;
	ssize_t n;
	size_t len, i;

	(void)snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return gh_detail(detail, dlen, GH_ENOTFOUND, "not running "
			                 "(pid %ld, which held the lock on %s, has "
			                 "exited)", (long)pid, path);
		return gh_detail(detail, dlen, errno == EACCES ||
		                 errno == EPERM ? GH_EACCES : GH_EIO,
		                 "cannot tell which program pid %ld, holding the "
		                 "lock on %s, runs (%s: %s)", (long)pid, path, link,
		                 strerror(errno));
	}
	exe[n] = '\0';
	/* a package upgrade replaced the binary under the running daemon */
	len = (size_t)n;
	if (len > sizeof(deleted) - 1 &&
	    strcmp(exe + len - (sizeof(deleted) - 1), deleted) == 0)
		exe[len - (sizeof(deleted) - 1)] = '\0';
	base = strrchr(exe, '/');
	base = base != NULL ? base + 1 : exe;
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], base) == 0)
			break;
	if (names[i] == NULL)
		return gh_detail(detail, dlen, GH_EINVAL, "pid %ld, holding the "
		                 "lock on %s, runs %s, not %s (refused)",
		                 (long)pid, path, exe,
		                 names[0] != NULL ? names[0] : "the daemon");
	if (program != NULL && *program != '\0') {
		if (realpath(program, want) == NULL)
			(void)snprintf(want, sizeof(want), "%s", program);
		if (strcmp(want, exe) != 0)
			return gh_detail(detail, dlen, GH_EINVAL, "pid %ld, holding "
			                 "the lock on %s, runs %s, not %s (refused)",
			                 (long)pid, path, exe, want);
	}
	return GH_OK;
}

gh_err
gh_pidfile_signal(const char *path, int sig, const char *const *names,
                  const char *program, struct gh_pidfile_holder *found,
                  char *detail, size_t detail_len)
{
	struct gh_pidfile_holder h = {0, 0};
	struct stat sb;
	pid_t again = 0;
	int fd = -1, pfd = -1, rc;
	gh_err err = GH_OK;

	if (path == NULL || *path == '\0' || names == NULL) {
		err = gh_detail(detail, detail_len, GH_EINVAL, "no pid file");
		goto cleanup;
	}
	/* Never written through; O_NONBLOCK so that a FIFO cannot hang us. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	          O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			err = gh_detail(detail, detail_len, GH_ENOTFOUND, "not "
			                "running (no pid file %s)", path);
		else
			err = open_failed(path, errno, detail, detail_len);
		goto cleanup;
	}
	err = check_regular(path, fd, &sb, detail, detail_len);
	if (err)
		goto cleanup;
	h.written = read_written(fd);
	if (lock_holder(fd, &h.pid) != 0) {
		err = gh_detail(detail, detail_len, GH_EIO, "pid file %s: cannot "
		                "ask for its lock: %s", path, strerror(errno));
		goto cleanup;
	}
	if (h.pid == 0) {
		err = gh_detail(detail, detail_len, GH_ENOTFOUND, "not running "
		                "(nothing holds the lock on %s)", path);
		goto cleanup;
	}
	if (h.pid < 0) {
		h.pid = 0;
		err = gh_detail(detail, detail_len, GH_EINVAL, "%s is locked by "
		                "a process the kernel does not name (refused)",
		                path);
		goto cleanup;
	}
	/* Pin the process before looking at it: a signal through the pidfd
	 * reaches this process or none, never a later one given its pid. */
	pfd = pidfd_open(h.pid, 0);
	if (pfd < 0 && errno != ENOSYS) {
		if (errno == ESRCH)
			err = gh_detail(detail, detail_len, GH_ENOTFOUND, "not "
			                "running (pid %ld, which held the lock on "
			                "%s, has exited)", (long)h.pid, path);
		else
			err = gh_detail(detail, detail_len, GH_EIO, "pidfd_open "
			                "%ld: %s", (long)h.pid, strerror(errno));
		goto cleanup;
	}
	err = check_program(path, h.pid, names, program, detail, detail_len);
	if (err)
		goto cleanup;
	/* Still the holder: the pinned process is the one checked. */
	if (lock_holder(fd, &again) != 0 || again != h.pid) {
		err = gh_detail(detail, detail_len, GH_ENOTFOUND, "not running "
		                "(pid %ld let go of the lock on %s meanwhile)",
		                (long)h.pid, path);
		goto cleanup;
	}
	rc = pfd >= 0 ? pidfd_send_signal(pfd, sig, NULL, 0) :
	    kill(h.pid, sig);
	if (rc != 0 && errno == ESRCH)
		err = gh_detail(detail, detail_len, GH_ENOTFOUND, "not running "
		                "(pid %ld, which held the lock on %s, has exited)",
		                (long)h.pid, path);
	else if (rc != 0)
		err = gh_detail(detail, detail_len, errno == EPERM ? GH_EACCES :
		                GH_EIO, "cannot signal pid %ld: %s", (long)h.pid,
		                strerror(errno));

cleanup:
	if (pfd >= 0)
		close(pfd);
	if (fd >= 0)
		close(fd);
	if (found != NULL)
		*found = h;
	return err;
}
