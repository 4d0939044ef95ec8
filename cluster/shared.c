/*
 * shared.c - contacts, push subscriptions, preferences and the
 * suppression list shared through JetStream KV buckets (cluster/shared.h,
 * docs/cluster.md "Shared data").
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "gatehouse/codec.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "gatehouse/replog.h"
#include "gatehouse/users.h"
#include "shared.h"

#define BATCH 64
#define PUBLISH_POLL_MS 100   /* how often the replication log is read */
#define WATCH_WAIT_MS 500     /* longest wait for a KV entry */
#define RETRY_MS 1000         /* after a failure, before trying again */

/* ---- keys ---- */

static const char *
kind_prefix(unsigned kind)
{
	switch (kind) {
	case GH_REP_CONTACTS: return "contacts.";
	case GH_REP_PUSH: return "push.";
	case GH_REP_PREFS: return "prefs.";
	default: return NULL;
	}
}

static gh_err
enc(const void *p, size_t n, char *out, size_t cap, size_t *olen)
{
	if (cap < GH_B64_ENC_LEN(n))
		return GH_ETOOBIG;
	return gh_b64_encode(GH_B64_URL, p, n, out, cap, olen);
}

gh_err
ghc_key_encode(unsigned kind, const void *key, size_t klen, char *out,
               size_t cap)
{
	const char *pre, *nul;
	size_t pl, n, al;
	gh_err err;

	if (key == NULL || klen == 0 || out == NULL || cap == 0)
		return GH_EINVAL;
	if (kind == GH_REP_SUPPRESS) {
		nul = memchr(key, '\0', klen);
		if (nul == NULL || nul == key)
			return GH_EINVAL;
		al = (size_t)(nul - (const char *)key);
		err = enc(key, al, out, cap, &n);
		if (err || al + 1 == klen)
			return err;
		if (n + 2 > cap)
			return GH_ETOOBIG;
		out[n] = '.';
		return enc(nul + 1, klen - al - 1, out + n + 1, cap - n - 1,
		           NULL);
	}
	pre = kind_prefix(kind);
	if (pre == NULL || memchr(key, '\0', klen))
		return GH_EINVAL;
	pl = strlen(pre);
	if (pl >= cap)
		return GH_ETOOBIG;
	memcpy(out, pre, pl);
	return enc(key, klen, out + pl, cap - pl, NULL);
}

/* base64url s[0..n) into out; no NUL inside, 1..max bytes. */
static gh_err
dec(const char *s, size_t n, char *out, size_t max, size_t *olen)
{
	unsigned char buf[GHC_KV_KEY_MAX];
	size_t l;

	if (n == 0 || n > GHC_KV_KEY_MAX ||
	    gh_b64_decode(GH_B64_URL, s, n, buf, sizeof(buf), &l) != GH_OK ||
	    l == 0 || l > max || memchr(buf, '\0', l))
		return GH_EINVAL;
	memcpy(out, buf, l);
	*olen = l;
	return GH_OK;
}

gh_err
ghc_key_decode(int suppress_bucket, const char *kvkey, unsigned *kind,
               void *rkey, size_t rcap, size_t *rlen)
{
	char a[GH_ADDR_MAX + 1], norm[GH_ADDR_MAX + 1], l[GH_LIST_MAX + 1];
	char user[GH_USER_MAX + 1];
	const char *dot;
	size_t al, ll = 0;
	static const unsigned kinds[] = {GH_REP_CONTACTS, GH_REP_PUSH,
	                                 GH_REP_PREFS};

	if (kvkey == NULL || rkey == NULL)
		return GH_EINVAL;
	if (suppress_bucket) {
		dot = strchr(kvkey, '.');
		if (dec(kvkey, dot ? (size_t)(dot - kvkey) : strlen(kvkey), a,
		        GH_ADDR_MAX, &al) != GH_OK)
			return GH_EINVAL;
		a[al] = '\0';
		/* only the normalised form: one record, one key */
		if (gh_addr_normalize(a, norm, sizeof(norm)) != GH_OK ||
		    strcmp(a, norm) != 0)
			return GH_EINVAL;
		if (dot && dec(dot + 1, strlen(dot + 1), l, GH_LIST_MAX,
		               &ll) != GH_OK)
			return GH_EINVAL;
		if (al + 1 + ll > rcap)
			return GH_ETOOBIG;
		memcpy(rkey, a, al);
		((char *)rkey)[al] = '\0';
		memcpy((char *)rkey + al + 1, l, ll);
		*rlen = al + 1 + ll;
		*kind = GH_REP_SUPPRESS;
		return GH_OK;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *pre = kind_prefix(kinds[i]);
		size_t pl = strlen(pre), ul;

		if (strncmp(kvkey, pre, pl) != 0)
			continue;
		if (dec(kvkey + pl, strlen(kvkey + pl), user, GH_USER_MAX,
		        &ul) != GH_OK)
			return GH_EINVAL;
		user[ul] = '\0';
		if (!gh_user_id_ok(user))
			return GH_EINVAL;
		if (ul > rcap)
			return GH_ETOOBIG;
		memcpy(rkey, user, ul);
		*rlen = ul;
		*kind = kinds[i];
		return GH_OK;
	}
	return GH_EINVAL;
}

