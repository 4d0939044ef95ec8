/*
 * fuzz_image.c - libFuzzer target for the image decode path of the nginx
 * module (ngx_http_gatehouse_image.c): the header parser
 * (nginx_module/parse/imagehdr.c) and its pixel cap, then libgd's decoder for
 * the format it found, libexif on a JPEG, and the GIF and JPEG strips.
 *
 * Besides crashes and sanitizer reports it checks that:
 *   - nothing past the cap reaches a decoder (the cap here is 4
 *     megapixels so that runs stay fast; the module's is configurable);
 *   - a decoded image is no larger than the header said;
 *   - the GIF strip yields a GIF the parser accepts with the same frames,
 *     and the JPEG strip a JPEG with the same dimensions.
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

#define FUZZ_MAX_PIXELS (4u * 1000 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
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
