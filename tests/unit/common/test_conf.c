/*
 * test_conf.c - unit tests of gatehouse.conf parsing: types, defaults,
 * errors that name file, line and key, long lines, repeated sections.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gatehouse/conf.h"

static void
expect_error(const char *text, const char *needle)
{
	struct gh_conf *c = (struct gh_conf *)1;
	char d[512];

	assert_int_equal(gh_conf_parse(&c, text, "t.conf", d, sizeof(d)),
	                 GH_ECONFIG);
	assert_null(c);
	if (strstr(d, needle) == NULL)
		fail_msg("detail '%s' lacks '%s'", d, needle);
}

static void
test_defaults(void **state)
{
	struct gh_conf *c;
	struct gh_store_opts o;

	(void)state;
	assert_int_equal(gh_conf_defaults(&c), GH_OK);
	assert_string_equal(gh_conf_str(c, "store", "path"),
	                    "/var/lib/gatehouse/store");
	assert_int_equal(gh_conf_int(c, "store", "map_size"), 64LL << 20);
	assert_int_equal(gh_conf_int(c, "store", "lock_timeout"), 2000);
	assert_int_equal(gh_conf_bool(c, "store", "sync"), 1);
	assert_int_equal(gh_conf_is_set(c, "store", "path"), 0);
	/* undeclared keys give the zero value */
	assert_null(gh_conf_str(c, "store", "nope"));
	assert_int_equal(gh_conf_int(c, "nope", "nope"), 0);
	gh_conf_store_opts(c, &o);
	assert_string_equal(o.path, "/var/lib/gatehouse/store");
	assert_int_equal(o.flags, 0);
	gh_conf_free(c);
}

static void
test_values(void **state)
{
	struct gh_conf *c;
	char d[256];
	struct gh_store_opts o;
	const char *text =
	    "; comment\n"
	    "# comment\n"
	    "[store]\n"
	    "path = /tmp/x/store   ; inline comment\n"
	    "map_size = 16M\n"
	    "sync = no\n"
	    "lock_timeout = 250ms\n"
	    "[queue]\n"
	    "dedup_window = 2h\n";

	(void)state;
	assert_int_equal(gh_conf_parse(&c, text, "t.conf", d, sizeof(d)), GH_OK);
	assert_string_equal(gh_conf_str(c, "store", "path"), "/tmp/x/store");
	assert_int_equal(gh_conf_int(c, "store", "map_size"), 16LL << 20);
	assert_int_equal(gh_conf_bool(c, "store", "sync"), 0);
	assert_int_equal(gh_conf_int(c, "store", "lock_timeout"), 250);
	assert_int_equal(gh_conf_int(c, "queue", "dedup_window"), 7200000);
	assert_int_equal(gh_conf_line(c, "store", "map_size"), 5);
	assert_int_equal(gh_conf_is_set(c, "store", "sync"), 1);
	gh_conf_store_opts(c, &o);
	assert_true(o.flags & GH_STORE_NOSYNC);
	assert_int_equal(o.lock_timeout_ms, 250);
	assert_string_equal(gh_conf_source(c), "t.conf");
	gh_conf_free(c);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("[store]\npath = /x\nbogus = 1\n",
	             "t.conf:3: unknown key 'bogus' in [store]");
	expect_error("[nosuch]\nkey = 1\n", "t.conf:2: unknown section [nosuch]");
	expect_error("[store]\nmap_size = lots\n",
	             "t.conf:2: key 'map_size' in [store]: 'lots' is not a size");
	expect_error("[store]\nsync = maybe\n", "'maybe' is not yes or no");
	expect_error("[store]\npath = relative/dir\n", "not an absolute path");
	expect_error("[store]\nlock_timeout = 5 parsecs\n", "not a duration");
	expect_error("[store]\nlock_timeout = 1d\n", "out of range");
	expect_error("[store]\npath = /a\npath = /b\n",
	             "t.conf:3: key 'path' in [store] is set twice (first on "
	             "line 2)");
	expect_error("path = /a\n", "outside any section");
	expect_error("[store\n", "t.conf:1: syntax error");
	expect_error("[store]\njust words\n", "t.conf:2: syntax error");
}

