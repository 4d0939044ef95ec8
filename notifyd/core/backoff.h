/*
 * backoff.h - when to try a failed delivery again, and whether to
 *
 * DELAYS
 *   Exponential backoff with "full jitter": after the n-th consecutive
 *   failure the next attempt waits a uniformly random time in
 *   [0, min(cap, base * 2^(n-1))].  Spreading retries over the whole
 *   interval, rather than around its end, keeps many deliveries that failed
 *   together (a receiver restarting) from coming back together.  A
 *   receiver's Retry-After is honoured as a lower bound, itself capped so a
 *   hostile or broken header cannot park an event for a year.
 *   The random source is passed in, so tests can fix it.
 *
 * OUTCOMES
 *   nd_http_classify maps an HTTP status to what to do with the delivery:
 *     2xx                                   done
 *     408, 425, 429, 5xx, 0 (no response:   retry (honouring Retry-After)
 *       connection refused, reset, timeout,
 *       TLS or DNS failure)
 *     400, 401, 403, 404, 410, 413 and any  permanent: the same request
 *       other status                          would get the same answer, so
 *                                             it is dead-lettered at once
 *   nd_smtp_classify does the same for SMTP replies: 2xx done, 4xx retry,
 *   5xx permanent, anything else (no reply) retry.
 */
#ifndef GH_NOTIFYD_BACKOFF_H
#define GH_NOTIFYD_BACKOFF_H

#include <stdint.h>
#include "gatehouse/err.h"

/* nd_rng_fn - 64 uniformly random bits; arg is the generator's state. */
typedef uint64_t (*nd_rng_fn)(void *arg);

/* nd_rng_os - the kernel's generator (getrandom(2)); arg is unused. */
uint64_t nd_rng_os(void *arg);

/* nd_rng_below - uniform in [0, n) without modulo bias (n > 0). */
uint64_t nd_rng_below(nd_rng_fn rng, void *arg, uint64_t n);

struct nd_backoff {
	int64_t base_ms;          /* ceiling after the first failure, > 0 */
	int64_t cap_ms;           /* largest ceiling, >= base_ms */
	int64_t retry_after_max;  /* largest Retry-After honoured, ms */
};

/*
 * nd_backoff_delay - the wait before the next attempt after `failures`
 * consecutive failures (1 for the first).  retry_after_ms is the
 * receiver's Retry-After (see nd_retry_after_parse) or -1 when there was
 * none; the result is never below it (once capped at retry_after_max).
 */
int64_t nd_backoff_delay(const struct nd_backoff *b, int failures,
                         int64_t retry_after_ms, nd_rng_fn rng, void *arg);

/*
 * nd_http_date_parse - an HTTP-date (RFC 9110 5.6.7) in any of its three
 * forms: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
 * A two-digit year is put in the century that makes it at most 50 years
 * after now_s.  *out receives seconds since the epoch.  GH_EINVAL.
 */
gh_err nd_http_date_parse(const char *s, int64_t now_s, int64_t *out);

/*
 * nd_retry_after_parse - a Retry-After value, delay-seconds or HTTP-date,
 * as a delay from now_ms in ms (0 for a date in the past).  Surrounding
 * spaces are ignored.  GH_EINVAL for anything else.
 */
gh_err nd_retry_after_parse(const char *value, int64_t now_ms,
                            int64_t *delay_ms);

enum nd_outcome {
	GH_OUTCOME_OK = 0,
	GH_OUTCOME_RETRY,
	GH_OUTCOME_PERMANENT
};

enum nd_outcome nd_http_classify(long status);
enum nd_outcome nd_smtp_classify(long code);
/* "ok", "retry", "permanent" */
const char *nd_outcome_name(enum nd_outcome o);

#endif /* GH_NOTIFYD_BACKOFF_H */
