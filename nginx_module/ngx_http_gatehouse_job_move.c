/*
 * ngx_http_gatehouse_job_move.c - a job's files into their final place
 * (DIR/CATEGORY/YYYY/MM/DD/NAME.EXT, the day's directory made when
 * missing) with their thumbnails, or into the quarantine; with
 * gatehouse_upload_sync, data and directories synced first so that no
 * record outlives its file in a power loss ("Durability" below).  Called
 * in the thread pool by ngx_http_gatehouse_job_run.c; a file of its own
 * because what must be on disk before a record commits is a concern of
 * its own, and the place to read it whole.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_job.h"


/*
 * Durability (gatehouse_upload_sync on, docs/nginx.md "Durability"): a 201
 * promises that the bytes survive a power loss, so before the record that
 * says "stored" commits, each file's data is synced (fdatasync) and so is
 * the directory that holds its final name (fsync), and, when a day's
 * directory had to be made, each directory above it up to DIR.  All of it
 * runs here, in the thread pool, never on the event loop; while the body
 * arrived, ngx_http_gatehouse_writeback.c already had the pool start
 * writing the file out, so the fdatasync mostly waits for what is left.
 * Measured (make bench-upload-sync) against one syncfs() per group of
 * uploads: no cheaper at 1 KiB nor from 1 MiB, and it
 * writes out every other dirty file of the file system too.  Concurrent
 * fdatasyncs from the pool's threads share ext4's journal commits.
 */


/* fsync/fdatasync of the first len bytes of path: 0 or the errno. */
static ngx_err_t
ngx_http_gatehouse_sync_path(const u_char *path, size_t len, ngx_uint_t dir)
{
    int        fd, rc;
    char       name[NGX_MAX_PATH];
    ngx_err_t  err;

    while (len > 1 && path[len - 1] == '/') {
        len--;
    }

    if (len == 0 || len >= sizeof(name)) {
        return NGX_ENAMETOOLONG;
    }

    ngx_memcpy(name, path, len);
    name[len] = '\0';

    /* a file is ours and never a link; a directory may be: DIR and the
     * quarantine are the admin's and may be symbolic links (the path
     * checks follow them), and syncing the directory a link leads to is
     * what makes an entry there durable */
    fd = open(name, O_RDONLY | O_CLOEXEC
                    | (dir ? O_DIRECTORY : O_NOFOLLOW));
    if (fd == -1) {
        return ngx_errno;
    }

    /* a file's name is its directory's business: its data and size are
     * all fdatasync must write; a directory's entries need fsync */
    rc = dir ? fsync(fd) : fdatasync(fd);
    err = (rc == -1) ? ngx_errno : 0;

    (void) close(fd);

    return err;
}


/* The thumbnail beside its file, once the file is in place; with sync,
 * its data first (the directory both names are in is synced after, by
 * ngx_http_gatehouse_job_sync_dirs). */
