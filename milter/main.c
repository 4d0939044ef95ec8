/*
 * main.c - gatehouse-milter(8): start-up, privileges, the pid file,
 * signals, configuration reload and the SIGTERM drain.
 *
 * SYNOPSIS
 *   gatehouse-milter [-f] [-t] [-S] [-c FILE] [-p PIDFILE] | -V | -h
 *
 * START-UP ORDER
 *   read the configuration (as root, if started so) -> daemonize unless -f
 *   -> open syslog -> drop to [milter] user -> pid file -> load keys and
 *   the virus engine as that user (so start-up fails exactly where a reload
 *   would) -> open the store (after the fork, as store.h requires; a
 *   missing store is not fatal, see mstore.h) -> open the socket -> run.
 *   A daemonizing parent waits on a pipe until the child is ready or has
 *   failed, so `gatehouse-milter` exits non-zero with the reason on stderr
 *   when start-up fails.
 *
 * SIGNALS AND LIBMILTER
 *   libmilter's smfi_main() starts a thread that sigwait()s for SIGHUP,
 *   SIGTERM and SIGINT and answers every one of them by stopping the
 *   milter (libmilter/signal.c: SIGHUP and SIGTERM -> MILTER_STOP).  Its
 *   worker pool (Debian builds libmilter with _FFR_WORKERS_POOL) then stops
 *   serving sessions at once, so neither "reload on SIGHUP" nor "finish what
 *   is in progress on SIGTERM" can come from libmilter.  Instead:
 *     - smfi_main() runs in a thread of its own, created with those signals
 *       blocked, so libmilter's threads all block them;
 *     - the main thread (the thread-group leader, whose tid is the pid) is
 *       the only thread with them unblocked, with handlers that write the
 *       signal number to a pipe.  Linux delivers a process-directed signal
 *       to the leader when the leader does not block it, so kill(pid, HUP)
 *       reaches our handler, not libmilter's sigwait(); SA_NODEFER keeps
 *       that true while the handler itself runs (a burst of signals).  (Should a signal
 *       ever reach libmilter's thread anyway, smfi_main() returns; we notice
 *       and exit non-zero, so a supervisor restarts us.)
 *   SIGHUP  hands a reload to the reload thread: a new configuration (keys,
 *           virus engine) is built beside the old one and swapped in
 *           (mcfg.h); connections keep the configuration they started with.
 *   SIGTERM, SIGINT  drain: new connections and messages are refused with
 *           a temporary error, messages in progress may finish for up to
 *           [milter] drain_timeout, then the milter stops and exits.
 *   Under systemd (Type=notify) the milter says READY=1 once it listens,
 *   RELOADING=1 / READY=1 around a SIGHUP's reload and STOPPING=1 at a
 *   stop (gatehouse/sdnotify.h).
 *
 * THE SIGNATURE DATABASE
 *   Every [milter] clamav_check the reload thread compares the ClamAV
 *   directory with what the engine was loaded from (scan.h).  A change is
 *   loaded once the directory has stayed the same for CLAMDB_SETTLE_MS
 *   (freshclam replaces its files one at a time), by the same reload as
 *   SIGHUP's: the new engine is built beside the old one.  A state that
 *   failed to load is not tried again until the directory changes again,
 *   so a broken database is logged once, not once a check.  This is what
 *   clamd's SelfCheck does; no freshclam hook or systemd path unit is
 *   needed.
 *
 * RUNNING AS ITS USER
 *   Started as root, the milter creates its socket's directory if missing
 *   (sockperm.h), then becomes [milter] user.  Started as that user
 *   already (systemd's User=), it skips both; the directory must then
 *   exist: systemd's RuntimeDirectory= makes /run/gatehouse-milter, and
 *   -S, run as root before the daemon (ExecStartPre=+), makes a missing
 *   socket directory elsewhere (Postfix's /var/spool/postfix/gatehouse,
 *   which only exists on a host with Postfix) and exits.
 *
 * TCP
 *   libmilter writes each reply with one writev(), but a milter that adds
 *   a header then replies writes twice in a row; Nagle's algorithm holds the
 *   second write until the first is ACKed, and the MTA delays that ACK
 *   (it has nothing to send until it has our reply): a ~40 ms stall per
 *   message.  We set TCP_NODELAY on the listening socket (Linux copies it to
 *   accepted sockets), so replies leave at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <openssl/crypto.h>

#include "gatehouse/domain.h"
#include "gatehouse/journal.h"
#include "gatehouse/pidfile.h"
#include "gatehouse/queue.h"
#include "gatehouse/sdnotify.h"
#include "milter.h"
#include "scan.h"
#include "sockperm.h"

#ifndef GH_VERSION
#error "GH_VERSION comes from the Makefile (VERSION)"
#endif

/* A changed signature directory is loaded once it has been still this
 * long (see THE SIGNATURE DATABASE). */
