/*
 * newhost.h - the session hook's store work: known_hosts and login events
 *
 * known_hosts holds one record per (user, network), its key and layout
 * defined in gatehouse/knownhosts.h (read and written through it here).
 * docs/pam.md and docs/store.md describe it.  A pair not seen before
 * raises login.new_host, except for a user's very first pair, which is
 * the baseline (recorded silently unless alert_first=yes).
 */
#ifndef GH_PAM_NEWHOST_H
#define GH_PAM_NEWHOST_H

#include <stdint.h>

#include "gatehouse/store.h"
#include "login.h"
#include "options.h"

/* Outcome flags of one session, for the debug log and the tests. */
#define GH_PAM_R_KNOWN     0x01u  /* the (user, network) pair was known */
#define GH_PAM_R_BASELINE  0x02u  /* the user's first pair: silent */
#define GH_PAM_R_NEW_HOST  0x04u  /* login.new_host enqueued */
#define GH_PAM_R_LOGIN     0x08u  /* the per-login event enqueued */
#define GH_PAM_R_DUP       0x10u  /* an event was a dedup hit */
#define GH_PAM_R_BURST     0x20u  /* login.failed_burst enqueued */
#define GH_PAM_R_COUNTED   0x40u  /* a failure was counted */
#define GH_PAM_R_LOCAL     0x80u  /* no remote host: no new-host check */
#define GH_PAM_R_DETACHED  0x100u /* handed to a detached writer */

struct gp_job {
	const struct gp_opts *opts;
	const struct gp_login *login;
	unsigned flags;        /* out: GH_PAM_R_*; reset by each run */
	uint64_t count;        /* out: logins from the pair, or failures */
};

/*
 * gp_session_txn - a gh_txn_fn (arg: struct gp_job) recording one
 * opened session: known_hosts updated, login.new_host and (notify=always)
 * the per-login event enqueued, all in the caller's write transaction.
 */
gh_err gp_session_txn(struct gh_txn *txn, void *arg);

#endif
