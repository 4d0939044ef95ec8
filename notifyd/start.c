/*
 * start.c - whether a delivery may start now, and starting those that may.
 *
 * The decision is gate.c's (nd_gate_decide, a pure function of the facts
 * gathered here); this file gathers them and acts on it.
 *
 * The gates, in this order: expiry (checked again right before a request
 * leaves, send.c), quiet hours (for the kinds that honour
 * them, below urgent priority), capacity (concurrency overall and per
 * channel), the channel's circuit breaker, its rate limit.  A delivery that
 * passes goes to send.c, or, for a local kind (the inbox), is left to be
 * written in the recording transaction (settle.c).  One held back either
 * waits in memory, when the wait is short (a free slot, a rate token soon),
 * or is deferred to the queue with its time and reason and no attempt
 * counted.  Quiet hours are judged at start rather than at resolution so that
 * an event that waited is judged at the time it would go.
 */
#include <string.h>

#include "core/gate.h"
#include "nd.h"

static const struct nd_tz *
user_tz(struct nd *d, struct nd_job *job, const struct nd_user *u)
{
	const struct nd_tz *tz = NULL;

	if (nd_tzcache_get(job->rt->tz, u->tz, &tz) == GH_OK)
		return tz;
	nd_log(&d->log, ND_LOG_WARN, "user %s: unknown time zone '%s', using "
	       "UTC", u->id, u->tz ? u->tz : "");
	if (nd_tzcache_get(job->rt->tz, NULL, &tz) == GH_OK)
		return tz;
	return NULL;
}

/* Decide whether target i may go now (gate.c), and start it if so. */
static void
try_start(struct nd *d, struct nd_job *job, size_t i)
{
	struct nd_target *t = &job->t[i];
	struct nd_chan *ch = t->ch;
	struct nd_cstate *cs = ch ? ch->cs : NULL;
	struct nd_user *u = t->user;
	struct nd_gate_in in;
	struct nd_gate_out out;

	memset(&in, 0, sizeof(in));
	in.now = d->now;
	in.tick = d->tick;
	in.expires_at = job->expires_at;
	in.priority = job->priority;
	in.digest = job->digest;
	in.has_channel = ch != NULL;
	if (ch) {
		in.chname = ch->name;
		in.kind_quiet = (ch->kind->flags & ND_KIND_QUIET) != 0;
		in.kind_local = (ch->kind->flags & ND_KIND_LOCAL) != 0;
		in.inflight = d->inflight;
		in.concurrency = job->rt->concurrency;
		in.ch_inflight = cs->inflight;
		in.ch_concurrency = ch->concurrency;
		in.breaker = cs->breaker;
		in.limited = cs->limited;
		in.bucket = cs->bucket;
	}
	if (u && u->quiet_set) {
		in.quiet = &u->quiet;
		in.user_id = u->id;
		in.user_tz = u->tz;
	}
	in.waiting_for_slot = t->st == ND_T_WAIT && t->wait_until == 0;
	in.wait_since = t->wait_since;
	in.probe = t->probe;
	if (nd_gate_quiet_applies(&in))
		in.tz = user_tz(d, job, u);
	nd_gate_decide(&in, &out);
	t->wait_since = out.wait_since;
	t->probe = out.probe;
	if (cs) {
		cs->breaker = out.breaker;
		cs->bucket = out.bucket;
	}
	switch (out.gate) {
	case ND_GATE_EXPIRED:
		nd_job_expire(d, job, "expired before delivery");
		break;
	case ND_GATE_HOLD:
		break;   /* a digest hold: done when recorded */
	case ND_GATE_QUIET:
		nd_target_set(t, ND_T_DEFERRED, out.at, out.reason);
		cs->deferred_quiet++;
		nd_tlog(d, ND_LOG_INFO, job, t, out.reason);
		break;
	case ND_GATE_LOCAL:
		t->st = ND_T_LOCAL;
		break;
	case ND_GATE_WAIT_SLOT:
		t->st = ND_T_WAIT;
		t->wait_until = 0;   /* until a request ends */
		break;
	case ND_GATE_BUSY:
		nd_target_set(t, ND_T_DEFERRED, out.at, out.reason);
		break;
	case ND_GATE_BREAKER:
		nd_target_set(t, ND_T_DEFERRED, out.at, out.reason);
		cs->deferred_breaker++;
		nd_tlog(d, ND_LOG_INFO, job, t, out.reason);
		break;
	case ND_GATE_WAIT_RATE:
		t->st = ND_T_WAIT;
		t->wait_until = out.at;
		break;
	case ND_GATE_RATE:
		nd_target_set(t, ND_T_DEFERRED, out.at, out.reason);
		cs->deferred_rate++;
		nd_tlog(d, ND_LOG_INFO, job, t, out.reason);
		break;
	case ND_GATE_GO:
		nd_launch(d, job, i);
		break;
	}
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
void
nd_start_all(struct nd *d)
{
	if (!d->rescan && (d->next_wait == 0 || d->now < d->next_wait))
		return;
	d->rescan = 0;
	d->next_wait = 0;
	for (struct nd_job *job = d->jobs; job; job = job->next) {
		if (job->ready)
			continue;
		/* Past expires_at, what is left of the event is settled as
		 * expired now, even while stopping: waiting targets, those
		 * whose attempt failed, deliveries not yet tried. */
		if (job->expires_at && job->expires_at <= d->now)
			nd_job_expire(d, job, "expired before delivery");
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
			/* an event waiting in memory (for a slot, a rate
			 * token) is looked at again when it expires */
			if (job->expires_at > d->now && job_has_work(job) &&
			    (d->next_wait == 0 || job->expires_at < d->next_wait))
				d->next_wait = job->expires_at;
		}
		if (job->inflight == 0 && (d->stopping || !job_has_work(job))) {
			job->ready = 1;
			d->nready++;
			if (d->first_ready_at == 0)
				d->first_ready_at = d->tick;
		}
	}
}
