/*
 * deliveries.c - the deliveries database's keys and records
 * (gatehouse/deliveries.h).
 */
#include <string.h>

#include "gatehouse/deliveries.h"
#include "record_int.h"

gh_err
gh_delivery_key(uint64_t event, const char *channel, const char *rcpt,
                unsigned char *key, size_t cap, size_t *klen)
{
	size_t cl = strlen(channel), rl = strlen(rcpt);

	*klen = 0;
	if (cl == 0)
		return GH_EINVAL;
	if (8 + cl + 1 + rl > GH_DELIVERY_KEY_MAX || 8 + cl + 1 + rl > cap)
		return GH_ETOOBIG;
	gh_put_be64(key, event);
	memcpy(key + 8, channel, cl);
	key[8 + cl] = 0;
	memcpy(key + 9 + cl, rcpt, rl);
	*klen = 9 + cl + rl;
	return GH_OK;
}

gh_err
gh_delivery_key_parse(const void *key, size_t klen, uint64_t *event,
                      char *channel, size_t ccap, char *rcpt, size_t rcap)
{
	const unsigned char *k = key;
	const unsigned char *nul;
	size_t cl, rl;

	*event = 0;
	if (klen < 10)
		return GH_ECORRUPT;
	nul = memchr(k + 8, 0, klen - 8);
	if (nul == NULL || nul == k + 8)
		return GH_ECORRUPT;
	cl = (size_t)(nul - (k + 8));
	rl = klen - 9 - cl;
	if (memchr(nul + 1, 0, rl) != NULL)
		return GH_ECORRUPT;
	if ((channel && cl >= ccap) || (rcpt && rl >= rcap))
		return GH_ETOOBIG;
	*event = gh_get_be64(k);
	if (channel) {
		memcpy(channel, k + 8, cl);
		channel[cl] = '\0';
	}
	if (rcpt) {
		memcpy(rcpt, nul + 1, rl);
		rcpt[rl] = '\0';
	}
	return GH_OK;
}

gh_err
gh_delivery_read(json_t *rec, struct gh_delivery *d)
{
	gh_err err;

	memset(d, 0, sizeof(*d));
	d->v = gh_rec_version(rec, GH_DELIVERY_V, &err);
	if (d->v == 0)
		return err;
	d->rec = rec;
	d->event = (uint64_t)gh_rec_int(rec, "event", 0);
	d->channel = gh_rec_text(rec, "channel");
	d->recipient = gh_rec_text(rec, "recipient");
	d->state = gh_rec_text(rec, "state");
	d->last_error = gh_rec_str(rec, "last_error");
	d->reason = gh_rec_text(rec, "reason");
	d->idempotency_key = gh_rec_text(rec, "idempotency_key");
	d->kind = gh_rec_text(rec, "kind");
	d->user = gh_rec_text(rec, "user");
	d->attempts = gh_rec_int(rec, "attempts", 0);
	d->http_status = gh_rec_int(rec, "http_status", 0);
	d->next_at = gh_rec_int(rec, "next_at", 0);
	d->updated_at = gh_rec_int(rec, "updated_at", 0);
	d->delivered_at = gh_rec_int(rec, "delivered_at", 0);
	return GH_OK;
}

static int
set_str(json_t *rec, const char *name, const char *s, int always)
{
	if (!always && (s == NULL || *s == '\0'))
		return 0;
	return json_object_set_new(rec, name, json_string(s ? s : ""));
}

static int
set_int(json_t *rec, const char *name, int64_t n, int always)
{
	if (!always && n == 0)
		return 0;
	return json_object_set_new(rec, name, json_integer((json_int_t)n));
}

