/*
 * dispatch.c - the dispatcher's loop: when to lease, when to record, how
 * long to sleep; leasing batches of due events, keeping their leases
 * alive, and stopping.  The steps of a turn live in their own files.
 *
 * ONE TURN of the event loop (nd_dispatch_turn, then curl_multi_poll, then
 * nd_dispatch_io):
 *   1. lease   when there is room (max_events) and it is time: up to batch
 *              events in one write transaction, then their targets are
 *              resolved in one read transaction (resolve.c), most urgent
 *              first, then the oldest;
 *   2. start   each target that may go now (start.c): expiry, quiet hours,
 *              capacity, circuit breaker and rate limit, then the message
 *              is rendered and the channel builds its request, which joins
 *              the multi handle (send.c);
 *   3. collect finished transfers (outcome.c): delivered, retried after a
 *              backoff, or dead-lettered;
 *   4. record  events with nothing left in flight, in batches, then
 *   5. settle  each with the queue: ack, dead-letter, retry, defer or
 *              release (settle.c).  A finished event waits up to
 *              COMMIT_DELAY_MS for others, so that one commit serves many.
 * No transaction is ever held across network I/O.
 *
 * WAKING UP.  Producers do not signal notifyd; it learns of new events by
 * watching the store's data file with inotify (every commit of any
 * process writes it) and leases at once, and otherwise every
 * poll_interval.  Its own commits wake it too: that costs one empty lease,
 * which writes nothing.  An event it gave back (retried, deferred) is
 * leased when it comes due rather than at the next poll (nd_due_at): an
 * event with deliveries left is due at its expires_at at the latest, and
 * is then leased (gh_queue_lease_ex hands out expired events too) and
 * settled as expired on time, its delivery records saying so.
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

#include "nd.h"

#define COMMIT_DELAY_MS 20      /* longest a finished event waits for more */

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
	if (nd_req_pool_init(d) != GH_OK)
		return GH_ENOMEM;
	curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 256L);
	curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return GH_OK;
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
	/* Expired events too: they are settled here (start.c, settle.c), so
	 * that their delivery records say so. */
	err = gh_queue_lease_ex(d->st, d->now, want, rt->vis_ms,
	                        GH_LEASE_EXPIRED, l, &n);
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
		struct nd_job *job = nd_job_new(d, &l[i]);

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
			nd_job_free(d, jobs[i]);
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
			nd_queue_err(d, job, e);
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
			nd_req_put(d, t->req);
			t->req = NULL;
			if (t->probe)
				nd_breaker_cancel(&t->ch->cs->breaker);
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

void
nd_due_at(struct nd *d, int64_t at)
{
	if (d->due_wake == 0 || at < d->due_wake)
		d->due_wake = at;
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
			nd_job_free(d, job);
		}
		d->njobs = d->nready = 0;
	}
	/* an event given back comes due: lease it then, not at the next
	 * poll (an event deferred to its expiry is settled on time) */
	if (d->due_wake && d->now >= d->due_wake) {
		d->due_wake = 0;
		d->next_lease = d->tick;
	}
	if (d->tick >= d->next_lease && may_lease(d))
		lease_batch(d);
	nd_start_all(d);
	if (d->first_ready_at && d->tick >= d->commit_retry_at) {
		if (d->nready >= ND_COMMIT_BATCH || d->inflight == 0 ||
		    d->stopping ||
		    d->tick - d->first_ready_at >= COMMIT_DELAY_MS)
			while (nd_commit_ready(d))
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
	if (d->due_wake && may_lease(d)) {
		t = d->due_wake - d->now;
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
		nd_job_free(d, job);
	}
	d->njobs = 0;
	nd_req_pool_fini(d);
	free(d->commit);
	d->commit = NULL;
	if (d->multi)
		curl_multi_cleanup(d->multi);
	d->multi = NULL;
	if (d->watch_fd >= 0)
		close(d->watch_fd);
	d->watch_fd = -1;
}
