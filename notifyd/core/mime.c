/*
 * mime.c - RFC 5322 / MIME message construction for the smtp channel:
 * headers with RFC 2047 encoded-words, multipart/alternative bodies in
 * 7bit, quoted-printable or base64 (see mime.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/codec.h"
#include "civil.h"
#include "mime.h"
#include "gatehouse/text.h"

#define LINE_SOFT 78      /* RFC 5322 2.1.1 SHOULD */
#define EW_LINE 76        /* RFC 2047 2: lines with encoded-words */
#define EW_MAX 75         /* RFC 2047 2: one encoded-word */
#define QP_LINE 76        /* RFC 2045 6.7 (5) */
#define B64_LINE 76

/* ---- growing buffer, bounded by GH_MIME_MAX ---- */

struct mbuf {
	char *p;
	size_t len, cap;
	size_t col;       /* characters since the last CRLF */
	int err;          /* first failure: GH_ENOMEM or GH_ETOOBIG */
};

static void
mb_put(struct mbuf *b, const char *s, size_t n)
{
	size_t i;

	if (b->err)
		return;
	if (n > GH_MIME_MAX - b->len) {
		b->err = GH_ETOOBIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		char *np;
		while (nc < b->len + n + 1)
			nc *= 2;
		np = realloc(b->p, nc);
		if (np == NULL) {
			b->err = GH_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	for (i = 0; i < n; i++)
		b->col = s[i] == '\n' ? 0 : b->col + 1;
}

static void
mb_str(struct mbuf *b, const char *s)
{
	mb_put(b, s, strlen(s));
}

static void
mb_crlf(struct mbuf *b)
{
	mb_put(b, "\r\n", 2);
}

/* ---- checks ---- */

int
nd_mime_addr_ok(const char *a)
{
	const char *at;
	size_t i, n;

	if (a == NULL || (n = strlen(a)) < 3 || n > 254)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\\\"", c) != NULL)
			return 0;
	}
	at = strchr(a, '@');
	return at != NULL && at != a && at[1] != '\0' && strchr(at + 1, '@') == NULL;
}

