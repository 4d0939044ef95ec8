/*
 * resolve.c - who gets an event, on which channel, at which address.
 *
 * AUDIENCES, in this order (a (channel, recipient) pair is kept once):
 *   1. the event's user;
 *   2. the event's recipients: "user-id", "CHANNEL:ADDRESS" (CHANNEL a
 *      configured instance) or {"channel": CHANNEL, "to": ADDRESS}; the
 *      word "admins" stands for whoever the routes below name (an event
 *      with no user of its own, such as an anonymous infected upload or
 *      a sender over its rate limit), or when none takes the event, the
 *      admin_addresses (admins_default());
 *   3. every [route.NAME] whose types, categories, sources and user_match
 *      fit the event: its users, its channels (sent the event as it is,
 *      recipient "*") and its addresses.
 *   4. a login alert (login.*) whose user has no contacts: the user's
 *      local mailbox, or for system accounts the admin_addresses when no
 *      route took it ([notifyd] login_fallback; see login_fallback()).
 *
 * A USER is told according to their preferences (users.h):
 *   - the category's mode: prefs.categories[category], else "off" for
 *     [notifyd] opt_in_categories and "on" for the rest.  security is
 *     always "on"; an urgent event is never held for a digest.
 *     off    -> nothing (an "@user" record says why)
 *     digest -> the item goes to the inbox for the next digest ("@digest")
 *   - the channels: the event's own channels if it names any, else
 *     [notifyd] default_channels plus those the user turned on
 *     (prefs.channels NAME-or-KIND = true), minus those turned off
 *     (= false).  Security events always reach security_channels (or the
 *     default channels), whatever the user turned off.
 *   - the address on each channel from the user's contacts: email for
 *     smtp, phone for sms, every push subscription for webpush, the user
 *     id for the inbox, the user's chat entry for the channel (or its
 *     kind) or else the user id for webhook, chat, ntfy and gotify.
 *     A missing address is recorded as skipped.
 *
 * Quiet hours are not decided here but when a delivery is about to start
 * (start.c), so an event that waited is judged at the time it would go.
 *
 * Everything here runs inside one read transaction per leased batch and
 * only reads the store.
 */
#include <fnmatch.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatehouse/deliveries.h"
#include "gatehouse/users.h"
#include "core/mime.h"
#include "nd.h"

#define SYSTEM_UID_MAX 999

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

struct nd_target *
nd_target_add(struct nd_job *job, struct nd_chan *ch, const char *chname,
              const char *recipient, struct nd_user *u)
{
	struct nd_target *t;

	if (chname == NULL)
		chname = ch->name;
	/* Its record's key must fit LMDB's 511 bytes; an address that long
	 * is not one anyone can receive at. */
	if (8 + strlen(chname) + 1 + strlen(recipient) > GH_DELIVERY_KEY_MAX)
		return NULL;
	for (size_t i = 0; i < job->nt; i++)
		if (strcmp(job->t[i].chname, chname) == 0 &&
		    strcmp(job->t[i].recipient, recipient) == 0)
			return NULL;
	if (job->nt == job->tcap) {
		size_t cap = job->tcap ? job->tcap * 2 : 4;
		struct nd_target *nt = realloc(job->t, cap * sizeof(*nt));

		if (nt == NULL)
			return NULL;
		job->t = nt;
		job->tcap = cap;
	}
	t = &job->t[job->nt];
	memset(t, 0, sizeof(*t));
	t->recipient = strdup(recipient);
	if (t->recipient == NULL)
		return NULL;
	t->ch = ch;
	snprintf(t->chname, sizeof(t->chname), "%s", chname);
	t->user = u;
	job->nt++;
	return t;
}

/* A target settled at once (skipped, held): recorded, never sent. */
static void
add_note(struct nd_job *job, struct nd_chan *ch, const char *chname,
         const char *rcpt, struct nd_user *u, enum nd_tstate st,
         const char *why)
{
	struct nd_target *t = nd_target_add(job, ch, chname, rcpt, u);

	if (t == NULL)
		return;
	t->st = st;
	t->dirty = 1;
	snprintf(t->reason, sizeof(t->reason), "%s", why);
}

