/*
 * queue.c - the event queue on top of the store: enqueue with dedup, lease
 * with a visibility deadline, ack, retry, defer, dead-letter, requeue.
 * The event check is in queue_check.c, the state record and due index in
 * qstate.c, list, purge and stats in queue_admin.c.
 *
 * Layout (docs/store.md has the byte offsets):
 *   events[be64 id]   the event as JSON, written once at enqueue
 *   qstate[be64 id]   its queue state, a small binary record; absent until
 *                     the first lease, which means "ready since created_at"
 *   queue[band | be64 due | be64 id] = be64 expires_at, for every ready or
 *                     leased event; band = 4 - priority, most urgent first
 *   dedup[key]        be64 id | be64 window end
 *   meta["id_floor"]  the highest id ever purged, so ids are never reused
 *
 * Why this shape: a durable commit costs about one page write per database
 * it touches, so enqueue touches two (events, appended, and queue) and
 * nothing else; lease and ack never decode or re-encode JSON.  A leased
 * event's index entry sits at its lease deadline, so a consumer that dies
 * simply lets it come due again: no reaper, nothing lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue_int.h"

int64_t
gh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
gh_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
gh_event_default_category(const char *type)
{
	if (strncmp(type, "login.", 6) == 0 ||
	    strcmp(type, "upload.infected") == 0)
		return "security";
	return "system";
}

static gh_err
event_raw(struct gh_txn *txn, uint64_t id, const void **v, size_t *vl)
{
	unsigned char k[8];

	gh_put_be64(k, id);
	return gh_txn_get(txn, GH_DB_EVENTS, k, 8, v, vl);
}

gh_err
gh_queue_get_txn(struct gh_txn *txn, uint64_t id, json_t **out)
{
	struct qstate q;
	const void *v;
	size_t vl;
	json_t *ev;
	int found;
	gh_err err;

	*out = NULL;
	err = event_raw(txn, id, &v, &vl);
	if (err)
		return err;
	ev = json_loadb(v, vl, 0, NULL);
	if (!json_is_object(ev)) {
		json_decref(ev);
		return GH_ECORRUPT;
	}
	err = gh_qs_get(txn, id, &q, &found);
	if (err) {
		json_decref(ev);
		return err;
	}
	if (!found)
		gh_qs_initial(&q, ev);
	json_object_set_new(ev, "q", gh_qs_json(&q));
	*out = ev;
	return GH_OK;
}

/* ---- enqueue ---- */

/* The highest id in use or ever purged; the next id is one more. */
static gh_err
last_id(struct gh_txn *txn, uint64_t *out)
{
	struct {
		uint64_t id;
	} last = {0};
	const void *v;
	size_t vl;
	gh_err err;
	uint64_t floor_id = 0;

	err = gh_txn_get(txn, GH_DB_META, "id_floor", 8, &v, &vl);
	if (err == GH_OK && vl == 8)
		floor_id = gh_get_be64(v);
	else if (err != GH_OK && err != GH_ENOTFOUND)
		return err;
	err = gh_txn_last_key_be64(txn, GH_DB_EVENTS, &last.id);
	if (err && err != GH_ENOTFOUND)
		return err;
	*out = last.id > floor_id ? last.id : floor_id;
	return GH_OK;
}

static int
prio_of(const json_t *ev)
{
	const json_t *p = json_object_get(ev, "priority");

	return p ? (int)json_integer_value(p) : GH_PRIORITY_NORMAL;
}

/*
 * The stored record is the caller's object plus v, id, created_at and the
 * defaults it lacks.  Rather than copy the object and add members (a dozen
 * allocations per event, the larger part of enqueue's cost), encode it once
 * and write the added members in front: validation has already refused any
 * member we add, so no name can appear twice.
 */