static int
host_ok(const char *h)
{
	size_t i, n;

	if (h == NULL || (n = strlen(h)) == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

gh_err
nd_mime_date(int64_t now_ms, char *out, size_t cap)
{
	struct nd_civil c;
	int n;

	nd_civil_from_secs(nd_floor_div(now_ms, 1000), &c);
	if (c.year < 1900 || c.year > 9999)
		return GH_EINVAL;
	n = snprintf(out, cap, "%s, %02d %s %04" PRId64 " %02d:%02d:%02d +0000",
	             nd_wday_abbr(c.wday), c.mday, nd_month_abbr(c.mon), c.year,
	             c.hour, c.min, c.sec);
	return n < 0 || (size_t)n >= cap ? GH_ETOOBIG : GH_OK;
}

/* ---- header text ---- */

/* clean - a copy with control characters as spaces (no header injection). */
static char *
clean(const char *s)
{
	char *c = strdup(s ? s : "");
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; c[i]; i++)
		if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
			c[i] = ' ';
	return c;
}

/* needs_ew - text that must go as encoded-words. */
static int
needs_ew(const char *s)
{
	size_t i, word = 0;

	for (i = 0; s[i]; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return 1;
		word = s[i] == ' ' ? 0 : word + 1;
		/* A word too long to fold within 998 is split by encoding. */
		if (word > 900)
			return 1;
	}
	return strstr(s, "=?") != NULL;
}

/* q_safe - characters Q encoding may leave alone in any header context
 * (RFC 2047 5 (3), the strictest: phrases). */
static int
q_safe(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '!' || c == '*' || c == '+' ||
	       c == '-' || c == '/';
}

static size_t
q_len(const unsigned char *s, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		len += (q_safe(s[i]) || s[i] == ' ') ? 1 : 3;
	return len;
}

/*
 * put_ew - s as encoded-words, folded.  The first word goes on the current
 * line if it fits within EW_LINE, every later one on a continuation line.
 */
static void
put_ew(struct mbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, high = 0, k;
	int use_b;

	for (k = 0; k < n; k++)
		high += u[k] >= 0x80;
	use_b = high * 3 > n;
	while (i < n && !b->err) {
		size_t room = EW_LINE - (b->col < EW_LINE ? b->col : EW_LINE);
		size_t j = i, wlen;

		if (room > EW_MAX)
			room = EW_MAX;
		if (room < 12 + 12) {
			/* Not enough left for a useful word here: fold first. */
			mb_str(b, "\r\n ");
			continue;
		}
		/* Take whole characters while the word still fits. */
		for (;;) {
			size_t c = gh_utf8_seqlen(u[j]), next;
			if (j + c > n)
				c = n - j;
			next = j + c - i;
			wlen = 12 + (use_b ? 4 * ((next + 2) / 3) : q_len(u + i, next));
			if (wlen > room)
				break;
			j += c;
			if (j >= n)
				break;
		}
		if (j == i) {           /* cannot happen with room >= 24 */
			b->err = GH_EINVAL;
			return;
		}
		mb_str(b, use_b ? "=?UTF-8?B?" : "=?UTF-8?Q?");
		if (use_b) {
			char enc[EW_MAX + 1];
			if (gh_b64_encode(GH_B64_STD, u + i, j - i, enc, sizeof enc,
			                  NULL) != GH_OK) {
				b->err = GH_EINVAL;
				return;
			}
			mb_str(b, enc);
		} else {
			for (k = i; k < j; k++) {
				char t[3];
				if (q_safe(u[k])) {
					mb_put(b, (const char *)u + k, 1);
				} else if (u[k] == ' ') {
					mb_put(b, "_", 1);
				} else {
					t[0] = '=';
					t[1] = hex[u[k] >> 4];
					t[2] = hex[u[k] & 15];
					mb_put(b, t, 3);
				}
			}
		}
		mb_str(b, "?=");
		i = j;
		if (i < n)
			mb_str(b, "\r\n ");
	}
}

/* put_folded - ASCII text folded before spaces to stay within 78. */
static void
put_folded(struct mbuf *b, const char *s)
{
	while (*s && !b->err) {
		const char *sp = strchr(s + 1, ' ');
		size_t w = sp ? (size_t)(sp - s) : strlen(s);

		/* The fold goes before the space, which stays as the leading
		 * white space of the continuation line (RFC 5322 2.2.3). */
		if (*s == ' ' && b->col + w > LINE_SOFT && b->col > 1)
			mb_str(b, "\r\n");
		mb_put(b, s, w);
		s += w;
	}
}

static void
put_text_header(struct mbuf *b, const char *name, const char *value)
{
	mb_str(b, name);
	mb_str(b, ": ");
	if (needs_ew(value))
		put_ew(b, value);
	else
		put_folded(b, value);
	mb_crlf(b);
}

/* put_phrase - a display name: atom text, quoted-string or encoded-words. */
static void
put_phrase(struct mbuf *b, const char *name)
{
	const char *p;
	int quote = 0;

	if (needs_ew(name)) {
		put_ew(b, name);
		return;
	}
	for (p = name; *p; p++)
		if (strchr("()<>[]:;@\\,.\"", *p) != NULL)
			quote = 1;
	if (!quote) {
		mb_str(b, name);
		return;
	}
	mb_str(b, "\"");
	for (p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			mb_put(b, "\\", 1);
		mb_put(b, p, 1);
	}
	mb_str(b, "\"");
}

static void
put_mailbox_header(struct mbuf *b, const char *hname, const char *name,
                   const char *addr)
{
	mb_str(b, hname);
	mb_str(b, ": ");
	if (name && *name) {
		put_phrase(b, name);
		/* 76, not 78: the line may hold encoded-words. */
		if (b->col + 2 + strlen(addr) + 1 > EW_LINE)
			mb_str(b, "\r\n");
		mb_str(b, " <");
		mb_str(b, addr);
		mb_str(b, ">");
	} else {
		mb_str(b, addr);
	}
	mb_crlf(b);
}

/* ---- bodies ---- */

enum cte { CTE_7BIT, CTE_QP, CTE_B64 };

/* normalise - s with every line end as CRLF (malloc'd). */
static char *
normalise(const char *s, size_t *olen)
{
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(2 * n + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			out[o++] = '\r';
			out[o++] = '\n';
			if (s[i + 1] == '\n')
				i++;
		} else if (s[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*olen = o;
	return out;
}

static enum cte
choose_cte(const char *s, size_t n)
{
	size_t i, high = 0, line = 0;
	int ascii = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			high++;
			ascii = 0;
		} else if (c == 0 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t')) {
			ascii = 0;
		}
		line = c == '\n' ? 0 : line + 1;
		if (line > 998)
			ascii = 0;
	}
	if (ascii)
		return CTE_7BIT;
	return high * 3 > n ? CTE_B64 : CTE_QP;
}

static void
put_qp(struct mbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, col = 0;

	for (i = 0; i < n && !b->err; i++) {
		unsigned char c = (unsigned char)s[i];
		char t[3];
		size_t w;
		int lit;

		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			mb_str(b, "\r\n");
			i++;
			col = 0;
			continue;
		}
		/* White space before a line end (or the end) must be encoded,
		 * or transports may strip it. */
		lit = (c >= 33 && c <= 126 && c != '=') ||
		      ((c == ' ' || c == '\t') && i + 1 < n && s[i + 1] != '\r');
		w = lit ? 1 : 3;
		/* Keep room for the soft break's "=" within 76. */
		if (col + w > QP_LINE - 1) {
			mb_str(b, "=\r\n");
			col = 0;
		}
		if (lit) {
			mb_put(b, (const char *)&c, 1);
		} else {
			t[0] = '=';
			t[1] = hex[c >> 4];
			t[2] = hex[c & 15];
			mb_put(b, t, 3);
		}
		col += w;
	}
}

