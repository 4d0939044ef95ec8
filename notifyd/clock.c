/*
 * clock.c - the real clock, or in the test build an injected one
 * (see clock.h).  clock_test.c compiles this file with ND_TEST_CLOCK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gatehouse/queue.h"
#include "clock.h"

void
nd_clock_init(struct nd_clock *c)
{
	c->file = NULL;
#ifdef ND_TEST_CLOCK
	c->file = getenv("GATEHOUSE_TEST_CLOCK");
	if (c->file != NULL && *c->file == '\0')
		c->file = NULL;
#endif
}

int64_t
nd_clock_now(const struct nd_clock *c)
{
#ifdef ND_TEST_CLOCK
	if (c->file != NULL) {
		FILE *fp = fopen(c->file, "re");
		long long v = 0;
		int ok = 0;

		if (fp != NULL) {
			ok = fscanf(fp, "%lld", &v) == 1 && v > 0;
			fclose(fp);
		}
		if (ok)
			return (int64_t)v;
	}
#else
	(void)c;
#endif
	return gh_now_ms();
}

int64_t
nd_clock_tick(void)
{
	return gh_mono_ms();
}

int
nd_clock_fake(const struct nd_clock *c)
{
	return c->file != NULL;
}
