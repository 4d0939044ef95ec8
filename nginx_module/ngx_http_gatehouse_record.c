/*
 * ngx_http_gatehouse_record.c - upload records in the store's uploads
 * database, and the upload.infected event.
 *
 * A record (docs/store.md, "uploads") is keyed by a be64 sequence number
 * from gh_txn_next_seq(txn, "upload"), which is also the upload's public id
 * (JSON answers, pass mode, status, download tokens).  Its value is JSON:
 *
 *   v, id, user, field, original_name, stored_name, url, size, category,
 *   mime, sha256, scan, signature, scan_error, status, reason,
 *   client_addr, uri, created_at, updated_at   (times: ms since the epoch)
 *
 * Status moves receiving -> scanning -> stored | quarantined | rejected.
 * Only states that last are written: "receiving" when a file part is still
 * arriving a second after a read first left it incomplete (one write per
 * file, from the event loop, best effort, bounded by the lock deadline),
 * "scanning" before the scan of a job of 1 MiB or more, then the final
 * state; an upload over within that second gets one write.  Writes after
 * the body are made in the thread pool (ngx_http_gatehouse_job.c); the records of a refused or
 * abandoned request are written there too, by a job that owns copies of
 * them and outlives the request.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/queue.h"


typedef struct {
    json_t                     *rec;
    uint64_t                    known;
    uint64_t                    seq;
} ngx_http_gatehouse_put_t;


typedef struct {
    ngx_pool_t                 *pool;
    ngx_http_gatehouse_main_conf_t  *main;
    struct gh_store            *store;
    ngx_uint_t                  n;
    ngx_http_gatehouse_put_t   *items;
    gh_err                      err;
} ngx_http_gatehouse_reject_job_t;


static int64_t
ngx_http_gatehouse_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


json_t *
ngx_http_gatehouse_record_new(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f)
{
    int64_t              now;
    ngx_http_request_t  *r = ctx->request;

    now = ngx_http_gatehouse_now_ms();

    return json_pack("{s:i, s:n, s:o, s:o, s:o, s:n, s:n, s:I, s:s, s:s,"
                     " s:s, s:s, s:n, s:s, s:n, s:o, s:o, s:I, s:I}",
                     "v", 1,
                     "id",
                     "user",
                     ctx->user.len
                         ? ngx_http_gatehouse_json_str(ctx->user.data,
                                                       ctx->user.len)
                         : json_null(),
                     "field",
                     ngx_http_gatehouse_json_str(f->field.data,
                                                 f->field.len),
                     "original_name",
                     ngx_http_gatehouse_json_str(f->name.data, f->name.len),
                     "stored_name",
                     "url",
                     "size", (json_int_t) f->size,
                     "category", f->category ? f->category->name : "",
                     "mime", "",
                     "sha256", "",
                     "scan", "not_scanned",
                     "signature",
                     "status", "receiving",
                     "reason",
                     "client_addr",
                     ngx_http_gatehouse_json_str(
                         r->connection->addr_text.data,
                         r->connection->addr_text.len),
                     "uri",
                     ngx_http_gatehouse_json_str(r->uri.data, r->uri.len),
                     "created_at", (json_int_t) now,
                     "updated_at", (json_int_t) now);
}


/* What the event loop learnt about the file since the record was made. */
void
ngx_http_gatehouse_record_file(ngx_http_gatehouse_file_t *f)
{
    json_object_set_new(f->record, "size", json_integer(f->size));
    json_object_set_new(f->record, "mime", json_string((char *) f->mime));
    json_object_set_new(f->record, "sha256",
                        json_string((char *) f->sha256));
}


void
ngx_http_gatehouse_record_set(json_t *rec, const char *status,
    const char *reason)
{
    json_object_set_new(rec, "status", json_string(status));
    json_object_set_new(rec, "reason",
                        reason ? json_string(reason) : json_null());
    json_object_set_new(rec, "updated_at",
                        json_integer(ngx_http_gatehouse_now_ms()));
}


/*
 * Write rec under its id, inside txn: known_seq if the upload has a
 * record already, a new number otherwise (the last key: appended).  *seq
 * receives the id, which is also set in rec.
 */
