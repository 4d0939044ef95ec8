/*
 * ngx_http_gatehouse_module.h - what the files of the Gatehouse nginx
 * module share: configuration, the per-request context, and the functions
 * each file offers the others.
 *
 *   ngx_http_gatehouse_module.c  the module, its directives table,
 *                                configuration create/init/merge
 *   ngx_http_gatehouse_directives.c  setters of categories, policies,
 *                                the pass URI, clamav limits, handlers
 *   ngx_http_gatehouse_paths.c   setters of the directives naming paths,
 *                                the checks on those paths, DIR/.incoming
 *                                made again at run time
 *   ngx_http_gatehouse_init.c    postconfiguration, init_module,
 *                                init/exit_process
 *   ngx_http_gatehouse_upload.c  content handler and request body filter:
 *                                multipart parsing, temp files, SHA-256,
 *                                libmagic, per-file checks
 *   ngx_http_gatehouse_job.c     what happens once the body is in: virus
 *                                scan, final place or quarantine, records,
 *                                run in nginx's thread pool; the job set
 *                                up and handed over
 *   ngx_http_gatehouse_job_run.c  the job in the pool: scan, images,
 *                                verdicts, the records' transaction
 *   ngx_http_gatehouse_job_move.c  the job's files into place or
 *                                quarantine, synced (durability)
 *   ngx_http_gatehouse_job_done.c  the job back in the event loop: log,
 *                                answer (ngx_http_gatehouse_job.h: what
 *                                the job's files share)
 *   ngx_http_gatehouse_task.c    work handed to the thread pool, with the
 *                                timer that holds an exiting worker
 *   ngx_http_gatehouse_writeback.c  with gatehouse_upload_sync, the
 *                                temp file's writeback started from the
 *                                pool while the body arrives
 *   ngx_http_gatehouse_scan.c    the libclamav engine, compiled in the
 *                                master and shared by the workers (the
 *                                scanner of scanner/gscan.h)
 *   ngx_http_gatehouse_vcache.c  the verdict cache in the store
 *   ngx_http_gatehouse_record.c  upload records and the upload.infected
 *                                event for the store, "receiving" and
 *                                refused records written from the pool,
 *                                the cap on records of uploads not kept
 *   ngx_http_gatehouse_space.c   a full upload directory: one
 *                                upload.storage_full event per condition
 *   ngx_http_gatehouse_store.c   gatehouse.conf, the worker's store, and
 *                                reading an upload's record
 *   ngx_http_gatehouse_pass.c    gatehouse_upload_pass: the rewritten body
 *                                handed on to the application
 *   ngx_http_gatehouse_status.c  gatehouse_upload_status locations
 *   ngx_http_gatehouse_links.c   signed links: one-click unsubscribe and
 *                                download locations (docs/tokens.md)
 *   ngx_http_gatehouse_inbox.c   gatehouse_inbox: the inbox API
 *                                (docs/api.md): routes, the handler
 *   ngx_http_gatehouse_inbox_read.c  its reads (list, preferences)
 *   ngx_http_gatehouse_inbox_write.c  its writes, in the thread pool
 *   ngx_http_gatehouse_inbox_body.c  the JSON bodies of its PUT and POST
 *                                checked (ngx_http_gatehouse_inbox.h:
 *                                what the inbox's files share)
 *   ngx_http_gatehouse_stream.c  its Server-Sent Events stream, woken by
 *                                inotify on the store's wlock
 *   ngx_http_gatehouse_reply.c   JSON answers (201 and errors) and the
 *                                output filters that put JSON error bodies
 *                                in place of nginx's HTML pages; sending
 *                                an answer from memory, adding a header
 *   ngx_http_gatehouse_events.c  gatehouse_events_api: applications'
 *                                events queued for notifyd
 *   ngx_http_gatehouse_image.c   images in the job: the pixel cap from
 *                                the header, libgd decode, EXIF
 *                                orientation (libexif), metadata stripped
 *                                by encoding again, thumbnails
 *   multipart.c, filename.c, category.c, imagehdr.c  plain C, unit-tested
 *                                and fuzzed
 */
