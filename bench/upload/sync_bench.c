/*
 * sync_bench.c - what making a stored upload durable costs, per upload, for
 * each way of doing it, back to back in one run on one file system.
 *
 *   sync_bench DIR SIZE CONC N [VARIANT...]
 *
 * Each of CONC threads does N/CONC uploads the way the nginx module's job
 * does them: a temp file in DIR/.incoming written in 32 KiB writes (the
 * module's buffer), renamed to DIR/files/NAME, and a record of the upload's
 * size committed to a store in DIR/store through a group commit (the
 * module's: gatehouse/group.h, with [store] sync).  The variants differ only
 * in how the file is made durable before its record commits:
 *
 *   none      nothing (gatehouse_upload_sync off): the anchor
 *   fdatasync fdatasync() of the file, rename, fsync() of the directory
 *   early     sync_file_range(SYNC_FILE_RANGE_WRITE) after every 256 KiB
 *             written, so writeback starts while the body streams in; then
 *             fdatasync(), rename, fsync() of the directory
 *   syncfs    rename, then one syncfs() per group of uploads that reach it
 *             together (a leader syncs for every waiter, as the store's
 *             group commit does), no per-file sync
 *
 * Prints one JSON object per variant on stdout: uploads/s, mean and p99 ms
 * per upload.  bench/upload/sync_run runs it over sizes and concurrencies
 * and prints ratios.  Nothing is asserted.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gatehouse/group.h"
#include "gatehouse/store.h"

#define WBUF        (32 * 1024)
#define EARLY_EVERY (256 * 1024)
#define MAX_THREADS 64

enum variant { V_NONE, V_FDATASYNC, V_EARLY, V_SYNCFS };

static const char *variant_names[] = { "none", "fdatasync", "early",
                                       "syncfs" };

static const char *dir;
static size_t size;
static struct gh_group *group;
static enum variant variant;
static int dir_fd = -1;
static unsigned char wbuf[WBUF];

/* the syncfs group: a leader syncs for everyone who arrived before it */
static pthread_mutex_t sfs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sfs_cond = PTHREAD_COND_INITIALIZER;
static uint64_t sfs_started, sfs_done;
static int sfs_running;

struct worker {
	pthread_t tid;
	int id, n;
	double *lat;
	int failed;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
syncfs_group(void)
{
	uint64_t need, mine;
	int rc = 0;

	pthread_mutex_lock(&sfs_lock);
	/* a syncfs that started before this upload's rename does not cover it */
	need = sfs_started + 1;
	while (sfs_done < need) {
		if (sfs_running) {
			pthread_cond_wait(&sfs_cond, &sfs_lock);
			continue;
		}
		sfs_running = 1;
		mine = ++sfs_started;
		pthread_mutex_unlock(&sfs_lock);
		if (syncfs(dir_fd) == -1)
			rc = -1;
		pthread_mutex_lock(&sfs_lock);
		sfs_done = mine;
		sfs_running = 0;
		pthread_cond_broadcast(&sfs_cond);
	}
	pthread_mutex_unlock(&sfs_lock);
	return rc;
}

struct rec {
	uint64_t key;
	const char *json;
};

static gh_err
put_record(struct gh_txn *txn, void *arg)
{
	struct rec *r = arg;

	return gh_txn_put(txn, GH_DB_UPLOADS, &r->key, sizeof(r->key), r->json,
	                  strlen(r->json));
}

static int
sync_path(const char *path, int is_dir)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
	                | (is_dir ? O_DIRECTORY : 0));
	if (fd == -1)
		return -1;
	rc = is_dir ? fsync(fd) : fdatasync(fd);
	close(fd);
	return rc;
}

static int
one_upload(struct worker *w, int i)
{
	char temp[4096], dest[4096], files[4096], json[256];
	size_t done, n, since = 0;
	off_t synced = 0;
	struct rec r;
	int fd, rc = -1;

	snprintf(temp, sizeof(temp), "%s/.incoming/%d-%d.part", dir, w->id, i);
	snprintf(dest, sizeof(dest), "%s/files/%s-%d-%d.bin", dir,
	         variant_names[variant], w->id, i);
	snprintf(files, sizeof(files), "%s/files", dir);

	fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0640);
	if (fd == -1)
		return -1;
	for (done = 0; done < size; done += n) {
		n = size - done < WBUF ? size - done : WBUF;
		if (write(fd, wbuf, n) != (ssize_t)n)
			goto cleanup;
		since += n;
		if (variant == V_EARLY && since >= EARLY_EVERY) {
			(void)sync_file_range(fd, synced, (off_t)since,
			                      SYNC_FILE_RANGE_WRITE);
			synced += (off_t)since;
			since = 0;
		}
	}
	if (close(fd) == -1) {
		fd = -1;
		goto cleanup;
	}
	fd = -1;

	/* the module's job: the pool thread reopens the file by name */
	if ((variant == V_FDATASYNC || variant == V_EARLY)
	    && sync_path(temp, 0) == -1)
		goto cleanup;
	if (rename(temp, dest) == -1)
		goto cleanup;
	if ((variant == V_FDATASYNC || variant == V_EARLY)
	    && sync_path(files, 1) == -1)
		goto cleanup;
	if (variant == V_SYNCFS && syncfs_group() == -1)
		goto cleanup;

	snprintf(json, sizeof(json), "{\"status\":\"stored\",\"size\":%zu,"
	         "\"stored_name\":\"%s\"}", size, dest + strlen(dir));
	r.key = ((uint64_t)variant << 56) | ((uint64_t)w->id << 32)
	        | (uint64_t)i;
	r.json = json;
	if (gh_group_update(group, put_record, &r) != GH_OK)
		goto cleanup;
	rc = 0;
