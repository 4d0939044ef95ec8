/*
 * cmd_uploads.c - `gatehouse uploads list|show`: the records the nginx
 * module keeps of every upload (the store's uploads database, see
 * docs/store.md and docs/nginx.md): who sent what, where it went, what the
 * virus scan said, and why an upload was refused.
 *
 *   gatehouse uploads list [--user U] [--status S] [--limit N] [--json]
 *       newest first; --limit 0 lists all (default 100)
 *   gatehouse uploads show ID [--json]
 *       both names: the safe one shown and checked (display_name) and what
 *       the client sent, escaped (original_name); for an image, its size
 *       in pixels, whether its metadata was stripped, and its thumbnail
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/uploads.h"
#include "cli.h"

#define UPLOADS_LIMIT_DEFAULT 100

struct list_arg {
	const char *user;
	const char *status;
	size_t limit;
	size_t shown;
	json_t *arr;          /* --json: records collected here */
	size_t skipped;       /* records of a later version */
};

static int
matches(const struct list_arg *a, const struct gh_upload *u)
{
	if (a->user && strcmp(u->user, a->user) != 0)
		return 0;
	if (a->status && strcmp(u->status, a->status) != 0)
		return 0;
	return 1;
}

static void
print_row(const struct gh_upload *u)
{
	char t[32];

	cli_printf("%-6" PRIu64 " %-20s %-11s %-11s %-12s %10" PRId64
	           " %-10s %-28s %s\n", u->id,
	           cli_time(u->created_at, t, sizeof(t)),
	           *u->status ? u->status : "?", *u->scan ? u->scan : "?",
	           *u->user ? u->user : "-", u->size, u->category,
	           u->display_name, *u->signature ? u->signature : u->reason);
}

static int
list_one(const struct gh_upload *u, void *arg)
{
	struct list_arg *a = arg;

	if (matches(a, u)) {
		if (a->arr)
			json_array_append(a->arr, u->rec);
		else
			print_row(u);
		a->shown++;
	}
	return (a->limit && a->shown >= a->limit) ? 1 : 0;
}

static gh_err
list_fn(struct gh_txn *txn, void *arg)
{
	struct list_arg *a = arg;

	return gh_upload_scan_txn(txn, 0, 1, list_one, a, &a->skipped);
}

struct show_arg {
	uint64_t id;
	json_t *rec;
};

static gh_err
show_fn(struct gh_txn *txn, void *arg)
{
	struct show_arg *s = arg;

	json_decref(s->rec);
	s->rec = NULL;
	return gh_upload_get_txn(txn, s->id, &s->rec);
}

/*
 * Every string is printed escaped (cli_printf, esc.h): the names come from
 * an anonymous client.  original_name is already escaped by the module
 * (docs/nginx.md, "Records"); a record of version 1 has no original, only
 * the safe name, shown as display_name.
 */
static void
print_record(json_t *rec)
{
	static const char *const order[] = {
		"id", "status", "reason", "scan", "signature", "scan_error",
		"user", "display_name", "original_name", "field", "size",
		"category", "mime", "sha256", "stored_name", "url",
		"client_addr", "uri", "created_at", "updated_at",
		/* images (docs/nginx.md, "Images") */
		"width", "height", "metadata", "stored_size", "stored_sha256",
		"thumb_name", "thumb_url", "thumb_width", "thumb_height",
		"thumb_size", NULL
	};
	char t[32];
	const json_t *v;

	for (size_t i = 0; order[i]; i++) {
		/* the names as their version has them (uploads.h) */
		if (strcmp(order[i], "display_name") == 0)
			v = gh_upload_display_json(rec);
		else if (strcmp(order[i], "original_name") == 0)
			v = gh_upload_original_json(rec);
		else
			v = json_object_get(rec, order[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (json_is_string(v))
			cli_printf("%-14s %s\n", order[i], json_string_value(v));
		else if (strcmp(order[i], "created_at") == 0 ||
		         strcmp(order[i], "updated_at") == 0)
			cli_printf("%-14s %s\n", order[i],
			           cli_time(json_integer_value(v), t, sizeof(t)));
		else if (json_is_integer(v))
			cli_printf("%-14s %" JSON_INTEGER_FORMAT "\n", order[i],
			           json_integer_value(v));
	}
}

int
cmd_uploads(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"user", required_argument, NULL, 'u'},
		{"status", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct list_arg a;
	gh_err err;
	char *end;
	int ch, rc;

	memset(&a, 0, sizeof(a));
	a.limit = UPLOADS_LIMIT_DEFAULT;
	if (sub == NULL)
		return cli_usage(c, "uploads: expected list or show");
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'u':
			a.user = optarg;
			break;
		case 's':
			a.status = optarg;
			break;
		case 'n':
			a.limit = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0')
				return cli_usage(c, "uploads: --limit needs a "
				                 "number");
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "uploads %s: unknown option", sub);
		}
	}

	if (strcmp(sub, "list") == 0) {
		if (optind != argc)
			return cli_usage(c, "uploads list takes no argument");
		rc = cli_open_domain_store(c, GH_DOMAIN_WEB);
		if (rc)
			return rc;
		if (c->json)
			a.arr = json_array();
		else
			cli_printf("%-6s %-20s %-11s %-11s %-12s %10s %-10s %-28s %s\n",
			           "ID", "CREATED", "STATUS", "SCAN", "USER", "SIZE",
			           "CATEGORY", "NAME", "REASON");
		err = gh_store_view(c->st, list_fn, &a);
		if (a.arr) {
			if (err == GH_OK)
				cli_print_json(a.arr);
			json_decref(a.arr);
		}
		if (err == GH_OK)
			cli_skipped(c, a.skipped, "uploads list");
		return err ? cli_fail(c, err, "uploads list", NULL) : EXIT_OK;
	}

	if (strcmp(sub, "show") == 0) {
		struct show_arg s = {0, NULL};

		if (optind != argc - 1)
			return cli_usage(c, "uploads show: expected one id");
		s.id = cli_parse_id(argv[optind]);
		if (s.id == 0)
			return cli_usage(c, "uploads show: '%s' is not an id",
			                 argv[optind]);
		rc = cli_open_domain_store(c, GH_DOMAIN_WEB);
		if (rc)
			return rc;
		err = gh_store_view(c->st, show_fn, &s);
		if (err == GH_ENOTFOUND) {
			cli_eprintf("%s: no upload %" PRIu64 "\n", c->prog,
			            s.id);
			return EXIT_NOTFOUND;
		}
		if (err)
			return cli_fail(c, err, "uploads show", NULL);
		if (c->json)
			cli_print_json(s.rec);
		else
			print_record(s.rec);
		json_decref(s.rec);
		return EXIT_OK;
	}

	return cli_usage(c, "uploads: unknown subcommand '%s'", sub);
}
