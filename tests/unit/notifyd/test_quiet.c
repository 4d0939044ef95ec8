/*
 * test_quiet.c - calendar arithmetic, the TZif reader, quiet hours
 * and digest schedules.
 *
 * Fixed expectations were computed with Python's zoneinfo; on top of them
 * the zone reader is compared, instant by instant over five centuries,
 * with glibc's own reading of the same files (TZ + localtime_r: fine in a
 * single-threaded test, which is exactly what notifyd cannot do).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../notifyd/core/civil.h"
#include "../../../notifyd/core/quiet.h"
#include "../../../notifyd/core/tzcache.h"
#include "../../../notifyd/core/tzfile.h"

static struct nd_tz *
zone(const char *name)
{
	struct nd_tz *tz = NULL;

	assert_int_equal(nd_tz_load(name, NULL, &tz), GH_OK);
	assert_non_null(tz);
	return tz;
}

static void
test_civil_matches_gmtime(void **state)
{
	int64_t t;
	struct nd_civil c;
	struct tm tm;

	(void)state;
	for (t = -12219292800LL; t < 32503680000LL; t += 86400 * 17 + 3671) {
		time_t tt = (time_t)t;
		assert_non_null(gmtime_r(&tt, &tm));
		nd_civil_from_secs(t, &c);
		assert_int_equal(c.year, tm.tm_year + 1900);
		assert_int_equal(c.mon, tm.tm_mon + 1);
		assert_int_equal(c.mday, tm.tm_mday);
		assert_int_equal(c.hour, tm.tm_hour);
		assert_int_equal(c.min, tm.tm_min);
		assert_int_equal(c.sec, tm.tm_sec);
		assert_int_equal(c.wday, tm.tm_wday);
		assert_int_equal(c.yday, tm.tm_yday);
		assert_int_equal(nd_secs_from_civil(&c), t);
	}
	assert_int_equal(nd_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(nd_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(nd_weekday(nd_days_from_civil(2026, 3, 8)), 0);
	assert_int_equal(nd_month_days(2024, 2), 29);
	assert_int_equal(nd_month_days(2100, 2), 28);
	assert_int_equal(nd_floor_div(-1, 86400), -1);
	assert_int_equal(nd_floor_mod(-1, 86400), 86399);
}

static void
test_tz_known_transitions(void **state)
{
	struct {
		const char *zone;
		int64_t t;
		int32_t before, at;
	} v[] = {
		{"America/New_York", 1772953200, -18000, -14400}, /* 2026-03-08 */
		{"America/New_York", 1793512800, -14400, -18000}, /* 2026-11-01 */
		{"Europe/Berlin", 1774746000, 3600, 7200},        /* 2026-03-29 */
		{"Europe/Berlin", 1792890000, 7200, 3600},        /* 2026-10-25 */
		{"Australia/Sydney", 1775318400, 39600, 36000},   /* 2026-04-05 */
		{"Australia/Sydney", 1791043200, 36000, 39600},   /* 2026-10-04 */
		/* Past the table: only the footer rule knows these. */
		{"America/New_York", 4118083200, -14400, -14400}, /* 2100-07-01 */
		{"America/New_York", 4102444800, -18000, -18000}, /* 2100-01-01 */
		{"America/New_York", 10429430400, -14400, -14400},/* 2300-07-01 */
		/* Before the first transition: local mean time. */
		{"America/New_York", -3786825600, -17762, -17762},/* 1850 */
		/* Seoul kept DST in 1988. */
		{"Asia/Seoul", 581126400, 36000, 36000},
		{"Asia/Seoul", 1781101800, 32400, 32400},
		{"Asia/Kathmandu", 1781101800, 20700, 20700},
	};
	size_t i;
	int dst = -1;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct nd_tz *tz = zone(v[i].zone);
		assert_int_equal(nd_tz_offset(tz, v[i].t - 1, NULL), v[i].before);
		assert_int_equal(nd_tz_offset(tz, v[i].t, NULL), v[i].at);
		nd_tz_free(tz);
	}
	{
		struct nd_tz *tz = zone("America/New_York");
		assert_string_equal(nd_tz_name(tz), "America/New_York");
		nd_tz_offset(tz, 1772953200, &dst);
		assert_int_equal(dst, 1);
		nd_tz_offset(tz, 1772953199, &dst);
		assert_int_equal(dst, 0);
		nd_tz_free(tz);
	}
}

