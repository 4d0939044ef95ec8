/*
 * rectool.c - traffic for the retention tests, written at a given time.
 *
 * The producers (gatehouse-milter, the nginx module, pam_gatehouse) stamp
 * their records with the system clock; a test that plays 60 days in a
 * minute needs them stamped with the simulated day instead.  This tool
 * writes the records those producers write, in their layout
 * (docs/store.md), through libgatehouse, at the time it is given; the
 * purge under test (gatehouse-notifyd's, the bridge's, the CLI's) is the
 * real one.
 *
 *   rectool DIR day AT USER EVENTS MAILS UPLOADS HOSTS
 *       at time AT (ms): EVENTS events for USER (delivered by notifyd to
 *       its inbox), MAILS mail log records, UPLOADS upload records (two
 *       in three refused, one in three stored) and HOSTS new networks
 *       USER logged in from
 *   rectool DIR read USER AT EVERY SINCE
 *       mark every EVERY-th unread inbox item of USER that arrived at
 *       SINCE or later read at AT
 *   rectool DIR fill BYTES AT
 *       mail log records of about 64 KiB, finished at AT, until the
 *       store's records take BYTES
 *
 * One write transaction per command; prints nothing on success.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/queue.h"
#include "gatehouse/store.h"
#include "gatehouse/users.h"

struct day {
	int64_t at;
	const char *user;
	long events, mails, uploads, hosts;
};

static gh_err
put_seq(struct gh_txn *txn, enum gh_db db, const char *counter, json_t *rec)
{
	unsigned char k[8];
	uint64_t seq;
	gh_err err = gh_txn_next_seq(txn, counter, &seq);

	if (err)
		return err;
	json_object_set_new(rec, "id", json_integer((json_int_t)seq));
	gh_put_be64(k, seq);
	err = gh_txn_put_json(txn, db, k, 8, rec);
	json_decref(rec);
	return err;
}

static gh_err
day_fn(struct gh_txn *txn, void *arg)
{
	struct day *d = arg;
	uint64_t n;
	gh_err err = gh_txn_next_seq(txn, "rectool_day", &n);

	for (long i = 0; err == GH_OK && i < d->events; i++) {
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "type",
		                       "app.notice", "user", d->user, "title",
		                       "Daily notice", "message",
		                       "Something happened today");

		err = gh_queue_enqueue_txn(txn, ev, d->at, 0, NULL, NULL);
		json_decref(ev);
	}
	for (long i = 0; err == GH_OK && i < d->mails; i++)
		err = put_seq(txn, GH_DB_MAIL_LOG, "mail_log", json_pack(
		    "{s:i, s:s, s:s, s:[s], s:s, s:i, s:s, s:I, s:I}", "v", 1,
		    "queue_id", "4XyZ", "sender", "app@example.org", "rcpts",
		    "user@example.net", "subject", "Your receipt", "size",
		    2048, "action", "accepted", "started_at",
		    (json_int_t)d->at - 40, "finished_at", (json_int_t)d->at));
	for (long i = 0; err == GH_OK && i < d->uploads; i++)
		err = put_seq(txn, GH_DB_UPLOADS, "upload", json_pack(
		    "{s:i, s:s, s:s, s:s, s:s, s:I, s:I}", "v", 1, "user",
		    d->user, "original_name", "report.pdf", "status",
		    i % 3 == 2 ? "stored" : "rejected", "scan",
		    i % 3 == 2 ? "clean" : "not_scanned", "created_at",
		    (json_int_t)d->at, "updated_at", (json_int_t)d->at));
	for (long i = 0; err == GH_OK && i < d->hosts; i++) {
		unsigned char k[300];
		char net[64];
		size_t ul = strlen(d->user);
		json_t *rec;

		snprintf(net, sizeof(net), "10.%u.%u.0/24",
		         (unsigned)(n % 250), (unsigned)i);
		memcpy(k, d->user, ul + 1);
		memcpy(k + ul + 1, net, strlen(net));
		rec = json_pack("{s:i, s:I, s:I, s:i, s:s}", "v", 1,
		                "first_seen", (json_int_t)d->at, "last_seen",
		                (json_int_t)d->at, "count", 1, "addr", net);
		err = gh_txn_put_json(txn, GH_DB_KNOWN_HOSTS, k,
		                      ul + 1 + strlen(net), rec);
		json_decref(rec);
	}
	return err;
}

struct read_arg {
	const char *user;
	int64_t at, since;
	long every, seen;
	uint64_t ids[4096];
	size_t n;
};

static int
read_one(uint64_t id, const json_t *item, void *arg)
{
	struct read_arg *a = arg;

	if (json_integer_value(json_object_get(item, "created_at")) < a->since)
		return 0;
	if (a->seen++ % a->every == 0 && a->n < 4096)
		a->ids[a->n++] = id;
	return 0;
}

static gh_err
read_fn(struct gh_txn *txn, void *arg)
{
	struct read_arg *a = arg;
	gh_err err;

	a->n = 0;
	a->seen = 0;
	err = gh_inbox_list_txn(txn, a->user, GH_INBOX_UNREAD, 0, read_one, a);
	for (size_t i = 0; err == GH_OK && i < a->n; i++)
		err = gh_inbox_mark_read_txn(txn, a->user, a->ids[i], a->at,
		                             NULL);
	return err;
}

struct fill_arg {
	int64_t at;
	char *blob;
};

static gh_err
fill_fn(struct gh_txn *txn, void *arg)
{
	struct fill_arg *a = arg;

	return put_seq(txn, GH_DB_MAIL_LOG, "mail_log", json_pack(
	    "{s:i, s:s, s:s, s:I}", "v", 1, "action", "accepted", "subject",
	    a->blob, "finished_at", (json_int_t)a->at));
}

static struct gh_store *
open_store(const char *dir)
{
	struct gh_store_opts o;
	struct gh_store *st = NULL;
	char detail[512] = "";

	memset(&o, 0, sizeof(o));
	o.path = dir;
	o.flags = GH_STORE_NOSYNC;
	o.lock_timeout_ms = 10000;
	if (gh_store_open(&st, &o, detail, sizeof(detail)) != GH_OK) {
		fprintf(stderr, "rectool: %s: %s\n", dir, detail);
		exit(1);
	}
	return st;
}

int
main(int argc, char **argv)
{
	struct gh_store *st;
	gh_err err = GH_EINVAL;

	if (argc < 3) {
		fprintf(stderr, "usage: see rectool.c\n");
		return 64;
	}
	st = open_store(argv[1]);
	if (strcmp(argv[2], "day") == 0 && argc == 9) {
		struct day d = {strtoll(argv[3], NULL, 10), argv[4],
		                atol(argv[5]), atol(argv[6]), atol(argv[7]),
		                atol(argv[8])};

		err = gh_store_update(st, day_fn, &d);
	} else if (strcmp(argv[2], "read") == 0 && argc == 7) {
		static struct read_arg a;

		a.user = argv[3];
		a.at = strtoll(argv[4], NULL, 10);
		a.since = strtoll(argv[6], NULL, 10);
		a.every = atol(argv[5]) > 0 ? atol(argv[5]) : 1;
		err = gh_store_update(st, read_fn, &a);
	} else if (strcmp(argv[2], "fill") == 0 && argc == 5) {
		size_t want = (size_t)strtoull(argv[3], NULL, 10);
		struct fill_arg a = {strtoll(argv[4], NULL, 10), NULL};
		struct gh_store_info info;

		a.blob = malloc(64 * 1024);
		if (a.blob == NULL)
			return 71;
		memset(a.blob, 'x', 64 * 1024 - 1);
		a.blob[64 * 1024 - 1] = '\0';
		err = GH_OK;
		while (err == GH_OK &&
		       (err = gh_store_info(st, &info)) == GH_OK &&
		       info.in_use < want)
			err = gh_store_update(st, fill_fn, &a);
		free(a.blob);
	} else {
		fprintf(stderr, "usage: see rectool.c\n");
		gh_store_close(st);
		return 64;
	}
	gh_store_close(st);
	if (err) {
		fprintf(stderr, "rectool: %s: %s\n", argv[2], gh_strerror(err));
		return 1;
	}
	return 0;
}
