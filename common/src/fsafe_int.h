/*
 * fsafe_int.h - checks that a store's directory and files can be changed by
 * their owner alone, and opening them without following links (fsafe.c).
 * Library-internal.  docs/security.md gives the rule these enforce.
 */
#ifndef GATEHOUSE_FSAFE_INT_H
#define GATEHOUSE_FSAFE_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "gatehouse/err.h"

/*
 * gh_fs_resolve - the real path of path (no links, no . or ..; real has
 * PATH_MAX bytes), found one name at a time, refusing (GH_EACCES, detail
 * says which) to look a name up in a directory that anyone but root, this
 * euid or also can change (a sticky one, as /tmp, is fine): a link there
 * could have been planted.  Links in safe directories are followed and
 * what they lead through is checked the same way.  The last name itself is
 * not judged here (the store directory has rules of its own).  When only
 * the last name is missing, GH_ENOTFOUND with *missing = 1 and real the
 * path it would have.  also is the store's owner when root looks before
 * becoming it; pass geteuid() otherwise.
 */
gh_err gh_fs_resolve(const char *path, uid_t also, char *real, int *missing,
                     char *detail, size_t dlen);

/* gh_fs_check_dir - dfd (the store directory, opened O_NOFOLLOW) is a
 * directory owned by owner.  Mode 0700 is what it should be; with fix, any
 * other mode is made 0700 (fchmod), without fix a group- or other-writable
 * one is GH_EACCES. */
gh_err gh_fs_check_dir(int dfd, const char *path, uid_t owner, int fix,
                       char *detail, size_t dlen);

/* gh_fs_open_file - openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600)
 * and refuse (GH_EACCES, descriptor closed) anything but a regular file
 * owned by owner with one link; a mode other than 0600 is fchmod'ed.  A
 * FIFO is refused without blocking.  *out gets the descriptor. */
gh_err gh_fs_open_file(int dfd, const char *path, const char *name, int flags,
                       uid_t owner, int *out, char *detail, size_t dlen);

/* gh_fs_vet_file - if name exists in dfd, it passes gh_fs_open_file's
 * checks (without opening it) and is made 0600.  Absent is fine. */
gh_err gh_fs_vet_file(int dfd, const char *path, const char *name,
                      uid_t owner, char *detail, size_t dlen);

/* gh_fs_check_file - what gh_fs_open_file checks, changing nothing: if
 * name exists in dfd, it is opened read-only (O_NOFOLLOW, O_NONBLOCK) and
 * must be a regular file of owner's with one link that owner can read and
 * write.  Absent is fine.  Never on a store this process has open: closing
 * a descriptor of lock.mdb drops the locks LMDB holds on it. */
gh_err gh_fs_check_file(int dfd, const char *path, const char *name,
                        uid_t owner, char *detail, size_t dlen);

#endif
