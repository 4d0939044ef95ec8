/*
 * test_dkim_canon.c - unit tests of the milter's DKIM canonicalization,
 * header parsing and header selection (milter/dkim/canon.c, hdrparse.c,
 * hdrlist.c).
 *
 * Body canonicalization is checked three ways: against the RFC 6376 3.4.5
 * example and a table of edge cases (expected canonical bytes written out),
 * against a deliberately naive whole-buffer reference implementation over
 * thousands of generated bodies, and for chunk-boundary invariance (every
 * split of a body gives the same hash as feeding it whole).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../../../milter/dkim/canon.h"
#include "../../../milter/dkim/hdrlist.h"
#include "../../../milter/dkim/hdrparse.h"

/* ---- helpers ---- */

static void
sha256(const void *data, size_t len, unsigned char out[GH_SHA256_LEN])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, GH_SHA256_LEN);
}

/* Hash body[0..len) fed in pieces cut at cuts[0..ncuts) (ascending). */
static void
body_hash_cuts(gm_canon c, const char *body, size_t len, const size_t *cuts,
    size_t ncuts, unsigned char out[GH_SHA256_LEN])
{
	struct gm_body_canon *bc = NULL;
	size_t prev = 0;
	size_t i;

	assert_int_equal(gm_body_canon_new(c, &bc), GH_OK);
	for (i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : len;

		assert_int_equal(gm_body_canon_update(bc, body + prev,
		    at - prev), GH_OK);
		prev = at;
	}
	assert_int_equal(gm_body_canon_final(bc, out), GH_OK);
	gm_body_canon_free(bc);
}

static void
body_hash(gm_canon c, const char *body, size_t len,
    unsigned char out[GH_SHA256_LEN])
{
	body_hash_cuts(c, body, len, NULL, 0, out);
}

static void
expect_body(gm_canon c, const char *body, const char *canonical)
{
	unsigned char got[GH_SHA256_LEN];
	unsigned char want[GH_SHA256_LEN];

	body_hash(c, body, strlen(body), got);
	sha256(canonical, strlen(canonical), want);
	if (memcmp(got, want, sizeof(got)) != 0)
		fail_msg("%s body canonicalization of \"%s\" is not \"%s\"",
		    gm_canon_name(c), body, canonical);
}

static void
expect_header(gm_canon c, const char *name, const char *value,
    const char *canonical)
{
	char out[512];
	size_t len = 0;

	assert_int_equal(gm_canon_header(c, name, strlen(name), value,
	    strlen(value), out, sizeof(out), &len), GH_OK);
	out[len] = '\0';
	assert_string_equal(out, canonical);
}

/*
 * The reference: the RFC's rules applied literally to a whole buffer.
 * Bare LF counts as CRLF; lines are split on CRLF; relaxed squeezes
 * whitespace runs and strips line ends; trailing empty lines go; each
 * remaining line gets CRLF; an empty simple body is CRLF.
 */
static size_t
ref_body(gm_canon c, const char *in, size_t len, char *out)
{
	char *norm = malloc(2 * len + 1);
	size_t n = 0;
	size_t o = 0;
	size_t i;
	size_t line = 0;
	size_t keep = 0;	/* output length up to the last non-empty line */

	assert_non_null(norm);
	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			norm[n++] = '\r';
		norm[n++] = in[i];
	}
	while (line <= n) {
		size_t end = line;
		size_t start = o;
		int sp = 0;

		while (end < n && !(norm[end] == '\r' && end + 1 < n &&
		    norm[end + 1] == '\n'))
			end++;
		for (i = line; i < end; i++) {
			char ch = norm[i];

			if (c == GH_CANON_RELAXED && (ch == ' ' || ch == '\t')) {
				sp = 1;
				continue;
			}
			if (sp)
				out[o++] = ' ';
			sp = 0;
			out[o++] = ch;
		}
		out[o++] = '\r';
		out[o++] = '\n';
		if (o - start > 2)
			keep = o;
		line = end + 2;
	}
	o = keep;
	if (o == 0 && c == GH_CANON_SIMPLE) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	free(norm);
	return o;
}

