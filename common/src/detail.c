/*
 * detail.c - the one formatter behind every detail buffer the library fills
 * (see detail_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "detail_int.h"

/*
 * A detail that vsnprintf cut short may end inside a UTF-8 character (a
 * user's key or value quoted in it); callers put details into JSON, where
 * a broken character makes the whole answer unencodable.  Drop the
 * partial character at the end.
 */
static void
cut_on_char(char *s, size_t full)
{
	size_t n = strlen(s), i, need;
	unsigned char c;

	if (full <= n || n == 0)
		return;   /* not cut */
	i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)s[i - 1];
	if (c < 0x80)
		return;   /* ends on ASCII (any continuation bytes were stray) */
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

gh_err
gh_detail(char *detail, size_t dlen, gh_err err, const char *fmt, ...)
{
	va_list ap;
	int full;

	if (detail == NULL || dlen == 0)
		return err;
	va_start(ap, fmt);
	full = vsnprintf(detail, dlen, fmt, ap);
	va_end(ap);
	if (full > 0)
		cut_on_char(detail, (size_t)full);
	return err;
}
