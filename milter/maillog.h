/*
 * maillog.h - one record per message in the store's mail_log, written in
 * the same short write transaction as the rate-limit counters and the
 * events for notifyd
 *
 * RECORD: the mail log's, gatehouse/maillog.h (keys, members, versions);
 *   written with gh_maillog_add_txn.  Strings are bounded (msg.h); rcpts
 *   holds the first GH_MSG_MAX_RCPTS recipients not suppressed.
 *
 * EVENTS (queue.h), enqueued in the same transaction:
 *   mail.rate_limited  once per limit and window (dedup_key
 *                      "milter:rate:SCOPE:SUBJECT:WINDOW-START", dedup
 *                      window = the rate window), for "admins" (recipients;
 *                      no user): the routes that take it, else notifyd's
 *                      admin_addresses; metadata sender, auth_user
 *   mail.rejected      each refused message (virus, rate limit with
 *                      action = reject), for its user: the SMTP AUTH
 *                      login, else the envelope sender of outgoing mail,
 *                      else the first recipient of inbound mail, else
 *                      "postmaster".
 */
#ifndef GH_MILTER_MAILLOG_H
#define GH_MILTER_MAILLOG_H

#include <stdint.h>
#include <jansson.h>

#include "gatehouse/store.h"
#include "limits.h"
#include "msg.h"

struct gm_logtxn {
	/* in */
	const struct gm_mcfg *cfg;
	const struct gm_conn *conn;
	const struct gm_msg *msg;
	gm_action action;		/* decided before the transaction */
	const char *reason;		/* "" or why */
	int apply_limits;		/* outgoing and accepted so far */
	int write_record;		/* [milter] mail_log */
	int64_t now;
	json_t *rec;			/* from gm_maillog_record() */
	/* out (reset by each run of the transaction) */
	gm_action final_action;
	char final_reason[256];
	int limited;
	struct gm_limit_hit hit;
	uint64_t seq;
};

/* gm_maillog_record - the record without action, reason and id (the
 * transaction fills those in).  NULL on ENOMEM. */
json_t *gm_maillog_record(const struct gm_conn *conn,
    const struct gm_msg *msg, int64_t now);

/* gm_maillog_txn - a gh_txn_fn taking a struct gm_logtxn: apply the
 * limits, write the record, enqueue events.  Safe to run again (store.h). */
gh_err gm_maillog_txn(struct gh_txn *txn, void *arg);

#endif /* GH_MILTER_MAILLOG_H */
