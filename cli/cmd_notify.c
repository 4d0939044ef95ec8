/*
 * cmd_notify.c - `gatehouse notify USER --type T --title ...`: the admin's
 * way to tell a user something (or to try a channel): an event for USER,
 * source "cli", queued for gatehouse-notifyd.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cmd_notify(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"type", required_argument, NULL, 't'},
		{"title", required_argument, NULL, 'T'},
		{"message", required_argument, NULL, 'm'},
		{"priority", required_argument, NULL, 'p'},
		{"category", required_argument, NULL, 'C'},
		{"channel", required_argument, NULL, 'c'},
		{"action-url", required_argument, NULL, 'a'},
		{"expires", required_argument, NULL, 'e'},
		{"metadata", required_argument, NULL, 'M'},
		{"dedup-key", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct gh_event *b = gh_event_new();
	int64_t now = gh_now_ms();
	int ch, rc = EXIT_OK, typed = 0;

	if (b == NULL)
		return cli_fail(c, GH_ENOMEM, "notify", NULL);
	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (ch == 't')
			typed = 1;
		rc = cli_event_option(c, b, ch, optarg, now, "notify");
	}
	if (rc)
		goto done;
	if (optind != argc - 1) {
		rc = cli_usage(c, "notify: expected one USER (then --type and "
		               "--title)");
		goto done;
	}
	rc = cli_event_set(c, gh_event_set_user(b, argv[optind]), "user",
	                   argv[optind], "notify");
	if (rc)
		goto done;
	/* an event with no --type is the admin's notice */
	if (!typed)
		gh_event_set_type(b, "admin.notice");
	gh_event_set_source(b, "cli");
	rc = cli_enqueue(c, b, now, "notify");
	b = NULL;   /* finished there */
done:
	gh_event_free(b);
	return rc;
}
