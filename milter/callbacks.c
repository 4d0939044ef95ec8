/*
 * callbacks.c - gatehouse-milter's libmilter callbacks: per-connection and
 * per-message state (msg.h), the DKIM session fed as the message streams
 * by, and the end-of-message pipeline:
 *
 *   1. scan the spooled copy (scan.h)            infected -> 550 5.7.1
 *   2. bulk mail: drop suppressed recipients     none left -> discard
 *      (those past msg.h's bound were looked up at RCPT: cb_envrcpt)
 *   3. bulk mail to one recipient: List-Unsubscribe(-Post), fed to DKIM
 *   4. finish the DKIM signatures
 *   5. one store transaction: rate limits, the mail log record, events
 *                                                over a limit -> 451 4.7.1
 *   6. apply: delete recipients, add fields, insert DKIM-Signature at 0
 *
 * Nothing is changed in the message until step 6, after every decision,
 * so a refused message is never half-modified.
 *
 * PROTOCOL
 *   See proto.c: the steps skipped (HELO, unknown commands, end of
 *   header: end_of_header() tells it from the first body chunk or the end
 *   of the message), header values exactly as sent (SMFIP_HDR_LEADSPC, for
 *   "simple" canonicalization), no reply per header field or body chunk
 *   over a unix socket, every command answered over TCP, the few macros
 *   read.  See main.c for TCP_NODELAY on our side.
 *
 * Every callback is bounded in time: store transactions by [store]
 * lock_timeout, scans by [milter] scan_timeout, everything else by the
 * sizes bounded in msg.h and hdrlist.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "gatehouse/queue.h"
#include "gatehouse/text.h"
#include "../scanner/gscache.h"
#include "addr.h"
#include "maillog.h"
#include "milter.h"
#include "msg.h"
#include "optout.h"
#include "proto.h"

/*
 * libmilter hands callbacks nothing but the SMFICTX, so the one process
 * state is reached through this pointer, set once by main() before
 * smfi_main() starts any thread and never changed afterwards.
 */
static struct gm_milter *process_state;

void
gm_set(struct gm_milter *m)
{
	process_state = m;
}

struct gm_milter *
gm_get(void)
{
	return process_state;
}

static const char *
getmacro(void *ctx, const char *name)
{
	return smfi_getsymval((SMFICTX *)ctx, (char *)(uintptr_t)name);
}

static void
note_queue_id(SMFICTX *ctx, struct gm_msg *msg)
{
	const char *qid;

	if (msg->queue_id[0])
		return;
	qid = smfi_getsymval(ctx, "i");
	if (qid && *qid)
		gm_log_value(qid, msg->queue_id, sizeof(msg->queue_id));
}

static void
end_message(struct gm_milter *m, struct gm_conn *conn)
{
	if (conn->msg == NULL)
		return;
	gm_msg_free(conn->msg);
	conn->msg = NULL;
	__atomic_sub_fetch(&m->msgs, 1, __ATOMIC_SEQ_CST);
}

/* Reply text without '%' (libmilter would take it as a format) or
 * control characters. */
static void
reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
	char t[400];
	size_t o = 0;

	for (const char *p = text; *p && o + 1 < sizeof(t); p++)
		t[o++] = (*p == '%' || (unsigned char)*p < 0x20) ? '_' : *p;
	t[o] = '\0';
	smfi_setreply(ctx, (char *)(uintptr_t)code, (char *)(uintptr_t)xcode,
	              t);
}

