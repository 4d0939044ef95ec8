/*
 * cmd_deliveries.c - `gatehouse deliveries list`: what gatehouse-notifyd
 * did with each (event, channel, recipient), newest events first, from
 * the deliveries database (layout in docs/store.md).
 *
 *   --failed         only deliveries that failed: dead, or waiting to retry
 *   --channel NAME   only this channel instance
 *   --state STATE    delivered, retry, deferred, dead, skipped, expired, held
 *   --event ID       only this event
 *   --limit N        at most N rows (default 100, 0: all)
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct dl_arg {
	int failed;
	const char *channel, *state;
	uint64_t event;
	size_t limit, n;
	json_t *arr;
};

static const char *
dstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int
dl_row(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct dl_arg *a = arg;
	const char *st, *why;
	json_t *rec;
	char t[32];

	if (klen < 9)
		return 0;
	if (a->event && gh_get_be64(key) != a->event)
		return gh_get_be64(key) < a->event;
	rec = json_loadb(val, vlen, 0, NULL);
	if (rec == NULL)
		return 0;
	st = dstr(rec, "state");
	if ((a->channel && strcmp(dstr(rec, "channel"), a->channel) != 0) ||
	    (a->state && strcmp(st, a->state) != 0) ||
	    (a->failed && strcmp(st, "dead") != 0 && strcmp(st, "retry") != 0)) {
		json_decref(rec);
		return 0;
	}
	if (a->arr) {
		json_array_append_new(a->arr, rec);
	} else {
		why = json_is_string(json_object_get(rec, "last_error")) ?
		      dstr(rec, "last_error") : dstr(rec, "reason");
		cli_printf("%-8" PRId64 " %-14s %-28s %-10s %-3" PRId64 " %-20s %s\n",
		           (int64_t)gh_get_be64(key), dstr(rec, "channel"),
		           dstr(rec, "recipient"), st,
		           (int64_t)json_integer_value(json_object_get(rec,
		                                                       "attempts")),
		           cli_time(json_integer_value(json_object_get(rec,
		                    "updated_at")), t, sizeof(t)), why);
		json_decref(rec);
	}
	return a->limit && ++a->n >= a->limit;
}

static gh_err
dl_view(struct gh_txn *txn, void *arg)
{
	struct dl_arg *a = arg;
	unsigned char k[9];

	a->n = 0;
	if (a->arr)
		json_array_clear(a->arr);
	if (a->event) {
		/* the event's records end before (id + 1) */
		gh_put_be64(k, a->event + 1);
		k[8] = 0;
		return gh_txn_scan(txn, GH_DB_DELIVERIES, k, 8, 1, dl_row, a,
		                   NULL);
	}
	return gh_txn_scan(txn, GH_DB_DELIVERIES, NULL, 0, 1, dl_row, a, NULL);
}

static int
deliveries_list(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"failed", no_argument, NULL, 'f'},
		{"channel", required_argument, NULL, 'c'},
		{"state", required_argument, NULL, 's'},
		{"event", required_argument, NULL, 'e'},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct dl_arg a;
	int ch, rc;
	gh_err err;

	memset(&a, 0, sizeof(a));
	a.limit = 100;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'f':
			a.failed = 1;
			break;
		case 'c':
			a.channel = optarg;
			break;
		case 's':
			a.state = optarg;
			break;
		case 'e':
			a.event = cli_parse_id(optarg);
			if (a.event == 0)
				return cli_usage(c, "deliveries list: bad --event");
			break;
		case 'n':
			a.limit = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "deliveries list: unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "deliveries list: unexpected '%s'",
		                 argv[optind]);
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (c->json)
		a.arr = json_array();
	err = gh_store_view(c->st, dl_view, &a);
	if (err) {
		json_decref(a.arr);
		return cli_fail(c, err, "deliveries list", NULL);
	}
	if (a.arr) {
		cli_print_json(a.arr);
		json_decref(a.arr);
	}
	return EXIT_OK;
}

int
cmd_deliveries(struct cli *c, int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "list") == 0)
		return deliveries_list(c, argc - 1, argv + 1);
	return cli_usage(c, "deliveries: expected list [--failed] [--channel "
	                 "NAME] [--state STATE] [--event ID] [--limit N]");
}