cleanup:
	if (fd != -1)
		close(fd);
	return rc;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	double t0;
	int i;

	for (i = 0; i < w->n; i++) {
		t0 = now_s();
		if (one_upload(w, i) == -1) {
			w->failed = errno ? errno : EIO;
			return NULL;
		}
		w->lat[i] = now_s() - t0;
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Remove what a variant left, so the next one starts from the same place:
 * a full sync first, so no variant pays for another's dirty pages. */
static void
clean(void)
{
	char path[4096];
	int i, j, v;

	for (v = 0; v < 4; v++)
		for (i = 0; i < MAX_THREADS; i++)
			for (j = 0; j < 100000; j++) {
				snprintf(path, sizeof(path), "%s/files/%s-%d-%d.bin",
				         dir, variant_names[v], i, j);
				if (unlink(path) == -1)
					break;
			}
	syncfs(dir_fd);
}

static int
run(int conc, int total)
{
	struct worker w[MAX_THREADS];
	double *all, sum = 0, t0, el;
	int i, j, k = 0, per = total / conc, failed = 0;

	all = calloc((size_t)per * (size_t)conc, sizeof(double));
	if (all == NULL)
		return -1;
	t0 = now_s();
	for (i = 0; i < conc; i++) {
		w[i].id = i;
		w[i].n = per;
		w[i].lat = all + (size_t)i * (size_t)per;
		w[i].failed = 0;
		pthread_create(&w[i].tid, NULL, work, &w[i]);
	}
	for (i = 0; i < conc; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].failed)
			failed = w[i].failed;
	}
	el = now_s() - t0;
	if (failed) {
		fprintf(stderr, "sync_bench: %s: %s\n", variant_names[variant],
		        strerror(failed));
		free(all);
		return -1;
	}
	for (i = 0; i < conc; i++)
		for (j = 0; j < per; j++, k++)
			sum += all[k];
	qsort(all, (size_t)k, sizeof(double), cmp_double);
	printf("{\"variant\": \"%s\", \"size\": %zu, \"conc\": %d, \"n\": %d, "
	       "\"seconds\": %.4f, \"ups\": %.2f, \"mean_ms\": %.3f, "
	       "\"p99_ms\": %.3f}\n", variant_names[variant], size, conc, k, el,
	       k / el, sum / k * 1000, all[(size_t)(k * 0.99)] * 1000);
	fflush(stdout);
	free(all);
	return 0;
}

int
main(int argc, char **argv)
{
	struct gh_store_opts opts = { 0 };
	struct gh_store *store = NULL;
	char path[4096], detail[256];
	int conc, n, a, rc = 1;

	if (argc < 5) {
		fprintf(stderr, "usage: sync_bench DIR SIZE CONC N "
		        "[none|fdatasync|early|syncfs ...]\n");
		return 64;
	}
	dir = argv[1];
	size = strtoul(argv[2], NULL, 10);
	conc = atoi(argv[3]);
	n = atoi(argv[4]);
	if (size == 0 || conc < 1 || conc > MAX_THREADS || n < conc) {
		fprintf(stderr, "sync_bench: bad SIZE, CONC or N\n");
		return 64;
	}
	memset(wbuf, 'g', sizeof(wbuf));

	snprintf(path, sizeof(path), "%s/.incoming", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/files", dir);
	mkdir(path, 0750);
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd == -1) {
		perror(dir);
		return 66;
	}
	snprintf(path, sizeof(path), "%s/store", dir);
	opts.path = path;
	opts.flags = GH_STORE_CREATE;
	opts.lock_timeout_ms = 10000;
	if (gh_store_open(&store, &opts, detail, sizeof(detail)) != GH_OK
	    || gh_group_new(&group, store, NULL) != GH_OK) {
		fprintf(stderr, "sync_bench: store: %s\n", detail);
		goto cleanup;
	}

	for (a = 5; a < argc || a == 5; a++) {
		const char *name = a < argc ? argv[a] : NULL;
		int v;

		for (v = 0; v < 4; v++)
			if (name == NULL || strcmp(name, variant_names[v]) == 0)
				break;
		if (v == 4) {
			fprintf(stderr, "sync_bench: unknown variant %s\n", name);
			goto cleanup;
		}
		if (name == NULL) {
			/* all of them, in order */
			for (v = 0; v < 4; v++) {
				variant = (enum variant)v;
				clean();
				if (run(conc, n) == -1)
					goto cleanup;
			}
			break;
		}
		variant = (enum variant)v;
		clean();
		if (run(conc, n) == -1)
			goto cleanup;
	}
	clean();
	rc = 0;
cleanup:
	gh_group_free(group);
	gh_store_close(store);
	close(dir_fd);
	return rc;
}
