/*
 * ngx_http_gatehouse_status.c - `gatehouse_upload_status;` locations:
 * GET .../ID answers with the record of upload ID from the store, as JSON,
 * to the user who uploaded it and to nobody else.
 *
 * The user is the location's gatehouse_upload_user (inherited like the
 * upload locations'): the record's user must equal it.  Anyone else, an
 * anonymous request (empty user), an anonymous upload, an id that is not
 * a number or not in the store: 404, the same answer each time, so ids
 * (sequential) cannot be probed for existence.  A read transaction never
 * waits on writers, so this runs in the event loop.
 *
 *   {"id": 12, "filename": "cv.pdf", "original_filename": "CV.pdf",
 *    "size": 1234, "mime": "application/pdf", "sha256": "...", "category": "documents",
 *    "status": "stored", "reason": null, "scan": "clean", "url": "/...",
 *    "created_at": ms, "updated_at": ms}
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/text.h"


/*
 * The id that ends the URI, .../ID: its text into s, its value into id.
 * A decimal id, 1 to 2^63 - 1, without sign or leading zeros.
 */
ngx_int_t
ngx_http_gatehouse_uri_id(ngx_http_request_t *r, ngx_str_t *s, uint64_t *id)
{
    size_t    i, len;
    u_char   *p, *last;
    uint64_t  v;

    last = r->uri.data + r->uri.len;
    for (p = last; p > r->uri.data && p[-1] != '/'; p--) {
        /* void */
    }

    len = last - p;

    s->data = p;
    s->len = len;

    if (len == 0 || len > 18 || p[0] == '0') {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }

        v = v * 10 + (p[i] - '0');
    }

    *id = v;

    return NGX_OK;
}


ngx_int_t
ngx_http_gatehouse_status_handler(ngx_http_request_t *r)
{
    gh_err                           err;
    json_t                          *body, *owner, *rec, *mine;
    uint64_t                         id;
    ngx_int_t                        rc;
    ngx_str_t                        user, s;
    ngx_uint_t                       i;
    struct gh_store                 *store;
    ngx_http_gatehouse_loc_conf_t   *glcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    static const char  *keys[] = { "size", "mime", "sha256", "category",
                                   "status", "reason", "scan", "signature",
                                   "url", "created_at", "updated_at",
                                   NULL };

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    ngx_str_null(&user);

    if (glcf->user != NULL
        && ngx_http_complex_value(r, glcf->user, &user) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (user.len == 0 || ngx_http_gatehouse_uri_id(r, &s, &id) != NGX_OK) {
        goto not_found;
    }

    store = ngx_http_gatehouse_store(gmcf, r->connection->log);
    if (store == NULL) {
        return ngx_http_gatehouse_error(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                   "upload records cannot be read at the moment");
    }

    err = ngx_http_gatehouse_upload_get(store, id, &rec);

    if (err == GH_ENOTFOUND) {
        goto not_found;
    }

    if (err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: store: reading upload %uL failed: %s",
                      id, gh_strerror(err));
        return ngx_http_gatehouse_error(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                   "upload records cannot be read at the moment");
    }

    /* the record keeps the user escaped (ngx_http_gatehouse_json_str):
     * compare like with like */
    owner = json_object_get(rec, "user");
    mine = ngx_http_gatehouse_json_str(user.data, user.len, GH_TEXT_IDENT);

    if (mine == NULL || !json_is_string(owner)
        || !json_equal(owner, mine))
    {
        json_decref(mine);
        json_decref(rec);
        goto not_found;
    }

    json_decref(mine);

    body = json_object();
    if (body == NULL) {
        json_decref(rec);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_object_set_new(body, "id", json_integer((json_int_t) id));
    ngx_http_gatehouse_record_names(body, rec);

    for (i = 0; keys[i] != NULL; i++) {
        if (json_object_get(rec, keys[i]) != NULL) {
            json_object_set(body, keys[i], json_object_get(rec, keys[i]));
        }
    }

    json_decref(rec);

    /* one user's upload: no shared cache may keep it */
    if (ngx_http_gatehouse_add_header(r, "Cache-Control", "no-store")
        != NGX_OK)
    {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_gatehouse_send_json(r, NGX_HTTP_OK, body);

not_found:

    return ngx_http_gatehouse_error(r, NGX_HTTP_NOT_FOUND,
                                           "not_found", "no such upload");
}
