/*
 * users.c - contacts, preferences and the inbox (layouts in users.h and
 * docs/store.md).  Validation is strict on write so that notifyd, which
 * reads these records on every delivery, never has to guess.
 */
#include <stdlib.h>
#include <string.h>

#include "gatehouse/codec.h"
#include "gatehouse/json.h"
#include "gatehouse/records.h"
#include "gatehouse/users.h"
#include "detail_int.h"
#include "replog_int.h"

#define NAME_MAX_LEN 128
#define CHAT_MAX 32
#define CHAT_VALUE_MAX 512
#define ENDPOINT_MAX 2048
#define KEY_B64_MAX 200
#define IKEY_LEN(ul) ((ul) + 1 + 8)

int
gh_user_id_ok(const char *user)
{
	size_t n;

	if (user == NULL)
		return 0;
	n = strlen(user);
	if (n == 0 || n > GH_USER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int
gh_lang_tag_ok(const char *s)
{
	size_t n, i, sub = 0, nsub = 0;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 2 || n > GH_LANG_MAX)
		return 0;
	for (i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '-' || c == '\0') {
			/* the primary subtag: 2 or 3 letters (ISO 639);
			 * later ones: 1 to 8 alphanumerics */
			if (sub == 0 || sub > 8 || (nsub == 0 && sub > 3) ||
			    (nsub == 0 && sub < 2))
				return 0;
			nsub++;
			sub = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (nsub > 0 && c >= '0' && c <= '9')))
			return 0;
		sub++;
	}
	return 1;
}

gh_err
gh_lang_tag_canon(const char *s, char *out, size_t cap)
{
	size_t n, i, start = 0, nsub = 0;

	if (!gh_lang_tag_ok(s) || out == NULL || (n = strlen(s)) >= cap)
		return GH_EINVAL;
	for (i = 0; i <= n; i++) {
		size_t len, k;

		if (s[i] != '-' && s[i] != '\0')
			continue;
		len = i - start;
		for (k = start; k < i; k++) {
			char c = s[k];
			int up = nsub > 0 && ((len == 2 && c >= 'A') ||
			                      (len == 4 && k == start));

			if (up && c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			else if (!up && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			out[k] = c;
		}
		out[i] = s[i];
		start = i + 1;
		nsub++;
	}
	return GH_OK;
}

int
gh_hhmm_ok(const char *s)
{
	int h, m;
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 4 && s[1] == ':' && s[0] >= '0' && s[0] <= '9')
		h = s[0] - '0';
	else if (n == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' &&
	         s[1] >= '0' && s[1] <= '9')
		h = (s[0] - '0') * 10 + (s[1] - '0');
	else
		return 0;
	s += n - 2;
	if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9')
		return 0;
	m = (s[0] - '0') * 10 + (s[1] - '0');
	return h < 24 && m < 60;
}

/* A string member of at most max bytes, or absent. */
static int
opt_str(const json_t *o, const char *k, size_t max, const char **out)
{
	const json_t *v = json_object_get(o, k);

	*out = NULL;
	if (v == NULL)
		return 1;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return 0;
	*out = json_string_value(v);
	return 1;
}

static int
tz_ok(const char *s)
{
	size_t n = strlen(s), comp = 0;

	if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '/') {
			if (comp == 0)
				return 0;
			comp = 0;
			continue;
		}
		if (comp == 0 && (c == '-' || c == '.'))
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-'))
			return 0;
		comp++;
	}
	return 1;
}

static int
phone_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 4 || n > 21 || s[0] != '+')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * The number of bytes s encodes in base64url (padded or not: browsers send
 * it unpadded, some libraries pad), in *n; 0 if s is not base64url.  The
 * codec's own decoder judges it, so what is accepted here is what notifyd
 * can use when it sends.
 */
static int
b64url_size(const char *s, size_t *n)
{
	unsigned char buf[GH_B64_DEC_LEN(KEY_B64_MAX)];
	size_t len = strlen(s);

	*n = 0;
	if (len == 0 || len > KEY_B64_MAX)
		return 0;
	return gh_b64_decode(GH_B64_URL, s, len, buf, sizeof(buf), n) == GH_OK;
}

