/*
 * test_webpush.c - RFC 8291 encryption and RFC 8292 VAPID tokens.
 *
 * The receiver side (ECDH with the user agent's key, HKDF, AES-GCM open,
 * padding removal) is written here independently of the library, with HKDF
 * done by hand over HMAC, so a shared mistake cannot make both sides agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "gatehouse/codec.h"
#include "../../../notifyd/core/webpush_crypt.h"

/* RFC 8291 section 5 and appendix A. */
static const char rfc_plain[] = "When I grow up, I want to be a watermelon";
static const char rfc_as_public[] =
	"BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
static const char rfc_as_private[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
static const char rfc_ua_public[] =
	"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
static const char rfc_ua_private[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
static const char rfc_salt[] = "DGv6ra1nlYgDCS1FRnbzlw";
static const char rfc_auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
static const char rfc_body[] =
	"DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg"
	"Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVB"
	"St2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

static size_t
unb64(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	assert_int_equal(gh_b64_decode(GH_B64_URL, s, strlen(s), out, cap, &n),
	                 GH_OK);
	return n;
}

/* ---- an independent receiver ---- */

static void
hmac256(const unsigned char *key, size_t klen, const unsigned char *a,
        size_t alen, const unsigned char *b, size_t blen, unsigned char out[32])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	char md[] = "SHA256";
	OSSL_PARAM p[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0),
		OSSL_PARAM_construct_end()
	};
	size_t n = 0;

	assert_non_null(c);
	assert_int_equal(EVP_MAC_init(c, key, klen, p), 1);
	assert_int_equal(EVP_MAC_update(c, a, alen), 1);
	if (blen)
		assert_int_equal(EVP_MAC_update(c, b, blen), 1);
	assert_int_equal(EVP_MAC_final(c, out, &n, 32), 1);
	assert_int_equal(n, 32);
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
}

/* HKDF with L <= 32: PRK = HMAC(salt, ikm); OKM = HMAC(PRK, info | 0x01). */
static void
hkdf32(const unsigned char *salt, size_t slen, const unsigned char *ikm,
       size_t ilen, const unsigned char *info, size_t nlen, unsigned char *out,
       size_t olen)
{
	unsigned char prk[32], t[32], one = 1;
	unsigned char buf[256];

	assert_true(nlen + 1 <= sizeof buf);
	hmac256(salt, slen, ikm, ilen, NULL, 0, prk);
	memcpy(buf, info, nlen);
	buf[nlen] = one;
	hmac256(prk, 32, buf, nlen + 1, NULL, 0, t);
	memcpy(out, t, olen);
}

static EVP_PKEY *
ec_key(const unsigned char *d, const unsigned char pub[65])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL;

	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld,
	                 OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld,
	                 OSSL_PKEY_PARAM_PUB_KEY, pub, 65), 1);
	if (d) {
		bn = BN_bin2bn(d, 32, NULL);
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld,
		                 OSSL_PKEY_PARAM_PRIV_KEY, bn), 1);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, d ? EVP_PKEY_KEYPAIR :
	                 EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	return pk;
}

/*
 * receive - decrypt an aes128gcm body with the UA's key; returns the
 * plaintext length, or -1 if authentication or the format fails.
 */
