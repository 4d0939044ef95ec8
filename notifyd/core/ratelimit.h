/*
 * ratelimit.h - a token bucket per channel instance
 *
 * Receivers limit senders (Slack about one message a second per webhook,
 * SMS gateways by contract, Postfix by policy).  A bucket holds up to
 * `burst` tokens and gains `rate` tokens every `per_ms`; each request takes
 * one.  When it is empty the caller learns how long until the next token
 * and defers the delivery rather than hitting the receiver's 429.
 *
 * Arithmetic is exact integer: the level is kept in units of 1/per_ms
 * token, so rates like 7 per minute do not drift.  Time is passed in; the
 * bucket is plain data used from one thread.
 *
 * Configuration writes a limit as "N/UNIT" (UNIT s, sec, second, m, min,
 * minute, h, hour, d, day; "30/min"), or "0" / "" / "none" for no limit.
 */
#ifndef GH_NOTIFYD_RATELIMIT_H
#define GH_NOTIFYD_RATELIMIT_H

#include <stdint.h>
#include "gatehouse/err.h"

#define GH_RATE_MAX 1000000      /* tokens per period, and burst, at most */

struct nd_tbucket {
	int64_t rate;      /* tokens per period, 0: unlimited */
	int64_t per_ms;    /* the period */
	int64_t burst;     /* capacity in tokens */
	int64_t level;     /* in 1/per_ms tokens: one token = per_ms units */
	int64_t last_ms;
};

/*
 * nd_rate_parse - "N/UNIT" into *rate and *per_ms; no limit gives rate 0.
 * GH_EINVAL for anything else or N above GH_RATE_MAX.
 */
gh_err nd_rate_parse(const char *s, int64_t *rate, int64_t *per_ms);

/*
 * nd_tbucket_init - a full bucket.  rate 0 makes an unlimited bucket;
 * burst < 1 means burst = rate (at least 1).  GH_EINVAL if rate or burst
 * exceed GH_RATE_MAX or per_ms is not within 1 ms .. 1 week.
 */
gh_err nd_tbucket_init(struct nd_tbucket *b, int64_t rate, int64_t per_ms,
                       int64_t burst, int64_t now_ms);

/*
 * nd_tbucket_take - take a token: 1 if there was one; 0 if not, and then
 * *wait_ms (optional) is the time until one will be there (> 0).
 */
int nd_tbucket_take(struct nd_tbucket *b, int64_t now_ms, int64_t *wait_ms);

#endif /* GH_NOTIFYD_RATELIMIT_H */
