/*
 * test_filename.c - unit tests of the client filename sanitizer
 * (nginx_module/parse/filename.c) and the upload categories
 * (nginx_module/parse/category.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../nginx_module/parse/category.h"
#include "../../../nginx_module/parse/filename.h"
#include "gatehouse/text.h"

/* Strict UTF-8 check, written independently of filename.c's decoder. */
static int
valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k, len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			len = 2;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += len;
	}
	return 1;
}

/* The promises of filename.h, checked on any result. */
static void
check_invariants(const char *out, size_t n, size_t max_len)
{
	static const char *const banned[] = {
		"\xe2\x80\xae", "\xe2\x80\xad", "\xe2\x80\x8b", "\xe2\x80\x8f",
		"\xe2\x81\xa6", "\xef\xbb\xbf", "\xc2\xad", "\xef\xbc\x8f",
		"\xe2\x88\x95", "\xef\xbc\x8e", "\xc2\x85",
	};
	size_t i, dots = 0;

	assert_true(n >= 1);
	assert_true(n <= max_len);
	assert_int_equal(strlen(out), n);
	assert_true(valid_utf8((const unsigned char *)out, n));
	assert_true(out[0] != '.' && out[0] != '-');
	assert_true(out[n - 1] != '.');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];

		assert_true(c >= 0x20 && c != 0x7F);
		assert_true(c != '/' && c != '\\' && c != ' ');
		if (c < 0x80)
			assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", c));
		dots += c == '.';
	}
	assert_true(dots <= 1);
	for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		assert_null(strstr(out, banned[i]));
}

static size_t
san(const char *in, size_t len, char *out, unsigned *flags)
{
	size_t n = gh_fn_sanitize(in, len, out, GH_FN_MAX + 1, 0, flags);
	char again[GH_FN_MAX + 1];
	unsigned fl2;

	check_invariants(out, n, GH_FN_MAX);
	/* sanitizing is idempotent */
	assert_int_equal(gh_fn_sanitize(out, n, again, sizeof(again), 0,
	                                &fl2), n);
	assert_string_equal(again, out);
	return n;
}

struct case_ {
	const char *in;
	size_t len;
	const char *want;
	unsigned flags;         /* exactly these */
};

#define C(in, want, flags) {in, sizeof(in) - 1, want, flags}

