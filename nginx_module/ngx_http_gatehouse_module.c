/*
 * ngx_http_gatehouse_module.c - the Gatehouse nginx module: its definition,
 * the directives table, and configuration create/init/merge.  Directive
 * setters are in ngx_http_gatehouse_directives.c and
 * ngx_http_gatehouse_paths.c, the process hooks in ngx_http_gatehouse_init.c.
 *
 * Directives (docs/nginx.md):
 *   gatehouse_upload on|off;                 http, server, location
 *   gatehouse_upload_dir PATH;               http, server, location
 *   gatehouse_upload_quarantine PATH;        http, server, location
 *   gatehouse_upload_max_file_size SIZE;     http, server, location
 *   gatehouse_upload_max_files N;            http, server, location
 *   gatehouse_upload_category NAME EXT... [mime=TYPE...];
 *                                            http, server, location
 *   gatehouse_upload_user $var;              http, server, location
 *   gatehouse_upload_scan on|off;            http, server, location
 *   gatehouse_upload_on_scan_error reject|accept;
 *   gatehouse_upload_on_scan_limit reject|accept;
 *   gatehouse_upload_on_store_error reject|accept;
 *                                            http, server, location
 *   gatehouse_upload_pass URI;               http, server, location
 *   gatehouse_thread_pool NAME;              http, server, location
 *   gatehouse_upload_status;                 location
 *   gatehouse_unsubscribe;                   location (docs/tokens.md)
 *   gatehouse_download;                      location (docs/tokens.md)
 *   gatehouse_conf PATH;                     http (gatehouse.conf)
 *   gatehouse_clamav_db PATH|clamd:SOCKET;   http (one engine, compiled in
 *                                            the master, shared by the
 *                                            workers; or scans sent to clamd)
 *   gatehouse_clamav_limits NAME=VALUE...;   http
 *   gatehouse_clamav_tmp PATH;               http
 *   gatehouse_scan_cache on|off;             http (verdicts in the store)
 *   gatehouse_store PATH;                    http (one store per worker)
 *   gatehouse_upload_refused_records N [window=TIME] [total=N];
 *                                            http (records of uploads not
 *                                            kept, per client address)
 *   gatehouse_events_api [types=PATTERN...]; location (docs/api.md)
 *   gatehouse_upload_sync on|off;            http, server, location (files
 *                                            synced before the record)
 *   gatehouse_image_strip on|off;            http, server, location
 *   gatehouse_image_max_pixels N;            http, server, location
 *   gatehouse_thumbnail WxH [quality=N] | off;
 *                                            http, server, location
 *   gatehouse_image_memory SIZE;             http (decoded-image bytes a
 *                                            worker holds at once)
 *
 * Values are checked when the configuration is read, so a bad one fails
 * `nginx -t` with a message naming the directive, the file and the line.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/store.h"


#define NGX_HTTP_GATEHOUSE_DEFAULT_MAX_SIZE  (50 * 1024 * 1024)
#define NGX_HTTP_GATEHOUSE_DEFAULT_MAX_FILES 10
/* 32 megapixels: a 12-MP phone photo and a 24-MP camera's; at most 8
 * bytes a pixel while decoded (imgbudget.h), so the largest image let
 * through fits the default gatehouse_image_memory on its own */
#define NGX_HTTP_GATEHOUSE_DEFAULT_MAX_PIXELS 32000000
#define NGX_HTTP_GATEHOUSE_DEFAULT_IMAGE_MEMORY (256 * 1024 * 1024)
#define NGX_HTTP_GATEHOUSE_MIN_IMAGE_MEMORY   (1024 * 1024)


static void *ngx_http_gatehouse_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_gatehouse_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_gatehouse_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gatehouse_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);


static ngx_conf_enum_t  ngx_http_gatehouse_policy[] = {
    { ngx_string("reject"), NGX_HTTP_GATEHOUSE_REJECT },
    { ngx_string("accept"), NGX_HTTP_GATEHOUSE_ACCEPT },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_gatehouse_max_files_bounds = {
    ngx_conf_check_num_bounds, 1, GH_MP_DEFAULT_PARTS
};


static ngx_conf_num_bounds_t  ngx_http_gatehouse_max_pixels_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000000
};


