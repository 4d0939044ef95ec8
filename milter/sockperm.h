/*
 * sockperm.h - making the milter's unix socket reachable by the MTA only
 * (sockperm.c).  Called from main() in this order: gm_msock_group and
 * gm_msock_prepare_dir while still root, gm_msock_check_mode before
 * listening, gm_msock_secure once libmilter made the socket.  Each returns
 * 0, or -1 with the reason in why.
 */
#ifndef GH_MILTER_SOCKPERM_H
#define GH_MILTER_SOCKPERM_H

#include <stddef.h>
#include <sys/types.h>

/* The gid of group name; (gid_t)-1 for an empty name (no group change). */
int gm_msock_group(const char *name, gid_t *gid, char *why, size_t wlen);

/* If the socket's directory does not exist, create it for user (when
 * root) and group gid, mode 2750 (0700 without a group).  An existing one
 * is left alone. */
int gm_msock_prepare_dir(const char *sock_path, const char *user, gid_t gid,
                         char *why, size_t wlen);

/* Refuse a mode that grants others anything. */
int gm_msock_check_mode(mode_t mode, char *why, size_t wlen);

/* Give the socket group gid (unless -1) and mode. */
int gm_msock_secure(const char *sock_path, mode_t mode, gid_t gid, char *why,
                    size_t wlen);

#endif
