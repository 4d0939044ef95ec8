/*
 * test_sign.c - webhook signatures: fixed vectors (computed with
 * Python's hmac module and `openssl dgst -hmac`), verification, tolerance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../../notifyd/core/sign.h"

static const char body1[] = "{\"id\":42,\"type\":\"login.new_host\"}";

static void
test_vectors(void **state)
{
	char sig[GH_SIGN_VALUE_LEN];
	char key3[100];

	(void)state;
	assert_int_equal(nd_sign_webhook("whsec_test", 10, 1767225600, body1,
	                                 strlen(body1), sig), GH_OK);
	assert_string_equal(sig, "sha256=101c61416dd1591c2017de75b0945479f159f9a352ba700b5a33dd83c8f03bb0");
	/* Empty body: the string signed is "1767225600." */
	assert_int_equal(nd_sign_webhook("whsec_test", 10, 1767225600, NULL, 0,
	                                 sig), GH_OK);
	assert_string_equal(sig, "sha256=bc5f22c68024f86d3be1b4ddd6417a119940e00ea9c5f409f8e48b2b4c7c771f");
	/* A key longer than the hash block, UTF-8 body, timestamp 0. */
	memset(key3, 'k', sizeof key3);
	assert_int_equal(nd_sign_webhook(key3, sizeof key3, 0, "h\xc3\xa9llo", 6,
	                                 sig), GH_OK);
	assert_string_equal(sig, "sha256=f25aff888b9492b769c3c4938374be6af975488552b85389095c3a399e863653");

	assert_int_equal(nd_sign_webhook("", 0, 1, "x", 1, sig), GH_EINVAL);
	assert_int_equal(nd_sign_webhook("k", 1, -1, "x", 1, sig), GH_EINVAL);
}

static void
test_verify(void **state)
{
	char sig[GH_SIGN_VALUE_LEN], up[GH_SIGN_VALUE_LEN];
	size_t i;

	(void)state;
	assert_int_equal(nd_sign_webhook("s3cret", 6, 1767225600, body1,
	                                 strlen(body1), sig), GH_OK);
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1), sig, 1767225650, 300),
	                 GH_OK);
	/* Uppercase hex is the same signature. */
	memcpy(up, sig, sizeof up);
	for (i = 7; up[i]; i++)
		if (up[i] >= 'a' && up[i] <= 'f')
			up[i] = (char)(up[i] - 'a' + 'A');
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1), up, 1767225600, 300), GH_OK);
	/* Wrong key, changed body, changed timestamp. */
	assert_int_equal(nd_sign_verify("s3creT", 6, "1767225600", body1,
	                                strlen(body1), sig, 1767225600, 300),
	                 GH_EACCES);
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1) - 1, sig, 1767225600, 300),
	                 GH_EACCES);
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225601", body1,
	                                strlen(body1), sig, 1767225600, 300),
	                 GH_EACCES);
	/* Outside the tolerance either way: a replay or a skewed clock. */
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1), sig, 1767225901, 300),
	                 GH_EEXPIRED);
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1), sig, 1767225299, 300),
	                 GH_EEXPIRED);
	/* Malformed headers. */
	assert_int_equal(nd_sign_verify("s3cret", 6, "17672256OO", body1,
	                                strlen(body1), sig, 1767225600, 300),
	                 GH_EINVAL);
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1), sig + 7, 1767225600, 300),
	                 GH_EINVAL);
	sig[20] = 'g';
	assert_int_equal(nd_sign_verify("s3cret", 6, "1767225600", body1,
	                                strlen(body1), sig, 1767225600, 300),
	                 GH_EINVAL);
}

static void
test_ct_equal(void **state)
{
	(void)state;
	assert_int_equal(nd_ct_equal("abcdef", "abcdef", 6), 1);
	assert_int_equal(nd_ct_equal("abcdef", "abcdeF", 6), 0);
	assert_int_equal(nd_ct_equal("Xbcdef", "abcdef", 6), 0);
	assert_int_equal(nd_ct_equal("abc", "xyz", 0), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_ct_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