static gh_err
encode_record(const json_t *ev, uint64_t id, int64_t now, char *stackbuf,
              size_t stacklen, char **out, size_t *outlen)
{
	char head[160], prio[32] = "";
	const char *type = json_string_value(json_object_get(ev, "type"));
	size_t hl, bl;
	char *buf = stackbuf;
	int r;

	/* the default priority, spelled as the enum says */
	if (json_object_get(ev, "priority") == NULL)
		snprintf(prio, sizeof(prio), ",\"priority\":%d",
		         GH_PRIORITY_NORMAL);
	r = snprintf(head, sizeof(head),
	             "{\"v\":1,\"id\":%llu,\"created_at\":%lld%s%s%s%s%s",
	             (unsigned long long)id, (long long)now, prio,
	             json_object_get(ev, "category") ? "" : ",\"category\":\"",
	             json_object_get(ev, "category") ? "" :
	                 gh_event_default_category(type ? type : ""),
	             json_object_get(ev, "category") ? "" : "\"",
	             json_object_get(ev, "source") ? "" : ",\"source\":\"app\"");
	if (r < 0 || (size_t)r >= sizeof(head))
		return GH_EINVAL;
	hl = (size_t)r;
	/* "{...}" -> ",...}" after the head */
	bl = json_dumpb(ev, hl < stacklen ? stackbuf + hl : NULL,
	                hl < stacklen ? stacklen - hl : 0, JSON_COMPACT);
	if (bl < 2)
		return GH_ENOMEM;
	if (hl + bl > EVENT_MAX)
		return GH_ETOOBIG;
	if (hl + bl > stacklen) {
		buf = malloc(hl + bl);
		if (buf == NULL)
			return GH_ENOMEM;
		if (json_dumpb(ev, buf + hl, bl, JSON_COMPACT) != bl) {
			free(buf);
			return GH_ENOMEM;
		}
	}
	memcpy(buf, head, hl);
	buf[hl] = ',';   /* replaces the object's own '{' */
	*out = buf;
	*outlen = hl + bl;
	return GH_OK;
}

static gh_err
enqueue_one(struct gh_txn *txn, const json_t *ev, int64_t now, int64_t window,
            uint64_t *id_out, int *dup)
{
	const char *dkey;
	unsigned char k[8];
	char stackbuf[2048], *buf = stackbuf;
	size_t n;
	uint64_t id;
	struct qstate q;
	gh_err err;

	if (dup)
		*dup = 0;
	if (id_out)
		*id_out = 0;
	if (window <= 0)
		window = GH_QUEUE_DEDUP_WINDOW_DEFAULT;

	dkey = json_string_value(json_object_get(ev, "dedup_key"));
	if (dkey != NULL) {
		err = gh_queue_dedup_get_txn(txn, dkey, strlen(dkey), now, &id);
		if (err == GH_OK) {
			if (dup)
				*dup = 1;
			if (id_out)
				*id_out = id;
			return GH_OK;
		}
		if (err != GH_ENOTFOUND)
			return err;
	}

	err = last_id(txn, &id);
	if (err)
		return err;
	id++;
	err = encode_record(ev, id, now, stackbuf, sizeof(stackbuf), &buf, &n);
	if (err)
		return err;
	gh_put_be64(k, id);
	err = gh_txn_put_append(txn, GH_DB_EVENTS, k, 8, buf, n);
	if (err)
		goto done;
	memset(&q, 0, sizeof(q));
	q.state = GH_Q_READY;
	q.priority = prio_of(ev);
	q.due_at = now;
	q.expires_at = json_integer_value(json_object_get(ev, "expires_at"));
	err = gh_qindex_put(txn, &q, id);
	if (err)
		goto done;
	if (dkey != NULL) {
		err = gh_queue_dedup_put_txn(txn, dkey, strlen(dkey), id,
		                             now + window);
		if (err)
			goto done;
	}
	if (id_out)
		*id_out = id;
done:
	if (buf != stackbuf)
		free(buf);
	return err;
}

gh_err
gh_queue_dedup_get_txn(struct gh_txn *txn, const void *key, size_t klen,
                       int64_t now, uint64_t *id)
{
	const void *v;
	size_t vl;
	gh_err err = gh_txn_get(txn, GH_DB_DEDUP, key, klen, &v, &vl);

	if (err)
		return err;
	if (vl != 16 ||
	    (int64_t)gh_get_be64((const unsigned char *)v + 8) <= now)
		return GH_ENOTFOUND;   /* a window that has ended */
	if (id)
		*id = gh_get_be64(v);
	return GH_OK;
}

gh_err
gh_queue_dedup_put_txn(struct gh_txn *txn, const void *key, size_t klen,
                       uint64_t id, int64_t until)
{
	unsigned char v[16];

	gh_put_be64(v, id);
	gh_put_be64(v + 8, (uint64_t)until);
	return gh_txn_put(txn, GH_DB_DEDUP, key, klen, v, sizeof(v));
}