/* The zone reader against glibc, over 1900..2400. */
static void
test_tz_matches_glibc(void **state)
{
	static const char *zones[] = {
		"America/New_York", "Europe/Berlin", "Asia/Seoul",
		"Australia/Sydney", "Australia/Lord_Howe", "Pacific/Chatham",
		"Asia/Kathmandu", "America/Sao_Paulo", "Europe/Dublin",
		"Africa/Casablanca", "America/Santiago", "America/Nuuk",
		"Asia/Jerusalem", "Asia/Tehran", "America/St_Johns",
		"Pacific/Apia", "Antarctica/Troll", "Europe/London", "UTC",
	};
	size_t i;
	int64_t t;
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	(void)state;
	for (i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		struct nd_tz *tz = zone(zones[i]);
		long checked = 0;

		setenv("TZ", zones[i], 1);
		tzset();
		for (t = -2208988800LL; t < 13569465600LL; t += 86400 * 3 + 3547) {
			time_t tt = (time_t)t;
			struct tm tm;
			assert_non_null(localtime_r(&tt, &tm));
			if (nd_tz_offset(tz, t, NULL) != tm.tm_gmtoff)
				fail_msg("%s at %lld: ours %d, glibc %ld", zones[i],
				         (long long)t, nd_tz_offset(tz, t, NULL),
				         tm.tm_gmtoff);
			checked++;
		}
		assert_true(checked > 50000);
		nd_tz_free(tz);
	}
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static void
test_tz_posix_strings(void **state)
{
	struct nd_tz *tz = NULL;

	(void)state;
	assert_int_equal(nd_tz_posix("EST5EDT,M3.2.0,M11.1.0", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1772953199, NULL), -18000);
	assert_int_equal(nd_tz_offset(tz, 1772953200, NULL), -14400);
	nd_tz_free(tz);
	/* No rule: the US default. */
	assert_int_equal(nd_tz_posix("EST5EDT", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1772953200, NULL), -14400);
	nd_tz_free(tz);
	/* Southern hemisphere and Julian days, odd offsets. */
	assert_int_equal(nd_tz_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1775318399, NULL), 39600);
	assert_int_equal(nd_tz_offset(tz, 1775318400, NULL), 36000);
	assert_int_equal(nd_tz_offset(tz, 1791043200, NULL), 39600);
	nd_tz_free(tz);
	assert_int_equal(nd_tz_posix("<+0545>-5:45", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 0, NULL), 20700);
	nd_tz_free(tz);
	/* RFC 8536: DST all year. */
	assert_int_equal(nd_tz_posix("EST5EDT,0/0,J365/25", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1767225600, NULL), -14400);
	assert_int_equal(nd_tz_offset(tz, 1781101800, NULL), -14400);
	nd_tz_free(tz);

	/* Jn never counts February 29; zero-based n does. */
	assert_int_equal(nd_tz_posix("AAA0BBB,J60/0,J300/0", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1709251199, NULL), 0);     /* 2024-02-29 23:59:59 */
	assert_int_equal(nd_tz_offset(tz, 1709251200, NULL), 3600);  /* 2024-03-01 */
	assert_int_equal(nd_tz_offset(tz, 1677628800, NULL), 3600);  /* 2023-03-01 */
	assert_int_equal(nd_tz_offset(tz, 1677628799, NULL), 0);
	nd_tz_free(tz);
	assert_int_equal(nd_tz_posix("AAA0BBB,59/0,300/0", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1709164799, NULL), 0);     /* 2024-02-28 23:59:59 */
	assert_int_equal(nd_tz_offset(tz, 1709164800, NULL), 3600);  /* 2024-02-29 */
	nd_tz_free(tz);

	assert_int_equal(nd_tz_posix("EST", &tz), GH_EINVAL);
	assert_int_equal(nd_tz_posix("ES5", &tz), GH_EINVAL);
	assert_int_equal(nd_tz_posix("EST5EDT,M13.1.0,M11.1.0", &tz), GH_EINVAL);
	assert_int_equal(nd_tz_posix("EST5EDT,M3.2.0", &tz), GH_EINVAL);
	assert_int_equal(nd_tz_posix("EST5EDT,M3.2.0,M11.1.0/200", &tz), GH_EINVAL);
	assert_int_equal(nd_tz_posix("EST5x", &tz), GH_EINVAL);
	assert_null(tz);
}

