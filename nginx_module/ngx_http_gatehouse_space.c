/*
 * ngx_http_gatehouse_space.c - a full upload directory (ENOSPC, EDQUOT):
 * one upload.storage_full event for the admins per condition, kept in the
 * store so every worker agrees, and a log line when it starts and when
 * space is back (docs/nginx.md).
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gatehouse_module.h"
#include "gatehouse/event.h"
#include "gatehouse/queue.h"


/*
 * An upload directory that is full is one condition, however many uploads
 * fail meanwhile and however many workers see it: one event for the
 * admins, one log line when it starts and one when space is back (per
 * worker: each logs what it saw).  The worker's flag (glcf->space_full)
 * keeps the event loop from posting a task per failed upload; the store
 * keeps the condition for every worker: a dedup entry
 * NGX_HTTP_GATEHOUSE_FULL_KEY DIR, open from the first failure until an
 * upload is stored again (or NGX_HTTP_GATEHOUSE_FULL_WINDOW, a reminder).
 * The event's own dedup_key names the condition's start, so that a later
 * one is never taken for it, here or once bridged to the core store.
 */
typedef struct {
    ngx_pool_t                      *pool;
    ngx_http_gatehouse_main_conf_t  *main;
    ngx_str_t                        dir;
    ngx_err_t                        errnum;
    ngx_uint_t                       full;     /* 1: full, 0: space back */
    ngx_uint_t                       raised;   /* the event was enqueued */
    gh_err                           err;
} ngx_http_gatehouse_space_task_t;


static json_t *
ngx_http_gatehouse_event_full(ngx_http_gatehouse_space_task_t *t,
    int64_t now)
{
    char              message[1024], key[400];
    json_t           *ev;
    struct gh_event  *b;

    (void) snprintf(message, sizeof(message),
                    "Uploads to %.*s are refused (507 insufficient_storage): "
                    "its file system is full (%s). They are accepted again "
                    "as soon as space is freed.", (int) t->dir.len,
                    (char *) t->dir.data, strerror(t->errnum));

    (void) snprintf(key, sizeof(key), "upload.storage_full:%lld:%.*s",
                    (long long) now, (int) ngx_min(t->dir.len, 300),
                    (char *) t->dir.data);

    b = gh_event_new();

    gh_event_set_type(b, "upload.storage_full");
    gh_event_set_category(b, "system");
    gh_event_set_title(b, "Uploads refused: the upload directory is full");
    gh_event_set_message(b, message);
    gh_event_set_priority(b, GH_PRIORITY_HIGH);
    gh_event_set_source(b, "nginx");
    gh_event_set_dedup_key(b, key);
    gh_event_add_recipient(b, "admins");
    gh_event_meta_new(b, "dir", json_stringn((char *) t->dir.data,
                                             t->dir.len));
    gh_event_meta_str(b, "error", strerror(t->errnum));

    if (gh_event_finish(b, &ev, NULL, 0) != GH_OK) {
        return NULL;
    }

    return ev;
}


static gh_err
ngx_http_gatehouse_put_space(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_space_task_t *t = arg;

    char       key[300 + sizeof(NGX_HTTP_GATEHOUSE_FULL_KEY)];
    json_t    *ev;
    gh_err     err;
    int64_t    now;
    size_t     klen;
    uint64_t   id;

    t->raised = 0;
    now = gh_now_ms();

    /* dedup keys are at most 400 bytes (docs/store.md) */
    klen = ngx_min(t->dir.len, 300);
    ngx_memcpy(key, NGX_HTTP_GATEHOUSE_FULL_KEY,
               sizeof(NGX_HTTP_GATEHOUSE_FULL_KEY) - 1);
    ngx_memcpy(key + sizeof(NGX_HTTP_GATEHOUSE_FULL_KEY) - 1, t->dir.data,
               klen);
    klen += sizeof(NGX_HTTP_GATEHOUSE_FULL_KEY) - 1;

    err = gh_queue_dedup_get_txn(txn, key, klen, now, &id);

    if (!t->full) {
        /* space is back: the condition ends, the next one is new */
        if (err == GH_ENOTFOUND) {
            return GH_OK;
        }

        return (err != GH_OK) ? err
                              : gh_queue_dedup_put_txn(txn, key, klen, id,
                                                       now);
    }

    if (err != GH_ENOTFOUND) {
        /* already raised (another worker, or before a restart) */
        return err;
    }

    ev = ngx_http_gatehouse_event_full(t, now);
    if (ev == NULL) {
        return GH_ENOMEM;
    }

    err = gh_queue_enqueue_txn(txn, ev, now, 0, &id, NULL);
    json_decref(ev);

    if (err != GH_OK) {
        return err;
    }

    t->raised = 1;

    return gh_queue_dedup_put_txn(txn, key, klen, id,
                                  now + NGX_HTTP_GATEHOUSE_FULL_WINDOW);
}


