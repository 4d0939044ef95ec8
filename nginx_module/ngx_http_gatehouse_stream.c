/*
 * ngx_http_gatehouse_stream.c - GET .../notifications/stream of a
 * `gatehouse_inbox;` location: each user's new inbox items as Server-Sent
 * Events, resumed from Last-Event-ID (docs/api.md).
 *
 * Live updates: every commit that changes an inbox item or preferences
 * rewrites the one byte of the store's wlock file once it is committed
 * (gh_txn_touch, store.h), so an inotify watch (IN_MODIFY) on the
 * worker's own store's wlock wakes the worker after each such commit --
 * the bridge's, notifyd's, another worker's -- without polling.  (Not
 * data.mdb: LMDB writes it before the commit is visible, so a reader woken
 * by that write may see the old snapshot, and no later event follows.)
 * The inotify descriptor sits in nginx's event loop on a connection of its
 * own; on a wake-up one read transaction looks, for each open stream, for
 * items newer than the last one it sent.  A heartbeat comment goes to
 * every stream each NGX_HTTP_GATEHOUSE_SSE_BEAT ticks.
 */
#include <sys/inotify.h>

#include "ngx_http_gatehouse_module.h"
#include "gatehouse/queue.h"
#include "gatehouse/users.h"


#define NGX_HTTP_GATEHOUSE_SSE_BEAT         15     /* ticks between comments */
#define NGX_HTTP_GATEHOUSE_SSE_TICK         1000   /* ms */
#define NGX_HTTP_GATEHOUSE_SSE_REPLAY       100    /* items sent on resume */
#define NGX_HTTP_GATEHOUSE_SSE_BUF          4096


/* An open stream. */
typedef struct {
    ngx_queue_t                      queue;
    ngx_http_request_t              *request;
    char                             user[GH_USER_MAX + 1];
    uint64_t                         last;     /* the last item id sent */
    ngx_chain_t                     *free;
    ngx_chain_t                     *busy;
    unsigned                         closed:1;
} ngx_http_gatehouse_stream_t;


/* The worker's streams and its inotify watch. */
static ngx_queue_t        ngx_http_gatehouse_streams;
static ngx_uint_t         ngx_http_gatehouse_nstreams;
static ngx_connection_t  *ngx_http_gatehouse_ino;
static ngx_event_t        ngx_http_gatehouse_beat;
static ngx_uint_t         ngx_http_gatehouse_sse_ready;
static ngx_uint_t         ngx_http_gatehouse_ticks;


static void ngx_http_gatehouse_streams_check(void);
static void ngx_http_gatehouse_stream_write(ngx_http_request_t *r);


/* ---- Server-Sent Events ---- */

/* Wait for the socket while output is queued, at most send_timeout. */
static ngx_int_t
ngx_http_gatehouse_stream_wait(ngx_http_request_t *r)
{
    ngx_event_t               *wev = r->connection->write;
    ngx_http_core_loc_conf_t  *clcf;

    if (!r->connection->buffered) {
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        return NGX_OK;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!wev->timer_set) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    return ngx_handle_write_event(wev, clcf->send_lowat);
}


/* Queue len bytes of s (copied) on stream st and send what can be. */
static ngx_int_t
ngx_http_gatehouse_sse_send(ngx_http_gatehouse_stream_t *st, const char *s,
    size_t len)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r = st->request;

    cl = ngx_chain_get_free_buf(r->pool, &st->free);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    /* buffers are reused once sent: a long-lived stream does not grow
     * its pool with every event (an event larger than a buffer gets one
     * of its own) */
    if (b->start == NULL || (size_t) (b->end - b->start) < len) {
        b->start = ngx_palloc(r->pool, ngx_max(len,
                                               NGX_HTTP_GATEHOUSE_SSE_BUF));
        if (b->start == NULL) {
            return NGX_ERROR;
        }

        b->end = b->start + ngx_max(len, NGX_HTTP_GATEHOUSE_SSE_BUF);
    }

    b->pos = b->start;
    b->last = ngx_cpymem(b->start, s, len);
    b->temporary = 1;
    b->memory = 0;
    b->flush = 1;
    b->tag = (ngx_buf_tag_t) &ngx_http_gatehouse_module;

    rc = ngx_http_output_filter(r, cl);

    ngx_chain_update_chains(r->pool, &st->free, &st->busy, &cl,
                            (ngx_buf_tag_t) &ngx_http_gatehouse_module);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* not all sent: the rest when the socket can take it
     * (stream_write); a client that reads nothing for send_timeout is
     * dropped */
    return ngx_http_gatehouse_stream_wait(r);
}


