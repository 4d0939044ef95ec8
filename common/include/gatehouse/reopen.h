/*
 * gatehouse/reopen.h - when to try a failed open again, and when its
 * failure or recovery is news worth one log line
 *
 * A plugin whose store (or scanner, or key) is missing must keep serving:
 * it tries again now and then, from the request that needs it, and tells
 * the admin once when the thing goes away and once when it is back -- not
 * once per message.  The milter and the nginx module both do this; this is
 * the shared part, the state machine.  The library never logs: the calls
 * below say *whether* a transition happened, and the host logs it its own
 * way (syslog, ngx_log_error).
 *
 *   struct gh_reopen r;
 *   gh_reopen_init(&r, 2000);
 *   ...
 *   if (!gh_reopen_due(&r, now))
 *           return r.failing;                      (too soon: last error)
 *   err = open_it();
 *   if (err && gh_reopen_failed(&r, err, now) == GH_REOPEN_DOWN)
 *           log("unavailable: %s", ...);
 *   if (!err && gh_reopen_ok(&r, &n) == GH_REOPEN_UP)
 *           log("available again (%lu failures not logged)", n);
 *
 * With a pace of 0 the same struct is a plain "log once per condition"
 * latch for anything that can fail and recover (gh_reopen_due is then
 * always true).
 *
 * Thread safety: none inside; a struct shared by threads is used under the
 * caller's lock.  No allocation, no clock of its own (the caller passes
 * now, in ms of any one clock).
 */
#ifndef GATEHOUSE_REOPEN_H
#define GATEHOUSE_REOPEN_H

#include <stdint.h>

#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gh_reopen {
	int64_t pace_ms;        /* least time between two failed attempts */
	int64_t next_ms;        /* no attempt before this (after a failure) */
	gh_err failing;         /* GH_OK while it works (or before any try) */
	unsigned long repeats;  /* failures not reported since the last news */
};

enum gh_reopen_news {
	GH_REOPEN_QUIET = 0,    /* nothing new: log nothing */
	GH_REOPEN_DOWN,         /* it started failing, or fails differently */
	GH_REOPEN_UP            /* it works again after failing */
};

/* gh_reopen_init - up, due at once; pace_ms >= 0. */
void gh_reopen_init(struct gh_reopen *r, int64_t pace_ms);

/* gh_reopen_due - 1 if an attempt may be made at now_ms: it is not
 * failing, or pace_ms has passed since the last failure. */
int gh_reopen_due(const struct gh_reopen *r, int64_t now_ms);

/*
 * gh_reopen_failed - an attempt at now_ms failed with err (not GH_OK): the
 * next is due pace_ms later.  GH_REOPEN_DOWN when this is news (it was
 * working, or failed with another error), else GH_REOPEN_QUIET (counted
 * in repeats).
 */
enum gh_reopen_news gh_reopen_failed(struct gh_reopen *r, gh_err err,
                                     int64_t now_ms);

/*
 * gh_reopen_ok - an attempt worked.  GH_REOPEN_UP when it was failing
 * (then *repeats, if not NULL, gets the failures not reported since the
 * last news), else GH_REOPEN_QUIET.
 */
enum gh_reopen_news gh_reopen_ok(struct gh_reopen *r, unsigned long *repeats);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_REOPEN_H */
