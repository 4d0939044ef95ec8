/*
 * hdrparse.h - split the header block of a raw RFC 5322 message into fields
 *
 * The milter never needs this: libmilter hands it fields one by one.  It is
 * for tools and tests that start from a message file (the signing test
 * driver, the fuzzer), and it hands fields over in exactly the form
 * libmilter does with SMFIP_HDR_LEADSPC: the name without the colon, and the
 * value after the colon with its leading whitespace and its folding
 * ("\r\n\t" or "\n\t" as in the input) kept, minus the final line ending.
 *
 * Lines end in CRLF or bare LF.  The header block ends at the first empty
 * line (the body starts after it) or at the end of the input (empty body).
 * A field name is one or more printable ASCII characters other than ':',
 * optionally followed by spaces or tabs (obsolete syntax, kept in the name
 * so that "simple" canonicalization sees the field unchanged).  A line that
 * is neither a field, a continuation nor the empty line is GH_EINVAL, as is
 * a continuation line before the first field and a NUL byte (libmilter
 * passes C strings, so a field with NUL could never reach the milter).
 * A leading "From " envelope line (mbox) is NOT accepted.
 */
#ifndef GH_MILTER_HDRPARSE_H
#define GH_MILTER_HDRPARSE_H

#include <stddef.h>

#include "gatehouse/err.h"

/*
 * Called once per field, in message order.  name/value point into the input
 * and are not NUL-terminated.  A non-GH_OK return stops the parse and is
 * returned by gm_hdrparse().
 */
typedef gh_err (*gm_hdrparse_fn)(void *arg, const char *name, size_t namelen,
    const char *value, size_t valuelen);

/*
 * gm_hdrparse - parse the header block at the start of msg[0..len) and call
 * fn for each field.  On GH_OK *body_off is the offset of the first body
 * byte (len if there is no body).  The input is only read.
 */
gh_err gm_hdrparse(const char *msg, size_t len, gm_hdrparse_fn fn, void *arg,
    size_t *body_off);

#endif /* GH_MILTER_HDRPARSE_H */