static long
receive(EVP_PKEY *ua, const unsigned char ua_pub[65],
        const unsigned char auth[16], const unsigned char *body, size_t blen,
        unsigned char *plain)
{
	unsigned char secret[32], ikm[32], cek[16], nonce[12], info[200];
	unsigned char as_pub[65];
	EVP_PKEY *as;
	EVP_PKEY_CTX *dc;
	EVP_CIPHER_CTX *c;
	size_t slen = 32, clen, i;
	uint32_t rs;
	int n, f, ok;
	static const char kl[] = "WebPush: info";
	static const char cl[] = "Content-Encoding: aes128gcm";
	static const char nl[] = "Content-Encoding: nonce";

	if (blen < 86 + 17)
		return -1;
	rs = (uint32_t)body[16] << 24 | (uint32_t)body[17] << 16 |
	     (uint32_t)body[18] << 8 | body[19];
	if (rs < 18 || body[20] != 65)
		return -1;
	memcpy(as_pub, body + 21, 65);
	as = ec_key(NULL, as_pub);
	dc = EVP_PKEY_CTX_new_from_pkey(NULL, ua, NULL);
	assert_int_equal(EVP_PKEY_derive_init(dc), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(dc, as), 1);
	assert_int_equal(EVP_PKEY_derive(dc, secret, &slen), 1);
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(as);

	memcpy(info, kl, sizeof kl);
	memcpy(info + sizeof kl, ua_pub, 65);
	memcpy(info + sizeof kl + 65, as_pub, 65);
	hkdf32(auth, 16, secret, 32, info, sizeof kl + 130, ikm, 32);
	hkdf32(body, 16, ikm, 32, (const unsigned char *)cl, sizeof cl, cek, 16);
	hkdf32(body, 16, ikm, 32, (const unsigned char *)nl, sizeof nl, nonce, 12);

	clen = blen - 86 - 16;
	if (clen + 16 > rs)     /* a single record only */
		return -1;
	c = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_DecryptInit_ex2(c, EVP_aes_128_gcm(), cek, nonce,
	                                     NULL), 1);
	assert_int_equal(EVP_DecryptUpdate(c, plain, &n, body + 86, (int)clen), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16,
	                 (void *)(body + blen - 16)), 1);
	ok = EVP_DecryptFinal_ex(c, plain + n, &f);
	EVP_CIPHER_CTX_free(c);
	if (ok != 1)
		return -1;
	/* Strip zero padding back to the last-record delimiter 0x02. */
	for (i = clen; i > 0 && plain[i - 1] == 0; i--)
		;
	if (i == 0 || plain[i - 1] != 0x02)
		return -1;
	return (long)(i - 1);
}

/* ---- tests ---- */

static void
test_rfc8291_example(void **state)
{
	unsigned char d[40], salt[20], ua[70], auth[20], want[300], out[300];
	size_t wlen, olen = 0;

	(void)state;
	assert_int_equal(unb64(rfc_as_private, d, sizeof d), 32);
	assert_int_equal(unb64(rfc_salt, salt, sizeof salt), 16);
	assert_int_equal(nd_webpush_keys(rfc_ua_public, rfc_auth, ua, auth), GH_OK);
	wlen = unb64(rfc_body, want, sizeof want);
	assert_int_equal(wlen, GH_WP_OVERHEAD + strlen(rfc_plain));

	assert_int_equal(nd_webpush_encrypt_with(d, salt, ua, auth, rfc_plain,
	                 strlen(rfc_plain), 0, out, sizeof out, &olen), GH_OK);
	assert_int_equal(olen, wlen);
	assert_memory_equal(out, want, wlen);

	/* Too small an output buffer is refused, not overrun. */
	assert_int_equal(nd_webpush_encrypt_with(d, salt, ua, auth, rfc_plain,
	                 strlen(rfc_plain), 0, out, wlen - 1, &olen), GH_ETOOBIG);
}

static void
test_rfc8291_receiver_decrypts_rfc_body(void **state)
{
	unsigned char ua_d[40], ua[70], auth[20], body[300], plain[300];
	EVP_PKEY *uak;
	size_t blen;
	long n;

	(void)state;
	unb64(rfc_ua_private, ua_d, sizeof ua_d);
	assert_int_equal(nd_webpush_keys(rfc_ua_public, rfc_auth, ua, auth), GH_OK);
	uak = ec_key(ua_d, ua);
	blen = unb64(rfc_body, body, sizeof body);
	n = receive(uak, ua, auth, body, blen, plain);
	assert_int_equal(n, (long)strlen(rfc_plain));
	assert_memory_equal(plain, rfc_plain, (size_t)n);
	EVP_PKEY_free(uak);
}