static ngx_command_t  ngx_http_gatehouse_commands[] = {

    { ngx_string("gatehouse_upload"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, enable),
      NULL },

    { ngx_string("gatehouse_upload_dir"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_dir,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_upload_quarantine"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_quarantine,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_upload_max_file_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, max_file_size),
      NULL },

    { ngx_string("gatehouse_upload_max_files"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, max_files),
      &ngx_http_gatehouse_max_files_bounds },

    { ngx_string("gatehouse_upload_category"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_gatehouse_set_category,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_upload_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, user),
      NULL },

    { ngx_string("gatehouse_upload_scan"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, scan),
      NULL },

    { ngx_string("gatehouse_upload_on_scan_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_policy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, on_scan_error),
      &ngx_http_gatehouse_policy },

    { ngx_string("gatehouse_upload_on_scan_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_policy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, on_scan_limit),
      &ngx_http_gatehouse_policy },

    { ngx_string("gatehouse_upload_on_store_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_policy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, on_store_error),
      &ngx_http_gatehouse_policy },

    { ngx_string("gatehouse_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("gatehouse_upload_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gatehouse_set_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_upload_pass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, pass),
      NULL },

    { ngx_string("gatehouse_clamav_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_clamav_db,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_main_conf_t, clamav_db),
      NULL },

    { ngx_string("gatehouse_unsubscribe"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gatehouse_set_link,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_download"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gatehouse_set_link,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_clamav_limits"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_gatehouse_set_clamav_limits,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_clamav_tmp"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_clamav_tmp,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_conf"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_main_conf_t, store),
      NULL },

    { ngx_string("gatehouse_upload_refused_records"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_gatehouse_set_refused,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_events_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_gatehouse_set_events_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_image_strip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, image_strip),
      NULL },

    { ngx_string("gatehouse_image_max_pixels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, image_max_pixels),
      &ngx_http_gatehouse_max_pixels_bounds },

    { ngx_string("gatehouse_thumbnail"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_gatehouse_set_thumbnail,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* the same setting as gatehouse_upload_user, under the name the
     * inbox locations use */
    { ngx_string("gatehouse_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, user),
      NULL },

    { ngx_string("gatehouse_inbox"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_http_gatehouse_set_inbox,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gatehouse_upload_sync"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, sync),
      NULL },

    { ngx_string("gatehouse_scan_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_main_conf_t, scan_cache),
      NULL },

    { ngx_string("gatehouse_image_memory"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_main_conf_t, image_memory),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gatehouse_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_gatehouse_postconfiguration,  /* postconfiguration */

    ngx_http_gatehouse_create_main_conf,   /* create main configuration */
    ngx_http_gatehouse_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gatehouse_create_loc_conf,    /* create location configuration */
    ngx_http_gatehouse_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_gatehouse_module = {
    NGX_MODULE_V1,
    &ngx_http_gatehouse_module_ctx,        /* module context */
    ngx_http_gatehouse_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_gatehouse_init_module,        /* init module */
    ngx_http_gatehouse_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gatehouse_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* The location's gatehouse_thread_pool, which its store writes use. */
static char *
ngx_http_gatehouse_add_pool(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *conf)
{
#if (NGX_THREADS)
    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
#else
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "the gatehouse module needs nginx built with "
                       "--with-threads");
    return NGX_CONF_ERROR;
#endif
}


static void *
ngx_http_gatehouse_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gatehouse_main_conf_t));
    if (gmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gmcf->conf_file = { 0, NULL };
     *     gmcf->store_path = { 0, NULL };
     *     gmcf->map_size = 0;
     *     gmcf->map_max = 0;
     *     gmcf->store_flags = 0;
     *     gmcf->clamav_db = { 0, NULL };
     *     gmcf->clamav_tmp = { 0, NULL };
     *     gmcf->magic = NULL;
     *     gmcf->store = NULL;
     *     gmcf->engine = NULL;
     *     gmcf->engine_error = { 0, NULL };
     *     gmcf->used = 0;
     */

    gmcf->thread_lock_timeout = -1;
    gmcf->refused_max = NGX_CONF_UNSET_UINT;
    gmcf->refused_total = NGX_CONF_UNSET_UINT;
    gmcf->refused_window = NGX_CONF_UNSET_MSEC;
    gmcf->clamav_max_filesize = NGX_CONF_UNSET;
    gmcf->clamav_max_scansize = NGX_CONF_UNSET;
    gmcf->clamav_max_recursion = NGX_CONF_UNSET;
    gmcf->clamav_max_files = NGX_CONF_UNSET;
    gmcf->clamav_max_scantime = NGX_CONF_UNSET_MSEC;
    gmcf->scan_cache = NGX_CONF_UNSET;
    gmcf->image_memory = NGX_CONF_UNSET_SIZE;

    return gmcf;
}


static char *
ngx_http_gatehouse_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    ngx_conf_init_uint_value(gmcf->refused_max,
                             NGX_HTTP_GATEHOUSE_REFUSED_MAX);
    ngx_conf_init_uint_value(gmcf->refused_total,
                             NGX_HTTP_GATEHOUSE_REFUSED_TOTAL);
    ngx_conf_init_msec_value(gmcf->refused_window,
                             NGX_HTTP_GATEHOUSE_REFUSED_WINDOW);

    if (gmcf->thread_lock_timeout < 0) {
        gmcf->thread_lock_timeout = NGX_HTTP_GATEHOUSE_THREAD_LOCK_TIMEOUT;
    }

    ngx_conf_init_value(gmcf->scan_cache, 1);

    ngx_conf_init_size_value(gmcf->image_memory,
                             NGX_HTTP_GATEHOUSE_DEFAULT_IMAGE_MEMORY);
    if (gmcf->image_memory < NGX_HTTP_GATEHOUSE_MIN_IMAGE_MEMORY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gatehouse_image_memory\" must be at least 1m");
        return NGX_CONF_ERROR;
    }

    if (gmcf->needs_keys) {
        if (gmcf->store_path.len == 0
            || (gmcf->key_file.len == 0 && gmcf->web_key_file.len == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gatehouse_unsubscribe\" and "
                               "\"gatehouse_download\" need "
                               "\"gatehouse_conf\" (the store and "
                               "[tokens] web_key_file or key_file)");
            return NGX_CONF_ERROR;
        }

        gmcf->needs_store = 1;

        return ngx_http_gatehouse_load_keys(cf, gmcf);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_gatehouse_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gatehouse_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gatehouse_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->dir = { 0, NULL };
     *     conf->incoming = NULL;
     *     conf->quarantine = { 0, NULL };
     *     conf->quarantine_path = NULL;
     *     conf->pass = { 0, NULL };
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->thread_pool = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->max_file_size = NGX_CONF_UNSET;
    conf->max_files = NGX_CONF_UNSET_UINT;
    conf->categories = NGX_CONF_UNSET_PTR;
    conf->user = NGX_CONF_UNSET_PTR;
    conf->scan = NGX_CONF_UNSET;
    conf->on_scan_error = NGX_CONF_UNSET_UINT;
    conf->on_scan_limit = NGX_CONF_UNSET_UINT;
    conf->on_store_error = NGX_CONF_UNSET_UINT;
    conf->status = NGX_CONF_UNSET;
    conf->sync = NGX_CONF_UNSET;
    conf->image_strip = NGX_CONF_UNSET;
    conf->image_max_pixels = NGX_CONF_UNSET_UINT;
    conf->thumb_width = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_gatehouse_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gatehouse_loc_conf_t *prev = parent;
    ngx_http_gatehouse_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->dir.data == NULL) {
        conf->dir = prev->dir;
        conf->incoming = prev->incoming;
    }

    if (conf->quarantine.data == NULL) {
        conf->quarantine = prev->quarantine;
        conf->quarantine_path = prev->quarantine_path;
    }

    ngx_conf_merge_off_value(conf->max_file_size, prev->max_file_size,
                             NGX_HTTP_GATEHOUSE_DEFAULT_MAX_SIZE);
    ngx_conf_merge_uint_value(conf->max_files, prev->max_files,
                              NGX_HTTP_GATEHOUSE_DEFAULT_MAX_FILES);
    ngx_conf_merge_ptr_value(conf->categories, prev->categories, NULL);
    ngx_conf_merge_ptr_value(conf->user, prev->user, NULL);
    ngx_conf_merge_value(conf->scan, prev->scan, NGX_CONF_UNSET);
    ngx_conf_merge_uint_value(conf->on_scan_error, prev->on_scan_error,
                              NGX_HTTP_GATEHOUSE_REJECT);
    ngx_conf_merge_uint_value(conf->on_scan_limit, prev->on_scan_limit,
                              NGX_HTTP_GATEHOUSE_REJECT);
    ngx_conf_merge_uint_value(conf->on_store_error, prev->on_store_error,
                              NGX_HTTP_GATEHOUSE_REJECT);
    ngx_conf_merge_str_value(conf->pass, prev->pass, "");
    ngx_conf_merge_value(conf->sync, prev->sync, 1);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");
    ngx_conf_merge_value(conf->image_strip, prev->image_strip, 1);
    ngx_conf_merge_uint_value(conf->image_max_pixels, prev->image_max_pixels,
                              NGX_HTTP_GATEHOUSE_DEFAULT_MAX_PIXELS);
    if (conf->thumb_width == NGX_CONF_UNSET_UINT) {
        conf->thumb_width = (prev->thumb_width == NGX_CONF_UNSET_UINT)
                            ? 0 : prev->thumb_width;
        conf->thumb_height = prev->thumb_height;
        conf->thumb_quality = prev->thumb_quality;
    }

    /* not inherited: only the location that says it answers status */
    if (conf->status == NGX_CONF_UNSET) {
        conf->status = 0;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);

    if (conf->status) {
        if (conf->enable) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gatehouse_upload_status\" and "
                               "\"gatehouse_upload on\" in the same "
                               "location \"%V\"", &clcf->name);
            return NGX_CONF_ERROR;
        }

        if (gmcf->store_path.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gatehouse_upload_status\" in location "
                               "\"%V\" needs \"gatehouse_store\" or "
                               "\"gatehouse_conf\"", &clcf->name);
            return NGX_CONF_ERROR;
        }

        gmcf->needs_store = 1;
    }

    if (clcf->handler == ngx_http_gatehouse_inbox_handler) {
        if (gmcf->store_path.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gatehouse_inbox\" in location \"%V\" "
                               "needs \"gatehouse_conf\" or "
                               "\"gatehouse_store\"", &clcf->name);
            return NGX_CONF_ERROR;
        }

        gmcf->needs_store = 1;

        /* its writes are made in the thread pool */
        return ngx_http_gatehouse_add_pool(cf, conf);
    }

    if (clcf->handler == ngx_http_gatehouse_unsubscribe_handler) {
        /* its one write is made in the thread pool too */
        return ngx_http_gatehouse_add_pool(cf, conf);
    }

    if (clcf->handler == ngx_http_gatehouse_events_handler) {
        if (ngx_http_gatehouse_events_merge(cf, conf) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

        return ngx_http_gatehouse_add_pool(cf, conf);
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->scan == NGX_CONF_UNSET) {
        conf->scan = (gmcf->clamav_db.len != 0);

    } else if (conf->scan && gmcf->clamav_db.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gatehouse_upload_scan on\" in location \"%V\" "
                           "but no \"gatehouse_clamav_db\" is set",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_gatehouse_add_pool(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->dir.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gatehouse_upload\" is on in location \"%V\" "
                           "but no \"gatehouse_upload_dir\" is set",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    /*
     * The module is the location's content handler.  Another one (proxy_pass,
     * fastcgi_pass, ...) would receive the body unchecked, so refuse the
     * combination instead of letting one of them silently win.
     */
    if (clcf->handler != NULL
        && clcf->handler != ngx_http_gatehouse_upload_handler)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gatehouse_upload\" is on in location \"%V\" "
                           "which already has a content handler "
                           "(proxy_pass, fastcgi_pass, ...): use "
                           "\"gatehouse_upload_pass\" to hand checked "
                           "uploads on, or \"gatehouse_upload off\" there",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (conf->quarantine.data == NULL) {
        if (ngx_http_gatehouse_default_quarantine(cf, conf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_gatehouse_same_fs(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_gatehouse_upload_handler;

    gmcf->used = 1;

    return NGX_CONF_OK;
}
