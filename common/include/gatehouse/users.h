/*
 * gatehouse/users.h - people: their contacts (users database), how they
 * want to be told (prefs) and their in-app inbox (inbox)
 *
 * A user id is the opaque string of docs/events.md (an application's user
 * id, a SASL login, a unix user name): 1 to GH_USER_MAX bytes of UTF-8
 * without control characters.  `gatehouse users` and `gatehouse prefs`
 * write contacts and preferences; notifyd reads both, writes the inbox and
 * removes push subscriptions that the push service says are gone; the
 * nginx module reads the inbox and marks items read.
 *
 * CONTACTS  users[user] = JSON object, every member optional:
 *   name      display name (UTF-8, at most 128 bytes)
 *   email     an address local@domain (at most GH_ADDR_MAX bytes)
 *   phone     "+" and 3 to 20 digits (E.164 without separators)
 *   tz        IANA zone name for quiet hours and digests ("Europe/Paris");
 *             absent: UTC
 *   lang      language of the user's notifications, a language tag
 *             (gh_lang_tag_ok: "ko", "en", "pt-BR"), kept in its
 *             canonical case (gh_lang_tag_canon); absent: notifyd's
 *             [notifyd] default_language.  Added after version 1 of the
 *             record without changing v: it is optional, so records
 *             written before it read as they did
 *   chat      object: channel instance name or channel kind -> a string
 *             the channel uses as this user's recipient (an ntfy topic, a
 *             Mattermost channel, ...); at most 32 entries of 512 bytes
 *   push      array (at most GH_PUSH_MAX) of Web Push subscriptions as a
 *             browser's PushSubscription.toJSON() gives them:
 *             {"endpoint": "https://...", "keys": {"p256dh": B64URL,
 *             "auth": B64URL}}, plus "added_at" (ms) kept by the store;
 *             the endpoint must be an https:// URL
 *   v, updated_at   kept by the store
 *
 * PREFERENCES  prefs[user] = JSON object, every member optional:
 *   channels    object: channel instance name or kind -> true (wanted
 *               even when not a default channel) or false (never)
 *   categories  object: category -> "on", "off" or "digest" (held for
 *               the digest instead of sent at once).  "security" can only
 *               be "on": security notices cannot be turned off.
 *   quiet       {"start": "HH:MM", "end": "HH:MM"} local time in the
 *               user's tz; start > end crosses midnight
 *   digest      {"every": "daily" | "weekly", "at": "HH:MM",
 *               "day": "mon".."sun" (weekly only), "channels": [names]}
 *   v, updated_at   kept by the store
 * What the preferences mean is notifyd's business (gatehouse-notifyd(8));
 * this file only keeps them well-formed.
 *
 * INBOX  inbox[user | 0x00 | be64 event id] = JSON object
 *   {v, event, type, category, title, message, action_url, priority,
 *    created_at, read_at, digest, digested_at}
 *   read_at and digested_at are null until set; digest is true for items
 *   held for the user's digest.  Items of one user are adjacent, newest
 *   last in key order.
 *
 * Every *_txn call runs inside the caller's transaction (gh_store_update,
 * or gh_store_view for reads); JSON handed out is a new reference the
 * caller releases.  Nothing here logs or blocks beyond LMDB.
 */
#ifndef GATEHOUSE_USERS_H
#define GATEHOUSE_USERS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_USER_MAX 256      /* bytes in a user id */
#define GH_PUSH_MAX 16       /* push subscriptions per user */

/* gh_user_id_ok - 1 if user is acceptable as a user id (see above). */
int gh_user_id_ok(const char *user);

#define GH_LANG_MAX 35       /* bytes in a language tag */

/*
 * gh_lang_tag_ok - 1 if s is a language tag as Gatehouse takes them, a
 * subset of BCP 47 (RFC 5646): a primary language subtag of 2 or 3
 * letters, then subtags of 1 to 8 letters or digits each after a '-'
 * ("ko", "en", "pt-BR", "zh-Hant-TW", "es-419"), at most GH_LANG_MAX
 * bytes.  Nothing else: no '.', '/', '_' or empty subtag, so a tag is
 * always safe as one component of a file name (notifyd's template
 * directories are named after them).
 */