static void
test_round_trip_fresh_keys(void **state)
{
	unsigned char ua[65], auth[16], body[GH_WP_BODY_MAX], plain[GH_WP_BODY_MAX];
	unsigned char body2[GH_WP_BODY_MAX];
	char ua_b64[100], auth_b64[40];
	unsigned char ua2[65], auth2[16];
	const char *msg = "{\"title\":\"New login\",\"body\":\"from 192.0.2.7 \xe2\x80\x94 ok?\"}";
	EVP_PKEY *uak;
	size_t n = 0, blen = 0, blen2 = 0;
	long got;
	size_t pads[] = {0, 1, 100, GH_WP_PLAIN_MAX - 60};
	size_t i;

	(void)state;
	uak = EVP_EC_gen("P-256");
	assert_non_null(uak);
	assert_int_equal(EVP_PKEY_get_octet_string_param(uak,
	                 OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, ua, sizeof ua, &n), 1);
	assert_int_equal(n, 65);
	assert_int_equal(RAND_bytes(auth, sizeof auth), 1);
	/* Through the subscription's base64url form, as the store keeps it. */
	assert_int_equal(gh_b64_encode(GH_B64_URL, ua, 65, ua_b64, sizeof ua_b64,
	                               NULL), GH_OK);
	assert_int_equal(gh_b64_encode(GH_B64_URL, auth, 16, auth_b64,
	                               sizeof auth_b64, NULL), GH_OK);
	assert_int_equal(nd_webpush_keys(ua_b64, auth_b64, ua2, auth2), GH_OK);
	assert_memory_equal(ua, ua2, 65);

	for (i = 0; i < sizeof pads / sizeof pads[0]; i++) {
		assert_int_equal(nd_webpush_encrypt(ua2, auth2, msg, strlen(msg),
		                 pads[i], body, sizeof body, &blen), GH_OK);
		assert_int_equal(blen, GH_WP_OVERHEAD + strlen(msg) + pads[i]);
		got = receive(uak, ua, auth, body, blen, plain);
		assert_int_equal(got, (long)strlen(msg));
		assert_memory_equal(plain, msg, strlen(msg));
	}

	/* Fresh salt and ephemeral key every time. */
	assert_int_equal(nd_webpush_encrypt(ua2, auth2, msg, strlen(msg), 0,
	                 body2, sizeof body2, &blen2), GH_OK);
	assert_int_equal(nd_webpush_encrypt(ua2, auth2, msg, strlen(msg), 0,
	                 body, sizeof body, &blen), GH_OK);
	assert_memory_not_equal(body, body2, 16);
	assert_memory_not_equal(body + 21, body2 + 21, 65);

	/* A flipped bit fails authentication; a wrong auth secret too. */
	body[100] ^= 1;
	assert_int_equal(receive(uak, ua, auth, body, blen, plain), -1);
	body[100] ^= 1;
	auth[0] ^= 1;
	assert_int_equal(receive(uak, ua, auth, body, blen, plain), -1);
	EVP_PKEY_free(uak);
}

static void
test_limits_and_bad_keys(void **state)
{
	unsigned char ua[65], auth[16], body[GH_WP_BODY_MAX + 200];
	static unsigned char big[GH_WP_BODY_MAX];
	size_t blen;
	char bad[100];

	(void)state;
	assert_int_equal(nd_webpush_keys(rfc_ua_public, rfc_auth, ua, auth), GH_OK);
	assert_int_equal(nd_webpush_encrypt(ua, auth, big, GH_WP_PLAIN_MAX, 0,
	                 body, sizeof body, &blen), GH_OK);
	assert_int_equal(blen, GH_WP_BODY_MAX);
	assert_int_equal(nd_webpush_encrypt(ua, auth, big, GH_WP_PLAIN_MAX + 1, 0,
	                 body, sizeof body, &blen), GH_ETOOBIG);
	assert_int_equal(nd_webpush_encrypt(ua, auth, big, 10, GH_WP_PLAIN_MAX,
	                 body, sizeof body, &blen), GH_ETOOBIG);

	/* A point off the curve: change the last byte of y. */
	snprintf(bad, sizeof bad, "%s", rfc_ua_public);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(nd_webpush_keys(bad, rfc_auth, ua, auth), GH_EINVAL);
	assert_int_equal(nd_webpush_keys(rfc_ua_public, "BTBZMqHH6r4Tts7J", ua,
	                                 auth), GH_EINVAL);
	assert_int_equal(nd_webpush_keys("not base64!", rfc_auth, ua, auth),
	                 GH_EINVAL);
	assert_int_equal(nd_webpush_keys(rfc_auth, rfc_auth, ua, auth), GH_EINVAL);
}

