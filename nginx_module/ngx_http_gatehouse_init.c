/*
 * ngx_http_gatehouse_init.c - the module's hooks into nginx's start and
 * stop: postconfiguration installs the request body filter and the JSON
 * error filters and compiles the cycle's libclamav engine in the master
 * (shared by the workers it forks); init_module logs what that cost;
 * init_process gives each worker its own libmagic handle and store;
 * exit_process frees them.
 */
#include "ngx_http_gatehouse_module.h"
#include "magic_flags.h"


ngx_int_t
ngx_http_gatehouse_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    if (ngx_http_gatehouse_upload_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_gatehouse_reply_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * Here, not in init_module: a failure here fails the new cycle
     * cleanly (a reload is refused, the old workers go on), where one in
     * init_module would end the master.
     */
    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);

    return ngx_http_gatehouse_scan_init(cf, gmcf);
}


ngx_int_t
ngx_http_gatehouse_init_module(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf != NULL) {
        ngx_http_gatehouse_scan_log(cycle, gmcf);
    }

    return NGX_OK;
}


/*
 * Everything a worker needs of its own, made after fork: a libmagic handle
 * (not shareable across fork, not thread-safe: only the event loop uses
 * it) and the store handle (an LMDB environment must never cross a fork,
 * see gatehouse/store.h).  The libclamav engine is not one of them: the
 * master compiled it before forking (ngx_http_gatehouse_scan.c) and the
 * worker's threads scan with that inherited copy.  Cache manager and
 * loader processes run init_process too but serve no requests: they get
 * nothing.
 */
ngx_int_t
ngx_http_gatehouse_init_process(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf == NULL || (!gmcf->used && !gmcf->needs_store)) {
        return NGX_OK;
    }

    if (gmcf->used) {
        /* libgd's messages: into the decoding thread's own buffer */
        if (ngx_http_gatehouse_image_init() != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "gatehouse: the image memory budget could not "
                          "be set up");
            return NGX_ERROR;
        }

        gmcf->magic = magic_open(GH_MAGIC_FLAGS);
        if (gmcf->magic == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "gatehouse: magic_open() failed");
            return NGX_ERROR;
        }

        if (magic_load(gmcf->magic, NULL) != 0) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "gatehouse: magic_load() failed: %s",
                          magic_error(gmcf->magic));
            magic_close(gmcf->magic);
            gmcf->magic = NULL;
            return NGX_ERROR;
        }
    }

    /* a store that cannot be opened leaves the worker without one:
     * on_store_error decides, rather than the whole site going down */
    (void) ngx_http_gatehouse_store_open(cycle, gmcf);

    return NGX_OK;
}


/*
 * nginx's thread pools are core modules, whose exit_process runs before
 * this one and waits for queued tasks: no scan is running any more.  The
 * engine is left alone: the cycle's pool cleanup frees it in the master
 * and leaves a worker's inherited copy to exit() (ngx_http_gatehouse_scan.c).
 */
void
ngx_http_gatehouse_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf == NULL) {
        return;
    }

    if (gmcf->magic != NULL) {
        magic_close(gmcf->magic);
        gmcf->magic = NULL;
    }

    ngx_http_gatehouse_store_close(gmcf);
}
