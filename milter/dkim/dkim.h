/*
 * dkim.h - sign one message with one or more DKIM signatures (RFC 6376,
 * RFC 8463), fed the way a milter sees the message
 *
 * USE (one struct gm_dkim_msg per message, from the milter callbacks)
 *   xxfi_envfrom               gm_dkim_msg_new(), with the signatures to
 *                              make if already known, else with none
 *   xxfi_header                gm_dkim_msg_header(m, name, value) per field
 *   end of the header          gm_dkim_msg_add_sig() per signature once the
 *                              From domain has chosen the keys (the body
 *                              must not have started; the milter does this
 *                              before the first xxfi_body, or at xxfi_eom)
 *   xxfi_body                  gm_dkim_msg_body(m, chunk, len) per chunk
 *   xxfi_eom                   gm_dkim_msg_header() for fields the milter
 *                              itself appends (smfi_addheader puts them at
 *                              the end), then gm_dkim_msg_finish(), then
 *                              smfi_insheader(ctx, 0, GH_DKIM_SIG_NAME,
 *                              gm_dkim_msg_value(m, i)) for each signature
 *   xxfi_abort/xxfi_close      gm_dkim_msg_free()
 *
 *   Fields must be fed with the value exactly as libmilter gives it with
 *   SMFIP_HDR_LEADSPC: leading space and folding kept (canon.h).
 *
 * SIGNATURES
 *   Up to GH_DKIM_MAX_SIGS signatures per message, each with its own key,
 *   d=, s=, canonicalization and header lists: dual RSA + Ed25519 signing
 *   is two entries.  The body is canonicalized and hashed once per body
 *   canonicalization in use (at most two passes, whatever the number of
 *   signatures) and never buffered.
 *
 * ERRORS
 *   Every call returns a gh_err.  Errors caused by the message are sticky:
 *   after the first one (a header over the bounds in hdrlist.h, out of
 *   memory, ...) every later call returns it again, so the callback layer
 *   may ignore intermediate results and decide at eom (tempfail, or pass
 *   the message unsigned, by policy).  Misuse (a call out of order, bad
 *   options to gm_dkim_msg_add_sig) returns GH_EINVAL without poisoning
 *   the message.  GH_EINVAL from finish means the message cannot be
 *   signed: no From field, or no signature requested.
 *
 * MEMORY
 *   gm_dkim_msg_new() copies d=, s= and the header name lists; keys are
 *   borrowed and must outlive the message (the milter's pinned config owns
 *   them).  Values returned by gm_dkim_msg_value() belong to the message.
 *   A message is used by one thread at a time; keys may be shared.
 */
#ifndef GH_MILTER_DKIM_H
#define GH_MILTER_DKIM_H

#include <stddef.h>

#include "gatehouse/dkimkey.h"
#include "gatehouse/err.h"
#include "canon.h"
#include "dkim_sighdr.h"

#define GH_DKIM_MAX_SIGS 8
/* Longest list of header names to sign or oversign. */
#define GH_DKIM_MAX_NAMES 64

/* Header fields signed when a signature names none (NULL headers). */
extern const char *const gm_dkim_default_headers[];
extern const size_t gm_dkim_default_nheaders;
/* Header fields oversigned when a signature names none (NULL oversign). */
extern const char *const gm_dkim_default_oversign[];
extern const size_t gm_dkim_default_noversign;

struct gm_dkim_sign_opts {
	const struct gh_dkim_key *key;	/* borrowed; decides a= */
	const char *domain;		/* d= */
	const char *selector;		/* s= */
	gm_canon hdr_canon;
	gm_canon body_canon;
	long long t;	/* t= (seconds since the epoch); < 0 leaves it out */
	long long x;	/* x= expiry; <= 0 leaves it out; else must be > t */
	/*
	 * Names to sign, and names to oversign (signed once more than they
	 * occur, so a field added later breaks the signature; a name in
	 * oversign is signed even if absent from headers).  NULL means the
	 * defaults above; a non-NULL list with count 0 means none.
	 */
	const char *const *headers;
	size_t nheaders;
	const char *const *oversign;
	size_t noversign;
};

struct gm_dkim_msg;

/*
 * gm_dkim_msg_new - start a message to be signed nsigs ways (0 is allowed:
 * add signatures later with gm_dkim_msg_add_sig()).  GH_EINVAL for a
 * missing key, a bad d= or s=, x <= t, a bad canonicalization, nsigs above
 * GH_DKIM_MAX_SIGS, a header name that is not a field name (printable
 * ASCII without ':', ';' or space), or lists above GH_DKIM_MAX_NAMES;
 * GH_ENOMEM.  On GH_OK
 * *out is owned by the caller.
 */
gh_err gm_dkim_msg_new(const struct gm_dkim_sign_opts *sigs, size_t nsigs,
    struct gm_dkim_msg **out);

/*
 * gm_dkim_msg_add_sig - one more signature to make.  Allowed until the first
 * body chunk (a body canonicalizer must see the whole body), so the milter
 * can choose keys at end of headers.  Same errors as gm_dkim_msg_new(), not
 * sticky; GH_EINVAL once the body has started or GH_DKIM_MAX_SIGS are set.
 */
gh_err gm_dkim_msg_add_sig(struct gm_dkim_msg *m,
    const struct gm_dkim_sign_opts *o);

/*
 * gm_dkim_msg_header - one header field, in message order, as C strings
 * (libmilter's form); gm_dkim_msg_header_n() takes lengths instead.
 * Allowed until gm_dkim_msg_finish(), also after body chunks (for fields
 * the milter appends at eom).  GH_ETOOBIG past a bound (sticky).
 */
gh_err gm_dkim_msg_header(struct gm_dkim_msg *m, const char *name,
    const char *value);
gh_err gm_dkim_msg_header_n(struct gm_dkim_msg *m, const char *name,
    size_t namelen, const char *value, size_t valuelen);

/* gm_dkim_msg_body - the next body chunk, split anywhere. */
gh_err gm_dkim_msg_body(struct gm_dkim_msg *m, const void *chunk, size_t len);

/*
 * gm_dkim_msg_finish - end of message: make every signature.  After GH_OK,
 * gm_dkim_msg_value(m, i) for i < nsigs is the i-th DKIM-Signature value.
 * GH_EINVAL if there is no signature to make or finish was already called.
 */
gh_err gm_dkim_msg_finish(struct gm_dkim_msg *m);

/*
 * gm_dkim_msg_value - the i-th signature's field value (without the name
 * and colon, starting with a space, folded with "\n\t"), NUL-terminated;
 * valid until gm_dkim_msg_free().  NULL before a successful finish or for
 * i out of range.
 */
const char *gm_dkim_msg_value(const struct gm_dkim_msg *m, size_t i);

/* gm_dkim_msg_nsigs - how many signatures the message will carry. */
size_t gm_dkim_msg_nsigs(const struct gm_dkim_msg *m);

/* gm_dkim_msg_free - free everything; NULL is allowed. */
void gm_dkim_msg_free(struct gm_dkim_msg *m);

#endif /* GH_MILTER_DKIM_H */
