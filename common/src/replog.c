/*
 * replog.c - the core store's replication log (gatehouse/replog.h,
 * docs/store.md "replog", docs/cluster.md "Shared data").
 */
#include <stdlib.h>
#include <string.h>

#include "gatehouse/records.h"
#include "gatehouse/users.h"
#include "replog_int.h"

gh_err
gh_replog_enabled_txn(struct gh_txn *txn, int *on)
{
	gh_err err = gh_txn_get(txn, GH_DB_META, GH_REPLOG_ON,
	                        strlen(GH_REPLOG_ON), NULL, NULL);

	*on = err == GH_OK;
	return err == GH_ENOTFOUND ? GH_OK : err;
}

static gh_err
rkey(unsigned kind, const void *key, size_t klen, unsigned char *k,
     size_t *kl)
{
	if (klen == 0 || klen + 1 > GH_REPLOG_KEY_MAX)
		return klen ? GH_ETOOBIG : GH_EINVAL;
	k[0] = (unsigned char)kind;
	memcpy(k + 1, key, klen);
	*kl = klen + 1;
	return GH_OK;
}

/* Record without looking at the mark or the mute (seeding). */
static gh_err
note(struct gh_txn *txn, unsigned kind, const void *key, size_t klen)
{
	unsigned char k[GH_REPLOG_KEY_MAX], v[8];
	uint64_t seq;
	size_t kl;
	gh_err err = rkey(kind, key, klen, k, &kl);

	if (err == GH_OK)
		err = gh_txn_next_seq(txn, GH_REPLOG_SEQ, &seq);
	if (err)
		return err;
	gh_put_be64(v, seq);
	return gh_txn_put(txn, GH_DB_REPLOG, k, kl, v, 8);
}

/* *on: whether this transaction's changes go into the log (the store is
 * clustered, and the change is not one applied from the cluster). */
static gh_err
recording(struct gh_txn *txn, int *on)
{
	*on = 0;
	if (gh_txn_replog_muted(txn))
		return GH_OK;
	return gh_replog_enabled_txn(txn, on);
}

gh_err
gh_replog_note_txn(struct gh_txn *txn, unsigned kind, const void *key,
                   size_t klen)
{
	int on = 0;
	gh_err err = recording(txn, &on);

	return err || !on ? err : note(txn, kind, key, klen);
}

/* contacts without push, v and updated_at: what GH_REP_CONTACTS carries */
static json_t *
contacts_part(const json_t *rec)
{
	json_t *c;

	if (rec == NULL)
		return NULL;
	c = json_deep_copy(rec);
	if (c != NULL) {
		json_object_del(c, "push");
		json_object_del(c, "v");
		json_object_del(c, "updated_at");
	}
	return c;
}

gh_err
gh_replog_contacts_txn(struct gh_txn *txn, const char *user,
                       const json_t *old, const json_t *new_rec)
{
	json_t *a, *b;
	int on = 0, same;
	gh_err err = recording(txn, &on);

	if (err || !on)
		return err;
	a = contacts_part(old);
	b = contacts_part(new_rec);
	same = (a == NULL && b == NULL) || (a && b && json_equal(a, b));
	json_decref(a);
	json_decref(b);
	if (!same)
		err = note(txn, GH_REP_CONTACTS, user, strlen(user));
	if (err)
		return err;
	a = old ? json_object_get(old, "push") : NULL;
	b = new_rec ? json_object_get(new_rec, "push") : NULL;
	/* an absent and an empty array are the same list */
	if ((a == NULL || json_array_size(a) == 0) &&
	    (b == NULL || json_array_size(b) == 0))
		return GH_OK;
	if (a != NULL && b != NULL && json_equal(a, b))
		return GH_OK;
	return note(txn, GH_REP_PUSH, user, strlen(user));
}

