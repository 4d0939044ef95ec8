/*
 * nd.h - the dispatcher's own types, shared by its files:
 *
 *   runtime.c     the configuration turned into channels, routes and lists
 *                 (struct nd_rt), rebuilt on SIGHUP and swapped
 *   resolve.c     who gets an event on which channel (targets)
 *   deliveries.c  the deliveries database: one record per target
 *   digest.c      items held for digests, and the digests themselves
 *   dispatch.c    the dispatcher's loop: leasing, lease upkeep, stopping
 *   job.c         a leased event in memory and its targets
 *   start.c       whether a delivery may start now (the gates)
 *   send.c        rendering, building and launching a request
 *   outcome.c     what a finished request comes to
 *   settle.c      recording outcomes and settling events with the queue
 *   metrics.c     Prometheus text on a loopback port
 *   retention.c   the retention purge of the store, a step per turn, and
 *                 its size against map_max (store.nearly_full)
 *   main.c        options, signals, sd_notify, the event loop
 *
 * Everything runs on one thread; nothing here is locked.
 */
#ifndef GH_NOTIFYD_ND_H
#define GH_NOTIFYD_ND_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gatehouse/conf.h"
#include "gatehouse/queue.h"
#include "gatehouse/retention.h"
#include "gatehouse/store.h"
#include "channel.h"
#include "clock.h"
#include "log.h"
#include "core/quiet.h"
#include "core/template.h"
#include "core/tzcache.h"

/* ---- configuration at run time ---- */

/* A list value of the configuration split into words. */
struct nd_words {
	char **v;
	size_t n;
};

struct nd_chans {
	struct nd_chan **v;
	size_t n;
};

enum nd_user_match { ND_UM_ANY = 0, ND_UM_SYSTEM, ND_UM_UNKNOWN };

/* [notifyd] login_fallback: login alerts of users without contacts */
enum nd_fallback { ND_FB_NONE = 0, ND_FB_LOCAL, ND_FB_ADMIN };

struct nd_addr {
	struct nd_chan *ch;
	char *to;
};

struct nd_route {
	char name[ND_NAME_MAX + 1];
	struct nd_words types, categories, sources, users;
	enum nd_user_match match;
	struct nd_chans chans;
	struct nd_addr *addrs;
	size_t naddrs;
};

struct nd_rt {
	int refs;                     /* the daemon's, plus one per job */
	struct gh_conf *conf;
	struct nd_chan *chans;
	size_t nchans;
	struct nd_route *routes;
	size_t nroutes;
	struct nd_chans defaults, security, digest;
	int security_set, digest_set;
	struct nd_words opt_in;
	enum nd_fallback fallback;
	struct nd_chan *fallback_ch;  /* login_fallback_channel; NULL: none
	                                 or login_fallback = none */
	struct nd_chan *admin_ch;     /* the same channel, for "admins" that
	                                 no route takes, whatever
	                                 login_fallback is; NULL: none */
	struct nd_words admins;       /* admin_addresses */
	int digest_at;                /* minutes after local midnight */
	char deflang[GH_LANG_MAX + 1]; /* default_language, canonical */
	struct nd_tmpl_set *tmpl;
	struct nd_tzcache *tz;
	int batch, max_events, concurrency;
	int64_t poll_ms, shutdown_ms, vis_ms;
	int64_t qstats_ms;            /* metrics_queue_interval */
	struct gh_retention ret;      /* [retention] */
	int64_t ret_interval;         /* [retention] interval */
};

struct nd;
struct commit_arg;

/* nd_rt_load - build a runtime from conf (taken over on success). */
gh_err nd_rt_load(struct nd *d, struct gh_conf *conf, struct nd_rt **out,
                  char *detail, size_t dlen);
void nd_rt_ref(struct nd_rt *rt);
void nd_rt_unref(struct nd_rt *rt);
struct nd_chan *nd_rt_chan(const struct nd_rt *rt, const char *name);
/* nd_words_has - 1 if w holds s (an empty list holds nothing). */
int nd_words_has(const struct nd_words *w, const char *s);

/* ---- deliveries ---- */

