/*
 * civil.c - Gregorian calendar arithmetic (see civil.h).  The day-number
 * conversions use the era decomposition (400-year cycles of 146097 days)
 * so they need no tables and no loops.
 */
#include "civil.h"

int64_t
nd_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b) != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

int64_t
nd_floor_mod(int64_t a, int64_t b)
{
	return a - b * nd_floor_div(a, b);
}

int
nd_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
nd_month_days(int64_t year, int mon)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (mon < 1 || mon > 12)
		return 0;
	return days[mon - 1] + (mon == 2 && nd_is_leap(year));
}

int64_t
nd_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	/* Count years from March so the leap day falls at the end. */
	y -= m <= 2;
	era = nd_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
nd_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday. */
	return (int)nd_floor_mod(days + 4, 7);
}

void
nd_civil_from_secs(int64_t s, struct nd_civil *c)
{
	int64_t days = nd_floor_div(s, GH_SECS_PER_DAY);
	int64_t sod = s - days * GH_SECS_PER_DAY;
	int64_t z = days + 719468;
	int64_t era = nd_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	int mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t year = yoe + era * 400 + (mon <= 2);

	c->year = year;
	c->mon = mon;
	c->mday = mday;
	c->hour = (int)(sod / 3600);
	c->min = (int)(sod / 60 % 60);
	c->sec = (int)(sod % 60);
	c->wday = nd_weekday(days);
	c->yday = (int)(days - nd_days_from_civil(year, 1, 1));
}

int64_t
nd_secs_from_civil(const struct nd_civil *c)
{
	return nd_days_from_civil(c->year, c->mon, c->mday) * GH_SECS_PER_DAY +
	       (int64_t)c->hour * 3600 + (int64_t)c->min * 60 + c->sec;
}

const char *
nd_wday_abbr(int wday)
{
	static const char *const names[7] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	return wday >= 0 && wday < 7 ? names[wday] : "???";
}

const char *
nd_month_abbr(int mon)
{
	static const char *const names[12] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	return mon >= 1 && mon <= 12 ? names[mon - 1] : "???";
}
