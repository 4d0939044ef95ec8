/*
 * cluster/ghc.h - libghcluster: how the parts of Gatehouse reach the NATS
 * JetStream cluster of the multi-host mode (docs/cluster.md).
 *
 * One struct ghc is one NATS connection with its JetStream context, opened
 * for one trust domain: the credentials file named by [nats] credentials
 * or nkey_seed has "%d" replaced by the domain's name (mail, web, login,
 * core), so each domain's bridge reads only its own secret, and the NATS
 * server's per-user permissions decide which subjects it may publish to.
 * That is what makes a subject's domain and host tokens trustworthy to the
 * core (the sample server configuration in docs/cluster.md).  A process
 * opens one and hands it to each of its parts (a bridge's forwarder and
 * suppression-list watcher, notifyd's intake and shared-data threads),
 * which close nothing: one connection per process and domain.
 *
 * Subjects (PREFIX is [nats] subject_prefix, default "gatehouse"):
 *   PREFIX.events.DOMAIN.HOST   an outbox event, published by HOST's
 *                               DOMAIN bridge; stream [nats] stream
 *                               (work queue, file storage, 2 min
 *                               duplicate window on Nats-Msg-Id)
 *   PREFIX.dead.DOMAIN.HOST     events the core refused or gave up on;
 *                               stream STREAM_DEAD (kept 30 days)
 * Key-value buckets: PREFIX_hosts, key HOST.DOMAIN: each bridge's
 * heartbeat (JSON: backlog, oldest, published, last_publish, at).
 * Replies to a domain's requests (JetStream acks, API answers, fetched
 * messages) come to GHC_INBOX.DOMAIN.>: a server lets each domain's user
 * subscribe to its own only.
 *
 * With [nats] servers empty nothing here is called: ghc_enabled() says so,
 * and every part behaves exactly as on a single host.
 *
 * Threads: a struct ghc may be used by any number of threads at once (the
 * NATS client's connection and JetStream context are thread-safe); open
 * and close it from one.  The client runs threads of its own (reading,
 * reconnecting, timers), so: a process that forks must not use a ghc in
 * the child, nor open one before a fork it then crosses -- open it after
 * the last fork (daemonising, dropping to a store's owner) and in the
 * process that uses it.  Errors are returned as gh_err with a sentence in
 * errbuf; nothing here logs (the callers do, like libgatehouse's).
 */
#ifndef GATEHOUSE_CLUSTER_GHC_H
#define GATEHOUSE_CLUSTER_GHC_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "gatehouse/bridge.h"
#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/err.h"

#define GHC_TOKEN_MAX 63          /* host, prefix, stream: one subject token */
#define GHC_SUBJECT_MAX 256
#define GHC_SECRET_MAX 16384      /* a .creds file, at most */
#define GHC_DUP_WINDOW_MS 120000  /* the stream's Nats-Msg-Id window */
#define GHC_DEAD_MAX_AGE_MS (30LL * 24 * 3600 * 1000)
/* the events stream's max_msg_size: a bridge message and its headers */
#define GHC_EVENT_MSG_MAX (GH_BRIDGE_MSG_MAX + 1024u)
/* the heartbeat bucket PREFIX_hosts: value size, keys, age */
#define GHC_HOSTS_MSG_MAX 1024
#define GHC_HOSTS_MAX_KEYS 4096
#define GHC_HOSTS_MAX_AGE_MS (3600LL * 1000)
#define GHC_CONSUMER "notifyd"    /* the delivery fleet's durable consumer */
#define GHC_INBOX "_GH_INBOX"     /* replies: _GH_INBOX.DOMAIN.... */

/* [nats], parsed and checked. */
struct ghc_opts {
	char host[GHC_TOKEN_MAX + 1];
	char prefix[GHC_TOKEN_MAX + 1];
	char stream[GHC_TOKEN_MAX + 1];
	int replicas;
	int64_t ack_wait_ms;
	int max_deliver;
	int64_t connect_timeout_ms;
	int64_t stream_max_bytes;   /* each of the stream and STREAM_DEAD */
};

struct ghc;

/* ghc_enabled - 1 if [nats] servers is set: the multi-host mode. */
int ghc_enabled(const struct gh_conf *conf);

