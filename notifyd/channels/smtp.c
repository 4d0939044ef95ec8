/*
 * smtp.c - mail through an SMTP relay with libcurl: to the local Postfix
 * (so the milter signs it) or any relay, with STARTTLS (starttls = try or
 * yes) or implicit TLS (an smtps:// url), and AUTH when a username is set.
 * The message itself is built by mime.c; libcurl dot-stuffs it.
 *
 * The url's path, when present, is the name said in EHLO
 * ("smtp://127.0.0.1:25/notifyd.example.org").
 *
 * Outcomes follow the reply code libcurl saw last: 2xx delivered, 4xx and
 * no reply at all (connection refused, timeout) retried, 5xx permanent
 * (nd_smtp_classify).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../core/mime.h"

struct smtp {
	const char *url, *from, *from_name, *reply_to, *username;
	char password[512];
	int have_password;
	long use_ssl;
};

static gh_err
smtp_init(struct nd_chan *ch, const struct gh_conf *conf, const char *section,
          char *detail, size_t dlen)
{
	struct smtp *s = nd_priv_new(ch, sizeof(*s));
	const char *tls;
	gh_err err;

	if (s == NULL)
		return GH_ENOMEM;
	s->url = gh_conf_str(conf, section, "url");
	if (s->url == NULL)
		s->url = "smtp://127.0.0.1:25";
	if (strncmp(s->url, "smtp://", 7) != 0 &&
	    strncmp(s->url, "smtps://", 8) != 0) {
		snprintf(detail, dlen, "[%s] url: must be smtp://HOST[:PORT] or "
		         "smtps://HOST[:PORT]", section);
		return GH_ECONFIG;
	}
	s->from = gh_conf_str(conf, section, "from");
	if (s->from == NULL || !nd_mime_addr_ok(s->from)) {
		snprintf(detail, dlen, "[%s] from: a sender address "
		         "(local@domain) is required", section);
		return GH_ECONFIG;
	}
	s->from_name = gh_conf_str(conf, section, "from_name");
	s->reply_to = gh_conf_str(conf, section, "reply_to");
	if (s->reply_to && !nd_mime_addr_ok(s->reply_to)) {
		snprintf(detail, dlen, "[%s] reply_to: not an address", section);
		return GH_ECONFIG;
	}
	s->username = gh_conf_str(conf, section, "username");
	err = nd_conf_secret(conf, section, "password", "password_file",
	                     s->password, sizeof(s->password),
	                     &s->have_password, detail, dlen);
	if (err)
		return err;
	tls = gh_conf_str(conf, section, "starttls");
	s->use_ssl = CURLUSESSL_TRY;
	if (tls && strcmp(tls, "no") == 0)
		s->use_ssl = CURLUSESSL_NONE;
	else if (tls && strcmp(tls, "yes") == 0)
		s->use_ssl = CURLUSESSL_ALL;
	if (strncmp(s->url, "smtps://", 8) == 0)
		s->use_ssl = CURLUSESSL_ALL;
	return GH_OK;
}

static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct nd_req *r = arg;
	size_t room = size * n, left = r->blen - r->sent;
	size_t take = left < room ? left : room;

	memcpy(buf, r->body + r->sent, take);
	r->sent += take;
	return take;
}

static gh_err
smtp_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
           char *err, size_t elen)
{
	struct smtp *s = ch->priv;
	struct nd_mail mail;
	char addr[400];
	CURL *e = r->easy;
	struct curl_slist *l;
	gh_err rc;

	if (!nd_mime_addr_ok(m->recipient)) {
		snprintf(err, elen, "'%s' is not a mail address", m->recipient);
		return GH_EINVAL;
	}
	memset(&mail, 0, sizeof(mail));
	mail.from_name = s->from_name;
	mail.from_addr = s->from;
	mail.to_name = m->user_name;
	mail.to_addr = m->recipient;
	mail.reply_to = s->reply_to;
	mail.subject = m->subject;
	mail.text = m->text ? m->text : "";
	mail.html = m->html;
	mail.event_id = m->event_id;
	mail.idem_key = m->idem_key;
	mail.now_ms = m->now_ms;
	rc = nd_mime_build(&mail, nd_rng_os, NULL, &r->body, &r->blen);
	if (rc) {
		snprintf(err, elen, "cannot build the message: %s",
		         gh_strerror(rc));
		return rc;
	}
	nd_req_common(ch, r);
	r->url = strdup(s->url);
	snprintf(addr, sizeof(addr), "<%s>", m->recipient);
	l = curl_slist_append(NULL, addr);
	if (r->url == NULL || l == NULL) {
		curl_slist_free_all(l);
		return GH_ENOMEM;
	}
	r->rcpts = l;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	snprintf(addr, sizeof(addr), "<%s>", s->from);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->rcpts);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, r);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->blen);
	curl_easy_setopt(e, CURLOPT_USE_SSL, s->use_ssl);
	if (s->username) {
		curl_easy_setopt(e, CURLOPT_USERNAME, s->username);
		if (s->have_password)
			curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
	}
	return GH_OK;
}

static enum nd_outcome
smtp_done(struct nd_chan *ch, struct nd_req *r, char *err, size_t elen)
{
	(void)ch;
	if (r->rc == CURLE_OK) {
		snprintf(err, elen, "SMTP %ld", r->status ? r->status : 250L);
		return GH_OUTCOME_OK;
	}
	if (r->status >= 400) {
		snprintf(err, elen, "SMTP %ld: %s", r->status,
		         r->curl_err[0] ? r->curl_err : curl_easy_strerror(r->rc));
		return nd_smtp_classify(r->status);
	}
	snprintf(err, elen, "curl: %s",
	         r->curl_err[0] ? r->curl_err : curl_easy_strerror(r->rc));
	return GH_OUTCOME_RETRY;
}

const struct nd_kind nd_kind_smtp = {
	.name = "smtp",
	.flags = ND_KIND_QUIET | ND_KIND_HTML,
	.contact = ND_CONTACT_EMAIL,
	.init = smtp_init,
	.build = smtp_build,
	.done = smtp_done,
	.fini = nd_priv_free,
};
