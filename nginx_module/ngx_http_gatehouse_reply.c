/*
 * ngx_http_gatehouse_reply.c - the module's JSON answers.
 *
 * Success (201) is sent directly.  Errors are not: they are returned as
 * HTTP status codes so that nginx finalizes the request its own way (body
 * discarded or connection closed with lingering, HTTP/2 stream reset,
 * keepalive off when the body was not read to the end).  nginx then sends
 * its HTML error page through the output filters, where the two filters
 * below put the JSON chosen by ngx_http_gatehouse_fail() in its place.  An
 * admin's error_page for the same status still takes precedence.
 *
 * The handlers of the other locations (status, signed links) answer
 * through the same helpers: ngx_http_gatehouse_send_json() and
 * ngx_http_gatehouse_error(), or ngx_http_gatehouse_send_buf() for a body
 * of another type (ngx_http_gatehouse_send_body() once the headers are
 * set), and ngx_http_gatehouse_add_header().
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/text.h"


/* Set once while the configuration is read: nginx's filter chain idiom. */
static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static const struct {
    const char  *code;
    const char  *message;
} ngx_http_gatehouse_messages[] = {
    { "method_not_allowed", "uploads must be sent with POST" },
    { "not_multipart", "the request body is not multipart/form-data" },
    { "bad_boundary", "the multipart boundary is missing or invalid" },
    { "bad_multipart", "the multipart body is malformed" },
    { "truncated_body", "the body ended before the closing boundary" },
    { "part_headers_too_large", "a part's headers are too large" },
    { "nested_multipart", "nested multipart parts are not accepted" },
    { "transfer_encoding",
      "parts must not use a Content-Transfer-Encoding" },
    { "too_many_parts", "the form has too many parts" },
    { "too_many_files", "the form has too many files" },
    { "extension_not_allowed", "this file extension is not allowed" },
    { "type_mismatch",
      "the file's content does not match its extension" },
    { "file_too_large", "the file is larger than allowed" },
    { "empty_file", "the file is empty" },
    { "no_file", "the request contains no file" },
    { "write_failed", "the file could not be written" },
    { "insufficient_storage",
      "the server has no space left for uploads, try again later" },
    { "store_failed", "the file could not be stored" },
    { "store_unavailable",
      "uploads cannot be recorded at the moment, try again later" },
    { "infected", "the file contains a virus and was quarantined" },
    { "unscannable",
      "the file could not be scanned whole (too large, too deeply nested, "
      "or encrypted)" },
    { "scan_failed",
      "the virus scanner failed, try again later" },
    { "fields_too_large", "the form's fields are too large" },
    { "reserved_field_name",
      "a form field's name ends in a suffix reserved for the fields of a "
      "stored file" },
    { "internal_error", "internal error" },
    { "image_too_large", "the image has more pixels than allowed" },
    { "bad_image", "the image is truncated or corrupt" },
    { "busy",
      "the server is busy with other images, try again shortly" },
};


static const char *
ngx_http_gatehouse_message(const char *code)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_http_gatehouse_messages)
                    / sizeof(ngx_http_gatehouse_messages[0]); i++)
    {
        if (ngx_strcmp(ngx_http_gatehouse_messages[i].code, code) == 0) {
            return ngx_http_gatehouse_messages[i].message;
        }
    }

    return code;
}


/*
 * A JSON string of untrusted bytes (a user name, a form field's name, the
 * URI, what an error message quotes), escaped by the rule every producer
 * uses (gh_text_escape, docs/events.md "Untrusted text"); flags 0 or
 * GH_TEXT_IDENT.  NULL only when out of memory.
 */
json_t *
ngx_http_gatehouse_json_str(const u_char *s, size_t len, unsigned flags)
{
    char    *buf;
    size_t   cap, n;
    json_t  *j;

    /* room for the whole escape: every value here is bounded by nginx */
    cap = len * GH_TEXT_ESC_GROWTH + 1;
    if (cap < GH_TEXT_ESC_MIN) {
        cap = GH_TEXT_ESC_MIN;
    }

    buf = ngx_alloc(cap, ngx_cycle->log);
    if (buf == NULL) {
        return NULL;
    }

    n = gh_text_escape((const char *) s, len, buf, cap, flags, NULL);
    j = json_stringn(buf, n);
    ngx_free(buf);

    return j;
}


/* {"error": code, "message": message, "status": status}.  The message may
 * quote what the client sent (a preference's name, cut to fit): it is
 * escaped (control and invalid bytes as \xhh) rather than fail the pack,
 * which would leave the client nginx's own HTML 500. */
