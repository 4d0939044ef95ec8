/*
 * ngx_http_gatehouse_module.c - the Gatehouse nginx module: directives,
 * configuration create/merge, and the module's process hooks.
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
 *   gatehouse_clamav_db PATH;                http (one engine per worker)
 *   gatehouse_clamav_limits NAME=VALUE...;   http
 *   gatehouse_clamav_tmp PATH;               http
 *   gatehouse_store PATH;                    http (one store per worker)
 *
 * Values are checked when the configuration is read, so a bad one fails
 * `nginx -t` with a message naming the directive, the file and the line.
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/store.h"


#define NGX_HTTP_GATEHOUSE_DEFAULT_MAX_SIZE  (50 * 1024 * 1024)
#define NGX_HTTP_GATEHOUSE_DEFAULT_MAX_FILES 10
#define NGX_HTTP_GATEHOUSE_CATEGORY_NAME_MAX 32


static void *ngx_http_gatehouse_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gatehouse_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gatehouse_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_gatehouse_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_gatehouse_init_process(ngx_cycle_t *cycle);
static void ngx_http_gatehouse_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_gatehouse_set_dir(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gatehouse_set_quarantine(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gatehouse_set_clamav_limits(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_clamav_tmp(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_status(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_link(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_gatehouse_default_quarantine(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf);
static ngx_int_t ngx_http_gatehouse_same_fs(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf);
static char *ngx_http_gatehouse_set_category(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gatehouse_set_policy(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_clamav_db(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_enum_t  ngx_http_gatehouse_policy[] = {
    { ngx_string("reject"), NGX_HTTP_GATEHOUSE_REJECT },
    { ngx_string("accept"), NGX_HTTP_GATEHOUSE_ACCEPT },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_gatehouse_max_files_bounds = {
    ngx_conf_check_num_bounds, 1, GH_MP_DEFAULT_PARTS
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
    NULL,                                  /* init module */
    ngx_http_gatehouse_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gatehouse_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


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
     *     gmcf->used = 0;
     */

    gmcf->lock_timeout = NGX_CONF_UNSET_MSEC;
    gmcf->thread_lock_timeout = -1;
    gmcf->clamav_max_filesize = NGX_CONF_UNSET;
    gmcf->clamav_max_scansize = NGX_CONF_UNSET;
    gmcf->clamav_max_recursion = NGX_CONF_UNSET;
    gmcf->clamav_max_files = NGX_CONF_UNSET;

    return gmcf;
}


static char *
ngx_http_gatehouse_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    ngx_conf_init_msec_value(gmcf->lock_timeout,
                             NGX_HTTP_GATEHOUSE_LOCK_TIMEOUT);

    if (gmcf->thread_lock_timeout < 0) {
        gmcf->thread_lock_timeout = NGX_HTTP_GATEHOUSE_THREAD_LOCK_TIMEOUT;
    }

    if (gmcf->needs_keys) {
        if (gmcf->store_path.len == 0 || gmcf->key_file.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gatehouse_unsubscribe\" and "
                               "\"gatehouse_download\" need "
                               "\"gatehouse_conf\" (the store and "
                               "[tokens] key_file)");
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
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");
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

#if (NGX_THREADS)
    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#else
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"gatehouse_upload\" needs nginx built with "
                       "--with-threads");
    return NGX_CONF_ERROR;
#endif

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


static ngx_int_t
ngx_http_gatehouse_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_gatehouse_upload_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_gatehouse_reply_init(cf);
}


/*
 * Everything a worker needs of its own, made after fork: a libmagic handle
 * (not shareable across fork, not thread-safe: only the event loop uses
 * it), the store handle (an LMDB environment must never cross a fork, see
 * gatehouse/store.h) and the libclamav engine (compiled here, once per
 * worker; threads of the pool share it for scanning).  Cache manager and
 * loader processes run init_process too but serve no requests: they get
 * nothing.
 */
