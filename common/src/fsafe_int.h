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

/* gh_fs_check_parents - every directory above real (an absolute path with
 * no symbolic links: realpath's result), and real itself with self, is
 * owned by root, this euid or also, and not writable by group or others
 * unless sticky.  GH_EACCES otherwise.  also is the store's owner when root
 * looks before becoming it (what that uid may change is its own store's
 * business); pass geteuid() otherwise. */
gh_err gh_fs_check_parents(const char *real, int self, uid_t also,
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

#endif