/* In a thread of the pool. */
static void
ngx_http_gatehouse_space_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_space_task_t *t = data;

    t->err = ngx_http_gatehouse_store_write(t->main,
                                            ngx_http_gatehouse_put_space, t);
}


static void
ngx_http_gatehouse_space_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_space_task_t *t = ev->data;

    if (t->err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gatehouse: store: recording that \"%V\" is %s "
                      "failed: %s", &t->dir,
                      t->full ? "full" : "no longer full",
                      gh_strerror(t->err));

    } else if (t->raised) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "gatehouse: upload.storage_full event raised for "
                      "\"%V\"", &t->dir);
    }

    ngx_destroy_pool(t->pool);
}


static void
ngx_http_gatehouse_space_post(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_http_gatehouse_main_conf_t *gmcf, ngx_uint_t full, ngx_err_t err,
    ngx_log_t *log)
{
    ngx_pool_t                       *pool;
    ngx_http_gatehouse_space_task_t  *t;

    if (gmcf->store_path.len == 0
        || ngx_http_gatehouse_store(gmcf, log) == NULL)
    {
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    t = ngx_pcalloc(pool, sizeof(ngx_http_gatehouse_space_task_t));
    if (t == NULL) {
        goto failed;
    }

    t->pool = pool;
    t->main = gmcf;
    t->full = full;
    t->errnum = err;
    t->dir.len = glcf->dir.len;
    t->dir.data = ngx_http_gatehouse_pstrdup(pool, glcf->dir.data,
                                             glcf->dir.len);
    if (t->dir.data == NULL) {
        goto failed;
    }

    if (ngx_http_gatehouse_post(glcf, pool, ngx_http_gatehouse_space_run,
                                ngx_http_gatehouse_space_done, t,
                                ngx_cycle->log)
        == NGX_OK)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "gatehouse: could not post the upload.storage_full state "
                  "of \"%V\" to thread pool \"%V\"", &glcf->dir,
                  &glcf->thread_pool_name);

failed:

    ngx_destroy_pool(pool);
}


/* A write to the upload directory failed for want of space (err). */
void
ngx_http_gatehouse_space_full(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_http_gatehouse_main_conf_t *gmcf, ngx_err_t err, ngx_log_t *log)
{
    if (glcf->space_full) {
        return;
    }

    glcf->space_full = 1;

    ngx_log_error(NGX_LOG_ERR, log, err,
                  "gatehouse: upload directory \"%V\" is full: uploads are "
                  "refused with 507 until space is freed", &glcf->dir);

    ngx_http_gatehouse_space_post(glcf, gmcf, 1, err, log);
}


/* An upload was stored after the directory was found full. */
void
ngx_http_gatehouse_space_back(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_http_gatehouse_main_conf_t *gmcf, ngx_log_t *log)
{
    if (!glcf->space_full) {
        return;
    }

    glcf->space_full = 0;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "gatehouse: upload directory \"%V\" has space again: "
                  "uploads are accepted", &glcf->dir);

    ngx_http_gatehouse_space_post(glcf, gmcf, 0, 0, log);
}
