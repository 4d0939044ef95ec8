/*
 * test_multipart.c - unit tests of the streaming multipart/form-data parser
 * (nginx_module/parse/multipart.c) and of the name quoting that goes with it.
 *
 * Every callback is written into an event log ("B(index|name|filename|ct)",
 * data bytes, "E" for part end, "!ERRNAME" for the error callback), so a
 * parse can be compared with an expected log, and parses of the same body
 * cut into different chunks can be compared with each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../nginx_module/parse/multipart.h"

#define BND "XyZ-boundary'()+_,./:=?"

struct rec {
	char *log;
	size_t len, cap;
	int begins, ends, errors, datas;
	int abort_on_begin;     /* stop at this part_begin (1-based), 0: never */
	int abort_on_data;
	int in_data;            /* last event was data (merged in the log) */
};

static void
rec_put(struct rec *r, const void *d, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;

		while (cap < r->len + n + 1)
			cap *= 2;
		r->log = realloc(r->log, cap);
		assert_non_null(r->log);
		r->cap = cap;
	}
	memcpy(r->log + r->len, d, n);
	r->len += n;
	r->log[r->len] = '\0';
}

static void
rec_puts(struct rec *r, const char *s)
{
	rec_put(r, s, strlen(s));
}

static int
on_begin(void *arg, const struct gw_mp_part *p)
{
	struct rec *r = arg;
	char idx[16];

	r->begins++;
	r->in_data = 0;
	snprintf(idx, sizeof(idx), "B(%u|", p->index);
	rec_puts(r, idx);
	rec_put(r, p->name, p->name_len);
	rec_puts(r, "|");
	if (p->has_filename) {
		rec_puts(r, p->filename_ext ? "*" : "=");
		rec_put(r, p->filename, p->filename_len);
	}
	rec_puts(r, "|");
	if (p->content_type != NULL)
		rec_put(r, p->content_type, p->content_type_len);
	rec_puts(r, ")");
	return r->abort_on_begin != 0 && r->begins == r->abort_on_begin;
}

static int
on_data(void *arg, const unsigned char *d, size_t n)
{
	struct rec *r = arg;

	assert_true(n > 0);
	r->datas++;
	rec_put(r, d, n);
	return r->abort_on_data != 0 && r->datas == r->abort_on_data;
}

static int
on_end(void *arg)
{
	struct rec *r = arg;

	r->ends++;
	rec_puts(r, "E");
	return 0;
}

static void
on_error(void *arg, gw_mp_err err)
{
	struct rec *r = arg;

	r->errors++;
	rec_puts(r, "!");
	rec_puts(r, gw_mp_errname(err));
}

static const struct gw_mp_callbacks cbs = {
	on_begin, on_data, on_end, on_error
};

static void
rec_free(struct rec *r)
{
	free(r->log);
	memset(r, 0, sizeof(*r));
}

/*
 * Parse body cut at the given offsets (ascending, each <= len).  Returns the
 * first error of feed/finish; the log is left in r.
 */
static gw_mp_err
parse_cuts(struct rec *r, const char *boundary, const struct gw_mp_limits *lim,
           const void *body, size_t len, const size_t *cuts, size_t ncuts)
{
	struct gw_mp_parser *p = malloc(sizeof(*p));
	const unsigned char *b = body;
	size_t prev = 0, k;
	gw_mp_err err;

	assert_non_null(p);
	rec_puts(r, "");
	err = gw_mp_init(p, boundary, strlen(boundary), lim, &cbs, r);
	assert_int_equal(err, GH_MP_OK);
	for (k = 0; k <= ncuts; k++) {
		size_t at = k < ncuts ? cuts[k] : len;

		err = gw_mp_feed(p, b + prev, at - prev);
		if (err != GH_MP_OK)
			goto out;
		prev = at;
	}
	err = gw_mp_finish(p);
out:
	/* errors are sticky */
	if (err != GH_MP_OK && err != GH_MP_ESTATE) {
		assert_int_equal(gw_mp_feed(p, "x", 1), err);
		assert_int_equal(gw_mp_finish(p), err);
		assert_int_equal(r->errors, 1);
	}
	free(p);
	return err;
}

static gw_mp_err
parse(struct rec *r, const char *boundary, const void *body, size_t len)
{
	return parse_cuts(r, boundary, NULL, body, len, NULL, 0);
}

static gw_mp_err
parse_lim(struct rec *r, const char *boundary, const struct gw_mp_limits *lim,
          const void *body, size_t len)
{
	return parse_cuts(r, boundary, lim, body, len, NULL, 0);
}