int gh_lang_tag_ok(const char *s);

/*
 * gh_lang_tag_canon - copy the tag s into out (cap bytes) in the case
 * BCP 47 recommends: language lowercase, a 4-letter script titlecase
 * ("Hant"), a 2-letter region uppercase ("BR"), the rest lowercase.
 * GH_EINVAL when s is not gh_lang_tag_ok or does not fit.
 */
gh_err gh_lang_tag_canon(const char *s, char *out, size_t cap);

/* gh_hhmm_ok - 1 for "HH:MM" or "H:MM" from 00:00 to 23:59. */
int gh_hhmm_ok(const char *s);

/* ---- contacts ---- */

/*
 * gh_contacts_validate - check a contacts object against the layout above.
 * detail (optional) names the offending member.  GH_OK or GH_EINVAL.
 */
gh_err gh_contacts_validate(const json_t *rec, char *detail, size_t dlen);

/* gh_contacts_get_txn - the record of user; GH_ENOTFOUND when none. */
gh_err gh_contacts_get_txn(struct gh_txn *txn, const char *user,
                           json_t **out);

/*
 * gh_contacts_put_txn - validate rec and store it as user's record, with
 * v and updated_at set (rec itself is not changed).  Subscriptions without
 * added_at get now.  GH_EINVAL (see gh_contacts_validate), store errors.
 */
gh_err gh_contacts_put_txn(struct gh_txn *txn, const char *user,
                           const json_t *rec, int64_t now);

/* gh_contacts_del_txn - GH_ENOTFOUND when there was none. */
gh_err gh_contacts_del_txn(struct gh_txn *txn, const char *user);

/*
 * gh_push_remove_txn - drop the subscription with this endpoint from
 * user's contacts (the push service answered 404 or 410).  GH_ENOTFOUND
 * when the user or the subscription is not there.
 */
gh_err gh_push_remove_txn(struct gh_txn *txn, const char *user,
                          const char *endpoint, int64_t now);

/*
 * gh_push_add_txn - add the Web Push subscription sub ({endpoint, keys:
 * {p256dh, auth}}) to user's contacts (made when the user has none), or
 * replace the one with the same endpoint (keeping its added_at).
 * GH_EINVAL with why (optional) when it does not validate or the user has
 * GH_PUSH_MAX already.
 */
gh_err gh_push_add_txn(struct gh_txn *txn, const char *user,
                       const json_t *sub, int64_t now, char *why,
                       size_t wlen);

/* gh_contacts_each - visit every user with contacts, in id order; fn
 * gets borrowed values and returns non-zero to stop. */
typedef int (*gh_user_fn)(const char *user, const json_t *rec, void *arg);
gh_err gh_contacts_each_txn(struct gh_txn *txn, gh_user_fn fn, void *arg);

/* ---- preferences ---- */

gh_err gh_prefs_validate(const json_t *rec, char *detail, size_t dlen);
gh_err gh_prefs_get_txn(struct gh_txn *txn, const char *user, json_t **out);
gh_err gh_prefs_put_txn(struct gh_txn *txn, const char *user,
                        const json_t *rec, int64_t now);
gh_err gh_prefs_del_txn(struct gh_txn *txn, const char *user);

/* ---- inbox ---- */

/*
 * gh_inbox_item_new - the inbox item for event ev (a queue record: id,
 * type, title, ... ) created at now, marked as held for the digest when
 * digest is set.  NULL when out of memory or ev lacks an id.
 */
json_t *gh_inbox_item_new(const json_t *ev, int64_t now, int digest);

/*
 * gh_inbox_add_txn - store item as user's entry for event id unless there
 * is one already: an item is written once, so a repeated delivery keeps
 * its read mark.  *existed (optional) tells which.
 */
