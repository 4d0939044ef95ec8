/*
 * gscache.c - the verdict cache's records (gscache.h).
 */
#include <string.h>

#include "gscache.h"

#define VERSION 1
#define HDR 11

void
gscan_cache_key(const unsigned char sha256[32],
                const unsigned char engine_key[GSCAN_KEY_LEN],
                unsigned char out[GSCAN_CACHE_KEY_LEN])
{
	memcpy(out, sha256, 32);
	memcpy(out + 32, engine_key, GSCAN_KEY_LEN);
}

int
gscan_cacheable(const struct gscan_verdict *v)
{
	return v->kind == GSCAN_CLEAN ||
	    (v->kind == GSCAN_INFECTED && v->name[0] != '\0');
}

size_t
gscan_cache_encode(const struct gscan_verdict *v, int64_t now_ms,
                   unsigned char *out)
{
	size_t n;

	if (!gscan_cacheable(v))
		return 0;
	n = v->kind == GSCAN_INFECTED ? strnlen(v->name, GSCAN_NAME_MAX - 1) :
	    0;
	out[0] = VERSION;
	out[1] = v->kind == GSCAN_INFECTED ? 1 : 0;
	out[2] = 0;
	gh_put_be64(out + 3, (uint64_t)now_ms);
	memcpy(out + HDR, v->name, n);
	return HDR + n;
}

gh_err
gscan_cache_decode(const void *val, size_t len, struct gscan_verdict *v,
                   int64_t *scanned_at)
{
	const unsigned char *p = val;
	size_t n;

	if (len < HDR || len > GSCAN_CACHE_VAL_MAX - 1 || p[0] != VERSION ||
	    p[1] > 1 || p[2] != 0)
		return GH_ECORRUPT;
	n = len - HDR;
	if ((p[1] == 0 && n != 0) || (p[1] == 1 && n == 0) ||
	    memchr(p + HDR, '\0', n) != NULL)
		return GH_ECORRUPT;
	memset(v, 0, sizeof(*v));
	v->kind = p[1] ? GSCAN_INFECTED : GSCAN_CLEAN;
	v->reason = GSCAN_R_NONE;
	memcpy(v->name, p + HDR, n);
	v->name[n] = '\0';
	if (scanned_at)
		*scanned_at = (int64_t)gh_get_be64(p + 3);
	return GH_OK;
}

gh_err
gscan_cache_get(struct gh_txn *txn,
                const unsigned char key[GSCAN_CACHE_KEY_LEN],
                struct gscan_verdict *v)
{
	const void *val;
	size_t len;
	gh_err err;

	err = gh_txn_get(txn, GH_DB_SCAN_CACHE, key, GSCAN_CACHE_KEY_LEN,
	                 &val, &len);
	if (err)
		return err;
	return gscan_cache_decode(val, len, v, NULL);
}

gh_err
gscan_cache_put(struct gh_txn *txn,
                const unsigned char key[GSCAN_CACHE_KEY_LEN],
                const struct gscan_verdict *v, int64_t now_ms)
{
	unsigned char val[GSCAN_CACHE_VAL_MAX];
	size_t n = gscan_cache_encode(v, now_ms, val);

	if (n == 0)
		return GH_OK;
	return gh_txn_put(txn, GH_DB_SCAN_CACHE, key, GSCAN_CACHE_KEY_LEN, val,
	                  n);
}

struct lookup {
	const unsigned char *key;
	struct gscan_verdict *v;
};

static gh_err
lookup_fn(struct gh_txn *txn, void *arg)
{
	struct lookup *l = arg;

	return gscan_cache_get(txn, l->key, l->v);
}

gh_err
gscan_cache_lookup(struct gh_store *st,
                   const unsigned char key[GSCAN_CACHE_KEY_LEN],
                   struct gscan_verdict *v)
{
	struct lookup l = {key, v};

	return gh_store_view(st, lookup_fn, &l);
}
