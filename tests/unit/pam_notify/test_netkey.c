/*
 * test_netkey.c - unit tests of how pam_gatehouse reads PAM_RHOST
 * (network keys, canonical addresses, names, local logins) and cleans the
 * strings that end up in events (UTF-8, control characters, cutting).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gatehouse/text.h"
#include "../../../pam_notify/event.h"
#include "../../../pam_notify/login.h"
#include "../../../pam_notify/netkey.h"

static void
check_key(const char *rhost, int p4, int p6, enum gp_origin want_o,
          const char *want)
{
	char out[GH_PAM_NETKEY_MAX];
	enum gp_origin o = gp_netkey(rhost, p4, p6, out, sizeof(out));

	print_message("%s -> %s\n", rhost ? rhost : "(null)", out);
	assert_int_equal(o, want_o);
	assert_string_equal(out, want);
}

static void
test_ipv4(void **state)
{
	check_key("192.0.2.77", 24, 64, GH_PAM_ORIGIN_V4, "192.0.2.0/24");
	check_key("192.0.2.77", 16, 64, GH_PAM_ORIGIN_V4, "192.0.0.0/16");
	check_key("192.0.2.77", 32, 64, GH_PAM_ORIGIN_V4, "192.0.2.77/32");
	check_key("192.0.2.77", 0, 64, GH_PAM_ORIGIN_V4, "0.0.0.0/0");
	check_key("10.255.255.255", 20, 64, GH_PAM_ORIGIN_V4, "10.255.240.0/20");
	check_key("10.1.2.3", 99, 64, GH_PAM_ORIGIN_V4, "10.1.2.3/32");
	check_key("10.1.2.3", -4, 64, GH_PAM_ORIGIN_V4, "0.0.0.0/0");
	/* IPv4-mapped IPv6 is IPv4 */
	check_key("::ffff:198.51.100.9", 24, 64, GH_PAM_ORIGIN_V4,
	          "198.51.100.0/24");
	check_key("[192.0.2.1]", 24, 64, GH_PAM_ORIGIN_V4, "192.0.2.0/24");
}

static void
test_ipv6(void **state)
{
	check_key("2001:db8:1:2:3:4:5:6", 24, 64, GH_PAM_ORIGIN_V6,
	          "2001:db8:1:2::/64");
	check_key("2001:DB8:1:2:3:4:5:6", 24, 48, GH_PAM_ORIGIN_V6,
	          "2001:db8:1::/48");
	check_key("2001:db8:1:2:3:4:5:6", 24, 128, GH_PAM_ORIGIN_V6,
	          "2001:db8:1:2:3:4:5:6/128");
	check_key("2001:db8:1:2:3:4:5:6", 24, 56, GH_PAM_ORIGIN_V6,
	          "2001:db8:1::/56");
	check_key("2001:db8:1:2ff:3:4:5:6", 24, 60, GH_PAM_ORIGIN_V6,
	          "2001:db8:1:2f0::/60");
	check_key("::1", 24, 64, GH_PAM_ORIGIN_V6, "::/64");
	check_key("[2001:db8::1]", 24, 64, GH_PAM_ORIGIN_V6, "2001:db8::/64");
	check_key("fe80::1%eth0", 24, 64, GH_PAM_ORIGIN_V6, "fe80::/64");
}

static void
test_names(void **state)
{
	char big[400];

	check_key("Host.Example.COM.", 24, 64, GH_PAM_ORIGIN_NAME,
	          "host.example.com");
	check_key("a b\n<c>", 24, 64, GH_PAM_ORIGIN_NAME, "a_b__c_");
	/* not an address: no shorthand forms, no ports */
	check_key("10.1", 24, 64, GH_PAM_ORIGIN_NAME, "10.1");
	check_key("192.0.2.1:22", 24, 64, GH_PAM_ORIGIN_NAME, "192.0.2.1:22");
	check_key("192.0.2.256", 24, 64, GH_PAM_ORIGIN_NAME, "192.0.2.256");
	check_key("gw:1::zz", 24, 64, GH_PAM_ORIGIN_NAME, "gw:1::zz");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		char out[GH_PAM_NETKEY_MAX];

		assert_int_equal(gp_netkey(big, 24, 64, out, sizeof(out)),
		                 GH_PAM_ORIGIN_NAME);
		assert_int_equal(strlen(out), 253);
	}
}

static void
test_local(void **state)
{
	check_key(NULL, 24, 64, GH_PAM_ORIGIN_LOCAL, "");
	check_key("", 24, 64, GH_PAM_ORIGIN_LOCAL, "");
	check_key("   ", 24, 64, GH_PAM_ORIGIN_LOCAL, "");
	check_key("UNKNOWN", 24, 64, GH_PAM_ORIGIN_LOCAL, "");
	check_key("unknown", 24, 64, GH_PAM_ORIGIN_LOCAL, "");
	check_key(".", 24, 64, GH_PAM_ORIGIN_LOCAL, "");
}

