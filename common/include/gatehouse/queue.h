/*
 * gatehouse/queue.h - the event queue: what producers write and notifyd reads
 *
 * An event is a JSON object following the contract of docs/events.md:
 *
 *   type        required; [a-z0-9_.-], at most 64 bytes ("login.new_host")
 *   title       required string
 *   user        opaque user id string (may be absent when recipients are given)
 *   category    security | system | social | marketing | any [a-z0-9_-];
 *               default from the type (login.* and upload.infected: security,
 *               otherwise system)
 *   message, action_url, source (default "app"), dedup_key   strings
 *   priority    1 low, 2 normal (default), 3 high, 4 urgent
 *   metadata    object;  channels, recipients   arrays
 *   expires_at  milliseconds since the epoch; null or absent: never
 *
 * The queue adds id, created_at and a "q" object with its own state:
 *
 *   q.state       ready | leased | done | dead | expired
 *   q.due_at      when the event is next due (ms); null once it is
 *                 finished (done, dead, expired)
 *   q.attempts    failures reported through gh_queue_retry()
 *   q.leases      how many times it was leased
 *   q.lease_until visibility deadline of the current lease (ms)
 *   q.token       the current lease's token
 *   q.last_error  the last error reported, or why it expired / died
 *   q.updated_at  last state change (ms)
 *
 * SEMANTICS
 *   Ids increase monotonically and are never reused.  A lease makes events
 *   invisible until now + visibility; a consumer that dies holding a lease
 *   loses nothing: when the deadline passes, the events are due again and the
 *   next gh_queue_lease() hands them out with a new token.  Delivery is
 *   therefore at least once.  An ack or retry with a token that is no longer
 *   current fails with GH_ESTALE (another consumer has the event now).
 *   Leasing takes the most urgent priority first and, within a priority,
 *   the earliest due.  Events past expires_at are never leased: the lease
 *   that finds them marks them expired (unless the consumer asks for them
 *   with gh_queue_lease_ex, to settle them itself).
 *
 * TIME
 *   Every call takes "now" in milliseconds since the epoch, so consumers and
 *   tests can inject a clock; pass gh_now_ms() in production.
 *
 * MEMORY
 *   Events handed in are only read (the caller keeps its reference).  Events
 *   handed out (struct gh_lease.event, gh_queue_get) are new references the
 *   caller releases with json_decref() or gh_lease_release().
 */
#ifndef GATEHOUSE_QUEUE_H
#define GATEHOUSE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Priorities (docs/events.md): leasing takes the most urgent first; only
 * GH_PRIORITY_URGENT passes quiet hours and is never held for a digest;
 * GH_PRIORITY_HIGH is the most a producer domain may give (gh_domain_accept
 * lowers anything above it).
 */
enum gh_priority {
	GH_PRIORITY_LOW = 1,
	GH_PRIORITY_NORMAL = 2,   /* the default */
	GH_PRIORITY_HIGH = 3,
	GH_PRIORITY_URGENT = 4
};

/* The contract's bounds on string fields, in bytes (gh_event_validate). */
#define GH_EVENT_TYPE_MAX        64
#define GH_EVENT_TITLE_MAX       1024
#define GH_EVENT_USER_MAX        256
#define GH_EVENT_CATEGORY_MAX    32
#define GH_EVENT_MESSAGE_MAX     32768
#define GH_EVENT_ACTION_URL_MAX  2048
#define GH_EVENT_SOURCE_MAX      32
#define GH_EVENT_DEDUP_KEY_MAX   400

#define GH_QUEUE_DEDUP_WINDOW_DEFAULT (24 * 3600 * 1000LL)  /* 1 day, ms */
#define GH_QUEUE_LEASE_MAX 1024  /* most events one lease call hands out */

/* gh_now_ms - wall-clock milliseconds since the epoch. */
int64_t gh_now_ms(void);

/* gh_mono_ms - milliseconds of CLOCK_MONOTONIC: for deadlines and paces,
 * which a change of the wall clock must not stretch or cut. */
int64_t gh_mono_ms(void);

/*
 * gh_event_validate - check an event object against the contract above.
 * detail (optional) receives which field is wrong.  GH_OK or GH_EINVAL;
 * GH_ETOOBIG if the encoded event exceeds GH_RECORD_MAX / 4.
 */
gh_err gh_event_validate(const json_t *ev, char *detail, size_t detail_len);

/*
 * gh_event_default_category - the category of an event of this type that
 * names none: "security" for login.* and upload.infected, "system" for
 * every other type (docs/events.md).  The core also stamps it on events
 * from producer domains, whatever they said (gatehouse/domain.h).  Returns
 * a static string.
 */
