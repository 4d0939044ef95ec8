/*
 * category.h - upload categories: which extensions and which detected MIME
 * types each admits
 *
 * A category (images, documents, ...) names the extensions a client may
 * give and the MIME types libmagic may report for them.  An upload is
 * accepted only if its extension picks a category and the detected type is
 * in that same category: a PDF named x.png is refused, so is an executable
 * renamed to x.pdf.  The defaults (category.c) are the usual office and
 * image types; the nginx directive gatehouse_upload_category replaces them
 * per location.
 *
 * Lists are NULL-terminated arrays of lowercase strings.  A MIME entry
 * of the form "image/" followed by a star admits every subtype of image.
 * Plain C, no allocation.
 */
#ifndef GATEHOUSE_NGX_CATEGORY_H
#define GATEHOUSE_NGX_CATEGORY_H

#include <stddef.h>

struct gw_category {
	const char *name;
	const char *const *exts;
	const char *const *mimes;
};

/* gw_category_defaults - the built-in table (images, documents, archives,
 * media); *n receives its length.  The table is read-only. */
const struct gw_category *gw_category_defaults(size_t *n);

/* gw_category_by_ext - the first category of cats[0..n) listing ext
 * (compared without regard to ASCII case), or NULL. */
const struct gw_category *gw_category_by_ext(const struct gw_category *cats,
                                             size_t n, const char *ext,
                                             size_t ext_len);

/* gw_category_by_name - the category called name, or NULL. */
const struct gw_category *gw_category_by_name(const struct gw_category *cats,
                                              size_t n, const char *name,
                                              size_t name_len);

/* gw_category_mime_ok - non-zero if cat admits the MIME type mime, which
 * is compared without case and without parameters ("; charset=..."). */
int gw_category_mime_ok(const struct gw_category *cat, const char *mime,
                        size_t mime_len);

/* gw_category_mime_valid - non-zero if s looks like "type/subtype", or a
 * type, slash and star, in RFC 6838 characters: for checking configuration. */
int gw_category_mime_valid(const char *s, size_t len);

#endif /* GATEHOUSE_NGX_CATEGORY_H */
