/*
 * newhost.c - known_hosts bookkeeping and the login events, inside one
 * write transaction so the record and its event commit together.
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/queue.h"
#include "event.h"
#include "newhost.h"

size_t
gh_pam_kh_key(const char *user, const char *net, char *key, size_t keylen)
{
	size_t ul = strlen(user), nl = strlen(net);

	if (ul == 0 || ul + 1 + nl > keylen)
		return 0;
	memcpy(key, user, ul);
	key[ul] = '\0';
	memcpy(key + ul + 1, net, nl);
	return ul + 1 + nl;
}

struct prefix_probe {
	const char *prefix;
	size_t len;
	int found;
};

static int
probe_fn(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct prefix_probe *p = arg;

	p->found = klen >= p->len && memcmp(key, p->prefix, p->len) == 0;
	return 1;   /* the first key at or after the prefix decides */
}

/* Does the user have any known_hosts record?  user "\0" sorts before
 * every key of the user's and after every key of a shorter name's. */
static gh_err
user_has_hosts(struct gh_txn *txn, const char *key, size_t ulen, int *found)
{
	struct prefix_probe p = {key, ulen + 1, 0};
	gh_err err;

	err = gh_txn_scan(txn, GH_DB_KNOWN_HOSTS, key, ulen + 1, 0, probe_fn,
	                  &p, NULL);
	*found = p.found;
	return err;
}

static gh_err
put_record(struct gh_txn *txn, const char *key, size_t klen, json_t *old,
           const struct gh_pam_login *l, uint64_t *count)
{
	json_t *rec;
	int64_t first = l->now;
	uint64_t n = 1;
	gh_err err;

	if (old != NULL) {
		json_t *f = json_object_get(old, "first_seen");
		json_t *c = json_object_get(old, "count");

		if (json_is_integer(f))
			first = json_integer_value(f);
		if (json_is_integer(c) && json_integer_value(c) > 0)
			n = (uint64_t)json_integer_value(c) + 1;
	}
	rec = json_pack("{s:i, s:I, s:I, s:I, s:s}", "v", GH_PAM_KH_VERSION,
	                "first_seen", (json_int_t)first,
	                "last_seen", (json_int_t)l->now,
	                "count", (json_int_t)n, "addr", l->addr);
	if (rec == NULL)
		return GH_ENOMEM;
	err = gh_txn_put_json(txn, GH_DB_KNOWN_HOSTS, key, klen, rec);
	json_decref(rec);
	*count = n;
	return err;
}

static gh_err
enqueue(struct gh_txn *txn, gh_err made, json_t *ev, int64_t now,
        struct gh_pam_job *job)
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
raise_new_host(struct gh_txn *txn, struct gh_pam_job *job, int first)
{
	const struct gh_pam_login *l = job->login;
	char title[GH_PAM_TITLE_MAX], msg[GH_PAM_MSG_MAX], dkey[400];
	json_t *md, *ev = NULL;
	gh_err made;

	gh_pam_fmt(title, sizeof(title), "New sign-in to %s from %s", l->host,
	           l->addr);
	gh_pam_fmt(msg, sizeof(msg),
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
	made = gh_pam_event_new("login.new_host", l->user, title, msg,
	                        GH_PRIORITY_HIGH, dkey[0] ? dkey : NULL, md, l,
	                        &ev);
	return enqueue(txn, made, ev, l->now, job);
}

static gh_err
raise_login(struct gh_txn *txn, struct gh_pam_job *job, int new_host)
{
	const struct gh_pam_login *l = job->login;
	char where[300], title[GH_PAM_TITLE_MAX], msg[GH_PAM_MSG_MAX];
	json_t *md, *ev = NULL;
	gh_err made;

	gh_pam_where(l, where, sizeof(where));
	gh_pam_fmt(title, sizeof(title), "Sign-in to %s as %s from %s", l->host,
	           l->user, where);
	gh_pam_fmt(msg, sizeof(msg), "%s signed in to %s from %s through %s.",
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
	made = gh_pam_event_new(job->opts->type, l->user, title, msg,
	                        GH_PRIORITY_NORMAL, NULL, md, l, &ev);
	return enqueue(txn, made, ev, l->now, job);
}

gh_err
gh_pam_session_txn(struct gh_txn *txn, void *arg)
{
	struct gh_pam_job *job = arg;
	const struct gh_pam_opts *o = job->opts;
	const struct gh_pam_login *l = job->login;
	char key[GH_PAM_USER_MAX + GH_PAM_NETKEY_MAX];
	json_t *old = NULL;
	size_t klen;
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

	klen = gh_pam_kh_key(l->user, l->net, key, sizeof(key));
	if (klen == 0)
		return GH_ETOOBIG;
	err = gh_txn_get_json(txn, GH_DB_KNOWN_HOSTS, key, klen, &old);
	if (err == GH_OK) {
		job->flags |= GH_PAM_R_KNOWN;
	} else if (err == GH_ENOTFOUND || err == GH_ECORRUPT) {
		/* A record we cannot read is rewritten, not alerted on. */
		if (err == GH_ENOTFOUND) {
			err = user_has_hosts(txn, key, strlen(l->user), &any);
			if (err)
				return err;
			new_host = any || o->alert_first;
			if (!any)
				job->flags |= GH_PAM_R_BASELINE;
		}
	} else {
		return err;
	}
	err = put_record(txn, key, klen, old, l, &job->count);
	json_decref(old);
	if (err)
		return err;
	if (new_host && o->notify != GH_PAM_NOTIFY_NEVER) {
		err = raise_new_host(txn, job, !any);
		if (err)
			return err;
	}
	if (o->notify == GH_PAM_NOTIFY_ALWAYS)
		err = raise_login(txn, job, new_host);
	return err;
}
