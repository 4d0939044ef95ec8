/*
 * gatehouse/store.h - the one LMDB store every Gatehouse part shares
 *
 * A store is a directory (default /var/lib/gatehouse/store) holding one LMDB
 * environment (data.mdb, lock.mdb) with one named database per kind of
 * record (enum gh_db), plus a small lock file of our own, wlock, that bounds
 * how long a writer waits.  docs/store.md documents every database's key and
 * value layout and how the schema migrates.
 *
 * WHO OPENS IT
 *   Only the uid that owns the store's directory (docs/security.md): one
 *   writer uid per LMDB environment, since a process that can write the
 *   data file can feed every reader hostile pages.  gh_store_open() refuses
 *   any other caller, root included, with GH_EACCES; a root program drops
 *   to the owner first (gh_store_become_owner()).  The directory is 0700
 *   and its files 0600, whatever the caller's umask (the library fixes
 *   modes on descriptors and never changes the umask itself).  Every
 *   directory above it must be changeable by root or the owner only
 *   (sticky ones, like /tmp, count), and the files in it must be regular
 *   files of the owner's with one link: a link, FIFO or foreign file
 *   planted there is refused, never followed.
 *
 * FORK RULES
 *   Open after fork, never before: an LMDB environment must not be used in a
 *   child of the process that opened it.  nginx opens in init_process, PAM
 *   opens and closes within each pam_sm_* call, the milter and notifyd open
 *   once after daemonizing.  A handle used in another pid than the one that
 *   opened it fails every call with GH_EINVAL rather than corrupt the lock
 *   table; gh_store_close() in such a child only frees memory.
 *
 * THREAD RULES
 *   One handle may be shared by any number of threads.  The environment is
 *   opened MDB_NOTLS, so read transactions are not tied to threads.  Write
 *   transactions are serialized per handle by a mutex and across processes by
 *   an OFD lock on the wlock file, each taken with a deadline (opts
 *   lock_timeout_ms): a writer that cannot get in within the deadline gets
 *   GH_ELOCKED instead of hanging, which is what lets the PAM module promise
 *   that a login never waits on a stuck process.
 *
 * GROWTH
 *   Like Postfix's slmdb: when a write transaction hits MDB_MAP_FULL the whole
 *   transaction is aborted, the map is doubled (up to map_max) and the
 *   caller's function is run again from the start, so no write is lost.  When
 *   another process grew the map (MDB_MAP_RESIZED) the new size is adopted and
 *   the transaction retried.  At map_max the call fails with GH_EFULL.
 *
 * TRANSACTIONS
 *   Work happens in callbacks: gh_store_update() runs fn inside one write
 *   transaction and commits if fn returns GH_OK (aborts otherwise);
 *   gh_store_view() runs fn inside a read transaction.  Because an update may
 *   run fn more than once (after growing the map), fn must only act through
 *   the transaction and its own arg, and must reset any output it fills.
 *   Never do network I/O or wait on anything inside fn: every other writer
 *   on the machine waits for you.
 */
#ifndef GATEHOUSE_STORE_H
#define GATEHOUSE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "gatehouse/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Current schema version; see docs/store.md "Migrations". */
#define GH_STORE_SCHEMA 4   /* 2: scan_cache; 3: inbox_feed; 4: replog */

