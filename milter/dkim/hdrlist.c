/*
 * hdrlist.c - bounded copy of a message's header fields, and the DKIM rules
 * for picking fields out of it (bottom-up instances, oversigning).
 */
#include <stdlib.h>
#include <string.h>

#include "hdrlist.h"

static int
is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

static size_t
trim_name(const char *name, size_t len)
{
	while (len > 0 && is_wsp(name[len - 1]))
		len--;
	return len;
}

static int
lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

int
gm_hdr_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	alen = trim_name(a, alen);
	blen = trim_name(b, blen);
	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int
valid_name(const char *name, size_t len)
{
	size_t i;
	size_t core = trim_name(name, len);

	if (core == 0)
		return 0;
	for (i = 0; i < core; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch <= 32 || ch >= 127 || ch == ':')
			return 0;
	}
	return 1;
}

void
gm_hdrlist_init(struct gm_hdrlist *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
	l->total = 0;
}

void
gm_hdrlist_clear(struct gm_hdrlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free((char *)l->v[i].name);	/* name and value share it */
	free(l->v);
	gm_hdrlist_init(l);
}

gh_err
gm_hdrlist_add(struct gm_hdrlist *l, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	char *copy;
	size_t fieldlen;

	if (l == NULL || name == NULL || (value == NULL && valuelen > 0))
		return GH_EINVAL;
	if (!valid_name(name, namelen))
		return GH_EINVAL;
	if (namelen > GH_HDR_MAX_FIELD || valuelen > GH_HDR_MAX_FIELD)
		return GH_ETOOBIG;
	fieldlen = namelen + 1 + valuelen;
	if (fieldlen > GH_HDR_MAX_FIELD || l->n >= GH_HDR_MAX_FIELDS ||
	    l->total + fieldlen > GH_HDR_MAX_TOTAL)
		return GH_ETOOBIG;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 32;
		struct gm_hdr *nv;

		if (ncap > GH_HDR_MAX_FIELDS)
			ncap = GH_HDR_MAX_FIELDS;
		nv = realloc(l->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return GH_ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	/* One allocation: "name\0value\0". */
	copy = malloc(namelen + valuelen + 2);
	if (copy == NULL)
		return GH_ENOMEM;
	memcpy(copy, name, namelen);
	copy[namelen] = '\0';
	if (valuelen > 0)
		memcpy(copy + namelen + 1, value, valuelen);
	copy[namelen + 1 + valuelen] = '\0';
	l->v[l->n].name = copy;
	l->v[l->n].namelen = namelen;
	l->v[l->n].value = copy + namelen + 1;
	l->v[l->n].valuelen = valuelen;
	l->n++;
	l->total += fieldlen;
	return GH_OK;
}

size_t
gm_hdrlist_count(const struct gm_hdrlist *l, const char *name)
{
	size_t i;
	size_t c = 0;
	size_t len = strlen(name);

	for (i = 0; i < l->n; i++)
		if (gm_hdr_name_eq(l->v[i].name, l->v[i].namelen, name, len))
			c++;
	return c;
}

gh_err
gm_hdrlist_select(const struct gm_hdrlist *l, const char *const *names,
    size_t n, const struct gm_hdr **out)
{
	size_t i;

	if (l == NULL || (n > 0 && (names == NULL || out == NULL)))
		return GH_EINVAL;
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		size_t used = 0;	/* earlier uses of the same name */
		size_t j;

		for (j = 0; j < i; j++)
			if (gm_hdr_name_eq(names[j], strlen(names[j]), names[i],
			    len))
				used++;
		out[i] = NULL;
		for (j = l->n; j-- > 0;) {
			if (!gm_hdr_name_eq(l->v[j].name, l->v[j].namelen,
			    names[i], len))
				continue;
			if (used == 0) {
				out[i] = &l->v[j];
				break;
			}
			used--;
		}
	}
	return GH_OK;
}

static int
in_list(const char *const *list, size_t n, const char *name)
{
	size_t i;
	size_t len = strlen(name);

	for (i = 0; i < n; i++)
		if (gm_hdr_name_eq(list[i], strlen(list[i]), name, len))
			return 1;
	return 0;
}

static gh_err
plan_name(const struct gm_hdrlist *l, const char *name, int over,
    const char **out, size_t *nout)
{
	size_t times = gm_hdrlist_count(l, name) + (over ? 1 : 0);

	/* Names we write into h= must be bare: no whitespace before ':'. */
	if (!valid_name(name, strlen(name)) ||
	    trim_name(name, strlen(name)) != strlen(name))
		return GH_EINVAL;
	if (times > GH_HDR_MAX_SIGNED - *nout)
		return GH_ETOOBIG;
	while (times-- > 0)
		out[(*nout)++] = name;
	return GH_OK;
}

gh_err
gm_hdrlist_plan(const struct gm_hdrlist *l, const char *const *sign,
    size_t nsign, const char *const *oversign, size_t noversign,
    const char **out, size_t *nout)
{
	size_t i;
	size_t n = 0;
	int from = 0;
	gh_err err;

	if (l == NULL || out == NULL || nout == NULL ||
	    (nsign > 0 && sign == NULL) || (noversign > 0 && oversign == NULL))
		return GH_EINVAL;
	*nout = 0;
	for (i = 0; i < nsign; i++) {
		if (in_list(sign, i, sign[i]))
			continue;
		err = plan_name(l, sign[i], in_list(oversign, noversign,
		    sign[i]), out, &n);
		if (err)
			return err;
	}
	for (i = 0; i < noversign; i++) {
		if (in_list(sign, nsign, oversign[i]) ||
		    in_list(oversign, i, oversign[i]))
			continue;
		err = plan_name(l, oversign[i], 1, out, &n);
		if (err)
			return err;
	}
	for (i = 0; i < n; i++)
		if (gm_hdr_name_eq(out[i], strlen(out[i]), "From", 4) &&
		    gm_hdrlist_count(l, "From") > 0)
			from = 1;
	if (!from)
		return GH_EINVAL;
	*nout = n;
	return GH_OK;
}