/* The log of a whole-body parse, with the error appended as "=ERR". */
static char *
log_of(const char *boundary, const struct gw_mp_limits *lim, const void *body,
       size_t len, const size_t *cuts, size_t ncuts, size_t *log_len)
{
	struct rec r;
	gw_mp_err err;
	char *out;

	memset(&r, 0, sizeof(r));
	err = parse_cuts(&r, boundary, lim, body, len, cuts, ncuts);
	rec_puts(&r, "=");
	rec_puts(&r, gw_mp_errname(err));
	out = r.log;
	*log_len = r.len;
	return out;
}

/* Every one- and two-cut split of body gives the same log as no cut. */
static void
check_all_splits(const char *boundary, const struct gw_mp_limits *lim,
                 const void *body, size_t len, int pairs)
{
	size_t wlen, i, j;
	char *whole = log_of(boundary, lim, body, len, NULL, 0, &wlen);

	for (i = 0; i <= len; i++) {
		size_t cuts[2] = {i, 0}, l;
		char *got = log_of(boundary, lim, body, len, cuts, 1, &l);

		if (l != wlen || memcmp(got, whole, l) != 0)
			fail_msg("split at %zu differs:\n%s\nvs\n%s", i, got,
			         whole);
		free(got);
		if (!pairs)
			continue;
		for (j = i; j <= len; j++) {
			cuts[1] = j;
			got = log_of(boundary, lim, body, len, cuts, 2, &l);
			if (l != wlen || memcmp(got, whole, l) != 0)
				fail_msg("split at %zu,%zu differs:\n%s\nvs\n%s",
				         i, j, got, whole);
			free(got);
		}
	}
	/* and one byte at a time */
	{
		size_t *cuts = malloc((len + 1) * sizeof(*cuts)), l;
		char *got;

		assert_non_null(cuts);
		for (i = 0; i < len; i++)
			cuts[i] = i;
		got = log_of(boundary, lim, body, len, cuts, len, &l);
		if (l != wlen || memcmp(got, whole, l) != 0)
			fail_msg("bytewise parse differs:\n%s\nvs\n%s", got,
			         whole);
		free(got);
		free(cuts);
	}
	free(whole);
}

/* want_log may hold NUL bytes: expect() passes its length. */
static void
expect_n(const char *body, const char *want_log, size_t want_len,
         gw_mp_err want)
{
	struct rec r;
	gw_mp_err err;

	memset(&r, 0, sizeof(r));
	err = parse(&r, BND, body, strlen(body));
	if (err != want || r.len != want_len ||
	    memcmp(r.log, want_log, want_len) != 0)
		fail_msg("got %s log \"%s\"; want %s log \"%s\"",
		         gw_mp_errname(err), r.log, gw_mp_errname(want),
		         want_log);
	rec_free(&r);
	check_all_splits(BND, NULL, body, strlen(body), 0);
}

#define expect(body, want_log, err) \
	expect_n((body), (want_log), sizeof(want_log) - 1, (err))

#define CD "Content-Disposition: form-data; "
#define D "\r\n--" BND

/* ---- boundary extraction ---------------------------------------------- */

static gw_mp_err
bnd(const char *ct, char *out)
{
	size_t n = 12345;
	gw_mp_err err = gw_mp_boundary(ct, strlen(ct), out,
	                               GH_MP_BOUNDARY_MAX + 1, &n);

	if (err == GH_MP_OK)
		assert_int_equal(n, strlen(out));
	return err;
}

