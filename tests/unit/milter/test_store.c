/*
 * test_store.c - gatehouse-milter's store side, on a real temporary
 * store: rate limits (limits.c), the mail log transaction with its events
 * (maillog.c), the suppression check of bulk recipients (optout.c) and the
 * lazily opened shared handle (mstore.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../store_fixture.h"

#include "gatehouse/maillog.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "../../../milter/limits.h"
#include "../../../milter/maillog.h"
#include "../../../milter/mlog.h"
#include "../../../milter/mstore.h"
#include "../../../milter/msg.h"
#include "../../../milter/optout.h"

#define HOUR (3600 * 1000LL)
#define T0 (1700000000000LL - 1700000000000LL % HOUR)	/* a window start */

struct lim {
	struct gm_limits l;
	const char *user, *sender;
	uint64_t nrcpt;
	int64_t now;
	int over;
	struct gm_limit_hit hit;
};

static gh_err
lim_fn(struct gh_txn *txn, void *arg)
{
	struct lim *a = arg;

	return gm_limits_apply_txn(txn, &a->l, a->user, a->sender, a->nrcpt,
	                           a->now, &a->over, &a->hit);
}

static int
hit(struct gh_fx *f, struct lim *a)
{
	assert_int_equal(gh_store_update(f->st, lim_fn, a), GH_OK);
	return a->over;
}

static void
test_sender_and_recipient_limits(void **state)
{
	struct gh_fx *f = *state;
	struct lim a;

	memset(&a, 0, sizeof(a));
	a.l.window_ms = HOUR;
	a.l.sender_msgs = 2;
	a.l.sender_rcpts = 5;
	a.sender = "Joe@Example.ORG";
	a.user = "";
	a.nrcpt = 2;
	a.now = T0 + 1000;
	assert_false(hit(f, &a));
	assert_false(hit(f, &a));
	/* third message: over the message limit; nothing counted */
	assert_true(hit(f, &a));
	assert_string_equal(a.hit.scope, "sender");
	assert_string_equal(a.hit.what, "messages");
	assert_string_equal(a.hit.subject, "joe@example.org");
	assert_int_equal(a.hit.limit, 2);
	assert_int_equal(a.hit.count, 3);
	/* another sender is unaffected */
	a.sender = "ann@example.org";
	a.nrcpt = 5;
	assert_false(hit(f, &a));
	a.nrcpt = 1;
	assert_true(hit(f, &a));	/* 6 recipients > 5 */
	assert_string_equal(a.hit.what, "recipients");
	/* the null sender (a bounce) has no sender limit */
	a.sender = "";
	for (int i = 0; i < 5; i++)
		assert_false(hit(f, &a));
	/* two windows later everything has slid out */
	a.sender = "joe@example.org";
	a.now = T0 + 2 * HOUR + 1000;
	assert_false(hit(f, &a));
}

static void
test_user_and_domain_limits(void **state)
{
	struct gh_fx *f = *state;
	struct lim a;

	memset(&a, 0, sizeof(a));
	a.l.window_ms = HOUR;
	a.l.user_msgs = 1;
	a.l.domain_msgs = 3;
	a.nrcpt = 1;
	a.now = T0 + 5;
	a.user = "alice";
	a.sender = "a@shop.test";
	assert_false(hit(f, &a));
	assert_true(hit(f, &a));
	assert_string_equal(a.hit.scope, "user");
	assert_string_equal(a.hit.subject, "alice");
	/* unauthenticated: only the domain limit applies */
	a.user = "";
	assert_false(hit(f, &a));	/* domain: 2 */
	a.sender = "b@SHOP.test";
	assert_false(hit(f, &a));	/* domain: 3 */
	assert_true(hit(f, &a));
	assert_string_equal(a.hit.scope, "domain");
	assert_string_equal(a.hit.subject, "shop.test");
	/* nothing configured: never over */
	memset(&a.l, 0, sizeof(a.l));
	a.l.window_ms = HOUR;
	for (int i = 0; i < 10; i++)
		assert_false(hit(f, &a));
}

/* ---- the mail log transaction ---- */

struct count_arg {
	const char *type;
	int n;
	json_t *last;
};

static int
count_events(const json_t *ev, void *arg)
{
	struct count_arg *c = arg;
	const char *t = json_string_value(json_object_get(ev, "type"));

	if (t && strcmp(t, c->type) == 0) {
		c->n++;
		json_decref(c->last);
		c->last = json_deep_copy(ev);
	}
	return 0;
}

static int
events_of(struct gh_fx *f, const char *type, json_t **last)
{
	struct count_arg c = {type, 0, NULL};

	assert_int_equal(gh_queue_list(f->st, GH_Q_ALL, 0, 0, 0, count_events,
	                               &c), GH_OK);
	if (last)
		*last = c.last;
	else
		json_decref(c.last);
	return c.n;
}

