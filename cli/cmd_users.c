/*
 * cmd_users.c - who people are and how they want to be told:
 *   gatehouse users set|show|list|delete USER ...   contacts
 *   gatehouse prefs set|show USER ...               notification preferences
 *   gatehouse inbox list|read USER ...              the in-app inbox
 * Records and their rules are in gatehouse/users.h.  A set is one write
 * transaction that reads the record, applies the changes (as a JSON merge
 * patch, RFC 7396, plus push subscription edits) and validates the result
 * before writing, so a typo never reaches notifyd.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatehouse/users.h"
#include "cli.h"

/* ---- merge patch ---- */

static int
merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)patch, k, v) {
		json_t *cur = json_object_get(target, k);

		if (json_is_null(v)) {
			json_object_del(target, k);
		} else if (json_is_object(v)) {
			if (!json_is_object(cur)) {
				cur = json_object();
				if (cur == NULL || json_object_set_new(target, k, cur))
					return -1;
			}
			if (merge_patch(cur, v))
				return -1;
			if (json_object_size(cur) == 0)
				json_object_del(target, k);
		} else if (json_object_set(target, k, v)) {
			return -1;
		}
	}
	return 0;
}

/*
 * err and *rec are what a get returned: the record with patch merged in,
 * a missing one starting empty.  On failure *rec is released and NULL.
 */
static gh_err
patch_record(gh_err err, json_t **rec, const json_t *patch)
{
	if (err == GH_ENOTFOUND)
		*rec = json_object();
	else if (err)
		return err;
	if (*rec == NULL || merge_patch(*rec, patch)) {
		json_decref(*rec);
		*rec = NULL;
		return GH_ENOMEM;
	}
	return GH_OK;
}

/* "NAME=VALUE" into patch[obj][NAME] = value (or null for "default"). */
static int
patch_pair(json_t *patch, const char *obj, const char *arg, int boolean)
{
	const char *eq = strchr(arg, '=');
	json_t *o = json_object_get(patch, obj), *v;
	char name[128];

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(name))
		return -1;
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	eq++;
	if (strcmp(eq, "default") == 0 || *eq == '\0')
		v = json_null();
	else if (boolean && strcmp(eq, "on") == 0)
		v = json_true();
	else if (boolean && strcmp(eq, "off") == 0)
		v = json_false();
	else if (boolean)
		return -1;
	else
		v = json_string(eq);
	if (v == NULL)
		return -1;
	if (o == NULL) {
		o = json_object();
		json_object_set_new(patch, obj, o);
	}
	json_object_set_new(o, name, v);
	return 0;
}

/* ---- users ---- */

struct users_set {
	const char *user;
	json_t *patch;
	json_t *push_add;       /* array of subscriptions */
	json_t *push_remove;    /* array of endpoints */
	int64_t now;
	char detail[256];
};

static void
push_drop(json_t *push, const char *endpoint)
{
	size_t i;
	json_t *p;

	json_array_foreach(push, i, p) {
		const char *ep = json_string_value(json_object_get(p, "endpoint"));

		if (ep && strcmp(ep, endpoint) == 0) {
			json_array_remove(push, i);
			return;
		}
	}
}

static gh_err
users_set_fn(struct gh_txn *txn, void *arg)
{
	struct users_set *a = arg;
	json_t *rec = NULL, *push, *p;
	size_t i;
	gh_err err;

	err = patch_record(gh_contacts_get_txn(txn, a->user, &rec), &rec,
	                   a->patch);
	if (err)
		return err;
	push = json_object_get(rec, "push");
	json_array_foreach(a->push_remove, i, p)
		push_drop(push, json_string_value(p));
	json_array_foreach(a->push_add, i, p) {
		if (push == NULL) {
			push = json_array();
			json_object_set_new(rec, "push", push);
		}
		push_drop(push, json_string_value(json_object_get(p, "endpoint")));
		json_array_append(push, p);
	}
	if (push && json_array_size(push) == 0)
		json_object_del(rec, "push");
	err = gh_contacts_validate(rec, a->detail, sizeof(a->detail));
	if (err == GH_OK)
		err = gh_contacts_put_txn(txn, a->user, rec, a->now);
	json_decref(rec);
	return err;
}

