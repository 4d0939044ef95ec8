/*
 * queue_int.h - what the queue's files (queue.c, queue_check.c, qstate.c,
 * queue_admin.c) share and is not part of the public API: the queue-state
 * record, the due-index entries and the event check.
 *
 * docs/store.md has the byte layout of both records.
 */
#ifndef GATEHOUSE_QUEUE_INT_H
#define GATEHOUSE_QUEUE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "gatehouse/queue.h"

/* queue[band | be64 due | be64 id] */
#define QKEY_LEN 17
/* The stored event, added members included, is at most this long. */
#define EVENT_MAX (GH_RECORD_MAX / 4)
/* q.last_error is cut to this many bytes. */
#define QS_ERR_MAX 1024

/* A decoded qstate record. */
struct qstate {
	unsigned state;          /* one GH_Q_* bit */
	int priority;
	uint32_t attempts, leases;
	int64_t due_at, lease_until, updated_at, expires_at;
	uint64_t token;
	char error[QS_ERR_MAX + 1];
};

/*
 * gh_event_check - gh_event_validate() without the size check: the fields,
 * their types and bounds.  detail (optional) names the wrong field.  GH_OK
 * or GH_EINVAL.
 */
gh_err gh_event_check(const json_t *ev, char *detail, size_t dlen);

/*
 * gh_qs_decode - decode a qstate value of len bytes into *q.  GH_OK, or
 * GH_ECORRUPT for a record of the wrong size or version.
 */
gh_err gh_qs_decode(const unsigned char *b, size_t len, struct qstate *q);

/*
 * gh_qs_get - read event id's state.  An event never leased has none:
 * then *found is 0 and *q untouched, and the caller fills it from what it
 * knows (gh_qs_initial(), or the index entry).  GH_OK, GH_ECORRUPT or a
 * store error.
 */
gh_err gh_qs_get(struct gh_txn *txn, uint64_t id, struct qstate *q,
                 int *found);

/* gh_qs_put - write event id's state. */
gh_err gh_qs_put(struct gh_txn *txn, uint64_t id, const struct qstate *q);

/*
 * gh_qs_set_error - set q->error from err (NULL: clear it), cut to
 * QS_ERR_MAX bytes on a UTF-8 character boundary.
 */
void gh_qs_set_error(struct qstate *q, const char *err);

/*
 * gh_qs_initial - the state of an event never leased, from its stored
 * record: ready since created_at.
 */
void gh_qs_initial(struct qstate *q, const json_t *ev);

/*
 * gh_qs_json - the "q" object consumers and `gatehouse events show` see.
 * A new reference, or NULL when out of memory.
 */
json_t *gh_qs_json(const struct qstate *q);

/*
 * gh_qindex_put, gh_qindex_del - add or remove event id's due-index entry
 * at q->priority and q->due_at; its value is q->expires_at.  Removing an
 * entry that is not there is not an error.
 */
gh_err gh_qindex_put(struct gh_txn *txn, const struct qstate *q, uint64_t id);
gh_err gh_qindex_del(struct gh_txn *txn, const struct qstate *q, uint64_t id);

/*
 * gh_queue_purge_event_txn - delete event id for good: its record, its
 * queue state and its delivery records (*ndeliv, optional, receives how
 * many), and, when it is the newest event, record its id as id_floor so
 * that no later event gets it again.  The caller has checked that it is
 * finished (done, dead or expired: such events have no due-index entry).
 * Used by gh_queue_purge() and the retention purge (retention.c).
 */
gh_err gh_queue_purge_event_txn(struct gh_txn *txn, uint64_t id,
                                size_t *ndeliv);

#endif
