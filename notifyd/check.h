/*
 * check.h - what `gatehouse-notifyd --check` checks of a configuration,
 * callable from another program: `gatehouse config check` links
 * notifyd's objects and runs this very code (notifyd/check.c).
 */
#ifndef GH_NOTIFYD_CHECK_H
#define GH_NOTIFYD_CHECK_H

#include <stddef.h>

#include "gatehouse/conf.h"
#include "gatehouse/err.h"
#include "log.h"

struct nd_check_counts {
	size_t chans, routes, templates;
};

/*
 * nd_check_conf - build, then free, the runtime the daemon would build
 * from conf (which stays the caller's): every channel with its kind's own
 * checks (a chat channel without url, secret files, VAPID keys), routes,
 * the default, security and digest channel lists, templates and time
 * zones.  Warnings go to log, as the daemon's do.  Stricter than a start
 * in one way: a [notifyd] templates directory written in the file that
 * does not exist is an error (the daemon would warn and use its built-in
 * text, which is not what whoever wrote the key meant).  GH_OK and the
 * counts in n (may be NULL), or the error with detail saying why.
 */
gh_err nd_check_conf(const struct nd_log *log, const struct gh_conf *conf,
                     struct nd_check_counts *n, char *detail, size_t dlen);

#endif
