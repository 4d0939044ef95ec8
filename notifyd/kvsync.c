/*
 * kvsync.c - the core store's shared records and the cluster's KV buckets
 * (kvsync.h).  The work is libghcluster's (cluster/shared.c); this file
 * decides when it runs and what is logged; the connection is the core's
 * one, natsin.c's too (main.c opens it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "gatehouse/replog.h"
#include "ghc.h"
#include "kvsync.h"
#include "nd.h"
#include "shared.h"

struct nd_kvsync {
	struct nd *d;
	struct ghc_sync *s;
};

struct mark_arg {
	int on;
	size_t n;
};

static gh_err
mark_txn(struct gh_txn *txn, void *arg)
{
	struct mark_arg *a = arg;

	return gh_replog_enable_txn(txn, a->on, &a->n);
}

static gh_err
pending_view(struct gh_txn *txn, void *arg)
{
	return gh_replog_count_txn(txn, arg);
}

static void
sync_log(int prio, const char *msg, void *arg)
{
	struct nd *d = arg;

	nd_log(&d->log, prio <= LOG_ERR ? ND_LOG_ERR : prio == LOG_WARNING ?
	       ND_LOG_WARN : ND_LOG_INFO, "%s", msg);
}

gh_err
nd_kvsync_start(struct nd *d, struct ghc *c, struct nd_kvsync **out,
                char *detail, size_t dlen)
{
	struct mark_arg m = {c != NULL, 0};
	struct nd_kvsync *k = NULL;
	gh_err err;

	*out = NULL;
	detail[0] = '\0';
	/* single host: nothing is recorded, and what a clustered past left
	 * is dropped, so the log never grows without a reader */
	err = gh_store_update(d->st, mark_txn, &m);
	if (err) {
		snprintf(detail, dlen, "the store's replication log: %s",
		         gh_strerror(err));
		return err;
	}
	if (!m.on) {
		if (m.n)
			nd_log(&d->log, ND_LOG_INFO, "single-host mode: %zu "
			       "unpublished shared-data changes dropped", m.n);
		return GH_OK;
	}
	if (m.n)
		nd_log(&d->log, ND_LOG_INFO, "shared data: the store joins the "
		       "cluster, %zu records to publish", m.n);
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return GH_ENOMEM;
	k->d = d;
	err = ghc_sync_start(c, d->st, GHC_SYNC_PUBLISH | GHC_SYNC_USERS |
	                     GHC_SYNC_SUPPRESS | GHC_SYNC_CREATE, sync_log, d,
	                     &k->s);
	if (err) {
		snprintf(detail, dlen, "shared data: %s", gh_strerror(err));
		nd_kvsync_stop(k);
		return err;
	}
	*out = k;
	return GH_OK;
}

void
nd_kvsync_stop(struct nd_kvsync *k)
{
	if (k == NULL)
		return;
	ghc_sync_stop(k->s);
	free(k);
}

char *
nd_kvsync_metrics(struct nd_kvsync *k)
{
	struct ghc_sync_stats s;
	size_t pending = 0;
	char *out = NULL;

	ghc_sync_stats(k->s, &s);
	(void)gh_store_view(k->d->st, pending_view, &pending);
	if (asprintf(&out,
	    "# HELP gatehouse_shared_up 1 while the shared-data buckets are "
	    "reachable\n# TYPE gatehouse_shared_up gauge\n"
	    "gatehouse_shared_up %d\n"
	    "# HELP gatehouse_shared_pending Local changes not yet in the "
	    "cluster's buckets\n# TYPE gatehouse_shared_pending gauge\n"
	    "gatehouse_shared_pending %zu\n"
	    "# HELP gatehouse_shared_published_total Records put or deleted "
	    "in the buckets\n# TYPE gatehouse_shared_published_total counter\n"
	    "gatehouse_shared_published_total %llu\n"
	    "# HELP gatehouse_shared_applied_total Other hosts' changes "
	    "applied to this store\n"
	    "# TYPE gatehouse_shared_applied_total counter\n"
	    "gatehouse_shared_applied_total %llu\n"
	    "# HELP gatehouse_shared_skipped_total Bucket entries already "
	    "here, overtaken by a local change, or refused\n"
	    "# TYPE gatehouse_shared_skipped_total counter\n"
	    "gatehouse_shared_skipped_total %llu\n"
	    "# HELP gatehouse_shared_revision Last bucket revision applied\n"
	    "# TYPE gatehouse_shared_revision gauge\n"
	    "gatehouse_shared_revision{bucket=\"users\"} %llu\n"
	    "gatehouse_shared_revision{bucket=\"suppress\"} %llu\n",
	    s.up, pending, (unsigned long long)s.published,
	    (unsigned long long)s.applied, (unsigned long long)s.skipped,
	    (unsigned long long)s.rev_users,
	    (unsigned long long)s.rev_suppress) < 0)
		return NULL;
	return out;
}