gh_err
gh_replog_get_txn(struct gh_txn *txn, unsigned kind, const void *key,
                  size_t klen, struct gh_replog_entry *out)
{
	unsigned char k[GH_REPLOG_KEY_MAX];
	const unsigned char *v;
	const void *vp;
	size_t kl, vl;
	gh_err err = rkey(kind, key, klen, k, &kl);

	memset(out, 0, sizeof(*out));
	if (err == GH_OK)
		err = gh_txn_get(txn, GH_DB_REPLOG, k, kl, &vp, &vl);
	if (err)
		return err;
	v = vp;
	if (vl != 8 && vl < 17)
		return GH_ECORRUPT;
	out->seq = gh_get_be64(v);
	if (vl > 8) {
		out->rev = gh_get_be64(v + 8);
		out->op = v[16];
		out->val = v + 17;
		out->vlen = vl - 17;
	}
	return GH_OK;
}

gh_err
gh_replog_pending_txn(struct gh_txn *txn, unsigned kind, const void *key,
                      size_t klen, uint64_t *seq)
{
	struct gh_replog_entry e;
	gh_err err = gh_replog_get_txn(txn, kind, key, klen, &e);

	if (err == GH_OK && seq)
		*seq = e.seq;
	return err;
}

gh_err
gh_replog_defer_txn(struct gh_txn *txn, unsigned kind, const void *key,
                    size_t klen, uint64_t rev, unsigned op, const void *val,
                    size_t vlen)
{
	unsigned char k[GH_REPLOG_KEY_MAX], *v;
	struct gh_replog_entry e;
	size_t kl;
	gh_err err;

	if (op == GH_REP_DEL)
		vlen = 0;
	if ((op != GH_REP_PUT && op != GH_REP_DEL) || rev == 0 ||
	    (vlen && val == NULL))
		return GH_EINVAL;
	if (vlen > GH_RECORD_MAX)
		return GH_ETOOBIG;
	err = gh_replog_get_txn(txn, kind, key, klen, &e);
	if (err == GH_OK)
		err = rkey(kind, key, klen, k, &kl);
	if (err)
		return err;
	v = malloc(17 + vlen);
	if (v == NULL)
		return GH_ENOMEM;
	gh_put_be64(v, e.seq);
	gh_put_be64(v + 8, rev);
	v[16] = (unsigned char)op;
	if (vlen)
		memcpy(v + 17, val, vlen);
	err = gh_txn_put(txn, GH_DB_REPLOG, k, kl, v, 17 + vlen);
	free(v);
	return err;
}

gh_err
gh_replog_done_txn(struct gh_txn *txn, unsigned kind, const void *key,
                   size_t klen, uint64_t seq)
{
	unsigned char k[GH_REPLOG_KEY_MAX];
	size_t kl;
	uint64_t now_seq;
	gh_err err = gh_replog_pending_txn(txn, kind, key, klen, &now_seq);

	if (err)
		return err;
	if (now_seq != seq)
		return GH_ENOTFOUND;
	err = rkey(kind, key, klen, k, &kl);
	return err ? err : gh_txn_del(txn, GH_DB_REPLOG, k, kl);
}

struct scan_arg {
	gh_replog_fn fn;
	void *arg;
};

static int
scan_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct scan_arg *a = arg;
	const unsigned char *k = key;

	if (klen < 2 || vlen < 8)
		return 0;
	return a->fn(k[0], k + 1, klen - 1, gh_get_be64(val), a->arg);
}

gh_err
gh_replog_scan_txn(struct gh_txn *txn, gh_replog_fn fn, void *arg)
{
	struct scan_arg a = {fn, arg};

	return gh_txn_scan(txn, GH_DB_REPLOG, NULL, 0, 0, scan_one, &a, NULL);
}

gh_err
gh_replog_count_txn(struct gh_txn *txn, size_t *n)
{
	return gh_txn_count(txn, GH_DB_REPLOG, n);
}

/* ---- marking and seeding ---- */

