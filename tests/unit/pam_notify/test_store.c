/*
 * test_store.c - unit tests of pam_gatehouse's store work: known_hosts
 * (baseline, known, new host, alert_first, notify modes), failure counting
 * (one event per burst, sliding window, quiet re-arm, scopes, sweeping),
 * and the bounded open (missing store, bad config, write lock held, LMDB's
 * lock file held, LMDB's writer mutex held by a stranger, full store),
 * inline and in a child.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>

#include "gatehouse/knownhosts.h"
#include "gatehouse/queue.h"
#include "gatehouse/store.h"
#include "../../../pam_notify/child.h"
#include "../../../pam_notify/failcount.h"
#include "../../../pam_notify/newhost.h"
#include "../../../pam_notify/record.h"

#define T0 1700000000000LL

struct fx {
	char dir[64];
	char path[96];
	struct gh_store *st;
	struct gp_opts o;
	char writer[PATH_MAX];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct gh_store_opts so = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/gh-pam-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store", f->dir);
	so.path = f->path;
	so.flags = GH_STORE_CREATE | GH_STORE_NOSYNC;
	so.lock_timeout_ms = 1000;
	assert_int_equal(gh_store_open(&f->st, &so, NULL, 0), GH_OK);
	gp_opts_init(&f->o);
	f->o.store = f->path;
	/* the writer program a child execs when it is not root (make runs
	 * the tests from the top of the tree, where build/ is) */
	if (realpath("build/gatehouse-pam-writer", f->writer) != NULL)
		f->o.writer = f->writer;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	gh_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", f->dir,
	         f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
login(struct gp_login *l, const char *user, const char *rhost,
      int64_t now)
{
	gp_login_fill(l, user, NULL, "pts/0", "sshd", rhost, 24, 64, now);
}

static unsigned
session(struct fx *f, const char *user, const char *rhost, int64_t now,
        uint64_t *count)
{
	struct gp_login l;
	struct gp_job job = {&f->o, &l, 0, 0};

	login(&l, user, rhost, now);
	assert_int_equal(gh_store_update(f->st, gp_session_txn, &job),
	                 GH_OK);
	if (count)
		*count = job.count;
	return job.flags;
}

static unsigned
failure(struct fx *f, const char *user, const char *rhost, int64_t now)
{
	struct gp_login l;
	struct gp_job job = {&f->o, &l, 0, 0};

	login(&l, user, rhost, now);
	assert_int_equal(gh_store_update(f->st, gp_fail_txn, &job), GH_OK);
	return job.flags;
}

struct collect {
	json_t *arr;
};

static int
collect_fn(const json_t *ev, void *arg)
{
	json_array_append(((struct collect *)arg)->arr, (json_t *)ev);
	return 0;
}

/* Every event in the queue, oldest first (a new reference). */
static json_t *
events(struct fx *f)
{
	struct collect c = {json_array()};

	assert_int_equal(gh_queue_list(f->st, GH_Q_ALL, 0, 0, 0, collect_fn,
	                               &c), GH_OK);
	return c.arr;
}

static size_t
count_type(json_t *evs, const char *type)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(evs, i, e)
		if (strcmp(json_string_value(json_object_get(e, "type")),
		           type) == 0)
			n++;
	return n;
}

struct kh_get {
	const char *user, *net;
	json_t *rec;
};

static gh_err
kh_get_fn(struct gh_txn *txn, void *arg)
{
	struct kh_get *g = arg;

	return gh_knownhost_get_txn(txn, g->user, g->net, &g->rec);
}

static json_t *
known(struct fx *f, const char *user, const char *net)
{
	struct kh_get g = {user, net, NULL};

	if (gh_store_view(f->st, kh_get_fn, &g) != GH_OK)
		return NULL;
	return g.rec;
}

/* ---- known hosts ---- */

