/*
 * runtime.c - gatehouse.conf turned into what the dispatcher uses: channel
 * instances with their kinds initialised, routes, the default channel
 * lists, templates and the time zone cache (struct nd_rt).
 *
 * On SIGHUP a new runtime is built beside the old one; if that fails the
 * old one stays and the error is logged.  Jobs hold a reference to the
 * runtime they were leased under, so a reload never pulls a channel out
 * from under a request in flight.  What must survive a reload -- breaker
 * state, rate-limit buckets, requests in flight, counters -- lives in
 * struct nd_cstate, found by channel name.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mime.h"
#include "nd.h"

#define TZ_CACHE_SIZE 64

struct nd_cstate *
nd_cstate_get(struct nd *d, const char *name)
{
	struct nd_cstate *c;

	for (c = d->cstates; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->breaker.threshold = 0;   /* set by the channel that uses it */
	c->next = d->cstates;
	d->cstates = c;
	return c;
}

/* ---- words ---- */

static void
words_free(struct nd_words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

static gh_err
words_split(const char *s, struct nd_words *w)
{
	w->v = NULL;
	w->n = 0;
	while (s && *s) {
		size_t n;
		char **v;

		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		n = strcspn(s, " ,\t");
		if (n == 0)
			break;
		v = realloc(w->v, (w->n + 1) * sizeof(*v));
		if (v == NULL)
			goto nomem;
		w->v = v;
		w->v[w->n] = strndup(s, n);
		if (w->v[w->n] == NULL)
			goto nomem;
		w->n++;
		s += n;
	}
	return GH_OK;
nomem:
	words_free(w);
	return GH_ENOMEM;
}

int
nd_words_has(const struct nd_words *w, const char *s)
{
	for (size_t i = 0; s && i < w->n; i++)
		if (strcmp(w->v[i], s) == 0)
			return 1;
	return 0;
}

struct nd_chan *
nd_rt_chan(const struct nd_rt *rt, const char *name)
{
	for (size_t i = 0; name && i < rt->nchans; i++)
		if (strcmp(rt->chans[i].name, name) == 0)
			return &rt->chans[i];
	return NULL;
}

/* A list key naming channel instances, into chans. */
static gh_err
chan_list(struct nd_rt *rt, const char *section, const char *key,
          struct nd_chans *out, char *detail, size_t dlen)
{
	struct nd_words w;
	gh_err err = words_split(gh_conf_str(rt->conf, section, key), &w);

	out->v = NULL;
	out->n = 0;
	if (err)
		return err;
	if (w.n) {
		out->v = calloc(w.n, sizeof(*out->v));
		if (out->v == NULL) {
			err = GH_ENOMEM;
			goto done;
		}
	}
	for (size_t i = 0; i < w.n; i++) {
		struct nd_chan *ch = nd_rt_chan(rt, w.v[i]);

		if (ch == NULL) {
			snprintf(detail, dlen, "%s:%u: [%s] %s: no channel named "
			         "'%s' (add a [channel.%s] section)",
			         gh_conf_source(rt->conf),
			         gh_conf_line(rt->conf, section, key), section, key,
			         w.v[i], w.v[i]);
			err = GH_ECONFIG;
			goto done;
		}
		out->v[out->n++] = ch;
	}
done:
	words_free(&w);
	return err;
}

/* ---- channels ---- */

struct sec_list {
	char **v;
	size_t n;
	int oom;
};

static void
collect_section(const char *name, void *arg)
{
	struct sec_list *l = arg;
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL || (v[l->n] = strdup(name)) == NULL) {
		if (v)
			l->v = v;
		l->oom = 1;
		return;
	}
	l->v = v;
	l->n++;
}