static gh_err
push_validate(const json_t *p, size_t i, char *detail, size_t dlen)
{
	static const char *const members[] = {"endpoint", "keys", "added_at",
	                                      "expirationTime", NULL};
	static const char *const key_members[] = {"p256dh", "auth", NULL};
	const char *ep, *bk = NULL, *pk, *au;
	size_t pkn = 0, aun = 0;
	const json_t *keys = json_object_get(p, "keys");

	if (!json_is_object(p))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu] is not an object", i);
	if (!gh_json_only_members(p, members, &bk))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu] has unknown member '%s'", i, bk);
	/* https only: push services all use it, and notifyd POSTs to the
	 * endpoint, so a user must not be able to aim it at plain HTTP
	 * services (notifyd checks the scheme again before sending) */
	if (!opt_str(p, "endpoint", ENDPOINT_MAX, &ep) || ep == NULL ||
	    strncmp(ep, "https://", 8) != 0 || ep[8] == '\0')
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu].endpoint must be an https:// URL "
		                 "of at most %d bytes", i, ENDPOINT_MAX);
	if (!json_is_object(keys) || !opt_str(keys, "p256dh", KEY_B64_MAX, &pk) ||
	    !opt_str(keys, "auth", KEY_B64_MAX, &au) || pk == NULL ||
	    au == NULL || !b64url_size(pk, &pkn) || !b64url_size(au, &aun))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu].keys needs p256dh and auth in "
		                 "base64url", i);
	/* nothing else in keys: whatever is stored here goes into the
	 * user's one contacts record, which must stay far below the record
	 * bound (a padded keys object filled it once) */
	if (!gh_json_only_members(keys, key_members, &bk))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu].keys has unknown member '%s'", i, bk);
	/* RFC 8291: a P-256 point of 65 bytes and a secret of 16 */
	if (pkn != 65 || aun != 16)
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu].keys: p256dh must be 65 bytes and "
		                 "auth 16 bytes, in base64url", i);
	if (json_object_get(p, "expirationTime") &&
	    !json_is_integer(json_object_get(p, "expirationTime")) &&
	    !json_is_null(json_object_get(p, "expirationTime")))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu].expirationTime is not a number or "
		                 "null", i);
	if (json_object_get(p, "added_at") &&
	    !json_is_integer(json_object_get(p, "added_at")))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "push[%zu].added_at is not a number", i);
	return GH_OK;
}

gh_err
gh_contacts_validate(const json_t *rec, char *detail, size_t dlen)
{
	static const char *const members[] = {"v", "name", "email", "phone", "tz",
	                                      "lang", "chat", "push",
	                                      "updated_at", NULL};
	const char *s, *bk = NULL;
	const json_t *chat, *push, *v;
	char norm[GH_ADDR_MAX + 1];
	size_t i;

	if (detail && dlen)
		detail[0] = '\0';
	if (!json_is_object(rec))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "contacts are not a JSON object");
	if (!gh_json_only_members(rec, members, &bk))
		return gh_detail(detail, dlen, GH_EINVAL, "unknown member '%s'",
		                 bk);
	if (!opt_str(rec, "name", NAME_MAX_LEN, &s))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "name must be a string of 1-%d bytes",
		                 NAME_MAX_LEN);
	if (!opt_str(rec, "email", GH_ADDR_MAX, &s) ||
	    (s && (gh_addr_normalize(s, norm, sizeof(norm)) ||
	           strchr(s, ' ') || strchr(s, '<'))))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "email is not an address (local@domain)");
	if (!opt_str(rec, "phone", 32, &s) || (s && !phone_ok(s)))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "phone must be '+' and 3-20 digits");
	if (!opt_str(rec, "tz", 255, &s) || (s && !tz_ok(s)))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "tz is not a time zone name (like "
		                 "Europe/Paris)");
	if (!opt_str(rec, "lang", GH_LANG_MAX, &s) ||
	    (s && !gh_lang_tag_ok(s)))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "lang is not a language tag (like ko, en or "
		                 "pt-BR: 2-3 letters, then '-' and 1-8 letters "
		                 "or digits, at most %d bytes)", GH_LANG_MAX);
	chat = json_object_get(rec, "chat");
	if (chat) {
		const char *k;

		if (!json_is_object(chat) || json_object_size(chat) > CHAT_MAX)
			return gh_detail(detail, dlen, GH_EINVAL,
			                 "chat must be an object of at most "
			                 "%d entries", CHAT_MAX);
		json_object_foreach((json_t *)chat, k, v) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > CHAT_VALUE_MAX ||
			    strlen(k) == 0 || strlen(k) > 64)
				return gh_detail(detail, dlen, GH_EINVAL,
				                 "chat.%s must be a string of "
				                 "1-%d bytes", k,
				                 CHAT_VALUE_MAX);
		}
	}
	push = json_object_get(rec, "push");
	if (push) {
		if (!json_is_array(push) || json_array_size(push) > GH_PUSH_MAX)
			return gh_detail(detail, dlen, GH_EINVAL,
			                 "push must be an array of at most %d "
			                 "subscriptions", GH_PUSH_MAX);
		json_array_foreach(push, i, v) {
			gh_err err = push_validate(v, i, detail, dlen);

			if (err)
				return err;
		}
	}
	return GH_OK;
}

