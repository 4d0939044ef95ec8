/*
 * sbuf.c - growable bounded string with sticky errors (see sbuf.h).
 */
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

void
gh_sbuf_init(struct gh_sbuf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->err = GH_OK;
}

static int
grow(struct gh_sbuf *b, size_t need)
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
gh_sbuf_add(struct gh_sbuf *b, const void *s, size_t n)
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
gh_sbuf_adds(struct gh_sbuf *b, const char *s)
{
	gh_sbuf_add(b, s, strlen(s));
}

gh_err
gh_sbuf_err(const struct gh_sbuf *b)
{
	return b->err;
}

char *
gh_sbuf_take(struct gh_sbuf *b)
{
	char *p;

	if (b->err)
		return NULL;
	if (b->p == NULL)
		gh_sbuf_add(b, "", 0);
	if (b->err)
		return NULL;
	p = b->p;
	gh_sbuf_init(b, b->max);
	return p;
}

void
gh_sbuf_free(struct gh_sbuf *b)
{
	free(b->p);
	gh_sbuf_init(b, b->max);
}
