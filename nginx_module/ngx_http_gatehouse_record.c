/*
 * ngx_http_gatehouse_record.c - upload records in the store's uploads
 * database, the upload.infected and upload.storage_full events, and the
 * cap on records of uploads that are not kept.
 *
 * A record's key, members and versions are the uploads database's,
 * defined in gatehouse/uploads.h: keyed by its id from the counter
 * GH_UPLOAD_SEQ, which is also the upload's public id (JSON answers, pass
 * mode, status, download tokens); written here with gh_upload_add_txn and
 * gh_upload_put_txn.  v 2 (written): original_name is the client's
 * filename escaped (gh_text_escape: any bytes, safe in JSON, terminals and
 * logs, at most GH_FN_ORIG_MAX bytes), display_name the safe name shown
 * and checked (gh_fn_sanitize); a v 1 record's original_name is the safe
 * name, which gh_upload_display_json gives for either.
 *
 * Status moves receiving -> scanning -> stored | quarantined | rejected.
 * Only states that last are written: "receiving" when a file part is still
 * arriving a second after a read first left it incomplete, "scanning"
 * before the scan of a job of 1 MiB or more, then the final state; an
 * upload over within that second gets one write.  Every write is made in
 * the thread pool, never in the event loop: "receiving" by a task of its
 * own (the upload goes on meanwhile), the rest by the upload's job
 * (ngx_http_gatehouse_job.c), and the records of a refused or abandoned
 * request by a job that owns copies of them and outlives the request.
 * While a "receiving" write is under way its id is not known yet, so what
 * needs it waits for it: the upload's job starts, or the refused records
 * are written, once it is done.
 *
 * Uploads not kept.  A refused or abandoned request leaves at most one new
 * record (the file that decided; files already in the store are updated),
 * and such records are small: client-supplied strings are cut short.  An
 * anonymous client could still grow the store with one record per request,
 * so every record created for an upload that is not (yet) kept -- rejected,
 * aborted, receiving, scanning -- counts against its client address (IPv6:
 * its /64) in the store's rate counters, "nginx:refused:ADDR", and against
 * all addresses together, "nginx:refused-all"
 * (gatehouse_upload_refused_records N window=TIME total=N).  Beyond either
 * cap the record is not written; the final record of a stored or
 * quarantined upload always is.  An address's counter is made in the same
 * transaction as the record it allows, and stale counters are swept a few
 * at a time, so the counters are bounded by the records too.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/event.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "gatehouse/uploads.h"
#include "gatehouse/text.h"


#define NGX_HTTP_GATEHOUSE_CAP_PREFIX  "nginx:refused:"
#define NGX_HTTP_GATEHOUSE_CAP_ALL     "nginx:refused-all"
#define NGX_HTTP_GATEHOUSE_CAP_SWEEP   16


typedef struct {
    json_t                     *rec;
    uint64_t                    known;
    uint64_t                    seq;
    unsigned                    update_only:1;  /* only over a record the
                                                   store already has */
} ngx_http_gatehouse_put_t;


typedef struct {
    ngx_pool_t                      *pool;
    ngx_http_gatehouse_main_conf_t  *main;
    ngx_http_gatehouse_loc_conf_t   *conf;   /* the thread pool */
    ngx_uint_t                       n;
    ngx_http_gatehouse_put_t        *items;
    ngx_http_gatehouse_cap_t         cap;
    gh_err                           err;
} ngx_http_gatehouse_reject_job_t;


/* A "receiving" record written from the thread pool. */
struct ngx_http_gatehouse_rtask_s {
    ngx_pool_t                      *pool;
    ngx_http_gatehouse_ctx_t        *ctx;    /* NULL once the request ended */
    ngx_http_gatehouse_main_conf_t  *main;
    ngx_http_gatehouse_loc_conf_t   *conf;
    ngx_uint_t                       file;   /* index in ctx->files */
    json_t                          *rec;    /* owned copy */
    uint64_t                         seq;
    gh_err                           err;
    ngx_http_gatehouse_cap_t         cap;
    ngx_http_gatehouse_reject_job_t *then;   /* posted once this is done */
    ngx_int_t                        then_item;  /* its item for this file */
};


