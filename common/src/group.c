/*
 * group.c - group commit of many threads' writes (see gatehouse/group.h).
 *
 * The queue is a list of gh_group_write nodes on the callers' stacks.  A
 * caller appends its node and, while no other thread leads, becomes the
 * leader: it detaches the whole queue, commits it without holding the
 * group's mutex (so that later writers can queue up meanwhile, forming the
 * next batch), then marks every node done and wakes the waiters.  A node's
 * owner may return, and its stack frame vanish, as soon as done is set, so
 * the leader reads next before setting done.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "gatehouse/group.h"
#include "gatehouse/queue.h"

struct gh_group_write {
	gh_txn_fn fn;
	void *arg;
	gh_err err;
	int done;
	struct gh_group_write *next;
};

struct gh_group {
	struct gh_store *store;
	struct gh_group_opts opts;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gh_group_write *head, **tail;	/* queued, not yet taken */
	int leader;				/* a thread is committing */
};

gh_err
gh_group_new(struct gh_group **out, struct gh_store *store,
             const struct gh_group_opts *opts)
{
	struct gh_group *g = NULL;
	int have_mu = 0;
	gh_err err = GH_OK;

	if (out == NULL || store == NULL) {
		err = GH_EINVAL;
		goto cleanup;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	g->store = store;
	if (opts != NULL)
		g->opts = *opts;
	/* both fail only for want of resources */
	if (pthread_mutex_init(&g->mu, NULL) != 0) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	have_mu = 1;
	if (pthread_cond_init(&g->cv, NULL) != 0) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	g->head = NULL;
	g->tail = &g->head;
	*out = g;
	g = NULL;

cleanup:
	if (g != NULL) {
		if (have_mu)
			pthread_mutex_destroy(&g->mu);
		free(g);
	}
	if (err != GH_OK && out != NULL)
		*out = NULL;
	return err;
}

void
gh_group_free(struct gh_group *g)
{
	if (g == NULL)
		return;
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* The store's own failures, which every write of a batch shares, as opposed
 * to an error a write's fn chose (a record it refused). */
static int
store_failure(gh_err err)
{
	return err == GH_ELOCKED || err == GH_EFULL || err == GH_EIO ||
	    err == GH_ECORRUPT || err == GH_EREADONLY || err == GH_EACCES;
}

/* One commit: gh_store_update, tried again on GH_ELOCKED until the
 * group's deadline for it, then shown to on_commit. */
static gh_err
commit(struct gh_group *g, gh_txn_fn fn, void *arg)
{
	int64_t deadline = gh_mono_ms() + g->opts.lock_retry_ms;
	gh_err err;

	for (;;) {
		err = gh_store_update(g->store, fn, arg);
		if (err != GH_ELOCKED || gh_mono_ms() >= deadline)
			break;
	}
	if (g->opts.on_commit != NULL)
		g->opts.on_commit(err, g->opts.on_commit_arg);
	return err;
}

static gh_err
run_batch(struct gh_txn *txn, void *arg)
{
	for (struct gh_group_write *w = arg; w != NULL; w = w->next) {
		gh_err err = w->fn(txn, w->arg);

		if (err != GH_OK)
			return err;
	}
	return GH_OK;
}

static void
commit_batch(struct gh_group *g, struct gh_group_write *batch)
{
	gh_err err = commit(g, run_batch, batch);
	int split;

	split = err != GH_OK && batch->next != NULL &&
	    ((g->opts.flags & GH_GROUP_SPLIT_ALL) || !store_failure(err));
	if (!split) {
		for (struct gh_group_write *w = batch; w != NULL; w = w->next)
			w->err = err;
		return;
	}
	/* possibly one write's own error sank the batch: each alone */
	for (struct gh_group_write *w = batch; w != NULL; w = w->next)
		w->err = commit(g, w->fn, w->arg);
}

gh_err
gh_group_update(struct gh_group *g, gh_txn_fn fn, void *arg)
{
	struct gh_group_write w = {fn, arg, GH_OK, 0, NULL}, *batch, *next;

	if (g == NULL || fn == NULL)
		return GH_EINVAL;
	pthread_mutex_lock(&g->mu);
	*g->tail = &w;
	g->tail = &w.next;
	while (!w.done) {
		if (g->leader) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		g->leader = 1;
		batch = g->head;
		g->head = NULL;
		g->tail = &g->head;
		pthread_mutex_unlock(&g->mu);

		commit_batch(g, batch);

		pthread_mutex_lock(&g->mu);
		for (; batch != NULL; batch = next) {
			next = batch->next;
			batch->done = 1;	/* its owner may return now */
		}
		g->leader = 0;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	return w.err;
}