/* Target states; the names are what the deliveries database records. */
enum nd_tstate {
	ND_T_NEW = 0,      /* not tried yet (no record) */
	ND_T_RETRY,        /* failed; tried again at next_at */
	ND_T_DEFERRED,     /* held back until next_at: quiet hours, breaker,
	                      rate limit */
	ND_T_DELIVERED,
	ND_T_DEAD,         /* failed for good: permanent answer or too many
	                      attempts */
	ND_T_SKIPPED,      /* not sent by choice: preferences, no address */
	ND_T_EXPIRED,      /* the event expired first */
	ND_T_HELD,         /* kept for the user's digest */
	/* in memory only */
	ND_T_WAIT,         /* waiting for a free slot or a rate token */
	ND_T_INFLIGHT,
	ND_T_LOCAL         /* to be delivered in the recording transaction */
};

const char *nd_tstate_name(enum nd_tstate s);
enum nd_tstate nd_tstate_parse(const char *s);
int nd_tstate_final(enum nd_tstate s);

struct nd_user {
	char *id;
	json_t *contacts;             /* or NULL */
	json_t *prefs;                /* or NULL */
	int quiet_set;
	struct nd_quiet quiet;
	const char *tz;               /* into contacts, or NULL (UTC) */
	const char *name;             /* display name, into contacts */
	const char *lang;             /* language tag, into contacts, or NULL */
};

struct nd_target {
	struct nd_chan *ch;           /* NULL for the digest hold */
	char chname[ND_NAME_MAX + 2]; /* as recorded ("@digest" for holds) */
	char *recipient;
	struct nd_user *user;         /* whose delivery, or NULL */
	json_t *contact;              /* push subscription (a reference) */
	enum nd_tstate st;
	int attempts;
	int64_t next_at;
	int64_t wait_until;           /* ND_T_WAIT: when to look again */
	int64_t wait_since;           /* ND_T_WAIT for a slot: since (tick) */
	int64_t delivered_at;
	long status;
	char error[256];              /* last error */
	char reason[160];             /* why skipped, deferred, held */
	unsigned dirty : 1;           /* record to write */
	unsigned failed_now : 1;      /* an attempt failed in this round */
	unsigned gone : 1;            /* webpush subscription to remove */
	unsigned probe : 1;           /* holds the breaker's probe */
	enum nd_tstate after;         /* ND_T_LOCAL: the result, once recorded */
	struct nd_req *req;
};

struct nd_job {
	struct gh_lease lease;        /* lease.event is the event */
	uint64_t id;
	struct nd_rt *rt;
	json_t *ev;                   /* = lease.event, borrowed */
	const char *type, *category, *source, *user;
	int priority;
	int64_t expires_at;           /* from the queue state; 0: never */
	int64_t lease_until;
	json_t *records;              /* existing records: "chan\x1frcpt" */
	struct nd_user **users;       /* each allocated: targets point at them */
	size_t nusers, ucap;
	struct nd_target *t;
	size_t nt, tcap;
	json_t *vars;                 /* template variables (nd_job_vars) */
	size_t inflight;
	int digest;                   /* a digest event */
	int64_t digest_slot;
	uint64_t *digest_ids;         /* inbox items it gathered */
	size_t ndigest;
	int ready;                    /* nothing more to do this round */
	int batched;                  /* in the batch being recorded */
	int lost;                     /* the lease went to someone else */
	struct nd_job *next;
};

/* ---- the daemon ---- */

struct nd_conn {                  /* a metrics client */
	int fd;
	char in[2048];
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	int64_t since;
};

#define ND_METRICS_CONNS 8

