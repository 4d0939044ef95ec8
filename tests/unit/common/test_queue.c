/*
 * test_queue.c - unit tests of the event queue with an injected clock:
 * ids, dedup windows, priority order, leases that expire, stale tokens,
 * retry and dead-letter, expiry, release, requeue, list, purge, stats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../store_fixture.h"

#include "gatehouse/store.h"
#include "gatehouse/queue.h"

#define T0 1700000000000LL

static json_t *
ev(const char *type, int prio, const char *dedup)
{
	json_t *e = json_pack("{s:s, s:s, s:s, s:i}", "type", type, "user",
	                      "alice", "title", "hello", "priority", prio);

	if (dedup)
		json_object_set_new(e, "dedup_key", json_string(dedup));
	return e;
}

static uint64_t
enq(struct gh_store *st, json_t *e, int64_t now, int *dup)
{
	uint64_t id = 0;

	assert_int_equal(gh_queue_enqueue(st, e, now, 0, &id, dup), GH_OK);
	json_decref(e);
	return id;
}

static const char *
state_str(json_t *rec)
{
	return json_string_value(json_object_get(json_object_get(rec, "q"),
	                                         "state"));
}

static void
test_validate(void **state)
{
	char d[128];
	json_t *e;

	(void)state;
	e = ev("login.new_host", 2, NULL);
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_OK);
	json_object_set_new(e, "priority", json_integer(5));
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_EINVAL);
	assert_non_null(strstr(d, "priority"));
	json_object_set_new(e, "priority", json_integer(3));
	json_object_set_new(e, "colour", json_string("red"));
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_EINVAL);
	assert_non_null(strstr(d, "colour"));
	json_object_del(e, "colour");
	json_object_set_new(e, "type", json_string("Bad Type"));
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_EINVAL);
	json_object_set_new(e, "type", json_string("ok"));
	json_object_del(e, "user");
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_EINVAL);
	assert_non_null(strstr(d, "recipients"));
	json_object_set_new(e, "recipients", json_pack("[s]", "ops@example.org"));
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_OK);
	json_object_set_new(e, "message", json_stringn("a\0b", 3));
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_EINVAL);
	json_decref(e);
	e = json_integer(1);
	assert_int_equal(gh_event_validate(e, d, sizeof(d)), GH_EINVAL);
	json_decref(e);
}

static void
test_enqueue_defaults_and_ids(void **state)
{
	struct gh_fx *f = *state;
	uint64_t a, b;
	json_t *rec;

	a = enq(f->st, ev("login.new_host", 2, NULL), T0, NULL);
	b = enq(f->st, ev("custom", 2, NULL), T0, NULL);
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_int_equal(gh_queue_get(f->st, a, &rec), GH_OK);
	assert_string_equal(json_string_value(json_object_get(rec, "category")),
	                    "security");
	assert_string_equal(json_string_value(json_object_get(rec, "source")),
	                    "app");
	assert_int_equal(json_integer_value(json_object_get(rec, "created_at")),
	                 T0);
	assert_string_equal(state_str(rec), "ready");
	json_decref(rec);
	assert_int_equal(gh_queue_get(f->st, b, &rec), GH_OK);
	assert_string_equal(json_string_value(json_object_get(rec, "category")),
	                    "system");
	json_decref(rec);
	assert_int_equal(gh_queue_get(f->st, 99, &rec), GH_ENOTFOUND);
}

static void
test_dedup_window(void **state)
{
	struct gh_fx *f = *state;
	uint64_t a, b, c;
	int dup = -1;

	a = enq(f->st, ev("x", 2, "k1"), T0, &dup);
	assert_int_equal(dup, 0);
	b = enq(f->st, ev("x", 2, "k1"), T0 + 1000, &dup);
	assert_int_equal(dup, 1);
	assert_int_equal(a, b);
	/* After the (default, one day) window the key makes a new event. */
	c = enq(f->st, ev("x", 2, "k1"), T0 + GH_QUEUE_DEDUP_WINDOW_DEFAULT,
	        &dup);
	assert_int_equal(dup, 0);
	assert_true(c > a);
	/* An explicit window. */
	{
		json_t *e = ev("x", 2, "k2");
		uint64_t d1, d2;

		assert_int_equal(gh_queue_enqueue(f->st, e, T0, 500, &d1, &dup),
		                 GH_OK);
		assert_int_equal(gh_queue_enqueue(f->st, e, T0 + 499, 500, &d2,
		                                  &dup), GH_OK);
		assert_int_equal(d1, d2);
		assert_int_equal(gh_queue_enqueue(f->st, e, T0 + 500, 500, &d2,
		                                  &dup), GH_OK);
		assert_true(d2 > d1);
		json_decref(e);
	}
}

