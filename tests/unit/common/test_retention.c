/*
 * test_retention.c - unit tests of the retention purge (retention.h) with
 * an injected clock: exact cutoffs, a read inbox item going before an
 * unread one, items waiting for a digest, finished events with their
 * deliveries (and never a ready one), ids never reused, records of an
 * unknown version left alone, dry runs that delete nothing, ordered walks
 * that stop early but not too early, and writes of at most `batch`
 * deletions each.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../store_fixture.h"

#include "gatehouse/queue.h"
#include "gatehouse/retention.h"
#include "gatehouse/store.h"
#include "gatehouse/users.h"

#define T0 1700000000000LL
#define DAY (24 * 3600 * 1000LL)
#define HOUR (3600 * 1000LL)

/* ---- writing records as their producers do ---- */

struct put_arg {
	enum gh_db db;
	unsigned char key[512];
	size_t klen;
	json_t *rec;          /* stolen */
	const void *raw;      /* or raw bytes */
	size_t rawlen;
};

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	struct put_arg *a = arg;

	if (a->raw)
		return gh_txn_put(txn, a->db, a->key, a->klen, a->raw,
		                  a->rawlen);
	return gh_txn_put_json(txn, a->db, a->key, a->klen, a->rec);
}

static void
put(struct gh_store *st, enum gh_db db, const void *key, size_t klen,
    json_t *rec)
{
	struct put_arg a = {db, {0}, klen, rec, NULL, 0};

	assert_true(klen <= sizeof(a.key));
	memcpy(a.key, key, klen);
	assert_int_equal(gh_store_update(st, put_fn, &a), GH_OK);
	json_decref(rec);
}

static void
put_raw(struct gh_store *st, enum gh_db db, const void *key, size_t klen,
        const void *val, size_t vlen)
{
	struct put_arg a = {db, {0}, klen, NULL, val, vlen};

	memcpy(a.key, key, klen);
	assert_int_equal(gh_store_update(st, put_fn, &a), GH_OK);
}

static void
mail_log(struct gh_store *st, uint64_t seq, int64_t finished_at)
{
	unsigned char k[8];

	gh_put_be64(k, seq);
	put(st, GH_DB_MAIL_LOG, k, 8, json_pack("{s:i, s:I, s:I, s:s}", "v", 1,
	    "id", (json_int_t)seq, "finished_at", (json_int_t)finished_at,
	    "action", "accepted"));
}

static void
upload(struct gh_store *st, uint64_t seq, int64_t created_at,
       const char *status)
{
	unsigned char k[8];

	/* both versions the module has written (gatehouse/uploads.h): odd
	 * ids version 1, even ones version 2 */
	gh_put_be64(k, seq);
	put(st, GH_DB_UPLOADS, k, 8, json_pack("{s:i, s:I, s:I, s:s}", "v",
	    seq % 2 ? 1 : 2, "id", (json_int_t)seq,
	    "created_at", (json_int_t)created_at, "status", status));
}

static size_t
inbox_key(const char *user, uint64_t id, unsigned char *k)
{
	size_t ul = strlen(user);

	memcpy(k, user, ul + 1);
	gh_put_be64(k + ul + 1, id);
	return ul + 9;
}

static void
inbox(struct gh_store *st, const char *user, uint64_t id, int64_t created,
      int64_t read_at, int digest)
{
	unsigned char k[300];
	size_t kl = inbox_key(user, id, k);
	json_t *rec = json_pack("{s:i, s:I, s:s, s:I, s:b, s:n}", "v", 1,
	                        "event", (json_int_t)id, "title", "t",
	                        "created_at", (json_int_t)created, "digest",
	                        digest, "digested_at");

	json_object_set_new(rec, "read_at", read_at ?
	                    json_integer((json_int_t)read_at) : json_null());
	put(st, GH_DB_INBOX, k, kl, rec);
}

static void
known_host(struct gh_store *st, const char *user, const char *net,
           int64_t last_seen)
{
	unsigned char k[300];
	size_t ul = strlen(user), nl = strlen(net);

	memcpy(k, user, ul + 1);
	memcpy(k + ul + 1, net, nl);
	put(st, GH_DB_KNOWN_HOSTS, k, ul + 1 + nl, json_pack(
	    "{s:i, s:I, s:I, s:i, s:s}", "v", 1, "first_seen",
	    (json_int_t)last_seen, "last_seen", (json_int_t)last_seen,
	    "count", 1, "addr", "192.0.2.1"));
}