/* ---- values ---- */

/* rec without the members the store keeps (v, updated_at) and drop. */
static json_t *
bare(const json_t *rec, const char *drop)
{
	json_t *c = json_deep_copy(rec);

	if (c != NULL) {
		json_object_del(c, "v");
		json_object_del(c, "updated_at");
		if (drop)
			json_object_del(c, drop);
	}
	return c;
}

gh_err
ghc_value_read_txn(struct gh_txn *txn, unsigned kind, const void *key,
                   size_t klen, const char *host, char **val)
{
	char user[GH_USER_MAX + 1];
	json_t *rec = NULL, *out = NULL;
	gh_err err;

	*val = NULL;
	if (kind == GH_REP_SUPPRESS) {
		const char *nul = memchr(key, '\0', klen);

		if (nul == NULL)
			return GH_EINVAL;
		err = gh_txn_get_json(txn, GH_DB_SUPPRESSION, key, klen, &rec);
		if (err == GH_ENOTFOUND)
			return GH_OK;
		if (err)
			return err;
		out = json_pack("{s:i, s:s, s:s%, s:O?, s:O?, s:O?, s:s}",
		                "v", 1, "addr", (const char *)key, "list",
		                nul + 1, klen - (size_t)(nul + 1 -
		                (const char *)key), "reason",
		                json_object_get(rec, "reason"), "source",
		                json_object_get(rec, "source"), "created_at",
		                json_object_get(rec, "created_at"), "host", host);
		goto done;
	}
	if (klen > GH_USER_MAX)
		return GH_EINVAL;
	memcpy(user, key, klen);
	user[klen] = '\0';
	if (kind == GH_REP_PREFS)
		err = gh_prefs_get_txn(txn, user, &rec);
	else if (kind == GH_REP_CONTACTS || kind == GH_REP_PUSH)
		err = gh_contacts_get_txn(txn, user, &rec);
	else
		return GH_EINVAL;
	if (err == GH_ENOTFOUND)
		return GH_OK;
	if (err)
		return err;
	if (kind == GH_REP_PUSH) {
		json_t *push = json_object_get(rec, "push");

		if (json_array_size(push) > 0)
			out = json_pack("{s:i, s:s, s:O, s:s}", "v", 1, "user",
			                user, "push", push, "host", host);
		else
			err = GH_ENOTFOUND;   /* none: a delete */
	} else {
		out = json_pack("{s:i, s:s, s:o, s:O?, s:s}", "v", 1, "user",
		                user, kind == GH_REP_PREFS ? "prefs" :
		                "contacts", bare(rec, kind == GH_REP_CONTACTS ?
		                "push" : NULL), "updated_at",
		                json_object_get(rec, "updated_at"), "host", host);
	}
	if (err == GH_ENOTFOUND) {
		json_decref(rec);
		return GH_OK;
	}
done:
	json_decref(rec);
	if (out == NULL)
		return GH_ENOMEM;
	*val = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	return *val ? GH_OK : GH_ENOMEM;
}

/* ---- applying what the bucket has ---- */

static gh_err
refuse(char *why, size_t wlen, const char *kvkey, const char *what)
{
	snprintf(why, wlen, "KV entry %.80s: %s", kvkey, what);
	return GH_EINVAL;
}

