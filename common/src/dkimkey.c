/*
 * dkimkey.c - load RSA and Ed25519 DKIM private keys with OpenSSL, derive
 * their DNS records, and sign header digests with them
 * (gatehouse/dkimkey.h).
 *
 * One copy for the milter, which signs, and the CLI, which prints the
 * records to publish: what the admin publishes is then derived by the
 * same code from the same file as what the milter signs with.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gatehouse/codec.h"
#include "gatehouse/dkimkey.h"
#include "gatehouse/file.h"
#include "detail_int.h"

struct gh_dkim_key {
	EVP_PKEY *pkey;
	gh_dkim_alg alg;
	unsigned bits;
};

const char *
gh_dkim_alg_name(gh_dkim_alg alg)
{
	return alg == GH_DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

/* Refuse to prompt for a passphrase: a daemon has no terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static gh_err
key_from_pem(const char *pem, size_t len, const char *what,
             struct gh_dkim_key **out, char *detail, size_t dlen)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	struct gh_dkim_key *key = NULL;
	gh_err err = GH_EINVAL;
	int id;

	if (len > GH_DKIM_KEY_FILE_MAX || len > (size_t)INT_MAX) {
		err = gh_detail(detail, dlen, GH_ETOOBIG,
		                "%s: key file too large", what);
		goto cleanup;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL) {
		err = gh_detail(detail, dlen, GH_EINVAL,
		                "%s: not an unencrypted PEM private key", what);
		goto cleanup;
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_RSA) {
		int bits = EVP_PKEY_get_bits(pkey);

		if (bits < GH_DKIM_RSA_MIN_BITS || bits > GH_DKIM_RSA_MAX_BITS) {
			err = gh_detail(detail, dlen, GH_EINVAL,
			                "%s: RSA key of %d bits (allowed %d "
			                "to %d)", what, bits,
			                GH_DKIM_RSA_MIN_BITS,
			                GH_DKIM_RSA_MAX_BITS);
			goto cleanup;
		}
		key->alg = GH_DKIM_RSA_SHA256;
		key->bits = (unsigned)bits;
	} else if (id == EVP_PKEY_ED25519) {
		key->alg = GH_DKIM_ED25519_SHA256;
		key->bits = 256;
	} else {
		err = gh_detail(detail, dlen, GH_EINVAL,
		                "%s: key type is neither RSA nor Ed25519",
		                what);
		goto cleanup;
	}
	key->pkey = pkey;
	pkey = NULL;
	*out = key;
	key = NULL;
	err = GH_OK;
cleanup:
	ERR_clear_error();
	free(key);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return err;
}

gh_err
gh_dkim_key_from_pem(const char *pem, size_t len, struct gh_dkim_key **out,
                     char *detail, size_t dlen)
{
	if (pem == NULL || out == NULL)
		return GH_EINVAL;
	*out = NULL;
	return key_from_pem(pem, len, "key", out, detail, dlen);
}

gh_err
gh_dkim_key_load(const char *path, struct gh_dkim_key **out, char *detail,
                 size_t dlen)
{
	char *buf = NULL;
	size_t len = 0;
	gh_err err;

	if (path == NULL || out == NULL)
		return GH_EINVAL;
	*out = NULL;
	/* one buffer of the largest size, never grown: a private key leaves
	 * no copy behind in freed memory */
	buf = malloc(GH_DKIM_KEY_FILE_MAX + 1);
	if (buf == NULL)
		return GH_ENOMEM;
	err = gh_file_read_into(path, 0, buf, GH_DKIM_KEY_FILE_MAX + 1, &len,
	                        detail, dlen);
	if (err == GH_ETOOBIG)
		err = gh_detail(detail, dlen, GH_ETOOBIG,
		                "%s: key file too large", path);
	if (err == GH_OK)
		err = key_from_pem(buf, len, path, out, detail, dlen);
	OPENSSL_cleanse(buf, GH_DKIM_KEY_FILE_MAX + 1);
	free(buf);
	return err;
}

