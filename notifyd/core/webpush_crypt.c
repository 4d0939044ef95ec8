/*
 * webpush_crypt.c - RFC 8291 aes128gcm encryption and RFC 8292 VAPID tokens
 * through OpenSSL 3 EVP interfaces (see webpush_crypt.h for the formats).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "gatehouse/codec.h"
#include "webpush_crypt.h"

#define WP_GROUP "prime256v1"

struct nd_vapid {
	EVP_PKEY *key;
	char pub_b64[GH_B64_ENC_LEN(GH_WP_PUBKEY_LEN)];
};

/*
 * wp_public_from_private - the uncompressed public point for scalar d.
 * EC_POINT arithmetic is the one non-deprecated way in OpenSSL 3.0 to get
 * the public half of a raw scalar; EVP_PKEY_fromdata does not derive it.
 */
static gh_err
wp_public_from_private(const unsigned char d[GH_WP_PRIVKEY_LEN],
                       unsigned char pub[GH_WP_PUBKEY_LEN])
{
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;
	BIGNUM *bn = NULL;
	BN_CTX *ctx = NULL;
	gh_err err = GH_EIO;

	g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	ctx = BN_CTX_new();
	bn = BN_secure_new();
	if (g == NULL || ctx == NULL || bn == NULL)
		goto cleanup;
	if (BN_bin2bn(d, GH_WP_PRIVKEY_LEN, bn) == NULL)
		goto cleanup;
	if (BN_is_zero(bn) || BN_cmp(bn, EC_GROUP_get0_order(g)) >= 0) {
		err = GH_EINVAL;
		goto cleanup;
	}
	pt = EC_POINT_new(g);
	if (pt == NULL || !EC_POINT_mul(g, pt, bn, NULL, NULL, ctx))
		goto cleanup;
	if (EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub,
	                       GH_WP_PUBKEY_LEN, ctx) != GH_WP_PUBKEY_LEN)
		goto cleanup;
	err = GH_OK;
cleanup:
	EC_POINT_free(pt);
	BN_clear_free(bn);
	BN_CTX_free(ctx);
	EC_GROUP_free(g);
	return err;
}

/*
 * wp_pkey - an EVP_PKEY from raw parts: with d, a key pair (pub must be its
 * public point); without, a public key.  Decoding the point checks that it
 * lies on the curve.
 */
static gh_err
wp_pkey(const unsigned char *d, const unsigned char pub[GH_WP_PUBKEY_LEN],
        EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *bn = NULL;
	gh_err err = GH_EIO;

	*out = NULL;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL)
		goto cleanup;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	                                     WP_GROUP, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	                                      pub, GH_WP_PUBKEY_LEN))
		goto cleanup;
	if (d != NULL) {
		bn = BN_secure_new();
		if (bn == NULL || BN_bin2bn(d, GH_WP_PRIVKEY_LEN, bn) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn))
			goto cleanup;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0)
		goto cleanup;
	if (EVP_PKEY_fromdata(ctx, out, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
	                      params) <= 0) {
		err = GH_EINVAL;
		goto cleanup;
	}
	err = GH_OK;
cleanup:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	if (err)
		ERR_clear_error();
	return err;
}

/* wp_check_public - GH_OK if pub is a valid P-256 public point. */
static gh_err
wp_check_public(const unsigned char pub[GH_WP_PUBKEY_LEN])
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	gh_err err;

	if (pub[0] != 0x04)
		return GH_EINVAL;
	err = wp_pkey(NULL, pub, &pk);
	if (err)
		return err;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (ctx == NULL)
		err = GH_EIO;
	else if (EVP_PKEY_public_check(ctx) != 1)
		err = GH_EINVAL;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	if (err)
		ERR_clear_error();
	return err;
}

gh_err
nd_webpush_keys(const char *p256dh_b64, const char *auth_b64,
                unsigned char ua_public[GH_WP_PUBKEY_LEN],
                unsigned char auth[GH_WP_AUTH_LEN])
{
	unsigned char buf[GH_WP_PUBKEY_LEN + 3];
	size_t n;

	if (p256dh_b64 == NULL || auth_b64 == NULL)
		return GH_EINVAL;
	if (gh_b64_decode(GH_B64_URL, p256dh_b64, strlen(p256dh_b64), buf,
	                  sizeof buf, &n) != GH_OK || n != GH_WP_PUBKEY_LEN)
		return GH_EINVAL;
	memcpy(ua_public, buf, GH_WP_PUBKEY_LEN);
	if (gh_b64_decode(GH_B64_URL, auth_b64, strlen(auth_b64), buf,
	                  sizeof buf, &n) != GH_OK || n != GH_WP_AUTH_LEN)
		return GH_EINVAL;
	memcpy(auth, buf, GH_WP_AUTH_LEN);
	return wp_check_public(ua_public);
}

