/*
 * ngx_http_gatehouse_module.h - what the files of the Gatehouse nginx
 * module share: configuration, the per-request context, and the functions
 * each file offers the others.
 *
 *   ngx_http_gatehouse_module.c  directives, configuration, module hooks
 *   ngx_http_gatehouse_upload.c  content handler and request body filter:
 *                                multipart parsing, temp files, SHA-256,
 *                                libmagic, per-file checks, final storage
 *   ngx_http_gatehouse_reply.c   JSON answers (201 and errors) and the
 *                                output filters that put JSON error bodies
 *                                in place of nginx's HTML pages
 *   ngx_http_gatehouse_record.c  the seam where upload records go to the
 *                                shared store
 *   multipart.c, filename.c, category.c  plain C, unit-tested and fuzzed
 */
#ifndef NGX_HTTP_GATEHOUSE_MODULE_H
#define NGX_HTTP_GATEHOUSE_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <magic.h>
#include <openssl/evp.h>
#include <jansson.h>

#include "category.h"
#include "filename.h"
#include "multipart.h"

#define NGX_HTTP_GATEHOUSE_SCAN_REJECT  0
#define NGX_HTTP_GATEHOUSE_SCAN_ACCEPT  1

/* Bytes of a file collected before writing: also what libmagic sees. */
#define NGX_HTTP_GATEHOUSE_WBUF   (32 * 1024)
#define NGX_HTTP_GATEHOUSE_MIME_MAX  128
#define NGX_HTTP_GATEHOUSE_ID_LEN    32   /* hex digits of a 128-bit id */


typedef struct {
    ngx_str_t                   store;        /* gatehouse_store */
    ngx_str_t                   clamav_db;    /* gatehouse_clamav_db */
    magic_t                     magic;        /* per worker process */
    ngx_uint_t                  used;         /* some location uploads */
} ngx_http_gatehouse_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;       /* gatehouse_upload */
    ngx_str_t                   dir;          /* gatehouse_upload_dir */
    ngx_path_t                 *incoming;     /* DIR/.incoming, temp files */
    off_t                       max_file_size;
    ngx_uint_t                  max_files;
    ngx_array_t                *categories;   /* struct gh_category */
    ngx_http_complex_value_t   *user;         /* gatehouse_upload_user */
    ngx_uint_t                  on_scan_error;
    ngx_str_t                   pass;         /* gatehouse_upload_pass */
} ngx_http_gatehouse_loc_conf_t;


/* One file part of an upload. */
typedef struct {
    ngx_str_t                   field;        /* form field name */
    ngx_str_t                   name;         /* sanitized client name */
    unsigned                    name_flags;   /* GH_FN_* */
    u_char                      ext[GH_FN_EXT_MAX + 1];
    const struct gh_category   *category;
    ngx_str_t                   temp;         /* temp file path */
    ngx_fd_t                    fd;
    off_t                       size;
    EVP_MD_CTX                 *sha;
    u_char                      sha256[65];
    u_char                      mime[NGX_HTTP_GATEHOUSE_MIME_MAX];
    u_char                      id[NGX_HTTP_GATEHOUSE_ID_LEN + 1];
    ngx_str_t                   stored;       /* final path */
    ngx_str_t                   url;          /* path below DIR */
    unsigned                    typed:1;      /* libmagic has run */
    unsigned                    committed:1;  /* renamed into place */
} ngx_http_gatehouse_file_t;


typedef struct {
    ngx_http_request_t              *request;
    ngx_http_gatehouse_loc_conf_t   *conf;
    ngx_http_gatehouse_main_conf_t  *main;
    struct gh_mp_parser              mp;
    ngx_str_t                        user;
    ngx_array_t                      files;   /* ngx_http_gatehouse_file_t */
    ngx_http_gatehouse_file_t       *cur;     /* file part being received */
    u_char                          *wbuf;
    size_t                           wlen;
    ngx_int_t                        status;  /* error answer, 0 if none */
    ngx_str_t                        err_json;
    unsigned                         failed:1;
    unsigned                         body_done:1;
    unsigned                         replace_body:1;
    unsigned                         json_sent:1;
} ngx_http_gatehouse_ctx_t;


extern ngx_module_t  ngx_http_gatehouse_module;


/* ngx_http_gatehouse_upload.c */
ngx_int_t ngx_http_gatehouse_upload_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_gatehouse_upload_init(ngx_conf_t *cf);
void ngx_http_gatehouse_drop_files(ngx_http_gatehouse_ctx_t *ctx);

/* ngx_http_gatehouse_reply.c */
ngx_int_t ngx_http_gatehouse_fail(ngx_http_gatehouse_ctx_t *ctx,
    ngx_int_t status, const char *code, json_t *extra);
ngx_int_t ngx_http_gatehouse_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *body);
json_t *ngx_http_gatehouse_json_str(const u_char *s, size_t len);
ngx_int_t ngx_http_gatehouse_reply_init(ngx_conf_t *cf);

/* ngx_http_gatehouse_record.c */
ngx_int_t ngx_http_gatehouse_record(ngx_http_gatehouse_ctx_t *ctx,
    ngx_http_gatehouse_file_t *file, const char *status, const char *reason);

#endif /* NGX_HTTP_GATEHOUSE_MODULE_H */