static void
test_baseline_then_new_host(void **state)
{
	struct fx *f = *state;
	json_t *evs, *e, *rec;
	uint64_t n;

	/* first login ever: the baseline, silent */
	assert_int_equal(session(f, "alice", "192.0.2.10", T0, &n),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(n, 1);
	/* same /24, another address: known */
	assert_int_equal(session(f, "alice", "192.0.2.99", T0 + 1000, &n),
	                 GH_PAM_R_KNOWN);
	assert_int_equal(n, 2);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 0);
	json_decref(evs);

	/* a new network: one login.new_host */
	assert_int_equal(session(f, "alice", "198.51.100.7", T0 + 2000, &n),
	                 GH_PAM_R_NEW_HOST);
	assert_int_equal(session(f, "alice", "198.51.100.8", T0 + 3000, &n),
	                 GH_PAM_R_KNOWN);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	e = json_array_get(evs, 0);
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	                    "login.new_host");
	assert_string_equal(json_string_value(json_object_get(e, "user")),
	                    "alice");
	assert_string_equal(json_string_value(json_object_get(e, "source")),
	                    "pam");
	assert_string_equal(json_string_value(json_object_get(e, "category")),
	                    "security");
	assert_int_equal(json_integer_value(json_object_get(e, "priority")), 3);
	assert_non_null(strstr(json_string_value(json_object_get(e, "title")),
	                       "from 198.51.100.7"));
	assert_string_equal(json_string_value(json_object_get(e, "dedup_key")),
	                    "login.new_host:alice:198.51.100.0/24");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(e, "metadata"), "network")), "198.51.100.0/24");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(e, "metadata"), "service")), "sshd");
	json_decref(evs);

	rec = known(f, "alice", "192.0.2.0/24");
	assert_non_null(rec);
	assert_int_equal(json_integer_value(json_object_get(rec, "v")), 1);
	assert_int_equal(json_integer_value(json_object_get(rec, "first_seen")),
	                 T0);
	assert_int_equal(json_integer_value(json_object_get(rec, "last_seen")),
	                 T0 + 1000);
	assert_int_equal(json_integer_value(json_object_get(rec, "count")), 2);
	assert_string_equal(json_string_value(json_object_get(rec, "addr")),
	                    "192.0.2.99");
	json_decref(rec);
}

