/*
 * ngx_http_gatehouse_job_done.c - an upload's job back in the event loop:
 * the upload directory's condition (ngx_http_gatehouse_space.c), what the
 * job found logged, the answer (201 with JSON, the error, or the request
 * handed on to gatehouse_upload_pass) and the job freed; when the request
 * ended meanwhile, only the log and the cleanup.  Apart from the pool's
 * side (ngx_http_gatehouse_job_run.c): this never waits, that may.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_job.h"


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


void
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