static void
test_tz_names_and_files(void **state)
{
	struct nd_tz *tz = NULL;
	static const unsigned char junk[64] = "TZif2";

	(void)state;
	assert_true(nd_tz_name_ok("America/Argentina/Buenos_Aires"));
	assert_true(nd_tz_name_ok("Etc/GMT+5"));
	assert_true(nd_tz_name_ok("America/Port-au-Prince"));
	assert_false(nd_tz_name_ok("../etc/passwd"));
	assert_false(nd_tz_name_ok("/etc/localtime"));
	assert_false(nd_tz_name_ok("Europe//Berlin"));
	assert_false(nd_tz_name_ok("Europe/"));
	assert_false(nd_tz_name_ok("Europe/./Berlin"));
	assert_false(nd_tz_name_ok("-x"));
	assert_false(nd_tz_name_ok("Asia/Seoul\n"));

	assert_int_equal(nd_tz_load("../../etc/passwd", NULL, &tz), GH_EINVAL);
	assert_int_equal(nd_tz_load("Mars/Olympus_Mons", NULL, &tz), GH_ENOTFOUND);
	/* Leap-second zones are refused. */
	assert_int_equal(nd_tz_load("right/UTC", NULL, &tz), GH_EINVAL);
	/* Not TZif at all. */
	assert_int_equal(nd_tz_load("leapseconds", NULL, &tz), GH_EINVAL);
	assert_int_equal(nd_tz_parse("x", junk, sizeof junk, &tz), GH_EINVAL);
	assert_null(tz);
	/* UTC needs no file, even with a directory that does not exist. */
	assert_int_equal(nd_tz_load("UTC", "/nonexistent", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1781101800, NULL), 0);
	nd_tz_free(tz);
	assert_int_equal(nd_tz_load("Asia/Seoul", "/nonexistent", &tz),
	                 GH_ENOTFOUND);
}

/* A truncated copy of a real file must fail cleanly at every length. */
static void
test_tz_truncated(void **state)
{
	FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
	unsigned char buf[8192];
	size_t n, k;
	struct nd_tz *tz = NULL;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(n > 1000);
	assert_int_equal(nd_tz_parse("Europe/Berlin", buf, n, &tz), GH_OK);
	nd_tz_free(tz);
	for (k = 0; k < n; k++) {
		unsigned char *copy = malloc(k ? k : 1);
		memcpy(copy, buf, k);
		assert_int_equal(nd_tz_parse("x", copy, k, &tz), GH_EINVAL);
		free(copy);
	}
}

static void
test_tz_resolve(void **state)
{
	struct nd_tz *ny = zone("America/New_York");
	int64_t a, b;
	int64_t mar8 = nd_days_from_civil(2026, 3, 8) * 86400;
	int64_t nov1 = nd_days_from_civil(2026, 11, 1) * 86400;

	(void)state;
	/* Ordinary: 2026-03-08 01:30 EST. */
	assert_int_equal(nd_tz_resolve(ny, mar8 + 5400, &a, &b), 1);
	assert_int_equal(a, mar8 + 5400 + 18000);
	assert_int_equal(b, a);
	/* Gap: 02:30 never happens; the change is at 07:00 UTC. */
	assert_int_equal(nd_tz_resolve(ny, mar8 + 9000, &a, &b), 0);
	assert_int_equal(a, 1772953200);
	assert_int_equal(b, a);
	/* Overlap: 01:30 happens at 05:30 and 06:30 UTC. */
	assert_int_equal(nd_tz_resolve(ny, nov1 + 5400, &a, &b), 2);
	assert_int_equal(a, nov1 + 5400 + 14400);
	assert_int_equal(b, nov1 + 5400 + 18000);
	nd_tz_free(ny);
}

