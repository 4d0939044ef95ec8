/*
 * mstore.c - the shared, lazily (re)opened store handle (see mstore.h).
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/queue.h"
#include "mstore.h"

void
gm_mstore_init(struct gm_mstore *m, const struct gh_store_opts *opts)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	m->opts = *opts;
	snprintf(m->path, sizeof(m->path), "%s", opts->path ? opts->path : "");
	m->opts.path = m->path;
	gh_reopen_init(&m->reopen, GH_MSTORE_RETRY_MS);
	gm_mcond_init(&m->open_cond, "store open");
	gm_mcond_init(&m->write_cond, "store write");
}

/* The store's own failures, as opposed to an error a callback chose (a
 * record it refused), which is the caller's business. */
static int
store_failure(gh_err err)
{
	return err == GH_ELOCKED || err == GH_EFULL || err == GH_EIO ||
	    err == GH_ECORRUPT || err == GH_EREADONLY || err == GH_EACCES;
}

static void
note(struct gm_mstore *m, gh_err err)
{
	if (store_failure(err))
		gm_mcond_fail(&m->write_cond, err, m->path);
	else if (err == GH_OK)
		gm_mcond_ok(&m->write_cond);
}

static void
on_commit(gh_err err, void *arg)
{
	note(arg, err);
}

gh_err
gm_mstore_get(struct gm_mstore *m, struct gh_store **out)
{
	struct gh_store *st = __atomic_load_n(&m->st, __ATOMIC_ACQUIRE);
	char detail[512];
	int64_t now;
	gh_err err;

	if (st) {
		*out = st;
		return GH_OK;
	}
	pthread_mutex_lock(&m->mu);
	if (m->st) {
		*out = m->st;
		pthread_mutex_unlock(&m->mu);
		return GH_OK;
	}
	now = gh_mono_ms();     /* a pace: the wall clock may jump */
	if (!gh_reopen_due(&m->reopen, now)) {
		err = m->reopen.failing;
		pthread_mutex_unlock(&m->mu);
		return err;
	}
	detail[0] = '\0';
	err = gh_store_open(&st, &m->opts, detail, sizeof(detail));
	if (err == GH_OK) {
		struct gh_group_opts go = {0};

		/* every commit, batch or single write, as before: a store
		 * failure is logged once, a refused record not at all */
		go.on_commit = on_commit;
		go.on_commit_arg = m;
		err = gh_group_new(&m->group, st, &go);
		if (err) {
			gh_store_close(st);
			snprintf(detail, sizeof(detail), "%.400s: group commit",
			         m->path);
		}
	}
	if (err == GH_OK) {
		/* release: whoever sees st sees its group */
		__atomic_store_n(&m->st, st, __ATOMIC_RELEASE);
		(void)gh_reopen_ok(&m->reopen, NULL);
		*out = st;
	} else {
		/* the news is open_cond's to log (with its own latch) */
		(void)gh_reopen_failed(&m->reopen, err, now);
	}
	pthread_mutex_unlock(&m->mu);
	if (err) {
		char what[700];

		/* the store's detail names the path already */
		snprintf(what, sizeof(what), "%.480s", detail[0] ? detail :
		         m->path);
		gm_mcond_fail(&m->open_cond, err, what);
	} else {
		gm_mcond_ok(&m->open_cond);
	}
	return err;
}

gh_err
gm_mstore_update(struct gm_mstore *m, gh_txn_fn fn, void *arg)
{
	struct gh_store *st;
	gh_err err = gm_mstore_get(m, &st);

	if (err)
		return err;
	return gh_group_update(m->group, fn, arg);
}

gh_err
gm_mstore_view(struct gm_mstore *m, gh_txn_fn fn, void *arg)
{
	struct gh_store *st;
	gh_err err = gm_mstore_get(m, &st);

	if (err)
		return err;
	err = gh_store_view(st, fn, arg);
	note(m, err);
	return err;
}

void
gm_mstore_close(struct gm_mstore *m)
{
	gh_group_free(m->group);
	m->group = NULL;
	gh_store_close(m->st);
	m->st = NULL;
	gm_mcond_destroy(&m->open_cond);
	gm_mcond_destroy(&m->write_cond);
	pthread_mutex_destroy(&m->mu);
}