static void
test_users_are_separate(void **state)
{
	struct fx *f = *state;
	json_t *evs;

	/* "al" sorts right before "alice": prefixes must not leak */
	assert_int_equal(session(f, "alice", "192.0.2.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, "al", "192.0.2.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, "alic", "203.0.113.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, "alicea", "203.0.113.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, "bob", "192.0.2.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 0);
	json_decref(evs);
}

static void
test_ipv6_and_names(void **state)
{
	struct fx *f = *state;

	assert_int_equal(session(f, "carol", "2001:db8:0:1::5", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, "carol", "2001:db8:0:1:ffff::9", T0, NULL),
	                 GH_PAM_R_KNOWN);
	assert_int_equal(session(f, "carol", "2001:db8:0:2::5", T0, NULL),
	                 GH_PAM_R_NEW_HOST);
	assert_int_equal(session(f, "carol", "Laptop.Example.NET", T0, NULL),
	                 GH_PAM_R_NEW_HOST);
	assert_int_equal(session(f, "carol", "laptop.example.net.", T0, NULL),
	                 GH_PAM_R_KNOWN);
}

static void
test_alert_first_and_notify_modes(void **state)
{
	struct fx *f = *state;
	json_t *evs;

	f->o.alert_first = 1;
	assert_int_equal(session(f, "dave", "192.0.2.1", T0, NULL),
	                 GH_PAM_R_BASELINE | GH_PAM_R_NEW_HOST);
	f->o.alert_first = 0;

	/* never: still learns, raises nothing */
	f->o.notify = GH_PAM_NOTIFY_NEVER;
	assert_int_equal(session(f, "dave", "198.51.100.1", T0, NULL), 0);
	assert_int_equal(session(f, "dave", "198.51.100.2", T0, NULL),
	                 GH_PAM_R_KNOWN);

	/* always: a login event each time, and new_host when new */
	f->o.notify = GH_PAM_NOTIFY_ALWAYS;
	f->o.type = "login.ssh";
	assert_int_equal(session(f, "dave", "192.0.2.1", T0, NULL),
	                 GH_PAM_R_KNOWN | GH_PAM_R_LOGIN);
	assert_int_equal(session(f, "dave", "203.0.113.3", T0, NULL),
	                 GH_PAM_R_NEW_HOST | GH_PAM_R_LOGIN);
	assert_int_equal(session(f, "dave", NULL, T0, NULL),
	                 GH_PAM_R_LOCAL | GH_PAM_R_LOGIN);

	evs = events(f);
	assert_int_equal(count_type(evs, "login.new_host"), 2);
	assert_int_equal(count_type(evs, "login.ssh"), 3);
	assert_int_equal(json_array_size(evs), 5);
	json_decref(evs);

	/* local logins with notify=new_host touch nothing */
	f->o.notify = GH_PAM_NOTIFY_NEW_HOST;
	assert_int_equal(session(f, "dave", "UNKNOWN", T0, NULL),
	                 GH_PAM_R_LOCAL);
}

static void
test_hostile_strings(void **state)
{
	struct fx *f = *state;
	char user[400];
	json_t *evs, *e;

	/* invalid UTF-8 and controls in the user name still give valid,
	 * clean JSON: escaped by the one rule (gatehouse/text.h) */
	assert_int_equal(session(f, "eve\xff\n", "192.0.2.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, "eve\xff\n", "198.51.100.1", T0, NULL),
	                 GH_PAM_R_NEW_HOST);
	evs = events(f);
	e = json_array_get(evs, 0);
	assert_string_equal(json_string_value(json_object_get(e, "user")),
	                    "eve\\xff\\n");
	json_decref(evs);
	/* a user name longer than 256 bytes is cut, and still works */
	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	assert_int_equal(session(f, user, "192.0.2.1", T0, NULL),
	                 GH_PAM_R_BASELINE);
	assert_int_equal(session(f, user, "192.0.2.2", T0, NULL),
	                 GH_PAM_R_KNOWN);
}

/* ---- failures ---- */

/* T0 is a multiple of 10 s and 20 s past a minute: the rate counters'
 * fixed windows (start = now - now % window) are then easy to reason on. */

static void
test_burst_once(void **state)
{
	struct fx *f = *state;
	json_t *evs, *e, *md;
	int i;

	f->o.burst_n = 3;
	f->o.burst_window_ms = 60000;
	for (i = 0; i < 2; i++)
		assert_int_equal(failure(f, "frank", "192.0.2.5", T0 + i * 1000),
		                 GH_PAM_R_COUNTED);
	assert_int_equal(failure(f, "frank", "192.0.2.5", T0 + 2000),
	                 GH_PAM_R_COUNTED | GH_PAM_R_BURST);
	/* the burst goes on: the count stays above N, nothing more */
	for (i = 3; i < 30; i++)
		assert_int_equal(failure(f, "frank", "192.0.2.5", T0 + i * 1000),
		                 GH_PAM_R_COUNTED);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	e = json_array_get(evs, 0);
	md = json_object_get(e, "metadata");
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	                    "login.failed_burst");
	assert_string_equal(json_string_value(json_object_get(e, "user")),
	                    "frank");
	assert_string_equal(json_string_value(json_object_get(md, "scope")),
	                    "user+address");
	assert_int_equal(json_integer_value(json_object_get(md, "count")), 3);
	assert_int_equal(json_integer_value(json_object_get(md, "window_s")),
	                 60);
	assert_int_equal(json_integer_value(json_object_get(md,
	                 "user_failures")), 3);
	assert_string_equal(json_string_value(json_object_get(md, "addr")),
	                    "192.0.2.5");
	assert_string_equal(json_string_value(json_object_get(e, "dedup_key")),
	                    "login.failed_burst:user:frank");
	assert_int_equal(json_integer_value(json_object_get(e, "priority")), 3);
	json_decref(evs);

	/* long quiet: the counters decay to nothing; a new burst is new */
	for (i = 0; i < 2; i++)
		assert_int_equal(failure(f, "frank", "192.0.2.5",
		                         T0 + 600000 + i), GH_PAM_R_COUNTED);
	assert_int_equal(failure(f, "frank", "192.0.2.5", T0 + 600002),
	                 GH_PAM_R_COUNTED | GH_PAM_R_BURST);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 2);
	json_decref(evs);
}

static void
test_burst_recross_within_window_is_one(void **state)
{
	struct fx *f = *state;
	json_t *evs;

	f->o.burst_n = 3;
	f->o.burst_window_ms = 10000;
	/* late in one fixed window: 8 s, 9 s, 9.5 s -> burst */
	failure(f, "gina", NULL, T0 + 8000);
	failure(f, "gina", NULL, T0 + 9000);
	assert_int_equal(failure(f, "gina", NULL, T0 + 9500),
	                 GH_PAM_R_COUNTED | GH_PAM_R_BURST);
	/* in the next window the old count fades (3 x 0.4 -> 1) and two more
	 * failures make it 3 again, 7 s after the report: the same burst */
	assert_int_equal(failure(f, "gina", NULL, T0 + 16000), GH_PAM_R_COUNTED);
	assert_int_equal(failure(f, "gina", NULL, T0 + 16500),
	                 GH_PAM_R_COUNTED | GH_PAM_R_DUP);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(json_array_get(evs, 0), "metadata"), "scope")),
	    "user");
	json_decref(evs);
}

