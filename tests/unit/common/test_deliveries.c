/*
 * test_deliveries.c - the deliveries database's keys and records
 * (gatehouse/deliveries.h): key round trips and malformed keys, a record
 * as gatehouse-notifyd has written it (version 1), the layout written,
 * scans of one event and of all, both ways.
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

#include "gatehouse/deliveries.h"

static void
test_key(void **state)
{
	unsigned char k[GH_DELIVERY_KEY_MAX];
	char ch[32], rcpt[32], big[600];
	uint64_t ev;
	size_t kl;

	(void)state;
	assert_int_equal(gh_delivery_key(0x1234, "mail", "a@example.org", k,
	                                 sizeof(k), &kl), GH_OK);
	assert_int_equal(kl, 8 + 4 + 1 + 13);
	assert_memory_equal(k, "\0\0\0\0\0\0\x12\x34" "mail\0a@example.org",
	                    kl);
	assert_int_equal(gh_delivery_key_parse(k, kl, &ev, ch, sizeof(ch),
	                                       rcpt, sizeof(rcpt)), GH_OK);
	assert_true(ev == 0x1234);
	assert_string_equal(ch, "mail");
	assert_string_equal(rcpt, "a@example.org");
	/* parts not wanted */
	assert_int_equal(gh_delivery_key_parse(k, kl, &ev, NULL, 0, NULL, 0),
	                 GH_OK);
	/* an empty recipient is a key still */
	assert_int_equal(gh_delivery_key(1, "@digest", "", k, sizeof(k), &kl),
	                 GH_OK);
	assert_int_equal(gh_delivery_key_parse(k, kl, &ev, ch, sizeof(ch),
	                                       rcpt, sizeof(rcpt)), GH_OK);
	assert_string_equal(ch, "@digest");
	assert_string_equal(rcpt, "");

	assert_int_equal(gh_delivery_key(1, "", "x", k, sizeof(k), &kl),
	                 GH_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(gh_delivery_key(1, "mail", big, k, sizeof(k), &kl),
	                 GH_ETOOBIG);
	assert_int_equal(gh_delivery_key(1, "mail", "x", k, 12, &kl),
	                 GH_ETOOBIG);
	assert_int_equal(gh_delivery_key_parse("\0\0\0\0\0\0\0\1", 8, &ev,
	                 ch, sizeof(ch), rcpt, sizeof(rcpt)), GH_ECORRUPT);
	assert_int_equal(gh_delivery_key_parse("\0\0\0\0\0\0\0\1mail", 12, &ev,
	                 ch, sizeof(ch), rcpt, sizeof(rcpt)), GH_ECORRUPT);
	assert_int_equal(gh_delivery_key_parse("\0\0\0\0\0\0\0\1\0x", 10, &ev,
	                 ch, sizeof(ch), rcpt, sizeof(rcpt)), GH_ECORRUPT);
	assert_int_equal(gh_delivery_key_parse("\0\0\0\0\0\0\0\1m\0x\0", 12,
	                 &ev, ch, sizeof(ch), rcpt, sizeof(rcpt)),
	                 GH_ECORRUPT);
	assert_int_equal(gh_delivery_key_parse("\0\0\0\0\0\0\0\1mail\0x", 14,
	                 &ev, ch, 4, rcpt, sizeof(rcpt)), GH_ETOOBIG);
}

struct raw {
	uint64_t ev;
	const char *ch, *rcpt, *json;
};

static gh_err
put_raw_fn(struct gh_txn *txn, void *arg)
{
	const struct raw *r = arg;
	unsigned char k[GH_DELIVERY_KEY_MAX];
	size_t kl;
	gh_err err;

	err = gh_delivery_key(r->ev, r->ch, r->rcpt, k, sizeof(k), &kl);
	return err ? err : gh_txn_put(txn, GH_DB_DELIVERIES, k, kl, r->json,
	                              strlen(r->json));
}

static void
put_raw(struct gh_store *st, uint64_t ev, const char *ch, const char *rcpt,
        const char *json)
{
	struct raw r = {ev, ch, rcpt, json};

	assert_int_equal(gh_store_update(st, put_raw_fn, &r), GH_OK);
}

struct get {
	uint64_t ev;
	const char *ch, *rcpt;
	json_t *rec;
	gh_err err;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct get *g = arg;

	g->err = gh_delivery_get_txn(txn, g->ev, g->ch, g->rcpt, &g->rec);
	return GH_OK;
}