static void
test_priority_and_visibility(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[8], l2[8];
	size_t n;
	uint64_t lo, hi, urgent;
	gh_err res[2];

	lo = enq(f->st, ev("x", 1, NULL), T0, NULL);
	hi = enq(f->st, ev("x", 3, NULL), T0 + 1, NULL);
	urgent = enq(f->st, ev("x", 4, NULL), T0 + 2, NULL);
	/* Nothing is due before it is enqueued. */
	assert_int_equal(gh_queue_lease(f->st, T0 - 1, 8, 1000, l, &n), GH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(gh_queue_lease(f->st, T0 + 10, 2, 1000, l, &n), GH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].id, urgent);
	assert_int_equal(l[1].id, hi);
	assert_string_equal(state_str(l[0].event), "leased");
	/* Leased events are invisible until the deadline. */
	assert_int_equal(gh_queue_lease(f->st, T0 + 20, 8, 1000, l2, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l2[0].id, lo);
	gh_lease_release(l2, n);
	/* The consumer "dies": after the deadline they come back, new token. */
	assert_int_equal(gh_queue_lease(f->st, T0 + 1010, 8, 1000, l2, &n), GH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l2[0].id, urgent);
	assert_true(l2[0].token != l[0].token);
	/* The old holder's ack is stale; the new holder's works. */
	assert_int_equal(gh_queue_ack(f->st, l, 2, T0 + 1011, res), GH_OK);
	assert_int_equal(res[0], GH_ESTALE);
	assert_int_equal(res[1], GH_ESTALE);
	assert_int_equal(gh_queue_ack(f->st, l2, 2, T0 + 1012, res), GH_OK);
	assert_int_equal(res[0], GH_OK);
	assert_int_equal(res[1], GH_OK);
	gh_lease_release(l, 2);
	gh_lease_release(l2, 2);
	{
		json_t *rec;

		assert_int_equal(gh_queue_get(f->st, urgent, &rec), GH_OK);
		assert_string_equal(state_str(rec), "done");
		assert_int_equal(json_integer_value(json_object_get(
		    json_object_get(rec, "q"), "leases")), 2);
		json_decref(rec);
	}
}

static void
test_retry_dead_letter(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[1];
	size_t n;
	int dead = -1;
	uint64_t id;
	json_t *rec, *q;

	id = enq(f->st, ev("x", 2, NULL), T0, NULL);
	for (int attempt = 1; attempt <= 3; attempt++) {
		int64_t now = T0 + attempt * 10000;

		assert_int_equal(gh_queue_lease(f->st, now, 1, 1000, l, &n), GH_OK);
		assert_int_equal(n, 1);
		assert_int_equal(l[0].id, id);
		assert_int_equal(gh_queue_retry(f->st, &l[0], now, now + 5000,
		                                 "HTTP 503", 3, &dead), GH_OK);
		assert_int_equal(dead, attempt == 3);
		/* Not due before its retry time. */
		gh_lease_release(l, 1);
		assert_int_equal(gh_queue_lease(f->st, now + 4999, 1, 1000, l, &n),
		                 GH_OK);
		assert_int_equal(n, 0);
	}
	assert_int_equal(gh_queue_get(f->st, id, &rec), GH_OK);
	q = json_object_get(rec, "q");
	assert_string_equal(state_str(rec), "dead");
	assert_int_equal(json_integer_value(json_object_get(q, "attempts")), 3);
	assert_string_equal(json_string_value(json_object_get(q, "last_error")),
	                    "HTTP 503");
	json_decref(rec);
	/* The admin's retry brings it back. */
	assert_int_equal(gh_queue_requeue(f->st, id, T0 + 100000), GH_OK);
	assert_int_equal(gh_queue_requeue(f->st, id, T0 + 100000), GH_EEXIST);
	assert_int_equal(gh_queue_lease(f->st, T0 + 100000, 1, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(l[0].event, "q"), "attempts")), 0);
	/* A retry with a stale token fails. */
	{
		struct gh_lease stale = l[0];

		stale.token++;
		assert_int_equal(gh_queue_retry(f->st, &stale, T0 + 100001,
		                                T0 + 100002, "x", 3, NULL),
		                 GH_ESTALE);
	}
	gh_lease_release(l, 1);
}

