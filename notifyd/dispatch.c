/*
 * dispatch.c - the dispatcher: lease due events, resolve their targets,
 * send through libcurl's multi interface, record every outcome, settle
 * each event with the queue.
 *
 * ONE TURN of the event loop (nd_dispatch_turn, then curl_multi_poll, then
 * nd_dispatch_io):
 *   1. lease   when there is room (max_events) and it is time: up to batch
 *              events in one write transaction, then their targets are
 *              resolved in one read transaction (resolve.c);
 *   2. start   each target that may go now: expiry, quiet hours, capacity
 *              (concurrency overall and per channel), circuit breaker and
 *              rate limit are checked in that order, then the message is
 *              rendered and the channel builds its request, which joins
 *              the multi handle.  No thread per request: libcurl runs all
 *              of them on this thread and keeps connections for reuse;
 *   3. collect finished transfers: the channel classifies the answer,
 *              breaker and counters are told, a failure gets its next
 *              time from the backoff (Retry-After honoured) or, past
 *              max_attempts or on a permanent answer, is dead-lettered;
 *   4. record  events with nothing left in flight are written in batches:
 *              one write transaction holds the delivery records of many
 *              events and the local deliveries (inbox, digest holds), so
 *              an inbox item and its record appear together;
 *   5. settle  then each event is acked (every target finished), dead-
 *              lettered (a target died), retried (a target failed this
 *              round: an attempt is counted), deferred (waiting for quiet
 *              hours, a breaker, a rate limit, a digest's time: no attempt
 *              counted) or released (shutting down before it started).
 *              Acks, defers and releases are batched too.
 * No transaction is ever held across network I/O.
 *
 * WAKING UP.  Producers do not signal notifyd; it learns of new events by
 * watching the store's data file with inotify (every commit of any
 * process writes it) and leases at once, and otherwise every
 * poll_interval.  Its own commits wake it too: that costs one empty lease,
 * which writes nothing.
 *
 * CRASHES.  Records are written before the queue is told; a SIGKILL
 * between the two leaves an event leased with some targets recorded as
 * delivered: its lease runs out, it is leased again, and only what is not
 * recorded as finished is sent again.  What was sent but not recorded is
 * sent twice, with the same idempotency key.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "gatehouse/users.h"
#include "civil.h"
#include "http.h"
#include "nd.h"
#include "payload.h"

#define POOL_MAX 512
#define COMMIT_BATCH 128        /* events recorded per transaction, at most */
#define COMMIT_DELAY_MS 20      /* longest a finished event waits for more */
#define WAIT_INLINE_MS 2000     /* rate-limit waits shorter than this are
                                   waited out in memory, longer ones go back
                                   to the queue */
#define BUSY_WAIT_MS 10000      /* a delivery that found no free slot of
                                   its channel for this long goes back to
                                   the queue, so a slow receiver cannot fill
                                   memory and hold back the others */
#define SUBJECT_MAX 998
#define TEXT_MAX (64 * 1024)
#define HTML_MAX (256 * 1024)

/* ---- requests ---- */

/* A request with its easy handle: from the pool, or new. */
static struct nd_req *
req_get(struct nd *d)
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

static void
req_free(struct nd *d, struct nd_req *r)
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

gh_err
nd_dispatch_init(struct nd *d)
{
	char path[4096];

	d->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	snprintf(path, sizeof(path), "%s/data.mdb", gh_store_path(d->st));
	if (d->watch_fd >= 0 &&
	    inotify_add_watch(d->watch_fd, path, IN_MODIFY) < 0) {
		nd_log(&d->log, ND_LOG_WARN, "cannot watch %s (%s): new events "
		       "are found by polling only", path, strerror(errno));
		close(d->watch_fd);
		d->watch_fd = -1;
	}
	d->multi = curl_multi_init();
	if (d->multi == NULL)
		return GH_ENOMEM;
	d->poolcap = POOL_MAX;
	d->pool = calloc(d->poolcap, sizeof(*d->pool));
	if (d->pool == NULL)
		return GH_ENOMEM;
	curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 256L);
	curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return GH_OK;
}

/* ---- jobs ---- */

