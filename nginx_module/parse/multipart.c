/*
 * multipart.c - streaming multipart/form-data parser; see multipart.h.
 *
 * The body is scanned for the delimiter "\r\n--BOUNDARY".  Because a CR can
 * only be the delimiter's first byte (bchars exclude CR), a mismatch after
 * k matched bytes means none of those k bytes can start another match: they
 * are data, and they are exactly the delimiter's first k bytes.  So a match
 * split across chunks needs no copy of the input, only the count k, and the
 * common case is one memchr() and one memcmp() per CR in the data.
 */
#include <stddef.h>
#include <string.h>

#include "gatehouse/text.h"
#include "multipart.h"

enum {
	ST_SCAN = 0,    /* looking for a delimiter (preamble or part data) */
	ST_DELIM,       /* a full delimiter matched; reading what follows */
	ST_HEADERS,     /* collecting a part's header block */
	ST_EPILOGUE,    /* after the close delimiter */
	ST_ERROR,
	ST_FINISHED
};

static const struct {
	const char *name;
	const char *text;
} mp_errs[GH_MP_ERR_COUNT_] = {
	[GH_MP_OK] = {"OK", "success"},
	[GH_MP_ENOTMULTIPART] = {"ENOTMULTIPART",
	    "Content-Type is not multipart/form-data"},
	[GH_MP_ENOBOUNDARY] = {"ENOBOUNDARY",
	    "multipart Content-Type has no boundary"},
	[GH_MP_EBOUNDARY] = {"EBOUNDARY",
	    "invalid multipart boundary (1-70 RFC 2046 characters, given once)"},
	[GH_MP_ENODELIM] = {"ENODELIM",
	    "body does not contain the boundary delimiter"},
	[GH_MP_EHEADERSIZE] = {"EHEADERSIZE", "part headers too large"},
	[GH_MP_EHEADER] = {"EHEADER", "malformed part header"},
	[GH_MP_EDISPOSITION] = {"EDISPOSITION",
	    "missing, repeated or malformed Content-Disposition"},
	[GH_MP_ENESTED] = {"ENESTED", "nested multipart parts are not accepted"},
	[GH_MP_EENCODING] = {"EENCODING",
	    "Content-Transfer-Encoding other than 7bit, 8bit or binary"},
	[GH_MP_ETOOMANYPARTS] = {"ETOOMANYPARTS", "too many parts"},
	[GH_MP_EPADDING] = {"EPADDING", "too much padding after a boundary"},
	[GH_MP_ETRUNCATED] = {"ETRUNCATED",
	    "body ended before the closing boundary"},
	[GH_MP_EABORTED] = {"EABORTED", "stopped by the caller"},
	[GH_MP_ESTATE] = {"ESTATE", "parser used after finish or misused"},
};

const char *
gw_mp_strerror(gw_mp_err err)
{
	if ((unsigned)err >= GH_MP_ERR_COUNT_)
		return "unknown error";
	return mp_errs[err].text;
}

const char *
gw_mp_errname(gw_mp_err err)
{
	if ((unsigned)err >= GH_MP_ERR_COUNT_)
		return "EUNKNOWN";
	return mp_errs[err].name;
}

/* RFC 7230 tchar. */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 bchars. */
static int
is_bchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("'()+_,-./:=? ", c) != NULL;
}

static int
iprefix(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && gh_ascii_ieq(s, n, lit);
}

static void
skip_ows(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
}

