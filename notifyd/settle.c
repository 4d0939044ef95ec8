/*
 * settle.c - recording and settling: events with nothing left in flight
 * are written in batches, then told to the queue.
 *
 * RECORD.  One write transaction holds the delivery records of up to
 * ND_COMMIT_BATCH events (deliveries.c) and their local deliveries (inbox
 * items, digest holds), so an inbox item and its record appear together;
 * a push subscription the service said is gone is removed, and a digest
 * that reached someone marks its items.
 *
 * SETTLE.  Each event is then acked (every target finished), dead-
 * lettered (a target died), retried (a target failed this round: an
 * attempt is counted), deferred (waiting for quiet hours, a breaker, a
 * rate limit, a digest's time: no attempt counted), expired (it passed
 * its expires_at with deliveries left: those are recorded as expired) or
 * released (shutting down before it started).  Retries and defers are
 * due at the event's expires_at at the latest, so that it is settled as
 * expired when it expires rather than at its next attempt.  Acks,
 * expiries and defers go in the recording transaction itself; releases
 * are batched after it.
 *
 * Which of these an event comes to is gate.c's verdict (nd_verdict_*,
 * pure functions of its deliveries' states); this file writes and tells.
 *
 * Records are written before the queue is told, never after: see CRASHES
 * in dispatch.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/users.h"
#include "core/gate.h"
#include "nd.h"

/* The state a target ends this round in (a local delivery's result). */
static enum nd_tstate
end_state(const struct nd_target *t)
{
	return t->st == ND_T_LOCAL ? t->after : t->st;
}

/* The job's deliveries as facts for the verdict (gate.c), and its
 * verdict; *culprit is the delivery whose error the event shows. */
static enum nd_verdict
judge(struct nd *d, const struct nd_job *job, int64_t *due,
      const struct nd_target **culprit)
{
	struct nd_verdict_acc acc;
	struct nd_verdict_job vj;
	struct nd_verdict_out out;

	nd_verdict_start(&acc, d->now);
	for (size_t i = 0; i < job->nt; i++) {
		const struct nd_target *t = &job->t[i];
		enum nd_tstate st = end_state(t);
		struct nd_verdict_target vt;

		vt.st = st == ND_T_DEAD ? ND_VS_DEAD :
		        st == ND_T_EXPIRED ? ND_VS_EXPIRED :
		        nd_tstate_final(st) ? ND_VS_DONE :
		        st == ND_T_RETRY || st == ND_T_DEFERRED ? ND_VS_LATER :
		        ND_VS_OPEN;
		vt.next_at = t->next_at;
		vt.failed_now = t->failed_now ||
		                (t->st == ND_T_LOCAL && st == ND_T_DEAD);
		vt.moved = t->dirty || t->st == ND_T_LOCAL;
		nd_verdict_add(&acc, &vt);
	}
	vj.expires_at = job->expires_at;
	vj.digest = job->digest;
	vj.digest_slot = job->digest_slot;
	nd_verdict_end(&acc, &vj, &out);
	*culprit = out.culprit == ND_VERDICT_NONE ? NULL : &job->t[out.culprit];
	if (out.verdict != ND_V_ACK && out.verdict != ND_V_DEAD &&
	    out.verdict != ND_V_EXPIRE)
		*due = out.due;
	return out.verdict;
}

struct commit_arg {
	struct nd *d;
	struct nd_job **jobs;
	size_t n;
	/* filled in the transaction: what each job comes to, and the acks
	 * and defers made in that same transaction */
	enum nd_verdict v[ND_COMMIT_BATCH];
	int64_t due[ND_COMMIT_BATCH];
	struct gh_lease acks[ND_COMMIT_BATCH], defers[ND_COMMIT_BATCH],
	    exps[ND_COMMIT_BATCH];
	size_t ackj[ND_COMMIT_BATCH], defj[ND_COMMIT_BATCH],
	    expj[ND_COMMIT_BATCH];
	int64_t defdue[ND_COMMIT_BATCH];
	gh_err ackres[ND_COMMIT_BATCH], defres[ND_COMMIT_BATCH],
	    expres[ND_COMMIT_BATCH];
	size_t nack, ndef, nexp;
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