const char *gh_event_default_category(const char *type);

/*
 * gh_queue_enqueue_txn - add one event inside the caller's write transaction
 * (so a producer can write its own record and the event atomically).
 *   dedup_window_ms  with a dedup_key in the event: an event enqueued with
 *                    the same key less than this long ago is not added again;
 *                    its id is returned and *dup set to 1.  0: the default
 *                    window.
 *   id_out, dup      may be NULL.
 * Returns GH_OK, GH_EINVAL (see gh_event_validate), GH_ETOOBIG, store errors.
 */
gh_err gh_queue_enqueue_txn(struct gh_txn *txn, const json_t *ev, int64_t now,
                            int64_t dedup_window_ms, uint64_t *id_out,
                            int *dup);

/*
 * gh_queue_dedup_get_txn, gh_queue_dedup_put_txn - the dedup database
 * (docs/store.md) for keys of the caller's own, beside events' dedup_key:
 * get gives the event id of a key whose window has not ended at now
 * (GH_ENOTFOUND otherwise); put records key -> id until the window's end.
 * notifyd's pickup keeps one per event a bridge handed over, under keys
 * starting with 0x01, which no event's dedup_key can (they carry their
 * domain's name first).  `gatehouse events purge` deletes ended windows.
 */
gh_err gh_queue_dedup_get_txn(struct gh_txn *txn, const void *key,
                              size_t klen, int64_t now, uint64_t *id);
gh_err gh_queue_dedup_put_txn(struct gh_txn *txn, const void *key,
                              size_t klen, uint64_t id, int64_t until);

/* gh_queue_enqueue - the same in a transaction of its own (one commit). */
gh_err gh_queue_enqueue(struct gh_store *st, const json_t *ev, int64_t now,
                        int64_t dedup_window_ms, uint64_t *id_out, int *dup);

/*
 * gh_queue_enqueue_batch - n events in one transaction, one commit: all or
 * none.  ids and dups are arrays of n (either may be NULL).  An invalid event
 * fails the whole batch with GH_EINVAL; *bad (optional) receives its index.
 */
gh_err gh_queue_enqueue_batch(struct gh_store *st, json_t *const *evs,
                              size_t n, int64_t now, int64_t dedup_window_ms,
                              uint64_t *ids, int *dups, size_t *bad);

struct gh_lease {
	uint64_t id;
	uint64_t token;
	json_t *event;   /* the whole record, q included; owned by the caller */
};

/*
 * gh_queue_lease - lease up to max (<= GH_QUEUE_LEASE_MAX) due events in one
 * transaction; each stays invisible for visibility_ms.  out has room for max;
 * *n receives how many were filled (0 when nothing is due).
 */
gh_err gh_queue_lease(struct gh_store *st, int64_t now, size_t max,
                      int64_t visibility_ms, struct gh_lease *out, size_t *n);

/*
 * gh_queue_lease_ex - gh_queue_lease with flags:
 *   GH_LEASE_EXPIRED  hand out events past expires_at too, leased like the
 *                     others, instead of marking them expired: for a
 *                     consumer that keeps its own records of the event
 *                     (notifyd's deliveries) and settles it with
 *                     gh_queue_expire_txn, so that those records say it
 *                     expired.  The consumer checks q.expires_at itself.
 */
#define GH_LEASE_EXPIRED 1u
gh_err gh_queue_lease_ex(struct gh_store *st, int64_t now, size_t max,
                         int64_t visibility_ms, unsigned flags,
                         struct gh_lease *out, size_t *n);

/* gh_lease_release - json_decref every out[i].event and clear them. */
void gh_lease_release(struct gh_lease *out, size_t n);

/*
 * gh_queue_ack - mark leased events done, in one transaction.  results
 * (optional, n entries) receives per-event GH_OK, GH_ESTALE or GH_ENOTFOUND;
 * the call itself fails only on store errors.  A stale or missing entry does
 * not stop the others from being acked.
 */
gh_err gh_queue_ack(struct gh_store *st, const struct gh_lease *leases,
                    size_t n, int64_t now, gh_err *results);

/*
 * gh_queue_retry - report a failed attempt: attempts + 1, last_error = error;
 * when attempts reaches max_attempts (> 0) the event is dead-lettered,
 * otherwise it is due again at due_at.  *dead (optional) tells which.
 * GH_ESTALE if the lease is no longer current.
 */
gh_err gh_queue_retry(struct gh_store *st, const struct gh_lease *lease,
                      int64_t now, int64_t due_at, const char *error,
                      int max_attempts, int *dead);

