/*
 * ngx_http_gatehouse_links.c - the signed links of docs/tokens.md, checked
 * by nginx:
 *
 *   `gatehouse_unsubscribe;`  one-click unsubscribe (RFC 8058).  GET shows
 *       a page naming the address and list, with a button that posts
 *       List-Unsubscribe=One-Click; that POST (from the page or straight
 *       from a mail client) puts the recipient on the suppression list
 *       (gh_suppress_add_txn, source "unsubscribe") and says so.
 *   `gatehouse_download;`  GET .../ID?t=TOKEN serves stored upload ID when
 *       the token is a download token for ID (and, if it names a user, the
 *       upload is that user's), as an attachment; Range and the
 *       conditional headers are nginx's, as for a static file.
 *
 * Keys are [tokens] web_key_file of gatehouse.conf (the derived keys only,
 * docs/tokens.md), or key_file and previous_key_file when it is unset, read
 * by the master with the configuration (so `nginx -t` checks them, and a
 * reload picks up a rotation); the token is the query argument t.  The
 * one write (the suppression entry) is made in the location's thread pool
 * (gatehouse_thread_pool), the request held meanwhile: the event loop
 * never waits for the store's write lock, which another process may hold.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"


#define NGX_HTTP_GATEHOUSE_BODY_MAX  1024
#define NGX_HTTP_GATEHOUSE_GONE      410   /* nginx names no constant */


/* Each purpose a location uses must be in the current key. */
static char *
ngx_http_gatehouse_keys_cover(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf, const char *file, const char *what)
{
    static const struct {
        enum gh_token_purpose   purpose;
        const char             *name;
        const char             *directive;
    } need[] = {
        { GH_TOKEN_UNSUBSCRIBE, "unsubscribe", "gatehouse_unsubscribe" },
        { GH_TOKEN_DOWNLOAD, "download", "gatehouse_download" },
    };

    ngx_uint_t  i;

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if ((gmcf->needs_keys & GH_TOKEN_BIT(need[i].purpose))
            && !gh_token_key_has(&gmcf->keys[0], need[i].purpose))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gatehouse: [tokens] %s \"%s\" has no "
                               "%s key, which \"%s\" needs (gatehouse "
                               "tokens derive writes it)",
                               what, file, need[i].name, need[i].directive);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * [tokens] web_key_file, when set: the web domain's own file, with the
 * derived keys only (its .previous lines are the second key); else
 * key_file and previous_key_file, the masters.  The loading is the
 * library's (gh_token_verifier_keys), which `gatehouse config check` runs
 * too, so both say the same of the same files.
 */
char *
ngx_http_gatehouse_load_keys(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf)
{
    char         detail[512];
    size_t       n;
    gh_err       err;
    const char  *which, *path;

    err = gh_token_verifier_keys(
              gmcf->web_key_file.len ? (const char *) gmcf->web_key_file.data
                                     : NULL,
              "web_key_file",
              gmcf->key_file.len ? (const char *) gmcf->key_file.data : NULL,
              gmcf->prev_key_file.len ? (const char *) gmcf->prev_key_file.data
                                      : NULL,
              gmcf->keys, &n, &which, &path, detail, sizeof(detail));
    if (err != GH_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gatehouse: [tokens] %s \"%s\": %s", which,
                           path ? path : "", detail);
        return NGX_CONF_ERROR;
    }

    gmcf->nkeys = n;

    return ngx_http_gatehouse_keys_cover(cf, gmcf, path, which);
}


/* The token of the request (query argument t), checked for purpose. */
static gh_err
ngx_http_gatehouse_token(ngx_http_request_t *r, enum gh_token_purpose purpose,
    struct gh_token *tok)
{
    ngx_str_t                        t;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    ngx_memzero(tok, sizeof(struct gh_token));

    if (ngx_http_arg(r, (u_char *) "t", 1, &t) != NGX_OK || t.len == 0) {
        return GH_EINVAL;
    }

