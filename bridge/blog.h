/*
 * blog.h - gatehouse-bridge's one log line format, for every part of the
 * bridge (main.c, forward.c, sharedata.c).
 *
 * A line is "gatehouse-bridge[DOMAIN]: TEXT" on stderr; when stderr is the
 * journal (gatehouse/journal.h) it starts with its syslog priority ("<3>").
 * Lines longer than 1023 bytes are cut.  Thread-safe as stdio is: the NATS
 * client's callbacks log from its own threads.
 */
#ifndef GATEHOUSE_BRIDGE_BLOG_H
#define GATEHOUSE_BRIDGE_BLOG_H

#include <stdarg.h>

/* One line at syslog priority prio (LOG_ERR, LOG_WARNING, LOG_INFO). */
void br_say(int journal, const char *name, int prio, const char *text);
void br_vlog(int journal, const char *name, int prio, const char *fmt,
             va_list ap) __attribute__((format(printf, 4, 0)));

#endif