static void
test_slow_failures_never_burst(void **state)
{
	struct fx *f = *state;
	json_t *evs;

	f->o.burst_n = 3;
	f->o.burst_window_ms = 10000;
	/* one failure every 15 s: never 3 in a 10 s window */
	for (int i = 0; i < 20; i++)
		assert_int_equal(failure(f, "gus", "192.0.2.8", T0 + i * 15000),
		                 GH_PAM_R_COUNTED);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 0);
	json_decref(evs);
}

static void
test_burst_by_address_spraying(void **state)
{
	struct fx *f = *state;
	char user[16];
	json_t *evs, *e, *md;

	f->o.burst_n = 4;
	f->o.burst_window_ms = 60000;
	f->o.admin = "secops";
	/* one address, a different user each time: only the address trips */
	for (int i = 0; i < 3; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		assert_int_equal(failure(f, user, "203.0.113.66", T0 + i),
		                 GH_PAM_R_COUNTED);
	}
	assert_int_equal(failure(f, "u3", "203.0.113.66", T0 + 3),
	                 GH_PAM_R_COUNTED | GH_PAM_R_BURST);
	for (int i = 4; i < 12; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		assert_int_equal(failure(f, user, "203.0.113.66", T0 + i),
		                 GH_PAM_R_COUNTED);
	}
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	e = json_array_get(evs, 0);
	md = json_object_get(e, "metadata");
	assert_string_equal(json_string_value(json_object_get(e, "user")),
	                    "secops");
	assert_string_equal(json_string_value(json_object_get(md, "scope")),
	                    "address");
	assert_string_equal(json_string_value(json_object_get(md, "last_user")),
	                    "u3");
	assert_int_equal(json_integer_value(json_object_get(md,
	                 "addr_failures")), 4);
	assert_string_equal(json_string_value(json_object_get(e, "dedup_key")),
	                    "login.failed_burst:addr:203.0.113.66");
	assert_non_null(strstr(json_string_value(json_object_get(e, "title")),
	                       "from 203.0.113.66"));
	json_decref(evs);
}

static void
test_burst_user_from_many_addresses(void **state)
{
	struct fx *f = *state;
	char addr[32];
	json_t *evs;

	f->o.burst_n = 5;
	f->o.burst_window_ms = 60000;
	for (int i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		assert_int_equal(failure(f, "hank", addr, T0 + i),
		                 GH_PAM_R_COUNTED);
	}
	assert_int_equal(failure(f, "hank", "198.51.100.9", T0 + 9),
	                 GH_PAM_R_COUNTED | GH_PAM_R_BURST);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(json_array_get(evs, 0), "metadata"), "scope")),
	    "user");
	json_decref(evs);
}

static void
test_burst_off(void **state)
{
	struct fx *f = *state;

	f->o.burst_n = 0;
	for (int i = 0; i < 10; i++)
		assert_int_equal(failure(f, "ivan", "192.0.2.1", T0 + i), 0);
}