/* Client-supplied strings of a record of an upload not kept, in bytes;
 * the escaped ones (gh_text_escape) are cut between two escapes, marked. */
static const struct {
    const char  *key;
    size_t       max;
    ngx_uint_t   escaped;
} ngx_http_gatehouse_small[] = {
    { "user", 128, 1 },
    { "field", 64, 1 },
    { "original_name", 128, 1 },
    { "display_name", 128, 0 },
    { "uri", 128, 1 },
    { "mime", 128, 0 },
    { "reason", 64, 0 },
    { NULL, 0, 0 }
};


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

    return json_pack("{s:i, s:n, s:o, s:o, s:o, s:o, s:n, s:n, s:I, s:s,"
                     " s:s, s:s, s:s, s:n, s:s, s:n, s:o, s:o, s:I, s:I}",
                     "v", GH_UPLOAD_V,
                     "id",
                     "user",
                     ctx->user.len
                         ? ngx_http_gatehouse_json_str(ctx->user.data,
                                                       ctx->user.len,
                                                       GH_TEXT_IDENT)
                         : json_null(),
                     "field",
                     ngx_http_gatehouse_json_str(f->field.data,
                                                 f->field.len, 0),
                     /* both made safe already (filename.h) */
                     "original_name",
                     json_stringn((const char *) f->orig.data, f->orig.len),
                     "display_name",
                     json_stringn((const char *) f->name.data, f->name.len),
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
                         r->connection->addr_text.len, 0),
                     "uri",
                     ngx_http_gatehouse_json_str(r->uri.data, r->uri.len, 0),
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


/* ---- the cap on records of uploads not kept ---- */


/* The client's counter: its address, or its /64 for IPv6 (one host there
 * has as many addresses as it likes). */
void
ngx_http_gatehouse_cap_key(ngx_http_request_t *r, char *key, size_t size)
{
    u_char            *p, *last;
    ngx_connection_t  *c = r->connection;
#if (NGX_HAVE_INET6)
    u_char             a[16];
    struct sockaddr_in6  *sin6;
#endif

    last = (u_char *) key + size - 1;
    p = ngx_cpymem(key, NGX_HTTP_GATEHOUSE_CAP_PREFIX,
                   sizeof(NGX_HTTP_GATEHOUSE_CAP_PREFIX) - 1);

#if (NGX_HAVE_INET6)
    if (c->sockaddr->sa_family == AF_INET6) {
        sin6 = (struct sockaddr_in6 *) c->sockaddr;

        if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)
            && (size_t) (last - p) >= NGX_INET6_ADDRSTRLEN + 3)
        {
            ngx_memcpy(a, sin6->sin6_addr.s6_addr, 8);
            ngx_memzero(a + 8, 8);

            p += ngx_inet6_ntop(a, p, NGX_INET6_ADDRSTRLEN);
            p = ngx_slprintf(p, last, "/64");
            *p = '\0';
            return;
        }
    }
#endif

    p = ngx_slprintf(p, last, "%V", &c->addr_text);
    *p = '\0';
}


void
ngx_http_gatehouse_cap_init(ngx_http_gatehouse_cap_t *cap,
    ngx_http_gatehouse_ctx_t *ctx)
{
    ngx_memzero(cap, sizeof(ngx_http_gatehouse_cap_t));

    ngx_cpystrn((u_char *) cap->key, (u_char *) ctx->cap_key,
                sizeof(cap->key));
    cap->max = ctx->main->refused_max;
    cap->total = ctx->main->refused_total;
    cap->window = ctx->main->refused_window;
}


/* Back in the event loop: what the transaction found, logged once as a
 * cap is reached. */
void
ngx_http_gatehouse_cap_log(ngx_http_gatehouse_cap_t *cap, ngx_log_t *log)
{
    if (cap->crossed) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "gatehouse: client %s reached %ui records of refused "
                      "or unfinished uploads in %M ms "
                      "(gatehouse_upload_refused_records): no more are "
                      "recorded for it for now",
                      cap->key + sizeof(NGX_HTTP_GATEHOUSE_CAP_PREFIX) - 1,
                      cap->max, cap->window);
    }

    if (cap->total_crossed) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "gatehouse: %ui records of refused or unfinished "
                      "uploads in %M ms from all clients "
                      "(gatehouse_upload_refused_records total=): no more "
                      "are recorded for now", cap->total, cap->window);
    }
}


