/*
 * cmd_store.c - `gatehouse store info`, `store init` and `store purge`.
 *
 * info shows what an admin needs when something is slow or full: path, map
 * size against its ceiling, space used, reader slots, schema version and
 * how many records each database holds.  init creates every store with
 * its owner and modes.  purge applies [retention] to one store now, the
 * same purge gatehouse-notifyd and the bridges run on their own
 * (gatehouse/retention.h), or with --dry-run says what it would delete.
 */
#include <getopt.h>
#include <string.h>

#include "gatehouse/retention.h"
#include "cli.h"

static void
human(size_t n, char *buf, size_t len)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static int
store_info(struct cli *c)
{
	struct gh_store_info info;
	struct gh_queue_stats qs;
	char a[32], b[32], d[32], e[32];
	gh_err err;
	int rc;

	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	err = gh_store_info(c->st, &info);
	if (err == GH_OK)
		err = gh_queue_stats(c->st, gh_now_ms(), &qs);
	if (err)
		return cli_fail(c, err, "store info", NULL);
	if (c->json) {
		json_t *j = json_object(), *counts = json_object(), *q;

		json_object_set_new(j, "path", json_string(gh_store_path(c->st)));
		json_object_set_new(j, "map_size", json_integer((json_int_t)info.map_size));
		json_object_set_new(j, "map_max", json_integer((json_int_t)info.map_max));
		json_object_set_new(j, "used", json_integer((json_int_t)info.used));
		json_object_set_new(j, "free", json_integer((json_int_t)info.free_bytes));
		json_object_set_new(j, "in_use", json_integer((json_int_t)info.in_use));
		json_object_set_new(j, "page_size", json_integer(info.page_size));
		json_object_set_new(j, "readers", json_integer(info.readers));
		json_object_set_new(j, "max_readers", json_integer(info.max_readers));
		json_object_set_new(j, "schema", json_integer(info.schema));
		json_object_set_new(j, "last_txn",
		                    json_integer((json_int_t)info.last_txn));
		for (int i = 0; i < GH_DB_COUNT_; i++)
			json_object_set_new(counts, gh_db_name((enum gh_db)i),
			                    json_integer((json_int_t)info.entries[i]));
		json_object_set_new(j, "records", counts);
		q = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "ready", (json_int_t)qs.count[0], "leased", (json_int_t)qs.count[1],
		    "done", (json_int_t)qs.count[2], "dead", (json_int_t)qs.count[3],
		    "expired", (json_int_t)qs.count[4], "due", (json_int_t)qs.due,
		    "oldest_due_ms", (json_int_t)qs.oldest_due_ms);
		json_object_set_new(j, "queue", q);
		cli_print_json(j);
		json_decref(j);
		return EXIT_OK;
	}
	human(info.map_size, a, sizeof(a));
	human(info.map_max, b, sizeof(b));
	human(info.used, d, sizeof(d));
	human(info.in_use, e, sizeof(e));
	cli_printf("path:        %s\n", gh_store_path(c->st));
	cli_printf("schema:      %u\n", info.schema);
	cli_printf("last txn:    %llu\n", (unsigned long long)info.last_txn);
	cli_printf("map:         %s of at most %s, %s used (%.0f%%)\n", a, b, d,
	           info.map_size ? 100.0 * (double)info.used / (double)info.map_size : 0);
	cli_printf("in use:      %s (%.0f%% of the most), the rest of what "
	           "is used free for reuse\n", e, info.map_max ?
	           100.0 * (double)info.in_use / (double)info.map_max : 0);
	cli_printf("readers:     %u of %u slots\n", info.readers, info.max_readers);
	cli_printf("queue:       %zu ready, %zu leased, %zu done, %zu dead, "
	           "%zu expired; %zu due, oldest due %lld ms\n",
	           qs.count[0], qs.count[1], qs.count[2], qs.count[3], qs.count[4],
	           qs.due, (long long)qs.oldest_due_ms);
	cli_printf("records:\n");
	for (int i = 0; i < GH_DB_COUNT_; i++)
		cli_printf("  %-12s %zu\n", gh_db_name((enum gh_db)i), info.entries[i]);
	return EXIT_OK;
}

/* ---- purge ---- */

