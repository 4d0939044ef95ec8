/*
 * gatehouse/domain.h - trust domains, their stores, and what the core
 * accepts from each (docs/security.md).
 *
 * A producer domain (mail: gatehouse-milter; web: nginx workers; login:
 * pam_gatehouse's writer) writes only its own LMDB environment, owned by
 * its own uid: its records and an outbox of events (the same queue
 * databases as the core's).  gatehouse-bridge(8), running as that uid,
 * carries the outbox to gatehouse-notifyd over a socket (gatehouse/bridge.h);
 * the core checks every event with gh_domain_accept() below and stamps it
 * with the domain it came from.  Where a domain's store is not configured
 * ([store] mail, web, login empty), the domain writes the core store
 * itself: one environment, hence one uid, for everything (a single-user
 * setup, the tests, the demo).
 *
 * Pure functions: no I/O, no logging, safe from any thread.
 */
#ifndef GATEHOUSE_DOMAIN_H
#define GATEHOUSE_DOMAIN_H

#include <stddef.h>
#include <jansson.h>

#include "gatehouse/conf.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

enum gh_domain {
	GH_DOMAIN_CORE = 0,   /* notifyd, the admin: [store] path */
	GH_DOMAIN_MAIL,       /* gatehouse-milter: [store] mail */
	GH_DOMAIN_WEB,        /* nginx workers: [store] web */
	GH_DOMAIN_LOGIN,      /* pam_gatehouse: [store] login */
	GH_DOMAIN_COUNT_
};

/* gh_domain_name - "core", "mail", "web", "login"; "?" out of range. */
const char *gh_domain_name(enum gh_domain d);

/* gh_domain_lookup - the domain named name, or -1. */
int gh_domain_lookup(const char *name);

/*
 * gh_domain_source - the "source" the core stamps on a producer domain's
 * events ("milter", "nginx", "pam"), whatever the event said; NULL for the
 * core.
 */
const char *gh_domain_source(enum gh_domain d);

/*
 * gh_conf_domain_store_opts - store options for domain d: [store]'s map,
 * sync and lock settings with the domain's path ([store] mail, web or
 * login; the core's [store] path when that is empty or for the core).
 * *shared (optional) is set to 1 when the domain uses the core's store.
 */
void gh_conf_domain_store_opts(const struct gh_conf *conf, enum gh_domain d,
                               struct gh_store_opts *o, int *shared);

/*
 * gh_conf_domain_owner - the user that owns domain d's store, for
 * `gatehouse store init` as root: [store] owner, mail_owner, web_owner or
 * login_owner.  "" when not set (the store keeps its owner, or is made for
 * whoever runs init).
 */
const char *gh_conf_domain_owner(const struct gh_conf *conf, enum gh_domain d);

/*
 * gh_domain_accept - what the core makes of an event that domain d's
 * bridge sent: a new object (*out, the caller's to json_decref) that
 *   - passed gh_event_validate();
 *   - has a type the domain may raise: "mail." for mail, "upload." for web,
 *     "login." for login (a compromised web server cannot raise login
 *     alerts);
 *   - names no channels, no action_url, and no recipients but "admins"
 *     (who is told, and how, is the core's decision: a compromised
 *     producer cannot mail or text arbitrary addresses as Gatehouse);
 *   - has "source" set to gh_domain_source(d) and "category" to
 *     gh_event_default_category() of its type ("security" for login.*
 *     and upload.infected, "system" for the rest), never the event's
 *     own, and priority at most 3 (high: "urgent" overrides
 *     quiet hours and is the admin's);
 *   - has its dedup_key, if any, prefixed with "<domain>:" so one domain
 *     cannot claim another's keys and so silence its events.
 * GH_EINVAL (detail says why) when the event is refused; GH_ENOMEM.
 */
gh_err gh_domain_accept(enum gh_domain d, const json_t *ev, json_t **out,
                        char *detail, size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_DOMAIN_H */
