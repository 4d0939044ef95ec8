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
 *
 * The writer program: a forked child is a copy of the host -- in sshd's
 * monitor, the host keys.  Once it has become the store's owner, the
 * child execs gatehouse-pam-writer (writer/main.c), so the code that
 * parses the store (LMDB, on files the owner's uid may shape) runs in a
 * fresh address space holding nothing of the host's: the child hands it
 * the login as a record (wire.h) on its stdin.  The program is opened by
 * the child as root and checked on the descriptor (a root-owned regular
 * file, not writable by group or others), then run from that descriptor.
 * A store owned by root is written by the child itself, as before: only
 * root could have shaped it, and the writer never runs as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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
#include "wire.h"

#define REAP_GRACE_US 20000  /* after SIGKILL, how long we wait to reap */

/* A directory entry as getdents64(2) returns it (glibc names it only with
 * _LARGEFILE64_SOURCE; the layout is the kernel's). */
struct gp_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Close every descriptor from lo up but keep (-1: none).  close_range
 * first; where the kernel lacks it (< 5.9) or a seccomp filter refuses it,
 * each descriptor /proc/self/fd lists, read with getdents64 (no heap: this
 * runs in a child forked from a threaded host), again until a pass closes
 * nothing.  0 when done; -1 when it cannot be known to be (no /proc
 * either): then the host's descriptors (sshd's client and monitor
 * sockets) must not reach a program running as another uid.
 */
static int
close_from(int lo, int keep)
{
	char buf[2048];
	int dfd, closed;
	long n;

	if (keep < lo) {
		if (syscall(SYS_close_range, (unsigned)lo, ~0u, 0u) == 0)
			return 0;
	} else if ((keep == lo || syscall(SYS_close_range, (unsigned)lo,
	                                  (unsigned)keep - 1, 0u) == 0) &&
	           syscall(SYS_close_range, (unsigned)keep + 1, ~0u,
	                   0u) == 0) {
		return 0;
	}
	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	do {
		closed = 0;
		if (lseek(dfd, 0, SEEK_SET) != 0)
			break;
		while ((n = syscall(SYS_getdents64, dfd, buf,
		                    sizeof(buf))) > 0) {
			for (long off = 0; off < n; ) {
				const struct gp_dirent64 *d =
				    (const void *)(buf + off);
				const char *c = d->d_name;
				long fd = 0;

				off += d->d_reclen;
				if (*c < '0' || *c > '9')
					continue;       /* "." and ".." */
				for (; *c >= '0' && *c <= '9' && fd < INT_MAX / 10;
				     c++)
					fd = fd * 10 + (*c - '0');
				if (fd >= lo && fd != keep && fd != dfd) {
					close((int)fd);
					closed = 1;
				}
			}
		}
		if (n < 0) {
			close(dfd);
			return -1;
		}
	} while (closed);
	close(dfd);
	return 0;
}

/*
 * Give the child nothing of the host's but the pipe (returned, now >= 3;
 * with wfd < 0 there is no pipe to keep):
 * stdin, stdout and stderr become /dev/null -- LMDB prints a failed
 * assertion to stderr before abort(), and the host's stderr may be the
 * user's terminal -- and every other descriptor is closed, so a wedged
 * child cannot hold a client's connection open.  *clean says whether
 * all of that was done (no /dev/null, or no way to close every other
 * descriptor: then the writer program is not run, child_work).
 */
static int
isolate_fds(int wfd, int *clean)
{
	int nul;

	*clean = 1;
	if (wfd >= 0 && wfd < 3) {
		int moved = fcntl(wfd, F_DUPFD_CLOEXEC, 3);

		if (moved < 0)
			_exit(1);
		close(wfd);
		wfd = moved;
	}
	nul = open("/dev/null", O_RDWR);
	if (nul < 0) {
		/* 0-2 left as the host had them; and closing them would let
		 * the next descriptors land there (the record on stdin's
		 * place, the writer's own descriptor replaced by it) */
		*clean = 0;
	} else {
		for (int fd = 0; fd < 3; fd++) {
			if (nul != fd)
				(void)dup2(nul, fd);   /* without O_CLOEXEC */
		}
		if (nul > 2)
			close(nul);
	}
	if (close_from(3, wfd) != 0)
		*clean = 0;
	return wfd;
}

/*
 * Open the writer program (still root, if the host is) by the rule stores
 * are opened by, every directory on the way root's
 * (gh_file_open_program, the check `gatehouse config check` makes too):
 * the descriptor is what runs, so what was checked is what runs.  -1
 * with out filled on refusal.
 */
