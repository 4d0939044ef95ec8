/*
 * ngx_http_gatehouse_job.c - what happens to an upload once its whole
 * body has arrived and passed the streaming checks, run in nginx's thread
 * pool so that the event loop never waits on a scan, a rename or an
 * fsync:
 *
 *   1. the records go to "scanning" (one write transaction), if scanning
 *      a megabyte or more;
 *   2. each file is scanned with libclamav;
 *   3. the verdict: an infected file is moved to the quarantine directory
 *      (mode 0600) and the request refused with 422; a file libclamav
 *      could not read whole (limits, encryption) or a scanner error refuses
 *      the request or is accepted with a flag, as configured; otherwise
 *      every file is renamed to DIR/CATEGORY/YYYY/MM/DD/NAME.EXT; with
 *      gatehouse_upload_sync (the default) each kept file's data and its
 *      directory are synced first, so a "stored" or "quarantined" record
 *      never outlives its file in a power loss;
 *   3b. images that passed: the image step (ngx_http_gatehouse_image.c),
 *      which may refuse the request (413 image_too_large, 422 bad_image)
 *      or rewrite the temp file and add a thumbnail, moved with the file;
 *   4. the final records, and an upload.infected event per quarantined
 *      file, in one write transaction, so notifyd never hears of an upload
 *      the store does not have (and the other way round).
 *
 * Writes go through the worker's group commit (ngx_http_gatehouse_store.c).
 * Then, back in the event loop, the answer: 201 with JSON, the error, or
 * the request handed on to gatehouse_upload_pass.  A request's files are
 * stored all or none.
 *
 * The job lives in a pool of its own and owns what it needs (paths,
 * records), so a request that ends while the job runs (it should not: the
 * job holds r->main->blocked, and nothing reads from the client meanwhile)
 * is still safe: the request's cleanup detaches the job, which then
 * cleans up after itself.
 */
#include <openssl/rand.h>

#include "ngx_http_gatehouse_module.h"
#include "gatehouse/queue.h"


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


static void ngx_http_gatehouse_job_run(void *data, ngx_log_t *log);
static void ngx_http_gatehouse_job_done(ngx_event_t *ev);


/*
 * A task in the pool, with a timer that holds an exiting worker.  nginx's
 * graceful shutdown (a reload, SIGQUIT) ends a worker as soon as no
 * timer other than cancelable ones is left; a request whose body is in
 * and whose job runs in the pool has none, so the worker would leave
 * without answering it (the client sees the connection closed) and the
 * thread pool's exit would wait for the job for nothing.  The guard is
 * armed while the task is in flight and removed before its done handler
 * runs.
 */
typedef struct {
    ngx_event_t              guard;
    void                    *data;
    void                   (*run)(void *data, ngx_log_t *log);
    ngx_event_handler_pt     done;
} ngx_http_gatehouse_task_t;

#define NGX_HTTP_GATEHOUSE_GUARD_MSEC  60000


static void
ngx_http_gatehouse_task_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_task_t *t = data;

    t->run(t->data, log);
}


static void
ngx_http_gatehouse_task_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_task_t *t = ev->data;

    if (t->guard.timer_set) {
        ngx_del_timer(&t->guard);
    }

    /* the handler may free the pool the task lives in */
    ev->data = t->data;
    t->done(ev);
}


/* A task longer than the guard's time: only keep holding. */
static void
ngx_http_gatehouse_task_guard(ngx_event_t *ev)
{
    ngx_add_timer(ev, NGX_HTTP_GATEHOUSE_GUARD_MSEC);
}


