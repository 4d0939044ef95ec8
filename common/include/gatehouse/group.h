/*
 * gatehouse/group.h - group commit: many threads' writes, one transaction
 *
 * A process whose threads write to the store concurrently (the milter's
 * message threads, an nginx worker's thread pool) would pay one commit, and
 * with [store] sync one fsync, per write.  A group queues them instead: a
 * thread calling gh_group_update() that finds no commit under way becomes the
 * leader, takes every write queued meanwhile and runs them, in arrival order,
 * in one write transaction; the others wait for it, so each caller still
 * returns only once its own write is committed (durable with sync).  Alone, a
 * write commits at once.  docs/store.md "Group commit" has the whole story.
 *
 * FAILED BATCHES
 *   A batch fails as a whole: the transaction is aborted at the first write
 *   that returns an error.  So that one bad record cannot sink the others,
 *   every write of a failed batch of more than one is then run again alone,
 *   each in its own transaction, and each caller gets its own result.  By
 *   default this is skipped when the batch failed for a reason of the store
 *   itself, which every write in it would meet again (GH_ELOCKED, GH_EFULL,
 *   GH_EIO, GH_ECORRUPT, GH_EREADONLY, GH_EACCES): every caller then gets
 *   that error.  GH_GROUP_SPLIT_ALL runs the writes alone after any failure.
 *
 * LOCK RETRIES
 *   With opts lock_retry_ms > 0, every commit the group makes (the batch,
 *   or a write run alone) that fails with GH_ELOCKED is tried again until
 *   lock_retry_ms have passed since that commit's first try; each try waits
 *   up to the store's own lock_timeout_ms.  That suits a thread that may
 *   wait longer than the store handle's deadline allows.
 *
 * THREAD RULES
 *   Any number of threads may call gh_group_update() on one group at the same
 *   time; that is the point.  A group belongs to one store handle and one
 *   process (the fork rules of store.h apply); use one group per handle, as
 *   two groups on one handle only take turns.  Writes that do not go through
 *   the group (gh_store_update() on the same handle) are still safe, they are
 *   just not batched.  gh_group_new() and gh_group_free() must not run
 *   concurrently with any other call on the group.
 *
 * MEMORY
 *   The caller owns the group (gh_group_free()) and the store, which must
 *   outlive the group.  Each queued write lives on its caller's stack: the
 *   library allocates nothing per write.
 *
 * The library never logs: on_commit lets the caller observe every commit's
 * result, for instance to log a store failure once.
 */
#ifndef GATEHOUSE_GROUP_H
#define GATEHOUSE_GROUP_H

#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for struct gh_group_opts.flags. */
#define GH_GROUP_SPLIT_ALL 0x01u /* after any batch failure, store failures
                                    included, run each write alone */

struct gh_group_opts {
	unsigned flags;          /* GH_GROUP_* */
	int lock_retry_ms;       /* retry GH_ELOCKED for up to this long per
	                            commit; <= 0: no retry (one try) */
	/* Called, if not NULL, by the committing thread after each commit the
	 * group makes (after its lock retries) with that commit's result:
	 * GH_OK, a store error or the error of a write's fn.  It runs outside
	 * the group's lock but while other callers wait for it: keep it short,
	 * and do not call the group from it. */
	void (*on_commit)(gh_err err, void *arg);
	void *on_commit_arg;
};

/* Opaque handle. */
struct gh_group;

/*
 * gh_group_new - a group committing to store.
 *   out    receives the group, owned by the caller (gh_group_free()).
 *   store  the handle writes go to; not owned, must outlive the group.
 *   opts   options, copied; NULL for the defaults (all zero).
 * Returns GH_OK; GH_EINVAL if out or store is NULL; GH_ENOMEM, also when
 * the group's mutex or condition variable cannot be set up.
 */
gh_err gh_group_new(struct gh_group **out, struct gh_store *store,
                    const struct gh_group_opts *opts);

/* gh_group_free - free the group; NULL is ignored.  No gh_group_update() may
 * be running or start.  The store is left open. */
void gh_group_free(struct gh_group *g);

/*
 * gh_group_update - gh_store_update(store, fn, arg), committed together with
 * the writes of other threads calling at the same time.  Blocks until the
 * transaction holding this write has committed or failed.
 *   fn, arg  as for gh_store_update(): fn may be run more than once (in the
 *            batch, again alone, after the map grew), possibly by another
 *            thread, and must act only through the transaction and arg,
 *            resetting any output it fills.  It runs in the same transaction
 *            as other threads' writes, before and after it: it must not
 *            assume it sees the store as no other write left it.
 * Returns what gh_store_update() would: GH_OK once committed, fn's own error
 * (its write then not committed), or the store's error (GH_ELOCKED after the
 * retries above, GH_EFULL, GH_EREADONLY, GH_EIO, ...).  GH_EINVAL if g or fn
 * is NULL.
 */
gh_err gh_group_update(struct gh_group *g, gh_txn_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_GROUP_H */
