/*
 * ngx_http_gatehouse_scan.c - the libclamav engine of a worker, and the
 * scan of one file, through the scanner shared with gatehouse-milter
 * (scanner/gscan.h: the engine, the limits, the verdicts, the
 * clean-after-error guard, the mapping of large files).
 *
 * The engine is built in init_process, after fork, once per worker: the
 * limits of gatehouse_clamav_limits (max_scantime included) and
 * gatehouse_clamav_tmp, no clean-file cache, gatehouse_clamav_db.  What
 * that costs in time and memory is logged at "notice" (the memory is the
 * signatures': about 4 MiB with a test database, over a GiB with the
 * official ones; see docs/nginx.md).  A compiled engine is read-only for
 * scanning, so the threads of nginx's pool share it; scans run only
 * there, never in the event loop (ngx_http_gatehouse_job.c).
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


ngx_int_t
ngx_http_gatehouse_scan_init(ngx_cycle_t *cycle,
    ngx_http_gatehouse_main_conf_t *gmcf)
{
    char                  detail[512];
    gh_err                err;
    size_t                rss0, rss1;
    ngx_msec_t            t0;
    struct gscan_config   sc;

    if (gmcf->clamav_db.len == 0) {
        return NGX_OK;
    }

    rss0 = ngx_http_gatehouse_rss_kib();
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

    detail[0] = '\0';
    err = gscan_engine_open(&sc, NULL, &gmcf->engine, detail, sizeof(detail));
    if (err != GH_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: virus scanner for \"%V\": %s; uploads "
                      "follow gatehouse_upload_on_scan_error",
                      &gmcf->clamav_db,
                      detail[0] ? detail : gh_strerror(err));
        gmcf->engine = NULL;
        return NGX_ERROR;
    }

    if (gscan_engine_clamd(gmcf->engine) != NULL) {
        /* nothing loaded here: clamd holds the signatures */
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "gatehouse: scans go to clamd at \"%s\"",
                      gscan_engine_clamd(gmcf->engine));
        return NGX_OK;
    }

    rss1 = ngx_http_gatehouse_rss_kib();
    ngx_time_update();

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "gatehouse: clamav engine ready: %ud signatures from "
                  "\"%V\", %M ms, resident memory +%uz KiB (%uz KiB)",
                  gscan_engine_signatures(gmcf->engine), &gmcf->clamav_db,
                  ngx_current_msec - t0,
                  rss1 > rss0 ? rss1 - rss0 : 0, rss1);

    return NGX_OK;
}


void
ngx_http_gatehouse_scan_exit(ngx_http_gatehouse_main_conf_t *gmcf)
{
    gscan_engine_unref(gmcf->engine);
    gmcf->engine = NULL;
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
                           (u_char *) "no virus scanner in this worker",
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
