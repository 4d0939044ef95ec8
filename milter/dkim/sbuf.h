/*
 * sbuf.h - a growable, bounded, always NUL-terminated byte string
 *
 * Used to build header values whose size depends on configuration (the
 * DKIM-Signature's h= list).  Errors are sticky: appends after a failure do
 * nothing and gm_sbuf_err() reports the first failure, so a builder can
 * append freely and check once.
 *
 * Memory: the buffer owns p; gm_sbuf_free() releases it, gm_sbuf_take()
 * hands it to the caller (who free()s it).
 */
#ifndef GH_MILTER_SBUF_H
#define GH_MILTER_SBUF_H

#include <stddef.h>

#include "gatehouse/err.h"

struct gm_sbuf {
	char *p;	/* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;	/* longest string allowed, NUL excluded */
	gh_err err;
};

/* gm_sbuf_init - an empty buffer that may grow to max bytes. */
void gm_sbuf_init(struct gm_sbuf *b, size_t max);

/* gm_sbuf_add - append n bytes; GH_ETOOBIG past max, GH_ENOMEM (sticky). */
void gm_sbuf_add(struct gm_sbuf *b, const void *s, size_t n);

/* gm_sbuf_adds - append a NUL-terminated string. */
void gm_sbuf_adds(struct gm_sbuf *b, const char *s);

/* gm_sbuf_err - the first error of any append, GH_OK if none. */
gh_err gm_sbuf_err(const struct gm_sbuf *b);

/*
 * gm_sbuf_take - the string (never NULL on GH_OK: "" if nothing was added),
 * now owned by the caller; the buffer is left empty.  NULL after an error.
 */
char *gm_sbuf_take(struct gm_sbuf *b);

/* gm_sbuf_free - release the string; the buffer is left empty. */
void gm_sbuf_free(struct gm_sbuf *b);

#endif /* GH_MILTER_SBUF_H */
