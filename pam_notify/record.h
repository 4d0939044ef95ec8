/*
 * record.h - one piece of store work for pam_gatehouse, start to finish
 *
 * Find the store (store= option, else [store] path of gatehouse.conf),
 * open it, run the session or failure transaction, close it.  Every step
 * is bounded by the time left of the call's budget (timeout_ms): the write
 * lock through the library's deadline, LMDB's own lock file through a
 * check before mdb_env_open (see docs/pam.md).  The outcome is a plain
 * struct so that it can come back from a child through a pipe.
 */
#ifndef GH_PAM_RECORD_H
#define GH_PAM_RECORD_H

#include <stdint.h>

#include "gatehouse/conf.h"
#include "gatehouse/err.h"
#include "gatehouse/store.h"
#include "login.h"
#include "options.h"

enum gp_what {
	GH_PAM_JOB_SESSION = 1,    /* a session was opened */
	GH_PAM_JOB_FAIL            /* an authentication failed */
};

/* Where a failure happened, for the log line. */
enum gp_stage {
	GH_PAM_ST_NONE = 0,
	GH_PAM_ST_CONFIG,          /* reading gatehouse.conf */
	GH_PAM_ST_OPEN,            /* opening the store */
	GH_PAM_ST_WRITE,           /* the write transaction */
	GH_PAM_ST_CHILD,           /* the child: fork, deadline, crash */
	GH_PAM_ST_WRITER           /* the writer program: its checks, exec,
	                              its answer (child.c) */
};

struct gp_outcome {
	gh_err err;
	enum gp_stage stage;
	unsigned flags;            /* GH_PAM_R_* (newhost.h) */
	uint64_t count;
	int64_t elapsed_us;        /* whole call, measured by the caller */
	char detail[200];
};

/* Monotonic microseconds, for budgets. */
int64_t gp_mono_us(void);

/*
 * gp_record - do what in the store, within the budget that ends at
 * deadline_us (gp_mono_us() time).  Fills out; never logs, never
 * blocks past the deadline except for the residual risks docs/pam.md
 * lists (a hung disk under the commit).
 * A negative deadline_us means none of its own: the write lock is waited
 * for in the kernel until a signal (the detached writer's alarm, caught
 * without SA_RESTART) interrupts the wait.
 * With drop_privileges (only ever in a child of its own), a root caller
 * becomes the store directory's owner and group before opening it.
 */
void gp_record(const struct gp_opts *o, const struct gp_login *l,
                   enum gp_what what, int64_t deadline_us,
                   int drop_privileges, struct gp_outcome *out);

/*
 * The pieces of gp_record, for the child that execs the writer (child.c)
 * and the writer itself (writer/main.c):
 * gp_store_find - where the login store is and how to open it (the
 * store= option, else the config file's [store]), into so; so->path may
 * point into *conf, which the caller frees (gh_conf_free) after use.  On
 * failure out says why (stage GH_PAM_ST_CONFIG).
 * gp_drop_to_owner - a root caller becomes the owner of the store
 * directory dir (not dumpable first); a root-owned store leaves it root.
 * gp_store_work - open the store so describes, run the job, close it,
 * within deadline_us (as gp_record); fills out.
 */
gh_err gp_store_find(const struct gp_opts *o, struct gh_store_opts *so,
                     struct gh_conf **conf, struct gp_outcome *out);
gh_err gp_drop_to_owner(const char *dir, char *detail, size_t dlen);
void gp_store_work(const struct gp_opts *o, const struct gp_login *l,
                   enum gp_what what, struct gh_store_opts *so,
                   int64_t deadline_us, struct gp_outcome *out);

#endif
