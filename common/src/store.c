/*
 * store.c - the LMDB environment every part shares: open, transactions,
 * growth, write-lock deadline.  See gatehouse/store.h for the contract and
 * docs/store.md for the layout.
 *
 * Why a lock of our own in front of LMDB's: LMDB's writer mutex has no
 * timeout, so a process stopped while holding it (SIGSTOP, a debugger, a
 * hung disk) would stall every sshd login through the PAM module.  All our
 * writers take an OFD lock on STORE/wlock first, polling with a deadline;
 * holding it, they find LMDB's mutex free.  OFD locks belong to the open file
 * description, so two handles in one process exclude each other, and they
 * vanish with the process, so a crashed writer cannot wedge the store.
 * Threads sharing one handle are serialized by a mutex before that.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "gatehouse/store.h"
#include "detail_int.h"
#include "fsafe_int.h"
#include "store_int.h"
#include "gatehouse/replog.h"

#define GH_MAP_DEFAULT   (64u * 1024u * 1024u)
#define GH_MAP_MAX_DEFAULT ((size_t)4 << 30)
#define GH_MAX_READERS   510
#define GH_KEY_MAX       511

static const char *const gh_db_names[GH_DB_COUNT_] = {
	[GH_DB_META] = "meta",
	[GH_DB_EVENTS] = "events",
	[GH_DB_QSTATE] = "qstate",
	[GH_DB_QUEUE] = "queue",
	[GH_DB_DEDUP] = "dedup",
	[GH_DB_DELIVERIES] = "deliveries",
	[GH_DB_MAIL_LOG] = "mail_log",
	[GH_DB_UPLOADS] = "uploads",
	[GH_DB_INBOX] = "inbox",
	[GH_DB_USERS] = "users",
	[GH_DB_PREFS] = "prefs",
	[GH_DB_SUPPRESSION] = "suppression",
	[GH_DB_RATE] = "rate",
	[GH_DB_KNOWN_HOSTS] = "known_hosts",
	[GH_DB_SCAN_CACHE] = "scan_cache",
	[GH_DB_INBOX_FEED] = "inbox_feed",
	[GH_DB_REPLOG] = "replog",
};

struct gh_store {
	MDB_env *env;
	MDB_dbi dbi[GH_DB_COUNT_];
	char *path;
	unsigned flags;
	size_t map_max;
	int lock_timeout_ms;
	int lockfd;
	pid_t pid;
	pthread_mutex_t wmutex;
	/* Held shared by every transaction of this handle, exclusively while
	 * the map is resized: LMDB forbids mdb_env_set_mapsize() while this
	 * process has a transaction open. */
	pthread_rwlock_t maplock;
};

struct gh_txn {
	struct gh_store *st;
	MDB_txn *txn;
	int write;
	int map_full;   /* a put hit MDB_MAP_FULL: grow and run again */
	int touch;      /* gh_txn_touch: rewrite wlock after the commit */
	int replog_mute; /* gh_txn_replog_mute: changes from the cluster */
};

const char *
gh_db_name(enum gh_db db)
{
	if ((unsigned)db >= GH_DB_COUNT_)
		return "?";
	return gh_db_names[db];
}

int
gh_db_lookup(const char *name)
{
	for (int i = 0; i < GH_DB_COUNT_; i++)
		if (strcmp(gh_db_names[i], name) == 0)
			return i;
	return -1;
}

void
gh_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
gh_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

gh_err
gh_mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return GH_OK;
	case MDB_NOTFOUND:
		return GH_ENOTFOUND;
	case MDB_KEYEXIST:
		return GH_EEXIST;
	case MDB_MAP_FULL:
		return GH_EFULL;
	case MDB_TXN_FULL:
	case MDB_BAD_VALSIZE:
		return GH_ETOOBIG;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return GH_ECORRUPT;
	case ENOMEM:
		return GH_ENOMEM;
	case ENOENT:
		return GH_ENOTFOUND;
	case ENOSPC:
	case EDQUOT:
		return GH_EFULL;
	case EACCES:
	case EPERM:
	case EROFS:
		return GH_EACCES;
	case EINVAL:
		return GH_EINVAL;
	default:
		return GH_EIO;
	}
}

