/*
 * retention.c - the purge that keeps a store bounded (gatehouse/retention.h
 * has the contract, docs/store.md "Retention" the rules).
 *
 * A purge walks the databases in a fixed order (phases), each from a
 * cursor key.  A step reads in one read transaction until it has found
 * `batch` deletions' worth of records or read GH_PURGE_SCAN_MAX, then
 * deletes them in one write transaction, judging each record again there
 * with the same rule (judge() serves both).  Deleting only what was
 * judged twice means a record a producer changed in between (an inbox
 * item marked read, an event retried) is never deleted on stale grounds.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gatehouse/knownhosts.h"
#include "gatehouse/maillog.h"
#include "gatehouse/queue.h"
#include "gatehouse/retention.h"
#include "gatehouse/uploads.h"
#include "queue_int.h"
#include "record_int.h"
#include "store_int.h"

#define KEY_MAX 511
#define NEVER INT64_MIN      /* the cutoff of a rule that keeps for ever */

enum phase {
	PH_EVENTS = 0,           /* walks qstate: finished events, deliveries */
	PH_INBOX,
	PH_MAIL_LOG,
	PH_UPLOADS,
	PH_KNOWN_HOSTS,
	PH_RATE,                 /* the milter's stale rate counters */
	PH_DEDUP,
	PH_SCAN_CACHE,           /* verdicts of the scanners' cache */
	PH_DONE
};

#define MILTER_RATE "milter:"

/* The database each phase walks. */
static const enum gh_db phase_db[PH_DONE] = {
	GH_DB_QSTATE, GH_DB_INBOX, GH_DB_MAIL_LOG, GH_DB_UPLOADS,
	GH_DB_KNOWN_HOSTS, GH_DB_RATE, GH_DB_DEDUP, GH_DB_SCAN_CACHE
};

/* The database a phase's counts are reported under. */
static const enum gh_db phase_stat_db[PH_DONE] = {
	GH_DB_EVENTS, GH_DB_INBOX, GH_DB_MAIL_LOG, GH_DB_UPLOADS,
	GH_DB_KNOWN_HOSTS, GH_DB_RATE, GH_DB_DEDUP, GH_DB_SCAN_CACHE
};

enum verdict {
	V_KEEP = 0,
	V_SKIP,                  /* cannot judge: left alone, counted */
	V_GO,                    /* the record goes (an event: with its
	                            delivery records) */
	V_GO_DELIV               /* an event stays, its deliveries go */
};

/* Why a scan of one step stopped (gh_txn_scan's non-zero returns). */
enum {
	STOP_STEP = 1,           /* the step has its fill: write, come back */
	STOP_PHASE,              /* an ordered walk met young records */
	STOP_USER                /* inbox: the rest of this user is young */
};

struct cand {
	unsigned char key[KEY_MAX];
	size_t klen;
	unsigned char phase;
	unsigned char what;      /* V_GO or V_GO_DELIV */
	size_t ndeliv;           /* delivery records counted when found */
};

struct gh_purge {
	struct gh_retention r;
	int64_t now;
	unsigned flags;
	size_t batch;
	enum phase phase;
	/* where the walk of the phase goes on: after cur, or at it when
	 * cur_incl (a key not yet judged, or one that does not exist) */
	unsigned char cur[KEY_MAX];
	size_t curlen;
	int have_cur, cur_incl;
	/* the step's findings, deleted by the next write */
	struct cand *c;
	size_t nc, cost;
	/* during a read */
	struct gh_txn *txn;
	size_t visited;
	gh_err err;
	/* during a write: counts of this attempt (it may run twice) */
	size_t wgone[GH_DB_COUNT_];
	struct gh_purge_stats stats;
};

void
gh_retention_from_conf(const struct gh_conf *conf, struct gh_retention *r)
{
	r->mail_log = gh_conf_int(conf, "retention", "mail_log");
	r->uploads = gh_conf_int(conf, "retention", "uploads");
	r->uploads_kept = gh_conf_int(conf, "retention", "uploads_kept");
	r->events = gh_conf_int(conf, "retention", "events");
	r->deliveries = gh_conf_int(conf, "retention", "deliveries");
	r->inbox_read = gh_conf_int(conf, "retention", "inbox_read");
	r->inbox_unread = gh_conf_int(conf, "retention", "inbox_unread");
	r->known_hosts = gh_conf_int(conf, "retention", "known_hosts");
	r->milter_rate_window = gh_conf_int(conf, "ratelimit", "window");
	r->scan_cache = gh_conf_int(conf, "retention", "scan_cache");
}

