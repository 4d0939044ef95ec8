/*
 * bench_queue.c - queue throughput against LMDB's raw append rate on the
 * same file system, in the same run.
 *
 *   bench_queue DIR LABEL [DURABLE_N] [BATCH_N]
 *
 * Prints one table row per measurement:
 *   LABEL  case  events  seconds  events/s  ratio-to-anchor
 * The anchors are raw LMDB: MDB_APPEND puts of a record of the same size as
 * an encoded event, committed one per transaction (for the durable case) or
 * a thousand per transaction (for the batched case), with the same sync
 * setting.  Nothing here asserts a time; bench/queue/run prints the table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "gatehouse/event.h"
#include "gatehouse/queue.h"
#include "gatehouse/store.h"

#define BATCH 1000
#define LEASE 256

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *
make_event(int i, int dedup)
{
	char key[32];
	struct gh_event *b = gh_event_new();
	json_t *e = NULL;

	gh_event_set_type(b, "login.new_host");
	gh_event_set_user(b, "alice@example.org");
	gh_event_set_title(b, "New sign-in to mail.example.org");
	gh_event_set_message(b, "A new sign-in from 192.0.2.10 using ssh on "
	                     "pts/3.");
	gh_event_set_priority(b, GH_PRIORITY_NORMAL);
	gh_event_meta_str(b, "ip", "192.0.2.10");
	gh_event_meta_str(b, "service", "sshd");
	if (dedup) {
		snprintf(key, sizeof(key), "bench-%d", i);
		gh_event_set_dedup_key(b, key);
	}
	gh_event_finish(b, &e, NULL, 0);   /* NULL: the caller's check */
	return e;
}

/* Raw LMDB appends: n records of vlen bytes, per_txn to a transaction. */
static double
raw_append(const char *dir, int n, int per_txn, size_t vlen, int sync)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	unsigned char kb[8];
	char *val = calloc(1, vlen);
	double t0, t;

	mkdir(dir, 0770);
	mdb_env_create(&env);
	mdb_env_set_mapsize(env, (size_t)1 << 30);
	mdb_env_set_maxdbs(env, 4);
	if (mdb_env_open(env, dir, MDB_NOTLS | (sync ? 0 : MDB_NOSYNC), 0660)) {
		fprintf(stderr, "bench: cannot open %s\n", dir);
		exit(1);
	}
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, "raw", MDB_CREATE, &dbi);
	mdb_txn_commit(txn);
	memset(val, 'x', vlen);
	t0 = now_s();
	for (int i = 0; i < n; i += per_txn) {
		mdb_txn_begin(env, NULL, 0, &txn);
		for (int j = i; j < i + per_txn && j < n; j++) {
			gh_put_be64(kb, (uint64_t)j + 1);
			k.mv_data = kb;
			k.mv_size = 8;
			v.mv_data = val;
			v.mv_size = vlen;
			if (mdb_put(txn, dbi, &k, &v, MDB_APPEND)) {
				fprintf(stderr, "bench: raw put failed\n");
				exit(1);
			}
		}
		if (mdb_txn_commit(txn)) {
			fprintf(stderr, "bench: raw commit failed\n");
			exit(1);
		}
	}
	t = now_s() - t0;
	mdb_env_close(env);
	free(val);
	return t;
}

static struct gh_store *
open_store(const char *dir, int sync)
{
	struct gh_store *st;
	struct gh_store_opts o = {.path = dir, .flags = GH_STORE_CREATE,
	                          .map_size = (size_t)256 << 20,
	                          .lock_timeout_ms = 10000};
	char detail[256];

	if (!sync)
		o.flags |= GH_STORE_NOSYNC;
	if (gh_store_open(&st, &o, detail, sizeof(detail))) {
		fprintf(stderr, "bench: %s\n", detail);
		exit(1);
	}
	return st;
}

