/*
 * ngx_http_gatehouse_image.c - accepted images made safe to publish, in
 * the thread pool, before the upload is moved into place or answered:
 *
 *   1. the dimensions are read from the header by imagehdr.c and a file
 *      claiming more than gatehouse_image_max_pixels is refused (413
 *      image_too_large) before libgd allocates anything; a truncated or
 *      corrupt container is refused (422 bad_image);
 *   2. the decode's memory is taken from the worker's budget
 *      (gatehouse_image_memory, imgbudget.c): an image needing more than
 *      the whole budget is 413 image_too_large, one that finds no room
 *      within NGX_HTTP_GATEHOUSE_IMAGE_WAIT is 503 busy; then it is
 *      decoded: a JPEG by libjpeg-turbo straight into libgd's rows
 *      (parse/imgjpeg.c; a CMYK one by libgd), the rest by libgd (a
 *      decoder error, or libjpeg's "recoverable" warnings about damaged
 *      data, is bad_image too);
 *   3. the EXIF orientation of a JPEG (libexif) is applied to the pixels,
 *      so the picture stays upright once its EXIF is gone (while
 *      decoding, by imgjpeg.c; here for a CMYK one);
 *   4. with gatehouse_image_strip on, the image is encoded again (a JPEG
 *      by imgjpeg.c from libgd's rows, the rest by libgd), which
 *      leaves behind EXIF (GPS), XMP, IPTC, comments and ICC profiles,
 *      and the new bytes replace the temp file (write-temp-then-rename);
 *      an animated GIF is not decoded frame by frame (libgd reads only
 *      the first) but copied block by block without its comment and
 *      application extensions (imagehdr.c);
 *   5. with gatehouse_thumbnail, a thumbnail that fits the box is written
 *      beside it; the job moves it with the file (NAME.thumb.EXT).
 *
 * Why in the worker's thread pool and not a helper process: the decoders
 * reached are libjpeg-turbo, libpng, libwebp and libgd's own GIF reader
 * (not the 50-odd formats of a general image library), only for files
 * libmagic and the header parser both call JPEG, PNG, GIF or WebP, after
 * the virus scan, with the pixel count bounded first.  docs/security.md
 * says more.
 *
 * libgd reports errors through one process-wide callback: it is set once
 * per worker and writes into a thread-local buffer, so a pool thread
 * reads only its own decode's messages.
 */
#include <inttypes.h>
#include <malloc.h>
#include <sys/mman.h>

#include <gd.h>
#include <gd_errors.h>
#include <libexif/exif-data.h>

#include "ngx_http_gatehouse_module.h"
#include "parse/imagehdr.h"
#include "parse/imgbudget.h"
#include "parse/imgjpeg.h"


/* Quality of the re-encoded JPEG and WebP (the thumbnail's is its own):
 * high enough that a second generation is not visibly worse. */
#define NGX_HTTP_GATEHOUSE_IMAGE_QUALITY   90
#define NGX_HTTP_GATEHOUSE_THUMB_QUALITY   80
#define NGX_HTTP_GATEHOUSE_THUMB_MAX       8192
#define NGX_HTTP_GATEHOUSE_TILE            64
/* the thumbnail's box-reduce sums two channels in 32 bits up to k x k
 * blocks of this k (16 * 16 * 255 < 65536) */
#define NGX_HTTP_GATEHOUSE_PACKED_K        16
/* images of at least this many pixels give their freed memory back to
 * the system at once (libgd allocates one block per row) */
#define NGX_HTTP_GATEHOUSE_TRIM_PIXELS     (4 * 1000 * 1000)
/* how long a decode waits for room in the budget before 503 busy: long
 * enough for another photo's decode to end, short enough that a pool
 * thread is not held for long (ms) */
#define NGX_HTTP_GATEHOUSE_IMAGE_WAIT      5000


/* the worker's decodes in flight, shared by its pool threads */
static ngx_http_gatehouse_budget_t  ngx_http_gatehouse_image_budget;


static _Thread_local struct {
    unsigned  count;
    char      msg[120];
} ngx_http_gatehouse_gd_err;


static void ngx_http_gatehouse_gd_error(int priority, const char *fmt,
    va_list ap) __attribute__((format(printf, 2, 0)));


