/*
 * main.c - gatehouse-notifyd(8): the notification dispatcher.
 *
 * SYNOPSIS
 *   gatehouse-notifyd [-c FILE] [--check] [--stderr] | -V | -h
 *
 * It runs in the foreground (systemd Type=notify, or a terminal), opens
 * the store once, and turns the event loop: curl_multi_poll over libcurl's
 * sockets plus a signalfd and the metrics listener.  Signals:
 *   SIGHUP          read the configuration and templates again; if they are
 *                   bad, say why and keep the old ones
 *   SIGTERM, SIGINT stop leasing, let requests in flight finish (at most
 *                   [notifyd] shutdown_timeout), record them and give every
 *                   unfinished event back to the queue, then exit 0
 * systemd is told READY=1 once the store is open, RELOADING=1 / READY=1
 * around a reload and STOPPING=1 at a stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <unistd.h>

#include "check.h"
#include "nd.h"
#include "natsin.h"
#include "kvsync.h"
#include "ghc.h"
#include "pickup.h"
#include "gatehouse/sdnotify.h"

#ifndef GH_VERSION
#error "GH_VERSION comes from the Makefile (VERSION)"
#endif

#define EXTRA_FDS (2 + 1 + ND_METRICS_CONNS)

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: gatehouse-notifyd [-c FILE] [--check] [--stderr]\n"
	    "       gatehouse-notifyd -V | -h\n"
	    "  -c, --config FILE  configuration (default $GATEHOUSE_CONF or "
	    GH_CONF_DEFAULT_PATH ")\n"
	    "      --check        check the configuration and templates, then "
	    "exit\n"
	    "      --stderr       log to stderr, whatever [notifyd] log says\n"
	    "  -V, --version      print the version\n"
	    "  -h, --help         this text\n"
	    "See gatehouse-notifyd(8).\n");
}

static gh_err
load_conf(const char *path, struct gh_conf **out, char *detail, size_t dlen)
{
	int explicit = path != NULL;
	gh_err err;

	if (!explicit)
		path = gh_conf_default_path();
	err = gh_conf_load(out, path, detail, dlen);
	if (err == GH_ENOTFOUND && !explicit &&
	    strcmp(path, GH_CONF_DEFAULT_PATH) == 0)
		err = gh_conf_defaults(out);
	return err;
}

static void
reload(struct nd *d)
{
	struct gh_conf *conf = NULL;
	struct nd_rt *rt = NULL;
	char detail[1024] = "";
	gh_err err;

	gh_sd_notify("RELOADING=1");
	err = load_conf(d->conf_path, &conf, detail, sizeof(detail));
	if (err == GH_OK) {
		const char *p = gh_conf_str(conf, "store", "path");

		if (p && strcmp(p, gh_store_path(d->st)) != 0)
			nd_log(&d->log, ND_LOG_WARN, "[store] path changed: a "
			       "restart is needed to use %s", p);
		err = nd_rt_load(d, conf, &rt, detail, sizeof(detail));
		if (err)
			gh_conf_free(conf);
	}
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "reload failed, keeping the old "
		       "configuration: %s%s%s", gh_strerror(err),
		       detail[0] ? ": " : "", detail);
	} else {
		nd_rt_unref(d->rt);
		d->rt = rt;
		nd_log_init(&d->log, d->log_stderr ? "stderr" :
		            gh_conf_str(rt->conf, "notifyd", "log"),
		            gh_conf_str(rt->conf, "notifyd", "log_level"));
		nd_log(&d->log, ND_LOG_INFO, "configuration reloaded: %zu "
		       "channels, %zu routes, %zu templates", rt->nchans,
		       rt->nroutes, nd_tmpl_set_count(rt->tmpl));
	}
	gh_sd_notify("READY=1");
}

static void
read_signals(struct nd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (!d->stopping)
				reload(d);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!d->stopping)
				gh_sd_notify("STOPPING=1");
			nd_dispatch_stop(d);
		}
	}
}

static int
run(struct nd *d)
{
	struct curl_waitfd fds[EXTRA_FDS];
	char status[128];

	snprintf(status, sizeof(status), "READY=1\nSTATUS=dispatching, %zu "
	         "channels%s", d->rt->nchans,
	         nd_clock_fake(&d->clock) ? " (test clock)" : "");
	gh_sd_notify(status);
	nd_log(&d->log, ND_LOG_INFO, "started: store %s, %zu channels, %zu "
	       "routes, %zu templates%s%s%s", gh_store_path(d->st), d->rt->nchans,
	       d->rt->nroutes, nd_tmpl_set_count(d->rt->tmpl),
	       d->listen_fd >= 0 ? ", metrics on " : "",
	       d->listen_fd >= 0 ? d->listen_addr : "",
	       nd_clock_fake(&d->clock) ? ", TEST CLOCK" : "");
	for (;;) {
		unsigned n = 0, first_metrics;
		int timeout, t;

		d->now = nd_clock_now(&d->clock);
		d->tick = nd_clock_tick();
		read_signals(d);
		timeout = nd_dispatch_turn(d);
		if (nd_dispatch_finished(d))
			break;
		t = nd_retention_turn(d);
		if (t < timeout)
			timeout = t;
		fds[n].fd = d->sigfd;
		fds[n].events = CURL_WAIT_POLLIN;
		fds[n++].revents = 0;
		if (nd_dispatch_watch_fd(d) >= 0) {
			fds[n].fd = nd_dispatch_watch_fd(d);
			fds[n].events = CURL_WAIT_POLLIN;
			fds[n++].revents = 0;
		}
		first_metrics = n;
		n += nd_metrics_fds(d, fds + n, EXTRA_FDS - n);
		if (curl_multi_poll(d->multi, fds, n, timeout, NULL) != CURLM_OK) {
			nd_log(&d->log, ND_LOG_ERR, "curl_multi_poll failed");
			return EX_SOFTWARE;
		}
		d->now = nd_clock_now(&d->clock);
		d->tick = nd_clock_tick();
		if (first_metrics > 1 && fds[1].revents)
			nd_dispatch_wake(d);
		nd_dispatch_io(d);
		if (n > first_metrics)
			nd_metrics_io(d, fds + first_metrics, n - first_metrics);
	}
	nd_log(&d->log, ND_LOG_INFO, "stopped: %llu events leased, %llu done",
	       (unsigned long long)d->leased, (unsigned long long)d->acked);
	return EX_OK;
}

/* The user this process runs as, for messages: " (as user NAME)". */
static void
as_user(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(buf, len, " (as user %s)", pw->pw_name);
	else
		snprintf(buf, len, " (as uid %ld)", (long)geteuid());
}