#ifndef NGX_HTTP_GATEHOUSE_MODULE_H
#define NGX_HTTP_GATEHOUSE_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <pthread.h>

#include <magic.h>
#include <openssl/evp.h>
#include <jansson.h>

#include "gatehouse/group.h"
#include "gatehouse/reopen.h"
#include "gatehouse/store.h"
#include "gatehouse/token.h"

#include "parse/category.h"
#include "parse/filename.h"
#include "parse/multipart.h"

/* Values of the on_*_error directives. */
#define NGX_HTTP_GATEHOUSE_REJECT  0
#define NGX_HTTP_GATEHOUSE_ACCEPT  1

/* Bytes of a file collected before writing: also what libmagic sees. */
#define NGX_HTTP_GATEHOUSE_WBUF      (32 * 1024)
#define NGX_HTTP_GATEHOUSE_MIME_MAX  128
#define NGX_HTTP_GATEHOUSE_NAME_LEN  32   /* hex digits of a stored name */
#define NGX_HTTP_GATEHOUSE_SIG_MAX   128  /* signature names kept */
#define NGX_HTTP_GATEHOUSE_RECEIVING_DELAY  1000  /* ms before "receiving" */
/* Form fields kept for gatehouse_upload_pass, all together. */
#define NGX_HTTP_GATEHOUSE_FIELDS_MAX  (64 * 1024)

/* Default write lock deadline of the pool threads ([store] lock_timeout);
 * the event loop never writes. */
#define NGX_HTTP_GATEHOUSE_THREAD_LOCK_TIMEOUT  2000

/*
 * Records of uploads that are not kept (refused, aborted, still under
 * way), per client address (IPv6: per /64) and window, and for every
 * address together (gatehouse_upload_refused_records).
 */
#define NGX_HTTP_GATEHOUSE_REFUSED_MAX     20
#define NGX_HTTP_GATEHOUSE_REFUSED_TOTAL   1000
#define NGX_HTTP_GATEHOUSE_REFUSED_WINDOW  (3600 * 1000)
/* "nginx:refused:" + an IPv6 text address and "/64", or "unix:" */
#define NGX_HTTP_GATEHOUSE_CAP_KEY_MAX     80

/* A full upload directory: the answer, and errno values that mean it. */
#define NGX_HTTP_GATEHOUSE_INSUFFICIENT_STORAGE  507
#define ngx_http_gatehouse_is_nospace(err)  ((err) == ENOSPC || (err) == EDQUOT)

/* Key of an open "storage full" condition in the store's dedup database,
 * and how long it stays open when nobody sees space come back (then the
 * next failure raises the event again: a reminder a day). */
#define NGX_HTTP_GATEHOUSE_FULL_KEY     "nginx:upload.storage_full:"
#define NGX_HTTP_GATEHOUSE_FULL_WINDOW  (24 * 3600 * 1000LL)

/* Jobs of at least this many bytes record "scanning" before the scan. */
#define NGX_HTTP_GATEHOUSE_SCANNING_RECORD  (1024 * 1024)

/* With gatehouse_upload_sync, writeback of a temp file is started every
 * this many bytes written (ngx_http_gatehouse_writeback.c). */
#define NGX_HTTP_GATEHOUSE_WRITEBACK  (256 * 1024)


struct gscan_engine;
struct gh_conf;
struct gh_domain_policy;

