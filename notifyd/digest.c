/*
 * digest.c - items held for a user's digest, and the digest itself.
 *
 * HOLDING.  An event whose category the user set to "digest" is not sent:
 * its item goes into the user's inbox marked digest=true, and a "digest"
 * event (source notifyd, metadata.slot = the next send time in the user's
 * zone) is enqueued in the same transaction, with dedup key
 * "digest:<user>:<slot>" so that all the items of one period share one
 * digest event.  It is due at once; the dispatcher defers it to its slot.
 *
 * SENDING.  At its slot the digest event gathers the user's items still
 * unread and not yet in a digest, created up to the slot, into template
 * variables: count, items (array of {title, message, type, category,
 * created_at, action_url}) and items_text (a readable list, used by the
 * default templates and shown as the message by channels without
 * templates).  Nothing unread means nothing is sent.  When the digest has
 * reached at least one channel its items are marked digested_at, so the
 * next digest does not repeat them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/event.h"
#include "gatehouse/users.h"
#include "core/civil.h"
#include "nd.h"
#include "gatehouse/text.h"

#define DIGEST_ITEMS_MAX 200
#define DIGEST_TEXT_MAX (48 * 1024)

static const struct nd_tz *
user_tz(const struct nd_rt *rt, const struct nd_user *u)
{
	const struct nd_tz *tz = NULL;

	if (nd_tzcache_get(rt->tz, u ? u->tz : NULL, &tz) != GH_OK &&
	    nd_tzcache_get(rt->tz, NULL, &tz) != GH_OK)
		return NULL;
	return tz;
}

/* "2026-06-11 08:00" in zone tz. */
static void
local_time(const struct nd_tz *tz, int64_t ms, char *out, size_t cap)
{
	struct nd_civil c;
	int64_t s = nd_floor_div(ms, 1000);

	nd_civil_from_secs(s + (tz ? nd_tz_offset(tz, s, NULL) : 0), &c);
	snprintf(out, cap, "%04lld-%02d-%02d %02d:%02d", (long long)c.year,
	         c.mon, c.mday, c.hour, c.min);
}

void
nd_digest_sched(const struct nd_rt *rt, const struct nd_user *u,
                struct nd_digest_spec *s)
{
	const json_t *dg = json_object_get(u ? u->prefs : NULL, "digest");
	const char *every = json_string_value(json_object_get(dg, "every"));
	const char *at = json_string_value(json_object_get(dg, "at"));
	const char *day = json_string_value(json_object_get(dg, "day"));
	int m;

	s->at = rt->digest_at;
	s->wday = -1;
	if (at && nd_hhmm_parse(at, &m) == GH_OK)
		s->at = m;
	if (every && strcmp(every, "weekly") == 0 && day &&
	    nd_weekday_parse(day, &m) == GH_OK)
		s->wday = m;
}

gh_err
nd_digest_hold_txn(struct nd *d, struct gh_txn *txn, struct nd_job *job,
                   struct nd_target *t)
{
	const struct nd_tz *tz = user_tz(job->rt, t->user);
	struct nd_digest_spec s;
	char dkey[GH_USER_MAX + 64], when[32];
	struct gh_event *b;
	json_t *item, *ev;
	int64_t slot;
	gh_err err;

	if (t->user == NULL || tz == NULL)
		return GH_EINVAL;
	item = gh_inbox_item_new(job->ev, d->now, 1);
	if (item == NULL)
		return GH_ENOMEM;
	err = gh_inbox_add_txn(txn, t->user->id, job->id, item, NULL);
	json_decref(item);
	if (err)
		return err;
	nd_digest_sched(job->rt, t->user, &s);
	err = nd_digest_next(&s, tz, d->now, &slot);
	if (err)
		return err;
	snprintf(dkey, sizeof(dkey), "digest:%s:%lld", t->user->id,
	         (long long)slot);
	b = gh_event_new();
	gh_event_set_type(b, "digest");
	gh_event_set_category(b, "system");
	gh_event_set_user(b, t->user->id);
	gh_event_set_title(b, "Your notifications");
	gh_event_set_source(b, "notifyd");
	gh_event_set_priority(b, GH_PRIORITY_NORMAL);
	gh_event_meta_int(b, "slot", slot);
	gh_event_set_dedup_key(b, dkey);
	err = gh_event_finish(b, &ev, NULL, 0);
	if (err)
		return err;
	err = gh_queue_enqueue_txn(txn, ev, d->now, slot - d->now + 86400000LL,
	                           NULL, NULL);
	json_decref(ev);
	if (err)
		return err;
	local_time(tz, slot, when, sizeof(when));
	snprintf(t->reason, sizeof(t->reason), "held for the digest of %s %s",
	         when, t->user->tz ? t->user->tz : "UTC");
	t->next_at = slot;
	return GH_OK;
}

