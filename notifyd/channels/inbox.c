/*
 * inbox.c - the in-app inbox: no network, the item is written into the
 * inbox database (users.h) in the same transaction that records the
 * delivery, so it is there exactly once.  The nginx module serves it.
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/users.h"
#include "../channel.h"

static gh_err
inbox_init(struct nd_chan *ch, const struct gh_conf *conf, const char *section,
           char *detail, size_t dlen)
{
	(void)ch;
	(void)conf;
	(void)section;
	(void)detail;
	(void)dlen;
	return GH_OK;
}

static gh_err
inbox_local(struct nd_chan *ch, struct gh_txn *txn, const struct nd_msg *m,
            char *err, size_t elen)
{
	json_t *item;
	gh_err e;

	(void)ch;
	if (!gh_user_id_ok(m->recipient) || strcmp(m->recipient, "*") == 0) {
		snprintf(err, elen, "an inbox needs a user");
		return GH_EINVAL;
	}
	item = gh_inbox_item_new(m->ev, m->now_ms, 0);
	if (item == NULL)
		return GH_ENOMEM;
	e = gh_inbox_add_txn(txn, m->recipient, m->event_id, item, NULL);
	json_decref(item);
	if (e)
		snprintf(err, elen, "inbox: %s", gh_strerror(e));
	else
		snprintf(err, elen, "stored");
	return e;
}

const struct nd_kind nd_kind_inbox = {
	.name = "inbox",
	.flags = ND_KIND_LOCAL,
	.contact = ND_CONTACT_USER,
	.init = inbox_init,
	.local = inbox_local,
};
