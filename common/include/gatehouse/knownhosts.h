/*
 * gatehouse/knownhosts.h - the (user, network) pairs seen at login (the
 * known_hosts database), the definition of their keys and records
 *
 * WHERE  The login domain's store ([store] login; the core's when it has
 * none).  pam_gatehouse writes it (one record per opened session from a
 * remote host, with the login.new_host event it raises in the same
 * transaction, docs/pam.md); `gatehouse logins list|forget|purge` reads
 * and deletes; retention deletes records by last_seen.
 *
 * KEY  known_hosts[user | 0x00 | network]: user 1 to GH_USER_MAX bytes
 *   without NUL; network an address prefix ("192.0.2.0/24",
 *   "2001:db8::/64") or a host name, without NUL.  A user's pairs are
 *   adjacent, and user | 0x00 sorts before all of them.
 *
 * RECORD  JSON {v, first_seen, last_seen, count, addr}: times in ms,
 *   count the logins seen from the network, addr the latest address.
 *
 * VERSIONS  GH_KNOWNHOST_V (1, the only one so far) is written; a reader
 * takes every version up to it, and a later one is GH_EVERSION.
 *
 * Every *_txn call runs in the caller's transaction (gh_store_update, or
 * gh_store_view for reads); JSON handed out by *_get_txn is a new
 * reference the caller releases; what a scan's fn gets is borrowed and
 * valid during the call only.  A handle's rules (store.h) are the only
 * thread rules.  Nothing here logs or blocks beyond LMDB.
 */
#ifndef GATEHOUSE_KNOWNHOSTS_H
#define GATEHOUSE_KNOWNHOSTS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_KNOWNHOST_V        1
#define GH_KNOWNHOST_KEY_MAX  511   /* LMDB's limit */

/*
 * gh_knownhost_key - build user | 0x00 | net into key (cap bytes); its
 * length, 0 when user is empty or it does not fit.
 */
size_t gh_knownhost_key(const char *user, const char *net, char *key,
                        size_t cap);

/*
 * gh_knownhost_key_parse - split a key into user and net, copied with a
 * NUL into the buffers (ucap, ncap bytes).  GH_ECORRUPT when key is not a
 * pair (no 0x00, an empty user, a second 0x00), GH_ETOOBIG when a part
 * does not fit.
 */
gh_err gh_knownhost_key_parse(const void *key, size_t klen, char *user,
                              size_t ucap, char *net, size_t ncap);

/* struct gh_knownhost - a record read, whatever its version.  addr points
 * into rec ("" when absent); valid while rec is. */
struct gh_knownhost {
	json_t *rec;              /* borrowed */
	unsigned v;
	int64_t first_seen, last_seen;
	uint64_t count;
	const char *addr;
};

/* gh_knownhost_read - fill h from rec.  GH_ECORRUPT when rec is not such
 * a record, GH_EVERSION when it is a later version's. */
gh_err gh_knownhost_read(json_t *rec, struct gh_knownhost *h);

/* gh_knownhost_get_txn - the record of (user, net).  GH_ENOTFOUND,
 * GH_ECORRUPT, GH_EVERSION, GH_ETOOBIG (a key that cannot be). */
gh_err gh_knownhost_get_txn(struct gh_txn *txn, const char *user,
                            const char *net, json_t **out);

/* gh_knownhost_put_txn - write (user, net)'s record, version
 * GH_KNOWNHOST_V, from h's times, count and addr (h->rec is ignored). */
gh_err gh_knownhost_put_txn(struct gh_txn *txn, const char *user,
                            const char *net, const struct gh_knownhost *h);

/* gh_knownhost_del_txn - GH_ENOTFOUND when there was none. */
gh_err gh_knownhost_del_txn(struct gh_txn *txn, const char *user,
                            const char *net);

/* gh_knownhost_user_has_txn - *found = 1 when user has any pair, read or
 * not: a user's first pair is pam_gatehouse's silent baseline. */
gh_err gh_knownhost_user_has_txn(struct gh_txn *txn, const char *user,
                                 int *found);

/*
 * gh_knownhost_scan_txn - visit the pairs of user (NULL: everyone's) in
 * key order: fn gets the user, the network and the record read (NULL
 * for one that cannot be read: not JSON, a later version), and returns
 * non-zero to stop.  Keys that are not pairs are not given to fn;
 * *skipped (optional) counts them.  Records must not be written from fn.
 */
typedef int (*gh_knownhost_fn)(const char *user, const char *net,
                               const struct gh_knownhost *h, void *arg);
gh_err gh_knownhost_scan_txn(struct gh_txn *txn, const char *user,
                             gh_knownhost_fn fn, void *arg,
                             size_t *skipped);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_KNOWNHOSTS_H */
