/*
 * netaddr.h - is an address on the public Internet?
 *
 * Web Push endpoints are URLs that users hand in; without a check, notifyd
 * would POST wherever they point, loopback and the LAN included, and record
 * what answered (server-side request forgery).  The check is made on the
 * address a connection is about to be opened to (http.h: nd_http_guard),
 * never on the name, so a name that resolves differently the second time
 * (DNS rebinding) gains nothing.
 *
 * nd_addr_classify sorts an IPv4 or IPv6 socket address into one class.
 * Only ND_ADDR_PUBLIC may be connected to:
 *   unspecified  0.0.0.0/8, ::
 *   loopback     127.0.0.0/8, ::1
 *   private      10/8, 172.16/12, 192.168/16, fc00::/7 (unique local),
 *                fec0::/10 (site-local, deprecated but still routed by some)
 *   shared       100.64.0.0/10 (carrier-grade NAT, RFC 6598)
 *   link-local   169.254.0.0/16 (cloud metadata services live at
 *                169.254.169.254), fe80::/10
 *   multicast    224.0.0.0/4, ff00::/8
 *   reserved     the other special-purpose blocks of RFC 6890 and the IANA
 *                registries: 192.0.0.0/24, the documentation nets, 6to4
 *                relay anycast 192.88.99.0/24, benchmarking 198.18.0.0/15,
 *                240.0.0.0/4 and broadcast; in IPv6, everything outside
 *                the global unicast space 2000::/3 (discard 100::/64,
 *                local NAT64 64:ff9b:1::/48, IPv4-compatible and
 *                IPv4-translated forms, ...), 2001::/23 (Teredo, ORCHID
 *                and other protocol assignments), 2001:db8::/32, 3fff::/20
 *   not an IP    any other family, or a length too short for the family
 * IPv6 forms that carry an IPv4 address to a router that will deliver to
 * it are judged by that IPv4 address: IPv4-mapped ::ffff:a.b.c.d (a dual
 * stack socket connects to a.b.c.d), NAT64 64:ff9b::a.b.c.d (RFC 6052) and
 * 6to4 2002:AABB:CCDD::/48.
 *
 * Pure functions of their arguments: no I/O, no state.
 */
#ifndef GH_NOTIFYD_NETADDR_H
#define GH_NOTIFYD_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

enum nd_addr_class {
	ND_ADDR_PUBLIC = 0,
	ND_ADDR_UNSPECIFIED,
	ND_ADDR_LOOPBACK,
	ND_ADDR_PRIVATE,
	ND_ADDR_SHARED,
	ND_ADDR_LINK_LOCAL,
	ND_ADDR_MULTICAST,
	ND_ADDR_RESERVED,
	ND_ADDR_NOT_IP
};

/* nd_addr_classify - the class of sa, len bytes long (see above). */
enum nd_addr_class nd_addr_classify(const struct sockaddr *sa, size_t len);

/* nd_addr_class_name - "loopback", "link-local", ... for messages. */
const char *nd_addr_class_name(enum nd_addr_class c);

/*
 * nd_addr_text - sa as numeric text ("192.0.2.1", "2001:db8::1") into out,
 * or "?" when it is not an IP address.  out is always terminated.
 */
void nd_addr_text(const struct sockaddr *sa, size_t len, char *out,
                  size_t cap);

#endif /* GH_NOTIFYD_NETADDR_H */
