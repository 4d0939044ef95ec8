/*
 * failcount.c - failed-authentication counters and login.failed_burst.
 *
 * Counting and reporting happen in one write transaction, so two sshd
 * processes failing at once cannot both see the count reach N; the queue's
 * dedup key then keeps a burst to one event (failcount.h).
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "event.h"
#include "failcount.h"

size_t
gp_fail_key(const char *prefix, const char *id, char *key, size_t keylen)
{
	size_t pl = strlen(prefix), il = strlen(id);

	if (il == 0 || pl + il > GH_PAM_RATE_KEY_MAX || pl + il + 1 > keylen)
		return 0;
	memcpy(key, prefix, pl);
	memcpy(key + pl, id, il);
	key[pl + il] = '\0';
	return pl + il;
}

static gh_err
raise_burst(struct gh_txn *txn, struct gp_job *job, int by_user,
            int by_addr, uint64_t ucount, uint64_t acount)
{
	const struct gp_opts *o = job->opts;
	const struct gp_login *l = job->login;
	char title[GH_PAM_TITLE_MAX], msg[GH_PAM_MSG_MAX], where[300];
	char dkey[400];
	const char *scope = by_user && by_addr ? "user+address" :
	                    by_user ? "user" : "address";
	const char *svc = l->service[0] ? l->service : "an unknown service";
	long long secs = o->burst_window_ms / 1000;
	json_t *md, *ev;
	int dup = 0, n;
	gh_err err;

	gp_where(l, where, sizeof(where));
	if (by_user) {
		gp_fmt(title, sizeof(title),
		           "%d failed sign-ins to %s on %s", o->burst_n,
		           l->user, l->host);
		gp_fmt(msg, sizeof(msg),
		           "%d attempts to sign in as %s on %s failed within "
		           "%lld seconds, the latest from %s through %s.  If "
		           "this was not you, someone may be guessing your "
		           "password.", o->burst_n, l->user, l->host, secs,
		           where, svc);
		n = snprintf(dkey, sizeof(dkey),
		             "login.failed_burst:user:%s", l->user);
	} else {
		gp_fmt(title, sizeof(title),
		           "%d failed sign-ins on %s from %s", o->burst_n,
		           l->host, l->addr);
		gp_fmt(msg, sizeof(msg),
		           "%d attempts to sign in to %s from %s failed "
		           "within %lld seconds (latest account tried: %s, "
		           "through %s).", o->burst_n, l->host, l->addr, secs,
		           l->user[0] ? l->user : "unknown", svc);
		n = snprintf(dkey, sizeof(dkey),
		             "login.failed_burst:addr:%s", l->addr);
	}
	md = json_pack("{s:s, s:i, s:I, s:I, s:I}", "scope", scope,
	               "count", o->burst_n, "window_s", (json_int_t)secs,
	               "user_failures", (json_int_t)ucount,
	               "addr_failures", (json_int_t)acount);
	if (md == NULL)
		return GH_ENOMEM;
	if ((l->origin != GH_PAM_ORIGIN_LOCAL &&
	     (json_object_set_new(md, "addr", json_string(l->addr)) ||
	      json_object_set_new(md, "network", json_string(l->net)))) ||
	    (l->user[0] &&
	     json_object_set_new(md, "last_user", json_string(l->user)))) {
		json_decref(md);
		return GH_ENOMEM;
	}
	err = gp_event_new("login.failed_burst",
	                       by_user ? l->user : o->admin, title, msg,
	                       GH_PRIORITY_HIGH,
	                       n < (int)sizeof(dkey) ? dkey : NULL, md, l, &ev);
	if (err)
		return err;
	err = gh_queue_enqueue_txn(txn, ev, l->now, o->burst_window_ms, NULL,
	                           &dup);
	json_decref(ev);
	if (err == GH_OK)
		job->flags |= dup ? GH_PAM_R_DUP : GH_PAM_R_BURST;
	return err;
}

/* ---- sweeping stale counters ---- */