/* Run a set's transaction; a record it refused is a data error. */
static int
apply_set(struct cli *c, gh_txn_fn fn, void *arg, const char *detail,
          const char *what, const char *user)
{
	gh_err err = gh_store_update(c->st, fn, arg);

	if (err == GH_EINVAL && detail[0]) {
		cli_eprintf("%s: %s %s: %s\n", c->prog, what, user, detail);
		return EXIT_DATAERR;
	}
	return err ? cli_fail(c, err, what, NULL) : EXIT_OK;
}

static int
tz_exists(struct cli *c, const char *tz)
{
	const char *dir = gh_conf_str(c->conf, "notifyd", "zoneinfo");
	char path[512];

	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0)
		return 1;
	if (strstr(tz, "..") || tz[0] == '/')
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo",
	         tz);
	return access(path, R_OK) == 0;
}

/*
 * --lang TAG: the language of the user's notifications, kept in its
 * canonical case so that it names notifyd's template directory (ko,
 * pt-BR) however it was typed.  "" or "default" removes it: the user then
 * gets [notifyd] default_language.  Checked here too, not only by the
 * record's validation, to say what a tag looks like.
 */
static int
set_lang(struct cli *c, json_t *patch, const char *tag)
{
	char canon[GH_LANG_MAX + 1];

	if (*tag == '\0' || strcmp(tag, "default") == 0)
		return json_object_set_new(patch, "lang", json_null()) ?
		       EXIT_SOFTWARE : EXIT_OK;
	if (gh_lang_tag_canon(tag, canon, sizeof(canon)) != GH_OK) {
		cli_eprintf("%s: users set: --lang '%s' is not a language tag "
		            "(like ko, en or pt-BR: 2-3 letters, then '-' and "
		            "1-8 letters or digits, at most %d bytes; '' or "
		            "default removes it)\n", c->prog, tag, GH_LANG_MAX);
		return EXIT_DATAERR;
	}
	return cli_set_string(c, patch, "lang", canon, "users set");
}

static int
users_set(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"name", required_argument, NULL, 'n'},
		{"email", required_argument, NULL, 'e'},
		{"phone", required_argument, NULL, 'p'},
		{"tz", required_argument, NULL, 'z'},
		{"lang", required_argument, NULL, 'l'},
		{"chat", required_argument, NULL, 'c'},
		{"push-add", required_argument, NULL, 'a'},
		{"push-remove", required_argument, NULL, 'r'},
		{"unset", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0}
	};
	struct users_set a;
	const char *tz = NULL;
	int ch, rc = EXIT_OK;

	memset(&a, 0, sizeof(a));
	a.patch = json_object();
	a.push_add = json_array();
	a.push_remove = json_array();
	a.now = gh_now_ms();
	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		const char *field = NULL;

		switch (ch) {
		case 'n': field = "name"; break;
		case 'e': field = "email"; break;
		case 'p': field = "phone"; break;
		case 'z': field = "tz"; tz = optarg; break;
		case 'l':
			rc = set_lang(c, a.patch, optarg);
			break;
		case 'c':
			if (patch_pair(a.patch, "chat", optarg, 0))
				rc = cli_usage(c, "users set: --chat takes "
				               "CHANNEL=VALUE (empty VALUE removes)");
			break;
		case 'a': {
			json_t *s = json_loads(optarg, 0, NULL);

			if (!json_is_object(s)) {
				json_decref(s);
				rc = cli_usage(c, "users set: --push-add takes the "
				               "subscription's JSON ({\"endpoint\": ..., "
				               "\"keys\": {\"p256dh\": ..., \"auth\": "
				               "...}})");
				break;
			}
			json_array_append_new(a.push_add, s);
			break;
		}
		case 'r':
			json_array_append_new(a.push_remove, json_string(optarg));
			break;
		case 'u':
			json_object_set_new(a.patch, optarg, json_null());
			break;
		default:
			rc = cli_usage(c, "users set: unknown option");
			break;
		}
		if (field && rc == EXIT_OK)
			rc = cli_set_string(c, a.patch, field, optarg,
			                    "users set");
	}
	if (rc)
		goto done;
	if (optind != argc - 1 || !gh_user_id_ok(argv[optind])) {
		rc = cli_usage(c, "users set: expected one USER and options");
		goto done;
	}
	a.user = argv[optind];
	rc = cli_open_store(c, 0);
	if (rc)
		goto done;
	if (tz && !tz_exists(c, tz)) {
		cli_eprintf("%s: users set: no time zone '%s' (see "
		            "/usr/share/zoneinfo)\n", c->prog, tz);
		rc = EXIT_DATAERR;
		goto done;
	}
	rc = apply_set(c, users_set_fn, &a, a.detail, "users set", a.user);
