/*
 * ngx_http_gatehouse_pass.c - gatehouse_upload_pass: once every file of
 * the upload is checked, scanned and stored, the request goes on to the
 * application (an internal redirect to a URI or a named location, usually
 * one with proxy_pass, fastcgi_pass or uwsgi_pass) with a new
 * multipart/form-data body in which
 *
 *   - each form field without a file is passed through in its place,
 *     with its name and value only: the client's part headers (its
 *     Content-Type, say) are not the module's to vouch for;
 *   - each file part is replaced by the fields NAME.id, NAME.name,
 *     NAME.path, NAME.sha256, NAME.mime, NAME.size and NAME.category
 *     (ngx_http_gatehouse_file_fields), where NAME is the part's field
 *     name and NAME.path the stored file.
 *
 * So the application reads ordinary form fields and never sees file bytes
 * it would have to check again.  It must be able to trust the file fields,
 * so a client's own field whose name ends in one of those suffixes (in any
 * case) is refused with 400 reserved_field_name: the application would
 * otherwise read a forged NAME.path as a checked file, whether or not the
 * form also had a file NAME.  The non-file fields are kept in memory
 * while the body streams, NGX_HTTP_GATEHOUSE_FIELDS_MAX (64 KiB) in all;
 * more is refused with 413.  The method stays POST; Content-Type and
 * Content-Length are rewritten, and the body is no longer chunked.
 */
#include <openssl/rand.h>

#include "ngx_http_gatehouse_module.h"


/* Bytes a field costs against the limit beyond its value. */
#define NGX_HTTP_GATEHOUSE_FIELD_OVERHEAD  128

/* Bytes of a refused field name shown in the log. */
#define NGX_HTTP_GATEHOUSE_LOG_NAME_MAX    128


/*
 * The fields that stand for one stored file, NAME + suffix, in the order
 * they are written, each with the member of the file's answer it holds
 * (NULL for .path: the upload directory and the url below it).  The
 * suffixes are also the reserved ones (docs/nginx.md, Pass mode).
 */
static const struct {
    ngx_str_t    suffix;
    const char  *member;
} ngx_http_gatehouse_file_fields[] = {
    { ngx_string(".id"), "id" },
    { ngx_string(".name"), "filename" },
    { ngx_string(".path"), NULL },
    { ngx_string(".sha256"), "sha256" },
    { ngx_string(".mime"), "mime" },
    { ngx_string(".size"), "size" },
    { ngx_string(".category"), "category" },
};


/*
 * The reserved suffix a client's field name ends in, or NULL.  ASCII case
 * is ignored: some frameworks look form fields up without it.
 */
