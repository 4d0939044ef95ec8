/*
 * sign.h - webhook request signatures
 *
 * Every webhook request notifyd sends carries two headers:
 *
 *   X-Gatehouse-Timestamp: 1767225600
 *   X-Gatehouse-Signature: sha256=101c61416dd1591c2017de75b0945479f159f9a352ba700b5a33dd83c8f03bb0
 *
 * The timestamp is the send time in seconds since the epoch, in decimal.
 * The signature is the lowercase hex HMAC-SHA256, keyed with the channel's
 * secret (the bytes of the `secret` value as written in the configuration),
 * of the string
 *
 *   <timestamp> "." <body>
 *
 * where <timestamp> is the header's value exactly and <body> the exact
 * bytes of the request body.  A receiver recomputes the HMAC, compares in
 * constant time, and rejects a timestamp further than its tolerance (five
 * minutes is usual) from its own clock, so a captured request cannot be
 * replayed later.  Retries are signed afresh with a new timestamp; the body
 * (and its idempotency key) stays the same.
 *
 * (That example: secret "whsec_test", body {"id":42,"type":"login.new_host"}.)
 *
 * Example (shell), checking a request saved as body.json:
 *   printf '%s.' "$TS" | cat - body.json |
 *     openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* /sha256=/'
 */
#ifndef GH_NOTIFYD_SIGN_H
#define GH_NOTIFYD_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"

#define GH_SIGN_HEADER "X-Gatehouse-Signature"
#define GH_SIGN_TS_HEADER "X-Gatehouse-Timestamp"
#define GH_SIGN_PREFIX "sha256="
/* Room for "sha256=" + 64 hex digits + NUL. */
#define GH_SIGN_VALUE_LEN (7 + 64 + 1)

/*
 * nd_sign_webhook - the X-Gatehouse-Signature value for body sent at ts
 * (seconds, >= 0).  out receives "sha256=<hex>".  GH_EINVAL for a negative
 * ts or an empty key, GH_EIO if OpenSSL fails.
 */
gh_err nd_sign_webhook(const void *key, size_t klen, int64_t ts,
                       const void *body, size_t blen,
                       char out[GH_SIGN_VALUE_LEN]);

/*
 * nd_sign_verify - the receiver's check, for tests and for anyone porting
 * it: ts_header and sig_header are the two header values as received.
 * Returns GH_OK when the signature matches and |now_s - ts| <= tolerance_s;
 * GH_EINVAL for a malformed header, GH_EEXPIRED for a timestamp outside the
 * tolerance, GH_EACCES for a signature that does not match.
 */
gh_err nd_sign_verify(const void *key, size_t klen, const char *ts_header,
                      const void *body, size_t blen, const char *sig_header,
                      int64_t now_s, int64_t tolerance_s);

/*
 * nd_ct_equal - 1 if the n bytes at a and b are equal, 0 otherwise, in time
 * that depends only on n (for comparing MACs and tokens).
 */
int nd_ct_equal(const void *a, const void *b, size_t n);

#endif /* GH_NOTIFYD_SIGN_H */