static void
row(const char *label, const char *what, int n, double t, double anchor_t,
    int anchor_n)
{
	double rate = n / t;

	if (anchor_t > 0)
		printf("%-8s %-34s %8d %8.3f %10.0f %6.2f\n", label, what, n, t,
		       rate, rate / (anchor_n / anchor_t));
	else
		printf("%-8s %-34s %8d %8.3f %10.0f %6s\n", label, what, n, t,
		       rate, "anchor");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *dir, *label;
	int nd, nb;
	char path[512];
	struct gh_store *st;
	size_t vlen;
	json_t *sample;
	double t0, t_raw_d, t_raw_b, t;
	int total;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_queue DIR LABEL [DURABLE_N] [BATCH_N]\n");
		return 64;
	}
	dir = argv[1];
	label = argv[2];
	nd = argc > 3 ? atoi(argv[3]) : 2000;
	nb = argc > 4 ? atoi(argv[4]) : 200000;

	/* The anchor record is as big as a stored event. */
	sample = make_event(0, 0);
	/* + what enqueue adds: v, id, created_at, category, source */
	vlen = json_dumpb(sample, NULL, 0, JSON_COMPACT) + 80;
	json_decref(sample);

	snprintf(path, sizeof(path), "%s/raw-durable", dir);
	t_raw_d = raw_append(path, nd, 1, vlen, 1);
	row(label, "raw LMDB append, 1/commit, fsync", nd, t_raw_d, 0, 0);

	for (int dedup = 0; dedup < 2; dedup++) {
		snprintf(path, sizeof(path), "%s/q-durable%d", dir, dedup);
		st = open_store(path, 1);
		json_t **evs = calloc((size_t)nd, sizeof(*evs));

		for (int i = 0; i < nd; i++)
			evs[i] = make_event(i, dedup);
		t0 = now_s();
		for (int i = 0; i < nd; i++) {
			if (gh_queue_enqueue(st, evs[i], gh_now_ms(), 0, NULL,
			                     NULL)) {
				fprintf(stderr, "bench: enqueue failed\n");
				return 1;
			}
		}
		t = now_s() - t0;
		for (int i = 0; i < nd; i++)
			json_decref(evs[i]);
		free(evs);
		row(label, dedup ? "enqueue+dedup key, 1/commit, fsync" :
		    "enqueue, 1/commit, fsync", nd, t, t_raw_d, nd);
		gh_store_close(st);
	}

	snprintf(path, sizeof(path), "%s/raw-batched", dir);
	t_raw_b = raw_append(path, nb, BATCH, vlen, 1);
	row(label, "raw LMDB append, 1000/commit, fsync", nb, t_raw_b, 0, 0);

	snprintf(path, sizeof(path), "%s/q-batched", dir);
	st = open_store(path, 1);
	{
		json_t **evs = calloc(BATCH, sizeof(*evs));

		/* Enqueue only reads the events: one batch built once is
		 * enqueued again and again, so building JSON is not timed. */
		for (int j = 0; j < BATCH; j++)
			evs[j] = make_event(j, 0);
		t0 = now_s();
		for (int i = 0; i < nb; i += BATCH) {
			int b = nb - i < BATCH ? nb - i : BATCH;

			if (gh_queue_enqueue_batch(st, evs, (size_t)b, gh_now_ms(), 0,
			                           NULL, NULL, NULL)) {
				fprintf(stderr, "bench: batch enqueue failed\n");
				return 1;
			}
		}
		t = now_s() - t0;
		for (int j = 0; j < BATCH; j++)
			json_decref(evs[j]);
		free(evs);
	}
	row(label, "enqueue, 1000/commit, fsync", nb, t, t_raw_b, nb);

	/* Drain what was just enqueued: lease 256, ack 256. */
	{
		struct gh_lease *l = calloc(LEASE, sizeof(*l));
		size_t n;

		total = 0;
		t0 = now_s();
		for (;;) {
			int64_t now = gh_now_ms();

			if (gh_queue_lease(st, now, LEASE, 60000, l, &n)) {
				fprintf(stderr, "bench: lease failed\n");
				return 1;
			}
			if (n == 0)
				break;
			if (gh_queue_ack(st, l, n, now, NULL)) {
				fprintf(stderr, "bench: ack failed\n");
				return 1;
			}
			gh_lease_release(l, n);
			total += (int)n;
		}
		t = now_s() - t0;
		free(l);
	}
	/* Lease and ack are two commits per 256 events: compare with raw. */
	row(label, "lease+ack, 256/commit, fsync", total, t, t_raw_b, nb);
	gh_store_close(st);
	return 0;
}
