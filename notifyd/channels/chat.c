/*
 * chat.c - Slack, Mattermost, Discord and Microsoft Teams incoming
 * webhooks: four kinds that differ only in the JSON they post
 * (payload.h).  A user's chat entry for the channel that names a channel
 * ("#ops") or a person ("@alice") is passed on where the receiver honours
 * it (Slack's legacy webhooks and Mattermost).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../core/payload.h"

struct chat {
	const char *url;
	enum nd_teams_style style;
};

static gh_err
chat_init(struct nd_chan *ch, const struct gh_conf *conf, const char *section,
          char *detail, size_t dlen)
{
	struct chat *c = nd_priv_new(ch, sizeof(*c));
	const char *style;

	if (c == NULL)
		return GH_ENOMEM;
	c->url = gh_conf_str(conf, section, "url");
	if (c->url == NULL || (strncmp(c->url, "https://", 8) != 0 &&
	                       strncmp(c->url, "http://", 7) != 0)) {
		snprintf(detail, dlen, "[%s] url: the incoming webhook's http(s) "
		         "URL is required", section);
		return GH_ECONFIG;
	}
	style = gh_conf_str(conf, section, "style");
	c->style = style && strcmp(style, "messagecard") == 0 ?
	           GH_TEAMS_MESSAGECARD : GH_TEAMS_ADAPTIVE;
	return GH_OK;
}

static int
names_a_room(const char *r)
{
	return r && (r[0] == '#' || r[0] == '@') && r[1] != '\0';
}

static gh_err
chat_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
           char *err, size_t elen)
{
	struct chat *c = ch->priv;
	struct nd_payload_msg gm = {m->ev, m->subject, m->text, m->idem_key,
	                    m->recipient};
	const char *kind = ch->kind->name;
	json_t *p = NULL;
	gh_err e;

	if (strcmp(kind, "slack") == 0)
		e = nd_payload_slack(&gm, &p);
	else if (strcmp(kind, "mattermost") == 0)
		e = nd_payload_mattermost(&gm, &p);
	else if (strcmp(kind, "discord") == 0)
		e = nd_payload_discord(&gm, &p);
	else
		e = nd_payload_teams(&gm, c->style, &p);
	if (e == GH_OK && names_a_room(m->recipient) &&
	    (strcmp(kind, "slack") == 0 || strcmp(kind, "mattermost") == 0))
		json_object_set_new(p, "channel", json_string(m->recipient));
	if (e == GH_OK)
		e = nd_http_json(ch, r, c->url, p, m->idem_key);
	json_decref(p);
	if (e)
		snprintf(err, elen, "cannot build the request: %s",
		         gh_strerror(e));
	return e;
}

#define CHAT_KIND(kname) { \
	.name = kname, .flags = 0, .contact = ND_CONTACT_CHAT, \
	.init = chat_init, .build = chat_build, .done = nd_http_done, \
	.fini = nd_priv_free }

const struct nd_kind nd_kind_slack = CHAT_KIND("slack");
const struct nd_kind nd_kind_mattermost = CHAT_KIND("mattermost");
const struct nd_kind nd_kind_discord = CHAT_KIND("discord");
const struct nd_kind nd_kind_teams = CHAT_KIND("teams");