done:
	json_decref(a.patch);
	json_decref(a.push_add);
	json_decref(a.push_remove);
	return rc;
}

struct get_arg {
	const char *user;
	json_t *contacts, *prefs;
	size_t total, unread;
};

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct get_arg *a = arg;
	gh_err err;

	json_decref(a->contacts);
	json_decref(a->prefs);
	a->contacts = a->prefs = NULL;
	err = gh_contacts_get_txn(txn, a->user, &a->contacts);
	if (err && err != GH_ENOTFOUND)
		return err;
	err = gh_prefs_get_txn(txn, a->user, &a->prefs);
	if (err && err != GH_ENOTFOUND)
		return err;
	return gh_inbox_count_txn(txn, a->user, &a->total, &a->unread);
}

static const char *
js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static int
user_get(struct cli *c, int argc, char **argv, const char *what,
         struct get_arg *a)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int ch, rc;
	gh_err err;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(c, "%s show: unknown option", what);
		c->json = 1;
	}
	if (optind != argc - 1 || !gh_user_id_ok(argv[optind]))
		return cli_usage(c, "%s show: expected one USER", what);
	memset(a, 0, sizeof(*a));
	a->user = argv[optind];
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	err = gh_store_view(c->st, get_fn, a);
	if (err)
		return cli_fail(c, err, what, NULL);
	return EXIT_OK;
}

static int
users_show(struct cli *c, int argc, char **argv)
{
	struct get_arg a;
	const json_t *v;
	const char *k;
	char t[32];
	size_t i;
	int rc = user_get(c, argc, argv, "users", &a);

	if (rc)
		return rc;
	if (a.contacts == NULL) {
		cli_eprintf("%s: no contacts for user %s\n", c->prog, a.user);
		json_decref(a.prefs);
		return EXIT_NOTFOUND;
	}
	if (c->json) {
		cli_print_json(a.contacts);
		goto done;
	}
	cli_printf("user:     %s\n", a.user);
	cli_printf("name:     %s\n", js(a.contacts, "name"));
	cli_printf("email:    %s\n", js(a.contacts, "email"));
	cli_printf("phone:    %s\n", js(a.contacts, "phone"));
	cli_printf("tz:       %s\n", js(a.contacts, "tz"));
	if (json_object_get(a.contacts, "lang"))
		cli_printf("lang:     %s\n", js(a.contacts, "lang"));
	else
		cli_printf("lang:     - (default_language: %s)\n",
		           c->conf && gh_conf_str(c->conf, "notifyd",
		                                  "default_language") ?
		           gh_conf_str(c->conf, "notifyd", "default_language") :
		           "en");
	json_object_foreach(json_object_get(a.contacts, "chat"), k, v)
		cli_printf("chat:     %s = %s\n", k, json_string_value(v));
	json_array_foreach(json_object_get(a.contacts, "push"), i, v)
		cli_printf("push:     %s (added %s)\n", js(v, "endpoint"),
		           cli_time(json_integer_value(json_object_get(v, "added_at")),
		                    t, sizeof(t)));
	cli_printf("inbox:    %zu items, %zu unread\n", a.total, a.unread);
	cli_printf("updated:  %s\n", cli_time(json_integer_value(json_object_get(
	           a.contacts, "updated_at")), t, sizeof(t)));
done:
	json_decref(a.contacts);
	json_decref(a.prefs);
	return EXIT_OK;
}

struct list_arg {
	json_t *arr;
};

static int
list_row(const char *user, const json_t *rec, void *arg)
{
	struct list_arg *l = arg;

	if (l->arr) {
		json_t *r = json_deep_copy(rec);

		json_object_set_new(r, "user", json_string(user));
		json_array_append_new(l->arr, r);
		return 0;
	}
	cli_printf("%-24s %-32s %-16s %s\n", user, js(rec, "email"), js(rec, "phone"),
	           js(rec, "tz"));
	return 0;
}

static gh_err
list_fn(struct gh_txn *txn, void *arg)
{
	return gh_contacts_each_txn(txn, list_row, arg);
}