int
ngx_http_gatehouse_record_put(struct gh_txn *txn, json_t *rec,
    uint64_t known_seq, uint64_t *seq)
{
    char          *text;
    gh_err         err;
    unsigned char  key[8];

    *seq = known_seq;

    if (known_seq == 0) {
        err = gh_txn_next_seq(txn, "upload", seq);
        if (err != GH_OK) {
            return err;
        }
    }

    if (json_object_set_new(rec, "id", json_integer((json_int_t) *seq))
        != 0)
    {
        return GH_ENOMEM;
    }

    gh_put_be64(key, *seq);

    if (known_seq != 0) {
        return gh_txn_put_json(txn, GH_DB_UPLOADS, key, sizeof(key), rec);
    }

    /* a new number sorts last: LMDB appends without a search */
    text = json_dumps(rec, JSON_COMPACT);
    if (text == NULL) {
        return GH_ENOMEM;
    }

    err = (strlen(text) > GH_RECORD_MAX)
          ? GH_ETOOBIG
          : gh_txn_put_append(txn, GH_DB_UPLOADS, key, sizeof(key), text,
                              strlen(text));
    free(text);

    return err;
}


static gh_err
ngx_http_gatehouse_put_one(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_put_t *put = arg;

    return ngx_http_gatehouse_record_put(txn, put->rec, put->known,
                                         &put->seq);
}


/*
 * The file part is still arriving: record it as "receiving" now, from the
 * event loop (one short write per file, bounded by the lock deadline).
 * NGX_ERROR when the store failed; the caller applies on_store_error.
 */
ngx_int_t
ngx_http_gatehouse_record_receiving(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f)
{
    gh_err                     err;
    struct gh_store           *store;
    ngx_http_gatehouse_put_t   put;

    if (ctx->no_store || f->seq != 0 || f->record == NULL) {
        return NGX_OK;
    }

    store = ngx_http_gatehouse_store(ctx->main,
                                     ctx->request->connection->log);
    if (store == NULL) {
        return ctx->main->store_path.len ? NGX_ERROR : NGX_OK;
    }

    ngx_http_gatehouse_record_file(f);
    ngx_http_gatehouse_record_set(f->record, "receiving", NULL);

    put.rec = f->record;
    put.known = 0;
    put.seq = 0;

    err = gh_store_update(store, ngx_http_gatehouse_put_one, &put);
    if (err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "gatehouse: store: recording an upload failed: %s",
                      gh_strerror(err));
        return NGX_ERROR;
    }

    f->seq = put.seq;

    return NGX_OK;
}


static gh_err
ngx_http_gatehouse_put_rejected(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_reject_job_t *job = arg;

    gh_err      err;
    ngx_uint_t  i;

    for (i = 0; i < job->n; i++) {
        err = ngx_http_gatehouse_record_put(txn, job->items[i].rec,
                                            job->items[i].known,
                                            &job->items[i].seq);
        if (err != GH_OK) {
            return err;
        }
    }

    return GH_OK;
}


/* In a thread of the pool. */
static void
ngx_http_gatehouse_reject_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_reject_job_t *job = data;

    job->err = ngx_http_gatehouse_store_write(job->main,
                                              ngx_http_gatehouse_put_rejected,
                                              job);
}


/* Back in the event loop; the request may be long gone. */
static void
ngx_http_gatehouse_reject_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_reject_job_t *job = ev->data;

    ngx_uint_t  i;

    if (job->err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gatehouse: store: recording %ui refused upload(s) "
                      "failed: %s", job->n, gh_strerror(job->err));
    }

    for (i = 0; i < job->n; i++) {
        json_decref(job->items[i].rec);
    }

    ngx_destroy_pool(job->pool);
}


/*
 * Record every file of the request that has no final record yet as
 * rejected for reason (the file being received when it happened, if any;
 * the others for "other_file_refused"), in a job of the thread pool that
 * owns copies of the records: the request may end before it runs.
 */