static int
open_writer(const char *path, struct gp_outcome *out)
{
	int fd = -1;

	out->stage = GH_PAM_ST_WRITER;
	out->err = gh_file_open_program(path, &fd, out->detail,
	                                sizeof(out->detail));
	return out->err ? -1 : fd;
}

/* The host's name for syslog, cut and kept to printable ASCII (it goes
 * into the record, which the writer checks). */
static void
host_ident(char *out, size_t cap)
{
	const char *s = program_invocation_short_name;
	size_t i;

	for (i = 0; s != NULL && s[i] && i + 1 < cap; i++)
		out[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '_';
	if (i == 0 && cap > 4) {
		memcpy(out, "pam", 3);
		i = 3;
	}
	out[i] = '\0';
}

/*
 * Become the writer: the record in a sealed memfd on stdin (a pipe would
 * need a reader before the exec once its buffer is small), the answer
 * pipe (mode=child) on stdout, /dev/null (isolate_fds) on stderr, an
 * empty environment, and nothing else open: every other descriptor is
 * close-on-exec.  Returns only on failure, out saying why.
 */
static void
exec_writer(int wfd, int xfd, const struct gp_wire *w,
            struct gp_outcome *out)
{
	char *const argv[] = {(char *)"gatehouse-pam-writer", NULL};
	char *const envp[] = {NULL};
	/* on the heap: the child runs on a copy of the host thread's stack,
	 * which may be small */
	char *rec = malloc(GH_PAM_WIRE_MAX + 1);
	size_t len;
	int mfd;

	out->stage = GH_PAM_ST_WRITER;
	if (rec == NULL) {
		out->err = GH_ENOMEM;
		gp_fmt(out->detail, sizeof(out->detail), "the record for the "
		       "writer: out of memory");
		return;
	}
	out->err = gp_wire_build(w, rec, GH_PAM_WIRE_MAX + 1, &len,
	                         out->detail, sizeof(out->detail));
	if (out->err) {
		free(rec);
		return;
	}
	mfd = memfd_create("pam_gatehouse-record",
	                   MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || gh_file_write_all(mfd, rec, len) != GH_OK ||
	    lseek(mfd, 0, SEEK_SET) != 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	          F_SEAL_WRITE | F_SEAL_SEAL) != 0 ||
	    dup2(mfd, 0) != 0 || (wfd >= 0 && dup2(wfd, 1) != 1)) {
		out->err = GH_EIO;
		gp_fmt(out->detail, sizeof(out->detail), "the record for the "
		       "writer: %s", strerror(errno));
		if (mfd >= 0)
			close(mfd);
		free(rec);
		return;
	}
	close(mfd);
	free(rec);
	fexecve(xfd, argv, envp);
	out->err = errno == ENOENT ? GH_ENOTFOUND : GH_EACCES;
	gp_fmt(out->detail, sizeof(out->detail), "exec %s: %s", w->o.writer,
	       strerror(errno));
}

/*
 * The store work of a child, up to the exec of the writer: find the store
 * (the config file is read here, by root, before any drop), check and
 * open the writer, become the store's owner, exec.  Returns when the work
 * is done here (a root-owned store) or could not be handed over; out
 * then holds the outcome.  wfd: the answer pipe (mode=child), else -1.
 */
static void
child_work(int wfd, int clean, const struct gp_opts *o,
           const struct gp_login *l, enum gp_what what, int64_t start_us,
           int64_t deadline_us, struct gp_outcome *out)
{
	struct gh_conf *conf = NULL;
	struct gh_store_opts so;
	struct gp_wire w;
	uid_t owner;
	int xfd = -1;

	memset(out, 0, sizeof(*out));
	if (gp_store_find(o, &so, &conf, out) != GH_OK)
		goto done;
	if (geteuid() == 0) {
		out->stage = GH_PAM_ST_OPEN;
		out->err = gh_store_owner(so.path, &owner, NULL, out->detail,
		                          sizeof(out->detail));
		if (out->err)
			goto done;
		if (owner == 0) {
			gp_store_work(o, l, what, &so, deadline_us, out);
			goto done;
		}
	}
	if (!clean) {
		out->stage = GH_PAM_ST_WRITER;
		out->err = GH_EACCES;
		gp_fmt(out->detail, sizeof(out->detail), "the host's "
		       "descriptors could not all be closed (no /dev/null, or "
		       "neither close_range nor /proc/self/fd): the writer "
		       "is not run with them");
		goto done;
	}
	xfd = open_writer(o->writer, out);
	if (xfd < 0)
		goto done;
	out->stage = GH_PAM_ST_OPEN;
	out->err = gp_drop_to_owner(so.path, out->detail,
	                            sizeof(out->detail));
	if (out->err)
		goto done;
	if (geteuid() == 0 || getuid() == 0) {
		/* the store became root's since it was looked at */
		out->stage = GH_PAM_ST_WRITER;
		out->err = GH_EACCES;
		gp_fmt(out->detail, sizeof(out->detail), "%s: still root "
		       "after the drop; the writer never runs as root", so.path);
		goto done;
	}
	memset(&w, 0, sizeof(w));
	w.what = what;
	w.report_syslog = wfd < 0;
	host_ident(w.ident, sizeof(w.ident));
	w.deadline_us = deadline_us;
	w.start_us = start_us;
	w.o = *o;
	w.so = so;
	w.l = *l;
	exec_writer(wfd, xfd, &w, out);
done:
	if (xfd >= 0)
		close(xfd);
	gh_conf_free(conf);
	if (out->err == GH_OK)
		out->stage = GH_PAM_ST_NONE;
}

