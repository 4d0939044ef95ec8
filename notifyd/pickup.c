/*
 * pickup.c - the core's end of the bridges (gatehouse/bridge.h): a thread
 * of gatehouse-notifyd that takes producer domains' events and
 * unsubscribes over [notifyd] bridge_socket, has each batch validated,
 * stamped with the domain the connection belongs to and committed into
 * the core store (intake.c, the path natsin.c shares), and sends the mail domain the core's suppression list whenever it
 * changes.
 *
 * Who is who comes from the kernel: SO_PEERCRED gives the peer's uid, and
 * a hello for domain D is accepted only from root or the uid that owns D's
 * store, the one uid that can write D's records anyway.  So a compromised
 * web server can send web events, stamped "nginx" and limited to upload.*
 * types and the [events_api] types the admin gave it, and nothing else
 * (gh_domain_accept_policy, docs/security.md).
 *
 * A thread of its own because it blocks in poll() on sockets the dispatcher
 * does not know; it shares only the store handle (safe across threads,
 * store.h) and the logger (one write per line).  Its configuration is read
 * at start: a change of [store], bridge_socket or [events_api] needs a
 * restart.
 */
#include <errno.h>
#include <stdarg.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gatehouse/bridge.h"
#include "gatehouse/domain.h"
#include "gatehouse/records.h"
#include "gatehouse/users.h"
#include "nd.h"
#include "intake.h"
#include "pickup.h"
#include "webreq.h"

#define PK_CONNS 8               /* bridge connections at once */
#define PK_HELLO_MS 5000         /* to say who it is */
#define PK_DRAIN 64              /* messages committed together */
#define PK_DRAIN_BYTES (256u << 10) /* ... and their bytes, at most */
#define PK_OUT_MAX (1u << 20)    /* answers queued for a bridge, at most */
#define PK_SNAP_ROOM (128u << 10) /* queue a snapshot chunk below this */
#define PK_TICK_MS 250
#define PK_SNAP_MS 1000          /* snapshots to one bridge, at most every */
#define PK_WARN_MS 60000         /* one warning of a kind a minute */
#define PK_FEED_CHUNK 64         /* inbox feed entries read at once */
enum { PK_SAY_GONE, PK_SAY_REFUSED, PK_SAY_CONNECTED, PK_SAY_KINDS };

/* What notifyd has to say to a bridge, sent without ever waiting: the
 * pickup thread serves every bridge, so one that stops reading must not
 * hold up the others; it is closed once PK_OUT_MAX is queued. */
struct pk_out {
	struct pk_out *next;
	size_t len;
	char buf[];
};

struct pk_conn {
	int fd;
	uid_t uid;
	int dom;                     /* -1 until hello */
	int64_t since;
	struct pk_out *out, *out_tail;
	size_t out_bytes;
	/* the suppression list, streamed to the mail domain a chunk at a
	 * time as its queue drains */
	int64_t sent_gen;            /* last snapshot completed */
	int64_t snap_at;             /* when the last one started */
	int snap_active;
	uint64_t snap_gen;
	int snap_resume;             /* 0: from the start */
	char snap_addr[GH_ADDR_MAX + 1], snap_list[GH_LIST_MAX + 1];
	/* the inbox feed (users.h), sent to the web domain: the last entry
	 * sent; the bridge says in its hello which one it has */
	uint64_t feed_sent;
	int inbox_copy;              /* the bridge keeps one (its hello) */
	/* a whole copy (a new web store, or one the ring left behind):
	 * every user's preferences, then every inbox item, a chunk at a
	 * time, sent with seq 0 so the bridge's position does not move
	 * until the feed's entries after it come */
	int resync;                  /* 0 none; 1 prefs; 2 inbox */
	unsigned char rkey[GH_USER_MAX + 9];
	size_t rklen;                /* 0: from the start */
};

/* Each domain's allowance, a token bucket: a compromised producer can
 * hand over at most bridge_rate records a second (bursts of ten times
 * that); beyond, its connection is simply read later, and the rest waits
 * in its own store. */
struct pk_bucket {
	double tokens;
	int64_t at;
	int64_t warned;
};

