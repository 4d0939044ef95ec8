/*
 * gotify.c - push notifications through a Gotify server: POST
 * {url}/message with the application token in X-Gotify-Key (payload.h
 * maps priority 1..4 to 2, 5, 8, 10).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../core/payload.h"

struct gotify {
	char url[2048];
	char token[512];
};

static gh_err
gotify_init(struct nd_chan *ch, const struct gh_conf *conf,
            const char *section, char *detail, size_t dlen)
{
	struct gotify *g = nd_priv_new(ch, sizeof(*g));
	const char *url;
	size_t n;
	int found;
	gh_err err;

	if (g == NULL)
		return GH_ENOMEM;
	url = gh_conf_str(conf, section, "url");
	if (url == NULL || (strncmp(url, "https://", 8) != 0 &&
	                    strncmp(url, "http://", 7) != 0)) {
		snprintf(detail, dlen, "[%s] url: the Gotify server's http(s) "
		         "URL is required", section);
		return GH_ECONFIG;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if ((size_t)snprintf(g->url, sizeof(g->url), "%.*s/message", (int)n,
	                     url) >= sizeof(g->url)) {
		snprintf(detail, dlen, "[%s] url: too long", section);
		return GH_ECONFIG;
	}
	err = nd_conf_secret(conf, section, "token", "token_file", g->token,
	                     sizeof(g->token), &found, detail, dlen);
	if (err == GH_OK && !found) {
		snprintf(detail, dlen, "[%s] token: the application token is "
		         "required", section);
		err = GH_ECONFIG;
	}
	return err;
}

static gh_err
gotify_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
             char *err, size_t elen)
{
	struct gotify *g = ch->priv;
	struct nd_payload_msg gm = {m->ev, m->subject, m->text, m->idem_key,
	                    m->recipient};
	json_t *p = NULL;
	gh_err e;

	e = nd_payload_gotify(&gm, &p);
	if (e == GH_OK)
		e = nd_http_json(ch, r, g->url, p, m->idem_key);
	json_decref(p);
	if (e == GH_OK)
		e = nd_req_header(r, "X-Gotify-Key: %s", g->token);
	if (e)
		snprintf(err, elen, "cannot build the request: %s",
		         gh_strerror(e));
	return e;
}

const struct nd_kind nd_kind_gotify = {
	.name = "gotify",
	.flags = ND_KIND_QUIET,
	.contact = ND_CONTACT_CHAT,
	.init = gotify_init,
	.build = gotify_build,
	.done = nd_http_done,
	.fini = nd_priv_free,
};