static int
realtime_deadline(struct timespec *ts, int ms)
{
	if (clock_gettime(CLOCK_REALTIME, ts) != 0)
		return -1;
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
	return 0;
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static gh_err
wlock_acquire(struct gh_store *st)
{
	int ms = st->lock_timeout_ms;
	int64_t deadline = mono_us() + (int64_t)(ms < 0 ? 0 : ms) * 1000;
	struct flock fl;
	long sleep_us = 20;
	int rc;

	if (ms < 0) {
		rc = pthread_mutex_lock(&st->wmutex);
	} else if (ms == 0) {
		rc = pthread_mutex_trylock(&st->wmutex);
	} else {
		struct timespec ts;

		if (realtime_deadline(&ts, ms) != 0)
			return GH_EIO;
		rc = pthread_mutex_timedlock(&st->wmutex, &ts);
	}
	if (rc == ETIMEDOUT || rc == EBUSY)
		return GH_ELOCKED;
	if (rc != 0)
		return GH_EIO;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(st->lockfd, ms < 0 ? F_OFD_SETLKW : F_OFD_SETLK,
		          &fl) == 0)
			return GH_OK;
		/* Waiting for ever, a signal the caller catches without
		 * SA_RESTART is how it ends the wait (an alarm, a stop). */
		if (errno == EINTR && ms < 0) {
			pthread_mutex_unlock(&st->wmutex);
			return GH_ELOCKED;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EACCES) {
			pthread_mutex_unlock(&st->wmutex);
			return GH_EIO;
		}
		int64_t left = deadline - mono_us();
		if (left <= 0) {
			pthread_mutex_unlock(&st->wmutex);
			return GH_ELOCKED;
		}
		/* Writers hold the lock for well under a millisecond, so poll
		 * fast at first and back off to 1 ms. */
		struct timespec nap = {0, (sleep_us < left ? sleep_us : left) * 1000};
		nanosleep(&nap, NULL);
		if (sleep_us < 1000)
			sleep_us *= 2;
	}
}

static void
wlock_release(struct gh_store *st)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	(void)fcntl(st->lockfd, F_OFD_SETLK, &fl);
	pthread_mutex_unlock(&st->wmutex);
}

/* Adopt a map grown by another process, or grow it ourselves (newsize > 0).
 * Called with no transaction of this handle open by this thread. */
static gh_err
map_resize(struct gh_store *st, size_t newsize)
{
	int rc;

	pthread_rwlock_wrlock(&st->maplock);
	rc = mdb_env_set_mapsize(st->env, newsize);
	pthread_rwlock_unlock(&st->maplock);
	return gh_mdb_err(rc);
}

static gh_err
grow(struct gh_store *st)
{
	MDB_envinfo info;
	size_t cur, next;

	if (mdb_env_info(st->env, &info) != 0)
		return GH_EIO;
	cur = info.me_mapsize;
	if (cur >= st->map_max)
		return GH_EFULL;
	next = cur * 2 > st->map_max ? st->map_max : cur * 2;
	return map_resize(st, next);
}

static gh_err
txn_begin(struct gh_store *st, int write, MDB_txn **out)
{
	int rc;

	for (int tries = 0; tries < 4; tries++) {
		pthread_rwlock_rdlock(&st->maplock);
		rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, out);
		if (rc == 0)
			return GH_OK;
		pthread_rwlock_unlock(&st->maplock);
		if (rc != MDB_MAP_RESIZED)
			return gh_mdb_err(rc);
		gh_err e = map_resize(st, 0);
		if (e)
			return e;
	}
	return GH_EIO;
}

/* gatehouse/replog.h: kept per transaction, so nothing else a process
 * writes at the same time goes unrecorded. */
void
gh_txn_replog_mute(struct gh_txn *txn)
{
	if (txn != NULL)
		txn->replog_mute = 1;
}

int
gh_txn_replog_muted(struct gh_txn *txn)
{
	return txn != NULL && txn->replog_mute;
}

void
gh_txn_touch(struct gh_txn *txn)
{
	if (txn != NULL && txn->write)
		txn->touch = 1;
}