ngx_int_t
ngx_http_gatehouse_post(ngx_http_gatehouse_loc_conf_t *glcf, ngx_pool_t *pool,
    void (*run)(void *data, ngx_log_t *log), ngx_event_handler_pt done,
    void *data, ngx_log_t *log)
{
#if (NGX_THREADS)
    ngx_thread_task_t          *task;
    ngx_http_gatehouse_task_t  *t;

    if (glcf->thread_pool == NULL) {
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(pool, sizeof(ngx_http_gatehouse_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    t = task->ctx;
    ngx_memzero(t, sizeof(ngx_http_gatehouse_task_t));
    t->data = data;
    t->run = run;
    t->done = done;
    t->guard.handler = ngx_http_gatehouse_task_guard;
    t->guard.data = t;
    t->guard.log = log;

    task->handler = ngx_http_gatehouse_task_run;
    task->event.data = t;
    task->event.handler = ngx_http_gatehouse_task_done;
    task->event.log = log;

    if (ngx_thread_task_post(glcf->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_add_timer(&t->guard, NGX_HTTP_GATEHOUSE_GUARD_MSEC);

    return NGX_OK;
#else
    return NGX_ERROR;
#endif
}


/* Paths of one file: final place and quarantine, under a random name. */
static ngx_int_t
ngx_http_gatehouse_job_paths(ngx_http_gatehouse_job_t *job,
    ngx_http_gatehouse_ctx_t *ctx, ngx_http_gatehouse_file_t *f,
    ngx_http_gatehouse_jfile_t *jf, ngx_tm_t *tm)
{
    u_char      rnd[NGX_HTTP_GATEHOUSE_NAME_LEN / 2];
    u_char      name[NGX_HTTP_GATEHOUSE_NAME_LEN + 1], *p;
    size_t      len;
    ngx_str_t  *dir = &ctx->conf->dir, *qdir = &ctx->conf->quarantine;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, ctx->request->connection->log, 0,
                      "gatehouse: RAND_bytes() failed");
        return NGX_ERROR;
    }

    *ngx_hex_dump(name, rnd, sizeof(rnd)) = '\0';

    len = dir->len + 1 + ngx_strlen(f->category->name)
          + sizeof("/YYYY/MM/DD/") - 1;

    jf->dir = ngx_pnalloc(job->pool, len + 1);
    jf->dest = ngx_pnalloc(job->pool,
                           len + sizeof(name) + 1 + ngx_strlen(f->ext) + 1);
    jf->qdest = ngx_pnalloc(job->pool, qdir->len + 1 + sizeof(name));
    if (jf->dir == NULL || jf->dest == NULL || jf->qdest == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(jf->dir, dir->data, dir->len);
    p = ngx_sprintf(p, "/%s/%04d/%02d/%02d/", f->category->name,
                    tm->ngx_tm_year, tm->ngx_tm_mon, tm->ngx_tm_mday);
    len = p - jf->dir;
    *p = '\0';

    p = ngx_cpymem(jf->dest, jf->dir, len);
    (void) ngx_sprintf(p, "%s%s%s%Z", name, f->ext[0] ? "." : "", f->ext);
    jf->url_off = dir->len;

    (void) ngx_sprintf(jf->qdest, "%V/%s%Z", qdir, name);

    return NGX_OK;
}


/* The image step's settings and paths (ngx_http_gatehouse_image.c). */
static ngx_int_t
ngx_http_gatehouse_job_image(ngx_http_gatehouse_job_t *job,
    ngx_http_gatehouse_loc_conf_t *glcf, ngx_http_gatehouse_file_t *f,
    ngx_http_gatehouse_jfile_t *jf)
{
    size_t                       tlen, dlen;
    const char                  *ext;
    ngx_http_gatehouse_image_t  *img = &jf->img;

    ext = ngx_http_gatehouse_image_ext(f->mime);
    tlen = ngx_strlen(jf->temp);
    dlen = ngx_strlen(jf->dir);

    img->strip = glcf->image_strip ? 1 : 0;
    img->max_pixels = glcf->image_max_pixels;
    img->memory = job->main->image_memory;
    img->thumb_width = glcf->thumb_width;
    img->thumb_height = glcf->thumb_height;
    img->thumb_quality = glcf->thumb_quality;
    img->temp = jf->temp;

    img->img_temp = ngx_pnalloc(job->pool, tlen + sizeof(".img"));
    img->thumb_temp = ngx_pnalloc(job->pool, tlen + sizeof(".thumb"));
    jf->thumb_dest = ngx_pnalloc(job->pool,
                                 dlen + NGX_HTTP_GATEHOUSE_NAME_LEN
                                 + sizeof(".thumb.") + ngx_strlen(ext));
    if (img->img_temp == NULL || img->thumb_temp == NULL
        || jf->thumb_dest == NULL)
    {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(img->img_temp, "%s.img%Z", jf->temp);
    (void) ngx_sprintf(img->thumb_temp, "%s.thumb%Z", jf->temp);

    /* the stored name's random part, then .thumb.EXT */
    (void) ngx_sprintf(ngx_cpymem(jf->thumb_dest, jf->dest,
                                  dlen + NGX_HTTP_GATEHOUSE_NAME_LEN),
                       ".thumb.%s%Z", ext);

    jf->image = 1;

    return NGX_OK;
}


/*
 * Hand the request's files to a job in the thread pool.  NGX_OK: the job
 * runs and will finalize the request; otherwise the caller answers with
 * the status returned (the files were not handed over).
 */
ngx_int_t
ngx_http_gatehouse_job_start(ngx_http_gatehouse_ctx_t *ctx)
{
    ngx_tm_t                         tm;
    ngx_uint_t                       i;
    ngx_pool_t                      *pool;
    ngx_http_request_t              *r = ctx->request;
    ngx_http_gatehouse_job_t        *job;
    ngx_http_gatehouse_file_t       *f;
    ngx_http_gatehouse_jfile_t      *jf;
    ngx_http_gatehouse_loc_conf_t   *glcf = ctx->conf;

    /* the job may outlive the request: nothing of it may point there */
    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_gatehouse_job_t));
    if (job == NULL) {
        goto failed;
    }

    job->pool = pool;
    job->main = ctx->main;
    job->conf = glcf;
    job->on_scan_error = glcf->on_scan_error;
    job->on_scan_limit = glcf->on_scan_limit;
    job->on_store_error = glcf->on_store_error;
    job->scan = glcf->scan ? 1 : 0;
    job->sync = glcf->sync ? 1 : 0;
    job->ekey_rc = NGX_AGAIN;
    job->bad = -1;
    job->nfiles = ctx->files.nelts;
    ngx_http_gatehouse_cap_init(&job->cap, ctx);

    if (!ctx->no_store) {
        job->store = ngx_http_gatehouse_store(ctx->main,
                                              r->connection->log);

        if (job->store == NULL && ctx->main->store_path.len) {
            if (glcf->on_store_error == NGX_HTTP_GATEHOUSE_REJECT) {
                ngx_destroy_pool(pool);
                return ngx_http_gatehouse_fail(ctx,
                                               NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "store_unavailable", NULL);
            }

            job->unrecorded = 1;
        }
    }

    job->files = ngx_pcalloc(pool, job->nfiles
                                   * sizeof(ngx_http_gatehouse_jfile_t));
    if (job->files == NULL) {
        goto failed;
    }

    ngx_gmtime(ngx_time(), &tm);

    f = ctx->files.elts;

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        jf->temp = ngx_http_gatehouse_pstrdup(pool, f[i].temp.data,
                                              f[i].temp.len);
        if (jf->temp == NULL
            || ngx_http_gatehouse_job_paths(job, ctx, &f[i], jf, &tm)
               != NGX_OK)
        {
            goto failed;
        }

        jf->size = f[i].size;
        jf->known = f[i].seq;

        if (ngx_http_gatehouse_image_wanted(glcf, f[i].mime)
            && ngx_http_gatehouse_job_image(job, glcf, &f[i], jf) != NGX_OK)
        {
            goto failed;
        }

        /* the request keeps its reference until the job is posted */
        ngx_http_gatehouse_record_file(&f[i]);
        jf->record = f[i].record;
    }

    if (ngx_http_gatehouse_post(glcf, pool, ngx_http_gatehouse_job_run,
                                ngx_http_gatehouse_job_done, job,
                                ngx_cycle->log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: could not post the upload to thread pool "
                      "\"%V\"", &glcf->thread_pool_name);
        goto failed;
    }

    /* from here the job owns the temp files and the records */
    for (i = 0; i < job->nfiles; i++) {
        f[i].record = NULL;
        f[i].handed = 1;
        f[i].temp.data = NULL;
    }

    ctx->job = job;
    job->ctx = ctx;

    /* the request must not be freed while the job runs */
    r->main->blocked++;

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error", NULL);
}


/* The request is ending while its job runs: the job cleans up alone. */
void
ngx_http_gatehouse_job_detach(ngx_http_gatehouse_ctx_t *ctx)
{
    if (ctx->job != NULL) {
        ctx->job->ctx = NULL;
        ctx->job = NULL;
    }
}


/* ---- in a thread of the pool ---- */


static gh_err
ngx_http_gatehouse_put_files(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_job_t *job = arg;

    json_t                      *ev;
    gh_err                       err;
    ngx_uint_t                   i, kept;
    ngx_http_gatehouse_jfile_t  *jf;

    job->cap.skipped = 0;
    job->cap.crossed = 0;
    job->cap.total_crossed = 0;

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];
        jf->seq = 0;

        /* a verdict scanned here goes with the records: no commit of its
         * own (ngx_http_gatehouse_vcache.c) */
        err = ngx_http_gatehouse_vcache_put(txn, &jf->vcache, jf->verdict,
                                            jf->sig);
        if (err != GH_OK) {
            return err;
        }

        kept = jf->moved || jf->quarantined;

        /* a refused request leaves at most one new record: the file
         * that decided (record.c) */
        if (!kept && job->status != 0 && jf->known == 0
            && (ngx_int_t) i != job->bad)
        {
            json_object_set_new(jf->record, "id", json_null());
            continue;
        }

        /* a record of a file not kept (or not yet: "scanning") is small
         * and counts against the client's cap */
        err = ngx_http_gatehouse_record_put(txn, jf->record, jf->known,
                                            &jf->seq,
                                            kept ? NULL : &job->cap);
        if (err != GH_OK) {
            return err;
        }

        if (!jf->quarantined) {
            continue;
        }

        ev = ngx_http_gatehouse_event_infected(jf->record);
        if (ev == NULL) {
            return GH_ENOMEM;
        }

        err = gh_queue_enqueue_txn(txn, ev, gh_now_ms(), 0, NULL, NULL);
        json_decref(ev);

        if (err != GH_OK) {
            return err;
        }
    }

    return GH_OK;
}


