/*
 * check.c - a configuration checked as the daemon would load it (see
 * check.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/domain.h"
#include "check.h"
#include "nd.h"

gh_err
nd_check_conf(const struct nd_log *log, const struct gh_conf *conf,
              struct nd_check_counts *n, char *detail, size_t dlen)
{
	const char *tdir = gh_conf_str(conf, "notifyd", "templates");
	struct nd d;
	struct nd_rt *rt = NULL;
	gh_err err;

	detail[0] = '\0';
	if (n)
		memset(n, 0, sizeof(*n));
	memset(&d, 0, sizeof(d));
	d.log = *log;
	d.sigfd = d.watch_fd = d.listen_fd = -1;
	nd_clock_init(&d.clock);
	d.now = nd_clock_now(&d.clock);
	/* The runtime takes the configuration over; this one is lent, and
	 * is given back before the runtime is freed. */
	err = nd_rt_load(&d, (struct gh_conf *)(uintptr_t)conf, &rt, detail,
	                 dlen);
	if (err == GH_OK) {
		if (n) {
			n->chans = rt->nchans;
			n->routes = rt->nroutes;
			n->templates = nd_tmpl_set_count(rt->tmpl);
		}
		rt->conf = NULL;
		nd_rt_unref(rt);
	}
	/* after the runtime, which names the first error in the file's
	 * order as a start would; the daemon only warns of this one */
	if (err == GH_OK && gh_conf_is_set(conf, "notifyd", "templates")) {
		DIR *dir = opendir(tdir);

		if (dir == NULL && errno == ENOENT) {
			snprintf(detail, dlen, "%s:%u: [notifyd] templates: %s: "
			         "no such directory", gh_conf_source(conf),
			         gh_conf_line(conf, "notifyd", "templates"), tdir);
			err = GH_ECONFIG;
		}
		if (dir)
			closedir(dir);
	}
	/* [events_api], which the bridges' pickup reads at start */
	if (err == GH_OK) {
		struct gh_domain_policy pol;

		err = gh_domain_policy_load(conf, &pol, detail, dlen);
	}
	while (d.cstates) {
		struct nd_cstate *c = d.cstates;

		d.cstates = c->next;
		free(c);
	}
	return err;
}
