/*
 * utf8.c - UTF-8 validation and boundary-safe cutting (see utf8.h).
 */
#include <string.h>

#include "utf8.h"

int
gh_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		unsigned cp;
		size_t len, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

size_t
gh_utf8_seqlen(unsigned char c)
{
	if (c >= 0xc0 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf7)
		return 4;
	return 1;
}

size_t
gh_utf8_cut(const char *s, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	/* Back up over continuation bytes to the start of the cut character. */
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

int
gh_utf8_truncate_chars(char *s, size_t cap, size_t max, int ellipsis)
{
	size_t i = 0, chars = 0, n = strlen(s), last = 0;

	while (i < n && chars < max) {
		last = i;
		i += gh_utf8_seqlen((unsigned char)s[i]);
		chars++;
	}
	if (i >= n)
		return 0;
	if (ellipsis && max > 0 && last + 4 <= cap) {
		memcpy(s + last, "\xe2\x80\xa6", 3);
		s[last + 3] = '\0';
	} else {
		s[i] = '\0';
	}
	return 1;
}
