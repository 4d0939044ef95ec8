/*
 * blog.c - gatehouse-bridge's log line (blog.h).
 */
#include <stdio.h>

#include "gatehouse/journal.h"
#include "blog.h"

void
br_say(int journal, const char *name, int prio, const char *text)
{
	fprintf(stderr, "%sgatehouse-bridge[%s]: %s\n",
	        journal ? gh_journal_prefix(prio) : "", name, text);
}

void
br_vlog(int journal, const char *name, int prio, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	br_say(journal, name, prio, line);
}