struct nd_pickup {
	struct nd *d;
	struct gh_store *st;
	int listen_fd;
	int wake[2];
	pthread_t tid;
	char sock_path[108];
	char store_path[GH_DOMAIN_COUNT_][4096];
	int has_store[GH_DOMAIN_COUNT_];
	struct pk_conn conns[PK_CONNS];
	struct pk_bucket bucket[GH_DOMAIN_COUNT_];
	/* inotify on the core store's wlock, which every commit changing an
	 * inbox item or preferences rewrites (gh_txn_touch): a new item, or
	 * a read mark the CLI set, goes to the web bridge at once, not at
	 * the next tick */
	int ino;
	double rate;                 /* [notifyd] bridge_rate */
	struct nd_intake in;         /* what the validation needs */
	int64_t warned_uid, warned_full;
	/* lines about bridges, said at most once a minute each kind, with
	 * how many were not (a uid looping on connect must not flood the
	 * journal, which would then drop notifyd's real lines) */
	struct {
		int64_t at;
		unsigned quiet;
	} said[PK_SAY_KINDS];
	char *buf;
};

/* Refill dom's bucket; how many records it may hand over now. */
static size_t
allowance(struct nd_pickup *p, int dom)
{
	struct pk_bucket *b = &p->bucket[dom];
	int64_t now = gh_now_ms();
	double cap = p->rate * 10;

	b->tokens += (double)(now - b->at) * p->rate / 1000.0;
	if (b->tokens > cap)
		b->tokens = cap;
	b->at = now;
	return b->tokens >= PK_DRAIN ? PK_DRAIN : (size_t)b->tokens;
}

/* Log at most once a minute per *last. */
static int
may_warn(int64_t *last)
{
	int64_t now = gh_now_ms();

	if (now - *last < PK_WARN_MS)
		return 0;
	*last = now;
	return 1;
}

/* nd_log, at most once a minute for each kind, saying how many were
 * left unsaid in between. */
__attribute__((format(printf, 4, 5)))
static void
say(struct nd_pickup *p, int kind, enum nd_level lv, const char *fmt, ...)
{
	char line[512];
	int64_t now = gh_now_ms();
	va_list ap;

	if (now - p->said[kind].at < PK_WARN_MS) {
		p->said[kind].quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->said[kind].quiet)
		nd_log(&p->d->log, lv, "%s (and %u more like it in the last "
		       "minute)", line, p->said[kind].quiet);
	else
		nd_log(&p->d->log, lv, "%s", line);
	p->said[kind].at = now;
	p->said[kind].quiet = 0;
}

static void
conn_close(struct nd_pickup *p, struct pk_conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	if (why != NULL)
		say(p, PK_SAY_GONE, ND_LOG_WARN, "bridge %s (uid %ld): %s",
		    c->dom >= 0 ? gh_domain_name((enum gh_domain)c->dom) : "?",
		    (long)c->uid, why);
	close(c->fd);
	c->fd = -1;
	c->dom = -1;
	c->snap_active = 0;
	while (c->out != NULL) {
		struct pk_out *o = c->out;

		c->out = o->next;
		free(o);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
}

/* Send what is queued, as far as the socket takes it now. */
static void
flush(struct nd_pickup *p, struct pk_conn *c)
{
	while (c->fd >= 0 && c->out != NULL) {
		struct pk_out *o = c->out;
		ssize_t w = send(c->fd, o->buf, o->len,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		              errno == EINTR))
			return;
		if (w != (ssize_t)o->len) {
			conn_close(p, c, "cannot answer it; closed");
			return;
		}
		c->out = o->next;
		if (c->out == NULL)
			c->out_tail = NULL;
		c->out_bytes -= o->len;
		free(o);
	}
}

/* Queue m (a reference the call takes) for c and send what can be. */
static void
reply(struct nd_pickup *p, struct pk_conn *c, json_t *m)
{
	char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
	size_t n = s ? strlen(s) : 0;
	struct pk_out *o;

	json_decref(m);
	if (c->fd < 0) {
		free(s);
		return;
	}
	if (s == NULL || n > GH_BRIDGE_MSG_MAX ||
	    c->out_bytes + n > PK_OUT_MAX ||
	    (o = malloc(sizeof(*o) + n)) == NULL) {
		free(s);
		conn_close(p, c, "does not read its answers; closed");
		return;
	}
	memcpy(o->buf, s, n);
	free(s);
	o->len = n;
	o->next = NULL;
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out = o;
	c->out_tail = o;
	c->out_bytes += n;
	flush(p, c);
}

