/*
 * gatehouse/dkimkey.h - DKIM private keys: loading, type and size, the DNS
 * record that publishes them, signing.  gatehouse-milter signs with them;
 * `gatehouse dkim` and `gatehouse dns records` print their records.
 *
 * A key is an RSA (1024 to 4096 bits, a=rsa-sha256) or Ed25519
 * (a=ed25519-sha256, RFC 8463) private key read from a PEM file (PKCS#8
 * "PRIVATE KEY" or traditional "RSA PRIVATE KEY"; encrypted keys are
 * refused, never prompted for).  The type decides the algorithm.
 *
 * Both algorithms sign the SHA-256 digest of the canonicalized header data:
 * RSA as PKCS#1 v1.5 over that digest (EMSA-PKCS1-v1_5 with the SHA-256
 * DigestInfo), Ed25519 as PureEdDSA over the 32 digest bytes, exactly as
 * RFC 8463 section 3 says.  Both are deterministic.
 *
 * Memory and threads: a loaded key is immutable.  One key may be used by any
 * number of threads at once (each signing call makes its own OpenSSL
 * context).  Whoever loaded it frees it, after every user is done: the
 * milter keeps keys in its pinned configuration, which outlives every
 * message signed with it.
 *
 * A key's life (gh_dkim_key_state_at): it signs while active and, once
 * given a retire time, until that time; then it signs no more, but its DNS
 * record stays published for a grace period ([dkim] retire_grace), because
 * mail it signed just before may still be in transit or be verified again
 * later; after that the record may be removed.  Every state is a function
 * of the retire time and the clock, evaluated whenever keys are read: no
 * command has to run for a key to move on.
 */
#ifndef GATEHOUSE_DKIMKEY_H
#define GATEHOUSE_DKIMKEY_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_DKIM_RSA_MIN_BITS 1024
#define GH_DKIM_RSA_MAX_BITS 4096
/* A PEM file larger than this is refused. */
#define GH_DKIM_KEY_FILE_MAX (64 * 1024)
/* Bytes of the largest signature. */
#define GH_DKIM_SIG_MAX (GH_DKIM_RSA_MAX_BITS / 8)
/* Room for the longest DNS record text: "v=DKIM1; k=rsa; p=" + base64 of a
 * 4096-bit SubjectPublicKeyInfo (550 bytes). */
#define GH_DKIM_TXT_MAX 800

typedef enum gh_dkim_alg {
	GH_DKIM_RSA_SHA256 = 0,
	GH_DKIM_ED25519_SHA256 = 1
} gh_dkim_alg;

struct gh_dkim_key;

/* Where a key is in its life at a given time (gh_dkim_key_state_at). */
typedef enum gh_dkim_key_state {
	GH_DKIM_KEY_ACTIVE = 0,    /* no retire time: signs; publish it */
	GH_DKIM_KEY_RETIRING = 1,  /* signs until its retire time; publish */
	GH_DKIM_KEY_RETIRED = 2,   /* signs no more; keep its record published
	                            * until retire time + grace */
	GH_DKIM_KEY_REMOVABLE = 3  /* grace over: the record may be removed,
	                            * the key archived */
} gh_dkim_key_state;

/* The default of [dkim] retire_grace, seconds: a week covers a message's
 * longest life in a queue (Postfix bounces after 5 days) and a day more. */
#define GH_DKIM_RETIRE_GRACE_DEFAULT (7 * 86400)

/* gh_dkim_alg_name - the a= value: "rsa-sha256" or "ed25519-sha256". */
const char *gh_dkim_alg_name(gh_dkim_alg alg);

/*
 * gh_dkim_key_load - read a PEM private key file.  On GH_OK *out is a new key
 * the caller frees with gh_dkim_key_free().  Errors: GH_ENOTFOUND (no such
 * file), GH_EACCES (also a symbolic link: the file is opened as
 * gatehouse/file.h says), GH_EIO, GH_ETOOBIG (file over GH_DKIM_KEY_FILE_MAX),
 * GH_EINVAL (not a regular file, not a PEM private key, encrypted, a type
 * other than RSA or Ed25519, or an RSA size outside 1024..4096 bits).  When
 * detail is not NULL it receives a one-line English reason naming the file
 * (never key bytes).
 */
gh_err gh_dkim_key_load(const char *path, struct gh_dkim_key **out,
                        char *detail, size_t detail_len);

/* gh_dkim_key_from_pem - the same from a PEM text of len bytes in memory;
 * detail names it "key". */
gh_err gh_dkim_key_from_pem(const char *pem, size_t len,
                            struct gh_dkim_key **out, char *detail,
                            size_t detail_len);

/* gh_dkim_key_free - free a key; NULL is allowed. */
void gh_dkim_key_free(struct gh_dkim_key *key);

/* gh_dkim_key_alg - the algorithm the key signs with, from its type. */
gh_dkim_alg gh_dkim_key_alg(const struct gh_dkim_key *key);

/* gh_dkim_key_bits - modulus size for RSA, 256 for Ed25519. */
unsigned gh_dkim_key_bits(const struct gh_dkim_key *key);

/*
 * gh_dkim_key_txt - the DNS TXT record text to publish at
 * SELECTOR._domainkey.DOMAIN: "v=DKIM1; k=rsa; p=<base64 DER
 * SubjectPublicKeyInfo>" (RFC 6376 section 3.6.1) or "v=DKIM1; k=ed25519;
 * p=<base64 of the raw 32-byte public key>" (RFC 8463 section 4).
 * NUL-terminated in buf; *len (may be NULL) gets its length.  GH_ETOOBIG if
 * bufsz is too small (GH_DKIM_TXT_MAX always suffices), GH_EIO if OpenSSL
 * fails.  A TXT string holds at most 255 bytes: whoever writes a zone file
 * splits it.
 */
gh_err gh_dkim_key_txt(const struct gh_dkim_key *key, char *buf, size_t bufsz,
                       size_t *len);

/*
 * gh_dkim_key_sign - sign a 32-byte SHA-256 digest.  sig must have room for
 * GH_DKIM_SIG_MAX bytes; *siglen gets the signature's length.  GH_EIO if
 * OpenSSL fails, GH_ENOMEM.
 */
gh_err gh_dkim_key_sign(const struct gh_dkim_key *key,
                        const unsigned char digest[32], unsigned char *sig,
                        size_t *siglen);

/*
 * gh_dkim_key_state_at - the state of a key whose retire time is retire_at
 * (seconds since the epoch; 0: none) at time now (seconds), when retired
 * keys stay published grace_s seconds (negative counts as 0).  retire_at
 * itself is the first second the key no longer signs; retire_at + grace_s
 * the first second its record may be removed.  When keep_until is not NULL
 * it gets retire_at + grace_s (saturating at INT64_MAX), or 0 for an
 * active key.  Pure arithmetic: no I/O, any thread.
 */
gh_dkim_key_state gh_dkim_key_state_at(int64_t retire_at, int64_t grace_s,
                                       int64_t now, int64_t *keep_until);

/* gh_dkim_key_state_name - "active", "retiring", "retired" or
 * "removable": the words `gatehouse dkim list --json` prints.  Static
 * storage. */
const char *gh_dkim_key_state_name(gh_dkim_key_state st);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_DKIMKEY_H */