static void
test_expiry_release_extend(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[4];
	size_t n;
	json_t *e = ev("x", 2, NULL), *rec;
	uint64_t old, fresh;

	json_object_set_new(e, "expires_at", json_integer(T0 + 100));
	old = enq(f->st, e, T0, NULL);
	fresh = enq(f->st, ev("x", 2, NULL), T0, NULL);
	assert_int_equal(gh_queue_lease(f->st, T0 + 100, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].id, fresh);
	assert_int_equal(gh_queue_get(f->st, old, &rec), GH_OK);
	assert_string_equal(state_str(rec), "expired");
	json_decref(rec);

	/* extend keeps it invisible past the first deadline */
	assert_int_equal(gh_queue_extend(f->st, &l[0], T0 + 900, 5000), GH_OK);
	gh_lease_release(l, n);
	assert_int_equal(gh_queue_lease(f->st, T0 + 2000, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 0);
	/* release gives it back at once, attempts untouched */
	assert_int_equal(gh_queue_lease(f->st, T0 + 6000, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(gh_queue_release(f->st, l, 1, T0 + 6001), GH_OK);
	gh_lease_release(l, 1);
	assert_int_equal(gh_queue_lease(f->st, T0 + 6001, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(l[0].event, "q"), "attempts")), 0);
	gh_lease_release(l, 1);
}

/* Defer: each lease back at its own time, attempts and last error kept,
 * stale tokens skipped without stopping the others. */
struct expire_arg {
	const struct gh_lease *l;
	gh_err res[1];
};

static gh_err
expire_fn(struct gh_txn *txn, void *arg)
{
	struct expire_arg *a = arg;

	return gh_queue_expire_txn(txn, a->l, 1, T0 + 300, a->res);
}

/* A consumer that keeps records of its own is handed expired events and
 * settles them itself; a finished event shows no due time. */
static void
test_lease_expired_for_consumer(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[2];
	struct expire_arg a;
	size_t n;
	json_t *e = ev("x", 2, NULL), *rec;
	uint64_t id;

	json_object_set_new(e, "expires_at", json_integer(T0 + 100));
	id = enq(f->st, e, T0, NULL);
	assert_int_equal(gh_queue_lease_ex(f->st, T0 + 200, 2, 1000,
	                                   GH_LEASE_EXPIRED, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].id, id);
	assert_string_equal(state_str(l[0].event), "leased");
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(l[0].event, "q"), "expires_at")), T0 + 100);
	a.l = l;
	assert_int_equal(gh_store_update(f->st, expire_fn, &a), GH_OK);
	assert_int_equal(a.res[0], GH_OK);
	assert_int_equal(gh_queue_get(f->st, id, &rec), GH_OK);
	assert_string_equal(state_str(rec), "expired");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(rec, "q"), "last_error")), "expired before delivery");
	assert_true(json_is_null(json_object_get(json_object_get(rec, "q"),
	                                         "due_at")));
	json_decref(rec);
	/* settled: stale now, and nothing is due any more */
	assert_int_equal(gh_store_update(f->st, expire_fn, &a), GH_OK);
	assert_int_equal(a.res[0], GH_ESTALE);
	gh_lease_release(l, n);
	assert_int_equal(gh_queue_lease_ex(f->st, T0 + 5000, 2, 1000,
	                                   GH_LEASE_EXPIRED, l, &n), GH_OK);
	assert_int_equal(n, 0);
}