    return gh_token_check(gmcf->keys, gmcf->nkeys, purpose, (char *) t.data,
                          t.len, (int64_t) ngx_time(), tok);
}


/* ---- one-click unsubscribe ---- */


/* s, HTML-escaped, into the request's pool. */
static u_char *
ngx_http_gatehouse_html(ngx_http_request_t *r, const char *s)
{
    size_t   len, extra;
    u_char  *p;

    len = ngx_strlen(s);
    extra = ngx_escape_html(NULL, (u_char *) s, len);

    p = ngx_pnalloc(r->pool, len + extra + 1);
    if (p == NULL) {
        return NULL;
    }

    if (extra) {
        *(u_char *) ngx_escape_html(p, (u_char *) s, len) = '\0';

    } else {
        ngx_memcpy(p, s, len + 1);
    }

    return p;
}


static ngx_int_t
ngx_http_gatehouse_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, const char *fmt, const u_char *addr,
    const u_char *list, ngx_uint_t form)
{
    size_t      len;
    u_char     *p;
    ngx_buf_t  *b;

    len = 512 + ngx_strlen(title) + ngx_strlen(fmt)
          + (addr ? ngx_strlen(addr) : 0) + (list ? ngx_strlen(list) : 0);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_slprintf(b->last, b->end,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\">"
                     "<title>%s</title></head>\n<body><h1>%s</h1>\n<p>",
                     title, title);
    p = ngx_slprintf(p, b->end, fmt, addr ? addr : (u_char *) "",
                     list ? list : (u_char *) "");
    p = ngx_slprintf(p, b->end, "</p>\n");

    if (form) {
        p = ngx_slprintf(p, b->end,
                         "<form method=\"post\"><input type=\"hidden\" "
                         "name=\"List-Unsubscribe\" value=\"One-Click\">"
                         "<button type=\"submit\">Unsubscribe</button>"
                         "</form>\n");
    }

    b->last = ngx_slprintf(p, b->end, "</body></html>\n");

    return ngx_http_gatehouse_send_buf(r, status, "text/html; charset=utf-8",
                                       b);
}


/* The answer for a token that did not check out (tok as gh_token_check
 * filled it). */
static ngx_int_t
ngx_http_gatehouse_unsub_refused(ngx_http_request_t *r, gh_err err,
    struct gh_token *tok)
{
    u_char  *addr;

    if (err == GH_EEXPIRED && tok->nfields >= 1) {
        addr = ngx_http_gatehouse_html(r, tok->field[0]);
        if (addr == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_gatehouse_page(r, NGX_HTTP_GATEHOUSE_GONE,
                   "Link expired", "This unsubscribe link for <b>%s</b> has expired. "
                   "The unsubscribe link in a more recent message will "
                   "work.", addr, NULL, 0);
    }

    return ngx_http_gatehouse_page(r, NGX_HTTP_BAD_REQUEST, "Invalid link",
                                   "This unsubscribe link is not valid.%s%s",
                                   NULL, NULL, 0);
}


/* The suppression entry being written from the thread pool, in the
 * request's pool: the request is held until it is done. */
typedef struct {
    ngx_http_request_t              *request;
    ngx_http_gatehouse_main_conf_t  *main;
    struct gh_token                  tok;
    int64_t                          now;
    gh_err                           err;
} ngx_http_gatehouse_unsub_t;


static gh_err
ngx_http_gatehouse_suppress(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_unsub_t *u = arg;

    return gh_suppress_add_txn(txn, u->tok.field[0],
                               u->tok.nfields >= 2 ? u->tok.field[1] : "",
                               "one-click unsubscribe", "unsubscribe",
                               u->now);
}


/* In a thread of the pool. */
static void
ngx_http_gatehouse_unsub_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_unsub_t *u = data;

    u->err = ngx_http_gatehouse_store_write(u->main,
                                            ngx_http_gatehouse_suppress, u);
}


