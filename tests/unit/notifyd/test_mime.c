/*
 * test_mime.c - SMTP message construction.  The test carries its
 * own small decoders (header unfolding, RFC 2047, quoted-printable, base64)
 * and checks that what was built decodes back to what went in, besides
 * the exact bytes of a simple message and the line-length rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gatehouse/codec.h"
#include "../../../notifyd/core/mime.h"
#include "gatehouse/text.h"

static uint64_t
fixed_rng(void *arg)
{
	uint64_t *v = arg;
	return (*v)++;
}

static char *
build(const struct nd_mail *m, size_t *len)
{
	uint64_t seed = 0x1122334455667788ULL;
	char *out = NULL;

	assert_int_equal(nd_mime_build(m, fixed_rng, &seed, &out, len), GH_OK);
	assert_non_null(out);
	assert_int_equal(strlen(out), *len);
	return out;
}

/* Every LF is preceded by CR, and no CR stands alone. */
static void
assert_crlf_only(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
		if (s[i] == '\r')
			assert_int_equal(s[i + 1], '\n');
	}
}

/* The value of header name, unfolded (continuation CRLFs removed). */
static char *
header(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg;
	size_t nl = strlen(name);
	char *out;
	size_t o = 0;

	assert_non_null(end);
	while (p < end) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			out = malloc(4096);
			while (p < end + 2) {
				if (p[0] == '\r' && p[1] == '\n') {
					if (p[2] == ' ' || p[2] == '\t') {
						p += 2;
						continue;
					}
					break;
				}
				out[o++] = *p++;
			}
			out[o] = '\0';
			return out;
		}
		p = strstr(p, "\r\n") + 2;
	}
	return NULL;
}

/* RFC 2047 decoding of an unfolded value (UTF-8 B and Q only). */
static char *
ew_decode(const char *v)
{
	char *out = malloc(4096);
	size_t o = 0;
	int last_ew = 0;

	while (*v) {
		if (strncmp(v, "=?UTF-8?", 8) == 0 && (v[8] == 'B' || v[8] == 'Q') &&
		    v[9] == '?') {
			const char *s = v + 10, *e = strstr(s, "?=");
			char enc = v[8];
			assert_non_null(e);
			if (enc == 'B') {
				size_t n = 0;
				assert_int_equal(gh_b64_decode(GH_B64_STD, s, (size_t)(e - s),
				                 (unsigned char *)out + o, 4096 - o, &n), GH_OK);
				/* Every encoded-word holds whole characters. */
				assert_true(gh_utf8_valid(out + o, n));
				o += n;
			} else {
				size_t st = o;
				for (; s < e; s++) {
					if (*s == '_') {
						out[o++] = ' ';
					} else if (*s == '=') {
						unsigned x;
						assert_int_equal(sscanf(s + 1, "%2X", &x), 1);
						out[o++] = (char)x;
						s += 2;
					} else {
						out[o++] = *s;
					}
				}
				assert_true(gh_utf8_valid(out + st, o - st));
			}
			v = e + 2;
			last_ew = 1;
			continue;
		}
		/* White space between two encoded-words is not text. */
		if (last_ew && (*v == ' ' || *v == '\t')) {
			const char *w = v;
			while (*w == ' ' || *w == '\t')
				w++;
			if (strncmp(w, "=?UTF-8?", 8) == 0) {
				v = w;
				continue;
			}
		}
		last_ew = 0;
		out[o++] = *v++;
	}
	out[o] = '\0';
	return out;
}

static char *
qp_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			unsigned x;
			if (s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 2;
				continue;
			}
			assert_int_equal(sscanf(s + i + 1, "%2X", &x), 1);
			out[o++] = (char)x;
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static char *
b64_body_decode(const char *s, size_t n)
{
	char *clean = malloc(n + 1), *out = malloc(n + 1);
	size_t i, c = 0, o = 0;

	for (i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n')
			clean[c++] = s[i];
	assert_int_equal(gh_b64_decode(GH_B64_STD, clean, c, (unsigned char *)out,
	                               n, &o), GH_OK);
	out[o] = '\0';
	free(clean);
	return out;
}

/* Lines of the header block; limit applies to all of them. */
static void
assert_header_lines_within(const char *msg, size_t ew_limit, size_t limit)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg;

	while (p < end) {
		const char *e = strstr(p, "\r\n");
		size_t len = (size_t)(e - p);
		int has_ew = 0;
		const char *q;
		for (q = p; q + 1 < e; q++)
			if (q[0] == '=' && q[1] == '?')
				has_ew = 1;
		if (len > (has_ew ? ew_limit : limit))
			fail_msg("header line too long (%zu): %.*s", len, (int)len, p);
		p = e + 2;
	}
}