#define CLAMDB_SETTLE_MS 5000

/* Written by the signal handler, read by the main loop: a handler gets
 * nothing but the signal number, so this is the one place it can reach. */
static int sig_pipe[2] = {-1, -1};

struct opts {
	const char *conf;
	const char *pid_file;
	int foreground;
	int check_only;
	int prepare_only;
};

struct reloader {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending;
	int stop;
	uint64_t generation;
	struct gm_milter *m;
	/* the signature database watch, the reload thread's alone */
	unsigned char seen[32];		/* a changed state seen last check */
	int have_seen;
	unsigned char tried[32];	/* the state a reload failed on */
	int have_tried;
};

static void
usage(FILE *fp)
{
	fputs("usage: gatehouse-milter [-f] [-t] [-S] [-c FILE] [-p PIDFILE]\n"
	      "       gatehouse-milter -V | -h\n"
	      "  -c, --config FILE    configuration (default $GATEHOUSE_CONF or "
	      GH_CONF_DEFAULT_PATH ")\n"
	      "  -f, --foreground     stay in the foreground, log to stderr\n"
	      "  -p, --pid-file FILE  pid file (default [milter] pid_file)\n"
	      "  -t, --test           load the configuration and keys, report, "
	      "exit\n"
	      "  -S, --make-socket-dir\n"
	      "                       as root: make the socket's directory if "
	      "missing, exit\n"
	      "  -V, --version        print the version\n"
	      "  -h, --help           this text\n"
	      "See gatehouse-milter(8).\n", fp);
}

/* A start-up error before the logger is open (or in the daemonizing parent,
 * whose stderr is the caller's): one line on stderr, led by the journal's
 * error priority when stderr is the journal (gatehouse/journal.h). */
__attribute__((format(printf, 1, 2)))
static void
early_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%sgatehouse-milter: %s\n",
	        gh_journal_stderr() ? gh_journal_prefix(LOG_ERR) : "", line);
}

static void
on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* pipe full: a signal is pending already, nothing is lost */
	}
	errno = saved;
}

/* The daemonizing parent's end: wait for "ok" or an error line. */
static int
daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char buf[1024];
		ssize_t n, got = 0;

		close(p[1]);
		while ((n = read(p[0], buf + got, sizeof(buf) - 1 -
		                 (size_t)got)) > 0)
			got += n;
		buf[got] = '\0';
		if (strncmp(buf, "ok", 2) == 0)
			_exit(EX_OK);
		if (buf[0] == 'E' && strchr(buf, ':')) {
			early_error("%s", strchr(buf, ':') + 1);
			_exit(atoi(buf + 1) > 0 ? atoi(buf + 1) : EX_SOFTWARE);
		}
		early_error("start-up failed (see the system log)");
		_exit(EX_SOFTWARE);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(EX_OK);
	if (chdir("/") != 0)
		return -1;
	{
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	*ready_fd = p[1];
	return 0;
}

/* Report start-up failure (to the waiting parent and the log) and exit.
 * The parent reads "E<exit code>:<reason>". */
__attribute__((noreturn, format(printf, 3, 4)))
static void
die(int ready_fd, int code, const char *fmt, ...)
{
	char line[900], msg[1000];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	gm_mlog(LOG_ERR, "%s", line);
	if (ready_fd >= 0) {
		n = snprintf(msg, sizeof(msg), "E%d:%s", code, line);
		if (n > 0 && write(ready_fd, msg, (size_t)n) < 0) {
			/* the parent is gone */
		}
		close(ready_fd);
	}
	exit(code);
}

