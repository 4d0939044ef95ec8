/*
 * detail.c - the one formatter behind every detail buffer the library fills
 * (see detail_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/text.h"
#include "detail_int.h"

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
	/* cut by vsnprintf: not inside a character */
	if (full > 0 && (size_t)full > strlen(detail))
		detail[gh_utf8_trim(detail, strlen(detail))] = '\0';
	return err;
}
