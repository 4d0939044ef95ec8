/*
 * ngx_http_gatehouse_directives.c - the directives whose values need more
 * than nginx's stock slot setters: upload categories, the reject|accept
 * policies, the gatehouse_upload_pass URI, libclamav's scan limits, and
 * the locations that get one of the module's content handlers (upload
 * status, signed links), the cap on records of uploads not kept.  A bad
 * value fails `nginx -t` with a message saying what is allowed.
 */
#include "ngx_http_gatehouse_module.h"


#define NGX_HTTP_GATEHOUSE_CATEGORY_NAME_MAX 32


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
char *
ngx_http_gatehouse_set_category(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    size_t                     ndef;
    ngx_str_t                 *value, name;
    ngx_uint_t                 i, j, k, nexts, nmimes;
    const char               **exts, **mimes;
    struct gw_category        *cat, *cats;
    const struct gw_category  *def;

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
                                            sizeof(struct gw_category));
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

            if (!gw_category_mime_valid((char *) v.data, v.len)) {
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
        def = gw_category_defaults(&ndef);
        def = gw_category_by_name(def, ndef, (char *) name.data, name.len);
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
char *
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
char *
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


/*
 * gatehouse_clamav_limits NAME=VALUE...: libclamav's scan limits,
 * max_filesize=SIZE max_scansize=SIZE max_recursion=N max_files=N
 * max_scantime=TIME.  A file beyond one is never reported clean
 * (gatehouse_upload_on_scan_limit).
 */
char *
ngx_http_gatehouse_set_clamav_limits(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    enum { LIMIT_SIZE, LIMIT_N, LIMIT_TIME };

    static const struct {
        ngx_str_t   name;
        ngx_uint_t  kind;
        size_t      off;       /* in ngx_http_gatehouse_main_conf_t */
    } limits[] = {
        { ngx_string("max_filesize="), LIMIT_SIZE,
          offsetof(ngx_http_gatehouse_main_conf_t, clamav_max_filesize) },
        { ngx_string("max_scansize="), LIMIT_SIZE,
          offsetof(ngx_http_gatehouse_main_conf_t, clamav_max_scansize) },
        { ngx_string("max_recursion="), LIMIT_N,
          offsetof(ngx_http_gatehouse_main_conf_t, clamav_max_recursion) },
        { ngx_string("max_files="), LIMIT_N,
          offsetof(ngx_http_gatehouse_main_conf_t, clamav_max_files) },
        { ngx_string("max_scantime="), LIMIT_TIME,
          offsetof(ngx_http_gatehouse_main_conf_t, clamav_max_scantime) },
    };

    u_char      *field;
    off_t        size;
    ngx_int_t    n, t;
    ngx_str_t   *value, v;
    ngx_uint_t   i, k, nlimits;

    value = cf->args->elts;
    nlimits = sizeof(limits) / sizeof(limits[0]);

    for (i = 1; i < cf->args->nelts; i++) {

        for (k = 0; k < nlimits; k++) {
            if (ngx_strncmp(value[i].data, limits[k].name.data,
                            limits[k].name.len) == 0)
            {
                break;
            }
        }

        if (k == nlimits) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown limit \"%V\" in \"%V\": use "
                               "max_filesize=SIZE, max_scansize=SIZE, "
                               "max_recursion=N, max_files=N or "
                               "max_scantime=TIME",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        v.data = value[i].data + limits[k].name.len;
        v.len = value[i].len - limits[k].name.len;
        field = (u_char *) gmcf + limits[k].off;

        switch (limits[k].kind) {

        case LIMIT_SIZE:
            size = ngx_parse_offset(&v);
            if (size <= 0) {
                goto invalid;
            }

            *(off_t *) field = size;
            continue;

        case LIMIT_N:
            n = ngx_atoi(v.data, v.len);
            if (n <= 0 || n > 100000) {
                goto invalid;
            }

            *(ngx_int_t *) field = n;
            continue;

        default: /* LIMIT_TIME */
            /* milliseconds in libclamav's 32-bit field: up to a day */
            t = ngx_parse_time(&v, 0);
            if (t == NGX_ERROR || t <= 0 || t > 24 * 60 * 60 * 1000) {
                goto invalid;
            }

            *(ngx_msec_t *) field = (ngx_msec_t) t;
            continue;
        }

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
char *
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


/* gatehouse_unsubscribe; gatehouse_download;  signed-link locations. */
char *
ngx_http_gatehouse_set_link(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is not allowed with another content handler";
    }

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);

    if (cmd->name.data[sizeof("gatehouse_") - 1] == 'u') {
        clcf->handler = ngx_http_gatehouse_unsubscribe_handler;
        gmcf->needs_keys |= GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE);

    } else {
        clcf->handler = ngx_http_gatehouse_download_handler;
        gmcf->needs_keys |= GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD);
    }

    return NGX_CONF_OK;
}


/*
 * gatehouse_upload_refused_records N [window=TIME] [total=N];
 *
 * At most N records of uploads that are not kept (refused, aborted, or
 * still under way) per client address (IPv6: per /64) in any WINDOW (1s
 * to 7d), and at most total for all addresses together; 0 keeps none.
 */
char *
ngx_http_gatehouse_set_refused(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_msec_t   ms;
    ngx_uint_t   i;

    if (gmcf->refused_max != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number \"%V\" in \"%V\": use 0 to "
                           "1000000 records per address", &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    gmcf->refused_max = (ngx_uint_t) n;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;

            ms = ngx_parse_time(&v, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms < 1000
                || ms > 7 * 24 * 3600 * 1000)
            {
                goto invalid;
            }

            gmcf->refused_window = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "total=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n == NGX_ERROR || n > 100000000) {
                goto invalid;
            }

            gmcf->refused_total = (ngx_uint_t) n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown parameter \"%V\" in \"%V\": use "
                           "window=TIME or total=N", &value[i], &cmd->name);
        return NGX_CONF_ERROR;

    invalid:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value in \"%V\" of \"%V\" (window: 1s "
                           "to 7d; total: 0 to 100000000)", &value[i],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
