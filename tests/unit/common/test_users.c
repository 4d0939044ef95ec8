/*
 * test_users.c - unit tests of contacts, preferences and the inbox
 * (gatehouse/users.h): validation, read/write, push subscription removal,
 * inbox order, read marks, digest flags and that one user's items never
 * show in another's list.
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

#include "gatehouse/store.h"
#include "gatehouse/users.h"

#define T0 1700000000000LL

/* RFC 8291's sizes: a 65-byte P-256 point and a 16-byte secret */
#define P256 "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg" \
             "7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
#define AUTH "tBHItJI5svbpez7KI4CCXg"

static void
test_ids_and_times(void **state)
{
	char big[GH_USER_MAX + 2];

	(void)state;
	assert_true(gh_user_id_ok("alice"));
	assert_true(gh_user_id_ok("Alice Smith <ldap:42>"));
	assert_false(gh_user_id_ok(""));
	assert_false(gh_user_id_ok(NULL));
	assert_false(gh_user_id_ok("a\nb"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(gh_user_id_ok(big));
	big[GH_USER_MAX] = '\0';
	assert_true(gh_user_id_ok(big));
	assert_true(gh_hhmm_ok("00:00"));
	assert_true(gh_hhmm_ok("7:05"));
	assert_true(gh_hhmm_ok("23:59"));
	assert_false(gh_hhmm_ok("24:00"));
	assert_false(gh_hhmm_ok("12:60"));
	assert_false(gh_hhmm_ok("1200"));
	assert_false(gh_hhmm_ok("a1:00"));
}

static void
test_lang_tags(void **state)
{
	static const char *const good[] = {
		"ko", "en", "pt-BR", "pt-br", "zh-Hant-TW", "es-419", "gsw",
		"en-x-pirate", "sr-Latn", "KO",
	};
	static const char *const bad[] = {
		"", "k", "kore", "../x", "ko/", "ko.", ".", "..", "pt_BR", "pt-",
		"-pt", "pt--BR", "ko-123456789", "1a", "ko BR", "ko\n", "한국어",
		"a-b-c", "en-US-aaaaaaaa-bbbbbbbb-cccccccc-dddd",
	};
	char out[GH_LANG_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(gh_lang_tag_ok(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(gh_lang_tag_ok(bad[i]));
	assert_false(gh_lang_tag_ok(NULL));
	assert_int_equal(gh_lang_tag_canon("PT-br", out, sizeof(out)), GH_OK);
	assert_string_equal(out, "pt-BR");
	assert_int_equal(gh_lang_tag_canon("ZH-hant-tw", out, sizeof(out)),
	                 GH_OK);
	assert_string_equal(out, "zh-Hant-TW");
	assert_int_equal(gh_lang_tag_canon("es-419", out, sizeof(out)), GH_OK);
	assert_string_equal(out, "es-419");
	assert_int_equal(gh_lang_tag_canon("KO", out, sizeof(out)), GH_OK);
	assert_string_equal(out, "ko");
	assert_int_equal(gh_lang_tag_canon("ko", out, 2), GH_EINVAL);
	assert_int_equal(gh_lang_tag_canon("../x", out, sizeof(out)),
	                 GH_EINVAL);
}

static void
check_contacts(const char *json, gh_err want, const char *word)
{
	json_t *j = json_loads(json, 0, NULL);
	char d[256];

	assert_non_null(j);
	assert_int_equal(gh_contacts_validate(j, d, sizeof(d)), want);
	if (word)
		assert_non_null(strstr(d, word));
	json_decref(j);
}

static void
test_contacts_validate(void **state)
{
	(void)state;
	check_contacts("{\"email\": \"a@example.org\", \"phone\": \"+33612345678\","
	               " \"tz\": \"America/New_York\", \"name\": \"A\","
	               " \"chat\": {\"ntfy\": \"t\"}}", GH_OK, NULL);
	check_contacts("{\"email\": \"nope\"}", GH_EINVAL, "email");
	check_contacts("{\"email\": \"a b@example.org\"}", GH_EINVAL, "email");
	check_contacts("{\"phone\": \"0612\"}", GH_EINVAL, "phone");
	check_contacts("{\"tz\": \"../etc/passwd\"}", GH_EINVAL, "tz");
	check_contacts("{\"tz\": \"Europe//Paris\"}", GH_EINVAL, "tz");
	check_contacts("{\"colour\": \"red\"}", GH_EINVAL, "colour");
	check_contacts("{\"lang\": \"pt-BR\"}", GH_OK, NULL);
	check_contacts("{\"lang\": \"../x\"}", GH_EINVAL, "lang");
	check_contacts("{\"lang\": \"\"}", GH_EINVAL, "lang");
	check_contacts("{\"lang\": 7}", GH_EINVAL, "lang");
	check_contacts("{\"chat\": {\"x\": 1}}", GH_EINVAL, "chat.x");
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\","
	               " \"keys\": {\"p256dh\": \"" P256 "\", \"auth\": \"" AUTH "\"}}]}",
	               GH_OK, NULL);
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\"}]}",
	               GH_EINVAL, "push[0].keys");
	/* keys: p256dh and auth only, of their sizes; padding tolerated */
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\","
	               " \"keys\": {\"p256dh\": \"" P256 "\", \"auth\": \""
	               AUTH "\", \"x\": \"\"}}]}", GH_EINVAL,
	               "unknown member 'x'");
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\","
	               " \"keys\": {\"p256dh\": \"" P256 "=\", \"auth\": \""
	               AUTH "==\"}}]}", GH_OK, NULL);
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\","
	               " \"keys\": {\"p256dh\": \"" P256 "==\", \"auth\": \""
	               AUTH "\"}}]}", GH_EINVAL, "base64url");   /* bad padding */
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\","
	               " \"keys\": {\"p256dh\": \"BAAA\", \"auth\": \""
	               AUTH "\"}}]}", GH_EINVAL, "65 bytes");
	check_contacts("{\"push\": [{\"endpoint\": \"https://p.example/1\","
	               " \"keys\": {\"p256dh\": \"" P256 "\", \"auth\": \""
	               AUTH "A\"}}]}", GH_EINVAL, "16 bytes");
	check_contacts("{\"push\": [{\"endpoint\": \"javascript:x\","
	               " \"keys\": {\"p256dh\": \"B\", \"auth\": \"A\"}}]}",
	               GH_EINVAL, "endpoint");
	/* Web Push endpoints are https only (notifyd POSTs to them) */
	check_contacts("{\"push\": [{\"endpoint\": \"http://p.example/1\","
	               " \"keys\": {\"p256dh\": \"B\", \"auth\": \"A\"}}]}",
	               GH_EINVAL, "https://");
	check_contacts("{\"push\": [{\"endpoint\": \"HTTP://127.0.0.1/\","
	               " \"keys\": {\"p256dh\": \"B\", \"auth\": \"A\"}}]}",
	               GH_EINVAL, "https://");
	check_contacts("{\"push\": [{\"endpoint\": \"https://\","
	               " \"keys\": {\"p256dh\": \"B\", \"auth\": \"A\"}}]}",
	               GH_EINVAL, "https://");
	check_contacts("[]", GH_EINVAL, "object");
}

