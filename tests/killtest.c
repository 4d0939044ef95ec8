/*
 * killtest.c - the processes of the multi-process queue test
 * (tests/integration/common/test_killtest.py drives them).
 *
 *   killtest produce STORE P N OUT    producer P enqueues N events in random
 *                                     batches, writing "key id" per event to
 *                                     OUT after each commit
 *   killtest consume STORE LOG DONE   leases, appends "id" to LOG, acks;
 *                                     exits when DONE exists and nothing is
 *                                     left; meant to be SIGKILLed at random
 *
 * Every fourth event of every producer carries a dedup key shared by all
 * producers ("s<j>"), the rest a key of their own, so the test can check
 * that each key yields exactly one event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/queue.h"
#include "gatehouse/store.h"

#define BATCH_MAX 50
#define LEASE_N 64

static int
open_store(const char *path, struct gh_store **st)
{
	struct gh_store_opts o = {.path = path, .lock_timeout_ms = 30000};
	char detail[256];
	gh_err err = gh_store_open(st, &o, detail, sizeof(detail));

	if (err) {
		fprintf(stderr, "killtest: open %s: %s (%s)\n", path,
		        gh_strerror(err), detail);
		return 1;
	}
	return 0;
}

static int
produce(const char *path, int p, int n, const char *out)
{
	struct gh_store *st;
	json_t *evs[BATCH_MAX];
	char keys[BATCH_MAX][32];
	uint64_t ids[BATCH_MAX];
	FILE *fp;
	int j = 0;

	if (open_store(path, &st))
		return 1;
	fp = fopen(out, "w");
	if (fp == NULL)
		return 1;
	srand((unsigned)(getpid() ^ time(NULL)));
	while (j < n) {
		int b = 1 + rand() % BATCH_MAX;
		gh_err err;

		if (b > n - j)
			b = n - j;
		for (int i = 0; i < b; i++) {
			int k = j + i;

			if (k % 4 == 0)
				snprintf(keys[i], sizeof(keys[i]), "s%d", k);
			else
				snprintf(keys[i], sizeof(keys[i]), "p%d-%d", p, k);
			evs[i] = json_pack("{s:s, s:s, s:s, s:s, s:i}", "type",
			                   "test.kill", "user", "u", "title", "t",
			                   "dedup_key", keys[i], "priority",
			                   1 + k % 4);
		}
		err = gh_queue_enqueue_batch(st, evs, (size_t)b, gh_now_ms(),
		                             3600 * 1000, ids, NULL, NULL);
		for (int i = 0; i < b; i++)
			json_decref(evs[i]);
		if (err) {
			fprintf(stderr, "killtest: producer %d: %s\n", p,
			        gh_strerror(err));
			return 1;
		}
		for (int i = 0; i < b; i++)
			fprintf(fp, "%s %" PRIu64 "\n", keys[i], ids[i]);
		fflush(fp);
		j += b;
	}
	fclose(fp);
	gh_store_close(st);
	return 0;
}

static int
consume(const char *path, const char *log, const char *done)
{
	struct gh_store *st;
	struct gh_lease l[LEASE_N];
	FILE *fp;
	size_t n;
	gh_err err;

	if (open_store(path, &st))
		return 1;
	fp = fopen(log, "a");
	if (fp == NULL)
		return 1;
	for (;;) {
		/* A short visibility so events of a killed consumer come back
		 * quickly in the test. */
		err = gh_queue_lease(st, gh_now_ms(), LEASE_N, 300, l, &n);
		if (err) {
			fprintf(stderr, "killtest: lease: %s\n", gh_strerror(err));
			return 1;
		}
		if (n == 0) {
			struct gh_queue_stats s;

			if (access(done, F_OK) == 0 &&
			    gh_queue_stats(st, gh_now_ms(), &s) == GH_OK &&
			    s.count[0] == 0 && s.count[1] == 0)
				break;
			usleep(20000);
			continue;
		}
		/* "Deliver" before acking: at least once. */
		for (size_t i = 0; i < n; i++)
			fprintf(fp, "%" PRIu64 "\n", l[i].id);
		fflush(fp);
		err = gh_queue_ack(st, l, n, gh_now_ms(), NULL);
		gh_lease_release(l, n);
		if (err) {
			fprintf(stderr, "killtest: ack: %s\n", gh_strerror(err));
			return 1;
		}
	}
	fclose(fp);
	gh_store_close(st);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "produce") == 0)
		return produce(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
	if (argc == 5 && strcmp(argv[1], "consume") == 0)
		return consume(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: killtest produce STORE P N OUT | "
	        "consume STORE LOG DONE\n");
	return 64;
}