/* The answer, once the entry is written (or not). */
static ngx_int_t
ngx_http_gatehouse_unsub_answer(ngx_http_gatehouse_unsub_t *u)
{
    u_char              *addr, *list;
    ngx_http_request_t  *r = u->request;

    if (u->err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: unsubscribe of \"%s\" not recorded: %s",
                      u->tok.field[0], gh_strerror(u->err));

        return ngx_http_gatehouse_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "Please try again",
                   "Your request could not be recorded just now; please try "
                   "again in a moment.%s%s", NULL, NULL, 0);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gatehouse: \"%s\" unsubscribed from \"%s\"",
                  u->tok.field[0],
                  u->tok.nfields >= 2 ? u->tok.field[1] : "");

    addr = ngx_http_gatehouse_html(r, u->tok.field[0]);
    list = ngx_http_gatehouse_html(r, u->tok.nfields >= 2
                                      && u->tok.field[1][0]
                                      ? u->tok.field[1] : "every list");
    if (addr == NULL || list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_gatehouse_page(r, NGX_HTTP_OK, "Unsubscribed",
                                   "<b>%s</b> will get no more mail from "
                                   "<b>%s</b>.", addr, list, 0);
}


/* Back in the event loop. */
static void
ngx_http_gatehouse_unsub_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_unsub_t *u = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r = u->request;

    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;

    ngx_http_finalize_request(r, ngx_http_gatehouse_unsub_answer(u));
    ngx_http_run_posted_requests(c);
}


/* RFC 8058: the body holds List-Unsubscribe=One-Click, urlencoded or as
 * a multipart/form-data field. */
static ngx_int_t
ngx_http_gatehouse_one_click(ngx_http_request_t *r)
{
    u_char        buf[NGX_HTTP_GATEHOUSE_BODY_MAX + 1];
    size_t        n, k;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->temp_file != NULL) {
        return NGX_DECLINED;
    }

    n = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            return NGX_DECLINED;
        }

        k = cl->buf->last - cl->buf->pos;
        if (n + k > NGX_HTTP_GATEHOUSE_BODY_MAX) {
            return NGX_DECLINED;
        }

        ngx_memcpy(buf + n, cl->buf->pos, k);
        n += k;
    }

    buf[n] = '\0';

    if (ngx_strstr(buf, "List-Unsubscribe=One-Click") != NULL
        || (ngx_strstr(buf, "name=\"List-Unsubscribe\"") != NULL
            && ngx_strstr(buf, "One-Click") != NULL))
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_http_gatehouse_unsub_post(ngx_http_request_t *r)
{
    gh_err                           err;
    ngx_http_gatehouse_unsub_t      *u;
    ngx_http_gatehouse_loc_conf_t   *glcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);
    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);

    u = ngx_pcalloc(r->pool, sizeof(ngx_http_gatehouse_unsub_t));
    if (u == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    u->request = r;
    u->main = gmcf;

    err = ngx_http_gatehouse_token(r, GH_TOKEN_UNSUBSCRIBE, &u->tok);

    if (err != GH_OK || u->tok.nfields < 1) {
        ngx_http_finalize_request(r,
            ngx_http_gatehouse_unsub_refused(r, err, &u->tok));
        return;
    }

    if (ngx_http_gatehouse_one_click(r) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_gatehouse_page(r, NGX_HTTP_BAD_REQUEST, "Unsubscribe",
                "The request did not say List-Unsubscribe=One-Click.%s%s",
                NULL, NULL, 0));
        return;
    }

    u->now = gh_now_ms();
    u->err = GH_EIO;

    if (ngx_http_gatehouse_store(gmcf, r->connection->log) == NULL) {
        ngx_http_finalize_request(r, ngx_http_gatehouse_unsub_answer(u));
        return;
    }

    if (ngx_http_gatehouse_post(glcf, r->pool, ngx_http_gatehouse_unsub_run,
                                ngx_http_gatehouse_unsub_done, u,
                                r->connection->log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: could not post an unsubscribe to thread "
                      "pool \"%V\"", &glcf->thread_pool_name);
        ngx_http_finalize_request(r, ngx_http_gatehouse_unsub_answer(u));
        return;
    }

    /* held until the entry is written: ngx_http_gatehouse_unsub_done */
    r->main->blocked++;
}