static void
test_table(void **state)
{
	static const struct case_ cases[] = {
		C("report.pdf", "report.pdf", 0),
		C("PHOTO.JPG", "PHOTO.jpg", 0),
		C("\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82.pdf",
		  "\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82.pdf", 0),
		/* paths, both separators */
		C("../../etc/passwd", "passwd", GH_FN_PATH),
		C("..\\..\\windows\\win.ini", "win.ini", GH_FN_PATH),
		C("C:\\Users\\bob\\cv.docx", "cv.docx", GH_FN_PATH),
		C("/var/www/", "unnamed", GH_FN_PATH | GH_FN_EMPTY),
		C("..", "unnamed", GH_FN_DOTS | GH_FN_EMPTY),
		C("...", "unnamed", GH_FN_DOTS | GH_FN_EMPTY),
		C("", "unnamed", GH_FN_EMPTY),
		C("a/..", "unnamed", GH_FN_PATH | GH_FN_DOTS | GH_FN_EMPTY),
		/* NUL and controls */
		C("evil.php\0.jpg", "evil_php.jpg", GH_FN_CONTROL | GH_FN_DOTS),
		C("a\r\nb\t.txt", "ab.txt", GH_FN_CONTROL),
		C("a\x7f\xc2\x85.txt", "a.txt", GH_FN_CONTROL),
		/* double extensions and dots */
		C("shell.php.jpg", "shell_php.jpg", GH_FN_DOTS),
		C("archive.tar.gz", "archive_tar.gz", GH_FN_DOTS),
		C(".htaccess", "htaccess", GH_FN_DOTS),
		C("evil.php.", "evil.php", GH_FN_DOTS),
		C("evil.php ", "evil.php", GH_FN_CHARS),
		C("evil.php . .", "evil.php", GH_FN_DOTS | GH_FN_CHARS),
		C("a..jpg", "a_.jpg", GH_FN_DOTS),
		C("noext.", "noext", GH_FN_DOTS),
		C("x.j pg", "x_j_pg", GH_FN_DOTS | GH_FN_CHARS),
		C("x.abcdefghijklmnopq", "x_abcdefghijklmnopq", GH_FN_DOTS),
		C("x.abcdefghijklmnop", "x.abcdefghijklmnop", 0),
		C("x.ph\xe2\x80\x8bp", "x.php", GH_FN_UNICODE),
		C("x.\xd1\x84", "x_\xd1\x84", GH_FN_DOTS),
		/* Unicode tricks */
		C("invoice\xe2\x80\xae" "fdp.exe", "invoicefdp.exe", GH_FN_UNICODE),
		C("\xe2\x80\xaegpj.exe", "gpj.exe", GH_FN_UNICODE),
		C("a\xe2\x81\xa6" "b\xe2\x81\xa9.png", "ab.png", GH_FN_UNICODE),
		C("\xef\xbb\xbfz.png", "z.png", GH_FN_UNICODE),
		C("evil\xef\xbc\x8ephp", "evil_php", GH_FN_UNICODE),
		C("..\xe2\x88\x95..\xe2\x88\x95" "etc",
		  "____etc", GH_FN_UNICODE | GH_FN_DOTS),
		C("\xef\xbc\x8f" "etc\xef\xbc\x8fpasswd", "_etc_passwd",
		  GH_FN_UNICODE),
		C("a\xc2\xa0" "b.png", "a_b.png", GH_FN_UNICODE | GH_FN_CHARS),
		/* invalid UTF-8: overlong '/', surrogate, stray bytes */
		C("\xc0\xaf" "etc.txt", "__etc.txt", GH_FN_BADUTF8),
		C("\xed\xa0\x80.txt", "___.txt", GH_FN_BADUTF8),
		C("\xff\xfe.png", "__.png", GH_FN_BADUTF8),
		C("ok\xe2\x82.png", "ok__.png", GH_FN_BADUTF8),
		C("\xf4\x90\x80\x80.png", "____.png", GH_FN_BADUTF8),
		/* shell and Windows characters */
		C("a;rm -rf $HOME|x.txt", "a_rm_-rf__HOME_x.txt", GH_FN_CHARS),
		C("-rf.txt", "_rf.txt", GH_FN_CHARS),
		C("<script>.html", "_script_.html", GH_FN_CHARS),
		C("f:stream.txt", "f_stream.txt", GH_FN_CHARS),
		C("con.txt", "_con.txt", GH_FN_RESERVED),
		C("LPT9", "_LPT9", GH_FN_RESERVED),
		C("com0.txt", "com0.txt", 0),
		C("console.txt", "console.txt", 0),
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[GH_FN_MAX + 1];
		unsigned fl = 12345;
		size_t n = san(cases[i].in, cases[i].len, out, &fl);

		if (strcmp(out, cases[i].want) != 0 || fl != cases[i].flags)
			fail_msg("case %zu: got \"%s\" flags %#x, want \"%s\" "
			         "%#x", i, out, fl, cases[i].want,
			         cases[i].flags);
		assert_int_equal(n, strlen(cases[i].want));
	}
}

static void
test_truncation(void **state)
{
	char in[2048], out[GH_FN_MAX + 1], ext[GH_FN_EXT_MAX + 1];
	unsigned fl;
	size_t n, i;

	(void)state;
	/* ASCII: the stem is cut, the extension kept */
	memset(in, 'a', 300);
	memcpy(in + 300, ".JPG", 4);
	n = san(in, 304, out, &fl);
	assert_int_equal(n, 255);
	assert_int_equal(fl, GH_FN_TRUNCATED);
	assert_string_equal(out + 251, ".jpg");
	/* exactly 255 is left alone */
	n = san(in + 49, 255, out, &fl);
	assert_int_equal(n, 255);
	assert_int_equal(fl, 0);

	/* 3-byte characters: never cut inside one */
	for (i = 0; i < 200; i++)
		memcpy(in + 3 * i, "\xe6\x97\xa5", 3);
	memcpy(in + 600, ".pdf", 4);
	n = san(in, 604, out, &fl);
	assert_int_equal(fl, GH_FN_TRUNCATED);
	assert_int_equal(n, 83 * 3 + 4);
	assert_string_equal(out + n - 4, ".pdf");
	assert_int_equal(gw_fn_ext(out, n, ext, sizeof(ext)), 3);
	assert_string_equal(ext, "pdf");

	/* 4-byte characters, no extension */
	for (i = 0; i < 100; i++)
		memcpy(in + 4 * i, "\xf0\x9f\x98\x80", 4);
	n = san(in, 400, out, &fl);
	assert_int_equal(n, 252);

	/* a smaller max_len */
	n = gh_fn_sanitize("abcdefghijklmnopqrstuvwxyz.png", 30, out,
	                   sizeof(out), 24, &fl);
	assert_int_equal(n, 24);
	assert_string_equal(out, "abcdefghijklmnopqrst.png");
	check_invariants(out, n, 24);
}

