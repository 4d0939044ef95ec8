/*
 * webpush_crypt.h - Web Push message encryption (RFC 8291) and VAPID (RFC 8292)
 *
 * ENCRYPTION (RFC 8291, content coding aes128gcm of RFC 8188)
 *   A browser subscription gives two keys: p256dh, the user agent's P-256
 *   public key (65 bytes, uncompressed point), and auth, a 16-byte secret,
 *   both base64url.  For every message the sender makes a fresh P-256 key
 *   pair and a random 16-byte salt, then:
 *
 *     ecdh_secret = ECDH(sender private, ua_public)
 *     IKM   = HKDF-SHA256(salt = auth, ikm = ecdh_secret,
 *                         info = "WebPush: info" 0x00 ua_public as_public, 32)
 *     CEK   = HKDF-SHA256(salt, IKM, "Content-Encoding: aes128gcm" 0x00, 16)
 *     NONCE = HKDF-SHA256(salt, IKM, "Content-Encoding: nonce" 0x00, 12)
 *
 *   and sends one RFC 8188 record:
 *
 *     salt(16) | rs(4, big-endian, 4096) | idlen(1) = 65 | as_public(65)
 *     | AES-128-GCM(CEK, NONCE, plaintext | 0x02 | pad zero bytes) | tag(16)
 *
 *   with "Content-Encoding: aes128gcm" on the POST.  Push services need
 *   accept no more than 4096 body bytes, so plaintext + padding is limited
 *   to GH_WP_PLAIN_MAX (3993) bytes.
 *
 * VAPID (RFC 8292)
 *   Requests carry "Authorization: vapid t=JWT, k=PUBKEY" where the JWT is
 *   ES256-signed {"typ":"JWT","alg":"ES256"}.{"aud":ORIGIN,"exp":T,"sub":S}:
 *   aud is the push endpoint's origin (scheme://host[:port]), exp at most
 *   24 hours ahead, sub a "mailto:" or "https:" contact, and k the
 *   application server's public key in base64url (what the browser was
 *   given as applicationServerKey).  The key is a P-256 private key, read
 *   from PEM (SEC1 "EC PRIVATE KEY" or PKCS#8) or from the raw 32-byte
 *   scalar in base64url that other Web Push libraries print.
 *
 * Everything goes through OpenSSL 3 EVP interfaces.  A struct nd_vapid is
 * immutable after loading and may be shared between threads.
 */
#ifndef GH_NOTIFYD_WEBPUSH_CRYPT_H
#define GH_NOTIFYD_WEBPUSH_CRYPT_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"

#define GH_WP_PUBKEY_LEN 65      /* uncompressed P-256 point */
#define GH_WP_PRIVKEY_LEN 32     /* P-256 scalar */
#define GH_WP_AUTH_LEN 16
#define GH_WP_SALT_LEN 16
#define GH_WP_RS 4096u           /* record size written in the header */
#define GH_WP_HEADER_LEN (GH_WP_SALT_LEN + 4 + 1 + GH_WP_PUBKEY_LEN) /* 86 */
#define GH_WP_TAG_LEN 16
/* Bytes the body has beyond plaintext and padding: header, 0x02, tag. */
#define GH_WP_OVERHEAD (GH_WP_HEADER_LEN + 1 + GH_WP_TAG_LEN)       /* 103 */
#define GH_WP_BODY_MAX 4096u
#define GH_WP_PLAIN_MAX (GH_WP_BODY_MAX - GH_WP_OVERHEAD)           /* 3993 */

/*
 * nd_webpush_keys - decode a subscription's p256dh and auth (base64url,
 * padding optional) and check that p256dh is a point on P-256.
 * GH_EINVAL for anything malformed.
 */
gh_err nd_webpush_keys(const char *p256dh_b64, const char *auth_b64,
                       unsigned char ua_public[GH_WP_PUBKEY_LEN],
                       unsigned char auth[GH_WP_AUTH_LEN]);

