/*
 * natsin.c - gatehouse-notifyd's end of the multi-host mode (natsin.h,
 * docs/cluster.md): a thread that fetches the hosts' events from NATS
 * JetStream and commits them into this instance's store.
 *
 * Every notifyd of the fleet pulls from the one durable consumer
 * "notifyd" of the events stream (explicit acks, AckWait = [nats]
 * ack_wait, MaxDeliver = [nats] max_deliver, filter PREFIX.events.>), so
 * JetStream hands each event to one instance at a time.  For each
 * message:
 *   - the domain and host come from the subject, PREFIX.events.DOMAIN.HOST.
 *     They are trusted because the NATS server lets each domain's user
 *     publish only to its own subjects (the server configuration in
 *     docs/cluster.md): the subject plays the part SO_PEERCRED plays for
 *     a bridge on this host;
 *   - the body, the bridge protocol's message, goes through the very path
 *     a local bridge's does (nd_intake_commit): validated and stamped for
 *     that domain, recognised if it came before (the key names host,
 *     domain, event id and time), committed;
 *   - then acked.  One refused (invalid) is published with the reason to
 *     PREFIX.dead.DOMAIN.HOST (PREFIX.dead.unknown if the subject names
 *     none; stream STREAM_DEAD) and terminated, stored or not; one
 *     the store could not take now (full, locked) is Nak'ed with a delay
 *     that doubles with each delivery (1 s up to 60 s), and on its last
 *     delivery dead-lettered like a refused one.
 * What happens next (retries, quiet hours, digests, breakers) is this
 * instance's, from its store, as on a single host: a retry stays with the
 * instance that took the event, and a killed instance's events are sent
 * when it starts again (its store is durable).
 *
 * Every STATS_MS the thread also reads the consumer's and stream's figures
 * and the PREFIX_hosts heartbeats for /metrics (nd_natsin_metrics).
 *
 * A thread of its own: the NATS client's calls block.  It shares with the
 * dispatcher only the store handle (safe across threads, store.h), the
 * logger (one write per line) and, under mu, the figures.  Its
 * configuration is read at start: a change of [nats] needs a restart.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/bridge.h"
#include "gatehouse/codec.h"
#include "gatehouse/domain.h"
#include "ghc.h"
#include "nd.h"
#include "natsin.h"
#include "intake.h"

#define NI_FETCH 64               /* messages fetched at once */
#define NI_FETCH_MS 1000          /* longest wait in one fetch */
#define NI_RETRY_MS 1000          /* after a failure to set up */
#define NI_STATS_MS 5000
#define NI_NAK_MIN_MS 1000
#define NI_NAK_MAX_MS 60000
#define NI_HOSTS_MAX 256          /* heartbeats shown, at most */
#define NI_DEAD_BODY_MAX 65536    /* bytes of a refused body kept */
#define NI_HOSTS_MS 15000         /* heartbeats read this often */
#define NI_HOSTS_BUDGET_MS 1000   /* and for this long at most */

struct nd_natsin {
	struct nd *d;
	struct gh_store *st;
	struct ghc *c;
	struct nd_intake in;
	natsSubscription *sub;
	char filter[GHC_SUBJECT_MAX];
	char dead_core[GHC_SUBJECT_MAX];
	pthread_t tid;
	int started;
	volatile int stop;
	int said_down;
	int64_t stats_next;
	/* under mu: what /metrics shows */
	pthread_mutex_t mu;
	struct {
		uint64_t committed, duplicate, refused, nak, dead_published;
		int have_consumer, have_stream;
		uint64_t pending;
		int64_t ack_pending, redelivered, waiting;
		uint64_t msgs, bytes;
		int connected;
		struct ghc_host hosts[NI_HOSTS_MAX];
		size_t nhosts;
	} s;
	char dead_unknown[GHC_SUBJECT_MAX];  /* PREFIX.dead.unknown */
	int64_t hosts_next;
};

