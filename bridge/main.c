/*
 * main.c - gatehouse-bridge(8): carries one producer domain's outbox to
 * gatehouse-notifyd, and the core's suppression list back to the mail
 * domain.
 *
 * SYNOPSIS
 *   gatehouse-bridge [-c FILE] DOMAIN        (DOMAIN: mail, web or login)
 *   gatehouse-bridge -V | -h
 *
 * It runs as the owner of DOMAIN's store (started as root, it becomes that
 * owner before opening anything), which is the only uid that may open that
 * store: like Postfix's postdrop and pickup, the less trusted side only
 * hands records over, and notifyd, on the other end of [notifyd]
 * bridge_socket, validates each one and stamps it with the domain the
 * kernel says this process belongs to (docs/security.md).  Nothing here
 * is on a producer's hot path: the milter, nginx and PAM commit into
 * their own store and go on; the bridge picks the events up within
 * [notifyd] poll_interval.
 *
 * Delivery is at least once: an outbox event is leased, sent, and acked in
 * the domain's store only once notifyd acknowledged it; notifyd recognises
 * one sent again (after a crash in between) and does not queue it twice.
 * An event notifyd refuses is dead-lettered in the outbox with the reason,
 * where `gatehouse events list --domain D --state dead` shows it.
 *
 * It also keeps the domain's store bounded: [retention] applied to it 5 s
 * after start and then every [retention] interval, in the small steps of
 * gatehouse/retention.h (notifyd does the same for the core store, which
 * it alone may open).  The domain's records (mail log, uploads, known
 * hosts) and the finished events of its outbox go by the same rules.
 *
 * With [nats] servers set (the multi-host mode, docs/cluster.md) the
 * events go to NATS JetStream instead, and are acked in the outbox once
 * JetStream has them (forward.c); the bridge then does not connect to
 * bridge_socket.  A change of [nats] needs a restart.
 *
 * Signals: SIGTERM and SIGINT give unsettled leases back and exit 0.
 * SIGHUP reads the configuration again: a new [notifyd] bridge_socket is
 * connected to at once, a new poll_interval used; the store stays the one
 * opened at start (a change of [store] is logged and needs a restart).  A
 * configuration that fails to load is logged and the old one kept.
 * Under systemd (Type=notify) the bridge says READY=1 once its store is
 * open, RELOADING=1 / READY=1 around a reload, STOPPING=1 at the end.
 * Exit codes: sysexits(3).  Logs go to stderr; when that is the journal
 * (gatehouse/journal.h), each line starts with its priority ("<3>").
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/bridge.h"
#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/journal.h"
#include "gatehouse/queue.h"
#include "gatehouse/records.h"
#include "gatehouse/retention.h"
#include "gatehouse/sdnotify.h"
#include "gatehouse/store.h"
#include "gatehouse/users.h"
#include "blog.h"
#include "forward.h"
#include "sharedata.h"
#include "ghc.h"

#ifndef GH_VERSION
#error "GH_VERSION comes from the Makefile (VERSION)"
#endif

#define BATCH 64                 /* events (and unsubscribes) per round */
#define VISIBILITY_MS 120000     /* an unacked lease comes back after this */
#define ANSWER_MS 30000          /* longest wait for notifyd's answers */
#define FIRST_PURGE_MS 5000      /* the first retention pass, after start */
#define PURGE_STEPS 16           /* retention steps per turn, at most */

static volatile sig_atomic_t stopping, reload_wanted;