/* wp_hkdf - HKDF-SHA256 extract-and-expand (RFC 5869). */
static gh_err
wp_hkdf(const unsigned char *salt, size_t slen, const unsigned char *ikm,
        size_t ilen, const unsigned char *info, size_t nlen,
        unsigned char *out, size_t olen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM p[5];
	char md[] = "SHA256";
	gh_err err = GH_EIO;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto cleanup;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	                                         (void *)ikm, ilen);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	                                         (void *)salt, slen);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	                                         (void *)info, nlen);
	p[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, olen, p) != 1)
		goto cleanup;
	err = GH_OK;
cleanup:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return err;
}

/* wp_ecdh - the 32-byte shared secret of our key pair and their point. */
static gh_err
wp_ecdh(EVP_PKEY *ours, const unsigned char theirs[GH_WP_PUBKEY_LEN],
        unsigned char secret[32])
{
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t slen = 32;
	gh_err err;

	err = wp_pkey(NULL, theirs, &peer);
	if (err)
		goto cleanup;
	err = GH_EIO;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ours, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) <= 0)
		goto cleanup;
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) <= 0) {
		err = GH_EINVAL;
		goto cleanup;
	}
	if (EVP_PKEY_derive(ctx, secret, &slen) <= 0 || slen != 32)
		goto cleanup;
	err = GH_OK;
cleanup:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	if (err)
		ERR_clear_error();
	return err;
}

/* wp_seal - AES-128-GCM over plain | 0x02 | pad zeros, tag appended. */
static gh_err
wp_seal(const unsigned char cek[16], const unsigned char nonce[12],
        const unsigned char *plain, size_t plen, size_t pad,
        unsigned char *out)
{
	static const unsigned char zeros[256];
	static const unsigned char delim = 0x02;
	EVP_CIPHER_CTX *c = NULL;
	OSSL_PARAM p[2];
	size_t o = 0;
	int n;
	gh_err err = GH_EIO;

	c = EVP_CIPHER_CTX_new();
	if (c == NULL || !EVP_EncryptInit_ex2(c, EVP_aes_128_gcm(), cek, nonce,
	                                      NULL))
		goto cleanup;
	if (plen > 0) {
		if (!EVP_EncryptUpdate(c, out, &n, plain, (int)plen))
			goto cleanup;
		o += (size_t)n;
	}
	if (!EVP_EncryptUpdate(c, out + o, &n, &delim, 1))
		goto cleanup;
	o += (size_t)n;
	while (pad > 0) {
		size_t k = pad < sizeof zeros ? pad : sizeof zeros;
		if (!EVP_EncryptUpdate(c, out + o, &n, zeros, (int)k))
			goto cleanup;
		o += (size_t)n;
		pad -= k;
	}
	if (!EVP_EncryptFinal_ex(c, out + o, &n))
		goto cleanup;
	o += (size_t)n;
	p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	                                         out + o, GH_WP_TAG_LEN);
	p[1] = OSSL_PARAM_construct_end();
	if (!EVP_CIPHER_CTX_get_params(c, p))
		goto cleanup;
	err = GH_OK;
cleanup:
	EVP_CIPHER_CTX_free(c);
	return err;
}

