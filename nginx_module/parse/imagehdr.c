/*
 * imagehdr.c - image dimensions from the header; see imagehdr.h.
 *
 * Every read is checked against the end first: a length field is never
 * trusted to fit.  Offsets are size_t and compared by subtraction from
 * len, so no addition can wrap.
 */
#include <string.h>

#include "imagehdr.h"

static uint32_t
be16(const unsigned char *p)
{
	return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t
le16(const unsigned char *p)
{
	return ((uint32_t)p[1] << 8) | p[0];
}

static uint32_t
le24(const unsigned char *p)
{
	return ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static uint32_t
le32(const unsigned char *p)
{
	return ((uint32_t)p[3] << 24) | le24(p);
}

static void
area(struct gw_img_info *info, uint32_t w, uint32_t h)
{
	uint64_t a = (uint64_t)w * h;

	if (a > info->pixels)
		info->pixels = a;
}

/* ---- JPEG ---- */

static int
jpeg_sof(unsigned m)
{
	/* SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC) */
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static enum gw_img_result
probe_jpeg(const unsigned char *d, size_t len, struct gw_img_info *info)
{
	size_t i = 2, seg;
	unsigned m;

	for (;;) {
		/* a marker: 0xFF, any fill 0xFF bytes, the code */
		if (i >= len)
			return GH_IMG_TRUNCATED;
		if (d[i] != 0xFF)
			return GH_IMG_CORRUPT;
		while (i < len && d[i] == 0xFF)
			i++;
		if (i >= len)
			return GH_IMG_TRUNCATED;
		m = d[i++];
		if (m == 0x00 || m == 0xD8 || m == 0xD9)
			return GH_IMG_CORRUPT;
		if ((m >= 0xD0 && m <= 0xD7) || m == 0x01)
			continue;        /* no length */
		if (len - i < 2)
			return GH_IMG_TRUNCATED;
		seg = be16(d + i);
		if (seg < 2)
			return GH_IMG_CORRUPT;
		if (m == 0xDA)           /* scan data before any frame header */
			return GH_IMG_CORRUPT;
		if (jpeg_sof(m)) {
			if (seg < 8)
				return GH_IMG_CORRUPT;
			if (len - i < 7)
				return GH_IMG_TRUNCATED;
			info->height = be16(d + i + 3);
			info->width = be16(d + i + 5);
			if (info->width == 0 || info->height == 0)
				return GH_IMG_CORRUPT;
			area(info, info->width, info->height);
			return GH_IMG_OK;
		}
		if (len - i < seg)
			return GH_IMG_TRUNCATED;
		i += seg;
	}
}

size_t
gw_img_jpeg_strip(unsigned char *d, size_t len)
{
	size_t i = 2, o = 2, start, seg;
	unsigned m;

	if (len < 4 || d[0] != 0xFF || d[1] != 0xD8)
		return 0;
	for (;;) {
		start = i;
		if (i >= len || d[i] != 0xFF)
			return 0;
		while (i < len && d[i] == 0xFF)
			i++;
		if (i >= len)
			return 0;
		m = d[i++];
		if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
			memmove(d + o, d + start, i - start);
			o += i - start;
			continue;
		}
		if (len - i < 2)
			return 0;
		seg = be16(d + i);
		if (seg < 2 || len - i < seg)
			return 0;
		if (m == 0xDA) {
			/* the scans and the rest, as they are */
			memmove(d + o, d + start, len - start);
			return o + (len - start);
		}
		i += seg;
		if (m == 0xFE || (m >= 0xE1 && m <= 0xEF))
			continue;
		memmove(d + o, d + start, i - start);
		o += i - start;
	}
}

/* ---- PNG ---- */

static enum gw_img_result
probe_png(const unsigned char *d, size_t len, struct gw_img_info *info)
{
	size_t i = 8;
	uint32_t clen;
	int first = 1;

	for (;;) {
		if (len - i < 12)
			return GH_IMG_TRUNCATED;
		clen = be32(d + i);
		if (clen > 0x7FFFFFFFu)
			return GH_IMG_CORRUPT;
		if (first) {
			if (memcmp(d + i + 4, "IHDR", 4) != 0 || clen != 13)
				return GH_IMG_CORRUPT;
			if (len - i < 12 + 13)
				return GH_IMG_TRUNCATED;
			info->width = be32(d + i + 8);
			info->height = be32(d + i + 12);
			if (info->width == 0 || info->height == 0 ||
			    info->width > 0x7FFFFFFFu ||
			    info->height > 0x7FFFFFFFu)
				return GH_IMG_CORRUPT;
			area(info, info->width, info->height);
			if (d[i + 17] == 4 || d[i + 17] == 6)
				info->alpha = 1;
			first = 0;
		}
		if (len - i - 12 < clen)
			return GH_IMG_TRUNCATED;
		if (memcmp(d + i + 4, "tRNS", 4) == 0)
			info->alpha = 1;
		if (memcmp(d + i + 4, "IEND", 4) == 0)
			return GH_IMG_OK;
		i += 12 + (size_t)clen;
	}
}

/* ---- GIF ---- */

/* Skip data sub-blocks from *i; GH_IMG_OK past the terminator. */
static enum gw_img_result
gif_subblocks(const unsigned char *d, size_t len, size_t *i)
{
	for (;;) {
		if (*i >= len)
			return GH_IMG_TRUNCATED;
		if (d[*i] == 0) {
			(*i)++;
			return GH_IMG_OK;
		}
		if (len - *i - 1 < d[*i])
			return GH_IMG_TRUNCATED;
		*i += 1 + (size_t)d[*i];
	}
}

/*
 * Walk a GIF's blocks.  With out, copy the blocks kept (gw_img_gif_strip)
 * and return the bytes written in *olen.
 */
static enum gw_img_result
walk_gif(const unsigned char *d, size_t len, struct gw_img_info *info,
         unsigned char *out, size_t *olen)
{
	size_t i = 13, start, o = 0;
	uint32_t w, h;
	enum gw_img_result rc;
	int keep;

	if (len < 13)
		return GH_IMG_TRUNCATED;
	info->width = le16(d + 6);
	info->height = le16(d + 8);
	if (info->width == 0 || info->height == 0)
		return GH_IMG_CORRUPT;
	area(info, info->width, info->height);
	if (d[10] & 0x80) {
		size_t gct = 3u << ((d[10] & 7) + 1);

		if (len - i < gct)
			return GH_IMG_TRUNCATED;
		i += gct;
	}
	if (out) {
		memcpy(out, d, i);
		o = i;
	}

	for (;;) {
		if (i >= len)
			return GH_IMG_TRUNCATED;
		start = i;
		keep = 1;
		switch (d[i]) {
		case 0x2C:               /* image descriptor */
			if (len - i < 10)
				return GH_IMG_TRUNCATED;
			w = le16(d + i + 5);
			h = le16(d + i + 7);
			if (w == 0 || h == 0)
				return GH_IMG_CORRUPT;
			area(info, w, h);
			info->frames++;
			if (d[i + 9] & 0x80) {
				size_t lct = 3u << ((d[i + 9] & 7) + 1);

				i += 10;
				if (len - i < lct)
					return GH_IMG_TRUNCATED;
				i += lct;
			} else {
				i += 10;
			}
			if (i >= len)
				return GH_IMG_TRUNCATED;
			if (d[i] < 1 || d[i] > 11)   /* LZW minimum code size */
				return GH_IMG_CORRUPT;
			i++;
			rc = gif_subblocks(d, len, &i);
			if (rc != GH_IMG_OK)
				return rc;
			break;
		case 0x21:               /* extension */
			if (len - i < 2)
				return GH_IMG_TRUNCATED;
			if (d[i + 1] == 0xFE || d[i + 1] == 0x01) {
				keep = 0;        /* comment, plain text */
			} else if (d[i + 1] == 0xFF) {
				/* application: keep only the loop count */
				keep = len - i >= 14 && d[i + 2] == 11 &&
				       (memcmp(d + i + 3, "NETSCAPE2.0", 11) == 0 ||
				        memcmp(d + i + 3, "ANIMEXTS1.0", 11) == 0);
			} else if (d[i + 1] != 0xF9) {
				keep = 0;        /* unknown extensions */
			}
			i += 2;
			rc = gif_subblocks(d, len, &i);
			if (rc != GH_IMG_OK)
				return rc;
			break;
		case 0x3B:               /* trailer */
			if (info->frames == 0)
				return GH_IMG_CORRUPT;
			if (out) {
				out[o++] = 0x3B;
				*olen = o;
			}
			return GH_IMG_OK;
		default:
			return GH_IMG_CORRUPT;
		}
		if (out && keep) {
			memcpy(out + o, d + start, i - start);
			o += i - start;
		}
	}
}

/* ---- WebP ---- */

static enum gw_img_result
probe_webp(const unsigned char *d, size_t len, struct gw_img_info *info)
{
	size_t i = 12, end;
	uint32_t riff, clen, w, h;
	int seen = 0;

	riff = le32(d + 4);
	if (riff < 4 || (riff & 1))
		return GH_IMG_CORRUPT;
	if (len - 8 < riff)
		return GH_IMG_TRUNCATED;
	end = 8 + (size_t)riff;          /* bytes past the RIFF are ignored */

	while (i < end) {
		if (end - i < 8)
			return GH_IMG_CORRUPT;
		clen = le32(d + i + 4);
		if (end - i - 8 < clen)
			return GH_IMG_CORRUPT;
		if (memcmp(d + i, "VP8X", 4) == 0) {
			if (clen < 10)
				return GH_IMG_CORRUPT;
			w = le24(d + i + 12) + 1;
			h = le24(d + i + 15) + 1;
			info->width = w;
			info->height = h;
			area(info, w, h);
			if (d[i + 8] & 0x02)
				info->animated = 1;
			if (d[i + 8] & 0x10)
				info->alpha = 1;
			seen = 1;
		} else if (memcmp(d + i, "VP8 ", 4) == 0) {
			if (clen < 10)
				return GH_IMG_CORRUPT;
			if (d[i + 11] != 0x9D || d[i + 12] != 0x01 ||
			    d[i + 13] != 0x2A)
				return GH_IMG_CORRUPT;
			w = le16(d + i + 14) & 0x3FFF;
			h = le16(d + i + 16) & 0x3FFF;
			if (w == 0 || h == 0)
				return GH_IMG_CORRUPT;
			if (!seen) {
				info->width = w;
				info->height = h;
			}
			area(info, w, h);
			seen = 1;
		} else if (memcmp(d + i, "VP8L", 4) == 0) {
			uint32_t bits;

			if (clen < 5 || d[i + 8] != 0x2F)
				return GH_IMG_CORRUPT;
			bits = le32(d + i + 9);
			w = (bits & 0x3FFF) + 1;
			h = ((bits >> 14) & 0x3FFF) + 1;
			if (bits & (1u << 28))
				info->alpha = 1;
			if (!seen) {
				info->width = w;
				info->height = h;
			}
			area(info, w, h);
			seen = 1;
		} else if (memcmp(d + i, "ANMF", 4) == 0) {
			info->animated = 1;
			info->frames++;
		}
		i += 8 + (size_t)clen + (clen & 1);
	}
	if (i != end && i != end + 1)
		return GH_IMG_CORRUPT;
	return seen ? GH_IMG_OK : GH_IMG_CORRUPT;
}

/* ---- the entry points ---- */

static enum gw_img_format
sniff(const unsigned char *d, size_t len)
{
	if (len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
		return GH_IMG_JPEG;
	if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return GH_IMG_PNG;
	if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 ||
	                 memcmp(d, "GIF89a", 6) == 0))
		return GH_IMG_GIF;
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0 &&
	    memcmp(d + 8, "WEBP", 4) == 0)
		return GH_IMG_WEBP;
	return GH_IMG_NONE;
}

