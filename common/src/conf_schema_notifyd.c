/*
 * conf_schema_notifyd.c - the keys of gatehouse.conf that belong to
 * gatehouse-notifyd: [notifyd] (the daemon), [channel.NAME] (one per
 * channel instance; every type's keys live in the one "channel.*" table and
 * notifyd checks at start which a type needs) and [route.NAME] (who else
 * hears of which events).  See conf_schema.c for how the tables are used;
 * document every key in conf/gatehouse.conf and gatehouse.conf(5) too.
 */
#include <stddef.h>

#include "conf_int.h"

/* Where `make install` puts the shipped templates (the Makefile's
 * PKGDATADIR: /usr/local/share/gatehouse, /usr/share/gatehouse in
 * packages). */
#ifndef GH_PKGDATADIR
#error "GH_PKGDATADIR comes from the Makefile (PKGDATADIR)"
#endif

#define CHANNEL_TYPES "webhook|smtp|inbox|slack|mattermost|discord|teams|" \
                      "sms|ntfy|gotify|webpush"

const struct gh_conf_key gh_conf_schema_notifyd[] = {
	/* [notifyd] -- the dispatcher */
	{"notifyd", "default_channels", GH_CT_LIST, "inbox", 0, 0, NULL,
	 "channels a user's events go to when neither the event nor the user's "
	 "preferences name others"},
	{"notifyd", "security_channels", GH_CT_LIST, NULL, 0, 0, NULL,
	 "channels that security events reach even when the user turned them "
	 "off (unset: default_channels)"},
	{"notifyd", "opt_in_categories", GH_CT_LIST, "marketing", 0, 0, NULL,
	 "categories a user gets only after turning them on"},
	{"notifyd", "digest_at", GH_CT_STRING, "08:00", 0, 0, NULL,
	 "local time (HH:MM) of digests whose user did not choose one"},
	{"notifyd", "digest_channels", GH_CT_LIST, NULL, 0, 0, NULL,
	 "channels digests go to when the user did not choose (unset: the "
	 "user's smtp channels)"},
	{"notifyd", "login_fallback", GH_CT_ENUM, "local", 0, 0,
	 "local|admin|none", "login alerts (login.* events) for a user with no "
	 "contacts in the store: local mails USER@localhost, and the "
	 "admin_addresses for root, system accounts (uid below 1000) and names "
	 "with no account when no [route.*] takes the event; admin mails the "
	 "admin_addresses for every such user; none sends nothing more"},
	{"notifyd", "login_fallback_channel", GH_CT_STRING, "mail", 0, 0, NULL,
	 "the smtp channel login_fallback and the admin_addresses are mailed "
	 "through (the local MTA)"},
	{"notifyd", "admin_addresses", GH_CT_LIST, "root@localhost", 0, 0, NULL,
	 "mail addresses of the admins, for login alerts of accounts nobody "
	 "else is told about (login_fallback) and events for \"admins\" that "
	 "no [route.*] takes (mail.rate_limited, store.nearly_full)"},
	{"notifyd", "batch", GH_CT_INT, "64", 1, 1024, NULL,
	 "events leased from the queue in one transaction"},
	{"notifyd", "max_events", GH_CT_INT, "512", 1, 100000, NULL,
	 "events held in memory at once"},
	{"notifyd", "concurrency", GH_CT_INT, "64", 1, 10000, NULL,
	 "requests in flight at once, over every channel"},
	{"notifyd", "poll_interval", GH_CT_DURATION, "250ms", 10, 60 * GH_SEC,
	 NULL, "how often an idle dispatcher looks for due events"},
	{"notifyd", "bridge_socket", GH_CT_PATH, "/run/gatehouse/bridge.sock",
	 0, 0, NULL, "where gatehouse-bridge(8) of each domain with a store "
	 "of its own connects; each connection is checked against the owner "
	 "of its domain's store"},
	{"notifyd", "bridge_rate", GH_CT_INT, "50", 1, 100000, NULL,
	 "events and unsubscribes a second that each domain's bridge may hand "
	 "over (bursts of ten times that); beyond, notifyd reads it slower and "
	 "the rest waits in the domain's own store"},
	{"notifyd", "shutdown_timeout", GH_CT_DURATION, "30s", 0, 10 * GH_MIN,
	 NULL, "on SIGTERM, longest wait for requests in flight before their "
	 "events are given back"},
	{"notifyd", "templates", GH_CT_PATH, "/etc/gatehouse/templates", 0, 0,
	 NULL, "directory of the admin's subject and body templates: each "
	 "replaces the shipped template of the same name, or adds one"},
	{"notifyd", "shipped_templates", GH_CT_PATH, GH_PKGDATADIR "/templates",
	 0, 0, NULL, "directory of the templates Gatehouse ships, read first "
	 "(the packages' /usr/share/gatehouse/templates); change files in "
	 "templates instead, which upgrades leave alone"},
	{"notifyd", "default_language", GH_CT_STRING, "en", 0, 0, NULL,
	 "language tag (ko, en, pt-BR) of the templates for users who did "
	 "not choose one (gatehouse users set --lang) and for recipients who "
	 "are not users; a language without templates falls back to the "
	 "templates outside the language directories"},
	{"notifyd", "zoneinfo", GH_CT_PATH, "/usr/share/zoneinfo", 0, 0, NULL,
	 "directory of the IANA time zone files (package tzdata)"},
	{"notifyd", "metrics_listen", GH_CT_STRING, NULL, 0, 0, NULL,
	 "127.0.0.1:PORT (or [::1]:PORT) serving Prometheus /metrics; unset: "
	 "off"},
	{"notifyd", "metrics_queue_interval", GH_CT_DURATION, "5s", 0,
	 1 * GH_HOUR, NULL, "how long /metrics reuses its count of the queue, which walks the "
	 "whole queue (0: count on every scrape; slow counts are reused longer)"},
	{"notifyd", "log", GH_CT_ENUM, "auto", 0, 0, "auto|syslog|stderr",
	 "where logs go (auto: stderr when it is a terminal or the "
	 "journal, else syslog)"},
	{"notifyd", "log_level", GH_CT_ENUM, "info", 0, 0,
	 "error|warning|info|debug", "least severe messages logged"},

	/* [channel.NAME] -- one channel instance */
	{"channel.*", "type", GH_CT_ENUM, NULL, 0, 0, CHANNEL_TYPES,
	 "what the channel is (required)"},
	{"channel.*", "url", GH_CT_STRING, NULL, 0, 0, NULL,
	 "where requests go: webhook, chat and SMS gateway URL; ntfy and gotify "
	 "server; smtp:// or smtps:// relay"},
	{"channel.*", "secret", GH_CT_STRING, NULL, 0, 0, NULL,
	 "webhook: HMAC-SHA256 key of X-Gatehouse-Signature"},
	{"channel.*", "secret_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "webhook: file holding the secret (first line)"},
	{"channel.*", "username", GH_CT_STRING, NULL, 0, 0, NULL,
	 "smtp AUTH, SMS gateway or ntfy basic authentication user"},
	{"channel.*", "password", GH_CT_STRING, NULL, 0, 0, NULL,
	 "password for username"},
	{"channel.*", "password_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "file holding the password (first line)"},
	{"channel.*", "token", GH_CT_STRING, NULL, 0, 0, NULL,
	 "ntfy or SMS gateway bearer token; gotify application token"},
	{"channel.*", "token_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "file holding the token (first line)"},
	{"channel.*", "from", GH_CT_STRING, NULL, 0, 0, NULL,
	 "smtp: sender address (envelope and From:); sms: the From field"},
	{"channel.*", "from_name", GH_CT_STRING, "Gatehouse", 0, 0, NULL,
	 "smtp: display name of From:"},
	{"channel.*", "reply_to", GH_CT_STRING, NULL, 0, 0, NULL,
	 "smtp: Reply-To: address"},
	{"channel.*", "starttls", GH_CT_ENUM, "try", 0, 0, "no|try|yes",
	 "smtp:// relays: use STARTTLS never, when offered, or always (fail "
	 "without)"},
	{"channel.*", "tls_verify", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "verify the server's TLS certificate and name"},
	{"channel.*", "ca_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "CA certificates to verify the server with (default: the system's)"},
	{"channel.*", "timeout", GH_CT_DURATION, "15s", 100, 10 * GH_MIN, NULL,
	 "longest a request may take"},
	{"channel.*", "connect_timeout", GH_CT_DURATION, "5s", 100, 5 * GH_MIN,
	 NULL, "longest a connection may take to open"},
	{"channel.*", "max_attempts", GH_CT_INT, "10", 1, 1000, NULL,
	 "attempts per delivery before it is dead-lettered"},
	{"channel.*", "backoff_base", GH_CT_DURATION, "5s", 10, 1 * GH_DAY, NULL,
	 "retry delay ceiling after the first failure (doubles each time; the "
	 "delay is random below it)"},
	{"channel.*", "backoff_cap", GH_CT_DURATION, "1h", 10, 7 * GH_DAY, NULL,
	 "largest retry delay ceiling"},
	{"channel.*", "retry_after_max", GH_CT_DURATION, "6h", 0, 7 * GH_DAY,
	 NULL, "largest Retry-After honoured"},
	{"channel.*", "breaker_threshold", GH_CT_INT, "5", 1, 100000, NULL,
	 "consecutive failures that open the channel's circuit breaker"},
	{"channel.*", "breaker_cooldown", GH_CT_DURATION, "30s", 0, 1 * GH_DAY,
	 NULL, "how long an open breaker waits before one probe request"},
	{"channel.*", "rate", GH_CT_STRING, NULL, 0, 0, NULL,
	 "most requests per period, as N/s, N/min, N/h or N/d (unset: no limit)"},
	{"channel.*", "burst", GH_CT_INT, "0", 0, 1000000, NULL,
	 "requests allowed at once under rate (0: N)"},
	{"channel.*", "concurrency", GH_CT_INT, "16", 1, 4096, NULL,
	 "requests of this channel in flight at once"},
	{"channel.*", "topic", GH_CT_STRING, NULL, 0, 0, NULL,
	 "ntfy: the topic (a user's chat entry for the channel overrides it)"},
	{"channel.*", "style", GH_CT_ENUM, "adaptive", 0, 0,
	 "adaptive|messagecard", "teams: Adaptive Card (Workflows) or legacy "
	 "MessageCard (Office 365 connector)"},
	{"channel.*", "method", GH_CT_ENUM, "POST", 0, 0, "POST|PUT",
	 "sms: HTTP method"},
	{"channel.*", "format", GH_CT_ENUM, "form", 0, 0, "form|json",
	 "sms: request body as a form or as JSON"},
	{"channel.*", "body", GH_CT_STRING, NULL, 0, 0, NULL,
	 "sms: body template with {{recipient}}, {{text}}, {{from}} and event "
	 "fields"},
	{"channel.*", "max_chars", GH_CT_INT, "480", 1, 1600, NULL,
	 "sms: longest text, in characters"},
	{"channel.*", "vapid_key_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "webpush: the VAPID P-256 private key (PEM)"},
	{"channel.*", "vapid_subject", GH_CT_STRING, NULL, 0, 0, NULL,
	 "webpush: contact for the push service (mailto: or https: URL)"},
	{"channel.*", "ttl", GH_CT_DURATION, "1d", 0, 28 * GH_DAY, NULL,
	 "webpush: how long the push service keeps an undelivered message"},
	{"channel.*", "allow_private", GH_CT_BOOL, "no", 0, 0, NULL,
	 "webpush: let endpoints reach loopback, private, link-local and other "
	 "non-public addresses (test setups only)"},

	/* [route.NAME] -- events that also go to admins */
	{"route.*", "types", GH_CT_LIST, "*", 0, 0, NULL,
	 "event types it applies to; * and ? match like shell patterns "
	 "(login.*)"},
	{"route.*", "categories", GH_CT_LIST, NULL, 0, 0, NULL,
	 "categories it applies to (unset: any)"},
	{"route.*", "sources", GH_CT_LIST, NULL, 0, 0, NULL,
	 "event sources it applies to: pam, milter, nginx, app, cli (unset: "
	 "any)"},
	{"route.*", "user_match", GH_CT_ENUM, "any", 0, 0, "any|system|unknown",
	 "only events whose user is anyone, a system account (uid below 1000, "
	 "or no account and no contacts), or has no contacts in the store"},
	{"route.*", "users", GH_CT_LIST, NULL, 0, 0, NULL,
	 "user ids told, through their own contacts and preferences"},
	{"route.*", "channels", GH_CT_LIST, NULL, 0, 0, NULL,
	 "channel instances sent the event as it is (a team's Slack, a "
	 "webhook)"},
	{"route.*", "addresses", GH_CT_LIST, NULL, 0, 0, NULL,
	 "CHANNEL:ADDRESS recipients (mail:ops@example.org, "
	 "sms:+15551234567)"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
