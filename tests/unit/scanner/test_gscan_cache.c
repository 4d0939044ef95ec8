/*
 * test_gscan_cache.c - the clamd backend's reply parser and VERSION check,
 * the verdict cache's records through a real store, and the engine key
 * (scanner/gscan.h CLAMD, scanner/gscache.h).  clamd itself is exercised
 * by the integration tests (tests/integration/nginx_module/test_nginx_clamd.py,
 * milter/test_milter_vcache.py), against Debian's clamd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../scanner/gscan.h"
#include "../../../scanner/gscache.h"
#include "../gscan_fixture.h"
#include "../store_fixture.h"

static void
reply(const char *r, struct gscan_verdict *v)
{
	memset(v, 0x55, sizeof(*v));
	gscan_clamd_reply(r, strlen(r) + 1, v);	/* with its NUL */
}

static void
test_clamd_reply(void **state)
{
	struct gscan_verdict v;
	char big[600];

	(void)state;
	reply("stream: OK", &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	assert_string_equal(v.name, "");
	reply("stream: Win.Test.EICAR_HDB-1 FOUND", &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, "Win.Test.EICAR_HDB-1");
	/* newline-terminated (a client without the z prefix) */
	gscan_clamd_reply("stream: OK\n", 11, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	/* heuristics as libclamav's own */
	reply("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_SIZE);
	reply("stream: Heuristics.Limits.Exceeded.MaxScanTime FOUND", &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_TIMEOUT);
	reply("stream: Heuristics.Encrypted.Zip FOUND", &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_ENCRYPTED);
	/* the size limit */
	reply("INSTREAM size limit exceeded. ERROR", &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_SIZE);
	assert_string_equal(v.name, "clamd: INSTREAM size limit exceeded");
	/* other errors */
	reply("stream: Can't allocate memory ERROR", &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	assert_string_equal(v.name, "clamd: Can't allocate memory");
	reply("UNKNOWN COMMAND", &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	assert_non_null(strstr(v.name, "unexpected reply"));
	reply("", &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	reply("stream:  FOUND", &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	reply("stream: two words FOUND", &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	reply("stream: OK trailing", &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	/* control bytes never reach a name; a long one is cut */
	gscan_clamd_reply("stream: Bad\x01\x7fName FOUND", 25, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, "Bad??Name");
	memcpy(big, "stream: ", 8);
	memset(big + 8, 'A', 500);
	memcpy(big + 508, " FOUND", 7);
	gscan_clamd_reply(big, 515, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_int_equal(strlen(v.name), GSCAN_NAME_MAX - 1);
	/* only up to the NUL */
	gscan_clamd_reply("stream: OK\0garbage FOUND", 24, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
}

static void
test_clamd_version(void **state)
{
	const char *with = "ClamAV 1.4.6/27842/Sat Dec  5 09:27:01 2026";

	(void)state;
	assert_int_equal(gscan_clamd_version(with, strlen(with)), 1);
	assert_int_equal(gscan_clamd_version("ClamAV 1.4.6", 12), 0);
	assert_int_equal(gscan_clamd_version("ClamAV 1.4.6/0/x", 16), 0);
	assert_int_equal(gscan_clamd_version("ClamAV 1.4.6/27a/x", 18), -1);
	assert_int_equal(gscan_clamd_version("PONG", 4), -1);
	assert_int_equal(gscan_clamd_version("", 0), -1);
}

struct put_arg {
	const unsigned char *key;
	const struct gscan_verdict *v;
};

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	struct put_arg *a = arg;

	return gscan_cache_put(txn, a->key, a->v, 1234);
}

static void
test_cache_records(void **state)
{
	struct gh_fx *f = *state;
	unsigned char sha[32], ek[GSCAN_KEY_LEN], key[GSCAN_CACHE_KEY_LEN];
	unsigned char val[GSCAN_CACHE_VAL_MAX];
	struct gscan_verdict v = {0}, got;
	struct put_arg pa;
	int64_t t = 0;
	size_t n;

	memset(sha, 0xab, sizeof(sha));
	memset(ek, 0x01, sizeof(ek));
	gscan_cache_key(sha, ek, key);
	assert_memory_equal(key, sha, 32);
	assert_memory_equal(key + 32, ek, 32);

	/* only clean and infected are worth keeping */
	v.kind = GSCAN_UNSCANNABLE;
	assert_false(gscan_cacheable(&v));
	assert_int_equal(gscan_cache_encode(&v, 1, val), 0);
	v.kind = GSCAN_ERROR;
	assert_false(gscan_cacheable(&v));
	v.kind = GSCAN_INFECTED;	/* no name: not a verdict to repeat */
	assert_false(gscan_cacheable(&v));
	snprintf(v.name, sizeof(v.name), "Gatehouse.Test");
	n = gscan_cache_encode(&v, 1234, val);
	assert_int_equal(n, 11 + strlen("Gatehouse.Test"));
	assert_int_equal(gscan_cache_decode(val, n, &got, &t), GH_OK);
	assert_int_equal(got.kind, GSCAN_INFECTED);
	assert_string_equal(got.name, "Gatehouse.Test");
	assert_int_equal(t, 1234);
	/* other layouts are refused */
	val[0] = 2;
	assert_int_equal(gscan_cache_decode(val, n, &got, NULL), GH_ECORRUPT);
	val[0] = 1;
	assert_int_equal(gscan_cache_decode(val, 5, &got, NULL), GH_ECORRUPT);
	val[1] = 0;	/* clean with a name */
	assert_int_equal(gscan_cache_decode(val, n, &got, NULL), GH_ECORRUPT);

	/* through the store */
	assert_int_equal(gscan_cache_lookup(f->st, key, &got), GH_ENOTFOUND);
	pa.key = key;
	pa.v = &v;
	assert_int_equal(gh_store_update(f->st, put_fn, &pa), GH_OK);
	assert_int_equal(gscan_cache_lookup(f->st, key, &got), GH_OK);
	assert_int_equal(got.kind, GSCAN_INFECTED);
	assert_string_equal(got.name, "Gatehouse.Test");
	/* another engine key: not found */
	key[40] ^= 1;
	assert_int_equal(gscan_cache_lookup(f->st, key, &got), GH_ENOTFOUND);
}

/* The key changes with the signatures and the limits, never otherwise. */
static void
test_engine_key(void **state)
{
	struct fx_db d;
	struct gscan_config c = {0};
	struct gscan_engine *e, *e2, *e3;
	unsigned char k1[GSCAN_KEY_LEN], k2[GSCAN_KEY_LEN], k3[GSCAN_KEY_LEN];
	char detail[256] = "", path[160];
	FILE *fp;

	(void)state;
	fx_db_make(&d);
	c.dbdir = d.db;
	assert_int_equal(gscan_engine_open(&c, NULL, &e, detail,
	                                   sizeof(detail)), GH_OK);
	assert_int_equal(gscan_engine_key(e, k1, detail, sizeof(detail)),
	                 GH_OK);
	/* the same database and limits: the same key, in a new engine too */
	assert_int_equal(gscan_engine_open(&c, NULL, &e2, detail,
	                                   sizeof(detail)), GH_OK);
	assert_int_equal(gscan_engine_key(e2, k2, detail, sizeof(detail)),
	                 GH_OK);
	assert_memory_equal(k1, k2, sizeof(k1));
	gscan_engine_unref(e2);
	/* other limits */
	c.max_scansize = 1 << 20;
	assert_int_equal(gscan_engine_open(&c, NULL, &e2, detail,
	                                   sizeof(detail)), GH_OK);
	assert_int_equal(gscan_engine_key(e2, k2, detail, sizeof(detail)),
	                 GH_OK);
	assert_memory_not_equal(k1, k2, sizeof(k1));
	gscan_engine_unref(e2);
	c.max_scansize = 0;
	/* a signature more (a database without a version) */
	snprintf(path, sizeof(path), "%s/more.ndb", d.db);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "Gatehouse.Test.Other-1:0:*:%s\n", "6761746568");
	fclose(fp);
	assert_int_equal(gscan_engine_open(&c, e, &e3, detail,
	                                   sizeof(detail)), GH_OK);
	assert_ptr_not_equal(e3, e);
	assert_int_equal(gscan_engine_key(e3, k3, detail, sizeof(detail)),
	                 GH_OK);
	assert_memory_not_equal(k1, k3, sizeof(k1));
	/* the old engine keeps its own key: its verdicts stay its own */
	assert_int_equal(gscan_engine_key(e, k2, detail, sizeof(detail)),
	                 GH_OK);
	assert_memory_equal(k1, k2, sizeof(k1));
	gscan_engine_unref(e3);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

/* clamd: nothing is loaded; a clamd that is not there is an ERROR. */
static void
test_clamd_engine(void **state)
{
	struct gscan_config c = {0};
	struct gscan_engine *e = NULL, *same = NULL;
	struct gscan_verdict v;
	unsigned char k[GSCAN_KEY_LEN];
	char detail[256] = "";

	(void)state;
	assert_true(gscan_is_clamd("clamd:/run/clamav/clamd.ctl"));
	assert_false(gscan_is_clamd("/var/lib/clamav"));
	c.dbdir = "clamd:relative";
	assert_int_equal(gscan_engine_open(&c, NULL, &e, detail,
	                                   sizeof(detail)), GH_EINVAL);
	c.dbdir = "clamd:/nonexistent/gatehouse-test/clamd.ctl";
	assert_int_equal(gscan_engine_open(&c, NULL, &e, detail,
	                                   sizeof(detail)), GH_OK);
	assert_string_equal(gscan_engine_clamd(e),
	                    "/nonexistent/gatehouse-test/clamd.ctl");
	assert_int_equal(gscan_engine_signatures(e), 0);
	assert_int_equal(gscan_engine_open(&c, e, &same, detail,
	                                   sizeof(detail)), GH_OK);
	assert_ptr_equal(same, e);
	gscan_engine_unref(same);
	gscan_mem(e, "hello", 5, &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	assert_non_null(strstr(v.name, "clamd: connect"));
	gscan_mem(e, "", 0, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	assert_int_equal(gscan_engine_key(e, k, detail, sizeof(detail)),
	                 GH_EIO);
	gscan_engine_unref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clamd_reply),
		cmocka_unit_test(test_clamd_version),
		cmocka_unit_test_setup_teardown(test_cache_records,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test(test_engine_key),
		cmocka_unit_test(test_clamd_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