static ngx_int_t
ngx_http_gatehouse_init_process(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf == NULL || (!gmcf->used && !gmcf->needs_store)) {
        return NGX_OK;
    }

    if (gmcf->used) {
        gmcf->magic = magic_open(MAGIC_MIME_TYPE|MAGIC_ERROR);
        if (gmcf->magic == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "gatehouse: magic_open() failed");
            return NGX_ERROR;
        }

        if (magic_load(gmcf->magic, NULL) != 0) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "gatehouse: magic_load() failed: %s",
                          magic_error(gmcf->magic));
            magic_close(gmcf->magic);
            gmcf->magic = NULL;
            return NGX_ERROR;
        }

        /* a database that fails to load leaves the worker without an
         * engine: scans then fail and gatehouse_upload_on_scan_error
         * decides, rather than the whole site going down */
        (void) ngx_http_gatehouse_scan_init(cycle, gmcf);
    }

    /* likewise a store that cannot be opened: on_store_error decides */
    (void) ngx_http_gatehouse_store_open(cycle, gmcf);

    return NGX_OK;
}


/*
 * nginx's thread pools are core modules, whose exit_process runs before
 * this one and waits for queued tasks: no scan is running any more.
 */
static void
ngx_http_gatehouse_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf == NULL) {
        return;
    }

    if (gmcf->magic != NULL) {
        magic_close(gmcf->magic);
        gmcf->magic = NULL;
    }

    ngx_http_gatehouse_scan_exit(gmcf);
    ngx_http_gatehouse_store_close(gmcf);
}


/* A path made absolute against nginx's prefix, without a trailing '/'. */
static char *
ngx_http_gatehouse_full_path(ngx_conf_t *cf, ngx_str_t *path)
{
    if (path->len == 0) {
        return "has an empty path";
    }

    if (ngx_conf_full_name(cf->cycle, path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (path->len > 1 && path->data[path->len - 1] == '/') {
        path->len--;
    }

    path->data[path->len] = '\0';

    return NGX_CONF_OK;
}


/* gatehouse_upload_dir PATH: an existing directory; temp files go to
 * PATH/.incoming (created by nginx at start, owned by the worker user), so
 * the final rename never crosses file systems. */
static char *
ngx_http_gatehouse_set_dir(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    char             *rv;
    u_char           *p;
    ngx_str_t        *value;
    ngx_path_t       *path;
    ngx_file_info_t   fi;

    if (glcf->dir.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    glcf->dir = value[1];

    rv = ngx_http_gatehouse_full_path(cf, &glcf->dir);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_file_info(glcf->dir.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "gatehouse_upload_dir \"%V\"", &glcf->dir);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gatehouse_upload_dir \"%V\" is not a directory",
                           &glcf->dir);
        return NGX_CONF_ERROR;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name.len = glcf->dir.len + sizeof("/.incoming") - 1;
    path->name.data = ngx_pnalloc(cf->pool, path->name.len + 1);
    if (path->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(path->name.data, glcf->dir.data, glcf->dir.len);
    p = ngx_cpymem(p, "/.incoming", sizeof("/.incoming") - 1);
    *p = '\0';

    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    glcf->incoming = path;

    if (ngx_add_path(cf, &glcf->incoming) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gatehouse_valid_name(ngx_str_t *s)
{
    ngx_uint_t  i;

    if (s->len == 0 || s->len > NGX_HTTP_GATEHOUSE_CATEGORY_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        u_char  c = s->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * gatehouse_upload_category NAME EXT... [mime=TYPE...];
 *
 * The categories given in a block replace the defaults there (a block with
 * none inherits its parent's, and with none anywhere the built-in table
 * applies).  NAME is 1-32 of [a-z0-9_-]; each EXT is 1-16 ASCII letters or
 * digits, stored lowercase, and may appear in only one category of a
 * block.  Without any mime= the MIME list of the built-in category of the
 * same name is used; a new name needs at least one mime=TYPE.
 */
static char *
ngx_http_gatehouse_set_category(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    size_t                     ndef;
    ngx_str_t                 *value, name;
    ngx_uint_t                 i, j, k, nexts, nmimes;
    const char               **exts, **mimes;
    struct gh_category        *cat, *cats;
    const struct gh_category  *def;

    value = cf->args->elts;
    name = value[1];

    if (!ngx_http_gatehouse_valid_name(&name)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid category name \"%V\" in \"%V\": use 1-%d "
                           "characters of a-z, 0-9, '_' and '-'",
                           &name, &cmd->name,
                           NGX_HTTP_GATEHOUSE_CATEGORY_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    if (glcf->categories == NGX_CONF_UNSET_PTR) {
        glcf->categories = ngx_array_create(cf->pool, 4,
                                            sizeof(struct gh_category));
        if (glcf->categories == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cats = glcf->categories->elts;

    for (i = 0; i < glcf->categories->nelts; i++) {
        if (ngx_strcmp(cats[i].name, name.data) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "category \"%V\" is given twice", &name);
            return NGX_CONF_ERROR;
        }
    }

    nexts = 0;
    nmimes = 0;

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "mime=", 5) == 0) {
            nmimes++;
        } else {
            nexts++;
        }
    }

    if (nexts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "category \"%V\" has no extension", &name);
        return NGX_CONF_ERROR;
    }

    exts = ngx_pcalloc(cf->pool, (nexts + 1) * sizeof(char *));
    mimes = ngx_pcalloc(cf->pool, (nmimes + 1) * sizeof(char *));
    if (exts == NULL || mimes == NULL) {
        return NGX_CONF_ERROR;
    }

    nexts = 0;
    nmimes = 0;

    for (i = 2; i < cf->args->nelts; i++) {
        ngx_str_t  v = value[i];

        if (ngx_strncmp(v.data, "mime=", 5) == 0) {
            v.data += 5;
            v.len -= 5;

            if (!gh_category_mime_valid((char *) v.data, v.len)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid MIME type \"%V\" in category "
                                   "\"%V\": use type/subtype or type/*",
                                   &v, &name);
                return NGX_CONF_ERROR;
            }

            ngx_strlow(v.data, v.data, v.len);
            mimes[nmimes++] = (const char *) v.data;
            continue;
        }

        if (v.len == 0 || v.len > GH_FN_EXT_MAX) {
            goto bad_ext;
        }

        for (j = 0; j < v.len; j++) {
            u_char  c = ngx_tolower(v.data[j]);

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                goto bad_ext;
            }
        }

        ngx_strlow(v.data, v.data, v.len);

        for (j = 0; j < glcf->categories->nelts; j++) {
            for (k = 0; cats[j].exts[k] != NULL; k++) {
                if (ngx_strcmp(cats[j].exts[k], v.data) == 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "extension \"%V\" is already in "
                                       "category \"%s\"", &v, cats[j].name);
                    return NGX_CONF_ERROR;
                }
            }
        }

        for (k = 0; k < nexts; k++) {
            if (ngx_strcmp(exts[k], v.data) == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "extension \"%V\" is given twice in "
                                   "category \"%V\"", &v, &name);
                return NGX_CONF_ERROR;
            }
        }

        exts[nexts++] = (const char *) v.data;
        continue;

    bad_ext:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid extension \"%V\" in category \"%V\": "
                           "use 1-%d letters or digits, without the dot",
                           &v, &name, GH_FN_EXT_MAX);
        return NGX_CONF_ERROR;
    }

    cat = ngx_array_push(glcf->categories);
    if (cat == NULL) {
        return NGX_CONF_ERROR;
    }

    cat->name = (const char *) name.data;
    cat->exts = exts;
    cat->mimes = mimes;

    if (nmimes == 0) {
        /* two statements: argument evaluation order is unspecified */
        def = gh_category_defaults(&ndef);
        def = gh_category_by_name(def, ndef, (char *) name.data, name.len);
        if (def == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "category \"%V\" is not a built-in one "
                               "(images, documents, archives, media): "
                               "give its types with mime=TYPE", &name);
            return NGX_CONF_ERROR;
        }

        cat->mimes = def->mimes;
    }

    return NGX_CONF_OK;
}