static void
conn_read(struct nd_pickup *p, struct pk_conn *c)
{
	struct nd_intake_item items[PK_DRAIN];
	struct {
		struct nd_intake_item *items;
		size_t n;
	} b = {items, 0};
	size_t max = allowance(p, c->dom), bytes = 0;
	gh_err err = GH_OK;

	memset(items, 0, sizeof(items));
	if (max == 0)
		return;   /* not polled then; said in pickup_main */
	while (b.n < max && bytes < PK_DRAIN_BYTES) {
		json_t *m;

		size_t nb = 0;

		err = gh_bridge_recv(c->fd, p->buf, GH_BRIDGE_MSG_MAX + 1, &m,
		                     &nb);
		if (err)
			break;
		bytes += nb;
		b.items[b.n++].msg = m;
	}
	p->bucket[c->dom].tokens -= (double)b.n;
	if (err == GH_EIO || err == GH_EINVAL) {
		conn_close(p, c, err == GH_EIO ? "gone" :
		           "sent a malformed packet; closed");
		goto done;
	}
	err = nd_intake_commit(p->st, &p->in, c->dom, NULL, b.items, b.n);
	if (err) {
		/* Nothing answered: the bridge gives its leases back and
		 * sends them again once it reconnects. */
		char why[128];

		snprintf(why, sizeof(why), "cannot commit its records: %s; "
		         "closed", gh_strerror(err));
		conn_close(p, c, why);
		goto done;
	}
	for (size_t i = 0; i < b.n && c->fd >= 0; i++) {
		struct nd_intake_item *it = &b.items[i];
		const char *t = gh_bridge_type(it->msg);
		json_t *id = json_object_get(it->msg, "id");

		if (strcmp(t, "ev") == 0 && it->ev == NULL) {
			nd_log(&p->d->log, ND_LOG_WARN, "bridge %s: event %lld "
			       "refused: %s", gh_domain_name((enum gh_domain)
			       c->dom), (long long)json_integer_value(id),
			       it->why);
			reply(p, c, json_pack("{s:s, s:O, s:s}", "t", "reject",
			                      "id", id ? id : json_null(),
			                      "why", it->why));
		} else if (strcmp(t, "ev") == 0) {
			reply(p, c, json_pack("{s:s, s:O}", "t", "ack", "id",
			                      id));
		} else if (strcmp(t, "sup") == 0) {
			if (it->why[0])
				nd_log(&p->d->log, ND_LOG_WARN, "bridge %s: "
				       "unsubscribe dropped: %s",
				       gh_domain_name((enum gh_domain)c->dom),
				       it->why);
			reply(p, c, json_pack("{s:s, s:O?, s:O?}", "t",
			                      "sup-ack", "addr",
			                      json_object_get(it->msg, "addr"),
			                      "list",
			                      json_object_get(it->msg, "list")));
		} else {
			conn_close(p, c, "sent an unknown message; closed");
		}
	}
done:
	for (size_t i = 0; i < b.n; i++) {
		json_decref(b.items[i].msg);
		json_decref(b.items[i].ev);
	}
	/* Big JSON trees are freed to malloc's arenas, not the system: give
	 * the memory back, or a burst of big events keeps notifyd large. */
	if (bytes > PK_DRAIN_BYTES / 4)
		malloc_trim(0);
}

static void resync_start(struct nd_pickup *p, struct pk_conn *c);

/* ---- hello ---- */