static int
boundary_ok(const char *b, size_t len)
{
	size_t i;

	if (len == 0 || len > GH_MP_BOUNDARY_MAX || b[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_bchar((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

/*
 * Scan the quoted string starting at s[*i] == '"', resolving quoted-pairs.
 * With dst, copy the content (at most dst_size bytes); *out_len gets the
 * content length.  Returns 0, or -1 if unterminated or over dst_size.
 */
static int
scan_quoted(const char *s, size_t len, size_t *i, char *dst, size_t dst_size,
            size_t *out_len)
{
	size_t n = 0;

	(*i)++;
	while (*i < len) {
		char c = s[*i];

		if (c == '"') {
			(*i)++;
			*out_len = n;
			return 0;
		}
		if (c == '\\') {
			if (*i + 1 >= len)
				return -1;
			c = s[++(*i)];
		}
		if (dst != NULL) {
			if (n >= dst_size)
				return -1;
			dst[n] = c;
		}
		n++;
		(*i)++;
	}
	return -1;
}

gw_mp_err
gw_mp_boundary(const char *ct, size_t len, char *out, size_t out_size,
               size_t *out_len)
{
	size_t i = 0, s, n = 0;
	int seen = 0, first = 1;

	if (ct == NULL || out == NULL || out_size < GH_MP_BOUNDARY_MAX + 1)
		return GH_MP_ESTATE;
	out[0] = '\0';

	skip_ows(ct, len, &i);
	s = i;
	while (i < len && is_tchar((unsigned char)ct[i]))
		i++;
	if (!gh_ascii_ieq(ct + s, i - s, "multipart") || i >= len || ct[i] != '/')
		return GH_MP_ENOTMULTIPART;
	s = ++i;
	while (i < len && is_tchar((unsigned char)ct[i]))
		i++;
	if (!gh_ascii_ieq(ct + s, i - s, "form-data"))
		return GH_MP_ENOTMULTIPART;

	for (;;) {
		size_t ns, nl;

		skip_ows(ct, len, &i);
		if (i == len)
			break;
		if (ct[i] != ';')
			return first ? GH_MP_ENOTMULTIPART : GH_MP_EBOUNDARY;
		first = 0;
		i++;
		skip_ows(ct, len, &i);
		if (i == len)
			break;
		ns = i;
		while (i < len && is_tchar((unsigned char)ct[i]))
			i++;
		nl = i - ns;
		skip_ows(ct, len, &i);
		if (nl == 0 || i == len || ct[i] != '=')
			return GH_MP_EBOUNDARY;
		i++;
		skip_ows(ct, len, &i);

		if (gh_ascii_ieq(ct + ns, nl, "boundary")) {
			if (seen)
				return GH_MP_EBOUNDARY;
			seen = 1;
			if (i < len && ct[i] == '"') {
				if (scan_quoted(ct, len, &i, out,
				    GH_MP_BOUNDARY_MAX, &n) != 0)
					return GH_MP_EBOUNDARY;
			} else {
				s = i;
				while (i < len && ct[i] != ';' &&
				    ct[i] != ' ' && ct[i] != '\t')
					i++;
				n = i - s;
				if (n > GH_MP_BOUNDARY_MAX)
					return GH_MP_EBOUNDARY;
				memcpy(out, ct + s, n);
			}
			out[n] = '\0';
			if (!boundary_ok(out, n))
				return GH_MP_EBOUNDARY;
		} else if (i < len && ct[i] == '"') {
			size_t skipped;

			if (scan_quoted(ct, len, &i, NULL, 0, &skipped) != 0)
				return GH_MP_EBOUNDARY;
		} else {
			while (i < len && ct[i] != ';' && ct[i] != ' ' &&
			    ct[i] != '\t')
				i++;
		}
	}
	if (!seen) {
		out[0] = '\0';
		return GH_MP_ENOBOUNDARY;
	}
	if (out_len != NULL)
		*out_len = n;
	return GH_MP_OK;
}

gw_mp_err
gw_mp_init(struct gw_mp_parser *p, const char *boundary, size_t blen,
           const struct gw_mp_limits *limits,
           const struct gw_mp_callbacks *cb, void *arg)
{
	if (p == NULL || cb == NULL || boundary == NULL)
		return GH_MP_ESTATE;
	/* The header buffer needs no clearing. */
	memset(p, 0, offsetof(struct gw_mp_parser, hdr));
	if (!boundary_ok(boundary, blen)) {
		p->state = ST_ERROR;
		p->err = GH_MP_EBOUNDARY;
		return GH_MP_EBOUNDARY;
	}
	p->cb = cb;
	p->arg = arg;
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_header_bytes == 0 ||
	    p->lim.max_header_bytes > GH_MP_HEADER_MAX)
		p->lim.max_header_bytes = GH_MP_HEADER_MAX;
	if (p->lim.max_parts == 0)
		p->lim.max_parts = GH_MP_DEFAULT_PARTS;
	if (p->lim.max_preamble == 0)
		p->lim.max_preamble = GH_MP_DEFAULT_PREAMBLE;
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, blen);
	p->delim_len = 4 + blen;
	/* The first delimiter may open the body without a CRLF before it:
	 * start as if one had just been read. */
	p->match = 2;
	p->state = ST_SCAN;
	return GH_MP_OK;
}

static gw_mp_err
fail(struct gw_mp_parser *p, gw_mp_err err)
{
	p->state = ST_ERROR;
	p->err = err;
	if (p->cb->error != NULL)
		p->cb->error(p->arg, err);
	return err;
}

/* Bytes that turned out not to be a delimiter: part data or preamble. */
static gw_mp_err
emit(struct gw_mp_parser *p, const unsigned char *d, size_t n)
{
	if (n == 0)
		return GH_MP_OK;
	if (p->in_body) {
		if (p->cb->part_data != NULL && p->cb->part_data(p->arg, d, n))
			return fail(p, GH_MP_EABORTED);
		return GH_MP_OK;
	}
	p->preamble += n;
	if (p->preamble > p->lim.max_preamble)
		return fail(p, GH_MP_ENODELIM);
	return GH_MP_OK;
}

/*
 * Scan b for the delimiter.  Data is handed on in runs as long as the
 * chunk allows: a CR that turns out not to start a delimiter stays inside
 * the current run instead of ending it (binary files have a CR every 256
 * bytes on average; hashing and copying them in such slivers would cost
 * more than the parse).  A candidate that runs past the end of b is
 * carried over as p->match and finished byte by byte in the next chunk.
 */
static gw_mp_err
scan(struct gw_mp_parser *p, const unsigned char *b, size_t n, size_t *used)
{
	size_t i = 0, start = 0;    /* b[start..i) is data not yet handed on */
	gw_mp_err err;

	while (i < n) {
		if (p->match == 0) {
			const unsigned char *cr = memchr(b + i, '\r', n - i);
			size_t k, avail;

			if (cr == NULL) {
				i = n;
				break;
			}
			k = (size_t)(cr - b);
			avail = n - k;
			if (avail >= p->delim_len) {
				if (memcmp(cr, p->delim, p->delim_len) != 0) {
					i = k + 1;      /* the CR is data */
					continue;
				}
				if ((err = emit(p, b + start, k - start)) != GH_MP_OK)
					return err;
				i = k + p->delim_len;
				p->tail_len = 0;
				p->state = ST_DELIM;
				*used = i;
				return GH_MP_OK;
			}
			if (memcmp(cr, p->delim, avail) != 0) {
				i = k + 1;
				continue;
			}
			/* a candidate cut by the end of the chunk */
			if ((err = emit(p, b + start, k - start)) != GH_MP_OK)
				return err;
			p->match = avail;
			*used = n;
			return GH_MP_OK;
		}
		if (b[i] == p->delim[p->match]) {
			i++;
			start = i;
			if (++p->match == p->delim_len) {
				p->match = 0;
				p->tail_len = 0;
				p->state = ST_DELIM;
				*used = i;
				return GH_MP_OK;
			}
			continue;
		}
		/* Mismatch: b[i] is looked at again with nothing matched. */
		err = emit(p, p->delim, p->match);
		p->match = 0;
		if (err != GH_MP_OK)
			return err;
	}
	if ((err = emit(p, b + start, i - start)) != GH_MP_OK)
		return err;
	*used = i;
	return GH_MP_OK;
}

/* What followed "\r\n--BOUNDARY" shows it was not a delimiter after all. */
static gw_mp_err
false_delim(struct gw_mp_parser *p)
{
	size_t keep = p->tail_len;
	int cr = keep > 0 && p->tail[keep - 1] == '\r';
	gw_mp_err err;

	if (cr)
		keep--;
	if ((err = emit(p, p->delim, p->delim_len)) != GH_MP_OK)
		return err;
	if ((err = emit(p, p->tail, keep)) != GH_MP_OK)
		return err;
	p->tail_len = 0;
	p->match = cr ? 1 : 0;
	p->state = ST_SCAN;
	return GH_MP_OK;
}

static gw_mp_err
after_delim(struct gw_mp_parser *p, unsigned char c, size_t *used)
{
	size_t t = p->tail_len;
	unsigned char last = t > 0 ? p->tail[t - 1] : 0;

	*used = 0;
	if (last == '-') {
		if (c != '-')
			return false_delim(p);
		*used = 1;
		if (p->in_body && p->cb->part_end != NULL &&
		    p->cb->part_end(p->arg))
			return fail(p, GH_MP_EABORTED);
		p->in_body = 0;
		p->state = ST_EPILOGUE;
		return GH_MP_OK;
	}
	if (last == '\r') {
		if (c != '\n')
			return false_delim(p);
		*used = 1;
		if (p->in_body && p->cb->part_end != NULL &&
		    p->cb->part_end(p->arg))
			return fail(p, GH_MP_EABORTED);
		p->in_body = 0;
		if (p->parts >= p->lim.max_parts)
			return fail(p, GH_MP_ETOOMANYPARTS);
		p->hdr_len = 0;
		p->state = ST_HEADERS;
		return GH_MP_OK;
	}
	/* Here the tail holds only blanks, so t counts the padding. */
	if (c == ' ' || c == '\t') {
		if (t >= GH_MP_PADDING_MAX)
			return fail(p, GH_MP_EPADDING);
	} else if (!(c == '\r' || (t == 0 && c == '-'))) {
		return false_delim(p);
	}
	p->tail[p->tail_len++] = c;
	*used = 1;
	return GH_MP_OK;
}

/*
 * Decode an RFC 5987 ext-value (UTF-8'lang'pct-encoded) in place.
 * Returns 0, or -1 for another charset or a bad escape.
 */
static int
decode_ext(char *v, size_t len, size_t *out_len)
{
	const char *q1 = memchr(v, '\'', len), *q2;
	size_t r, w = 0;

	if (q1 == NULL || !gh_ascii_ieq(v, (size_t)(q1 - v), "utf-8"))
		return -1;
	q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - v));
	if (q2 == NULL)
		return -1;
	for (r = (size_t)(q2 + 1 - v); r < len; r++) {
		unsigned char c = (unsigned char)v[r];

		if (c == '%') {
			int hi, lo;

			if (r + 2 >= len)
				return -1;
			hi = gh_ascii_lower((unsigned char)v[r + 1]);
			lo = gh_ascii_lower((unsigned char)v[r + 2]);
			hi = (hi >= '0' && hi <= '9') ? hi - '0' :
			     (hi >= 'a' && hi <= 'f') ? hi - 'a' + 10 : -1;
			lo = (lo >= '0' && lo <= '9') ? lo - '0' :
			     (lo >= 'a' && lo <= 'f') ? lo - 'a' + 10 : -1;
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			r += 2;
		}
		v[w++] = (char)c;
	}
	*out_len = w;
	return 0;
}

/* C0 controls but HTAB, and DEL: never in a header outside a filename. */
static int
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/*
 * Does the Content-Disposition value v have a control byte outside a
 * quoted string?  Quoting as parse_disposition reads it; a value it would
 * refuse anyway may be judged either way.
 */
static int
ctl_unquoted(const char *v, size_t len)
{
	size_t i;
	int q = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (q && c == '\\' && i + 1 < len &&
		    (v[i + 1] == '"' || v[i + 1] == '\\'))
			i++;
		else if (c == '"')
			q = !q;
		else if (!q && is_ctl(c))
			return 1;
	}
	return 0;
}

