/*
 * cmd_events.c - `gatehouse events list|show|enqueue|retry|purge`: look
 * into and act on the notification queue.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/deliveries.h"
#include "cli.h"

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int64_t
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ---- list ---- */

struct list_out {
	json_t *arr;
	size_t n;
};

static int
list_row(const json_t *ev, void *arg)
{
	struct list_out *o = arg;
	const json_t *q = json_object_get(ev, "q");
	char t[32];

	o->n++;
	if (o->arr) {
		json_array_append(o->arr, (json_t *)ev);
		return 0;
	}
	cli_printf("%-8" PRId64 " %-8s %-4" PRId64 " %-20s %-16s %-20s %s\n",
	           jint(ev, "id"), jstr(q, "state"), jint(ev, "priority"),
	           jstr(ev, "type"), jstr(ev, "user"),
	           cli_time(jint(ev, "created_at"), t, sizeof(t)), jstr(ev, "title"));
	return 0;
}

static unsigned
parse_states(const char *s)
{
	char buf[128], *save, *tok;
	unsigned mask = 0, m;

	if (strlen(s) >= sizeof(buf))
		return 0;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		m = gh_qstate_parse(tok);
		if (m == 0)
			return 0;
		mask |= m;
	}
	return mask;
}

static int
events_list(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"state", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'n'},
		{"after", required_argument, NULL, 'a'},
		{"oldest-first", no_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	unsigned states = GH_Q_ALL;
	size_t limit = 50;
	uint64_t after = 0;
	int reverse = 1, ch, rc;
	struct list_out out = {NULL, 0};
	gh_err err;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 's':
			states = parse_states(optarg);
			if (!states)
				return cli_usage(c, "events list: bad --state '%s' "
				                 "(ready, leased, done, dead, expired, all)",
				                 optarg);
			break;
		case 'n':
			limit = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			after = cli_parse_id(optarg);
			if (!after)
				return cli_usage(c, "events list: bad --after '%s'", optarg);
			break;
		case 'o':
			reverse = 0;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "events list: unknown option");
		}
	}
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (c->json)
		out.arr = json_array();
	else
		cli_printf("%-8s %-8s %-4s %-20s %-16s %-20s %s\n", "ID", "STATE",
		           "PRIO", "TYPE", "USER", "CREATED", "TITLE");
	err = gh_queue_list(c->st, states, after, reverse, limit, list_row, &out);
	if (out.arr) {
		if (err == GH_OK)
			cli_print_json(out.arr);
		json_decref(out.arr);
	}
	if (err)
		return cli_fail(c, err, "events list", NULL);
	return EXIT_OK;
}

/* ---- show ---- */

struct deliv_arg {
	uint64_t id;
	json_t *arr;
};

static int
deliv_row(const struct gh_delivery *dl, void *arg)
{
	struct deliv_arg *d = arg;

	json_array_append(d->arr, dl->rec);
	return 0;
}

static gh_err
deliv_view(struct gh_txn *txn, void *arg)
{
	struct deliv_arg *d = arg;

	json_array_clear(d->arr);
	return gh_delivery_scan_txn(txn, d->id, 0, deliv_row, d, NULL);
}