/* One write transaction for every record of the job. */
static gh_err
ngx_http_gatehouse_job_write(ngx_http_gatehouse_job_t *job, const char *when)
{
    gh_err      err;
    ngx_uint_t  i, crossed, total_crossed;

    /* each run of the transaction starts these afresh; keep the first
     * write's ("scanning") for the log */
    crossed = job->cap.crossed;
    total_crossed = job->cap.total_crossed;

    err = ngx_http_gatehouse_store_write(job->main,
                                         ngx_http_gatehouse_put_files, job);

    if (err == GH_OK) {
        for (i = 0; i < job->nfiles; i++) {
            job->files[i].known = job->files[i].seq;
        }

        job->cap.crossed |= crossed;
        job->cap.total_crossed |= total_crossed;

        return GH_OK;
    }

    job->cap.crossed = crossed;
    job->cap.total_crossed = total_crossed;

    job->store_err = err;
    job->store_when = when;

    for (i = 0; i < job->nfiles; i++) {
        job->files[i].seq = 0;
        json_object_set_new(job->files[i].record, "id", json_null());
    }

    return err;
}


static void
ngx_http_gatehouse_job_refuse(ngx_http_gatehouse_job_t *job, ngx_uint_t i,
    ngx_int_t status, const char *code)
{
    if (job->status == 0) {
        job->status = status;
        job->code = code;
        job->bad = i;
    }
}