struct br {
	enum gh_domain dom;
	const char *name;
	const char *conf_path;
	struct gh_conf *conf;
	struct gh_store *st;
	const char *sock_path;
	int poll_ms;
	int fd;
	char *buf;                     /* GH_BRIDGE_MSG_MAX + 1 */
	/* one round in flight */
	struct gh_lease leases[BATCH];
	int answer[BATCH];             /* 0 waiting, 1 ack, -1 reject */
	char why[BATCH][256];
	size_t nlease;
	struct {
		char addr[GH_ADDR_MAX + 1];
		char list[GH_LIST_MAX + 1];
		int acked;
	} sup[BATCH];
	size_t nsup;
	/* a suppression snapshot being received (mail) */
	json_t *snap;
	/* the core's inbox changes, for the web domain's copy: received,
	 * written together (inbox_flush) */
	json_t *inbox;
	int logged_down;
	int journal;                   /* stderr is the journal */
	/* retention */
	struct gh_retention ret;
	int64_t ret_interval;
	struct gh_purge *purge;        /* the pass under way, or NULL */
	int64_t purge_next;            /* monotonic ms */
	/* [nats] servers set: the domain's one connection to the cluster,
	 * used by both of these */
	struct ghc *nats;
	struct bf *fwd;                /* forward.c */
	struct bs *shared;             /* mail: sharedata.c */
};

/* One line at syslog priority prio (LOG_ERR, LOG_WARNING, LOG_INFO). */
__attribute__((format(printf, 3, 4)))
static void
blog(const struct br *b, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	br_vlog(b->journal, b->name, prio, fmt, ap);
	va_end(ap);
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_wanted = 1;
	else
		stopping = 1;
}

static void
nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	if (!stopping && !reload_wanted)
		nanosleep(&ts, NULL);   /* a signal cuts it short */
}

/* ---- retention: a few steps of the pass under way, or a new pass ---- */

static void
purge_done(struct br *b)
{
	static const enum gh_db dbs[] = {
		GH_DB_EVENTS, GH_DB_DELIVERIES, GH_DB_MAIL_LOG, GH_DB_UPLOADS,
		GH_DB_KNOWN_HOSTS, GH_DB_RATE, GH_DB_INBOX, GH_DB_DEDUP
	};
	const struct gh_purge_stats *s = gh_purge_stats(b->purge);
	char line[512] = "";
	size_t off = 0, total = 0;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		total += s->gone[dbs[i]];
		if (s->gone[dbs[i]] > 0 && off < sizeof(line))
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			                        "%s%s %zu", off ? ", " : "",
			                        gh_db_name(dbs[i]),
			                        s->gone[dbs[i]]);
	}
	if (total > 0)
		blog(b, LOG_INFO, "retention: deleted %zu records: %s, "
		     "in %zu writes", total, line, s->commits);
	gh_purge_free(b->purge);
	b->purge = NULL;
}

static void
purge_tick(struct br *b)
{
	struct timespec pause = {0, GH_PURGE_PAUSE_MS * 1000000L};
	int64_t t = gh_mono_ms();
	int done = 0, wrote = 0;
	gh_err err;

	if (b->purge == NULL) {
		if (t < b->purge_next)
			return;
		b->purge_next = t + b->ret_interval;
		if (gh_purge_new(&b->purge, &b->ret, gh_now_ms(), 0, 0) != GH_OK)
			return;
	}
	for (int i = 0; i < PURGE_STEPS && !done && !stopping; i++) {
		err = gh_purge_step(b->purge, b->st, &done, &wrote);
		if (err == GH_ELOCKED)
			return;              /* the same step, next turn */
		if (err) {
			blog(b, LOG_WARNING, "retention: %s; trying again "
			     "in the next pass", gh_strerror(err));
			gh_purge_free(b->purge);
			b->purge = NULL;
			return;
		}
		/* let the producers, polling for the lock, in */
		if (wrote && !done)
			nanosleep(&pause, NULL);
	}
	if (done)
		purge_done(b);
}

/*
 * SIGHUP: the configuration again.  Returns 1 if the bridge must connect
 * anew (bridge_socket changed).  The store is not reopened: this process
 * became its owner at start and can be no one else now.
 */
