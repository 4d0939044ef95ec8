/*
 * canon.c - DKIM "simple" and "relaxed" canonicalization (RFC 6376 3.4)
 *
 * Header fields are canonicalized whole, into a caller buffer: they are
 * bounded (hdrlist.h) and needed again for every signature.  The body is
 * canonicalized as a stream straight into SHA-256; see canon.h for the
 * line-ending rules.
 *
 * The body state machine holds back what it cannot decide yet:
 *   - pending_crlf: line ends not yet written, because empty lines at the
 *     end of the body are dropped and we cannot know a line is at the end
 *     until more content (write them) or the end (drop them) arrives;
 *   - cr: the chunk ended in CR, and only the next byte says whether it was
 *     half of a CRLF or ordinary data;
 *   - wsp (relaxed only): whitespace seen since the last content byte; it
 *     becomes one SP if content follows on the same line, nothing otherwise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "canon.h"

#define STAGE_SIZE 8192

struct gm_body_canon {
	EVP_MD_CTX *md;
	gm_canon canon;
	int finished;
	int failed;
	unsigned char cr;
	unsigned char wsp;
	unsigned char any;	/* content has been written */
	uint64_t pending_crlf;
	uint64_t length;
	size_t stage_len;
	unsigned char stage[STAGE_SIZE];
};

static int
is_wsp(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

const char *
gm_canon_name(gm_canon c)
{
	return c == GH_CANON_RELAXED ? "relaxed" : "simple";
}

static gh_err
parse_one(const char *s, size_t len, gm_canon *out)
{
	if (len == 6 && memcmp(s, "simple", 6) == 0) {
		*out = GH_CANON_SIMPLE;
		return GH_OK;
	}
	if (len == 7 && memcmp(s, "relaxed", 7) == 0) {
		*out = GH_CANON_RELAXED;
		return GH_OK;
	}
	return GH_EINVAL;
}

gh_err
gm_canon_parse(const char *spec, gm_canon *hdr, gm_canon *body)
{
	const char *slash;
	gh_err err;

	if (spec == NULL || hdr == NULL || body == NULL)
		return GH_EINVAL;
	slash = strchr(spec, '/');
	if (slash == NULL) {
		*body = GH_CANON_SIMPLE;
		return parse_one(spec, strlen(spec), hdr);
	}
	err = parse_one(spec, (size_t)(slash - spec), hdr);
	if (err)
		return err;
	return parse_one(slash + 1, strlen(slash + 1), body);
}

size_t
gm_canon_header_bound(size_t namelen, size_t valuelen)
{
	if (namelen > SIZE_MAX / 4 || valuelen > SIZE_MAX / 4)
		return SIZE_MAX;
	return namelen + 1 + 2 * valuelen;
}

/*
 * Simple: unchanged, except that a bare LF (libmilter's "\n\t" folding, or a
 * LF-only file) becomes the CRLF the MTA will send.
 */
static gh_err
canon_header_simple(const char *name, size_t namelen, const char *value,
    size_t valuelen, char *out, size_t outsz, size_t *outlen)
{
	size_t o = 0;
	size_t i;

	if (namelen + 1 > outsz)
		return GH_ETOOBIG;
	memcpy(out, name, namelen);
	o = namelen;
	out[o++] = ':';
	for (i = 0; i < valuelen; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) {
			if (o + 2 > outsz)
				return GH_ETOOBIG;
			out[o++] = '\r';
			out[o++] = '\n';
			continue;
		}
		if (o + 1 > outsz)
			return GH_ETOOBIG;
		out[o++] = value[i];
	}
	*outlen = o;
	return GH_OK;
}

/*
 * Relaxed: lower-case name without trailing whitespace, unfolded value with
 * every whitespace run turned into one SP and none at either end.
 */
