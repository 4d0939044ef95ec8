/*
 * ngx_http_gatehouse_task.c - work handed to nginx's thread pool
 * (ngx_http_gatehouse_post): a function run in a thread of the pool, then
 * a done handler back in the event loop, with a timer that keeps an
 * exiting worker until the task is done.  Every store write of the module
 * goes this way (an upload's job, its records, the full upload directory,
 * applications' events, signed links, the inbox), so it is a file of its
 * own rather than a part of the job's.
 */
#include "ngx_http_gatehouse_module.h"


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