static void
test_boundary_extract(void **state)
{
	char b[GH_MP_BOUNDARY_MAX + 1];
	char ct[256];
	char seventy[71], seventyone[72];

	(void)state;
	assert_int_equal(bnd("multipart/form-data; boundary=abc", b), 0);
	assert_string_equal(b, "abc");
	assert_int_equal(bnd("Multipart/Form-Data;BOUNDARY=abc", b), 0);
	assert_string_equal(b, "abc");
	assert_int_equal(bnd("multipart/form-data; charset=utf-8; "
	                     "boundary=\"a b:c\"", b), 0);
	assert_string_equal(b, "a b:c");
	assert_int_equal(bnd("multipart/form-data; boundary=\"q\\\"x\"", b),
	                 GH_MP_EBOUNDARY);  /* '"' is no bchar */
	assert_int_equal(bnd("multipart/form-data; boundary=\"q\\=x\"", b), 0);
	assert_string_equal(b, "q=x");
	assert_int_equal(bnd("multipart/form-data; boundary=----WebKitForm"
	                     "BoundaryABC ; x=\"y;z\"", b), 0);
	assert_string_equal(b, "----WebKitFormBoundaryABC");
	assert_int_equal(bnd("  multipart/form-data  ;  boundary = z  ", b),
	                 0);
	assert_string_equal(b, "z");

	memset(seventy, 'a', 70);
	seventy[70] = '\0';
	memset(seventyone, 'b', 71);
	seventyone[71] = '\0';
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", seventy);
	assert_int_equal(bnd(ct, b), 0);
	assert_string_equal(b, seventy);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%s\"",
	         seventy);
	assert_int_equal(bnd(ct, b), 0);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s",
	         seventyone);
	assert_int_equal(bnd(ct, b), GH_MP_EBOUNDARY);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%s\"",
	         seventyone);
	assert_int_equal(bnd(ct, b), GH_MP_EBOUNDARY);

	assert_int_equal(bnd("multipart/form-data; boundary=", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=\"\"", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=\"ab \"", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=a\x01z", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=a@z", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=\"abc", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=a; boundary=a",
	                     b), GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; boundary=a b", b),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(bnd("multipart/form-data", b), GH_MP_ENOBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; charset=x", b),
	                 GH_MP_ENOBOUNDARY);
	assert_int_equal(bnd("multipart/form-data; x=\"boundary=abc\"", b),
	                 GH_MP_ENOBOUNDARY);
	assert_int_equal(bnd("multipart/mixed; boundary=abc", b),
	                 GH_MP_ENOTMULTIPART);
	assert_int_equal(bnd("multipart/form-datax; boundary=abc", b),
	                 GH_MP_ENOTMULTIPART);
	assert_int_equal(bnd("application/x-www-form-urlencoded", b),
	                 GH_MP_ENOTMULTIPART);
	assert_int_equal(bnd("", b), GH_MP_ENOTMULTIPART);
	assert_int_equal(gw_mp_boundary("x", 1, b, 10, NULL), GH_MP_ESTATE);
}