static int
present(struct gh_store *st, enum gh_db db, const void *key, size_t klen);

struct get_arg {
	enum gh_db db;
	const void *key;
	size_t klen;
	int found;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct get_arg *a = arg;
	const void *v;
	size_t vl;
	gh_err err = gh_txn_get(txn, a->db, a->key, a->klen, &v, &vl);

	a->found = err == GH_OK;
	return err == GH_ENOTFOUND ? GH_OK : err;
}

static int
present(struct gh_store *st, enum gh_db db, const void *key, size_t klen)
{
	struct get_arg a = {db, key, klen, 0};

	assert_int_equal(gh_store_view(st, get_fn, &a), GH_OK);
	return a.found;
}

static int
has_seq(struct gh_store *st, enum gh_db db, uint64_t seq)
{
	unsigned char k[8];

	gh_put_be64(k, seq);
	return present(st, db, k, 8);
}

static int
has_item(struct gh_store *st, const char *user, uint64_t id)
{
	unsigned char k[300];
	size_t kl = inbox_key(user, id, k);

	return present(st, GH_DB_INBOX, k, kl);
}

static size_t
count(struct gh_store *st, enum gh_db db)
{
	struct gh_store_info info;

	assert_int_equal(gh_store_info(st, &info), GH_OK);
	return info.entries[db];
}

/* Rules that keep everything but what a test sets. */
static struct gh_retention
forever(void)
{
	struct gh_retention r;

	memset(&r, 0, sizeof(r));
	return r;
}

static struct gh_purge_stats
run(struct gh_store *st, const struct gh_retention *r, int64_t now,
    unsigned flags)
{
	struct gh_purge_stats s;

	assert_int_equal(gh_purge_run(st, r, now, flags, &s), GH_OK);
	return s;
}

/* ---- tests ---- */

/* A record exactly at the cutoff stays; one a millisecond older goes. */
static void
test_exact_cutoff(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 100 * DAY;
	struct gh_purge_stats s;

	r.mail_log = 30 * DAY;
	r.known_hosts = 180 * DAY;
	mail_log(f->st, 1, now - 30 * DAY - 1);
	mail_log(f->st, 2, now - 30 * DAY);
	mail_log(f->st, 3, now - 30 * DAY + 1);
	known_host(f->st, "alice", "192.0.2.0/24", now - 180 * DAY - 1);
	known_host(f->st, "alice", "198.51.100.0/24", now - 180 * DAY);
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_MAIL_LOG], 1);
	assert_false(has_seq(f->st, GH_DB_MAIL_LOG, 1));
	assert_true(has_seq(f->st, GH_DB_MAIL_LOG, 2));
	assert_true(has_seq(f->st, GH_DB_MAIL_LOG, 3));
	assert_int_equal(s.oldest_kept[GH_DB_MAIL_LOG], now - 30 * DAY);
	assert_int_equal(s.gone[GH_DB_KNOWN_HOSTS], 1);
	assert_int_equal(count(f->st, GH_DB_KNOWN_HOSTS), 1);
	assert_true(present(f->st, GH_DB_KNOWN_HOSTS,
	                    "alice\0" "198.51.100.0/24", 21));
	/* a second pass finds nothing more */
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_MAIL_LOG], 0);
	assert_int_equal(s.commits, 0);
}

/* 0 keeps for ever. */
static void
test_zero_keeps(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	struct gh_purge_stats s;

	mail_log(f->st, 1, T0);
	upload(f->st, 1, T0, "rejected");
	known_host(f->st, "bob", "h.example", T0);
	inbox(f->st, "bob", 1, T0, T0 + 1, 0);
	s = run(f->st, &r, T0 + 3650 * DAY, 0);
	assert_int_equal(s.commits, 0);
	assert_int_equal(count(f->st, GH_DB_MAIL_LOG), 1);
	assert_int_equal(count(f->st, GH_DB_UPLOADS), 1);
	assert_int_equal(count(f->st, GH_DB_KNOWN_HOSTS), 1);
	assert_int_equal(count(f->st, GH_DB_INBOX), 1);
}

/* A read item goes 30 days after it was read; an unread one of the same
 * age stays until 90 days after it arrived; one waiting for a digest
 * stays at least 8 days whatever the rule. */
