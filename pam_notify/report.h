/*
 * report.h - the one log line a pam_gatehouse call may leave: the same
 * words whether the module logs it (pam_syslog, in the host) or the
 * detached writer program does (syslog, in its own process).
 */
#ifndef GH_PAM_REPORT_H
#define GH_PAM_REPORT_H

#include <stddef.h>

#include "login.h"
#include "options.h"
#include "record.h"

/*
 * gp_report_line - the line for the outcome out of the login l into buf:
 * its syslog priority (LOG_DEBUG with the debug option, LOG_WARNING for a
 * login not recorded), or -1 when nothing is to be logged (success without
 * debug; no store, without debug).
 */
int gp_report_line(const struct gp_opts *o, const struct gp_login *l,
                   const struct gp_outcome *out, char *buf, size_t len);

#endif
