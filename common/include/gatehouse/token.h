/*
 * gatehouse/token.h - signed tokens: one-click unsubscribe links (the
 * milter makes them, nginx checks them) and download links (the CLI or an
 * application makes them, nginx checks them).  docs/tokens.md is the spec.
 *
 * A token is base64url (no padding) of
 *     version (1) | purpose (1) | expires (be64, seconds since the epoch) |
 *     nfields (1) | nfields x (length (1) | bytes) | MAC (16)
 * where MAC is the first 16 bytes of HMAC-SHA256 under a key derived for
 * the purpose from the master key, over every byte before it.  A token
 * made for one purpose never verifies for another.
 *
 * Thread safety: every call is reentrant; keys are plain structs the
 * caller owns.  Nothing allocates.
 */
#ifndef GATEHOUSE_TOKEN_H
#define GATEHOUSE_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_TOKEN_KEY_MIN 32       /* bytes of master key, at least */
#define GH_TOKEN_KEY_MAX 64
#define GH_TOKEN_FIELDS_MAX 4
#define GH_TOKEN_FIELD_MAX 255    /* bytes per field */
#define GH_TOKEN_LEN_MAX 1500     /* longest encoded token, NUL included */

enum gh_token_purpose {
	GH_TOKEN_UNSUBSCRIBE = 1,     /* fields: recipient, list */
	GH_TOKEN_DOWNLOAD = 2         /* fields: upload id, user */
};

struct gh_token_key {
	unsigned char k[GH_TOKEN_KEY_MAX];
	size_t len;
};

struct gh_token {
	enum gh_token_purpose purpose;
	int64_t expires;              /* seconds since the epoch */
	size_t nfields;
	char field[GH_TOKEN_FIELDS_MAX][GH_TOKEN_FIELD_MAX + 1];
};

/*
 * gh_token_key_load - read a key file: 64 to 128 hex digits (32 to 64
 * bytes), optionally followed by a newline, as `gatehouse tokens keygen`
 * writes it (or `openssl rand -hex 32`).  detail receives the reason on
 * failure.  GH_ENOTFOUND, GH_EACCES, GH_EINVAL (not a key), GH_EIO.
 */
gh_err gh_token_key_load(const char *path, struct gh_token_key *key,
                         char *detail, size_t detail_len);

/*
 * gh_token_make - encode and sign t into out (cap bytes, NUL-terminated).
 * GH_EINVAL for a bad purpose, too many fields, or a field too long or
 * holding a NUL; GH_ETOOBIG if out is too small.
 */
gh_err gh_token_make(const struct gh_token_key *key, const struct gh_token *t,
                     char *out, size_t cap);

/*
 * gh_token_check - verify token (len characters) for purpose against each
 * of keys[0..nkeys) in turn (the current key, then previous ones during a
 * rotation), and fill out.  The comparison is constant time.
 * Returns GH_OK; GH_EINVAL if it is not a token; GH_EACCES if no key signed
 * it for this purpose; GH_EEXPIRED if it is genuine but expired at now
 * (out is filled then, so the caller can say whose link expired).
 */
gh_err gh_token_check(const struct gh_token_key *keys, size_t nkeys,
                      enum gh_token_purpose purpose, const char *token,
                      size_t len, int64_t now, struct gh_token *out);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_TOKEN_H */
