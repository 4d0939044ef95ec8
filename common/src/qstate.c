/*
 * qstate.c - the binary queue-state record and the due index.
 *
 *   qstate[be64 id]   an event's queue state: a fixed 56-byte part, then
 *                     q.last_error; absent until the first lease, which
 *                     means "ready since created_at"
 *   queue[band | be64 due | be64 id] = be64 expires_at, for every ready or
 *                     leased event; band = 4 - priority, so a scan in key
 *                     order meets the most urgent, then the earliest, first
 *
 * A fixed binary record rather than JSON because lease and ack rewrite it
 * on every delivery: they must not pay to parse and print the event.
 * docs/store.md has the byte offsets.
 */
#include <string.h>

#include "gatehouse/text.h"
#include "queue_int.h"

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

/* the fixed part; q.last_error's bytes follow */
#define QS_FIXED 56

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

gh_err
gh_qs_decode(const unsigned char *b, size_t len, struct qstate *q)
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

void
gh_qs_set_error(struct qstate *q, const char *err)
{
	size_t n = err ? strlen(err) : 0;

	/* cut on a UTF-8 character boundary */
	n = gh_utf8_cut(err, n, QS_ERR_MAX);
	if (n)
		memcpy(q->error, err, n);
	q->error[n] = '\0';
}

gh_err
gh_qs_get(struct gh_txn *txn, uint64_t id, struct qstate *q, int *found)
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
	return gh_qs_decode(v, vl, q);
}

gh_err
gh_qs_put(struct gh_txn *txn, uint64_t id, const struct qstate *q)
{
	unsigned char k[8], b[QS_FIXED + QS_ERR_MAX];
	size_t n = qs_encode(q, b);

	gh_put_be64(k, id);
	return gh_txn_put(txn, GH_DB_QSTATE, k, 8, b, n);
}

static void
qkey(unsigned char *k, int priority, int64_t due, uint64_t id)
{
	if (priority < GH_PRIORITY_LOW || priority > GH_PRIORITY_URGENT)
		priority = GH_PRIORITY_NORMAL;
	/* the most urgent sorts first: band 0 */
	k[0] = (unsigned char)(GH_PRIORITY_URGENT - priority);
	gh_put_be64(k + 1, (uint64_t)(due < 0 ? 0 : due));
	gh_put_be64(k + 9, id);
}

gh_err
gh_qindex_put(struct gh_txn *txn, const struct qstate *q, uint64_t id)
{
	unsigned char k[QKEY_LEN], v[8];

	qkey(k, q->priority, q->due_at, id);
	gh_put_be64(v, (uint64_t)q->expires_at);
	return gh_txn_put(txn, GH_DB_QUEUE, k, sizeof(k), v, 8);
}

gh_err
gh_qindex_del(struct gh_txn *txn, const struct qstate *q, uint64_t id)
{
	unsigned char k[QKEY_LEN];
	gh_err err;

	qkey(k, q->priority, q->due_at, id);
	err = gh_txn_del(txn, GH_DB_QUEUE, k, sizeof(k));
	return err == GH_ENOTFOUND ? GH_OK : err;
}

json_t *
gh_qs_json(const struct qstate *q)
{
	/* a finished event is due never: its due_at is only where its
	 * last lease or retry left it */
	int finished = !(q->state & (GH_Q_READY | GH_Q_LEASED));

	return json_pack("{s:s, s:o, s:i, s:i, s:I, s:I, s:I, s:o, s:I}",
	    "state", gh_qstate_name((enum gh_qstate)q->state),
	    "due_at", finished ? json_null() : json_integer(q->due_at),
	    "attempts", (int)q->attempts, "leases", (int)q->leases,
	    "lease_until", (json_int_t)q->lease_until,
	    "token", (json_int_t)q->token,
	    "updated_at", (json_int_t)q->updated_at,
	    "last_error", q->error[0] ? json_string(q->error) : json_null(),
	    "expires_at", (json_int_t)q->expires_at);
}

void
gh_qs_initial(struct qstate *q, const json_t *ev)
{
	const json_t *exp = json_object_get(ev, "expires_at");

	memset(q, 0, sizeof(*q));
	q->state = GH_Q_READY;
	q->priority = (int)json_integer_value(json_object_get(ev, "priority"));
	q->due_at = json_integer_value(json_object_get(ev, "created_at"));
	q->updated_at = q->due_at;
	q->expires_at = json_is_integer(exp) ? json_integer_value(exp) : 0;
}
