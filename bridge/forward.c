/*
 * forward.c - gatehouse-bridge in the multi-host mode (forward.h,
 * docs/cluster.md): the domain's outbox events go to NATS JetStream, where
 * any gatehouse-notifyd of the delivery fleet takes them.
 *
 * The domain's store is the spool: an event is leased, published to
 * PREFIX.events.DOMAIN.HOST with Nats-Msg-Id HOST:DOMAIN:ID:TAG, and acked in
 * the outbox only once JetStream acknowledged it (it is then stored on
 * the stream's replicas).  A bridge killed in between publishes it again
 * after its lease runs out; JetStream drops the copy within the stream's
 * duplicate window, and notifyd's idempotence key (host, domain, id, time)
 * catches one after it.  While the cluster cannot be reached, the leases
 * are given back and tried again every second; the producers never notice
 * (they commit into their own store, docs/security.md rule 5).
 *
 * A round's batch (up to BF_BATCH leases) goes out asynchronously on the
 * bridge's own JetStream context, in outbox order, and its PubAcks are
 * awaited together (js_PublishAsyncComplete, [nats] connect_timeout for
 * the whole batch): one round trip per batch, not per event.  The
 * client's thread runs puback() for each reply; it only records, under
 * f->mu, which msg id got a PubAck (a duplicate included: JetStream has
 * it) or a refusal.  Back in the bridge's thread, the leases with a
 * PubAck are acked in the outbox, every other one (refused, no answer in
 * time, not sent) is given back for a later round.  So a batch the
 * cluster takes in part leaves the rest for later, and those may then
 * reach the stream after younger events (notifyd does not rely on the
 * order).  A batch JetStream answered in full but refused in part (an
 * event over the stream's max_msg_size) leaves the cluster "up" and the
 * bridge going at the outbox's pace: the refusal is logged once per
 * reason, not each round.  Silence (no answer in time) or a failed send
 * counts as the cluster being down: a second's wait, as above.
 *
 * TAG is HMAC-SHA256(key, "HOST:DOMAIN:ID"), 16 bytes in hex, the key 32
 * random bytes made once and kept in the domain's store (meta
 * "nats_msgid_key"): the same for every publish of an event, also after
 * a restart, so JetStream still recognises a copy; but no other host can
 * guess it.  JetStream's duplicate check spans the whole stream, not a
 * subject: with ids of only HOST:DOMAIN:ID, the web domain's user, which
 * may publish on its own subject only, could take ids of the login
 * domain's next events and have them dropped as duplicates.  A PubAck
 * that says duplicate on an event's first publish is logged.
 *
 * Every HEARTBEAT_MS it puts a heartbeat for this host and domain into the
 * PREFIX_hosts bucket (key HOST.DOMAIN): the outbox's backlog and the age
 * of its oldest due event, events published since start, the time of the
 * last publish.  notifyd's /metrics and `gatehouse cluster status` read
 * them.  It is published like any message to the bucket's subject
 * ($KV.BUCKET.KEY), so the domain's NATS user needs publish rights on its
 * own keys only, never the JetStream API.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "gatehouse/codec.h"
#include "gatehouse/journal.h"
#include "gatehouse/queue.h"
#include "gatehouse/store.h"
#include "gatehouse/records.h"
#include "ghc.h"
#include "blog.h"
#include "forward.h"

#define BF_BATCH 64
#define BF_VISIBILITY_MS 120000     /* a lease not settled comes back */
#define BF_HEARTBEAT_MS 5000
#define MSGID_KEY_LEN 32
#define MSGID_KEY_NAME "nats_msgid_key"   /* in the store's meta db */
#define MSGID_TAG_LEN 16                   /* bytes of HMAC, as hex */

struct bf {
	struct ghc *c;
	enum gh_domain dom;
	const char *name;
	int journal;
	char subject[GHC_SUBJECT_MAX];
	char hb_subject[GHC_SUBJECT_MAX];
	int up;                       /* -1 not known yet, 0 down, 1 up */
	uint64_t published;
	int64_t last_publish;         /* wall clock ms; 0 never */
	int64_t hb_next;              /* monotonic ms */
	struct gh_lease leases[BF_BATCH];
	jsCtx *js;                    /* ours: async publishes, puback() */
	/* what puback() records for the round in flight, under mu: ids[i]
	 * is leases[i]'s id, got[i] 1 stored, -1 refused, 0 no answer yet */
	pthread_mutex_t mu;
	size_t nids;
	uint64_t ids[BF_BATCH];
	int got[BF_BATCH];
	natsStatus refused;           /* the first refusal's status, */
	jsErrCode refused_code;       /* JetStream code */
	char refused_text[256];       /* and words */
	char said[1024];              /* the refusal last logged, or "" */
	/* the key of the msg ids' tags (msgid_tag()), from the domain's
	 * store; have_key 0 until read */
	unsigned char key[MSGID_KEY_LEN];
	int have_key;
};