/* The databases a purge deletes from, in the order it walks them. */
static const enum gh_db purged_dbs[] = {
	GH_DB_EVENTS, GH_DB_DELIVERIES, GH_DB_INBOX, GH_DB_MAIL_LOG,
	GH_DB_UPLOADS, GH_DB_KNOWN_HOSTS, GH_DB_RATE, GH_DB_DEDUP,
	GH_DB_SCAN_CACHE
};
#define NPURGED (sizeof(purged_dbs) / sizeof(purged_dbs[0]))

static int
store_purge(struct cli *c, int dry)
{
	struct gh_retention r;
	struct gh_purge_stats ps;
	const char *dom = gh_domain_name(c->domain >= 0 ?
	                                 (enum gh_domain)c->domain :
	                                 GH_DOMAIN_CORE);
	size_t total = 0;
	char t[32];
	gh_err err;
	int rc;

	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	gh_retention_from_conf(c->conf, &r);
	err = gh_purge_run(c->st, &r, gh_now_ms(),
	                   dry ? GH_PURGE_DRY_RUN : 0, &ps);
	for (size_t i = 0; i < NPURGED; i++)
		total += ps.gone[purged_dbs[i]];
	if (err && total == 0)
		return cli_fail(c, err, "store purge", NULL);
	if (c->json) {
		json_t *j = json_object(), *dbs = json_object();

		json_object_set_new(j, "path", json_string(gh_store_path(c->st)));
		json_object_set_new(j, "domain", json_string(dom));
		json_object_set_new(j, "dry_run", json_boolean(dry));
		for (size_t i = 0; i < NPURGED; i++) {
			enum gh_db db = purged_dbs[i];
			int64_t o = ps.oldest_kept[db];

			json_object_set_new(dbs, gh_db_name(db), json_pack(
			    "{s:I, s:I, s:o}", dry ? "would_go" : "deleted",
			    (json_int_t)ps.gone[db], "skipped",
			    (json_int_t)ps.skipped[db], "oldest_kept",
			    o ? json_integer((json_int_t)o) : json_null()));
		}
		json_object_set_new(j, "databases", dbs);
		json_object_set_new(j, "commits",
		                    json_integer((json_int_t)ps.commits));
		cli_print_json(j);
		json_decref(j);
	} else {
		cli_printf("%s store %s: %s %zu records\n", dom,
		           gh_store_path(c->st), dry ? "would delete" :
		           "deleted", total);
		cli_printf("  %-12s %9s %8s  %s\n", "DATABASE",
		           dry ? "WOULD GO" : "DELETED", "SKIPPED",
		           "OLDEST KEPT");
		for (size_t i = 0; i < NPURGED; i++) {
			enum gh_db db = purged_dbs[i];

			cli_printf("  %-12s %9zu %8zu  %s\n", gh_db_name(db),
			           ps.gone[db], ps.skipped[db],
			           cli_time(ps.oldest_kept[db], t, sizeof(t)));
		}
	}
	if (err)
		return cli_fail(c, err, "store purge (stopped part way)", NULL);
	return EXIT_OK;
}

int
cmd_store(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'},
		{"dry-run", no_argument, NULL, 'n'},
		{"owner", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
	const char *sub = argc > 1 ? argv[1] : NULL;
	int ch, dry = 0;

	if (sub == NULL)
		return cli_usage(c, "store: expected 'info', 'init' or "
		                 "'purge'");
	while ((ch = getopt_long(argc - 1, argv + 1, "", o, NULL)) != -1) {
		if (ch == 'o' && strcmp(sub, "init") == 0)
			c->owner = optarg;
		else if (ch == 'n' && strcmp(sub, "purge") == 0)
			dry = 1;
		else if (ch == 'j')
			c->json = 1;
		else
			return cli_usage(c, "store %s: unknown option", sub);
	}
	if (optind + 1 < argc)
		return cli_usage(c, "store %s: unexpected '%s'", sub,
		                 argv[optind + 1]);
	if (strcmp(sub, "info") == 0)
		return store_info(c);
	if (strcmp(sub, "init") == 0) {
		return cli_init_stores(c);
	}
	if (strcmp(sub, "purge") == 0)
		return store_purge(c, dry);
	return cli_usage(c, "store: unknown subcommand '%s'", sub);
}
