/*
 * ngx_http_gatehouse_store.c - gatehouse.conf and the worker's handle on
 * the shared store.
 *
 * gatehouse.conf (gatehouse_conf PATH) is read while nginx reads its own
 * configuration, in the master, so `nginx -t` reports a bad file.  The
 * module takes from it the [store] options and the [tokens] key files
 * ([nginx] lock_timeout is still accepted, and no longer used);
 * gatehouse_store PATH, given anywhere in http{}, overrides [store] path.
 * Upload records are read back with ngx_http_gatehouse_upload_get().
 *
 * Each worker opens the store in init_process, after fork (never in the
 * master: an LMDB environment must not cross a fork), and closes it in
 * exit_process.  A worker that cannot open it logs that once and carries
 * on: every request then follows gatehouse_upload_on_store_error, and the
 * open is tried again at most every NGX_HTTP_GATEHOUSE_STORE_RETRY seconds
 * (a store created or repaired later is picked up without a reload).  It
 * logs again only when the error changes, and once when the store is back.
 *
 * The event loop never writes, nor waits for the write lock: every write
 * (records, the suppression list) is made by a thread of the pool, which
 * waits up to [store] lock_timeout for a writer elsewhere to let go; after
 * that on_store_error decides.  Only opening a store that must first be
 * initialized takes the lock: at worker start (init_process, before any
 * request) that may wait as long, but a reopen from the event loop tries
 * once and leaves a busy store for the next attempt.  Reads never wait.
 *
 * Group commit.  Pool threads do not commit one by one: their writes go
 * through libgatehouse's group commit (gatehouse/group.h), made for the
 * worker's store when it is opened, so a thread that finds no commit under
 * way takes every write queued meanwhile and runs them in one transaction,
 * one fsync for all; the others wait for it.  Under concurrency that
 * divides the fsyncs per upload; alone, a write commits at once.  If a
 * batch fails for a reason that may be one write's own, each write is
 * retried alone so one bad record cannot sink the others; a store-wide
 * failure (the lock deadline, I/O, full) is every write's answer at once
 * -- retrying each alone would make a thread wait that deadline once per
 * write.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/domain.h"
#include "gatehouse/conf.h"
#include "gatehouse/uploads.h"


#define NGX_HTTP_GATEHOUSE_STORE_RETRY  10


typedef struct {
    uint64_t   id;
    json_t    *rec;
} ngx_http_gatehouse_lookup_t;


static ngx_int_t
ngx_http_gatehouse_conf_str(ngx_conf_t *cf, ngx_str_t *dst, const char *s)
{
    dst->len = ngx_strlen(s);
    dst->data = ngx_http_gatehouse_pstrdup(cf->pool, s, dst->len);

    return (dst->data != NULL) ? NGX_OK : NGX_ERROR;
}


char *
ngx_http_gatehouse_load_conf(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf)
{
    char                  detail[512];
    gh_err                err;
    const char           *path;
    struct gh_conf       *conf;
    struct gh_store_opts  opts;

    err = gh_conf_load(&conf, (const char *) gmcf->conf_file.data, detail,
                       sizeof(detail));
    if (err != GH_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gatehouse_conf \"%V\": %s: %s",
                           &gmcf->conf_file, gh_strerror(err), detail);
        return NGX_CONF_ERROR;
    }

    /* the web domain's store: [store] web, or the core's when unset */
    gh_conf_domain_store_opts(conf, GH_DOMAIN_WEB, &opts, NULL);

    if (!gmcf->store_explicit && opts.path != NULL
        && ngx_http_gatehouse_conf_str(cf, &gmcf->store_path, opts.path)
           != NGX_OK)
    {
        gh_conf_free(conf);
        return NGX_CONF_ERROR;
    }

    /* the inbox: a web store of its own holds the web domain's copy, and
     * changes go to the core as requests
     * (ngx_http_gatehouse_inbox_write.c) */
    {
        struct gh_store_opts  core;

        gh_conf_domain_store_opts(conf, GH_DOMAIN_CORE, &core, NULL);
        gmcf->inbox_split = (gmcf->store_path.len != 0 && core.path != NULL
                             && (ngx_strlen(core.path)
                                 != gmcf->store_path.len
                                 || ngx_strncmp(core.path,
                                                gmcf->store_path.data,
                                                gmcf->store_path.len) != 0));
    }

    gmcf->map_size = opts.map_size;
    gmcf->map_max = opts.map_max;
    gmcf->store_flags = opts.flags & GH_STORE_NOSYNC;
    gmcf->thread_lock_timeout = opts.lock_timeout_ms;

    /* the keys themselves are read once the locations are known, and
     * only if one needs them (ngx_http_gatehouse_load_keys) */
    path = gh_conf_str(conf, "tokens", "key_file");
    if (path != NULL && ngx_http_gatehouse_conf_str(cf, &gmcf->key_file,
                                                   path) != NGX_OK)
    {
        gh_conf_free(conf);
        return NGX_CONF_ERROR;
    }

    path = gh_conf_str(conf, "tokens", "previous_key_file");
    if (path != NULL && ngx_http_gatehouse_conf_str(cf, &gmcf->prev_key_file,
                                                   path) != NGX_OK)
    {
        gh_conf_free(conf);
        return NGX_CONF_ERROR;
    }

    path = gh_conf_str(conf, "tokens", "web_key_file");
    if (path != NULL && *path != '\0'
        && ngx_http_gatehouse_conf_str(cf, &gmcf->web_key_file, path)
           != NGX_OK)
    {
        gh_conf_free(conf);
        return NGX_CONF_ERROR;
    }

    /* [events_api], for gatehouse_events_api */
    if (ngx_http_gatehouse_events_conf(cf, gmcf, conf) != NGX_CONF_OK) {
        gh_conf_free(conf);
        return NGX_CONF_ERROR;
    }

    path = gh_conf_source(conf);
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "gatehouse: configuration from %s", path);

    gh_conf_free(conf);

    return NGX_CONF_OK;
}


