/*
 * test_scan.c - the scanner in gatehouse-milter's terms: a real
 * configuration ([milter] scan, on_scan_error, on_scan_limit, scan_max_size,
 * clamav_tmp) loaded by gm_mcfg_load, messages streamed into the spool
 * (memory and, past GH_SPOOL_MEM_MAX, the unnamed file) and scanned with
 * the engine it built, and each verdict's action (gm_scan_policy): clean
 * accepted, infected rejected, unscannable by on_scan_limit (a timeout by
 * on_scan_error), error and clean-after-error by on_scan_error.  And what
 * decides that a message is plain text for scan_text = no (msg.c).
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

#include "../../../milter/mcfg.h"
#include "../../../milter/msg.h"
#include "../../../milter/scan.h"
#include "../gscan_fixture.h"

static struct fx_db db;

static int
setup(void **state)
{
	char p[160];

	(void)state;
	fx_db_make(&db);
	snprintf(p, sizeof(p), "%s/dkim", db.dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/spool", db.dir);
	assert_int_equal(mkdir(p, 0700), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fx_db_remove(&db);
	return 0;
}

/* A configuration with scanning on and extra [milter] lines. */
static struct gm_mcfg *
load(const char *extra)
{
	char path[160], detail[512] = "";
	struct gm_mcfg *c = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/gatehouse.conf", db.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[milter]\nscan = yes\nclamav_db = %s\nspool_dir = %s/spool\n"
	        "%s\n%s\n[dkim]\nkey_dir = %s/dkim\n", db.db, db.dir,
	        strstr(extra, "scan_max_size") ? "" : "scan_max_size = 64K",
	        extra, db.dir);
	fclose(f);
	if (gm_mcfg_load(path, NULL, 1, &c, detail, sizeof(detail)) != GH_OK)
		fail_msg("load: %s", detail);
	assert_non_null(c->scanner);
	return c;
}

/* The message as the milter spools it, scanned: the verdict and the
 * action. */
static gm_scan_act
scan_message(const struct gm_mcfg *c, const void *msg, size_t len,
             struct gscan_verdict *v)
{
	struct gm_spool sp;
	const unsigned char *p = msg;

	gm_spool_open(&sp, c->spool_dir, (uint64_t)c->scan_max_size);
	/* in chunks, as libmilter hands the body over */
	for (size_t o = 0; o < len; o += 1000)
		gm_spool_write(&sp, p + o, len - o < 1000 ? len - o : 1000);
	gm_spool_scan(c->scanner, &sp, v);
	gm_spool_close(&sp);
	return gm_scan_policy(c, v);
}

static const char HDR[] = "From: joe@example.org\r\nTo: bob@example.net\r\n"
    "Subject: t\r\nMIME-Version: 1.0\r\n";

#define MP_HEAD "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n" \
    "--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" \
    "--B\r\nContent-Type: application/octet-stream\r\n" \
    "Content-Transfer-Encoding: base64\r\n\r\n"

/* A multipart message: a text part, then an attachment (base64). */
static struct fx_buf
with_attachment(const void *data, size_t len)
{
	struct fx_buf m = {0};
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                          "0123456789+/";
	const unsigned char *p = data;
	int col = 0;

	fx_put(&m, HDR, strlen(HDR));
	fx_put(&m, MP_HEAD, strlen(MP_HEAD));
	for (size_t i = 0; i < len; i += 3) {
		uint32_t n = (uint32_t)p[i] << 16;
		char q[4];

		if (i + 1 < len)
			n |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			n |= p[i + 2];
		q[0] = b64[(n >> 18) & 63];
		q[1] = b64[(n >> 12) & 63];
		q[2] = i + 1 < len ? b64[(n >> 6) & 63] : '=';
		q[3] = i + 2 < len ? b64[n & 63] : '=';
		fx_put(&m, q, 4);
		if (++col == 19) {
			fx_put(&m, "\r\n", 2);
			col = 0;
		}
	}
	fx_put(&m, "\r\n--B--\r\n", 9);
	return m;
}