/*
 * gh_queue_extend - push a held lease's deadline to now + visibility_ms,
 * for consumers that need longer than they asked for.  GH_ESTALE if lost.
 */
gh_err gh_queue_extend(struct gh_store *st, const struct gh_lease *lease,
                       int64_t now, int64_t visibility_ms);

/*
 * gh_queue_release - give leases back unacked, due at once, without counting
 * an attempt (a consumer shutting down cleanly).  Stale entries are skipped.
 */
gh_err gh_queue_release(struct gh_store *st, const struct gh_lease *leases,
                        size_t n, int64_t now);

/*
 * gh_queue_defer - give held leases back, each ready again at its own
 * due_at[i] (now if earlier), without counting an attempt and keeping
 * last_error: for a consumer that chose not to act yet (quiet hours, a
 * rate limit, an open circuit breaker, a digest's send time).  One
 * transaction for all n.  results (optional, n entries) receives per-lease
 * GH_OK, GH_ESTALE or GH_ENOTFOUND; stale entries do not stop the others.
 */
gh_err gh_queue_defer(struct gh_store *st, const struct gh_lease *leases,
                      size_t n, int64_t now, const int64_t *due_at,
                      gh_err *results);

/*
 * gh_queue_ack_txn, gh_queue_defer_txn - the same as gh_queue_ack and
 * gh_queue_defer inside the caller's write transaction, so a consumer can
 * record what it did and settle the events in one commit (notifyd writes
 * its delivery records and acks together).  results is required here
 * (n entries): stale or missing leases are reported there and do not fail
 * the call.
 */
gh_err gh_queue_ack_txn(struct gh_txn *txn, const struct gh_lease *leases,
                        size_t n, int64_t now, gh_err *results);
gh_err gh_queue_defer_txn(struct gh_txn *txn, const struct gh_lease *leases,
                          size_t n, int64_t now, const int64_t *due_at,
                          gh_err *results);

/*
 * gh_queue_expire_txn - mark held leases expired (last_error "expired
 * before delivery") inside the caller's write transaction: a consumer
 * that found them past expires_at before it could act.  results is
 * required (n entries), as for gh_queue_ack_txn.
 */
gh_err gh_queue_expire_txn(struct gh_txn *txn, const struct gh_lease *leases,
                           size_t n, int64_t now, gh_err *results);

/*
 * gh_queue_requeue - make a done, dead or expired event ready again at now,
 * with attempts reset (the admin's `gatehouse events retry`).  A ready or
 * leased event is left as it is and GH_EEXIST returned.
 */
gh_err gh_queue_requeue(struct gh_store *st, uint64_t id, int64_t now);

/* gh_queue_get - the record of event id (a new reference), GH_ENOTFOUND. */
gh_err gh_queue_get(struct gh_store *st, uint64_t id, json_t **out);
gh_err gh_queue_get_txn(struct gh_txn *txn, uint64_t id, json_t **out);

/* Event states, as bits for filters. */
enum gh_qstate {
	GH_Q_READY = 1u << 0,
	GH_Q_LEASED = 1u << 1,
	GH_Q_DONE = 1u << 2,
	GH_Q_DEAD = 1u << 3,
	GH_Q_EXPIRED = 1u << 4,
	GH_Q_ALL = 0x1fu
};
const char *gh_qstate_name(enum gh_qstate s);
/* gh_qstate_parse - "ready" -> GH_Q_READY; 0 if unknown. */
unsigned gh_qstate_parse(const char *name);

/*
 * gh_queue_list - visit events whose state is in states, newest first when
 * reverse, starting after id after (0: from the end).  fn gets a borrowed
 * record; return 0 to go on, non-zero to stop.  At most limit (0: no limit).
 */
typedef int (*gh_event_fn)(const json_t *ev, void *arg);
gh_err gh_queue_list(struct gh_store *st, unsigned states, uint64_t after,
                     int reverse, size_t limit, gh_event_fn fn, void *arg);

/*
 * gh_queue_purge - delete events in states (done, dead, expired only: ready
 * and leased are never purged) last updated before older_than, and dedup
 * entries whose window has ended.  Works in batches of short transactions.
 * *n (optional) receives how many events were deleted.
 */
gh_err gh_queue_purge(struct gh_store *st, unsigned states, int64_t older_than,
                      int64_t now, size_t *n);

struct gh_queue_stats {
	size_t count[5];       /* by state: ready, leased, done, dead, expired */
	size_t due;            /* ready or lease-expired and due now */
	int64_t oldest_due_ms; /* now - earliest due_at among due events; 0 */
};
gh_err gh_queue_stats(struct gh_store *st, int64_t now,
                      struct gh_queue_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_QUEUE_H */
