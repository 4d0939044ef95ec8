/*
 * test_knownhosts.c - the known_hosts database's keys and records
 * (gatehouse/knownhosts.h): key round trips and malformed keys, a record
 * as pam_gatehouse has written it (version 1), a later version, the
 * user's-first-pair probe, scans per user.
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

#include "gatehouse/knownhosts.h"

static void
test_key(void **state)
{
	char key[GH_KNOWNHOST_KEY_MAX], user[64], net[64], big[600];
	size_t kl;

	(void)state;
	kl = gh_knownhost_key("alice", "192.0.2.0/24", key, sizeof(key));
	assert_int_equal(kl, 5 + 1 + 12);
	assert_memory_equal(key, "alice\0" "192.0.2.0/24", kl);
	assert_int_equal(gh_knownhost_key_parse(key, kl, user, sizeof(user),
	                                        net, sizeof(net)), GH_OK);
	assert_string_equal(user, "alice");
	assert_string_equal(net, "192.0.2.0/24");
	/* an empty network is a key still (a user's prefix is not) */
	kl = gh_knownhost_key("bob", "", key, sizeof(key));
	assert_int_equal(kl, 4);
	assert_int_equal(gh_knownhost_key_parse(key, kl, user, sizeof(user),
	                                        net, sizeof(net)), GH_OK);
	assert_string_equal(net, "");

	assert_int_equal(gh_knownhost_key("", "n", key, sizeof(key)), 0);
	assert_int_equal(gh_knownhost_key("alice", "n", key, 6), 0);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(gh_knownhost_key("u", big, key, sizeof(key)), 0);

	assert_int_equal(gh_knownhost_key_parse("alice", 5, user,
	                 sizeof(user), net, sizeof(net)), GH_ECORRUPT);
	assert_int_equal(gh_knownhost_key_parse("\0net", 4, user,
	                 sizeof(user), net, sizeof(net)), GH_ECORRUPT);
	assert_int_equal(gh_knownhost_key_parse("a\0b\0c", 5, user,
	                 sizeof(user), net, sizeof(net)), GH_ECORRUPT);
	assert_int_equal(gh_knownhost_key_parse("alice\0n", 7, user, 5, net,
	                 sizeof(net)), GH_ETOOBIG);
}

struct raw {
	const char *user, *net, *json;
};

static gh_err
put_raw_fn(struct gh_txn *txn, void *arg)
{
	const struct raw *r = arg;
	char key[GH_KNOWNHOST_KEY_MAX];
	size_t kl = gh_knownhost_key(r->user, r->net, key, sizeof(key));

	return gh_txn_put(txn, GH_DB_KNOWN_HOSTS, key, kl, r->json,
	                  strlen(r->json));
}

static void
put_raw(struct gh_store *st, const char *user, const char *net,
        const char *json)
{
	struct raw r = {user, net, json};

	assert_int_equal(gh_store_update(st, put_raw_fn, &r), GH_OK);
}

struct get {
	const char *user, *net;
	json_t *rec;
	gh_err err;
	int has;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct get *g = arg;

	g->err = gh_knownhost_get_txn(txn, g->user, g->net, &g->rec);
	return gh_knownhost_user_has_txn(txn, g->user, &g->has);
}

static void
test_read_v1_put_get(void **state)
{
	struct gh_fx *f = *state;
	struct get g = {"alice", "192.0.2.0/24", NULL, GH_OK, 0};
	struct gh_knownhost h;

	/* version 1, as pam_gatehouse writes it */
	put_raw(f->st, "alice", "192.0.2.0/24", "{\"v\":1,\"first_seen\":100,"
	        "\"last_seen\":200,\"count\":3,\"addr\":\"192.0.2.7\"}");
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_OK);
	assert_true(g.has);
	assert_int_equal(gh_knownhost_read(g.rec, &h), GH_OK);
	assert_int_equal(h.v, 1);
	assert_true(h.first_seen == 100 && h.last_seen == 200 &&
	            h.count == 3);
	assert_string_equal(h.addr, "192.0.2.7");
	json_decref(g.rec);

	/* "al" is a prefix of alice's keys, not a user with pairs */
	g.user = "al";
	g.rec = NULL;
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_ENOTFOUND);
	assert_false(g.has);

	put_raw(f->st, "carol", "n", "{\"v\":2,\"last_seen\":1}");
	g.user = "carol";
	g.net = "n";
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_EVERSION);
	assert_null(g.rec);
	assert_true(g.has);
}