static gh_err
user_key(const char *user, size_t *klen)
{
	if (!gh_user_id_ok(user))
		return GH_EINVAL;
	*klen = strlen(user);
	return GH_OK;
}

static gh_err
get_rec(struct gh_txn *txn, enum gh_db db, const char *user, json_t **out)
{
	size_t kl;
	gh_err err;

	if (out == NULL)
		return GH_EINVAL;
	*out = NULL;
	err = user_key(user, &kl);
	if (err)
		return err;
	return gh_txn_get_json(txn, db, user, kl, out);
}

static gh_err
put_rec(struct gh_txn *txn, enum gh_db db, const char *user, const json_t *rec,
        int64_t now, json_t **copy_out)
{
	json_t *copy;
	size_t kl;
	gh_err err = user_key(user, &kl);

	if (err)
		return err;
	copy = json_deep_copy(rec);
	if (copy == NULL)
		return GH_ENOMEM;
	json_object_set_new(copy, "v", json_integer(1));
	json_object_set_new(copy, "updated_at", json_integer(now));
	if (copy_out) {
		*copy_out = copy;
		return GH_OK;
	}
	err = gh_txn_put_json(txn, db, user, kl, copy);
	json_decref(copy);
	return err;
}

/* The replication log (replog.h): what of user's contacts differs from
 * the record still stored, before rec replaces it (NULL: deleted). */
static gh_err
contacts_note(struct gh_txn *txn, const char *user, const json_t *rec)
{
	json_t *old = NULL;
	int on = 0;
	gh_err err = gh_replog_enabled_txn(txn, &on);

	if (err || !on || gh_txn_replog_muted(txn))
		return err;
	err = get_rec(txn, GH_DB_USERS, user, &old);
	if (err && err != GH_ENOTFOUND)
		return err;
	err = gh_replog_contacts_txn(txn, user, old, rec);
	json_decref(old);
	return err;
}

gh_err
gh_contacts_get_txn(struct gh_txn *txn, const char *user, json_t **out)
{
	return get_rec(txn, GH_DB_USERS, user, out);
}

gh_err
gh_contacts_put_txn(struct gh_txn *txn, const char *user, const json_t *rec,
                    int64_t now)
{
	json_t *copy = NULL, *push, *p;
	size_t i;
	gh_err err = gh_contacts_validate(rec, NULL, 0);

	if (err)
		return err;
	err = put_rec(txn, GH_DB_USERS, user, rec, now, &copy);
	if (err)
		return err;
	push = json_object_get(copy, "push");
	json_array_foreach(push, i, p)
		if (!json_object_get(p, "added_at"))
			json_object_set_new(p, "added_at", json_integer(now));
	err = contacts_note(txn, user, copy);
	if (err == GH_OK)
		err = gh_txn_put_json(txn, GH_DB_USERS, user, strlen(user),
		                      copy);
	json_decref(copy);
	return err;
}

