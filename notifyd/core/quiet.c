/*
 * quiet.c - quiet hours and digest send times on a user's wall clock
 * (semantics in quiet.h; zone data from tzfile.c).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "civil.h"
#include "quiet.h"

gh_err
nd_hhmm_parse(const char *s, int *minutes)
{
	int h, m;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return GH_EINVAL;
	h = s[0] - '0';
	s++;
	if (isdigit((unsigned char)*s))
		h = h * 10 + (*s++ - '0');
	if (*s != ':' || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || s[3] != '\0')
		return GH_EINVAL;
	m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 23 || m > 59)
		return GH_EINVAL;
	*minutes = h * 60 + m;
	return GH_OK;
}

gh_err
nd_weekday_parse(const char *s, int *wday)
{
	static const char *const names[7] = {
		"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
		"saturday"
	};
	size_t n;
	int i;

	if (s == NULL)
		return GH_EINVAL;
	n = strlen(s);
	if (n < 3)
		return GH_EINVAL;
	for (i = 0; i < 7; i++) {
		if (n <= strlen(names[i]) && strncasecmp(s, names[i], n) == 0) {
			*wday = i;
			return GH_OK;
		}
	}
	return GH_EINVAL;
}

/* local_day - the wall-clock day number and minute of day at t (s). */
static int64_t
local_day(const struct nd_tz *tz, int64_t t, int *minute)
{
	int64_t local = t + nd_tz_offset(tz, t, NULL);
	int64_t day = nd_floor_div(local, GH_SECS_PER_DAY);

	*minute = (int)((local - day * GH_SECS_PER_DAY) / 60);
	return day;
}

int
nd_quiet_check(const struct nd_quiet *q, const struct nd_tz *tz,
               int64_t now_ms, int64_t *ends_ms)
{
	int64_t now_s = nd_floor_div(now_ms, 1000);
	int64_t day, end_day, first, second, e;
	int m;

	if (q->start == q->end || q->start < 0 || q->start > 1439 ||
	    q->end < 0 || q->end > 1439)
		return 0;
	day = local_day(tz, now_s, &m);
	if (q->start < q->end) {
		if (m < q->start || m >= q->end)
			return 0;
		end_day = day;
	} else if (m >= q->start) {
		end_day = day + 1;
	} else if (m < q->end) {
		end_day = day;
	} else {
		return 0;
	}
	if (ends_ms == NULL)
		return 1;
	/* Within two days the end is always found; the loop only guards
	 * against a zone whose clock moves back across the whole window. */
	for (; end_day <= day + 2; end_day++) {
		nd_tz_resolve(tz, end_day * GH_SECS_PER_DAY + (int64_t)q->end * 60,
		              &first, &second);
		e = first * 1000 > now_ms ? first * 1000 : second * 1000;
		if (e > now_ms) {
			*ends_ms = e;
			return 1;
		}
	}
	*ends_ms = now_ms + 60 * 1000;
	return 1;
}

gh_err
nd_digest_next(const struct nd_digest_spec *d, const struct nd_tz *tz,
               int64_t after_ms, int64_t *next_ms)
{
	int64_t day, first, second;
	int m, i;

	if (d->at < 0 || d->at > 1439 || d->wday < -1 || d->wday > 6)
		return GH_EINVAL;
	day = local_day(tz, nd_floor_div(after_ms, 1000), &m);
	for (i = 0; i <= 14; i++) {
		if (d->wday >= 0 && nd_weekday(day + i) != d->wday)
			continue;
		nd_tz_resolve(tz, (day + i) * GH_SECS_PER_DAY + (int64_t)d->at * 60,
		              &first, &second);
		/* Only the first occurrence counts, so a send time repeated by
		 * the clock going back is not used twice. */
		if (first * 1000 > after_ms) {
			*next_ms = first * 1000;
			return GH_OK;
		}
	}
	return GH_EINVAL;
}
