/*
 * token.c - signed, expiring, self-contained tokens for unsubscribe and
 * download links (gatehouse/token.h, docs/tokens.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gatehouse/codec.h"
#include "gatehouse/file.h"
#include "gatehouse/token.h"
#include "detail_int.h"

#define TOKEN_VERSION 1
#define MAC_LEN 16
#define RAW_MAX (11 + GH_TOKEN_FIELDS_MAX * (1 + GH_TOKEN_FIELD_MAX) + MAC_LEN)

static const char *
purpose_label(enum gh_token_purpose p)
{
	switch (p) {
	case GH_TOKEN_UNSUBSCRIBE:
		return "gatehouse token v1 unsubscribe";
	case GH_TOKEN_DOWNLOAD:
		return "gatehouse token v1 download";
	}
	return NULL;
}

/* Per-purpose key: HMAC(master, label).  One master key in the config,
 * and still an unsubscribe token is useless as a download link. */
static int
derive(const struct gh_token_key *master, enum gh_token_purpose p,
       unsigned char out[32])
{
	const char *label = purpose_label(p);
	unsigned int len = 32;

	if (label == NULL || master->len < GH_TOKEN_KEY_MIN ||
	    master->len > GH_TOKEN_KEY_MAX)
		return -1;
	return HMAC(EVP_sha256(), master->k, (int)master->len,
	            (const unsigned char *)label, strlen(label), out, &len) ?
	       0 : -1;
}

/* The key of purpose p: the one loaded (or precomputed for a master), or
 * derived now from a master built by hand. */
static int
key_for(const struct gh_token_key *key, enum gh_token_purpose p,
        unsigned char out[32])
{
	if (purpose_label(p) == NULL)
		return -1;
	if (key->purposes & GH_TOKEN_BIT(p)) {
		memcpy(out, key->pk[p - 1], 32);
		return 0;
	}
	return derive(key, p, out);
}

static int
is_master(const struct gh_token_key *key)
{
	return key->len >= GH_TOKEN_KEY_MIN && key->len <= GH_TOKEN_KEY_MAX;
}

int
gh_token_key_has(const struct gh_token_key *key, enum gh_token_purpose p)
{
	return key != NULL && purpose_label(p) != NULL &&
	       ((key->purposes & GH_TOKEN_BIT(p)) || is_master(key));
}