/* uuencode's character for 6 bits ('`' for 0, as uuencode(1) writes) */
static char
uu_char(unsigned v)
{
	return v ? (char)(' ' + v) : '`';
}

/* A text/plain message whose body is some text and data uuencoded. */
static void
uu_message(char *out, size_t cap, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t o = (size_t)snprintf(out, cap, "%sContent-Type: text/plain\r\n"
	                            "\r\nthe file:\r\n\r\nbegin 644 x.com\r\n",
	                            HDR);

	for (size_t i = 0; i < len; i += 45) {
		size_t n = len - i < 45 ? len - i : 45;

		assert_true(o + 70 < cap);
		out[o++] = uu_char((unsigned)n);
		for (size_t j = 0; j < n; j += 3) {
			unsigned b0 = p[i + j];
			unsigned b1 = j + 1 < n ? p[i + j + 1] : 0;
			unsigned b2 = j + 2 < n ? p[i + j + 2] : 0;

			out[o++] = uu_char(b0 >> 2);
			out[o++] = uu_char(((b0 & 3) << 4) | (b1 >> 4));
			out[o++] = uu_char(((b1 & 15) << 2) | (b2 >> 6));
			out[o++] = uu_char(b2 & 63);
		}
		out[o++] = '\r';
		out[o++] = '\n';
	}
	snprintf(out + o, cap - o, "`\r\nend\r\n\r\nbye\r\n");
}

static void
test_clean_and_infected(void **state)
{
	struct gm_mcfg *c = load("");
	struct gscan_verdict v;
	struct fx_buf m = with_attachment("just bytes", 10);
	struct fx_buf e = with_attachment(FX_EICAR, strlen(FX_EICAR));
	char uu[512];

	(void)state;
	assert_int_equal(scan_message(c, m.p, m.len, &v), GH_SCAN_ACCEPT);
	assert_int_equal(v.kind, GSCAN_CLEAN);
	assert_int_equal(scan_message(c, e.p, e.len, &v), GH_SCAN_REJECT);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	assert_string_equal(v.name, FX_SIG ".UNOFFICIAL");
	/* a uuencoded EICAR in a text/plain message */
	uu_message(uu, sizeof(uu), FX_EICAR, strlen(FX_EICAR));
	assert_int_equal(scan_message(c, uu, strlen(uu), &v), GH_SCAN_REJECT);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	free(m.p);
	free(e.p);
	gm_mcfg_unref(c);
}

static void
test_big_message_from_the_spool_file(void **state)
{
	struct gm_mcfg *c = load("scan_max_size = 1M");
	struct gscan_verdict v;
	size_t n = GH_SPOOL_MEM_MAX + 4096;
	char *data = malloc(n);
	struct fx_buf m;

	(void)state;
	assert_non_null(data);
	memset(data, 'a', n);
	memcpy(data + n - strlen(FX_EICAR), FX_EICAR, strlen(FX_EICAR));
	m = with_attachment(data, n);
	assert_int_equal(scan_message(c, m.p, m.len, &v), GH_SCAN_REJECT);
	assert_int_equal(v.kind, GSCAN_INFECTED);
	free(m.p);
	free(data);
	gm_mcfg_unref(c);
}