static void
check_prefs(const char *json, gh_err want, const char *word)
{
	json_t *j = json_loads(json, 0, NULL);
	char d[256];

	assert_non_null(j);
	assert_int_equal(gh_prefs_validate(j, d, sizeof(d)), want);
	if (word)
		assert_non_null(strstr(d, word));
	json_decref(j);
}

static void
test_prefs_validate(void **state)
{
	(void)state;
	check_prefs("{\"channels\": {\"mail\": true, \"sms\": false},"
	            " \"categories\": {\"social\": \"digest\", \"security\":"
	            " \"on\"}, \"quiet\": {\"start\": \"22:00\", \"end\":"
	            " \"07:00\"}, \"digest\": {\"every\": \"weekly\", \"day\":"
	            " \"mon\", \"at\": \"08:00\", \"channels\": [\"mail\"]}}",
	            GH_OK, NULL);
	check_prefs("{\"categories\": {\"security\": \"off\"}}", GH_EINVAL,
	            "security");
	check_prefs("{\"categories\": {\"social\": \"sometimes\"}}", GH_EINVAL,
	            "social");
	check_prefs("{\"channels\": {\"mail\": \"yes\"}}", GH_EINVAL, "mail");
	check_prefs("{\"quiet\": {\"start\": \"22:00\"}}", GH_EINVAL, "quiet");
	check_prefs("{\"digest\": {\"every\": \"weekly\", \"at\": \"08:00\"}}",
	            GH_EINVAL, "day");
	check_prefs("{\"digest\": {\"every\": \"hourly\"}}", GH_EINVAL, "every");
	/* a detail cut short ends on a whole UTF-8 character (it goes
	 * into JSON answers, which refuse a broken one) */
	{
		char key[2 * 150 + 1], d[200];
		json_t *j = json_object(), *js;

		for (int i = 0; i < 150; i++)
			memcpy(key + 2 * i, "\xc3\xa9", 2);   /* é */
		key[300] = '\0';
		json_object_set_new(j, key, json_true());
		/* "unknown member '" is 16 bytes: cut at every offset after */
		for (size_t n = 17; n <= sizeof(d); n++) {
			assert_int_equal(gh_prefs_validate(j, d, n), GH_EINVAL);
			assert_true(strlen(d) >= n - 2);   /* at most 1 byte lost */
			js = json_string(d);   /* NULL when not UTF-8 */
			assert_non_null(js);
			json_decref(js);
		}
		json_decref(j);
	}
}