typedef struct {
    int64_t     before;   /* counters whose window began at or before */
    ngx_uint_t  seen;
    ngx_uint_t  n;
    size_t      klen[NGX_HTTP_GATEHOUSE_CAP_SWEEP];
    u_char      key[NGX_HTTP_GATEHOUSE_CAP_SWEEP]
                   [NGX_HTTP_GATEHOUSE_CAP_KEY_MAX];
} ngx_http_gatehouse_sweep_t;


static int
ngx_http_gatehouse_sweep_fn(const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
    ngx_http_gatehouse_sweep_t *sw = arg;

    size_t  pl = sizeof(NGX_HTTP_GATEHOUSE_CAP_PREFIX) - 1;

    if (klen < pl || ngx_memcmp(key, NGX_HTTP_GATEHOUSE_CAP_PREFIX, pl) != 0
        || ++sw->seen > NGX_HTTP_GATEHOUSE_CAP_SWEEP)
    {
        return 1;
    }

    /* value: be64 window start | be64 count | be64 previous count */
    if (klen <= NGX_HTTP_GATEHOUSE_CAP_KEY_MAX
        && (vlen != 24 || (int64_t) gh_get_be64(val) <= sw->before))
    {
        ngx_memcpy(sw->key[sw->n], key, klen);
        sw->klen[sw->n++] = klen;
    }

    return 0;
}


/*
 * Delete stale counters after key, a few at a time: a counter whose window
 * began two windows ago counts nothing any more, and a client hopping
 * addresses leaves one per address.
 */
static gh_err
ngx_http_gatehouse_sweep(struct gh_txn *txn, ngx_http_gatehouse_cap_t *cap,
    int64_t now)
{
    gh_err                      err;
    ngx_uint_t                  i;
    ngx_http_gatehouse_sweep_t  sw;

    ngx_memzero(&sw, sizeof(sw));
    sw.before = now - 2 * (int64_t) cap->window;

    err = gh_txn_scan(txn, GH_DB_RATE, cap->key, ngx_strlen(cap->key), 0,
                      ngx_http_gatehouse_sweep_fn, &sw, NULL);

    for (i = 0; err == GH_OK && i < sw.n; i++) {
        err = gh_txn_del(txn, GH_DB_RATE, sw.key[i], sw.klen[i]);
        if (err == GH_ENOTFOUND) {
            err = GH_OK;
        }
    }

    return err;
}


/* May one more record of an upload not kept be made?  *ok says. */
static gh_err
ngx_http_gatehouse_cap_hit(struct gh_txn *txn, ngx_http_gatehouse_cap_t *cap,
    ngx_uint_t *ok)
{
    gh_err    err;
    int64_t   now, window;
    uint64_t  n, total;

    *ok = 0;
    now = gh_now_ms();
    window = (int64_t) cap->window;

    /* every client's records together: past that, not even a counter */
    err = gh_rate_hit_txn(txn, NGX_HTTP_GATEHOUSE_CAP_ALL, window, now, 0,
                          &total);
    if (err != GH_OK || total >= cap->total) {
        return err;
    }

    /* sweep first: the scan must not run over our own write */
    err = ngx_http_gatehouse_sweep(txn, cap, now);
    if (err != GH_OK) {
        return err;
    }

    err = gh_rate_hit_txn(txn, cap->key, window, now, 1, &n);
    if (err != GH_OK) {
        return err;
    }

    if (n > cap->max) {
        /* one hit adds exactly one: "max + 1" is the crossing */
        if (n == cap->max + 1) {
            cap->crossed = 1;
        }

        return GH_OK;
    }

    err = gh_rate_hit_txn(txn, NGX_HTTP_GATEHOUSE_CAP_ALL, window, now, 1,
                          &total);
    if (err != GH_OK) {
        return err;
    }

    if (total == cap->total) {
        cap->total_crossed = 1;
    }

    *ok = 1;

    return GH_OK;
}


