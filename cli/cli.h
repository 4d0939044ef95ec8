/*
 * cli.h - what the gatehouse command's subcommand files share: the parsed
 * global options, opening the configuration and the store, output helpers,
 * building and queueing an event, and sysexits-style exit codes.
 *
 * Each subcommand family lives in its own file (cmd_store.c, cmd_events.c,
 * cmd_config.c, ...) and exports one entry point listed in main.c's table.
 */
#ifndef GATEHOUSE_CLI_H
#define GATEHOUSE_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>
#include <jansson.h>

#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/event.h"
#include "gatehouse/queue.h"
#include "gatehouse/store.h"
#include "esc.h"

/* Text for a person goes out through cli_printf(), cli_eprintf() and
 * cli_fprintf() (esc.h), which escape what could drive a terminal; --json
 * through cli_print_json().  The plain printers are refused at compile
 * time so that no new path prints a stored string raw. */
#pragma GCC poison printf fprintf vprintf vfprintf dprintf puts fputs \
	putchar putc fputc fwrite perror

/* Exit codes, as sysexits(3), which mail admins' scripts already know;
 * a gh_err becomes one through cli_exit_code() (gh_err_exit_code()). */
enum {
	EXIT_OK = EX_OK,
	EXIT_NOTFOUND = 1,            /* the thing asked about does not exist */
	EXIT_USAGE = EX_USAGE,        /* bad command line */
	EXIT_DATAERR = EX_DATAERR,    /* bad input data (event fields, JSON) */
	EXIT_NOINPUT = EX_NOINPUT,    /* store or config file missing */
	EXIT_NOUSER = EX_NOUSER,      /* a user named in the config does not exist */
	EXIT_SOFTWARE = EX_SOFTWARE,  /* internal error */
	EXIT_IOERR = EX_IOERR,        /* store I/O error, store full */
	EXIT_TEMPFAIL = EX_TEMPFAIL,  /* store locked: try again */
	EXIT_NOPERM = EX_NOPERM,      /* permission denied */
	EXIT_CONFIG = EX_CONFIG       /* configuration error */
};

struct cli {
	const char *conf_path;   /* -c FILE, $GATEHOUSE_CONF or the default */
	int json;                /* --json */
	struct gh_conf *conf;
	int conf_defaults;       /* no file at the default place: defaults */
	struct gh_store *st;
	const char *prog;
	const char *cmd;         /* the command being run, for usage errors */
	const char *owner;       /* store init --owner USER */
	int domain;              /* --domain D, or -1 */
};

/* Load the configuration; a missing default file means defaults.  Prints
 * the error and returns an exit code on failure. */
int cli_load_conf(struct cli *c);

/* Open the store named by the configuration (create: make it if missing).
 * Run as root, first becomes the store's owner for good (create: makes the
 * directory for c->owner or [store] owner first), since only the owner
 * opens a store (docs/security.md): call it after everything that needs
 * root.  Prints what went wrong and what to do, and returns an exit code. */
int cli_open_store(struct cli *c, int create);

/* The same for the store of domain dom (enum gh_domain): the mail log is
 * in the mail domain's, uploads in the web's, logins in the login's (each
 * the core's when [store] mail, web or login is not set). */
int cli_open_domain_store(struct cli *c, int dom);

/* store init: every store the configuration names, each made for its
 * owner ([store] owner, mail_owner, web_owner, login_owner). */
int cli_init_stores(struct cli *c);

/* The exit code for a gh_err: gh_err_exit_code(), but EXIT_NOTFOUND (1)
 * for GH_ENOTFOUND. */
int cli_exit_code(gh_err err);

/* Print "gatehouse: what: strerror (detail)" to stderr; returns exit code. */
int cli_fail(struct cli *c, gh_err err, const char *what, const char *detail);

/* Warn on stderr that n records of what were not shown: they could not
 * be read (not JSON, or a layout of a newer Gatehouse).  Nothing for 0. */
void cli_skipped(struct cli *c, size_t n, const char *what);

/* Usage error: message to stderr, returns EXIT_USAGE. */
int cli_usage(struct cli *c, const char *fmt, ...)
    __attribute__((format(__printf__, 2, 3)));

/* usage.c: print COMMAND's usage (only SUB's when it has one; sub may be
 * NULL) to stdout; returns an exit code. */
int cli_command_help(const char *cmd, const char *sub);

/* Print a JSON value to stdout, indented, with a newline. */
void cli_print_json(const json_t *j);

/* Format ms since the epoch as ISO 8601 UTC into buf ("-" for 0). */
const char *cli_time(int64_t ms, char *buf, size_t len);

/* Parse a decimal id; 0 on error. */
uint64_t cli_parse_id(const char *s);

/* An event priority by name (low, normal, high, urgent) or number (1-4);
 * 0 if it is neither. */
enum gh_priority cli_parse_priority(const char *s);

/* Set obj's member key to the string v.  A v that is not UTF-8 is a usage
 * error ("what: --key is not valid UTF-8"); returns an exit code. */
int cli_set_string(struct cli *c, json_t *obj, const char *key, const char *v,
                   const char *what);

/* An event builder setter's result (gatehouse/event.h) for option --opt
 * with value v: EXIT_OK, or a usage error ("what: --opt is not valid
 * UTF-8", "... is empty"). */
int cli_event_set(struct cli *c, gh_err err, const char *opt, const char *v,
                  const char *what);

/* One option of an event built on the command line, by the letter both
 * `events enqueue` and `notify` give it (u t T m C d a s c r: the string
 * fields; p priority, e expires, M metadata, j --json), with its argument
 * arg; now is the time --expires counts from.  Anything else is "what:
 * unknown option".  Returns an exit code. */
int cli_event_option(struct cli *c, struct gh_event *b, int ch,
                     const char *arg, int64_t now, const char *what);

/* Finish the event b (gh_event_finish, which checks it; b is gone after),
 * open the store and queue it; print its id, or with --json {"id",
 * "duplicate"}.  what starts the error messages ("notify").  Returns an
 * exit code. */
int cli_enqueue(struct cli *c, struct gh_event *b, int64_t now,
                const char *what);

/* config check (check.c): every part's own checks; with as_service, as
 * each daemon's user too; only (may be NULL) a list of parts; pam_dir
 * (NULL: /etc/pam.d) where the pam_gatehouse.so lines are.  Returns an
 * exit code. */
int cli_config_check(struct cli *c, int as_service, const char *only,
                     const char *pam_dir);

int cmd_store(struct cli *c, int argc, char **argv);
int cmd_events(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_tokens(struct cli *c, int argc, char **argv);
int cmd_suppress(struct cli *c, int argc, char **argv);
int cmd_logins(struct cli *c, int argc, char **argv);
int cmd_users(struct cli *c, int argc, char **argv);
int cmd_prefs(struct cli *c, int argc, char **argv);
int cmd_inbox(struct cli *c, int argc, char **argv);
int cmd_notify(struct cli *c, int argc, char **argv);
int cmd_deliveries(struct cli *c, int argc, char **argv);
int cmd_uploads(struct cli *c, int argc, char **argv);
int cmd_mail(struct cli *c, int argc, char **argv);
int cmd_dkim(struct cli *c, int argc, char **argv);
int cmd_dns(struct cli *c, int argc, char **argv);
int cmd_cluster(struct cli *c, int argc, char **argv);

#endif