static void
test_exact_simple_message(void **state)
{
	struct nd_mail m = {0};
	size_t len;
	char *msg;

	(void)state;
	m.from_name = "Gatehouse";
	m.from_addr = "gatehouse@example.org";
	m.to_addr = "alice@example.org";
	m.subject = "New login to bastion";
	m.text = "Hello Alice,\n\n.leading dot stays single\n";
	m.event_id = 1042;
	m.idem_key = "1042:mail:alice@example.org";
	m.now_ms = 1781101800123LL;
	msg = build(&m, &len);
	assert_string_equal(msg,
		"Date: Wed, 10 Jun 2026 14:30:00 +0000\r\n"
		"From: Gatehouse <gatehouse@example.org>\r\n"
		"To: alice@example.org\r\n"
		"Subject: New login to bastion\r\n"
		"Message-ID: <1042.8877665544332211@example.org>\r\n"
		"MIME-Version: 1.0\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"X-Gatehouse-Event: 1042\r\n"
		"X-Gatehouse-Idempotency-Key: 1042:mail:alice@example.org\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Hello Alice,\r\n"
		"\r\n"
		".leading dot stays single\r\n");
	free(msg);
}

static void
test_multipart_utf8(void **state)
{
	/* "게이트하우스 경보" and a Korean subject: B encoding. */
	static const char name[] = "\xea\xb2\x8c\xec\x9d\xb4\xed\x8a\xb8\xed\x95\x98"
		"\xec\x9a\xb0\xec\x8a\xa4 \xea\xb2\xbd\xeb\xb3\xb4";
	static const char subj[] = "\xec\x83\x88 \xeb\xa1\x9c\xea\xb7\xb8\xec\x9d\xb8: "
		"bastion (192.0.2.7)";
	static const char text[] = "\xec\x83\x88 \xea\xb8\xb0\xea\xb8\xb0\xec\x97\x90"
		"\xec\x84\x9c \xeb\xa1\x9c\xea\xb7\xb8\xec\x9d\xb8\xed\x96\x88\xec\x8a\xb5"
		"\xeb\x8b\x88\xeb\x8b\xa4.\n";
	static const char html[] = "<p>Caf\xc3\xa9 login from <b>bastion</b></p>\n";
	struct nd_mail m = {0};
	char *msg, *v, *d, *p, *q, *body;
	size_t len;

	(void)state;
	m.from_name = name;
	m.from_addr = "alerts@example.org";
	m.to_name = "Alice Example";
	m.to_addr = "alice@example.org";
	m.reply_to = "security@example.org";
	m.subject = subj;
	m.text = text;
	m.html = html;
	m.host = "mx.example.org";
	m.event_id = 7;
	m.now_ms = 0;
	msg = build(&m, &len);
	assert_crlf_only(msg);
	assert_header_lines_within(msg, 76, 78);

	v = header(msg, "Subject");
	d = ew_decode(v);
	assert_string_equal(d, subj);
	free(v);
	free(d);
	v = header(msg, "From");
	d = ew_decode(v);
	assert_non_null(strstr(d, name));
	assert_non_null(strstr(d, " <alerts@example.org>"));
	free(v);
	free(d);
	v = header(msg, "To");
	assert_string_equal(v, "Alice Example <alice@example.org>");
	free(v);
	v = header(msg, "Reply-To");
	assert_string_equal(v, "security@example.org");
	free(v);
	v = header(msg, "Message-ID");
	assert_string_equal(v, "<7.8877665544332211@mx.example.org>");
	free(v);
	v = header(msg, "Date");
	assert_string_equal(v, "Thu, 01 Jan 1970 00:00:00 +0000");
	free(v);
	v = header(msg, "Content-Type");
	assert_string_equal(v, "multipart/alternative; boundary=\"=_gh_8977665544332211\"");
	free(v);

	/* Part 1: Korean text, base64. */
	{
		static const char delim[] = "\r\n--=_gh_8977665544332211\r\n";
		static const char h1[] = "Content-Type: text/plain; charset=utf-8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n";
		static const char h2[] = "Content-Type: text/html; charset=utf-8\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n";

		p = strstr(msg, delim);
		assert_non_null(p);
		p += strlen(delim);
		assert_int_equal(strncmp(p, h1, strlen(h1)), 0);
		p += strlen(h1);
		q = strstr(p, delim);
		assert_non_null(q);
		body = b64_body_decode(p, (size_t)(q - p));
		assert_int_equal(strncmp(body, text, strlen(text) - 1), 0);
		assert_string_equal(body + strlen(text) - 1, "\r\n");
		free(body);
		/* Part 2: HTML, mostly ASCII, quoted-printable. */
		p = q + strlen(delim);
		assert_int_equal(strncmp(p, h2, strlen(h2)), 0);
		p += strlen(h2);
		q = strstr(p, "\r\n--=_gh_8977665544332211--\r\n");
		assert_non_null(q);
		body = qp_decode(p, (size_t)(q - p));
		assert_string_equal(body, "<p>Caf\xc3\xa9 login from <b>bastion</b></p>\r\n");
		free(body);
	}
	/* The closing delimiter ends the message. */
	assert_string_equal(q, "\r\n--=_gh_8977665544332211--\r\n");
	free(msg);
}

