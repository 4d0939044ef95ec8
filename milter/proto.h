/*
 * proto.h - what gatehouse-milter asks of the MTA in the milter protocol:
 * the steps it skips, the replies it does without, the macros it reads.
 * One place, shared by the milter's negotiation (callbacks.c) and by
 * bench/milter/null_milter.c, whose point is to cost exactly what the
 * protocol costs.
 */
#ifndef GH_MILTER_PROTO_H
#define GH_MILTER_PROTO_H

#include <libmilter/mfapi.h>

/*
 * gm_proto_noreply - the "no reply" flags to ask for: SMFIP_NR_HDR and
 * SMFIP_NR_BODY over a local socket (local != 0), none over TCP.
 */
unsigned long gm_proto_noreply(int local);

/*
 * gm_proto_negotiate - from the MTA's offer (f0 actions, f1 steps), the
 * protocol part of the answer: *pf1 gets the steps skipped, header values
 * with their leading space, and gm_proto_noreply(local); if the MTA lets
 * the milter choose its macros, SMFIF_SETSYMLIST is added to *pf0 and the
 * few macros read are requested per stage.  The caller sets the actions
 * it needs in *pf0 first.
 */
void gm_proto_negotiate(SMFICTX *ctx, int local, unsigned long f0,
                        unsigned long f1, unsigned long *pf0,
                        unsigned long *pf1);

#endif /* GH_MILTER_PROTO_H */