gh_err
gh_contacts_del_txn(struct gh_txn *txn, const char *user)
{
	size_t kl;
	gh_err err = user_key(user, &kl);

	if (err == GH_OK)
		err = gh_txn_get(txn, GH_DB_USERS, user, kl, NULL, NULL);
	if (err == GH_OK)
		err = contacts_note(txn, user, NULL);
	return err ? err : gh_txn_del(txn, GH_DB_USERS, user, kl);
}

gh_err
gh_push_remove_txn(struct gh_txn *txn, const char *user, const char *endpoint,
                   int64_t now)
{
	json_t *rec = NULL, *push, *p;
	size_t i;
	gh_err err;

	if (endpoint == NULL)
		return GH_EINVAL;
	err = gh_contacts_get_txn(txn, user, &rec);
	if (err)
		return err;
	err = GH_ENOTFOUND;
	push = json_object_get(rec, "push");
	json_array_foreach(push, i, p) {
		const char *ep = json_string_value(json_object_get(p, "endpoint"));

		if (ep && strcmp(ep, endpoint) == 0) {
			json_array_remove(push, i);
			err = GH_OK;
			break;
		}
	}
	if (err == GH_OK) {
		json_object_set_new(rec, "updated_at", json_integer(now));
		err = gh_replog_note_txn(txn, GH_REP_PUSH, user, strlen(user));
	}
	if (err == GH_OK)
		err = gh_txn_put_json(txn, GH_DB_USERS, user, strlen(user), rec);
	json_decref(rec);
	return err;
}

struct each_arg {
	gh_user_fn fn;
	void *arg;
};

static int
each_row(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct each_arg *a = arg;
	char user[GH_USER_MAX + 1];
	json_t *rec;
	int rc;

	if (klen == 0 || klen > GH_USER_MAX)
		return 0;
	memcpy(user, key, klen);
	user[klen] = '\0';
	rec = json_loadb(val, vlen, 0, NULL);
	if (rec == NULL)
		return 0;
	rc = a->fn(user, rec, a->arg);
	json_decref(rec);
	return rc;
}

gh_err
gh_contacts_each_txn(struct gh_txn *txn, gh_user_fn fn, void *arg)
{
	struct each_arg a = {fn, arg};

	if (fn == NULL)
		return GH_EINVAL;
	return gh_txn_scan(txn, GH_DB_USERS, NULL, 0, 0, each_row, &a, NULL);
}

/* ---- preferences ---- */

static int
weekday_ok(const char *s)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu",
	                                   "fri", "sat"};

	for (size_t i = 0; i < 7; i++)
		if (strcmp(s, days[i]) == 0)
			return 1;
	return 0;
}

static gh_err
digest_validate(const json_t *d, char *detail, size_t dlen)
{
	static const char *const members[] = {"every", "at", "day", "channels",
	                                      NULL};
	const char *every, *at, *day, *bk = NULL;
	const json_t *ch = json_object_get(d, "channels"), *v;
	size_t i;

	if (!json_is_object(d))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "digest must be an object");
	if (!gh_json_only_members(d, members, &bk))
		return gh_detail(detail, dlen, GH_EINVAL,
		                 "digest has unknown member '%s'", bk);
	if (!opt_str(d, "every", 16, &every) ||
	    (every && strcmp(every, "daily") && strcmp(every, "weekly")))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "digest.every must be daily or weekly");
	if (!opt_str(d, "at", 8, &at) || (at && !gh_hhmm_ok(at)))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "digest.at must be HH:MM");
	if (!opt_str(d, "day", 8, &day) || (day && !weekday_ok(day)))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "digest.day must be one of sun, mon, tue, "
		                 "wed, thu, fri, sat");
	if (every && strcmp(every, "weekly") == 0 && day == NULL)
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "a weekly digest needs a day");
	if (ch) {
		if (!json_is_array(ch) || json_array_size(ch) > 16)
			return gh_detail(detail, dlen, GH_EINVAL, "%s",
			                 "digest.channels must be an array "
			                 "of channel names");
		json_array_foreach(ch, i, v)
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 64)
				return gh_detail(detail, dlen, GH_EINVAL, "%s",
				                 "digest.channels must be an "
				                 "array of channel names");
	}
	return GH_OK;
}