/* ghc_token_ok - s is 1..GHC_TOKEN_MAX of [A-Za-z0-9_-]: usable as one
 * subject token and in a bucket or stream name. */
int ghc_token_ok(const char *s);

/*
 * ghc_opts_load - [nats] host (default: the hostname up to its first dot),
 * subject_prefix, stream, replicas, ack_wait, max_deliver and
 * connect_timeout into *o.  GH_ECONFIG with the reason in errbuf when host,
 * prefix or stream is not a valid token.
 */
gh_err ghc_opts_load(const struct gh_conf *conf, struct ghc_opts *o,
                     char *errbuf, size_t errlen);

/*
 * ghc_expand - path with "%d" replaced by the domain's name and "%%" by
 * "%", into out.  GH_ETOOBIG if it does not fit, GH_EINVAL for any other
 * "%" sequence.
 */
gh_err ghc_expand(const char *path, enum gh_domain dom, char *out,
                  size_t cap);

/*
 * ghc_read_secret - the contents of the secret file at path (NUL ended,
 * at most GHC_SECRET_MAX bytes) into buf.  Opened with O_NOFOLLOW and
 * checked on the descriptor: a regular file, owned by this process's
 * uid or root, neither readable nor writable by group or others.  The
 * reason for a refusal is in errbuf (GH_EACCES, GH_ENOTFOUND, GH_EINVAL,
 * GH_ETOOBIG, GH_EIO).  The caller wipes buf when done.
 */
gh_err ghc_read_secret(const char *path, char *buf, size_t cap,
                       char *errbuf, size_t errlen);

/*
 * ghc_nkey_public - the public key (U..., 56 characters) of a user NKey
 * seed (SU..., 58 characters) into pub (at least 57 bytes).  GH_EINVAL if
 * seed is not a user seed.
 */
gh_err ghc_nkey_public(const char *seed, char *pub, size_t cap);

/*
 * ghc_nkey_seed - the user NKey seed (SU..., 58 characters) of the raw
 * 32-byte Ed25519 seed raw into seed (at least 59 bytes): base32 without
 * padding of the two prefix bytes, raw and a CRC-16/XMODEM, little-endian
 * (what nk, nsc and nats-server use).  GH_EINVAL if cap is too small.
 */
gh_err ghc_nkey_seed(const unsigned char raw[32], char *seed, size_t cap);

/*
 * ghc_nkey_make - a new user NKey from OpenSSL's Ed25519 key generator:
 * its seed into seed (at least 59 bytes), its public key into pub (at
 * least 57).  GH_EIO if OpenSSL fails, GH_EINVAL if a buffer is too
 * small.  The caller wipes seed when done.
 */
gh_err ghc_nkey_make(char *seed, size_t scap, char *pub, size_t pcap);

/*
 * ghc_open - connect to [nats] servers for domain dom: its credentials
 * (credentials or nkey_seed, %d expanded), TLS if tls_ca/tls_cert are set
 * or a URL is tls://, reconnecting for ever (1 s apart), and a JetStream
 * context.  The servers need not be reachable now: the client keeps
 * trying, and publishes fail until it is connected (ghc_connected).
 * GH_ECONFIG (no servers, bad options), GH_EACCES/GH_ENOTFOUND (the
 * secret file), GH_EIO (the client refused); the reason in errbuf.
 */
gh_err ghc_open(const struct gh_conf *conf, enum gh_domain dom,
                struct ghc **out, char *errbuf, size_t errlen);

/*
 * ghc_check - what ghc_open would refuse in [nats], without connecting or
 * opening a secret (`gatehouse config check`): host, subject_prefix,
 * stream, the servers' URLs, credentials and nkey_seed both set, and for
 * each domain d with bit (1 << d) in domains its secret file: there, a
 * regular file (not a link), nothing for group or others.  fn gets each
 * problem as a sentence.  Returns how many; 0 also in single-host mode.
 */
typedef void (*ghc_problem_fn)(void *arg, const char *msg);
int ghc_check(const struct gh_conf *conf, unsigned domains,
              ghc_problem_fn fn, void *arg);

/* ghc_close - drain nothing, close, free.  NULL is ignored. */
void ghc_close(struct ghc *c);