/* Become [milter] user (and its groups) for good; nothing to do when
 * not root or when no user is set. */
static int
drop_privileges(const struct gm_mboot *b, char *why, size_t whylen)
{
	if (geteuid() != 0 || b->user == NULL)
		return 0;
	if (initgroups(b->user, b->gid) != 0 || setgid(b->gid) != 0 ||
	    setuid(b->uid) != 0) {
		snprintf(why, whylen, "cannot become user %s: %s", b->user,
		         strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(why, whylen, "could regain root after dropping to %s",
		         b->user);
		return -1;
	}
	return 0;
}

/*
 * Started as someone other than root, the milter cannot change users: say
 * so when that is not [milter] user (systemd's User= and the setting
 * disagree), and go on as whoever it is: the files it opens decide.
 */
static void
not_root_note(const char *user)
{
	struct passwd *pw;

	if (geteuid() == 0 || user == NULL || *user == '\0')
		return;
	pw = getpwnam(user);
	if (pw != NULL && pw->pw_uid == geteuid())
		return;
	gm_mlog(LOG_WARNING, "running as uid %ld, not as [milter] user %s "
	        "(only root can change users)", (long)geteuid(), user);
}

/* Find libmilter's listening TCP socket and set TCP_NODELAY on it. */
static void
nodelay_listener(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int on = 0;
		socklen_t ol = sizeof(on);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) != 0 ||
		    !on)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			continue;
		on = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		               sizeof(on)) != 0)
			gm_mlog(LOG_WARNING, "TCP_NODELAY: %s", strerror(errno));
	}
}

static void
log_static_changes(const struct gh_conf *old, const struct gh_conf *new)
{
	static const struct {
		const char *sec, *key;
	} fixed[] = {
		{"milter", "socket"}, {"milter", "socket_mode"},
		{"milter", "user"}, {"milter", "pid_file"},
		{"milter", "log_facility"}, {"milter", "timeout"},
		{"store", "path"},
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		const char *a = gh_conf_str(old, fixed[i].sec, fixed[i].key);
		const char *b = gh_conf_str(new, fixed[i].sec, fixed[i].key);

		if (a && b && strcmp(a, b) == 0)
			continue;
		if (!a && !b)
			continue;
		gm_mlog(LOG_WARNING, "reload: [%s] %s changed; it takes effect "
		        "at the next restart", fixed[i].sec, fixed[i].key);
	}
}

static void
describe(const struct gm_mcfg *c, const struct gm_mcfg *prev,
         const char *what)
{
	gm_mlog(LOG_INFO, "%s configuration %llu from %s: %zu signing key%s, "
	        "%zu internal network%s, scanning %s%s", what,
	        (unsigned long long)c->generation, gh_conf_source(c->conf),
	        c->keys->n, c->keys->n == 1 ? "" : "s", c->internal.n,
	        c->internal.n == 1 ? "" : "s",
	        c->scanner ? "on" : "off", "");
	if (c->scanner && gscan_engine_clamd(c->scanner))
		gm_mlog(LOG_INFO, "virus scanner: clamd at %s%s",
		        gscan_engine_clamd(c->scanner),
		        c->scan_cache ? ", verdict cache on" : "");
	else if (c->scanner && prev && prev->scanner == c->scanner)
		gm_mlog(LOG_INFO, "virus scanner: reusing the compiled engine "
		        "(%s unchanged)", gh_conf_str(c->conf, "milter",
		                                      "clamav_db"));
	else if (c->scanner)
		gm_mlog(LOG_INFO, "virus scanner: %u signatures from %s",
		        gscan_engine_signatures(c->scanner),
		        gh_conf_str(c->conf, "milter", "clamav_db"));
}

/* Build a new configuration from the file and swap it in; the old one
 * stays if that fails. */