static void
ngx_http_gatehouse_gd_error(int priority, const char *fmt, va_list ap)
{
    size_t  n;
    char   *m = ngx_http_gatehouse_gd_err.msg;

    /* notices and debugging output are not about the file */
    if (priority > GD_WARNING) {
        return;
    }

    if (ngx_http_gatehouse_gd_err.count++ == 0) {
        (void) vsnprintf(m, sizeof(ngx_http_gatehouse_gd_err.msg), fmt, ap);

        n = strlen(m);
        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) {
            m[--n] = '\0';
        }
    }
}


ngx_int_t
ngx_http_gatehouse_image_init(void)
{
    gdSetErrorMethod(ngx_http_gatehouse_gd_error);

    if (ngx_http_gatehouse_image_budget.ready) {
        return NGX_OK;
    }

    return ngx_http_gatehouse_budget_init(&ngx_http_gatehouse_image_budget)
           == 0 ? NGX_OK : NGX_ERROR;
}


/* gatehouse_thumbnail off | WIDTHxHEIGHT [quality=N] */
char *
ngx_http_gatehouse_set_thumbnail(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    u_char     *x;
    ngx_int_t   w, h, q;
    ngx_str_t  *value = cf->args->elts;

    if (glcf->thumb_width != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        glcf->thumb_width = 0;
        glcf->thumb_height = 0;
        glcf->thumb_quality = 0;
        return NGX_CONF_OK;
    }

    x = ngx_strlchr(value[1].data, value[1].data + value[1].len, 'x');
    if (x == NULL) {
        goto invalid;
    }

    w = ngx_atoi(value[1].data, x - value[1].data);
    h = ngx_atoi(x + 1, value[1].data + value[1].len - x - 1);
    if (w < 1 || h < 1 || w > NGX_HTTP_GATEHOUSE_THUMB_MAX
        || h > NGX_HTTP_GATEHOUSE_THUMB_MAX)
    {
        goto invalid;
    }

    q = NGX_HTTP_GATEHOUSE_THUMB_QUALITY;

    if (cf->args->nelts == 3) {
        if (value[2].len <= sizeof("quality=") - 1
            || ngx_strncmp(value[2].data, "quality=", sizeof("quality=") - 1)
               != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of \"%V\", "
                               "expected quality=1..100", &value[2],
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        q = ngx_atoi(value[2].data + sizeof("quality=") - 1,
                     value[2].len - (sizeof("quality=") - 1));
        if (q < 1 || q > 100) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid quality \"%V\" of \"%V\", "
                               "expected 1..100", &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    glcf->thumb_width = w;
    glcf->thumb_height = h;
    glcf->thumb_quality = q;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid size \"%V\" of \"%V\", expected off or "
                       "WIDTHxHEIGHT, each 1..%d", &value[1], &cmd->name,
                       NGX_HTTP_GATEHOUSE_THUMB_MAX);
    return NGX_CONF_ERROR;
}


/* The thumbnail's extension for a detected type; NULL: not an image the
 * step handles.  JPEG stays JPEG and WebP WebP; PNG and GIF give PNG
 * (a GIF thumbnail would lose the resampled colours to 256). */
const char *
ngx_http_gatehouse_image_ext(const u_char *mime)
{
    if (ngx_strcmp(mime, "image/jpeg") == 0) {
        return "jpg";
    }

    if (ngx_strcmp(mime, "image/png") == 0
        || ngx_strcmp(mime, "image/gif") == 0)
    {
        return "png";
    }

    if (ngx_strcmp(mime, "image/webp") == 0) {
        return "webp";
    }

    return NULL;
}


ngx_int_t
ngx_http_gatehouse_image_wanted(ngx_http_gatehouse_loc_conf_t *glcf,
    const u_char *mime)
{
    return ngx_http_gatehouse_image_ext(mime) != NULL
           && (glcf->image_strip || glcf->thumb_width != 0);
}


/* ---- in a thread of the pool ---- */


static void
ngx_http_gatehouse_image_refuse(ngx_http_gatehouse_image_t *img,
    ngx_int_t status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));


