/*
 * webreq.c - the core's end of the web face: requests the web domain
 * writes into its outbox (webreq.h) checked and applied to the core
 * store.  Everything is checked again here: the web worker that wrote
 * the request is assumed compromised (docs/security.md).
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/users.h"
#include "webreq.h"

int
nd_webreq_is(const json_t *ev)
{
	const char *t = json_string_value(json_object_get(ev, "type"));

	return t != NULL && strncmp(t, "web.", 4) == 0;
}

/* Only these members in o. */
static int
only(const json_t *o, const char *const *names)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		size_t i;

		for (i = 0; names[i] && strcmp(names[i], k) != 0; i++)
			;
		if (names[i] == NULL)
			return 0;
	}
	return 1;
}

gh_err
nd_webreq_check(const json_t *ev, char *why, size_t wlen)
{
	const char *t = json_string_value(json_object_get(ev, "type"));
	const char *user = json_string_value(json_object_get(ev, "user"));
	const json_t *md = json_object_get(ev, "metadata");
	char detail[200];

	why[0] = '\0';
	if (t == NULL || user == NULL || !gh_user_id_ok(user)) {
		snprintf(why, wlen, "a web request needs a type and a user");
		return GH_EINVAL;
	}
	if (json_object_get(ev, "recipients") || json_object_get(ev,
	    "channels")) {
		snprintf(why, wlen, "a web request names no recipients or "
		         "channels");
		return GH_EINVAL;
	}
	if (!json_is_object(md)) {
		snprintf(why, wlen, "%s: metadata must be an object", t);
		return GH_EINVAL;
	}
	if (strcmp(t, "web.inbox_read") == 0) {
		static const char *const m[] = {"id", NULL};
		json_int_t id = json_integer_value(json_object_get(md, "id"));

		if (!only(md, m) || !json_is_integer(json_object_get(md, "id"))
		    || id <= 0) {
			snprintf(why, wlen, "%s: metadata.id must be an item's "
			         "id", t);
			return GH_EINVAL;
		}
	} else if (strcmp(t, "web.inbox_read_all") == 0) {
		if (json_object_size(md) != 0) {
			snprintf(why, wlen, "%s: metadata must be {}", t);
			return GH_EINVAL;
		}
	} else if (strcmp(t, "web.prefs") == 0) {
		static const char *const m[] = {"prefs", NULL};
		const json_t *pr = json_object_get(md, "prefs");

		if (!only(md, m) || !json_is_object(pr) ||
		    json_object_get(pr, "v") || json_object_get(pr,
		    "updated_at") || gh_prefs_validate(pr, detail,
		    sizeof(detail)) != GH_OK) {
			snprintf(why, wlen, "%s: %s", t, pr && json_is_object(pr)
			         && !json_object_get(pr, "v") &&
			         !json_object_get(pr, "updated_at") ? detail :
			         "metadata.prefs must be preferences");
			return GH_EINVAL;
		}
	} else if (strcmp(t, "web.push_add") == 0) {
		static const char *const m[] = {"subscription", NULL};
		static const char *const sm[] = {"endpoint", "keys", NULL};
		const json_t *s = json_object_get(md, "subscription");
		json_t *probe;
		gh_err err;

		if (!only(md, m) || !json_is_object(s) || !only(s, sm)) {
			snprintf(why, wlen, "%s: metadata.subscription must be "
			         "{endpoint, keys}", t);
			return GH_EINVAL;
		}
		/* the contacts check: https endpoint, base64url keys */
		probe = json_pack("{s:[O]}", "push", s);
		err = probe ? gh_contacts_validate(probe, detail,
		                                   sizeof(detail)) : GH_ENOMEM;
		json_decref(probe);
		if (err) {
			snprintf(why, wlen, "%s: %s", t, detail);
			return GH_EINVAL;
		}
	} else if (strcmp(t, "web.push_remove") == 0) {
		static const char *const m[] = {"endpoint", NULL};
		const char *e = json_string_value(json_object_get(md,
		                                                  "endpoint"));

		if (!only(md, m) || e == NULL || strlen(e) == 0 ||
		    strlen(e) > 2048) {
			snprintf(why, wlen, "%s: metadata.endpoint must be a "
			         "URL", t);
			return GH_EINVAL;
		}
	} else {
		snprintf(why, wlen, "unknown web request '%.64s'", t);
		return GH_EINVAL;
	}
	return GH_OK;
}

