/*
 * maillog.c - the mail log's keys and records (gatehouse/maillog.h).
 */
#include <string.h>

#include "gatehouse/maillog.h"
#include "record_int.h"

void
gh_maillog_key(uint64_t id, unsigned char key[GH_MAILLOG_KEY_LEN])
{
	gh_put_be64(key, id);
}

gh_err
gh_maillog_key_parse(const void *key, size_t klen, uint64_t *id)
{
	*id = 0;
	if (klen != GH_MAILLOG_KEY_LEN)
		return GH_ECORRUPT;
	*id = gh_get_be64(key);
	return *id ? GH_OK : GH_ECORRUPT;
}

static const json_t *
arr(const json_t *rec, const char *name)
{
	const json_t *a = json_object_get(rec, name);

	return json_is_array(a) ? a : NULL;
}

gh_err
gh_maillog_read(json_t *rec, struct gh_maillog *m)
{
	gh_err err;

	memset(m, 0, sizeof(*m));
	m->v = gh_rec_version(rec, GH_MAILLOG_V, &err);
	if (m->v == 0)
		return err;
	m->rec = rec;
	m->id = (uint64_t)gh_rec_int(rec, "id", 0);
	m->queue_id = gh_rec_text(rec, "queue_id");
	m->message_id = gh_rec_text(rec, "message_id");
	m->sender = gh_rec_text(rec, "sender");
	m->from = gh_rec_text(rec, "from");
	m->subject = gh_rec_text(rec, "subject");
	m->action = gh_rec_text(rec, "action");
	m->reason = gh_rec_text(rec, "reason");
	m->direction = gh_rec_text(rec, "direction");
	m->client_addr = gh_rec_text(rec, "client_addr");
	m->client_name = gh_rec_text(rec, "client_name");
	m->auth_user = gh_rec_text(rec, "auth_user");
	m->rcpts = arr(rec, "rcpts");
	m->suppressed = arr(rec, "suppressed");
	m->signatures = arr(rec, "signatures");
	m->scan = json_is_object(json_object_get(rec, "scan")) ?
	          json_object_get(rec, "scan") : NULL;
	m->size = gh_rec_int(rec, "size", 0);
	m->rcpt_count = gh_rec_int(rec, "rcpt_count", 0);
	m->started_at = gh_rec_int(rec, "started_at", 0);
	m->finished_at = gh_rec_int(rec, "finished_at", 0);
	return GH_OK;
}

gh_err
gh_maillog_add_txn(struct gh_txn *txn, json_t *rec, uint64_t *id)
{
	unsigned char key[GH_MAILLOG_KEY_LEN];
	gh_err err;

	*id = 0;
	if (!json_is_object(rec))
		return GH_EINVAL;
	err = gh_txn_next_seq(txn, GH_MAILLOG_SEQ, id);
	if (err)
		return err;
	if (json_object_set_new(rec, "v", json_integer(GH_MAILLOG_V)) ||
	    json_object_set_new(rec, "id", json_integer((json_int_t)*id)))
		return GH_ENOMEM;
	gh_maillog_key(*id, key);
	/* a new id sorts last: LMDB appends without a search */
	return gh_rec_put(txn, GH_DB_MAIL_LOG, key, sizeof(key), rec, 1);
}

gh_err
gh_maillog_get_txn(struct gh_txn *txn, uint64_t id, json_t **out)
{
	return gh_rec_get_id(txn, GH_DB_MAIL_LOG, GH_MAILLOG_V, id, out);
}

struct scan_arg {
	gh_maillog_fn fn;
	void *arg;
	size_t skipped;
};

static int
scan_one(uint64_t id, json_t *rec, void *arg)
{
	struct scan_arg *a = arg;
	struct gh_maillog m;

	if (id == 0 || gh_maillog_read(rec, &m) != GH_OK) {
		a->skipped++;
		return 0;
	}
	m.id = id;    /* the key says which record it is */
	return a->fn(&m, a->arg);
}

gh_err
gh_maillog_scan_txn(struct gh_txn *txn, uint64_t start, int reverse,
                    gh_maillog_fn fn, void *arg, size_t *skipped)
{
	struct scan_arg a = {fn, arg, 0};
	size_t other = 0;
	gh_err err;

	err = gh_rec_scan_ids(txn, GH_DB_MAIL_LOG, GH_MAILLOG_V, start,
	                      reverse, scan_one, &a, &other);
	if (skipped)
		*skipped = a.skipped + other;
	return err;
}
