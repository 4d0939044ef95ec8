/*
 * queue.c - the event queue on top of the store: enqueue with dedup, lease
 * with a visibility deadline, ack, retry, dead-letter.
 *
 * Layout (docs/store.md): events[be64 id] = JSON record with a "q" object;
 * queue[band(1) | be64 due_at | be64 id] = "" for every ready or leased
 * event, band = 4 - priority so the most urgent sort first; dedup[key] =
 * be64 id | be64 window_end.  A leased event's index entry sits at its lease
 * deadline, so a consumer that dies simply lets it come due again: no
 * reaper is needed and nothing is lost.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatehouse/queue.h"

#define QKEY_LEN 17
#define EVENT_MAX (GH_RECORD_MAX / 4)
#define PURGE_BATCH 1000

int64_t
gh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const qstate_names[] = {
	"ready", "leased", "done", "dead", "expired"
};

const char *
gh_qstate_name(enum gh_qstate s)
{
	for (unsigned i = 0; i < 5; i++)
		if (s == (1u << i))
			return qstate_names[i];
	return "?";
}

unsigned
gh_qstate_parse(const char *name)
{
	for (unsigned i = 0; i < 5; i++)
		if (strcmp(name, qstate_names[i]) == 0)
			return 1u << i;
	if (strcmp(name, "all") == 0)
		return GH_Q_ALL;
	return 0;
}

/* ---- validation ---- */

static int
word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

__attribute__((format(printf, 3, 4)))
static gh_err
bad(char *detail, size_t dlen, const char *fmt, ...)
{
	va_list ap;

	if (detail && dlen) {
		va_start(ap, fmt);
		vsnprintf(detail, dlen, fmt, ap);
		va_end(ap);
	}
	return GH_EINVAL;
}

gh_err
gh_event_validate(const json_t *ev, char *detail, size_t dlen)
{
	static const struct {
		const char *name;
		json_type type;   /* JSON_NULL here means "string or null" etc. */
		size_t max;
	} fields[] = {
		{"type", JSON_STRING, 64},
		{"title", JSON_STRING, 1024},
		{"user", JSON_STRING, 256},
		{"category", JSON_STRING, 32},
		{"message", JSON_STRING, 32768},
		{"action_url", JSON_STRING, 2048},
		{"source", JSON_STRING, 32},
		{"dedup_key", JSON_STRING, 400},
		{"priority", JSON_INTEGER, 0},
		{"metadata", JSON_OBJECT, 0},
		{"channels", JSON_ARRAY, 0},
		{"recipients", JSON_ARRAY, 0},
		{"expires_at", JSON_INTEGER, 0},
	};
	const char *key;
	json_t *val;
	size_t size;

	if (detail && dlen)
		detail[0] = '\0';
	if (!json_is_object(ev))
		return bad(detail, dlen, "%s", "event is not a JSON object");
	json_object_foreach((json_t *)ev, key, val) {
		size_t i;

		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(key, fields[i].name) == 0)
				break;
		if (i == sizeof(fields) / sizeof(fields[0]))
			return bad(detail, dlen, "unknown field '%s'", key);
		if (json_is_null(val) &&
		    (strcmp(key, "expires_at") == 0 ||
		     strcmp(key, "dedup_key") == 0 ||
		     strcmp(key, "action_url") == 0))
			continue;
		if (json_typeof(val) != fields[i].type)
			return bad(detail, dlen, "field '%s' has the wrong type",
			           key);
		if (fields[i].type == JSON_STRING &&
		    json_string_length(val) > fields[i].max)
			return bad(detail, dlen, "field '%s' is too long", key);
		if (fields[i].type == JSON_STRING &&
		    strlen(json_string_value(val)) != json_string_length(val))
			return bad(detail, dlen, "field '%s' contains NUL", key);
	}
	val = json_object_get(ev, "type");
	if (!json_is_string(val) || !word_ok(json_string_value(val), 64, "._-"))
		return bad(detail, dlen, "%s",
		           "field 'type' is required: [a-z0-9._-], 1-64 bytes");
	val = json_object_get(ev, "title");
	if (!json_is_string(val) || json_string_length(val) == 0)
		return bad(detail, dlen, "%s", "field 'title' is required");
	val = json_object_get(ev, "category");
	if (val && !word_ok(json_string_value(val), 32, "_-"))
		return bad(detail, dlen, "%s",
		           "field 'category' must be [a-z0-9_-], 1-32 bytes");
	val = json_object_get(ev, "priority");
	if (val && (json_integer_value(val) < 1 || json_integer_value(val) > 4))
		return bad(detail, dlen, "%s",
		           "field 'priority' must be 1 (low) to 4 (urgent)");
	val = json_object_get(ev, "dedup_key");
	if (json_is_string(val) && json_string_length(val) == 0)
		return bad(detail, dlen, "%s", "field 'dedup_key' is empty");
	{
		json_t *u = json_object_get(ev, "user");
		json_t *r = json_object_get(ev, "recipients");

		if ((!json_is_string(u) || json_string_length(u) == 0) &&
		    json_array_size(r) == 0)
			return bad(detail, dlen, "%s",
			           "an event needs 'user' or 'recipients'");
	}
	size = json_dumpb(ev, NULL, 0, JSON_COMPACT);
	if (size > EVENT_MAX) {
		if (detail && dlen)
			snprintf(detail, dlen, "event is %zu bytes, at most %u",
			         size, (unsigned)EVENT_MAX);
		return GH_ETOOBIG;
	}
	return GH_OK;
}