gh_err
gh_store_update(struct gh_store *st, gh_txn_fn fn, void *arg)
{
	struct gh_txn t;
	gh_err err;
	int rc;

	if (st == NULL || fn == NULL)
		return GH_EINVAL;
	if (st->pid != getpid())
		return GH_EINVAL;
	if (st->flags & GH_STORE_RDONLY)
		return GH_EREADONLY;
	err = wlock_acquire(st);
	if (err)
		return err;
	for (;;) {
		memset(&t, 0, sizeof(t));
		t.st = st;
		t.write = 1;
		err = txn_begin(st, 1, &t.txn);
		if (err)
			break;
		err = fn(&t, arg);
		if (err != GH_OK || t.map_full) {
			mdb_txn_abort(t.txn);
			pthread_rwlock_unlock(&st->maplock);
			if (!t.map_full)
				break;
		} else {
			rc = mdb_txn_commit(t.txn);
			pthread_rwlock_unlock(&st->maplock);
			if (rc == 0) {
				err = GH_OK;
				/* after the commit, so whoever it wakes reads
				 * what was committed (store.h, gh_txn_touch);
				 * a failure only delays them */
				if (t.touch && st->lockfd >= 0 &&
				    pwrite(st->lockfd, "", 1, 0) != 1) {
					/* nothing: watchers have a fallback */
				}
				break;
			}
			if (rc != MDB_MAP_FULL) {
				err = gh_mdb_err(rc);
				break;
			}
		}
		/* MDB_MAP_FULL: everything fn did is gone with the aborted
		 * transaction; grow the map and run it again. */
		err = grow(st);
		if (err)
			break;
	}
	wlock_release(st);
	return err;
}

gh_err
gh_store_view(struct gh_store *st, gh_txn_fn fn, void *arg)
{
	struct gh_txn t;
	gh_err err;

	if (st == NULL || fn == NULL)
		return GH_EINVAL;
	if (st->pid != getpid())
		return GH_EINVAL;
	memset(&t, 0, sizeof(t));
	t.st = st;
	err = txn_begin(st, 0, &t.txn);
	if (err)
		return err;
	err = fn(&t, arg);
	mdb_txn_abort(t.txn);
	pthread_rwlock_unlock(&st->maplock);
	return err;
}

static gh_err
check_db(struct gh_txn *txn, enum gh_db db)
{
	if (txn == NULL || (unsigned)db >= GH_DB_COUNT_)
		return GH_EINVAL;
	return GH_OK;
}

/* A put's or a delete's arguments: a key, in a write transaction; the
 * key into *k. */
static gh_err
check_write(struct gh_txn *txn, enum gh_db db, const void *key, size_t klen,
            MDB_val *k)
{
	if (check_db(txn, db) || key == NULL || klen == 0)
		return GH_EINVAL;
	if (!txn->write)
		return GH_EREADONLY;
	if (klen > GH_KEY_MAX)
		return GH_ETOOBIG;
	k->mv_data = (void *)key;
	k->mv_size = klen;
	return GH_OK;
}

/* A write's LMDB result; a full map is remembered for gh_store_update(). */
static gh_err
written(struct gh_txn *txn, int rc)
{
	if (rc == MDB_MAP_FULL)
		txn->map_full = 1;
	return gh_mdb_err(rc);
}

gh_err
gh_txn_get(struct gh_txn *txn, enum gh_db db, const void *key, size_t klen,
           const void **val, size_t *vlen)
{
	MDB_val k, v;
	int rc;

	if (check_db(txn, db) || key == NULL || klen == 0)
		return GH_EINVAL;
	if (klen > GH_KEY_MAX)
		return GH_ETOOBIG;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	rc = mdb_get(txn->txn, txn->st->dbi[db], &k, &v);
	if (rc)
		return gh_mdb_err(rc);
	if (val)
		*val = v.mv_data;
	if (vlen)
		*vlen = v.mv_size;
	return GH_OK;
}

static gh_err
put_flags(struct gh_txn *txn, enum gh_db db, const void *key, size_t klen,
          const void *val, size_t vlen, unsigned flags)
{
	MDB_val k, v;
	gh_err err;
	int rc;

	err = check_write(txn, db, key, klen, &k);
	if (err)
		return err;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	rc = mdb_put(txn->txn, txn->st->dbi[db], &k, &v, flags);
	if (rc == MDB_KEYEXIST && (flags & MDB_APPEND))
		rc = mdb_put(txn->txn, txn->st->dbi[db], &k, &v, 0);
	return written(txn, rc);
}

gh_err
gh_txn_put(struct gh_txn *txn, enum gh_db db, const void *key, size_t klen,
           const void *val, size_t vlen)
{
	return put_flags(txn, db, key, klen, val, vlen, 0);
}