static void
test_defer(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[4], stale;
	int64_t due[3];
	gh_err res[3];
	size_t n;
	json_t *q;
	uint64_t a, b;
	int dead;

	a = enq(f->st, ev("x", 2, NULL), T0, NULL);
	b = enq(f->st, ev("y", 2, NULL), T0, NULL);
	assert_int_equal(gh_queue_lease(f->st, T0, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].id, a);
	/* one failed attempt on a, so there is an error to keep */
	assert_int_equal(gh_queue_retry(f->st, &l[0], T0 + 1, T0 + 2, "boom", 0,
	                                &dead), GH_OK);
	gh_lease_release(l, n);
	/* b's lease runs out at T0 + 1000; a has been due since T0 + 2 */
	assert_int_equal(gh_queue_lease(f->st, T0 + 1000, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].id, a);
	assert_int_equal(l[1].id, b);
	stale = l[1];
	stale.token += 1000;
	due[0] = T0 + 20000;   /* a: sooner */
	due[1] = T0 + 50000;   /* b: later */
	assert_int_equal(gh_queue_defer(f->st, l, 2, T0 + 1001, due, NULL), GH_OK);
	assert_int_equal(gh_queue_defer(f->st, &stale, 1, T0 + 1001, due, res),
	                 GH_OK);
	assert_int_equal(res[0], GH_ESTALE);
	gh_lease_release(l, n);
	/* nothing is due before the earlier deadline */
	assert_int_equal(gh_queue_lease(f->st, T0 + 19999, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(gh_queue_lease(f->st, T0 + 20000, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].id, a);
	q = json_object_get(l[0].event, "q");
	assert_int_equal(json_integer_value(json_object_get(q, "attempts")), 1);
	assert_string_equal(json_string_value(json_object_get(q, "last_error")),
	                    "boom");
	/* a due time in the past means now */
	due[0] = T0;
	assert_int_equal(gh_queue_defer(f->st, l, 1, T0 + 20001, due, NULL),
	                 GH_OK);
	gh_lease_release(l, n);
	assert_int_equal(gh_queue_lease(f->st, T0 + 20001, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].id, a);
	assert_int_equal(gh_queue_ack(f->st, l, 1, T0 + 20002, NULL), GH_OK);
	gh_lease_release(l, n);
	assert_int_equal(gh_queue_lease(f->st, T0 + 50000, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].id, b);
	gh_lease_release(l, n);
	assert_int_equal(gh_queue_defer(f->st, NULL, 1, T0, due, NULL), GH_EINVAL);
	assert_int_equal(gh_queue_defer(f->st, l, 0, T0, NULL, NULL), GH_OK);
}

struct settle_arg {
	struct gh_lease *l;
	int64_t due[2];
	gh_err res[2];
	int fail;
};

static gh_err
settle_fn(struct gh_txn *txn, void *arg)
{
	struct settle_arg *a = arg;
	gh_err err;

	err = gh_queue_ack_txn(txn, &a->l[0], 1, T0 + 1, &a->res[0]);
	if (err == GH_OK)
		err = gh_queue_defer_txn(txn, &a->l[1], 1, T0 + 1, &a->due[1],
		                         &a->res[1]);
	return a->fail ? GH_EINVAL : err;
}

/* Ack and defer inside the caller's transaction: all or nothing with it. */
static void
test_settle_in_txn(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[4];
	struct settle_arg a;
	size_t n;
	json_t *rec;
	uint64_t x, y;

	x = enq(f->st, ev("x", 2, NULL), T0, NULL);
	y = enq(f->st, ev("y", 2, NULL), T0, NULL);
	assert_int_equal(gh_queue_lease(f->st, T0, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 2);
	memset(&a, 0, sizeof(a));
	a.l = l;
	a.due[1] = T0 + 5000;
	/* the caller's failure rolls the acks back too */
	a.fail = 1;
	assert_int_equal(gh_store_update(f->st, settle_fn, &a), GH_EINVAL);
	assert_int_equal(gh_queue_get(f->st, x, &rec), GH_OK);
	assert_string_equal(state_str(rec), "leased");
	json_decref(rec);
	a.fail = 0;
	assert_int_equal(gh_store_update(f->st, settle_fn, &a), GH_OK);
	assert_int_equal(a.res[0], GH_OK);
	assert_int_equal(a.res[1], GH_OK);
	assert_int_equal(gh_queue_get(f->st, x, &rec), GH_OK);
	assert_string_equal(state_str(rec), "done");
	json_decref(rec);
	assert_int_equal(gh_queue_get(f->st, y, &rec), GH_OK);
	assert_string_equal(state_str(rec), "ready");
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(rec, "q"), "due_at")), T0 + 5000);
	json_decref(rec);
	/* settling again: stale, reported, not an error */
	assert_int_equal(gh_store_update(f->st, settle_fn, &a), GH_OK);
	assert_int_equal(a.res[0], GH_ESTALE);
	assert_int_equal(a.res[1], GH_ESTALE);
	gh_lease_release(l, n);
}