static void
test_unscannable_follows_on_scan_limit(void **state)
{
	static const struct {
		const char *conf;
		gm_scan_act act;
	} t[] = {
		{"", GH_SCAN_ACCEPT},	/* the default */
		{"on_scan_limit = accept", GH_SCAN_ACCEPT},
		{"on_scan_limit = tempfail", GH_SCAN_TEMPFAIL},
		{"on_scan_limit = reject", GH_SCAN_REJECT},
		/* on_scan_error has no say */
		{"on_scan_limit = reject\non_scan_error = accept",
		 GH_SCAN_REJECT},
	};
	const char secret[] = "whatever";
	struct fx_buf z = fx_zip("s.txt", secret, sizeof(secret) - 1,
	                         FX_ENCRYPTED);
	struct fx_buf m = with_attachment(z.p, z.len);
	size_t n = 600 * 1024;
	char *zeros = calloc(1, n);
	struct fx_buf big, mb;
	struct gscan_verdict v;

	(void)state;
	assert_non_null(zeros);
	/* a small zip whose file is more than libclamav may read for a
	 * 64K message (four times it) */
	big = fx_zip("big.bin", zeros, n, FX_DEFLATED);
	mb = with_attachment(big.p, big.len);
	assert_true(mb.len < 64 * 1024);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct gm_mcfg *c = load(t[i].conf);

		assert_int_equal(scan_message(c, m.p, m.len, &v), t[i].act);
		assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
		assert_int_equal(v.reason, GSCAN_R_ENCRYPTED);
		assert_string_equal(v.name, "Heuristics.Encrypted.Zip");
		assert_int_equal(scan_message(c, mb.p, mb.len, &v), t[i].act);
		assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
		assert_int_equal(v.reason, GSCAN_R_SIZE);
		gm_mcfg_unref(c);
	}
	free(z.p);
	free(m.p);
	free(big.p);
	free(mb.p);
	free(zeros);
}

/* A timeout is unscannable to the scanner, and a failure to the milter:
 * on_scan_error, as it was before the verdicts were told apart. */
static void
test_timeout_follows_on_scan_error(void **state)
{
	struct gscan_verdict v;
	struct gm_mcfg *c = load("on_scan_limit = reject");

	(void)state;
	/* what libclamav answers past max_scantime (scan_timeout) */
	gscan_classify(CL_VIRUS, "Heuristics.Limits.Exceeded.MaxScanTime", 0,
	               NULL, &v);
	assert_int_equal(v.kind, GSCAN_UNSCANNABLE);
	assert_int_equal(v.reason, GSCAN_R_TIMEOUT);
	assert_int_equal(gm_scan_policy(c, &v), GH_SCAN_TEMPFAIL);
	gm_mcfg_unref(c);
	c = load("on_scan_error = accept\non_scan_limit = reject");
	assert_int_equal(gm_scan_policy(c, &v), GH_SCAN_ACCEPT);
	gscan_classify(CL_ETIMEOUT, NULL, 0, NULL, &v);
	assert_int_equal(v.reason, GSCAN_R_TIMEOUT);
	assert_int_equal(gm_scan_policy(c, &v), GH_SCAN_ACCEPT);
	gm_mcfg_unref(c);
}

static void
test_errors_follow_on_scan_error(void **state)
{
	char extra[256];
	struct gm_mcfg *c;
	struct gscan_verdict v;
	struct gm_spool sp;
	struct fx_buf e = with_attachment(FX_EICAR, strlen(FX_EICAR));

	(void)state;
	/* libclamav's "clean" for a scan it could not do (its temporary
	 * directory cannot be made): an error, tempfailed */
	snprintf(extra, sizeof(extra), "clamav_tmp = %s/gone", db.dir);
	c = load(extra);
	assert_int_equal(rmdir(gh_conf_str(c->conf, "milter", "clamav_tmp")),
	                 0);
	assert_int_equal(scan_message(c, e.p, e.len, &v), GH_SCAN_TEMPFAIL);
	assert_int_equal(v.kind, GSCAN_ERROR);
	assert_non_null(strstr(v.name, "libclamav: "));
	gm_mcfg_unref(c);
	snprintf(extra, sizeof(extra), "clamav_tmp = %s/gone\n"
	         "on_scan_error = accept\non_scan_limit = reject", db.dir);
	c = load(extra);
	assert_int_equal(rmdir(gh_conf_str(c->conf, "milter", "clamav_tmp")),
	                 0);
	assert_int_equal(scan_message(c, e.p, e.len, &v), GH_SCAN_ACCEPT);
	assert_int_equal(v.kind, GSCAN_ERROR);
	/* a spool that could not be written */
	gm_spool_open(&sp, "/nonexistent-spool", 1024 * 1024);
	for (int i = 0; i < 5000; i++)	/* past GH_SPOOL_MEM_MAX: a file */
		gm_spool_write(&sp, "0123456789abcdef0123456789abcdef"
		               "0123456789abcdef0123456789abcdef", 64);
	gm_spool_scan(c->scanner, &sp, &v);
	gm_spool_close(&sp);
	assert_int_equal(v.kind, GSCAN_ERROR);
	assert_non_null(strstr(v.name, "spool file failed"));
	assert_int_equal(gm_scan_policy(c, &v), GH_SCAN_ACCEPT);
	gm_mcfg_unref(c);
	free(e.p);
}

