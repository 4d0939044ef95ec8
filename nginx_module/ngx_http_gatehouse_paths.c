/*
 * ngx_http_gatehouse_paths.c - the directives that name files and
 * directories (gatehouse_upload_dir, gatehouse_upload_quarantine,
 * gatehouse_clamav_db, gatehouse_clamav_tmp, gatehouse_store,
 * gatehouse_conf) and the checks made on them while the configuration is
 * read: paths are made absolute against nginx's prefix, directories nginx
 * must create are added to its paths, and the quarantine must be on the
 * upload directory's file system.
 */
#include "ngx_http_gatehouse_module.h"


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


/* gatehouse_upload_dir PATH: an existing directory; temp files go to
 * PATH/.incoming (created by nginx at start, owned by the worker user), so
 * the final rename never crosses file systems. */
char *
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


/*
 * gatehouse_upload_quarantine PATH: where infected files go, created by
 * nginx at start like DIR/.incoming.  Files are moved there by rename(),
 * so it must be on the upload directory's file system (checked once both
 * are known, in the merge).
 */
char *
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
ngx_int_t
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


ngx_int_t
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


/* gatehouse_clamav_db PATH: a signature file or directory that exists. */
char *
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


/*
 * gatehouse_clamav_tmp PATH: where libclamav makes its per-scan temporary
 * directory (one mkdir and rmdir per scan, plus what archives unpack to);
 * by default $TMPDIR or /tmp.  A tmpfs is cheapest.  Created by nginx at
 * start, owned by the worker user.
 */
char *
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


/* gatehouse_store PATH: the store directory; if it exists it must be a
 * directory, otherwise its parent must exist (the store may create it). */
char *
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


/* gatehouse_conf PATH: gatehouse.conf, read now so that `nginx -t` checks
 * it; the store options (and [nginx] keys) are taken from it. */
char *
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