/* append - add s to the NUL-terminated string in buf (cap bytes). */
static void
append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf), k = strlen(s);

	assert_true(n + k < cap);
	memcpy(buf + n, s, k + 1);
}

static void
test_subject_encodings(void **state)
{
	struct nd_mail m = {0};
	char subj[2048], *msg, *v, *d;
	size_t len, i;

	(void)state;
	m.from_addr = "a@example.org";
	m.to_addr = "b@example.org";
	m.text = "x";

	/* Mostly ASCII: Q, spaces as underscores. */
	m.subject = "Caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9: new_login=yes?";
	msg = build(&m, &len);
	v = header(msg, "Subject");
	assert_string_equal(v, "=?UTF-8?Q?Caf=C3=A9_r=C3=A9sum=C3=A9=3A_new=5Flogin=3Dyes=3F?=");
	d = ew_decode(v);
	assert_string_equal(d, m.subject);
	free(v);
	free(d);
	free(msg);

	/* A long Korean subject: many words, whole characters in each. */
	subj[0] = '\0';
	for (i = 0; i < 60; i++)
		append(subj, sizeof subj, "\xea\xb2\xbd\xeb\xb3\xb4 ");
	m.subject = subj;
	msg = build(&m, &len);
	assert_header_lines_within(msg, 76, 78);
	v = header(msg, "Subject");
	d = ew_decode(v);
	/* Trailing space is kept inside the encoding. */
	assert_string_equal(d, subj);
	{
		/* Each encoded-word at most 75 characters. */
		const char *p = v;
		while ((p = strstr(p, "=?UTF-8?")) != NULL) {
			const char *e = strstr(p + 10, "?=");
			assert_true((size_t)(e + 2 - p) <= 75);
			p = e + 2;
		}
	}
	free(v);
	free(d);
	free(msg);

	/* Long ASCII: folded at spaces, unfolds to the original. */
	subj[0] = '\0';
	for (i = 0; i < 40; i++)
		append(subj, sizeof subj, "word ");
	append(subj, sizeof subj, "end");
	m.subject = subj;
	msg = build(&m, &len);
	assert_header_lines_within(msg, 76, 78);
	v = header(msg, "Subject");
	assert_string_equal(v, subj);
	free(v);
	free(msg);

	/* Something that looks like an encoded-word is encoded itself. */
	m.subject = "=?UTF-8?B?Zm9v?=";
	msg = build(&m, &len);
	v = header(msg, "Subject");
	d = ew_decode(v);
	assert_string_equal(d, "=?UTF-8?B?Zm9v?=");
	assert_int_equal(strncmp(v, "=?UTF-8?Q?", 10), 0);
	free(v);
	free(d);
	free(msg);

	m.subject = NULL;
	msg = build(&m, &len);
	v = header(msg, "Subject");
	assert_string_equal(v, "(no subject)");
	free(v);
	free(msg);
}

static void
test_no_header_injection(void **state)
{
	struct nd_mail m = {0};
	char *msg;
	size_t len;

	(void)state;
	m.from_name = "Ops\r\nBcc: evil@example.com";
	m.from_addr = "a@example.org";
	m.to_addr = "b@example.org";
	m.subject = "Hi\r\nBcc: evil@example.com\n\nbody";
	m.idem_key = "1:x:y\r\nBcc: evil@example.com";
	m.text = "x";
	msg = build(&m, &len);
	assert_null(strstr(msg, "\r\nBcc:"));
	assert_null(strstr(msg, "\nBcc:"));
	assert_crlf_only(msg);
	free(msg);
}

