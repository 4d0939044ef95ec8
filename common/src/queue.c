/*
 * queue.c - the event queue on top of the store: enqueue with dedup, lease
 * with a visibility deadline, ack, retry, dead-letter.
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

static gh_err
validate_fields(const json_t *ev, char *detail, size_t dlen)
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
	return GH_OK;
}

gh_err
gh_event_validate(const json_t *ev, char *detail, size_t dlen)
{
	gh_err err = validate_fields(ev, detail, dlen);
	size_t size;

	if (err)
		return err;
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

/* ---- queue state records ---- */

#define QS_FIXED 56
#define QS_ERR_MAX 1024

struct qstate {
	unsigned state;          /* one GH_Q_* bit */
	int priority;
	uint32_t attempts, leases;
	int64_t due_at, lease_until, updated_at, expires_at;
	uint64_t token;
	char error[QS_ERR_MAX + 1];
};

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static size_t
qs_encode(const struct qstate *q, unsigned char *b)
{
	size_t el = strlen(q->error);

	memset(b, 0, QS_FIXED);
	b[0] = 1;
	b[1] = (unsigned char)q->state;
	b[2] = (unsigned char)q->priority;
	put_be32(b + 4, q->attempts);
	put_be32(b + 8, q->leases);
	gh_put_be64(b + 16, (uint64_t)q->due_at);
	gh_put_be64(b + 24, (uint64_t)q->lease_until);
	gh_put_be64(b + 32, (uint64_t)q->updated_at);
	gh_put_be64(b + 40, (uint64_t)q->expires_at);
	gh_put_be64(b + 48, q->token);
	memcpy(b + QS_FIXED, q->error, el);
	return QS_FIXED + el;
}

static gh_err
qs_decode(const unsigned char *b, size_t len, struct qstate *q)
{
	size_t el;

	if (len < QS_FIXED || b[0] != 1 || len > QS_FIXED + QS_ERR_MAX)
		return GH_ECORRUPT;
	q->state = b[1];
	q->priority = b[2];
	q->attempts = get_be32(b + 4);
	q->leases = get_be32(b + 8);
	q->due_at = (int64_t)gh_get_be64(b + 16);
	q->lease_until = (int64_t)gh_get_be64(b + 24);
	q->updated_at = (int64_t)gh_get_be64(b + 32);
	q->expires_at = (int64_t)gh_get_be64(b + 40);
	q->token = gh_get_be64(b + 48);
	el = len - QS_FIXED;
	memcpy(q->error, b + QS_FIXED, el);
	q->error[el] = '\0';
	return GH_OK;
}