static void
put_b64(struct mbuf *b, const char *s, size_t n)
{
	/* 57 input bytes make one 76-character line. */
	char line[B64_LINE + 1];
	size_t i;

	for (i = 0; i < n && !b->err; i += 57) {
		size_t k = n - i < 57 ? n - i : 57, len = 0;
		gh_b64_encode(GH_B64_STD, s + i, k, line, sizeof line, &len);
		mb_put(b, line, len);
		mb_crlf(b);
	}
}

/* put_part_headers_and_body - Content-Type/CTE headers, blank line, body. */
static void
put_part(struct mbuf *b, const char *ctype, const char *body)
{
	size_t n = 0;
	char *norm = normalise(body, &n);
	enum cte cte;

	if (norm == NULL) {
		b->err = GH_ENOMEM;
		return;
	}
	cte = choose_cte(norm, n);
	mb_str(b, "Content-Type: ");
	mb_str(b, ctype);
	mb_str(b, "; charset=utf-8\r\nContent-Transfer-Encoding: ");
	mb_str(b, cte == CTE_7BIT ? "7bit" : cte == CTE_QP ? "quoted-printable" :
	       "base64");
	mb_str(b, "\r\n\r\n");
	if (cte == CTE_7BIT)
		mb_put(b, norm, n);
	else if (cte == CTE_QP)
		put_qp(b, norm, n);
	else
		put_b64(b, norm, n);
	/* Every part ends with a line end before the next boundary. */
	if (b->len < 2 || memcmp(b->p + b->len - 2, "\r\n", 2) != 0)
		mb_crlf(b);
	free(norm);
}

static void
rand_hex(nd_rng_fn rng, void *arg, char out[17])
{
	char raw[8];
	uint64_t v = rng(arg);
	int i;

	for (i = 0; i < 8; i++)
		raw[i] = (char)(v >> (8 * i));
	gh_hex_encode(raw, 8, out, 17);
}

