/*
 * test_maillog.c - the mail log's keys and records (gatehouse/maillog.h):
 * key round trips, a record as gatehouse-milter has written it (version
 * 1), a later version refused, add/get/scan.
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

#include "gatehouse/maillog.h"

struct raw {
	uint64_t id;
	const char *json;
};

static gh_err
put_raw_fn(struct gh_txn *txn, void *arg)
{
	const struct raw *r = arg;
	unsigned char k[GH_MAILLOG_KEY_LEN];

	gh_maillog_key(r->id, k);
	return gh_txn_put(txn, GH_DB_MAIL_LOG, k, sizeof(k), r->json,
	                  strlen(r->json));
}

static void
put_raw(struct gh_store *st, uint64_t id, const char *json)
{
	struct raw r = {id, json};

	assert_int_equal(gh_store_update(st, put_raw_fn, &r), GH_OK);
}

struct get {
	uint64_t id;
	json_t *rec;
	gh_err err;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct get *g = arg;

	g->err = gh_maillog_get_txn(txn, g->id, &g->rec);
	return GH_OK;
}

static json_t *
get(struct gh_store *st, uint64_t id, gh_err *err)
{
	struct get g = {id, NULL, GH_OK};

	assert_int_equal(gh_store_view(st, get_fn, &g), GH_OK);
	*err = g.err;
	return g.rec;
}

static void
test_key(void **state)
{
	unsigned char k[GH_MAILLOG_KEY_LEN];
	uint64_t id;

	(void)state;
	gh_maillog_key(258, k);
	assert_int_equal(k[6], 1);
	assert_int_equal(k[7], 2);
	assert_int_equal(gh_maillog_key_parse(k, sizeof(k), &id), GH_OK);
	assert_true(id == 258);
	assert_int_equal(gh_maillog_key_parse(k, 4, &id), GH_ECORRUPT);
	gh_maillog_key(0, k);
	assert_int_equal(gh_maillog_key_parse(k, sizeof(k), &id), GH_ECORRUPT);
}

/* Version 1, as gatehouse-milter writes it. */
static void
test_read_v1(void **state)
{
	struct gh_fx *f = *state;
	struct gh_maillog m;
	json_t *rec;
	gh_err err;

	put_raw(f->st, 3, "{\"v\":1,\"queue_id\":\"4Xyz\",\"message_id\":"
	        "\"<a@b>\",\"sender\":\"alice@example.org\",\"rcpts\":"
	        "[\"bob@example.net\"],\"suppressed\":[\"eve@example.net\"],"
	        "\"rcpt_count\":2,\"from\":\"Alice <alice@example.org>\","
	        "\"subject\":\"hi\",\"size\":321,\"direction\":\"outgoing\","
	        "\"why\":\"auth\",\"bulk\":null,\"list\":\"\",\"signatures\":"
	        "[{\"d\":\"example.org\",\"s\":\"s1\",\"a\":\"rsa-sha256\"}],"
	        "\"unsigned\":null,\"unsubscribe\":false,\"scan\":{\"result\":"
	        "\"clean\",\"detail\":\"\"},\"client_addr\":\"192.0.2.1\","
	        "\"client_name\":\"mx\",\"auth_user\":\"alice\",\"started_at\":"
	        "1000,\"finished_at\":1500,\"id\":3,\"action\":\"accepted\","
	        "\"reason\":\"\"}");
	rec = get(f->st, 3, &err);
	assert_int_equal(err, GH_OK);
	assert_int_equal(gh_maillog_read(rec, &m), GH_OK);
	assert_int_equal(m.v, 1);
	assert_true(m.id == 3);
	assert_string_equal(m.queue_id, "4Xyz");
	assert_string_equal(m.sender, "alice@example.org");
	assert_string_equal(m.action, "accepted");
	assert_string_equal(m.auth_user, "alice");
	assert_int_equal(json_array_size(m.rcpts), 1);
	assert_int_equal(json_array_size(m.suppressed), 1);
	assert_int_equal(json_array_size(m.signatures), 1);
	assert_non_null(m.scan);
	assert_true(m.size == 321 && m.rcpt_count == 2);
	assert_true(m.started_at == 1000 && m.finished_at == 1500);
	json_decref(rec);

	/* absent members read as empty */
	put_raw(f->st, 4, "{\"v\":1}");
	rec = get(f->st, 4, &err);
	assert_int_equal(gh_maillog_read(rec, &m), GH_OK);
	assert_string_equal(m.sender, "");
	assert_null(m.rcpts);
	assert_null(m.scan);
	json_decref(rec);

	put_raw(f->st, 5, "{\"v\":2,\"sender\":\"x\"}");
	assert_null(get(f->st, 5, &err));
	assert_int_equal(err, GH_EVERSION);
	put_raw(f->st, 6, "[1]");
	assert_null(get(f->st, 6, &err));
	assert_int_equal(err, GH_ECORRUPT);
}

struct add {
	json_t *rec;
	uint64_t id;
};

static gh_err
add_fn(struct gh_txn *txn, void *arg)
{
	struct add *a = arg;

	return gh_maillog_add_txn(txn, a->rec, &a->id);
}

struct seen {
	uint64_t ids[8];
	size_t n;
};

static int
seen_fn(const struct gh_maillog *m, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->ids[s->n++] = m->id;
	return 0;
}

struct scan {
	struct seen s;
	size_t skipped;
};

static gh_err
scan_fn(struct gh_txn *txn, void *arg)
{
	struct scan *a = arg;

	return gh_maillog_scan_txn(txn, 0, 1, seen_fn, &a->s, &a->skipped);
}

static void
test_add_scan(void **state)
{
	struct gh_fx *f = *state;
	struct add a = {NULL, 0};
	struct scan sc;
	json_t *rec;
	gh_err err;

	for (int i = 1; i <= 2; i++) {
		a.rec = json_pack("{s:s, s:n, s:s}", "queue_id", "Q", "id",
		                  "action", "accepted");
		assert_int_equal(gh_store_update(f->st, add_fn, &a), GH_OK);
		assert_true(a.id == (uint64_t)i);
		json_decref(a.rec);
	}
	rec = get(f->st, 2, &err);
	assert_int_equal(err, GH_OK);
	assert_int_equal(json_integer_value(json_object_get(rec, "id")), 2);
	assert_int_equal(json_integer_value(json_object_get(rec, "v")),
	                 GH_MAILLOG_V);
	json_decref(rec);

	put_raw(f->st, 3, "{\"v\":9}");
	put_raw(f->st, 4, "garbage");
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(gh_store_view(f->st, scan_fn, &sc), GH_OK);
	assert_int_equal(sc.s.n, 2);
	assert_true(sc.s.ids[0] == 2 && sc.s.ids[1] == 1);
	assert_int_equal(sc.skipped, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test_setup_teardown(test_read_v1, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_add_scan, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