static void
test_long_user_counts_by_address(void **state)
{
	struct fx *f = *state;
	char user[220];
	json_t *evs;

	/* "pam:fail-user:" + 205 bytes passes the 200-byte key limit */
	memset(user, 'l', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	f->o.burst_n = 2;
	assert_int_equal(failure(f, user, "192.0.2.44", T0), GH_PAM_R_COUNTED);
	assert_int_equal(failure(f, user, "192.0.2.44", T0 + 1),
	                 GH_PAM_R_COUNTED | GH_PAM_R_BURST);
	/* and with no address either, there is nothing to count on */
	assert_int_equal(failure(f, user, NULL, T0 + 2), 0);
	evs = events(f);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(json_array_get(evs, 0), "metadata"), "scope")),
	    "address");
	json_decref(evs);
}

struct count_prefix {
	size_t n;
};

static int
count_rate_fn(const void *key, size_t klen, const void *val, size_t vlen,
              void *arg)
{
	if (klen >= 9 && memcmp(key, "pam:fail-", 9) == 0)
		((struct count_prefix *)arg)->n++;
	return 0;
}

static gh_err
count_rate(struct gh_txn *txn, void *arg)
{
	return gh_txn_scan(txn, GH_DB_RATE, NULL, 0, 0, count_rate_fn, arg,
	                   NULL);
}

static gh_err
put_foreign(struct gh_txn *txn, void *arg)
{
	/* someone else's counter right after ours must never be swept */
	return gh_txn_put(txn, GH_DB_RATE, "pam:z", 5, "x", 1);
}

static gh_err
get_foreign(struct gh_txn *txn, void *arg)
{
	return gh_txn_get(txn, GH_DB_RATE, "pam:z", 5, NULL, NULL);
}

static void
test_sweep(void **state)
{
	struct fx *f = *state;
	struct count_prefix c = {0};
	char user[16];

	f->o.burst_n = 5;
	f->o.burst_window_ms = 10000;
	assert_int_equal(gh_store_update(f->st, put_foreign, NULL), GH_OK);
	/* an attacker tries 40 made-up names (local: no address counter) */
	for (int i = 0; i < 40; i++) {
		snprintf(user, sizeof(user), "x%02d", i);
		failure(f, user, NULL, T0);
	}
	assert_int_equal(gh_store_view(f->st, count_rate, &c), GH_OK);
	assert_int_equal(c.n, 40);
	/* two windows later the counters are stale; failures sweep the
	 * ones after their own key, 16 at a time */
	failure(f, "x00", NULL, T0 + 20000);
	failure(f, "x16", NULL, T0 + 20000);
	failure(f, "x32", NULL, T0 + 20000);
	c.n = 0;
	assert_int_equal(gh_store_view(f->st, count_rate, &c), GH_OK);
	print_message("counters left: %zu\n", c.n);
	/* x00..x39 all stale and swept, then x00, x16, x32 written anew */
	assert_int_equal(c.n, 3);
	/* still inside two windows: nothing is swept */
	failure(f, "x01", NULL, T0 + 20001);
	c.n = 0;
	assert_int_equal(gh_store_view(f->st, count_rate, &c), GH_OK);
	assert_int_equal(c.n, 4);
	/* and the neighbour that is not ours is still there */
	assert_int_equal(gh_store_view(f->st, get_foreign, NULL), GH_OK);
}

/* ---- bounded open ---- */

static void
run(struct fx *f, enum gp_mode mode, enum gp_what what,
    const char *user, const char *rhost, struct gp_outcome *out)
{
	struct gp_login l;

	f->o.mode = mode;
	login(&l, user, rhost, gh_now_ms());
	gp_run(&f->o, &l, what, gp_mono_us(), out, NULL, NULL);
	print_message("mode %d: %s stage %d flags %#x %lld us: %s\n", mode,
	              gh_errname(out->err), out->stage, out->flags,
	              (long long)out->elapsed_us, out->detail);
}

