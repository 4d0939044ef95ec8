/*
 * retention.c - notifyd's share of keeping the store bounded.
 *
 * PURGE.  [retention] is applied to the core store (and with it to the
 * records of every domain that has no store of its own) a step at a time
 * from the event loop: 5 s after start, then every [retention] interval,
 * both by the clock of decisions (clock.h), so that the test build's
 * injected clock moves them too.  A step is a read of at most
 * GH_PURGE_SCAN_MAX records and one write of at most GH_PURGE_BATCH
 * deletions (gatehouse/retention.h); after a step that wrote, the next
 * waits GH_PURGE_PAUSE_MS, so that producers polling for the write lock
 * (the milter, a login) get it in between, and dispatching goes on
 * between steps as in any turn.  A step that finds the lock taken is
 * tried again a second later; any other failure ends the pass until the
 * next one.  Domain stores are their owners' to purge: gatehouse-bridge
 * does it with the same library call.
 *
 * SIZE.  Every minute and after every pass, the store's size in use
 * (records, not the file: LMDB reuses freed pages) is compared with
 * [store] map_max.  Passing NEARLY_FULL_PCT queues one store.nearly_full
 * event for the admins; another is queued only after use has fallen below
 * REARM_PCT.  The mark lives in the store (meta "store_nearly_full": be64
 * when it was raised), written in the transaction that queues the event,
 * so a restart does not raise it again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/event.h"
#include "gatehouse/retention.h"
#include "nd.h"

#define FIRST_PASS_MS 5000          /* after start */
#define LOCKED_RETRY_MS 1000
#define CHECK_EVERY_MS 60000        /* size against map_max (tick) */
#define NEARLY_FULL_PCT 80
#define REARM_PCT 75
#define NEARLY_FULL_KEY "store_nearly_full"

static const enum gh_db logged_dbs[] = {
	GH_DB_EVENTS, GH_DB_DELIVERIES, GH_DB_INBOX, GH_DB_MAIL_LOG,
	GH_DB_UPLOADS, GH_DB_KNOWN_HOSTS, GH_DB_RATE, GH_DB_DEDUP
};

void
nd_retention_init(struct nd *d)
{
	d->purge_next = d->now + FIRST_PASS_MS;
	d->store_check_at = d->tick;
	d->nearly_full = -1;         /* not known until the store says */
}

void
nd_retention_fini(struct nd *d)
{
	gh_purge_free(d->purge);
	d->purge = NULL;
}

/* ---- the size check ---- */

struct mark_arg {
	struct nd *d;
	int raise;                 /* 1: raise (if not raised), 0: re-arm */
	const struct gh_store_info *info;
	int queued;
	uint64_t id;
};

static json_t *
nearly_full_event(const struct nd *d, const struct gh_store_info *info)
{
	char title[160], msg[1024];
	int pct = (int)(100.0 * (double)info->in_use / (double)info->map_max);
	struct gh_event *b;
	json_t *ev;

	snprintf(title, sizeof(title), "Gatehouse store %d%% full", pct);
	snprintf(msg, sizeof(msg), "The store at %s holds %.1f MiB of the "
	         "%.1f MiB it may grow to ([store] map_max). At that ceiling "
	         "every write fails: mail is tempfailed, logins and uploads "
	         "go unrecorded. Shorten [retention], raise map_max, or see "
	         "what is kept with 'gatehouse store info' and 'gatehouse "
	         "store purge --dry-run'.", gh_store_path(d->st),
	         (double)info->in_use / 1048576.0,
	         (double)info->map_max / 1048576.0);
	b = gh_event_new();
	gh_event_set_type(b, "store.nearly_full");
	gh_event_set_category(b, "system");
	gh_event_set_source(b, "notifyd");
	gh_event_set_priority(b, GH_PRIORITY_HIGH);
	gh_event_set_title(b, title);
	gh_event_set_message(b, msg);
	gh_event_add_recipient(b, "admins");
	gh_event_meta_str(b, "path", gh_store_path(d->st));
	gh_event_meta_int(b, "in_use", (int64_t)info->in_use);
	gh_event_meta_int(b, "map_max", (int64_t)info->map_max);
	gh_event_meta_int(b, "percent", pct);
	if (gh_event_finish(b, &ev, NULL, 0) != GH_OK)
		return NULL;
	return ev;
}