static void
test_parsers(void **state)
{
	int m = -1, w = -1;

	(void)state;
	assert_int_equal(nd_hhmm_parse("22:00", &m), GH_OK);
	assert_int_equal(m, 1320);
	assert_int_equal(nd_hhmm_parse("7:05", &m), GH_OK);
	assert_int_equal(m, 425);
	assert_int_equal(nd_hhmm_parse("00:00", &m), GH_OK);
	assert_int_equal(m, 0);
	assert_int_equal(nd_hhmm_parse("23:59", &m), GH_OK);
	assert_int_equal(m, 1439);
	assert_int_equal(nd_hhmm_parse("24:00", &m), GH_EINVAL);
	assert_int_equal(nd_hhmm_parse("12:60", &m), GH_EINVAL);
	assert_int_equal(nd_hhmm_parse("12:5", &m), GH_EINVAL);
	assert_int_equal(nd_hhmm_parse("12:05x", &m), GH_EINVAL);
	assert_int_equal(nd_hhmm_parse("123:05", &m), GH_EINVAL);
	assert_int_equal(nd_hhmm_parse("", &m), GH_EINVAL);
	assert_int_equal(nd_weekday_parse("Mon", &w), GH_OK);
	assert_int_equal(w, 1);
	assert_int_equal(nd_weekday_parse("sunday", &w), GH_OK);
	assert_int_equal(w, 0);
	assert_int_equal(nd_weekday_parse("SATUR", &w), GH_OK);
	assert_int_equal(w, 6);
	assert_int_equal(nd_weekday_parse("mo", &w), GH_EINVAL);
	assert_int_equal(nd_weekday_parse("mondays", &w), GH_EINVAL);
}

#define MS(s) ((int64_t)(s) * 1000)

static void
test_quiet_seoul_crossing_midnight(void **state)
{
	struct nd_tz *tz = zone("Asia/Seoul");
	struct nd_quiet q = {22 * 60, 7 * 60};
	int64_t end = 0;
	int64_t t2330 = 1781101800;               /* 2026-06-10 23:30 KST */
	int64_t t0700 = 1781128800;               /* 2026-06-11 07:00 KST */

	(void)state;
	assert_int_equal(nd_quiet_check(&q, tz, MS(t2330), &end), 1);
	assert_int_equal(end, MS(t0700));
	/* After midnight, same window, same end. */
	assert_int_equal(nd_quiet_check(&q, tz, MS(t0700 - 60), &end), 1);
	assert_int_equal(end, MS(t0700));
	assert_int_equal(nd_quiet_check(&q, tz, MS(t0700) - 1, &end), 1);
	assert_int_equal(end, MS(t0700));
	/* End is exclusive, start inclusive. */
	assert_int_equal(nd_quiet_check(&q, tz, MS(t0700), &end), 0);
	assert_int_equal(nd_quiet_check(&q, tz, MS(t2330 - 5400), &end), 1);
	assert_int_equal(end, MS(t0700));
	assert_int_equal(nd_quiet_check(&q, tz, MS(t2330 - 5400) - 1, NULL), 0);
	/* Midday. */
	assert_int_equal(nd_quiet_check(&q, tz, MS(t0700 + 5 * 3600), NULL), 0);
	nd_tz_free(tz);
}