/* wp_encrypt - the common body of both encrypt entry points. */
static gh_err
wp_encrypt(EVP_PKEY *eph, const unsigned char as_public[GH_WP_PUBKEY_LEN],
           const unsigned char salt[GH_WP_SALT_LEN],
           const unsigned char ua_public[GH_WP_PUBKEY_LEN],
           const unsigned char auth[GH_WP_AUTH_LEN], const void *plain,
           size_t plen, size_t pad, unsigned char *out, size_t *olen)
{
	static const char key_label[] = "WebPush: info";  /* + NUL in info */
	static const char cek_label[] = "Content-Encoding: aes128gcm";
	static const char nonce_label[] = "Content-Encoding: nonce";
	unsigned char key_info[sizeof key_label + 2 * GH_WP_PUBKEY_LEN];
	unsigned char secret[32], ikm[32], cek[16], nonce[12];
	unsigned char *h = out;
	gh_err err;

	err = wp_ecdh(eph, ua_public, secret);
	if (err)
		goto cleanup;
	memcpy(key_info, key_label, sizeof key_label);
	memcpy(key_info + sizeof key_label, ua_public, GH_WP_PUBKEY_LEN);
	memcpy(key_info + sizeof key_label + GH_WP_PUBKEY_LEN, as_public,
	       GH_WP_PUBKEY_LEN);
	err = wp_hkdf(auth, GH_WP_AUTH_LEN, secret, sizeof secret, key_info,
	              sizeof key_info, ikm, sizeof ikm);
	if (!err)
		err = wp_hkdf(salt, GH_WP_SALT_LEN, ikm, sizeof ikm,
		              (const unsigned char *)cek_label, sizeof cek_label,
		              cek, sizeof cek);
	if (!err)
		err = wp_hkdf(salt, GH_WP_SALT_LEN, ikm, sizeof ikm,
		              (const unsigned char *)nonce_label,
		              sizeof nonce_label, nonce, sizeof nonce);
	if (err)
		goto cleanup;

	memcpy(h, salt, GH_WP_SALT_LEN);
	h += GH_WP_SALT_LEN;
	*h++ = (unsigned char)(GH_WP_RS >> 24);
	*h++ = (unsigned char)(GH_WP_RS >> 16);
	*h++ = (unsigned char)(GH_WP_RS >> 8);
	*h++ = (unsigned char)GH_WP_RS;
	*h++ = GH_WP_PUBKEY_LEN;
	memcpy(h, as_public, GH_WP_PUBKEY_LEN);
	err = wp_seal(cek, nonce, plain, plen, pad, out + GH_WP_HEADER_LEN);
	if (err)
		goto cleanup;
	*olen = GH_WP_OVERHEAD + plen + pad;
cleanup:
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(ikm, sizeof ikm);
	OPENSSL_cleanse(cek, sizeof cek);
	OPENSSL_cleanse(nonce, sizeof nonce);
	return err;
}

static gh_err
wp_check_sizes(const void *plain, size_t plen, size_t pad, size_t cap,
               unsigned char *out, size_t *olen)
{
	if ((plain == NULL && plen > 0) || out == NULL || olen == NULL)
		return GH_EINVAL;
	if (plen > GH_WP_PLAIN_MAX || pad > GH_WP_PLAIN_MAX - plen)
		return GH_ETOOBIG;
	if (cap < GH_WP_OVERHEAD + plen + pad)
		return GH_ETOOBIG;
	return GH_OK;
}

gh_err
nd_webpush_encrypt_with(const unsigned char as_private[GH_WP_PRIVKEY_LEN],
                        const unsigned char salt[GH_WP_SALT_LEN],
                        const unsigned char ua_public[GH_WP_PUBKEY_LEN],
                        const unsigned char auth[GH_WP_AUTH_LEN],
                        const void *plain, size_t plen, size_t pad,
                        unsigned char *out, size_t cap, size_t *olen)
{
	unsigned char as_public[GH_WP_PUBKEY_LEN];
	EVP_PKEY *eph = NULL;
	gh_err err;

	err = wp_check_sizes(plain, plen, pad, cap, out, olen);
	if (err)
		return err;
	err = wp_public_from_private(as_private, as_public);
	if (!err)
		err = wp_pkey(as_private, as_public, &eph);
	if (!err)
		err = wp_encrypt(eph, as_public, salt, ua_public, auth, plain,
		                 plen, pad, out, olen);
	EVP_PKEY_free(eph);
	return err;
}

gh_err
nd_webpush_encrypt(const unsigned char ua_public[GH_WP_PUBKEY_LEN],
                   const unsigned char auth[GH_WP_AUTH_LEN],
                   const void *plain, size_t plen, size_t pad,
                   unsigned char *out, size_t cap, size_t *olen)
{
	unsigned char as_public[GH_WP_PUBKEY_LEN];
	unsigned char salt[GH_WP_SALT_LEN];
	EVP_PKEY *eph = NULL;
	size_t n = 0;
	gh_err err;

	err = wp_check_sizes(plain, plen, pad, cap, out, olen);
	if (err)
		return err;
	err = GH_EIO;
	if (RAND_bytes(salt, sizeof salt) != 1)
		goto cleanup;
	eph = EVP_EC_gen("P-256");
	if (eph == NULL)
		goto cleanup;
	if (!EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	                                     as_public, sizeof as_public, &n) ||
	    n != GH_WP_PUBKEY_LEN)
		goto cleanup;
	err = wp_encrypt(eph, as_public, salt, ua_public, auth, plain, plen, pad,
	                 out, olen);
cleanup:
	EVP_PKEY_free(eph);
	if (err)
		ERR_clear_error();
	return err;
}

/* ---- VAPID ---- */

