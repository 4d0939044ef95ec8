/*
 * netkey.c - classify PAM_RHOST and reduce an address to its network.
 *
 * Pure string work (inet_pton/inet_ntop only): no resolver, no state, safe
 * in any thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "netkey.h"

#define NAME_MAX_LEN 253

static int
blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			return 0;
	return 1;
}

/* Parse rhost as an address.  16 bytes for IPv6, 4 for IPv4 (mapped
 * addresses are unwrapped).  Returns the origin, or NAME if not one. */
static enum gp_origin
parse_addr(const char *rhost, unsigned char *addr)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(rhost);
	const char *p = rhost;
	char *pct;

	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return GH_PAM_ORIGIN_NAME;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		return GH_PAM_ORIGIN_V4;
	/* A zone ("fe80::1%eth0") names our interface, not the peer. */
	pct = strchr(buf, '%');
	if (pct != NULL)
		*pct = '\0';
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return GH_PAM_ORIGIN_NAME;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)addr)) {
		memmove(addr, addr + 12, 4);
		return GH_PAM_ORIGIN_V4;
	}
	return GH_PAM_ORIGIN_V6;
}

static void
mask_bits(unsigned char *a, size_t len, int prefix)
{
	for (size_t i = 0; i < len; i++) {
		int keep = prefix - (int)(i * 8);

		if (keep >= 8)
			continue;
		a[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

static void
clean_name(const char *rhost, char *out, size_t outlen)
{
	size_t n = strlen(rhost), j = 0;

	if (n > 0 && rhost[n - 1] == '.')
		n--;
	if (n > NAME_MAX_LEN)
		n = NAME_MAX_LEN;
	for (size_t i = 0; i < n && j + 1 < outlen; i++) {
		unsigned char c = (unsigned char)rhost[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == ':'))
			c = '_';
		out[j++] = (char)c;
	}
	out[j] = '\0';
}

static int
is_local(const char *rhost)
{
	return rhost == NULL || blank(rhost) ||
	       strcasecmp(rhost, "UNKNOWN") == 0;
}

/*
 * What both answers start with: out emptied, LOCAL for no room or a local
 * rhost, NAME with the cleaned name in out (LOCAL if nothing is left of
 * it), else V4 or V6 with the address in a.
 */
static enum gp_origin
classify(const char *rhost, unsigned char a[16], char *out, size_t outlen)
{
	enum gp_origin o;

	if (outlen == 0)
		return GH_PAM_ORIGIN_LOCAL;
	out[0] = '\0';
	if (is_local(rhost))
		return GH_PAM_ORIGIN_LOCAL;
	o = parse_addr(rhost, a);
	if (o == GH_PAM_ORIGIN_NAME) {
		clean_name(rhost, out, outlen);
		if (out[0] == '\0')
			return GH_PAM_ORIGIN_LOCAL;
	}
	return o;
}

enum gp_origin
gp_netkey(const char *rhost, int v4_prefix, int v6_prefix, char *out,
              size_t outlen)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	enum gp_origin o = classify(rhost, a, out, outlen);

	if (o == GH_PAM_ORIGIN_LOCAL || o == GH_PAM_ORIGIN_NAME)
		return o;
	if (o == GH_PAM_ORIGIN_V4) {
		if (v4_prefix < 0 || v4_prefix > 32)
			v4_prefix = v4_prefix < 0 ? 0 : 32;
		mask_bits(a, 4, v4_prefix);
		inet_ntop(AF_INET, a, txt, sizeof(txt));
		snprintf(out, outlen, "%s/%d", txt, v4_prefix);
	} else {
		if (v6_prefix < 0 || v6_prefix > 128)
			v6_prefix = v6_prefix < 0 ? 0 : 128;
		mask_bits(a, 16, v6_prefix);
		inet_ntop(AF_INET6, a, txt, sizeof(txt));
		snprintf(out, outlen, "%s/%d", txt, v6_prefix);
	}
	return o;
}

enum gp_origin
gp_addr_canon(const char *rhost, char *out, size_t outlen)
{
	unsigned char a[16];
	enum gp_origin o = classify(rhost, a, out, outlen);

	if (o == GH_PAM_ORIGIN_LOCAL || o == GH_PAM_ORIGIN_NAME)
		return o;
	if (inet_ntop(o == GH_PAM_ORIGIN_V4 ? AF_INET : AF_INET6, a, out,
	              (socklen_t)outlen) == NULL)
		out[0] = '\0';
	return o;
}