static void
test_quiet_same_day_and_empty(void **state)
{
	struct nd_tz *tz = zone("UTC");
	struct nd_quiet q = {9 * 60, 17 * 60};
	struct nd_quiet none = {8 * 60, 8 * 60};
	int64_t day = nd_days_from_civil(2026, 6, 10) * 86400;
	int64_t end = 0;

	(void)state;
	assert_int_equal(nd_quiet_check(&q, tz, MS(day + 12 * 3600), &end), 1);
	assert_int_equal(end, MS(day + 17 * 3600));
	assert_int_equal(nd_quiet_check(&q, tz, MS(day + 17 * 3600), &end), 0);
	assert_int_equal(nd_quiet_check(&q, tz, MS(day + 9 * 3600 - 1), &end), 0);
	assert_int_equal(nd_quiet_check(&q, tz, MS(day + 23 * 3600), &end), 0);
	assert_int_equal(nd_quiet_check(&none, tz, MS(day + 8 * 3600), &end), 0);
	nd_tz_free(tz);
}

static void
test_quiet_dst(void **state)
{
	struct nd_tz *ny = zone("America/New_York");
	struct nd_tz *be = zone("Europe/Berlin");
	struct nd_quiet night = {22 * 60, 7 * 60};
	struct nd_quiet gap_end = {23 * 60, 2 * 60 + 30};
	struct nd_quiet dup_end = {23 * 60, 1 * 60 + 30};
	struct nd_quiet be_night = {22 * 60, 6 * 60};
	int64_t end = 0;

	(void)state;
	/* Spring forward: the night is an hour shorter, ends 07:00 EDT. */
	assert_int_equal(nd_quiet_check(&night, ny, MS(1772942400), &end), 1);
	assert_int_equal(end, MS(1772967600));
	assert_int_equal(end - MS(1772942400), MS(7 * 3600));
	/* Fall back: an hour longer, ends 07:00 EST. */
	assert_int_equal(nd_quiet_check(&night, ny, MS(1793502000), &end), 1);
	assert_int_equal(end, MS(1793534400));
	assert_int_equal(end - MS(1793502000), MS(9 * 3600));
	/* An end time the clock skips: the window ends when the clock jumps
	 * (07:00 UTC), which is also when the wall clock leaves it. */
	assert_int_equal(nd_quiet_check(&gap_end, ny, MS(1772953200 - 1800), &end), 1);
	assert_int_equal(end, MS(1772953200));
	assert_int_equal(nd_quiet_check(&gap_end, ny, MS(1772953200), &end), 0);
	/* An end time that happens twice: first pass ends at 05:30 UTC; in
	 * the repeated hour (01:15 EST) the window still runs to 06:30 UTC. */
	assert_int_equal(nd_quiet_check(&dup_end, ny, MS(1793510100), &end), 1);
	assert_int_equal(end, MS(1793511000));
	assert_int_equal(nd_quiet_check(&dup_end, ny, MS(1793513700), &end), 1);
	assert_int_equal(end, MS(1793514600));
	/* Berlin, night of the change to CEST: ends 06:00 CEST = 04:00 UTC. */
	assert_int_equal(nd_quiet_check(&be_night, be, MS(1774735200), &end), 1);
	assert_int_equal(end, MS(1774756800));
	nd_tz_free(ny);
	nd_tz_free(be);
}

