/*
 * knownhosts.c - the known_hosts database's keys and records
 * (gatehouse/knownhosts.h).
 */
#include <string.h>

#include "gatehouse/knownhosts.h"
#include "record_int.h"

size_t
gh_knownhost_key(const char *user, const char *net, char *key, size_t cap)
{
	size_t ul = strlen(user), nl = strlen(net);

	if (ul == 0 || ul + 1 + nl > cap || ul + 1 + nl > GH_KNOWNHOST_KEY_MAX)
		return 0;
	memcpy(key, user, ul);
	key[ul] = '\0';
	memcpy(key + ul + 1, net, nl);
	return ul + 1 + nl;
}

gh_err
gh_knownhost_key_parse(const void *key, size_t klen, char *user,
                       size_t ucap, char *net, size_t ncap)
{
	const char *k = key;
	size_t ul = strnlen(k, klen), nl;

	if (ucap)
		user[0] = '\0';
	if (ncap)
		net[0] = '\0';
	if (ul == 0 || ul >= klen)
		return GH_ECORRUPT;
	nl = klen - ul - 1;
	if (memchr(k + ul + 1, 0, nl) != NULL)
		return GH_ECORRUPT;
	if (ul >= ucap || nl >= ncap)
		return GH_ETOOBIG;
	memcpy(user, k, ul);
	user[ul] = '\0';
	memcpy(net, k + ul + 1, nl);
	net[nl] = '\0';
	return GH_OK;
}

gh_err
gh_knownhost_read(json_t *rec, struct gh_knownhost *h)
{
	const char *s;
	int64_t n;
	gh_err err;

	memset(h, 0, sizeof(*h));
	h->v = gh_rec_version(rec, GH_KNOWNHOST_V, &err);
	if (h->v == 0)
		return err;
	h->rec = rec;
	h->first_seen = gh_rec_int(rec, "first_seen", 0);
	h->last_seen = gh_rec_int(rec, "last_seen", 0);
	n = gh_rec_int(rec, "count", 0);
	h->count = n > 0 ? (uint64_t)n : 0;
	s = gh_rec_str(rec, "addr");
	h->addr = s ? s : "";
	return GH_OK;
}

gh_err
gh_knownhost_get_txn(struct gh_txn *txn, const char *user, const char *net,
                     json_t **out)
{
	char key[GH_KNOWNHOST_KEY_MAX];
	const void *val;
	size_t klen, vlen;
	gh_err err;

	*out = NULL;
	klen = gh_knownhost_key(user, net, key, sizeof(key));
	if (klen == 0)
		return GH_ETOOBIG;
	err = gh_txn_get(txn, GH_DB_KNOWN_HOSTS, key, klen, &val, &vlen);
	if (err)
		return err;
	return gh_rec_load(val, vlen, GH_KNOWNHOST_V, out);
}

gh_err
gh_knownhost_put_txn(struct gh_txn *txn, const char *user, const char *net,
                     const struct gh_knownhost *h)
{
	char key[GH_KNOWNHOST_KEY_MAX];
	size_t klen;
	json_t *rec;
	gh_err err;

	klen = gh_knownhost_key(user, net, key, sizeof(key));
	if (klen == 0)
		return GH_ETOOBIG;
	rec = json_pack("{s:i, s:I, s:I, s:I, s:s}", "v", GH_KNOWNHOST_V,
	                "first_seen", (json_int_t)h->first_seen,
	                "last_seen", (json_int_t)h->last_seen,
	                "count", (json_int_t)h->count,
	                "addr", h->addr ? h->addr : "");
	if (rec == NULL)
		return GH_ENOMEM;
	err = gh_txn_put_json(txn, GH_DB_KNOWN_HOSTS, key, klen, rec);
	json_decref(rec);
	return err;
}

gh_err
gh_knownhost_del_txn(struct gh_txn *txn, const char *user, const char *net)
{
	char key[GH_KNOWNHOST_KEY_MAX];
	size_t klen;

	klen = gh_knownhost_key(user, net, key, sizeof(key));
	if (klen == 0)
		return GH_ENOTFOUND;
	return gh_txn_del(txn, GH_DB_KNOWN_HOSTS, key, klen);
}

struct probe {
	const char *prefix;
	size_t len;
	int found;
};

static int
probe_fn(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct probe *p = arg;

	(void)val;
	(void)vlen;
	p->found = klen >= p->len && memcmp(key, p->prefix, p->len) == 0;
	return 1;   /* the first key at or after the prefix decides */
}

gh_err
gh_knownhost_user_has_txn(struct gh_txn *txn, const char *user, int *found)
{
	/* user "\0" sorts before every key of the user's and after every
	 * key of a shorter name's */
	struct probe p = {user, strlen(user) + 1, 0};
	gh_err err;

	*found = 0;
	if (p.len == 1 || p.len > GH_KNOWNHOST_KEY_MAX)
		return GH_OK;
	err = gh_txn_scan(txn, GH_DB_KNOWN_HOSTS, user, p.len, 0, probe_fn,
	                  &p, NULL);
	*found = p.found;
	return err;
}

struct scan_arg {
	const char *user;      /* only this user's, or NULL */
	size_t ulen;
	gh_knownhost_fn fn;
	void *arg;
	size_t skipped;
};

static int
scan_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct scan_arg *a = arg;
	char user[GH_KNOWNHOST_KEY_MAX + 1], net[GH_KNOWNHOST_KEY_MAX + 1];
	struct gh_knownhost h;
	json_t *rec;
	int stop;

	if (a->user && (klen <= a->ulen || memcmp(key, a->user, a->ulen) != 0 ||
	                ((const char *)key)[a->ulen] != '\0'))
		return 1;   /* past the user's pairs (keys sort by user) */
	if (gh_knownhost_key_parse(key, klen, user, sizeof(user), net,
	                           sizeof(net)) != GH_OK) {
		a->skipped++;
		return 0;
	}
	if (gh_rec_load(val, vlen, GH_KNOWNHOST_V, &rec) != GH_OK)
		return a->fn(user, net, NULL, a->arg);
	if (gh_knownhost_read(rec, &h) != GH_OK) {
		json_decref(rec);
		return a->fn(user, net, NULL, a->arg);
	}
	stop = a->fn(user, net, &h, a->arg);
	json_decref(rec);
	return stop;
}

gh_err
gh_knownhost_scan_txn(struct gh_txn *txn, const char *user,
                      gh_knownhost_fn fn, void *arg, size_t *skipped)
{
	struct scan_arg a = {user, user ? strlen(user) : 0, fn, arg, 0};
	gh_err err = GH_OK;

	if (user && (a.ulen == 0 || a.ulen + 1 > GH_KNOWNHOST_KEY_MAX))
		goto done;   /* no key can have it */
	err = gh_txn_scan(txn, GH_DB_KNOWN_HOSTS, user, user ? a.ulen + 1 : 0,
	                  0, scan_one, &a, NULL);
done:
	if (skipped)
		*skipped = a.skipped;
	return err;
}
