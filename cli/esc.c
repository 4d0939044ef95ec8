/*
 * esc.c - escaped output for the gatehouse command (see esc.h for why and
 * for the escaped form).
 *
 * cli_vfprintf walks the format itself: numbers go to stdio with their own
 * spec and argument; %s and %c arguments go through esc_one(), a character
 * at a time, so nothing long is cut to fit a buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "gatehouse/text.h"
#include "esc.h"

/* Code points that must not reach a terminal as they are: the C1
 * controls (CSI 0x9b among them), the line and paragraph separators, which
 * render as line breaks or not at all, and the library's invisible
 * characters (gh_text_invisible: format characters, fillers, default
 * ignorables), which can hide or reorder text.  Variation selectors are
 * left alone: emoji need U+FE0F and they hide nothing. */
static int
esc_cp(uint32_t cp)
{
	if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
		return 1;
	return gh_text_invisible(cp) && !gh_text_variation_selector(cp);
}

/*
 * One character of s (n > 0 bytes left): how many bytes of s it takes, in
 * *used, and what to print for it, in out (CLI_ESC_MAX + 1 bytes of
 * room; not NUL-terminated).  Returns out's length.
 */
static size_t
esc_one(const unsigned char *s, size_t n, size_t *used, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t cp;
	size_t len = gh_utf8_next(s, n, &cp);   /* strict (text.h) */

	if (len == 0 || (len == 1 && (cp < 0x20 || cp == 0x7f))) {
		*used = 1;
		out[0] = '\\';
		switch (s[0]) {
		case '\t':
			out[1] = 't';
			return 2;
		case '\n':
			out[1] = 'n';
			return 2;
		case '\r':
			out[1] = 'r';
			return 2;
		}
		out[1] = 'x';
		out[2] = hex[s[0] >> 4];
		out[3] = hex[s[0] & 0xf];
		return 4;
	}
	*used = len;
	if (len > 1 && esc_cp(cp)) {
		int k = snprintf(out, CLI_ESC_MAX + 1, "\\u{%04x}",
		                 (unsigned)cp);

		return (size_t)k;
	}
	memcpy(out, s, len);
	return len;
}

size_t
cli_escape(char *out, size_t cap, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char one[CLI_ESC_MAX + 1];
	size_t need = 0, at = 0, used, k;

	while (at < n) {
		k = esc_one(p + at, n - at, &used, one);
		at += used;
		if (cap && need + k < cap)
			memcpy(out + need, one, k);
		else if (cap && need < cap)
			cap = need + 1;	/* full: the NUL goes at need */
		need += k;
	}
	if (cap)
		out[need < cap ? need : cap - 1] = '\0';
	return need;
}

/* Write s[0..n) escaped, padded with spaces to width (left: pad after),
 * adding the bytes written to *total; 0, or -1 on a write error. */
static int
put_escaped(FILE *fp, const char *s, size_t n, size_t width, int left,
            size_t *total)
{
	const unsigned char *p = (const unsigned char *)s;
	char one[CLI_ESC_MAX + 1];
	size_t len = cli_escape(NULL, 0, s, n), at = 0, used, k, pad;

	pad = width > len ? width - len : 0;
	for (size_t i = 0; !left && i < pad; i++)
		if (putc(' ', fp) == EOF)
			return -1;
	while (at < n) {
		k = esc_one(p + at, n - at, &used, one);
		at += used;
		if (fwrite(one, 1, k, fp) != k)
			return -1;
	}
	for (size_t i = 0; left && i < pad; i++)
		if (putc(' ', fp) == EOF)
			return -1;
	*total += len + pad;
	return 0;
}

/* A decimal in a format (a width or a precision), at most 9999. */
static int
fmt_num(const char **pp)
{
	int v = 0;

	for (; **pp >= '0' && **pp <= '9'; (*pp)++)
		if (v < 10000)
			v = v * 10 + (**pp - '0');
	return v > 9999 ? 9999 : v;
}

