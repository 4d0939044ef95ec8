/*
 * ngx_http_gatehouse_upload.c - inline upload inspection: the content
 * handler of a `gatehouse_upload on` location and the request body filter
 * that streams multipart/form-data through the parser as it arrives.
 *
 * Each file part goes to a temp file in DIR/.incoming through a write
 * buffer (NGX_HTTP_GATEHOUSE_WBUF); each full buffer is added to the
 * file's SHA-256 and written, and the first one is given to libmagic
 * before anything is written.  A request
 * keeps one parser (8.5 KiB) and one write buffer (32 KiB) whatever the
 * file sizes.  Each check fails as soon as it can, while the body is still
 * arriving:
 *   extension not in any category      415 at the part's headers
 *   detected MIME not in that category 415 at the first 32 KiB
 *   file over gatehouse_upload_max_file_size  413 at the byte that crosses
 *   more file parts than gatehouse_upload_max_files  413
 *   empty file                         400 at the part's end
 *   malformed multipart                400 (415 nested, 413 too many parts)
 *   no space left in DIR (ENOSPC, EDQUOT)  507, and the condition raised
 *                                      once (record.c, upload.storage_full)
 * On any failure, and whenever the request ends (client gone, timeout),
 * the temp files are removed and the files' records say "rejected"
 * (at most one new record per request: ngx_http_gatehouse_record.c).  When
 * the whole body is good, the files go to a job in the thread pool
 * (ngx_http_gatehouse_job.c: scan, final place, records), which answers.
 *
 * A file's name is kept twice: made safe (filename.c, gh_fn_sanitize:
 * what is checked and shown) and as the client sent it, escaped
 * (gh_text_escape).  A DIR/.incoming removed while nginx runs is made again
 * (paths.c, ngx_http_gatehouse_incoming_restore).
 *
 * Form fields without a filename are skipped, or kept (bounded) for
 * gatehouse_upload_pass; a file input left empty by the browser
 * (filename="") is skipped too.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/text.h"


static ngx_int_t ngx_http_gatehouse_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static int ngx_http_gatehouse_part_begin(void *arg,
    const struct gw_mp_part *part);
static int ngx_http_gatehouse_part_data(void *arg, const unsigned char *data,
    size_t len);
static int ngx_http_gatehouse_part_end(void *arg);
static ngx_int_t ngx_http_gatehouse_parse_error(ngx_http_gatehouse_ctx_t *ctx,
    gw_mp_err err);
static void ngx_http_gatehouse_body_done(ngx_http_request_t *r);
static void ngx_http_gatehouse_cleanup(void *data);
static void ngx_http_gatehouse_receiving_timer(ngx_event_t *ev);


/*
 * nginx chains request body filters through this pointer, set once while
 * the configuration is read (the nginx idiom; it is never written while
 * requests run).
 */
static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


static const struct gw_mp_callbacks  ngx_http_gatehouse_mp_callbacks = {
    ngx_http_gatehouse_part_begin,
    ngx_http_gatehouse_part_data,
    ngx_http_gatehouse_part_end,
    NULL
};