/* ---- RFC 6376 3.4.5 ---- */

static const char rfc_headers[] =
    "A: X\r\n"
    "B : Y\t\r\n"
    "\tZ  \r\n"
    "\r\n";
static const char rfc_body[] =
    " C \r\n"
    "D \t E\r\n"
    "\r\n"
    "\r\n";

struct collect {
	struct gm_hdrlist list;
};

static gh_err
collect_field(void *arg, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	struct collect *c = arg;

	return gm_hdrlist_add(&c->list, name, namelen, value, valuelen);
}

static void
canon_fields(gm_canon c, const struct gm_hdrlist *l, char *out, size_t outsz)
{
	size_t o = 0;
	size_t i;

	for (i = 0; i < l->n; i++) {
		size_t len = 0;

		assert_int_equal(gm_canon_header(c, l->v[i].name,
		    l->v[i].namelen, l->v[i].value, l->v[i].valuelen, out + o,
		    outsz - o - 3, &len), GH_OK);
		o += len;
		memcpy(out + o, "\r\n", 2);
		o += 2;
	}
	out[o] = '\0';
}

static void
test_rfc6376_example(void **state)
{
	struct collect c;
	char msg[256];
	char out[256];
	size_t body_off = 0;

	(void)state;
	snprintf(msg, sizeof(msg), "%s%s", rfc_headers, rfc_body);
	gm_hdrlist_init(&c.list);
	assert_int_equal(gm_hdrparse(msg, strlen(msg), collect_field, &c,
	    &body_off), GH_OK);
	assert_int_equal(body_off, strlen(rfc_headers));
	assert_int_equal(c.list.n, 2);
	assert_string_equal(c.list.v[1].name, "B ");
	assert_string_equal(c.list.v[1].value, " Y\t\r\n\tZ  ");

	canon_fields(GH_CANON_RELAXED, &c.list, out, sizeof(out));
	assert_string_equal(out, "a:X\r\nb:Y Z\r\n");
	canon_fields(GH_CANON_SIMPLE, &c.list, out, sizeof(out));
	assert_string_equal(out, "A: X\r\nB : Y\t\r\n\tZ  \r\n");

	expect_body(GH_CANON_RELAXED, msg + body_off, " C\r\nD E\r\n");
	expect_body(GH_CANON_SIMPLE, msg + body_off, " C \r\nD \t E\r\n");
	gm_hdrlist_clear(&c.list);
}

/* ---- body edge cases ---- */