static void
child_main(int wfd, const struct gp_opts *o, const struct gp_login *l,
           enum gp_what what, int64_t start_us, int64_t deadline_us)
{
	char line[GH_PAM_WIRE_LINE_MAX];
	struct gp_outcome out;
	size_t n;
	int clean;


	wfd = isolate_fds(wfd, &clean);
	/* out of the host's session (its controlling terminal: the user's,
	 * under login, su or sudo) and its working directory before anything
	 * runs as the store's owner, as a detached writer is */
	(void)setsid();
	if (chdir("/") != 0)
		clean = 0;
	child_work(wfd, clean, o, l, what, start_us, deadline_us, &out);
	/* one line < PIPE_BUF: one write, atomic; a parent gone away
	 * reads nothing, and there is no one to tell */
	n = gp_wire_answer(&out, line, sizeof(line));
	(void)gh_file_write_all(wfd, line, n);
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

/* Read the child's answer line (wire.h) until the deadline: 1 when
 * complete, 0 at the deadline, -1 when the child went away without a word
 * (killed by a signal meant for its host, say), -2 for a line that is not
 * an answer. */
static int
read_outcome(int fd, struct gp_outcome *got, int64_t deadline_us)
{
	char line[GH_PAM_WIRE_LINE_MAX];
	size_t have = 0;

	for (;;) {
		struct pollfd pf = {fd, POLLIN, 0};
		int64_t left = deadline_us - gp_mono_us();
		ssize_t n;
		int rc;

		if (have > 0 && line[have - 1] == '\n')
			return gp_wire_read_answer(line, have, got) == 0 ? 1 :
			       -2;
		if (have == sizeof(line))
			return -2;
		if (left <= 0)
			return 0;
		rc = poll(&pf, 1, (int)((left + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;    /* SIGCHLD at the host's handler */
		if (rc <= 0)
			return 0;
		n = read(fd, line + have, sizeof(line) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return have > 0 ? -2 : -1;
		/* only what one line holds: stop at its end */
		{
			char *nl = memchr(line + have, '\n', (size_t)n);

			have = nl != NULL ? (size_t)(nl - line) + 1 :
			                    have + (size_t)n;
		}
	}
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
		child_main(pfd[1], o, l, what, start_us, child_deadline);
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
		const char *said = ok == -2 ? "gave an unreadable answer" :
		                   "ended without an answer";
		int64_t grace = gp_mono_us() + REAP_GRACE_US;
		int status = -1;

		out->err = GH_EIO;
		/* gone: its exit status says more (a writer's sysexits) */
		if (grace > deadline + REAP_GRACE_US)
			grace = deadline + REAP_GRACE_US;
		if (reap(pidfd, pid, grace, &status) && status != -1) {
			gp_fmt(out->detail, sizeof(out->detail),
			       "child %ld %s (%s %d)", (long)pid, said,
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) :
			       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			goto done;
		}
		gp_fmt(out->detail, sizeof(out->detail), "child %ld %s",
		       (long)pid, said);
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
writer_main(int clean, const struct gp_opts *o, const struct gp_login *l,
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
	if (chdir("/") != 0)
		clean = 0;      /* the host's directory: not for the writer */
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
	 * burst of logins queue there without spinning) until the alarm --
	 * in the writer program, which arms its own: exec keeps the timer
	 * but not the handler, so this one only ends a writer that hangs
	 * before it gets there.  Back here, the work was done here (a
	 * root-owned store) or not handed over: report it. */
	child_work(-1, clean, o, l, what, start_us, -1, &out);
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
		int clean;

		(void)isolate_fds(-1, &clean);
		/* named before the fork, so the writer is never seen with
		 * the host's name */
		(void)prctl(PR_SET_NAME, "pam_gatehouse", 0, 0, 0);
		w = fork();
		if (w == 0)
			writer_main(clean, o, l, what, start_us, report,
			            report_arg);
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
