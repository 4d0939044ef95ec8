/*
 * mime.h - the complete RFC 5322 message the smtp channel uploads
 *
 * libcurl's SMTP upload sends the bytes it is given after DATA.  It does
 * the SMTP dot-stuffing itself (a line starting with "." goes out as "..",
 * lib/smtp.c since 7.26; see curl's test 901) and adds the final
 * CRLF.CRLF, but it does not convert line endings (CURLOPT_CRLF is for
 * other protocols), so the message built here must already have CRLF line
 * ends everywhere and must not be dot-stuffed.
 *
 * THE MESSAGE
 *   Date: Wed, 10 Jun 2026 14:30:00 +0000          (RFC 5322 3.3, in UTC)
 *   From: Gatehouse <gatehouse@example.org>
 *   To: Alice <alice@example.org>
 *   Subject: ...                                   (see below)
 *   Message-ID: <1042.5f3a9c0e7b21d4aa@example.org>   event id, 64 random
 *                                                   bits, host
 *   MIME-Version: 1.0
 *   Content-Type: multipart/alternative; boundary="=_gh_<random hex>"
 *   Auto-Submitted: auto-generated                 (RFC 3834: no replies
 *                                                   from vacation robots)
 *   X-Gatehouse-Event: 1042
 *   X-Gatehouse-Idempotency-Key: 1042:mail:alice@example.org
 *   then a text/plain part and, when there is HTML, a text/html part,
 *   both charset=utf-8.  Without HTML the message is a single text/plain
 *   part.  The boundary starts with "=_", which neither quoted-printable
 *   nor base64 output can contain.
 *
 * HEADERS WITH NON-ASCII TEXT
 *   Subjects and display names that are not plain printable ASCII (or that
 *   contain "=?", which a reader would take for an encoded-word) are sent as
 *   RFC 2047 encoded-words in UTF-8: "Q" when mostly ASCII, "B" otherwise.
 *   Each encoded-word holds whole characters, is at most 75 characters
 *   long, and lines holding them are folded to at most 76 characters.
 *   ASCII subjects are folded at spaces to keep lines within 78.  Control
 *   characters (CR and LF included) become spaces: header injection is not
 *   possible through any field.
 *
 * BODIES
 *   Line ends are normalised to CRLF.  ASCII text whose lines fit in 998
 *   bytes goes as 7bit; other text as quoted-printable (lines at most 76,
 *   trailing white space encoded), or base64 when more than a third of its
 *   bytes are 8-bit (CJK text is shorter that way).  Bodies must be UTF-8.
 *
 * Addresses are plain addr-specs (local@domain) of printable ASCII without
 * spaces or <>()[],;:\" (SMTPUTF8 addresses are not supported).
 */
#ifndef GH_NOTIFYD_MIME_H
#define GH_NOTIFYD_MIME_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"
#include "backoff.h"    /* nd_rng_fn */

#define GH_MIME_MAX (4u * 1024 * 1024)   /* largest message built */

struct nd_mail {
	const char *from_name;   /* display name (UTF-8) or NULL */
	const char *from_addr;   /* required */
	const char *to_name;     /* display name or NULL */
	const char *to_addr;     /* required */
	const char *reply_to;    /* address or NULL */
	const char *subject;     /* UTF-8; NULL or "" gives "(no subject)" */
	const char *text;        /* plain body (UTF-8), required */
	const char *html;        /* HTML body or NULL */
	const char *host;        /* Message-ID domain; NULL: from_addr's */
	uint64_t event_id;
	const char *idem_key;    /* or NULL */
	int64_t now_ms;          /* for Date */
};

/*
 * nd_mime_build - the message as one malloc'd buffer (*out, *olen; it is
 * also NUL-terminated).  rng draws the Message-ID and boundary randomness
 * (nd_rng_os in production).  GH_EINVAL for a bad address or host, or
 * bodies or names that are not UTF-8; GH_ETOOBIG past GH_MIME_MAX;
 * GH_ENOMEM.
 */
gh_err nd_mime_build(const struct nd_mail *m, nd_rng_fn rng, void *rng_arg,
                     char **out, size_t *olen);

/*
 * nd_mime_date - "Wed, 10 Jun 2026 14:30:00 +0000" for now_ms into out
 * (32 bytes are enough).
 */
gh_err nd_mime_date(int64_t now_ms, char *out, size_t cap);

/* nd_mime_addr_ok - 1 if addr is acceptable as described above. */
int nd_mime_addr_ok(const char *addr);

#endif /* GH_NOTIFYD_MIME_H */
