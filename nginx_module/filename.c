/*
 * filename.c - safe names from client filenames; see filename.h.
 *
 * The name is walked as a stream of "cleaned" characters (each input
 * character mapped to its replacement bytes and a kind) three times: to find
 * where the name really starts and ends and its last dot, to check the
 * extension, and to write the result.  So any input length works with no
 * buffer beyond the output, and every pass agrees on what the name is.
 */
#include <stdint.h>
#include <string.h>

#include "filename.h"

enum kind {
	K_KEEP,     /* part of the name */
	K_DOT,      /* '.' */
	K_BLANK,    /* a space: '_' inside the name, stripped at its ends */
	K_DROP      /* nothing */
};

struct cch {
	unsigned char b[4];
	size_t n;
	enum kind kind;
};

static int
in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (cp >= r[i][0] && cp <= r[i][1])
			return 1;
	}
	return 0;
}

/* Characters that render as nothing (or reorder text around them). */
static int
is_invisible(uint32_t cp)
{
	static const uint32_t r[][2] = {
		{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C},
		{0x115F, 0x1160}, {0x17B4, 0x17B5}, {0x180B, 0x180F},
		{0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x206F},
		{0x3164, 0x3164}, {0xFDD0, 0xFDEF}, {0xFE00, 0xFE0F},
		{0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFFB},
		{0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
	};

	if ((cp & 0xFFFEu) == 0xFFFEu)          /* noncharacters */
		return 1;
	return in_ranges(cp, r, sizeof(r) / sizeof(r[0]));
}

static int
is_uspace(uint32_t cp)
{
	static const uint32_t r[][2] = {
		{0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200A},
		{0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
		{0x3000, 0x3000},
	};

	return in_ranges(cp, r, sizeof(r) / sizeof(r[0]));
}

/* Look-alikes of '/', '\' and '.'. */
static int
is_lookalike(uint32_t cp)
{
	static const uint32_t r[][2] = {
		{0x06D4, 0x06D4}, {0x2024, 0x2026}, {0x2044, 0x2044},
		{0x2215, 0x2216}, {0x2571, 0x2572}, {0x29F5, 0x29F5},
		{0x29F8, 0x29F9}, {0x3002, 0x3002}, {0xFE52, 0xFE52},
		{0xFE68, 0xFE68}, {0xFF0E, 0xFF0F}, {0xFF3C, 0xFF3C},
		{0xFF61, 0xFF61},
	};

	return in_ranges(cp, r, sizeof(r) / sizeof(r[0]));
}

/* Strict UTF-8: the sequence length at s (1-4), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		*cp = c & 0x1Fu;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		*cp = c & 0x0Fu;
		if (c == 0xE0)
			lo = 0xA0;          /* overlong */
		else if (c == 0xED)
			hi = 0x9F;          /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		*cp = c & 0x07u;
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
		*cp = (*cp << 6) | (t & 0x3Fu);
	}
	return n;
}

static void
set1(struct cch *c, unsigned char b, enum kind k)
{
	c->b[0] = b;
	c->n = 1;
	c->kind = k;
}

