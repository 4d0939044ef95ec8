/*
 * dkim_sighdr.c - write and fold the DKIM-Signature value, and hash the
 * header data it covers (see dkim_sighdr.h for the three steps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gatehouse/codec.h"
#include "dkim_sighdr.h"

/* Writes tokens, folding with "\n\t" before one that would pass the width. */
struct folder {
	struct gm_sbuf *b;
	size_t col;
};

static void
put(struct folder *f, const char *tok, int space_before)
{
	size_t n = strlen(tok);

	if (f->col + (space_before ? 1 : 0) + n > GH_DKIM_FOLD_WIDTH &&
	    f->col > 1) {
		gm_sbuf_add(f->b, "\n\t", 2);
		f->col = 1;
	} else if (space_before) {
		gm_sbuf_add(f->b, " ", 1);
		f->col++;
	}
	gm_sbuf_add(f->b, tok, n);
	f->col += n;
}

int
gm_dkim_name_ok(const char *s)
{
	size_t i;
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > GH_DKIM_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.' && s[i + 1] == '.')
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.'))
			return 0;
	}
	return 1;
}

int
gm_dkim_field_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > GH_DKIM_NAME_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127 ||
		    s[i] == ':' || s[i] == ';')
			return 0;
	return 1;
}

gh_err
gm_dkim_sighdr_build(const struct gm_dkim_sighdr *sh, struct gm_sbuf *out)
{
	struct folder f;
	char tok[GH_DKIM_NAME_MAX + 32];
	char bh[GH_B64_ENC_LEN(GH_SHA256_LEN)];
	size_t i;
	gh_err err;

	if (sh == NULL || out == NULL || sh->bh == NULL || sh->nh == 0 ||
	    sh->h == NULL)
		return GH_EINVAL;
	if (!gm_dkim_name_ok(sh->domain) || !gm_dkim_name_ok(sh->selector))
		return GH_EINVAL;
	if (sh->x > 0 && sh->t >= 0 && sh->x <= sh->t)
		return GH_EINVAL;
	for (i = 0; i < sh->nh; i++)
		if (!gm_dkim_field_name_ok(sh->h[i]))
			return GH_EINVAL;
	err = gh_b64_encode(GH_B64_STD, sh->bh, GH_SHA256_LEN, bh, sizeof(bh),
	    NULL);
	if (err)
		return err;

	f.b = out;
	f.col = strlen(GH_DKIM_SIG_NAME) + 1;
	put(&f, "v=1;", 1);
	snprintf(tok, sizeof(tok), "a=%s;", gh_dkim_alg_name(sh->alg));
	put(&f, tok, 1);
	snprintf(tok, sizeof(tok), "c=%s/%s;", gm_canon_name(sh->hdr_canon),
	    gm_canon_name(sh->body_canon));
	put(&f, tok, 1);
	snprintf(tok, sizeof(tok), "d=%s;", sh->domain);
	put(&f, tok, 1);
	snprintf(tok, sizeof(tok), "s=%s;", sh->selector);
	put(&f, tok, 1);
	if (sh->t >= 0) {
		snprintf(tok, sizeof(tok), "t=%lld;", sh->t);
		put(&f, tok, 1);
	}
	if (sh->x > 0) {
		snprintf(tok, sizeof(tok), "x=%lld;", sh->x);
		put(&f, tok, 1);
	}
	for (i = 0; i < sh->nh; i++) {
		snprintf(tok, sizeof(tok), "%s%s%s", i == 0 ? "h=" : "",
		    sh->h[i], i + 1 < sh->nh ? ":" : ";");
		put(&f, tok, i == 0);
	}
	snprintf(tok, sizeof(tok), "bh=%s;", bh);
	put(&f, tok, 1);
	put(&f, "b=", 1);
	return gm_sbuf_err(out);
}