static int
same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static gh_err
apply_suppress(struct gh_txn *txn, const char *kvkey, const char *rkey,
               size_t rlen, const json_t *v, int *applied, char *why,
               size_t wlen)
{
	const char *list = rkey + strlen(rkey) + 1;
	char lbuf[GH_LIST_MAX + 1];
	json_t *old = NULL;
	const char *reason, *source;
	json_int_t at;
	gh_err err;

	memcpy(lbuf, list, rlen - strlen(rkey) - 1);
	lbuf[rlen - strlen(rkey) - 1] = '\0';
	if (v == NULL) {
		err = gh_suppress_remove_txn(txn, rkey, lbuf);
		if (err == GH_ENOTFOUND)
			return GH_OK;
		*applied = err == GH_OK;
		return err;
	}
	if (json_integer_value(json_object_get(v, "v")) != 1 ||
	    !json_is_string(json_object_get(v, "addr")) ||
	    strcmp(json_string_value(json_object_get(v, "addr")), rkey) ||
	    !json_is_string(json_object_get(v, "list")) ||
	    strcmp(json_string_value(json_object_get(v, "list")), lbuf))
		return refuse(why, wlen, kvkey, "not a suppression entry of "
		              "this key (version 1)");
	reason = json_string_value(json_object_get(v, "reason"));
	source = json_string_value(json_object_get(v, "source"));
	at = json_integer_value(json_object_get(v, "created_at"));
	err = gh_txn_get_json(txn, GH_DB_SUPPRESSION, rkey, rlen, &old);
	if (err == GH_OK &&
	    same_str(json_string_value(json_object_get(old, "reason")),
	             reason) &&
	    same_str(json_string_value(json_object_get(old, "source")),
	             source) &&
	    json_integer_value(json_object_get(old, "created_at")) == at) {
		json_decref(old);
		return GH_OK;
	}
	json_decref(old);
	if (err && err != GH_ENOTFOUND)
		return err;
	err = gh_suppress_add_txn(txn, rkey, lbuf, reason, source, at);
	if (err == GH_EINVAL || err == GH_ETOOBIG)
		return refuse(why, wlen, kvkey, "address or list refused");
	*applied = err == GH_OK;
	return err;
}

static int
same_bare(const json_t *local, const json_t *remote, const char *drop)
{
	json_t *a = bare(local, drop), *b = bare(remote, drop);
	int same = a && b && json_equal(a, b);

	json_decref(a);
	json_decref(b);
	return same;
}