static void
conn_hello(struct nd_pickup *p, struct pk_conn *c)
{
	json_t *m = NULL;
	const char *name;
	gh_err err;
	uid_t owner;
	int dom;
	char why[256];

	err = gh_bridge_recv(c->fd, p->buf, GH_BRIDGE_MSG_MAX + 1, &m,
	                     NULL);
	if (err == GH_ENOTFOUND)
		return;
	if (err || strcmp(gh_bridge_type(m), "hello") != 0) {
		conn_close(p, c, "did not say hello; closed");
		goto done;
	}
	name = json_string_value(json_object_get(m, "domain"));
	dom = gh_domain_lookup(name);
	if (dom <= GH_DOMAIN_CORE || !p->has_store[dom]) {
		snprintf(why, sizeof(why), "no producer domain '%s' with a "
		         "store of its own here", name ? name : "?");
		goto refuse;
	}
	err = gh_store_owner(p->store_path[dom], &owner, NULL, why,
	                     sizeof(why));
	if (err)
		goto refuse;
	if (c->uid != 0 && c->uid != owner) {
		snprintf(why, sizeof(why), "uid %ld does not own the %s store "
		         "(uid %ld does)", (long)c->uid, name, (long)owner);
		goto refuse;
	}
	/* One bridge per domain: the newest wins (the old one is a bridge
	 * that restarted, or its own domain's business). */
	for (int i = 0; i < PK_CONNS; i++)
		if (&p->conns[i] != c && p->conns[i].dom == dom)
			conn_close(p, &p->conns[i], "replaced by a new "
			           "connection");
	c->dom = dom;
	c->sent_gen = -1;
	c->feed_sent = 0;
	c->resync = 0;
	/* A web bridge that keeps an inbox copy says how far it is ("inbox",
	 * 0 for nothing yet); one that does not (an older bridge) is sent
	 * none. */
	c->inbox_copy = dom == GH_DOMAIN_WEB &&
	    json_is_integer(json_object_get(m, "inbox")) &&
	    json_integer_value(json_object_get(m, "inbox")) >= 0;
	if (c->inbox_copy &&
	    json_integer_value(json_object_get(m, "inbox")) > 0)
		c->feed_sent = (uint64_t)json_integer_value(
		    json_object_get(m, "inbox"));
	else if (c->inbox_copy)
		resync_start(p, c);   /* a copy that has nothing yet */
	say(p, PK_SAY_CONNECTED, ND_LOG_INFO, "bridge %s connected (uid %ld)",
	    name, (long)c->uid);
	reply(p, c, json_pack("{s:s}", "t", "welcome"));
	goto done;
refuse:
	say(p, PK_SAY_REFUSED, ND_LOG_WARN, "bridge refused: %s", why);
	{
		json_t *r = json_pack("{s:s, s:s}", "t", "refused", "why", why);
		char *t = r ? json_dumps(r, JSON_COMPACT) : NULL;

		/* one try, never waiting: it is going anyway */
		if (t && send(c->fd, t, strlen(t), MSG_DONTWAIT |
		              MSG_NOSIGNAL) < 0) {
			/* nothing to do */
		}
		free(t);
		json_decref(r);
	}
	conn_close(p, c, NULL);
done:
	json_decref(m);
}

/* ---- the suppression list, to the mail domain ---- */

struct snap_arg {
	const char *after_addr;       /* the last entry sent; NULL: none */
	const char *after_list;
	json_t *chunk;
	char last_addr[GH_ADDR_MAX + 1];
	char last_list[GH_LIST_MAX + 1];
};

/* Collect up to a chunk of entries. */
static int
snap_one(const char *addr, const char *list, const json_t *rec, void *arg)
{
	struct snap_arg *a = arg;

	(void)rec;
	json_array_append_new(a->chunk, json_pack("[s, s]", addr, list));
	snprintf(a->last_addr, sizeof(a->last_addr), "%s", addr);
	snprintf(a->last_list, sizeof(a->last_list), "%s", list);
	return json_array_size(a->chunk) >= GH_BRIDGE_SNAP_CHUNK;
}

static gh_err
snap_view(struct gh_txn *txn, void *arg)
{
	struct snap_arg *a = arg;

	return gh_suppress_scan_txn(txn, a->after_addr, a->after_list,
	                            snap_one, a);
}

static gh_err
gen_view(struct gh_txn *txn, void *arg)
{
	return gh_suppress_gen_txn(txn, arg);
}

/* Start a snapshot when the core's list changed (at most once a second),
 * and queue its next chunk whenever the bridge's queue has room: a big
 * list never sits whole in memory nor holds the thread. */
static void
send_snapshot(struct nd_pickup *p, struct pk_conn *c)
{
	struct snap_arg a;
	uint64_t gen = 0;

	if (!c->snap_active) {
		if (gh_now_ms() - c->snap_at < PK_SNAP_MS ||
		    gh_store_view(p->st, gen_view, &gen) != GH_OK ||
		    (int64_t)gen == c->sent_gen)
			return;
		c->snap_at = gh_now_ms();
		c->snap_active = 1;
		c->snap_gen = gen;
		c->snap_resume = 0;
		reply(p, c, json_pack("{s:s, s:I}", "t", "snap-begin", "gen",
		                      (json_int_t)gen));
	}
	while (c->fd >= 0 && c->snap_active && c->out_bytes < PK_SNAP_ROOM) {
		memset(&a, 0, sizeof(a));
		if (c->snap_resume) {
			a.after_addr = c->snap_addr;
			a.after_list = c->snap_list;
		}
		a.chunk = json_array();
		if (a.chunk == NULL ||
		    gh_store_view(p->st, snap_view, &a) != GH_OK) {
			json_decref(a.chunk);
			conn_close(p, c, "cannot read the suppression list; "
			           "closed");
			return;
		}
		size_t got = json_array_size(a.chunk);

		if (got > 0) {
			memcpy(c->snap_addr, a.last_addr, sizeof(c->snap_addr));
			memcpy(c->snap_list, a.last_list, sizeof(c->snap_list));
			c->snap_resume = 1;
			/* reply takes the message, and so the chunk */
			reply(p, c, json_pack("{s:s, s:o}", "t", "snap", "e",
			                      a.chunk));
		} else {
			json_decref(a.chunk);
		}
		if (got < GH_BRIDGE_SNAP_CHUNK) {
			reply(p, c, json_pack("{s:s, s:I}", "t", "snap-end",
			                      "gen", (json_int_t)c->snap_gen));
			c->snap_active = 0;
			c->sent_gen = (int64_t)c->snap_gen;
		}
	}
}

