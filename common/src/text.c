/*
 * text.c - strict UTF-8 and the escape of untrusted bytes (gatehouse/text.h).
 */
#include <string.h>

#include "gatehouse/text.h"

size_t
gh_utf8_next(const void *str, size_t len, uint32_t *cpp)
{
	const unsigned char *s = str;
	unsigned char c, lo = 0x80, hi = 0xBF;
	uint32_t cp;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		cp = c;
		n = 1;
		goto done;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1Fu;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0Fu;
		/* The second byte's range is what rules out overlong forms and
		 * surrogates without decoding first (RFC 3629, section 4). */
		if (c == 0xE0)
			lo = 0xA0;          /* overlong */
		else if (c == 0xED)
			hi = 0x9F;          /* U+D800-U+DFFF */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07u;
		if (c == 0xF0)
			lo = 0x90;          /* overlong */
		else if (c == 0xF4)
			hi = 0x8F;          /* above U+10FFFF */
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		unsigned char t = s[i];

		if (t < (i == 1 ? lo : 0x80) || t > (i == 1 ? hi : 0xBF))
			return 0;
		cp = (cp << 6) | (t & 0x3Fu);
	}
done:
	if (cpp != NULL)
		*cpp = cp;
	return n;
}

size_t
gh_utf8_valid_prefix(const void *str, size_t n)
{
	const unsigned char *s = str;
	size_t i = 0, k;

	while (i < n) {
		k = gh_utf8_next(s + i, n - i, NULL);
		if (k == 0)
			break;
		i += k;
	}
	return i;
}

int
gh_utf8_valid(const void *s, size_t n)
{
	return gh_utf8_valid_prefix(s, n) == n;
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

size_t
gh_utf8_trim(const char *s, size_t n)
{
	size_t i = n, need;
	unsigned char c;

	/* back over at most three continuation bytes to their lead byte */
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return n;
	c = (unsigned char)s[i - 1];
	if (c < 0xC0)
		return n;       /* ends on ASCII, or stray continuation bytes */
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	return n - (i - 1) < need ? i - 1 : n;
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

int
gh_cp_in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (cp >= r[i][0] && cp <= r[i][1])
			return 1;
	}
	return 0;
}

/* The one table of characters that render as nothing or reorder the text
 * around them, used by the escape, the upload filename check and the
 * gatehouse command's output: the format characters (Unicode category
 * Cf, as of Unicode 15), the other default-ignorable code points (fillers
 * that draw nothing, unassigned ones), variation selectors, tags. */
int
gh_text_invisible(uint32_t cp)
{
	static const uint32_t r[][2] = {
		{0x00AD, 0x00AD},	/* soft hyphen */
		{0x034F, 0x034F},	/* combining grapheme joiner */
		{0x0600, 0x0605},	/* Arabic number signs (Cf) */
		{0x061C, 0x061C},	/* Arabic letter mark (bidi) */
		{0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x0890, 0x0891},
		{0x08E2, 0x08E2},
		{0x115F, 0x1160},	/* Hangul fillers */
		{0x17B4, 0x17B5},
		{0x180B, 0x180F},	/* Mongolian selectors, vowel separator */
		{0x200B, 0x200F},	/* zero-width space, joiners, LRM, RLM */
		{0x202A, 0x202E},	/* bidi embeddings and overrides */
		{0x2060, 0x206F},	/* word joiner, invisible operators, isolates */
		{0x3164, 0x3164},	/* Hangul filler */
		{0xFDD0, 0xFDEF},	/* noncharacters */
		{0xFE00, 0xFE0F},	/* variation selectors */
		{0xFEFF, 0xFEFF},	/* zero-width no-break space (BOM) */
		{0xFFA0, 0xFFA0},	/* halfwidth Hangul filler */
		{0xFFF0, 0xFFFB},	/* unassigned, interlinear annotations */
		{0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
		{0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
		{0xE0000, 0xE0FFF},	/* tags, variation selectors supplement,
					   unassigned default ignorables */
	};

	if ((cp & 0xFFFEu) == 0xFFFEu)          /* noncharacters */
		return 1;
	return gh_cp_in_ranges(cp, r, sizeof(r) / sizeof(r[0]));
}

int
gh_text_variation_selector(uint32_t cp)
{
	return (cp >= 0xFE00 && cp <= 0xFE0F) ||
	    (cp >= 0xE0100 && cp <= 0xE01EF);
}

/* ---- ASCII ---- */

int
gh_ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int
gh_ascii_ieq(const char *s, size_t len, const char *lit)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (lit[i] == '\0' ||
		    gh_ascii_lower((unsigned char)s[i]) != lit[i])
			return 0;
	}
	return lit[len] == '\0';
}

/* ---- the escape ---- */