static void
test_init_rejects_bad_boundary(void **state)
{
	struct gw_mp_parser p;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(gw_mp_init(&p, "", 0, NULL, &cbs, &r),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(gw_mp_init(&p, "a\rb", 3, NULL, &cbs, &r),
	                 GH_MP_EBOUNDARY);
	assert_int_equal(gw_mp_feed(&p, "x", 1), GH_MP_EBOUNDARY);
}

/* ---- well-formed bodies ------------------------------------------------- */

static const char basic_body[] =
	"--" BND "\r\n"
	CD "name=\"title\"\r\n"
	"\r\n"
	"Hello\r\n"
	"--" BND "\r\n"
	CD "name=\"file\"; filename=\"a.txt\"\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"line 1\r\nline 2\r\n\r\n"
	"--" BND "\r\n"
	CD "name=\"empty\"\r\n"
	"\r\n"
	"\r\n"
	"--" BND "--\r\n";

static void
test_basic(void **state)
{
	(void)state;
	expect(basic_body,
	       "B(0|title||)HelloE"
	       "B(1|file|=a.txt|text/plain)line 1\r\nline 2\r\nE"
	       "B(2|empty||)E", GH_MP_OK);
}

static void
test_every_split_pair(void **state)
{
	(void)state;
	check_all_splits(BND, NULL, basic_body, strlen(basic_body), 1);
}

static void
test_preamble_epilogue(void **state)
{
	(void)state;
	expect("This is the preamble.\r\n--not it\r\n"
	       "--" BND "\r\n" CD "name=a\r\n\r\nx"
	       D "--\r\nepilogue --" BND "\r\n" CD "name=b\r\n\r\ny" D "--",
	       "B(0|a||)xE", GH_MP_OK);
	/* preamble ending in CRLF right before the delimiter */
	expect("pre\r\n--" BND "\r\n" CD "name=a\r\n\r\n" D "--",
	       "B(0|a||)E", GH_MP_OK);
	/* close delimiter without a trailing CRLF, and an empty form */
	expect("--" BND "--", "", GH_MP_OK);
}

static void
test_zero_length_and_empty_filename(void **state)
{
	(void)state;
	expect("--" BND "\r\n" CD "name=\"f\"; filename=\"\"\r\n"
	       "Content-Type: application/octet-stream\r\n\r\n"
	       D "\r\n" CD "name=\"g\"; filename=\"e.bin\"\r\n\r\n" D "--",
	       "B(0|f|=|application/octet-stream)EB(1|g|=e.bin|)E",
	       GH_MP_OK);
}

static void
test_false_boundaries(void **state)
{
	/* Content that looks like delimiters but is not one: prefixes of
	 * the boundary, the boundary followed by other characters, PEM and
	 * PDF-like lines, a CR right after the boundary. */
	static const char content[] =
		"-----BEGIN CERTIFICATE-----\r\nMIIB\r\n"
		"-----END CERTIFICATE-----\r\n"
		"%PDF-1.4\r\n--\r\n--X\r\n--XyZ\r\n--XyZ-boundary'()+_,./:=\r\n"
		D "X" D "-x" D " \tx" D "\rX" D "\r" D "\t-" D "-\r\n"
		"\r\r\n\r\n-\r\n--\r\r--";
	char body[1024];
	char want[1024];
	int wn;

	(void)state;
	snprintf(body, sizeof(body), "--" BND "\r\n" CD "name=\"f\"; "
	         "filename=\"c.pem\"\r\n\r\n%s" D "--\r\n", content);
	wn = snprintf(want, sizeof(want), "B(0|f|=c.pem|)%sE", content);
	expect_n(body, want, (size_t)wn, GH_MP_OK);
	check_all_splits(BND, NULL, body, strlen(body), 1);
}

static void
test_cr_after_false_delim_starts_real_one(void **state)
{
	/* "\r\n--B\r" is not a delimiter (no LF), but its CR begins the real
	 * one that follows. */
	(void)state;
	expect("--" BND "\r\n" CD "name=a\r\n\r\nab" D "\r" D "\r\n"
	       CD "name=b\r\n\r\nc" D "--",
	       "B(0|a||)ab\r\n--" BND "\rE" "B(1|b||)cE", GH_MP_OK);
}

static void
test_transport_padding(void **state)
{
	char body[512];

	(void)state;
	expect("--" BND " \t \r\n" CD "name=a\r\n\r\nx" D "  \r\n"
	       CD "name=b\r\n\r\ny" D "--",
	       "B(0|a||)xEB(1|b||)yE", GH_MP_OK);
	snprintf(body, sizeof(body), "--" BND "%*s\r\n" CD "name=a\r\n\r\n"
	         D "--", GH_MP_PADDING_MAX, "");
	expect_n(body, "B(0|a||)E", 9, GH_MP_OK);
	snprintf(body, sizeof(body), "--" BND "%*s\r\n" CD "name=a\r\n\r\n"
	         D "--", GH_MP_PADDING_MAX + 1, "");
	expect_n(body, "!EPADDING", 9, GH_MP_EPADDING);
}

static void
test_dispositions(void **state)
{
	(void)state;
	/* filename* wins and is percent-decoded UTF-8 */
	expect("--" BND "\r\n" CD "name=\"f\"; filename=\"eur.txt\"; "
	       "filename*=UTF-8''%e2%82%AC%20rates.txt\r\n\r\n" D "--",
	       "B(0|f|*\xe2\x82\xac rates.txt|)E", GH_MP_OK);
	expect("--" BND "\r\n" CD "filename*=utf-8'en'a%00b.php; name=f"
	       "\r\n\r\n" D "--",
	       "B(0|f|*a\0b.php|)E", GH_MP_OK);
	/* quoted escapes: only \" and \\ */
	expect("--" BND "\r\n" CD "name=\"q\\\"n\"; filename=\"a\\\"b\\\\c"
	       "\\d.txt\"\r\n\r\n" D "--",
	       "B(0|q\"n|=a\"b\\c\\d.txt|)E", GH_MP_OK);
	/* Windows path as IE sends it */
	expect("--" BND "\r\n" CD "name=\"f\"; filename=\"C:\\Users\\x\\"
	       "f.txt\"\r\n\r\n" D "--",
	       "B(0|f|=C:\\Users\\x\\f.txt|)E", GH_MP_OK);
	/* unquoted values, odd case and spacing, unknown params/headers */
	expect("--" BND "\r\n" "content-DISPOSITION:Form-Data ;NAME = f ;"
	       " FileName= my file.txt ; size=3;\r\nX-Other: 1\r\n"
	       "Content-Transfer-Encoding: Binary\r\n\r\n" D "--",
	       "B(0|f|=my file.txt|)E", GH_MP_OK);
	/* raw UTF-8 in a quoted filename */
	expect("--" BND "\r\n" CD "name=\"f\"; filename=\"\xd1\x84.jpg\"\r\n"
	       "\r\n" D "--", "B(0|f|=\xd1\x84.jpg|)E", GH_MP_OK);
	/* control bytes (not CR, LF) in a quoted filename are handed on:
	 * the caller cleans the name (filename.c) */
	expect("--" BND "\r\n" CD "name=\"f\"; filename=\"a\x01b\x1b[2J\x7f"
	       "\tc.txt\"\r\n\r\n" D "--",
	       "B(0|f|=a\x01b\x1b[2J\x7f\tc.txt|)E", GH_MP_OK);
}

static void
test_bad_dispositions(void **state)
{
	static const char *bad[] = {
		"Content-Type: text/plain\r\n",                 /* none */
		"Content-Disposition: attachment; name=a\r\n",
		"Content-Disposition: form-data\r\n",           /* no name */
		"Content-Disposition: form-data; filename=a\r\n",
		CD "name=a; name=b\r\n",
		CD "name=a\r\n" CD "name=b\r\n",
		CD "name=a; filename=x; filename=y\r\n",
		CD "name=a; filename*=ISO-8859-1''%e4.txt\r\n",
		CD "name=a; filename*=UTF-8''%e.txt\r\n",
		CD "name=a; filename*=UTF-8''%zz.txt\r\n",
		CD "name=a; filename*=noquotes\r\n",
		CD "name=\"a\r\n",
		CD "name=\"a\"x\r\n",
		CD "name=a\"b\r\n",
		CD "name=\r\n",
		CD "=a\r\n",
		CD "name\r\n",
		"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char body[512];

		snprintf(body, sizeof(body), "--" BND "\r\n%s\r\nx" D "--",
		         bad[i]);
		expect_n(body, "!EDISPOSITION", 13, GH_MP_EDISPOSITION);
	}
}

static void
test_bad_headers(void **state)
{
#define H(s, e) {s, sizeof(s) - 1, e}
	static const struct {
		const char *hdr;
		size_t len;
		gw_mp_err err;
	} bad[] = {
		H(CD "name=a\r\n folded: yes\r\n", GH_MP_EHEADER),
		H(CD "name=a\r\n\tfolded\r\n", GH_MP_EHEADER),
		H(CD "name=a\r\nX-A : b\r\n", GH_MP_EHEADER),
		H(CD "name=a\r\nno colon\r\n", GH_MP_EHEADER),
		H(CD "name=a\r\n: empty name\r\n", GH_MP_EHEADER),
		H(CD "name=a\nX-Bare: lf\r\n", GH_MP_EHEADER),
		H(CD "name=a\rX-Bare: cr\r\n", GH_MP_EHEADER),
		H(CD "name=\"a\0b\"\r\n", GH_MP_EHEADER),
		H(CD "name=a\x1b\r\n", GH_MP_EHEADER),
		/* control bytes outside a quoted filename */
		H(CD "name=\"a\x01\"; filename=\"b.txt\"\r\n", GH_MP_EHEADER),
		H(CD "name=a; filename=b\x01.txt\r\n", GH_MP_EHEADER),
		H(CD "name=a;\x01 filename=\"b.txt\"\r\n", GH_MP_EHEADER),
		H(CD "name=a; filename=\"b.txt\"\r\nX-A: \x01\r\n",
		  GH_MP_EHEADER),
		H(CD "name=a\r\nContent-Type: text/plain\x1b\r\n", GH_MP_EHEADER),
		/* CR or LF inside a quoted filename: framing, still refused */
		H(CD "name=a; filename=\"b\rc.txt\"\r\n", GH_MP_EHEADER),
		H(CD "name=a; filename=\"b\nX-Injected: 1\".txt\r\n",
		  GH_MP_EHEADER),
		H(CD "name=a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n",
		  GH_MP_EHEADER),
		H(CD "name=a\r\nContent-Type: multipart/mixed; boundary=z\r\n",
		  GH_MP_ENESTED),
		H(CD "name=a\r\nContent-Type: MULTIPART/form-data\r\n",
		  GH_MP_ENESTED),
		H(CD "name=a\r\nContent-Transfer-Encoding: base64\r\n",
		  GH_MP_EENCODING),
		H(CD "name=a\r\nContent-Transfer-Encoding: quoted-printable\r\n",
		  GH_MP_EENCODING),
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char body[512], want[64];
		size_t hl = bad[i].len, n;
		struct rec r;
		gw_mp_err err;

		/* headers may hold a NUL: build the body by hand */
		n = (size_t)snprintf(body, sizeof(body), "--" BND "\r\n");
		memcpy(body + n, bad[i].hdr, hl);
		n += hl;
		n += (size_t)snprintf(body + n, sizeof(body) - n,
		                      "\r\nx" D "--");
		memset(&r, 0, sizeof(r));
		err = parse(&r, BND, body, n);
		snprintf(want, sizeof(want), "!%s", gw_mp_errname(bad[i].err));
		if (err != bad[i].err || strcmp(r.log, want) != 0)
			fail_msg("case %zu: got %s \"%s\"", i,
			         gw_mp_errname(err), r.log);
		rec_free(&r);
		check_all_splits(BND, NULL, body, n, 0);
	}
}

/* ---- truncation and wrong boundaries ----------------------------------- */

static void
test_truncated(void **state)
{
	static const char *cut[] = {
		"--" BND "\r\n" CD "name=a\r\n\r\nsome data",
		"--" BND "\r\n" CD "name=a\r\n\r\nsome data\r\n--" BND,
		"--" BND "\r\n" CD "name=a\r\n\r\nsome data\r\n--" BND "-",
		"--" BND "\r\n" CD "name=a\r\n\r\nsome data\r\n--" BND "\r",
		"--" BND "\r\n" CD "name=a\r\n\r\nsome data\r\n--" BND "\r\n",
		"--" BND "\r\n" CD "name=a\r\n\r\nsome data\r\n--XyZ",
		"--" BND "\r\n" CD "name=a\r\n",
		"--" BND "\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		struct rec r;
		gw_mp_err err;

		memset(&r, 0, sizeof(r));
		err = parse(&r, BND, cut[i], strlen(cut[i]));
		assert_int_equal(err, GH_MP_ETRUNCATED);
		assert_int_equal(r.errors, 1);
		/* only the cut right after a full delimiter ended a part */
		assert_int_equal(r.ends, i == 4 ? 1 : 0);
		assert_non_null(strstr(r.log, "!ETRUNCATED"));
		rec_free(&r);
		check_all_splits(BND, NULL, cut[i], strlen(cut[i]), 0);
	}
	/* every prefix of a good body is refused up to the close delimiter
	 * (the CRLF after it is epilogue) */
	for (i = 0; i < strlen(basic_body) - 2; i++) {
		struct rec r;
		gw_mp_err err;

		memset(&r, 0, sizeof(r));
		err = parse(&r, BND, basic_body, i);
		if (err == GH_MP_OK)
			fail_msg("prefix of %zu bytes accepted", i);
		rec_free(&r);
	}
}

static void
test_wrong_boundary(void **state)
{
	struct gw_mp_limits lim = {0, 0, 64};
	char body[512];
	size_t n;
	struct rec r;

	(void)state;
	/* body made with another boundary: nothing found at the end */
	expect("--other\r\n" CD "name=a\r\n\r\nx\r\n--other--\r\n",
	       "!ENODELIM", GH_MP_ENODELIM);
	expect("", "!ENODELIM", GH_MP_ENODELIM);
	/* and the preamble limit stops it before the end of the body */
	memset(body, 'p', sizeof(body));
	n = sizeof(body);
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_lim(&r, BND, &lim, body, n), GH_MP_ENODELIM);
	rec_free(&r);
	/* a boundary that is a prefix of the real one is not enough */
	expect("--XyZ\r\n" CD "name=a\r\n\r\n\r\n--XyZ--", "!ENODELIM",
	       GH_MP_ENODELIM);
}