static void
test_display_names(void **state)
{
	struct nd_mail m = {0};
	char *msg, *v;
	size_t len;

	(void)state;
	m.from_name = "Ops, Security";
	m.from_addr = "ops@example.org";
	m.to_name = "Bob \"B\" Jr. \\ x";
	m.to_addr = "bob@example.org";
	m.text = "x";
	msg = build(&m, &len);
	v = header(msg, "From");
	assert_string_equal(v, "\"Ops, Security\" <ops@example.org>");
	free(v);
	v = header(msg, "To");
	assert_string_equal(v, "\"Bob \\\"B\\\" Jr. \\\\ x\" <bob@example.org>");
	free(v);
	free(msg);
}

static void
test_bodies(void **state)
{
	struct nd_mail m = {0};
	char text[1200], *msg, *p, *body;
	size_t len, i;

	(void)state;
	m.from_addr = "a@example.org";
	m.to_addr = "b@example.org";
	/* Mixed line ends; trailing white space; a long line with an accent. */
	snprintf(text, sizeof text, "a\nb\rc\r\nd  \ntab\t\n");
	for (i = strlen(text); i < 1000; i++)
		text[i] = (char)('a' + i % 26);
	memcpy(text + 500, "\xc3\xa9=", 3);
	text[1000] = '\0';
	m.text = text;
	msg = build(&m, &len);
	assert_crlf_only(msg);
	p = strstr(msg, "\r\n\r\n");
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
	p += 4;
	{
		/* Lines of at most 76; the body decodes to the CRLF text. */
		const char *l = p;
		while (*l) {
			const char *e = strstr(l, "\r\n");
			assert_non_null(e);
			assert_true(e - l <= 76);
			l = e + 2;
		}
	}
	assert_non_null(strstr(p, "d =20\r\n"));
	assert_non_null(strstr(p, "tab=09\r\n"));
	body = qp_decode(p, strlen(p));
	assert_int_equal(strncmp(body, "a\r\nb\r\nc\r\nd  \r\ntab\t\r\n", 20), 0);
	assert_int_equal(strncmp(body + 20, text + 16, 1000 - 16), 0);
	free(body);
	free(msg);

	/* A 7bit body whose line is too long for SMTP goes quoted-printable. */
	memset(text, 'x', 1100);
	text[1100] = '\0';
	m.text = text;
	msg = build(&m, &len);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
	free(msg);
}

static void
test_rejects(void **state)
{
	static const char *bad[] = {
		"no-at", "a b@example.org", "<a@example.org>", "a@b@c", "@example.org",
		"a@", "a,b@example.org", "caf\xc3\xa9@example.org", "a@exa\r\nmple.org",
	};
	struct nd_mail m = {0};
	uint64_t seed = 1;
	char *out = (char *)1;
	size_t len, i;

	(void)state;
	m.from_addr = "a@example.org";
	m.to_addr = "b@example.org";
	m.text = "x";
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		m.to_addr = bad[i];
		assert_false(nd_mime_addr_ok(bad[i]));
		assert_int_equal(nd_mime_build(&m, fixed_rng, &seed, &out, &len),
		                 GH_EINVAL);
		assert_null(out);
	}
	m.to_addr = "b@example.org";
	m.host = "bad host";
	assert_int_equal(nd_mime_build(&m, fixed_rng, &seed, &out, &len), GH_EINVAL);
	m.host = NULL;
	m.text = "caf\xe9";
	assert_int_equal(nd_mime_build(&m, fixed_rng, &seed, &out, &len), GH_EINVAL);
	m.text = NULL;
	assert_int_equal(nd_mime_build(&m, fixed_rng, &seed, &out, &len), GH_EINVAL);
}

static void
test_date(void **state)
{
	char d[40];

	(void)state;
	assert_int_equal(nd_mime_date(0, d, sizeof d), GH_OK);
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	assert_int_equal(nd_mime_date(1709164800999LL, d, sizeof d), GH_OK);
	assert_string_equal(d, "Thu, 29 Feb 2024 00:00:00 +0000");
	assert_int_equal(nd_mime_date(1781101800000LL, d, 10), GH_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_simple_message),
		cmocka_unit_test(test_multipart_utf8),
		cmocka_unit_test(test_subject_encodings),
		cmocka_unit_test(test_no_header_injection),
		cmocka_unit_test(test_display_names),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