static void
ngx_http_gatehouse_image_refuse(ngx_http_gatehouse_image_t *img,
    ngx_int_t status, const char *code, const char *fmt, ...)
{
    va_list  ap;

    img->status = status;
    img->code = code;

    va_start(ap, fmt);
    (void) vsnprintf(img->message, sizeof(img->message), fmt, ap);
    va_end(ap);
}


/* A write or read of ours failed: a full disk is said so. */
static void
ngx_http_gatehouse_image_io(ngx_http_gatehouse_image_t *img, const char *op,
    ngx_err_t err)
{
    img->err = err;
    img->err_op = op;
    img->status = ngx_http_gatehouse_is_nospace(err)
                  ? NGX_HTTP_GATEHOUSE_INSUFFICIENT_STORAGE
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
    img->code = ngx_http_gatehouse_is_nospace(err) ? "insufficient_storage"
                                                   : "store_failed";
}


/*
 * The upload, mapped read-only: the decoders read it in place, and its
 * pages are the page cache's, not the worker's private memory (a 10 MB
 * upload does not grow the worker by 10 MB).  libgd's *Ptr readers only
 * read from the buffer they are given.
 */
static u_char *
ngx_http_gatehouse_image_map(ngx_http_gatehouse_image_t *img, size_t *len)
{
    int          fd;
    void        *p;
    struct stat  st;

    fd = open((char *) img->temp, O_RDONLY|O_NOFOLLOW|O_CLOEXEC);
    if (fd == -1) {
        ngx_http_gatehouse_image_io(img, "open", ngx_errno);
        return NULL;
    }

    if (fstat(fd, &st) == -1) {
        ngx_http_gatehouse_image_io(img, "fstat", ngx_errno);
        close(fd);
        return NULL;
    }

    /* libgd takes an int size */
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > 0x7FFFFFFF) {
        ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                        "the image is empty or larger "
                                        "than 2 GB");
        close(fd);
        return NULL;
    }

    p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);

    if (p == MAP_FAILED) {
        ngx_http_gatehouse_image_io(img, "mmap", ngx_errno);
        return NULL;
    }

    *len = (size_t) st.st_size;

    return p;
}


/* Write len bytes to a new file at path: 0640 like the upload's temp
 * file, never through a link, removed again if anything fails. */
static ngx_int_t
ngx_http_gatehouse_image_write(ngx_http_gatehouse_image_t *img,
    const u_char *path, const void *buf, size_t len)
{
    int         fd;
    ssize_t     n;
    size_t      done;
    ngx_err_t   err;

    fd = open((char *) path, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC,
              0640);
    if (fd == -1) {
        ngx_http_gatehouse_image_io(img, "open", ngx_errno);
        return NGX_ERROR;
    }

    for (done = 0; done < len; done += n) {
        n = write(fd, (const u_char *) buf + done, len - done);
        if (n <= 0) {
            err = (n == 0) ? EIO : ngx_errno;
            goto failed;
        }
    }

    if (close(fd) == -1) {
        err = ngx_errno;
        fd = -1;
        goto failed;
    }

    return NGX_OK;

failed:

    if (fd != -1) {
        close(fd);
    }

    (void) unlink((char *) path);
    ngx_http_gatehouse_image_io(img, "write", err);

    return NGX_ERROR;
}


/* The EXIF orientation (1..8) of a JPEG, or 0. */
static int
ngx_http_gatehouse_image_orientation(const u_char *data, size_t len)
{
    int         o = 0;
    ExifData   *ed;
    ExifEntry  *e;

    ed = exif_data_new_from_data(data, (unsigned int) len);
    if (ed == NULL) {
        return 0;
    }

    e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (e != NULL && e->format == EXIF_FORMAT_SHORT && e->components >= 1
        && e->size >= 2)
    {
        o = exif_get_short(e->data, exif_data_get_byte_order(ed));
        if (o < 1 || o > 8) {
            o = 0;
        }
    }

    exif_data_unref(ed);

    return o;
}


/*
 * The pixels turned upright for orientation o (TIFF/EXIF: 1 upright,
 * 2 mirrored, 3 upside down, 4 flipped, 5 transposed, 6 turned 90 degrees
 * counter-clockwise so it needs 90 clockwise, 7 transverse, 8 the other
 * way).  Returns the image to use (im, or a new one with im destroyed),
 * NULL if memory ran out (im destroyed too).
 */
