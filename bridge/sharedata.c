/*
 * sharedata.c - gatehouse-bridge and the shared data (sharedata.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "gatehouse/journal.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "ghc.h"
#include "blog.h"
#include "sharedata.h"
#include "shared.h"

#define UNSUB_BATCH 64

struct bs {
	struct ghc_sync *s;
	int journal;
	const char *name;
};

static void
bs_log(int prio, const char *msg, void *arg)
{
	struct bs *s = arg;

	br_say(s->journal, s->name, prio, msg);
}

gh_err
bs_open(struct ghc *c, enum gh_domain dom, struct gh_store *st, int journal,
        struct bs **out, char *detail, size_t dlen)
{
	struct bs *s;
	gh_err err;

	*out = NULL;
	if (dom != GH_DOMAIN_MAIL || c == NULL)
		return GH_OK;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return GH_ENOMEM;
	s->journal = journal;
	s->name = gh_domain_name(dom);
	/* on the mail domain's connection, the forwarder's: its NATS user
	 * may only read the suppress bucket (docs/cluster.md) */
	err = ghc_sync_start(c, st, GHC_SYNC_SUPPRESS, bs_log, s, &s->s);
	if (err) {
		snprintf(detail, dlen, "shared data: %s", gh_strerror(err));
		bs_close(s);
		return err;
	}
	*out = s;
	return GH_OK;
}

void
bs_close(struct bs *s)
{
	if (s == NULL)
		return;
	ghc_sync_stop(s->s);
	free(s);
}

struct unsub {
	char addr[UNSUB_BATCH][GH_ADDR_MAX + 1];
	char list[UNSUB_BATCH][GH_LIST_MAX + 1];
	size_t n;
};

static int
unsub_one(const char *addr, const char *list, const json_t *rec, void *arg)
{
	struct unsub *u = arg;

	(void)rec;
	snprintf(u->addr[u->n], sizeof(u->addr[0]), "%s", addr);
	snprintf(u->list[u->n], sizeof(u->list[0]), "%s", list);
	return ++u->n == UNSUB_BATCH;
}

/* Each entry becomes a request and leaves the list in one transaction:
 * never lost, never sent twice. */
static gh_err
unsub_txn(struct gh_txn *txn, void *arg)
{
	struct unsub *u = arg;
	int64_t now = gh_now_ms();
	gh_err err;

	u->n = 0;
	err = gh_suppress_scan_txn(txn, NULL, NULL, unsub_one, u);
	for (size_t i = 0; err == GH_OK && i < u->n; i++) {
		json_t *ev = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "type",
		                       "web.unsubscribe", "user", u->addr[i],
		                       "title", "unsubscribe", "metadata",
		                       "address", u->addr[i], "list",
		                       u->list[i]);

		err = ev ? gh_queue_enqueue_txn(txn, ev, now, 0, NULL, NULL) :
		      GH_ENOMEM;
		json_decref(ev);
		if (err == GH_EINVAL)
			err = GH_OK;   /* not an event: dropped with it */
		if (err == GH_OK)
			err = gh_suppress_remove_txn(txn, u->addr[i],
			                             u->list[i]);
	}
	return err;
}

static int
any_one(const char *addr, const char *list, const json_t *rec, void *arg)
{
	(void)addr, (void)list, (void)rec;
	*(int *)arg = 1;
	return 1;   /* one is enough */
}

static gh_err
any_view(struct gh_txn *txn, void *arg)
{
	return gh_suppress_scan_txn(txn, NULL, NULL, any_one, arg);
}

int
bs_turn(enum gh_domain dom, struct gh_store *st)
{
	struct unsub *u;
	gh_err err;
	int n, any = 0;

	if (dom != GH_DOMAIN_WEB)
		return 0;
	/* most rounds find none: a read, not a write transaction, for that */
	if (gh_store_view(st, any_view, &any) != GH_OK)
		return -1;
	if (!any)
		return 0;
	u = malloc(sizeof(*u));
	if (u == NULL)
		return -1;
	err = gh_store_update(st, unsub_txn, u);
	n = err ? -1 : (int)u->n;
	free(u);
	return n;
}