static void
sec_list_free(struct sec_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static gh_err
chan_init(struct nd *d, struct nd_rt *rt, struct nd_chan *ch,
          const char *section, const struct nd_kind *kind, char *detail,
          size_t dlen)
{
	const struct gh_conf *c = rt->conf;
	const char *type = gh_conf_str(c, section, "type");
	const char *rate = gh_conf_str(c, section, "rate");
	struct nd_cstate *cs;
	int64_t r = 0, per = 1000, burst;
	gh_err err;

	snprintf(ch->name, sizeof(ch->name), "%s", section + strlen("channel."));
	ch->kind = kind ? kind : nd_kind_find(type);
	if (ch->kind == NULL) {
		snprintf(detail, dlen, "%s: [%s] type: required (webhook, smtp, "
		         "inbox, slack, mattermost, discord, teams, sms, ntfy, "
		         "gotify or webpush)", gh_conf_source(c), section);
		return GH_ECONFIG;
	}
	ch->timeout_ms = gh_conf_int(c, section, "timeout");
	ch->connect_timeout_ms = gh_conf_int(c, section, "connect_timeout");
	ch->max_attempts = (int)gh_conf_int(c, section, "max_attempts");
	ch->concurrency = (int)gh_conf_int(c, section, "concurrency");
	ch->backoff.base_ms = gh_conf_int(c, section, "backoff_base");
	ch->backoff.cap_ms = gh_conf_int(c, section, "backoff_cap");
	if (ch->backoff.cap_ms < ch->backoff.base_ms)
		ch->backoff.cap_ms = ch->backoff.base_ms;
	ch->backoff.retry_after_max = gh_conf_int(c, section, "retry_after_max");
	ch->tls_verify = gh_conf_bool(c, section, "tls_verify");
	ch->ca_file = gh_conf_str(c, section, "ca_file");
	if (rate && nd_rate_parse(rate, &r, &per) != GH_OK) {
		snprintf(detail, dlen, "%s:%u: [%s] rate: '%s' is not N/s, N/min, "
		         "N/h or N/d", gh_conf_source(c),
		         gh_conf_line(c, section, "rate"), section, rate);
		return GH_ECONFIG;
	}
	err = ch->kind->init(ch, c, section, detail, dlen);
	if (err)
		return err;
	if (ch->warning[0])
		nd_log(&d->log, ND_LOG_WARN, "[%s] %s", section, ch->warning);
	/* gatehouse.conf is read by every part, the milter and nginx
	 * included: a secret written in it is theirs too (docs/security.md,
	 * secrets per purpose).  The *_file keys keep it with notifyd. */
	for (size_t i = 0; i < 3; i++) {
		static const char *const inline_keys[] = {"secret", "password",
		                                          "token"};

		if (gh_conf_str(c, section, inline_keys[i]) != NULL)
			nd_log(&d->log, ND_LOG_WARN, "[%s] %s: a secret in %s "
			       "is readable by every part that reads it (the "
			       "milter, nginx, PAM); use %s_file, readable by "
			       "notifyd's user only", section, inline_keys[i],
			       gh_conf_source(c), inline_keys[i]);
	}
	cs = nd_cstate_get(d, ch->name);
	if (cs == NULL)
		return GH_ENOMEM;
	ch->cs = cs;
	/* A reload keeps the breaker's state and takes the new settings. */
	if (cs->breaker.threshold == 0)
		nd_breaker_init(&cs->breaker,
		                (int)gh_conf_int(c, section, "breaker_threshold"),
		                gh_conf_int(c, section, "breaker_cooldown"));
	cs->breaker.threshold = (int)gh_conf_int(c, section, "breaker_threshold");
	cs->breaker.cooldown_ms = gh_conf_int(c, section, "breaker_cooldown");
	burst = gh_conf_int(c, section, "burst");
	if (r == 0) {
		cs->limited = 0;
	} else if (!cs->limited || cs->bucket.rate != r ||
	           cs->bucket.per_ms != per ||
	           (burst > 0 && cs->bucket.burst != burst)) {
		if (nd_tbucket_init(&cs->bucket, r, per, burst, d->now) != GH_OK) {
			snprintf(detail, dlen, "[%s] rate/burst: out of range",
			         section);
			return GH_ECONFIG;
		}
		cs->limited = 1;
	}
	return GH_OK;
}

/* ---- routes ---- */

static gh_err
route_init(struct nd_rt *rt, struct nd_route *ro, const char *section,
           char *detail, size_t dlen)
{
	const struct gh_conf *c = rt->conf;
	const char *m = gh_conf_str(c, section, "user_match");
	struct nd_words addrs;
	gh_err err;

	snprintf(ro->name, sizeof(ro->name), "%s", section + strlen("route."));
	err = words_split(gh_conf_str(c, section, "types"), &ro->types);
	if (err == GH_OK)
		err = words_split(gh_conf_str(c, section, "categories"),
		                  &ro->categories);
	if (err == GH_OK)
		err = words_split(gh_conf_str(c, section, "sources"), &ro->sources);
	if (err == GH_OK)
		err = words_split(gh_conf_str(c, section, "users"), &ro->users);
	if (err == GH_OK)
		err = chan_list(rt, section, "channels", &ro->chans, detail, dlen);
	if (err)
		return err;
	for (size_t i = 0; i < ro->chans.n; i++) {
		const struct nd_kind *k = ro->chans.v[i]->kind;

		if (k->contact != ND_CONTACT_CHAT) {
			snprintf(detail, dlen, "%s:%u: [%s] channels: '%s' is a %s "
			         "channel, which needs an address per recipient: "
			         "list it in users or addresses instead",
			         gh_conf_source(c), gh_conf_line(c, section,
			         "channels"), section, ro->chans.v[i]->name,
			         k->name);
			return GH_ECONFIG;
		}
	}
	ro->match = m && strcmp(m, "system") == 0 ? ND_UM_SYSTEM :
	            m && strcmp(m, "unknown") == 0 ? ND_UM_UNKNOWN : ND_UM_ANY;
	err = words_split(gh_conf_str(c, section, "addresses"), &addrs);
	if (err)
		return err;
	if (addrs.n) {
		ro->addrs = calloc(addrs.n, sizeof(*ro->addrs));
		if (ro->addrs == NULL)
			err = GH_ENOMEM;
	}
	for (size_t i = 0; err == GH_OK && i < addrs.n; i++) {
		char *colon = strchr(addrs.v[i], ':');
		struct nd_chan *ch;

		if (colon) {
			*colon = '\0';
			ch = nd_rt_chan(rt, addrs.v[i]);
		}
		if (colon == NULL || ch == NULL || colon[1] == '\0') {
			if (colon)
				*colon = ':';
			snprintf(detail, dlen, "%s:%u: [%s] addresses: '%s' is not "
			         "CHANNEL:ADDRESS with a configured channel",
			         gh_conf_source(c),
			         gh_conf_line(c, section, "addresses"), section,
			         addrs.v[i]);
			err = GH_ECONFIG;
			break;
		}
		ro->addrs[ro->naddrs].ch = ch;
		ro->addrs[ro->naddrs].to = strdup(colon + 1);
		if (ro->addrs[ro->naddrs].to == NULL) {
			err = GH_ENOMEM;
			break;
		}
		ro->naddrs++;
	}
	words_free(&addrs);
	return err;
}

static void
route_free(struct nd_route *ro)
{
	words_free(&ro->types);
	words_free(&ro->categories);
	words_free(&ro->sources);
	words_free(&ro->users);
	free(ro->chans.v);
	for (size_t i = 0; i < ro->naddrs; i++)
		free(ro->addrs[i].to);
	free(ro->addrs);
}

/* ---- the runtime ---- */

static void
rt_free(struct nd_rt *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->nchans; i++)
		if (rt->chans[i].kind && rt->chans[i].kind->fini)
			rt->chans[i].kind->fini(&rt->chans[i]);
	free(rt->chans);
	for (size_t i = 0; i < rt->nroutes; i++)
		route_free(&rt->routes[i]);
	free(rt->routes);
	free(rt->defaults.v);
	free(rt->security.v);
	free(rt->digest.v);
	words_free(&rt->opt_in);
	words_free(&rt->admins);
	nd_tmpl_set_free(rt->tmpl);
	nd_tzcache_free(rt->tz);
	gh_conf_free(rt->conf);
	free(rt);
}