gh_err
gh_queue_enqueue_txn(struct gh_txn *txn, const json_t *ev, int64_t now,
                     int64_t window, uint64_t *id_out, int *dup)
{
	gh_err err = gh_event_check(ev, NULL, 0);

	if (err)
		return err;
	return enqueue_one(txn, ev, now, window, id_out, dup);
}

struct enq_arg {
	json_t *const *evs;
	size_t n;
	int64_t now, window;
	uint64_t *ids;
	int *dups;
	size_t bad;
};

static gh_err
enq_fn(struct gh_txn *txn, void *arg)
{
	struct enq_arg *a = arg;
	gh_err err;

	for (size_t i = 0; i < a->n; i++) {
		err = enqueue_one(txn, a->evs[i], a->now, a->window,
		                  a->ids ? &a->ids[i] : NULL,
		                  a->dups ? &a->dups[i] : NULL);
		if (err) {
			a->bad = i;
			return err;
		}
	}
	return GH_OK;
}

gh_err
gh_queue_enqueue_batch(struct gh_store *st, json_t *const *evs, size_t n,
                       int64_t now, int64_t window, uint64_t *ids, int *dups,
                       size_t *bad)
{
	struct enq_arg a = {evs, n, now, window, ids, dups, 0};
	gh_err err;

	if (st == NULL || (evs == NULL && n > 0))
		return GH_EINVAL;
	/* Validate outside the write lock: other writers need not wait while
	 * we look at a caller's mistake. */
	for (size_t i = 0; i < n; i++) {
		err = gh_event_check(evs[i], NULL, 0);
		if (err) {
			if (bad)
				*bad = i;
			return err;
		}
	}
	err = gh_store_update(st, enq_fn, &a);
	if (err && bad)
		*bad = a.bad;
	return err;
}

gh_err
gh_queue_enqueue(struct gh_store *st, const json_t *ev, int64_t now,
                 int64_t window, uint64_t *id_out, int *dup)
{
	json_t *one[1] = {(json_t *)ev};

	return gh_queue_enqueue_batch(st, one, 1, now, window, id_out, dup,
	                              NULL);
}

/* ---- lease ---- */

struct due_item {
	uint64_t id;
	int64_t expires_at;
	unsigned char key[QKEY_LEN];
	/* filled in the transaction, decoded after it */
	char *raw;
	size_t rawlen;
	struct qstate q;
};

struct collect {
	unsigned band;
	int64_t now;
	size_t max, n;
	struct due_item *items;
};

static int
collect_fn(const void *key, size_t klen, const void *val, size_t vlen,
           void *arg)
{
	struct collect *c = arg;
	const unsigned char *k = key;
	struct due_item *it;

	if (klen != QKEY_LEN || k[0] != c->band)
		return 1;
	if ((int64_t)gh_get_be64(k + 1) > c->now)
		return 1;
	it = &c->items[c->n++];
	memcpy(it->key, k, QKEY_LEN);
	it->id = gh_get_be64(k + 9);
	it->expires_at = vlen == 8 ? (int64_t)gh_get_be64(val) : 0;
	return c->n >= c->max;
}

struct lease_arg {
	int64_t now, vis;
	unsigned flags;
	size_t max, n;
	struct due_item *items;
};

static void
items_free(struct due_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].raw);
		items[i].raw = NULL;
	}
}

