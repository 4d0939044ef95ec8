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
 * One struct gh_milter exists; libmilter's callbacks reach it through
 * gh_milter_get(), because libmilter passes them nothing but the SMFICTX.
 */
#ifndef GH_MILTER_MILTER_H
#define GH_MILTER_MILTER_H

#include "mcfg.h"
#include "mlog.h"
#include "mstore.h"

struct gh_milter {
	const char *conf_path;		/* NULL: the default */
	struct gh_mcfg_holder cfg;
	struct gh_mstore store;
	struct gh_mcond sign_cond;	/* "DKIM signing" */
	struct gh_mcond scan_cond;	/* "virus scanner" */
	struct gh_mcond spool_cond;	/* "scan spool" */
	int local_socket;		/* [milter] socket is unix:/local: */
	int draining;			/* atomic: SIGTERM received */
	long conns;			/* atomic: connections open */
	long msgs;			/* atomic: messages in progress */
};

/* gh_milter_set - publish the process state before smfi_main() starts;
 * gh_milter_get - read it from a callback. */
void gh_milter_set(struct gh_milter *m);
struct gh_milter *gh_milter_get(void);

/* gh_milter_register - smfi_register() our callbacks (callbacks.c). */
int gh_milter_register(void);

#endif /* GH_MILTER_MILTER_H */