static gh_err
mark_fn(struct gh_txn *txn, void *arg)
{
	struct mark_arg *a = arg;
	const void *v;
	size_t vl;
	unsigned char b[8];
	json_t *ev;
	gh_err err;

	a->queued = 0;
	err = gh_txn_get(txn, GH_DB_META, NEARLY_FULL_KEY,
	                 strlen(NEARLY_FULL_KEY), &v, &vl);
	if (err && err != GH_ENOTFOUND)
		return err;
	if (!a->raise) {
		if (err == GH_ENOTFOUND)
			return GH_OK;
		return gh_txn_del(txn, GH_DB_META, NEARLY_FULL_KEY,
		                  strlen(NEARLY_FULL_KEY));
	}
	if (err == GH_OK)
		return GH_OK;            /* raised before, maybe before a restart */
	ev = nearly_full_event(a->d, a->info);
	if (ev == NULL)
		return GH_ENOMEM;
	err = gh_queue_enqueue_txn(txn, ev, a->d->now, 0, &a->id, NULL);
	json_decref(ev);
	if (err)
		return err;
	gh_put_be64(b, (uint64_t)a->d->now);
	err = gh_txn_put(txn, GH_DB_META, NEARLY_FULL_KEY,
	                 strlen(NEARLY_FULL_KEY), b, 8);
	a->queued = err == GH_OK;
	return err;
}

void
nd_store_check(struct nd *d)
{
	struct gh_store_info info;
	struct mark_arg a;
	int raise;
	gh_err err;

	d->store_check_at = d->tick + CHECK_EVERY_MS;
	if (gh_store_info(d->st, &info) != GH_OK || info.map_max == 0)
		return;
	if (info.in_use * 100 >= info.map_max * NEARLY_FULL_PCT)
		raise = 1;
	else if (info.in_use * 100 < info.map_max * REARM_PCT)
		raise = 0;
	else
		return;                  /* in between: as it was */
	if (d->nearly_full == raise)
		return;
	memset(&a, 0, sizeof(a));
	a.d = d;
	a.raise = raise;
	a.info = &info;
	err = gh_store_update(d->st, mark_fn, &a);
	if (err) {
		d->store_errors++;
		nd_log(&d->log, ND_LOG_ERR, "store %s is %.0f%% full and the "
		       "mark could not be recorded: %s", gh_store_path(d->st),
		       100.0 * (double)info.in_use / (double)info.map_max,
		       gh_strerror(err));
		return;
	}
	d->nearly_full = raise;
	if (a.queued)
		nd_log(&d->log, ND_LOG_WARN, "store %s holds %zu of at most %zu "
		       "bytes ([store] map_max): event %" PRIu64 " "
		       "(store.nearly_full) tells the admins",
		       gh_store_path(d->st), info.in_use, info.map_max, a.id);
}

/* ---- the purge ---- */

static void
pass_done(struct nd *d)
{
	const struct gh_purge_stats *s = gh_purge_stats(d->purge);
	char line[512];
	size_t off = 0, total = 0;

	for (size_t i = 0; i < sizeof(logged_dbs) / sizeof(logged_dbs[0]);
	     i++) {
		enum gh_db db = logged_dbs[i];

		d->purged[db] += s->gone[db];
		total += s->gone[db];
		if (s->gone[db] > 0 && off < sizeof(line))
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			                        "%s%s %zu", off ? ", " : "",
			                        gh_db_name(db), s->gone[db]);
	}
	d->purge_runs++;
	if (total > 0)
		nd_log(&d->log, ND_LOG_INFO, "retention: deleted %zu records: "
		       "%s, in %zu writes", total, line, s->commits);
	else
		nd_log(&d->log, ND_LOG_DEBUG, "retention: nothing to delete");
	gh_purge_free(d->purge);
	d->purge = NULL;
}

int
nd_retention_turn(struct nd *d)
{
	int64_t interval = d->rt->ret_interval, wait;
	int done = 0, wrote = 0;
	gh_err err;

	if (d->tick >= d->store_check_at)
		nd_store_check(d);
	if (d->stopping) {
		nd_retention_fini(d);    /* the next start begins again */
		return 1000;
	}
	if (d->purge == NULL) {
		/* the clock went back: do not wait for it to come round */
		if (d->purge_next - d->now > interval + FIRST_PASS_MS)
			d->purge_next = d->now + interval;
		if (d->now < d->purge_next) {
			wait = d->purge_next - d->now;
			return wait > 1000 ? 1000 : (int)wait;
		}
		err = gh_purge_new(&d->purge, &d->rt->ret, d->now, 0, 0);
		if (err) {
			d->purge_next = d->now + interval;
			return 1000;
		}
		d->purge_next = d->now + interval;
		d->purge_step_at = d->tick;
	}
	if (d->tick < d->purge_step_at)
		return (int)(d->purge_step_at - d->tick);
	err = gh_purge_step(d->purge, d->st, &done, &wrote);
	if (err == GH_ELOCKED) {
		d->purge_step_at = d->tick + LOCKED_RETRY_MS;
		return LOCKED_RETRY_MS;
	}
	if (err) {
		d->store_errors++;
		nd_log(&d->log, ND_LOG_ERR, "retention: %s; trying again in "
		       "the next pass", gh_strerror(err));
		nd_retention_fini(d);
		return 1000;
	}
	if (done) {
		pass_done(d);
		nd_store_check(d);
		return 1000;
	}
	d->purge_step_at = d->tick + (wrote ? GH_PURGE_PAUSE_MS : 0);
	return wrote ? GH_PURGE_PAUSE_MS : 0;
}