static int
mac(const unsigned char key[32], const unsigned char *data, size_t n,
    unsigned char out[MAC_LEN])
{
	unsigned char full[32];
	unsigned int len = sizeof(full);

	if (!HMAC(EVP_sha256(), key, 32, data, n, full, &len))
		return -1;
	memcpy(out, full, MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return 0;
}

gh_err
gh_token_make(const struct gh_token_key *key, const struct gh_token *t,
              char *out, size_t cap)
{
	unsigned char raw[RAW_MAX], k[32];
	size_t n = 0;
	gh_err err;

	if (key == NULL || t == NULL || out == NULL ||
	    t->nfields > GH_TOKEN_FIELDS_MAX || purpose_label(t->purpose) == NULL)
		return GH_EINVAL;
	raw[n++] = TOKEN_VERSION;
	raw[n++] = (unsigned char)t->purpose;
	for (int i = 7; i >= 0; i--)
		raw[n++] = (unsigned char)((uint64_t)t->expires >> (8 * i));
	raw[n++] = (unsigned char)t->nfields;
	for (size_t i = 0; i < t->nfields; i++) {
		size_t fl = strnlen(t->field[i], GH_TOKEN_FIELD_MAX + 1);

		if (fl > GH_TOKEN_FIELD_MAX)
			return GH_EINVAL;
		raw[n++] = (unsigned char)fl;
		memcpy(raw + n, t->field[i], fl);
		n += fl;
	}
	/* A purpose key file without this purpose: refused, not a bad key. */
	if (!gh_token_key_has(key, t->purpose))
		return key->purposes != 0 ? GH_EACCES : GH_EINVAL;
	if (key_for(key, t->purpose, k) != 0)
		return GH_EINVAL;
	if (mac(k, raw, n, raw + n) != 0) {
		OPENSSL_cleanse(k, sizeof(k));
		return GH_EIO;
	}
	OPENSSL_cleanse(k, sizeof(k));
	n += MAC_LEN;
	err = gh_b64_encode(GH_B64_URL, raw, n, out, cap, NULL);
	return err;
}

gh_err
gh_token_check(const struct gh_token_key *keys, size_t nkeys,
               enum gh_token_purpose purpose, const char *token, size_t len,
               int64_t now, struct gh_token *out)
{
	unsigned char raw[RAW_MAX + 3], k[32], want[MAC_LEN];
	size_t n = 0, p, body;
	int ok = 0;

	if (keys == NULL || token == NULL || out == NULL ||
	    len > GH_TOKEN_LEN_MAX)
		return GH_EINVAL;
	memset(out, 0, sizeof(*out));
	if (gh_b64_decode(GH_B64_URL, token, len, raw, sizeof(raw), &n) != GH_OK)
		return GH_EINVAL;
	if (n < 11 + MAC_LEN || raw[0] != TOKEN_VERSION)
		return GH_EINVAL;
	body = n - MAC_LEN;
	/* Parse before trusting: every length must stay inside the body. */
	p = 10;
	out->nfields = raw[p++];
	if (out->nfields > GH_TOKEN_FIELDS_MAX)
		return GH_EINVAL;
	for (size_t i = 0; i < out->nfields; i++) {
		size_t fl;

		if (p >= body)
			return GH_EINVAL;
		fl = raw[p++];
		if (p + fl > body || memchr(raw + p, '\0', fl) != NULL)
			return GH_EINVAL;
		memcpy(out->field[i], raw + p, fl);
		out->field[i][fl] = '\0';
		p += fl;
	}
	if (p != body)
		return GH_EINVAL;
	if (raw[1] != (unsigned char)purpose)
		return GH_EACCES;
	for (size_t i = 0; i < nkeys && !ok; i++) {
		if (key_for(&keys[i], purpose, k) != 0)
			continue;
		if (mac(k, raw, body, want) == 0 &&
		    CRYPTO_memcmp(want, raw + body, MAC_LEN) == 0)
			ok = 1;
	}
	OPENSSL_cleanse(k, sizeof(k));
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return GH_EACCES;
	}
	out->purpose = purpose;
	out->expires = 0;
	for (int i = 0; i < 8; i++)
		out->expires = (int64_t)(((uint64_t)out->expires << 8) | raw[2 + i]);
	return out->expires < now ? GH_EEXPIRED : GH_OK;
}

/* Which key file a purpose key file's line is about: the purpose, and
 * whether it is the previous key. */
static const struct {
	const char *name;
	enum gh_token_purpose purpose;
	int previous;
} line_names[] = {
	{"unsubscribe", GH_TOKEN_UNSUBSCRIBE, 0},
	{"download", GH_TOKEN_DOWNLOAD, 0},
	{"unsubscribe.previous", GH_TOKEN_UNSUBSCRIBE, 1},
	{"download.previous", GH_TOKEN_DOWNLOAD, 1},
};

static int
is_line_name(const char *s)
{
	for (size_t i = 0; i < sizeof(line_names) / sizeof(line_names[0]); i++)
		if (strcmp(s, line_names[i].name) == 0)
			return 1;
	return 0;
}

#define KEY_FILE_HINT "(a token key file is one line of 64 to 128 hex " \
	"digits, or lines 'PURPOSE HEX' as in docs/tokens.md; make them " \
	"with 'gatehouse tokens keygen')"

static gh_err
bad_line(char *detail, size_t dlen, const char *path, unsigned line,
         const char *fmt, ...) __attribute__((format(__printf__, 5, 6)));

static gh_err
bad_line(char *detail, size_t dlen, const char *path, unsigned line,
         const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return gh_detail(detail, dlen, GH_EINVAL, "%s line %u: %s " KEY_FILE_HINT,
	                 path, line, what);
}

/* A master key, one line of hex: every purpose's key derived now, so the
 * hot path never runs the derivation. */
static gh_err
parse_master(const char *path, const char *buf, size_t n,
             struct gh_token_key *key, char *detail, size_t dlen)
{
	gh_err err = gh_hex_decode(buf, n, key->k, sizeof(key->k), &key->len);

	if (err || key->len < GH_TOKEN_KEY_MIN)
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not a key "
		                 "(expected %d to %d hex digits; make one with "
		                 "'gatehouse tokens keygen')", path,
		                 2 * GH_TOKEN_KEY_MIN, 2 * GH_TOKEN_KEY_MAX);
	for (int p = 1; p <= GH_TOKEN_PURPOSES; p++) {
		if (derive(key, (enum gh_token_purpose)p, key->pk[p - 1]) != 0)
			return gh_detail(detail, dlen, GH_EIO, "%s: cannot derive "
			                 "the purpose keys", path);
		key->purposes |= GH_TOKEN_BIT(p);
	}
	return GH_OK;
}