static gh_err
apply_user(struct gh_txn *txn, unsigned kind, const char *kvkey,
           const char *user, const json_t *v, int *applied, char *why,
           size_t wlen)
{
	json_t *rec = NULL, *nrec = NULL;
	const char *member = kind == GH_REP_PREFS ? "prefs" :
	                     kind == GH_REP_PUSH ? "push" : "contacts";
	const json_t *part = NULL;
	json_int_t at;
	char detail[200];
	gh_err err;

	if (v != NULL) {
		part = json_object_get(v, member);
		if (json_integer_value(json_object_get(v, "v")) != 1 ||
		    !json_is_string(json_object_get(v, "user")) ||
		    strcmp(json_string_value(json_object_get(v, "user")),
		           user) != 0 || part == NULL ||
		    (kind == GH_REP_PUSH ? !json_is_array(part) :
		     !json_is_object(part)))
			return refuse(why, wlen, kvkey, "not a record of this "
			              "key (version 1)");
	}
	at = json_integer_value(json_object_get(v, "updated_at"));
	if (at <= 0)
		at = gh_now_ms();
	if (kind == GH_REP_PREFS) {
		if (v == NULL) {
			err = gh_prefs_del_txn(txn, user);
			if (err == GH_ENOTFOUND)
				return GH_OK;
			*applied = err == GH_OK;
			return err;
		}
		if (gh_prefs_validate(part, detail, sizeof(detail)) != GH_OK)
			return refuse(why, wlen, kvkey, detail);
		err = gh_prefs_get_txn(txn, user, &rec);
		if (err == GH_OK && same_bare(rec, part, NULL)) {
			json_decref(rec);
			return GH_OK;
		}
		json_decref(rec);
		if (err && err != GH_ENOTFOUND)
			return err;
		err = gh_prefs_put_txn(txn, user, part, at);
		*applied = err == GH_OK;
		return err;
	}
	/* contacts and push share the users record: merge the part in */
	err = gh_contacts_get_txn(txn, user, &rec);
	if (err == GH_ENOTFOUND) {
		if (v == NULL)
			return GH_OK;
		rec = json_object();
		err = rec ? GH_OK : GH_ENOMEM;
	}
	if (err)
		return err;
	if (kind == GH_REP_PUSH) {
		nrec = json_deep_copy(rec);
		if (nrec && v)
			json_object_set(nrec, "push", (json_t *)part);
		else if (nrec)
			json_object_del(nrec, "push");
	} else {
		/* the remote contacts never carry push: ours stay */
		nrec = v ? json_deep_copy(part) : json_object();
		if (nrec)
			json_object_del(nrec, "push");
		if (nrec && json_object_get(rec, "push"))
			json_object_set(nrec, "push",
			                json_object_get(rec, "push"));
	}
	if (nrec == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	if (same_bare(rec, nrec, NULL) && json_object_size(rec) > 0)
		goto cleanup;
	{
		json_t *rest = bare(nrec, NULL);
		size_t left = rest ? json_object_size(rest) : 1;

		json_decref(rest);
		if (left == 0) {
			/* nothing of the user's contacts left */
			err = gh_contacts_del_txn(txn, user);
			if (err == GH_ENOTFOUND)
				err = GH_OK;
			else
				*applied = err == GH_OK;
			goto cleanup;
		}
	}
	if (gh_contacts_validate(nrec, detail, sizeof(detail)) != GH_OK) {
		err = refuse(why, wlen, kvkey, detail);
		goto cleanup;
	}
	err = gh_contacts_put_txn(txn, user, nrec, at);
	*applied = err == GH_OK;
cleanup:
	json_decref(rec);
	json_decref(nrec);
	return err;
}

gh_err
ghc_apply_txn(struct gh_txn *txn, int suppress_bucket, const char *kvkey,
              const void *val, size_t vlen, uint64_t rev, int *applied,
              char *why, size_t wlen)
{
	char rkey[GH_REPLOG_KEY_MAX + 1];
	size_t rlen;
	unsigned kind;
	json_t *v = NULL;
	gh_err err;

	*applied = 0;
	why[0] = '\0';
	if (ghc_key_decode(suppress_bucket, kvkey, &kind, rkey,
	                   sizeof(rkey) - 1, &rlen) != GH_OK)
		return refuse(why, wlen, kvkey, "not a key of Gatehouse's");
	rkey[rlen] = '\0';
	/* a change made here waits to be published: the one with the later
	 * revision wins, known once it is (pub_done_txn) */
	err = gh_replog_pending_txn(txn, kind, rkey, rlen, NULL);
	if (err == GH_OK)
		return rev ? gh_replog_defer_txn(txn, kind, rkey, rlen, rev,
		                                 val ? GH_REP_PUT : GH_REP_DEL,
		                                 val, vlen) : GH_OK;
	if (err != GH_ENOTFOUND)
		return err;
	if (val != NULL) {
		v = json_loadb(val, vlen, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(v)) {
			json_decref(v);
			return refuse(why, wlen, kvkey, "not a JSON object");
		}
	}
	if (kind == GH_REP_SUPPRESS)
		err = apply_suppress(txn, kvkey, rkey, rlen, v, applied, why,
		                     wlen);
	else
		err = apply_user(txn, kind, kvkey, rkey, v, applied, why,
		                 wlen);
	json_decref(v);
	return err;
}

/* ---- the threads ---- */

struct watch {
	struct ghc_sync *s;
	int suppress;             /* which bucket */
	const char *name;
	pthread_t th;
	int started;
	uint64_t rev;             /* last applied */
	int up;
};

struct ghc_sync {
	struct ghc *c;
	struct gh_store *st;
	unsigned what;
	ghc_log_fn log;
	void *log_arg;
	atomic_int stop;
	pthread_mutex_t mu;       /* stats, sleeping */
	pthread_cond_t cv;
	struct ghc_sync_stats stats;
	struct watch w[2];
	pthread_t pub;
	int pub_started;
	int pub_up;
};

__attribute__((format(printf, 3, 4)))
static void
slog(struct ghc_sync *s, int prio, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (s->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->log(prio, line, s->log_arg);
}

/* Sleep up to ms unless stopped; 1 when stopping. */
static int
nap(struct ghc_sync *s, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop) &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->mu);
	return atomic_load(&s->stop);
}

static void
count(struct ghc_sync *s, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&s->mu);
	*field += n;
	pthread_mutex_unlock(&s->mu);
}

/* Up/down, logged once each way; the first state (from -1) is news too,
 * and ghc_sync_stats tells "not known yet" from down: not
 * gatehouse/reopen.h's two-state latch. */
static void
set_up(struct ghc_sync *s, int *up, const char *what, int now_up,
       const char *reason)
{
	int was;

	pthread_mutex_lock(&s->mu);   /* ghc_sync_stats reads it */
	was = *up;
	*up = now_up;
	pthread_mutex_unlock(&s->mu);
	if (was == now_up)
		return;
	if (now_up)
		slog(s, LOG_INFO, "%s: connected to the cluster", what);
	else
		slog(s, LOG_WARNING, "%s: cluster unreachable (%s); the local "
		     "copy stays in use", what, reason);
}