static gdImagePtr
ngx_http_gatehouse_image_orient(gdImagePtr im, int o)
{
    int         x, y, bx, by, sx, sy, w, h;
    gdImagePtr  out;

    switch (o) {
    case 2:
        gdImageFlipHorizontal(im);
        return im;
    case 3:
        gdImageFlipBoth(im);
        return im;
    case 4:
        gdImageFlipVertical(im);
        return im;
    case 5:
    case 6:
    case 7:
    case 8:
        break;
    default:
        return im;
    }

    if (!gdImageTrueColor(im) && !gdImagePaletteToTrueColor(im)) {
        gdImageDestroy(im);
        return NULL;
    }

    w = gdImageSX(im);
    h = gdImageSY(im);

    out = gdImageCreateTrueColor(h, w);
    if (out == NULL) {
        gdImageDestroy(im);
        return NULL;
    }

    /* in tiles, so that neither the reads nor the writes stride through
     * a whole 48 MB image at every step (three times faster on 12 MP) */
    for (by = 0; by < w; by += NGX_HTTP_GATEHOUSE_TILE) {
    for (bx = 0; bx < h; bx += NGX_HTTP_GATEHOUSE_TILE) {
    for (y = by; y < w && y < by + NGX_HTTP_GATEHOUSE_TILE; y++) {
        for (x = bx; x < h && x < bx + NGX_HTTP_GATEHOUSE_TILE; x++) {
            switch (o) {
            case 5:
                sx = y;
                sy = x;
                break;
            case 6:
                sx = y;
                sy = h - 1 - x;
                break;
            case 7:
                sx = w - 1 - y;
                sy = h - 1 - x;
                break;
            default:
                sx = w - 1 - y;
                sy = x;
                break;
            }

            out->tpixels[y][x] = im->tpixels[sy][sx];
        }
    }
    }
    }

    gdImageDestroy(im);

    return out;
}


/* libgd's decoders; a JPEG goes to gw_img_jpeg_decode first, and comes
 * here only when CMYK (libgd converts it) */
static gdImagePtr
ngx_http_gatehouse_image_decode(enum gw_img_format f, u_char *data,
    size_t len)
{
    switch (f) {
    case GH_IMG_JPEG:
        /* warnings are kept: they mean damaged data (below) */
        return gdImageCreateFromJpegPtrEx((int) len, data, 0);
    case GH_IMG_PNG:
        return gdImageCreateFromPngPtr((int) len, data);
    case GH_IMG_GIF:
        return gdImageCreateFromGifPtr((int) len, data);
    case GH_IMG_WEBP:
        return gdImageCreateFromWebpPtr((int) len, data);
    default:
        return NULL;
    }
}


/* The image in format f; freed with ngx_http_gatehouse_image_free(f). */
static void *
ngx_http_gatehouse_image_encode(enum gw_img_format f, gdImagePtr im,
    int quality, int *size)
{
    u_char  *out;
    size_t   n = 0;
    char     err[1];

    switch (f) {
    case GH_IMG_JPEG:
        /* libjpeg-turbo straight from libgd's rows (imgjpeg.c): libgd's
         * writer's settings, without its "CREATOR: gd-jpeg" comment */
        out = gw_img_jpeg_encode(im, quality, &n, err, 0);
        if (out == NULL || n > 0x7FFFFFFF) {
            free(out);
            return NULL;
        }
        *size = (int) n;
        return out;
    case GH_IMG_PNG:
        return gdImagePngPtr(im, size);
    case GH_IMG_GIF:
        return gdImageGifPtr(im, size);
    case GH_IMG_WEBP:
        return gdImageWebpPtrEx(im, size, quality);
    default:
        return NULL;
    }
}


static void
ngx_http_gatehouse_image_free(enum gw_img_format f, void *out)
{
    if (f == GH_IMG_JPEG) {
        free(out);

    } else {
        gdFree(out);
    }
}


static void
ngx_http_gatehouse_image_sha256(ngx_http_gatehouse_image_t *img,
    const void *buf, size_t len)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen = 0;

    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1
        || mdlen != 32)
    {
        img->sha256[0] = '\0';
        return;
    }

    *ngx_hex_dump(img->sha256, md, 32) = '\0';
}