static void
test_run_ok_both_modes(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	json_t *evs;

	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_SESSION, "kim", "192.0.2.1",
	    &out);
	assert_int_equal(out.err, GH_OK);
	assert_int_equal(out.flags, GH_PAM_R_BASELINE);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "kim", "198.51.100.1",
	    &out);
	assert_int_equal(out.err, GH_OK);
	assert_int_equal(out.flags, GH_PAM_R_NEW_HOST);
	assert_int_equal(out.count, 1);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_FAIL, "kim", "198.51.100.1", &out);
	assert_int_equal(out.err, GH_OK);
	assert_int_equal(out.flags, GH_PAM_R_COUNTED);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	json_decref(evs);
}

/* A detached writer reports by writing its outcome to a file named by arg
 * (it keeps no descriptor of ours, so a pipe would not do). */
static void
det_report(void *arg, const struct gp_outcome *out)
{
	int fd = open(arg, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd >= 0) {
		if (write(fd, out, sizeof(*out)) != (ssize_t)sizeof(*out))
			(void)unlink(arg);
		close(fd);
	}
}

/* The writer's outcome from path, waiting up to 5 s; 0 if none came. */
static int
det_wait(const char *path, struct gp_outcome *got)
{
	for (int i = 0; i < 5000; i++) {
		int fd = open(path, O_RDONLY);

		if (fd >= 0) {
			ssize_t n = read(fd, got, sizeof(*got));

			close(fd);
			if (n == (ssize_t)sizeof(*got)) {
				unlink(path);
				return 1;
			}
		}
		usleep(1000);
	}
	return 0;
}

static void
test_run_detached(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out, got;
	struct gp_login l;
	char path[256];
	json_t *evs;

	snprintf(path, sizeof(path), "%s/outcome", f->dir);
	f->o.mode = GH_PAM_MODE_DETACH;
	login(&l, "kim", "192.0.2.1", gh_now_ms());
	gp_run(&f->o, &l, GH_PAM_JOB_SESSION, gp_mono_us(), &out,
	           det_report, path);
	assert_int_equal(out.err, GH_OK);
	assert_int_equal(out.flags, GH_PAM_R_DETACHED);
	assert_true(det_wait(path, &got));
	assert_int_equal(got.err, GH_OK);
	assert_int_equal(got.flags, GH_PAM_R_BASELINE);

	login(&l, "kim", "198.51.100.1", gh_now_ms());
	gp_run(&f->o, &l, GH_PAM_JOB_SESSION, gp_mono_us(), &out,
	           det_report, path);
	assert_int_equal(out.flags, GH_PAM_R_DETACHED);
	assert_true(det_wait(path, &got));
	assert_int_equal(got.err, GH_OK);
	assert_int_equal(got.flags, GH_PAM_R_NEW_HOST);
	evs = events(f);
	assert_int_equal(json_array_size(evs), 1);
	json_decref(evs);

	/* fail_closed needs the outcome: it runs as mode=child */
	f->o.fail_closed = 1;
	login(&l, "kim", "203.0.113.1", gh_now_ms());
	gp_run(&f->o, &l, GH_PAM_JOB_SESSION, gp_mono_us(), &out,
	           det_report, path);
	assert_int_equal(out.err, GH_OK);
	assert_int_equal(out.flags, GH_PAM_R_NEW_HOST);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_missing_store(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	char p[128];

	snprintf(p, sizeof(p), "%s/nope", f->dir);
	f->o.store = p;
	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_SESSION, "kim", "192.0.2.1",
	    &out);
	assert_int_equal(out.err, GH_ENOTFOUND);
	assert_int_equal(out.stage, GH_PAM_ST_OPEN);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "kim", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ENOTFOUND);
	assert_int_equal(out.stage, GH_PAM_ST_OPEN);
	/* never created by the module */
	assert_int_equal(access(p, F_OK), -1);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_config(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	char conf[128], text[256];

	snprintf(conf, sizeof(conf), "%s/gh.conf", f->dir);
	snprintf(text, sizeof(text), "[store]\npath = %s\nsync = no\n",
	         f->path);
	write_file(conf, text);
	f->o.store = NULL;
	f->o.config = conf;
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "lee", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_OK);
	assert_int_equal(out.flags, GH_PAM_R_BASELINE);

	/* a broken file is an error of its own stage, not a crash */
	write_file(conf, "[store\npath = x\n");
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "lee", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ECONFIG);
	assert_int_equal(out.stage, GH_PAM_ST_CONFIG);
	/* an explicit config= that is missing is an error too */
	unlink(conf);
	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_SESSION, "lee", "192.0.2.1",
	    &out);
	assert_int_equal(out.err, GH_ENOTFOUND);
	assert_int_equal(out.stage, GH_PAM_ST_CONFIG);
}