gh_err
gh_txn_put_append(struct gh_txn *txn, enum gh_db db, const void *key,
                  size_t klen, const void *val, size_t vlen)
{
	return put_flags(txn, db, key, klen, val, vlen, MDB_APPEND);
}

gh_err
gh_txn_last_key_be64(struct gh_txn *txn, enum gh_db db, uint64_t *out)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (check_db(txn, db) || out == NULL)
		return GH_EINVAL;
	*out = 0;
	rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &c);
	if (rc)
		return gh_mdb_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc)
		return gh_mdb_err(rc);
	if (k.mv_size != 8)
		return GH_ECORRUPT;
	*out = gh_get_be64(k.mv_data);
	return GH_OK;
}

gh_err
gh_txn_del(struct gh_txn *txn, enum gh_db db, const void *key, size_t klen)
{
	MDB_val k;
	gh_err err;
	int rc;

	err = check_write(txn, db, key, klen, &k);
	if (err)
		return err;
	rc = mdb_del(txn->txn, txn->st->dbi[db], &k, NULL);
	return written(txn, rc);
}

gh_err
gh_txn_del_prefix(struct gh_txn *txn, enum gh_db db, const void *prefix,
                  size_t plen, size_t *n)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t count = 0;
	int rc;

	if (n)
		*n = 0;
	if (check_db(txn, db) || prefix == NULL || plen == 0)
		return GH_EINVAL;
	if (!txn->write)
		return GH_EREADONLY;
	if (plen > GH_KEY_MAX)
		return GH_ETOOBIG;
	rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &c);
	if (rc)
		return gh_mdb_err(rc);
	for (;;) {
		/* Seek afresh after each delete: where a cursor stands after
		 * mdb_cursor_del has been the subject of LMDB bugs. */
		k.mv_data = (void *)prefix;
		k.mv_size = plen;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
		count++;
	}
	mdb_cursor_close(c);
	if (rc == MDB_MAP_FULL)
		txn->map_full = 1;
	if (n)
		*n = count;
	return gh_mdb_err(rc);
}

gh_err
gh_txn_get_json(struct gh_txn *txn, enum gh_db db, const void *key,
                size_t klen, json_t **out)
{
	const void *v;
	size_t vl;
	json_t *j;
	gh_err err;

	*out = NULL;
	err = gh_txn_get(txn, db, key, klen, &v, &vl);
	if (err)
		return err;
	j = json_loadb(v, vl, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return GH_ECORRUPT;
	}
	*out = j;
	return GH_OK;
}

gh_err
gh_txn_put_json(struct gh_txn *txn, enum gh_db db, const void *key,
                size_t klen, const json_t *rec)
{
	char stackbuf[4096];
	char *buf = stackbuf;
	size_t n;
	gh_err err;

	if (rec == NULL || !json_is_object(rec))
		return GH_EINVAL;
	/* Most records fit on the stack; encode twice only for big ones. */
	n = json_dumpb(rec, stackbuf, sizeof(stackbuf), JSON_COMPACT);
	if (n == 0)
		return GH_ENOMEM;
	if (n > GH_RECORD_MAX)
		return GH_ETOOBIG;
	if (n > sizeof(stackbuf)) {
		buf = malloc(n);
		if (buf == NULL)
			return GH_ENOMEM;
		if (json_dumpb(rec, buf, n, JSON_COMPACT) != n) {
			free(buf);
			return GH_ENOMEM;
		}
	}
	err = gh_txn_put(txn, db, key, klen, buf, n);
	if (buf != stackbuf)
		free(buf);
	return err;
}

gh_err
gh_txn_scan(struct gh_txn *txn, enum gh_db db, const void *start, size_t slen,
            int reverse, gh_scan_fn fn, void *arg, int *stopped)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_cursor_op op;
	int rc, r = 0;
	gh_err err = GH_OK;

	if (stopped)
		*stopped = 0;
	if (check_db(txn, db) || fn == NULL)
		return GH_EINVAL;
	if (start != NULL && (slen == 0 || slen > GH_KEY_MAX))
		return GH_EINVAL;
	rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &c);
	if (rc)
		return gh_mdb_err(rc);
	if (start == NULL) {
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_LAST : MDB_FIRST);
	} else {
		k.mv_data = (void *)start;
		k.mv_size = slen;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (reverse) {
			if (rc == MDB_NOTFOUND) {
				rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
			} else if (rc == 0) {
				MDB_val s = {slen, (void *)start};
				if (mdb_cmp(txn->txn, txn->st->dbi[db], &k, &s) > 0)
					rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
			}
		}
	}
	op = reverse ? MDB_PREV : MDB_NEXT;
	while (rc == 0) {
		r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
		if (r != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, op);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		err = gh_mdb_err(rc);
	if (stopped)
		*stopped = r;
	mdb_cursor_close(c);
	return err;
}