typedef struct {
    ngx_http_gatehouse_stream_t  *st;
    json_t                       *items;     /* [id, item] newest first */
    ngx_uint_t                    max;
} ngx_http_gatehouse_sse_scan_t;


static int
ngx_http_gatehouse_sse_newer(uint64_t id, const json_t *it, void *arg)
{
    ngx_http_gatehouse_sse_scan_t  *s = arg;

    if (id <= s->st->last || json_array_size(s->items) >= s->max) {
        return 1;
    }

    json_array_append_new(s->items,
                          ngx_http_gatehouse_in_item(id, it));

    return 0;
}


/* Send stream st what is newer than st->last, oldest first. */
static ngx_int_t
ngx_http_gatehouse_sse_flush(struct gh_txn *txn,
    ngx_http_gatehouse_stream_t *st)
{
    char                           *text;
    size_t                          i, n;
    gh_err                          err;
    json_t                         *o;
    ngx_int_t                       rc;
    ngx_http_gatehouse_sse_scan_t   s;
    u_char                          head[64], *p;

    s.st = st;
    s.items = json_array();
    s.max = NGX_HTTP_GATEHOUSE_SSE_REPLAY;

    if (s.items == NULL) {
        return NGX_ERROR;
    }

    err = gh_inbox_list_txn(txn, st->user, 0, 0,
                            ngx_http_gatehouse_sse_newer, &s);
    if (err != GH_OK) {
        json_decref(s.items);
        return NGX_OK;   /* tried again at the next change */
    }

    rc = NGX_OK;
    n = json_array_size(s.items);

    for (i = n; i-- > 0 && rc == NGX_OK; ) {
        o = json_array_get(s.items, i);
        text = json_dumps(o, JSON_COMPACT|JSON_ENSURE_ASCII);
        if (text == NULL) {
            rc = NGX_ERROR;
            break;
        }

        st->last = (uint64_t) json_integer_value(json_object_get(o, "id"));

        p = ngx_snprintf(head, sizeof(head), "id: %uL\nevent: notification"
                         "\ndata: ", st->last);

        /* one write: the JSON has no newline (compact, escaped) */
        {
            size_t  tl = ngx_strlen(text), hl = p - head;
            char   *all = malloc(hl + tl + 2);

            if (all == NULL) {
                free(text);
                rc = NGX_ERROR;
                break;
            }

            ngx_memcpy(all, head, hl);
            ngx_memcpy(all + hl, text, tl);
            all[hl + tl] = '\n';
            all[hl + tl + 1] = '\n';
            rc = ngx_http_gatehouse_sse_send(st, all, hl + tl + 2);
            free(all);
        }

        free(text);
    }

    json_decref(s.items);

    return rc;
}


static gh_err
ngx_http_gatehouse_sse_view(struct gh_txn *txn, void *arg)
{
    ngx_queue_t                  *q, *next;
    ngx_http_gatehouse_stream_t  *st;

    for (q = ngx_queue_head(&ngx_http_gatehouse_streams);
         q != ngx_queue_sentinel(&ngx_http_gatehouse_streams);
         q = next)
    {
        next = ngx_queue_next(q);
        st = ngx_queue_data(q, ngx_http_gatehouse_stream_t, queue);

        if (!st->closed
            && ngx_http_gatehouse_sse_flush(txn, st) != NGX_OK)
        {
            st->closed = 1;
        }
    }

    return GH_OK;
}


