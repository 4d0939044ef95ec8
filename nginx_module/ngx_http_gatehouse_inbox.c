/*
 * ngx_http_gatehouse_inbox.c - `gatehouse_inbox;` locations: the in-app
 * inbox over HTTP, for the user named by `gatehouse_user $var;`
 * (docs/api.md has the JSON, docs/nginx.md the directives).
 *
 *   GET    .../notifications?unread_only=&limit=&cursor=   the list
 *   POST   .../notifications/ID/read                       one item read
 *   POST   .../notifications/read-all                      every item read
 *   GET    .../notifications/preferences                   preferences
 *   PUT    .../notifications/preferences
 *   POST   .../notifications/push-subscriptions            Web Push
 *   DELETE .../notifications/push-subscriptions
 *   GET    .../notifications/stream                        Server-Sent Events
 *
 * Where the data lives (docs/security.md, "The web face"): the worker
 * reads its own store.  With a web store of its own ([store] web), that
 * holds the web domain's copy of the core's inbox and preferences, which
 * the web bridge keeps up to date from notifyd; a change a user makes is
 * written there at once (so the next GET shows it) and, in the same
 * transaction, as a request ("web.*" event) into the outbox, which the
 * bridge carries to notifyd and the core checks and applies.  Without one
 * (the web domain shares the core's store: one user for everything) the
 * worker changes the core's records directly.  Either way the records have
 * the same layout (users.h), so one code path reads both.
 *
 * Reads run in the event loop (a read transaction never waits on
 * writers); writes go to the thread pool like every write of the module.
 *
 * Live updates: ngx_http_gatehouse_stream.c.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/event.h"
#include "gatehouse/json.h"
#include "gatehouse/queue.h"
#include "gatehouse/users.h"


#define NGX_HTTP_GATEHOUSE_INBOX_LIMIT      20     /* items per page */
#define NGX_HTTP_GATEHOUSE_INBOX_LIMIT_MAX  100
#define NGX_HTTP_GATEHOUSE_INBOX_SCAN_MAX   10000  /* items sorted at once */
#define NGX_HTTP_GATEHOUSE_INBOX_BODY_MAX   16384  /* PUT, POST bodies */


typedef enum {
    NGX_HTTP_GATEHOUSE_IN_LIST = 0,
    NGX_HTTP_GATEHOUSE_IN_READ,
    NGX_HTTP_GATEHOUSE_IN_READ_ALL,
    NGX_HTTP_GATEHOUSE_IN_PREFS,
    NGX_HTTP_GATEHOUSE_IN_PUSH,
    NGX_HTTP_GATEHOUSE_IN_STREAM
} ngx_http_gatehouse_in_e;


/* A write made in the thread pool, and what it found. */
typedef struct {
    ngx_http_request_t              *request;
    ngx_http_gatehouse_main_conf_t  *gmcf;
    ngx_http_gatehouse_in_e          what;
    char                             user[GH_USER_MAX + 1];
    uint64_t                         id;
    json_t                          *body;     /* prefs, subscription */
    ngx_uint_t                       remove;   /* DELETE a subscription */
    int64_t                          now;
    /* results */
    gh_err                           err;
    size_t                           changed;
    char                             why[256];
    ngx_uint_t                       unknown;  /* a user with nothing */
} ngx_http_gatehouse_inwrite_t;




static void ngx_http_gatehouse_inbox_body(ngx_http_request_t *r);


/* ---- small helpers ---- */

ngx_int_t
ngx_http_gatehouse_in_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    (void) ngx_http_gatehouse_add_header(r, "Cache-Control", "no-store");

    return ngx_http_gatehouse_error(r, status, code, message);
}


static ngx_int_t
ngx_http_gatehouse_in_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body)
{
    if (body == NULL) {
        /* JSON, never nginx's own HTML page */
        return ngx_http_gatehouse_in_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                   "the answer could not be made");
    }

    /* one user's data: no shared cache may keep it */
    if (ngx_http_gatehouse_add_header(r, "Cache-Control", "no-store")
        != NGX_OK)
    {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_gatehouse_send_json(r, status, body);
}