gh_err
gh_prefs_validate(const json_t *rec, char *detail, size_t dlen)
{
	static const char *const members[] = {"v", "channels", "categories",
	                                      "quiet", "digest", "updated_at",
	                                      NULL};
	static const char *const qmembers[] = {"start", "end", NULL};
	const json_t *o, *v;
	const char *k, *bk = NULL, *s, *e;

	if (detail && dlen)
		detail[0] = '\0';
	if (!json_is_object(rec))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "preferences are not a JSON object");
	if (!gh_json_only_members(rec, members, &bk))
		return gh_detail(detail, dlen, GH_EINVAL, "unknown member '%s'",
		                 bk);
	o = json_object_get(rec, "channels");
	if (o) {
		if (!json_is_object(o) || json_object_size(o) > 64)
			return gh_detail(detail, dlen, GH_EINVAL, "%s",
			                 "channels must be an object of "
			                 "names and true/false");
		json_object_foreach((json_t *)o, k, v)
			if (!json_is_boolean(v) || strlen(k) == 0 || strlen(k) > 64)
				return gh_detail(detail, dlen, GH_EINVAL,
				                 "channels.%s must be true or "
				                 "false", k);
	}
	o = json_object_get(rec, "categories");
	if (o) {
		if (!json_is_object(o) || json_object_size(o) > 64)
			return gh_detail(detail, dlen, GH_EINVAL, "%s",
			                 "categories must be an object");
		json_object_foreach((json_t *)o, k, v) {
			s = json_string_value(v);
			if (s == NULL || strlen(k) == 0 || strlen(k) > 32 ||
			    (strcmp(s, "on") && strcmp(s, "off") &&
			     strcmp(s, "digest")))
				return gh_detail(detail, dlen, GH_EINVAL,
				                 "categories.%s must be on, "
				                 "off or digest", k);
			if (strcmp(k, "security") == 0 && strcmp(s, "on") != 0)
				return gh_detail(detail, dlen, GH_EINVAL, "%s",
				                 "security notifications "
				                 "cannot be turned off or "
				                 "held for a digest");
		}
	}
	o = json_object_get(rec, "quiet");
	if (o) {
		if (!json_is_object(o) || !gh_json_only_members(o, qmembers, &bk) ||
		    !opt_str(o, "start", 8, &s) || !opt_str(o, "end", 8, &e) ||
		    !gh_hhmm_ok(s) || !gh_hhmm_ok(e))
			return gh_detail(detail, dlen, GH_EINVAL, "%s",
			                 "quiet must be {\"start\": "
			                 "\"HH:MM\", \"end\": \"HH:MM\"}");
	}
	o = json_object_get(rec, "digest");
	if (o)
		return digest_validate(o, detail, dlen);
	return GH_OK;
}

gh_err
gh_push_add_txn(struct gh_txn *txn, const char *user, const json_t *sub,
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
		if (why && wlen)
			snprintf(why, wlen, "the user has %d subscriptions "
			         "already", GH_PUSH_MAX);
		return GH_EINVAL;
	} else {
		json_array_append_new(push, copy);
	}
	err = gh_contacts_put_txn(txn, user, rec, now);
	if (err == GH_EINVAL && why && wlen) {
		(void)gh_contacts_validate(rec, detail, sizeof(detail));
		snprintf(why, wlen, "%s", detail);
	}
	json_decref(rec);
	return err;
}


/* ---- the inbox feed ---- */

/* Append one entry (users.h, INBOX_FEED) and drop the one that falls out
 * of the ring. */
static gh_err
feed_add(struct gh_txn *txn, unsigned kind, const char *user, uint64_t id)
{
	unsigned char k[8], v[1 + 8 + GH_USER_MAX];
	size_t ul = strlen(user);
	uint64_t seq;
	gh_err err;

	if (ul == 0 || ul > GH_USER_MAX)
		return GH_EINVAL;
	gh_txn_touch(txn);   /* wake the inbox's live streams */
	err = gh_txn_next_seq(txn, "inbox_feed", &seq);
	if (err)
		return err;
	v[0] = (unsigned char)kind;
	gh_put_be64(v + 1, id);
	memcpy(v + 9, user, ul);
	gh_put_be64(k, seq);
	err = gh_txn_put_append(txn, GH_DB_INBOX_FEED, k, 8, v, 9 + ul);
	if (err || seq <= GH_INBOX_FEED_KEEP)
		return err;
	gh_put_be64(k, seq - GH_INBOX_FEED_KEEP);
	err = gh_txn_del(txn, GH_DB_INBOX_FEED, k, 8);
	return err == GH_ENOTFOUND ? GH_OK : err;
}

