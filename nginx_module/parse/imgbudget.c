/*
 * imgbudget.c - the worker's budget of decoded-image bytes
 * (gatehouse_image_memory; imgbudget.h).
 *
 * Why a budget and not only the per-image pixel cap: the cap bounds one
 * decode, but the worker's pool runs as many decodes at once as it has
 * threads, and a tiny PNG can claim tens of megapixels.  The pool threads
 * share the worker's address space, so one counter behind a mutex is the
 * worker's whole decode memory.  A decode that does not fit waits a
 * little for others to finish (in a pool thread, never in nginx's event
 * loop), then gives up: the caller answers 503 busy.
 */
#include <errno.h>
#include <time.h>

#include "imgbudget.h"


int
ngx_http_gatehouse_budget_init(ngx_http_gatehouse_budget_t *b)
{
    int                 rc;
    pthread_condattr_t  ca;

    b->used = 0;
    b->peak = 0;

    rc = pthread_mutex_init(&b->lock, NULL);
    if (rc != 0) {
        return rc;
    }

    rc = pthread_condattr_init(&ca);
    if (rc != 0) {
        goto fail_mutex;
    }

    /* a clock that the admin's date(1) cannot move */
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0) {
        rc = pthread_cond_init(&b->room, &ca);
    }

    (void) pthread_condattr_destroy(&ca);

    if (rc != 0) {
        goto fail_mutex;
    }

    b->ready = 1;

    return 0;

fail_mutex:

    (void) pthread_mutex_destroy(&b->lock);

    return rc;
}


ngx_http_gatehouse_budget_rc_e
ngx_http_gatehouse_budget_take(ngx_http_gatehouse_budget_t *b, uint64_t cost,
    uint64_t limit, unsigned wait_ms)
{
    int                             rc;
    struct timespec                 until;
    ngx_http_gatehouse_budget_rc_e  res = NGX_HTTP_GATEHOUSE_BUDGET_BUSY;

    if (cost > limit) {
        return NGX_HTTP_GATEHOUSE_BUDGET_TOO_BIG;
    }

    if (!b->ready || clock_gettime(CLOCK_MONOTONIC, &until) != 0) {
        return NGX_HTTP_GATEHOUSE_BUDGET_ERROR;
    }

    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }

    if (pthread_mutex_lock(&b->lock) != 0) {
        return NGX_HTTP_GATEHOUSE_BUDGET_ERROR;
    }

    for ( ;; ) {
        if (b->used <= limit && cost <= limit - b->used) {
            b->used += cost;
            if (b->used > b->peak) {
                b->peak = b->used;
            }
            res = NGX_HTTP_GATEHOUSE_BUDGET_OK;
            break;
        }

        rc = pthread_cond_timedwait(&b->room, &b->lock, &until);
        if (rc == ETIMEDOUT) {
            break;
        }

        if (rc != 0) {
            res = NGX_HTTP_GATEHOUSE_BUDGET_ERROR;
            break;
        }
    }

    (void) pthread_mutex_unlock(&b->lock);

    return res;
}


void
ngx_http_gatehouse_budget_give(ngx_http_gatehouse_budget_t *b, uint64_t cost)
{
    (void) pthread_mutex_lock(&b->lock);

    b->used = (cost <= b->used) ? b->used - cost : 0;

    /* every waiter: a large give may make room for several small takes */
    (void) pthread_cond_broadcast(&b->room);
    (void) pthread_mutex_unlock(&b->lock);
}


uint64_t
ngx_http_gatehouse_budget_cost(uint64_t pixels, int jpeg, int orientation,
    uint64_t thumb_w, uint64_t thumb_h)
{
    uint64_t  per, thumb;

    /* the pixel cap (at most 1e9) keeps these products far from 2^64 */
    per = (jpeg && orientation < 5) ? 6 : 8;

    /* a thumbnail is never larger than its image */
    thumb = thumb_w * thumb_h;
    if (thumb > pixels) {
        thumb = pixels;
    }

    return pixels * per + thumb * 4 * 2;
}
