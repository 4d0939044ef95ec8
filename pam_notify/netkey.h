/*
 * netkey.h - turn PAM_RHOST into the "network" a login came from
 *
 * New-host detection compares networks, not addresses, so a laptop that
 * changes address inside its office /24 or home /64 is not "new" each day.
 * PAM_RHOST is whatever the application set: an address, a host name (sshd
 * with UseDNS), "UNKNOWN", or nothing for a console login.  It is never
 * resolved: a DNS lookup inside a login could block for seconds.
 */
#ifndef GH_PAM_NETKEY_H
#define GH_PAM_NETKEY_H

#include <stddef.h>

enum gp_origin {
	GH_PAM_ORIGIN_LOCAL = 0,   /* no remote host: console, su, cron */
	GH_PAM_ORIGIN_V4,          /* an IPv4 address (or IPv4-mapped IPv6) */
	GH_PAM_ORIGIN_V6,          /* an IPv6 address */
	GH_PAM_ORIGIN_NAME         /* anything else, keyed as a name */
};

/* Longest key written, NUL included: a name is cut to 253 bytes. */
#define GH_PAM_NETKEY_MAX 256

/*
 * gp_netkey - classify rhost and write its network key to out:
 *   IPv4  "192.0.2.0/24"   (v4_prefix bits kept)
 *   IPv6  "2001:db8:1:2::/64" (v6_prefix bits kept; brackets and a %zone
 *         are dropped)
 *   name  lower-cased, a final dot dropped, bytes outside [a-z0-9.-_:]
 *         replaced by '_', at most 253 bytes
 *   local "" (NULL, empty, "UNKNOWN" -- what sshd and login set when they
 *         know nothing -- and blank strings)
 * Prefixes out of range are clamped.  out must hold GH_PAM_NETKEY_MAX.
 */
enum gp_origin gp_netkey(const char *rhost, int v4_prefix,
                                 int v6_prefix, char *out, size_t outlen);

/*
 * gp_addr_canon - the address itself in canonical text form (what
 * known_hosts records as "addr" and the per-address failure counter keys
 * on): "::ffff:192.0.2.1" becomes "192.0.2.1", IPv6 is compressed, a name
 * is cleaned as above.  "" for a local login.
 */
enum gp_origin gp_addr_canon(const char *rhost, char *out,
                                     size_t outlen);

#endif
