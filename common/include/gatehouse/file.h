/*
 * gatehouse/file.h - reading a whole small file with a size cap
 *
 * Keys, templates, time zones, retire stamps: every part reads small files
 * whole.  These calls are the one way: the file is opened with O_NOFOLLOW
 * (a link planted at the last name is refused, unless the caller says the
 * place is one where links are the norm), O_CLOEXEC and O_NONBLOCK (a FIFO
 * cannot hang the caller); then all checks act on the descriptor: a
 * regular file, no larger than the cap, read to its end (not to the size
 * fstat gave: the file may change while it is read).
 *
 * Errors (detail, when given, says "PATH: what" in words):
 *   GH_ENOTFOUND  no such file (or a directory on the way is missing)
 *   GH_EACCES     permission denied, or a link refused
 *   GH_EINVAL     not a regular file (a directory, a FIFO, a device)
 *   GH_ETOOBIG    more than the cap
 *   GH_ENOMEM     out of memory (gh_file_read only)
 *   GH_EIO        a read error
 *
 * Thread safe; no state; never logs.  The library never opens a store's
 * files through these (fsafe has stricter rules for those).
 */
#ifndef GATEHOUSE_FILE_H
#define GATEHOUSE_FILE_H

#include <stddef.h>

#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Follow a link at the last name (the system's time zone files, where
 * links are how aliases are made).  Without it a link is GH_EACCES. */
#define GH_FILE_FOLLOW 0x1u
/* A secret (a key, credentials): refused (GH_EACCES, the detail says the
 * chmod to run) when group or others have any permission on it, or when
 * it is owned by a uid other than this process's effective one or root. */
#define GH_FILE_SECRET 0x2u

/*
 * gh_file_read_into - read the file at path whole into buf (cap bytes, at
 * least 1), NUL-terminated: at most cap - 1 bytes of content, more is
 * GH_ETOOBIG.  *len gets the length read.  For secrets, buf is the
 * caller's to wipe, and no other copy of the content is made.
 */
gh_err gh_file_read_into(const char *path, unsigned flags, void *buf,
                         size_t cap, size_t *len, char *detail, size_t dlen);

/*
 * gh_file_read - read the file at path whole into a new buffer, at most
 * max bytes (more is GH_ETOOBIG); *out gets it (NUL-terminated, free()
 * it), *len its length.  On error *out is NULL.  Not for secrets: the
 * buffer may be grown, leaving copies in freed memory.
 */
gh_err gh_file_read(const char *path, unsigned flags, size_t max, char **out,
                    size_t *len, char *detail, size_t dlen);

/* gh_file_read_at - gh_file_read of name in the directory open as dfd
 * (AT_FDCWD: the current one); detail names it by name. */
gh_err gh_file_read_at(int dfd, const char *name, unsigned flags, size_t max,
                       char **out, size_t *len, char *detail, size_t dlen);

/*
 * gh_file_write_all - write len bytes of buf to fd (a file or a pipe),
 * again after a short write or EINTR.  GH_EIO on an error, errno telling
 * which; a write that makes no progress is EIO too.  (Sockets of a host
 * that may not ignore SIGPIPE want send(2) with MSG_NOSIGNAL instead.)
 */
gh_err gh_file_write_all(int fd, const void *buf, size_t len);

/*
 * gh_file_open_program - open a program root will run (or have run as
 * another uid), such that no less trusted uid can have chosen what runs:
 * path must be absolute; every directory on the way must be changeable by
 * root alone (owned by root, not writable by group or others unless it is
 * sticky, as /tmp: then others cannot rename what root owns in it), links
 * (the last name's too) are followed only where root alone could have
 * made them (the rule stores are opened by), and the file they lead to
 * must be a regular file owned by root and writable by root alone.  *fd gets an O_PATH | O_CLOEXEC descriptor of it: exec that
 * (execveat(fd, "", argv, envp, AT_EMPTY_PATH)), so what was checked is
 * what runs.  (Run by another uid, directories of that uid's pass too:
 * gh_fs_resolve's rule, as for its stores; the check that matters is the
 * one root makes before it runs the program.)
 * Errors: GH_EINVAL (not absolute), GH_ENOTFOUND, GH_EACCES
 * (detail names the directory or file and why), GH_ETOOBIG, GH_EIO.
 * Uses no heap (safe in a child forked from a threaded host).
 */
gh_err gh_file_open_program(const char *path, int *fd, char *detail,
                            size_t dlen);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_FILE_H */
