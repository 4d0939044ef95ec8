/*
 * outcome.c - what a finished request comes to.  The channel kind
 * classifies the answer:
 *   ok         delivered; the breaker counts a success;
 *   permanent  dead at once (refused for good, or a push subscription
 *              that is gone); the breaker counts a success too, since
 *              the receiver answered;
 *   retry      the breaker counts a failure, and the delivery is tried
 *              again after the channel's backoff (a Retry-After the
 *              receiver sent is honoured) or, past max_attempts, is dead.
 * The decision is gate.c's (nd_attempt_decide, pure); this file counts,
 * logs and sets the target.  Nothing is written here: settle.c records
 * the outcome once the event has nothing left in flight.  In the
 * multi-host mode a delivery whose attempts ran out is also published to
 * the dead-letter subject (natsin.h), where the fleet's admin sees every
 * instance's.
 */
#include <stdio.h>

#include "core/gate.h"
#include "natsin.h"
#include "nd.h"

/* A copy of a delivery given up, for the cluster's dead letters. */
static void
dead_copy(struct nd *d, const struct nd_job *job,
          const struct nd_target *t)
{
	json_t *w;

	if (d->natsin == NULL)
		return;
	w = json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:O}", "reason",
	              t->error, "event_id", (json_int_t)job->id, "channel",
	              t->chname, "recipient", t->recipient ? t->recipient : "",
	              "attempts", t->attempts, "type", job->type ? job->type :
	              "", "event", job->ev);
	nd_natsin_dead(d->natsin, w);
	json_decref(w);
}

static void
finish(struct nd *d, struct nd_req *r, CURLcode rc)
{
	struct nd_job *job = r->owner;
	struct nd_target *t = &job->t[r->target];
	struct nd_chan *ch = t->ch;
	struct nd_cstate *cs = ch->cs;
	char err[256], line[400];
	enum nd_outcome o;
	struct nd_attempt_in ain;
	struct nd_attempt_out aout;

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
	ain.outcome = o;
	ain.attempts = t->attempts;
	ain.max_attempts = ch->max_attempts;
	ain.now = d->now;
	ain.backoff = &ch->backoff;
	ain.retry_after_ms = r->retry_after_ms;
	ain.rng = nd_rng_os;
	ain.rng_arg = NULL;
	nd_attempt_decide(&ain, &aout);
	if (aout.breaker_ok)
		nd_breaker_success(&cs->breaker, d->now);
	else
		nd_breaker_failure(&cs->breaker, d->now);
	switch (aout.attempt) {
	case ND_ATTEMPT_DELIVERED:
		t->st = ND_T_DELIVERED;
		t->delivered_at = d->now;
		t->error[0] = '\0';
		t->reason[0] = '\0';
		cs->delivered++;
		snprintf(line, sizeof(line), "delivered (%s)", err);
		nd_tlog(d, ND_LOG_INFO, job, t, line);
		break;
	case ND_ATTEMPT_DEAD:
		t->st = ND_T_DEAD;
		t->failed_now = 1;
		t->gone = r->gone;
		snprintf(t->error, sizeof(t->error), "%s", err);
		cs->failed++;
		cs->dead++;
		snprintf(line, sizeof(line), "dead: %s", err);
		nd_tlog(d, ND_LOG_WARN, job, t, line);
		break;
	case ND_ATTEMPT_GAVE_UP:
		t->failed_now = 1;
		cs->failed++;
		t->st = ND_T_DEAD;
		snprintf(t->error, sizeof(t->error), "gave up after %d "
		         "attempts: %.200s", t->attempts, err);
		cs->dead++;
		snprintf(line, sizeof(line), "dead: %s", t->error);
		nd_tlog(d, ND_LOG_WARN, job, t, line);
		dead_copy(d, job, t);
		break;
	case ND_ATTEMPT_RETRY:
		t->failed_now = 1;
		cs->failed++;
		t->st = ND_T_RETRY;
		t->next_at = aout.next_at;
		snprintf(t->error, sizeof(t->error), "%s", err);
		cs->retried++;
		snprintf(line, sizeof(line), "attempt %d failed, retry in "
		         "%.1fs: %s", t->attempts, (double)aout.delay / 1000.0,
		         err);
		nd_tlog(d, ND_LOG_INFO, job, t, line);
		break;
	}
	t->probe = 0;
	nd_req_put(d, r);
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