/* Sleep ms, in steps, returning early when asked to stop. */
static void
nap(struct nd_natsin *n, int ms)
{
	struct timespec ts = {0, 50 * 1000000L};

	for (int i = 0; i < ms / 50 && !n->stop; i++)
		nanosleep(&ts, NULL);
}

#define COUNT(n, field, k) do { \
	pthread_mutex_lock(&(n)->mu); \
	(n)->s.field += (k); \
	pthread_mutex_unlock(&(n)->mu); \
} while (0)

/* ---- setting up: stream, dead letters, bucket, consumer ---- */

static gh_err
setup(struct nd_natsin *n, char *why, size_t wlen)
{
	const struct ghc_opts *o = ghc_opts(n->c);
	jsConsumerConfig cc;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	gh_err err;

	if (!ghc_connected(n->c)) {
		snprintf(why, wlen, "not connected");
		return GH_EIO;
	}
	err = ghc_ensure_stream(n->c, why, wlen);
	if (err)
		return err;
	jsConsumerConfig_Init(&cc);
	cc.Durable = GHC_CONSUMER;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = o->ack_wait_ms * 1000000;
	cc.MaxDeliver = o->max_deliver;
	cc.FilterSubject = n->filter;
	/* the same name, another configuration (an admin's new ack_wait):
	 * made this one */
	s = js_AddConsumer(NULL, ghc_js(n->c), o->stream, &cc, NULL, &jerr);
	if (s != NATS_OK) {
		jerr = 0;
		s = js_UpdateConsumer(NULL, ghc_js(n->c), o->stream, &cc, NULL,
		                      &jerr);
	}
	if (s != NATS_OK)
		return ghc_status(s, jerr, "consumer " GHC_CONSUMER, why, wlen);
	jsSubOptions_Init(&so);
	so.Stream = o->stream;
	so.Consumer = GHC_CONSUMER;
	s = js_PullSubscribe(&n->sub, ghc_js(n->c), n->filter, GHC_CONSUMER,
	                     NULL, &so, &jerr);
	if (s != NATS_OK)
		return ghc_status(s, jerr, "subscribing to " GHC_CONSUMER, why,
		                  wlen);
	return GH_OK;
}

/* ---- one message ---- */

/* Split PREFIX.events.DOMAIN.HOST; the domain must be a producer's. */
static int
parse_subject(const struct nd_natsin *n, const char *subj, int *dom,
              char *host, size_t hcap)
{
	const struct ghc_opts *o = ghc_opts(n->c);
	size_t pl = strlen(o->prefix);
	char dname[16];
	const char *p, *dot;

	if (strncmp(subj, o->prefix, pl) != 0 ||
	    strncmp(subj + pl, ".events.", 8) != 0)
		return -1;
	p = subj + pl + 8;
	dot = strchr(p, '.');
	if (dot == NULL || (size_t)(dot - p) >= sizeof(dname))
		return -1;
	memcpy(dname, p, (size_t)(dot - p));
	dname[dot - p] = '\0';
	*dom = gh_domain_lookup(dname);
	if (*dom <= GH_DOMAIN_CORE || strlen(dot + 1) >= hcap ||
	    !ghc_token_ok(dot + 1))
		return -1;
	strcpy(host, dot + 1);
	return 0;
}

/* Publish what was refused, and why, to PREFIX.dead.DOMAIN.HOST; 0 once
 * JetStream has it.  The body goes in as base64 of at most
 * NI_DEAD_BODY_MAX bytes: any bytes (not only UTF-8) fit, and the record
 * stays far below max_payload however large or odd the refused body was. */
