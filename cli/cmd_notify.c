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
	json_t *ev = json_object();
	int64_t now = gh_now_ms();
	long long ms;
	int ch, rc = EXIT_OK, prio;

	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		const char *field = NULL;

		switch (ch) {
		case 't': field = "type"; break;
		case 'T': field = "title"; break;
		case 'm': field = "message"; break;
		case 'C': field = "category"; break;
		case 'a': field = "action_url"; break;
		case 'd': field = "dedup_key"; break;
		case 'c':
			cli_append_string(ev, "channels", optarg);
			break;
		case 'p':
			prio = cli_parse_priority(optarg);
			if (!prio)
				rc = cli_usage(c, "notify: bad --priority '%s' (1-4, "
				               "low, normal, high, urgent)", optarg);
			else
				json_object_set_new(ev, "priority",
				                    json_integer(prio));
			break;
		case 'e':
			if (gh_parse_duration_ms(optarg, &ms) || ms <= 0)
				rc = cli_usage(c, "notify: bad --expires '%s' (a "
				               "duration such as 30m, 2h, 1d)", optarg);
			else
				json_object_set_new(ev, "expires_at",
				                    json_integer(now + ms));
			break;
		case 'M': {
			json_t *m = json_loads(optarg, 0, NULL);

			if (!json_is_object(m)) {
				json_decref(m);
				rc = cli_usage(c, "notify: --metadata must be a JSON "
				               "object");
			} else {
				json_object_set_new(ev, "metadata", m);
			}
			break;
		}
		case 'j':
			c->json = 1;
			break;
		default:
			rc = cli_usage(c, "notify: unknown option");
			break;
		}
		if (field)
			rc = cli_set_string(c, ev, field, optarg, "notify");
	}
	if (rc)
		goto done;
	if (optind != argc - 1) {
		rc = cli_usage(c, "notify: expected one USER (then --type and "
		               "--title)");
		goto done;
	}
	rc = cli_set_string(c, ev, "user", argv[optind], "notify");
	if (rc)
		goto done;
	if (!json_object_get(ev, "type"))
		json_object_set_new(ev, "type", json_string("admin.notice"));
	json_object_set_new(ev, "source", json_string("cli"));
	rc = cli_enqueue(c, ev, now, "notify");
done:
	json_decref(ev);
	return rc;
}
