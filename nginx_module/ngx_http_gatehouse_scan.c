/*
 * ngx_http_gatehouse_scan.c - the libclamav engine of an nginx cycle, and
 * the scan of one file, through the scanner shared with gatehouse-milter
 * (scanner/gscan.h: the engine, the limits, the verdicts, the
 * clean-after-error guard, the mapping of large files).
 *
 * One engine for all workers.  The engine is compiled once, in the master
 * (postconfiguration of each cycle, on start and on every reload), before
 * the workers fork: they inherit its pages copy-on-write and only read
 * them, so 4 workers cost about one engine (over a GiB with the official
 * databases; bench/upload/engine_mem.sh measures it).  What the master
 * does with libclamav is cl_init, load and compile: no threads (the
 * master keeps one: test_nginx_engine.py; checked with .ndb/.hdb
 * databases, strace shows no clone and no temporary file either), no
 * store (root never opens it), and Debian's libclamav has no bytecode JIT
 * (libclamav.so links no LLVM).  The temporary
 * directory (gatehouse_clamav_tmp) is only a string in the engine; the
 * workers make their per-scan directories there as the worker user
 * (nginx creates the directory owned by it), and their temporary names
 * differ because libclamav draws them from rand(), which nginx reseeds in
 * each worker (srandom with its pid: glibc's rand is random).
 *
 * Reload.  The new cycle compiles a new engine in the master while the
 * old workers go on scanning with theirs (nothing pauses); the new
 * workers fork from the master holding it; the old cycle's pool cleanup
 * frees the old engine in the master, and an old worker's copy goes with
 * the worker.  A reload that changed neither the signature directory
 * (gscan_engine_db_changed: names, sizes, inodes, nanosecond mtimes) nor
 * the gatehouse_clamav_* directives keeps the engine it has (no compile,
 * old and new workers share the same pages).  A signature directory that
 * fails to load refuses the reload (an "emerg" line says so): the running
 * workers keep the engine they have.  At the first start there is no
 * engine to keep: nginx starts without one, logs why at "emerg", and
 * scans fail by gatehouse_upload_on_scan_error rather than the site going
 * down.  `nginx -t` and `nginx -s` compile nothing.
 *
 * A worker never frees its engine: it is the master's, and freeing would
 * write to every page of it (copying them all) just before the process
 * exits.  A compiled engine is read-only for scanning, so the threads of
 * nginx's pool share it too; scans run only there, never in the event
 * loop (ngx_http_gatehouse_job_run.c).
 *
 * Verdicts.  The scanner's four map one to one: CLEAN, INFECTED,
 * UNSCANNABLE (past a limit of libclamav's, encrypted, nested too deep,
 * over max_scantime: gatehouse_upload_on_scan_limit rejects it or accepts
 * it with a flag) and SCAN_ERROR (an error, or a "clean" after libclamav
 * reported an error: gatehouse_upload_on_scan_error).
 *
 * clamd.  With gatehouse_clamav_db clamd:SOCKET no engine is loaded in
 * the worker at all: gscan sends each file to clamd over its socket
 * (blocking I/O, in the pool's threads only) with the same verdicts.
 *
 * Memory.  Files from GSCAN_MAP_MIN up are mapped read-only and scanned
 * as memory (gscan.h, MEMORY): the worker's private memory stays flat
 * whatever the size.  The file is the module's own, in a directory only
 * the worker user writes, so nothing truncates it under the scan (which
 * would raise SIGBUS).
 */
#include "ngx_http_gatehouse_module.h"
#include "gscan.h"


/*
 * libclamav's messages go to the error log.  gscan calls this from the
 * scanning thread (one of the pool's) or the one building the engine: it
 * only writes through the cycle's log, as nginx's own thread code does.
 */
static void
ngx_http_gatehouse_clamav_msg(int level, const char *msg)
{
    ngx_uint_t  l;

    l = (level == 0) ? NGX_LOG_ERR : NGX_LOG_INFO;

    ngx_log_error(l, ngx_cycle->log, 0, "gatehouse: libclamav: %s", msg);
}


