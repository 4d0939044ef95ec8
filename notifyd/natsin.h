/*
 * natsin.h - gatehouse-notifyd's part of the delivery fleet (natsin.c):
 * with [nats] servers set, a thread that takes the hosts' events from
 * NATS JetStream's durable consumer "notifyd", which every instance of
 * the fleet shares, and commits them into this instance's store through
 * the bridges' own path (pickup.h, nd_intake_commit).
 */
#ifndef GH_NOTIFYD_NATSIN_H
#define GH_NOTIFYD_NATSIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gatehouse/err.h"

struct nd;
struct nd_natsin;
struct ghc;

/*
 * nd_natsin_start - when [nats] servers is set (c, the core's connection,
 * ghc_open'ed by the caller, shared with kvsync.c and kept open until
 * after nd_natsin_stop): start the thread (which makes or updates the
 * stream, the dead-letter stream, the PREFIX_hosts bucket and the
 * consumer once the cluster answers, and keeps trying until it does).
 * GH_OK with *out NULL in single-host mode (c NULL).  After the store is
 * open.
 */
gh_err nd_natsin_start(struct nd *d, struct ghc *c, struct nd_natsin **out,
                       char *detail, size_t dlen);

/* nd_natsin_stop - stop the thread, free.  NULL is ignored.  Before the
 * store and the connection are closed. */
void nd_natsin_stop(struct nd_natsin *n);

/*
 * nd_natsin_metrics - the gatehouse_cluster_* lines of /metrics
 * (malloc'd, NUL ended; NULL if none or no memory): this instance's
 * counts, the consumer's and stream's figures and every host's
 * heartbeat, as last read (every 5 s) by the thread.
 */
char *nd_natsin_metrics(struct nd_natsin *n);

/*
 * nd_natsin_dead - publish a copy of what the dispatcher gave up on (a
 * delivery whose attempts ran out) to PREFIX.dead.core.HOST, HOST being
 * this instance's [nats] host; never waits (a buffered publish: lost if
 * the connection is down, the record in the store stays).  NULL n is
 * ignored.
 */
void nd_natsin_dead(struct nd_natsin *n, const json_t *what);

#endif
