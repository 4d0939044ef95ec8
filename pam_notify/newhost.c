/*
 * newhost.c - known_hosts bookkeeping and the login events, inside one
 * write transaction so the record and its event commit together.
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/knownhosts.h"
#include "gatehouse/queue.h"
#include "event.h"
#include "newhost.h"

static gh_err
put_record(struct gh_txn *txn, json_t *old, const struct gp_login *l,
           uint64_t *count)
{
	struct gh_knownhost h;

	/* a record that cannot be read is started afresh */
	if (old == NULL || gh_knownhost_read(old, &h) != GH_OK)
		memset(&h, 0, sizeof(h));
	if (h.first_seen == 0)
		h.first_seen = l->now;
	h.count = h.count + 1;
	h.last_seen = l->now;
	h.addr = l->addr;
	*count = h.count;
	return gh_knownhost_put_txn(txn, l->user, l->net, &h);
}

static gh_err
enqueue(struct gh_txn *txn, gh_err made, json_t *ev, int64_t now,
        struct gp_job *job)
{
	int dup = 0;
	gh_err err;

	if (made != GH_OK)
		return made;
	err = gh_queue_enqueue_txn(txn, ev, now, 0, NULL, &dup);
	json_decref(ev);
	if (err == GH_OK && dup)
		job->flags |= GH_PAM_R_DUP;
	return err;
}

static gh_err
raise_new_host(struct gh_txn *txn, struct gp_job *job, int first)
{
	const struct gp_login *l = job->login;
	char title[GH_PAM_TITLE_MAX], msg[GH_PAM_MSG_MAX], dkey[400];
	json_t *md, *ev = NULL;
	gh_err made;

	gp_fmt(title, sizeof(title), "New sign-in to %s from %s", l->host,
	           l->addr);
	gp_fmt(msg, sizeof(msg),
	           "%s signed in to %s from %s (network %s) through %s, a "
	           "network not seen for this account before.  If this was not "
	           "you, change your password and tell your administrator.",
	           l->user, l->host, l->addr, l->net,
	           l->service[0] ? l->service : "an unknown service");
	/* The record already makes the alert once-only; the dedup key is a
	 * second guard should known_hosts be cleared.  Too long: no key. */
	if (snprintf(dkey, sizeof(dkey), "login.new_host:%s:%s", l->user,
	             l->net) >= (int)sizeof(dkey))
		dkey[0] = '\0';
	md = json_pack("{s:s, s:s, s:b}", "network", l->net, "addr", l->addr,
	               "first_login", first);
	if (md == NULL)
		return GH_ENOMEM;
	job->flags |= GH_PAM_R_NEW_HOST;
	made = gp_event_new("login.new_host", l->user, title, msg,
	                        GH_PRIORITY_HIGH, dkey[0] ? dkey : NULL, md, l,
	                        &ev);
	return enqueue(txn, made, ev, l->now, job);
}

static gh_err
raise_login(struct gh_txn *txn, struct gp_job *job, int new_host)
{
	const struct gp_login *l = job->login;
	char where[300], title[GH_PAM_TITLE_MAX], msg[GH_PAM_MSG_MAX];
	json_t *md, *ev = NULL;
	gh_err made;

	gp_where(l, where, sizeof(where));
	gp_fmt(title, sizeof(title), "Sign-in to %s as %s from %s", l->host,
	           l->user, where);
	gp_fmt(msg, sizeof(msg), "%s signed in to %s from %s through %s.",
	           l->user, l->host, where,
	           l->service[0] ? l->service : "an unknown service");
	if (l->origin != GH_PAM_ORIGIN_LOCAL)
		md = json_pack("{s:s, s:s, s:b}", "network", l->net, "addr",
		               l->addr, "new_host", new_host);
	else
		md = json_pack("{s:b}", "local", 1);
	if (md == NULL)
		return GH_ENOMEM;
	job->flags |= GH_PAM_R_LOGIN;
	made = gp_event_new(job->opts->type, l->user, title, msg,
	                        GH_PRIORITY_NORMAL, NULL, md, l, &ev);
	return enqueue(txn, made, ev, l->now, job);
}

gh_err
gp_session_txn(struct gh_txn *txn, void *arg)
{
	struct gp_job *job = arg;
	const struct gp_opts *o = job->opts;
	const struct gp_login *l = job->login;
	json_t *old = NULL;
	int new_host = 0, any = 0;
	gh_err err;

	/* This may run again after the map grows: start from scratch. */
	job->flags = 0;
	job->count = 0;
	if (l->user[0] == '\0')
		return GH_EINVAL;
	if (l->origin == GH_PAM_ORIGIN_LOCAL) {
		job->flags |= GH_PAM_R_LOCAL;
		if (o->notify == GH_PAM_NOTIFY_ALWAYS)
			return raise_login(txn, job, 0);
		return GH_OK;
	}

	err = gh_knownhost_get_txn(txn, l->user, l->net, &old);
	if (err == GH_OK) {
		job->flags |= GH_PAM_R_KNOWN;
	} else if (err == GH_EVERSION) {
		/* a newer pam_gatehouse's record: known, and not ours to
		 * rewrite in an older layout */
		job->flags |= GH_PAM_R_KNOWN;
		goto events;
	} else if (err == GH_ENOTFOUND || err == GH_ECORRUPT) {
		/* A record we cannot read is rewritten, not alerted on. */
		if (err == GH_ENOTFOUND) {
			err = gh_knownhost_user_has_txn(txn, l->user, &any);
			if (err)
				return err;
			new_host = any || o->alert_first;
			if (!any)
				job->flags |= GH_PAM_R_BASELINE;
		}
	} else {
		return err;
	}
	err = put_record(txn, old, l, &job->count);
	json_decref(old);
	if (err)
		return err;
events:
	if (new_host && o->notify != GH_PAM_NOTIFY_NEVER) {
		err = raise_new_host(txn, job, !any);
		if (err)
			return err;
	}
	if (o->notify == GH_PAM_NOTIFY_ALWAYS)
		err = raise_login(txn, job, new_host);
	return err;
}