static struct nd_user *
user_get(struct gh_txn *txn, struct nd_job *job, const char *id)
{
	struct nd_user *u;
	const json_t *q;
	const char *s, *e;
	int a, b;

	for (size_t i = 0; i < job->nusers; i++)
		if (strcmp(job->users[i]->id, id) == 0)
			return job->users[i];
	if (!gh_user_id_ok(id))
		return NULL;
	if (job->nusers == job->ucap) {
		size_t cap = job->ucap ? job->ucap * 2 : 4;
		struct nd_user **nu = realloc(job->users, cap * sizeof(*nu));

		if (nu == NULL)
			return NULL;
		job->users = nu;
		job->ucap = cap;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->id = strdup(id);
	if (u->id == NULL) {
		free(u);
		return NULL;
	}
	job->users[job->nusers++] = u;
	if (gh_contacts_get_txn(txn, id, &u->contacts) != GH_OK)
		u->contacts = NULL;
	if (gh_prefs_get_txn(txn, id, &u->prefs) != GH_OK)
		u->prefs = NULL;
	u->tz = jstr(u->contacts, "tz");
	u->name = jstr(u->contacts, "name");
	u->lang = jstr(u->contacts, "lang");
	q = json_object_get(u->prefs, "quiet");
	s = jstr(q, "start");
	e = jstr(q, "end");
	if (s && e && nd_hhmm_parse(s, &a) == GH_OK &&
	    nd_hhmm_parse(e, &b) == GH_OK && a != b) {
		u->quiet_set = 1;
		u->quiet.start = a;
		u->quiet.end = b;
	}
	return u;
}

/* The user's own switch for a channel: 1 on, 0 off, -1 not said. */
static int
user_switch(const struct nd_user *u, const struct nd_chan *ch)
{
	const json_t *c = json_object_get(u->prefs, "channels");
	const json_t *v = json_object_get(c, ch->name);

	if (v == NULL)
		v = json_object_get(c, ch->kind->name);
	if (json_is_boolean(v))
		return json_is_true(v);
	return -1;
}

static void
add_channel(struct nd_job *job, struct nd_chan *ch, struct nd_user *u)
{
	const json_t *c = u->contacts, *push, *sub;
	const char *v;
	char why[160];
	size_t i;

	switch (ch->kind->contact) {
	case ND_CONTACT_EMAIL:
	case ND_CONTACT_PHONE: {
		const char *what = ch->kind->contact == ND_CONTACT_EMAIL ?
		                   "email" : "phone";

		v = jstr(c, what);
		if (v) {
			nd_target_add(job, ch, NULL, v, u);
		} else {
			snprintf(why, sizeof(why), "%s has no %s in their contacts",
			         u->id, what);
			add_note(job, ch, NULL, u->id, u, ND_T_SKIPPED, why);
		}
		break;
	}
	case ND_CONTACT_PUSH:
		push = json_object_get(c, "push");
		if (json_array_size(push) == 0) {
			snprintf(why, sizeof(why), "%s has no push subscription",
			         u->id);
			add_note(job, ch, NULL, u->id, u, ND_T_SKIPPED, why);
			break;
		}
		json_array_foreach(push, i, sub) {
			char rcpt[ND_PUSH_RCPT_LEN];
			struct nd_target *t;

			nd_push_recipient(jstr(sub, "endpoint"), rcpt);
			t = nd_target_add(job, ch, NULL, rcpt, u);
			if (t)
				t->contact = json_incref((json_t *)sub);
		}
		break;
	case ND_CONTACT_USER:
		nd_target_add(job, ch, NULL, u->id, u);
		break;
	case ND_CONTACT_CHAT: {
		/* the user's own entry (an ntfy topic, "#room"), else the id */
		const json_t *chat = json_object_get(c, "chat");

		v = jstr(chat, ch->name);
		if (v == NULL)
			v = jstr(chat, ch->kind->name);
		nd_target_add(job, ch, NULL, v ? v : u->id, u);
		break;
	}
	}
}

static int
chans_has(const struct nd_chans *l, const struct nd_chan *ch)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == ch)
			return 1;
	return 0;
}