/* The named databases.  Their names in LMDB are given by gh_db_name(). */
enum gh_db {
	GH_DB_META = 0,     /* schema version, counters */
	GH_DB_EVENTS,       /* event records by id (JSON, written once) */
	GH_DB_QSTATE,       /* queue state by event id (binary), see queue.c */
	GH_DB_QUEUE,        /* due index: (priority band, due time, id) -> expiry */
	GH_DB_DEDUP,        /* dedup key -> (event id, window end) */
	GH_DB_DELIVERIES,   /* per-channel delivery attempts */
	GH_DB_MAIL_LOG,     /* one record per message seen by the milter */
	GH_DB_UPLOADS,      /* one record per upload seen by the nginx module */
	GH_DB_INBOX,        /* in-app inbox items per user */
	GH_DB_USERS,        /* contacts per user id */
	GH_DB_PREFS,        /* notification preferences per user id */
	GH_DB_SUPPRESSION,  /* opted-out recipient addresses */
	GH_DB_RATE,         /* rate-limit counters */
	GH_DB_KNOWN_HOSTS,  /* (user, network) pairs seen at login */
	GH_DB_SCAN_CACHE,   /* scan verdicts by (SHA-256, engine key) */
	GH_DB_INBOX_FEED,   /* changes to inbox items and prefs, by sequence */
	GH_DB_REPLOG,       /* shared records not yet in the cluster (replog.h) */
	GH_DB_COUNT_        /* not a database: the number of them */
};

/* Flags for struct gh_store_opts.flags. */
#define GH_STORE_RDONLY  0x01u /* open read-only: updates fail GH_EREADONLY */
#define GH_STORE_CREATE  0x02u /* create the directory and files if missing */
#define GH_STORE_NOSYNC  0x04u /* no fsync at commit: survives a process crash,
                                  not a power loss.  For tests and tmpfs. */

struct gh_store_opts {
	const char *path;        /* store directory; required */
	size_t map_size;         /* initial map size in bytes; 0: 64 MiB, or the
	                            size the store already has if larger */
	size_t map_max;          /* growth ceiling in bytes; 0: 4 GiB */
	unsigned flags;          /* GH_STORE_* */
	int lock_timeout_ms;     /* write lock deadline; 0: try once; <0:
	                            wait for ever, in the kernel, until a
	                            signal caught without SA_RESTART
	                            interrupts it (GH_ELOCKED) */
};

/* Opaque handles.  A gh_txn exists only during a gh_store_update/view call. */
struct gh_store;
struct gh_txn;

/*
 * gh_store_open - open (and with GH_STORE_CREATE, create) a store.
 *   out     receives the handle, owned by the caller (gh_store_close()).
 *   opts    options; opts->path is copied.
 *   detail  optional buffer (may be NULL) receiving a human-readable reason,
 *           such as the LMDB message and the path, on failure.
 * Returns GH_OK; GH_ENOTFOUND if the directory is missing and CREATE is not
 * given; GH_EACCES for permissions or a read-only file system on a
 * read-write open; GH_EVERSION if the store's schema is newer than this
 * library; GH_ECORRUPT if LMDB rejects the files; GH_ENOMEM; GH_EIO.
 * On open the reader table is checked for slots of dead processes
 * (mdb_reader_check), and a read-write open migrates an older schema.
 */
gh_err gh_store_open(struct gh_store **out, const struct gh_store_opts *opts,
                     char *detail, size_t detail_len);

/*
 * gh_store_owner - the owner of the store directory path, found without
 * following a link at its last component, after checking that every
 * directory above it can be changed by root or this process's uid only.
 * Returns GH_OK, GH_ENOTFOUND when path does not exist, GH_EACCES (detail
 * says which directory is loose), GH_EINVAL when it is not a directory.
 */
gh_err gh_store_owner(const char *path, uid_t *uid, gid_t *gid, char *detail,
                      size_t detail_len);

/*
 * gh_store_prepare - as root, make path a store directory owned by
 * uid:gid, mode 0700: create it if missing (in a parent that only root
 * can change), or give an existing empty directory, or one already owned
 * by uid, that owner and mode.  A directory that holds files and belongs
 * to another uid is GH_EEXIST: its files would have to be trusted, and the
 * library never chowns what another uid may have planted.  Not root:
 * GH_EACCES.  The store itself is then made by its owner (gh_store_open
 * with GH_STORE_CREATE after gh_store_become_owner()).
 */
gh_err gh_store_prepare(const char *path, uid_t uid, gid_t gid, char *detail,
                        size_t detail_len);