static uint64_t
reconnects(struct ghc *c)
{
	natsStatistics *st = NULL;
	uint64_t r = 0;

	if (natsStatistics_Create(&st) == NATS_OK &&
	    natsConnection_GetStats(ghc_conn(c), st) == NATS_OK)
		natsStatistics_GetCounts(st, NULL, NULL, NULL, NULL, &r);
	natsStatistics_Destroy(st);
	return r;
}

static gh_err
rev_view(struct gh_txn *txn, void *arg)
{
	struct watch *w = arg;
	char k[96];
	const void *v;
	size_t vl;
	gh_err err;

	snprintf(k, sizeof(k), "%s%s", GHC_KV_REV, w->name);
	w->rev = 0;
	err = gh_txn_get(txn, GH_DB_META, k, strlen(k), &v, &vl);
	if (err == GH_OK && vl == 8)
		w->rev = gh_get_be64(v);
	return err == GH_ENOTFOUND ? GH_OK : err;
}

struct apply_batch {
	struct watch *w;
	kvEntry *e[BATCH];
	size_t n;
	uint64_t rev;             /* out: the new last revision */
	size_t applied, skipped;
	char why[BATCH][200];
};

static gh_err
apply_batch_txn(struct gh_txn *txn, void *arg)
{
	struct apply_batch *a = arg;
	char k[96];
	unsigned char b8[8];
	gh_err err = GH_OK;

	gh_txn_replog_mute(txn);
	a->rev = a->w->rev;
	a->applied = a->skipped = 0;
	for (size_t i = 0; i < a->n; i++) {
		kvEntry *e = a->e[i];
		uint64_t rev = kvEntry_Revision(e);
		kvOperation op = kvEntry_Operation(e);
		int applied = 0;

		a->why[i][0] = '\0';
		if (rev <= a->rev)
			continue;     /* had it before a restart or reconnect */
		err = ghc_apply_txn(txn, a->w->suppress, kvEntry_Key(e),
		                    op == kvOp_Put ? kvEntry_Value(e) : NULL,
		                    op == kvOp_Put ? (size_t)kvEntry_ValueLen(e)
		                    : 0, rev, &applied, a->why[i],
		                    sizeof(a->why[i]));
		if (err == GH_EINVAL)
			err = GH_OK;      /* refused: logged, not retried */
		if (err)
			return err;
		a->rev = rev;
		if (applied)
			a->applied++;
		else
			a->skipped++;
	}
	if (a->rev == a->w->rev)
		return GH_OK;
	snprintf(k, sizeof(k), "%s%s", GHC_KV_REV, a->w->name);
	gh_put_be64(b8, a->rev);
	return gh_txn_put(txn, GH_DB_META, k, strlen(k), b8, 8);
}

/* A bucket made again starts its revisions over: if it has fewer than we
 * applied, apply it all (what we have stays until its keys say else). */
static void
check_reset(struct ghc_sync *s, struct watch *w, const char *what)
{
	char bucket[GHC_TOKEN_MAX * 2 + 8], stream[sizeof(bucket) + 3];
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;

	if (w->rev == 0 || ghc_bucket(ghc_opts(s->c), w->name, bucket,
	                              sizeof(bucket)) != GH_OK)
		return;
	snprintf(stream, sizeof(stream), "KV_%s", bucket);
	if (js_GetStreamInfo(&si, ghc_js(s->c), stream, NULL, &jerr) !=
	    NATS_OK || si == NULL)
		return;
	if (si->State.LastSeq < w->rev) {
		slog(s, LOG_WARNING, "%s: the bucket is at revision %llu, "
		     "below the %llu applied here: made again; applying it "
		     "from the start", what,
		     (unsigned long long)si->State.LastSeq,
		     (unsigned long long)w->rev);
		w->rev = 0;
	}
	jsStreamInfo_Destroy(si);
}