/* What the API shows of an item (docs/api.md). */
json_t *
ngx_http_gatehouse_in_item(uint64_t id, const json_t *it)
{
    json_t      *o, *v;
    ngx_uint_t   i;

    static const char  *keys[] = { "type", "category", "title", "message",
                                   "action_url", "priority", "created_at",
                                   "read_at", NULL };

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    json_object_set_new(o, "id", json_integer((json_int_t) id));

    for (i = 0; keys[i] != NULL; i++) {
        v = json_object_get(it, keys[i]);
        json_object_set(o, keys[i], v ? v : json_null());
    }

    json_object_set_new(o, "is_read",
        json_boolean(!json_is_null(json_object_get(it, "read_at"))));

    return o;
}


/* The user of the request: gatehouse_user's value, checked like every
 * user id (users.h).  NGX_DECLINED when there is none. */
static ngx_int_t
ngx_http_gatehouse_in_user(ngx_http_request_t *r, ngx_str_t *user)
{
    ngx_http_gatehouse_loc_conf_t  *glcf;
    u_char                         *s;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);

    ngx_str_null(user);

    if (glcf->user != NULL
        && ngx_http_complex_value(r, glcf->user, user) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (user->len == 0 || user->len > GH_USER_MAX) {
        return NGX_DECLINED;
    }

    s = ngx_http_gatehouse_pstrdup(r->pool, user->data, user->len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    if (!gh_user_id_ok((const char *) s)) {
        return NGX_DECLINED;
    }

    user->data = s;

    return NGX_OK;
}


/*
 * The route: the URI's part after its last "/notifications" segment.
 * *id gets ID of ".../ID/read".
 */
static ngx_int_t
ngx_http_gatehouse_in_route(ngx_http_request_t *r, ngx_http_gatehouse_in_e *w,
    uint64_t *id)
{
    u_char     *p, *end, *tail;
    size_t      n;
    uint64_t    v;
    ngx_str_t   t;

    static const u_char  seg[] = "/notifications";

    end = r->uri.data + r->uri.len;
    tail = NULL;

    for (p = r->uri.data; p + sizeof(seg) - 1 <= end; p++) {
        if (ngx_strncmp(p, seg, sizeof(seg) - 1) == 0
            && (p + sizeof(seg) - 1 == end || p[sizeof(seg) - 1] == '/'))
        {
            tail = p + sizeof(seg) - 1;
        }
    }

    if (tail == NULL) {
        return NGX_DECLINED;
    }

    t.data = tail;
    t.len = end - tail;

    if (t.len > 0 && t.data[t.len - 1] == '/') {
        t.len--;
    }

#define IS(s)  (t.len == sizeof(s) - 1 && ngx_strncmp(t.data, s, t.len) == 0)

    if (t.len == 0) {
        *w = NGX_HTTP_GATEHOUSE_IN_LIST;
        return NGX_OK;
    }

    if (IS("/read-all")) {
        *w = NGX_HTTP_GATEHOUSE_IN_READ_ALL;
        return NGX_OK;
    }

    if (IS("/preferences")) {
        *w = NGX_HTTP_GATEHOUSE_IN_PREFS;
        return NGX_OK;
    }

    if (IS("/push-subscriptions")) {
        *w = NGX_HTTP_GATEHOUSE_IN_PUSH;
        return NGX_OK;
    }

    if (IS("/stream")) {
        *w = NGX_HTTP_GATEHOUSE_IN_STREAM;
        return NGX_OK;
    }

#undef IS

    /* /ID/read: a decimal id, no sign, no leading zero */
    if (t.len < sizeof("/1/read") - 1
        || ngx_strncmp(t.data + t.len - 5, "/read", 5) != 0)
    {
        return NGX_DECLINED;
    }

    p = t.data + 1;
    n = t.len - 1 - 5;

    if (n == 0 || n > 18 || p[0] == '0') {
        return NGX_DECLINED;
    }

    v = 0;

    while (n--) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        v = v * 10 + (*p++ - '0');
    }

    *id = v;
    *w = NGX_HTTP_GATEHOUSE_IN_READ;

    return NGX_OK;
}