/*
 * Durability (gatehouse_upload_sync on, docs/nginx.md "Durability"): a 201
 * promises that the bytes survive a power loss, so before the record that
 * says "stored" commits, each file's data is synced (fdatasync) and so is
 * the directory that holds its final name (fsync), and, when a day's
 * directory had to be made, each directory above it up to DIR.  All of it
 * runs here, in the thread pool, never on the event loop; while the body
 * arrived, ngx_http_gatehouse_writeback.c already had the pool start
 * writing the file out, so the fdatasync mostly waits for what is left.
 * Measured (make bench-upload-sync) against one syncfs() per group of
 * uploads: no cheaper at 1 KiB nor from 1 MiB, and it
 * writes out every other dirty file of the file system too.  Concurrent
 * fdatasyncs from the pool's threads share ext4's journal commits.
 */


/* fsync/fdatasync of the first len bytes of path: 0 or the errno. */
static ngx_err_t
ngx_http_gatehouse_sync_path(const u_char *path, size_t len, ngx_uint_t dir)
{
    int        fd, rc;
    char       name[NGX_MAX_PATH];
    ngx_err_t  err;

    while (len > 1 && path[len - 1] == '/') {
        len--;
    }

    if (len == 0 || len >= sizeof(name)) {
        return NGX_ENAMETOOLONG;
    }

    ngx_memcpy(name, path, len);
    name[len] = '\0';

    /* a file is ours and never a link; a directory may be: DIR and the
     * quarantine are the admin's and may be symbolic links (the path
     * checks follow them), and syncing the directory a link leads to is
     * what makes an entry there durable */
    fd = open(name, O_RDONLY | O_CLOEXEC
                    | (dir ? O_DIRECTORY : O_NOFOLLOW));
    if (fd == -1) {
        return ngx_errno;
    }

    /* a file's name is its directory's business: its data and size are
     * all fdatasync must write; a directory's entries need fsync */
    rc = dir ? fsync(fd) : fdatasync(fd);
    err = (rc == -1) ? ngx_errno : 0;

    (void) close(fd);

    return err;
}


/* The thumbnail beside its file, once the file is in place; with sync,
 * its data first (the directory both names are in is synced after, by
 * ngx_http_gatehouse_job_sync_dirs). */