/* A purpose key file: each line into cur or prev.  buf is NUL-terminated
 * and cut into lines in place. */
static gh_err
parse_purposes(const char *path, char *buf, struct gh_token_key *cur,
               struct gh_token_key *prev, char *detail, size_t dlen)
{
	unsigned line = 0;
	char *s = buf, *next;

	for (; s != NULL; s = next) {
		struct gh_token_key *into;
		size_t nl, hl, olen, i;
		char *hex;

		line++;
		next = strchr(s, '\n');
		if (next != NULL)
			*next++ = '\0';
		nl = strlen(s);
		while (nl > 0 && strchr(" \t\r", s[nl - 1]) != NULL)
			s[--nl] = '\0';
		s += strspn(s, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		nl = strcspn(s, " \t");
		hex = s + nl + strspn(s + nl, " \t");
		hl = strlen(hex);
		for (i = 0; i < sizeof(line_names) / sizeof(line_names[0]); i++)
			if (strlen(line_names[i].name) == nl &&
			    memcmp(line_names[i].name, s, nl) == 0)
				break;
		if (i == sizeof(line_names) / sizeof(line_names[0])) {
			/* named when it is a word, not what may be a key */
			int word = nl <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
			           "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-") == nl;

			return bad_line(detail, dlen, path, line, "unknown key "
			                "%s%.*s%s(expected unsubscribe or download, "
			                "either with .previous)", word ? "'" : "",
			                word ? (int)nl : 0, s, word ? "' " : "");
		}
		into = line_names[i].previous ? prev : cur;
		if (into->purposes & GH_TOKEN_BIT(line_names[i].purpose))
			return bad_line(detail, dlen, path, line, "%s given twice",
			                line_names[i].name);
		if (hl != 2 * GH_TOKEN_PURPOSE_KEY ||
		    gh_hex_decode(hex, hl, into->pk[line_names[i].purpose - 1],
		                  GH_TOKEN_PURPOSE_KEY, &olen) != GH_OK)
			return bad_line(detail, dlen, path, line, "%s: expected "
			                "%d hex digits", line_names[i].name,
			                2 * GH_TOKEN_PURPOSE_KEY);
		into->purposes |= GH_TOKEN_BIT(line_names[i].purpose);
	}
	return GH_OK;
}

/* Read path (either format) into cur and prev; prev stays empty for a
 * master. */
static gh_err
load_file(const char *path, struct gh_token_key *cur,
          struct gh_token_key *prev, char *detail, size_t dlen)
{
	char buf[GH_TOKEN_FILE_MAX + 1];
	size_t n;
	gh_err err;

