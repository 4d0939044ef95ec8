/*
 * test_uploads.c - the uploads database's keys and records
 * (gatehouse/uploads.h): key round trips, both record versions the nginx
 * module has written, a later one refused, add/put/get/scan.
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

#include "gatehouse/uploads.h"

struct raw {
	uint64_t id;
	const char *json;
};

static gh_err
put_raw_fn(struct gh_txn *txn, void *arg)
{
	const struct raw *r = arg;
	unsigned char k[GH_UPLOAD_KEY_LEN];

	gh_upload_key(r->id, k);
	return gh_txn_put(txn, GH_DB_UPLOADS, k, sizeof(k), r->json,
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

	g->err = gh_upload_get_txn(txn, g->id, &g->rec);
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
	unsigned char k[GH_UPLOAD_KEY_LEN];
	uint64_t id;

	(void)state;
	gh_upload_key(0x0102030405060708ull, k);
	assert_int_equal(k[0], 1);
	assert_int_equal(k[7], 8);
	assert_int_equal(gh_upload_key_parse(k, sizeof(k), &id), GH_OK);
	assert_true(id == 0x0102030405060708ull);
	/* keys sort as the ids do */
	gh_upload_key(255, k);
	assert_int_equal(k[7], 255);
	assert_int_equal(gh_upload_key_parse(k, 7, &id), GH_ECORRUPT);
	assert_int_equal(gh_upload_key_parse(k, 9, &id), GH_ECORRUPT);
	gh_upload_key(0, k);
	assert_int_equal(gh_upload_key_parse(k, sizeof(k), &id), GH_ECORRUPT);
}

/* Version 1: original_name held the safe name, there was no display_name
 * (a record as the module wrote it then). */
static void
test_read_v1(void **state)
{
	struct gh_fx *f = *state;
	struct gh_upload u;
	json_t *rec;
	gh_err err;

	put_raw(f->st, 7, "{\"v\":1,\"id\":7,\"user\":\"alice\",\"field\":\"f\","
	        "\"original_name\":\"report.pdf\",\"stored_name\":\"a1.pdf\","
	        "\"url\":\"/files/a1.pdf\",\"size\":12,\"category\":\"docs\","
	        "\"mime\":\"application/pdf\",\"sha256\":\"00\","
	        "\"scan\":\"clean\",\"signature\":null,\"status\":\"stored\","
	        "\"reason\":null,\"client_addr\":\"192.0.2.1\","
	        "\"uri\":\"/up\",\"created_at\":1000,\"updated_at\":2000}");
	rec = get(f->st, 7, &err);
	assert_int_equal(err, GH_OK);
	assert_int_equal(gh_upload_read(rec, &u), GH_OK);
	assert_int_equal(u.v, 1);
	assert_true(u.id == 7);
	assert_string_equal(u.display_name, "report.pdf");
	assert_null(u.original_name);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.status, "stored");
	assert_string_equal(u.signature, "");
	assert_true(gh_upload_kept(&u));
	assert_true(u.size == 12 && u.created_at == 1000 &&
	            u.updated_at == 2000);
	assert_string_equal(json_string_value(gh_upload_display_json(rec)),
	                    "report.pdf");
	assert_null(gh_upload_original_json(rec));
	json_decref(rec);
}

static void
test_read_v2_and_later(void **state)
{
	struct gh_fx *f = *state;
	struct gh_upload u;
	json_t *rec;
	gh_err err;

	put_raw(f->st, 8, "{\"v\":2,\"id\":8,\"user\":null,"
	        "\"original_name\":\"r\\\\x01.pdf\",\"display_name\":\"r_.pdf\","
	        "\"status\":\"rejected\",\"reason\":\"type\",\"created_at\":5}");
	rec = get(f->st, 8, &err);
	assert_int_equal(err, GH_OK);
	assert_int_equal(gh_upload_read(rec, &u), GH_OK);
	assert_int_equal(u.v, 2);
	assert_string_equal(u.display_name, "r_.pdf");
	assert_string_equal(u.original_name, "r\\x01.pdf");
	assert_string_equal(u.user, "");
	assert_false(gh_upload_kept(&u));
	assert_string_equal(json_string_value(gh_upload_original_json(rec)),
	                    "r\\x01.pdf");
	json_decref(rec);

	/* a later version is not guessed at; nor is a record without v */
	put_raw(f->st, 9, "{\"v\":3,\"id\":9,\"display_name\":\"x\"}");
	assert_null(get(f->st, 9, &err));
	assert_int_equal(err, GH_EVERSION);
	put_raw(f->st, 10, "{\"id\":10}");
	assert_null(get(f->st, 10, &err));
	assert_int_equal(err, GH_ECORRUPT);
	put_raw(f->st, 11, "not json");
	assert_null(get(f->st, 11, &err));
	assert_int_equal(err, GH_ECORRUPT);
	assert_null(get(f->st, 12, &err));
	assert_int_equal(err, GH_ENOTFOUND);
}