/* Channels named by the event: instance names, or kinds for all of them. */
static void
named_channels(struct nd_job *job, const json_t *names, struct nd_chans *out,
               struct nd_chan **buf, size_t cap)
{
	const json_t *n;
	size_t i;

	out->v = buf;
	out->n = 0;
	json_array_foreach(names, i, n) {
		const char *s = json_string_value(n);
		int found = 0;

		for (size_t k = 0; s && k < job->rt->nchans; k++) {
			struct nd_chan *ch = &job->rt->chans[k];

			if (strcmp(ch->name, s) && strcmp(ch->kind->name, s))
				continue;
			found = 1;
			if (!chans_has(out, ch) && out->n < cap)
				out->v[out->n++] = ch;
		}
		if (!found && s) {
			char why[160];

			snprintf(why, sizeof(why), "the event names channel '%s', "
			         "which is not configured", s);
			add_note(job, NULL, "@event", s, NULL, ND_T_SKIPPED, why);
		}
	}
}

/* The user's mode for the event's category: "on", "off" or "digest". */
static const char *
category_mode(const struct nd_job *job, const struct nd_user *u)
{
	const char *mode;

	if (job->category && strcmp(job->category, "security") == 0)
		return "on";
	mode = jstr(json_object_get(u->prefs, "categories"), job->category);
	if (mode == NULL)
		mode = nd_words_has(&job->rt->opt_in, job->category) ? "off" :
		       "on";
	if (job->priority >= GH_PRIORITY_URGENT && strcmp(mode, "digest") == 0)
		mode = "on";
	return mode;
}

static void
add_user(struct gh_txn *txn, struct nd_job *job, const char *id,
         const json_t *names)
{
	struct nd_rt *rt = job->rt;
	struct nd_user *u = user_get(txn, job, id);
	const char *mode;
	int security = job->category && strcmp(job->category, "security") == 0;
	struct nd_chan *buf[64];
	struct nd_chans base;
	const struct nd_chans *must;
	char why[160];

	if (u == NULL)
		return;
	mode = category_mode(job, u);
	if (strcmp(mode, "off") == 0) {
		snprintf(why, sizeof(why), "%s has %s notifications off", u->id,
		         job->category);
		add_note(job, NULL, "@user", u->id, u, ND_T_SKIPPED, why);
		return;
	}
	if (strcmp(mode, "digest") == 0) {
		struct nd_target *t = nd_target_add(job, NULL, "@digest", u->id, u);

		if (t) {
			t->st = ND_T_LOCAL;
			snprintf(t->reason, sizeof(t->reason), "%s gets %s "
			         "notifications in a digest", u->id, job->category);
		}
		return;
	}
	if (json_array_size(names) > 0) {
		named_channels(job, names, &base, buf, sizeof(buf) / sizeof(buf[0]));
	} else {
		base.v = buf;
		base.n = 0;
		for (size_t i = 0; i < rt->defaults.n && base.n < 64; i++)
			base.v[base.n++] = rt->defaults.v[i];
		for (size_t i = 0; i < rt->nchans && base.n < 64; i++)
			if (user_switch(u, &rt->chans[i]) == 1 &&
			    !chans_has(&base, &rt->chans[i]))
				base.v[base.n++] = &rt->chans[i];
	}
	must = rt->security_set ? &rt->security : &rt->defaults;
	if (security)
		for (size_t i = 0; i < must->n && base.n < 64; i++)
			if (!chans_has(&base, must->v[i]))
				base.v[base.n++] = must->v[i];
	for (size_t i = 0; i < base.n; i++) {
		struct nd_chan *ch = base.v[i];

		if (user_switch(u, ch) == 0 && !(security && chans_has(must, ch))) {
			snprintf(why, sizeof(why), "%s turned %s off", u->id,
			         ch->name);
			add_note(job, ch, NULL, u->id, u, ND_T_SKIPPED, why);
			continue;
		}
		add_channel(job, ch, u);
	}
}