/* See proto.c: whether header fields and body chunks are answered. */
static unsigned long
noreply(void)
{
	return gm_proto_noreply(gm_get()->local_socket);
}

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
             unsigned long f2, unsigned long f3, unsigned long *pf0,
             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	static const unsigned long want_actions = SMFIF_ADDHDRS | SMFIF_DELRCPT;
	(void)f2;
	(void)f3;
	if ((f0 & want_actions) != want_actions) {
		gm_mlog(LOG_ERR, "the MTA does not allow adding header fields "
		        "and removing recipients (offered actions 0x%lx)", f0);
		return SMFIS_REJECT;	/* libmilter: do not use this milter */
	}
	if (!(f1 & SMFIP_HDR_LEADSPC))
		gm_mlog(LOG_WARNING, "the MTA does not offer SMFIP_HDR_LEADSPC: "
		        "simple header canonicalization will not verify");
	*pf0 = want_actions;
	gm_proto_negotiate(ctx, gm_get()->local_socket, f0, f1, pf0,
	                   pf1);
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct gm_milter *m = gm_get();
	struct gm_conn *conn;

	if (__atomic_load_n(&m->draining, __ATOMIC_ACQUIRE)) {
		reply(ctx, "421", "4.3.2", "Service shutting down, try again "
		      "later");
		return SMFIS_TEMPFAIL;
	}
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		reply(ctx, "451", "4.3.0", "Out of memory, try again later");
		return SMFIS_TEMPFAIL;
	}
	conn->cfg = gm_mcfg_acquire(&m->cfg);
	if (hostaddr && hostaddr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)hostaddr)->sin_addr,
		          conn->addr, sizeof(conn->addr));
	else if (hostaddr && hostaddr->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		          &((struct sockaddr_in6 *)hostaddr)->sin6_addr,
		          conn->addr, sizeof(conn->addr));
	conn->internal = gm_netlist_match_sa(&conn->cfg->internal, hostaddr);
	gm_log_value(hostname, conn->name, sizeof(conn->name));
	__atomic_add_fetch(&m->conns, 1, __ATOMIC_RELAXED);
	if (smfi_setpriv(ctx, conn) != MI_SUCCESS) {
		gm_mcfg_unref(conn->cfg);
		free(conn);
		__atomic_sub_fetch(&m->conns, 1, __ATOMIC_RELAXED);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct gm_milter *m = gm_get();
	struct gm_conn *conn = smfi_getpriv(ctx);
	struct gm_msg *msg;
	const struct gm_mcfg *cfg;

	if (conn == NULL)
		return SMFIS_TEMPFAIL;
	end_message(m, conn);
	/*
	 * Count the message first, then look at the drain flag; the drain
	 * sets the flag first, then looks at the count.  With sequentially
	 * consistent atomics one of the two sees the other, so a message is
	 * either refused or waited for, never cut off by the exit.
	 */
	__atomic_add_fetch(&m->msgs, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->draining, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&m->msgs, 1, __ATOMIC_SEQ_CST);
		reply(ctx, "421", "4.3.2", "Service shutting down, try again "
		      "later");
		return SMFIS_TEMPFAIL;
	}
	cfg = conn->cfg;
	msg = gm_msg_new(gh_now_ms());
	if (msg == NULL) {
		__atomic_sub_fetch(&m->msgs, 1, __ATOMIC_SEQ_CST);
		reply(ctx, "451", "4.3.0", "Out of memory, try again later");
		return SMFIS_TEMPFAIL;
	}
	conn->msg = msg;
	conn->nmsgs++;
	gm_envelope_addr(argv && argv[0] ? argv[0] : "", msg->sender,
	                 sizeof(msg->sender));
	gm_policy_auth_user(getmacro, ctx, msg->auth_user,
	                    sizeof(msg->auth_user));
	note_queue_id(ctx, msg);
	msg->outgoing = gm_policy_outgoing(cfg, conn->internal, msg->auth_user,
	                                   &msg->outgoing_why);
	if (msg->outgoing) {
		if (cfg->keys->n == 0)
			msg->unsigned_why = "no signing keys configured";
		else if (gm_dkim_msg_new(NULL, 0, &msg->dkim) != GH_OK)
			msg->unsigned_why = "out of memory";
	}
	if (cfg->scanner) {
		/* in memory until it outgrows GH_SPOOL_MEM_MAX (scan.h) */
		gm_spool_open(&msg->spool, cfg->spool_dir,
		              (uint64_t)cfg->scan_max_size);
		if (cfg->scan_cache)
			gm_spool_hash(&msg->spool);
		msg->spooling = 1;
	}
	return SMFIS_CONTINUE;
}

