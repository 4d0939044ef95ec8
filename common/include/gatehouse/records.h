/*
 * gatehouse/records.h - small shared records that more than one part reads
 * or writes: the suppression list (milter checks, nginx and the CLI write)
 * and rate counters (milter limits, PAM failure bursts).
 *
 * Every *_txn call runs inside the caller's transaction (gh_store_update or,
 * for checks, gh_store_view), so a host can combine it with its own records
 * atomically.  Layouts are in docs/store.md.  Nothing here allocates
 * memory the caller must free, logs or blocks beyond LMDB itself.
 */
#ifndef GATEHOUSE_RECORDS_H
#define GATEHOUSE_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- suppression list ---- */

#define GH_ADDR_MAX 320      /* RFC 5321 local part 64 + @ + domain 255 */
#define GH_LIST_MAX 128

/*
 * gh_addr_normalize - the suppression list's form of an address: angle
 * brackets and surrounding space removed, lower-cased.  GH_EINVAL if what
 * remains is empty, has no '@', or holds a control character or space;
 * GH_ETOOBIG past GH_ADDR_MAX.  out needs GH_ADDR_MAX + 1 bytes.
 */
gh_err gh_addr_normalize(const char *in, char *out, size_t cap);

/*
 * gh_suppress_add_txn - suppress addr for list (NULL or "": every list).
 * reason and source ("cli", "unsubscribe", ...) are recorded; either may
 * be NULL.  Adding again replaces the entry.
 */
gh_err gh_suppress_add_txn(struct gh_txn *txn, const char *addr,
                           const char *list, const char *reason,
                           const char *source, int64_t now);

/* gh_suppress_remove_txn - GH_ENOTFOUND if there was no such entry. */
gh_err gh_suppress_remove_txn(struct gh_txn *txn, const char *addr,
                              const char *list);

/*
 * gh_suppress_check_txn - *suppressed = 1 if addr is suppressed for every
 * list, or for list (when list is not NULL or "").  Works in a read
 * transaction.
 */
gh_err gh_suppress_check_txn(struct gh_txn *txn, const char *addr,
                             const char *list, int *suppressed);

/*
 * gh_suppress_listed_txn - *listed = 1 if addr has any entry: for every
 * list or for some list.  For a check made before the list is known
 * (gatehouse-milter at RCPT time, before the header that names the list);
 * whoever is not listed cannot be suppressed for any list.  Works in a read
 * transaction.
 */
gh_err gh_suppress_listed_txn(struct gh_txn *txn, const char *addr,
                              int *listed);

/*
 * gh_suppress_list - visit entries in address order: fn gets the address,
 * the list ("" for all) and the record (borrowed); non-zero stops.
 */
typedef int (*gh_suppress_fn)(const char *addr, const char *list,
                              const json_t *rec, void *arg);
gh_err gh_suppress_list(struct gh_store *st, gh_suppress_fn fn, void *arg);

/*
 * gh_suppress_scan_txn - the same inside the caller's transaction, from
 * the entry after (after_addr, after_list) (after_addr NULL: the first),
 * so that a long walk can be done in steps (notifyd streams the list to
 * the mail domain a chunk at a time).
 */
gh_err gh_suppress_scan_txn(struct gh_txn *txn, const char *after_addr,
                            const char *after_list, gh_suppress_fn fn,
                            void *arg);

/*
 * The suppression list's generation: a meta counter that every add and
 * remove above bumps in the same transaction, so whoever keeps a copy (the
 * mail domain's store, through gatehouse-bridge) can tell that it changed.
 * gh_suppress_gen_txn reads it (0 for a list never written).
 */
#define GH_SUPPRESS_GEN "suppression_gen"
gh_err gh_suppress_gen_txn(struct gh_txn *txn, uint64_t *gen);

/* gh_suppress_clear_txn - delete every entry (a copy about to be replaced
 * by a snapshot of the core's list).  Does not bump the generation. */
gh_err gh_suppress_clear_txn(struct gh_txn *txn);

/* ---- rate counters ---- */

/*
 * gh_rate_hit_txn - count add events against key (at most 200 bytes, such
 * as "milter:sender:alice@example.org") in a sliding window of window_ms
 * ending at now, and give the count including them in *count.
 * The window slides by weighting the previous fixed window by how much of
 * it still overlaps, so limits do not reset all at once on a boundary.
 * add may be 0 to read without counting (in a write transaction still).
 */
gh_err gh_rate_hit_txn(struct gh_txn *txn, const char *key, int64_t window_ms,
                       int64_t now, uint64_t add, uint64_t *count);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_RECORDS_H */
