/*
 * child.c - the store work in a short-lived child with a deadline.
 *
 * Why a child: in the host process a login can only be protected from
 * waits we chose to bound.  LMDB's own writer and reader mutexes, the
 * F_SETLKW in mdb_env_open and a commit's fsync on a hung disk have no
 * timeout; a process killed by SIGKILL does.  The parent never waits
 * longer than the budget: it polls the pipe, then kills and reaps.
 *
 * Host courtesy: no signal disposition, mask or umask is touched; the
 * child leaves with _exit (no atexit handlers, no stdio flush of the
 * host's buffers) and keeps none of the host's descriptors.  A child that
 * crashes (an LMDB assertion on a corrupt store aborts) costs the host
 * nothing but a log line.  If the host reaps our child from its own
 * SIGCHLD handler, waitpid's ECHILD is expected.
 *
 * mode=detach adds one fork: the first child only forks the writer and
 * exits, so the login waits for two forks and a reap, and the writer --
 * the grandchild, reparented to init -- bounds itself with a timer whose
 * default action ends it.  Signals and the umask are the writer's own to
 * change: it is no longer the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/file.h"
#include "child.h"
#include "event.h"
#include "newhost.h"

#define REAP_GRACE_US 20000  /* after SIGKILL, how long we wait to reap */

/*
 * Give the child nothing of the host's but the pipe (returned, now >= 3;
 * with wfd < 0 there is no pipe to keep):
 * stdin, stdout and stderr become /dev/null -- LMDB prints a failed
 * assertion to stderr before abort(), and the host's stderr may be the
 * user's terminal -- and every other descriptor is closed, so a wedged
 * child cannot hold a client's connection open.
 */
static int
isolate_fds(int wfd)
{
	int nul;

	if (wfd >= 0 && wfd < 3) {
		int moved = fcntl(wfd, F_DUPFD_CLOEXEC, 3);

		if (moved < 0)
			_exit(1);
		close(wfd);
		wfd = moved;
	}
	nul = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++) {
		if (nul >= 0 && nul != fd)
			(void)dup2(nul, fd);
		else if (nul < 0)
			close(fd);
	}
	/* close_range may be missing (kernel < 5.9): then the host's
	 * descriptors simply live as long as this short child. */
	if (wfd < 0) {
		(void)syscall(SYS_close_range, 3u, ~0u, 0u);
		return -1;
	}
	if (wfd > 3)
		(void)syscall(SYS_close_range, 3u, (unsigned)wfd - 1, 0u);
	(void)syscall(SYS_close_range, (unsigned)wfd + 1, ~0u, 0u);
	return wfd;
}

static void
child_main(int wfd, const struct gp_opts *o, const struct gp_login *l,
           enum gp_what what, int64_t deadline_us)
{
	struct gp_outcome out;

	wfd = isolate_fds(wfd);
	gp_record(o, l, what, deadline_us, 1, &out);
	/* sizeof(out) < PIPE_BUF: one write, atomic; a parent gone away
	 * reads nothing, and there is no one to tell */
	(void)gh_file_write_all(wfd, &out, sizeof(out));
	_exit(0);
}

static void
nap_us(long us)
{
	struct timespec ts = {0, us * 1000};

	nanosleep(&ts, NULL);
}

/* Reap pid by polling, until deadline_us at most (no pidfd: old kernel).
 * 1 if reaped (or reaped by the host already: *status is then left as
 * it was), 0 if still running. */
static int
reap_poll(pid_t pid, int64_t deadline_us, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return 1;
		if (gp_mono_us() >= deadline_us)
			return 0;
		nap_us(100);
	}
}

