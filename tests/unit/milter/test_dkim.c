/*
 * test_dkim.c - unit tests of DKIM keys and signatures
 * (common/src/dkimkey.c, milter/dkim/dkim_sighdr.c, milter/dkim/dkim.c).
 *
 * The known-answer tests reproduce RFC 8463 appendix A byte for byte: its
 * body hash, and both of its signatures (Ed25519 and RSA PKCS#1 v1.5 are
 * deterministic).  The other tests sign with gm_dkim_msg and check the
 * result with a small verifier written here on OpenSSL; the independent
 * verifiers (dkimpy, Mail::DKIM) run in tests/integration/milter_dkim.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "gatehouse/codec.h"
#include "gatehouse/dkimkey.h"
#include "../../../milter/dkim/canon.h"
#include "../../../milter/dkim/dkim.h"
#include "../../../milter/dkim/dkim_sighdr.h"
#include "../../../milter/dkim/hdrlist.h"
#include "../../../milter/dkim/hdrparse.h"

/* RFC 8463 appendix A.1: the Ed25519 seed nWGxne/9...A= as PKCS#8. */
static const char ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
static const char ed_txt[] =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/* RFC 8463 appendix A.1: the RSA key of selector "test". */
static const char rsa_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
    "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
    "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
    "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
    "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
    "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
    "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
    "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
    "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
    "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
    "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char rsa_txt[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiG"
    "s5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfz"
    "wQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G"
    "+2kryOTIKT+l/K4w3QIDAQAB";

/* RFC 8463 appendix A.2: the message, without its DKIM-Signature fields. */
static const char rfc_msg[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";
static const char rfc_bh[] = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

/* Its two DKIM-Signature values, b= emptied, and the published b=. */
static const char rfc_ed_sig[] =
    " v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=";
static const char rfc_ed_b[] =
    "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
    "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";
static const char rfc_rsa_sig[] =
    " v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=";
static const char rfc_rsa_b[] =
    "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3"
    "DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz"
    "dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=";
static const char *const rfc_h[] = {"from", "to", "subject", "date",
    "message-id", "from", "subject", "date"};

/* ---- helpers ---- */

static struct gh_dkim_key *
key_from(const char *pem)
{
	struct gh_dkim_key *k = NULL;
	char detail[256] = "";

	if (gh_dkim_key_from_pem(pem, strlen(pem), &k, detail,
	    sizeof(detail)) != GH_OK)
		fail_msg("key: %s", detail);
	return k;
}

static EVP_PKEY *
pkey_from(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *p;

	assert_non_null(bio);
	p = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(p);
	return p;
}

static gh_err
collect_field(void *arg, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	return gm_hdrlist_add(arg, name, namelen, value, valuelen);
}

/* Parse msg into l; return the body offset. */
static size_t
parse(const char *msg, struct gm_hdrlist *l)
{
	size_t off = 0;

	gm_hdrlist_init(l);
	assert_int_equal(gm_hdrparse(msg, strlen(msg), collect_field, l, &off),
	    GH_OK);
	return off;
}

static void
b64_of(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	assert_int_equal(gh_b64_encode(GH_B64_STD, p, n, out, outsz, NULL),
	    GH_OK);
}

/* Feed a whole message to a signing session, body in chunks of csize. */
static void
feed(struct gm_dkim_msg *m, const char *msg, size_t csize)
{
	struct gm_hdrlist l;
	size_t off = parse(msg, &l);
	size_t i;
	size_t len = strlen(msg);

	for (i = 0; i < l.n; i++)
		assert_int_equal(gm_dkim_msg_header(m, l.v[i].name,
		    l.v[i].value), GH_OK);
	gm_hdrlist_clear(&l);
	for (i = off; i < len; i += csize)
		assert_int_equal(gm_dkim_msg_body(m, msg + i,
		    len - i < csize ? len - i : csize), GH_OK);
}

/* The value of tag t in a DKIM-Signature value, whitespace removed. */
static void
tag(const char *value, const char *t, char *out, size_t outsz)
{
	const char *p = value;
	size_t tl = strlen(t);

	for (;;) {
		const char *start;
		size_t o = 0;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' ||
		    *p == ';')
			p++;
		if (*p == '\0')
			fail_msg("no tag %s in %s", t, value);
		start = p;
		while (*p != '\0' && *p != ';')
			p++;
		if (strncmp(start, t, tl) == 0 && start[tl] == '=') {
			const char *q;

			for (q = start + tl + 1; q < p; q++)
				if (*q != ' ' && *q != '\t' && *q != '\r' &&
				    *q != '\n' && o + 1 < outsz)
					out[o++] = *q;
			out[o] = '\0';
			return;
		}
	}
}