typedef struct {
    ngx_str_t                   conf_file;    /* gatehouse_conf */
    ngx_str_t                   store_path;   /* gatehouse_store, or the
                                                 conf's [store] path */
    ngx_uint_t                  store_explicit;  /* gatehouse_store */
    size_t                      map_size;     /* from gatehouse.conf */
    size_t                      map_max;
    unsigned                    store_flags;  /* GH_STORE_NOSYNC */

    ngx_str_t                   clamav_db;    /* gatehouse_clamav_db */
    off_t                       clamav_max_filesize;   /* UNSET: libclamav's */
    off_t                       clamav_max_scansize;
    ngx_int_t                   clamav_max_recursion;
    ngx_int_t                   clamav_max_files;
    ngx_msec_t                  clamav_max_scantime;   /* UNSET: libclamav's */
    ngx_str_t                   clamav_tmp;   /* libclamav's temp dir */

    ngx_uint_t                  used;         /* some location uploads */
    ngx_uint_t                  needs_store;  /* status etc. use the store */

    ngx_str_t                   key_file;     /* [tokens] key_file */
    ngx_str_t                   prev_key_file;
    ngx_str_t                   web_key_file; /* both keys, no master */
    ngx_uint_t                  needs_keys;   /* GH_TOKEN_BIT()s in use */
    struct gh_token_key         keys[2];      /* current, previous */
    ngx_uint_t                  nkeys;

    int                         thread_lock_timeout;  /* [store]'s, ms */

    /* gatehouse_upload_refused_records */
    ngx_uint_t                  refused_max;     /* per address */
    ngx_uint_t                  refused_total;   /* all addresses */
    ngx_msec_t                  refused_window;

    /* per worker process, set up in init_process (but engine) */
    magic_t                     magic;
    struct gh_store            *store;
    struct gh_group            *group;        /* store's group commit */
    struct gscan_engine        *engine;       /* scanner/gscan.h; the
                                                 cycle's, compiled in the
                                                 master (scan.c) */
    struct gh_reopen            store_reopen; /* retry pace, logged down */

    /* how the cycle's engine came to be, logged by init_module */
    ngx_str_t                   engine_error;  /* why there is none */
    ngx_msec_t                  engine_msec;   /* compile time */
    size_t                      engine_rss0;   /* master's RSS, KiB */
    size_t                      engine_rss1;
    unsigned                    engine_kept:1; /* the previous cycle's */

    /* gatehouse_events_api (ngx_http_gatehouse_events.c) */
    struct gh_domain_policy    *events_policy;  /* [events_api] */
    long long                   events_dedup_window;  /* [queue]'s, ms */
    ngx_str_t                   events_core_path;  /* [store] path */
    ngx_uint_t                  events_shared;  /* the store is the core's */

    ngx_flag_t                  scan_cache;   /* gatehouse_scan_cache */

    /* gatehouse_inbox: the web store is not the core's, so changes go to
     * the core as requests in the outbox
     * (ngx_http_gatehouse_inbox_write.c) */
    ngx_uint_t                  inbox_split;

    /* gatehouse_image_memory: decoded-image bytes per worker at once */
    size_t                      image_memory;
} ngx_http_gatehouse_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;       /* gatehouse_upload */
    ngx_str_t                   dir;          /* gatehouse_upload_dir */
    ngx_path_t                 *incoming;     /* DIR/.incoming, temp files */
    ngx_str_t                   quarantine;   /* gatehouse_upload_quarantine */
    ngx_path_t                 *quarantine_path;
    off_t                       max_file_size;
    ngx_uint_t                  max_files;
    ngx_array_t                *categories;   /* struct gw_category */
    ngx_http_complex_value_t   *user;         /* gatehouse_upload_user */
    ngx_flag_t                  scan;         /* gatehouse_upload_scan */
    ngx_uint_t                  on_scan_error;
    ngx_uint_t                  on_scan_limit;
    ngx_uint_t                  on_store_error;
    ngx_str_t                   pass;         /* gatehouse_upload_pass */
    ngx_str_t                   thread_pool_name;
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
#endif
    ngx_flag_t                  status;       /* gatehouse_upload_status */

    /* per worker, while requests run (the event loop's only) */
    ngx_uint_t                  space_full;   /* the last write found the
                                                 upload directory full */

    ngx_array_t                *events_types; /* gatehouse_events_api
                                                 types=, const char * */
    ngx_flag_t                  sync;         /* gatehouse_upload_sync */
    /* images (ngx_http_gatehouse_image.c) */
    ngx_flag_t                  image_strip;  /* gatehouse_image_strip */
    ngx_uint_t                  image_max_pixels;
    ngx_uint_t                  thumb_width;  /* gatehouse_thumbnail; 0: */
    ngx_uint_t                  thumb_height; /* none */
    ngx_uint_t                  thumb_quality;

    ngx_uint_t                  inbox_streams;  /* gatehouse_inbox
                                                   streams=N, per worker */
    ngx_uint_t                  inbox_streams_per_user; /* streams_per_user=M,
                                                   per worker */
} ngx_http_gatehouse_loc_conf_t;