struct keys {
	unsigned char (*k)[GH_REPLOG_KEY_MAX];
	size_t *len;
	size_t n, cap;
	unsigned char after[GH_REPLOG_KEY_MAX];   /* the last key taken */
	size_t alen;
};

enum { KBATCH = 256 };

/* Collect up to cap keys after a->after: no writes during a scan. */
static int
collect(const void *key, size_t klen, const void *val, size_t vlen,
        void *arg)
{
	struct keys *a = arg;

	(void)val;
	(void)vlen;
	if (a->alen && klen == a->alen && memcmp(key, a->after, klen) == 0)
		return 0;
	if (klen + 1 > GH_REPLOG_KEY_MAX)
		return 0;
	memcpy(a->k[a->n], key, klen);
	a->len[a->n++] = klen;
	return a->n == a->cap;
}

/* Note every key of db as kind (and as kind2 when not 0). */
static gh_err
seed_db(struct gh_txn *txn, struct keys *a, enum gh_db db, unsigned kind,
        unsigned kind2, size_t *n)
{
	gh_err err;

	a->alen = 0;
	do {
		a->n = 0;
		err = gh_txn_scan(txn, db, a->alen ? a->after : NULL, a->alen,
		                  0, collect, a, NULL);
		for (size_t i = 0; err == GH_OK && i < a->n; i++) {
			err = note(txn, kind, a->k[i], a->len[i]);
			if (err == GH_OK && kind2)
				err = note(txn, kind2, a->k[i], a->len[i]);
			*n += 1 + (kind2 != 0);
		}
		if (a->n) {
			memcpy(a->after, a->k[a->n - 1], a->len[a->n - 1]);
			a->alen = a->len[a->n - 1];
		}
	} while (err == GH_OK && a->n == a->cap);
	return err;
}

static gh_err
clear_log(struct gh_txn *txn, struct keys *a, size_t *n)
{
	gh_err err;

	a->alen = 0;
	do {
		a->n = 0;
		err = gh_txn_scan(txn, GH_DB_REPLOG, NULL, 0, 0, collect, a,
		                  NULL);
		for (size_t i = 0; err == GH_OK && i < a->n; i++) {
			err = gh_txn_del(txn, GH_DB_REPLOG, a->k[i], a->len[i]);
			(*n)++;
		}
	} while (err == GH_OK && a->n == a->cap);
	return err;
}

gh_err
gh_replog_enable_txn(struct gh_txn *txn, int on, size_t *n)
{
	struct keys a = {NULL, NULL, 0, KBATCH, {0}, 0};
	size_t count = 0;
	int was = 0;
	gh_err err = gh_replog_enabled_txn(txn, &was);

	if (n)
		*n = 0;
	if (err || was == !!on)
		return err;
	a.k = malloc(KBATCH * sizeof(*a.k));
	a.len = malloc(KBATCH * sizeof(*a.len));
	if (a.k == NULL || a.len == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	if (on) {
		static const unsigned char one = 1;

		err = gh_txn_put(txn, GH_DB_META, GH_REPLOG_ON,
		                 strlen(GH_REPLOG_ON), &one, 1);
		if (err == GH_OK)
			err = seed_db(txn, &a, GH_DB_USERS, GH_REP_CONTACTS,
			              GH_REP_PUSH, &count);
		if (err == GH_OK)
			err = seed_db(txn, &a, GH_DB_PREFS, GH_REP_PREFS, 0,
			              &count);
		if (err == GH_OK)
			err = seed_db(txn, &a, GH_DB_SUPPRESSION,
			              GH_REP_SUPPRESS, 0, &count);
	} else {
		err = gh_txn_del(txn, GH_DB_META, GH_REPLOG_ON,
		                 strlen(GH_REPLOG_ON));
		if (err == GH_OK)
			err = clear_log(txn, &a, &count);
	}
	if (err == GH_OK && n)
		*n = count;
cleanup:
	free(a.k);
	free(a.len);
	return err;
}