/* The cleaned form of the character at s[*pos]; advances *pos. */
static void
clean_next(const unsigned char *s, size_t len, size_t *pos, struct cch *c,
           unsigned *flags)
{
	uint32_t cp = 0;
	size_t n = utf8_seq(s + *pos, len - *pos, &cp);

	if (n == 0) {
		*flags |= GH_FN_BADUTF8;
		set1(c, '_', K_KEEP);
		(*pos)++;
		return;
	}
	*pos += n;
	if (n == 1) {
		unsigned char a = (unsigned char)cp;

		if (a < 0x20 || a == 0x7F) {
			*flags |= GH_FN_CONTROL;
			c->n = 0;
			c->kind = K_DROP;
		} else if (a == '.') {
			set1(c, '.', K_DOT);
		} else if (a == ' ') {
			set1(c, '_', K_BLANK);
		} else if ((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') ||
		    (a >= '0' && a <= '9') || a == '-' || a == '_') {
			set1(c, a, K_KEEP);
		} else {
			*flags |= GH_FN_CHARS;
			set1(c, '_', K_KEEP);
		}
		return;
	}
	if (cp <= 0x9F) {                       /* C1 controls */
		*flags |= GH_FN_CONTROL;
		c->n = 0;
		c->kind = K_DROP;
	} else if (is_invisible(cp)) {
		*flags |= GH_FN_UNICODE;
		c->n = 0;
		c->kind = K_DROP;
	} else if (is_uspace(cp)) {
		*flags |= GH_FN_UNICODE;
		set1(c, '_', K_BLANK);
	} else if (is_lookalike(cp)) {
		*flags |= GH_FN_UNICODE;
		set1(c, '_', K_KEEP);
	} else {
		memcpy(c->b, s + *pos - n, n);
		c->n = n;
		c->kind = K_KEEP;
	}
}

static int
is_ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* CON, PRN, AUX, NUL, COM1-9, LPT1-9, any case. */
static int
is_device(const char *s, size_t n)
{
	static const char *const three[] = {"con", "prn", "aux", "nul"};
	char l[4];
	size_t i;

	if (n != 3 && n != 4)
		return 0;
	for (i = 0; i < n; i++)
		l[i] = (char)ascii_lower((unsigned char)s[i]);
	if (n == 3) {
		for (i = 0; i < 4; i++) {
			if (memcmp(l, three[i], 3) == 0)
				return 1;
		}
		return 0;
	}
	return (memcmp(l, "com", 3) == 0 || memcmp(l, "lpt", 3) == 0) &&
	       l[3] >= '1' && l[3] <= '9';
}

size_t
gh_fn_sanitize(const char *in, size_t in_len, char *out, size_t out_size,
               size_t max_len, unsigned *flags)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned fl = 0;
	size_t start = 0, pos, off, i;
	size_t first = SIZE_MAX, last_end = 0;
	size_t dot = SIZE_MAX, pending = SIZE_MAX;
	size_t stem_end, o = 0, budget;
	char ext[GH_FN_EXT_MAX + 1];
	size_t ext_len = 0;
	int ext_ok;
	struct cch c;

	if (max_len == 0)
		max_len = GH_FN_MAX;
	if (out == NULL || max_len < GH_FN_MIN || max_len > GH_FN_MAX ||
	    out_size < max_len + 1 || (in == NULL && in_len > 0))
		return 0;

	/* 1. the last path component; '/' and '\' bytes never occur inside
	 * a UTF-8 sequence, valid or not, so bytes will do. */
	for (i = 0; i < in_len; i++) {
		if (s[i] == '/' || s[i] == '\\')
			start = i + 1;
	}
	if (start > 0)
		fl |= GH_FN_PATH;

	/* 2. where the name starts and ends, and its last inner dot */
	for (pos = start, off = 0; pos < in_len; off += c.n) {
		clean_next(s, in_len, &pos, &c, &fl);
		if (c.kind == K_KEEP) {
			if (first == SIZE_MAX)
				first = off;
			last_end = off + c.n;
			if (pending != SIZE_MAX) {
				dot = pending;
				pending = SIZE_MAX;
			}
		} else if (c.kind == K_DOT && first != SIZE_MAX) {
			pending = off;
		}
	}

	/* 3. the extension: 1-16 ASCII letters or digits after that dot */
	ext_ok = dot != SIZE_MAX;
	for (pos = start, off = 0; ext_ok && pos < in_len; off += c.n) {
		clean_next(s, in_len, &pos, &c, &fl);
		if (off <= dot || off >= last_end || c.n == 0)
			continue;
		if (c.kind != K_KEEP || ext_len >= GH_FN_EXT_MAX ||
		    !is_ascii_alnum(c.b[0]))
			ext_ok = 0;
		else
			ext[ext_len++] = (char)ascii_lower(c.b[0]);
	}
	if (!ext_ok || ext_len == 0)
		ext_len = 0;
	stem_end = ext_len > 0 ? dot : last_end;
	budget = max_len - (ext_len > 0 ? ext_len + 1 : 0);

	/* 4. the part before the extension, whole characters only */
	for (pos = start, off = 0; pos < in_len; off += c.n) {
		clean_next(s, in_len, &pos, &c, &fl);
		if (c.n == 0)
			continue;
		if (first == SIZE_MAX || off < first || off >= stem_end) {
			if (c.kind == K_DOT && off != dot)
				fl |= GH_FN_DOTS;
			else if (c.kind == K_BLANK)
				fl |= GH_FN_CHARS;
			continue;
		}
		if (c.kind == K_DOT)
			fl |= GH_FN_DOTS;
		else if (c.kind == K_BLANK)
			fl |= GH_FN_CHARS;
		if (o + c.n > budget) {
			fl |= GH_FN_TRUNCATED;
			break;
		}
		if (c.kind == K_DOT)
			out[o++] = '_';
		else {
			memcpy(out + o, c.b, c.n);
			o += c.n;
		}
	}

	if (o == 0) {
		fl |= GH_FN_EMPTY;
		o = strlen(GH_FN_FALLBACK);
		memcpy(out, GH_FN_FALLBACK, o);
	} else {
		if (out[0] == '-') {
			out[0] = '_';
			fl |= GH_FN_CHARS;
		}
		if (is_device(out, o)) {
			memmove(out + 1, out, o);
			out[0] = '_';
			o++;
			fl |= GH_FN_RESERVED;
		}
	}
	if (ext_len > 0) {
		out[o++] = '.';
		memcpy(out + o, ext, ext_len);
		o += ext_len;
	}
	out[o] = '\0';
	if (flags != NULL)
		*flags = fl;
	return o;
}