static json_t *
ngx_http_gatehouse_error_body(ngx_uint_t status, const char *code,
    const char *message)
{
    return json_pack("{s:s, s:o, s:i}", "error", code, "message",
                     ngx_http_gatehouse_json_str((const u_char *) message,
                                                 ngx_strlen(message), 0),
                     "status", (int) status);
}


/* JSON text of obj in the request pool, with a final newline. */
static ngx_int_t
ngx_http_gatehouse_dump(ngx_http_request_t *r, json_t *obj, ngx_str_t *out)
{
    char    *s;
    size_t   n;

    s = json_dumps(obj, JSON_COMPACT|JSON_ENSURE_ASCII);
    if (s == NULL) {
        return NGX_ERROR;
    }

    n = ngx_strlen(s);

    out->data = ngx_pnalloc(r->pool, n + 1);
    if (out->data == NULL) {
        free(s);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, s, n);
    out->data[n] = '\n';
    out->len = n + 1;
    free(s);

    return NGX_OK;
}


/*
 * Refuse the upload: remember the JSON answer, record the files as
 * rejected, drop every temp file now, and return status for the caller to
 * hand to nginx.  The first failure
 * of a request wins.  extra (stolen, may be NULL) adds fields.
 */
ngx_int_t
ngx_http_gatehouse_fail(ngx_http_gatehouse_ctx_t *ctx, ngx_int_t status,
    const char *code, json_t *extra)
{
    json_t              *obj;
    ngx_http_request_t  *r = ctx->request;

    if (ctx->status != 0) {
        json_decref(extra);
        return ctx->status;
    }

    ctx->status = status;
    ctx->failed = 1;

    ngx_http_gatehouse_record_rejected(ctx, code);
    ngx_http_gatehouse_drop_files(ctx);

    /*
     * The rest of the body will not be read: the connection cannot be
     * reused, and lingering close lets the client read this answer.
     */
    if (r->request_body != NULL && !ctx->body_done) {
        r->keepalive = 0;
        r->lingering_close = 1;
    }

    obj = ngx_http_gatehouse_error_body(status, code,
                                        ngx_http_gatehouse_message(code));

    if (obj == NULL
        || (extra != NULL && json_object_update(obj, extra) != 0)
        || ngx_http_gatehouse_dump(r, obj, &ctx->err_json) != NGX_OK)
    {
        ngx_str_null(&ctx->err_json);
    }

    json_decref(extra);
    json_decref(obj);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gatehouse: upload refused: %i %s%s%V", status, code,
                  ctx->user.len ? ", user " : "", &ctx->user);

    return status;
}


/* Send the response header as set up, then b, the whole body. */
ngx_int_t
ngx_http_gatehouse_send_body(ngx_http_request_t *r, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* An answer whose whole body is in memory, b->pos to b->last. */
ngx_int_t
ngx_http_gatehouse_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_buf_t *b)
{
    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    return ngx_http_gatehouse_send_body(r, b);
}


/*
 * Send body (released here, whatever happens) as the JSON answer; a NULL
 * body, the caller's json_pack() or copy out of memory, is a 500.
 */
ngx_int_t
ngx_http_gatehouse_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body)
{
    ngx_str_t   text;
    ngx_buf_t  *b;
    ngx_int_t   rc;

    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_gatehouse_dump(r, body, &text);
    json_decref(body);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = text.data;
    b->last = text.data + text.len;
    b->memory = 1;

    return ngx_http_gatehouse_send_buf(r, status, "application/json", b);
}


/* Add a response header; key and value must outlive the request. */
ngx_int_t
ngx_http_gatehouse_add_header(ngx_http_request_t *r, const char *key,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/* A JSON error answer from a handler that is not an upload's. */
ngx_int_t
ngx_http_gatehouse_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    return ngx_http_gatehouse_send_json(r, status,
               ngx_http_gatehouse_error_body(status, code, message));
}


static ngx_int_t
ngx_http_gatehouse_header_filter(ngx_http_request_t *r)
{
    ngx_http_gatehouse_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gatehouse_module);

    if (ctx == NULL || r != r->main || ctx->err_json.len == 0
        || r->err_status != (ngx_uint_t) ctx->status)
    {
        return ngx_http_next_header_filter(r);
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = ctx->err_json.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ctx->replace_body = 1;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_gatehouse_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                 *b;
    ngx_chain_t               *cl, out;
    ngx_http_gatehouse_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gatehouse_module);

    if (ctx == NULL || !ctx->replace_body) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's own page is dropped */
    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->json_sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->json_sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->err_json.data;
    b->last = ctx->err_json.data + ctx->err_json.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_gatehouse_reply_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_gatehouse_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_gatehouse_body_filter;

    return NGX_OK;
}