struct rw {
	json_t *in, *out;
	const char *user;
	const char *endpoint;
	gh_err err;
};

static gh_err
put_contacts(struct gh_txn *txn, void *arg)
{
	struct rw *a = arg;

	return gh_contacts_put_txn(txn, a->user, a->in, T0);
}

static gh_err
get_contacts(struct gh_txn *txn, void *arg)
{
	struct rw *a = arg;

	json_decref(a->out);
	a->out = NULL;
	return gh_contacts_get_txn(txn, a->user, &a->out);
}

static gh_err
remove_push(struct gh_txn *txn, void *arg)
{
	struct rw *a = arg;

	return gh_push_remove_txn(txn, a->user, a->endpoint, T0 + 5);
}

static void
test_contacts_rw_and_push_removal(void **state)
{
	struct gh_fx *f = *state;
	struct rw a = {NULL, NULL, "alice", NULL, GH_OK};
	json_t *push;

	a.in = json_loads("{\"email\": \"a@example.org\", \"push\": ["
	                  "{\"endpoint\": \"https://p.example/1\", \"keys\": "
	                  "{\"p256dh\": \"" P256 "\", \"auth\": \"" AUTH "\"}},"
	                  "{\"endpoint\": \"https://p.example/2\", \"keys\": "
	                  "{\"p256dh\": \"" P256 "\", \"auth\": \"" AUTH "\"}}]}", 0, NULL);
	assert_int_equal(gh_store_view(f->st, get_contacts, &a), GH_ENOTFOUND);
	assert_int_equal(gh_store_update(f->st, put_contacts, &a), GH_OK);
	assert_int_equal(gh_store_view(f->st, get_contacts, &a), GH_OK);
	assert_int_equal(json_integer_value(json_object_get(a.out, "v")), 1);
	assert_int_equal(json_integer_value(json_object_get(a.out, "updated_at")),
	                 T0);
	push = json_object_get(a.out, "push");
	assert_int_equal(json_array_size(push), 2);
	assert_int_equal(json_integer_value(json_object_get(
	    json_array_get(push, 0), "added_at")), T0);
	/* the caller's object is not changed */
	assert_null(json_object_get(a.in, "v"));
	a.endpoint = "https://p.example/1";
	assert_int_equal(gh_store_update(f->st, remove_push, &a), GH_OK);
	assert_int_equal(gh_store_update(f->st, remove_push, &a), GH_ENOTFOUND);
	assert_int_equal(gh_store_view(f->st, get_contacts, &a), GH_OK);
	push = json_object_get(a.out, "push");
	assert_int_equal(json_array_size(push), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(push, 0), "endpoint")), "https://p.example/2");
	/* invalid records are refused */
	json_decref(a.in);
	a.in = json_loads("{\"email\": \"broken\"}", 0, NULL);
	assert_int_equal(gh_store_update(f->st, put_contacts, &a), GH_EINVAL);
	a.user = "";
	assert_int_equal(gh_store_view(f->st, get_contacts, &a), GH_EINVAL);
	json_decref(a.in);
	json_decref(a.out);
}

/* ---- inbox ---- */

static json_t *
event(uint64_t id, const char *title)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:i}", "id", (json_int_t)id,
	                 "type", "app.x", "title", title, "category", "social",
	                 "priority", 2);
}

struct ib {
	uint64_t ids[16];
	size_t n;
	unsigned flags;
	const char *user;
	size_t total, unread, changed;
	uint64_t mark;
	int existed;
};

static gh_err
add_items(struct gh_txn *txn, void *arg)
{
	static const char *const users[] = {"ali", "alice", "alicia"};
	gh_err err = GH_OK;

	for (uint64_t id = 1; id <= 6 && err == GH_OK; id++) {
		json_t *ev = event(id, "t"), *it;

		it = gh_inbox_item_new(ev, T0 + (int64_t)id, id % 2 == 0);
		err = gh_inbox_add_txn(txn, users[id % 3], id, it, NULL);
		json_decref(it);
		json_decref(ev);
	}
	return err;
}

