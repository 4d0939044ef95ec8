/*
 * child.h - run the store work with a hard deadline
 *
 * mode=child (the default): the work runs in a forked child that reports
 * its outcome through a pipe; the caller waits at most until the deadline,
 * then kills the child.  Nothing the store, LMDB or the disk does can then
 * hold a login longer than timeout_ms, no LMDB environment, descriptor or
 * allocation is ever made in the host process, and a root host's child
 * becomes the store's owner before it reads the store.
 * mode=inline: the work runs in the caller, bounded only by the library's
 * lock deadline and the lock.mdb check (cheaper, weaker; docs/pam.md).
 */
#ifndef GH_PAM_CHILD_H
#define GH_PAM_CHILD_H

#include <stdint.h>

#include "record.h"

/*
 * gh_pam_run - do what for the login within o->timeout_ms of start_us
 * (gh_pam_mono_us() time), in a child or inline as o->mode says.
 */
void gh_pam_run(const struct gh_pam_opts *o, const struct gh_pam_login *l,
                enum gh_pam_what what, int64_t start_us,
                struct gh_pam_outcome *out);

#endif