struct getrec {
	uint64_t seq;
	json_t *rec;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct getrec *g = arg;

	return gh_maillog_get_txn(txn, g->seq, &g->rec);
}

static void
fill_msg(struct gm_msg *m)
{
	snprintf(m->queue_id, sizeof(m->queue_id), "ABC123");
	snprintf(m->sender, sizeof(m->sender), "joe@example.org");
	snprintf(m->auth_user, sizeof(m->auth_user), "joe");
	snprintf(m->subject, sizeof(m->subject), "Caf\xc3\xa9 news");
	snprintf(m->from, sizeof(m->from), "Joe <joe@example.org>");
	assert_int_equal(gm_msg_add_rcpt(m, "<a@x.test>", 0), GH_OK);
	assert_int_equal(gm_msg_add_rcpt(m, "<b@x.test>", 0), GH_OK);
	m->rcpts[1].suppressed = 1;
	m->outgoing = 1;
	m->outgoing_why = "authenticated";
	m->size = 1234;
	m->nsigs = 1;
	m->signed_ok = 1;
	snprintf(m->sigs[0].d, sizeof(m->sigs[0].d), "example.org");
	snprintf(m->sigs[0].s, sizeof(m->sigs[0].s), "sel");
	m->sigs[0].a = "ed25519-sha256";
}

static uint64_t
log_msg(struct gh_fx *f, struct gm_mcfg *cfg, struct gm_conn *conn,
        struct gm_msg *m, gm_action act, const char *reason, int64_t now,
        struct gm_logtxn *out)
{
	struct gm_logtxn lt;

	memset(&lt, 0, sizeof(lt));
	lt.cfg = cfg;
	lt.conn = conn;
	lt.msg = m;
	lt.action = act;
	lt.reason = reason;
	lt.apply_limits = m->outgoing;
	lt.write_record = 1;
	lt.now = now;
	lt.rec = gm_maillog_record(conn, m, now);
	assert_non_null(lt.rec);
	assert_int_equal(gh_store_update(f->st, gm_maillog_txn, &lt), GH_OK);
	json_decref(lt.rec);
	lt.rec = NULL;
	if (out)
		*out = lt;
	return lt.seq;
}

