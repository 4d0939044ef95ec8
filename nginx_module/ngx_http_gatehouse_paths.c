/*
 * ngx_http_gatehouse_paths.c - the directives that name files and
 * directories (gatehouse_upload_dir, gatehouse_upload_quarantine,
 * gatehouse_clamav_db, gatehouse_clamav_tmp, gatehouse_store,
 * gatehouse_conf) and the checks made on them while the configuration is
 * read: paths are made absolute against nginx's prefix, directories nginx
 * must create are added to its paths, and the quarantine must be on the
 * upload directory's file system.  While requests run: DIR/.incoming made
 * again when it was removed (ngx_http_gatehouse_incoming_restore).
 */
#include <sys/un.h>

#include "ngx_http_gatehouse_module.h"
#include "gscan.h"


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


/* The directive's PATH into path (once), made a full path. */
static char *
ngx_http_gatehouse_conf_path(ngx_conf_t *cf, ngx_str_t *path)
{
    ngx_str_t  *value;

    if (path->data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *path = value[1];

    return ngx_http_gatehouse_full_path(cf, path);
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


/* The directive's PATH into name, a directory nginx creates at start (its
 * ngx_path_t into *out, when out is not NULL). */
static char *
ngx_http_gatehouse_conf_dir(ngx_conf_t *cf, ngx_str_t *name,
    ngx_path_t **out)
{
    char        *rv;
    ngx_path_t  *path;

    rv = ngx_http_gatehouse_conf_path(cf, name);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    path = ngx_http_gatehouse_add_path(cf, name);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    if (out != NULL) {
        *out = path;
    }

    return NGX_CONF_OK;
}


/* DIR/name, added like ngx_http_gatehouse_add_path(). */
static ngx_path_t *
ngx_http_gatehouse_add_subdir(ngx_conf_t *cf, ngx_str_t *dir,
    const char *name)
{
    u_char     *p;
    size_t      n;
    ngx_str_t   sub;

    n = ngx_strlen(name);

    sub.len = dir->len + 1 + n;
    sub.data = ngx_pnalloc(cf->pool, sub.len + 1);
    if (sub.data == NULL) {
        return NULL;
    }

    p = ngx_cpymem(sub.data, dir->data, dir->len);
    *p++ = '/';
    p = ngx_cpymem(p, name, n);
    *p = '\0';

    return ngx_http_gatehouse_add_path(cf, &sub);
}


/* File information on the directory that holds path. */
static ngx_int_t
ngx_http_gatehouse_parent_info(ngx_str_t *path, ngx_file_info_t *fi)
{
    u_char  buf[NGX_MAX_PATH];
    size_t  n;

    for (n = path->len; n > 1 && path->data[n - 1] != '/'; n--) {
        /* void */
    }

    if (n >= sizeof(buf)) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, path->data, n);
    buf[n] = '\0';

    if (ngx_file_info(buf, fi) == NGX_FILE_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* gatehouse_upload_dir PATH: an existing directory; temp files go to
 * PATH/.incoming (created by nginx at start, owned by the worker user), so
 * the final rename never crosses file systems. */
char *
ngx_http_gatehouse_set_dir(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    char             *rv;
    ngx_file_info_t   fi;

    rv = ngx_http_gatehouse_conf_path(cf, &glcf->dir);
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

    glcf->incoming = ngx_http_gatehouse_add_subdir(cf, &glcf->dir,
                                                   ".incoming");
    if (glcf->incoming == NULL) {
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

    return ngx_http_gatehouse_conf_dir(cf, &glcf->quarantine,
                                       &glcf->quarantine_path);
}


/* Without gatehouse_upload_quarantine: DIR/.quarantine. */
ngx_int_t
ngx_http_gatehouse_default_quarantine(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf)
{
    glcf->quarantine_path = ngx_http_gatehouse_add_subdir(cf, &glcf->dir,
                                                          ".quarantine");
    if (glcf->quarantine_path == NULL) {
        return NGX_ERROR;
    }

    glcf->quarantine = glcf->quarantine_path->name;

    return NGX_OK;
}


/* The device of path, or of its parent when path is yet to be made. */
static ngx_int_t
ngx_http_gatehouse_device(ngx_str_t *path, dev_t *dev)
{
    ngx_file_info_t  fi;

    if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR
        && ngx_http_gatehouse_parent_info(path, &fi) != NGX_OK)
    {
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


/*
 * gatehouse_clamav_db PATH: a signature file or directory that exists; or
 * clamd:SOCKET, the absolute path of clamd's unix socket (scanner/gscan.h,
 * CLAMD), which need not exist yet: clamd may start after nginx, and until
 * it answers, scans follow gatehouse_upload_on_scan_error.
 */
char *
ngx_http_gatehouse_set_clamav_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    char             *rv;
    ngx_str_t        *value;
    ngx_file_info_t   fi;

    value = cf->args->elts;

    if (gmcf->clamav_db.data == NULL
        && value[1].len > sizeof(GSCAN_CLAMD_PREFIX) - 1
        && ngx_strncmp(value[1].data, GSCAN_CLAMD_PREFIX,
                       sizeof(GSCAN_CLAMD_PREFIX) - 1) == 0)
    {
        if (value[1].data[sizeof(GSCAN_CLAMD_PREFIX) - 1] != '/'
            || value[1].len - (sizeof(GSCAN_CLAMD_PREFIX) - 1)
               >= sizeof(((struct sockaddr_un *) 0)->sun_path))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gatehouse_clamav_db \"%V\": clamd: needs "
                               "the absolute path of clamd's socket",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        gmcf->clamav_db.len = value[1].len;
        gmcf->clamav_db.data = ngx_http_gatehouse_pstrdup(cf->pool,
                                                          value[1].data,
                                                          value[1].len);
        return (gmcf->clamav_db.data != NULL) ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    rv = ngx_http_gatehouse_conf_path(cf, &gmcf->clamav_db);
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

    return ngx_http_gatehouse_conf_dir(cf, &gmcf->clamav_tmp, NULL);
}


/* gatehouse_store PATH: the store directory; if it exists it must be a
 * directory, otherwise its parent must exist (the store may create it). */
char *
ngx_http_gatehouse_set_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gatehouse_main_conf_t *gmcf = conf;

    char             *rv;
    ngx_str_t        *value;
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

    if (ngx_http_gatehouse_parent_info(&gmcf->store_path, &fi) != NGX_OK
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

    char  *rv;

    rv = ngx_http_gatehouse_conf_path(cf, &gmcf->conf_file);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_gatehouse_load_conf(cf, gmcf);
}


/*
 * DIR/.incoming is gone while nginx runs (an admin's cleanup, a tmpfs
 * remounted): make it again, as nginx made it at start -- mode 0700,
 * owned by the worker's user (the worker makes it) -- rather than fail
 * every upload until a restart.  mkdirat() relative to DIR never follows
 * a link in the last component, and what is found there afterwards is
 * checked without following one: anything but a directory of the
 * worker's user is refused, with a log line saying what to remove.
 */
ngx_int_t
ngx_http_gatehouse_incoming_restore(ngx_http_gatehouse_loc_conf_t *glcf,
    ngx_log_t *log)
{
    int               dfd;
    ngx_int_t         rc;
    ngx_err_t         err;
    struct stat       st;
    ngx_path_t       *in = glcf->incoming;

    rc = NGX_ERROR;

    dfd = open((char *) glcf->dir.data, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
    if (dfd == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "gatehouse: open() of upload directory \"%V\" "
                      "failed", &glcf->dir);
        return NGX_ERROR;
    }

    if (mkdirat(dfd, ".incoming", 0700) == 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "gatehouse: \"%V\" was missing: made again",
                      &in->name);

    } else if ((err = ngx_errno) != NGX_EEXIST) {
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "gatehouse: \"%V\" is missing and mkdirat() failed",
                      &in->name);
        goto done;
    }

    if (fstatat(dfd, ".incoming", &st, AT_SYMLINK_NOFOLLOW) == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "gatehouse: fstatat() of \"%V\" failed", &in->name);
        goto done;
    }

    if (!S_ISDIR(st.st_mode)) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "gatehouse: \"%V\" is not a directory (%s): uploads "
                      "are refused until it is removed",
                      &in->name, S_ISLNK(st.st_mode) ? "a symbolic link"
                                                      : "another file");
        goto done;
    }

    if (st.st_uid != geteuid()) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "gatehouse: \"%V\" is owned by uid %d, not by the "
                      "worker's user (uid %d): uploads are refused until "
                      "it is removed", &in->name, (int) st.st_uid,
                      (int) geteuid());
        goto done;
    }

    rc = NGX_OK;

done:

    (void) close(dfd);

    return rc;
}