static gh_err
canon_header_relaxed(const char *name, size_t namelen, const char *value,
    size_t valuelen, char *out, size_t outsz, size_t *outlen)
{
	size_t o = 0;
	size_t i;
	size_t vstart;
	int pending_sp = 0;

	while (namelen > 0 && is_wsp((unsigned char)name[namelen - 1]))
		namelen--;
	if (namelen == 0)
		return GH_EINVAL;
	if (namelen + 1 > outsz)
		return GH_ETOOBIG;
	for (i = 0; i < namelen; i++) {
		unsigned char ch = (unsigned char)name[i];

		out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	out[o++] = ':';
	vstart = o;
	for (i = 0; i < valuelen; i++) {
		unsigned char ch = (unsigned char)value[i];

		if (ch == '\n')
			continue;	/* unfold */
		if (ch == '\r' && i + 1 < valuelen && value[i + 1] == '\n')
			continue;	/* unfold */
		if (is_wsp(ch)) {
			pending_sp = 1;
			continue;
		}
		if (pending_sp && o > vstart) {
			if (o + 1 > outsz)
				return GH_ETOOBIG;
			out[o++] = ' ';
		}
		pending_sp = 0;
		if (o + 1 > outsz)
			return GH_ETOOBIG;
		out[o++] = (char)ch;
	}
	*outlen = o;
	return GH_OK;
}

gh_err
gm_canon_header(gm_canon c, const char *name, size_t namelen,
    const char *value, size_t valuelen, char *out, size_t outsz,
    size_t *outlen)
{
	if (name == NULL || namelen == 0 || out == NULL || outlen == NULL ||
	    (value == NULL && valuelen > 0))
		return GH_EINVAL;
	if (c == GH_CANON_RELAXED)
		return canon_header_relaxed(name, namelen, value, valuelen,
		    out, outsz, outlen);
	return canon_header_simple(name, namelen, value, valuelen, out, outsz,
	    outlen);
}

/* ---- body ---- */

static void
stage_flush(struct gm_body_canon *bc)
{
	if (bc->stage_len > 0 && !bc->failed &&
	    EVP_DigestUpdate(bc->md, bc->stage, bc->stage_len) != 1)
		bc->failed = 1;
	bc->stage_len = 0;
}

static void
emit(struct gm_body_canon *bc, const unsigned char *p, size_t n)
{
	bc->length += n;
	if (n >= STAGE_SIZE) {
		/* Long runs skip the copy. */
		stage_flush(bc);
		if (!bc->failed && EVP_DigestUpdate(bc->md, p, n) != 1)
			bc->failed = 1;
		return;
	}
	if (bc->stage_len + n > STAGE_SIZE)
		stage_flush(bc);
	memcpy(bc->stage + bc->stage_len, p, n);
	bc->stage_len += n;
}

/* Content follows: the held-back line ends and whitespace were real. */
static void
before_content(struct gm_body_canon *bc)
{
	static const unsigned char crlf[2] = {'\r', '\n'};
	static const unsigned char sp = ' ';

	while (bc->pending_crlf > 0) {
		emit(bc, crlf, 2);
		bc->pending_crlf--;
	}
	if (bc->wsp) {
		emit(bc, &sp, 1);
		bc->wsp = 0;
	}
	bc->any = 1;
}

static void
line_end(struct gm_body_canon *bc)
{
	bc->wsp = 0;		/* trailing whitespace is dropped (relaxed) */
	bc->pending_crlf++;
}

gh_err
gm_body_canon_new(gm_canon c, struct gm_body_canon **out)
{
	struct gm_body_canon *bc;

	if (out == NULL)
		return GH_EINVAL;
	*out = NULL;
	bc = calloc(1, sizeof(*bc));
	if (bc == NULL)
		return GH_ENOMEM;
	bc->canon = c;
	bc->md = EVP_MD_CTX_new();
	if (bc->md == NULL ||
	    EVP_DigestInit_ex(bc->md, EVP_sha256(), NULL) != 1) {
		gm_body_canon_free(bc);
		return GH_ENOMEM;
	}
	*out = bc;
	return GH_OK;
}

/*
 * The end of a run of ordinary bytes: the first CR, LF or (relaxed) space
 * or tab at or after p, or end.  Eight bytes at a time while none of them
 * is special (the classic "has a zero byte" test on the word XORed with
 * each special byte: exact about whether one is there), then byte by byte.
 * Body lines are mostly such runs, so this is most of the canonicalizer.
 */
static const unsigned char *
run_end(const unsigned char *p, const unsigned char *end, int relaxed)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;

#define GH_HASZERO(v) (((v) - ones) & ~(v) & highs)
	while (end - p >= 8) {
		uint64_t w, m;

		memcpy(&w, p, sizeof(w));
		m = GH_HASZERO(w ^ (ones * '\r')) | GH_HASZERO(w ^ (ones * '\n'));
		if (relaxed)
			m |= GH_HASZERO(w ^ (ones * ' ')) |
			    GH_HASZERO(w ^ (ones * '\t'));
		if (m != 0)
			break;
		p += 8;
	}
#undef GH_HASZERO
	while (p < end && *p != '\r' && *p != '\n' && !(relaxed && is_wsp(*p)))
		p++;
	return p;
}