static void
test_maillog_record_limits_events(void **state)
{
	struct gh_fx *f = *state;
	struct gm_mcfg cfg;
	struct gm_conn conn;
	struct gm_msg *m = gm_msg_new(T0);
	struct gm_logtxn lt;
	struct getrec g = {0, NULL};
	json_t *ev;

	memset(&cfg, 0, sizeof(cfg));
	memset(&conn, 0, sizeof(conn));
	snprintf(conn.addr, sizeof(conn.addr), "192.0.2.1");
	snprintf(conn.name, sizeof(conn.name), "client.test");
	fill_msg(m);
	cfg.limits.window_ms = HOUR;
	cfg.limits.user_msgs = 2;

	g.seq = log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0 + 10, &lt);
	assert_int_equal(g.seq, 1);
	assert_int_equal(lt.final_action, GH_ACT_ACCEPT);
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_string_equal(json_string_value(json_object_get(g.rec, "action")),
	                    "accepted");
	assert_string_equal(json_string_value(json_object_get(g.rec,
	                    "queue_id")), "ABC123");
	assert_string_equal(json_string_value(json_object_get(g.rec,
	                    "subject")), "Caf\xc3\xa9 news");
	assert_int_equal(json_array_size(json_object_get(g.rec, "rcpts")), 1);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(g.rec, "suppressed"), 0)), "b@x.test");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(g.rec, "signatures"), 0), "a")), "ed25519-sha256");
	assert_string_equal(json_string_value(json_object_get(g.rec,
	                    "client_addr")), "192.0.2.1");
	assert_int_equal(json_integer_value(json_object_get(g.rec, "id")), 1);
	assert_int_equal(json_integer_value(json_object_get(g.rec,
	                 "finished_at")), T0 + 10);
	json_decref(g.rec);

	log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0 + 20, &lt);
	assert_int_equal(lt.final_action, GH_ACT_ACCEPT);
	/* third and fourth: over; one event for the window */
	g.seq = log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0 + 30, &lt);
	assert_int_equal(lt.final_action, GH_ACT_TEMPFAIL);
	assert_true(lt.limited);
	assert_non_null(strstr(lt.final_reason, "rate limit: user joe"));
	log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0 + 40, &lt);
	assert_int_equal(lt.final_action, GH_ACT_TEMPFAIL);
	assert_int_equal(events_of(f, "mail.rate_limited", &ev), 1);
	/* for the admins, not the account over its limit */
	assert_null(json_object_get(ev, "user"));
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(ev, "recipients"), 0)), "admins");
	assert_int_equal(json_array_size(json_object_get(ev, "recipients")), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(ev, "metadata"), "auth_user")), "joe");
	assert_string_equal(json_string_value(json_object_get(ev, "source")),
	                    "milter");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(ev, "metadata"), "scope")), "user");
	json_decref(ev);
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_string_equal(json_string_value(json_object_get(g.rec, "action")),
	                    "tempfailed");
	/* deferred: nothing went out signed */
	assert_int_equal(json_array_size(json_object_get(g.rec, "signatures")),
	                 0);
	json_decref(g.rec);
	/* the next window: counted again, and a new event when over again */
	for (int i = 0; i < 3; i++)
		log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0 + 2 * HOUR + i,
		        &lt);
	assert_int_equal(lt.final_action, GH_ACT_TEMPFAIL);
	assert_int_equal(events_of(f, "mail.rate_limited", NULL), 2);

	/* reject by config: action rejected and a mail.rejected event */
	cfg.limits.reject = 1;
	log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0 + 2 * HOUR + 10, &lt);
	assert_int_equal(lt.final_action, GH_ACT_REJECT);
	assert_int_equal(events_of(f, "mail.rejected", NULL), 1);

	/* a virus reject is logged and announced; limits are not consulted */
	m->scan = "infected";
	log_msg(f, &cfg, &conn, m, GH_ACT_REJECT, "virus found: Eicar", T0 +
	        3 * HOUR, &lt);
	assert_int_equal(lt.final_action, GH_ACT_REJECT);
	assert_string_equal(lt.final_reason, "virus found: Eicar");
	assert_int_equal(events_of(f, "mail.rejected", &ev), 2);
	assert_string_equal(json_string_value(json_object_get(ev, "title")),
	                    "Message refused: virus found: Eicar");
	json_decref(ev);

	/* inbound mail: no limits, event user is the recipient */
	m->outgoing = 0;
	m->auth_user[0] = '\0';
	log_msg(f, &cfg, &conn, m, GH_ACT_REJECT, "virus found: X", T0 +
	        3 * HOUR + 1, &lt);
	assert_int_equal(events_of(f, "mail.rejected", &ev), 3);
	assert_string_equal(json_string_value(json_object_get(ev, "user")),
	                    "a@x.test");
	json_decref(ev);
	gm_msg_free(m);
}

static void
test_record_survives_bad_bytes(void **state)
{
	struct gh_fx *f = *state;
	struct gm_mcfg cfg;
	struct gm_conn conn;
	struct gm_msg *m = gm_msg_new(T0);
	struct getrec g = {0, NULL};

	memset(&cfg, 0, sizeof(cfg));
	memset(&conn, 0, sizeof(conn));
	/* bytes that are not UTF-8 straight into the fields */
	snprintf(m->subject, sizeof(m->subject), "latin1 caf\xe9");
	snprintf(m->sender, sizeof(m->sender), "j\xf6@example.org");
	assert_int_equal(gm_msg_add_rcpt(m, "<r\xff@x.test>", 0), GH_OK);
	g.seq = log_msg(f, &cfg, &conn, m, GH_ACT_ACCEPT, "", T0, NULL);
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_string_equal(json_string_value(json_object_get(g.rec,
	                    "subject")), "latin1 caf\\xe9");
	assert_string_equal(json_string_value(json_object_get(g.rec,
	                    "sender")), "j\\xf6@example.org");
	json_decref(g.rec);
	gm_msg_free(m);
}

/* ---- opt-out ---- */

struct sup {
	const char *addr, *list;
};

static gh_err
sup_fn(struct gh_txn *txn, void *arg)
{
	struct sup *s = arg;

	return gh_suppress_add_txn(txn, s->addr, s->list, "test", "test", 1);
}

