/*
 * sms.c - text messages through a generic HTTP gateway: the admin gives
 * the URL, the method, the body format (form or JSON) and optionally a
 * body template (payload.h), so a Twilio-style API
 *     url = https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json
 *     username = AC...   password_file = /etc/gatehouse/twilio.token
 *     body = To={{recipient}}&From={{from}}&Body={{text}}
 * or a local gateway both work.  Authentication is HTTP basic (username,
 * password) or a bearer token.  The recipient is the user's phone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../core/payload.h"

struct sms {
	const char *url, *method, *body, *from, *username;
	char password[512], token[512];
	int have_password, have_token;
	enum nd_sms_format fmt;
	size_t max_chars;
};

static gh_err
sms_init(struct nd_chan *ch, const struct gh_conf *conf, const char *section,
         char *detail, size_t dlen)
{
	struct sms *s = nd_priv_new(ch, sizeof(*s));
	const char *f;
	gh_err err;

	if (s == NULL)
		return GH_ENOMEM;
	s->url = gh_conf_str(conf, section, "url");
	if (s->url == NULL || (strncmp(s->url, "https://", 8) != 0 &&
	                       strncmp(s->url, "http://", 7) != 0)) {
		snprintf(detail, dlen, "[%s] url: the gateway's http(s) URL is "
		         "required", section);
		return GH_ECONFIG;
	}
	s->method = gh_conf_str(conf, section, "method");
	s->body = gh_conf_str(conf, section, "body");
	s->from = gh_conf_str(conf, section, "from");
	s->username = gh_conf_str(conf, section, "username");
	f = gh_conf_str(conf, section, "format");
	s->fmt = f && strcmp(f, "json") == 0 ? GH_SMS_JSON : GH_SMS_FORM;
	s->max_chars = (size_t)gh_conf_int(conf, section, "max_chars");
	err = nd_conf_secret(conf, section, "password", "password_file",
	                     s->password, sizeof(s->password),
	                     &s->have_password, detail, dlen);
	if (err == GH_OK)
		err = nd_conf_secret(conf, section, "token", "token_file",
		                     s->token, sizeof(s->token), &s->have_token,
		                     detail, dlen);
	return err;
}

static gh_err
sms_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
          char *err, size_t elen)
{
	struct sms *s = ch->priv;
	json_t *vars = json_copy((json_t *)m->ev);
	struct nd_payload_msg gm = {vars, m->subject, m->text, m->idem_key,
	                    m->recipient};
	const char *ctype = NULL;
	char *body = NULL;
	size_t blen = 0;
	gh_err e;

	if (vars == NULL)
		return GH_ENOMEM;
	json_object_set_new(vars, "from", s->from ? json_string(s->from) :
	                    json_null());
	e = nd_payload_sms(&gm, s->fmt, s->body, s->max_chars, &body, &blen,
	                   &ctype);
	json_decref(vars);
	if (e) {
		snprintf(err, elen, "cannot build the SMS body: %s",
		         gh_strerror(e));
		return e;
	}
	e = nd_http_setup(ch, r, s->url, s->method, ctype, body, blen,
	                  m->idem_key);
	if (e == GH_OK && s->username) {
		curl_easy_setopt(r->easy, CURLOPT_USERNAME, s->username);
		curl_easy_setopt(r->easy, CURLOPT_PASSWORD,
		                 s->have_password ? s->password : "");
	}
	if (e == GH_OK && s->have_token)
		e = nd_req_header(r, "Authorization: Bearer %s", s->token);
	if (e)
		snprintf(err, elen, "cannot build the request: %s",
		         gh_strerror(e));
	return e;
}

const struct nd_kind nd_kind_sms = {
	.name = "sms",
	.flags = ND_KIND_QUIET,
	.contact = ND_CONTACT_PHONE,
	.init = sms_init,
	.build = sms_build,
	.done = nd_http_done,
	.fini = nd_priv_free,
};
