/*
 * test_group.c - group commit (gatehouse/group.h) on a real temporary store:
 * every caller gets its own write's result under concurrency, a write that
 * fails alone does not sink the others, on_commit sees each commit, and
 * GH_ELOCKED is retried up to lock_retry_ms.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../store_fixture.h"

#include "gatehouse/group.h"

/* Writes from many threads, some of which fail on their own: each gets
 * its own result, and every good one lands. */
struct gc_arg {
	struct gh_group *g;
	int id;
	int ok, refused;
};

static gh_err
gc_fn(struct gh_txn *txn, void *arg)
{
	int *n = arg;
	uint64_t seq;
	gh_err err = gh_txn_next_seq(txn, "gc_test", &seq);

	usleep(100);		/* long enough for others to queue up */
	if (err)
		return err;
	return *n % 7 == 3 ? GH_EINVAL : GH_OK;	/* this one refuses */
}

static void *
gc_thread(void *p)
{
	struct gc_arg *a = p;

	for (int i = 0; i < 40; i++) {
		int n = a->id * 40 + i;
		gh_err err = gh_group_update(a->g, gc_fn, &n);

		if (err == GH_OK)
			a->ok++;
		else if (err == GH_EINVAL && n % 7 == 3)
			a->refused++;
	}
	return NULL;
}

static gh_err
gc_count(struct gh_txn *txn, void *arg)
{
	return gh_txn_next_seq(txn, "gc_test", arg);
}

struct seen {
	pthread_mutex_t mu;
	int commits, ok, locked, other;
};

static void
on_commit(gh_err err, void *arg)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->mu);
	s->commits++;
	if (err == GH_OK)
		s->ok++;
	else if (err == GH_ELOCKED)
		s->locked++;
	else
		s->other++;
	pthread_mutex_unlock(&s->mu);
}