/* A string cut to at most max bytes, at a UTF-8 character boundary. */
static json_t *
ngx_http_gatehouse_cut(json_t *s, size_t max)
{
    const char  *v;

    v = json_string_value(s);

    return json_stringn(v, gh_utf8_cut(v, json_string_length(s), max));
}


/* An escaped name cut between two escapes, with the mark of a cut. */
static json_t *
ngx_http_gatehouse_cut_escaped(json_t *s, size_t max)
{
    char         buf[256 + GH_TEXT_CUT_MARK_LEN];
    size_t       n;
    const char  *v;

    v = json_string_value(s);

    if (max > 256) {
        max = 256;
    }

    n = gh_text_escaped_cut(v, json_string_length(s), max);

    ngx_memcpy(buf, v, n);
    ngx_memcpy(buf + n, GH_TEXT_CUT_MARK, GH_TEXT_CUT_MARK_LEN);

    return json_stringn(buf, n + GH_TEXT_CUT_MARK_LEN);
}


/* A copy of rec with the client's strings cut short: an upload not kept
 * leaves a small record whatever the client sent. */
static json_t *
ngx_http_gatehouse_small_record(json_t *rec)
{
    json_t      *copy, *v;
    ngx_uint_t   i;

    copy = json_copy(rec);
    if (copy == NULL) {
        return NULL;
    }

    for (i = 0; ngx_http_gatehouse_small[i].key != NULL; i++) {
        v = json_object_get(copy, ngx_http_gatehouse_small[i].key);

        if (!json_is_string(v)
            || json_string_length(v) <= ngx_http_gatehouse_small[i].max)
        {
            continue;
        }

        /* a user name cut short could be another user's (status): none */
        if (ngx_strcmp(ngx_http_gatehouse_small[i].key, "user") == 0) {
            json_object_set_new(copy, "user", json_null());

        } else if (ngx_http_gatehouse_small[i].escaped) {
            json_object_set_new(copy, ngx_http_gatehouse_small[i].key,
                                ngx_http_gatehouse_cut_escaped(v,
                                    ngx_http_gatehouse_small[i].max));

        } else {
            json_object_set_new(copy, ngx_http_gatehouse_small[i].key,
                                ngx_http_gatehouse_cut(v,
                                    ngx_http_gatehouse_small[i].max));
        }
    }

    return copy;
}


/*
 * Write rec under its id, inside txn: known_seq if the upload has a
 * record already, a new number otherwise (the last key: appended).  *seq
 * receives the id, which is also set in rec.  With cap (an upload not
 * kept, or not yet), the record written is small, and a new one counts
 * against the client's cap: beyond it nothing is written, *seq is 0 and
 * cap->skipped is set.
 */
gh_err
ngx_http_gatehouse_record_put(struct gh_txn *txn, json_t *rec,
    uint64_t known_seq, uint64_t *seq, ngx_http_gatehouse_cap_t *cap)
{
    json_t      *out;
    gh_err       err;
    ngx_uint_t   ok;

    *seq = known_seq;

    if (known_seq == 0 && cap != NULL) {
        err = ngx_http_gatehouse_cap_hit(txn, cap, &ok);
        if (err != GH_OK) {
            return err;
        }

        if (!ok) {
            cap->skipped = 1;
            json_object_set_new(rec, "id", json_null());
            return GH_OK;
        }
    }

    if (known_seq != 0
        && json_object_set_new(rec, "id", json_integer((json_int_t) *seq))
           != 0)
    {
        return GH_ENOMEM;
    }

    out = (cap != NULL) ? ngx_http_gatehouse_small_record(rec)
                        : json_incref(rec);
    if (out == NULL) {
        return GH_ENOMEM;
    }

    /* keys, ids and versions are the uploads database's
     * (gatehouse/uploads.h) */
    if (known_seq != 0) {
        err = gh_upload_put_txn(txn, known_seq, out);

    } else {
        err = gh_upload_add_txn(txn, out, seq);

        if (err == GH_OK
            && json_object_set_new(rec, "id",
                                   json_integer((json_int_t) *seq))
               != 0)
        {
            err = GH_ENOMEM;
        }
    }

    json_decref(out);

    return err;
}