static gh_err
lease_fn(struct gh_txn *txn, void *arg)
{
	struct lease_arg *a = arg;
	struct collect c = {0, a->now, a->max, 0, a->items};
	uint64_t token;
	gh_err err = GH_OK;

	/* Runs again from scratch if the map had to grow. */
	items_free(a->items, a->max);
	a->n = 0;
	for (unsigned band = 0; band < 4 && c.n < c.max; band++) {
		unsigned char start[QKEY_LEN];

		memset(start, 0, sizeof(start));
		start[0] = (unsigned char)band;
		c.band = band;
		err = gh_txn_scan(txn, GH_DB_QUEUE, start, sizeof(start), 0,
		                  collect_fn, &c, NULL);
		if (err)
			return err;
	}
	if (c.n == 0)
		return GH_OK;
	/* One token per lease call: unique per (event, lease). */
	err = gh_txn_next_seq(txn, "lease_token", &token);
	if (err)
		return err;
	for (size_t i = 0; i < c.n; i++) {
		struct due_item *it = &a->items[i];
		struct qstate *q = &it->q;
		const void *v;
		size_t vl;
		int found;

		err = gh_txn_del(txn, GH_DB_QUEUE, it->key, QKEY_LEN);
		if (err)
			return err;
		err = event_raw(txn, it->id, &v, &vl);
		if (err == GH_ENOTFOUND)
			continue;   /* index entry of an event deleted by hand */
		if (err)
			return err;
		err = gh_qs_get(txn, it->id, q, &found);
		if (err)
			return err;
		if (!found) {
			memset(q, 0, sizeof(*q));
			q->state = GH_Q_READY;
			q->priority = GH_PRIORITY_URGENT - it->key[0];
			q->due_at = (int64_t)gh_get_be64(it->key + 1);
			q->expires_at = it->expires_at;
		}
		if (!(q->state & (GH_Q_READY | GH_Q_LEASED)))
			continue;
		if (q->expires_at && q->expires_at <= a->now &&
		    !(a->flags & GH_LEASE_EXPIRED)) {
			q->state = GH_Q_EXPIRED;
			q->updated_at = a->now;
			gh_qs_set_error(q, "expired before delivery");
			err = gh_qs_put(txn, it->id, q);
			if (err)
				return err;
			continue;
		}
		q->state = GH_Q_LEASED;
		q->due_at = q->lease_until = a->now + a->vis;
		q->token = token;
		q->leases++;
		q->updated_at = a->now;
		err = gh_qs_put(txn, it->id, q);
		if (err == GH_OK)
			err = gh_qindex_put(txn, q, it->id);
		if (err)
			return err;
		/* Copy out now; decode after the commit, outside the lock. */
		it->raw = malloc(vl);
		if (it->raw == NULL)
			return GH_ENOMEM;
		memcpy(it->raw, v, vl);
		it->rawlen = vl;
		a->n = i + 1;
	}
	a->n = c.n;
	return GH_OK;
}

gh_err
gh_queue_lease(struct gh_store *st, int64_t now, size_t max, int64_t vis,
               struct gh_lease *out, size_t *n)
{
	return gh_queue_lease_ex(st, now, max, vis, 0, out, n);
}

gh_err
gh_queue_lease_ex(struct gh_store *st, int64_t now, size_t max, int64_t vis,
                  unsigned flags, struct gh_lease *out, size_t *n)
{
	struct lease_arg a;
	size_t k = 0;
	gh_err err;

	if (n)
		*n = 0;
	if (st == NULL || out == NULL || n == NULL || max == 0 ||
	    max > GH_QUEUE_LEASE_MAX || vis <= 0)
		return GH_EINVAL;
	memset(out, 0, max * sizeof(*out));
	memset(&a, 0, sizeof(a));
	a.now = now;
	a.vis = vis;
	a.flags = flags;
	a.max = max;
	a.items = calloc(max, sizeof(*a.items));
	if (a.items == NULL)
		return GH_ENOMEM;
	err = gh_store_update(st, lease_fn, &a);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < a.n; i++) {
		struct due_item *it = &a.items[i];
		json_t *ev;

		if (it->raw == NULL)
			continue;   /* expired or gone */
		ev = json_loadb(it->raw, it->rawlen, 0, NULL);
		if (ev == NULL) {
			/* Leased but unreadable: it will come due again and an
			 * admin sees it in `gatehouse events list`. */
			err = GH_ECORRUPT;
			continue;
		}
		json_object_set_new(ev, "q", gh_qs_json(&it->q));
		out[k].id = it->id;
		out[k].token = it->q.token;
		out[k].event = ev;
		k++;
	}
	if (k > 0)
		err = GH_OK;
	*n = k;
cleanup:
	items_free(a.items, max);
	free(a.items);
	return err;
}

void
gh_lease_release(struct gh_lease *out, size_t n)
{
	if (out == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		json_decref(out[i].event);
		out[i].event = NULL;
	}
}

/* ---- ack, retry, extend, release ---- */

enum lease_op { OP_ACK, OP_RETRY, OP_EXTEND, OP_RELEASE, OP_DEFER,
                OP_EXPIRE };

struct op_arg {
	enum lease_op op;
	const struct gh_lease *leases;
	size_t n;
	int64_t now, due, vis;
	const int64_t *dues;     /* OP_DEFER: one due time per lease */
	const char *error;
	int max_attempts;
	int dead;
	gh_err *results;
};