static const ngx_str_t *
ngx_http_gatehouse_reserved(const u_char *name, size_t len)
{
    ngx_uint_t        i;
    const ngx_str_t  *sfx;

    for (i = 0; i < sizeof(ngx_http_gatehouse_file_fields)
                    / sizeof(ngx_http_gatehouse_file_fields[0]); i++)
    {
        sfx = &ngx_http_gatehouse_file_fields[i].suffix;

        if (len >= sfx->len
            && ngx_strncasecmp((u_char *) name + len - sfx->len, sfx->data,
                               sfx->len)
               == 0)
        {
            return sfx;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_gatehouse_fields_over(ngx_http_gatehouse_ctx_t *ctx, size_t add)
{
    json_t  *extra;

    ctx->fields_size += add;

    if (ctx->fields_size <= NGX_HTTP_GATEHOUSE_FIELDS_MAX) {
        return NGX_OK;
    }

    extra = json_pack("{s:i}", "max_size", NGX_HTTP_GATEHOUSE_FIELDS_MAX);
    (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "fields_too_large", extra);

    return NGX_ERROR;
}


/* Refuse a client's field whose name ends in a reserved suffix. */
static ngx_int_t
ngx_http_gatehouse_refuse_reserved(ngx_http_gatehouse_ctx_t *ctx,
    const struct gw_mp_part *part)
{
    json_t           *extra;
    const ngx_str_t  *sfx;

    sfx = ngx_http_gatehouse_reserved((const u_char *) part->name,
                                      part->name_len);
    if (sfx == NULL) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "gatehouse: form field \"%*s\"%s refused: names ending "
                  "in \"%V\" are reserved for the fields "
                  "gatehouse_upload_pass writes for a stored file",
                  (size_t) ngx_min(part->name_len,
                                   NGX_HTTP_GATEHOUSE_LOG_NAME_MAX),
                  part->name,
                  part->name_len > NGX_HTTP_GATEHOUSE_LOG_NAME_MAX
                  ? "..." : "",
                  sfx);

    extra = json_pack("{s:o, s:s%}",
                      "field",
                      ngx_http_gatehouse_json_str((const u_char *) part->name,
                                                  part->name_len, 0),
                      "reserved_suffix", sfx->data, sfx->len);
    (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                   "reserved_field_name", extra);

    return NGX_ERROR;
}


/*
 * A part begins: a field to pass through, or the place of a file (the
 * file part was pushed to ctx->files just before).
 */
ngx_int_t
ngx_http_gatehouse_field_begin(ngx_http_gatehouse_ctx_t *ctx,
    const struct gw_mp_part *part)
{
    ngx_uint_t                   file;
    ngx_pool_t                  *pool = ctx->request->pool;
    ngx_http_gatehouse_field_t  *fld;

    file = part->has_filename && part->filename_len > 0;

    if (!file && ngx_http_gatehouse_refuse_reserved(ctx, part) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_gatehouse_fields_over(ctx, part->name_len
                                            + NGX_HTTP_GATEHOUSE_FIELD_OVERHEAD)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    fld = ngx_array_push(&ctx->fields);
    if (fld == NULL) {
        goto internal;
    }

    ngx_memzero(fld, sizeof(ngx_http_gatehouse_field_t));

    if (file) {
        fld->file = ctx->files.nelts;
        return NGX_OK;
    }

    fld->name.len = part->name_len;
    fld->name.data = ngx_http_gatehouse_pstrdup(pool, part->name,
                                                part->name_len);
    if (fld->name.data == NULL) {
        goto internal;
    }

    ctx->cur_field = fld;

    return NGX_OK;

internal:

    (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error", NULL);
    return NGX_ERROR;
}


/* More of a field's value; the buffer doubles, so growth costs O(n). */
ngx_int_t
ngx_http_gatehouse_field_data(ngx_http_gatehouse_ctx_t *ctx,
    const u_char *data, size_t len)
{
    size_t                       cap;
    u_char                      *p;
    ngx_http_gatehouse_field_t  *fld = ctx->cur_field;

    if (ngx_http_gatehouse_fields_over(ctx, len) != NGX_OK) {
        return NGX_ERROR;
    }

    cap = fld->cap;

    if (fld->value.len + len > cap) {
        cap = ngx_max(2 * cap, 256);

        while (cap < fld->value.len + len) {
            cap *= 2;
        }

        p = ngx_pnalloc(ctx->request->pool, cap);
        if (p == NULL) {
            (void) ngx_http_gatehouse_fail(ctx,
                                           NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "internal_error", NULL);
            return NGX_ERROR;
        }

        if (fld->value.len) {
            ngx_memcpy(p, fld->value.data, fld->value.len);
        }

        if (fld->value.data != NULL) {
            (void) ngx_pfree(ctx->request->pool, fld->value.data);
        }

        fld->value.data = p;
        fld->cap = cap;
    }

    ngx_memcpy(fld->value.data + fld->value.len, data, len);
    fld->value.len += len;

    return NGX_OK;
}


typedef struct {
    u_char      *p;       /* NULL: only count */
    u_char      *end;     /* of the buffer at p */
    size_t       len;
    ngx_str_t   *boundary;
} ngx_http_gatehouse_out_t;


static void
ngx_http_gatehouse_out(ngx_http_gatehouse_out_t *o, const void *s, size_t n)
{
    if (o->p && n) {
        o->p = ngx_cpymem(o->p, s, n);
    }

    o->len += n;
}


/*
 * One part: delimiter, Content-Disposition and nothing else, value (in two
 * pieces, either may be empty); suffix (may be NULL) is appended to the
 * field name.
 */
static void
ngx_http_gatehouse_out_part(ngx_http_gatehouse_out_t *o, ngx_str_t *name,
    const ngx_str_t *suffix, const u_char *v1, size_t n1, const u_char *v2,
    size_t n2)
{
    size_t  n;

    ngx_http_gatehouse_out(o, "--", 2);
    ngx_http_gatehouse_out(o, o->boundary->data, o->boundary->len);
    ngx_http_gatehouse_out(o, "\r\nContent-Disposition: form-data; name=\"",
                           sizeof("\r\nContent-Disposition: form-data; "
                                  "name=\"") - 1);

    n = gw_mp_quote_name((char *) o->p, o->p ? (size_t) (o->end - o->p) : 0,
                         (const char *) name->data, name->len);
    if (o->p) {
        o->p += n;
    }
    o->len += n;

    if (suffix != NULL) {
        ngx_http_gatehouse_out(o, suffix->data, suffix->len);
    }

    ngx_http_gatehouse_out(o, "\"\r\n\r\n", 5);
    ngx_http_gatehouse_out(o, v1, n1);
    ngx_http_gatehouse_out(o, v2, n2);
    ngx_http_gatehouse_out(o, "\r\n", 2);
}


/* A field NAME.SUFFIX from a member of the answer's file object. */
static void
ngx_http_gatehouse_out_member(ngx_http_gatehouse_out_t *o, ngx_str_t *name,
    const ngx_str_t *suffix, json_t *v)
{
    u_char  num[NGX_INT64_LEN + 1];
    size_t  n;

    if (json_is_string(v)) {
        ngx_http_gatehouse_out_part(o, name, suffix,
                                    (const u_char *) json_string_value(v),
                                    json_string_length(v), NULL, 0);
        return;
    }

    n = 0;

    if (json_is_integer(v)) {
        n = ngx_sprintf(num, "%L", (int64_t) json_integer_value(v)) - num;
    }

    ngx_http_gatehouse_out_part(o, name, suffix, num, n, NULL, 0);
}


/* The fields that stand for one stored file. */
static void
ngx_http_gatehouse_out_file(ngx_http_gatehouse_out_t *o,
    ngx_http_gatehouse_ctx_t *ctx, ngx_str_t *name, json_t *file)
{
    json_t           *url;
    ngx_str_t        *dir = &ctx->conf->dir;
    ngx_uint_t        i;
    const ngx_str_t  *sfx;

    for (i = 0; i < sizeof(ngx_http_gatehouse_file_fields)
                    / sizeof(ngx_http_gatehouse_file_fields[0]); i++)
    {
        sfx = &ngx_http_gatehouse_file_fields[i].suffix;

        if (ngx_http_gatehouse_file_fields[i].member != NULL) {
            ngx_http_gatehouse_out_member(o, name, sfx,
                json_object_get(file,
                                ngx_http_gatehouse_file_fields[i].member));
            continue;
        }

        /* the stored file: the upload directory and the url below it */
        url = json_object_get(file, "url");
        ngx_http_gatehouse_out_part(o, name, sfx, dir->data, dir->len,
                                    (const u_char *) json_string_value(url),
                                    json_string_length(url));
    }
}


static void
ngx_http_gatehouse_out_body(ngx_http_gatehouse_ctx_t *ctx, json_t *files,
    ngx_http_gatehouse_out_t *o)
{
    ngx_uint_t                   i;
    ngx_http_gatehouse_file_t   *f;
    ngx_http_gatehouse_field_t  *fld;

    fld = ctx->fields.elts;
    f = ctx->files.elts;

    for (i = 0; i < ctx->fields.nelts; i++) {
        if (fld[i].file == 0) {
            ngx_http_gatehouse_out_part(o, &fld[i].name, NULL,
                                        fld[i].value.data, fld[i].value.len,
                                        NULL, 0);
            continue;
        }

        ngx_http_gatehouse_out_file(o, ctx, &f[fld[i].file - 1].field,
                                    json_array_get(files, fld[i].file - 1));
    }

    ngx_http_gatehouse_out(o, "--", 2);
    ngx_http_gatehouse_out(o, o->boundary->data, o->boundary->len);
    ngx_http_gatehouse_out(o, "--\r\n", 4);
}


/* Point a request header at value, adding it if the client sent none. */
static ngx_table_elt_t *
ngx_http_gatehouse_set_header(ngx_http_request_t *r, ngx_table_elt_t *h,
    const char *key, ngx_str_t *value)
{
    size_t  n;

    if (h == NULL) {
        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            return NULL;
        }

        n = ngx_strlen(key);

        h->hash = 1;
        h->key.len = n;
        h->key.data = (u_char *) key;
        h->lowcase_key = ngx_pnalloc(r->pool, n);
        if (h->lowcase_key == NULL) {
            return NULL;
        }

        ngx_strlow(h->lowcase_key, h->key.data, n);
    }

    h->value = *value;

    return h;
}


/*
 * Hand the request on to gatehouse_upload_pass with the rewritten body.
 * Returns what the caller gives ngx_http_finalize_request().
 */
ngx_int_t
ngx_http_gatehouse_pass(ngx_http_gatehouse_ctx_t *ctx, json_t *files)
{
    u_char                     rnd[12], *p;
    ngx_str_t                  boundary, ctype, clen, args;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_table_elt_t           *h;
    ngx_http_request_t        *r = ctx->request;
    ngx_http_request_body_t   *rb;
    ngx_http_gatehouse_out_t   o;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1 || r->request_body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    boundary.len = sizeof("----gatehouse-") - 1 + 2 * sizeof(rnd);
    boundary.data = ngx_pnalloc(r->pool, boundary.len);
    if (boundary.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(boundary.data, "----gatehouse-",
                   sizeof("----gatehouse-") - 1);
    (void) ngx_hex_dump(p, rnd, sizeof(rnd));

    /* once to measure, once to write */
    ngx_memzero(&o, sizeof(o));
    o.boundary = &boundary;
    ngx_http_gatehouse_out_body(ctx, files, &o);

    b = ngx_create_temp_buf(r->pool, o.len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o.p = b->pos;
    o.end = b->end;
    o.len = 0;
    ngx_http_gatehouse_out_body(ctx, files, &o);

    b->last = o.p;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    rb = r->request_body;
    rb->bufs = cl;
    rb->temp_file = NULL;
    rb->rest = 0;

    ctype.len = sizeof("multipart/form-data; boundary=") - 1 + boundary.len;
    ctype.data = ngx_pnalloc(r->pool, ctype.len);
    clen.data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (ctype.data == NULL || clen.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ngx_cpymem(ctype.data, "multipart/form-data; boundary=",
                          sizeof("multipart/form-data; boundary=") - 1),
               boundary.data, boundary.len);
    clen.len = ngx_sprintf(clen.data, "%O", (off_t) (b->last - b->pos))
               - clen.data;

    h = ngx_http_gatehouse_set_header(r, r->headers_in.content_type,
                                      "Content-Type", &ctype);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_in.content_type = h;

    h = ngx_http_gatehouse_set_header(r, r->headers_in.content_length,
                                      "Content-Length", &clen);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_in.content_length = h;
    r->headers_in.content_length_n = b->last - b->pos;
    r->headers_in.chunked = 0;

    if (ctx->conf->pass.data[0] == '@') {
        return ngx_http_named_location(r, &ctx->conf->pass);
    }

    args = r->args;

    return ngx_http_internal_redirect(r, &ctx->conf->pass, &args);
}
