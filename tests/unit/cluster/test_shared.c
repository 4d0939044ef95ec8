/*
 * test_shared.c - the replication log (gatehouse/replog.h), the KV
 * keys and values, and applying bucket entries (cluster/shared.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gatehouse/records.h"
#include "gatehouse/replog.h"
#include "gatehouse/users.h"
#include "../../../cluster/shared.h"
#include "../store_fixture.h"

struct seen {
	char kinds[64];
	size_t n;
	uint64_t seq[64];
};

static int
seen_one(unsigned kind, const void *key, size_t klen, uint64_t seq, void *arg)
{
	struct seen *s = arg;

	(void)key;
	(void)klen;
	s->seq[s->n] = seq;
	s->kinds[s->n++] = (char)kind;
	return s->n == 63;
}

static gh_err
scan_view(struct gh_txn *txn, void *arg)
{
	struct seen *s = arg;

	memset(s, 0, sizeof(*s));
	return gh_replog_scan_txn(txn, seen_one, s);
}

static gh_err
enable_txn(struct gh_txn *txn, void *arg)
{
	return gh_replog_enable_txn(txn, *(int *)arg, NULL);
}

static void
set_on(struct gh_store *st, int on)
{
	assert_int_equal(gh_store_update(st, enable_txn, &on), GH_OK);
}

static gh_err
changes_txn(struct gh_txn *txn, void *arg)
{
	json_t *c = json_pack("{s:s}", "email", "bob@example.org");
	json_t *p = json_pack("{s:{s:s}}", "categories", "news", "off");
	gh_err err;

	if (arg)
		gh_txn_replog_mute(txn);
	err = gh_contacts_put_txn(txn, "bob", c, 1000);
	if (err == GH_OK)
		err = gh_prefs_put_txn(txn, "bob", p, 1000);
	if (err == GH_OK)
		err = gh_suppress_add_txn(txn, "Bob@Example.org", "", "r", "cli",
		                          1000);
	json_decref(c);
	json_decref(p);
	return err;
}

/* A single-host store records nothing; a clustered one records each
 * changed record once; a muted transaction records nothing. */
static void
test_replog_records_only_when_clustered(void **state)
{
	struct gh_fx *f = *state;
	struct seen s;

	assert_int_equal(gh_store_update(f->st, changes_txn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, scan_view, &s), GH_OK);
	assert_int_equal(s.n, 0);
	/* joining: what is there is noted (contacts, push, prefs, suppress) */
	set_on(f->st, 1);
	assert_int_equal(gh_store_view(f->st, scan_view, &s), GH_OK);
	assert_int_equal(s.n, 4);
	set_on(f->st, 0);
	assert_int_equal(gh_store_view(f->st, scan_view, &s), GH_OK);
	assert_int_equal(s.n, 0);
	/* clustered again: seeds again; a muted change adds nothing, and an
	 * unchanged contacts record notes nothing new */
	set_on(f->st, 1);
	assert_int_equal(gh_store_view(f->st, scan_view, &s), GH_OK);
	assert_int_equal(s.n, 4);
	assert_int_equal(gh_store_update(f->st, changes_txn, (void *)1),
	                 GH_OK);
	{
		struct seen t;

		assert_int_equal(gh_store_view(f->st, scan_view, &t), GH_OK);
		assert_int_equal(t.n, 4);
		assert_memory_equal(t.seq, s.seq, sizeof(s.seq));
	}
}

struct done_arg {
	uint64_t seq;
	gh_err err;
};

static gh_err
done_txn(struct gh_txn *txn, void *arg)
{
	struct done_arg *a = arg;

	a->err = gh_replog_done_txn(txn, GH_REP_PREFS, "bob", 3, a->seq);
	return GH_OK;
}

static gh_err
prefs_again_txn(struct gh_txn *txn, void *arg)
{
	json_t *p = json_pack("{s:{s:s}}", "categories", "news", "on");
	gh_err err = gh_prefs_put_txn(txn, "bob", p, 2000);

	(void)arg;
	json_decref(p);
	return err;
}

static gh_err
pending_view(struct gh_txn *txn, void *arg)
{
	return gh_replog_pending_txn(txn, GH_REP_PREFS, "bob", 3, arg);
}