static gh_err
op_one(struct gh_txn *txn, struct op_arg *a, const struct gh_lease *l,
       size_t i)
{
	struct qstate q;
	int found;
	gh_err err;

	err = gh_qs_get(txn, l->id, &q, &found);
	if (err)
		return err;
	if (!found) {
		const void *v;
		size_t vl;

		return event_raw(txn, l->id, &v, &vl) == GH_OK ? GH_ESTALE :
		       GH_ENOTFOUND;
	}
	if (q.state != GH_Q_LEASED || q.token != l->token)
		return GH_ESTALE;
	err = gh_qindex_del(txn, &q, l->id);
	if (err)
		return err;
	q.updated_at = a->now;
	switch (a->op) {
	case OP_ACK:
		q.state = GH_Q_DONE;
		break;
	case OP_EXPIRE:
		q.state = GH_Q_EXPIRED;
		gh_qs_set_error(&q, a->error);
		break;
	case OP_RETRY:
		q.attempts++;
		gh_qs_set_error(&q, a->error);
		if (a->max_attempts > 0 && q.attempts >= (uint32_t)a->max_attempts) {
			q.state = GH_Q_DEAD;
			a->dead = 1;
		} else {
			q.state = GH_Q_READY;
			q.due_at = a->due;
			err = gh_qindex_put(txn, &q, l->id);
		}
		break;
	case OP_EXTEND:
		q.due_at = q.lease_until = a->now + a->vis;
		err = gh_qindex_put(txn, &q, l->id);
		break;
	case OP_RELEASE:
		q.state = GH_Q_READY;
		q.due_at = a->now;
		err = gh_qindex_put(txn, &q, l->id);
		break;
	case OP_DEFER:
		q.state = GH_Q_READY;
		q.due_at = a->dues[i] > a->now ? a->dues[i] : a->now;
		err = gh_qindex_put(txn, &q, l->id);
		break;
	}
	if (err == GH_OK)
		err = gh_qs_put(txn, l->id, &q);
	return err;
}

static gh_err
op_fn(struct gh_txn *txn, void *arg)
{
	struct op_arg *a = arg;
	gh_err err;

	a->dead = 0;
	for (size_t i = 0; i < a->n; i++) {
		err = op_one(txn, a, &a->leases[i], i);
		if (a->results)
			a->results[i] = err;
		if (err == GH_ESTALE || err == GH_ENOTFOUND) {
			if (a->n == 1 && a->results == NULL)
				return err;
			continue;
		}
		if (err)
			return err;
	}
	return GH_OK;
}

/*
 * Run the batch a in one write transaction; with scratch, the per-entry
 * results go to a buffer of our own (the caller gave none, and one entry's
 * error must not fail the rest).
 */
static gh_err
update_batch(struct gh_store *st, struct op_arg *a, int scratch)
{
	gh_err *buf = NULL, err;

	if (scratch) {
		buf = calloc(a->n, sizeof(*buf));
		if (buf == NULL)
			return GH_ENOMEM;
		a->results = buf;
	}
	err = gh_store_update(st, op_fn, a);
	free(buf);
	return err;
}

gh_err
gh_queue_ack(struct gh_store *st, const struct gh_lease *leases, size_t n,
             int64_t now, gh_err *results)
{
	struct op_arg a = {.op = OP_ACK, .leases = leases, .n = n, .now = now,
	                   .results = results};

	if (st == NULL || (leases == NULL && n > 0))
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	/* stale entries must not stop the others being acked */
	return update_batch(st, &a, results == NULL && n > 1);
}

gh_err
gh_queue_retry(struct gh_store *st, const struct gh_lease *lease, int64_t now,
               int64_t due_at, const char *error, int max_attempts, int *dead)
{
	struct op_arg a = {.op = OP_RETRY, .leases = lease, .n = 1, .now = now,
	                   .due = due_at, .error = error,
	                   .max_attempts = max_attempts};
	gh_err err;

	if (dead)
		*dead = 0;
	if (st == NULL || lease == NULL)
		return GH_EINVAL;
	err = gh_store_update(st, op_fn, &a);
	if (err == GH_OK && dead)
		*dead = a.dead;
	return err;
}