gh_err
gh_txn_count(struct gh_txn *txn, enum gh_db db, size_t *n)
{
	MDB_stat s;
	int rc;

	if (check_db(txn, db) || n == NULL)
		return GH_EINVAL;
	rc = mdb_stat(txn->txn, txn->st->dbi[db], &s);
	if (rc)
		return gh_mdb_err(rc);
	*n = s.ms_entries;
	return GH_OK;
}

struct gh_store *
gh_txn_store(struct gh_txn *txn)
{
	return txn ? txn->st : NULL;
}

gh_err
gh_txn_next_seq(struct gh_txn *txn, const char *name, uint64_t *out)
{
	unsigned char b[8];
	const void *v;
	size_t vl;
	uint64_t cur = 0;
	gh_err err;

	if (txn == NULL || name == NULL || !*name)
		return GH_EINVAL;
	err = gh_txn_get(txn, GH_DB_META, name, strlen(name), &v, &vl);
	if (err == GH_OK) {
		if (vl != 8)
			return GH_ECORRUPT;
		cur = gh_get_be64(v);
	} else if (err != GH_ENOTFOUND) {
		return err;
	}
	gh_put_be64(b, cur + 1);
	err = gh_txn_put(txn, GH_DB_META, name, strlen(name), b, 8);
	if (err)
		return err;
	if (out)
		*out = cur + 1;
	return GH_OK;
}

/* ---- open, schema, migration ---- */

static gh_err
read_schema(MDB_txn *txn, MDB_dbi meta, unsigned *schema)
{
	MDB_val k = {6, (void *)"schema"}, v;
	int rc = mdb_get(txn, meta, &k, &v);

	if (rc == MDB_NOTFOUND) {
		*schema = 0;
		return GH_OK;
	}
	if (rc)
		return gh_mdb_err(rc);
	if (v.mv_size != 8)
		return GH_ECORRUPT;
	*schema = (unsigned)gh_get_be64(v.mv_data);
	return GH_OK;
}

/* Open every named database.  A store made by this version needs no write:
 * a read transaction finds them all, so opening (PAM, per login) does not
 * take the write lock.  A new or older store gets one write transaction
 * that creates what is missing and runs the migrations. */
static gh_err
open_dbs(struct gh_store *st, char *detail, size_t dlen)
{
	MDB_txn *txn = NULL;
	unsigned schema = 0;
	int rc, need_write = 0;
	gh_err err;

	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(st->env, 0);
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	}
	if (rc)
		return gh_detail(detail, dlen, gh_mdb_err(rc), "%s: %s",
		                 st->path, mdb_strerror(rc));
	for (int i = 0; i < GH_DB_COUNT_; i++) {
		rc = mdb_dbi_open(txn, gh_db_names[i], 0, &st->dbi[i]);
		if (rc == MDB_NOTFOUND) {
			need_write = 1;
			break;
		}
		if (rc) {
			mdb_txn_abort(txn);
			return gh_detail(detail, dlen, gh_mdb_err(rc), "%s: %s",
			                 st->path, mdb_strerror(rc));
		}
	}
	if (!need_write) {
		err = read_schema(txn, st->dbi[GH_DB_META], &schema);
		if (err) {
			mdb_txn_abort(txn);
			return err;
		}
		if (schema > GH_STORE_SCHEMA) {
			mdb_txn_abort(txn);
			return gh_detail(detail, dlen, GH_EVERSION, "%s: %s",
			                 st->path, "schema version is newer than "
			                 "this program; upgrade Gatehouse");
		}
		if (schema < GH_STORE_SCHEMA)
			need_write = 1;
	}
	if (!need_write) {
		rc = mdb_txn_commit(txn); /* keeps the dbi handles */
		return gh_mdb_err(rc);
	}
	mdb_txn_abort(txn);
	if (st->flags & GH_STORE_RDONLY)
		return gh_detail(detail, dlen, GH_ENOTFOUND, "%s: %s",
		                 st->path, "store is not initialized (open it "
		                 "read-write once, e.g. `gatehouse store init`)");

	err = wlock_acquire(st);
	if (err)
		return gh_detail(detail, dlen, err, "%s: %s", st->path,
		                 "write lock busy while initializing the store");
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc) {
		err = gh_mdb_err(rc);
		goto unlock;
	}
	for (int i = 0; i < GH_DB_COUNT_; i++) {
		rc = mdb_dbi_open(txn, gh_db_names[i], MDB_CREATE, &st->dbi[i]);
		if (rc)
			goto abort;
	}
	err = read_schema(txn, st->dbi[GH_DB_META], &schema);
	if (err) {
		mdb_txn_abort(txn);
		goto unlock;
	}
	if (schema > GH_STORE_SCHEMA) {
		mdb_txn_abort(txn);
		err = GH_EVERSION;
		goto unlock;
	}
	/* Migrations run here, one step per version, inside this same
	 * transaction: gh_migrate(txn, from) -> from + 1.  Version 1 is the
	 * first schema, so a store at 0 is simply new. */
	if (schema < GH_STORE_SCHEMA) {
		unsigned char b[8];
		MDB_val k = {6, (void *)"schema"}, v = {8, b};

		gh_put_be64(b, GH_STORE_SCHEMA);
		rc = mdb_put(txn, st->dbi[GH_DB_META], &k, &v, 0);
		if (rc)
			goto abort;
	}
	rc = mdb_txn_commit(txn);
	err = gh_mdb_err(rc);
	goto unlock;
