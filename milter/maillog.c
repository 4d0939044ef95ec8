/*
 * maillog.c - the mail log record, rate limits and events of one message,
 * in one transaction (see maillog.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/event.h"
#include "gatehouse/maillog.h"
#include "gatehouse/queue.h"
#include "gatehouse/text.h"
#include "../scanner/gscache.h"
#include "maillog.h"

/*
 * A JSON string of a value the milter took in: addresses and header values
 * were escaped then (gm_envelope_addr, gm_log_value: gh_text_escape), so
 * they are valid UTF-8 already and are not escaped twice.  A record must
 * never be lost to one odd byte: should one slip through, it is escaped
 * here by the same rule.
 */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s);

	return j ? j : gh_text_json(s, GH_MSG_VALUE_MAX, 0);
}

json_t *
gm_maillog_record(const struct gm_conn *conn, const struct gm_msg *msg,
                  int64_t now)
{
	json_t *rec = json_object(), *rcpts = json_array(),
	    *supp = json_array(), *sigs = json_array();
	const char *bulk = gm_bulk_why(&msg->bulk);

	if (!rec || !rcpts || !supp || !sigs) {
		json_decref(rec);
		json_decref(rcpts);
		json_decref(supp);
		json_decref(sigs);
		return NULL;
	}
	/* rcpts: of the first GH_MSG_MAX_RCPTS; suppressed: every one (those
	 * kept past the bound are there only to be checked, msg.h) */
	for (size_t i = 0; i < msg->nrcpt; i++)
		if (msg->rcpts[i].suppressed || i < GH_MSG_MAX_RCPTS)
			json_array_append_new(msg->rcpts[i].suppressed ? supp :
			                      rcpts, jstr(msg->rcpts[i].addr));
	for (size_t i = 0; msg->signed_ok && i < msg->nsigs; i++)
		json_array_append_new(sigs, json_pack("{s:s, s:s, s:s}",
		    "d", msg->sigs[i].d, "s", msg->sigs[i].s,
		    "a", msg->sigs[i].a));
	json_object_set_new(rec, "v", json_integer(GH_MAILLOG_V));
	json_object_set_new(rec, "queue_id", json_string(msg->queue_id));
	json_object_set_new(rec, "message_id",
	                    jstr(msg->message_id));
	json_object_set_new(rec, "sender", jstr(msg->sender));
	json_object_set_new(rec, "rcpts", rcpts);
	json_object_set_new(rec, "suppressed", supp);
	json_object_set_new(rec, "rcpt_count",
	                    json_integer((json_int_t)msg->rcpt_total));
	json_object_set_new(rec, "from", jstr(msg->from));
	json_object_set_new(rec, "subject", jstr(msg->subject));
	json_object_set_new(rec, "size", json_integer((json_int_t)msg->size));
	json_object_set_new(rec, "direction",
	                    json_string(msg->outgoing ? "outgoing" : "inbound"));
	json_object_set_new(rec, "why", json_string(msg->outgoing_why ?
	                    msg->outgoing_why : "inbound"));
	json_object_set_new(rec, "bulk", bulk ? json_string(bulk) : json_null());
	json_object_set_new(rec, "list", json_string(msg->bulk.list));
	json_object_set_new(rec, "signatures", sigs);
	json_object_set_new(rec, "unsigned", msg->outgoing && !msg->signed_ok ?
	                    json_string(msg->unsigned_why ? msg->unsigned_why :
	                                "not signed") : json_null());
	json_object_set_new(rec, "unsubscribe",
	                    json_boolean(msg->unsub_added));
	json_object_set_new(rec, "scan", msg->scan ?
	                    json_pack("{s:s, s:s}", "result", msg->scan,
	                              "detail", msg->scan_detail) :
	                    json_null());
	if (msg->scan && msg->scan_cached)
		json_object_set_new(json_object_get(rec, "scan"), "cached",
		                    json_true());
	json_object_set_new(rec, "client_addr", json_string(conn->addr));
	json_object_set_new(rec, "client_name",
	                    jstr(conn->name));
	json_object_set_new(rec, "auth_user",
	                    jstr(msg->auth_user));
	json_object_set_new(rec, "started_at", json_integer(msg->started_at));
	json_object_set_new(rec, "finished_at", json_integer(now));
	return rec;
}

