/*
 * sharedata.h - gatehouse-bridge's part of the shared data in the multi-host
 * mode (sharedata.c; docs/cluster.md "Shared data"):
 *
 *   mail  a thread watches the PREFIX_suppress bucket and applies every
 *         add and remove to the mail store, where gatehouse-milter reads
 *         the list: an unsubscribe taken on any host reaches every MTA.
 *         With NATS unreachable the store keeps the last list it had.
 *   web   the one-click unsubscribes the nginx module took into the web
 *         store's suppression list become web.unsubscribe requests in
 *         its outbox, which forward.c carries to the core like any event
 *         (over the socket, the bridge sends them as "sup" messages).
 */
#ifndef GH_BRIDGE_SHAREDATA_H
#define GH_BRIDGE_SHAREDATA_H

#include <stddef.h>

#include "gatehouse/domain.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"

struct bs;
struct ghc;

/* bs_open - for the mail domain, start the watcher on c, the bridge's
 * connection (opened with the mail domain's credentials, shared with
 * forward.c, kept open until after bs_close); for the others, or with c
 * NULL (single-host mode), nothing to start (GH_OK, *out NULL is not an
 * error: bs_turn and bs_close take NULL). */
gh_err bs_open(struct ghc *c, enum gh_domain dom, struct gh_store *st,
               int journal, struct bs **out, char *detail, size_t dlen);

/* bs_turn - web: turn up to a batch of the web store's unsubscribes into
 * outbox requests.  Returns how many (-1 on a store error). */
int bs_turn(enum gh_domain dom, struct gh_store *st);

/* bs_close - stop the watcher (it uses the connection: before ghc_close)
 * and free. */
void bs_close(struct bs *s);

#endif
