/*
 * ngx_http_gatehouse_record.c - the upload record, and the seam where it
 * goes into the shared store.
 *
 * The record is the JSON object the store's uploads database will hold
 * (docs/store.md, GH_DB_UPLOADS): id, user, original and stored name,
 * size, category, MIME type, SHA-256, scan result, status with reason,
 * timestamps and client address.
 *
 * STORE SEAM: libgatehouse's store is not linked into the module yet.
 * When it is, ngx_http_gatehouse_record() writes rec with gh_txn_put_json()
 * inside gh_store_update() on the worker's store handle (opened in
 * init_process, see ngx_http_gatehouse_module.c), keyed by the id, and
 * returns NGX_ERROR if that fails.  Until then it logs the record at
 * "info" level in the error log, which the integration tests read.
 */
#include "ngx_http_gatehouse_module.h"


ngx_int_t
ngx_http_gatehouse_record(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *f, const char *status, const char *reason)
{
    char                *text;
    json_t              *rec;
    ngx_http_request_t  *r = ctx->request;

    rec = json_pack("{s:s, s:o, s:o, s:s, s:I, s:s, s:s, s:s, s:s, s:s?,"
                    " s:s, s:I, s:o}",
                    "id", (char *) f->id,
                    "user",
                    ctx->user.len ? ngx_http_gatehouse_json_str(ctx->user.data,
                                                                ctx->user.len)
                                  : json_null(),
                    "original_name",
                    ngx_http_gatehouse_json_str(f->name.data, f->name.len),
                    "stored_name",
                    f->stored.len ? (char *) f->stored.data : "",
                    "size", (json_int_t) f->size,
                    "category", f->category ? f->category->name : "",
                    "mime", (char *) f->mime,
                    "sha256", (char *) f->sha256,
                    "status", status,
                    "reason", reason,
                    "scan", "not_scanned",
                    "created_at", (json_int_t) ngx_time(),
                    "client",
                    ngx_http_gatehouse_json_str(r->connection->addr_text.data,
                                                r->connection->addr_text.len));
    if (rec == NULL) {
        return NGX_ERROR;
    }

    text = json_dumps(rec, JSON_COMPACT|JSON_SORT_KEYS|JSON_ENSURE_ASCII);
    json_decref(rec);

    if (text == NULL) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gatehouse: upload record %s", text);
    free(text);

    return NGX_OK;
}