/* ---- the inbox feed, to the web domain ---- */

struct feed_arg {
	struct pk_conn *c;
	json_t *msgs;                /* packets to send */
	uint64_t last, first;
};

static int
feed_one(uint64_t seq, unsigned kind, const char *user, uint64_t id,
         void *arg)
{
	struct feed_arg *a = arg;

	json_array_append_new(a->msgs, json_pack("{s:I, s:i, s:s, s:I}",
	                      "seq", (json_int_t)seq, "kind", (int)kind,
	                      "user", user, "id", (json_int_t)id));
	a->last = seq;
	return json_array_size(a->msgs) >= PK_FEED_CHUNK;
}

/* The entries after the connection's, each with what it names now (an
 * entry says only which item or whose preferences changed). */
static gh_err
feed_view(struct gh_txn *txn, void *arg)
{
	struct feed_arg *a = arg;
	size_t i;
	json_t *e;
	gh_err err;

	json_array_clear(a->msgs);
	a->last = a->c->feed_sent;
	err = gh_inbox_feed_txn(txn, a->c->feed_sent, feed_one, a, &a->first);
	json_array_foreach(a->msgs, i, e) {
		const char *user = json_string_value(json_object_get(e, "user"));
		json_t *rec = NULL;
		gh_err e2;

		if (err)
			break;
		if (json_integer_value(json_object_get(e, "kind")) ==
		    GH_FEED_ITEM) {
			json_object_set_new(e, "t", json_string("inbox"));
			e2 = gh_inbox_get_txn(txn, user, (uint64_t)
			    json_integer_value(json_object_get(e, "id")), &rec);
			json_object_set_new(e, "item", rec ? rec : json_null());
		} else {
			json_object_set_new(e, "t", json_string("prefs"));
			json_object_del(e, "id");
			e2 = gh_prefs_get_txn(txn, user, &rec);
			json_object_set_new(e, "prefs", rec ? rec : json_null());
		}
		json_object_del(e, "kind");
		if (e2 && e2 != GH_ENOTFOUND)
			err = e2;
	}
	return err;
}

struct resync_arg {
	struct pk_conn *c;
	json_t *msgs;
	int done;
};

static int
resync_row(const void *key, size_t klen, const void *val, size_t vlen,
           void *arg)
{
	struct resync_arg *a = arg;
	struct pk_conn *c = a->c;
	char user[GH_USER_MAX + 1];
	json_t *rec, *m;
	size_t ul;

	if (klen == c->rklen && memcmp(key, c->rkey, klen) == 0)
		return 0;   /* the last one sent */
	if (json_array_size(a->msgs) >= PK_FEED_CHUNK ||
	    klen > sizeof(c->rkey))
		return 1;
	memcpy(c->rkey, key, klen);
	c->rklen = klen;
	ul = c->resync == 1 ? klen : strnlen(key, klen);
	if (ul == 0 || ul > GH_USER_MAX ||
	    (c->resync == 2 && klen != ul + 9))
		return 0;
	memcpy(user, key, ul);
	user[ul] = '\0';
	rec = json_loadb(val, vlen, 0, NULL);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return 0;
	}
	if (c->resync == 1)
		m = json_pack("{s:s, s:i, s:s, s:o}", "t", "prefs", "seq", 0,
		              "user", user, "prefs", rec);
	else
		m = json_pack("{s:s, s:i, s:s, s:I, s:o}", "t", "inbox", "seq",
		              0, "user", user, "id", (json_int_t)gh_get_be64(
		              (const unsigned char *)key + ul + 1), "item", rec);
	json_array_append_new(a->msgs, m);
	return 0;
}