/* wait: how long initializing the store may wait for the write lock. */
static ngx_int_t
ngx_http_gatehouse_do_open(ngx_http_gatehouse_main_conf_t *gmcf,
    ngx_log_t *log, int wait)
{
    char                  detail[512];
    gh_err                err;
    struct gh_group_opts  gopts;
    struct gh_store_opts  opts;

    ngx_memzero(&opts, sizeof(opts));

    opts.path = (const char *) gmcf->store_path.data;
    opts.map_size = gmcf->map_size;
    opts.map_max = gmcf->map_max;
    opts.flags = gmcf->store_flags | GH_STORE_CREATE;
    opts.lock_timeout_ms = wait;

    detail[0] = '\0';

    err = gh_store_open(&gmcf->store, &opts, detail, sizeof(detail));

    if (err == GH_OK) {
        /* the writes, all from pool threads, wait the whole deadline */
        gh_store_set_lock_timeout(gmcf->store, gmcf->thread_lock_timeout);

        ngx_memzero(&gopts, sizeof(gopts));

        err = gh_group_new(&gmcf->group, gmcf->store, &gopts);
        if (err != GH_OK) {
            gh_store_close(gmcf->store);
            ngx_cpystrn((u_char *) detail, (u_char *) "group commit",
                        sizeof(detail));
        }
    }

    /* the pace and the down/up latch are the library's (gatehouse/reopen.h),
     * as the milter's are; the log lines are the module's */
    if (err == GH_OK) {
        if (gh_reopen_ok(&gmcf->store_reopen, NULL) == GH_REOPEN_UP) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "gatehouse: store \"%V\" is available again",
                          &gmcf->store_path);
        }

        return NGX_OK;
    }

    gmcf->store = NULL;
    gmcf->group = NULL;

    if (gh_reopen_failed(&gmcf->store_reopen, err,
                         (int64_t) ngx_time() * 1000)
        == GH_REOPEN_DOWN)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "gatehouse: cannot open the store \"%V\": %s (%s); "
                      "uploads follow gatehouse_upload_on_store_error, "
                      "retrying every %d s",
                      &gmcf->store_path, gh_strerror(err), detail,
                      NGX_HTTP_GATEHOUSE_STORE_RETRY);
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_http_gatehouse_store_open(ngx_cycle_t *cycle,
    ngx_http_gatehouse_main_conf_t *gmcf)
{
    gh_reopen_init(&gmcf->store_reopen,
                   (int64_t) NGX_HTTP_GATEHOUSE_STORE_RETRY * 1000);

    if (gmcf->store_path.len == 0) {
        return NGX_OK;
    }

    /* no request is served yet: initializing may wait for the lock */
    return ngx_http_gatehouse_do_open(gmcf, cycle->log,
                                      gmcf->thread_lock_timeout);
}


/* The worker's store, or NULL: none configured, or unavailable now. */
struct gh_store *
ngx_http_gatehouse_store(ngx_http_gatehouse_main_conf_t *gmcf, ngx_log_t *log)
{
    if (gmcf->store != NULL || gmcf->store_path.len == 0) {
        return gmcf->store;
    }

    if (!gh_reopen_due(&gmcf->store_reopen, (int64_t) ngx_time() * 1000)) {
        return NULL;
    }

    /* from the event loop: never wait for the write lock */
    (void) ngx_http_gatehouse_do_open(gmcf, log, 0);

    return gmcf->store;
}


void
ngx_http_gatehouse_store_close(ngx_http_gatehouse_main_conf_t *gmcf)
{
    gh_group_free(gmcf->group);
    gmcf->group = NULL;
    gh_store_close(gmcf->store);
    gmcf->store = NULL;
}


static gh_err
ngx_http_gatehouse_lookup(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_lookup_t *l = arg;

    return gh_upload_get_txn(txn, l->id, &l->rec);
}


/*
 * The record of upload id (a new reference) into *rec, NULL unless GH_OK.
 * A read transaction never waits on writers: fine in the event loop.
 */
gh_err
ngx_http_gatehouse_upload_get(struct gh_store *store, uint64_t id,
    json_t **rec)
{
    gh_err                       err;
    ngx_http_gatehouse_lookup_t  l;

    l.id = id;
    l.rec = NULL;

    err = gh_store_view(store, ngx_http_gatehouse_lookup, &l);

    if (err != GH_OK) {
        json_decref(l.rec);
        l.rec = NULL;
    }

    *rec = l.rec;

    return err;
}


/*
 * One write transaction from a thread of the pool, committed together
 * with whatever other threads of this worker are writing (see above).
 * Only once the store is open: gmcf->store and gmcf->group go together.
 */
gh_err
ngx_http_gatehouse_store_write(ngx_http_gatehouse_main_conf_t *gmcf,
    gh_txn_fn fn, void *arg)
{
    return gh_group_update(gmcf->group, fn, arg);
}
