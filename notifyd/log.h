/*
 * log.h - notifyd's log lines, to syslog (facility mail, like the MTA it
 * works beside) or to stderr
 *
 * Every line about a delivery names the event, the channel and the
 * recipient, and says why: "event 42 (login.new_host) mail ->
 * alice@example.org: retry in 31s: HTTP 503".  Under systemd stderr goes to
 * the journal, so "auto" picks stderr when it is the journal or a terminal
 * and syslog otherwise.  When stderr is the journal
 * (gatehouse/journal.h) each line starts with its priority, "<3>" for an
 * error, so `journalctl -p err` finds it.  The logger is plain data the
 * caller owns.
 */
#ifndef GH_NOTIFYD_LOG_H
#define GH_NOTIFYD_LOG_H

enum nd_level { ND_LOG_ERR = 0, ND_LOG_WARN, ND_LOG_INFO, ND_LOG_DEBUG };

struct nd_log {
	int syslog;           /* 1: syslog(3), 0: stderr */
	int journal;          /* stderr is the journal: "<N>" prefixes */
	enum nd_level level;  /* least severe level written */
};

/* nd_log_init - where = "auto", "syslog" or "stderr"; level a name of
 * the [notifyd] log_level enum. */
void nd_log_init(struct nd_log *l, const char *where, const char *level);

__attribute__((format(printf, 3, 4)))
void nd_log(const struct nd_log *l, enum nd_level lv, const char *fmt, ...);

#endif