static gh_err
resync_view(struct gh_txn *txn, void *arg)
{
	struct resync_arg *a = arg;
	struct pk_conn *c = a->c;
	int stopped = 0;
	gh_err err;

	json_array_clear(a->msgs);
	err = gh_txn_scan(txn, c->resync == 1 ? GH_DB_PREFS : GH_DB_INBOX,
	                  c->rklen ? c->rkey : NULL, c->rklen, 0, resync_row,
	                  a, &stopped);
	if (err == GH_ENOTFOUND)
		err = GH_OK;
	a->done = (err == GH_OK && !stopped);
	return err;
}

static gh_err
feed_last_view(struct gh_txn *txn, void *arg)
{
	return gh_inbox_feed_last_txn(txn, arg);
}

/* Start a whole copy: from the feed's newest entry on, what changes is
 * sent by the feed; what is there now, by the copy. */
static void
resync_start(struct nd_pickup *p, struct pk_conn *c)
{
	uint64_t last = 0;

	if (gh_store_view(p->st, feed_last_view, &last) != GH_OK)
		last = 0;
	c->feed_sent = last;
	c->resync = 1;
	c->rklen = 0;
}

/* The next chunks of a whole copy, while the bridge's queue has room. */
static void
resync_step(struct nd_pickup *p, struct pk_conn *c)
{
	struct resync_arg a = {c, json_array(), 0};

	while (a.msgs != NULL && c->fd >= 0 && c->resync &&
	       c->out_bytes < PK_SNAP_ROOM) {
		size_t i;
		json_t *e;

		if (gh_store_view(p->st, resync_view, &a) != GH_OK) {
			conn_close(p, c, "cannot read the inbox; closed");
			break;
		}
		json_array_foreach(a.msgs, i, e)
			reply(p, c, json_incref(e));
		if (a.done) {
			c->rklen = 0;
			c->resync = c->resync == 1 ? 2 : 0;
		}
	}
	json_decref(a.msgs);
}

/* Send the web bridge the inbox changes it lacks, a chunk at a time while
 * its queue has room (never waiting on it, like the snapshot). */
static void
send_inbox(struct nd_pickup *p, struct pk_conn *c)
{
	struct feed_arg a = {c, json_array(), 0, 0};

	if (c->resync)
		resync_step(p, c);
	while (a.msgs != NULL && c->fd >= 0 && !c->resync &&
	       c->out_bytes < PK_SNAP_ROOM) {
		size_t i;
		json_t *e;

		if (gh_store_view(p->st, feed_view, &a) != GH_OK) {
			conn_close(p, c, "cannot read the inbox feed; closed");
			break;
		}
		if (json_array_size(a.msgs) == 0)
			break;
		if (c->feed_sent != 0 && a.first > c->feed_sent + 1) {
			/* the ring moved past what the bridge had: a whole
			 * copy again (docs/security.md) */
			nd_log(&p->d->log, ND_LOG_WARN, "bridge web: its copy "
			       "of the inbox is %llu changes behind the feed; "
			       "sending it all again", (unsigned long long)
			       (a.first - c->feed_sent - 1));
			resync_start(p, c);
			break;
		}
		json_array_foreach(a.msgs, i, e)
			reply(p, c, json_incref(e));
		c->feed_sent = a.last;
	}
	json_decref(a.msgs);
}

/* ---- the thread ---- */

/* May uid hold a bridge connection at all?  Root, or the owner of a
 * domain's store: nobody else has anything to hand over. */
static int
may_connect(struct nd_pickup *p, uid_t uid)
{
	if (uid == 0)
		return 1;
	for (int dom = GH_DOMAIN_MAIL; dom < GH_DOMAIN_COUNT_; dom++) {
		uid_t owner;

		if (p->has_store[dom] &&
		    gh_store_owner(p->store_path[dom], &owner, NULL, NULL, 0) ==
		    GH_OK && owner == uid)
			return 1;
	}
	return 0;
}