struct nd {
	struct nd_log log;
	int log_stderr;               /* --stderr */
	struct nd_clock clock;
	const char *conf_path;
	struct gh_store *st;
	struct nd_rt *rt;
	struct nd_cstate *cstates;
	CURLM *multi;
	struct commit_arg *commit;    /* settle.c's scratch for recording */
	struct nd_req **pool;         /* finished requests, with their easy
	                                 handles, kept for the next ones */
	size_t npool, poolcap;
	struct nd_job *jobs;          /* leased and not yet settled */
	size_t njobs;
	int inflight;
	int64_t now;                  /* the clock of decisions (clock.h) */
	int64_t tick;                 /* monotonic: the daemon's own timers */
	int64_t next_lease;
	int64_t first_ready_at;       /* oldest finished job not recorded */
	size_t nready;                /* jobs ready to be recorded */
	int rescan;                   /* something changed: look at the jobs */
	int64_t next_wait;            /* earliest timed wait (rate limit) */
	int64_t next_extend;          /* when to look at lease deadlines */
	int64_t commit_retry_at;      /* after a failed commit */
	int64_t due_wake;             /* the earliest due time (clock of
	                                 decisions) of an event this daemon
	                                 gave back to the queue: lease then,
	                                 not at the next poll; 0: none */
	int stopping;
	int64_t stop_deadline;
	int sigfd;
	int watch_fd;                 /* inotify on the store's data file */
	int listen_fd;
	char listen_addr[128];
	struct nd_conn conns[ND_METRICS_CONNS];
	struct gh_queue_stats qstats; /* the last count of the queue, which
	                                 scrapes reuse (metrics.c) */
	int qstats_tried, qstats_ok;  /* counted at all; and that count held */
	int64_t qstats_at;            /* tick of the last count */
	int64_t qstats_took;          /* how long it took (ms) */
	uint64_t leased, acked, deferred_events, retried_events, dead_events,
	    expired_events, released, lease_lost, store_errors;
	int64_t started_at;
	/* retention.c */
	struct gh_purge *purge;       /* the pass under way, or NULL */
	int64_t purge_next;           /* next pass (clock of decisions) */
	int64_t purge_step_at;        /* next step of this pass (tick) */
	int64_t store_check_at;       /* next size check (tick) */
	int nearly_full;              /* the store's mark: 1 raised, 0 not,
	                                 -1 not known yet */
	uint64_t purge_runs;          /* passes finished */
	uint64_t purged[GH_DB_COUNT_]; /* records deleted, by database */
	/* [nats] servers set: the core's one connection to the cluster
	 * (cluster/ghc.h), used by both of these */
	struct ghc *nats;
	struct nd_natsin *natsin;     /* natsin.h */
	struct nd_kvsync *kvsync;     /* kvsync.h */
};

/* nd_cstate_get - the live state of channel name (made on first use). */
struct nd_cstate *nd_cstate_get(struct nd *d, const char *name);

/* resolve.c: fill job's users and targets, in a read transaction. */
gh_err nd_resolve_txn(struct nd *d, struct gh_txn *txn, struct nd_job *job);
/* resolve.c: add a target unless (channel, recipient) is there already. */
struct nd_target *nd_target_add(struct nd_job *job, struct nd_chan *ch,
                                const char *chname, const char *recipient,
                                struct nd_user *u);

/* deliveries.c */
/* keys and records: gatehouse/deliveries.h */
/* the existing records of event id, as an object "chan\x1frcpt" -> rec */
gh_err nd_records_load_txn(struct gh_txn *txn, uint64_t id, json_t **out);
json_t *nd_record_find(const json_t *recs, const char *chname,
                             const char *rcpt);
/* The idempotency key a delivery is sent and recorded with (send.c). */
gh_err nd_target_idem_key(const struct nd *d, const struct nd_job *job,
                          const struct nd_target *t, char *out, size_t cap);
gh_err nd_record_put_txn(const struct nd *d, struct gh_txn *txn,
                         const struct nd_job *job,
                         const struct nd_target *t, int64_t now);

/* digest.c */
gh_err nd_digest_hold_txn(struct nd *d, struct gh_txn *txn,
                          struct nd_job *job, struct nd_target *t);
gh_err nd_digest_gather_txn(struct nd *d, struct gh_txn *txn,
                            struct nd_job *job, struct nd_user *u);
gh_err nd_digest_mark_txn(struct nd *d, struct gh_txn *txn,
                          const struct nd_job *job);
/* the user's digest schedule (prefs.digest or the default) */
void nd_digest_sched(const struct nd_rt *rt, const struct nd_user *u,
                     struct nd_digest_spec *s);

