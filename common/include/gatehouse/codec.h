/*
 * gatehouse/codec.h - base64 (RFC 4648 section 4), base64url (section 5)
 * and hex, shared by every part: DKIM tags and key records (milter), Web
 * Push keys and VAPID (notifyd), tokens (milter and nginx), MIME bodies.
 *
 * All functions write into caller buffers and never allocate; they are
 * thread safe.  Decoding accepts padded or unpadded input of the chosen
 * alphabet and rejects anything else, whitespace included: a key pasted
 * with stray characters must fail loudly, not decode to something else.
 */
#ifndef GATEHOUSE_CODEC_H
#define GATEHOUSE_CODEC_H

#include <stddef.h>
#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room needed to encode n bytes, terminating NUL included. */
#define GH_B64_ENC_LEN(n) ((((n) + 2) / 3) * 4 + 1)
/* Upper bound on the bytes decoded from n characters. */
#define GH_B64_DEC_LEN(n) (((n) / 4) * 3 + 3)

enum gh_b64_alpha {
	GH_B64_STD,     /* A-Z a-z 0-9 + /, padded with '=' */
	GH_B64_URL      /* A-Z a-z 0-9 - _, no padding */
};

/*
 * gh_b64_encode - encode n bytes of in into out (NUL-terminated).
 * *olen (optional) receives the length without the NUL.
 * GH_ETOOBIG when cap is smaller than GH_B64_ENC_LEN(n).
 */
gh_err gh_b64_encode(enum gh_b64_alpha a, const void *in, size_t n, char *out,
                     size_t cap, size_t *olen);

/*
 * gh_b64_decode - decode n characters of in into out (cap bytes).
 * GH_EINVAL on a character outside the alphabet, misplaced padding, an
 * impossible length or non-zero leftover bits; GH_ETOOBIG when out is too
 * small.
 */
gh_err gh_b64_decode(enum gh_b64_alpha a, const char *in, size_t n,
                     unsigned char *out, size_t cap, size_t *olen);

/* gh_hex_encode - lowercase hex; cap must be at least 2 * n + 1. */
gh_err gh_hex_encode(const void *in, size_t n, char *out, size_t cap);

/* gh_hex_decode - n hex digits (either case) into n / 2 bytes.
 * GH_EINVAL on an odd length or a non-hex character. */
gh_err gh_hex_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                     size_t *olen);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_CODEC_H */