static void
test_body_edges(void **state)
{
	(void)state;
	/* Empty body (RFC 6376 3.4.3, 3.4.4 and erratum 1384). */
	expect_body(GH_CANON_SIMPLE, "", "\r\n");
	expect_body(GH_CANON_RELAXED, "", "");
	/* Only blank lines. */
	expect_body(GH_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
	expect_body(GH_CANON_RELAXED, "\r\n\r\n\r\n", "");
	/* Only whitespace lines: content for simple, empty for relaxed. */
	expect_body(GH_CANON_SIMPLE, "  \r\n\t\r\n\r\n", "  \r\n\t\r\n");
	expect_body(GH_CANON_RELAXED, "  \r\n\t\r\n\r\n", "");
	/* No final line end. */
	expect_body(GH_CANON_SIMPLE, "abc", "abc\r\n");
	expect_body(GH_CANON_RELAXED, "abc", "abc\r\n");
	expect_body(GH_CANON_RELAXED, "abc \t ", "abc\r\n");
	/* Whitespace: inside, leading, trailing, before blank lines. */
	expect_body(GH_CANON_RELAXED, "a  b \t\r\n", "a b\r\n");
	expect_body(GH_CANON_RELAXED, " \t lead\r\n", " lead\r\n");
	expect_body(GH_CANON_RELAXED, "x\r\n \r\n\r\ny \r\n \t\r\n",
	    "x\r\n\r\n\r\ny\r\n");
	expect_body(GH_CANON_SIMPLE, "x\r\n \r\n\r\ny \r\n \t\r\n\r\n",
	    "x\r\n \r\n\r\ny \r\n \t\r\n");
	/* Bare LF is CRLF. */
	expect_body(GH_CANON_SIMPLE, "a\nb\n\n\n", "a\r\nb\r\n");
	expect_body(GH_CANON_RELAXED, "a \nb\t\n\n", "a\r\nb\r\n");
	expect_body(GH_CANON_SIMPLE, "a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n");
	/* Bare CR is data, neither line end nor whitespace. */
	expect_body(GH_CANON_SIMPLE, "a\rb\r\n", "a\rb\r\n");
	expect_body(GH_CANON_RELAXED, "a \r\r\n", "a \r\r\n");
	expect_body(GH_CANON_RELAXED, "a\r \r\n", "a\r\r\n");
	expect_body(GH_CANON_SIMPLE, "abc\r", "abc\r\r\n");
	expect_body(GH_CANON_RELAXED, "\r", "\r\r\n");
	/* Dots are not special after SMTP unstuffing. */
	expect_body(GH_CANON_SIMPLE, ".\r\n..x\r\n", ".\r\n..x\r\n");
	/* 8-bit data passes through. */
	expect_body(GH_CANON_RELAXED, "Gr\xc3\xbc\xc3\x9f  e\r\n",
	    "Gr\xc3\xbc\xc3\x9f e\r\n");
}

/* Bodies with every tricky boundary in them. */
static const char *const tricky[] = {
	"a \t b  \r\n\r\n \r\n\tx\r\r\n\n\n  \r\n",
	" C \r\nD \t E\r\n\r\n\r\n",
	"\r\n\r\n\r\nx\r\n\r\n\r\n",
	"x  \t  \r\n   \r\n\r\ny\r",
	"line\nline \n\n \n\t\nz\n",
	"\r\r\r\n\r\n \r \r\n",
	"",
	"no end  ",
};

static void
test_chunk_invariance(void **state)
{
	size_t t;

	(void)state;
	for (t = 0; t < sizeof(tricky) / sizeof(tricky[0]); t++) {
		const char *body = tricky[t];
		size_t len = strlen(body);
		int c;

		for (c = 0; c < 2; c++) {
			unsigned char whole[GH_SHA256_LEN];
			unsigned char got[GH_SHA256_LEN];
			char *ref = malloc(4 * len + 8);
			size_t cuts[2];
			size_t i;
			size_t j;

			assert_non_null(ref);
			body_hash((gm_canon)c, body, len, whole);
			sha256(ref, ref_body((gm_canon)c, body, len, ref), got);
			assert_memory_equal(whole, got, sizeof(got));
			free(ref);
			/* Every split in two and in three pieces. */
			for (i = 0; i <= len; i++) {
				cuts[0] = i;
				body_hash_cuts((gm_canon)c, body, len, cuts, 1,
				    got);
				assert_memory_equal(whole, got, sizeof(got));
				for (j = i; j <= len; j++) {
					cuts[1] = j;
					body_hash_cuts((gm_canon)c, body, len,
					    cuts, 2, got);
					assert_memory_equal(whole, got,
					    sizeof(got));
				}
			}
			/* One byte at a time, with empty chunks between. */
			{
				struct gm_body_canon *bc = NULL;

				assert_int_equal(gm_body_canon_new((gm_canon)c,
				    &bc), GH_OK);
				for (i = 0; i < len; i++) {
					assert_int_equal(gm_body_canon_update(bc,
					    body + i, 1), GH_OK);
					assert_int_equal(gm_body_canon_update(bc,
					    body + i, 0), GH_OK);
				}
				assert_int_equal(gm_body_canon_final(bc, got),
				    GH_OK);
				gm_body_canon_free(bc);
				assert_memory_equal(whole, got, sizeof(got));
			}
		}
	}
}

/* Differential test against the reference over generated bodies. */
static void
test_body_vs_reference(void **state)
{
	static const char alphabet[] = "ab \t\r\n\n\r .";
	uint32_t seed = 12345;
	char body[64];
	char ref[4 * sizeof(body) + 8];
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		size_t len;
		size_t i;
		int c;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(body);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			body[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		for (c = 0; c < 2; c++) {
			unsigned char want[GH_SHA256_LEN];
			unsigned char got[GH_SHA256_LEN];
			size_t cut[1];

			sha256(ref, ref_body((gm_canon)c, body, len, ref), want);
			seed = seed * 1103515245u + 12345u;
			cut[0] = len ? (seed >> 16) % (len + 1) : 0;
			body_hash_cuts((gm_canon)c, body, len, cut, 1, got);
			if (memcmp(want, got, sizeof(got)) != 0)
				fail_msg("round %d %s mismatch", round,
				    gm_canon_name((gm_canon)c));
		}
	}
}

static void
test_body_misuse(void **state)
{
	struct gm_body_canon *bc = NULL;
	unsigned char d[GH_SHA256_LEN];

	(void)state;
	assert_int_equal(gm_body_canon_new(GH_CANON_SIMPLE, &bc), GH_OK);
	assert_int_equal(gm_body_canon_update(bc, "x\r\n", 3), GH_OK);
	assert_int_equal(gm_body_canon_final(bc, d), GH_OK);
	assert_int_equal(gm_body_canon_length(bc), 3);
	assert_int_equal(gm_body_canon_update(bc, "x", 1), GH_EINVAL);
	assert_int_equal(gm_body_canon_final(bc, d), GH_EINVAL);
	assert_int_equal(gm_body_canon_update(NULL, "x", 1), GH_EINVAL);
	gm_body_canon_free(bc);
	gm_body_canon_free(NULL);
}

/* A long body crossing the staging buffer many times. */
static void
test_body_large(void **state)
{
	size_t len = 300000;
	char *body = malloc(len);
	char *ref = malloc(2 * len + 8);
	unsigned char want[GH_SHA256_LEN];
	unsigned char got[GH_SHA256_LEN];
	size_t cuts[3] = {8191, 8193, 100003};
	size_t i;
	int c;

	(void)state;
	assert_non_null(body);
	assert_non_null(ref);
	for (i = 0; i < len; i++)
		body[i] = (i % 77 == 75) ? '\r' : (i % 77 == 76) ? '\n' :
		    (i % 13 == 0) ? ' ' : (char)('A' + i % 26);
	for (c = 0; c < 2; c++) {
		sha256(ref, ref_body((gm_canon)c, body, len, ref), want);
		body_hash_cuts((gm_canon)c, body, len, cuts, 3, got);
		assert_memory_equal(want, got, sizeof(got));
	}
	free(body);
	free(ref);
}

/* ---- header canonicalization ---- */

static void
test_header_canon(void **state)
{
	char small[8];
	size_t len;

	(void)state;
	/* libmilter's "\n\t" folding is CRLF on the wire. */
	expect_header(GH_CANON_SIMPLE, "Subject", " a\n\tb", "Subject: a\r\n\tb");
	expect_header(GH_CANON_SIMPLE, "Subject", " a\r\n\tb",
	    "Subject: a\r\n\tb");
	expect_header(GH_CANON_RELAXED, "SubJect", "  \r\n\t hello   world \t",
	    "subject:hello world");
	expect_header(GH_CANON_RELAXED, "To", " a\n\tb\n c", "to:a b c");
	expect_header(GH_CANON_RELAXED, "B \t", " Y", "b:Y");
	expect_header(GH_CANON_RELAXED, "X-Empty", "", "x-empty:");
	expect_header(GH_CANON_RELAXED, "X-Empty", " \t ", "x-empty:");
	expect_header(GH_CANON_SIMPLE, "X-Empty", "", "X-Empty:");
	expect_header(GH_CANON_RELAXED, "X-Utf8", " Gr\xc3\xbc\xc3\x9f\t \xe2\x82\xac",
	    "x-utf8:Gr\xc3\xbc\xc3\x9f \xe2\x82\xac");
	/* A bare CR is data. */
	expect_header(GH_CANON_RELAXED, "X", " a\rb", "x:a\rb");

	assert_int_equal(gm_canon_header(GH_CANON_SIMPLE, "Subject", 7, " hi",
	    3, small, sizeof(small), &len), GH_ETOOBIG);
	assert_int_equal(gm_canon_header(GH_CANON_RELAXED, "Subject", 7, " hi",
	    3, small, sizeof(small), &len), GH_ETOOBIG);
	assert_int_equal(gm_canon_header(GH_CANON_RELAXED, " ", 1, "x", 1,
	    small, sizeof(small), &len), GH_EINVAL);
	assert_true(gm_canon_header_bound(7, 3) >= 7 + 1 + 3);
	assert_int_equal(gm_canon_header_bound(SIZE_MAX, 1), SIZE_MAX);
}

static void
test_canon_parse(void **state)
{
	gm_canon h;
	gm_canon b;

	(void)state;
	assert_int_equal(gm_canon_parse("relaxed/simple", &h, &b), GH_OK);
	assert_int_equal(h, GH_CANON_RELAXED);
	assert_int_equal(b, GH_CANON_SIMPLE);
	assert_int_equal(gm_canon_parse("simple/relaxed", &h, &b), GH_OK);
	assert_int_equal(h, GH_CANON_SIMPLE);
	assert_int_equal(b, GH_CANON_RELAXED);
	assert_int_equal(gm_canon_parse("relaxed", &h, &b), GH_OK);
	assert_int_equal(h, GH_CANON_RELAXED);
	assert_int_equal(b, GH_CANON_SIMPLE);
	assert_int_equal(gm_canon_parse("relaxed/", &h, &b), GH_EINVAL);
	assert_int_equal(gm_canon_parse("Relaxed", &h, &b), GH_EINVAL);
	assert_int_equal(gm_canon_parse("nowsp/simple", &h, &b), GH_EINVAL);
	assert_string_equal(gm_canon_name(GH_CANON_SIMPLE), "simple");
}

/* ---- header parsing ---- */

static void
test_hdrparse(void **state)
{
	static const char lf[] =
	    "From: a@example.com\n"
	    "Subject: one\n"
	    "  two\n"
	    "\tthree\n"
	    "X-Empty:\n"
	    "\n"
	    "body\n";
	static const char noblank[] = "From: a@example.com\r\nTo: b\r\n";
	static const char noeol[] = "From: a@example.com";
	struct collect c;
	size_t off = 0;

	(void)state;
	gm_hdrlist_init(&c.list);
	assert_int_equal(gm_hdrparse(lf, strlen(lf), collect_field, &c, &off),
	    GH_OK);
	assert_int_equal(c.list.n, 3);
	assert_string_equal(c.list.v[1].value, " one\n  two\n\tthree");
	assert_int_equal(c.list.v[2].valuelen, 0);
	assert_string_equal(lf + off, "body\n");
	gm_hdrlist_clear(&c.list);

	assert_int_equal(gm_hdrparse(noblank, strlen(noblank), collect_field,
	    &c, &off), GH_OK);
	assert_int_equal(off, strlen(noblank));
	assert_int_equal(c.list.n, 2);
	assert_string_equal(c.list.v[1].value, " b");
	gm_hdrlist_clear(&c.list);

	assert_int_equal(gm_hdrparse(noeol, strlen(noeol), collect_field, &c,
	    &off), GH_OK);
	assert_int_equal(off, strlen(noeol));
	assert_string_equal(c.list.v[0].value, " a@example.com");
	gm_hdrlist_clear(&c.list);

	/* Empty message: no fields, empty body. */
	assert_int_equal(gm_hdrparse("", 0, collect_field, &c, &off), GH_OK);
	assert_int_equal(off, 0);
	assert_int_equal(c.list.n, 0);

	/* Malformed. */
	assert_int_equal(gm_hdrparse(" cont: x\r\n", 10, collect_field, &c,
	    &off), GH_EINVAL);
	assert_int_equal(gm_hdrparse("No colon here\r\n", 15, collect_field,
	    &c, &off), GH_EINVAL);
	assert_int_equal(gm_hdrparse("From a@b Mon\r\n", 14, collect_field,
	    &c, &off), GH_EINVAL);
	assert_int_equal(gm_hdrparse(": x\r\n", 5, collect_field, &c, &off),
	    GH_EINVAL);
	assert_int_equal(gm_hdrparse("X: a\0b\r\n", 8, collect_field, &c,
	    &off), GH_EINVAL);
	gm_hdrlist_clear(&c.list);
}

/* ---- header list: bounds, selection, oversigning ---- */

static void
add(struct gm_hdrlist *l, const char *name, const char *value)
{
	assert_int_equal(gm_hdrlist_add(l, name, strlen(name), value,
	    strlen(value)), GH_OK);
}

static void
test_select_bottom_up(void **state)
{
	struct gm_hdrlist l;
	const char *names[] = {"to", "TO", "From", "to", "to", "x-none"};
	const struct gm_hdr *sel[6];

	(void)state;
	gm_hdrlist_init(&l);
	add(&l, "From", " a");
	add(&l, "To", " 1");
	add(&l, "Subject", " s");
	add(&l, "to", " 2");
	add(&l, "To ", " 3");	/* "To :" in obsolete syntax */
	assert_int_equal(gm_hdrlist_count(&l, "to"), 3);
	assert_int_equal(gm_hdrlist_select(&l, names, 6, sel), GH_OK);
	assert_string_equal(sel[0]->value, " 3");
	assert_string_equal(sel[1]->value, " 2");
	assert_string_equal(sel[2]->value, " a");
	assert_string_equal(sel[3]->value, " 1");
	assert_null(sel[4]);	/* one more than exists: oversigned */
	assert_null(sel[5]);
	gm_hdrlist_clear(&l);
}

static void
test_plan_oversign(void **state)
{
	struct gm_hdrlist l;
	const char *sign[] = {"From", "To", "Subject", "Cc", "to"};
	const char *over[] = {"from", "To", "Date", "List-Unsubscribe", "Date"};
	const char *h[GH_HDR_MAX_SIGNED];
	size_t nh = 0;
	const char *want[] = {"From", "From", "To", "To", "To", "Subject",
	    "Date", "List-Unsubscribe"};
	size_t i;

	(void)state;
	gm_hdrlist_init(&l);
	add(&l, "From", " a");
	add(&l, "To", " 1");
	add(&l, "Subject", " s");
	add(&l, "To", " 2");
	assert_int_equal(gm_hdrlist_plan(&l, sign, 5, over, 5, h, &nh), GH_OK);
	assert_int_equal(nh, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < nh; i++)
		assert_string_equal(h[i], want[i]);

	/* No oversigning: exactly what is present. */
	assert_int_equal(gm_hdrlist_plan(&l, sign, 5, NULL, 0, h, &nh), GH_OK);
	assert_int_equal(nh, 4);

	/* From is required. */
	assert_int_equal(gm_hdrlist_plan(&l, sign + 1, 2, NULL, 0, h, &nh),
	    GH_EINVAL);
	gm_hdrlist_clear(&l);
	add(&l, "To", " 1");
	assert_int_equal(gm_hdrlist_plan(&l, sign, 5, over, 5, h, &nh),
	    GH_EINVAL);

	/* Bad names in the configuration. */
	{
		const char *bad[] = {"From", "Sub ject"};

		add(&l, "From", " a");
		assert_int_equal(gm_hdrlist_plan(&l, bad, 2, NULL, 0, h, &nh),
		    GH_EINVAL);
	}
	gm_hdrlist_clear(&l);
}

static void
test_plan_too_many(void **state)
{
	struct gm_hdrlist l;
	const char *sign[] = {"From", "To"};
	const char *h[GH_HDR_MAX_SIGNED];
	size_t nh = 0;
	int i;

	(void)state;
	gm_hdrlist_init(&l);
	add(&l, "From", " a");
	for (i = 0; i < GH_HDR_MAX_SIGNED; i++)
		add(&l, "To", " x");
	assert_int_equal(gm_hdrlist_plan(&l, sign, 2, NULL, 0, h, &nh),
	    GH_ETOOBIG);
	gm_hdrlist_clear(&l);
}

static void
test_hdrlist_bounds(void **state)
{
	struct gm_hdrlist l;
	size_t big = GH_HDR_MAX_FIELD;
	char *value = malloc(big + 1);
	int i;

	(void)state;
	assert_non_null(value);
	memset(value, 'v', big);
	value[big] = '\0';
	gm_hdrlist_init(&l);

	/* One field: name + ':' + value <= GH_HDR_MAX_FIELD. */
	assert_int_equal(gm_hdrlist_add(&l, "X", 1, value, big - 2), GH_OK);
	assert_int_equal(gm_hdrlist_add(&l, "X", 1, value, big - 1),
	    GH_ETOOBIG);
	assert_int_equal(l.n, 1);
	gm_hdrlist_clear(&l);

	/* Total bytes. */
	for (i = 0; i < 10; i++)
		assert_int_equal(gm_hdrlist_add(&l, "X", 1, value, big - 2),
		    GH_OK);
	assert_int_equal(gm_hdrlist_add(&l, "X", 1, value,
	    GH_HDR_MAX_TOTAL - 10 * big + 1), GH_ETOOBIG);
	assert_int_equal(gm_hdrlist_add(&l, "X", 1, value,
	    GH_HDR_MAX_TOTAL - 10 * big - 2), GH_OK);
	gm_hdrlist_clear(&l);

	/* Field count. */
	for (i = 0; i < GH_HDR_MAX_FIELDS; i++)
		assert_int_equal(gm_hdrlist_add(&l, "X", 1, " y", 2), GH_OK);
	assert_int_equal(gm_hdrlist_add(&l, "X", 1, " y", 2), GH_ETOOBIG);
	gm_hdrlist_clear(&l);

	/* Names. */
	assert_int_equal(gm_hdrlist_add(&l, "", 0, "x", 1), GH_EINVAL);
	assert_int_equal(gm_hdrlist_add(&l, "A:B", 3, "x", 1), GH_EINVAL);
	assert_int_equal(gm_hdrlist_add(&l, "A B", 3, "x", 1), GH_EINVAL);
	assert_int_equal(gm_hdrlist_add(&l, "\xc3\xa9", 2, "x", 1), GH_EINVAL);
	assert_int_equal(gm_hdrlist_add(&l, "A", 1, NULL, 1), GH_EINVAL);
	assert_int_equal(gm_hdrlist_add(&l, "A", 1, NULL, 0), GH_OK);
	assert_string_equal(l.v[0].value, "");
	gm_hdrlist_clear(&l);
	free(value);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6376_example),
		cmocka_unit_test(test_body_edges),
		cmocka_unit_test(test_chunk_invariance),
		cmocka_unit_test(test_body_vs_reference),
		cmocka_unit_test(test_body_misuse),
		cmocka_unit_test(test_body_large),
		cmocka_unit_test(test_header_canon),
		cmocka_unit_test(test_canon_parse),
		cmocka_unit_test(test_hdrparse),
		cmocka_unit_test(test_select_bottom_up),
		cmocka_unit_test(test_plan_oversign),
		cmocka_unit_test(test_plan_too_many),
		cmocka_unit_test(test_hdrlist_bounds),
	};

	return cmocka_run_group_tests_name("dkim_canon", tests, NULL, NULL);
}
