/*
 * breaker.c - per-channel circuit breaker (states in breaker.h).
 */
#include <string.h>

#include "breaker.h"

void
nd_breaker_init(struct nd_breaker *b, int threshold, int64_t cooldown_ms)
{
	memset(b, 0, sizeof *b);
	b->threshold = threshold < 1 ? 1 : threshold;
	b->cooldown_ms = cooldown_ms < 0 ? 0 : cooldown_ms;
	b->state = GH_BREAKER_CLOSED;
}

int
nd_breaker_allow(struct nd_breaker *b, int64_t now_ms)
{
	switch (b->state) {
	case GH_BREAKER_CLOSED:
		return 1;
	case GH_BREAKER_OPEN:
		if (now_ms - b->opened_at < b->cooldown_ms)
			return 0;
		b->state = GH_BREAKER_HALF_OPEN;
		b->probing = 1;
		return 1;
	case GH_BREAKER_HALF_OPEN:
		if (b->probing)
			return 0;
		b->probing = 1;
		return 1;
	}
	return 0;
}

static void
breaker_open(struct nd_breaker *b, int64_t now_ms)
{
	b->state = GH_BREAKER_OPEN;
	b->opened_at = now_ms;
	b->probing = 0;
	b->failures = 0;
	b->opened_count++;
}

void
nd_breaker_success(struct nd_breaker *b, int64_t now_ms)
{
	(void)now_ms;
	switch (b->state) {
	case GH_BREAKER_CLOSED:
		b->failures = 0;
		break;
	case GH_BREAKER_HALF_OPEN:
		b->state = GH_BREAKER_CLOSED;
		b->failures = 0;
		b->probing = 0;
		break;
	case GH_BREAKER_OPEN:
		/* A request sent before the breaker opened: the cool-down
		 * stands, and the probe will tell. */
		break;
	}
}

void
nd_breaker_failure(struct nd_breaker *b, int64_t now_ms)
{
	switch (b->state) {
	case GH_BREAKER_CLOSED:
		if (++b->failures >= b->threshold)
			breaker_open(b, now_ms);
		break;
	case GH_BREAKER_HALF_OPEN:
		breaker_open(b, now_ms);
		break;
	case GH_BREAKER_OPEN:
		/* Late results of requests already in flight do not extend the
		 * cool-down. */
		break;
	}
}

void
nd_breaker_cancel(struct nd_breaker *b)
{
	if (b->state == GH_BREAKER_HALF_OPEN)
		b->probing = 0;
}

int64_t
nd_breaker_retry_at(const struct nd_breaker *b, int64_t now_ms)
{
	if (b->state == GH_BREAKER_OPEN) {
		int64_t at = b->opened_at + b->cooldown_ms;
		return at > now_ms ? at : now_ms;
	}
	if (b->state == GH_BREAKER_HALF_OPEN && b->probing)
		return now_ms + b->cooldown_ms;
	return now_ms;
}

const char *
nd_breaker_state_name(enum nd_breaker_state s)
{
	switch (s) {
	case GH_BREAKER_CLOSED:
		return "closed";
	case GH_BREAKER_OPEN:
		return "open";
	case GH_BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}