/* Hold the store's own write lock (wlock) from another open file
 * description: what a gatehouse writer stopped mid-transaction holds. */
static int
hold_wlock(struct fx *f)
{
	char p[160];
	struct flock fl;
	int fd;

	snprintf(p, sizeof(p), "%s/wlock", f->path);
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	return fd;
}

static void
test_write_locked(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	int fd = hold_wlock(f);

	/* Roomy enough that a loaded machine still gets the child's own
	 * ELOCKED (at three quarters) before the parent's kill. */
	f->o.timeout_ms = 400;
	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_SESSION, "max", "192.0.2.1",
	    &out);
	assert_int_equal(out.err, GH_ELOCKED);
	assert_int_equal(out.stage, GH_PAM_ST_WRITE);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "max", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ELOCKED);
	assert_int_equal(out.stage, GH_PAM_ST_WRITE);
	assert_non_null(strstr(out.detail, "write lock"));
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_FAIL, "max", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ELOCKED);
	close(fd);
	f->o.timeout_ms = 5000;
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "max", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_OK);
}

static void
test_lockfile_held(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	struct flock fl;
	char p[160];
	int fd;

	/* What a process stopped inside mdb_env_open holds.  A classic lock
	 * of this process still conflicts with the module's OFD probe, and
	 * the child does not inherit it. */
	snprintf(p, sizeof(p), "%s/lock.mdb", f->path);
	gh_store_close(f->st);
	f->st = NULL;
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_len = 1;
	assert_int_equal(fcntl(fd, F_SETLK, &fl), 0);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "ned", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ELOCKED);
	assert_int_equal(out.stage, GH_PAM_ST_OPEN);
	assert_non_null(strstr(out.detail, "lock.mdb"));
	/* Inline last: its probe's close() drops every classic lock this
	 * process holds on lock.mdb -- POSIX semantics, and why inline mode
	 * must not share a process with another user of the store. */
	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_SESSION, "ned", "192.0.2.1",
	    &out);
	assert_int_equal(out.err, GH_ELOCKED);
	assert_int_equal(out.stage, GH_PAM_ST_OPEN);
	close(fd);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "ned", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_OK);
}

/* A stranger -- mdb_load, a tool that ignores wlock -- holding LMDB's own
 * writer mutex: only the child and its deadline protect a login here. */
static void
test_lmdb_mutex_held_child_killed(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	int pfd[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;

		close(pfd[0]);
		if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 32) ||
		    mdb_env_open(env, f->path, MDB_NOTLS, 0660) ||
		    mdb_txn_begin(env, NULL, 0, &txn))
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);

	f->o.timeout_ms = 60;
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "oli", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ELOCKED);
	assert_int_equal(out.stage, GH_PAM_ST_CHILD);
	assert_non_null(strstr(out.detail, "killed"));
	/* bounded: the deadline plus scheduling, not seconds */
	assert_true(out.elapsed_us < 60000 + 500000);
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_FAIL, "oli", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_ELOCKED);

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* LMDB recovers the dead writer's mutex */
	f->o.timeout_ms = 2000;
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "oli", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_OK);
}