/*
 * Verify a DKIM-Signature value against a message given as fields + body,
 * with pub.  Returns 0 if good, 1 on body hash mismatch, 2 on bad signature.
 */
static int
verify(const char *value, const struct gm_hdrlist *l, const char *body,
    EVP_PKEY *pub)
{
	char buf[8192];
	char *names[GH_HDR_MAX_SIGNED];
	size_t nh = 0;
	char *p;
	char *cut;
	char *unsigned_value;
	unsigned char digest[GH_SHA256_LEN];
	unsigned char bh[GH_SHA256_LEN];
	unsigned char sig[GH_DKIM_SIG_MAX];
	int siglen;
	gm_canon hc;
	gm_canon bc;
	struct gm_body_canon *bcx = NULL;
	char bh64[64];
	int ok;

	tag(value, "c", buf, sizeof(buf));
	assert_int_equal(gm_canon_parse(buf, &hc, &bc), GH_OK);
	assert_int_equal(gm_body_canon_new(bc, &bcx), GH_OK);
	assert_int_equal(gm_body_canon_update(bcx, body, strlen(body)), GH_OK);
	assert_int_equal(gm_body_canon_final(bcx, bh), GH_OK);
	gm_body_canon_free(bcx);
	b64_of(bh, sizeof(bh), bh64, sizeof(bh64));
	tag(value, "bh", buf, sizeof(buf));
	if (strcmp(buf, bh64) != 0)
		return 1;

	tag(value, "b", buf, sizeof(buf));
	siglen = EVP_DecodeBlock(sig, (unsigned char *)buf, (int)strlen(buf));
	assert_true(siglen > 0);
	while (strlen(buf) > 0 && buf[strlen(buf) - 1] == '=') {
		buf[strlen(buf) - 1] = '\0';
		siglen--;
	}

	/* Empty b=: cut after the last "b=" that starts a tag. */
	unsigned_value = strdup(value);
	assert_non_null(unsigned_value);
	cut = NULL;
	for (p = unsigned_value + 1; (p = strstr(p, "b=")) != NULL; p++)
		if (p[-1] == ' ' || p[-1] == '\t' || p[-1] == ';')
			cut = p;
	assert_non_null(cut);
	cut[2] = '\0';

	tag(value, "h", buf, sizeof(buf));
	for (p = strtok(buf, ":"); p != NULL; p = strtok(NULL, ":"))
		names[nh++] = p;
	assert_int_equal(gm_dkim_header_digest(hc, l,
	    (const char *const *)names, nh, "DKIM-Signature", unsigned_value,
	    strlen(unsigned_value), digest), GH_OK);
	free(unsigned_value);

	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_ED25519) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub),
		    1);
		ok = EVP_DigestVerify(md, sig, (size_t)siglen, digest,
		    sizeof(digest)) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);

		assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx,
		    EVP_sha256()), 1);
		ok = EVP_PKEY_verify(ctx, sig, (size_t)siglen, digest,
		    sizeof(digest)) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	return ok ? 0 : 2;
}

/* Verify value against the whole message text msg. */
static int
verify_msg(const char *value, const char *msg, EVP_PKEY *pub)
{
	struct gm_hdrlist l;
	size_t off = parse(msg, &l);
	int r = verify(value, &l, msg + off, pub);

	gm_hdrlist_clear(&l);
	return r;
}

static void
check_folding(const char *value)
{
	const char *line = value;
	size_t col = strlen("DKIM-Signature:");

	assert_int_equal(value[0], ' ');
	for (;;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		assert_true(col + len <= GH_DKIM_FOLD_WIDTH);
		assert_null(memchr(line, '\r', len));
		if (nl == NULL)
			break;
		assert_int_equal(nl[1], '\t');
		line = nl + 1;
		col = 0;
	}
}

/* ---- RFC 8463 known answers ---- */