static void
test_bad_args(void **state)
{
	char out[GH_FN_MAX + 1];

	(void)state;
	assert_int_equal(gh_fn_sanitize("a", 1, out, 100, 0, NULL), 0);
	assert_int_equal(gh_fn_sanitize("a", 1, out, sizeof(out), 23, NULL),
	                 0);
	assert_int_equal(gh_fn_sanitize("a", 1, out, sizeof(out), 256, NULL),
	                 0);
	assert_int_equal(gh_fn_sanitize(NULL, 1, out, sizeof(out), 0, NULL), 0);
	assert_int_equal(gh_fn_sanitize("a", 1, NULL, sizeof(out), 0, NULL), 0);
	assert_int_equal(gh_fn_sanitize(NULL, 0, out, sizeof(out), 0, NULL), 7);
	assert_string_equal(out, "unnamed");
}

/* Random names built from the characters that matter: every result keeps
 * the promises and sanitizing is idempotent. */
static void
test_random_invariants(void **state)
{
	static const char *const atoms[] = {
		"a", "Z", "9", ".", "..", "/", "\\", " ", "\0", "\r", "\n", "-",
		"_", ":", "*", "\xe2\x80\xae", "\xe2\x80\x8b", "\xef\xbc\x8f",
		"\xef\xbc\x8e", "\xd1\x84", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
		"\xff", "\xc0", "\x80", "\xed\xa0\x80", "php", "JPG", "con",
		"\xc2\xa0", "\xc2\x85", "\xe2\x80",
	};
	uint32_t x = 42;
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		char in[1200], out[GH_FN_MAX + 1];
		size_t len = 0, k, natoms;
		unsigned fl;

		x = x * 1664525u + 1013904223u;
		natoms = (x >> 8) % (iter % 10 == 0 ? 400 : 20);
		for (k = 0; k < natoms; k++) {
			const char *a;
			size_t al;

			x = x * 1664525u + 1013904223u;
			a = atoms[(x >> 12) % (sizeof(atoms) / sizeof(atoms[0]))];
			al = a[0] == '\0' ? 1 : strlen(a);
			if (len + al > sizeof(in))
				break;
			memcpy(in + len, a, al);
			len += al;
		}
		san(in, len, out, &fl);
	}
}

static void
test_ext(void **state)
{
	char ext[GH_FN_EXT_MAX + 1];

	(void)state;
	assert_int_equal(gw_fn_ext("a.JPG", 5, ext, sizeof(ext)), 3);
	assert_string_equal(ext, "jpg");
	assert_int_equal(gw_fn_ext("a.tar.gz", 8, ext, sizeof(ext)), 2);
	assert_string_equal(ext, "gz");
	assert_int_equal(gw_fn_ext(".jpg", 4, ext, sizeof(ext)), 0);
	assert_string_equal(ext, "");
	assert_int_equal(gw_fn_ext("a.", 2, ext, sizeof(ext)), 0);
	assert_int_equal(gw_fn_ext("noext", 5, ext, sizeof(ext)), 0);
	assert_int_equal(gw_fn_ext("a.j_g", 5, ext, sizeof(ext)), 0);
	assert_int_equal(gw_fn_ext("a.abcdefghijklmnopq", 19, ext,
	                           sizeof(ext)), 0);
	assert_int_equal(gw_fn_ext("a.abcdefghijklmnop", 18, ext,
	                           sizeof(ext)), 16);
	assert_int_equal(gw_fn_ext("a.jpg", 5, ext, 4), 0);
}