		nd_msg_fill(d, job, t, job->vars ? job->vars : job->ev, NULL,
		            &m);
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
	return nd_record_put_txn(d, txn, job, &tmp, d->now);
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
				e = nd_record_put_txn(d, txn, job, t, d->now);
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
	a->nack = a->ndef = a->nexp = 0;
	for (size_t j = 0; j < a->n; j++) {
		const struct nd_target *c;

		a->due[j] = d->now;
		a->v[j] = judge(d, a->jobs[j], &a->due[j], &c);
		if (a->v[j] == ND_V_ACK) {
			a->ackj[a->nack] = j;
			a->acks[a->nack++] = a->jobs[j]->lease;
		} else if (a->v[j] == ND_V_EXPIRE) {
			a->expj[a->nexp] = j;
			a->exps[a->nexp++] = a->jobs[j]->lease;
		} else if (a->v[j] == ND_V_DEFER) {
			a->defj[a->ndef] = j;
			a->defdue[a->ndef] = a->due[j];
			a->defers[a->ndef++] = a->jobs[j]->lease;
		}
	}
	e = gh_queue_ack_txn(txn, a->acks, a->nack, d->now, a->ackres);
	if (e == GH_OK)
		e = gh_queue_expire_txn(txn, a->exps, a->nexp, d->now,
		                        a->expres);
	if (e == GH_OK)
		e = gh_queue_defer_txn(txn, a->defers, a->ndef, d->now, a->defdue,
		                       a->defres);
	return e;
}

/* After the commit: what the transaction settled, and what is left. */
static void
settle(struct nd *d, struct commit_arg *a)
{
	struct gh_lease rels[ND_COMMIT_BATCH];
	size_t relj[ND_COMMIT_BATCH], nr = 0;
	gh_err e;

	for (size_t i = 0; i < a->nack; i++) {
		struct nd_job *job = a->jobs[a->ackj[i]];

		nd_queue_err(d, job, a->ackres[i]);
		if (a->ackres[i] == GH_OK)
			d->acked++;
		if (job->nt == 0)
			nd_log(&d->log, ND_LOG_INFO, "event %" PRIu64 " (%s): "
			       "nobody to notify", job->id, job->type);
	}
	for (size_t i = 0; i < a->nexp; i++) {
		struct nd_job *job = a->jobs[a->expj[i]];

		nd_queue_err(d, job, a->expres[i]);
		if (a->expres[i] == GH_OK) {
			d->expired_events++;
			nd_log(&d->log, ND_LOG_INFO, "event %" PRIu64 " (%s): "
			       "expired before delivery", job->id, job->type);
		}
	}
	for (size_t i = 0; i < a->ndef; i++) {
		nd_queue_err(d, a->jobs[a->defj[i]], a->defres[i]);
		if (a->defres[i] == GH_OK) {
			d->deferred_events++;
			nd_due_at(d, a->defdue[i]);
		}
	}
	for (size_t j = 0; j < a->n; j++) {
		struct nd_job *job = a->jobs[j];
		const struct nd_target *c;
		char line[600];
		int64_t due = d->now;
		int dead = 0;

		switch (a->v[j]) {
		case ND_V_DEAD:
			judge(d, job, &due, &c);
			snprintf(line, sizeof(line), "%s -> %s: %s", c->chname,
			         c->recipient, c->error);
			e = gh_queue_retry(d->st, &job->lease, d->now, d->now, line,
			                   1, &dead);
			if (e == GH_OK)
				d->dead_events++;
			nd_queue_err(d, job, e);
			break;
		case ND_V_RETRY:
			judge(d, job, &due, &c);
			snprintf(line, sizeof(line), "%s -> %s: %s", c->chname,
			         c->recipient, c->error);
			e = gh_queue_retry(d->st, &job->lease, d->now, a->due[j],
			                   line, 0, NULL);
			if (e == GH_OK) {
				d->retried_events++;
				nd_due_at(d, a->due[j]);
			}
			nd_queue_err(d, job, e);
			break;
		case ND_V_RELEASE:
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
			nd_queue_err(d, a->jobs[relj[i]], e);
		if (e == GH_OK)
			d->released += nr;
	}
}

/* Record and settle up to ND_COMMIT_BATCH ready jobs; 1 if any were. */
int
nd_commit_ready(struct nd *d)
{
	struct nd_job *batch[ND_COMMIT_BATCH];
	struct commit_arg *a;
	struct nd_job **pp;
	gh_err e;
	size_t n = 0;

	for (struct nd_job *job = d->jobs; job && n < ND_COMMIT_BATCH;
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
			nd_tlog(d, t->st == ND_T_DEAD ? ND_LOG_WARN : ND_LOG_INFO,
			        job, t,
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
		nd_job_free(d, job);
	}
	d->first_ready_at = d->nready ? d->tick : 0;
	d->rescan = 1;   /* room for waiting targets and new leases */
	return 1;
}
