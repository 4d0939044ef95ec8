/*
 * ngx_http_gatehouse_scan.c - the libclamav engine of a worker, and the
 * scan of one file.
 *
 * The engine is built in init_process, after fork, once per worker:
 * cl_init, cl_engine_new, the limits of gatehouse_clamav_limits and
 * gatehouse_clamav_tmp, no clean-file cache, cl_load of
 * gatehouse_clamav_db, cl_engine_compile.  What that costs in time and
 * memory is logged at "notice" (the memory is the signatures': about
 * 4 MiB with a test database, over a GiB with the official ones; see
 * docs/nginx.md).  A compiled engine is read-only for scanning, so the
 * threads of nginx's pool share it; scans run only there, never in the
 * event loop (ngx_http_gatehouse_job.c).
 *
 * Verdicts.  A file is never reported clean unless libclamav read all of
 * it: CL_SCAN_HEURISTIC_EXCEEDS_MAX makes a file past max_filesize,
 * max_scansize, max_recursion or max_files an alert
 * ("Heuristics.Limits.Exceeded.*"), as is an encrypted archive
 * ("Heuristics.Encrypted.*"), and both become UNSCANNABLE, which
 * gatehouse_upload_on_scan_limit rejects or accepts with a flag.  (For a
 * top-level file past max_filesize libclamav 1.4 answers CL_VIRUS without
 * a name, so the size is checked here first.)  Any other alert is
 * INFECTED; an error, or a "clean" after libclamav reported an error (see
 * below), is SCAN_ERROR (gatehouse_upload_on_scan_error).
 *
 * Memory.  Given a file (cl_scanfile, cl_scandesc) libclamav reads it into
 * an anonymous mapping as large as the file, page by page as it scans, so
 * every scan in the pool would hold a private copy of its file: 10 MiB of
 * worker memory per concurrent 10 MiB upload.  Files from
 * NGX_HTTP_GATEHOUSE_SCAN_MAP up are mapped instead and handed over as
 * memory (cl_fmap_open_memory): the pages are the page cache's, which
 * holds the just-written file anyway, shared and reclaimable, and the
 * worker's private memory stays flat whatever the size.  The mapping is
 * read-only and private to the scan; the file is the module's own, in a
 * directory only the worker user writes, so nothing truncates it under the
 * scan (which would raise SIGBUS).  Smaller files go the ordinary way.
 */
#include <sys/mman.h>

#include <clamav.h>

#include "ngx_http_gatehouse_module.h"


#define NGX_HTTP_GATEHOUSE_LIMITS  "Heuristics.Limits.Exceeded"
#define NGX_HTTP_GATEHOUSE_ENCRYPTED  "Heuristics.Encrypted."
#define NGX_HTTP_GATEHOUSE_SCAN_MAP  (256 * 1024)


/*
 * libclamav 1.4 answers CL_CLEAN for a scan it could not do at all (for
 * one, when it cannot make its temporary directory: an archive with EICAR
 * inside comes out "clean"), and tells only its message callback, with no
 * scan context.  The callback runs in the scanning thread, so the errors
 * of a scan are counted in thread-local storage (the one mutable static
 * of the module, and the only way to tie them to the scan); a clean
 * verdict with an error is a scan error, never clean.
 */
static _Thread_local ngx_uint_t  ngx_http_gatehouse_scan_errors;
static _Thread_local u_char      ngx_http_gatehouse_scan_error[96];


/*
 * libclamav's messages go to the error log.  The callback is process-wide
 * and may run in the pool's threads: it only writes through the cycle's
 * log, as nginx's own thread code does.
 */
