/*
 * optout.h - the suppression list applied to bulk mail, and the one-click
 * unsubscribe fields (RFC 2369, RFC 8058) added to it
 *
 * Suppressed recipients of a bulk message are marked in the message (the
 * callbacks remove them with smfi_delrcpt); the suppression list is read
 * in one read transaction, which never waits on writers.  A recipient is
 * suppressed for this message when it is on the list for every list, or
 * for the message's List-Id.
 *
 * Recipients past the ones a message keeps are looked up as they arrive
 * instead (msg.h, RECIPIENTS): one that is on the list for no list at all
 * is not kept, since no List-Id can make it suppressed.  A suppression
 * added between that RCPT command and the end of the same message does
 * not reach it, as for a message already queued.
 *
 * List-Unsubscribe carries a token (docs/tokens.md, purpose unsubscribe)
 * over the recipient (normalized, gh_addr_normalize) and the list id (""
 * when the message has no List-Id), expiring after [tokens]
 * unsubscribe_ttl.  The URL is [milter] unsubscribe_url with "?t=TOKEN"
 * appended ("&t=" when the URL already has a query).  A token names one
 * recipient, so only a message with exactly one remaining recipient gets
 * the fields; one that already has List-Unsubscribe keeps its own.
 */
#ifndef GH_MILTER_OPTOUT_H
#define GH_MILTER_OPTOUT_H

#include <stddef.h>
#include <stdint.h>

#include "mstore.h"
#include "msg.h"

#define GH_UNSUB_VALUE_MAX 2400	/* " <URL?t=TOKEN>" */

/* gm_optout_check - mark suppressed recipients of m; store errors
 * returned (already logged once by mstore). */
gh_err gm_optout_check(struct gm_mstore *st, struct gm_msg *m);

/* gm_optout_listed - *listed = 1 when rcpt (an envelope address, as
 * gm_envelope_addr gives it) is on the suppression list for every list or
 * for some list; 0 for one the list cannot hold.  Store errors returned
 * (already logged once by mstore). */
gh_err gm_optout_listed(struct gm_mstore *st, const char *rcpt, int *listed);

/*
 * gm_unsub_value - the List-Unsubscribe value (leading space, as
 * SMFIP_HDR_LEADSPC wants) for rcpt and list, valid until now + ttl.
 * GH_EINVAL for a recipient that is not an address, GH_ETOOBIG.
 */
gh_err gm_unsub_value(const struct gm_mcfg *c, const char *rcpt,
    const char *list, int64_t now_s, char *out, size_t cap);

#define GH_UNSUB_POST_VALUE " List-Unsubscribe=One-Click"

#endif /* GH_MILTER_OPTOUT_H */