static void
do_accept(struct nd_pickup *p)
{
	struct ucred cr = {0, (uid_t)-1, (gid_t)-1};
	socklen_t len = sizeof(cr);
	/* Nothing on it ever waits: receives and sends are MSG_DONTWAIT,
	 * answers queue (reply, flush). */
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int slot = -1;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    !may_connect(p, cr.uid)) {
		/* Not a bridge: gone at once, so strangers cannot fill the
		 * slots the bridges need (and quietly: no log flood). */
		if (may_warn(&p->warned_uid))
			nd_log(&p->d->log, ND_LOG_WARN, "bridge socket: uid %ld "
			       "owns no domain's store; refused (said once a "
			       "minute)", (long)cr.uid);
		close(fd);
		return;
	}
	for (int i = 0; i < PK_CONNS; i++) {
		struct pk_conn *c = &p->conns[i];

		/* One connection waiting for its hello per uid: the newest. */
		if (c->fd >= 0 && c->dom < 0 && c->uid == cr.uid)
			conn_close(p, c, NULL);
		if (c->fd < 0 && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		if (may_warn(&p->warned_full))
			nd_log(&p->d->log, ND_LOG_WARN, "bridge socket: too many "
			       "connections; refusing uid %ld (said once a "
			       "minute)", (long)cr.uid);
		close(fd);
		return;
	}
	p->conns[slot].fd = fd;
	p->conns[slot].uid = cr.uid;
	p->conns[slot].dom = -1;
	p->conns[slot].since = gh_now_ms();
	p->conns[slot].snap_at = 0;
}

static void *
pickup_main(void *arg)
{
	struct nd_pickup *p = arg;

	for (;;) {
		struct pollfd fds[3 + PK_CONNS];
		int map[3 + PK_CONNS];
		nfds_t n = 0;

		fds[n].fd = p->wake[0];
		fds[n++].events = POLLIN;
		fds[n].fd = p->listen_fd;
		fds[n++].events = POLLIN;
		fds[n].fd = p->ino;   /* -1: ignored by poll */
		fds[n++].events = POLLIN;
		for (int i = 0; i < PK_CONNS; i++) {
			if (p->conns[i].fd < 0)
				continue;
			/* over its allowance: not read until it refills */
			if (p->conns[i].dom > 0 &&
			    allowance(p, p->conns[i].dom) == 0) {
				int dom = p->conns[i].dom;

				if (may_warn(&p->bucket[dom].warned))
					nd_log(&p->d->log, ND_LOG_WARN, "bridge "
					       "%s: over [notifyd] bridge_rate; "
					       "reading it slower (said once a "
					       "minute)", gh_domain_name(
					       (enum gh_domain)dom));
				continue;
			}
			map[n] = i;
			fds[n].fd = p->conns[i].fd;
			fds[n++].events = POLLIN |
			    (p->conns[i].out != NULL ? POLLOUT : 0);
		}
		if (poll(fds, n, PK_TICK_MS) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (fds[1].revents & POLLIN)
			do_accept(p);
		if (fds[2].revents & POLLIN) {
			char ib[4096];

			while (read(p->ino, ib, sizeof(ib)) > 0)
				;   /* drained: what changed is in the feed */
		}
		for (nfds_t i = 3; i < n; i++) {
			struct pk_conn *c = &p->conns[map[i]];

			if (c->fd < 0 || !fds[i].revents)
				continue;
			if (fds[i].revents & POLLOUT)
				flush(p, c);
			if (c->fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP |
			                                     POLLERR)))
				continue;
			if (c->dom < 0)
				conn_hello(p, c);
			else
				conn_read(p, c);
		}
		for (int i = 0; i < PK_CONNS; i++) {
			struct pk_conn *c = &p->conns[i];

			if (c->fd >= 0 && c->dom < 0 &&
			    gh_now_ms() - c->since > PK_HELLO_MS)
				conn_close(p, c, "said nothing; closed");
			if (c->fd >= 0)
				flush(p, c);
			if (c->fd >= 0 && c->dom == GH_DOMAIN_MAIL)
				send_snapshot(p, c);
			if (c->fd >= 0 && c->dom == GH_DOMAIN_WEB &&
			    c->inbox_copy)
				send_inbox(p, c);
		}
	}
	return NULL;
}

static gh_err
pk_listen(struct nd_pickup *p, const char *path, char *detail, size_t dlen)
{
	struct sockaddr_un sa;
	struct stat sb;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(detail, dlen, "[notifyd] bridge_socket: too long");
		return GH_ECONFIG;
	}
	snprintf(p->sock_path, sizeof(p->sock_path), "%s", path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	/* A socket left by a previous run goes; anything else is not ours
	 * to remove. */
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(detail, dlen, "%s exists and is not a socket",
			         path);
			return GH_EINVAL;
		}
		(void)unlink(path);
	}
	p->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	                      SOCK_NONBLOCK, 0);
	if (p->listen_fd < 0)
		goto fail;
	/* Everyone may connect: who it is comes from SO_PEERCRED, checked
	 * against the owner of the domain's store at hello. */
	old = umask(0111);   /* 0666, without a chmod by name after */
	rc = bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(p->listen_fd, 16) != 0)
		goto fail;
	return GH_OK;