__attribute__((format(printf, 3, 4)))
static void
flog(const struct bf *f, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	br_vlog(f->journal, f->name, prio, fmt, ap);
	va_end(ap);
}

/* Say a change between reachable and not, once each way, and the first
 * state at start either way ("forwarding to ..." is the line an admin
 * looks for): hence up's third value, -1, which gatehouse/reopen.h's
 * latch (up until it fails, news keyed by gh_err) has not. */
static void
set_up(struct bf *f, int up, const char *why)
{
	char url[256];

	if (f->up == up)
		return;
	f->up = up;
	if (up) {
		ghc_url(f->c, url, sizeof(url));
		flog(f, LOG_INFO, "forwarding to NATS JetStream%s%s as %s",
		     url[0] ? " at " : "", url, f->subject);
	} else {
		flog(f, LOG_WARNING, "forwarding stopped: %s; events wait in "
		     "this domain's outbox and go once NATS JetStream takes "
		     "them", why);
	}
}

/* The event id in a msg id of ours (HOST:DOMAIN:ID:TAG); 0 if none. */
static uint64_t
msgid_event(const char *mid)
{
	const char *tag = strrchr(mid, ':'), *p;

	if (tag == NULL)
		return 0;
	for (p = tag; p > mid && p[-1] != ':'; p--)
		;
	return p > mid ? strtoull(p, NULL, 10) : 0;
}

/*
 * A PubAck or a refusal for one of our async publishes, on the NATS
 * client's thread: note it against the lease with that msg id, nothing
 * more (the store is the bridge thread's).  An id not in the round in
 * flight (a late answer to a round given up) is dropped: that event was
 * given back and goes again, and JetStream recognises the copy.
 */
static void
puback(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
       void *closure)
{
	struct bf *f = closure;
	const char *mid = NULL;
	uint64_t id;
	size_t i;

	(void)js;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &mid) != NATS_OK ||
	    mid == NULL || (id = msgid_event(mid)) == 0)
		goto cleanup;
	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->nids; i++) {
		if (f->ids[i] != id || f->got[i] != 0)
			continue;
		f->got[i] = pa != NULL ? 1 : -1;
		if (pa == NULL && f->refused == NATS_OK) {
			f->refused = pae ? pae->Err : NATS_ERR;
			f->refused_code = pae ? pae->ErrCode : 0;
			snprintf(f->refused_text, sizeof(f->refused_text), "%s",
			         pae && pae->ErrText ? pae->ErrText : "");
		}
		break;
	}
	pthread_mutex_unlock(&f->mu);
cleanup:
	natsMsg_Destroy(msg);   /* ours to destroy, says nats.h */
}

gh_err
bf_open(struct ghc *c, enum gh_domain dom, int journal, struct bf **out,
        char *detail, size_t dlen)
{
	struct bf *f = calloc(1, sizeof(*f));
	char bucket[GHC_TOKEN_MAX * 2 + 2];
	const struct ghc_opts *o;
	jsOptions jo;
	natsStatus ns;
	gh_err err;

	*out = NULL;
	if (f == NULL)
		return GH_ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	f->dom = dom;
	f->name = gh_domain_name(dom);
	f->journal = journal;
	f->up = -1;
	f->c = c;
	o = ghc_opts(f->c);
	err = ghc_subject(o, "events", f->name, o->host, f->subject,
	                  sizeof(f->subject));
	if (err == GH_OK)
		err = ghc_bucket(o, "hosts", bucket, sizeof(bucket));
	if (err == GH_OK &&
	    snprintf(f->hb_subject, sizeof(f->hb_subject), "$KV.%s.%s.%s",
	             bucket, o->host, f->name) >= (int)sizeof(f->hb_subject))
		err = GH_ETOOBIG;
	if (err) {
		snprintf(detail, dlen, "[nats]: subject for host %s too long",
		         o->host);
		goto fail;
	}
	/* a context of our own for the async publishes: its handler is
	 * per context, and ghc's is shared with the heartbeat */
	jsOptions_Init(&jo);
	jo.Wait = o->connect_timeout_ms;
	jo.PublishAsync.MaxPending = BF_BATCH;
	jo.PublishAsync.AckHandler = puback;
	jo.PublishAsync.AckHandlerClosure = f;
	ns = natsConnection_JetStream(&f->js, ghc_conn(f->c), &jo);
	if (ns != NATS_OK) {
		err = ghc_status(ns, 0, "JetStream context", detail, dlen);
		goto fail;
	}
	f->hb_next = gh_mono_ms();
	*out = f;
	return GH_OK;
fail:
	bf_close(f);
	return err;
}

