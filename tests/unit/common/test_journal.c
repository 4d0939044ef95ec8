/*
 * test_journal.c - gatehouse/journal.h: JOURNAL_STREAM counts only when it
 * names descriptor 2 exactly and is well formed; priorities map to "<N>".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "gatehouse/journal.h"

/* JOURNAL_STREAM = lead DEV sep INO tail */
static void
set_stream(const char *lead, unsigned long long dev, const char *sep,
           unsigned long long ino, const char *tail)
{
	char v[128];

	snprintf(v, sizeof(v), "%s%llu%s%llu%s", lead, dev, sep, ino, tail);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

static void
test_stream(void **state)
{
	struct stat st;
	unsigned long long dev, ino;

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	dev = (unsigned long long)st.st_dev;
	ino = (unsigned long long)st.st_ino;
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(gh_journal_stderr(), 0);
	set_stream("", dev, ":", ino, "");
	assert_int_equal(gh_journal_stderr(), 1);
	/* another file: an inherited variable, stderr redirected */
	set_stream("", dev, ":", ino + 1, "");
	assert_int_equal(gh_journal_stderr(), 0);
	set_stream("", dev + 1, ":", ino, "");
	assert_int_equal(gh_journal_stderr(), 0);
	/* malformed */
	set_stream("", dev, ":", ino, "x");
	assert_int_equal(gh_journal_stderr(), 0);
	set_stream(" ", dev, ":", ino, "");
	assert_int_equal(gh_journal_stderr(), 0);
	set_stream("", dev, ": ", ino, "");
	assert_int_equal(gh_journal_stderr(), 0);
	set_stream("", dev, "", ino, "");
	assert_int_equal(gh_journal_stderr(), 0);
	assert_int_equal(setenv("JOURNAL_STREAM", "", 1), 0);
	assert_int_equal(gh_journal_stderr(), 0);
	assert_int_equal(setenv("JOURNAL_STREAM", ":", 1), 0);
	assert_int_equal(gh_journal_stderr(), 0);
	assert_int_equal(setenv("JOURNAL_STREAM",
	                        "99999999999999999999999:1", 1), 0);
	assert_int_equal(gh_journal_stderr(), 0);
	unsetenv("JOURNAL_STREAM");
}

static void
test_prefix(void **state)
{
	(void)state;
	assert_string_equal(gh_journal_prefix(LOG_ERR), "<3>");
	assert_string_equal(gh_journal_prefix(LOG_WARNING), "<4>");
	assert_string_equal(gh_journal_prefix(LOG_NOTICE), "<5>");
	assert_string_equal(gh_journal_prefix(LOG_INFO), "<6>");
	assert_string_equal(gh_journal_prefix(LOG_DEBUG), "<7>");
	assert_string_equal(gh_journal_prefix(LOG_CRIT), "<2>");
	/* a facility is not a priority */
	assert_string_equal(gh_journal_prefix(LOG_MAIL | LOG_ERR), "<3>");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