static void
test_vapid_origin(void **state)
{
	char o[128];

	(void)state;
	assert_int_equal(nd_vapid_origin("https://fcm.googleapis.com/fcm/send/abc",
	                                 o, sizeof o), GH_OK);
	assert_string_equal(o, "https://fcm.googleapis.com");
	assert_int_equal(nd_vapid_origin("HTTPS://Push.Example.NET:443/x?y", o,
	                                 sizeof o), GH_OK);
	assert_string_equal(o, "https://push.example.net");
	assert_int_equal(nd_vapid_origin("https://push.example.net:8443", o,
	                                 sizeof o), GH_OK);
	assert_string_equal(o, "https://push.example.net:8443");
	assert_int_equal(nd_vapid_origin("http://[::1]:8080/p", o, sizeof o),
	                 GH_OK);
	assert_string_equal(o, "http://[::1]:8080");
	assert_int_equal(nd_vapid_origin("ftp://x/y", o, sizeof o), GH_EINVAL);
	assert_int_equal(nd_vapid_origin("https://u:p@x/y", o, sizeof o),
	                 GH_EINVAL);
	assert_int_equal(nd_vapid_origin("https:///y", o, sizeof o), GH_EINVAL);
	assert_int_equal(nd_vapid_origin("https://x:12a/", o, sizeof o),
	                 GH_EINVAL);
	assert_int_equal(nd_vapid_origin("https://push.example.net/", o, 10),
	                 GH_ETOOBIG);
}

/* Verify an ES256 JWS R|S signature with the public key given as k=. */
static int
verify_es256(const char *k_b64, const char *input, size_t ilen,
             const char *sig_b64)
{
	unsigned char pub[70], rs[70], der[100], *dp = der;
	EVP_PKEY *pk;
	EVP_MD_CTX *m;
	ECDSA_SIG *sig;
	size_t n;
	int dlen, ok;

	assert_int_equal(unb64(k_b64, pub, sizeof pub), 65);
	n = unb64(sig_b64, rs, sizeof rs);
	assert_int_equal(n, 64);
	pk = ec_key(NULL, pub);
	sig = ECDSA_SIG_new();
	assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL),
	                                BN_bin2bn(rs + 32, 32, NULL)), 1);
	dlen = i2d_ECDSA_SIG(sig, &dp);
	assert_true(dlen > 0);
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit_ex(m, NULL, "SHA256", NULL, NULL,
	                                         pk, NULL), 1);
	ok = EVP_DigestVerify(m, der, (size_t)dlen,
	                      (const unsigned char *)input, ilen);
	EVP_MD_CTX_free(m);
	ECDSA_SIG_free(sig);
	EVP_PKEY_free(pk);
	return ok == 1;
}

static json_t *
b64_json(const char *s, size_t n)
{
	unsigned char buf[512];
	size_t len = 0;
	json_t *j;

	assert_int_equal(gh_b64_decode(GH_B64_URL, s, n, buf, sizeof buf, &len),
	                 GH_OK);
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	return j;
}