/* job.c */
struct nd_job *nd_job_new(struct nd *d, struct gh_lease *l);
void nd_job_free(struct nd *d, struct nd_job *job);
/* nd_job_vars - the event's template variables, made on first use (an
 * event that only goes to webhooks never needs them); NULL if no memory */
json_t *nd_job_vars(struct nd_job *job);
/* nd_target_set - a target's new state, to be recorded; reason if any */
void nd_target_set(struct nd_target *t, enum nd_tstate st, int64_t next_at,
                   const char *reason);
/* nd_job_expire - the event passed its expires_at: every delivery of it
 * not finished and not in flight ends expired (counted, logged), never to
 * be sent; why goes in the log and the records' last_error when they
 * have none of their own.  Returns how many did. */
size_t nd_job_expire(struct nd *d, struct nd_job *job, const char *why);
/* nd_tlog - a log line about one delivery */
void nd_tlog(struct nd *d, enum nd_level lv, const struct nd_job *job,
             const struct nd_target *t, const char *what);
/* nd_queue_err - count and log a failed queue update of job (a lost
 * lease or a store error); nothing for GH_OK */
void nd_queue_err(struct nd *d, const struct nd_job *job, gh_err e);

/* start.c: start what may start, mark jobs with nothing left as ready */
void nd_start_all(struct nd *d);

/* send.c */
gh_err nd_req_pool_init(struct nd *d);
void nd_req_pool_fini(struct nd *d);
/* a request with its easy handle, from the pool or new; and back */
struct nd_req *nd_req_get(struct nd *d);
void nd_req_put(struct nd *d, struct nd_req *r);
void nd_msg_fill(struct nd *d, const struct nd_job *job,
                 const struct nd_target *t, const json_t *vars,
                 const char *idem, struct nd_msg *m);
/* nd_launch - build and launch the request of target i, which passed
 * the gates; a delivery that cannot be built is settled here */
void nd_launch(struct nd *d, struct nd_job *job, size_t i);

/* outcome.c: after curl_multi_poll, run transfers and collect finished
 * ones */
void nd_dispatch_io(struct nd *d);

/* settle.c */
#define ND_COMMIT_BATCH 128     /* events recorded per transaction, at most */
/* record and settle up to ND_COMMIT_BATCH ready jobs; 1 if any were */
int nd_commit_ready(struct nd *d);

/* dispatch.c */
gh_err nd_dispatch_init(struct nd *d);
void nd_dispatch_fini(struct nd *d);
/* nd_due_at - an event given back to the queue comes due at at: lease
 * then (an event deferred to its expires_at is settled at that time) */
void nd_due_at(struct nd *d, int64_t at);
/* one turn: lease, start, record, settle; returns the poll timeout (ms) */
int nd_dispatch_turn(struct nd *d);
/* the inotify descriptor that wakes the dispatcher when any process
 * commits to the store (-1 when unavailable), and its handler */
int nd_dispatch_watch_fd(const struct nd *d);
void nd_dispatch_wake(struct nd *d);
/* 1 when stopping and nothing is left */
int nd_dispatch_finished(const struct nd *d);
void nd_dispatch_stop(struct nd *d);

/* retention.c */
void nd_retention_init(struct nd *d);
void nd_retention_fini(struct nd *d);
/* a step when one is due; returns how long the loop may sleep (ms) */
int nd_retention_turn(struct nd *d);
/* the store's size against map_max, raising or re-arming its mark */
void nd_store_check(struct nd *d);

/* metrics.c */
gh_err nd_metrics_listen(struct nd *d, const char *addr, char *detail,
                         size_t dlen);
void nd_metrics_close(struct nd *d);
/* extra descriptors for curl_multi_poll; returns how many were filled */
unsigned nd_metrics_fds(struct nd *d, struct curl_waitfd *fds, unsigned max);
void nd_metrics_io(struct nd *d, const struct curl_waitfd *fds, unsigned n);
/* the whole /metrics text (malloc'd) */
char *nd_metrics_text(struct nd *d, size_t *len);

#endif /* GH_NOTIFYD_ND_H */