/*
 * --check: the configuration and templates as the daemon would load them
 * (check.c, which `gatehouse config check` runs too), and the store as
 * the daemon's user would find it, without opening it.  A store not made
 * yet is fine: the daemon makes it.  Returns the exit code.
 */
static int
check_only(struct nd *d, const struct gh_conf *conf)
{
	struct nd_check_counts n;
	char detail[1024], as[160];
	gh_err err;

	as_user(as, sizeof(as));
	err = nd_check_conf(&d->log, conf, &n, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "%s%s%s%s", gh_strerror(err),
		       detail[0] ? ": " : "", detail, as);
		return gh_err_exit_code(err);
	}
	err = gh_store_check(gh_conf_str(conf, "store", "path"), detail,
	                     sizeof(detail));
	if (err && err != GH_ENOTFOUND) {
		nd_log(&d->log, ND_LOG_ERR, "the store: %s: %s%s",
		       gh_strerror(err), detail, as);
		return gh_err_exit_code(err);
	}
	printf("configuration OK: %zu channels, %zu routes, %zu templates\n",
	       n.chans, n.routes, n.templates);
	return EX_OK;
}

/*
 * The command line into d and *check.  Returns -1 to go on, or the exit
 * code (-h, -V, a bad argument).
 */
static int
parse_args(struct nd *d, int argc, char **argv, int *check)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"stderr", no_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d->conf_path = optarg;
			break;
		case 'k':
			*check = 1;
			break;
		case 'e':
			d->log_stderr = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gatehouse-notifyd %s\n", GH_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	return -1;
}

/*
 * What both the daemon and --check need: descriptors 0-2 taken, the
 * clock, libcurl, the configuration in *conf (the caller's to free) and,
 * started as root, the core store's owner's uid.  Returns the exit code.
 */
static int
prepare(struct nd *d, int check, struct gh_conf **conf)
{
	char detail[1024] = "";
	gh_err err;
	int fd;

	/* descriptors 0-2 must be taken, or a socket could land there */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	nd_log_init(&d->log, "stderr", "info");
	nd_clock_init(&d->clock);
	d->now = nd_clock_now(&d->clock);
	d->tick = nd_clock_tick();
	d->started_at = d->now;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		nd_log(&d->log, ND_LOG_ERR, "libcurl failed to initialise");
		return EX_SOFTWARE;
	}
	err = load_conf(d->conf_path, conf, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "%s%s%s", gh_strerror(err),
		       detail[0] ? ": " : "", detail);
		return gh_err_exit_code(err);
	}
	if (!check)
		nd_log_init(&d->log, d->log_stderr ? "stderr" :
		            gh_conf_str(*conf, "notifyd", "log"),
		            gh_conf_str(*conf, "notifyd", "log_level"));
	if (geteuid() == 0) {
		/* Root never opens a store (docs/security.md): started as
		 * root, become the core store's owner for good, before
		 * reading anything else, so a reload reads what a start did.
		 * --check too: it reads what the daemon would, as the user
		 * the daemon would be. */
		err = gh_store_become_owner(gh_conf_str(*conf, "store", "path"),
		                            detail, sizeof(detail));
		if (err == GH_ENOTFOUND)
			snprintf(detail, sizeof(detail), "no store at %s: make "
			         "it with 'gatehouse store init' (as root, it "
			         "becomes its owner's)", gh_conf_str(*conf,
			         "store", "path"));
		if (err) {
			nd_log(&d->log, ND_LOG_ERR, "%s", detail);
			return gh_err_exit_code(err);
		}
	}
	return EX_OK;
}