ngx_int_t
ngx_http_gatehouse_unsubscribe_handler(ngx_http_request_t *r)
{
    gh_err            err;
    u_char           *addr, *list;
    ngx_int_t         rc;
    struct gh_token   tok;

    if (r->method & NGX_HTTP_POST) {
        /* a small form: nginx keeps it in memory */
        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_gatehouse_unsub_post);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    err = ngx_http_gatehouse_token(r, GH_TOKEN_UNSUBSCRIBE, &tok);
    if (err != GH_OK || tok.nfields < 1) {
        return ngx_http_gatehouse_unsub_refused(r, err, &tok);
    }

    addr = ngx_http_gatehouse_html(r, tok.field[0]);
    list = ngx_http_gatehouse_html(r, tok.nfields >= 2 && tok.field[1][0]
                                      ? tok.field[1] : "every list");
    if (addr == NULL || list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a GET changes nothing (link scanners follow links): the button
     * posts what a one-click mail client would */
    return ngx_http_gatehouse_page(r, NGX_HTTP_OK, "Unsubscribe",
                                   "Stop mail to <b>%s</b> from <b>%s</b>?",
                                   addr, list, 1);
}


/* ---- signed downloads ---- */


/* Content-Disposition: attachment, with an ASCII fallback name and the
 * UTF-8 one percent-encoded (RFC 6266).  The header, or NULL. */
static ngx_table_elt_t *
ngx_http_gatehouse_disposition(ngx_http_request_t *r, const char *name)
{
    size_t            len, i;
    u_char           *p;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    h = ngx_list_push(&r->headers_out.headers);
    p = ngx_pnalloc(r->pool, sizeof("attachment; filename=\"\"; "
                                    "filename*=UTF-8''") + 4 * len);
    if (h == NULL || p == NULL) {
        return NULL;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Content-Disposition");
    h->value.data = p;

    p = ngx_cpymem(p, "attachment; filename=\"", 22);

    for (i = 0; i < len; i++) {
        u_char  c = name[i];

        *p++ = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : c;
    }

    p = ngx_cpymem(p, "\"; filename*=UTF-8''", 20);

    for (i = 0; i < len; i++) {
        u_char  c = name[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
        {
            *p++ = c;

        } else {
            p = ngx_sprintf(p, "%%%02Xd", (ngx_uint_t) c);
        }
    }

    h->value.len = p - h->value.data;

    return h;
}


static ngx_int_t
ngx_http_gatehouse_send_file(ngx_http_request_t *r, json_t *rec)
{
    u_char                    *path;
    size_t                     n;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    const char                *stored, *mime, *name;
    ngx_file_info_t            fi;
    ngx_table_elt_t           *disposition;
    ngx_pool_cleanup_t        *cln;
    ngx_pool_cleanup_file_t   *clnf;

    stored = json_string_value(json_object_get(rec, "stored_name"));
    mime = json_string_value(json_object_get(rec, "mime"));
    name = json_string_value(ngx_http_gatehouse_record_name(rec));

    if (stored == NULL) {
        return ngx_http_gatehouse_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such upload");
    }

    n = ngx_strlen(stored);
    path = ngx_http_gatehouse_pstrdup(r->pool, stored, n);
    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    b = ngx_calloc_buf(r->pool);
    if (path == NULL || cln == NULL || b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file->fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (b->file->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", path);
        return ngx_http_gatehouse_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such upload");
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = b->file->fd;
    clnf->name = path;
    clnf->log = r->pool->log;

    if (ngx_fd_info(b->file->fd, &fi) == NGX_FILE_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_file_size(&fi);

    /*
     * As ngx_http_static_module does: with the whole file in one buffer,
     * nginx's range filter answers Range (206, multipart/byteranges, 416)
     * and If-Range, which compares against this ETag and Last-Modified;
     * its not-modified filter answers the other conditional headers.  A
     * stored upload is never rewritten, so its mtime and size identify it.
     */
    r->headers_out.last_modified_time = ngx_file_mtime(&fi);

    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->allow_ranges = 1;

    /* the record is freed after this: the log may still read the type */
    if (mime == NULL || mime[0] == '\0') {
        mime = "application/octet-stream";
    }

    r->headers_out.content_type.len = ngx_strlen(mime);
    r->headers_out.content_type.data = ngx_pnalloc(r->pool,
                                            r->headers_out.content_type.len);
    if (r->headers_out.content_type.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(r->headers_out.content_type.data, mime,
               r->headers_out.content_type.len);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    disposition = ngx_http_gatehouse_disposition(r, name ? name
                                                          : "download");
    if (disposition == NULL
        || ngx_http_gatehouse_add_header(r, "X-Content-Type-Options",
                                         "nosniff")
           != NGX_OK
        || ngx_http_gatehouse_add_header(r, "Cache-Control",
                                         "private, no-store")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file->name.data = path;
    b->file->name.len = n;
    b->file->log = r->connection->log;
    b->file_pos = 0;
    b->file_last = ngx_file_size(&fi);
    b->in_file = b->file_last ? 1 : 0;

    rc = ngx_http_gatehouse_send_body(r, b);

    /* the range filter refused the range: nginx's 416 page follows, and
     * it is no attachment */
    if (rc == NGX_HTTP_RANGE_NOT_SATISFIABLE) {
        disposition->hash = 0;
    }

    return rc;
}


ngx_int_t
ngx_http_gatehouse_download_handler(ngx_http_request_t *r)
{
    gh_err                           err;
    json_t                          *owner, *status, *rec;
    uint64_t                         id;
    ngx_int_t                        rc;
    ngx_str_t                        s;
    struct gh_store                 *store;
    struct gh_token                  tok;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    if (ngx_http_gatehouse_uri_id(r, &s, &id) != NGX_OK) {
        return ngx_http_gatehouse_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such upload");
    }

    err = ngx_http_gatehouse_token(r, GH_TOKEN_DOWNLOAD, &tok);

    if (err == GH_EEXPIRED) {
        return ngx_http_gatehouse_error(r, NGX_HTTP_GATEHOUSE_GONE,
                                        "link_expired",
                                        "this download link has expired");
    }

    /* the token must be for this upload, as the path names it */
    if (err != GH_OK || tok.nfields < 1
        || ngx_strlen(tok.field[0]) != s.len
        || ngx_strncmp(tok.field[0], s.data, s.len) != 0)
    {
        return ngx_http_gatehouse_error(r, NGX_HTTP_FORBIDDEN, "bad_link",
                                        "this download link is not valid");
    }

    store = ngx_http_gatehouse_store(gmcf, r->connection->log);
    if (store == NULL) {
        return ngx_http_gatehouse_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store_unavailable",
                                        "try again later");
    }

    err = ngx_http_gatehouse_upload_get(store, id, &rec);

    if (err != GH_OK) {
        if (err != GH_ENOTFOUND) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "gatehouse: store: reading upload %uL failed: %s",
                          id, gh_strerror(err));
        }

        return ngx_http_gatehouse_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such upload");
    }

    /* only stored files, never the quarantine; the token's user, if any,
     * must be the uploader */
    status = json_object_get(rec, "status");
    owner = json_object_get(rec, "user");

    if (!json_is_string(status)
        || ngx_strcmp(json_string_value(status), "stored") != 0
        || (tok.nfields >= 2 && tok.field[1][0] != '\0'
            && (!json_is_string(owner)
                || ngx_strcmp(json_string_value(owner), tok.field[1]) != 0)))
    {
        json_decref(rec);
        return ngx_http_gatehouse_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such upload");
    }

    rc = ngx_http_gatehouse_send_file(r, rec);
    json_decref(rec);

    return rc;
}