static void *
watch_main(void *arg)
{
	struct watch *w = arg;
	struct ghc_sync *s = w->s;
	kvStore *kv = NULL;
	kvWatcher *wt = NULL;
	struct apply_batch *a = calloc(1, sizeof(*a));
	char what[96], err_s[256];
	uint64_t recon = 0;
	gh_err err;

	snprintf(what, sizeof(what), "shared data (bucket %s)", w->name);
	if (a == NULL)
		return NULL;
	a->w = w;
	(void)gh_store_view(s->st, rev_view, w);
	while (!atomic_load(&s->stop)) {
		natsStatus ns;
		kvEntry *e = NULL;

		if (!ghc_connected(s->c)) {
			set_up(s, &w->up, what, 0, "not connected");
			kvWatcher_Destroy(wt);
			wt = NULL;
			nap(s, 200);
			continue;
		}
		if (kv == NULL) {
			err = ghc_kv(s->c, w->name, !!(s->what &
			             GHC_SYNC_CREATE), 1, &kv, err_s,
			             sizeof(err_s));
			if (err) {
				set_up(s, &w->up, what, 0, err == GH_ENOTFOUND ?
				       "the bucket is not there yet: "
				       "gatehouse-notifyd makes it" : err_s);
				nap(s, RETRY_MS);
				continue;
			}
		}
		if (wt == NULL) {
			check_reset(s, w, what);
			recon = reconnects(s->c);
			ns = kvStore_WatchAll(&wt, kv, NULL);
			if (ns != NATS_OK) {
				set_up(s, &w->up, what, 0,
				       natsStatus_GetText(ns));
				wt = NULL;
				nap(s, RETRY_MS);
				continue;
			}
			set_up(s, &w->up, what, 1, NULL);
		}
		ns = kvWatcher_Next(&e, wt, WATCH_WAIT_MS);
		if (ns == NATS_TIMEOUT) {
			/* after a reconnect the watch starts again from the
			 * bucket's state: nothing missed while away */
			if (reconnects(s->c) != recon) {
				kvWatcher_Destroy(wt);
				wt = NULL;
			}
			continue;
		}
		if (ns != NATS_OK) {
			kvWatcher_Destroy(wt);
			wt = NULL;
			nap(s, 200);
			continue;
		}
		if (e == NULL)
			continue;     /* the initial values are all in */
		a->n = 0;
		a->e[a->n++] = e;
		while (a->n < BATCH && kvWatcher_Next(&e, wt, 1) == NATS_OK &&
		       e != NULL)
			a->e[a->n++] = e;
		err = gh_store_update(s->st, apply_batch_txn, a);
		if (err == GH_OK) {
			w->rev = a->rev;
			pthread_mutex_lock(&s->mu);
			s->stats.applied += a->applied;
			s->stats.skipped += a->skipped;
			if (w->suppress)
				s->stats.rev_suppress = w->rev;
			else
				s->stats.rev_users = w->rev;
			pthread_mutex_unlock(&s->mu);
			for (size_t i = 0; i < a->n; i++)
				if (a->why[i][0])
					slog(s, LOG_WARNING, "%s: %s", what,
					     a->why[i]);
		} else {
			/* the store refused (full, locked): watch again from
			 * the last revision applied */
			slog(s, LOG_ERR, "%s: cannot apply to the local store: "
			     "%s", what, gh_strerror(err));
			kvWatcher_Destroy(wt);
			wt = NULL;
		}
		for (size_t i = 0; i < a->n; i++)
			kvEntry_Destroy(a->e[i]);
		a->n = 0;
		if (err)
			nap(s, RETRY_MS);
	}
	kvWatcher_Destroy(wt);
	kvStore_Destroy(kv);
	free(a);
	return NULL;
}

struct pub_item {
	unsigned kind;
	unsigned char key[GH_REPLOG_KEY_MAX];
	size_t klen;
	uint64_t seq;
	char kvkey[GHC_KV_KEY_MAX];
	char *val;
	int ok;          /* published (or dropped as unpublishable) */
	uint64_t rev;    /* the revision the publish got (0: dropped) */
};

struct pub_batch {
	struct pub_item *it;
	size_t n;
	const char *host;
	size_t applied;   /* deferred remote changes applied at the end */
};

static int
pub_collect(unsigned kind, const void *key, size_t klen, uint64_t seq,
            void *arg)
{
	struct pub_batch *b = arg;
	struct pub_item *p = &b->it[b->n];

	if (klen > sizeof(p->key))
		return 0;
	p->kind = kind;
	memcpy(p->key, key, klen);
	p->klen = klen;
	p->seq = seq;
	p->val = NULL;
	p->ok = 0;
	p->kvkey[0] = '\0';
	return ++b->n == BATCH;
}