static void
run_threads(struct gh_fx *f, unsigned flags)
{
	struct gh_group_opts go = {0};
	struct gh_group *g;
	struct seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
	struct gh_store_info before, after;
	struct gc_arg a[6];
	pthread_t t[6];
	uint64_t seq = 0;
	int ok = 0, refused = 0;

	go.flags = flags;
	go.on_commit = on_commit;
	go.on_commit_arg = &s;
	assert_int_equal(gh_group_new(&g, f->st, &go), GH_OK);
	assert_int_equal(gh_store_info(f->st, &before), GH_OK);
	for (int i = 0; i < 6; i++) {
		a[i] = (struct gc_arg){g, i, 0, 0};
		assert_int_equal(pthread_create(&t[i], NULL, gc_thread, &a[i]),
		                 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		ok += a[i].ok;
		refused += a[i].refused;
	}
	assert_int_equal(gh_store_info(f->st, &after), GH_OK);
	assert_int_equal(refused, 34);		/* n % 7 == 3 for n < 240 */
	assert_int_equal(ok + refused, 240);
	/* only the good writes' increments were committed */
	assert_int_equal(gh_store_update(f->st, gc_count, &seq), GH_OK);
	assert_int_equal(seq, (uint64_t)ok + 1);
	/* every successful commit was seen, and no more were made */
	assert_int_equal(after.last_txn - before.last_txn, (uint64_t)s.ok);
	assert_true(s.ok <= ok);
	assert_int_equal(s.locked, 0);
	gh_group_free(g);
}

static void
test_threads(void **state)
{
	run_threads(*state, 0);
}

static void
test_threads_split_all(void **state)
{
	run_threads(*state, GH_GROUP_SPLIT_ALL);
}

/* Alone, a write behaves as gh_store_update: fn's own error comes back
 * and nothing is committed; GH_OK commits. */
static gh_err
put_or_refuse(struct gh_txn *txn, void *arg)
{
	gh_err *want = arg;
	gh_err err = gh_txn_put(txn, GH_DB_META, "gk", 2, "v", 1);

	return err ? err : *want;
}

static gh_err
get_gk(struct gh_txn *txn, void *arg)
{
	const void *v;
	size_t vlen;

	return gh_txn_get(txn, GH_DB_META, "gk", 2, &v, &vlen);
}

static void
test_single(void **state)
{
	struct gh_fx *f = *state;
	struct gh_group_opts go = {0};
	struct gh_group *g;
	struct seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
	gh_err want;

	assert_int_equal(gh_group_new(NULL, f->st, NULL), GH_EINVAL);
	assert_int_equal(gh_group_new(&g, NULL, NULL), GH_EINVAL);
	assert_null(g);
	go.on_commit = on_commit;
	go.on_commit_arg = &s;
	assert_int_equal(gh_group_new(&g, f->st, &go), GH_OK);
	assert_int_equal(gh_group_update(g, NULL, NULL), GH_EINVAL);
	assert_int_equal(gh_group_update(NULL, get_gk, NULL), GH_EINVAL);

	want = GH_EEXIST;
	assert_int_equal(gh_group_update(g, put_or_refuse, &want), GH_EEXIST);
	assert_int_equal(gh_store_view(f->st, get_gk, NULL), GH_ENOTFOUND);
	want = GH_OK;
	assert_int_equal(gh_group_update(g, put_or_refuse, &want), GH_OK);
	assert_int_equal(gh_store_view(f->st, get_gk, NULL), GH_OK);
	assert_int_equal(s.commits, 2);
	assert_int_equal(s.ok, 1);
	assert_int_equal(s.other, 1);
	gh_group_free(g);
	gh_group_free(NULL);
}

/* A thread holding the store's write lock for a while: with a store
 * lock_timeout of 0 (one try), a group without lock_retry_ms gets
 * GH_ELOCKED, one with it waits the holder out. */
struct holder {
	struct gh_store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int inside;
};

static gh_err
hold_fn(struct gh_txn *txn, void *arg)
{
	struct holder *h = arg;

	pthread_mutex_lock(&h->mu);
	h->inside = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	usleep(300 * 1000);
	return GH_OK;
}

static void *
hold_thread(void *p)
{
	struct holder *h = p;

	assert_int_equal(gh_store_update(h->st, hold_fn, h), GH_OK);
	return NULL;
}

static void
hold_lock(struct holder *h, pthread_t *t)
{
	h->inside = 0;
	assert_int_equal(pthread_create(t, NULL, hold_thread, h), 0);
	pthread_mutex_lock(&h->mu);
	while (!h->inside)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static void
test_lock_retry(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store_opts o = {0};
	struct gh_group_opts go = {0};
	struct holder h = {NULL, PTHREAD_MUTEX_INITIALIZER,
	                   PTHREAD_COND_INITIALIZER, 0};
	struct seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
	struct gh_group *g;
	char path[128];
	uint64_t seq = 0;
	pthread_t t;

	/* a second store: the fixture's may not be opened twice */
	snprintf(path, sizeof(path), "%s/short", f->dir);
	o.path = path;
	o.flags = GH_STORE_CREATE | GH_STORE_NOSYNC;
	o.lock_timeout_ms = 0;
	assert_int_equal(gh_store_open(&h.st, &o, NULL, 0), GH_OK);

	go.on_commit = on_commit;
	go.on_commit_arg = &s;
	assert_int_equal(gh_group_new(&g, h.st, &go), GH_OK);
	hold_lock(&h, &t);
	assert_int_equal(gh_group_update(g, gc_count, &seq), GH_ELOCKED);
	pthread_join(t, NULL);
	assert_int_equal(s.commits, 1);
	assert_int_equal(s.locked, 1);
	gh_group_free(g);

	go.lock_retry_ms = 5000;
	assert_int_equal(gh_group_new(&g, h.st, &go), GH_OK);
	hold_lock(&h, &t);
	assert_int_equal(gh_group_update(g, gc_count, &seq), GH_OK);
	pthread_join(t, NULL);
	assert_int_equal(seq, 1);
	/* the retries are one commit to on_commit */
	assert_int_equal(s.commits, 2);
	assert_int_equal(s.ok, 1);
	gh_group_free(g);
	gh_store_close(h.st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threads,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_threads_split_all,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_single,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_lock_retry,
		                                gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
