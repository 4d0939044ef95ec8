/*
 * suppress.c - the suppression list: who asked not to get bulk mail.
 * Key: normalized address | 0x00 | list ("" for every list).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/records.h"
#include "gatehouse/replog.h"

#define SKEY_MAX (GH_ADDR_MAX + 1 + GH_LIST_MAX)

gh_err
gh_addr_normalize(const char *in, char *out, size_t cap)
{
	const char *s, *e;
	size_t n;

	if (in == NULL || out == NULL || cap < GH_ADDR_MAX + 1)
		return GH_EINVAL;
	s = in;
	while (*s == ' ' || *s == '\t' || *s == '<')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '>' ||
	                 e[-1] == '\r' || e[-1] == '\n'))
		e--;
	n = (size_t)(e - s);
	if (n == 0)
		return GH_EINVAL;
	if (n > GH_ADDR_MAX)
		return GH_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
			return GH_EINVAL;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	if (strchr(out, '@') == NULL || out[0] == '@' || out[n - 1] == '@')
		return GH_EINVAL;
	return GH_OK;
}

static gh_err
skey(const char *addr, const char *list, char *k, size_t *klen)
{
	char norm[GH_ADDR_MAX + 1];
	size_t al, ll = list ? strlen(list) : 0;
	gh_err err = gh_addr_normalize(addr, norm, sizeof(norm));

	if (err)
		return err;
	if (ll > GH_LIST_MAX || (list && memchr(list, '\0', ll)))
		return GH_ETOOBIG;
	al = strlen(norm);
	memcpy(k, norm, al);
	k[al] = '\0';
	if (ll)
		memcpy(k + al + 1, list, ll);
	*klen = al + 1 + ll;
	return GH_OK;
}

/*
 * After a change to the list: a new generation (the bridges resend the
 * list to the mail domain) and, in the multi-host mode, a replication log
 * entry (gatehouse/replog.h), in the change's own transaction.
 */
static gh_err
changed(struct gh_txn *txn, const char *k, size_t kl)
{
	gh_err err = gh_txn_next_seq(txn, GH_SUPPRESS_GEN, NULL);

	return err ? err : gh_replog_note_txn(txn, GH_REP_SUPPRESS, k, kl);
}

gh_err
gh_suppress_add_txn(struct gh_txn *txn, const char *addr, const char *list,
                    const char *reason, const char *source, int64_t now)
{
	char k[SKEY_MAX];
	size_t kl;
	json_t *rec;
	gh_err err = skey(addr, list, k, &kl);

	if (err)
		return err;
	rec = json_pack("{s:i, s:s?, s:s?, s:s, s:I}", "v", 1, "reason", reason,
	                "source", source, "list", list ? list : "",
	                "created_at", (json_int_t)now);
	if (rec == NULL)
		return GH_EINVAL;   /* not UTF-8 */
	err = gh_txn_put_json(txn, GH_DB_SUPPRESSION, k, kl, rec);
	json_decref(rec);
	return err ? err : changed(txn, k, kl);
}

gh_err
gh_suppress_remove_txn(struct gh_txn *txn, const char *addr, const char *list)
{
	char k[SKEY_MAX];
	size_t kl;
	gh_err err = skey(addr, list, k, &kl);

	if (err)
		return err;
	err = gh_txn_del(txn, GH_DB_SUPPRESSION, k, kl);
	return err ? err : changed(txn, k, kl);
}

gh_err
gh_suppress_check_txn(struct gh_txn *txn, const char *addr, const char *list,
                      int *suppressed)
{
	char k[SKEY_MAX];
	size_t kl;
	gh_err err;

	*suppressed = 0;
	err = skey(addr, NULL, k, &kl);
	if (err)
		return err;
	err = gh_txn_get(txn, GH_DB_SUPPRESSION, k, kl, NULL, NULL);
	if (err == GH_OK) {
		*suppressed = 1;
		return GH_OK;
	}
	if (err != GH_ENOTFOUND || list == NULL || *list == '\0')
		return err == GH_ENOTFOUND ? GH_OK : err;
	err = skey(addr, list, k, &kl);
	if (err)
		return err;
	err = gh_txn_get(txn, GH_DB_SUPPRESSION, k, kl, NULL, NULL);
	if (err == GH_OK)
		*suppressed = 1;
	return err == GH_ENOTFOUND ? GH_OK : err;
}

struct listed_arg {
	const char *prefix;	/* address | 0x00 */
	size_t plen;
	int listed;
};

/* The first key at or after "address | 0x00" tells: keys sort bytewise. */
static int
listed_one(const void *key, size_t klen, const void *val, size_t vlen,
           void *arg)
{
	struct listed_arg *a = arg;

	(void)val;
	(void)vlen;
	a->listed = klen >= a->plen && memcmp(key, a->prefix, a->plen) == 0;
	return 1;
}