ngx_int_t
ngx_http_gatehouse_upload_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_gatehouse_request_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_gatehouse_upload_handler(ngx_http_request_t *r)
{
    char                             bnd[GH_MP_BOUNDARY_MAX + 1];
    size_t                           blen;
    gw_mp_err                        err;
    ngx_int_t                        rc;
    ngx_table_elt_t                 *ct;
    struct gw_mp_limits              lim;
    ngx_pool_cleanup_t              *cln;
    ngx_http_gatehouse_ctx_t        *ctx;
    ngx_http_gatehouse_loc_conf_t   *glcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gatehouse_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->conf = glcf;
    ctx->main = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);

    if (ngx_array_init(&ctx->files, r->pool, 2,
                       sizeof(ngx_http_gatehouse_file_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_gatehouse_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_gatehouse_module);

    ngx_http_gatehouse_cap_key(r, ctx->cap_key, sizeof(ctx->cap_key));

    if (glcf->user != NULL
        && ngx_http_complex_value(r, glcf->user, &ctx->user) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_gatehouse_fail(ctx, NGX_HTTP_NOT_ALLOWED,
                                       "method_not_allowed", NULL);
    }

    if (r->request_body != NULL) {
        /* an internal redirect (gatehouse_upload_pass) came back here */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: the body of this request was already "
                      "read: is \"gatehouse_upload_pass\" pointing to a "
                      "location with \"gatehouse_upload on\"?");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->main->store_path.len == 0) {
        ctx->no_store = 1;

    } else if (ngx_http_gatehouse_store(ctx->main, r->connection->log)
               == NULL)
    {
        if (glcf->on_store_error == NGX_HTTP_GATEHOUSE_REJECT) {
            return ngx_http_gatehouse_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "store_unavailable", NULL);
        }

        ctx->no_store = 1;
    }

    if (glcf->pass.len
        && ngx_array_init(&ctx->fields, r->pool, 4,
                          sizeof(ngx_http_gatehouse_field_t))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ct = r->headers_in.content_type;

    err = ct != NULL ? gw_mp_boundary((char *) ct->value.data, ct->value.len,
                                      bnd, sizeof(bnd), &blen)
                     : GH_MP_ENOTMULTIPART;

    if (err == GH_MP_ENOTMULTIPART) {
        return ngx_http_gatehouse_fail(ctx, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                       "not_multipart", NULL);
    }

    if (err != GH_MP_OK) {
        return ngx_http_gatehouse_parse_error(ctx, err);
    }

    ctx->wbuf = ngx_palloc(r->pool, NGX_HTTP_GATEHOUSE_WBUF);
    if (ctx->wbuf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&lim, sizeof(lim));

    if (gw_mp_init(&ctx->mp, bnd, blen, &lim,
                   &ngx_http_gatehouse_mp_callbacks, ctx)
        != GH_MP_OK)
    {
        return ngx_http_gatehouse_parse_error(ctx, GH_MP_EBOUNDARY);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_gatehouse_body_done);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The bytes of the body as they arrive (after chunked decoding), in
 * buffers that nginx reuses once pos reaches last.  They are consumed
 * here; only the final empty buffer goes on to nginx's save filter, so
 * nothing of the body is kept in memory or in client_body_temp.
 */
static ngx_int_t
ngx_http_gatehouse_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                     size;
    gw_mp_err                  err;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl, out;
    ngx_http_gatehouse_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gatehouse_module);

    if (ctx == NULL || r != r->main) {
        return ngx_http_next_request_body_filter(r, in);
    }

    out.buf = NULL;
    out.next = NULL;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "gatehouse: request body buffer in a file");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        size = b->last - b->pos;

        if (size > 0 && !ctx->failed) {
            err = gw_mp_feed(&ctx->mp, b->pos, size);
            b->pos = b->last;

            if (err != GH_MP_OK) {
                return ngx_http_gatehouse_parse_error(ctx, err);
            }
        }

        b->pos = b->last;

        if (b->last_buf) {
            ctx->body_done = 1;

            if (!ctx->failed) {
                err = gw_mp_finish(&ctx->mp);

                if (err != GH_MP_OK) {
                    return ngx_http_gatehouse_parse_error(ctx, err);
                }
            }

            out.buf = b;
        }
    }

    /*
     * A file still arriving when this read is done may be worth a record
     * of its own ("receiving"), if it is still arriving a while later:
     * see ngx_http_gatehouse_receiving_timer.
     */
    if (ctx->body_done) {
        if (ctx->receiving_ev.timer_set) {
            ngx_del_timer(&ctx->receiving_ev);
        }

    } else if (!ctx->failed && ctx->cur != NULL && !ctx->cur->receiving
               && !ctx->no_store && ctx->receiving == NULL
               && !ctx->receiving_ev.timer_set)
    {
        ctx->receiving_ev.handler = ngx_http_gatehouse_receiving_timer;
        ctx->receiving_ev.data = ctx;
        ctx->receiving_ev.log = r->connection->log;
        ctx->receiving_ev.cancelable = 1;
        ngx_add_timer(&ctx->receiving_ev,
                      NGX_HTTP_GATEHOUSE_RECEIVING_DELAY);
    }

    return ngx_http_next_request_body_filter(r, out.buf ? &out : NULL);
}


/*
 * A file part still arriving NGX_HTTP_GATEHOUSE_RECEIVING_DELAY after a
 * read first left it incomplete gets a "receiving" record, so a slow or
 * large upload shows in the store (gatehouse uploads list, the status
 * location) while it lasts.  Most uploads are over sooner and then cost
 * one write instead of two.  The write is made in the thread pool while
 * the upload goes on (the event loop never waits for the store's lock),
 * tried once and best effort: if the store is slow to give its lock, the
 * final record decides by on_store_error.
 */
