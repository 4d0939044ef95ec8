/*
 * cmd_suppress.c - `gatehouse suppress add|remove|list|check`: the opt-out
 * list the milter honours for bulk mail (transactional mail is never
 * suppressed).  One-click unsubscribes land here too, with source
 * "unsubscribe".
 */
#include <getopt.h>
#include <string.h>

#include "gatehouse/records.h"
#include "cli.h"

struct sup_arg {
	const char *addr, *list, *reason;
	int result;
};

static gh_err
add_fn(struct gh_txn *txn, void *arg)
{
	struct sup_arg *a = arg;

	return gh_suppress_add_txn(txn, a->addr, a->list, a->reason, "cli",
	                           gh_now_ms());
}

static gh_err
remove_fn(struct gh_txn *txn, void *arg)
{
	struct sup_arg *a = arg;

	return gh_suppress_remove_txn(txn, a->addr, a->list);
}

static gh_err
check_fn(struct gh_txn *txn, void *arg)
{
	struct sup_arg *a = arg;

	return gh_suppress_check_txn(txn, a->addr, a->list, &a->result);
}

struct print_arg {
	json_t *arr;
};

static int
print_one(const char *addr, const char *list, const json_t *rec, void *arg)
{
	struct print_arg *p = arg;
	char t[32];
	const char *reason = json_string_value(json_object_get(rec, "reason"));
	const char *source = json_string_value(json_object_get(rec, "source"));

	if (p->arr) {
		json_t *j = json_deep_copy(rec);

		json_object_set_new(j, "address", json_string(addr));
		json_array_append_new(p->arr, j);
		return 0;
	}
	cli_printf("%-32s %-12s %-20s %-12s %s\n", addr, *list ? list : "(all)",
	           cli_time(json_integer_value(json_object_get(rec, "created_at")),
	                    t, sizeof(t)), source ? source : "", reason ? reason : "");
	return 0;
}

int
cmd_suppress(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"list", required_argument, NULL, 'l'},
		{"reason", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct sup_arg a = {NULL, NULL, NULL, 0};
	char norm[GH_ADDR_MAX + 1];
	gh_err err;
	int ch, rc;

	if (sub == NULL)
		return cli_usage(c, "suppress: expected add, remove, list or check");
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'l':
			a.list = optarg;
			break;
		case 'r':
			a.reason = optarg;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "suppress %s: unknown option", sub);
		}
	}
	if (strcmp(sub, "list") == 0) {
		struct print_arg p = {NULL};

		if (optind != argc)
			return cli_usage(c, "suppress list takes no address");
		rc = cli_open_store(c, 0);
		if (rc)
			return rc;
		if (c->json)
			p.arr = json_array();
		else
			cli_printf("%-32s %-12s %-20s %-12s %s\n", "ADDRESS", "LIST",
			           "SINCE", "SOURCE", "REASON");
		err = gh_suppress_list(c->st, print_one, &p);
		if (p.arr) {
			if (!err)
				cli_print_json(p.arr);
			json_decref(p.arr);
		}
		return err ? cli_fail(c, err, "suppress list", NULL) : EXIT_OK;
	}
	if (optind != argc - 1)
		return cli_usage(c, "suppress %s: expected one address", sub);
	a.addr = argv[optind];
	if (gh_addr_normalize(a.addr, norm, sizeof(norm)) != GH_OK)
		return cli_usage(c, "suppress %s: '%s' is not an address", sub,
		                 a.addr);
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (strcmp(sub, "add") == 0) {
		err = gh_store_update(c->st, add_fn, &a);
		if (err)
			return cli_fail(c, err, "suppress add", NULL);
		if (!c->json)
			cli_printf("%s suppressed for %s\n", norm,
			           a.list ? a.list : "every list");
		return EXIT_OK;
	}
	if (strcmp(sub, "remove") == 0) {
		err = gh_store_update(c->st, remove_fn, &a);
		if (err == GH_ENOTFOUND) {
			cli_eprintf("%s: %s is not suppressed%s%s\n", c->prog,
			            norm, a.list ? " for " : "", a.list ? a.list : "");
			return EXIT_NOTFOUND;
		}
		if (err)
			return cli_fail(c, err, "suppress remove", NULL);
		if (!c->json)
			cli_printf("%s removed\n", norm);
		return EXIT_OK;
	}
	if (strcmp(sub, "check") == 0) {
		err = gh_store_view(c->st, check_fn, &a);
		if (err)
			return cli_fail(c, err, "suppress check", NULL);
		if (c->json) {
			json_t *j = json_pack("{s:s, s:b}", "address", norm,
			                      "suppressed", a.result);
			cli_print_json(j);
			json_decref(j);
		} else {
			cli_printf("%s is %ssuppressed\n", norm, a.result ? "" : "not ");
		}
		return a.result ? EXIT_OK : EXIT_NOTFOUND;
	}
	return cli_usage(c, "suppress: unknown subcommand '%s'", sub);
}
