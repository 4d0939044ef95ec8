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

/*
 * What the core lets the web domain raise beyond its own upload.* events:
 * the applications' events that come in through nginx's events API
 * (gatehouse_events_api, docs/api.md).  From gatehouse.conf's
 * [events_api]: types (fnmatch(3) patterns) and action_url_prefix.  The
 * core decides: notifyd applies it to what the web bridge hands over; the
 * nginx module applies the same to answer the application at once (and
 * does all of it when it writes the core store itself, [store] web unset).
 */
#define GH_POLICY_TYPES_MAX 32
#define GH_POLICY_TYPE_LEN 64
#define GH_POLICY_PREFIXES_MAX 8
#define GH_POLICY_PREFIX_LEN 256
struct gh_domain_policy {
	size_t ntypes;
	char types[GH_POLICY_TYPES_MAX][GH_POLICY_TYPE_LEN + 1];
	size_t nprefixes;
	char prefixes[GH_POLICY_PREFIXES_MAX][GH_POLICY_PREFIX_LEN + 1];
};

/*
 * gh_domain_type_pattern_ok - 1 if the n bytes at s are a pattern of event
 * types: 1-GH_POLICY_TYPE_LEN of a-z 0-9 . _ - * ? (fnmatch(3) without
 * brackets or escapes).  The rule of [events_api] types and of the nginx
 * module's gatehouse_events_api types=.
 */
int gh_domain_type_pattern_ok(const char *s, size_t n);

/*
 * gh_domain_policy_load - [events_api] types and action_url_prefix into
 * *p.  A pattern is 1-64 of [a-z0-9._-*?]; a prefix is an http:// or
 * https:// URL whose host is followed by '/' (so "https://app.example.org"
 * cannot be stretched to "https://app.example.org.evil.example").
 * GH_ECONFIG, detail naming the key and the bad word, otherwise GH_OK.
 */
gh_err gh_domain_policy_load(const struct gh_conf *conf,
                             struct gh_domain_policy *p, char *detail,
                             size_t detail_len);

/*
 * gh_domain_policy_type - 1 if p allows the web domain events of this
 * type beyond upload.*: a pattern matches, and the type is none of
 * another part's (mail.*, login.*, upload.*, the core's store.* and
 * digest), whatever the patterns say.  0 otherwise (p may be NULL).
 */
int gh_domain_policy_type(const struct gh_domain_policy *p,
                          const char *type);

/*
 * gh_domain_accept_policy - gh_domain_accept(), with p (may be NULL) for
 * the web domain.  An event of an [events_api] type is then accepted
 * with: its own category, but never "security" (refused: a web
 * application must not raise notices users cannot turn off); priority at
 * most 3; an action_url only when it starts with one of p's prefixes
 * (refused otherwise); no channels, recipients only "admins"; "source"
 * set to "app" (applications' events, whichever way they come in; the
 * source grants nothing, routes and templates key on it); dedup_key
 * prefixed "web:".  upload.* events are taken as gh_domain_accept does.
 */
gh_err gh_domain_accept_policy(enum gh_domain d,
                               const struct gh_domain_policy *p,
                               const json_t *ev, json_t **out, char *detail,
                               size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_DOMAIN_H */