static void
test_inbox_read_unread(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 200 * DAY;
	struct gh_purge_stats s;

	r.inbox_read = 30 * DAY;
	r.inbox_unread = 90 * DAY;
	inbox(f->st, "alice", 1, now - 40 * DAY, now - 35 * DAY, 0); /* goes */
	inbox(f->st, "alice", 2, now - 40 * DAY, 0, 0);              /* stays */
	inbox(f->st, "alice", 3, now - 40 * DAY, now - 30 * DAY, 0); /* at cut */
	inbox(f->st, "alice", 4, now - 90 * DAY - 1, 0, 0);          /* goes */
	inbox(f->st, "alice", 5, now - 90 * DAY, 0, 0);              /* at cut */
	inbox(f->st, "bob", 6, now - 100 * DAY, now - 1 * DAY, 0);   /* read
	                                                    lately: stays */
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_INBOX], 2);
	assert_false(has_item(f->st, "alice", 1));
	assert_true(has_item(f->st, "alice", 2));
	assert_true(has_item(f->st, "alice", 3));
	assert_false(has_item(f->st, "alice", 4));
	assert_true(has_item(f->st, "alice", 5));
	assert_true(has_item(f->st, "bob", 6));

	/* digests: with a one-day rule for unread items */
	r.inbox_unread = 1 * DAY;
	inbox(f->st, "carol", 7, now - 2 * DAY, 0, 1);   /* waits: stays */
	inbox(f->st, "carol", 8, now - 9 * DAY, 0, 1);   /* too long: goes */
	inbox(f->st, "carol", 9, now - 2 * DAY, 0, 0);   /* plain: goes */
	s = run(f->st, &r, now, 0);
	assert_true(has_item(f->st, "carol", 7));
	assert_false(has_item(f->st, "carol", 8));
	assert_false(has_item(f->st, "carol", 9));
}

/* A user whose items are all young is passed over, and the next user's
 * old items are still found. */
static void
test_inbox_next_user(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 200 * DAY;

	r.inbox_read = 30 * DAY;
	r.inbox_unread = 30 * DAY;
	for (uint64_t i = 1; i <= 20; i++)
		inbox(f->st, "a", i, now - 1 * DAY, 0, 0);
	inbox(f->st, "a", 21, now - 50 * DAY, 0, 0);   /* out of order by far:
	                                                  not met this pass */
	inbox(f->st, "ab", 22, now - 50 * DAY, 0, 0);
	inbox(f->st, "b", 23, now - 50 * DAY, 0, 0);
	inbox(f->st, "b", 24, now - 1 * DAY, 0, 0);
	run(f->st, &r, now, 0);
	assert_true(has_item(f->st, "a", 1));
	assert_true(has_item(f->st, "a", 21));
	assert_false(has_item(f->st, "ab", 22));
	assert_false(has_item(f->st, "b", 23));
	assert_true(has_item(f->st, "b", 24));
}

/* Ordered walks stop at the first record younger than the cutoff by more
 * than a day, but find one that is out of order by less. */
static void
test_ordered_slack(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 100 * DAY, cut = now - 30 * DAY;

	r.mail_log = 30 * DAY;
	mail_log(f->st, 1, cut - 5 * DAY);
	mail_log(f->st, 2, cut + 12 * HOUR);  /* young, within the slack */
	mail_log(f->st, 3, cut - 1);          /* older, later id: found */
	mail_log(f->st, 4, cut + 2 * DAY);    /* past the slack: the end */
	mail_log(f->st, 5, cut - 1);          /* not met until 4 ages */
	run(f->st, &r, now, 0);
	assert_false(has_seq(f->st, GH_DB_MAIL_LOG, 1));
	assert_true(has_seq(f->st, GH_DB_MAIL_LOG, 2));
	assert_false(has_seq(f->st, GH_DB_MAIL_LOG, 3));
	assert_true(has_seq(f->st, GH_DB_MAIL_LOG, 4));
	assert_true(has_seq(f->st, GH_DB_MAIL_LOG, 5));
	run(f->st, &r, now + 3 * DAY, 0);
	assert_false(has_seq(f->st, GH_DB_MAIL_LOG, 5));
}

