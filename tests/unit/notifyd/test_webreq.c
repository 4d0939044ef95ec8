/*
 * test_webreq.c - the core's end of the web face (webreq.h): which
 * errors refuse one request rather than the whole batch, and that
 * preferences and subscriptions are refused for users the core does not
 * know (docs/security.md, "The web face").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "gatehouse/users.h"
#include "../store_fixture.h"
#include "../../../notifyd/webreq.h"

#define P256 "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg" \
             "7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
#define AUTH "tBHItJI5svbpez7KI4CCXg"

static void
test_refused(void **state)
{
	(void)state;
	/* one request's fault: dead-lettered, the batch goes on */
	assert_true(nd_webreq_refused(GH_EINVAL));
	assert_true(nd_webreq_refused(GH_ETOOBIG));
	assert_true(nd_webreq_refused(GH_EEXIST));
	/* the store's: the whole batch again later */
	assert_false(nd_webreq_refused(GH_OK));
	assert_false(nd_webreq_refused(GH_EFULL));
	assert_false(nd_webreq_refused(GH_ELOCKED));
	assert_false(nd_webreq_refused(GH_EIO));
	assert_false(nd_webreq_refused(GH_ENOMEM));
}

struct req {
	json_t *ev;
	char why[256];
	gh_err err;
};

static gh_err
apply(struct gh_txn *txn, void *arg)
{
	struct req *q = arg;

	q->err = nd_webreq_apply_txn(txn, q->ev, 1000, q->why,
	                             sizeof(q->why));
	return nd_webreq_refused(q->err) ? GH_OK : q->err;
}

static gh_err
know(struct gh_txn *txn, void *arg)
{
	json_t *c = json_pack("{s:s}", "email", "bob@example.org");
	gh_err err = gh_contacts_put_txn(txn, arg, c, 1000);

	json_decref(c);
	return err;
}

static gh_err
known(struct gh_txn *txn, void *arg)
{
	return gh_user_known_txn(txn, arg);
}

static void
run(struct gh_fx *f, struct req *q, const char *json)
{
	char why[256];

	q->ev = json_loads(json, 0, NULL);
	assert_non_null(q->ev);
	assert_int_equal(nd_webreq_check(q->ev, why, sizeof(why)), GH_OK);
	assert_int_equal(gh_store_update(f->st, apply, q), GH_OK);
	json_decref(q->ev);
}

static void
test_unknown_users(void **state)
{
	struct gh_fx *f = *state;
	struct req q;
	static const char push[] =
	    "{\"type\": \"web.push_add\", \"user\": \"%s\", \"metadata\": "
	    "{\"subscription\": {\"endpoint\": \"https://p.example/1\", "
	    "\"keys\": {\"p256dh\": \"" P256 "\", \"auth\": \"" AUTH "\"}}}}";
	char ev[1024];

	/* nothing of ghost: refused, nothing made */
	snprintf(ev, sizeof(ev), push, "ghost");
	run(f, &q, ev);
	assert_int_equal(q.err, GH_EINVAL);
	assert_non_null(strstr(q.why, "unknown user"));
	run(f, &q, "{\"type\": \"web.prefs\", \"user\": \"ghost\", "
	    "\"metadata\": {\"prefs\": {\"channels\": {\"sms\": false}}}}");
	assert_int_equal(q.err, GH_EINVAL);
	assert_non_null(strstr(q.why, "unknown user"));
	assert_int_equal(gh_store_view(f->st, known, "ghost"), GH_ENOTFOUND);
	/* marks create nothing and answer alike */
	run(f, &q, "{\"type\": \"web.inbox_read_all\", \"user\": \"ghost\", "
	    "\"metadata\": {}}");
	assert_int_equal(q.err, GH_OK);

	/* bob has contacts: applied */
	assert_int_equal(gh_store_update(f->st, know, "bob"), GH_OK);
	snprintf(ev, sizeof(ev), push, "bob");
	run(f, &q, ev);
	assert_int_equal(q.err, GH_OK);
	run(f, &q, "{\"type\": \"web.prefs\", \"user\": \"bob\", "
	    "\"metadata\": {\"prefs\": {\"channels\": {\"sms\": false}}}}");
	assert_int_equal(q.err, GH_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test_setup_teardown(test_unknown_users, gh_fx_setup,
		                                gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
