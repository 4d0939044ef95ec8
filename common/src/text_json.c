/*
 * text_json.c - untrusted bytes as a JSON string (gatehouse/text.h).  A file
 * of its own so that the rest of text.c links without jansson (the DKIM
 * test tools use the library with libcrypto alone).
 */
#include <stdlib.h>
#include <string.h>

#include "gatehouse/text.h"

json_t *
gh_text_json(const char *s, size_t max, unsigned flags)
{
	char small[256], *buf = small;
	size_t len, n;
	json_t *j;

	if (s == NULL)
		s = "";
	if (max < GH_TEXT_ESC_MIN - 1)
		max = GH_TEXT_ESC_MIN - 1;
	len = strlen(s);
	/* room for the whole escape when it is smaller than max: short values
	 * stay on the stack whatever max is */
	n = max + 1;
	if (len < n / GH_TEXT_ESC_GROWTH)
		n = len * GH_TEXT_ESC_GROWTH + 1;
	if (n < GH_TEXT_ESC_MIN)
		n = GH_TEXT_ESC_MIN;
	if (n > sizeof(small)) {
		buf = malloc(n);
		if (buf == NULL)
			return NULL;
	}
	len = gh_text_escape(s, len, buf, n, flags, NULL);
	j = json_stringn(buf, len);
	if (buf != small)
		free(buf);
	return j;
}