static ngx_int_t
ngx_http_gatehouse_job_move_thumb(ngx_http_gatehouse_jfile_t *jf,
    ngx_uint_t sync)
{
    ngx_err_t  err;

    if (!jf->img.thumb) {
        return NGX_OK;
    }

    if (sync) {
        err = ngx_http_gatehouse_sync_path(jf->img.thumb_temp,
                                           ngx_strlen(jf->img.thumb_temp), 0);
        if (err != 0) {
            jf->err = err;
            jf->err_op = "fdatasync";
            return NGX_ERROR;
        }
    }

    if (rename((char *) jf->img.thumb_temp, (char *) jf->thumb_dest) == -1) {
        jf->err = ngx_errno;
        jf->err_op = "rename";
        return NGX_ERROR;
    }

    jf->thumb_moved = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gatehouse_job_fail(ngx_http_gatehouse_jfile_t *jf, ngx_err_t err,
    const char *op, u_char *path)
{
    jf->err = err;
    jf->err_op = op;
    jf->err_path = path;

    return NGX_ERROR;
}


/*
 * DIR/CATEGORY/YYYY/MM/DD/ made below DIR, one level at a time; with sync,
 * the parent of each level is synced after its mkdir, whether this thread
 * made it or another one a moment ago (EEXIST does not say that its entry
 * is on disk yet).  This runs once a day per category, and then only when
 * the rename found no directory.
 */
static ngx_int_t
ngx_http_gatehouse_job_mkdir(ngx_http_gatehouse_jfile_t *jf, ngx_uint_t sync)
{
    u_char     *p, *parent, *dir = jf->dir;
    ngx_err_t   err;

    parent = dir + jf->url_off;        /* the slash after DIR */

    for (p = parent + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';
        err = (mkdir((char *) dir, 0750) == -1) ? ngx_errno : 0;
        *p = '/';

        if (err != 0 && err != NGX_EEXIST) {
            return ngx_http_gatehouse_job_fail(jf, err, "mkdir", dir);
        }

        if (sync) {
            err = ngx_http_gatehouse_sync_path(dir, parent - dir, 1);
            if (err != 0) {
                return ngx_http_gatehouse_job_fail(jf, err, "fsync", dir);
            }
        }

        parent = p;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gatehouse_job_move(ngx_http_gatehouse_jfile_t *jf, ngx_uint_t sync)
{
    ngx_err_t  err;

    /* the data first, while the file still has its temporary name: a
     * failure leaves nothing under DIR */
    if (sync) {
        err = ngx_http_gatehouse_sync_path(jf->temp, ngx_strlen(jf->temp), 0);
        if (err != 0) {
            return ngx_http_gatehouse_job_fail(jf, err, "fdatasync", NULL);
        }
    }

    /* the day's directory usually exists: make it only when missing */
    if (rename((char *) jf->temp, (char *) jf->dest) == 0) {
        jf->moved = 1;
        return ngx_http_gatehouse_job_move_thumb(jf, sync);
    }

    if (ngx_errno != NGX_ENOENT) {
        return ngx_http_gatehouse_job_fail(jf, ngx_errno, "rename", NULL);
    }

    if (ngx_http_gatehouse_job_mkdir(jf, sync) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rename((char *) jf->temp, (char *) jf->dest) == -1) {
        return ngx_http_gatehouse_job_fail(jf, ngx_errno, "rename", NULL);
    }

    jf->moved = 1;

    return ngx_http_gatehouse_job_move_thumb(jf, sync);
}


/*
 * With sync, the directories of the files moved, each once (a request's
 * files mostly share a day's directory): until then a crash may lose the
 * new names though the data is on disk.  -1, or the index of the file
 * whose directory could not be synced.
 */
static ngx_int_t
ngx_http_gatehouse_job_sync_dirs(ngx_http_gatehouse_job_t *job)
{
    ngx_err_t                    err;
    ngx_uint_t                   i, j;
    ngx_http_gatehouse_jfile_t  *jf;

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        if (!jf->moved) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (job->files[j].moved
                && ngx_strcmp(job->files[j].dir, jf->dir) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        err = ngx_http_gatehouse_sync_path(jf->dir, ngx_strlen(jf->dir), 1);
        if (err != 0) {
            (void) ngx_http_gatehouse_job_fail(jf, err, "fsync", jf->dir);
            return i;
        }
    }

    return -1;
}


static void
ngx_http_gatehouse_job_quarantine(ngx_http_gatehouse_jfile_t *jf,
    ngx_uint_t sync)
{
    u_char     *slash;
    ngx_err_t   err;

    /* never served, never readable by anyone but the worker's user */
    if (chmod((char *) jf->temp, 0600) == -1) {
        (void) ngx_http_gatehouse_job_fail(jf, ngx_errno, "quarantine", NULL);
        return;
    }

    /* a record that says "quarantined" names a file that exists */
    if (sync) {
        err = ngx_http_gatehouse_sync_path(jf->temp, ngx_strlen(jf->temp), 0);
        if (err != 0) {
            (void) ngx_http_gatehouse_job_fail(jf, err, "fdatasync", NULL);
            return;
        }
    }

    if (rename((char *) jf->temp, (char *) jf->qdest) == -1) {
        (void) ngx_http_gatehouse_job_fail(jf, ngx_errno, "quarantine", NULL);
        return;
    }

    if (sync) {
        slash = (u_char *) strrchr((char *) jf->qdest, '/');
        err = ngx_http_gatehouse_sync_path(jf->qdest, slash - jf->qdest, 1);

        if (err != 0) {
            (void) ngx_http_gatehouse_job_fail(jf, err, "fsync", jf->qdest);

            /* not kept: the temp name is gone, so the file goes too */
            (void) unlink((char *) jf->qdest);
            return;
        }
    }

    jf->quarantined = 1;
}


/* Moving or syncing file i failed: the request is refused, and a full
 * file system (a new day's directory, or data the disk could not take
 * when synced) is 507 and raises the condition. */
static void
ngx_http_gatehouse_job_store_failed(ngx_http_gatehouse_job_t *job,
    ngx_uint_t i)
{
    if (ngx_http_gatehouse_is_nospace(job->files[i].err)) {
        job->nospace = job->files[i].err;
        ngx_http_gatehouse_job_refuse(job, i,
                                      NGX_HTTP_GATEHOUSE_INSUFFICIENT_STORAGE,
                                      "insufficient_storage");
        return;
    }

    ngx_http_gatehouse_job_refuse(job, i, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "store_failed");
}


/*
 * The verdict cache, before a scan (in the pool's thread): 1 if the file's
 * verdict was found (jf->verdict and jf->sig are set).  Without a store
 * there is no cache, and nothing would be written after the scan either.
 */
static ngx_int_t
ngx_http_gatehouse_job_cached(ngx_http_gatehouse_job_t *job,
    ngx_http_gatehouse_jfile_t *jf)
{
    if (!job->main->scan_cache || job->store == NULL) {
        return 0;
    }

    if (job->ekey_rc == NGX_AGAIN) {
        job->ekey_rc = ngx_http_gatehouse_vcache_engine_key(
                           job->main, job->ekey, job->ekey_err,
                           sizeof(job->ekey_err));
    }

    if (job->ekey_rc != NGX_OK) {
        return 0;
    }

    return ngx_http_gatehouse_vcache_get(job->store, jf->record, job->ekey,
                                         &jf->vcache, &jf->verdict, jf->sig,
                                         sizeof(jf->sig)) == NGX_OK;
}


static void
ngx_http_gatehouse_job_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_job_t *job = data;

    off_t                        total;
    ngx_int_t                    infected, bad;
    ngx_uint_t                   i;
    ngx_http_gatehouse_jfile_t  *jf;

    /*
     * "scanning" is worth a write only when the scan will last: a status
     * request could never see it for small files, and the write (an
     * fsync) would cost more than their scan.
     */
    for (i = 0, total = 0; i < job->nfiles; i++) {
        total += job->files[i].size;
    }

    if (job->scan && job->store != NULL
        && total >= NGX_HTTP_GATEHOUSE_SCANNING_RECORD)
    {
        for (i = 0; i < job->nfiles; i++) {
            ngx_http_gatehouse_record_set(job->files[i].record, "scanning",
                                          NULL);
        }

        if (ngx_http_gatehouse_job_write(job, "before the scan") != GH_OK) {
            if (job->on_store_error == NGX_HTTP_GATEHOUSE_REJECT) {
                ngx_http_gatehouse_job_refuse(job, 0,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "store_unavailable");
                goto discard;
            }

            job->store = NULL;
            job->unrecorded = 1;
        }
    }

    infected = -1;

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        if (job->scan && !ngx_http_gatehouse_job_cached(job, jf)) {
            jf->verdict = ngx_http_gatehouse_scan_file(job->main,
                                                       (char *) jf->temp,
                                                       jf->size, jf->sig,
                                                       sizeof(jf->sig));
            ngx_http_gatehouse_vcache_scanned(&jf->vcache, jf->verdict);
        }

        switch (jf->verdict) {

        case NGX_HTTP_GATEHOUSE_INFECTED:
            if (infected == -1) {
                infected = i;
            }
            break;

        case NGX_HTTP_GATEHOUSE_UNSCANNABLE:
            if (job->on_scan_limit == NGX_HTTP_GATEHOUSE_REJECT) {
                ngx_http_gatehouse_job_refuse(job, i, 422, "unscannable");
            }
            break;

        case NGX_HTTP_GATEHOUSE_SCAN_ERROR:
            if (job->on_scan_error == NGX_HTTP_GATEHOUSE_REJECT) {
                ngx_http_gatehouse_job_refuse(job, i,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "scan_failed");
            }
            break;

        default:
            break;
        }
    }

    if (infected != -1) {
        /* infection wins over any other refusal */
        job->status = 0;
        ngx_http_gatehouse_job_refuse(job, infected, 422, "infected");
    }

    /* images: checked, turned upright, stripped, thumbnailed; only what
     * the scan let through, before anything is moved into place */
    for (i = 0; i < job->nfiles && job->status == 0; i++) {
        jf = &job->files[i];

        if (!jf->image) {
            continue;
        }

        ngx_http_gatehouse_image_run(&jf->img);

        if (jf->img.status == 0) {
            continue;
        }

        if (jf->img.status == NGX_HTTP_GATEHOUSE_INSUFFICIENT_STORAGE) {
            job->nospace = jf->img.err;
        }

        ngx_http_gatehouse_job_refuse(job, i, jf->img.status, jf->img.code);
    }

    for (i = 0; i < job->nfiles && job->status == 0; i++) {
        if (ngx_http_gatehouse_job_move(&job->files[i], job->sync)
            != NGX_OK)
        {
            ngx_http_gatehouse_job_store_failed(job, i);
        }
    }

    if (job->status == 0 && job->sync) {
        bad = ngx_http_gatehouse_job_sync_dirs(job);
        if (bad != -1) {
            ngx_http_gatehouse_job_store_failed(job, bad);
        }
    }

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        if (job->status != 0 && jf->thumb_moved) {
            if (unlink((char *) jf->thumb_dest) == 0) {
                jf->thumb_moved = 0;
            }
        }

        if (job->status != 0 && jf->moved) {
            /* all or nothing: take back what was moved */
            if (unlink((char *) jf->dest) == 0) {
                jf->moved = 0;
            }
        }

        if (jf->verdict == NGX_HTTP_GATEHOUSE_INFECTED) {
            ngx_http_gatehouse_job_quarantine(jf, job->sync);
        }

        if (jf->quarantined) {
            jf->status = "quarantined";
            jf->reason = "infected";

        } else if (job->status != 0) {
            jf->status = "rejected";
            jf->reason = ((ngx_int_t) i == job->bad) ? job->code
                                                     : "other_file_refused";
        } else {
            jf->status = "stored";
            jf->reason = NULL;
        }

        json_object_set_new(jf->record, "scan",
                            json_string(ngx_http_gatehouse_verdict_name(
                                            jf->verdict)));

        if (jf->vcache.hit) {
            json_object_set_new(jf->record, "scan_cached", json_true());
        }

        if (jf->sig[0] != '\0') {
            json_object_set_new(jf->record,
                                jf->verdict == NGX_HTTP_GATEHOUSE_SCAN_ERROR
                                ? "scan_error" : "signature",
                                json_string(jf->sig));
        }

        if (jf->moved) {
            json_object_set_new(jf->record, "stored_name",
                                json_string((char *) jf->dest));
            json_object_set_new(jf->record, "url",
                                json_string((char *) jf->dest
                                            + jf->url_off));

        } else if (jf->quarantined) {
            json_object_set_new(jf->record, "stored_name",
                                json_string((char *) jf->qdest));
        }

        if (jf->image && jf->moved) {
            ngx_http_gatehouse_image_record(&jf->img, jf->record);
        }

        if (jf->thumb_moved) {
            json_object_set_new(jf->record, "thumb_name",
                                json_string((char *) jf->thumb_dest));
            json_object_set_new(jf->record, "thumb_url",
                                json_string((char *) jf->thumb_dest
                                            + jf->url_off));
        }

        ngx_http_gatehouse_record_set(jf->record, jf->status, jf->reason);
    }

    if (job->store != NULL
        && ngx_http_gatehouse_job_write(job, "after the scan") != GH_OK)
    {
        job->unrecorded = 1;

        if (job->status == 0
            && job->on_store_error == NGX_HTTP_GATEHOUSE_REJECT)
        {
            /* an upload nobody can look up is not kept */
            for (i = 0; i < job->nfiles; i++) {
                jf = &job->files[i];

                if (jf->moved && unlink((char *) jf->dest) == 0) {
                    jf->moved = 0;
                }

                if (jf->thumb_moved
                    && unlink((char *) jf->thumb_dest) == 0)
                {
                    jf->thumb_moved = 0;
                }

                jf->status = "rejected";
            }

            ngx_http_gatehouse_job_refuse(job, 0,
                                          NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "store_unavailable");
        }
    }

discard:

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        if (!jf->moved && !jf->quarantined) {
            (void) unlink((char *) jf->temp);
        }

        if (jf->img.thumb && !jf->thumb_moved) {
            (void) unlink((char *) jf->img.thumb_temp);
        }
    }
}