/*
 * nd_webpush_encrypt - encrypt plen bytes of plain for one subscription,
 * with pad zero bytes of padding after the delimiter (to hide the length).
 * out receives the whole request body (cap >= GH_WP_OVERHEAD + plen + pad);
 * *olen its length.  A fresh ephemeral key and salt are drawn each call.
 * GH_ETOOBIG if plen + pad > GH_WP_PLAIN_MAX or out is too small,
 * GH_EINVAL for a bad ua_public, GH_EIO if OpenSSL fails.
 */
gh_err nd_webpush_encrypt(const unsigned char ua_public[GH_WP_PUBKEY_LEN],
                          const unsigned char auth[GH_WP_AUTH_LEN],
                          const void *plain, size_t plen, size_t pad,
                          unsigned char *out, size_t cap, size_t *olen);

/*
 * nd_webpush_encrypt_with - the same with the sender's ephemeral private key
 * and the salt given, for reproducing published test vectors.  Never use a
 * fixed key or salt for real messages.
 */
gh_err nd_webpush_encrypt_with(const unsigned char as_private[GH_WP_PRIVKEY_LEN],
                               const unsigned char salt[GH_WP_SALT_LEN],
                               const unsigned char ua_public[GH_WP_PUBKEY_LEN],
                               const unsigned char auth[GH_WP_AUTH_LEN],
                               const void *plain, size_t plen, size_t pad,
                               unsigned char *out, size_t cap, size_t *olen);

/* A VAPID signing key (opaque). */
struct nd_vapid;

/* Room for an Authorization header value; tokens are about 300 bytes. */
#define GH_VAPID_HEADER_MAX 1024
#define GH_VAPID_TTL_MAX (24 * 3600)   /* seconds, RFC 8292 section 2 */

/* nd_vapid_generate - a new random key (for `gatehouse webpush keygen`). */
gh_err nd_vapid_generate(struct nd_vapid **out);

/*
 * nd_vapid_load_pem - a P-256 private key in PEM (len bytes, need not be
 * NUL-terminated).  GH_EINVAL if it does not parse or is not P-256.
 */
gh_err nd_vapid_load_pem(struct nd_vapid **out, const char *pem, size_t len);

/* nd_vapid_load_raw - the private scalar as base64url (43 characters). */
gh_err nd_vapid_load_raw(struct nd_vapid **out, const char *d_b64url);

/*
 * nd_vapid_pem - write the key as PKCS#8 PEM into buf (NUL-terminated).
 * GH_ETOOBIG if cap is too small (256 bytes is enough).
 */
gh_err nd_vapid_pem(const struct nd_vapid *v, char *buf, size_t cap);

/* nd_vapid_public - the public key, base64url: the applicationServerKey. */
const char *nd_vapid_public(const struct nd_vapid *v);

void nd_vapid_free(struct nd_vapid *v);

/*
 * nd_vapid_origin - the origin of an endpoint URL (RFC 6454): lowercased
 * scheme and host, the port only when not the scheme's default
 * ("https://push.example.net:8443").
 * Only https (and http, for test receivers) are accepted: GH_EINVAL.
 */
gh_err nd_vapid_origin(const char *endpoint, char *out, size_t cap);

/*
 * nd_vapid_header - the Authorization header value for a request to
 * endpoint: "vapid t=<JWT>, k=<public key>".
 *   subject  "mailto:admin@example.org" or an https: URL (GH_EINVAL else)
 *   now_s    seconds since the epoch (injectable clock)
 *   ttl_s    token lifetime, 1..GH_VAPID_TTL_MAX; exp = now_s + ttl_s
 * out needs GH_VAPID_HEADER_MAX bytes at most.
 */
gh_err nd_vapid_header(const struct nd_vapid *v, const char *endpoint,
                       const char *subject, int64_t now_s, int64_t ttl_s,
                       char *out, size_t cap);

#endif /* GH_NOTIFYD_WEBPUSH_CRYPT_H */