static void
ngx_http_gatehouse_receiving_timer(ngx_event_t *ev)
{
    ngx_http_gatehouse_ctx_t  *ctx = ev->data;

    if (!ctx->failed && !ctx->body_done) {
        ngx_http_gatehouse_record_receiving(ctx);
    }
}


/* The answer for a parser error; a callback's own failure is kept. */
static ngx_int_t
ngx_http_gatehouse_parse_error(ngx_http_gatehouse_ctx_t *ctx, gw_mp_err err)
{
    ngx_int_t    status;
    json_t      *extra;
    const char  *code;

    if (err == GH_MP_EABORTED && ctx->status != 0) {
        return ctx->status;
    }

    switch (err) {

    case GH_MP_ETOOMANYPARTS:
        status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        code = "too_many_parts";
        break;

    case GH_MP_ENESTED:
        status = NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
        code = "nested_multipart";
        break;

    case GH_MP_EENCODING:
        status = NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
        code = "transfer_encoding";
        break;

    case GH_MP_EHEADERSIZE:
        status = NGX_HTTP_BAD_REQUEST;
        code = "part_headers_too_large";
        break;

    case GH_MP_ENOBOUNDARY:
    case GH_MP_EBOUNDARY:
        status = NGX_HTTP_BAD_REQUEST;
        code = "bad_boundary";
        break;

    case GH_MP_ETRUNCATED:
        status = NGX_HTTP_BAD_REQUEST;
        code = "truncated_body";
        break;

    default:
        status = NGX_HTTP_BAD_REQUEST;
        code = "bad_multipart";
        break;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "gatehouse: multipart error %s at byte %uL: %s",
                  gw_mp_errname(err), (uint64_t) gw_mp_offset(&ctx->mp),
                  gw_mp_strerror(err));

    extra = json_pack("{s:s, s:s}", "detail", gw_mp_strerror(err),
                      "parser_error", gw_mp_errname(err));

    return ngx_http_gatehouse_fail(ctx, status, code, extra);
}


/*
 * The upload directory's file system is full (ENOSPC, or the worker
 * user's quota: EDQUOT): 507 insufficient_storage, as WebDAV servers
 * answer, and the condition raised once (record.c) rather than a crit line
 * per upload.
 */
static ngx_int_t
ngx_http_gatehouse_nospace(ngx_http_gatehouse_ctx_t *ctx, ngx_err_t err)
{
    ngx_http_gatehouse_space_full(ctx->conf, ctx->main, err,
                                  ctx->request->connection->log);

    (void) ngx_http_gatehouse_fail(ctx,
                                   NGX_HTTP_GATEHOUSE_INSUFFICIENT_STORAGE,
                                   "insufficient_storage", NULL);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_gatehouse_open_temp(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f)
{
    ngx_err_t            err;
    ngx_uint_t           restored = 0;
    u_char               rnd[8], *p;
    ngx_uint_t           tries;
    ngx_str_t           *dir;
    ngx_http_request_t  *r = ctx->request;

    dir = &ctx->conf->incoming->name;

    f->temp.len = dir->len + 1 + 16 + sizeof(".part") - 1;
    f->temp.data = ngx_pnalloc(r->pool, f->temp.len + 1);
    if (f->temp.data == NULL) {
        return NGX_ERROR;
    }

    for (tries = 0; tries < 8; tries++) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "gatehouse: RAND_bytes() failed");
            f->temp.data = NULL;
            return NGX_ERROR;
        }

        p = ngx_cpymem(f->temp.data, dir->data, dir->len);
        *p++ = '/';
        p = ngx_hex_dump(p, rnd, sizeof(rnd));
        p = ngx_cpymem(p, ".part", sizeof(".part") - 1);
        *p = '\0';

        f->fd = ngx_open_file(f->temp.data, NGX_FILE_WRONLY,
                              NGX_FILE_CREATE_OR_OPEN|O_EXCL|O_CLOEXEC,
                              0640);

        if (f->fd != NGX_INVALID_FILE) {
            return NGX_OK;
        }

        err = ngx_errno;

        if (err == NGX_EEXIST) {
            continue;
        }

        if ((err == NGX_ENOENT || err == NGX_ENOTDIR) && !restored) {
            /* DIR/.incoming was removed while nginx runs: made again (or
             * something else sits there: refused, and said so) */
            restored = 1;

            if (ngx_http_gatehouse_incoming_restore(ctx->conf,
                                                    r->connection->log)
                == NGX_OK)
            {
                continue;
            }

            break;
        }

        if (ngx_http_gatehouse_is_nospace(err)) {
            f->temp.data = NULL;
            return ngx_http_gatehouse_nospace(ctx, err);
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                      ngx_open_file_n " \"%V\" failed", &f->temp);
        break;
    }

    /* no file of ours at that path: nothing to remove */
    f->temp.data = NULL;

    return NGX_ERROR;
}


