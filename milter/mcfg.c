/*
 * mcfg.c - load, share and swap the milter's runtime configuration (see
 * mcfg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dkim.h"
#include "mcfg.h"
#include "scan.h"

/* Split a list value ("a b, c") into an array of pointers into one block. */
static gh_err
split_list(const char *text, const char ***out, size_t *n)
{
	size_t words = 0, len = strlen(text);
	const char **v;
	char *buf, *p, *save = NULL;

	*out = NULL;
	*n = 0;
	v = malloc((len / 2 + 2) * sizeof(*v) + len + 1);
	if (v == NULL)
		return GH_ENOMEM;
	buf = (char *)(v + len / 2 + 2);
	memcpy(buf, text, len + 1);
	for (p = strtok_r(buf, " \t,", &save); p;
	     p = strtok_r(NULL, " \t,", &save))
		v[words++] = p;
	if (words > GH_DKIM_MAX_NAMES) {
		free(v);
		return GH_ETOOBIG;
	}
	*out = v;
	*n = words;
	return GH_OK;
}

static gh_onerr
onerr(const struct gh_conf *conf, const char *sec, const char *key)
{
	const char *v = gh_conf_str(conf, sec, key);

	return v && strcmp(v, "accept") == 0 ? GH_ONERR_ACCEPT :
	    GH_ONERR_TEMPFAIL;
}

static void
mcfg_free(struct gh_mcfg *c)
{
	gh_scanner_unref(c->scanner);
	gh_signtable_free(c->keys);
	gh_netlist_free(&c->internal);
	free(c->headers);
	free(c->oversign);
	OPENSSL_cleanse(&c->token_key, sizeof(c->token_key));
	gh_conf_free(c->conf);
	free(c);
}

static gh_err
load_limits(struct gh_mcfg *c)
{
	const struct gh_conf *k = c->conf;
	struct gh_limits *l = &c->limits;

	l->window_ms = gh_conf_int(k, "ratelimit", "window");
	l->reject = strcmp(gh_conf_str(k, "ratelimit", "action"), "reject") == 0;
	l->user_msgs = gh_conf_int(k, "ratelimit", "user_messages");
	l->user_rcpts = gh_conf_int(k, "ratelimit", "user_recipients");
	l->sender_msgs = gh_conf_int(k, "ratelimit", "sender_messages");
	l->sender_rcpts = gh_conf_int(k, "ratelimit", "sender_recipients");
	l->domain_msgs = gh_conf_int(k, "ratelimit", "domain_messages");
	l->domain_rcpts = gh_conf_int(k, "ratelimit", "domain_recipients");
	return GH_OK;
}

int
gh_mcfg_has_limits(const struct gh_mcfg *c)
{
	const struct gh_limits *l = &c->limits;

	return l->user_msgs || l->user_rcpts || l->sender_msgs ||
	    l->sender_rcpts || l->domain_msgs || l->domain_rcpts;
}