struct gather {
	int64_t slot;
	json_t *items;       /* newest first while gathering */
	uint64_t *ids;
	size_t n;
	int oom;
};

static int
gather_row(uint64_t id, const json_t *it, void *arg)
{
	struct gather *g = arg;
	json_t *copy;

	if (json_integer_value(json_object_get(it, "created_at")) > g->slot)
		return 0;
	if (g->n >= DIGEST_ITEMS_MAX)
		return 1;
	copy = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
	                 "title", json_object_get(it, "title"),
	                 "message", json_object_get(it, "message"),
	                 "type", json_object_get(it, "type"),
	                 "category", json_object_get(it, "category"),
	                 "created_at", json_object_get(it, "created_at"),
	                 "action_url", json_object_get(it, "action_url"));
	if (copy == NULL || json_array_append_new(g->items, copy) != 0) {
		g->oom = 1;
		return 1;
	}
	g->ids[g->n++] = id;
	return 0;
}

/* Append s (at most max bytes, cut on a character) to the text. */
static void
text_add(char *buf, size_t *len, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0, room = DIGEST_TEXT_MAX - 1 - *len;

	if (n > max)
		n = gh_utf8_cut(s, n, max);
	if (n > room)
		n = gh_utf8_cut(s, n, room);
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

gh_err
nd_digest_gather_txn(struct nd *d, struct gh_txn *txn, struct nd_job *job,
                     struct nd_user *u)
{
	const struct nd_tz *tz = user_tz(job->rt, u);
	struct gather g = {job->digest_slot, json_array(), NULL, 0, 0};
	json_t *ordered = NULL;
	char *text = NULL, title[96];
	size_t tl = 0;
	gh_err err = GH_ENOMEM;

	(void)d;
	if (nd_job_vars(job) == NULL)
		return GH_ENOMEM;
	g.ids = calloc(DIGEST_ITEMS_MAX, sizeof(*g.ids));
	text = malloc(DIGEST_TEXT_MAX);
	ordered = json_array();
	if (g.items == NULL || g.ids == NULL || text == NULL || ordered == NULL)
		goto cleanup;
	text[0] = '\0';
	err = gh_inbox_list_txn(txn, u->id, GH_INBOX_UNREAD | GH_INBOX_DIGEST, 0,
	                        gather_row, &g);
	if (err == GH_OK && g.oom)
		err = GH_ENOMEM;
	if (err)
		goto cleanup;
	/* oldest first reads better */
	for (size_t i = g.n; i > 0; i--) {
		json_t *it = json_array_get(g.items, i - 1);
		const char *msg = json_string_value(json_object_get(it, "message"));
		char when[32], line[160];

		json_array_append(ordered, it);
		local_time(tz, json_integer_value(json_object_get(it,
		           "created_at")), when, sizeof(when));
		text_add(text, &tl, "* ", 2);
		text_add(text, &tl, json_string_value(json_object_get(it, "title")),
		         200);
		snprintf(line, sizeof(line), " (%s)\n", when);
		text_add(text, &tl, line, sizeof(line));
		if (msg && *msg) {
			text_add(text, &tl, "  ", 2);
			text_add(text, &tl, msg, strcspn(msg, "\n") < 300 ?
			         strcspn(msg, "\n") : 300);
			text_add(text, &tl, "\n", 1);
		}
	}
	job->digest_ids = g.ids;
	job->ndigest = g.n;
	g.ids = NULL;
	snprintf(title, sizeof(title), "%zu new notification%s", job->ndigest,
	         job->ndigest == 1 ? "" : "s");
	json_object_set_new(job->vars, "count",
	                    json_integer((json_int_t)job->ndigest));
	json_object_set_new(job->vars, "items", ordered);
	ordered = NULL;
	json_object_set_new(job->vars, "items_text", json_string(text));
	json_object_set_new(job->vars, "title", json_string(title));
	json_object_set_new(job->vars, "message", json_string(text));
	err = GH_OK;
cleanup:
	json_decref(g.items);
	json_decref(ordered);
	free(g.ids);
	free(text);
	return err;
}

gh_err
nd_digest_mark_txn(struct nd *d, struct gh_txn *txn, const struct nd_job *job)
{
	for (size_t i = 0; i < job->ndigest; i++) {
		json_t *it = NULL;
		gh_err err = gh_inbox_get_txn(txn, job->user, job->digest_ids[i],
		                              &it);

		if (err == GH_ENOTFOUND)
			continue;
		if (err)
			return err;
		json_object_set_new(it, "digested_at", json_integer(d->now));
		err = gh_inbox_put_txn(txn, job->user, job->digest_ids[i], it);
		json_decref(it);
		if (err)
			return err;
	}
	return GH_OK;
}
