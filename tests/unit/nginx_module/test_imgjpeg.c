/*
 * test_imgjpeg.c - unit tests of the image step's JPEG decode and encode
 * (nginx_module/parse/imgjpeg.c) against libgd's own reader and writer,
 * which they replace: for every EXIF orientation the same pixels and
 * resolution as libgd's decode followed by the module's former turn (its
 * code is kept here as the reference), byte for byte the same JPEG as
 * gdImageJpegPtr less its comment; truncated, corrupt and oversized input
 * refused; CMYK left to libgd; grayscale read like libgd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gd.h>
#include <jpeglib.h>

#include "../../../nginx_module/parse/imagehdr.h"
#include "../../../nginx_module/parse/imgjpeg.h"

static void
quiet(int priority, const char *fmt, va_list ap)
{
	(void)priority;
	(void)fmt;
	(void)ap;
}

/* a w x h picture with edges, gradients and noise, so that every block
 * of the JPEG differs */
static gdImagePtr
picture(int w, int h)
{
	gdImagePtr im = gdImageCreateTrueColor(w, h);
	unsigned s = 12345;
	int x, y;

	assert_non_null(im);
	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			s = s * 1103515245u + 12345u;
			gdImageSetPixel(im, x, y,
					gdTrueColor((x * 255) / w,
						    (y * 255) / h,
						    (int)((s >> 16) & 0xFF)));
		}
	return im;
}

static unsigned char *
jpeg_of(gdImagePtr im, int q, size_t *n)
{
	int size = 0;
	unsigned char *p = gdImageJpegPtr(im, &size, q);

	assert_non_null(p);
	assert_true(size > 0);
	*n = (size_t)size;
	return p;
}

/* the module's turn before this file (ngx_http_gatehouse_image.c) */
static gdImagePtr
reference_orient(gdImagePtr im, int o)
{
	int x, y, sx, sy, w, h;
	gdImagePtr out;

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
	w = gdImageSX(im);
	h = gdImageSY(im);
	out = gdImageCreateTrueColor(h, w);
	assert_non_null(out);
	for (y = 0; y < w; y++)
		for (x = 0; x < h; x++) {
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
	gdImageDestroy(im);
	return out;
}

static void
assert_same_image(gdImagePtr a, gdImagePtr b)
{
	int y;

	assert_int_equal(gdImageSX(a), gdImageSX(b));
	assert_int_equal(gdImageSY(a), gdImageSY(b));
	assert_int_equal(a->res_x, b->res_x);
	assert_int_equal(a->res_y, b->res_y);
	assert_true(gdImageTrueColor(b));
	for (y = 0; y < gdImageSY(a); y++)
		assert_memory_equal(a->tpixels[y], b->tpixels[y],
				    (size_t)gdImageSX(a) * sizeof(int));
}

static void
assert_same_resampled(gdImagePtr a, gdImagePtr b)
{
	gdImagePtr ta = gdImageCreateTrueColor(7, 5);
	gdImagePtr tb = gdImageCreateTrueColor(7, 5);
	int y;

	assert_non_null(ta);
	assert_non_null(tb);
	gdImageCopyResampled(ta, a, 0, 0, 0, 0, 7, 5, gdImageSX(a),
			     gdImageSY(a));
	gdImageCopyResampled(tb, b, 0, 0, 0, 0, 7, 5, gdImageSX(b),
			     gdImageSY(b));
	for (y = 0; y < 5; y++)
		assert_memory_equal(ta->tpixels[y], tb->tpixels[y],
				    7 * sizeof(int));
	gdImageDestroy(ta);
	gdImageDestroy(tb);
}

/* every orientation, sizes around the turn's 32-row strips */
static void
test_decode_like_libgd(void **state)
{
	static const int sizes[][2] = { { 70, 45 }, { 33, 97 }, { 1, 1 },
					{ 16, 64 }, { 129, 31 } };
	char err[GW_JPEG_ERRLEN];
	size_t i, n;
	int o;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		gdImagePtr pic = picture(sizes[i][0], sizes[i][1]);
		unsigned char *data;

		/* a resolution of its own, which libgd carries over */
		gdImageSetResolution(pic, 300, 150);
		data = jpeg_of(pic, i % 2 ? 75 : 92, &n);
		gdImageDestroy(pic);

		for (o = 0; o <= 8; o++) {
			gdImagePtr ref, im = NULL;

			ref = gdImageCreateFromJpegPtrEx((int)n, data, 0);
			assert_non_null(ref);
			ref = reference_orient(ref, o);
			assert_int_equal(gw_img_jpeg_decode(data, n, o,
							    10000000, &im,
							    err, sizeof(err)),
					 GW_JPEG_OK);
			assert_same_image(ref, im);
			/* libgd reads from it like from its own */
			assert_same_resampled(ref, im);
			gdImageDestroy(ref);
			gw_img_jpeg_destroy(im);
		}
		gdFree(data);
	}
}