static void
job_free(struct nd *d, struct nd_job *job)
{
	for (size_t i = 0; i < job->nt; i++) {
		struct nd_target *t = &job->t[i];

		if (t->req) {
			curl_multi_remove_handle(d->multi, t->req->easy);
			req_free(d, t->req);
		}
		free(t->recipient);
		json_decref(t->contact);
	}
	free(job->t);
	for (size_t i = 0; i < job->nusers; i++) {
		free(job->users[i]->id);
		json_decref(job->users[i]->contacts);
		json_decref(job->users[i]->prefs);
		free(job->users[i]);
	}
	free(job->users);
	free(job->digest_ids);
	json_decref(job->records);
	json_decref(job->vars);
	gh_lease_release(&job->lease, 1);
	nd_rt_unref(job->rt);
	free(job);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

json_t *
nd_job_vars(struct nd_job *job)
{
	char when[40];
	struct gh_civil c;
	int64_t created;

	if (job->vars)
		return job->vars;
	job->vars = json_copy(job->ev);
	if (job->vars == NULL)
		return NULL;
	json_object_del(job->vars, "q");
	created = json_integer_value(json_object_get(job->ev, "created_at"));
	gh_civil_from_secs(gh_floor_div(created, 1000), &c);
	snprintf(when, sizeof(when), "%04lld-%02d-%02d %02d:%02d UTC",
	         (long long)c.year, c.mon, c.mday, c.hour, c.min);
	json_object_set_new(job->vars, "created", json_string(when));
	json_object_set_new(job->vars, "priority_name",
	                    json_string(gh_priority_name(job->priority)));
	return job->vars;
}

static struct nd_job *
job_new(struct nd *d, struct gh_lease *l)
{
	struct nd_job *job = calloc(1, sizeof(*job));
	const json_t *q;

	if (job == NULL)
		return NULL;
	job->lease = *l;
	l->event = NULL;
	job->id = job->lease.id;
	job->ev = job->lease.event;
	job->rt = d->rt;
	nd_rt_ref(d->rt);
	job->type = jstr(job->ev, "type");
	job->category = jstr(job->ev, "category");
	job->source = jstr(job->ev, "source");
	job->user = jstr(job->ev, "user");
	if (job->type == NULL)
		job->type = "event";
	if (job->category == NULL)
		job->category = "system";
	if (job->source == NULL)
		job->source = "app";
	job->priority = (int)json_integer_value(json_object_get(job->ev,
	                                                        "priority"));
	q = json_object_get(job->ev, "q");
	job->expires_at = json_integer_value(json_object_get(q, "expires_at"));
	job->lease_until = json_integer_value(json_object_get(q, "lease_until"));
	job->digest = strcmp(job->type, "digest") == 0 &&
	              strcmp(job->source, "notifyd") == 0;
	return job;
}

/* ---- leasing ---- */

struct resolve_arg {
	struct nd *d;
	struct nd_job **jobs;
	size_t n;
};

static gh_err
resolve_fn(struct gh_txn *txn, void *arg)
{
	struct resolve_arg *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		gh_err err = nd_resolve_txn(a->d, txn, a->jobs[i]);

		if (err)
			return err;
	}
	return GH_OK;
}