/* ---- records of refused and abandoned requests ---- */


static gh_err
ngx_http_gatehouse_put_rejected(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_reject_job_t *job = arg;

    gh_err                     err;
    ngx_uint_t                 i;
    ngx_http_gatehouse_put_t  *it;

    job->cap.skipped = 0;
    job->cap.crossed = 0;
    job->cap.total_crossed = 0;

    for (i = 0; i < job->n; i++) {
        it = &job->items[i];
        it->seq = 0;

        if (it->update_only && it->known == 0) {
            continue;
        }

        err = ngx_http_gatehouse_record_put(txn, it->rec, it->known,
                                            &it->seq, &job->cap);
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


static void
ngx_http_gatehouse_reject_free(ngx_http_gatehouse_reject_job_t *job)
{
    ngx_uint_t  i;

    for (i = 0; i < job->n; i++) {
        json_decref(job->items[i].rec);
    }

    ngx_destroy_pool(job->pool);
}


/* Back in the event loop; the request may be long gone. */
static void
ngx_http_gatehouse_reject_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_reject_job_t *job = ev->data;

    if (job->err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gatehouse: store: recording %ui refused upload(s) "
                      "failed: %s", job->n, gh_strerror(job->err));

    } else {
        ngx_http_gatehouse_cap_log(&job->cap, ngx_cycle->log);
    }

    ngx_http_gatehouse_reject_free(job);
}


