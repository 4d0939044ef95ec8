/*
 * hdrparse.c - split a raw message's header block into (name, value) fields
 * the way libmilter delivers them; see hdrparse.h for the accepted syntax.
 */
#include <stddef.h>
#include <string.h>

#include "hdrparse.h"

/* Length of the line ending at p (2 for CRLF, 1 for LF), 0 if none. */
static size_t
eol_len(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

gh_err
gm_hdrparse(const char *msg, size_t len, gm_hdrparse_fn fn, void *arg,
    size_t *body_off)
{
	const char *p = msg;
	const char *end;
	gh_err err;

	if ((msg == NULL && len > 0) || fn == NULL || body_off == NULL)
		return GH_EINVAL;
	end = msg + len;
	while (p < end) {
		const char *name = p;
		const char *value;
		const char *vend;
		size_t namelen;
		size_t el;

		el = eol_len(p, end);
		if (el > 0) {
			*body_off = (size_t)(p + el - msg);
			return GH_OK;
		}
		if (*p == ' ' || *p == '\t')
			return GH_EINVAL;	/* continuation of nothing */
		while (p < end && *p != ':' && (unsigned char)*p > 32 &&
		    (unsigned char)*p < 127)
			p++;
		if (p == name)
			return GH_EINVAL;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || *p != ':')
			return GH_EINVAL;
		namelen = (size_t)(p - name);
		value = ++p;
		/* The value runs to a line end not followed by whitespace. */
		for (;;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (nl == NULL) {
				vend = end;
				p = end;
				break;
			}
			if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
				p = nl + 1;
				continue;
			}
			vend = (nl > value && nl[-1] == '\r') ? nl - 1 : nl;
			p = nl + 1;
			break;
		}
		if (memchr(value, '\0', (size_t)(vend - value)) != NULL)
			return GH_EINVAL;
		err = fn(arg, name, namelen, value, (size_t)(vend - value));
		if (err)
			return err;
	}
	*body_off = len;
	return GH_OK;
}