static int
reload(struct br *b)
{
	struct gh_conf *conf = NULL;
	struct gh_store_opts so;
	char detail[1024];
	int shared = 0, reconnect;
	gh_err err;

	reload_wanted = 0;
	gh_sd_notify("RELOADING=1");
	err = gh_conf_load(&conf, b->conf_path, detail, sizeof(detail));
	if (err) {
		blog(b, LOG_ERR, "reload failed, keeping the old configuration: %s",
		     detail);
		gh_sd_notify("READY=1");
		return 0;
	}
	gh_conf_domain_store_opts(conf, b->dom, &so, &shared);
	if (shared || strcmp(so.path, gh_store_path(b->st)) != 0)
		blog(b, LOG_WARNING, "reload: [store] %s changed; it takes effect at the "
		     "next restart", b->name);
	reconnect = strcmp(gh_conf_str(conf, "notifyd", "bridge_socket"),
	                   b->sock_path) != 0;
	gh_conf_free(b->conf);
	b->conf = conf;
	b->sock_path = gh_conf_str(conf, "notifyd", "bridge_socket");
	b->poll_ms = (int)gh_conf_int(conf, "notifyd", "poll_interval");
	gh_retention_from_conf(conf, &b->ret);
	b->ret_interval = gh_conf_int(conf, "retention", "interval");
	blog(b, LOG_INFO, "configuration reloaded%s", reconnect ? "; connecting to the "
	     "new bridge_socket" : "");
	gh_sd_notify("READY=1");
	return reconnect;
}

