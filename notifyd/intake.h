/*
 * intake.h - the one path by which a producer domain's events enter the
 * core store (intake.c): from this host's bridges over [notifyd]
 * bridge_socket (pickup.c) and from other hosts' over NATS JetStream
 * (natsin.c).
 */
#ifndef GH_NOTIFYD_INTAKE_H
#define GH_NOTIFYD_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"

/* metadata.gatehouse_origin of an event from another host, at most
 * (nd_intake_commit): "HOST:DOMAIN:ID:AT" */
#define ND_ORIGIN_MAX 128

/*
 * The one path by which a producer domain's events enter the core store,
 * whether its bridge came over [notifyd] bridge_socket (this host) or its
 * events over NATS JetStream from another host (natsin.c): each message
 * (the bridge protocol's "ev" or "sup", gatehouse/bridge.h) validated and
 * stamped for domain dom (gh_domain_accept_policy; web requests through
 * webreq.h), recognised if it came before (idempotence key from host,
 * domain, event id and time), and committed together in one transaction.
 */
struct nd_intake {
	int64_t dedup_window;        /* [queue] dedup_window */
	struct gh_domain_policy policy;   /* [events_api] */
};

struct nd_intake_item {
	json_t *msg;                 /* in: the message (caller's reference) */
	json_t *ev;                  /* out: accepted, stamped event (the
	                                caller decrefs); NULL: refused */
	char why[256];               /* refused: the reason */
	int dup;                     /* out: it came before; nothing done */
	int webreq;                  /* a web request (webreq.h): applied,
	                                not queued */
};

/* nd_intake_load - [queue] and [events_api] for nd_intake_commit. */
gh_err nd_intake_load(const struct gh_conf *conf, struct nd_intake *in,
                      char *detail, size_t dlen);

/*
 * nd_intake_commit - check items[0..n) for domain dom, then commit every
 * accepted one into st in one transaction.  host: NULL for this host's
 * bridge (the idempotence keys single-host Gatehouse always used), else
 * the host the events came from, and each accepted event gets
 * metadata.gatehouse_origin "HOST:DOMAIN:ID:AT" (replacing any the
 * producer set), of which the fleet's idempotency keys are made.  An error of the store (GH_ELOCKED,
 * GH_EFULL, ...) means nothing was committed: the caller hands them back.
 */
gh_err nd_intake_commit(struct gh_store *st, const struct nd_intake *in,
                        int dom, const char *host,
                        struct nd_intake_item *items, size_t n);

#endif
