/*
 * imgjpeg.c - JPEG decode and encode with libjpeg-turbo on libgd's
 * truecolor rows; see imgjpeg.h.
 *
 * Why not libgd's own reader and writer: both go through a row buffer in
 * packed RGB and convert every pixel to or from libgd's int layout, and
 * the writer through its gdIOCtx too; a 12-megapixel photo's encode took
 * 70 ms that way against 40-odd here.  libgd's truecolor pixel is an int
 * 0x00RRGGBB (the top byte its 7-bit alpha, 0 = opaque), which is in
 * memory, little-endian, B G R X: libjpeg-turbo's JCS_EXT_BGRX reads and
 * writes exactly that (it writes 0xFF into X, cleared here to opaque 0).
 *
 * libjpeg reports errors through error_exit, which must not return: it
 * longjmps back here with its message.  Its warnings (emit_message with
 * a negative level: premature end of data, corrupt data, ...) would let
 * it go on with grey or garbage pixels: they are refused as errors.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <jpeglib.h>
#include <jerror.h>

#include "imgjpeg.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GW_JPEG_GD_SPACE JCS_EXT_BGRX
#else
#define GW_JPEG_GD_SPACE JCS_EXT_XRGB
#endif

/* rows decoded at once before a turn by 90 degrees writes them as
 * columns: 32 rows give each output row 128 contiguous bytes per strip,
 * and the strip (32 x width x 4 bytes) stays in the cache */
#define GW_JPEG_STRIP 32
/* rows handed to jpeg_write_scanlines / jpeg_read_scanlines at once */
#define GW_JPEG_ROWS 16

struct gw_jpeg_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char *msg; /* JMSG_LENGTH_MAX bytes */
};

static void
gw_jpeg_error_exit(j_common_ptr cinfo)
{
	struct gw_jpeg_err *e = (struct gw_jpeg_err *)cinfo->err;

	/* msg holds JMSG_LENGTH_MAX bytes, as format_message needs */
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jb, 1);
}

static void
gw_jpeg_emit(j_common_ptr cinfo, int level)
{
	/* trace messages (level >= 0) are not about the file */
	if (level < 0)
		gw_jpeg_error_exit(cinfo);
}

static void
gw_jpeg_err_init(struct gw_jpeg_err *e, char *msgbuf)
{
	jpeg_std_error(&e->pub);
	e->pub.error_exit = gw_jpeg_error_exit;
	e->pub.emit_message = gw_jpeg_emit;
	e->msg = msgbuf;
}

static void
gw_jpeg_message(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		(void)snprintf(err, errlen, "libjpeg: %s", msg);
}

/*
 * What a hostile JPEG could make libjpeg do beyond the pixels: decode the
 * whole image again for every scan (thousands of empty ones in a few KB),
 * hold a whole-image buffer of coefficients (multi-scan files: 128 bytes
 * a block, 6 bytes a pixel at 4:4:4, outside the image's own memory), and,
 * arithmetic-coded, take a cut-off scan for a whole one without a
 * warning.  So: at most GW_JPEG_MAX_SCANS scans (a progress monitor), no
 * arithmetic coding (no browser shows it either), and libjpeg held to the
 * coefficient buffer the header asks for plus GW_JPEG_MEM_SLACK
 * (max_memory_to_use), which the caller's budget charged (gw_img_jpeg_probe).
 */
static void
gw_jpeg_progress(j_common_ptr cinfo)
{
	struct gw_jpeg_err *e = (struct gw_jpeg_err *)cinfo->err;

	if (cinfo->is_decompressor &&
	    ((j_decompress_ptr)cinfo)->input_scan_number > GW_JPEG_MAX_SCANS) {
		snprintf(e->msg, JMSG_LENGTH_MAX, "more than %d scans",
			 GW_JPEG_MAX_SCANS);
		longjmp(e->jb, 1);
	}
}

/* A reason to refuse the JPEG whose header cinfo has read, or NULL. */
static const char *
gw_jpeg_refused(j_decompress_ptr cinfo)
{
	if (cinfo->arith_code)
		return "arithmetic-coded JPEG images are not accepted";
	if ((cinfo->jpeg_color_space == JCS_CMYK ||
	     cinfo->jpeg_color_space == JCS_YCCK) &&
	    jpeg_has_multiple_scans(cinfo))
		return "progressive or multi-scan CMYK JPEG images are not "
		       "accepted";
	return NULL;
}

