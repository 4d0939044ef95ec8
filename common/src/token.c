/*
 * token.c - signed, expiring, self-contained tokens for unsubscribe and
 * download links (gatehouse/token.h, docs/tokens.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gatehouse/codec.h"
#include "gatehouse/token.h"
#include "detail_int.h"

#define TOKEN_VERSION 1
#define MAC_LEN 16
#define RAW_MAX (11 + GH_TOKEN_FIELDS_MAX * (1 + GH_TOKEN_FIELD_MAX) + MAC_LEN)

static const char *
purpose_label(enum gh_token_purpose p)
{
	switch (p) {
	case GH_TOKEN_UNSUBSCRIBE:
		return "gatehouse token v1 unsubscribe";
	case GH_TOKEN_DOWNLOAD:
		return "gatehouse token v1 download";
	}
	return NULL;
}

/* Per-purpose key: HMAC(master, label).  One master key in the config,
 * and still an unsubscribe token is useless as a download link. */
static int
derive(const struct gh_token_key *master, enum gh_token_purpose p,
       unsigned char out[32])
{
	const char *label = purpose_label(p);
	unsigned int len = 32;

	if (label == NULL || master->len < GH_TOKEN_KEY_MIN ||
	    master->len > GH_TOKEN_KEY_MAX)
		return -1;
	return HMAC(EVP_sha256(), master->k, (int)master->len,
	            (const unsigned char *)label, strlen(label), out, &len) ?
	       0 : -1;
}

static int
mac(const unsigned char key[32], const unsigned char *data, size_t n,
    unsigned char out[MAC_LEN])
{
	unsigned char full[32];
	unsigned int len = sizeof(full);

	if (!HMAC(EVP_sha256(), key, 32, data, n, full, &len))
		return -1;
	memcpy(out, full, MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return 0;
}

gh_err
gh_token_make(const struct gh_token_key *key, const struct gh_token *t,
              char *out, size_t cap)
{
	unsigned char raw[RAW_MAX], k[32];
	size_t n = 0;
	gh_err err;

	if (key == NULL || t == NULL || out == NULL ||
	    t->nfields > GH_TOKEN_FIELDS_MAX || purpose_label(t->purpose) == NULL)
		return GH_EINVAL;
	raw[n++] = TOKEN_VERSION;
	raw[n++] = (unsigned char)t->purpose;
	for (int i = 7; i >= 0; i--)
		raw[n++] = (unsigned char)((uint64_t)t->expires >> (8 * i));
	raw[n++] = (unsigned char)t->nfields;
	for (size_t i = 0; i < t->nfields; i++) {
		size_t fl = strnlen(t->field[i], GH_TOKEN_FIELD_MAX + 1);

		if (fl > GH_TOKEN_FIELD_MAX)
			return GH_EINVAL;
		raw[n++] = (unsigned char)fl;
		memcpy(raw + n, t->field[i], fl);
		n += fl;
	}
	if (derive(key, t->purpose, k) != 0)
		return GH_EINVAL;
	if (mac(k, raw, n, raw + n) != 0) {
		OPENSSL_cleanse(k, sizeof(k));
		return GH_EIO;
	}
	OPENSSL_cleanse(k, sizeof(k));
	n += MAC_LEN;
	err = gh_b64_encode(GH_B64_URL, raw, n, out, cap, NULL);
	return err;
}

gh_err
gh_token_check(const struct gh_token_key *keys, size_t nkeys,
               enum gh_token_purpose purpose, const char *token, size_t len,
               int64_t now, struct gh_token *out)
{
	unsigned char raw[RAW_MAX + 3], k[32], want[MAC_LEN];
	size_t n = 0, p, body;
	int ok = 0;

	if (keys == NULL || token == NULL || out == NULL ||
	    len > GH_TOKEN_LEN_MAX)
		return GH_EINVAL;
	memset(out, 0, sizeof(*out));
	if (gh_b64_decode(GH_B64_URL, token, len, raw, sizeof(raw), &n) != GH_OK)
		return GH_EINVAL;
	if (n < 11 + MAC_LEN || raw[0] != TOKEN_VERSION)
		return GH_EINVAL;
	body = n - MAC_LEN;
	/* Parse before trusting: every length must stay inside the body. */
	p = 10;
	out->nfields = raw[p++];
	if (out->nfields > GH_TOKEN_FIELDS_MAX)
		return GH_EINVAL;
	for (size_t i = 0; i < out->nfields; i++) {
		size_t fl;

		if (p >= body)
			return GH_EINVAL;
		fl = raw[p++];
		if (p + fl > body || memchr(raw + p, '\0', fl) != NULL)
			return GH_EINVAL;
		memcpy(out->field[i], raw + p, fl);
		out->field[i][fl] = '\0';
		p += fl;
	}
	if (p != body)
		return GH_EINVAL;
	if (raw[1] != (unsigned char)purpose)
		return GH_EACCES;
	for (size_t i = 0; i < nkeys && !ok; i++) {
		if (derive(&keys[i], purpose, k) != 0)
			continue;
		if (mac(k, raw, body, want) == 0 &&
		    CRYPTO_memcmp(want, raw + body, MAC_LEN) == 0)
			ok = 1;
	}
	OPENSSL_cleanse(k, sizeof(k));
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return GH_EACCES;
	}
	out->purpose = purpose;
	out->expires = 0;
	for (int i = 0; i < 8; i++)
		out->expires = (int64_t)(((uint64_t)out->expires << 8) | raw[2 + i]);
	return out->expires < now ? GH_EEXPIRED : GH_OK;
}

gh_err
gh_token_key_load(const char *path, struct gh_token_key *key, char *detail,
                  size_t dlen)
{
	char buf[2 * GH_TOKEN_KEY_MAX + 8];
	size_t n;
	FILE *fp;
	gh_err err;

	if (detail && dlen)
		detail[0] = '\0';
	if (path == NULL || key == NULL)
		return GH_EINVAL;
	memset(key, 0, sizeof(*key));
	fp = fopen(path, "re");
	if (fp == NULL) {
		int e = errno;

		return gh_detail(detail, dlen, e == ENOENT ? GH_ENOTFOUND :
		                 (e == EACCES || e == EPERM) ? GH_EACCES :
		                 GH_EIO, "%s: %s", path, strerror(e));
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	err = gh_hex_decode(buf, n, key->k, sizeof(key->k), &key->len);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (err || key->len < GH_TOKEN_KEY_MIN) {
		memset(key, 0, sizeof(*key));
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not a key "
		                 "(expected %d to %d hex digits; make one with "
		                 "'gatehouse tokens keygen')", path,
		                 2 * GH_TOKEN_KEY_MIN, 2 * GH_TOKEN_KEY_MAX);
	}
	return GH_OK;
}