/* Run a listing view; with --json the rows gathered in *arr are printed. */
static int
view_list(struct cli *c, gh_txn_fn fn, void *arg, json_t **arr,
          const char *what)
{
	gh_err err;

	if (c->json)
		*arr = json_array();
	err = gh_store_view(c->st, fn, arg);
	if (err == GH_OK && *arr)
		cli_print_json(*arr);
	json_decref(*arr);
	*arr = NULL;
	return err ? cli_fail(c, err, what, NULL) : EXIT_OK;
}

static int
users_list(struct cli *c, int argc, char **argv)
{
	struct list_arg l = {NULL};
	int rc;

	if (argc > 1 && strcmp(argv[1], "--json") == 0)
		c->json = 1;
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	return view_list(c, list_fn, &l, &l.arr, "users list");
}

static gh_err
delete_fn(struct gh_txn *txn, void *arg)
{
	const char *user = arg;
	gh_err a = gh_contacts_del_txn(txn, user);
	gh_err b = gh_prefs_del_txn(txn, user);

	if (a && a != GH_ENOTFOUND)
		return a;
	if (b && b != GH_ENOTFOUND)
		return b;
	return a == GH_ENOTFOUND && b == GH_ENOTFOUND ? GH_ENOTFOUND : GH_OK;
}

static int
users_delete(struct cli *c, int argc, char **argv)
{
	int rc;
	gh_err err;

	if (argc != 2 || !gh_user_id_ok(argv[1]))
		return cli_usage(c, "users delete: expected one USER");
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	err = gh_store_update(c->st, delete_fn, argv[1]);
	if (err == GH_ENOTFOUND) {
		cli_eprintf("%s: no user %s\n", c->prog, argv[1]);
		return EXIT_NOTFOUND;
	}
	return err ? cli_fail(c, err, "users delete", NULL) : EXIT_OK;
}

