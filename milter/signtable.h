/*
 * signtable.h - which keys sign mail from which domain
 *
 * Two sources, merged:
 *   1. The key directory ([dkim] key_dir, default /etc/gatehouse/dkim),
 *      which `gatehouse dkim keygen` and `gatehouse dkim rotate` manage:
 *
 *        KEY_DIR/DOMAIN/SELECTOR.key      a PEM private key: active
 *        KEY_DIR/DOMAIN/SELECTOR.retire   optional: seconds since the epoch
 *                                         (decimal) after which that key
 *                                         no longer signs
 *        KEY_DIR/DOMAIN/retired/...       ignored by the milter (keys
 *                                         archived by `gatehouse dkim
 *                                         rotate` once their grace
 *                                         period ended)
 *
 *      Every active key of a domain signs, so an RSA and an Ed25519 key
 *      give dual signatures, and during a rotation the old and the new
 *      selector both sign until the old one's retire time.
 *   2. [dkim.NAME] sections (domain, selector, key_file, signing_domain) for
 *      keys kept elsewhere or signing with another d=.
 *
 * A From domain is looked up exactly, then (with [dkim] subdomains) its
 * parent domains in turn: mail From news.example.org uses example.org's
 * keys when news.example.org has none.  d= is the table entry's domain (or
 * its signing_domain), which is the From domain or a parent of it, as
 * DMARC alignment needs.
 *
 * A table is immutable once loaded and owns its keys; the milter's pinned
 * configuration owns the table, so keys outlive every message they sign.
 */
#ifndef GH_MILTER_SIGNTABLE_H
#define GH_MILTER_SIGNTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/conf.h"
#include "gatehouse/dkimkey.h"
#include "gatehouse/err.h"

#define GH_SIGNTABLE_MAX 4096	/* entries in one table */
#define GH_SIGN_PER_DOMAIN 4	/* keys one message is signed with at most */

struct gm_signkey {
	char *domain;		/* the From domain it serves, lower case */
	char *sdid;		/* d= */
	char *selector;		/* s= */
	char *path;		/* the key file, for logs */
	struct gh_dkim_key *key;	/* NULL: retired when the table was
					 * loaded, never read (signs no more) */
	int64_t retire_at;	/* seconds since the epoch; 0: never */
};

struct gm_signtable {
	struct gm_signkey *v;
	size_t n;
};

/*
 * gm_signtable_load - build the table from conf ([dkim] key_dir and
 * [dkim.*]).  A missing key_dir is an empty source, not an error.  Any key
 * that fails to load, a bad name, or a [dkim.NAME] without domain, selector
 * or key_file is GH_ECONFIG (or the key's error) with detail naming it: a
 * half-loaded table would silently stop signing some domain.  A key whose
 * retire time has passed when the table is loaded (the clock, not the last
 * rotate, decides) gets an entry without its key, which is never read: it
 * can sign no more, and an unreadable old file is then no error.  Its DNS
 * record may still be needed ([dkim] retire_grace, `gatehouse dns
 * records`); that is no concern of the milter's.  On GH_OK *out is owned by
 * the caller (gm_signtable_free).
 */
gh_err gm_signtable_load(const struct gh_conf *conf,
    struct gm_signtable **out, char *detail, size_t detail_len);

void gm_signtable_free(struct gm_signtable *t);

/*
 * gm_signtable_find - the keys for a From domain (case-insensitive) that
 * are not retired at now (seconds) and were loaded: up to max entries into
 * out, returning how many; every one returned has a key.  subdomains enables the parent-domain walk described above.
 */
size_t gm_signtable_find(const struct gm_signtable *t, const char *domain,
    int subdomains, int64_t now, const struct gm_signkey **out, size_t max);

/*
 * gm_keydir_scan - visit the keys of one domain directory (KEY_DIR/DOMAIN)
 * as the table does: fn gets the selector, the key file path and the retire
 * time (0: none).  Used by the table and by `gatehouse dkim`.  Returns
 * GH_ENOTFOUND if the directory does not exist, GH_EIO/GH_EACCES on other
 * errors, or the first non-GH_OK value fn returns.
 */
typedef gh_err (*gm_keydir_fn)(const char *selector, const char *path,
    int64_t retire_at, void *arg);
gh_err gm_keydir_scan(const char *domain_dir, gm_keydir_fn fn, void *arg);

/* gm_keydir_read_retire - read a .retire file (gatehouse/file.h: a link is
 * GH_EACCES): GH_OK and *at, GH_ENOTFOUND when absent, GH_EINVAL when it
 * does not hold a number.  `gatehouse dkim` reads it with this too. */
gh_err gm_keydir_read_retire(const char *path, int64_t *at);

#endif /* GH_MILTER_SIGNTABLE_H */