/* Records older than this go; NEVER for a rule of 0. */
static int64_t
cutoff(const struct gh_purge *p, int64_t age)
{
	return age > 0 ? p->now - age : NEVER;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Where an ordered walk ends: the latest of the phase's active cutoffs,
 * plus slack for records written a little out of order.  NEVER when no
 * rule of the phase is active (the phase is then not walked at all). */
static int64_t
stop_at(const struct gh_purge *p, enum phase ph)
{
	int64_t c = NEVER;

	switch (ph) {
	case PH_INBOX:
		c = max64(cutoff(p, p->r.inbox_read),
		          cutoff(p, p->r.inbox_unread));
		break;
	case PH_MAIL_LOG:
		c = cutoff(p, p->r.mail_log);
		break;
	case PH_UPLOADS:
		c = max64(cutoff(p, p->r.uploads), cutoff(p, p->r.uploads_kept));
		break;
	default:
		return NEVER;
	}
	return c == NEVER ? NEVER : c + GH_RETENTION_SLACK_MS;
}

static int
phase_active(const struct gh_purge *p, enum phase ph)
{
	switch (ph) {
	case PH_EVENTS:
		return p->r.events > 0 || p->r.deliveries > 0;
	case PH_INBOX:
	case PH_MAIL_LOG:
	case PH_UPLOADS:
		return stop_at(p, ph) != NEVER;
	case PH_KNOWN_HOSTS:
		return p->r.known_hosts > 0;
	case PH_RATE:
		return p->r.milter_rate_window > 0;
	case PH_DEDUP:
		return 1;
	case PH_SCAN_CACHE:
		return p->r.scan_cache > 0;
	default:
		return 0;
	}
}

/* ---- judging one record ---- */

struct deliv_count {
	const unsigned char *id8;
	size_t n;
};

static int
count_deliv(const void *key, size_t klen, const void *val, size_t vlen,
            void *arg)
{
	struct deliv_count *a = arg;

	(void)val;
	(void)vlen;
	if (klen < 8 || memcmp(key, a->id8, 8) != 0)
		return 1;        /* past the event's records */
	a->n++;
	return 0;
}

/* How many delivery records event id8 (its be64 key) has. */
static gh_err
deliv_count(struct gh_txn *txn, const unsigned char *id8, size_t *n)
{
	struct deliv_count a = {id8, 0};
	gh_err err;

	err = gh_txn_scan(txn, GH_DB_DELIVERIES, id8, 8, 0, count_deliv, &a,
	                  NULL);
	*n = a.n;
	return err;
}

/* *t = the integer member name of rec; 0 if it is not one. */
static int
time_of(const json_t *rec, const char *name, int64_t *t)
{
	const json_t *j = json_object_get(rec, name);

	if (!json_is_integer(j))
		return 0;
	*t = (int64_t)json_integer_value(j);
	return 1;
}

static enum verdict
judge_event(struct gh_purge *p, struct gh_txn *txn, const void *key,
            size_t klen, const void *val, size_t vlen, int count,
            int64_t *t, size_t *ndeliv)
{
	const unsigned finished = GH_Q_DONE | GH_Q_DEAD | GH_Q_EXPIRED;
	struct qstate q;
	enum verdict v = V_KEEP;

	if (klen != 8 || gh_qs_decode(val, vlen, &q) != GH_OK)
		return V_SKIP;
	*t = q.updated_at;
	if (q.state & finished) {
		if (q.updated_at < cutoff(p, p->r.events))
			v = V_GO;
		else if (q.updated_at < cutoff(p, p->r.deliveries))
			v = V_GO_DELIV;
	}
	/* Deliveries are counted when they are to go (the step's size
	 * counts them) and in a dry run (their oldest kept). */
	if (count && (v != V_KEEP || (p->flags & GH_PURGE_DRY_RUN))) {
		p->err = deliv_count(txn, key, ndeliv);
		if (p->err)
			return V_KEEP;
		if (v == V_GO_DELIV && *ndeliv == 0)
			v = V_KEEP;
	}
	return v;
}

static enum verdict
judge_inbox(struct gh_purge *p, const void *key, size_t klen,
            const void *val, size_t vlen, int64_t *t)
{
	const unsigned char *k = key;
	const json_t *digest;
	json_t *rec;
	int64_t read_at;
	enum verdict v = V_KEEP;

	if (klen < 10 || k[klen - 9] != 0)
		return V_SKIP;
	(void)gh_rec_load(val, vlen, 1, &rec);   /* NULL: skipped */
	if (rec == NULL || !time_of(rec, "created_at", t)) {
		json_decref(rec);
		return V_SKIP;
	}
	if (time_of(rec, "read_at", &read_at)) {
		if (read_at < cutoff(p, p->r.inbox_read))
			v = V_GO;
	} else if (*t < cutoff(p, p->r.inbox_unread)) {
		/* one waiting for its digest: at least as long as the
		 * longest a digest waits */
		digest = json_object_get(rec, "digest");
		if (!json_is_true(digest) ||
		    json_is_integer(json_object_get(rec, "digested_at")) ||
		    *t < p->now - GH_RETENTION_DIGEST_MIN_MS)
			v = V_GO;
	}
	json_decref(rec);
	return v;
}

/*
 * The producers' records, each read by its database's header, which knows
 * every version of it (an upload record is version 1 or 2): a version it
 * does not know, or a record without the time its rule goes by, is
 * skipped.
 */
static enum verdict
judge_json(struct gh_purge *p, enum phase ph, const void *val, size_t vlen,
           int64_t *t)
{
	struct gh_maillog m;
	struct gh_upload u;
	struct gh_knownhost h;
	json_t *rec = NULL;
	int64_t cut;
	enum verdict v = V_SKIP;

	switch (ph) {
	case PH_MAIL_LOG:
		if (gh_rec_load(val, vlen, GH_MAILLOG_V, &rec) != GH_OK ||
		    gh_maillog_read(rec, &m) != GH_OK ||
		    !time_of(rec, "finished_at", t))
			break;
		v = *t < cutoff(p, p->r.mail_log) ? V_GO : V_KEEP;
		break;
	case PH_UPLOADS:
		if (gh_rec_load(val, vlen, GH_UPLOAD_V, &rec) != GH_OK ||
		    gh_upload_read(rec, &u) != GH_OK ||
		    !time_of(rec, "created_at", t))
			break;
		if (gh_upload_kept(&u))
			cut = cutoff(p, p->r.uploads_kept);
		else
			cut = cutoff(p, p->r.uploads);
		v = *t < cut ? V_GO : V_KEEP;
		break;
	case PH_KNOWN_HOSTS:
		if (gh_rec_load(val, vlen, GH_KNOWNHOST_V, &rec) != GH_OK ||
		    gh_knownhost_read(rec, &h) != GH_OK ||
		    !time_of(rec, "last_seen", t))
			break;
		v = *t < cutoff(p, p->r.known_hosts) ? V_GO : V_KEEP;
		break;
	default:
		break;
	}
	json_decref(rec);
	return v;
}

/*
 * judge - what the rules make of one record of phase ph.  *t receives the
 * time its rule goes by; with count, an event's *ndeliv its delivery
 * records (in a write the deletion counts them instead).
 */
static enum verdict
judge(struct gh_purge *p, struct gh_txn *txn, enum phase ph, const void *key,
      size_t klen, const void *val, size_t vlen, int count, int64_t *t,
      size_t *ndeliv)
{
	*t = 0;
	*ndeliv = 0;
	switch (ph) {
	case PH_EVENTS:
		return judge_event(p, txn, key, klen, val, vlen, count, t,
		                   ndeliv);
	case PH_INBOX:
		return judge_inbox(p, key, klen, val, vlen, t);
	case PH_DEDUP:
		/* key -> be64 event id | be64 window end */
		if (vlen != 16)
			return V_SKIP;
		*t = (int64_t)gh_get_be64((const unsigned char *)val + 8);
		return *t <= p->now ? V_GO : V_KEEP;
	case PH_RATE:
		/* be64 window start | be64 count | be64 previous count: two
		 * windows on, the counter counts nothing (records.h) */
		if (vlen != 24)
			return V_SKIP;
		*t = (int64_t)gh_get_be64(val);
		return *t <= p->now - 2 * p->r.milter_rate_window ? V_GO :
		       V_KEEP;
	case PH_SCAN_CACHE:
		/* version 1 | kind | reason | be64 scanned_at | name
		 * (scanner/gscache.h); another version is left alone */
		if (vlen < 11 || ((const unsigned char *)val)[0] != 1)
			return V_SKIP;
		*t = (int64_t)gh_get_be64((const unsigned char *)val + 3);
		return *t < cutoff(p, p->r.scan_cache) ? V_GO : V_KEEP;
	default:
		return judge_json(p, ph, val, vlen, t);
	}
}

/* ---- the read: finding what goes ---- */

static void
set_cur(struct gh_purge *p, const void *key, size_t klen, int incl)
{
	memcpy(p->cur, key, klen);
	p->curlen = klen;
	p->have_cur = 1;
	p->cur_incl = incl;
}

static void
kept(struct gh_purge *p, enum gh_db db, int64_t t)
{
	int64_t *o = &p->stats.oldest_kept[db];

	if (t > 0 && (*o == 0 || t < *o))
		*o = t;
}

static int
scan_cb(const void *key, size_t klen, const void *val, size_t vlen,
        void *arg)
{
	struct gh_purge *p = arg;
	enum phase ph = p->phase;
	enum gh_db sdb = phase_stat_db[ph];
	size_t nd = 0, cost;
	int64_t t = 0, stop = stop_at(p, ph);
	enum verdict v;

	if (p->have_cur && !p->cur_incl && klen == p->curlen &&
	    memcmp(key, p->cur, klen) == 0)
		return 0;        /* judged in an earlier step */
	if (klen > KEY_MAX)
		return 0;
	if (ph == PH_RATE && (klen < strlen(MILTER_RATE) ||
	                      memcmp(key, MILTER_RATE, strlen(MILTER_RATE))))
		return STOP_PHASE;   /* past the milter's keys: others' own */
	if (++p->visited > GH_PURGE_SCAN_MAX) {
		set_cur(p, key, klen, 1);
		return STOP_STEP;
	}
	v = judge(p, p->txn, ph, key, klen, val, vlen, 1, &t, &nd);
	if (p->err)
		return STOP_STEP;
	if (v != V_SKIP && stop != NEVER && t >= stop) {
		if (ph != PH_INBOX) {
			kept(p, sdb, t);
			return STOP_PHASE;
		}
		/* the rest of this user's items are younger: go on at the
		 * next user ("user\x01" sorts after every "user\0...") */
		kept(p, sdb, t);
		memcpy(p->cur, key, klen - 9);
		p->cur[klen - 9] = 0x01;
		p->curlen = klen - 8;
		p->have_cur = 1;
		p->cur_incl = 1;
		return STOP_USER;
	}
	if (v == V_GO || v == V_GO_DELIV) {
		cost = ph != PH_EVENTS ? 1 : v == V_GO ? 2 + nd : nd;
		if (p->nc > 0 && p->cost + cost > p->batch) {
			set_cur(p, key, klen, 1);
			return STOP_STEP;
		}
		memcpy(p->c[p->nc].key, key, klen);
		p->c[p->nc].klen = klen;
		p->c[p->nc].phase = (unsigned char)ph;
		p->c[p->nc].what = (unsigned char)v;
		p->c[p->nc].ndeliv = nd;
		p->nc++;
		p->cost += cost;
		if (v == V_GO_DELIV)
			kept(p, GH_DB_EVENTS, t);
	} else if (v == V_SKIP) {
		p->stats.skipped[sdb]++;
	} else {
		kept(p, sdb, t);
		if (ph == PH_EVENTS && nd > 0)
			kept(p, GH_DB_DELIVERIES, t);
	}
	set_cur(p, key, klen, 0);
	if (p->cost >= p->batch || p->nc >= p->batch)
		return STOP_STEP;
	return 0;
}

static void
next_phase(struct gh_purge *p)
{
	p->phase++;
	p->have_cur = 0;
	p->cur_incl = 0;
	p->curlen = 0;
}

static gh_err
collect_fn(struct gh_txn *txn, void *arg)
{
	struct gh_purge *p = arg;
	gh_err err;

	p->txn = txn;
	p->visited = 0;
	p->nc = 0;
	p->cost = 0;
	p->err = GH_OK;
	while (p->phase < PH_DONE) {
		int stopped = 0;

		if (!phase_active(p, p->phase)) {
			next_phase(p);
			continue;
		}
		if (p->phase == PH_RATE && !p->have_cur)
			set_cur(p, MILTER_RATE, strlen(MILTER_RATE), 1);
		err = gh_txn_scan(txn, phase_db[p->phase],
		                  p->have_cur ? p->cur : NULL,
		                  p->have_cur ? p->curlen : 0, 0, scan_cb, p,
		                  &stopped);
		if (err == GH_OK)
			err = p->err;
		if (err) {
			p->nc = 0;
			return err;
		}
		if (stopped == STOP_STEP)
			break;
		if (stopped == STOP_USER)
			continue;
		next_phase(p);   /* the end of the database, or STOP_PHASE */
	}
	return GH_OK;
}

/* ---- the write: deleting what goes ---- */

static gh_err
delete_fn(struct gh_txn *txn, void *arg)
{
	struct gh_purge *p = arg;
	gh_err err;

	memset(p->wgone, 0, sizeof(p->wgone));
	for (size_t i = 0; i < p->nc; i++) {
		const struct cand *c = &p->c[i];
		enum phase ph = (enum phase)c->phase;
		enum gh_db db = phase_db[ph];
		const void *val;
		size_t vlen, nd = 0;
		int64_t t;
		enum verdict v;

		err = gh_txn_get(txn, db, c->key, c->klen, &val, &vlen);
		if (err == GH_ENOTFOUND)
			continue;        /* someone else deleted it */
		if (err)
			return err;
		p->err = GH_OK;
		v = judge(p, txn, ph, c->key, c->klen, val, vlen, 0, &t, &nd);
		if (p->err)
			return p->err;
		if (v == V_GO && ph == PH_EVENTS) {
			err = gh_queue_purge_event_txn(txn,
			                               gh_get_be64(c->key), &nd);
			p->wgone[GH_DB_EVENTS]++;
			p->wgone[GH_DB_DELIVERIES] += nd;
		} else if (v == V_GO_DELIV) {
			err = gh_txn_del_prefix(txn, GH_DB_DELIVERIES, c->key,
			                        8, &nd);
			p->wgone[GH_DB_DELIVERIES] += nd;
		} else if (v == V_GO) {
			err = gh_txn_del(txn, db, c->key, c->klen);
			p->wgone[db]++;
		}
		if (err)
			return err;
	}
	return GH_OK;
}

/* ---- the API ---- */

gh_err
gh_purge_new(struct gh_purge **out, const struct gh_retention *r,
             int64_t now, unsigned flags, size_t batch)
{
	struct gh_purge *p;

	if (out == NULL)
		return GH_EINVAL;
	*out = NULL;
	if (r == NULL || r->mail_log < 0 || r->uploads < 0 ||
	    r->uploads_kept < 0 || r->events < 0 || r->deliveries < 0 ||
	    r->inbox_read < 0 || r->inbox_unread < 0 || r->known_hosts < 0 ||
	    r->milter_rate_window < 0)
		return GH_EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return GH_ENOMEM;
	p->r = *r;
	p->now = now;
	p->flags = flags;
	p->batch = batch ? batch : GH_PURGE_BATCH;
	p->c = calloc(p->batch, sizeof(*p->c));
	if (p->c == NULL) {
		free(p);
		return GH_ENOMEM;
	}
	*out = p;
	return GH_OK;
}

gh_err
gh_purge_step(struct gh_purge *p, struct gh_store *st, int *done, int *wrote)
{
	gh_err err;

	if (wrote)
		*wrote = 0;
	if (p == NULL || st == NULL || done == NULL)
		return GH_EINVAL;
	*done = 0;
	/* A write that failed is tried again before reading on. */
	if (p->nc == 0 && p->phase < PH_DONE) {
		err = gh_store_view(st, collect_fn, p);
		if (err)
			return err;
	}
	if (p->nc > 0 && (p->flags & GH_PURGE_DRY_RUN)) {
		for (size_t i = 0; i < p->nc; i++) {
			const struct cand *c = &p->c[i];

			if (c->what == V_GO)
				p->stats.gone[phase_stat_db[c->phase]]++;
			if (c->phase == PH_EVENTS)
				p->stats.gone[GH_DB_DELIVERIES] += c->ndeliv;
		}
	} else if (p->nc > 0) {
		err = gh_store_update(st, delete_fn, p);
		if (err)
			return err;
		for (int i = 0; i < GH_DB_COUNT_; i++)
			p->stats.gone[i] += p->wgone[i];
		p->stats.commits++;
		if (wrote)
			*wrote = 1;
	}
	p->nc = 0;
	p->cost = 0;
	p->stats.steps++;
	*done = p->phase >= PH_DONE;
	return GH_OK;
}

const struct gh_purge_stats *
gh_purge_stats(const struct gh_purge *p)
{
	return p ? &p->stats : NULL;
}

void
gh_purge_free(struct gh_purge *p)
{
	if (p == NULL)
		return;
	free(p->c);
	free(p);
}

gh_err
gh_purge_run(struct gh_store *st, const struct gh_retention *r, int64_t now,
             unsigned flags, struct gh_purge_stats *stats)
{
	struct gh_purge *p = NULL;
	struct timespec pause = {0, GH_PURGE_PAUSE_MS * 1000000L};
	int done = 0, wrote = 0;
	gh_err err;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	err = gh_purge_new(&p, r, now, flags, 0);
	while (err == GH_OK && !done) {
		err = gh_purge_step(p, st, &done, &wrote);
		if (err == GH_OK && wrote && !done)
			nanosleep(&pause, NULL);
	}
	if (stats && p)
		*stats = p->stats;
	gh_purge_free(p);
	return err;
}