/*
 * Past the recipients a message keeps, each one is looked up on the
 * suppression list now (msg.h, RECIPIENTS), so that the opt-out reaches
 * every recipient however many there are.  A listed one that cannot be
 * kept gets 452 4.5.3: an SMTP client sends it again in another
 * transaction, where it is checked like any other.
 */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct gm_milter *m = gm_get();
	struct gm_conn *conn = smfi_getpriv(ctx);
	struct gm_msg *msg = conn ? conn->msg : NULL;
	const char *arg = argv && argv[0] ? argv[0] : "";
	char addr[GH_MADDR_MAX + 1], why[200];
	int listed = 0;
	gh_err err;

	if (msg == NULL)
		return SMFIS_TEMPFAIL;
	note_queue_id(ctx, msg);
	if (gm_msg_rcpts_full(msg)) {
		gm_envelope_addr(arg, addr, sizeof(addr));
		err = gm_optout_listed(&m->store, addr, &listed);
		if (err && conn->cfg->on_store_error == GH_ONERR_TEMPFAIL) {
			snprintf(why, sizeof(why), "store unavailable: %s, try "
			         "again later", gh_strerror(err));
			reply(ctx, "451", "4.3.0", why);
			return SMFIS_TEMPFAIL;
		}
		/* on_store_error = accept: unchecked, as at the end */
	}
	err = gm_msg_add_rcpt(msg, arg, listed);
	if (err == GH_ETOOBIG) {
		if (msg->rcpt_refused == 1)
			gm_mlog(LOG_NOTICE, "%s: over %d recipients on the "
			        "suppression list after the first %d: 452 "
			        "4.5.3 for the rest of them",
			        msg->queue_id[0] ? msg->queue_id : "NOQUEUE",
			        GH_MSG_MAX_LISTED, GH_MSG_MAX_RCPTS);
		reply(ctx, "452", "4.5.3", "Too many recipients, send the "
		      "rest in another message");
		return SMFIS_TEMPFAIL;
	}
	if (err) {
		reply(ctx, "451", "4.3.0", "Out of memory, try again later");
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_data(SMFICTX *ctx)
{
	struct gm_conn *conn = smfi_getpriv(ctx);

	if (conn == NULL || conn->msg == NULL)
		return SMFIS_TEMPFAIL;
	conn->msg->data = 1;
	note_queue_id(ctx, conn->msg);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct gm_conn *conn = smfi_getpriv(ctx);
	struct gm_msg *msg = conn ? conn->msg : NULL;

	/* With no reply negotiated, a missing message is answered at the
	 * end of the message instead (tempfail there). */
	if (msg == NULL)
		return noreply() & SMFIP_NR_HDR ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
	gm_msg_header(conn->cfg, msg, name, value);
	if (msg->dkim && !msg->header_err &&
	    gm_dkim_msg_header(msg->dkim, name, value) != GH_OK)
		msg->header_err = 1;	/* sticky in the DKIM core too */
	if (msg->spooling)
		gm_spool_header(&msg->spool, name, value);
	return noreply() & SMFIP_NR_HDR ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Choose the keys of the From domain and add their signatures. */
static void
choose_keys(struct gm_conn *conn, struct gm_msg *msg)
{
	const struct gm_mcfg *cfg = conn->cfg;
	const struct gm_signkey *keys[GH_SIGN_PER_DOMAIN];
	char dom[256];
	int64_t now_s = gh_now_ms() / 1000;
	size_t n;

	if (msg->nfrom != 1 || !msg->from_addr[0]) {
		msg->unsigned_why = msg->nfrom == 0 ? "no From field" :
		    msg->nfrom > 1 ? "several From fields" :
		    "no address in From";
		goto unsign;
	}
	if (gm_domain_lower(gm_addr_domain(msg->from_addr), dom,
	                    sizeof(dom)) != GH_OK) {
		msg->unsigned_why = "bad From domain";
		goto unsign;
	}
	n = gm_signtable_find(cfg->keys, dom, cfg->subdomains, now_s, keys,
	                      GH_SIGN_PER_DOMAIN);
	if (n == 0) {
		msg->unsigned_why = "no key for the From domain";
		goto unsign;
	}
	for (size_t i = 0; i < n; i++) {
		struct gm_dkim_sign_opts o;

		memset(&o, 0, sizeof(o));
		o.key = keys[i]->key;
		o.domain = keys[i]->sdid;
		o.selector = keys[i]->selector;
		o.hdr_canon = cfg->hdr_canon;
		o.body_canon = cfg->body_canon;
		o.t = now_s;
		o.x = cfg->expire_s > 0 ? now_s + cfg->expire_s : 0;
		o.headers = cfg->headers;
		o.nheaders = cfg->nheaders;
		o.oversign = cfg->oversign;
		o.noversign = cfg->noversign;
		if (gm_dkim_msg_add_sig(msg->dkim, &o) != GH_OK) {
			msg->unsigned_why = "signature setup failed";
			goto unsign;
		}
		snprintf(msg->sigs[i].d, sizeof(msg->sigs[i].d), "%s",
		         keys[i]->sdid);
		snprintf(msg->sigs[i].s, sizeof(msg->sigs[i].s), "%s",
		         keys[i]->selector);
		msg->sigs[i].a = gh_dkim_alg_name(gh_dkim_key_alg(keys[i]->key));
		msg->nsigs = i + 1;
	}
	return;
unsign:
	gm_dkim_msg_free(msg->dkim);
	msg->dkim = NULL;
	msg->nsigs = 0;
}

/*
 * The header is complete: decide on scanning and choose the signing keys.
 * Run once, before the first body chunk or at the end of the message (we
 * do not ask the MTA for the end-of-header event, see PROTOCOL).
 */
static void
end_of_header(struct gm_conn *conn, struct gm_msg *msg)
{
	if (msg->eoh)
		return;
	msg->eoh = 1;
	msg->size += 2;
	if (msg->spooling)
		gm_spool_write(&msg->spool, "\r\n", 2);
	if (msg->dkim)
		choose_keys(conn, msg);
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct gm_conn *conn = smfi_getpriv(ctx);
	struct gm_msg *msg = conn ? conn->msg : NULL;

	/* (An MTA that put body bytes in its end-of-message command would
	 * get no end-of-message call after a "no reply" here; Postfix and
	 * Sendmail send that command empty.) */
	if (msg == NULL)
		return noreply() & SMFIP_NR_BODY ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
	end_of_header(conn, msg);
	msg->size += len;
	if (msg->dkim)
		(void)gm_dkim_msg_body(msg->dkim, chunk, len);	/* sticky */
	if (msg->spooling) {
		gm_spool_write(&msg->spool, chunk, len);
		/* with scan_text = no, a plain text message is skipped
		 * unless its body hides a uuencoded part (step_scan) */
		if (!conn->cfg->scan_text && gm_msg_plain_text(msg))
			gm_msg_body_text(msg, chunk, len);
	}
	return noreply() & SMFIP_NR_BODY ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

struct verdict {
	gm_action action;
	char reason[300];
	char unsub[GH_UNSUB_VALUE_MAX];
	int add_unsub;
};

static gh_err
cache_view(struct gh_txn *txn, void *arg)
{
	struct gm_msg *msg = arg;

	return gscan_cache_get(txn, msg->cache_key, &msg->cache_v);
}

/*
 * The verdict cache, before a scan: 1 if the message as spooled was seen
 * before with the same signatures (sv is its verdict).  On a miss the key
 * is kept, and step_log writes a clean or infected verdict with the mail
 * log record, in the same transaction.  A read transaction never waits
 * on writers; clamd's engine key costs one VERSION round trip.
 */
static int
scan_cached(struct gm_milter *m, const struct gm_mcfg *cfg,
            struct gm_msg *msg, struct gscan_verdict *sv)
{
	unsigned char sha[32], ekey[GSCAN_KEY_LEN];
	char detail[160];

	if (!cfg->scan_cache || gm_spool_digest(&msg->spool, sha) != 0 ||
	    gscan_engine_key(cfg->scanner, ekey, detail, sizeof(detail)) !=
	    GH_OK)
		return 0;
	gscan_cache_key(sha, ekey, msg->cache_key);
	if (gm_mstore_view(&m->store, cache_view, msg) == GH_OK) {
		*sv = msg->cache_v;
		msg->scan_cached = 1;
		return 1;
	}
	msg->cache_put = 1;	/* once scanned, if the verdict is worth it */
	return 0;
}

static void
step_scan(struct gm_milter *m, const struct gm_mcfg *cfg, struct gm_msg *msg,
          struct verdict *v)
{
	struct gscan_verdict sv;

	if (!msg->spooling) {
		sv.kind = GSCAN_ERROR;
		sv.reason = GSCAN_R_NONE;
		snprintf(sv.name, sizeof(sv.name), "no spool file");
	} else if (!cfg->scan_text && gm_msg_plain_text(msg)) {
		/* [milter] scan_text = no: text and nothing else */
		msg->scan = "skipped";
		snprintf(msg->scan_detail, sizeof(msg->scan_detail),
		         "no attachment");
		return;
	} else {
		/* the spool file, for a message too big to keep in memory */
		if (msg->spool.open_err)
			gm_mcond_fail(&m->spool_cond, msg->spool.open_err,
			              cfg->spool_dir);
		else if (msg->spool.fd >= 0)
			gm_mcond_ok(&m->spool_cond);
		if (!scan_cached(m, cfg, msg, &sv)) {
			gm_spool_scan(cfg->scanner, &msg->spool, &sv);
			msg->cache_v = sv;
			msg->cache_put = msg->cache_put && gscan_cacheable(&sv);
		}
	}
	/* the scanner's words are bytes from another process */
	gh_text_escape(sv.name, strnlen(sv.name, sizeof(sv.name)),
	               msg->scan_detail, sizeof(msg->scan_detail), 0, NULL);
	msg->scan = gscan_kind_name(sv.kind);
	if (sv.kind == GSCAN_ERROR)
		gm_mcond_fail(&m->scan_cond, GH_EIO, msg->scan_detail);
	else
		gm_mcond_ok(&m->scan_cond);
	if (sv.kind == GSCAN_CLEAN && msg->spool.seen > msg->spool.written)
		snprintf(msg->scan_detail, sizeof(msg->scan_detail),
		         "first %llu bytes scanned",
		         (unsigned long long)msg->spool.written);
	switch (gm_scan_policy(cfg, &sv)) {
	case GH_SCAN_ACCEPT:
		break;
	case GH_SCAN_REJECT:
		v->action = GH_ACT_REJECT;
		if (sv.kind == GSCAN_INFECTED)
			snprintf(v->reason, sizeof(v->reason),
			         "virus found: %s", msg->scan_detail);
		else
			snprintf(v->reason, sizeof(v->reason), "message not "
			         "scannable (%s): %s",
			         gscan_reason_name(sv.reason), msg->scan_detail);
		break;
	case GH_SCAN_TEMPFAIL:
		v->action = GH_ACT_TEMPFAIL;
		if (sv.kind == GSCAN_UNSCANNABLE)
			snprintf(v->reason, sizeof(v->reason), "message not "
			         "scannable (%s): %s",
			         gscan_reason_name(sv.reason), msg->scan_detail);
		else
			snprintf(v->reason, sizeof(v->reason), "virus scanner "
			         "error: %s", msg->scan_detail);
		break;
	}
}

static void
step_optout(struct gm_milter *m, const struct gm_mcfg *cfg,
            struct gm_msg *msg, struct verdict *v)
{
	gh_err err = gm_optout_check(&m->store, msg);

	if (err) {
		for (size_t i = 0; i < msg->nrcpt; i++)
			msg->rcpts[i].suppressed = 0;
		if (cfg->on_store_error == GH_ONERR_TEMPFAIL) {
			v->action = GH_ACT_TEMPFAIL;
			snprintf(v->reason, sizeof(v->reason), "store "
			         "unavailable: %s", gh_strerror(err));
		}
		return;
	}
	if (gm_msg_remaining(msg) == 0) {
		v->action = GH_ACT_DISCARD;
		snprintf(v->reason, sizeof(v->reason), "every recipient has "
		         "opted out");
	}
}

static void
step_unsubscribe(const struct gm_mcfg *cfg, struct gm_msg *msg,
                 struct verdict *v)
{
	const char *rcpt = NULL;

	/* a token names one recipient: only for exactly one left */
	if (msg->rcpt_total != msg->nrcpt || gm_msg_remaining(msg) != 1)
		return;
	for (size_t i = 0; i < msg->nrcpt; i++)
		if (!msg->rcpts[i].suppressed)
			rcpt = msg->rcpts[i].addr;
	if (rcpt == NULL || gm_unsub_value(cfg, rcpt, msg->bulk.list,
	                                   gh_now_ms() / 1000, v->unsub,
	                                   sizeof(v->unsub)) != GH_OK)
		return;
	v->add_unsub = 1;
	msg->unsub_added = 1;
	/* smfi_addheader appends, so the signer sees them last, too */
	if (msg->dkim) {
		(void)gm_dkim_msg_header(msg->dkim, "List-Unsubscribe",
		                         v->unsub);
		(void)gm_dkim_msg_header(msg->dkim, "List-Unsubscribe-Post",
		                         GH_UNSUB_POST_VALUE);
	}
}

static void
step_sign(struct gm_milter *m, const struct gm_mcfg *cfg, struct gm_msg *msg,
          struct verdict *v)
{
	gh_err err = gm_dkim_msg_finish(msg->dkim);

	if (err == GH_OK) {
		msg->signed_ok = 1;
		gm_mcond_ok(&m->sign_cond);
		return;
	}
	msg->unsigned_why = err == GH_ETOOBIG ? "header fields over the "
	    "bounds" : err == GH_ENOMEM ? "out of memory" : "signing failed";
	gm_mcond_fail(&m->sign_cond, err, msg->unsigned_why);
	if (cfg->on_sign_error == GH_ONERR_TEMPFAIL) {
		v->action = GH_ACT_TEMPFAIL;
		snprintf(v->reason, sizeof(v->reason), "cannot sign: %s",
		         msg->unsigned_why);
	}
}

static uint64_t
step_log(struct gm_milter *m, const struct gm_conn *conn,
         const struct gm_mcfg *cfg, struct gm_msg *msg, struct verdict *v)
{
	struct gm_logtxn lt;
	int64_t now = gh_now_ms();
	gh_err err;

	memset(&lt, 0, sizeof(lt));
	lt.cfg = cfg;
	lt.conn = conn;
	lt.msg = msg;
	lt.action = v->action;
	lt.reason = v->reason;
	lt.apply_limits = msg->outgoing && v->action == GH_ACT_ACCEPT &&
	    gm_mcfg_has_limits(cfg);
	lt.write_record = cfg->mail_log;
	lt.now = now;
	/* nothing to write and nothing to count: no transaction at all */
	if (!lt.write_record && !lt.apply_limits && !msg->cache_put &&
	    v->action != GH_ACT_REJECT)
		return 0;
	lt.rec = gm_maillog_record(conn, msg, now);
	err = lt.rec ? gm_mstore_update(&m->store, gm_maillog_txn, &lt) :
	    GH_ENOMEM;
	json_decref(lt.rec);
	if (err) {
		if (v->action == GH_ACT_ACCEPT &&
		    cfg->on_store_error == GH_ONERR_TEMPFAIL) {
			v->action = GH_ACT_TEMPFAIL;
			snprintf(v->reason, sizeof(v->reason), "store "
			         "unavailable: %s", gh_strerror(err));
		}
		return 0;
	}
	v->action = lt.final_action;
	snprintf(v->reason, sizeof(v->reason), "%s", lt.final_reason);
	return lt.seq;
}

static sfsistat
apply(SMFICTX *ctx, struct gm_msg *msg, struct verdict *v)
{
	char rcpt[GH_MADDR_MAX + 3];

	switch (v->action) {
	case GH_ACT_REJECT:
		reply(ctx, "550", "5.7.1", v->reason);
		return SMFIS_REJECT;
	case GH_ACT_TEMPFAIL:
		reply(ctx, "451", "4.7.1", v->reason);
		return SMFIS_TEMPFAIL;
	case GH_ACT_DISCARD:
		return SMFIS_DISCARD;
	default:
		break;
	}
	for (size_t i = 0; i < msg->nrcpt; i++) {
		if (!msg->rcpts[i].suppressed)
			continue;
		snprintf(rcpt, sizeof(rcpt), "<%s>", msg->rcpts[i].addr);
		if (smfi_delrcpt(ctx, rcpt) != MI_SUCCESS)
			gm_mlog(LOG_WARNING, "%s: could not remove recipient %s",
			        msg->queue_id, rcpt);
	}
	if (v->add_unsub) {
		smfi_addheader(ctx, "List-Unsubscribe", v->unsub);
		smfi_addheader(ctx, "List-Unsubscribe-Post",
		               (char *)(uintptr_t)GH_UNSUB_POST_VALUE);
	}
	/* insert the last first, so that they end up in table order */
	for (size_t i = msg->signed_ok ? msg->nsigs : 0; i > 0; i--)
		if (smfi_insheader(ctx, 0, GH_DKIM_SIG_NAME,
		                   (char *)(uintptr_t)gm_dkim_msg_value(msg->dkim,
		                                                        i - 1)) !=
		    MI_SUCCESS)
			gm_mlog(LOG_WARNING, "%s: could not insert the "
			        "DKIM-Signature", msg->queue_id);
	return SMFIS_CONTINUE;
}

static void
log_line(const struct gm_conn *conn, const struct gm_msg *msg,
         const struct verdict *v, uint64_t seq)
{
	char sigs[600] = "";
	size_t o = 0;

	/* signed only if it goes on signed: not when refused or deferred */
	int sig = msg->signed_ok && v->action == GH_ACT_ACCEPT;

	for (size_t i = 0; sig && i < msg->nsigs; i++) {
		int n = snprintf(sigs + o, sizeof(sigs) - o, "%s%s/%s/%s",
		                 i ? "," : "", msg->sigs[i].d, msg->sigs[i].s,
		                 msg->sigs[i].a);

		if (n < 0 || (size_t)n >= sizeof(sigs) - o)
			break;
		o += (size_t)n;
	}
	gm_mlog(v->action == GH_ACT_ACCEPT ? LOG_INFO : LOG_NOTICE,
	        "%s: %s%s%s client=%s %s sender=<%s> rcpts=%zu size=%llu "
	        "signed=%s%s%s %slog=%llu",
	        msg->queue_id[0] ? msg->queue_id : "NOQUEUE",
	        gm_action_name(v->action), v->reason[0] ? ": " : "",
	        v->reason, conn->addr[0] ? conn->addr : "local",
	        msg->outgoing ? "outgoing" : "inbound", msg->sender,
	        msg->rcpt_total, (unsigned long long)msg->size,
	        sig ? sigs : "no",
	        !sig && msg->unsigned_why ? " unsigned=" : "",
	        !sig && msg->unsigned_why ? msg->unsigned_why : "",
	        msg->scan_cached ? "scan=cached " : "",
	        (unsigned long long)seq);
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct gm_milter *m = gm_get();
	struct gm_conn *conn = smfi_getpriv(ctx);
	struct gm_msg *msg = conn ? conn->msg : NULL;
	const struct gm_mcfg *cfg;
	struct verdict v;
	uint64_t seq;
	sfsistat rc;

	if (msg == NULL)
		return SMFIS_TEMPFAIL;
	cfg = conn->cfg;
	memset(&v, 0, sizeof(v));
	v.action = GH_ACT_ACCEPT;
	note_queue_id(ctx, msg);
	end_of_header(conn, msg);	/* an empty body: no chunk came */

	if (cfg->scanner && !msg->scan)
		step_scan(m, cfg, msg, &v);
	if (v.action == GH_ACT_ACCEPT && gm_bulk_is_bulk(&msg->bulk) &&
	    msg->nrcpt > 0)
		step_optout(m, cfg, msg, &v);
	if (v.action == GH_ACT_ACCEPT && gm_bulk_is_bulk(&msg->bulk) &&
	    cfg->unsubscribe_url && !msg->bulk.list_unsubscribe)
		step_unsubscribe(cfg, msg, &v);
	if (v.action == GH_ACT_ACCEPT && msg->dkim)
		step_sign(m, cfg, msg, &v);
	seq = step_log(m, conn, cfg, msg, &v);
	rc = apply(ctx, msg, &v);
	log_line(conn, msg, &v, seq);
	end_message(m, conn);
	return rc;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct gm_milter *m = gm_get();
	struct gm_conn *conn = smfi_getpriv(ctx);
	struct gm_msg *msg = conn ? conn->msg : NULL;

	if (msg == NULL)
		return SMFIS_CONTINUE;
	/*
	 * A message dropped before DATA (RSET, a recipient check, a client
	 * that gave up) is not worth a record: address probes would flood
	 * the log.  One dropped during DATA is.
	 */
	if (msg->data) {
		struct verdict v;
		uint64_t seq;

		memset(&v, 0, sizeof(v));
		v.action = GH_ACT_ABORTED;
		snprintf(v.reason, sizeof(v.reason), "aborted by the MTA or "
		         "the client");
		note_queue_id(ctx, msg);
		seq = step_log(m, conn, conn->cfg, msg, &v);
		log_line(conn, msg, &v, seq);
	}
	end_message(m, conn);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct gm_milter *m = gm_get();
	struct gm_conn *conn = smfi_getpriv(ctx);

	if (conn == NULL)
		return SMFIS_CONTINUE;
	end_message(m, conn);
	smfi_setpriv(ctx, NULL);
	gm_mcfg_unref(conn->cfg);
	__atomic_sub_fetch(&m->conns, 1, __ATOMIC_RELEASE);
	free(conn);
	return SMFIS_CONTINUE;
}

int
gm_register(void)
{
	struct smfiDesc desc;

	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = "gatehouse";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_DELRCPT;
	desc.xxfi_connect = cb_connect;
	desc.xxfi_envfrom = cb_envfrom;
	desc.xxfi_envrcpt = cb_envrcpt;
	desc.xxfi_data = cb_data;
	desc.xxfi_header = cb_header;
	desc.xxfi_body = cb_body;
	desc.xxfi_eom = cb_eom;
	desc.xxfi_abort = cb_abort;
	desc.xxfi_close = cb_close;
	desc.xxfi_negotiate = cb_negotiate;
	return smfi_register(desc);
}
