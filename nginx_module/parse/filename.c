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

#include "gatehouse/text.h"
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
is_uspace(uint32_t cp)
{
	static const uint32_t r[][2] = {
		{0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200A},
		{0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
		{0x3000, 0x3000},
	};

	return gh_cp_in_ranges(cp, r, sizeof(r) / sizeof(r[0]));
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

	return gh_cp_in_ranges(cp, r, sizeof(r) / sizeof(r[0]));
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
	size_t n = gh_utf8_next(s + *pos, len - *pos, &cp);

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
	} else if (gh_text_invisible(cp)) {
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
		l[i] = (char)gh_ascii_lower((unsigned char)s[i]);
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
			ext[ext_len++] = (char)gh_ascii_lower(c.b[0]);
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
gw_fn_ext(const char *name, size_t len, char *ext, size_t ext_size)
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
		ext[i] = (char)gh_ascii_lower(c);
	}
	ext[n] = '\0';
	return n;
}
