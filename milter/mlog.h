/*
 * mlog.h - gatehouse-milter's logging: syslog when daemonized, stderr in
 * the foreground, and conditions logged once
 *
 * A mail server logs per message; an error that hits every message (the
 * store is locked, the disk is full, the virus database is broken) must not
 * flood the log with one line per message.  A struct gm_mcond remembers
 * whether its condition is failing: gm_mcond_fail() logs only when the
 * condition starts failing (or fails differently), gm_mcond_ok() logs once
 * when it recovers.  Both are safe from any thread.
 *
 * The destination is chosen once, at start, before any thread exists
 * (gm_mlog_open); after that logging only reads it.
 */
#ifndef GH_MILTER_MLOG_H
#define GH_MILTER_MLOG_H

#include <pthread.h>
#include <syslog.h>

#include "gatehouse/err.h"
#include "gatehouse/reopen.h"

/*
 * gm_mlog_open - where log lines go from now on: syslog with facility
 * (LOG_MAIL, ...) and the program name as ident, or stderr when to_stderr;
 * when stderr is the journal (gatehouse/journal.h), each line starts with
 * its priority ("<3>") instead of the time and the program name.
 */
void gm_mlog_open(const char *ident, int to_stderr, int facility);

/* gm_mlog_facility - "mail", "daemon", "local0".."local7" -> LOG_*; -1. */
int gm_mlog_facility(const char *name);

/* gm_mlog - one line at priority prio (LOG_ERR, LOG_WARNING, LOG_INFO). */
void gm_mlog(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The log-once latch is libgatehouse's (gatehouse/reopen.h, with no pace);
 * this adds the lock the milter's threads need and the log lines. */
struct gm_mcond {
	pthread_mutex_t mu;
	const char *what;	/* "store", "virus scanner", ... */
	struct gh_reopen state;	/* .failing: GH_OK while the condition holds */
};

void gm_mcond_init(struct gm_mcond *c, const char *what);
void gm_mcond_destroy(struct gm_mcond *c);

/* gm_mcond_fail - the condition failed with err; detail may be NULL. */
void gm_mcond_fail(struct gm_mcond *c, gh_err err, const char *detail);

/* gm_mcond_ok - the condition holds (again). */
void gm_mcond_ok(struct gm_mcond *c);

#endif /* GH_MILTER_MLOG_H */