gh_err
gh_delivery_put_txn(struct gh_txn *txn, const struct gh_delivery *d)
{
	unsigned char key[GH_DELIVERY_KEY_MAX];
	int next = 0, bad = 0;
	size_t klen;
	json_t *rec;
	gh_err err;

	if (d->channel == NULL || d->recipient == NULL || d->state == NULL)
		return GH_EINVAL;
	err = gh_delivery_key(d->event, d->channel, d->recipient, key,
	                      sizeof(key), &klen);
	if (err)
		return err;
	rec = json_object();
	if (rec == NULL)
		return GH_ENOMEM;
	/* the order of docs/store.md: `gatehouse events show` prints
	 * records as they are */
	next = strcmp(d->state, "retry") == 0 ||
	       strcmp(d->state, "deferred") == 0;
	bad |= set_str(rec, "channel", d->channel, 1);
	bad |= set_str(rec, "recipient", d->recipient, 1);
	bad |= set_str(rec, "state", d->state, 1);
	bad |= set_int(rec, "attempts", d->attempts, 1);
	bad |= set_str(rec, "last_error", d->last_error, 0);
	bad |= set_int(rec, "http_status", d->http_status, 0);
	if (next)
		bad |= set_int(rec, "next_at", d->next_at, 1);
	bad |= set_str(rec, "reason", d->reason, 0);
	bad |= set_str(rec, "idempotency_key", d->idempotency_key, 1);
	bad |= set_str(rec, "kind", d->kind, 0);
	bad |= set_str(rec, "user", d->user, 0);
	bad |= set_int(rec, "event", (int64_t)d->event, 1);
	bad |= set_int(rec, "updated_at", d->updated_at, 1);
	bad |= set_int(rec, "delivered_at", d->delivered_at, 0);
	bad |= set_int(rec, "v", GH_DELIVERY_V, 1);
	err = bad ? GH_ENOMEM :
	      gh_txn_put_json(txn, GH_DB_DELIVERIES, key, klen, rec);
	json_decref(rec);
	return err;
}

gh_err
gh_delivery_get_txn(struct gh_txn *txn, uint64_t event, const char *channel,
                    const char *rcpt, json_t **out)
{
	unsigned char key[GH_DELIVERY_KEY_MAX];
	const void *val;
	size_t klen, vlen;
	gh_err err;

	*out = NULL;
	err = gh_delivery_key(event, channel, rcpt, key, sizeof(key), &klen);
	if (err)
		return err;
	err = gh_txn_get(txn, GH_DB_DELIVERIES, key, klen, &val, &vlen);
	if (err)
		return err;
	return gh_rec_load(val, vlen, GH_DELIVERY_V, out);
}

struct scan_arg {
	uint64_t event;        /* only this event's, or 0 */
	gh_delivery_fn fn;
	void *arg;
	size_t skipped;
};

static int
scan_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct scan_arg *a = arg;
	char ch[GH_DELIVERY_KEY_MAX], rcpt[GH_DELIVERY_KEY_MAX];
	struct gh_delivery d;
	uint64_t event;
	json_t *rec;
	int stop;

	if (a->event && (klen < 8 || gh_get_be64(key) != a->event))
		return 1;   /* past the event's records */
	if (gh_delivery_key_parse(key, klen, &event, ch, sizeof(ch), rcpt,
	                          sizeof(rcpt)) != GH_OK ||
	    gh_rec_load(val, vlen, GH_DELIVERY_V, &rec) != GH_OK) {
		a->skipped++;
		return 0;
	}
	if (gh_delivery_read(rec, &d) != GH_OK) {
		json_decref(rec);
		a->skipped++;
		return 0;
	}
	/* the key says whose record it is */
	d.event = event;
	d.channel = ch;
	d.recipient = rcpt;
	stop = a->fn(&d, a->arg);
	json_decref(rec);
	return stop;
}

gh_err
gh_delivery_scan_txn(struct gh_txn *txn, uint64_t event, int reverse,
                     gh_delivery_fn fn, void *arg, size_t *skipped)
{
	struct scan_arg a = {event, fn, arg, 0};
	unsigned char k[8];
	gh_err err;

	if (event == 0) {
		err = gh_txn_scan(txn, GH_DB_DELIVERIES, NULL, 0, reverse,
		                  scan_one, &a, NULL);
	} else if (!reverse) {
		gh_put_be64(k, event);
		err = gh_txn_scan(txn, GH_DB_DELIVERIES, k, 8, 0, scan_one, &a,
		                  NULL);
	} else {
		/* the event's records end before the 8 bytes of (event + 1),
		 * which sort before that event's first key */
		gh_put_be64(k, event + 1);
		err = gh_txn_scan(txn, GH_DB_DELIVERIES,
		                  event == UINT64_MAX ? NULL : k,
		                  event == UINT64_MAX ? 0 : 8, 1, scan_one, &a,
		                  NULL);
	}
	if (skipped)
		*skipped = a.skipped;
	return err;
}
