/*
 * test_options.c - unit tests of pam_gatehouse's module arguments:
 * defaults, every option, and that bad ones are skipped and reported
 * without disturbing the others.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../../pam_notify/options.h"

static int
parse(struct gp_opts *o, char *detail, size_t dlen, int argc,
      const char **argv)
{
	gp_opts_init(o);
	return gp_opts_parse(o, argc, argv, detail, dlen);
}

static void
test_defaults(void **state)
{
	struct gp_opts o;
	char d[128];

	assert_int_equal(parse(&o, d, sizeof(d), 0, NULL), 0);
	assert_string_equal(d, "");
	assert_null(o.store);
	assert_null(o.config);
	assert_int_equal(o.notify, GH_PAM_NOTIFY_NEW_HOST);
	assert_int_equal(o.mode, GH_PAM_MODE_DETACH);
	assert_int_equal(o.timeout_ms, 50);
	assert_int_equal(o.writer_timeout_ms, 5000);
	assert_int_equal(o.burst_n, 5);
	assert_int_equal(o.burst_window_ms, 300000);
	assert_int_equal(o.v4_prefix, 24);
	assert_int_equal(o.v6_prefix, 64);
	assert_string_equal(o.type, "login.success");
	assert_string_equal(o.admin, "root");
	assert_false(o.alert_first);
	assert_false(o.fail);
	assert_false(o.fail_closed);
	assert_false(o.debug);
}

static void
test_all_options(void **state)
{
	const char *argv[] = {
		"store=/var/lib/x", "config=/etc/x.conf", "notify=always",
		"mode=inline", "type=login.ssh", "admin=ops", "timeout_ms=250",
		"fail_burst=10/5m", "v4_prefix=16", "v6_prefix=48",
		"alert_first=yes", "fail", "fail_closed", "debug"
	};
	struct gp_opts o;
	char d[128];

	assert_int_equal(parse(&o, d, sizeof(d), 14, argv), 0);
	assert_string_equal(o.store, "/var/lib/x");
	assert_string_equal(o.config, "/etc/x.conf");
	assert_int_equal(o.notify, GH_PAM_NOTIFY_ALWAYS);
	assert_int_equal(o.mode, GH_PAM_MODE_INLINE);
	assert_string_equal(o.type, "login.ssh");
	assert_string_equal(o.admin, "ops");
	assert_int_equal(o.timeout_ms, 250);
	assert_int_equal(o.burst_n, 10);
	assert_int_equal(o.burst_window_ms, 300000);
	assert_int_equal(o.v4_prefix, 16);
	assert_int_equal(o.v6_prefix, 48);
	assert_true(o.alert_first);
	assert_true(o.fail);
	assert_true(o.fail_closed);
	assert_true(o.debug);
}

static void
test_notify_words(void **state)
{
	struct gp_opts o;
	const char *never[] = {"notify=never"};
	const char *nh[] = {"notify=always", "notify=new_host"};
	const char *bad[] = {"notify=sometimes"};
	char d[128];

	assert_int_equal(parse(&o, d, sizeof(d), 1, never), 0);
	assert_int_equal(o.notify, GH_PAM_NOTIFY_NEVER);
	assert_int_equal(parse(&o, d, sizeof(d), 2, nh), 0);
	assert_int_equal(o.notify, GH_PAM_NOTIFY_NEW_HOST);
	assert_int_equal(parse(&o, d, sizeof(d), 1, bad), 1);
	assert_int_equal(o.notify, GH_PAM_NOTIFY_NEW_HOST);
	assert_non_null(strstr(d, "notify=sometimes"));
	assert_non_null(strstr(d, "invalid"));
}

static void
test_fail_burst(void **state)
{
	static const struct {
		const char *arg;
		int ok, n;
		long long win;
	} cases[] = {
		{"fail_burst=5/300", 1, 5, 300000},
		{"fail_burst=3/60s", 1, 3, 60000},
		{"fail_burst=20/1h", 1, 20, 3600000},
		{"fail_burst=1/1", 1, 1, 1000},
		{"fail_burst=100/7d", 1, 100, 7 * 86400000LL},
		{"fail_burst=off", 1, 0, 300000},
		{"fail_burst=0", 1, 0, 300000},
		{"fail_burst=0/300", 0, 5, 300000},
		{"fail_burst=101/300", 0, 5, 300000},
		{"fail_burst=5/", 0, 5, 300000},
		{"fail_burst=/300", 0, 5, 300000},
		{"fail_burst=5", 0, 5, 300000},
		{"fail_burst=5/500ms", 0, 5, 300000},   /* under a second */
		{"fail_burst=5/8d", 0, 5, 300000},      /* over a week */
		{"fail_burst=-5/300", 0, 5, 300000},
		{"fail_burst=5/300x", 0, 5, 300000},
		{"fail_burst=99999999999999999999/3", 0, 5, 300000},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gp_opts o;
		const char *argv[] = {cases[i].arg};
		char d[128];
		int bad = parse(&o, d, sizeof(d), 1, argv);

		print_message("%s\n", cases[i].arg);
		assert_int_equal(bad, cases[i].ok ? 0 : 1);
		assert_int_equal(o.burst_n, cases[i].n);
		assert_int_equal(o.burst_window_ms, cases[i].win);
	}
}

