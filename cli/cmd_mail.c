/*
 * cmd_mail.c - `gatehouse mail log|show`: the mail log gatehouse-milter
 * keeps, one record per message (docs/store.md, mail_log).
 *
 *   gatehouse mail log [--sender ADDR] [--rcpt ADDR] [--since WHEN]
 *                      [--status ACTION] [--limit N] [--json]
 *   gatehouse mail show ID|QUEUE-ID [--json]
 *
 * WHEN is a duration back from now ("2h", "7d") or a date
 * ("2024-05-01", "2024-05-01T10:00:00Z", UTC).  Newest first.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gatehouse/maillog.h"
#include "cli.h"

struct filter {
	const char *sender;
	const char *rcpt;
	const char *status;
	int64_t since_ms;	/* 0: none */
	size_t limit;		/* 0: no limit */
};

struct log_scan {
	const struct filter *f;
	json_t *arr;		/* matches, newest first */
	size_t n;
	size_t skipped;		/* records of a later version */
};

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int
has_rcpt(const struct gh_maillog *m, const char *want)
{
	const json_t *const lists[] = {m->rcpts, m->suppressed};

	for (size_t l = 0; l < 2; l++) {
		const json_t *a = lists[l];
		size_t i;
		json_t *v;

		json_array_foreach(a, i, v)
			if (strcasecmp(json_string_value(v) ?
			               json_string_value(v) : "", want) == 0)
				return 1;
	}
	return 0;
}

static int
matches(const struct filter *f, const struct gh_maillog *m)
{
	if (f->sender && strcasecmp(m->sender, f->sender) != 0)
		return 0;
	if (f->status && strcmp(m->action, f->status) != 0)
		return 0;
	if (f->rcpt && !has_rcpt(m, f->rcpt))
		return 0;
	return 1;
}

/* 1 to stop: the record is older than --since or the limit is reached. */
static int
scan_one(const struct gh_maillog *m, void *arg)
{
	struct log_scan *s = arg;

	if (s->f->since_ms && m->started_at < s->f->since_ms)
		return 1;
	if (matches(s->f, m)) {
		json_array_append(s->arr, m->rec);
		s->n++;
		return s->f->limit && s->n >= s->f->limit;
	}
	return 0;
}

static gh_err
log_fn(struct gh_txn *txn, void *arg)
{
	struct log_scan *s = arg;

	json_array_clear(s->arr);
	s->n = 0;
	return gh_maillog_scan_txn(txn, 0, 1, scan_one, s, &s->skipped);
}