static void
rfc8463(const char *pem, const char *txt, const char *sigvalue,
    const char *b)
{
	struct gh_dkim_key *k = key_from(pem);
	struct gm_hdrlist l;
	struct gm_body_canon *bc = NULL;
	size_t off = parse(rfc_msg, &l);
	unsigned char digest[GH_SHA256_LEN];
	unsigned char sig[GH_DKIM_SIG_MAX];
	size_t siglen = 0;
	char out[GH_B64_ENC_LEN(GH_DKIM_SIG_MAX)];
	char rec[GH_DKIM_TXT_MAX];

	assert_int_equal(l.n, 5);
	assert_int_equal(gh_dkim_key_txt(k, rec, sizeof(rec), NULL), GH_OK);
	assert_string_equal(rec, txt);

	assert_int_equal(gm_body_canon_new(GH_CANON_RELAXED, &bc), GH_OK);
	assert_int_equal(gm_body_canon_update(bc, rfc_msg + off,
	    strlen(rfc_msg + off)), GH_OK);
	assert_int_equal(gm_body_canon_final(bc, digest), GH_OK);
	gm_body_canon_free(bc);
	b64_of(digest, sizeof(digest), out, sizeof(out));
	assert_string_equal(out, rfc_bh);

	assert_int_equal(gm_dkim_header_digest(GH_CANON_RELAXED, &l, rfc_h, 8,
	    "DKIM-Signature", sigvalue, strlen(sigvalue), digest), GH_OK);
	assert_int_equal(gh_dkim_key_sign(k, digest, sig, &siglen), GH_OK);
	b64_of(sig, siglen, out, sizeof(out));
	assert_string_equal(out, b);

	gm_hdrlist_clear(&l);
	gh_dkim_key_free(k);
}

static void
test_rfc8463_ed25519(void **state)
{
	struct gh_dkim_key *k = key_from(ed_pem);

	(void)state;
	assert_int_equal(gh_dkim_key_alg(k), GH_DKIM_ED25519_SHA256);
	assert_int_equal(gh_dkim_key_bits(k), 256);
	gh_dkim_key_free(k);
	rfc8463(ed_pem, ed_txt, rfc_ed_sig, rfc_ed_b);
}

static void
test_rfc8463_rsa(void **state)
{
	struct gh_dkim_key *k = key_from(rsa_pem);

	(void)state;
	assert_int_equal(gh_dkim_key_alg(k), GH_DKIM_RSA_SHA256);
	assert_int_equal(gh_dkim_key_bits(k), 1024);
	gh_dkim_key_free(k);
	rfc8463(rsa_pem, rsa_txt, rfc_rsa_sig, rfc_rsa_b);
}

/* A key's life by its retire time, the grace period and the clock. */
static void
test_key_state(void **state)
{
	int64_t until = -1;

	(void)state;
	assert_int_equal(gh_dkim_key_state_at(0, 100, 5000, &until),
	                 GH_DKIM_KEY_ACTIVE);
	assert_int_equal(until, 0);
	/* retire_at is the first second it no longer signs */
	assert_int_equal(gh_dkim_key_state_at(1000, 100, 999, &until),
	                 GH_DKIM_KEY_RETIRING);
	assert_int_equal(until, 1100);
	assert_int_equal(gh_dkim_key_state_at(1000, 100, 1000, NULL),
	                 GH_DKIM_KEY_RETIRED);
	assert_int_equal(gh_dkim_key_state_at(1000, 100, 1099, NULL),
	                 GH_DKIM_KEY_RETIRED);
	/* retire_at + grace is the first second the record may go */
	assert_int_equal(gh_dkim_key_state_at(1000, 100, 1100, NULL),
	                 GH_DKIM_KEY_REMOVABLE);
	/* no grace (or a negative one): removable at once */
	assert_int_equal(gh_dkim_key_state_at(1000, 0, 1000, &until),
	                 GH_DKIM_KEY_REMOVABLE);
	assert_int_equal(until, 1000);
	assert_int_equal(gh_dkim_key_state_at(1000, -5, 1000, NULL),
	                 GH_DKIM_KEY_REMOVABLE);
	/* no overflow near the end of time */
	assert_int_equal(gh_dkim_key_state_at(INT64_MAX - 10, 100, 0, &until),
	                 GH_DKIM_KEY_RETIRING);
	assert_true(until == INT64_MAX);
	assert_string_equal(gh_dkim_key_state_name(GH_DKIM_KEY_ACTIVE),
	                    "active");
	assert_string_equal(gh_dkim_key_state_name(GH_DKIM_KEY_RETIRING),
	                    "retiring");
	assert_string_equal(gh_dkim_key_state_name(GH_DKIM_KEY_RETIRED),
	                    "retired");
	assert_string_equal(gh_dkim_key_state_name(GH_DKIM_KEY_REMOVABLE),
	                    "removable");
}

/* The published signed message verifies with our verifier too. */
static void
test_rfc8463_verify_published(void **state)
{
	EVP_PKEY *ed = pkey_from(ed_pem);
	EVP_PKEY *rsa = pkey_from(rsa_pem);
	char value[1024];

	(void)state;
	snprintf(value, sizeof(value), "%s%s", rfc_ed_sig, rfc_ed_b);
	assert_int_equal(verify_msg(value, rfc_msg, ed), 0);
	snprintf(value, sizeof(value), "%s%s", rfc_rsa_sig, rfc_rsa_b);
	assert_int_equal(verify_msg(value, rfc_msg, rsa), 0);
	/* and does not with the other key */
	assert_int_equal(verify_msg(value, rfc_msg, ed), 2);
	snprintf(value, sizeof(value), "%s%s", rfc_ed_sig, rfc_ed_b);
	value[strlen(value) - 5] ^= 1;
	assert_int_equal(verify_msg(value, rfc_msg, ed), 2);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
}