static void
ngx_http_gatehouse_reject_post(ngx_http_gatehouse_reject_job_t *job)
{
    if (ngx_http_gatehouse_post(job->conf, job->pool,
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

    ngx_http_gatehouse_reject_free(job);
}


/*
 * Record the request's files that have no final record yet as rejected
 * for reason, in a job of the thread pool that owns copies of the
 * records: the request may end before it runs.  At most one record is
 * new: that of the file being received when it happened (or the last
 * one); the others are written only over a record the store has already
 * ("receiving"), for "other_file_refused" (or reason, when no file was
 * being received).  While a "receiving" write is under way the job waits
 * for it, since the id of that file's record is not known yet.
 */
void
ngx_http_gatehouse_record_rejected(ngx_http_gatehouse_ctx_t *ctx,
    const char *reason)
{
    ngx_uint_t                        i, n, culprit, pending;
    ngx_pool_t                       *pool;
    ngx_http_gatehouse_put_t         *it;
    ngx_http_gatehouse_file_t        *f;
    ngx_http_gatehouse_rtask_t       *rt;
    ngx_http_gatehouse_reject_job_t  *job;

    if (ctx->no_store || ctx->files.elts == NULL || ctx->files.nelts == 0) {
        return;
    }

    f = ctx->files.elts;
    /* a "receiving" write under way: this job waits for it */
    rt = (ctx->receiving != NULL && ctx->receiving->then == NULL)
         ? ctx->receiving : NULL;
    culprit = (ctx->cur != NULL) ? (ngx_uint_t) (ctx->cur - f)
                                 : ctx->files.nelts - 1;
    n = 0;

    for (i = 0; i < ctx->files.nelts; i++) {
        if (f[i].record != NULL && !f[i].recorded && !f[i].handed) {
            n++;
        }
    }

    if (n == 0 || ngx_http_gatehouse_store(ctx->main, ngx_cycle->log)
                  == NULL)
    {
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
    job->conf = ctx->conf;
    ngx_http_gatehouse_cap_init(&job->cap, ctx);

    for (i = 0; i < ctx->files.nelts; i++) {
        if (f[i].record == NULL || f[i].recorded || f[i].handed) {
            continue;
        }

        /* from here this file is done with, written or not */
        f[i].recorded = 1;

        pending = (rt != NULL && rt->file == i);

        if (i != culprit && f[i].seq == 0 && !pending) {
            /* nothing of it is in the store: it stays out */
            continue;
        }

        if (pending) {
            rt->then_item = job->n;
        }

        ngx_http_gatehouse_record_file(&f[i]);
        ngx_http_gatehouse_record_set(f[i].record, "rejected",
                                      (ctx->cur == NULL || i == culprit)
                                      ? reason : "other_file_refused");

        it = &job->items[job->n++];
        it->rec = f[i].record;
        it->known = f[i].seq;
        it->update_only = (i != culprit);

        f[i].record = NULL;
    }

    if (job->n == 0) {
        goto failed;
    }

    if (rt != NULL) {
        /* posted when the "receiving" write is done */
        rt->then = job;
        return;
    }

    ngx_http_gatehouse_reject_post(job);

    return;

failed:

    ngx_destroy_pool(pool);
}


/* ---- "receiving", written from the thread pool ---- */


static gh_err
ngx_http_gatehouse_put_receiving(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_rtask_t *rt = arg;

    rt->cap.skipped = 0;
    rt->cap.crossed = 0;
    rt->cap.total_crossed = 0;

    return ngx_http_gatehouse_record_put(txn, rt->rec, 0, &rt->seq,
                                         &rt->cap);
}


/* In a thread of the pool. */
static void
ngx_http_gatehouse_receiving_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_rtask_t *rt = data;

    rt->err = ngx_http_gatehouse_store_write(rt->main,
                                             ngx_http_gatehouse_put_receiving,
                                             rt);
}


/* The body was complete while "receiving" was written: the job now. */
static void
ngx_http_gatehouse_receiving_resume(ngx_http_gatehouse_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx->start_pending = 0;
    r->main->blocked--;

    rc = ngx_http_gatehouse_job_start(ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
    }

    ngx_http_run_posted_requests(c);
}


/* Back in the event loop; the request may have ended meanwhile. */
static void
ngx_http_gatehouse_receiving_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_rtask_t *rt = ev->data;

    ngx_http_gatehouse_ctx_t         *ctx = rt->ctx;
    ngx_http_gatehouse_file_t        *f;
    ngx_http_gatehouse_reject_job_t  *then = rt->then;

    if (rt->err != GH_OK) {
        /* best effort: the final record decides by on_store_error */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gatehouse: store: recording an upload as receiving "
                      "failed: %s", gh_strerror(rt->err));
        rt->seq = 0;

    } else {
        ngx_http_gatehouse_cap_log(&rt->cap, ngx_cycle->log);
    }

    json_decref(rt->rec);
    rt->rec = NULL;

    if (then != NULL) {
        if (rt->then_item >= 0) {
            then->items[rt->then_item].known = rt->seq;
        }

        ngx_http_gatehouse_reject_post(then);
    }

    if (ctx != NULL) {
        ctx->receiving = NULL;

        f = ctx->files.elts;
        if (rt->file < ctx->files.nelts && f[rt->file].seq == 0) {
            f[rt->file].seq = rt->seq;
        }
    }

    ngx_destroy_pool(rt->pool);

    if (ctx != NULL && ctx->start_pending) {
        ngx_http_gatehouse_receiving_resume(ctx);
    }
}


/*
 * The file part being received is still arriving: record it as
 * "receiving" from a thread of the pool, while the upload goes on.  Tried
 * once per file, one at a time, best effort.
 */
