/*
 * deliveries.c - the deliveries database: one record per (event, channel,
 * recipient), written by the dispatcher in the same transaction as any
 * local delivery, read back when the event is leased again so that only
 * what is not finished is tried again.
 *
 *   key    be64 event id | channel name | 0x00 | recipient
 *   value  {"channel", "recipient", "state", "attempts", "last_error",
 *           "http_status", "next_at", "reason", "idempotency_key", "kind",
 *           "user", "event", "updated_at", "delivered_at", "v": 1}
 *
 * The members come in that order so that `gatehouse events show`, which
 * prints the records as they are, reads naturally; members without a value
 * (no error, no status, no next attempt) are left out.  Channel names of
 * pseudo-deliveries start with '@' ("@digest": an item held for the
 * user's digest), which no [channel.NAME] can.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd.h"
#include "payload.h"

static const char *const tstate_names[] = {
	"new", "retry", "deferred", "delivered", "dead", "skipped", "expired",
	"held", "waiting", "in-flight", "local"
};

const char *
nd_tstate_name(enum nd_tstate s)
{
	return (unsigned)s < sizeof(tstate_names) / sizeof(tstate_names[0]) ?
	       tstate_names[s] : "?";
}

enum nd_tstate
nd_tstate_parse(const char *s)
{
	for (unsigned i = 0; s && i <= ND_T_HELD; i++)
		if (strcmp(s, tstate_names[i]) == 0)
			return (enum nd_tstate)i;
	return ND_T_NEW;
}

int
nd_tstate_final(enum nd_tstate s)
{
	return s == ND_T_DELIVERED || s == ND_T_DEAD || s == ND_T_SKIPPED ||
	       s == ND_T_EXPIRED || s == ND_T_HELD;
}

gh_err
nd_dkey(uint64_t id, const char *chname, const char *rcpt, unsigned char *k,
        size_t *klen)
{
	size_t cl = strlen(chname), rl = strlen(rcpt);

	if (8 + cl + 1 + rl > ND_DKEY_MAX)
		return GH_ETOOBIG;
	gh_put_be64(k, id);
	memcpy(k + 8, chname, cl);
	k[8 + cl] = 0;
	memcpy(k + 9 + cl, rcpt, rl);
	*klen = 9 + cl + rl;
	return GH_OK;
}

struct load_arg {
	uint64_t id;
	json_t *out;
};

static int
load_row(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct load_arg *a = arg;
	const unsigned char *k = key;
	const unsigned char *nul;
	char name[ND_DKEY_MAX + 1];
	size_t cl, rl;
	json_t *rec;

	if (klen < 9 || gh_get_be64(k) != a->id)
		return 1;
	nul = memchr(k + 8, 0, klen - 8);
	if (nul == NULL)
		return 0;
	cl = (size_t)(nul - (k + 8));
	rl = klen - 9 - cl;
	memcpy(name, k + 8, cl);
	name[cl] = '\x1f';
	memcpy(name + cl + 1, nul + 1, rl);
	name[cl + 1 + rl] = '\0';
	rec = json_loadb(val, vlen, 0, NULL);
	if (rec)
		json_object_set_new(a->out, name, rec);
	return 0;
}

gh_err
nd_records_load_txn(struct gh_txn *txn, uint64_t id, json_t **out)
{
	struct load_arg a = {id, json_object()};
	unsigned char k[8];
	gh_err err;

	*out = NULL;
	if (a.out == NULL)
		return GH_ENOMEM;
	gh_put_be64(k, id);
	err = gh_txn_scan(txn, GH_DB_DELIVERIES, k, 8, 0, load_row, &a, NULL);
	if (err) {
		json_decref(a.out);
		return err;
	}
	*out = a.out;
	return GH_OK;
}

const json_t *
nd_record_find(const json_t *recs, const char *chname, const char *rcpt)
{
	char name[ND_DKEY_MAX + 1];

	if (recs == NULL || json_object_size(recs) == 0)
		return NULL;
	if ((size_t)snprintf(name, sizeof(name), "%s\x1f%s", chname, rcpt) >=
	    sizeof(name))
		return NULL;
	return json_object_get(recs, name);
}

gh_err
nd_record_put_txn(struct gh_txn *txn, const struct nd_job *job,
                  const struct nd_target *t, int64_t now)
{
	unsigned char k[ND_DKEY_MAX];
	char idem[GH_IDEM_KEY_MAX];
	size_t kl;
	json_t *rec;
	gh_err err;

	err = nd_dkey(job->id, t->chname, t->recipient, k, &kl);
	if (err)
		return err;
	if (gh_idem_key(idem, sizeof(idem), job->id, t->chname,
	                t->recipient) != GH_OK)
		idem[0] = '\0';
	rec = json_object();
	if (rec == NULL)
		return GH_ENOMEM;
	/* members without a value are left out: shorter records, and
	 * `gatehouse events show` lines that say only what happened */
	json_object_set_new(rec, "channel", json_string(t->chname));
	json_object_set_new(rec, "recipient", json_string(t->recipient));
	json_object_set_new(rec, "state", json_string(nd_tstate_name(t->st)));
	json_object_set_new(rec, "attempts", json_integer(t->attempts));
	if (t->error[0])
		json_object_set_new(rec, "last_error", json_string(t->error));
	if (t->status)
		json_object_set_new(rec, "http_status", json_integer(t->status));
	if (t->st == ND_T_RETRY || t->st == ND_T_DEFERRED)
		json_object_set_new(rec, "next_at", json_integer(t->next_at));
	if (t->reason[0])
		json_object_set_new(rec, "reason", json_string(t->reason));
	json_object_set_new(rec, "idempotency_key", json_string(idem));
	if (t->ch)
		json_object_set_new(rec, "kind", json_string(t->ch->kind->name));
	if (t->user)
		json_object_set_new(rec, "user", json_string(t->user->id));
	json_object_set_new(rec, "event", json_integer((json_int_t)job->id));
	json_object_set_new(rec, "updated_at", json_integer(now));
	if (t->delivered_at)
		json_object_set_new(rec, "delivered_at",
		                    json_integer(t->delivered_at));
	json_object_set_new(rec, "v", json_integer(1));
	err = gh_txn_put_json(txn, GH_DB_DELIVERIES, k, kl, rec);
	json_decref(rec);
	return err;
}
