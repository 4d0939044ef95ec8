/*
 * mcfg.h - the milter's runtime configuration: gatehouse.conf parsed into
 * what the callbacks use (signing table with loaded keys, internal
 * networks, limits, bulk-mail policy, the token key, the virus scanner),
 * reference counted so that a reload never pulls it from under a
 * connection.
 *
 * RELOAD
 *   A reload (SIGHUP) builds a complete new struct gm_mcfg off the request
 *   path, then swaps the holder's pointer under a mutex.  Each connection
 *   takes a reference at connect and drops it at close, so a connection
 *   keeps the configuration it started with; the old configuration (keys,
 *   scanner engine and all) is freed when its last connection closes.
 *   If the new configuration fails to load, the old one stays.
 *   Settings fixed at start (socket, user, pid file, store path) are read
 *   from the first configuration only; a reload that changes them says so
 *   in the log.
 */
#ifndef GH_MILTER_MCFG_H
#define GH_MILTER_MCFG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gatehouse/conf.h"
#include "gatehouse/err.h"
#include "gatehouse/token.h"
#include "dkim/canon.h"
#include "netlist.h"
#include "signtable.h"

struct gscan_engine;

typedef enum gm_onerr {
	GH_ONERR_TEMPFAIL = 0,
	GH_ONERR_ACCEPT = 1,
	GH_ONERR_REJECT = 2		/* on_scan_limit only */
} gm_onerr;

/* [ratelimit]; a limit of 0 is no limit. */
struct gm_limits {
	int64_t window_ms;
	int reject;		/* action = reject (else tempfail) */
	long long user_msgs, user_rcpts;
	long long sender_msgs, sender_rcpts;
	long long domain_msgs, domain_rcpts;
};

struct gm_mcfg {
	int refs;			/* atomic; see gm_mcfg_ref/unref */
	uint64_t generation;		/* 1 for the first, +1 per reload */
	struct gh_conf *conf;

	/* which mail is outgoing */
	struct gm_netlist internal;
	int sign_authenticated;

	/* signing */
	struct gm_signtable *keys;
	gm_canon hdr_canon, body_canon;
	const char **headers;		/* NULL: the DKIM core's defaults */
	size_t nheaders;
	const char **oversign;		/* NULL: the defaults */
	size_t noversign;
	int64_t expire_s;		/* 0: no x= */
	int subdomains;

	int mail_log;			/* write mail log records */

	/* failure policy */
	gm_onerr on_store_error, on_sign_error, on_scan_error;
	gm_onerr on_scan_limit;		/* an unscannable message, but for
					 * a timeout (on_scan_error's) */

	/* bulk mail and opt-out */
	const char *bulk_header;	/* NULL: none (points into conf) */
	const char *transactional_header;
	const char *unsubscribe_url;	/* NULL: no List-Unsubscribe */
	struct gh_token_key token_key;
	int64_t unsubscribe_ttl_s;

	struct gm_limits limits;

	/* scanning; scanner NULL when [milter] scan = no */
	struct gscan_engine *scanner;
	int scan_text;			/* also plain text messages */
	int64_t scan_max_size;
	const char *spool_dir;
	int scan_cache;			/* [milter] scan_cache */
};

/*
 * gm_mcfg_load - parse path (NULL: the default) and build everything.
 * prev (may be NULL) is the configuration in force: its scanner engine is
 * reused when the signature database has not changed.  detail receives the
 * reason on failure (GH_ECONFIG, a key's error, the scanner's).  The new
 * configuration has one reference, the caller's.
 */
gh_err gm_mcfg_load(const char *path, const struct gm_mcfg *prev,
    uint64_t generation, struct gm_mcfg **out, char *detail,
    size_t detail_len);

void gm_mcfg_ref(struct gm_mcfg *c);
void gm_mcfg_unref(struct gm_mcfg *c);	/* NULL is allowed */

/* gm_mcfg_has_limits - 1 if any [ratelimit] limit is set. */
int gm_mcfg_has_limits(const struct gm_mcfg *c);

/*
 * gm_mcfg_parse - fill every field of c but the scanner from c->conf (set
 * by the caller), loading the signing keys and the token key: what
 * gm_mcfg_load does before it loads the virus engine (mconf.c; with scan
 * on, it checks that clamav_db is a directory).  On failure detail says
 * why, and what was filled is left for gm_mcfg_clear.  `gatehouse config
 * check` runs it on a struct of its own, so that it says what the milter
 * would.
 */
gh_err gm_mcfg_parse(struct gm_mcfg *c, char *detail, size_t detail_len);

/* gm_mcfg_clear - free what gm_mcfg_parse filled (not conf, not the
 * scanner). */
void gm_mcfg_clear(struct gm_mcfg *c);

/*
 * The settings read once at start (mconf.c): the socket, the mode and
 * group of a unix socket, and the user to run as when started as root.
 */
struct gm_mboot {
	const char *sock;        /* [milter] socket (points into the conf) */
	const char *sock_path;   /* a unix socket's file; NULL for inet */
	int local_socket;
	mode_t mode;             /* [milter] socket_mode */
	gid_t sock_gid;          /* [milter] socket_group; (gid_t)-1: none */
	const char *user;        /* [milter] user; NULL: empty or root */
	uid_t uid;               /* and its ids; -1 when user is NULL */
	gid_t gid;
};

/* gm_mboot_parse - read and check them as start-up uses them: 0, or -1
 * with the reason in why (a bad mode, a mode that grants others anything,
 * no such group, no such user).  The user is looked up only with
 * need_user (a milter started as root, the CLI's check): a milter started
 * by another user runs as that user whatever the file says. */
int gm_mboot_parse(const struct gh_conf *boot, int need_user,
    struct gm_mboot *b, char *why, size_t wlen);

struct gm_mcfg_holder {
	pthread_mutex_t mu;
	struct gm_mcfg *cur;
};

/* gm_mcfg_holder_init - the holder takes over the caller's reference. */
void gm_mcfg_holder_init(struct gm_mcfg_holder *h, struct gm_mcfg *first);
void gm_mcfg_holder_destroy(struct gm_mcfg_holder *h);

/* gm_mcfg_acquire - the current configuration, with a reference for the
 * caller (who drops it with gm_mcfg_unref). */
struct gm_mcfg *gm_mcfg_acquire(struct gm_mcfg_holder *h);

/* gm_mcfg_swap - install next (taking over the caller's reference) and
 * drop the holder's reference to the old one. */
void gm_mcfg_swap(struct gm_mcfg_holder *h, struct gm_mcfg *next);

#endif /* GH_MILTER_MCFG_H */