static void
test_vapid_header(void **state)
{
	struct nd_vapid *v = NULL;
	char h[GH_VAPID_HEADER_MAX], t[GH_VAPID_HEADER_MAX];
	const char *tp, *kp, *d1, *d2;
	json_t *hd, *cl;
	size_t tlen;

	(void)state;
	assert_int_equal(nd_vapid_generate(&v), GH_OK);
	assert_int_equal(nd_vapid_header(v, "https://push.example.net:443/p/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
	                                 "mailto:push@example.com", 1453480568,
	                                 43200, h, sizeof h), GH_OK);
	assert_int_equal(strncmp(h, "vapid t=", 8), 0);
	tp = h + 8;
	kp = strstr(h, ", k=");
	assert_non_null(kp);
	tlen = (size_t)(kp - tp);
	memcpy(t, tp, tlen);
	t[tlen] = '\0';
	assert_string_equal(kp + 4, nd_vapid_public(v));

	d1 = strchr(t, '.');
	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	hd = b64_json(t, (size_t)(d1 - t));
	assert_string_equal(json_string_value(json_object_get(hd, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(hd, "typ")), "JWT");
	cl = b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
	assert_string_equal(json_string_value(json_object_get(cl, "aud")),
	                    "https://push.example.net");
	assert_int_equal(json_integer_value(json_object_get(cl, "exp")),
	                 1453480568 + 43200);
	assert_string_equal(json_string_value(json_object_get(cl, "sub")),
	                    "mailto:push@example.com");
	assert_int_equal(json_object_size(cl), 3);
	json_decref(hd);
	json_decref(cl);

	assert_true(verify_es256(kp + 4, t, (size_t)(d2 - t), d2 + 1));
	/* The signature covers the claims: change one and it fails. */
	t[(d1 - t) + 3] = t[(d1 - t) + 3] == 'A' ? 'B' : 'A';
	assert_false(verify_es256(kp + 4, t, (size_t)(d2 - t), d2 + 1));

	assert_int_equal(nd_vapid_header(v, "https://x/", "push@example.com", 1,
	                                 60, h, sizeof h), GH_EINVAL);
	assert_int_equal(nd_vapid_header(v, "https://x/", "mailto:a@b", 1,
	                                 GH_VAPID_TTL_MAX + 1, h, sizeof h),
	                 GH_EINVAL);
	assert_int_equal(nd_vapid_header(v, "https://x/", "mailto:a@b", 1, 60, h,
	                                 100), GH_ETOOBIG);
	nd_vapid_free(v);
}

static void
test_vapid_keys(void **state)
{
	struct nd_vapid *v = NULL, *w = NULL;
	char pem[512];
	static const char enc_pem[] =
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
		"MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhXc0mGy1bXHgICCAAw\n"
		"-----END ENCRYPTED PRIVATE KEY-----\n";

	(void)state;
	/* The RFC 8291 sender scalar has a published public key. */
	assert_int_equal(nd_vapid_load_raw(&v, rfc_as_private), GH_OK);
	assert_string_equal(nd_vapid_public(v), rfc_as_public);
	assert_int_equal(nd_vapid_pem(v, pem, sizeof pem), GH_OK);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(nd_vapid_load_pem(&w, pem, strlen(pem)), GH_OK);
	assert_string_equal(nd_vapid_public(w), rfc_as_public);
	assert_int_equal(nd_vapid_pem(v, pem, 20), GH_ETOOBIG);
	nd_vapid_free(v);
	nd_vapid_free(w);

	assert_int_equal(nd_vapid_load_raw(&v, "AAAA"), GH_EINVAL);
	assert_null(v);
	/* Zero is not a valid scalar. */
	assert_int_equal(nd_vapid_load_raw(&v,
	                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), GH_EINVAL);
	assert_int_equal(nd_vapid_load_pem(&v, "garbage", 7), GH_EINVAL);
	/* Encrypted keys are refused, never prompted for. */
	assert_int_equal(nd_vapid_load_pem(&v, enc_pem, strlen(enc_pem)),
	                 GH_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8291_example),
		cmocka_unit_test(test_rfc8291_receiver_decrypts_rfc_body),
		cmocka_unit_test(test_round_trip_fresh_keys),
		cmocka_unit_test(test_limits_and_bad_keys),
		cmocka_unit_test(test_vapid_origin),
		cmocka_unit_test(test_vapid_header),
		cmocka_unit_test(test_vapid_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
