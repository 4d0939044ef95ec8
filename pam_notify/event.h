/*
 * event.h - the events pam_gatehouse raises, as docs/events.md's contract
 * wants them (type, category, user, title, message, priority, metadata,
 * source "pam", dedup_key).
 */
#ifndef GH_PAM_EVENT_H
#define GH_PAM_EVENT_H

#include <jansson.h>

#include "gatehouse/event.h"
#include "gatehouse/queue.h"
#include "login.h"

/*
 * gp_event_new - the event, made with the library's builder
 * (gatehouse/event.h) and checked as the queue checks it: *out is a new
 * reference on GH_OK, NULL otherwise (GH_EINVAL, GH_ETOOBIG, GH_ENOMEM).
 * metadata is stolen (may be NULL); dedup_key may be NULL; empty strings
 * are left out.  Adds the login's service, tty, rhost, ruser and host to
 * metadata.
 */
gh_err gp_event_new(const char *type, const char *user,
                        const char *title, const char *message,
                        enum gh_priority priority, const char *dedup_key,
                        json_t *metadata, const struct gp_login *l,
                        json_t **out);

/*
 * gp_fmt - snprintf that, when it must cut, cuts on a UTF-8 character
 * boundary (the pieces are valid UTF-8; a cut one would make the event
 * invalid JSON).  Returns 1 if the text was cut.
 */
__attribute__((format(printf, 3, 4)))
int gp_fmt(char *out, size_t outlen, const char *fmt, ...);

/* Sizes that fit what gh_event_validate accepts. */
#define GH_PAM_TITLE_MAX 1025
#define GH_PAM_MSG_MAX 2048

/* gp_where - "ADDR" (or "NAME") for a remote login, "the console"
 * (with the tty when known) for a local one: for titles and messages. */
void gp_where(const struct gp_login *l, char *out, size_t outlen);

#endif