static gh_err
pub_view(struct gh_txn *txn, void *arg)
{
	struct pub_batch *b = arg;
	gh_err err;

	for (size_t i = 0; i < b->n; i++)
		free(b->it[i].val);
	b->n = 0;
	err = gh_replog_scan_txn(txn, pub_collect, b);
	for (size_t i = 0; err == GH_OK && i < b->n; i++) {
		struct pub_item *p = &b->it[i];

		if (ghc_key_encode(p->kind, p->key, p->klen, p->kvkey,
		                   sizeof(p->kvkey)) != GH_OK) {
			p->kvkey[0] = '\0';   /* dropped below */
			continue;
		}
		err = ghc_value_read_txn(txn, p->kind, p->key, p->klen,
		                         b->host, &p->val);
		if (err == GH_EINVAL) {
			p->kvkey[0] = '\0';
			err = GH_OK;
		}
	}
	return err;
}

/* Clear what was published; a change from the cluster that came while
 * the entry waited and has a later revision than our publish is the
 * record's state: apply it now. */
static gh_err
pub_done_txn(struct gh_txn *txn, void *arg)
{
	struct pub_batch *b = arg;

	gh_txn_replog_mute(txn);
	b->applied = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct pub_item *p = &b->it[i];
		struct gh_replog_entry e;
		char why[200], *val = NULL;
		size_t vlen = 0;
		int applied = 0;
		gh_err err;

		if (!p->ok)
			continue;
		err = gh_replog_get_txn(txn, p->kind, p->key, p->klen, &e);
		if (err == GH_ENOTFOUND || (err == GH_OK && e.seq != p->seq))
			continue;     /* changed since: published again */
		if (err)
			return err;
		if (e.rev > p->rev && p->rev && e.op == GH_REP_PUT) {
			val = malloc(e.vlen + 1);
			if (val == NULL)
				return GH_ENOMEM;
			memcpy(val, e.val, e.vlen);
			vlen = e.vlen;
		}
		err = gh_replog_done_txn(txn, p->kind, p->key, p->klen, p->seq);
		if (err == GH_OK && e.rev > p->rev && p->rev) {
			err = ghc_apply_txn(txn, p->kind == GH_REP_SUPPRESS,
			                    p->kvkey, val, vlen, e.rev, &applied,
			                    why, sizeof(why));
			if (err == GH_EINVAL)
				err = GH_OK;
			b->applied += applied;
		}
		free(val);
		if (err)
			return err;
	}
	return GH_OK;
}

/* A delete as kvStore_Delete makes it (a KV-Operation: DEL marker on the
 * key's subject), with the revision it got, which kvStore_Delete does not
 * tell. */
static natsStatus
kv_delete(struct ghc_sync *s, const char *name, const char *kvkey,
          uint64_t *rev)
{
	char bucket[GHC_TOKEN_MAX * 2 + 8], subj[GHC_KV_KEY_MAX + 160];
	natsMsg *m = NULL;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus ns;

	*rev = 0;
	if (ghc_bucket(ghc_opts(s->c), name, bucket, sizeof(bucket)) != GH_OK)
		return NATS_INVALID_ARG;
	snprintf(subj, sizeof(subj), "$KV.%s.%s", bucket, kvkey);
	ns = natsMsg_Create(&m, subj, NULL, NULL, 0);
	if (ns == NATS_OK)
		ns = natsMsgHeader_Set(m, "KV-Operation", "DEL");
	if (ns == NATS_OK)
		ns = js_PublishMsg(&pa, ghc_js(s->c), m, NULL, &jerr);
	if (ns == NATS_OK && pa != NULL)
		*rev = pa->Sequence;
	jsPubAck_Destroy(pa);
	natsMsg_Destroy(m);
	return ns;
}

