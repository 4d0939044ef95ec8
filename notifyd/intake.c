/*
 * intake.c - what a bridge message becomes in the core store (intake.h):
 * each "ev" or "sup" checked for its domain (gh_domain_accept_policy, the
 * web domain's requests through webreq.h), an event from another host
 * stamped with its origin, one already taken recognised by its
 * idempotence key, and the batch committed in one transaction.  The same
 * for a bridge on this host (pickup.c) and for events from other hosts
 * (natsin.c), so one validator guards both.
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/bridge.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "gatehouse/users.h"
#include "intake.h"
#include "webreq.h"

#define PK_KEEP_MS (7LL * 24 * 3600 * 1000)  /* idempotence keys */

/* A batch being checked and committed (nd_intake_commit). */
struct pk_batch {
	const struct nd_intake *in;
	int dom;
	const char *host;            /* NULL: this host's bridge */
	struct nd_intake_item *items;
	size_t n;
};

/* The core's idempotence key for a bridged event: never a key an event
 * can carry (those are prefixed with their domain by gh_domain_accept).
 * An event from another host's bridge (natsin.c) has the host in it:
 * event ids are per host and domain store. */
static size_t
bridge_key(char *k, size_t cap, int dom, const char *host,
           const json_t *msg)
{
	long long id = (long long)json_integer_value(json_object_get(msg, "id"));
	long long at = (long long)json_integer_value(json_object_get(msg, "at"));
	int n = host == NULL ?
	    snprintf(k, cap, "\x01" "bridge/%s/%lld/%lld",
	             gh_domain_name((enum gh_domain)dom), id, at) :
	    snprintf(k, cap, "\x01" "cluster/%s/%s/%lld/%lld", host,
	             gh_domain_name((enum gh_domain)dom), id, at);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static gh_err
batch_txn(struct gh_txn *txn, void *arg)
{
	struct pk_batch *b = arg;
	int64_t now = gh_now_ms();
	gh_err err;

	for (size_t i = 0; i < b->n; i++) {
		struct nd_intake_item *it = &b->items[i];
		const char *t = gh_bridge_type(it->msg);

		it->dup = 0;
		if (strcmp(t, "ev") == 0 && it->ev != NULL) {
			char k[160];
			size_t kl = bridge_key(k, sizeof(k), b->dom, b->host,
			                       it->msg);
			uint64_t id = 0;

			if (kl == 0)
				return GH_EINVAL;
			err = gh_queue_dedup_get_txn(txn, k, kl, now, NULL);
			if (err == GH_OK) {
				it->dup = 1;   /* sent again after a crash */
				continue;
			}
			if (err != GH_ENOTFOUND)
				return err;
			if (it->webreq) {
				err = nd_webreq_apply_txn(txn, it->ev, now,
				                          it->why,
				                          sizeof(it->why));
				if (nd_webreq_refused(err)) {
					/* refused, nothing written: dead-
					 * lettered with the reason; one bad
					 * request never holds up the batch */
					json_decref(it->ev);
					it->ev = NULL;
					continue;
				}
				if (err)
					return err;
				err = gh_queue_dedup_put_txn(txn, k, kl, 0,
				                             now + PK_KEEP_MS);
				if (err)
					return err;
				continue;
			}
			err = gh_queue_enqueue_txn(txn, it->ev, now,
			                           b->in->dedup_window, &id,
			                           NULL);
			if (err)
				return err;
			err = gh_queue_dedup_put_txn(txn, k, kl, id,
			                             now + PK_KEEP_MS);
			if (err)
				return err;
		} else if (strcmp(t, "sup") == 0 && it->why[0] == '\0') {
			const char *a = json_string_value(
			    json_object_get(it->msg, "addr"));
			const char *l = json_string_value(
			    json_object_get(it->msg, "list"));

			err = gh_suppress_add_txn(txn, a, l, "unsubscribed",
			                          "web", now);
			if (err == GH_EINVAL || err == GH_ETOOBIG) {
				/* answered and logged by the caller */
				snprintf(it->why, sizeof(it->why), "the "
				         "suppression list refused it: %s",
				         gh_strerror(err));
				continue;
			}
			if (err)
				return err;
		}
	}
	return GH_OK;
}

/*
 * An event from another host (natsin.c) gets metadata.gatehouse_origin =
 * "HOST:DOMAIN:ID:AT", whatever the producer put there: the fleet's
 * idempotency keys are made of it (send.c), so that the same event taken
 * by two instances (one killed between its commit and its ack) goes out
 * with the same key, and two events never share one.
 */
static int
stamp_origin(json_t *ev, int dom, const char *host, const json_t *msg)
{
	char o[ND_ORIGIN_MAX];
	json_t *md = json_object_get(ev, "metadata");

	snprintf(o, sizeof(o), "%s:%s:%lld:%lld", host,
	         gh_domain_name((enum gh_domain)dom),
	         (long long)json_integer_value(json_object_get(msg, "id")),
	         (long long)json_integer_value(json_object_get(msg, "at")));
	if (!json_is_object(md)) {
		md = json_object();
		if (md == NULL || json_object_set_new(ev, "metadata", md) != 0)
			return -1;
	}
	return json_object_set_new(md, "gatehouse_origin", json_string(o));
}

/* Validate what a batch holds, before the transaction. */
static void
batch_check(struct pk_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct nd_intake_item *it = &b->items[i];
		const char *t = gh_bridge_type(it->msg);

		it->why[0] = '\0';
		if (strcmp(t, "ev") == 0) {
			const json_t *ev = json_object_get(it->msg, "ev");

			if (!json_is_integer(json_object_get(it->msg, "id")) ||
			    !json_is_integer(json_object_get(it->msg, "at"))) {
				snprintf(it->why, sizeof(it->why),
				         "no id or at");
				continue;
			}
			it->webreq = 0;
			if (b->dom == GH_DOMAIN_WEB && nd_webreq_is(ev)) {
				it->webreq = 1;
				if (nd_webreq_check(ev, it->why,
				                    sizeof(it->why)) == GH_OK)
					it->ev = json_incref((json_t *)ev);
				continue;
			}
			(void)gh_domain_accept_policy((enum gh_domain)b->dom,
			                              &b->in->policy, ev,
			                              &it->ev, it->why,
			                              sizeof(it->why));
			if (it->ev == NULL && it->why[0] == '\0')
				snprintf(it->why, sizeof(it->why), "refused");
			if (it->ev != NULL && b->host != NULL &&
			    stamp_origin(it->ev, b->dom, b->host, it->msg) != 0) {
				json_decref(it->ev);
				it->ev = NULL;
				snprintf(it->why, sizeof(it->why), "out of memory");
			}
		} else if (strcmp(t, "sup") == 0) {
			char norm[GH_ADDR_MAX + 1];
			const char *a = json_string_value(
			    json_object_get(it->msg, "addr"));
			const char *l = json_string_value(
			    json_object_get(it->msg, "list"));

			if (b->dom != GH_DOMAIN_WEB)
				snprintf(it->why, sizeof(it->why), "only the "
				         "web domain records unsubscribes");
			else if (a == NULL || l == NULL ||
			         strlen(l) > GH_LIST_MAX ||
			         gh_addr_normalize(a, norm, sizeof(norm)))
				snprintf(it->why, sizeof(it->why),
				         "not an address and a list");
		}
	}
}

gh_err
nd_intake_load(const struct gh_conf *conf, struct nd_intake *in,
               char *detail, size_t dlen)
{
	memset(in, 0, sizeof(*in));
	in->dedup_window = gh_conf_int(conf, "queue", "dedup_window");
	return gh_domain_policy_load(conf, &in->policy, detail, dlen);
}

gh_err
nd_intake_commit(struct gh_store *st, const struct nd_intake *in, int dom,
                 const char *host, struct nd_intake_item *items, size_t n)
{
	struct pk_batch b = {in, dom, host, items, n};

	batch_check(&b);
	return gh_store_update(st, batch_txn, &b);
}