abort:
	mdb_txn_abort(txn);
	err = gh_detail(detail, dlen, gh_mdb_err(rc), "%s: %s", st->path,
	                mdb_strerror(rc));
unlock:
	wlock_release(st);
	return err;
}

/*
 * Find the store's real directory and make sure that nobody but this uid
 * can change it or anything in it (fsafe.c), creating it with CREATE.
 * On success *dfd is the directory, opened O_NOFOLLOW, and real its path
 * with no symbolic links, which is what LMDB is given.
 */
static gh_err
open_dir(const struct gh_store_opts *opts, char *real, int *dfd,
         char *detail, size_t dlen)
{
	int create = (opts->flags & GH_STORE_CREATE) &&
	             !(opts->flags & GH_STORE_RDONLY);
	int missing = 0;
	gh_err err;

	*dfd = -1;
	err = gh_fs_resolve(opts->path, geteuid(), real, &missing, detail,
	                    dlen);
	if (err == GH_ENOTFOUND && missing && create) {
		/* In a parent only root or we can change (checked on the
		 * way): the owner-only directory every store lives in. */
		if (mkdir(real, 0700) != 0 && errno != EEXIST) {
			int e = errno;

			return gh_detail(detail, dlen, gh_mdb_err(e), "%s: %s",
			                 opts->path, strerror(e));
		}
		err = gh_fs_resolve(opts->path, geteuid(), real, &missing,
		                    detail, dlen);
	}
	if (err)
		return err;
	*dfd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0) {
		int e = errno;

		return gh_detail(detail, dlen, e == ENOTDIR ? GH_EINVAL :
		                 gh_mdb_err(e), "%s: %s", opts->path,
		                 e == ENOTDIR ? "not a directory" : strerror(e));
	}
	err = gh_fs_check_dir(*dfd, opts->path, geteuid(), create, detail,
	                      dlen);
	if (err) {
		close(*dfd);
		*dfd = -1;
	}
	return err;
}

/*
 * An empty directory is not a store: without CREATE, do not make one
 * behind the admin's back (a PAM login, a worker).  Only a data.mdb that
 * is not there says so; one that cannot be looked at is that error.
 */