static void *
pub_main(void *arg)
{
	struct ghc_sync *s = arg;
	kvStore *kv[2] = {NULL, NULL};   /* users, suppress */
	struct pub_batch b = {calloc(BATCH, sizeof(struct pub_item)), 0,
	                      ghc_opts(s->c)->host, 0};
	const char *what = "shared data (publishing)";
	char err_s[256];
	size_t sent = 0;
	int waiting = 0;   /* the last read left changes unpublished */
	gh_err err;

	if (b.it == NULL)
		return NULL;
	/* a full batch (a store joining the cluster, a backlog after an
	 * outage): straight on to the next */
	while (!nap(s, sent == BATCH ? 0 : PUBLISH_POLL_MS)) {
		int failed = 0;

		sent = 0;
		/* nothing can go out: the log is not read (a read transaction
		 * every round for nothing) but kept, and read again once
		 * connected, so the changes made meanwhile go then */
		if (!ghc_connected(s->c)) {
			if (waiting)
				set_up(s, &s->pub_up, what, 0, "not connected");
			continue;
		}
		err = gh_store_view(s->st, pub_view, &b);
		waiting = err == GH_OK && b.n > 0;
		if (!waiting)
			continue;
		for (int i = 0; i < 2; i++) {
			if (kv[i] != NULL)
				continue;
			err = ghc_kv(s->c, i ? GHC_BUCKET_SUPPRESS :
			             GHC_BUCKET_USERS, !!(s->what &
			             GHC_SYNC_CREATE), 1, &kv[i], err_s,
			             sizeof(err_s));
			if (err)
				break;
		}
		if (kv[0] == NULL || kv[1] == NULL) {
			set_up(s, &s->pub_up, what, 0, err_s);
			nap(s, RETRY_MS);
			continue;
		}
		for (size_t i = 0; i < b.n && !failed; i++) {
			struct pub_item *p = &b.it[i];
			kvStore *k = kv[p->kind == GH_REP_SUPPRESS];
			natsStatus ns;

			p->rev = 0;
			if (p->kvkey[0] == '\0') {
				slog(s, LOG_WARNING, "%s: a log entry that "
				     "names no valid record, dropped", what);
				p->ok = 1;
				continue;
			}
			if (p->val != NULL)
				ns = kvStore_PutString(&p->rev, k, p->kvkey,
				                       p->val);
			else
				ns = kv_delete(s, p->kind == GH_REP_SUPPRESS ?
				               GHC_BUCKET_SUPPRESS :
				               GHC_BUCKET_USERS, p->kvkey,
				               &p->rev);
			if (ns == NATS_OK) {
				p->ok = 1;
				sent++;
			} else {
				set_up(s, &s->pub_up, what, 0,
				       natsStatus_GetText(ns));
				failed = 1;
			}
		}
		if (!failed)
			set_up(s, &s->pub_up, what, 1, NULL);
		err = gh_store_update(s->st, pub_done_txn, &b);
		if (err)
			slog(s, LOG_WARNING, "%s: cannot clear sent entries: "
			     "%s (they will be sent again)", what,
			     gh_strerror(err));
		count(s, &s->stats.published, sent);
		if (err == GH_OK)
			count(s, &s->stats.applied, b.applied);
		/* all of it out and cleared; a full batch may have more */
		waiting = failed || err || b.n == BATCH;
		if (failed)
			nap(s, RETRY_MS);
	}
	for (size_t i = 0; i < b.n; i++)
		free(b.it[i].val);
	free(b.it);
	kvStore_Destroy(kv[0]);
	kvStore_Destroy(kv[1]);
	return NULL;
}

gh_err
ghc_sync_start(struct ghc *c, struct gh_store *st, unsigned what,
               ghc_log_fn log, void *log_arg, struct ghc_sync **out)
{
	struct ghc_sync *s;
	gh_err err = GH_OK;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return GH_ENOMEM;
	s->c = c;
	s->st = st;
	s->what = what;
	s->log = log;
	s->log_arg = log_arg;
	atomic_init(&s->stop, 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (int i = 0; i < 2; i++) {
		struct watch *w = &s->w[i];

		w->s = s;
		w->suppress = i;
		w->name = i ? GHC_BUCKET_SUPPRESS : GHC_BUCKET_USERS;
		w->up = -1;     /* not known: the first state is logged */
		if (!(what & (i ? GHC_SYNC_SUPPRESS : GHC_SYNC_USERS)))
			continue;
		if (pthread_create(&w->th, NULL, watch_main, w) != 0) {
			err = GH_EIO;
			goto fail;
		}
		w->started = 1;
	}
	s->pub_up = -1;
	if (what & GHC_SYNC_PUBLISH) {
		if (pthread_create(&s->pub, NULL, pub_main, s) != 0) {
			err = GH_EIO;
			goto fail;
		}
		s->pub_started = 1;
	}
	*out = s;
	return GH_OK;
fail:
	ghc_sync_stop(s);
	return err;
}

void
ghc_sync_stats(struct ghc_sync *s, struct ghc_sync_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	out->up = (!s->w[0].started || s->w[0].up == 1) &&
	          (!s->w[1].started || s->w[1].up == 1) &&
	          (!s->pub_started || s->pub_up != 0);
	pthread_mutex_unlock(&s->mu);
}

void
ghc_sync_stop(struct ghc_sync *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, 1);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < 2; i++)
		if (s->w[i].started)
			pthread_join(s->w[i].th, NULL);
	if (s->pub_started)
		pthread_join(s->pub, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