/* Close and forget what a file left: fd, digest state, temp file. */
static void
ngx_http_gatehouse_drop_file(ngx_http_gatehouse_file_t *f, ngx_log_t *log)
{
    if (f->fd != NGX_INVALID_FILE) {
        if (ngx_close_file(f->fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_close_file_n " \"%V\" failed", &f->temp);
        }

        f->fd = NGX_INVALID_FILE;
    }

    if (f->sha != NULL) {
        EVP_MD_CTX_free(f->sha);
        f->sha = NULL;
    }

    if (f->record != NULL) {
        json_decref(f->record);
        f->record = NULL;
    }

    if (f->temp.data != NULL) {
        if (ngx_delete_file(f->temp.data) == NGX_FILE_ERROR
            && ngx_errno != NGX_ENOENT)
        {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          ngx_delete_file_n " \"%V\" failed", &f->temp);
        }

        f->temp.data = NULL;
    }
}


void
ngx_http_gatehouse_drop_files(ngx_http_gatehouse_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_http_gatehouse_file_t  *f;

    f = ctx->files.elts;

    for (i = 0; i < ctx->files.nelts; i++) {
        ngx_http_gatehouse_drop_file(&f[i], ctx->request->connection->log);
    }

    ctx->cur = NULL;
}


/*
 * Runs whenever the request ends, however it ends: a job still running
 * is told to clean up alone, and files nobody recorded yet (the client
 * went away, a timeout) are recorded as "aborted".
 */
static void
ngx_http_gatehouse_cleanup(void *data)
{
    ngx_http_gatehouse_ctx_t  *ctx = data;

    if (ctx->receiving_ev.timer_set) {
        ngx_del_timer(&ctx->receiving_ev);
    }

    ngx_http_gatehouse_job_detach(ctx);

    if (ctx->files.elts != NULL) {
        ctx->cur = NULL;
        ngx_http_gatehouse_record_rejected(ctx, "aborted");
        ngx_http_gatehouse_drop_files(ctx);
    }

    ngx_http_gatehouse_record_detach(ctx);
}