/* ---- keys ---- */

static char *
pem_of(EVP_PKEY *p, int encrypt)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	char *out;

	assert_non_null(bio);
	if (encrypt)
		assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, p,
		    EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"secret"), 1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(bio, p, NULL, NULL, 0,
		    NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(bio);
	return out;
}

static gh_err
load_pem(const char *pem, char *detail, size_t detailsz)
{
	struct gh_dkim_key *k = NULL;
	gh_err err = gh_dkim_key_from_pem(pem, strlen(pem), &k, detail,
	    detailsz);

	if (err == GH_OK)
		assert_non_null(k);
	else
		assert_null(k);
	gh_dkim_key_free(k);
	return err;
}

static void
test_key_errors(void **state)
{
	char detail[256];
	EVP_PKEY *p;
	char *pem;

	(void)state;
	assert_int_equal(load_pem("not a key", detail, sizeof(detail)),
	    GH_EINVAL);
	assert_non_null(strstr(detail, "PEM"));

	p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(p);
	pem = pem_of(p, 0);
	assert_int_equal(load_pem(pem, detail, sizeof(detail)), GH_EINVAL);
	assert_non_null(strstr(detail, "neither RSA nor Ed25519"));
	free(pem);
	EVP_PKEY_free(p);

	p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	assert_non_null(p);
	pem = pem_of(p, 0);
	assert_int_equal(load_pem(pem, detail, sizeof(detail)), GH_EINVAL);
	assert_non_null(strstr(detail, "512 bits"));
	free(pem);
	EVP_PKEY_free(p);

	/* Encrypted: refused, never prompted for. */
	p = pkey_from(ed_pem);
	pem = pem_of(p, 1);
	assert_non_null(strstr(pem, "ENCRYPTED"));
	assert_int_equal(load_pem(pem, detail, sizeof(detail)), GH_EINVAL);
	free(pem);
	EVP_PKEY_free(p);

	/* A public key is not a private key. */
	assert_int_equal(load_pem("-----BEGIN PUBLIC KEY-----\n"
	    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
	    "-----END PUBLIC KEY-----\n", NULL, 0), GH_EINVAL);
}

