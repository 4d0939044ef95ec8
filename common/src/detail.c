/*
 * detail.c - the one formatter behind every detail buffer the library fills
 * (see detail_int.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "detail_int.h"

gh_err
gh_detail(char *detail, size_t dlen, gh_err err, const char *fmt, ...)
{
	va_list ap;

	if (detail == NULL || dlen == 0)
		return err;
	va_start(ap, fmt);
	vsnprintf(detail, dlen, fmt, ap);
	va_end(ap);
	return err;
}
