/*
 * sbuf.c - growable bounded string with sticky errors (see sbuf.h).
 */
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

void
gm_sbuf_init(struct gm_sbuf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->err = GH_OK;
}

static int
grow(struct gm_sbuf *b, size_t need)
{
	size_t ncap = b->cap ? b->cap : 256;
	char *np;

	while (ncap < need + 1)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (np == NULL)
		return 0;
	b->p = np;
	b->cap = ncap;
	return 1;
}

void
gm_sbuf_add(struct gm_sbuf *b, const void *s, size_t n)
{
	if (b->err)
		return;
	if (n > b->max || b->len > b->max - n) {
		b->err = GH_ETOOBIG;
		return;
	}
	if (b->len + n + 1 > b->cap && !grow(b, b->len + n)) {
		b->err = GH_ENOMEM;
		return;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
gm_sbuf_adds(struct gm_sbuf *b, const char *s)
{
	gm_sbuf_add(b, s, strlen(s));
}

gh_err
gm_sbuf_err(const struct gm_sbuf *b)
{
	return b->err;
}

char *
gm_sbuf_take(struct gm_sbuf *b)
{
	char *p;

	if (b->err)
		return NULL;
	if (b->p == NULL)
		gm_sbuf_add(b, "", 0);
	if (b->err)
		return NULL;
	p = b->p;
	gm_sbuf_init(b, b->max);
	return p;
}

void
gm_sbuf_free(struct gm_sbuf *b)
{
	free(b->p);
	gm_sbuf_init(b, b->max);
}
