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
 * Keys come from a master key file (every purpose) or from a purpose key
 * file holding only some derived keys: the web domain gets the keys it
 * verifies, the mail domain the one it signs with, neither the master
 * (docs/security.md, rule 8).
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
#define GH_TOKEN_PURPOSE_KEY 32   /* bytes of a derived (purpose) key */
#define GH_TOKEN_PURPOSES 2       /* purposes 1..GH_TOKEN_PURPOSES */
#define GH_TOKEN_FILE_MAX 4096    /* longest key file */

enum gh_token_purpose {
	GH_TOKEN_UNSUBSCRIBE = 1,     /* fields: recipient, list */
	GH_TOKEN_DOWNLOAD = 2         /* fields: upload id, user */
};

/* The bit of purpose p in a mask of purposes. */
#define GH_TOKEN_BIT(p) (1u << (unsigned)(p))

/*
 * A key.  k/len is the master (len 0 when the key came from a purpose
 * file); pk[p - 1] is the derived key of purpose p when GH_TOKEN_BIT(p) is
 * set in purposes.  gh_token_key_load() fills pk for every purpose of a
 * master; a key built by hand with only k and len (purposes 0) derives
 * each purpose's key when it is used.  Zero the struct before filling it.
 */
struct gh_token_key {
	unsigned char k[GH_TOKEN_KEY_MAX];
	size_t len;
	unsigned purposes;
	unsigned char pk[GH_TOKEN_PURPOSES][GH_TOKEN_PURPOSE_KEY];
};

struct gh_token {
	enum gh_token_purpose purpose;
	int64_t expires;              /* seconds since the epoch */
	size_t nfields;
	char field[GH_TOKEN_FIELDS_MAX][GH_TOKEN_FIELD_MAX + 1];
};

/*
 * gh_token_key_load - read a key file, either
 *   - a master key file: 64 to 128 hex digits (32 to 64 bytes), optionally
 *     followed by a newline, as `gatehouse tokens keygen` writes it (or
 *     `openssl rand -hex 32`); the key then has every purpose, its derived
 *     keys computed here; or
 *   - a purpose key file (docs/tokens.md): lines "PURPOSE HEX" with
 *     PURPOSE "unsubscribe" or "download" and HEX the 64 hex digits of its
 *     derived key, "PURPOSE.previous HEX" for the key before a rotation,
 *     blank lines and lines starting with '#'.  The key gets the purposes
 *     of the lines without ".previous"; there must be at least one.
 * detail receives the reason on failure (a bad line by its number).
 * GH_ENOTFOUND, GH_EACCES (also a symbolic link: opened as gatehouse/file.h
 * says), GH_EINVAL (not a key file), GH_EIO.
 */
gh_err gh_token_key_load(const char *path, struct gh_token_key *key,
                         char *detail, size_t detail_len);

/*
 * gh_token_key_load_previous - the ".previous" keys of a purpose key file,
 * as a key of their own: the second of the keys gh_token_check() tries
 * during a rotation.  GH_ENOTFOUND when the file has none (a master file
 * never has: its previous key is another file), or does not exist; else
 * as gh_token_key_load().
 */
gh_err gh_token_key_load_previous(const char *path, struct gh_token_key *key,
                                  char *detail, size_t detail_len);

/*
 * gh_token_verifier_keys - the keys a verifier of a domain holds, loaded
 * as nginx loads them and `gatehouse config check` checks them: the
 * domain's purpose file (domain_file, [tokens] web_key_file) with its
 * ".previous" keys when it is set, else the master key_file and, when set,
 * previous_key_file.  keys[0] gets the current key, keys[1] the previous
 * one, *n how many (1 or 2).  On failure *which names the [tokens] key
 * whose file failed (domain_key, "key_file" or "previous_key_file") and
 * *path that file, for the caller's message; detail says why.  Empty
 * strings count as unset.
 */
gh_err gh_token_verifier_keys(const char *domain_file, const char *domain_key,
                              const char *key_file, const char *prev_file,
                              struct gh_token_key keys[2], size_t *n,
                              const char **which, const char **path,
                              char *detail, size_t detail_len);

/*
 * gh_token_key_has - whether key can make and check tokens of purpose p.
 */
int gh_token_key_has(const struct gh_token_key *key, enum gh_token_purpose p);

/*
 * gh_token_key_format - the text of a purpose key file holding the
 * purposes in mask (GH_TOKEN_BIT()s) of key, and of prev when prev is not
 * NULL (as ".previous" lines), after a "# " comment line for each line of
 * comment (may be NULL).  Into out (cap bytes, NUL-terminated).
 * GH_EACCES if key (or prev) lacks one of the purposes; GH_EINVAL for an
 * empty or unknown mask; GH_ETOOBIG if out is too small.  The caller
 * should OPENSSL_cleanse() out after use: it holds keys.
 */
gh_err gh_token_key_format(const struct gh_token_key *key,
                           const struct gh_token_key *prev, unsigned mask,
                           const char *comment, char *out, size_t cap);

/*
 * gh_token_make - encode and sign t into out (cap bytes, NUL-terminated).
 * GH_EINVAL for a bad purpose, too many fields, a field too long or
 * holding a NUL, or a key that is no key (neither a master of 32 to 64
 * bytes nor any purpose); GH_EACCES when key lacks t->purpose (a purpose
 * key file without it); GH_ETOOBIG if out is too small.
 */
gh_err gh_token_make(const struct gh_token_key *key, const struct gh_token *t,
                     char *out, size_t cap);

/*
 * gh_token_check - verify token (len characters) for purpose against each
 * of keys[0..nkeys) in turn (the current key, then previous ones during a
 * rotation), and fill out.  The comparison is constant time.
 * Keys lacking the purpose are skipped.
 * Returns GH_OK; GH_EINVAL if it is not a token; GH_EACCES if no key signed
 * it for this purpose (or none has it); GH_EEXPIRED if it is genuine but expired at now
 * (out is filled then, so the caller can say whose link expired).
 */
gh_err gh_token_check(const struct gh_token_key *keys, size_t nkeys,
                      enum gh_token_purpose purpose, const char *token,
                      size_t len, int64_t now, struct gh_token *out);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_TOKEN_H */