/* ---- limits ------------------------------------------------------------- */

static void
test_header_limit(void **state)
{
	struct gw_mp_limits lim = {100, 0, 0};
	char body[GH_MP_HEADER_MAX * 2];
	char pad[GH_MP_HEADER_MAX + 16];
	struct rec r;
	size_t hdr_fixed, n;
	int len;

	(void)state;
	/* header block of exactly 100 bytes passes, 101 does not */
	hdr_fixed = strlen(CD "name=a\r\nX: \r\n\r\n");
	memset(pad, 'v', sizeof(pad));
	len = (int)(100 - hdr_fixed);
	n = (size_t)snprintf(body, sizeof(body), "--" BND "\r\n" CD
	                     "name=a\r\nX: %.*s\r\n\r\n" D "--", len, pad);
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_lim(&r, BND, &lim, body, n), GH_MP_OK);
	rec_free(&r);
	check_all_splits(BND, &lim, body, n, 0);
	n = (size_t)snprintf(body, sizeof(body), "--" BND "\r\n" CD
	                     "name=a\r\nX: %.*s\r\n\r\n" D "--", len + 1, pad);
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_lim(&r, BND, &lim, body, n), GH_MP_EHEADERSIZE);
	assert_string_equal(r.log, "!EHEADERSIZE");
	rec_free(&r);
	check_all_splits(BND, &lim, body, n, 0);

	/* the default is the hard ceiling, 8 KiB */
	n = (size_t)snprintf(body, sizeof(body), "--" BND "\r\n" CD
	                     "name=a\r\nX: %.*s\r\n\r\n" D "--",
	                     (int)(GH_MP_HEADER_MAX - hdr_fixed), pad);
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse(&r, BND, body, n), GH_MP_OK);
	rec_free(&r);
	n = (size_t)snprintf(body, sizeof(body), "--" BND "\r\n" CD
	                     "name=a\r\nX: %.*s\r\n\r\n" D "--",
	                     (int)(GH_MP_HEADER_MAX - hdr_fixed + 1), pad);
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse(&r, BND, body, n), GH_MP_EHEADERSIZE);
	rec_free(&r);
	/* an endless header line without CRLF is cut off as well */
	memset(&r, 0, sizeof(r));
	n = (size_t)snprintf(body, sizeof(body), "--" BND "\r\n%.*s",
	                     (int)sizeof(pad) - 1, pad);
	assert_int_equal(parse(&r, BND, body, n), GH_MP_EHEADERSIZE);
	rec_free(&r);
}

