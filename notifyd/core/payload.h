/*
 * payload.h - request bodies for the HTTP channels
 *
 * Each builder turns one delivery (an event, its rendered subject and text,
 * the idempotency key) into the JSON body a receiver expects.  The HTTP
 * code (channels/) sends json_dumps(payload, JSON_COMPACT) with
 * "Content-Type: application/json" and an "Idempotency-Key" header.
 *
 * IDEMPOTENCY
 *   Delivery is at least once: after a crash a request that succeeded may
 *   be sent again.  Every request therefore carries
 *       <event id>:<channel>:<recipient>
 *   (channel = the channel instance's name from [channel.NAME]; recipient =
 *   the address, phone number, user id or subscription the delivery is
 *   for, "*" when the channel has no per-user recipient), the same on every
 *   retry, so a receiver can drop duplicates.  It is in the generic
 *   webhook body as "idempotency_key" and, for all HTTP channels, in the
 *   Idempotency-Key header.
 *
 * FORMATS (what each receiver documents for its incoming webhooks/APIs)
 *   webhook     the event's contract fields (docs/events.md), null when
 *               absent, plus idempotency_key and recipient
 *   slack       text (notification fallback) and blocks: header, section
 *               (mrkdwn, & < > escaped), an "Open" button for http(s)
 *               action URLs, a context line
 *   mattermost  text in Markdown: "#### title", body, [Open](url)
 *   discord     one embed (title, description, url, colour by priority,
 *               timestamp, footer); allowed_mentions empty, so an event
 *               cannot ping @everyone
 *   teams       an Adaptive Card 1.4 message (Workflows webhooks) or a
 *               legacy MessageCard (Office 365 connectors)
 *   ntfy        JSON publishing: topic, title, message, priority 2..5 from
 *               1..4, click, tags [type, category]
 *   gotify      title, message, priority 2, 5, 8, 10 from 1..4, click URL
 *               in extras
 *   webpush     what the service worker shows: title, body, url, tag, and
 *               data (id, type, category, priority, idempotency_key)
 *   sms         a form or JSON body from an admin's template (see below)
 * Receivers' length limits are applied by cutting at a character boundary
 * with an ellipsis.  Only http(s) action URLs are passed on as links.
 */
#ifndef GH_NOTIFYD_PAYLOAD_H
#define GH_NOTIFYD_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"

#define GH_IDEM_KEY_MAX 512

/*
 * nd_idem_key - "<event_id>:<channel>:<recipient>" into out; recipient
 * NULL or empty gives "*".  GH_ETOOBIG if it does not fit.
 */
gh_err nd_idem_key(char *out, size_t cap, uint64_t event_id,
                   const char *channel, const char *recipient);

/* One delivery, as the builders see it (all borrowed). */
struct nd_payload_msg {
	const json_t *ev;        /* the event record */
	const char *subject;     /* rendered subject; NULL: the event's title */
	const char *text;        /* rendered text body; NULL: its message */
	const char *idem_key;    /* nd_idem_key() */
	const char *recipient;   /* may be NULL */
};

/* "low", "normal", "high", "urgent" for 1..4 (out of range: "normal"). */
const char *nd_priority_name(json_int_t priority);

/*
 * Builders: *out receives a new JSON object (json_decref()).  GH_EINVAL if
 * the event is not an object, GH_ENOMEM.
 */
gh_err nd_payload_webhook(const struct nd_payload_msg *m, json_t **out);
gh_err nd_payload_slack(const struct nd_payload_msg *m, json_t **out);
gh_err nd_payload_mattermost(const struct nd_payload_msg *m, json_t **out);
gh_err nd_payload_discord(const struct nd_payload_msg *m, json_t **out);

enum nd_teams_style {
	GH_TEAMS_ADAPTIVE = 0,   /* Workflows "When a Teams webhook request is received" */
	GH_TEAMS_MESSAGECARD     /* legacy Office 365 connector */
};
gh_err nd_payload_teams(const struct nd_payload_msg *m, enum nd_teams_style style,
                        json_t **out);

/* topic: the ntfy topic (required, [A-Za-z0-9_-], at most 64). */
gh_err nd_payload_ntfy(const struct nd_payload_msg *m, const char *topic,
                       json_t **out);
gh_err nd_payload_gotify(const struct nd_payload_msg *m, json_t **out);
gh_err nd_payload_webpush(const struct nd_payload_msg *m, json_t **out);

/*
 * SMS through a generic HTTP gateway.  The admin writes the request body as
 * a template (channel option body) in which these fields exist besides the
 * event's: {{recipient}} (the phone number), {{text}} (the SMS text: the
 * rendered text cut to max_chars characters) and {{idempotency_key}}.
 *   GH_SMS_FORM  values are form-urlencoded; Content-Type
 *                application/x-www-form-urlencoded.
 *                Default body: To={{recipient}}&Body={{text}}
 *   GH_SMS_JSON  values are escaped as JSON string contents and the result
 *                must parse as JSON (GH_EINVAL otherwise); Content-Type
 *                application/json.
 *                Default body: {"to":"{{recipient}}","text":"{{text}}"}
 * *out receives the malloc'd body, *olen its length, *content_type a
 * static string.  body_tmpl NULL uses the default.
 */
enum nd_sms_format { GH_SMS_FORM = 0, GH_SMS_JSON };
#define GH_SMS_BODY_MAX 8192

gh_err nd_payload_sms(const struct nd_payload_msg *m, enum nd_sms_format fmt,
                      const char *body_tmpl, size_t max_chars, char **out,
                      size_t *olen, const char **content_type);

#endif /* GH_NOTIFYD_PAYLOAD_H */
