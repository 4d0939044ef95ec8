/*
 * pam_gatehouse.c - the PAM entry points of pam_gatehouse.so.
 *
 * session  open_session records the login (known_hosts, login.new_host,
 *          and with notify=always a per-login event).
 * auth     with the "fail" argument, placed after the password module on
 *          its failure path, counts a failed authentication and raises
 *          login.failed_burst once per burst.
 * The other entry points do nothing.
 *
 * The promise to the host (sshd, login, sudo, cron): a call returns within
 * timeout_ms, never prompts or prints, never fails a login unless the admin
 * wrote fail_closed, and leaves no descriptor, memory, signal disposition
 * or umask behind.  No static or global state: every call parses its
 * options and copies its items afresh, so any number of threads may call.
 *
 * Return codes do not depend on the store's health, so a stack that works
 * on the day it is written keeps working the day the store breaks:
 * sessions always return PAM_SUCCESS (a session stack in which every module
 * returns PAM_IGNORE fails with PAM_PERM_DENIED, and "[success=ok
 * default=bad]" treats PAM_IGNORE as bad), except with fail_closed; auth
 * and the rest always return PAM_IGNORE, never PAM_SUCCESS, so even a
 * mistaken "sufficient" on our line cannot let anyone in.
 */
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "gatehouse/queue.h"
#include "child.h"
#include "login.h"
#include "newhost.h"
#include "options.h"
#include "record.h"
#include "report.h"

#define PAM_GH_EXPORT __attribute__((visibility("default")))

static const char *
item(pam_handle_t *pamh, int type)
{
	const void *v = NULL;

	if (pam_get_item(pamh, type, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

static void
setup(pam_handle_t *pamh, int argc, const char **argv,
      struct gp_opts *o)
{
	char detail[160];

	gp_opts_init(o);
	if (gp_opts_parse(o, argc, argv, detail, sizeof(detail)) > 0)
		pam_syslog(pamh, LOG_ERR, "%s", detail);
}

static void
collect(pam_handle_t *pamh, const struct gp_opts *o,
        struct gp_login *l)
{
	gp_login_fill(l, item(pamh, PAM_USER), item(pamh, PAM_RUSER),
	                  item(pamh, PAM_TTY), item(pamh, PAM_SERVICE),
	                  item(pamh, PAM_RHOST), o->v4_prefix, o->v6_prefix,
	                  gh_now_ms());
}

/* One log line per call at most (report.c has the words). */
static void
report(pam_handle_t *pamh, const struct gp_opts *o,
       const struct gp_login *l, const struct gp_outcome *out)
{
	char line[768];
	int prio = gp_report_line(o, l, out, line, sizeof(line));

	if (prio >= 0)
		pam_syslog(pamh, prio, "%s", line);
}

/* What a detached writer needs to log its outcome as the caller would. */
struct report_ctx {
	pam_handle_t *pamh;
	const struct gp_opts *o;
	const struct gp_login *l;
};

static void
report_cb(void *arg, const struct gp_outcome *out)
{
	const struct report_ctx *rc = arg;

	report(rc->pamh, rc->o, rc->l, out);
}

/* One call of an entry point: its options, the login, the outcome. */
struct pam_call {
	pam_handle_t *pamh;
	int64_t start;              /* gp_mono_us() at entry */
	struct gp_opts o;
	struct gp_login l;
	struct gp_outcome out;
};

/* What every entry point starts with: the clock, then the options. */
static void
begin(struct pam_call *c, pam_handle_t *pamh, int argc, const char **argv)
{
	c->start = gp_mono_us();
	c->pamh = pamh;
	setup(pamh, argc, argv, &c->o);
}

/* The job for the login c->l, its outcome reported as it comes
 * (report_cb) and at the end. */
static void
run_job(struct pam_call *c, enum gp_what job)
{
	struct report_ctx rc = {c->pamh, &c->o, &c->l};

	gp_run(&c->o, &c->l, job, c->start, &c->out, report_cb, &rc);
	report(c->pamh, &c->o, &c->l, &c->out);
}

PAM_GH_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
                    const char **argv)
{
	struct pam_call c;

	begin(&c, pamh, argc, argv);
	collect(pamh, &c.o, &c.l);
	if (c.l.user[0] == '\0') {
		if (c.o.debug)
			pam_syslog(pamh, LOG_DEBUG, "no PAM_USER, nothing "
			           "recorded");
		return c.o.fail_closed ? PAM_SESSION_ERR : PAM_SUCCESS;
	}
	if (c.l.origin == GH_PAM_ORIGIN_LOCAL &&
	    c.o.notify != GH_PAM_NOTIFY_ALWAYS) {
		/* su, sudo, cron, the console: no network to learn. */
		if (c.o.debug)
			pam_syslog(pamh, LOG_DEBUG, "user %s: local login, "
			           "nothing to record", c.l.user);
		return PAM_SUCCESS;
	}
	run_job(&c, GH_PAM_JOB_SESSION);
	if (c.o.fail_closed && c.out.err != GH_OK)
		return PAM_SESSION_ERR;
	return PAM_SUCCESS;
}

PAM_GH_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
                     const char **argv)
{
	return PAM_SUCCESS;
}

PAM_GH_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                    const char **argv)
{
	struct pam_call c;

	begin(&c, pamh, argc, argv);
	if (!c.o.fail || c.o.burst_n <= 0)
		return PAM_IGNORE;
	collect(pamh, &c.o, &c.l);
	if (c.l.user[0] == '\0' && c.l.origin == GH_PAM_ORIGIN_LOCAL)
		return PAM_IGNORE;
	run_job(&c, GH_PAM_JOB_FAIL);
	return PAM_IGNORE;
}

PAM_GH_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

PAM_GH_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

PAM_GH_EXPORT int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}
