/*
 * gatehouse/bridge.h - the wire between a producer domain's
 * gatehouse-bridge(8) and gatehouse-notifyd (docs/security.md, "Data
 * crosses domains as validated records").
 *
 * A SOCK_SEQPACKET unix socket ([notifyd] bridge_socket): each message is
 * one compact JSON object in one packet of at most GH_BRIDGE_MSG_MAX bytes,
 * so there is no framing to get wrong.  notifyd takes the peer's uid from
 * the kernel (SO_PEERCRED) and accepts a hello for domain D only from the
 * owner of D's store, or root.
 *
 *   bridge -> core                       core -> bridge
 *   {"t":"hello","v":1,"domain":D}       {"t":"welcome"} | {"t":"refused","why":W}
 *   {"t":"ev","id":N,"at":MS,"ev":E}     {"t":"ack","id":N} | {"t":"reject","id":N,"why":W}
 *   {"t":"sup","addr":A,"list":L}        {"t":"sup-ack","addr":A,"list":L}    (web only)
 *                                        {"t":"snap-begin","gen":G}          (mail only:
 *                                        {"t":"snap","e":[[A,L],...]}         the core's
 *                                        {"t":"snap-end","gen":G}             suppression list)
 *   (web: hello has "inbox":S,           {"t":"inbox","seq":S,"user":U,"id":I,"item":ITEM|null}
 *    the last feed entry its copy has)   {"t":"prefs","seq":S,"user":U,"prefs":P|null}
 *                                        (the core's inbox feed, users.h; seq 0: part
 *                                        of a whole copy, docs/security.md "The web face")
 *
 * "ev" carries an outbox event's producer fields (no id, created_at, v or
 * q); N and MS are its id and created_at in the domain's store, which with
 * the domain name make the core's idempotence key: an event sent again
 * after a crash is acknowledged without being queued twice.  A rejected
 * event is dead-lettered in the domain's outbox with the reason.  "sup"
 * is an unsubscribe recorded by the web domain; the core adds it to its
 * suppression list and the bridge then deletes it.  A snapshot replaces
 * the mail store's suppression list whenever the core's changes.
 */
#ifndef GATEHOUSE_BRIDGE_H
#define GATEHOUSE_BRIDGE_H

#include <stddef.h>
#include <jansson.h>

#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_BRIDGE_VERSION 1
/* An event is at most 64 KiB (queue.h); the envelope adds little. */
#define GH_BRIDGE_MSG_MAX (80u * 1024u)
/* Suppression entries per "snap": 128 of at most ~460 bytes fit. */
#define GH_BRIDGE_SNAP_CHUNK 128

/*
 * gh_bridge_send - send msg as one packet.  The descriptor's blocking mode
 * and SO_SNDTIMEO decide how long it may wait.  GH_ETOOBIG past
 * GH_BRIDGE_MSG_MAX; GH_EIO when the peer is gone or the send timed out
 * (errno tells); GH_ENOMEM.
 */
gh_err gh_bridge_send(int fd, const json_t *msg);

/*
 * gh_bridge_recv - receive one packet into *msg (a new reference) using
 * buf (cap bytes, at least GH_BRIDGE_MSG_MAX + 1) as scratch, never
 * waiting (poll first).  GH_OK; GH_ENOTFOUND when nothing is waiting;
 * GH_EIO when the peer closed or on an error; GH_EINVAL for a packet that
 * is too long or not a JSON object with a string "t" (the peer is then to
 * be dropped).  *nbytes (optional) receives the packet's size.
 */
gh_err gh_bridge_recv(int fd, char *buf, size_t cap, json_t **msg,
                      size_t *nbytes);

/* gh_bridge_type - msg's "t", or "" */
const char *gh_bridge_type(const json_t *msg);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_BRIDGE_H */
