/*
 * webreq.h - what the web domain may ask of the core about its users'
 * inboxes (docs/security.md, "The web face").
 *
 * The nginx module serves the inbox from the web store's copy and writes
 * what a user changes there (an item read, all read, preferences, a push
 * subscription) into its outbox as an event of a reserved type, "web.*",
 * never delivered to anyone: the web bridge hands it over like any other
 * outbox event, and the pickup thread gives it to nd_webreq_check and
 * nd_webreq_apply_txn instead of queueing it.
 *
 *   type                 metadata
 *   web.inbox_read       {"id": EVENT_ID}
 *   web.inbox_read_all   {}
 *   web.prefs            {"prefs": PREFERENCES}        (users.h)
 *   web.push_add         {"subscription": {"endpoint", "keys": {p256dh, auth}}}
 *   web.push_remove      {"endpoint": URL}
 *   web.unsubscribe      {"address": ADDR, "list": LIST-ID or ""}
 *
 * web.unsubscribe is a one-click unsubscribe the nginx module took into
 * the web store's suppression list, carried by the web bridge in the
 * multi-host mode (where it does not talk to this notifyd's socket and so
 * cannot send "sup" messages; docs/cluster.md): it adds what "sup" adds.
 * Its "user" is the address.  The web domain could always suppress any
 * address ("sup"), so this gives it nothing new.
 *
 * The event's "user" is whose item, preferences or subscriptions change:
 * nginx names the user (gatehouse_user, the application's login), so a
 * compromised worker can change any user's read marks, preferences and
 * push subscriptions (within the checks below) -- and nothing else.
 */
#ifndef GH_NOTIFYD_WEBREQ_H
#define GH_NOTIFYD_WEBREQ_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "gatehouse/err.h"
#include "gatehouse/store.h"

/* nd_webreq_is - 1 when ev (from a bridge) is a web request. */
int nd_webreq_is(const json_t *ev);

/* nd_webreq_check - the shape of request ev, before any transaction:
 * GH_OK, or GH_EINVAL with why. */
gh_err nd_webreq_check(const json_t *ev, char *why, size_t wlen);

/* nd_webreq_apply_txn - carry out a checked request in the core store.
 * A request about an item the user does not have (gone, or never theirs)
 * changes nothing and is GH_OK; preferences or a subscription for a user
 * the core does not know (gh_user_known_txn), a subscription that does not
 * validate, one past the user's GH_PUSH_MAX, or a record that would grow
 * past GH_RECORD_MAX is a refusal (nd_webreq_refused: GH_EINVAL,
 * GH_ETOOBIG, ...) with why, nothing written.  Store errors otherwise. */
gh_err nd_webreq_apply_txn(struct gh_txn *txn, const json_t *ev, int64_t now,
                           char *why, size_t wlen);

/* nd_webreq_refused - 1 when err from nd_webreq_apply_txn refuses that one
 * request (dead-lettered with why; the batch goes on), 0 for GH_OK and for
 * the store being unable to take anything now (GH_EFULL, GH_ELOCKED,
 * GH_EIO, ...: the whole batch is sent again later). */
int nd_webreq_refused(gh_err err);

#endif