/* ---- back in the event loop ---- */


static void
ngx_http_gatehouse_job_log(ngx_http_gatehouse_job_t *job, ngx_log_t *log)
{
    ngx_uint_t                   i;
    ngx_http_gatehouse_jfile_t  *jf;

    if (job->store_err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "gatehouse: store: recording upload(s) %s failed: %s",
                      job->store_when, gh_strerror(job->store_err));
    }

    ngx_http_gatehouse_cap_log(&job->cap, log);

    if (job->ekey_rc == NGX_DECLINED && job->ekey_err[0] != '\0') {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "gatehouse: scan cache not used: %s", job->ekey_err);
    }

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        if (jf->err_op != NULL && !ngx_http_gatehouse_is_nospace(jf->err)) {
            ngx_log_error(NGX_LOG_CRIT, log, jf->err,
                          "gatehouse: %s of \"%s\" failed", jf->err_op,
                          jf->err_path ? jf->err_path : jf->temp);
        }

        if (jf->img.err_op != NULL
            && !ngx_http_gatehouse_is_nospace(jf->img.err))
        {
            ngx_log_error(NGX_LOG_CRIT, log, jf->img.err,
                          "gatehouse: image %s for \"%s\" failed",
                          jf->img.err_op, jf->temp);

        } else if (jf->img.code != NULL) {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "gatehouse: image refused: %s: %s", jf->img.code,
                          jf->img.message);
        }

        switch (jf->verdict) {

        case NGX_HTTP_GATEHOUSE_INFECTED:
            if (!jf->quarantined) {
                /* the quarantine failed (logged above): nothing kept */
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "gatehouse: upload %uL infected with %s, "
                              "removed (not quarantined)", jf->seq, jf->sig);
                break;
            }

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "gatehouse: upload %uL infected with %s%s, "
                          "quarantined as \"%s\"", jf->seq, jf->sig,
                          jf->vcache.hit ? " (cached)" : "", jf->qdest);
            break;

        case NGX_HTTP_GATEHOUSE_CLEAN:
            if (jf->vcache.hit) {
                ngx_log_error(NGX_LOG_INFO, log, 0,
                              "gatehouse: upload %uL scan: clean (cached)",
                              jf->seq);
            }
            break;

        case NGX_HTTP_GATEHOUSE_UNSCANNABLE:
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "gatehouse: upload %uL could not be scanned "
                          "whole: %s, %s", jf->seq, jf->sig, jf->status);
            break;

        case NGX_HTTP_GATEHOUSE_SCAN_ERROR:
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "gatehouse: scanning upload %uL failed: %s, %s",
                          jf->seq, jf->sig, jf->status);
            break;

        default:
            break;
        }
    }
}


