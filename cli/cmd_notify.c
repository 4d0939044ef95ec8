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
	long long ms;
	int ch, rc = EXIT_OK, typed = 0;
	enum gh_priority prio;

	if (b == NULL)
		return cli_fail(c, GH_ENOMEM, "notify", NULL);
	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		gh_err (*set)(struct gh_event *, const char *) = NULL;
		const char *opt = NULL;

		switch (ch) {
		case 't':
			set = gh_event_set_type;
			opt = "type";
			typed = 1;
			break;
		case 'T': set = gh_event_set_title; opt = "title"; break;
		case 'm': set = gh_event_set_message; opt = "message"; break;
		case 'C': set = gh_event_set_category; opt = "category"; break;
		case 'a': set = gh_event_set_action_url; opt = "action_url"; break;
		case 'd': set = gh_event_set_dedup_key; opt = "dedup_key"; break;
		case 'c': set = gh_event_add_channel; opt = "channel"; break;
		case 'p':
			prio = cli_parse_priority(optarg);
			if (!prio)
				rc = cli_usage(c, "notify: bad --priority '%s' (1-4, "
				               "low, normal, high, urgent)", optarg);
			else
				gh_event_set_priority(b, prio);
			break;
		case 'e':
			if (gh_parse_duration_ms(optarg, &ms) || ms <= 0)
				rc = cli_usage(c, "notify: bad --expires '%s' (a "
				               "duration such as 30m, 2h, 1d)", optarg);
			else
				gh_event_set_expires_at(b, now + ms);
			break;
		case 'M': {
			json_t *m = json_loads(optarg, 0, NULL);

			if (!json_is_object(m))
				rc = cli_usage(c, "notify: --metadata must be a JSON "
				               "object");
			else
				gh_event_set_metadata(b, m);
			json_decref(m);
			break;
		}
		case 'j':
			c->json = 1;
			break;
		default:
			rc = cli_usage(c, "notify: unknown option");
			break;
		}
		if (set)
			rc = cli_event_set(c, set(b, optarg), opt, optarg, "notify");
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
