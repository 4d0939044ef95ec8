/*
 * gatehouse/event.h - building an event: the one way producers make the
 * JSON object of docs/events.md that gh_queue_enqueue*() takes
 *
 *   struct gh_event *b = gh_event_new();
 *
 *   gh_event_set_type(b, "mail.rejected");
 *   gh_event_set_title(b, title);
 *   gh_event_set_user(b, user);
 *   gh_event_set_priority(b, GH_PRIORITY_HIGH);
 *   gh_event_meta_str(b, "queue_id", qid);
 *   err = gh_event_finish(b, &ev, detail, sizeof(detail));
 *   if (err == GH_OK) {
 *       err = gh_queue_enqueue_txn(txn, ev, now, 0, NULL, NULL);
 *       json_decref(ev);
 *   }
 *
 * The setters only record; gh_event_finish() checks the whole event with
 * gh_event_validate() (gatehouse/queue.h), the same check the queue makes,
 * so a field's bounds, what is required and which priorities exist are
 * written down once.  Nothing is added that the caller did not set (the
 * queue stamps id, created_at and the defaults of category and source).
 * Members appear in the object in the order they were first set.
 *
 * ERRORS
 *   Every setter returns GH_OK, GH_EINVAL (a string that is not UTF-8, a
 *   NULL or empty metadata key or recipient) or GH_ENOMEM.  The first error is also kept in the builder: later setters
 *   do nothing and return it, and gh_event_finish() returns it with its
 *   detail.  A producer may therefore make its calls in a row and look at
 *   the result of gh_event_finish() only.  Every function accepts a NULL
 *   builder (gh_event_new() out of memory) and returns GH_ENOMEM, so that
 *   case needs no check of its own either.
 *
 *   Untrusted bytes (a header, a file name, a login name) are the
 *   caller's to make UTF-8 first: the builder refuses them rather than
 *   guessing how to repair them.
 *
 * MEMORY
 *   Strings are copied.  gh_event_meta_new() takes the caller's reference
 *   to the value (as json_object_set_new does), also when it fails.
 *   gh_event_set_metadata() copies the object it is given.  The object
 *   gh_event_finish() hands out is a new reference the caller releases
 *   with json_decref().
 *
 * THREADS
 *   A builder is used by one thread at a time; builders share nothing, so
 *   threads may build events concurrently.  The finished object is a
 *   jansson value like any other: not to be used by two threads at once.
 *   Nothing here logs, blocks or touches the store.
 */
#ifndef GATEHOUSE_EVENT_H
#define GATEHOUSE_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/queue.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gh_event;   /* opaque */

/* gh_event_new - an empty builder, or NULL when out of memory. */
struct gh_event *gh_event_new(void);

/* gh_event_free - release a builder not finished (NULL is ignored). */
void gh_event_free(struct gh_event *b);

/*
 * The contract's string members.  NULL removes the member (it is then
 * absent from the event, as if never set); any other value replaces it.
 * Bounds are checked by gh_event_finish(): type 1-GH_EVENT_TYPE_MAX bytes
 * of [a-z0-9._-] (required), title 1-GH_EVENT_TITLE_MAX (required), user
 * (required unless recipients are added), category [a-z0-9_-], and so on
 * (gatehouse/queue.h, docs/events.md).
 */
gh_err gh_event_set_type(struct gh_event *b, const char *type);
gh_err gh_event_set_title(struct gh_event *b, const char *title);
gh_err gh_event_set_message(struct gh_event *b, const char *message);
gh_err gh_event_set_user(struct gh_event *b, const char *user);
gh_err gh_event_set_category(struct gh_event *b, const char *category);
gh_err gh_event_set_source(struct gh_event *b, const char *source);
gh_err gh_event_set_action_url(struct gh_event *b, const char *url);
/* the dedup (idempotency) key: the queue's dedup window applies to it */
gh_err gh_event_set_dedup_key(struct gh_event *b, const char *key);

/*
 * gh_event_set_priority - one of enum gh_priority; any other value is
 * kept and refused by gh_event_finish() (so the refusal names the field).
 */
gh_err gh_event_set_priority(struct gh_event *b, enum gh_priority p);

/* gh_event_set_expires_at - ms since the epoch past which it is never sent. */
gh_err gh_event_set_expires_at(struct gh_event *b, int64_t ms);

/*
 * gh_event_add_recipient, gh_event_add_channel - append one entry to
 * recipients ("user-id", "CHANNEL:ADDRESS" or "admins") or to channels
 * (a channel instance name).  NULL or "" is GH_EINVAL.
 */
gh_err gh_event_add_recipient(struct gh_event *b, const char *recipient);
gh_err gh_event_add_channel(struct gh_event *b, const char *channel);

/*
 * Metadata: gh_event_meta_str sets metadata[key] to a string (NULL: JSON
 * null), gh_event_meta_int to an integer, gh_event_meta_new to val, whose
 * reference it takes (val NULL: GH_ENOMEM, as from a failed json_*()
 * call).  gh_event_set_metadata replaces the whole metadata object with a
 * deep copy of obj, which must be an object (GH_EINVAL otherwise); NULL
 * removes it.  gh_event_set_metadata_new does the same with obj itself,
 * whose reference it takes in every case (no copy: for an object the
 * caller built for this event).
 */
gh_err gh_event_meta_str(struct gh_event *b, const char *key,
                         const char *val);
gh_err gh_event_meta_int(struct gh_event *b, const char *key, int64_t val);
gh_err gh_event_meta_new(struct gh_event *b, const char *key, json_t *val);
gh_err gh_event_set_metadata(struct gh_event *b, const json_t *obj);
gh_err gh_event_set_metadata_new(struct gh_event *b, json_t *obj);

/*
 * gh_event_finish - end the builder (always: it is freed whatever the
 * result) and check the event with gh_event_validate().  On GH_OK *out
 * is the event, a new reference; otherwise *out is NULL and detail
 * (optional) says which field or setter was wrong.  Returns the first
 * setter's error, or GH_EINVAL / GH_ETOOBIG from the check.
 */
gh_err gh_event_finish(struct gh_event *b, json_t **out, char *detail,
                       size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_EVENT_H */