static int
dead_letter(struct nd_natsin *n, natsMsg *m, const char *dom,
            const char *host, const char *why)
{
	char subj[GHC_SUBJECT_MAX];
	static char b64[GH_B64_ENC_LEN(NI_DEAD_BODY_MAX)];  /* intake's */
	const char *data = natsMsg_GetData(m);
	int dlen = natsMsg_GetDataLength(m);
	size_t len = data != NULL && dlen > 0 ? (size_t)dlen : 0;
	size_t keep = len > NI_DEAD_BODY_MAX ? NI_DEAD_BODY_MAX : len;
	json_t *j;
	char *s = NULL;
	jsErrCode jerr = 0;
	natsStatus ns;

	if (dom == NULL || host == NULL ||
	    ghc_subject(ghc_opts(n->c), "dead", dom, host, subj,
	                sizeof(subj)) != GH_OK)
		snprintf(subj, sizeof(subj), "%s", n->dead_unknown);
	if (gh_b64_encode(GH_B64_STD, keep ? data : "", keep, b64, sizeof(b64),
	                  NULL) != GH_OK)
		return -1;
	/* the subject came from the network too: "s%" keeps a non-UTF-8
	 * one from failing the whole record */
	j = json_pack("{s:s, s:s%, s:s, s:I, s:b, s:I, s:s}", "reason", why,
	              "subject", natsMsg_GetSubject(m),
	              strlen(natsMsg_GetSubject(m)), "body_base64", b64,
	              "body_size", (json_int_t)len, "body_truncated",
	              keep < len, "at", (json_int_t)gh_now_ms(), "by",
	              ghc_opts(n->c)->host);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL)
		return -1;
	ns = js_Publish(NULL, ghc_js(n->c), subj, s, (int)strlen(s), NULL,
	                &jerr);
	free(s);
	if (ns == NATS_OK)
		COUNT(n, dead_published, 1);
	return ns == NATS_OK ? 0 : -1;
}

/* Refused for good: dead-lettered, then terminated (not handed out
 * again).  If the dead letter cannot be stored it is terminated all the
 * same: handing it back would only refuse it again max_deliver times and
 * then leave it in the work queue for good. */
static void
refuse(struct nd_natsin *n, natsMsg *m, const char *dom, const char *host,
       const char *why)
{
	nd_log(&n->d->log, ND_LOG_WARN, "cluster: event from %s (%s) refused: "
	       "%s", host ? host : "?", dom ? dom : "unknown", why);
	COUNT(n, refused, 1);
	if (dead_letter(n, m, dom, host, why) != 0)
		nd_log(&n->d->log, ND_LOG_ERR, "cluster: event on %.200s: "
		       "the dead letter could not be stored; dropped",
		       natsMsg_GetSubject(m));
	(void)natsMsg_Term(m, NULL);
}

/* The store could not take it now: again later, doubling the wait with
 * each delivery; on the last one, dead-lettered. */
static void
later(struct nd_natsin *n, natsMsg *m, const char *dom, const char *host,
      const char *why)
{
	jsMsgMetaData *md = NULL;
	uint64_t tries = 1;
	int64_t delay = NI_NAK_MIN_MS;

	if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
		tries = md->NumDelivered;
		jsMsgMetaData_Destroy(md);
	}
	if (tries >= (uint64_t)ghc_opts(n->c)->max_deliver) {
		char line[400];

		snprintf(line, sizeof(line), "gave up after %llu deliveries: "
		         "%s", (unsigned long long)tries, why);
		refuse(n, m, dom, host, line);
		return;
	}
	for (uint64_t i = 1; i < tries && delay < NI_NAK_MAX_MS; i++)
		delay *= 2;
	if (delay > NI_NAK_MAX_MS)
		delay = NI_NAK_MAX_MS;
	COUNT(n, nak, 1);
	(void)natsMsg_NakWithDelay(m, delay, NULL);
}

/* Messages [from, to) of one subject: checked, committed together,
 * answered. */