struct write {
	json_t *rec;
	uint64_t id;
	gh_err put_err;
};

static gh_err
add_fn(struct gh_txn *txn, void *arg)
{
	struct write *w = arg;

	return gh_upload_add_txn(txn, w->rec, &w->id);
}

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	struct write *w = arg;

	w->put_err = gh_upload_put_txn(txn, w->id, w->rec);
	return GH_OK;
}

struct seen {
	uint64_t ids[8];
	size_t n;
	uint64_t stop_at;
};

static int
seen_fn(const struct gh_upload *u, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->ids[s->n++] = u->id;
	return u->id == s->stop_at;
}

struct scan {
	struct seen *s;
	uint64_t start;
	int reverse;
	size_t skipped;
};

static gh_err
scan_fn(struct gh_txn *txn, void *arg)
{
	struct scan *a = arg;

	return gh_upload_scan_txn(txn, a->start, a->reverse, seen_fn, a->s,
	                          &a->skipped);
}

static void
test_add_put_scan(void **state)
{
	struct gh_fx *f = *state;
	struct write w = {NULL, 0, GH_OK};
	struct seen s = {{0}, 0, 0};
	struct scan a = {&s, 0, 1, 0};
	json_t *rec;
	gh_err err;

	for (int i = 1; i <= 3; i++) {
		w.rec = json_pack("{s:s, s:s, s:s}", "display_name", "a.txt",
		                  "original_name", "a.txt", "status",
		                  "receiving");
		assert_int_equal(gh_store_update(f->st, add_fn, &w), GH_OK);
		assert_true(w.id == (uint64_t)i);
		assert_int_equal(json_integer_value(json_object_get(w.rec,
		                 "id")), i);
		assert_int_equal(json_integer_value(json_object_get(w.rec,
		                 "v")), GH_UPLOAD_V);
		if (i < 3)
			json_decref(w.rec);
	}
	/* a rewrite under its id */
	json_object_set_new(w.rec, "status", json_string("stored"));
	assert_int_equal(gh_store_update(f->st, put_fn, &w), GH_OK);
	assert_int_equal(w.put_err, GH_OK);
	rec = get(f->st, 3, &err);
	assert_string_equal(json_string_value(json_object_get(rec, "status")),
	                    "stored");
	json_decref(rec);
	/* only the newest layout, under its own id */
	w.id = 2;
	assert_int_equal(gh_store_update(f->st, put_fn, &w), GH_OK);
	assert_int_equal(w.put_err, GH_EINVAL);
	w.id = 3;
	json_object_set_new(w.rec, "v", json_integer(1));
	assert_int_equal(gh_store_update(f->st, put_fn, &w), GH_OK);
	assert_int_equal(w.put_err, GH_EINVAL);
	json_decref(w.rec);

	/* newest first, a later version skipped and counted */
	put_raw(f->st, 4, "{\"v\":3}");
	assert_int_equal(gh_store_view(f->st, scan_fn, &a), GH_OK);
	assert_int_equal(s.n, 3);
	assert_true(s.ids[0] == 3 && s.ids[1] == 2 && s.ids[2] == 1);
	assert_int_equal(a.skipped, 1);
	/* from an id, stopping when fn says so */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	a.start = 1;
	a.reverse = 0;
	assert_int_equal(gh_store_view(f->st, scan_fn, &a), GH_OK);
	assert_int_equal(s.n, 2);
	assert_true(s.ids[0] == 1 && s.ids[1] == 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test_setup_teardown(test_read_v1, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_read_v2_and_later, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_add_put_scan, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
