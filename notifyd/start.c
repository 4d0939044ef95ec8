/*
 * start.c - whether a delivery may start now, and starting those that may.
 *
 * The gates, in this order: expiry (checked again right before a request
 * leaves, send.c), quiet hours (for the kinds that honour
 * them, below urgent priority), capacity (concurrency overall and per
 * channel), the channel's circuit breaker, its rate limit.  A delivery that
 * passes goes to send.c, or, for a local kind (the inbox), is left to be
 * written in the recording transaction (settle.c).  One held back either
 * waits in memory, when the wait is short (a free slot, a rate token soon),
 * or is deferred to the queue with its time and reason and no attempt
 * counted.  Quiet hours are judged here rather than at resolution so that
 * an event that waited is judged at the time it would go.
 */
#include <stdio.h>

#include "nd.h"

#define WAIT_INLINE_MS 2000     /* rate-limit waits shorter than this are
                                   waited out in memory, longer ones go back
                                   to the queue */
#define BUSY_WAIT_MS 10000      /* a delivery that found no free slot of
                                   its channel for this long goes back to
                                   the queue, so a slow receiver cannot fill
                                   memory and hold back the others */

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
		nd_job_expire(d, job, "expired before delivery");
		return;
	}
	if (ch == NULL)
		return;   /* a digest hold: done when recorded */
	cs = ch->cs;
	if ((ch->kind->flags & ND_KIND_QUIET) && u && u->quiet_set &&
	    job->priority < GH_PRIORITY_URGENT && !job->digest) {
		const struct gh_tz *tz = user_tz(d, job, u);

		if (tz && gh_quiet_check(&u->quiet, tz, d->now, &end)) {
			snprintf(why, sizeof(why), "quiet hours of %s (%02d:%02d-"
			         "%02d:%02d %s)", u->id, u->quiet.start / 60,
			         u->quiet.start % 60, u->quiet.end / 60,
			         u->quiet.end % 60, u->tz ? u->tz : "UTC");
			nd_target_set(t, ND_T_DEFERRED, end, why);
			cs->deferred_quiet++;
			nd_tlog(d, ND_LOG_INFO, job, t, why);
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
			nd_target_set(t, ND_T_DEFERRED, d->now + BUSY_WAIT_MS, why);
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
		nd_target_set(t, ND_T_DEFERRED,
		              gh_breaker_retry_at(&cs->breaker, d->now) + 1,
		              why);
		cs->deferred_breaker++;
		nd_tlog(d, ND_LOG_INFO, job, t, why);
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
		nd_target_set(t, ND_T_DEFERRED, d->now + wait, why);
		cs->deferred_rate++;
		nd_tlog(d, ND_LOG_INFO, job, t, why);
		return;
	}
	nd_launch(d, job, i);
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