static int
parse_since(const char *s, int64_t *out)
{
	long long ms;
	struct tm tm;
	const char *end;

	if (gh_parse_duration_ms(s, &ms) == GH_OK) {
		*out = gh_now_ms() - ms;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	*out = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static void
print_row(json_t *rec)
{
	struct gh_maillog m;
	const char *first;
	char t[32], to[80];
	size_t nr;

	if (gh_maillog_read(rec, &m) != GH_OK)
		return;    /* the scan gave only records it could read */
	first = json_string_value(json_array_get(m.rcpts, 0));
	nr = json_array_size(m.rcpts);

	if (first == NULL)
		snprintf(to, sizeof(to), "-");
	else if (nr > 1)
		snprintf(to, sizeof(to), "%s +%zu", first, nr - 1);
	else
		snprintf(to, sizeof(to), "%s", first);
	cli_printf("%-6" PRId64 " %-20s %-10s %-10s %-8s %-28s %-30s %s\n",
	           (int64_t)m.id, cli_time(m.started_at, t, sizeof(t)),
	           m.queue_id, m.action,
	           /* signed only if it went on signed (older records of
	            * deferred mail still list the signatures made) */
	           json_array_size(m.signatures) &&
	           strcmp(m.action, "accepted") == 0 ? "signed" : "-",
	           *m.sender ? m.sender : "<>", to, m.subject);
}

static int
mail_log(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"sender", required_argument, NULL, 's'},
		{"rcpt", required_argument, NULL, 'r'},
		{"since", required_argument, NULL, 'S'},
		{"status", required_argument, NULL, 't'},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	static const char *const statuses[] = {
		"accepted", "rejected", "tempfailed", "discarded", "aborted"
	};
	struct filter f = {NULL, NULL, NULL, 0, 50};
	struct log_scan s;
	gh_err err;
	int ch, rc, ok;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 's':
			f.sender = optarg;
			break;
		case 'r':
			f.rcpt = optarg;
			break;
		case 'S':
			if (parse_since(optarg, &f.since_ms) != 0)
				return cli_usage(c, "mail log: bad --since '%s' "
				                 "(a duration like 2h, or "
				                 "YYYY-MM-DD[THH:MM:SS])", optarg);
			break;
		case 't':
			ok = 0;
			for (size_t i = 0; i < 5; i++)
				ok |= strcmp(optarg, statuses[i]) == 0;
			if (!ok)
				return cli_usage(c, "mail log: --status is one of "
				                 "accepted, rejected, tempfailed, "
				                 "discarded, aborted");
			f.status = optarg;
			break;
		case 'n':
			f.limit = (size_t)cli_parse_id(optarg);
			if (f.limit == 0 && strcmp(optarg, "0") != 0)
				return cli_usage(c, "mail log: bad --limit");
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "mail log: unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "mail log takes no arguments");
	rc = cli_open_domain_store(c, GH_DOMAIN_MAIL);
	if (rc)
		return rc;
	memset(&s, 0, sizeof(s));
	s.f = &f;
	s.arr = json_array();
	err = gh_store_view(c->st, log_fn, &s);
	if (err) {
		json_decref(s.arr);
		return cli_fail(c, err, "mail log", NULL);
	}
	if (c->json) {
		cli_print_json(s.arr);
	} else {
		size_t i;
		json_t *rec;

		cli_printf("%-6s %-20s %-10s %-10s %-8s %-28s %-30s %s\n", "ID",
		           "TIME", "QUEUE-ID", "ACTION", "DKIM", "SENDER", "TO",
		           "SUBJECT");
		json_array_foreach(s.arr, i, rec)
			print_row(rec);
	}
	json_decref(s.arr);
	cli_skipped(c, s.skipped, "mail log");
	return EXIT_OK;
}

struct find_qid {
	const char *qid;
	json_t *rec;
};

static int
find_one(const struct gh_maillog *m, void *arg)
{
	struct find_qid *q = arg;

	if (strcmp(m->queue_id, q->qid) != 0)
		return 0;
	q->rec = json_incref(m->rec);
	return 1;
}

struct show_arg {
	uint64_t id;
	struct find_qid q;
};

static gh_err
show_fn(struct gh_txn *txn, void *arg)
{
	struct show_arg *a = arg;

	json_decref(a->q.rec);
	a->q.rec = NULL;
	if (a->id) {
		gh_err err = gh_maillog_get_txn(txn, a->id, &a->q.rec);

		if (err != GH_ENOTFOUND)
			return err;
	}
	/* a queue id: newest first, the usual question being "what just
	 * happened to this one" */
	return gh_maillog_scan_txn(txn, 0, 1, find_one, &a->q, NULL);
}

static void
print_record(const json_t *rec)
{
	static const char *const order[] = {
		"id", "queue_id", "action", "reason", "direction", "why",
		"sender", "from", "subject", "message_id", "size",
		"client_addr", "client_name", "auth_user", "bulk", "list",
		"unsubscribe", "unsigned",
	};
	char t[32];
	const json_t *a;
	size_t i;
	json_t *v;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		v = json_object_get(rec, order[i]);
		if (v == NULL || json_is_null(v) ||
		    (json_is_string(v) && !*json_string_value(v)))
			continue;
		if (json_is_string(v))
			cli_printf("%-12s %s\n", order[i], json_string_value(v));
		else if (json_is_integer(v))
			cli_printf("%-12s %" JSON_INTEGER_FORMAT "\n", order[i],
			           json_integer_value(v));
		else
			cli_printf("%-12s %s\n", order[i],
			           json_is_true(v) ? "yes" : "no");
	}
	cli_printf("%-12s %s\n", "started",
	           cli_time(json_integer_value(json_object_get(rec, "started_at")),
	                    t, sizeof(t)));
	cli_printf("%-12s %s\n", "finished",
	           cli_time(json_integer_value(json_object_get(rec, "finished_at")),
	                    t, sizeof(t)));
	json_array_foreach(json_object_get(rec, "rcpts"), i, v)
		cli_printf("%-12s %s\n", "rcpt", json_string_value(v));
	json_array_foreach(json_object_get(rec, "suppressed"), i, v)
		cli_printf("%-12s %s (suppressed)\n", "rcpt", json_string_value(v));
	json_array_foreach(json_object_get(rec, "signatures"), i, v)
		cli_printf("%-12s d=%s s=%s a=%s\n", "signature", jstr(v, "d"),
		           jstr(v, "s"), jstr(v, "a"));
	a = json_object_get(rec, "scan");
	if (json_is_object(a))
		cli_printf("%-12s %s%s%s\n", "scan", jstr(a, "result"),
		           *jstr(a, "detail") ? ": " : "", jstr(a, "detail"));
}

static int
mail_show(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct show_arg a;
	gh_err err;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(c, "mail show: unknown option");
		c->json = 1;
	}
	if (optind != argc - 1)
		return cli_usage(c, "mail show: expected one ID or queue ID");
	memset(&a, 0, sizeof(a));
	a.id = cli_parse_id(argv[optind]);
	a.q.qid = argv[optind];
	rc = cli_open_domain_store(c, GH_DOMAIN_MAIL);
	if (rc)
		return rc;
	err = gh_store_view(c->st, show_fn, &a);
	if (!err && a.q.rec == NULL)
		err = GH_ENOTFOUND;
	if (err == GH_ENOTFOUND) {
		cli_eprintf("%s: no message %s in the mail log\n", c->prog,
		            argv[optind]);
		return EXIT_NOTFOUND;
	}
	if (err)
		return cli_fail(c, err, "mail show", NULL);
	if (c->json)
		cli_print_json(a.q.rec);
	else
		print_record(a.q.rec);
	json_decref(a.q.rec);
	return EXIT_OK;
}

int
cmd_mail(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub == NULL)
		return cli_usage(c, "mail: expected log or show");
	if (strcmp(sub, "log") == 0)
		return mail_log(c, argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return mail_show(c, argc - 1, argv + 1);
	return cli_usage(c, "mail: unknown subcommand '%s'", sub);
}