/* Scan verdicts, in the record's "scan" member. */
typedef enum {
    NGX_HTTP_GATEHOUSE_NOT_SCANNED = 0,
    NGX_HTTP_GATEHOUSE_CLEAN,
    NGX_HTTP_GATEHOUSE_INFECTED,
    NGX_HTTP_GATEHOUSE_UNSCANNABLE,   /* past libclamav's limits, encrypted */
    NGX_HTTP_GATEHOUSE_SCAN_ERROR
} ngx_http_gatehouse_verdict_e;


/* One file part of an upload. */
typedef struct {
    ngx_str_t                   field;        /* form field name */
    ngx_str_t                   name;         /* sanitized client name */
    ngx_str_t                   orig;         /* the client's, escaped */
    unsigned                    name_flags;   /* GH_FN_* */
    u_char                      ext[GH_FN_EXT_MAX + 1];
    const struct gw_category   *category;
    ngx_str_t                   temp;         /* temp file path */
    ngx_fd_t                    fd;
    off_t                       size;
    EVP_MD_CTX                 *sha;
    u_char                      sha256[65];
    u_char                      mime[NGX_HTTP_GATEHOUSE_MIME_MAX];
    uint64_t                    seq;          /* store id, 0 if none yet */
    json_t                     *record;       /* what the store holds */
    unsigned                    typed:1;      /* libmagic has run */
    unsigned                    receiving:1;  /* its record was tried */
    unsigned                    handed:1;     /* a job owns the temp file */
    unsigned                    recorded:1;   /* final record written */
    off_t                       written;      /* bytes in the temp file */
    off_t                       wb_off;       /* writeback asked up to */
} ngx_http_gatehouse_file_t;


/* A non-file form field kept for gatehouse_upload_pass. */
typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   value;
    size_t                      cap;          /* bytes at value.data */
    ngx_uint_t                  file;         /* index + 1 of a file, or 0 */
} ngx_http_gatehouse_field_t;


/*
 * What the image step (ngx_http_gatehouse_image.c) does to one file, in
 * the thread pool: the settings and paths filled in by the event loop,
 * then the outcome.
 */
typedef struct {
    /* in */
    unsigned                    strip:1;
    ngx_uint_t                  max_pixels;
    ngx_uint_t                  thumb_width;   /* 0: no thumbnail */
    ngx_uint_t                  thumb_height;
    ngx_uint_t                  thumb_quality;
    u_char                     *temp;          /* the upload's temp file */
    u_char                     *img_temp;      /* temp + ".img" */
    u_char                     *thumb_temp;    /* temp + ".thumb" */

    /* out */
    ngx_int_t                   status;        /* HTTP refusal, 0 if none */
    const char                 *code;
    char                        message[200];
    const char                 *format;        /* "jpeg", ... */
    uint32_t                    width;         /* upright, as shown */
    uint32_t                    height;
    uint64_t                    pixels;        /* what the header claims */
    uint32_t                    frames;
    int                         orientation;   /* EXIF, 0 if none */
    off_t                       size;          /* stored bytes, if rewritten */
    u_char                      sha256[65];
    uint32_t                    thumb_w;
    uint32_t                    thumb_h;
    off_t                       thumb_size;
    ngx_err_t                   err;
    const char                 *err_op;
    unsigned                    done:1;        /* the step ran */
    unsigned                    rewritten:1;   /* temp holds the new bytes */
    unsigned                    thumb:1;       /* thumb_temp was written */

    /* gatehouse_image_memory (in) and what this image was counted (out) */
    size_t                      memory;
    uint64_t                    cost;
} ngx_http_gatehouse_image_t;


