/*
 * test_gscan.c - unit tests of the scanner shared by gatehouse-milter and
 * the nginx module (scanner/gscan.h): every verdict from a real libclamav
 * engine with a signature database written here (clean, infected,
 * unscannable for size, encryption and nesting, the clean-after-error
 * guard with a temporary directory libclamav cannot make), from memory
 * and from a descriptor (small: read; large: mapped), the engine's reuse
 * and change check, and gscan_classify() as the pure function it is.
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

#include <clamav.h>
#include <cmocka.h>

#include "../../../scanner/gscan.h"
#include "../gscan_fixture.h"

#define SIG FX_SIG ".UNOFFICIAL"

static struct gscan_engine *
open_engine(const struct fx_db *d, struct gscan_config *c)
{
	struct gscan_engine *e = NULL;
	char detail[256] = "";

	c->dbdir = d->db;
	assert_int_equal(gscan_engine_open(c, NULL, &e, detail,
	                                   sizeof(detail)), GH_OK);
	assert_non_null(e);
	assert_int_equal(gscan_engine_signatures(e), 1);
	return e;
}

static void
scan_fd_of(const struct gscan_engine *e, const char *dir, const void *p,
           size_t len, struct gscan_verdict *v)
{
	int fd = fx_file(dir, p, len);

	gscan_fd(e, fd, "test", v);
	close(fd);
}

static void
test_clean_and_infected(void **state)
{
	struct fx_db d;
	struct gscan_config c = {0};
	struct gscan_engine *e;
	struct gscan_verdict v;
	const char clean[] = "just some bytes, nothing else";
	size_t big = GSCAN_MAP_MIN + 4096;
	char *p = malloc(big);

	(void)state;
	fx_db_make(&d);
	e = open_engine(&d, &c);
	gscan_mem(e, clean, sizeof(clean) - 1, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	assert_int_equal(v.reason, GSCAN_R_NONE);
	assert_string_equal(v.name, "");
	gscan_mem(e, "", 0, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	scan_fd_of(e, d.dir, clean, sizeof(clean) - 1, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);

	gscan_mem(e, FX_EICAR, strlen(FX_EICAR), &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, SIG);
	scan_fd_of(e, d.dir, FX_EICAR, strlen(FX_EICAR), &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, SIG);

	/* past GSCAN_MAP_MIN the file is mapped: EICAR at its very end */
	assert_non_null(p);
	memset(p, 'a', big);
	memcpy(p + big - strlen(FX_EICAR), FX_EICAR, strlen(FX_EICAR));
	scan_fd_of(e, d.dir, p, big, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, SIG);
	memset(p, 'a', big);
	scan_fd_of(e, d.dir, p, big, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	free(p);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

static void
test_infected_inside_a_zip(void **state)
{
	struct fx_db d;
	struct gscan_config c = {0};
	struct gscan_engine *e;
	struct gscan_verdict v;
	struct fx_buf z = fx_zip("eicar.com", FX_EICAR, strlen(FX_EICAR),
	                         FX_DEFLATED);

	(void)state;
	fx_db_make(&d);
	e = open_engine(&d, &c);
	gscan_mem(e, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, SIG);
	scan_fd_of(e, d.dir, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	free(z.p);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

static void
test_unscannable_size(void **state)
{
	struct fx_db d;
	struct gscan_config c = {.max_filesize = 64 * 1024,
	                         .max_scansize = 128 * 1024};
	struct gscan_engine *e;
	struct gscan_verdict v;
	size_t n = 300 * 1024, len = strlen(FX_EICAR);
	char *zeros = calloc(1, n);
	struct fx_buf z, zv;

	(void)state;
	assert_non_null(zeros);
	fx_db_make(&d);
	e = open_engine(&d, &c);
	assert_int_equal(gscan_engine_max_filesize(e), 64 * 1024);
	/* an archive that fits, holding a file past max_scansize */
	z = fx_zip("big.bin", zeros, n, FX_DEFLATED);
	assert_true(z.len < 64 * 1024);
	gscan_mem(e, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_SIZE);
	assert_string_equal(v.name, "Heuristics.Limits.Exceeded.MaxScanSize");
	assert_string_equal(gscan_reason_name(v.reason), "size");
	scan_fd_of(e, d.dir, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_SIZE);
	/* the input itself past max_filesize: checked before libclamav,
	 * which would say "virus" with no name */
	gscan_mem(e, zeros, 65 * 1024, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_SIZE);
	assert_string_equal(v.name, "Heuristics.Limits.Exceeded.MaxFileSize");
	scan_fd_of(e, d.dir, zeros, n, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_SIZE);
	gscan_engine_unref(e);
	/* a member past max_filesize but within max_scansize is scanned,
	 * not skipped in silence as libclamav 1.4 would: EICAR at its end */
	c.max_scansize = 0;
	e = open_engine(&d, &c);
	memcpy(zeros + n - len, FX_EICAR, len);
	zv = fx_zip("big.com", zeros, n, FX_DEFLATED);
	assert_true(zv.len < 64 * 1024);
	gscan_mem(e, zv.p, zv.len, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, SIG);
	free(z.p);
	free(zv.p);
	free(zeros);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

static void
test_unscannable_encrypted(void **state)
{
	struct fx_db d;
	struct gscan_config c = {0};
	struct gscan_engine *e;
	struct gscan_verdict v;
	const char secret[] = "whatever the archive hides";
	struct fx_buf z = fx_zip("secret.txt", secret, sizeof(secret) - 1,
	                         FX_ENCRYPTED);

	(void)state;
	fx_db_make(&d);
	e = open_engine(&d, &c);
	gscan_mem(e, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_ENCRYPTED);
	assert_string_equal(v.name, "Heuristics.Encrypted.Zip");
	assert_string_equal(gscan_kind_name(v.kind), "unscannable");
	assert_string_equal(gscan_reason_name(v.reason), "encrypted");
	free(z.p);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

static void
test_unscannable_nested(void **state)
{
	struct fx_db d;
	struct gscan_config c = {.max_recursion = 3};
	struct gscan_engine *e;
	struct gscan_verdict v;
	struct fx_buf z = fx_nested(6), shallow = fx_nested(2);

	(void)state;
	fx_db_make(&d);
	e = open_engine(&d, &c);
	gscan_mem(e, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_NESTED);
	assert_string_equal(v.name, "Heuristics.Limits.Exceeded.MaxRecursion");
	/* within the limit the virus inside is found */
	gscan_mem(e, shallow.p, shallow.len, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, SIG);
	free(z.p);
	free(shallow.p);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

static unsigned logged_errors;
static char logged[256];

static void
count_log(int level, const char *msg)
{
	if (level == 0) {
		logged_errors++;
		snprintf(logged, sizeof(logged), "%s", msg);
	}
}

/*
 * The guard, for real: a temporary directory libclamav cannot make (its
 * parent does not exist).  libclamav 1.4 then answers CL_CLEAN for a zip
 * with EICAR inside, and says so only to its message callback.
 */
static void
test_clean_after_error_is_an_error(void **state)
{
	struct fx_db d;
	struct gscan_config c = {0};
	struct gscan_engine *e;
	struct gscan_verdict v;
	char tmp[160];
	struct fx_buf z = fx_zip("eicar.com", FX_EICAR, strlen(FX_EICAR),
	                         FX_DEFLATED);

	(void)state;
	fx_db_make(&d);
	snprintf(tmp, sizeof(tmp), "%s/missing/tmp", d.dir);
	c.tmpdir = tmp;
	e = open_engine(&d, &c);
	logged_errors = 0;
	gscan_mem(e, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	assert_string_equal(gscan_kind_name(v.kind), "error");
	assert_non_null(strstr(v.name, "libclamav: "));
	assert_non_null(strstr(v.name, "temporary directory"));
	assert_true(logged_errors > 0);	/* and the host's log heard it */
	assert_non_null(strstr(logged, "temporary directory"));
	/* libclamav makes a directory for every scan: even a plain file
	 * is not scanned, and never called clean */
	gscan_mem(e, "plain", 5, &v);
	assert_int_equal(v.kind, GSCAN_ERROR);
	gscan_engine_unref(e);
	/* the same scans with a directory it can make: the count is per
	 * scan, nothing left over from the failed ones */
	c.tmpdir = d.dir;
	e = open_engine(&d, &c);
	gscan_mem(e, "plain", 5, &v);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	gscan_mem(e, z.p, z.len, &v);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	free(z.p);
	gscan_engine_unref(e);
	fx_db_remove(&d);
}

static void
test_classify(void **state)
{
	static const struct {
		int rc;
		const char *name;
		unsigned nerr;
		const char *err;
		enum gscan_kind kind;
		enum gscan_reason reason;
		const char *out;
	} t[] = {
		{CL_CLEAN, NULL, 0, NULL, GSCAN_CLEAN, GSCAN_R_NONE, ""},
		/* the guard */
		{CL_CLEAN, NULL, 1, "Can't create temporary directory x.\n",
		 GSCAN_ERROR, GSCAN_R_NONE,
		 "libclamav: Can't create temporary directory x"},
		{CL_CLEAN, NULL, 2, NULL, GSCAN_ERROR, GSCAN_R_NONE,
		 "libclamav: an error during the scan"},
		{CL_VIRUS, "Win.Test.EICAR_HDB-1", 0, NULL, GSCAN_INFECTED,
		 GSCAN_R_NONE, "Win.Test.EICAR_HDB-1"},
		/* an error logged during an infected scan: still infected */
		{CL_VIRUS, "Eicar", 1, "x", GSCAN_INFECTED, GSCAN_R_NONE,
		 "Eicar"},
		{CL_VIRUS, NULL, 0, NULL, GSCAN_UNSCANNABLE, GSCAN_R_LIMIT,
		 "Heuristics.Limits.Exceeded"},
		{CL_VIRUS, "", 0, NULL, GSCAN_UNSCANNABLE, GSCAN_R_LIMIT,
		 "Heuristics.Limits.Exceeded"},
		{CL_VIRUS, "Heuristics.Limits.Exceeded.MaxScanSize", 0, NULL,
		 GSCAN_UNSCANNABLE, GSCAN_R_SIZE,
		 "Heuristics.Limits.Exceeded.MaxScanSize"},
		{CL_VIRUS, "Heuristics.Limits.Exceeded.MaxFiles", 0, NULL,
		 GSCAN_UNSCANNABLE, GSCAN_R_FILES,
		 "Heuristics.Limits.Exceeded.MaxFiles"},
		{CL_VIRUS, "Heuristics.Limits.Exceeded.MaxScanTime", 0, NULL,
		 GSCAN_UNSCANNABLE, GSCAN_R_TIMEOUT,
		 "Heuristics.Limits.Exceeded.MaxScanTime"},
		{CL_VIRUS, "Heuristics.Limits.Exceeded.MaxEmbeddedPE", 0, NULL,
		 GSCAN_UNSCANNABLE, GSCAN_R_LIMIT,
		 "Heuristics.Limits.Exceeded.MaxEmbeddedPE"},
		{CL_VIRUS, "Heuristics.Encrypted.PDF", 0, NULL,
		 GSCAN_UNSCANNABLE, GSCAN_R_ENCRYPTED,
		 "Heuristics.Encrypted.PDF"},
		/* other heuristics are detections */
		{CL_VIRUS, "Heuristics.Phishing.Email.SpoofedDomain", 0, NULL,
		 GSCAN_INFECTED, GSCAN_R_NONE,
		 "Heuristics.Phishing.Email.SpoofedDomain"},
		{CL_ETIMEOUT, NULL, 0, NULL, GSCAN_UNSCANNABLE,
		 GSCAN_R_TIMEOUT, "Heuristics.Limits.Exceeded.MaxScanTime"},
		{CL_EMAXSIZE, NULL, 0, NULL, GSCAN_UNSCANNABLE, GSCAN_R_SIZE,
		 "Heuristics.Limits.Exceeded.MaxScanSize"},
		{CL_EMAXFILES, NULL, 0, NULL, GSCAN_UNSCANNABLE, GSCAN_R_FILES,
		 "Heuristics.Limits.Exceeded.MaxFiles"},
		{CL_EMAXREC, NULL, 0, NULL, GSCAN_UNSCANNABLE, GSCAN_R_NESTED,
		 "Heuristics.Limits.Exceeded.MaxRecursion"},
		{CL_EMEM, NULL, 0, NULL, GSCAN_ERROR, GSCAN_R_NONE, NULL},
		{CL_EOPEN, NULL, 3, "x", GSCAN_ERROR, GSCAN_R_NONE, NULL},
	};
	struct gscan_verdict v;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&v, 0x55, sizeof(v));
		gscan_classify(t[i].rc, t[i].name, t[i].nerr, t[i].err, &v);
		assert_int_equal(v.kind, t[i].kind);
		assert_int_equal(v.reason, t[i].reason);
		if (t[i].out)
			assert_string_equal(v.name, t[i].out);
		else
			assert_non_null(strstr(v.name, "libclamav: "));
	}
	/* a long virus name is cut, never overrun */
	{
		char name[400];

		memset(name, 'V', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		gscan_classify(CL_VIRUS, name, 0, NULL, &v);
		assert_int_equal(strlen(v.name), GSCAN_NAME_MAX - 1);
	}
}

static void
test_engine_reuse_and_change(void **state)
{
	struct fx_db d;
	struct gscan_config c = {0};
	struct gscan_engine *e, *same = NULL, *other = NULL;
	unsigned char now[32];
	char detail[256] = "", path[160];
	FILE *f;

	(void)state;
	fx_db_make(&d);
	e = open_engine(&d, &c);
	assert_string_equal(gscan_engine_dbdir(e), d.db);
	assert_int_equal(gscan_engine_db_changed(e, now), 0);
	/* same directory, same limits: the same engine, one more ref */
	assert_int_equal(gscan_engine_open(&c, e, &same, detail,
	                                   sizeof(detail)), GH_OK);
	assert_ptr_equal(same, e);
	gscan_engine_unref(same);
	/* other limits: another engine */
	c.max_scantime_ms = 5000;
	assert_int_equal(gscan_engine_open(&c, e, &other, detail,
	                                   sizeof(detail)), GH_OK);
	assert_ptr_not_equal(other, e);
	gscan_engine_unref(other);
	/* a new file in the directory is a change */
	snprintf(path, sizeof(path), "%s/more.ndb", d.db);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "Gatehouse.Test.Other-1:0:*:%s\n", "6761746568");
	fclose(f);
	assert_int_equal(gscan_engine_db_changed(e, now), 1);
	gscan_engine_unref(e);
	unlink(path);
	/* errors */
	c.dbdir = "/nonexistent/db";
	assert_int_equal(gscan_engine_open(&c, NULL, &other, detail,
	                                   sizeof(detail)), GH_ENOTFOUND);
	assert_null(other);
	/* a directory without databases */
	snprintf(path, sizeof(path), "%s/empty", d.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	c.dbdir = path;
	detail[0] = '\0';
	assert_int_not_equal(gscan_engine_open(&c, NULL, &other, detail,
	                                       sizeof(detail)), GH_OK);
	assert_null(other);
	assert_non_null(strstr(detail, path));
	c.dbdir = d.db;
	c.max_files = (int64_t)UINT32_MAX + 1;
	assert_int_equal(gscan_engine_open(&c, NULL, &other, detail,
	                                   sizeof(detail)), GH_EINVAL);
	gscan_engine_unref(NULL);
	fx_db_remove(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_and_infected),
		cmocka_unit_test(test_infected_inside_a_zip),
		cmocka_unit_test(test_unscannable_size),
		cmocka_unit_test(test_unscannable_encrypted),
		cmocka_unit_test(test_unscannable_nested),
		cmocka_unit_test(test_clean_after_error_is_an_error),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_engine_reuse_and_change),
	};

	gscan_set_log(count_log);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
