/*
 * channel.h - the one interface every channel kind implements
 *
 * A channel KIND (webhook, smtp, slack, ...) is a file under channels/
 * exporting one const struct nd_kind.  A channel INSTANCE is a
 * [channel.NAME] section of gatehouse.conf with "type = KIND"; notifyd
 * makes a struct nd_chan for each and calls the kind's functions:
 *
 *   init   read the instance's keys from its section, check them, keep what
 *          it needs in ch->priv.  A bad or missing key fails the start (or
 *          the reload) with a message naming the section and key.
 *          A setting that is allowed but unsafe is told in ch->warning,
 *          which notifyd logs.
 *   build  turn one delivery (struct nd_msg: the event, its rendered
 *          subject and bodies, the recipient, the idempotency key) into
 *          one request: fill r (URL, headers, body, curl options) through
 *          the helpers of http.h.  An error here is permanent for that
 *          delivery (an address the receiver can never accept).
 *   done   look at the finished request (r->rc, r->status, r->resp,
 *          r->retry_after_ms) and say ok, retry or permanent, with a short
 *          reason in err.
 *   local  for kinds that deliver without the network (the inbox): act in
 *          the store transaction that records the delivery, so the two
 *          happen together or not at all.
 *   fini   free ch->priv.
 *
 * Kinds never touch the queue, the deliveries database, breakers or rate
 * limits: the dispatcher does that the same way for all of them.  Every
 * call runs on the event loop's one thread and must not block.
 */
#ifndef GH_NOTIFYD_CHANNEL_H
#define GH_NOTIFYD_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gatehouse/conf.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"
#include "core/backoff.h"
#include "core/breaker.h"
#include "core/ratelimit.h"

#define ND_NAME_MAX 64     /* channel and route names */

/* Which contact of a user is the recipient on a kind. */
enum nd_contact {
	ND_CONTACT_CHAT = 0,  /* users.chat[instance or kind], else the user id */
	ND_CONTACT_EMAIL,     /* users.email */
	ND_CONTACT_PHONE,     /* users.phone */
	ND_CONTACT_PUSH,      /* each of users.push[] */
	ND_CONTACT_USER       /* the user id itself (inbox) */
};

/* Kind flags. */
#define ND_KIND_QUIET 0x1u  /* held back during the user's quiet hours */
#define ND_KIND_LOCAL 0x2u  /* delivered by local() in the store, no network */
#define ND_KIND_HTML  0x4u  /* wants an HTML body besides the text */
#define ND_KIND_RAW   0x8u  /* sends the event as data: nothing rendered */

/* One delivery as a kind sees it (everything borrowed). */
struct nd_msg {
	const json_t *ev;        /* the event record (id, type, title, ...) */
	uint64_t event_id;
	const char *channel;     /* instance name */
	const char *recipient;   /* address, phone, topic, user id or "*" */
	const json_t *contact;   /* the push subscription, or NULL */
	const char *user;        /* whose delivery it is, or NULL */
	const char *user_name;   /* the user's display name, or NULL */
	const char *idem_key;    /* <event id>:<channel>:<recipient> */
	const char *subject;     /* rendered, one line */
	const char *text;        /* rendered plain text */
	const char *html;        /* rendered HTML, or NULL */
	int64_t now_ms;
};

/* Counters and live state of a channel name, kept across reloads. */
struct nd_cstate {
	char name[ND_NAME_MAX + 1];
	struct nd_breaker breaker;
	struct nd_tbucket bucket;
	int limited;             /* bucket in use */
	int inflight;            /* requests out now */
	uint64_t delivered, failed, retried, dead, skipped, expired, held;
	uint64_t deferred_quiet, deferred_breaker, deferred_rate;
	struct nd_cstate *next;
};

struct nd_kind;

/* One channel instance. */
struct nd_chan {
	char name[ND_NAME_MAX + 1];
	const struct nd_kind *kind;
	void *priv;              /* the kind's own (nd_priv_new) */
	size_t priv_len;
	/* the keys every kind has */
	int64_t timeout_ms, connect_timeout_ms;
	int max_attempts, concurrency;
	struct nd_backoff backoff;
	int tls_verify;
	const char *ca_file;     /* points into the configuration */
	char warning[160];       /* set by init: logged when (re)loaded */
	struct nd_cstate *cs;    /* shared with the same name after reloads */
};

/* One request in flight (a libcurl easy handle and what it needs). */
struct nd_req {
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *rcpts;   /* smtp */
	char *url;
	char *body;                 /* request body or mail, owned */
	size_t blen, sent;          /* sent: upload position (smtp) */
	/* results, filled when the transfer ends */
	CURLcode rc;
	long status;                /* HTTP status or last SMTP reply code */
	int64_t retry_after_ms;     /* -1: none */
	char resp[512];             /* start of the response body */
	size_t rlen;
	char curl_err[CURL_ERROR_SIZE];
	int gone;                   /* webpush: subscription is gone */
	char refused[128];          /* why nd_http_guard refused an address */
	/* the dispatcher's */
	void *owner;
	size_t target;
	int64_t now_ms;             /* when built, for Retry-After dates */
};

struct nd_kind {
	const char *name;
	unsigned flags;             /* ND_KIND_* */
	enum nd_contact contact;
	gh_err (*init)(struct nd_chan *ch, const struct gh_conf *conf,
	               const char *section, char *detail, size_t dlen);
	gh_err (*build)(struct nd_chan *ch, const struct nd_msg *m,
	                struct nd_req *r, char *err, size_t elen);
	enum nd_outcome (*done)(struct nd_chan *ch, struct nd_req *r,
	                        char *err, size_t elen);
	gh_err (*local)(struct nd_chan *ch, struct gh_txn *txn,
	                const struct nd_msg *m, char *err, size_t elen);
	void (*fini)(struct nd_chan *ch);
};

extern const struct nd_kind nd_kind_webhook, nd_kind_smtp, nd_kind_inbox,
    nd_kind_slack, nd_kind_mattermost, nd_kind_discord, nd_kind_teams,
    nd_kind_sms, nd_kind_ntfy, nd_kind_gotify, nd_kind_webpush;

/*
 * nd_push_recipient - the recipient name of a push subscription in
 * idempotency keys and delivery records: "push:" and the first 16 hex
 * digits of SHA-256(endpoint) (endpoints are long and say nothing).
 */
#define ND_PUSH_RCPT_LEN 22
void nd_push_recipient(const char *endpoint, char out[ND_PUSH_RCPT_LEN]);

/* nd_kind_find - the kind called name, or NULL. */
const struct nd_kind *nd_kind_find(const char *name);

/*
 * nd_priv_new - zeroed private data of len bytes for ch (ch->priv); NULL
 * when out of memory.  nd_priv_free wipes it (it often holds secrets) and
 * frees it; it is the fini of every kind that needs nothing more.
 */
void *nd_priv_new(struct nd_chan *ch, size_t len);
void nd_priv_free(struct nd_chan *ch);

/*
 * nd_conf_secret - a secret given either inline (key) or in a file
 * (key_file, first line, trailing white space dropped) into out.  *found
 * is 0 when neither is set.  GH_ECONFIG with detail when the file cannot
 * be read or both are set.
 */
gh_err nd_conf_secret(const struct gh_conf *conf, const char *section,
                      const char *key, const char *file_key, char *out,
                      size_t cap, int *found, char *detail, size_t dlen);

#endif /* GH_NOTIFYD_CHANNEL_H */