/* Uploads of files kept follow their own rule (0 by default: for ever). */
static void
test_uploads(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 100 * DAY;
	struct gh_purge_stats s;

	r.uploads = 30 * DAY;
	upload(f->st, 1, now - 40 * DAY, "rejected");
	upload(f->st, 2, now - 40 * DAY, "stored");
	upload(f->st, 3, now - 40 * DAY, "quarantined");
	upload(f->st, 4, now - 40 * DAY, "scanning");
	upload(f->st, 5, now - 10 * DAY, "rejected");
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_UPLOADS], 2);
	assert_false(has_seq(f->st, GH_DB_UPLOADS, 1));
	assert_true(has_seq(f->st, GH_DB_UPLOADS, 2));
	assert_true(has_seq(f->st, GH_DB_UPLOADS, 3));
	assert_false(has_seq(f->st, GH_DB_UPLOADS, 4));
	assert_true(has_seq(f->st, GH_DB_UPLOADS, 5));
	r.uploads_kept = 35 * DAY;
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_UPLOADS], 2);
	assert_int_equal(count(f->st, GH_DB_UPLOADS), 1);
}

/* Records of a version the purge does not know, or that it cannot read,
 * are left alone and counted as skipped. */
static void
test_unknown_version(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 100 * DAY;
	unsigned char k[8], qs[56];
	struct gh_purge_stats s;

	r.mail_log = r.known_hosts = r.events = 1 * DAY;
	r.inbox_read = r.inbox_unread = 1 * DAY;
	gh_put_be64(k, 1);
	put(f->st, GH_DB_MAIL_LOG, k, 8, json_pack("{s:i, s:I}", "v", 2,
	    "finished_at", (json_int_t)T0));
	gh_put_be64(k, 2);
	put_raw(f->st, GH_DB_MAIL_LOG, k, 8, "not json", 8);
	gh_put_be64(k, 3);
	put(f->st, GH_DB_MAIL_LOG, k, 8, json_pack("{s:i}", "v", 1));
	mail_log(f->st, 4, T0);
	put(f->st, GH_DB_KNOWN_HOSTS, "eve\0h", 5, json_pack("{s:s, s:I}",
	    "v", "1", "last_seen", (json_int_t)T0));
	/* a queue state of layout 2, finished long ago */
	memset(qs, 0, sizeof(qs));
	qs[0] = 2;
	qs[1] = GH_Q_DONE;
	gh_put_be64(qs + 32, (uint64_t)T0);
	gh_put_be64(k, 9);
	put_raw(f->st, GH_DB_QSTATE, k, 8, qs, sizeof(qs));
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_MAIL_LOG], 1);
	assert_int_equal(s.skipped[GH_DB_MAIL_LOG], 3);
	assert_int_equal(count(f->st, GH_DB_MAIL_LOG), 3);
	assert_int_equal(s.skipped[GH_DB_KNOWN_HOSTS], 1);
	assert_int_equal(count(f->st, GH_DB_KNOWN_HOSTS), 1);
	assert_int_equal(s.skipped[GH_DB_EVENTS], 1);
	assert_true(has_seq(f->st, GH_DB_QSTATE, 9));
}

/* Write the delivery record (event id, channel, recipient). */
static void
delivery(struct gh_store *st, uint64_t id, const char *ch, const char *rcpt)
{
	unsigned char k[128];
	size_t cl = strlen(ch), rl = strlen(rcpt);

	gh_put_be64(k, id);
	memcpy(k + 8, ch, cl + 1);
	memcpy(k + 9 + cl, rcpt, rl);
	put(st, GH_DB_DELIVERIES, k, 9 + cl + rl, json_pack("{s:i, s:s}", "v",
	    1, "state", "delivered"));
}

static uint64_t
event_done_at(struct gh_store *st, int64_t at, int ndeliv)
{
	json_t *e = json_pack("{s:s, s:s, s:s}", "type", "app.x", "user",
	                      "alice", "title", "t");
	struct gh_lease l;
	size_t n = 0;
	uint64_t id = 0;

	assert_int_equal(gh_queue_enqueue(st, e, at, 0, &id, NULL), GH_OK);
	json_decref(e);
	assert_int_equal(gh_queue_lease(st, at, 1, 1000, &l, &n), GH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l.id, id);
	for (int i = 0; i < ndeliv; i++) {
		char r[16];

		snprintf(r, sizeof(r), "r%d", i);
		delivery(st, id, "inbox", r);
	}
	assert_int_equal(gh_queue_ack(st, &l, 1, at, NULL), GH_OK);
	gh_lease_release(&l, 1);
	return id;
}