static void
test_part_limit(void **state)
{
	struct gw_mp_limits lim = {0, 3, 0};
	const char *three = "--" BND "\r\n" CD "name=a\r\n\r\n"
	                    D "\r\n" CD "name=b\r\n\r\n"
	                    D "\r\n" CD "name=c\r\n\r\n" D "--";
	const char *four = "--" BND "\r\n" CD "name=a\r\n\r\n"
	                   D "\r\n" CD "name=b\r\n\r\n"
	                   D "\r\n" CD "name=c\r\n\r\n"
	                   D "\r\n" CD "name=d\r\n\r\n" D "--";
	struct rec r;
	char *body;
	size_t n = 0, i, cap = 3000 * 128;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_lim(&r, BND, &lim, three, strlen(three)), 0);
	assert_int_equal(r.begins, 3);
	rec_free(&r);
	assert_int_equal(parse_lim(&r, BND, &lim, four, strlen(four)),
	                 GH_MP_ETOOMANYPARTS);
	assert_int_equal(r.begins, 3);
	assert_int_equal(r.ends, 3);
	rec_free(&r);
	check_all_splits(BND, &lim, four, strlen(four), 0);

	/* thousands of tiny parts: refused at the default limit */
	body = malloc(cap);
	assert_non_null(body);
	n += (size_t)snprintf(body + n, cap - n, "--" BND);
	for (i = 0; i < 3000; i++)
		n += (size_t)snprintf(body + n, cap - n,
		                      "\r\n" CD "name=p\r\n\r\nx" D);
	n += (size_t)snprintf(body + n, cap - n, "--");
	assert_int_equal(parse(&r, BND, body, n), GH_MP_ETOOMANYPARTS);
	assert_int_equal(r.begins, GH_MP_DEFAULT_PARTS);
	rec_free(&r);
	free(body);
}