/* Resident set size of this process in KiB, 0 if unknown. */
static size_t
ngx_http_gatehouse_rss_kib(void)
{
    u_char      buf[128];
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_int_t   pages;
    u_char     *p, *last;

    fd = ngx_open_file("/proc/self/statm", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    (void) ngx_close_file(fd);

    if (n <= 0) {
        return 0;
    }

    last = buf + n;
    p = ngx_strlchr(buf, last, ' ');
    if (p == NULL) {
        return 0;
    }

    p++;
    last = ngx_strlchr(p, last, ' ');
    if (last == NULL) {
        return 0;
    }

    pages = ngx_atoi(p, last - p);
    if (pages == NGX_ERROR) {
        return 0;
    }

    return (size_t) pages * (ngx_pagesize / 1024);
}


/*
 * The cycle's main conf of the module in the cycle before this one, NULL
 * if that cycle did not load the module or had no http block: it holds
 * the engine the running workers use.
 */
static ngx_http_gatehouse_main_conf_t *
ngx_http_gatehouse_old_conf(ngx_cycle_t *old)
{
    ngx_uint_t  i;

    if (old == NULL || ngx_is_init_cycle(old) || old->modules == NULL) {
        return NULL;
    }

    /* the module's ctx_index means something in the old cycle only if it
     * was loaded there (load_module may have come or gone) */
    for (i = 0; old->modules[i]; i++) {
        if (old->modules[i] == &ngx_http_gatehouse_module) {
            return ngx_http_cycle_get_module_main_conf(old,
                                                       ngx_http_gatehouse_module);
        }
    }

    return NULL;
}


/* The cycle's pool is destroyed: in the master (or the single process),
 * the engine goes; in a worker or helper it is left to exit() (see the
 * top of this file). */
static void
ngx_http_gatehouse_scan_cleanup(void *data)
{
    ngx_http_gatehouse_main_conf_t *gmcf = data;

    if (ngx_process == NGX_PROCESS_WORKER
        || ngx_process == NGX_PROCESS_HELPER)
    {
        return;
    }

    gscan_engine_unref(gmcf->engine);
    gmcf->engine = NULL;
}


/*
 * postconfiguration: the cycle's engine, compiled here, in the master,
 * before the workers fork.  NGX_ERROR (a refused reload) only when a
 * reload's signatures fail to load.
 */
ngx_int_t
ngx_http_gatehouse_scan_init(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf)
{
    char                             detail[512];
    gh_err                           err;
    size_t                           len;
    ngx_msec_t                       t0;
    ngx_uint_t                       reload;
    ngx_pool_cleanup_t              *cln;
    struct gscan_config              sc;
    struct gscan_engine             *prev;
    ngx_http_gatehouse_main_conf_t  *old;

    if (gmcf->clamav_db.len == 0 || !gmcf->used) {
        return NGX_OK;
    }

    /* `nginx -t` must stay fast, and `nginx -s reload` only signals */
    if (ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_gatehouse_scan_cleanup;
    cln->data = gmcf;

    reload = !ngx_is_init_cycle(cf->cycle->old_cycle);
    old = ngx_http_gatehouse_old_conf(cf->cycle->old_cycle);
    prev = old ? old->engine : NULL;

    gmcf->engine_rss0 = ngx_http_gatehouse_rss_kib();
    ngx_time_update();
    t0 = ngx_current_msec;

    gscan_set_log(ngx_http_gatehouse_clamav_msg);

    ngx_memzero(&sc, sizeof(sc));
    sc.dbdir = (const char *) gmcf->clamav_db.data;
    sc.tmpdir = gmcf->clamav_tmp.len ? (const char *) gmcf->clamav_tmp.data
                                     : NULL;

    /* UNSET (-1) is libclamav's default, as 0 is to gscan */
    if (gmcf->clamav_max_filesize > 0) {
        sc.max_filesize = gmcf->clamav_max_filesize;
    }

    if (gmcf->clamav_max_scansize > 0) {
        sc.max_scansize = gmcf->clamav_max_scansize;
    }

    if (gmcf->clamav_max_recursion > 0) {
        sc.max_recursion = gmcf->clamav_max_recursion;
    }

    if (gmcf->clamav_max_files > 0) {
        sc.max_files = gmcf->clamav_max_files;
    }

    if (gmcf->clamav_max_scantime != NGX_CONF_UNSET_MSEC) {
        sc.max_scantime_ms = gmcf->clamav_max_scantime;
    }

    /*
     * libclamav's cache of clean files costs an extra pass over every
     * file (about a quarter of a scan, measured by bench/upload) and pays
     * only for the same file uploaded again; uploads are mostly new.
     */
    sc.no_cache = 1;

    /*
     * The master compiles as root: the workers' user must not own the
     * signatures root parses (gscan checks the rest).  `user` is read
     * before the http block in any usual nginx.conf.
     */
    {
        ngx_core_conf_t  *ccf;

        ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                               ngx_core_module);
        if (ccf != NULL && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
            sc.distrust = 1;
            sc.distrust_uid = ccf->user;
        }
    }

    detail[0] = '\0';
    err = gscan_engine_open(&sc, prev, &gmcf->engine, detail, sizeof(detail));
    if (err != GH_OK) {
        gmcf->engine = NULL;
        if (detail[0] == '\0') {
            (void) ngx_cpystrn((u_char *) detail, (u_char *) gh_strerror(err),
                               sizeof(detail));
        }

        if (reload) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "gatehouse: reload refused: the signatures in "
                          "\"%V\" failed to load (%s); the running workers "
                          "keep the engine they have",
                          &gmcf->clamav_db, detail);
            return NGX_ERROR;
        }

        /* logged by init_module, once the cycle's error log is open */
        len = ngx_strlen(detail);
        gmcf->engine_error.data = ngx_pnalloc(cf->pool, len);
        if (gmcf->engine_error.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(gmcf->engine_error.data, detail, len);
        gmcf->engine_error.len = len;
        return NGX_OK;
    }

    gmcf->engine_kept = (gmcf->engine == prev);
    gmcf->engine_rss1 = ngx_http_gatehouse_rss_kib();
    ngx_time_update();
    gmcf->engine_msec = ngx_current_msec - t0;

    return NGX_OK;
}