/* Version 1, as gatehouse-notifyd writes it. */
static void
test_read_v1(void **state)
{
	struct gh_fx *f = *state;
	struct get g = {7, "ops-mail", "a@example.org", NULL, GH_OK};
	struct gh_delivery d;

	put_raw(f->st, 7, "ops-mail", "a@example.org", "{\"channel\":"
	        "\"ops-mail\",\"recipient\":\"a@example.org\",\"state\":"
	        "\"retry\",\"attempts\":2,\"last_error\":\"451 later\","
	        "\"http_status\":451,\"next_at\":9000,\"idempotency_key\":"
	        "\"7:ops-mail:a@example.org\",\"kind\":\"smtp\",\"user\":"
	        "\"alice\",\"event\":7,\"updated_at\":8000,\"v\":1}");
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_OK);
	assert_int_equal(gh_delivery_read(g.rec, &d), GH_OK);
	assert_int_equal(d.v, 1);
	assert_true(d.event == 7);
	assert_string_equal(d.channel, "ops-mail");
	assert_string_equal(d.state, "retry");
	assert_string_equal(d.last_error, "451 later");
	assert_string_equal(d.reason, "");
	assert_string_equal(d.kind, "smtp");
	assert_string_equal(d.user, "alice");
	assert_true(d.attempts == 2 && d.http_status == 451 &&
	            d.next_at == 9000 && d.updated_at == 8000 &&
	            d.delivered_at == 0);
	json_decref(g.rec);

	put_raw(f->st, 7, "@user", "alice", "{\"state\":\"skipped\",\"v\":2}");
	g.ch = "@user";
	g.rcpt = "alice";
	g.rec = NULL;
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_EVERSION);
	assert_null(g.rec);
}

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	return gh_delivery_put_txn(txn, arg);
}

/* The members notifyd has always written, in its order, those without a
 * value left out; next_at only while retrying or deferred. */
static void
test_put_layout(void **state)
{
	struct gh_fx *f = *state;
	struct gh_delivery d;
	struct get g = {5, "hook", "*", NULL, GH_OK};
	char *text;

	memset(&d, 0, sizeof(d));
	d.event = 5;
	d.channel = "hook";
	d.recipient = "*";
	d.state = "delivered";
	d.attempts = 1;
	d.last_error = "";
	d.http_status = 200;
	d.next_at = 1234;        /* not written: delivered */
	d.reason = "";
	d.idempotency_key = "5:hook:*";
	d.kind = "webhook";
	d.updated_at = 50;
	d.delivered_at = 50;
	assert_int_equal(gh_store_update(f->st, put_fn, &d), GH_OK);
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	assert_int_equal(g.err, GH_OK);
	text = json_dumps(g.rec, JSON_COMPACT);
	assert_string_equal(text, "{\"channel\":\"hook\",\"recipient\":\"*\","
	                    "\"state\":\"delivered\",\"attempts\":1,"
	                    "\"http_status\":200,\"idempotency_key\":"
	                    "\"5:hook:*\",\"kind\":\"webhook\",\"event\":5,"
	                    "\"updated_at\":50,\"delivered_at\":50,\"v\":1}");
	free(text);
	json_decref(g.rec);

	d.state = "deferred";
	d.next_at = 0;
	d.http_status = 0;
	d.delivered_at = 0;
	d.kind = NULL;
	d.reason = "quiet hours";
	d.user = "bob";
	g.rec = NULL;
	assert_int_equal(gh_store_update(f->st, put_fn, &d), GH_OK);
	assert_int_equal(gh_store_view(f->st, get_fn, &g), GH_OK);
	text = json_dumps(g.rec, JSON_COMPACT);
	assert_string_equal(text, "{\"channel\":\"hook\",\"recipient\":\"*\","
	                    "\"state\":\"deferred\",\"attempts\":1,"
	                    "\"next_at\":0,\"reason\":\"quiet hours\","
	                    "\"idempotency_key\":\"5:hook:*\",\"user\":\"bob\","
	                    "\"event\":5,\"updated_at\":50,\"v\":1}");
	free(text);
	json_decref(g.rec);
}

struct seen {
	uint64_t ev;
	int reverse;
	char list[256];
	size_t skipped;
};

static int
seen_fn(const struct gh_delivery *d, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->list);

	snprintf(s->list + n, sizeof(s->list) - n, "%llu/%s/%s ",
	         (unsigned long long)d->event, d->channel, d->recipient);
	return 0;
}

static gh_err
scan_fn(struct gh_txn *txn, void *arg)
{
	struct seen *s = arg;

	s->list[0] = '\0';
	return gh_delivery_scan_txn(txn, s->ev, s->reverse, seen_fn, s,
	                            &s->skipped);
}

static void
test_scan(void **state)
{
	struct gh_fx *f = *state;
	struct seen s;
	const char *v1 = "{\"state\":\"dead\",\"v\":1}";

	put_raw(f->st, 1, "a", "x", v1);
	put_raw(f->st, 2, "a", "x", v1);
	put_raw(f->st, 2, "a", "y", v1);
	put_raw(f->st, 2, "b", "x", "{\"v\":5}");
	put_raw(f->st, 3, "a", "x", v1);
	put_raw(f->st, UINT64_MAX, "a", "x", v1);

	memset(&s, 0, sizeof(s));
	s.ev = 2;
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "2/a/x 2/a/y ");
	assert_int_equal(s.skipped, 1);
	s.reverse = 1;
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "2/a/y 2/a/x ");
	s.ev = UINT64_MAX;
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "18446744073709551615/a/x ");
	s.ev = 9;
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "");
	s.ev = 0;
	assert_int_equal(gh_store_view(f->st, scan_fn, &s), GH_OK);
	assert_string_equal(s.list, "18446744073709551615/a/x 3/a/x 2/a/y "
	                    "2/a/x 1/a/x ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test_setup_teardown(test_read_v1, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_put_layout, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_scan, gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
