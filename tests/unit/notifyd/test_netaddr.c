/*
 * test_netaddr.c - which addresses notifyd may connect Web Push
 * requests to (netaddr.h): a table of addresses on both sides of every
 * block's edges, the IPv6 forms that carry an IPv4 address, and what is
 * not an IP address at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../../../notifyd/core/netaddr.h"

struct want {
	const char *addr;
	enum nd_addr_class c;
};

static const struct want cases[] = {
	/* unspecified, "this network" */
	{"0.0.0.0", ND_ADDR_UNSPECIFIED},
	{"0.1.2.3", ND_ADDR_UNSPECIFIED},
	{"0.255.255.255", ND_ADDR_UNSPECIFIED},
	{"1.0.0.0", ND_ADDR_PUBLIC},
	/* private, with the neighbours of each block */
	{"9.255.255.255", ND_ADDR_PUBLIC},
	{"10.0.0.0", ND_ADDR_PRIVATE},
	{"10.255.255.255", ND_ADDR_PRIVATE},
	{"11.0.0.0", ND_ADDR_PUBLIC},
	{"172.15.255.255", ND_ADDR_PUBLIC},
	{"172.16.0.1", ND_ADDR_PRIVATE},
	{"172.31.255.255", ND_ADDR_PRIVATE},
	{"172.32.0.0", ND_ADDR_PUBLIC},
	{"192.167.255.255", ND_ADDR_PUBLIC},
	{"192.168.0.0", ND_ADDR_PRIVATE},
	{"192.168.255.255", ND_ADDR_PRIVATE},
	{"192.169.0.0", ND_ADDR_PUBLIC},
	/* carrier-grade NAT */
	{"100.63.255.255", ND_ADDR_PUBLIC},
	{"100.64.0.0", ND_ADDR_SHARED},
	{"100.127.255.255", ND_ADDR_SHARED},
	{"100.128.0.0", ND_ADDR_PUBLIC},
	/* loopback */
	{"126.255.255.255", ND_ADDR_PUBLIC},
	{"127.0.0.1", ND_ADDR_LOOPBACK},
	{"127.1.2.3", ND_ADDR_LOOPBACK},
	{"127.255.255.255", ND_ADDR_LOOPBACK},
	{"128.0.0.0", ND_ADDR_PUBLIC},
	/* link-local, cloud metadata */
	{"169.253.255.255", ND_ADDR_PUBLIC},
	{"169.254.0.1", ND_ADDR_LINK_LOCAL},
	{"169.254.169.254", ND_ADDR_LINK_LOCAL},
	{"169.255.0.0", ND_ADDR_PUBLIC},
	/* reserved blocks */
	{"192.0.0.8", ND_ADDR_RESERVED},
	{"192.0.0.170", ND_ADDR_RESERVED},
	{"192.0.1.0", ND_ADDR_PUBLIC},
	{"192.0.2.1", ND_ADDR_RESERVED},
	{"192.88.99.1", ND_ADDR_RESERVED},
	{"198.17.255.255", ND_ADDR_PUBLIC},
	{"198.18.0.1", ND_ADDR_RESERVED},
	{"198.19.255.255", ND_ADDR_RESERVED},
	{"198.20.0.0", ND_ADDR_PUBLIC},
	{"198.51.100.7", ND_ADDR_RESERVED},
	{"203.0.113.9", ND_ADDR_RESERVED},
	/* multicast, class E, broadcast */
	{"223.255.255.255", ND_ADDR_PUBLIC},
	{"224.0.0.1", ND_ADDR_MULTICAST},
	{"239.255.255.250", ND_ADDR_MULTICAST},
	{"240.0.0.1", ND_ADDR_RESERVED},
	{"255.255.255.255", ND_ADDR_RESERVED},
	/* public */
	{"8.8.8.8", ND_ADDR_PUBLIC},
	{"142.250.185.10", ND_ADDR_PUBLIC},

	/* IPv6 */
	{"::", ND_ADDR_UNSPECIFIED},
	{"::1", ND_ADDR_LOOPBACK},
	{"::2", ND_ADDR_RESERVED},
	{"::127.0.0.1", ND_ADDR_RESERVED},           /* IPv4-compatible */
	{"::ffff:0:127.0.0.1", ND_ADDR_RESERVED},    /* IPv4-translated */
	/* IPv4-mapped: judged by the IPv4 address */
	{"::ffff:127.0.0.1", ND_ADDR_LOOPBACK},
	{"::ffff:0.0.0.0", ND_ADDR_UNSPECIFIED},
	{"::ffff:10.1.2.3", ND_ADDR_PRIVATE},
	{"::ffff:172.20.0.1", ND_ADDR_PRIVATE},
	{"::ffff:192.168.1.1", ND_ADDR_PRIVATE},
	{"::ffff:100.64.0.1", ND_ADDR_SHARED},
	{"::ffff:169.254.169.254", ND_ADDR_LINK_LOCAL},
	{"::ffff:224.0.0.1", ND_ADDR_MULTICAST},
	{"::ffff:192.0.2.1", ND_ADDR_RESERVED},
	{"::ffff:8.8.8.8", ND_ADDR_PUBLIC},
	/* NAT64 well-known prefix, likewise; the local-use one is not */
	{"64:ff9b::127.0.0.1", ND_ADDR_LOOPBACK},
	{"64:ff9b::a9fe:a9fe", ND_ADDR_LINK_LOCAL},
	{"64:ff9b::8.8.8.8", ND_ADDR_PUBLIC},
	{"64:ff9b:1::1", ND_ADDR_RESERVED},
	/* 6to4 carries the IPv4 address in bits 16-47 */
	{"2002:7f00:1::1", ND_ADDR_LOOPBACK},
	{"2002:c0a8:101::1", ND_ADDR_PRIVATE},
	{"2002:a9fe:a9fe::", ND_ADDR_LINK_LOCAL},
	{"2002:808:808::1", ND_ADDR_PUBLIC},
	/* unique local, site-local, link-local, multicast */
	{"fbff:ffff::1", ND_ADDR_RESERVED},
	{"fc00::1", ND_ADDR_PRIVATE},
	{"fd12:3456:789a::1", ND_ADDR_PRIVATE},
	{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ND_ADDR_PRIVATE},
	{"fe00::1", ND_ADDR_RESERVED},
	{"fe80::1", ND_ADDR_LINK_LOCAL},
	{"febf:ffff::1", ND_ADDR_LINK_LOCAL},
	{"fec0::1", ND_ADDR_PRIVATE},
	{"ff02::1", ND_ADDR_MULTICAST},
	{"ff0e::101", ND_ADDR_MULTICAST},
	/* special blocks inside 2000::/3 */
	{"2001::1", ND_ADDR_RESERVED},               /* Teredo */
	{"2001:1ff:ffff::1", ND_ADDR_RESERVED},
	{"2001:200::1", ND_ADDR_PUBLIC},
	{"2001:db8::1", ND_ADDR_RESERVED},
	{"2001:db9::1", ND_ADDR_PUBLIC},
	{"3fff::1", ND_ADDR_RESERVED},
	{"3fff:fff:ffff::1", ND_ADDR_RESERVED},
	{"3fff:1000::1", ND_ADDR_PUBLIC},
	/* outside the global unicast space */
	{"100::1", ND_ADDR_RESERVED},
	{"1fff:ffff::1", ND_ADDR_RESERVED},
	{"4000::1", ND_ADDR_RESERVED},
	{"5f00::1", ND_ADDR_RESERVED},
	/* public */
	{"2000::1", ND_ADDR_PUBLIC},
	{"2a00:1450:4001:82b::200e", ND_ADDR_PUBLIC},
	{"3ffe::1", ND_ADDR_PUBLIC},
};