static int
ngx_http_gatehouse_part_begin(void *arg, const struct gw_mp_part *part)
{
    ngx_http_gatehouse_ctx_t *ctx = arg;

    u_char                          name[GH_FN_MAX + 1];
    size_t                          n, ncats, i;
    json_t                         *extra, *allowed;
    ngx_http_request_t             *r = ctx->request;
    ngx_http_gatehouse_file_t      *f;
    const struct gw_category       *cats;
    ngx_http_gatehouse_loc_conf_t  *glcf = ctx->conf;

    ctx->cur = NULL;
    ctx->cur_field = NULL;

    if (!part->has_filename || part->filename_len == 0) {
        if (glcf->pass.len && ngx_http_gatehouse_field_begin(ctx, part)
                              != NGX_OK)
        {
            return 1;
        }

        return 0;
    }

    if (ctx->files.nelts >= glcf->max_files) {
        extra = json_pack("{s:I}", "max_files", (json_int_t) glcf->max_files);
        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "too_many_files", extra);
        return 1;
    }

    f = ngx_array_push(&ctx->files);
    if (f == NULL) {
        goto internal;
    }

    ngx_memzero(f, sizeof(ngx_http_gatehouse_file_t));
    f->fd = NGX_INVALID_FILE;

    /* from here a failure is this file's */
    ctx->cur = f;

    f->field.len = part->name_len;
    f->field.data = ngx_http_gatehouse_pstrdup(r->pool, part->name,
                                               part->name_len);
    if (f->field.data == NULL) {
        goto internal;
    }

    n = gh_fn_sanitize(part->filename, part->filename_len, (char *) name,
                       sizeof(name), 0, &f->name_flags);

    f->name.len = n;
    f->name.data = ngx_http_gatehouse_pstrdup(r->pool, name, n);
    if (f->name.data == NULL) {
        goto internal;
    }

    /* what the client sent, kept beside it in a form safe to show */
    f->orig.data = ngx_pnalloc(r->pool, GH_FN_ORIG_MAX + 1);
    if (f->orig.data == NULL) {
        goto internal;
    }

    f->orig.len = gh_text_escape(part->filename, part->filename_len,
                                 (char *) f->orig.data, GH_FN_ORIG_MAX + 1,
                                 0, NULL);

    n = gw_fn_ext((char *) f->name.data, f->name.len, (char *) f->ext,
                  sizeof(f->ext));

    if (glcf->categories != NULL) {
        cats = glcf->categories->elts;
        ncats = glcf->categories->nelts;

    } else {
        cats = gw_category_defaults(&ncats);
    }

    f->category = gw_category_by_ext(cats, ncats, (char *) f->ext, n);

    /* the record is also what the answer is made of, store or not */
    f->record = ngx_http_gatehouse_record_new(ctx, f);
    if (f->record == NULL) {
        goto internal;
    }

    if (glcf->pass.len && ngx_http_gatehouse_field_begin(ctx, part)
                          != NGX_OK)
    {
        return 1;
    }

    if (f->category == NULL) {
        allowed = json_array();

        for (i = 0; allowed != NULL && i < ncats; i++) {
            size_t  k;

            for (k = 0; cats[i].exts[k] != NULL; k++) {
                json_array_append_new(allowed, json_string(cats[i].exts[k]));
            }
        }

        extra = json_pack("{s:s, s:o?}",
                          "extension", (char *) f->ext,
                          "allowed", allowed);
        ngx_http_gatehouse_record_names(extra, f->record);

        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                       "extension_not_allowed", extra);
        return 1;
    }

    if (ngx_http_gatehouse_open_temp(ctx, f) != NGX_OK) {
        if (ctx->status == 0) {
            goto internal;
        }

        return 1;
    }

    f->sha = EVP_MD_CTX_new();
    if (f->sha == NULL
        || EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL) != 1)
    {
        goto internal;
    }

    ctx->wlen = 0;

    return 0;

internal:

    (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error", NULL);
    return 1;
}


/* libmagic on the file's first bytes; the type must be in its category. */
static ngx_int_t
ngx_http_gatehouse_check_type(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f)
{
    size_t       n;
    json_t      *extra;
    const char  *mime;

    f->typed = 1;
    mime = NULL;

    if (ctx->main->magic != NULL) {
        mime = magic_buffer(ctx->main->magic, ctx->wbuf, ctx->wlen);

        if (mime == NULL) {
            ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                          "gatehouse: magic_buffer() failed: %s",
                          magic_error(ctx->main->magic));
        }
    }

    if (mime == NULL) {
        mime = "application/octet-stream";
    }

    n = ngx_min(ngx_strlen(mime), NGX_HTTP_GATEHOUSE_MIME_MAX - 1);
    ngx_memcpy(f->mime, mime, n);
    f->mime[n] = '\0';

    if (gw_category_mime_ok(f->category, (char *) f->mime, n)) {
        return NGX_OK;
    }

    extra = json_pack("{s:s, s:s}",
                      "expected_category", f->category->name,
                      "detected_type", (char *) f->mime);
    ngx_http_gatehouse_record_names(extra, f->record);

    (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "type_mismatch", extra);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_gatehouse_flush(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f)
{
    size_t    done;
    ssize_t   n;

    if (!f->typed && ngx_http_gatehouse_check_type(ctx, f) != NGX_OK) {
        return NGX_ERROR;
    }

    /* hashed here, a buffer at a time: far cheaper than in the slivers
     * the parser may hand over */
    if (EVP_DigestUpdate(f->sha, ctx->wbuf, ctx->wlen) != 1) {
        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error", NULL);
        return NGX_ERROR;
    }

    for (done = 0; done < ctx->wlen; done += n) {
        n = write(f->fd, ctx->wbuf + done, ctx->wlen - done);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                n = 0;
                continue;
            }

            if (ngx_http_gatehouse_is_nospace(ngx_errno)) {
                return ngx_http_gatehouse_nospace(ctx, ngx_errno);
            }

            ngx_log_error(NGX_LOG_CRIT, ctx->request->connection->log,
                          ngx_errno, "gatehouse: write() to \"%V\" failed",
                          &f->temp);

            (void) ngx_http_gatehouse_fail(ctx,
                                           NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "write_failed", NULL);
            return NGX_ERROR;
        }
    }

    f->written += ctx->wlen;
    ctx->wlen = 0;

    ngx_http_gatehouse_writeback(ctx, f);

    return NGX_OK;
}


