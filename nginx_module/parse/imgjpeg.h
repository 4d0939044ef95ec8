/*
 * imgjpeg.h - JPEG decode and encode for the image step, with
 * libjpeg-turbo straight into and out of a libgd truecolor image's rows
 * (no per-pixel conversion, no gdIOCtx), the EXIF orientation applied
 * while decoding.  Plain C (libjpeg, libgd), unit-tested against libgd's
 * own JPEG reader and writer and fuzzed (tests/fuzz/fuzz_image.c).
 */
#ifndef GW_IMGJPEG_H
#define GW_IMGJPEG_H

#include <stddef.h>
#include <stdint.h>

#include <gd.h>

/* room for a message of gw_img_jpeg_decode or _encode ("libjpeg: " and
 * libjpeg's JMSG_LENGTH_MAX) */
#define GW_JPEG_ERRLEN 224

/* at most this many scans (a progressive photo has about 10) */
#define GW_JPEG_MAX_SCANS 100
/* libjpeg's working memory beyond a multi-scan file's coefficients (its
 * tables and row buffers, some MB at 65535 pixels wide) */
#define GW_JPEG_MEM_SLACK ((uint64_t)16 << 20)

/* what gw_img_jpeg_decode gave */
enum gw_img_jpeg_rc {
	GW_JPEG_OK = 0,
	GW_JPEG_BAD,       /* libjpeg's error or any warning: message in err */
	GW_JPEG_NOMEM,     /* the image could not be allocated */
	GW_JPEG_TOO_LARGE, /* more pixels than max_pixels */
	GW_JPEG_CMYK       /* CMYK or YCCK: libgd's reader converts those */
};

/*
 * Decode the JPEG of len bytes at data into a new truecolor image turned
 * upright for EXIF orientation o (0 or 1: as stored, 2..8 as in
 * ngx_http_gatehouse_image.c), the image libgd's gdImageCreateFromJpeg
 * and that turn would give (pixels and resolution).  Turns
 * by 90 degrees (5..8) are made strip by strip while decoding, so no
 * second full-size image is needed.  Any libjpeg warning (premature end
 * of data, corrupt data) refuses the image like an error.  The pixel
 * count of the frame header is checked against max_pixels before any
 * pixel memory is allocated.  The image's rows are not libgd's own
 * allocations: it is freed with gw_img_jpeg_destroy, never
 * gdImageDestroy, and must not be given to libgd functions that
 * reallocate rows (drawing, copying from it, flips and encoding are fine).
 */
enum gw_img_jpeg_rc gw_img_jpeg_decode(const unsigned char *data, size_t len,
				       int o, uint64_t max_pixels,
				       gdImagePtr *out, char *err,
				       size_t errlen);

/*
 * Read the JPEG's headers only (no pixel memory): GW_JPEG_BAD with a
 * message in err for what gw_img_jpeg_decode would refuse before decoding
 * (arithmetic coding; a multi-scan CMYK file, which libgd's reader would
 * take with no scan limit), else GW_JPEG_OK and in *work the bytes libjpeg
 * itself may use while decoding it (a multi-scan file's coefficient
 * buffer, up to 6 bytes a pixel, plus GW_JPEG_MEM_SLACK): what a memory
 * budget must charge beside the image.  gw_img_jpeg_decode holds libjpeg
 * to that figure and to GW_JPEG_MAX_SCANS scans.
 */
enum gw_img_jpeg_rc gw_img_jpeg_probe(const unsigned char *data, size_t len,
				      uint64_t *work, char *err,
				      size_t errlen);

/* Free an image from gw_img_jpeg_decode (NULL: nothing). */
void gw_img_jpeg_destroy(gdImagePtr im);

/*
 * Encode truecolor im as libgd's gdImageJpegPtr(im, quality) does (JFIF
 * with im's resolution, 4:4:4 at quality 90 and above, progressive when
 * im is interlaced) but without its CREATOR comment or any other marker.
 * Returns malloc'd bytes (free()) and their count in *size; NULL on error
 * with a message in err.
 */
unsigned char *gw_img_jpeg_encode(gdImagePtr im, int quality, size_t *size,
				  char *err, size_t errlen);

#endif