/* ---- GET .../notifications ---- */

typedef struct {
    uint64_t  id;
    int       prio;
} ngx_http_gatehouse_in_key_t;


typedef struct {
    ngx_http_gatehouse_in_key_t  *keys;
    size_t                        n, cap;
    size_t                        unread;
    ngx_uint_t                    unread_only;
} ngx_http_gatehouse_in_scan_t;


static int
ngx_http_gatehouse_in_collect(uint64_t id, const json_t *it, void *arg)
{
    ngx_http_gatehouse_in_scan_t  *s = arg;
    int                            unread;

    unread = json_is_null(json_object_get(it, "read_at"));

    if (unread) {
        s->unread++;
    }

    if ((s->unread_only && !unread) || s->n == s->cap) {
        return 0;
    }

    s->keys[s->n].id = id;
    s->keys[s->n].prio = (int) json_integer_value(json_object_get(it,
                                                              "priority"));
    s->n++;

    return 0;
}


/* Most urgent first, then newest: the inbox's order (docs/api.md). */
static int
ngx_http_gatehouse_in_cmp(const void *a, const void *b)
{
    const ngx_http_gatehouse_in_key_t  *x = a, *y = b;

    if (x->prio != y->prio) {
        return y->prio - x->prio;
    }

    return (x->id < y->id) - (x->id > y->id);
}


typedef struct {
    const char                    *user;
    ngx_http_gatehouse_in_scan_t   scan;
    int                            after_prio;
    uint64_t                       after_id;     /* 0: from the start */
    size_t                         limit;
    json_t                        *items;
    json_t                        *next;
} ngx_http_gatehouse_in_list_t;


static gh_err
ngx_http_gatehouse_in_list_view(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_in_list_t  *l = arg;

    size_t    i, start;
    gh_err    err;
    json_t   *it, *o;
    char      cur[48];

    l->scan.n = 0;
    l->scan.unread = 0;
    json_array_clear(l->items);

    err = gh_inbox_list_txn(txn, l->user, 0, 0,
                            ngx_http_gatehouse_in_collect, &l->scan);
    if (err != GH_OK) {
        return err;
    }

    qsort(l->scan.keys, l->scan.n, sizeof(l->scan.keys[0]),
          ngx_http_gatehouse_in_cmp);

    start = 0;

    if (l->after_id != 0) {
        ngx_http_gatehouse_in_key_t  k = { l->after_id, l->after_prio };

        while (start < l->scan.n
               && ngx_http_gatehouse_in_cmp(&l->scan.keys[start], &k) <= 0)
        {
            start++;
        }
    }

    for (i = start; i < l->scan.n && i - start < l->limit; i++) {
        it = NULL;

        err = gh_inbox_get_txn(txn, l->user, l->scan.keys[i].id, &it);
        if (err == GH_ENOTFOUND) {
            continue;
        }

        if (err != GH_OK) {
            return err;
        }

        o = ngx_http_gatehouse_in_item(l->scan.keys[i].id, it);
        json_decref(it);

        if (o == NULL || json_array_append_new(l->items, o) != 0) {
            return GH_ENOMEM;
        }
    }

    json_decref(l->next);
    l->next = NULL;

    if (i < l->scan.n && i > 0) {
        snprintf(cur, sizeof(cur), "%d.%llu", l->scan.keys[i - 1].prio,
                 (unsigned long long) l->scan.keys[i - 1].id);
        l->next = json_string(cur);
    }

    return GH_OK;
}


