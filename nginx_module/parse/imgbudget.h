/*
 * imgbudget.h - the bytes of decoded images a worker process may hold at
 * once (gatehouse_image_memory): a counter behind a mutex, shared by the
 * threads of the worker's pool, with a bounded wait for room.  Plain C
 * (pthreads), unit-tested in tests/unit/nginx_module/test_imgbudget.c.
 */
#ifndef NGX_HTTP_GATEHOUSE_IMGBUDGET_H
#define NGX_HTTP_GATEHOUSE_IMGBUDGET_H

#include <pthread.h>
#include <stdint.h>

typedef struct {
    pthread_mutex_t  lock;
    pthread_cond_t   room;       /* signalled when bytes are given back */
    uint64_t         used;       /* bytes taken now */
    uint64_t         peak;       /* most ever taken at once */
    int              ready;
} ngx_http_gatehouse_budget_t;

typedef enum {
    NGX_HTTP_GATEHOUSE_BUDGET_OK = 0,
    NGX_HTTP_GATEHOUSE_BUDGET_BUSY,      /* no room within the wait */
    NGX_HTTP_GATEHOUSE_BUDGET_TOO_BIG,   /* more than the whole budget */
    NGX_HTTP_GATEHOUSE_BUDGET_ERROR      /* pthreads failed */
} ngx_http_gatehouse_budget_rc_e;

/* Set b up (a monotonic clock for the waits); 0 or an errno. */
int ngx_http_gatehouse_budget_init(ngx_http_gatehouse_budget_t *b);

/* Take cost bytes of limit, waiting up to wait_ms for others to give
 * theirs back; cost > limit is TOO_BIG at once, without waiting. */
ngx_http_gatehouse_budget_rc_e ngx_http_gatehouse_budget_take(
    ngx_http_gatehouse_budget_t *b, uint64_t cost, uint64_t limit,
    unsigned wait_ms);

/* Give back what one successful take got. */
void ngx_http_gatehouse_budget_give(ngx_http_gatehouse_budget_t *b,
    uint64_t cost);

/*
 * What decoding an image may cost at its largest moment, in bytes:
 * libgd's truecolor image is 4 bytes a pixel; PNG and WebP decoders hold
 * a second full-size buffer while libgd copies from it, and a JPEG turned
 * by 90 degrees (EXIF orientation 5..8) a second image, so 8 bytes a
 * pixel then; a JPEG that is not turned 6 (the image, the thumbnail's
 * reduced copy, the encoder's output); plus the thumbnail (the box, or
 * the image if smaller, twice at 4 bytes a pixel).
 */
uint64_t ngx_http_gatehouse_budget_cost(uint64_t pixels, int jpeg,
    int orientation, uint64_t thumb_w, uint64_t thumb_h);

#endif