/* The stripped image in place of the upload's temp file. */
static ngx_int_t
ngx_http_gatehouse_image_replace(ngx_http_gatehouse_image_t *img,
    const void *buf, size_t len)
{
    if (ngx_http_gatehouse_image_write(img, img->img_temp, buf, len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rename((char *) img->img_temp, (char *) img->temp) == -1) {
        ngx_http_gatehouse_image_io(img, "rename", ngx_errno);
        (void) unlink((char *) img->img_temp);
        return NGX_ERROR;
    }

    img->rewritten = 1;
    img->size = (off_t) len;
    ngx_http_gatehouse_image_sha256(img, buf, len);

    return NGX_OK;
}


/*
 * im shrunk k times each way by averaging k x k blocks (alpha too): a
 * cheap first step for a thumbnail, so that libgd's resampling, which
 * costs a lot per source pixel, works on an image about twice the
 * thumbnail's size rather than on the whole photo (Pillow's
 * reducing_gap does the same).  NULL if memory ran out.
 */
static gdImagePtr
ngx_http_gatehouse_image_reduce(gdImagePtr im, int k)
{
    int          x, y, dx, dy, w, h, p, kk;
    uint32_t    *sum;
    gdImagePtr   out;

    w = gdImageSX(im) / k;
    h = gdImageSY(im) / k;
    kk = k * k;

    out = gdImageCreateTrueColor(w, h);
    sum = malloc((size_t) w * 4 * sizeof(uint32_t));
    if (out == NULL || sum == NULL) {
        if (out != NULL) {
            gdImageDestroy(out);
        }
        free(sum);
        return NULL;
    }

    for (y = 0; y < h && k <= NGX_HTTP_GATEHOUSE_PACKED_K; y++) {
        /* two channels a 32-bit sum, 16 bits each (red and blue, alpha
         * and green): k * k * 255 stays below 65536 up to k = 16, and
         * the sums stay in registers for a block's row (three times
         * faster than a sum a channel in memory) */
        ngx_memzero(sum, (size_t) w * 2 * sizeof(uint32_t));

        for (dy = 0; dy < k; dy++) {
            const uint32_t  *row = (const uint32_t *) im->tpixels[y * k + dy];

            for (x = 0; x < w; x++) {
                uint32_t  rb = 0, ag = 0;

                for (dx = 0; dx < k; dx++) {
                    rb += row[x * k + dx] & 0x00FF00FF;
                    ag += (row[x * k + dx] >> 8) & 0x00FF00FF;
                }

                sum[x * 2] += rb;
                sum[x * 2 + 1] += ag;
            }
        }

        for (x = 0; x < w; x++) {
            out->tpixels[y][x] = gdTrueColorAlpha((sum[x * 2] >> 16) / kk,
                                                  (sum[x * 2 + 1] & 0xFFFF)
                                                  / kk,
                                                  (sum[x * 2] & 0xFFFF) / kk,
                                                  (sum[x * 2 + 1] >> 16)
                                                  / kk);
        }
    }

    for (y = 0; y < h && k > NGX_HTTP_GATEHOUSE_PACKED_K; y++) {
        ngx_memzero(sum, (size_t) w * 4 * sizeof(uint32_t));

        for (dy = 0; dy < k; dy++) {
            int  *row = im->tpixels[y * k + dy];

            for (x = 0; x < w; x++) {
                for (dx = 0; dx < k; dx++) {
                    p = row[x * k + dx];
                    sum[x * 4] += gdTrueColorGetRed(p);
                    sum[x * 4 + 1] += gdTrueColorGetGreen(p);
                    sum[x * 4 + 2] += gdTrueColorGetBlue(p);
                    sum[x * 4 + 3] += gdTrueColorGetAlpha(p);
                }
            }
        }

        for (x = 0; x < w; x++) {
            out->tpixels[y][x] = gdTrueColorAlpha(sum[x * 4] / kk,
                                                  sum[x * 4 + 1] / kk,
                                                  sum[x * 4 + 2] / kk,
                                                  sum[x * 4 + 3] / kk);
        }
    }

    free(sum);

    return out;
}


static ngx_int_t
ngx_http_gatehouse_image_thumb(ngx_http_gatehouse_image_t *img,
    gdImagePtr im, enum gw_img_format f)
{
    int         size = 0, k;
    void       *out;
    uint64_t    w, h, bw, bh, tw, th;
    ngx_int_t   rc;
    gdImagePtr  t, small = NULL;

    w = (uint64_t) gdImageSX(im);
    h = (uint64_t) gdImageSY(im);
    bw = img->thumb_width;
    bh = img->thumb_height;

    /* fit inside the box, keep the aspect, never enlarge */
    if (w <= bw && h <= bh) {
        tw = w;
        th = h;

    } else if (w * bh > h * bw) {
        tw = bw;
        th = (h * bw + w / 2) / w;

    } else {
        th = bh;
        tw = (w * bh + h / 2) / h;
    }

    tw = tw ? tw : 1;
    th = th ? th : 1;

    /* box-reduce first while the image is four or more times as large
     * as the thumbnail each way; the resampling below does the rest */
    k = (int) ngx_min(w / tw, h / th) / 2;

    if (k >= 2) {
        if (!gdImageTrueColor(im) && !gdImagePaletteToTrueColor(im)) {
            ngx_http_gatehouse_image_io(img, "thumbnail", ENOMEM);
            return NGX_ERROR;
        }

        small = ngx_http_gatehouse_image_reduce(im, k);
        if (small == NULL) {
            ngx_http_gatehouse_image_io(img, "thumbnail", ENOMEM);
            return NGX_ERROR;
        }

        im = small;
        w = (uint64_t) gdImageSX(im);
        h = (uint64_t) gdImageSY(im);
    }

    t = gdImageCreateTrueColor((int) tw, (int) th);
    if (t == NULL) {
        if (small != NULL) {
            gdImageDestroy(small);
        }
        ngx_http_gatehouse_image_io(img, "thumbnail", ENOMEM);
        return NGX_ERROR;
    }

    gdImageAlphaBlending(t, 0);
    gdImageSaveAlpha(t, 1);
    gdImageCopyResampled(t, im, 0, 0, 0, 0, (int) tw, (int) th, (int) w,
                         (int) h);

    if (small != NULL) {
        gdImageDestroy(small);
    }

    if (f == GH_IMG_GIF) {
        f = GH_IMG_PNG;
    }

    out = ngx_http_gatehouse_image_encode(f, t, (int) img->thumb_quality,
                                          &size);
    gdImageDestroy(t);

    if (out == NULL || size <= 0) {
        ngx_http_gatehouse_image_free(f, out);
        ngx_http_gatehouse_image_io(img, "thumbnail", ENOMEM);
        return NGX_ERROR;
    }

    rc = ngx_http_gatehouse_image_write(img, img->thumb_temp, out,
                                        (size_t) size);
    ngx_http_gatehouse_image_free(f, out);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    img->thumb = 1;
    img->thumb_w = (uint32_t) tw;
    img->thumb_h = (uint32_t) th;
    img->thumb_size = size;

    return NGX_OK;
}


void
ngx_http_gatehouse_image_run(ngx_http_gatehouse_image_t *img)
{
    int                  size = 0;
    void                *out = NULL;
    size_t               len = 0, n;
    u_char              *data, *gif = NULL;
    uint64_t             cost = 0, work = 0;
    gdImagePtr           im = NULL;
    ngx_http_gatehouse_budget_rc_e  brc;
    struct gw_img_info   info;
    enum gw_img_result   hr;
    /* GW_JPEG_CMYK, "libgd decodes it", unless imgjpeg.c did */
    enum gw_img_jpeg_rc  jrc = GW_JPEG_CMYK;
    char                 jerr[GW_JPEG_ERRLEN];

    img->done = 1;

    data = ngx_http_gatehouse_image_map(img, &len);
    if (data == NULL) {
        return;
    }

    hr = gw_img_probe(data, len, &info);

    img->format = gw_img_format_name(info.format);
    img->pixels = info.pixels;
    img->frames = info.frames;

    /* a bomb is a bomb even when the rest of the file is missing */
    if (info.pixels > img->max_pixels) {
        ngx_http_gatehouse_image_refuse(img, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "image_too_large",
                                        "the image claims %" PRIu64
                                        " pixels (%" PRIu32 "x%" PRIu32
                                        "), more than the limit of %" PRIu64,
                                        info.pixels, info.width, info.height,
                                        (uint64_t) img->max_pixels);
        goto cleanup;
    }

    if (hr != GH_IMG_OK) {
        ngx_http_gatehouse_image_refuse(img, 422, "bad_image", "%s",
                                        gw_img_result_text(hr));
        goto cleanup;
    }

    if (info.format == GH_IMG_WEBP && info.animated) {
        ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                        "animated WebP images are not "
                                        "accepted");
        goto cleanup;
    }

    /* read before the decode: a turned JPEG costs a second image, and a
     * multi-scan one libjpeg's buffer of coefficients (imgjpeg.h) */
    if (info.format == GH_IMG_JPEG) {
        img->orientation = ngx_http_gatehouse_image_orientation(data, len);

        if (gw_img_jpeg_probe(data, len, &work, jerr, sizeof(jerr))
            != GW_JPEG_OK)
        {
            ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                            "the image could not be "
                                            "decoded: %s", jerr);
            goto cleanup;
        }
    }

    cost = ngx_http_gatehouse_budget_cost(info.pixels,
                                          info.format == GH_IMG_JPEG,
                                          img->orientation,
                                          img->thumb_width,
                                          img->thumb_height)
           + work;
    img->cost = cost;

    brc = ngx_http_gatehouse_budget_take(&ngx_http_gatehouse_image_budget,
                                         cost, img->memory,
                                         NGX_HTTP_GATEHOUSE_IMAGE_WAIT);
    if (brc != NGX_HTTP_GATEHOUSE_BUDGET_OK) {
        if (brc == NGX_HTTP_GATEHOUSE_BUDGET_TOO_BIG) {
            ngx_http_gatehouse_image_refuse(
                img, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "image_too_large",
                "decoding the image (%" PRIu32 "x%" PRIu32 ") needs about "
                "%" PRIu64 " bytes, more than gatehouse_image_memory "
                "(%" PRIu64 " bytes) allows at once; "
                "gatehouse_image_max_pixels is %" PRIu64,
                info.width, info.height, cost, (uint64_t) img->memory,
                (uint64_t) img->max_pixels);

        } else {
            ngx_http_gatehouse_image_refuse(
                img, NGX_HTTP_SERVICE_UNAVAILABLE, "busy",
                "other images fill gatehouse_image_memory (%" PRIu64
                " bytes); this one needs about %" PRIu64,
                (uint64_t) img->memory, cost);
        }

        cost = 0;
        goto cleanup;
    }

    if (info.format == GH_IMG_JPEG) {
        /* decoded and turned upright at once, into libgd's rows */
        jrc = gw_img_jpeg_decode(data, len, img->orientation,
                                 img->max_pixels, &im, jerr, sizeof(jerr));

        switch (jrc) {
        case GW_JPEG_OK:
        case GW_JPEG_CMYK:
            break;

        case GW_JPEG_NOMEM:
            ngx_http_gatehouse_image_io(img, "decode", ENOMEM);
            goto cleanup;

        case GW_JPEG_TOO_LARGE:
            /* the header parser read the same frame header: not seen */
            ngx_http_gatehouse_image_refuse(img,
                                            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                            "image_too_large",
                                            "the image's frame is larger "
                                            "than the limit of %" PRIu64
                                            " pixels",
                                            (uint64_t) img->max_pixels);
            goto cleanup;

        default:
            ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                            "the image could not be "
                                            "decoded: %s", jerr);
            goto cleanup;
        }
    }

    ngx_http_gatehouse_gd_err.count = 0;
    ngx_http_gatehouse_gd_err.msg[0] = '\0';

    if (jrc == GW_JPEG_CMYK) {
        im = ngx_http_gatehouse_image_decode(info.format, data, len);
    }

    if (im == NULL
        || (info.format == GH_IMG_JPEG && ngx_http_gatehouse_gd_err.count))
    {
        ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                        "the image could not be decoded%s%s",
                                        ngx_http_gatehouse_gd_err.count
                                        ? ": " : "",
                                        ngx_http_gatehouse_gd_err.msg);
        goto cleanup;
    }

    if (info.format == GH_IMG_JPEG && jrc == GW_JPEG_CMYK) {
        /* frees the decoded image as soon as the turned copy is made */
        im = ngx_http_gatehouse_image_orient(im, img->orientation);
        if (im == NULL) {
            ngx_http_gatehouse_image_io(img, "rotate", ENOMEM);
            goto cleanup;
        }
    }

    img->width = (uint32_t) gdImageSX(im);
    img->height = (uint32_t) gdImageSY(im);

    /* libgd saves an alpha channel only when asked: ask when the file
     * had one, so an RGB PNG stays RGB and a clear pixel stays clear */
    if (info.alpha) {
        gdImageSaveAlpha(im, 1);
    }

    if (img->strip) {
        if (info.format == GH_IMG_GIF && info.animated) {
            gif = malloc(len);
            if (gif == NULL) {
                ngx_http_gatehouse_image_io(img, "malloc", ENOMEM);
                goto cleanup;
            }

            n = gw_img_gif_strip(data, len, gif);
            if (n == 0) {
                ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                                "the GIF's blocks could not "
                                                "be copied");
                goto cleanup;
            }

            /* the frames as they are: the header's screen size */
            img->width = info.width;
            img->height = info.height;

            if (ngx_http_gatehouse_image_replace(img, gif, n) != NGX_OK) {
                goto cleanup;
            }

        } else {
            out = ngx_http_gatehouse_image_encode(
                      info.format, im, NGX_HTTP_GATEHOUSE_IMAGE_QUALITY,
                      &size);
            if (out == NULL || size <= 0) {
                ngx_http_gatehouse_image_refuse(img, 422, "bad_image",
                                                "the image could not be "
                                                "encoded again");
                goto cleanup;
            }

            if (ngx_http_gatehouse_image_replace(img, out, (size_t) size)
                != NGX_OK)
            {
                goto cleanup;
            }

            /* written: not held through the thumbnail step (a noisy
             * photo encodes to ~2 bytes a pixel, more than budgeted) */
            ngx_http_gatehouse_image_free(info.format, out);
            out = NULL;
        }
    }

    if (img->thumb_width != 0) {
        (void) ngx_http_gatehouse_image_thumb(img, im, info.format);
    }