static void
ngx_http_gatehouse_streams_check(void)
{
    ngx_queue_t                     *q, *next;
    struct gh_store                 *store;
    ngx_http_gatehouse_stream_t     *st;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    if (ngx_http_gatehouse_nstreams == 0) {
        return;
    }

    gmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_gatehouse_module);
    store = ngx_http_gatehouse_store(gmcf, ngx_cycle->log);
    if (store == NULL) {
        return;
    }

    (void) gh_store_view(store, ngx_http_gatehouse_sse_view, NULL);

    /* streams whose client is gone or that failed: finished here, out of
     * the transaction */
    for (q = ngx_queue_head(&ngx_http_gatehouse_streams);
         q != ngx_queue_sentinel(&ngx_http_gatehouse_streams);
         q = next)
    {
        next = ngx_queue_next(q);
        st = ngx_queue_data(q, ngx_http_gatehouse_stream_t, queue);

        if (st->closed) {
            ngx_http_finalize_request(st->request, NGX_ERROR);
        }
    }
}


static void
ngx_http_gatehouse_ino_handler(ngx_event_t *ev)
{
    char               buf[4096];
    ssize_t            n;
    ngx_connection_t  *c = ev->data;

    /* drain: what changed is found in the store, not in the events */
    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n > 0);

    if (ngx_handle_read_event(ev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "gatehouse: inotify event failed");
    }

    ngx_http_gatehouse_streams_check();
}


/*
 * Once a second: a worker that is shutting down ends its streams (a
 * stream never ends by itself, and this timer is what the worker waits
 * for); every NGX_HTTP_GATEHOUSE_SSE_BEAT ticks a comment goes to every
 * stream, so proxies and browsers keep it open and a dead client is
 * found.  The store is not looked at here but at those beats, as a safety
 * net should an inotify event be lost.
 */
static void
ngx_http_gatehouse_beat_handler(ngx_event_t *ev)
{
    ngx_queue_t                  *q, *next;
    ngx_http_gatehouse_stream_t  *st;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        while (!ngx_queue_empty(&ngx_http_gatehouse_streams)) {
            q = ngx_queue_head(&ngx_http_gatehouse_streams);
            st = ngx_queue_data(q, ngx_http_gatehouse_stream_t, queue);
            ngx_http_finalize_request(st->request, NGX_ERROR);
        }

        if (ngx_http_gatehouse_ino != NULL) {
            ngx_close_connection(ngx_http_gatehouse_ino);
            ngx_http_gatehouse_ino = NULL;
        }

        return;
    }

    ngx_add_timer(ev, NGX_HTTP_GATEHOUSE_SSE_TICK);

    if (++ngx_http_gatehouse_ticks % NGX_HTTP_GATEHOUSE_SSE_BEAT != 0) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_gatehouse_streams);
         q != ngx_queue_sentinel(&ngx_http_gatehouse_streams);
         q = next)
    {
        next = ngx_queue_next(q);
        st = ngx_queue_data(q, ngx_http_gatehouse_stream_t, queue);

        if (ngx_http_gatehouse_sse_send(st, ":\n\n", 3) != NGX_OK) {
            ngx_http_finalize_request(st->request, NGX_ERROR);
        }
    }

    ngx_http_gatehouse_streams_check();
}