/* The coefficient buffer libjpeg keeps for a multi-scan JPEG (jdcoefct.c:
 * each component's blocks, rounded up to its sampling factors, 128 bytes
 * each), or 0 for a single scan. */
static uint64_t
gw_jpeg_coef_bytes(j_decompress_ptr cinfo)
{
	uint64_t sum = 0, bw, bh;
	int ci;

	if (!jpeg_has_multiple_scans(cinfo))
		return 0;
	for (ci = 0; ci < cinfo->num_components; ci++) {
		jpeg_component_info *c = &cinfo->comp_info[ci];

		bw = (c->width_in_blocks + (uint64_t)c->h_samp_factor - 1) /
		     (uint64_t)c->h_samp_factor * (uint64_t)c->h_samp_factor;
		bh = (c->height_in_blocks + (uint64_t)c->v_samp_factor - 1) /
		     (uint64_t)c->v_samp_factor * (uint64_t)c->v_samp_factor;
		sum += bw * bh * sizeof(JBLOCK);
	}
	return sum;
}

enum gw_img_jpeg_rc
gw_img_jpeg_probe(const unsigned char *data, size_t len, uint64_t *work,
		  char *err, size_t errlen)
{
	struct jpeg_decompress_struct cinfo;
	struct gw_jpeg_err jerr;
	char msg[JMSG_LENGTH_MAX] = "";
	volatile enum gw_img_jpeg_rc rc = GW_JPEG_BAD;
	const char *why;

	*work = GW_JPEG_MEM_SLACK;
	if (errlen > 0)
		err[0] = '\0';
	if (len == 0 || len > ULONG_MAX) {
		gw_jpeg_message(err, errlen, "empty or too large");
		return GW_JPEG_BAD;
	}
	gw_jpeg_err_init(&jerr, msg);
	cinfo.err = &jerr.pub;
	if (setjmp(jerr.jb)) {
		gw_jpeg_message(err, errlen, msg);
		goto cleanup;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long)len);
	(void)jpeg_read_header(&cinfo, TRUE);
	why = gw_jpeg_refused(&cinfo);
	if (why != NULL) {
		gw_jpeg_message(err, errlen, why);
		goto cleanup;
	}
	*work = gw_jpeg_coef_bytes(&cinfo) + GW_JPEG_MEM_SLACK;
	rc = GW_JPEG_OK;
cleanup:
	jpeg_destroy_decompress(&cinfo);
	return rc;
}

/* ---- the decoded image ---- */

/*
 * A truecolor gdImage whose rows are one anonymous mapping, set up as
 * gdImageCreateTrueColor does, instead of libgd's calloc per row: those
 * rows land in the pool thread's malloc arena, whose pages are faulted in
 * 4 KB at a time (a quarter of a 12-MP photo's decode) and stay there (until
 * malloc_trim).  The mapping asks for transparent huge pages (faulted in
 * 2 MB at a time where the system allows it, ignored where not) and goes
 * back to the system as soon as gw_img_jpeg_destroy unmaps it.  The row
 * pointer array has one more entry, past the last row: the mapping's
 * start, which libgd never sees (it swaps pixels, never rows).
 */
static gdImagePtr
gw_jpeg_image(int w, int h)
{
	gdImagePtr im;
	int **rows;
	unsigned char *base;
	size_t rowb, len;
	int y;

	if (w <= 0 || h <= 0 ||
	    (size_t)w > SIZE_MAX / sizeof(int) / (size_t)h ||
	    (size_t)h >= SIZE_MAX / sizeof(int *))
		return NULL;
	rowb = (size_t)w * sizeof(int);
	len = rowb * (size_t)h;

	im = calloc(1, sizeof(*im));
	rows = malloc(((size_t)h + 1) * sizeof(int *));
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (im == NULL || rows == NULL || base == MAP_FAILED) {
		if (base != MAP_FAILED)
			(void)munmap(base, len);
		free(rows);
		free(im);
		return NULL;
	}
#ifdef MADV_HUGEPAGE
	(void)madvise(base, len, MADV_HUGEPAGE);
#endif

	for (y = 0; y < h; y++)
		rows[y] = (int *)(void *)(base + (size_t)y * rowb);
	rows[h] = (int *)(void *)base;

	/* gdImageCreateTrueColor's settings (the rest zero) */
	im->tpixels = rows;
	im->sx = w;
	im->sy = h;
	im->transparent = -1;
	im->trueColor = 1;
	im->alphaBlendingFlag = 1;
	im->thick = 1;
	im->cx2 = w - 1;
	im->cy2 = h - 1;
	im->res_x = GD_RESOLUTION;
	im->res_y = GD_RESOLUTION;
	im->interpolation_id = GD_BILINEAR_FIXED;
	return im;
}