static void
test_batch_atomic(void **state)
{
	struct gh_fx *f = *state;
	json_t *evs[3];
	uint64_t ids[3];
	size_t bad = 99;
	struct gh_queue_stats s;

	evs[0] = ev("x", 2, NULL);
	evs[1] = json_pack("{s:s}", "type", "no-title");
	evs[2] = ev("x", 2, NULL);
	assert_int_equal(gh_queue_enqueue_batch(f->st, evs, 3, T0, 0, ids, NULL,
	                                        &bad), GH_EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(gh_queue_stats(f->st, T0, &s), GH_OK);
	assert_int_equal(s.count[0], 0);
	json_decref(evs[1]);
	evs[1] = ev("y", 2, NULL);
	assert_int_equal(gh_queue_enqueue_batch(f->st, evs, 3, T0, 0, ids, NULL,
	                                        &bad), GH_OK);
	assert_int_equal(ids[0] + 1, ids[1]);
	assert_int_equal(ids[1] + 1, ids[2]);
	assert_int_equal(gh_queue_stats(f->st, T0 + 5000, &s), GH_OK);
	assert_int_equal(s.count[0], 3);
	assert_int_equal(s.due, 3);
	assert_int_equal(s.oldest_due_ms, 5000);
	for (int i = 0; i < 3; i++)
		json_decref(evs[i]);
}

static int
list_cb(const json_t *e, void *arg)
{
	int *n = arg;

	(*n)++;
	return 0;
}

static gh_err
put_delivery(struct gh_txn *txn, void *arg)
{
	unsigned char k[16];

	gh_put_be64(k, *(uint64_t *)arg);
	memcpy(k + 8, "webhook", 8);
	return gh_txn_put(txn, GH_DB_DELIVERIES, k, sizeof(k), "{}", 2);
}

static void
test_list_purge(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[16];
	size_t n, purged;
	int count;
	uint64_t first;
	struct gh_store_info info;

	first = enq(f->st, ev("x", 2, "dk"), T0, NULL);
	for (int i = 0; i < 9; i++)
		enq(f->st, ev("x", 2, NULL), T0, NULL);
	assert_int_equal(gh_store_update(f->st, put_delivery, &first), GH_OK);
	assert_int_equal(gh_queue_lease(f->st, T0, 4, 1000, l, &n), GH_OK);
	assert_int_equal(gh_queue_ack(f->st, l, n, T0 + 1, NULL), GH_OK);
	gh_lease_release(l, n);

	count = 0;
	assert_int_equal(gh_queue_list(f->st, GH_Q_DONE, 0, 0, 0, list_cb,
	                               &count), GH_OK);
	assert_int_equal(count, 4);
	count = 0;
	assert_int_equal(gh_queue_list(f->st, GH_Q_ALL, 0, 1, 3, list_cb,
	                               &count), GH_OK);
	assert_int_equal(count, 3);
	count = 0;
	assert_int_equal(gh_queue_list(f->st, GH_Q_ALL, 5, 0, 0, list_cb,
	                               &count), GH_OK);
	assert_int_equal(count, 5);

	/* Too recent to purge, then old enough; ready ones stay. */
	assert_int_equal(gh_queue_purge(f->st, GH_Q_ALL, T0, T0, &purged), GH_OK);
	assert_int_equal(purged, 0);
	assert_int_equal(gh_queue_purge(f->st, GH_Q_ALL, T0 + 2,
	                                T0 + GH_QUEUE_DEDUP_WINDOW_DEFAULT,
	                                &purged), GH_OK);
	assert_int_equal(purged, 4);
	assert_int_equal(gh_store_info(f->st, &info), GH_OK);
	assert_int_equal(info.entries[GH_DB_EVENTS], 6);
	assert_int_equal(info.entries[GH_DB_QUEUE], 6);
	assert_int_equal(info.entries[GH_DB_DELIVERIES], 0);
	assert_int_equal(info.entries[GH_DB_DEDUP], 0);
}

/* Purging the newest events must not let their ids be handed out again. */
static void
test_ids_never_reused(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[4];
	size_t n, purged;
	uint64_t id;

	for (int i = 0; i < 3; i++)
		enq(f->st, ev("x", 2, NULL), T0, NULL);
	assert_int_equal(gh_queue_lease(f->st, T0, 4, 1000, l, &n), GH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(gh_queue_ack(f->st, l, n, T0, NULL), GH_OK);
	gh_lease_release(l, n);
	assert_int_equal(gh_queue_purge(f->st, GH_Q_DONE, T0 + 1, T0 + 1,
	                                &purged), GH_OK);
	assert_int_equal(purged, 3);
	id = enq(f->st, ev("x", 2, NULL), T0 + 2, NULL);
	assert_int_equal(id, 4);
}

static void
test_bad_args(void **state)
{
	struct gh_fx *f = *state;
	struct gh_lease l[1];
	size_t n;

	assert_int_equal(gh_queue_lease(f->st, T0, 0, 1000, l, &n), GH_EINVAL);
	assert_int_equal(gh_queue_lease(f->st, T0, GH_QUEUE_LEASE_MAX + 1, 1000,
	                                l, &n), GH_EINVAL);
	assert_int_equal(gh_queue_lease(f->st, T0, 1, 0, l, &n), GH_EINVAL);
	assert_int_equal(gh_qstate_parse("dead"), GH_Q_DEAD);
	assert_int_equal(gh_qstate_parse("bogus"), 0);
	assert_string_equal(gh_qstate_name(GH_Q_EXPIRED), "expired");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test_setup_teardown(test_enqueue_defaults_and_ids, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_dedup_window, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_priority_and_visibility, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_retry_dead_letter, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_expiry_release_extend, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_lease_expired_for_consumer, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_defer, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_settle_in_txn, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_atomic, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_purge, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