gh_err gh_inbox_add_txn(struct gh_txn *txn, const char *user, uint64_t id,
                        const json_t *item, int *existed);

/* gh_inbox_get_txn / gh_inbox_put_txn - one item (put replaces). */
gh_err gh_inbox_get_txn(struct gh_txn *txn, const char *user, uint64_t id,
                        json_t **out);
gh_err gh_inbox_put_txn(struct gh_txn *txn, const char *user, uint64_t id,
                        const json_t *item);

/* gh_inbox_del_txn - remove one item (the web domain's copy of an item
 * the core no longer has).  GH_ENOTFOUND when there was none. */
gh_err gh_inbox_del_txn(struct gh_txn *txn, const char *user, uint64_t id);

#define GH_INBOX_UNREAD 0x1u   /* only items with read_at null */
#define GH_INBOX_DIGEST 0x2u   /* only items held for the digest and not
                                  yet in one (digest true, digested_at null) */

/*
 * gh_inbox_list_txn - visit user's items newest first, starting below
 * event id before (0: from the newest), that match flags.  fn gets the
 * event id and the item (borrowed) and returns non-zero to stop.  Records
 * must not be written from fn.
 */
typedef int (*gh_inbox_fn)(uint64_t id, const json_t *item, void *arg);
gh_err gh_inbox_list_txn(struct gh_txn *txn, const char *user, unsigned flags,
                         uint64_t before, gh_inbox_fn fn, void *arg);

/*
 * gh_inbox_mark_read_txn - set read_at = now on user's item id, or on
 * every unread item when id is 0.  *n (optional) receives how many
 * changed.  GH_ENOTFOUND when id names no item.
 */
gh_err gh_inbox_mark_read_txn(struct gh_txn *txn, const char *user,
                              uint64_t id, int64_t now, size_t *n);

/* gh_inbox_count_txn - items of user, and how many are unread. */
gh_err gh_inbox_count_txn(struct gh_txn *txn, const char *user,
                          size_t *total, size_t *unread);

/* ---- the inbox feed ---- */

/*
 * INBOX_FEED  inbox_feed[be64 seq] = kind (1 byte) | be64 event id |
 * user id (no terminator).  Every change of an inbox item (added, put,
 * marked read, digested) and of a user's preferences (put, deleted)
 * appends one entry, seq from the meta counter "inbox_feed", in the same
 * transaction: the core sends the web domain's bridge the changes after
 * the last one it has (docs/security.md, "The web face").  A ring: the
 * entry GH_INBOX_FEED_KEEP before a new one is deleted, so the feed never
 * grows past that many entries and needs no retention rule.
 */
#define GH_INBOX_FEED_KEEP 65536u
#define GH_FEED_ITEM  1u   /* an inbox item: (user, id) */
#define GH_FEED_PREFS 2u   /* user's preferences; id is 0 */

typedef int (*gh_feed_fn)(uint64_t seq, unsigned kind, const char *user,
                          uint64_t id, void *arg);

/* gh_inbox_feed_txn - visit the entries after seq `after`, in order; fn
 * returns non-zero to stop.  *first (optional) receives the first seq
 * visited (0: none), so a reader can tell that it missed entries. */
gh_err gh_inbox_feed_txn(struct gh_txn *txn, uint64_t after, gh_feed_fn fn,
                         void *arg, uint64_t *first);

/* gh_inbox_feed_last_txn - the newest entry's seq, 0 when the feed is
 * empty. */
gh_err gh_inbox_feed_last_txn(struct gh_txn *txn, uint64_t *seq);

/*
 * gh_user_known_txn - GH_OK when the store has something of user's:
 * contacts, preferences or an inbox item; GH_ENOTFOUND when it has
 * nothing.  The web face may change only users known this way
 * (docs/security.md, "The web face"), so a web worker cannot make the
 * core keep records for user ids it invents.
 */
gh_err gh_user_known_txn(struct gh_txn *txn, const char *user);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_USERS_H */