/*
 * gh_store_become_owner - as root, become the owner of the store at path
 * for good: supplementary groups cleared, then the owner's primary gid
 * (from the password database) and uid set (real, effective and saved),
 * and checked that root cannot be had back.  Not root, or a store owned by
 * root: nothing to do, GH_OK.  Errors of gh_store_owner(), or GH_EACCES
 * when the owner has no passwd entry (its group would be a guess: the
 * directory's may be root's) or the change fails.  Call
 * it in a process (or a child) that needs nothing of root's afterwards.
 */
gh_err gh_store_become_owner(const char *path, char *detail,
                             size_t detail_len);

/*
 * gh_store_check - whether this process could open the store at path, as
 * gh_store_open() would judge it, without opening its LMDB environment:
 * the directories on the way, the directory itself (this euid's, not
 * writable by others), data.mdb there, and data.mdb, lock.mdb and wlock
 * regular files of this uid with one link, each opened read-only and
 * closed.  Nothing is made or changed.  For a child that became a
 * daemon's user to tell whether that daemon will get in (`gatehouse
 * config check --as-service`); never call it in a process that has the
 * store open (closing a descriptor of lock.mdb drops LMDB's locks).
 * GH_OK; GH_ENOTFOUND (no directory, or no data.mdb); GH_EACCES (detail
 * names the path and why); GH_EINVAL; GH_EIO.
 */
gh_err gh_store_check(const char *path, char *detail, size_t detail_len);

/* gh_store_close - close the handle; NULL is ignored.  No transaction of the
 * handle may be running.  In a forked child it frees memory only. */
void gh_store_close(struct gh_store *st);

/*
 * gh_store_set_lock_timeout - change the handle's write lock deadline, as
 * opts lock_timeout_ms at open.  Not synchronized with writers: call it
 * only while no other thread uses the handle (right after gh_store_open(),
 * before sharing it).  So a process can open without waiting for the lock
 * (0: a store that needs initializing then fails GH_ELOCKED at once when
 * another writer holds it) and still give its later writes a deadline.
 */
void gh_store_set_lock_timeout(struct gh_store *st, int ms);

/* gh_store_path - the directory the handle was opened on. */
const char *gh_store_path(const struct gh_store *st);

/* gh_db_name - the LMDB name of a database ("events", "mail_log", ...). */
const char *gh_db_name(enum gh_db db);

/* gh_db_lookup - the database named name, or -1. */
int gh_db_lookup(const char *name);

typedef gh_err (*gh_txn_fn)(struct gh_txn *txn, void *arg);

/*
 * gh_store_update - run fn in one write transaction; commit if it returns
 * GH_OK, abort and return its code otherwise.  fn may be run more than once
 * (see GROWTH above).  Returns fn's error, GH_ELOCKED when the write lock was
 * not had within the deadline, GH_EFULL, GH_EREADONLY, GH_EIO.
 */
gh_err gh_store_update(struct gh_store *st, gh_txn_fn fn, void *arg);

/* gh_store_view - run fn in a read transaction (never blocks on writers). */
gh_err gh_store_view(struct gh_store *st, gh_txn_fn fn, void *arg);

/*
 * Raw record access inside a transaction.  Keys are at most 511 bytes
 * (LMDB's limit); longer keys give GH_ETOOBIG.
 *
 * gh_txn_get: *val points into the map and stays valid until the
 * transaction ends or the record is written in it; do not free or modify.
 * Returns GH_ENOTFOUND when absent.
 */
gh_err gh_txn_get(struct gh_txn *txn, enum gh_db db, const void *key,
                  size_t klen, const void **val, size_t *vlen);
gh_err gh_txn_put(struct gh_txn *txn, enum gh_db db, const void *key,
                  size_t klen, const void *val, size_t vlen);
/* gh_txn_put_append: the same for a key known to sort after every key in
 * db (ids from a counter): LMDB then fills pages fully and skips the search.
 * Falls back to a plain put if the key is not last. */
gh_err gh_txn_put_append(struct gh_txn *txn, enum gh_db db, const void *key,
                         size_t klen, const void *val, size_t vlen);
