/*
 * test_imagehdr.c - unit tests of the image header parser
 * (nginx_module/parse/imagehdr.c): dimensions of each format, bombs seen from
 * the header alone, truncated and corrupt containers, the GIF metadata
 * strip.  The images are built here byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../nginx_module/parse/imagehdr.h"

struct buf {
	unsigned char b[4096];
	size_t n;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
put8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void
put_be16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void
put_be32(struct buf *b, uint32_t v)
{
	put_be16(b, v >> 16);
	put_be16(b, v & 0xFFFF);
}

static void
put_le16(struct buf *b, unsigned v)
{
	put8(b, v);
	put8(b, v >> 8);
}

static void
put_le32(struct buf *b, uint32_t v)
{
	put_le16(b, v & 0xFFFF);
	put_le16(b, v >> 16);
}

/* SOI, an APP1 "Exif" segment, SOF0 of w x h, SOS, a little data, EOI */
static void
jpeg(struct buf *b, unsigned w, unsigned h)
{
	static const unsigned char app1[] = "Exif\0\0MM\0*";

	memset(b, 0, sizeof(*b));
	put(b, "\xFF\xD8", 2);
	put(b, "\xFF\xE1", 2);
	put_be16(b, 2 + sizeof(app1));
	put(b, app1, sizeof(app1));
	put(b, "\xFF\xFF\xC0", 3);        /* a fill byte before the marker */
	put_be16(b, 11);
	put8(b, 8);
	put_be16(b, h);
	put_be16(b, w);
	put(b, "\x01\x01\x11\x00", 4);
	put(b, "\xFF\xDA\x00\x02\x12\x34\xFF\xD9", 8);
}

static void
png_chunk(struct buf *b, const char *type, const void *data, uint32_t n)
{
	put_be32(b, n);
	put(b, type, 4);
	put(b, data, n);
	put_be32(b, 0);                    /* CRC: libpng's business */
}

static void
png(struct buf *b, uint32_t w, uint32_t h, int iend)
{
	struct buf ihdr;

	memset(b, 0, sizeof(*b));
	memset(&ihdr, 0, sizeof(ihdr));
	put_be32(&ihdr, w);
	put_be32(&ihdr, h);
	put(&ihdr, "\x08\x02\x00\x00\x00", 5);
	put(b, "\x89PNG\r\n\x1a\n", 8);
	png_chunk(b, "IHDR", ihdr.b, 13);
	png_chunk(b, "tEXt", "Comment\0hi", 10);
	png_chunk(b, "IDAT", "\x78\x9c\x63\x00\x00", 5);
	if (iend)
		png_chunk(b, "IEND", "", 0);
}

/* a GIF of frames frames of w x h on a w x h screen, with a comment */
static void
gif(struct buf *b, unsigned sw, unsigned sh, unsigned w, unsigned h,
    unsigned frames)
{
	unsigned i;

	memset(b, 0, sizeof(*b));
	put(b, "GIF89a", 6);
	put_le16(b, sw);
	put_le16(b, sh);
	put(b, "\x80\x00\x00", 3);         /* 2-colour global table */
	put(b, "\x00\x00\x00\xff\xff\xff", 6);
	put(b, "\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00", 19);
	put(b, "\x21\xFE\x05hello\x00", 9);
	for (i = 0; i < frames; i++) {
		put(b, "\x21\xF9\x04\x00\x0a\x00\x00\x00", 8);
		put8(b, 0x2C);
		put_le16(b, 0);
		put_le16(b, 0);
		put_le16(b, w);
		put_le16(b, h);
		put8(b, 0);
		put(b, "\x02\x02\x4c\x01\x00", 5);
	}
	put8(b, 0x3B);
}

static void
webp_vp8(struct buf *b, unsigned w, unsigned h)
{
	memset(b, 0, sizeof(*b));
	put(b, "RIFF", 4);
	put_le32(b, 4 + 8 + 10);
	put(b, "WEBPVP8 ", 8);
	put_le32(b, 10);
	put(b, "\x00\x00\x00\x9D\x01\x2A", 6);
	put_le16(b, w);
	put_le16(b, h);
}