static ngx_int_t
ngx_http_gatehouse_job_move_thumb(ngx_http_gatehouse_jfile_t *jf,
    ngx_uint_t sync)
{
    ngx_err_t  err;

    if (!jf->img.thumb) {
        return NGX_OK;
    }

    if (sync) {
        err = ngx_http_gatehouse_sync_path(jf->img.thumb_temp,
                                           ngx_strlen(jf->img.thumb_temp), 0);
        if (err != 0) {
            jf->err = err;
            jf->err_op = "fdatasync";
            return NGX_ERROR;
        }
    }

    if (rename((char *) jf->img.thumb_temp, (char *) jf->thumb_dest) == -1) {
        jf->err = ngx_errno;
        jf->err_op = "rename";
        return NGX_ERROR;
    }

    jf->thumb_moved = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gatehouse_job_fail(ngx_http_gatehouse_jfile_t *jf, ngx_err_t err,
    const char *op, u_char *path)
{
    jf->err = err;
    jf->err_op = op;
    jf->err_path = path;

    return NGX_ERROR;
}


/*
 * DIR/CATEGORY/YYYY/MM/DD/ made below DIR, one level at a time; with sync,
 * the parent of each level is synced after its mkdir, whether this thread
 * made it or another one a moment ago (EEXIST does not say that its entry
 * is on disk yet).  This runs once a day per category, and then only when
 * the rename found no directory.
 */
static ngx_int_t
ngx_http_gatehouse_job_mkdir(ngx_http_gatehouse_jfile_t *jf, ngx_uint_t sync)
{
    u_char     *p, *parent, *dir = jf->dir;
    ngx_err_t   err;

    parent = dir + jf->url_off;        /* the slash after DIR */

    for (p = parent + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';
        err = (mkdir((char *) dir, 0750) == -1) ? ngx_errno : 0;
        *p = '/';

        if (err != 0 && err != NGX_EEXIST) {
            return ngx_http_gatehouse_job_fail(jf, err, "mkdir", dir);
        }

        if (sync) {
            err = ngx_http_gatehouse_sync_path(dir, parent - dir, 1);
            if (err != 0) {
                return ngx_http_gatehouse_job_fail(jf, err, "fsync", dir);
            }
        }

        parent = p;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_gatehouse_job_move(ngx_http_gatehouse_jfile_t *jf, ngx_uint_t sync)
{
    ngx_err_t  err;

    /* the data first, while the file still has its temporary name: a
     * failure leaves nothing under DIR */
    if (sync) {
        err = ngx_http_gatehouse_sync_path(jf->temp, ngx_strlen(jf->temp), 0);
        if (err != 0) {
            return ngx_http_gatehouse_job_fail(jf, err, "fdatasync", NULL);
        }
    }

    /* the day's directory usually exists: make it only when missing */
    if (rename((char *) jf->temp, (char *) jf->dest) == 0) {
        jf->moved = 1;
        return ngx_http_gatehouse_job_move_thumb(jf, sync);
    }

    if (ngx_errno != NGX_ENOENT) {
        return ngx_http_gatehouse_job_fail(jf, ngx_errno, "rename", NULL);
    }

    if (ngx_http_gatehouse_job_mkdir(jf, sync) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rename((char *) jf->temp, (char *) jf->dest) == -1) {
        return ngx_http_gatehouse_job_fail(jf, ngx_errno, "rename", NULL);
    }

    jf->moved = 1;

    return ngx_http_gatehouse_job_move_thumb(jf, sync);
}


/*
 * With sync, the directories of the files moved, each once (a request's
 * files mostly share a day's directory): until then a crash may lose the
 * new names though the data is on disk.  -1, or the index of the file
 * whose directory could not be synced.
 */
ngx_int_t
ngx_http_gatehouse_job_sync_dirs(ngx_http_gatehouse_job_t *job)
{
    ngx_err_t                    err;
    ngx_uint_t                   i, j;
    ngx_http_gatehouse_jfile_t  *jf;

    for (i = 0; i < job->nfiles; i++) {
        jf = &job->files[i];

        if (!jf->moved) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (job->files[j].moved
                && ngx_strcmp(job->files[j].dir, jf->dir) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        err = ngx_http_gatehouse_sync_path(jf->dir, ngx_strlen(jf->dir), 1);
        if (err != 0) {
            (void) ngx_http_gatehouse_job_fail(jf, err, "fsync", jf->dir);
            return i;
        }
    }

    return -1;
}


void
ngx_http_gatehouse_job_quarantine(ngx_http_gatehouse_jfile_t *jf,
    ngx_uint_t sync)
{
    u_char     *slash;
    ngx_err_t   err;

    /* never served, never readable by anyone but the worker's user */
    if (chmod((char *) jf->temp, 0600) == -1) {
        (void) ngx_http_gatehouse_job_fail(jf, ngx_errno, "quarantine", NULL);
        return;
    }

    /* a record that says "quarantined" names a file that exists */
    if (sync) {
        err = ngx_http_gatehouse_sync_path(jf->temp, ngx_strlen(jf->temp), 0);
        if (err != 0) {
            (void) ngx_http_gatehouse_job_fail(jf, err, "fdatasync", NULL);
            return;
        }
    }

    if (rename((char *) jf->temp, (char *) jf->qdest) == -1) {
        (void) ngx_http_gatehouse_job_fail(jf, ngx_errno, "quarantine", NULL);
        return;
    }

    if (sync) {
        slash = (u_char *) strrchr((char *) jf->qdest, '/');
        err = ngx_http_gatehouse_sync_path(jf->qdest, slash - jf->qdest, 1);

        if (err != 0) {
            (void) ngx_http_gatehouse_job_fail(jf, err, "fsync", jf->qdest);

            /* not kept: the temp name is gone, so the file goes too */
            (void) unlink((char *) jf->qdest);
            return;
        }
    }

    jf->quarantined = 1;
}
