/*
 * gatehouse/maillog.h - the mail log: one record per message seen by
 * gatehouse-milter (the mail_log database), the definition of its keys
 * and records
 *
 * WHERE  The mail domain's store ([store] mail; the core's when it has
 * none).  gatehouse-milter writes it, in the same write transaction as its
 * rate counters and events; `gatehouse mail log|show` reads it; retention
 * deletes records by finished_at.
 *
 * KEY  mail_log[be64 id]: id from gh_txn_next_seq(txn, GH_MAILLOG_SEQ),
 *   so records are in the order they were written, and the id is the
 *   record's number in `gatehouse mail log|show` (and mail.rejected's
 *   metadata log_id).
 *
 * RECORD  JSON, version GH_MAILLOG_V (1, the only one so far):
 *   {v, id, queue_id, message_id, sender, rcpts[], suppressed[],
 *    rcpt_count, from, subject, size, direction ("outgoing"|"inbound"),
 *    why (what made it outgoing), bulk (null or why), list,
 *    signatures[{d, s, a}] (only when the message was accepted signed),
 *    unsigned (why an outgoing message was not signed, also "not accepted
 *    (tempfailed|rejected)"), unsubscribe (bool),
 *    scan ({result, detail, cached} or null),
 *    action (accepted|rejected|tempfailed|discarded|aborted), reason,
 *    client_addr, client_name, auth_user, started_at, finished_at}
 *   Times are ms since the epoch.  rcpts: the first recipients not
 *   suppressed (the milter's bound); suppressed: every recipient the
 *   opt-out removed; rcpt_count: every recipient.  docs/store.md and
 *   gatehouse-milter(8) say what the members mean.
 *
 * VERSIONS  A reader takes every version up to GH_MAILLOG_V; a record of
 * a later one (a newer milter) is GH_EVERSION, never guessed at.
 *
 * Every *_txn call runs in the caller's transaction (gh_store_update, or
 * gh_store_view for reads); JSON handed out by *_get_txn is a new
 * reference the caller releases; what a scan's fn gets is borrowed and
 * valid during the call only.  A handle's rules (store.h) are the only
 * thread rules.  Nothing here logs or blocks beyond LMDB.
 */
#ifndef GATEHOUSE_MAILLOG_H
#define GATEHOUSE_MAILLOG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_MAILLOG_V        1            /* the version written */
#define GH_MAILLOG_SEQ      "mail_log"   /* the meta counter of ids */
#define GH_MAILLOG_KEY_LEN  8

/* gh_maillog_key - the key of record id. */
void gh_maillog_key(uint64_t id, unsigned char key[GH_MAILLOG_KEY_LEN]);

/* gh_maillog_key_parse - the id of a key; GH_ECORRUPT when key is not
 * one (not 8 bytes, or id 0). */
gh_err gh_maillog_key_parse(const void *key, size_t klen, uint64_t *id);

/*
 * struct gh_maillog - a record read, whatever its version.  Strings point
 * into rec (borrowed, "" when absent), arrays are rec's (NULL when
 * absent); valid while rec is.
 */
struct gh_maillog {
	json_t *rec;              /* borrowed */
	unsigned v;
	uint64_t id;
	const char *queue_id, *message_id, *sender, *from, *subject;
	const char *action, *reason, *direction;
	const char *client_addr, *client_name, *auth_user;
	const json_t *rcpts, *suppressed, *signatures, *scan;
	int64_t size, rcpt_count, started_at, finished_at;
};

/* gh_maillog_read - fill m from rec.  GH_ECORRUPT when rec is not a mail
 * log record, GH_EVERSION when it is a later version's. */
gh_err gh_maillog_read(json_t *rec, struct gh_maillog *m);

/*
 * gh_maillog_add_txn - store rec as a new record: its id from the counter
 * (also set in rec as "id", and in *id), "v" set to GH_MAILLOG_V.  rec is
 * changed only in those two members.  Write transaction.
 */
gh_err gh_maillog_add_txn(struct gh_txn *txn, json_t *rec, uint64_t *id);

/* gh_maillog_get_txn - record id.  GH_ENOTFOUND, GH_ECORRUPT,
 * GH_EVERSION (see gh_maillog_read). */
gh_err gh_maillog_get_txn(struct gh_txn *txn, uint64_t id, json_t **out);

/*
 * gh_maillog_scan_txn - visit records from id start (0: the first, or with
 * reverse the last) in id order, or newest first with reverse.  fn returns
 * non-zero to stop.  Records that cannot be read (not JSON, a later
 * version) are not given to fn; *skipped (optional) counts them.  Records
 * must not be written from fn.
 */
typedef int (*gh_maillog_fn)(const struct gh_maillog *m, void *arg);
gh_err gh_maillog_scan_txn(struct gh_txn *txn, uint64_t start, int reverse,
                           gh_maillog_fn fn, void *arg, size_t *skipped);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_MAILLOG_H */