/* vapid_wrap - take ownership of key after checking it is P-256. */
static gh_err
vapid_wrap(EVP_PKEY *key, struct nd_vapid **out)
{
	struct nd_vapid *v = NULL;
	unsigned char pub[GH_WP_PUBKEY_LEN];
	char group[32];
	size_t n = 0;
	gh_err err = GH_EINVAL;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	                                    group, sizeof group, NULL) ||
	    strcmp(group, WP_GROUP) != 0)
		goto cleanup;
	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	                                     pub, sizeof pub, &n) ||
	    n != GH_WP_PUBKEY_LEN)
		goto cleanup;
	err = GH_ENOMEM;
	v = calloc(1, sizeof *v);
	if (v == NULL)
		goto cleanup;
	err = gh_b64_encode(GH_B64_URL, pub, n, v->pub_b64, sizeof v->pub_b64,
	                    NULL);
	if (err)
		goto cleanup;
	v->key = key;
	key = NULL;
	*out = v;
	v = NULL;
	err = GH_OK;
cleanup:
	EVP_PKEY_free(key);
	free(v);
	if (err)
		ERR_clear_error();
	return err;
}

gh_err
nd_vapid_generate(struct nd_vapid **out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	*out = NULL;
	if (key == NULL) {
		ERR_clear_error();
		return GH_EIO;
	}
	return vapid_wrap(key, out);
}

/* vapid_no_password - refuse encrypted PEM instead of prompting on a tty. */
static int
vapid_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

gh_err
nd_vapid_load_pem(struct nd_vapid **out, const char *pem, size_t len)
{
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	gh_err err = GH_EINVAL;

	*out = NULL;
	if (pem == NULL || len == 0 || len > 64 * 1024)
		return GH_EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return GH_ENOMEM;
	key = PEM_read_bio_PrivateKey(bio, NULL, vapid_no_password, NULL);
	BIO_free(bio);
	if (key == NULL) {
		ERR_clear_error();
		return err;
	}
	return vapid_wrap(key, out);
}

gh_err
nd_vapid_load_raw(struct nd_vapid **out, const char *d_b64url)
{
	unsigned char d[GH_WP_PRIVKEY_LEN + 3];
	unsigned char pub[GH_WP_PUBKEY_LEN];
	EVP_PKEY *key = NULL;
	size_t n = 0;
	gh_err err = GH_EINVAL;

	*out = NULL;
	if (d_b64url == NULL ||
	    gh_b64_decode(GH_B64_URL, d_b64url, strlen(d_b64url), d, sizeof d,
	                  &n) != GH_OK || n != GH_WP_PRIVKEY_LEN)
		goto cleanup;
	err = wp_public_from_private(d, pub);
	if (!err)
		err = wp_pkey(d, pub, &key);
	if (!err)
		err = vapid_wrap(key, out);
cleanup:
	OPENSSL_cleanse(d, sizeof d);
	return err;
}

gh_err
nd_vapid_pem(const struct nd_vapid *v, char *buf, size_t cap)
{
	BIO *bio = NULL;
	char *data = NULL;
	long n;
	gh_err err = GH_EIO;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return GH_ENOMEM;
	if (!PEM_write_bio_PrivateKey(bio, v->key, NULL, NULL, 0, NULL, NULL))
		goto cleanup;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || data == NULL)
		goto cleanup;
	err = GH_ETOOBIG;
	if ((size_t)n >= cap)
		goto cleanup;
	memcpy(buf, data, (size_t)n);
	buf[n] = '\0';
	err = GH_OK;
cleanup:
	BIO_free(bio);
	return err;
}

const char *
nd_vapid_public(const struct nd_vapid *v)
{
	return v->pub_b64;
}

void
nd_vapid_free(struct nd_vapid *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->key);
	free(v);
}