static gh_err
have_data(int dfd, const char *path, char *detail, size_t dlen)
{
	struct stat sb;
	int e;

	if (fstatat(dfd, "data.mdb", &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return GH_OK;
	e = errno;
	if (e == ENOENT)
		return gh_detail(detail, dlen, GH_ENOTFOUND, "%s: %s", path,
		                 "no store here (data.mdb missing)");
	return gh_detail(detail, dlen, gh_mdb_err(e), "%s/data.mdb: %s", path,
	                 strerror(e));
}

gh_err
gh_store_check(const char *path, char *detail, size_t dlen)
{
	static const char *const files[] = {"data.mdb", "lock.mdb", "wlock"};
	struct gh_store_opts o;
	char real[PATH_MAX];
	int dfd = -1;
	gh_err err;

	if (detail && dlen)
		detail[0] = '\0';
	if (path == NULL || *path == '\0')
		return GH_EINVAL;
	if (strlen(path) + sizeof("/data.mdb") > PATH_MAX)
		return GH_ETOOBIG;
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.flags = GH_STORE_RDONLY;   /* nothing made, nothing chmod'ed */
	err = open_dir(&o, real, &dfd, detail, dlen);
	if (err)
		return err;
	err = have_data(dfd, path, detail, dlen);
	for (size_t i = 0; err == GH_OK && i < sizeof(files) / sizeof(files[0]);
	     i++)
		err = gh_fs_check_file(dfd, path, files[i], geteuid(), detail,
		                       dlen);
	close(dfd);
	return err;
}

gh_err
gh_store_open(struct gh_store **out, const struct gh_store_opts *opts,
              char *detail, size_t dlen)
{
	static const char *const lmdb_files[] = {"data.mdb", "lock.mdb"};
	struct gh_store *st = NULL;
	char real[PATH_MAX];
	unsigned envflags;
	size_t mapsize;
	int rc, dead, dfd = -1;
	gh_err err = GH_OK;

	if (detail && dlen)
		detail[0] = '\0';
	if (out == NULL || opts == NULL || opts->path == NULL ||
	    opts->path[0] == '\0')
		return GH_EINVAL;
	*out = NULL;
	if (strlen(opts->path) + sizeof("/data.mdb") > PATH_MAX)
		return GH_ETOOBIG;

	err = open_dir(opts, real, &dfd, detail, dlen);
	if (err)
		return err;
	if (!(opts->flags & GH_STORE_CREATE)) {
		err = have_data(dfd, opts->path, detail, dlen);
		if (err) {
			close(dfd);
			return err;
		}
	}
	/* LMDB opens these by name and follows links: what is there must
	 * be ours, and the directory being ours alone keeps it so. */
	for (size_t i = 0; i < sizeof(lmdb_files) / sizeof(lmdb_files[0]);
	     i++) {
		err = gh_fs_vet_file(dfd, opts->path, lmdb_files[i], geteuid(),
		                     detail, dlen);
		if (err) {
			close(dfd);
			return err;
		}
	}

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		close(dfd);
		return GH_ENOMEM;
	}
	st->lockfd = -1;
	st->pid = getpid();
	st->flags = opts->flags;
	st->lock_timeout_ms = opts->lock_timeout_ms;
	st->map_max = opts->map_max ? opts->map_max : GH_MAP_MAX_DEFAULT;
	pthread_mutex_init(&st->wmutex, NULL);
	pthread_rwlock_init(&st->maplock, NULL);
	st->path = strdup(opts->path);
	if (st->path == NULL) {
		err = GH_ENOMEM;
		goto fail;
	}

	if (!(st->flags & GH_STORE_RDONLY)) {
		err = gh_fs_open_file(dfd, opts->path, "wlock",
		                      O_RDWR | O_CREAT, geteuid(), &st->lockfd,
		                      detail, dlen);
		if (err)
			goto fail;
	}

	rc = mdb_env_create(&st->env);
	if (rc) {
		err = gh_mdb_err(rc);
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, GH_DB_COUNT_ + 4);
	mdb_env_set_maxreaders(st->env, GH_MAX_READERS);
	mapsize = opts->map_size ? opts->map_size : GH_MAP_DEFAULT;
	if (mapsize > st->map_max)
		mapsize = st->map_max;
	/* An existing, larger store keeps its size: LMDB takes the larger. */
	mdb_env_set_mapsize(st->env, mapsize);
	envflags = MDB_NOTLS;
	if (st->flags & GH_STORE_RDONLY)
		envflags |= MDB_RDONLY;
	if (st->flags & GH_STORE_NOSYNC)
		envflags |= MDB_NOSYNC;
	rc = mdb_env_open(st->env, real, envflags, 0600);
	if (rc) {
		err = gh_detail(detail, dlen, gh_mdb_err(rc), "%s: %s",
		                st->path, mdb_strerror(rc));
		/* LMDB does not say which of its files it could not open:
		 * name the one this uid may not use. */
		for (size_t i = 0; rc == EACCES && i < sizeof(lmdb_files) /
		     sizeof(lmdb_files[0]); i++)
			if (faccessat(dfd, lmdb_files[i], (st->flags &
			    GH_STORE_RDONLY) ? R_OK : R_OK | W_OK,
			    AT_EACCESS) != 0 && errno == EACCES) {
				gh_detail(detail, dlen, err, "%s/%s: %s", st->path,
				          lmdb_files[i], strerror(EACCES));
				break;
			}
		goto fail;
	}
	/* Free reader slots left by processes that died mid-read (a killed
	 * nginx worker), or they fill the table and pin old pages. */
	(void)mdb_reader_check(st->env, &dead);

	err = open_dbs(st, detail, dlen);
	if (err)
		goto fail;
	close(dfd);
	*out = st;
	return GH_OK;
fail:
	close(dfd);
	gh_store_close(st);
	return err;
}

void
gh_store_close(struct gh_store *st)
{
	if (st == NULL)
		return;
	if (st->pid == getpid()) {
		if (st->env)
			mdb_env_close(st->env);
		if (st->lockfd >= 0)
			close(st->lockfd);
		pthread_mutex_destroy(&st->wmutex);
		pthread_rwlock_destroy(&st->maplock);
	}
	/* In a forked child the environment belongs to the parent: its
	 * mapping and descriptors are left for exit() to drop. */
	free(st->path);
	free(st);
}

void
gh_store_set_lock_timeout(struct gh_store *st, int ms)
{
	if (st != NULL)
		st->lock_timeout_ms = ms;
}

const char *
gh_store_path(const struct gh_store *st)
{
	return st ? st->path : NULL;
}

struct count_readers {
	unsigned n;
};

static int
reader_line(const char *msg, void *ctx)
{
	struct count_readers *c = ctx;

	/* mdb_reader_list prints a header line, then one per slot. */
	if (strstr(msg, "pid") == NULL && strstr(msg, "(no active") == NULL)
		c->n++;
	return 0;
}

struct info_arg {
	struct gh_store_info *info;
};

/* Pages on LMDB's free list (its database 0): each record is a list of
 * page numbers whose first word is their count, as mdb_stat -f reads it. */
static gh_err
free_pages(struct gh_txn *txn, size_t *pages)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	*pages = 0;
	rc = mdb_cursor_open(txn->txn, 0, &c);
	if (rc)
		return gh_mdb_err(rc);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		size_t count;

		if (v.mv_size < sizeof(count))
			continue;
		memcpy(&count, v.mv_data, sizeof(count));  /* maybe unaligned */
		*pages += count;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? GH_OK : gh_mdb_err(rc);
}

