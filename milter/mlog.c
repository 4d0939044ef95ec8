/*
 * mlog.c - syslog or stderr logging and once-per-condition logging for
 * gatehouse-milter (see mlog.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gatehouse/journal.h"
#include "mlog.h"

enum mlog_dest { MLOG_SYSLOG = 0, MLOG_STDERR, MLOG_JOURNAL };

/*
 * Set once by gm_mlog_open() before threads start and only read afterwards:
 * syslog(3) itself is process-wide state, so the choice of destination is
 * too.
 */
static enum mlog_dest log_dest = MLOG_STDERR;

static const struct {
	const char *name;
	int fac;
} facilities[] = {
	{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int
gm_mlog_facility(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (name != NULL && strcmp(name, facilities[i].name) == 0)
			return facilities[i].fac;
	return -1;
}

void
gm_mlog_open(const char *ident, int to_stderr, int facility)
{
	log_dest = !to_stderr ? MLOG_SYSLOG :
	           gh_journal_stderr() ? MLOG_JOURNAL : MLOG_STDERR;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

static const char *
prio_name(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return "fatal";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

void
gm_mlog(int prio, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_dest == MLOG_JOURNAL) {
		/* the journal stamps time, program and pid; it wants the
		 * priority, which it reads from the prefix */
		fprintf(stderr, "%s%s: %s\n", gh_journal_prefix(prio),
		        prio_name(prio), line);
		return;
	}
	if (log_dest == MLOG_STDERR) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		/* one fprintf per line, so threads do not interleave */
		fprintf(stderr, "%s.%03ld gatehouse-milter: %s: %s\n", when,
		        ts.tv_nsec / 1000000, prio_name(prio), line);
		return;
	}
	syslog(prio, "%s: %s", prio_name(prio), line);
}

void
gm_mcond_init(struct gm_mcond *c, const char *what)
{
	pthread_mutex_init(&c->mu, NULL);
	c->what = what;
	gh_reopen_init(&c->state, 0);
}

void
gm_mcond_destroy(struct gm_mcond *c)
{
	pthread_mutex_destroy(&c->mu);
}

void
gm_mcond_fail(struct gm_mcond *c, gh_err err, const char *detail)
{
	enum gh_reopen_news news;

	pthread_mutex_lock(&c->mu);
	news = gh_reopen_failed(&c->state, err, 0);
	pthread_mutex_unlock(&c->mu);
	if (news == GH_REOPEN_DOWN)
		gm_mlog(LOG_ERR, "%s: %s%s%s (logged once until it recovers)",
		        c->what, gh_strerror(err), detail && *detail ? ": " : "",
		        detail ? detail : "");
}

void
gm_mcond_ok(struct gm_mcond *c)
{
	unsigned long n = 0;
	enum gh_reopen_news news;

	/* The common case, nothing failing, without taking the lock would be
	 * a data race; the mutex is uncontended and cheap beside a commit. */
	pthread_mutex_lock(&c->mu);
	news = gh_reopen_ok(&c->state, &n);
	pthread_mutex_unlock(&c->mu);
	if (news == GH_REOPEN_UP)
		gm_mlog(LOG_NOTICE, "%s: recovered (%lu more failures were not "
		        "logged)", c->what, n);
}
