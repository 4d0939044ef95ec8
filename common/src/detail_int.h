/*
 * detail_int.h - filling the caller's detail buffer, for the library's own
 * files.
 *
 * Many libgatehouse calls take an optional (char *detail, size_t dlen) that
 * says in words what went wrong; either may be NULL or 0.
 */
#ifndef GATEHOUSE_DETAIL_INT_H
#define GATEHOUSE_DETAIL_INT_H

#include <stddef.h>

#include "gatehouse/err.h"

/*
 * gh_detail - format into detail (truncating, on a UTF-8 character
 * boundary; nothing when detail is NULL
 * or dlen 0) and return err unchanged, so that a failing path reads
 * `return gh_detail(detail, dlen, GH_EINVAL, "...", ...);`.
 */
gh_err gh_detail(char *detail, size_t dlen, gh_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