static void
test_categories(void **state)
{
	size_t n;
	const struct gw_category *cats = gw_category_defaults(&n);
	const struct gw_category *c;
	static const char *const wild_mimes[] = {"image/*", "text/plain", NULL};
	static const char *const wild_exts[] = {"png", NULL};
	static const struct gw_category wild = {"pics", wild_exts, wild_mimes};
	static const struct {
		const char *ext;
		const char *cat;
	} want[] = {
		{"png", "images"}, {"jpg", "images"}, {"JPEG", "images"},
		{"gif", "images"}, {"webp", "images"}, {"pdf", "documents"},
		{"doc", "documents"}, {"docx", "documents"},
		{"xls", "documents"}, {"xlsx", "documents"},
		{"ppt", "documents"}, {"pptx", "documents"},
		{"zip", "archives"}, {"rar", "archives"}, {"7z", "archives"},
		{"mp3", "media"}, {"mp4", "media"}, {"wav", "media"},
		{"avi", "media"}, {"mov", "media"}, {"exe", NULL},
		{"php", NULL}, {"svg", NULL}, {"", NULL}, {"pn", NULL},
		{"pngx", NULL},
	};
	size_t i;

	(void)state;
	assert_int_equal(n, 4);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		c = gw_category_by_ext(cats, n, want[i].ext,
		                       strlen(want[i].ext));
		if (want[i].cat == NULL)
			assert_null(c);
		else if (c == NULL || strcmp(c->name, want[i].cat) != 0)
			fail_msg("%s: got %s", want[i].ext,
			         c ? c->name : "none");
	}
	c = gw_category_by_name(cats, n, "documents", 9);
	assert_non_null(c);
	assert_null(gw_category_by_name(cats, n, "document", 8));
	assert_true(gw_category_mime_ok(c, "application/pdf", 15));
	assert_true(gw_category_mime_ok(c, " Application/PDF ; x=1", 22));
	assert_false(gw_category_mime_ok(c, "image/png", 9));
	assert_false(gw_category_mime_ok(c, "application/pdfx", 16));
	assert_false(gw_category_mime_ok(c, "application/pd", 14));
	assert_false(gw_category_mime_ok(c, "application/zip", 15));
	assert_false(gw_category_mime_ok(c, "", 0));
	assert_false(gw_category_mime_ok(NULL, "application/pdf", 15));
	c = gw_category_by_name(cats, n, "images", 6);
	assert_true(gw_category_mime_ok(c, "image/jpeg", 10));
	assert_false(gw_category_mime_ok(c, "image/svg+xml", 13));
	assert_false(gw_category_mime_ok(c, "application/x-dosexec", 21));
	c = gw_category_by_name(cats, n, "media", 5);
	assert_true(gw_category_mime_ok(c, "audio/x-wav", 11));

	assert_true(gw_category_mime_ok(&wild, "image/svg+xml", 13));
	assert_true(gw_category_mime_ok(&wild, "IMAGE/x", 7));
	assert_false(gw_category_mime_ok(&wild, "image/", 6));
	assert_false(gw_category_mime_ok(&wild, "imag/png", 8));
	assert_false(gw_category_mime_ok(&wild, "images/png", 10));
	assert_true(gw_category_mime_ok(&wild, "text/plain", 10));
	assert_false(gw_category_mime_ok(&wild, "text/html", 9));

	assert_true(gw_category_mime_valid("image/png", 9));
	assert_true(gw_category_mime_valid("image/*", 7));
	assert_true(gw_category_mime_valid("application/vnd.ms-excel", 24));
	assert_false(gw_category_mime_valid("image", 5));
	assert_false(gw_category_mime_valid("image/", 6));
	assert_false(gw_category_mime_valid("/png", 4));
	assert_false(gw_category_mime_valid("a/b/c", 5));
	assert_false(gw_category_mime_valid("*/*", 3));
	assert_false(gw_category_mime_valid("image/p*", 8));
	assert_false(gw_category_mime_valid("image/p g", 9));
}

/* ---- the original name, escaped ---- */

static void
esc_is(const char *in, size_t in_len, const char *want)
{
	char out[GH_FN_ORIG_MAX + 1];
	size_t n;
	int cut = -1;

	n = gh_text_escape(in, in_len, out, sizeof(out), 0, &cut);
	if (n != strlen(want) || strcmp(out, want) != 0 || cut != 0)
		fail_msg("escape of \"%s\": got \"%s\" (%zu, cut %d), want "
		         "\"%s\"", in, out, n, cut, want);
}

#define ESC(in, want) esc_is((in), sizeof(in) - 1, (want))

/* What no escaped name may hold: control bytes, C1, bidi, bad UTF-8. */
static void
esc_safe(const char *s, size_t n)
{
	size_t i;

	assert_true(valid_utf8((const unsigned char *)s, n));
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		assert_false(c < 0x20 || c == 0x7f);
		/* U+0080-U+009F: C2 80..9F; U+202A-U+202E, U+2066-U+2069 */
		if (c == 0xC2 && i + 1 < n)
			assert_false((unsigned char)s[i + 1] <= 0x9F);
		if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80)
			assert_false((unsigned char)s[i + 2] >= 0xAA &&
			             (unsigned char)s[i + 2] <= 0xAE);
	}
}