void
nd_rt_ref(struct nd_rt *rt)
{
	rt->refs++;
}

void
nd_rt_unref(struct nd_rt *rt)
{
	if (rt && --rt->refs == 0)
		rt_free(rt);
}

/*
 * [notifyd] login_fallback and what it needs: the smtp channel it mails
 * through and the admins' addresses (which events for "admins" that no
 * route takes use as well).  The default channel name, "mail",
 * is the shipped configuration's local MTA; without such a channel the
 * fallback cannot mail, which is said once here and on each event
 * (resolve.c), while a channel named on purpose must exist.
 */
static gh_err
fallback_init(struct nd *d, struct nd_rt *rt, char *detail, size_t dlen)
{
	const struct gh_conf *c = rt->conf;
	const char *mode = gh_conf_str(c, "notifyd", "login_fallback");
	const char *name = gh_conf_str(c, "notifyd", "login_fallback_channel");
	struct nd_chan *ch;
	gh_err err;

	rt->fallback = mode && strcmp(mode, "none") == 0 ? ND_FB_NONE :
	               mode && strcmp(mode, "admin") == 0 ? ND_FB_ADMIN :
	               ND_FB_LOCAL;
	err = words_split(gh_conf_str(c, "notifyd", "admin_addresses"),
	                  &rt->admins);
	if (err)
		return err;
	for (size_t i = 0; i < rt->admins.n; i++) {
		if (nd_mime_addr_ok(rt->admins.v[i]))
			continue;
		snprintf(detail, dlen, "%s:%u: [notifyd] admin_addresses: '%s' "
		         "is not a mail address", gh_conf_source(c),
		         gh_conf_line(c, "notifyd", "admin_addresses"),
		         rt->admins.v[i]);
		return GH_ECONFIG;
	}
	ch = name ? nd_rt_chan(rt, name) : NULL;
	if (ch != NULL && ch->kind->contact == ND_CONTACT_EMAIL) {
		/* events for "admins" no route takes are mailed through it
		 * too (resolve.c), whatever login_fallback is */
		rt->admin_ch = ch;
		if (rt->fallback != ND_FB_NONE)
			rt->fallback_ch = ch;
		return GH_OK;
	}
	if (rt->fallback == ND_FB_NONE)
		return GH_OK;
	/* A channel named on purpose must do; the default name may belong
	 * to a configuration older than the fallback, which keeps working. */
	if (gh_conf_is_set(c, "notifyd", "login_fallback_channel")) {
		char where[256];

		snprintf(where, sizeof(where), "%s:%u: [notifyd] "
		         "login_fallback_channel", gh_conf_source(c),
		         gh_conf_line(c, "notifyd", "login_fallback_channel"));
		if (ch == NULL)
			snprintf(detail, dlen, "%s: no channel named '%s' (add a "
			         "[channel.%s] section of type smtp)", where, name,
			         name);
		else
			snprintf(detail, dlen, "%s: '%s' is a %s channel; "
			         "login_fallback mails, through an smtp channel",
			         where, name, ch->kind->name);
		return GH_ECONFIG;
	}
	nd_log(&d->log, ND_LOG_WARN, "login_fallback = %s, but there is no "
	       "smtp channel [channel.%s] to mail through: login alerts for "
	       "users without contacts are not mailed (add one, pointing at "
	       "the local MTA, name another in login_fallback_channel, or set "
	       "login_fallback = none)", mode ? mode : "local",
	       name ? name : "mail");
	return GH_OK;
}