/* Finished events go with their deliveries; ready ones never; deliveries
 * alone go first when their rule is shorter; ids are never reused. */
static void
test_events(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 100 * DAY;
	uint64_t old, mid, young, ready, next = 0;
	struct gh_purge_stats s;
	json_t *e;

	r.events = 30 * DAY;
	r.deliveries = 10 * DAY;
	/* low priority: the leases below take the others first */
	e = json_pack("{s:s, s:s, s:s, s:i}", "type", "app.x", "user", "bob",
	              "title", "never leased", "priority", 1);
	assert_int_equal(gh_queue_enqueue(f->st, e, now - 90 * DAY, 0, &ready,
	                                  NULL), GH_OK);
	json_decref(e);
	old = event_done_at(f->st, now - 31 * DAY, 3);
	mid = event_done_at(f->st, now - 20 * DAY, 2);
	young = event_done_at(f->st, now - 1 * DAY, 2);
	/* the ready event: leased and given back long ago, and a delivery
	 * of it waiting for a retry */
	{
		struct gh_lease l;
		size_t n = 0;

		assert_int_equal(gh_queue_lease(f->st, now - 90 * DAY, 1, 1000,
		                                &l, &n), GH_OK);
		assert_int_equal(n, 1);
		assert_int_equal(l.id, ready);
		delivery(f->st, ready, "smtp", "bob@example.org");
		assert_int_equal(gh_queue_release(f->st, &l, 1, now - 90 * DAY),
		                 GH_OK);
		gh_lease_release(&l, 1);
	}

	s = run(f->st, &r, now, GH_PURGE_DRY_RUN);
	assert_int_equal(s.gone[GH_DB_EVENTS], 1);
	assert_int_equal(s.gone[GH_DB_DELIVERIES], 5);
	assert_int_equal(s.oldest_kept[GH_DB_EVENTS], now - 90 * DAY);
	assert_int_equal(s.oldest_kept[GH_DB_DELIVERIES], now - 90 * DAY);
	assert_int_equal(count(f->st, GH_DB_EVENTS), 4);
	assert_int_equal(count(f->st, GH_DB_DELIVERIES), 8);
	assert_int_equal(s.commits, 0);

	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_EVENTS], 1);
	assert_int_equal(s.gone[GH_DB_DELIVERIES], 5);
	assert_false(has_seq(f->st, GH_DB_EVENTS, old));
	assert_false(has_seq(f->st, GH_DB_QSTATE, old));
	assert_true(has_seq(f->st, GH_DB_EVENTS, mid));
	assert_true(has_seq(f->st, GH_DB_EVENTS, young));
	assert_true(has_seq(f->st, GH_DB_EVENTS, ready));
	assert_int_equal(count(f->st, GH_DB_DELIVERIES), 3);

	/* everything finished goes, the newest event with it: its id is
	 * not handed out again */
	r.events = 1;
	s = run(f->st, &r, now + 1, 0);
	assert_int_equal(count(f->st, GH_DB_EVENTS), 1);   /* the ready one */
	assert_int_equal(count(f->st, GH_DB_DELIVERIES), 1);
	e = json_pack("{s:s, s:s, s:s}", "type", "app.x", "user", "bob",
	              "title", "after");
	assert_int_equal(gh_queue_enqueue(f->st, e, now, 0, &next, NULL),
	                 GH_OK);
	json_decref(e);
	assert_true(young > mid && mid > ready);
	assert_true(next > young);
}

/* Dedup entries go when their window has ended. */
static void
test_dedup(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	unsigned char v[16];
	struct gh_purge_stats s;

	gh_put_be64(v, 1);
	gh_put_be64(v + 8, (uint64_t)T0);
	put_raw(f->st, GH_DB_DEDUP, "ended", 5, v, 16);
	gh_put_be64(v + 8, (uint64_t)(T0 + 1));
	put_raw(f->st, GH_DB_DEDUP, "open", 4, v, 16);
	s = run(f->st, &r, T0, 0);
	assert_int_equal(s.gone[GH_DB_DEDUP], 1);
	assert_false(present(f->st, GH_DB_DEDUP, "ended", 5));
	assert_true(present(f->st, GH_DB_DEDUP, "open", 4));
}

