/*
 * ngx_http_gatehouse_job_run.c - an upload's job in a thread of nginx's
 * pool, steps 1 to 4 of ngx_http_gatehouse_job.c: the "scanning" records,
 * each file's verdict (the verdict cache, or a scan), the image step, the
 * files moved into place (ngx_http_gatehouse_job_move.c) or refused all
 * together, quarantine, and the final records and events in one write
 * transaction.  Everything here may wait (a scan, a lock, an fsync), so
 * none of it runs in the event loop: ngx_http_gatehouse_job_done.c takes
 * over from there.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_job.h"
#include "gatehouse/queue.h"


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


void
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
