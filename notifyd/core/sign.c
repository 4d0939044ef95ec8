/*
 * sign.c - HMAC-SHA256 webhook signatures (the format is in sign.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gatehouse/codec.h"
#include "sign.h"

/* sign_mac - HMAC-SHA256(key, ts "." body) into mac. */
static gh_err
sign_mac(const void *key, size_t klen, const char *ts, size_t tlen,
         const void *body, size_t blen, unsigned char mac[32])
{
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *c = NULL;
	char md[] = "SHA256";
	OSSL_PARAM p[2];
	size_t n = 0;
	gh_err err = GH_EIO;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0);
	p[1] = OSSL_PARAM_construct_end();
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (m == NULL || (c = EVP_MAC_CTX_new(m)) == NULL)
		goto cleanup;
	if (!EVP_MAC_init(c, key, klen, p) ||
	    !EVP_MAC_update(c, (const unsigned char *)ts, tlen) ||
	    !EVP_MAC_update(c, (const unsigned char *)".", 1) ||
	    (blen > 0 && !EVP_MAC_update(c, body, blen)) ||
	    !EVP_MAC_final(c, mac, &n, 32) || n != 32)
		goto cleanup;
	err = GH_OK;
cleanup:
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return err;
}

gh_err
nd_sign_webhook(const void *key, size_t klen, int64_t ts, const void *body,
                size_t blen, char out[GH_SIGN_VALUE_LEN])
{
	unsigned char mac[32];
	char tsbuf[24];
	int n;
	gh_err err;

	if (key == NULL || klen == 0 || ts < 0 || (body == NULL && blen > 0))
		return GH_EINVAL;
	n = snprintf(tsbuf, sizeof tsbuf, "%" PRId64, ts);
	if (n < 0 || (size_t)n >= sizeof tsbuf)
		return GH_EINVAL;
	err = sign_mac(key, klen, tsbuf, (size_t)n, body, blen, mac);
	if (err)
		return err;
	memcpy(out, GH_SIGN_PREFIX, 7);
	return gh_hex_encode(mac, sizeof mac, out + 7, GH_SIGN_VALUE_LEN - 7);
}

gh_err
nd_sign_verify(const void *key, size_t klen, const char *ts_header,
               const void *body, size_t blen, const char *sig_header,
               int64_t now_s, int64_t tolerance_s)
{
	unsigned char mac[32];
	char want[65];
	size_t tlen, i;
	int64_t ts = 0;
	gh_err err;

	if (key == NULL || klen == 0 || ts_header == NULL || sig_header == NULL)
		return GH_EINVAL;
	tlen = strlen(ts_header);
	if (tlen == 0 || tlen > 18)
		return GH_EINVAL;
	for (i = 0; i < tlen; i++) {
		if (ts_header[i] < '0' || ts_header[i] > '9')
			return GH_EINVAL;
		ts = ts * 10 + (ts_header[i] - '0');
	}
	if (strncmp(sig_header, GH_SIGN_PREFIX, 7) != 0 ||
	    strlen(sig_header) != 7 + 64)
		return GH_EINVAL;
	/* Compare in lowercase: hex digits are case-insensitive. */
	for (i = 0; i < 64; i++) {
		char c = sig_header[7 + i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return GH_EINVAL;
		want[i] = c;
	}
	want[64] = '\0';
	if (ts > now_s + tolerance_s || ts < now_s - tolerance_s)
		return GH_EEXPIRED;
	err = sign_mac(key, klen, ts_header, tlen, body, blen, mac);
	if (err)
		return err;
	{
		char got[65];
		err = gh_hex_encode(mac, sizeof mac, got, sizeof got);
		if (err)
			return err;
		return nd_ct_equal(got, want, 64) ? GH_OK : GH_EACCES;
	}
}

int
nd_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
