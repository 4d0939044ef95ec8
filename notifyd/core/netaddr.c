/*
 * netaddr.c - the address classes of netaddr.h, as two prefix tables.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

struct v4_block {
	uint32_t net;            /* host order */
	unsigned len;
	enum nd_addr_class c;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | \
                        ((uint32_t)(c) << 8) | (uint32_t)(d))

/* Special-purpose IPv4 blocks (RFC 6890 and the IANA registry). */
static const struct v4_block v4_blocks[] = {
	{V4(0, 0, 0, 0), 8, ND_ADDR_UNSPECIFIED},      /* "this network" */
	{V4(10, 0, 0, 0), 8, ND_ADDR_PRIVATE},
	{V4(100, 64, 0, 0), 10, ND_ADDR_SHARED},
	{V4(127, 0, 0, 0), 8, ND_ADDR_LOOPBACK},
	{V4(169, 254, 0, 0), 16, ND_ADDR_LINK_LOCAL},
	{V4(172, 16, 0, 0), 12, ND_ADDR_PRIVATE},
	{V4(192, 0, 0, 0), 24, ND_ADDR_RESERVED},      /* protocol assignments */
	{V4(192, 0, 2, 0), 24, ND_ADDR_RESERVED},      /* TEST-NET-1 */
	{V4(192, 88, 99, 0), 24, ND_ADDR_RESERVED},    /* 6to4 relay anycast */
	{V4(192, 168, 0, 0), 16, ND_ADDR_PRIVATE},
	{V4(198, 18, 0, 0), 15, ND_ADDR_RESERVED},     /* benchmarking */
	{V4(198, 51, 100, 0), 24, ND_ADDR_RESERVED},   /* TEST-NET-2 */
	{V4(203, 0, 113, 0), 24, ND_ADDR_RESERVED},    /* TEST-NET-3 */
	{V4(224, 0, 0, 0), 4, ND_ADDR_MULTICAST},
	{V4(240, 0, 0, 0), 4, ND_ADDR_RESERVED},       /* and broadcast */
};

struct v6_block {
	unsigned char net[16];
	unsigned len;
	enum nd_addr_class c;
};

/* Special-purpose IPv6 blocks inside or beside 2000::/3; the rest of the
 * space outside 2000::/3 is reserved as a whole (see v6_class). */
static const struct v6_block v6_blocks[] = {
	{{0x20, 0x01}, 23, ND_ADDR_RESERVED},                /* 2001::/23 */
	{{0x20, 0x01, 0x0d, 0xb8}, 32, ND_ADDR_RESERVED},    /* documentation */
	{{0x3f, 0xff}, 20, ND_ADDR_RESERVED},                /* documentation */
	{{0xfc}, 7, ND_ADDR_PRIVATE},                        /* unique local */
	{{0xfe, 0x80}, 10, ND_ADDR_LINK_LOCAL},
	{{0xfe, 0xc0}, 10, ND_ADDR_PRIVATE},                 /* site-local */
	{{0xff}, 8, ND_ADDR_MULTICAST},
};

/* The first len bits of a and net are the same. */
static int
prefix_eq(const unsigned char *a, const unsigned char *net, unsigned len)
{
	unsigned whole = len / 8, rest = len % 8;
	unsigned char mask;

	if (memcmp(a, net, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff00u >> rest);
	return (a[whole] & mask) == (net[whole] & mask);
}

static enum nd_addr_class
v4_class(const unsigned char b[4])
{
	uint32_t a = V4(b[0], b[1], b[2], b[3]);

	for (size_t i = 0; i < sizeof(v4_blocks) / sizeof(v4_blocks[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_blocks[i].len);

		if ((a & mask) == v4_blocks[i].net)
			return v4_blocks[i].c;
	}
	return ND_ADDR_PUBLIC;
}

static enum nd_addr_class
v6_class(const unsigned char a[16])
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                         0xff, 0xff};
	static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	static const unsigned char six_to_four[2] = {0x20, 0x02};
	static const unsigned char global[1] = {0x20};

	if (memcmp(a, zero, 16) == 0)
		return ND_ADDR_UNSPECIFIED;
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return ND_ADDR_LOOPBACK;
	/* forms that reach an IPv4 address: judged by that address */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_class(a + 12);
	if (prefix_eq(a, six_to_four, 16))
		return v4_class(a + 2);
	for (size_t i = 0; i < sizeof(v6_blocks) / sizeof(v6_blocks[0]); i++)
		if (prefix_eq(a, v6_blocks[i].net, v6_blocks[i].len))
			return v6_blocks[i].c;
	return prefix_eq(a, global, 3) ? ND_ADDR_PUBLIC : ND_ADDR_RESERVED;
}

enum nd_addr_class
nd_addr_classify(const struct sockaddr *sa, size_t len)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	if (sa == NULL || len < sizeof(sa_family_t))
		return ND_ADDR_NOT_IP;
	/* copied: the caller's buffer need not be aligned for either type */
	if (sa->sa_family == AF_INET && len >= sizeof(in4)) {
		memcpy(&in4, sa, sizeof(in4));
		return v4_class((const unsigned char *)&in4.sin_addr.s_addr);
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(in6)) {
		memcpy(&in6, sa, sizeof(in6));
		return v6_class(in6.sin6_addr.s6_addr);
	}
	return ND_ADDR_NOT_IP;
}

const char *
nd_addr_class_name(enum nd_addr_class c)
{
	switch (c) {
	case ND_ADDR_PUBLIC:
		return "public";
	case ND_ADDR_UNSPECIFIED:
		return "unspecified";
	case ND_ADDR_LOOPBACK:
		return "loopback";
	case ND_ADDR_PRIVATE:
		return "private";
	case ND_ADDR_SHARED:
		return "shared (carrier-grade NAT)";
	case ND_ADDR_LINK_LOCAL:
		return "link-local";
	case ND_ADDR_MULTICAST:
		return "multicast";
	case ND_ADDR_RESERVED:
		return "reserved";
	case ND_ADDR_NOT_IP:
	default:
		return "non-IP";
	}
}

void
nd_addr_text(const struct sockaddr *sa, size_t len, char *out, size_t cap)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	const char *s = NULL;

	if (cap == 0)
		return;
	if (sa && len >= sizeof(in4) && sa->sa_family == AF_INET) {
		memcpy(&in4, sa, sizeof(in4));
		s = inet_ntop(AF_INET, &in4.sin_addr, out, (socklen_t)cap);
	} else if (sa && len >= sizeof(in6) && sa->sa_family == AF_INET6) {
		memcpy(&in6, sa, sizeof(in6));
		s = inet_ntop(AF_INET6, &in6.sin6_addr, out, (socklen_t)cap);
	}
	if (s == NULL)
		snprintf(out, cap, "?");
}
