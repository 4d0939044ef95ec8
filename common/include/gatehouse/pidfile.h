/*
 * gatehouse/pidfile.h - a daemon's pid file, and signalling the daemon
 * through it without trusting what the file says
 *
 * A pid file sits in a directory the daemon's user can write (it is written
 * after dropping privileges), while the command that signals the daemon
 * (`gatehouse dkim rotate`) runs as root.  Whoever can write the file, a
 * compromised daemon first of all, could name any process in it, and root
 * would signal that process.  So the number in the file is never what gets
 * signalled:
 *
 *   - the daemon holds a write lock (a classic fcntl() record lock) on the
 *     file for its whole life, through the descriptor it wrote the pid with,
 *     kept open (gh_pidfile_lock());
 *   - the signalling side asks the kernel which process holds that lock
 *     (F_GETLK, which reports the holder's pid; an open file description lock
 *     would report -1, hence classic locks), then checks that /proc/PID/exe is
 *     the daemon's program before it signals (gh_pidfile_signal()).
 *
 * No lock held means the daemon is not running: nothing is signalled, stale
 * file or not.  The file's contents are only returned, so that a caller can
 * say when they disagree with the lock.
 *
 * Either side refuses a symbolic link (O_NOFOLLOW) and anything but a
 * regular file; the daemon also refuses a file it does not own or that has
 * other hard links, as it truncates what it opens.
 *
 * Classic record locks belong to the process and are not inherited across
 * fork(): the process that called gh_pidfile_lock() is the one named, and it
 * loses the lock if it closes ANY descriptor of the file, so it must not open
 * the pid file again.
 *
 * The library never logs: what went wrong is written to the caller's detail
 * buffer.  Linux only (/proc, pidfd).
 */
#ifndef GATEHOUSE_PIDFILE_H
#define GATEHOUSE_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gh_pidfile_lock - the daemon's side: create or open path, take the write
 * lock, and write our pid (decimal, newline) over whatever the file held.
 *   path    the pid file; opened O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, mode
 *           0644 when created.
 *   fd_out  receives the locked descriptor.  Keep it open for as long as the
 *           process runs: the lock lives with it (gh_pidfile_release()).
 *   holder  if not NULL, receives on GH_EEXIST the pid of the process that
 *           holds the lock (0 if it could not be told), else 0.
 *   detail  if not NULL, receives why it failed, path included ("already
 *           running, pid 123 (/run/gatehouse-milter/milter.pid)").
 * Returns GH_OK; GH_EEXIST if another process holds the lock (another
 * instance runs); GH_EINVAL if path is a symbolic link, not a regular file,
 * owned by another user or has other hard links; GH_ENOTFOUND if its
 * directory does not exist; GH_EACCES; GH_EIO for other failures.  On error
 * *fd_out is -1 and nothing is left open.
 */
gh_err gh_pidfile_lock(const char *path, int *fd_out, pid_t *holder,
                       char *detail, size_t detail_len);

/*
 * gh_pidfile_release - the daemon's side, on the way out: remove path if it
 * is still the file fd locks (not one put in its place since), then close
 * fd, which releases the lock.  fd < 0 is ignored.
 */
void gh_pidfile_release(const char *path, int fd);

/* What gh_pidfile_signal() found, filled whatever it returns. */
struct gh_pidfile_holder {
	pid_t pid;      /* the process holding the lock; 0 if none was found */
	pid_t written;  /* the pid the file's contents name; 0 if none */
};

/*
 * gh_pidfile_signal - the signalling side: send sig to the process that holds
 * the lock on path, provided it runs the expected program.
 *   path     the pid file; opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK, never
 *            written.
 *   sig      the signal.
 *   names    NULL-terminated list of accepted program names, compared with
 *            the last component of /proc/PID/exe (a " (deleted)" suffix, left
 *            by a package upgrade that replaced the running binary, ignored).
 *   program  if neither NULL nor empty, /proc/PID/exe must also be this file
 *            (its real path, symbolic links resolved).
 *   found    if not NULL, receives the holder's pid and the pid written in
 *            the file, also on failure, for the caller's message.
 *   detail   if not NULL, receives why nothing was signalled.
 * Returns GH_OK once signalled; GH_ENOTFOUND if the daemon is not running
 * (no pid file, no lock held, or the holder exited meanwhile): nothing was
 * signalled; GH_EINVAL if path is refused (a symbolic link, not a regular
 * file, a lock whose holder the kernel does not name) or the holder runs
 * another program; GH_EACCES if the holder's program cannot be read or it may
 * not be signalled (not root, another user); GH_EIO for other failures.
 * Only GH_OK signals anything.
 *
 * The holder is pinned with a pidfd before its program is checked, and the
 * lock looked at again afterwards, so a holder that exits meanwhile and a
 * pid reused by another process are never signalled.
 */
gh_err gh_pidfile_signal(const char *path, int sig, const char *const *names,
                         const char *program, struct gh_pidfile_holder *found,
                         char *detail, size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_PIDFILE_H */
