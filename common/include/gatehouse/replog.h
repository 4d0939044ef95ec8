/*
 * gatehouse/replog.h - the core store's replication log: which shared
 * records (contacts, push subscriptions, preferences, the suppression
 * list) changed here and are not yet in the cluster's JetStream KV
 * buckets (docs/cluster.md, "Shared data"; docs/store.md, replog).
 *
 * The write functions of users.h and records.h note every change in the
 * same transaction as the change itself, so a change committed by any
 * process (notifyd, the gatehouse CLI, a bounce) reaches the cluster even
 * if that process dies right after the commit: gatehouse-notifyd's sync
 * thread publishes the record's state as it is when it gets there, and
 * deletes the entry once JetStream acknowledged it.
 *
 * Only a store marked clustered records anything (meta "replog_on",
 * set by notifyd when [nats] servers is set, cleared -- and the log
 * emptied -- when it starts without): a single-host store never grows a
 * log.  Changes that come FROM the cluster are applied in a transaction
 * marked with gh_txn_replog_mute(), so they are not sent back (no echo).
 *
 * REPLOG  replog[kind (1 byte) | record key] = be64 sequence (meta counter
 * "replog_seq") [| be64 revision | op (1 byte) | value]: one entry per
 * record, however often it changed: the sync sends the record's current
 * state.  The optional tail is a change from the cluster that arrived
 * while the entry waited (gh_replog_defer_txn): applied if it turns out
 * newer than the local change's publish, dropped if not.  Record keys: the user id
 * (GH_REP_CONTACTS, GH_REP_PUSH, GH_REP_PREFS) or the suppression key,
 * normalised address | 0x00 | list (GH_REP_SUPPRESS).
 */
#ifndef GATEHOUSE_REPLOG_H
#define GATEHOUSE_REPLOG_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_REPLOG_ON "replog_on"     /* meta: present = store is clustered */
#define GH_REPLOG_SEQ "replog_seq"   /* meta counter of entries */
#define GH_REPLOG_KEY_MAX 480        /* kind + record key, bytes */

/* What changed: the part of a user's records, or a suppression entry. */
#define GH_REP_CONTACTS 'c'   /* contacts without push */
#define GH_REP_PUSH     'p'   /* contacts' push subscriptions */
#define GH_REP_PREFS    'f'   /* preferences */
#define GH_REP_SUPPRESS 's'   /* one suppression entry */

/* gh_replog_enabled_txn - *on = 1 if the store is marked clustered. */
gh_err gh_replog_enabled_txn(struct gh_txn *txn, int *on);

/*
 * gh_replog_enable_txn - mark the store clustered (on) or not.  Going
 * from unmarked to marked notes every contacts, preferences and
 * suppression record already there, so a host's data reaches the cluster
 * when it joins; unmarking empties the log.  *n (optional): entries
 * added or dropped.  Marking a marked store changes nothing.
 */
gh_err gh_replog_enable_txn(struct gh_txn *txn, int on, size_t *n);

/*
 * gh_txn_replog_mute - the changes of this transaction come from the
 * cluster: gh_replog_note_txn records nothing in it.  Call it inside the
 * gh_store_update callback (every run of it).
 */
void gh_txn_replog_mute(struct gh_txn *txn);
int gh_txn_replog_muted(struct gh_txn *txn);

/*
 * gh_replog_note_txn - record that kind's record key changed, unless the
 * store is not clustered or the transaction is muted.  GH_ETOOBIG past
 * GH_REPLOG_KEY_MAX.
 */
gh_err gh_replog_note_txn(struct gh_txn *txn, unsigned kind, const void *key,
                          size_t klen);

/* gh_replog_pending_txn - GH_OK and *seq when that record has an entry,
 * GH_ENOTFOUND when not. */
gh_err gh_replog_pending_txn(struct gh_txn *txn, unsigned kind,
                             const void *key, size_t klen, uint64_t *seq);

/* gh_replog_scan_txn - visit entries in key order from the first; fn
 * returns non-zero to stop.  Records must not be written from fn. */
typedef int (*gh_replog_fn)(unsigned kind, const void *key, size_t klen,
                            uint64_t seq, void *arg);
gh_err gh_replog_scan_txn(struct gh_txn *txn, gh_replog_fn fn, void *arg);

/* gh_replog_done_txn - delete the entry if it still has seq (a change
 * made after it was read keeps it, to be sent again).  GH_ENOTFOUND when
 * the entry is gone or newer. */
gh_err gh_replog_done_txn(struct gh_txn *txn, unsigned kind, const void *key,
                          size_t klen, uint64_t seq);

/*
 * gh_replog_defer_txn - a change from the cluster (bucket revision rev;
 * op GH_REP_PUT with the entry's value, or GH_REP_DEL) came for a record
 * whose entry waits: keep it with the entry (the latest one only), for
 * whoever publishes the entry to compare with the revision its publish
 * gets.  GH_ENOTFOUND when the record has no entry, GH_ETOOBIG past
 * GH_RECORD_MAX.
 */
#define GH_REP_PUT 1
#define GH_REP_DEL 2
gh_err gh_replog_defer_txn(struct gh_txn *txn, unsigned kind, const void *key,
                           size_t klen, uint64_t rev, unsigned op,
                           const void *val, size_t vlen);

/* One entry as stored; val points into the map (valid until the
 * transaction writes or ends).  rev 0: nothing deferred. */
struct gh_replog_entry {
	uint64_t seq;
	uint64_t rev;
	unsigned op;
	const void *val;
	size_t vlen;
};
gh_err gh_replog_get_txn(struct gh_txn *txn, unsigned kind, const void *key,
                         size_t klen, struct gh_replog_entry *out);

/* gh_replog_count_txn - entries waiting. */
gh_err gh_replog_count_txn(struct gh_txn *txn, size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_REPLOG_H */