static int
is_system_user(const char *id, const struct nd_user *u)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(id, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return pw.pw_uid <= SYSTEM_UID_MAX;
	return u == NULL || u->contacts == NULL;
}

static int
route_matches(struct gh_txn *txn, struct nd_job *job,
              const struct nd_route *ro)
{
	int ok = 0;

	for (size_t i = 0; i < ro->types.n && !ok; i++)
		ok = fnmatch(ro->types.v[i], job->type, 0) == 0;
	if (!ok)
		return 0;
	if (ro->categories.n && !nd_words_has(&ro->categories, job->category))
		return 0;
	if (ro->sources.n && !nd_words_has(&ro->sources, job->source))
		return 0;
	if (ro->match != ND_UM_ANY) {
		struct nd_user *u = job->user ? user_get(txn, job, job->user) :
		                    NULL;

		if (job->user == NULL)
			return 0;
		if (ro->match == ND_UM_UNKNOWN)
			return u == NULL || u->contacts == NULL;
		return is_system_user(job->user, u);
	}
	return 1;
}

static void
add_address(struct nd_job *job, struct nd_chan *ch, const char *to)
{
	struct nd_target *t = nd_target_add(job, ch, NULL, to, NULL);

	(void)t;
}

static void
add_recipients(struct gh_txn *txn, struct nd_job *job, const json_t *names,
               int *admins)
{
	const json_t *r;
	size_t i;

	json_array_foreach(json_object_get(job->ev, "recipients"), i, r) {
		const char *s = json_string_value(r);

		if (json_is_object(r)) {
			struct nd_chan *ch = nd_rt_chan(job->rt, jstr(r, "channel"));
			const char *to = jstr(r, "to");

			if (ch && to && *to)
				add_address(job, ch, to);
			else
				add_note(job, NULL, "@event", "recipient", NULL,
				         ND_T_SKIPPED, "a recipient names no configured "
				         "channel or no address");
			continue;
		}
		if (s == NULL || *s == '\0')
			continue;
		/* "admins": whoever the routes for this event name */
		if (strcmp(s, "admins") == 0) {
			*admins = 1;
			continue;
		}
		{
			const char *colon = strchr(s, ':');
			char name[ND_NAME_MAX + 1];
			struct nd_chan *ch = NULL;

			if (colon && (size_t)(colon - s) <= ND_NAME_MAX) {
				memcpy(name, s, (size_t)(colon - s));
				name[colon - s] = '\0';
				ch = nd_rt_chan(job->rt, name);
			}
			if (ch && colon[1])
				add_address(job, ch, colon + 1);
			else
				add_user(txn, job, s, names);
		}
	}
}

/*
 * [notifyd] login_fallback: a login alert (login.*) whose user has no
 * contacts in the store would reach nobody who reads mail -- at most an
 * inbox no one opens on a new server.  Then:
 *   - a user with an account of their own (uid 1000 and above): mail to
 *     USER@localhost, the local mailbox, through the local MTA (local);
 *   - root, a system account, a name with no account (a failed burst for
 *     "oracle"), or anyone with login_fallback = admin: mail to the
 *     admin_addresses -- unless a [route.*] took the event, as the routes
 *     are then the admins the configuration chose.
 * A user who turned the category off is left alone.
 */
