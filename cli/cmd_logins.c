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

#include "cli.h"

struct kh_row {
	char *key;          /* "user\0network" */
	size_t klen;
};

struct kh_scan {
	const char *user;           /* only this user's pairs, or NULL */
	const char *network;        /* only this network, or NULL */
	long long older_than;       /* only last_seen < this (ms), or -1 */
	json_t *arr;                /* list --json */
	struct kh_row *rows;        /* forget, purge: keys to delete */
	size_t n, cap;
	int print;                  /* list in text */
	gh_err err;
};

static int
kh_row(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct kh_scan *s = arg;
	const char *k = key, *net;
	size_t ulen = strnlen(k, klen);
	json_t *rec;
	json_int_t last;
	char t1[32], t2[32];

	if (ulen >= klen)
		return 0;        /* not a pair: not ours to judge */
	if (s->user && (ulen != strlen(s->user) ||
	                memcmp(k, s->user, ulen) != 0))
		return 1;        /* past the user's pairs (keys sort by user) */
	net = k + ulen + 1;
	if (s->network && (klen - ulen - 1 != strlen(s->network) ||
	                   memcmp(net, s->network, klen - ulen - 1) != 0))
		return 0;
	rec = json_loadb(val, vlen, 0, NULL);
	last = json_integer_value(json_object_get(rec, "last_seen"));
	if (s->older_than >= 0 && last >= s->older_than) {
		json_decref(rec);
		return 0;
	}
	if (s->arr) {
		json_t *j = rec ? json_deep_copy(rec) : json_object();

		json_object_set_new(j, "user", json_stringn(k, ulen));
		json_object_set_new(j, "network",
		                    json_stringn(net, klen - ulen - 1));
		json_array_append_new(s->arr, j);
	} else if (s->print) {
		cli_printf("%-20.*s %-22.*s %-40s %6lld  %s  %s\n", (int)ulen, k,
		           (int)(klen - ulen - 1), net,
		           json_string_value(json_object_get(rec, "addr")) ?
		           json_string_value(json_object_get(rec, "addr")) : "",
		           (long long)json_integer_value(json_object_get(rec,
		                                                         "count")),
		           cli_time(json_integer_value(json_object_get(rec,
		                    "first_seen")), t1, sizeof(t1)),
		           cli_time(last, t2, sizeof(t2)));
	} else {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct kh_row *r = realloc(s->rows, cap * sizeof(*r));

			if (r == NULL)
				goto nomem;
			s->rows = r;
			s->cap = cap;
		}
		s->rows[s->n].key = malloc(klen);
		if (s->rows[s->n].key == NULL)
			goto nomem;
		memcpy(s->rows[s->n].key, key, klen);
		s->rows[s->n].klen = klen;
		s->n++;
	}
	json_decref(rec);
	return 0;
nomem:
	json_decref(rec);
	s->err = GH_ENOMEM;
	return 1;
}

static gh_err
kh_scan_txn(struct gh_txn *txn, struct kh_scan *s)
{
	gh_err err;

	/* "user\0" sorts first among the user's keys: start there */
	err = gh_txn_scan(txn, GH_DB_KNOWN_HOSTS, s->user,
	                  s->user ? strlen(s->user) + 1 : 0, 0, kh_row, s,
	                  NULL);
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

	for (size_t i = 0; i < s->n; i++)
		free(s->rows[i].key);
	s->n = 0;    /* a retried transaction (map growth) scans again */
	err = kh_scan_txn(txn, s);
	for (size_t i = 0; err == GH_OK && i < s->n; i++)
		err = gh_txn_del(txn, GH_DB_KNOWN_HOSTS, s->rows[i].key,
		                 s->rows[i].klen);
	return err;
}

static void
kh_free(struct kh_scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->rows[i].key);
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