/* An argument's value as a number, or NGX_ERROR. */
static ngx_int_t
ngx_http_gatehouse_in_arg_bool(ngx_str_t *v)
{
    if ((v->len == 4 && ngx_strncasecmp(v->data, (u_char *) "true", 4) == 0)
        || (v->len == 1 && v->data[0] == '1'))
    {
        return 1;
    }

    if (v->len == 0
        || (v->len == 5 && ngx_strncasecmp(v->data, (u_char *) "false", 5)
            == 0)
        || (v->len == 1 && v->data[0] == '0'))
    {
        return 0;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_gatehouse_in_list(ngx_http_request_t *r, ngx_str_t *user,
    struct gh_store *store)
{
    gh_err                         err;
    json_t                        *body;
    ngx_int_t                      n;
    ngx_str_t                      v;
    u_char                        *dot;
    ngx_http_gatehouse_in_list_t   l;

    ngx_memzero(&l, sizeof(l));

    l.user = (const char *) user->data;
    l.limit = NGX_HTTP_GATEHOUSE_INBOX_LIMIT;

    if (ngx_http_arg(r, (u_char *) "unread_only", 11, &v) == NGX_OK) {
        n = ngx_http_gatehouse_in_arg_bool(&v);
        if (n == NGX_ERROR) {
            return ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                       "bad_unread_only", "unread_only must be true or false");
        }

        l.scan.unread_only = n;
    }

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);
        if (n < 1 || n > NGX_HTTP_GATEHOUSE_INBOX_LIMIT_MAX) {
            return ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                       "bad_limit", "limit must be a number from 1 to 100");
        }

        l.limit = n;
    }

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &v) == NGX_OK && v.len) {
        /* "PRIORITY.ID", as next_cursor gave it */
        dot = ngx_strlchr(v.data, v.data + v.len, '.');
        n = dot ? ngx_atoi(v.data, dot - v.data) : NGX_ERROR;

        if (n < 0 || n > 9 || dot + 1 == v.data + v.len
            || dot + 1 + 18 < v.data + v.len)
        {
            goto bad_cursor;
        }

        l.after_prio = (int) n;
        n = ngx_atoi(dot + 1, v.data + v.len - dot - 1);
        if (n <= 0) {
            goto bad_cursor;
        }

        l.after_id = (uint64_t) n;
    }

    l.scan.cap = NGX_HTTP_GATEHOUSE_INBOX_SCAN_MAX;
    l.scan.keys = ngx_alloc(l.scan.cap * sizeof(l.scan.keys[0]),
                            r->connection->log);
    l.items = json_array();

    if (l.scan.keys == NULL || l.items == NULL) {
        ngx_free(l.scan.keys);
        json_decref(l.items);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = gh_store_view(store, ngx_http_gatehouse_in_list_view, &l);

    ngx_free(l.scan.keys);

    if (err != GH_OK) {
        json_decref(l.items);
        json_decref(l.next);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: inbox of \"%V\": %s", user,
                      gh_strerror(err));
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "store_unavailable", "the inbox cannot be read now");
    }

    body = json_pack("{s:o, s:I, s:o}", "notifications", l.items,
                     "unread_count", (json_int_t) l.scan.unread,
                     "next_cursor", l.next ? l.next : json_null());

    return ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, body);

bad_cursor:

    return ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST, "bad_cursor",
               "cursor must be a next_cursor this API gave");
}


/* ---- GET .../preferences ---- */

static gh_err
ngx_http_gatehouse_in_prefs_view(struct gh_txn *txn, void *arg)
{
    void     **a = arg;
    json_t    *p = NULL;
    gh_err     err;

    err = gh_prefs_get_txn(txn, a[0], &p);

    if (err == GH_ENOTFOUND) {
        p = json_object();
        err = p ? GH_OK : GH_ENOMEM;
    }

    a[1] = p;

    return err;
}


static ngx_int_t
ngx_http_gatehouse_in_prefs_get(ngx_http_request_t *r, ngx_str_t *user,
    struct gh_store *store)
{
    void    *a[2] = { user->data, NULL };
    json_t  *p;
    gh_err   err;

    err = gh_store_view(store, ngx_http_gatehouse_in_prefs_view, a);
    p = a[1];

    if (err != GH_OK) {
        json_decref(p);
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "store_unavailable", "preferences cannot be read now");
    }

    json_object_del(p, "v");

    return ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, p);
}


/* ---- writes, in the thread pool ---- */

/* The request for the core, in the web store's outbox (webreq.h in
 * notifyd): only when the web store is not the core's. */