int
cmd_users(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub == NULL)
		return cli_usage(c, "users: expected set, show, list or delete");
	if (strcmp(sub, "set") == 0)
		return users_set(c, argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return users_show(c, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return users_list(c, argc - 1, argv + 1);
	if (strcmp(sub, "delete") == 0)
		return users_delete(c, argc - 1, argv + 1);
	return cli_usage(c, "users: unknown subcommand '%s'", sub);
}

/* ---- preferences ---- */

struct prefs_set {
	const char *user;
	json_t *patch;
	int64_t now;
	char detail[256];
};

static gh_err
prefs_set_fn(struct gh_txn *txn, void *arg)
{
	struct prefs_set *a = arg;
	json_t *rec = NULL;
	gh_err err;

	err = patch_record(gh_prefs_get_txn(txn, a->user, &rec), &rec,
	                   a->patch);
	if (err)
		return err;
	err = gh_prefs_validate(rec, a->detail, sizeof(a->detail));
	if (err == GH_OK)
		err = gh_prefs_put_txn(txn, a->user, rec, a->now);
	json_decref(rec);
	return err;
}

/* "22:00-07:00" or "off" */
static int
parse_quiet(json_t *patch, const char *s)
{
	char a[8], b[8];
	const char *dash = strchr(s, '-');

	if (strcmp(s, "off") == 0) {
		json_object_set_new(patch, "quiet", json_null());
		return 0;
	}
	if (dash == NULL || (size_t)(dash - s) >= sizeof(a) ||
	    strlen(dash + 1) >= sizeof(b))
		return -1;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	snprintf(b, sizeof(b), "%s", dash + 1);
	if (!gh_hhmm_ok(a) || !gh_hhmm_ok(b))
		return -1;
	json_object_set_new(patch, "quiet", json_pack("{s:s, s:s}", "start", a,
	                                              "end", b));
	return 0;
}

/* "daily@08:00", "weekly:mon@08:00" or "off" */
static int
parse_digest(json_t *patch, const char *s)
{
	const char *at = strchr(s, '@');
	json_t *d;

	if (strcmp(s, "off") == 0) {
		json_object_set_new(patch, "digest", json_null());
		return 0;
	}
	if (at == NULL || !gh_hhmm_ok(at + 1))
		return -1;
	d = json_object_get(patch, "digest");
	if (!json_is_object(d)) {
		d = json_object();
		json_object_set_new(patch, "digest", d);
	}
	json_object_set_new(d, "at", json_string(at + 1));
	if (strncmp(s, "daily@", 6) == 0) {
		json_object_set_new(d, "every", json_string("daily"));
		json_object_set_new(d, "day", json_null());
	} else if (strncmp(s, "weekly:", 7) == 0 && at - s == 10) {
		json_object_set_new(d, "every", json_string("weekly"));
		json_object_set_new(d, "day", json_stringn(s + 7, 3));
	} else {
		return -1;
	}
	return 0;
}

static int
prefs_set(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"channel", required_argument, NULL, 'c'},
		{"category", required_argument, NULL, 'C'},
		{"quiet", required_argument, NULL, 'q'},
		{"digest", required_argument, NULL, 'd'},
		{"digest-channel", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0}
	};
	struct prefs_set a;
	json_t *dch = NULL;
	int ch, rc = EXIT_OK;

	memset(&a, 0, sizeof(a));
	a.patch = json_object();
	a.now = gh_now_ms();
	while (rc == EXIT_OK &&
	       (ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (patch_pair(a.patch, "channels", optarg, 1))
				rc = cli_usage(c, "prefs set: --channel takes "
				               "NAME=on|off|default");
			break;
		case 'C':
			if (patch_pair(a.patch, "categories", optarg, 0))
				rc = cli_usage(c, "prefs set: --category takes "
				               "CATEGORY=on|off|digest|default");
			break;
		case 'q':
			if (parse_quiet(a.patch, optarg))
				rc = cli_usage(c, "prefs set: --quiet takes "
				               "HH:MM-HH:MM or off");
			break;
		case 'd':
			if (parse_digest(a.patch, optarg))
				rc = cli_usage(c, "prefs set: --digest takes "
				               "daily@HH:MM, weekly:DAY@HH:MM (DAY: "
				               "mon..sun) or off");
			break;
		case 'D':
			if (dch == NULL)
				dch = json_array();
			if (strcmp(optarg, "default") != 0)
				json_array_append_new(dch, json_string(optarg));
			break;
		default:
			rc = cli_usage(c, "prefs set: unknown option");
			break;
		}
	}
	if (rc)
		goto done;
	if (dch) {
		json_t *d = json_object_get(a.patch, "digest");

		if (json_is_null(d)) {
			rc = cli_usage(c, "prefs set: --digest off and "
			               "--digest-channel together");
			goto done;
		}
		if (d == NULL) {
			d = json_object();
			json_object_set_new(a.patch, "digest", d);
		}
		json_object_set(d, "channels", json_array_size(dch) ? dch :
		                json_null());
	}
	if (optind != argc - 1 || !gh_user_id_ok(argv[optind])) {
		rc = cli_usage(c, "prefs set: expected one USER and options");
		goto done;
	}
	a.user = argv[optind];
	rc = cli_open_store(c, 0);
	if (rc)
		goto done;
	rc = apply_set(c, prefs_set_fn, &a, a.detail, "prefs set", a.user);
done:
	json_decref(dch);
	json_decref(a.patch);
	return rc;
}

static void
print_map(const char *label, const json_t *o)
{
	const char *k;
	json_t *v;

	cli_printf("%-12s", label);
	if (json_object_size(o) == 0)
		cli_printf(" (defaults)");
	json_object_foreach((json_t *)o, k, v)
		cli_printf(" %s=%s", k, json_is_boolean(v) ?
		           (json_is_true(v) ? "on" : "off") : json_string_value(v));
	cli_printf("\n");
}

static int
prefs_show(struct cli *c, int argc, char **argv)
{
	struct get_arg a;
	const json_t *q, *d, *v;
	size_t i;
	int rc = user_get(c, argc, argv, "prefs", &a);

	if (rc)
		return rc;
	if (c->json) {
		json_t *p = a.prefs ? a.prefs : json_object();

		cli_print_json(p);
		if (p != a.prefs)
			json_decref(p);
		goto done;
	}
	cli_printf("user:        %s\n", a.user);
	print_map("channels:", json_object_get(a.prefs, "channels"));
	print_map("categories:", json_object_get(a.prefs, "categories"));
	q = json_object_get(a.prefs, "quiet");
	if (q)
		cli_printf("quiet:       %s-%s (%s)\n", js(q, "start"), js(q, "end"),
		           json_object_get(a.contacts, "tz") ? js(a.contacts, "tz") :
		           "UTC");
	else
		cli_printf("quiet:       none\n");
	d = json_object_get(a.prefs, "digest");
	if (d) {
		cli_printf("digest:      %s%s%s at %s", js(d, "every"),
		           json_object_get(d, "day") ? " on " : "",
		           json_object_get(d, "day") ? js(d, "day") : "",
		           js(d, "at"));
		json_array_foreach(json_object_get(d, "channels"), i, v)
			cli_printf("%s%s", i ? ", " : " via ", json_string_value(v));
		cli_printf("\n");
	} else {
		cli_printf("digest:      default schedule\n");
	}
done:
	json_decref(a.contacts);
	json_decref(a.prefs);
	return EXIT_OK;
}