gh_err
gh_mcfg_load(const char *path, const struct gh_mcfg *prev,
             uint64_t generation, struct gh_mcfg **out, char *detail,
             size_t detail_len)
{
	struct gh_mcfg *c;
	const char *v;
	char d2[512];
	gh_err err;

	*out = NULL;
	detail[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return GH_ENOMEM;
	c->refs = 1;
	c->generation = generation;
	err = gh_conf_load(&c->conf, path, detail, detail_len);
	if (err)
		goto cleanup;

	err = gh_netlist_parse(gh_conf_str(c->conf, "milter", "internal_hosts"),
	                       &c->internal, d2, sizeof(d2));
	if (err) {
		snprintf(detail, detail_len, "[milter] internal_hosts: %s", d2);
		err = GH_ECONFIG;
		goto cleanup;
	}
	c->sign_authenticated = gh_conf_bool(c->conf, "milter",
	                                     "sign_authenticated");
	c->mail_log = gh_conf_bool(c->conf, "milter", "mail_log");
	c->on_store_error = onerr(c->conf, "milter", "on_store_error");
	c->on_sign_error = onerr(c->conf, "milter", "on_sign_error");
	c->on_scan_error = onerr(c->conf, "milter", "on_scan_error");

	err = gh_canon_parse(gh_conf_str(c->conf, "dkim", "canonicalization"),
	                     &c->hdr_canon, &c->body_canon);
	if (err) {
		snprintf(detail, detail_len, "[dkim] canonicalization: bad value");
		err = GH_ECONFIG;
		goto cleanup;
	}
	if ((v = gh_conf_str(c->conf, "dkim", "headers")) != NULL &&
	    (err = split_list(v, &c->headers, &c->nheaders)) != GH_OK) {
		snprintf(detail, detail_len, "[dkim] headers: more than %d names",
		         GH_DKIM_MAX_NAMES);
		err = GH_ECONFIG;
		goto cleanup;
	}
	if ((v = gh_conf_str(c->conf, "dkim", "oversign")) != NULL &&
	    (err = split_list(v, &c->oversign, &c->noversign)) != GH_OK) {
		snprintf(detail, detail_len, "[dkim] oversign: more than %d names",
		         GH_DKIM_MAX_NAMES);
		err = GH_ECONFIG;
		goto cleanup;
	}
	for (size_t i = 0; i < c->nheaders + c->noversign; i++) {
		const char *name = i < c->nheaders ? c->headers[i] :
		    c->oversign[i - c->nheaders];

		if (!gh_dkim_field_name_ok(name)) {
			snprintf(detail, detail_len, "[dkim] '%s' is not a "
			         "header field name", name);
			err = GH_ECONFIG;
			goto cleanup;
		}
	}
	c->expire_s = gh_conf_int(c->conf, "dkim", "expire") / 1000;
	c->subdomains = gh_conf_bool(c->conf, "dkim", "subdomains");
	err = gh_signtable_load(c->conf, &c->keys, detail, detail_len);
	if (err)
		goto cleanup;

	c->bulk_header = gh_conf_str(c->conf, "milter", "bulk_header");
	c->transactional_header = gh_conf_str(c->conf, "milter",
	                                      "transactional_header");
	c->unsubscribe_url = gh_conf_str(c->conf, "milter", "unsubscribe_url");
	if (c->unsubscribe_url && !*c->unsubscribe_url)
		c->unsubscribe_url = NULL;
	c->unsubscribe_ttl_s = gh_conf_int(c->conf, "tokens",
	                                   "unsubscribe_ttl") / 1000;
	if (c->unsubscribe_url) {
		/* The mail domain's own key file when there is one: the
		 * unsubscribe key alone, never the master (docs/tokens.md). */
		const char *key = gh_conf_str(c->conf, "tokens", "mail_key_file");
		const char *which = "mail_key_file";

		if (key == NULL || *key == '\0') {
			key = gh_conf_str(c->conf, "tokens", "key_file");
			which = "key_file";
		}
		err = gh_token_key_load(key, &c->token_key, d2, sizeof(d2));
		if (err == GH_OK &&
		    !gh_token_key_has(&c->token_key, GH_TOKEN_UNSUBSCRIBE)) {
			snprintf(d2, sizeof(d2), "%s has no unsubscribe key "
			         "(gatehouse tokens derive writes it)", key);
			err = GH_EINVAL;
		}
		if (err) {
			snprintf(detail, detail_len, "[milter] unsubscribe_url "
			         "needs the token key ([tokens] %s): %s", which, d2);
			err = GH_ECONFIG;
			goto cleanup;
		}
	}
	err = load_limits(c);
	if (err)
		goto cleanup;

	c->scan_max_size = gh_conf_int(c->conf, "milter", "scan_max_size");
	c->scan_text = gh_conf_bool(c->conf, "milter", "scan_text");
	c->spool_dir = gh_conf_str(c->conf, "milter", "spool_dir");
	if (gh_conf_bool(c->conf, "milter", "scan")) {
		err = gh_scanner_open(gh_conf_str(c->conf, "milter", "clamav_db"),
		                      c->scan_max_size,
		                      gh_conf_int(c->conf, "milter",
		                                  "scan_timeout"),
		                      gh_conf_str(c->conf, "milter", "clamav_tmp"),
		                      prev ? prev->scanner : NULL, &c->scanner,
		                      detail, detail_len);
		if (err)
			goto cleanup;
	}
cleanup:
	if (err) {
		if (!detail[0])
			snprintf(detail, detail_len, "%s", gh_strerror(err));
		mcfg_free(c);
		return err;
	}
	*out = c;
	return GH_OK;
}

void
gh_mcfg_ref(struct gh_mcfg *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void
gh_mcfg_unref(struct gh_mcfg *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		mcfg_free(c);
}

void
gh_mcfg_holder_init(struct gh_mcfg_holder *h, struct gh_mcfg *first)
{
	pthread_mutex_init(&h->mu, NULL);
	h->cur = first;
}

void
gh_mcfg_holder_destroy(struct gh_mcfg_holder *h)
{
	gh_mcfg_unref(h->cur);
	h->cur = NULL;
	pthread_mutex_destroy(&h->mu);
}

struct gh_mcfg *
gh_mcfg_acquire(struct gh_mcfg_holder *h)
{
	struct gh_mcfg *c;

	pthread_mutex_lock(&h->mu);
	c = h->cur;
	gh_mcfg_ref(c);
	pthread_mutex_unlock(&h->mu);
	return c;
}

void
gh_mcfg_swap(struct gh_mcfg_holder *h, struct gh_mcfg *next)
{
	struct gh_mcfg *old;

	pthread_mutex_lock(&h->mu);
	old = h->cur;
	h->cur = next;
	pthread_mutex_unlock(&h->mu);
	gh_mcfg_unref(old);
}