static int
collect(uint64_t id, const json_t *it, void *arg)
{
	struct ib *a = arg;

	(void)it;
	a->ids[a->n++] = id;
	return 0;
}

static gh_err
list_items(struct gh_txn *txn, void *arg)
{
	struct ib *a = arg;

	a->n = 0;
	return gh_inbox_list_txn(txn, a->user, a->flags, 0, collect, a);
}

static gh_err
mark(struct gh_txn *txn, void *arg)
{
	struct ib *a = arg;

	return gh_inbox_mark_read_txn(txn, a->user, a->mark, T0 + 100,
	                              &a->changed);
}

static gh_err
count(struct gh_txn *txn, void *arg)
{
	struct ib *a = arg;

	return gh_inbox_count_txn(txn, a->user, &a->total, &a->unread);
}

static gh_err
add_again(struct gh_txn *txn, void *arg)
{
	struct ib *a = arg;
	json_t *ev = event(4, "again"), *it = gh_inbox_item_new(ev, T0, 0);
	gh_err err = gh_inbox_add_txn(txn, "alice", 4, it, &a->existed);

	json_decref(it);
	json_decref(ev);
	return err;
}

static void
test_inbox(void **state)
{
	struct gh_fx *f = *state;
	struct ib a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(gh_store_update(f->st, add_items, &a), GH_OK);
	/* alice has ids 1 and 4 (id % 3 == 1), newest first; her
	 * neighbours' items never show */
	a.user = "alice";
	assert_int_equal(gh_store_view(f->st, list_items, &a), GH_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.ids[0], 4);
	assert_int_equal(a.ids[1], 1);
	a.user = "ali";
	assert_int_equal(gh_store_view(f->st, list_items, &a), GH_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.ids[0], 6);
	a.user = "nobody";
	assert_int_equal(gh_store_view(f->st, list_items, &a), GH_OK);
	assert_int_equal(a.n, 0);
	/* digest items: even ids */
	a.user = "alice";
	a.flags = GH_INBOX_DIGEST;
	assert_int_equal(gh_store_view(f->st, list_items, &a), GH_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.ids[0], 4);
	/* an item is written once: a repeat keeps the first */
	assert_int_equal(gh_store_update(f->st, add_again, &a), GH_OK);
	assert_int_equal(a.existed, 1);
	/* read marks */
	a.mark = 1;
	assert_int_equal(gh_store_update(f->st, mark, &a), GH_OK);
	assert_int_equal(a.changed, 1);
	assert_int_equal(gh_store_update(f->st, mark, &a), GH_OK);
	assert_int_equal(a.changed, 0);
	a.flags = GH_INBOX_UNREAD;
	assert_int_equal(gh_store_view(f->st, list_items, &a), GH_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.ids[0], 4);
	assert_int_equal(gh_store_view(f->st, count, &a), GH_OK);
	assert_int_equal(a.total, 2);
	assert_int_equal(a.unread, 1);
	a.mark = 0;
	assert_int_equal(gh_store_update(f->st, mark, &a), GH_OK);
	assert_int_equal(a.changed, 1);
	assert_int_equal(gh_store_view(f->st, count, &a), GH_OK);
	assert_int_equal(a.unread, 0);
	a.mark = 77;
	assert_int_equal(gh_store_update(f->st, mark, &a), GH_ENOTFOUND);
}

/* ---- the inbox feed, and push subscriptions added ---- */

struct feed {
	uint64_t seq[16];
	unsigned kind[16];
	char user[16][16];
	uint64_t id[16];
	size_t n;
	uint64_t after, first, last;
};

static int
feed_one(uint64_t seq, unsigned kind, const char *user, uint64_t id,
         void *arg)
{
	struct feed *a = arg;

	if (a->n == 16)
		return 1;
	a->seq[a->n] = seq;
	a->kind[a->n] = kind;
	snprintf(a->user[a->n], sizeof(a->user[0]), "%s", user);
	a->id[a->n] = id;
	a->n++;
	return 0;
}

static gh_err
feed_view(struct gh_txn *txn, void *arg)
{
	struct feed *a = arg;
	gh_err err;

	a->n = 0;
	err = gh_inbox_feed_txn(txn, a->after, feed_one, a, &a->first);
	return err ? err : gh_inbox_feed_last_txn(txn, &a->last);
}

