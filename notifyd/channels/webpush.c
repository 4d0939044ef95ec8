/*
 * webpush.c - Web Push (RFC 8030) to the push services of browsers: the
 * notification (payload.h) encrypted for one subscription with aes128gcm
 * (RFC 8291) and the request signed with VAPID (RFC 8292), both in
 * webpush_crypt.c.  Subscriptions are the user's contacts (users.h); a
 * push service that answers 404 or 410 says the subscription is gone, and
 * the dispatcher then removes it from the user's record.
 *
 * Endpoints come from users, so they are not trusted: only https:// URLs
 * are sent to (users.c refuses others when they are registered; records
 * older than that are refused here), and only to public addresses
 * (nd_http_guard) unless the channel says allow_private = yes, which is for
 * test setups whose push service runs on the same host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "gatehouse/codec.h"
#include "gatehouse/queue.h"
#include "gatehouse/file.h"
#include "../http.h"
#include "../core/payload.h"
#include "../core/webpush_crypt.h"

#define VAPID_TTL (12 * 3600)

struct webpush {
	struct nd_vapid *vapid;
	const char *subject;
	long ttl_s;
	int allow_private;       /* lab setups: loopback and LAN endpoints */
};

void
nd_push_recipient(const char *endpoint, char out[ND_PUSH_RCPT_LEN])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65];

	memcpy(out, "push:", 6);
	if (endpoint == NULL ||
	    !EVP_Digest(endpoint, strlen(endpoint), md, &mdlen, EVP_sha256(),
	                NULL) ||
	    gh_hex_encode(md, 8, hex, sizeof(hex)) != GH_OK)
		return;
	memcpy(out + 5, hex, 16);
	out[21] = '\0';
}

static gh_err
webpush_init(struct nd_chan *ch, const struct gh_conf *conf,
             const char *section, char *detail, size_t dlen)
{
	struct webpush *w = nd_priv_new(ch, sizeof(*w));
	const char *kf;
	char pem[4096], why[512];
	size_t n;
	gh_err err;

	if (w == NULL)
		return GH_ENOMEM;
	w->subject = gh_conf_str(conf, section, "vapid_subject");
	if (w->subject == NULL || (strncmp(w->subject, "mailto:", 7) != 0 &&
	                           strncmp(w->subject, "https:", 6) != 0)) {
		snprintf(detail, dlen, "[%s] vapid_subject: a mailto: or https: "
		         "contact is required", section);
		return GH_ECONFIG;
	}
	w->ttl_s = (long)(gh_conf_int(conf, section, "ttl") / 1000);
	w->allow_private = gh_conf_bool(conf, section, "allow_private");
	if (w->allow_private)
		snprintf(ch->warning, sizeof(ch->warning), "allow_private = "
		         "yes: push endpoints of users may reach loopback, "
		         "private and link-local addresses (for test setups "
		         "only)");
	kf = gh_conf_str(conf, section, "vapid_key_file");
	if (kf == NULL) {
		snprintf(detail, dlen, "[%s] vapid_key_file: required (make one "
		         "with: openssl ecparam -name prime256v1 -genkey -noout)",
		         section);
		return GH_ECONFIG;
	}
	err = gh_file_read_into(kf, 0, pem, sizeof(pem), &n, why, sizeof(why));
	if (err) {
		explicit_bzero(pem, sizeof(pem));
		snprintf(detail, dlen, "[%s] vapid_key_file: %s", section, why);
		return GH_ECONFIG;
	}
	err = nd_vapid_load_pem(&w->vapid, pem, n);
	explicit_bzero(pem, sizeof(pem));
	if (err) {
		snprintf(detail, dlen, "[%s] vapid_key_file: %s is not a P-256 "
		         "private key in PEM", section, kf);
		return GH_ECONFIG;
	}
	return GH_OK;
}

static const char *
urgency(const json_t *ev)
{
	switch (json_integer_value(json_object_get(ev, "priority"))) {
	case GH_PRIORITY_LOW:
		return "low";
	case GH_PRIORITY_HIGH:
	case GH_PRIORITY_URGENT:
		return "high";
	default:
		return "normal";
	}
}

