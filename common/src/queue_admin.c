/*
 * queue_admin.c - the queue as the admin sees it: list events by state,
 * purge finished ones (with their delivery records and spent dedup keys),
 * count them by state.
 *
 * None of these is on a producer's or consumer's path.  Purge works in
 * short transactions, a batch at a time, so that it never holds the write
 * lock for long.
 */
#include <stdlib.h>
#include <string.h>

#include "queue_int.h"
#include "store_int.h"

#define PURGE_BATCH 1000

/* ---- list ---- */

struct list_arg {
	struct gh_txn *txn;
	unsigned states;
	size_t limit, seen;
	gh_event_fn fn;
	void *arg;
	gh_err err;
};

static int
list_scan(const void *key, size_t klen, const void *val, size_t vlen,
          void *arg)
{
	struct list_arg *a = arg;
	struct qstate q;
	json_t *rec;
	int found, r = 0;

	if (klen != 8)
		return 0;
	rec = json_loadb(val, vlen, 0, NULL);
	if (rec == NULL) {
		a->err = GH_ECORRUPT;
		return 1;
	}
	a->err = gh_qs_get(a->txn, gh_get_be64(key), &q, &found);
	if (a->err) {
		json_decref(rec);
		return 1;
	}
	if (!found)
		gh_qs_initial(&q, rec);
	if (q.state & a->states) {
		json_object_set_new(rec, "q", gh_qs_json(&q));
		r = a->fn(rec, a->arg);
		a->seen++;
		if (a->limit && a->seen >= a->limit)
			r = 1;
	}
	json_decref(rec);
	return r;
}

struct list_view {
	uint64_t after;
	int reverse;
	struct list_arg *la;
};

static gh_err
list_fn(struct gh_txn *txn, void *arg)
{
	struct list_view *v = arg;
	unsigned char k[8];
	uint64_t start = v->after;
	gh_err err;

	v->la->txn = txn;
	v->la->seen = 0;
	v->la->err = GH_OK;
	if (start == 0) {
		err = gh_txn_scan(txn, GH_DB_EVENTS, NULL, 0, v->reverse,
		                  list_scan, v->la, NULL);
	} else {
		if (v->reverse && start == 1)
			return GH_OK;
		gh_put_be64(k, v->reverse ? start - 1 : start + 1);
		err = gh_txn_scan(txn, GH_DB_EVENTS, k, 8, v->reverse,
		                  list_scan, v->la, NULL);
	}
	return err ? err : v->la->err;
}

gh_err
gh_queue_list(struct gh_store *st, unsigned states, uint64_t after,
              int reverse, size_t limit, gh_event_fn fn, void *arg)
{
	struct list_arg la = {NULL, states ? states : GH_Q_ALL, limit, 0, fn,
	                      arg, GH_OK};
	struct list_view v = {after, reverse, &la};

	if (st == NULL || fn == NULL)
		return GH_EINVAL;
	return gh_store_view(st, list_fn, &v);
}

/* ---- purge ---- */

struct purge_scan {
	unsigned states;
	int64_t older;
	size_t n;
	uint64_t ids[PURGE_BATCH];
	uint64_t next;   /* where the next batch starts */
	int more;
};

static int
purge_collect(const void *key, size_t klen, const void *val, size_t vlen,
              void *arg)
{
	struct purge_scan *p = arg;
	struct qstate q;

	if (klen != 8)
		return 0;
	p->next = gh_get_be64(key) + 1;
	if (gh_qs_decode(val, vlen, &q) == GH_OK && (q.state & p->states) &&
	    q.updated_at < p->older)
		p->ids[p->n++] = gh_get_be64(key);
	if (p->n >= PURGE_BATCH) {
		p->more = 1;
		return 1;
	}
	return 0;
}

/* Delivery records are keyed by event id first, so an event's go with it. */
gh_err
gh_queue_purge_event_txn(struct gh_txn *txn, uint64_t id, size_t *ndeliv)
{
	unsigned char k[8];
	uint64_t last = 0;
	gh_err err;

	if (ndeliv)
		*ndeliv = 0;
	err = gh_txn_last_key_be64(txn, GH_DB_EVENTS, &last);
	if (err && err != GH_ENOTFOUND)
		return err;
	gh_put_be64(k, id);
	/* Deleting the newest event would let its id be reused: remember
	 * the highest id ever purged (never lowering it: the newest left
	 * may be purged next). */
	if (err == GH_OK && id == last) {
		const void *v;
		size_t vl;

		err = gh_txn_get(txn, GH_DB_META, "id_floor", 8, &v, &vl);
		if (err == GH_ENOTFOUND || (err == GH_OK && (vl != 8 ||
		                            gh_get_be64(v) < id)))
			err = gh_txn_put(txn, GH_DB_META, "id_floor", 8, k, 8);
		if (err)
			return err;
	}
	err = gh_txn_del(txn, GH_DB_EVENTS, k, 8);
	if (err && err != GH_ENOTFOUND)
		return err;
	err = gh_txn_del(txn, GH_DB_QSTATE, k, 8);
	if (err && err != GH_ENOTFOUND)
		return err;
	return gh_txn_del_prefix(txn, GH_DB_DELIVERIES, k, 8, ndeliv);
}

struct purge_arg {
	struct purge_scan *scan;
	uint64_t from;
	size_t deleted;
};