static void
test_optout(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store_opts o = {0};
	struct gm_mstore ms;
	struct gm_msg *m = gm_msg_new(T0);
	struct sup s1 = {"Everything@x.test", NULL}, s2 = {"news@x.test",
	                                                   "news.example.org"};

	assert_int_equal(gh_store_update(f->st, sup_fn, &s1), GH_OK);
	assert_int_equal(gh_store_update(f->st, sup_fn, &s2), GH_OK);
	o.path = f->path;
	o.lock_timeout_ms = 1000;
	gm_mstore_init(&ms, &o);
	/* the fixture's handle: LMDB must not be opened twice in a process */
	ms.st = f->st;
	assert_int_equal(gm_msg_add_rcpt(m, "<everything@X.test>", 0), GH_OK);
	assert_int_equal(gm_msg_add_rcpt(m, "<news@x.test>", 0), GH_OK);
	assert_int_equal(gm_msg_add_rcpt(m, "<keep@x.test>", 0), GH_OK);
	assert_int_equal(gm_msg_add_rcpt(m, "<>", 0), GH_OK);	/* not an address */
	snprintf(m->bulk.list, sizeof(m->bulk.list), "news.example.org");
	assert_int_equal(gm_optout_check(&ms, m), GH_OK);
	assert_true(m->rcpts[0].suppressed);
	assert_true(m->rcpts[1].suppressed);
	assert_false(m->rcpts[2].suppressed);
	assert_false(m->rcpts[3].suppressed);
	assert_int_equal(gm_msg_remaining(m), 2);
	/* another list: only the every-list entry holds */
	snprintf(m->bulk.list, sizeof(m->bulk.list), "other.list");
	assert_int_equal(gm_optout_check(&ms, m), GH_OK);
	assert_true(m->rcpts[0].suppressed);
	assert_false(m->rcpts[1].suppressed);
	/* at RCPT, before the List-Id is known: listed for any list */
	{
		static const struct {
			const char *rcpt;
			int listed;
		} cases[] = {
			{"everything@X.test", 1}, {"news@x.test", 1},
			{"keep@x.test", 0}, {"", 0}, {"no address", 0},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			int l = -1;

			assert_int_equal(gm_optout_listed(&ms, cases[i].rcpt, &l),
			                 GH_OK);
			assert_int_equal(l, cases[i].listed);
		}
	}
	gm_msg_free(m);
	ms.st = NULL;
	gm_mstore_close(&ms);
}

static void
test_mstore_missing_then_present(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store_opts o = {0};
	struct gm_mstore ms;
	struct gh_store *st;
	char path[128];

	snprintf(path, sizeof(path), "%s/later", f->dir);
	o.path = path;
	o.lock_timeout_ms = 100;
	gm_mlog_open("test", 1, LOG_MAIL);
	gm_mstore_init(&ms, &o);
	assert_int_equal(gm_mstore_get(&ms, &st), GH_ENOTFOUND);
	/* paced: the second call within GH_MSTORE_RETRY_MS does not retry */
	o.flags = GH_STORE_CREATE;
	assert_int_equal(gh_store_open(&st, &o, NULL, 0), GH_OK);
	gh_store_close(st);
	assert_int_equal(gm_mstore_get(&ms, &st), GH_ENOTFOUND);
	ms.reopen.next_ms = 0;	/* as if the pause had passed */
	assert_int_equal(gm_mstore_get(&ms, &st), GH_OK);
	assert_non_null(st);
	gm_mstore_close(&ms);
}

/* Writes go through the library's group commit (test_group.c tests it):
 * here, what the milter adds.  A record a callback refuses comes back to
 * the caller and is no store failure; a store failure marks the "store
 * write" condition failing (logged once), a later good write clears it. */
static gh_err
mw_fn(struct gh_txn *txn, void *arg)
{
	gh_err *want = arg;
	uint64_t seq;
	gh_err err = gh_txn_next_seq(txn, "mw_test", &seq);

	return err ? err : *want;
}

static void
test_mstore_update(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store_opts o = {0};
	struct gm_mstore ms;
	char path[128];
	gh_err want;

	/* its own store: the fixture's may not be opened twice */
	snprintf(path, sizeof(path), "%s/m", f->dir);
	o.path = path;
	o.flags = GH_STORE_CREATE | GH_STORE_NOSYNC;
	o.lock_timeout_ms = 1000;
	gm_mlog_open("test", 1, LOG_MAIL);
	gm_mstore_init(&ms, &o);
	want = GH_EINVAL;
	assert_int_equal(gm_mstore_update(&ms, mw_fn, &want), GH_EINVAL);
	assert_int_equal(ms.write_cond.state.failing, GH_OK);
	want = GH_OK;
	assert_int_equal(gm_mstore_update(&ms, mw_fn, &want), GH_OK);
	gm_mstore_close(&ms);

	o.flags = GH_STORE_RDONLY;
	gm_mstore_init(&ms, &o);
	assert_int_equal(gm_mstore_update(&ms, mw_fn, &want), GH_EREADONLY);
	assert_int_equal(ms.write_cond.state.failing, GH_EREADONLY);
	gm_mstore_close(&ms);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sender_and_recipient_limits,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_user_and_domain_limits,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_maillog_record_limits_events,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_record_survives_bad_bytes,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_optout,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_mstore_missing_then_present,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_mstore_update,
		                                gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
