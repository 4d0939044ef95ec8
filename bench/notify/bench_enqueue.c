/*
 * bench_enqueue.c - the producer of bench/notify: N events into the queue,
 * as fast as possible (batches of 1 000 per commit) or at a steady rate
 * (one batch every 10 ms), with the store settings of a gatehouse.conf.
 *
 *   bench_enqueue CONF N RATE user|mail [DOMAIN]
 *     user   event i is for user "u<i % 100>" (the default channels)
 *     mail   event i names recipient "mail:u<i % 100>@example.org"
 *   RATE     events per second, 0: as fast as possible
 *   DOMAIN   mail, web or login: commit into that producer domain's store
 *            (its outbox, for gatehouse-bridge) instead of the core's, as
 *            a "mail.bench", "upload.bench" or "login.bench" event for
 *            user "u<i % 100>" (bench/notify/cluster)
 *
 * Every event carries metadata.commit_ms, the time its batch was
 * committed (taken just before the commit, so the producer's own fsync
 * counts as lag): the sink's lag is measured from it.
 *
 * Prints "enqueued N in S s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/event.h"
#include "gatehouse/queue.h"

#define BATCH_MAX 1000

static void
nap_until(int64_t ms)
{
	int64_t now = gh_now_ms();
	struct timespec ts;

	if (ms <= now)
		return;
	ts.tv_sec = (ms - now) / 1000;
	ts.tv_nsec = ((ms - now) % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	struct gh_conf *conf = NULL;
	struct gh_store *st = NULL;
	struct gh_store_opts o;
	json_t *evs[BATCH_MAX];
	char detail[512], buf[128];
	long n, rate, per;
	const char *type = "bench.event";
	int mail, dom = GH_DOMAIN_CORE, rc = 1;
	int64_t t0, next, now;
	gh_err err;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: bench_enqueue CONF N RATE user|mail "
		        "[DOMAIN]\n");
		return 64;
	}
	if (argc == 6) {
		static const char *const types[] = {
			[GH_DOMAIN_MAIL] = "mail.bench",
			[GH_DOMAIN_WEB] = "upload.bench",
			[GH_DOMAIN_LOGIN] = "login.bench",
		};

		dom = gh_domain_lookup(argv[5]);
		if (dom <= GH_DOMAIN_CORE) {
			fprintf(stderr, "bench_enqueue: DOMAIN is mail, web or "
			        "login, not '%s'\n", argv[5]);
			return 64;
		}
		type = types[dom];
	}
	n = atol(argv[2]);
	rate = atol(argv[3]);
	mail = strcmp(argv[4], "mail") == 0 && dom == GH_DOMAIN_CORE;
	err = gh_conf_load(&conf, argv[1], detail, sizeof(detail));
	if (err) {
		fprintf(stderr, "bench_enqueue: %s\n", detail);
		return 78;
	}
	gh_conf_domain_store_opts(conf, (enum gh_domain)dom, &o, NULL);
	o.flags |= GH_STORE_CREATE;
	err = gh_store_open(&st, &o, detail, sizeof(detail));
	if (err) {
		fprintf(stderr, "bench_enqueue: %s\n", detail);
		goto done;
	}
	per = rate > 0 ? rate / 100 : BATCH_MAX;
	if (per < 1)
		per = 1;
	if (per > BATCH_MAX)
		per = BATCH_MAX;
	t0 = next = gh_now_ms();
	for (long i = 0; i < n;) {
		long k = n - i < per ? n - i : per;

		now = gh_now_ms();

		for (long j = 0; j < k; j++) {
			long x = i + j;

			struct gh_event *b = gh_event_new();

			snprintf(buf, sizeof(buf), "bench event %ld", x);
			gh_event_set_type(b, type);
			gh_event_set_title(b, buf);
			gh_event_set_message(b, "a notification from bench/notify");
			gh_event_meta_int(b, "n", x);
			gh_event_meta_int(b, "commit_ms", now);
			if (mail) {
				snprintf(buf, sizeof(buf), "mail:u%ld@example.org",
				         x % 100);
				gh_event_add_recipient(b, buf);
			} else {
				snprintf(buf, sizeof(buf), "u%ld", x % 100);
				gh_event_set_user(b, buf);
			}
			err = gh_event_finish(b, &evs[j], detail, sizeof(detail));
			if (err) {
				fprintf(stderr, "bench_enqueue: %s\n", detail);
				for (long m = 0; m < j; m++)
					json_decref(evs[m]);
				goto done;
			}
		}
		err = gh_queue_enqueue_batch(st, evs, (size_t)k, now, 0,
		                             NULL, NULL, NULL);
		for (long j = 0; j < k; j++)
			json_decref(evs[j]);
		if (err) {
			fprintf(stderr, "bench_enqueue: %s\n", gh_strerror(err));
			goto done;
		}
		i += k;
		if (rate > 0) {
			next += 10;
			nap_until(next);
		}
	}
	printf("enqueued %ld in %.3f s\n", n,
	       (double)(gh_now_ms() - t0) / 1000.0);
	rc = 0;
done:
	gh_store_close(st);
	gh_conf_free(conf);
	return rc;
}
