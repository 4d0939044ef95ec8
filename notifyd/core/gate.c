/*
 * gate.c - notifyd's gate, attempt and verdict decisions (gate.h): pure
 * functions of the facts handed in.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/queue.h"
#include "gate.h"

/* ---- the gate ---- */

int
nd_gate_quiet_applies(const struct nd_gate_in *in)
{
	return in->has_channel && in->kind_quiet && in->quiet != NULL &&
	       in->priority < GH_PRIORITY_URGENT && !in->digest;
}

static void
defer(struct nd_gate_out *out, enum nd_gate g, int64_t at)
{
	out->gate = g;
	out->at = at;
}

void
nd_gate_decide(const struct nd_gate_in *in, struct nd_gate_out *out)
{
	int64_t end, wait;

	memset(out, 0, sizeof(*out));
	out->wait_since = in->wait_since;
	out->probe = in->probe;
	out->breaker = in->breaker;
	out->bucket = in->bucket;

	if (in->expires_at && in->expires_at <= in->now) {
		out->gate = ND_GATE_EXPIRED;
		return;
	}
	if (!in->has_channel) {
		out->gate = ND_GATE_HOLD;
		return;
	}
	/* Judged here rather than at resolution, so that an event that
	 * waited is judged at the time it would go. */
	if (nd_gate_quiet_applies(in) && in->tz != NULL &&
	    nd_quiet_check(in->quiet, in->tz, in->now, &end)) {
		defer(out, ND_GATE_QUIET, end);
		snprintf(out->reason, sizeof(out->reason), "quiet hours of %s "
		         "(%02d:%02d-%02d:%02d %s)", in->user_id ? in->user_id :
		         "?", in->quiet->start / 60, in->quiet->start % 60,
		         in->quiet->end / 60, in->quiet->end % 60,
		         in->user_tz ? in->user_tz : "UTC");
		return;
	}
	if (in->kind_local) {
		out->gate = ND_GATE_LOCAL;
		return;
	}
	if (in->inflight >= in->concurrency ||
	    in->ch_inflight >= in->ch_concurrency) {
		/* the wait for a slot starts when it is first found busy */
		if (!in->waiting_for_slot)
			out->wait_since = in->tick;
		if (in->tick - out->wait_since >= ND_GATE_BUSY_WAIT_MS) {
			defer(out, ND_GATE_BUSY, in->now + ND_GATE_BUSY_WAIT_MS);
			snprintf(out->reason, sizeof(out->reason), "%s is busy (%d "
			         "requests in flight)", in->chname, in->ch_inflight);
			return;
		}
		out->gate = ND_GATE_WAIT_SLOT;
		return;
	}
	out->probe = 0;
	if (!nd_breaker_allow(&out->breaker, in->now)) {
		defer(out, ND_GATE_BREAKER,
		      nd_breaker_retry_at(&out->breaker, in->now) + 1);
		snprintf(out->reason, sizeof(out->reason), "the circuit breaker "
		         "of %s is open", in->chname);
		return;
	}
	out->probe = out->breaker.state == GH_BREAKER_HALF_OPEN;
	if (in->limited && !nd_tbucket_take(&out->bucket, in->now, &wait)) {
		/* the probe slot goes to a request that can be sent */
		if (out->probe)
			nd_breaker_cancel(&out->breaker);
		out->probe = 0;
		if (wait <= ND_GATE_WAIT_INLINE_MS) {
			defer(out, ND_GATE_WAIT_RATE, in->now + wait);
			return;
		}
		defer(out, ND_GATE_RATE, in->now + wait);
		snprintf(out->reason, sizeof(out->reason), "rate limit of %s",
		         in->chname);
		return;
	}
	out->gate = ND_GATE_GO;
}

const char *
nd_gate_name(enum nd_gate g)
{
	static const char *const names[] = {
		"go", "expired", "hold", "quiet", "local", "wait_slot", "busy",
		"breaker", "wait_rate", "rate",
	};

	return (size_t)g < sizeof(names) / sizeof(names[0]) ? names[g] : "?";
}

