/*
 * dkim_sighdr.h - the DKIM-Signature header field: its text and its hash
 *
 * A signature is made in three steps (RFC 6376 3.7 and 5):
 *   1. gm_dkim_sighdr_build() writes the field's value with every tag and
 *      an empty b= at the end:
 *        " v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\n"
 *        "\tt=1700000000; h=from:to:subject:date:from;\n"
 *        "\tbh=...;\n"
 *        "\tb="
 *      The value starts with a space (the form libmilter uses with
 *      SMFIP_HDR_LEADSPC) and is folded with "\n\t" at tag and h= name
 *      boundaries to lines of at most GH_DKIM_FOLD_WIDTH characters, with
 *      bare LF as smfi_insheader() wants it: the MTA writes CRLF.
 *   2. gm_dkim_header_digest() hashes the selected header fields, each
 *      canonicalized and followed by CRLF, then the DKIM-Signature field
 *      from step 1, canonicalized the same way, without a final CRLF.
 *   3. The key signs that digest (gatehouse/dkimkey.h) and
 *      gm_dkim_sighdr_add_b() appends the base64 signature, folded, after
 *      "b=".  Verifiers remove
 *      everything after "b=", folding included, so what they hash is
 *      exactly what step 2 hashed.
 *
 * Memory: values are built in a caller-owned struct gm_sbuf (sbuf.h).
 */
#ifndef GH_MILTER_DKIM_SIGHDR_H
#define GH_MILTER_DKIM_SIGHDR_H

#include <stddef.h>

#include "gatehouse/dkimkey.h"
#include "gatehouse/err.h"
#include "canon.h"
#include "hdrlist.h"
#include "sbuf.h"

#define GH_DKIM_SIG_NAME "DKIM-Signature"
#define GH_DKIM_FOLD_WIDTH 78
/* Upper bound of a whole DKIM-Signature value (GH_HDR_MAX_SIGNED names). */
#define GH_DKIM_SIGHDR_MAX (64 * 1024)
/* Longest d= or s= value accepted. */
#define GH_DKIM_NAME_MAX 253

struct gm_dkim_sighdr {
	gh_dkim_alg alg;
	gm_canon hdr_canon;
	gm_canon body_canon;
	const char *domain;	/* d= */
	const char *selector;	/* s= */
	long long t;		/* t=, omitted when < 0 */
	long long x;		/* x=, omitted when <= 0; must be > t */
	const char *const *h;	/* h= names, in order */
	size_t nh;
	const unsigned char *bh; /* GH_SHA256_LEN bytes: the body hash */
};

/*
 * gm_dkim_name_ok - 1 if s is acceptable as d= or s=: 1..GH_DKIM_NAME_MAX
 * bytes of letters, digits, '-', '_' and '.', not starting or ending with
 * '.' nor holding "..".
 */
int gm_dkim_name_ok(const char *s);

/*
 * gm_dkim_field_name_ok - 1 if s may be written into h=: 1..GH_DKIM_NAME_MAX
 * bytes of printable ASCII other than ':' and ';' (so no whitespace).
 */
int gm_dkim_field_name_ok(const char *s);

/*
 * gm_dkim_sighdr_build - append the value with empty b= to out (see step 1).
 * GH_EINVAL for a bad d=, s=, t=/x= pair, empty h= or h= name; otherwise
 * the sbuf's error.
 */
gh_err gm_dkim_sighdr_build(const struct gm_dkim_sighdr *sh,
    struct gm_sbuf *out);

/*
 * gm_dkim_sighdr_add_b - append the base64 of sig[0..siglen) to a value that
 * ends in "b=", folding it to GH_DKIM_FOLD_WIDTH.
 */
gh_err gm_dkim_sighdr_add_b(struct gm_sbuf *out, const unsigned char *sig,
    size_t siglen);

/*
 * gm_dkim_header_digest - step 2.  names is the h= list (nh entries) and
 * selects fields from l bottom-up; names with no instance left add nothing.
 * signame/sigvalue are the DKIM-Signature field with its b= value empty (or
 * any other name, for tests).  digest receives the SHA-256.
 */
gh_err gm_dkim_header_digest(gm_canon hc, const struct gm_hdrlist *l,
    const char *const *names, size_t nh, const char *signame,
    const char *sigvalue, size_t sigvaluelen,
    unsigned char digest[GH_SHA256_LEN]);

#endif /* GH_MILTER_DKIM_SIGHDR_H */
