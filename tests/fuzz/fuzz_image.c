/*
 * fuzz_image.c - libFuzzer target for the image decode path of the nginx
 * module (ngx_http_gatehouse_image.c): the header parser
 * (nginx_module/parse/imagehdr.c) and its pixel cap, then libgd's decoder for
 * the format it found, libexif on a JPEG, the GIF and JPEG strips, and
 * the module's own JPEG decode (with each orientation's turn) and encode
 * (nginx_module/parse/imgjpeg.c).
 *
 * Besides crashes and sanitizer reports it checks that:
 *   - nothing past the cap reaches a decoder (the cap here is 4
 *     megapixels so that runs stay fast; the module's is configurable);
 *   - a decoded image is no larger than the header said;
 *   - the GIF strip yields a GIF the parser accepts with the same frames,
 *     and the JPEG strip a JPEG with the same dimensions;
 *   - a JPEG the module's decoder accepts, libgd's reader decodes to the
 *     same pixels (orientation 1), and its encoder's output is a JPEG the
 *     parser accepts with the turned image's dimensions.
 * Build: make fuzz-image (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gd.h>
#include <libexif/exif-data.h>

#include "../../nginx_module/parse/imagehdr.h"
#include "../../nginx_module/parse/imgjpeg.h"

#define FUZZ_MAX_PIXELS (4u * 1000 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

/* the module's decode with orientation o, checked against libgd's (ref,
 * decoded from the same bytes without a turn) */
static void
own_jpeg(const uint8_t *data, size_t size, int o, gdImagePtr ref,
	 const struct gw_img_info *info)
{
	char err[GW_JPEG_ERRLEN];
	gdImagePtr im = NULL;
	struct gw_img_info again;
	unsigned char *out;
	size_t n;
	int y;

	if (gw_img_jpeg_decode(data, size, o, FUZZ_MAX_PIXELS, &im, err,
			       sizeof(err)) != GW_JPEG_OK) {
		check(im == NULL);
		return;
	}
	check((uint64_t)gdImageSX(im) * (uint64_t)gdImageSY(im) <=
	      info->pixels);
	if (o < 5) {
		check(ref != NULL && gdImageSX(ref) == gdImageSX(im) &&
		      gdImageSY(ref) == gdImageSY(im));
	}
	if (o <= 1) {
		for (y = 0; y < gdImageSY(im); y++)
			check(memcmp(ref->tpixels[y], im->tpixels[y],
				     (size_t)gdImageSX(im) * sizeof(int)) == 0);
	}
	if ((uint64_t)gdImageSX(im) * (uint64_t)gdImageSY(im) <= 1000000) {
		out = gw_img_jpeg_encode(im, 90, &n, err, sizeof(err));
		check(out != NULL);
		check(gw_img_probe(out, n, &again) == GH_IMG_OK);
		check(again.width == (uint32_t)gdImageSX(im) &&
		      again.height == (uint32_t)gdImageSY(im));
		free(out);
	}
	gw_img_jpeg_destroy(im);
}

static void
quiet(int priority, const char *fmt, va_list ap)
{
	(void)priority;
	(void)fmt;
	(void)ap;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct gw_img_info info, again;
	gdImagePtr im = NULL;
	unsigned char *copy;
	ExifData *ed;
	size_t n;

	if (!once) {
		gdSetErrorMethod(quiet);
		once = 1;
	}
	if (gw_img_probe(data, size, &info) != GH_IMG_OK ||
	    info.pixels > FUZZ_MAX_PIXELS || size > 0x7FFFFFFF)
		return 0;
	check(info.width > 0 && info.height > 0 && info.frames >= 1);

	copy = malloc(size ? size : 1);
	check(copy != NULL);
	memcpy(copy, data, size);

	switch (info.format) {
	case GH_IMG_JPEG:
		im = gdImageCreateFromJpegPtrEx((int)size, copy, 0);
		/* an orientation from the last byte: every turn gets tried */
		own_jpeg(data, size, size ? data[size - 1] % 9 : 0, im,
			 &info);
		ed = exif_data_new_from_data(data, (unsigned int)size);
		if (ed)
			exif_data_unref(ed);
		n = gw_img_jpeg_strip(copy, size);
		if (n) {
			check(n <= size);
			check(gw_img_probe(copy, n, &again) == GH_IMG_OK);
			check(again.width == info.width &&
			      again.height == info.height);
		}
		break;
	case GH_IMG_PNG:
		im = gdImageCreateFromPngPtr((int)size, copy);
		break;
	case GH_IMG_GIF:
		im = gdImageCreateFromGifPtr((int)size, copy);
		n = gw_img_gif_strip(data, size, copy);
		check(n > 0 && n <= size);
		check(gw_img_probe(copy, n, &again) == GH_IMG_OK);
		check(again.frames == info.frames);
		break;
	case GH_IMG_WEBP:
		if (!info.animated)
			im = gdImageCreateFromWebpPtr((int)size, copy);
		break;
	default:
		check(0);
	}
	if (im != NULL) {
		check((uint64_t)gdImageSX(im) * (uint64_t)gdImageSY(im) <=
		      info.pixels);
		gdImageDestroy(im);
	}
	free(copy);
	return 0;
}
