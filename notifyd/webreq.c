/*
 * webreq.c - the core's end of the web face: requests the web domain
 * writes into its outbox (webreq.h) checked and applied to the core
 * store.  Everything is checked again here: the web worker that wrote
 * the request is assumed compromised (docs/security.md).
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/json.h"
#include "gatehouse/records.h"
#include "gatehouse/users.h"
#include "webreq.h"

int
nd_webreq_is(const json_t *ev)
{
	const char *t = json_string_value(json_object_get(ev, "type"));

	return t != NULL && strncmp(t, "web.", 4) == 0;
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

		if (!gh_json_only_members(md, m, NULL) ||
		    !json_is_integer(json_object_get(md, "id")) || id <= 0) {
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

		if (!gh_json_only_members(md, m, NULL) || !json_is_object(pr) ||
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

		if (!gh_json_only_members(md, m, NULL) || !json_is_object(s) ||
		    !gh_json_only_members(s, sm, NULL)) {
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

		if (!gh_json_only_members(md, m, NULL) || e == NULL ||
		    strlen(e) == 0 || strlen(e) > 2048) {
			snprintf(why, wlen, "%s: metadata.endpoint must be a "
			         "URL", t);
			return GH_EINVAL;
		}
	} else if (strcmp(t, "web.unsubscribe") == 0) {
		static const char *const m[] = {"address", "list", NULL};
		const char *a = json_string_value(json_object_get(md,
		                                                  "address"));
		const char *l = json_string_value(json_object_get(md, "list"));
		char norm[GH_ADDR_MAX + 1];

		if (!gh_json_only_members(md, m, NULL) || a == NULL || l == NULL ||
		    gh_addr_normalize(a, norm, sizeof(norm)) != GH_OK ||
		    strlen(l) > GH_LIST_MAX) {
			snprintf(why, wlen, "%s: metadata must be {address, "
			         "list} (an address, a list id or \"\")", t);
			return GH_EINVAL;
		}
	} else {
		snprintf(why, wlen, "unknown web request '%.64s'", t);
		return GH_EINVAL;
	}
	return GH_OK;
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
	/* Only users the core knows: a request that would make the core
	 * keep records for an id nobody told it of is refused, or a
	 * compromised web worker could fill the core's store with users it
	 * invents (docs/security.md, "The web face").  Marks and removals
	 * create nothing and answer as for a known user. */
	if (strcmp(t, "web.prefs") == 0 || strcmp(t, "web.push_add") == 0) {
		err = gh_user_known_txn(txn, user);
		if (err == GH_ENOTFOUND) {
			snprintf(why, wlen, "%s: unknown user", t);
			return GH_EINVAL;
		}
		if (err)
			return err;
	}
	if (strcmp(t, "web.inbox_read") == 0) {
		err = gh_inbox_mark_read_txn(txn, user, (uint64_t)
		    json_integer_value(json_object_get(md, "id")), now, NULL);
	} else if (strcmp(t, "web.inbox_read_all") == 0) {
		err = gh_inbox_mark_read_txn(txn, user, 0, now, NULL);
	} else if (strcmp(t, "web.prefs") == 0) {
		err = gh_prefs_put_txn(txn, user, json_object_get(md, "prefs"),
		                       now);
	} else if (strcmp(t, "web.push_add") == 0) {
		err = gh_push_add_txn(txn, user, json_object_get(md,
		                      "subscription"), now, why, wlen);
	} else if (strcmp(t, "web.push_remove") == 0) {
		err = gh_push_remove_txn(txn, user, json_string_value(
		    json_object_get(md, "endpoint")), now);
	} else if (strcmp(t, "web.unsubscribe") == 0) {
		/* as a "sup" message from the web bridge (pickup.c) */
		err = gh_suppress_add_txn(txn, json_string_value(
		    json_object_get(md, "address")), json_string_value(
		    json_object_get(md, "list")), "unsubscribed", "web", now);
	} else {
		snprintf(why, wlen, "unknown web request");
		return GH_EINVAL;
	}
	/* Nothing of this user's to change: the same answer as a change,
	 * so a request tells its sender nothing about other users. */
	if (err == GH_ENOTFOUND)
		err = GH_OK;
	if (err == GH_ETOOBIG && why[0] == '\0')
		snprintf(why, wlen, "%s: the user's record would exceed %d "
		         "bytes", t, GH_RECORD_MAX);
	if (nd_webreq_refused(err) && why[0] == '\0')
		snprintf(why, wlen, "%s: refused by the store: %s", t,
		         gh_strerror(err));
	return err;
}

int
nd_webreq_refused(gh_err err)
{
	switch (err) {
	case GH_OK:
	/* the store cannot take anything now: the whole batch again later */
	case GH_ENOMEM:
	case GH_EIO:
	case GH_EACCES:
	case GH_ELOCKED:
	case GH_EFULL:
	case GH_ECORRUPT:
	case GH_EVERSION:
	case GH_EREADONLY:
		return 0;
	default:
		/* this request's fault (EINVAL, ETOOBIG, ...): checked before
		 * anything of it is written, so the batch goes on */
		return 1;
	}
}
