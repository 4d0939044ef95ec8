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

static int
notify_priority(const char *s)
{
	static const char *const names[] = {"low", "normal", "high", "urgent"};

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i + 1;
	if (s[0] >= '1' && s[0] <= '4' && s[1] == '\0')
		return s[0] - '0';
	return 0;
}

static int
add_string(struct cli *c, json_t *ev, const char *field, const char *v)
{
	json_t *s = json_string(v);

	if (s == NULL)
		return cli_usage(c, "notify: --%s is not valid UTF-8", field);
	json_object_set_new(ev, field, s);
	return EXIT_OK;
}

static void
append(json_t *ev, const char *key, const char *v)
{
	json_t *arr = json_object_get(ev, key);

	if (arr == NULL) {
		arr = json_array();
		json_object_set_new(ev, key, arr);
	}
	json_array_append_new(arr, json_string(v));
}

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
	char detail[256];
	long long ms;
	uint64_t id = 0;
	int ch, rc = EXIT_OK, dup = 0, prio;
	gh_err err;

	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 't':
			rc = add_string(c, ev, "type", optarg);
			break;
		case 'T':
			rc = add_string(c, ev, "title", optarg);
			break;
		case 'm':
			rc = add_string(c, ev, "message", optarg);
			break;
		case 'C':
			rc = add_string(c, ev, "category", optarg);
			break;
		case 'a':
			rc = add_string(c, ev, "action_url", optarg);
			break;
		case 'd':
			rc = add_string(c, ev, "dedup_key", optarg);
			break;
		case 'c':
			append(ev, "channels", optarg);
			break;
		case 'p':
			prio = notify_priority(optarg);
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
	}
	if (rc)
		goto done;
	if (optind != argc - 1) {
		rc = cli_usage(c, "notify: expected one USER (then --type and "
		               "--title)");
		goto done;
	}
	rc = add_string(c, ev, "user", argv[optind]);
	if (rc)
		goto done;
	if (!json_object_get(ev, "type"))
		json_object_set_new(ev, "type", json_string("admin.notice"));
	json_object_set_new(ev, "source", json_string("cli"));
	err = gh_event_validate(ev, detail, sizeof(detail));
	if (err) {
		fprintf(stderr, "%s: notify: %s\n", c->prog, detail);
		rc = EXIT_DATAERR;
		goto done;
	}
	rc = cli_open_store(c, 0);
	if (rc)
		goto done;
	err = gh_queue_enqueue(c->st, ev, now,
	                       gh_conf_int(c->conf, "queue", "dedup_window"),
	                       &id, &dup);
	if (err) {
		rc = cli_fail(c, err, "notify", NULL);
		goto done;
	}
	if (c->json) {
		json_t *j = json_pack("{s:I, s:b}", "id", (json_int_t)id,
		                      "duplicate", dup);

		cli_print_json(j);
		json_decref(j);
	} else {
		printf("%" PRIu64 "%s\n", id, dup ? " (duplicate: already "
		       "queued)" : "");
	}
done:
	json_decref(ev);
	return rc;
}