static int
events_show(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct deliv_arg d;
	json_t *ev = NULL, *q;
	uint64_t id;
	int64_t attempts;
	char t[32];
	gh_err err;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(c, "events show: unknown option");
		c->json = 1;
	}
	if (optind != argc - 1 || !(id = cli_parse_id(argv[optind])))
		return cli_usage(c, "events show: expected one event id");
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	err = gh_queue_get(c->st, id, &ev);
	if (err == GH_ENOTFOUND) {
		cli_eprintf("%s: no event %" PRIu64 "\n", c->prog, id);
		return EXIT_NOTFOUND;
	}
	if (err)
		return cli_fail(c, err, "events show", NULL);
	d.id = id;
	d.arr = json_array();
	err = gh_store_view(c->st, deliv_view, &d);
	if (err) {
		json_decref(ev);
		json_decref(d.arr);
		return cli_fail(c, err, "events show", NULL);
	}
	json_object_set_new(ev, "deliveries", d.arr);
	if (c->json) {
		cli_print_json(ev);
		json_decref(ev);
		return EXIT_OK;
	}
	q = json_object_get(ev, "q");
	cli_printf("id:          %" PRId64 "\n", jint(ev, "id"));
	cli_printf("type:        %s (%s)\n", jstr(ev, "type"), jstr(ev, "category"));
	cli_printf("user:        %s\n", jstr(ev, "user"));
	cli_printf("title:       %s\n", jstr(ev, "title"));
	if (json_object_get(ev, "message"))
		cli_printf("message:     %s\n", jstr(ev, "message"));
	cli_printf("priority:    %" PRId64 "\n", jint(ev, "priority"));
	cli_printf("source:      %s\n", jstr(ev, "source"));
	cli_printf("created:     %s\n", cli_time(jint(ev, "created_at"), t, sizeof(t)));
	if (json_is_integer(json_object_get(ev, "expires_at")))
		cli_printf("expires:     %s\n", cli_time(jint(ev, "expires_at"), t, sizeof(t)));
	if (json_object_get(ev, "dedup_key"))
		cli_printf("dedup key:   %s\n", jstr(ev, "dedup_key"));
	/* Attempts are counted as the deliveries count them, sends to the
	 * receivers, the successful one too; only an event without delivery
	 * records (a consumer of `events lease`) shows the failures its
	 * consumer reported.  A finished event is due never. */
	attempts = jint(q, "attempts");
	if (json_array_size(d.arr) > 0) {
		size_t i;
		json_t *r;

		attempts = 0;
		json_array_foreach(d.arr, i, r)
			attempts += jint(r, "attempts");
	}
	cli_printf("state:       %s, %" PRId64 " attempt%s, %" PRId64 " lease%s",
	           jstr(q, "state"), attempts, attempts == 1 ? "" : "s",
	           jint(q, "leases"), jint(q, "leases") == 1 ? "" : "s");
	if (json_is_integer(json_object_get(q, "due_at")))
		cli_printf(", due %s", cli_time(jint(q, "due_at"), t, sizeof(t)));
	cli_printf("\n");
	if (json_is_string(json_object_get(q, "last_error")))
		cli_printf("last error:  %s\n", jstr(q, "last_error"));
	if (json_object_size(json_object_get(ev, "metadata"))) {
		char *m = json_dumps(json_object_get(ev, "metadata"), JSON_COMPACT);

		cli_printf("metadata:    %s\n", m ? m : "");
		free(m);
	}
	cli_printf("deliveries:  %zu\n", json_array_size(d.arr));
	{
		size_t i;
		json_t *r;

		json_array_foreach(d.arr, i, r) {
			char *s = json_dumps(r, JSON_COMPACT);

			cli_printf("  %s\n", s ? s : "");
			free(s);
		}
	}
	json_decref(ev);
	return EXIT_OK;
}

/* ---- enqueue ---- */

static int
events_enqueue(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"user", required_argument, NULL, 'u'},
		{"type", required_argument, NULL, 't'},
		{"title", required_argument, NULL, 'T'},
		{"message", required_argument, NULL, 'm'},
		{"priority", required_argument, NULL, 'p'},
		{"category", required_argument, NULL, 'C'},
		{"dedup-key", required_argument, NULL, 'd'},
		{"expires", required_argument, NULL, 'e'},
		{"action-url", required_argument, NULL, 'a'},
		{"metadata", required_argument, NULL, 'M'},
		{"source", required_argument, NULL, 's'},
		{"channel", required_argument, NULL, 'c'},
		{"recipient", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct gh_event *b = gh_event_new();
	int64_t now = gh_now_ms();
	int ch, rc = EXIT_OK, sourced = 0;

	if (b == NULL)
		return cli_fail(c, GH_ENOMEM, "events enqueue", NULL);
	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (ch == 's')
			sourced = 1;
		rc = cli_event_option(c, b, ch, optarg, now, "events enqueue");
	}
	if (rc)
		goto done;
	if (optind != argc) {
		rc = cli_usage(c, "events enqueue: unexpected '%s'", argv[optind]);
		goto done;
	}
	if (!sourced)
		gh_event_set_source(b, "cli");
	rc = cli_enqueue(c, b, now, "events enqueue");
	b = NULL;   /* finished there */
done:
	gh_event_free(b);
	return rc;
}

/* ---- lease, ack: a consumer in a shell script ---- */

static int
events_lease(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"max", required_argument, NULL, 'n'},
		{"visibility", required_argument, NULL, 'v'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct gh_lease *l;
	long long vis = -1;
	size_t max = 10, n = 0;
	json_t *arr;
	gh_err err;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'n':
			max = (size_t)strtoul(optarg, NULL, 10);
			if (max == 0 || max > GH_QUEUE_LEASE_MAX)
				return cli_usage(c, "events lease: --max is 1 to %d",
				                 GH_QUEUE_LEASE_MAX);
			break;
		case 'v':
			if (gh_parse_duration_ms(optarg, &vis) || vis <= 0)
				return cli_usage(c, "bad --visibility '%s'", optarg);
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "events lease: unknown option");
		}
	}
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (vis < 0)
		vis = gh_conf_int(c->conf, "queue", "visibility");
	l = calloc(max, sizeof(*l));
	if (l == NULL)
		return cli_fail(c, GH_ENOMEM, "events lease", NULL);
	err = gh_queue_lease(c->st, gh_now_ms(), max, vis, l, &n);
	if (err) {
		free(l);
		return cli_fail(c, err, "events lease", NULL);
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if (c->json) {
			json_array_append(arr, l[i].event);
			continue;
		}
		cli_printf("%" PRIu64 ":%" PRIu64 " %s %s %s\n", l[i].id, l[i].token,
		           jstr(l[i].event, "type"), jstr(l[i].event, "user"),
		           jstr(l[i].event, "title"));
	}
	if (c->json)
		cli_print_json(arr);
	json_decref(arr);
	gh_lease_release(l, n);
	free(l);
	return EXIT_OK;
}

