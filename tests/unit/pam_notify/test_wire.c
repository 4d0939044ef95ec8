/*
 * test_wire.c - unit tests of what crosses the exec to the writer
 * program (pam_notify/wire.h): a record built by the child parses back to
 * the same login, options and store; a record with a member missing, of
 * the wrong type, out of bounds, with a control character or a NUL, is
 * refused naming the member; answer lines round-trip and garbage is not
 * an answer.
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../../pam_notify/wire.h"

static void
sample(struct gp_wire *w)
{
	memset(w, 0, sizeof(*w));
	w->what = GH_PAM_JOB_FAIL;
	w->report_syslog = 1;
	snprintf(w->ident, sizeof(w->ident), "sshd");
	w->deadline_us = -1;
	w->start_us = 123456789;
	gp_opts_init(&w->o);
	w->o.type = "login.ssh";
	w->o.admin = "ops team";
	w->o.notify = GH_PAM_NOTIFY_ALWAYS;
	w->o.burst_n = 3;
	w->o.burst_window_ms = 60000;
	w->o.alert_first = 1;
	w->so.path = "/var/lib/gatehouse/login";
	w->so.map_size = 1 << 20;
	w->so.map_max = 1 << 30;
	w->so.flags = GH_STORE_NOSYNC | GH_STORE_CREATE;
	gp_login_fill(&w->l, "DOM\\bob", "root", "pts/1", "sshd",
	              "2001:db8::1", 24, 64, 1700000000000LL);
}

static void
test_round_trip(void **state)
{
	char buf[GH_PAM_WIRE_MAX + 1], d[200] = "";
	struct gp_wire w, got;
	json_t *root = NULL;
	size_t len;

	sample(&w);
	assert_int_equal(gp_wire_build(&w, buf, sizeof(buf), &len, d,
	                               sizeof(d)), GH_OK);
	assert_int_equal(strlen(buf), len);
	assert_int_equal(gp_wire_parse(buf, len, &got, &root, d, sizeof(d)),
	                 GH_OK);
	assert_int_equal(got.what, GH_PAM_JOB_FAIL);
	assert_true(got.report_syslog);
	assert_string_equal(got.ident, "sshd");
	assert_int_equal(got.deadline_us, -1);
	assert_int_equal(got.start_us, 123456789);
	assert_string_equal(got.o.type, "login.ssh");
	assert_string_equal(got.o.admin, "ops team");
	assert_int_equal(got.o.notify, GH_PAM_NOTIFY_ALWAYS);
	assert_int_equal(got.o.burst_n, 3);
	assert_int_equal(got.o.burst_window_ms, 60000);
	assert_true(got.o.alert_first);
	assert_string_equal(got.so.path, "/var/lib/gatehouse/login");
	assert_int_equal(got.so.map_size, 1 << 20);
	assert_int_equal(got.so.map_max, 1 << 30);
	/* never CREATE, whatever came in */
	assert_int_equal(got.so.flags, GH_STORE_NOSYNC);
	assert_memory_equal(&got.l, &w.l, sizeof(w.l));
	json_decref(root);
}

/* The sample record with one member's text replaced: refused, naming
 * the member. */
static void
refused(const char *from, const char *to, const char *member)
{
	char buf[GH_PAM_WIRE_MAX + 1], bad[GH_PAM_WIRE_MAX + 64], d[200] = "";
	struct gp_wire w, got;
	json_t *root = (json_t *)1;
	const char *at;
	size_t len;

	sample(&w);
	assert_int_equal(gp_wire_build(&w, buf, sizeof(buf), &len, d,
	                               sizeof(d)), GH_OK);
	at = strstr(buf, from);
	assert_non_null(at);
	snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - buf), buf, to,
	         at + strlen(from));
	assert_int_not_equal(gp_wire_parse(bad, strlen(bad), &got, &root, d,
	                                   sizeof(d)), GH_OK);
	assert_null(root);
	print_message("%s -> %s: %s\n", from, to, d);
	assert_non_null(strstr(d, member));
}

