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

#include "gatehouse/deliveries.h"
#include "cli.h"

struct dl_arg {
	int failed;
	const char *channel, *state;
	uint64_t event;
	size_t limit, n, skipped;
	json_t *arr;
};

static int
dl_row(const struct gh_delivery *d, void *arg)
{
	struct dl_arg *a = arg;
	char t[32];

	if ((a->channel && strcmp(d->channel, a->channel) != 0) ||
	    (a->state && strcmp(d->state, a->state) != 0) ||
	    (a->failed && strcmp(d->state, "dead") != 0 &&
	     strcmp(d->state, "retry") != 0))
		return 0;
	if (a->arr)
		json_array_append(a->arr, d->rec);
	else
		cli_printf("%-8" PRIu64 " %-14s %-28s %-10s %-3" PRId64
		           " %-20s %s\n", d->event, d->channel, d->recipient,
		           d->state, d->attempts,
		           cli_time(d->updated_at, t, sizeof(t)),
		           d->last_error ? d->last_error : d->reason);
	return a->limit && ++a->n >= a->limit;
}

static gh_err
dl_view(struct gh_txn *txn, void *arg)
{
	struct dl_arg *a = arg;

	a->n = 0;
	if (a->arr)
		json_array_clear(a->arr);
	/* newest events first */
	return gh_delivery_scan_txn(txn, a->event, 1, dl_row, a, &a->skipped);
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
	cli_skipped(c, a.skipped, "deliveries list");
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