void
gw_img_jpeg_destroy(gdImagePtr im)
{
	if (im == NULL)
		return;
	(void)munmap(im->tpixels[im->sy],
		     (size_t)im->sx * sizeof(int) * (size_t)im->sy);
	free(im->tpixels);
	free(im);
}

/* ---- decode ---- */

/* libgd's reader: dots per cm to dots per inch */
static unsigned
gw_jpeg_dpcm2dpi(unsigned dpcm)
{
	return (unsigned)(dpcm * 2.54 + 0.5);
}

/* libjpeg's 0xFF in the fourth byte: libgd's opaque is 0 */
static void
gw_jpeg_opaque(int *row, int n)
{
	unsigned int *p = (unsigned int *)row;
	int x;

	for (x = 0; x < n; x++)
		p[x] &= 0x00FFFFFFu;
}

/*
 * The strip of n rows from source row y0 (w pixels each) written into
 * out, turned for orientation o (5..8) as ngx_http_gatehouse_image.c's
 * turn did with a decoded image: source pixel (sx, sy) of a w x h image
 * goes to row r(sx), column c(sy) of the h x w one.
 */
static void
gw_jpeg_turn_strip(gdImagePtr out, unsigned char *strip, int n, int y0,
		   int w, int h, int o)
{
	const unsigned int *src = (const unsigned int *)(void *)strip;
	unsigned int *dst;
	int sx, i, r;

	for (sx = 0; sx < w; sx++) {
		r = (o == 5 || o == 6) ? sx : w - 1 - sx;
		dst = (unsigned int *)out->tpixels[r];

		if (o == 5 || o == 8) {
			/* c(sy) = sy */
			dst += y0;
			for (i = 0; i < n; i++)
				dst[i] = src[(size_t)i * w + sx] & 0x00FFFFFFu;
		} else {
			/* c(sy) = h - 1 - sy */
			dst += h - 1 - y0;
			for (i = 0; i < n; i++)
				*(dst - i) = src[(size_t)i * w + sx] &
					     0x00FFFFFFu;
		}
	}
}