const struct ghc_opts *ghc_opts(const struct ghc *c);
natsConnection *ghc_conn(struct ghc *c);
jsCtx *ghc_js(struct ghc *c);

/* ghc_connected - 1 while the connection is up. */
int ghc_connected(struct ghc *c);

/* ghc_last_error - what the servers last said went wrong on this
 * connection ("Not Permitted: Permissions Violation for Publish to ...",
 * an authorization failure), or "": such errors come asynchronously, not
 * as the answer to the call that caused them. */
void ghc_last_error(struct ghc *c, char *buf, size_t cap);

/* ghc_error_about - the latest of those errors that names about (a
 * subject, as the server quotes it), or the latest of all if none does:
 * on a connection several parts share, each one's own refusal, not
 * another's. */
void ghc_error_about(struct ghc *c, const char *about, char *buf,
                     size_t cap);

/* ghc_url - the URL connected to now, or "" (buf of cap bytes). */
void ghc_url(struct ghc *c, char *buf, size_t cap);

/*
 * ghc_subject - "PREFIX.KIND.DOMAIN.HOST" into buf (KIND "events" or
 * "dead"); GH_EINVAL if domain or host is not a token, GH_ETOOBIG if it
 * does not fit.
 */
gh_err ghc_subject(const struct ghc_opts *o, const char *kind,
                   const char *domain, const char *host, char *buf,
                   size_t cap);

/* ghc_bucket - "PREFIX_NAME" (a KV bucket's name) into buf. */
gh_err ghc_bucket(const struct ghc_opts *o, const char *name, char *buf,
                  size_t cap);

/*
 * ghc_ensure_stream - create, or update to this configuration, the events
 * stream (subjects PREFIX.events.>, work-queue retention, file storage,
 * [nats] replicas, a GHC_DUP_WINDOW_MS duplicate window, messages of at
 * most GHC_EVENT_MSG_MAX, [nats] stream_max_bytes and then new ones
 * refused), the dead-letter stream STREAM_DEAD (PREFIX.dead.>, kept
 * GHC_DEAD_MAX_AGE_MS, stream_max_bytes and then the oldest dropped) and
 * the PREFIX_hosts bucket (no rollups, GHC_HOSTS_* limits).  Needs the core's permissions; notifyd calls it at
 * start.
 */
gh_err ghc_ensure_stream(struct ghc *c, char *errbuf, size_t errlen);

/*
 * ghc_kv - bind *out to the bucket PREFIX_NAME, creating it (history
 * entries per key, [nats] replicas, file storage) if create is set and
 * it does not exist.  kvStore_Destroy when done.
 */
gh_err ghc_kv(struct ghc *c, const char *name, int create, int history,
              kvStore **out, char *errbuf, size_t errlen);

/* A bridge's heartbeat in PREFIX_hosts (key HOST.DOMAIN). */
struct ghc_host {
	char host[GHC_TOKEN_MAX + 1];     /* from the key */
	char domain[16];                  /* from the key: a producer's */
	long long backlog, oldest_ms, published, last_publish;
	long long at;                     /* wall clock ms of the heartbeat */
	uint64_t revision;
};

/*
 * ghc_hosts_read - the heartbeats in PREFIX_hosts (hosts.c): at most max
 * into out, *n of them, for at most budget_ms (each key costs a request;
 * 0: no limit).  Whose a heartbeat is comes from its key, HOST.DOMAIN
 * (the servers let a domain write only its own keys), never from its
 * value; a key that names no host and producer domain is skipped.  GH_OK
 * with *n 0 for an empty bucket; the bucket missing or the cluster not
 * answering as gh_err with the reason in errbuf.
 */
gh_err ghc_hosts_read(struct ghc *c, struct ghc_host *out, size_t max,
                      int64_t budget_ms, size_t *n, char *errbuf,
                      size_t errlen);

/*
 * ghc_status - a natsStatus (and the JetStream error code, 0 if none) as
 * gh_err, with the client's words in errbuf after what (may be NULL).
 */
gh_err ghc_status(natsStatus s, jsErrCode jerr, const char *what,
                  char *errbuf, size_t errlen);

#endif