/* Wait for the child's exit through its pidfd, then reap it. */
static int
reap_pidfd(int pidfd, pid_t pid, int64_t deadline_us, int *status)
{
	for (;;) {
		struct pollfd pf = {pidfd, POLLIN, 0};
		int64_t left = deadline_us - gp_mono_us();
		int rc;

		if (left < 0)
			left = 0;
		rc = poll(&pf, 1, (int)((left + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return reap_poll(pid, 0, status);
		return reap_poll(pid, gp_mono_us() + REAP_GRACE_US, status);
	}
}

static int
reap(int pidfd, pid_t pid, int64_t deadline_us, int *status)
{
	return pidfd >= 0 ? reap_pidfd(pidfd, pid, deadline_us, status) :
	                    reap_poll(pid, deadline_us, status);
}

/* Kill our unreaped child pid and reap it: 1 if reaped in the grace. */
static int
kill_and_reap(int pidfd, pid_t pid)
{
	if (pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0u);
	else if (waitpid(pid, NULL, WNOHANG) == 0)
		kill(pid, SIGKILL);   /* still unreaped, so still ours */
	return reap(pidfd, pid, gp_mono_us() + REAP_GRACE_US, NULL);
}

/* Read the child's outcome until the deadline: 1 when complete, 0 at the
 * deadline, -1 when the child went away without a word (killed by a
 * signal meant for its host, say). */
static int
read_outcome(int fd, struct gp_outcome *got, int64_t deadline_us)
{
	size_t have = 0;

	while (have < sizeof(*got)) {
		struct pollfd pf = {fd, POLLIN, 0};
		int64_t left = deadline_us - gp_mono_us();
		ssize_t n;
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&pf, 1, (int)((left + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;    /* SIGCHLD at the host's handler */
		if (rc <= 0)
			return 0;
		n = read(fd, (char *)got + have, sizeof(*got) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return 1;
}

static void
run_child(const struct gp_opts *o, const struct gp_login *l,
          enum gp_what what, int64_t start_us, struct gp_outcome *out)
{
	int64_t deadline = start_us + (int64_t)o->timeout_ms * 1000;
	/* The child gives up a quarter early so its ELOCKED arrives in time
	 * and the kill below is kept for the truly stuck. */
	int64_t child_deadline = start_us + (int64_t)o->timeout_ms * 750;
	struct gp_outcome got;
	int pfd[2], pidfd, ok;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	out->stage = GH_PAM_ST_CHILD;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail), "pipe: %m");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child_main(pfd[1], o, l, what, child_deadline);
	}
	if (pid < 0) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail), "fork: %m");
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	close(pfd[1]);
	/* Our child cannot be reaped by anyone before it exits, and its pid
	 * cannot be reused before it is reaped: the pidfd names it. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0u);

	ok = read_outcome(pfd[0], &got, deadline);
	close(pfd[0]);
	if (ok > 0) {
		*out = got;
		/* It has written its last word and is in _exit. */
		if (reap(pidfd, pid, deadline + REAP_GRACE_US, NULL))
			goto done;
	} else if (ok < 0) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail),
		           "child %ld ended without an answer", (long)pid);
	} else {
		out->err = GH_ELOCKED;
		gp_fmt(out->detail, sizeof(out->detail),
		           "no answer from the store within %d ms; child %ld "
		           "killed", o->timeout_ms, (long)pid);
	}
	if (!kill_and_reap(pidfd, pid) && ok == 0)
		gp_fmt(out->detail, sizeof(out->detail),
		           "no answer from the store within %d ms; child %ld "
		           "killed but not yet reaped (I/O wait?)",
		           o->timeout_ms, (long)pid);
done:
	if (pidfd >= 0)
		close(pidfd);
}

/*
 * The writer's first alarm, at three quarters of its budget: the wait for
 * the write lock ends (EINTR: the handler is installed without
 * SA_RESTART) so the writer can log "not recorded"; the interval timer
 * fires again a quarter later with the default action, for a writer stuck
 * where no signal ends a wait (LMDB's mutex, a hung disk).
 */
static void
writer_alarm(int sig)
{
	(void)sig;
	(void)signal(SIGALRM, SIG_DFL);
}