gh_err
nd_mime_build(const struct nd_mail *m, nd_rng_fn rng, void *rng_arg,
              char **out, size_t *olen)
{
	struct mbuf b = {0};
	char date[40], mid[17], bnd[17], line[600];
	char *subject = NULL, *from_name = NULL, *to_name = NULL;
	const char *host;
	gh_err err = GH_EINVAL;

	if (out)
		*out = NULL;
	if (m == NULL || out == NULL || rng == NULL ||
	    !nd_mime_addr_ok(m->from_addr) || !nd_mime_addr_ok(m->to_addr) ||
	    (m->reply_to && !nd_mime_addr_ok(m->reply_to)) || m->text == NULL)
		return GH_EINVAL;
	host = m->host ? m->host : strchr(m->from_addr, '@') + 1;
	if (!host_ok(host))
		return GH_EINVAL;
	if (!gh_utf8_valid(m->text, strlen(m->text)) ||
	    (m->html && !gh_utf8_valid(m->html, strlen(m->html))) ||
	    (m->subject && !gh_utf8_valid(m->subject, strlen(m->subject))) ||
	    (m->from_name && !gh_utf8_valid(m->from_name, strlen(m->from_name))) ||
	    (m->to_name && !gh_utf8_valid(m->to_name, strlen(m->to_name))) ||
	    (m->idem_key && strlen(m->idem_key) > 400))
		return GH_EINVAL;
	err = nd_mime_date(m->now_ms, date, sizeof date);
	if (err)
		return err;
	err = GH_ENOMEM;
	subject = clean(m->subject && *m->subject ? m->subject : "(no subject)");
	from_name = clean(m->from_name);
	to_name = clean(m->to_name);
	if (subject == NULL || from_name == NULL || to_name == NULL)
		goto cleanup;
	rand_hex(rng, rng_arg, mid);
	rand_hex(rng, rng_arg, bnd);

	mb_str(&b, "Date: ");
	mb_str(&b, date);
	mb_crlf(&b);
	put_mailbox_header(&b, "From", from_name, m->from_addr);
	put_mailbox_header(&b, "To", to_name, m->to_addr);
	if (m->reply_to)
		put_mailbox_header(&b, "Reply-To", NULL, m->reply_to);
	put_text_header(&b, "Subject", subject);
	snprintf(line, sizeof line, "Message-ID: <%" PRIu64 ".%s@%s>\r\n",
	         m->event_id, mid, host);
	mb_str(&b, line);
	mb_str(&b, "MIME-Version: 1.0\r\n");
	mb_str(&b, "Auto-Submitted: auto-generated\r\n");
	snprintf(line, sizeof line, "X-Gatehouse-Event: %" PRIu64 "\r\n",
	         m->event_id);
	mb_str(&b, line);
	if (m->idem_key) {
		char *k = clean(m->idem_key);
		if (k == NULL)
			goto cleanup;
		mb_str(&b, "X-Gatehouse-Idempotency-Key: ");
		put_folded(&b, k);
		mb_crlf(&b);
		free(k);
	}
	if (m->html) {
		snprintf(line, sizeof line,
		         "Content-Type: multipart/alternative; boundary=\"=_gh_%s\"\r\n"
		         "\r\n"
		         "This is a multi-part message in MIME format.\r\n"
		         "\r\n--=_gh_%s\r\n", bnd, bnd);
		mb_str(&b, line);
		put_part(&b, "text/plain", m->text);
		snprintf(line, sizeof line, "\r\n--=_gh_%s\r\n", bnd);
		mb_str(&b, line);
		put_part(&b, "text/html", m->html);
		snprintf(line, sizeof line, "\r\n--=_gh_%s--\r\n", bnd);
		mb_str(&b, line);
	} else {
		put_part(&b, "text/plain", m->text);
	}
	err = b.err;
	if (err)
		goto cleanup;
	*out = b.p;
	if (olen)
		*olen = b.len;
	b.p = NULL;
	err = GH_OK;
cleanup:
	free(b.p);
	free(subject);
	free(from_name);
	free(to_name);
	return err;
}