static void
test_long_line(void **state)
{
	struct gh_conf *c;
	char text[2048], d[256];
	char path[1200];

	(void)state;
	path[0] = '/';
	memset(path + 1, 'p', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[store]\npath = %s ; trailing\nsync = no\n",
	         path);
	assert_int_equal(gh_conf_parse(&c, text, "t.conf", d, sizeof(d)), GH_OK);
	assert_string_equal(gh_conf_str(c, "store", "path"), path);
	assert_int_equal(gh_conf_line(c, "store", "sync"), 3);
	gh_conf_free(c);
}

static void
test_load_file(void **state)
{
	struct gh_conf *c;
	char d[512];
	char path[] = "/tmp/gh-conf-XXXXXX";
	int fd;
	FILE *fp;

	(void)state;
	assert_int_equal(gh_conf_load(&c, "/nonexistent/gatehouse.conf", d,
	                              sizeof(d)), GH_ENOTFOUND);
	assert_non_null(strstr(d, "/nonexistent/gatehouse.conf"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("[store]\r\nsync = no\r\nmap_max = 1X\r\n", fp);
	fclose(fp);
	assert_int_equal(gh_conf_load(&c, path, d, sizeof(d)), GH_ECONFIG);
	assert_non_null(strstr(d, path));
	assert_non_null(strstr(d, ":3: key 'map_max'"));
	remove(path);
}

static void
test_parsers(void **state)
{
	long long v;
	int b;

	(void)state;
	assert_int_equal(gh_parse_size("10", &v), GH_OK);
	assert_int_equal(v, 10);
	assert_int_equal(gh_parse_size("2k", &v), GH_OK);
	assert_int_equal(v, 2048);
	assert_int_equal(gh_parse_size("1GiB", &v), GH_OK);
	assert_int_equal(v, 1LL << 30);
	assert_int_equal(gh_parse_size("-1", &v), GH_EINVAL);
	assert_int_equal(gh_parse_size("99999999999999999999", &v), GH_EINVAL);
	assert_int_equal(gh_parse_size("9999999999999T", &v), GH_EINVAL);
	assert_int_equal(gh_parse_duration_ms("90", &v), GH_OK);
	assert_int_equal(v, 90000);
	assert_int_equal(gh_parse_duration_ms("3m", &v), GH_OK);
	assert_int_equal(v, 180000);
	assert_int_equal(gh_parse_duration_ms("1w", &v), GH_OK);
	assert_int_equal(gh_parse_duration_ms("1y", &v), GH_EINVAL);
	assert_int_equal(gh_parse_bool("On", &b), GH_OK);
	assert_int_equal(b, 1);
	assert_int_equal(gh_parse_bool("0", &b), GH_OK);
	assert_int_equal(b, 0);
	assert_int_equal(gh_parse_bool("", &b), GH_EINVAL);
}

struct seen {
	int keys;
	int bad_default;
};

static void
schema_cb(const struct gh_conf_key *k, void *arg)
{
	struct seen *s = arg;
	char text[1024];
	struct gh_conf *c;
	char d[256];

	s->keys++;
	assert_non_null(k->doc);
	if (k->def == NULL)
		return;
	/* Every default must itself be a valid value. */
	snprintf(text, sizeof(text), "[%s]\n%s = %s\n",
	         strcmp(k->section + strlen(k->section) - 1, "*") == 0 ?
	         "channel.test" : k->section, k->key, k->def);
	if (strchr(k->section, '*') && strncmp(k->section, "channel.", 8))
		return;
	if (gh_conf_parse(&c, text, "schema", d, sizeof(d)) != GH_OK) {
		print_error("default of %s.%s: %s\n", k->section, k->key, d);
		s->bad_default++;
		return;
	}
	gh_conf_free(c);
}

static void
test_schema_defaults_valid(void **state)
{
	struct seen s = {0, 0};

	(void)state;
	gh_conf_schema_each(schema_cb, &s);
	assert_true(s.keys >= 8);
	assert_int_equal(s.bad_default, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_schema_defaults_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
