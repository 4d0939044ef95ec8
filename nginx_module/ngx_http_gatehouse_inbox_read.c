/*
 * ngx_http_gatehouse_inbox_read.c - the inbox API's reads: GET
 * .../notifications (a page of the list, most urgent first, then newest,
 * with the unread count and a cursor) and GET .../notifications/preferences.
 * Each is one read transaction in the event loop, which never waits on
 * writers; apart from the writes (ngx_http_gatehouse_inbox_write.c), which
 * go to the thread pool.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_inbox.h"
#include "gatehouse/users.h"


#define NGX_HTTP_GATEHOUSE_INBOX_LIMIT      20     /* items per page */
#define NGX_HTTP_GATEHOUSE_INBOX_LIMIT_MAX  100
#define NGX_HTTP_GATEHOUSE_INBOX_SCAN_MAX   10000  /* items sorted at once */


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


ngx_int_t
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


ngx_int_t
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
