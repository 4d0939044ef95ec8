/*
 * deliveries.c - the dispatcher's side of the deliveries database, whose
 * keys and records gatehouse/deliveries.h defines: one record per (event,
 * channel, recipient), written by the dispatcher in the same transaction
 * as any local delivery, read back when the event is leased again so
 * that only what is not finished is tried again.  Channel names of
 * pseudo-deliveries start with '@' ("@digest": an item held for the
 * user's digest), which no [channel.NAME] can.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/deliveries.h"
#include "nd.h"
#include "core/payload.h"

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

static int
load_row(const struct gh_delivery *dl, void *arg)
{
	json_t *out = arg;
	char name[GH_DELIVERY_KEY_MAX + 1];

	if ((size_t)snprintf(name, sizeof(name), "%s\x1f%s", dl->channel,
	                     dl->recipient) < sizeof(name))
		json_object_set(out, name, dl->rec);
	return 0;
}

gh_err
nd_records_load_txn(struct gh_txn *txn, uint64_t id, json_t **out)
{
	json_t *recs = json_object();
	gh_err err;

	*out = NULL;
	if (recs == NULL)
		return GH_ENOMEM;
	err = gh_delivery_scan_txn(txn, id, 0, load_row, recs, NULL);
	if (err) {
		json_decref(recs);
		return err;
	}
	*out = recs;
	return GH_OK;
}

json_t *
nd_record_find(const json_t *recs, const char *chname, const char *rcpt)
{
	char name[GH_DELIVERY_KEY_MAX + 1];

	if (recs == NULL || json_object_size(recs) == 0)
		return NULL;
	if ((size_t)snprintf(name, sizeof(name), "%s\x1f%s", chname, rcpt) >=
	    sizeof(name))
		return NULL;
	return json_object_get(recs, name);
}

gh_err
nd_record_put_txn(const struct nd *d, struct gh_txn *txn,
                  const struct nd_job *job,
                  const struct nd_target *t, int64_t now)
{
	char idem[GH_IDEM_KEY_MAX];
	struct gh_delivery dl;

	if (nd_target_idem_key(d, job, t, idem, sizeof(idem)) != GH_OK)
		idem[0] = '\0';
	/* members without a value are left out (gatehouse/deliveries.h):
	 * shorter records, and `gatehouse events show` lines that say only
	 * what happened */
	memset(&dl, 0, sizeof(dl));
	dl.event = job->id;
	dl.channel = t->chname;
	dl.recipient = t->recipient;
	dl.state = nd_tstate_name(t->st);
	dl.attempts = t->attempts;
	dl.last_error = t->error;
	dl.http_status = t->status;
	dl.next_at = t->next_at;
	dl.reason = t->reason;
	dl.idempotency_key = idem;
	dl.kind = t->ch ? t->ch->kind->name : NULL;
	dl.user = t->user ? t->user->id : NULL;
	dl.updated_at = now;
	dl.delivered_at = t->delivered_at;
	return gh_delivery_put_txn(txn, &dl);
}
