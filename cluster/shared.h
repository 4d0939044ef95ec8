/*
 * cluster/shared.h - shared data of the multi-host mode: users' contacts,
 * push subscriptions, preferences and the suppression list in JetStream
 * KV buckets, with a copy in every host's local store (docs/cluster.md,
 * "Shared data").
 *
 * Buckets (PREFIX is [nats] subject_prefix; history 1, [nats] replicas):
 *   PREFIX_suppress  key B64(addr) (every list) or B64(addr).B64(list),
 *                    B64 = base64url without padding of the normalised
 *                    address or the list id (KV keys allow only
 *                    [-/_=.A-Za-z0-9]); value {"v":1, "addr", "list",
 *                    "reason", "source", "created_at", "host"}
 *   PREFIX_users     key contacts.B64(user), push.B64(user),
 *                    prefs.B64(user); values {"v":1, "user", "host",
 *                    "contacts": {...without push} | "push": [...] |
 *                    "prefs": {...}}
 * A record removed is a KV delete (a tombstone), so watchers see it.
 * "host" says which host wrote it (for the admin; nothing depends on it).
 *
 * Core -> KV: the store's replication log (gatehouse/replog.h) is read by
 * a publisher thread, which puts each record's current state and deletes
 * the entry after JetStream's ack.  KV -> store: a watcher thread per
 * bucket applies every entry with a revision above the last one applied
 * (kept in the store's meta as "kv_rev.BUCKET", written in the same
 * transaction), muted so nothing is sent back; a remote change to a
 * record that has a local change still waiting to be published is kept
 * with it and applied after that publish only if its revision is the
 * later one (last writer wins by KV revision).  While NATS is unreachable
 * the store keeps
 * what it has; after a reconnect the watch starts again from the bucket's
 * current state and skips what was applied.
 */
#ifndef GATEHOUSE_CLUSTER_SHARED_H
#define GATEHOUSE_CLUSTER_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/store.h"
#include "ghc.h"

#define GHC_KV_KEY_MAX 1024       /* an encoded key, NUL included */
#define GHC_BUCKET_SUPPRESS "suppress"
#define GHC_BUCKET_USERS "users"
#define GHC_KV_REV "kv_rev."      /* meta: + bucket name -> be64 revision */

/*
 * ghc_key_encode - the KV key of a replication log record (kind one of
 * GH_REP_*, key the replog's record key: a user id, or normalised
 * address | 0x00 | list).  GH_EINVAL for a bad kind or key, GH_ETOOBIG
 * if it does not fit cap.
 */
gh_err ghc_key_encode(unsigned kind, const void *key, size_t klen, char *out,
                      size_t cap);

/*
 * ghc_key_decode - the other way: bucket is 1 for PREFIX_suppress, 0 for
 * PREFIX_users; *kind and the record key (in rkey, rcap bytes, *rlen)
 * back.  GH_EINVAL for a key that is not one of ours.
 */
gh_err ghc_key_decode(int suppress_bucket, const char *kvkey, unsigned *kind,
                      void *rkey, size_t rcap, size_t *rlen);

/*
 * ghc_value_read_txn - the value to publish for (kind, key) as the store
 * has it now: *val a malloc'd JSON text, or NULL when the record is gone
 * (publish a delete).  host goes into the value.
 */
gh_err ghc_value_read_txn(struct gh_txn *txn, unsigned kind, const void *key,
                          size_t klen, const char *host, char **val);

/*
 * ghc_apply_txn - apply one KV entry (revision rev; val NULL: a delete)
 * to the store of this transaction, which the caller muted.
 * suppress_bucket as for ghc_key_decode.  *applied: 1 if the store
 * changed, 0 if it already had it, or the entry was refused (then why
 * says so and GH_EINVAL is returned: a bad entry is skipped, never
 * retried), or a local change of the record waits to be published: then
 * the entry is kept with it (gh_replog_defer_txn), and whichever of the
 * two has the later revision wins once the local one is published.
 */
gh_err ghc_apply_txn(struct gh_txn *txn, int suppress_bucket,
                     const char *kvkey, const void *val, size_t vlen,
                     uint64_t rev, int *applied, char *why, size_t wlen);

/* The threads. */
#define GHC_SYNC_PUBLISH  0x1u   /* replog -> buckets (core) */
#define GHC_SYNC_USERS    0x2u   /* watch PREFIX_users */
#define GHC_SYNC_SUPPRESS 0x4u   /* watch PREFIX_suppress */
#define GHC_SYNC_CREATE   0x8u   /* create the buckets if missing (core) */

/* A line for the caller's log: prio is a syslog priority. */
typedef void (*ghc_log_fn)(int prio, const char *msg, void *arg);

struct ghc_sync_stats {
	uint64_t published;      /* records put or deleted in KV */
	uint64_t applied;        /* remote entries that changed the store */
	uint64_t skipped;        /* remote entries already had or refused */
	uint64_t rev_users;      /* last revision applied, per bucket */
	uint64_t rev_suppress;
	int up;                  /* 1 while every thread has its bucket */
};

struct ghc_sync;

/*
 * ghc_sync_start - start the threads what asks for, on connection c
 * (opened for the domain, kept by the caller until ghc_sync_stop) and
 * store st.  log gets one line when a bucket becomes unreachable and one
 * when it is back, and one per refused entry.  GH_ENOMEM, GH_EIO (a
 * thread could not start).
 */
gh_err ghc_sync_start(struct ghc *c, struct gh_store *st, unsigned what,
                      ghc_log_fn log, void *log_arg, struct ghc_sync **out);

/* ghc_sync_stats - the counters above (any thread). */
void ghc_sync_stats(struct ghc_sync *s, struct ghc_sync_stats *out);

/* ghc_sync_stop - stop and join the threads, free.  NULL is ignored. */
void ghc_sync_stop(struct ghc_sync *s);

#endif