/* Add (or replace, by endpoint) a subscription in user's contacts. */
static gh_err
push_add(struct gh_txn *txn, const char *user, const json_t *sub,
         int64_t now, char *why, size_t wlen)
{
	json_t *rec = NULL, *push, *copy;
	const char *ep = json_string_value(json_object_get(sub, "endpoint"));
	char detail[200];
	size_t i;
	json_t *s = NULL;
	gh_err err = gh_contacts_get_txn(txn, user, &rec);

	if (err == GH_ENOTFOUND) {
		rec = json_object();
		err = rec ? GH_OK : GH_ENOMEM;
	}
	if (err)
		return err;
	push = json_object_get(rec, "push");
	if (push == NULL) {
		push = json_array();
		json_object_set_new(rec, "push", push);
	}
	json_array_foreach(push, i, s)
		if (strcmp(json_string_value(json_object_get(s, "endpoint")) ?
		           json_string_value(json_object_get(s, "endpoint")) :
		           "", ep) == 0)
			break;
	copy = json_deep_copy(sub);
	if (copy == NULL) {
		json_decref(rec);
		return GH_ENOMEM;
	}
	if (i < json_array_size(push)) {
		json_t *at = json_object_get(s, "added_at");

		if (at)
			json_object_set(copy, "added_at", at);
		json_array_set_new(push, i, copy);
	} else if (json_array_size(push) >= GH_PUSH_MAX) {
		json_decref(copy);
		json_decref(rec);
		snprintf(why, wlen, "web.push_add: the user has %d "
		         "subscriptions already", GH_PUSH_MAX);
		return GH_EINVAL;
	} else {
		json_array_append_new(push, copy);
	}
	err = gh_contacts_put_txn(txn, user, rec, now);
	if (err == GH_EINVAL) {
		(void)gh_contacts_validate(rec, detail, sizeof(detail));
		snprintf(why, wlen, "web.push_add: %s", detail);
	}
	json_decref(rec);
	return err;
}

gh_err
nd_webreq_apply_txn(struct gh_txn *txn, const json_t *ev, int64_t now,
                    char *why, size_t wlen)
{
	const char *t = json_string_value(json_object_get(ev, "type"));
	const char *user = json_string_value(json_object_get(ev, "user"));
	const json_t *md = json_object_get(ev, "metadata");
	gh_err err;

	why[0] = '\0';
	if (strcmp(t, "web.inbox_read") == 0) {
		err = gh_inbox_mark_read_txn(txn, user, (uint64_t)
		    json_integer_value(json_object_get(md, "id")), now, NULL);
	} else if (strcmp(t, "web.inbox_read_all") == 0) {
		err = gh_inbox_mark_read_txn(txn, user, 0, now, NULL);
	} else if (strcmp(t, "web.prefs") == 0) {
		err = gh_prefs_put_txn(txn, user, json_object_get(md, "prefs"),
		                       now);
	} else if (strcmp(t, "web.push_add") == 0) {
		err = push_add(txn, user, json_object_get(md, "subscription"),
		               now, why, wlen);
	} else if (strcmp(t, "web.push_remove") == 0) {
		err = gh_push_remove_txn(txn, user, json_string_value(
		    json_object_get(md, "endpoint")), now);
	} else {
		snprintf(why, wlen, "unknown web request");
		return GH_EINVAL;
	}
	/* Nothing of this user's to change: the same answer as a change,
	 * so a request tells its sender nothing about other users. */
	if (err == GH_ENOTFOUND)
		err = GH_OK;
	if (err == GH_EINVAL && why[0] == '\0')
		snprintf(why, wlen, "%s: refused by the store", t);
	return err;
}