static gh_err
do_reload(struct reloader *r)
{
	struct gm_mcfg *cur, *next;
	char detail[1024];
	gh_err err;

	cur = gm_mcfg_acquire(&r->m->cfg);
	err = gm_mcfg_load(r->m->conf_path, cur, r->generation + 1, &next,
	                   detail, sizeof(detail));
	if (err) {
		gm_mlog(LOG_ERR, "reload failed, keeping configuration %llu: %s",
		        (unsigned long long)cur->generation, detail);
	} else {
		r->generation++;
		log_static_changes(cur->conf, next->conf);
		describe(next, cur, "reloaded:");
		gm_mcfg_swap(&r->m->cfg, next);
	}
	gm_mcfg_unref(cur);
	return err;
}

/* How long to wait before looking at the signature directory again; 0:
 * not at all (no scanner, or clamav_check = 0). */
static int64_t
clamdb_wait_ms(struct reloader *r)
{
	struct gm_mcfg *cur = gm_mcfg_acquire(&r->m->cfg);
	int64_t every = 0;

	if (cur->scanner != NULL) {
		every = gh_conf_int(cur->conf, "milter", "clamav_check");
		if (every > 0 && every < 1000)
			every = 1000;
		if (every > 0 && r->have_seen && every > CLAMDB_SETTLE_MS)
			every = CLAMDB_SETTLE_MS;
	}
	gm_mcfg_unref(cur);
	return every;
}

/* Look at the signature directory; reload once a change has settled. */
static void
clamdb_check(struct reloader *r)
{
	struct gm_mcfg *cur = gm_mcfg_acquire(&r->m->cfg);
	unsigned char now[32];

	if (cur->scanner == NULL || !gscan_engine_db_changed(cur->scanner, now)) {
		r->have_seen = 0;
		goto cleanup;
	}
	if (r->have_tried && memcmp(now, r->tried, sizeof(now)) == 0)
		goto cleanup;	/* failed on exactly this: wait for a change */
	if (!r->have_seen || memcmp(now, r->seen, sizeof(now)) != 0) {
		/* perhaps still being written: look again once it settled */
		memcpy(r->seen, now, sizeof(now));
		r->have_seen = 1;
		goto cleanup;
	}
	r->have_seen = 0;
	gm_mlog(LOG_INFO, "signature database %s changed: reloading",
	        gscan_engine_dbdir(cur->scanner));
	if (do_reload(r) != GH_OK) {
		memcpy(r->tried, now, sizeof(now));
		r->have_tried = 1;
	} else {
		r->have_tried = 0;
	}
cleanup:
	gm_mcfg_unref(cur);
}

static void *
reload_main(void *arg)
{
	struct reloader *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		int64_t wait_ms = clamdb_wait_ms(r);
		int timed_out = 0;

		if (wait_ms > 0) {
			struct timespec until;

			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += (time_t)(wait_ms / 1000);
			until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!r->pending && !r->stop && !timed_out)
				timed_out = pthread_cond_timedwait(&r->cv, &r->mu,
				                                   &until) ==
				    ETIMEDOUT;
		} else {
			while (!r->pending && !r->stop)
				pthread_cond_wait(&r->cv, &r->mu);
		}
		if (r->stop)
			break;
		if (r->pending) {
			r->pending = 0;
			pthread_mutex_unlock(&r->mu);
			(void)do_reload(r);
			gh_sd_notify("READY=1");
		} else {
			pthread_mutex_unlock(&r->mu);
			clamdb_check(r);
		}
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void
request_reload(struct reloader *r)
{
	pthread_mutex_lock(&r->mu);
	r->pending = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void
stop_reloader(struct reloader *r)
{
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->tid, NULL);
}

struct smfi_thread {
	pthread_t tid;
	int rc;
};

static void *
smfi_main_thread(void *arg)
{
	struct smfi_thread *t = arg;
	unsigned char b = 'M';

	t->rc = smfi_main();
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* the main loop also notices on its next timeout */
	}
	return NULL;
}