typedef struct ngx_http_gatehouse_job_s  ngx_http_gatehouse_job_t;
typedef struct ngx_http_gatehouse_rtask_s  ngx_http_gatehouse_rtask_t;


/*
 * The cap on records of uploads not kept (see record.c), as a job in the
 * thread pool carries it: the client's counter and the limits, then what
 * the transaction found (reset each time it runs).
 */
typedef struct {
    char                        key[NGX_HTTP_GATEHOUSE_CAP_KEY_MAX + 1];
    ngx_uint_t                  max;
    ngx_uint_t                  total;
    ngx_msec_t                  window;
    unsigned                    skipped:1;    /* a record was not written */
    unsigned                    crossed:1;    /* the address reached max */
    unsigned                    total_crossed:1;
} ngx_http_gatehouse_cap_t;


typedef struct {
    ngx_http_request_t              *request;
    ngx_http_gatehouse_loc_conf_t   *conf;
    ngx_http_gatehouse_main_conf_t  *main;
    struct gw_mp_parser              mp;
    ngx_str_t                        user;
    ngx_array_t                      files;   /* ngx_http_gatehouse_file_t */
    ngx_array_t                      fields;  /* ngx_http_gatehouse_field_t,
                                                 pass mode only */
    size_t                           fields_size;
    ngx_http_gatehouse_field_t      *cur_field;
    ngx_http_gatehouse_file_t       *cur;     /* file part being received */
    u_char                          *wbuf;
    size_t                           wlen;
    ngx_int_t                        status;  /* error answer, 0 if none */
    ngx_str_t                        err_json;
    ngx_http_gatehouse_job_t        *job;     /* in the thread pool */
    ngx_http_gatehouse_rtask_t      *receiving;  /* "receiving" write in
                                                    the thread pool */
    ngx_event_t                      receiving_ev;  /* "receiving" timer */
    char                             cap_key[NGX_HTTP_GATEHOUSE_CAP_KEY_MAX
                                             + 1];
    unsigned                         failed:1;
    unsigned                         body_done:1;
    unsigned                         replace_body:1;
    unsigned                         json_sent:1;
    unsigned                         no_store:1;  /* accepted without */
    unsigned                         start_pending:1;  /* the job waits for
                                                          "receiving" */
} ngx_http_gatehouse_ctx_t;


extern ngx_module_t  ngx_http_gatehouse_module;


