/*
 * test_breaker.c - circuit breaker transitions and the token bucket,
 * both driven by an injected clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../../notifyd/core/breaker.h"
#include "../../../notifyd/core/ratelimit.h"

static void
test_breaker_opens_after_threshold(void **state)
{
	struct nd_breaker b;
	int64_t t = 1000;

	(void)state;
	nd_breaker_init(&b, 3, 30000);
	assert_int_equal(b.state, GH_BREAKER_CLOSED);
	assert_true(nd_breaker_allow(&b, t));
	nd_breaker_failure(&b, t);
	nd_breaker_failure(&b, t);
	/* A success in between resets the count: failures must be in a row. */
	nd_breaker_success(&b, t);
	nd_breaker_failure(&b, t);
	nd_breaker_failure(&b, t);
	assert_int_equal(b.state, GH_BREAKER_CLOSED);
	assert_true(nd_breaker_allow(&b, t));
	nd_breaker_failure(&b, t + 5);
	assert_int_equal(b.state, GH_BREAKER_OPEN);
	assert_int_equal(b.opened_count, 1);
	assert_false(nd_breaker_allow(&b, t + 6));
	assert_int_equal(nd_breaker_retry_at(&b, t + 6), t + 5 + 30000);
	/* Late failures of requests already out do not extend the cool-down. */
	nd_breaker_failure(&b, t + 20000);
	assert_int_equal(nd_breaker_retry_at(&b, t + 20000), t + 5 + 30000);
	assert_false(nd_breaker_allow(&b, t + 5 + 29999));
	assert_string_equal(nd_breaker_state_name(b.state), "open");
}

static void
test_breaker_half_open_probe(void **state)
{
	struct nd_breaker b;
	int64_t t0 = 0, t1;

	(void)state;
	nd_breaker_init(&b, 1, 10000);
	nd_breaker_failure(&b, t0);
	assert_int_equal(b.state, GH_BREAKER_OPEN);
	t1 = t0 + 10000;
	/* One probe only. */
	assert_true(nd_breaker_allow(&b, t1));
	assert_int_equal(b.state, GH_BREAKER_HALF_OPEN);
	assert_false(nd_breaker_allow(&b, t1));
	assert_false(nd_breaker_allow(&b, t1 + 500000));
	assert_int_equal(nd_breaker_retry_at(&b, t1), t1 + 10000);
	/* The probe fails: open again, a fresh cool-down from now. */
	nd_breaker_failure(&b, t1 + 100);
	assert_int_equal(b.state, GH_BREAKER_OPEN);
	assert_int_equal(b.opened_count, 2);
	assert_false(nd_breaker_allow(&b, t1 + 100 + 9999));
	assert_true(nd_breaker_allow(&b, t1 + 100 + 10000));
	/* A cancelled probe frees the slot. */
	nd_breaker_cancel(&b);
	assert_int_equal(b.state, GH_BREAKER_HALF_OPEN);
	assert_true(nd_breaker_allow(&b, t1 + 100 + 10001));
	/* The probe succeeds: closed, everything flows. */
	nd_breaker_success(&b, t1 + 20200);
	assert_int_equal(b.state, GH_BREAKER_CLOSED);
	assert_true(nd_breaker_allow(&b, t1 + 20201));
	assert_true(nd_breaker_allow(&b, t1 + 20201));
	assert_int_equal(nd_breaker_retry_at(&b, 5), 5);
	assert_string_equal(nd_breaker_state_name(GH_BREAKER_HALF_OPEN), "half_open");
}

static void
test_breaker_success_while_open_ignored(void **state)
{
	struct nd_breaker b;

	(void)state;
	nd_breaker_init(&b, 0, 1000);   /* threshold < 1 is 1 */
	assert_int_equal(b.threshold, 1);
	nd_breaker_failure(&b, 0);
	nd_breaker_success(&b, 10);
	assert_int_equal(b.state, GH_BREAKER_OPEN);
	assert_false(nd_breaker_allow(&b, 999));
}