static void
handle_run(struct nd_natsin *n, natsMsg **msgs, int from, int to)
{
	struct nd_intake_item items[NI_FETCH];
	int idx[NI_FETCH];
	char host[GHC_TOKEN_MAX + 1];
	const char *dname;
	size_t k = 0;
	int dom = -1;
	gh_err err;

	memset(items, 0, sizeof(items));
	if (parse_subject(n, natsMsg_GetSubject(msgs[from]), &dom, host,
	                  sizeof(host)) != 0) {
		for (int i = from; i < to; i++)
			refuse(n, msgs[i], NULL, NULL,
			       "not a subject PREFIX.events.DOMAIN.HOST of a "
			       "producer domain");
		return;
	}
	dname = gh_domain_name((enum gh_domain)dom);
	for (int i = from; i < to; i++) {
		const char *data = natsMsg_GetData(msgs[i]);
		int len = natsMsg_GetDataLength(msgs[i]);
		json_t *j = NULL;
		const char *t;

		if (len <= 0 || (size_t)len > GH_BRIDGE_MSG_MAX || data == NULL ||
		    (j = json_loadb(data, (size_t)len, JSON_REJECT_DUPLICATES,
		                    NULL)) == NULL || !json_is_object(j)) {
			json_decref(j);
			refuse(n, msgs[i], dname, host, "not a bridge message "
			       "(a JSON object of at most GH_BRIDGE_MSG_MAX "
			       "bytes)");
			continue;
		}
		t = gh_bridge_type(j);
		if (strcmp(t, "ev") != 0 && strcmp(t, "sup") != 0) {
			json_decref(j);
			refuse(n, msgs[i], dname, host, "neither an event nor "
			       "an unsubscribe");
			continue;
		}
		idx[k] = i;
		items[k++].msg = j;
	}
	if (k == 0)
		return;
	err = nd_intake_commit(n->st, &n->in, dom, host, items, k);
	for (size_t i = 0; i < k; i++) {
		struct nd_intake_item *it = &items[i];
		natsMsg *m = msgs[idx[i]];
		int is_ev = strcmp(gh_bridge_type(it->msg), "ev") == 0;

		if (err) {
			later(n, m, dname, host, gh_strerror(err));
		} else if ((is_ev && it->ev == NULL && !it->dup) ||
		           (!is_ev && it->why[0])) {
			refuse(n, m, dname, host, it->why[0] ? it->why :
			       "refused");
		} else {
			/* committed (or had been): JetStream may forget it */
			(void)natsMsg_Ack(m, NULL);
			if (it->dup)
				COUNT(n, duplicate, 1);
			else
				COUNT(n, committed, 1);
		}
		json_decref(it->msg);
		json_decref(it->ev);
	}
	if (err)
		nd_log(&n->d->log, ND_LOG_WARN, "cluster: cannot commit %zu "
		       "events from %s (%s): %s; JetStream hands them out "
		       "again later", k, host, dname, gh_strerror(err));
}

static void
handle(struct nd_natsin *n, natsMsg **msgs, int count)
{
	int from = 0;

	/* runs of one subject (one host and domain): one commit each */
	while (from < count) {
		int to = from + 1;

		while (to < count && strcmp(natsMsg_GetSubject(msgs[to]),
		                            natsMsg_GetSubject(msgs[from])) == 0)
			to++;
		handle_run(n, msgs, from, to);
		from = to;
	}
}

/* ---- figures for /metrics ---- */