gh_err
gh_suppress_listed_txn(struct gh_txn *txn, const char *addr, int *listed)
{
	char k[SKEY_MAX];
	struct listed_arg a;
	gh_err err;

	*listed = 0;
	err = skey(addr, NULL, k, &a.plen);
	if (err)
		return err;
	a.prefix = k;
	a.listed = 0;
	err = gh_txn_scan(txn, GH_DB_SUPPRESSION, k, a.plen, 0, listed_one, &a,
	                  NULL);
	if (err == GH_OK)
		*listed = a.listed;
	return err;
}

struct list_arg {
	gh_suppress_fn fn;
	void *arg;
	const char *after;   /* a key not to visit again (the scan's start) */
	size_t alen;
};

static int
list_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct list_arg *a = arg;
	char addr[GH_ADDR_MAX + 1], list[GH_LIST_MAX + 1];
	const char *nul = memchr(key, '\0', klen);
	size_t al, ll;
	json_t *rec;
	int r;

	if (nul == NULL || (a->after != NULL && klen == a->alen &&
	                    memcmp(key, a->after, klen) == 0))
		return 0;
	al = (size_t)(nul - (const char *)key);
	ll = klen - al - 1;
	if (al > GH_ADDR_MAX || ll > GH_LIST_MAX)
		return 0;
	memcpy(addr, key, al);
	addr[al] = '\0';
	memcpy(list, nul + 1, ll);
	list[ll] = '\0';
	rec = json_loadb(val, vlen, 0, NULL);
	r = a->fn(addr, list, rec, a->arg);
	json_decref(rec);
	return r;
}

static gh_err
list_view(struct gh_txn *txn, void *arg)
{
	return gh_txn_scan(txn, GH_DB_SUPPRESSION, NULL, 0, 0, list_one, arg,
	                   NULL);
}

gh_err
gh_suppress_scan_txn(struct gh_txn *txn, const char *after_addr,
                     const char *after_list, gh_suppress_fn fn, void *arg)
{
	char k[SKEY_MAX];
	size_t kl = 0;
	struct list_arg a = {fn, arg, NULL, 0};
	gh_err err;

	if (txn == NULL || fn == NULL)
		return GH_EINVAL;
	if (after_addr != NULL) {
		err = skey(after_addr, after_list, k, &kl);
		if (err)
			return err;
		a.after = k;
		a.alen = kl;
	}
	return gh_txn_scan(txn, GH_DB_SUPPRESSION, a.after, a.alen, 0,
	                   list_one, &a, NULL);
}

gh_err
gh_suppress_list(struct gh_store *st, gh_suppress_fn fn, void *arg)
{
	struct list_arg a = {fn, arg, NULL, 0};

	if (st == NULL || fn == NULL)
		return GH_EINVAL;
	return gh_store_view(st, list_view, &a);
}

gh_err
gh_suppress_gen_txn(struct gh_txn *txn, uint64_t *gen)
{
	const void *v;
	size_t vl;
	gh_err err;

	*gen = 0;
	err = gh_txn_get(txn, GH_DB_META, GH_SUPPRESS_GEN,
	                 strlen(GH_SUPPRESS_GEN), &v, &vl);
	if (err == GH_ENOTFOUND)
		return GH_OK;
	if (err)
		return err;
	if (vl != 8)
		return GH_ECORRUPT;
	*gen = gh_get_be64(v);
	return GH_OK;
}

struct clear_arg {
	char (*keys)[SKEY_MAX];
	size_t *lens;
	size_t n, cap;
};

static int
clear_collect(const void *key, size_t klen, const void *val, size_t vlen,
              void *arg)
{
	struct clear_arg *a = arg;

	(void)val;
	(void)vlen;
	if (klen > SKEY_MAX)
		return 0;
	memcpy(a->keys[a->n], key, klen);
	a->lens[a->n++] = klen;
	return a->n == a->cap;
}

gh_err
gh_suppress_clear_txn(struct gh_txn *txn)
{
	enum { BATCH = 256 };
	char (*keys)[SKEY_MAX] = malloc(BATCH * sizeof(*keys));
	size_t lens[BATCH];
	struct clear_arg a = {keys, lens, 0, BATCH};
	gh_err err;

	if (keys == NULL)
		return GH_ENOMEM;
	/* Collect a batch, delete it, again: no writes during a scan. */
	do {
		a.n = 0;
		err = gh_txn_scan(txn, GH_DB_SUPPRESSION, NULL, 0, 0,
		                  clear_collect, &a, NULL);
		for (size_t i = 0; err == GH_OK && i < a.n; i++)
			err = gh_txn_del(txn, GH_DB_SUPPRESSION, keys[i],
			                 lens[i]);
	} while (err == GH_OK && a.n == BATCH);
	free(keys);
	return err;
}