/*
 * Content-Disposition: form-data; name="x"; filename="y"; filename*=...
 * Values are unquoted and decoded in place: each decoded value is no longer
 * than its encoded form and starts where it did, so the header block stays
 * readable ahead of the write position.
 *
 * Control bytes (but CR and LF, which end the line) are taken inside the
 * quoted filename only: browsers send a file's name as it is, and
 * filename.c drops them from the name shown (the module keeps the original
 * escaped).  Anywhere else -- the field name, unquoted values, the
 * parameter syntax -- they are GH_MP_EHEADER as in any other header.
 */
static gw_mp_err
parse_disposition(char *v, size_t len, struct gw_mp_part *part)
{
	size_t i = 0, s;
	const char *fn = NULL, *fnx = NULL;
	size_t fn_len = 0, fnx_len = 0;
	int seen_name = 0;

	if (ctl_unquoted(v, len))
		return GH_MP_EHEADER;
	while (i < len && is_tchar((unsigned char)v[i]))
		i++;
	if (!gh_ascii_ieq(v, i, "form-data"))
		return GH_MP_EDISPOSITION;
	for (;;) {
		size_t ns, nl, vl;
		char *val;
		int qctl;

		skip_ows(v, len, &i);
		if (i == len)
			break;
		if (v[i] != ';')
			return GH_MP_EDISPOSITION;
		i++;
		skip_ows(v, len, &i);
		if (i == len)
			break;
		ns = i;
		qctl = 0;
		while (i < len && is_tchar((unsigned char)v[i]))
			i++;
		nl = i - ns;
		skip_ows(v, len, &i);
		if (nl == 0 || i == len || v[i] != '=')
			return GH_MP_EDISPOSITION;
		i++;
		skip_ows(v, len, &i);
		if (i < len && v[i] == '"') {
			size_t w, start = i;

			/* a backslash escapes only '"' and '\' (multipart.h) */
			i++;
			w = start;
			for (;;) {
				if (i >= len)
					return GH_MP_EDISPOSITION;
				if (v[i] == '"') {
					i++;
					break;
				}
				if (v[i] == '\\' && i + 1 < len &&
				    (v[i + 1] == '"' || v[i + 1] == '\\'))
					i++;
				if (is_ctl((unsigned char)v[i]))
					qctl = 1;
				v[w++] = v[i++];
			}
			val = v + start;
			vl = w - start;
		} else {
			size_t e;

			s = i;
			while (i < len && v[i] != ';') {
				if (v[i] == '"')
					return GH_MP_EDISPOSITION;
				i++;
			}
			e = i;
			while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
				e--;
			if (e == s)
				return GH_MP_EDISPOSITION;
			val = v + s;
			vl = e - s;
		}

		if (qctl && !gh_ascii_ieq(v + ns, nl, "filename"))
			return GH_MP_EHEADER;
		if (gh_ascii_ieq(v + ns, nl, "name")) {
			if (seen_name)
				return GH_MP_EDISPOSITION;
			seen_name = 1;
			part->name = val;
			part->name_len = vl;
		} else if (gh_ascii_ieq(v + ns, nl, "filename")) {
			if (fn != NULL)
				return GH_MP_EDISPOSITION;
			fn = val;
			fn_len = vl;
		} else if (gh_ascii_ieq(v + ns, nl, "filename*")) {
			if (fnx != NULL || decode_ext(val, vl, &fnx_len) != 0)
				return GH_MP_EDISPOSITION;
			fnx = val;
		}
	}
	if (!seen_name)
		return GH_MP_EDISPOSITION;
	if (fnx != NULL) {
		part->filename = fnx;
		part->filename_len = fnx_len;
		part->filename_ext = 1;
	} else if (fn != NULL) {
		part->filename = fn;
		part->filename_len = fn_len;
	}
	part->has_filename = fn != NULL || fnx != NULL;
	return GH_MP_OK;
}