enum gw_img_jpeg_rc
gw_img_jpeg_decode(const unsigned char *data, size_t len, int o,
		   uint64_t max_pixels, gdImagePtr *out, char *err,
		   size_t errlen)
{
	struct jpeg_decompress_struct cinfo;
	struct gw_jpeg_err jerr;
	char msg[JMSG_LENGTH_MAX] = "";
	JSAMPROW rows[GW_JPEG_STRIP];
	/* changed after setjmp and read after a longjmp */
	gdImagePtr volatile im = NULL;
	unsigned char *volatile strip = NULL;
	volatile enum gw_img_jpeg_rc rc = GW_JPEG_BAD;
	int w, h, n, i, y0, turn;
	JDIMENSION got;
	struct jpeg_progress_mgr progress;
	const char *why;
	uint64_t work;

	*out = NULL;
	/* the image's fields are set by hand (gw_jpeg_image) as this libgd's
	 * gdImageCreateTrueColor sets them: another libgd (its struct may
	 * differ below its public fields) decodes with its own reader */
	if (gdMajorVersion() != GD_MAJOR_VERSION ||
	    gdMinorVersion() != GD_MINOR_VERSION ||
	    gdReleaseVersion() != GD_RELEASE_VERSION)
		return GW_JPEG_CMYK;
	if (errlen > 0)
		err[0] = '\0';
	turn = o >= 5 && o <= 8;

	/* libjpeg's source takes an unsigned long length */
	if (len == 0 || len > ULONG_MAX) {
		gw_jpeg_message(err, errlen, "empty or too large");
		return GW_JPEG_BAD;
	}

	gw_jpeg_err_init(&jerr, msg);
	cinfo.err = &jerr.pub;

	if (setjmp(jerr.jb)) {
		gw_jpeg_message(err, errlen, msg);
		goto cleanup;
	}

	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long)len);
	(void)jpeg_read_header(&cinfo, TRUE);

	why = gw_jpeg_refused(&cinfo);
	if (why != NULL) {
		gw_jpeg_message(err, errlen, why);
		goto cleanup;
	}
	/* what gw_img_jpeg_probe said it would need, and no more */
	work = gw_jpeg_coef_bytes(&cinfo) + GW_JPEG_MEM_SLACK;
	cinfo.mem->max_memory_to_use = work > LONG_MAX ? LONG_MAX : (long)work;
	memset(&progress, 0, sizeof(progress));
	progress.progress_monitor = gw_jpeg_progress;
	cinfo.progress = &progress;

	/* the frame header's size, before anything is allocated for it */
	if (cinfo.image_width == 0 || cinfo.image_height == 0 ||
	    cinfo.image_width > INT_MAX || cinfo.image_height > INT_MAX ||
	    (uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
		rc = GW_JPEG_TOO_LARGE;
		goto cleanup;
	}

	if (cinfo.jpeg_color_space == JCS_CMYK ||
	    cinfo.jpeg_color_space == JCS_YCCK) {
		rc = GW_JPEG_CMYK;
		goto cleanup;
	}

	cinfo.out_color_space = GW_JPEG_GD_SPACE;
	jpeg_start_decompress(&cinfo);

	w = (int)cinfo.output_width;
	h = (int)cinfo.output_height;
	if (cinfo.output_components != 4 ||
	    cinfo.output_width != cinfo.image_width ||
	    cinfo.output_height != cinfo.image_height) {
		gw_jpeg_message(err, errlen, "unexpected output format");
		goto cleanup;
	}

	im = turn ? gw_jpeg_image(h, w) : gw_jpeg_image(w, h);
	if (im == NULL) {
		rc = GW_JPEG_NOMEM;
		goto cleanup;
	}

	if (!turn) {
		/* the resolution libgd's reader sets (its writer puts it
		 * back); a turned image was a new one, at libgd's default */
		if (cinfo.density_unit == 1) {
			im->res_x = cinfo.X_density;
			im->res_y = cinfo.Y_density;
		} else if (cinfo.density_unit == 2) {
			im->res_x = gw_jpeg_dpcm2dpi(cinfo.X_density);
			im->res_y = gw_jpeg_dpcm2dpi(cinfo.Y_density);
		}

		while (cinfo.output_scanline < cinfo.output_height) {
			y0 = (int)cinfo.output_scanline;
			n = h - y0 < GW_JPEG_ROWS ? h - y0 : GW_JPEG_ROWS;
			for (i = 0; i < n; i++)
				rows[i] = (JSAMPROW)(void *)im->tpixels[y0 + i];
			got = jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
			if (got == 0) {
				gw_jpeg_message(err, errlen,
						"no scanline read");
				goto cleanup;
			}
			for (i = 0; i < (int)got; i++)
				gw_jpeg_opaque(im->tpixels[y0 + i], w);
		}

		switch (o) {
		case 2:
			gdImageFlipHorizontal(im);
			break;
		case 3:
			gdImageFlipBoth(im);
			break;
		case 4:
			gdImageFlipVertical(im);
			break;
		default:
			break;
		}

	} else {
		/* no more rows than the image has: a 65535 x 1 JPEG has
		 * one 256 KB row, not 32 */
		strip = malloc((size_t)(h < GW_JPEG_STRIP ? h : GW_JPEG_STRIP) *
			       (size_t)w * 4);
		if (strip == NULL) {
			rc = GW_JPEG_NOMEM;
			goto cleanup;
		}

		while (cinfo.output_scanline < cinfo.output_height) {
			y0 = (int)cinfo.output_scanline;
			n = h - y0 < GW_JPEG_STRIP ? h - y0 : GW_JPEG_STRIP;
			for (i = 0; i < n; i++)
				rows[i] = strip + (size_t)i * w * 4;
			for (i = 0; i < n; i += (int)got) {
				got = jpeg_read_scanlines(&cinfo, rows + i,
							  (JDIMENSION)(n - i));
				if (got == 0) {
					gw_jpeg_message(err, errlen,
							"no scanline read");
					goto cleanup;
				}
			}
			gw_jpeg_turn_strip(im, strip, n, y0, w, h, o);
		}
	}

	(void)jpeg_finish_decompress(&cinfo);

	*out = im;
	im = NULL;
	rc = GW_JPEG_OK;

cleanup:
	jpeg_destroy_decompress(&cinfo);
	free(strip);
	gw_img_jpeg_destroy(im);
	return rc;
}

/* ---- encode ---- */

/* libjpeg's destination: one malloc'd buffer grown by realloc (a large
 * block is moved by mremap, not copied) */
struct gw_jpeg_dest {
	struct jpeg_destination_mgr pub;
	unsigned char *buf;
	size_t size;
};

