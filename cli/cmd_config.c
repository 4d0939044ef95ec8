/*
 * cmd_config.c - `gatehouse config check` and `gatehouse config dump`.
 *
 * check parses the file exactly as every Gatehouse program will and prints
 * the first error as FILE:LINE: key 'k' in [section]: why.
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

static int
flag_json(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int ch;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (ch != 'j')
			return -1;
		c->json = 1;
	}
	return optind;
}

int
cmd_config(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	int rc;

	if (sub == NULL)
		return cli_usage(c, "config: expected 'check' or 'dump'");
	if (flag_json(c, argc - 1, argv + 1) < 0)
		return cli_usage(c, "config %s: unknown option", sub);
	if (strcmp(sub, "check") == 0) {
		rc = cli_load_conf(c);
		if (c->json) {
			json_t *j = json_pack("{s:s, s:b}", "file", c->conf_path,
			                      "ok", rc == EXIT_OK);
			cli_print_json(j);
			json_decref(j);
		} else if (rc == EXIT_OK) {
			cli_printf("%s: ok\n", c->conf_path);
		}
		return rc;
	}
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
