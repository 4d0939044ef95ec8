/*
 * ngx_http_gatehouse_vcache.c - the verdict cache of the nginx module
 * (gatehouse_scan_cache, on by default; scanner/gscache.h has the record).
 *
 * A job (ngx_http_gatehouse_job_run.c) asks, in a thread of the pool, before
 * scanning a file: the engine key once per job (free with libclamav, one
 * VERSION round trip with clamd), then a read transaction for the file's
 * SHA-256 under that key, which never waits on writers.  A hit is the
 * verdict, without a scan; the record says so ("scan_cached": true).  A
 * miss is scanned, and a clean or infected verdict is written in the same
 * write transaction as the job's final records (put_files), so the cache
 * costs no commit, no fsync and no lock wait of its own.  The worker's
 * store is the web domain's: every worker, and the workers after a reload
 * or a restart, share what any of them scanned.
 */
#include "ngx_http_gatehouse_module.h"
#include "gscan.h"
#include "gscache.h"
#include "gatehouse/codec.h"
#include "gatehouse/queue.h"


ngx_int_t
ngx_http_gatehouse_vcache_engine_key(ngx_http_gatehouse_main_conf_t *gmcf,
    unsigned char ekey[32], char *detail, size_t detail_len)
{
    detail[0] = '\0';

    if (gmcf->engine == NULL) {
        return NGX_DECLINED;
    }

    return (gscan_engine_key(gmcf->engine, ekey, detail, detail_len)
            == GH_OK) ? NGX_OK : NGX_DECLINED;
}


/* NGX_OK: *verdict and sig are the cached verdict; NGX_DECLINED: scan. */
ngx_int_t
ngx_http_gatehouse_vcache_get(struct gh_store *store, json_t *record,
    const unsigned char ekey[32], ngx_http_gatehouse_vcache_t *c,
    ngx_http_gatehouse_verdict_e *verdict, char *sig, size_t sig_len)
{
    size_t                n;
    const char           *hex;
    unsigned char         sha[32];
    struct gscan_verdict  v;

    hex = json_string_value(json_object_get(record, "sha256"));
    if (hex == NULL || ngx_strlen(hex) != 64
        || gh_hex_decode(hex, 64, sha, sizeof(sha), &n) != GH_OK)
    {
        return NGX_DECLINED;
    }

    gscan_cache_key(sha, ekey, c->key);
    c->have_key = 1;

    if (gscan_cache_lookup(store, c->key, &v) != GH_OK) {
        return NGX_DECLINED;
    }

    (void) ngx_cpystrn((u_char *) sig, (u_char *) v.name, sig_len);
    *verdict = (v.kind == GSCAN_INFECTED) ? NGX_HTTP_GATEHOUSE_INFECTED
                                          : NGX_HTTP_GATEHOUSE_CLEAN;
    c->hit = 1;

    return NGX_OK;
}


/* After a scan: keep a clean or infected verdict with the records. */
void
ngx_http_gatehouse_vcache_scanned(ngx_http_gatehouse_vcache_t *c,
    ngx_http_gatehouse_verdict_e verdict)
{
    c->put = c->have_key && !c->hit
             && (verdict == NGX_HTTP_GATEHOUSE_CLEAN
                 || verdict == NGX_HTTP_GATEHOUSE_INFECTED);
}


/* In the job's write transaction (it may run more than once). */
gh_err
ngx_http_gatehouse_vcache_put(struct gh_txn *txn,
    ngx_http_gatehouse_vcache_t *c, ngx_http_gatehouse_verdict_e verdict,
    const char *sig)
{
    struct gscan_verdict  v;

    if (!c->put) {
        return GH_OK;
    }

    ngx_memzero(&v, sizeof(v));
    v.kind = (verdict == NGX_HTTP_GATEHOUSE_INFECTED) ? GSCAN_INFECTED
                                                      : GSCAN_CLEAN;
    if (v.kind == GSCAN_INFECTED) {
        (void) ngx_cpystrn((u_char *) v.name, (u_char *) sig,
                           sizeof(v.name));
    }

    return gscan_cache_put(txn, c->key, &v, gh_now_ms());
}
