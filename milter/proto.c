/*
 * proto.c - gatehouse-milter's choices in the milter protocol (proto.h).
 *
 * Skipped steps: HELO, unknown commands and end of header -- every event
 * costs a round trip and work on both sides, and the end of the header is
 * plain from the first body chunk or, for an empty body, the end of the
 * message.  DATA is kept: it tells a client that dropped its message
 * mid-way from an address probe.
 *
 * Replies: over TCP every command is answered, so neither side writes twice
 * without reading in between and Nagle's algorithm meets no delayed ACK
 * (with SMFIP_NR_* negotiated over inet: bench/milter measured a ~40 ms
 * stall per message).  A unix socket has no Nagle: there header fields
 * and body chunks go unanswered, a round trip per field and per chunk
 * saved.  libmilter always offers these flags (it answers itself for an
 * MTA that cannot do without), so the choice depends only on the socket,
 * which also holds for a connection reused after SMFIC_QUIT_NC.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* The macros read, per stage; the MTA then sends no others. */
static const struct {
	int stage;
	const char *list;
} wanted_macros[] = {
	{SMFIM_CONNECT, "j"},
	{SMFIM_ENVFROM, "i {auth_authen}"},
	{SMFIM_ENVRCPT, "i"},
	{SMFIM_DATA, "i"},
	{SMFIM_EOM, "i"},
};

unsigned long
gm_proto_noreply(int local)
{
	return local ? SMFIP_NR_HDR | SMFIP_NR_BODY : 0;
}

void
gm_proto_negotiate(SMFICTX *ctx, int local, unsigned long f0,
                   unsigned long f1, unsigned long *pf0, unsigned long *pf1)
{
	static const unsigned long skip_steps = SMFIP_NOHELO |
	    SMFIP_NOUNKNOWN | SMFIP_NOEOH;

	*pf1 = f1 & (SMFIP_HDR_LEADSPC | skip_steps | gm_proto_noreply(local));
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		for (size_t i = 0; i < sizeof(wanted_macros) /
		     sizeof(wanted_macros[0]); i++)
			(void)smfi_setsymlist(ctx, wanted_macros[i].stage,
			                      (char *)(uintptr_t)
			                      wanted_macros[i].list);
	}
}