/* The answer's object for one file. */
static json_t *
ngx_http_gatehouse_job_file_json(ngx_http_gatehouse_jfile_t *jf)
{
    json_t      *one, *rec = jf->record;
    const char  *keys[] = { "field", "size", "mime", "sha256", "category",
                            "status", "scan", "url", "user",
                            "width", "height", "metadata", "stored_size",
                            "stored_sha256", "thumb_url", "thumb_width",
                            "thumb_height", NULL };
    ngx_uint_t   i;

    one = json_object();
    if (one == NULL) {
        return NULL;
    }

    json_object_set_new(one, "id", jf->seq ? json_integer(jf->seq)
                                            : json_null());
    ngx_http_gatehouse_record_names(one, rec);

    for (i = 0; keys[i] != NULL; i++) {
        json_object_set(one, keys[i], json_object_get(rec, keys[i]));
    }

    if (jf->verdict == NGX_HTTP_GATEHOUSE_INFECTED
        || jf->verdict == NGX_HTTP_GATEHOUSE_UNSCANNABLE)
    {
        json_object_set_new(one, "signature", json_string(jf->sig));
    }

    if (jf->reason != NULL) {
        json_object_set_new(one, "reason", json_string(jf->reason));
    }

    return one;
}


static json_t *
ngx_http_gatehouse_job_files_json(ngx_http_gatehouse_job_t *job)
{
    json_t      *files, *one;
    ngx_uint_t   i;

    files = json_array();
    if (files == NULL) {
        return NULL;
    }

    for (i = 0; i < job->nfiles; i++) {
        one = ngx_http_gatehouse_job_file_json(&job->files[i]);

        if (one == NULL || json_array_append_new(files, one) != 0) {
            json_decref(files);
            return NULL;
        }
    }

    return files;
}