static void
test_escape(void **state)
{
	char big[4096], out[GH_FN_ORIG_MAX + 1];
	size_t n, i;
	int cut;

	(void)state;
	ESC("photo.png", "photo.png");
	ESC("../../etc/passwd", "../../etc/passwd");
	ESC("a\x01" "b\x1b[2J.txt", "a\\x01b\\x1b[2J.txt");
	ESC("a\0b.php", "a\\x00b.php");
	ESC("t\tn\nr\r\x7f.txt", "t\\tn\\nr\\r\\x7f.txt");
	ESC("C:\\dir\\f.txt", "C:\\\\dir\\\\f.txt");
	ESC("lit\\x41.txt", "lit\\\\x41.txt");
	ESC("\xff\xfe.txt", "\\xff\\xfe.txt");
	ESC("\xc0\xaf.txt", "\\xc0\\xaf.txt");           /* overlong '/' */
	ESC("\xed\xa0\x80.txt", "\\xed\\xa0\\x80.txt");   /* surrogate */
	ESC("gpj\xe2\x80\xae.exe", "gpj\\u{202e}.exe");  /* RLO */
	ESC("a\xe2\x80\x8b" "b\xc2\x85" "c\xe2\x80\xa8.txt",
	    "a\\u{200b}b\\u{0085}c\\u{2028}.txt");
	ESC("\xf3\xa0\x80\x81x", "\\u{e0001}x");         /* tag */
	ESC("\xd1\x84\xd0\xbe\xd1\x82\xd0\xbe.jpg",
	    "\xd1\x84\xd0\xbe\xd1\x82\xd0\xbe.jpg");
	ESC("", "");

	/* long: cut between escapes, with the mark */
	memset(big, 'a', 2000);
	n = gh_text_escape(big, 2000, out, sizeof(out), 0, &cut);
	assert_int_equal(cut, 1);
	assert_int_equal(n, GH_FN_ORIG_MAX);
	assert_string_equal(out + n - 4, "\\...");
	memset(big, 0x01, 1000);
	n = gh_text_escape(big, 1000, out, sizeof(out), 0, &cut);
	assert_int_equal(cut, 1);
	assert_int_equal(n, GH_FN_ORIG_MAX);
	assert_memory_equal(out + n - 8, "\\x01\\...", 8);
	/* exactly full: no cut */
	memset(big, 'b', GH_FN_ORIG_MAX);
	n = gh_text_escape(big, GH_FN_ORIG_MAX, out, sizeof(out), 0, &cut);
	assert_int_equal(cut, 0);
	assert_int_equal(n, GH_FN_ORIG_MAX);
	/* a multi-byte character is never split */
	for (i = 0; i + 3 <= 3000; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	n = gh_text_escape(big, 3000, out, sizeof(out), 0, &cut);
	assert_int_equal(cut, 1);
	esc_safe(out, n);

	/* bad arguments */
	assert_int_equal(gh_text_escape("a", 1, out, GH_TEXT_ESC_MIN - 1, 0, &cut),
	                 0);
	assert_int_equal(gh_text_escape(NULL, 1, out, sizeof(out), 0, &cut), 0);

	/* random bytes: always safe */
	srand(7);
	for (i = 0; i < 2000; i++) {
		size_t k, len = (size_t)rand() % 600;

		for (k = 0; k < len; k++)
			big[k] = (char)(rand() % 4 == 0 ? 0xe2 : rand());
		n = gh_text_escape(big, len, out, (size_t)(16 + rand() % 1009),
		                   0, &cut);
		esc_safe(out, n);
		assert_int_equal(n, strlen(out));
	}
}

static void
test_escaped_cut(void **state)
{
	const char *e = "ab\\x01cd";
	const char *u = "a\\u{202e}bc";
	const char *m = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";

	(void)state;
	assert_int_equal(gh_text_escaped_cut(e, 8, 8), 8);
	assert_int_equal(gh_text_escaped_cut(e, 8, 7), 2);   /* not in \x01 */
	assert_int_equal(gh_text_escaped_cut(e, 8, 10), 8);
	assert_int_equal(gh_text_escaped_cut(u, 11, 10), 1); /* not in \u{} */
	assert_int_equal(gh_text_escaped_cut("a\\u{202e}bcdefg", 15, 13), 9);
	assert_int_equal(gh_text_escaped_cut(m, 10, 9), 4);  /* not in é */
	assert_int_equal(gh_text_escaped_cut("a\\\\b", 4, 3), 0);
	assert_int_equal(gh_text_escaped_cut("ab\\\\cd", 6, 5), 1);
	assert_int_equal(gh_text_escaped_cut("ab\\\\cd", 6, 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_random_invariants),
		cmocka_unit_test(test_ext),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escaped_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