static void
qs_set_error(struct qstate *q, const char *err)
{
	size_t n = err ? strlen(err) : 0;

	if (n > QS_ERR_MAX) {
		/* cut on a UTF-8 character boundary */
		n = QS_ERR_MAX;
		while (n > 0 && ((unsigned char)err[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(q->error, err, n);
	q->error[n] = '\0';
}

/* The state of an event never leased is implied by its index entry; the
 * caller passes what it knows (priority, due, expiry) for that case. */
static gh_err
qs_get(struct gh_txn *txn, uint64_t id, struct qstate *q, int *found)
{
	unsigned char k[8];
	const void *v;
	size_t vl;
	gh_err err;

	gh_put_be64(k, id);
	err = gh_txn_get(txn, GH_DB_QSTATE, k, 8, &v, &vl);
	if (err == GH_ENOTFOUND) {
		*found = 0;
		return GH_OK;
	}
	if (err)
		return err;
	*found = 1;
	return qs_decode(v, vl, q);
}

static gh_err
qs_put(struct gh_txn *txn, uint64_t id, const struct qstate *q)
{
	unsigned char k[8], b[QS_FIXED + QS_ERR_MAX];
	size_t n = qs_encode(q, b);

	gh_put_be64(k, id);
	return gh_txn_put(txn, GH_DB_QSTATE, k, 8, b, n);
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

static gh_err
index_put(struct gh_txn *txn, const struct qstate *q, uint64_t id)
{
	unsigned char k[QKEY_LEN], v[8];

	qkey(k, q->priority, q->due_at, id);
	gh_put_be64(v, (uint64_t)q->expires_at);
	return gh_txn_put(txn, GH_DB_QUEUE, k, sizeof(k), v, 8);
}

static gh_err
index_del(struct gh_txn *txn, const struct qstate *q, uint64_t id)
{
	unsigned char k[QKEY_LEN];
	gh_err err;

	qkey(k, q->priority, q->due_at, id);
	err = gh_txn_del(txn, GH_DB_QUEUE, k, sizeof(k));
	return err == GH_ENOTFOUND ? GH_OK : err;
}

/* The JSON view of a state: what consumers and `gatehouse events show`
 * see as the event's "q" object. */
static json_t *
qs_json(const struct qstate *q)
{
	return json_pack("{s:s, s:I, s:i, s:i, s:I, s:I, s:I, s:o, s:I}",
	    "state", gh_qstate_name((enum gh_qstate)q->state),
	    "due_at", (json_int_t)q->due_at,
	    "attempts", (int)q->attempts, "leases", (int)q->leases,
	    "lease_until", (json_int_t)q->lease_until,
	    "token", (json_int_t)q->token,
	    "updated_at", (json_int_t)q->updated_at,
	    "last_error", q->error[0] ? json_string(q->error) : json_null(),
	    "expires_at", (json_int_t)q->expires_at);
}

static void
qs_initial(struct qstate *q, const json_t *ev)
{
	const json_t *exp = json_object_get(ev, "expires_at");

	memset(q, 0, sizeof(*q));
	q->state = GH_Q_READY;
	q->priority = (int)json_integer_value(json_object_get(ev, "priority"));
	q->due_at = json_integer_value(json_object_get(ev, "created_at"));
	q->updated_at = q->due_at;
	q->expires_at = json_is_integer(exp) ? json_integer_value(exp) : 0;
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
	err = qs_get(txn, id, &q, &found);
	if (err) {
		json_decref(ev);
		return err;
	}
	if (!found)
		qs_initial(&q, ev);
	json_object_set_new(ev, "q", qs_json(&q));
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

	return p ? (int)json_integer_value(p) : 2;
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
	char head[160];
	const char *type = json_string_value(json_object_get(ev, "type"));
	size_t hl, bl;
	char *buf = stackbuf;
	int r;

	r = snprintf(head, sizeof(head),
	             "{\"v\":1,\"id\":%llu,\"created_at\":%lld%s%s%s%s%s",
	             (unsigned long long)id, (long long)now,
	             json_object_get(ev, "priority") ? "" : ",\"priority\":2",
	             json_object_get(ev, "category") ? "" : ",\"category\":\"",
	             json_object_get(ev, "category") ? "" :
	                 default_category(type ? type : ""),
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
	unsigned char dval[16], k[8];
	char stackbuf[2048], *buf = stackbuf;
	const void *v;
	size_t vl, n;
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
	err = index_put(txn, &q, id);
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
	if (buf != stackbuf)
		free(buf);
	return err;
}

gh_err
gh_queue_enqueue_txn(struct gh_txn *txn, const json_t *ev, int64_t now,
                     int64_t window, uint64_t *id_out, int *dup)
{
	gh_err err = validate_fields(ev, NULL, 0);

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
		err = validate_fields(evs[i], NULL, 0);
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
		err = qs_get(txn, it->id, q, &found);
		if (err)
			return err;
		if (!found) {
			memset(q, 0, sizeof(*q));
			q->state = GH_Q_READY;
			q->priority = 4 - it->key[0];
			q->due_at = (int64_t)gh_get_be64(it->key + 1);
			q->expires_at = it->expires_at;
		}
		if (!(q->state & (GH_Q_READY | GH_Q_LEASED)))
			continue;
		if (q->expires_at && q->expires_at <= a->now) {
			q->state = GH_Q_EXPIRED;
			q->updated_at = a->now;
			qs_set_error(q, "expired before delivery");
			err = qs_put(txn, it->id, q);
			if (err)
				return err;
			continue;
		}
		q->state = GH_Q_LEASED;
		q->due_at = q->lease_until = a->now + a->vis;
		q->token = token;
		q->leases++;
		q->updated_at = a->now;
		err = qs_put(txn, it->id, q);
		if (err == GH_OK)
			err = index_put(txn, q, it->id);
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
		json_object_set_new(ev, "q", qs_json(&it->q));
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

enum lease_op { OP_ACK, OP_RETRY, OP_EXTEND, OP_RELEASE, OP_DEFER };

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

	err = qs_get(txn, l->id, &q, &found);
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
	err = index_del(txn, &q, l->id);
	if (err)
		return err;
	q.updated_at = a->now;
	switch (a->op) {
	case OP_ACK:
		q.state = GH_Q_DONE;
		break;
	case OP_RETRY:
		q.attempts++;
		qs_set_error(&q, a->error);
		if (a->max_attempts > 0 && q.attempts >= (uint32_t)a->max_attempts) {
			q.state = GH_Q_DEAD;
			a->dead = 1;
		} else {
			q.state = GH_Q_READY;
			q.due_at = a->due;
			err = index_put(txn, &q, l->id);
		}
		break;
	case OP_EXTEND:
		q.due_at = q.lease_until = a->now + a->vis;
		err = index_put(txn, &q, l->id);
		break;
	case OP_RELEASE:
		q.state = GH_Q_READY;
		q.due_at = a->now;
		err = index_put(txn, &q, l->id);
		break;
	case OP_DEFER:
		q.state = GH_Q_READY;
		q.due_at = a->dues[i] > a->now ? a->dues[i] : a->now;
		err = index_put(txn, &q, l->id);
		break;
	}
	if (err == GH_OK)
		err = qs_put(txn, l->id, &q);
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

gh_err
gh_queue_ack(struct gh_store *st, const struct gh_lease *leases, size_t n,
             int64_t now, gh_err *results)
{
	struct op_arg a = {.op = OP_ACK, .leases = leases, .n = n, .now = now,
	                   .results = results};
	gh_err *scratch = NULL, err;

	if (st == NULL || (leases == NULL && n > 0))
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	if (results == NULL && n > 1) {
		/* stale entries must not stop the others being acked */
		scratch = calloc(n, sizeof(*scratch));
		if (scratch == NULL)
			return GH_ENOMEM;
		a.results = scratch;
	}
	err = gh_store_update(st, op_fn, &a);
	free(scratch);
	return err;
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
	gh_err *scratch, err;

	if (st == NULL || (leases == NULL && n > 0))
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	scratch = calloc(n, sizeof(*scratch));
	if (scratch == NULL)
		return GH_ENOMEM;
	a.results = scratch;   /* stale entries are skipped, not errors */
	err = gh_store_update(st, op_fn, &a);
	free(scratch);
	return err;
}

gh_err
gh_queue_defer(struct gh_store *st, const struct gh_lease *leases, size_t n,
               int64_t now, const int64_t *due_at, gh_err *results)
{
	struct op_arg a = {.op = OP_DEFER, .leases = leases, .n = n,
	                   .now = now, .dues = due_at, .results = results};
	gh_err *scratch = NULL, err;

	if (st == NULL || ((leases == NULL || due_at == NULL) && n > 0))
		return GH_EINVAL;
	if (n == 0)
		return GH_OK;
	if (results == NULL) {
		scratch = calloc(n, sizeof(*scratch));
		if (scratch == NULL)
			return GH_ENOMEM;
		a.results = scratch;
	}
	err = gh_store_update(st, op_fn, &a);
	free(scratch);
	return err;
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
	err = qs_get(txn, a->id, &q, &found);
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
	err = index_put(txn, &q, a->id);
	if (err == GH_OK)
		err = qs_put(txn, a->id, &q);
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
	a->err = qs_get(a->txn, gh_get_be64(key), &q, &found);
	if (a->err) {
		json_decref(rec);
		return 1;
	}
	if (!found)
		qs_initial(&q, rec);
	if (q.state & a->states) {
		json_object_set_new(rec, "q", qs_json(&q));
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
	if (qs_decode(val, vlen, &q) == GH_OK && (q.state & p->states) &&
	    q.updated_at < p->older)
		p->ids[p->n++] = gh_get_be64(key);
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
purge_deliveries(struct gh_txn *txn, uint64_t id, struct deliv_keys *d)
{
	unsigned char k[8];
	gh_err err;

	gh_put_be64(k, id);
	do {
		d->prefix = k;
		d->n = 0;
		err = gh_txn_scan(txn, GH_DB_DELIVERIES, k, 8, 0, deliv_collect,
		                  d, NULL);
		if (err)
			return err;
		for (size_t i = 0; i < d->n; i++) {
			err = gh_txn_del(txn, GH_DB_DELIVERIES, d->keys[i],
			                 d->lens[i]);
			if (err && err != GH_ENOTFOUND)
				return err;
		}
	} while (d->n == 64);
	return GH_OK;
}

struct purge_arg {
	struct purge_scan *scan;
	struct deliv_keys *dk;
	uint64_t from;
	size_t deleted;
};

static gh_err
purge_fn(struct gh_txn *txn, void *arg)
{
	struct purge_arg *a = arg;
	struct purge_scan *p = a->scan;
	unsigned char k[8];
	uint64_t last = 0;
	gh_err err;

	p->n = 0;
	p->more = 0;
	a->deleted = 0;
	gh_put_be64(k, a->from);
	err = gh_txn_scan(txn, GH_DB_QSTATE, k, 8, 0, purge_collect, p, NULL);
	if (err)
		return err;
	err = gh_txn_last_key_be64(txn, GH_DB_EVENTS, &last);
	if (err && err != GH_ENOTFOUND)
		return err;
	for (size_t i = 0; i < p->n; i++) {
		uint64_t id = p->ids[i];

		/* Deleting the newest event would let its id be reused:
		 * remember the highest id ever purged. */
		if (id == last) {
			unsigned char b[8];

			gh_put_be64(b, id);
			err = gh_txn_put(txn, GH_DB_META, "id_floor", 8, b, 8);
			if (err)
				return err;
		}
		gh_put_be64(k, id);
		err = gh_txn_del(txn, GH_DB_EVENTS, k, 8);
		if (err && err != GH_ENOTFOUND)
			return err;
		err = gh_txn_del(txn, GH_DB_QSTATE, k, 8);
		if (err && err != GH_ENOTFOUND)
			return err;
		err = purge_deliveries(txn, id, a->dk);
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
	a.dk = calloc(1, sizeof(*a.dk));
	if (p == NULL || d == NULL || a.dk == NULL) {
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
	free(a.dk);
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

	if (qs_decode(val, vlen, &q) != GH_OK)
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