static gh_err
prefs_entry_view(struct gh_txn *txn, void *arg)
{
	return gh_replog_get_txn(txn, GH_REP_PREFS, "bob", 3, arg);
}

/* An entry changed after it was read stays, to be sent again. */
static void
test_replog_done_keeps_newer_changes(void **state)
{
	struct gh_fx *f = *state;
	struct done_arg d = {0, GH_OK};
	uint64_t seq = 0, seq2 = 0;

	set_on(f->st, 1);
	assert_int_equal(gh_store_update(f->st, changes_txn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, pending_view, &seq), GH_OK);
	assert_int_equal(gh_store_update(f->st, prefs_again_txn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, pending_view, &seq2), GH_OK);
	assert_true(seq2 > seq);
	d.seq = seq;
	assert_int_equal(gh_store_update(f->st, done_txn, &d), GH_OK);
	assert_int_equal(d.err, GH_ENOTFOUND);
	d.seq = seq2;
	assert_int_equal(gh_store_update(f->st, done_txn, &d), GH_OK);
	assert_int_equal(d.err, GH_OK);
	assert_int_equal(gh_store_view(f->st, pending_view, &seq),
	                 GH_ENOTFOUND);
}

/* Keys: only [-_.A-Za-z0-9], and back to the same record key. */
static void
test_key_encoding_round_trip(void **state)
{
	char k[GHC_KV_KEY_MAX], back[600];
	unsigned kind;
	size_t n;
	static const char skey[] = "bob@example.org\0news.example.org";
	static const char sall[] = "o'neil+x@example.org";

	(void)state;
	assert_int_equal(ghc_key_encode(GH_REP_SUPPRESS, skey, sizeof(skey) - 1,
	                                k, sizeof(k)), GH_OK);
	assert_non_null(strchr(k, '.'));
	assert_int_equal(strspn(k, "-_.abcdefghijklmnopqrstuvwxyz"
	                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
	                 strlen(k));
	assert_int_equal(ghc_key_decode(1, k, &kind, back, sizeof(back), &n),
	                 GH_OK);
	assert_int_equal(kind, GH_REP_SUPPRESS);
	assert_int_equal(n, sizeof(skey) - 1);
	assert_memory_equal(back, skey, n);
	/* every list: no dot, address and an empty list */
	assert_int_equal(ghc_key_encode(GH_REP_SUPPRESS, sall, sizeof(sall),
	                                k, sizeof(k)), GH_OK);
	assert_null(strchr(k, '.'));
	assert_int_equal(ghc_key_decode(1, k, &kind, back, sizeof(back), &n),
	                 GH_OK);
	assert_int_equal(n, sizeof(sall));
	/* users */
	assert_int_equal(ghc_key_encode(GH_REP_PUSH, "Zoë Ω/..", 10, k,
	                                sizeof(k)), GH_OK);
	assert_int_equal(strncmp(k, "push.", 5), 0);
	assert_int_equal(strspn(k + 5, "-_abcdefghijklmnopqrstuvwxyz"
	                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
	                 strlen(k + 5));
	assert_int_equal(ghc_key_decode(0, k, &kind, back, sizeof(back), &n),
	                 GH_OK);
	assert_int_equal(kind, GH_REP_PUSH);
	assert_int_equal(n, 10);
	assert_memory_equal(back, "Zoë Ω/..", 10);
	/* refused: not normalised, not ours, bad base64, a user with NUL,
	 * a kind unknown, too long for the buffer */
	assert_int_equal(ghc_key_encode(GH_REP_SUPPRESS, "Bob@x\0", 6, k,
	                                sizeof(k)), GH_OK);
	assert_int_equal(ghc_key_decode(1, k, &kind, back, sizeof(back), &n),
	                 GH_EINVAL);
	assert_int_equal(ghc_key_decode(0, "inbox.Ym9i", &kind, back,
	                                sizeof(back), &n), GH_EINVAL);
	assert_int_equal(ghc_key_decode(0, "prefs.Ym9i!", &kind, back,
	                                sizeof(back), &n), GH_EINVAL);
	assert_int_equal(ghc_key_decode(0, "prefs.", &kind, back,
	                                sizeof(back), &n), GH_EINVAL);
	assert_int_equal(ghc_key_decode(1, "", &kind, back, sizeof(back), &n),
	                 GH_EINVAL);
	assert_int_equal(ghc_key_encode(GH_REP_PREFS, "a\0b", 3, k, sizeof(k)),
	                 GH_EINVAL);
	assert_int_equal(ghc_key_encode('x', "bob", 3, k, sizeof(k)),
	                 GH_EINVAL);
	assert_int_equal(ghc_key_encode(GH_REP_PREFS, "bob", 3, k, 8),
	                 GH_ETOOBIG);
}

struct apply_arg {
	const char *key;
	const char *val;      /* NULL: a delete */
	int suppress;
	uint64_t rev;
	int applied;
	gh_err err;
	char why[200];
};

static gh_err
apply_txn(struct gh_txn *txn, void *arg)
{
	struct apply_arg *a = arg;

	gh_txn_replog_mute(txn);
	a->err = ghc_apply_txn(txn, a->suppress, a->key, a->val,
	                       a->val ? strlen(a->val) : 0, a->rev,
	                       &a->applied, a->why, sizeof(a->why));
	return a->err == GH_EINVAL ? GH_OK : a->err;
}

static gh_err
read_txn(struct gh_txn *txn, void *arg)
{
	char **v = arg;

	free(*v);
	return ghc_value_read_txn(txn, GH_REP_SUPPRESS,
	                          "bob@example.org\0", 16, "h1", v);
}

static gh_err
sup_view(struct gh_txn *txn, void *arg)
{
	int *s = arg;

	return gh_suppress_check_txn(txn, "bob@example.org", NULL, s);
}

static gh_err
entry_view(struct gh_txn *txn, void *arg)
{
	return gh_replog_get_txn(txn, GH_REP_SUPPRESS, "bob@example.org\0", 16,
	                         arg);
}

static gh_err
defer_txn(struct gh_txn *txn, void *arg)
{
	(void)arg;
	return gh_replog_defer_txn(txn, GH_REP_PREFS, "bob", 3, 9, GH_REP_PUT,
	                           "{}", 2);
}

/* A deferred change stays with its entry until a newer local change
 * replaces the entry; none for a record without an entry. */
static void
test_replog_defer(void **state)
{
	struct gh_fx *f = *state;
	struct gh_replog_entry e;
	uint64_t seq = 0;

	assert_int_equal(gh_store_update(f->st, defer_txn, NULL),
	                 GH_ENOTFOUND);
	set_on(f->st, 1);
	assert_int_equal(gh_store_update(f->st, changes_txn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, pending_view, &seq), GH_OK);
	assert_int_equal(gh_store_update(f->st, defer_txn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, prefs_entry_view, &e), GH_OK);
	assert_int_equal(e.seq, seq);
	assert_int_equal(e.rev, 9);
	assert_int_equal(e.op, GH_REP_PUT);
	assert_int_equal(e.vlen, 2);
	assert_memory_equal(e.val, "{}", 2);
	assert_int_equal(gh_store_update(f->st, prefs_again_txn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, prefs_entry_view, &e), GH_OK);
	assert_true(e.seq > seq);
	assert_int_equal(e.rev, 0);
}

static gh_err
bob_view(struct gh_txn *txn, void *arg)
{
	return gh_contacts_get_txn(txn, "bob", arg);
}

/* What a bucket holds becomes the store's; what one host publishes
 * another applies; a change waiting here wins; bad entries refused. */
static void
test_apply_entries(void **state)
{
	struct gh_fx *f = *state;
	char k[GHC_KV_KEY_MAX], *val = NULL;
	struct apply_arg a = {0};
	int s = 0;
	struct seen seen;

	assert_int_equal(ghc_key_encode(GH_REP_SUPPRESS, "bob@example.org\0",
	                                16, k, sizeof(k)), GH_OK);
	a.key = k;
	a.suppress = 1;
	a.val = "{\"v\":1,\"addr\":\"bob@example.org\",\"list\":\"\","
	        "\"reason\":\"asked\",\"source\":\"web\",\"created_at\":5}";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_OK);
	assert_int_equal(a.applied, 1);
	assert_int_equal(gh_store_view(f->st, sup_view, &s), GH_OK);
	assert_int_equal(s, 1);
	/* the same again: nothing to change */
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.applied, 0);
	/* what this store would publish for it: the same record */
	assert_int_equal(gh_store_view(f->st, read_txn, &val), GH_OK);
	assert_non_null(val);
	assert_non_null(strstr(val, "\"reason\":\"asked\""));
	assert_non_null(strstr(val, "\"host\":\"h1\""));
	free(val);
	val = NULL;
	/* a key and a value that disagree, or not JSON: refused */
	a.val = "{\"v\":1,\"addr\":\"eve@example.org\",\"list\":\"\"}";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_EINVAL);
	assert_non_null(strstr(a.why, "not a suppression entry"));
	a.val = "[";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_EINVAL);
	/* applied muted: nothing to publish back */
	set_on(f->st, 1);
	set_on(f->st, 0);
	set_on(f->st, 1);
	assert_int_equal(gh_store_view(f->st, scan_view, &seen), GH_OK);
	assert_int_equal(seen.n, 1);   /* the seed of the entry */
	/* a local change waiting: the bucket's delete is kept with it (to
	 * be compared with the revision its publish gets), not applied */
	a.val = NULL;
	a.rev = 42;
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_OK);
	assert_int_equal(a.applied, 0);
	assert_int_equal(gh_store_view(f->st, sup_view, &s), GH_OK);
	assert_int_equal(s, 1);
	{
		struct gh_replog_entry e;

		assert_int_equal(gh_store_view(f->st, entry_view, &e), GH_OK);
		assert_int_equal(e.rev, 42);
		assert_int_equal(e.op, GH_REP_DEL);
		assert_int_equal(e.vlen, 0);
	}
	/* once published, the delete applies */
	set_on(f->st, 0);
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.applied, 1);
	assert_int_equal(gh_store_view(f->st, sup_view, &s), GH_OK);
	assert_int_equal(s, 0);
	/* a user's push arrives without contacts: a record with just push;
	 * contacts arrive later and keep it */
	assert_int_equal(ghc_key_encode(GH_REP_PUSH, "bob", 3, k, sizeof(k)),
	                 GH_OK);
	a.suppress = 0;
	a.val = "{\"v\":1,\"user\":\"bob\",\"push\":[{\"endpoint\":"
	        "\"https://p.example/1\",\"keys\":{\"p256dh\":\"BOr9yTCrqiP6Sx9"
	        "tRaKfmRTsb01tnhJd2Bu6gE7ZtNDf0qYCnXnDW_0oWHOj6Ghi9Z4D0ZxcbSV5m"
	        "JLaXFgm0oU\",\"auth\":\"aGVsbG8td29ybGQtMTIzNA\"}}]}";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_OK);
	assert_int_equal(a.applied, 1);
	assert_int_equal(ghc_key_encode(GH_REP_CONTACTS, "bob", 3, k,
	                                sizeof(k)), GH_OK);
	a.val = "{\"v\":1,\"user\":\"bob\",\"contacts\":{\"email\":"
	        "\"bob@example.org\"},\"updated_at\":7}";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_OK);
	assert_int_equal(a.applied, 1);
	{
		json_t *rec = NULL;

		assert_int_equal(gh_store_view(f->st, bob_view, &rec), GH_OK);
		assert_string_equal(json_string_value(json_object_get(rec,
		                    "email")), "bob@example.org");
		assert_int_equal(json_array_size(json_object_get(rec, "push")),
		                 1);
		json_decref(rec);
	}
	/* contacts that do not validate: refused */
	a.val = "{\"v\":1,\"user\":\"bob\",\"contacts\":{\"phone\":\"12\"}}";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_EINVAL);
	/* another user's key with bob's record: refused */
	assert_int_equal(ghc_key_encode(GH_REP_CONTACTS, "eve", 3, k,
	                                sizeof(k)), GH_OK);
	a.val = "{\"v\":1,\"user\":\"bob\",\"contacts\":{}}";
	assert_int_equal(gh_store_update(f->st, apply_txn, &a), GH_OK);
	assert_int_equal(a.err, GH_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_replog_records_only_when_clustered, gh_fx_setup,
		    gh_fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_replog_done_keeps_newer_changes, gh_fx_setup,
		    gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_replog_defer, gh_fx_setup,
		                                gh_fx_teardown),
		cmocka_unit_test(test_key_encoding_round_trip),
		cmocka_unit_test_setup_teardown(test_apply_entries, gh_fx_setup,
		                                gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