static void
read_stats(struct nd_natsin *n)
{
	const struct ghc_opts *o = ghc_opts(n->c);
	jsConsumerInfo *ci = NULL;
	jsStreamInfo *si = NULL;
	static struct ghc_host hosts[NI_HOSTS_MAX];  /* this thread's */
	char why[256];
	size_t nh = 0;
	int conn = ghc_connected(n->c), hosts_read = 0;

	if (conn) {
		(void)js_GetConsumerInfo(&ci, ghc_js(n->c), o->stream,
		                         GHC_CONSUMER, NULL, NULL);
		(void)js_GetStreamInfo(&si, ghc_js(n->c), o->stream, NULL,
		                       NULL);
		/* every PREFIX_hosts key costs a request on this, the
		 * intake's, thread: a slower pace than the stream's figures
		 * (the bucket itself holds GHC_HOSTS_MAX_KEYS at most) */
		if (gh_mono_ms() >= n->hosts_next) {
			n->hosts_next = gh_mono_ms() + NI_HOSTS_MS;
			(void)ghc_hosts_read(n->c, hosts, NI_HOSTS_MAX,
			                     NI_HOSTS_BUDGET_MS, &nh, why,
			                     sizeof(why));
			hosts_read = 1;
		}
	}
	pthread_mutex_lock(&n->mu);
	n->s.connected = conn;
	n->s.have_consumer = ci != NULL;
	if (ci != NULL) {
		n->s.pending = ci->NumPending;
		n->s.ack_pending = ci->NumAckPending;
		n->s.redelivered = ci->NumRedelivered;
		n->s.waiting = ci->NumWaiting;
	}
	n->s.have_stream = si != NULL;
	if (si != NULL) {
		n->s.msgs = si->State.Msgs;
		n->s.bytes = si->State.Bytes;
	}
	if (hosts_read) {
		memcpy(n->s.hosts, hosts, nh * sizeof(hosts[0]));
		n->s.nhosts = nh;
	}
	pthread_mutex_unlock(&n->mu);
	jsConsumerInfo_Destroy(ci);
	jsStreamInfo_Destroy(si);
}

/* ---- the thread ---- */

static void *
natsin_main(void *arg)
{
	struct nd_natsin *n = arg;
	char why[512];

	while (!n->stop) {
		natsMsgList list = {NULL, 0};
		jsErrCode jerr = 0;
		natsStatus s;

		if (gh_mono_ms() >= n->stats_next) {
			n->stats_next = gh_mono_ms() + NI_STATS_MS;
			read_stats(n);
		}
		if (n->sub == NULL) {
			if (setup(n, why, sizeof(why)) != GH_OK) {
				if (!n->said_down)
					nd_log(&n->d->log, ND_LOG_WARN, "cluster: "
					       "%s; trying again every second",
					       why);
				n->said_down = 1;
				natsSubscription_Destroy(n->sub);
				n->sub = NULL;
				nap(n, NI_RETRY_MS);
				continue;
			}
			ghc_url(n->c, why, sizeof(why));
			nd_log(&n->d->log, ND_LOG_INFO, "cluster: taking events "
			       "from %s (consumer " GHC_CONSUMER " of %s)",
			       why[0] ? why : "NATS", ghc_opts(n->c)->stream);
			n->said_down = 0;
		}
		s = natsSubscription_Fetch(&list, n->sub, NI_FETCH, NI_FETCH_MS,
		                           &jerr);
		if ((s == NATS_OK || s == NATS_TIMEOUT) && n->said_down &&
		    ghc_connected(n->c)) {
			nd_log(&n->d->log, ND_LOG_INFO, "cluster: taking events "
			       "again");
			n->said_down = 0;
		}
		if (s == NATS_OK) {
			handle(n, list.Msgs, list.Count);
			natsMsgList_Destroy(&list);
			continue;
		}
		natsMsgList_Destroy(&list);
		if (s == NATS_TIMEOUT)
			continue;
		/* down, or the consumer went away: set up again once the
		 * cluster answers */
		if (!n->said_down) {
			ghc_status(s, jerr, "fetching", why, sizeof(why));
			nd_log(&n->d->log, ND_LOG_WARN, "cluster: %s; trying "
			       "again every second", why);
			n->said_down = 1;
		}
		if (s != NATS_CONNECTION_DISCONNECTED &&
		    s != NATS_NOT_YET_CONNECTED) {
			natsSubscription_Destroy(n->sub);
			n->sub = NULL;
		}
		nap(n, NI_RETRY_MS);
	}
	return NULL;
}