/* byte for byte what libgd wrote, without its CREATOR comment */
static void
test_encode_like_libgd(void **state)
{
	static const int qs[] = { 80, 90, 100, 40 };
	char err[GW_JPEG_ERRLEN];
	struct gw_img_info info;
	size_t i, n, m, k;
	int inter;

	(void)state;
	for (inter = 0; inter <= 1; inter++)
		for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
			gdImagePtr pic = picture(61 + (int)i, 47);
			unsigned char *ref, *out;

			gdImageInterlace(pic, inter);
			if (i == 1)
				gdImageSetResolution(pic, 72, 300);
			ref = jpeg_of(pic, qs[i], &n);
			m = gw_img_jpeg_strip(ref, n);
			assert_true(m > 0 && m < n);
			out = gw_img_jpeg_encode(pic, qs[i], &k, err,
						 sizeof(err));
			assert_non_null(out);
			assert_int_equal(k, m);
			assert_memory_equal(out, ref, m);
			/* nothing to strip: no comment, no APPn but JFIF */
			assert_int_equal(gw_img_jpeg_strip(out, k), k);
			assert_int_equal(gw_img_probe(out, k, &info),
					 GH_IMG_OK);
			assert_int_equal(info.width, 61 + i);
			free(out);
			gdFree(ref);
			gdImageDestroy(pic);
		}
}

static void
test_encode_refuses_palette(void **state)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr im = gdImageCreate(8, 8);
	size_t k = 1;

	(void)state;
	assert_non_null(im);
	assert_null(gw_img_jpeg_encode(im, 90, &k, err, sizeof(err)));
	assert_int_equal(k, 0);
	assert_non_null(strstr(err, "truecolor"));
	gdImageDestroy(im);
}

static void
test_truncated_and_corrupt(void **state)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr pic = picture(120, 90), im;
	unsigned char *data, *bad;
	size_t n, i, sos = 0;
	int o;

	(void)state;
	data = jpeg_of(pic, 90, &n);
	gdImageDestroy(pic);

	/* cut: libjpeg's "premature end" warning is an error here */
	for (o = 1; o <= 6; o += 5) {
		im = (gdImagePtr)1;
		assert_int_equal(gw_img_jpeg_decode(data, n * 2 / 3, o,
						    10000000, &im, err,
						    sizeof(err)),
				 GW_JPEG_BAD);
		assert_null(im);
		assert_non_null(strstr(err, "Premature end"));
	}

	/* scribbled over after the scan header */
	bad = malloc(n);
	assert_non_null(bad);
	memcpy(bad, data, n);
	for (i = 2; i + 1 < n; i++)
		if (bad[i] == 0xFF && bad[i + 1] == 0xDA)
			sos = i;
	assert_true(sos > 0);
	for (i = sos + 40; i < n - 10; i += 7)
		bad[i] = i % 2 ? 0xFF : 0xD3;
	for (o = 1; o <= 8; o += 7) {
		im = NULL;
		assert_int_equal(gw_img_jpeg_decode(bad, n, o, 10000000, &im,
						    err, sizeof(err)),
				 GW_JPEG_BAD);
		assert_null(im);
		assert_true(strncmp(err, "libjpeg: ", 9) == 0);
	}

	/* not a JPEG at all, and nothing */
	memset(bad, 'x', n);
	assert_int_equal(gw_img_jpeg_decode(bad, n, 0, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_BAD);
	assert_int_equal(gw_img_jpeg_decode(bad, 0, 0, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_BAD);
	free(bad);
	gdFree(data);
}

static void
test_too_large(void **state)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr pic = picture(100, 50), im = NULL;
	unsigned char *data;
	size_t n;

	(void)state;
	data = jpeg_of(pic, 90, &n);
	gdImageDestroy(pic);
	assert_int_equal(gw_img_jpeg_decode(data, n, 6, 4999, &im, err,
					    sizeof(err)), GW_JPEG_TOO_LARGE);
	assert_null(im);
	assert_int_equal(gw_img_jpeg_decode(data, n, 6, 5000, &im, err,
					    sizeof(err)), GW_JPEG_OK);
	assert_int_equal(gdImageSX(im), 50);
	gw_img_jpeg_destroy(im);
	gdFree(data);
}

