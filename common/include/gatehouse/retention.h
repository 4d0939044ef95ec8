/*
 * gatehouse/retention.h - how long a store keeps what, and the purge that
 * applies it ([retention] in gatehouse.conf; docs/store.md, "Retention").
 *
 * THE RULES (struct gh_retention: an age in ms per kind of record; 0 keeps
 * that kind for ever).  A record goes when the time its rule goes by is
 * older than now - age; a record exactly at that cutoff stays.
 *   mail_log      mail log records, by finished_at
 *   uploads       upload records of files not kept (rejected, or left
 *                 receiving or scanning), by created_at
 *   uploads_kept  records of stored and quarantined files, by created_at
 *                 (the files are not ours to delete, and a download link
 *                 needs the record: default 0)
 *   events        finished events (done, dead, expired), by the last
 *                 change of their queue state (when they finished), with
 *                 their delivery records; ready and leased events never go
 *   deliveries    the delivery records of a finished event, by the same
 *                 time, while the event itself is kept longer
 *   inbox_read    inbox items read, by read_at
 *   inbox_unread  inbox items not read, by created_at; one waiting for a
 *                 digest (digest true, digested_at null) stays at least
 *                 GH_RETENTION_DIGEST_MIN_MS, the longest a digest waits
 *   known_hosts   (user, network) pairs of pam_gatehouse, by last_seen;
 *                 a network forgotten alerts as new on its next login
 *   scan_cache    the scanners' cached verdicts (scanner/gscache.h), by
 *                 the time of the scan
 * and, whatever the rules, dedup entries whose window has ended, and
 * the milter's rate counters (keys "milter:...") whose window began two
 * windows ago (milter_rate_window, [ratelimit] window): they count nothing
 * then.  The other owners of rate counters (pam_gatehouse, the nginx
 * module) delete their own stale ones as they go.
 *
 * Records the purge cannot judge are left alone and counted as skipped:
 * a JSON record of a version its layout does not know (a newer writer's:
 * mail log, upload and known-host records by maillog.h, uploads.h and
 * knownhosts.h, which take upload records of version 1 and 2; the others
 * of version 1 only), one that is not a JSON object or lacks the time its
 * rule goes by, and queue states of an unknown layout version.
 *
 * OWNERSHIP.  Each store is purged by its own owner, the only uid that
 * may open it (docs/security.md): gatehouse-notifyd the core store (and
 * with it the records of every domain that has no store of its own),
 * gatehouse-bridge(8) its domain's store (the domain's records and the
 * finished events of its outbox), `gatehouse store purge` whichever store
 * it is pointed at.  The rules are the same for every store; a kind a
 * store does not hold costs nothing.
 *
 * STEPS AND LOCKS.  A purge is a walk over the store in steps.  Each
 * gh_purge_step() reads at most GH_PURGE_SCAN_MAX records in one read
 * transaction (which never waits on or holds up writers), then, unless
 * dry-running, deletes what it found in one write transaction of at most
 * `batch` deletions (an event counts with its delivery records), checking
 * each record again inside it, since a producer may have changed it in
 * between.  Between two steps the write lock is free; a caller that steps
 * in a loop leaves GH_PURGE_PAUSE_MS between writing steps, so that a
 * writer polling for the lock (the milter, a login) gets it.  The walk
 * remembers where it is by key, so records written meanwhile are simply
 * met or not.  Databases whose records are written in time order
 * (mail_log, uploads, and each user's inbox items) are walked only up to
 * the first record younger than its cutoff by GH_RETENTION_SLACK_MS, so a
 * pass costs what it deletes rather than the size of the store; the others
 * (queue states, known hosts, the milter's rate counters, dedup, the scan
 * cache) are read whole, a step at a time.
 *
 * THREADS.  A struct gh_purge belongs to one caller and is used by one
 * thread at a time; any number of purges and other processes may work on
 * the same store at once (each deletion is checked in its own write
 * transaction).  Nothing here logs, sleeps (but gh_purge_run) or touches
 * the network.
 *
 * TIME.  "now" is a parameter, fixed for a whole purge, so that tests and
 * notifyd's test build can inject a clock; pass gh_now_ms() otherwise.
 */
#ifndef GATEHOUSE_RETENTION_H
#define GATEHOUSE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/conf.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_PURGE_BATCH 500          /* deletions per write transaction */
#define GH_PURGE_SCAN_MAX 5000      /* records read per step, at most */
#define GH_PURGE_PAUSE_MS 10        /* between two steps that wrote */
#define GH_RETENTION_SLACK_MS (24 * 3600 * 1000LL)     /* see STEPS */
#define GH_RETENTION_DIGEST_MIN_MS (8 * 24 * 3600 * 1000LL)

struct gh_retention {
	int64_t mail_log, uploads, uploads_kept, events, deliveries,
	    inbox_read, inbox_unread, known_hosts;    /* ms; 0: for ever */
	int64_t milter_rate_window;   /* [ratelimit] window; 0: leave them */
	int64_t scan_cache;           /* verdicts of the scan cache, by
	                                 scanned_at */
};

/* gh_retention_from_conf - the rules of [retention], and [ratelimit]
 * window. */
void gh_retention_from_conf(const struct gh_conf *conf,
                            struct gh_retention *r);

/* What a purge did, or with GH_PURGE_DRY_RUN would do, per database
 * (enum gh_db; an event's queue state is counted with the event). */
struct gh_purge_stats {
	size_t gone[GH_DB_COUNT_];        /* deleted, or would be */
	size_t skipped[GH_DB_COUNT_];     /* left alone: see above */
	int64_t oldest_kept[GH_DB_COUNT_]; /* the earliest time (the one its
	                                     rule goes by) among records met
	                                     and kept; 0: none met */
	size_t steps, commits;            /* steps taken, write transactions
	                                     committed */
};

#define GH_PURGE_DRY_RUN 0x1u       /* count, delete nothing */

struct gh_purge;

/*
 * gh_purge_new - start a purge by the rules r (copied) at time now.
 * batch: deletions per write transaction, 0 for GH_PURGE_BATCH.  The
 * purge is not tied to a store handle: each step takes one.  GH_OK,
 * GH_EINVAL, GH_ENOMEM.
 */
gh_err gh_purge_new(struct gh_purge **out, const struct gh_retention *r,
                    int64_t now, unsigned flags, size_t batch);

/*
 * gh_purge_step - one step on st (see STEPS).  *done is set to 1 when the
 * walk is over, *wrote (optional) to 1 when the step committed deletions.
 * On an error (GH_ELOCKED, GH_EFULL, GH_EIO, ...) nothing of the step
 * was deleted; calling again goes on, trying a failed write again first
 * (GH_ELOCKED: the lock was busy past the handle's deadline).
 */
gh_err gh_purge_step(struct gh_purge *p, struct gh_store *st, int *done,
                     int *wrote);

/* gh_purge_stats - the counts so far. */
const struct gh_purge_stats *gh_purge_stats(const struct gh_purge *p);

/* gh_purge_free - NULL is ignored. */
void gh_purge_free(struct gh_purge *p);

/*
 * gh_purge_run - a whole purge in the calling thread, pausing
 * GH_PURGE_PAUSE_MS after each step that wrote (for `gatehouse store
 * purge`; daemons step from their event loop).  stats (optional) receives
 * the counts, also on failure.
 */
gh_err gh_purge_run(struct gh_store *st, const struct gh_retention *r,
                    int64_t now, unsigned flags, struct gh_purge_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_RETENTION_H */