gh_err
gh_queue_extend(struct gh_store *st, const struct gh_lease *lease, int64_t now,
                int64_t vis)
{
	struct op_arg a = {.op = OP_EXTEND, .leases = lease, .n = 1, .now = now,
	                   .vis = vis};

	if (st == NULL || lease == NULL || vis <= 0)
		return GH_EINVAL;
	return gh_store_update(st, op_fn, &a);
}

gh_err
gh_queue_release(struct gh_store *st, const struct gh_lease *leases, size_t n,
                 int64_t now)
{
	struct op_arg a = {.op = OP_RELEASE, .leases = leases, .n = n,
	                   .now = now};

	if (st == NULL || (leases == NULL && n > 0))
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	/* stale entries are skipped, not errors */
	return update_batch(st, &a, 1);
}

gh_err
gh_queue_defer(struct gh_store *st, const struct gh_lease *leases, size_t n,
               int64_t now, const int64_t *due_at, gh_err *results)
{
	struct op_arg a = {.op = OP_DEFER, .leases = leases, .n = n,
	                   .now = now, .dues = due_at, .results = results};

	if (st == NULL || ((leases == NULL || due_at == NULL) && n > 0))
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	return update_batch(st, &a, results == NULL);
}

gh_err
gh_queue_ack_txn(struct gh_txn *txn, const struct gh_lease *leases,
                 size_t n, int64_t now, gh_err *results)
{
	struct op_arg a = {.op = OP_ACK, .leases = leases, .n = n, .now = now,
	                   .results = results};

	if (txn == NULL || results == NULL || (leases == NULL && n > 0))
		return GH_EINVAL;
	return op_fn(txn, &a);
}

gh_err
gh_queue_defer_txn(struct gh_txn *txn, const struct gh_lease *leases,
                   size_t n, int64_t now, const int64_t *due_at,
                   gh_err *results)
{
	struct op_arg a = {.op = OP_DEFER, .leases = leases, .n = n,
	                   .now = now, .dues = due_at, .results = results};

	if (txn == NULL || results == NULL ||
	    ((leases == NULL || due_at == NULL) && n > 0))
		return GH_EINVAL;
	return op_fn(txn, &a);
}

gh_err
gh_queue_expire_txn(struct gh_txn *txn, const struct gh_lease *leases,
                    size_t n, int64_t now, gh_err *results)
{
	struct op_arg a = {.op = OP_EXPIRE, .leases = leases, .n = n,
	                   .now = now, .error = "expired before delivery",
	                   .results = results};

	if (txn == NULL || results == NULL || (leases == NULL && n > 0))
		return GH_EINVAL;
	return op_fn(txn, &a);
}

/* ---- requeue, get ---- */

struct requeue_arg {
	uint64_t id;
	int64_t now;
};

static gh_err
requeue_fn(struct gh_txn *txn, void *arg)
{
	struct requeue_arg *a = arg;
	struct qstate q;
	const void *v;
	size_t vl;
	int found;
	gh_err err;

	err = event_raw(txn, a->id, &v, &vl);
	if (err)
		return err;
	err = gh_qs_get(txn, a->id, &q, &found);
	if (err)
		return err;
	if (!found || (q.state & (GH_Q_READY | GH_Q_LEASED)))
		return GH_EEXIST;
	/* An admin's retry means "try again now": no expiry, fresh count. */
	q.state = GH_Q_READY;
	q.attempts = 0;
	q.expires_at = 0;
	q.due_at = a->now;
	q.updated_at = a->now;
	err = gh_qindex_put(txn, &q, a->id);
	if (err == GH_OK)
		err = gh_qs_put(txn, a->id, &q);
	return err;
}

gh_err
gh_queue_requeue(struct gh_store *st, uint64_t id, int64_t now)
{
	struct requeue_arg a = {id, now};

	if (st == NULL)
		return GH_EINVAL;
	return gh_store_update(st, requeue_fn, &a);
}

struct get_arg {
	uint64_t id;
	json_t *out;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct get_arg *a = arg;

	return gh_queue_get_txn(txn, a->id, &a->out);
}

gh_err
gh_queue_get(struct gh_store *st, uint64_t id, json_t **out)
{
	struct get_arg a = {id, NULL};
	gh_err err;

	if (st == NULL || out == NULL)
		return GH_EINVAL;
	*out = NULL;
	err = gh_store_view(st, get_fn, &a);
	if (err == GH_OK)
		*out = a.out;
	return err;
}
