/*
 * ratelimit.c - exact integer token bucket (see ratelimit.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratelimit.h"

#define WEEK_MS (7LL * 24 * 3600 * 1000)

gh_err
nd_rate_parse(const char *s, int64_t *rate, int64_t *per_ms)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {
		{"s", 1000}, {"sec", 1000}, {"second", 1000},
		{"m", 60000}, {"min", 60000}, {"minute", 60000},
		{"h", 3600000}, {"hour", 3600000},
		{"d", 86400000}, {"day", 86400000},
	};
	const char *p = s;
	int64_t n = 0;
	size_t i;

	if (s == NULL || *s == '\0' || strcmp(s, "0") == 0 ||
	    strcasecmp(s, "none") == 0) {
		*rate = 0;
		*per_ms = 1000;
		return GH_OK;
	}
	if (*p < '0' || *p > '9')
		return GH_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > GH_RATE_MAX)
			return GH_EINVAL;
	}
	if (*p++ != '/' || n == 0)
		return GH_EINVAL;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(p, units[i].name) == 0) {
			*rate = n;
			*per_ms = units[i].ms;
			return GH_OK;
		}
	}
	return GH_EINVAL;
}

gh_err
nd_tbucket_init(struct nd_tbucket *b, int64_t rate, int64_t per_ms,
                int64_t burst, int64_t now_ms)
{
	memset(b, 0, sizeof *b);
	if (rate < 0 || rate > GH_RATE_MAX || burst > GH_RATE_MAX ||
	    per_ms < 1 || per_ms > WEEK_MS)
		return GH_EINVAL;
	if (burst < 1)
		burst = rate > 0 ? rate : 1;
	b->rate = rate;
	b->per_ms = per_ms;
	b->burst = burst;
	b->level = burst * per_ms;   /* <= 1e6 * 6e8: fits easily */
	b->last_ms = now_ms;
	return GH_OK;
}

int
nd_tbucket_take(struct nd_tbucket *b, int64_t now_ms, int64_t *wait_ms)
{
	int64_t cap, elapsed;

	if (b->rate == 0)
		return 1;
	cap = b->burst * b->per_ms;
	elapsed = now_ms - b->last_ms;
	/* A clock that steps back refills nothing and is followed from there. */
	if (elapsed > 0) {
		if (elapsed >= (cap - b->level) / b->rate + 1)
			b->level = cap;
		else
			b->level += elapsed * b->rate;
	}
	b->last_ms = now_ms;
	if (b->level >= b->per_ms) {
		b->level -= b->per_ms;
		return 1;
	}
	if (wait_ms)
		*wait_ms = (b->per_ms - b->level + b->rate - 1) / b->rate;
	return 0;
}