static void
test_key_files(void **state)
{
	char path[] = "/tmp/test_dkim_keyXXXXXX";
	struct gh_dkim_key *k = NULL;
	char detail[256] = "";
	char *big;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(gh_dkim_key_load("/nonexistent/dkim.pem", &k, detail,
	    sizeof(detail)), GH_ENOTFOUND);
	assert_null(k);
	assert_non_null(strstr(detail, "/nonexistent/dkim.pem"));
	assert_int_equal(gh_dkim_key_load("/tmp", &k, detail, sizeof(detail)),
	    GH_EINVAL);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(rsa_pem, f);
	fclose(f);
	assert_int_equal(gh_dkim_key_load(path, &k, detail, sizeof(detail)),
	    GH_OK);
	assert_int_equal(gh_dkim_key_alg(k), GH_DKIM_RSA_SHA256);
	gh_dkim_key_free(k);
	k = NULL;

	/* Too large. */
	big = malloc(GH_DKIM_KEY_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', GH_DKIM_KEY_FILE_MAX + 1);
	big[GH_DKIM_KEY_FILE_MAX + 1] = '\0';
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(big, f);
	fclose(f);
	assert_int_equal(gh_dkim_key_load(path, &k, detail, sizeof(detail)),
	    GH_ETOOBIG);
	assert_int_equal(gh_dkim_key_from_pem(big, strlen(big), &k, NULL, 0),
	    GH_ETOOBIG);
	free(big);
	unlink(path);
}

/* ---- signing sessions ---- */

static const char msg1[] =
    "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "From: \"J. Doe\" <jd@example.com>\r\n"
    "To: a@example.net,\r\n"
    "\tb@example.net\r\n"
    "Subject:   Hello    there \t\r\n"
    "To: c@example.net\r\n"
    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "X-Unsigned: yes\r\n"
    "\r\n"
    "Hello  \r\n"
    "\r\n"
    ".dot line\r\n"
    "\r\n"
    "\r\n";

static struct gm_dkim_sign_opts
opts(const struct gh_dkim_key *k, gm_canon hc, gm_canon bc)
{
	struct gm_dkim_sign_opts o;

	memset(&o, 0, sizeof(o));
	o.key = k;
	o.domain = "example.com";
	o.selector = "sel-1";
	o.hdr_canon = hc;
	o.body_canon = bc;
	o.t = 1700000000;
	o.x = 0;
	return o;
}

static char *
sign_msg(const struct gm_dkim_sign_opts *o, size_t n, const char *msg,
    size_t csize, size_t which)
{
	struct gm_dkim_msg *m = NULL;
	char *v;

	assert_int_equal(gm_dkim_msg_new(o, n, &m), GH_OK);
	feed(m, msg, csize);
	assert_null(gm_dkim_msg_value(m, 0));
	assert_int_equal(gm_dkim_msg_finish(m), GH_OK);
	assert_int_equal(gm_dkim_msg_nsigs(m), n);
	assert_null(gm_dkim_msg_value(m, n));
	v = strdup(gm_dkim_msg_value(m, which));
	assert_non_null(v);
	gm_dkim_msg_free(m);
	return v;
}

static void
test_sign_roundtrip(void **state)
{
	const char *pems[2] = {rsa_pem, ed_pem};
	int k;
	int hc;
	int bc;

	(void)state;
	for (k = 0; k < 2; k++) {
		struct gh_dkim_key *key = key_from(pems[k]);
		EVP_PKEY *pub = pkey_from(pems[k]);

		for (hc = 0; hc < 2; hc++) {
			for (bc = 0; bc < 2; bc++) {
				struct gm_dkim_sign_opts o = opts(key,
				    (gm_canon)hc, (gm_canon)bc);
				char *v = sign_msg(&o, 1, msg1, 7, 0);
				char h[1024];
				char want[64];

				check_folding(v);
				assert_int_equal(verify_msg(v, msg1, pub), 0);
				tag(v, "h", h, sizeof(h));
				/* Present fields, duplicates, oversigning,
				 * in the default list's order. */
				assert_string_equal(h, "From:From:Subject:"
				    "Subject:Date:Date:To:To:To:"
				    "List-Unsubscribe:List-Unsubscribe-Post");
				tag(v, "a", h, sizeof(h));
				assert_string_equal(h, k ? "ed25519-sha256" :
				    "rsa-sha256");
				tag(v, "c", h, sizeof(h));
				snprintf(want, sizeof(want), "%s/%s",
				    gm_canon_name((gm_canon)hc),
				    gm_canon_name((gm_canon)bc));
				assert_string_equal(h, want);
				tag(v, "t", h, sizeof(h));
				assert_string_equal(h, "1700000000");
				tag(v, "d", h, sizeof(h));
				assert_string_equal(h, "example.com");
				tag(v, "s", h, sizeof(h));
				assert_string_equal(h, "sel-1");
				assert_null(strstr(v, "x="));
				free(v);
			}
		}
		EVP_PKEY_free(pub);
		gh_dkim_key_free(key);
	}
}

/* The same message, any body chunking, gives the same signature. */
static void
test_sign_chunking(void **state)
{
	struct gh_dkim_key *key = key_from(ed_pem);
	struct gm_dkim_sign_opts o = opts(key, GH_CANON_RELAXED,
	    GH_CANON_RELAXED);
	char *ref = sign_msg(&o, 1, msg1, 100000, 0);
	size_t c;

	(void)state;
	for (c = 1; c < 40; c++) {
		char *v = sign_msg(&o, 1, msg1, c, 0);

		assert_string_equal(v, ref);
		free(v);
	}
	free(ref);
	gh_dkim_key_free(key);
}

static void
test_dual_sign(void **state)
{
	struct gh_dkim_key *rsa = key_from(rsa_pem);
	struct gh_dkim_key *ed = key_from(ed_pem);
	EVP_PKEY *rsapub = pkey_from(rsa_pem);
	EVP_PKEY *edpub = pkey_from(ed_pem);
	struct gm_dkim_sign_opts o[3];
	char *v;

	(void)state;
	o[0] = opts(rsa, GH_CANON_RELAXED, GH_CANON_RELAXED);
	o[1] = opts(ed, GH_CANON_SIMPLE, GH_CANON_SIMPLE);
	o[1].selector = "ed";
	o[2] = opts(ed, GH_CANON_RELAXED, GH_CANON_SIMPLE);
	o[2].x = 1700086400;
	v = sign_msg(o, 3, msg1, 5, 0);
	assert_int_equal(verify_msg(v, msg1, rsapub), 0);
	assert_int_equal(verify_msg(v, msg1, edpub), 2);
	free(v);
	v = sign_msg(o, 3, msg1, 5, 1);
	assert_int_equal(verify_msg(v, msg1, edpub), 0);
	assert_non_null(strstr(v, "s=ed;"));
	free(v);
	v = sign_msg(o, 3, msg1, 5, 2);
	assert_int_equal(verify_msg(v, msg1, edpub), 0);
	assert_non_null(strstr(v, "x=1700086400;"));
	free(v);
	EVP_PKEY_free(rsapub);
	EVP_PKEY_free(edpub);
	gh_dkim_key_free(rsa);
	gh_dkim_key_free(ed);
}

/* Insert line before the first line of msg that starts with at. */
static char *
insert_line(const char *msg, const char *at, const char *line)
{
	const char *p = strstr(msg, at);
	size_t n = strlen(msg) + strlen(line) + 1;
	char *out = malloc(n);

	assert_non_null(p);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(p - msg), msg, line, p);
	return out;
}

