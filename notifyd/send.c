/*
 * send.c - a delivery's request: the message rendered from the templates
 * (subject, text and, for mail, HTML), built by the channel kind, added to
 * libcurl's multi handle.  No thread per request: libcurl runs all of them
 * on the daemon's one thread and keeps connections for reuse.  Finished
 * requests keep their easy handles in a pool for the next ones, rather
 * than a handle made and cleaned up per request.
 *
 * A message that cannot be rendered or built would fail the same way on
 * every attempt, so its delivery is dead at once; only running out of
 * memory, which is not the delivery's fault, defers it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "nd.h"
#include "core/payload.h"

#define POOL_MAX 512
#define SUBJECT_MAX 998
#define TEXT_MAX (64 * 1024)
#define HTML_MAX (256 * 1024)

gh_err
nd_req_pool_init(struct nd *d)
{
	d->poolcap = POOL_MAX;
	d->pool = calloc(d->poolcap, sizeof(*d->pool));
	return d->pool ? GH_OK : GH_ENOMEM;
}

void
nd_req_pool_fini(struct nd *d)
{
	for (size_t i = 0; i < d->npool; i++) {
		curl_easy_cleanup(d->pool[i]->easy);
		free(d->pool[i]);
	}
	free(d->pool);
	d->pool = NULL;
	d->npool = 0;
}

/* A request with its easy handle: from the pool, or new. */
struct nd_req *
nd_req_get(struct nd *d)
{
	struct nd_req *r;

	if (d->npool > 0)
		return d->pool[--d->npool];
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->easy = curl_easy_init();
	if (r->easy == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
nd_req_put(struct nd *d, struct nd_req *r)
{
	CURL *e;

	if (r == NULL)
		return;
	nd_req_reset(r);
	e = r->easy;
	if (e == NULL || d->npool == d->poolcap) {
		if (e)
			curl_easy_cleanup(e);
		free(r);
		return;
	}
	curl_easy_reset(e);
	memset(r, 0, sizeof(*r));
	r->easy = e;
	d->pool[d->npool++] = r;
}

/* The language directory of a template's file name ("ko/x.txt": "ko/"),
 * as a length: 0 for the files outside them. */
static size_t
lang_prefix(const char *name)
{
	const char *slash = name ? strchr(name, '/') : NULL;

	return slash ? (size_t)(slash - name) + 1 : 0;
}

/* Render subject, text and (for mail) HTML for one target, in the
 * language of its user (default_language for others). */
static gh_err
render(struct nd *d, struct nd_job *job, struct nd_target *t, json_t *vars,
       char **subject, char **text, char **html)
{
	struct nd_tmpl_set *set = job->rt->tmpl;
	const char *kind = t->ch->kind->name;
	const char *lang = t->user ? t->user->lang : NULL;
	const char *deflang = job->rt->deflang;
	const char *tname = NULL, *hname = NULL;
	int fb_s = 0, fb_t = 0, fb_h = 0;
	size_t hl, tl;
	gh_err err;

	*subject = *text = *html = NULL;
	err = nd_tmpl_render_part(set, lang, deflang, vars, t->ch->name, kind,
	                          GH_TMPL_SUBJECT, SUBJECT_MAX, subject, &fb_s,
	                          NULL);
	if (err == GH_OK)
		err = nd_tmpl_render_part(set, lang, deflang, vars, t->ch->name,
		                          kind, GH_TMPL_TEXT, TEXT_MAX, text, &fb_t,
		                          NULL);
	if (err == GH_OK && !fb_t) {
		nd_tmpl_find(set, lang, deflang, job->type, t->ch->name, kind,
		             GH_TMPL_TEXT, &tl, &tname);
		nd_tmpl_find(set, lang, deflang, job->type, t->ch->name, kind,
		             GH_TMPL_HTML_BODY, &hl, &hname);
	}
	/* A text template without an HTML one in the same language: send
	 * the text alone rather than beside a built-in HTML, or one in
	 * another language, that says otherwise. */
	if (err == GH_OK && (t->ch->kind->flags & ND_KIND_HTML) &&
	    (fb_t || (hname && tname && lang_prefix(hname) == lang_prefix(tname) &&
	              strncmp(hname, tname, lang_prefix(tname)) == 0))) {
		err = nd_tmpl_render_part(set, lang, deflang, vars, t->ch->name,
		                          kind, GH_TMPL_HTML_BODY, HTML_MAX, html,
		                          &fb_h, NULL);
	}
	if (err)
		return err;
	if (fb_s && nd_tmpl_missing_once(set, job->type, kind, GH_TMPL_SUBJECT))
		nd_log(&d->log, ND_LOG_INFO, "no subject template for %s on %s: "
		       "using the event's title", job->type, kind);
	if (fb_t && nd_tmpl_missing_once(set, job->type, kind, GH_TMPL_TEXT))
		nd_log(&d->log, ND_LOG_INFO, "no text template for %s on %s: "
		       "using the built-in text", job->type, kind);
	return GH_OK;
}

static json_t *
target_vars(struct nd_job *job, const struct nd_target *t)
{
	json_t *v = nd_job_vars(job) ? json_copy(job->vars) : NULL;
	const char *name;

	if (v == NULL)
		return NULL;
	/* how a message greets its reader: a name, else whom it is for */
	name = t->user ? (t->user->name ? t->user->name : t->user->id) :
	       t->recipient;
	json_object_set_new(v, "recipient", json_string(t->recipient));
	json_object_set_new(v, "channel", json_string(t->chname));
	json_object_set_new(v, "name", json_string(name));
	return v;
}

void
nd_msg_fill(struct nd *d, const struct nd_job *job,
            const struct nd_target *t, const json_t *vars, const char *idem,
            struct nd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->ev = vars;
	m->event_id = job->id;
	m->channel = t->chname;
	m->recipient = t->recipient;
	m->contact = t->contact;
	m->user = t->user ? t->user->id : NULL;
	m->user_name = t->user ? t->user->name : NULL;
	m->idem_key = idem;
	m->now_ms = d->now;
}

/*
 * The delivery's idempotency key: EVENT_ID:CHANNEL:RECIPIENT; in the
 * multi-host mode, for an event from another host, ORIGIN:CHANNEL:
 * RECIPIENT (pickup.h, metadata.gatehouse_origin): event ids are this
 * instance's, and another instance may hold the same event (taken again
 * after a crash) or another event under the same id.
 */
gh_err
nd_target_idem_key(const struct nd *d, const struct nd_job *job,
                   const struct nd_target *t, char *out, size_t cap)
{
	const char *o = json_string_value(json_object_get(
	    json_object_get(job->ev, "metadata"), "gatehouse_origin"));
	int n;

	if (d->natsin == NULL || o == NULL)
		return nd_idem_key(out, cap, job->id, t->chname, t->recipient);
	n = snprintf(out, cap, "%s:%s:%s", o, t->chname,
	             t->recipient && *t->recipient ? t->recipient : "*");
	return n < 0 || (size_t)n >= cap ? GH_ETOOBIG : GH_OK;
}

/* Build and launch the request of target i; the gates are passed. */
void
nd_launch(struct nd *d, struct nd_job *job, size_t i)
{
	struct nd_target *t = &job->t[i];
	struct nd_chan *ch = t->ch;
	struct nd_cstate *cs = ch->cs;
	char idem[GH_IDEM_KEY_MAX], err[256], line[320];
	char *subject = NULL, *text = NULL, *html = NULL;
	/* a kind that sends the event as data needs no template variables:
	 * its payload builder picks the event's own fields */
	json_t *vars = (ch->kind->flags & ND_KIND_RAW) ?
	               json_incref(job->vars ? job->vars : job->ev) :
	               target_vars(job, t);
	struct nd_req *r = nd_req_get(d);
	struct nd_msg m;
	gh_err e = GH_ENOMEM;

	err[0] = '\0';
	if (vars == NULL || r == NULL)
		goto fail;
	r->owner = job;
	r->target = i;
	r->now_ms = d->now;
	r->retry_after_ms = -1;
	e = nd_target_idem_key(d, job, t, idem, sizeof(idem));
	if (e == GH_OK && !(ch->kind->flags & ND_KIND_RAW))
		e = render(d, job, t, vars, &subject, &text, &html);
	if (e) {
		snprintf(err, sizeof(err), "cannot render the message: %s",
		         gh_strerror(e));
		goto fail;
	}
	nd_msg_fill(d, job, t, vars, idem, &m);
	m.subject = subject;
	m.text = text;
	m.html = html;
	e = ch->kind->build(ch, &m, r, err, sizeof(err));
	if (e)
		goto fail;
	/* The last look at the clock before the request leaves: rendering
	 * and building took time, and the turn's clock was read before the
	 * lease.  An event past expires_at is never sent. */
	if (job->expires_at && nd_clock_now(&d->clock) >= job->expires_at) {
		if (t->probe)
			nd_breaker_cancel(&cs->breaker);
		t->probe = 0;
		nd_req_put(d, r);
		nd_job_expire(d, job, "expired before it was sent");
		goto cleanup;
	}
	if (curl_multi_add_handle(d->multi, r->easy) != CURLM_OK) {
		e = GH_ENOMEM;
		snprintf(err, sizeof(err), "libcurl refused the request");
		goto fail;
	}
	t->st = ND_T_INFLIGHT;
	t->req = r;
	job->inflight++;
	cs->inflight++;
	d->inflight++;
	goto cleanup;
fail:
	if (t->probe)
		nd_breaker_cancel(&cs->breaker);
	t->probe = 0;
	nd_req_put(d, r);
	if (e == GH_ENOMEM && err[0] == '\0') {
		/* not the delivery's fault: try again in a while */
		nd_target_set(t, ND_T_DEFERRED, d->now + 1000, "out of memory");
		goto cleanup;
	}
	/* The same message would fail the same way: dead at once. */
	t->attempts++;
	t->failed_now = 1;
	snprintf(t->error, sizeof(t->error), "%s", err);
	nd_target_set(t, ND_T_DEAD, 0, NULL);
	cs->dead++;
	snprintf(line, sizeof(line), "dead: %s", err);
	nd_tlog(d, ND_LOG_WARN, job, t, line);
cleanup:
	free(subject);
	free(text);
	free(html);
	json_decref(vars);
}