gh_err
nd_natsin_start(struct nd *d, struct ghc *c, struct nd_natsin **out,
                char *detail, size_t dlen)
{
	struct nd_natsin *n;
	const struct ghc_opts *o;
	gh_err err;

	*out = NULL;
	if (c == NULL)
		return GH_OK;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return GH_ENOMEM;
	n->d = d;
	n->st = d->st;
	n->c = c;
	pthread_mutex_init(&n->mu, NULL);
	err = nd_intake_load(d->rt->conf, &n->in, detail, dlen);
	if (err)
		goto fail;
	o = ghc_opts(n->c);
	snprintf(n->filter, sizeof(n->filter), "%s.events.>", o->prefix);
	if (ghc_subject(o, "dead", "core", o->host, n->dead_core,
	                sizeof(n->dead_core)) != GH_OK) {
		snprintf(detail, dlen, "[nats] host too long");
		err = GH_ECONFIG;
		goto fail;
	}
	/* "unknown" is no domain's name: no host's dead letters mix in */
	snprintf(n->dead_unknown, sizeof(n->dead_unknown), "%s.dead.unknown",
	         o->prefix);
	if (pthread_create(&n->tid, NULL, natsin_main, n) != 0) {
		err = GH_ENOMEM;
		goto fail;
	}
	n->started = 1;
	nd_log(&d->log, ND_LOG_INFO, "cluster: host %s, servers %s", o->host,
	       gh_conf_str(d->rt->conf, "nats", "servers"));
	*out = n;
	return GH_OK;
fail:
	nd_natsin_stop(n);
	return err;
}