/* Oversigned names cannot be added; others can; the body is covered. */
static void
test_oversign_and_tamper(void **state)
{
	struct gh_dkim_key *key = key_from(ed_pem);
	EVP_PKEY *pub = pkey_from(ed_pem);
	int hc;

	(void)state;
	for (hc = 0; hc < 2; hc++) {
		struct gm_dkim_sign_opts o = opts(key, (gm_canon)hc,
		    GH_CANON_RELAXED);
		char *v = sign_msg(&o, 1, msg1, 64, 0);
		char *t;

		t = insert_line(msg1, "\r\n\r\n", "\r\nFrom: evil@example.org");
		assert_int_equal(verify_msg(v, t, pub), 2);
		free(t);
		t = insert_line(msg1, "From:", "From: evil@example.org\r\n");
		assert_int_equal(verify_msg(v, t, pub), 2);
		free(t);
		t = insert_line(msg1, "\r\n\r\n", "\r\nSubject: buy now");
		assert_int_equal(verify_msg(v, t, pub), 2);
		free(t);
		t = insert_line(msg1, "\r\n\r\n",
		    "\r\nList-Unsubscribe: <https://evil.example/>");
		assert_int_equal(verify_msg(v, t, pub), 2);
		free(t);
		/* Not signed: may be added. */
		t = insert_line(msg1, "\r\n\r\n", "\r\nX-Added: fine");
		assert_int_equal(verify_msg(v, t, pub), 0);
		free(t);
		t = insert_line(msg1, "Received:", "Received: another\r\n");
		assert_int_equal(verify_msg(v, t, pub), 0);
		free(t);
		/* Body changes. */
		t = insert_line(msg1, ".dot", "x");
		assert_int_equal(verify_msg(v, t, pub), 1);
		free(t);
		/* Relaxed forgives whitespace changes in the body. */
		t = insert_line(msg1, "\r\n\r\n.dot", " \t ");
		assert_int_equal(verify_msg(v, t, pub), 0);
		free(t);
		free(v);
	}
	EVP_PKEY_free(pub);
	gh_dkim_key_free(key);
}

static void
test_custom_lists(void **state)
{
	struct gh_dkim_key *key = key_from(ed_pem);
	EVP_PKEY *pub = pkey_from(ed_pem);
	const char *sign[] = {"from", "x-unsigned", "received", "x-absent"};
	struct gm_dkim_sign_opts o = opts(key, GH_CANON_SIMPLE,
	    GH_CANON_SIMPLE);
	char h[256];
	char *v;

	(void)state;
	o.headers = sign;
	o.nheaders = 4;
	o.oversign = sign;
	o.noversign = 0;	/* explicitly none */
	v = sign_msg(&o, 1, msg1, 9, 0);
	tag(v, "h", h, sizeof(h));
	assert_string_equal(h, "from:x-unsigned:received");
	assert_int_equal(verify_msg(v, msg1, pub), 0);
	free(v);
	EVP_PKEY_free(pub);
	gh_dkim_key_free(key);
}

/* Many signed fields: h= folds, every line stays short, still verifies. */
static void
test_long_h(void **state)
{
	struct gh_dkim_key *key = key_from(rsa_pem);
	EVP_PKEY *pub = pkey_from(rsa_pem);
	struct gm_dkim_sign_opts o = opts(key, GH_CANON_SIMPLE,
	    GH_CANON_RELAXED);
	char msg[8192];
	size_t n = 0;
	int i;
	char *v;

	(void)state;
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "From: a@example.com\r\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n,
		    "To: user%d@example.net\r\n", i);
	snprintf(msg + n, sizeof(msg) - n, "\r\nbody\r\n");
	v = sign_msg(&o, 1, msg, 1000, 0);
	check_folding(v);
	assert_int_equal(verify_msg(v, msg, pub), 0);
	free(v);
	EVP_PKEY_free(pub);
	gh_dkim_key_free(key);
}