struct put {
	struct gh_knownhost h;
	gh_err del;
};

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	struct put *p = arg;

	return gh_knownhost_put_txn(txn, "dave", "198.51.100.0/24", &p->h);
}

static gh_err
del_fn(struct gh_txn *txn, void *arg)
{
	struct put *p = arg;

	p->del = gh_knownhost_del_txn(txn, "dave", "198.51.100.0/24");
	return GH_OK;
}

static void
test_put_del(void **state)
{
	struct gh_fx *f = *state;
	struct put p;
	struct get g = {"dave", "198.51.100.0/24", NULL, GH_OK, 0};
	char *text;

	memset(&p, 0, sizeof(p));
	p.h.first_seen = 10;
	p.h.last_seen = 20;
	p.h.count = 2;
	p.h.addr = "198.51.100.9";
	assert_int_equal(gh_store_update(f->st, put_fn, &p), GH_OK);
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_OK);
	/* the layout pam_gatehouse has always written */
	text = json_dumps(g.rec, JSON_COMPACT);
	assert_string_equal(text, "{\"v\":1,\"first_seen\":10,\"last_seen\":20,"
	                    "\"count\":2,\"addr\":\"198.51.100.9\"}");
	free(text);
	json_decref(g.rec);
	assert_int_equal(gh_store_update(f->st, del_fn, &p), GH_OK);
	assert_int_equal(p.del, GH_OK);
	assert_int_equal(gh_store_update(f->st, del_fn, &p), GH_OK);
	assert_int_equal(p.del, GH_ENOTFOUND);
}

struct seen {
	const char *user;
	char list[256];
	size_t skipped;
};

static int
seen_fn(const char *user, const char *net, const struct gh_knownhost *h,
        void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->list);

	snprintf(s->list + n, sizeof(s->list) - n, "%s/%s:%s ", user, net,
	         h ? h->addr : "?");
	return 0;
}

static gh_err
scan_fn(struct gh_txn *txn, void *arg)
{
	struct seen *s = arg;

	s->list[0] = '\0';
	return gh_knownhost_scan_txn(txn, s->user, seen_fn, s, &s->skipped);
}

static gh_err
put_bad_key_fn(struct gh_txn *txn, void *arg)
{
	(void)arg;
	return gh_txn_put(txn, GH_DB_KNOWN_HOSTS, "zz-no-nul", 9, "{}", 2);
}

static void
test_scan(void **state)
{
	struct gh_fx *f = *state;
	struct seen s;

	put_raw(f->st, "al", "n1", "{\"v\":1,\"addr\":\"a1\"}");
	put_raw(f->st, "alice", "n2", "{\"v\":1,\"addr\":\"a2\"}");
	put_raw(f->st, "alice", "n1", "{\"v\":1,\"addr\":\"a3\"}");
	put_raw(f->st, "alice", "n3", "not json");
	put_raw(f->st, "bob", "n1", "{\"v\":1,\"addr\":\"a4\"}");
	assert_int_equal(gh_store_update(f->st, put_bad_key_fn, NULL), GH_OK);

	memset(&s, 0, sizeof(s));
	s.user = "alice";
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "alice/n1:a3 alice/n2:a2 alice/n3:? ");
	s.user = "al";
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "al/n1:a1 ");
	s.user = NULL;
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "al/n1:a1 alice/n1:a3 alice/n2:a2 "
	                    "alice/n3:? bob/n1:a4 ");
	assert_int_equal(s.skipped, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test_setup_teardown(test_read_v1_put_get, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_put_del, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_scan, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
