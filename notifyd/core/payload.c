/*
 * payload.c - JSON bodies for webhook, chat, push and SMS receivers
 * (formats in payload.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/queue.h"
#include "civil.h"
#include "payload.h"
#include "template.h"
#include "gatehouse/text.h"

gh_err
nd_idem_key(char *out, size_t cap, uint64_t event_id, const char *channel,
            const char *recipient)
{
	int n;

	if (out == NULL || channel == NULL || *channel == '\0')
		return GH_EINVAL;
	n = snprintf(out, cap, "%" PRIu64 ":%s:%s", event_id, channel,
	             recipient && *recipient ? recipient : "*");
	return n < 0 || (size_t)n >= cap ? GH_ETOOBIG : GH_OK;
}

const char *
nd_priority_name(json_int_t p)
{
	switch (p) {
	case GH_PRIORITY_LOW:
		return "low";
	case GH_PRIORITY_HIGH:
		return "high";
	case GH_PRIORITY_URGENT:
		return "urgent";
	default:
		return "normal";
	}
}

/* ---- helpers ---- */

/* Builders collect failures in one flag instead of checking each call. */
struct jb {
	int bad;
};

static json_t *
jb_check(struct jb *b, json_t *v)
{
	if (v == NULL)
		b->bad = 1;
	return v;
}

static void
jb_set(struct jb *b, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) != 0)
		b->bad = 1;
}

static void
jb_push(struct jb *b, json_t *arr, json_t *v)
{
	if (v == NULL || arr == NULL || json_array_append_new(arr, v) != 0)
		b->bad = 1;
}

static const char *
ev_str(const json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(ev, key));
	return s && *s ? s : NULL;
}

static json_int_t
ev_priority(const json_t *ev)
{
	json_int_t p = json_integer_value(json_object_get(ev, "priority"));
	return p >= GH_PRIORITY_LOW && p <= GH_PRIORITY_URGENT ? p :
	       GH_PRIORITY_NORMAL;
}

static const char *
msg_subject(const struct nd_payload_msg *m)
{
	const char *s = m->subject && *m->subject ? m->subject :
	                ev_str(m->ev, "title");
	return s ? s : (ev_str(m->ev, "type") ? ev_str(m->ev, "type") :
	                "Notification");
}

static const char *
msg_text(const struct nd_payload_msg *m)
{
	if (m->text && *m->text)
		return m->text;
	return ev_str(m->ev, "message");
}

/* msg_url - the action URL if it is an http(s) link. */
static const char *
msg_url(const struct nd_payload_msg *m)
{
	const char *u = ev_str(m->ev, "action_url");

	if (u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0))
		return u;
	return NULL;
}

/*
 * jstr_cut - a JSON string of s cut to max_chars characters and max_bytes
 * bytes (0: no limit), with an ellipsis when cut.
 */
static json_t *
jstr_cut(const char *s, size_t max_chars, size_t max_bytes)
{
	size_t n = strlen(s);
	char *buf;
	json_t *j;

	if ((max_chars == 0 || n <= max_chars) && (max_bytes == 0 || n <= max_bytes))
		return json_string(s);
	buf = malloc(n + 4);
	if (buf == NULL)
		return NULL;
	memcpy(buf, s, n + 1);
	if (max_chars)
		gh_utf8_truncate_chars(buf, n + 4, max_chars, 1);
	if (max_bytes && strlen(buf) > max_bytes) {
		/* Leave room for the 3-byte ellipsis. */
		size_t k = gh_utf8_cut(buf, strlen(buf), max_bytes > 3 ? max_bytes - 3 : 0);
		memcpy(buf + k, "\xe2\x80\xa6", 4);
		if (max_bytes < 3)
			buf[0] = '\0';
	}
	j = json_string(buf);
	free(buf);
	return j;
}