static void
test_digest_schedule(void **state)
{
	struct nd_tz *seoul = zone("Asia/Seoul");
	struct nd_tz *ny = zone("America/New_York");
	struct nd_digest_spec daily8 = {8 * 60, -1};
	struct nd_digest_spec mon9 = {9 * 60, 1};
	struct nd_digest_spec daily0230 = {2 * 60 + 30, -1};
	struct nd_digest_spec daily0130 = {1 * 60 + 30, -1};
	struct nd_digest_spec bad = {8 * 60, 7};
	int64_t next = 0;

	(void)state;
	/* 07:00 KST -> 08:00 KST the same day; strictly after. */
	assert_int_equal(nd_digest_next(&daily8, seoul, MS(1781128800), &next), GH_OK);
	assert_int_equal(next, MS(1781132400));
	assert_int_equal(nd_digest_next(&daily8, seoul, next, &next), GH_OK);
	assert_int_equal(next, MS(1781218800));
	/* Weekly: from Thursday 2026-03-05 to Monday 03-09 09:00 EDT. */
	assert_int_equal(nd_digest_next(&mon9, ny, MS(1772668800), &next), GH_OK);
	assert_int_equal(next, MS(1773061200));
	assert_int_equal(nd_digest_next(&mon9, ny, next, &next), GH_OK);
	assert_int_equal(next, MS(1773061200 + 7 * 86400));
	/* 02:30 on the spring-forward day: at the jump, then 02:30 EDT. */
	assert_int_equal(nd_digest_next(&daily0230, ny, MS(1772870400), &next), GH_OK);
	assert_int_equal(next, MS(1772953200));
	assert_int_equal(nd_digest_next(&daily0230, ny, next, &next), GH_OK);
	assert_int_equal(next, MS(1773037800));
	/* 01:30 on the fall-back day: once, at 05:30 UTC, then the next day. */
	assert_int_equal(nd_digest_next(&daily0130, ny, MS(1793448000), &next), GH_OK);
	assert_int_equal(next, MS(1793511000));
	assert_int_equal(nd_digest_next(&daily0130, ny, next, &next), GH_OK);
	assert_int_equal(next, MS(1793601000));
	assert_int_equal(nd_digest_next(&bad, ny, 0, &next), GH_EINVAL);
	nd_tz_free(seoul);
	nd_tz_free(ny);
}

static void
test_tzcache(void **state)
{
	struct nd_tzcache *c = NULL;
	const struct nd_tz *tz = NULL, *again = NULL;

	(void)state;
	assert_int_equal(nd_tzcache_new(NULL, 2, &c), GH_OK);
	assert_int_equal(nd_tzcache_get(c, "Asia/Seoul", &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 1781101800, NULL), 32400);
	assert_int_equal(nd_tzcache_get(c, "Asia/Seoul", &again), GH_OK);
	assert_ptr_equal(tz, again);
	assert_int_equal(nd_tzcache_loads(c), 1);
	/* Failures are remembered too. */
	assert_int_equal(nd_tzcache_get(c, "Mars/Base", &tz), GH_ENOTFOUND);
	assert_null(tz);
	assert_int_equal(nd_tzcache_get(c, "Mars/Base", &tz), GH_ENOTFOUND);
	assert_int_equal(nd_tzcache_loads(c), 2);
	/* Seoul was used before Mars: a third zone evicts Seoul. */
	assert_int_equal(nd_tzcache_get(c, "Europe/Berlin", &tz), GH_OK);
	assert_int_equal(nd_tzcache_loads(c), 3);
	assert_int_equal(nd_tzcache_get(c, "Mars/Base", &tz), GH_ENOTFOUND);
	assert_int_equal(nd_tzcache_loads(c), 3);
	assert_int_equal(nd_tzcache_get(c, "Asia/Seoul", &tz), GH_OK);
	assert_int_equal(nd_tzcache_loads(c), 4);
	assert_int_equal(nd_tzcache_get(c, "../x", &tz), GH_EINVAL);
	assert_int_equal(nd_tzcache_get(c, NULL, &tz), GH_OK);
	assert_int_equal(nd_tz_offset(tz, 0, NULL), 0);
	nd_tzcache_free(c);
	assert_int_equal(nd_tzcache_new(NULL, 0, &c), GH_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil_matches_gmtime),
		cmocka_unit_test(test_tz_known_transitions),
		cmocka_unit_test(test_tz_matches_glibc),
		cmocka_unit_test(test_tz_posix_strings),
		cmocka_unit_test(test_tz_names_and_files),
		cmocka_unit_test(test_tz_truncated),
		cmocka_unit_test(test_tz_resolve),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_quiet_seoul_crossing_midnight),
		cmocka_unit_test(test_quiet_same_day_and_empty),
		cmocka_unit_test(test_quiet_dst),
		cmocka_unit_test(test_digest_schedule),
		cmocka_unit_test(test_tzcache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
