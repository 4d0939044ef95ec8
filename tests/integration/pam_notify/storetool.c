/*
 * storetool.c - store helper for pam_gatehouse's integration tests.
 *
 *   storetool init DIR [MAP_SIZE]       create a store (NOSYNC)
 *   storetool dump DIR DB               one JSON line per record:
 *                                       {"key":..., "value":...}; a value
 *                                       that is not JSON is {"hex": ...}
 *   storetool events DIR                one JSON line per event
 *   storetool put DIR DB JSON PART...   put JSON under PART\0PART...
 *   storetool hold DIR                  take the write lock (wlock and
 *                                       LMDB's), say "held", SIGSTOP self
 *   storetool holdmdb DIR               hold lock.mdb byte 0 exclusively,
 *                                       as a process stuck in
 *                                       mdb_env_open would; SIGSTOP self
 *   storetool mdbwriter DIR             open LMDB directly (no wlock), begin
 *                                       a write txn, SIGSTOP self
 *   storetool fill DIR MAP_MAX          enqueue events until the map is full
 *
 * The stopping commands print one line to stdout, flush, then stop, so the
 * test knows the lock is held when it reads the line.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "gatehouse/queue.h"
#include "gatehouse/store.h"

static int
die(const char *what, gh_err err, const char *detail)
{
	fprintf(stderr, "storetool: %s: %s %s\n", what, gh_errname(err),
	        detail ? detail : "");
	return 1;
}

static gh_err
open_store(const char *dir, struct gh_store **st, unsigned flags,
           size_t map_size, size_t map_max, int timeout)
{
	struct gh_store_opts o;
	char detail[256];
	gh_err err;

	memset(&o, 0, sizeof(o));
	o.path = dir;
	o.flags = flags | GH_STORE_NOSYNC;
	o.map_size = map_size;
	o.map_max = map_max;
	o.lock_timeout_ms = timeout;
	/* Like the gatehouse command: only the store's owner opens it. */
	err = gh_store_become_owner(dir, detail, sizeof(detail));
	if (err == GH_OK || err == GH_ENOTFOUND)
		err = gh_store_open(st, &o, detail, sizeof(detail));
	if (err)
		fprintf(stderr, "storetool: open %s: %s %s\n", dir,
		        gh_errname(err), detail);
	return err;
}

struct dump_arg {
	int db;
};

static int
dump_rec(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	json_t *line = json_object(), *v;
	char *s;

	v = json_loadb(val, vlen, 0, NULL);
	if (v == NULL) {
		/* binary records (rate counters, dedup): hex */
		char hex[2 * 512 + 1];
		size_t n = vlen < 512 ? vlen : 512;

		for (size_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x",
			         ((const unsigned char *)val)[i]);
		hex[2 * n] = '\0';
		v = json_pack("{s:s}", "hex", hex);
	}
	json_object_set_new(line, "key", json_stringn_nocheck(key, klen));
	json_object_set_new(line, "value", v);
	s = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s) {
		puts(s);
		free(s);
	}
	json_decref(line);
	return 0;
}

static gh_err
dump_fn(struct gh_txn *txn, void *arg)
{
	struct dump_arg *a = arg;

	return gh_txn_scan(txn, (enum gh_db)a->db, NULL, 0, 0, dump_rec, NULL,
	                   NULL);
}

static int
print_event(const json_t *ev, void *arg)
{
	char *s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (s) {
		puts(s);
		free(s);
	}
	return 0;
}

struct put_arg {
	int db;
	const char *key;
	size_t klen;
	json_t *val;
};

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	struct put_arg *a = arg;

	return gh_txn_put_json(txn, (enum gh_db)a->db, a->key, a->klen, a->val);
}

static gh_err
stop_fn(struct gh_txn *txn, void *arg)
{
	puts("held");
	fflush(stdout);
	raise(SIGSTOP);
	return GH_OK;
}

