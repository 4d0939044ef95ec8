/*
 * hdrlist.h - the header fields of one message, kept for signing
 *
 * The milter sees header fields one at a time (xxfi_header) before any body,
 * but can only sign at end of message, so it keeps a copy of every field
 * here.  The list also answers the two questions DKIM asks of headers: which
 * instance does the n-th occurrence of a name in h= refer to (RFC 6376
 * 5.4.2: the last one not yet used, i.e. bottom-up), and what h= list to
 * write for a set of names to sign and to oversign.
 *
 * BOUNDS (each violation is GH_ETOOBIG, never a crash or a truncation)
 *   GH_HDR_MAX_FIELDS  fields per message
 *   GH_HDR_MAX_FIELD   bytes of one field, name + ':' + value; the same as
 *                      Postfix's default header_size_limit
 *   GH_HDR_MAX_TOTAL   bytes of all fields together
 *   GH_HDR_MAX_SIGNED  entries in one h= list (duplicates and oversigning
 *                      included)
 *
 * NAMES
 *   Field names compare ASCII case-insensitively, ignoring whitespace
 *   between the name and the colon ("Subject :" is a Subject field).
 *
 * Memory: the list owns copies of every field; gm_hdrlist_clear() frees
 * them.  Not thread-safe; one list per message.
 */
#ifndef GH_MILTER_HDRLIST_H
#define GH_MILTER_HDRLIST_H

#include <stddef.h>

#include "gatehouse/err.h"

#define GH_HDR_MAX_FIELDS 1000
#define GH_HDR_MAX_FIELD (100 * 1024)
#define GH_HDR_MAX_TOTAL (1024 * 1024)
#define GH_HDR_MAX_SIGNED 256

struct gm_hdr {
	const char *name;	/* NUL-terminated copy, without the colon */
	size_t namelen;
	const char *value;	/* NUL-terminated copy, as delivered */
	size_t valuelen;
};

struct gm_hdrlist {
	struct gm_hdr *v;
	size_t n;
	size_t cap;
	size_t total;
};

/* gm_hdrlist_init - an empty list (no allocation). */
void gm_hdrlist_init(struct gm_hdrlist *l);

/* gm_hdrlist_clear - free every field; the list is empty and reusable. */
void gm_hdrlist_clear(struct gm_hdrlist *l);

/*
 * gm_hdrlist_add - append a copy of one field.  GH_EINVAL if the name is
 * empty or holds a byte outside printable ASCII or a ':' (trailing spaces
 * and tabs allowed), or value is NULL with valuelen > 0; GH_ETOOBIG past a
 * bound; GH_ENOMEM.  A failed add leaves the list as it was.
 */
gh_err gm_hdrlist_add(struct gm_hdrlist *l, const char *name, size_t namelen,
    const char *value, size_t valuelen);

/* gm_hdr_name_eq - 1 if two field names are the same name (see NAMES). */
int gm_hdr_name_eq(const char *a, size_t alen, const char *b, size_t blen);

/* gm_hdrlist_count - how many fields of the list are named name. */
size_t gm_hdrlist_count(const struct gm_hdrlist *l, const char *name);

/*
 * gm_hdrlist_select - resolve an h= list: out[i] is the field that names[i]
 * refers to, or NULL when the name has no unused instance left (a
 * "nonexistent" field: it signs the absence, which is how oversigning
 * works).  out must have room for n pointers; they point into l.
 */
gh_err gm_hdrlist_select(const struct gm_hdrlist *l, const char *const *names,
    size_t n, const struct gm_hdr **out);

/*
 * gm_hdrlist_plan - build the h= list for this message: every name in sign
 * (in that order, repeats ignored) once per field of that name present, and
 * one more time if it is also in oversign; then every name of oversign not
 * in sign, present count + 1 times.  Names with no field and no oversigning
 * are left out.  out receives pointers to the caller's name strings (no
 * copies) and must have room for GH_HDR_MAX_SIGNED entries; *nout gets the
 * count.  GH_EINVAL if no From field would be signed (RFC 6376 5.4 requires
 * From, so a message without one cannot be signed); GH_ETOOBIG past
 * GH_HDR_MAX_SIGNED.
 */
gh_err gm_hdrlist_plan(const struct gm_hdrlist *l, const char *const *sign,
    size_t nsign, const char *const *oversign, size_t noversign,
    const char **out, size_t *nout);

#endif /* GH_MILTER_HDRLIST_H */