/* Wait for messages in progress to finish, up to the drain timeout. */
static int
drain(struct gm_milter *m, int64_t timeout_ms)
{
	int64_t deadline = gh_now_ms() + timeout_ms;
	long n;

	__atomic_store_n(&m->draining, 1, __ATOMIC_SEQ_CST);
	n = __atomic_load_n(&m->msgs, __ATOMIC_SEQ_CST);
	gm_mlog(LOG_INFO, "stopping: refusing new mail, %ld message%s in "
	        "progress, %lld ms to finish", n, n == 1 ? "" : "s",
	        (long long)timeout_ms);
	while ((n = __atomic_load_n(&m->msgs, __ATOMIC_SEQ_CST)) > 0) {
		if (gh_now_ms() >= deadline) {
			gm_mlog(LOG_WARNING, "drain timeout: %ld message%s still "
			        "in progress (the MTA applies its "
			        "milter_default_action)", n, n == 1 ? "" : "s");
			return 0;
		}
		poll(NULL, 0, 50);
	}
	return 1;
}

/*
 * -t: what start-up loads, loaded as the daemon will load it: as [milter]
 * user when started as root, in a child that becomes that user first (the
 * keys are read after the drop, so a key only root can read must fail
 * here too), and the mail store looked at as that user without opening it.
 * Returns the exit code.
 */
static int
check_as_user(const char *conf_path, const struct gh_conf *boot,
              const char *as)
{
	struct gh_store_opts sopts;
	struct gm_mcfg *first = NULL;
	char detail[1024];
	gh_err err;

	err = gm_mcfg_load(conf_path, NULL, 1, &first, detail,
	                   sizeof(detail));
	if (err) {
		early_error("%s%s", detail, as);
		return EX_CONFIG;
	}
	describe(first, NULL, "checked");
	gm_mcfg_unref(first);
	/* A missing store is not fatal (mstore.h: the milter retries it);
	 * one it may not open tempfails every message. */
	gh_conf_domain_store_opts(boot, GH_DOMAIN_MAIL, &sopts, NULL);
	err = gh_store_check(sopts.path, detail, sizeof(detail));
	if (err == GH_ENOTFOUND) {
		gm_mlog(LOG_WARNING, "no mail store yet: %s (make it with "
		        "'gatehouse store init')", detail);
	} else if (err) {
		early_error("the mail store: %s: %s%s", gh_strerror(err),
		            detail, as);
		return err == GH_EACCES ? EX_NOPERM : EX_CONFIG;
	}
	return EX_OK;
}