cleanup:

    if (im != NULL) {
        if (jrc == GW_JPEG_OK) {
            /* its rows are imgjpeg.c's mapping, not libgd's */
            gw_img_jpeg_destroy(im);

        } else {
            gdImageDestroy(im);
        }
    }

    ngx_http_gatehouse_image_free(info.format, out);
    free(gif);
    (void) munmap(data, len);

    /*
     * libgd allocates a decoded image row by row, below glibc's mmap
     * threshold: freed, those rows stay in this thread's arena, and a
     * worker would keep the largest image it ever decoded per pool
     * thread.  Give them back now (a few ms against a photo's decode).
     */
    if (info.pixels >= NGX_HTTP_GATEHOUSE_TRIM_PIXELS) {
        (void) malloc_trim(0);
    }

    /* given back only now that the memory is the system's again */
    if (cost != 0) {
        ngx_http_gatehouse_budget_give(&ngx_http_gatehouse_image_budget,
                                       cost);
    }
}


/* What the step found, in the upload's record (docs/store.md). */
void
ngx_http_gatehouse_image_record(ngx_http_gatehouse_image_t *img, json_t *rec)
{
    if (!img->done || img->width == 0) {
        return;
    }

    json_object_set_new(rec, "width", json_integer(img->width));
    json_object_set_new(rec, "height", json_integer(img->height));
    json_object_set_new(rec, "metadata",
                        json_string(img->rewritten ? "stripped" : "kept"));

    if (img->rewritten) {
        json_object_set_new(rec, "stored_size", json_integer(img->size));
        json_object_set_new(rec, "stored_sha256",
                            json_string((char *) img->sha256));
    }

    if (img->thumb) {
        json_object_set_new(rec, "thumb_width", json_integer(img->thumb_w));
        json_object_set_new(rec, "thumb_height",
                            json_integer(img->thumb_h));
        json_object_set_new(rec, "thumb_size",
                            json_integer(img->thumb_size));
    }
}
