/*
 * test_pidfile.c - pid files (gatehouse/pidfile.h) with real processes: a
 * forked child holds the lock as a daemon would, and the parent signals it,
 * or is refused, the way `gatehouse dkim rotate` signals the milter.
 * Record locks are per process (the holder's own F_GETLK sees no conflict),
 * hence the fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gatehouse/pidfile.h"

/* This binary's name, which the child runs too. */
static const char *const self_names[] = {"test_pidfile", NULL};
static const char *const milter_names[] = {"gatehouse-milter", NULL};

struct tdir {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/gh-pidfile-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/d.pid", t->dir);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tdir *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	if (system(cmd) != 0) {
		/* left in /tmp: harmless */
	}
	free(t);
	return 0;
}

/* The child's end of the signal report pipe; the handler needs it. */
static int child_report = -1;

static void
on_usr1(int sig)
{
	char b = 'U';

	(void)sig;
	if (write(child_report, &b, 1) < 0) {
		/* the parent sees nothing and fails */
	}
}

/* A child that locks path, says 'L' (or 'F'), then reports each SIGUSR1
 * with 'U' until killed. */
static pid_t
start_holder(const char *path, int *rd)
{
	int p[2];
	pid_t pid;
	char c = 0;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sigaction sa;
		int fd;

		close(p[0]);
		child_report = p[1];
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		c = gh_pidfile_lock(path, &fd, NULL, NULL, 0) == GH_OK ? 'L' :
		    'F';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'L');
	*rd = p[0];
	return pid;
}

static void
stop_holder(pid_t pid, int rd)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(rd);
}

static void
test_lock_and_signal(void **state)
{
	struct tdir *t = *state;
	struct gh_pidfile_holder h;
	char detail[512], self[PATH_MAX], c = 0, buf[32];
	pid_t holder = 0;
	int rd, fd, n;
	pid_t pid = start_holder(t->path, &rd);

	/* the file says the child's pid, and a second "daemon" is refused */
	fd = open(t->path, O_RDONLY);
	assert_true(fd >= 0);
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(atol(buf), (long)pid);
	assert_int_equal(gh_pidfile_lock(t->path, &fd, &holder, detail,
	                                 sizeof(detail)), GH_EEXIST);
	assert_int_equal(fd, -1);
	assert_int_equal(holder, pid);
	assert_non_null(strstr(detail, "already running, pid"));

	/* the lock's holder is signalled when it runs a program named so */
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   &h, detail, sizeof(detail)), GH_OK);
	assert_int_equal(h.pid, pid);
	assert_int_equal(h.written, pid);
	assert_int_equal(read(rd, &c, 1), 1);
	assert_int_equal(c, 'U');

	/* ... and by its full path when one is given */
	assert_non_null(realpath("/proc/self/exe", self));
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, self,
	                                   NULL, NULL, 0), GH_OK);
	assert_int_equal(read(rd, &c, 1), 1);

	/* another program's name, or another path: refused, not signalled */
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, milter_names, NULL,
	                                   &h, detail, sizeof(detail)),
	                 GH_EINVAL);
	assert_int_equal(h.pid, pid);
	assert_non_null(strstr(detail, "not gatehouse-milter"));
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names,
	                                   "/bin/true", NULL, NULL, 0),
	                 GH_EINVAL);

	/* the contents rewritten: still the holder, and the contents told */
	fd = open(t->path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "1\n", 2), 2);
	close(fd);
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   &h, NULL, 0), GH_OK);
	assert_int_equal(h.pid, pid);
	assert_int_equal(h.written, 1);
	assert_int_equal(read(rd, &c, 1), 1);

	/* the holder gone, the lock goes with it: not running */
	stop_holder(pid, rd);
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   &h, detail, sizeof(detail)),
	                 GH_ENOTFOUND);
	assert_int_equal(h.pid, 0);
	assert_non_null(strstr(detail, "not running"));

	/* and a new daemon takes the stale file over */
	assert_int_equal(gh_pidfile_lock(t->path, &fd, NULL, NULL, 0), GH_OK);
	gh_pidfile_release(t->path, fd);
	assert_int_equal(access(t->path, F_OK), -1);
}

static void
test_refusals(void **state)
{
	struct tdir *t = *state;
	char detail[512], other[160];
	int fd;

	/* no file: not running */
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   NULL, NULL, 0), GH_ENOTFOUND);
	/* a symbolic link, on either side; its target is left alone */
	snprintf(other, sizeof(other), "%s/target", t->dir);
	fd = open(other, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep\n", 5), 5);
	close(fd);
	assert_int_equal(symlink(other, t->path), 0);
	assert_int_equal(gh_pidfile_lock(t->path, &fd, NULL, detail,
	                                 sizeof(detail)), GH_EINVAL);
	assert_non_null(strstr(detail, "symbolic link"));
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   NULL, detail, sizeof(detail)),
	                 GH_EINVAL);
	assert_non_null(strstr(detail, "symbolic link"));
	unlink(t->path);
	/* a second hard link: the daemon would truncate another name's file */
	assert_int_equal(link(other, t->path), 0);
	assert_int_equal(gh_pidfile_lock(t->path, &fd, NULL, detail,
	                                 sizeof(detail)), GH_EINVAL);
	assert_non_null(strstr(detail, "hard links"));
	unlink(t->path);
	{
		struct stat sb;

		assert_int_equal(stat(other, &sb), 0);
		assert_int_equal(sb.st_size, 5);
	}
	/* not a regular file */
	assert_int_equal(mkdir(t->path, 0755), 0);
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   NULL, detail, sizeof(detail)),
	                 GH_EINVAL);
	assert_non_null(strstr(detail, "not a regular file"));
	rmdir(t->path);
	assert_int_equal(mkfifo(t->path, 0644), 0);
	assert_int_equal(gh_pidfile_lock(t->path, &fd, NULL, NULL, 0),
	                 GH_EINVAL);
	assert_int_equal(gh_pidfile_signal(t->path, SIGUSR1, self_names, NULL,
	                                   NULL, NULL, 0), GH_EINVAL);
	unlink(t->path);

	/* release leaves a file put in place of ours */
	assert_int_equal(gh_pidfile_lock(t->path, &fd, NULL, NULL, 0), GH_OK);
	assert_int_equal(rename(other, t->path), 0);
	gh_pidfile_release(t->path, fd);
	assert_int_equal(access(t->path, F_OK), 0);
	/* bad arguments */
	assert_int_equal(gh_pidfile_lock("", &fd, NULL, NULL, 0), GH_EINVAL);
	assert_int_equal(gh_pidfile_signal(NULL, SIGUSR1, self_names, NULL,
	                                   NULL, NULL, 0), GH_EINVAL);
	gh_pidfile_release(NULL, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_and_signal, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