static enum nd_addr_class
classify_text(const char *s)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	memset(&in4, 0, sizeof(in4));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, s, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		in4.sin_port = htons(443);
		return nd_addr_classify((struct sockaddr *)&in4, sizeof(in4));
	}
	assert_int_equal(inet_pton(AF_INET6, s, &in6.sin6_addr), 1);
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(443);
	return nd_addr_classify((struct sockaddr *)&in6, sizeof(in6));
}

static void
test_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum nd_addr_class c = classify_text(cases[i].addr);

		if (c != cases[i].c) {
			print_error("%s: %s, want %s\n", cases[i].addr,
			            nd_addr_class_name(c),
			            nd_addr_class_name(cases[i].c));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* A socket address as libcurl hands it over: inside a larger buffer. */
static void
test_storage_and_not_ip(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in in4;
	struct sockaddr_un un;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &in6->sin6_addr), 1);
	in6->sin6_scope_id = 2;
	assert_int_equal(nd_addr_classify((struct sockaddr *)&ss, sizeof(ss)),
	                 ND_ADDR_LINK_LOCAL);
	/* too short for its family: not judged as that family */
	assert_int_equal(nd_addr_classify((struct sockaddr *)&ss,
	                                  sizeof(struct sockaddr_in)),
	                 ND_ADDR_NOT_IP);
	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_addr.s_addr = htonl(0x08080808);
	assert_int_equal(nd_addr_classify((struct sockaddr *)&in4, 4),
	                 ND_ADDR_NOT_IP);
	assert_int_equal(nd_addr_classify((struct sockaddr *)&in4, 0),
	                 ND_ADDR_NOT_IP);
	assert_int_equal(nd_addr_classify(NULL, sizeof(in4)), ND_ADDR_NOT_IP);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/x.sock");
	assert_int_equal(nd_addr_classify((struct sockaddr *)&un, sizeof(un)),
	                 ND_ADDR_NOT_IP);
}

static void
test_text_and_names(void **state)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	char out[INET6_ADDRSTRLEN], tiny[4];
	const char *seen[ND_ADDR_NOT_IP + 1];

	(void)state;
	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_addr.s_addr = htonl(0xa9fea9fe);
	nd_addr_text((struct sockaddr *)&in4, sizeof(in4), out, sizeof(out));
	assert_string_equal(out, "169.254.169.254");
	nd_addr_text((struct sockaddr *)&in4, sizeof(in4), tiny, sizeof(tiny));
	assert_string_equal(tiny, "?");
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:10.0.0.1",
	                           &in6.sin6_addr), 1);
	nd_addr_text((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
	assert_string_equal(out, "::ffff:10.0.0.1");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	nd_addr_text((struct sockaddr *)&un, sizeof(un), out, sizeof(out));
	assert_string_equal(out, "?");
	/* every class has its own name for the messages */
	for (int c = ND_ADDR_PUBLIC; c <= ND_ADDR_NOT_IP; c++) {
		seen[c] = nd_addr_class_name((enum nd_addr_class)c);
		assert_true(seen[c][0] != '\0');
		for (int j = 0; j < c; j++)
			assert_string_not_equal(seen[j], seen[c]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_storage_and_not_ip),
		cmocka_unit_test(test_text_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