static int
run_check(const char *conf_path, const struct gh_conf *boot,
          const struct gm_mboot *mb)
{
	char why[512], as[128] = "";
	int status, rc;
	pid_t pid;

	if (geteuid() != 0 || mb->user == NULL)
		return check_as_user(conf_path, boot, "");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		early_error("fork: %s", strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		if (drop_privileges(mb, why, sizeof(why)) != 0) {
			early_error("%s", why);
			_exit(EX_CONFIG);
		}
		snprintf(as, sizeof(as), " (as user %s)", mb->user);
		rc = check_as_user(conf_path, boot, as);
		fflush(NULL);
		_exit(rc);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

/* libclamav's errors and warnings (gscan_set_log), from any thread. */
static void
clamav_log(int level, const char *msg)
{
	gm_mlog(level == 0 ? LOG_ERR : LOG_INFO, "libclamav: %s", msg);
}

/*
 * What the milter holds from start to stop.  main() keeps it on its stack
 * for the life of the process: libmilter's callbacks reach m through
 * gm_set(), the reload thread through rl.
 */
struct mrun {
	struct opts o;
	struct gm_milter m;
	struct gh_conf *boot;		/* the configuration read at start */
	struct gm_mcfg *first;		/* keys and engine loaded at start */
	struct gm_mboot mb;		/* user, socket and its permissions */
	struct reloader rl;
	struct smfi_thread st;
	const char *pidpath;
	int ready_fd;			/* to the daemonizing parent, or -1 */
	int pid_fd;
	int fac;			/* [milter] log_facility, or -1 */
};

/*
 * The command line into o.  Returns -1 to go on, or the exit code (-V,
 * -h, a bad argument).
 */
static int
parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"pid-file", required_argument, NULL, 'p'},
		{"test", no_argument, NULL, 't'},
		{"make-socket-dir", no_argument, NULL, 'S'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:fp:tSVh", longopts,
	                         NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->conf = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'p':
			o->pid_file = optarg;
			break;
		case 't':
			o->check_only = 1;
			break;
		case 'S':
			o->prepare_only = 1;
			break;
		case 'V':
		{
			unsigned maj = 0, min = 0, pl = 0;

			smfi_version(&maj, &min, &pl);
			/* "NAME VERSION" first, as every Gatehouse binary */
			printf("gatehouse-milter %s\nlibmilter %u.%u.%u\n",
			       GH_VERSION, maj, min, pl);
			return EX_OK;
		}
		case 'h':
			usage(stdout);
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
 * The configuration, read as whoever started us (root, before any drop),
 * and what start-up takes from it: the pid file, the log facility, the
 * user and the socket.  Returns the exit code.
 */
static int
read_boot(struct mrun *r)
{
	char detail[1024], why[512];
	gh_err err;

	r->m.conf_path = r->o.conf ? r->o.conf : gh_conf_default_path();
	err = gh_conf_load(&r->boot, r->m.conf_path, detail, sizeof(detail));
	if (err) {
		early_error("%s", detail);
		return gh_err_exit_code(err);
	}
	r->pidpath = r->o.pid_file ? r->o.pid_file :
	    gh_conf_str(r->boot, "milter", "pid_file");
	r->fac = gm_mlog_facility(gh_conf_str(r->boot, "milter",
	                                      "log_facility"));
	if (gm_mboot_parse(r->boot, geteuid() == 0, &r->mb, why,
	                   sizeof(why))) {
		early_error("%s: %s", gh_conf_source(r->boot), why);
		return EX_CONFIG;
	}
	r->m.local_socket = r->mb.local_socket;
	return EX_OK;
}

/* -S: the socket's directory, for a daemon started as its user (see
 * RUNNING AS ITS USER); nothing else is touched.  Returns the exit code. */
static int
make_socket_dir(struct mrun *r)
{
	char why[512];
	int rc;

	rc = r->m.local_socket ?
	    gm_msock_prepare_dir(r->mb.sock_path, gh_conf_str(r->boot, "milter",
	                         "user"), r->mb.sock_gid, why, sizeof(why)) : 0;
	if (rc != 0)
		early_error("%s", why);
	return rc != 0 ? EX_CANTCREAT : EX_OK;
}

/*
 * Start-up up to a listening socket: daemonize, the log, the socket's
 * directory, the drop to [milter] user, the pid file, keys and engine (as
 * that user), the store, libmilter's socket.  A failure is reported to the
 * waiting parent and exits (die()).
 */
static void
start(struct mrun *r)
{
	const char *sock = r->mb.sock, *sock_path = r->mb.sock_path;
	struct gh_store_opts sopts;
	char detail[1024], why[512];
	mode_t old_umask;
	gh_err err;

	if (!r->o.foreground && daemonize(&r->ready_fd) != 0) {
		early_error("cannot daemonize: %s", strerror(errno));
		exit(EX_OSERR);
	}
	gm_mlog_open("gatehouse-milter", r->o.foreground,
	             r->fac < 0 ? LOG_MAIL : r->fac);
	if (r->m.local_socket &&
	    gm_msock_prepare_dir(sock_path, gh_conf_str(r->boot, "milter",
	                         "user"), r->mb.sock_gid, why,
	                         sizeof(why)) != 0)
		die(r->ready_fd, EX_CANTCREAT, "%s", why);
	if (!r->m.local_socket)
		gm_mlog(LOG_WARNING, "listening on %s: every local user can "
		        "connect to a TCP socket and have mail signed; prefer "
		        "a unix socket with socket_group (docs/security.md)",
		        sock);
	if (drop_privileges(&r->mb, why, sizeof(why)) != 0)
		die(r->ready_fd, EX_CONFIG, "%s", why);
	not_root_note(gh_conf_str(r->boot, "milter", "user"));
	/* Locked for as long as we run: a second instance sees the lock and
	 * refuses to start over us, and `gatehouse dkim rotate` signals the
	 * lock's holder, not whatever pid the file names (gatehouse/pidfile.h). */
	if (r->pidpath && *r->pidpath &&
	    gh_pidfile_lock(r->pidpath, &r->pid_fd, NULL, why,
	                    sizeof(why)) != GH_OK)
		die(r->ready_fd, EX_SOFTWARE, "%s", why);

	err = gm_mcfg_load(r->m.conf_path, NULL, 1, &r->first, detail,
	                   sizeof(detail));
	if (err)
		die(r->ready_fd, EX_CONFIG, "%s", detail);
	gm_mcfg_holder_init(&r->m.cfg, r->first);
	gm_mcond_init(&r->m.sign_cond, "DKIM signing");
	gm_mcond_init(&r->m.scan_cond, "virus scanner");
	gm_mcond_init(&r->m.spool_cond, "scan spool");
	/* the mail domain's store: [store] mail, or the core's when unset */
	gh_conf_domain_store_opts(r->boot, GH_DOMAIN_MAIL, &sopts, NULL);
	gm_mstore_init(&r->m.store, &sopts);
	{
		struct gh_store *s;

		/* Open now, so the first message does not pay for it; a
		 * failure is logged and retried by the messages. */
		(void)gm_mstore_get(&r->m.store, &s);
	}

	gm_set(&r->m);
	if (gm_register() != MI_SUCCESS ||
	    smfi_setconn((char *)(uintptr_t)sock) != MI_SUCCESS)
		die(r->ready_fd, EX_SOFTWARE, "libmilter refused the filter "
		    "or the socket '%s'", sock);
	smfi_settimeout((int)(gh_conf_int(r->boot, "milter", "timeout") /
	                      1000));
	/* Born with no more than socket_mode allows: no moment in which
	 * others could connect before the chmod. */
	old_umask = umask(0777 & ~r->mb.mode);
	if (smfi_opensocket(1) != MI_SUCCESS)
		die(r->ready_fd, EX_CONFIG, "cannot listen on %s (in use, or "
		    "a bad [milter] socket?)", sock);
	umask(old_umask);
	if (sock_path != NULL) {
		if (gm_msock_secure(sock_path, r->mb.mode, r->mb.sock_gid, why,
		                    sizeof(why)) != 0)
			die(r->ready_fd, EX_CONFIG, "%s", why);
	} else if (gh_conf_bool(r->boot, "milter", "tcp_nodelay")) {
		nodelay_listener();
	}
}

/*
 * The threads (reload, libmilter's smfi_main()) and the signal handlers,
 * then "ready" to the parent and systemd.  Threads first, with the
 * signals blocked (they inherit the mask), then unblock them here only:
 * see SIGNALS AND LIBMILTER above.
 */
static void
start_threads(struct mrun *r)
{
	struct sigaction sa;
	sigset_t sigs, old;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		die(r->ready_fd, EX_OSERR, "pipe: %s", strerror(errno));
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	memset(&r->rl, 0, sizeof(r->rl));
	pthread_mutex_init(&r->rl.mu, NULL);
	{
		/* the signature database watch waits on a monotonic clock */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->rl.cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	r->rl.m = &r->m;
	r->rl.generation = 1;
	memset(&r->st, 0, sizeof(r->st));
	if (pthread_create(&r->rl.tid, NULL, reload_main, &r->rl) != 0 ||
	    pthread_create(&r->st.tid, NULL, smfi_main_thread, &r->st) != 0)
		die(r->ready_fd, EX_OSERR, "cannot start threads");
	/*
	 * SA_NODEFER and an empty mask: while the handler runs, the main
	 * thread must still accept these signals, or the kernel would hand
	 * the next one to libmilter's sigwait() thread.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);

	describe(r->first, NULL, "started with");
	gm_mlog(LOG_INFO, "listening on %s, pid %ld%s", r->mb.sock,
	        (long)getpid(), r->o.foreground ? ", in the foreground" : "");
	if (r->ready_fd >= 0) {
		if (write(r->ready_fd, "ok", 2) < 0) {
			/* the parent is gone: nothing to tell */
		}
		close(r->ready_fd);
		r->ready_fd = -1;
	}
	{
		char state[600];

		snprintf(state, sizeof(state), "READY=1\nSTATUS=listening on "
		         "%s", r->mb.sock);
		gh_sd_notify(state);
	}
}

/*
 * The main thread's loop: signals from the pipe until a stop.  *stopping
 * is 1 after SIGTERM or SIGINT (drain), 2 when libmilter stopped on its
 * own.  Returns the exit code.
 */
static int
run(struct mrun *r, int *stopping)
{
	int rc = EX_OK;

	*stopping = 0;
	for (;;) {
		struct pollfd pfd = {sig_pipe[0], POLLIN, 0};
		unsigned char b;

		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			break;
		while (read(sig_pipe[0], &b, 1) == 1) {
			if (b == SIGHUP && !*stopping) {
				gm_mlog(LOG_INFO, "SIGHUP: reloading %s",
				        r->m.conf_path);
				gh_sd_notify("RELOADING=1");
				request_reload(&r->rl);
			} else if (b == SIGTERM || b == SIGINT) {
				if (!*stopping)
					gh_sd_notify("STOPPING=1");
				*stopping = 1;
			} else if (b == 'M') {
				if (!*stopping) {
					gm_mlog(LOG_ERR, "libmilter stopped on "
					        "its own (rc %d); exiting",
					        r->st.rc);
					rc = EX_SOFTWARE;
				}
				*stopping = 2;
			}
		}
		if (*stopping)
			break;
	}
	return rc;
}

/*
 * The drain (after SIGTERM, SIGINT), then clean-up.  Nothing is in
 * progress any more (or the drain timed out): leave.  Not through
 * smfi_stop(): it takes a mutex libmilter's listener holds across its
 * 5-second select(), and the listener has nothing of ours to finish.  The
 * exit closes the listening socket; a unix socket's file we remove
 * ourselves, as libmilter would.  What connections still in progress use
 * (the store, the configuration) is freed only when none is.
 */
static void
stop(struct mrun *r, int stopping)
{
	int drained;

	if (stopping == 1)
		drained = drain(&r->m, gh_conf_int(r->boot, "milter",
		                                   "drain_timeout"));
	else
		drained = __atomic_load_n(&r->m.msgs, __ATOMIC_SEQ_CST) == 0;
	if (r->mb.sock_path != NULL)
		unlink(r->mb.sock_path);
	stop_reloader(&r->rl);
	if (drained) {
		gm_mstore_close(&r->m.store);
		gm_mcfg_holder_destroy(&r->m.cfg);
	}
	gh_pidfile_release(r->pidpath, r->pid_fd);
	gm_mlog(LOG_INFO, "stopped");
}

int
main(int argc, char **argv)
{
	struct mrun r;
	int rc, stopping;

	gscan_set_log(clamav_log);

	/*
	 * First of all, before anything touches libcrypto: no OpenSSL clean-up
	 * at exit.  We leave with libmilter's threads still running (see
	 * stop()), and a connection closing at that moment frees its DKIM
	 * keys in one of them; libcrypto's atexit handler tearing down its
	 * global tables at the same time can crash the milter on its way out
	 * (ASan saw it once in many runs).  The process is ending: the kernel
	 * frees it all.
	 */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);

	memset(&r, 0, sizeof(r));
	r.ready_fd = -1;
	r.pid_fd = -1;
	rc = parse_options(argc, argv, &r.o);
	if (rc >= 0)
		return rc;
	rc = read_boot(&r);
	if (rc != EX_OK || r.o.check_only || r.o.prepare_only) {
		if (rc == EX_OK && r.o.check_only) {
			gm_mlog_open("gatehouse-milter", 1, r.fac);
			rc = run_check(r.m.conf_path, r.boot, &r.mb);
		} else if (rc == EX_OK) {
			rc = make_socket_dir(&r);
		}
		gh_conf_free(r.boot);
		return rc;
	}
	start(&r);
	start_threads(&r);
	rc = run(&r, &stopping);
	stop(&r, stopping);
	gh_conf_free(r.boot);
	return rc;
}
