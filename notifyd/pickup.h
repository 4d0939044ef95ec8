/*
 * pickup.h - the core's end of the producer domains' bridges (pickup.c):
 * a thread that accepts gatehouse-bridge(8) connections on [notifyd]
 * bridge_socket and commits what they carry into the core store.
 */
#ifndef GH_NOTIFYD_PICKUP_H
#define GH_NOTIFYD_PICKUP_H

#include <stddef.h>

#include <stdint.h>

#include <jansson.h>

#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"

struct nd;
struct nd_pickup;

/*
 * nd_pickup_start - listen and start the thread, once the store is open
 * (d->st) and the configuration loaded.  When no domain has a store of its
 * own ([store] mail, web, login all empty) there is nothing to pick up:
 * GH_OK with *out NULL.  Errors (the socket cannot be made) say why in
 * detail.
 */
gh_err nd_pickup_start(struct nd *d, struct nd_pickup **out, char *detail,
                       size_t dlen);

/* nd_pickup_stop - stop the thread, close every bridge, remove the socket.
 * NULL is ignored.  Before the store is closed. */
void nd_pickup_stop(struct nd_pickup *p);

#endif
