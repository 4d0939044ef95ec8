/*
 * gatehouse/text.h - UTF-8 and untrusted text, the one copy every part uses
 *
 * Names, subjects, addresses and filenames reach the plugins from the
 * network: any bytes, of any length.  What is stored, logged or put in an
 * event must be valid UTF-8 (jansson refuses anything else) that cannot
 * forge a log line or hide what it says.  This header holds:
 *
 *   - a strict UTF-8 decoder (RFC 3629: no overlong forms, no surrogates
 *     U+D800-U+DFFF, nothing above U+10FFFF, no truncated sequence) and the
 *     few ways callers use it: next code point, whole-buffer check, cutting
 *     on a character boundary;
 *   - the escape of untrusted bytes (gh_text_escape), the one rule by which
 *     every producer turns them into text for a record or an event; the
 *     rule is documented in docs/events.md ("Untrusted text").
 *
 * Every function works on caller buffers, never allocates (except
 * gh_text_json, which returns a jansson string), never logs, and is thread
 * safe.  Inputs are (pointer, length): NUL bytes are data, not ends.
 */
#ifndef GATEHOUSE_TEXT_H
#define GATEHOUSE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- UTF-8 ---- */

/*
 * gh_utf8_next - the length (1-4) of the well-formed UTF-8 sequence at
 * s[0..len), its code point in *cp (may be NULL); 0 when s does not start
 * with one: a stray continuation byte, 0xC0/0xC1/0xF5-0xFF, an overlong
 * form, a surrogate, a code point above U+10FFFF, or a sequence cut short
 * by len.  len 0 gives 0.
 */
size_t gh_utf8_next(const void *s, size_t len, uint32_t *cp);

/* gh_utf8_valid - 1 if all n bytes at s are well-formed UTF-8 (as
 * gh_utf8_next sees it), else 0.  n 0 is valid. */
int gh_utf8_valid(const void *s, size_t n);

/* gh_utf8_valid_prefix - the length of the longest start of s[0..n) that
 * is well-formed UTF-8: n when all of it is. */
size_t gh_utf8_valid_prefix(const void *s, size_t n);

/* gh_utf8_seqlen - the length a sequence starting with lead byte c claims
 * (1 for ASCII and for bytes that cannot start one).  Only for text
 * already known to be valid: it checks nothing. */
size_t gh_utf8_seqlen(unsigned char c);

/*
 * gh_utf8_cut - the largest k <= max (and <= n) such that s[0..k) does not
 * end inside a character: where to cut valid UTF-8 to fit max bytes.
 */
size_t gh_utf8_cut(const char *s, size_t n, size_t max);

/*
 * gh_utf8_trim - n, less a character cut short at the end of s[0..n)
 * (a lead byte whose continuation bytes are missing): the length to keep
 * of text that something else (snprintf) cut without looking.  Bytes
 * before that are not judged.
 */
size_t gh_utf8_trim(const char *s, size_t n);

/*
 * gh_utf8_truncate_chars - cut s (valid UTF-8, NUL-terminated, in place;
 * cap bytes of room) to at most max characters.  With ellipsis, a cut
 * string ends with U+2026 in place of its last kept character when there
 * is room.  Returns 1 if s was cut, else 0.
 */
int gh_utf8_truncate_chars(char *s, size_t cap, size_t max, int ellipsis);

/* gh_cp_in_ranges - 1 if code point cp lies in one of the n inclusive
 * ranges r[i][0]..r[i][1] (the tables of characters to drop or escape). */
int gh_cp_in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n);

/*
 * gh_text_invisible - 1 for code points that render as nothing or reorder
 * the text around them: soft hyphen, zero-width characters, bidi controls
 * and isolates, variation selectors, fillers, tags, noncharacters, the
 * other format characters (Unicode category Cf) and default-ignorable code
 * points.  Names made of them look like other names.  The one table for
 * every part (the escape, upload filenames, the gatehouse command).
 */
