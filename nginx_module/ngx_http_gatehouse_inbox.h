/*
 * ngx_http_gatehouse_inbox.h - what the files of gatehouse_inbox share
 * (ngx_http_gatehouse_inbox.c and the inbox_*.c beside it): the routes, a
 * write for the thread pool, and the functions each offers the others.
 * Private to those files: the rest of the module sees the inbox through
 * ngx_http_gatehouse_module.h.
 */
#ifndef NGX_HTTP_GATEHOUSE_INBOX_H
#define NGX_HTTP_GATEHOUSE_INBOX_H

#include "ngx_http_gatehouse_module.h"
#include "gatehouse/users.h"


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


/* ngx_http_gatehouse_inbox.c */
ngx_int_t ngx_http_gatehouse_in_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body);
ngx_http_gatehouse_inwrite_t *ngx_http_gatehouse_in_find(
    ngx_http_request_t *r);

/* ngx_http_gatehouse_inbox_read.c */
ngx_int_t ngx_http_gatehouse_in_list(ngx_http_request_t *r, ngx_str_t *user,
    struct gh_store *store);
ngx_int_t ngx_http_gatehouse_in_prefs_get(ngx_http_request_t *r,
    ngx_str_t *user, struct gh_store *store);

/* ngx_http_gatehouse_inbox_write.c */
ngx_int_t ngx_http_gatehouse_in_write(ngx_http_request_t *r,
    ngx_http_gatehouse_inwrite_t *w);

/* ngx_http_gatehouse_inbox_body.c */
void ngx_http_gatehouse_inbox_body(ngx_http_request_t *r);

#endif /* NGX_HTTP_GATEHOUSE_INBOX_H */