fail:
	snprintf(detail, dlen, "[notifyd] bridge_socket %s: %s", path,
	         strerror(errno));
	return GH_EIO;
}

gh_err
nd_pickup_start(struct nd *d, struct nd_pickup **out, char *detail,
                size_t dlen)
{
	struct nd_pickup *p;
	int any = 0;
	gh_err err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return GH_ENOMEM;
	p->d = d;
	p->st = d->st;
	p->listen_fd = -1;
	p->wake[0] = p->wake[1] = -1;
	p->ino = -1;
	p->rate = (double)gh_conf_int(d->rt->conf, "notifyd", "bridge_rate");
	err = nd_intake_load(d->rt->conf, &p->in, detail, dlen);
	if (err) {
		free(p);
		return err;
	}
	for (int dom = 0; dom < GH_DOMAIN_COUNT_; dom++) {
		p->bucket[dom].tokens = p->rate * 10;
		p->bucket[dom].at = gh_now_ms();
		p->bucket[dom].warned = -PK_WARN_MS;
	}
	p->warned_uid = p->warned_full = -PK_WARN_MS;
	for (int i = 0; i < PK_CONNS; i++) {
		p->conns[i].fd = -1;
		p->conns[i].dom = -1;
	}
	for (int dom = GH_DOMAIN_MAIL; dom < GH_DOMAIN_COUNT_; dom++) {
		struct gh_store_opts so;
		int shared = 1;

		gh_conf_domain_store_opts(d->rt->conf, (enum gh_domain)dom, &so,
		                          &shared);
		if (shared)
			continue;
		snprintf(p->store_path[dom], sizeof(p->store_path[dom]), "%s",
		         so.path);
		p->has_store[dom] = 1;
		any = 1;
	}
	if (!any) {
		free(p);
		return GH_OK;   /* one store for all: nothing to pick up */
	}
	p->buf = malloc(GH_BRIDGE_MSG_MAX + 1);
	if (p->buf == NULL || pipe2(p->wake, O_CLOEXEC) != 0) {
		err = GH_ENOMEM;
		goto fail;
	}
	err = pk_listen(p, gh_conf_str(d->rt->conf, "notifyd",
	                               "bridge_socket"), detail, dlen);
	if (err)
		goto fail;
	if (p->has_store[GH_DOMAIN_WEB]) {
		char dm[4200];
		struct gh_store_opts so;

		/* Without it the web bridge still gets every change, at the
		 * next tick (PK_TICK_MS). */
		gh_conf_domain_store_opts(d->rt->conf, GH_DOMAIN_CORE, &so, NULL);
		snprintf(dm, sizeof(dm), "%s/wlock", so.path);
		p->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (p->ino >= 0 && inotify_add_watch(p->ino, dm, IN_MODIFY) < 0) {
			nd_log(&d->log, ND_LOG_WARN, "inotify on %s: %s; the "
			       "web bridge gets inbox changes within %d ms",
			       dm, strerror(errno), PK_TICK_MS);
			close(p->ino);
			p->ino = -1;
		}
	}
	if (pthread_create(&p->tid, NULL, pickup_main, p) != 0) {
		err = GH_ENOMEM;
		goto fail;
	}
	for (int dom = GH_DOMAIN_MAIL; dom < GH_DOMAIN_COUNT_; dom++)
		if (p->has_store[dom])
			nd_log(&d->log, ND_LOG_INFO, "waiting for the %s "
			       "domain's bridge on %s (store %s)",
			       gh_domain_name((enum gh_domain)dom),
			       p->sock_path, p->store_path[dom]);
	*out = p;
	return GH_OK;
fail:
	if (p->ino >= 0)
		close(p->ino);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->wake[0] >= 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	free(p->buf);
	free(p);
	return err;
}

void
nd_pickup_stop(struct nd_pickup *p)
{
	if (p == NULL)
		return;
	if (write(p->wake[1], "x", 1) == 1)
		pthread_join(p->tid, NULL);
	for (int i = 0; i < PK_CONNS; i++)
		conn_close(p, &p->conns[i], NULL);
	close(p->listen_fd);
	(void)unlink(p->sock_path);
	close(p->wake[0]);
	close(p->wake[1]);
	if (p->ino >= 0)
		close(p->ino);
	free(p->buf);
	free(p);
}