static void
login_fallback(struct gh_txn *txn, struct nd_job *job, int routed)
{
	struct nd_rt *rt = job->rt;
	struct nd_user *u;
	const char *name;
	char to[GH_USER_MAX + sizeof("@localhost")], why[160];

	if (rt->fallback == ND_FB_NONE || job->user == NULL ||
	    strncmp(job->type, "login.", 6) != 0)
		return;
	u = user_get(txn, job, job->user);
	if (u == NULL || u->contacts != NULL ||
	    strcmp(category_mode(job, u), "off") == 0)
		return;
	if (rt->fallback == ND_FB_LOCAL && !is_system_user(u->id, u)) {
		if (rt->fallback_ch == NULL)
			goto no_channel;
		snprintf(to, sizeof(to), "%s@localhost", u->id);
		if (!nd_mime_addr_ok(to)) {
			snprintf(why, sizeof(why), "login_fallback: '%s' is "
			         "not a mailbox name", u->id);
			add_note(job, NULL, "@fallback", u->id, u, ND_T_SKIPPED,
			         why);
			return;
		}
		nd_target_add(job, rt->fallback_ch, NULL, to, u);
		return;
	}
	if (routed)
		return;
	if (rt->fallback_ch == NULL)
		goto no_channel;
	if (rt->admins.n == 0)
		add_note(job, NULL, "@fallback", u->id, u, ND_T_SKIPPED,
		         "login_fallback: admin_addresses is empty");
	for (size_t i = 0; i < rt->admins.n; i++)
		add_address(job, rt->fallback_ch, rt->admins.v[i]);
	return;
no_channel:
	name = gh_conf_str(rt->conf, "notifyd", "login_fallback_channel");
	snprintf(why, sizeof(why), "login_fallback: %s has no contacts and "
	         "there is no smtp channel %s to mail through", u->id,
	         name ? name : "mail");
	add_note(job, NULL, "@fallback", u->id, u, ND_T_SKIPPED, why);
}

/*
 * "admins" with no [route.*] taking the event: the admin_addresses, mailed
 * through login_fallback_channel (the local MTA in the shipped
 * configuration), so that an event for the admins -- a sender over its
 * rate limit, an anonymous infected upload, a store nearly full -- reaches
 * someone without a route of its own.  The routes, when any takes the
 * event, are the admins the configuration chose instead.
 */
static void
admins_default(struct nd_job *job)
{
	struct nd_rt *rt = job->rt;
	const char *name;
	char why[160];

	if (rt->admin_ch != NULL && rt->admins.n > 0) {
		for (size_t i = 0; i < rt->admins.n; i++)
			add_address(job, rt->admin_ch, rt->admins.v[i]);
		return;
	}
	name = gh_conf_str(rt->conf, "notifyd", "login_fallback_channel");
	if (rt->admins.n == 0)
		snprintf(why, sizeof(why), "the event is for the admins: no "
		         "[route.*] takes %s events and admin_addresses is "
		         "empty", job->type);
	else
		snprintf(why, sizeof(why), "the event is for the admins: no "
		         "[route.*] takes %s events and there is no smtp "
		         "channel %s to mail admin_addresses through", job->type,
		         name ? name : "mail");
	add_note(job, NULL, "@event", "admins", NULL, ND_T_SKIPPED, why);
}

/* Earlier records decide what is left to do. */
static void
apply_records(struct nd *d, struct nd_job *job)
{
	int requeued = json_integer_value(json_object_get(
	    json_object_get(job->ev, "q"), "attempts")) == 0;

	for (size_t i = 0; i < job->nt; i++) {
		struct nd_target *t = &job->t[i];
		json_t *rec = nd_record_find(job->records, t->chname,
		                             t->recipient);
		struct gh_delivery dl;
		enum nd_tstate st;

		/* records load only when readable (gatehouse/deliveries.h) */
		if (rec == NULL || gh_delivery_read(rec, &dl) != GH_OK)
			continue;
		st = nd_tstate_parse(dl.state);
		t->dirty = 0;
		t->attempts = (int)dl.attempts;
		t->status = (long)dl.http_status;
		snprintf(t->error, sizeof(t->error), "%s",
		         dl.last_error ? dl.last_error : "");
		snprintf(t->reason, sizeof(t->reason), "%s", dl.reason);
		t->delivered_at = dl.delivered_at;
		/* An admin's `gatehouse events retry` resets the event's
		 * attempts: what died is tried again, from scratch.  (notifyd
		 * never leaves a dead delivery behind an event with none.) */
		if (requeued && (st == ND_T_DEAD || st == ND_T_EXPIRED)) {
			t->st = ND_T_NEW;
			t->attempts = 0;
			continue;
		}
		if (nd_tstate_final(st)) {
			t->st = st;
			continue;
		}
		t->next_at = dl.next_at;
		t->st = t->next_at > d->now ? st : ND_T_NEW;
	}
}

