/*
 * filename.h - a safe name from whatever filename a client sent
 *
 * Plain C (no nginx types) so it is unit-tested and fuzzed on its own.
 * The result is what Gatehouse shows and records as the file's name and the
 * extension it checks; files are stored under generated names anyway, so
 * the aim is a name that cannot mislead a person, a shell, a browser or a
 * file system, not a faithful copy.
 *
 * gh_fn_sanitize() does, in this order:
 *   1. keeps only what follows the last '/' or '\' (any client OS's path);
 *   2. decodes UTF-8 strictly: each invalid byte (overlong forms,
 *      surrogates, stray continuation bytes) becomes '_';
 *   3. drops NUL, C0/C1 control characters and DEL, and invisible Unicode
 *      that can disguise a name: bidirectional controls (U+202E RIGHT-TO-LEFT
 *      OVERRIDE turns "gpj.exe" around), zero-width characters, soft hyphen,
 *      BOM, variation selectors;
 *   4. replaces with '_' every ASCII character other than letters, digits,
 *      '-', '_' and '.', Unicode spaces, and Unicode look-alikes of '/', '\'
 *      and '.' (U+2215, U+FF0F, U+FF0E, ...);
 *   5. strips leading and trailing dots and blanks ("..", ".htaccess",
 *      Windows' "evil.php." and "evil.php "), and turns a leading '-' into
 *      '_' (no option injection into tools run on the file);
 *   6. keeps only the last extension, and only if it is 1-16 ASCII letters
 *      or digits; it is lowercased.  Every other dot becomes '_', so
 *      "shell.php.jpg" is "shell_php.jpg" and nothing downstream can read it
 *      as PHP;
 *   7. prefixes '_' to Windows device names (CON, NUL, COM1, ...);
 *   8. truncates the part before the extension on a UTF-8 character
 *      boundary so the whole name fits max_len bytes (at most 255);
 *   9. if nothing is left, the name is "unnamed".
 * The result is never empty, is valid UTF-8, has no '/', '\', control or
 * invisible characters, and never starts with '.' or '-'.
 */
#ifndef GATEHOUSE_NGX_FILENAME_H
#define GATEHOUSE_NGX_FILENAME_H

#include <stddef.h>

#define GH_FN_MAX      255   /* bytes, the usual file system name limit */
#define GH_FN_MIN      24    /* smallest max_len accepted */
#define GH_FN_EXT_MAX  16    /* longest extension kept */
#define GH_FN_FALLBACK "unnamed"

/* What gh_fn_sanitize changed, OR-ed into *flags. */
#define GH_FN_PATH      0x001u  /* a directory part was removed */
#define GH_FN_CONTROL   0x002u  /* NUL or control characters dropped */
#define GH_FN_BADUTF8   0x004u  /* invalid UTF-8 replaced */
#define GH_FN_UNICODE   0x008u  /* invisible or look-alike characters */
#define GH_FN_CHARS     0x010u  /* other characters replaced by '_' */
#define GH_FN_DOTS      0x020u  /* dots stripped or replaced (extra ext.) */
#define GH_FN_TRUNCATED 0x040u  /* shortened to max_len */
#define GH_FN_RESERVED  0x080u  /* a Windows device name was prefixed */
#define GH_FN_EMPTY     0x100u  /* nothing usable: the fallback name */

/*
 * gh_fn_sanitize - write the safe form of in[0..in_len) to out.
 *   in        the client's filename, any bytes (NUL included).
 *   out       receives the NUL-terminated name; out_size must be at least
 *             max_len + 1.
 *   max_len   longest result in bytes, GH_FN_MIN..GH_FN_MAX; 0 means
 *             GH_FN_MAX.
 *   flags     if not NULL, receives GH_FN_* bits saying what was changed.
 * Returns the length of the name (>= 1), or 0 if the arguments are bad.
 */
size_t gh_fn_sanitize(const char *in, size_t in_len, char *out,
                      size_t out_size, size_t max_len, unsigned *flags);

/*
 * gw_fn_ext - the lowercase extension of name (after its last '.'), if it
 * is 1-GH_FN_EXT_MAX ASCII letters or digits and the dot is not the first
 * character.  ext must hold GH_FN_EXT_MAX + 1 bytes.  Returns the length,
 * 0 (and ext "") when there is none.
 */
size_t gw_fn_ext(const char *name, size_t len, char *ext, size_t ext_size);

/*
 * The client's filename as it was, for the record and the answer beside
 * the safe name: its bytes are untrusted, so it is kept escaped by
 * gh_text_escape (gatehouse/text.h; the rule is in docs/events.md,
 * "Untrusted text"), cut past GH_FN_ORIG_MAX bytes with GH_TEXT_CUT_MARK.
 */
#define GH_FN_ORIG_MAX     1024  /* bytes of the escaped original kept */

#endif /* GATEHOUSE_NGX_FILENAME_H */
