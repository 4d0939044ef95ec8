/*
 * gatehouse-pam-writer - pam_gatehouse's store work, in a program of its
 * own (installed in GH_LIBEXECDIR; pam_gatehouse(8), docs/pam.md).
 *
 * In mode=detach and mode=child the module's forked child becomes the
 * store's owner and execs this program, so that the code that reads the
 * store -- LMDB, on files the owner's uid may shape at will -- runs in a
 * fresh address space: nothing of the host (in sshd's monitor, the host
 * keys) is there to be read by whoever could make that code misbehave.
 *
 * It reads one record (pam_notify/wire.h) from stdin, at most
 * GH_PAM_WIRE_MAX bytes, checks every member of it, does what the child
 * did in its own memory before (record the login, detect a new host,
 * count a failure, raise the events; record.c), then reports: with
 * "report": "pipe" one answer line on stdout, which the module reads;
 * with "syslog" (a detached writer, whom no one waits for) one log line in
 * the module's words.  It exits with the sysexits(3) code of the outcome
 * (gh_err_exit_code), EX_USAGE for arguments, EX_NOPERM as root.
 *
 * It needs no privilege and refuses root: it runs as the store's owner,
 * and root never opens a store (docs/security.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "gatehouse/file.h"
#include "../event.h"
#include "../record.h"
#include "../report.h"
#include "../wire.h"

static const char usage[] =
"usage: gatehouse-pam-writer < RECORD\n"
"       gatehouse-pam-writer --help | --version\n"
"\n"
"Records one login in the login store, for pam_gatehouse(8), which runs\n"
"it (modes detach and child) as the store's owner with the login as a\n"
"record on stdin.  Not meant to be run by hand; refuses to run as root.\n";

/*
 * The first alarm (three quarters of writer_timeout_ms) only interrupts
 * the wait for the write lock (no SA_RESTART), so the outcome can still be
 * logged; the next, a quarter later, ends the writer by default action
 * wherever it is stuck.  As the module's detached writer did (child.c).
 */
static void
on_alarm(int sig)
{
	(void)sig;
	(void)signal(SIGALRM, SIG_DFL);
}

static void
arm_alarm(int writer_timeout_ms)
{
	int64_t quarter_us = (int64_t)writer_timeout_ms * 250;
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, NULL);
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
}

/* Default actions and an empty mask: an exec keeps the ignored signals
 * and the mask of whoever ran us (the host, through the module). */
static void
reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* stdin to EOF, at most cap bytes: its length, or -1 (too long: -2). */
static ssize_t
read_record(char *buf, size_t cap)
{
	size_t have = 0;

	for (;;) {
		ssize_t n = read(0, buf + have, cap - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return (ssize_t)have;
		have += (size_t)n;
		if (have == cap)
			return -2;
	}
}

static void
answer(const struct gp_outcome *out)
{
	char line[GH_PAM_WIRE_LINE_MAX];
	size_t n = gp_wire_answer(out, line, sizeof(line));

	(void)gh_file_write_all(1, line, n);
}

int
main(int argc, char **argv)
{
	static char rec[GH_PAM_WIRE_MAX + 1];
	struct gp_outcome out;
	struct gp_wire w;
	json_t *root = NULL;
	ssize_t len;
	int rc;

	/* Not dumpable (exec made it so again): the store's owner, whose uid
	 * this runs as, may not ptrace it or read its memory. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc > 1) {
		if (argc == 2 && strcmp(argv[1], "--help") == 0) {
			fputs(usage, stdout);
			return EX_OK;
		}
		if (argc == 2 && strcmp(argv[1], "--version") == 0) {
			printf("gatehouse-pam-writer %s\n", GH_VERSION);
			return EX_OK;
		}
		fputs(usage, stderr);
		return EX_USAGE;
	}
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 ||
	    getegid() == 0) {
		fputs("gatehouse-pam-writer: refusing to run as root (uid or "
		      "gid 0): it runs as the store's owner\n", stderr);
		return EX_NOPERM;
	}
	/* the name the module's writers have always had (ps, the tests) */
	(void)prctl(PR_SET_NAME, "pam_gatehouse", 0, 0, 0);
	reset_signals();

	memset(&out, 0, sizeof(out));
	out.stage = GH_PAM_ST_WRITER;
	len = read_record(rec, sizeof(rec));
	if (len < 0) {
		out.err = len == -2 ? GH_ETOOBIG : GH_EIO;
		if (len == -2)
			gp_fmt(out.detail, sizeof(out.detail), "record longer "
			       "than %d bytes", GH_PAM_WIRE_MAX);
		else
			gp_fmt(out.detail, sizeof(out.detail), "reading the "
			       "record: %s", strerror(errno));
	} else {
		out.err = gp_wire_parse(rec, (size_t)len, &w, &root,
		                        out.detail, sizeof(out.detail));
	}
	if (out.err) {
		fprintf(stderr, "gatehouse-pam-writer: %s\n", out.detail);
		answer(&out);
		return gh_err_exit_code(out.err);
	}

	if (w.report_syslog)
		arm_alarm(w.o.writer_timeout_ms);
	gp_store_work(&w.o, &w.l, w.what, &w.so, w.deadline_us, &out);
	out.elapsed_us = gp_mono_us() - w.start_us;
	if (w.report_syslog) {
		char line[768];
		int prio = gp_report_line(&w.o, &w.l, &out, line,
		                          sizeof(line));

		/* in the words and under the name pam_syslog would use */
		if (prio >= 0) {
			openlog(w.ident, LOG_PID, LOG_AUTHPRIV);
			syslog(prio, "pam_gatehouse(%s:%s): %s", w.l.service,
			       w.what == GH_PAM_JOB_FAIL ? "auth" : "session",
			       line);
			closelog();
		}
	} else {
		answer(&out);
	}
	rc = gh_err_exit_code(out.err);
	json_decref(root);
	return rc;
}