/*
 * init_module, in the master once the cycle's error log is open (the
 * engine was made while the previous cycle's log was in force): what the
 * engine cost, or why there is none.
 */
void
ngx_http_gatehouse_scan_log(ngx_cycle_t *cycle,
    ngx_http_gatehouse_main_conf_t *gmcf)
{
    ngx_core_conf_t  *ccf;

    if (gmcf->engine_error.len) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: virus scanner for \"%V\": %V; uploads "
                      "follow gatehouse_upload_on_scan_error",
                      &gmcf->clamav_db, &gmcf->engine_error);
        return;
    }

    if (gmcf->engine == NULL) {
        return;
    }

    if (gscan_engine_clamd(gmcf->engine) != NULL) {
        /* nothing loaded here: clamd holds the signatures */
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "gatehouse: scans go to clamd at \"%s\"",
                      gscan_engine_clamd(gmcf->engine));
        return;
    }

    if (gmcf->engine_kept) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "gatehouse: clamav engine kept: %ud signatures from "
                      "\"%V\", unchanged since they were compiled; the new "
                      "workers share it",
                      gscan_engine_signatures(gmcf->engine),
                      &gmcf->clamav_db);
        return;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "gatehouse: clamav engine compiled in %s: %ud signatures "
                  "from \"%V\", %M ms, resident memory +%uz KiB (%uz KiB); "
                  "the workers share it",
                  ccf->master ? "master" : "the single process",
                  gscan_engine_signatures(gmcf->engine), &gmcf->clamav_db,
                  gmcf->engine_msec,
                  gmcf->engine_rss1 > gmcf->engine_rss0
                      ? gmcf->engine_rss1 - gmcf->engine_rss0 : 0,
                  gmcf->engine_rss1);
}


/* In a thread of the pool.  sig receives the signature, the heuristic of
 * an unscannable file, or the error. */
ngx_http_gatehouse_verdict_e
ngx_http_gatehouse_scan_file(ngx_http_gatehouse_main_conf_t *gmcf,
    const char *path, off_t size, char *sig, size_t sig_len)
{
    int                    fd;
    struct gscan_verdict   v;

    sig[0] = '\0';

    if (gmcf->engine == NULL) {
        (void) ngx_cpystrn((u_char *) sig,
                           (u_char *) "no virus scanner (its signatures "
                                      "failed to load, see the error log)",
                           sig_len);
        return NGX_HTTP_GATEHOUSE_SCAN_ERROR;
    }

    fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
    if (fd == -1) {
        (void) ngx_snprintf((u_char *) sig, sig_len - 1, "open: %s%Z",
                            strerror(errno));
        sig[sig_len - 1] = '\0';
        return NGX_HTTP_GATEHOUSE_SCAN_ERROR;
    }

    gscan_fd(gmcf->engine, fd, path, &v);
    (void) close(fd);

    (void) ngx_cpystrn((u_char *) sig, (u_char *) v.name, sig_len);

    switch (v.kind) {
    case GSCAN_CLEAN:
        return NGX_HTTP_GATEHOUSE_CLEAN;
    case GSCAN_INFECTED:
        return NGX_HTTP_GATEHOUSE_INFECTED;
    case GSCAN_UNSCANNABLE:
        return NGX_HTTP_GATEHOUSE_UNSCANNABLE;
    default:
        return NGX_HTTP_GATEHOUSE_SCAN_ERROR;
    }
}


const char *
ngx_http_gatehouse_verdict_name(ngx_http_gatehouse_verdict_e v)
{
    switch (v) {
    case NGX_HTTP_GATEHOUSE_CLEAN:
        return "clean";
    case NGX_HTTP_GATEHOUSE_INFECTED:
        return "infected";
    case NGX_HTTP_GATEHOUSE_UNSCANNABLE:
        return "unscannable";
    case NGX_HTTP_GATEHOUSE_SCAN_ERROR:
        return "error";
    default:
        return "not_scanned";
    }
}
