/*
 * report.c - the words of pam_gatehouse's log line (report.h).
 *
 * One log line per call at most: debug narrates, errors warn.  A missing
 * store is how a host without Gatehouse's store looks: debug only.
 */
#include <stdio.h>
#include <syslog.h>

#include "event.h"
#include "newhost.h"
#include "report.h"

static const char *
outcome_word(unsigned f)
{
	if (f & GH_PAM_R_DETACHED)
		return "handed to the writer";
	if (f & GH_PAM_R_BURST)
		return "failed-login burst reported";
	if (f & GH_PAM_R_COUNTED)
		return "failure counted";
	if (f & GH_PAM_R_NEW_HOST)
		return "new host reported";
	if (f & GH_PAM_R_BASELINE)
		return "first network of the user recorded";
	if (f & GH_PAM_R_KNOWN)
		return "known network";
	if (f & GH_PAM_R_LOCAL)
		return "local login";
	return "nothing to do";
}

int
gp_report_line(const struct gp_opts *o, const struct gp_login *l,
               const struct gp_outcome *out, char *buf, size_t len)
{
	static const char *const stages[] = {
		"", "config", "open", "write", "child", "writer"
	};
	const char *stage = (unsigned)out->stage < 6 ? stages[out->stage] : "";
	const char *from = l->addr[0] ? l->addr : "local";

	if (out->err == GH_OK && (out->flags & GH_PAM_R_DETACHED)) {
		/* the writer logs the outcome from its own process */
		if (!o->debug)
			return -1;
		gp_fmt(buf, len, "user %s from %s: handed to the writer, "
		       "%lld us", l->user, from, (long long)out->elapsed_us);
		return LOG_DEBUG;
	}
	if (out->err == GH_OK) {
		if (!o->debug)
			return -1;
		gp_fmt(buf, len, "user %s from %s: %s (count %llu), %lld us",
		       l->user, from, outcome_word(out->flags),
		       (unsigned long long)out->count,
		       (long long)out->elapsed_us);
		return LOG_DEBUG;
	}
	if (out->err == GH_ENOTFOUND && out->stage == GH_PAM_ST_OPEN) {
		if (!o->debug)
			return -1;
		gp_fmt(buf, len, "no store, nothing recorded: %s",
		       out->detail);
		return LOG_DEBUG;
	}
	gp_fmt(buf, len, "login of %s not recorded (%s, %s): %s [%lld us]",
	       l->user[0] ? l->user : "?", stage, gh_errname(out->err),
	       out->detail[0] ? out->detail : gh_strerror(out->err),
	       (long long)out->elapsed_us);
	return LOG_WARNING;
}