gh_err
gm_dkim_sighdr_add_b(struct gm_sbuf *out, const unsigned char *sig,
    size_t siglen)
{
	char b64[GH_B64_ENC_LEN(GH_DKIM_SIG_MAX)];
	const char *nl;
	size_t col;
	size_t n = 0;
	size_t i = 0;
	gh_err err;

	if (out == NULL || sig == NULL || out->p == NULL)
		return GH_EINVAL;
	err = gh_b64_encode(GH_B64_STD, sig, siglen, b64, sizeof(b64), &n);
	if (err)
		return err;
	nl = strrchr(out->p, '\n');
	col = nl ? (size_t)(out->p + out->len - nl - 1) :
	    strlen(GH_DKIM_SIG_NAME) + 1 + out->len;
	while (i < n) {
		size_t take;

		if (col >= GH_DKIM_FOLD_WIDTH) {
			gm_sbuf_add(out, "\n\t", 2);
			col = 1;
		}
		take = GH_DKIM_FOLD_WIDTH - col;
		if (take > n - i)
			take = n - i;
		gm_sbuf_add(out, b64 + i, take);
		col += take;
		i += take;
	}
	return gm_sbuf_err(out);
}

static gh_err
hash_field(EVP_MD_CTX *md, gm_canon hc, const char *name, size_t namelen,
    const char *value, size_t valuelen, char *buf, size_t bufsz, int crlf)
{
	size_t len = 0;
	gh_err err;

	err = gm_canon_header(hc, name, namelen, value, valuelen, buf, bufsz,
	    &len);
	if (err)
		return err;
	if (EVP_DigestUpdate(md, buf, len) != 1 ||
	    (crlf && EVP_DigestUpdate(md, "\r\n", 2) != 1))
		return GH_EIO;
	return GH_OK;
}

gh_err
gm_dkim_header_digest(gm_canon hc, const struct gm_hdrlist *l,
    const char *const *names, size_t nh, const char *signame,
    const char *sigvalue, size_t sigvaluelen,
    unsigned char digest[GH_SHA256_LEN])
{
	const struct gm_hdr **sel = NULL;
	EVP_MD_CTX *md = NULL;
	char *buf = NULL;
	size_t bufsz;
	size_t i;
	unsigned int dlen = 0;
	gh_err err;

	if (l == NULL || (nh > 0 && names == NULL) || signame == NULL ||
	    sigvalue == NULL || digest == NULL)
		return GH_EINVAL;
	if (nh > GH_HDR_MAX_SIGNED || sigvaluelen > GH_DKIM_SIGHDR_MAX)
		return GH_ETOOBIG;
	sel = calloc(nh ? nh : 1, sizeof(*sel));
	if (sel == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	err = gm_hdrlist_select(l, names, nh, sel);
	if (err)
		goto cleanup;
	/* One scratch buffer, big enough for the largest field. */
	bufsz = gm_canon_header_bound(strlen(signame), sigvaluelen);
	for (i = 0; i < nh; i++) {
		size_t b;

		if (sel[i] == NULL)
			continue;
		b = gm_canon_header_bound(sel[i]->namelen, sel[i]->valuelen);
		if (b > bufsz)
			bufsz = b;
	}
	buf = malloc(bufsz);
	md = EVP_MD_CTX_new();
	if (buf == NULL || md == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err = GH_EIO;
		goto cleanup;
	}
	for (i = 0; i < nh; i++) {
		if (sel[i] == NULL)
			continue;
		err = hash_field(md, hc, sel[i]->name, sel[i]->namelen,
		    sel[i]->value, sel[i]->valuelen, buf, bufsz, 1);
		if (err)
			goto cleanup;
	}
	err = hash_field(md, hc, signame, strlen(signame), sigvalue,
	    sigvaluelen, buf, bufsz, 0);
	if (err)
		goto cleanup;
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 ||
	    dlen != GH_SHA256_LEN) {
		err = GH_EIO;
		goto cleanup;
	}
	err = GH_OK;
cleanup:
	EVP_MD_CTX_free(md);
	free(buf);
	free(sel);
	return err;
}
