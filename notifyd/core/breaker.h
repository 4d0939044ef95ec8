/*
 * breaker.h - a circuit breaker per channel instance
 *
 * So that one dead receiver (a Slack outage, a mail relay down) never
 * holds back the others, each channel instance has a breaker:
 *
 *   closed     requests go through; `threshold` failures in a row open it.
 *   open       requests are refused (the dispatcher defers those
 *              deliveries to nd_breaker_retry_at()) until `cooldown_ms` has
 *              passed since it opened;
 *   half-open  then exactly one request, the probe, is let through.  Its
 *              success closes the breaker, its failure opens it again for
 *              another cool-down.
 *
 * What counts: report a failure only for results that say the receiver is
 * unwell (network errors, timeouts, 5xx, 429); a permanent 4xx means the
 * receiver answered, so report it as a success of the channel even though
 * the delivery itself failed.  A request that was allowed but ends with no
 * verdict (cancelled at shutdown) must be reported with nd_breaker_cancel()
 * so that a probe slot is not held for ever.
 *
 * Time is passed in (milliseconds); a breaker is plain data with no locks:
 * notifyd uses it from its one event loop.
 */
#ifndef GH_NOTIFYD_BREAKER_H
#define GH_NOTIFYD_BREAKER_H

#include <stdint.h>

enum nd_breaker_state {
	GH_BREAKER_CLOSED = 0,
	GH_BREAKER_OPEN,
	GH_BREAKER_HALF_OPEN
};

struct nd_breaker {
	int threshold;              /* consecutive failures that open it, >= 1 */
	int64_t cooldown_ms;        /* time open before a probe, >= 0 */
	enum nd_breaker_state state;
	int failures;               /* consecutive, while closed */
	int probing;                /* half-open: the probe is out */
	int64_t opened_at;
	uint64_t opened_count;      /* times it opened, for metrics */
};

/* nd_breaker_init - a closed breaker (threshold < 1 is taken as 1). */
void nd_breaker_init(struct nd_breaker *b, int threshold, int64_t cooldown_ms);

/*
 * nd_breaker_allow - may a request go now?  1 yes, 0 no.  When the
 * cool-down has passed this moves the breaker to half-open and the caller
 * that gets 1 holds the one probe.
 */
int nd_breaker_allow(struct nd_breaker *b, int64_t now_ms);

void nd_breaker_success(struct nd_breaker *b, int64_t now_ms);
void nd_breaker_failure(struct nd_breaker *b, int64_t now_ms);
/* nd_breaker_cancel - an allowed request ended without a result. */
void nd_breaker_cancel(struct nd_breaker *b);

/*
 * nd_breaker_retry_at - when a refused request may next be tried: the end
 * of the cool-down when open, now_ms otherwise (a half-open breaker whose
 * probe is out is asked again after the probe's answer; now_ms + the
 * cool-down is a safe guess).
 */
int64_t nd_breaker_retry_at(const struct nd_breaker *b, int64_t now_ms);

/* "closed", "open", "half_open" (metric label values). */
const char *nd_breaker_state_name(enum nd_breaker_state s);

#endif /* GH_NOTIFYD_BREAKER_H */