static const char *
event_user(const struct gm_msg *msg)
{
	if (msg->auth_user[0])
		return msg->auth_user;
	if (msg->outgoing && msg->sender[0])
		return msg->sender;
	if (!msg->outgoing && msg->nrcpt > 0 && msg->rcpts[0].addr[0])
		return msg->rcpts[0].addr;
	return "postmaster";
}

/*
 * The event's text from bytes that may not be UTF-8, repaired as jstr()
 * repairs a record's: the builder refuses such bytes, and an event must
 * never be lost to one odd byte any more than a record.
 */
static gh_err
set_text(struct gh_event *b, gh_err (*set)(struct gh_event *, const char *),
         const char *s)
{
	json_t *j = jstr(s);
	gh_err err;

	/* jstr() fails only for want of memory: so will the setter */
	err = set(b, j ? json_string_value(j) : "?");
	json_decref(j);
	return err;
}

/* Finish b and queue it in txn; b is gone either way. */
static gh_err
enqueue(struct gh_txn *txn, struct gh_event *b, int64_t now,
        int64_t window_ms, int *dup)
{
	json_t *ev;
	gh_err err = gh_event_finish(b, &ev, NULL, 0);

	if (err)
		return err;
	err = gh_queue_enqueue_txn(txn, ev, now, window_ms, NULL, dup);
	json_decref(ev);
	return err;
}

static gh_err
rate_event(struct gh_txn *txn, struct gm_logtxn *a)
{
	const struct gm_limits *l = &a->cfg->limits;
	char title[256], text[512], dedup[400];
	int64_t wstart = a->now - a->now % l->window_ms;
	struct gh_event *b = gh_event_new();
	int dup;

	snprintf(title, sizeof(title), "Mail rate limit reached for %s",
	         a->hit.subject);
	snprintf(text, sizeof(text), "%s %s reached %llu %s in %lld s (limit "
	         "%lld); further mail is %s until the rate drops.",
	         a->hit.scope, a->hit.subject, (unsigned long long)a->hit.count,
	         a->hit.what, (long long)(l->window_ms / 1000), a->hit.limit,
	         l->reject ? "rejected" : "deferred");
	snprintf(dedup, sizeof(dedup), "milter:rate:%s:%s:%" PRId64,
	         a->hit.scope, a->hit.subject, wstart);
	gh_event_set_type(b, "mail.rate_limited");
	gh_event_set_category(b, "system");
	gh_event_set_source(b, "milter");
	set_text(b, gh_event_set_title, title);
	set_text(b, gh_event_set_message, text);
	gh_event_set_priority(b, GH_PRIORITY_HIGH);
	set_text(b, gh_event_set_dedup_key, dedup);
	gh_event_meta_str(b, "scope", a->hit.scope);
	gh_event_meta_new(b, "subject", jstr(a->hit.subject));
	gh_event_meta_str(b, "counted", a->hit.what);
	gh_event_meta_int(b, "limit", a->hit.limit);
	gh_event_meta_int(b, "count", (int64_t)a->hit.count);
	gh_event_meta_int(b, "window_s", l->window_ms / 1000);
	gh_event_meta_new(b, "queue_id", jstr(a->msg->queue_id));
	gh_event_meta_str(b, "action", l->reject ? "reject" : "tempfail");
	/* A sender over its limit is the admins' concern (a compromised
	 * account sending spam), not the sender's: notifyd tells the routes
	 * that take the event or else [notifyd] admin_addresses.  Who sent
	 * is in the metadata. */
	gh_event_add_recipient(b, "admins");
	gh_event_meta_new(b, "sender", jstr(a->msg->sender));
	if (a->msg->auth_user[0])
		gh_event_meta_new(b, "auth_user", jstr(a->msg->auth_user));
	return enqueue(txn, b, a->now, l->window_ms, &dup);
}