static gh_err
purge_fn(struct gh_txn *txn, void *arg)
{
	struct purge_arg *a = arg;
	struct purge_scan *p = a->scan;
	unsigned char k[8];
	gh_err err;

	p->n = 0;
	p->more = 0;
	a->deleted = 0;
	gh_put_be64(k, a->from);
	err = gh_txn_scan(txn, GH_DB_QSTATE, k, 8, 0, purge_collect, p, NULL);
	if (err)
		return err;
	for (size_t i = 0; i < p->n; i++) {
		err = gh_queue_purge_event_txn(txn, p->ids[i], NULL);
		if (err)
			return err;
		a->deleted++;
	}
	return GH_OK;
}

struct dedup_scan {
	int64_t now;
	size_t n;
	int more;
	char keys[PURGE_BATCH / 4][401];
};

static int
dedup_collect(const void *key, size_t klen, const void *val, size_t vlen,
              void *arg)
{
	struct dedup_scan *d = arg;

	if (vlen == 16 &&
	    (int64_t)gh_get_be64((const unsigned char *)val + 8) <= d->now &&
	    klen < sizeof(d->keys[0])) {
		memcpy(d->keys[d->n], key, klen);
		d->keys[d->n][klen] = '\0';
		d->n++;
		if (d->n >= sizeof(d->keys) / sizeof(d->keys[0])) {
			d->more = 1;
			return 1;
		}
	}
	return 0;
}

static gh_err
dedup_purge_fn(struct gh_txn *txn, void *arg)
{
	struct dedup_scan *d = arg;
	gh_err err;

	d->n = 0;
	d->more = 0;
	err = gh_txn_scan(txn, GH_DB_DEDUP, NULL, 0, 0, dedup_collect, d, NULL);
	if (err)
		return err;
	for (size_t i = 0; i < d->n; i++) {
		err = gh_txn_del(txn, GH_DB_DEDUP, d->keys[i],
		                 strlen(d->keys[i]));
		if (err && err != GH_ENOTFOUND)
			return err;
	}
	return GH_OK;
}

gh_err
gh_queue_purge(struct gh_store *st, unsigned states, int64_t older_than,
               int64_t now, size_t *n)
{
	struct purge_scan *p;
	struct dedup_scan *d;
	struct purge_arg a;
	size_t total = 0;
	gh_err err = GH_OK;

	if (n)
		*n = 0;
	if (st == NULL)
		return GH_EINVAL;
	states &= GH_Q_DONE | GH_Q_DEAD | GH_Q_EXPIRED;
	p = calloc(1, sizeof(*p));
	d = calloc(1, sizeof(*d));
	if (p == NULL || d == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	p->states = states;
	p->older = older_than;
	/* Short transactions, a batch at a time, so producers (a login, an
	 * SMTP session) never wait behind a big purge. */
	a.scan = p;
	a.from = 1;
	while (states) {
		err = gh_store_update(st, purge_fn, &a);
		if (err)
			goto cleanup;
		total += a.deleted;
		if (!p->more)
			break;
		a.from = p->next;
	}
	d->now = now;
	do {
		err = gh_store_update(st, dedup_purge_fn, d);
	} while (err == GH_OK && d->more);
cleanup:
	if (n)
		*n = total;
	free(p);
	free(d);
	return err;
}

/* ---- stats ---- */

struct stats_arg {
	int64_t now;
	struct gh_queue_stats *s;
};

static int
stats_index(const void *key, size_t klen, const void *val, size_t vlen,
            void *arg)
{
	struct stats_arg *a = arg;
	int64_t due;

	if (klen != QKEY_LEN)
		return 0;
	due = (int64_t)gh_get_be64((const unsigned char *)key + 1);
	if (due <= a->now) {
		a->s->due++;
		if (a->now - due > a->s->oldest_due_ms)
			a->s->oldest_due_ms = a->now - due;
	}
	return 0;
}

static int
stats_qstate(const void *key, size_t klen, const void *val, size_t vlen,
             void *arg)
{
	struct stats_arg *a = arg;
	struct qstate q;

	if (gh_qs_decode(val, vlen, &q) != GH_OK)
		return 0;
	for (unsigned i = 0; i < 5; i++)
		if (q.state == (1u << i))
			a->s->count[i]++;
	return 0;
}

static gh_err
stats_fn(struct gh_txn *txn, void *arg)
{
	struct stats_arg *a = arg;
	size_t events = 0, with_state;
	gh_err err;

	memset(a->s, 0, sizeof(*a->s));
	err = gh_txn_scan(txn, GH_DB_QUEUE, NULL, 0, 0, stats_index, a, NULL);
	if (err)
		return err;
	err = gh_txn_scan(txn, GH_DB_QSTATE, NULL, 0, 0, stats_qstate, a, NULL);
	if (err)
		return err;
	err = gh_txn_count(txn, GH_DB_EVENTS, &events);
	if (err)
		return err;
	/* Events never leased have no state record: they are ready. */
	with_state = a->s->count[0] + a->s->count[1] + a->s->count[2] +
	             a->s->count[3] + a->s->count[4];
	if (events > with_state)
		a->s->count[0] += events - with_state;
	return GH_OK;
}

gh_err
gh_queue_stats(struct gh_store *st, int64_t now, struct gh_queue_stats *out)
{
	struct stats_arg a = {now, out};

	if (st == NULL || out == NULL)
		return GH_EINVAL;
	return gh_store_view(st, stats_fn, &a);
}