/* esc_mrkdwn - Slack's three control characters as entities. */
static char *
esc_mrkdwn(const char *s)
{
	size_t n = 0, i, o = 0;
	char *out;

	for (i = 0; s[i]; i++)
		n += s[i] == '&' ? 5 : (s[i] == '<' || s[i] == '>') ? 4 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; s[i]; i++) {
		const char *rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" :
		                  s[i] == '>' ? "&gt;" : NULL;
		if (rep) {
			memcpy(out + o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static json_t *
jmrkdwn_cut(const char *s, size_t max_chars)
{
	char *e = esc_mrkdwn(s);
	json_t *j;

	if (e == NULL)
		return NULL;
	/* Cut after escaping so the limit holds on what Slack counts; an
	 * entity cut in half only loses its tail, which Slack shows as text. */
	j = jstr_cut(e, max_chars, 0);
	free(e);
	return j;
}

/* iso8601 - "2026-06-10T14:30:00.000Z" from milliseconds. */
static json_t *
iso8601(json_int_t ms)
{
	struct nd_civil c;
	char buf[40];

	nd_civil_from_secs(nd_floor_div(ms, 1000), &c);
	snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ",
	         c.year, c.mon, c.mday, c.hour, c.min, c.sec,
	         (int)nd_floor_mod(ms, 1000));
	return json_string(buf);
}

/* type_line - "login.new_host · security · high" */
static char *
type_line(const struct nd_payload_msg *m)
{
	const char *type = ev_str(m->ev, "type"), *cat = ev_str(m->ev, "category");
	size_t n = (type ? strlen(type) : 5) + (cat ? strlen(cat) : 0) + 32;
	char *s = malloc(n);

	if (s == NULL)
		return NULL;
	if (cat)
		snprintf(s, n, "%s \xc2\xb7 %s \xc2\xb7 %s", type ? type : "event",
		         cat, nd_priority_name(ev_priority(m->ev)));
	else
		snprintf(s, n, "%s \xc2\xb7 %s", type ? type : "event",
		         nd_priority_name(ev_priority(m->ev)));
	return s;
}

static gh_err
jb_done(struct jb *b, json_t *obj, json_t **out)
{
	if (b->bad) {
		json_decref(obj);
		return GH_ENOMEM;
	}
	*out = obj;
	return GH_OK;
}

static int
msg_ok(const struct nd_payload_msg *m, json_t **out)
{
	if (out)
		*out = NULL;
	return m != NULL && json_is_object(m->ev) && out != NULL;
}

/* msg_ok(), and the fields the cards (Teams, Web Push) are made of. */
static int
msg_fields(const struct nd_payload_msg *m, json_t **out, const char **text,
           const char **url, const char **type, const char **cat)
{
	if (!msg_ok(m, out))
		return 0;
	*text = msg_text(m);
	*url = msg_url(m);
	*type = ev_str(m->ev, "type");
	*cat = ev_str(m->ev, "category");
	return 1;
}

/* ---- webhook ---- */

gh_err
nd_payload_webhook(const struct nd_payload_msg *m, json_t **out)
{
	static const char *const fields[] = {
		"id", "type", "category", "user", "title", "message", "priority",
		"action_url", "metadata", "source", "created_at", "expires_at",
		"dedup_key"
	};
	struct jb b = {0};
	json_t *o;
	size_t i;

	if (!msg_ok(m, out))
		return GH_EINVAL;
	o = jb_check(&b, json_object());
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_t *v = json_object_get(m->ev, fields[i]);
		if (v == NULL)
			v = strcmp(fields[i], "metadata") == 0 ? json_object() : json_null();
		else
			json_incref(v);
		jb_set(&b, o, fields[i], v);
	}
	jb_set(&b, o, "idempotency_key",
	       m->idem_key ? json_string(m->idem_key) : json_null());
	jb_set(&b, o, "recipient",
	       m->recipient ? json_string(m->recipient) : json_null());
	return jb_done(&b, o, out);
}

/* ---- Slack ---- */

gh_err
nd_payload_slack(const struct nd_payload_msg *m, json_t **out)
{
	struct jb b = {0};
	json_t *o, *blocks, *blk, *t;
	const char *text, *url;
	char *line = NULL;

	if (!msg_ok(m, out))
		return GH_EINVAL;
	text = msg_text(m);
	url = msg_url(m);
	o = jb_check(&b, json_object());
	jb_set(&b, o, "text", jmrkdwn_cut(msg_subject(m), 3000));
	blocks = jb_check(&b, json_array());
	jb_set(&b, o, "blocks", blocks);

	blk = jb_check(&b, json_object());
	jb_set(&b, blk, "type", json_string("header"));
	t = jb_check(&b, json_object());
	jb_set(&b, t, "type", json_string("plain_text"));
	jb_set(&b, t, "text", jstr_cut(msg_subject(m), 150, 0));
	jb_set(&b, blk, "text", t);
	jb_push(&b, blocks, blk);

	if (text) {
		blk = jb_check(&b, json_object());
		jb_set(&b, blk, "type", json_string("section"));
		t = jb_check(&b, json_object());
		jb_set(&b, t, "type", json_string("mrkdwn"));
		jb_set(&b, t, "text", jmrkdwn_cut(text, 3000));
		jb_set(&b, blk, "text", t);
		jb_push(&b, blocks, blk);
	}
	if (url && strlen(url) <= 3000) {
		json_t *btn, *els;
		blk = jb_check(&b, json_object());
		jb_set(&b, blk, "type", json_string("actions"));
		els = jb_check(&b, json_array());
		btn = jb_check(&b, json_object());
		jb_set(&b, btn, "type", json_string("button"));
		t = jb_check(&b, json_object());
		jb_set(&b, t, "type", json_string("plain_text"));
		jb_set(&b, t, "text", json_string("Open"));
		jb_set(&b, btn, "text", t);
		jb_set(&b, btn, "url", json_string(url));
		jb_push(&b, els, btn);
		jb_set(&b, blk, "elements", els);
		jb_push(&b, blocks, blk);
	}
	line = type_line(m);
	if (line) {
		json_t *els;
		blk = jb_check(&b, json_object());
		jb_set(&b, blk, "type", json_string("context"));
		els = jb_check(&b, json_array());
		t = jb_check(&b, json_object());
		jb_set(&b, t, "type", json_string("mrkdwn"));
		jb_set(&b, t, "text", jmrkdwn_cut(line, 3000));
		jb_push(&b, els, t);
		jb_set(&b, blk, "elements", els);
		jb_push(&b, blocks, blk);
	} else {
		b.bad = 1;
	}
	free(line);
	return jb_done(&b, o, out);
}

/* ---- Mattermost ---- */

gh_err
nd_payload_mattermost(const struct nd_payload_msg *m, json_t **out)
{
	struct jb b = {0};
	const char *subj, *text, *url;
	json_t *o;
	char *buf;
	size_t n;

	if (!msg_ok(m, out))
		return GH_EINVAL;
	subj = msg_subject(m);
	text = msg_text(m);
	url = msg_url(m);
	n = strlen(subj) + (text ? strlen(text) : 0) + (url ? strlen(url) : 0) + 32;
	buf = malloc(n);
	if (buf == NULL)
		return GH_ENOMEM;
	snprintf(buf, n, "#### %s%s%s%s%s%s", subj, text ? "\n\n" : "",
	         text ? text : "", url ? "\n\n[Open](" : "", url ? url : "",
	         url ? ")" : "");
	o = jb_check(&b, json_object());
	/* Mattermost's post limit is 16383 characters. */
	jb_set(&b, o, "text", jstr_cut(buf, 16000, 0));
	free(buf);
	return jb_done(&b, o, out);
}

/* ---- Discord ---- */

static json_int_t
priority_rgb(json_int_t p)
{
	switch (p) {
	case GH_PRIORITY_LOW:
		return 0x95a5a6;   /* grey */
	case GH_PRIORITY_HIGH:
		return 0xe67e22;   /* orange */
	case GH_PRIORITY_URGENT:
		return 0xe74c3c;   /* red */
	default:
		return 0x3498db;   /* blue */
	}
}

gh_err
nd_payload_discord(const struct nd_payload_msg *m, json_t **out)
{
	struct jb b = {0};
	json_t *o, *embeds, *e, *am, *created;
	const char *text, *url;
	char *line;

	if (!msg_ok(m, out))
		return GH_EINVAL;
	text = msg_text(m);
	url = msg_url(m);
	created = json_object_get(m->ev, "created_at");
	o = jb_check(&b, json_object());
	embeds = jb_check(&b, json_array());
	jb_set(&b, o, "embeds", embeds);
	e = jb_check(&b, json_object());
	jb_set(&b, e, "title", jstr_cut(msg_subject(m), 256, 0));
	if (text)
		jb_set(&b, e, "description", jstr_cut(text, 4096, 0));
	if (url && strlen(url) <= 2048)
		jb_set(&b, e, "url", json_string(url));
	jb_set(&b, e, "color", json_integer(priority_rgb(ev_priority(m->ev))));
	if (json_is_integer(created))
		jb_set(&b, e, "timestamp", iso8601(json_integer_value(created)));
	line = type_line(m);
	if (line) {
		json_t *f = jb_check(&b, json_object());
		jb_set(&b, f, "text", jstr_cut(line, 2048, 0));
		jb_set(&b, e, "footer", f);
		free(line);
	} else {
		b.bad = 1;
	}
	jb_push(&b, embeds, e);
	/* Event text must never ping @everyone, roles or users. */
	am = jb_check(&b, json_object());
	jb_set(&b, am, "parse", json_array());
	jb_set(&b, o, "allowed_mentions", am);
	return jb_done(&b, o, out);
}

/* ---- Teams ---- */

static json_t *
teams_fact(struct jb *b, const char *title, const char *value)
{
	json_t *f = jb_check(b, json_object());

	jb_set(b, f, "title", json_string(title));
	jb_set(b, f, "value", json_string(value));
	return f;
}

gh_err
nd_payload_teams(const struct nd_payload_msg *m, enum nd_teams_style style,
                 json_t **out)
{
	static const char *const themes[5] = {
		"3498DB", "95A5A6", "3498DB", "E67E22", "E74C3C"
	};
	struct jb b = {0};
	json_t *o, *t;
	const char *text, *url, *type, *cat;

	if (!msg_fields(m, out, &text, &url, &type, &cat))
		return GH_EINVAL;
	o = jb_check(&b, json_object());
	if (style == GH_TEAMS_MESSAGECARD) {
		jb_set(&b, o, "@type", json_string("MessageCard"));
		jb_set(&b, o, "@context", json_string("https://schema.org/extensions"));
		jb_set(&b, o, "summary", jstr_cut(msg_subject(m), 256, 0));
		jb_set(&b, o, "themeColor",
		       json_string(themes[ev_priority(m->ev)]));
		jb_set(&b, o, "title", jstr_cut(msg_subject(m), 256, 0));
		if (text)
			jb_set(&b, o, "text", jstr_cut(text, 10000, 0));
		if (url) {
			json_t *acts = jb_check(&b, json_array());
			json_t *a = jb_check(&b, json_object());
			json_t *tg = jb_check(&b, json_array());
			json_t *tgt = jb_check(&b, json_object());
			jb_set(&b, a, "@type", json_string("OpenUri"));
			jb_set(&b, a, "name", json_string("Open"));
			jb_set(&b, tgt, "os", json_string("default"));
			jb_set(&b, tgt, "uri", json_string(url));
			jb_push(&b, tg, tgt);
			jb_set(&b, a, "targets", tg);
			jb_push(&b, acts, a);
			jb_set(&b, o, "potentialAction", acts);
		}
		return jb_done(&b, o, out);
	}
	{
		json_t *atts = jb_check(&b, json_array());
		json_t *att = jb_check(&b, json_object());
		json_t *card = jb_check(&b, json_object());
		json_t *body = jb_check(&b, json_array());
		json_t *facts = jb_check(&b, json_array());
		json_t *fs = jb_check(&b, json_object());

		jb_set(&b, o, "type", json_string("message"));
		jb_set(&b, att, "contentType",
		       json_string("application/vnd.microsoft.card.adaptive"));
		jb_set(&b, att, "contentUrl", json_null());
		jb_set(&b, card, "$schema",
		       json_string("http://adaptivecards.io/schemas/adaptive-card.json"));
		jb_set(&b, card, "type", json_string("AdaptiveCard"));
		jb_set(&b, card, "version", json_string("1.4"));
		t = jb_check(&b, json_object());
		jb_set(&b, t, "type", json_string("TextBlock"));
		jb_set(&b, t, "text", jstr_cut(msg_subject(m), 256, 0));
		jb_set(&b, t, "weight", json_string("Bolder"));
		jb_set(&b, t, "size", json_string("Medium"));
		jb_set(&b, t, "wrap", json_true());
		jb_push(&b, body, t);
		if (text) {
			t = jb_check(&b, json_object());
			jb_set(&b, t, "type", json_string("TextBlock"));
			jb_set(&b, t, "text", jstr_cut(text, 10000, 0));
			jb_set(&b, t, "wrap", json_true());
			jb_push(&b, body, t);
		}
		jb_set(&b, fs, "type", json_string("FactSet"));
		jb_push(&b, facts, teams_fact(&b, "Type", type ? type : "event"));
		if (cat)
			jb_push(&b, facts, teams_fact(&b, "Category", cat));
		jb_push(&b, facts, teams_fact(&b, "Priority",
		                              nd_priority_name(ev_priority(m->ev))));
		jb_set(&b, fs, "facts", facts);
		jb_push(&b, body, fs);
		jb_set(&b, card, "body", body);
		if (url) {
			json_t *acts = jb_check(&b, json_array());
			json_t *a = jb_check(&b, json_object());
			jb_set(&b, a, "type", json_string("Action.OpenUrl"));
			jb_set(&b, a, "title", json_string("Open"));
			jb_set(&b, a, "url", json_string(url));
			jb_push(&b, acts, a);
			jb_set(&b, card, "actions", acts);
		}
		jb_set(&b, att, "content", card);
		jb_push(&b, atts, att);
		jb_set(&b, o, "attachments", atts);
	}
	return jb_done(&b, o, out);
}

/* ---- ntfy, gotify, webpush ---- */

static int
topic_ok(const char *t)
{
	size_t i, n;

	if (t == NULL || (n = strlen(t)) == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

gh_err
nd_payload_ntfy(const struct nd_payload_msg *m, const char *topic, json_t **out)
{
	/* ntfy: 1 min, 2 low, 3 default, 4 high, 5 max/urgent. */
	static const int prio[GH_PRIORITY_URGENT + 1] = {
		[GH_PRIORITY_LOW] = 2, [GH_PRIORITY_NORMAL] = 3,
		[GH_PRIORITY_HIGH] = 4, [GH_PRIORITY_URGENT] = 5,
	};
	struct jb b = {0};
	json_t *o, *tags;
	const char *text, *url, *type, *cat;

	if (!msg_ok(m, out) || !topic_ok(topic))
		return GH_EINVAL;
	text = msg_text(m);
	url = msg_url(m);
	type = ev_str(m->ev, "type");
	cat = ev_str(m->ev, "category");
	o = jb_check(&b, json_object());
	jb_set(&b, o, "topic", json_string(topic));
	jb_set(&b, o, "title", jstr_cut(msg_subject(m), 250, 0));
	/* Longer messages become attachments on ntfy's side. */
	jb_set(&b, o, "message", jstr_cut(text ? text : msg_subject(m), 0, 4000));
	jb_set(&b, o, "priority", json_integer(prio[ev_priority(m->ev)]));
	tags = jb_check(&b, json_array());
	if (type)
		jb_push(&b, tags, json_string(type));
	if (cat)
		jb_push(&b, tags, json_string(cat));
	jb_set(&b, o, "tags", tags);
	if (url)
		jb_set(&b, o, "click", json_string(url));
	return jb_done(&b, o, out);
}

gh_err
nd_payload_gotify(const struct nd_payload_msg *m, json_t **out)
{
	/* gotify clients: 0 silent, 1-3 low, 4-7 sound, 8-10 intrusive. */
	static const int prio[GH_PRIORITY_URGENT + 1] = {
		[GH_PRIORITY_LOW] = 2, [GH_PRIORITY_NORMAL] = 5,
		[GH_PRIORITY_HIGH] = 8, [GH_PRIORITY_URGENT] = 10,
	};
	struct jb b = {0};
	json_t *o, *ex, *disp;
	const char *text, *url;

	if (!msg_ok(m, out))
		return GH_EINVAL;
	text = msg_text(m);
	url = msg_url(m);
	o = jb_check(&b, json_object());
	jb_set(&b, o, "title", jstr_cut(msg_subject(m), 250, 0));
	jb_set(&b, o, "message", jstr_cut(text ? text : msg_subject(m), 10000, 0));
	jb_set(&b, o, "priority", json_integer(prio[ev_priority(m->ev)]));
	ex = jb_check(&b, json_object());
	disp = jb_check(&b, json_object());
	jb_set(&b, disp, "contentType", json_string("text/plain"));
	jb_set(&b, ex, "client::display", disp);
	if (url) {
		json_t *n = jb_check(&b, json_object());
		json_t *c = jb_check(&b, json_object());
		jb_set(&b, c, "url", json_string(url));
		jb_set(&b, n, "click", c);
		jb_set(&b, ex, "client::notification", n);
	}
	jb_set(&b, o, "extras", ex);
	return jb_done(&b, o, out);
}

gh_err
nd_payload_webpush(const struct nd_payload_msg *m, json_t **out)
{
	struct jb b = {0};
	json_t *o, *data, *id;
	const char *text, *url, *type, *cat;
	char tag[64];

	if (!msg_fields(m, out, &text, &url, &type, &cat))
		return GH_EINVAL;
	id = json_object_get(m->ev, "id");
	o = jb_check(&b, json_object());
	/* Bounded in bytes: the encrypted body may not exceed 4096 bytes. */
	jb_set(&b, o, "title", jstr_cut(msg_subject(m), 0, 200));
	jb_set(&b, o, "body", jstr_cut(text ? text : "", 0, 1500));
	if (url && strlen(url) <= 1000)
		jb_set(&b, o, "url", json_string(url));
	/* A tag per event: a duplicate delivery replaces the notification on
	 * the device instead of showing twice. */
	if (json_is_integer(id)) {
		snprintf(tag, sizeof tag, "gh-%" JSON_INTEGER_FORMAT,
		         json_integer_value(id));
		jb_set(&b, o, "tag", json_string(tag));
	}
	data = jb_check(&b, json_object());
	jb_set(&b, data, "id", id ? json_incref(id) : json_null());
	jb_set(&b, data, "type", type ? json_string(type) : json_null());
	jb_set(&b, data, "category", cat ? json_string(cat) : json_null());
	jb_set(&b, data, "priority", json_integer(ev_priority(m->ev)));
	if (m->idem_key && strlen(m->idem_key) <= GH_IDEM_KEY_MAX)
		jb_set(&b, data, "idempotency_key", json_string(m->idem_key));
	jb_set(&b, o, "data", data);
	return jb_done(&b, o, out);
}

/* ---- SMS ---- */

gh_err
nd_payload_sms(const struct nd_payload_msg *m, enum nd_sms_format fmt,
               const char *body_tmpl, size_t max_chars, char **out,
               size_t *olen, const char **content_type)
{
	static const char def_form[] = "To={{recipient}}&Body={{text}}";
	static const char def_json[] = "{\"to\":\"{{recipient}}\",\"text\":\"{{text}}\"}";
	struct jb b = {0};
	json_t *vars = NULL, *check = NULL;
	const char *text;
	char *body = NULL;
	size_t len = 0;
	int trunc = 0;
	gh_err err;

	if (out)
		*out = NULL;
	if (m == NULL || !json_is_object(m->ev) || out == NULL ||
	    content_type == NULL || m->recipient == NULL || *m->recipient == '\0')
		return GH_EINVAL;
	if (body_tmpl == NULL)
		body_tmpl = fmt == GH_SMS_JSON ? def_json : def_form;
	text = msg_text(m);
	if (text == NULL)
		text = msg_subject(m);
	vars = jb_check(&b, json_copy((json_t *)m->ev));
	jb_set(&b, vars, "recipient", json_string(m->recipient));
	jb_set(&b, vars, "text", jstr_cut(text, max_chars, 0));
	jb_set(&b, vars, "idempotency_key",
	       m->idem_key ? json_string(m->idem_key) : json_null());
	if (b.bad) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	err = nd_tmpl_render(body_tmpl, strlen(body_tmpl), vars,
	                     fmt == GH_SMS_JSON ? GH_TMPL_JSON : GH_TMPL_URL,
	                     GH_SMS_BODY_MAX, &body, &len, &trunc);
	if (err)
		goto cleanup;
	err = GH_ETOOBIG;
	if (trunc)
		goto cleanup;
	if (fmt == GH_SMS_JSON) {
		err = GH_EINVAL;
		check = json_loadb(body, len, 0, NULL);
		if (check == NULL)
			goto cleanup;
	}
	*content_type = fmt == GH_SMS_JSON ? "application/json" :
	                "application/x-www-form-urlencoded";
	*out = body;
	if (olen)
		*olen = len;
	body = NULL;
	err = GH_OK;
cleanup:
	free(body);
	json_decref(check);
	json_decref(vars);
	return err;
}
