/*
 * cmd_logins.c - `gatehouse logins list|forget|purge`: the (user, network)
 * pairs pam_gatehouse has seen at login (the known_hosts database), from
 * which it decides what is a new host.
 *
 * list     every pair, or one user's, with the last address, the number
 *          of logins and when the network was first and last seen.
 * forget   a user's pairs, or one network of a user (a network that should
 *          alert again, a user who left).  Forgetting every pair of a user
 *          makes the next login a silent baseline again.
 * purge    pairs not seen for a while (--older-than), so that the database
 *          does not keep every network anyone ever came from; a purged
 *          network alerts again on its next login, which is the point.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/knownhosts.h"
#include "cli.h"

struct kh_row {
	char *user;
	char *net;
};

struct kh_scan {
	const char *user;           /* only this user's pairs, or NULL */
	const char *network;        /* only this network, or NULL */
	long long older_than;       /* only last_seen < this (ms), or -1 */
	json_t *arr;                /* list --json */
	struct kh_row *rows;        /* forget, purge: pairs to delete */
	size_t n, cap;
	int print;                  /* list in text */
	gh_err err;
};

static void
kh_rows_clear(struct kh_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->rows[i].user);
		free(s->rows[i].net);
	}
	s->n = 0;
}

/* h is NULL for a record that cannot be read (knownhosts.h): listed with
 * its key only, forgotten with the rest, never purged (its age is not
 * known). */
static int
kh_row(const char *user, const char *net, const struct gh_knownhost *h,
       void *arg)
{
	struct kh_scan *s = arg;
	char t1[32], t2[32];

	if (s->network && strcmp(net, s->network) != 0)
		return 0;
	if (s->older_than >= 0 && (h == NULL || h->last_seen >= s->older_than))
		return 0;
	if (s->arr) {
		json_t *j = h ? json_deep_copy(h->rec) : json_object();

		if (j == NULL)
			goto nomem;
		json_object_set_new(j, "user", json_string(user));
		json_object_set_new(j, "network", json_string(net));
		json_array_append_new(s->arr, j);
	} else if (s->print) {
		cli_printf("%-20s %-22s %-40s %6llu  %s  %s\n", user, net,
		           h ? h->addr : "", h ? (unsigned long long)h->count : 0,
		           cli_time(h ? h->first_seen : 0, t1, sizeof(t1)),
		           cli_time(h ? h->last_seen : 0, t2, sizeof(t2)));
	} else {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct kh_row *r = realloc(s->rows, cap * sizeof(*r));

			if (r == NULL)
				goto nomem;
			s->rows = r;
			s->cap = cap;
		}
		s->rows[s->n].user = strdup(user);
		s->rows[s->n].net = strdup(net);
		if (s->rows[s->n].user == NULL || s->rows[s->n].net == NULL) {
			free(s->rows[s->n].user);
			free(s->rows[s->n].net);
			goto nomem;
		}
		s->n++;
	}
	return 0;
nomem:
	s->err = GH_ENOMEM;
	return 1;
}

static gh_err
kh_scan_txn(struct gh_txn *txn, struct kh_scan *s)
{
	gh_err err;

	s->err = GH_OK;
	err = gh_knownhost_scan_txn(txn, s->user, kh_row, s, NULL);
	return err ? err : s->err;
}

static gh_err
list_fn(struct gh_txn *txn, void *arg)
{
	return kh_scan_txn(txn, arg);
}

static gh_err
delete_fn(struct gh_txn *txn, void *arg)
{
	struct kh_scan *s = arg;
	gh_err err;

	kh_rows_clear(s);   /* a retried transaction (map growth) scans again */
	err = kh_scan_txn(txn, s);
	for (size_t i = 0; err == GH_OK && i < s->n; i++)
		err = gh_knownhost_del_txn(txn, s->rows[i].user,
		                           s->rows[i].net);
	return err;
}

static void
kh_free(struct kh_scan *s)
{
	kh_rows_clear(s);
	free(s->rows);
	json_decref(s->arr);
}

int
cmd_logins(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"user", required_argument, NULL, 'u'},
		{"older-than", required_argument, NULL, 'o'},
		{"dry-run", no_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct kh_scan s;
	long long older = -1;
	int opt, dry = 0, rc;
	gh_err err;

	memset(&s, 0, sizeof(s));
	s.older_than = -1;
	if (sub == NULL || (strcmp(sub, "list") != 0 &&
	                    strcmp(sub, "forget") != 0 &&
	                    strcmp(sub, "purge") != 0))
		return cli_usage(c, "logins list [--user U] | forget USER "
		                 "[NETWORK] | purge --older-than DURATION "
		                 "[--dry-run]");
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (opt) {
		case 'u':
			s.user = optarg;
			break;
		case 'o':
			if (gh_parse_duration_ms(optarg, &older) || older <= 0)
				return cli_usage(c, "bad --older-than '%s' "
				                 "(a duration: 90d, 12w)", optarg);
			break;
		case 'n':
			dry = 1;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "logins %s: unknown option", sub);
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(sub, "forget") == 0) {
		if (argc < 1 || argc > 2 || argv[0][0] == '\0')
			return cli_usage(c, "logins forget USER [NETWORK]");
		s.user = argv[0];
		s.network = argc == 2 ? argv[1] : NULL;
	} else if (argc != 0) {
		return cli_usage(c, "logins %s: unexpected '%s'", sub, argv[0]);
	}
	if (strcmp(sub, "purge") == 0 && older < 0)
		return cli_usage(c, "logins purge needs --older-than DURATION");
	if ((rc = cli_open_domain_store(c, GH_DOMAIN_LOGIN)) != EXIT_OK)
		return rc;
	if (older >= 0)
		s.older_than = gh_now_ms() - older;

	if (strcmp(sub, "list") == 0 || dry) {
		if (c->json)
			s.arr = json_array();
		else
			s.print = 1;
		if (s.print && !dry)
			cli_printf("%-20s %-22s %-40s %6s  %-19s  %s\n", "USER",
			           "NETWORK", "LAST ADDRESS", "LOGINS",
			           "FIRST SEEN", "LAST SEEN");
		err = gh_store_view(c->st, list_fn, &s);
		if (err) {
			kh_free(&s);
			return cli_fail(c, err, "logins", NULL);
		}
		if (s.arr)
			cli_print_json(s.arr);
		kh_free(&s);
		return EXIT_OK;
	}
	err = gh_store_update(c->st, delete_fn, &s);
	if (err) {
		kh_free(&s);
		return cli_fail(c, err, "logins", NULL);
	}
	if (c->json) {
		json_t *j = json_pack("{s:I}", "removed", (json_int_t)s.n);

		cli_print_json(j);
		json_decref(j);
	} else {
		cli_printf("removed %zu known network%s\n", s.n,
		           s.n == 1 ? "" : "s");
	}
	rc = (strcmp(sub, "forget") == 0 && s.n == 0) ? EXIT_NOTFOUND :
	                                                EXIT_OK;
	kh_free(&s);
	return rc;
}