/* Set up the worker's watch on its store (once, at the first stream). */
static ngx_int_t
ngx_http_gatehouse_sse_init(ngx_http_request_t *r)
{
    int                              fd;
    u_char                           path[NGX_MAX_PATH];
    ngx_connection_t                *c;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    if (ngx_http_gatehouse_sse_ready) {
        return NGX_OK;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    if (gmcf->store_path.len + sizeof("/wlock") > sizeof(path)) {
        return NGX_ERROR;
    }

    ngx_snprintf(path, sizeof(path), "%V/wlock%Z", &gmcf->store_path);

    fd = inotify_init1(IN_NONBLOCK|IN_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "gatehouse: inotify_init1() failed");
        return NGX_ERROR;
    }

    if (inotify_add_watch(fd, (char *) path, IN_MODIFY) == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "gatehouse: inotify_add_watch(\"%s\") failed", path);
        close(fd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, ngx_cycle->log);
    if (c == NULL) {
        close(fd);
        return NGX_ERROR;
    }

    c->read->handler = ngx_http_gatehouse_ino_handler;
    c->read->log = ngx_cycle->log;
    c->data = NULL;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    c->read->data = c;
    ngx_http_gatehouse_ino = c;

    ngx_queue_init(&ngx_http_gatehouse_streams);

    ngx_http_gatehouse_beat.handler = ngx_http_gatehouse_beat_handler;
    ngx_http_gatehouse_beat.log = ngx_cycle->log;
    ngx_http_gatehouse_beat.data = NULL;
    ngx_add_timer(&ngx_http_gatehouse_beat, NGX_HTTP_GATEHOUSE_SSE_TICK);

    ngx_http_gatehouse_sse_ready = 1;

    return NGX_OK;
}


static void
ngx_http_gatehouse_stream_cleanup(void *data)
{
    ngx_http_gatehouse_stream_t  *st = data;

    ngx_queue_remove(&st->queue);
    ngx_http_gatehouse_nstreams--;
}