static size_t
hex_esc(char *o, const char *pre, uint32_t v, int braces)
{
	static const char hex[] = "0123456789abcdef";
	char d[8];
	size_t n = 0, k = 0, i;

	do {
		d[n++] = hex[v & 0xFu];
		v >>= 4;
	} while (v != 0 || (!braces && n < 2) || (braces && n < 4));
	for (i = 0; pre[i] != '\0'; i++)
		o[k++] = pre[i];
	if (braces)
		o[k++] = '{';
	while (n > 0)
		o[k++] = d[--n];
	if (braces)
		o[k++] = '}';
	return k;
}

/* The escape of the character at s[*pos] into o (at most
 * GH_TEXT_ESC_GROWTH bytes); advances *pos. */
static size_t
esc_next(const unsigned char *s, size_t len, size_t *pos, char *o,
         unsigned flags)
{
	uint32_t cp = 0;
	size_t n = gh_utf8_next(s + *pos, len - *pos, &cp);

	if (n == 0)
		return hex_esc(o, "\\x", s[(*pos)++], 0);
	*pos += n;
	if (n == 1) {
		switch (cp) {
		case '\\':
			o[0] = '\\';
			if (flags & GH_TEXT_IDENT)
				return 1;
			o[1] = '\\';
			return 2;
		case '\t':
			o[0] = '\\';
			o[1] = 't';
			return 2;
		case '\n':
			o[0] = '\\';
			o[1] = 'n';
			return 2;
		case '\r':
			o[0] = '\\';
			o[1] = 'r';
			return 2;
		default:
			break;
		}
		if (cp < 0x20 || cp == 0x7F)
			return hex_esc(o, "\\x", cp, 0);
		o[0] = (char)cp;
		return 1;
	}
	if (cp <= 0x9F || gh_text_invisible(cp) || cp == 0x2028 ||
	    cp == 0x2029)
		return hex_esc(o, "\\u", cp, 1);
	memcpy(o, s + *pos - n, n);
	return n;
}

size_t
gh_text_escape(const char *in, size_t in_len, char *out, size_t out_size,
               unsigned flags, int *cut)
{
	const unsigned char *s = (const unsigned char *)in;
	char piece[GH_TEXT_ESC_GROWTH + 6];
	size_t pos, o = 0, n, keep = 0, room, cut_room;
	int over = 0;

	if (cut != NULL)
		*cut = 0;
	if (out == NULL || out_size < GH_TEXT_ESC_MIN ||
	    (in == NULL && in_len > 0)) {
		if (out != NULL && out_size > 0)
			out[0] = '\0';
		return 0;
	}

	/* One pass: keep is the last boundary between two escapes that still
	 * leaves room for the mark, where a text found too long is cut. */
	room = out_size - 1;
	cut_room = room - GH_TEXT_CUT_MARK_LEN;
	for (pos = 0; pos < in_len; ) {
		n = esc_next(s, in_len, &pos, piece, flags);
		if (o + n > room) {
			over = 1;
			break;
		}
		memcpy(out + o, piece, n);
		o += n;
		if (o <= cut_room)
			keep = o;
	}
	if (over) {
		o = keep;
		memcpy(out + o, GH_TEXT_CUT_MARK, GH_TEXT_CUT_MARK_LEN);
		o += GH_TEXT_CUT_MARK_LEN;
		if (cut != NULL)
			*cut = 1;
	}
	out[o] = '\0';
	return o;
}

/* The length of the escape or character at s (gh_text_escape's output). */
static size_t
escaped_unit(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	if (u[0] == '\\' && len >= 2) {
		switch (u[1]) {
		case 'x':
			return len < 4 ? len : 4;
		case 'u':
			for (n = 2; n < len && u[n] != '}'; n++)
				;
			return n < len ? n + 1 : len;
		case '.':
			return len < GH_TEXT_CUT_MARK_LEN ? len
			                                  : GH_TEXT_CUT_MARK_LEN;
		case '\\': case 't': case 'n': case 'r':
			return 2;
		default:
			/* a lone '\' of a GH_TEXT_IDENT name */
			return 1;
		}
	}
	n = (u[0] < 0x80) ? 1 : (u[0] < 0xE0) ? 2 : (u[0] < 0xF0) ? 3 : 4;
	return n < len ? n : len;
}

size_t
gh_text_escaped_cut(const char *s, size_t len, size_t max)
{
	size_t o = 0, n;

	if (len <= max)
		return len;
	if (max < GH_TEXT_CUT_MARK_LEN)
		return 0;
	while (o < len) {
		n = escaped_unit(s + o, len - o);
		if (o + n > max - GH_TEXT_CUT_MARK_LEN)
			break;
		o += n;
	}
	return o;
}