struct feed_scan {
	gh_feed_fn fn;
	void *arg;
	uint64_t first;
};

static int
feed_row(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
	struct feed_scan *a = arg;
	const unsigned char *v = val;
	char user[GH_USER_MAX + 1];
	uint64_t seq;

	if (klen != 8 || vlen < 10 || vlen > 9 + GH_USER_MAX)
		return 0;   /* not ours to judge: skipped */
	seq = gh_get_be64(key);
	if (a->first == 0)
		a->first = seq;
	memcpy(user, v + 9, vlen - 9);
	user[vlen - 9] = '\0';
	return a->fn(seq, v[0], user, gh_get_be64(v + 1), a->arg);
}

gh_err
gh_inbox_feed_txn(struct gh_txn *txn, uint64_t after, gh_feed_fn fn,
                  void *arg, uint64_t *first)
{
	struct feed_scan a = {fn, arg, 0};
	unsigned char k[8];
	gh_err err;

	if (fn == NULL)
		return GH_EINVAL;
	if (first)
		*first = 0;
	if (after == UINT64_MAX)
		return GH_OK;
	gh_put_be64(k, after + 1);
	err = gh_txn_scan(txn, GH_DB_INBOX_FEED, k, 8, 0, feed_row, &a, NULL);
	if (first)
		*first = a.first;
	return err == GH_ENOTFOUND ? GH_OK : err;
}

gh_err
gh_inbox_feed_last_txn(struct gh_txn *txn, uint64_t *seq)
{
	gh_err err = gh_txn_last_key_be64(txn, GH_DB_INBOX_FEED, seq);

	if (err == GH_ENOTFOUND) {
		*seq = 0;
		return GH_OK;
	}
	return err;
}

gh_err
gh_prefs_get_txn(struct gh_txn *txn, const char *user, json_t **out)
{
	return get_rec(txn, GH_DB_PREFS, user, out);
}

gh_err
gh_prefs_put_txn(struct gh_txn *txn, const char *user, const json_t *rec,
                 int64_t now)
{
	gh_err err = gh_prefs_validate(rec, NULL, 0);

	if (err == GH_OK)
		err = put_rec(txn, GH_DB_PREFS, user, rec, now, NULL);
	if (err == GH_OK)
		err = gh_replog_note_txn(txn, GH_REP_PREFS, user, strlen(user));
	return err ? err : feed_add(txn, GH_FEED_PREFS, user, 0);
}

gh_err
gh_prefs_del_txn(struct gh_txn *txn, const char *user)
{
	size_t kl;
	gh_err err = user_key(user, &kl);

	if (err == GH_OK)
		err = gh_txn_del(txn, GH_DB_PREFS, user, kl);
	if (err == GH_OK)
		err = gh_replog_note_txn(txn, GH_REP_PREFS, user, strlen(user));
	return err ? err : feed_add(txn, GH_FEED_PREFS, user, 0);
}

/* ---- inbox ---- */

static gh_err
ikey(const char *user, uint64_t id, unsigned char *k, size_t *klen)
{
	size_t ul;
	gh_err err = user_key(user, &ul);

	if (err)
		return err;
	memcpy(k, user, ul);
	k[ul] = 0;
	gh_put_be64(k + ul + 1, id);
	*klen = IKEY_LEN(ul);
	return GH_OK;
}

