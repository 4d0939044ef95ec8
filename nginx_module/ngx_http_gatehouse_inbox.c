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
 * writers): ngx_http_gatehouse_inbox_read.c.  Writes go to the thread
 * pool like every write of the module: ngx_http_gatehouse_inbox_write.c,
 * after the JSON body of a PUT, POST or DELETE is read and checked in
 * ngx_http_gatehouse_inbox_body.c.  This file: a request's route and user,
 * the handler that sends it to its part, the gatehouse_inbox directive,
 * and small helpers of all the parts (declared, with the rest they share,
 * in ngx_http_gatehouse_inbox.h).
 *
 * Live updates: ngx_http_gatehouse_stream.c.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_inbox.h"
#include "gatehouse/users.h"


/* ---- small helpers ---- */

ngx_int_t
ngx_http_gatehouse_in_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    (void) ngx_http_gatehouse_add_header(r, "Cache-Control", "no-store");

    return ngx_http_gatehouse_error(r, status, code, message);
}


ngx_int_t
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


static void
ngx_http_gatehouse_in_body_cleanup(void *data)
{
    ngx_http_gatehouse_inwrite_t  *w = data;

    json_decref(w->body);
    w->body = NULL;
}


/* The request's write, found by its cleanup (the module's ctx belongs to
 * the upload code's filters, which read it as theirs). */
ngx_http_gatehouse_inwrite_t *
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