static gh_err
ngx_http_gatehouse_in_request(struct gh_txn *txn,
    ngx_http_gatehouse_inwrite_t *w, const char *type, json_t *md)
{
    gh_err            err;
    json_t           *ev;
    struct gh_event  *b;

    if (md == NULL) {
        return GH_ENOMEM;
    }

    b = gh_event_new();

    gh_event_set_type(b, type);
    gh_event_set_title(b, "inbox request");
    gh_event_set_user(b, w->user);
    gh_event_set_metadata_new(b, md);

    err = gh_event_finish(b, &ev, NULL, 0);
    if (err != GH_OK) {
        return err;
    }

    err = gh_queue_enqueue_txn(txn, ev, w->now, 0, NULL, NULL);
    json_decref(ev);

    return err;
}


static gh_err
ngx_http_gatehouse_in_write_txn(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_inwrite_t  *w = arg;

    gh_err       err;
    ngx_uint_t   split;
    json_t      *sub;

    split = w->gmcf->inbox_split;
    w->changed = 0;
    w->why[0] = '\0';
    w->unknown = 0;

    /* Preferences and subscriptions only for users the store has
     * something of (contacts, preferences or an item): the core refuses
     * the others (docs/security.md, "The web face"), so say so now
     * rather than answer a change that will never be made. */
    if (w->what == NGX_HTTP_GATEHOUSE_IN_PREFS
        || (w->what == NGX_HTTP_GATEHOUSE_IN_PUSH && !w->remove))
    {
        err = gh_user_known_txn(txn, w->user);
        if (err == GH_ENOTFOUND) {
            w->unknown = 1;
        }

        if (err) {
            return err;
        }
    }

    switch (w->what) {

    case NGX_HTTP_GATEHOUSE_IN_READ:
        err = gh_inbox_mark_read_txn(txn, w->user, w->id, w->now,
                                     &w->changed);
        if (err == GH_OK && split && w->changed) {
            err = ngx_http_gatehouse_in_request(txn, w, "web.inbox_read",
                      json_pack("{s:I}", "id", (json_int_t) w->id));
        }

        return err;

    case NGX_HTTP_GATEHOUSE_IN_READ_ALL:
        err = gh_inbox_mark_read_txn(txn, w->user, 0, w->now, &w->changed);
        if (err == GH_OK && split && w->changed) {
            /* only when it changed something: a request in the outbox
             * per click would let one user fill the web store */
            err = ngx_http_gatehouse_in_request(txn, w,
                                                "web.inbox_read_all",
                                                json_object());
        }

        return err;

    case NGX_HTTP_GATEHOUSE_IN_PREFS:
        err = gh_prefs_put_txn(txn, w->user, w->body, w->now);
        if (err == GH_OK && split) {
            err = ngx_http_gatehouse_in_request(txn, w, "web.prefs",
                      json_pack("{s:O}", "prefs", w->body));
        }

        return err;

    case NGX_HTTP_GATEHOUSE_IN_PUSH:
        if (split) {
            /* contacts are the core's alone: the web store keeps none */
            if (w->remove) {
                return ngx_http_gatehouse_in_request(txn, w,
                           "web.push_remove",
                           json_pack("{s:O}", "endpoint",
                                     json_object_get(w->body, "endpoint")));
            }

            return ngx_http_gatehouse_in_request(txn, w, "web.push_add",
                       json_pack("{s:O}", "subscription", w->body));
        }

        if (w->remove) {
            err = gh_push_remove_txn(txn, w->user,
                      json_string_value(json_object_get(w->body,
                                                        "endpoint")),
                      w->now);
            return (err == GH_ENOTFOUND) ? GH_OK : err;
        }

        sub = w->body;

        return gh_push_add_txn(txn, w->user, sub, w->now, w->why,
                               sizeof(w->why));

    default:
        return GH_EINVAL;
    }
}


static void
ngx_http_gatehouse_in_write_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_inwrite_t  *w = data;

    w->err = ngx_http_gatehouse_store_write(w->gmcf,
                                            ngx_http_gatehouse_in_write_txn,
                                            w);
}


