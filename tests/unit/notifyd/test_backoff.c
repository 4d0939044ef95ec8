/*
 * test_backoff.c - retry delays, Retry-After, HTTP dates, and the
 * classification of HTTP and SMTP results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../../notifyd/core/backoff.h"

/* A scripted generator: returns the values given, in turn. */
struct script {
	const uint64_t *v;
	size_t n, i;
};

static uint64_t
scripted(void *arg)
{
	struct script *s = arg;
	assert_true(s->i < s->n);
	return s->v[s->i++];
}

static uint64_t
xorshift(void *arg)
{
	uint64_t *x = arg;
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
test_full_jitter_bounds(void **state)
{
	struct nd_backoff b = {1000, 60000, 3600000};
	uint64_t seed = 88172645463325252ULL;
	int64_t ceilings[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
	int f, i;

	(void)state;
	for (f = 1; f <= 8; f++) {
		int64_t lo = INT64_MAX, hi = -1;
		for (i = 0; i < 2000; i++) {
			int64_t d = nd_backoff_delay(&b, f, -1, xorshift, &seed);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		/* Spread over the whole interval, never outside it. */
		assert_true(lo >= 0);
		assert_true(hi <= ceilings[f - 1]);
		assert_true(lo < ceilings[f - 1] / 20);
		assert_true(hi > ceilings[f - 1] - ceilings[f - 1] / 20);
	}
	/* A huge failure count does not overflow. */
	assert_true(nd_backoff_delay(&b, 1000000, -1, xorshift, &seed) <= 60000);
}

static void
test_jitter_exact_values(void **state)
{
	struct nd_backoff b = {1000, 60000, 3600000};
	/* UINT64_MAX falls in the rejected tail for n = 4001. */
	const uint64_t v[] = {4000, 4001, UINT64_MAX, 12345, 0};
	struct script s = {v, 5, 0};

	(void)state;
	assert_int_equal(nd_backoff_delay(&b, 3, -1, scripted, &s), 4000);
	assert_int_equal(nd_backoff_delay(&b, 3, -1, scripted, &s), 0);
	assert_int_equal(nd_backoff_delay(&b, 3, -1, scripted, &s), 12345 % 4001);
	assert_int_equal(s.i, 4);
	/* Retry-After is a floor, capped. */
	assert_int_equal(nd_backoff_delay(&b, 1, 30000, scripted, &s), 30000);
	s.i = 0;
	assert_int_equal(nd_backoff_delay(&b, 3, 1000, scripted, &s), 4000);
	b.retry_after_max = 10000;
	assert_int_equal(nd_backoff_delay(&b, 1, 86400000, scripted, &s), 10000);
}

static void
test_rng_os(void **state)
{
	uint64_t a = nd_rng_os(NULL), b = nd_rng_os(NULL), c = nd_rng_os(NULL);

	(void)state;
	/* Three equal draws of 64 random bits do not happen. */
	assert_false(a == b && b == c);
	assert_int_equal(nd_rng_below(nd_rng_os, NULL, 1), 0);
}

static void
test_http_dates(void **state)
{
	int64_t t = 0, now = 1781101800;

	(void)state;
	assert_int_equal(nd_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", now, &t), GH_OK);
	assert_int_equal(t, 784111777);
	assert_int_equal(nd_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", now, &t), GH_OK);
	assert_int_equal(t, 784111777);
	assert_int_equal(nd_http_date_parse("Sun Nov  6 08:49:37 1994", now, &t), GH_OK);
	assert_int_equal(t, 784111777);
	assert_int_equal(nd_http_date_parse("Wed, 10 Jun 2026 14:30:00 GMT", now, &t), GH_OK);
	assert_int_equal(t, 1781101800);
	assert_int_equal(nd_http_date_parse("Thu, 29 Feb 2024 00:00:00 GMT", now, &t), GH_OK);
	assert_int_equal(t, 1709164800);
	/* Two-digit years: at most 50 years ahead of now (2026). */
	assert_int_equal(nd_http_date_parse("Monday, 01-Jan-codes 00:00:00 GMT", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Wednesday, 01-Jan-70 00:00:00 GMT", now, &t), GH_OK);
	assert_int_equal(t, 3155760000LL);  /* 2070 */
	assert_int_equal(nd_http_date_parse("Saturday, 01-Jan-77 00:00:00 GMT", now, &t), GH_OK);
	assert_int_equal(t, 220924800);     /* 1977 */

	assert_int_equal(nd_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Sun, 6 Nov 1994 08:49:37 GMT", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Sun, 31 Nov 1994 08:49:37 GMT", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Sun, 29 Feb 2023 08:49:37 GMT", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Sun, 06 Nov 1994 24:00:00 GMT", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT x", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("Xyz, 06 Nov 1994 08:49:37 GMT", now, &t), GH_EINVAL);
	assert_int_equal(nd_http_date_parse("", now, &t), GH_EINVAL);
}

static void
test_retry_after(void **state)
{
	int64_t d = -1, now = 1781101800000LL;

	(void)state;
	assert_int_equal(nd_retry_after_parse("120", now, &d), GH_OK);
	assert_int_equal(d, 120000);
	assert_int_equal(nd_retry_after_parse("  0 ", now, &d), GH_OK);
	assert_int_equal(d, 0);
	assert_int_equal(nd_retry_after_parse("Wed, 10 Jun 2026 14:31:30 GMT", now, &d), GH_OK);
	assert_int_equal(d, 90000);
	/* A date in the past means now. */
	assert_int_equal(nd_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", now, &d), GH_OK);
	assert_int_equal(d, 0);
	/* Absurdly large values saturate instead of overflowing. */
	assert_int_equal(nd_retry_after_parse("99999999999999999999999", now, &d), GH_OK);
	assert_int_equal(d, (int64_t)INT32_MAX * 1000);
	assert_int_equal(nd_retry_after_parse("-5", now, &d), GH_EINVAL);
	assert_int_equal(nd_retry_after_parse("1.5", now, &d), GH_EINVAL);
	assert_int_equal(nd_retry_after_parse("soon", now, &d), GH_EINVAL);
	assert_int_equal(nd_retry_after_parse("", now, &d), GH_EINVAL);
}

static void
test_classify(void **state)
{
	long perm[] = {400, 401, 403, 404, 410, 413, 405, 422, 301, 100};
	long retry[] = {0, 408, 425, 429, 500, 502, 503, 504, 599};
	long ok[] = {200, 201, 202, 204, 299};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof perm / sizeof perm[0]; i++)
		assert_int_equal(nd_http_classify(perm[i]), GH_OUTCOME_PERMANENT);
	for (i = 0; i < sizeof retry / sizeof retry[0]; i++)
		assert_int_equal(nd_http_classify(retry[i]), GH_OUTCOME_RETRY);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(nd_http_classify(ok[i]), GH_OUTCOME_OK);
	assert_int_equal(nd_smtp_classify(250), GH_OUTCOME_OK);
	assert_int_equal(nd_smtp_classify(421), GH_OUTCOME_RETRY);
	assert_int_equal(nd_smtp_classify(451), GH_OUTCOME_RETRY);
	assert_int_equal(nd_smtp_classify(550), GH_OUTCOME_PERMANENT);
	assert_int_equal(nd_smtp_classify(0), GH_OUTCOME_RETRY);
	assert_string_equal(nd_outcome_name(GH_OUTCOME_PERMANENT), "permanent");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_jitter_bounds),
		cmocka_unit_test(test_jitter_exact_values),
		cmocka_unit_test(test_rng_os),
		cmocka_unit_test(test_http_dates),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