static void
test_full(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	struct gh_store_opts so = {0};
	struct gh_store *st;
	char conf[128], text[256], pad[4000];
	gh_err err = GH_OK;
	int n = 0;

	/* a 1 MiB store, filled to its ceiling */
	gh_store_close(f->st);
	f->st = NULL;
	snprintf(text, sizeof(text), "rm -rf %s", f->path);
	assert_int_equal(system(text), 0);
	so.path = f->path;
	so.flags = GH_STORE_CREATE | GH_STORE_NOSYNC;
	so.map_size = so.map_max = 1 << 20;
	so.lock_timeout_ms = 1000;
	assert_int_equal(gh_store_open(&st, &so, NULL, 0), GH_OK);
	memset(pad, 'p', sizeof(pad) - 1);
	/* big events first, then ever smaller ones into the last pages */
	for (size_t len = sizeof(pad) - 1; len >= 1; len /= 4) {
		pad[len] = '\0';
		err = GH_OK;
		while (err == GH_OK && n < 100000) {
			json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "type",
			                       "t.fill", "title", "t", "user",
			                       "u", "message", pad);

			err = gh_queue_enqueue(st, ev, T0, 0, NULL, NULL);
			json_decref(ev);
			n++;
		}
		assert_int_equal(err, GH_EFULL);
	}
	gh_store_close(st);

	snprintf(conf, sizeof(conf), "%s/gh.conf", f->dir);
	snprintf(text, sizeof(text), "[store]\npath = %s\nsync = no\n"
	         "map_size = 1M\nmap_max = 1M\n", f->path);
	write_file(conf, text);
	f->o.store = NULL;
	f->o.config = conf;
	f->o.notify = GH_PAM_NOTIFY_ALWAYS;
	run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "pat", "192.0.2.1", &out);
	assert_int_equal(out.err, GH_EFULL);
	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_SESSION, "pat", "192.0.2.1",
	    &out);
	assert_int_equal(out.err, GH_EFULL);
	/* A counter update is smaller than an event and may still find a
	 * page freed by an earlier commit: either way it returns. */
	run(f, GH_PAM_MODE_INLINE, GH_PAM_JOB_FAIL, "pat", "192.0.2.1", &out);
	assert_true(out.err == GH_EFULL || out.err == GH_OK);
}

/* A uid that no account has (no passwd or group entry), for a test that
 * must run unprivileged when the tests run as root; 0 if none is free. */
static uid_t
throwaway_uid(void)
{
	for (uid_t u = 64999; u > 60000; u--)
		if (getpwuid(u) == NULL && getgrgid((gid_t)u) == NULL)
			return u;
	return 0;
}

/*
 * The store's owner finds it read-only (chmod a-w): the writer says
 * EACCES.  Root ignores file modes, so when the tests run as root (CI)
 * the store is given to a throwaway uid and the writer runs in a child
 * that is that uid alone (no groups), as an admin's unprivileged
 * service would.
 */
static void
test_read_only(void **state)
{
	struct fx *f = *state;
	struct gp_outcome out;
	char cmd[256];
	uid_t uid = 0;
	pid_t pid;
	int status;

	gh_store_close(f->st);
	f->st = NULL;
	if (geteuid() == 0) {
		uid = throwaway_uid();
		assert_true(uid != 0);
		snprintf(cmd, sizeof(cmd), "chown -R %ld:%ld %s", (long)uid,
		         (long)uid, f->dir);
		assert_int_equal(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "chmod -R a-w %s", f->path);
	assert_int_equal(system(cmd), 0);
	if (uid == 0) {
		run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "quin",
		    "192.0.2.1", &out);
		assert_int_equal(out.err, GH_EACCES);
		return;
	}
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* no cmocka assertion here: a failure would go on running
		 * the rest of the tests in this child */
		if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 ||
		    setuid(uid) != 0 || setuid(0) == 0)
			_exit(2);
		run(f, GH_PAM_MODE_CHILD, GH_PAM_JOB_SESSION, "quin",
		    "192.0.2.1", &out);
		fflush(NULL);
		_exit(out.err == GH_EACCES ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_baseline_then_new_host,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_are_separate,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_and_names, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_alert_first_and_notify_modes,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_strings, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_burst_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_burst_recross_within_window_is_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_failures_never_burst,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_user_counts_by_address,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_by_address_spraying,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_burst_user_from_many_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_ok_both_modes, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_run_detached, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_missing_store, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_locked, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_lockfile_held, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(
		    test_lmdb_mutex_held_child_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