void
ngx_http_gatehouse_record_rejected(ngx_http_gatehouse_ctx_t *ctx,
    const char *reason)
{
    ngx_uint_t                        i, n;
    ngx_pool_t                       *pool;
    struct gh_store                  *store;
    ngx_http_gatehouse_file_t        *f;
    ngx_http_gatehouse_reject_job_t  *job;

    if (ctx->no_store || ctx->files.elts == NULL) {
        return;
    }

    f = ctx->files.elts;
    n = 0;

    for (i = 0; i < ctx->files.nelts; i++) {
        if (f[i].record != NULL && !f[i].recorded && !f[i].handed) {
            n++;
        }
    }

    if (n == 0) {
        return;
    }

    store = ngx_http_gatehouse_store(ctx->main, ngx_cycle->log);
    if (store == NULL) {
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_gatehouse_reject_job_t));
    if (job == NULL) {
        goto failed;
    }

    job->items = ngx_pcalloc(pool, n * sizeof(ngx_http_gatehouse_put_t));
    if (job->items == NULL) {
        goto failed;
    }

    job->pool = pool;
    job->main = ctx->main;
    job->store = store;

    for (i = 0; i < ctx->files.nelts; i++) {
        if (f[i].record == NULL || f[i].recorded || f[i].handed) {
            continue;
        }

        ngx_http_gatehouse_record_file(&f[i]);
        ngx_http_gatehouse_record_set(f[i].record, "rejected",
                                      (ctx->cur == NULL || ctx->cur == &f[i])
                                      ? reason : "other_file_refused");

        job->items[job->n].rec = f[i].record;
        job->items[job->n].known = f[i].seq;
        job->n++;

        f[i].record = NULL;
        f[i].recorded = 1;
    }

    if (ngx_http_gatehouse_post(ctx->conf, pool,
                                ngx_http_gatehouse_reject_run,
                                ngx_http_gatehouse_reject_done, job,
                                ngx_cycle->log)
        == NGX_OK)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "gatehouse: could not post the records of %ui refused "
                  "upload(s) to the thread pool", job->n);

    for (i = 0; i < job->n; i++) {
        json_decref(job->items[i].rec);
    }

failed:

    ngx_destroy_pool(pool);
}


/* The upload.infected event for a quarantined file's record. */
json_t *
ngx_http_gatehouse_event_infected(json_t *rec)
{
    char         title[320], message[768];
    json_t      *ev, *user, *meta;
    const char  *name, *sig, *client;

    name = json_string_value(json_object_get(rec, "original_name"));
    sig = json_string_value(json_object_get(rec, "signature"));
    client = json_string_value(json_object_get(rec, "client_addr"));
    user = json_object_get(rec, "user");

    if (name == NULL || sig == NULL) {
        return NULL;
    }

    (void) snprintf(title, sizeof(title), "Upload quarantined: %s", name);
    (void) snprintf(message, sizeof(message),
                    "The file %s (%" JSON_INTEGER_FORMAT " bytes) uploaded "
                    "from %s contained %s. It was quarantined and nobody "
                    "received it.", name,
                    json_integer_value(json_object_get(rec, "size")),
                    client ? client : "?", sig);

    meta = json_pack("{s:O, s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O}",
                     "upload_id", json_object_get(rec, "id"),
                     "filename", name,
                     "signature", sig,
                     "sha256", json_object_get(rec, "sha256"),
                     "size", json_object_get(rec, "size"),
                     "mime", json_object_get(rec, "mime"),
                     "category", json_object_get(rec, "category"),
                     "client_addr", json_object_get(rec, "client_addr"),
                     "uri", json_object_get(rec, "uri"));
    if (meta == NULL) {
        return NULL;
    }

    ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:o}",
                   "type", "upload.infected",
                   "category", "security",
                   "title", title,
                   "message", message,
                   "priority", 3,
                   "source", "nginx",
                   "metadata", meta);
    if (ev == NULL) {
        return NULL;
    }

    /*
     * An anonymous upload has no user to tell: the event goes to the
     * admin recipients notifyd keeps for upload.infected.
     */
    if (json_is_string(user) && json_string_length(user) > 0) {
        json_object_set(ev, "user", user);

    } else {
        json_object_set_new(ev, "recipients", json_pack("[s]", "admins"));
    }

    return ev;
}
