/*
 * test_imgbudget.c - unit tests of the worker's decoded-image budget
 * (nginx_module/parse/imgbudget.c, gatehouse_image_memory): takes within the
 * limit, a cost above the whole limit refused at once, a take that finds
 * no room giving up after its wait, a waiter woken by another thread's
 * give, and the cost estimate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../nginx_module/parse/imgbudget.h"

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L
	       + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

static void
test_take_give(void **state)
{
	ngx_http_gatehouse_budget_t b;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(ngx_http_gatehouse_budget_init(&b), 0);

	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 60, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 40, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);
	assert_int_equal(b.used, 100);
	/* full: even one byte more waits, then gives up */
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 1, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_BUSY);
	ngx_http_gatehouse_budget_give(&b, 40);
	assert_int_equal(b.used, 60);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 40, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);
	ngx_http_gatehouse_budget_give(&b, 40);
	ngx_http_gatehouse_budget_give(&b, 60);
	assert_int_equal(b.used, 0);
	assert_int_equal(b.peak, 100);

	/* a smaller limit (a reload) with bytes still taken: no wrap */
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 80, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 10, 50, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_BUSY);
	ngx_http_gatehouse_budget_give(&b, 80);
	assert_int_equal(b.used, 0);
}

static void
test_too_big(void **state)
{
	ngx_http_gatehouse_budget_t b;
	struct timespec t0;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(ngx_http_gatehouse_budget_init(&b), 0);

	/* refused at once, not after the wait */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 101, 100, 5000),
	                 NGX_HTTP_GATEHOUSE_BUDGET_TOO_BIG);
	assert_true(ms_since(&t0) < 1000);
	assert_int_equal(b.used, 0);
	/* exactly the whole budget fits */
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 100, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);
	ngx_http_gatehouse_budget_give(&b, 100);
}

static void
test_wait_times_out(void **state)
{
	ngx_http_gatehouse_budget_t b;
	struct timespec t0;
	long ms;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(ngx_http_gatehouse_budget_init(&b), 0);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 70, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 50, 100, 300),
	                 NGX_HTTP_GATEHOUSE_BUDGET_BUSY);
	ms = ms_since(&t0);
	assert_true(ms >= 290 && ms < 5000);
	assert_int_equal(b.used, 70);
	ngx_http_gatehouse_budget_give(&b, 70);
}

struct giver {
	ngx_http_gatehouse_budget_t *b;
	uint64_t cost;
};

static void *
give_later(void *arg)
{
	struct giver *g = arg;
	struct timespec d = { 0, 200 * 1000000L };

	nanosleep(&d, NULL);
	ngx_http_gatehouse_budget_give(g->b, g->cost);
	return NULL;
}

static void
test_woken_by_give(void **state)
{
	ngx_http_gatehouse_budget_t b;
	pthread_t t;
	struct giver g;
	struct timespec t0;
	long ms;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(ngx_http_gatehouse_budget_init(&b), 0);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 90, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);

	g.b = &b;
	g.cost = 90;
	assert_int_equal(pthread_create(&t, NULL, give_later, &g), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 60, 100, 10000),
	                 NGX_HTTP_GATEHOUSE_BUDGET_OK);
	ms = ms_since(&t0);
	assert_true(ms >= 150 && ms < 9000);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.used, 60);
	ngx_http_gatehouse_budget_give(&b, 60);
}

static void
test_not_ready(void **state)
{
	ngx_http_gatehouse_budget_t b;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(ngx_http_gatehouse_budget_take(&b, 1, 100, 0),
	                 NGX_HTTP_GATEHOUSE_BUDGET_ERROR);
}

static void
test_cost(void **state)
{
	(void)state;
	/* JPEG upright: 6 bytes a pixel; turned: 8; PNG etc.: 8 */
	assert_int_equal(ngx_http_gatehouse_budget_cost(1000, 1, 0, 0, 0),
	                 6000);
	assert_int_equal(ngx_http_gatehouse_budget_cost(1000, 1, 1, 0, 0),
	                 6000);
	assert_int_equal(ngx_http_gatehouse_budget_cost(1000, 1, 6, 0, 0),
	                 8000);
	assert_int_equal(ngx_http_gatehouse_budget_cost(1000, 0, 0, 0, 0),
	                 8000);
	/* plus the thumbnail box, twice, 4 bytes a pixel */
	assert_int_equal(ngx_http_gatehouse_budget_cost(1000, 0, 0, 10, 10),
	                 8800);
	/* the thumbnail counts no more than the image it is made from */
	assert_int_equal(ngx_http_gatehouse_budget_cost(100, 0, 0, 8192, 8192),
	                 1600);
	/* the largest the pixel cap allows stays exact */
	assert_true(ngx_http_gatehouse_budget_cost(1000000000ULL, 0, 0, 8192,
	                                           8192)
	            == 8000000000ULL + 8192ULL * 8192 * 8);
	/* the default pixel cap fits the default budget on its own */
	assert_true(ngx_http_gatehouse_budget_cost(32000000, 0, 0, 256, 256)
	            <= 256ULL * 1024 * 1024);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_give),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_wait_times_out),
		cmocka_unit_test(test_woken_by_give),
		cmocka_unit_test(test_not_ready),
		cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
