/*
 * ngx_http_gatehouse_module.c - the Gatehouse nginx module: directives,
 * configuration create/merge, and the module's process hooks.
 *
 * Directives (see nginx_module/README.md):
 *   gatehouse_upload on|off;                 http, server, location
 *   gatehouse_upload_dir PATH;               http, server, location
 *   gatehouse_upload_max_file_size SIZE;     http, server, location
 *   gatehouse_upload_max_files N;            http, server, location
 *   gatehouse_upload_category NAME EXT... [mime=TYPE...];
 *                                            http, server, location
 *   gatehouse_upload_user $var;              http, server, location
 *   gatehouse_upload_on_scan_error reject|accept;
 *                                            http, server, location
 *   gatehouse_upload_pass URI;               http, server, location
 *   gatehouse_clamav_db PATH;                http (one engine per worker)
 *   gatehouse_store PATH;                    http (one store per worker)
 *
 * Values are checked when the configuration is read, so a bad one fails
 * `nginx -t` with a message naming the directive, the file and the line.
 */
#include "ngx_http_gatehouse_module.h"


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
static char *ngx_http_gatehouse_set_category(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gatehouse_set_scan_error(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_clamav_db(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gatehouse_set_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_enum_t  ngx_http_gatehouse_scan_error[] = {
    { ngx_string("reject"), NGX_HTTP_GATEHOUSE_SCAN_REJECT },
    { ngx_string("accept"), NGX_HTTP_GATEHOUSE_SCAN_ACCEPT },
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

    { ngx_string("gatehouse_upload_on_scan_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gatehouse_set_scan_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gatehouse_loc_conf_t, on_scan_error),
      &ngx_http_gatehouse_scan_error },

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
    NULL,                                  /* init main configuration */

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
     *     gmcf->store = { 0, NULL };
     *     gmcf->clamav_db = { 0, NULL };
     *     gmcf->magic = NULL;
     *     gmcf->used = 0;
     */

    return gmcf;
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
     *     conf->pass = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->max_file_size = NGX_CONF_UNSET;
    conf->max_files = NGX_CONF_UNSET_UINT;
    conf->categories = NGX_CONF_UNSET_PTR;
    conf->user = NGX_CONF_UNSET_PTR;
    conf->on_scan_error = NGX_CONF_UNSET_UINT;

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

    ngx_conf_merge_off_value(conf->max_file_size, prev->max_file_size,
                             NGX_HTTP_GATEHOUSE_DEFAULT_MAX_SIZE);
    ngx_conf_merge_uint_value(conf->max_files, prev->max_files,
                              NGX_HTTP_GATEHOUSE_DEFAULT_MAX_FILES);
    ngx_conf_merge_ptr_value(conf->categories, prev->categories, NULL);
    ngx_conf_merge_ptr_value(conf->user, prev->user, NULL);
    ngx_conf_merge_uint_value(conf->on_scan_error, prev->on_scan_error,
                              NGX_HTTP_GATEHOUSE_SCAN_REJECT);
    ngx_conf_merge_str_value(conf->pass, prev->pass, "");

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

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

    clcf->handler = ngx_http_gatehouse_upload_handler;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);
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
 * libmagic handles are not shareable across fork and not thread-safe: each
 * worker opens its own, and only the event loop uses it.
 *
 * STORE SEAM: the worker opens the shared store here (after fork, never
 * before; see common/include/gatehouse/store.h, FORK RULES), and closes it
 * in exit_process.
 */
static ngx_int_t
ngx_http_gatehouse_init_process(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf == NULL || !gmcf->used) {
        return NGX_OK;
    }

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

    return NGX_OK;
}


static void
ngx_http_gatehouse_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_gatehouse_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gatehouse_module);
    if (gmcf != NULL && gmcf->magic != NULL) {
        magic_close(gmcf->magic);
        gmcf->magic = NULL;
    }
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
        def = gh_category_by_name(gh_category_defaults(&ndef), ndef,
                                  (char *) name.data, name.len);
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
ngx_http_gatehouse_set_scan_error(ngx_conf_t *cf, ngx_command_t *cmd,
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

    if (gmcf->store.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->store = value[1];

    rv = ngx_http_gatehouse_full_path(cf, &gmcf->store);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_file_info(gmcf->store.data, &fi) != NGX_FILE_ERROR) {
        if (!ngx_is_dir(&fi)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gatehouse_store \"%V\" is not a directory",
                               &gmcf->store);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    slash = ngx_strlchr(gmcf->store.data, gmcf->store.data + gmcf->store.len,
                        '/');
    parent.data = ngx_pnalloc(cf->pool, gmcf->store.len + 1);
    if (slash == NULL || parent.data == NULL) {
        return NGX_CONF_ERROR;
    }

    for (parent.len = gmcf->store.len; parent.len > 1; parent.len--) {
        if (gmcf->store.data[parent.len - 1] == '/') {
            break;
        }
    }

    ngx_memcpy(parent.data, gmcf->store.data, parent.len);
    parent.data[parent.len] = '\0';

    if (ngx_file_info(parent.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_dir(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gatehouse_store \"%V\": neither it nor its "
                           "parent directory exists", &gmcf->store);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