static void
ngx_http_gatehouse_job_free(ngx_http_gatehouse_job_t *job)
{
    ngx_uint_t  i;

    for (i = 0; i < job->nfiles; i++) {
        json_decref(job->files[i].record);
    }

    ngx_destroy_pool(job->pool);
}


static ngx_int_t
ngx_http_gatehouse_job_answer(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_job_t *job)
{
    json_t                      *files, *body, *extra;
    ngx_int_t                    rc;
    ngx_http_gatehouse_jfile_t  *jf;

    files = ngx_http_gatehouse_job_files_json(job);
    if (files == NULL) {
        return ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error", NULL);
    }

    if (job->status != 0) {
        extra = json_object();
        if (extra == NULL) {
            json_decref(files);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (job->bad >= 0) {
            jf = &job->files[job->bad];

            ngx_http_gatehouse_record_names(extra, jf->record);

            if (jf->verdict == NGX_HTTP_GATEHOUSE_INFECTED
                || jf->verdict == NGX_HTTP_GATEHOUSE_UNSCANNABLE)
            {
                json_object_set_new(extra, "signature",
                                    json_string(jf->sig));
            }

            if (jf->quarantined && jf->seq) {
                json_object_set_new(extra, "id", json_integer(jf->seq));
            }

            if (jf->img.code != NULL && jf->img.message[0] != '\0') {
                json_object_set_new(extra, "message",
                                    json_string(jf->img.message));
            }

            if (jf->img.code != NULL
                && ngx_strcmp(jf->img.code, "image_too_large") == 0)
            {
                json_object_set_new(extra, "pixels",
                                    json_integer(jf->img.pixels));
                json_object_set_new(extra, "max_pixels",
                                    json_integer(jf->img.max_pixels));
            }

            /* the budget's refusals: what it needed, what there is */
            if (jf->img.code != NULL && jf->img.cost > 0
                && (ngx_strcmp(jf->img.code, "image_too_large") == 0
                    || ngx_strcmp(jf->img.code, "busy") == 0))
            {
                json_object_set_new(extra, "memory_needed",
                                    json_integer(jf->img.cost));
                json_object_set_new(extra, "max_memory",
                                    json_integer(jf->img.memory));
            }

            if (jf->img.code != NULL && ngx_strcmp(jf->img.code, "busy") == 0
                && ngx_http_gatehouse_add_header(ctx->request, "Retry-After",
                                                 "5") != NGX_OK)
            {
                json_decref(extra);
                json_decref(files);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        json_object_set_new(extra, "files", files);

        return ngx_http_gatehouse_fail(ctx, job->status, job->code, extra);
    }

    if (ctx->conf->pass.len) {
        rc = ngx_http_gatehouse_pass(ctx, files);
        json_decref(files);
        return rc;
    }

    /* the first file's fields at the top, for the usual one-file form */
    body = json_deep_copy(json_array_get(files, 0));
    if (body == NULL || json_object_set_new(body, "files", files) != 0) {
        json_decref(body);
        json_decref(files);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_gatehouse_send_json(ctx->request, NGX_HTTP_CREATED, body);
}


static void
ngx_http_gatehouse_job_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_job_t *job = ev->data;

    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_gatehouse_ctx_t   *ctx = job->ctx;
    ngx_http_gatehouse_file_t  *f;

    /* the upload directory's state, whoever is still waiting */
    if (job->nospace) {
        ngx_http_gatehouse_space_full(job->conf, job->main, job->nospace,
                                      ngx_cycle->log);

    } else if (job->status == 0) {
        ngx_http_gatehouse_space_back(job->conf, job->main,
                                      ctx ? ctx->request->connection->log
                                          : ngx_cycle->log);
    }

    if (ctx == NULL) {
        ngx_http_gatehouse_job_log(job, ngx_cycle->log);
        ngx_http_gatehouse_job_free(job);
        return;
    }

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_gatehouse_job_log(job, c->log);

    r->main->blocked--;
    ctx->job = NULL;

    if (job->unrecorded) {
        ctx->no_store = 1;
    }

    /* the job wrote their records, or could not: nothing is left to do */
    f = ctx->files.elts;
    for (i = 0; i < ctx->files.nelts; i++) {
        f[i].recorded = 1;
    }

    rc = ngx_http_gatehouse_job_answer(ctx, job);

    ngx_http_gatehouse_job_free(job);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
