/*
 * ngx_http_gatehouse_writeback.c - with gatehouse_upload_sync on, the
 * kernel is asked to start writing a file out while its body still
 * arrives, so that the fdatasync() the job makes before the record commits
 * (ngx_http_gatehouse_job_move.c, "Durability") finds most of the data on
 * disk already instead of writing all of it then.
 *
 * Every NGX_HTTP_GATEHOUSE_WRITEBACK bytes written, the range written since
 * the last one goes to sync_file_range(SYNC_FILE_RANGE_WRITE), which only
 * starts the writeback and returns -- but may wait for the device's queue,
 * so it runs in a thread of the pool, never on the event loop.  The task
 * owns a dup() of the file's descriptor and its own memory, so the request
 * may end, and the temp file be closed or removed, while it waits: it then
 * only starts writing pages nobody needs.  A failure, or a queue that is
 * full, costs nothing but the head start: the fdatasync still makes the
 * file durable and reports any error.  bench/upload/sync_bench ("early")
 * measured it (docs/nginx.md "Durability").
 */
#include "ngx_http_gatehouse_module.h"


typedef struct {
    int    fd;
    off_t  off;
    off_t  len;
} ngx_http_gatehouse_wb_t;


#if (NGX_THREADS)

static void
ngx_http_gatehouse_writeback_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_wb_t *wb = data;

    (void) sync_file_range(wb->fd, wb->off, wb->len, SYNC_FILE_RANGE_WRITE);
    (void) close(wb->fd);
}


static void
ngx_http_gatehouse_writeback_done(ngx_event_t *ev)
{
    /* the pool reads the next task before calling this: freeing is safe */
    ngx_free(ev->data);
}

#endif


/* After f's data up to f->written went to the file: start writing it out
 * when enough has gathered since the last time. */
void
ngx_http_gatehouse_writeback(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f)
{
#if (NGX_THREADS)
    int                       fd;
    ngx_thread_task_t        *task;
    ngx_http_gatehouse_wb_t  *wb;

    if (!ctx->conf->sync || ctx->conf->thread_pool == NULL
        || f->written - f->wb_off < NGX_HTTP_GATEHOUSE_WRITEBACK)
    {
        return;
    }

    fd = dup(f->fd);
    if (fd == -1) {
        return;
    }

    task = ngx_calloc(sizeof(ngx_thread_task_t)
                      + sizeof(ngx_http_gatehouse_wb_t),
                      ctx->request->connection->log);
    if (task == NULL) {
        (void) close(fd);
        return;
    }

    wb = (ngx_http_gatehouse_wb_t *) (task + 1);
    wb->fd = fd;
    wb->off = f->wb_off;
    wb->len = f->written - f->wb_off;

    task->ctx = wb;
    task->handler = ngx_http_gatehouse_writeback_run;
    task->event.data = task;
    task->event.handler = ngx_http_gatehouse_writeback_done;
    task->event.log = ngx_cycle->log;

    if (ngx_thread_task_post(ctx->conf->thread_pool, task) != NGX_OK) {
        /* the queue is full: the fdatasync will do it all */
        (void) close(fd);
        ngx_free(task);
        return;
    }

    f->wb_off = f->written;
#endif
}