/*
 * The shipped templates first, then the admin's directory, whose files
 * replace shipped ones of the same name: a package upgrade brings new
 * shipped templates without touching what the admin changed in /etc.
 * Either directory may be missing (no overrides is the normal case); a
 * bad file in either is an error, as a start or reload must not go on with
 * half a set.
 */
static gh_err
load_templates(struct nd *d, struct nd_rt *rt, char *detail, size_t dlen)
{
	const char *shipped = gh_conf_str(rt->conf, "notifyd",
	                                  "shipped_templates");
	const char *dir = gh_conf_str(rt->conf, "notifyd", "templates");
	char why[512];
	gh_err err = nd_tmpl_set_empty(&rt->tmpl);

	if (err)
		return err;
	err = nd_tmpl_set_add_dir(rt->tmpl, shipped, NULL, why, sizeof(why));
	if (err == GH_ENOTFOUND) {
		nd_log(&d->log, ND_LOG_WARN, "no shipped templates in %s "
		       "([notifyd] shipped_templates): events without a "
		       "template in %s use the built-in text", shipped, dir);
		err = GH_OK;
	} else if (err) {
		snprintf(detail, dlen, "templates in %s: %s", shipped, why);
		return err;
	}
	err = nd_tmpl_set_add_dir(rt->tmpl, dir, NULL, why, sizeof(why));
	if (err == GH_ENOTFOUND)
		err = GH_OK;
	else if (err)
		snprintf(detail, dlen, "templates in %s: %s", dir, why);
	return err;
}

