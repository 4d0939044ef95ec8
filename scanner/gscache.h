/*
 * gscache.h - the verdict cache: a scan's verdict kept in the store
 * (database scan_cache, docs/store.md) under the input's SHA-256 and the
 * engine's key (gscan_engine_key), so that the same bytes seen again with
 * the same signatures, limits and heuristics are answered without a scan,
 * in any worker or process that writes that store and after a restart.
 *
 * Only CLEAN and INFECTED are kept: UNSCANNABLE may be a time limit a
 * quieter machine would not reach, ERROR is no answer at all.  A new
 * signature database (any file of the directory changed, a new daily
 * version in clamd) gives a new engine key, so a verdict of the old
 * signatures is never found for it; the old entries go by [retention]
 * scan_cache.
 *
 * RECORD
 *   key:   SHA-256 of the input (32 bytes) | engine key (32 bytes)
 *   value: version byte 1 | kind byte (0 clean, 1 infected) | reason byte
 *          (0) | be64 scanned_at (ms) | the signature name (0 to
 *          GSCAN_NAME_MAX - 1 bytes, no NUL)
 *
 * The functions take a transaction (gatehouse/store.h): a host reads in a
 * read transaction before scanning and writes in the write transaction
 * that records what it did with the input, so the cache costs no commit
 * of its own.
 */
#ifndef GATEHOUSE_GSCACHE_H
#define GATEHOUSE_GSCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/store.h"
#include "gscan.h"

#define GSCAN_CACHE_KEY_LEN 64
#define GSCAN_CACHE_VAL_MAX (11 + GSCAN_NAME_MAX)

/* gscan_cache_key - the record's key for the input's SHA-256 and the
 * engine key. */
void gscan_cache_key(const unsigned char sha256[32],
    const unsigned char engine_key[GSCAN_KEY_LEN],
    unsigned char out[GSCAN_CACHE_KEY_LEN]);

/* gscan_cacheable - 1 if v is worth keeping (CLEAN, INFECTED). */
int gscan_cacheable(const struct gscan_verdict *v);

/* gscan_cache_encode - v's value into out (GSCAN_CACHE_VAL_MAX bytes);
 * its length, 0 if v is not cacheable. */
size_t gscan_cache_encode(const struct gscan_verdict *v, int64_t now_ms,
    unsigned char *out);

/* gscan_cache_decode - a stored value into v (and its time, optional);
 * GH_OK, GH_ECORRUPT for a value of another layout or version. */
gh_err gscan_cache_decode(const void *val, size_t len,
    struct gscan_verdict *v, int64_t *scanned_at);

/* gscan_cache_get - the verdict for key: GH_OK, GH_ENOTFOUND, or the
 * store's error. */
gh_err gscan_cache_get(struct gh_txn *txn,
    const unsigned char key[GSCAN_CACHE_KEY_LEN], struct gscan_verdict *v);

/* gscan_cache_put - keep v for key (nothing, GH_OK, when v is not
 * cacheable). */
gh_err gscan_cache_put(struct gh_txn *txn,
    const unsigned char key[GSCAN_CACHE_KEY_LEN],
    const struct gscan_verdict *v, int64_t now_ms);

/* gscan_cache_lookup - gscan_cache_get in a read transaction of its own
 * (which never waits on writers). */
gh_err gscan_cache_lookup(struct gh_store *st,
    const unsigned char key[GSCAN_CACHE_KEY_LEN], struct gscan_verdict *v);

#endif /* GATEHOUSE_GSCACHE_H */
