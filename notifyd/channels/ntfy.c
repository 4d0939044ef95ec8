/*
 * ntfy.c - push notifications through an ntfy server's JSON publishing
 * API: POST to the server's root URL with the topic in the body
 * (payload.h maps priority 1..4 to ntfy's 2..5).  A user's chat entry for
 * the channel is their own topic; otherwise the channel's topic is used.
 * Authentication: a bearer token (access token) or basic username and
 * password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../core/payload.h"

struct ntfy {
	const char *url, *topic, *username;
	char password[512], token[512];
	int have_password, have_token;
};

static gh_err
ntfy_init(struct nd_chan *ch, const struct gh_conf *conf, const char *section,
          char *detail, size_t dlen)
{
	struct ntfy *n = nd_priv_new(ch, sizeof(*n));
	gh_err err;

	if (n == NULL)
		return GH_ENOMEM;
	n->url = gh_conf_str(conf, section, "url");
	if (n->url == NULL)
		n->url = "https://ntfy.sh/";
	if (strncmp(n->url, "https://", 8) != 0 &&
	    strncmp(n->url, "http://", 7) != 0) {
		snprintf(detail, dlen, "[%s] url: the ntfy server's http(s) URL",
		         section);
		return GH_ECONFIG;
	}
	n->topic = gh_conf_str(conf, section, "topic");
	n->username = gh_conf_str(conf, section, "username");
	err = nd_conf_secret(conf, section, "password", "password_file",
	                     n->password, sizeof(n->password),
	                     &n->have_password, detail, dlen);
	if (err == GH_OK)
		err = nd_conf_secret(conf, section, "token", "token_file",
		                     n->token, sizeof(n->token), &n->have_token,
		                     detail, dlen);
	return err;
}

static gh_err
ntfy_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
           char *err, size_t elen)
{
	struct ntfy *n = ch->priv;
	struct nd_payload_msg gm = {m->ev, m->subject, m->text, m->idem_key,
	                    m->recipient};
	const char *topic = m->user && m->recipient &&
	                    strcmp(m->recipient, m->user) != 0 &&
	                    strcmp(m->recipient, "*") != 0 ?
	                    m->recipient : n->topic;
	json_t *p = NULL;
	gh_err e;

	if (topic == NULL) {
		snprintf(err, elen, "no topic: set topic in the channel or a "
		         "chat entry for the user");
		return GH_EINVAL;
	}
	e = nd_payload_ntfy(&gm, topic, &p);
	if (e == GH_EINVAL) {
		snprintf(err, elen, "'%s' is not an ntfy topic", topic);
		return e;
	}
	if (e == GH_OK)
		e = nd_http_json(ch, r, n->url, p, m->idem_key);
	json_decref(p);
	if (e == GH_OK && n->have_token)
		e = nd_req_header(r, "Authorization: Bearer %s", n->token);
	if (e == GH_OK && n->username) {
		curl_easy_setopt(r->easy, CURLOPT_USERNAME, n->username);
		curl_easy_setopt(r->easy, CURLOPT_PASSWORD,
		                 n->have_password ? n->password : "");
	}
	if (e)
		snprintf(err, elen, "cannot build the request: %s",
		         gh_strerror(e));
	return e;
}

const struct nd_kind nd_kind_ntfy = {
	.name = "ntfy",
	.flags = ND_KIND_QUIET,
	.contact = ND_CONTACT_CHAT,
	.init = ntfy_init,
	.build = ntfy_build,
	.done = nd_http_done,
	.fini = nd_priv_free,
};
