/*
 * gatehouse/deliveries.h - what gatehouse-notifyd did with each (event,
 * channel instance, recipient) (the deliveries database), the definition
 * of its keys and records
 *
 * WHERE  The core store ([store] path).  gatehouse-notifyd writes a record
 * after every attempt, in the same transaction as any local delivery, and
 * reads an event's records back when the event is leased again (only what
 * is not finished is tried again); `gatehouse deliveries list` and
 * `gatehouse events show` read them; an event's purge (retention,
 * `gatehouse events purge`) deletes its records with it.
 *
 * KEY  deliveries[be64 event id | channel | 0x00 | recipient]: an event's
 *   records are adjacent, in (channel, recipient) order.  channel is a
 *   channel instance name, or a name starting with '@' that no channel can
 *   have ("@digest": an item held for the user's digest, "@user": the
 *   user has the category off, "@event": the event named no usable
 *   channel); recipient an address, a phone number, a user id, "*" (a
 *   route's channel) or "push:" and 16 hex digits.  At most
 *   GH_DELIVERY_KEY_MAX bytes in all.
 *
 * RECORD  JSON, members in this order so that `gatehouse events show`
 *   reads well, those without a value left out:
 *   {channel, recipient, state, attempts, last_error, http_status,
 *    next_at, reason, idempotency_key, kind, user, event, updated_at,
 *    delivered_at, v}
 *   state: delivered, retry (tried again at next_at), deferred (held back
 *   until next_at without an attempt), dead, skipped (reason says why),
 *   expired, held (kept for a digest).  http_status: the HTTP status or
 *   SMTP reply code.  idempotency_key: "<event>:<channel>:<recipient>".
 *
 * VERSIONS  GH_DELIVERY_V (1, the only one so far) is written; a reader
 * takes every version up to it, and a later one is GH_EVERSION.
 *
 * Every *_txn call runs in the caller's transaction (gh_store_update, or
 * gh_store_view for reads); JSON handed out by *_get_txn is a new
 * reference the caller releases; what a scan's fn gets is borrowed and
 * valid during the call only.  A handle's rules (store.h) are the only
 * thread rules.  Nothing here logs or blocks beyond LMDB.
 */
#ifndef GATEHOUSE_DELIVERIES_H
#define GATEHOUSE_DELIVERIES_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_DELIVERY_V        1
#define GH_DELIVERY_KEY_MAX  511   /* LMDB's limit */

/*
 * gh_delivery_key - build the key of (event, channel, rcpt) into key (cap
 * bytes, GH_DELIVERY_KEY_MAX is enough) and its length into *klen.
 * GH_EINVAL for an empty channel or one holding a NUL; GH_ETOOBIG past
 * GH_DELIVERY_KEY_MAX or cap.
 */
gh_err gh_delivery_key(uint64_t event, const char *channel, const char *rcpt,
                       unsigned char *key, size_t cap, size_t *klen);

/*
 * gh_delivery_key_parse - the parts of a key: channel and rcpt copied with
 * a NUL into the buffers (ccap, rcap bytes; either may be NULL with 0).
 * GH_ECORRUPT when key is not a delivery's key, GH_ETOOBIG when a part
 * does not fit.
 */
gh_err gh_delivery_key_parse(const void *key, size_t klen, uint64_t *event,
                             char *channel, size_t ccap, char *rcpt,
                             size_t rcap);

/*
 * struct gh_delivery - a record, read or to write.  Read: strings point
 * into rec ("" when absent), except last_error, NULL when absent (an
 * error may be empty); numbers 0 when absent.  Written by
 * gh_delivery_put_txn: NULL or "" strings and 0 numbers are left out,
 * except attempts, idempotency_key, event and updated_at, always there;
 * next_at is written in the states retry and deferred only; rec is
 * ignored.
 */
struct gh_delivery {
	json_t *rec;              /* borrowed */
	unsigned v;
	uint64_t event;
	const char *channel, *recipient, *state, *last_error, *reason;
	const char *idempotency_key, *kind, *user;
	int64_t attempts, http_status, next_at, updated_at, delivered_at;
};

/* gh_delivery_read - fill d from rec.  GH_ECORRUPT when rec is not a
 * delivery record, GH_EVERSION when it is a later version's. */
gh_err gh_delivery_read(json_t *rec, struct gh_delivery *d);

/* gh_delivery_put_txn - write d's record, version GH_DELIVERY_V, under
 * (d->event, d->channel, d->recipient). */
gh_err gh_delivery_put_txn(struct gh_txn *txn, const struct gh_delivery *d);

/* gh_delivery_get_txn - the record of (event, channel, rcpt).
 * GH_ENOTFOUND, GH_ECORRUPT, GH_EVERSION, GH_ETOOBIG. */
gh_err gh_delivery_get_txn(struct gh_txn *txn, uint64_t event,
                           const char *channel, const char *rcpt,
                           json_t **out);

/*
 * gh_delivery_scan_txn - visit the records of event (0: of every event),
 * in key order, or from the last with reverse (newest events first).  fn
 * gets the record read, its event, channel and recipient taken from the
 * key, and returns non-zero to stop.  Keys that are not a delivery's and
 * records that cannot be read (not JSON, a later version) are not given
 * to fn; *skipped (optional) counts them.  Records must not be written
 * from fn.
 */
typedef int (*gh_delivery_fn)(const struct gh_delivery *d, void *arg);
gh_err gh_delivery_scan_txn(struct gh_txn *txn, uint64_t event, int reverse,
                            gh_delivery_fn fn, void *arg, size_t *skipped);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_DELIVERIES_H */
