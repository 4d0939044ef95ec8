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

/*
 * nd_kvsync_start - mark the core store clustered (its replication log
 * on, gatehouse/replog.h) and start the publishing and watching threads
 * on a connection of the core's own; without [nats] servers, unmark it
 * and empty the log instead (GH_OK, *out NULL).  After the store is open
 * and the last change of uid.
 */
gh_err nd_kvsync_start(struct nd *d, struct nd_kvsync **out, char *detail,
                       size_t dlen);

/* nd_kvsync_stop - stop the threads, close the connection; NULL ignored. */
void nd_kvsync_stop(struct nd_kvsync *k);

/* nd_kvsync_metrics - the gatehouse_shared_* lines of /metrics (malloc'd;
 * NULL if no memory). */
char *nd_kvsync_metrics(struct nd_kvsync *k);

#endif
