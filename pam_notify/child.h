/*
 * child.h - run the store work with a hard deadline
 *
 * mode=detach (the default): the login waits only for a first child that
 * forks the writer and exits at once.  The writer -- a grandchild, adopted
 * by init, in a session of its own, named "pam_gatehouse" -- does the store
 * work under a timer that kills it timeout_ms after the call began, and
 * logs its own outcome.  A login then costs two forks whatever the disk,
 * the lock or the store do; the price is that the caller cannot know the
 * outcome, so fail_closed implies mode=child.
 * mode=child: the work runs in a forked child that reports its outcome
 * through a pipe; the caller waits at most until the deadline, then kills
 * the child.  Nothing the store, LMDB or the disk does can then hold a
 * login longer than timeout_ms.
 * In both, no LMDB environment, descriptor or allocation is ever made in
 * the host process, and a root host's child becomes the store's owner,
 * then execs the writer program (o->writer, checked on its descriptor)
 * with the login as a record on its stdin (wire.h): the store is read in
 * a fresh address space, never in a copy of the host's.  A store owned by
 * root is written by the child itself.
 * mode=inline: the work runs in the caller, bounded only by the library's
 * lock deadline and the lock.mdb check (cheaper, weaker; docs/pam.md).
 */
#ifndef GH_PAM_CHILD_H
#define GH_PAM_CHILD_H

#include <stdint.h>

#include "record.h"

/* How a detached writer reports its outcome (it logs in the host's way,
 * from its own process); arg is gp_run's report_arg. */
typedef void gp_report_fn(void *arg, const struct gp_outcome *out);

/*
 * gp_run - do what for the login within o->timeout_ms of start_us
 * (gp_mono_us() time), detached, in a child or inline as o->mode says.
 * out is the outcome as the caller can know it: with mode=detach, whether
 * the writer was started (GH_PAM_R_DETACHED); the writer hands its own
 * outcome to report (which may be NULL) before it exits.
 */
void gp_run(const struct gp_opts *o, const struct gp_login *l,
                enum gp_what what, int64_t start_us,
                struct gp_outcome *out, gp_report_fn *report,
                void *report_arg);

#endif