json_t *
gh_inbox_item_new(const json_t *ev, int64_t now, int digest)
{
	static const char *const copied[] = {"type", "category", "title",
	                                     "message", "action_url",
	                                     "priority", NULL};
	json_t *it, *id = json_object_get(ev, "id");

	if (!json_is_integer(id))
		return NULL;
	it = json_object();
	if (it == NULL)
		return NULL;
	json_object_set_new(it, "v", json_integer(1));
	json_object_set(it, "event", id);
	for (size_t i = 0; copied[i]; i++) {
		json_t *v = json_object_get(ev, copied[i]);

		json_object_set(it, copied[i], v ? v : json_null());
	}
	json_object_set_new(it, "created_at", json_integer(now));
	json_object_set_new(it, "read_at", json_null());
	json_object_set_new(it, "digest", json_boolean(digest));
	json_object_set_new(it, "digested_at", json_null());
	return it;
}

gh_err
gh_inbox_add_txn(struct gh_txn *txn, const char *user, uint64_t id,
                 const json_t *item, int *existed)
{
	unsigned char k[IKEY_LEN(GH_USER_MAX)];
	const void *v;
	size_t kl, vl;
	gh_err err;

	if (existed)
		*existed = 0;
	if (!json_is_object(item))
		return GH_EINVAL;
	err = ikey(user, id, k, &kl);
	if (err)
		return err;
	err = gh_txn_get(txn, GH_DB_INBOX, k, kl, &v, &vl);
	if (err == GH_OK) {
		if (existed)
			*existed = 1;
		return GH_OK;
	}
	if (err != GH_ENOTFOUND)
		return err;
	err = gh_txn_put_json(txn, GH_DB_INBOX, k, kl, item);
	return err ? err : feed_add(txn, GH_FEED_ITEM, user, id);
}

gh_err
gh_inbox_get_txn(struct gh_txn *txn, const char *user, uint64_t id,
                 json_t **out)
{
	unsigned char k[IKEY_LEN(GH_USER_MAX)];
	size_t kl;
	gh_err err;

	if (out == NULL)
		return GH_EINVAL;
	*out = NULL;
	err = ikey(user, id, k, &kl);
	return err ? err : gh_txn_get_json(txn, GH_DB_INBOX, k, kl, out);
}

gh_err
gh_inbox_put_txn(struct gh_txn *txn, const char *user, uint64_t id,
                 const json_t *item)
{
	unsigned char k[IKEY_LEN(GH_USER_MAX)];
	size_t kl;
	gh_err err;

	if (!json_is_object(item))
		return GH_EINVAL;
	err = ikey(user, id, k, &kl);
	if (err == GH_OK)
		err = gh_txn_put_json(txn, GH_DB_INBOX, k, kl, item);
	return err ? err : feed_add(txn, GH_FEED_ITEM, user, id);
}

gh_err
gh_inbox_del_txn(struct gh_txn *txn, const char *user, uint64_t id)
{
	unsigned char k[IKEY_LEN(GH_USER_MAX)];
	size_t kl;
	gh_err err = ikey(user, id, k, &kl);

	return err ? err : gh_txn_del(txn, GH_DB_INBOX, k, kl);
}

struct ilist {
	const char *user;
	size_t ul;
	unsigned flags;
	gh_inbox_fn fn;
	void *arg;
};

static int
item_matches(const json_t *it, unsigned flags)
{
	if ((flags & GH_INBOX_UNREAD) && !json_is_null(json_object_get(it,
	                                                              "read_at")))
		return 0;
	if ((flags & GH_INBOX_DIGEST) &&
	    (!json_is_true(json_object_get(it, "digest")) ||
	     !json_is_null(json_object_get(it, "digested_at"))))
		return 0;
	return 1;
}

static int
ilist_row(const void *key, size_t klen, const void *val, size_t vlen,
          void *arg)
{
	struct ilist *a = arg;
	const unsigned char *k = key;
	json_t *it;
	int rc = 0;

	if (klen != IKEY_LEN(a->ul) || memcmp(k, a->user, a->ul) != 0 ||
	    k[a->ul] != 0)
		return 1;
	it = json_loadb(val, vlen, 0, NULL);
	if (it == NULL)
		return 0;   /* an unreadable item is skipped, not fatal */
	if (item_matches(it, a->flags))
		rc = a->fn(gh_get_be64(k + a->ul + 1), it, a->arg);
	json_decref(it);
	return rc;
}