static void
test_sticky_errors(void **state)
{
	struct gh_dkim_key *key = key_from(ed_pem);
	struct gm_dkim_sign_opts o = opts(key, GH_CANON_RELAXED,
	    GH_CANON_SIMPLE);
	struct gm_dkim_msg *m = NULL;
	char *big = malloc(GH_HDR_MAX_FIELD + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', GH_HDR_MAX_FIELD);
	big[GH_HDR_MAX_FIELD] = '\0';

	assert_int_equal(gm_dkim_msg_new(&o, 1, &m), GH_OK);
	assert_int_equal(gm_dkim_msg_header(m, "From", " a@example.com"),
	    GH_OK);
	assert_int_equal(gm_dkim_msg_header(m, "Subject", big), GH_ETOOBIG);
	assert_int_equal(gm_dkim_msg_header(m, "To", " x"), GH_ETOOBIG);
	assert_int_equal(gm_dkim_msg_body(m, "x\r\n", 3), GH_ETOOBIG);
	assert_int_equal(gm_dkim_msg_finish(m), GH_ETOOBIG);
	assert_null(gm_dkim_msg_value(m, 0));
	gm_dkim_msg_free(m);

	/* A message without From cannot be signed. */
	assert_int_equal(gm_dkim_msg_new(&o, 1, &m), GH_OK);
	assert_int_equal(gm_dkim_msg_header(m, "To", " x"), GH_OK);
	assert_int_equal(gm_dkim_msg_body(m, "x\r\n", 3), GH_OK);
	assert_int_equal(gm_dkim_msg_finish(m), GH_EINVAL);
	assert_null(gm_dkim_msg_value(m, 0));
	assert_int_equal(gm_dkim_msg_finish(m), GH_EINVAL);
	gm_dkim_msg_free(m);

	/* Headers the milter adds at eom, after the body, are signed. */
	assert_int_equal(gm_dkim_msg_new(&o, 1, &m), GH_OK);
	assert_int_equal(gm_dkim_msg_body(m, "x\r\n", 3), GH_OK);
	assert_int_equal(gm_dkim_msg_header(m, "From", " a@example.com"),
	    GH_OK);
	assert_int_equal(gm_dkim_msg_finish(m), GH_OK);
	assert_non_null(gm_dkim_msg_value(m, 0));
	assert_int_equal(gm_dkim_msg_header(m, "To", " x"), GH_EINVAL);
	assert_int_equal(gm_dkim_msg_body(m, "x", 1), GH_EINVAL);
	gm_dkim_msg_free(m);
	gm_dkim_msg_free(NULL);
	free(big);
	gh_dkim_key_free(key);
}

static void
test_new_errors(void **state)
{
	struct gh_dkim_key *key = key_from(ed_pem);
	struct gm_dkim_sign_opts o[GH_DKIM_MAX_SIGS + 1];
	struct gm_dkim_msg *m = NULL;
	const char *badname[] = {"From", "Bad Name"};
	size_t i;

	(void)state;
	for (i = 0; i <= GH_DKIM_MAX_SIGS; i++)
		o[i] = opts(key, GH_CANON_RELAXED, GH_CANON_RELAXED);
	assert_int_equal(gm_dkim_msg_new(o, GH_DKIM_MAX_SIGS + 1, &m),
	    GH_EINVAL);
	assert_null(m);
	assert_int_equal(gm_dkim_msg_new(NULL, 1, &m), GH_EINVAL);
	assert_int_equal(gm_dkim_msg_new(o, GH_DKIM_MAX_SIGS, &m), GH_OK);
	assert_int_equal(gm_dkim_msg_add_sig(m, &o[0]), GH_EINVAL);
	assert_int_equal(gm_dkim_msg_nsigs(m), GH_DKIM_MAX_SIGS);
	gm_dkim_msg_free(m);
	m = NULL;
	/* Nothing to sign: finish refuses. */
	assert_int_equal(gm_dkim_msg_new(NULL, 0, &m), GH_OK);
	assert_int_equal(gm_dkim_msg_header(m, "From", " a@example.com"),
	    GH_OK);
	assert_int_equal(gm_dkim_msg_finish(m), GH_EINVAL);
	gm_dkim_msg_free(m);
	m = NULL;

	o[0].domain = "exa mple.com";
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	assert_null(m);
	o[0].domain = "example.com;";
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].domain = ".example.com";
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].domain = "example.com";
	o[0].selector = "";
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].selector = "s";
	o[0].x = o[0].t;
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].x = 0;
	o[0].key = NULL;
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].key = key;
	o[0].hdr_canon = (gm_canon)7;
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].hdr_canon = GH_CANON_SIMPLE;

	/* Bad configured names are refused up front. */
	o[0].headers = badname;
	o[0].nheaders = 2;
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].nheaders = 1;
	o[0].oversign = badname + 1;
	o[0].noversign = 1;
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_EINVAL);
	o[0].noversign = 0;
	assert_int_equal(gm_dkim_msg_new(o, 1, &m), GH_OK);
	gm_dkim_msg_free(m);
	gh_dkim_key_free(key);
}