static int
bconnect(struct br *b)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(b->sock_path) >= sizeof(sa.sun_path)) {
		blog(b, LOG_ERR, "[notifyd] bridge_socket: path too long");
		return -1;
	}
	strcpy(sa.sun_path, b->sock_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (!b->logged_down)
			blog(b, LOG_WARNING, "cannot reach gatehouse-notifyd "
			     "at %s: %s; trying again every second",
			     b->sock_path, strerror(errno));
		b->logged_down = 1;
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait up to ms for one message; GH_ENOTFOUND on time-out. */
static gh_err
recv_wait(struct br *b, int ms, json_t **msg)
{
	struct pollfd p = {b->fd, POLLIN, 0};
	int r = poll(&p, 1, ms);

	*msg = NULL;
	if (r < 0)
		return errno == EINTR ? GH_ENOTFOUND : GH_EIO;
	if (r == 0)
		return GH_ENOTFOUND;
	return gh_bridge_recv(b->fd, b->buf, GH_BRIDGE_MSG_MAX + 1, msg, NULL);
}

/* Is notifyd on the other end?  Whoever listens on the socket can take
 * our events and send the mail domain a suppression list: it must be root
 * or the core store's owner (a stale socket path in a shared directory
 * could otherwise be anyone's). */
static int
peer_is_core(struct br *b)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char detail[256];
	uid_t core;
	gh_err err;

	if (getsockopt(b->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	if (cr.uid == 0)
		return 1;
	err = gh_store_owner(gh_conf_str(b->conf, "store", "path"), &core,
	                     NULL, detail, sizeof(detail));
	if (err == GH_OK && cr.uid == core)
		return 1;
	blog(b, LOG_ERR, "%s is held by uid %ld, not by gatehouse-notifyd "
	     "(the core store's owner%s%s); not talking to it", b->sock_path,
	     (long)cr.uid, err ? ": " : "", err ? detail : "");
	return 0;
}

#define FEED_KEY "inbox_replica"   /* meta: the last feed entry applied */

static gh_err
feed_pos_view(struct gh_txn *txn, void *arg)
{
	const void *v;
	size_t vl;
	gh_err err = gh_txn_get(txn, GH_DB_META, FEED_KEY, strlen(FEED_KEY),
	                        &v, &vl);

	*(uint64_t *)arg = 0;
	if (err == GH_ENOTFOUND)
		return GH_OK;
	if (err == GH_OK && vl == 8)
		*(uint64_t *)arg = gh_get_be64(v);
	return err;
}

static int
hello(struct br *b)
{
	json_t *m = NULL;
	uint64_t pos = 0;
	gh_err err;

	if (!peer_is_core(b))
		return -1;
	/* The web domain says how much of the core's inbox feed its copy
	 * has: the core sends what came after (docs/security.md). */
	if (b->dom == GH_DOMAIN_WEB &&
	    gh_store_view(b->st, feed_pos_view, &pos) != GH_OK)
		pos = 0;
	m = json_pack("{s:s, s:i, s:s, s:I}", "t", "hello", "v",
	              GH_BRIDGE_VERSION, "domain", b->name, "inbox",
	              (json_int_t)pos);
	err = m ? gh_bridge_send(b->fd, m) : GH_ENOMEM;

	json_decref(m);
	if (err)
		return -1;
	err = recv_wait(b, 10000, &m);
	if (err) {
		blog(b, LOG_WARNING, "no answer from gatehouse-notifyd to "
		     "hello");
		return -1;
	}
	if (strcmp(gh_bridge_type(m), "welcome") != 0) {
		blog(b, LOG_ERR, "gatehouse-notifyd refused this bridge: %s",
		     json_string_value(json_object_get(m, "why")) ?
		     json_string_value(json_object_get(m, "why")) : "?");
		json_decref(m);
		return -1;
	}
	json_decref(m);
	blog(b, LOG_INFO, "connected to gatehouse-notifyd");
	b->logged_down = 0;
	return 0;
}

/* ---- one round: lease, send, collect answers, settle ---- */

static int
sup_one(const char *addr, const char *list, const json_t *rec, void *arg)
{
	struct br *b = arg;

	(void)rec;
	snprintf(b->sup[b->nsup].addr, sizeof(b->sup[0].addr), "%s", addr);
	snprintf(b->sup[b->nsup].list, sizeof(b->sup[0].list), "%s", list);
	b->sup[b->nsup].acked = 0;
	return ++b->nsup == BATCH;
}

static int
send_round(struct br *b)
{
	int64_t now = gh_now_ms();
	gh_err err;

	b->nlease = 0;
	b->nsup = 0;
	err = gh_queue_lease(b->st, now, BATCH, VISIBILITY_MS, b->leases,
	                     &b->nlease);
	if (err) {
		blog(b, LOG_ERR, "outbox: %s", gh_strerror(err));
		b->nlease = 0;
	}
	if (b->dom == GH_DOMAIN_WEB &&
	    gh_suppress_list(b->st, sup_one, b) != GH_OK)
		b->nsup = 0;
	for (size_t i = 0; i < b->nlease; i++) {
		json_t *m = br_event_msg(b->leases[i].id, b->leases[i].event);

		b->answer[i] = 0;
		b->why[i][0] = '\0';
		err = m ? gh_bridge_send(b->fd, m) : GH_ENOMEM;
		json_decref(m);
		if (err)
			return -1;
	}
	for (size_t i = 0; i < b->nsup; i++) {
		json_t *m = json_pack("{s:s, s:s, s:s}", "t", "sup", "addr",
		                      b->sup[i].addr, "list", b->sup[i].list);

		err = m ? gh_bridge_send(b->fd, m) : GH_ENOMEM;
		json_decref(m);
		if (err)
			return -1;
	}
	return 0;
}

struct settle_arg {
	struct br *b;
	gh_err results[BATCH];
};

static gh_err
settle_txn(struct gh_txn *txn, void *arg)
{
	struct settle_arg *a = arg;
	struct br *b = a->b;
	struct gh_lease acked[BATCH];
	size_t n = 0;
	gh_err err;

	for (size_t i = 0; i < b->nlease; i++)
		if (b->answer[i] == 1)
			acked[n++] = b->leases[i];
	if (n > 0) {
		err = gh_queue_ack_txn(txn, acked, n, gh_now_ms(), a->results);
		if (err)
			return err;
	}
	for (size_t i = 0; i < b->nsup; i++) {
		if (!b->sup[i].acked)
			continue;
		err = gh_suppress_remove_txn(txn, b->sup[i].addr,
		                             b->sup[i].list);
		if (err && err != GH_ENOTFOUND)
			return err;
	}
	return GH_OK;
}

static void
settle(struct br *b)
{
	struct settle_arg a = {b, {0}};
	gh_err err = gh_store_update(b->st, settle_txn, &a);

	if (err)
		blog(b, LOG_WARNING, "outbox: cannot record what notifyd took: "
		     "%s (it will be sent again, and recognised)",
		     gh_strerror(err));
	for (size_t i = 0; i < b->nlease; i++) {
		if (b->answer[i] != -1)
			continue;
		blog(b, LOG_WARNING, "notifyd refused outbox event %llu: %s",
		     (unsigned long long)b->leases[i].id, b->why[i]);
		(void)gh_queue_retry(b->st, &b->leases[i], gh_now_ms(), 0,
		                     b->why[i], 1, NULL);
	}
	gh_lease_release(b->leases, b->nlease);
	b->nlease = 0;
	b->nsup = 0;
}

static void
give_back(struct br *b)
{
	if (b->nlease > 0)
		(void)gh_queue_release(b->st, b->leases, b->nlease,
		                       gh_now_ms());
	gh_lease_release(b->leases, b->nlease);
	b->nlease = 0;
	b->nsup = 0;
}

/* ---- the core's suppression list, for the mail domain ---- */

struct snap_arg {
	json_t *entries;
	size_t bad;
};

static gh_err
snap_txn(struct gh_txn *txn, void *arg)
{
	struct snap_arg *a = arg;
	int64_t now = gh_now_ms();
	size_t i;
	json_t *e;
	gh_err err = gh_suppress_clear_txn(txn);

	a->bad = 0;
	json_array_foreach(a->entries, i, e) {
		const char *addr = json_string_value(json_array_get(e, 0));
		const char *list = json_string_value(json_array_get(e, 1));

		if (err)
			break;
		if (addr == NULL || list == NULL) {
			a->bad++;
			continue;
		}
		err = gh_suppress_add_txn(txn, addr, list, NULL, "core", now);
		if (err == GH_EINVAL || err == GH_ETOOBIG) {
			a->bad++;
			err = GH_OK;
		}
	}
	return err;
}

static void
on_snapshot(struct br *b, const json_t *m)
{
	const char *t = gh_bridge_type(m);

	if (b->dom != GH_DOMAIN_MAIL)
		return;
	if (strcmp(t, "snap-begin") == 0) {
		json_decref(b->snap);
		b->snap = json_array();
	} else if (strcmp(t, "snap") == 0 && b->snap != NULL) {
		json_array_extend(b->snap, json_object_get(m, "e"));
	} else if (strcmp(t, "snap-end") == 0 && b->snap != NULL) {
		struct snap_arg a = {b->snap, 0};
		gh_err err = gh_store_update(b->st, snap_txn, &a);

		if (err)
			blog(b, LOG_ERR, "suppression list: cannot store the "
			     "core's copy: %s", gh_strerror(err));
		else
			blog(b, LOG_INFO, "suppression list: %zu entries from "
			     "the core", json_array_size(b->snap) - a.bad);
		json_decref(b->snap);
		b->snap = NULL;
	}
}

/* ---- the core's inbox, copied into the web store ---- */

static gh_err
inbox_txn(struct gh_txn *txn, void *arg)
{
	json_t *msgs = arg;
	uint64_t last = 0;
	unsigned char b8[8];
	size_t i;
	json_t *m;
	gh_err err = GH_OK;

	json_array_foreach(msgs, i, m) {
		const char *user = json_string_value(json_object_get(m, "user"));
		json_int_t seq = json_integer_value(json_object_get(m, "seq"));
		uint64_t id = (uint64_t)json_integer_value(
		    json_object_get(m, "id"));
		json_t *v;

		/* seq 0: part of a whole copy, which moves no position */
		if (user == NULL || !gh_user_id_ok(user) || seq < 0)
			continue;
		if ((uint64_t)seq > last)
			last = (uint64_t)seq;
		if (strcmp(gh_bridge_type(m), "inbox") == 0) {
			v = json_object_get(m, "item");
			if (id == 0)
				continue;
			err = json_is_object(v) ?
			    gh_inbox_put_txn(txn, user, id, v) :
			    gh_inbox_del_txn(txn, user, id);
		} else {
			json_t *copy;

			v = json_object_get(m, "prefs");
			if (!json_is_object(v)) {
				err = gh_prefs_del_txn(txn, user);
			} else if ((copy = json_deep_copy(v)) == NULL) {
				err = GH_ENOMEM;
			} else {
				/* the store sets these again */
				json_object_del(copy, "v");
				json_object_del(copy, "updated_at");
				err = gh_prefs_put_txn(txn, user, copy,
				                       gh_now_ms());
				json_decref(copy);
			}
		}
		if (err == GH_ENOTFOUND || err == GH_EINVAL)
			err = GH_OK;   /* nothing to remove; or not for us */
		if (err)
			return err;
	}
	if (last == 0)
		return GH_OK;
	gh_put_be64(b8, last);
	return gh_txn_put(txn, GH_DB_META, FEED_KEY, strlen(FEED_KEY), b8, 8);
}

/* Write what was received in one transaction: one commit, one wake-up of
 * the nginx workers watching the store (docs/api.md, "Live updates"). */
static void
inbox_flush(struct br *b)
{
	gh_err err;

	if (b->inbox == NULL || json_array_size(b->inbox) == 0)
		return;
	err = gh_store_update(b->st, inbox_txn, b->inbox);
	if (err)
		blog(b, LOG_ERR, "inbox: cannot store the core's changes: %s "
		     "(sent again at the next connection)", gh_strerror(err));
	json_array_clear(b->inbox);
}

/* Handle one message from notifyd. */
static void
on_message(struct br *b, const json_t *m)
{
	const char *t = gh_bridge_type(m);

	if (strcmp(t, "ack") == 0 || strcmp(t, "reject") == 0) {
		uint64_t id = (uint64_t)json_integer_value(
		    json_object_get(m, "id"));

		const char *why = json_string_value(json_object_get(m, "why"));

		for (size_t i = 0; i < b->nlease; i++) {
			if (b->leases[i].id != id || b->answer[i] != 0)
				continue;
			b->answer[i] = t[0] == 'a' ? 1 : -1;
			if (b->answer[i] < 0)
				snprintf(b->why[i], sizeof(b->why[i]), "%s",
				         why ? why : "refused");
			break;
		}
	} else if (strcmp(t, "sup-ack") == 0) {
		const char *a = json_string_value(json_object_get(m, "addr"));
		const char *l = json_string_value(json_object_get(m, "list"));

		for (size_t i = 0; a && l && i < b->nsup; i++)
			if (strcmp(b->sup[i].addr, a) == 0 &&
			    strcmp(b->sup[i].list, l) == 0)
				b->sup[i].acked = 1;
	} else if (b->dom == GH_DOMAIN_WEB &&
	           (strcmp(t, "inbox") == 0 || strcmp(t, "prefs") == 0)) {
		if (b->inbox == NULL)
			b->inbox = json_array();
		if (b->inbox != NULL)
			json_array_append((json_t *)b->inbox, (json_t *)m);
	} else {
		on_snapshot(b, m);
	}
}

static int
round_done(const struct br *b)
{
	for (size_t i = 0; i < b->nlease; i++)
		if (b->answer[i] == 0)
			return 0;
	for (size_t i = 0; i < b->nsup; i++)
		if (!b->sup[i].acked)
			return 0;
	return 1;
}

/* One connection's life: rounds until it breaks or we stop. */
static void
session(struct br *b)
{
	int64_t waiting_since = 0;

	while (!stopping) {
		json_t *m;
		gh_err err;

		if (reload_wanted && reload(b))
			break;
		if (b->nlease == 0 && b->nsup == 0) {
			if (send_round(b) != 0)
				break;
			waiting_since = gh_now_ms();
		}
		purge_tick(b);
		err = recv_wait(b, b->purge ? 20 : b->nlease || b->nsup ?
		                1000 : b->poll_ms, &m);
		if (err == GH_EIO || err == GH_EINVAL) {
			blog(b, LOG_WARNING, "connection to gatehouse-notifyd "
			     "%s", err == GH_EIO ? "closed" : "sent garbage");
			break;
		}
		if (err == GH_OK) {
			on_message(b, m);
			json_decref(m);
			/* and whatever else is waiting, up to a batch, so a
			 * burst of inbox items is one commit */
			for (int i = 0; i < BATCH && gh_bridge_recv(b->fd,
			     b->buf, GH_BRIDGE_MSG_MAX + 1, &m, NULL) == GH_OK;
			     i++) {
				on_message(b, m);
				json_decref(m);
			}
			inbox_flush(b);
		}
		if ((b->nlease || b->nsup) && round_done(b)) {
			settle(b);
		} else if ((b->nlease || b->nsup) &&
		           gh_now_ms() - waiting_since > ANSWER_MS) {
			blog(b, LOG_WARNING, "gatehouse-notifyd did not answer "
			     "in %d s", ANSWER_MS / 1000);
			break;
		}
	}
	give_back(b);
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: gatehouse-bridge [-c FILE] mail|web|login\n"
	        "       gatehouse-bridge -V | -h\n"
	        "  -c, --config FILE  configuration (default $GATEHOUSE_CONF "
	        "or " GH_CONF_DEFAULT_PATH ")\n"
	        "  -V, --version      print the version\n"
	        "  -h, --help         this text\n"
	        "See gatehouse-bridge(8).\n");
}

/*
 * The command line: the configuration's path into *conf_path, the domain
 * into b.  Returns -1 to go on, or the exit code (-h, -V, a bad argument).
 */
static int
parse_args(struct br *b, int argc, char **argv, const char **conf_path)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int ch, d;

	while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*conf_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gatehouse-bridge %s\n", GH_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1 ||
	    (d = gh_domain_lookup(argv[optind])) <= GH_DOMAIN_CORE) {
		usage(stderr);
		return EX_USAGE;
	}
	b->dom = (enum gh_domain)d;
	b->name = gh_domain_name(b->dom);
	return -1;
}

