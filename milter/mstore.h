/*
 * mstore.h - the milter's handle on the Gatehouse store, opened once after
 * daemonizing and shared by every thread, and reopened lazily when it was
 * not there at start
 *
 * The milter must keep running when the store is missing (not yet
 * created, on a file system not mounted yet): messages then get the
 * on_store_error policy and the open is retried, at most once every few
 * seconds, from the message that needs it.  Failures are logged once per
 * condition (mlog.h), recoveries once too.
 *
 * Once opened, the handle never changes until gm_mstore_close() at exit;
 * the store's own rules (store.h) make it safe to share among threads.
 *
 * GROUP COMMIT
 *   Write transactions from different threads are committed together by
 *   libgatehouse's group commit (gatehouse/group.h), with its defaults: a
 *   batch that fails for a store failure (lock timeout, I/O error, ...) is
 *   not split, and GH_ELOCKED is not retried beyond the store's own
 *   lock_timeout.  The group is made with the store, when it is opened.
 */
#ifndef GH_MILTER_MSTORE_H
#define GH_MILTER_MSTORE_H

#include <pthread.h>
#include <stdint.h>

#include "gatehouse/group.h"
#include "gatehouse/reopen.h"
#include "gatehouse/store.h"
#include "mlog.h"

#define GH_MSTORE_RETRY_MS 2000

struct gm_mstore {
	pthread_mutex_t mu;
	struct gh_store *st;		/* NULL until opened; atomic reads */
	struct gh_group *group;		/* st's; set before st is */
	struct gh_store_opts opts;
	char path[4096];
	struct gh_reopen reopen;	/* pace of the open, under mu */
	struct gm_mcond open_cond;	/* "store open" */
	struct gm_mcond write_cond;	/* "store write" */
};

/* gm_mstore_init - remember how to open (opts->path is copied). */
void gm_mstore_init(struct gm_mstore *m, const struct gh_store_opts *opts);

/*
 * gm_mstore_get - the store, opening it if needed (and allowed by the
 * retry pace).  On failure returns the open error (GH_ENOTFOUND, GH_EACCES,
 * ...), already logged once.
 */
gh_err gm_mstore_get(struct gm_mstore *m, struct gh_store **out);

/* gm_mstore_update / gm_mstore_view - gh_store_update/view on the shared
 * handle, with failures logged once per condition; updates are group
 * committed (see above), so fn must act only through its transaction and
 * may run more than once (store.h). */
gh_err gm_mstore_update(struct gm_mstore *m, gh_txn_fn fn, void *arg);
gh_err gm_mstore_view(struct gm_mstore *m, gh_txn_fn fn, void *arg);

/* gm_mstore_close - at exit, when no thread uses the store any more. */
void gm_mstore_close(struct gm_mstore *m);

#endif /* GH_MILTER_MSTORE_H */