static void
test_numbers(void **state)
{
	static const struct {
		const char *arg;
		int ok;
	} cases[] = {
		{"timeout_ms=1", 1}, {"timeout_ms=10000", 1},
		{"timeout_ms=0", 0}, {"timeout_ms=10001", 0},
		{"timeout_ms=", 0}, {"timeout_ms=50ms", 0},
		{"timeout_ms=-1", 0}, {"timeout_ms= 5", 0},
		{"writer_timeout_ms=1", 1}, {"writer_timeout_ms=60000", 1},
		{"writer_timeout_ms=0", 0}, {"writer_timeout_ms=60001", 0},
		{"mode=detach", 1}, {"mode=child", 1}, {"mode=thread", 0},
		{"v4_prefix=0", 1}, {"v4_prefix=32", 1}, {"v4_prefix=33", 0},
		{"v6_prefix=0", 1}, {"v6_prefix=128", 1}, {"v6_prefix=129", 0},
		{"v6_prefix=6x", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gp_opts o;
		const char *argv[] = {cases[i].arg};
		char d[128];

		print_message("%s\n", cases[i].arg);
		assert_int_equal(parse(&o, d, sizeof(d), 1, argv),
		                 cases[i].ok ? 0 : 1);
		if (!cases[i].ok) {
			assert_int_equal(o.timeout_ms, 50);
			assert_int_equal(o.v4_prefix, 24);
			assert_int_equal(o.v6_prefix, 64);
		}
	}
}

static void
test_bad_skipped_others_apply(void **state)
{
	const char *argv[] = {
		"store=relative/path", "bogus", "timeout_ms=20", "type=Login!",
		"debug", "config=etc/x", "mode=thread", "alert_first=maybe",
		"admin=", NULL
	};
	struct gp_opts o;
	char d[128];

	assert_int_equal(parse(&o, d, sizeof(d), 10, argv), 7);
	/* the first problem is the one reported */
	assert_non_null(strstr(d, "store=relative/path"));
	assert_null(o.store);
	assert_null(o.config);
	assert_int_equal(o.timeout_ms, 20);
	assert_true(o.debug);
	assert_string_equal(o.type, "login.success");
	assert_string_equal(o.admin, "root");
	assert_int_equal(o.mode, GH_PAM_MODE_DETACH);
	assert_false(o.alert_first);
}

static void
test_unknown_named(void **state)
{
	const char *argv[] = {"timeout=5"};
	struct gp_opts o;
	char d[128];

	assert_int_equal(parse(&o, d, sizeof(d), 1, argv), 1);
	assert_non_null(strstr(d, "unknown option 'timeout=5'"));
	/* a tiny buffer is cut, not overrun */
	assert_int_equal(parse(&o, d, 8, 1, argv), 1);
	assert_int_equal(strlen(d), 7);
	/* and no buffer at all is fine */
	assert_int_equal(parse(&o, NULL, 0, 1, argv), 1);
}

static void
test_type_ok(void **state)
{
	char big[80];

	assert_true(gp_type_ok("login.success"));
	assert_true(gp_type_ok("a"));
	assert_true(gp_type_ok("x-y_z.9"));
	assert_false(gp_type_ok(""));
	assert_false(gp_type_ok("Login"));
	assert_false(gp_type_ok("a b"));
	assert_false(gp_type_ok("a/b"));
	memset(big, 'a', sizeof(big));
	big[64] = '\0';
	assert_true(gp_type_ok(big));
	big[64] = 'a';
	big[65] = '\0';
	assert_false(gp_type_ok(big));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_notify_words),
		cmocka_unit_test(test_fail_burst),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bad_skipped_others_apply),
		cmocka_unit_test(test_unknown_named),
		cmocka_unit_test(test_type_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