gh_err
nd_rt_load(struct nd *d, struct gh_conf *conf, struct nd_rt **out,
           char *detail, size_t dlen)
{
	struct sec_list secs = {NULL, 0, 0};
	struct nd_rt *rt = calloc(1, sizeof(*rt));
	const char *at;
	gh_err err = GH_OK;
	int mins = 0;

	*out = NULL;
	if (rt == NULL)
		return GH_ENOMEM;
	rt->refs = 1;
	rt->conf = conf;
	rt->batch = (int)gh_conf_int(conf, "notifyd", "batch");
	rt->max_events = (int)gh_conf_int(conf, "notifyd", "max_events");
	if (rt->max_events < rt->batch)
		rt->max_events = rt->batch;
	rt->concurrency = (int)gh_conf_int(conf, "notifyd", "concurrency");
	rt->poll_ms = gh_conf_int(conf, "notifyd", "poll_interval");
	rt->shutdown_ms = gh_conf_int(conf, "notifyd", "shutdown_timeout");
	rt->vis_ms = gh_conf_int(conf, "queue", "visibility");
	rt->qstats_ms = gh_conf_int(conf, "notifyd", "metrics_queue_interval");
	gh_retention_from_conf(conf, &rt->ret);
	rt->ret_interval = gh_conf_int(conf, "retention", "interval");
	at = gh_conf_str(conf, "notifyd", "digest_at");
	if (at == NULL || nd_hhmm_parse(at, &mins) != GH_OK) {
		snprintf(detail, dlen, "%s: [notifyd] digest_at: '%s' is not "
		         "HH:MM", gh_conf_source(conf), at ? at : "");
		err = GH_ECONFIG;
		goto fail;
	}
	rt->digest_at = mins;
	at = gh_conf_str(conf, "notifyd", "default_language");
	if (at == NULL || gh_lang_tag_canon(at, rt->deflang,
	                                    sizeof(rt->deflang)) != GH_OK) {
		snprintf(detail, dlen, "%s: [notifyd] default_language: '%s' is "
		         "not a language tag (like en, ko or pt-BR)",
		         gh_conf_source(conf), at ? at : "");
		err = GH_ECONFIG;
		goto fail;
	}
	err = words_split(gh_conf_str(conf, "notifyd", "opt_in_categories"),
	                  &rt->opt_in);
	if (err)
		goto fail;

	gh_conf_sections(conf, "channel.", collect_section, &secs);
	if (secs.oom) {
		err = GH_ENOMEM;
		goto fail;
	}
	/* one more for the implicit inbox */
	rt->chans = calloc(secs.n + 1, sizeof(*rt->chans));
	if (rt->chans == NULL) {
		err = GH_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < secs.n; i++) {
		err = chan_init(d, rt, &rt->chans[i], secs.v[i], NULL, detail,
		                dlen);
		rt->nchans = i + 1;
		if (err)
			goto fail;
	}
	/* The inbox needs nothing configured: it is there unless a section
	 * of that name says otherwise. */
	if (nd_rt_chan(rt, "inbox") == NULL) {
		err = chan_init(d, rt, &rt->chans[rt->nchans], "channel.inbox",
		                &nd_kind_inbox, detail, dlen);
		rt->nchans++;
		if (err)
			goto fail;
	}
	sec_list_free(&secs);
	memset(&secs, 0, sizeof(secs));

	gh_conf_sections(conf, "route.", collect_section, &secs);
	if (secs.oom) {
		err = GH_ENOMEM;
		goto fail;
	}
	if (secs.n) {
		rt->routes = calloc(secs.n, sizeof(*rt->routes));
		if (rt->routes == NULL) {
			err = GH_ENOMEM;
			goto fail;
		}
	}
	for (size_t i = 0; i < secs.n; i++) {
		rt->nroutes = i + 1;
		err = route_init(rt, &rt->routes[i], secs.v[i], detail, dlen);
		if (err)
			goto fail;
	}

	err = chan_list(rt, "notifyd", "default_channels", &rt->defaults,
	                detail, dlen);
	if (err == GH_OK) {
		rt->security_set = gh_conf_is_set(conf, "notifyd",
		                                  "security_channels");
		err = chan_list(rt, "notifyd", "security_channels", &rt->security,
		                detail, dlen);
	}
	if (err == GH_OK) {
		rt->digest_set = gh_conf_is_set(conf, "notifyd", "digest_channels");
		err = chan_list(rt, "notifyd", "digest_channels", &rt->digest,
		                detail, dlen);
	}
	if (err)
		goto fail;
	err = fallback_init(d, rt, detail, dlen);
	if (err)
		goto fail;
	err = load_templates(d, rt, detail, dlen);
	if (err)
		goto fail;
	err = nd_tzcache_new(gh_conf_str(conf, "notifyd", "zoneinfo"),
	                     TZ_CACHE_SIZE, &rt->tz);
	if (err)
		goto fail;
	sec_list_free(&secs);
	*out = rt;
	return GH_OK;
fail:
	sec_list_free(&secs);
	rt->conf = NULL;   /* the caller still owns conf on failure */
	rt_free(rt);
	return err;
}