static int
hold_lockmdb(const char *dir)
{
	char p[4096];
	struct flock fl;
	int fd;

	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	fd = open(p, O_RDWR);
	if (fd < 0) {
		perror(p);
		return 1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_len = 1;
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		perror("fcntl");
		return 1;
	}
	puts("held");
	fflush(stdout);
	raise(SIGSTOP);
	return 0;
}

static int
mdb_writer(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 32)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_NOTLS, 0660)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		fprintf(stderr, "storetool: lmdb: %s\n", mdb_strerror(rc));
		return 1;
	}
	puts("held");
	fflush(stdout);
	raise(SIGSTOP);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return 0;
}

static int
fill(const char *dir, size_t map_max)
{
	struct gh_store *st;
	char pad[8192];
	gh_err err;
	int n = 0;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	err = open_store(dir, &st, 0, map_max, map_max, -1);
	if (err)
		return 1;
	for (;;) {
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "type",
		                       "test.fill", "title", "fill", "user",
		                       "nobody", "message", pad);

		err = gh_queue_enqueue(st, ev, gh_now_ms(), 0, NULL, NULL);
		json_decref(ev);
		if (err)
			break;
		n++;
	}
	gh_store_close(st);
	printf("%d %s\n", n, gh_errname(err));
	return err == GH_EFULL ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct gh_store *st = NULL;
	gh_err err;
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: storetool CMD DIR ...\n");
		return 2;
	}
	if (strcmp(argv[1], "init") == 0) {
		size_t ms = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;

		err = open_store(argv[2], &st, GH_STORE_CREATE, ms, ms, -1);
		gh_store_close(st);
		return err ? 1 : 0;
	}
	if (strcmp(argv[1], "holdmdb") == 0)
		return hold_lockmdb(argv[2]);
	if (strcmp(argv[1], "mdbwriter") == 0)
		return mdb_writer(argv[2]);
	if (strcmp(argv[1], "fill") == 0 && argc > 3)
		return fill(argv[2], strtoull(argv[3], NULL, 10));

	if (open_store(argv[2], &st, 0, 0, 0, -1))
		return 1;
	if (strcmp(argv[1], "dump") == 0 && argc > 3) {
		struct dump_arg a = {gh_db_lookup(argv[3])};

		if (a.db < 0)
			rc = die("unknown db", GH_EINVAL, argv[3]);
		else if ((err = gh_store_view(st, dump_fn, &a)))
			rc = die("dump", err, NULL);
	} else if (strcmp(argv[1], "events") == 0) {
		if ((err = gh_queue_list(st, GH_Q_ALL, 0, 0, 0, print_event,
		                         NULL)))
			rc = die("events", err, NULL);
	} else if (strcmp(argv[1], "put") == 0 && argc > 5) {
		char key[512];
		size_t kl = 0;
		struct put_arg a;

		a.db = gh_db_lookup(argv[3]);
		a.val = json_loads(argv[4], 0, NULL);
		for (int i = 5; i < argc; i++) {
			size_t n = strlen(argv[i]);

			if (kl + n + 1 > sizeof(key))
				return die("put", GH_ETOOBIG, "key");
			if (i > 5)
				key[kl++] = '\0';
			memcpy(key + kl, argv[i], n);
			kl += n;
		}
		a.key = key;
		a.klen = kl;
		if (a.db < 0 || a.val == NULL)
			rc = die("put", GH_EINVAL, NULL);
		else if ((err = gh_store_update(st, put_fn, &a)))
			rc = die("put", err, NULL);
		json_decref(a.val);
	} else if (strcmp(argv[1], "hold") == 0) {
		if ((err = gh_store_update(st, stop_fn, NULL)))
			rc = die("hold", err, NULL);
	} else {
		fprintf(stderr, "storetool: unknown command %s\n", argv[1]);
		rc = 2;
	}
	gh_store_close(st);
	return rc;
}
