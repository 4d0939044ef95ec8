/*
 * forward.h - gatehouse-bridge's multi-host mode (forward.c): with [nats]
 * servers set, the domain's outbox events go to NATS JetStream instead of
 * over [notifyd] bridge_socket (docs/cluster.md).
 */
#ifndef GH_BRIDGE_FORWARD_H
#define GH_BRIDGE_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gatehouse/domain.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"

struct bf;
struct ghc;

/*
 * br_event_msg - the bridge protocol's message for one leased outbox
 * record ({"t":"ev","id":..,"at":..,"ev":{the producer's fields}}): what
 * goes to notifyd over the socket and, as a message's body, to JetStream,
 * so the core checks both with one validator.  A new reference, or NULL.
 */
json_t *br_event_msg(uint64_t id, const json_t *rec);

/*
 * bf_open - forward domain dom's outbox on c, the bridge's connection
 * (ghc_open for dom; the caller's, shared with sharedata.c, kept open
 * until after bf_close).  journal: stderr is the journal (priority
 * prefixes).  The reason for a failure in detail.
 */
gh_err bf_open(struct ghc *c, enum gh_domain dom, int journal,
               struct bf **out, char *detail, size_t dlen);

/*
 * bf_turn - one round: lease up to a batch of outbox events, publish them
 * together to PREFIX.events.DOMAIN.HOST with Nats-Msg-Id HOST:DOMAIN:ID and
 * wait for JetStream's acks, ack in the outbox those it took, give the rest
 * back; and the heartbeat when one is due.  Returns how many were
 * forwarded; -1 if the cluster took none of them, or did not answer for
 * some (the caller waits a second: the outbox is the spool).
 */
int bf_turn(struct bf *f, struct gh_store *st);

/* bf_close - free f; NULL is ignored.  After ghc_close of its
 * connection: f is the closure of the client's PubAck handler, and the
 * closed connection runs no handler any more. */
void bf_close(struct bf *f);

#endif
