/*
 * journal.c - whether stderr is the journal, and "<N>" priority prefixes
 * (see gatehouse/journal.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/journal.h"

/* One decimal number of JOURNAL_STREAM, ending at stop; NULL if not. */
static const char *
number(const char *s, char stop, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')      /* strtoull would take "-1", " 1" */
		return NULL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != stop)
		return NULL;
	return end;
}

int
gh_journal_stderr(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (s == NULL || (s = number(s, ':', &dev)) == NULL ||
	    number(s + 1, '\0', &ino) == NULL)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

const char *
gh_journal_prefix(int prio)
{
	static const char *const p[] = {"<0>", "<1>", "<2>", "<3>", "<4>",
	                                 "<5>", "<6>", "<7>"};

	return p[prio & 7];       /* LOG_PRIMASK: the facility is not ours */
}