/* A NUL-terminated copy of len bytes at s, for the C libraries. */
static ngx_inline u_char *
ngx_http_gatehouse_pstrdup(ngx_pool_t *pool, const void *s, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


/* ngx_http_gatehouse_directives.c */
char *ngx_http_gatehouse_set_category(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_clamav_limits(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_gatehouse_set_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_link(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_refused(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_gatehouse_paths.c */
char *ngx_http_gatehouse_set_dir(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_quarantine(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_clamav_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_clamav_tmp(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_set_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gatehouse_incoming_restore(
    ngx_http_gatehouse_loc_conf_t *glcf, ngx_log_t *log);
ngx_int_t ngx_http_gatehouse_default_quarantine(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf);
ngx_int_t ngx_http_gatehouse_same_fs(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf);

/* ngx_http_gatehouse_init.c */
ngx_int_t ngx_http_gatehouse_postconfiguration(ngx_conf_t *cf);
ngx_int_t ngx_http_gatehouse_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_gatehouse_init_process(ngx_cycle_t *cycle);
void ngx_http_gatehouse_exit_process(ngx_cycle_t *cycle);

/* ngx_http_gatehouse_upload.c */
ngx_int_t ngx_http_gatehouse_upload_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_gatehouse_upload_init(ngx_conf_t *cf);
void ngx_http_gatehouse_drop_files(ngx_http_gatehouse_ctx_t *ctx);

/* ngx_http_gatehouse_job.c */
ngx_int_t ngx_http_gatehouse_job_start(ngx_http_gatehouse_ctx_t *ctx);
void ngx_http_gatehouse_job_detach(ngx_http_gatehouse_ctx_t *ctx);

/* ngx_http_gatehouse_task.c */
ngx_int_t ngx_http_gatehouse_post(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_pool_t *pool, void (*run)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done, void *data, ngx_log_t *log);

/* ngx_http_gatehouse_writeback.c */
void ngx_http_gatehouse_writeback(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f);
/* ngx_http_gatehouse_image.c */
char *ngx_http_gatehouse_set_thumbnail(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gatehouse_image_init(void);
const char *ngx_http_gatehouse_image_ext(const u_char *mime);
ngx_int_t ngx_http_gatehouse_image_wanted(ngx_http_gatehouse_loc_conf_t *glcf,
    const u_char *mime);
void ngx_http_gatehouse_image_run(ngx_http_gatehouse_image_t *img);
void ngx_http_gatehouse_image_record(ngx_http_gatehouse_image_t *img,
    json_t *rec);

/* ngx_http_gatehouse_scan.c */
ngx_int_t ngx_http_gatehouse_scan_init(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf);
void ngx_http_gatehouse_scan_log(ngx_cycle_t *cycle,
    ngx_http_gatehouse_main_conf_t *gmcf);
ngx_http_gatehouse_verdict_e ngx_http_gatehouse_scan_file(
    ngx_http_gatehouse_main_conf_t *gmcf, const char *path, off_t size,
    char *sig, size_t sig_len);
const char *ngx_http_gatehouse_verdict_name(ngx_http_gatehouse_verdict_e v);

/*
 * ngx_http_gatehouse_vcache.c: the verdict cache (scanner/gscache.h) of
 * one file of a job, used from the pool's threads only.
 */
typedef struct {
    unsigned char               key[64];      /* SHA-256 | engine key */
    unsigned                    have_key:1;
    unsigned                    hit:1;        /* answered from the cache */
    unsigned                    put:1;        /* to be written with the
                                                 job's records */
} ngx_http_gatehouse_vcache_t;

ngx_int_t ngx_http_gatehouse_vcache_engine_key(
    ngx_http_gatehouse_main_conf_t *gmcf, unsigned char ekey[32],
    char *detail, size_t detail_len);
ngx_int_t ngx_http_gatehouse_vcache_get(struct gh_store *store,
    json_t *record, const unsigned char ekey[32],
    ngx_http_gatehouse_vcache_t *c, ngx_http_gatehouse_verdict_e *verdict,
    char *sig, size_t sig_len);
void ngx_http_gatehouse_vcache_scanned(ngx_http_gatehouse_vcache_t *c,
    ngx_http_gatehouse_verdict_e verdict);
gh_err ngx_http_gatehouse_vcache_put(struct gh_txn *txn,
    ngx_http_gatehouse_vcache_t *c, ngx_http_gatehouse_verdict_e verdict,
    const char *sig);

/* ngx_http_gatehouse_record.c */
json_t *ngx_http_gatehouse_record_new(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f);
void ngx_http_gatehouse_record_set(json_t *rec, const char *status,
    const char *reason);
void ngx_http_gatehouse_record_file(ngx_http_gatehouse_file_t *f);
void ngx_http_gatehouse_record_receiving(ngx_http_gatehouse_ctx_t *ctx);
void ngx_http_gatehouse_record_rejected(ngx_http_gatehouse_ctx_t *ctx,
    const char *reason);
void ngx_http_gatehouse_record_detach(ngx_http_gatehouse_ctx_t *ctx);
json_t *ngx_http_gatehouse_event_infected(json_t *rec);
json_t *ngx_http_gatehouse_record_name(json_t *rec);
void ngx_http_gatehouse_record_names(json_t *obj, json_t *rec);
gh_err ngx_http_gatehouse_record_put(struct gh_txn *txn, json_t *rec,
    uint64_t known_seq, uint64_t *seq, ngx_http_gatehouse_cap_t *cap);

/* ngx_http_gatehouse_space.c */
void ngx_http_gatehouse_space_full(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_http_gatehouse_main_conf_t *gmcf, ngx_err_t err, ngx_log_t *log);
void ngx_http_gatehouse_space_back(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_http_gatehouse_main_conf_t *gmcf, ngx_log_t *log);
void ngx_http_gatehouse_cap_key(ngx_http_request_t *r, char *key,
    size_t size);
void ngx_http_gatehouse_cap_init(ngx_http_gatehouse_cap_t *cap,
    ngx_http_gatehouse_ctx_t *ctx);
void ngx_http_gatehouse_cap_log(ngx_http_gatehouse_cap_t *cap,
    ngx_log_t *log);

/* ngx_http_gatehouse_store.c */
struct gh_store *ngx_http_gatehouse_store(
    ngx_http_gatehouse_main_conf_t *gmcf, ngx_log_t *log);
ngx_int_t ngx_http_gatehouse_store_open(ngx_cycle_t *cycle,
    ngx_http_gatehouse_main_conf_t *gmcf);
void ngx_http_gatehouse_store_close(ngx_http_gatehouse_main_conf_t *gmcf);
gh_err ngx_http_gatehouse_upload_get(struct gh_store *store, uint64_t id,
    json_t **rec);
gh_err ngx_http_gatehouse_store_write(ngx_http_gatehouse_main_conf_t *gmcf,
    gh_txn_fn fn, void *arg);
char *ngx_http_gatehouse_load_conf(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf);

/* ngx_http_gatehouse_pass.c */
ngx_int_t ngx_http_gatehouse_field_begin(ngx_http_gatehouse_ctx_t *ctx,
    const struct gw_mp_part *part);
ngx_int_t ngx_http_gatehouse_field_data(ngx_http_gatehouse_ctx_t *ctx,
    const u_char *data, size_t len);
ngx_int_t ngx_http_gatehouse_pass(ngx_http_gatehouse_ctx_t *ctx,
    json_t *files);

/* ngx_http_gatehouse_status.c */
ngx_int_t ngx_http_gatehouse_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_gatehouse_uri_id(ngx_http_request_t *r, ngx_str_t *s,
    uint64_t *id);

/* ngx_http_gatehouse_links.c */
ngx_int_t ngx_http_gatehouse_unsubscribe_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_gatehouse_download_handler(ngx_http_request_t *r);
char *ngx_http_gatehouse_load_keys(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf);

/* ngx_http_gatehouse_inbox.c */
ngx_int_t ngx_http_gatehouse_inbox_handler(ngx_http_request_t *r);
char *ngx_http_gatehouse_set_inbox(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gatehouse_in_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
json_t *ngx_http_gatehouse_in_item(uint64_t id, const json_t *it);

/* ngx_http_gatehouse_stream.c */
ngx_int_t ngx_http_gatehouse_stream_start(ngx_http_request_t *r,
    ngx_str_t *user);

/* ngx_http_gatehouse_reply.c */
ngx_int_t ngx_http_gatehouse_fail(ngx_http_gatehouse_ctx_t *ctx,
    ngx_int_t status, const char *code, json_t *extra);
ngx_int_t ngx_http_gatehouse_send_body(ngx_http_request_t *r, ngx_buf_t *b);
ngx_int_t ngx_http_gatehouse_send_buf(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, ngx_buf_t *b);
/* body is released; NULL (out of memory) is a 500 */
ngx_int_t ngx_http_gatehouse_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *body);
ngx_int_t ngx_http_gatehouse_add_header(ngx_http_request_t *r,
    const char *key, const char *value);
json_t *ngx_http_gatehouse_json_str(const u_char *s, size_t len,
    unsigned flags);
ngx_int_t ngx_http_gatehouse_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);
ngx_int_t ngx_http_gatehouse_reply_init(ngx_conf_t *cf);

/* ngx_http_gatehouse_events.c */
char *ngx_http_gatehouse_set_events_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gatehouse_events_conf(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf, const struct gh_conf *conf);
char *ngx_http_gatehouse_events_merge(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf);
ngx_int_t ngx_http_gatehouse_events_handler(ngx_http_request_t *r);

#endif /* NGX_HTTP_GATEHOUSE_MODULE_H */