static void
ngx_http_gatehouse_in_write_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_inwrite_t  *w = ev->data;

    json_t              *body;
    ngx_int_t            rc;
    ngx_http_request_t  *r = w->request;

    r->main->blocked--;

    if (w->err == GH_ENOTFOUND && w->unknown) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_FOUND,
                 "unknown_user", "nothing is known of this user yet");
        goto done;
    }

    if (w->err == GH_ENOTFOUND) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such notification");
        goto done;
    }

    if (w->err == GH_ETOOBIG) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                 "too_big", "the change would make the user's record "
                 "too big");
        goto done;
    }

    if (w->err == GH_EINVAL) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                 "bad_subscription", w->why[0] ? w->why
                                               : "the request was refused");
        goto done;
    }

    if (w->err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: inbox write for \"%s\": %s", w->user,
                      gh_strerror(w->err));
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                 "store_unavailable", "the change could not be saved now");
        goto done;
    }

    switch (w->what) {

    case NGX_HTTP_GATEHOUSE_IN_READ:
        body = json_pack("{s:I, s:b}", "id", (json_int_t) w->id, "is_read",
                         1);
        rc = ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, body);
        break;

    case NGX_HTTP_GATEHOUSE_IN_READ_ALL:
        body = json_pack("{s:I}", "marked", (json_int_t) w->changed);
        rc = ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, body);
        break;

    case NGX_HTTP_GATEHOUSE_IN_PREFS:
        rc = ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, json_incref(w->body));
        break;

    default: /* push */
        body = json_pack("{s:O, s:b}", "endpoint",
                         json_object_get(w->body, "endpoint"),
                         "subscribed", !w->remove);
        rc = ngx_http_gatehouse_in_json(r, w->remove ? NGX_HTTP_OK
                                                     : NGX_HTTP_CREATED,
                                        body);
        break;
    }

done:

    json_decref(w->body);
    w->body = NULL;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(r->connection);
}


static void
ngx_http_gatehouse_in_body_cleanup(void *data)
{
    ngx_http_gatehouse_inwrite_t  *w = data;

    json_decref(w->body);
    w->body = NULL;
}


/* The request's write, found by its cleanup (the module's ctx belongs to
 * the upload code's filters, which read it as theirs). */