static void
webp_vp8x(struct buf *b, uint32_t w, uint32_t h)
{
	memset(b, 0, sizeof(*b));
	put(b, "RIFF", 4);
	put_le32(b, 4 + 18 + 8 + 6);
	put(b, "WEBPVP8X", 8);
	put_le32(b, 10);
	put(b, "\x00\x00\x00\x00", 4);
	put8(b, (w - 1) & 0xFF);
	put8(b, ((w - 1) >> 8) & 0xFF);
	put8(b, ((w - 1) >> 16) & 0xFF);
	put8(b, (h - 1) & 0xFF);
	put8(b, ((h - 1) >> 8) & 0xFF);
	put8(b, ((h - 1) >> 16) & 0xFF);
	put(b, "VP8L", 4);
	put_le32(b, 5);
	put(b, "\x2F\x00\x00\x00\x00\x00", 6);   /* 1x1, padded */
}

static void
test_jpeg(void **state)
{
	struct buf b;
	struct gw_img_info i;
	size_t n;

	(void)state;
	jpeg(&b, 4000, 3000);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_int_equal(i.format, GH_IMG_JPEG);
	assert_int_equal(i.width, 4000);
	assert_int_equal(i.height, 3000);
	assert_int_equal(i.pixels, 12000000);
	assert_int_equal(i.frames, 1);

	/* a bomb: 65535 x 65535 in a file of a few dozen bytes */
	jpeg(&b, 65535, 65535);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_true(i.pixels == 65535ull * 65535ull);

	/* every cut before the frame header is truncated, never OK */
	jpeg(&b, 10, 10);
	for (n = 3; n < 2 + 2 + 2 + 11 + 3 + 7; n++)
		assert_int_equal(gw_img_probe(b.b, n, &i), GH_IMG_TRUNCATED);

	jpeg(&b, 0, 10);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);

	/* scan data before any frame header */
	memcpy(b.b + 2, "\xFF\xDA\x00\x02", 4);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
	/* a segment length below 2 */
	jpeg(&b, 10, 10);
	b.b[5] = 1;
	b.b[4] = 0;
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
}

static void
test_png(void **state)
{
	struct buf b;
	struct gw_img_info i;
	size_t n;

	(void)state;
	png(&b, 640, 480, 1);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_int_equal(i.format, GH_IMG_PNG);
	assert_int_equal(i.width, 640);
	assert_int_equal(i.height, 480);
	assert_false(i.alpha);
	b.b[8 + 8 + 9] = 6;                /* colour type: RGBA */
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_true(i.alpha);

	png(&b, 100000, 100000, 1);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_true(i.pixels == 10000000000ull);

	/* without IEND, or cut anywhere: truncated */
	png(&b, 10, 10, 0);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_TRUNCATED);
	png(&b, 10, 10, 1);
	for (n = 8; n < b.n; n++)
		assert_int_equal(gw_img_probe(b.b, n, &i), GH_IMG_TRUNCATED);

	/* a chunk length past 2^31 */
	png(&b, 10, 10, 1);
	memcpy(b.b + 8 + 25, "\xFF\xFF\xFF\xFF", 4);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
	/* IHDR not first */
	png(&b, 10, 10, 1);
	memcpy(b.b + 12, "IHDX", 4);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
	png(&b, 0, 10, 1);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
}