static int
events_ack(struct cli *c, int argc, char **argv)
{
	struct gh_lease *l;
	gh_err *res, err;
	int rc, bad = 0, n = argc - 1;

	if (n < 1)
		return cli_usage(c, "events ack: expected ID:TOKEN ... as printed "
		                 "by 'gatehouse events lease'");
	l = calloc((size_t)n, sizeof(*l));
	res = calloc((size_t)n, sizeof(*res));
	if (l == NULL || res == NULL) {
		free(l);
		free(res);
		return cli_fail(c, GH_ENOMEM, "events ack", NULL);
	}
	for (int i = 0; i < n; i++) {
		char *colon = strchr(argv[i + 1], ':');

		if (colon == NULL || sscanf(argv[i + 1], "%" SCNu64 ":%" SCNu64,
		                            &l[i].id, &l[i].token) != 2) {
			free(l);
			free(res);
			return cli_usage(c, "events ack: '%s' is not ID:TOKEN",
			                 argv[i + 1]);
		}
	}
	rc = cli_open_store(c, 0);
	if (rc == EXIT_OK) {
		err = gh_queue_ack(c->st, l, (size_t)n, gh_now_ms(), res);
		if (err) {
			rc = cli_fail(c, err, "events ack", NULL);
		} else {
			for (int i = 0; i < n; i++) {
				if (res[i] == GH_OK)
					continue;
				cli_eprintf("%s: event %" PRIu64 ": %s\n", c->prog,
				            l[i].id, res[i] == GH_ESTALE ?
				            "lease lost (expired and taken again)" :
				            gh_strerror(res[i]));
				bad = 1;
			}
			rc = bad ? EXIT_NOTFOUND : EXIT_OK;
		}
	}
	free(l);
	free(res);
	return rc;
}

/* ---- retry, purge ---- */

static int
events_retry(struct cli *c, int argc, char **argv)
{
	uint64_t id;
	gh_err err;
	int rc;

	if (argc != 2 || !(id = cli_parse_id(argv[1])))
		return cli_usage(c, "events retry: expected one event id");
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	err = gh_queue_requeue(c->st, id, gh_now_ms());
	if (err == GH_EEXIST) {
		cli_eprintf("%s: event %" PRIu64 " is already queued\n",
		            c->prog, id);
		return EXIT_OK;
	}
	if (err == GH_ENOTFOUND) {
		cli_eprintf("%s: no event %" PRIu64 "\n", c->prog, id);
		return EXIT_NOTFOUND;
	}
	if (err)
		return cli_fail(c, err, "events retry", NULL);
	if (!c->json)
		cli_printf("event %" PRIu64 " queued again\n", id);
	return EXIT_OK;
}

static int
events_purge(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"older-than", required_argument, NULL, 'o'},
		{"state", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	unsigned states = GH_Q_DONE | GH_Q_DEAD | GH_Q_EXPIRED;
	long long older = -1;
	int64_t now = gh_now_ms();
	size_t n = 0;
	gh_err err;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'o':
			if (gh_parse_duration_ms(optarg, &older))
				return cli_usage(c, "bad --older-than '%s'", optarg);
			break;
		case 's':
			states = parse_states(optarg);
			if (!states || (states & (GH_Q_READY | GH_Q_LEASED)))
				return cli_usage(c, "events purge: --state takes "
				                 "done, dead, expired");
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "events purge: unknown option");
		}
	}
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (older < 0)
		older = gh_conf_int(c->conf, "queue", "keep_done");
	err = gh_queue_purge(c->st, states, now - older, now, &n);
	if (err)
		return cli_fail(c, err, "events purge", NULL);
	if (c->json) {
		json_t *j = json_pack("{s:I}", "purged", (json_int_t)n);
		cli_print_json(j);
		json_decref(j);
	} else {
		cli_printf("purged %zu events\n", n);
	}
	return EXIT_OK;
}

int
cmd_events(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub == NULL)
		return cli_usage(c, "events: expected list, show, enqueue, lease, "
		                 "ack, retry or purge");
	if (strcmp(sub, "list") == 0)
		return events_list(c, argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return events_show(c, argc - 1, argv + 1);
	if (strcmp(sub, "enqueue") == 0)
		return events_enqueue(c, argc - 1, argv + 1);
	if (strcmp(sub, "retry") == 0)
		return events_retry(c, argc - 1, argv + 1);
	if (strcmp(sub, "lease") == 0)
		return events_lease(c, argc - 1, argv + 1);
	if (strcmp(sub, "ack") == 0)
		return events_ack(c, argc - 1, argv + 1);
	if (strcmp(sub, "purge") == 0)
		return events_purge(c, argc - 1, argv + 1);
	return cli_usage(c, "events: unknown subcommand '%s'", sub);
}