/* a JPEG in another colour space, written with libjpeg directly */
static unsigned char *
jpeg_in(J_COLOR_SPACE cs, int comps, int w, int h, unsigned long *n)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL, *row;
	JSAMPROW rp[1];
	int x, y;

	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	*n = 0;
	jpeg_mem_dest(&c, &out, n);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = comps;
	c.in_color_space = cs;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 85, TRUE);
	jpeg_start_compress(&c, TRUE);
	row = malloc((size_t)w * comps);
	assert_non_null(row);
	rp[0] = row;
	for (y = 0; y < h; y++) {
		for (x = 0; x < w * comps; x++)
			row[x] = (unsigned char)((x * 7 + y * 3) & 0xFF);
		(void)jpeg_write_scanlines(&c, rp, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	return out;
}

/* how jpeg_how writes: plain, arithmetic-coded, progressive, or one scan
 * per AC coefficient and component (1 + 63 x comps scans) */
enum how { HOW_PLAIN, HOW_ARITH, HOW_PROGRESSIVE, HOW_MANY_SCANS };

static unsigned char *
jpeg_how(J_COLOR_SPACE cs, int comps, int w, int h, enum how how,
	 unsigned long *n)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	static jpeg_scan_info scans[1 + 63 * 4];
	unsigned char *out = NULL, *row;
	JSAMPROW rp[1];
	int x, y, k, ci, ns = 0;

	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	*n = 0;
	jpeg_mem_dest(&c, &out, n);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = comps;
	c.in_color_space = cs;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 85, TRUE);
	if (how == HOW_ARITH)
		c.arith_code = TRUE;
	if (how == HOW_PROGRESSIVE)
		jpeg_simple_progression(&c);
	if (how == HOW_MANY_SCANS) {
		scans[ns].comps_in_scan = comps;
		for (ci = 0; ci < comps; ci++)
			scans[ns].component_index[ci] = ci;
		scans[ns].Ss = scans[ns].Se = 0;
		scans[ns].Ah = scans[ns].Al = 0;
		ns++;
		for (ci = 0; ci < comps; ci++)
			for (k = 1; k < 64; k++, ns++) {
				scans[ns].comps_in_scan = 1;
				scans[ns].component_index[0] = ci;
				scans[ns].Ss = scans[ns].Se = k;
				scans[ns].Ah = scans[ns].Al = 0;
			}
		c.scan_info = scans;
		c.num_scans = ns;
	}
	jpeg_start_compress(&c, TRUE);
	row = malloc((size_t)w * comps);
	assert_non_null(row);
	rp[0] = row;
	for (y = 0; y < h; y++) {
		for (x = 0; x < w * comps; x++)
			row[x] = (unsigned char)((x * 7 + y * 3) & 0xFF);
		(void)jpeg_write_scanlines(&c, rp, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	return out;
}

/* What a hostile JPEG could make libjpeg do is bounded: arithmetic coding
 * refused, more than GW_JPEG_MAX_SCANS scans refused while decoding, a
 * multi-scan CMYK file refused (libgd's reader has no scan limit), and
 * the probe says what libjpeg will hold beside the image (a progressive
 * file's coefficients), which the decode holds libjpeg to. */
static void
test_hostile_jpeg_bounded(void **state)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr im = NULL;
	unsigned long n;
	uint64_t work = 0;
	unsigned char *data;

	(void)state;
	gdSetErrorMethod(quiet);
	data = jpeg_how(JCS_RGB, 3, 64, 48, HOW_ARITH, &n);
	assert_int_equal(gw_img_jpeg_probe(data, n, &work, err, sizeof(err)),
			 GW_JPEG_BAD);
	assert_non_null(strstr(err, "arithmetic"));
	assert_int_equal(gw_img_jpeg_decode(data, n, 1, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_BAD);
	assert_null(im);
	free(data);

	/* 190 scans: the probe passes it (it reads no scan), the decode
	 * stops at the limit */
	data = jpeg_how(JCS_RGB, 3, 64, 48, HOW_MANY_SCANS, &n);
	assert_int_equal(gw_img_jpeg_probe(data, n, &work, err, sizeof(err)),
			 GW_JPEG_OK);
	assert_int_equal(gw_img_jpeg_decode(data, n, 1, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_BAD);
	assert_non_null(strstr(err, "scans"));
	assert_null(im);
	free(data);

	/* a progressive 4:2:0 photo decodes; the probe counts its
	 * coefficients: Y 8x6 blocks, Cb and Cr 4x3, 128 bytes each */
	data = jpeg_how(JCS_RGB, 3, 64, 48, HOW_PROGRESSIVE, &n);
	assert_int_equal(gw_img_jpeg_probe(data, n, &work, err, sizeof(err)),
			 GW_JPEG_OK);
	assert_int_equal(work, (8 * 6 + 2 * 4 * 3) * 128 + GW_JPEG_MEM_SLACK);
	assert_int_equal(gw_img_jpeg_decode(data, n, 6, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_OK);
	assert_int_equal(gdImageSX(im), 48);
	gw_img_jpeg_destroy(im);
	im = NULL;
	free(data);

	/* a baseline file: no coefficient buffer */
	data = jpeg_how(JCS_RGB, 3, 64, 48, HOW_PLAIN, &n);
	assert_int_equal(gw_img_jpeg_probe(data, n, &work, err, sizeof(err)),
			 GW_JPEG_OK);
	assert_int_equal(work, GW_JPEG_MEM_SLACK);
	free(data);

	/* CMYK: one scan goes to libgd, several are refused */
	data = jpeg_how(JCS_CMYK, 4, 40, 30, HOW_PLAIN, &n);
	assert_int_equal(gw_img_jpeg_probe(data, n, &work, err, sizeof(err)),
			 GW_JPEG_OK);
	free(data);
	data = jpeg_how(JCS_CMYK, 4, 40, 30, HOW_PROGRESSIVE, &n);
	assert_int_equal(gw_img_jpeg_probe(data, n, &work, err, sizeof(err)),
			 GW_JPEG_BAD);
	assert_non_null(strstr(err, "CMYK"));
	assert_int_equal(gw_img_jpeg_decode(data, n, 1, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_BAD);
	free(data);
}

static void
test_cmyk_left_to_libgd(void **state)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr im = NULL;
	unsigned long n;
	unsigned char *data = jpeg_in(JCS_CMYK, 4, 40, 30, &n);

	(void)state;
	assert_int_equal(gw_img_jpeg_decode(data, n, 6, 10000000, &im, err,
					    sizeof(err)), GW_JPEG_CMYK);
	assert_null(im);
	free(data);
}

static void
test_grayscale_like_libgd(void **state)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr ref, im = NULL;
	unsigned long n;
	unsigned char *data = jpeg_in(JCS_GRAYSCALE, 1, 45, 37, &n);
	int o;

	(void)state;
	for (o = 1; o <= 8; o += 7) {
		ref = gdImageCreateFromJpegPtrEx((int)n, data, 0);
		assert_non_null(ref);
		ref = reference_orient(ref, o);
		assert_int_equal(gw_img_jpeg_decode(data, n, o, 10000000, &im,
						    err, sizeof(err)),
				 GW_JPEG_OK);
		assert_same_image(ref, im);
		gdImageDestroy(ref);
		gw_img_jpeg_destroy(im);
	}
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_like_libgd),
		cmocka_unit_test(test_encode_like_libgd),
		cmocka_unit_test(test_encode_refuses_palette),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_cmyk_left_to_libgd),
		cmocka_unit_test(test_grayscale_like_libgd),
		cmocka_unit_test(test_hostile_jpeg_bounded),
	};

	gdSetErrorMethod(quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