/* ---- the attempt ---- */

void
nd_attempt_decide(const struct nd_attempt_in *in, struct nd_attempt_out *out)
{
	memset(out, 0, sizeof(*out));
	switch (in->outcome) {
	case GH_OUTCOME_OK:
		out->attempt = ND_ATTEMPT_DELIVERED;
		out->breaker_ok = 1;
		return;
	case GH_OUTCOME_PERMANENT:
		/* the receiver answered: the channel is healthy */
		out->attempt = ND_ATTEMPT_DEAD;
		out->breaker_ok = 1;
		return;
	case GH_OUTCOME_RETRY:
	default:
		break;
	}
	if (in->attempts >= in->max_attempts) {
		out->attempt = ND_ATTEMPT_GAVE_UP;
		return;
	}
	out->attempt = ND_ATTEMPT_RETRY;
	out->delay = nd_backoff_delay(in->backoff, in->attempts,
	                              in->retry_after_ms, in->rng, in->rng_arg);
	out->next_at = in->now + out->delay;
}

/* ---- the verdict ---- */

void
nd_verdict_start(struct nd_verdict_acc *a, int64_t now)
{
	memset(a, 0, sizeof(*a));
	a->now = now;
	a->all_final = 1;
	a->first = INT64_MAX;
	a->culprit = ND_VERDICT_NONE;
}

void
nd_verdict_add(struct nd_verdict_acc *a, const struct nd_verdict_target *t)
{
	int dead = t->st == ND_VS_DEAD;
	size_t i = a->n++;

	if (t->moved)
		a->moved = 1;
	if (t->failed_now)
		a->failed = 1;
	/* the error the event shows: a dead delivery's, else a failure of
	 * this round */
	if ((dead || t->failed_now) &&
	    (a->culprit == ND_VERDICT_NONE || !a->culprit_dead)) {
		a->culprit = i;
		a->culprit_dead = dead;
	}
	/* dead in this round or an earlier one: the event is dead once
	 * nothing else is left */
	if (dead)
		a->dead = 1;
	if (t->st == ND_VS_EXPIRED)
		a->expired = 1;
	if (t->st == ND_VS_DONE || dead || t->st == ND_VS_EXPIRED)
		return;
	a->all_final = 0;
	if (t->st == ND_VS_LATER) {
		if (t->next_at < a->first)
			a->first = t->next_at;
	} else {
		a->first = a->now;   /* new or waiting: as soon as possible */
	}
}

void
nd_verdict_end(const struct nd_verdict_acc *a, const struct nd_verdict_job *job,
               struct nd_verdict_out *out)
{
	int expired = a->expired;
	int64_t first = a->first;

	out->due = a->now;
	out->culprit = a->culprit;
	if (job->digest && job->digest_slot > a->now && a->n == 0) {
		out->due = job->digest_slot;
		out->verdict = ND_V_DEFER;
		return;
	}
	/* an event leased past expires_at that reached no one is expired,
	 * as the lease itself would have marked it */
	if (a->n == 0 && job->expires_at && job->expires_at <= a->now)
		expired = 1;
	if (a->all_final) {
		out->verdict = a->dead ? ND_V_DEAD : expired ? ND_V_EXPIRE :
		               ND_V_ACK;
		return;
	}
	/* What is left is never tried after expires_at: the event comes due
	 * then at the latest, to be settled as expired (the gate). */
	if (job->expires_at && first > job->expires_at)
		first = job->expires_at;
	out->due = first;
	if (a->failed)
		out->verdict = ND_V_RETRY;
	else if (!a->moved && first <= a->now)
		out->verdict = ND_V_RELEASE;
	else
		out->verdict = ND_V_DEFER;
}

const char *
nd_verdict_name(enum nd_verdict v)
{
	static const char *const names[] = {
		"ack", "dead", "retry", "defer", "release", "expire",
	};

	return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