static gh_err
info_fn(struct gh_txn *txn, void *arg)
{
	struct info_arg *a = arg;
	size_t pages = 0;
	gh_err err;

	for (int i = 0; i < GH_DB_COUNT_; i++) {
		err = gh_txn_count(txn, (enum gh_db)i, &a->info->entries[i]);
		if (err)
			return err;
	}
	err = free_pages(txn, &pages);
	if (err)
		return err;
	a->info->free_bytes = pages * a->info->page_size;
	if (a->info->free_bytes > a->info->used)
		a->info->free_bytes = a->info->used;
	a->info->in_use = a->info->used - a->info->free_bytes;
	return read_schema(txn->txn, txn->st->dbi[GH_DB_META],
	                   &a->info->schema);
}

gh_err
gh_store_info(struct gh_store *st, struct gh_store_info *info)
{
	MDB_envinfo ei;
	MDB_stat ms;
	struct count_readers cr = {0};
	struct info_arg a = {info};

	if (st == NULL || info == NULL)
		return GH_EINVAL;
	memset(info, 0, sizeof(*info));
	if (mdb_env_info(st->env, &ei) || mdb_env_stat(st->env, &ms))
		return GH_EIO;
	info->map_size = ei.me_mapsize;
	info->map_max = st->map_max;
	info->page_size = ms.ms_psize;
	info->used = (ei.me_last_pgno + 1) * (size_t)ms.ms_psize;
	info->max_readers = ei.me_maxreaders;
	info->last_txn = (uint64_t)ei.me_last_txnid;
	mdb_reader_list(st->env, reader_line, &cr);
	info->readers = cr.n;
	return gh_store_view(st, info_fn, &a);
}
