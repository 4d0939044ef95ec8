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
 * The job's parts, a file each: this one sets the job up in the event loop
 * (its pool, the files' paths, the image step's settings) and hands it to
 * the thread pool (ngx_http_gatehouse_task.c); ngx_http_gatehouse_job_run.c
 * is the work in the pool (steps 1 to 4), with
 * ngx_http_gatehouse_job_move.c for the files' moves and syncs (step 3);
 * ngx_http_gatehouse_job_done.c is the answer back in the event loop.
 * What they share is in ngx_http_gatehouse_job.h.
 *
 * The job lives in a pool of its own and owns what it needs (paths,
 * records), so a request that ends while the job runs (it should not: the
 * job holds r->main->blocked, and nothing reads from the client meanwhile)
 * is still safe: the request's cleanup detaches the job, which then
 * cleans up after itself.
 */
#include <openssl/rand.h>

#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_job.h"


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