/* ---- API behaviour ------------------------------------------------------- */

static void
test_callback_abort(void **state)
{
	struct rec r;
	struct gw_mp_parser p;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.abort_on_begin = 2;
	assert_int_equal(parse(&r, BND, basic_body, strlen(basic_body)),
	                 GH_MP_EABORTED);
	assert_int_equal(r.begins, 2);
	assert_int_equal(r.ends, 1);
	rec_free(&r);

	r.abort_on_data = 1;
	assert_int_equal(parse(&r, BND, basic_body, strlen(basic_body)),
	                 GH_MP_EABORTED);
	assert_string_equal(r.log, "B(0|title||)Hello!EABORTED");
	rec_free(&r);

	/* feeding after a successful finish is a misuse */
	assert_int_equal(gw_mp_init(&p, BND, strlen(BND), NULL, &cbs, &r), 0);
	assert_int_equal(gw_mp_feed(&p, basic_body, strlen(basic_body)), 0);
	assert_true(gw_mp_done(&p));
	assert_int_equal(gw_mp_offset(&p), strlen(basic_body));
	assert_int_equal(gw_mp_finish(&p), GH_MP_OK);
	assert_int_equal(gw_mp_finish(&p), GH_MP_OK);
	assert_int_equal(gw_mp_feed(&p, "x", 1), GH_MP_ESTATE);
	assert_int_equal(gw_mp_feed(&p, NULL, 0), GH_MP_ESTATE);
	rec_free(&r);
	assert_string_equal(gw_mp_errname(GH_MP_ENESTED), "ENESTED");
	assert_string_equal(gw_mp_strerror(GH_MP_ERR_COUNT_), "unknown error");
}

/* ---- quoting a name for a body made anew ------------------------------- */

/*
 * Each name quoted as gw_mp_quote_name() writes it, and as the parser
 * reads that back: the name itself, but for '"', CR and LF, which stay
 * percent-encoded as a browser would have sent them.
 */