gh_err
nd_vapid_origin(const char *endpoint, char *out, size_t cap)
{
	const char *p, *host, *end, *colon = NULL;
	size_t slen, hlen, o = 0, i;
	int https;

	if (endpoint == NULL || cap == 0)
		return GH_EINVAL;
	p = strstr(endpoint, "://");
	if (p == NULL)
		return GH_EINVAL;
	slen = (size_t)(p - endpoint);
	if (slen == 5 && strncasecmp(endpoint, "https", 5) == 0)
		https = 1;
	else if (slen == 4 && strncasecmp(endpoint, "http", 4) == 0)
		https = 0;
	else
		return GH_EINVAL;
	host = p + 3;
	end = host + strcspn(host, "/?#");
	hlen = (size_t)(end - host);
	if (hlen == 0 || memchr(host, '@', hlen) != NULL)
		return GH_EINVAL;
	/* A bracketed IPv6 literal has colons of its own. */
	for (i = hlen; i > 0; i--) {
		if (host[i - 1] == ']')
			break;
		if (host[i - 1] == ':') {
			colon = host + i - 1;
			break;
		}
	}
	if (colon != NULL) {
		const char *port = colon + 1;
		size_t plen = (size_t)(end - port);
		if (plen == 0 || strspn(port, "0123456789") < plen)
			return GH_EINVAL;
		/* The serialized origin (RFC 6454) leaves out the default port. */
		if ((https && plen == 3 && strncmp(port, "443", 3) == 0) ||
		    (!https && plen == 2 && strncmp(port, "80", 2) == 0))
			hlen = (size_t)(colon - host);
	}
	slen = https ? 8 : 7;
	if (slen + hlen + 1 > cap)
		return GH_ETOOBIG;
	memcpy(out, https ? "https://" : "http://", slen);
	o = slen;
	for (i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)host[i];
		if (c <= 0x20 || c >= 0x7f)
			return GH_EINVAL;
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
	return GH_OK;
}

/* vapid_subject_ok - a mailto: or https: URI without control characters. */
static int
vapid_subject_ok(const char *s)
{
	const unsigned char *p;

	if (s == NULL || (strncmp(s, "mailto:", 7) != 0 &&
	                  strncmp(s, "https:", 6) != 0))
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return strlen(s) <= 256;
}

/* vapid_sign - ES256 over data, as the 64-byte R|S form JWS wants. */
static gh_err
vapid_sign(EVP_PKEY *key, const char *data, size_t len, unsigned char rs[64])
{
	EVP_MD_CTX *m = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char der[128];
	const unsigned char *dp = der;
	const BIGNUM *r, *s;
	size_t dlen = sizeof der;
	gh_err err = GH_EIO;

	m = EVP_MD_CTX_new();
	if (m == NULL ||
	    EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(m, der, &dlen, (const unsigned char *)data, len) != 1)
		goto cleanup;
	sig = d2i_ECDSA_SIG(NULL, &dp, (long)dlen);
	if (sig == NULL)
		goto cleanup;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) != 32)
		goto cleanup;
	err = GH_OK;
cleanup:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(m);
	if (err)
		ERR_clear_error();
	return err;
}

gh_err
nd_vapid_header(const struct nd_vapid *v, const char *endpoint,
                const char *subject, int64_t now_s, int64_t ttl_s,
                char *out, size_t cap)
{
	/* base64url of {"typ":"JWT","alg":"ES256"} */
	static const char jwt_head[] = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9";
	char origin[512];
	char input[GH_VAPID_HEADER_MAX];
	char sig_b64[GH_B64_ENC_LEN(64)];
	unsigned char rs[64];
	json_t *claims = NULL;
	char *cjson = NULL;
	size_t clen, o, n;
	int w;
	gh_err err;

	if (v == NULL || out == NULL || !vapid_subject_ok(subject) ||
	    ttl_s < 1 || ttl_s > GH_VAPID_TTL_MAX || now_s < 0)
		return GH_EINVAL;
	err = nd_vapid_origin(endpoint, origin, sizeof origin);
	if (err)
		return err;
	err = GH_ENOMEM;
	claims = json_pack("{s:s, s:I, s:s}", "aud", origin,
	                   "exp", (json_int_t)(now_s + ttl_s), "sub", subject);
	if (claims == NULL)
		goto cleanup;
	cjson = json_dumps(claims, JSON_COMPACT);
	if (cjson == NULL)
		goto cleanup;
	clen = strlen(cjson);

	err = GH_ETOOBIG;
	o = sizeof jwt_head - 1;
	if (o + 1 + GH_B64_ENC_LEN(clen) > sizeof input)
		goto cleanup;
	memcpy(input, jwt_head, o);
	input[o++] = '.';
	err = gh_b64_encode(GH_B64_URL, cjson, clen, input + o, sizeof input - o,
	                    &n);
	if (err)
		goto cleanup;
	o += n;
	err = vapid_sign(v->key, input, o, rs);
	if (err)
		goto cleanup;
	err = gh_b64_encode(GH_B64_URL, rs, sizeof rs, sig_b64, sizeof sig_b64,
	                    NULL);
	if (err)
		goto cleanup;
	w = snprintf(out, cap, "vapid t=%.*s.%s, k=%s", (int)o, input, sig_b64,
	             v->pub_b64);
	err = (w < 0 || (size_t)w >= cap) ? GH_ETOOBIG : GH_OK;
cleanup:
	free(cjson);
	json_decref(claims);
	return err;
}