void
ngx_http_gatehouse_record_receiving(ngx_http_gatehouse_ctx_t *ctx)
{
    ngx_pool_t                  *pool;
    ngx_http_gatehouse_file_t   *f = ctx->cur;
    ngx_http_gatehouse_rtask_t  *rt;

    if (ctx->no_store || ctx->receiving != NULL || f == NULL
        || f->seq != 0 || f->record == NULL || f->receiving)
    {
        return;
    }

    f->receiving = 1;

    if (ngx_http_gatehouse_store(ctx->main, ctx->request->connection->log)
        == NULL)
    {
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    rt = ngx_pcalloc(pool, sizeof(ngx_http_gatehouse_rtask_t));
    if (rt == NULL) {
        goto failed;
    }

    rt->pool = pool;
    rt->main = ctx->main;
    rt->conf = ctx->conf;
    rt->file = f - (ngx_http_gatehouse_file_t *) ctx->files.elts;
    rt->then_item = -1;
    ngx_http_gatehouse_cap_init(&rt->cap, ctx);

    ngx_http_gatehouse_record_file(f);
    ngx_http_gatehouse_record_set(f->record, "receiving", NULL);

    /* the event loop goes on changing f->record */
    rt->rec = json_deep_copy(f->record);
    if (rt->rec == NULL) {
        goto failed;
    }

    if (ngx_http_gatehouse_post(ctx->conf, pool,
                                ngx_http_gatehouse_receiving_run,
                                ngx_http_gatehouse_receiving_done, rt,
                                ngx_cycle->log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "gatehouse: could not post a \"receiving\" record to "
                      "thread pool \"%V\"", &ctx->conf->thread_pool_name);
        json_decref(rt->rec);
        goto failed;
    }

    rt->ctx = ctx;
    ctx->receiving = rt;

    return;

failed:

    ngx_destroy_pool(pool);
}


/* The request is ending: a "receiving" write under way finishes alone. */
void
ngx_http_gatehouse_record_detach(ngx_http_gatehouse_ctx_t *ctx)
{
    if (ctx->receiving != NULL) {
        ctx->receiving->ctx = NULL;
        ctx->receiving = NULL;
    }
}


/* The name to show of a record of any version (gatehouse/uploads.h).
 * Borrowed. */
json_t *
ngx_http_gatehouse_record_name(json_t *rec)
{
    return gh_upload_display_json(rec);
}


/* An answer's names of a file: "filename", the safe name, and (v 2)
 * "original_filename", what the client sent, escaped. */
void
ngx_http_gatehouse_record_names(json_t *obj, json_t *rec)
{
    json_t  *name;

    if (obj == NULL || rec == NULL) {
        return;
    }

    name = ngx_http_gatehouse_record_name(rec);

    if (name != NULL) {
        json_object_set(obj, "filename", name);
    }

    name = gh_upload_original_json(rec);

    if (name != NULL) {
        json_object_set(obj, "original_filename", name);
    }
}


/* metadata[key] = rec[field], a reference, as json_pack's "O": a field
 * the record lacks fails the event, as it did the pack */
static void
ngx_http_gatehouse_event_meta(struct gh_event *b, const char *key,
    json_t *rec, const char *field)
{
    gh_event_meta_new(b, key, json_incref(json_object_get(rec, field)));
}


/* The upload.infected event for a quarantined file's record. */
json_t *
ngx_http_gatehouse_event_infected(json_t *rec)
{
    char              title[320], message[768];
    json_t           *ev, *user, *orig;
    const char       *name, *sig, *client;
    struct gh_event  *b;

    name = json_string_value(ngx_http_gatehouse_record_name(rec));
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

    b = gh_event_new();

    gh_event_set_type(b, "upload.infected");
    gh_event_set_category(b, "security");
    gh_event_set_title(b, title);
    gh_event_set_message(b, message);
    gh_event_set_priority(b, GH_PRIORITY_HIGH);
    gh_event_set_source(b, "nginx");

    /* the record's own values (a reference each, as json_pack's "O") */
    ngx_http_gatehouse_event_meta(b, "upload_id", rec, "id");
    gh_event_meta_str(b, "filename", name);
    orig = json_object_get(rec, "original_name");
    gh_event_meta_new(b, "original_filename",
                      orig ? json_incref(orig) : json_null());
    gh_event_meta_str(b, "signature", sig);
    ngx_http_gatehouse_event_meta(b, "sha256", rec, "sha256");
    ngx_http_gatehouse_event_meta(b, "size", rec, "size");
    ngx_http_gatehouse_event_meta(b, "mime", rec, "mime");
    ngx_http_gatehouse_event_meta(b, "category", rec, "category");
    ngx_http_gatehouse_event_meta(b, "client_addr", rec, "client_addr");
    ngx_http_gatehouse_event_meta(b, "uri", rec, "uri");

    /*
     * An anonymous upload has no user to tell: the event goes to the
     * admin recipients notifyd keeps for upload.infected.
     */
    if (json_is_string(user) && json_string_length(user) > 0) {
        gh_event_set_user(b, json_string_value(user));

    } else {
        gh_event_add_recipient(b, "admins");
    }

    if (gh_event_finish(b, &ev, NULL, 0) != GH_OK) {
        return NULL;
    }

    return ev;
}
