/*
 * ngx_http_gatehouse_job.h - what the files of an upload's job share: the
 * job and its files, made by ngx_http_gatehouse_job.c in the event loop,
 * worked on in the thread pool by ngx_http_gatehouse_job_run.c and
 * ngx_http_gatehouse_job_move.c, answered from by
 * ngx_http_gatehouse_job_done.c; and the functions each offers the others.
 * Private to those files: the rest of the module knows a job only by
 * ngx_http_gatehouse_job_start and _detach (ngx_http_gatehouse_module.h).
 */
#ifndef NGX_HTTP_GATEHOUSE_JOB_H
#define NGX_HTTP_GATEHOUSE_JOB_H

#include "ngx_http_gatehouse_module.h"


typedef struct {
    u_char                         *temp;
    u_char                         *dir;     /* DIR/CATEGORY/YYYY/MM/DD/ */
    u_char                         *dest;    /* dir + NAME.EXT */
    size_t                          url_off; /* dest + url_off: below DIR */
    u_char                         *qdest;   /* QUARANTINE/NAME */
    off_t                           size;
    json_t                         *record;  /* owned */
    uint64_t                        known;   /* id from "receiving" */
    uint64_t                        seq;
    ngx_http_gatehouse_verdict_e    verdict;
    char                            sig[NGX_HTTP_GATEHOUSE_SIG_MAX];
    const char                     *status;
    const char                     *reason;
    ngx_err_t                       err;     /* rename, mkdir, sync */
    const char                     *err_op;
    unsigned                        moved:1;
    unsigned                        quarantined:1;
    u_char                         *err_path; /* what err_op failed on */
    unsigned                        image:1;     /* the image step runs */
    unsigned                        thumb_moved:1;
    ngx_http_gatehouse_image_t      img;
    u_char                         *thumb_dest;  /* dir + NAME.thumb.EXT */
    ngx_http_gatehouse_vcache_t     vcache;  /* gatehouse_scan_cache */
} ngx_http_gatehouse_jfile_t;


struct ngx_http_gatehouse_job_s {
    ngx_pool_t                      *pool;
    ngx_http_gatehouse_ctx_t        *ctx;    /* NULL once the request ended */
    ngx_http_gatehouse_main_conf_t  *main;
    ngx_http_gatehouse_loc_conf_t   *conf;   /* its space_full flag */
    struct gh_store                 *store;
    ngx_uint_t                       on_scan_error;
    ngx_uint_t                       on_scan_limit;
    ngx_uint_t                       on_store_error;
    ngx_uint_t                       nfiles;
    ngx_http_gatehouse_jfile_t      *files;
    ngx_http_gatehouse_cap_t         cap;    /* records of files not kept */

    /* outcome */
    ngx_int_t                        status; /* HTTP error, 0 if stored */
    const char                      *code;
    ngx_int_t                        bad;    /* the file that decided */
    gh_err                           store_err;
    const char                      *store_when;
    ngx_err_t                        nospace; /* ENOSPC, EDQUOT or 0 */
    unsigned                         scan:1;
    unsigned                         unrecorded:1;
    unsigned                         sync:1;  /* gatehouse_upload_sync */
    /* the verdict cache: the engine key, asked once per job */
    ngx_int_t                        ekey_rc; /* NGX_OK, NGX_DECLINED, or
                                                 NGX_AGAIN: not asked */
    unsigned char                    ekey[32];
    char                             ekey_err[128];
};


/* ngx_http_gatehouse_job_run.c */
void ngx_http_gatehouse_job_run(void *data, ngx_log_t *log);

/* ngx_http_gatehouse_job_move.c */
ngx_int_t ngx_http_gatehouse_job_move(ngx_http_gatehouse_jfile_t *jf,
    ngx_uint_t sync);
ngx_int_t ngx_http_gatehouse_job_sync_dirs(ngx_http_gatehouse_job_t *job);
void ngx_http_gatehouse_job_quarantine(ngx_http_gatehouse_jfile_t *jf,
    ngx_uint_t sync);

/* ngx_http_gatehouse_job_done.c */
void ngx_http_gatehouse_job_done(ngx_event_t *ev);

#endif /* NGX_HTTP_GATEHOUSE_JOB_H */
