/*
 * milter.h - what the whole gatehouse-milter process shares: the current
 * configuration, the store handle, failure conditions, and the counters
 * that SIGTERM's drain waits on.
 *
 * THREADS (see main.c)
 *   main       handles signals (its own handlers, see main.c for why),
 *              hands reloads to the reload thread, drains on SIGTERM
 *   reload     builds a new configuration on request and swaps it in
 *   libmilter  smfi_main()'s listener, its signal thread, its worker pool
 *              running the callbacks (callbacks.c); a connection's
 *              callbacks run one at a time, possibly on different workers
 *
 * One struct gm_milter exists; libmilter's callbacks reach it through
 * gm_get(), because libmilter passes them nothing but the SMFICTX.
 */
#ifndef GH_MILTER_MILTER_H
#define GH_MILTER_MILTER_H

#include "mcfg.h"
#include "mlog.h"
#include "mstore.h"

struct gm_milter {
	const char *conf_path;		/* NULL: the default */
	struct gm_mcfg_holder cfg;
	struct gm_mstore store;
	struct gm_mcond sign_cond;	/* "DKIM signing" */
	struct gm_mcond scan_cond;	/* "virus scanner" */
	struct gm_mcond spool_cond;	/* "scan spool" */
	int local_socket;		/* [milter] socket is unix:/local: */
	int draining;			/* atomic: SIGTERM received */
	long conns;			/* atomic: connections open */
	long msgs;			/* atomic: messages in progress */
};

/* gm_set - publish the process state before smfi_main() starts;
 * gm_get - read it from a callback. */
void gm_set(struct gm_milter *m);
struct gm_milter *gm_get(void);

/* gm_register - smfi_register() our callbacks (callbacks.c). */
int gm_register(void);

#endif /* GH_MILTER_MILTER_H */