/* Most urgent first, then the oldest. */
static int
job_order(const void *a, const void *b)
{
	const struct nd_job *x = *(const struct nd_job *const *)a;
	const struct nd_job *y = *(const struct nd_job *const *)b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void
lease_batch(struct nd *d)
{
	struct nd_rt *rt = d->rt;
	size_t room = (size_t)rt->max_events - d->njobs, want, n = 0, k = 0;
	struct gh_lease *l;
	struct nd_job **jobs;
	struct resolve_arg ra;
	gh_err err;

	want = room < (size_t)rt->batch ? room : (size_t)rt->batch;
	if (want == 0)
		return;
	l = calloc(want, sizeof(*l));
	jobs = calloc(want, sizeof(*jobs));
	if (l == NULL || jobs == NULL)
		goto cleanup;
	err = gh_queue_lease(d->st, d->now, want, rt->vis_ms, l, &n);
	if (err && n == 0) {
		d->store_errors++;
		nd_log(&d->log, err == GH_ELOCKED ? ND_LOG_WARN : ND_LOG_ERR,
		       "cannot lease events: %s", gh_strerror(err));
		d->next_lease = d->tick + rt->poll_ms;
		goto cleanup;
	}
	/* A full batch means more may be waiting: come back at once. */
	d->next_lease = n < want ? d->tick + rt->poll_ms : d->tick;
	if (n == 0)
		goto cleanup;
	d->leased += n;
	for (size_t i = 0; i < n; i++) {
		struct nd_job *job = job_new(d, &l[i]);

		if (job == NULL) {
			/* it comes back when its lease runs out */
			nd_log(&d->log, ND_LOG_ERR, "event %" PRIu64 ": out of "
			       "memory", l[i].id);
			continue;
		}
		jobs[k++] = job;
	}
	ra.d = d;
	ra.jobs = jobs;
	ra.n = k;
	err = gh_store_view(d->st, resolve_fn, &ra);
	if (err) {
		d->store_errors++;
		nd_log(&d->log, ND_LOG_ERR, "cannot read recipients of %zu "
		       "events: %s; giving them back", k, gh_strerror(err));
		for (size_t i = 0; i < k; i++) {
			gh_queue_release(d->st, &jobs[i]->lease, 1, d->now);
			job_free(d, jobs[i]);
		}
		d->next_lease = d->tick + rt->poll_ms;
		goto cleanup;
	}
	/* Slots go to the most urgent first, then the oldest: the batch,
	 * sorted, is merged into the list in one pass. */
	qsort(jobs, k, sizeof(*jobs), job_order);
	{
		struct nd_job **pp = &d->jobs;

		for (size_t i = 0; i < k; i++) {
			while (*pp && job_order(pp, &jobs[i]) < 0)
				pp = &(*pp)->next;
			jobs[i]->next = *pp;
			*pp = jobs[i];
			pp = &jobs[i]->next;
		}
	}
	d->njobs += k;
	d->rescan = 1;
cleanup:
	gh_lease_release(l, n);
	free(l);
	free(jobs);
}

/* ---- starting deliveries ---- */

static void
tlog(struct nd *d, enum nd_level lv, const struct nd_job *job,
     const struct nd_target *t, const char *what)
{
	nd_log(&d->log, lv, "event %" PRIu64 " (%s) %s -> %s: %s", job->id,
	       job->type, t->chname, t->recipient, what);
}

static const struct gh_tz *
user_tz(struct nd *d, struct nd_job *job, const struct nd_user *u)
{
	const struct gh_tz *tz = NULL;

	if (gh_tzcache_get(job->rt->tz, u->tz, &tz) == GH_OK)
		return tz;
	nd_log(&d->log, ND_LOG_WARN, "user %s: unknown time zone '%s', using "
	       "UTC", u->id, u->tz ? u->tz : "");
	if (gh_tzcache_get(job->rt->tz, NULL, &tz) == GH_OK)
		return tz;
	return NULL;
}

static void
settle_target(struct nd_target *t, enum nd_tstate st, int64_t next_at,
              const char *reason)
{
	t->st = st;
	t->next_at = next_at;
	t->dirty = 1;
	if (reason)
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

/* Render subject, text and (for mail) HTML for one target. */
static gh_err
render(struct nd *d, struct nd_job *job, struct nd_target *t, json_t *vars,
       char **subject, char **text, char **html)
{
	struct gh_tmpl_set *set = job->rt->tmpl;
	const char *kind = t->ch->kind->name;
	int fb_s = 0, fb_t = 0, fb_h = 0;
	size_t hl;
	gh_err err;

	*subject = *text = *html = NULL;
	err = gh_tmpl_render_part(set, vars, t->ch->name, kind, GH_TMPL_SUBJECT,
	                          SUBJECT_MAX, subject, &fb_s, NULL);
	if (err == GH_OK)
		err = gh_tmpl_render_part(set, vars, t->ch->name, kind,
		                          GH_TMPL_TEXT, TEXT_MAX, text, &fb_t, NULL);
	if (err == GH_OK && (t->ch->kind->flags & ND_KIND_HTML) &&
	    (fb_t || gh_tmpl_find(set, job->type, t->ch->name, kind,
	                          GH_TMPL_HTML_BODY, &hl, NULL))) {
		/* A text template without an HTML one: send the text alone
		 * rather than beside a built-in HTML that says otherwise. */
		err = gh_tmpl_render_part(set, vars, t->ch->name, kind,
		                          GH_TMPL_HTML_BODY, HTML_MAX, html, &fb_h,
		                          NULL);
	}
	if (err)
		return err;
	if (fb_s && gh_tmpl_missing_once(set, job->type, kind, GH_TMPL_SUBJECT))
		nd_log(&d->log, ND_LOG_INFO, "no subject template for %s on %s: "
		       "using the event's title", job->type, kind);
	if (fb_t && gh_tmpl_missing_once(set, job->type, kind, GH_TMPL_TEXT))
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

static void
fill_msg(struct nd *d, const struct nd_job *job, const struct nd_target *t,
         const json_t *vars, const char *idem, struct nd_msg *m)
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

/* Build and launch the request of target i; the gates are passed. */
static void
launch(struct nd *d, struct nd_job *job, size_t i)
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
	struct nd_req *r = req_get(d);
	struct nd_msg m;
	gh_err e = GH_ENOMEM;

	err[0] = '\0';
	if (vars == NULL || r == NULL)
		goto fail;
	r->owner = job;
	r->target = i;
	r->now_ms = d->now;
	r->retry_after_ms = -1;
	e = gh_idem_key(idem, sizeof(idem), job->id, t->chname, t->recipient);
	if (e == GH_OK && !(ch->kind->flags & ND_KIND_RAW))
		e = render(d, job, t, vars, &subject, &text, &html);
	if (e) {
		snprintf(err, sizeof(err), "cannot render the message: %s",
		         gh_strerror(e));
		goto fail;
	}
	fill_msg(d, job, t, vars, idem, &m);
	m.subject = subject;
	m.text = text;
	m.html = html;
	e = ch->kind->build(ch, &m, r, err, sizeof(err));
	if (e)
		goto fail;
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
		gh_breaker_cancel(&cs->breaker);
	t->probe = 0;
	req_free(d, r);
	if (e == GH_ENOMEM && err[0] == '\0') {
		/* not the delivery's fault: try again in a while */
		settle_target(t, ND_T_DEFERRED, d->now + 1000, "out of memory");
		goto cleanup;
	}
	/* The same message would fail the same way: dead at once. */
	t->attempts++;
	t->failed_now = 1;
	snprintf(t->error, sizeof(t->error), "%s", err);
	settle_target(t, ND_T_DEAD, 0, NULL);
	cs->dead++;
	snprintf(line, sizeof(line), "dead: %s", err);
	tlog(d, ND_LOG_WARN, job, t, line);
cleanup:
	free(subject);
	free(text);
	free(html);
	json_decref(vars);
}

/* Decide whether target i may go now, and start it if so. */
static void
try_start(struct nd *d, struct nd_job *job, size_t i)
{
	struct nd_target *t = &job->t[i];
	struct nd_chan *ch = t->ch;
	struct nd_cstate *cs;
	struct nd_user *u = t->user;
	char why[160];
	int64_t end, wait;

	if (job->expires_at && job->expires_at <= d->now) {
		snprintf(t->error, sizeof(t->error), "expired before delivery");
		settle_target(t, ND_T_EXPIRED, 0, "the event expired first");
		if (ch)
			ch->cs->expired++;
		tlog(d, ND_LOG_INFO, job, t, "expired before delivery");
		return;
	}
	if (ch == NULL)
		return;   /* a digest hold: done when recorded */
	cs = ch->cs;
	if ((ch->kind->flags & ND_KIND_QUIET) && u && u->quiet_set &&
	    job->priority < 4 && !job->digest) {
		const struct gh_tz *tz = user_tz(d, job, u);

		if (tz && gh_quiet_check(&u->quiet, tz, d->now, &end)) {
			snprintf(why, sizeof(why), "quiet hours of %s (%02d:%02d-"
			         "%02d:%02d %s)", u->id, u->quiet.start / 60,
			         u->quiet.start % 60, u->quiet.end / 60,
			         u->quiet.end % 60, u->tz ? u->tz : "UTC");
			settle_target(t, ND_T_DEFERRED, end, why);
			cs->deferred_quiet++;
			tlog(d, ND_LOG_INFO, job, t, why);
			return;
		}
	}
	if (ch->kind->flags & ND_KIND_LOCAL) {
		t->st = ND_T_LOCAL;
		return;
	}
	if (d->inflight >= job->rt->concurrency ||
	    cs->inflight >= ch->concurrency) {
		if (t->st != ND_T_WAIT || t->wait_until != 0)
			t->wait_since = d->tick;
		if (d->tick - t->wait_since >= BUSY_WAIT_MS) {
			snprintf(why, sizeof(why), "%s is busy (%d requests in "
			         "flight)", ch->name, cs->inflight);
			settle_target(t, ND_T_DEFERRED, d->now + BUSY_WAIT_MS, why);
			return;
		}
		t->st = ND_T_WAIT;
		t->wait_until = 0;   /* until a request ends */
		return;
	}
	t->probe = 0;
	if (!gh_breaker_allow(&cs->breaker, d->now)) {
		snprintf(why, sizeof(why), "the circuit breaker of %s is open",
		         ch->name);
		settle_target(t, ND_T_DEFERRED,
		              gh_breaker_retry_at(&cs->breaker, d->now) + 1, why);
		cs->deferred_breaker++;
		tlog(d, ND_LOG_INFO, job, t, why);
		return;
	}
	t->probe = cs->breaker.state == GH_BREAKER_HALF_OPEN;
	if (cs->limited && !gh_tbucket_take(&cs->bucket, d->now, &wait)) {
		if (t->probe)
			gh_breaker_cancel(&cs->breaker);
		t->probe = 0;
		if (wait <= WAIT_INLINE_MS) {
			t->st = ND_T_WAIT;
			t->wait_until = d->now + wait;
			return;
		}
		snprintf(why, sizeof(why), "rate limit of %s", ch->name);
		settle_target(t, ND_T_DEFERRED, d->now + wait, why);
		cs->deferred_rate++;
		tlog(d, ND_LOG_INFO, job, t, why);
		return;
	}
	launch(d, job, i);
}

static int
job_has_work(const struct nd_job *job)
{
	for (size_t i = 0; i < job->nt; i++) {
		enum nd_tstate st = job->t[i].st;

		if (st == ND_T_NEW || st == ND_T_WAIT || st == ND_T_INFLIGHT)
			return 1;
	}
	return 0;
}

/*
 * Start what may start, and mark jobs with nothing left to do as ready.
 * Only when something changed (d->rescan: new jobs, a request ended, a
 * timed wait is over): most turns of a busy loop are libcurl moving bytes.
 */
static void
start_all(struct nd *d)
{
	if (!d->rescan && (d->next_wait == 0 || d->now < d->next_wait))
		return;
	d->rescan = 0;
	d->next_wait = 0;
	for (struct nd_job *job = d->jobs; job; job = job->next) {
		if (job->ready)
			continue;
		if (!d->stopping) {
			for (size_t i = 0; i < job->nt; i++) {
				struct nd_target *t = &job->t[i];

				if (t->st == ND_T_NEW ||
				    (t->st == ND_T_WAIT && (t->wait_until == 0 ||
				                            t->wait_until <= d->now)))
					try_start(d, job, i);
				if (t->st == ND_T_WAIT && t->wait_until &&
				    (d->next_wait == 0 || t->wait_until < d->next_wait))
					d->next_wait = t->wait_until;
			}
		}
		if (job->inflight == 0 && (d->stopping || !job_has_work(job))) {
			job->ready = 1;
			d->nready++;
			if (d->first_ready_at == 0)
				d->first_ready_at = d->tick;
		}
	}
}

/* ---- finished transfers ---- */

static void
finish(struct nd *d, struct nd_req *r, CURLcode rc)
{
	struct nd_job *job = r->owner;
	struct nd_target *t = &job->t[r->target];
	struct nd_chan *ch = t->ch;
	struct nd_cstate *cs = ch->cs;
	char err[256], line[400];
	enum gh_outcome o;

	err[0] = '\0';
	r->rc = rc;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	o = ch->kind->done(ch, r, err, sizeof(err));
	t->req = NULL;
	t->attempts++;
	t->status = r->status;
	t->dirty = 1;
	job->inflight--;
	cs->inflight--;
	d->inflight--;
	switch (o) {
	case GH_OUTCOME_OK:
		gh_breaker_success(&cs->breaker, d->now);
		t->st = ND_T_DELIVERED;
		t->delivered_at = d->now;
		t->error[0] = '\0';
		t->reason[0] = '\0';
		cs->delivered++;
		snprintf(line, sizeof(line), "delivered (%s)", err);
		tlog(d, ND_LOG_INFO, job, t, line);
		break;
	case GH_OUTCOME_PERMANENT:
		/* the receiver answered: the channel is healthy */
		gh_breaker_success(&cs->breaker, d->now);
		t->st = ND_T_DEAD;
		t->failed_now = 1;
		t->gone = r->gone;
		snprintf(t->error, sizeof(t->error), "%s", err);
		cs->failed++;
		cs->dead++;
		snprintf(line, sizeof(line), "dead: %s", err);
		tlog(d, ND_LOG_WARN, job, t, line);
		break;
	case GH_OUTCOME_RETRY:
	default:
		gh_breaker_failure(&cs->breaker, d->now);
		t->failed_now = 1;
		cs->failed++;
		if (t->attempts >= ch->max_attempts) {
			t->st = ND_T_DEAD;
			snprintf(t->error, sizeof(t->error), "gave up after %d "
			         "attempts: %.200s", t->attempts, err);
			cs->dead++;
			snprintf(line, sizeof(line), "dead: %s", t->error);
			tlog(d, ND_LOG_WARN, job, t, line);
		} else {
			int64_t delay = gh_backoff_delay(&ch->backoff, t->attempts,
			                                 r->retry_after_ms,
			                                 gh_rng_os, NULL);

			t->st = ND_T_RETRY;
			t->next_at = d->now + delay;
			snprintf(t->error, sizeof(t->error), "%s", err);
			cs->retried++;
			snprintf(line, sizeof(line), "attempt %d failed, retry in "
			         "%.1fs: %s", t->attempts, (double)delay / 1000.0,
			         err);
			tlog(d, ND_LOG_INFO, job, t, line);
		}
		break;
	}
	t->probe = 0;
	req_free(d, r);
	d->rescan = 1;   /* its job may be done, and a slot is free */
}

void
nd_dispatch_io(struct nd *d)
{
	CURLMsg *msg;
	int running, left;

	curl_multi_perform(d->multi, &running);
	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		struct nd_req *r = NULL;
		CURL *e = msg->easy_handle;
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(d->multi, e);
		if (r)
			finish(d, r, rc);
	}
}

/* ---- recording and settling ---- */

/* What the queue is told about a recorded job. */
enum verdict { V_ACK, V_DEAD, V_RETRY, V_DEFER, V_RELEASE };

/* The state a target ends this round in (a local delivery's result). */
static enum nd_tstate
end_state(const struct nd_target *t)
{
	return t->st == ND_T_LOCAL ? t->after : t->st;
}

static enum verdict
judge(struct nd *d, const struct nd_job *job, int64_t *due,
      const struct nd_target **culprit)
{
	int all_final = 1, failed = 0, dead = 0, moved = 0;
	int64_t first = INT64_MAX;

	*culprit = NULL;
	for (size_t i = 0; i < job->nt; i++) {
		const struct nd_target *t = &job->t[i];
		enum nd_tstate st = end_state(t);
		int failed_now = t->failed_now ||
		                 (t->st == ND_T_LOCAL && st == ND_T_DEAD);

		if (t->dirty || t->st == ND_T_LOCAL)
			moved = 1;
		if (failed_now)
			failed = 1;
		/* the error the event shows: a dead delivery's, else a
		 * failure of this round */
		if ((st == ND_T_DEAD || failed_now) &&
		    (*culprit == NULL || end_state(*culprit) != ND_T_DEAD))
			*culprit = t;
		/* dead in this round or an earlier one: the event is dead
		 * once nothing else is left */
		if (st == ND_T_DEAD)
			dead = 1;
		if (nd_tstate_final(st))
			continue;
		all_final = 0;
		if (st == ND_T_RETRY || st == ND_T_DEFERRED) {
			if (t->next_at < first)
				first = t->next_at;
		} else {
			first = d->now;   /* new or waiting: as soon as possible */
		}
	}
	if (job->digest && job->digest_slot > d->now && job->nt == 0) {
		*due = job->digest_slot;
		return V_DEFER;
	}
	if (all_final)
		return dead ? V_DEAD : V_ACK;
	*due = first;
	if (failed)
		return V_RETRY;
	if (!moved && first <= d->now)
		return V_RELEASE;
	return V_DEFER;
}


struct commit_arg {
	struct nd *d;
	struct nd_job **jobs;
	size_t n;
	/* filled in the transaction: what each job comes to, and the acks
	 * and defers made in that same transaction */
	enum verdict v[COMMIT_BATCH];
	int64_t due[COMMIT_BATCH];
	struct gh_lease acks[COMMIT_BATCH], defers[COMMIT_BATCH];
	size_t ackj[COMMIT_BATCH], defj[COMMIT_BATCH];
	int64_t defdue[COMMIT_BATCH];
	gh_err ackres[COMMIT_BATCH], defres[COMMIT_BATCH];
	size_t nack, ndef;
};

static int
job_digest_sent(const struct nd_job *job)
{
	int any = 0;

	for (size_t i = 0; i < job->nt; i++) {
		enum nd_tstate st = job->t[i].st == ND_T_LOCAL ? job->t[i].after :
		                    job->t[i].st;

		if (!nd_tstate_final(st))
			return 0;
		any |= st == ND_T_DELIVERED;
	}
	return any;
}

static gh_err
record_local(struct nd *d, struct gh_txn *txn, struct nd_job *job,
             struct nd_target *t)
{
	struct nd_target tmp;
	gh_err e;

	t->error[0] = '\0';
	if (t->ch == NULL) {
		e = nd_digest_hold_txn(d, txn, job, t);
		t->after = ND_T_HELD;
	} else {
		struct nd_msg m;

		fill_msg(d, job, t, job->vars ? job->vars : job->ev, NULL, &m);
		e = t->ch->kind->local(t->ch, txn, &m, t->error, sizeof(t->error));
		t->after = ND_T_DELIVERED;
		if (e == GH_OK)
			t->error[0] = '\0';
	}
	if (e == GH_EINVAL || e == GH_ETOOBIG || e == GH_ENOTFOUND) {
		/* this delivery's own fault: it dies, the batch goes on */
		if (t->error[0] == '\0')
			snprintf(t->error, sizeof(t->error), "%s", gh_strerror(e));
		t->after = ND_T_DEAD;
		e = GH_OK;
	}
	if (e)
		return e;
	tmp = *t;
	tmp.st = t->after;
	tmp.attempts = t->attempts + (t->ch ? 1 : 0);
	tmp.delivered_at = t->after == ND_T_DELIVERED ? d->now : 0;
	return nd_record_put_txn(txn, job, &tmp, d->now);
}

static gh_err
commit_fn(struct gh_txn *txn, void *arg)
{
	struct commit_arg *a = arg;
	struct nd *d = a->d;
	gh_err e;

	for (size_t j = 0; j < a->n; j++) {
		struct nd_job *job = a->jobs[j];

		for (size_t i = 0; i < job->nt; i++) {
			struct nd_target *t = &job->t[i];
			const char *ep;

			if (t->st == ND_T_LOCAL)
				e = record_local(d, txn, job, t);
			else if (t->dirty)
				e = nd_record_put_txn(txn, job, t, d->now);
			else
				e = GH_OK;
			/* one record that cannot be written must not hold up
			 * the batch (resolve.c keeps keys within bounds) */
			if (e == GH_ETOOBIG || e == GH_EINVAL)
				e = GH_OK;
			if (e)
				return e;
			ep = json_string_value(json_object_get(t->contact,
			                                       "endpoint"));
			if (t->gone && t->user && ep) {
				e = gh_push_remove_txn(txn, t->user->id, ep, d->now);
				if (e && e != GH_ENOTFOUND)
					return e;
			}
		}
		if (job->digest && job->ndigest > 0 && job_digest_sent(job)) {
			e = nd_digest_mark_txn(d, txn, job);
			if (e)
				return e;
		}
	}
	/* Acks and defers go in the same commit as the records: one fsync
	 * for both, and no window in which an event is recorded as done
	 * but still leased. */
	a->nack = a->ndef = 0;
	for (size_t j = 0; j < a->n; j++) {
		const struct nd_target *c;

		a->due[j] = d->now;
		a->v[j] = judge(d, a->jobs[j], &a->due[j], &c);
		if (a->v[j] == V_ACK) {
			a->ackj[a->nack] = j;
			a->acks[a->nack++] = a->jobs[j]->lease;
		} else if (a->v[j] == V_DEFER) {
			a->defj[a->ndef] = j;
			a->defdue[a->ndef] = a->due[j];
			a->defers[a->ndef++] = a->jobs[j]->lease;
		}
	}
	e = gh_queue_ack_txn(txn, a->acks, a->nack, d->now, a->ackres);
	if (e == GH_OK)
		e = gh_queue_defer_txn(txn, a->defers, a->ndef, d->now, a->defdue,
		                       a->defres);
	return e;
}

static void
stale(struct nd *d, const struct nd_job *job, gh_err e)
{
	if (e == GH_ESTALE || e == GH_ENOTFOUND) {
		d->lease_lost++;
		nd_log(&d->log, ND_LOG_WARN, "event %" PRIu64 ": lease lost (it "
		       "ran out and another consumer took it)", job->id);
	} else if (e) {
		d->store_errors++;
		nd_log(&d->log, ND_LOG_ERR, "event %" PRIu64 ": queue update "
		       "failed: %s", job->id, gh_strerror(e));
	}
}

/* After the commit: what the transaction settled, and what is left. */
static void
settle(struct nd *d, struct commit_arg *a)
{
	struct gh_lease rels[COMMIT_BATCH];
	size_t relj[COMMIT_BATCH], nr = 0;
	gh_err e;

	for (size_t i = 0; i < a->nack; i++) {
		struct nd_job *job = a->jobs[a->ackj[i]];

		stale(d, job, a->ackres[i]);
		if (a->ackres[i] == GH_OK)
			d->acked++;
		if (job->nt == 0)
			nd_log(&d->log, ND_LOG_INFO, "event %" PRIu64 " (%s): "
			       "nobody to notify", job->id, job->type);
	}
	for (size_t i = 0; i < a->ndef; i++) {
		stale(d, a->jobs[a->defj[i]], a->defres[i]);
		if (a->defres[i] == GH_OK)
			d->deferred_events++;
	}
	for (size_t j = 0; j < a->n; j++) {
		struct nd_job *job = a->jobs[j];
		const struct nd_target *c;
		char line[600];
		int64_t due = d->now;
		int dead = 0;

		switch (a->v[j]) {
		case V_DEAD:
			judge(d, job, &due, &c);
			snprintf(line, sizeof(line), "%s -> %s: %s", c->chname,
			         c->recipient, c->error);
			e = gh_queue_retry(d->st, &job->lease, d->now, d->now, line,
			                   1, &dead);
			if (e == GH_OK)
				d->dead_events++;
			stale(d, job, e);
			break;
		case V_RETRY:
			judge(d, job, &due, &c);
			snprintf(line, sizeof(line), "%s -> %s: %s", c->chname,
			         c->recipient, c->error);
			e = gh_queue_retry(d->st, &job->lease, d->now, a->due[j],
			                   line, 0, NULL);
			if (e == GH_OK)
				d->retried_events++;
			stale(d, job, e);
			break;
		case V_RELEASE:
			relj[nr] = j;
			rels[nr++] = job->lease;
			break;
		default:
			break;
		}
	}
	if (nr) {
		e = gh_queue_release(d->st, rels, nr, d->now);
		for (size_t i = 0; i < nr && e; i++)
			stale(d, a->jobs[relj[i]], e);
		if (e == GH_OK)
			d->released += nr;
	}
}

/* Record and settle up to COMMIT_BATCH ready jobs; 1 if any were. */
static int
commit_ready(struct nd *d)
{
	struct nd_job *batch[COMMIT_BATCH];
	struct commit_arg *a;
	struct nd_job **pp;
	gh_err e;
	size_t n = 0;

	for (struct nd_job *job = d->jobs; job && n < COMMIT_BATCH;
	     job = job->next)
		if (job->ready)
			batch[n++] = job;
	if (n == 0)
		return 0;
	if (d->commit == NULL)
		d->commit = malloc(sizeof(*d->commit));   /* kept: 20 KiB */
	a = d->commit;
	if (a == NULL) {
		d->commit_retry_at = d->tick + 1000;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	a->d = d;
	a->jobs = batch;
	a->n = n;
	e = gh_store_update(d->st, commit_fn, a);
	if (e) {
		d->store_errors++;
		nd_log(&d->log, ND_LOG_ERR, "cannot record %zu deliveries: %s; "
		       "trying again", n, gh_strerror(e));
		d->commit_retry_at = d->tick + 1000;
		return 0;
	}
	for (size_t j = 0; j < n; j++) {
		struct nd_job *job = batch[j];

		job->batched = 1;
		for (size_t i = 0; i < job->nt; i++) {
			struct nd_target *t = &job->t[i];

			if (t->st != ND_T_LOCAL)
				continue;
			t->st = t->after;
			if (t->st == ND_T_DEAD)
				t->failed_now = 1;
			if (t->ch) {
				t->attempts++;
				if (t->st == ND_T_DELIVERED)
					t->ch->cs->delivered++;
				else
					t->ch->cs->dead++;
			}
			tlog(d, t->st == ND_T_DEAD ? ND_LOG_WARN : ND_LOG_INFO, job, t,
			     t->st == ND_T_DEAD ? t->error :
			     t->st == ND_T_HELD ? t->reason : "delivered (stored)");
		}
	}
	settle(d, a);
	for (pp = &d->jobs; *pp;) {
		struct nd_job *job = *pp;

		if (!job->batched) {
			pp = &job->next;
			continue;
		}
		*pp = job->next;
		d->njobs--;
		d->nready--;
		job_free(d, job);
	}
	d->first_ready_at = d->nready ? d->tick : 0;
	d->rescan = 1;   /* room for waiting targets and new leases */
	return 1;
}

/* ---- lease upkeep and shutdown ---- */

static void
extend_leases(struct nd *d)
{
	int64_t vis = d->rt->vis_ms;

	if (d->tick < d->next_extend)
		return;
	d->next_extend = d->tick + 250;
	for (struct nd_job *job = d->jobs; job; job = job->next) {
		gh_err e;

		if (job->lost || job->lease_until - d->now > vis / 3)
			continue;
		e = gh_queue_extend(d->st, &job->lease, d->now, vis);
		if (e == GH_OK) {
			job->lease_until = d->now + vis;
		} else if (e == GH_ESTALE || e == GH_ENOTFOUND) {
			job->lost = 1;
			stale(d, job, e);
		}
	}
}

void
nd_dispatch_stop(struct nd *d)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	d->rescan = 1;
	d->stop_deadline = d->tick + d->rt->shutdown_ms;
	nd_log(&d->log, ND_LOG_INFO, "stopping: %d requests in flight, %zu "
	       "events held", d->inflight, d->njobs);
}

/* Past the shutdown deadline: cancel what is in flight, uncounted. */
static void
cancel_inflight(struct nd *d)
{
	for (struct nd_job *job = d->jobs; job; job = job->next) {
		for (size_t i = 0; i < job->nt; i++) {
			struct nd_target *t = &job->t[i];

			if (t->req == NULL)
				continue;
			curl_multi_remove_handle(d->multi, t->req->easy);
			req_free(d, t->req);
			t->req = NULL;
			if (t->probe)
				gh_breaker_cancel(&t->ch->cs->breaker);
			t->probe = 0;
			t->st = ND_T_NEW;
			job->inflight--;
			t->ch->cs->inflight--;
			d->inflight--;
		}
	}
	d->rescan = 1;
}

int
nd_dispatch_watch_fd(const struct nd *d)
{
	return d->watch_fd;
}

void
nd_dispatch_wake(struct nd *d)
{
	char buf[4096];

	while (read(d->watch_fd, buf, sizeof(buf)) > 0)
		;
	if (d->next_lease > d->tick)
		d->next_lease = d->tick;
}

int
nd_dispatch_finished(const struct nd *d)
{
	return d->stopping && d->jobs == NULL;
}

/* Lease only with room for a whole batch (or when nearly idle), so a
 * busy dispatcher does not commit a lease for every event that ends. */
static int
may_lease(const struct nd *d)
{
	size_t max = (size_t)d->rt->max_events, b = (size_t)d->rt->batch;

	return !d->stopping && (d->njobs + b <= max || d->njobs < b) &&
	       d->njobs < max;
}

int
nd_dispatch_turn(struct nd *d)
{
	int64_t timeout = 1000, t;

	if (d->stopping && d->inflight > 0 && d->tick >= d->stop_deadline) {
		nd_log(&d->log, ND_LOG_WARN, "shutdown timeout: giving %d "
		       "requests back unfinished", d->inflight);
		cancel_inflight(d);
	}
	if (d->stopping && d->jobs && d->tick >= d->stop_deadline + 5000) {
		/* The store would not take what we have: let the leases
		 * run out instead, and the events come back. */
		nd_log(&d->log, ND_LOG_ERR, "cannot record %zu events before "
		       "stopping: they come back when their leases run out",
		       d->njobs);
		while (d->jobs) {
			struct nd_job *job = d->jobs;

			d->jobs = job->next;
			job_free(d, job);
		}
		d->njobs = d->nready = 0;
	}
	if (d->tick >= d->next_lease && may_lease(d))
		lease_batch(d);
	start_all(d);
	if (d->first_ready_at && d->tick >= d->commit_retry_at) {
		if (d->nready >= COMMIT_BATCH || d->inflight == 0 || d->stopping ||
		    d->tick - d->first_ready_at >= COMMIT_DELAY_MS)
			while (commit_ready(d))
				;
	}
	extend_leases(d);

	/* How long curl_multi_poll may sleep. */
	if (may_lease(d)) {
		t = d->next_lease - d->tick;
		if (t < timeout)
			timeout = t;
	}
	if (d->first_ready_at) {
		t = d->first_ready_at + COMMIT_DELAY_MS - d->tick;
		if (d->commit_retry_at > d->tick)
			t = d->commit_retry_at - d->tick;
		if (t < timeout)
			timeout = t;
	}
	if (d->next_wait) {
		t = d->next_wait - d->now;
		if (t < timeout)
			timeout = t;
	}
	if (d->stopping && d->inflight > 0) {
		t = d->stop_deadline - d->tick;
		if (t < timeout)
			timeout = t;
	}
	if (d->stopping && d->jobs != NULL && d->inflight == 0)
		timeout = 0;
	return timeout < 0 ? 0 : (int)timeout;
}

void
nd_dispatch_fini(struct nd *d)
{
	while (d->jobs) {
		struct nd_job *job = d->jobs;

		d->jobs = job->next;
		job_free(d, job);
	}
	d->njobs = 0;
	for (size_t i = 0; i < d->npool; i++) {
		curl_easy_cleanup(d->pool[i]->easy);
		free(d->pool[i]);
	}
	free(d->pool);
	d->pool = NULL;
	d->npool = 0;
	free(d->commit);
	d->commit = NULL;
	if (d->multi)
		curl_multi_cleanup(d->multi);
	d->multi = NULL;
	if (d->watch_fd >= 0)
		close(d->watch_fd);
	d->watch_fd = -1;
}