void
bf_close(struct bf *f)
{
	if (f == NULL)
		return;
	/* nothing is in flight between turns: each waits for its batch;
	 * and the connection (the caller's) is closed by now, so no late
	 * PubAck reaches puback() on a freed f */
	jsCtx_Destroy(f->js);
	pthread_mutex_destroy(&f->mu);
	OPENSSL_cleanse(f->key, sizeof(f->key));
	free(f);
}

/* The heartbeat: what waits in the outbox, how old, what went. */
static void
heartbeat(struct bf *f, struct gh_store *st)
{
	struct gh_queue_stats qs;
	int64_t now = gh_now_ms();
	json_t *hb;
	char *s = NULL;
	jsErrCode jerr = 0;
	natsStatus ns;

	if (gh_queue_stats(st, now, &qs) != GH_OK)
		memset(&qs, 0, sizeof(qs));
	hb = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
	               "host", ghc_opts(f->c)->host, "domain", f->name,
	               "backlog", (json_int_t)(qs.count[0] + qs.count[1]),
	               "oldest_ms", (json_int_t)qs.oldest_due_ms,
	               "published", (json_int_t)f->published,
	               "last_publish", (json_int_t)f->last_publish,
	               "at", (json_int_t)now);
	s = hb ? json_dumps(hb, JSON_COMPACT) : NULL;
	json_decref(hb);
	if (s == NULL)
		return;
	ns = js_Publish(NULL, ghc_js(f->c), f->hb_subject, s, (int)strlen(s),
	                NULL, &jerr);
	free(s);
	if (ns == NATS_OK) {
		set_up(f, 1, NULL);
	} else if (f->up == 1) {
		char why[256];

		ghc_status(ns, jerr, "heartbeat", why, sizeof(why));
		set_up(f, 0, why);
	}
}

json_t *
br_event_msg(uint64_t id, const json_t *rec)
{
	json_t *ev = json_deep_copy(rec);

	if (ev == NULL)
		return NULL;
	/* the producer's fields only: the store's own go */
	json_object_del(ev, "id");
	json_object_del(ev, "created_at");
	json_object_del(ev, "v");
	json_object_del(ev, "q");
	return json_pack("{s:s, s:I, s:O?, s:o}", "t", "ev", "id",
	                 (json_int_t)id, "at",
	                 json_object_get(rec, "created_at"), "ev", ev);
}

/* The tags' key: read from the store's meta, or made and kept there. */
static gh_err
key_txn(struct gh_txn *txn, void *arg)
{
	struct bf *f = arg;
	const void *v = NULL;
	size_t vlen = 0;
	gh_err err = gh_txn_get(txn, GH_DB_META, MSGID_KEY_NAME,
	                        strlen(MSGID_KEY_NAME), &v, &vlen);

	if (err == GH_OK && vlen == MSGID_KEY_LEN) {
		memcpy(f->key, v, MSGID_KEY_LEN);
		return GH_OK;
	}
	if (err != GH_OK && err != GH_ENOTFOUND)
		return err;
	if (RAND_bytes(f->key, MSGID_KEY_LEN) != 1)
		return GH_EIO;
	return gh_txn_put(txn, GH_DB_META, MSGID_KEY_NAME,
	                  strlen(MSGID_KEY_NAME), f->key, MSGID_KEY_LEN);
}

static gh_err
load_key(struct bf *f, struct gh_store *st)
{
	gh_err err;

	if (f->have_key)
		return GH_OK;
	err = gh_store_update(st, key_txn, f);
	if (err == GH_OK)
		f->have_key = 1;
	return err;
}

