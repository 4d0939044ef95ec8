/*
 * main.c - gatehouse(1): the admin's command for the Gatehouse store.
 *
 * SYNOPSIS
 *   gatehouse [-c FILE] [--json] COMMAND [ARGS]
 *
 * Global options come before the command; --json is also accepted after it.
 * See docs/man/gatehouse.1 for every command and exit code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef GH_VERSION
#error "GH_VERSION comes from the Makefile (VERSION)"
#endif

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *help;
} commands[] = {
	{"store", cmd_store, "store info | init | purge [--dry-run]"},
	{"events", cmd_events, "events list | show ID | enqueue ... | lease | ack ID:TOKEN... | retry ID | purge"},
	{"config", cmd_config, "config check [--as-service] [--only PARTS] [--pam-dir DIR] | dump"},
	{"logins", cmd_logins, "logins list [--user U] | forget USER [NETWORK] | purge --older-than D [--dry-run]"},
	{"suppress", cmd_suppress, "suppress add|remove|check ADDRESS [--list L] [--reason R] | list"},
	{"mail", cmd_mail, "mail log [--sender A] [--rcpt A] [--since WHEN] [--status S] [--limit N] | show ID"},
	{"users", cmd_users, "users set USER [--email E --phone P --tz Z --lang L --name N --chat CH=V --push-add JSON ...] | show USER | list | delete USER"},
	{"prefs", cmd_prefs, "prefs set USER [--channel CH=on|off --category CAT=on|off|digest --quiet HH:MM-HH:MM --digest daily@HH:MM --digest-channel CH] | show USER"},
	{"inbox", cmd_inbox, "inbox list USER [--unread] [--limit N] | read USER ID|--all"},
	{"notify", cmd_notify, "notify USER --title TITLE [--type T --message M --priority P --category C --channel CH --action-url U --expires D --metadata JSON --dedup-key K]"},
	{"deliveries", cmd_deliveries, "deliveries list [--failed --channel CH --state S --event ID --limit N]"},
	{"dkim", cmd_dkim, "dkim keygen --domain D --selector S [--type rsa|ed25519] [--bits N] | rotate --domain D [--grace 7d] | list"},
	{"dns", cmd_dns, "dns records DOMAIN"},
	{"tokens", cmd_tokens, "tokens keygen [--force] | derive | make unsubscribe RCPT LIST | make download ID [USER] | check PURPOSE TOKEN"},
	{"uploads", cmd_uploads, "uploads list [--user U] [--status S] [--limit N] | show ID"},
	{"cluster", cmd_cluster, "cluster status | nkey --out FILE [--owner USER]"},
};

static void
usage(FILE *fp, const char *prog)
{
	cli_fprintf(fp,
	    "usage: %s [-c FILE] [--domain D] [--json] COMMAND [ARGS]\n"
	    "\n"
	    "Commands:\n", prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		cli_fprintf(fp, "  %s\n", commands[i].help);
	cli_fprintf(fp,
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE  configuration file (default $GATEHOUSE_CONF or\n"
	    "                     " GH_CONF_DEFAULT_PATH ")\n"
	    "      --domain D     work on domain D's store (core, mail, web,\n"
	    "                     login): its outbox, for events commands\n"
	    "      --json         machine-readable output\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "'%s COMMAND --help' lists a command's options.\n"
	    "See gatehouse(1) and gatehouse.conf(5).\n", prog);
}

static int
help_opt(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"domain", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	struct cli c;
	int ch, rc = EXIT_USAGE;

	memset(&c, 0, sizeof(c));
	c.prog = "gatehouse";
	c.domain = -1;
	while ((ch = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.conf_path = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'd':
			c.domain = gh_domain_lookup(optarg);
			if (c.domain < 0) {
				cli_eprintf("%s: --domain: core, mail, web or "
				            "login, not '%s'\n", c.prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout, c.prog);
			return EXIT_OK;
		case 'V':
			/* "NAME VERSION" first, as every Gatehouse binary */
			cli_printf("gatehouse %s\nstore schema %d\n", GH_VERSION,
			           GH_STORE_SCHEMA);
			return EXIT_OK;
		default:
			usage(stderr, c.prog);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr, c.prog);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			c.cmd = commands[i].name;
			/* COMMAND --help, or COMMAND SUB --help: usage.c.  Only
			 * there, so that an option's value is never taken for
			 * it. */
			if (sub_argc > 1 && help_opt(sub_argv[1])) {
				rc = cli_command_help(c.cmd, NULL);
				goto done;
			}
			if (sub_argc > 2 && sub_argv[1][0] != '-' &&
			    help_opt(sub_argv[2])) {
				rc = cli_command_help(c.cmd, sub_argv[1]);
				goto done;
			}
			/* the subcommand parses its own options; 0 makes glibc
			 * start afresh (1 would keep its permutation state) */
			optind = 0;
			rc = commands[i].fn(&c, sub_argc, sub_argv);
			goto done;
		}
	}
	rc = cli_usage(&c, "unknown command '%s'", argv[optind]);
done:
	gh_store_close(c.st);
	gh_conf_free(c.conf);
	return rc;
}
