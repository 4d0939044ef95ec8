/*
 * cmd_config.c - `gatehouse config check` and `gatehouse config dump`.
 *
 * check parses the file exactly as every Gatehouse program will (a syntax
 * error is printed as FILE:LINE: key 'k' in [section]: why), then runs
 * every part's own checks of it (check.c).
 * dump prints every known key with its effective value and where it came
 * from, so an admin sees the defaults they did not write.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

struct dump_arg {
	struct cli *c;
	json_t *arr;
	const char *last_section;
};

static void
dump_key(const struct gh_conf_key *k, void *arg)
{
	struct dump_arg *d = arg;
	const char *v;

	if (strchr(k->section, '*'))
		return;   /* repeated sections are dumped by name below */
	v = gh_conf_str(d->c->conf, k->section, k->key);
	if (d->arr) {
		json_array_append_new(d->arr, json_pack("{s:s, s:s, s:s?, s:s, s:b}",
		    "section", k->section, "key", k->key, "value", v,
		    "type", gh_conf_type_name(k->type),
		    "set", gh_conf_is_set(d->c->conf, k->section, k->key)));
		return;
	}
	if (d->last_section == NULL || strcmp(d->last_section, k->section)) {
		if (d->last_section)
			cli_printf("\n");
		cli_printf("[%s]\n", k->section);
		d->last_section = k->section;
	}
	cli_printf("%s = %s%s\n", k->key, v ? v : "",
	           gh_conf_is_set(d->c->conf, k->section, k->key) ? "" :
	           "    ; default");
}

/* The options of config check and dump; -1 on a bad one. */
static int
parse_flags(struct cli *c, int argc, char **argv, int *as_svc,
            const char **only, const char **pam_dir)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'},
		{"as-service", no_argument, NULL, 's'},
		{"only", required_argument, NULL, 'o'},
		{"pam-dir", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0}};
	int ch;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'j':
			c->json = 1;
			break;
		case 's':
			if (as_svc == NULL)
				return -1;
			*as_svc = 1;
			break;
		case 'o':
			if (only == NULL)
				return -1;
			*only = optarg;
			break;
		case 'p':
			if (pam_dir == NULL)
				return -1;
			*pam_dir = optarg;
			break;
		default:
			return -1;
		}
	}
	return optind < argc ? -1 : optind;
}

int
cmd_config(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *only = NULL, *pam_dir = NULL;
	int as_svc = 0, check;
	int rc;

	if (sub == NULL)
		return cli_usage(c, "config: expected 'check' or 'dump'");
	check = strcmp(sub, "check") == 0;
	if (parse_flags(c, argc - 1, argv + 1, check ? &as_svc : NULL,
	                check ? &only : NULL, check ? &pam_dir : NULL) < 0)
		return cli_usage(c, "config %s: unknown option or argument", sub);
	if (check)
		return cli_config_check(c, as_svc, only, pam_dir);
	if (strcmp(sub, "dump") == 0) {
		struct dump_arg d = {c, NULL, NULL};

		rc = cli_load_conf(c);
		if (rc)
			return rc;
		if (c->json)
			d.arr = json_array();
		gh_conf_schema_each(dump_key, &d);
		if (d.arr) {
			cli_print_json(d.arr);
			json_decref(d.arr);
		}
		return EXIT_OK;
	}
	return cli_usage(c, "config: unknown subcommand '%s'", sub);
}
