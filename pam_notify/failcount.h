/*
 * failcount.h - count failed authentications, raise one event per burst
 *
 * Counters are the store's shared sliding-window rate counters
 * (gh_rate_hit_txn, GH_DB_RATE, 24-byte values; docs/store.md):
 *   "pam:fail-user:" USER     failures for one account, from anywhere
 *   "pam:fail-addr:" ADDR     failures from one remote address, any account
 * Keys are at most 200 bytes; a longer user name or host name is not
 * counted on (the other counter still is).
 *
 * A burst starts when a counter reaches N within WINDOW (fail_burst=
 * N/WINDOW) -- the failure that makes the count N raises
 * login.failed_burst.  The event's dedup_key names the counter
 * ("login.failed_burst:user:alice") and its dedup window is WINDOW, so a
 * burst is reported once: while the attack goes on the count stays at or
 * above N and does not cross again, and a count that dips and crosses again
 * within WINDOW of the report is the same burst to the queue.  When one
 * failure makes both counters reach N (one address hammering one account)
 * a single event with scope "user+address" is raised.
 * Counters older than two windows count nothing and are swept, a few at a
 * time, by later failures.
 */
#ifndef GH_PAM_FAILCOUNT_H
#define GH_PAM_FAILCOUNT_H

#include "gatehouse/store.h"
#include "newhost.h"

#define GH_PAM_FAIL_PREFIX "pam:fail-"
#define GH_PAM_FAIL_USER "pam:fail-user:"
#define GH_PAM_FAIL_ADDR "pam:fail-addr:"
#define GH_PAM_RATE_KEY_MAX 200
#define GH_PAM_FAIL_SWEEP 16

/*
 * gp_fail_txn - a gh_txn_fn (arg: struct gp_job) counting one
 * failed authentication of job->login and raising login.failed_burst when
 * a counter reaches the burst size.  job->count receives the user's (else
 * the address's) count in the window.
 */
gh_err gp_fail_txn(struct gh_txn *txn, void *arg);

/* gp_fail_key - PREFIX ID into key (NUL-terminated); its length, 0 if
 * id is empty or the key would pass GH_PAM_RATE_KEY_MAX. */
size_t gp_fail_key(const char *prefix, const char *id, char *key,
                       size_t keylen);

#endif