/* The socket can take more: send what a slow client left queued. */
static void
ngx_http_gatehouse_stream_write(ngx_http_request_t *r)
{
    ngx_event_t  *wev = r->connection->write;

    if (wev->timedout || ngx_http_output_filter(r, NULL) == NGX_ERROR
        || ngx_http_gatehouse_stream_wait(r) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/* The client went away (or sent something, which a stream never reads). */
static void
ngx_http_gatehouse_stream_read(ngx_http_request_t *r)
{
    ngx_http_test_reading(r);
}


static int
ngx_http_gatehouse_sse_newest(uint64_t id, const json_t *it, void *arg)
{
    ngx_http_gatehouse_stream_t  *st = arg;

    st->last = id;

    return 1;
}


/* The newest item: a stream without Last-Event-ID starts after it. */
static gh_err
ngx_http_gatehouse_sse_top(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_stream_t  *st = arg;

    st->last = 0;

    return gh_inbox_list_txn(txn, st->user, 0, 0,
                             ngx_http_gatehouse_sse_newest, st);
}


static gh_err
ngx_http_gatehouse_sse_one(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_stream_t  *st = arg;

    if (ngx_http_gatehouse_sse_flush(txn, st) != NGX_OK) {
        st->closed = 1;
    }

    return GH_OK;
}


ngx_int_t
ngx_http_gatehouse_stream_start(ngx_http_request_t *r, ngx_str_t *user)
{
    ngx_int_t                        rc, n;
    ngx_str_t                        type = ngx_string("text/event-stream");
    ngx_str_t                        arg, *last = NULL;
    ngx_table_elt_t                 *h;
    struct gh_store                 *store;
    ngx_pool_cleanup_t              *cln;
    ngx_http_gatehouse_stream_t     *st;
    ngx_http_gatehouse_loc_conf_t   *glcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    if (r->method & NGX_HTTP_HEAD) {
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "a stream is read with GET");
    }

    if (ngx_http_gatehouse_sse_init(r) != NGX_OK) {
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "stream_unavailable", "live updates are not available");
    }

    if (ngx_http_gatehouse_nstreams >= glcf->inbox_streams) {
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "too_many_streams", "too many open streams; try later");
    }

    /* and per user, or one user's tabs (or script) take them all */
    {
        ngx_queue_t                  *q;
        ngx_uint_t                    mine = 0;
        ngx_http_gatehouse_stream_t  *o;

        for (q = ngx_queue_head(&ngx_http_gatehouse_streams);
             q != ngx_queue_sentinel(&ngx_http_gatehouse_streams);
             q = ngx_queue_next(q))
        {
            o = ngx_queue_data(q, ngx_http_gatehouse_stream_t, queue);
            if (!o->closed && ngx_strlen(o->user) == user->len
                && ngx_strncmp(o->user, user->data, user->len) == 0)
            {
                mine++;
            }
        }

        if (mine >= glcf->inbox_streams_per_user) {
            return ngx_http_gatehouse_in_error(r,
                       NGX_HTTP_TOO_MANY_REQUESTS, "too_many_streams",
                       "this user has too many open streams; close one");
        }
    }

    st = ngx_pcalloc(r->pool, sizeof(*st));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (st == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->request = r;
    ngx_memcpy(st->user, user->data, user->len);
    st->user[user->len] = '\0';

    /* Last-Event-ID: an item id; the items after it are sent first */
    h = NULL;
    {
        ngx_list_part_t  *part = &r->headers_in.headers.part;
        ngx_table_elt_t  *e = part->elts;
        ngx_uint_t        i;

        for (i = 0; /* void */; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                e = part->elts;
                i = 0;
            }

            if (e[i].key.len == sizeof("Last-Event-ID") - 1
                && ngx_strncasecmp(e[i].key.data, (u_char *) "Last-Event-ID",
                                   e[i].key.len) == 0)
            {
                h = &e[i];
            }
        }
    }

    /* or ?last_event_id=N: a page that listed the inbox first starts
     * its EventSource (which cannot set headers) after the newest item
     * it showed */
    if (h == NULL || h->value.len == 0) {
        if (ngx_http_arg(r, (u_char *) "last_event_id", 13, &arg) == NGX_OK
            && arg.len > 0)
        {
            last = &arg;
        }

    } else {
        last = &h->value;
    }

    if (last != NULL) {
        n = (last->len <= 18) ? ngx_atoi(last->data, last->len)
                              : NGX_ERROR;
        if (n < 0) {
            return ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                       "bad_last_event_id",
                       "Last-Event-ID must be a notification id");
        }

        st->last = (uint64_t) n;

    } else {
        store = ngx_http_gatehouse_store(gmcf, r->connection->log);
        if (store == NULL
            || gh_store_view(store, ngx_http_gatehouse_sse_top, st) != GH_OK)
        {
            return ngx_http_gatehouse_in_error(r,
                       NGX_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                       "the inbox cannot be read now");
        }
    }

    if (ngx_http_gatehouse_add_header(r, "Cache-Control", "no-store")
        != NGX_OK
        || ngx_http_gatehouse_add_header(r, "X-Accel-Buffering", "no")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;
    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;
    r->headers_out.content_type_lowcase = NULL;

    /* a stream is never cached, gzipped or buffered on the way */
    r->gzip_vary = 0;
    r->allow_ranges = 0;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    ngx_queue_insert_tail(&ngx_http_gatehouse_streams, &st->queue);
    ngx_http_gatehouse_nstreams++;

    cln->handler = ngx_http_gatehouse_stream_cleanup;
    cln->data = st;

    r->read_event_handler = ngx_http_gatehouse_stream_read;
    r->write_event_handler = ngx_http_gatehouse_stream_write;

    /* a failure here is returned to nginx, which ends the request (the
     * cleanup takes the stream off the list) */
    if (ngx_http_gatehouse_sse_send(st, "retry: 2000\n:\n\n", 15) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* what was missed since Last-Event-ID */
    store = ngx_http_gatehouse_store(gmcf, r->connection->log);
    if (store != NULL) {
        (void) gh_store_view(store, ngx_http_gatehouse_sse_one, st);

        if (st->closed) {
            return NGX_ERROR;
        }
    }

    /* open until the client goes, or the worker ends it */
    r->main->count++;

    return NGX_DONE;
}