static void
test_gif(void **state)
{
	struct buf b;
	struct gw_img_info i;
	unsigned char out[4096];
	size_t n;

	(void)state;
	gif(&b, 20, 10, 20, 10, 1);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_int_equal(i.format, GH_IMG_GIF);
	assert_int_equal(i.width, 20);
	assert_int_equal(i.height, 10);
	assert_int_equal(i.frames, 1);
	assert_false(i.animated);

	gif(&b, 20, 10, 20, 10, 3);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_int_equal(i.frames, 3);
	assert_true(i.animated);

	/* a small screen with a huge frame: the frame counts */
	gif(&b, 2, 2, 60000, 60000, 1);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_true(i.pixels == 3600000000ull);

	gif(&b, 20, 10, 20, 10, 2);
	for (n = 6; n < b.n; n++)
		assert_int_equal(gw_img_probe(b.b, n, &i), GH_IMG_TRUNCATED);

	/* a stray byte where a block starts */
	gif(&b, 20, 10, 20, 10, 1);
	b.b[b.n - 1] = 0x42;
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);

	/* the strip drops the comment, keeps loop, frames and trailer */
	gif(&b, 20, 10, 20, 10, 2);
	n = gw_img_gif_strip(b.b, b.n, out);
	assert_int_equal(n, b.n - 9);
	assert_null(memmem(out, n, "hello", 5));
	assert_non_null(memmem(out, n, "NETSCAPE2.0", 11));
	assert_int_equal(gw_img_probe(out, n, &i), GH_IMG_OK);
	assert_int_equal(i.frames, 2);
	assert_int_equal(gw_img_gif_strip(b.b, b.n - 1, out), 0);
}

static void
test_webp(void **state)
{
	struct buf b;
	struct gw_img_info i;
	size_t n;

	(void)state;
	webp_vp8(&b, 300, 200);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_int_equal(i.format, GH_IMG_WEBP);
	assert_int_equal(i.width, 300);
	assert_int_equal(i.height, 200);

	/* a VP8X canvas of 16M x 16M over a 1x1 bitstream */
	webp_vp8x(&b, 1u << 24, 1u << 24);
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	assert_true(i.pixels == (1ull << 48));

	webp_vp8(&b, 300, 200);
	for (n = 12; n < b.n; n++)
		assert_int_equal(gw_img_probe(b.b, n, &i), GH_IMG_TRUNCATED);
	/* a chunk longer than the RIFF */
	webp_vp8(&b, 300, 200);
	b.b[16] = 0x40;
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
	/* a bad start code */
	webp_vp8(&b, 300, 200);
	b.b[23] = 0;
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_CORRUPT);
}

static void
test_jpeg_strip(void **state)
{
	struct buf b;
	struct gw_img_info i;
	size_t n, before;

	(void)state;
	jpeg(&b, 40, 30);
	/* a comment after the APP1 */
	memmove(b.b + 2 + 2 + 2 + 11 + 9, b.b + 2 + 2 + 2 + 11,
	        b.n - (2 + 2 + 2 + 11));
	memcpy(b.b + 2 + 2 + 2 + 11, "\xFF\xFE\x00\x07hello", 9);
	b.n += 9;
	assert_int_equal(gw_img_probe(b.b, b.n, &i), GH_IMG_OK);
	before = b.n;
	n = gw_img_jpeg_strip(b.b, b.n);
	assert_int_equal(n, before - 9 - (2 + 2 + 11));
	assert_null(memmem(b.b, n, "hello", 5));
	assert_null(memmem(b.b, n, "Exif", 4));
	assert_int_equal(gw_img_probe(b.b, n, &i), GH_IMG_OK);
	assert_int_equal(i.width, 40);
	assert_memory_equal(b.b + n - 2, "\xFF\xD9", 2);
	/* no SOS: nothing to keep */
	assert_int_equal(gw_img_jpeg_strip(b.b, 10), 0);
}

static void
test_unknown(void **state)
{
	struct gw_img_info i;

	(void)state;
	assert_int_equal(gw_img_probe((const unsigned char *)"%PDF-1.4", 8, &i),
	                 GH_IMG_UNKNOWN);
	assert_int_equal(gw_img_probe((const unsigned char *)"", 0, &i),
	                 GH_IMG_UNKNOWN);
	assert_string_equal(gw_img_format_name(GH_IMG_WEBP), "webp");
	assert_non_null(strstr(gw_img_result_text(GH_IMG_TRUNCATED),
	                       "truncated"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jpeg),
		cmocka_unit_test(test_png),
		cmocka_unit_test(test_gif),
		cmocka_unit_test(test_webp),
		cmocka_unit_test(test_jpeg_strip),
		cmocka_unit_test(test_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