/*
 * The daemon's start, after prepare(): the runtime built from conf (which
 * it takes, freed on failure), the signals, the store, the metrics
 * listener, the queue and the bridges' pickup.  Returns the exit code;
 * what was started is stop()'s to undo either way.
 */
static int
start(struct nd *d, struct gh_conf *conf, struct nd_pickup **pickup)
{
	struct gh_store_opts so;
	sigset_t mask;
	char detail[1024] = "";
	gh_err err;

	err = nd_rt_load(d, conf, &d->rt, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "%s%s%s", gh_strerror(err),
		       detail[0] ? ": " : "", detail);
		gh_conf_free(conf);
		return gh_err_exit_code(err);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0) {
		nd_log(&d->log, ND_LOG_ERR, "signalfd: %s", strerror(errno));
		return EX_OSERR;
	}
	gh_conf_store_opts(d->rt->conf, &so);
	so.flags |= GH_STORE_CREATE;
	err = gh_store_open(&d->st, &so, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "cannot open the store %s: %s%s%s",
		       so.path, gh_strerror(err), detail[0] ? ": " : "", detail);
		return gh_err_exit_code(err);
	}
	if (gh_conf_str(d->rt->conf, "notifyd", "metrics_listen")) {
		err = nd_metrics_listen(d, gh_conf_str(d->rt->conf, "notifyd",
		                        "metrics_listen"), detail, sizeof(detail));
		if (err) {
			nd_log(&d->log, ND_LOG_ERR, "%s", detail);
			return err == GH_ECONFIG ? EX_CONFIG : EX_UNAVAILABLE;
		}
	}
	if (nd_dispatch_init(d) != GH_OK) {
		nd_log(&d->log, ND_LOG_ERR, "out of memory");
		return EX_OSERR;
	}
	nd_retention_init(d);
	err = nd_pickup_start(d, pickup, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "bridges: %s", detail);
		return err == GH_ECONFIG ? EX_CONFIG : EX_UNAVAILABLE;
	}
	/* the multi-host mode: after the last change of uid (the NATS
	 * client's threads must not cross one, cluster/ghc.h); one
	 * connection for the events (natsin.c) and the shared data
	 * (kvsync.c) */
	if (ghc_enabled(d->rt->conf)) {
		err = ghc_open(d->rt->conf, GH_DOMAIN_CORE, &d->nats, detail,
		               sizeof(detail));
		if (err) {
			nd_log(&d->log, ND_LOG_ERR, "[nats]: %s", detail);
			return gh_err_exit_code(err);
		}
	}
	err = nd_natsin_start(d, d->nats, &d->natsin, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "[nats]: %s", detail);
		return gh_err_exit_code(err);
	}
	/* shared data (kvsync.h); run without [nats] too: it unmarks the
	 * store so a single host records nothing */
	err = nd_kvsync_start(d, d->nats, &d->kvsync, detail, sizeof(detail));
	if (err) {
		nd_log(&d->log, ND_LOG_ERR, "[nats]: %s", detail);
		return gh_err_exit_code(err);
	}
	return EX_OK;
}

/* Undoes whatever start() and prepare() did; safe on a partial start. */
static void
stop(struct nd *d, struct nd_pickup *pickup)
{
	nd_kvsync_stop(d->kvsync);
	d->kvsync = NULL;
	nd_natsin_stop(d->natsin);
	d->natsin = NULL;
	/* after both: their threads use it */
	ghc_close(d->nats);
	d->nats = NULL;
	nd_pickup_stop(pickup);
	nd_retention_fini(d);
	nd_dispatch_fini(d);
	nd_metrics_close(d);
	nd_rt_unref(d->rt);
	while (d->cstates) {
		struct nd_cstate *c = d->cstates;

		d->cstates = c->next;
		free(c);
	}
	gh_store_close(d->st);
	if (d->sigfd >= 0)
		close(d->sigfd);
	curl_global_cleanup();
}

int
main(int argc, char **argv)
{
	struct nd d;
	struct gh_conf *conf = NULL;
	struct nd_pickup *pickup = NULL;
	int check = 0, rc;

	memset(&d, 0, sizeof(d));
	d.sigfd = -1;
	d.watch_fd = -1;
	d.listen_fd = -1;
	for (int i = 0; i < ND_METRICS_CONNS; i++)
		d.conns[i].fd = -1;
	rc = parse_args(&d, argc, argv, &check);
	if (rc >= 0)
		return rc;
	rc = prepare(&d, check, &conf);
	if (rc == EX_OK && check) {
		rc = check_only(&d, conf);
	} else if (rc == EX_OK) {
		rc = start(&d, conf, &pickup);
		conf = NULL;	/* start() took it */
		if (rc == EX_OK)
			rc = run(&d);
	}
	gh_conf_free(conf);
	stop(&d, pickup);
	return rc;
}
