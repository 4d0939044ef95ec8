/*
 * utf8.h - the little UTF-8 knowledge notifyd needs
 *
 * Everything notifyd sends is UTF-8: JSON payloads (which jansson refuses
 * to build from invalid UTF-8), mail headers encoded per RFC 2047, SMS
 * bodies.  Whenever a string is cut to a receiver's limit it must be cut
 * between characters, never inside one.
 */
#ifndef GH_NOTIFYD_UTF8_H
#define GH_NOTIFYD_UTF8_H

#include <stddef.h>

/* gh_utf8_valid - 1 if n bytes at s are well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
int gh_utf8_valid(const char *s, size_t n);

/* gh_utf8_seqlen - the length a sequence starting with byte c claims
 * (1 for ASCII and for bytes that cannot start a sequence). */
size_t gh_utf8_seqlen(unsigned char c);

/*
 * gh_utf8_cut - the largest k <= max (and <= n) such that the first k
 * bytes of s end on a character boundary.
 */
size_t gh_utf8_cut(const char *s, size_t n, size_t max);

/*
 * gh_utf8_truncate_chars - cut s (NUL-terminated, in place, cap bytes of
 * room) to at most max characters (code points).  If it was cut and
 * ellipsis is set, the last character kept is replaced by U+2026 so the
 * reader sees the cut (when cap leaves room for its 3 bytes).  Returns 1
 * if cut.
 */
int gh_utf8_truncate_chars(char *s, size_t cap, size_t max, int ellipsis);

#endif /* GH_NOTIFYD_UTF8_H */