int gh_text_invisible(uint32_t cp);

/*
 * gh_text_variation_selector - 1 for U+FE00-U+FE0F and U+E0100-U+E01EF,
 * which gh_text_invisible counts: a terminal display keeps them (emoji
 * need U+FE0F, and they hide nothing next to a visible character).
 */
int gh_text_variation_selector(uint32_t cp);

/* ---- ASCII, whatever the locale ---- */

/* gh_ascii_lower - c lower-cased if it is an ASCII capital, else c. */
int gh_ascii_lower(int c);

/* gh_ascii_ieq - 1 if s[0..len) equals the lowercase string lit,
 * ignoring ASCII case (protocol words: "form-data", "utf-8", "png"). */
int gh_ascii_ieq(const char *s, size_t len, const char *lit);

/* ---- untrusted bytes as text ---- */

/*
 * The escape (gatehouse(1), OUTPUT, uses the same forms):
 *   valid UTF-8                     as it is
 *   '\'                             \\  (so every other '\' starts an escape;
 *                                   kept as one '\' with GH_TEXT_IDENT)
 *   TAB, LF, CR                     \t \n \r
 *   other C0 bytes (NUL), DEL       \xhh
 *   bytes that are not UTF-8        \xhh, each (overlong, surrogate, cut
 *                                   short, > U+10FFFF: every byte of it)
 *   C1 controls U+0080-U+009F,      \u{hhhh}  (U+202E is \u{202e})
 *   invisible characters (gh_text_invisible), U+2028, U+2029
 * hh and hhhh are lowercase hex.  The result is valid UTF-8 with no
 * control or invisible character, so it is safe in JSON, a terminal and a
 * log line, and still says what was sent.  Past its room it is cut between
 * two escapes (never inside one or inside a character) and ends with the
 * mark GH_TEXT_CUT_MARK, which is no escape of its own.
 *
 * GH_TEXT_IDENT is for identities matched against other records (a login
 * name, a mail address): a '\' in them is part of the name (DOMAIN\user),
 * so it is kept single and such a name stays itself; a name that needed no
 * escape is then stored exactly as it was given.
 */
#define GH_TEXT_IDENT        0x1u
#define GH_TEXT_CUT_MARK     "\\..."
#define GH_TEXT_CUT_MARK_LEN 4
#define GH_TEXT_ESC_MIN      16    /* smallest out_size gh_text_escape takes */
#define GH_TEXT_ESC_GROWTH   10    /* most bytes one input character becomes */

/*
 * gh_text_escape - write the escape of in[0..in_len) to out: at most
 * out_size - 1 bytes and a NUL (out_size >= GH_TEXT_ESC_MIN).  flags: 0 or
 * GH_TEXT_IDENT.  *cut (may be NULL) says whether it was cut.  in NULL with
 * in_len 0 is the empty text.  Returns the length written; 0 (and out ""
 * if it has room) for an empty input or bad arguments.
 */
size_t gh_text_escape(const char *in, size_t in_len, char *out,
                      size_t out_size, unsigned flags, int *cut);

/*
 * gh_text_escaped_cut - the length of the longest start of an escaped text
 * (s, len: gh_text_escape's output) that ends between two escapes and
 * leaves room for GH_TEXT_CUT_MARK within max bytes: cut there and append
 * the mark.  Returns len when the whole fits in max; 0 when max is smaller
 * than the mark.
 */
size_t gh_text_escaped_cut(const char *s, size_t len, size_t max);

/*
 * gh_text_json - a JSON string holding the escape of the NUL-terminated s
 * (NULL is ""), at most max bytes (max >= GH_TEXT_ESC_MIN - 1; cut with the
 * mark past that), with flags as gh_text_escape.  A new reference, NULL
 * only when out of memory.
 */
json_t *gh_text_json(const char *s, size_t max, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_TEXT_H */