static gh_err
feed_writes(struct gh_txn *txn, void *arg)
{
	json_t *ev = event(9, "t"), *it = gh_inbox_item_new(ev, T0, 0);
	json_t *prefs = json_pack("{s:{s:s}}", "categories", "social", "off");
	gh_err err;

	(void)arg;
	err = gh_inbox_add_txn(txn, "bo", 9, it, NULL);
	if (err == GH_OK)   /* again: written once, no second entry */
		err = gh_inbox_add_txn(txn, "bo", 9, it, NULL);
	if (err == GH_OK)
		err = gh_prefs_put_txn(txn, "cy", prefs, T0);
	if (err == GH_OK)
		err = gh_inbox_mark_read_txn(txn, "bo", 9, T0 + 1, NULL);
	json_decref(prefs);
	json_decref(it);
	json_decref(ev);
	return err;
}

static gh_err
push_writes(struct gh_txn *txn, void *arg)
{
	json_t *sub = json_pack("{s:s, s:{s:s, s:s}}", "endpoint",
	                        "https://push.example.net/a", "keys", "p256dh",
	                        P256,
	                        "auth", AUTH);
	json_t *bad = json_pack("{s:s, s:{s:s, s:s}}", "endpoint",
	                        "http://push.example.net/a", "keys", "p256dh",
	                        "BNcR", "auth", "tBHI");
	char why[200];
	gh_err err;

	(void)arg;
	err = gh_push_add_txn(txn, "di", sub, T0, why, sizeof(why));
	if (err == GH_OK)   /* the same endpoint replaces, never adds */
		err = gh_push_add_txn(txn, "di", sub, T0 + 5, why, sizeof(why));
	if (err == GH_OK && gh_push_add_txn(txn, "di", bad, T0, why,
	                                    sizeof(why)) != GH_EINVAL)
		err = GH_EIO;
	for (int i = 0; err == GH_OK && i < GH_PUSH_MAX - 1; i++) {
		char ep[64];

		snprintf(ep, sizeof(ep), "https://push.example.net/%d", i);
		json_object_set_new(sub, "endpoint", json_string(ep));
		err = gh_push_add_txn(txn, "di", sub, T0, why, sizeof(why));
	}
	/* one past GH_PUSH_MAX is refused, saying why */
	json_object_set_new(sub, "endpoint",
	                    json_string("https://push.example.net/over"));
	if (err == GH_OK && (gh_push_add_txn(txn, "di", sub, T0, why,
	    sizeof(why)) != GH_EINVAL || strstr(why, "subscriptions") == NULL))
		err = GH_EIO;
	json_decref(sub);
	json_decref(bad);
	return err;
}

static gh_err
push_count(struct gh_txn *txn, void *arg)
{
	json_t *rec = NULL;
	gh_err err = gh_contacts_get_txn(txn, "di", &rec);

	*(size_t *)arg = json_array_size(json_object_get(rec, "push"));
	json_decref(rec);
	return err;
}

static void
test_inbox_feed_and_push(void **state)
{
	struct gh_fx *f = *state;
	struct feed a;
	size_t n = 0;

	memset(&a, 0, sizeof(a));
	assert_int_equal(gh_store_view(f->st, feed_view, &a), GH_OK);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.last, 0);
	assert_int_equal(gh_store_update(f->st, feed_writes, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, feed_view, &a), GH_OK);
	/* the item added, the prefs set, the item marked read */
	assert_int_equal(a.n, 3);
	assert_int_equal(a.first, 1);
	assert_int_equal(a.last, 3);
	assert_int_equal(a.kind[0], GH_FEED_ITEM);
	assert_string_equal(a.user[0], "bo");
	assert_int_equal(a.id[0], 9);
	assert_int_equal(a.kind[1], GH_FEED_PREFS);
	assert_string_equal(a.user[1], "cy");
	assert_int_equal(a.id[1], 0);
	assert_int_equal(a.kind[2], GH_FEED_ITEM);
	/* from a position on */
	a.after = 2;
	assert_int_equal(gh_store_view(f->st, feed_view, &a), GH_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.seq[0], 3);

	assert_int_equal(gh_store_update(f->st, push_writes, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, push_count, &n), GH_OK);
	assert_int_equal(n, GH_PUSH_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_times),
		cmocka_unit_test(test_lang_tags),
		cmocka_unit_test(test_contacts_validate),
		cmocka_unit_test(test_prefs_validate),
		cmocka_unit_test_setup_teardown(test_contacts_rw_and_push_removal,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_inbox, gh_fx_setup,
		                                gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_inbox_feed_and_push,
		                                gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