/* What scan_text = no leaves unscanned: text, and only text. */
static void
test_plain_text(void **state)
{
	struct gm_mcfg *c = load("scan_text = no");
	struct gm_msg *m;
	static const char *const bodies[] = {
		"begin 644 eicar.com\r\n",		/* at the start */
		"hello\r\nbegin 0755 x.exe\r\nM...\r\n",	/* 4 digits */
		"hello\nBEGIN 600 a b c\n",		/* any case, LF */
	};

	(void)state;
	assert_int_equal(c->scan_text, 0);
	/* no Content-Type, or text/plain ones: plain */
	m = gm_msg_new(0);
	assert_true(gm_msg_plain_text(m));
	gm_msg_header(c, m, "Content-Type", " text/plain; charset=utf-8");
	gm_msg_header(c, m, "Content-Type", "TEXT/PLAIN");
	assert_true(gm_msg_plain_text(m));
	/* a later multipart one is not */
	gm_msg_header(c, m, "Content-Type", " multipart/mixed; boundary=B");
	assert_false(gm_msg_plain_text(m));
	assert_string_equal(m->ctype, "text/plain");	/* the log's: first */
	gm_msg_free(m);
	m = gm_msg_new(0);
	gm_msg_header(c, m, "Content-Type", "text/html");
	assert_false(gm_msg_plain_text(m));
	gm_msg_free(m);
	/* a uuencoded part, wherever the chunks split its line */
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		size_t len = strlen(bodies[b]);

		for (size_t cut = 0; cut <= len; cut++) {
			m = gm_msg_new(0);
			gm_msg_body_text(m, (const unsigned char *)bodies[b],
			                 cut);
			gm_msg_body_text(m, (const unsigned char *)bodies[b] +
			                 cut, len - cut);
			assert_false(gm_msg_plain_text(m));
			gm_msg_free(m);
		}
	}
	/* lines that only look like it */
	{
		static const char body[] = "begin 64 days\r\nbegin 644\r\n"
		    "begin 64444 x\r\nbegin 649 x\r\nxbegin 644 x\r\n"
		    " begin 644 x\r\nbeginning 644 x\r\n";

		m = gm_msg_new(0);
		for (size_t i = 0; i < sizeof(body) - 1; i++)
			gm_msg_body_text(m, (const unsigned char *)body + i, 1);
		assert_true(gm_msg_plain_text(m));
		gm_msg_free(m);
	}
	gm_mcfg_unref(c);
	/* the default: text is scanned */
	c = load("");
	assert_int_equal(c->scan_text, 1);
	assert_int_equal(c->on_scan_limit, GH_ONERR_ACCEPT);
	gm_mcfg_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_and_infected),
		cmocka_unit_test(test_big_message_from_the_spool_file),
		cmocka_unit_test(test_unscannable_follows_on_scan_limit),
		cmocka_unit_test(test_timeout_follows_on_scan_error),
		cmocka_unit_test(test_errors_follow_on_scan_error),
		cmocka_unit_test(test_plain_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
