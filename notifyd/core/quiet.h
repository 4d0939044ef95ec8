/*
 * quiet.h - quiet hours and digest schedules in a user's own time zone
 *
 * QUIET HOURS
 *   A user's preferences may name a daily window, start and end as local
 *   wall-clock HH:MM in their IANA zone ("22:00" to "07:00" in
 *   "Asia/Seoul").  During it email, push and SMS are deferred to the end
 *   of the window (urgent events bypass it; that policy is the caller's).
 *   The window is [start, end): a window whose start is later than its end
 *   crosses midnight; start == end means no quiet hours.  Whether an
 *   instant is inside is decided on the wall clock, so a window keeps its
 *   local meaning across daylight saving changes.  The end instant is the
 *   next time the wall clock reaches end: on a spring-forward night a
 *   skipped end time (02:30) resolves to the moment the clock jumps past it
 *   (03:00 new time, the first instant outside the window); when the clock
 *   is set back and the end time happens twice, the first occurrence still
 *   ahead is taken.
 *
 * DIGESTS
 *   A digest goes out daily, or weekly on one weekday, at a local HH:MM.
 *   nd_digest_next gives the first such instant strictly after a given one.
 *   A send time skipped by a spring-forward jump resolves as above; one
 *   that happens twice is used once, at its first occurrence.
 *
 * All instants are milliseconds since the epoch; nothing reads the clock.
 */
#ifndef GH_NOTIFYD_QUIET_H
#define GH_NOTIFYD_QUIET_H

#include <stdint.h>
#include "gatehouse/err.h"
#include "tzfile.h"

/*
 * nd_hhmm_parse - "HH:MM" (or "H:MM"), 00:00..23:59, into minutes after
 * midnight.  GH_EINVAL otherwise.
 */
gh_err nd_hhmm_parse(const char *s, int *minutes);

/*
 * nd_weekday_parse - an English weekday ("mon", "Monday", case-insensitive,
 * three letters at least) into 0 Sunday .. 6 Saturday.  GH_EINVAL.
 */
gh_err nd_weekday_parse(const char *s, int *wday);

struct nd_quiet {
	int start;   /* minutes after local midnight, 0..1439 */
	int end;     /* likewise; start == end: no quiet hours */
};

/*
 * nd_quiet_check - 1 if now_ms is inside the window in zone tz, and then
 * *ends_ms (optional) receives the window's end, always > now_ms; 0 if
 * outside (or the window is empty).
 */
int nd_quiet_check(const struct nd_quiet *q, const struct nd_tz *tz,
                   int64_t now_ms, int64_t *ends_ms);

struct nd_digest_spec {
	int at;      /* minutes after local midnight */
	int wday;    /* -1: daily; 0 Sunday .. 6 Saturday: weekly */
};

/*
 * nd_digest_next - the first send time strictly after after_ms.
 * GH_EINVAL for a schedule out of range.
 */
gh_err nd_digest_next(const struct nd_digest_spec *d, const struct nd_tz *tz,
                      int64_t after_ms, int64_t *next_ms);

#endif /* GH_NOTIFYD_QUIET_H */