/* gh_txn_last_key_be64: the last key of db read as a big-endian 8-byte
 * number (databases keyed by id).  GH_ENOTFOUND when db is empty,
 * GH_ECORRUPT when the last key is not 8 bytes. */
gh_err gh_txn_last_key_be64(struct gh_txn *txn, enum gh_db db, uint64_t *out);
/* gh_txn_del: GH_ENOTFOUND when absent. */
gh_err gh_txn_del(struct gh_txn *txn, enum gh_db db, const void *key,
                  size_t klen);

/*
 * JSON records.  gh_txn_get_json gives a new reference the caller must
 * json_decref(); GH_ECORRUPT if the value is not a JSON object.
 * gh_txn_put_json encodes compactly; GH_ETOOBIG past GH_RECORD_MAX.
 */
#define GH_RECORD_MAX (256u * 1024u)
gh_err gh_txn_get_json(struct gh_txn *txn, enum gh_db db, const void *key,
                       size_t klen, json_t **out);
gh_err gh_txn_put_json(struct gh_txn *txn, enum gh_db db, const void *key,
                       size_t klen, const json_t *rec);

/*
 * gh_txn_scan - visit records in key order from the first key >= start
 * (start NULL: the first record; with reverse, the last key <= start, or the
 * last record).  fn returns 0 to go on, anything else to stop; that value is
 * then stored in *stopped if stopped is not NULL.  Records must not be
 * written from fn; collect keys and write after the scan.
 */
typedef int (*gh_scan_fn)(const void *key, size_t klen, const void *val,
                          size_t vlen, void *arg);
gh_err gh_txn_scan(struct gh_txn *txn, enum gh_db db, const void *start,
                   size_t slen, int reverse, gh_scan_fn fn, void *arg,
                   int *stopped);

/* gh_txn_count - number of records in db. */
gh_err gh_txn_count(struct gh_txn *txn, enum gh_db db, size_t *n);

/*
 * gh_txn_touch - once this write transaction has committed, rewrite the
 * one byte of the store's wlock file, so a process watching it with
 * inotify (IN_MODIFY; the nginx module's Server-Sent Events) wakes
 * strictly after the commit is visible to readers.  (data.mdb itself is
 * written before the commit is complete: a watcher woken by it may read
 * the old snapshot and not be woken again.)  users.c calls it for every
 * inbox and preferences change.
 */
void gh_txn_touch(struct gh_txn *txn);

/* gh_txn_store - the store a transaction belongs to. */
struct gh_store *gh_txn_store(struct gh_txn *txn);

/*
 * Counters kept in the meta database (8-byte big-endian values).
 * gh_txn_next_seq increments the counter name and returns the new value
 * (the first is 1); it needs a write transaction.
 */
gh_err gh_txn_next_seq(struct gh_txn *txn, const char *name, uint64_t *out);

/* What `gatehouse store info` shows. */
struct gh_store_info {
	size_t map_size;          /* current map size, bytes */
	size_t map_max;           /* configured ceiling, bytes */
	size_t used;              /* bytes of the file LMDB has used so far:
	                             (last page + 1) * page size.  It never
	                             goes down: pages freed are reused */
	size_t free_bytes;        /* of those, pages on LMDB's free list,
	                             which later writes reuse */
	size_t in_use;            /* used - free_bytes: what the records take,
	                             the figure to compare with map_max */
	unsigned page_size;
	unsigned max_readers;
	unsigned readers;         /* reader slots in use, all processes */
	unsigned schema;          /* schema version recorded in the store */
	uint64_t last_txn;        /* id of the last committed write transaction:
	                             how many commits (each an fsync) were made */
	size_t entries[GH_DB_COUNT_]; /* records per database */
};
gh_err gh_store_info(struct gh_store *st, struct gh_store_info *info);

/* Big-endian helpers for building sortable keys. */
void gh_put_be64(unsigned char *p, uint64_t v);
uint64_t gh_get_be64(const unsigned char *p);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_STORE_H */