static gh_err
reject_event(struct gh_txn *txn, struct gm_logtxn *a)
{
	char title[300];
	struct gh_event *b = gh_event_new();

	snprintf(title, sizeof(title), "Message refused: %s", a->final_reason);
	gh_event_set_type(b, "mail.rejected");
	gh_event_set_category(b, "system");
	gh_event_set_source(b, "milter");
	set_text(b, gh_event_set_title, title);
	gh_event_set_priority(b, GH_PRIORITY_HIGH);
	gh_event_meta_new(b, "queue_id", jstr(a->msg->queue_id));
	gh_event_meta_new(b, "reason", jstr(a->final_reason));
	gh_event_meta_str(b, "direction", a->msg->outgoing ? "outgoing" :
	                  "inbound");
	gh_event_meta_int(b, "log_id", (int64_t)a->seq);
	gh_event_meta_new(b, "scan", jstr(a->msg->scan ? a->msg->scan : ""));
	set_text(b, gh_event_set_user, event_user(a->msg));
	set_text(b, gh_event_set_message, a->msg->subject);
	return enqueue(txn, b, a->now, 0, NULL);
}

gh_err
gm_maillog_txn(struct gh_txn *txn, void *arg)
{
	struct gm_logtxn *a = arg;
	gh_err err = GH_OK;

	a->final_action = a->action;
	snprintf(a->final_reason, sizeof(a->final_reason), "%s",
	         a->reason ? a->reason : "");
	a->limited = 0;
	a->seq = 0;
	if (a->apply_limits && a->action == GH_ACT_ACCEPT &&
	    gm_mcfg_has_limits(a->cfg)) {
		err = gm_limits_apply_txn(txn, &a->cfg->limits,
		                          a->msg->auth_user, a->msg->sender,
		                          a->msg->rcpt_total, a->now, &a->limited,
		                          &a->hit);
		if (err)
			return err;
		if (a->limited) {
			a->final_action = a->cfg->limits.reject ? GH_ACT_REJECT :
			    GH_ACT_TEMPFAIL;
			snprintf(a->final_reason, sizeof(a->final_reason),
			         "rate limit: %s %s over %lld %s per %llds",
			         a->hit.scope, a->hit.subject, a->hit.limit,
			         a->hit.what, (long long)(a->cfg->limits.window_ms /
			                                  1000));
			err = rate_event(txn, a);
			if (err)
				return err;
		}
	}
	if (a->write_record) {
		/* "id" before "action", as the records always had it; the
		 * mail log sets its value */
		if (json_object_get(a->rec, "id") == NULL)
			json_object_set_new(a->rec, "id", json_null());
		json_object_set_new(a->rec, "action",
		                    json_string(gm_action_name(a->final_action)));
		json_object_set_new(a->rec, "reason",
		                    json_string(a->final_reason));
		/* Signed only if it went on signed: a message refused or
		 * deferred here (a rate limit) carries no signature anywhere,
		 * whatever was computed before the limit was looked at. */
		if (a->final_action != GH_ACT_ACCEPT &&
		    json_array_size(json_object_get(a->rec, "signatures"))) {
			json_object_set_new(a->rec, "signatures", json_array());
			if (a->msg->outgoing)
				json_object_set_new(a->rec, "unsigned", json_string(
				    a->final_action == GH_ACT_REJECT ?
				    "not accepted (rejected)" :
				    "not accepted (tempfailed)"));
		}
		/* the id (and v) are the mail log's (gatehouse/maillog.h) */
		err = gh_maillog_add_txn(txn, a->rec, &a->seq);
		if (err)
			return err;
	}
	/* the verdict scanned for this message, for the next one like it
	 * (callbacks.c, scan_cached) */
	if (a->msg->cache_put) {
		err = gscan_cache_put(txn, a->msg->cache_key, &a->msg->cache_v,
		                      a->now);
		if (err)
			return err;
	}
	if (a->final_action == GH_ACT_REJECT)
		err = reject_event(txn, a);
	return err;
}