/* HOST:DOMAIN:ID:TAG, the event's Nats-Msg-Id (the file's comment). */
static int
msgid(const struct bf *f, uint64_t id, char *out, size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n = snprintf(out, cap, "%s:%s:%llu", ghc_opts(f->c)->host,
	                 f->name, (unsigned long long)id);

	if (n < 0 || (size_t)n + 1 + 2 * MSGID_TAG_LEN >= cap ||
	    HMAC(EVP_sha256(), f->key, MSGID_KEY_LEN, (unsigned char *)out,
	         (size_t)n, mac, &maclen) == NULL || maclen < MSGID_TAG_LEN)
		return -1;
	out[n++] = ':';
	return gh_hex_encode(mac, MSGID_TAG_LEN, out + n, cap - (size_t)n) ==
	       GH_OK ? 0 : -1;
}

/* Send one leased event, not waiting for its PubAck; 0 once sent. */
static int
publish(struct bf *f, const struct gh_lease *l, char *why, size_t wlen)
{
	json_t *m = br_event_msg(l->id, l->event);
	char *body = m ? json_dumps(m, JSON_COMPACT) : NULL;
	char mid[GHC_TOKEN_MAX * 2 + 96];
	natsMsg *msg = NULL;
	jsPubOptions po;
	natsStatus ns;

	json_decref(m);
	if (body == NULL) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	if (msgid(f, l->id, mid, sizeof(mid)) != 0) {
		free(body);
		snprintf(why, wlen, "cannot make the message id");
		return -1;
	}
	jsPubOptions_Init(&po);
	po.MsgId = mid;
	ns = natsMsg_Create(&msg, f->subject, NULL, body, (int)strlen(body));
	free(body);
	if (ns == NATS_OK)
		ns = js_PublishMsgAsync(f->js, &msg, &po);
	natsMsg_Destroy(msg);   /* NULL once the client took it */
	if (ns != NATS_OK)
		ghc_status(ns, 0, "publish", why, wlen);
	return ns == NATS_OK ? 0 : -1;
}

/* Why the batch was not all taken: the first refusal, or no answer. */
static void
refusal(struct bf *f, natsStatus refused, jsErrCode code, const char *text,
        char *why, size_t wlen)
{
	char last[400], quoted[GHC_SUBJECT_MAX + 3];

	if (refused == NATS_NO_RESPONDERS) {
		snprintf(why, wlen, "no stream takes %s yet: gatehouse-notifyd "
		         "makes it when it starts", f->subject);
	} else if (refused == NATS_OK || refused == NATS_TIMEOUT) {
		/* the server's words on this subject, not on the suppression
		 * list's watcher's (sharedata.c), which shares the connection */
		snprintf(quoted, sizeof(quoted), "\"%s\"", f->subject);
		ghc_error_about(f->c, quoted, last, sizeof(last));
		snprintf(why, wlen, "no answer to a publish to %s: %s", f->subject,
		         last[0] ? last : "the cluster lost its quorum, or the "
		         "server refused it (is this domain's NATS user allowed "
		         "to publish there? the server's log says)");
	} else if (code) {
		snprintf(why, wlen, "publish: %s (JetStream error %d)%s%s",
		         natsStatus_GetText(refused), (int)code,
		         text[0] ? ": " : "", text);
	} else {
		snprintf(why, wlen, "publish: %s%s%s", natsStatus_GetText(refused),
		         text[0] ? ": " : "", text);
	}
}

/*
 * Send the n leases, wait for their PubAcks together, then put those
 * JetStream took first in f->leases; returns how many.  Whatever had no
 * answer in time is taken back from the client (no handler runs for it
 * after; if the server stored it all the same, the copy sent next round
 * is recognised by its msg id).  *answered: every one sent and answered,
 * and the stream there, so what was not taken JetStream itself refused
 * (the cluster is up; those events are refused, not stuck).
 */
