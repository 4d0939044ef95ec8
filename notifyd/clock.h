/*
 * clock.h - what time notifyd thinks it is
 *
 * Every decision notifyd makes with time (leases, quiet hours, digests,
 * backoff, breakers, expiry) takes "now" from here, once per turn of the
 * event loop.  The installed daemon reads the system clock and nothing
 * else.  The test build (build/tests/gatehouse-notifyd-test, compiled
 * with ND_TEST_CLOCK) also honours GATEHOUSE_TEST_CLOCK=FILE: when FILE
 * holds a number, that many milliseconds since the epoch is "now", so the
 * integration tests move time across quiet hours and digest schedules
 * without sleeping.  Timeouts of network I/O always use the real clock.
 */
#ifndef GH_NOTIFYD_CLOCK_H
#define GH_NOTIFYD_CLOCK_H

#include <stdint.h>

struct nd_clock {
	const char *file;   /* test build: GATEHOUSE_TEST_CLOCK, else NULL */
};

void nd_clock_init(struct nd_clock *c);
int64_t nd_clock_now(const struct nd_clock *c);
/* nd_clock_tick - a monotonic millisecond count, for the daemon's own
 * timers (polling, batching, shutdown), which an injected clock that
 * stands still must not stop. */
int64_t nd_clock_tick(void);
/* nd_clock_fake - 1 when time is injected (so logs can say so). */
int nd_clock_fake(const struct nd_clock *c);

#endif