static void
test_quote_name(void **state)
{
	static const struct {
		const char *name, *quoted, *parsed;
	} t[] = {
		{"plain", "plain", "plain"},
		{"", "", ""},
		{"we\"ird", "we%22ird", "we%22ird"},
		{"a\\b", "a\\\\b", "a\\b"},
		{"end\\", "end\\\\", "end\\"},
		{"\\\\", "\\\\\\\\", "\\\\"},
		{"\\\"", "\\\\%22", "\\%22"},
		{"x\r\ny", "x%0D%0Ay", "x%0D%0Ay"},
		{"C:\\d\\f\"; filename=\"x.php", "C:\\\\d\\\\f%22; filename=%22x.php",
		 "C:\\d\\f%22; filename=%22x.php"},
		{"\xc3\xa9t\xc3\xa9;=%22\t", "\xc3\xa9t\xc3\xa9;=%22\t",
		 "\xc3\xa9t\xc3\xa9;=%22\t"},
	};
	char out[128], body[512], want[256];
	size_t i, n;
	int bn, wn;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].name), qlen = strlen(t[i].quoted);

		/* measuring and writing agree */
		assert_int_equal(gw_mp_quote_name(NULL, 0, t[i].name, len), qlen);
		memset(out, '#', sizeof(out));
		n = gw_mp_quote_name(out, sizeof(out), t[i].name, len);
		assert_int_equal(n, qlen);
		assert_memory_equal(out, t[i].quoted, qlen);
		assert_int_equal(out[qlen], '#');

		/* and the parser reads it back */
		bn = snprintf(body, sizeof(body), "--" BND "\r\n" CD "name=\"%.*s\""
		              "\r\n\r\nv" D "--", (int)qlen, out);
		wn = snprintf(want, sizeof(want), "B(0|%s||)vE", t[i].parsed);
		assert_true(bn > 0 && (size_t)bn < sizeof(body));
		assert_true(wn > 0 && (size_t)wn < sizeof(want));
		expect_n(body, want, (size_t)wn, GH_MP_OK);
	}

	/* a short buffer gets the start only, the whole length is returned */
	memset(out, '#', sizeof(out));
	assert_int_equal(gw_mp_quote_name(out, 2, "a\\b", 3), 4);
	assert_memory_equal(out, "a\\#", 3);
	assert_int_equal(gw_mp_quote_name(out, 4, "a\"", 2), 4);
	assert_memory_equal(out, "a%22#", 5);
}

/* A large binary file full of CR, LF and '-' bytes, fed in uneven chunks:
 * the data must come out byte for byte. */
static void
test_big_binary(void **state)
{
	const size_t fsize = 1u << 20;
	unsigned char *file = malloc(fsize);
	char *body = malloc(fsize + 512);
	struct rec r;
	struct gw_mp_parser *p = malloc(sizeof(*p));
	uint32_t x = 12345;
	size_t i, n, off, step;
	const char *want_head = "B(0|f|=big.bin|)";

	(void)state;
	assert_non_null(file);
	assert_non_null(body);
	assert_non_null(p);
	for (i = 0; i < fsize; i++) {
		static const unsigned char alpha[] = "\r\n-XyZ-boundary\r\n";

		x = x * 1103515245u + 12345u;
		file[i] = (x >> 16) % 3 ? alpha[(x >> 8) % (sizeof(alpha) - 1)]
		                        : (unsigned char)(x >> 24);
	}
	n = (size_t)snprintf(body, 512, "--" BND "\r\n" CD "name=f; "
	                     "filename=big.bin\r\n\r\n");
	memcpy(body + n, file, fsize);
	n += fsize;
	memcpy(body + n, D "--\r\n", strlen(D "--\r\n"));
	n += strlen(D "--\r\n");

	memset(&r, 0, sizeof(r));
	assert_int_equal(gw_mp_init(p, BND, strlen(BND), NULL, &cbs, &r), 0);
	for (off = 0, step = 1; off < n; off += step, step = step * 7 % 4099 + 1) {
		if (step > n - off)
			step = n - off;
		assert_int_equal(gw_mp_feed(p, body + off, step), GH_MP_OK);
	}
	assert_int_equal(gw_mp_finish(p), GH_MP_OK);
	assert_int_equal(r.len, strlen(want_head) + fsize + 1);
	assert_memory_equal(r.log, want_head, strlen(want_head));
	assert_memory_equal(r.log + strlen(want_head), file, fsize);
	assert_int_equal(r.log[r.len - 1], 'E');
	rec_free(&r);
	free(p);
	free(body);
	free(file);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundary_extract),
		cmocka_unit_test(test_init_rejects_bad_boundary),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_every_split_pair),
		cmocka_unit_test(test_preamble_epilogue),
		cmocka_unit_test(test_zero_length_and_empty_filename),
		cmocka_unit_test(test_false_boundaries),
		cmocka_unit_test(test_cr_after_false_delim_starts_real_one),
		cmocka_unit_test(test_transport_padding),
		cmocka_unit_test(test_dispositions),
		cmocka_unit_test(test_bad_dispositions),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_boundary),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_part_limit),
		cmocka_unit_test(test_callback_abort),
		cmocka_unit_test(test_big_binary),
		cmocka_unit_test(test_quote_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