static size_t
publish_batch(struct bf *f, size_t n, int *answered, char *why, size_t wlen)
{
	int got[BF_BATCH];
	size_t i, sent = 0, ok = 0;
	natsStatus ns, refused;
	jsErrCode code;
	char text[sizeof(f->refused_text)];
	natsMsgList lost;
	jsPubOptions po;

	pthread_mutex_lock(&f->mu);
	for (i = 0; i < n; i++) {
		f->ids[i] = f->leases[i].id;
		f->got[i] = 0;
	}
	f->nids = n;
	f->refused = NATS_OK;
	f->refused_code = 0;
	f->refused_text[0] = '\0';
	pthread_mutex_unlock(&f->mu);

	/* in order; a send that fails (the connection went) ends it */
	while (sent < n && publish(f, &f->leases[sent], why, wlen) == 0)
		sent++;
	jsPubOptions_Init(&po);
	po.MaxWait = ghc_opts(f->c)->connect_timeout_ms;
	ns = sent > 0 ? js_PublishAsyncComplete(f->js, &po) : NATS_OK;
	if (ns != NATS_OK &&
	    js_PublishAsyncGetPendingList(&lost, f->js) == NATS_OK)
		natsMsgList_Destroy(&lost);

	pthread_mutex_lock(&f->mu);
	memcpy(got, f->got, n * sizeof(got[0]));
	f->nids = 0;            /* later answers are dropped */
	refused = f->refused;
	code = f->refused_code;
	memcpy(text, f->refused_text, sizeof(text));
	pthread_mutex_unlock(&f->mu);

	/* the taken ones to the front, for one gh_queue_ack */
	for (i = 0; i < n; i++) {
		if (got[i] == 1) {
			struct gh_lease t = f->leases[ok];

			f->leases[ok] = f->leases[i];
			f->leases[i] = t;
			got[i] = got[ok];
			got[ok] = 1;
			ok++;
		}
	}
	if (ok < sent)
		refusal(f, refused, code, text, why, wlen);
	*answered = sent == n && ns == NATS_OK && refused != NATS_NO_RESPONDERS;
	return ok;
}

int
bf_turn(struct bf *f, struct gh_store *st)
{
	size_t n = 0, sent = 0;
	int answered = 0;
	gh_err err;
	char why[1024] = "";
	int64_t t = gh_mono_ms();

	if (t >= f->hb_next) {
		f->hb_next = t + BF_HEARTBEAT_MS;
		if (ghc_connected(f->c))
			heartbeat(f, st);
	}
	if (!ghc_connected(f->c)) {
		char last[400];

		ghc_last_error(f->c, last, sizeof(last));
		if (last[0])
			snprintf(why, sizeof(why), "not connected; last error: %s",
			         last);
		set_up(f, 0, last[0] ? why : "not connected");
		return -1;
	}
	err = load_key(f, st);
	if (err) {
		flog(f, LOG_ERR, "outbox: the message ids' key: %s",
		     gh_strerror(err));
		return -1;
	}
	err = gh_queue_lease(st, gh_now_ms(), BF_BATCH, BF_VISIBILITY_MS,
	                     f->leases, &n);
	if (err) {
		flog(f, LOG_ERR, "outbox: %s", gh_strerror(err));
		return -1;
	}
	if (n > 0)
		sent = publish_batch(f, n, &answered, why, sizeof(why));
	if (sent > 0) {
		err = gh_queue_ack(st, f->leases, sent, gh_now_ms(), NULL);
		if (err)
			flog(f, LOG_WARNING, "outbox: cannot record what JetStream "
			     "took: %s (it goes again and is recognised)",
			     gh_strerror(err));
		f->published += sent;
		f->last_publish = gh_now_ms();
		set_up(f, 1, NULL);
	}
	if (sent < n) {
		(void)gh_queue_release(st, f->leases + sent, n - sent,
		                       gh_now_ms());
		if (!answered) {
			set_up(f, 0, why);
		} else if (strcmp(why, f->said) != 0) {
			/* the cluster answered: up, but these events are refused
			 * (over the stream's max_msg_size, say); said once a
			 * reason, not each second */
			set_up(f, 1, NULL);
			flog(f, LOG_WARNING, "JetStream refused %zu event(s): %s; "
			     "they wait in this domain's outbox and are tried "
			     "again", n - sent, why);
			snprintf(f->said, sizeof(f->said), "%s", why);
		}
	} else if (n > 0) {
		f->said[0] = '\0';
	}
	gh_lease_release(f->leases, n);
	/* idle: "up" is said by the next heartbeat JetStream takes; a batch
	 * taken but for what JetStream refused goes on at the outbox's pace
	 * (not a second's wait per batch behind a refused event) */
	return sent < n && (sent == 0 || !answered) ? -1 : (int)sent;
}