static int
ngx_http_gatehouse_part_data(void *arg, const unsigned char *data, size_t len)
{
    ngx_http_gatehouse_ctx_t *ctx = arg;

    size_t                      n;
    json_t                     *extra;
    ngx_http_gatehouse_file_t  *f = ctx->cur;

    if (f == NULL) {
        if (ctx->cur_field != NULL
            && ngx_http_gatehouse_field_data(ctx, data, len) != NGX_OK)
        {
            return 1;
        }

        return 0;
    }

    f->size += len;

    if (ctx->conf->max_file_size > 0 && f->size > ctx->conf->max_file_size) {
        extra = json_pack("{s:I}",
                          "max_size", (json_int_t) ctx->conf->max_file_size);
        ngx_http_gatehouse_record_names(extra, f->record);

        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "file_too_large", extra);
        return 1;
    }

    while (len > 0) {
        n = ngx_min(len, NGX_HTTP_GATEHOUSE_WBUF - ctx->wlen);
        ngx_memcpy(ctx->wbuf + ctx->wlen, data, n);
        ctx->wlen += n;
        data += n;
        len -= n;

        if (ctx->wlen == NGX_HTTP_GATEHOUSE_WBUF
            && ngx_http_gatehouse_flush(ctx, f) != NGX_OK)
        {
            return 1;
        }
    }

    return 0;
}


static int
ngx_http_gatehouse_part_end(void *arg)
{
    ngx_http_gatehouse_ctx_t *ctx = arg;

    u_char                      md[EVP_MAX_MD_SIZE];
    unsigned                    mdlen;
    json_t                     *extra;
    ngx_http_gatehouse_file_t  *f = ctx->cur;

    if (f == NULL) {
        return 0;
    }

    if (f->size == 0) {
        extra = json_object();
        ngx_http_gatehouse_record_names(extra, f->record);
        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                       "empty_file", extra);
        return 1;
    }

    if (ngx_http_gatehouse_flush(ctx, f) != NGX_OK) {
        return 1;
    }

    if (EVP_DigestFinal_ex(f->sha, md, &mdlen) != 1 || mdlen != 32) {
        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error", NULL);
        return 1;
    }

    *ngx_hex_dump(f->sha256, md, mdlen) = '\0';

    EVP_MD_CTX_free(f->sha);
    f->sha = NULL;

    if (ngx_close_file(f->fd) == NGX_FILE_ERROR) {
        f->fd = NGX_INVALID_FILE;

        /* a network file system may say it only now */
        if (ngx_http_gatehouse_is_nospace(ngx_errno)) {
            (void) ngx_http_gatehouse_nospace(ctx, ngx_errno);
            return 1;
        }

        ngx_log_error(NGX_LOG_CRIT, ctx->request->connection->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &f->temp);
        (void) ngx_http_gatehouse_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "write_failed", NULL);
        return 1;
    }

    f->fd = NGX_INVALID_FILE;
    ctx->cur = NULL;

    return 0;
}


/* The whole body has been read. */
static void
ngx_http_gatehouse_body_done(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_gatehouse_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gatehouse_module);

    if (ctx->status != 0) {
        ngx_http_finalize_request(r, ctx->status);
        return;
    }

    if (!ctx->body_done) {
        /* no body at all (no Content-Length, not chunked) */
        ngx_http_finalize_request(r,
            ngx_http_gatehouse_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                    "bad_multipart", NULL));
        return;
    }

    if (ctx->files.nelts == 0) {
        ngx_http_finalize_request(r,
            ngx_http_gatehouse_fail(ctx, NGX_HTTP_BAD_REQUEST, "no_file",
                                    NULL));
        return;
    }

    if (ctx->receiving != NULL) {
        /*
         * The job needs the id of the "receiving" record being written:
         * it starts when that write is done, the request held meanwhile
         * as while the job runs (ngx_http_gatehouse_receiving_resume).
         */
        ctx->start_pending = 1;
        r->main->blocked++;
        return;
    }

    rc = ngx_http_gatehouse_job_start(ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
    }

    /* else the job finalizes the request when it is done */
}