void
nd_natsin_stop(struct nd_natsin *n)
{
	if (n == NULL)
		return;
	n->stop = 1;
	if (n->started)
		pthread_join(n->tid, NULL);
	natsSubscription_Destroy(n->sub);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

void
nd_natsin_dead(struct nd_natsin *n, const json_t *what)
{
	char *s;

	if (n == NULL || what == NULL)
		return;
	s = json_dumps(what, JSON_COMPACT);
	if (s == NULL)
		return;
	/* a plain publish, buffered: the dispatcher never waits on NATS;
	 * the stream STREAM_DEAD stores it */
	if (natsConnection_Publish(ghc_conn(n->c), n->dead_core, s,
	                           (int)strlen(s)) == NATS_OK)
		COUNT(n, dead_published, 1);
	free(s);
}

__attribute__((format(printf, 3, 4)))
static void
add(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int k;

	if (*buf == NULL && *len != 0)
		return;   /* out of memory before */
	va_start(ap, fmt);
	k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0 || (p = realloc(*buf, *len + (size_t)k + 1)) == NULL) {
		free(*buf);
		*buf = NULL;
		*len = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(p + *len, (size_t)k + 1, fmt, ap);
	va_end(ap);
	*buf = p;
	*len += (size_t)k;
}

#define HEAD(b, l, name, type, help) \
	add(b, l, "# HELP " name " " help "\n# TYPE " name " " type "\n")

char *
nd_natsin_metrics(struct nd_natsin *n)
{
	char *b = NULL;
	size_t l = 0;
	int64_t now = gh_now_ms();

	if (n == NULL)
		return NULL;
	pthread_mutex_lock(&n->mu);
	HEAD(&b, &l, "gatehouse_cluster_connected", "gauge",
	     "1 while this notifyd is connected to NATS.");
	add(&b, &l, "gatehouse_cluster_connected %d\n", n->s.connected);
	HEAD(&b, &l, "gatehouse_cluster_received_total", "counter",
	     "Events this notifyd took from JetStream, by outcome.");
	add(&b, &l, "gatehouse_cluster_received_total{outcome=\"committed\"} "
	    "%llu\ngatehouse_cluster_received_total{outcome=\"duplicate\"} "
	    "%llu\ngatehouse_cluster_received_total{outcome=\"refused\"} "
	    "%llu\ngatehouse_cluster_received_total{outcome=\"nak\"} %llu\n",
	    (unsigned long long)n->s.committed,
	    (unsigned long long)n->s.duplicate,
	    (unsigned long long)n->s.refused, (unsigned long long)n->s.nak);
	HEAD(&b, &l, "gatehouse_cluster_dead_published_total", "counter",
	     "Dead letters this notifyd published.");
	add(&b, &l, "gatehouse_cluster_dead_published_total %llu\n",
	    (unsigned long long)n->s.dead_published);
	if (n->s.have_consumer) {
		HEAD(&b, &l, "gatehouse_cluster_consumer_pending", "gauge",
		     "Events in the stream not yet handed out.");
		add(&b, &l, "gatehouse_cluster_consumer_pending %llu\n",
		    (unsigned long long)n->s.pending);
		HEAD(&b, &l, "gatehouse_cluster_consumer_ack_pending", "gauge",
		     "Events handed out and not yet acknowledged.");
		add(&b, &l, "gatehouse_cluster_consumer_ack_pending %lld\n",
		    (long long)n->s.ack_pending);
		HEAD(&b, &l, "gatehouse_cluster_consumer_redelivered", "gauge",
		     "Events handed out more than once, not yet acknowledged.");
		add(&b, &l, "gatehouse_cluster_consumer_redelivered %lld\n",
		    (long long)n->s.redelivered);
	}
	if (n->s.have_stream) {
		HEAD(&b, &l, "gatehouse_cluster_stream_messages", "gauge",
		     "Events held by the stream.");
		add(&b, &l, "gatehouse_cluster_stream_messages %llu\n",
		    (unsigned long long)n->s.msgs);
		HEAD(&b, &l, "gatehouse_cluster_stream_bytes", "gauge",
		     "Bytes held by the stream.");
		add(&b, &l, "gatehouse_cluster_stream_bytes %llu\n",
		    (unsigned long long)n->s.bytes);
	}
	HEAD(&b, &l, "gatehouse_cluster_host_backlog", "gauge",
	     "Events waiting in a host's domain outbox (its heartbeat).");
	for (size_t i = 0; i < n->s.nhosts; i++)
		add(&b, &l, "gatehouse_cluster_host_backlog{host=\"%s\","
		    "domain=\"%s\"} %lld\n", n->s.hosts[i].host,
		    n->s.hosts[i].domain, n->s.hosts[i].backlog);
	HEAD(&b, &l, "gatehouse_cluster_host_lag_seconds", "gauge",
	     "Age of the oldest event waiting in a host's domain outbox.");
	for (size_t i = 0; i < n->s.nhosts; i++)
		add(&b, &l, "gatehouse_cluster_host_lag_seconds{host=\"%s\","
		    "domain=\"%s\"} %.3f\n", n->s.hosts[i].host,
		    n->s.hosts[i].domain,
		    (double)n->s.hosts[i].oldest_ms / 1000.0);
	HEAD(&b, &l, "gatehouse_cluster_host_published_total", "counter",
	     "Events a host's bridge published since it started.");
	for (size_t i = 0; i < n->s.nhosts; i++)
		add(&b, &l, "gatehouse_cluster_host_published_total{host=\"%s\","
		    "domain=\"%s\"} %lld\n", n->s.hosts[i].host,
		    n->s.hosts[i].domain, n->s.hosts[i].published);
	HEAD(&b, &l, "gatehouse_cluster_host_last_seen_seconds", "gauge",
	     "Time since a host's bridge last sent its heartbeat.");
	for (size_t i = 0; i < n->s.nhosts; i++)
		add(&b, &l, "gatehouse_cluster_host_last_seen_seconds{host=\"%s\","
		    "domain=\"%s\"} %.3f\n", n->s.hosts[i].host,
		    n->s.hosts[i].domain,
		    (double)(now - n->s.hosts[i].at) / 1000.0);
	pthread_mutex_unlock(&n->mu);
	return b;
}