int
cmd_prefs(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub && strcmp(sub, "set") == 0)
		return prefs_set(c, argc - 1, argv + 1);
	if (sub && strcmp(sub, "show") == 0)
		return prefs_show(c, argc - 1, argv + 1);
	return cli_usage(c, "prefs: expected set or show");
}

/* ---- inbox ---- */

struct inbox_arg {
	const char *user;
	unsigned flags;
	size_t limit, n;
	json_t *arr;
	uint64_t id;
	int64_t now;
	size_t changed;
};

static int
inbox_row(uint64_t id, const json_t *it, void *arg)
{
	struct inbox_arg *a = arg;
	char t[32];

	if (a->arr) {
		json_t *r = json_deep_copy(it);

		json_array_append_new(a->arr, r);
	} else {
		cli_printf("%-8" PRIu64 " %-6s %-20s %-20s %s\n", id,
		           json_is_null(json_object_get(it, "read_at")) ? "unread" :
		           "read", cli_time(json_integer_value(json_object_get(it,
		           "created_at")), t, sizeof(t)), js(it, "type"),
		           js(it, "title"));
	}
	return a->limit && ++a->n >= a->limit;
}

static gh_err
inbox_list_fn(struct gh_txn *txn, void *arg)
{
	struct inbox_arg *a = arg;

	a->n = 0;
	if (a->arr)
		json_array_clear(a->arr);
	return gh_inbox_list_txn(txn, a->user, a->flags, 0, inbox_row, a);
}

static gh_err
inbox_read_fn(struct gh_txn *txn, void *arg)
{
	struct inbox_arg *a = arg;

	return gh_inbox_mark_read_txn(txn, a->user, a->id, a->now, &a->changed);
}

int
cmd_inbox(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"unread", no_argument, NULL, 'u'},
		{"limit", required_argument, NULL, 'n'},
		{"all", no_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct inbox_arg a;
	const char *sub = argc > 1 ? argv[1] : "";
	int ch, rc, all = 0;
	gh_err err;

	memset(&a, 0, sizeof(a));
	if (strcmp(sub, "list") && strcmp(sub, "read"))
		return cli_usage(c, "inbox: expected list USER or read USER "
		                 "[ID|--all]");
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'u':
			a.flags |= GH_INBOX_UNREAD;
			break;
		case 'n':
			a.limit = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			all = 1;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "inbox: unknown option");
		}
	}
	if (optind >= argc || !gh_user_id_ok(argv[optind]))
		return cli_usage(c, "inbox %s: expected USER", sub);
	a.user = argv[optind++];
	if (strcmp(sub, "read") == 0) {
		if (!all && (optind != argc - 1 ||
		             !(a.id = cli_parse_id(argv[optind]))))
			return cli_usage(c, "inbox read: expected USER and an "
			                 "event id, or --all");
	} else if (optind != argc) {
		return cli_usage(c, "inbox list: unexpected '%s'", argv[optind]);
	}
	rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (strcmp(sub, "read") == 0) {
		a.now = gh_now_ms();
		err = gh_store_update(c->st, inbox_read_fn, &a);
		if (err == GH_ENOTFOUND) {
			cli_eprintf("%s: %s has no item %" PRIu64 "\n", c->prog,
			            a.user, a.id);
			return EXIT_NOTFOUND;
		}
		if (err)
			return cli_fail(c, err, "inbox read", NULL);
		cli_printf("%zu marked read\n", a.changed);
		return EXIT_OK;
	}
	return view_list(c, inbox_list_fn, &a, &a.arr, "inbox list");
}
