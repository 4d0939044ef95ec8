/*
 * canon.h - DKIM canonicalization of header fields and of the body
 *
 * RFC 6376 section 3.4 defines two canonicalizations, "simple" and "relaxed",
 * chosen separately for the header (c=HEADER/...) and the body (c=.../BODY).
 * This file turns header fields and body bytes into their canonical form;
 * what to sign and the signature itself live in dkim.h.
 *
 * LINE ENDINGS
 *   On the wire every line ends in CRLF.  Milters and files do not always
 *   show it that way: libmilter hands header values folded with "\n\t" or
 *   "\r\n\t", and a message file may use bare LF.  We treat a bare LF exactly
 *   like CRLF, in header values and in the body, because that is what the MTA
 *   puts on the wire after us (Postfix and Sendmail both store lines without
 *   CR and emit CRLF).  A CR that is not followed by LF is ordinary data: it
 *   neither ends a line nor counts as whitespace, as in dkimpy and OpenDKIM.
 *
 * HEADER FIELDS
 *   A field is given as name and value the way libmilter delivers them with
 *   SMFIP_HDR_LEADSPC negotiated: the name is everything before the colon
 *   (it may end in whitespace in obsolete syntax, "Subject :"), the value is
 *   everything after the colon, leading space and folding included, without
 *   the final line terminator.  Without SMFIP_HDR_LEADSPC libmilter strips
 *   the space after the colon and "simple" signatures will not verify.
 *
 * BODY
 *   The body canonicalizer is streaming: feed it chunks of any size, split
 *   anywhere (even between CR and LF or inside a run of blank lines), and it
 *   feeds SHA-256 as it goes.  Its state is bounded: a count of held-back
 *   empty lines, one pending CR, one pending-whitespace flag and a fixed
 *   staging buffer, whatever the body's size.  The l= tag is not supported:
 *   the whole body is always hashed.
 *
 *   Empty body: "simple" hashes "\r\n", "relaxed" hashes nothing (RFC 6376
 *   erratum 1384, as dkimpy, Mail::DKIM and OpenDKIM do).  A body whose last
 *   line lacks a line terminator gets one; under "relaxed" that last line's
 *   trailing whitespace is dropped like any other line's.
 *
 * Thread safety: no shared state; one body canonicalizer per thread at a time.
 */
#ifndef GH_MILTER_CANON_H
#define GH_MILTER_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/err.h"

#define GH_SHA256_LEN 32

typedef enum gm_canon {
	GH_CANON_SIMPLE = 0,
	GH_CANON_RELAXED = 1
} gm_canon;

/* gm_canon_name - "simple" or "relaxed" (never NULL). */
const char *gm_canon_name(gm_canon c);

/*
 * gm_canon_parse - parse a c= style spec: "relaxed/simple", "relaxed" (body
 * then defaults to simple, as RFC 6376 says), "simple/relaxed", ...
 * Returns GH_EINVAL for anything else.
 */
gh_err gm_canon_parse(const char *spec, gm_canon *hdr, gm_canon *body);

/*
 * gm_canon_header_bound - bytes of output buffer that gm_canon_header() can
 * need for a field of these sizes (simple canonicalization may turn each
 * bare LF into CRLF).  SIZE_MAX if the sizes would overflow.
 */
size_t gm_canon_header_bound(size_t namelen, size_t valuelen);

/*
 * gm_canon_header - write the canonical form of one header field into out,
 * WITHOUT the CRLF that terminates it (the DKIM-Signature field is hashed
 * without one; callers add "\r\n" to the others).  *outlen gets the length.
 * Returns GH_ETOOBIG if outsz is too small (use gm_canon_header_bound()),
 * GH_EINVAL for an empty name.
 */
gh_err gm_canon_header(gm_canon c, const char *name, size_t namelen,
    const char *value, size_t valuelen, char *out, size_t outsz,
    size_t *outlen);

/* Opaque streaming body canonicalizer + SHA-256. */
struct gm_body_canon;

/*
 * gm_body_canon_new - a canonicalizer for c, owned by the caller, freed with
 * gm_body_canon_free().  GH_ENOMEM if OpenSSL or malloc fail.
 */
gh_err gm_body_canon_new(gm_canon c, struct gm_body_canon **out);

/*
 * gm_body_canon_update - feed the next len bytes of the body (the bytes as
 * libmilter's xxfi_body gives them).  GH_EINVAL after final, GH_EIO if the
 * digest fails.
 */
gh_err gm_body_canon_update(struct gm_body_canon *bc, const void *data,
    size_t len);

/*
 * gm_body_canon_final - end of body: apply the end-of-body rules and write
 * the SHA-256 of the canonical body into digest.  May be called once; after
 * it only gm_body_canon_free() and the accessors below are allowed.
 */
gh_err gm_body_canon_final(struct gm_body_canon *bc,
    unsigned char digest[GH_SHA256_LEN]);

/* gm_body_canon_type - the canonicalization bc was made for. */
gm_canon gm_body_canon_type(const struct gm_body_canon *bc);

/* gm_body_canon_length - canonical bytes hashed so far (for logs and tests). */
uint64_t gm_body_canon_length(const struct gm_body_canon *bc);

/* gm_body_canon_free - free bc; NULL is allowed. */
void gm_body_canon_free(struct gm_body_canon *bc);

#endif /* GH_MILTER_CANON_H */