gh_err
gh_inbox_list_txn(struct gh_txn *txn, const char *user, unsigned flags,
                  uint64_t before, gh_inbox_fn fn, void *arg)
{
	unsigned char k[IKEY_LEN(GH_USER_MAX)];
	struct ilist a;
	size_t kl;
	gh_err err;

	if (fn == NULL)
		return GH_EINVAL;
	if (before == 1)
		return GH_OK;
	err = ikey(user, before ? before - 1 : UINT64_MAX, k, &kl);
	if (err)
		return err;
	a.user = user;
	a.ul = strlen(user);
	a.flags = flags;
	a.fn = fn;
	a.arg = arg;
	err = gh_txn_scan(txn, GH_DB_INBOX, k, kl, 1, ilist_row, &a, NULL);
	return err == GH_ENOTFOUND ? GH_OK : err;
}

struct idlist {
	uint64_t *ids;
	size_t n, cap;
	int oom;
};

static int
collect_unread(uint64_t id, const json_t *it, void *arg)
{
	struct idlist *l = arg;

	(void)it;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		uint64_t *ids = realloc(l->ids, cap * sizeof(*ids));

		if (ids == NULL) {
			l->oom = 1;
			return 1;
		}
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = id;
	return 0;
}

static gh_err
mark_one(struct gh_txn *txn, const char *user, uint64_t id, int64_t now,
         int *changed)
{
	json_t *it = NULL;
	gh_err err = gh_inbox_get_txn(txn, user, id, &it);

	*changed = 0;
	if (err)
		return err;
	if (json_is_null(json_object_get(it, "read_at"))) {
		json_object_set_new(it, "read_at", json_integer(now));
		err = gh_inbox_put_txn(txn, user, id, it);
		*changed = err == GH_OK;
	}
	json_decref(it);
	return err;
}

gh_err
gh_inbox_mark_read_txn(struct gh_txn *txn, const char *user, uint64_t id,
                       int64_t now, size_t *n)
{
	struct idlist l = {NULL, 0, 0, 0};
	gh_err err;
	int ch;

	if (n)
		*n = 0;
	if (id != 0) {
		err = mark_one(txn, user, id, now, &ch);
		if (err == GH_OK && n)
			*n = (size_t)ch;
		return err;
	}
	err = gh_inbox_list_txn(txn, user, GH_INBOX_UNREAD, 0, collect_unread, &l);
	if (err == GH_OK && l.oom)
		err = GH_ENOMEM;
	for (size_t i = 0; err == GH_OK && i < l.n; i++) {
		err = mark_one(txn, user, l.ids[i], now, &ch);
		if (err == GH_OK && n)
			*n += (size_t)ch;
	}
	free(l.ids);
	return err;
}

struct icount {
	size_t total, unread;
};

static int
count_row(uint64_t id, const json_t *it, void *arg)
{
	struct icount *c = arg;

	(void)id;
	c->total++;
	if (json_is_null(json_object_get(it, "read_at")))
		c->unread++;
	return 0;
}

gh_err
gh_inbox_count_txn(struct gh_txn *txn, const char *user, size_t *total,
                   size_t *unread)
{
	struct icount c = {0, 0};
	gh_err err = gh_inbox_list_txn(txn, user, 0, 0, count_row, &c);

	if (err == GH_OK) {
		if (total)
			*total = c.total;
		if (unread)
			*unread = c.unread;
	}
	return err;
}

/* ---- who the core knows ---- */

static int
any_item(uint64_t id, const json_t *item, void *arg)
{
	(void)id;
	(void)item;
	*(size_t *)arg = 1;
	return 1;   /* one is enough */
}

gh_err
gh_user_known_txn(struct gh_txn *txn, const char *user)
{
	json_t *rec = NULL;
	size_t total = 0;
	gh_err err;

	if (user == NULL || !gh_user_id_ok(user))
		return GH_EINVAL;
	err = gh_contacts_get_txn(txn, user, &rec);
	if (err == GH_ENOTFOUND)
		err = gh_prefs_get_txn(txn, user, &rec);
	json_decref(rec);
	if (err != GH_ENOTFOUND)
		return err;
	err = gh_inbox_list_txn(txn, user, 0, 0, any_item, &total);
	if (err)
		return err;
	return total > 0 ? GH_OK : GH_ENOTFOUND;
}