/* ngx_conf_set_enum_slot, saying which values are allowed. */
static char *
ngx_http_gatehouse_set_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char             *p = conf;
    ngx_str_t        *value;
    ngx_uint_t       *np, i;
    ngx_conf_enum_t  *e = cmd->post;

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; e[i].name.len != 0; i++) {
        if (e[i].name.len == value[1].len
            && ngx_strcmp(e[i].name.data, value[1].data) == 0)
        {
            *np = e[i].value;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"reject\" or \"accept\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/* gatehouse_upload_pass URI: a local URI or a named location. */
static char *
ngx_http_gatehouse_set_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char       *rv;
    ngx_str_t  *value;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    if (value[1].len < 2
        || (value[1].data[0] != '/' && value[1].data[0] != '@'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"gatehouse_upload_pass\" \"%V\": use a "
                           "URI starting with '/' or a named location "
                           "'@name'", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gatehouse_clamav_db PATH: a signature file or directory that exists. */
static char *
ngx_http_gatehouse_set_clamav_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    char             *rv;
    ngx_str_t        *value;
    ngx_file_info_t   fi;

    if (gmcf->clamav_db.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->clamav_db = value[1];

    rv = ngx_http_gatehouse_full_path(cf, &gmcf->clamav_db);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_file_info(gmcf->clamav_db.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "gatehouse_clamav_db \"%V\"", &gmcf->clamav_db);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gatehouse_store PATH: the store directory; if it exists it must be a
 * directory, otherwise its parent must exist (the store may create it). */
static char *
ngx_http_gatehouse_set_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    char             *rv;
    u_char           *slash;
    ngx_str_t        *value, parent;
    ngx_file_info_t   fi;

    if (gmcf->store_explicit) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->store_path = value[1];
    gmcf->store_explicit = 1;

    rv = ngx_http_gatehouse_full_path(cf, &gmcf->store_path);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_file_info(gmcf->store_path.data, &fi) != NGX_FILE_ERROR) {
        if (!ngx_is_dir(&fi)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gatehouse_store \"%V\" is not a directory",
                               &gmcf->store_path);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    slash = ngx_strlchr(gmcf->store_path.data,
                        gmcf->store_path.data + gmcf->store_path.len, '/');
    parent.data = ngx_pnalloc(cf->pool, gmcf->store_path.len + 1);
    if (slash == NULL || parent.data == NULL) {
        return NGX_CONF_ERROR;
    }

    for (parent.len = gmcf->store_path.len; parent.len > 1; parent.len--) {
        if (gmcf->store_path.data[parent.len - 1] == '/') {
            break;
        }
    }

    ngx_memcpy(parent.data, gmcf->store_path.data, parent.len);
    parent.data[parent.len] = '\0';

    if (ngx_file_info(parent.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_dir(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gatehouse_store \"%V\": neither it nor its "
                           "parent directory exists", &gmcf->store_path);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* A directory nginx creates at start, owned by the worker user, 0700. */
static ngx_path_t *
ngx_http_gatehouse_add_path(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_path_t  *path;

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NULL;
    }

    path->name = *name;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NULL;
    }

    return path;
}


/*
 * gatehouse_upload_quarantine PATH: where infected files go, created by
 * nginx at start like DIR/.incoming.  Files are moved there by rename(),
 * so it must be on the upload directory's file system (checked once both
 * are known, in the merge).
 */
static char *
ngx_http_gatehouse_set_quarantine(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    char       *rv;
    ngx_str_t  *value;

    if (glcf->quarantine.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    glcf->quarantine = value[1];

    rv = ngx_http_gatehouse_full_path(cf, &glcf->quarantine);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    glcf->quarantine_path = ngx_http_gatehouse_add_path(cf,
                                                        &glcf->quarantine);
    if (glcf->quarantine_path == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* Without gatehouse_upload_quarantine: DIR/.quarantine. */
static ngx_int_t
ngx_http_gatehouse_default_quarantine(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf)
{
    u_char     *p;
    ngx_str_t   name;

    name.len = glcf->dir.len + sizeof("/.quarantine") - 1;
    name.data = ngx_pnalloc(cf->pool, name.len + 1);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(name.data, glcf->dir.data, glcf->dir.len);
    p = ngx_cpymem(p, "/.quarantine", sizeof("/.quarantine") - 1);
    *p = '\0';

    glcf->quarantine = name;
    glcf->quarantine_path = ngx_http_gatehouse_add_path(cf, &name);

    return glcf->quarantine_path != NULL ? NGX_OK : NGX_ERROR;
}


/* The device of path, or of its parent when path is yet to be made. */
static ngx_int_t
ngx_http_gatehouse_device(ngx_str_t *path, dev_t *dev)
{
    u_char           buf[NGX_MAX_PATH];
    size_t           n;
    ngx_file_info_t  fi;

    if (ngx_file_info(path->data, &fi) != NGX_FILE_ERROR) {
        *dev = fi.st_dev;
        return NGX_OK;
    }

    for (n = path->len; n > 1 && path->data[n - 1] != '/'; n--) {
        /* void */
    }

    if (n >= sizeof(buf)) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, path->data, n);
    buf[n] = '\0';

    if (ngx_file_info(buf, &fi) == NGX_FILE_ERROR) {
        return NGX_ERROR;
    }

    *dev = fi.st_dev;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gatehouse_same_fs(ngx_conf_t *cf, ngx_http_gatehouse_loc_conf_t *glcf)
{
    dev_t  d1, d2;

    if (ngx_http_gatehouse_device(&glcf->dir, &d1) != NGX_OK
        || ngx_http_gatehouse_device(&glcf->quarantine, &d2) != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "gatehouse_upload_quarantine \"%V\": its parent "
                           "directory does not exist", &glcf->quarantine);
        return NGX_ERROR;
    }

    if (d1 != d2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gatehouse_upload_quarantine \"%V\" is not on the "
                           "file system of gatehouse_upload_dir \"%V\" "
                           "(files are moved there with rename())",
                           &glcf->quarantine, &glcf->dir);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* gatehouse_conf PATH: gatehouse.conf, read now so that `nginx -t` checks
 * it; the store options (and [nginx] keys) are taken from it. */
static char *
ngx_http_gatehouse_set_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    char       *rv;
    ngx_str_t  *value;

    if (gmcf->conf_file.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->conf_file = value[1];

    rv = ngx_http_gatehouse_full_path(cf, &gmcf->conf_file);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_gatehouse_load_conf(cf, gmcf);
}


/*
 * gatehouse_clamav_limits NAME=VALUE...: libclamav's scan limits,
 * max_filesize=SIZE max_scansize=SIZE max_recursion=N max_files=N.  A file
 * beyond one is never reported clean (gatehouse_upload_on_scan_limit).
 */
static char *
ngx_http_gatehouse_set_clamav_limits(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    off_t        size, *sp;
    ngx_int_t    n, *np;
    ngx_str_t   *value, v;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        sp = NULL;
        np = NULL;

        if (ngx_strncmp(value[i].data, "max_filesize=", 13) == 0) {
            sp = &gmcf->clamav_max_filesize;
            v.data = value[i].data + 13;
            v.len = value[i].len - 13;

        } else if (ngx_strncmp(value[i].data, "max_scansize=", 13) == 0) {
            sp = &gmcf->clamav_max_scansize;
            v.data = value[i].data + 13;
            v.len = value[i].len - 13;

        } else if (ngx_strncmp(value[i].data, "max_recursion=", 14) == 0) {
            np = &gmcf->clamav_max_recursion;
            v.data = value[i].data + 14;
            v.len = value[i].len - 14;

        } else if (ngx_strncmp(value[i].data, "max_files=", 10) == 0) {
            np = &gmcf->clamav_max_files;
            v.data = value[i].data + 10;
            v.len = value[i].len - 10;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown limit \"%V\" in \"%V\": use "
                               "max_filesize=SIZE, max_scansize=SIZE, "
                               "max_recursion=N or max_files=N",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (sp != NULL) {
            size = ngx_parse_offset(&v);
            if (size <= 0) {
                goto invalid;
            }

            *sp = size;
            continue;
        }

        n = ngx_atoi(v.data, v.len);
        if (n <= 0 || n > 100000) {
            goto invalid;
        }

        *np = n;
        continue;

    invalid:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value in \"%V\" of \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gatehouse_upload_status: the location answers GET /PREFIX/ID with the
 * record of upload ID, to the user who uploaded it. */
static char *
ngx_http_gatehouse_set_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (glcf->status != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is not allowed with another content handler";
    }

    clcf->handler = ngx_http_gatehouse_status_handler;
    glcf->status = 1;

    return NGX_CONF_OK;
}


/*
 * gatehouse_clamav_tmp PATH: where libclamav makes its per-scan temporary
 * directory (one mkdir and rmdir per scan, plus what archives unpack to);
 * by default $TMPDIR or /tmp.  A tmpfs is cheapest.  Created by nginx at
 * start, owned by the worker user.
 */
static char *
ngx_http_gatehouse_set_clamav_tmp(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    char       *rv;
    ngx_str_t  *value;

    if (gmcf->clamav_tmp.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->clamav_tmp = value[1];

    rv = ngx_http_gatehouse_full_path(cf, &gmcf->clamav_tmp);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_http_gatehouse_add_path(cf, &gmcf->clamav_tmp) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gatehouse_unsubscribe; gatehouse_download;  signed-link locations. */
static char *
ngx_http_gatehouse_set_link(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is not allowed with another content handler";
    }

    clcf->handler = (cmd->name.data[sizeof("gatehouse_") - 1] == 'u')
                    ? ngx_http_gatehouse_unsubscribe_handler
                    : ngx_http_gatehouse_download_handler;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);
    gmcf->needs_keys = 1;

    return NGX_CONF_OK;
}