/*
 * The configuration, the domain's store (opened as its owner: started as
 * root, the bridge becomes that owner first), the buffer and the signals.
 * Returns the exit code; what was started is stop()'s to undo either way.
 */
static int
start(struct br *b, const char *conf_path)
{
	struct gh_store_opts so;
	struct sigaction sa;
	char detail[1024];
	int shared = 0;
	gh_err err;

	if (conf_path == NULL)
		conf_path = gh_conf_default_path();
	b->conf_path = conf_path;
	err = gh_conf_load(&b->conf, conf_path, detail, sizeof(detail));
	if (err) {
		blog(b, LOG_ERR, "%s", detail);
		return gh_err_exit_code(err);
	}
	gh_conf_domain_store_opts(b->conf, b->dom, &so, &shared);
	if (shared) {
		blog(b, LOG_ERR, "[store] %s is not set: this domain writes "
		     "the core's store itself, and needs no bridge", b->name);
		return EX_CONFIG;
	}
	b->sock_path = gh_conf_str(b->conf, "notifyd", "bridge_socket");
	b->poll_ms = (int)gh_conf_int(b->conf, "notifyd", "poll_interval");
	/* Root never opens a store: become its owner for good first. */
	err = gh_store_become_owner(so.path, detail, sizeof(detail));
	if (err == GH_OK)
		err = gh_store_open(&b->st, &so, detail, sizeof(detail));
	if (err) {
		blog(b, LOG_ERR, "cannot open %s: %s%s%s", so.path,
		     gh_strerror(err), detail[0] ? ": " : "", detail);
		return gh_err_exit_code(err);
	}
	b->buf = malloc(GH_BRIDGE_MSG_MAX + 1);
	if (b->buf == NULL)
		return EX_OSERR;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);   /* no SA_RESTART: end waits */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	blog(b, LOG_INFO, "started for %s", so.path);
	gh_retention_from_conf(b->conf, &b->ret);
	b->ret_interval = gh_conf_int(b->conf, "retention", "interval");
	b->purge_next = gh_mono_ms() + FIRST_PURGE_MS;
	if (ghc_enabled(b->conf)) {
		/* the multi-host mode: after the last change of uid (the
		 * NATS client's threads must not cross one, cluster/ghc.h);
		 * one connection for the forwarder and the watcher */
		err = ghc_open(b->conf, b->dom, &b->nats, detail,
		               sizeof(detail));
		if (err == GH_OK)
			err = bf_open(b->nats, b->dom, b->journal, &b->fwd,
			              detail, sizeof(detail));
		if (err == GH_OK)
			err = bs_open(b->nats, b->dom, b->st, b->journal,
			              &b->shared, detail, sizeof(detail));
		if (err) {
			blog(b, LOG_ERR, "[nats]: %s", detail);
			return gh_err_exit_code(err);
		}
	}
	return EX_OK;
}