/* The length modifiers of printf that change an argument's type. */
enum esc_len { L_NONE, L_HH, L_H, L_L, L_LL, L_J, L_Z, L_T, L_BIGL };

/* One conversion as parsed: flags as written, width and precision as
 * numbers (what * stood for; -1: none), the length modifier. */
struct esc_conv {
	char flags[8];
	int left, width, prec;
	enum esc_len lm;
};

/* The stdio spec for v with conversion c and length modifier mod: "%",
 * flags, width, ".prec", mod, c; at most 7 + 4 + 12 + 2 + 1 bytes. */
static const char *
esc_spec(char *spec, size_t cap, const struct esc_conv *v, const char *mod,
         char c)
{
	size_t n = (size_t)snprintf(spec, cap, "%%%s", v->flags);

	if (v->width >= 0)
		n += (size_t)snprintf(spec + n, cap - n, "%d", v->width);
	if (v->prec >= 0)
		n += (size_t)snprintf(spec + n, cap - n, ".%d", v->prec);
	snprintf(spec + n, cap - n, "%s%c", mod, c);
	return spec;
}

/*
 * Parse the conversion after a '%' at *pp (flags, width, precision, length
 * modifier; * taken from ap), leaving *pp at the conversion letter.
 * Returns -1 for more flags than printf has.
 */
static int
esc_parse(const char **pp, va_list *ap, struct esc_conv *v)
{
	const char *p = *pp;
	size_t nf = 0;

	memset(v, 0, sizeof(*v));
	v->width = v->prec = -1;
	for (; *p && strchr("-+ #0'", *p); p++) {
		if (nf + 1 >= sizeof(v->flags))
			return -1;
		v->flags[nf++] = *p;
		v->left |= *p == '-';
	}
	if (*p == '*') {
		v->width = va_arg(*ap, int);
		if (v->width < 0) {
			/* a negative width is a '-' flag, as printf says */
			v->left = 1;
			if (nf + 1 < sizeof(v->flags))
				v->flags[nf++] = '-';
			v->width = v->width < -9999 ? 9999 : -v->width;
		}
		v->width = v->width > 9999 ? 9999 : v->width;
		p++;
	} else if (*p >= '1' && *p <= '9') {
		v->width = fmt_num(&p);
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			v->prec = va_arg(*ap, int);	/* < 0: none */
			p++;
		} else {
			v->prec = fmt_num(&p);
		}
	}
	switch (*p) {
	case 'h':
		v->lm = p[1] == 'h' ? L_HH : L_H;
		p += p[1] == 'h' ? 2 : 1;
		break;
	case 'l':
		v->lm = p[1] == 'l' ? L_LL : L_L;
		p += p[1] == 'l' ? 2 : 1;
		break;
	case 'j': v->lm = L_J; p++; break;
	case 'z': v->lm = L_Z; p++; break;
	case 't': v->lm = L_T; p++; break;
	case 'L': v->lm = L_BIGL; p++; break;
	}
	*pp = p;
	return 0;
}