static gh_err
resolve_digest(struct nd *d, struct gh_txn *txn, struct nd_job *job)
{
	struct nd_rt *rt = job->rt;
	struct nd_user *u;
	const json_t *names;
	struct nd_chan *buf[64];
	struct nd_chans l;
	gh_err err;

	job->digest_slot = json_integer_value(json_object_get(
	    json_object_get(job->ev, "metadata"), "slot"));
	if (job->digest_slot > d->now || job->user == NULL)
		return GH_OK;   /* too early: the dispatcher defers it */
	u = user_get(txn, job, job->user);
	if (u == NULL)
		return GH_OK;
	err = nd_digest_gather_txn(d, txn, job, u);
	if (err)
		return err;
	if (job->ndigest == 0) {
		add_note(job, NULL, "@digest", u->id, u, ND_T_SKIPPED,
		         "nothing to send");
		return GH_OK;
	}
	names = json_object_get(json_object_get(u->prefs, "digest"), "channels");
	if (json_array_size(names) > 0) {
		named_channels(job, names, &l, buf, sizeof(buf) / sizeof(buf[0]));
	} else if (rt->digest_set) {
		l = rt->digest;
	} else {
		l.v = buf;
		l.n = 0;
		for (size_t i = 0; i < rt->nchans && l.n < 64; i++) {
			struct nd_chan *ch = &rt->chans[i];
			int sw = user_switch(u, ch);

			if (strcmp(ch->kind->name, "smtp") == 0 &&
			    (sw == 1 || (sw == -1 && chans_has(&rt->defaults, ch))))
				l.v[l.n++] = ch;
		}
	}
	for (size_t i = 0; i < l.n; i++)
		add_channel(job, l.v[i], u);
	if (job->nt == 0)
		add_note(job, NULL, "@digest", u->id, u, ND_T_SKIPPED,
		         "no channel to send the digest on");
	return GH_OK;
}

gh_err
nd_resolve_txn(struct nd *d, struct gh_txn *txn, struct nd_job *job)
{
	const json_t *names = json_object_get(job->ev, "channels");
	int admins = 0, routed = 0;
	gh_err err;

	err = nd_records_load_txn(txn, job->id, &job->records);
	if (err)
		return err;
	if (job->digest) {
		err = resolve_digest(d, txn, job);
	} else {
		if (job->user)
			add_user(txn, job, job->user, names);
		add_recipients(txn, job, names, &admins);
		for (size_t i = 0; i < job->rt->nroutes; i++) {
			const struct nd_route *ro = &job->rt->routes[i];

			if (!route_matches(txn, job, ro))
				continue;
			routed++;
			for (size_t k = 0; k < ro->users.n; k++)
				add_user(txn, job, ro->users.v[k], NULL);
			for (size_t k = 0; k < ro->chans.n; k++)
				nd_target_add(job, ro->chans.v[k], NULL, "*", NULL);
			for (size_t k = 0; k < ro->naddrs; k++)
				add_address(job, ro->addrs[k].ch, ro->addrs[k].to);
		}
		login_fallback(txn, job, routed);
		if (admins && routed == 0)
			admins_default(job);
	}
	apply_records(d, job);
	return err;
}
