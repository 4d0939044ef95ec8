/*
 * record.c - find, open, write and close the store for one PAM call.
 *
 * The store is opened and closed inside every call: PAM hosts fork (sshd,
 * login, cron) and an LMDB environment must never cross a fork, and a
 * module cannot know when its host forks.  Opening costs a few hundred
 * microseconds, far below a login's other costs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/domain.h"
#include "gatehouse/conf.h"
#include "gatehouse/store.h"
#include "event.h"
#include "failcount.h"
#include "newhost.h"
#include "record.h"

int64_t
gp_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * mdb_env_open takes a shared fcntl lock on byte 0 of lock.mdb and waits
 * for it without a timeout (F_SETLKW); only a process that is itself
 * inside mdb_env_open, initializing the lock table, holds that byte
 * exclusively.  One stopped right there would stall every login, so look
 * first and give up at once if the byte is held exclusively.  (The look
 * and the open are not atomic: docs/pam.md, "Residual risks".)
 */
static gh_err
lockfile_busy(const char *dir, int64_t deadline_us, char *detail,
              size_t dlen)
{
	char p[PATH_MAX];
	struct flock fl;
	int fd;
	gh_err err = GH_OK;

	if (snprintf(p, sizeof(p), "%s/lock.mdb", dir) >= (int)sizeof(p))
		return GH_OK;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return GH_OK;   /* absent: mdb_env_open creates or reports */
	/* Another login's opener holds it for a moment: look again until
	 * the deadline, every millisecond. */
	for (;;) {
		struct timespec nap = {0, 1000 * 1000};

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_RDLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0;
		fl.l_len = 1;
		if (fcntl(fd, F_OFD_GETLK, &fl) != 0 || fl.l_type == F_UNLCK)
			break;
		if (gp_mono_us() >= deadline_us) {
			gp_fmt(detail, dlen, "%s is locked exclusively "
			           "(pid %ld), a process is stuck opening the "
			           "store", p, (long)fl.l_pid);
			err = GH_ELOCKED;
			break;
		}
		nanosleep(&nap, NULL);
	}
	close(fd);
	return err;
}

/*
 * Only a store's owner opens it (docs/security.md), and a store is the
 * login domain's own: its owner (gatehouse-login) can shape data.mdb at
 * will, and LMDB does not defend itself against a hostile file.  So the
 * child that does the store work becomes that owner first: whatever a
 * crafted store could make LMDB do, it does as that user, not as root in
 * sshd.  In detach and child modes the child then execs the writer
 * program, so that code holds nothing of the host's memory (child.c).  A
 * store owned by root (tests, a hand-made one) leaves the child as it is:
 * only root could have shaped that store.
 */
gh_err
gp_drop_to_owner(const char *dir, char *detail, size_t dlen)
{
	if (geteuid() != 0)
		return GH_OK;
	/* This process is a copy of the host's memory: keep it out of reach
	 * of ptrace and /proc/PID/mem for processes of the store's owner
	 * (the kernel does so on a uid change too; say it anyway). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		gp_fmt(detail, dlen, "%s: prctl(PR_SET_DUMPABLE) failed",
		           dir);
		return GH_EACCES;
	}
	/* A missing store too: nothing to open, and nothing to open as
	 * root meanwhile. */
	return gh_store_become_owner(dir, detail, dlen);
}

static int
ms_left(int64_t deadline_us)
{
	int64_t left = deadline_us - gp_mono_us();

	if (left <= 0)
		return 0;
	return left / 1000 > 60000 ? 60000 : (int)(left / 1000);
}

gh_err
gp_store_find(const struct gp_opts *o, struct gh_store_opts *so,
              struct gh_conf **conf, struct gp_outcome *out)
{
	gh_err err = GH_OK;

	*conf = NULL;
	memset(so, 0, sizeof(*so));
	if (o->store != NULL) {
		so->path = o->store;
	} else {
		/* Never $GATEHOUSE_CONF: su and sudo run this as root with
		 * the caller's environment. */
		const char *path = o->config ? o->config : GH_CONF_DEFAULT_PATH;

		err = gh_conf_load(conf, path, out->detail,
		                   sizeof(out->detail));
		if (err == GH_ENOTFOUND && o->config == NULL) {
			out->detail[0] = '\0';
			err = gh_conf_defaults(conf);
		}
		if (err) {
			out->stage = GH_PAM_ST_CONFIG;
			out->err = err;
			return err;
		}
		/* the login domain's store: [store] login, or the
		 * core's when unset */
		gh_conf_domain_store_opts(*conf, GH_DOMAIN_LOGIN, so, NULL);
	}
	/* The package creates the store; a login never should. */
	so->flags &= ~(GH_STORE_CREATE | GH_STORE_RDONLY);
	return GH_OK;
}

void
gp_store_work(const struct gp_opts *o, const struct gp_login *l,
              enum gp_what what, struct gh_store_opts *so,
              int64_t deadline_us, struct gp_outcome *out)
{
	struct gh_store *st = NULL;
	struct gp_job job;
	gh_err err;

	/* No deadline of our own: the caller's alarm ends the wait. */
	so->lock_timeout_ms = deadline_us < 0 ? -1 : ms_left(deadline_us);
	out->stage = GH_PAM_ST_OPEN;
	/* (Without a deadline, mdb_env_open's wait is the alarm's too.) */
	if (deadline_us >= 0) {
		err = lockfile_busy(so->path, deadline_us, out->detail,
		                    sizeof(out->detail));
		if (err)
			goto done;
	}
	err = gh_store_open(&st, so, out->detail, sizeof(out->detail));
	if (err)
		goto done;

	out->stage = GH_PAM_ST_WRITE;
	memset(&job, 0, sizeof(job));
	job.opts = o;
	job.login = l;
	err = gh_store_update(st, what == GH_PAM_JOB_FAIL ? gp_fail_txn :
	                      gp_session_txn, &job);
	out->flags = job.flags;
	out->count = job.count;
	if (err == GH_ELOCKED && so->lock_timeout_ms < 0)
		gp_fmt(out->detail, sizeof(out->detail),
		           "%s: write lock not free before the writer's alarm",
		           so->path);
	else if (err == GH_ELOCKED)
		gp_fmt(out->detail, sizeof(out->detail),
		           "%s: write lock not free within %d ms", so->path,
		           so->lock_timeout_ms);
	else if (err && out->detail[0] == '\0')
		gp_fmt(out->detail, sizeof(out->detail), "%s", so->path);
done:
	gh_store_close(st);
	out->err = err;
	if (err == GH_OK)
		out->stage = GH_PAM_ST_NONE;
}

void
gp_record(const struct gp_opts *o, const struct gp_login *l,
              enum gp_what what, int64_t deadline_us,
              int drop_privileges, struct gp_outcome *out)
{
	struct gh_conf *conf = NULL;
	struct gh_store_opts so;
	gh_err err;

	memset(out, 0, sizeof(*out));
	if (gp_store_find(o, &so, &conf, out) != GH_OK)
		goto done;
	if (drop_privileges) {
		out->stage = GH_PAM_ST_OPEN;
		err = gp_drop_to_owner(so.path, out->detail,
		                       sizeof(out->detail));
		if (err) {
			out->err = err;
			goto done;
		}
	}
	gp_store_work(o, l, what, &so, deadline_us, out);
done:
	gh_conf_free(conf);
}