/* The milter's rate counters go two windows after theirs began; other
 * owners' counters are theirs to clean. */
static void
test_milter_rate(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 10 * DAY;
	unsigned char v[24];
	struct gh_purge_stats s;

	memset(v, 0, sizeof(v));
	gh_put_be64(v, (uint64_t)(now - 2 * HOUR));      /* stale */
	put_raw(f->st, GH_DB_RATE, "milter:sender:a@example.org", 27, v, 24);
	put_raw(f->st, GH_DB_RATE, "pam:fail-user:a", 15, v, 24);
	put_raw(f->st, GH_DB_RATE, "nginx:refused:192.0.2.1", 23, v, 24);
	gh_put_be64(v, (uint64_t)(now - 2 * HOUR + 1));  /* one ms short */
	put_raw(f->st, GH_DB_RATE, "milter:domain:example.org", 25, v, 24);
	put_raw(f->st, GH_DB_RATE, "milter:odd", 10, "short", 5);
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_RATE], 0);         /* window 0: off */
	r.milter_rate_window = HOUR;
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_RATE], 1);
	assert_int_equal(s.skipped[GH_DB_RATE], 1);
	assert_false(present(f->st, GH_DB_RATE, "milter:sender:a@example.org",
	                     27));
	assert_true(present(f->st, GH_DB_RATE, "milter:domain:example.org",
	                    25));
	assert_true(present(f->st, GH_DB_RATE, "pam:fail-user:a", 15));
	assert_true(present(f->st, GH_DB_RATE, "nginx:refused:192.0.2.1",
	                    23));
}

/* 1200 records with batches of 500: three write transactions of at most
 * 500 deletions each, the lock free in between; a dry run first counts
 * them all and writes nothing. */
static void
test_batches(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	struct gh_store_info a, b;
	struct gh_purge *p = NULL;
	const struct gh_purge_stats *s;
	size_t before = 0;
	int done = 0, wrote = 0, writes = 0;

	r.mail_log = 1 * DAY;
	for (uint64_t i = 1; i <= 1200; i++)
		mail_log(f->st, i, T0 + (int64_t)i);
	mail_log(f->st, 1201, T0 + 10 * DAY);

	assert_int_equal(gh_store_info(f->st, &a), GH_OK);
	assert_int_equal(gh_purge_new(&p, &r, T0 + 10 * DAY, GH_PURGE_DRY_RUN,
	                              500), GH_OK);
	while (!done)
		assert_int_equal(gh_purge_step(p, f->st, &done, &wrote), GH_OK);
	assert_int_equal(gh_purge_stats(p)->gone[GH_DB_MAIL_LOG], 1200);
	assert_int_equal(gh_purge_stats(p)->commits, 0);
	gh_purge_free(p);
	assert_int_equal(gh_store_info(f->st, &b), GH_OK);
	assert_int_equal(b.last_txn, a.last_txn);
	assert_int_equal(b.entries[GH_DB_MAIL_LOG], 1201);

	assert_int_equal(gh_purge_new(&p, &r, T0 + 10 * DAY, 0, 500), GH_OK);
	done = 0;
	while (!done) {
		assert_int_equal(gh_purge_step(p, f->st, &done, &wrote), GH_OK);
		s = gh_purge_stats(p);
		assert_true(s->gone[GH_DB_MAIL_LOG] - before <= 500);
		before = s->gone[GH_DB_MAIL_LOG];
		writes += wrote;
	}
	s = gh_purge_stats(p);
	assert_int_equal(s->gone[GH_DB_MAIL_LOG], 1200);
	assert_int_equal(s->commits, 3);
	assert_int_equal(writes, 3);
	gh_purge_free(p);
	assert_int_equal(gh_store_info(f->st, &b), GH_OK);
	assert_int_equal(b.last_txn, a.last_txn + 3);
	assert_int_equal(b.entries[GH_DB_MAIL_LOG], 1);
}