static const char *
default_category(const char *type)
{
	if (strncmp(type, "login.", 6) == 0 ||
	    strcmp(type, "upload.infected") == 0)
		return "security";
	return "system";
}

/* ---- record helpers ---- */

static int64_t
jint(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static void
jset_int(json_t *obj, const char *key, int64_t v)
{
	json_object_set_new(obj, key, json_integer(v));
}

static void
qkey(unsigned char *k, int priority, int64_t due, uint64_t id)
{
	if (priority < 1 || priority > 4)
		priority = 2;
	k[0] = (unsigned char)(4 - priority);
	gh_put_be64(k + 1, (uint64_t)(due < 0 ? 0 : due));
	gh_put_be64(k + 9, id);
}

static unsigned
state_of(const json_t *q)
{
	const char *s = json_string_value(json_object_get(q, "state"));

	return s ? gh_qstate_parse(s) : 0;
}

static void
set_state(json_t *q, enum gh_qstate s, int64_t now)
{
	json_object_set_new(q, "state", json_string(gh_qstate_name(s)));
	jset_int(q, "updated_at", now);
}

/* Remove the index entry an event has now, if any. */
static gh_err
unindex(struct gh_txn *txn, const json_t *rec, uint64_t id)
{
	unsigned char k[QKEY_LEN];
	const json_t *q = json_object_get(rec, "q");
	gh_err err;

	qkey(k, (int)jint(rec, "priority"), jint(q, "due_at"), id);
	err = gh_txn_del(txn, GH_DB_QUEUE, k, sizeof(k));
	return err == GH_ENOTFOUND ? GH_OK : err;
}

static gh_err
reindex(struct gh_txn *txn, json_t *rec, uint64_t id, int64_t due)
{
	unsigned char k[QKEY_LEN];
	json_t *q = json_object_get(rec, "q");

	jset_int(q, "due_at", due);
	qkey(k, (int)jint(rec, "priority"), due, id);
	return gh_txn_put(txn, GH_DB_QUEUE, k, sizeof(k), "", 0);
}

static gh_err
put_event(struct gh_txn *txn, uint64_t id, const json_t *rec)
{
	unsigned char k[8];

	gh_put_be64(k, id);
	return gh_txn_put_json(txn, GH_DB_EVENTS, k, 8, rec);
}

gh_err
gh_queue_get_txn(struct gh_txn *txn, uint64_t id, json_t **out)
{
	unsigned char k[8];
	gh_err err;

	gh_put_be64(k, id);
	err = gh_txn_get_json(txn, GH_DB_EVENTS, k, 8, out);
	if (err == GH_OK && !json_is_object(json_object_get(*out, "q"))) {
		json_decref(*out);
		*out = NULL;
		return GH_ECORRUPT;
	}
	return err;
}

/* ---- enqueue ---- */

gh_err
gh_queue_enqueue_txn(struct gh_txn *txn, const json_t *ev, int64_t now,
                     int64_t window, uint64_t *id_out, int *dup)
{
	const char *dkey;
	unsigned char dval[16], k[QKEY_LEN];
	const void *v;
	size_t vl;
	uint64_t id;
	json_t *rec = NULL, *q;
	gh_err err;

	if (dup)
		*dup = 0;
	if (id_out)
		*id_out = 0;
	err = gh_event_validate(ev, NULL, 0);
	if (err)
		return err;
	if (window <= 0)
		window = GH_QUEUE_DEDUP_WINDOW_DEFAULT;

	dkey = json_string_value(json_object_get(ev, "dedup_key"));
	if (dkey != NULL) {
		err = gh_txn_get(txn, GH_DB_DEDUP, dkey, strlen(dkey), &v, &vl);
		if (err == GH_OK && vl == 16 &&
		    (int64_t)gh_get_be64((const unsigned char *)v + 8) > now) {
			if (dup)
				*dup = 1;
			if (id_out)
				*id_out = gh_get_be64(v);
			return GH_OK;
		}
		if (err != GH_OK && err != GH_ENOTFOUND)
			return err;
	}

	err = gh_txn_next_seq(txn, "event_id", &id);
	if (err)
		return err;
	rec = json_deep_copy(ev);
	q = json_object();
	if (rec == NULL || q == NULL) {
		json_decref(rec);
		json_decref(q);
		return GH_ENOMEM;
	}
	jset_int(rec, "v", 1);
	jset_int(rec, "id", (int64_t)id);
	jset_int(rec, "created_at", now);
	if (!json_object_get(rec, "priority"))
		jset_int(rec, "priority", 2);
	if (!json_object_get(rec, "category"))
		json_object_set_new(rec, "category", json_string(default_category(
		    json_string_value(json_object_get(rec, "type")))));
	if (!json_object_get(rec, "source"))
		json_object_set_new(rec, "source", json_string("app"));
	json_object_set_new(rec, "q", q);
	set_state(q, GH_Q_READY, now);
	jset_int(q, "attempts", 0);
	jset_int(q, "leases", 0);
	jset_int(q, "lease_until", 0);
	jset_int(q, "token", 0);
	json_object_set_new(q, "last_error", json_null());
	jset_int(q, "due_at", now);

	err = put_event(txn, id, rec);
	if (err)
		goto done;
	qkey(k, (int)jint(rec, "priority"), now, id);
	err = gh_txn_put(txn, GH_DB_QUEUE, k, sizeof(k), "", 0);
	if (err)
		goto done;
	if (dkey != NULL) {
		gh_put_be64(dval, id);
		gh_put_be64(dval + 8, (uint64_t)(now + window));
		err = gh_txn_put(txn, GH_DB_DEDUP, dkey, strlen(dkey), dval, 16);
		if (err)
			goto done;
	}
	if (id_out)
		*id_out = id;
done:
	json_decref(rec);
	return err;
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
		err = gh_queue_enqueue_txn(txn, a->evs[i], a->now, a->window,
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
		err = gh_event_validate(evs[i], NULL, 0);
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
	unsigned char key[QKEY_LEN];
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

	if (klen != QKEY_LEN || k[0] != c->band)
		return 1;
	if ((int64_t)gh_get_be64(k + 1) > c->now)
		return 1;
	memcpy(c->items[c->n].key, k, QKEY_LEN);
	c->items[c->n++].id = gh_get_be64(k + 9);
	return c->n >= c->max;
}

struct lease_arg {
	int64_t now, vis;
	size_t max, n;
	struct gh_lease *out;
	struct due_item *items;
};

static gh_err
lease_fn(struct gh_txn *txn, void *arg)
{
	struct lease_arg *a = arg;
	struct collect c = {0, a->now, a->max, 0, a->items};
	gh_err err = GH_OK;

	/* Runs again from scratch if the map had to grow. */
	gh_lease_release(a->out, a->n);
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
	for (size_t i = 0; i < c.n; i++) {
		uint64_t id = c.items[i].id, token;
		json_t *rec, *q, *exp;

		err = gh_queue_get_txn(txn, id, &rec);
		if (err == GH_ENOTFOUND) {
			/* An index entry without its event (deleted by hand):
			 * drop it rather than trip on it for ever. */
			err = gh_txn_del(txn, GH_DB_QUEUE, c.items[i].key,
			                 QKEY_LEN);
			if (err && err != GH_ENOTFOUND)
				goto fail;
			continue;
		}
		if (err)
			goto fail;
		q = json_object_get(rec, "q");
		if (!(state_of(q) & (GH_Q_READY | GH_Q_LEASED))) {
			json_decref(rec);
			continue;
		}
		err = unindex(txn, rec, id);
		if (err) {
			json_decref(rec);
			goto fail;
		}
		exp = json_object_get(rec, "expires_at");
		if (json_is_integer(exp) && json_integer_value(exp) <= a->now) {
			set_state(q, GH_Q_EXPIRED, a->now);
			json_object_set_new(q, "last_error",
			                    json_string("expired before delivery"));
			err = put_event(txn, id, rec);
			json_decref(rec);
			if (err)
				goto fail;
			continue;
		}
		err = gh_txn_next_seq(txn, "lease_token", &token);
		if (err == GH_OK)
			err = reindex(txn, rec, id, a->now + a->vis);
		if (err) {
			json_decref(rec);
			goto fail;
		}
		set_state(q, GH_Q_LEASED, a->now);
		jset_int(q, "lease_until", a->now + a->vis);
		jset_int(q, "token", (int64_t)token);
		jset_int(q, "leases", jint(q, "leases") + 1);
		err = put_event(txn, id, rec);
		if (err) {
			json_decref(rec);
			goto fail;
		}
		a->out[a->n].id = id;
		a->out[a->n].token = token;
		a->out[a->n].event = rec;
		a->n++;
	}
	return GH_OK;
fail:
	gh_lease_release(a->out, a->n);
	a->n = 0;
	return err;
}

gh_err
gh_queue_lease(struct gh_store *st, int64_t now, size_t max, int64_t vis,
               struct gh_lease *out, size_t *n)
{
	struct lease_arg a;
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
	a.max = max;
	a.out = out;
	a.items = calloc(max, sizeof(*a.items));
	if (a.items == NULL)
		return GH_ENOMEM;
	err = gh_store_update(st, lease_fn, &a);
	free(a.items);
	if (err) {
		gh_lease_release(out, a.n);
		return err;
	}
	*n = a.n;
	return GH_OK;
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

enum lease_op { OP_ACK, OP_RETRY, OP_EXTEND, OP_RELEASE };

struct op_arg {
	enum lease_op op;
	const struct gh_lease *leases;
	size_t n;
	int64_t now, due, vis;
	const char *error;
	int max_attempts;
	int dead;
	gh_err *results;
};

static gh_err
op_one(struct gh_txn *txn, struct op_arg *a, const struct gh_lease *l)
{
	json_t *rec = NULL, *q;
	gh_err err;

	err = gh_queue_get_txn(txn, l->id, &rec);
	if (err)
		return err;
	q = json_object_get(rec, "q");
	if (state_of(q) != GH_Q_LEASED ||
	    (uint64_t)jint(q, "token") != l->token) {
		err = GH_ESTALE;
		goto done;
	}
	err = unindex(txn, rec, l->id);
	if (err)
		goto done;
	switch (a->op) {
	case OP_ACK:
		set_state(q, GH_Q_DONE, a->now);
		break;
	case OP_RETRY: {
		int64_t attempts = jint(q, "attempts") + 1;

		jset_int(q, "attempts", attempts);
		json_object_set_new(q, "last_error",
		                    a->error ? json_string(a->error) : json_null());
		if (a->max_attempts > 0 && attempts >= a->max_attempts) {
			set_state(q, GH_Q_DEAD, a->now);
			a->dead = 1;
		} else {
			set_state(q, GH_Q_READY, a->now);
			err = reindex(txn, rec, l->id, a->due);
		}
		break;
	}
	case OP_EXTEND:
		jset_int(q, "lease_until", a->now + a->vis);
		err = reindex(txn, rec, l->id, a->now + a->vis);
		break;
	case OP_RELEASE:
		set_state(q, GH_Q_READY, a->now);
		err = reindex(txn, rec, l->id, a->now);
		break;
	}
	if (err == GH_OK)
		err = put_event(txn, l->id, rec);
done:
	json_decref(rec);
	return err;
}

static gh_err
op_fn(struct gh_txn *txn, void *arg)
{
	struct op_arg *a = arg;
	gh_err err;

	a->dead = 0;
	for (size_t i = 0; i < a->n; i++) {
		err = op_one(txn, a, &a->leases[i]);
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
	return gh_store_update(st, op_fn, &a);
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
	gh_err scratch[GH_QUEUE_LEASE_MAX];

	if (st == NULL || (leases == NULL && n > 0) || n > GH_QUEUE_LEASE_MAX)
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	a.results = scratch;   /* stale entries are skipped, not errors */
	return gh_store_update(st, op_fn, &a);
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
	json_t *rec, *q;
	gh_err err;

	err = gh_queue_get_txn(txn, a->id, &rec);
	if (err)
		return err;
	q = json_object_get(rec, "q");
	if (state_of(q) & (GH_Q_READY | GH_Q_LEASED)) {
		json_decref(rec);
		return GH_EEXIST;
	}
	/* An admin's retry means "try again now": no expiry, fresh count. */
	json_object_set_new(rec, "expires_at", json_null());
	set_state(q, GH_Q_READY, a->now);
	jset_int(q, "attempts", 0);
	err = reindex(txn, rec, a->id, a->now);
	if (err == GH_OK)
		err = put_event(txn, a->id, rec);
	json_decref(rec);
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

/* ---- list ---- */

struct list_arg {
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
	json_t *rec;
	int r = 0;

	rec = json_loadb(val, vlen, 0, NULL);
	if (rec == NULL) {
		a->err = GH_ECORRUPT;
		return 1;
	}
	if (state_of(json_object_get(rec, "q")) & a->states) {
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
	struct list_arg la = {states ? states : GH_Q_ALL, limit, 0, fn, arg,
	                      GH_OK};
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
	json_t *rec, *q;
	uint64_t id = gh_get_be64(key);
	unsigned s;

	p->next = id + 1;
	rec = json_loadb(val, vlen, 0, NULL);
	if (rec == NULL)
		return 0;
	q = json_object_get(rec, "q");
	s = state_of(q);
	if ((s & p->states) && jint(q, "updated_at") < p->older)
		p->ids[p->n++] = id;
	json_decref(rec);
	if (p->n >= PURGE_BATCH) {
		p->more = 1;
		return 1;
	}
	return 0;
}

/* Delivery records are keyed by event id first, so an event's go with it. */
struct deliv_keys {
	const unsigned char *prefix;
	size_t n;
	unsigned char keys[64][512];
	size_t lens[64];
};

static int
deliv_collect(const void *key, size_t klen, const void *val, size_t vlen,
              void *arg)
{
	struct deliv_keys *d = arg;

	if (klen < 8 || memcmp(key, d->prefix, 8) != 0 || d->n >= 64 ||
	    klen > sizeof(d->keys[0]))
		return 1;
	memcpy(d->keys[d->n], key, klen);
	d->lens[d->n++] = klen;
	return 0;
}

static gh_err
purge_deliveries(struct gh_txn *txn, uint64_t id)
{
	struct deliv_keys d;
	unsigned char k[8];
	gh_err err;

	gh_put_be64(k, id);
	do {
		d.prefix = k;
		d.n = 0;
		err = gh_txn_scan(txn, GH_DB_DELIVERIES, k, 8, 0, deliv_collect,
		                  &d, NULL);
		if (err)
			return err;
		for (size_t i = 0; i < d.n; i++) {
			err = gh_txn_del(txn, GH_DB_DELIVERIES, d.keys[i],
			                 d.lens[i]);
			if (err && err != GH_ENOTFOUND)
				return err;
		}
	} while (d.n == 64);
	return GH_OK;
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
	err = gh_txn_scan(txn, GH_DB_EVENTS, k, 8, 0, purge_collect, p, NULL);
	if (err)
		return err;
	for (size_t i = 0; i < p->n; i++) {
		gh_put_be64(k, p->ids[i]);
		err = gh_txn_del(txn, GH_DB_EVENTS, k, 8);
		if (err && err != GH_ENOTFOUND)
			return err;
		err = purge_deliveries(txn, p->ids[i]);
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
stats_events(const void *key, size_t klen, const void *val, size_t vlen,
             void *arg)
{
	struct stats_arg *a = arg;
	json_t *rec = json_loadb(val, vlen, 0, NULL);
	unsigned s;

	if (rec == NULL)
		return 0;
	s = state_of(json_object_get(rec, "q"));
	for (unsigned i = 0; i < 5; i++)
		if (s == (1u << i))
			a->s->count[i]++;
	json_decref(rec);
	return 0;
}

static gh_err
stats_fn(struct gh_txn *txn, void *arg)
{
	struct stats_arg *a = arg;
	gh_err err;

	memset(a->s, 0, sizeof(*a->s));
	err = gh_txn_scan(txn, GH_DB_QUEUE, NULL, 0, 0, stats_index, a, NULL);
	if (err)
		return err;
	return gh_txn_scan(txn, GH_DB_EVENTS, NULL, 0, 0, stats_events, a,
	                   NULL);
}

gh_err
gh_queue_stats(struct gh_store *st, int64_t now, struct gh_queue_stats *out)
{
	struct stats_arg a = {now, out};

	if (st == NULL || out == NULL)
		return GH_EINVAL;
	return gh_store_view(st, stats_fn, &a);
}
