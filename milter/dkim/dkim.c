/*
 * dkim.c - one message's DKIM signing session: keep its header fields,
 * stream its body through one canonicalizer per body canonicalization, and
 * at the end build, hash and sign each DKIM-Signature (see dkim.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dkim.h"
#include "hdrlist.h"
#include "sbuf.h"

const char *const gm_dkim_default_headers[] = {
	"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-Sender", "Resent-To",
	"Resent-Cc", "In-Reply-To", "References", "Message-ID", "Sender",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Content-ID", "Content-Description", "Content-Disposition",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post",
	"List-Subscribe", "List-Post", "List-Owner", "List-Archive",
};
const size_t gm_dkim_default_nheaders =
    sizeof(gm_dkim_default_headers) / sizeof(gm_dkim_default_headers[0]);

const char *const gm_dkim_default_oversign[] = {
	"From", "To", "Subject", "Date", "List-Unsubscribe",
	"List-Unsubscribe-Post",
};
const size_t gm_dkim_default_noversign =
    sizeof(gm_dkim_default_oversign) / sizeof(gm_dkim_default_oversign[0]);

/* A list of names copied into one allocation. */
struct namelist {
	char **v;
	size_t n;
};

struct sig {
	const struct gh_dkim_key *key;
	char *domain;
	char *selector;
	gm_canon hdr_canon;
	gm_canon body_canon;
	long long t;
	long long x;
	struct namelist sign;
	struct namelist over;
	char *value;
};

struct gm_dkim_msg {
	struct gm_hdrlist hdrs;
	struct gm_body_canon *body[2];	/* indexed by gm_canon */
	struct sig sig[GH_DKIM_MAX_SIGS];
	size_t nsig;
	gh_err sticky;
	int body_started;
	int finished;
};

static gh_err
copy_names(struct namelist *nl, const char *const *names, size_t n)
{
	size_t total = 0;
	size_t i;
	char *p;

	nl->v = NULL;
	nl->n = 0;
	if (n > GH_DKIM_MAX_NAMES)
		return GH_EINVAL;
	for (i = 0; i < n; i++) {
		if (!gm_dkim_field_name_ok(names[i]))
			return GH_EINVAL;
		total += strlen(names[i]) + 1;
	}
	/* Pointers first, then the strings, in one block. */
	nl->v = malloc(n * sizeof(char *) + total + 1);
	if (nl->v == NULL)
		return GH_ENOMEM;
	p = (char *)(nl->v + n);
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]) + 1;

		memcpy(p, names[i], len);
		nl->v[i] = p;
		p += len;
	}
	nl->n = n;
	return GH_OK;
}

static char *
dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static gh_err
sig_init(struct sig *s, const struct gm_dkim_sign_opts *o)
{
	const char *const *hl = o->headers;
	size_t nh = o->nheaders;
	const char *const *ol = o->oversign;
	size_t no = o->noversign;
	gh_err err;

	if (o->key == NULL || !gm_dkim_name_ok(o->domain) ||
	    !gm_dkim_name_ok(o->selector))
		return GH_EINVAL;
	if ((o->hdr_canon != GH_CANON_SIMPLE &&
	    o->hdr_canon != GH_CANON_RELAXED) ||
	    (o->body_canon != GH_CANON_SIMPLE &&
	    o->body_canon != GH_CANON_RELAXED))
		return GH_EINVAL;
	if (o->x > 0 && o->t >= 0 && o->x <= o->t)
		return GH_EINVAL;
	if (hl == NULL) {
		hl = gm_dkim_default_headers;
		nh = gm_dkim_default_nheaders;
	}
	if (ol == NULL) {
		ol = gm_dkim_default_oversign;
		no = gm_dkim_default_noversign;
	}
	s->key = o->key;
	s->hdr_canon = o->hdr_canon;
	s->body_canon = o->body_canon;
	s->t = o->t;
	s->x = o->x;
	s->domain = dupstr(o->domain);
	s->selector = dupstr(o->selector);
	if (s->domain == NULL || s->selector == NULL)
		return GH_ENOMEM;
	err = copy_names(&s->sign, hl, nh);
	if (err)
		return err;
	return copy_names(&s->over, ol, no);
}

static void
sig_free(struct sig *s)
{
	free(s->domain);
	free(s->selector);
	free(s->sign.v);
	free(s->over.v);
	free(s->value);
	memset(s, 0, sizeof(*s));
}

/* Add one signature; on failure the message is as it was. */
static gh_err
add_sig(struct gm_dkim_msg *m, const struct gm_dkim_sign_opts *o)
{
	struct sig *s = &m->sig[m->nsig];
	gh_err err;

	if (m->nsig == GH_DKIM_MAX_SIGS)
		return GH_EINVAL;
	err = sig_init(s, o);
	if (err == GH_OK && m->body[o->body_canon] == NULL)
		err = gm_body_canon_new(o->body_canon, &m->body[o->body_canon]);
	if (err) {
		sig_free(s);
		return err;
	}
	m->nsig++;
	return GH_OK;
}

gh_err
gm_dkim_msg_new(const struct gm_dkim_sign_opts *sigs, size_t nsigs,
    struct gm_dkim_msg **out)
{
	struct gm_dkim_msg *m = NULL;
	size_t i;
	gh_err err;

	if (out == NULL)
		return GH_EINVAL;
	*out = NULL;
	if ((sigs == NULL && nsigs > 0) || nsigs > GH_DKIM_MAX_SIGS)
		return GH_EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return GH_ENOMEM;
	gm_hdrlist_init(&m->hdrs);
	for (i = 0; i < nsigs; i++) {
		err = add_sig(m, &sigs[i]);
		if (err)
			goto cleanup;
	}
	*out = m;
	m = NULL;
	err = GH_OK;
cleanup:
	gm_dkim_msg_free(m);
	return err;
}