/* Signatures chosen at end of headers, as the milter does at xxfi_eoh. */
static void
test_add_sig_after_headers(void **state)
{
	struct gh_dkim_key *rsa = key_from(rsa_pem);
	struct gh_dkim_key *ed = key_from(ed_pem);
	EVP_PKEY *rsapub = pkey_from(rsa_pem);
	EVP_PKEY *edpub = pkey_from(ed_pem);
	struct gm_dkim_sign_opts o[2];
	struct gm_dkim_msg *m = NULL;
	struct gm_hdrlist l;
	size_t off = parse(msg1, &l);
	size_t i;

	(void)state;
	o[0] = opts(rsa, GH_CANON_RELAXED, GH_CANON_SIMPLE);
	o[1] = opts(ed, GH_CANON_SIMPLE, GH_CANON_RELAXED);
	assert_int_equal(gm_dkim_msg_new(NULL, 0, &m), GH_OK);
	for (i = 0; i < l.n; i++)
		assert_int_equal(gm_dkim_msg_header(m, l.v[i].name,
		    l.v[i].value), GH_OK);
	gm_hdrlist_clear(&l);
	o[1].domain = "bad domain";
	assert_int_equal(gm_dkim_msg_add_sig(m, &o[1]), GH_EINVAL);
	assert_int_equal(gm_dkim_msg_nsigs(m), 0);
	o[1].domain = "example.com";
	assert_int_equal(gm_dkim_msg_add_sig(m, &o[0]), GH_OK);
	assert_int_equal(gm_dkim_msg_add_sig(m, &o[1]), GH_OK);
	assert_int_equal(gm_dkim_msg_body(m, msg1 + off, strlen(msg1 + off)),
	    GH_OK);
	assert_int_equal(gm_dkim_msg_add_sig(m, &o[1]), GH_EINVAL);
	assert_int_equal(gm_dkim_msg_finish(m), GH_OK);
	assert_int_equal(gm_dkim_msg_nsigs(m), 2);
	assert_int_equal(verify_msg(gm_dkim_msg_value(m, 0), msg1, rsapub), 0);
	assert_int_equal(verify_msg(gm_dkim_msg_value(m, 1), msg1, edpub), 0);
	gm_dkim_msg_free(m);
	EVP_PKEY_free(rsapub);
	EVP_PKEY_free(edpub);
	gh_dkim_key_free(rsa);
	gh_dkim_key_free(ed);
}

/* t < 0 leaves t= out; value layout is stable. */
static void
test_no_t(void **state)
{
	struct gh_dkim_key *key = key_from(ed_pem);
	EVP_PKEY *pub = pkey_from(ed_pem);
	struct gm_dkim_sign_opts o = opts(key, GH_CANON_RELAXED,
	    GH_CANON_RELAXED);
	char *v;

	(void)state;
	o.t = -1;
	v = sign_msg(&o, 1, rfc_msg, 10, 0);
	assert_null(strstr(v, "t="));
	{
		static const char layout[] =
		    " v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\n"
		    "\ts=sel-1; h=From:From:Subject:Subject:Date:Date:To:To:"
		    "Message-ID:\n"
		    "\tList-Unsubscribe:List-Unsubscribe-Post;\n"
		    "\tbh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=";

		assert_int_equal(strncmp(v, layout, strlen(layout)), 0);
	}
	assert_int_equal(verify_msg(v, rfc_msg, pub), 0);
	free(v);
	EVP_PKEY_free(pub);
	gh_dkim_key_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_state),
		cmocka_unit_test(test_rfc8463_ed25519),
		cmocka_unit_test(test_rfc8463_rsa),
		cmocka_unit_test(test_rfc8463_verify_published),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_sign_chunking),
		cmocka_unit_test(test_dual_sign),
		cmocka_unit_test(test_oversign_and_tamper),
		cmocka_unit_test(test_custom_lists),
		cmocka_unit_test(test_long_h),
		cmocka_unit_test(test_sticky_errors),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_add_sig_after_headers),
		cmocka_unit_test(test_no_t),
	};

	return cmocka_run_group_tests_name("dkim", tests, NULL, NULL);
}