static void
ngx_http_gatehouse_clamav_msg(enum cl_msg severity, const char *fullmsg,
    const char *msg, void *context)
{
    size_t      n;
    ngx_uint_t  level;

    switch (severity) {
    case CL_MSG_ERROR:
        level = NGX_LOG_ERR;

        if (ngx_http_gatehouse_scan_errors++ == 0) {
            (void) ngx_cpystrn(ngx_http_gatehouse_scan_error,
                               (u_char *) msg,
                               sizeof(ngx_http_gatehouse_scan_error));
        }
        break;
    case CL_MSG_WARN:
        level = NGX_LOG_INFO;
        break;
    default:
        return;
    }

    n = ngx_strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        n--;
    }

    ngx_log_error(level, ngx_cycle->log, 0, "gatehouse: libclamav: %*s",
                  n, msg);
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
    int                rc;
    size_t             rss0, rss1;
    unsigned int       sigs;
    ngx_msec_t         t0;
    struct cl_engine  *e;

    if (gmcf->clamav_db.len == 0) {
        return NGX_OK;
    }

    rss0 = ngx_http_gatehouse_rss_kib();
    ngx_time_update();
    t0 = ngx_current_msec;

    cl_set_clcb_msg(ngx_http_gatehouse_clamav_msg);

    rc = cl_init(CL_INIT_DEFAULT);
    if (rc != CL_SUCCESS) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: cl_init() failed: %s", cl_strerror(rc));
        return NGX_ERROR;
    }

    e = cl_engine_new();
    if (e == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: cl_engine_new() failed");
        return NGX_ERROR;
    }

    if (gmcf->clamav_max_filesize != NGX_CONF_UNSET) {
        (void) cl_engine_set_num(e, CL_ENGINE_MAX_FILESIZE,
                                 gmcf->clamav_max_filesize);
    }

    if (gmcf->clamav_max_scansize != NGX_CONF_UNSET) {
        (void) cl_engine_set_num(e, CL_ENGINE_MAX_SCANSIZE,
                                 gmcf->clamav_max_scansize);
    }

    if (gmcf->clamav_max_recursion != NGX_CONF_UNSET) {
        (void) cl_engine_set_num(e, CL_ENGINE_MAX_RECURSION,
                                 gmcf->clamav_max_recursion);
    }

    if (gmcf->clamav_max_files != NGX_CONF_UNSET) {
        (void) cl_engine_set_num(e, CL_ENGINE_MAX_FILES,
                                 gmcf->clamav_max_files);
    }

    if (gmcf->clamav_tmp.len
        && cl_engine_set_str(e, CL_ENGINE_TMPDIR,
                             (const char *) gmcf->clamav_tmp.data)
           != CL_SUCCESS)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: cl_engine_set_str(TMPDIR) failed");
        cl_engine_free(e);
        return NGX_ERROR;
    }

    /*
     * libclamav's cache of clean files costs an extra pass over every
     * file (about a quarter of a scan, measured by bench/upload) and pays
     * only for the same file uploaded again; uploads are mostly new.
     */
    (void) cl_engine_set_num(e, CL_ENGINE_DISABLE_CACHE, 1);

    sigs = 0;

    rc = cl_load((const char *) gmcf->clamav_db.data, e, &sigs,
                 CL_DB_STDOPT);
    if (rc != CL_SUCCESS) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: cl_load(\"%V\") failed: %s; uploads "
                      "follow gatehouse_upload_on_scan_error",
                      &gmcf->clamav_db, cl_strerror(rc));
        cl_engine_free(e);
        return NGX_ERROR;
    }

    rc = cl_engine_compile(e);
    if (rc != CL_SUCCESS) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gatehouse: cl_engine_compile() failed: %s; uploads "
                      "follow gatehouse_upload_on_scan_error",
                      cl_strerror(rc));
        cl_engine_free(e);
        return NGX_ERROR;
    }

    /* the size limit in force, checked before each scan (see above) */
    gmcf->clamav_max_filesize =
        (off_t) cl_engine_get_num(e, CL_ENGINE_MAX_FILESIZE, &rc);

    gmcf->engine = e;

    rss1 = ngx_http_gatehouse_rss_kib();
    ngx_time_update();

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "gatehouse: clamav engine ready: %ud signatures from "
                  "\"%V\", %M ms, resident memory +%uz KiB (%uz KiB)",
                  sigs, &gmcf->clamav_db, ngx_current_msec - t0,
                  rss1 > rss0 ? rss1 - rss0 : 0, rss1);

    return NGX_OK;
}


void
ngx_http_gatehouse_scan_exit(ngx_http_gatehouse_main_conf_t *gmcf)
{
    if (gmcf->engine != NULL) {
        cl_engine_free(gmcf->engine);
        gmcf->engine = NULL;
    }
}


/* The scan itself: mapped from NGX_HTTP_GATEHOUSE_SCAN_MAP up (see the
 * top of the file), else by name.  A libclamav return code. */
static int
ngx_http_gatehouse_scan_run(ngx_http_gatehouse_main_conf_t *gmcf,
    const char *path, off_t size, const char **name, unsigned long *scanned,
    struct cl_scan_options *opts)
{
    int           rc;
    void         *p;
    ngx_fd_t      fd;
    cl_fmap_t    *map;
    struct stat   st;

    if (size < NGX_HTTP_GATEHOUSE_SCAN_MAP) {
        return cl_scanfile(path, name, scanned, gmcf->engine, opts);
    }