static gh_err
webpush_build(struct nd_chan *ch, const struct nd_msg *m, struct nd_req *r,
              char *err, size_t elen)
{
	struct webpush *w = ch->priv;
	struct nd_payload_msg gm = {m->ev, m->subject, m->text, m->idem_key,
	                    m->recipient};
	const json_t *keys = json_object_get(m->contact, "keys");
	const char *ep = json_string_value(json_object_get(m->contact,
	                                                   "endpoint"));
	unsigned char ua[GH_WP_PUBKEY_LEN], auth[GH_WP_AUTH_LEN], *body = NULL;
	char vapid[GH_VAPID_HEADER_MAX];
	json_t *p = NULL;
	char *plain = NULL;
	size_t plen, blen = 0;
	gh_err e;

	if (ep == NULL || strncmp(ep, "https://", 8) != 0) {
		snprintf(err, elen, "endpoint refused: not an https:// URL");
		return GH_EINVAL;
	}
	if (nd_webpush_keys(json_string_value(json_object_get(keys, "p256dh")),
	                    json_string_value(json_object_get(keys, "auth")),
	                    ua, auth) != GH_OK) {
		snprintf(err, elen, "the subscription's keys are not valid");
		return GH_EINVAL;
	}
	e = nd_payload_webpush(&gm, &p);
	if (e == GH_OK) {
		plain = json_dumps(p, JSON_COMPACT);
		e = plain ? GH_OK : GH_ENOMEM;
	}
	json_decref(p);
	if (e)
		goto cleanup;
	plen = strlen(plain);
	body = malloc(GH_WP_OVERHEAD + plen);
	e = body ? nd_webpush_encrypt(ua, auth, plain, plen, 0, body,
	                              GH_WP_OVERHEAD + plen, &blen) : GH_ENOMEM;
	if (e)
		goto cleanup;
	e = nd_vapid_header(w->vapid, ep, w->subject, (int64_t)time(NULL),
	                    VAPID_TTL, vapid, sizeof(vapid));
	if (e) {
		snprintf(err, elen, "cannot sign for %s (VAPID)", ep);
		goto cleanup;
	}
	e = nd_http_setup(ch, r, ep, "POST", "application/octet-stream",
	                  (char *)body, blen, m->idem_key);
	body = NULL;   /* r owns it now */
	if (e == GH_OK) {
		curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "https");
		if (!w->allow_private)
			nd_http_guard(r);
		e = nd_req_header(r, "Content-Encoding: aes128gcm");
	}
	if (e == GH_OK)
		e = nd_req_header(r, "TTL: %ld", w->ttl_s);
	if (e == GH_OK)
		e = nd_req_header(r, "Urgency: %s", urgency(m->ev));
	if (e == GH_OK)
		e = nd_req_header(r, "Authorization: %s", vapid);
cleanup:
	if (e && err[0] == '\0')
		snprintf(err, elen, "cannot build the push message: %s",
		         gh_strerror(e));
	free(body);
	free(plain);
	return e;
}

static enum nd_outcome
webpush_done(struct nd_chan *ch, struct nd_req *r, char *err, size_t elen)
{
	enum nd_outcome o = nd_http_outcome(r, err, elen);

	(void)ch;
	if (r->rc == CURLE_OK && (r->status == 404 || r->status == 410)) {
		r->gone = 1;
		snprintf(err, elen, "HTTP %ld: the subscription is gone, removed",
		         r->status);
	}
	return o;
}

static void
webpush_fini(struct nd_chan *ch)
{
	struct webpush *w = ch->priv;

	if (w)
		nd_vapid_free(w->vapid);
	nd_priv_free(ch);
}

const struct nd_kind nd_kind_webpush = {
	.name = "webpush",
	.flags = ND_KIND_QUIET,
	.contact = ND_CONTACT_PUSH,
	.init = webpush_init,
	.build = webpush_build,
	.done = webpush_done,
	.fini = webpush_fini,
};
