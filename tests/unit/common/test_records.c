/*
 * test_records.c - the suppression list and rate counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../store_fixture.h"

#include "gatehouse/records.h"
#include "gatehouse/store.h"

static void
test_normalize(void **state)
{
	char out[GH_ADDR_MAX + 1];

	(void)state;
	assert_int_equal(gh_addr_normalize(" <Alice@Example.ORG> ", out,
	                                   sizeof(out)), GH_OK);
	assert_string_equal(out, "alice@example.org");
	assert_int_equal(gh_addr_normalize("no-at-sign", out, sizeof(out)),
	                 GH_EINVAL);
	assert_int_equal(gh_addr_normalize("a b@example.org", out, sizeof(out)),
	                 GH_EINVAL);
	assert_int_equal(gh_addr_normalize("<>", out, sizeof(out)), GH_EINVAL);
	assert_int_equal(gh_addr_normalize("@x", out, sizeof(out)), GH_EINVAL);
}

struct sargs {
	const char *addr, *list;
	int result;
};

static gh_err
add_fn(struct gh_txn *txn, void *arg)
{
	struct sargs *a = arg;

	return gh_suppress_add_txn(txn, a->addr, a->list, "asked", "test", 1);
}

static gh_err
check_fn(struct gh_txn *txn, void *arg)
{
	struct sargs *a = arg;

	return gh_suppress_check_txn(txn, a->addr, a->list, &a->result);
}

static gh_err
remove_fn(struct gh_txn *txn, void *arg)
{
	struct sargs *a = arg;

	return gh_suppress_remove_txn(txn, a->addr, a->list);
}

static int
check(struct gh_store *st, const char *addr, const char *list)
{
	struct sargs a = {addr, list, -1};

	assert_int_equal(gh_store_view(st, check_fn, &a), GH_OK);
	return a.result;
}

static gh_err
listed_fn(struct gh_txn *txn, void *arg)
{
	struct sargs *a = arg;

	return gh_suppress_listed_txn(txn, a->addr, &a->result);
}

static int
listed(struct gh_store *st, const char *addr)
{
	struct sargs a = {addr, NULL, -1};

	assert_int_equal(gh_store_view(st, listed_fn, &a), GH_OK);
	return a.result;
}

static int
count_cb(const char *addr, const char *list, const json_t *rec, void *arg)
{
	int *n = arg;

	assert_non_null(rec);
	(*n)++;
	return 0;
}

static void
test_suppression(void **state)
{
	struct gh_fx *f = *state;
	struct sargs news = {"Bob@Example.org", "news", 0};
	struct sargs all = {"carol@example.org", NULL, 0};
	int n = 0;

	assert_int_equal(gh_store_update(f->st, add_fn, &news), GH_OK);
	assert_int_equal(gh_store_update(f->st, add_fn, &all), GH_OK);
	assert_int_equal(check(f->st, "<bob@example.org>", "news"), 1);
	assert_int_equal(check(f->st, "bob@example.org", "promo"), 0);
	assert_int_equal(check(f->st, "bob@example.org", NULL), 0);
	assert_int_equal(check(f->st, "CAROL@example.org", "anything"), 1);
	assert_int_equal(check(f->st, "dave@example.org", "news"), 0);
	/* listed at all: for every list or for some list */
	assert_int_equal(listed(f->st, "<Bob@example.org>"), 1);
	assert_int_equal(listed(f->st, "carol@example.org"), 1);
	assert_int_equal(listed(f->st, "dave@example.org"), 0);
	/* a prefix of a listed address, or one it is a prefix of, is not */
	assert_int_equal(listed(f->st, "bob@example.or"), 0);
	assert_int_equal(listed(f->st, "bob@example.org.uk"), 0);
	assert_int_equal(listed(f->st, "zz@example.org"), 0);	/* past all */
	{
		struct sargs a = {"not an address", NULL, -1};

		assert_int_equal(gh_store_view(f->st, listed_fn, &a),
		                 GH_EINVAL);
		assert_int_equal(a.result, 0);
	}
	assert_int_equal(gh_suppress_list(f->st, count_cb, &n), GH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(gh_store_update(f->st, remove_fn, &news), GH_OK);
	assert_int_equal(gh_store_update(f->st, remove_fn, &news), GH_ENOTFOUND);
	assert_int_equal(check(f->st, "bob@example.org", "news"), 0);
	assert_int_equal(listed(f->st, "bob@example.org"), 0);
}

struct rargs {
	int64_t now;
	uint64_t add, count;
};

static gh_err
rate_fn(struct gh_txn *txn, void *arg)
{
	struct rargs *a = arg;

	return gh_rate_hit_txn(txn, "test:sender:a@example.org", 60000, a->now,
	                       a->add, &a->count);
}

static uint64_t
hit(struct gh_store *st, int64_t now, uint64_t add)
{
	struct rargs a = {now, add, 0};

	assert_int_equal(gh_store_update(st, rate_fn, &a), GH_OK);
	return a.count;
}

static void
test_rate(void **state)
{
	struct gh_fx *f = *state;
	int64_t t0 = 6000000;   /* a window boundary */

	assert_int_equal(hit(f->st, t0, 0), 0);
	for (int i = 1; i <= 10; i++)
		assert_int_equal(hit(f->st, t0 + i, 1), (uint64_t)i);
	assert_int_equal(hit(f->st, t0 + 100, 5), 15);
	/* half-way into the next window, half of the previous still counts */
	assert_int_equal(hit(f->st, t0 + 60000 + 30000, 0), 8);
	assert_int_equal(hit(f->st, t0 + 60000 + 30000, 2), 10);
	/* two windows later everything has slid out */
	assert_int_equal(hit(f->st, t0 + 180000, 1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test_setup_teardown(test_suppression, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_rate, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
