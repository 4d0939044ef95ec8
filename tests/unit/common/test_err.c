/*
 * test_err.c - gatehouse/err.h: every gh_err has a name, a text and a
 * sysexits(3) exit code, and the exit codes are the table in err.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "gatehouse/err.h"

static void
test_exit_codes(void **state)
{
	static const struct {
		gh_err err;
		int code;
	} table[] = {
		{GH_OK, EX_OK},
		{GH_ENOMEM, EX_OSERR},
		{GH_EINVAL, EX_DATAERR},
		{GH_ENOTFOUND, EX_NOINPUT},
		{GH_EEXIST, EX_CANTCREAT},
		{GH_EIO, EX_IOERR},
		{GH_EACCES, EX_NOPERM},
		{GH_ELOCKED, EX_TEMPFAIL},
		{GH_EFULL, EX_IOERR},
		{GH_ECORRUPT, EX_IOERR},
		{GH_EVERSION, EX_IOERR},
		{GH_ECONFIG, EX_CONFIG},
		{GH_ETOOBIG, EX_DATAERR},
		{GH_ESTALE, EX_TEMPFAIL},
		{GH_EREADONLY, EX_NOPERM},
		{GH_EEXPIRED, EX_DATAERR},
	};

	(void)state;
	/* one row per code: a new gh_err must be given its exit code here */
	assert_int_equal(sizeof(table) / sizeof(table[0]), GH_ERR_COUNT_);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_int_equal(table[i].err, (gh_err)i);
		assert_int_equal(gh_err_exit_code(table[i].err), table[i].code);
	}
	assert_int_equal(gh_err_exit_code(GH_ERR_COUNT_), EX_SOFTWARE);
	assert_int_equal(gh_err_exit_code((gh_err)-1), EX_SOFTWARE);
}

static void
test_names(void **state)
{
	(void)state;
	for (int e = 0; e < GH_ERR_COUNT_; e++) {
		assert_string_not_equal(gh_errname((gh_err)e), "EUNKNOWN");
		assert_string_not_equal(gh_strerror((gh_err)e),
		                        "unknown error");
	}
	assert_string_equal(gh_errname(GH_ELOCKED), "ELOCKED");
	assert_string_equal(gh_errname(GH_ERR_COUNT_), "EUNKNOWN");
	assert_string_equal(gh_strerror((gh_err)-1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
