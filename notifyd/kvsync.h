/*
 * kvsync.h - gatehouse-notifyd's part of the shared data (kvsync.c,
 * cluster/shared.h, docs/cluster.md "Shared data"): with [nats] servers
 * set, the core store's contacts, push subscriptions, preferences and
 * suppression list are published to the PREFIX_users and PREFIX_suppress
 * KV buckets, and every other instance's changes applied here.
 */
#ifndef GH_NOTIFYD_KVSYNC_H
#define GH_NOTIFYD_KVSYNC_H

#include <stddef.h>

#include "gatehouse/err.h"

struct nd;
struct nd_kvsync;
struct ghc;

/*
 * nd_kvsync_start - with c, the core's connection (ghc_open'ed by the
 * caller, shared with natsin.c and kept open until after
 * nd_kvsync_stop): mark the core store clustered (its replication log
 * on, gatehouse/replog.h) and start the publishing and watching threads
 * on c; with c NULL (no [nats] servers), unmark it and empty the log
 * instead (GH_OK, *out NULL).  After the store is open and the last
 * change of uid.
 */
gh_err nd_kvsync_start(struct nd *d, struct ghc *c, struct nd_kvsync **out,
                       char *detail, size_t dlen);

/* nd_kvsync_stop - stop the threads, free; NULL ignored.  Before the
 * connection is closed. */
void nd_kvsync_stop(struct nd_kvsync *k);

/* nd_kvsync_metrics - the gatehouse_shared_* lines of /metrics (malloc'd;
 * NULL if no memory). */
char *nd_kvsync_metrics(struct nd_kvsync *k);

#endif