/*
 * The formats are the program's own, checked by the compiler through the
 * format attribute.  Numbers are handed to fprintf with a spec rebuilt
 * from the parsed one (each integer widened to intmax_t, so one call
 * serves every length modifier), which -Wformat-nonliteral cannot check.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

int
cli_vfprintf(FILE *fp, const char *fmt, va_list ap)
{
	char spec[32];
	const char *p = fmt;
	struct esc_conv v;
	size_t total = 0, pad;
	va_list aq;
	int r = 0;

	/* esc_parse takes * arguments through a pointer: a va_list of our
	 * own, as a va_list parameter cannot portably be passed on by
	 * address */
	va_copy(aq, ap);
	while (*p) {
		if (*p != '%' || p[1] == '%') {
			/* text up to the next conversion; %% is one % */
			size_t n = *p == '%' ? 1 : strcspn(p, "%");

			if (fwrite(p, 1, n, fp) != n)
				goto fail;
			total += n;
			p += *p == '%' ? 2 : n;
			continue;
		}
		p++;
		if (esc_parse(&p, &aq, &v) != 0)
			goto bad;
		pad = v.width > 0 ? (size_t)v.width : 0;
		switch (*p) {
		case 's': {
			const char *s;

			if (v.lm != L_NONE)
				goto bad;	/* %ls */
			s = va_arg(aq, const char *);
			if (s == NULL)
				s = "(null)";
			if (put_escaped(fp, s, v.prec >= 0 ?
			                strnlen(s, (size_t)v.prec) : strlen(s),
			                pad, v.left, &total) != 0)
				goto fail;
			r = 0;
			break;
		}
		case 'c': {
			char ch;

			if (v.lm != L_NONE)
				goto bad;	/* %lc */
			ch = (char)va_arg(aq, int);
			if (put_escaped(fp, &ch, 1, pad, v.left, &total) != 0)
				goto fail;
			r = 0;
			break;
		}
		case 'd':
		case 'i': {
			intmax_t i;

			switch (v.lm) {
			case L_HH: i = (signed char)va_arg(aq, int); break;
			case L_H: i = (short)va_arg(aq, int); break;
			case L_L: i = va_arg(aq, long); break;
			case L_LL: i = va_arg(aq, long long); break;
			case L_J: i = va_arg(aq, intmax_t); break;
			case L_Z: i = va_arg(aq, ssize_t); break;
			case L_T: i = va_arg(aq, ptrdiff_t); break;
			case L_NONE: i = va_arg(aq, int); break;
			default: goto bad;
			}
			r = fprintf(fp, esc_spec(spec, sizeof(spec), &v, "j",
			                         *p), i);
			break;
		}
		case 'u':
		case 'o':
		case 'x':
		case 'X': {
			uintmax_t u;

			switch (v.lm) {
			case L_HH: u = (unsigned char)va_arg(aq, int); break;
			case L_H: u = (unsigned short)va_arg(aq, int); break;
			case L_L: u = va_arg(aq, unsigned long); break;
			case L_LL: u = va_arg(aq, unsigned long long); break;
			case L_J: u = va_arg(aq, uintmax_t); break;
			case L_Z: u = va_arg(aq, size_t); break;
			case L_T: u = (uintmax_t)va_arg(aq, ptrdiff_t); break;
			case L_NONE: u = va_arg(aq, unsigned); break;
			default: goto bad;
			}
			r = fprintf(fp, esc_spec(spec, sizeof(spec), &v, "j",
			                         *p), u);
			break;
		}
		case 'f': case 'F': case 'e': case 'E':
		case 'g': case 'G': case 'a': case 'A':
			if (v.lm == L_BIGL)
				r = fprintf(fp, esc_spec(spec, sizeof(spec), &v,
				                         "L", *p),
				            va_arg(aq, long double));
			else if (v.lm == L_NONE || v.lm == L_L)
				r = fprintf(fp, esc_spec(spec, sizeof(spec), &v,
				                         "", *p),
				            va_arg(aq, double));
			else
				goto bad;
			break;
		case 'p':
			if (v.lm != L_NONE)
				goto bad;
			r = fprintf(fp, esc_spec(spec, sizeof(spec), &v, "",
			                         'p'), va_arg(aq, void *));
			break;
		default:
			goto bad;	/* %n, %m, a typo: nothing to trust */
		}
		if (r < 0)
			goto fail;
		total += (size_t)r;
		p++;
	}
	va_end(aq);
	return total > INT32_MAX ? INT32_MAX : (int)total;
bad:
	errno = EINVAL;
fail:
	va_end(aq);
	return -1;
}

#pragma GCC diagnostic pop

int
cli_fprintf(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cli_vfprintf(fp, fmt, ap);
	va_end(ap);
	return r;
}

int
cli_printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cli_vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
}

int
cli_eprintf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cli_vfprintf(stderr, fmt, ap);
	va_end(ap);
	return r;
}
