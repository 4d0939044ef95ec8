/*
 * limits.c - check, then count, a message against [ratelimit] (see
 * limits.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/records.h"
#include "addr.h"
#include "limits.h"

struct scope {
	const char *name;
	char subject[GH_LIMIT_KEY_MAX];
	long long msgs, rcpts;
};

static void
lower_copy(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	/* "milter:domain-rcpt:" is the longest prefix: leave room for it */
	for (; *s && o + 1 < cap && o < GH_LIMIT_KEY_MAX - 24; s++)
		out[o++] = (char)tolower((unsigned char)*s);
	out[o] = '\0';
}

static gh_err
check(struct gh_txn *txn, const struct scope *s, const char *kind,
      long long limit, uint64_t add, int64_t window, int64_t now,
      int *over, struct gm_limit_hit *hit)
{
	char key[GH_LIMIT_KEY_MAX + 32];
	uint64_t count;
	gh_err err;

	if (limit <= 0 || *over)
		return GH_OK;
	snprintf(key, sizeof(key), "milter:%s%s:%s", s->name, kind, s->subject);
	err = gh_rate_hit_txn(txn, key, window, now, 0, &count);
	if (err)
		return err;
	if (count + add > (uint64_t)limit) {
		*over = 1;
		hit->scope = s->name;
		hit->what = *kind ? "recipients" : "messages";
		snprintf(hit->subject, sizeof(hit->subject), "%s", s->subject);
		hit->limit = limit;
		hit->count = count + add;
	}
	return GH_OK;
}

static gh_err
count(struct gh_txn *txn, const struct scope *s, const char *kind,
      long long limit, uint64_t add, int64_t window, int64_t now)
{
	char key[GH_LIMIT_KEY_MAX + 32];
	uint64_t n;

	if (limit <= 0 || add == 0)
		return GH_OK;
	snprintf(key, sizeof(key), "milter:%s%s:%s", s->name, kind, s->subject);
	return gh_rate_hit_txn(txn, key, window, now, add, &n);
}

gh_err
gm_limits_apply_txn(struct gh_txn *txn, const struct gm_limits *l,
                    const char *auth_user, const char *sender, uint64_t nrcpt,
                    int64_t now, int *over, struct gm_limit_hit *hit)
{
	struct scope sc[3];
	size_t n = 0;
	const char *dom = gm_addr_domain(sender);
	gh_err err;

	*over = 0;
	memset(hit, 0, sizeof(*hit));
	if (auth_user && *auth_user && (l->user_msgs || l->user_rcpts)) {
		sc[n].name = "user";
		lower_copy(auth_user, sc[n].subject, sizeof(sc[n].subject));
		sc[n].msgs = l->user_msgs;
		sc[n].rcpts = l->user_rcpts;
		n++;
	}
	if (sender && *sender && (l->sender_msgs || l->sender_rcpts)) {
		sc[n].name = "sender";
		lower_copy(sender, sc[n].subject, sizeof(sc[n].subject));
		sc[n].msgs = l->sender_msgs;
		sc[n].rcpts = l->sender_rcpts;
		n++;
	}
	if (dom && (l->domain_msgs || l->domain_rcpts)) {
		sc[n].name = "domain";
		lower_copy(dom, sc[n].subject, sizeof(sc[n].subject));
		sc[n].msgs = l->domain_msgs;
		sc[n].rcpts = l->domain_rcpts;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		err = check(txn, &sc[i], "", sc[i].msgs, 1, l->window_ms, now,
		            over, hit);
		if (!err)
			err = check(txn, &sc[i], "-rcpt", sc[i].rcpts, nrcpt,
			            l->window_ms, now, over, hit);
		if (err)
			return err;
	}
	if (*over)
		return GH_OK;
	for (size_t i = 0; i < n; i++) {
		err = count(txn, &sc[i], "", sc[i].msgs, 1, l->window_ms, now);
		if (!err)
			err = count(txn, &sc[i], "-rcpt", sc[i].rcpts, nrcpt,
			            l->window_ms, now);
		if (err)
			return err;
	}
	return GH_OK;
}
