/*
 * netlist.c - parse and match lists of CIDR networks (see netlist.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlist.h"

static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Parse an address into 16 bytes; *bits gets 32 or 128.  0 on failure. */
static int
parse_addr(const char *s, unsigned char out[16], unsigned *bits)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &a4, 4);
		*bits = 32;
		return 1;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*bits = 128;
		return 1;
	}
	return 0;
}

static int
host_bits_clear(const unsigned char a[16], unsigned prefix)
{
	for (unsigned i = prefix; i < 128; i++)
		if (a[i / 8] & (0x80u >> (i % 8)))
			return 0;
	return 1;
}

static gh_err
parse_word(const char *w, struct gm_net *net)
{
	char buf[64];
	char *slash, *end;
	unsigned bits;
	long p;

	if (strlen(w) >= sizeof(buf))
		return GH_EINVAL;
	memcpy(buf, w, strlen(w) + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (!parse_addr(buf, net->addr, &bits))
		return GH_EINVAL;
	p = bits;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return GH_EINVAL;
		p = strtol(slash + 1, &end, 10);
		if (*end != '\0' || p < 0 || p > (long)bits)
			return GH_EINVAL;
	}
	net->prefix = (unsigned)p + (bits == 32 ? 96 : 0);
	if (!host_bits_clear(net->addr, net->prefix))
		return GH_EINVAL;
	return GH_OK;
}

gh_err
gm_netlist_parse(const char *text, struct gm_netlist *l, char *detail,
                 size_t detail_len)
{
	const char *p = text ? text : "";
	gh_err err = GH_OK;
	size_t cap = 0;

	l->v = NULL;
	l->n = 0;
	while (*p) {
		char word[64];
		size_t n = strcspn(p, " \t,");

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(word)) {
			err = GH_EINVAL;
			if (detail)
				snprintf(detail, detail_len, "'%.*s' is not a "
				         "network", (int)(n > 60 ? 60 : n), p);
			goto cleanup;
		}
		memcpy(word, p, n);
		word[n] = '\0';
		p += n;
		if (l->n == GH_NETLIST_MAX) {
			err = GH_ETOOBIG;
			if (detail)
				snprintf(detail, detail_len, "more than %d networks",
				         GH_NETLIST_MAX);
			goto cleanup;
		}
		if (l->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct gm_net *nv = realloc(l->v, ncap * sizeof(*nv));

			if (nv == NULL) {
				err = GH_ENOMEM;
				goto cleanup;
			}
			l->v = nv;
			cap = ncap;
		}
		if (parse_word(word, &l->v[l->n]) != GH_OK) {
			err = GH_EINVAL;
			if (detail)
				snprintf(detail, detail_len, "'%s' is not an "
				         "address or network (ADDR or ADDR/BITS, "
				         "host bits clear)", word);
			goto cleanup;
		}
		l->n++;
	}
cleanup:
	if (err)
		gm_netlist_free(l);
	return err;
}

void
gm_netlist_free(struct gm_netlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
match16(const struct gm_netlist *l, const unsigned char a[16])
{
	for (size_t i = 0; i < l->n; i++) {
		const struct gm_net *net = &l->v[i];
		unsigned full = net->prefix / 8, rest = net->prefix % 8;

		if (memcmp(net->addr, a, full) != 0)
			continue;
		if (rest) {
			unsigned char mask = (unsigned char)(0xffu << (8 - rest));

			if ((net->addr[full] & mask) != (a[full] & mask))
				continue;
		}
		return 1;
	}
	return 0;
}

int
gm_netlist_match_sa(const struct gm_netlist *l, const struct sockaddr *sa)
{
	unsigned char a[16];

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memcpy(a, v4mapped, 12);
		memcpy(a + 12, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(a, &s6->sin6_addr, 16);
	} else {
		return 0;
	}
	return match16(l, a);
}

int
gm_netlist_match_str(const struct gm_netlist *l, const char *addr)
{
	unsigned char a[16];
	unsigned bits;

	if (addr == NULL || !parse_addr(addr, a, &bits))
		return 0;
	return match16(l, a);
}