static void
test_canon(void **state)
{
	char out[GH_PAM_NETKEY_MAX];

	assert_int_equal(gp_addr_canon("::ffff:192.0.2.1", out,
	                                   sizeof(out)), GH_PAM_ORIGIN_V4);
	assert_string_equal(out, "192.0.2.1");
	assert_int_equal(gp_addr_canon("2001:0db8:0000:0000:0000:0000:0000:"
	                                   "0001", out, sizeof(out)),
	                 GH_PAM_ORIGIN_V6);
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(gp_addr_canon("[::1]", out, sizeof(out)),
	                 GH_PAM_ORIGIN_V6);
	assert_string_equal(out, "::1");
	assert_int_equal(gp_addr_canon("Mail.Example.org", out,
	                                   sizeof(out)), GH_PAM_ORIGIN_NAME);
	assert_string_equal(out, "mail.example.org");
	assert_int_equal(gp_addr_canon("UNKNOWN", out, sizeof(out)),
	                 GH_PAM_ORIGIN_LOCAL);
	assert_string_equal(out, "");
	/* a buffer too small for the text gives "", never a cut address */
	assert_int_equal(gp_addr_canon("2001:db8::1", out, 5),
	                 GH_PAM_ORIGIN_V6);
	assert_string_equal(out, "");
}

/* The fields are escaped by the library's one rule (test_text covers the
 * rule itself): what PAM hands over is kept, marked, never '?'. */
static void
test_fill_escapes(void **state)
{
	struct gp_login l;
	char big[400];

	gp_login_fill(&l, "a\nb\x01" "c\xff", "DOM\\bob", "pts/\x1b[0",
	                  NULL, NULL, 24, 56, 1);
	assert_string_equal(l.user, "a\\nb\\x01c\\xff");
	assert_string_equal(l.ruser, "DOM\\bob");        /* identity: one '\\' */
	assert_string_equal(l.tty, "pts/\\x1b[0");
	assert_string_equal(l.service, "");
	/* too long: cut, and marked as cut */
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	gp_login_fill(&l, big, NULL, NULL, NULL, NULL, 24, 56, 1);
	assert_int_equal(strlen(l.user), GH_PAM_USER_MAX - 1);
	assert_string_equal(l.user + GH_PAM_USER_MAX - 1 - GH_TEXT_CUT_MARK_LEN,
	                    GH_TEXT_CUT_MARK);
}

static void
test_fmt(void **state)
{
	char out[8];

	assert_int_equal(gp_fmt(out, sizeof(out), "%s", "abc"), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(gp_fmt(out, sizeof(out), "%s", "abcdefghij"), 1);
	assert_string_equal(out, "abcdefg");
	/* "abcde" + 3-byte euro: the euro does not fit whole, so it goes */
	assert_int_equal(gp_fmt(out, sizeof(out), "%s", "abcde\xe2\x82\xac"),
	                 1);
	assert_string_equal(out, "abcde");
	/* exactly fitting multibyte stays */
	assert_int_equal(gp_fmt(out, sizeof(out), "%s", "abcd\xe2\x82\xac"),
	                 0);
	assert_string_equal(out, "abcd\xe2\x82\xac");
	assert_int_equal(gp_fmt(out, sizeof(out), "%s",
	                            "abcd\xe2\x82\xac" "x"), 1);
	assert_string_equal(out, "abcd\xe2\x82\xac");
}

static void
test_login_fill(void **state)
{
	struct gp_login l;

	gp_login_fill(&l, "bob", "root", "pts/1", "sshd",
	                  "::ffff:203.0.113.5", 24, 64, 1234);
	assert_string_equal(l.user, "bob");
	assert_string_equal(l.ruser, "root");
	assert_string_equal(l.tty, "pts/1");
	assert_string_equal(l.service, "sshd");
	assert_string_equal(l.rhost, "::ffff:203.0.113.5");
	assert_string_equal(l.addr, "203.0.113.5");
	assert_string_equal(l.net, "203.0.113.0/24");
	assert_int_equal(l.origin, GH_PAM_ORIGIN_V4);
	assert_int_equal(l.now, 1234);
	assert_true(l.host[0] != '\0');

	gp_login_fill(&l, NULL, NULL, NULL, NULL, "UNKNOWN", 24, 64, 1);
	assert_string_equal(l.user, "");
	assert_string_equal(l.addr, "");
	assert_string_equal(l.net, "");
	assert_int_equal(l.origin, GH_PAM_ORIGIN_LOCAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_canon),
		cmocka_unit_test(test_fill_escapes),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_login_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
