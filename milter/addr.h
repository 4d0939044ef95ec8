/*
 * addr.h - the little address parsing the milter needs: the address in a
 * From field (whose domain picks the DKIM key), the domain of an address,
 * an envelope address without its angle brackets, and header values made
 * fit for a log line.
 *
 * This is not a full RFC 5322 parser.  It finds the first mailbox of an
 * address list: the addr-spec inside the first angle brackets outside quoted
 * strings and comments, or else the whole value with comments removed
 * ("joe@example.com (Joe)").  Group syntax ("undisclosed:;") yields nothing,
 * which leaves the message unsigned rather than signed for a guessed domain.
 *
 * Every function writes into a caller buffer and never allocates.
 */
#ifndef GH_MILTER_ADDR_H
#define GH_MILTER_ADDR_H

#include <stddef.h>

#include "gatehouse/err.h"

#define GH_MADDR_MAX 320	/* as GH_ADDR_MAX: 64 + '@' + 255 */

/*
 * gm_from_address - the first mailbox of a From value into out
 * (NUL-terminated, case kept).  GH_EINVAL when no address with one '@'
 * and non-empty local part and domain is found; GH_ETOOBIG when it does not
 * fit in cap.
 */
gh_err gm_from_address(const char *value, char *out, size_t cap);

/*
 * gm_addr_domain - pointer to the domain part of addr (after the last '@'),
 * or NULL when there is none.  Points into addr.
 */
const char *gm_addr_domain(const char *addr);

/*
 * gm_domain_lower - copy a domain lower-cased, without a trailing dot.
 * GH_EINVAL if empty or holding anything but letters, digits, '-', '_' and
 * '.'; GH_ETOOBIG past cap.
 */
gh_err gm_domain_lower(const char *domain, char *out, size_t cap);

/*
 * gm_envelope_addr - an envelope address as libmilter gives it ("<a@b>",
 * "<>", "a@b", possibly followed by ESMTP parameters in a separate argv
 * entry) without the brackets.  The null sender gives "".  Escaped by
 * gh_text_escape with GH_TEXT_IDENT (gatehouse/text.h: control and invalid
 * bytes as \xhh, a '\' kept as it is, so an address stays itself) and cut
 * at cap - 1 bytes with GH_TEXT_CUT_MARK (it is used for logs and
 * rate-limit keys, where a 320-byte bound is already generous).  cap below
 * GH_TEXT_ESC_MIN gives "".
 */
void gm_envelope_addr(const char *arg, char *out, size_t cap);

/*
 * gm_log_value - a header value for logs and the mail log: folding
 * removed, runs of whitespace made one space, leading and trailing space
 * dropped, then escaped by gh_text_escape (gatehouse/text.h: control
 * characters and invalid UTF-8 as \xhh, '\' as \\), cut to
 * min(cap, GH_LOG_VALUE_MAX) - 1 bytes with GH_TEXT_CUT_MARK.  out may be
 * value.  cap below GH_TEXT_ESC_MIN gives "".
 */
#define GH_LOG_VALUE_MAX 1024
void gm_log_value(const char *value, char *out, size_t cap);

#endif /* GH_MILTER_ADDR_H */