/* An event counts with its deliveries against the batch. */
static void
test_batch_counts_deliveries(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	struct gh_purge_stats s;

	r.events = 1 * DAY;
	for (int i = 0; i < 10; i++)
		event_done_at(f->st, T0, 48);     /* 50 deletions each */
	assert_int_equal(gh_purge_run(f->st, &r, T0 + 2 * DAY, 0, &s), GH_OK);
	assert_int_equal(s.gone[GH_DB_EVENTS], 10);
	assert_int_equal(s.gone[GH_DB_DELIVERIES], 480);
	assert_int_equal(s.commits, 1);       /* 500: one write */
	event_done_at(f->st, T0, 48);
	event_done_at(f->st, T0, 48);
	{
		struct gh_purge *p = NULL;
		int done = 0;

		assert_int_equal(gh_purge_new(&p, &r, T0 + 2 * DAY, 0, 60),
		                 GH_OK);
		while (!done)
			assert_int_equal(gh_purge_step(p, f->st, &done, NULL),
			                 GH_OK);
		assert_int_equal(gh_purge_stats(p)->commits, 2);
		gh_purge_free(p);
	}
}

static void
test_bad_args(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	struct gh_purge *p = NULL;
	int done;

	assert_int_equal(gh_purge_new(NULL, &r, T0, 0, 0), GH_EINVAL);
	assert_int_equal(gh_purge_new(&p, NULL, T0, 0, 0), GH_EINVAL);
	r.events = -1;
	assert_int_equal(gh_purge_new(&p, &r, T0, 0, 0), GH_EINVAL);
	assert_null(p);
	r.events = 0;
	assert_int_equal(gh_purge_new(&p, &r, T0, 0, 0), GH_OK);
	assert_int_equal(gh_purge_step(p, NULL, &done, NULL), GH_EINVAL);
	assert_int_equal(gh_purge_step(p, f->st, NULL, NULL), GH_EINVAL);
	gh_purge_free(p);
	gh_purge_free(NULL);
}

/* The free list: space freed by a purge is counted as such. */
static void
test_store_info_in_use(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	struct gh_store_info a, b;

	r.mail_log = 1;
	for (uint64_t i = 1; i <= 2000; i++)
		mail_log(f->st, i, T0);
	assert_int_equal(gh_store_info(f->st, &a), GH_OK);
	assert_int_equal(a.in_use + a.free_bytes, a.used);
	run(f->st, &r, T0 + DAY, 0);
	assert_int_equal(gh_store_info(f->st, &b), GH_OK);
	assert_true(b.used >= a.used);          /* the file never shrinks */
	assert_true(b.in_use < a.in_use / 2);   /* but the records are gone */
	assert_true(b.free_bytes > a.free_bytes);
}

/* The scanners' verdict cache (scanner/gscache.h): by scanned_at, bytes
 * 3..10 of a version 1 value; another version is left alone. */
static void
scan_cache(struct gh_store *st, unsigned char id, int64_t t, unsigned ver)
{
	unsigned char k[64], v[11 + 4];

	memset(k, id, sizeof(k));
	v[0] = (unsigned char)ver;
	v[1] = 1;
	v[2] = 0;
	gh_put_be64(v + 3, (uint64_t)t);
	memcpy(v + 11, "Test", 4);
	put_raw(st, GH_DB_SCAN_CACHE, k, sizeof(k), v, sizeof(v));
}

static void
test_scan_cache(void **state)
{
	struct gh_fx *f = *state;
	struct gh_retention r = forever();
	int64_t now = T0 + 100 * DAY;
	struct gh_purge_stats s;

	scan_cache(f->st, 1, now - 7 * DAY - 1, 1);
	scan_cache(f->st, 2, now - 7 * DAY, 1);
	scan_cache(f->st, 3, now - 30 * DAY, 2);
	s = run(f->st, &r, now, 0);             /* 0: kept for ever */
	assert_int_equal(s.gone[GH_DB_SCAN_CACHE], 0);
	r.scan_cache = 7 * DAY;
	s = run(f->st, &r, now, 0);
	assert_int_equal(s.gone[GH_DB_SCAN_CACHE], 1);
	assert_int_equal(s.skipped[GH_DB_SCAN_CACHE], 1);
	assert_int_equal(s.oldest_kept[GH_DB_SCAN_CACHE], now - 7 * DAY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact_cutoff, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_zero_keeps, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_inbox_read_unread, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_inbox_next_user, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_ordered_slack, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_uploads, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_version, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_events, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_dedup, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_milter_rate, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_batches, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_counts_deliveries, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_info_in_use, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_scan_cache, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