enum gw_img_result
gw_img_probe(const unsigned char *data, size_t len, struct gw_img_info *info)
{
	enum gw_img_result rc;

	memset(info, 0, sizeof(*info));
	info->format = sniff(data, len);
	switch (info->format) {
	case GH_IMG_JPEG:
		rc = probe_jpeg(data, len, info);
		break;
	case GH_IMG_PNG:
		rc = probe_png(data, len, info);
		break;
	case GH_IMG_GIF:
		rc = walk_gif(data, len, info, NULL, NULL);
		info->animated = info->frames > 1;
		break;
	case GH_IMG_WEBP:
		rc = probe_webp(data, len, info);
		break;
	default:
		return GH_IMG_UNKNOWN;
	}
	if (info->frames == 0)
		info->frames = 1;
	return rc;
}

size_t
gw_img_gif_strip(const unsigned char *data, size_t len, unsigned char *out)
{
	struct gw_img_info info;
	size_t olen = 0;

	memset(&info, 0, sizeof(info));
	if (sniff(data, len) != GH_IMG_GIF ||
	    walk_gif(data, len, &info, out, &olen) != GH_IMG_OK)
		return 0;
	return olen;
}

const char *
gw_img_format_name(enum gw_img_format f)
{
	switch (f) {
	case GH_IMG_JPEG:
		return "jpeg";
	case GH_IMG_PNG:
		return "png";
	case GH_IMG_GIF:
		return "gif";
	case GH_IMG_WEBP:
		return "webp";
	default:
		return "none";
	}
}

const char *
gw_img_result_text(enum gw_img_result r)
{
	switch (r) {
	case GH_IMG_OK:
		return "ok";
	case GH_IMG_UNKNOWN:
		return "not a JPEG, PNG, GIF or WebP image";
	case GH_IMG_TRUNCATED:
		return "the image is truncated";
	default:
		return "the image's structure is corrupt";
	}
}
