/*
 * hosts.c - reading the bridges' heartbeats from the PREFIX_hosts bucket
 * (ghc.h, ghc_hosts_read), for notifyd's /metrics and `gatehouse cluster
 * status`.
 */
#include <string.h>

#include <jansson.h>

#include "gatehouse/domain.h"
#include "gatehouse/queue.h"
#include "ghc.h"

/* One heartbeat's figures; a value that is not JSON gives zeros (the key
 * still says the host is there). */
static void
host_value(struct ghc_host *h, kvEntry *e)
{
	json_t *j = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e),
	                       0, NULL);

	h->revision = kvEntry_Revision(e);
	h->backlog = json_integer_value(json_object_get(j, "backlog"));
	h->oldest_ms = json_integer_value(json_object_get(j, "oldest_ms"));
	h->published = json_integer_value(json_object_get(j, "published"));
	h->last_publish = json_integer_value(json_object_get(j,
	                                                     "last_publish"));
	h->at = json_integer_value(json_object_get(j, "at"));
	json_decref(j);
}

gh_err
ghc_hosts_read(struct ghc *c, struct ghc_host *out, size_t max,
               int64_t budget_ms, size_t *n, char *errbuf, size_t errlen)
{
	kvStore *kv = NULL;
	kvKeysList keys = {NULL, 0};
	int64_t until = gh_mono_ms() + budget_ms;
	natsStatus s;
	gh_err err;

	*n = 0;
	err = ghc_kv(c, "hosts", 0, 1, &kv, errbuf, errlen);
	if (err)
		return err;
	s = kvStore_Keys(&keys, kv, NULL);
	if (s == NATS_NOT_FOUND) {
		err = GH_OK;   /* no heartbeat yet */
		goto cleanup;
	}
	if (s != NATS_OK) {
		err = ghc_status(s, 0, "bucket hosts", errbuf, errlen);
		goto cleanup;
	}
	/* each key is a request: a bounded time when asked, whatever a
	 * domain put into its keys */
	for (int i = 0; i < keys.Count && *n < max &&
	     (budget_ms <= 0 || gh_mono_ms() < until); i++) {
		const char *key = keys.Keys[i];
		const char *dot = strchr(key, '.');
		struct ghc_host *h = &out[*n];
		kvEntry *e = NULL;

		/* the key's tokens, never the value's: the server's
		 * permissions let a domain write only HOST.ITSELF */
		if (dot == NULL || (size_t)(dot - key) > GHC_TOKEN_MAX ||
		    strlen(dot + 1) >= sizeof(h->domain))
			continue;
		memset(h, 0, sizeof(*h));
		memcpy(h->host, key, (size_t)(dot - key));
		strcpy(h->domain, dot + 1);
		if (!ghc_token_ok(h->host) ||
		    gh_domain_lookup(h->domain) <= GH_DOMAIN_CORE ||
		    kvStore_Get(&e, kv, key) != NATS_OK)
			continue;
		host_value(h, e);
		kvEntry_Destroy(e);
		(*n)++;
	}
cleanup:
	kvKeysList_Destroy(&keys);
	kvStore_Destroy(kv);
	return err;
}