static void
gw_jpeg_dest_init(j_compress_ptr cinfo)
{
	(void)cinfo;
}

static boolean
gw_jpeg_dest_grow(j_compress_ptr cinfo)
{
	struct gw_jpeg_dest *d = (struct gw_jpeg_dest *)cinfo->dest;
	unsigned char *nb;
	size_t ns;

	if (d->size > SIZE_MAX / 2)
		ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
	ns = d->size * 2;
	nb = realloc(d->buf, ns);
	if (nb == NULL)
		ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);

	/* empty_output_buffer: the whole buffer was filled */
	d->pub.next_output_byte = nb + d->size;
	d->pub.free_in_buffer = ns - d->size;
	d->buf = nb;
	d->size = ns;
	return TRUE;
}

static void
gw_jpeg_dest_term(j_compress_ptr cinfo)
{
	(void)cinfo;
}

unsigned char *
gw_img_jpeg_encode(gdImagePtr im, int quality, size_t *size, char *err,
		   size_t errlen)
{
	struct jpeg_compress_struct cinfo;
	struct gw_jpeg_err jerr;
	struct gw_jpeg_dest dest;
	char msg[JMSG_LENGTH_MAX] = "";
	JSAMPROW rows[GW_JPEG_ROWS];
	unsigned char *volatile res = NULL;
	int i, n, y;

	*size = 0;
	if (errlen > 0)
		err[0] = '\0';

	if (!gdImageTrueColor(im) || gdImageSX(im) <= 0 || gdImageSY(im) <= 0) {
		gw_jpeg_message(err, errlen, "not a truecolor image");
		return NULL;
	}

	/* a byte a pixel, a quarter of the raw pixels: a photo at quality
	 * 90 fits; only the pages written are faulted in, and growing it
	 * costs little anyway */
	dest.size = (size_t)gdImageSX(im) * (size_t)gdImageSY(im) + 4096;
	dest.buf = malloc(dest.size);
	if (dest.buf == NULL) {
		gw_jpeg_message(err, errlen, "out of memory");
		return NULL;
	}
	dest.pub.init_destination = gw_jpeg_dest_init;
	dest.pub.empty_output_buffer = gw_jpeg_dest_grow;
	dest.pub.term_destination = gw_jpeg_dest_term;
	dest.pub.next_output_byte = dest.buf;
	dest.pub.free_in_buffer = dest.size;

	gw_jpeg_err_init(&jerr, msg);
	cinfo.err = &jerr.pub;

	if (setjmp(jerr.jb)) {
		gw_jpeg_message(err, errlen, msg);
		goto cleanup;
	}

	jpeg_create_compress(&cinfo);
	cinfo.dest = &dest.pub;

	cinfo.image_width = (JDIMENSION)gdImageSX(im);
	cinfo.image_height = (JDIMENSION)gdImageSY(im);
	cinfo.input_components = 4;
	cinfo.in_color_space = GW_JPEG_GD_SPACE;
	jpeg_set_defaults(&cinfo);

	/* libgd's writer's settings, so the output is what it was */
	cinfo.density_unit = 1;
	cinfo.X_density = (UINT16)im->res_x;
	cinfo.Y_density = (UINT16)im->res_y;
	jpeg_set_quality(&cinfo, quality, TRUE);
	if (quality >= 90) {
		cinfo.comp_info[0].h_samp_factor = 1;
		cinfo.comp_info[0].v_samp_factor = 1;
	}
	if (gdImageGetInterlaced(im))
		jpeg_simple_progression(&cinfo);

	/* JFIF APP0 only: no comment, no EXIF, no ICC profile */
	jpeg_start_compress(&cinfo, TRUE);

	for (y = 0; y < gdImageSY(im); y += n) {
		n = gdImageSY(im) - y < GW_JPEG_ROWS ? gdImageSY(im) - y
						     : GW_JPEG_ROWS;
		for (i = 0; i < n; i++)
			rows[i] = (JSAMPROW)(void *)im->tpixels[y + i];
		n = (int)jpeg_write_scanlines(&cinfo, rows, (JDIMENSION)n);
		if (n <= 0) {
			gw_jpeg_message(err, errlen, "no scanline written");
			goto cleanup;
		}
	}

	jpeg_finish_compress(&cinfo);

	*size = dest.size - dest.pub.free_in_buffer;
	res = dest.buf;
	dest.buf = NULL;

cleanup:
	jpeg_destroy_compress(&cinfo);
	free(dest.buf);
	return res;
}