    fd = open(path, O_RDONLY|O_CLOEXEC);
    if (fd == -1) {
        return CL_EOPEN;
    }

    /* the size on disk, not the one counted: a mapping past the end of
     * the file would fault */
    if (fstat(fd, &st) == -1 || st.st_size == 0) {
        close(fd);
        return cl_scanfile(path, name, scanned, gmcf->engine, opts);
    }

    p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);

    if (p == MAP_FAILED) {
        return cl_scanfile(path, name, scanned, gmcf->engine, opts);
    }

    map = cl_fmap_open_memory(p, (size_t) st.st_size);
    if (map == NULL) {
        (void) munmap(p, (size_t) st.st_size);
        return CL_EMEM;
    }

    rc = cl_scanmap_callback(map, path, name, scanned, gmcf->engine, opts,
                             NULL);

    cl_fmap_close(map);
    (void) munmap(p, (size_t) st.st_size);

    return rc;
}


/* In a thread of the pool.  sig receives the signature, or the error. */
ngx_http_gatehouse_verdict_e
ngx_http_gatehouse_scan_file(ngx_http_gatehouse_main_conf_t *gmcf,
    const char *path, off_t size, char *sig, size_t sig_len)
{
    int                      rc;
    size_t                   n;
    const char              *name;
    unsigned long            scanned;
    struct cl_scan_options   opts;

    sig[0] = '\0';

    if (gmcf->engine == NULL) {
        (void) ngx_cpystrn((u_char *) sig,
                           (u_char *) "no virus scanner in this worker",
                           sig_len);
        return NGX_HTTP_GATEHOUSE_SCAN_ERROR;
    }

    if (gmcf->clamav_max_filesize > 0 && size > gmcf->clamav_max_filesize) {
        (void) ngx_cpystrn((u_char *) sig,
                           (u_char *) NGX_HTTP_GATEHOUSE_LIMITS
                                      ".MaxFileSize", sig_len);
        return NGX_HTTP_GATEHOUSE_UNSCANNABLE;
    }

    ngx_memzero(&opts, sizeof(opts));
    opts.general = CL_SCAN_GENERAL_HEURISTICS;
    opts.parse = ~0u;
    opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX
                     | CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE;

    name = NULL;
    scanned = 0;
    ngx_http_gatehouse_scan_errors = 0;

    rc = ngx_http_gatehouse_scan_run(gmcf, path, size, &name, &scanned,
                                     &opts);

    switch (rc) {

    case CL_CLEAN:
        if (ngx_http_gatehouse_scan_errors == 0) {
            return NGX_HTTP_GATEHOUSE_CLEAN;
        }

        /* see above: "clean" after an error means "not scanned" */
        n = ngx_strlen(ngx_http_gatehouse_scan_error);
        while (n > 0 && (ngx_http_gatehouse_scan_error[n - 1] == '\n'
                         || ngx_http_gatehouse_scan_error[n - 1] == '.'))
        {
            n--;
        }

        ngx_http_gatehouse_scan_error[n] = '\0';

        (void) ngx_snprintf((u_char *) sig, sig_len - 1, "libclamav: %s%Z",
                            ngx_http_gatehouse_scan_error);
        sig[sig_len - 1] = '\0';

        return NGX_HTTP_GATEHOUSE_SCAN_ERROR;

    case CL_VIRUS:
        if (name == NULL || name[0] == '\0') {
            (void) ngx_cpystrn((u_char *) sig,
                               (u_char *) NGX_HTTP_GATEHOUSE_LIMITS,
                               sig_len);
            return NGX_HTTP_GATEHOUSE_UNSCANNABLE;
        }

        (void) ngx_cpystrn((u_char *) sig, (u_char *) name, sig_len);

        if (ngx_strncmp(name, NGX_HTTP_GATEHOUSE_LIMITS,
                        sizeof(NGX_HTTP_GATEHOUSE_LIMITS) - 1) == 0
            || ngx_strncmp(name, NGX_HTTP_GATEHOUSE_ENCRYPTED,
                           sizeof(NGX_HTTP_GATEHOUSE_ENCRYPTED) - 1) == 0)
        {
            return NGX_HTTP_GATEHOUSE_UNSCANNABLE;
        }

        return NGX_HTTP_GATEHOUSE_INFECTED;

    default:
        (void) ngx_cpystrn((u_char *) sig, (u_char *) cl_strerror(rc),
                           sig_len);
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