static void
test_refused(void **state)
{
	refused("\"v\":1", "\"v\":2", "v ");
	refused("\"job\":\"fail\"", "\"job\":\"x\"", "job");
	refused("\"job\":\"fail\"", "\"job\":\"fail\",\"job\":\"fail\"",
	        "not JSON");
	refused("\"report\":\"syslog\"", "\"report\":1", "report");
	refused("\"deadline_us\":-1", "\"deadline_us\":-2", "deadline_us");
	refused("\"type\":\"login.ssh\"", "\"type\":\"Login\"", "opts.type");
	refused("\"admin\":\"ops team\"", "\"admin\":\"\"", "opts.admin");
	refused("\"notify\":\"always\"", "\"notify\":\"loud\"", "opts.notify");
	refused("\"burst_n\":3", "\"burst_n\":101", "opts.burst_n");
	refused("\"burst_window_ms\":60000", "\"burst_window_ms\":999",
	        "opts.burst_window_ms");
	refused("\"alert_first\":true", "\"alert_first\":1",
	        "opts.alert_first");
	refused("\"writer_timeout_ms\":5000", "\"writer_timeout_ms\":0",
	        "opts.writer_timeout_ms");
	refused("\"path\":\"/var", "\"path\":\"var", "store.path");
	refused("\"map_size\":1048576", "\"map_size\":-1", "store.map_size");
	/* (jansson itself refuses a NUL in a string) */
	refused("\"user\":\"DOM\\\\bob\"", "\"user\":\"a\\u0000b\"",
	        "not JSON");
	refused("\"tty\":\"pts/1\"", "\"tty\":\"pts\\n1\"", "login.tty");
	refused("\"origin\":2", "\"origin\":0", "login.origin");
	refused("\"origin\":2", "\"origin\":9", "login.origin");
	refused("\"now\":1700000000000", "\"now\":0", "login.now");
	refused(",\"host\":\"", ",\"hostx\":\"", "login.host");
	{
		char user[300];

		memset(user, 'u', sizeof(user) - 1);
		user[sizeof(user) - 1] = '\0';
		char to[340];

		snprintf(to, sizeof(to), "\"user\":\"%s\"", user);
		refused("\"user\":\"DOM\\\\bob\"", to, "login.user");
	}
}

static void
test_too_big(void **state)
{
	static char big[GH_PAM_WIRE_MAX + 2];
	struct gp_wire got;
	json_t *root = NULL;
	char d[200] = "";

	memset(big, ' ', sizeof(big));
	assert_int_equal(gp_wire_parse(big, sizeof(big), &got, &root, d,
	                               sizeof(d)), GH_ETOOBIG);
	assert_int_equal(gp_wire_parse("", 0, &got, &root, d, sizeof(d)),
	                 GH_EINVAL);
}

static void
test_answer(void **state)
{
	struct gp_outcome out, got;
	char line[GH_PAM_WIRE_LINE_MAX];
	size_t n;

	memset(&out, 0, sizeof(out));
	out.err = GH_ELOCKED;
	out.stage = GH_PAM_ST_WRITE;
	out.flags = 0x104;
	out.count = 18446744073709551615ULL;
	snprintf(out.detail, sizeof(out.detail), "/s: lock\nheld \xc3\xa9");
	n = gp_wire_answer(&out, line, sizeof(line));
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_int_equal(gp_wire_read_answer(line, n, &got), 0);
	assert_int_equal(got.err, GH_ELOCKED);
	assert_int_equal(got.stage, GH_PAM_ST_WRITE);
	assert_int_equal(got.flags, 0x104);
	assert_true(got.count == out.count);
	assert_string_equal(got.detail, "/s: lock?held \xc3\xa9");
	/* a full detail still makes one line */
	memset(out.detail, 'd', sizeof(out.detail) - 1);
	out.detail[sizeof(out.detail) - 1] = '\0';
	n = gp_wire_answer(&out, line, sizeof(line));
	assert_int_equal(gp_wire_read_answer(line, n, &got), 0);
	assert_int_equal(strlen(got.detail), sizeof(out.detail) - 1);
	/* cut to fit, it is cut between two characters, still one line */
	out.detail[0] = '\0';
	for (int i = 0; i < 90; i++)
		strcat(out.detail, "\xc3\xa9");
	n = gp_wire_answer(&out, line, 61);
	assert_true(n > 0 && n <= 60 && line[n - 1] == '\n');
	assert_int_equal(gp_wire_read_answer(line, n, &got), 0);
	assert_true(strlen(got.detail) > 0 && strlen(got.detail) % 2 == 0);
	assert_memory_equal(got.detail, out.detail, strlen(got.detail));

	assert_int_equal(gp_wire_read_answer("GHW1 EBOGUS 1 0 0 x\n", 20,
	                                     &got), -1);
	assert_int_equal(gp_wire_read_answer("GHW1 OK 6 0 0 x\n", 16, &got),
	                 -1);     /* no such stage */
	assert_int_equal(gp_wire_read_answer("GHW1 OK 0 0 0 x", 15, &got),
	                 -1);     /* no end of line */
	assert_int_equal(gp_wire_read_answer("GHW1 OK 0 -1 0 x\n", 17, &got),
	                 -1);
	assert_int_equal(gp_wire_read_answer("GHW1 OK 0 0 99999999999999999999"
	                                     " x\n", 35, &got), -1);
	assert_int_equal(gp_wire_read_answer("GHW1 OK 0 0 0\n", 14, &got), 0);
	assert_string_equal(got.detail, "");
}

static void
test_writer_option(void **state)
{
	const char *ok[] = {"writer=/opt/w"}, *bad[] = {"writer=w"};
	struct gp_opts o;
	char d[128];

	gp_opts_init(&o);
	assert_string_equal(o.writer, GH_PAM_WRITER_DEFAULT);
	assert_int_equal(gp_opts_parse(&o, 1, ok, d, sizeof(d)), 0);
	assert_string_equal(o.writer, "/opt/w");
	gp_opts_init(&o);
	assert_int_equal(gp_opts_parse(&o, 1, bad, d, sizeof(d)), 1);
	assert_string_equal(o.writer, GH_PAM_WRITER_DEFAULT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_writer_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
