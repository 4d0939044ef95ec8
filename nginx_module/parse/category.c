/*
 * category.c - the default upload categories and their matching; see
 * category.h.
 *
 * The MIME lists are what libmagic (file 5.44, Debian 12) reports for real
 * files of each extension, which is not always the IANA type: WAV is
 * audio/x-wav, RAR is application/x-rar, some older Office files are
 * application/vnd.ms-office.
 */
#include <string.h>

#include "gatehouse/text.h"
#include "category.h"

static const char *const img_exts[] = {
	"png", "jpg", "jpeg", "gif", "webp", NULL
};
static const char *const img_mimes[] = {
	"image/png", "image/jpeg", "image/gif", "image/webp", NULL
};
static const char *const doc_exts[] = {
	"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", NULL
};
static const char *const doc_mimes[] = {
	"application/pdf",
	"application/msword",
	"application/vnd.ms-excel",
	"application/vnd.ms-powerpoint",
	"application/vnd.ms-office",
	/* an OLE2 document whose directory lies past the first 32 KiB that
	 * libmagic sees (a .ppt or .xls of some size): only the container
	 * can be told; the virus scan reads the whole file */
	"application/x-ole-storage",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation",
	NULL
};
static const char *const arc_exts[] = {"zip", "rar", "7z", NULL};
static const char *const arc_mimes[] = {
	"application/zip", "application/x-rar", "application/vnd.rar",
	"application/x-7z-compressed", NULL
};
static const char *const media_exts[] = {
	"mp3", "mp4", "wav", "avi", "mov", NULL
};
static const char *const media_mimes[] = {
	"audio/mpeg", "video/mp4", "audio/mp4", "audio/x-m4a", "audio/x-wav",
	"audio/wav", "audio/vnd.wave", "video/x-msvideo", "video/avi",
	"video/quicktime", NULL
};

static const struct gw_category defaults[] = {
	{"images", img_exts, img_mimes},
	{"documents", doc_exts, doc_mimes},
	{"archives", arc_exts, arc_mimes},
	{"media", media_exts, media_mimes},
};

const struct gw_category *
gw_category_defaults(size_t *n)
{
	*n = sizeof(defaults) / sizeof(defaults[0]);
	return defaults;
}

const struct gw_category *
gw_category_by_ext(const struct gw_category *cats, size_t n, const char *ext,
                   size_t ext_len)
{
	size_t i, j;

	if (ext == NULL || ext_len == 0)
		return NULL;
	for (i = 0; i < n; i++) {
		for (j = 0; cats[i].exts != NULL && cats[i].exts[j] != NULL;
		    j++) {
			if (gh_ascii_ieq(ext, ext_len, cats[i].exts[j]))
				return &cats[i];
		}
	}
	return NULL;
}

const struct gw_category *
gw_category_by_name(const struct gw_category *cats, size_t n,
                    const char *name, size_t name_len)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strlen(cats[i].name) == name_len &&
		    memcmp(cats[i].name, name, name_len) == 0)
			return &cats[i];
	}
	return NULL;
}

int
gw_category_mime_ok(const struct gw_category *cat, const char *mime,
                    size_t len)
{
	size_t j, k, slash;

	if (cat == NULL || mime == NULL || cat->mimes == NULL)
		return 0;
	/* drop parameters and blanks around the type */
	for (k = 0; k < len && mime[k] != ';'; k++)
		;
	while (k > 0 && (mime[k - 1] == ' ' || mime[k - 1] == '\t'))
		k--;
	while (k > 0 && (*mime == ' ' || *mime == '\t')) {
		mime++;
		k--;
	}
	for (slash = 0; slash < k && mime[slash] != '/'; slash++)
		;
	if (slash == 0 || slash + 1 >= k)
		return 0;
	for (j = 0; cat->mimes[j] != NULL; j++) {
		const char *m = cat->mimes[j];
		size_t ml = strlen(m);

		if (ml >= 2 && strcmp(m + ml - 2, "/*") == 0) {
			size_t t;

			/* wildcard: only the type before the slash counts */
			if (ml - 2 != slash)
				continue;
			for (t = 0; t < slash; t++) {
				if (gh_ascii_lower((unsigned char)mime[t]) != m[t])
					break;
			}
			if (t == slash)
				return 1;
			continue;
		}
		if (gh_ascii_ieq(mime, k, m))
			return 1;
	}
	return 0;
}

static int
is_mime_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$&-^_.+", c) != NULL;
}

int
gw_category_mime_valid(const char *s, size_t len)
{
	size_t i, slash = len;

	for (i = 0; i < len; i++) {
		if (s[i] == '/') {
			if (slash != len)
				return 0;
			slash = i;
		} else if (!is_mime_char((unsigned char)s[i]) &&
		    !(s[i] == '*' && i == len - 1 && slash == i - 1)) {
			return 0;
		}
	}
	return slash > 0 && slash < len && slash + 1 < len;
}