	if (detail && dlen)
		detail[0] = '\0';
	memset(cur, 0, sizeof(*cur));
	memset(prev, 0, sizeof(*prev));
	err = gh_file_read_into(path, 0, buf, sizeof(buf), &n, detail, dlen);
	if (err == GH_ETOOBIG)
		err = gh_detail(detail, dlen, GH_EINVAL, "%s: longer than %d "
		                "bytes " KEY_FILE_HINT, path, GH_TOKEN_FILE_MAX);
	if (err)
		goto cleanup;
	buf[n] = '\0';
	if (strlen(buf) != n) {
		err = gh_detail(detail, dlen, GH_EINVAL, "%s: holds a NUL byte "
		                KEY_FILE_HINT, path);
		goto cleanup;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* One word and nothing else is a master key (or a broken one: say
	 * what a master key is); anything with spaces or comments is a
	 * purpose key file. */
	if (strcspn(buf, " \t\r\n#") == n && !is_line_name(buf))
		err = parse_master(path, buf, n, cur, detail, dlen);
	else
		err = parse_purposes(path, buf, cur, prev, detail, dlen);
	if (err == GH_OK && cur->purposes == 0 && !is_master(cur))
		err = gh_detail(detail, dlen, GH_EINVAL, "%s: no current key, "
		                "only .previous ones " KEY_FILE_HINT, path);
cleanup:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (err) {
		OPENSSL_cleanse(cur, sizeof(*cur));
		OPENSSL_cleanse(prev, sizeof(*prev));
	}
	return err;
}

gh_err
gh_token_key_load(const char *path, struct gh_token_key *key, char *detail,
                  size_t dlen)
{
	struct gh_token_key prev;
	gh_err err;

	if (detail && dlen)
		detail[0] = '\0';
	if (path == NULL || key == NULL)
		return GH_EINVAL;
	err = load_file(path, key, &prev, detail, dlen);
	OPENSSL_cleanse(&prev, sizeof(prev));
	return err;
}

gh_err
gh_token_key_load_previous(const char *path, struct gh_token_key *key,
                           char *detail, size_t dlen)
{
	struct gh_token_key cur;
	gh_err err;

	if (detail && dlen)
		detail[0] = '\0';
	if (path == NULL || key == NULL)
		return GH_EINVAL;
	err = load_file(path, &cur, key, detail, dlen);
	OPENSSL_cleanse(&cur, sizeof(cur));
	if (err == GH_OK && key->purposes == 0)
		err = gh_detail(detail, dlen, GH_ENOTFOUND, "%s: no .previous "
		                "keys", path);
	return err;
}

gh_err
gh_token_verifier_keys(const char *domain_file, const char *domain_key,
                       const char *key_file, const char *prev_file,
                       struct gh_token_key keys[2], size_t *n,
                       const char **which, const char **path, char *detail,
                       size_t dlen)
{
	gh_err err;

	*n = 0;
	memset(keys, 0, 2 * sizeof(keys[0]));
	if (domain_file != NULL && *domain_file != '\0') {
		*which = domain_key;
		*path = domain_file;
		err = gh_token_key_load(domain_file, &keys[0], detail, dlen);
		if (err)
			return err;
		*n = 1;
		/* its previous keys, if a rotation left some */
		err = gh_token_key_load_previous(domain_file, &keys[1], detail,
		                                 dlen);
		if (err == GH_OK)
			*n = 2;
		else if (err != GH_ENOTFOUND)
			return err;
		if (detail && dlen)
			detail[0] = '\0';
		return GH_OK;
	}
	*which = "key_file";
	*path = key_file;
	if (key_file == NULL || *key_file == '\0')
		return gh_detail(detail, dlen, GH_ENOTFOUND, "not set");
	err = gh_token_key_load(key_file, &keys[0], detail, dlen);
	if (err)
		return err;
	*n = 1;
	if (prev_file != NULL && *prev_file != '\0') {
		*which = "previous_key_file";
		*path = prev_file;
		err = gh_token_key_load(prev_file, &keys[1], detail, dlen);
		if (err)
			return err;
		*n = 2;
	}
	*which = "key_file";
	*path = key_file;
	return GH_OK;
}

gh_err
gh_token_key_format(const struct gh_token_key *key,
                    const struct gh_token_key *prev, unsigned mask,
                    const char *comment, char *out, size_t cap)
{
	const unsigned all = GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE) |
	                     GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD);
	unsigned char k[32];
	char hex[2 * 32 + 1];
	size_t n = 0;
	gh_err err = GH_OK;

	if (key == NULL || out == NULL || cap == 0 || mask == 0 ||
	    (mask & ~all) != 0)
		return GH_EINVAL;
	out[0] = '\0';
	for (const char *c = comment; c != NULL && *c != '\0';) {
		size_t l = strcspn(c, "\n");
		int w = snprintf(out + n, cap - n, "# %.*s\n", (int)l, c);

		if (w < 0 || (size_t)w >= cap - n) {
			err = GH_ETOOBIG;
			goto cleanup;
		}
		n += (size_t)w;
		c += l + (c[l] == '\n');
	}
	for (size_t i = 0; i < sizeof(line_names) / sizeof(line_names[0]); i++) {
		const struct gh_token_key *from = line_names[i].previous ? prev :
		                                  key;
		enum gh_token_purpose p = line_names[i].purpose;
		int w;

		if (!(mask & GH_TOKEN_BIT(p)) || from == NULL)
			continue;
		if (!gh_token_key_has(from, p)) {
			err = GH_EACCES;
			goto cleanup;
		}
		if (key_for(from, p, k) != 0) {
			err = GH_EINVAL;
			goto cleanup;
		}
		gh_hex_encode(k, sizeof(k), hex, sizeof(hex));
		w = snprintf(out + n, cap - n, "%s %s\n", line_names[i].name, hex);
		if (w < 0 || (size_t)w >= cap - n) {
			err = GH_ETOOBIG;
			goto cleanup;
		}
		n += (size_t)w;
	}
cleanup:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (err)
		OPENSSL_cleanse(out, cap);
	return err;
}
