/*
 * job.c - a leased event in memory (struct nd_job, nd.h) and its targets:
 * made from a lease, given its template variables on first use, freed
 * with whatever requests it still holds; and what every step of the
 * dispatcher shares about them: setting a target's state, the log line
 * of a delivery, and counting a queue update that failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/civil.h"
#include "nd.h"
#include "core/payload.h"

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

struct nd_job *
nd_job_new(struct nd *d, struct gh_lease *l)
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

json_t *
nd_job_vars(struct nd_job *job)
{
	char when[40];
	struct nd_civil c;
	int64_t created;

	if (job->vars)
		return job->vars;
	job->vars = json_copy(job->ev);
	if (job->vars == NULL)
		return NULL;
	json_object_del(job->vars, "q");
	created = json_integer_value(json_object_get(job->ev, "created_at"));
	nd_civil_from_secs(nd_floor_div(created, 1000), &c);
	snprintf(when, sizeof(when), "%04lld-%02d-%02d %02d:%02d UTC",
	         (long long)c.year, c.mon, c.mday, c.hour, c.min);
	json_object_set_new(job->vars, "created", json_string(when));
	json_object_set_new(job->vars, "priority_name",
	                    json_string(nd_priority_name(job->priority)));
	return job->vars;
}

void
nd_job_free(struct nd *d, struct nd_job *job)
{
	for (size_t i = 0; i < job->nt; i++) {
		struct nd_target *t = &job->t[i];

		if (t->req) {
			curl_multi_remove_handle(d->multi, t->req->easy);
			nd_req_put(d, t->req);
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

void
nd_tlog(struct nd *d, enum nd_level lv, const struct nd_job *job,
        const struct nd_target *t, const char *what)
{
	nd_log(&d->log, lv, "event %" PRIu64 " (%s) %s -> %s: %s", job->id,
	       job->type, t->chname, t->recipient, what);
}

size_t
nd_job_expire(struct nd *d, struct nd_job *job, const char *why)
{
	size_t n = 0;

	for (size_t i = 0; i < job->nt; i++) {
		struct nd_target *t = &job->t[i];

		/* a request in flight left before expires_at: it finishes */
		if (nd_tstate_final(t->st) || t->st == ND_T_INFLIGHT)
			continue;
		/* the last failure, if any, stays: it is why it never got
		 * through */
		if (t->error[0] == '\0')
			snprintf(t->error, sizeof(t->error), "%s", why);
		nd_target_set(t, ND_T_EXPIRED, 0, "the event expired first");
		t->wait_until = 0;
		if (t->ch)
			t->ch->cs->expired++;
		nd_tlog(d, ND_LOG_INFO, job, t, why);
		n++;
	}
	return n;
}

void
nd_target_set(struct nd_target *t, enum nd_tstate st, int64_t next_at,
              const char *reason)
{
	t->st = st;
	t->next_at = next_at;
	t->dirty = 1;
	if (reason)
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

void
nd_queue_err(struct nd *d, const struct nd_job *job, gh_err e)
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