/* The state check every feeding call starts with. */
static gh_err
still_open(const struct gm_dkim_msg *m)
{
	if (m == NULL)
		return GH_EINVAL;
	if (m->sticky)
		return m->sticky;
	return m->finished ? GH_EINVAL : GH_OK;
}

gh_err
gm_dkim_msg_add_sig(struct gm_dkim_msg *m, const struct gm_dkim_sign_opts *o)
{
	gh_err err = still_open(m);

	if (err)
		return err;
	if (o == NULL || m->body_started)
		return GH_EINVAL;
	return add_sig(m, o);
}

static gh_err
fail(struct gm_dkim_msg *m, gh_err err)
{
	if (err && !m->sticky)
		m->sticky = err;
	return m->sticky;
}

gh_err
gm_dkim_msg_header_n(struct gm_dkim_msg *m, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	gh_err err = still_open(m);

	if (err)
		return err;
	return fail(m, gm_hdrlist_add(&m->hdrs, name, namelen, value,
	    valuelen));
}

gh_err
gm_dkim_msg_header(struct gm_dkim_msg *m, const char *name, const char *value)
{
	if (m == NULL || name == NULL)
		return GH_EINVAL;
	if (value == NULL)
		value = "";
	return gm_dkim_msg_header_n(m, name, strlen(name), value,
	    strlen(value));
}

gh_err
gm_dkim_msg_body(struct gm_dkim_msg *m, const void *chunk, size_t len)
{
	gh_err err = still_open(m);
	size_t c;

	if (err)
		return err;
	m->body_started = 1;
	for (c = 0; c < 2; c++) {
		if (m->body[c] == NULL)
			continue;
		if (fail(m, gm_body_canon_update(m->body[c], chunk, len)))
			return m->sticky;
	}
	return GH_OK;
}

static gh_err
sign_one(struct gm_dkim_msg *m, struct sig *s,
    const unsigned char bh[GH_SHA256_LEN])
{
	const char *h[GH_HDR_MAX_SIGNED];
	struct gm_dkim_sighdr sh;
	struct gm_sbuf val;
	unsigned char digest[GH_SHA256_LEN];
	unsigned char sigbytes[GH_DKIM_SIG_MAX];
	size_t nh = 0;
	size_t siglen = 0;
	gh_err err;

	gm_sbuf_init(&val, GH_DKIM_SIGHDR_MAX);
	err = gm_hdrlist_plan(&m->hdrs, (const char *const *)s->sign.v,
	    s->sign.n, (const char *const *)s->over.v, s->over.n, h, &nh);
	if (err)
		goto cleanup;
	memset(&sh, 0, sizeof(sh));
	sh.alg = gh_dkim_key_alg(s->key);
	sh.hdr_canon = s->hdr_canon;
	sh.body_canon = s->body_canon;
	sh.domain = s->domain;
	sh.selector = s->selector;
	sh.t = s->t;
	sh.x = s->x;
	sh.h = h;
	sh.nh = nh;
	sh.bh = bh;
	err = gm_dkim_sighdr_build(&sh, &val);
	if (err)
		goto cleanup;
	err = gm_dkim_header_digest(s->hdr_canon, &m->hdrs, h, nh,
	    GH_DKIM_SIG_NAME, val.p, val.len, digest);
	if (err)
		goto cleanup;
	err = gh_dkim_key_sign(s->key, digest, sigbytes, &siglen);
	if (err)
		goto cleanup;
	err = gm_dkim_sighdr_add_b(&val, sigbytes, siglen);
	if (err)
		goto cleanup;
	s->value = gm_sbuf_take(&val);
	err = s->value ? GH_OK : GH_ENOMEM;
cleanup:
	OPENSSL_cleanse(digest, sizeof(digest));
	gm_sbuf_free(&val);
	return err;
}

gh_err
gm_dkim_msg_finish(struct gm_dkim_msg *m)
{
	unsigned char bh[2][GH_SHA256_LEN];
	size_t i;
	gh_err err = still_open(m);

	if (err)
		return err;
	if (m->nsig == 0)
		return GH_EINVAL;
	m->finished = 1;
	for (i = 0; i < 2; i++) {
		if (m->body[i] == NULL)
			continue;
		err = gm_body_canon_final(m->body[i], bh[i]);
		if (err)
			return fail(m, err);
	}
	for (i = 0; i < m->nsig; i++) {
		err = sign_one(m, &m->sig[i], bh[m->sig[i].body_canon]);
		if (err)
			break;
	}
	if (err) {
		/* All or nothing: no half-signed message. */
		for (i = 0; i < m->nsig; i++) {
			free(m->sig[i].value);
			m->sig[i].value = NULL;
		}
		return fail(m, err);
	}
	return GH_OK;
}

const char *
gm_dkim_msg_value(const struct gm_dkim_msg *m, size_t i)
{
	if (m == NULL || i >= m->nsig || m->sticky)
		return NULL;
	return m->sig[i].value;
}

size_t
gm_dkim_msg_nsigs(const struct gm_dkim_msg *m)
{
	return m ? m->nsig : 0;
}

void
gm_dkim_msg_free(struct gm_dkim_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nsig; i++)
		sig_free(&m->sig[i]);
	for (i = 0; i < 2; i++)
		gm_body_canon_free(m->body[i]);
	gm_hdrlist_clear(&m->hdrs);
	free(m);
}
