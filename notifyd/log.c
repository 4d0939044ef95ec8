/*
 * log.c - syslog or stderr lines, the latter with the journal's priority
 * prefixes when stderr is the journal (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "gatehouse/journal.h"
#include "log.h"

void
nd_log_init(struct nd_log *l, const char *where, const char *level)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	int was_syslog = l->syslog;

	l->level = ND_LOG_INFO;
	for (int i = 0; level && i < 4; i++)
		if (strcmp(level, names[i]) == 0)
			l->level = (enum nd_level)i;
	if (where && strcmp(where, "syslog") == 0)
		l->syslog = 1;
	else if (where && strcmp(where, "stderr") == 0)
		l->syslog = 0;
	else
		l->syslog = !(isatty(STDERR_FILENO) || gh_journal_stderr());
	l->journal = !l->syslog && gh_journal_stderr();
	if (l->syslog && !was_syslog)
		openlog("gatehouse-notifyd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
nd_log(const struct nd_log *l, enum nd_level lv, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
	char line[2048];
	va_list ap;

	if (lv > l->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* control characters from events must not forge log lines */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (l->syslog)
		syslog(prio[lv], "%s%s", tag[lv], line);
	else if (l->journal)
		/* the journal records the program and pid itself */
		fprintf(stderr, "%s%s%s\n", gh_journal_prefix(prio[lv]),
		        tag[lv], line);
	else
		fprintf(stderr, "gatehouse-notifyd[%ld]: %s%s\n", (long)getpid(),
		        tag[lv], line);
}
