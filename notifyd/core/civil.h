/*
 * civil.h - Gregorian calendar arithmetic on seconds since the epoch
 *
 * notifyd converts between instants and wall-clock dates for time zones,
 * HTTP dates and mail Date headers.  The C library does this through
 * process-wide time zone state (TZ, tzset, localtime) that is neither
 * thread safe nor per user, so the calendar is done here with plain
 * integer arithmetic (proleptic Gregorian, no leap seconds), valid for any
 * year a 64-bit count of seconds can hold with room to spare.
 */
#ifndef GH_NOTIFYD_CIVIL_H
#define GH_NOTIFYD_CIVIL_H

#include <stdint.h>

#define GH_SECS_PER_DAY 86400

struct nd_civil {
	int64_t year;
	int mon;     /* 1..12 */
	int mday;    /* 1..31 */
	int hour;    /* 0..23 */
	int min;     /* 0..59 */
	int sec;     /* 0..59 */
	int wday;    /* 0 Sunday .. 6 Saturday */
	int yday;    /* 0..365 */
};

/* nd_floor_div - a / b rounded toward minus infinity (b > 0). */
int64_t nd_floor_div(int64_t a, int64_t b);
/* nd_floor_mod - a - b * nd_floor_div(a, b), always in [0, b). */
int64_t nd_floor_mod(int64_t a, int64_t b);

int nd_is_leap(int64_t year);
/* nd_month_days - days in month mon (1..12) of year. */
int nd_month_days(int64_t year, int mon);

/* nd_days_from_civil - days since 1970-01-01 of year-mon-mday.  mday may
 * run past the month's end (it simply counts on). */
int64_t nd_days_from_civil(int64_t year, int mon, int mday);
/* nd_weekday - 0 Sunday .. 6 Saturday for a day number. */
int nd_weekday(int64_t days);

/* nd_civil_from_secs - break s (seconds since the epoch) down. */
void nd_civil_from_secs(int64_t s, struct nd_civil *c);
/* nd_secs_from_civil - the inverse, from year, mon, mday, hour, min, sec
 * (wday and yday are ignored). */
int64_t nd_secs_from_civil(const struct nd_civil *c);

/* English abbreviations used by HTTP and mail dates ("Sun", "Jan"). */
const char *nd_wday_abbr(int wday);    /* 0..6 */
const char *nd_month_abbr(int mon);    /* 1..12 */

#endif /* GH_NOTIFYD_CIVIL_H */