struct sweep {
	int64_t before;          /* counters whose window began at or before */
	size_t seen, n;
	size_t klen[GH_PAM_FAIL_SWEEP];
	char key[GH_PAM_FAIL_SWEEP][GH_PAM_RATE_KEY_MAX];
};

static int
sweep_fn(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct sweep *s = arg;
	size_t pl = sizeof(GH_PAM_FAIL_PREFIX) - 1;

	if (klen < pl || memcmp(key, GH_PAM_FAIL_PREFIX, pl) != 0)
		return 1;   /* past our prefix */
	if (++s->seen > GH_PAM_FAIL_SWEEP)
		return 1;
	/* value: be64 window start | be64 count | be64 previous count */
	if (klen <= GH_PAM_RATE_KEY_MAX &&
	    (vlen != 24 || (int64_t)gh_get_be64(val) <= s->before)) {
		memcpy(s->key[s->n], key, klen);
		s->klen[s->n++] = klen;
	}
	return 0;
}

/*
 * Delete stale counters that follow key.  Attackers trying made-up user
 * names leave one counter per name; each later failure removes a few.  A
 * counter whose window began two windows ago adds nothing to a count any
 * more.  (A service configured with a longer window than ours may lose
 * history this way; docs/pam.md.)
 */
static gh_err
sweep_after(struct gh_txn *txn, const char *key, size_t klen, int64_t now,
            int64_t window)
{
	struct sweep s;
	gh_err err;

	memset(&s, 0, sizeof(s));
	s.before = now - 2 * window;
	err = gh_txn_scan(txn, GH_DB_RATE, key, klen, 0, sweep_fn, &s, NULL);
	for (size_t i = 0; err == GH_OK && i < s.n; i++) {
		err = gh_txn_del(txn, GH_DB_RATE, s.key[i], s.klen[i]);
		if (err == GH_ENOTFOUND)
			err = GH_OK;
	}
	return err;
}

gh_err
gp_fail_txn(struct gh_txn *txn, void *arg)
{
	struct gp_job *job = arg;
	const struct gp_opts *o = job->opts;
	const struct gp_login *l = job->login;
	char ukey[GH_PAM_RATE_KEY_MAX + 1], akey[GH_PAM_RATE_KEY_MAX + 1];
	size_t ulen = 0, alen = 0;
	uint64_t uc = 0, ac = 0, n = (uint64_t)o->burst_n;
	gh_err err;

	job->flags = 0;
	job->count = 0;
	if (o->burst_n <= 0)
		return GH_OK;
	if (l->user[0] != '\0')
		ulen = gp_fail_key(GH_PAM_FAIL_USER, l->user, ukey,
		                       sizeof(ukey));
	if (l->origin != GH_PAM_ORIGIN_LOCAL)
		alen = gp_fail_key(GH_PAM_FAIL_ADDR, l->addr, akey,
		                       sizeof(akey));
	if (ulen == 0 && alen == 0)
		return GH_OK;   /* nothing to count on */
	/* Sweep first: the counters we are about to bump are never stale
	 * once bumped, and the scan must not run over our own writes. */
	if (ulen > 0 && (err = sweep_after(txn, ukey, ulen, l->now,
	                                   o->burst_window_ms)) != GH_OK)
		return err;
	if (alen > 0 && (err = sweep_after(txn, akey, alen, l->now,
	                                   o->burst_window_ms)) != GH_OK)
		return err;
	if (ulen > 0 && (err = gh_rate_hit_txn(txn, ukey, o->burst_window_ms,
	                                       l->now, 1, &uc)) != GH_OK)
		return err;
	if (alen > 0 && (err = gh_rate_hit_txn(txn, akey, o->burst_window_ms,
	                                       l->now, 1, &ac)) != GH_OK)
		return err;
	job->flags |= GH_PAM_R_COUNTED;
	job->count = ulen > 0 ? uc : ac;
	/* The hit adds exactly one to a count read at the same instant, so
	 * "reached N now" is "== N": the upward crossing. */
	if ((ulen > 0 && uc == n) || (alen > 0 && ac == n))
		return raise_burst(txn, job, ulen > 0 && uc == n,
		                   alen > 0 && ac == n, uc, ac);
	return GH_OK;
}