size_t
gh_fn_ext(const char *name, size_t len, char *ext, size_t ext_size)
{
	const char *dot = NULL;
	size_t i, n;

	if (ext == NULL || ext_size < GH_FN_EXT_MAX + 1)
		return 0;
	ext[0] = '\0';
	for (i = len; i > 0; i--) {
		if (name[i - 1] == '.') {
			dot = name + i - 1;
			break;
		}
	}
	if (dot == NULL || dot == name)
		return 0;
	n = len - (size_t)(dot + 1 - name);
	if (n == 0 || n > GH_FN_EXT_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)dot[1 + i];

		if (!is_ascii_alnum(c)) {
			ext[0] = '\0';
			return 0;
		}
		ext[i] = (char)ascii_lower(c);
	}
	ext[n] = '\0';
	return n;
}


/* ---- the original name, escaped ---- */

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

/* The escape of the character at s[*pos] into o (at most 10 bytes). */
static size_t
esc_next(const unsigned char *s, size_t len, size_t *pos, char *o)
{
	uint32_t cp = 0;
	size_t n = utf8_seq(s + *pos, len - *pos, &cp);

	if (n == 0) {
		return hex_esc(o, "\\x", s[(*pos)++], 0);
	}
	*pos += n;
	if (n == 1) {
		switch (cp) {
		case '\\':
			o[0] = '\\';
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
	if (cp <= 0x9F || is_invisible(cp) || cp == 0x2028 || cp == 0x2029)
		return hex_esc(o, "\\u", cp, 1);
	memcpy(o, s + *pos - n, n);
	return n;
}

size_t
gh_fn_escape(const char *in, size_t in_len, char *out, size_t out_size,
             int *cut)
{
	const unsigned char *s = (const unsigned char *)in;
	char piece[16];
	size_t pos, o = 0, n, total = 0, room;

	if (cut != NULL)
		*cut = 0;
	if (out == NULL || out_size < GH_FN_ORIG_MIN ||
	    (in == NULL && in_len > 0))
		return 0;

	/* the whole, measured first: a cut name must have room for the mark */
	for (pos = 0; pos < in_len && total < out_size; )
		total += esc_next(s, in_len, &pos, piece);
	room = (total < out_size) ? out_size - 1
	                          : out_size - 1 - GH_FN_CUT_MARK_LEN;

	for (pos = 0; pos < in_len; ) {
		n = esc_next(s, in_len, &pos, piece);
		if (o + n > room)
			break;
		memcpy(out + o, piece, n);
		o += n;
	}
	if (total >= out_size) {
		memcpy(out + o, GH_FN_CUT_MARK, GH_FN_CUT_MARK_LEN);
		o += GH_FN_CUT_MARK_LEN;
		if (cut != NULL)
			*cut = 1;
	}
	out[o] = '\0';
	return o;
}

/* The length of the escape or character at s (gh_fn_escape's output). */
static size_t
escaped_unit(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	if (u[0] == '\\' && len >= 2) {
		if (u[1] == 'x')
			return len < 4 ? len : 4;
		if (u[1] == 'u') {
			for (n = 2; n < len && u[n] != '}'; n++)
				;
			return n < len ? n + 1 : len;
		}
		if (u[1] == '.')
			return len < GH_FN_CUT_MARK_LEN ? len : GH_FN_CUT_MARK_LEN;
		return 2;
	}
	n = (u[0] < 0x80) ? 1 : (u[0] < 0xE0) ? 2 : (u[0] < 0xF0) ? 3 : 4;
	return n < len ? n : len;
}

size_t
gh_fn_escaped_cut(const char *s, size_t len, size_t max)
{
	size_t o = 0, n;

	if (len <= max)
		return len;
	if (max < GH_FN_CUT_MARK_LEN)
		return 0;
	while (o < len) {
		n = escaped_unit(s + o, len - o);
		if (o + n > max - GH_FN_CUT_MARK_LEN)
			break;
		o += n;
	}
	return o;
}