static ngx_http_gatehouse_inwrite_t *
ngx_http_gatehouse_in_find(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *c;

    for (c = r->pool->cleanup; c != NULL; c = c->next) {
        if (c->handler == ngx_http_gatehouse_in_body_cleanup) {
            return c->data;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_gatehouse_in_write(ngx_http_request_t *r,
    ngx_http_gatehouse_inwrite_t *w)
{
    ngx_http_gatehouse_loc_conf_t  *glcf;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);

    w->request = r;
    w->now = gh_now_ms();

    if (ngx_http_gatehouse_post(glcf, r->pool,
                                ngx_http_gatehouse_in_write_run,
                                ngx_http_gatehouse_in_write_done, w,
                                r->connection->log)
        != NGX_OK)
    {
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "store_unavailable", "the change could not be saved now");
    }

    /* the request lives until the write is done (in_write_done) */
    r->main->count++;
    r->main->blocked++;

    return NGX_DONE;
}


/* ---- the handler ---- */

ngx_int_t
ngx_http_gatehouse_inbox_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        user;
    uint64_t                         id = 0;
    struct gh_store                 *store;
    ngx_pool_cleanup_t              *cln;
    ngx_http_gatehouse_in_e          what;
    ngx_http_gatehouse_inwrite_t    *w;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    if (ngx_http_gatehouse_in_route(r, &what, &id) != NGX_OK) {
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                           "no such resource");
    }

    rc = ngx_http_gatehouse_in_user(r, &user);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_UNAUTHORIZED,
                   "unauthenticated", "no user for this request");
    }

    switch (what) {
    case NGX_HTTP_GATEHOUSE_IN_LIST:
    case NGX_HTTP_GATEHOUSE_IN_STREAM:
        rc = (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? NGX_OK : NGX_ERROR;
        break;
    case NGX_HTTP_GATEHOUSE_IN_PREFS:
        rc = (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT))
             ? NGX_OK : NGX_ERROR;
        break;
    case NGX_HTTP_GATEHOUSE_IN_PUSH:
        rc = (r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE)) ? NGX_OK
                                                            : NGX_ERROR;
        break;
    default:
        rc = (r->method & NGX_HTTP_POST) ? NGX_OK : NGX_ERROR;
        break;
    }

    if (rc != NGX_OK) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "method not allowed here");
    }

    store = ngx_http_gatehouse_store(gmcf, r->connection->log);
    if (store == NULL) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "store_unavailable", "the inbox cannot be read now");
    }

    if (what == NGX_HTTP_GATEHOUSE_IN_LIST
        || what == NGX_HTTP_GATEHOUSE_IN_STREAM
        || (what == NGX_HTTP_GATEHOUSE_IN_PREFS
            && !(r->method & NGX_HTTP_PUT)))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (what == NGX_HTTP_GATEHOUSE_IN_LIST) {
            return ngx_http_gatehouse_in_list(r, &user, store);
        }

        if (what == NGX_HTTP_GATEHOUSE_IN_PREFS) {
            return ngx_http_gatehouse_in_prefs_get(r, &user, store);
        }

        return ngx_http_gatehouse_stream_start(r, &user);
    }

    w = ngx_pcalloc(r->pool, sizeof(*w));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (w == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_gatehouse_in_body_cleanup;
    cln->data = w;

    w->gmcf = gmcf;
    w->what = what;
    w->id = id;
    w->remove = (r->method & NGX_HTTP_DELETE) ? 1 : 0;
    ngx_memcpy(w->user, user.data, user.len);
    w->user[user.len] = '\0';

    /* not the module's ctx: the upload filters take that for theirs */

    if (what == NGX_HTTP_GATEHOUSE_IN_READ
        || what == NGX_HTTP_GATEHOUSE_IN_READ_ALL)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_gatehouse_in_write(r, w);
    }

    /* a JSON body: preferences or a subscription */
    if (r->headers_in.content_length_n > NGX_HTTP_GATEHOUSE_INBOX_BODY_MAX) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_gatehouse_in_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the JSON body is larger than 16 KiB");
    }

    r->request_body_in_single_buf = 1;
    r->request_body_in_persistent_file = 0;
    r->request_body_no_buffering = 0;

    rc = ngx_http_read_client_request_body(r, ngx_http_gatehouse_inbox_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* The body, whole, as JSON; NULL with a code and message when it is not
 * a JSON object. */
static json_t *
ngx_http_gatehouse_in_read_json(ngx_http_request_t *r, const char **msg)
{
    u_char       *buf, *p;
    size_t        len;
    ssize_t       n;
    json_t       *j;
    ngx_chain_t  *cl;

    *msg = "the body must be a JSON object";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NULL;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NULL;
    }

    if (len > NGX_HTTP_GATEHOUSE_INBOX_BODY_MAX) {
        *msg = "the JSON body is larger than 16 KiB";
        return NULL;
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            n = ngx_read_file(cl->buf->file, p,
                              cl->buf->file_last - cl->buf->file_pos,
                              cl->buf->file_pos);
            if (n < 0) {
                return NULL;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    j = json_loadb((const char *) buf, p - buf, JSON_REJECT_DUPLICATES,
                   NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }

    return j;
}


static void
ngx_http_gatehouse_inbox_body(ngx_http_request_t *r)
{
    char                           detail[200];
    const char                    *msg;
    json_t                        *j, *probe, *sub;
    ngx_int_t                      rc;
    ngx_http_gatehouse_inwrite_t  *w;

    w = ngx_http_gatehouse_in_find(r);
    if (w == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    j = ngx_http_gatehouse_in_read_json(r, &msg);
    if (j == NULL) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST, "bad_json",
                                         msg);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (w->what == NGX_HTTP_GATEHOUSE_IN_PREFS) {
        /* the fields notifyd honours, and nothing else (users.h) */
        if (json_object_get(j, "v") || json_object_get(j, "updated_at")
            || gh_prefs_validate(j, detail, sizeof(detail)) != GH_OK)
        {
            if (json_object_get(j, "v") || json_object_get(j, "updated_at"))
            {
                ngx_cpystrn((u_char *) detail,
                            (u_char *) "v and updated_at are the store's",
                            sizeof(detail));
            }

            json_decref(j);
            rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                                             "bad_preferences", detail);
            ngx_http_finalize_request(r, rc);
            return;
        }

        w->body = j;

    } else if (w->remove) {
        if (!json_is_string(json_object_get(j, "endpoint"))
            || json_string_length(json_object_get(j, "endpoint")) == 0
            || json_string_length(json_object_get(j, "endpoint")) > 2048)
        {
            json_decref(j);
            rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                     "bad_subscription", "endpoint must be a URL");
            ngx_http_finalize_request(r, rc);
            return;
        }

        w->body = j;

    } else {
        /* PushSubscription.toJSON(): endpoint, keys, expirationTime.
         * keys holds p256dh and auth only: anything else would be
         * stored in the user's contacts record for nothing (and once
         * filled it past the record bound). */
        {
            static const char *const  keys[] = { "p256dh", "auth", NULL };
            const char               *k;

            if (!gh_json_only_members(json_object_get(j, "keys"), keys,
                                      &k))
            {
                (void) snprintf(detail, sizeof(detail),
                                "keys.%.64s is not a member of a "
                                "subscription's keys (p256dh, auth)", k);
                json_decref(j);
                rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                                                 "bad_subscription", detail);
                ngx_http_finalize_request(r, rc);
                return;
            }
        }

        sub = json_pack("{s:O?, s:O?}", "endpoint",
                        json_object_get(j, "endpoint"), "keys",
                        json_object_get(j, "keys"));
        probe = sub ? json_pack("{s:[O]}", "push", sub) : NULL;

        if (probe == NULL
            || json_object_get(sub, "endpoint") == NULL
            || json_object_get(sub, "keys") == NULL
            || gh_contacts_validate(probe, detail, sizeof(detail)) != GH_OK)
        {
            if (sub != NULL && (json_object_get(sub, "endpoint") == NULL
                                || json_object_get(sub, "keys") == NULL))
            {
                ngx_cpystrn((u_char *) detail, (u_char *) "a subscription "
                            "needs endpoint and keys", sizeof(detail));
            }

            json_decref(probe);
            json_decref(sub);
            json_decref(j);
            rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                                             "bad_subscription", detail);
            ngx_http_finalize_request(r, rc);
            return;
        }

        json_decref(probe);
        json_decref(j);
        w->body = sub;
    }

    rc = ngx_http_gatehouse_in_write(r, w);

    ngx_http_finalize_request(r, rc);
}


