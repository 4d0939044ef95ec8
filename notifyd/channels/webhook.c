/*
 * webhook.c - the generic webhook channel: the event as JSON (payload.h),
 * POSTed to url, signed with X-Gatehouse-Signature over the timestamp and
 * body (sign.h) when a secret is configured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../http.h"
#include "../core/payload.h"
#include "../core/sign.h"

struct webhook {
	const char *url;
	char secret[512];
	size_t slen;
};

static gh_err
webhook_init(struct nd_chan *ch, const struct gh_conf *conf,
             const char *section, char *detail, size_t dlen)
{
	struct webhook *w = nd_priv_new(ch, sizeof(*w));
	int found;
	gh_err err;

	if (w == NULL)
		return GH_ENOMEM;
	w->url = gh_conf_str(conf, section, "url");
	if (w->url == NULL || (strncmp(w->url, "https://", 8) != 0 &&
	                       strncmp(w->url, "http://", 7) != 0)) {
		snprintf(detail, dlen, "[%s] url: an http(s) URL is required",
		         section);
		return GH_ECONFIG;
	}
	err = nd_conf_secret(conf, section, "secret", "secret_file", w->secret,
	                     sizeof(w->secret), &found, detail, dlen);
	w->slen = strlen(w->secret);
	return err;
}

static gh_err
webhook_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
              char *err, size_t elen)
{
	struct webhook *w = ch->priv;
	struct nd_payload_msg gm = {m->ev, m->subject, m->text, m->idem_key,
	                    m->recipient};
	json_t *p = NULL;
	gh_err e;

	e = nd_payload_webhook(&gm, &p);
	if (e == GH_OK)
		e = nd_http_json(ch, r, w->url, p, m->idem_key);
	json_decref(p);
	if (e == GH_OK)
		e = nd_req_header(r, "X-Gatehouse-Event: %llu",
		                  (unsigned long long)m->event_id);
	if (e == GH_OK && w->slen > 0) {
		char sig[GH_SIGN_VALUE_LEN];
		/* the signature's time is the real send time, always */
		int64_t ts = (int64_t)time(NULL);

		e = nd_sign_webhook(w->secret, w->slen, ts, r->body, r->blen, sig);
		if (e == GH_OK)
			e = nd_req_header(r, GH_SIGN_TS_HEADER ": %lld",
			                  (long long)ts);
		if (e == GH_OK)
			e = nd_req_header(r, GH_SIGN_HEADER ": %s", sig);
	}
	if (e)
		snprintf(err, elen, "cannot build the request: %s",
		         gh_strerror(e));
	return e;
}

const struct nd_kind nd_kind_webhook = {
	.name = "webhook",
	.flags = ND_KIND_RAW,
	.contact = ND_CONTACT_CHAT,
	.init = webhook_init,
	.build = webhook_build,
	.done = nd_http_done,
	.fini = nd_priv_free,
};