/*
 * The detached writer.  Its own process from here on: it leaves the
 * host's session (no terminal signals meant for the login reach it),
 * takes back the default signal actions and an empty mask, and arms a
 * timer that ends it writer_timeout_ms after it started (writer_alarm).
 * That budget is longer than the login's (timeout_ms) because no
 * one waits for it: a store busy for a moment, or a storm of logins
 * queueing on the write lock, then costs nothing and loses nothing.
 */
static void
writer_main(const struct gp_opts *o, const struct gp_login *l,
            enum gp_what what, int64_t start_us,
            gp_report_fn *report, void *report_arg)
{
	static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM,
	                           SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD};
	int64_t quarter_us = (int64_t)o->writer_timeout_ms * 250;
	struct sigaction sa;
	struct itimerval it;
	struct gp_outcome out;
	sigset_t none;

	(void)setsid();
	if (chdir("/") != 0) {
		/* the cwd only keeps a mount busy for a moment */
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)signal(sigs[i], SIG_DFL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = writer_alarm;     /* no SA_RESTART: see above */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = 3 * quarter_us / 1000000;
	it.it_value.tv_usec = 3 * quarter_us % 1000000;
	it.it_interval.tv_sec = quarter_us / 1000000;
	it.it_interval.tv_usec = quarter_us % 1000000;
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1;
	if (it.it_interval.tv_sec == 0 && it.it_interval.tv_usec == 0)
		it.it_interval.tv_usec = 1;
	(void)setitimer(ITIMER_REAL, &it, NULL);

	/* The lock is waited for in the kernel (hundreds of writers after a
	 * burst of logins queue there without spinning) until the alarm. */
	gp_record(o, l, what, -1, 1, &out);
	out.elapsed_us = gp_mono_us() - start_us;
	if (report != NULL)
		report(report_arg, &out);
	_exit(0);
}

static void
run_detached(const struct gp_opts *o, const struct gp_login *l,
             enum gp_what what, int64_t start_us,
             struct gp_outcome *out, gp_report_fn *report,
             void *report_arg)
{
	int64_t deadline = start_us + (int64_t)o->timeout_ms * 1000;
	int status = 0, pidfd;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	out->stage = GH_PAM_ST_CHILD;
	pid = fork();
	if (pid == 0) {
		pid_t w;

		(void)isolate_fds(-1);
		/* named before the fork, so the writer is never seen with
		 * the host's name */
		(void)prctl(PR_SET_NAME, "pam_gatehouse", 0, 0, 0);
		w = fork();
		if (w == 0)
			writer_main(o, l, what, start_us, report, report_arg);
		_exit(w > 0 ? 0 : 1);
	}
	if (pid < 0) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail), "fork: %m");
		return;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0u);
	if (!reap(pidfd, pid, deadline, &status)) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail),
		           "child %ld did not start the writer within %d ms; "
		           "killed", (long)pid, o->timeout_ms);
		(void)kill_and_reap(pidfd, pid);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail),
		           "child %ld could not fork the writer", (long)pid);
	} else {
		/* exited 0, or reaped by the host's own SIGCHLD handler */
		out->flags = GH_PAM_R_DETACHED;
	}
	if (pidfd >= 0)
		close(pidfd);
}

void
gp_run(const struct gp_opts *o, const struct gp_login *l,
           enum gp_what what, int64_t start_us, struct gp_outcome *out,
           gp_report_fn *report, void *report_arg)
{
	if (o->mode == GH_PAM_MODE_INLINE)
		gp_record(o, l, what,
		              start_us + (int64_t)o->timeout_ms * 1000, 0, out);
	else if (o->mode == GH_PAM_MODE_DETACH && !o->fail_closed)
		run_detached(o, l, what, start_us, out, report, report_arg);
	else
		run_child(o, l, what, start_us, out);
	out->elapsed_us = gp_mono_us() - start_us;
}