gh_err
gm_body_canon_update(struct gm_body_canon *bc, const void *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end;
	int relaxed;

	if (bc == NULL || bc->finished || (data == NULL && len > 0))
		return GH_EINVAL;
	if (len == 0)
		return bc->failed ? GH_EIO : GH_OK;
	end = p + len;
	relaxed = bc->canon == GH_CANON_RELAXED;

	if (bc->cr) {
		bc->cr = 0;
		if (*p == '\n') {
			line_end(bc);
			p++;
		} else {
			static const unsigned char cr = '\r';

			before_content(bc);
			emit(bc, &cr, 1);
		}
	}
	while (p < end) {
		const unsigned char *run = p;

		/* A run of ordinary bytes goes out in one piece. */
		p = run_end(p, end, relaxed);
		if (p > run) {
			before_content(bc);
			emit(bc, run, (size_t)(p - run));
		}
		if (p == end)
			break;
		if (*p == '\n') {
			line_end(bc);
			p++;
		} else if (*p == '\r') {
			if (p + 1 == end) {
				bc->cr = 1;	/* decided by the next chunk */
				p++;
			} else if (p[1] == '\n') {
				line_end(bc);
				p += 2;
			} else {
				before_content(bc);
				emit(bc, p, 1);
				p++;
			}
		} else {
			bc->wsp = 1;	/* relaxed whitespace */
			p++;
		}
	}
	return bc->failed ? GH_EIO : GH_OK;
}

gh_err
gm_body_canon_final(struct gm_body_canon *bc, unsigned char digest[GH_SHA256_LEN])
{
	static const unsigned char crlf[2] = {'\r', '\n'};
	static const unsigned char cr = '\r';
	unsigned int dlen = 0;

	if (bc == NULL || digest == NULL || bc->finished)
		return GH_EINVAL;
	bc->finished = 1;
	if (bc->cr) {
		bc->cr = 0;
		before_content(bc);
		emit(bc, &cr, 1);
	}
	/*
	 * Trailing empty lines are dropped; a non-empty body ends in exactly
	 * one CRLF; an empty body is "\r\n" for simple, nothing for relaxed.
	 */
	bc->wsp = 0;
	bc->pending_crlf = 0;
	if (bc->any || bc->canon == GH_CANON_SIMPLE)
		emit(bc, crlf, 2);
	stage_flush(bc);
	if (bc->failed)
		return GH_EIO;
	if (EVP_DigestFinal_ex(bc->md, digest, &dlen) != 1 ||
	    dlen != GH_SHA256_LEN) {
		bc->failed = 1;
		return GH_EIO;
	}
	return GH_OK;
}

gm_canon
gm_body_canon_type(const struct gm_body_canon *bc)
{
	return bc->canon;
}

uint64_t
gm_body_canon_length(const struct gm_body_canon *bc)
{
	return bc->length;
}

void
gm_body_canon_free(struct gm_body_canon *bc)
{
	if (bc == NULL)
		return;
	EVP_MD_CTX_free(bc->md);
	free(bc);
}