static gw_mp_err
parse_headers(struct gw_mp_parser *p)
{
	struct gw_mp_part part;
	char *h = p->hdr;
	size_t pos = 0, end = p->hdr_len - 2;   /* drop the empty line */
	int seen_cd = 0, seen_ct = 0, seen_cte = 0;
	gw_mp_err err;

	memset(&part, 0, sizeof(part));
	part.index = p->parts;
	while (pos < end) {
		size_t ls = pos, le, colon, vs, ve, k;
		int ctl = 0;

		for (le = ls; le < end; le++) {
			unsigned char c = (unsigned char)h[le];

			if (c == '\r' || c == '\n')
				break;
			if (is_ctl(c))
				ctl = 1;
		}
		if (le + 1 >= p->hdr_len || h[le] != '\r' || h[le + 1] != '\n')
			return GH_MP_EHEADER;
		pos = le + 2;
		if (h[ls] == ' ' || h[ls] == '\t')
			return GH_MP_EHEADER;       /* obsolete line folding */
		for (colon = ls; colon < le && h[colon] != ':'; colon++) {
			if (!is_tchar((unsigned char)h[colon]))
				return GH_MP_EHEADER;
		}
		if (colon == le || colon == ls)
			return GH_MP_EHEADER;
		vs = colon + 1;
		ve = le;
		skip_ows(h, ve, &vs);
		while (ve > vs && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
			ve--;

		/* only a quoted filename may hold them (parse_disposition) */
		if (ctl && !gh_ascii_ieq(h + ls, colon - ls, "content-disposition"))
			return GH_MP_EHEADER;
		if (gh_ascii_ieq(h + ls, colon - ls, "content-disposition")) {
			if (seen_cd++)
				return GH_MP_EDISPOSITION;
			err = parse_disposition(h + vs, ve - vs, &part);
			if (err != GH_MP_OK)
				return err;
		} else if (gh_ascii_ieq(h + ls, colon - ls, "content-type")) {
			if (seen_ct++)
				return GH_MP_EHEADER;
			for (k = vs; k < ve && h[k] != ';'; k++)
				;
			while (k > vs && (h[k - 1] == ' ' || h[k - 1] == '\t'))
				k--;
			if (iprefix(h + vs, k - vs, "multipart/"))
				return GH_MP_ENESTED;
			if (k > vs) {
				part.content_type = h + vs;
				part.content_type_len = k - vs;
			}
		} else if (gh_ascii_ieq(h + ls, colon - ls,
		    "content-transfer-encoding")) {
			if (seen_cte++)
				return GH_MP_EHEADER;
			if (!gh_ascii_ieq(h + vs, ve - vs, "binary") &&
			    !gh_ascii_ieq(h + vs, ve - vs, "8bit") &&
			    !gh_ascii_ieq(h + vs, ve - vs, "7bit"))
				return GH_MP_EENCODING;
		}
	}
	if (!seen_cd)
		return GH_MP_EDISPOSITION;

	p->parts++;
	p->in_body = 1;
	p->match = 0;
	p->state = ST_SCAN;
	if (p->cb->part_begin != NULL && p->cb->part_begin(p->arg, &part))
		return GH_MP_EABORTED;
	return GH_MP_OK;
}

static gw_mp_err
headers(struct gw_mp_parser *p, const unsigned char *b, size_t n,
        size_t *used)
{
	size_t i;
	gw_mp_err err;

	for (i = 0; i < n; i++) {
		size_t hl;

		if (p->hdr_len >= p->lim.max_header_bytes) {
			*used = i;
			return fail(p, GH_MP_EHEADERSIZE);
		}
		p->hdr[p->hdr_len++] = (char)b[i];
		if (b[i] != '\n')
			continue;
		hl = p->hdr_len;
		if ((hl == 2 && p->hdr[0] == '\r') ||
		    (hl >= 4 && memcmp(p->hdr + hl - 4, "\r\n\r\n", 4) == 0)) {
			*used = i + 1;
			if ((err = parse_headers(p)) != GH_MP_OK)
				return fail(p, err);
			return GH_MP_OK;
		}
	}
	*used = n;
	return GH_MP_OK;
}

gw_mp_err
gw_mp_feed(struct gw_mp_parser *p, const void *data, size_t len)
{
	const unsigned char *b = data;
	size_t i = 0;
	gw_mp_err err = GH_MP_OK;

	if (p == NULL || (data == NULL && len > 0))
		return GH_MP_ESTATE;
	if (p->state == ST_ERROR)
		return p->err;
	if (p->state == ST_FINISHED)
		return GH_MP_ESTATE;

	while (i < len && err == GH_MP_OK) {
		size_t used = 0;

		switch (p->state) {
		case ST_SCAN:
			err = scan(p, b + i, len - i, &used);
			break;
		case ST_DELIM:
			err = after_delim(p, b[i], &used);
			break;
		case ST_HEADERS:
			err = headers(p, b + i, len - i, &used);
			break;
		case ST_EPILOGUE:
			used = len - i;
			break;
		default:
			err = p->err;
			break;
		}
		i += used;
		p->offset += used;
	}
	return err;
}

gw_mp_err
gw_mp_finish(struct gw_mp_parser *p)
{
	if (p == NULL)
		return GH_MP_ESTATE;
	switch (p->state) {
	case ST_ERROR:
		return p->err;
	case ST_EPILOGUE:
	case ST_FINISHED:
		p->state = ST_FINISHED;
		return GH_MP_OK;
	case ST_SCAN:
	case ST_DELIM:
		if (!p->in_body)
			return fail(p, GH_MP_ENODELIM);
		return fail(p, GH_MP_ETRUNCATED);
	default:
		return fail(p, GH_MP_ETRUNCATED);
	}
}

int
gw_mp_done(const struct gw_mp_parser *p)
{
	return p->state == ST_EPILOGUE || p->state == ST_FINISHED;
}

uint64_t
gw_mp_offset(const struct gw_mp_parser *p)
{
	return p->offset;
}

size_t
gw_mp_quote_name(char *dst, size_t dst_size, const char *name, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		char esc[3];
		size_t k, el;

		if (c == '"' || c == '\r' || c == '\n') {
			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 0x0f];
			el = 3;
		} else if (c == '\\') {
			esc[0] = '\\';
			esc[1] = '\\';
			el = 2;
		} else {
			esc[0] = (char)c;
			el = 1;
		}
		for (k = 0; k < el; k++, n++) {
			if (dst != NULL && n < dst_size)
				dst[n] = esc[k];
		}
	}
	return n;
}