static void
test_rate_parse(void **state)
{
	int64_t r = -1, p = -1;

	(void)state;
	assert_int_equal(nd_rate_parse("30/min", &r, &p), GH_OK);
	assert_int_equal(r, 30);
	assert_int_equal(p, 60000);
	assert_int_equal(nd_rate_parse("1/s", &r, &p), GH_OK);
	assert_int_equal(p, 1000);
	assert_int_equal(nd_rate_parse("500/Hour", &r, &p), GH_OK);
	assert_int_equal(r, 500);
	assert_int_equal(p, 3600000);
	assert_int_equal(nd_rate_parse("none", &r, &p), GH_OK);
	assert_int_equal(r, 0);
	assert_int_equal(nd_rate_parse("", &r, &p), GH_OK);
	assert_int_equal(r, 0);
	assert_int_equal(nd_rate_parse("0/min", &r, &p), GH_EINVAL);
	assert_int_equal(nd_rate_parse("30", &r, &p), GH_EINVAL);
	assert_int_equal(nd_rate_parse("30/fortnight", &r, &p), GH_EINVAL);
	assert_int_equal(nd_rate_parse("-3/min", &r, &p), GH_EINVAL);
	assert_int_equal(nd_rate_parse("99999999999/s", &r, &p), GH_EINVAL);
}

static void
test_bucket_burst_and_refill(void **state)
{
	struct nd_tbucket b;
	int64_t wait = 0, t = 1000;
	int i;

	(void)state;
	/* 7 per minute, burst 3: exact waits of 60000/7 ms per token. */
	assert_int_equal(nd_tbucket_init(&b, 7, 60000, 3, t), GH_OK);
	for (i = 0; i < 3; i++)
		assert_true(nd_tbucket_take(&b, t, &wait));
	assert_false(nd_tbucket_take(&b, t, &wait));
	assert_int_equal(wait, 8572);           /* ceil(60000 / 7) */
	assert_false(nd_tbucket_take(&b, t + 8571, &wait));
	assert_int_equal(wait, 1);
	assert_true(nd_tbucket_take(&b, t + 8572, &wait));
	/* Over an hour, exactly 7 * 60 tokens, no drift. */
	{
		int64_t now = t + 8572, end = now + 3600000;
		long got = 0;
		while (now <= end) {
			if (nd_tbucket_take(&b, now, &wait))
				got++;
			else
				now += wait;
		}
		assert_int_equal(got, 420);
	}
	/* A long pause refills to the burst only. */
	t += 100000000;
	for (i = 0; i < 3; i++)
		assert_true(nd_tbucket_take(&b, t, NULL));
	assert_false(nd_tbucket_take(&b, t, NULL));
	/* A clock stepping back gives nothing and breaks nothing. */
	assert_false(nd_tbucket_take(&b, t - 50000, &wait));
	assert_true(wait > 0);
}

static void
test_bucket_unlimited_and_bad(void **state)
{
	struct nd_tbucket b;
	int i;

	(void)state;
	assert_int_equal(nd_tbucket_init(&b, 0, 1000, 0, 0), GH_OK);
	for (i = 0; i < 100000; i++)
		assert_true(nd_tbucket_take(&b, 0, NULL));
	assert_int_equal(nd_tbucket_init(&b, 5, 1000, 0, 0), GH_OK);
	assert_int_equal(b.burst, 5);
	assert_int_equal(nd_tbucket_init(&b, 5, 0, 1, 0), GH_EINVAL);
	assert_int_equal(nd_tbucket_init(&b, GH_RATE_MAX + 1, 1000, 1, 0), GH_EINVAL);
	assert_int_equal(nd_tbucket_init(&b, -1, 1000, 1, 0), GH_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_breaker_opens_after_threshold),
		cmocka_unit_test(test_breaker_half_open_probe),
		cmocka_unit_test(test_breaker_success_while_open_ignored),
		cmocka_unit_test(test_rate_parse),
		cmocka_unit_test(test_bucket_burst_and_refill),
		cmocka_unit_test(test_bucket_unlimited_and_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