/*
 * Until SIGTERM or SIGINT: in the multi-host mode, the outbox forwarded to
 * JetStream round after round; otherwise sessions with notifyd, one after
 * another.
 */
static void
run(struct br *b)
{
	char state[300];

	snprintf(state, sizeof(state), "READY=1\nSTATUS=bridging the %s "
	         "domain", b->name);
	gh_sd_notify(state);
	while (!stopping && b->fwd != NULL) {
		int sent;

		if (reload_wanted)
			(void)reload(b);
		purge_tick(b);
		/* web: one-click unsubscribes into the outbox first, so this
		 * very round forwards them (sharedata.h) */
		if (bs_turn(b->dom, b->st) < 0)
			blog(b, LOG_WARNING, "unsubscribes: cannot move them "
			     "to the outbox (will try again)");
		sent = bf_turn(b->fwd, b->st);
		/* a full batch: straight on; nothing or a failure: wait */
		if (sent < BATCH)
			nap_ms(sent < 0 ? 1000 : b->purge ? 20 : b->poll_ms);
	}
	while (!stopping && b->fwd == NULL) {
		if (reload_wanted)
			(void)reload(b);
		purge_tick(b);
		b->fd = bconnect(b);
		if (b->fd < 0) {
			nap_ms(b->purge ? 50 : 1000);
			continue;
		}
		if (hello(b) == 0)
			session(b);
		close(b->fd);
		b->fd = -1;
		json_decref(b->snap);
		b->snap = NULL;
		json_decref(b->inbox);
		b->inbox = NULL;
		nap_ms(1000);
	}
	gh_sd_notify("STOPPING=1");
	blog(b, LOG_INFO, "stopped");
}

/* Undoes whatever start() did; safe on a partial start. */
static void
stop(struct br *b)
{
	/* the watcher's threads use the connection: stopped first; the
	 * forwarder's PubAck handler has it as closure: freed after the
	 * connection is closed */
	bs_close(b->shared);
	ghc_close(b->nats);
	bf_close(b->fwd);
	gh_purge_free(b->purge);
	free(b->buf);
	gh_store_close(b->st);
	gh_conf_free(b->conf);
}

int
main(int argc, char **argv)
{
	struct br b;
	const char *conf_path = NULL;
	int rc;

	memset(&b, 0, sizeof(b));
	b.fd = -1;
	b.journal = gh_journal_stderr();
	rc = parse_args(&b, argc, argv, &conf_path);
	if (rc >= 0)
		return rc;
	rc = start(&b, conf_path);
	if (rc == EX_OK)
		run(&b);
	stop(&b);
	return rc;
}
