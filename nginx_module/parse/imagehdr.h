/*
 * imagehdr.h - image dimensions from the header, before any decoding
 *
 * An uploaded image's width and height are read here, by a small bounded
 * parser of our own, so that a decompression bomb (a tiny file claiming
 * 100000 x 100000 pixels) is refused before libgd allocates anything:
 * libgd has no header-only API.  The parser also walks the file's block
 * structure (PNG chunks to IEND, GIF blocks to the trailer, the WebP RIFF
 * chunks), so a truncated or mangled container is told apart from a
 * complete one without decoding.
 *
 *   JPEG  the first SOFn segment (markers walked from SOI up to SOS)
 *   PNG   IHDR, then every chunk up to IEND
 *   GIF   the logical screen and every frame's descriptor, to the trailer
 *   WebP  VP8X canvas, and the VP8 / VP8L bitstream header
 *
 * Plain C, no allocation, reads only within [data, data + len).
 */
#ifndef GATEHOUSE_NGX_IMAGEHDR_H
#define GATEHOUSE_NGX_IMAGEHDR_H

#include <stddef.h>
#include <stdint.h>

enum gw_img_format {
	GH_IMG_NONE = 0,
	GH_IMG_JPEG,
	GH_IMG_PNG,
	GH_IMG_GIF,
	GH_IMG_WEBP
};

enum gw_img_result {
	GH_IMG_OK = 0,
	GH_IMG_UNKNOWN,      /* not one of the four formats */
	GH_IMG_TRUNCATED,    /* the data ends inside the structure */
	GH_IMG_CORRUPT       /* a length, size or marker that cannot be */
};

struct gw_img_info {
	enum gw_img_format format;
	uint32_t width;      /* JPEG/PNG/WebP: the image; GIF: logical screen */
	uint32_t height;
	uint64_t pixels;     /* the largest area anything in the file claims:
	                        canvas, frame or bitstream */
	uint32_t frames;     /* GIF image descriptors; 1 otherwise */
	unsigned animated:1; /* GIF of several frames, WebP with ANIM */
	unsigned alpha:1;    /* PNG: colour type with alpha, or tRNS; WebP:
	                        VP8X's alpha flag, VP8L's alpha bit */
};

/* gw_img_probe - fill *info from the len bytes at data.  GH_IMG_OK only
 * if the format is known, every dimension is non-zero and the structure
 * the parser walks is complete. */
enum gw_img_result gw_img_probe(const unsigned char *data, size_t len,
                                struct gw_img_info *info);

/* gw_img_format_name - "jpeg", "png", "gif", "webp" or "none". */
const char *gw_img_format_name(enum gw_img_format f);

/* gw_img_result_text - a short English description of r. */
const char *gw_img_result_text(enum gw_img_result r);

/*
 * gw_img_gif_strip - copy a GIF that gw_img_probe() accepted to out
 * without its comment, plain text and application extensions (XMP and
 * the like), keeping the frames, their graphic control extensions and
 * the NETSCAPE2.0/ANIMEXTS1.0 loop extension.  out has room for len
 * bytes (the copy is never larger).  Returns the bytes written, or 0 if
 * data is not a complete GIF.
 */
size_t gw_img_gif_strip(const unsigned char *data, size_t len,
                        unsigned char *out);

/*
 * gw_img_jpeg_strip - remove, in place, the comment (COM) and APP1..APP15
 * segments before the first scan of the JPEG at data (an encoder's own
 * "CREATOR" comment, say), keeping APP0 (JFIF).  Returns the new length,
 * or 0 if the markers cannot be walked up to SOS.
 */
size_t gw_img_jpeg_strip(unsigned char *data, size_t len);

#endif /* GATEHOUSE_NGX_IMAGEHDR_H */
