/*
 * netlist.h - a list of networks (CIDR prefixes), such as the milter's
 * internal_hosts: "127.0.0.0/8 ::1 10.0.0.0/8 2001:db8::/32 192.0.2.7"
 *
 * IPv4 networks also match IPv4-mapped IPv6 addresses (::ffff:10.1.2.3),
 * which is how a dual-stack MTA may report an IPv4 client.  A bare address
 * is a /32 or /128.  Host bits set below the prefix ("10.1.2.3/8") are an
 * error: they usually mean a typo, and silently widening the list of hosts
 * whose mail gets signed is the wrong way to fail.
 *
 * A list is immutable once parsed; any number of threads may match.
 */
#ifndef GH_MILTER_NETLIST_H
#define GH_MILTER_NETLIST_H

#include <stddef.h>
#include <sys/socket.h>

#include "gatehouse/err.h"

#define GH_NETLIST_MAX 1024

struct gm_net {
	unsigned char addr[16];	/* IPv6, or IPv4-mapped */
	unsigned prefix;	/* 0..128, counted on the 16 bytes */
};

struct gm_netlist {
	struct gm_net *v;
	size_t n;
};

/*
 * gm_netlist_parse - parse words separated by spaces or commas into l
 * (freed with gm_netlist_free).  GH_EINVAL names the bad word in detail;
 * GH_ETOOBIG past GH_NETLIST_MAX entries; GH_ENOMEM.
 */
gh_err gm_netlist_parse(const char *text, struct gm_netlist *l,
    char *detail, size_t detail_len);

void gm_netlist_free(struct gm_netlist *l);

/* gm_netlist_match_sa - 1 if the address is in the list (AF_INET and
 * AF_INET6 only; anything else is not in any list). */
int gm_netlist_match_sa(const struct gm_netlist *l, const struct sockaddr *sa);

/* gm_netlist_match_str - the same for a textual address; 0 if unparsable. */
int gm_netlist_match_str(const struct gm_netlist *l, const char *addr);

#endif /* GH_MILTER_NETLIST_H */
