/*
 * test_reopen.c - the retry pace and down/up news of gatehouse/reopen.h,
 * which the milter's store handle and log-once conditions and the nginx
 * module's store handle share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/reopen.h"

static void
test_pace_and_news(void **state)
{
	struct gh_reopen r;
	unsigned long n = 99;

	(void)state;
	gh_reopen_init(&r, 2000);
	assert_true(gh_reopen_due(&r, 0));
	assert_int_equal(gh_reopen_ok(&r, &n), GH_REOPEN_QUIET);   /* up */
	assert_int_equal(n, 99);
	/* goes down: news once, then paced and quiet */
	assert_int_equal(gh_reopen_failed(&r, GH_ENOTFOUND, 1000),
	                 GH_REOPEN_DOWN);
	assert_false(gh_reopen_due(&r, 2999));
	assert_true(gh_reopen_due(&r, 3000));
	assert_int_equal(gh_reopen_failed(&r, GH_ENOTFOUND, 3000),
	                 GH_REOPEN_QUIET);
	assert_false(gh_reopen_due(&r, 4999));
	assert_int_equal(gh_reopen_failed(&r, GH_ENOTFOUND, 5000),
	                 GH_REOPEN_QUIET);
	/* fails differently: news again */
	assert_int_equal(gh_reopen_failed(&r, GH_EACCES, 7000), GH_REOPEN_DOWN);
	assert_int_equal(r.failing, GH_EACCES);
	/* back: news once, with the failures not reported */
	assert_int_equal(gh_reopen_ok(&r, &n), GH_REOPEN_UP);
	assert_int_equal(n, 2);
	assert_true(gh_reopen_due(&r, 7001));
	assert_int_equal(gh_reopen_ok(&r, &n), GH_REOPEN_QUIET);
	/* GH_OK is no failure */
	assert_int_equal(gh_reopen_failed(&r, GH_OK, 8000), GH_REOPEN_QUIET);
	assert_int_equal(r.failing, GH_OK);
}

static void
test_no_pace_is_a_latch(void **state)
{
	struct gh_reopen r;

	(void)state;
	gh_reopen_init(&r, 0);
	assert_int_equal(gh_reopen_failed(&r, GH_EIO, 0), GH_REOPEN_DOWN);
	assert_true(gh_reopen_due(&r, 0));
	assert_int_equal(gh_reopen_failed(&r, GH_EIO, 0), GH_REOPEN_QUIET);
	assert_int_equal(gh_reopen_ok(&r, NULL), GH_REOPEN_UP);
	gh_reopen_init(&r, -5);                 /* clamped to no pace */
	assert_int_equal(r.pace_ms, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace_and_news),
		cmocka_unit_test(test_no_pace_is_a_latch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
