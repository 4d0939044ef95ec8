/*
 * reopen.c - retry pace and down/up news of something that can fail and
 * recover (gatehouse/reopen.h).
 */
#include <string.h>

#include "gatehouse/reopen.h"

void
gh_reopen_init(struct gh_reopen *r, int64_t pace_ms)
{
	memset(r, 0, sizeof(*r));
	r->pace_ms = pace_ms > 0 ? pace_ms : 0;
	r->failing = GH_OK;
}

int
gh_reopen_due(const struct gh_reopen *r, int64_t now_ms)
{
	return r->failing == GH_OK || now_ms >= r->next_ms;
}

enum gh_reopen_news
gh_reopen_failed(struct gh_reopen *r, gh_err err, int64_t now_ms)
{
	enum gh_reopen_news news = GH_REOPEN_QUIET;

	if (err == GH_OK)
		return GH_REOPEN_QUIET;
	if (r->failing != err) {
		/* another error is news too: the admin fixed one thing and
		 * now something else is wrong */
		r->failing = err;
		news = GH_REOPEN_DOWN;
	} else {
		r->repeats++;
	}
	r->next_ms = now_ms + r->pace_ms;
	return news;
}

enum gh_reopen_news
gh_reopen_ok(struct gh_reopen *r, unsigned long *repeats)
{
	if (r->failing == GH_OK)
		return GH_REOPEN_QUIET;
	if (repeats != NULL)
		*repeats = r->repeats;
	r->failing = GH_OK;
	r->repeats = 0;
	r->next_ms = 0;
	return GH_REOPEN_UP;
}