/* gatehouse_inbox [streams=N] [streams_per_user=M];  the location answers
 * the inbox API. */
char *
ngx_http_gatehouse_set_inbox(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    ngx_int_t                  n;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is not allowed with another content handler";
    }

    glcf->inbox_streams = 1024;
    glcf->inbox_streams_per_user = 8;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len > sizeof("streams_per_user=") - 1
            && ngx_strncmp(value[i].data, "streams_per_user=",
                           sizeof("streams_per_user=") - 1) == 0)
        {
            n = ngx_atoi(value[i].data + sizeof("streams_per_user=") - 1,
                         value[i].len - (sizeof("streams_per_user=") - 1));
            if (n < 1 || n > 1000000) {
                return "streams_per_user= must be a number from 1 to "
                       "1000000";
            }

            glcf->inbox_streams_per_user = n;
            continue;
        }

        if (value[i].len <= sizeof("streams=") - 1
            || ngx_strncmp(value[i].data, "streams=", sizeof("streams=") - 1)
               != 0)
        {
            return "takes only streams=N and streams_per_user=M";
        }

        n = ngx_atoi(value[i].data + sizeof("streams=") - 1,
                     value[i].len - (sizeof("streams=") - 1));
        if (n < 1 || n > 1000000) {
            return "streams= must be a number from 1 to 1000000";
        }

        glcf->inbox_streams = n;
    }

    clcf->handler = ngx_http_gatehouse_inbox_handler;

    return NGX_CONF_OK;
}