void
gh_dkim_key_free(struct gh_dkim_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

gh_dkim_alg
gh_dkim_key_alg(const struct gh_dkim_key *key)
{
	return key->alg;
}

unsigned
gh_dkim_key_bits(const struct gh_dkim_key *key)
{
	return key->bits;
}

gh_err
gh_dkim_key_txt(const struct gh_dkim_key *key, char *buf, size_t bufsz,
                size_t *len)
{
	unsigned char *der = NULL;
	unsigned char raw[32];
	const unsigned char *pub;
	size_t publen;
	const char *prefix;
	size_t plen;
	size_t blen = 0;
	int dlen;
	gh_err err;

	if (key == NULL || buf == NULL)
		return GH_EINVAL;
	if (key->alg == GH_DKIM_ED25519_SHA256) {
		publen = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &publen) != 1 ||
		    publen != sizeof(raw)) {
			err = GH_EIO;
			goto cleanup;
		}
		pub = raw;
		prefix = "v=DKIM1; k=ed25519; p=";
	} else {
		/* RFC 6376 3.6.1: p= is the DER SubjectPublicKeyInfo. */
		dlen = i2d_PUBKEY(key->pkey, &der);
		if (dlen <= 0) {
			err = GH_EIO;
			goto cleanup;
		}
		pub = der;
		publen = (size_t)dlen;
		prefix = "v=DKIM1; k=rsa; p=";
	}
	plen = strlen(prefix);
	if (bufsz < plen + GH_B64_ENC_LEN(publen)) {
		err = GH_ETOOBIG;
		goto cleanup;
	}
	memcpy(buf, prefix, plen);
	err = gh_b64_encode(GH_B64_STD, pub, publen, buf + plen, bufsz - plen,
	                    &blen);
	if (err)
		goto cleanup;
	if (len != NULL)
		*len = plen + blen;
cleanup:
	ERR_clear_error();
	OPENSSL_free(der);
	return err;
}

gh_err
gh_dkim_key_sign(const struct gh_dkim_key *key, const unsigned char digest[32],
                 unsigned char *sig, size_t *siglen)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	size_t len = GH_DKIM_SIG_MAX;
	gh_err err = GH_EIO;

	if (key == NULL || digest == NULL || sig == NULL || siglen == NULL)
		return GH_EINVAL;
	if (key->alg == GH_DKIM_RSA_SHA256) {
		pctx = EVP_PKEY_CTX_new(key->pkey, NULL);
		if (pctx == NULL) {
			err = GH_ENOMEM;
			goto cleanup;
		}
		if (EVP_PKEY_sign_init(pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_sign(pctx, sig, &len, digest, 32) != 1)
			goto cleanup;
	} else {
		/* PureEdDSA over the digest: no message digest of its own. */
		mctx = EVP_MD_CTX_new();
		if (mctx == NULL) {
			err = GH_ENOMEM;
			goto cleanup;
		}
		if (EVP_DigestSignInit(mctx, NULL, NULL, NULL, key->pkey) != 1 ||
		    EVP_DigestSign(mctx, sig, &len, digest, 32) != 1)
			goto cleanup;
	}
	*siglen = len;
	err = GH_OK;
cleanup:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	return err;
}

gh_dkim_key_state
gh_dkim_key_state_at(int64_t retire_at, int64_t grace_s, int64_t now,
                     int64_t *keep_until)
{
	int64_t until;

	if (retire_at <= 0) {
		if (keep_until != NULL)
			*keep_until = 0;
		return GH_DKIM_KEY_ACTIVE;
	}
	if (grace_s < 0)
		grace_s = 0;
	until = retire_at > INT64_MAX - grace_s ? INT64_MAX :
	        retire_at + grace_s;
	if (keep_until != NULL)
		*keep_until = until;
	if (now < retire_at)
		return GH_DKIM_KEY_RETIRING;
	return now < until ? GH_DKIM_KEY_RETIRED : GH_DKIM_KEY_REMOVABLE;
}

const char *
gh_dkim_key_state_name(gh_dkim_key_state st)
{
	switch (st) {
	case GH_DKIM_KEY_ACTIVE:
		return "active";
	case GH_DKIM_KEY_RETIRING:
		return "retiring";
	case GH_DKIM_KEY_RETIRED:
		return "retired";
	case GH_DKIM_KEY_REMOVABLE:
		return "removable";
	}
	return "unknown";
}
